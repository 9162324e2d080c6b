"""Saturation, measured: how much gradient each layer's units can pass back.

For sigmoid and tanh a unit is *saturated* on an example when ``g'(z)`` falls below
``threshold`` times the activation's largest slope (0.25 for sigmoid at 0, 1 for tanh):
with the default 0.05 that is ``|z| > 2.18`` for tanh and ``|z| > 4.36`` for sigmoid, where
the unit passes back less than 5% of what it could. For ReLU a unit is *dead* on a batch when
``z <= 0`` for every example: it passes back nothing at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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

    def to_dict(self) -> dict:
        def conv(v):
            if v is None:
                return None
            return v.tolist() if isinstance(v, np.ndarray) else float(v)

        return {
            "layer": self.layer,
            "activation": self.activation,
            "saturated_fraction": conv(self.saturated_fraction),
            "mean_abs_grad": conv(self.mean_abs_grad),
            "dead_fraction": conv(self.dead_fraction),
            "mean_abs_z": conv(self.mean_abs_z),
            "gradient_norm": conv(self.gradient_norm),
        }


@dataclass(frozen=True)
class SaturationReport:
    """Every layer (hidden and output) of a network or an ensemble."""

    layers: list[LayerSaturation]
    threshold: float

    def to_dict(self) -> dict:
        return {"threshold": self.threshold, "layers": [s.to_dict() for s in self.layers]}

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


def saturation(
    net, X: np.ndarray, Y: np.ndarray | None = None, *, threshold: float = SATURATION_THRESHOLD
) -> SaturationReport:
    """Per layer: saturated fraction of (unit, example) pairs (sigmoid/tanh), mean ``|g'(z)|``,
    dead-ReLU fraction, mean ``|z|``, and with labels ``Y`` the gradient norm ``||dW[l]||``.

    ``net`` is a `Network` (one or an ensemble); ``X: (n_x, m)``.
    """
    threshold = check_positive("threshold", threshold)
    check_network(net, "saturation")
    _, cache = net.forward(X)
    grads = net.gradients(X, Y) if Y is not None else {}
    layers = [
        layer_saturation(l, g, Z, threshold, grads.get(f"dW{l}"))
        for l, (g, (_, Z)) in enumerate(zip(net.activations, cache, strict=True), start=1)
    ]
    return SaturationReport(layers, threshold)
