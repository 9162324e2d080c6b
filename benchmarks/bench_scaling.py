"""How training throughput grows with ensemble size, width and examples, with peak memory.

Each configuration runs in its own process (so its peak resident memory is its own), for about
a second of training. Writes a Markdown table and a plot: ``python benchmarks/bench_scaling.py
docs/`` updates ``docs/performance_scaling.md`` and ``docs/performance.png``.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
import numpy as np
from initlab.nn import Network
E, width, m = (int(v) for v in sys.argv[1:4])
rng = np.random.default_rng(0)
X = rng.standard_normal((2, m)); Y = (rng.random((1, m)) > 0.5).astype(float)
dims = [2, width, width // 2 if width >= 10 else 5, 1]
net = Network(dims, hidden="relu", init="he", seed=0, ensemble=None if E == 1 else E)
net.fit(X, Y, lr=0.01, iterations=1, record_every=1)              # compile / warm up
its, spent = 1, 0.0
while spent < 2.0:
    t = time.perf_counter(); net.fit(X, Y, lr=0.01, iterations=its, record_every=its)
    spent = time.perf_counter() - t
    if spent < 2.0: its *= 2
from initlab.nn import fast
engine = "fast, unrolled" if fast.pays(net) else "reference"
flop = 3 * sum(2 * a * b * m for a, b in zip(dims[:-1], dims[1:]))
print(json.dumps({"E": E, "width": width, "m": m, "engine": engine, "net_it_per_s": E * its / spent,
                  "gflops": E * its / spent * flop / 1e9,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

GRID = (
    [("ensemble", E, 10, 300) for E in (1, 4, 16, 64, 256, 1024, 4096)]
    + [("width", 64, w, 300) for w in (10, 30, 100, 300, 1000)]
    + [("examples", 64, 10, m) for m in (100, 1000, 10000, 100000)]
)


def main() -> None:
    out_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else None
    rows = []
    for axis, E, w, m in GRID:
        p = subprocess.run(
            [sys.executable, "-c", CHILD, str(E), str(w), str(m)], capture_output=True, text=True, timeout=600
        )
        if p.returncode:
            print(p.stderr[-2000:], file=sys.stderr)
            raise SystemExit(p.returncode)
        r = json.loads(p.stdout.strip().splitlines()[-1])
        r["axis"] = axis
        rows.append(r)
        print(
            f"{axis:<9} E={r['E']:<5} width={r['width']:<5} m={r['m']:<7} {r['engine']:<9} "
            f"{r['net_it_per_s']:>12,.0f} net-it/s {r['gflops']:>7.2f} GFLOP/s {r['peak_mb']:>8.0f} MB",
            flush=True,
        )
    if out_dir is None:
        return
    info = Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []
    cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), platform.processor())
    lines = [
        f"Measured on: {cpu}, {os.cpu_count()} cores, Python {platform.python_version()}.",
        "",
        "| varied | E | width | examples | engine | net-it/s | GFLOP/s | peak memory (MB) |",
        "|---|---:|---:|---:|---|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['axis']} | {r['E']} | {r['width']} | {r['m']} | {r['engine']} | "
            f"{r['net_it_per_s']:,.0f} | {r['gflops']:.2f} | {r['peak_mb']:.0f} |"
        )
    (out_dir / "performance_scaling.md").write_text("\n".join(lines) + "\n")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 3.6), layout="constrained")
    axes = fig.subplots(1, 3)
    for ax, (axis, key, label) in zip(
        axes,
        [
            ("ensemble", "E", "networks in the ensemble"),
            ("width", "width", "hidden width (2-w-w/2-1)"),
            ("examples", "m", "examples"),
        ],
        strict=True,
    ):
        rs = [r for r in rows if r["axis"] == axis]
        ax.loglog([r[key] for r in rs], [r["gflops"] for r in rs], "o-", label="GFLOP/s")
        ax2 = ax.twinx()
        ax2.loglog([r[key] for r in rs], [r["peak_mb"] for r in rs], "s--", color="#D55E00", label="peak MB")
        ax.set_xlabel(label)
        ax.set_ylabel("GFLOP/s")
        ax2.set_ylabel("peak memory (MB)", color="#D55E00")
        ax.grid(alpha=0.3)
    fig.savefig(out_dir / "performance.png", dpi=110)
    print(f"wrote {out_dir / 'performance_scaling.md'} and {out_dir / 'performance.png'}")


if __name__ == "__main__":
    main()
