"""The results store: one embedded DuckDB file, written only by a sweep's driver.

Tables:

- ``runs``: one row per run, keyed by the run's config hash (``id``): the config's columns,
  ``status`` (``done`` or ``failed``), final metrics, ``attempts``, timings, the executor and
  worker, and the error text of a failed run.
- ``curves``: ``(run, iteration)`` -> cost, effective width per hidden layer, saturated and
  dead fraction per layer (what the spec tracked; NULL otherwise).

A task's runs and curves are written in one transaction: after a crash (even SIGKILL) a run is
either stored whole or not at all, and a run is never stored twice (primary keys).

DuckDB lets one process hold a file for writing, or several for reading. The driver opens the
file only for the moment of a write, and readers (``sweep status``, ``query``, ``report``)
open it read-only for the moment of a read; each side waits and retries while the other holds
it, so ``initlab sweep status`` works while a sweep writes.
"""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Iterator
from pathlib import Path

from initlab.errors import InitlabError

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id VARCHAR PRIMARY KEY,
    sweep VARCHAR,
    data VARCHAR,
    data_seed INTEGER,
    layers VARCHAR,
    depth INTEGER,
    hidden VARCHAR,
    output VARCHAR,
    init VARCHAR,
    init_name VARCHAR,
    scale DOUBLE,
    lr DOUBLE,
    iterations INTEGER,
    seed INTEGER,
    track VARCHAR,
    status VARCHAR,
    attempts INTEGER,
    final_cost DOUBLE,
    initial_cost DOUBLE,
    train_accuracy DOUBLE,
    test_accuracy DOUBLE,
    effective_width INTEGER[],
    symmetric_end BOOLEAN,
    saturated_fraction DOUBLE,
    dead_fraction DOUBLE,
    seconds DOUBLE,
    started TIMESTAMP,
    finished TIMESTAMP,
    executor VARCHAR,
    worker VARCHAR,
    engine VARCHAR,
    error VARCHAR
);
CREATE TABLE IF NOT EXISTS curves (
    run VARCHAR,
    iteration INTEGER,
    cost DOUBLE,
    effective_width INTEGER[],
    saturated_fraction DOUBLE[],
    dead_fraction DOUBLE[],
    PRIMARY KEY (run, iteration)
);
"""

LOCK_WAIT = 60.0  # seconds a reader or the writer waits for the other to let go


@contextlib.contextmanager
def _uninterrupted() -> Iterator[None]:
    """Hold Ctrl-C (SIGINT) back until the block ends: a write is committed whole, then the
    interrupt arrives."""
    blocked = {signal.SIGINT}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _locked(exc: Exception) -> bool:
    return "lock" in str(exc).lower()


class Store:
    """A DuckDB results file. ``Store(path)`` creates it (and its tables) on the first write."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if self.path.exists() and self.path.is_dir():
            raise InitlabError(f"store {str(self.path)!r} is a directory; give a file such as runs.duckdb")

    @contextlib.contextmanager
    def connect(self, *, write: bool) -> Iterator:
        """A connection held only for the block; waits (up to LOCK_WAIT s) while another process
        holds the file."""
        import duckdb

        if not write and not self.path.exists():
            raise InitlabError(f"store {str(self.path)!r} does not exist: run a sweep first "
                               "(initlab sweep run SPEC --store FILE)")
        deadline = time.monotonic() + LOCK_WAIT
        while True:
            try:
                con = duckdb.connect(str(self.path), read_only=not write)
                break
            except duckdb.IOException as exc:
                if not _locked(exc) or time.monotonic() > deadline:
                    raise InitlabError(f"cannot open store {str(self.path)!r}: {exc}") from None
                time.sleep(0.05)
            except duckdb.Error as exc:
                raise InitlabError(f"{str(self.path)!r} is not a DuckDB results store: {exc}") from None
        try:
            if write:
                con.execute(SCHEMA)
            yield con
        finally:
            con.close()

    # ---------------------------------------------------------------------- writing
    @contextlib.contextmanager
    def driver_lock(self) -> Iterator[None]:
        """Held by the one driver that writes this store (``FILE.lock``, released by the OS
        even after SIGKILL): a second sweep on the same store is refused instead of running
        the same runs twice."""
        import fcntl
        import os

        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "another process"
                raise InitlabError(f"another sweep (pid {holder}) is writing {str(self.path)!r}; "
                                   "wait for it or stop it, then run again") from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
            yield
        finally:
            os.close(fd)

    def write(self, sweep: str, configs: list, result: dict, *, executor: str, attempts: int) -> None:
        """Store a finished task: its runs as ``done`` and their curves, in one transaction."""
        import pandas as pd

        by_id = {c.id: c for c in configs}
        rows = []
        for row in result["runs"]:
            cfg = by_id[row["id"]]
            rows.append({**_config_columns(sweep, cfg), "status": "done", "attempts": attempts,
                         **{k: row[k] for k in ("final_cost", "initial_cost", "train_accuracy",
                                                "test_accuracy", "effective_width", "symmetric_end",
                                                "saturated_fraction", "dead_fraction", "seconds")},
                         "started": pd.Timestamp(result["started"], unit="s"),
                         "finished": pd.Timestamp(result["started"] + result["seconds"], unit="s"),
                         "executor": executor, "worker": result["worker"], "engine": result["engine"],
                         "error": None})
        n = len(result["curves"]["run"])
        curves = pd.DataFrame({c: result["curves"].get(c, [None] * n) for c in CURVE_COLUMNS})
        self._commit(_frame(rows, RUN_COLUMNS), curves)

    def write_failed(self, sweep: str, configs: list, error: str, *, executor: str, attempts: int) -> None:
        """Record a task's runs as ``failed`` with the error text (replacing an earlier failure)."""
        rows = [{**_config_columns(sweep, c), "status": "failed", "attempts": attempts,
                 "executor": executor, "error": error} for c in configs]
        self._commit(_frame(rows, RUN_COLUMNS))

    def _commit(self, runs_df, curves_df=None) -> None:
        """One transaction: replace the runs' earlier failures, insert the rows and curves.

        A done run is never rewritten (the driver skips done runs), and the primary keys refuse
        a second copy. Ctrl-C waits until the transaction is committed."""
        with _uninterrupted(), self.connect(write=True) as con:
            con.execute("BEGIN TRANSACTION")
            con.execute("DELETE FROM runs WHERE status = 'failed' AND id IN (SELECT unnest(?))",
                        [runs_df["id"].tolist()])
            con.register("runs_df", runs_df)
            con.execute(f"INSERT INTO runs ({', '.join(RUN_COLUMNS)}) SELECT * FROM runs_df")
            if curves_df is not None:
                con.register("curves_df", curves_df)
                con.execute(f"INSERT INTO curves SELECT {', '.join(CURVE_COLUMNS)} FROM curves_df")
            con.execute("COMMIT")

    # ---------------------------------------------------------------------- reading
    def statuses(self) -> dict[str, str]:
        """``{run id: status}`` for every stored run ({} for a store not yet written)."""
        if not self.path.exists():
            return {}
        with self.connect(write=False) as con:
            if not _has_runs(con):
                return {}
            return dict(con.execute("SELECT id, status FROM runs").fetchall())

    def query(self, sql: str) -> tuple[list[str], list[tuple]]:
        """Run read-only SQL; ``(column names, rows)``."""
        import duckdb

        with self.connect(write=False) as con:
            try:
                cur = con.execute(sql)
            except duckdb.Error as exc:
                raise InitlabError(f"query failed: {str(exc).splitlines()[0]}") from None
            if cur.description is None:
                return [], []
            return [d[0] for d in cur.description], cur.fetchall()

    def frame(self, sql: str, params: dict | None = None):
        """Read-only SQL (with ``$name`` parameters) as a pandas DataFrame."""
        with self.connect(write=False) as con:
            return con.execute(sql, params or None).df()

    def summary(self) -> list[dict]:
        """Per sweep: runs done and failed, network-iterations, train seconds."""
        with self.connect(write=False) as con:
            if not _has_runs(con):
                return []
            rows = con.execute(
                "SELECT sweep, count(*) FILTER (status = 'done'), count(*) FILTER (status = 'failed'), "
                "coalesce(sum(iterations) FILTER (status = 'done'), 0), "
                "coalesce(sum(seconds) FILTER (status = 'done'), 0), max(finished) "
                "FROM runs GROUP BY sweep ORDER BY sweep").fetchall()
        return [{"sweep": s, "done": d, "failed": f, "net_iterations": int(ni),
                 "train_seconds": float(sec), "last_finished": None if t is None else str(t)}
                for s, d, f, ni, sec, t in rows]


