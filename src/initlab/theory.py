"""Mean-field signal propagation (Poole et al. 2016; Schoenholz et al. 2017) and its finite-width
correction (Hanin & Rolnick 2018), for any elementwise activation in the registry.

A deep network with weights ``W_ij ~ N(0, sigma_w2 / fan_in)`` and biases ``b_i ~ N(0, sigma_b2)``
has, in the infinite-width limit, pre-activations ``z ~ N(0, q_l)`` with the *variance map*

    q_{l+1} = sigma_w2 * E[phi(sqrt(q_l) z)^2] + sigma_b2,            z ~ N(0, 1)

Its stable fixed point is ``q*``. Two inputs' correlation ``c`` has the map
``c_{l+1} q* = sigma_w2 * E[phi(u1) phi(u2)] + sigma_b2`` with ``u1 = sqrt(q*) z1``,
``u2 = sqrt(q*) (c z1 + sqrt(1 - c^2) z2)``, fixed point ``c*``; its slope at ``c = 1`` is

    chi_1 = sigma_w2 * E[phi'(sqrt(q*) z)^2]

``chi_1 < 1``: ordered (inputs collapse together, gradients vanish); ``chi_1 > 1``: chaotic
(gradients explode); ``chi_1 = 1``: critical, the edge of chaos. Depth scales: ``q`` converges as
``exp(-l / xi_q)`` with ``1/xi_q = -log(dF/dq at q*)``, and correlations as ``exp(-l / xi_c)``
with ``1/xi_c = -log(sigma_w2 * E[phi'(u1) phi'(u2)])`` at ``c*``.

One-dimensional expectations are Gauss-Legendre on panels split at 0 and at the scale where the
activation's features sit (`_expect`); correlations are Gauss-Hermite in two dimensions. Every
function broadcasts over arrays of ``sigma_w2`` and ``sigma_b2``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from initlab.errors import InitlabError, unknown
from initlab.nn.activations import ACTIVATIONS, HIDDEN, Activation

NODES_1D = 200  # even: no node at z = 0
NODES_2D = 60


def _gauss_hermite(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights with ``E[f(z)] = sum(w * f(x))`` for ``z ~ N(0, 1)``."""
    x, w = np.polynomial.hermite_e.hermegauss(n)
    return x, w / np.sqrt(2 * np.pi)


_Z, _W = _gauss_hermite(NODES_1D)
_Z2, _W2 = _gauss_hermite(NODES_2D)


def _activation(activation: str | Activation) -> Activation:
    if isinstance(activation, Activation):
        return activation
    if activation not in HIDDEN:
        raise unknown("activation", activation, HIDDEN)
    return ACTIVATIONS[activation]


#: Gauss-Legendre nodes and weights on [0, 1], for the panels of `_expect`.
_GL_T, _GL_W = (lambda t, w: ((t + 1) / 2, w / 2))(*np.polynomial.legendre.leggauss(NODES_1D))
Z_MAX = 12.0  # beyond |z| = 12 the Gaussian weighs below 1e-31
FEATURE_U = 40.0  # the activations' features lie within |u| < 40 (tanh and sigmoid are flat beyond)


def _expect(f, q: np.ndarray) -> np.ndarray:
    """``E[f(sqrt(q) z)]`` for every entry of ``q``, ``z ~ N(0, 1)``.

    Gauss-Legendre on four panels in z, split at 0 (ReLU's kink falls on a panel edge) and at
    ``z0 = min(1, FEATURE_U / sqrt(q))``: for a large q the activation's features (tanh' is a
    peak of width about 1 in u = sqrt(q) z) sit in ``|z| < z0``, a sliver that Gauss-Hermite's
    fixed nodes step over (tanh at sigma_w^2 = 1000 gave chi_1 = 0.002 instead of 17, and the
    wrong phase). Checked against adaptive quadrature in tests/test_theory.py.
    """
    q = np.maximum(np.asarray(q, dtype=float), 0.0)
    s = np.sqrt(q)[..., None]
    z0 = np.minimum(1.0, FEATURE_U / np.maximum(s, 1e-300))
    inner, outer = z0 * _GL_T, z0 + (Z_MAX - z0) * _GL_T
    phi_in, phi_out = np.exp(-(inner**2) / 2), np.exp(-(outer**2) / 2)
    total = (
        (f(s * inner) + f(-s * inner)) * phi_in * _GL_W * z0
        + (f(s * outer) + f(-s * outer)) * phi_out * _GL_W * (Z_MAX - z0)
    ).sum(axis=-1)
    return total / np.sqrt(2 * np.pi)


