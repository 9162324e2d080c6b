"""Activations and their derivatives, side by side, in one table keyed by name.

Each works elementwise on ``Z: (n[l], m)`` or ``(E, n[l], m)`` and never overflows: every
exponential is taken of ``-|z|`` or of ``min(z, 0)`` (the sigmoid from ``exp(-|z|)``, ELU and SELU
from ``expm1(min(z, 0))``, softplus as ``max(z, 0) + log1p(exp(-|z|))``, GELU from ``erfc``), so
``|z| = 1000`` gives finite values and derivatives without a warning.

Everything initlab knows about an activation is one `Activation` row of `ACTIVATIONS`: ``g``
and ``g'``, the formula, the gain, which units it calls saturated or dead, the statements the
compiled kernel is generated from (`Kernel`), the PyTorch module that computes it. Engines,
theory, diagnostics, the audit, the initializers and every face's help read the rows; adding an
activation is adding a row.

An activation with a parameter is a `Family`, written ``NAME:VALUE`` (``leaky_relu:0.2``, the
slope for ``z < 0``); ``NAME`` alone is its default value (``leaky_relu`` is ``leaky_relu:0.01``).
The table reads such names itself (``ACTIVATIONS["leaky_relu:0.2"]``, ``"leaky_relu:0.2" in
HIDDEN``), so every place that takes an activation's name takes the parametrized ones too; a
bad value is an `InitlabError` naming the parameter.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np

from initlab.errors import InitlabError, suggest

LEAKY_SLOPE = 0.01  # leaky ReLU's slope for z < 0 (PyTorch's and the course's default)

# SELU's constants (Klambauer et al. 2017, eq. 14; PyTorch's nn.SELU uses the same digits): the
# values for which mean 0 and variance 1 are the fixed point of a layer with sigma_w^2 = 1.
SELU_LAMBDA = 1.0507009873554804934193349852946
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_LAMBDA_ALPHA = 1.7580993408473768599402175208123  # lambda * alpha, to the same precision

_SQRT_HALF = 0.7071067811865476  # 1 / sqrt(2): Phi(z) = erfc(-z / sqrt(2)) / 2
_INV_SQRT_2PI = 0.3989422804014327  # 1 / sqrt(2 pi): the standard normal density at 0
_GELU_K = 0.7978845608028654  # sqrt(2 / pi), the tanh approximation's factor (Hendrycks & Gimpel 2016)
_GELU_C = 0.044715  # the tanh approximation's cubic coefficient


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


def leaky_relu(z: np.ndarray, slope: float = LEAKY_SLOPE) -> np.ndarray:
    """``z if z > 0 else slope * z``."""
    return np.where(z > 0, z, slope * z)


def leaky_relu_grad(z: np.ndarray, slope: float = LEAKY_SLOPE) -> np.ndarray:
    """``1 if z > 0 else slope``."""
    return np.where(z > 0, 1.0, slope).astype(z.dtype)


def identity(z: np.ndarray) -> np.ndarray:
    """``z``."""
    return z


def identity_grad(z: np.ndarray) -> np.ndarray:
    """``1``."""
    return np.ones_like(z)


def normal_cdf(z: np.ndarray) -> np.ndarray:
    """``Phi(z) = erfc(-z / sqrt(2)) / 2``: erfc keeps full relative precision in the left tail,
    where ``(1 + erf(z / sqrt(2))) / 2`` would cancel to 0. (scipy, which scikit-learn requires,
    is imported here, at the first call, not with initlab.)"""
    from scipy.special import erfc

    return 0.5 * erfc(-_SQRT_HALF * z)


def gelu(z: np.ndarray) -> np.ndarray:
    """``z Phi(z)`` (Hendrycks & Gimpel 2016), exact: PyTorch's ``nn.GELU()``."""
    return z * normal_cdf(z)


def gelu_grad(z: np.ndarray) -> np.ndarray:
    """``Phi(z) + z phi(z)``, ``phi`` the standard normal density."""
    return normal_cdf(z) + z * (_INV_SQRT_2PI * np.exp(-0.5 * z * z))


