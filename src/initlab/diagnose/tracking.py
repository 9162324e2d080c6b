"""Diagnostics recorded during training: ``Network.fit(..., track=(...), track_every=k)``.

At every k-th iteration (before that step's update) and after the last update, the tracker
measures the parameters and the forward pass it is given: symmetry (effective width of every
hidden layer), saturation (saturated and dead fractions per layer) and, if asked, a copy of
each hidden layer's incoming weights (the course's picture of units separating).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from initlab.diagnose.saturation import SATURATION_THRESHOLD, fractions_of
from initlab.diagnose.symmetry import effective_widths
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

    def __init__(self, track: tuple[str, ...], activations: list, hidden_layers: int, layout=None) -> None:
        for name in track:
            if name not in TRACKABLE:
                raise InitlabError(f"cannot track {name!r}: choose from {', '.join(TRACKABLE)}")
        self.track = set(track)
        self.activations = activations
        self.hidden_layers = hidden_layers
        self.layout = layout  # a residual network's (its stream's units are grouped as one)
        self.result = Tracked()

    @property
    def needs_order(self) -> bool:
        """Whether `record` needs the units in the user's order: only for copies of the weights;
        effective widths and saturated/dead fractions count units, whatever their order."""
        return "weights" in self.track

    def record(self, i: int, params: dict, cache: list) -> None:
        r = self.result
        r.iterations.append(i)
        if "symmetry" in self.track:
            # `symmetry`'s exact count, for the whole ensemble at once (one rule: tested equal)
            widths = effective_widths(params, self.layout)
            full = np.array([params[f"W{l}"].shape[-2] for l in range(1, widths.shape[-1] + 1)], dtype=int)
            r.effective_width.append(widths.tolist())
            r.symmetric.append((widths < full).any(axis=-1).tolist())
        if "saturation" in self.track:
            sat = fractions_of(self.activations, cache, threshold=SATURATION_THRESHOLD)
            r.saturated_fraction.append(sat["saturated_fraction"])
            r.dead_fraction.append(sat["dead_fraction"])
        if "weights" in self.track:
            r.weights.append({f"W{l}": params[f"W{l}"].copy() for l in range(1, self.hidden_layers + 1)})
