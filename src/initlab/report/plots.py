"""Plots drawn on a matplotlib ``Axes``: each takes the axes to draw on and returns it.

Nothing here imports pyplot at module level, and nothing computes what the library already
measured: the plots take measured arrays. What belongs to a picture rather than to a
measurement is computed here once, for the static report and the dashboard alike: the grid a
decision boundary is drawn on (`decision_surface`, `class_score`) and histogram bins shared by
several layers (`histograms`). The figures of `initlab theory` are built here too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

#: One colour per initializer, in order (colour-blind safe, Okabe-Ito).
COLOURS = ["#D55E00", "#0072B2", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]


def _cmap():
    import matplotlib

    return matplotlib.colormaps["Spectral"]


@dataclass(frozen=True)
class Surface:
    """Values of a function of the plane on a grid: ``values[..., i, j]`` at ``(x[j], y[i])``;
    leading axes as the function returned them (one per network of an ensemble)."""

    x: np.ndarray
    y: np.ndarray
    values: np.ndarray

    @property
    def extent(self) -> tuple[float, float, float, float]:
        """``(x0, x1, y0, y1)``: the first and last grid points on each axis."""
        return float(self.x[0]), float(self.x[-1]), float(self.y[0]), float(self.y[-1])


def decision_surface(
    predict: Callable[[np.ndarray], np.ndarray],
    X: np.ndarray,
    *,
    pad: float = 1.0,
    h: float | None = None,
    steps: int = 200,
    batch: int | None = None,
    between: Callable[[], None] = lambda: None,
) -> Surface:
    """``predict`` on a grid over the 2-D data ``X: (2, m)``: the data's box widened by ``pad`` on
    every side, at step ``h`` on both axes (None: the longer side over ``steps``, so at most
    ``steps`` points a side). ``predict`` takes columns ``(2, k)`` and returns ``(..., k)``;
    with ``batch`` it gets at most that many points a call, and ``between()`` runs after each
    call (the dashboard's Stop raises there)."""
    X = np.asarray(X, dtype=float)
    x_min, x_max = X[0].min() - pad, X[0].max() + pad
    y_min, y_max = X[1].min() - pad, X[1].max() + pad
    if h is None:
        h = max(x_max - x_min, y_max - y_min) / steps
    xs, ys = np.arange(x_min, x_max, h), np.arange(y_min, y_max, h)
    xx, yy = np.meshgrid(xs, ys)
    points = np.vstack([xx.ravel(), yy.ravel()])
    step = points.shape[1] if batch is None else batch
    parts = []
    for a in range(0, points.shape[1], step):
        parts.append(np.asarray(predict(np.ascontiguousarray(points[:, a : a + step]))))
        between()
    values = np.concatenate(parts, axis=-1)
    return Surface(xs, ys, values.reshape(*values.shape[:-1], len(ys), len(xs)))


def class_score(A: np.ndarray) -> np.ndarray:
    """What a boundary picture colours, from outputs or labels ``A: (..., n_y, k)``: P(class 1)
    for one output unit, the (predicted) class over ``n_y - 1`` for more; ``(..., k)`` in [0, 1]."""
    A = np.asarray(A)
    if A.shape[-2] == 1:
        return A[..., 0, :]
    return A.argmax(axis=-2) / (A.shape[-2] - 1)


def decision_boundary(
    ax,
    predict: Callable[[np.ndarray], np.ndarray],
    X: np.ndarray,
    y: np.ndarray,
    *,
    h: float | None = 0.01,
    pad: float = 1.0,
):
    """Filled contours of ``predict`` over the plane, and the points ``X: (2, m)`` coloured by ``y``.

    ``predict`` takes rows ``(k, 2)`` (the course's ``lambda x: predict_dec(parameters, x.T)``)
    and returns k labels. The grid (`decision_surface`) spans the data plus ``pad``, with step
    ``h`` (None: 200 steps).
    """
    s = decision_surface(lambda P: np.ravel(predict(P.T)), X, pad=pad, h=h, steps=200)
    ax.contourf(s.x, s.y, s.values, cmap=_cmap(), alpha=0.8)
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    ax.scatter(X[0, :], X[1, :], c=np.ravel(y), cmap=_cmap(), s=14, edgecolors="k", linewidths=0.3)
    return ax


def probability_surface(ax, score: Callable[[np.ndarray], np.ndarray], X: np.ndarray, y: np.ndarray, *, pad=0.5):
    """What `class_score` gives over the plane (``score`` takes columns ``(2, k)``, returns
    ``(k,)`` in [0, 1]), filled on fixed levels from 0 to 1 with a colorbar, the points ``X: (2, m)``
    coloured by ``y`` on the same scale: a boundary's colour says how sure the network is."""
    import matplotlib

    s = decision_surface(score, X, pad=pad, steps=120)
    cmap = matplotlib.colormaps["RdBu_r"]
    mesh = ax.contourf(s.x, s.y, s.values, levels=np.linspace(0, 1, 11), cmap=cmap, vmin=0, vmax=1)
    ax.scatter(X[0], X[1], c=np.ravel(y), cmap=cmap, vmin=0, vmax=1, s=10, edgecolors="k", linewidths=0.3)
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    ax.figure.colorbar(mesh, ax=ax, label="P(class 1)" if np.ptp(np.ravel(y)) <= 1 else "class", ticks=[0, 0.5, 1])
    return ax


def unit_colours(n: int) -> list:
    """``n`` colours, all different: Okabe-Ito's 8 for up to 8 units, tab20's pairs split for up
    to 20, evenly spaced hues beyond (10 units shared 8 colours before)."""
    import matplotlib

    if n <= len(COLOURS):
        return COLOURS[:n]
    if n <= 20:
        tab = matplotlib.colormaps["tab20"].colors
        return [matplotlib.colors.to_hex(c) for c in (tab[0::2] + tab[1::2])[:n]]
    return [matplotlib.colors.to_hex(matplotlib.colormaps["hsv"](i / n)) for i in range(n)]


def cost_curves(ax, curves: dict[str, list[np.ndarray]], iterations: np.ndarray):
    """Cost against iteration: per label a bold mean over its runs and a thin line per run."""
    for c, (label, runs) in enumerate(curves.items()):
        colour = COLOURS[c % len(COLOURS)]
        runs = np.array(runs)
        for r in runs:
            ax.plot(iterations, r, color=colour, lw=0.6, alpha=0.35)
        ax.plot(iterations, runs.mean(axis=0), color=colour, lw=2, label=label)
    ax.set_xlabel("iteration")
    ax.set_ylabel("cost")
    if np.nanmax(np.array([np.nanmax(r) for r in curves.values()])) > 10 * np.nanmin(
        np.array([np.nanmin(r) for r in curves.values()])
    ):
        ax.set_yscale("log")
    ax.legend(frameon=False)
    ax.grid(alpha=0.3)
    return ax


def unit_weights(ax, iterations: Sequence[int], weights: Sequence[np.ndarray], *, title: str = ""):
    """Each hidden unit's incoming weights over iterations: ``weights[t]`` is ``W[l]`` at step t,
    ``(n[l], n[l-1])``. One colour per unit, one line style per input. Under a symmetric init
    the units' lines lie on top of each other; under a random one they separate."""
    W = np.array(weights)  # (k, n, n_prev)
    styles = ["-", "--", ":", "-."]
    colours = unit_colours(W.shape[1])
    for i in range(W.shape[1]):
        colour = colours[i]
        for j in range(min(W.shape[2], len(styles))):
            ax.plot(
                iterations, W[:, i, j], color=colour, ls=styles[j], lw=1.2, label=f"unit {i + 1}" if j == 0 else None
            )
    ax.set_xlabel("iteration")
    ax.set_ylabel("incoming weight")
    ax.set_title(title, fontsize=10)
    if W.shape[1] <= 10:
        ax.legend(frameon=False, fontsize=7, ncol=2)
    ax.grid(alpha=0.3)
    return ax


@dataclass(frozen=True)
class Histograms:
    """Several sets of values binned on the same edges: ``edges: (bins + 1,)`` over every set's
    finite values (a range of width 1 around them when they are all equal, [0, 1] when there are
    none), ``counts[i]: (bins,)``, ``sizes[i]`` the finite values of set ``i``."""

    edges: np.ndarray
    counts: list[np.ndarray]
    sizes: list[int]

    def shares(self) -> list[np.ndarray]:
        """Each set's counts over its finite values (0 where it has none)."""
        return [c / max(1, n) for c, n in zip(self.counts, self.sizes, strict=True)]


def histograms(values: Sequence[np.ndarray], *, bins: int = 30) -> Histograms:
    """Bin every array of ``values`` (any shape; NaN and inf left out) on shared edges."""
    finite = [v[np.isfinite(v)] for v in (np.ravel(np.asarray(v, dtype=float)) for v in values)]
    allv = np.concatenate(finite) if finite else np.array([])
    lo, hi = (float(allv.min()), float(allv.max())) if allv.size else (0.0, 1.0)
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, bins + 1)
    return Histograms(edges, [np.histogram(v, bins=edges)[0] for v in finite], [int(v.size) for v in finite])


