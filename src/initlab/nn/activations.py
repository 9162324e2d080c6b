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
class Kernel:
    """How the compiled kernel (`initlab.nn.codegen`) writes an activation, as scalar source.

    ``forward``: statements that set ``{a}`` from the local ``z`` (temporaries ``u``, ``h`` may
    be used; a sigmoid leaves ``u = exp(-|z|)``, which the cross-entropy's cost reuses).
    ``grad``: ``g'(z)`` as an expression of ``{a} = g(z)``, as the NumPy path computes it (None:
    1). ``backprop``: ``d = incoming * g'`` as an expression of ``{d}`` and ``{a}`` when a select
    says it better than a product (ReLU). ``statements``: extra statements of the forward beyond
    one (the exp series: ``codegen.TRANSCENDENTAL``), for the kernel's size budget.
    """

    forward: tuple[str, ...]
    grad: str | None
    backprop: str | None = None
    statements: int = 0

    def backprop_of(self, d: str, a: str) -> str:
        """The expression ``d * g'`` for the incoming sum ``d`` and the unit's value ``a``."""
        if self.backprop is not None:
            return self.backprop.format(d=d, a=a)
        return f"({d})" + (f" * {self.grad.format(a=a)}" if self.grad else "")


_EXP_SERIES = 20  # statements of one exp in the kernel (codegen.exp_minus, inlined)


@dataclass(frozen=True)
class Activation:
    """One row of the activation table: everything initlab knows about an activation.

    ``fn`` and ``grad``: ``g`` and ``g'`` as functions of ``z`` (NumPy, elementwise; ``grad`` is
    None for softmax, which is an output only); ``formula`` for tables and help; ``saturating``:
    whether ``g'`` vanishes for large ``|z|`` (sigmoid, tanh: see `initlab.diagnose`); ``gain``:
    PyTorch's ``calculate_gain`` (the factor that keeps activations' variance, used by the
    initializers); ``kernel``: how the compiled engine writes it (None: NumPy path only). The
    mean-field theory (`initlab.theory`) integrates ``fn`` and ``grad``; the critical
    ``sigma_w^2`` comes from there, never written by hand.
    """

    name: str
    fn: Callable[[np.ndarray], np.ndarray]
    grad: Callable[[np.ndarray], np.ndarray] | None
    formula: str
    saturating: bool = False
    gain: float | None = None
    kernel: Kernel | None = None

    def __repr__(self) -> str:
        return f"Activation({self.name}: {self.formula})"


_SIGMOID_U = "u = exp_minus(-abs(z), 0.0)"  # u = exp(-|z|)

ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in [
        Activation(
            "sigmoid",
            sigmoid,
            sigmoid_grad,
            "1 / (1 + exp(-z))",
            saturating=True,
            gain=1.0,
            kernel=Kernel(
                (_SIGMOID_U, "{a} = 1.0 / (1.0 + u) if z >= 0 else u / (1.0 + u)"),
                "({a} * (1.0 - {a}))",
                statements=_EXP_SERIES,
            ),
        ),
        # tanh |z| = -u / (2 + u) with u = expm1(-2|z|)
        Activation(
            "tanh",
            np.tanh,
            tanh_grad,
            "tanh(z)",
            saturating=True,
            gain=5.0 / 3.0,
            kernel=Kernel(
                ("u = exp_minus(-2.0 * abs(z), 1.0)", "h = -u / (2.0 + u)", "{a} = h if z >= 0 else -h"),
                "(1.0 - {a} * {a})",
                statements=_EXP_SERIES,
            ),
        ),
        Activation(
            "relu",
            relu,
            relu_grad,
            "max(0, z)",
            gain=float(np.sqrt(2.0)),
            kernel=Kernel(("{a} = max(z, 0.0)",), "(1.0 if {a} > 0 else 0.0)", backprop="({d}) if {a} > 0 else 0.0"),
        ),
        Activation(
            "leaky_relu",
            leaky_relu,
            leaky_relu_grad,
            f"max({LEAKY_SLOPE} z, z)",
            gain=float(np.sqrt(2.0 / (1.0 + LEAKY_SLOPE**2))),
            kernel=Kernel(
                (f"{{a}} = z if z > 0 else {LEAKY_SLOPE!r} * z",),
                f"(1.0 if {{a}} > 0 else {LEAKY_SLOPE!r})",
                backprop=f"({{d}}) if {{a}} > 0 else {LEAKY_SLOPE!r} * ({{d}})",
            ),
        ),
        Activation("identity", identity, identity_grad, "z", gain=1.0, kernel=Kernel(("{a} = z",), None)),
        # Not elementwise: an output only, always paired with cross-entropy (see losses); the
        # kernel writes it per layer (codegen), with one exp per unit.
        Activation(
            "softmax", softmax, None, "exp(z_k) / sum_j exp(z_j)", kernel=Kernel((), None, statements=_EXP_SERIES)
        ),
    ]
}

#: Names allowed for hidden layers (elementwise, with a derivative).
HIDDEN = tuple(n for n, a in ACTIVATIONS.items() if a.grad is not None)
