"""The course's "Building your deep neural network: step by step".

[LINEAR -> RELU] x (L-1) -> LINEAR -> SIGMOID. Caches are the course's:
``linear_cache = (A_prev, W, b)``, ``activation_cache = Z``, ``cache = (linear_cache, Z)``.
The math is `initlab.nn`'s.
"""

from __future__ import annotations

import copy

import numpy as np

from initlab import initializers
from initlab.nn import ACTIVATIONS, update
from initlab.nn import linear_backward as _linear_backward
from initlab.nn import linear_forward as _linear
from initlab.nn.losses import bce_cost_from_probabilities

_ACTIVATIONS = ("sigmoid", "relu")


def _activation(name: str):
    if name not in _ACTIVATIONS:
        raise ValueError(f"activation must be 'sigmoid' or 'relu', got {name!r}")
    return ACTIVATIONS[name]


def sigmoid(Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(A, cache) = (1 / (1 + exp(-Z)), Z)`` (the course's dnn_utils)."""
    return ACTIVATIONS["sigmoid"].fn(Z), Z


def relu(Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(A, cache) = (max(0, Z), Z)``."""
    return ACTIVATIONS["relu"].fn(Z), Z


def sigmoid_backward(dA: np.ndarray, cache: np.ndarray) -> np.ndarray:
    """``dZ = dA * s(Z) (1 - s(Z))``."""
    return dA * ACTIVATIONS["sigmoid"].grad(cache)


def relu_backward(dA: np.ndarray, cache: np.ndarray) -> np.ndarray:
    """``dZ = dA`` where ``Z > 0``, else 0."""
    return dA * ACTIVATIONS["relu"].grad(cache)


def initialize_parameters(n_x: int, n_h: int, n_y: int) -> dict[str, np.ndarray]:
    """Seeds 1 inside (a local ``RandomState(1)``); ``randn * 0.01`` weights, zero biases."""
    return initializers.initialize_parameters(n_x, n_h, n_y, seed=np.random.RandomState(1))


def initialize_parameters_deep(layer_dims: list[int]) -> dict[str, np.ndarray]:
    """Seeds 3 inside; ``W[l] = randn(n[l], n[l-1]) * 0.01``, ``b[l] = 0``."""
    return initializers.initialize_parameters_deep(layer_dims, init="random:0.01",
                                                   seed=np.random.RandomState(3))


def linear_forward(A: np.ndarray, W: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, tuple]:
    """``Z = W A + b`` and the cache ``(A, W, b)``."""
    return _linear(A, W, b), (A, W, b)


def linear_activation_forward(A_prev, W, b, activation: str) -> tuple[np.ndarray, tuple]:
    """``A = g(W A_prev + b)`` for ``activation`` "sigmoid" or "relu"; cache ``((A_prev, W, b), Z)``."""
    g = _activation(activation)
    Z, linear_cache = linear_forward(A_prev, W, b)
    return g.fn(Z), (linear_cache, Z)


def L_model_forward(X: np.ndarray, parameters: dict) -> tuple[np.ndarray, list]:
    """``AL`` and the list of L caches: [LINEAR->RELU] x (L-1), then LINEAR->SIGMOID."""
    caches = []
    A = X
    L = len(parameters) // 2
    for l in range(1, L):
        A, cache = linear_activation_forward(A, parameters[f"W{l}"], parameters[f"b{l}"], "relu")
        caches.append(cache)
    AL, cache = linear_activation_forward(A, parameters[f"W{L}"], parameters[f"b{L}"], "sigmoid")
    caches.append(cache)
    return AL, caches


def compute_cost(AL: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Cross-entropy ``-(1/m) sum(Y log AL + (1 - Y) log(1 - AL))``, a 0-d array (``np.squeeze``)."""
    return np.squeeze(bce_cost_from_probabilities(np.atleast_2d(AL), np.atleast_2d(Y)))


def linear_backward(dZ: np.ndarray, cache: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(dA_prev, dW, db)`` from ``dZ`` and the cache ``(A_prev, W, b)``."""
    A_prev, W, _ = cache
    return _linear_backward(dZ, A_prev, W)


def linear_activation_backward(dA: np.ndarray, cache: tuple, activation: str):
    """``(dA_prev, dW, db)``: ``dZ = dA * g'(Z)``, then the linear step."""
    g = _activation(activation)
    linear_cache, Z = cache
    return linear_backward(dA * g.grad(Z), linear_cache)


def L_model_backward(AL: np.ndarray, Y: np.ndarray, caches: list) -> dict:
    """Gradients with exactly the keys ``dA0..dA(L-1)``, ``dW1..dWL``, ``db1..dbL``.

    ``dAL = -(Y / AL - (1 - Y) / (1 - AL))`` as the course writes it; ``dA{l}`` is the gradient
    with respect to ``A[l]``.
    """
    grads = {}
    L = len(caches)
    Y = np.asarray(Y, dtype=np.float64).reshape(AL.shape)
    dAL = -(np.divide(Y, AL) - np.divide(1 - Y, 1 - AL))
    grads[f"dA{L - 1}"], grads[f"dW{L}"], grads[f"db{L}"] = linear_activation_backward(
        dAL, caches[L - 1], "sigmoid")
    for l in reversed(range(L - 1)):
        grads[f"dA{l}"], grads[f"dW{l + 1}"], grads[f"db{l + 1}"] = linear_activation_backward(
            grads[f"dA{l + 1}"], caches[l], "relu")
    return grads


def update_parameters(params: dict, grads: dict, learning_rate: float) -> dict:
    """``W := W - learning_rate * dW`` on a copy of ``params``."""
    return update(copy.deepcopy(params), grads, learning_rate)
