"""Sweeps: a grid of runs declared in TOML, trained in ensembles, stored once each.

A spec file's ``[sweep]`` table names the grid::

    [sweep]
    name = "circles-inits"
    data = "circles"
    layers = [2, 10, 5, 1]            # or a list of them: [[2, 10, 1], [2, 10, 5, 1]]
    hidden = ["relu", "tanh"]
    inits = ["zeros", "random:0.01", "random:10", "he", "xavier"]
    lr = [0.01]
    iterations = 15000
    seeds = 32                        # a count (0..31) or a list [3, 7]
    track = ["symmetry", "saturation"]
    bias = "random:0.2236"            # optional: the biases' init (or a list: a grid axis); default: each init's own
    examples = 256                    # optional: train on the first 256 training examples only

Every combination is one run (`RunConfig`), whose hash is its identity in the store; an init is
written in its canonical form (`initializers.canonical`: ``HE`` is ``he``, ``random`` and
``random:1e-2`` are ``random:0.01``), so one run is stored once however the spec spells it. Runs
that share data, layers, activations and iterations train together as one ensemble on the
batched engine (`Task`, at most ``chunk`` networks). A network's numbers do not depend on
which other networks share its ensemble (each member is initialized from its own seed and the
engine computes member by member), so a resumed sweep equals an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from initlab import data as datasets
from initlab import initializers
from initlab.diagnose.tracking import TRACKABLE
from initlab.errors import InitlabError, check_layer_dims, suggest
from initlab.experiments.run import RunConfig, Training, check_fits, groups
from initlab.nn.activations import ACTIVATIONS, HIDDEN
from initlab.nn.losses import output_and_loss
from initlab.rng import MAX_SEED

try:
    import tomllib
except ImportError:  # pragma: no cover - Python 3.10
    import tomli as tomllib

SWEEP_TRACKABLE = tuple(t for t in TRACKABLE if t != "weights")
MAX_RUNS = 100_000  # runs a sweep may hold unless raised (sweep run --max-runs)


@dataclass(frozen=True)
class SweepSpec:
    """A parsed, validated ``[sweep]`` table. Lists are the grid's axes."""

    name: str
    data: str
    layers: tuple[tuple[int, ...], ...]
    hidden: tuple[str, ...]
    inits: tuple[str, ...]
    lr: tuple[float, ...]
    iterations: tuple[int, ...]
    seeds: Sequence[int]  # a range for a count of seeds: never materialized before it is checked
    output: str | None = None
    scales: tuple[float, ...] = ()
    track: tuple[str, ...] = ()
    track_every: int | None = None
    data_seed: int | None = None
    chunk: int = 256
    retries: int = 2
    #: residual networks (`initlab.nn.residual`): weight layers per branch (None: plain), whether
    #: each block has a gate (False, True or a starting value), the norm (None or "layernorm");
    #: each a grid axis
    residual: tuple[int | None, ...] = (None,)
    gate: tuple[bool | float, ...] = (False,)
    norm: tuple[str | None, ...] = (None,)
    #: the biases' initializer specs, a grid axis (None: each init's own, `initializers.bias_of`)
    bias: tuple[str | None, ...] = (None,)
    #: train on the first ``examples`` training examples only (None: all)
    examples: int | None = None

    def init_specs(self) -> list[str]:
        """``inits`` crossed with ``scales``, in canonical form, each once: an init that takes a
        SCALE and names none gets one run per scale (``random`` x [0.01, 10] -> random:0.01,
        random:10)."""
        out = []
        for spec in self.inits:
            if self.scales and _scale_unnamed(spec):
                out += [f"{initializers.entry_of(spec).name}:{s!r}" for s in self.scales]
            else:
                out.append(spec)
        return list(dict.fromkeys(initializers.canonical(s) for s in out))

    @property
    def size(self) -> int:
        """How many runs the grid holds, counted without making them (the networks an init
        cannot draw, `skipped`, left out)."""
        per_network = len(self.hidden) * len(self.iterations) * len(self.lr) * len(self.seeds) * len(self.bias)
        networks = len(self.layers) * len(self.structures()) * len(self.init_specs()) - len(self._refusals())
        return networks * per_network

    def skipped(self) -> list[dict]:
        """The (layers, structure, init) points of the grid that no run can be made of, with
        why: a recipe with no plain form crossed with ``residual = 0`` (``fixup`` on a plain
        network), or a layout the recipe has no rule for (`initlab.nn.residual.check_init`, the
        check every face makes). A grid crosses every axis, so these are left out and said, not
        trained to fail beside the runs that can."""
        return [
            {"layers": list(layers), "init": init, **json.loads(structure), "reason": why}
            for (layers, structure, init), why in self._refusals().items()
        ]

    def _refusals(self) -> dict[tuple, str]:
        """``(layers, structure as JSON, init) -> why`` for the points `skipped` lists: the one
        key `runs` looks a point up by."""
        from initlab.nn.residual import check_init

        out = {}
        for layers, structure, init in itertools.product(self.layers, self.structures(), self.init_specs()):
            try:
                check_init(init, layers, **structure)
            except InitlabError as exc:
                out[(tuple(layers), json.dumps(structure, sort_keys=True), init)] = str(exc)
        return out

    def structures(self) -> list[dict]:
        """The networks' residual keywords, each once: a plain network (``residual`` 0) has no
        gate or norm, so it is one point however many gates and norms the grid crosses."""
        points = itertools.product(self.residual, self.gate, self.norm)
        return list({json.dumps(k, sort_keys=True): k for k in (_structure(*p) for p in points)}.values())

    def check_size(self, max_runs: int = MAX_RUNS) -> None:
        """Refuse a grid of more than ``max_runs`` runs before anything is made."""
        if isinstance(max_runs, bool) or not isinstance(max_runs, int) or max_runs < 1:
            raise InitlabError(f"--max-runs must be a positive integer, got {max_runs!r}")
        if self.size > max_runs:
            raise InitlabError(
                f"sweep {self.name!r} has {self.size:,} runs, more than the limit of "
                f"{max_runs:,}: make the grid smaller, or raise the limit with --max-runs"
            )

    def runs(self) -> list[RunConfig]:
        """Every run of the grid, in a fixed order."""
        ds = datasets.load(self.data, seed=self.data_seed)
        output = self.output or ds.output
        out = []
        refused = self._refusals()
        grid = itertools.product(
            self.layers,
            self.structures(),
            self.hidden,
            self.iterations,
            self.init_specs(),
            self.lr,
            self.seeds,
            self.bias,
        )
        for layers, structure, hidden, iterations, init, lr, seed, bias in grid:
            if (tuple(layers), json.dumps(structure, sort_keys=True), init) in refused:
                continue
            out.append(
                RunConfig(
                    data=self.data,
                    layers=layers,
                    hidden=hidden,
                    output=output,
                    init=init,
                    lr=lr,
                    iterations=iterations,
                    seed=seed,
                    track=self.track,
                    track_every=self.track_every,
                    data_seed=self.data_seed,
                    bias=bias,
                    examples=self.examples,
                    **structure,
                )
            )
        return out