def _gelu_tanh_t(z: np.ndarray) -> np.ndarray:
    """``2 sqrt(2/pi) (z + 0.044715 z^3)``: ``(1 + tanh(t/2)) / 2 = sigmoid(t)``."""
    return 2.0 * _GELU_K * (z + _GELU_C * (z * z * z))


def gelu_tanh(z: np.ndarray) -> np.ndarray:
    """``z/2 (1 + tanh(sqrt(2/pi) (z + 0.044715 z^3)))``, PyTorch's ``nn.GELU(approximate="tanh")``,
    written ``z sigmoid(2 sqrt(2/pi) (z + 0.044715 z^3))`` (the same function; no cancellation in
    ``1 + tanh`` for z < 0)."""
    return z * sigmoid(_gelu_tanh_t(z))


def gelu_tanh_grad(z: np.ndarray) -> np.ndarray:
    """``s + z s (1 - s) t'(z)`` with ``s = sigmoid(t)``, ``t' = 2 sqrt(2/pi) (1 + 3 * 0.044715 z^2)``."""
    s = sigmoid(_gelu_tanh_t(z))
    return s + z * (s * (1.0 - s)) * (2.0 * _GELU_K * (1.0 + 3.0 * _GELU_C * (z * z)))


def silu(z: np.ndarray) -> np.ndarray:
    """``z sigmoid(z)`` (SiLU, a.k.a. swish: Elfwing et al. 2017, Ramachandran et al. 2017)."""
    return z * sigmoid(z)


def silu_grad(z: np.ndarray) -> np.ndarray:
    """``s (1 + z (1 - s))`` with ``s = sigmoid(z)``."""
    s = sigmoid(z)
    return s * (1.0 + z * (1.0 - s))


def selu(z: np.ndarray) -> np.ndarray:
    """``lambda z`` for z > 0, ``lambda alpha (exp(z) - 1)`` otherwise (Klambauer et al. 2017)."""
    return np.where(z > 0, SELU_LAMBDA * z, SELU_LAMBDA_ALPHA * np.expm1(np.minimum(z, 0.0)))


def selu_grad(z: np.ndarray) -> np.ndarray:
    """``lambda`` for z > 0, ``lambda alpha exp(z)`` otherwise."""
    return np.where(z > 0, SELU_LAMBDA, SELU_LAMBDA_ALPHA * np.exp(np.minimum(z, 0.0))).astype(z.dtype)


def elu(z: np.ndarray) -> np.ndarray:
    """``z`` for z > 0, ``exp(z) - 1`` otherwise (Clevert et al. 2016, alpha 1)."""
    return np.where(z > 0, z, np.expm1(np.minimum(z, 0.0)))


def elu_grad(z: np.ndarray) -> np.ndarray:
    """``1`` for z > 0, ``exp(z)`` otherwise."""
    return np.where(z > 0, 1.0, np.exp(np.minimum(z, 0.0))).astype(z.dtype)


def softplus(z: np.ndarray) -> np.ndarray:
    """``log(1 + exp(z))``, written ``max(z, 0) + log1p(exp(-|z|))``."""
    return np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))


def softmax(z: np.ndarray) -> np.ndarray:
    """``exp(z_k) / sum_j exp(z_j)`` over units (axis -2), shifted by the max so nothing overflows."""
    e = np.exp(z - z.max(axis=-2, keepdims=True))
    return e / e.sum(axis=-2, keepdims=True)