def variance_map(activation: str, q, sigma_w2, sigma_b2) -> np.ndarray:
    """``F(q) = sigma_w2 * E[phi(sqrt(q) z)^2] + sigma_b2``."""
    phi = _activation(activation).fn
    return np.asarray(sigma_w2) * _expect(lambda u: phi(u) ** 2, np.asarray(q, dtype=float)) + sigma_b2


def _check(sigma_w2, sigma_b2) -> tuple[np.ndarray, np.ndarray]:
    sw, sb = np.broadcast_arrays(np.asarray(sigma_w2, dtype=float), np.asarray(sigma_b2, dtype=float))
    if np.any(sw <= 0) or np.any(sb < 0) or not (np.isfinite(sw).all() and np.isfinite(sb).all()):
        raise InitlabError(f"need sigma_w2 > 0 and sigma_b2 >= 0, got {sigma_w2} and {sigma_b2}")
    return sw, sb


def _check_sigma_b2(sigma_b2) -> np.ndarray:
    """sigma_b2 alone (the critical search picks sigma_w2 itself)."""
    sb = np.asarray(sigma_b2, dtype=float)
    if np.any(sb < 0) or not np.isfinite(sb).all():
        raise InitlabError(f"need a finite sigma_b2 >= 0, got {sigma_b2}")
    return sb


def fixed_point(activation: str, sigma_w2, sigma_b2, *, q0: float = 1.0, q_max: float = 1e8) -> np.ndarray:
    """The stable fixed point ``q*`` of the variance map (the largest root of ``F(q) = q``).

    ``0`` where the map shrinks every ``q > 0`` (e.g. ``sigma_b2 = 0`` in the ordered phase);
    ``inf`` where it grows without bound (ReLU with ``sigma_w2 > 2``); ``q0`` where every ``q`` is
    fixed (ReLU at ``sigma_w2 = 2``, ``sigma_b2 = 0``: the variance keeps its input's value).
    """
    sw, sb = _check(sigma_w2, sigma_b2)

    def G(q):
        return variance_map(activation, q, sw, sb) - q

    q0a = np.full(sw.shape, float(q0))
    # a line of fixed points (ReLU at sigma_w2 = 2, sigma_b2 = 0): every q keeps its value
    marginal = (np.abs(G(q0a)) <= 1e-12 * max(1.0, q0)) & (np.abs(G(2 * q0a)) <= 2e-12 * max(1.0, q0))
    hi = np.maximum(sw + sb, 1.0)
    for _ in range(80):  # grow the bracket until F(hi) < hi, or give up (no finite fixed point)
        grow = G(hi) > 0
        if not grow.any():
            break
        hi = np.where(grow, hi * 2, hi)
    diverges = G(hi) > 0
    lo = np.full(sw.shape, 1e-14)
    has_root = G(lo) > 0
    for _ in range(200):  # bisection on the sign change of G: G(lo) > 0 >= G(hi)
        mid = 0.5 * (lo + hi)
        pos = G(mid) > 0
        lo, hi = np.where(pos, mid, lo), np.where(pos, hi, mid)
    q = np.where(has_root, 0.5 * (lo + hi), 0.0)
    q = np.where(diverges | (q > q_max), np.inf, q)
    q = np.where(marginal, q0, q)
    return q if q.ndim else float(q)


