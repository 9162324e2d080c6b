"""Layer-sequential unit-variance initialization (Mishkin & Matas 2016, Algorithm 1).

Start from orthonormal weights (the ``lsuv`` registry entry draws them); then, layer by layer
from the first, rescale ``W[l] := W[l] / sqrt(Var(Z[l]))`` on a batch until the variance of the
layer's output ``Z[l]`` (over units and examples) is within ``tol`` of 1, at most ``max_iter``
times per layer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from initlab.errors import InitlabError, check_positive


@dataclass(frozen=True)
class LSUVResult:
    """Per layer: rescalings taken and the output variance reached (``(E,)`` for an ensemble)."""

    iterations: list[int]
    variances: list[float | list[float]]
    converged: bool

    def to_dict(self) -> dict:
        return {"iterations": self.iterations, "variances": self.variances, "converged": self.converged}


def lsuv(net, X: np.ndarray, *, tol: float = 0.1, max_iter: int = 10, members: np.ndarray | None = None) -> LSUVResult:
    """Rescale ``net``'s weights in place so each layer's output variance on ``X`` is 1 +- tol.

    ``members`` (a boolean mask of length E) limits the rescaling to some ensemble members;
    the others are left as they are.
    """
    tol = check_positive("tol", tol)
    if max_iter < 1:
        raise InitlabError(f"max_iter must be at least 1, got {max_iter}")
    X = net._check_X(X)
    params = net.params
    E = net.ensemble
    mask = np.ones(E or 1, dtype=bool) if members is None else np.asarray(members, dtype=bool)
    iterations, variances = [], []
    converged = True
    A = X
    for l, g in enumerate(net.activations, start=1):
        W, b = params[f"W{l}"], params[f"b{l}"]
        taken = 0
        while True:
            Z = W @ A + b
            var = np.atleast_1d(Z.var(axis=(-2, -1)))
            todo = mask & (np.abs(var - 1.0) >= tol) & (var > 0)
            if not todo.any() or taken == max_iter:
                break
            scale = np.where(todo, 1.0 / np.sqrt(np.where(var > 0, var, 1.0)), 1.0)
            if E is None:
                W *= scale[0]
            else:
                W *= scale[:, None, None]
            taken += 1
        if (mask & (np.abs(var - 1.0) >= tol)).any():
            converged = False
        iterations.append(taken)
        variances.append(float(var[0]) if E is None else var.tolist())
        A = g.fn(Z)
    return LSUVResult(iterations, variances, converged)
