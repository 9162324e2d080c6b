"""A run: one network trained on one data set, described by a frozen `RunConfig`, trained by
`train`, and described again, measured, by a frozen `RunResult`.

Every face trains through here: ``initlab train``, ``compare``, a sweep's tasks, the dashboard
(stepping a `Training` in chunks) and ``deep``. ``train(configs)`` groups the configs that can
share an ensemble (the same data, layers, activations, loss, iterations and schedule; inits,
seeds and learning rates may differ), trains each group as one `Network` ensemble, and returns
one `RunResult` per config, in order. A network's numbers do not depend on its group (each
member is drawn from its own seed and the engine is chosen by shape alone), so a run gives the
same bits alone, in a compare, in a sweep, or on a Dask worker.

What a run measures at its start and end (effective width, whether some layer is symmetric,
saturated and dead fractions per layer) comes from the training's tracker: its first record
(before the first update) and its last (after the last update). No second measurement.

The store's columns are this module's: `RunConfig.row` and `RunResult.row`, typed by
`CONFIG_COLUMNS` and `RESULT_COLUMNS`.
"""

from __future__ import annotations

import hashlib
import html
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from initlab import data as datasets
from initlab import initializers, limits
from initlab.diagnose.tracking import TRACKABLE
from initlab.errors import InitlabError, check_layer_dims, check_positive
from initlab.nn.activations import HIDDEN
from initlab.nn.losses import DEFAULT_LOSS, output_and_loss
from initlab.nn.network import Network
from initlab.nn.units import canonical_order, permute_units
from initlab.rng import MAX_SEED

#: Always measured at a run's start and end (the rest of ``track`` is the user's choice).
MEASURED = ("symmetry", "saturation")
ENGINES = ("auto", "fast", "reference")


def config_hash(config: dict) -> str:
    """A config's identity: 16 hex digits of SHA-256 over its JSON with sorted keys."""
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]


def check_fits(layers: Sequence[int], ds: datasets.Dataset) -> None:
    """The one check of layer sizes against a data set: ``layers[0]`` is its number of features
    and ``layers[-1]`` the output units it needs (1 for two classes, K one-hot for K)."""
    if layers[0] != ds.n_x or layers[-1] != ds.n_y:
        raise InitlabError(
            f"layers {','.join(map(str, layers))} do not fit {ds.name}: it has {ds.n_x} features and "
            f"needs {ds.n_y} output unit(s) ({len(ds.classes)} classes); use {ds.n_x},...,{ds.n_y}"
        )


