"""The course's "Initialization" notebook and its init_utils: a 3-layer network
(LINEAR->RELU->LINEAR->RELU->LINEAR->SIGMOID) on the circles data, initialized with zeros, large
random values, or He.

``initialize_parameters_random`` and ``initialize_parameters_he`` seed 3 inside, as the course
does, through a local ``RandomState(3)``: the course's numbers, and NumPy's global generator
untouched. The helpers read the inputs init_utils reads and compute what it computes, written
as it writes them: ``backward_propagation`` takes everything from its cache tuple
``(z1, a1, W1, b1, z2, a2, W2, b2, z3, a3, W3, b3)`` and masks with ``a > 0`` (never ``z``), and
``update_parameters`` rebinds the dict's entries instead of writing into the arrays. ``model``
trains through `initlab.nn` (the same math on the consistent caches it makes).
"""

from __future__ import annotations

import numpy as np

from initlab import data, initializers
from initlab.course._course import course_function, examples
from initlab.errors import unknown
from initlab.nn import ACTIVATIONS, LOSSES, backward, forward, update

_ACTS = [ACTIVATIONS["relu"], ACTIVATIONS["relu"], ACTIVATIONS["sigmoid"]]
#: The notebook's three choices and the registry spec each one is.
INITIALIZATIONS = {"zeros": "zeros", "random": "random:10", "he": "he"}


@course_function
def sigmoid(x):
    """``1 / (1 + np.exp(-x))`` (init_utils.sigmoid): one array, no cache."""
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-x))


@course_function
def relu(x):
    """``np.maximum(0, x)`` (init_utils.relu): one array, no cache."""
    return np.maximum(0, x)


def initialize_parameters_zeros(layers_dims: list[int]) -> dict[str, np.ndarray]:
    """Every ``W[l]`` and ``b[l]`` zero."""
    return initializers.initialize_parameters_deep(layers_dims, init="zeros")


def initialize_parameters_random(layers_dims: list[int]) -> dict[str, np.ndarray]:
    """Seeds 3 inside; ``W[l] = randn(n[l], n[l-1]) * 10``, ``b[l] = 0``, drawn W1, W2, ..."""
    return initializers.initialize_parameters_deep(layers_dims, init="random:10", seed=np.random.RandomState(3))


def initialize_parameters_he(layers_dims: list[int]) -> dict[str, np.ndarray]:
    """Seeds 3 inside; ``W[l] = randn(n[l], n[l-1]) * sqrt(2 / n[l-1])``, ``b[l] = 0``."""
    return initializers.initialize_parameters_deep(layers_dims, init="he", seed=np.random.RandomState(3))


@course_function
def forward_propagation(X: np.ndarray, parameters: dict) -> tuple[np.ndarray, tuple]:
    """``a3`` and the course's cache ``(z1, a1, W1, b1, z2, a2, W2, b2, z3, a3, W3, b3)``, which
    holds the parameters' own arrays (not copies)."""
    W1, b1 = parameters["W1"], parameters["b1"]
    W2, b2 = parameters["W2"], parameters["b2"]
    W3, b3 = parameters["W3"], parameters["b3"]
    z1 = np.dot(W1, X) + b1
    a1 = relu(z1)
    z2 = np.dot(W2, a1) + b2
    a2 = relu(z2)
    z3 = np.dot(W3, a2) + b3
    a3 = sigmoid(z3)
    return a3, (z1, a1, W1, b1, z2, a2, W2, b2, z3, a3, W3, b3)


@course_function
def compute_loss(a3: np.ndarray, Y: np.ndarray):
    """``(1/m) nansum(-log(a3) Y - log(1 - a3) (1 - Y))``, ``m = Y.shape[1]``, a NumPy float64.

    ``nansum`` drops the ``0 * log(0)`` terms of outputs saturated on the right side; one
    saturated on the wrong side gives ``inf`` (the course's "Cost after iteration 0: inf").
    ``Y`` may be boolean; it must be 2-D.
    """
    m = examples(Y, "Y")
    with np.errstate(divide="ignore", invalid="ignore"):
        logprobs = np.multiply(-np.log(a3), Y) + np.multiply(-np.log(1 - a3), 1 - Y)
        return 1.0 / m * np.nansum(logprobs)


