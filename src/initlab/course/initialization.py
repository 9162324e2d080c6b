"""The course's "Initialization" notebook: a 3-layer network (LINEAR->RELU->LINEAR->RELU->
LINEAR->SIGMOID) on the circles data, initialized with zeros, large random values, or He.

``initialize_parameters_random`` and ``initialize_parameters_he`` seed 3 inside, as the course
does, through a local ``RandomState(3)``: the course's numbers, and NumPy's global generator
untouched. The math is `initlab.nn`'s.
"""

from __future__ import annotations

import numpy as np

from initlab import data, initializers
from initlab.nn import ACTIVATIONS, LOSSES, backward, forward, update
from initlab.nn.losses import bce_cost_from_probabilities

_ACTS = [ACTIVATIONS["relu"], ACTIVATIONS["relu"], ACTIVATIONS["sigmoid"]]
#: The notebook's three choices and the registry spec each one is.
INITIALIZATIONS = {"zeros": "zeros", "random": "random:10", "he": "he"}


def initialize_parameters_zeros(layers_dims: list[int]) -> dict[str, np.ndarray]:
    """Every ``W[l]`` and ``b[l]`` zero."""
    return initializers.initialize_parameters_deep(layers_dims, init="zeros")


def initialize_parameters_random(layers_dims: list[int]) -> dict[str, np.ndarray]:
    """Seeds 3 inside; ``W[l] = randn(n[l], n[l-1]) * 10``, ``b[l] = 0``."""
    return initializers.initialize_parameters_deep(layers_dims, init="random:10",
                                                   seed=np.random.RandomState(3))


def initialize_parameters_he(layers_dims: list[int]) -> dict[str, np.ndarray]:
    """Seeds 3 inside; ``W[l] = randn(n[l], n[l-1]) * sqrt(2 / n[l-1])``, ``b[l] = 0``."""
    return initializers.initialize_parameters_deep(layers_dims, init="he",
                                                   seed=np.random.RandomState(3))


def forward_propagation(X: np.ndarray, parameters: dict) -> tuple[np.ndarray, tuple]:
    """``a3`` and the course's cache ``(z1, a1, W1, b1, z2, a2, W2, b2, z3, a3, W3, b3)``."""
    a3, cache = forward(parameters, X, _ACTS)
    (_, z1), (a1, z2), (a2, z3) = cache
    p = parameters
    return a3, (z1, a1, p["W1"], p["b1"], z2, a2, p["W2"], p["b2"], z3, a3, p["W3"], p["b3"])


def compute_loss(a3: np.ndarray, Y: np.ndarray) -> float:
    """``(1/m) nansum(-Y log a3 - (1 - Y) log(1 - a3))``: ``inf`` where an output saturated."""
    return float(bce_cost_from_probabilities(np.atleast_2d(a3), np.atleast_2d(Y)))


def backward_propagation(X: np.ndarray, Y: np.ndarray, cache: tuple) -> dict:
    """The course's gradients ``{"dz3", "dW3", "db3", "da2", "dz2", ..., "db1"}``."""
    (z1, a1, W1, b1, z2, a2, W2, b2, z3, a3, W3, b3) = cache
    params = {"W1": W1, "b1": b1, "W2": W2, "b2": b2, "W3": W3, "b3": b3}
    Y = np.asarray(Y, dtype=np.float64)
    g = backward(params, [(X, z1), (a1, z2), (a2, z3)], a3, Y, _ACTS,
                 LOSSES["binary_cross_entropy"])
    m = X.shape[1]
    dz3 = (a3 - Y) / m
    dz2 = g["dA2"] * ACTIVATIONS["relu"].grad(z2) / m
    dz1 = g["dA1"] * ACTIVATIONS["relu"].grad(z1) / m
    return {"dz3": dz3, "dW3": g["dW3"], "db3": g["db3"], "da2": g["dA2"] / m, "dz2": dz2,
            "dW2": g["dW2"], "db2": g["db2"], "da1": g["dA1"] / m, "dz1": dz1,
            "dW1": g["dW1"], "db1": g["db1"]}


def update_parameters(parameters: dict, grads: dict, learning_rate: float) -> dict:
    """``W := W - learning_rate * dW`` (in place, as the course's init_utils does)."""
    return update(parameters, grads, learning_rate)


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
    """
    if initialization not in INITIALIZATIONS:
        raise ValueError(f"initialization must be one of {list(INITIALIZATIONS)}, "
                         f"got {initialization!r}")
    layers_dims = [X.shape[0], 10, 5, 1]
    parameters = {"zeros": initialize_parameters_zeros, "random": initialize_parameters_random,
                  "he": initialize_parameters_he}[initialization](layers_dims)
    Y = np.asarray(Y, dtype=np.float64)
    loss = LOSSES["binary_cross_entropy"]
    for i in range(num_iterations):
        a3, cache = forward(parameters, X, _ACTS)
        if print_cost and i % 1000 == 0:
            print(f"Cost after iteration {i}: {compute_loss(a3, Y)}")
        update(parameters, backward(parameters, cache, a3, Y, _ACTS, loss), learning_rate)
    return parameters


def predict(X: np.ndarray, y: np.ndarray, parameters: dict) -> np.ndarray:
    """0/1 predictions ``(1, m)`` (``a3 > 0.5``); prints "Accuracy: ..." as the course does."""
    a3, _ = forward_propagation(X, parameters)
    p = (a3 > 0.5).astype(np.int64)
    print("Accuracy: " + str(np.mean(p[0, :] == np.asarray(y)[0, :])))
    return p


def predict_dec(parameters: dict, X: np.ndarray) -> np.ndarray:
    """Boolean ``(1, m)`` predictions, for ``plot_decision_boundary``."""
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
