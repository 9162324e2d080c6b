"""Sweeps: spec validation, the store, resume after SIGKILL, retries, Ctrl-C, and Dask.

Every process a test starts (sweep drivers, their workers, a Dask scheduler and workers) runs in
a session of its own, bound to 127.0.0.1, and is stopped by the test through its process group.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from initlab import data as datasets
from initlab.errors import InitlabError
from initlab.experiments.store import Store
from initlab.experiments.sweep import RunConfig, load_spec, make_tasks, parse_spec, run_sweep, run_task, sweep_status
from initlab.nn import Network

INITLAB = str(Path(sys.executable).parent / "initlab")
DASK = str(Path(sys.executable).parent / "dask")

SPEC = """[sweep]
name = "test-inits"
data = "circles"
layers = [2, 10, 5, 1]
hidden = "relu"
inits = ["zeros", "random:0.01", "he"]
lr = 0.05
iterations = {iterations}
seeds = 8
track = ["symmetry", "saturation"]
chunk = 4
"""


def write_spec(tmp_path: Path, iterations: int = 2000, name: str = "spec.toml") -> Path:
    p = tmp_path / name
    p.write_text(SPEC.format(iterations=iterations))
    return p


def contents(path: Path) -> tuple[list, list]:
    """What a sweep stored, in a fixed order: run numbers and curves (not timings)."""
    st = Store(path)
    _, runs = st.query(
        "SELECT id, status, final_cost, initial_cost, train_accuracy, test_accuracy, "
        "effective_width, symmetric_end, saturated_fraction, dead_fraction "
        "FROM runs ORDER BY id"
    )
    _, curves = st.query(
        "SELECT run, iteration, cost, effective_width, saturated_fraction, dead_fraction "
        "FROM curves ORDER BY run, iteration"
    )
    return runs, curves


def stop_group(proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    """Stop a process started with start_new_session=True and everything in its group."""
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)


def group_alive(pgid: int, wait: float = 5.0) -> bool:
    """Whether a live (not zombie) process of the group remains after ``wait`` seconds."""
    import psutil

    deadline = time.monotonic() + wait
    while True:
        alive = []
        for p in psutil.process_iter(["status"]):
            try:
                if os.getpgid(p.pid) == pgid and p.info["status"] != psutil.STATUS_ZOMBIE:
                    alive.append(p.pid)
            except (ProcessLookupError, psutil.Error):
                pass
        if not alive or time.monotonic() > deadline:
            return bool(alive)
        time.sleep(0.1)


def uninterrupted(tmp: Path) -> tuple[Path, tuple]:
    """The test spec swept without interruption on the local executor: the numbers to match."""
    spec = write_spec(tmp)
    store = tmp / "runs.duckdb"
    out = run_sweep(load_spec(spec), Store(store), workers=2)
    assert (out.done, out.failed) == (24, 0)
    return spec, contents(store)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, tuple]:
    return uninterrupted(tmp_path_factory.mktemp("reference"))


# ------------------------------------------------------------------------------ the spec
BAD_SPECS = [
    ('iterations = "many"', "iterations", "positive integer"),
    ("inits = []", "inits", "non-empty list"),
    ('inits = ["he", "hee_normal"]', "inits", "hee_normal"),
    ("seeds = 0", "seeds", "count of seeds"),
    ("seeds = [1, 1]", "seeds", "repeats"),
    ('output = "relu"', "output", "relu"),  # trained, then stored as failed
    ("seeds = [3, 18446744073709551616]", "seeds", "from 0 to 2**63 - 1"),  # the store's BIGINT
    ("layers = [3, 10, 1]", "layers", "do not fit circles"),
    ("layers = [2, 0, 1]", "layers", "at least 1 unit"),
    ('hidden = ["relu", "sigmoidd"]', "hidden", "sigmoid"),
    ("lr = -0.1", "lr", "positive number"),
    ('track = ["symmetry", "weights"]', "track", "weights"),
    ("seed = 3", "seed", "did you mean seeds"),
    ('scales = [0.1]\ninits = ["he"]', "scales", "no init takes a SCALE"),
    ('data = "circls"', "data", "circles"),
    ("residual = 2", "residual", "one width, got hidden widths [10, 5]"),
    ('norm = "layernorm"', "norm", "belongs to residual networks"),
    ('residual = 1\nnorm = "batchnorm"', "norm", "layernorm"),
    ('residual = 1\ngate = "yes"', "gate", "true, false or a gate's starting value"),
    ('bias = ["zeros", "randomm:0.1"]', "bias", "randomm:0.1"),
    ("examples = 0", "examples", "positive integer"),
    ("examples = 100000", "examples", "more than the"),
]


@pytest.mark.parametrize("line, key, words", BAD_SPECS)
def test_bad_spec_names_key_line_and_expectation(line: str, key: str, words: str) -> None:
    base = {k.split("=")[0].strip(): k for k in SPEC.format(iterations=100).splitlines()[1:] if "=" in k}
    for new in line.splitlines():
        base[new.split("=")[0].strip()] = new
    text = "[sweep]\n" + "\n".join(base.values()) + "\n"
    lineno = next(i for i, t in enumerate(text.splitlines(), 1) if t.startswith(f"{key} ") or t.startswith(f"{key}="))
    with pytest.raises(InitlabError) as err:
        parse_spec(text, "bad.toml")
    msg = str(err.value)
    assert f"bad.toml, line {lineno}" in msg and f"'{key}'" in msg and words in msg, msg


def test_spec_file_errors_are_one_line_from_the_cli(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        "[sweep]\nname = 'x'\ndata = 'circles'\nlayers = [2, 3, 1]\nhidden = 'relu'\n"
        "inits = ['he']\nlr = 0.1\niterations = 10\nseeds = 2\nchunk = 0\n"
    )
    r = subprocess.run(
        [INITLAB, "sweep", "run", str(bad), "--store", str(tmp_path / "s.duckdb")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        f"error: {bad}, line 10: key 'chunk' must be a positive integer: most networks in one "
        "ensemble task (default 256); got 0"
    ]
    assert not (tmp_path / "s.duckdb").exists()
    for text, words in (
        ("[sweep\nname = 1", "not valid TOML"),
        ("[other]\nx = 1", r"needs a \[sweep\] table"),
        ("[sweep]\nname = 'x'", "lacks the key 'data'"),
    ):
        with pytest.raises(InitlabError, match=words):
            parse_spec(text)


def test_grid_crosses_scales_seeds_and_architectures() -> None:
    spec = parse_spec(
        "[sweep]\nname = 'g'\ndata = 'circles'\nlayers = [[2, 4, 1], [2, 8, 8, 1]]\n"
        "hidden = ['relu', 'tanh']\ninits = ['random', 'he', 'variance_scaling:2']\n"
        "scales = [0.01, 1, 10]\nlr = [0.1, 0.01]\niterations = 10\nseeds = [3, 7]\n"
    )
    assert spec.init_specs() == ["random:0.01", "random:1", "random:10", "he", "variance_scaling:2"]
    runs = spec.runs()
    assert len(runs) == 2 * 2 * 5 * 2 * 2
    assert len({r.id for r in runs}) == len(runs)
    assert {r.seed for r in runs} == {3, 7} and {r.layers for r in runs} == {(2, 4, 1), (2, 8, 8, 1)}
    assert [r.scale for r in runs[:5:2]] == [0.01, 0.01, 1.0]
    # same config, same id, whatever the sweep it came from
    again = parse_spec(
        "[sweep]\nname = 'other'\ndata = 'circles'\nlayers = [2, 4, 1]\nhidden = 'relu'\n"
        "inits = ['random:0.01']\nlr = 0.1\niterations = 10\nseeds = [3]\n"
    ).runs()
    assert again[0].id in {r.id for r in runs}
    tasks = make_tasks(runs, chunk=7)
    assert sum(len(t.runs) for t in tasks) == len(runs) and max(len(t.runs) for t in tasks) <= 7
    assert all(len({r.group for r in t.runs}) == 1 for t in tasks)


def test_bias_is_a_grid_axis_and_examples_trains_on_the_first_examples() -> None:
    text = (
        "[sweep]\nname = 'b'\ndata = 'circles'\nlayers = [2, 4, 1]\nhidden = 'tanh'\n"
        "inits = ['variance_scaling:1.5']\nlr = 0.1\niterations = 20\nseeds = [1, 2]\n"
    )
    plain = parse_spec(text).runs()
    spec = parse_spec(text + "bias = ['zeros', 'random:0.2']\nexamples = 50\n")
    runs = spec.runs()
    assert spec.size == len(runs) == 4 and {r.bias for r in runs} == {"zeros", "random:0.2"}
    assert all(r.examples == 50 for r in runs) and len({r.id for r in runs}) == 4
    assert not {r.id for r in plain} & {r.id for r in runs}  # other runs, other ids
    # bias "zeros" is each init's own here: without examples its runs are the plain sweep's
    again = parse_spec(text + "bias = 'zeros'\n").runs()
    assert [r.id for r in again] == [r.id for r in plain]
    chosen = [r for r in runs if r.bias == "random:0.2"]
    result = run_task(make_tasks(chosen, chunk=8)[0])
    ds = datasets.load("circles")
    for r, res in zip(chosen, result["results"], strict=True):
        net = Network([2, 4, 1], hidden="tanh", init=r.init, bias="random:0.2", seed=r.seed)
        h = net.fit(ds.X_train[:, :50], ds.Y_train[:, :50], lr=0.1, iterations=20)
        assert res.final_cost == h.final_cost


def test_residual_keys_are_grid_axes_and_a_run_is_the_network_trained_alone() -> None:
    spec = parse_spec(
        "[sweep]\nname = 'r'\ndata = 'circles'\nlayers = [2, 6, 6, 6, 1]\nhidden = 'relu'\n"
        "inits = ['he', 'xavier']\nlr = 0.1\niterations = 20\nseeds = [1]\n"
        "residual = [0, 1, 2]\ngate = [false, 0.5]\nnorm = ['none', 'layernorm']\n"
    )
    runs = spec.runs()
    assert spec.size == len(runs) == 2 * (1 + 2 * 2 * 2)  # plain once; m = 1 and 2 by gate and norm
    assert len({r.id for r in runs}) == len(runs)
    plain = [r for r in runs if r.residual is None]
    assert len(plain) == 2 and all(r.gate is None and r.norm is None for r in plain)
    # a plain run keeps the id it has in a sweep without the keys
    before = parse_spec(
        "[sweep]\nname = 'p'\ndata = 'circles'\nlayers = [2, 6, 6, 6, 1]\nhidden = 'relu'\n"
        "inits = ['he', 'xavier']\nlr = 0.1\niterations = 20\nseeds = [1]\n"
    ).runs()
    assert {r.id for r in before} == {r.id for r in plain}
    ds = datasets.load("circles")
    chosen = [r for r in runs if r.residual == 2 and r.gate == 0.5 and r.norm == "layernorm"]
    result = run_task(make_tasks(chosen, chunk=8)[0])
    for r, res in zip(chosen, result["results"], strict=True):
        net = Network(list(r.layers), hidden="relu", init=r.init, seed=1, residual=2, gate=0.5, norm="layernorm")
        h = net.fit(ds.X_train, ds.Y_train, lr=0.1, iterations=20)
        assert res.final_cost == h.final_cost  # the same engine: the same bits


def test_a_task_equals_the_networks_trained_alone() -> None:
    ds = datasets.load("circles")
    runs = [
        RunConfig("circles", (2, 10, 5, 1), "tanh", "sigmoid", init, lr, 300, seed, ("symmetry",), 30)
        for init, lr, seed in (("he", 0.05, 0), ("random:0.01", 0.1, 1), ("zeros", 0.05, 2))
    ]
    result = run_task(make_tasks(runs, chunk=8)[0])
    for r, res in zip(runs, result["results"], strict=True):
        net = Network([2, 10, 5, 1], hidden="tanh", init=r.init, seed=r.seed)
        h = net.fit(ds.X_train, ds.Y_train, lr=r.lr, iterations=300, engine="reference")
        assert res.config.id == r.id
        assert abs(res.final_cost - h.final_cost) < 1e-9
        assert res.train_accuracy == net.accuracy(ds.X_train, ds.Y_train)
    zeros = result["results"][2].row()
    assert zeros["effective_width"] == [1, 1] and zeros["symmetric_end"]
    assert sum(len(r.curve_rows()["run"]) for r in result["results"]) == 3 * 11  # iterations 0, 30, ..., 300


# ----------------------------------------------------------------------- local executor
def test_local_sweep_stores_each_run_once_and_resume_skips(tmp_path: Path, reference) -> None:
    spec_path, ref = reference
    spec = load_spec(spec_path)
    store = Store(tmp_path / "runs.duckdb")
    first = run_sweep(spec, store, workers=1)
    assert (first.total, first.done, first.skipped) == (24, 24, 0)
    assert contents(store.path) == ref  # one worker or two: the same numbers
    again = run_sweep(spec, store, workers=2)
    assert (again.done, again.skipped) == (0, 24)
    _, rows = store.query("SELECT count(*), count(DISTINCT id), min(attempts), max(attempts) FROM runs")
    assert rows == [(24, 24, 1, 1)]
    _, per_run = store.query("SELECT count(*) FROM curves GROUP BY run")
    assert {n for (n,) in per_run} == {101}
    _, zeros = store.query("SELECT DISTINCT effective_width FROM runs WHERE init = 'zeros'")
    assert zeros == [([1, 1],)]


def always_fail_zeros(task):
    if any(r.init == "zeros" for r in task.runs):
        raise RuntimeError(f"injected failure in task {task.id}")
    return run_task(task)


def die_once(task):
    """Kill this worker (SIGKILL, mid-task) the first time it sees the task holding seed 3."""
    marker = Path(os.environ["INITLAB_TEST_MARKERS"]) / f"died-{task.id}"
    if any(r.seed == 3 for r in task.runs) and not marker.exists():
        marker.write_text("x")
        os.kill(os.getpid(), signal.SIGKILL)
    return run_task(task)


@pytest.mark.slow  # three sweeps of 24 runs (make test keeps the SIGKILL-and-resume law)
def test_a_raising_task_is_retried_then_recorded_failed_and_a_rerun_completes(tmp_path: Path, reference) -> None:
    spec_path, ref = reference
    spec = load_spec(spec_path)
    store = Store(tmp_path / "runs.duckdb")
    out = run_sweep(spec, store, workers=2, retries=1, fn=always_fail_zeros)
    assert (out.done, out.failed) == (16, 8)
    _, rows = store.query("SELECT init, status, attempts, error FROM runs WHERE status = 'failed'")
    assert {r[0] for r in rows} == {"zeros"} and {r[2] for r in rows} == {2}
    assert all("RuntimeError: injected failure" in r[3] for r in rows)
    r = subprocess.run(
        [INITLAB, "sweep", "status", str(spec_path), "--store", str(store.path), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert json.loads(r.stdout)["spec"] == {"name": "test-inits", "total": 24, "done": 16, "failed": 8, "pending": 0}
    fixed = run_sweep(spec, store, workers=2)
    assert (fixed.done, fixed.skipped, fixed.failed) == (8, 16, 0)
    assert contents(store.path) == ref


@pytest.mark.slow  # a worker dies and is replaced: 20 s on 2 cores (make test keeps the SIGKILL-and-resume law)
def test_a_worker_killed_mid_task_is_retried_and_stored_once(tmp_path: Path, reference, monkeypatch) -> None:
    spec_path, ref = reference
    monkeypatch.setenv("INITLAB_TEST_MARKERS", str(tmp_path))
    store = Store(tmp_path / "runs.duckdb")
    out = run_sweep(load_spec(spec_path), store, workers=2, fn=die_once)
    assert (out.done, out.failed) == (24, 0)
    assert list(tmp_path.glob("died-*"))  # a worker really died
    _, rows = store.query("SELECT count(*), count(DISTINCT id), max(attempts) FROM runs")
    assert rows[0][:2] == (24, 24) and rows[0][2] >= 2
    assert contents(store.path) == ref


def slow_or_die_once(task: str) -> dict:
    """``slow``: two seconds of work; ``die-*``: SIGKILL this worker the first time."""
    marker = Path(os.environ["INITLAB_TEST_MARKERS"]) / f"died-{task}"
    if task.startswith("die") and not marker.exists():
        marker.write_text("x")
        os.kill(os.getpid(), signal.SIGKILL)
    if task == "slow":
        time.sleep(2)
    return {"task": task}


@pytest.mark.slow  # workers die and are replaced (make test keeps the SIGKILL-and-resume law)
def test_a_task_beside_dying_workers_is_not_failed_for_their_deaths(tmp_path: Path, monkeypatch) -> None:
    """Three workers die, each the first time its task runs, while a slow task runs beside them;
    the pool cannot say whose worker died, so only a death while running alone counts against
    ``retries``: with retries=1 every task still ends done, each dying task started twice."""
    from initlab.experiments.executors import run_local

    monkeypatch.setenv("INITLAB_TEST_MARKERS", str(tmp_path))
    tasks = ["slow", "die-a", "die-b", "die-c"]
    outs = {o.task: o for o in run_local(tasks, slow_or_die_once, workers=2, retries=1)}
    assert {t: (o.result, o.error) for t, o in outs.items()} == {t: ({"task": t}, None) for t in tasks}
    assert sorted(p.name for p in tmp_path.glob("died-*")) == ["died-die-a", "died-die-b", "died-die-c"]
    assert all(outs[t].attempts >= 2 for t in tasks[1:])


def sigint_as_in_a_terminal() -> None:
    """A process started from a background job inherits SIGINT ignored, and Python then keeps
    it ignored; a user at a terminal has it at its default. Tests that press Ctrl-C restore it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _cli_sweep(spec: Path, store: Path) -> subprocess.Popen:
    """The CLI driver on one worker: six tasks one after another, a second or more each."""
    return subprocess.Popen(
        [INITLAB, "sweep", "run", str(spec), "--store", str(store), "--workers", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=sigint_as_in_a_terminal,
    )


def _status(spec: Path, store: Path) -> dict | None:
    """``initlab sweep status --json``: what another process reads from the store."""
    r = subprocess.run(
        [INITLAB, "sweep", "status", str(spec), "--store", str(store), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["spec"]


def _wait_partway(proc: subprocess.Popen, spec: Path, store: Path) -> dict:
    """Poll the store (read-only, while the sweep writes it) until one to three of the six tasks
    are stored."""

    parsed = load_spec(spec)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        st = sweep_status(parsed, Store(store))["spec"] if store.exists() else None
        if st and 0 < st["done"] <= 12:
            return st
        assert not st or st["done"] <= 12, f"missed the first tasks: {st}"
        time.sleep(0.05)
    stop_group(proc)
    raise AssertionError("the sweep never got partway")


def test_sigkill_mid_sweep_then_resume_equals_an_uninterrupted_sweep(tmp_path: Path, reference) -> None:
    spec_path, ref = reference
    store = tmp_path / "runs.duckdb"
    proc = _cli_sweep(spec_path, store)
    seen = _wait_partway(proc, spec_path, store)
    # read again while the sweep writes, in-process: the CLI's own start-up (seconds on a loaded
    # machine) let the sweep finish before the kill (seen under pytest -n 2)
    during = sweep_status(load_spec(spec_path), Store(store))["spec"]
    assert proc.poll() is None and seen["done"] <= during["done"] < 24
    os.kill(proc.pid, signal.SIGKILL)  # the driver alone, mid-sweep: its workers must follow by themselves
    proc.wait(timeout=30)
    try:
        assert not group_alive(proc.pid, wait=10), "workers or the resource tracker outlived the driver by 10 s"
    finally:
        stop_group(proc)
    after_kill = _status(spec_path, store)
    assert after_kill["done"] >= seen["done"] and after_kill["done"] < 24
    r = subprocess.run(
        [INITLAB, "sweep", "run", str(spec_path), "--store", str(store), "--workers", "2"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    assert f"{after_kill['done']} already done, {24 - after_kill['done']} done now" in r.stdout
    assert contents(store) == ref


@pytest.mark.slow  # a CLI sweep interrupted, then resumed: 25 s on 2 cores (make test keeps the SIGKILL-and-resume law)
def test_ctrl_c_stops_cleanly_keeping_what_finished(tmp_path: Path, reference) -> None:
    spec_path, ref = reference
    store = tmp_path / "runs.duckdb"
    proc = _cli_sweep(spec_path, store)
    _wait_partway(proc, spec_path, store)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C sends: the whole group
    try:
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            stop_group(proc)
    assert proc.returncode == 130, err
    assert "interrupted: finished runs are stored" in err and "Traceback" not in err
    assert not group_alive(proc.pid), "workers outlived the driver"
    kept = _status(spec_path, store)
    assert 0 < kept["done"] < 24 and kept["failed"] == 0
    out = run_sweep(load_spec(spec_path), Store(store), workers=2)
    assert out.skipped == kept["done"] and out.done == 24 - kept["done"]
    assert contents(store) == ref


# -------------------------------------------------------------------------------- Dask
class DaskCluster:
    """``dask scheduler`` and ``dask worker`` processes on 127.0.0.1, stopped by their ids."""

    def __init__(self, tmp: Path, workers: int) -> None:
        env = {**os.environ, "NUMBA_NUM_THREADS": "1"}
        sched_file = tmp / "scheduler.json"
        log = open(tmp / "dask.log", "w")  # noqa: SIM115 - closed in stop()
        self.log = log
        common = dict(stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env)
        self.procs = [
            subprocess.Popen(
                [
                    DASK,
                    "scheduler",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    "0",
                    "--no-dashboard",
                    "--scheduler-file",
                    str(sched_file),
                ],
                **common,
            )
        ]
        deadline = time.monotonic() + 60
        while not sched_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.2)
        self.address = json.loads(sched_file.read_text())["address"]
        assert self.address.startswith("tcp://127.0.0.1:")
        for _ in range(workers):
            self.procs.append(
                subprocess.Popen(
                    [
                        DASK,
                        "worker",
                        "--scheduler-file",
                        str(sched_file),
                        "--nthreads",
                        "1",
                        "--no-nanny",
                        "--host",
                        "127.0.0.1",
                        "--no-dashboard",
                        "--death-timeout",
                        "60",
                    ],
                    **common,
                )
            )
        from distributed import Client

        with Client(self.address, timeout="30s") as c:
            c.wait_for_workers(workers, timeout=90)

    def worker_pids(self) -> set[int]:
        return {p.pid for p in self.procs[1:] if p.poll() is None}

    def stop(self) -> None:
        """Workers first, then the scheduler: SIGTERM, and SIGKILL after 10 s."""
        for group in (self.procs[1:], self.procs[:1]):
            for p in group:
                if p.poll() is None:
                    os.killpg(p.pid, signal.SIGTERM)
            for p in group:
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait(timeout=10)
        self.log.close()


@pytest.fixture
def dask_cluster(tmp_path: Path):
    pytest.importorskip("distributed", reason="the dask extra is part of make test")
    cluster = DaskCluster(tmp_path, workers=2)
    yield cluster
    cluster.stop()
    assert not cluster.worker_pids()


def test_dask_cluster_gives_the_local_executors_numbers(tmp_path: Path, reference, dask_cluster) -> None:
    spec_path, ref = reference
    store = tmp_path / "dask.duckdb"
    r = subprocess.run(
        [
            INITLAB,
            "sweep",
            "run",
            str(spec_path),
            "--store",
            str(store),
            "--executor",
            "dask",
            "--address",
            dask_cluster.address,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    assert contents(store) == ref
    _, rows = Store(store).query("SELECT DISTINCT executor FROM runs")
    assert rows == [("dask",)]


@pytest.mark.slow  # a Dask worker dies and is replaced (make test keeps the SIGKILL-and-resume law)
def test_dask_worker_killed_mid_task_is_retried_and_stored_once(tmp_path: Path, reference, dask_cluster) -> None:
    from distributed import Client

    spec_path, ref = reference
    store = Store(tmp_path / "dask.duckdb")
    with Client(dask_cluster.address, timeout="30s") as c:
        pids = c.run(os.getpid)  # worker address -> process id
    outcome = {}
    driver = threading.Thread(
        target=lambda: outcome.update(
            out=run_sweep(load_spec(spec_path), store, executor="dask", address=dask_cluster.address)
        )
    )
    driver.start()
    killed = None
    with Client(dask_cluster.address, timeout="30s") as c:
        deadline = time.monotonic() + 60
        while killed is None and time.monotonic() < deadline:
            busy = [w for w, tasks in c.processing().items() if tasks]
            for w in busy:
                pid = pids.get(w)
                if pid in dask_cluster.worker_pids():
                    time.sleep(0.3)  # well inside a ~1.5 s task
                    os.kill(pid, signal.SIGKILL)
                    killed = pid
                    break
            time.sleep(0.05)
    driver.join(timeout=300)
    assert killed is not None, "no worker was ever busy"
    assert not driver.is_alive()
    out = outcome["out"]
    assert (out.done, out.failed) == (24, 0)
    assert contents(store.path) == ref
    _, rows = store.query("SELECT count(*), count(DISTINCT id) FROM runs")
    assert rows == [(24, 24)]
    # the task that ran on the killed worker started twice: the scheduler's second start counts
    _, rows = store.query("SELECT attempts, count(*) FROM runs GROUP BY attempts ORDER BY attempts")
    assert rows[-1][0] >= 2 and sum(n for a, n in rows if a >= 2) % 4 == 0, rows


def test_status_and_query_errors(tmp_path: Path) -> None:
    missing = tmp_path / "none.duckdb"
    r = subprocess.run(
        [INITLAB, "sweep", "status", "--store", str(missing)], capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 2 and "does not exist" in r.stderr
    spec = write_spec(tmp_path, iterations=20)
    run_sweep(load_spec(spec), Store(tmp_path / "s.duckdb"), workers=1)
    r = subprocess.run(
        [INITLAB, "sweep", "query", "SELECT nope FROM runs", "--store", str(tmp_path / "s.duckdb")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2 and r.stderr.startswith("error: query failed:") and "nope" in r.stderr
    r = subprocess.run(
        [INITLAB, "sweep", "query", "DELETE FROM runs", "--store", str(tmp_path / "s.duckdb")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2 and "read-only" in r.stderr
    r = subprocess.run(
        [
            INITLAB,
            "sweep",
            "query",
            "SELECT init, count(*) AS n FROM runs GROUP BY init ORDER BY init",
            "--store",
            str(tmp_path / "s.duckdb"),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert json.loads(r.stdout) == {"columns": ["init", "n"], "rows": [["he", 8], ["random:0.01", 8], ["zeros", 8]]}


def test_report_has_tables_and_figures(tmp_path: Path) -> None:
    spec = tmp_path / "s.toml"
    spec.write_text(
        "[sweep]\nname = 'rep'\ndata = 'circles'\nlayers = [2, 6, 1]\nhidden = 'tanh'\n"
        "inits = ['random', 'he']\nscales = [0.01, 1]\nlr = 0.1\niterations = 50\nseeds = 3\n"
        "track = ['symmetry']\n"
    )
    run_sweep(load_spec(spec), Store(tmp_path / "s.duckdb"), workers=1)
    r = subprocess.run(
        [INITLAB, "sweep", "report", "--store", str(tmp_path / "s.duckdb"), "--out", str(tmp_path / "rep")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    html = (tmp_path / "rep" / "report.html").read_text()
    assert html.count("<img") == 1 and "random:0.01" in html and "http" not in html.replace("http-equiv", "")
    res = json.loads((tmp_path / "rep" / "results.json").read_text())
    rows = res["groups"][0]["rows"]
    assert [r["init"] for r in rows] == ["he", "random:0.01", "random:1"]
    assert all(r["runs"] == 3 for r in rows)
    assert np.isclose(
        rows[0]["train_mean"],
        Store(tmp_path / "s.duckdb").query("SELECT avg(train_accuracy) FROM runs WHERE init = 'he'")[1][0][0],
    )


def test_a_second_driver_on_the_same_store_is_refused(tmp_path: Path) -> None:
    spec = load_spec(write_spec(tmp_path, iterations=20))
    store = Store(tmp_path / "s.duckdb")
    with store.driver_lock():  # as if another `initlab sweep run` were writing this store
        with pytest.raises(InitlabError, match=rf"another sweep \(pid {os.getpid()}\) is writing"):
            run_sweep(spec, Store(tmp_path / "s.duckdb"), workers=1)
    assert not (tmp_path / "s.duckdb").exists()
    assert run_sweep(spec, store, workers=1).done == 24  # the lock is gone with its holder


def test_a_recipe_that_cannot_draw_a_grid_point_is_left_out_and_said(tmp_path: Path) -> None:
    """fixup crossed with residual = 0 (a plain network) cannot be drawn: it is left out of the
    runs and listed, and the plain he runs beside it are made (a trial found every plain run of
    such a grid stored as failed with fixup's error)."""
    spec = parse_spec(
        "[sweep]\nname = 'r'\ndata = 'circles'\nlayers = [2, 6, 6, 6, 6, 6, 1]\nhidden = 'relu'\n"
        "inits = ['he', 'fixup', 't_fixup']\nlr = 0.1\niterations = 5\nseeds = [1, 2]\nresidual = [0, 1, 2]\n"
    )
    runs = spec.runs()
    made = {(r.init.partition(":")[0], r.residual) for r in runs}  # canonical: fixup:he
    assert made == {("he", None), ("he", 1), ("he", 2), ("fixup", 1), ("fixup", 2), ("t_fixup", 2)}
    assert spec.size == len(runs) == 2 * len(made)
    left = {(s["init"].partition(":")[0], s.get("residual")) for s in spec.skipped()}
    assert left == {("fixup", None), ("t_fixup", None), ("t_fixup", 1)}
    assert all("residual" in s["reason"] or "branch" in s["reason"] for s in spec.skipped())
    with pytest.raises(InitlabError, match="none of the grid's networks"):
        parse_spec(
            "[sweep]\nname = 'r'\ndata = 'circles'\nlayers = [2, 6, 6, 1]\nhidden = 'relu'\n"
            "inits = ['fixup']\nlr = 0.1\niterations = 5\nseeds = 1\n"
        )


def test_a_learned_gate_and_a_gate_starting_at_1_are_told_apart_in_the_store(tmp_path: Path) -> None:
    """gate = true (rezero: learned, starting at 0) and gate = 1.0 are two runs; the store's gate
    column said 1.0 for both (a trial found the two experiments mixed by GROUP BY gate)."""
    spec = parse_spec(
        "[sweep]\nname = 'g'\ndata = 'circles'\nlayers = [2, 6, 6, 1]\nhidden = 'relu'\n"
        "inits = ['rezero']\nlr = 0.1\niterations = 5\nseeds = [1]\nresidual = 1\ngate = [true, 1.0]\n"
    )
    store = Store(tmp_path / "g.duckdb")
    run_sweep(spec, store, workers=1)
    _, rows = store.query("SELECT gate, count(*) FROM runs GROUP BY gate ORDER BY gate")
    assert rows == [("1", 1), ("learned", 1)]
