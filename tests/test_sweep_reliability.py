"""Sweeps under hostile or careless use (issue 17): a query cannot write, finished runs are never
dropped, workers die with their driver, a lost scheduler ends the driver, one run per canonical
spec, and bad stores or huge requests are one line.

Every process a test starts runs in a session of its own (a Dask scheduler binds 127.0.0.1) and
the test stops it through its process group.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from initlab import initializers
from initlab.errors import InitlabError
from initlab.experiments import store as store_mod
from initlab.experiments.run import RESULT_COLUMNS, Measures, RunResult
from initlab.experiments.store import Store
from initlab.experiments.sweep import RunConfig, load_spec, parse_spec, run_sweep
from tests.test_sweep import (
    INITLAB,
    DaskCluster,
    _wait_partway,
    contents,
    group_alive,
    sigint_as_in_a_terminal,
    stop_group,
    uninterrupted,
    write_spec,
)

TINY = """[sweep]
name = "tiny"
data = "circles"
layers = [2, 4, 1]
hidden = "relu"
inits = {inits}
lr = 0.05
iterations = 20
seeds = {seeds}
chunk = 2
"""


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """The ``initlab`` command in a process of its own."""
    return subprocess.run([INITLAB, *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def run_cli(capsys):
    """The ``initlab`` command's entry point in this process (what `cli` does, a second faster):
    its exit code and what it printed; a traceback would be an exception here."""
    from initlab.cli import main

    def run(*args: str) -> subprocess.CompletedProcess:
        capsys.readouterr()
        with pytest.raises(SystemExit) as exit_:
            main(list(args))
        out = capsys.readouterr()
        return subprocess.CompletedProcess(args, exit_.value.code, out.out, out.err)

    return run


def one_line_error(r: subprocess.CompletedProcess, *words: str) -> str:
    """The contract for a user's error: exit 2, one line on stderr, no traceback, the problem named."""
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in r.stderr, r.stderr
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


def fake_store(path: Path, n: int = 3) -> Store:
    """A store holding ``n`` done runs with made-up numbers, written without training."""
    st = Store(path)
    configs = [RunConfig("circles", (2, 4, 1), "relu", "sigmoid", "he", 0.1, 10, s) for s in range(n)]
    st.write("fake", fake_result(configs), executor="local", attempts=1)
    return st


def fake_result(configs: list[RunConfig]) -> dict:
    """A task's result with made-up numbers (`RunResult`s built by hand, nothing trained)."""
    start = Measures(0, (4,), False, (None, None), (0.0, 0.0))
    end = Measures(10, (4,), False, (None, None), (0.1, 0.0))
    curves = {
        "iteration": [0, 10],
        "effective_width": np.array([[4], [4]]),
        "symmetric": np.array([False, False]),
        "saturated_fraction": np.full((2, 2), np.nan),
        "dead_fraction": np.array([[0.0, 0.0], [0.1, 0.0]]),
    }
    results = [RunResult(c, (0, 10), (0.7, 0.5), 0.8, 0.75, start, end, "fast", 0.01, curves) for c in configs]
    return {"results": results, "seconds": 0.03, "started": time.time(), "worker": "w:1"}


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, tuple]:
    return uninterrupted(tmp_path_factory.mktemp("reference"))


# -------------------------------------------------------------------------- 1: query
def test_query_cannot_overwrite_the_store_or_write_any_file(tmp_path: Path) -> None:
    st = fake_store(tmp_path / "x.duckdb")
    before = st.path.read_bytes()
    r = cli("sweep", "query", f"COPY (SELECT 'gone' AS x) TO '{st.path}' (FORMAT csv)", "--store", str(st.path))
    one_line_error(r, "query failed")
    assert st.path.read_bytes() == before
    assert st.query("SELECT count(*) FROM runs")[1] == [(3,)]
    target = tmp_path / "out"
    for sql in (
        f"COPY runs TO '{target}.csv'",
        f"EXPORT DATABASE '{target}'",
        "SELECT * FROM read_csv('/etc/hostname')",
        f"ATTACH '{target}.duckdb' AS o",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SET enable_external_access = true",
        "SET autoinstall_known_extensions = true",
        "RESET enable_external_access",
        "DROP TABLE runs",
        "DELETE FROM runs",
        "CREATE TABLE t AS SELECT 1",
    ):
        with pytest.raises(InitlabError, match="query failed"):
            st.query(sql)
    assert not list(tmp_path.glob("out*"))
    assert st.path.read_bytes() == before


