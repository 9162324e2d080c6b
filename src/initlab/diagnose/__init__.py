"""Diagnostics for any network: symmetry, saturation (and, later, signal propagation)."""

from initlab.diagnose.saturation import SATURATION_THRESHOLD, SaturationReport, saturation
from initlab.diagnose.symmetry import LayerSymmetry, SymmetryReport, symmetry

__all__ = ["SATURATION_THRESHOLD", "LayerSymmetry", "SaturationReport", "SymmetryReport", "saturation", "symmetry"]