#: Where ``q*`` is 0 or infinite (``sigma_b2 = 0``: the variance map shrinks or grows every
#: ``q``), ``chi_1`` and the depth scales are their limits as ``q -> 0+`` or ``q -> inf``, taken by
#: evaluating the integrands at these ``q`` (every quadrature node then sits on the same side of
#: the activation's kink or saturation as in the limit). Exactly 0 would be wrong for ReLU:
#: ``relu'(0) = 0``, but ``E[relu'(sqrt(q) z)^2] = 1/2`` for every ``q > 0``.
Q_TINY, Q_HUGE = 1e-24, 1e24


def _limit_q(q: np.ndarray) -> np.ndarray:
    """``q`` with 0 and inf replaced by the stand-ins of the limits ``q -> 0+``, ``q -> inf``."""
    q = np.asarray(q, dtype=float)
    return np.where(q <= 0, Q_TINY, np.where(np.isfinite(q), q, Q_HUGE))


def chi1(activation: str, sigma_w2, sigma_b2, *, q: np.ndarray | None = None, q0: float = 1.0) -> np.ndarray:
    """``chi_1 = sigma_w2 * E[phi'(sqrt(q*) z)^2]`` at the fixed point, or at ``q`` when given.

    Where ``q*`` is 0 or infinite this is the limit ``q -> q*`` (the factor by which the gradient's
    second moment changes per layer as the forward variance approaches ``q*``): ReLU at
    ``sigma_b2 = 0`` has ``chi_1 = sigma_w2 / 2`` for every ``sigma_w2``. A ``q`` given explicitly
    is used as it is (``q = 0`` is a network whose pre-activations are all exactly 0).
    """
    sw, sb = _check(sigma_w2, sigma_b2)
    dphi = _activation(activation).grad
    if q is None:
        q = _limit_q(fixed_point(activation, sw, sb, q0=q0))
        with np.errstate(over="ignore"):
            out = sw * _expect(lambda u: dphi(u) ** 2, q)
    else:
        q = np.asarray(q, dtype=float)
        out = sw * _expect(lambda u: dphi(u) ** 2, np.where(np.isfinite(q), q, 0.0))
        out = np.where(np.isfinite(q), out, np.inf)
    return out if out.ndim else float(out)


def critical_sigma_w2(activation: str, sigma_b2=0.0, *, lo: float = 1e-3, hi: float = 100.0) -> np.ndarray:
    """The ``sigma_w2`` with ``chi_1 = 1`` for this ``sigma_b2``: the edge of chaos.

    1 for tanh at ``sigma_b2 = 0``, 2 for ReLU (He's initialization).
    """
    sb = _check_sigma_b2(sigma_b2)
    a, b = np.full(sb.shape, lo), np.full(sb.shape, hi)
    if np.any(chi1(activation, a, sb) > 1) or np.any(chi1(activation, b, sb) < 1):
        raise InitlabError(f"no critical sigma_w2 in [{lo}, {hi}] for {activation} at sigma_b2={sigma_b2}")
    for _ in range(100):
        mid = 0.5 * (a + b)
        above = chi1(activation, mid, sb) > 1
        a, b = np.where(above, a, mid), np.where(above, mid, b)
    out = 0.5 * (a + b)
    return out if out.ndim else float(out)


def _corr_expect(f, q: float, c: np.ndarray) -> np.ndarray:
    """``E[f(u1, u2)]`` with ``u1 = sqrt(q) z1``, ``u2 = sqrt(q) (c z1 + sqrt(1 - c^2) z2)``."""
    z1, z2 = np.meshgrid(_Z2, _Z2, indexing="ij")
    w = np.outer(_W2, _W2)
    c = np.asarray(c, dtype=float)[..., None, None]
    s = np.sqrt(q)
    u1 = s * z1
    u2 = s * (c * z1 + np.sqrt(np.clip(1 - c * c, 0, None)) * z2)
    return (f(u1, u2) * w).sum(axis=(-2, -1))


