"""Diagnostics for any network: symmetry, saturation and signal propagation (``diagnose.propagation``).

Each returns one kind of report for one network and for an ensemble: on an ensemble every
measured field has a leading ``(E,)`` axis, ``report.ensemble`` is E (None for one network), and
``report.member(k)`` is what the same function gives for ``net.member(k)`` alone.
"""

from initlab.diagnose.saturation import SATURATION_THRESHOLD, SaturationReport, saturation
from initlab.diagnose.symmetry import LayerSymmetry, SymmetryReport, symmetry

__all__ = ["SATURATION_THRESHOLD", "LayerSymmetry", "SaturationReport", "SymmetryReport", "saturation", "symmetry"]
