"""The course's "Planar data classification with one hidden layer": tanh hidden, sigmoid output.

Shapes: ``X (n_x, m)``, ``Y (n_y, m)``; ``W1 (n_h, n_x)``, ``b1 (n_h, 1)``, ``W2 (n_y, n_h)``,
``b2 (n_y, 1)``. Each function reads the inputs the course's reads and computes what it
computes, written as the course writes it: ``backward_propagation`` takes ``A1`` and ``A2`` from
the cache and ``W2`` from the parameters, and never looks at ``Z1``, ``Z2`` or ``W1``, so a cache
that is not the forward pass of these parameters gives the course's gradients, not the true ones.
``nn_model`` trains through `initlab.nn` (the same math on the consistent caches it makes).
"""

from __future__ import annotations

import numpy as np

from initlab import data, initializers
from initlab.course._course import course_function, examples
from initlab.nn import ACTIVATIONS, LOSSES, backward, forward, update

_ACTS = [ACTIVATIONS["tanh"], ACTIVATIONS["sigmoid"]]


@course_function
def sigmoid(x):
    """``1 / (1 + np.exp(-x))`` as planar_utils writes it: a NumPy scalar for a number, the dtype of
    ``x`` kept (float32 stays float32). ``exp`` overflows to inf for ``x < -709`` (silently here),
    which gives the right limit 0."""
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-x))


@course_function
def layer_sizes(X: np.ndarray, Y: np.ndarray) -> tuple[int, int, int]:
    """``(n_x, n_h, n_y) = (X.shape[0], 4, Y.shape[0])``."""
    return X.shape[0], 4, Y.shape[0]


def initialize_parameters(n_x: int, n_h: int, n_y: int) -> dict[str, np.ndarray]:
    """``W1 = randn(n_h, n_x) * 0.01``, ``b1 = 0``, ``W2 = randn(n_y, n_h) * 0.01``, ``b2 = 0``,
    drawn W1 then W2 from NumPy's global generator (no seeding inside)."""
    return initializers.initialize_parameters(n_x, n_h, n_y)


@course_function
def forward_propagation(X: np.ndarray, parameters: dict) -> tuple[np.ndarray, dict]:
    """``Z1 = W1 X + b1``, ``A1 = tanh(Z1)``, ``Z2 = W2 A1 + b2``, ``A2 = sigmoid(Z2)``; returns ``A2``
    and the cache ``{"Z1", "A1", "Z2", "A2"}``. Reads ``W1, b1, W2, b2``; other keys are ignored."""
    Z1 = np.dot(parameters["W1"], X) + parameters["b1"]
    A1 = np.tanh(Z1)
    Z2 = np.dot(parameters["W2"], A1) + parameters["b2"]
    A2 = sigmoid(Z2)
    return A2, {"Z1": Z1, "A1": A1, "Z2": Z2, "A2": A2}


@course_function
def compute_cost(A2: np.ndarray, Y: np.ndarray) -> float:
    """Cross-entropy ``-sum(log(A2) Y + log(1 - A2) (1 - Y)) / m`` with ``m = Y.shape[1]``, as a
    Python float (``float(np.squeeze(cost))``).

    ``Y`` may be boolean (``1 - Y`` is then an integer array) and ``A2`` 1-D ``(m,)``; ``Y`` must be
    2-D. An output of exactly 0 or 1 gives ``inf`` where it is wrong and ``nan`` where it is right
    (``0 * log(0)``): the course sums with ``np.sum``, not ``nansum``.
    """
    m = examples(Y, "Y")
    with np.errstate(divide="ignore", invalid="ignore"):
        logprobs = np.multiply(np.log(A2), Y) + np.multiply(np.log(1 - A2), 1 - Y)
        cost = -np.sum(logprobs) / m
    return float(np.squeeze(cost))


@course_function
def backward_propagation(parameters: dict, cache: dict, X: np.ndarray, Y: np.ndarray) -> dict:
    """``{"dW1", "db1", "dW2", "db2"}`` from ``W2`` (parameters), ``A1`` and ``A2`` (cache), X and Y::

        m = X.shape[1]
        dZ2 = A2 - Y;                        dW2 = dZ2 A1^T / m;  db2 = sum_examples(dZ2) / m
        dZ1 = W2^T dZ2 * (1 - A1^2);         dW1 = dZ1 X^T / m;   db1 = sum_examples(dZ1) / m

    ``tanh'`` is taken from the cached ``A1`` (``1 - A1^2``), never from ``Z1``; ``W1``, ``Z1``
    and ``Z2`` are not read. ``Y`` may be boolean.
    """
    m = examples(X, "X")
    W2 = parameters["W2"]
    A1, A2 = cache["A1"], cache["A2"]
    dZ2 = A2 - Y
    dW2 = np.dot(dZ2, A1.T) / m
    db2 = np.sum(dZ2, axis=1, keepdims=True) / m
    dZ1 = np.dot(W2.T, dZ2) * (1 - np.power(A1, 2))
    dW1 = np.dot(dZ1, X.T) / m
    db1 = np.sum(dZ1, axis=1, keepdims=True) / m
    return {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2}


@course_function
def update_parameters(parameters: dict, grads: dict, learning_rate: float = 1.2) -> dict:
    """A new dict ``{"W1", "b1", "W2", "b2"}`` with ``W := W - learning_rate * dW``: the caller's
    dict and arrays are left as they were, other keys are dropped, integer weights become floats."""
    return {k: parameters[k] - learning_rate * grads["d" + k] for k in ("W1", "b1", "W2", "b2")}


def nn_model(X: np.ndarray, Y: np.ndarray, n_h: int, num_iterations: int = 10000, print_cost: bool = False) -> dict:
    """Seeds 3, initializes, and runs ``num_iterations`` of gradient descent (lr 1.2).

    Prints "Cost after iteration i: c" every 1000 iterations when ``print_cost``. ``X`` and ``Y``
    must be 2-D (the course computes the cost, ``m = Y.shape[1]``, at every iteration).
    """
    examples(X, "X")
    examples(Y, "Y")
    n_x, _, n_y = layer_sizes(X, Y)
    parameters = initializers.initialize_parameters_deep(
        [n_x, n_h, n_y], init="random:0.01", seed=np.random.RandomState(3)
    )
    Yf = np.asarray(Y, dtype=np.float64)
    for i in range(num_iterations):
        A2, cache = forward(parameters, X, _ACTS)
        grads = backward(parameters, cache, A2, Yf, _ACTS, LOSSES["binary_cross_entropy"])
        if print_cost and i % 1000 == 0:
            print(f"Cost after iteration {i}: {compute_cost(A2, Y):f}")
        parameters = update(parameters, grads, 1.2)
    return parameters


@course_function
def predict(parameters: dict, X: np.ndarray) -> np.ndarray:
    """Boolean ``A2 > 0.5`` (``(1, m)``), ``A2`` from `forward_propagation`."""
    A2, _ = forward_propagation(X, parameters)
    return A2 > 0.5


def load_planar_dataset() -> tuple[np.ndarray, np.ndarray]:
    """The course's flower: ``X (2, 400)``, ``Y (1, 400)`` of uint8, as after ``np.random.seed(1)``."""
    ds = data.load("flower")
    return ds.X_train, ds.Y_train.astype(np.uint8)


def plot_decision_boundary(model, X: np.ndarray, y: np.ndarray) -> None:
    """The course's picture: ``model`` maps rows ``(k, 2)`` to labels."""
    import matplotlib.pyplot as plt

    from initlab.report.plots import decision_boundary

    decision_boundary(plt.gca(), model, X, y)
    plt.show()
