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

A finished task is never dropped because the store is busy: when another process holds the
file longer than ``WRITE_WAIT`` seconds (a notebook's read-only connection, say), the task's rows
go to the store's journal, ``FILE.journal/`` (one folder of two Parquet files per task, renamed
into place whole), and every later write, and the driver's last act (waiting up to
``LOCK_WAIT``), moves the journal into the store. `Store.statuses` counts journaled runs, so a
resumed sweep does not train them again.

Readers cannot write anything: their connection is read-only, with external access (files,
network), extension loading and configuration changes off (``READ_CONFIG``), and `Store.query`
bounds the rows it returns and the time it runs.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from initlab.errors import InitlabError
from initlab.experiments.run import CONFIG_COLUMNS, CURVE_COLUMNS, RESULT_COLUMNS

#: The runs table: a run's config columns and measured columns (`initlab.experiments.run`, where
#: they are made), with the sweep's bookkeeping around them.
RUN_TYPES = {
    "id": CONFIG_COLUMNS["id"],
    "sweep": "VARCHAR",
    **{k: v for k, v in CONFIG_COLUMNS.items() if k != "id"},
    "status": "VARCHAR",
    "attempts": "INTEGER",
    **RESULT_COLUMNS,
    "started": "TIMESTAMP",
    "finished": "TIMESTAMP",
    "executor": "VARCHAR",
    "worker": "VARCHAR",
    "error": "VARCHAR",
}
RUN_COLUMNS = list(RUN_TYPES)
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS runs ("
    + ", ".join(f"{k} {t}" for k, t in RUN_TYPES.items())
    + ");\nCREATE TABLE IF NOT EXISTS curves ("
    + ", ".join(f"{k} {t}" for k, t in CURVE_COLUMNS.items())
    + ", PRIMARY KEY (run, iteration));\n"
    # a store written by an earlier version gains the columns added since (NULL in its old rows)
    + "".join(f"ALTER TABLE runs ADD COLUMN IF NOT EXISTS {k} {t};\n" for k, t in RUN_TYPES.items() if k != "id")
)

LOCK_WAIT = 60.0  # seconds a reader, or the driver's last write, waits for the other side to let go
WRITE_WAIT = 2.0  # seconds a task's write waits before its rows go to the journal instead
QUERY_MAX_ROWS = 10_000  # rows `query` returns at most (sweep query --max-rows)
QUERY_TIMEOUT = 60.0  # seconds `query` runs at most (sweep query --timeout)

#: Every reader's connection: read-only, no file or network access outside the store (COPY TO,
#: EXPORT, read_csv, ATTACH), no extension installed or loaded, and none of it can be SET back.
READ_CONFIG = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "lock_configuration": True,
}


class StoreBusy(InitlabError):
    """Another process held the store for longer than the writer would wait."""


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


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _sql_path(path: Path) -> str:
    """A path as an SQL string literal."""
    return "'" + str(path).replace("'", "''") + "'"


