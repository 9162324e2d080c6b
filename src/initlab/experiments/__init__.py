"""Experiments: runs (`RunConfig` -> `train` -> `RunResult`), comparisons, sweeps and their store."""

from initlab.experiments.compare import CompareConfig, CompareResult, compare
from initlab.experiments.run import RunConfig, RunResult, Training, train

__all__ = ["CompareConfig", "CompareResult", "RunConfig", "RunResult", "Training", "compare", "train"]
