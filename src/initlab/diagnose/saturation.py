"""Saturation, measured: how much gradient each layer's units can pass back.

One rule, read from the activation's row (`initlab.nn.activations.Activation.weak`): a unit
passes back *little* on an example when ``|g'(z)|`` falls below ``threshold`` times the
activation's largest slope (``max_slope``: 0.25 for sigmoid, 1 for tanh and ReLU, 1.129 for GELU,
lambda alpha = 1.758 for SELU). With the default 0.05 that is ``|z| > 2.18`` for tanh and
``|z| > 4.36`` for sigmoid. Its row says which measure means something for it:

- *saturated* (rows with ``saturating``: sigmoid, tanh, softplus, ELU, SELU): the fraction of
  (unit, example) pairs passing little: both flanks of sigmoid and tanh, the left plateau of
  softplus (``z < -2.94``), ELU and SELU (``z < -3.00``).
- *dead* (rows with ``dying``: ReLU, GELU, SiLU): the fraction of units passing little on *every*
  example of the batch. For ReLU that is ``z <= 0`` everywhere (``g' = 0``: nothing passes); for
  GELU it is ``z < -2.28`` (SiLU: ``z < -3.93``) on every example, where the derivative has decayed
  to almost 0, or ``z`` in the narrow band around the function's minimum where ``g'`` crosses 0
  (GELU: -0.90 to -0.63; SiLU: -1.60 to -1.06), at the default threshold.

Leaky ReLU and the identity neither saturate nor die. docs/diagnostics.md has the table.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from initlab.diagnose.members import check_member, member_of, plain
from initlab.errors import InitlabError, check_positive
from initlab.nn.activations import Activation

#: A unit passing back less than this fraction of its activation's largest slope passes little
#: (saturated on that example; dead if on every example).
SATURATION_THRESHOLD = 0.05


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

    def _repr_html_(self) -> str:
        """The notebook's table (`initlab.report.notebook`)."""
        from initlab.report.notebook import saturation_html

        return saturation_html(self)

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


def weak_fractions(g: Activation, Z: np.ndarray, threshold: float) -> tuple[object, object]:
    """``(saturated, dead)`` of one layer from ``Z: ([E,] n, m)``, the module's one rule: the
    fraction of (unit, example) pairs whose ``|g'(z)|`` is weak (activations that saturate), and
    the fraction of units weak on every example (activations that can die); None where the
    activation does neither. Counts over a count: the same number in any order of the units."""
    if g.grad is None or not (g.saturating or g.dying):
        return None, None
    weak = g.weak(Z, threshold)
    sat = _scalar(weak.mean(axis=(-2, -1))) if g.saturating else None
    dead = _scalar(weak.all(axis=-1).mean(axis=-1)) if g.dying else None
    return sat, dead


def layer_saturation(
    l: int, g: Activation, Z: np.ndarray, threshold: float, dW: np.ndarray | None = None
) -> LayerSaturation:
    """The numbers of one layer from its pre-activations ``Z: (n, m)`` or ``(E, n, m)``."""
    axes = (-2, -1)
    if g.grad is not None:
        mean_grad = _scalar(np.abs(g.grad(Z)).mean(axis=axes))
        sat, dead = weak_fractions(g, Z, threshold)
    else:  # softmax: no elementwise derivative
        sat = dead = None
        mean_grad = _scalar(np.full(Z.shape[:-2], np.nan))
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


def fractions_of(activations: list[Activation], cache: list, threshold: float = SATURATION_THRESHOLD) -> dict:
    """``{"saturated_fraction", "dead_fraction"}``, each ``([E,] L)`` (nan where the layer's
    activation has no such measurement): `SaturationReport.per_layer` of `saturation_of` on the
    same cache, by the same rule (`weak_fractions`), without the report's other numbers (what a
    tracker records at every tracked step)."""
    Z = cache[-1][1]
    lead = Z.shape[:-2]
    cols: dict[str, list] = {"saturated_fraction": [], "dead_fraction": []}
    for g, (_, Z) in zip(activations, cache, strict=True):
        for name, v in zip(cols, weak_fractions(g, Z, threshold), strict=True):
            cols[name].append(np.full(lead, np.nan) if v is None else np.broadcast_to(v, lead))
    return {k: np.stack(v, axis=-1).astype(float) for k, v in cols.items()}


def saturation(
    net, X: np.ndarray, Y: np.ndarray | None = None, *, threshold: float = SATURATION_THRESHOLD
) -> SaturationReport:
    """Per layer: saturated fraction of (unit, example) pairs (activations that saturate), mean
    ``|g'(z)|``, dead fraction of units (activations that can die: ReLU, GELU, SiLU), mean ``|z|``,
    and with labels ``Y`` the gradient norm ``||dW[l]||``. The rules are the module's.

    ``net`` is a `Network` (one or an ensemble: every number is then ``(E,)`` and
    ``report.member(k)`` is network k's report); ``X: (n_x, m)``.
    """
    threshold = check_positive("threshold", threshold)
    check_network(net, "saturation")
    _, cache = net.forward(X)
    grads = net.gradients(X, Y) if Y is not None else None
    return saturation_of(net.activations, cache, threshold=threshold, grads=grads)