def histogram(ax, values: np.ndarray, *, title: str = "", colour: str = COLOURS[1], bins: int = 40, x_label=""):
    """A histogram of measured values (activations, pre-activations, gradients), binned by
    `histograms`; bar heights are shares of the finite values (the y axis says so)."""
    h = histograms([values], bins=bins)
    ax.hist(h.edges[:-1], bins=h.edges, weights=h.shares()[0], color=colour, alpha=0.85)
    ax.set_title(title, fontsize=10)
    ax.set_ylabel("share of values")
    if x_label:
        ax.set_xlabel(x_label)
    return ax


def activation_curve(ax, fn: Callable[[np.ndarray], np.ndarray], z: np.ndarray, *, name: str, colour: str):
    """The activation ``g(z)`` and, below it, where the measured ``z`` values fall."""
    z = np.ravel(z)
    zmax = max(5.0, float(np.quantile(np.abs(z), 0.99)) if z.size else 5.0)
    grid = np.linspace(-zmax, zmax, 400)
    ax.plot(grid, fn(grid), color="k", lw=1.5, label=f"{name}(z)")
    ax2 = ax.twinx()
    ax2.hist(np.clip(z, -zmax, zmax), bins=60, color=colour, alpha=0.45)
    ax2.set_yticks([])
    ax.set_xlabel("z")
    ax.set_xlim(-zmax, zmax)
    ax.set_zorder(ax2.get_zorder() + 1)
    ax.patch.set_visible(False)
    return ax