@dataclass(frozen=True)
class Kernel:
    """How the compiled kernel (`initlab.nn.codegen`) writes an activation, as scalar source.

    ``forward``: statements that set ``{a}`` from the local ``z`` (temporaries ``u``, ``h`` may
    be used; a sigmoid leaves ``u = exp(-|z|)``, which the cross-entropy's cost reuses). They may
    also set ``{p}``, the unit's own derivative ``g'(z)``, for an activation whose ``g'`` is no
    function of ``g`` (GELU, SiLU, softplus): the kernel then keeps ``{p}`` per unit for the
    backward pass. ``grad``: ``g'(z)`` as an expression of ``{a} = g(z)`` and ``{p}`` (None: 1).
    ``backprop``: ``d = incoming * g'`` as an expression of ``{d}`` and ``{a}`` when a select says
    it better than a product (ReLU). ``statements``: extra statements of the forward beyond one
    (an exp series: ``codegen.TRANSCENDENTAL``), for the kernel's size budget. The kernel's
    module has ``exp_minus``, ``log1p_unit``, ``log_pos`` (`initlab.nn.codegen`) and ``math``.
    """

    forward: tuple[str, ...]
    grad: str | None
    backprop: str | None = None
    statements: int = 0

    @staticmethod
    def derivative_name(a: str) -> str:
        """The local that holds ``g'`` of the unit whose value is the local ``a``."""
        return f"p_{a}"

    def forward_of(self, a: str) -> list[str]:
        """The forward statements for the unit ``a`` (and its ``g'``, where the row keeps it)."""
        return [line.format(a=a, p=self.derivative_name(a)) for line in self.forward]

    def grad_of(self, a: str) -> str | None:
        """``g'`` of the unit ``a`` as an expression (None: 1)."""
        return None if self.grad is None else self.grad.format(a=a, p=self.derivative_name(a))

    def backprop_of(self, d: str, a: str) -> str:
        """The expression ``d * g'`` for the incoming sum ``d`` and the unit's value ``a``."""
        if self.backprop is not None:
            return self.backprop.format(d=d, a=a, p=self.derivative_name(a))
        grad = self.grad_of(a)
        return f"({d})" + (f" * {grad}" if grad else "")


_EXP_SERIES = 20  # statements of one exp in the kernel (codegen.exp_minus, inlined)

# Gauss-Legendre on [0, Z_MAX] mirrored to (-Z_MAX, 0): E[f(z)] for z ~ N(0, 1), split at the kink
# of ReLU-like functions (0); beyond |z| = 12 the density weighs below 1e-31.
_GL_T, _GL_W = np.polynomial.legendre.leggauss(200)
_GL_T, _GL_W = 6.0 * (_GL_T + 1.0), 6.0 * _GL_W  # [-1, 1] -> [0, 12]


def standard_normal_mean(f: Callable[[np.ndarray], np.ndarray]) -> float:
    """``E[f(z)]``, ``z ~ N(0, 1)``, by Gauss-Legendre on ``(-12, 0)`` and ``(0, 12)``."""
    phi = np.exp(-0.5 * _GL_T**2) * _INV_SQRT_2PI
    return float(((f(_GL_T) + f(-_GL_T)) * phi * _GL_W).sum())


