"""Initializers: one registry of spec strings, one variance-scaling core, the course's dicts.

A *spec* names an initializer everywhere (Python, CLI, sweep files): ``"zeros"``,
``"constant:0.5"``, ``"random:0.01"``, ``"xavier"``, ``"he_uniform"``,
``"variance_scaling:2,fan_in,truncated_normal"``. `get(spec)` returns a sampler, a callable
``(shape, rng) -> ndarray`` for shapes ``(..., fan_out, fan_in)``: fans come from the last two
axes (the course's ``W[l]`` is ``(n[l], n[l-1])``), leading axes are batch.

The core (JAX's ``variance_scaling``, Keras's ``VarianceScaling``)::

    n        = fan_in | fan_out | (fan_in + fan_out) / 2          (mode)
    variance = scale / n
    normal:            W = std * N(0, 1),  std = sqrt(variance)
    truncated_normal:  W = std / .87962566103423978 * N(0, 1) truncated to (-2, 2)
    uniform:           W ~ U(-bound, bound), bound = sqrt(3 * variance)

*Recipes* (`RECIPES`: ``fixup``, ``rezero``, ``skipinit``, ``zero``, ``gpt2``, ``t_fixup``) are
registry rows too, but draw each layer of a residual network by its role (`Recipe.residual`,
called by `initlab.nn.residual.initialize`); ``delta_orthogonal`` draws convolution kernels.

Named initializers are one-line configurations of it. Beware the trap the frameworks set:
JAX's and Keras's ``he_normal``/``glorot_normal``/``lecun_normal`` are *truncated*; PyTorch's
``kaiming_normal_``/``xavier_normal_`` are not. Here ``he_normal``, ``glorot_normal`` and
``lecun_normal`` are plain normal (PyTorch's), and the ``*_truncated_normal`` names are JAX's
and Keras's.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from initlab.errors import InitlabError, check_layer_dims, check_positive, unknown
from initlab.rng import RNG, Seed, resolve

#: Standard deviation of a standard normal truncated to (-2, 2): dividing by it makes a
#: truncated sample's std equal the target (the constant JAX and Keras use).
TRUNCATED_NORMAL_STD = 0.87962566103423978

MODES = ("fan_in", "fan_out", "fan_avg")
DISTRIBUTIONS = ("normal", "truncated_normal", "uniform")


class Sampler(Protocol):
    """What `get` returns: draws a weight array and states the distribution it draws from."""

    spec: str

    def __call__(self, shape: Sequence[int], rng: RNG, *, fans: tuple[int, int] | None = None) -> np.ndarray: ...

    def theory(self, shape: Sequence[int], *, fans: tuple[int, int] | None = None) -> dict: ...


def fans(shape: Sequence[int], override: tuple[int, int] | None = None) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight of shape ``(..., fan_out, fan_in)``.

    The course's ``W[l]`` is ``(n[l], n[l-1])``: fan_in = n[l-1], fan_out = n[l].
    Leading axes (an ensemble) do not count. ``override`` gives the fans explicitly (the torch
    adapter passes PyTorch's, receptive field included, for a flattened conv weight).
    """
    shape = tuple(shape)
    if override is not None:
        fans(shape)
        fi, fo = (int(v) for v in override)
        if fi < 1 or fo < 1:
            raise InitlabError(f"fans must be positive, got fan_in={fi}, fan_out={fo}")
        return fi, fo
    if len(shape) < 2:
        raise InitlabError(f"a weight needs a shape (..., fan_out, fan_in) of at least 2 axes, got {shape}")
    for n in shape:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
            raise InitlabError(f"every axis of a weight shape must be a positive integer, got {shape}")
    return int(shape[-1]), int(shape[-2])


_fans = fans  # the helper under a name that the samplers' ``fans=`` keyword does not shadow


def _finite(W: np.ndarray, spec: str) -> np.ndarray:
    """``W`` if every draw is finite; a scale near float64's largest number overflows to inf
    (``random:1e308``), which would train to a NaN cost."""
    if not np.isfinite(W).all():
        raise InitlabError(
            f"initializer {spec!r} drew weights that are not finite (inf): its scale "
            f"overflows float64; use a smaller one"
        )
    return W


def _truncated_standard_normal(shape: tuple[int, ...], rng: RNG) -> np.ndarray:
    """N(0, 1) restricted to (-2, 2) by redrawing what falls outside (as TensorFlow does)."""
    z = rng.standard_normal(shape)
    outside = np.abs(z) >= 2.0
    while outside.any():
        z[outside] = rng.standard_normal(int(outside.sum()))
        outside = np.abs(z) >= 2.0
    return z


@dataclass(frozen=True)
class Constant:
    """Every weight equal to ``value``: ``W = c``. Zeros is ``Constant(0.0)``."""

    value: float
    spec: str = "constant"

    def __call__(self, shape: Sequence[int], rng: RNG, *, fans: tuple[int, int] | None = None) -> np.ndarray:
        _fans(shape, fans)
        return np.full(tuple(shape), self.value, dtype=np.float64)

    def theory(self, shape: Sequence[int], *, fans: tuple[int, int] | None = None) -> dict:
        fan_in, fan_out = _fans(shape, fans)
        return {"distribution": "constant", "value": self.value, "std": 0.0, "fan_in": fan_in, "fan_out": fan_out}


@dataclass(frozen=True)
class Normal:
    """``W = std * randn(shape)``: the course's ``np.random.randn(n, n_prev) * 0.01``."""

    std: float
    spec: str = "random"

    def __call__(self, shape: Sequence[int], rng: RNG, *, fans: tuple[int, int] | None = None) -> np.ndarray:
        _fans(shape, fans)
        with np.errstate(over="ignore"):  # reported below, as an error
            return _finite(rng.standard_normal(tuple(shape)) * self.std, self.spec)

    def theory(self, shape: Sequence[int], *, fans: tuple[int, int] | None = None) -> dict:
        fan_in, fan_out = _fans(shape, fans)
        return {"distribution": "normal", "std": self.std, "fan_in": fan_in, "fan_out": fan_out}


@dataclass(frozen=True)
class VarianceScaling:
    """The core: ``variance = scale / n`` with ``n`` the fan of ``mode``.

    - ``normal``: ``W = sqrt(variance) * N(0, 1)``
    - ``truncated_normal``: ``W = sqrt(variance) / .8796... * N(0,1)|(-2, 2)``; std = sqrt(variance)
    - ``uniform``: ``W ~ U(-b, b)``, ``b = sqrt(3 * variance)`` (a uniform's std is b / sqrt(3))
    """

    scale: float
    mode: str = "fan_in"
    distribution: str = "normal"
    spec: str = "variance_scaling"

    def __post_init__(self) -> None:
        check_positive(f"{self.spec}: scale", self.scale)
        if self.mode not in MODES:
            raise unknown("variance-scaling mode", self.mode, MODES)
        if self.distribution not in DISTRIBUTIONS:
            raise unknown("variance-scaling distribution", self.distribution, DISTRIBUTIONS)

    def variance(self, shape: Sequence[int], fans: tuple[int, int] | None = None) -> float:
        fan_in, fan_out = _fans(shape, fans)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        return self.scale / n

    def __call__(self, shape: Sequence[int], rng: RNG, *, fans: tuple[int, int] | None = None) -> np.ndarray:
        shape = tuple(shape)
        std = np.sqrt(self.variance(shape, fans))
        if self.distribution == "normal":
            return rng.standard_normal(shape) * std
        if self.distribution == "truncated_normal":
            return _truncated_standard_normal(shape, rng) * (std / TRUNCATED_NORMAL_STD)
        bound = np.sqrt(3.0) * std
        return rng.uniform(-bound, bound, shape)

    def theory(self, shape: Sequence[int], *, fans: tuple[int, int] | None = None) -> dict:
        fan_in, fan_out = _fans(shape, fans)
        std = float(np.sqrt(self.variance(shape, fans)))
        out = {
            "distribution": self.distribution,
            "std": std,
            "fan_in": fan_in,
            "fan_out": fan_out,
            "mode": self.mode,
            "scale": self.scale,
        }
        if self.distribution == "uniform":
            out["bound"] = float(np.sqrt(3.0) * std)
        if self.distribution == "truncated_normal":
            out["bound"] = 2.0 * std / TRUNCATED_NORMAL_STD
        return out