def phase_diagram(
    ax, sigma_w2: np.ndarray, sigma_b2: np.ndarray, chi1: np.ndarray, critical: np.ndarray, *, activation: str
):
    """``log(chi_1)`` over the ``(sigma_w2, sigma_b2)`` plane, the critical line ``chi_1 = 1`` on it.

    ``chi1`` is ``(len(sigma_b2), len(sigma_w2))``; ``critical`` the critical ``sigma_w2`` per
    ``sigma_b2``. Blue: ordered (gradients vanish); red: chaotic (gradients explode).
    """
    import matplotlib

    logc = np.log(np.clip(chi1, 1e-6, 1e6))
    lim = float(np.nanmax(np.abs(logc[np.isfinite(logc)]))) if np.isfinite(logc).any() else 1.0
    mesh = ax.pcolormesh(
        sigma_w2, sigma_b2, logc, cmap=matplotlib.colormaps["RdBu_r"], vmin=-lim, vmax=lim, shading="auto"
    )
    ax.plot(critical, sigma_b2, color="k", lw=2, label="critical: chi_1 = 1")
    ax.set_xlabel("sigma_w^2")
    ax.set_ylabel("sigma_b^2")
    ax.set_title(f"{activation}: log chi_1 (blue ordered, red chaotic)", fontsize=10)
    ax.legend(loc="upper left", frameon=False)
    ax.figure.colorbar(mesh, ax=ax, label="log chi_1")
    return ax


def predicted_vs_measured(
    ax, layers: np.ndarray, predicted: np.ndarray, measured: np.ndarray, *, label: str, colour: str = COLOURS[1]
):
    """Per layer: the prediction (black), the ensemble mean with a band from the 10th to the 90th
    percentile across networks, and one network's trace. ``measured`` is ``(E, L)``."""
    lo, hi = np.percentile(measured, [10, 90], axis=0)
    ax.fill_between(layers, lo, hi, color=colour, alpha=0.2, label="10-90% of networks")
    ax.plot(layers, measured.mean(axis=0), color=colour, lw=2, label="ensemble mean")
    ax.plot(layers, measured[0], color=colour, lw=1, ls="--", label="one network")
    ax.plot(layers, predicted, color="k", lw=1.5, label="mean-field prediction")
    ax.set_yscale("log")
    ax.set_xlabel("layer")
    ax.set_ylabel(label)
    ax.legend(frameon=False, fontsize=8)
    ax.grid(alpha=0.3)
    return ax


def phase_diagram_figure(grid):
    """The figure of `phase_diagram` for a `initlab.theory.PhaseGrid` (``initlab theory
    --phase-diagram``)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.5, 4.5), layout="constrained")
    phase_diagram(fig.subplots(), grid.sigma_w2, grid.sigma_b2, grid.chi1, grid.critical, activation=grid.activation)
    return fig


def ensemble_figure(m):
    """Two panels of `predicted_vs_measured` for an `EnsembleMeasurement` (``initlab theory
    --measure --plot``): the pre-activation variance and the gradient's second moment per layer."""
    from matplotlib.figure import Figure

    c = m.config
    fig = Figure(figsize=(11, 4), layout="constrained")
    a1, a2 = fig.subplots(1, 2)
    layers = np.arange(1, m.z_q.shape[1] + 1)
    predicted_vs_measured(a1, layers, m.predicted_z_q, m.z_q, label="pre-activation variance q")
    predicted_vs_measured(a2, layers, m.predicted_grad_q, m.grad_q, label="gradient second moment", colour="#D55E00")
    fig.suptitle(f"{c['networks']} {c['activation']} networks, {c['depth']} layers of {c['width']}, init {c['init']}")
    return fig


def save_figure(fig, path) -> None:
    """Write a figure as PNG, creating the folder."""
    from pathlib import Path

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
