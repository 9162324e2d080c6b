"""Experiments: comparisons of initializations (and, later, sweeps and their store)."""

from initlab.experiments.compare import CompareConfig, CompareResult, RunResult, compare

__all__ = ["CompareConfig", "CompareResult", "RunResult", "compare"]