@dataclass(frozen=True)
class Activation:
    """One row of the activation table: everything initlab knows about an activation.

    ``fn`` and ``grad``: ``g`` and ``g'`` as functions of ``z`` (NumPy, elementwise; ``grad`` is
    None for softmax, which is an output only); ``formula`` for tables and help.

    Diagnostics (`initlab.diagnose.saturation`, the audit): a unit passes back *little* on an
    example where ``|g'(z)| < threshold * max_slope`` (`weak`). ``saturating``: the saturated
    fraction, of (unit, example) pairs passing little, is measured (sigmoid and tanh on both
    sides, softplus, ELU and SELU on their left plateau); ``dying``: the dead fraction, of units
    passing little on *every* example, is measured (ReLU: ``z <= 0`` everywhere; GELU and SiLU:
    ``z`` far below 0 everywhere).

    ``torch_gain``: PyTorch's ``calculate_gain`` where PyTorch has one; `gain` is that, or else
    the second-moment gain. ``kernel``: how the compiled engine writes it (None: NumPy path only).
    ``torch``: the ``torch.nn`` class and the attribute values that make a module this activation
    (the audit recognises modules by it). ``init``: the initializer usually paired with it, which
    the audit recommends. The mean-field theory (`initlab.theory`) integrates ``fn`` and ``grad``;
    the critical ``sigma_w^2`` comes from there, never written by hand.
    """

    name: str
    fn: Callable[[np.ndarray], np.ndarray]
    grad: Callable[[np.ndarray], np.ndarray] | None
    formula: str
    saturating: bool = False
    torch_gain: float | None = None
    kernel: Kernel | None = None
    dying: bool = False
    torch: tuple[str, tuple[tuple[str, object], ...]] | None = None
    init: str = "he_normal"

    def __repr__(self) -> str:
        return f"Activation({self.name}: {self.formula})"

    @functools.cached_property
    def gain(self) -> float | None:
        """PyTorch's ``calculate_gain`` where PyTorch has one (sigmoid 1, tanh 5/3, ReLU sqrt 2,
        leaky ReLU sqrt(2 / (1 + slope^2)), SELU 3/4, identity 1); for the others the gain that
        preserves the second moment, ``1 / sqrt(E[g(z)^2])`` with ``z ~ N(0, 1)``: weights of
        variance ``gain^2 / fan_in`` map inputs of second moment 1 to pre-activations of second
        moment 1 (ReLU's sqrt 2 and the identity's 1 are this too). None for softmax."""
        if self.torch_gain is not None:
            return self.torch_gain
        if self.grad is None:
            return None
        return 1.0 / math.sqrt(standard_normal_mean(lambda z: self.fn(z) ** 2))

    @functools.cached_property
    def max_slope(self) -> float:
        """``max |g'(z)|`` over ``|z| <= 50`` on a grid of step 5e-4 (0.25 for sigmoid, 1 for
        tanh and ReLU, lambda alpha = 1.758 for SELU at 0-): the scale of `weak`'s threshold."""
        if self.grad is None:
            return float("nan")
        return float(np.max(np.abs(self.grad(np.linspace(-50.0, 50.0, 200_001)))))

    def weak(self, Z: np.ndarray, threshold: float) -> np.ndarray:
        """Where a unit passes back little: ``|g'(Z)| < threshold * max_slope`` (elementwise)."""
        return np.abs(self.grad(Z)) < threshold * self.max_slope


@dataclass(frozen=True)
class Family:
    """An activation with one parameter, written ``NAME:VALUE``; ``NAME`` alone is ``default``.

    ``row(value)`` builds the row (its name ``NAME:VALUE`` in the shortest form that reads back,
    or ``NAME`` at the default); ``torch_param``: the attribute of the ``torch.nn`` module that
    holds the value (``negative_slope``)."""

    name: str
    param: str
    default: float
    row: Callable[[str, float], Activation]
    torch_param: str | None = None

    @property
    def usage(self) -> str:
        return f"{self.name}[:{self.param}]"

    def value_name(self, value: float) -> str:
        """The row's name for ``value``: ``leaky_relu:0.2``; ``leaky_relu`` at the default."""
        if value == self.default:
            return self.name
        text = repr(float(value))
        return f"{self.name}:{text[:-2] if text.endswith('.0') else text}"

    def parse(self, name: str, arg: str) -> float:
        try:
            value = float(arg)
        except ValueError:
            raise InitlabError(
                f"activation {name!r}: {self.param} must be a number ({self.usage}), got {arg.strip()!r}"
            ) from None
        if not math.isfinite(value):
            raise InitlabError(f"activation {name!r}: {self.param} must be finite, got {arg.strip()!r}")
        return value


