"""Where a sweep's tasks run: worker processes on this machine, or a Dask cluster.

Both executors take the same tasks and yield the same `Outcome` per task; the driver
(`initlab.experiments.sweep.run_sweep`) stores them. Retries are the driver's, the same for
both: a task that raises, or whose worker dies under it, is submitted again up to ``retries``
more times, then reported failed with its error text. Results never depend on where a task ran.

- ``local``: a ``concurrent.futures.ProcessPoolExecutor`` (spawned processes, SIGINT ignored in
  the workers so that Ctrl-C reaches only the driver), one task per worker at a time. When a
  worker dies, the pool breaks and every task running in it is run again; the pool does not say
  whose worker died, so a death counts against a task's retries only when that task was running
  alone. Tasks that were running during a death are run again one at a time, so each death is
  pinned on its task and a task that only stood beside others' deaths is never failed for them.
- ``dask``: ``distributed.Client(address)`` on a running scheduler (``dask scheduler``,
  ``dask worker``), or a ``LocalCluster`` on 127.0.0.1 when no address is given. When a worker
  dies the scheduler reschedules its task on another worker by itself (up to its
  ``allowed-failures``, then ``KilledWorker``, which the driver counts as a failed attempt);
  each such death counts as a start in the task's ``attempts`` (the scheduler's ``suspicious``
  count: the deaths of workers that held the task. A scheduler whose ``worker-saturation`` is
  above 1 also sends a worker a task to queue, which counts if that worker dies; the
  ``LocalCluster`` started here sets it to 1). A scheduler that goes away (its connection
  closes, or it does not answer for ``SCHEDULER_TIMEOUT`` s) ends the sweep with `SchedulerLost`.

Workers that this process starts (the local pool, a ``LocalCluster``'s workers) end when it dies,
even by SIGKILL, which runs no cleanup in the driver: see `die_with`.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from initlab.errors import InitlabError

EXECUTORS = ("local", "dask")
PARENT_POLL = 0.5  # seconds between a worker's looks at its parent (the fallback of die_with)
SCHEDULER_TIMEOUT = 10.0  # seconds without an answer from the Dask scheduler before it counts as lost
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


class SchedulerLost(InitlabError):
    """The Dask scheduler went away mid-sweep."""


@dataclass
class Outcome:
    """A task's end: ``result`` when it finished, else ``error`` (after ``attempts`` tries)."""

    task: object
    result: dict | None
    error: str | None
    attempts: int


def describe(exc: BaseException, tb: str | None = None) -> str:
    """An exception as stored text: type and message, then the worker's traceback if known
    (``tb``, or the remote traceback concurrent.futures attaches as the cause)."""
    tb = tb or getattr(getattr(exc, "__cause__", None), "tb", None)
    return f"{type(exc).__name__}: {exc}" + ("\n" + tb.strip() if tb else "")


