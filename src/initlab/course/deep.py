"""The course's "Building your deep neural network: step by step" and its dnn_utils.

[LINEAR -> RELU] x (L-1) -> LINEAR -> SIGMOID. Caches are the course's:
``linear_cache = (A_prev, W, b)``, ``activation_cache = Z``, ``cache = (linear_cache, Z)``.
Each function reads the inputs the course's reads and computes what it computes, written as the
course writes it. The backward pass takes ``g'`` from the cached ``Z`` (``relu_backward`` zeroes
``dA`` where ``Z <= 0``; ``sigmoid_backward`` recomputes ``s = sigmoid(Z)``), ``A_prev`` and ``W``
from the linear cache, and never reads ``b`` or a cached activation; ``L_model_backward`` starts
from ``dAL = -(Y / AL - (1 - Y) / (1 - AL))``, not from ``AL - Y``.
"""

from __future__ import annotations

import copy

import numpy as np

from initlab import initializers
from initlab.course._course import course_function, examples, same_shape
from initlab.errors import unknown

_ACTIVATIONS = ("sigmoid", "relu")


@course_function
def sigmoid(Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(A, cache) = (1 / (1 + np.exp(-Z)), Z)``; ``cache`` is ``Z`` itself, not a copy."""
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-Z)), Z


@course_function
def relu(Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(A, cache) = (np.maximum(0, Z), Z)``."""
    return np.maximum(0, Z), Z


@course_function
def sigmoid_backward(dA: np.ndarray, cache: np.ndarray) -> np.ndarray:
    """``dZ = dA * s * (1 - s)`` with ``s = 1 / (1 + exp(-Z))`` recomputed from ``Z = cache``;
    ``dA`` and ``Z`` must have the same shape (the course asserts it)."""
    Z = cache
    with np.errstate(over="ignore"):
        s = 1 / (1 + np.exp(-Z))
    dZ = dA * s * (1 - s)
    same_shape(dZ, Z, "sigmoid_backward")
    return dZ


@course_function
def relu_backward(dA: np.ndarray, cache: np.ndarray) -> np.ndarray:
    """``dZ`` = a copy of ``dA`` (its dtype kept) set to 0 where ``Z <= 0``, ``Z = cache``.

    Where ``Z`` is NaN, ``dZ = dA``; where ``Z <= 0``, ``dZ = 0`` even for an infinite ``dA``.
    ``dA`` and ``Z`` must have the same shape.
    """
    Z = cache
    same_shape(dA, Z, "relu_backward")
    dZ = np.array(dA, copy=True)
    dZ[Z <= 0] = 0
    return dZ


def initialize_parameters(n_x: int, n_h: int, n_y: int) -> dict[str, np.ndarray]:
    """Seeds 1 inside (a local ``RandomState(1)``); ``randn * 0.01`` weights, zero biases."""
    return initializers.initialize_parameters(n_x, n_h, n_y, seed=np.random.RandomState(1))


def initialize_parameters_deep(layer_dims: list[int]) -> dict[str, np.ndarray]:
    """Seeds 3 inside; ``W[l] = randn(n[l], n[l-1]) * 0.01``, ``b[l] = 0``, drawn W1, W2, ..."""
    return initializers.initialize_parameters_deep(layer_dims, init="random:0.01", seed=np.random.RandomState(3))


@course_function
def linear_forward(A: np.ndarray, W: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, tuple]:
    """``Z = np.dot(W, A) + b`` and the cache ``(A, W, b)`` (the very arrays passed in)."""
    return np.dot(W, A) + b, (A, W, b)


def _check_activation(activation: str) -> None:
    if activation not in _ACTIVATIONS:
        raise unknown("activation", activation, _ACTIVATIONS)


@course_function
def linear_activation_forward(A_prev, W, b, activation: str) -> tuple[np.ndarray, tuple]:
    """``A = g(W A_prev + b)`` for ``activation`` "sigmoid" or "relu"; cache ``((A_prev, W, b), Z)``."""
    _check_activation(activation)
    Z, linear_cache = linear_forward(A_prev, W, b)
    A, activation_cache = (sigmoid if activation == "sigmoid" else relu)(Z)
    return A, (linear_cache, activation_cache)


@course_function
def L_model_forward(X: np.ndarray, parameters: dict) -> tuple[np.ndarray, list]:
    """``AL`` and the list of L caches: [LINEAR->RELU] x (L-1), then LINEAR->SIGMOID, with
    ``L = len(parameters) // 2``."""
    caches = []
    A = X
    L = len(parameters) // 2
    for l in range(1, L):
        A, cache = linear_activation_forward(A, parameters[f"W{l}"], parameters[f"b{l}"], "relu")
        caches.append(cache)
    AL, cache = linear_activation_forward(A, parameters[f"W{L}"], parameters[f"b{L}"], "sigmoid")
    caches.append(cache)
    return AL, caches


@course_function
def compute_cost(AL: np.ndarray, Y: np.ndarray):
    """Cross-entropy ``-(1/m) sum(Y log AL + (1 - Y) log(1 - AL))``, ``m = Y.shape[1]``, passed
    through ``np.squeeze``: a NumPy float64 (not a Python float).

    ``Y`` may be boolean; it must be 2-D. An output of exactly 0 or 1 gives ``inf`` or ``nan``
    as in the course (``np.sum``, not ``nansum``).
    """
    m = examples(Y, "Y")
    with np.errstate(divide="ignore", invalid="ignore"):
        cost = -1 / m * np.sum(np.multiply(Y, np.log(AL)) + np.multiply(1 - Y, np.log(1 - AL)))
    return np.squeeze(cost)


@course_function
def linear_backward(dZ: np.ndarray, cache: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(dA_prev, dW, db) = (W^T dZ, dZ A_prev^T / m, sum_examples(dZ) / m)``, ``m = A_prev.shape[1]``,
    from the cache ``(A_prev, W, b)`` (``b`` is not read)."""
    A_prev, W, _ = cache
    m = examples(A_prev, "A_prev")
    dW = 1 / m * np.dot(dZ, A_prev.T)
    db = 1 / m * np.sum(dZ, axis=1, keepdims=True)
    dA_prev = np.dot(W.T, dZ)
    return dA_prev, dW, db


@course_function
def linear_activation_backward(dA: np.ndarray, cache: tuple, activation: str):
    """``(dA_prev, dW, db)``: ``dZ = relu_backward(dA, Z)`` or ``sigmoid_backward(dA, Z)`` from
    the cached ``Z``, then `linear_backward` on the cached ``(A_prev, W, b)``."""
    _check_activation(activation)
    linear_cache, activation_cache = cache
    backward = relu_backward if activation == "relu" else sigmoid_backward
    return linear_backward(backward(dA, activation_cache), linear_cache)


@course_function
def L_model_backward(AL: np.ndarray, Y: np.ndarray, caches: list) -> dict:
    """Gradients with exactly the keys ``dA0..dA(L-1)``, ``dW1..dWL``, ``db1..dbL``, ``L = len(caches)``.

    ``Y = Y.reshape(AL.shape)``, ``dAL = -(Y / AL - (1 - Y) / (1 - AL))``, then the sigmoid step
    on ``caches[L-1]`` (``s`` recomputed from its ``Z``, so an ``AL`` that is not ``sigmoid(Z_L)``
    enters only through ``dAL``) and relu steps down to ``caches[0]``. ``Y`` may be boolean.
    """
    grads = {}
    L = len(caches)
    examples(AL, "AL")
    Y = Y.reshape(AL.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        dAL = -(np.divide(Y, AL) - np.divide(1 - Y, 1 - AL))
    grads[f"dA{L - 1}"], grads[f"dW{L}"], grads[f"db{L}"] = linear_activation_backward(dAL, caches[L - 1], "sigmoid")
    for l in reversed(range(L - 1)):
        grads[f"dA{l}"], grads[f"dW{l + 1}"], grads[f"db{l + 1}"] = linear_activation_backward(
            grads[f"dA{l + 1}"], caches[l], "relu"
        )
    return grads


@course_function
def update_parameters(params: dict, grads: dict, learning_rate: float) -> dict:
    """``W[l] := W[l] - learning_rate * dW[l]`` for ``l = 1..len(params) // 2`` on a deep copy of
    ``params`` (other keys are copied unchanged); the caller's dict and arrays are untouched."""
    parameters = copy.deepcopy(params)
    for l in range(1, len(parameters) // 2 + 1):
        parameters[f"W{l}"] = parameters[f"W{l}"] - learning_rate * grads[f"dW{l}"]
        parameters[f"b{l}"] = parameters[f"b{l}"] - learning_rate * grads[f"db{l}"]
    return parameters