class Table(Mapping):
    """The activation table: rows by name, and each family's ``NAME:VALUE`` rows made on demand.

    Iterating gives the rows' plain names (a family by its default spelling, ``leaky_relu``);
    ``table[name]`` and ``name in table`` read parametrized names too (``leaky_relu:0.2``), and a
    family's name with a bad value raises `InitlabError` saying what the value must be.
    """

    def __init__(self, entries: list[Activation | Family]) -> None:
        self._rows: dict[str, Activation] = {}
        self.families: dict[str, Family] = {}
        for e in entries:  # a family stands in the table as its default row
            if isinstance(e, Family):
                self.families[e.name] = e
                e = e.row(e.name, e.default)
            self._rows[e.name] = e
        self._made: dict[str, Activation] = {}

    def __getitem__(self, name: str) -> Activation:
        if isinstance(name, str):
            row = self._rows.get(name)
            if row is not None:
                return row
            # names are read as every spec is: case and surrounding spaces do not matter
            # (``GELU``, `` gelu``, ``LEAKY_RELU:0.2``); the row keeps its one canonical name
            key = name.strip().lower()
            row = self._rows.get(key)
            if row is not None:
                return row
            base, colon, arg = key.partition(":")
            family = self.families.get(base.strip())
            if family is not None and colon:
                value = family.parse(name, arg)
                canonical = family.value_name(value)
                if canonical in self._rows:
                    return self._rows[canonical]
                if canonical not in self._made:
                    self._made[canonical] = family.row(canonical, value)
                return self._made[canonical]
        raise KeyError(name)

    def __contains__(self, name: object) -> bool:
        """Whether ``name`` reads as a row; a family's name with a bad value is not one (``in``
        answers, it does not raise: ``HIDDEN.canonical`` says what is wrong)."""
        try:
            self[name]  # type: ignore[index]
        except (KeyError, InitlabError):
            return False
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    def usage(self, name: str) -> str:
        """How a name is written in help: ``leaky_relu[:SLOPE]`` for a family, else the name."""
        return self.families[name].usage if name in self.families else name


class Names(tuple):
    """Names of the table's rows of one kind (`HIDDEN`): iterating gives the plain names;
    ``in`` also accepts every parametrized spelling of a family of that kind (``leaky_relu:0.2``)."""

    def __new__(cls, names, table: Table, keep: Callable[[Activation], bool]):
        obj = super().__new__(cls, names)
        obj._table, obj._keep = table, keep
        return obj

    def __contains__(self, name: object) -> bool:
        if tuple.__contains__(self, name):
            return True
        try:
            row = self._table[name]  # type: ignore[index]
        except (KeyError, InitlabError):
            return False
        return self._keep(row)

    def __reduce__(self):
        return (tuple, (tuple(self),))

    def usage(self) -> str:
        """The names as help shows them: ``sigmoid, tanh, relu, leaky_relu[:SLOPE], ...``."""
        return ", ".join(self._table.usage(n) for n in self)

    def canonical(self, name: object, kind: str = "hidden activation") -> str:
        """The row's one name for ``name`` (``GELU`` -> ``gelu``, ``leaky_relu:0.01`` and
        ``leaky_relu:1e-2`` -> ``leaky_relu``, ``leaky_relu:0.20`` -> ``leaky_relu:0.2``), which
        every face stores and hashes, so one network has one identity however it is written.
        An unknown name is an `InitlabError` suggesting close ones; a family's bad value is the
        family's own error (``SLOPE must be a number``)."""
        try:
            row = self._table[name]  # type: ignore[index]
        except KeyError:
            row = None
        if row is None or not self._keep(row):
            text = name.strip().lower() if isinstance(name, str) else str(name)
            if row is not None:  # in the table, not of this kind: softmax as a hidden activation
                raise InitlabError(
                    f"{row.name} is an output activation only (it couples the units of its layer); "
                    f"choose a hidden one from: {self.usage()}"
                )
            raise InitlabError(f"unknown {kind} {name!r}{suggest(text, self)}; choose from: {self.usage()}")
        return row.name


_SIGMOID_U = "u = exp_minus(-abs(z), 0.0)"  # u = exp(-|z|)
_SIGMOID_OF_U = "1.0 / (1.0 + u) if z >= 0 else u / (1.0 + u)"  # sigmoid(z) from u


