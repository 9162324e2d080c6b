"""Sweep throughput on the local executor with 1 and 2 worker processes, end to end.

The same spec each time (circles 2-10-5-1, 4 inits x 2 activations x 64 seeds = 512 runs,
2000 iterations, no tracking), each into a fresh store: spec parsing, grouping, worker start-up,
training, and the driver's DuckDB writes all count. Prints runs/s, network-iterations/s and
the ratio of 2 workers to 1 (this machine has ``os.cpu_count()`` cores).
"""

from __future__ import annotations

import os
import platform
import tempfile
import time
from pathlib import Path

from initlab.experiments.store import Store
from initlab.experiments.sweep import parse_spec, run_sweep

SPEC = """[sweep]
name = "bench"
data = "circles"
layers = [2, 10, 5, 1]
hidden = ["relu", "tanh"]
inits = ["zeros", "random:0.01", "he", "xavier"]
lr = 0.05
iterations = 2000
seeds = 64
chunk = 128
"""


def main() -> None:
    spec = parse_spec(SPEC, "bench.toml")
    n = len(spec.runs())
    its = n * spec.iterations[0]
    print(
        f"sweep throughput, {platform.processor() or platform.machine()}, {os.cpu_count()} cores: "
        f"{n} runs x {spec.iterations[0]} iterations, ensembles of {spec.chunk}"
    )
    rates = {}
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as tmp:
            store = Store(Path(tmp) / "bench.duckdb")
            t = time.perf_counter()
            out = run_sweep(spec, store, workers=workers)
            seconds = time.perf_counter() - t
            assert out.done == n and out.failed == 0, out
            _, rows = store.query("SELECT count(*), count(DISTINCT id) FROM runs WHERE status = 'done'")
            assert rows == [(n, n)]
        rates[workers] = its / seconds
        print(f"  {workers} worker(s): {seconds:6.2f} s  {n / seconds:8.1f} runs/s  {its / seconds:10,.0f} net-it/s")
    print(f"  2 workers / 1 worker: {rates[2] / rates[1]:.2f}x")


if __name__ == "__main__":
    main()