class Store:
    """A DuckDB results file. ``Store(path)`` creates it (and its tables) on the first write."""

    def _head(self, wait: float = 2.0) -> bytes:
        """The file's first 12 bytes. A shorter file (or one of zeros) may be a store another
        process is creating this instant (a reader polling `sweep status` while the driver starts): it is read again
        for up to ``wait`` seconds before it is judged."""
        deadline = time.monotonic() + wait
        while True:
            try:
                with self.path.open("rb") as f:
                    head = f.read(12)
            except OSError as exc:
                raise InitlabError(f"cannot read store {str(self.path)!r}: {exc.strerror}") from None
            if (len(head) == 12 and any(head)) or time.monotonic() > deadline:
                return head
            time.sleep(0.05)

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._busy = False  # the last write found the store held: later ones do not wait
        if self.path.is_dir():
            raise InitlabError(f"store {str(self.path)!r} is a directory; give a file such as runs.duckdb")
        if self.path.is_file():
            head = self._head()
            if head[8:12] != b"DUCK":  # every DuckDB file has its magic bytes here
                raise InitlabError(
                    f"store {str(self.path)!r} is not a DuckDB file: give a new file name, "
                    "or a store that initlab sweep run wrote"
                )

    @property
    def journal(self) -> Path:
        """``FILE.journal/`` beside the store's real file (symlinks resolved): finished tasks
        waiting for the store to free."""
        real = self.path.resolve()
        return real.with_name(real.name + ".journal")

    @contextlib.contextmanager
    def connect(self, *, write: bool, wait: float | None = None) -> Iterator:
        """A connection held only for the block; waits (up to ``wait`` s, default LOCK_WAIT)
        while another process holds the file, then raises `StoreBusy`. A reader's connection has
        ``READ_CONFIG``."""
        import duckdb

        if not write and not self.path.exists():
            raise InitlabError(
                f"store {str(self.path)!r} does not exist: run a sweep first (initlab sweep run SPEC --store FILE)"
            )
        wait = LOCK_WAIT if wait is None else wait
        deadline = time.monotonic() + wait
        while True:
            try:
                con = duckdb.connect(str(self.path), read_only=not write, config={} if write else READ_CONFIG)
                break
            except duckdb.IOException as exc:
                if not _locked(exc):
                    raise InitlabError(
                        f"cannot {'write' if write else 'read'} store {str(self.path)!r}: {_first_line(exc)}"
                    ) from None
                if time.monotonic() >= deadline:
                    raise StoreBusy(
                        f"store {str(self.path)!r} is held by another process (waited {wait:g} s)"
                    ) from None
                time.sleep(0.05)
            except duckdb.Error as exc:
                raise InitlabError(f"{str(self.path)!r} is not a DuckDB results store: {_first_line(exc)}") from None
        try:
            if write:
                con.execute(SCHEMA)
                _widen(con)
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

        real = self.path.resolve()  # a symlink to the store takes the store's own lock
        lock_path = real.with_name(real.name + ".lock")
        try:
            real.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise InitlabError(
                f"cannot write store {str(self.path)!r}: {exc.strerror}"
                + (f" ({exc.filename})" if exc.filename else "")
            ) from None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "another process"
                raise InitlabError(
                    f"another sweep (pid {holder}) is writing {str(self.path)!r}; "
                    "wait for it or stop it, then run again"
                ) from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
            yield
        finally:
            os.close(fd)

    def write(self, sweep: str, result: dict, *, executor: str, attempts: int) -> bool:
        """Store a finished task (`initlab.experiments.sweep.run_task`'s dict: its ``results``,
        `RunResult` objects, and where and when it ran): its runs as ``done`` and their curves,
        in one transaction. False when the store was held and the task went to the journal."""
        import pandas as pd

        rows, curves = [], {c: [] for c in CURVE_COLUMNS}
        for r in result["results"]:
            rows.append(
                {
                    **r.config.row(),
                    "sweep": sweep,
                    "status": "done",
                    "attempts": attempts,
                    **r.row(),
                    "started": pd.Timestamp(result["started"], unit="s"),
                    "finished": pd.Timestamp(result["started"] + result["seconds"], unit="s"),
                    "executor": executor,
                    "worker": result["worker"],
                    "error": None,
                }
            )
            c = r.curve_rows()
            n = len(c["run"])
            for k, values in curves.items():
                values.extend(c.get(k, [None] * n))
        return self._commit(_frame(rows, RUN_COLUMNS), pd.DataFrame(curves))

    def write_failed(self, sweep: str, configs: list, error: str, *, executor: str, attempts: int) -> bool:
        """Record a task's runs (`RunConfig`) as ``failed`` with the error text (replacing an
        earlier failure). False when the store was held and they went to the journal instead."""
        rows = [
            {**c.row(), "sweep": sweep, "status": "failed", "attempts": attempts, "executor": executor, "error": error}
            for c in configs
        ]
        return self._commit(_frame(rows, RUN_COLUMNS))

    def _commit(self, runs_df, curves_df=None) -> bool:
        """One transaction: the journal's waiting tasks first, then this one. Runs already done
        are never rewritten, earlier failures are replaced. Ctrl-C waits until the transaction is
        committed; a store held by another process (or Ctrl-C while waiting for it) sends the
        rows to the journal: a finished task is never dropped."""
        import duckdb

        wait = 0.0 if self._busy else min(WRITE_WAIT, LOCK_WAIT)
        try:
            with self.connect(write=True, wait=wait) as con, _uninterrupted():
                self._merge_journal(con)
                _insert_frames(con, runs_df, curves_df)
        except StoreBusy:
            self._busy = True
            with _uninterrupted():
                self._journal_task(runs_df, curves_df)
            return False
        except KeyboardInterrupt:
            with _uninterrupted():
                self._journal_task(runs_df, curves_df)
            raise
        except (InitlabError, duckdb.Error) as exc:  # the store cannot take them: keep them, say why
            with _uninterrupted():
                self._journal_task(runs_df, curves_df)
            raise InitlabError(f"{_first_line(exc)} (the task's runs are kept in {str(self.journal)!r})") from None
        self._busy = False
        return True

    # ---------------------------------------------------------------------- journal
    def _journal_task(self, runs_df, curves_df) -> None:
        """Keep a task's rows in ``FILE.journal/NAME/{runs,curves}.parquet``, typed as the
        store's tables, written under a hidden name and renamed whole."""
        import duckdb

        name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"
        tmp = self.journal / f".{name}"
        try:
            tmp.mkdir(parents=True)
            con = duckdb.connect()
            try:
                con.execute(SCHEMA)
                _insert_frames(con, runs_df, curves_df)
                for table in ("runs", "curves"):
                    con.execute(f"COPY {table} TO {_sql_path(tmp / f'{table}.parquet')} (FORMAT parquet)")
            finally:
                con.close()
            tmp.rename(self.journal / name)
        except (OSError, duckdb.Error) as exc:
            raise InitlabError(
                f"a finished task could not go into store {str(self.path)!r}, nor into its "
                f"journal {str(self.journal)!r}: {_first_line(exc)}"
            ) from None

    def _journal_entries(self) -> list[Path]:
        if not self.journal.is_dir():
            return []
        return sorted(
            p
            for p in self.journal.iterdir()
            if not p.name.startswith(".") and (p / "runs.parquet").is_file() and (p / "curves.parquet").is_file()
        )

    def _merge_journal(self, con) -> None:
        """Move the journal's tasks into the store, oldest first, each in its own transaction
        (a task merged twice after a crash is skipped: its runs are done)."""
        import duckdb

        if not self.journal.is_dir():
            return
        for tmp in self.journal.glob(".*"):  # half-written by a driver killed while writing it
            shutil.rmtree(tmp, ignore_errors=True)
        for entry in self._journal_entries():
            try:
                _insert(
                    con,
                    f"read_parquet({_sql_path(entry / 'runs.parquet')})",
                    f"read_parquet({_sql_path(entry / 'curves.parquet')})",
                )
            except duckdb.Error as exc:
                raise InitlabError(
                    f"the store's journal entry {str(entry)!r} cannot be read ({_first_line(exc)}): "
                    "move it away and run again"
                ) from None
            shutil.rmtree(entry)
        if not any(self.journal.iterdir()):
            self.journal.rmdir()

    def _journal_statuses(self) -> dict[str, str]:
        entries = self._journal_entries()
        if not entries:
            return {}
        import duckdb

        files = ", ".join(_sql_path(e / "runs.parquet") for e in entries)
        con = duckdb.connect()
        try:
            rows = con.execute(
                f"SELECT id, status FROM read_parquet([{files}], filename = true) ORDER BY filename"
            ).fetchall()
        finally:
            con.close()
        out: dict[str, str] = {}
        for id_, status in rows:
            if out.get(id_) != "done":
                out[id_] = status
        return out

    def journaled_runs(self) -> int:
        """Runs waiting in the journal for the store to free."""
        return len(self._journal_statuses())

    def flush_journal(self, wait: float | None = None) -> int:
        """Move the journal into the store, waiting up to ``wait`` s (default LOCK_WAIT) for
        another process to let go; the runs still waiting (0 when all went in)."""
        if not self._journal_entries():
            return 0
        try:
            with self.connect(write=True, wait=wait) as con, _uninterrupted():
                self._merge_journal(con)
            self._busy = False
        except StoreBusy:
            self._busy = True
        return self.journaled_runs()

    # ---------------------------------------------------------------------- reading
    def statuses(self) -> dict[str, str]:
        """``{run id: status}`` for every stored run, and every run waiting in the journal ({}
        for a store not yet written)."""
        out: dict[str, str] = {}
        if self.path.exists():
            with self.connect(write=False) as con:
                if _has_runs(con):
                    out = dict(con.execute("SELECT id, status FROM runs").fetchall())
        for id_, status in self._journal_statuses().items():
            if out.get(id_) != "done":
                out[id_] = status
        return out

    def query(
        self, sql: str, *, max_rows: int | None = QUERY_MAX_ROWS, timeout: float | None = QUERY_TIMEOUT
    ) -> tuple[list[str], list[tuple]]:
        """Run read-only SQL; ``(column names, rows)``. More than ``max_rows`` rows, or more than
        ``timeout`` seconds (DuckDB's interrupt, from a timer thread), is an error naming the
        limit (None: no limit)."""
        import duckdb

        if not sql.strip():
            raise InitlabError(_NO_SQL)
        if max_rows is not None and max_rows < 1:
            raise InitlabError(f"--max-rows must be at least 1, got {max_rows}")
        if timeout is not None and not timeout > 0:
            raise InitlabError(f"--timeout must be a positive number of seconds, got {timeout}")
        with self.connect(write=False) as con:
            timer = threading.Timer(timeout, con.interrupt) if timeout else None
            if timer is not None:
                timer.daemon = True
                timer.start()
            try:
                cur = con.execute(sql)
                if cur is None:
                    raise InitlabError(_NO_SQL)
                if cur.description is None:
                    return [], []
                rows = cur.fetchall() if max_rows is None else cur.fetchmany(max_rows + 1)
            except duckdb.InterruptException:
                raise InitlabError(
                    f"query stopped after {timeout:g} s (the --timeout limit): narrow it or raise --timeout"
                ) from None
            except duckdb.Error as exc:
                raise InitlabError(f"query failed: {_first_line(exc)}") from None
            finally:
                if timer is not None:
                    timer.cancel()
                    timer.join()
            if max_rows is not None and len(rows) > max_rows:
                raise InitlabError(
                    f"the query returns more than {max_rows:,} rows (the --max-rows limit): "
                    "add a LIMIT or raise --max-rows"
                )
            return [d[0] for d in cur.description], rows

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
                "FROM runs GROUP BY sweep ORDER BY sweep"
            ).fetchall()
        return [
            {
                "sweep": s,
                "done": d,
                "failed": f,
                "net_iterations": int(ni),
                "train_seconds": float(sec),
                "last_finished": None if t is None else str(t),
            }
            for s, d, f, ni, sec, t in rows
        ]