def record_every(iterations: int) -> int:
    """The default spacing of tracked records: about 100 a run."""
    return max(1, iterations // 100)


@dataclass(frozen=True)
class RunConfig:
    """One run, small and frozen; `id` (a hash of `to_dict`) is its identity in the store.

    ``output`` and ``loss`` default by the network's rule (sigmoid for one output unit, softmax
    for more; the loss that fits the output) and are stored resolved. ``init`` is kept as
    written and identified in its canonical form (`initializers.canonical`: ``HE`` and ``he``
    have one `id`). ``track`` adds
    ``"weights"`` (copies of the hidden layers' weights) to what every run measures, every
    ``track_every`` iterations (default: about 100 records). ``examples`` trains on the first
    ``examples`` training examples only (None: all).
    """

    data: str = "flower"
    layers: tuple[int, ...] = (2, 4, 1)
    hidden: str | tuple[str, ...] = "tanh"
    output: str | None = None
    init: str = "random:0.01"
    lr: float = 1.2
    iterations: int = 10000
    seed: int = 0
    track: tuple[str, ...] = ()
    track_every: int | None = None
    data_seed: int | None = None
    loss: str | None = None
    bias: str | None = None  # None: the init's own (`initializers.bias_of`: a critical point's, else zeros)
    examples: int | None = None
    residual: int | None = None
    gate: bool | float | None = None
    norm: str | None = None

    def __post_init__(self) -> None:
        put = object.__setattr__  # frozen: the normal forms are set once, here
        for name in ("data", "output", "loss", "init", "bias"):
            v = getattr(self, name)
            if v is not None and not isinstance(v, str) or (name in ("data", "init") and v is None):
                raise InitlabError(f"{name} must be a string, got {v!r}")
        for name in ("hidden", "track"):
            v = getattr(self, name)
            if not isinstance(v, str) and not (isinstance(v, (list, tuple)) and all(isinstance(x, str) for x in v)):
                raise InitlabError(f"{name} must be a name or a list of names, got {v!r}")
        put(self, "data_seed", datasets.check_seed(self.data_seed))  # the data module's own check
        v = self.examples
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0):
            raise InitlabError(f"examples must be a non-negative integer or None, got {v!r}")
        put(self, "examples", None if v is None else int(v))
        if isinstance(self.lr, (bool, str)):
            raise InitlabError(f"lr must be a number, got {self.lr!r}")
        put(self, "layers", tuple(int(n) for n in check_layer_dims(self.layers)))
        L = len(self.layers) - 1
        hidden = (self.hidden,) if isinstance(self.hidden, str) else tuple(self.hidden)
        if len(hidden) not in (1, L - 1) or (L == 1 and hidden != (self.hidden,)):
            raise InitlabError(f"got {len(hidden)} hidden activations for {L - 1} hidden layers ({self.layers})")
        # one identity however a network's activations are written: GELU is gelu,
        # leaky_relu:0.01 is leaky_relu (the table's canonical names)
        hidden = tuple(HIDDEN.canonical(h) for h in hidden)
        put(self, "hidden", hidden if len(set(hidden)) > 1 else hidden[0])
        output, loss = output_and_loss(self.output, self.loss, self.layers[-1])  # the network's own rule
        put(self, "output", output)
        put(self, "loss", loss.name)
        initializers.canonical(self.init)  # validated; kept as written, identified canonically
        put(self, "bias", initializers.bias_of(self.init) if self.bias is None else self.bias)
        initializers.get(self.bias)
        put(self, "lr", check_positive("lr", self.lr))
        for name, what in (("iterations", "a non-negative integer"), ("seed", "an integer from 0 to 2**63 - 1")):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
                raise InitlabError(f"{name} must be {what}, got {v!r}")
            put(self, name, int(v))
        if self.seed > MAX_SEED:
            raise InitlabError(f"seed must be an integer from 0 to 2**63 - 1, got {self.seed}")
        track = (self.track,) if isinstance(self.track, str) else tuple(self.track)
        for t in track:
            if t not in TRACKABLE:
                raise InitlabError(f"cannot track {t!r}: choose from {', '.join(TRACKABLE)}")
        put(self, "track", tuple(sorted(set(track))))  # one identity however it is listed
        every = record_every(self.iterations) if self.track_every is None else self.track_every
        if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every < 1:
            raise InitlabError(f"track_every must be a positive integer, got {self.track_every!r}")
        put(self, "track_every", int(every))
        if self.examples is not None and (
            isinstance(self.examples, bool) or not isinstance(self.examples, (int, np.integer)) or self.examples < 1
        ):
            raise InitlabError(f"examples must be a positive number of training examples, got {self.examples!r}")
        self._check_structure()
        from initlab.nn.residual import check_init

        check_init(self.init, self.layers, self.residual, self.gate, self.norm)  # a recipe that cannot apply

    def _check_structure(self) -> None:
        """``residual``, ``gate``, ``norm`` in their normal forms (an int, None/True/a float, a
        name), checked against the layers by the network's own rule (`Layout.build`)."""
        from initlab.nn.residual import Layout

        put = object.__setattr__
        r, gate, norm = self.residual, self.gate, self.norm
        if r is None:
            if gate not in (None, False) or norm is not None:
                raise InitlabError("gate and norm belong to residual networks: set residual (weight layers per branch)")
            put(self, "gate", None)
            return
        if gate is False:
            gate = None
        elif gate is not None and gate is not True:
            if isinstance(gate, str) or not np.isfinite(np.float64(gate)):
                raise InitlabError(f"gate must be None, True or a finite starting value, got {gate!r}")
            gate = float(gate)
        put(self, "gate", gate)
        layout = Layout.build(self.layers, r, gate is not None, norm)
        put(self, "residual", layout.m)

    def to_dict(self) -> dict:
        """Every field as JSON (lists for tuples), resolved: ``output``, ``loss`` and ``init``
        as the run used them."""
        d = asdict(self)
        d["layers"], d["track"] = list(self.layers), list(self.track)
        if not isinstance(self.hidden, str):
            d["hidden"] = list(self.hidden)
        return d

    #: Fields added after the store's first version, with the value that version always used:
    #: in the identity only where they differ from it, so the first store's ids stay.
    _LATER = {"bias": "zeros", "examples": None, "residual": None, "gate": None, "norm": None}

    def identity(self) -> dict:
        """What `id` hashes: `to_dict` with the init in canonical form, without the later fields
        at their first-version values, and the loss only where it is not the output's default."""
        d = self.to_dict()
        d["init"] = initializers.canonical(self.init)
        if d["loss"] == DEFAULT_LOSS.get(self.output):
            del d["loss"]
        return {k: v for k, v in d.items() if k not in self._LATER or v != self._LATER[k]}

    @property
    def id(self) -> str:
        """The config's hash (`config_hash` of `identity`), its identity in the store."""
        return config_hash(self.identity())

    @property
    def group(self) -> tuple:
        """Configs with the same group train together as one ensemble."""
        return (
            self.data,
            self.data_seed,
            self.examples,
            self.layers,
            self.hidden,
            self.output,
            self.loss,
            self.bias,
            self.iterations,
            self.track,
            self.track_every,
            self.residual,
            (type(self.gate).__name__, self.gate),  # gate True (the init's own) is not gate 1.0
            self.norm,
            # a recipe that sets gates (rezero) gives its whole ensemble gates: without --gate it
            # trains apart from ungated inits, so He stays the plain residual network it is alone
            self.residual is not None
            and self.gate is None
            and bool(getattr(initializers.get(self.init), "needs_gate", False)),
        )

    @property
    def structure(self) -> dict:
        """The residual keywords of `initlab.nn.network.Network` (empty for a plain MLP)."""
        if self.residual is None:
            return {}
        return {"residual": self.residual, "gate": self.gate, "norm": self.norm}

    @property
    def init_name(self) -> str:
        return initializers.entry_of(self.init).name

    @property
    def scale(self) -> float | None:
        """The init's scale argument (``random:10`` -> 10.0), None where it has none."""
        return initializers.scale_of(self.init)

    def row(self) -> dict:
        """The store's config columns (`CONFIG_COLUMNS`)."""
        return {
            "id": self.id,
            "data": self.data,
            "data_seed": self.data_seed,
            "layers": ",".join(map(str, self.layers)),
            "depth": len(self.layers) - 2,
            "hidden": self.hidden if isinstance(self.hidden, str) else ",".join(self.hidden),
            "output": self.output,
            "init": self.init,
            "init_name": self.init_name,
            "scale": self.scale,
            "lr": self.lr,
            "iterations": self.iterations,
            "seed": self.seed,
            "track": ",".join(self.track),
            "residual": self.residual,
            # "learned": a gate starting where the init puts it (0 for rezero); else its start
            "gate": None
            if self.gate is None
            else "learned"
            if self.gate is True
            else initializers.number_text(self.gate),
            "norm": self.norm,
        }