def test_query_rows_and_time_are_bounded_and_empty_sql_is_one_line(tmp_path: Path, run_cli) -> None:
    st = fake_store(tmp_path / "x.duckdb")
    start = time.monotonic()
    r = run_cli("sweep", "query", "SELECT * FROM range(100000000)", "--store", str(st.path))
    took = time.monotonic() - start
    one_line_error(r, "more than 10,000 rows", "--max-rows")
    assert took < 5, took  # it was minutes and gigabytes
    r = run_cli(
        "sweep", "query", "SELECT * FROM range(20000)", "--store", str(st.path), "--max-rows", "20000", "--json"
    )
    assert r.returncode == 0, r.stderr
    assert len(json.loads(r.stdout)["rows"]) == 20000
    for sql in ("", "   ", "/* only a comment */", ";"):
        one_line_error(run_cli("sweep", "query", sql, "--store", str(st.path)), "no SQL statement")
    one_line_error(run_cli("sweep", "query", "SELECT 1", "--store", str(st.path), "--max-rows", "0"), "--max-rows")
    one_line_error(run_cli("sweep", "query", "SELECT 1", "--store", str(st.path), "--timeout", "0"), "--timeout")
    start = time.monotonic()
    with pytest.raises(InitlabError, match=r"stopped after 0.5 s \(the --timeout limit\)"):
        st.query("SELECT count(*) FROM range(1000000000000) a", timeout=0.5)
    assert time.monotonic() - start < 10


# ---------------------------------------------------------------- 7: run identity, store
def test_a_run_is_identified_by_its_canonical_spec() -> None:
    spec = parse_spec(TINY.format(inits='["he", "HE", " he", "random", "random:0.01", "random:1e-2"]', seeds=2))
    assert spec.init_specs() == ["he", "random:0.01"]
    assert len(spec.runs()) == 4
    # a scale crossed in keeps every digit: two scales, two runs, each its own scale
    spec = parse_spec(TINY.format(inits='["random"]', seeds=1) + "scales = [0.0123456789, 0.0123457]\n")
    assert [r.scale for r in spec.runs()] == [0.0123456789, 0.0123457]
    rng = np.random.default_rng
    for name in initializers.names():
        entry = initializers.REGISTRY[name]
        first = "tanh" if name == "critical" else 0.5  # critical's argument names an activation
        base = f"{name}:{first}" if entry.params and entry.params[0].default is None else name
        written = [base.upper(), f" {base} "]
        if entry.params:  # every argument written out, defaults included
            args = ",".join(str(p.default if p.default is not None else first) for p in entry.params)
            written.append(f"{name}:{args}")
        forms = {initializers.canonical(w) for w in written}
        assert len(forms) == 1, forms
        (form,) = forms
        assert initializers.canonical(form) == form
        if name != "lsuv":  # lsuv needs a batch to draw; its arguments are checked above
            assert np.array_equal(initializers.get(form)((5, 3), rng(0)), initializers.get(written[0])((5, 3), rng(0)))
    assert initializers.canonical("orthogonal:relu") == "orthogonal:relu"


def test_the_driver_lock_holds_through_a_symlink(tmp_path: Path) -> None:
    spec = load_spec(write_spec(tmp_path, iterations=20))
    real = Store(tmp_path / "real.duckdb")
    (tmp_path / "link.duckdb").symlink_to(tmp_path / "real.duckdb")
    with real.driver_lock(), pytest.raises(InitlabError, match="another sweep .* is writing"):
        run_sweep(spec, Store(tmp_path / "link.duckdb"), workers=1)