def _stop(pool: ProcessPoolExecutor) -> None:
    """Shut the pool down and end its own worker processes, tasks in flight included (no other
    child of this process is touched). Python 3.11 has no public list of a pool's processes."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        p.terminate()
    for p in procs:
        p.join(timeout=5)


def die_with(parent: int, *, deathsig: bool = True) -> None:
    """End this process when ``parent`` dies. On Linux the kernel sends SIGKILL at the parent's
    death (``prctl(PR_SET_PDEATHSIG)``; ``deathsig``); everywhere, a daemon thread checks every
    PARENT_POLL s that ``os.getppid()`` is still ``parent`` (an orphan is adopted by another
    process) and exits when it is not, which also covers a parent that died before prctl ran.

    The kernel's signal follows the parent *thread* that started this process: right for a
    process pool, whose workers are started by the thread that runs the pool, but not for Dask's
    nanny, whose starting thread can end first; Dask workers get the thread alone."""
    if deathsig and sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # pragma: no cover - no prctl in this libc
            pass
    if os.getppid() != parent:
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent,), name="initlab-die-with-driver", daemon=True).start()


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_POLL)
    os._exit(1)


def _init_worker(threads: int, parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with(parent)
    try:
        import numba

        numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
    except ImportError:  # pragma: no cover
        pass


def run_local(tasks: list, fn: Callable, *, workers: int | None, retries: int) -> Iterator[Outcome]:
    """Run ``fn(task)`` for every task in ``workers`` spawned processes (default: one per core)."""
    n = workers or os.cpu_count() or 1
    threads = max(1, (os.cpu_count() or 1) // n)
    ctx = multiprocessing.get_context("spawn")

    def new_pool() -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=n, mp_context=ctx, initializer=_init_worker, initargs=(threads, os.getpid())
        )

    queue = list(tasks)
    attempts = {id(t): 0 for t in tasks}  # starts, as reported
    charged = {id(t): 0 for t in tasks}  # failures pinned on the task, against ``retries``
    suspects: set[int] = set()  # were running when a worker died: run alone until they end
    running: dict = {}
    pool = new_pool()
    try:
        while queue or running:
            broken = False
            try:
                while (
                    queue
                    and len(running) < n
                    and not (running and (id(queue[0]) in suspects or any(id(t) in suspects for t in running.values())))
                ):
                    f = pool.submit(fn, queue[0])  # raises if a worker died since the last wait
                    t = queue.pop(0)
                    attempts[id(t)] += 1
                    running[f] = t
            except BrokenProcessPool:
                broken = True
            if not broken:
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                broken = any(isinstance(f.exception(), BrokenProcessPool) for f in done)
            alone = len(running) == 1
            if broken:  # every task of the broken pool ends with it
                done = set(running)
            for f in done:
                t = running.pop(f)
                exc = f.exception() if f.done() else BrokenProcessPool("pool broke")
                if exc is None:
                    suspects.discard(id(t))
                    yield Outcome(t, f.result(), None, attempts[id(t)])
                    continue
                if isinstance(exc, BrokenProcessPool):
                    err = "worker process died while running the task (killed or crashed)"
                    suspects.add(id(t))
                    charged[id(t)] += alone
                else:
                    err = describe(exc)
                    charged[id(t)] += 1
                if charged[id(t)] <= retries:
                    queue.insert(0, t)
                else:
                    yield Outcome(t, None, err, attempts[id(t)])
            if broken:
                _stop(pool)
                pool = new_pool()
    finally:
        _stop(pool)


def run_dask(tasks: list, fn: Callable, *, address: str | None, workers: int | None, retries: int) -> Iterator[Outcome]:
    """Run ``fn(task)`` for every task on a Dask cluster: the scheduler at ``address``, or a
    ``LocalCluster`` of ``workers`` single-threaded processes on 127.0.0.1."""
    try:
        import dask
        from distributed import Client, LocalCluster
        from distributed import wait as dask_wait
        from distributed.diagnostics.plugin import WorkerPlugin
    except ImportError:
        raise InitlabError("the dask executor needs dask.distributed: pip install -e '.[dask]'") from None

    class DieWithDriver(WorkerPlugin):
        """A LocalCluster's workers end with this driver (`die_with`, the thread alone)."""

        name = "initlab-die-with-driver"

        def __init__(self, parent: int) -> None:
            self.parent = parent

        def setup(self, worker) -> None:
            die_with(self.parent, deathsig=False)

    cluster = None
    timeout = f"{SCHEDULER_TIMEOUT:g}s"
    try:
        if address:
            client = Client(address, timeout=timeout)
        else:
            n = workers or os.cpu_count() or 1
            # one task per single-threaded worker at a time (Dask's default queues a second one
            # there), so that a worker's death is charged to the task it was running
            with dask.config.set({"distributed.scheduler.worker-saturation": 1.0}):
                cluster = LocalCluster(
                    n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
                )
            client = Client(cluster, timeout=timeout)
            client.register_plugin(DieWithDriver(os.getpid()))
    except (OSError, ValueError, TypeError) as exc:  # unreachable; no port; unknown scheme
        if cluster is not None:
            cluster.close()
        where = repr(address) if address else "a local cluster"
        raise InitlabError(
            f"cannot reach the Dask scheduler at {where}: {(str(exc).splitlines() or [type(exc).__name__])[0]}"
        ) from None
    where = address or "the local cluster"
    run_id = uuid.uuid4().hex[:8]
    tries = {id(t): 0 for t in tasks}  # submissions, against ``retries``
    starts = {id(t): 0 for t in tasks}  # times a worker started the task, as reported
    futures: dict = {}

    def submit(t) -> None:
        tries[id(t)] += 1
        f = client.submit(fn, t, key=f"initlab-{t.id}-{run_id}-{tries[id(t)]}", pure=False)
        futures[f] = t

    gone = []

    def lost(why: str) -> SchedulerLost:
        gone.append(why)
        return SchedulerLost(f"lost the Dask scheduler at {where}: {why}")

    try:
        for t in tasks:
            submit(t)
        quiet_since = time.monotonic()
        while futures:
            try:
                done = dask_wait(list(futures), timeout=1.0, return_when="FIRST_COMPLETED").done
            except TimeoutError:
                done = set()
            except Exception:
                if client.status != "running":
                    raise lost("the connection closed") from None
                raise
            if any(f.status == "cancelled" for f in done) or client.status != "running":
                raise lost("the connection closed")  # the client cancels every future then
            if not done:
                if time.monotonic() - quiet_since > SCHEDULER_TIMEOUT:
                    _probe(client, lost)
                    quiet_since = time.monotonic()
                continue
            quiet_since = time.monotonic()
            for f in done:
                t = futures.pop(f)
                deaths = _deaths(client, f.key)  # workers that died running it: rescheduled starts
                if f.status == "finished":
                    result = f.result()
                    f.release()
                    starts[id(t)] += deaths + 1
                    yield Outcome(t, result, None, starts[id(t)])
                    continue
                try:
                    exc = f.exception()
                    err = describe(exc, "".join(traceback.format_tb(f.traceback())))
                except Exception as e:  # pragma: no cover - cancelled under us
                    exc, err = e, describe(e)
                f.release()
                # KilledWorker: it never ended on a worker, every start was a death
                starts[id(t)] += deaths + (type(exc).__name__ != "KilledWorker")
                if tries[id(t)] <= retries:
                    submit(t)
                else:
                    yield Outcome(t, None, err.strip(), starts[id(t)])
    finally:
        # the client's own reconnect attempts to a lost scheduler log tracebacks as they are
        # cancelled: `lost` has said what happened, in one line
        with _quiet("distributed") if gone else contextlib.nullcontext():
            for f in futures:
                try:
                    f.cancel()
                except Exception:  # pragma: no cover - the client is closed
                    pass
            client.close(timeout=SCHEDULER_TIMEOUT)
            if cluster is not None:
                cluster.close(timeout=SCHEDULER_TIMEOUT)


