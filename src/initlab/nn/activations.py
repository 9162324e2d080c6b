"""Activations and their derivatives, side by side, in one table keyed by name.

Each works elementwise on ``Z: (n[l], m)`` or ``(E, n[l], m)`` and never overflows: the sigmoid
is written with ``exp(-|z|)``, so ``|z| = 1000`` gives 0 or 1 without a warning.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

LEAKY_SLOPE = 0.01  # leaky ReLU's slope for z < 0 (PyTorch's and the course's default)


def sigmoid(z: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-z))``, computed from ``e = exp(-|z|)`` so no exponent overflows."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def sigmoid_grad(z: np.ndarray) -> np.ndarray:
    """``s(z) * (1 - s(z))``."""
    s = sigmoid(z)
    return s * (1.0 - s)


def tanh_grad(z: np.ndarray) -> np.ndarray:
    """``1 - tanh(z)^2``."""
    t = np.tanh(z)
    return 1.0 - t * t


def relu(z: np.ndarray) -> np.ndarray:
    """``max(0, z)``."""
    return np.maximum(z, 0.0)


def relu_grad(z: np.ndarray) -> np.ndarray:
    """``1 if z > 0 else 0`` (0 at the kink, as the course's backward pass)."""
    return (z > 0).astype(z.dtype)


def leaky_relu(z: np.ndarray) -> np.ndarray:
    """``z if z > 0 else 0.01 z``."""
    return np.where(z > 0, z, LEAKY_SLOPE * z)


def leaky_relu_grad(z: np.ndarray) -> np.ndarray:
    """``1 if z > 0 else 0.01``."""
    return np.where(z > 0, 1.0, LEAKY_SLOPE).astype(z.dtype)


def identity(z: np.ndarray) -> np.ndarray:
    """``z``."""
    return z


def identity_grad(z: np.ndarray) -> np.ndarray:
    """``1``."""
    return np.ones_like(z)


def softmax(z: np.ndarray) -> np.ndarray:
    """``exp(z_k) / sum_j exp(z_j)`` over units (axis -2), shifted by the max so nothing overflows."""
    e = np.exp(z - z.max(axis=-2, keepdims=True))
    return e / e.sum(axis=-2, keepdims=True)


@dataclass(frozen=True)
class Activation:
    """``g`` and ``g'`` (as a function of ``z``), and the formula, for tables and help."""

    name: str
    fn: Callable[[np.ndarray], np.ndarray]
    grad: Callable[[np.ndarray], np.ndarray] | None
    formula: str
    #: Where ``g'`` is small enough to call a unit saturated (sigmoid/tanh only), see diagnose.
    saturating: bool = False

    def __repr__(self) -> str:
        return f"Activation({self.name}: {self.formula})"


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in [
        Activation("sigmoid", sigmoid, sigmoid_grad, "1 / (1 + exp(-z))", saturating=True),
        Activation("tanh", np.tanh, tanh_grad, "tanh(z)", saturating=True),
        Activation("relu", relu, relu_grad, "max(0, z)"),
        Activation("leaky_relu", leaky_relu, leaky_relu_grad, f"max({LEAKY_SLOPE} z, z)"),
        Activation("identity", identity, identity_grad, "z"),
        # Not elementwise: an output only, always paired with cross-entropy (see losses).
        Activation("softmax", softmax, None, "exp(z_k) / sum_j exp(z_j)"),
    ]
}

#: Names allowed for hidden layers (elementwise, with a derivative).
HIDDEN = tuple(n for n, a in ACTIVATIONS.items() if a.grad is not None)