@dataclass(frozen=True)
class Orthogonal:
    """A (semi-)orthogonal ``W`` times ``gain`` (Saxe et al. 2014), as PyTorch's ``orthogonal_``:
    ``A = randn(rows, cols)`` (transposed when wide), ``Q, R = qr(A)``, ``Q *= sign(diag(R))``
    (the sign correction that makes Q uniform on the orthogonal group), transposed back.
    Wide ``W`` (fan_out <= fan_in): ``W W^T = gain^2 I``; tall: ``W^T W = gain^2 I``.
    """

    gain: float = 1.0
    spec: str = "orthogonal"

    def __call__(self, shape: Sequence[int], rng: RNG, *, fans: tuple[int, int] | None = None) -> np.ndarray:
        fan_in, fan_out = _fans(shape)  # the matrix itself is what is orthogonal
        shape = tuple(shape)
        batch = int(np.prod(shape[:-2], dtype=np.int64))
        out = np.empty((batch, fan_out, fan_in))
        for k in range(batch):
            A = rng.standard_normal((fan_out, fan_in))
            if fan_out < fan_in:
                A = A.T
            Q, R = np.linalg.qr(A)
            Q = Q * np.sign(np.diag(R))
            out[k] = Q.T if fan_out < fan_in else Q
        return (out * self.gain).reshape(shape)

    def theory(self, shape: Sequence[int], *, fans: tuple[int, int] | None = None) -> dict:
        fan_in, fan_out = _fans(shape)
        # every row (wide) or column (tall) has norm gain: entries have variance gain^2 / max fan
        return {
            "distribution": "orthogonal",
            "std": self.gain / np.sqrt(max(fan_in, fan_out)),
            "gain": self.gain,
            "fan_in": fan_in,
            "fan_out": fan_out,
        }


@dataclass(frozen=True)
class Identity:
    """``W = gain * I`` (rectangular: ones on the main diagonal), as PyTorch's ``eye_``."""

    gain: float = 1.0
    spec: str = "identity"

    def __call__(self, shape: Sequence[int], rng: RNG, *, fans: tuple[int, int] | None = None) -> np.ndarray:
        fan_in, fan_out = _fans(shape)
        return np.broadcast_to(np.eye(fan_out, fan_in) * self.gain, tuple(shape)).copy()

    def theory(self, shape: Sequence[int], *, fans: tuple[int, int] | None = None) -> dict:
        fan_in, fan_out = _fans(shape)
        return {
            "distribution": "identity",
            "gain": self.gain,
            "std": float(self.gain * np.sqrt(min(fan_in, fan_out) / (fan_in * fan_out))),
            "fan_in": fan_in,
            "fan_out": fan_out,
        }


@dataclass(frozen=True)
class Sparse:
    """``W = N(0, std^2)`` with a fraction ``sparsity`` of each column set to 0 (Martens 2010),
    as PyTorch's ``sparse_``: ``ceil(sparsity * fan_out)`` zeros per column, at random rows."""

    sparsity: float
    std: float = 0.01
    spec: str = "sparse"

    def __post_init__(self) -> None:
        if not 0.0 <= self.sparsity < 1.0:
            raise InitlabError(f"sparse: SPARSITY must be in [0, 1), got {self.sparsity}")
        check_positive("sparse: STD", self.std)

    def __call__(self, shape: Sequence[int], rng: RNG, *, fans: tuple[int, int] | None = None) -> np.ndarray:
        fan_in, fan_out = _fans(shape)
        shape = tuple(shape)
        with np.errstate(over="ignore"):  # reported below, as an error
            W = _finite(rng.standard_normal(shape) * self.std, self.spec)
        n_zero = int(np.ceil(self.sparsity * fan_out))
        flat = W.reshape(-1, fan_out, fan_in)
        for k in range(flat.shape[0]):
            for col in range(fan_in):
                flat[k, rng.permutation(fan_out)[:n_zero], col] = 0.0
        return W

    def theory(self, shape: Sequence[int], *, fans: tuple[int, int] | None = None) -> dict:
        fan_in, fan_out = _fans(shape)
        keep = 1 - np.ceil(self.sparsity * fan_out) / fan_out
        return {
            "distribution": "sparse normal",
            "std": float(self.std * np.sqrt(keep)),
            "sparsity": self.sparsity,
            "fan_in": fan_in,
            "fan_out": fan_out,
        }


@dataclass(frozen=True)
class LSUV(Orthogonal):
    """Layer-sequential unit variance (Mishkin & Matas 2016): starts orthonormal; the data step,
    `initlab.nn.lsuv.lsuv`, rescales each layer on a batch until its output variance is 1.
    ``Network.fit`` runs that step on its training data before the first update."""

    tol: float = 0.1
    max_iter: int = 10
    spec: str = "lsuv"
    data_dependent: bool = True


# PyTorch's calculate_gain names that are no activation of ours: its linear layers and
# convolutions (gain 1). Every activation's gain is its row's (nn.activations).
GAINS = {
    "linear": 1.0,
    "conv1d": 1.0,
    "conv2d": 1.0,
    "conv3d": 1.0,
    "conv_transpose1d": 1.0,
    "conv_transpose2d": 1.0,
    "conv_transpose3d": 1.0,
}


def calculate_gain(activation: str, param: float | None = None) -> float:
    """The recommended gain for an activation: its row's ``gain`` in
    `initlab.nn.activations.ACTIVATIONS`, plus PyTorch's names for linear layers in ``GAINS``.

    Where PyTorch's ``calculate_gain`` knows the activation, the same number; elsewhere the gain
    that preserves the second moment, ``1 / sqrt(E[g(z)^2])``, ``z ~ N(0, 1)`` (`Activation.gain`):

    ============  ==============================  ==========
    identity      1                               PyTorch (``linear``, conv: 1)
    sigmoid       1                               PyTorch
    tanh          5/3                             PyTorch
    relu          sqrt(2)                         PyTorch
    leaky_relu    sqrt(2 / (1 + slope^2))         PyTorch; slope 0.01 unless ``param``
    selu          3/4                             PyTorch
    gelu          1.5335                          second moment
    gelu_tanh     1.5336                          second moment
    silu          1.6765                          second moment
    elu           1.2452                          second moment
    softplus      1.0419                          second moment
    ============  ==============================  ==========

    ``param``: a parametrized activation's value (``calculate_gain("leaky_relu", 0.2)`` is the
    gain of ``leaky_relu:0.2``), as PyTorch's.
    """
    from initlab.nn.activations import ACTIVATIONS

    if activation in GAINS:
        return GAINS[activation]
    name = activation
    if param is not None:
        family = ACTIVATIONS.families.get(activation) if isinstance(activation, str) else None
        if family is None:
            raise InitlabError(f"activation {activation!r} takes no parameter, got {param!r}")
        if isinstance(param, bool) or not isinstance(param, (int, float, np.integer, np.floating)):
            raise InitlabError(f"{activation}: {family.param} must be a number, got {param!r}")
        name = family.value_name(float(param))
    row = ACTIVATIONS.get(name)
    if row is None or row.gain is None:
        names = [n for n, a in ACTIVATIONS.items() if a.gain is not None]
        raise unknown("activation", str(activation), [*names, *GAINS])
    return row.gain