@dataclass(frozen=True)
class MeanField:
    """Everything at one ``(sigma_w2, sigma_b2)``: ``q_star, chi1, c_star, xi_q, xi_c``."""

    activation: str
    sigma_w2: float
    sigma_b2: float
    q_star: float
    chi1: float
    c_star: float
    xi_q: float
    xi_c: float

    @property
    def phase(self) -> str:
        if abs(self.chi1 - 1) < 1e-6:
            return "critical"
        return "ordered" if self.chi1 < 1 else "chaotic"

    def to_dict(self) -> dict:
        return {
            "activation": self.activation,
            "sigma_w2": self.sigma_w2,
            "sigma_b2": self.sigma_b2,
            "q_star": self.q_star,
            "chi1": self.chi1,
            "c_star": self.c_star,
            "xi_q": self.xi_q,
            "xi_c": self.xi_c,
            "phase": self.phase,
        }


def depth_scales(activation: str, sigma_w2: float, sigma_b2: float, *, q0: float = 1.0) -> MeanField:
    """``q*``, ``chi_1``, ``c*`` and the depth scales ``xi_q``, ``xi_c`` at one point.

    ``xi_q = -1 / log(chi_q)`` with ``chi_q = F'(q*) = sigma_w2 E[phi(u) phi'(u) z] / sqrt(q*)``
    (``= chi_1 + sigma_w2 E[phi''(u) phi(u)]`` by Gaussian integration by parts; Schoenholz et al.
    2017, eq. 7): ``q_l - q*`` shrinks by ``e`` every ``xi_q`` layers. ``xi_c = -1 / log(chi_c)``
    with ``chi_c = sigma_w2 E[phi'(u1) phi'(u2)]`` at ``c*`` (``= chi_1`` when ``c* = 1``; eq. 9).
    Infinite at criticality.

    Where ``q*`` is 0 or infinite (``sigma_b2 = 0`` and ``phi(0) = 0``) the variance never becomes
    stationary, and both slopes are limits ``q -> q*``:

    - ``chi_q = lim F(q) / q``: ReLU's map is ``F(q) = (sigma_w2 / 2) q``, so ``chi_q = sigma_w2 / 2``
      and ``q_l = q_0 chi_q^l`` exactly. With ``chi_q > 1`` (``q* = inf``) ``xi_q`` is negative: the
      variance *grows* by ``e`` every ``|xi_q|`` layers.
    - the correlation map's slope at ``c = 1`` is ``sigma_w2 q E[phi'(u)^2] / F(q)`` (Price's theorem;
      at a finite fixed point ``F(q*) = q*`` and it is ``chi_1``). For a positively homogeneous
      ``phi`` (ReLU, leaky ReLU, identity) it is ``E[phi'^2] / E[phi^2] = 1`` for every ``q``: the
      correlation map does not depend on ``sigma_w2`` at all and ``1 - c_l`` falls as a power of
      ``l``, not exponentially, so ``xi_c = inf`` and ``c* = 1`` (for tanh with ``q* = 0`` the slope
      also tends to 1: the units become linear and correlations freeze).
    """
    act = _activation(activation)
    phi, dphi = act.fn, act.grad
    q = float(fixed_point(activation, sigma_w2, sigma_b2, q0=q0))
    x1 = float(chi1(activation, sigma_w2, sigma_b2, q0=q0))
    degenerate = q == 0.0 or not np.isfinite(q)
    qe = float(_limit_q(q))
    with np.errstate(over="ignore"):
        chi_q = float(sigma_w2 * _expect(lambda u: phi(u) * dphi(u) * u, np.array(qe)) / qe)

    def inv_log(x: float) -> float:
        """``-1 / log(x)``: 0 for ``x = 0``, infinite for ``x = 1``."""
        if x <= 0:
            return 0.0
        return np.inf if abs(np.log(x)) < 1e-9 else float(-1.0 / np.log(x))

    # a finite fixed point is stable (chi_q < 1); at 0 or inf the sign says shrink or grow
    xi_q = inv_log(chi_q) if (chi_q < 1 or degenerate) else np.inf
    c_star = 1.0
    if degenerate:
        with np.errstate(over="ignore"):
            F = float(variance_map(activation, qe, sigma_w2, sigma_b2))
            chi_c = float(sigma_w2 * qe * _expect(lambda u: dphi(u) ** 2, np.array(qe)) / F)
    else:
        if x1 > 1 + 1e-9:
            # chaotic: c = 1 is unstable; find the stable c* < 1 of the correlation map by bisection
            def Gc(c):
                return (sigma_w2 * _corr_expect(lambda a, b: phi(a) * phi(b), q, c) + sigma_b2) / q - c

            lo, hi = -1.0, 1.0 - 1e-9
            for _ in range(60):
                mid = 0.5 * (lo + hi)
                lo, hi = (mid, hi) if Gc(mid) > 0 else (lo, mid)
            c_star = 0.5 * (lo + hi)
        chi_c = x1 if c_star == 1.0 else float(sigma_w2 * _corr_expect(lambda a, b: dphi(a) * dphi(b), q, c_star))
    xi_c = inv_log(chi_c) if abs(chi_c - 1) > 1e-9 else np.inf
    return MeanField(act.name, float(sigma_w2), float(sigma_b2), q, x1, float(c_star), float(xi_q), float(xi_c))


