"""Diagnostics recorded during training: ``Network.fit(..., track=(...), track_every=k)``.

At every k-th iteration (before that step's update) and after the last update, the tracker
measures the parameters and the forward pass it is given: symmetry (effective width of every
hidden layer), saturation (saturated and dead fractions per layer) and, if asked, a copy of
each hidden layer's incoming weights (the course's picture of units separating).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from initlab.diagnose.saturation import SATURATION_THRESHOLD, layer_saturation
from initlab.diagnose.symmetry import symmetry
from initlab.errors import InitlabError

TRACKABLE = ("symmetry", "saturation", "weights")


@dataclass
class Tracked:
    """What was measured at ``iterations``. Arrays have a leading step axis, then ``E`` for an
    ensemble, then the layer: ``effective_width (k, [E,] L-1)``, ``saturated_fraction
    (k, [E,] L)`` (nan where the activation does not saturate), ``dead_fraction`` likewise."""

    iterations: list[int] = field(default_factory=list)
    effective_width: list = field(default_factory=list)
    symmetric: list = field(default_factory=list)
    saturated_fraction: list = field(default_factory=list)
    dead_fraction: list = field(default_factory=list)
    weights: list = field(default_factory=list)

    def arrays(self) -> dict[str, np.ndarray]:
        out = {"iterations": np.array(self.iterations)}
        for name in ("effective_width", "symmetric", "saturated_fraction", "dead_fraction"):
            if getattr(self, name):
                out[name] = np.array(getattr(self, name))
        return out

    @property
    def symmetric_every_step(self) -> bool | np.ndarray | None:
        """True where some hidden layer kept identical units at every tracked step."""
        if not self.symmetric:
            return None
        s = np.array(self.symmetric).all(axis=0)
        return bool(s) if s.ndim == 0 else s

    def to_dict(self) -> dict:
        out = {k: v.tolist() for k, v in self.arrays().items()}
        s = self.symmetric_every_step
        if s is not None:
            out["symmetric_every_step"] = s if isinstance(s, bool) else s.tolist()
        if self.weights:
            out["weights"] = [{k: v.tolist() for k, v in w.items()} for w in self.weights]
        return out


class Tracker:
    """Records the chosen diagnostics; ``net`` gives the activations and the ensemble size."""

    def __init__(self, track: tuple[str, ...], activations: list, hidden_layers: int) -> None:
        for name in track:
            if name not in TRACKABLE:
                raise InitlabError(f"cannot track {name!r}: choose from {', '.join(TRACKABLE)}")
        self.track = set(track)
        self.activations = activations
        self.hidden_layers = hidden_layers
        self.result = Tracked()

    def record(self, i: int, params: dict, cache: list) -> None:
        r = self.result
        r.iterations.append(i)
        if "symmetry" in self.track:
            rep = symmetry(params)
            reps = rep if isinstance(rep, list) else [rep]
            widths = [x.effective_widths for x in reps]
            sym = [x.symmetric for x in reps]
            r.effective_width.append(widths if isinstance(rep, list) else widths[0])
            r.symmetric.append(sym if isinstance(rep, list) else sym[0])
        if "saturation" in self.track:
            sats, deads = [], []
            for l, (g, (_, Z)) in enumerate(zip(self.activations, cache, strict=True), start=1):
                s = layer_saturation(l, g, Z, SATURATION_THRESHOLD)
                nan = np.full(Z.shape[:-2], np.nan)
                sats.append(nan if s.saturated_fraction is None else s.saturated_fraction)
                deads.append(nan if s.dead_fraction is None else s.dead_fraction)
            r.saturated_fraction.append(np.stack(np.broadcast_arrays(*sats), axis=-1))
            r.dead_fraction.append(np.stack(np.broadcast_arrays(*deads), axis=-1))
        if "weights" in self.track:
            r.weights.append({f"W{l}": params[f"W{l}"].copy() for l in range(1, self.hidden_layers + 1)})
