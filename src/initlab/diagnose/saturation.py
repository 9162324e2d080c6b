"""Saturation, measured: how much gradient each layer's units can pass back.

For sigmoid and tanh a unit is *saturated* on an example when ``g'(z)`` falls below
``threshold`` times the activation's largest slope (0.25 for sigmoid at 0, 1 for tanh):
with the default 0.05 that is ``|z| > 2.18`` for tanh and ``|z| > 4.36`` for sigmoid, where
the unit passes back less than 5% of what it could. For ReLU a unit is *dead* on a batch when
``z <= 0`` for every example: it passes back nothing at all.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from initlab.diagnose.members import check_member, member_of, plain
from initlab.errors import InitlabError, check_positive
from initlab.nn.activations import Activation

#: A unit passing back less than this fraction of its activation's largest slope is saturated.
SATURATION_THRESHOLD = 0.05
MAX_SLOPE = {"sigmoid": 0.25, "tanh": 1.0}


@dataclass(frozen=True)
class LayerSaturation:
    """One layer's numbers; floats for one network, ``(E,)`` arrays for an ensemble.

    ``saturated_fraction`` is None for activations that do not saturate, ``dead_fraction``
    None for those that cannot die; ``gradient_norm`` is ``||dW[l]||`` (None without labels).
    """

    layer: int
    activation: str
    saturated_fraction: float | np.ndarray | None
    mean_abs_grad: float | np.ndarray
    dead_fraction: float | np.ndarray | None
    mean_abs_z: float | np.ndarray
    gradient_norm: float | np.ndarray | None = None

    @property
    def ensemble(self) -> int | None:
        return None if np.ndim(self.mean_abs_z) == 0 else len(self.mean_abs_z)

    def member(self, k: int) -> LayerSaturation:
        """Network ``k``'s layer (an ensemble's)."""
        return member_of(self, check_member(self.ensemble, k), fixed=("layer", "activation"))

    def to_dict(self) -> dict:
        return {f.name: plain(getattr(self, f.name)) for f in fields(self)}


@dataclass(frozen=True)
class SaturationReport:
    """Every layer (hidden and output) of one network, or of an ensemble of ``ensemble``
    networks (each measurement then leads with an ``(E,)`` axis; `member` gives one network's)."""

    layers: list[LayerSaturation]
    threshold: float
    ensemble: int | None = None

    def member(self, k: int) -> SaturationReport:
        """Network ``k``'s report: what `saturation` gives for that network alone."""
        k = check_member(self.ensemble, k)
        return SaturationReport([s.member(k) for s in self.layers], self.threshold)

    def per_layer(self, name: str) -> np.ndarray:
        """One measurement of every layer side by side: ``(L,)``, or ``(E, L)`` for an ensemble;
        nan where the layer's activation has no such measurement (a sigmoid's dead fraction)."""
        lead = () if self.ensemble is None else (self.ensemble,)
        cols = [
            np.full(lead, np.nan) if v is None else np.broadcast_to(v, lead)
            for v in (getattr(s, name) for s in self.layers)
        ]
        return np.stack(cols, axis=-1).astype(float) if cols else np.empty(lead + (0,))

    def to_dict(self) -> dict:
        return {"threshold": self.threshold, "ensemble": self.ensemble, "layers": [s.to_dict() for s in self.layers]}

    def __repr__(self) -> str:
        parts = []
        for s in self.layers:
            if s.saturated_fraction is not None:
                parts.append(f"layer {s.layer} ({s.activation}): saturated {np.round(s.saturated_fraction, 3)}")
            elif s.dead_fraction is not None:
                parts.append(f"layer {s.layer} ({s.activation}): dead {np.round(s.dead_fraction, 3)}")
        return "SaturationReport(" + "; ".join(parts) + ")"


def check_network(net: object, what: str) -> None:
    """``net`` must be a `Network` (these diagnostics run its forward and backward passes)."""
    from initlab.nn import Network

    if not isinstance(net, Network):
        hint = ": wrap a parameter dict with Network.from_params(params, hidden=...)" if isinstance(net, dict) else ""
        raise InitlabError(f"{what} needs a Network, got {type(net).__name__}{hint}")


def _scalar(v: np.ndarray) -> float | np.ndarray:
    return float(v) if np.ndim(v) == 0 else v


def layer_saturation(
    l: int, g: Activation, Z: np.ndarray, threshold: float, dW: np.ndarray | None = None
) -> LayerSaturation:
    """The numbers of one layer from its pre-activations ``Z: (n, m)`` or ``(E, n, m)``."""
    axes = (-2, -1)
    sat = None
    if g.grad is not None:
        slope = np.abs(g.grad(Z))
        mean_grad = _scalar(slope.mean(axis=axes))
        if g.name in MAX_SLOPE:
            sat = _scalar((slope < threshold * MAX_SLOPE[g.name]).mean(axis=axes))
    else:  # softmax: no elementwise derivative
        mean_grad = _scalar(np.full(Z.shape[:-2], np.nan))
    dead = _scalar((Z <= 0).all(axis=-1).mean(axis=-1)) if g.name == "relu" else None
    norm = None if dW is None else _scalar(np.sqrt((dW**2).sum(axis=axes)))
    return LayerSaturation(l, g.name, sat, mean_grad, dead, _scalar(np.abs(Z).mean(axis=axes)), norm)


def saturation_of(
    activations: list[Activation],
    cache: list,
    *,
    threshold: float = SATURATION_THRESHOLD,
    grads: dict | None = None,
) -> SaturationReport:
    """The report from a forward pass already made: ``cache`` as `initlab.nn.forward` returns
    it (``Z[l]: (n[l], m)`` or ``(E, n[l], m)``), ``grads`` with ``dW[l]`` for the gradient norms."""
    grads = grads or {}
    layers = [
        layer_saturation(l, g, Z, threshold, grads.get(f"dW{l}"))
        for l, (g, (_, Z)) in enumerate(zip(activations, cache, strict=True), start=1)
    ]
    Z = cache[-1][1]
    return SaturationReport(layers, threshold, ensemble=Z.shape[0] if Z.ndim == 3 else None)


def saturation(
    net, X: np.ndarray, Y: np.ndarray | None = None, *, threshold: float = SATURATION_THRESHOLD
) -> SaturationReport:
    """Per layer: saturated fraction of (unit, example) pairs (sigmoid/tanh), mean ``|g'(z)|``,
    dead-ReLU fraction, mean ``|z|``, and with labels ``Y`` the gradient norm ``||dW[l]||``.

    ``net`` is a `Network` (one or an ensemble: every number is then ``(E,)`` and
    ``report.member(k)`` is network k's report); ``X: (n_x, m)``.
    """
    threshold = check_positive("threshold", threshold)
    check_network(net, "saturation")
    _, cache = net.forward(X)
    grads = net.gradients(X, Y) if Y is not None else None
    return saturation_of(net.activations, cache, threshold=threshold, grads=grads)