#: The store's column types: `RunConfig.row`'s keys ...
CONFIG_COLUMNS = {
    "id": "VARCHAR PRIMARY KEY",
    "data": "VARCHAR",
    "data_seed": "UBIGINT",
    "layers": "VARCHAR",
    "depth": "INTEGER",
    "hidden": "VARCHAR",
    "output": "VARCHAR",
    "init": "VARCHAR",
    "init_name": "VARCHAR",
    "scale": "DOUBLE",
    "lr": "DOUBLE",
    "iterations": "INTEGER",
    "seed": "UBIGINT",
    "track": "VARCHAR",
    "residual": "INTEGER",
    "gate": "VARCHAR",  # "learned" (the init's own start) or the start ("0.5"): gate true is not gate 1.0
    "norm": "VARCHAR",
}


@dataclass(frozen=True)
class Measures:
    """What a run measured at one step: per hidden layer ``effective_width``; per layer (the
    output included) ``saturated_fraction`` and ``dead_fraction``, None where the activation
    cannot saturate or die; ``symmetric``: some hidden layer has identical units."""

    iteration: int
    effective_width: tuple[int, ...]
    symmetric: bool
    saturated_fraction: tuple[float | None, ...]
    dead_fraction: tuple[float | None, ...]

    def to_dict(self) -> dict:
        d = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    def hidden_mean(self, name: str) -> float | None:
        """The mean over hidden layers of ``saturated_fraction`` or ``dead_fraction`` (None
        where no hidden layer has it): the store's one number per run."""
        vals = [v for v in getattr(self, name)[:-1] if v is not None]
        return float(np.mean(vals)) if vals else None


