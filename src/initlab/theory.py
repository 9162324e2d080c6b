"""Mean-field signal propagation (Poole et al. 2016; Schoenholz et al. 2017) and its finite-width
correction (Hanin & Rolnick 2018), for any elementwise activation in the registry.

A deep network with weights ``W_ij ~ N(0, sigma_w2 / fan_in)`` and biases ``b_i ~ N(0, sigma_b2)``
has, in the infinite-width limit, pre-activations ``z ~ N(0, q_l)`` with the *variance map*

    q_{l+1} = sigma_w2 * E[phi(sqrt(q_l) z)^2] + sigma_b2,            z ~ N(0, 1)

Its fixed point ``q*`` is the one the map reaches from the input's ``q_0`` (`fixed_point`). Two
inputs' correlation ``c`` has the map
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

from initlab.errors import InitlabError
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
    return ACTIVATIONS[HIDDEN.canonical(activation, "activation")]


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
    """The fixed point ``q*`` the variance map reaches from ``q0`` (inputs of second moment ``q0``).

    The map is increasing in ``q`` (``E[phi(sqrt(q) z)^2]`` grows with ``q`` for every activation
    of the table: checked in tests/test_activations.py), so the orbit ``q0, F(q0), F(F(q0)), ...`` is
    monotone: it rises to the first root of ``F(q) = q`` above ``q0`` when ``F(q0) > q0``, and falls
    to the last root below ``q0`` otherwise. For tanh, sigmoid and ReLU there is one attracting
    root and ``q0`` does not matter. GELU and SiLU have two fixed points at ``sigma_b2 = 0`` for
    ``2 < sigma_w2 < 4`` (0, stable, and an unstable one between): the network's variance dies or
    grows without bound depending on which side ``q0`` starts (Hayou, Doucet & Rousseau 2019).

    ``0`` where the orbit falls to 0 (e.g. ``sigma_b2 = 0`` in the ordered phase); ``inf`` where it
    grows without bound (ReLU with ``sigma_w2 > 2``; beyond ``q_max``); ``q0`` where every ``q``
    is fixed (ReLU at ``sigma_w2 = 2``, ``sigma_b2 = 0``: the variance keeps its input's value).
    """
    sw, sb = _check(sigma_w2, sigma_b2)
    shape, sw, sb = sw.shape, sw.ravel(), sb.ravel()

    def G(q, at=slice(None)):
        """``F(q) - q`` at the entries ``at`` (each step evaluates only the entries still moving)."""
        with np.errstate(over="ignore"):  # F(q) = inf (sigma_w2 = 1e300): growing, as it says
            return variance_map(activation, q, sw[at], sb[at]) - q

    q0a = np.full(sw.shape, float(q0))
    g0 = G(q0a)
    # a line of fixed points (ReLU at sigma_w2 = 2, sigma_b2 = 0): every q keeps its value
    marginal = (np.abs(g0) <= 1e-12 * max(1.0, q0)) & (np.abs(G(2 * q0a)) <= 2e-12 * max(1.0, q0))
    up = g0 > 0
    lo, hi = q0a.copy(), q0a.copy()
    moving = up.copy()  # rising: double hi until F(hi) <= hi, or give up (no finite fixed point)
    for _ in range(80):
        at = np.flatnonzero(moving)
        grow = G(hi[at], at) > 0
        moving[at[~grow]] = False
        if not grow.any():
            break
        lo[at[grow]], hi[at[grow]] = hi[at[grow]], hi[at[grow]] * 2
    diverges = moving
    moving = ~up  # falling: halve lo until F(lo) >= lo, or give up (the orbit falls to 0)
    for _ in range(80):
        at = np.flatnonzero(moving)
        shrink = G(lo[at], at) < 0
        moving[at[~shrink]] = False
        if not shrink.any():
            break
        hi[at[shrink]], lo[at[shrink]] = lo[at[shrink]], lo[at[shrink]] / 2
    vanishes = moving
    moving = ~(diverges | vanishes)
    for _ in range(200):  # bisection on the sign change of G: G(lo) >= 0 >= G(hi)
        moving &= hi - lo > 2 * np.spacing(hi)  # until the bracket is down to a few ulps
        at = np.flatnonzero(moving)
        if not at.size:
            break
        mid = 0.5 * (lo[at] + hi[at])
        pos = G(mid, at) > 0
        lo[at[pos]], hi[at[~pos]] = mid[pos], mid[~pos]
    q = np.where(vanishes, 0.0, 0.5 * (lo + hi))
    q = np.where(diverges | (q > q_max), np.inf, q)
    q = np.where(marginal, q0, q).reshape(shape)
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


def _critical(activation: str, sb: np.ndarray, lo: float, hi: float) -> tuple[np.ndarray, list[str | None]]:
    """`critical_sigma_w2` at every ``sigma_b2`` of ``sb``: the values (nan where none) and,
    for each, None or the sentence saying why there is none."""
    name = _activation(activation).name
    a, b = np.full(sb.shape, lo), np.full(sb.shape, hi)
    ca, cb = np.asarray(chi1(name, a, sb), dtype=float), np.asarray(chi1(name, b, sb), dtype=float)
    below, above = ca > 1, cb < 1  # chaotic already at lo; ordered still at hi
    for _ in range(60):  # (hi - lo) / 2^60: below float64's resolution of sigma_w2
        mid = 0.5 * (a + b)
        chaotic = chi1(name, mid, sb) > 1
        a, b = np.where(chaotic, a, mid), np.where(chaotic, mid, b)
    # chi_1 must pass through 1, not jump over it: at a jump the fixed point itself jumps (GELU,
    # SiLU at small sigma_b2: the variance falls to a small q* on one side, grows without bound
    # on the other), and chi_1 = 1 holds nowhere
    ja, jb = np.asarray(chi1(name, a, sb), dtype=float), np.asarray(chi1(name, b, sb), dtype=float)
    jump = np.abs(jb - ja) > 1e-6
    reasons: list[str | None] = []
    for i in np.ndindex(sb.shape):
        where = f"no critical sigma_w2 for {name} at sigma_b2 = {float(sb[i]):g}"
        if above[i]:
            reasons.append(
                f"{where}: chi_1 < 1 for every sigma_w2 up to {hi:g} (chi_1 = {float(cb[i]):.3g} there): "
                "always ordered, gradients vanish with depth at any weight scale"
            )
        elif below[i]:
            reasons.append(f"{where}: chi_1 > 1 already at sigma_w2 = {lo:g} (chi_1 = {float(ca[i]):.3g})")
        elif jump[i]:
            # just either side of the jump (at its edge F(1) = 1 exactly: q0 is fixed there)
            qa = float(fixed_point(name, a[i] * (1 - 1e-6), sb[i]))
            qb = float(fixed_point(name, b[i] * (1 + 1e-6), sb[i]))
            reasons.append(
                f"{where}: chi_1 jumps over 1 (from {float(ja[i]):.3g} to {float(jb[i]):.3g}) at "
                f"sigma_w2 = {float(a[i]):.4g}, where the fixed point the variance reaches from q = 1 "
                f"jumps from {qa:.3g} to {qb:.3g}: below, the network is ordered (gradients vanish by "
                f"chi_1 per layer), above, the variance grows without bound; an edge of chaos "
                f"needs a larger sigma_b2 (the phase diagram, initlab theory --activation {name} "
                f"--phase-diagram FILE, draws the critical line where it exists)"
            )
        else:
            reasons.append(None)
    out = np.where(np.array([r is None for r in reasons]).reshape(sb.shape), 0.5 * (a + b), np.nan)
    return out, reasons


def critical_sigma_w2(activation: str, sigma_b2=0.0, *, lo: float = 1e-3, hi: float = 100.0) -> np.ndarray:
    """The ``sigma_w2`` with ``chi_1 = 1`` for this ``sigma_b2``: the edge of chaos.

    1 for tanh at ``sigma_b2 = 0``, 2 for ReLU (He's initialization). ``chi_1`` is taken at the
    fixed point reached from ``q = 1`` (`chi1`); it must pass through 1 continuously. Where it
    does not, an `InitlabError` says why: sigmoid's ``chi_1`` stays below 1 (always ordered);
    GELU's and SiLU's jump over 1 at small ``sigma_b2``, where the fixed point jumps from a small
    ``q*`` (ordered) to none (the variance grows without bound): their edge of chaos needs
    ``sigma_b2`` of at least 0.18 (GELU) or 0.56 (SiLU) (Hayou, Doucet & Rousseau 2019 show the
    curve exists for ``sigma_b > 0``; docs/activations.md has the numbers).
    """
    sb = _check_sigma_b2(sigma_b2)
    out, reasons = _critical(activation, sb, lo, hi)
    for r in reasons:
        if r is not None:
            raise InitlabError(r)
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
    with np.errstate(over="ignore"):  # divided by q first: sigma_w2 = 1e300 is a finite slope
        chi_q = float(sigma_w2 * (_expect(lambda u: phi(u) * dphi(u) * u, np.array(qe)) / qe))

    def inv_log(x: float) -> float:
        """``-1 / log(x)``: 0 for ``x = 0``, infinite for ``x = 1``."""
        if x <= 0:
            return 0.0
        return np.inf if abs(np.log(x)) < 1e-9 else float(-1.0 / np.log(x))

    # a finite fixed point is stable (chi_q < 1); at 0 or inf the sign says shrink or grow
    xi_q = inv_log(chi_q) if (chi_q < 1 or degenerate) else np.inf
    c_star = 1.0
    if degenerate:
        # sigma_w2 q E[phi'^2] / F(q) with sigma_w2 divided out: no overflow (and no inf / inf)
        # where sigma_w2 E[phi^2] at the huge stand-in q overflows (sigma_w2 = 1e300)
        with np.errstate(over="ignore"):
            m2 = float(_expect(lambda u: phi(u) ** 2, np.array(qe)))
            chi_c = float(qe * _expect(lambda u: dphi(u) ** 2, np.array(qe)) / (m2 + sigma_b2 / sigma_w2))
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
    ``sigma_b2[i]``), ``critical: (n_b,)`` the critical ``sigma_w2`` at each ``sigma_b2`` (nan
    where there is none).
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
    values, the window `PHASE_SIGMA_W2` x `PHASE_SIGMA_B2`. ``critical`` is nan at the
    ``sigma_b2`` where there is none (`critical_sigma_w2` says why)."""
    act = _activation(activation)
    sw = np.asarray(np.linspace(*PHASE_SIGMA_W2) if sigma_w2 is None else sigma_w2, dtype=float).ravel()
    sb = np.asarray(np.linspace(*PHASE_SIGMA_B2) if sigma_b2 is None else sigma_b2, dtype=float).ravel()
    chi = np.asarray(chi1(act.name, sw[None, :], sb[:, None]), dtype=float)
    crit = np.atleast_1d(_critical(act.name, _check_sigma_b2(sb), 1e-3, 100.0)[0])
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
        with np.errstate(over="ignore"):  # random:1e200: sigma_w^2 = inf, said as such
            sw2.append(float(np.float64(t["std"]) ** 2 * t["fan_in"]))
    q = [sw2[0] * float(np.mean(np.asarray(X, dtype=float) ** 2)) + sigma_b2]
    for w2 in sw2[1:]:
        q.append(float(variance_map(activation, q[-1], w2, sigma_b2)))
    return np.array(q)


@dataclass(frozen=True)
class JacobianMoments:
    """The predicted spectrum of ``J J^T`` (`initlab.diagnose.jacobian`) for one input: per layer
    ``q`` (the pre-activation variance), ``mu1 = E[g'(h)^2]``, ``mu2 = E[g'(h)^4]`` with
    ``h ~ N(0, q)``; ``mean`` the mean eigenvalue ``prod_l sigma_w2 mu1_l``; ``normalized_variance``
    the variance of the eigenvalues divided by their mean squared."""

    weights: str
    q: np.ndarray
    mu1: np.ndarray
    mu2: np.ndarray
    mean: float
    normalized_variance: float

    def to_dict(self) -> dict:
        return {
            "weights": self.weights,
            "q": self.q.tolist(),
            "mu1": self.mu1.tolist(),
            "mu2": self.mu2.tolist(),
            "mean": self.mean,
            "normalized_variance": self.normalized_variance,
        }


def jacobian_moments(
    activation: str, sigma_w2: float, sigma_b2: float, depth: int, *, q1: float | None = None, weights: str = "gaussian"
) -> JacobianMoments:
    """The first two moments of the spectrum of ``J J^T``, ``J = D[L] W[L] ... D[1] W[1]`` over
    ``depth`` square layers (Pennington, Schoenholz & Ganguli 2017), from free probability.

    Each factor ``W W^T`` and ``D^2`` is asymptotically free of the others, so the S-transforms
    multiply; for a factor with mean 1 the S-transform is ``1 - v z + O(z^2)``, ``v`` its variance,
    so the *variances of the mean-normalized factors add*::

        mean(lambda)               = prod_l sigma_w2 * mu1_l
        Var(lambda) / mean^2       = sum_l [ mu2_l / mu1_l^2 - 1 + v_W ]

    ``v_W = 1`` for Gaussian weights (Marchenko-Pastur at ratio 1) and ``0`` for orthogonal ones
    (``W W^T = sigma_w2 I``). ``mu_k = E[g'(h)^(2k)]``, ``h ~ N(0, q_l)``, ``q_1 = q1`` (default the
    fixed point ``q*``, the paper's setting), ``q_{l+1} = F(q_l)``. So the variance grows linearly
    with depth: ``L`` for a linear Gaussian network, ``0`` for a linear orthogonal one (exact
    isometry), ``L`` for orthogonal ReLU (``mu2 / mu1^2 = 2``: ReLU cannot reach isometry) and
    ``2 L`` for Gaussian ReLU; orthogonal tanh with ``q* -> 0`` has ``mu2 / mu1^2 -> 1``.
    """
    if weights not in ("gaussian", "orthogonal"):
        raise InitlabError(f"weights must be 'gaussian' or 'orthogonal', got {weights!r}")
    if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or depth < 1:
        raise InitlabError(f"depth must be a positive integer, got {depth!r}")
    sw, sb = _check(sigma_w2, sigma_b2)
    g = _activation(activation)
    if q1 is None:
        q1 = float(fixed_point(activation, sw, sb))
    q = variance_by_layer(activation, float(sw), float(sb), q1, int(depth))
    mu1 = np.array([float(_expect(lambda u: g.grad(u) ** 2, qi)) for qi in q])
    mu2 = np.array([float(_expect(lambda u: g.grad(u) ** 4, qi)) for qi in q])
    v_w = 1.0 if weights == "gaussian" else 0.0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        mean = float(np.prod(float(sw) * mu1))
        variance = float(np.sum(mu2 / mu1**2 - 1.0 + v_w))
    return JacobianMoments(weights, q, mu1, mu2, mean, variance)


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


# ------------------------------------------------------------------------ residual networks
#: Examples whose stream variance is followed one by one, at most: more are pooled into this many
#: groups of neighbouring input second moments (`residual_variances`).
STREAM_GROUPS = 32


def _per_layer(value, L: int, name: str) -> np.ndarray:
    """A number or ``L`` numbers (layers 1..L) as an array of ``L``."""
    v = np.asarray(value, dtype=float)
    if v.ndim == 0:
        v = np.full(L, float(v))
    if v.shape != (L,):
        raise InitlabError(f"{name} takes one number or one per weight layer ({L}), got {v.size}")
    if np.any(v < 0) or not np.isfinite(v).all():
        raise InitlabError(f"{name} must be finite and non-negative, got {value}")
    return v


def residual_variances(
    activation: str,
    layer_dims: Sequence[int],
    X: np.ndarray,
    *,
    residual: int,
    sigma_w2,
    sigma_b2=0.0,
    gate=None,
    norm: str | None = None,
    gain: float = 1.0,
) -> np.ndarray:
    """Predicted second moment of a residual network's stream, ``q_S[b] = mean(S[b]^2)`` over
    units and examples, for ``b = 0..B``, at initialization (infinite width). Shape ``(B+1,)``.

    The network is `initlab.nn.residual`'s: ``S[0] = W[1] X + b[1]`` and pre-activation blocks
    ``S[b] = S[b-1] + gate[b] * Z_m`` whose branch of ``m = residual`` layers reads ``g(N(S[b-1]))``.
    With ``W[l]_ij ~ (0, sigma_w2[l] / fan_in)`` and ``b[l]_i ~ (0, sigma_b2[l])`` (a number, or
    one per layer 1..L), the mean-field argument of the plain network (`variance_map` ``F_l``)
    gives, per example::

        q_S[0] = sigma_w2[1] * mean_i(x_i^2) + sigma_b2[1]
        q_in   = q_S[b-1]                           (no norm)
               = gain^2 * q_S[b-1] / (q_S[b-1] + eps)  (layernorm: the read has unit variance per unit)
        q_Z    = F_{l+m-1}( ... F_{l+1}(F_l(q_in)))   the branch: the plain network's map, m times
        q_S[b] = q_S[b-1] + gate[b]^2 * q_Z         the branch's last weights are independent of
                                                     the stream and centred: no cross term

    and the prediction is the mean over examples. ReLU with He weights (``F(q) = q``) and no gate
    doubles ``q_S`` every block, ``(1 + g^2)`` with a gate ``g``; a zero last layer (Fixup, ZerO)
    or a zero gate (ReZero) keeps ``q_S[0]``. With a layernorm every branch adds the same
    ``q_Z = F^m(gain^2)``: ``q_S`` grows linearly in ``b``, not geometrically.

    ``X: (n_x, m)``: examples whose ``q_S[0]`` differ follow their own maps (they matter for a
    saturating activation); beyond `STREAM_GROUPS` examples, neighbouring ``q_S[0]`` are pooled
    into that many groups at their mean (exact for ReLU, whose map is linear). ``gate``: None
    (no gates: 1), a number, or one per block. ``gain``: the layernorm's gain (1 at init).
    """
    from initlab.nn.residual import NORM_EPS, Layout

    layout = Layout.build(layer_dims, residual, gate is not None, norm)
    L, B, m = layout.L, layout.blocks, layout.m
    sw = _per_layer(sigma_w2, L, "sigma_w2")
    sb = _per_layer(sigma_b2, L, "sigma_b2")
    g = np.ones(B) if gate is None else np.asarray(gate, dtype=float)
    if g.ndim == 0:
        g = np.full(B, float(g))
    if g.shape != (B,) or not np.isfinite(g).all():
        raise InitlabError(f"gate takes one finite number or one per block ({B}), got {gate}")
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[0] != layout.dims[0]:
        raise InitlabError(f"X must be (n_x, m) = ({layout.dims[0]}, m), got shape {X.shape}")
    q0 = np.sort(sw[0] * np.mean(X**2, axis=0) + sb[0])
    parts = np.array_split(q0, min(STREAM_GROUPS, q0.size))  # neighbours pooled: (groups,)
    q = np.array([p.mean() for p in parts])
    weight = np.array([p.size for p in parts]) / q0.size
    out = [float(weight @ q)]
    with np.errstate(over="ignore", invalid="ignore"):
        for b in range(1, B + 1):
            qz = gain**2 * q / (q + NORM_EPS) if norm else q
            for l in range(2 + (b - 1) * m, 2 + b * m):  # the branch's layers, 1-based
                qz = variance_map(activation, qz, sw[l - 1], sb[l - 1])
            q = q + g[b - 1] ** 2 * qz
            out.append(float(weight @ q))
    return np.array(out)


def layer_scales(init: str, layout, *, gate=None, draws: int = 8, seed: int = 0) -> dict:
    """What `residual_variances` needs of an init on a residual ``layout``: ``sigma_w2`` and
    ``sigma_b2`` per weight layer (``fan_in * Var(W[l])`` and ``E[b[l]^2]``) and the ``gate``
    per block (None without gates).

    A sampler draws every layer alike: its own theory (``std``) at each layer's shape. A recipe
    draws by role (`initlab.initializers.Recipe.weight`), and each layer's scale is found exactly
    where the recipe's draw is: all zeros (0: Fixup's and ZerO's last layers); the base sampler's
    draw from the same generator times a constant ``c`` (``c^2`` times the base's theory: Fixup's
    ``L^(-1/(2m-2))``, GPT-2's ``1/sqrt(N)``); or the same matrix from any generator (deterministic,
    ZerO: its own ``mean(W^2) * fan_in``). Otherwise it is read off ``draws`` draws (within about
    ``sqrt(2 / (draws * fan_in * fan_out))``). Biases come from the init's bias spec
    (`initlab.initializers.bias_of`). ``gate``: as `initlab.nn.network.Network`'s (True or None:
    the init's own start, a number: that).
    """
    from initlab import initializers

    sampler = initializers.get(init)
    L, B = layout.L, layout.blocks
    value = None if gate is None or isinstance(gate, bool) else float(gate)
    recipe = getattr(sampler, "residual", None) is not None
    if recipe:
        sampler.check(layout)
    sw, sb = np.empty(L), np.empty(L)
    bias = initializers.get(initializers.bias_of(init))
    for role in layout.roles():
        l = role.layer
        shape = (layout.dims[l], layout.dims[l - 1])
        tb = bias.theory((layout.dims[l], 1))
        sb[l - 1] = float(tb["std"]) ** 2 + float(tb.get("value", 0.0)) ** 2
        sw[l - 1] = _recipe_scale(sampler, role, layout, shape, draws, seed) if recipe else _theory_sw2(sampler, shape)
    gates = None
    if layout.gate:
        start = float(getattr(sampler, "gate_start", 1.0)) if recipe else 1.0
        gates = np.full(B, start if value is None else value)
    return {"sigma_w2": sw, "sigma_b2": sb, "gate": gates}


def _theory_sw2(sampler, shape: tuple[int, int]) -> float:
    t = sampler.theory(shape)
    with np.errstate(over="ignore"):
        return float(np.float64(t["std"]) ** 2 * t["fan_in"])


def _recipe_scale(recipe, role, layout, shape: tuple[int, int], draws: int, seed: int) -> float:
    """``fan_in * Var(W)`` of a recipe's layer (`layer_scales` says how)."""
    W = recipe.weight(role, layout, np.random.default_rng([seed, role.layer]))
    if not W.any():
        return 0.0
    base = recipe.sampler
    if base is not recipe:  # a recipe's own base would recurse (ZerO's is itself)
        Wb = base(shape, np.random.default_rng([seed, role.layer]))
        nz = Wb != 0
        if nz.any() and np.array_equal(W == 0, ~nz):
            c = W[nz] / Wb[nz]
            if np.allclose(c, c[0], rtol=1e-12, atol=0):
                return float(c[0]) ** 2 * _theory_sw2(base, shape)
    again = recipe.weight(role, layout, np.random.default_rng([seed, role.layer, 1]))
    if np.array_equal(W, again):  # deterministic
        return float(np.mean(W * W) * shape[1])
    Ws = [W] + [recipe.weight(role, layout, np.random.default_rng([seed, role.layer, k])) for k in range(1, draws)]
    return float(np.mean([np.mean(w * w) for w in Ws]) * shape[1])


def residual_network_variances(
    activation: str,
    init: str,
    layer_dims: Sequence[int],
    X: np.ndarray,
    *,
    residual: int,
    gate=None,
    norm: str | None = None,
) -> np.ndarray:
    """`residual_variances` of the network ``Network(layer_dims, init=init, residual=residual,
    gate=gate, norm=norm)`` just drawn: each layer's scale as the init draws it (`layer_scales`),
    gates as it sets them. Shape ``(B+1,)``: ``q_S[0]`` (the input projection) then block 1..B."""
    from initlab.nn.residual import Layout

    layout = Layout.of_init(layer_dims, residual, gate, norm, [init])  # gate=0.0 is a gate (ReZero)
    s = layer_scales(init, layout, gate=gate)
    return residual_variances(
        activation,
        layer_dims,
        X,
        residual=residual,
        sigma_w2=s["sigma_w2"],
        sigma_b2=s["sigma_b2"],
        gate=s["gate"],
        norm=norm,
    )


def stream_second_moments(network, X: np.ndarray) -> np.ndarray:
    """Measured ``mean(S[b]^2)`` over units and examples for ``b = 0..B`` of a residual
    `initlab.nn.network.Network` on ``X``: ``(B+1,)``, or ``(E, B+1)`` for an ensemble."""
    if getattr(network, "layout", None) is None:
        raise InitlabError("the stream's second moment needs a residual network (Network(..., residual=m))")
    with np.errstate(over="ignore", invalid="ignore"):
        _, cache = network.forward(X)
        return np.stack([(S * S).mean(axis=(-2, -1)) for S in cache.streams], axis=-1)


@dataclass(frozen=True)
class StreamMeasurement:
    """A residual ensemble's stream at initialization beside `residual_variances`: ``measured``
    ``(E, B+1)`` (each network's ``mean(S[b]^2)``, block 0 the input projection) and
    ``predicted`` ``(B+1,)``."""

    activation: str
    init: str
    width: int
    residual: int
    gate: object
    norm: str | None
    measured: np.ndarray
    predicted: np.ndarray

    @property
    def mean(self) -> np.ndarray:
        return self.measured.mean(axis=0)

    @property
    def sem(self) -> np.ndarray:
        """The standard error of ``mean``: the networks' standard deviation over ``sqrt(E)``."""
        return self.measured.std(axis=0, ddof=1) / np.sqrt(self.measured.shape[0])

    def table(self) -> list[dict]:
        return [
            {"block": b, "predicted_q": float(p), "mean_q": float(mu), "sem_q": float(se)}
            for b, (p, mu, se) in enumerate(zip(self.predicted, self.mean, self.sem, strict=True))
        ]

    def to_dict(self) -> dict:
        return {
            "activation": self.activation,
            "init": self.init,
            "width": self.width,
            "residual": self.residual,
            "gate": self.gate,
            "norm": self.norm,
            "networks": int(self.measured.shape[0]),
            "blocks": self.table(),
        }


def measure_stream(
    *,
    blocks: int,
    width: int,
    residual: int = 1,
    activation: str = "relu",
    init: str = "he",
    gate=None,
    norm: str | None = None,
    networks: int = 64,
    batch: int = 8,
    n_in: int | None = None,
    seed: int = 0,
) -> StreamMeasurement:
    """``networks`` residual MLPs (one ensemble, member k from stream k of ``seed``) of ``blocks``
    blocks of ``residual`` layers at ``width``, on ``batch`` Gaussian inputs of ``n_in`` features
    (default ``width``): the stream's second moment per block, measured beside predicted
    (`residual_network_variances`). Trains nothing."""
    from initlab.nn.network import Network

    if networks < 2:
        raise InitlabError(f"an ensemble needs at least 2 networks, got {networks}")
    n_in = n_in or width
    X = np.random.default_rng([seed, 10**6]).standard_normal((n_in, batch))
    dims = [n_in] + [width] * (1 + blocks * residual) + [1]
    net = Network(
        dims,
        hidden=activation,
        output="identity",
        init=init,
        seed=seed,
        ensemble=networks,
        residual=residual,
        gate=gate,
        norm=norm,
    )
    predicted = residual_network_variances(activation, init, dims, X, residual=residual, gate=gate, norm=norm)
    return StreamMeasurement(net.hidden[0], init, width, residual, gate, norm, stream_second_moments(net, X), predicted)
