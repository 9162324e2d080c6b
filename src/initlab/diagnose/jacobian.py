"""The input-output Jacobian's singular values: is the network an isometry at initialization?

For a plain network and an input column ``x`` (Pennington, Schoenholz & Ganguli 2017)::

    J(x) = d a[L-1] / d x = D[L-1] W[L-1] ... D[1] W[1],      D[l] = diag(g'(z[l](x)))

the readout excluded, as the paper does; ``include_readout=True`` appends ``D[L] W[L]`` (the
output activation's own Jacobian: ``diag(s) - s s^T`` for softmax). ``J`` is ``(n[L-1], n_x)``.
Its singular values ``s_i`` and the eigenvalues ``lambda_i = s_i^2`` of ``J J^T`` say how the
network stretches a small change of its input in every direction: *dynamical isometry* is all of
them near 1. `initlab.theory.jacobian_moments` predicts the spectrum's mean and the variance of
the mean-normalized eigenvalues (free probability); `JacobianSpectrum.normalized_variance` is
the measured one, by the same definition.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from initlab import limits
from initlab.errors import InitlabError


@dataclass(frozen=True)
class JacobianSpectrum:
    """Singular values ``([E,] k, r)``: per network (an ensemble's leading axis), per input column
    (``k`` columns of ``x``), the ``r = min(n[L-1], n_x)`` singular values, largest first."""

    singular_values: np.ndarray
    include_readout: bool = False

    @property
    def eigenvalues(self) -> np.ndarray:
        """``lambda = s^2``, the eigenvalues of ``J J^T`` (its non-zero ones)."""
        return self.singular_values**2

    def mean(self) -> np.ndarray:
        """The mean eigenvalue per network and column, ``([E,] k)``: ``tr(J J^T) / r``."""
        return self.eigenvalues.mean(axis=-1)

    def normalized_variance(self) -> np.ndarray:
        """``Var(lambda) / mean(lambda)^2`` per network and column, ``([E,] k)``: 0 for an isometry
        (every singular value equal), the quantity `initlab.theory.jacobian_moments` predicts."""
        lam = self.eigenvalues
        with np.errstate(divide="ignore", invalid="ignore"):
            return lam.var(axis=-1) / lam.mean(axis=-1) ** 2

    def condition(self) -> np.ndarray:
        """``s_max / s_min`` per network and column (inf where a singular value is 0)."""
        with np.errstate(divide="ignore"):
            return self.singular_values[..., 0] / self.singular_values[..., -1]

    def to_dict(self) -> dict:
        return {
            "include_readout": self.include_readout,
            "singular_values": self.singular_values.tolist(),
            "mean_eigenvalue": self.mean().tolist(),
            "normalized_variance": self.normalized_variance().tolist(),
        }


def jacobian(net, x: np.ndarray, *, include_readout: bool = False) -> np.ndarray:
    """``J(x)`` for every column of ``x: (n_x, k)``: ``([E,] k, n[L-1], n_x)`` (module docstring);
    ``(…, n[L], n_x)`` with the readout."""
    if getattr(net, "layout", None) is not None:
        raise InitlabError(
            "jacobian_spectrum takes plain networks: a residual network's Jacobian runs through its "
            "stream and norms, which this product does not write"
        )
    x = net._check_X(x)
    L = len(net.layer_dims) - 1
    last = L if include_readout else L - 1
    if last < 1:
        raise InitlabError(f"layers {net.layer_dims} have no hidden layer: use include_readout=True")
    E = net.ensemble or 1
    k, widest = x.shape[1], max(net.layer_dims[1 : last + 1])
    limits.check(
        limits.Estimate(
            f"the Jacobian of {E} network(s) at {k} input column(s)",
            {"jacobian": 3 * 8.0 * E * k * widest * net.layer_dims[0]},
            work=float(
                E * k * sum(a * b for a, b in zip(net.layer_dims[1 : last + 1], net.layer_dims[:last], strict=True))
            )
            * net.layer_dims[0],
        )
    )
    _, cache = net.forward(x)
    J = None
    for l in range(1, last + 1):
        W = net.params[f"W{l}"][..., None, :, :]  # ([E,] 1, n_l, n_{l-1}): shared by the columns
        Z = np.swapaxes(cache[l - 1][1], -1, -2)[..., :, :, None]  # ([E,] k, n_l, 1)
        WJ = np.broadcast_to(W, (*Z.shape[:-2], *W.shape[-2:])) if J is None else W @ J
        g = net.activations[l - 1]
        if g.name == "softmax":  # the output's own Jacobian: diag(s) - s s^T
            s = g.fn(Z[..., 0].swapaxes(-1, -2)).swapaxes(-1, -2)[..., None]  # softmax over units
            J = s * WJ - s @ (np.swapaxes(s, -1, -2) @ WJ)
        else:
            J = g.grad(Z) * WJ
    return J


def jacobian_spectrum(net, x: np.ndarray, *, include_readout: bool = False) -> JacobianSpectrum:
    """The singular values of ``J(x) = D[L-1] W[L-1] ... D[1] W[1]`` at every column of ``x``
    (``(n_x, k)``), for a network or an ensemble: `JacobianSpectrum` with ``([E,] k, r)``
    singular values. ``include_readout=True``: ``d a[L] / d x``."""
    J = jacobian(net, x, include_readout=include_readout)
    return JacobianSpectrum(np.linalg.svd(J, compute_uv=False), include_readout)