@dataclass(frozen=True)
class RunResult:
    """One run's outcome: its config, the cost at ``iterations`` (before that step's update; the
    last after the final update), accuracies, and `Measures` at the start and end (the tracker's
    first and last records). ``curves``: the tracked measures at every tracked step
    (``iteration``, ``effective_width``, ``symmetric``, ``saturated_fraction``,
    ``dead_fraction``, and ``weights`` where tracked), this member's slice."""

    config: RunConfig
    iterations: tuple[int, ...]
    costs: tuple[float, ...]
    train_accuracy: float | None  # None for a regression (no classes)
    test_accuracy: float | None
    start: Measures
    end: Measures
    engine: str
    seconds: float
    curves: dict = field(repr=False, compare=False, default_factory=dict)

    @property
    def final_cost(self) -> float:
        return self.costs[-1]

    @property
    def initial_cost(self) -> float:
        return self.costs[0]

    @property
    def diverged_at(self) -> int | None:
        """The first recorded iteration whose cost is NaN or inf, None when all are finite."""
        return next((i for i, c in zip(self.iterations, self.costs, strict=True) if not np.isfinite(c)), None)

    @property
    def symmetric_every_step(self) -> bool | None:
        """Some hidden layer kept identical units at every tracked step; None for a run that
        tracked nothing (measured at its start and end only)."""
        if not self.config.track:
            return None
        return bool(np.all(self.curves["symmetric"]))

    def row(self) -> dict:
        """The store's measured columns (`RESULT_COLUMNS`), one number (or list) each."""
        return {
            "final_cost": self.final_cost if np.isfinite(self.final_cost) else None,
            "initial_cost": self.initial_cost,
            "train_accuracy": self.train_accuracy,
            "test_accuracy": self.test_accuracy,
            "effective_width": list(self.end.effective_width),
            "symmetric_end": self.end.symmetric,
            "saturated_fraction": self.end.hidden_mean("saturated_fraction"),
            "dead_fraction": self.end.hidden_mean("dead_fraction"),
            "diverged_at": self.diverged_at,
            "seconds": self.seconds,
            "engine": self.engine,
        }

    def curve_rows(self) -> dict[str, list]:
        """The store's curves (`CURVE_COLUMNS`): one row per cost record, with the measures
        where that step was tracked (NULL elsewhere)."""
        c = self.curves
        at = {i: j for j, i in enumerate(c["iteration"])}
        rows = [at.get(i) for i in self.iterations]
        out = {
            "run": [self.config.id] * len(self.iterations),
            "iteration": list(self.iterations),
            "cost": [None if not np.isfinite(v) else v for v in self.costs],
            "effective_width": [None if j is None else list(map(int, c["effective_width"][j])) for j in rows],
        }
        for name in ("saturated_fraction", "dead_fraction"):
            out[name] = [None if j is None else [None if np.isnan(v) else float(v) for v in c[name][j]] for j in rows]
        return out

    def cost_at(self, iteration: int) -> float | None:
        """The recorded cost at ``iteration``, None where none was recorded."""
        try:
            return self.costs[self.iterations.index(iteration)]
        except ValueError:
            return None

    def to_dict(self) -> dict:
        """``train --json``'s object: ``config``, ``id``, the measured columns (`row`),
        ``costs`` as ``[[iteration, cost], ...]``, ``start`` and ``end``."""
        return {
            "config": self.config.to_dict(),
            "id": self.config.id,
            **self.row(),
            "final_cost": self.final_cost,
            "symmetric_every_step": self.symmetric_every_step,
            "costs": [[i, c] for i, c in zip(self.iterations, self.costs, strict=True)],
            "start": self.start.to_dict(),
            "end": self.end.to_dict(),
        }

    def _repr_html_(self) -> str:
        c = self.config
        rows = "".join(
            f"<tr><th>{k}</th><td>{html.escape(str(v))}</td></tr>"
            for k, v in (
                ("layers", ",".join(map(str, c.layers))),
                ("init", c.init),
                ("final cost", f"{self.final_cost:.6g}"),
                (
                    "train / test accuracy",
                    "-" if self.train_accuracy is None else f"{self.train_accuracy:.1%} / {self.test_accuracy:.1%}",
                ),
                ("effective width (end)", ", ".join(map(str, self.end.effective_width))),
                ("diverged at", self.diverged_at),
            )
        )
        return f"<table><caption>run {c.id} on {html.escape(c.data)}</caption>{rows}</table>"


