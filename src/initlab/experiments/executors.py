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
  ``allowed-failures``, then ``KilledWorker``, which the driver counts as a failed attempt).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import traceback
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from initlab.errors import InitlabError

EXECUTORS = ("local", "dask")


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


def _init_worker(threads: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
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
        return ProcessPoolExecutor(max_workers=n, mp_context=ctx, initializer=_init_worker,
                                   initargs=(threads,))

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
                while queue and len(running) < n and not (running and (
                        id(queue[0]) in suspects or any(id(t) in suspects for t in running.values()))):
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


def run_dask(tasks: list, fn: Callable, *, address: str | None, workers: int | None,
             retries: int) -> Iterator[Outcome]:
    """Run ``fn(task)`` for every task on a Dask cluster: the scheduler at ``address``, or a
    ``LocalCluster`` of ``workers`` single-threaded processes on 127.0.0.1."""
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise InitlabError("the dask executor needs dask.distributed: pip install -e '.[dask]'") from None

    cluster = None
    try:
        if address:
            client = Client(address, timeout="10s")
        else:
            n = workers or os.cpu_count() or 1
            cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                   host="127.0.0.1", dashboard_address=None)
            client = Client(cluster)
    except OSError as exc:
        if cluster is not None:
            cluster.close()
        raise InitlabError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
    run_id = uuid.uuid4().hex[:8]
    attempts = {id(t): 0 for t in tasks}
    futures: dict = {}

    def submit(t):
        attempts[id(t)] += 1
        f = client.submit(fn, t, key=f"initlab-{t.id}-{run_id}-{attempts[id(t)]}", pure=False)
        futures[f] = t
        return f

    try:
        ac = as_completed([submit(t) for t in tasks])
        for f in ac:
            t = futures.pop(f)
            if f.status == "finished":
                result = f.result()
                f.release()
                yield Outcome(t, result, None, attempts[id(t)])
                continue
            try:
                err = describe(f.exception(), "".join(traceback.format_tb(f.traceback())))
            except Exception as e:  # cancelled, or the scheduler went away
                err = describe(e)
            f.release()
            if attempts[id(t)] <= retries:
                ac.add(submit(t))
            else:
                yield Outcome(t, None, err.strip(), attempts[id(t)])
    finally:
        for f in futures:
            f.cancel()
        client.close()
        if cluster is not None:
            cluster.close()