@contextlib.contextmanager
def _quiet(name: str) -> Iterator[None]:
    """Silence a logger and its children for the block (Dask's config gives some children,
    ``distributed.client`` among them, levels of their own)."""
    names = [name, *(n for n in logging.Logger.manager.loggerDict if n.startswith(name + "."))]
    loggers = [logging.getLogger(n) for n in names]
    old = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for lg, level in zip(loggers, old, strict=True):
            lg.setLevel(level)


def _deaths(client, key: str) -> int:
    """How many workers died while running task ``key`` (the scheduler's ``suspicious`` count)."""
    try:
        return int(client.run_on_scheduler(_suspicious, key))
    except Exception:  # an older scheduler, or one that refuses run_on_scheduler: count none
        return 0


def _suspicious(key: str, dask_scheduler=None) -> int:
    ts = dask_scheduler.tasks.get(key)
    return ts.suspicious if ts is not None else 0


def _probe(client, lost: Callable[[str], SchedulerLost]) -> None:
    """Ask the scheduler who it is; no answer in SCHEDULER_TIMEOUT s means it is gone."""
    try:
        client.sync(client.scheduler.identity, callback_timeout=SCHEDULER_TIMEOUT)
    except Exception:
        raise lost(f"no answer for {SCHEDULER_TIMEOUT:g} s") from None