# ------------------------------------------------------------------------------- parsing
#: key -> (required, what it must be: the words of the error)
SPEC_KEYS: dict[str, tuple[bool, str]] = {
    "name": (True, "a non-empty string naming the sweep"),
    "data": (True, f"a built-in data set ({', '.join(datasets.BUILTIN)}) or a CSV/NPZ file path"),
    "layers": (True, "a list of layer sizes such as [2, 10, 5, 1], or a list of such lists"),
    "hidden": (True, f"a hidden activation or a list of them ({', '.join(HIDDEN)})"),
    "output": (False, f"an output activation ({', '.join(ACTIVATIONS)}); default: fits the data"),
    "inits": (True, 'a non-empty list of initializer specs such as ["zeros", "random:0.01", "he"]'),
    "scales": (False, "a list of positive numbers, crossed with the inits that take a SCALE"),
    "lr": (True, "a positive number or a non-empty list of them"),
    "iterations": (True, "a positive integer or a non-empty list of them"),
    "seeds": (True, "a count of seeds (32 -> 0..31) or a non-empty list of integers from 0 to 2**63 - 1"),
    "track": (False, f"a list drawn from {list(SWEEP_TRACKABLE)}"),
    "track_every": (False, "a positive integer (default: about 100 records a run)"),
    "data_seed": (False, "a non-negative integer (default: the course's fixed data)"),
    "residual": (False, "weight layers per residual branch, a positive integer or a list of them (0: plain)"),
    "gate": (False, "true, false or a gate's starting value (a number), or a list of them; needs residual"),
    "norm": (False, '"layernorm" or "none", or a list of them; needs residual'),
    "bias": (False, "an initializer spec for the biases or a list of them (default: each init's own, mostly zeros)"),
    "examples": (False, "a positive integer: train on the first N training examples (default: all)"),
    "chunk": (False, "a positive integer: most networks in one ensemble task (default 256)"),
    "retries": (False, "a non-negative integer: attempts after the first (default 2)"),
}