@course_function
def backward_propagation(X: np.ndarray, Y: np.ndarray, cache: tuple) -> dict:
    """The course's gradients from ``X``, ``Y`` and the cache tuple alone::

        m = X.shape[1]
        dz3 = (a3 - Y) / m;        dW3 = dz3 a2^T;  db3 = sum_examples(dz3)
        da2 = W3^T dz3;  dz2 = da2 * int64(a2 > 0);  dW2 = dz2 a1^T;  db2 = sum_examples(dz2)
        da1 = W2^T dz2;  dz1 = da1 * int64(a1 > 0);  dW1 = dz1 X^T;   db1 = sum_examples(dz1)

    The ``1/m`` is in ``dz3``, so ``da2``, ``da1`` carry it too. Read: ``a1, a2, a3, W2, W3``;
    not read: ``z1, z2, z3, W1, b1, b2, b3``. ``Y`` may be boolean.
    """
    m = examples(X, "X")
    (z1, a1, W1, b1, z2, a2, W2, b2, z3, a3, W3, b3) = cache
    dz3 = 1.0 / m * (a3 - Y)
    dW3 = np.dot(dz3, a2.T)
    db3 = np.sum(dz3, axis=1, keepdims=True)
    da2 = np.dot(W3.T, dz3)
    dz2 = np.multiply(da2, np.int64(a2 > 0))
    dW2 = np.dot(dz2, a1.T)
    db2 = np.sum(dz2, axis=1, keepdims=True)
    da1 = np.dot(W2.T, dz2)
    dz1 = np.multiply(da1, np.int64(a1 > 0))
    dW1 = np.dot(dz1, X.T)
    db1 = np.sum(dz1, axis=1, keepdims=True)
    return {
        "dz3": dz3,
        "dW3": dW3,
        "db3": db3,
        "da2": da2,
        "dz2": dz2,
        "dW2": dW2,
        "db2": db2,
        "da1": da1,
        "dz1": dz1,
        "dW1": dW1,
        "db1": db1,
    }


@course_function
def update_parameters(parameters: dict, grads: dict, learning_rate: float) -> dict:
    """``parameters["W{l}"] = W - learning_rate * dW`` for ``l = 1..len(parameters) // 2``: the
    caller's dict is changed and returned, its old arrays are not written into (a cache that
    holds them keeps the values it had)."""
    for l in range(1, len(parameters) // 2 + 1):
        parameters[f"W{l}"] = parameters[f"W{l}"] - learning_rate * grads[f"dW{l}"]
        parameters[f"b{l}"] = parameters[f"b{l}"] - learning_rate * grads[f"db{l}"]
    return parameters


def model(
    X: np.ndarray,
    Y: np.ndarray,
    learning_rate: float = 0.01,
    num_iterations: int = 15000,
    print_cost: bool = True,
    initialization: str = "he",
) -> dict:
    """Layers ``[n_x, 10, 5, 1]`` trained by gradient descent; returns the parameters.

    ``initialization`` is "zeros", "random" or "he". Prints "Cost after iteration i: c"
    every 1000 iterations when ``print_cost`` (``inf`` at first for "random", as the course).
    ``X`` and ``Y`` must be 2-D (the course computes the loss, ``m = Y.shape[1]``, every step).
    """
    if initialization not in INITIALIZATIONS:
        raise unknown("initialization", initialization, list(INITIALIZATIONS))
    examples(X, "X")
    examples(Y, "Y")
    layers_dims = [X.shape[0], 10, 5, 1]
    parameters = {
        "zeros": initialize_parameters_zeros,
        "random": initialize_parameters_random,
        "he": initialize_parameters_he,
    }[initialization](layers_dims)
    Yf = np.asarray(Y, dtype=np.float64)
    loss = LOSSES["binary_cross_entropy"]
    for i in range(num_iterations):
        a3, cache = forward(parameters, X, _ACTS)
        if print_cost and i % 1000 == 0:
            print(f"Cost after iteration {i}: {compute_loss(a3, Y)}")
        update(parameters, backward(parameters, cache, a3, Yf, _ACTS, loss), learning_rate)
    return parameters


@course_function
def predict(X: np.ndarray, y: np.ndarray, parameters: dict) -> np.ndarray:
    """Integer 0/1 predictions ``p (1, m)``, ``p[0, i] = a3[0, i] > 0.5`` (``m = X.shape[1]``);
    prints "Accuracy: " + ``str(np.mean(p[0, :] == y[0, :]))`` as the course does."""
    m = examples(X, "X")
    a3, _ = forward_propagation(X, parameters)
    p = np.zeros((1, m), dtype=np.int64)
    p[0, :] = a3[0, :] > 0.5
    print("Accuracy: " + str(np.mean(p[0, :] == y[0, :])))
    return p


@course_function
def predict_dec(parameters: dict, X: np.ndarray) -> np.ndarray:
    """Boolean ``a3 > 0.5``, for ``plot_decision_boundary``."""
    a3, _ = forward_propagation(X, parameters)
    return a3 > 0.5


def load_dataset() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The course's circles: ``train_X (2, 300)``, ``train_Y (1, 300)``, ``test_X (2, 100)``,
    ``test_Y (1, 100)``, as after ``np.random.seed(1)`` and ``np.random.seed(2)``."""
    ds = data.load("circles")
    return ds.X_train, ds.Y_train.astype(np.int64), ds.X_test, ds.Y_test.astype(np.int64)


def plot_decision_boundary(model, X: np.ndarray, y: np.ndarray) -> None:
    """The course's picture: ``model`` maps rows ``(k, 2)`` to labels, e.g.
    ``lambda x: predict_dec(parameters, x.T)``."""
    import matplotlib.pyplot as plt

    from initlab.report.plots import decision_boundary

    decision_boundary(plt.gca(), model, X, y)
    plt.show()
