"""Plots drawn on a matplotlib ``Axes``; each takes the axes to draw on and returns it."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def decision_boundary(
    ax,
    predict: Callable[[np.ndarray], np.ndarray],
    X: np.ndarray,
    y: np.ndarray,
    *,
    h: float = 0.01,
    pad: float = 1.0,
):
    """Filled contours of ``predict`` over the plane, and the points ``X: (2, m)`` coloured by ``y``.

    ``predict`` takes rows ``(k, 2)`` (the course's ``lambda x: predict_dec(parameters, x.T)``)
    and returns k labels. The grid spans the data plus ``pad``, with step ``h``.
    """
    import matplotlib.pyplot as plt

    x_min, x_max = X[0, :].min() - pad, X[0, :].max() + pad
    y_min, y_max = X[1, :].min() - pad, X[1, :].max() + pad
    xx, yy = np.meshgrid(np.arange(x_min, x_max, h), np.arange(y_min, y_max, h))
    Z = np.asarray(predict(np.c_[xx.ravel(), yy.ravel()])).reshape(xx.shape)
    ax.contourf(xx, yy, Z, cmap=plt.cm.Spectral)
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    ax.scatter(X[0, :], X[1, :], c=np.ravel(y), cmap=plt.cm.Spectral, s=20, edgecolors="k",
               linewidths=0.3)
    return ax