# --------------------------------------------------------------------------- the registry
@dataclass(frozen=True)
class Param:
    """One argument of a spec (``random:SCALE``): its name, parser and default; ``options``
    lists the values of an argument that is one of a few words (``MODE``)."""

    name: str
    parse: Callable[[str], object]
    default: object = None  # None: required
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class Entry:
    """A registry row: how to build the sampler, its formula, and the frameworks' names."""

    name: str
    build: Callable[..., Sampler]
    help: str
    formula: str
    params: tuple[Param, ...] = ()
    equivalents: dict[str, str] = field(default_factory=dict)

    @property
    def takes_scale(self) -> bool:
        """Its first argument is a SCALE (``random``, ``variance_scaling``)."""
        return bool(self.params) and self.params[0].name == "SCALE"


def _number(text: str) -> float:
    """A finite number: ``constant:nan`` and ``constant:inf`` are refused, not trained to NaN."""
    try:
        v = float(text)
    except ValueError:
        raise InitlabError(f"expected a number, got {text!r}") from None
    if not np.isfinite(v):
        raise InitlabError(f"expected a finite number, got {text!r}")
    return v


def _positive(text: str) -> float:
    return check_positive("scale", _number(text))


def _gain(text: str) -> float:
    """A gain: a positive number, or an activation's name (``orthogonal:relu`` = sqrt(2))."""
    try:
        return check_positive("gain", float(text))
    except ValueError:
        return calculate_gain(text)