class Reader:
    """Another process holding the store open read-only (as a notebook or `duckdb -readonly` does)
    until released."""

    def __init__(self, path: Path) -> None:
        code = textwrap.dedent(f"""
            import duckdb, sys
            con = duckdb.connect({str(path)!r}, read_only=True)
            con.execute("SELECT count(*) FROM runs").fetchall()
            print("holding", flush=True)
            sys.stdin.read()
            """)
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        assert self.proc.stdout.readline().strip() == "holding"

    def release(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def test_finished_runs_are_kept_while_a_reader_holds_the_store(tmp_path: Path, monkeypatch) -> None:
    """A reader holds the store for the whole sweep: every finished run is kept in the store's
    journal and the driver says so; the next driver writes them in, training nothing again."""
    monkeypatch.setattr(store_mod, "LOCK_WAIT", 1.0)
    spec_path = tmp_path / "tiny.toml"
    spec_path.write_text(TINY.format(inits='["he", "zeros"]', seeds=2))
    spec = load_spec(spec_path)
    st = fake_store(tmp_path / "runs.duckdb")
    reader = Reader(st.path)
    try:
        out = run_sweep(spec, st, workers=1)
        assert (out.done, out.failed, out.journaled, out.unstored) == (4, 0, 4, 4)
        assert sorted(p.name for p in st.journal.iterdir()) and st.statuses().keys() >= {r.id for r in spec.runs()}
    finally:
        reader.release()
    again = run_sweep(spec, st, workers=1)
    assert (again.skipped, again.done, again.unstored, again.from_journal) == (4, 0, 0, 4)
    assert not st.journal.exists() or not list(st.journal.iterdir())
    _, rows = st.query("SELECT count(*), count(DISTINCT id) FROM runs WHERE sweep = 'tiny'")
    assert rows == [(4, 4)]
    _, rows = st.query("SELECT count(*) FROM curves c JOIN runs r ON c.run = r.id WHERE r.sweep = 'tiny'")
    assert rows == [(4 * 21,)]


def test_a_store_freed_during_the_sweep_gets_every_run(tmp_path: Path, monkeypatch) -> None:
    """The writes wait while the store is held and go in once it frees: nothing left behind."""
    monkeypatch.setattr(store_mod, "LOCK_WAIT", 30.0)
    st = fake_store(tmp_path / "runs.duckdb")
    configs = [RunConfig("circles", (2, 4, 1), "relu", "sigmoid", "zeros", 0.1, 10, s) for s in range(2)]
    reader = Reader(st.path)
    try:
        assert st.write("w", fake_result(configs[:1]), executor="local", attempts=1) is False
        assert st.journaled_runs() == 1
    finally:
        reader.release()
    # as if a driver had died between merging an entry and removing it, and another mid-entry
    (entry,) = st.journal.iterdir()
    shutil.copytree(entry, st.journal / f"{entry.name}-again")
    (st.journal / ".half-written").mkdir()
    assert st.write("w", fake_result(configs[1:]), executor="local", attempts=1) is True
    assert st.journaled_runs() == 0 and not st.journal.exists()
    assert st.query("SELECT count(*) FROM runs WHERE sweep = 'w'")[1] == [(2,)]
    assert st.query("SELECT count(*) FROM curves c JOIN runs r ON c.run = r.id WHERE r.sweep = 'w'")[1] == [(4,)]


BAD_STORES = [  # each starts the CLI (8 s): one in make test, the others in make test-all
    ("text", "hello\n", "not a DuckDB file"),
    pytest.param("csv", "a,b\n1,2\n", "not a DuckDB file", marks=pytest.mark.slow),
    pytest.param("empty", "", "not a DuckDB file", marks=pytest.mark.slow),
]


@pytest.mark.parametrize("kind, text, words", BAD_STORES)
def test_a_file_that_is_not_a_store_is_one_line(tmp_path: Path, run_cli, kind: str, text: str, words: str) -> None:
    bad = tmp_path / f"store.{kind}"
    bad.write_text(text)
    spec = write_spec(tmp_path, iterations=20)
    for args in (
        ("sweep", "run", str(spec)),
        ("sweep", "status"),
        ("sweep", "query", "SELECT 1"),
        ("sweep", "report", "--out", str(tmp_path / "rep")),
    ):
        one_line_error(run_cli(*args, "--store", str(bad)), words, str(bad.name))
    assert bad.read_text() == text and not Path(f"{bad}.lock").exists()


def test_a_store_that_cannot_be_written_is_one_line(tmp_path: Path, run_cli) -> None:
    spec = write_spec(tmp_path, iterations=20)
    one_line_error(
        run_cli("sweep", "run", str(spec), "--store", "/proc/initlab-test/runs.duckdb"),
        "cannot write store",
        "/proc/initlab-test/runs.duckdb",
    )
    (tmp_path / "file").write_text("x")
    one_line_error(
        run_cli("sweep", "run", str(spec), "--store", str(tmp_path / "file" / "runs.duckdb")), "cannot write store"
    )


# -------------------------------------------------------------------- 4: huge requests
def test_a_huge_sweep_is_refused_fast_naming_its_size_and_the_flag(tmp_path: Path, run_cli) -> None:
    spec = tmp_path / "huge.toml"
    spec.write_text(TINY.format(inits='["he", "zeros"]', seeds=5_000_000))
    start = time.monotonic()
    r = run_cli("sweep", "run", str(spec), "--store", str(tmp_path / "s.duckdb"))
    one_line_error(r, "10,000,000 runs", "100,000", "--max-runs")
    assert time.monotonic() - start < 5
    assert not (tmp_path / "s.duckdb").exists()
    one_line_error(
        run_cli("sweep", "status", str(spec), "--store", str(fake_store(tmp_path / "s.duckdb").path)),
        "10,000,000 runs",
        "--max-runs",
    )
    spec.write_text(TINY.format(inits='["he"]', seeds=10**12))
    one_line_error(run_cli("sweep", "run", str(spec), "--store", str(tmp_path / "s.duckdb")), "1,000,000,000,000 runs")
    with pytest.raises(InitlabError, match="more than the limit of 3"):
        run_sweep(parse_spec(TINY.format(inits='["he", "zeros"]', seeds=2)), Store(tmp_path / "t.duckdb"), max_runs=3)


# ------------------------------------------------------------------------------- Dask
def test_a_bad_dask_address_is_one_line(tmp_path: Path, run_cli) -> None:
    pytest.importorskip("distributed")
    spec = write_spec(tmp_path, iterations=20)
    for address in ("nonsense", "foo://127.0.0.1:1"):
        one_line_error(
            run_cli(
                "sweep",
                "run",
                str(spec),
                "--store",
                str(tmp_path / "s.duckdb"),
                "--executor",
                "dask",
                "--address",
                address,
            ),
            "Dask scheduler",
            address,
        )


def _driver(spec: Path, store: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [INITLAB, "sweep", "run", str(spec), "--store", str(store), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=sigint_as_in_a_terminal,
    )


@pytest.mark.slow
def test_dask_local_cluster_workers_die_with_a_killed_driver(tmp_path: Path, reference) -> None:
    pytest.importorskip("distributed")
    spec_path, ref = reference
    store = tmp_path / "runs.duckdb"
    proc = _driver(spec_path, store, "--executor", "dask", "--workers", "2")
    try:
        _wait_partway(proc, spec_path, store)
        os.kill(proc.pid, signal.SIGKILL)  # the driver alone: its workers must follow by themselves
        proc.wait(timeout=30)
        killed = time.monotonic()
        assert not group_alive(proc.pid, wait=10), "workers outlived their driver by 10 s"
        print(f"the driver's workers ended {time.monotonic() - killed:.2f} s after it")
    finally:
        stop_group(proc)
    out = run_sweep(load_spec(spec_path), Store(store), workers=2)
    assert out.skipped > 0 and out.skipped + out.done == 24
    assert contents(store) == ref


@pytest.mark.slow
def test_a_killed_dask_scheduler_ends_the_driver_keeping_what_was_stored(tmp_path: Path, reference) -> None:
    pytest.importorskip("distributed")
    spec_path, ref = reference
    cluster = DaskCluster(tmp_path, workers=2)
    store = tmp_path / "runs.duckdb"
    proc = _driver(spec_path, store, "--executor", "dask", "--address", cluster.address)
    try:
        seen = _wait_partway(proc, spec_path, store)
        os.killpg(cluster.procs[0].pid, signal.SIGKILL)  # the scheduler, mid-sweep
        killed = time.monotonic()
        _, err = proc.communicate(timeout=60)
        ended = time.monotonic() - killed
    finally:
        stop_group(proc)
        cluster.stop()
    assert proc.returncode == 2, err
    assert len(err.strip().splitlines()) == 1 and "lost the Dask scheduler" in err, err
    assert ended < 45, ended
    print(f"the driver ended {ended:.1f} s after the scheduler's death")
    st = Store(store)
    done = st.query("SELECT count(*) FROM runs WHERE status = 'done'")[1][0][0]
    assert done >= seen["done"]
    out = run_sweep(load_spec(spec_path), st, workers=2)
    assert out.skipped == done and out.done == 24 - done
    assert contents(store) == ref


def test_train_compare_and_a_sweep_give_one_network_the_same_final_cost_to_the_bit(tmp_path: Path, capsys) -> None:
    """Three faces, one network (circles, 2-10-5-1 relu, he, seed 3): `initlab train --json`,
    member 0 of `initlab compare --json` (tracked, in an ensemble of 2) and a one-run sweep read
    back by `initlab sweep query --json` (which used to print 6 digits)."""
    import json

    from initlab import cli

    def run(argv):
        with pytest.raises(SystemExit) as e:
            cli.main(argv)
        out, err = capsys.readouterr()
        assert e.value.code == 0, err
        return json.loads(out)

    common = ["--data", "circles", "--layers", "2,10,5,1", "--hidden", "relu", "--lr", "0.01", "--iterations", "300"]
    train = run(["train", *common, "--init", "he", "--seed", "3", "--json"])
    compared = run(["compare", *common, "--inits", "he", "--seeds", "3,4", "--json"])
    member = [r for r in compared["results"] if r["config"]["seed"] == 3][0]
    spec = tmp_path / "one.toml"
    spec.write_text(
        '[sweep]\nname = "one"\ndata = "circles"\nlayers = [2, 10, 5, 1]\nhidden = "relu"\n'
        'inits = ["he"]\nlr = 0.01\niterations = 300\nseeds = [3]\n'
    )
    store = str(tmp_path / "one.duckdb")
    with pytest.raises(SystemExit) as e:
        cli.main(["sweep", "run", str(spec), "--store", store, "--workers", "1"])
    assert e.value.code in (0, None), capsys.readouterr().err
    capsys.readouterr()
    table = run(["sweep", "query", "--store", store, "--json", "SELECT * FROM runs"])
    swept = dict(zip(table["columns"], table["rows"][0], strict=True))
    # one RunResult, three faces: the same keys, and the same numbers to the bit
    assert set(train) == set(member), set(train) ^ set(member)
    assert train["final_cost"] == member["final_cost"] == swept["final_cost"]
    assert train["config"] == {**member["config"], "track": []}  # compare also tracks the weights
    assert train["id"] == swept["id"]  # the same RunConfig, so the same identity
    for key in RESULT_COLUMNS:  # the store's measured columns are RunResult.row()'s
        if key != "seconds":
            assert train[key] == swept[key] == member[key], key


def test_a_store_of_the_first_version_is_widened_and_takes_big_seeds(tmp_path: Path) -> None:
    """The first store kept seeds in INTEGER and had no diverged_at: a seed of 3e9 (or a
    data_seed) failed to go in and its task waited in the journal for ever (a new-user trial)."""
    import duckdb

    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE runs (id VARCHAR PRIMARY KEY, sweep VARCHAR, seed INTEGER, data_seed INTEGER)")
    con.close()
    st = Store(path)
    configs = [
        RunConfig("circles", (2, 4, 1), "relu", "sigmoid", "he", 0.1, 10, s, data_seed=3 * 10**9)
        for s in (1, 2**63 - 1)
    ]
    assert st.write("big", fake_result(configs), executor="local", attempts=1) is True
    _, rows = st.query("SELECT seed, data_seed, diverged_at FROM runs ORDER BY seed")
    assert rows == [(1, 3 * 10**9, None), (2**63 - 1, 3 * 10**9, None)]