#: The phase diagram's default window: sigma_w2 from 0.5 to 4 (tanh's edge at 1, ReLU's at 2,
#: both phases on either side) and sigma_b2 from 0 to 0.5, at steps of 0.05 and 0.0125.
PHASE_SIGMA_W2 = (0.5, 4.0, 71)
PHASE_SIGMA_B2 = (0.0, 0.5, 41)


@dataclass(frozen=True)
class PhaseGrid:
    """``chi_1`` over a ``(sigma_w2, sigma_b2)`` grid and the critical line on it.

    ``sigma_w2: (n_w,)``, ``sigma_b2: (n_b,)``, ``chi1: (n_b, n_w)`` (row ``i`` at
    ``sigma_b2[i]``), ``critical: (n_b,)`` the critical ``sigma_w2`` at each ``sigma_b2``.
    """

    activation: str
    sigma_w2: np.ndarray
    sigma_b2: np.ndarray
    chi1: np.ndarray
    critical: np.ndarray

    def to_dict(self) -> dict:
        return {
            "activation": self.activation,
            "sigma_w2": self.sigma_w2.tolist(),
            "sigma_b2": self.sigma_b2.tolist(),
            "chi1": self.chi1.tolist(),
            "critical": self.critical.tolist(),
        }


def phase_grid(
    activation: str, sigma_w2: Sequence[float] | None = None, sigma_b2: Sequence[float] | None = None
) -> PhaseGrid:
    """The phase diagram's data: `chi1` at every ``(sigma_w2, sigma_b2)`` of the grid (ordered
    where below 1, chaotic above) and `critical_sigma_w2` at every ``sigma_b2``. Without
    values, the window `PHASE_SIGMA_W2` x `PHASE_SIGMA_B2`."""
    act = _activation(activation)
    sw = np.asarray(np.linspace(*PHASE_SIGMA_W2) if sigma_w2 is None else sigma_w2, dtype=float).ravel()
    sb = np.asarray(np.linspace(*PHASE_SIGMA_B2) if sigma_b2 is None else sigma_b2, dtype=float).ravel()
    chi = np.asarray(chi1(act.name, sw[None, :], sb[:, None]), dtype=float)
    crit = np.atleast_1d(np.asarray(critical_sigma_w2(act.name, sb), dtype=float))
    return PhaseGrid(act.name, sw, sb, chi, crit)