#: ... and `RunResult.row`'s.
RESULT_COLUMNS = {
    "final_cost": "DOUBLE",
    "initial_cost": "DOUBLE",
    "train_accuracy": "DOUBLE",
    "test_accuracy": "DOUBLE",
    "effective_width": "INTEGER[]",
    "symmetric_end": "BOOLEAN",
    "saturated_fraction": "DOUBLE",
    "dead_fraction": "DOUBLE",
    "diverged_at": "INTEGER",
    "seconds": "DOUBLE",
    "engine": "VARCHAR",
}
CURVE_COLUMNS = {
    "run": "VARCHAR",
    "iteration": "INTEGER",
    "cost": "DOUBLE",
    "effective_width": "INTEGER[]",
    "saturated_fraction": "DOUBLE[]",
    "dead_fraction": "DOUBLE[]",
}


# ------------------------------------------------------------------------------- training
class Training:
    """The configs of one group (`RunConfig.group`) as one ensemble, trained in steps.

    ``Training(configs).run()`` is `train` for one group; the dashboard calls ``step(n)`` in
    chunks and reads ``network`` between them; ``compare`` and ``deep`` measure ``network``
    before ``run()`` (gradients, propagation at initialization). ``data``: the loaded data set
    (a sweep's worker gets it from the driver); default: loaded from the config. ``check``: the
    whole run's memory and work against `initlab.limits` before anything is drawn (the
    dashboard, which steps and can stop, has its own caps); ``held_passes``: forward passes the
    caller keeps (compare keeps the initial one).
    """

    def __init__(
        self,
        configs: Sequence[RunConfig],
        *,
        data: datasets.Dataset | None = None,
        engine: str = "auto",
        held_passes: int = 0,
        check: bool = True,
    ) -> None:
        from initlab.nn import fast

        configs = list(configs)
        if not configs:
            raise InitlabError("train needs at least one RunConfig")
        first = configs[0]
        for c in configs:
            if not isinstance(c, RunConfig):
                raise InitlabError(f"train takes RunConfig objects, got {type(c).__name__}")
            if c.group != first.group:
                raise InitlabError(
                    "configs of one Training must share data, layers, activations, loss, iterations "
                    "and tracking (train() groups them for you)"
                )
        if engine not in ENGINES:
            raise InitlabError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
        ds = data if data is not None else datasets.load(first.data, seed=first.data_seed)
        check_fits(first.layers, ds)
        if first.examples is not None:
            if first.examples > ds.X_train.shape[1]:
                raise InitlabError(
                    f"examples {first.examples} is more than the {ds.X_train.shape[1]} training examples of {ds.name}"
                )
            ds = datasets.Dataset(
                ds.name,
                ds.X_train[:, : first.examples],
                ds.Y_train[:, : first.examples],
                ds.X_test,
                ds.Y_test,
                ds.classes,
                ds.description,
            )
        self.configs, self.data = configs, ds
        E = len(configs)
        self.track = tuple(dict.fromkeys(MEASURED + first.track))
        if check:  # the whole group, before anything is drawn
            limits.check(
                limits.training(
                    first.layers,
                    ensemble=E,
                    examples=max(ds.X_train.shape[1], ds.X_test.shape[1]),
                    iterations=first.iterations,
                    tracked=first.iterations // first.track_every + 2,
                    track_weights="weights" in self.track,
                    held_passes=held_passes,
                    build=True,
                    what=f"training {E:,} network(s) of layers {','.join(map(str, first.layers))}" if E > 1 else None,
                )
            )
        self._net = Network(
            list(first.layers),
            hidden=first.hidden if isinstance(first.hidden, str) else list(first.hidden),
            output=first.output,
            loss=first.loss,
            init=[c.init for c in configs],
            bias=first.bias,
            seed=[c.seed for c in configs],
            **first.structure,
        )
        if engine == "auto":
            engine = "fast" if fast.pays(self._net) else "reference"
        self.engine = engine
        # One order of hidden units for every chunk (`Network.fit(order=...)`): the canonical
        # order of the parameters as drawn (after lsuv's data step), so chunks are the arithmetic
        # of one call. The network is in that order while it trains and back in the user's
        # order whenever it is read (`network`).
        self._net._apply_lsuv(np.ascontiguousarray(ds.X_train))
        # a residual network's stream is one set of units across its layers: it trains in the
        # order it has (`Network.fit` does the same); [] is "no permutation"
        self._order = canonical_order(self._net.params) if self._net.layout is None else []
        self._ordered = False
        self.done = 0  # iterations trained
        self.seconds = 0.0
        self._its: list[int] = []
        self._costs: list[np.ndarray] = []
        self._tracked: dict[str, list] = {}

    @property
    def network(self) -> Network:
        """The ensemble (member k is config k), its hidden units in the user's order."""
        if self._ordered:
            permute_units(self._net.params, self._order, inverse=True)
            self._ordered = False
        return self._net

    @property
    def lr(self) -> list[float]:
        return [c.lr for c in self.configs]

    def step(self, n: int, *, progress: Callable[[int, object], None] | None = None) -> None:
        """``n`` more gradient-descent steps, recording the cost and measures at this chunk's
        start and end (the dashboard's chunks), never past the configs' iterations."""
        left = self.configs[0].iterations - self.done
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 0 <= n <= left:
            raise InitlabError(
                f"step takes 0 to {left} iterations (the configs' {self.configs[0].iterations}, "
                f"{self.done} done), got {n!r}"
            )
        self._fit(int(n), n, n, progress)

    def run(self, progress: Callable[[int, object], None] | None = None) -> list[RunResult]:
        """Train the rest of the configs' iterations on their schedule; the results."""
        first = self.configs[0]
        rest = first.iterations - self.done
        # costs every track_every; the measures too where the config tracks something, else at
        # the start and the end only (measuring every record made a sweep 5-7x slower)
        self._fit(rest, first.track_every, first.track_every if first.track else max(rest, 1), progress)
        return self.results()

    def _fit(self, n: int, record: int | None, every: int, progress) -> None:
        X, Y = self.data.X_train, self.data.Y_train
        offset = self.done
        callback = None if progress is None else (lambda i, c: progress(offset + i, c))
        if not self._ordered:
            permute_units(self._net.params, self._order)
            self._ordered = True
        t = time.perf_counter()
        h = self._net.fit(
            X,
            Y,
            lr=self.lr,
            iterations=n,
            record_every=record or None,
            callback=callback,
            track=self.track,
            track_every=max(1, every),
            engine=self.engine,
            order=self._order,
        )
        self.seconds += time.perf_counter() - t
        self.done += n
        skip = 1 if self._its and self._its[-1] == offset else 0  # a chunk's start is the last end
        self._its += [offset + int(i) for i in h.iterations[skip:]]
        self._costs += list(np.asarray(h.costs)[skip:])
        tr = h.tracked
        skip = 1 if self._tracked and self._tracked["iteration"][-1] == offset else 0
        columns = {
            "iteration": [offset + i for i in tr.iterations],
            "effective_width": tr.effective_width,
            "symmetric": tr.symmetric,
            "saturated_fraction": tr.saturated_fraction,
            "dead_fraction": tr.dead_fraction,
            "weights": tr.weights,
        }
        for name, values in columns.items():
            if values:
                self._tracked.setdefault(name, []).extend(values[skip:])

    def costs(self) -> list[float]:
        """Each member's cost where training stands, as the engine recorded it (one record is
        made at iteration 0 before any step): the number a result will hold, not a second
        measurement of it."""
        if not self._its:
            self._fit(0, 1, 1, None)
        return [float(c) for c in self._costs[-1]]

    def results(self) -> list[RunResult]:
        """One `RunResult` per config, measured where training stands now."""
        if not self._its:
            self._fit(0, 1, 1, None)  # nothing trained yet: the measures at initialization
        net, ds = self.network, self.data
        E = len(self.configs)
        train_acc = test_acc = [None] * E  # a regression (loss mse) has no accuracy
        if net.output == "softmax" or net.loss.name == "binary_cross_entropy":
            with np.errstate(all="ignore"):  # a diverged network predicts from NaN: its result says so
                train_acc = [float(a) for a in np.atleast_1d(net.accuracy(ds.X_train, ds.Y_train))]
                test_acc = [float(a) for a in np.atleast_1d(net.accuracy(ds.X_test, ds.Y_test))]
        costs = np.array(self._costs, dtype=np.float64).reshape(len(self._its), -1)  # (k, E)
        tr = {k: v if k == "weights" else np.asarray(v) for k, v in self._tracked.items()}
        out = []
        for k, config in enumerate(self.configs):
            curves = {"iteration": [int(i) for i in tr["iteration"]]}
            for name in ("effective_width", "symmetric", "saturated_fraction", "dead_fraction"):
                curves[name] = tr[name][:, k]  # (steps, E, ...): the network is always an ensemble
            if "weights" in tr:
                curves["weights"] = [{key: w[key][k] for key in w} for w in tr["weights"]]
            out.append(
                RunResult(
                    config=config,
                    iterations=tuple(self._its),
                    costs=tuple(float(c) for c in costs[:, k]),
                    train_accuracy=train_acc[k],
                    test_accuracy=test_acc[k],
                    start=_measures(curves, 0),
                    end=_measures(curves, -1),
                    engine=self.engine,
                    seconds=self.seconds / E,
                    curves=curves,
                )
            )
        return out


