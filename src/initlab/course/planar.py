"""The course's "Planar data classification with one hidden layer": tanh hidden, sigmoid output.

Shapes: ``X (n_x, m)``, ``Y (n_y, m)``; ``W1 (n_h, n_x)``, ``b1 (n_h, 1)``, ``W2 (n_y, n_h)``,
``b2 (n_y, 1)``. The math is `initlab.nn`'s.
"""

from __future__ import annotations

import copy

import numpy as np

from initlab import data, initializers
from initlab.nn import ACTIVATIONS, LOSSES, backward, forward, update
from initlab.nn.losses import bce_cost_from_probabilities

_ACTS = [ACTIVATIONS["tanh"], ACTIVATIONS["sigmoid"]]


def sigmoid(x: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-x))`` (the course's planar_utils.sigmoid)."""
    return ACTIVATIONS["sigmoid"].fn(np.asarray(x, dtype=np.float64))


def layer_sizes(X: np.ndarray, Y: np.ndarray) -> tuple[int, int, int]:
    """``(n_x, n_h, n_y) = (X.shape[0], 4, Y.shape[0])``."""
    return X.shape[0], 4, Y.shape[0]


def initialize_parameters(n_x: int, n_h: int, n_y: int) -> dict[str, np.ndarray]:
    """``W1 = randn(n_h, n_x) * 0.01``, ``b1 = 0``, ``W2 = randn(n_y, n_h) * 0.01``, ``b2 = 0``,
    drawn from NumPy's global generator (no seeding inside)."""
    return initializers.initialize_parameters(n_x, n_h, n_y)


def forward_propagation(X: np.ndarray, parameters: dict) -> tuple[np.ndarray, dict]:
    """``A2`` ``(1, m)`` and the cache ``{"Z1", "A1", "Z2", "A2"}``."""
    A2, cache = forward(parameters, X, _ACTS)
    (_, Z1), (A1, Z2) = cache
    return A2, {"Z1": Z1, "A1": A1, "Z2": Z2, "A2": A2}


def compute_cost(A2: np.ndarray, Y: np.ndarray) -> float:
    """Cross-entropy ``-(1/m) sum(Y log A2 + (1 - Y) log(1 - A2))`` as a Python float.

    ``Y`` may be boolean and ``A2`` 1-D, as learners' arrays often are.
    """
    A2 = np.atleast_2d(np.asarray(A2, dtype=np.float64))
    Y = np.asarray(Y, dtype=np.float64).reshape(A2.shape)
    return float(bce_cost_from_probabilities(A2, Y))


def backward_propagation(parameters: dict, cache: dict, X: np.ndarray, Y: np.ndarray) -> dict:
    """``{"dW1", "db1", "dW2", "db2"}``: ``dZ2 = A2 - Y``, ``dZ1 = W2^T dZ2 * (1 - A1^2)``."""
    Y = np.asarray(Y, dtype=np.float64)
    nn_cache = [(X, cache["Z1"]), (cache["A1"], cache["Z2"])]
    grads = backward(parameters, nn_cache, cache["A2"], Y, _ACTS, LOSSES["binary_cross_entropy"])
    return {k: grads[k] for k in ("dW1", "db1", "dW2", "db2")}


def update_parameters(parameters: dict, grads: dict, learning_rate: float = 1.2) -> dict:
    """``W := W - learning_rate * dW`` on a copy; the caller's dict is left as it was."""
    return update(copy.deepcopy(parameters), grads, learning_rate)


def nn_model(
    X: np.ndarray, Y: np.ndarray, n_h: int, num_iterations: int = 10000, print_cost: bool = False
) -> dict:
    """Seeds 3, initializes, and runs ``num_iterations`` of gradient descent (lr 1.2).

    Prints "Cost after iteration i: c" every 1000 iterations when ``print_cost``.
    """
    n_x, _, n_y = layer_sizes(X, Y)
    parameters = initializers.initialize_parameters_deep(
        [n_x, n_h, n_y], init="random:0.01", seed=np.random.RandomState(3))
    for i in range(num_iterations):
        A2, cache = forward_propagation(X, parameters)
        cost = compute_cost(A2, Y)
        grads = backward_propagation(parameters, cache, X, Y)
        parameters = update(parameters, grads, 1.2)
        if print_cost and i % 1000 == 0:
            print(f"Cost after iteration {i}: {cost:f}")
    return parameters


def predict(parameters: dict, X: np.ndarray) -> np.ndarray:
    """Boolean ``(1, m)``: ``A2 > 0.5``."""
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