def _leaky_relu_row(name: str, slope: float) -> Activation:
    """The leaky ReLU of one slope (any finite number, as PyTorch's ``negative_slope``)."""
    s = float(slope)
    return Activation(
        name,
        functools.partial(leaky_relu, slope=s),
        functools.partial(leaky_relu_grad, slope=s),
        f"max({s:g} z, z)" if 0 <= s <= 1 else f"z if z > 0 else {s:g} z",
        torch_gain=math.sqrt(2.0 / (1.0 + s * s)),
        # g' kept per unit (from z, not from a: a negative slope makes a > 0 for z < 0)
        kernel=Kernel((f"{{a}} = z if z > 0 else {s!r} * z", f"{{p}} = 1.0 if z > 0 else {s!r}"), "{p}"),
        torch=("LeakyReLU", ()),
        dying=s == 0,  # leaky_relu:0 is ReLU: its units die as ReLU's do
        init="he_normal" if s == LEAKY_SLOPE else f"variance_scaling:{2.0 / (1.0 + s * s)!r}",
    )


ACTIVATIONS: Table = Table(
    [
        Activation(
            "sigmoid",
            sigmoid,
            sigmoid_grad,
            "1 / (1 + exp(-z))",
            saturating=True,
            torch_gain=1.0,
            kernel=Kernel(
                (_SIGMOID_U, "{a} = " + _SIGMOID_OF_U),
                "({a} * (1.0 - {a}))",
                statements=_EXP_SERIES,
            ),
            torch=("Sigmoid", ()),
            init="glorot_normal",
        ),
        # tanh |z| = -u / (2 + u) with u = expm1(-2|z|)
        Activation(
            "tanh",
            np.tanh,
            tanh_grad,
            "tanh(z)",
            saturating=True,
            torch_gain=5.0 / 3.0,
            kernel=Kernel(
                ("u = exp_minus(-2.0 * abs(z), 1.0)", "h = -u / (2.0 + u)", "{a} = h if z >= 0 else -h"),
                "(1.0 - {a} * {a})",
                statements=_EXP_SERIES,
            ),
            torch=("Tanh", ()),
            init="lecun_normal",
        ),
        Activation(
            "relu",
            relu,
            relu_grad,
            "max(0, z)",
            torch_gain=math.sqrt(2.0),
            kernel=Kernel(("{a} = max(z, 0.0)",), "(1.0 if {a} > 0 else 0.0)", backprop="({d}) if {a} > 0 else 0.0"),
            dying=True,
            torch=("ReLU", ()),
        ),
        Family("leaky_relu", "SLOPE", LEAKY_SLOPE, _leaky_relu_row, torch_param="negative_slope"),
        Activation(
            "identity",
            identity,
            identity_grad,
            "z",
            torch_gain=1.0,
            kernel=Kernel(("{a} = z",), None),
            torch=("Identity", ()),
            init="lecun_normal",
        ),
        Activation(
            "gelu",
            gelu,
            gelu_grad,
            "z Phi(z)",
            # Phi = erfc(-z / sqrt 2) / 2 (libm's erfc: a call per unit); g' = Phi + z phi
            kernel=Kernel(
                (
                    f"h = 0.5 * math.erfc(-{_SQRT_HALF!r} * z)",
                    "{a} = z * h",
                    f"{{p}} = h + z * ({_INV_SQRT_2PI!r} * exp_minus(-0.5 * (z * z), 0.0))",
                ),
                "{p}",
                statements=2 * _EXP_SERIES,
            ),
            dying=True,
            torch=("GELU", (("approximate", "none"),)),
        ),
        Activation(
            "gelu_tanh",
            gelu_tanh,
            gelu_tanh_grad,
            "z/2 (1 + tanh(sqrt(2/pi) (z + 0.044715 z^3)))",
            # z sigmoid(t), t = 2 sqrt(2/pi) (z + 0.044715 z^3); g' = s + z s (1 - s) t'
            kernel=Kernel(
                (
                    f"h = {2 * _GELU_K!r} * (z + {_GELU_C!r} * (z * z * z))",
                    "u = exp_minus(-abs(h), 0.0)",
                    "h = 1.0 / (1.0 + u) if h >= 0 else u / (1.0 + u)",
                    "{a} = z * h",
                    f"{{p}} = h + z * (h * (1.0 - h)) * ({2 * _GELU_K!r} * (1.0 + {3 * _GELU_C!r} * (z * z)))",
                ),
                "{p}",
                statements=_EXP_SERIES + 4,
            ),
            dying=True,
            torch=("GELU", (("approximate", "tanh"),)),
        ),
        Activation(
            "silu",
            silu,
            silu_grad,
            "z sigmoid(z)",
            kernel=Kernel(
                (_SIGMOID_U, "h = " + _SIGMOID_OF_U, "{a} = z * h", "{p} = h * (1.0 + z * (1.0 - h))"),
                "{p}",
                statements=_EXP_SERIES + 3,
            ),
            dying=True,
            torch=("SiLU", ()),
        ),
        Activation(
            "selu",
            selu,
            selu_grad,
            "lambda z if z > 0 else lambda alpha (exp(z) - 1); lambda = 1.0507, alpha = 1.6733",
            saturating=True,
            torch_gain=3.0 / 4.0,
            # g' = lambda alpha exp(z) = a + lambda alpha for z <= 0
            kernel=Kernel(
                (f"{{a}} = {SELU_LAMBDA!r} * z if z > 0 else {SELU_LAMBDA_ALPHA!r} * exp_minus(min(z, 0.0), 1.0)",),
                f"({SELU_LAMBDA!r} if {{a}} > 0 else {{a}} + {SELU_LAMBDA_ALPHA!r})",
                statements=_EXP_SERIES,
            ),
            torch=("SELU", ()),
            init="lecun_normal",
        ),
        Activation(
            "elu",
            elu,
            elu_grad,
            "z if z > 0 else exp(z) - 1",
            saturating=True,
            # g' = exp(z) = a + 1 for z <= 0
            kernel=Kernel(
                ("{a} = z if z > 0 else exp_minus(min(z, 0.0), 1.0)",),
                "(1.0 if {a} > 0 else {a} + 1.0)",
                statements=_EXP_SERIES,
            ),
            torch=("ELU", (("alpha", 1.0),)),
        ),
        Activation(
            "softplus",
            softplus,
            sigmoid,
            "log(1 + exp(z))",
            saturating=True,
            # max(z, 0) + log1p(u), u = exp(-|z|); g' = sigmoid(z) from the same u
            kernel=Kernel(
                (_SIGMOID_U, "{a} = max(z, 0.0) + log1p_unit(u)", "{p} = " + _SIGMOID_OF_U),
                "{p}",
                statements=2 * _EXP_SERIES,
            ),
            # PyTorch's default threshold 20 (linear above) changes g by under 2.1e-9
            torch=("Softplus", (("beta", 1.0),)),
        ),
        # Not elementwise: an output only, always paired with cross-entropy (see losses); the
        # kernel writes it per layer (codegen), with one exp per unit.
        Activation(
            "softmax", softmax, None, "exp(z_k) / sum_j exp(z_j)", kernel=Kernel((), None, statements=_EXP_SERIES)
        ),
    ]
)

#: Names allowed for hidden layers (elementwise, with a derivative); ``in`` also reads the
#: families' parametrized names (``"leaky_relu:0.2" in HIDDEN``).
HIDDEN = Names((n for n, a in ACTIVATIONS.items() if a.grad is not None), ACTIVATIONS, lambda a: a.grad is not None)


def activation_of_module(module: object) -> str | None:
    """The table's name for a ``torch.nn`` activation module (`Activation.torch`): ``nn.GELU()``
    -> ``gelu``, ``nn.LeakyReLU(0.2)`` -> ``leaky_relu:0.2``; None when no row matches its class
    and attributes (``nn.ELU(alpha=0.5)``). Reads the module's class by name: no torch import."""
    cls = type(module).__name__
    if not type(module).__module__.startswith("torch.nn"):
        return None
    for family in ACTIVATIONS.families.values():
        row = ACTIVATIONS[family.name]
        if row.torch is not None and row.torch[0] == cls and family.torch_param is not None:
            value = getattr(module, family.torch_param, None)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                return family.value_name(float(value))
            return None
    for name, row in ACTIVATIONS.items():
        if row.torch is not None and row.torch[0] == cls:
            if all(getattr(module, k, None) == v for k, v in row.torch[1]):
                return name
    return None