def _measures(curves: dict, j: int) -> Measures:
    def opt(values) -> tuple[float | None, ...]:
        return tuple(None if np.isnan(v) else float(v) for v in values)

    return Measures(
        iteration=curves["iteration"][j],
        effective_width=tuple(int(w) for w in curves["effective_width"][j]),
        symmetric=bool(curves["symmetric"][j]),
        saturated_fraction=opt(curves["saturated_fraction"][j]),
        dead_fraction=opt(curves["dead_fraction"][j]),
    )


def groups(configs: Sequence[RunConfig], chunk: int | None = None) -> list[list[int]]:
    """Indices of ``configs`` that train together, in first-seen order, each at most ``chunk``."""
    by: dict[tuple, list[int]] = {}
    for i, c in enumerate(configs):
        by.setdefault(c.group, []).append(i)
    step = chunk or max(1, len(configs))
    return [idx[a : a + step] for idx in by.values() for a in range(0, len(idx), step)]


def train(
    configs: RunConfig | Sequence[RunConfig],
    *,
    progress: Callable[[int, object], None] | None = None,
    engine: str = "auto",
) -> list[RunResult]:
    """Train every config; one `RunResult` each, in order.

    Configs of one group (`RunConfig.group`) train at once as one ensemble; a config's result
    is the same bits whatever its group. ``progress(iteration, cost)`` is called at each cost
    record of each group. ``engine``: ``"auto"`` (by shape: `initlab.nn.fast.pays`), ``"fast"``
    or ``"reference"``.
    """
    if isinstance(configs, RunConfig):
        configs = [configs]
    configs = list(configs)
    for c in configs:
        if not isinstance(c, RunConfig):
            raise InitlabError(f"train takes RunConfig objects, got {type(c).__name__}: {c!r:.60}")
    out: list[RunResult | None] = [None] * len(configs)
    loaded: dict[tuple, datasets.Dataset] = {}
    for idx in groups(configs):
        first = configs[idx[0]]
        key = (first.data, first.data_seed)
        if key not in loaded:
            loaded[key] = datasets.load(first.data, seed=first.data_seed)
        results = Training([configs[i] for i in idx], data=loaded[key], engine=engine).run(progress)
        for i, r in zip(idx, results, strict=True):
            out[i] = r
    return out


__all__ = [
    "CONFIG_COLUMNS",
    "CURVE_COLUMNS",
    "RESULT_COLUMNS",
    "Measures",
    "RunConfig",
    "RunResult",
    "Training",
    "check_fits",
    "config_hash",
    "groups",
    "train",
]