def _count(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise InitlabError(f"expected a whole number, got {text!r}") from None
    if n < 1:
        raise InitlabError(f"expected at least 1, got {n}")
    return n


def _choice(options: Sequence[str]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in options:
            raise unknown("option", text, options)
        return text

    return parse


def _vs(scale: float, mode: str, distribution: str) -> Callable[[str], VarianceScaling]:
    return lambda spec: VarianceScaling(scale, mode, distribution, spec)


def _hidden_activation(text: str) -> str:
    """A hidden activation of the table, in its canonical name (``leaky_relu:0.010`` ->
    ``leaky_relu``)."""
    from initlab.nn.activations import HIDDEN

    # specs are case-insensitive (HE is he): CRITICAL:TANH too, as the table reads every name
    return HIDDEN.canonical(text.strip().lower(), "activation")


def _non_negative(text: str) -> float:
    v = _number(text)
    if v < 0:
        raise InitlabError(f"expected a number >= 0, got {text!r}")
    return v


@functools.lru_cache(maxsize=256)
def _critical_sigma_w2(activation: str, sigma_b2: float) -> float:
    """`initlab.theory.critical_sigma_w2` (a few seconds of quadrature: computed once per
    process). Theory sits above the registry; it is imported when a ``critical`` spec is read."""
    from initlab import theory

    return float(theory.critical_sigma_w2(activation, sigma_b2))


@dataclass(frozen=True)
class Critical(VarianceScaling):
    """The edge of chaos for one activation (Poole et al. 2016; Schoenholz et al. 2017): normal
    weights with variance ``sigma_w2 / fan_in``, ``sigma_w2`` the critical value at which
    ``chi_1 = 1`` for bias variance ``sigma_b2`` (`initlab.theory.critical_sigma_w2`). The biases
    belong to the point too: draw them with ``bias`` (``random:sqrt(sigma_b2)``; zeros at 0)."""

    activation: str = "tanh"
    sigma_b2: float = 0.0

    @property
    def bias(self) -> str:
        """The bias spec of the critical point: ``random:sqrt(sigma_b2)``, or ``zeros``."""
        return "zeros" if self.sigma_b2 == 0 else f"random:{_number_text(float(np.sqrt(self.sigma_b2)))}"

    def theory(self, shape: Sequence[int], *, fans: tuple[int, int] | None = None) -> dict:
        return {**super().theory(shape, fans=fans), "activation": self.activation, "sigma_b2": self.sigma_b2}


def _critical(spec: str, activation: str, sigma_b2: float) -> Critical:
    return Critical(_critical_sigma_w2(activation, sigma_b2), "fan_in", "normal", spec, activation, sigma_b2)


# ------------------------------------------------------------------ convolutions: delta-orthogonal
@dataclass(frozen=True)
class DeltaOrthogonal:
    """Delta-orthogonal (Xiao et al. 2018, "Dynamical isometry and a mean field theory of CNNs",
    Algorithm 2) for a convolution weight ``(out, in, k1[, k2, ...])`` in PyTorch's layout:
    zeros everywhere but the kernel's centre ``W[:, :, k1 // 2, k2 // 2, ...] = GAIN * Q``, with
    ``Q`` a random (semi-)orthogonal ``(out, in)`` matrix drawn as `Orthogonal` draws one. The
    convolution then starts as a 1x1 orthogonal map of the channels at each position: an isometry
    when ``out >= in`` (the paper's case, ``Q^T Q = I``); when ``out < in`` the rows are orthonormal
    (``Q Q^T = I``). A 2-D shape ``(out, in)`` gets plain `Orthogonal`.

    Unlike the other samplers the axes after the first two are the *kernel*, not a batch: pass
    the convolution's real shape, not its ``(out, in * k * k)`` flattening (``kernel_shaped``).
    """

    gain: float = 1.0
    spec: str = "delta_orthogonal"
    kernel_shaped: bool = True

    def _shape(self, shape: Sequence[int]) -> tuple[int, ...]:
        shape = tuple(shape)
        _fans(shape[:2] if len(shape) >= 2 else shape)  # positive integers, at least (out, in)
        if any(isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0 for n in shape):
            raise InitlabError(f"every axis of a weight shape must be a positive integer, got {shape}")
        return tuple(int(n) for n in shape)

    def __call__(self, shape: Sequence[int], rng: RNG, *, fans: tuple[int, int] | None = None) -> np.ndarray:
        shape = self._shape(shape)
        out, cin = shape[:2]
        Q = Orthogonal(self.gain)((out, cin), rng)
        W = np.zeros(shape)
        W[(slice(None), slice(None), *(k // 2 for k in shape[2:]))] = Q
        return W

    def theory(self, shape: Sequence[int], *, fans: tuple[int, int] | None = None) -> dict:
        shape = self._shape(shape)
        out, cin = shape[:2]
        taps = int(np.prod(shape[2:], dtype=np.int64))
        # Q's rows (wide) or columns (tall) have norm gain, the other taps are 0: the mean square
        # over the whole kernel is gain^2 / (max(out, in) * taps)
        return {
            "distribution": "orthogonal" if taps == 1 and len(shape) == 2 else "delta orthogonal",
            "std": float(self.gain / np.sqrt(max(out, cin) * taps)),
            "gain": self.gain,
            "fan_in": cin * taps,
            "fan_out": out * taps,
        }


# ------------------------------------------------------------- recipes: a weight by its role
def sylvester_hadamard(p: int) -> np.ndarray:
    """The ``p x p`` Hadamard matrix of Sylvester's construction, ``p`` a power of 2:
    ``H_0 = [1]``, ``H_k = [[H_(k-1), H_(k-1)], [H_(k-1), -H_(k-1)]]`` (ZerO's Definition 2;
    ``scipy.linalg.hadamard``): entries +-1, ``H H^T = p I``, rows differ in sign pattern."""
    if isinstance(p, bool) or not isinstance(p, (int, np.integer)) or p < 1 or p & (p - 1):
        raise InitlabError(f"a Hadamard matrix here has a power-of-2 size, got {p!r}")
    H = np.ones((1, 1))
    while H.shape[0] < p:
        H = np.block([[H, H], [H, -H]])
    return H


def zero_matrix(fan_out: int, fan_in: int) -> np.ndarray:
    """ZerO's Algorithm 1 (Zhao, Schaefer & Anandkumar 2022) for one ``W: (P, Q) = (fan_out, fan_in)``:

    - ``P = Q``: ``I``; ``P < Q``: the partial identity ``I*`` (the first P inputs pass through);
    - ``P > Q`` (the layer widens): ``c I* H_m I*``, ``m = ceil(log2 P)``, ``c = 2^(-(m-1)/2)``,
      ``H_m`` the ``2^m x 2^m`` Hadamard matrix: ``W = c * H_m[:P, :Q]``.

    ``c`` is the paper's (TMLR 2022, Algorithm 1); the authors' MNIST notebook divides by
    ``2^(m/2)`` instead (``H_m`` made orthonormal), sqrt(2) smaller. Entries take 2 magnitudes at
    most: 0 and 1, or c alone.
    """
    P, Q = int(fan_out), int(fan_in)
    if P <= Q:
        return np.eye(P, Q)
    m = (P - 1).bit_length()  # ceil(log2 P), exact in integers
    return 2.0 ** (-(m - 1) / 2) * sylvester_hadamard(2**m)[:P, :Q]


@dataclass(frozen=True)
class Recipe:
    """An initialization that draws each weight of a residual network by its role
    (`initlab.nn.residual.Role`: the input projection, layer j of m in a branch, the readout) and
    sets the gates: ``residual(layout, rng, b_init)`` returns the parameters (`W{l}`, `b{l}` in
    the plain order, ``gate{b}`` where the layout has gates; norms are left to their defaults,
    gain 1 and bias 0). Biases are drawn by ``b_init`` (zeros by default: every paper here).

    Called as a sampler, ``(shape, rng)``, a recipe draws a weight as it draws a layer outside the
    branches (``BASE``); on a plain network (`initialize_parameters_deep`) it draws every layer so,
    unless the paper has no plain form: then ``plain_refusal`` says why and what to pass.
    """

    spec: str
    base: str = "he"
    #: each block's gate at the start (where the layout has gates)
    gate_start = 1.0
    needs_gate = False

    @property
    def sampler(self) -> Sampler:
        return get(self.base)

    def __call__(self, shape: Sequence[int], rng: RNG, *, fans: tuple[int, int] | None = None) -> np.ndarray:
        return self.sampler(shape, rng, fans=fans)

    def theory(self, shape: Sequence[int], *, fans: tuple[int, int] | None = None) -> dict:
        return {**self.sampler.theory(shape, fans=fans), "recipe": self.spec, "base": self.base}

    @property
    def plain_refusal(self) -> str | None:
        """Why this recipe has no plain-network form (None: it has one)."""
        return None

    def check(self, layout) -> None:
        """Refuse a layout the recipe has no rule for (the error names it)."""
        if self.needs_gate and not layout.gate:
            raise InitlabError(
                f"{self.spec!r} starts each block's gate at {self.gate_start:g}, but the layout has no gates "
                f"({layout.describe()}): build it with gate=True (Network does so for {self.spec!r})"
            )

    def weight(self, role, layout, rng: RNG) -> np.ndarray:
        """``W[l]`` for weight layer ``role.layer``: the base draw unless a recipe says otherwise."""
        return self.sampler(_layer_shape(layout, role.layer), rng)

    def residual(self, layout, rng: RNG, b_init: Sampler) -> dict[str, np.ndarray]:
        self.check(layout)
        params: dict[str, np.ndarray] = {}
        for role in layout.roles():
            l = role.layer
            params[f"W{l}"] = self.weight(role, layout, rng)
            params[f"b{l}"] = b_init((layout.dims[l], 1), rng)
        if layout.gate:
            params.update({f"gate{b}": np.full((1, 1), self.gate_start) for b in range(1, layout.blocks + 1)})
        return params


def _layer_shape(layout, l: int) -> tuple[int, int]:
    return layout.dims[l], layout.dims[l - 1]


def _needs_residual(spec: str, why: str) -> str:
    return f"{spec!r} {why}; a plain network has none: pass residual=m (--residual M, weight layers per branch)"


@dataclass(frozen=True)
class Fixup(Recipe):
    """Fixup (Zhang, Dauphin & Ma 2019, "Fixup initialization: residual learning without
    normalization", Section 3): (1) the readout and every branch's last layer exactly 0; (2) the
    other layers by a standard method (``BASE``, He by default), and the weight layers inside a
    branch scaled by ``L^(-1/(2m-2))``, L the number of branches (blocks), m the layers per branch;
    (3) a scalar multiplier (1) per branch and scalar biases (0): here each block's ``gate`` (1,
    where the network has gates) and the biases ``b[l]`` (zeros; per unit where Fixup has one per
    layer; Fixup's bias before a linear layer is absorbed in the next one's ``b``).

    With m = 1 a branch is its last layer: rule (1) zeroes it and rule (2) has nothing left to
    scale (``-1/(2m-2)`` is never used), which is what the paper implies.
    """

    def branch_scale(self, layout) -> float:
        """``L^(-1/(2m-2))`` for the branch layers before the last (1 where there are none)."""
        if layout.m == 1 or layout.blocks == 0:
            return 1.0
        return float(layout.blocks ** (-1.0 / (2 * layout.m - 2)))

    def weight(self, role, layout, rng: RNG) -> np.ndarray:
        shape = _layer_shape(layout, role.layer)
        if role.kind == "readout" or role.last:
            return np.zeros(shape)
        W = self.sampler(shape, rng)
        return W * self.branch_scale(layout) if role.kind == "branch" else W

    @property
    def plain_refusal(self) -> str:
        return _needs_residual(
            self.spec, "zeroes the last layer of each residual branch and scales the others by the number of branches"
        )


@dataclass(frozen=True)
class ReZero(Recipe):
    """ReZero (Bachlechner et al. 2020, "ReZero is all you need") and SkipInit (De & Smith 2020,
    "Batch normalization biases residual blocks towards the identity function"): a learned scalar
    gate on each branch, starting at 0, so that every block is the identity at init; all weights
    by ``BASE`` (He by default; the ReZero paper's Transformers use Xavier-uniform:
    ``rezero:glorot_uniform``). In a pre-activation residual MLP the two papers' blocks are the
    same map, ``S + gate * branch(S)``: the names differ in what they replace (LayerNorm, BatchNorm).
    The network at init is the input projection followed by the readout."""

    gate_start = 0.0
    needs_gate = True

    @property
    def plain_refusal(self) -> str:
        return _needs_residual(self.spec, "puts a gate, starting at 0, on each residual branch")


@dataclass(frozen=True)
class ZerO(Recipe):
    """ZerO (Zhao, Schaefer & Anandkumar 2022, "ZerO initialization: initializing neural networks
    with only zeros and ones", Algorithm 1, `zero_matrix`): deterministic, no draw at all. Every
    weight is the identity, a partial identity, or ``c * H_m[:P, :Q]`` where the layer widens; in a
    residual network every branch's last layer is 0 (the authors' ResNet zeroes the layers inside
    its branches) so each block starts as the identity. The other branch layers are square: the
    identity. Biases 0, gates 1. On a plain network, Algorithm 1 on every layer (the paper's MLPs).
    The readout follows Algorithm 1 too (the authors' ResNet code zeroes its classifier instead)."""

    base: str = "zero"

    def __call__(self, shape: Sequence[int], rng: RNG, *, fans: tuple[int, int] | None = None) -> np.ndarray:
        fan_in, fan_out = _fans(shape)  # the matrix itself, as identity and orthogonal
        return np.broadcast_to(zero_matrix(fan_out, fan_in), tuple(shape)).copy()

    def theory(self, shape: Sequence[int], *, fans: tuple[int, int] | None = None) -> dict:
        fan_in, fan_out = _fans(shape)
        W = zero_matrix(fan_out, fan_in)
        value = float(np.abs(W).max())
        return {
            "distribution": "zero",
            "rule": "identity" if fan_out <= fan_in else "hadamard",
            "value": value,  # the one non-zero magnitude
            "std": float(np.sqrt(np.mean(W * W))),  # the root mean square, as identity's
            "fan_in": fan_in,
            "fan_out": fan_out,
            "recipe": self.spec,
        }

    def weight(self, role, layout, rng: RNG) -> np.ndarray:
        P, Q = _layer_shape(layout, role.layer)
        return np.zeros((P, Q)) if role.last else zero_matrix(P, Q)


#: GPT-2's initializer_range (Radford et al. 2019; Hugging Face's GPT2Config default).
GPT2_STD = 0.02


@dataclass(frozen=True)
class GPT2(Recipe):
    """GPT-2 (Radford et al. 2019, Section 2.3: "we scale the weights of residual layers at
    initialization by a factor of 1/sqrt(N) where N is the number of residual layers"): every
    weight ``N(0, 0.02^2)``, biases 0, and the last layer of each branch ``N(0, (0.02/sqrt(N))^2)``.
    N counts the residual adds: Hugging Face writes ``0.02 / sqrt(2 * n_layer)`` for ``c_proj``
    because a GPT-2 layer adds twice (attention, MLP); a residual MLP adds once per block, so
    N = blocks (a GPT-2 of n_layer layers has as many adds as 2 * n_layer of our blocks). On a
    plain network: ``N(0, 0.02^2)`` everywhere."""

    base: str = "random:0.02"

    def last_std(self, layout) -> float:
        return GPT2_STD / np.sqrt(layout.blocks) if layout.blocks else GPT2_STD

    def weight(self, role, layout, rng: RNG) -> np.ndarray:
        W = self.sampler(_layer_shape(layout, role.layer), rng)
        return W * (self.last_std(layout) / GPT2_STD) if role.last else W


#: T-Fixup's encoder factor (Huang et al. 2020): weights of each encoder MLP block times 0.67 N^(-1/4).
T_FIXUP_ENCODER = 0.67


@dataclass(frozen=True)
class TFixup(Recipe):
    """T-Fixup (Huang, Perez, Ba & Volkovs 2020, "Improving Transformer optimization through
    better initialization", Section 3.3): Xavier for every weight, then "weight matrices in each
    encoder MLP block" times ``0.67 N^(-1/4)``, N the encoder's layers (the authors' code:
    ``linear1``, ``linear2`` times ``0.67 * en_layers ** (-1/4)``). A residual MLP with 2 layers per
    branch is that encoder without attention: each block is one encoder layer's MLP block, N =
    blocks, both branch layers times ``0.67 N^(-1/4)``; the input projection and the readout stay
    Xavier (T-Fixup's ``(9N)^(-1/4)`` belongs to embedding tables and the decoder, which a
    residual MLP lacks). Xavier is Glorot-uniform, as fairseq's ``nn.Linear``s. Branches of 1 or 3
    layers have no T-Fixup rule: refused (``fixup`` has one for every m)."""

    base: str = "glorot_uniform"

    def branch_scale(self, layout) -> float:
        return T_FIXUP_ENCODER * layout.blocks**-0.25 if layout.blocks else 1.0

    def check(self, layout) -> None:
        if layout.blocks and layout.m != 2:  # no blocks: nothing to scale, as fixup and rezero
            raise InitlabError(
                f"{self.spec!r} scales the two weight matrices of each Transformer MLP block (linear1, linear2) by "
                f"0.67 N^(-1/4); a branch of {layout.m} weight layer(s) has no T-Fixup rule: use residual=2, "
                f"or fixup (defined for any m)"
            )

    def weight(self, role, layout, rng: RNG) -> np.ndarray:
        W = self.sampler(_layer_shape(layout, role.layer), rng)
        return W * self.branch_scale(layout) if role.kind == "branch" else W

    @property
    def plain_refusal(self) -> str:
        return _needs_residual(
            self.spec, "scales the weights of each residual MLP block (a Transformer's, 2 layers each) by depth"
        )


def _base(text: str) -> str:
    """A recipe's BASE: a sampler's spec in canonical form, one without commas (``he``,
    ``glorot_uniform``, ``orthogonal:relu``); not a recipe, not a data-dependent init."""
    spec = canonical(text)
    s = get(spec)
    if hasattr(s, "residual") or getattr(s, "data_dependent", False) or getattr(s, "kernel_shaped", False):
        plain = [n for n, e in REGISTRY.items() if n not in RECIPES and n not in ("lsuv", "delta_orthogonal")]
        raise InitlabError(f"BASE must be a plain sampler ({', '.join(plain)}), got {text!r}")
    return spec


_PT = "torch.nn.init"
REGISTRY: dict[str, Entry] = {
    e.name: e
    for e in [
        Entry(
            "zeros",
            lambda spec: Constant(0.0, spec),
            "all weights 0 (never breaks symmetry)",
            "W = 0",
            equivalents={"pytorch": f"{_PT}.zeros_", "keras": "Zeros", "jax": "zeros"},
        ),
        Entry(
            "constant",
            lambda spec, c: Constant(c, spec),
            "all weights equal to C (as symmetric as zeros)",
            "W = C",
            (Param("C", _number),),
            {"pytorch": f"{_PT}.constant_(w, C)", "keras": "Constant(C)", "jax": "constant(C)"},
        ),
        Entry(
            "random",
            lambda spec, scale: Normal(scale, spec),
            "the course's randn * SCALE (default 0.01)",
            "W = randn * SCALE",
            (Param("SCALE", _positive, 0.01),),
            {
                "numpy": "np.random.randn(n, n_prev) * SCALE",
                "pytorch": f"{_PT}.normal_(w, 0, SCALE)",
                "keras": "RandomNormal(stddev=SCALE)",
                "jax": "normal(SCALE)",
            },
        ),
        Entry(
            "xavier",
            _vs(1.0, "fan_in", "normal"),
            "the course's Xavier: randn * sqrt(1/n_in) (LeCun's variance)",
            "W = randn * sqrt(1 / fan_in)",
            equivalents={
                "same as": "lecun_normal",
                "pytorch": f"{_PT}.kaiming_normal_(w, nonlinearity='linear')",
                "note": "PyTorch's/Keras's 'xavier'/'glorot' use fan_avg: glorot_normal",
            },
        ),
        Entry(
            "he",
            _vs(2.0, "fan_in", "normal"),
            "the course's He: randn * sqrt(2/n_in)",
            "W = randn * sqrt(2 / fan_in)",
            equivalents={"same as": "he_normal", "pytorch": f"{_PT}.kaiming_normal_(w, nonlinearity='relu')"},
        ),
        Entry(
            "glorot_normal",
            _vs(1.0, "fan_avg", "normal"),
            "Glorot & Bengio 2010, normal (PyTorch's xavier_normal_)",
            "W = N(0, std^2), std = sqrt(2 / (fan_in + fan_out))",
            equivalents={
                "pytorch": f"{_PT}.xavier_normal_",
                "keras": "none exact: GlorotNormal is truncated (glorot_truncated_normal)",
                "jax": "none exact: glorot_normal is truncated (glorot_truncated_normal)",
            },
        ),
        Entry(
            "glorot_uniform",
            _vs(1.0, "fan_avg", "uniform"),
            "Glorot & Bengio 2010, uniform (Keras's default)",
            "W ~ U(-b, b), b = sqrt(6 / (fan_in + fan_out))",
            equivalents={"pytorch": f"{_PT}.xavier_uniform_", "keras": "GlorotUniform", "jax": "glorot_uniform"},
        ),
        Entry(
            "glorot_truncated_normal",
            _vs(1.0, "fan_avg", "truncated_normal"),
            "Glorot normal as Keras and JAX draw it: truncated at 2 std",
            "W = std/.8796 * N(0,1)|(-2,2), std = sqrt(2 / (fan_in + fan_out))",
            equivalents={
                "keras": "GlorotNormal",
                "jax": "glorot_normal",
                "pytorch": f"{_PT}.trunc_normal_ (std and bounds set by hand)",
            },
        ),
        Entry(
            "he_normal",
            _vs(2.0, "fan_in", "normal"),
            "He et al. 2015, normal (PyTorch's kaiming_normal_)",
            "W = N(0, std^2), std = sqrt(2 / fan_in)",
            equivalents={
                "pytorch": f"{_PT}.kaiming_normal_(w, nonlinearity='relu')",
                "keras": "none exact: HeNormal is truncated (he_truncated_normal)",
                "jax": "none exact: he_normal is truncated (he_truncated_normal)",
            },
        ),
        Entry(
            "he_uniform",
            _vs(2.0, "fan_in", "uniform"),
            "He et al. 2015, uniform",
            "W ~ U(-b, b), b = sqrt(6 / fan_in)",
            equivalents={
                "pytorch": f"{_PT}.kaiming_uniform_(w, nonlinearity='relu')",
                "keras": "HeUniform",
                "jax": "he_uniform",
            },
        ),
        Entry(
            "he_truncated_normal",
            _vs(2.0, "fan_in", "truncated_normal"),
            "He normal as Keras and JAX draw it: truncated at 2 std",
            "W = std/.8796 * N(0,1)|(-2,2), std = sqrt(2 / fan_in)",
            equivalents={"keras": "HeNormal", "jax": "he_normal"},
        ),
        Entry(
            "lecun_normal",
            _vs(1.0, "fan_in", "normal"),
            "LeCun 1998, normal (variance 1/fan_in)",
            "W = N(0, std^2), std = sqrt(1 / fan_in)",
            equivalents={
                "pytorch": f"{_PT}.kaiming_normal_(w, nonlinearity='linear')",
                "keras": "none exact: LecunNormal is truncated (lecun_truncated_normal)",
                "jax": "none exact: lecun_normal is truncated (lecun_truncated_normal)",
            },
        ),
        Entry(
            "lecun_uniform",
            _vs(1.0, "fan_in", "uniform"),
            "LeCun 1998, uniform",
            "W ~ U(-b, b), b = sqrt(3 / fan_in)",
            equivalents={
                "pytorch": f"{_PT}.kaiming_uniform_(w, nonlinearity='linear')",
                "keras": "LecunUniform",
                "jax": "lecun_uniform",
            },
        ),
        Entry(
            "lecun_truncated_normal",
            _vs(1.0, "fan_in", "truncated_normal"),
            "LeCun normal as Keras and JAX draw it: truncated at 2 std",
            "W = std/.8796 * N(0,1)|(-2,2), std = sqrt(1 / fan_in)",
            equivalents={"keras": "LecunNormal", "jax": "lecun_normal"},
        ),
        Entry(
            "pytorch_default",
            _vs(1.0 / 3.0, "fan_in", "uniform"),
            "PyTorch's nn.Linear/ConvNd default: U(+-1/sqrt(fan_in)), a third of He's variance",
            "W ~ U(-b, b), b = 1 / sqrt(fan_in)",
            equivalents={"pytorch": f"nn.Linear default: {_PT}.kaiming_uniform_(w, a=sqrt(5))"},
        ),
        Entry(
            "orthogonal",
            lambda spec, gain: Orthogonal(gain, spec),
            "Saxe et al. 2014: a random (semi-)orthogonal matrix times GAIN (a number or an activation name)",
            "W = GAIN * Q, Q from the QR of randn with sign correction",
            (Param("GAIN", _gain, 1.0),),
            {"pytorch": f"{_PT}.orthogonal_(w, gain)", "keras": "Orthogonal(gain)", "jax": "orthogonal(scale=gain)"},
        ),
        Entry(
            "delta_orthogonal",
            lambda spec, gain: DeltaOrthogonal(gain, spec),
            "Xiao et al. 2018: a convolution weight (out, in, k...) zero but at the kernel's centre, an "
            "orthogonal (out, in) matrix times GAIN; a 2-D weight is plain orthogonal",
            "W[:, :, k//2, ...] = GAIN * Q (Q orthogonal), 0 elsewhere",
            (Param("GAIN", _gain, 1.0),),
            {
                "paper": "Xiao et al., Dynamical isometry and a mean field theory of CNNs, ICML 2018, Algorithm 2",
                "tensorflow": "tf.keras.initializers.ConvolutionDeltaOrthogonal(gain)",
                "pytorch": "none built in: initlab.torch must pass the conv weight's own shape (kernel_shaped)",
            },
        ),
        Entry(
            "identity",
            lambda spec, gain: Identity(gain, spec),
            "GAIN times the identity (rectangular: ones on the diagonal)",
            "W = GAIN * I",
            (Param("GAIN", _gain, 1.0),),
            {"pytorch": f"{_PT}.eye_ (times gain)", "keras": "Identity(gain)"},
        ),
        Entry(
            "sparse",
            lambda spec, sparsity, std: Sparse(sparsity, std, spec),
            "Martens 2010: N(0, STD^2) with a fraction SPARSITY of each column zero",
            "W = N(0, STD^2), ceil(SPARSITY * fan_out) zeros per column",
            (Param("SPARSITY", _number), Param("STD", _positive, 0.01)),
            {"pytorch": f"{_PT}.sparse_(w, sparsity, std)"},
        ),
        Entry(
            "lsuv",
            lambda spec, tol, max_iter: LSUV(1.0, spec, tol, int(max_iter)),
            "Mishkin & Matas 2016: orthonormal, then each layer rescaled on a batch until its "
            "output variance is 1 +- TOL (at most MAX_ITER rescalings per layer)",
            "W = Q, then W[l] /= sqrt(Var(Z[l])) until |Var(Z[l]) - 1| < TOL",
            (Param("TOL", _positive, 0.1), Param("MAX_ITER", _count, 10)),
            {"paper": "Mishkin & Matas, All you need is a good init, ICLR 2016"},
        ),
        Entry(
            "critical",
            _critical,
            "the edge of chaos for ACTIVATION: normal, variance sigma_w^2/fan_in with the sigma_w^2 at "
            "which chi_1 = 1 for bias variance SIGMA_B2 (mean-field theory); draw the biases with "
            "random:sqrt(SIGMA_B2). An error says why where there is none",
            "W = N(0, sigma_w^2 / fan_in), chi_1(sigma_w^2, SIGMA_B2) = 1",
            (Param("ACTIVATION", _hidden_activation), Param("SIGMA_B2", _non_negative, 0.0)),
            {
                "paper": "Poole et al. 2016; Schoenholz et al. 2017 (edge of chaos)",
                "pytorch": f"{_PT}.normal_(w, 0, sqrt(sigma_w2 / fan_in)); sigma_w2 from initlab theory --critical",
            },
        ),
        Entry(
            "variance_scaling",
            lambda spec, scale, mode, distribution: VarianceScaling(scale, mode, distribution, spec),
            "the core: variance SCALE/n with n the fan of MODE, drawn from DISTRIBUTION",
            "variance = SCALE / fan(MODE); normal | truncated_normal | uniform",
            (
                Param("SCALE", _positive, 1.0),
                Param("MODE", _choice(MODES), "fan_in", MODES),
                Param("DISTRIBUTION", _choice(DISTRIBUTIONS), "normal", DISTRIBUTIONS),
            ),
            {"keras": "VarianceScaling", "jax": "variance_scaling"},
        ),
        # ------------------------------------------------ recipes: each layer of a residual network by its role
        Entry(
            "fixup",
            lambda spec, base: Fixup(spec, base),
            "recipe (residual networks), Zhang et al. 2019: readout and each branch's last layer 0, the other "
            "branch layers BASE (he) times L^(-1/(2m-2)), L blocks of m layers; input projection BASE; gates 1",
            "W_last = 0, W_readout = 0, W_branch = BASE * L^(-1/(2m-2)), W_input = BASE",
            (Param("BASE", _base, "he"),),
            {
                "paper": "Zhang, Dauphin & Ma, Fixup initialization, ICLR 2019, Section 3",
                "pytorch": "by hand: zeros_ on each branch's last layer and the classifier; "
                "kaiming_normal_ * L**(-1/(2m-2)) on the other branch layers",
            },
        ),
        Entry(
            "rezero",
            lambda spec, base: ReZero(spec, base),
            "recipe (residual networks), Bachlechner et al. 2020: each block's gate starts at 0 (the network "
            "starts as input projection + readout); every weight BASE (he)",
            "gate[b] = 0, W = BASE",
            (Param("BASE", _base, "he"),),
            {
                "paper": "Bachlechner et al., ReZero is all you need, 2020",
                "pytorch": "alpha = nn.Parameter(torch.zeros(1)); x = x + alpha * branch(x)",
            },
        ),
        Entry(
            "skipinit",
            lambda spec, base: ReZero(spec, base),
            "recipe (residual networks), De & Smith 2020: a scalar at the end of each branch starting at 0 "
            "(here the gate, as rezero); every weight BASE (he)",
            "gate[b] = 0, W = BASE",
            (Param("BASE", _base, "he"),),
            {
                "paper": "De & Smith, Batch normalization biases residual blocks towards the identity, NeurIPS 2020",
                "same as": "rezero (the same block in a pre-activation residual MLP)",
            },
        ),
        Entry(
            "zero",
            lambda spec: ZerO(spec),
            "recipe, Zhao et al. 2022 (ZerO): deterministic; identity, partial identity, or a scaled Hadamard "
            "block where a layer widens; each branch's last layer 0. Plain networks: every layer so",
            "P<=Q: W = I*; P>Q: W = 2^(-(m-1)/2) H_m[:P, :Q], m = ceil(log2 P); W_last = 0",
            equivalents={
                "paper": "Zhao, Schaefer & Anandkumar, ZerO initialization, TMLR 2022, Algorithm 1",
                "code": "github.com/jiaweizzhao/ZerO-initialization (its notebook scales H by 2^(-m/2))",
            },
        ),
        Entry(
            "gpt2",
            lambda spec: GPT2(spec),
            "recipe, Radford et al. 2019 (GPT-2): every weight N(0, 0.02^2), each branch's last layer "
            "N(0, (0.02/sqrt(N))^2), N = blocks (residual adds); biases 0. Plain networks: N(0, 0.02^2)",
            "W = N(0, 0.02^2), W_last = N(0, 0.02^2 / blocks)",
            equivalents={
                "paper": "Radford et al., Language models are unsupervised multitask learners, 2019, Section 2.3",
                "huggingface": "GPT2PreTrainedModel._init_weights: c_proj std initializer_range / sqrt(2 * n_layer)",
            },
        ),
        Entry(
            "t_fixup",
            lambda spec: TFixup(spec),
            "recipe (residual networks, 2 layers per branch), Huang et al. 2020 (T-Fixup): Xavier-uniform, "
            "both branch layers times 0.67 N^(-1/4), N = blocks (an encoder's MLP blocks)",
            "W = glorot_uniform, W_branch *= 0.67 * blocks^(-1/4)",
            equivalents={
                "paper": "Huang et al., Improving Transformer optimization through better initialization, ICML 2020",
                "code": "github.com/layer6ai-labs/T-Fixup: linear1, linear2 *= 0.67 * en_layers ** (-1/4)",
            },
        ),
    ]
}

#: The registry's recipes: initializations that draw each layer of a residual network by its role.
RECIPES = ("fixup", "rezero", "skipinit", "zero", "gpt2", "t_fixup")


def names() -> list[str]:
    """Every registered initializer name, in registry order."""
    return list(REGISTRY)


def usage(name: str) -> str:
    """The spec's form: ``random[:SCALE]``, ``constant:C``."""
    entry = REGISTRY[name]
    out = name
    for i, p in enumerate(entry.params):
        sep = ":" if i == 0 else ","
        out += f"{sep}{p.name}" if p.default is None else f"[{sep}{p.name}]"
    return out


def entry_of(spec: str) -> Entry:
    """The registry row a spec names (``"random:10"`` -> the ``random`` row); unknown names
    suggest close ones."""
    name = spec.strip().partition(":")[0].strip().lower()
    if name not in REGISTRY:
        raise unknown("initializer", name, names())
    return REGISTRY[name]


@dataclass(frozen=True)
class ParsedSpec:
    """A spec read once by the registry: its row, every argument's value (defaults filled in)
    and the arguments as written (stripped; as many as were given)."""

    entry: Entry
    values: tuple
    written: tuple[str, ...]


def parse_spec(spec: str) -> ParsedSpec:
    """Read ``NAME`` or ``NAME:ARG[,ARG...]``: the one parser of spec strings, behind `get`,
    `canonical`, `scale_of`, `with_scale` and `split_specs`. Unknown names suggest close ones;
    bad arguments say what was expected."""
    entry, args = _split(spec)
    name = entry.name
    if "" in args:  # "random:" or "variance_scaling:2,,uniform": a value was meant, none given
        raise InitlabError(
            f"initializer {spec!r} has an empty argument: write {usage(name)}"
            + (
                f" (e.g. {name}:{entry.params[0].default:g})"
                if entry.params and isinstance(entry.params[0].default, float)
                else ""
            )
        )
    if len(args) > len(entry.params):
        raise InitlabError(f"initializer {spec!r} takes at most {len(entry.params)} argument(s): {usage(name)}")
    values = []
    for i, p in enumerate(entry.params):
        if i < len(args):
            try:
                values.append(p.parse(args[i]))
            except InitlabError as e:
                raise InitlabError(f"initializer {spec!r}: {p.name}: {e}") from None
        elif p.default is None:
            raise InitlabError(f"initializer {name!r} needs {p.name}: write {usage(name)}")
        else:
            values.append(p.default)
    return ParsedSpec(entry, tuple(values), tuple(args))


def _split(spec: str) -> tuple[Entry, list[str]]:
    """A spec's registry row and its arguments as written (stripped), none of them read yet."""
    if not isinstance(spec, str):
        raise InitlabError(f"an initializer spec must be a string such as 'he', got {spec!r}")
    entry = entry_of(spec)
    _, colon, rest = spec.strip().partition(":")
    return entry, [a.strip() for a in rest.split(",")] if colon else []


def scale_of(spec: str) -> float | None:
    """The SCALE a spec uses (``random:10`` -> 10.0, ``random`` -> its default 0.01), None for an
    initializer without one (``he``)."""
    p = parse_spec(spec)
    return float(p.values[0]) if p.entry.takes_scale else None


def with_scale(spec: str, scale: float) -> str:
    """The spec with its SCALE replaced and every other argument kept, in `canonical` form:
    ``with_scale("variance_scaling:2,fan_out", 0.5)`` -> ``"variance_scaling:0.5,fan_out"``,
    ``with_scale("random", 10)`` -> ``"random:10"``. A spec whose initializer takes no scale
    (``he``, ``orthogonal:relu``) is refused, naming those that take one. The old scale need
    not be valid (``random:-1`` -> ``random:10``: it is replaced); the new spec is checked whole."""
    entry, args = _split(spec)
    if not entry.takes_scale:
        takes = ", ".join(n for n, e in REGISTRY.items() if e.takes_scale)
        raise InitlabError(f"initializer {entry.name!r} takes no scale ({usage(entry.name)}); those that do: {takes}")
    try:
        value = float(scale)
    except (TypeError, ValueError):
        raise InitlabError(f"a scale must be a number, got {scale!r}") from None
    return canonical(entry.name + ":" + ",".join([_number_text(value), *args[1:]]))


def split_specs(text: str) -> list[str]:
    """Comma-separated specs -> a list: ``"zeros,variance_scaling:2,fan_out,he"`` ->
    ``["zeros", "variance_scaling:2,fan_out", "he"]``. A piece continues the spec before it when
    that spec has a colon and room for one more argument and the piece names no initializer;
    empty pieces are dropped. Nothing is validated here (`get` says what is wrong)."""
    out: list[str] = []
    for piece in (x.strip() for x in text.split(",")):
        if not piece:
            continue
        if out and ":" in out[-1] and piece.partition(":")[0].strip().lower() not in REGISTRY:
            name = out[-1].partition(":")[0].strip().lower()
            entry = REGISTRY.get(name)
            if entry is not None and out[-1].count(",") + 1 < len(entry.params):
                out[-1] += "," + piece
                continue
        out.append(piece)
    return out


def get(spec: str | Sampler) -> Sampler:
    """The sampler a spec names: ``get("he")((4, 2), rng)`` draws a ``(4, 2)`` weight.

    ``spec`` is ``NAME`` or ``NAME:ARG[,ARG...]`` (read by `parse_spec`); a sampler passes
    through unchanged. Unknown names suggest close ones; bad arguments say what was expected.
    """
    if not isinstance(spec, str) and callable(spec) and hasattr(spec, "theory"):
        return spec
    p = parse_spec(spec)
    return p.entry.build(spec.strip(), *p.values)


def bias_of(init: SpecLike) -> str:
    """The bias spec that goes with ``init`` where none is named: the init's own (a critical
    point ``critical:ACT,SIGMA_B2`` is a pair, ``random:sqrt(SIGMA_B2)`` biases with its
    weights), else ``zeros``."""
    return getattr(get(init), "bias", "zeros")


def canonical(spec: str) -> str:
    """A spec's one written form: the registry name, its first argument always (default filled
    in), later ones only where they differ from their defaults; numbers in their shortest exact
    form. ``HE`` and `` he`` -> ``he``; ``random``, ``random:0.01`` and ``random:1e-2`` ->
    ``random:0.01``; ``variance_scaling:2,fan_in`` -> ``variance_scaling:2``; a gain named by
    an activation keeps the name (``orthogonal:relu``). Specs with the same canonical form draw
    the same weights: a sweep identifies its runs by it."""
    p = parse_spec(spec)
    texts, keep = [], 1 if p.entry.params else 0  # how many arguments are written
    for i, (param, value) in enumerate(zip(p.entry.params, p.values, strict=True)):
        raw = p.written[i] if i < len(p.written) else None
        if isinstance(value, float) and raw is not None and not _is_number(raw):
            texts.append(raw)  # a gain given as an activation's name
        elif isinstance(value, float):
            texts.append(_number_text(value))
        else:
            texts.append(str(value))
        if value != param.default:
            keep = max(keep, i + 1)
    return p.entry.name + (":" + ",".join(texts[:keep]) if keep else "")


def _number_text(value: float) -> str:
    """The shortest text that reads back as ``value``: 1e-2 -> ``0.01``, 10.0 -> ``10``."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


#: `_number_text` under a public name (the store writes a gate's start with it): one function
number_text = _number_text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def catalog() -> list[dict]:
    """Every registry row as ``{"name", "usage", "help", "formula", "kind"}``, in registry order
    (``initlab init --list``); ``kind`` is ``"recipe"`` for the `RECIPES` (each layer of a residual
    network by its role), else ``"sampler"``."""
    return [
        {
            "name": n,
            "usage": usage(n),
            "help": e.help,
            "formula": e.formula,
            "kind": "recipe" if n in RECIPES else "sampler",
        }
        for n, e in REGISTRY.items()
    ]


def explain(spec: str) -> dict:
    """The row a spec names, with the frameworks' equivalents (``initlab init NAME --explain``):
    ``{"name", "usage", "help", "formula", "equivalents"}``. The spec is checked whole."""
    entry = parse_spec(spec).entry
    return {
        "name": entry.name,
        "usage": usage(entry.name),
        "help": entry.help,
        "formula": entry.formula,
        "equivalents": dict(entry.equivalents),
    }


def sample_summary(spec: str, shape: Sequence[int], *, seed: Seed = 0) -> dict:
    """Draw one weight of ``shape`` from ``spec`` and put its statistics beside the formula's
    (``initlab init``): ``{"init", "shape", "seed", "sample": {"mean", "std", "min", "max"},
    "formula": {"text", ...sampler.theory(shape)}}``. The sample's memory (the array and the
    sampler's temporary, 16 bytes a weight) is checked against `initlab.limits` first."""
    from initlab import limits

    sampler = get(spec)
    theory = sampler.theory(shape)  # checks the shape
    rng = resolve(seed)  # checks the seed
    dims = tuple(int(n) for n in shape)
    limits.check(limits.Estimate(f"a sample of shape {dims}", {"sample": 16.0 * float(np.prod(dims, dtype=float))}))
    W = sampler(dims, rng)
    return {
        "init": spec,
        "shape": list(dims),
        "seed": seed,
        "sample": {"mean": float(W.mean()), "std": float(W.std()), "min": float(W.min()), "max": float(W.max())},
        "formula": {"text": entry_of(spec).formula, **theory},
    }


# --------------------------------------------------------------------- the course's dicts
def initialize_parameters_deep(
    layer_dims: Sequence[int],
    *,
    init: str | Sampler = "he",
    bias: str | Sampler = "zeros",
    seed: Seed = None,
) -> dict[str, np.ndarray]:
    """``{"W1", "b1", ..., "WL", "bL"}`` for layers ``[n_x, n_1, ..., n_L]``.

    ``W[l]: (n[l], n[l-1])`` drawn by the initializer ``init``; ``b[l]: (n[l], 1)`` by ``bias``
    (zeros by default). Draws go W1, (b1), W2, (b2), ... from one generator. A recipe with no
    plain form (``fixup``, ``rezero``, ``skipinit``, ``t_fixup``) is refused with its reason; ``zero``
    and ``gpt2`` draw every layer as their papers draw a plain network. With no seed they
    come from NumPy's global generator, so ``np.random.seed(3)`` first gives the course's
    numbers; ``seed=`` (int or Generator) uses a ``numpy.random.Generator``.
    """
    dims = check_layer_dims(layer_dims)
    w_init, b_init = get(init), get(bias)
    refusal = getattr(w_init, "plain_refusal", None)
    if refusal:
        raise InitlabError(refusal)
    rng = resolve(seed)
    params: dict[str, np.ndarray] = {}
    for l in range(1, len(dims)):
        params[f"W{l}"] = w_init((dims[l], dims[l - 1]), rng)
        params[f"b{l}"] = b_init((dims[l], 1), rng)
    return params


def initialize_parameters(
    n_x: int, n_h: int, n_y: int, *, scale: float = 0.01, seed: Seed = None
) -> dict[str, np.ndarray]:
    """The course's one-hidden-layer parameters: ``W1 = randn(n_h, n_x) * scale``, ``b1 = 0``,
    ``W2 = randn(n_y, n_h) * scale``, ``b2 = 0``.

    Shapes ``W1: (n_h, n_x)``, ``b1: (n_h, 1)``, ``W2: (n_y, n_h)``, ``b2: (n_y, 1)``. With no seed,
    ``np.random.seed(2)`` first gives the course's published ``W1[0] = [-0.00416758, -0.00056267]``.
    """
    scale = check_positive("scale", scale)
    return initialize_parameters_deep([n_x, n_h, n_y], init=Normal(scale, f"random:{scale}"), seed=seed)


SpecLike = str | Sampler