def edge_of_chaos(activation: str, sigma_b2: float = 0.0) -> MeanField:
    """The mean field at the critical ``sigma_w2`` for this ``sigma_b2`` (``chi_1 = 1``): its
    ``sigma_w2`` is `critical_sigma_w2`, with ``q*``, ``c*`` and the depth scales there."""
    return depth_scales(activation, float(critical_sigma_w2(activation, sigma_b2)), sigma_b2)


def variance_by_layer(activation: str, sigma_w2, sigma_b2, q1: float, depth: int) -> np.ndarray:
    """Predicted pre-activation variance ``q_1 .. q_depth``: ``q_{l+1} = F(q_l)`` from ``q1``.

    For an input ``x`` of ``n_0`` features, ``q1 = sigma_w2 * mean(x^2) + sigma_b2``.
    """
    if depth < 1:
        raise InitlabError(f"depth must be at least 1, got {depth}")
    q = [float(q1)]
    for _ in range(depth - 1):
        q.append(float(variance_map(activation, q[-1], sigma_w2, sigma_b2)))
    return np.array(q)


def network_variances(
    activation: str, init: str, layer_dims: Sequence[int], X: np.ndarray, sigma_b2: float = 0.0
) -> np.ndarray:
    """Predicted ``q_l`` (mean of ``z^2``) at every hidden layer of a network just initialized
    with ``init``, widths allowed to differ: ``sigma_w2_l = Var(W_l) * fan_in_l`` from the
    initializer's theory, ``q_1 = sigma_w2_1 * mean(x^2) + sigma_b2`` on the inputs ``X: (n_x, m)``,
    ``q_{l+1} = sigma_w2_{l+1} * E[phi(sqrt(q_l) z)^2] + sigma_b2``. Shape ``(L-1,)``."""
    from initlab import initializers

    dims = list(layer_dims)
    sampler = initializers.get(init)
    sw2 = []
    for l in range(1, len(dims) - 1):
        t = sampler.theory((dims[l], dims[l - 1]))
        sw2.append(float(t["std"]) ** 2 * t["fan_in"])
    q = [sw2[0] * float(np.mean(np.asarray(X, dtype=float) ** 2)) + sigma_b2]
    for w2 in sw2[1:]:
        q.append(float(variance_map(activation, q[-1], w2, sigma_b2)))
    return np.array(q)


def finite_width_spread(widths: Sequence[int]) -> float:
    """Predicted variance, across ReLU networks with He-scaled Gaussian weights, of
    ``log ||z_L(x)||^2`` for one input (Hanin & Rolnick 2018).

    ``widths`` are ``n_1 .. n_L`` (the widths of the layers after the input). Each ReLU layer of
    width ``n_l`` feeding the next multiplies the squared length by an independent factor whose
    log has variance ``5 / n_l`` (``4/n_l`` from the chi-square of the ``~n_l/2`` active units,
    ``1/n_l`` from how many are active); the last layer's own Gaussian draw adds ``2 / n_L``::

        Var[log ||z_L||^2] ~ 5 * sum_{l < L} 1/n_l + 2/n_L

    About 0.96 for 50 layers of width 256; four times that at width 64.
    """
    widths = [int(n) for n in widths]
    if not widths or min(widths) < 1:
        raise InitlabError(f"widths must be positive integers, got {widths}")
    return float(5.0 * sum(1.0 / n for n in widths[:-1]) + 2.0 / widths[-1])


def reliability(spread: float) -> str:
    """A sentence on what a predicted spread of ``log ||z_L||^2`` means for one network."""
    factor = float(np.exp(np.sqrt(spread)))
    if spread < 0.1:
        return (
            f"one network stays close to the mean-field prediction (a typical network's squared "
            f"output length is within a factor {factor:.2f} of it)"
        )
    return (
        f"single networks are unreliable at this depth and width even at the critical init: "
        f"a typical network's squared output length is off from the prediction by a factor "
        f"{factor:.1f} (one standard deviation of its log); use wider layers or fewer of them"
    )