def _has_runs(con) -> bool:
    return bool(con.execute("SELECT count(*) FROM information_schema.tables "
                            "WHERE table_name = 'runs'").fetchone()[0])


RUN_COLUMNS = ["id", "sweep", "data", "data_seed", "layers", "depth", "hidden", "output", "init",
               "init_name", "scale", "lr", "iterations", "seed", "track", "status", "attempts",
               "final_cost", "initial_cost", "train_accuracy", "test_accuracy", "effective_width",
               "symmetric_end", "saturated_fraction", "dead_fraction", "seconds", "started", "finished",
               "executor", "worker", "engine", "error"]
CURVE_COLUMNS = ["run", "iteration", "cost", "effective_width", "saturated_fraction", "dead_fraction"]


def _config_columns(sweep: str, c) -> dict:
    return {"id": c.id, "sweep": sweep, "data": c.data, "data_seed": c.data_seed,
            "layers": ",".join(map(str, c.layers)), "depth": len(c.layers) - 2, "hidden": c.hidden,
            "output": c.output, "init": c.init, "init_name": c.init_name, "scale": c.scale,
            "lr": c.lr, "iterations": c.iterations, "seed": c.seed, "track": ",".join(c.track)}


def _frame(rows: list[dict], columns: list[str]):
    """A DataFrame with exactly ``columns`` in order, typed so DuckDB reads NULLs right."""
    import pandas as pd

    df = pd.DataFrame([{c: r.get(c) for c in columns} for r in rows], columns=columns)
    for c in ("started", "finished"):
        df[c] = pd.to_datetime(df[c])
    for c in ("final_cost", "initial_cost", "train_accuracy", "test_accuracy", "scale", "lr",
              "saturated_fraction", "dead_fraction", "seconds"):
        df[c] = df[c].astype("float64")
    for c in ("data_seed", "attempts"):
        df[c] = df[c].astype("Int64")
    for c in ("error", "worker", "engine", "executor"):
        df[c] = df[c].astype("object")
    return df
