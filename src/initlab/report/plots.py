"""Plots drawn on a matplotlib ``Axes``: each takes the axes to draw on and returns it.

Nothing here imports pyplot at module level, and nothing computes what the library already
measured: the plots take measured arrays.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

#: One colour per initializer, in order (colour-blind safe, Okabe-Ito).
COLOURS = ["#D55E00", "#0072B2", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]


def _cmap():
    import matplotlib

    return matplotlib.colormaps["Spectral"]


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
    and returns k labels. The grid spans the data plus ``pad``, with step ``h`` (None: 200 steps).
    """
    x_min, x_max = X[0, :].min() - pad, X[0, :].max() + pad
    y_min, y_max = X[1, :].min() - pad, X[1, :].max() + pad
    if h is None:
        h = max(x_max - x_min, y_max - y_min) / 200
    xx, yy = np.meshgrid(np.arange(x_min, x_max, h), np.arange(y_min, y_max, h))
    Z = np.asarray(predict(np.c_[xx.ravel(), yy.ravel()])).reshape(xx.shape)
    ax.contourf(xx, yy, Z, cmap=_cmap(), alpha=0.8)
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    ax.scatter(X[0, :], X[1, :], c=np.ravel(y), cmap=_cmap(), s=14, edgecolors="k", linewidths=0.3)
    return ax


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
    for i in range(W.shape[1]):
        colour = COLOURS[i % len(COLOURS)]
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


def histogram(ax, values: np.ndarray, *, title: str = "", colour: str = COLOURS[1], bins: int = 40):
    """A histogram of measured values (activations, pre-activations, gradients)."""
    v = np.ravel(values)
    v = v[np.isfinite(v)]
    lo, hi = (v.min(), v.max()) if v.size else (0.0, 1.0)
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5
    ax.hist(v, bins=bins, range=(lo, hi), color=colour, alpha=0.85)
    ax.set_title(title, fontsize=10)
    ax.set_yticks([])
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


def save_figure(fig, path) -> None:
    """Write a figure as PNG, creating the folder."""
    from pathlib import Path

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