_NO_SQL = 'no SQL statement to run: give one such as "SELECT init, avg(train_accuracy) FROM runs GROUP BY init"'


def _insert_frames(con, runs_df, curves_df=None) -> None:
    con.register("runs_df", runs_df)
    if curves_df is not None:
        con.register("curves_df", curves_df)
    _insert(con, "runs_df", None if curves_df is None else "curves_df")


def _insert(con, runs_src: str, curves_src: str | None) -> None:
    """One task's rows from two relations (registered frames, or a journal's Parquet files) into
    the store's tables, in one transaction: runs already done are left alone (a second copy of a
    done run is never stored), earlier failures are replaced."""
    cols = ", ".join(RUN_COLUMNS)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"DELETE FROM runs WHERE status = 'failed' AND id IN (SELECT id FROM {runs_src})")
        con.execute(f"INSERT INTO runs ({cols}) SELECT {cols} FROM {runs_src} WHERE id NOT IN (SELECT id FROM runs)")
        if curves_src is not None:
            con.execute(f"INSERT OR IGNORE INTO curves SELECT {', '.join(CURVE_COLUMNS)} FROM {curves_src}")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def _has_runs(con) -> bool:
    return bool(con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'runs'").fetchone()[0])


def _widen(con) -> None:
    """A store written by an earlier version kept seeds in 32 bits (INTEGER): its columns are
    widened to the types of `RUN_TYPES` (a seed up to 2**63 - 1 failed to go in, and its whole
    task waited in the journal for ever)."""
    have = dict(
        con.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'runs'"
        ).fetchall()
    )
    for column in ("seed", "data_seed", "gate"):  # gate: a DOUBLE for a day, which read true as 1.0
        want = RUN_TYPES[column]
        if have.get(column, want) != want:
            con.execute(f"ALTER TABLE runs ALTER COLUMN {column} SET DATA TYPE {want}")


def _frame(rows: list[dict], columns: list[str]):
    """A DataFrame with exactly ``columns`` in order, typed from the store's SQL types so DuckDB
    reads NULLs right."""
    import pandas as pd

    df = pd.DataFrame([{c: r.get(c) for c in columns} for r in rows], columns=columns)
    for c in columns:
        kind = RUN_TYPES[c].split()[0]
        if kind == "TIMESTAMP":
            df[c] = pd.to_datetime(df[c])
        elif kind == "DOUBLE":
            df[c] = df[c].astype("float64")
        elif kind == "UBIGINT":  # seeds up to 2**63 - 1 (and above Int64's range: UInt64)
            df[c] = df[c].astype("UInt64")
        elif kind in ("INTEGER", "BIGINT"):
            df[c] = df[c].astype("Int64")
        elif kind == "VARCHAR":
            df[c] = df[c].astype("object")
    return df