def _line_of(text: str, key: str) -> int | None:
    """The line where ``key = ...`` is written in the file, if it is."""
    for n, line in enumerate(text.splitlines(), start=1):
        if re.match(rf"\s*{re.escape(key)}\s*=", line):
            return n
    return None


class _Checker:
    def __init__(self, table: dict, text: str, source: str) -> None:
        self.table, self.text, self.source = table, text, source

    def error(self, key: str, problem: str) -> InitlabError:
        line = _line_of(self.text, key)
        where = f"{self.source}, line {line}" if line else self.source
        return InitlabError(f"{where}: key '{key}' {problem}")

    def expect(self, key: str, got: object) -> InitlabError:
        return self.error(key, f"must be {SPEC_KEYS[key][1]}; got {got!r}")

    def items(self, key: str, kind: type | tuple, default: object = None) -> tuple:
        """A scalar or list of ``kind``, as a non-empty tuple."""
        if key not in self.table:
            return default
        v = self.table[key]
        vs = v if isinstance(v, list) else [v]
        ok = vs and all(isinstance(x, kind) and not isinstance(x, bool) for x in vs)
        if not ok:
            raise self.expect(key, v)
        return tuple(vs)


def parse_spec(text: str, source: str = "<spec>") -> SweepSpec:
    """Parse and validate a spec's TOML text. Every error names the key, its line, and what
    was expected."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InitlabError(f"{source}: not valid TOML: {exc}") from None
    extra = [k for k in doc if k != "sweep"]
    if "sweep" not in doc or not isinstance(doc["sweep"], dict):
        raise InitlabError(f"{source}: needs a [sweep] table" + (f" (found {', '.join(extra)})" if extra else ""))
    if extra:
        raise InitlabError(f"{source}: unknown table or key {extra[0]!r}: everything goes in [sweep]")
    t = doc["sweep"]
    c = _Checker(t, text, source)
    for key in t:
        if key not in SPEC_KEYS:
            raise c.error(key, f"is not a sweep key{suggest(key, SPEC_KEYS)}; the keys are {', '.join(SPEC_KEYS)}")
    for key, (required, _) in SPEC_KEYS.items():
        if required and key not in t:
            raise InitlabError(f"{source}: [sweep] lacks the key '{key}': {SPEC_KEYS[key][1]}")

    name = t["name"]
    if not isinstance(name, str) or not name.strip():
        raise c.expect("name", name)
    data = t["data"]
    if not isinstance(data, str):
        raise c.expect("data", data)
    if data not in datasets.BUILTIN:
        path = Path(data) if Path(data).is_absolute() else Path(source).parent / data
        if not path.exists():
            raise c.error(
                "data",
                f"names no built-in data set and no file: {data!r} "
                f"(built-in: {', '.join(datasets.BUILTIN)}{suggest(data, datasets.BUILTIN)})",
            )
        data = str(path.resolve())
    data_seed = _nonneg(c, "data_seed") if "data_seed" in t else None
    try:
        ds = datasets.load(data, seed=data_seed)
    except InitlabError as exc:
        raise c.error("data", f"could not be loaded: {exc}") from None

    layers_v = t["layers"]
    grid = layers_v if isinstance(layers_v, list) and layers_v and isinstance(layers_v[0], list) else [layers_v]
    layers = []
    for dims in grid:
        if not isinstance(dims, list):
            raise c.expect("layers", layers_v)
        try:
            dims = tuple(check_layer_dims(dims))
            check_fits(dims, ds)
        except InitlabError as exc:
            raise c.error("layers", f"{exc}") from None
        layers.append(dims)

    hidden = c.items("hidden", str)
    for h in hidden:
        try:
            HIDDEN.canonical(h)
        except InitlabError as exc:  # unknown, or a family's bad value (leaky_relu:abc)
            raise c.error("hidden", f"has a bad activation: {exc}") from None
    output = t.get("output")
    if output is not None and output not in ACTIVATIONS:
        raise c.expect("output", output)
    if output is not None:  # the network's own rule: the output fits its loss and its units
        try:
            output_and_loss(output, None, ds.n_y)
        except InitlabError as exc:
            raise c.error("output", str(exc)) from None

    inits = c.items("inits", str)
    if not isinstance(t["inits"], list):
        raise c.expect("inits", t["inits"])
    for spec in inits:
        try:
            initializers.get(spec)
        except InitlabError as exc:
            raise c.error("inits", f"has a bad initializer {spec!r}: {exc}") from None
    scales = c.items("scales", (int, float), ())
    if any(not np.isfinite(s) or s <= 0 for s in scales):
        raise c.expect("scales", t["scales"])
    if scales and not any(_scale_unnamed(s) for s in inits):
        raise c.error("scales", "is given but no init takes a SCALE (random, variance_scaling) without naming one")

    lr = c.items("lr", (int, float))
    if any(not np.isfinite(v) or v <= 0 for v in lr):
        raise c.expect("lr", t["lr"])
    iterations = c.items("iterations", int)
    if any(v < 1 for v in iterations):
        raise c.expect("iterations", t["iterations"])
    if max(iterations) > 10_000_000:
        raise c.error("iterations", f"is {max(iterations)}: more than 10,000,000 is surely a typo")

    seeds_v = t["seeds"]
    if isinstance(seeds_v, int) and not isinstance(seeds_v, bool):
        if seeds_v < 1:
            raise c.expect("seeds", seeds_v)
        seeds = range(seeds_v)
    else:
        seeds = c.items("seeds", int)
        if not isinstance(seeds_v, list) or any(s < 0 or s > MAX_SEED for s in seeds):
            raise c.expect("seeds", seeds_v)
        if len(set(seeds)) != len(seeds):
            raise c.error("seeds", f"repeats a seed: {list(seeds)}")

    track = c.items("track", str, ())
    if "track" in t and not isinstance(t["track"], list):
        raise c.expect("track", t["track"])
    for name_ in track:
        if name_ not in SWEEP_TRACKABLE:
            raise c.error(
                "track", f"names {name_!r}{suggest(name_, SWEEP_TRACKABLE)}; choose from {list(SWEEP_TRACKABLE)}"
            )
    track_every = _positive_int(c, "track_every") if "track_every" in t else None
    residual, gate, norm = _residual_keys(c, layers)
    bias = c.items("bias", str, (None,))
    for spec in bias:
        if spec is not None:
            try:
                initializers.get(spec)
            except InitlabError as exc:
                raise c.error("bias", f"has a bad initializer {spec!r}: {exc}") from None
    examples = _positive_int(c, "examples") if "examples" in t else None
    if examples is not None and examples > ds.X_train.shape[1]:
        raise c.error("examples", f"is {examples}, more than the {ds.X_train.shape[1]} training examples of {ds.name}")
    chunk = _positive_int(c, "chunk") if "chunk" in t else 256
    retries = _nonneg(c, "retries") if "retries" in t else 2
    spec = SweepSpec(
        name=name.strip(),
        data=data,
        layers=tuple(layers),
        hidden=hidden,
        inits=inits,
        lr=tuple(float(v) for v in lr),
        iterations=iterations,
        seeds=seeds,
        output=output,
        scales=tuple(float(s) for s in scales),
        track=tuple(track),
        track_every=track_every,
        data_seed=data_seed,
        chunk=chunk,
        retries=retries,
        residual=residual,
        gate=gate,
        norm=norm,
        bias=tuple(dict.fromkeys(bias)),
        examples=examples,
    )
    if spec.size == 0 and spec.skipped():  # nothing the grid names can be built
        raise c.error("inits", f"can draw none of the grid's networks: {spec.skipped()[0]['reason']}")
    return spec


def _residual_keys(c: _Checker, layers: list[tuple[int, ...]]) -> tuple[tuple, tuple, tuple]:
    """``residual``, ``gate`` and ``norm`` as grid axes, checked against every ``layers`` entry
    (a residual network's hidden layers are one width, ``1 + m * blocks`` of them)."""
    from initlab.nn.residual import NORMS, Layout

    t = c.table
    residual = tuple(None if m == 0 else m for m in c.items("residual", int, (0,)))
    if any(m is not None and m < 0 for m in residual):
        raise c.expect("residual", t["residual"])
    gate_v = t.get("gate", False)
    gates = gate_v if isinstance(gate_v, list) and gate_v else [gate_v]
    if not all(isinstance(g, (bool, int, float)) for g in gates) or any(
        not isinstance(g, bool) and not np.isfinite(g) for g in gates
    ):
        raise c.expect("gate", gate_v)
    gate = tuple(g if isinstance(g, bool) else float(g) for g in gates)
    norm = tuple(None if n == "none" else n for n in c.items("norm", str, ("none",)))
    if any(n is not None and n not in NORMS for n in norm):
        raise c.expect("norm", t["norm"])
    if residual == (None,) and ("gate" in t and gate != (False,) or "norm" in t and norm != (None,)):
        raise c.error("gate" if "gate" in t else "norm", "belongs to residual networks: set residual = M too")
    for m in residual:
        for dims in layers:
            if m is not None:
                try:
                    Layout.build(dims, m)
                except InitlabError as exc:
                    raise c.error("residual", f"= {m} does not fit layers {list(dims)}: {exc}") from None
    return residual, gate, norm


def _structure(residual: int | None, gate: bool | float, norm: str | None) -> dict:
    """RunConfig's residual keywords for one point of the grid (none for a plain network, so
    a plain sweep's runs keep their ids)."""
    if residual is None:
        return {}
    return {"residual": residual, "gate": None if gate is False else gate, "norm": norm}


def _scale_unnamed(spec: str) -> bool:
    """An init that takes a SCALE and names none (``random``): the spec's ``scales`` apply."""
    return initializers.entry_of(spec).takes_scale and ":" not in spec


def _positive_int(c: _Checker, key: str) -> int:
    v = c.table[key]
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise c.expect(key, v)
    return v


def _nonneg(c: _Checker, key: str) -> int:
    v = c.table[key]
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise c.expect(key, v)
    return v


def load_spec(path: str | Path) -> SweepSpec:
    """Read and validate a spec file."""
    p = Path(path)
    if not p.is_file():
        raise InitlabError(f"sweep spec {str(p)!r} does not exist")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InitlabError(f"{p}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return parse_spec(text, str(p))


# --------------------------------------------------------------------------------- tasks
@dataclass
class Task:
    """Runs of one group, trained as one ensemble: what a worker needs, the data set included."""

    runs: list[RunConfig]
    data: datasets.Dataset

    @property
    def id(self) -> str:
        return hashlib.sha256(",".join(r.id for r in self.runs).encode()).hexdigest()[:16]


def make_tasks(runs: Sequence[RunConfig], chunk: int) -> list[Task]:
    """Runs grouped as `train` groups them (`initlab.experiments.run.groups`), each group cut
    into ensembles of at most ``chunk`` networks. The data set is loaded once per group, here,
    by the driver, so workers need no files."""
    loaded: dict[tuple, datasets.Dataset] = {}
    tasks = []
    for idx in groups(runs, chunk):
        first = runs[idx[0]]
        key = (first.data, first.data_seed)
        if key not in loaded:
            loaded[key] = datasets.load(first.data, seed=first.data_seed)
        tasks.append(Task([runs[i] for i in idx], loaded[key]))
    return tasks


def run_task(task: Task) -> dict:
    """Train a task's runs (`initlab.experiments.run.Training`; runs in a worker).

    Returns ``{"results": [RunResult per run], "seconds", "started", "worker"}``, ready for
    the store.
    """
    import os
    import socket

    start = time.time()
    results = Training(task.runs, data=task.data).run()
    return {
        "results": results,
        "seconds": time.time() - start,
        "started": start,
        "worker": f"{socket.gethostname()}:{os.getpid()}",
    }


# -------------------------------------------------------------------------------- driver
@dataclass
class SweepOutcome:
    """What one ``run_sweep`` did: runs in the grid, skipped as already done, stored now."""

    total: int
    skipped: int
    done: int = 0
    failed: int = 0
    interrupted: bool = False
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)
    journaled: int = 0  # runs kept in the store's journal while another process held the store
    unstored: int = 0  # runs still waiting in the journal at the end (the store stayed held)
    from_journal: int = 0  # runs an earlier driver left in the journal, stored at the start
    journal: str = ""  # the journal's path

    def to_dict(self) -> dict:
        return asdict(self)


def run_sweep(
    spec: SweepSpec,
    store,
    *,
    executor: str = "local",
    address: str | None = None,
    workers: int | None = None,
    retries: int | None = None,
    progress=None,
    fn=None,
    max_runs: int = MAX_RUNS,
) -> SweepOutcome:
    """Run every run of ``spec`` not yet done in ``store`` (a `Store`); store each as it ends.

    Runs already ``done`` are skipped; ``failed`` ones are tried again. Only this process writes
    the store, one transaction per task; while another process holds the store, finished tasks
    wait in its journal and go in when it frees (``journaled``, ``unstored``). A grid of more
    than ``max_runs`` runs is refused before anything runs. ``progress(done, failed, total)`` is
    called as tasks end. Ctrl-C stops the workers and returns with ``interrupted=True``;
    everything finished is kept. ``fn`` replaces `run_task` (for tests that inject faults).
    """
    from initlab.experiments import executors

    spec.check_size(max_runs)
    if executor not in executors.EXECUTORS:
        raise InitlabError(f"unknown executor {executor!r}: choose from {', '.join(executors.EXECUTORS)}")
    if address and executor != "dask":
        raise InitlabError("--address is for --executor dask")
    if workers is not None and (isinstance(workers, bool) or workers < 1):
        raise InitlabError(f"--workers must be at least 1, got {workers}")
    retries = spec.retries if retries is None else retries
    if retries < 0:
        raise InitlabError(f"--retries must be non-negative, got {retries}")
    with store.driver_lock():
        return _drive(
            spec,
            store,
            executor=executor,
            address=address,
            workers=workers,
            retries=retries,
            progress=progress,
            fn=fn or run_task,
        )


def _drive(
    spec: SweepSpec, store, *, executor: str, address: str | None, workers: int | None, retries: int, progress, fn
) -> SweepOutcome:
    from initlab.experiments import executors

    start = time.time()
    runs = spec.runs()
    waiting = store.journaled_runs()  # what an earlier driver left, stored now if the store is free
    from_journal = waiting - store.flush_journal(wait=0) if waiting else 0
    statuses = store.statuses()
    pending = [r for r in runs if statuses.get(r.id) != "done"]
    out = SweepOutcome(
        total=len(runs), skipped=len(runs) - len(pending), journal=str(store.journal), from_journal=from_journal
    )
    if progress is not None:
        progress(out.skipped, 0, out.total)
    if not pending:
        return out
    tasks = make_tasks(pending, spec.chunk)
    if executor == "local":
        outcomes = executors.run_local(tasks, fn, workers=workers, retries=retries)
    else:
        outcomes = executors.run_dask(tasks, fn, address=address, workers=workers, retries=retries)
    try:
        for o in outcomes:
            if o.result is not None:
                stored = store.write(spec.name, o.result, executor=executor, attempts=o.attempts)
                out.done += len(o.task.runs)
            else:
                stored = store.write_failed(spec.name, o.task.runs, o.error, executor=executor, attempts=o.attempts)
                out.failed += len(o.task.runs)
                out.errors.append(o.error.splitlines()[0])
            out.journaled += 0 if stored else len(o.task.runs)
            if progress is not None:
                progress(out.skipped + out.done, out.failed, out.total)
    except KeyboardInterrupt:
        out.interrupted = True
    except executors.SchedulerLost as exc:
        raise InitlabError(
            f"{exc}; {out.done} runs finished in this sweep are kept, {out.done + out.skipped} "
            f"of {out.total} in all: run the same command again to finish"
        ) from None
    finally:
        outcomes.close()
        # the journal into the store, waiting for it to free (not after a Ctrl-C)
        out.unstored = store.flush_journal(wait=0 if out.interrupted else None)
    out.seconds = time.time() - start
    return out


def sweep_status(spec: SweepSpec | None, store, *, max_runs: int = MAX_RUNS) -> dict:
    """Counts from the store (readable while a sweep writes): per sweep, runs waiting in the
    journal, and for ``spec`` its done, failed and pending runs (journaled runs count as done)."""
    if spec is not None:
        spec.check_size(max_runs)
    out = {
        "store": str(store.path),
        "sweeps": store.summary() if store.path.exists() else [],
        "journaled": store.journaled_runs(),
    }
    if spec is not None:
        statuses = store.statuses()
        ids = [r.id for r in spec.runs()]
        done = sum(statuses.get(i) == "done" for i in ids)
        failed = sum(statuses.get(i) == "failed" for i in ids)
        out["spec"] = {
            "name": spec.name,
            "total": len(ids),
            "done": done,
            "failed": failed,
            "pending": len(ids) - done - failed,
        }
    return out
