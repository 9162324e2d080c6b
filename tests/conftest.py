"""Shared test settings: Hypothesis profiles (derandomized in CI) and small data made in code."""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", derandomize=True, max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=30, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

#: Statistical checks run at each of these seeds and must hold at all of them.
SEEDS = (0, 1, 2)
#: A sweep of two runs that trains in a blink (the commands' tests run it through the CLI).
TINY_SPEC = """
[sweep]
name = "tiny"
data = "circles"
layers = [2, 3, 1]
hidden = "relu"
inits = ["zeros", "he"]
lr = 0.01
iterations = 5
seeds = 1
"""
#: The same seeds for the long checks: the first in `make test`, every one in `make test-all`
#: (marked slow), so `make test` keeps one run of each check and the several-seed law is kept.
SEEDS_LONG = (SEEDS[0], *(pytest.param(s, marks=pytest.mark.slow) for s in SEEDS[1:]))


@pytest.fixture
def toy():
    """A small binary problem: X (3, 20), Y (1, 20), made in code."""
    rng = np.random.default_rng(123)
    X = rng.standard_normal((3, 20))
    Y = (X[0:1] + 0.5 * X[1:2] > 0).astype(float)
    return X, Y


def run(argv, capsys):
    """``initlab ARGV`` in this process: (exit code, stdout, stderr)."""
    from initlab import cli

    with pytest.raises(SystemExit) as e:
        cli.main(argv)
    out, err = capsys.readouterr()
    return e.value.code, out, err
