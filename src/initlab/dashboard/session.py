"""One browser tab's experiment: its configuration, checked field by field, and a trainer that
runs off the server's event loop and leaves measured snapshots for the page to draw.

No math here: the network is `initlab.nn.Network` (one ensemble, one member per initializer),
the measurements are `symmetry`, `saturation`, `propagation` and `theory.network_variances`.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace

import numpy as np

from initlab import data as datasets
from initlab import initializers, theory
from initlab.diagnose.propagation import propagation
from initlab.diagnose.saturation import saturation
from initlab.diagnose.symmetry import symmetry
from initlab.errors import InitlabError, check_layer_dims, check_positive, parse_ints
from initlab.experiments.run import RunConfig, Training, check_fits
from initlab.nn import HIDDEN, Network
from initlab.report import plots

DATASETS = list(datasets.BUILTIN)
MAX_INITS = 4
MAX_ITERATIONS = 1_000_000
MAX_SEED = 2**32 - 1
MAX_UNITS = 1024
MAX_HIDDEN_LAYERS = 32
#: Operations in one training step of the whole ensemble (`estimate`): networks x examples x
#: (3 x weights + 64 x units). The 3 products (one forward, two backward) cost a multiply-add
#: per weight and example; a unit's element-wise work (bias, activation, its derivative, the
#: kernels' copies) costs about 64 multiply-adds per example (measured: a step of 2,1024,1 is
#: mostly element-wise, one of 2,200,200,1 mostly products). The exact products run at about
#: 2e9 multiply-adds a second on a 2-core machine, so a step at the cap takes ~0.1 s, and Stop,
#: checked between steps and between the parts of a measurement, answers within 0.5 s.
MAX_STEP_WORK = 200_000_000
#: Bytes: `estimate`'s figure for one run (parameters, caches and measurements).
MAX_MEMORY = 512 * 2**20
#: Characters in one field (or one URL query value): bounds every parse and every message.
#: Layers get more, so that a network far too deep is told its depth.
MAX_FIELD_CHARS = 200
MAX_LAYERS_CHARS = 2000
#: Runs training at once in one server, all tabs together.
MAX_RUNNING = 4
COURSE_STORY = ("zeros", "random:0.01", "random:10", "he")
#: The defaults tell the course's story within seconds (measured, `initlab.experiments.train`,
#: seeds 0 to 5): at lr 0.3 and 2000 iterations He reaches 97.7-99.3% train while zeros stays at
#: 50.0%, random:0.01 at 50.3-59.7% and random:10 at 50.0-69.3%; the whole run trains in about
#: 0.3 s of CPU, so the page shows the end within a few seconds. (At the old lr 0.01 and 3000
#: iterations He reached 58-65% and looked no better than zeros.)
DEFAULTS = {
    "data": "circles",
    "layers": "2,10,5,1",
    "hidden": "relu",
    "inits": ",".join(COURSE_STORY),
    "lr": "0.3",
    "iterations": "2000",
    "seed": "1",
    "residual": "0",
    "gate": "none",
    "norm": "none",
}
#: Lessons, each a whole configuration (missing fields take `DEFAULTS`), chosen from
#: measurements (seeds 0-3 unless said; docs/dashboard.md gives the numbers):
PRESETS: dict[str, dict[str, str]] = {
    # circles 2-10-5-1 ReLU: zeros 50%, random:0.01 at chance, random:10 slow, He ~99%
    "the course's story: zeros, random:0.01, random:10, he": {},
    # the course's planar network (2-4-1 tanh, lr 1.2): zeros stays one unit at 50.0% train;
    # random:0.01 reaches 88.5-89.7% in 1000 iterations
    "the course's zero vs random": {
        "data": "flower",
        "layers": "2,4,1",
        "hidden": "tanh",
        "inits": "zeros,random:0.01",
        "lr": "1.2",
        "iterations": "1000",
    },
    # the same network from randn * 0.01 to randn * 100: saturated at init 0%, 17-38%, 79-89%,
    # 97-99% of layer 1's (unit, example) pairs; random:100 ends at 71-88% train after 2000
    # iterations where the others reach 88-91%
    "large weights saturate": {
        "data": "flower",
        "layers": "2,4,1",
        "hidden": "tanh",
        "inits": "random:0.01,random:1,random:10,random:100",
        "lr": "1.2",
        "iterations": "2000",
    },
    # 15 ReLU layers of 16: xavier (the course's, randn * sqrt(1/n)) halves the signal's
    # variance at every layer, He keeps it; in 1000 iterations at lr 0.05 He reaches 95-100%
    # train at 3 of 4 seeds, xavier 58-66% at 3 of 4 (the variance plot shows why at once)
    "deep ReLU: He vs Xavier": {
        "data": "circles",
        "layers": "2," + ",".join(["16"] * 15) + ",1",
        "hidden": "relu",
        "inits": "he,xavier",
        "lr": "0.05",
        "iterations": "1000",
    },
}
#: The gate field's words (a number is a starting value too) and the norm field's.
GATES = ("none", "learned")
NORM_FIELD = ("none", "layernorm")
SNAPSHOT_EVERY = 0.08  # seconds between measured snapshots while training (about 12 a second)
#: Training runs in chunks (one `Network.fit` call each), Stop checked between them. A chunk
#: doubles its steps while it takes under CHUNK_SECONDS and halves them when it takes over
#: CHUNK_SECONDS_MAX, measured on each chunk: not steps x a time per step, because a fit call
#: also has a fixed cost (about 16 ms measured on the course's network with the compiled engine,
#: 45 ms on an earlier build), which a rate alone would read as slow steps: chunks stayed at 1
#: step, and the page at iteration 1. A snapshot is taken between chunks only, so the chunk's
#: length bounds the page's update rate: at 0.1 to 0.25 s a chunk the page got 2-4 updates a
#: second (measured in Chromium on a busy 2-core machine); at 0.04 to 0.1 s it gets 5 or more
#: for a fixed cost of at most 16 ms in 40 (the steps themselves run at the same speed).
CHUNK_SECONDS = 0.04
CHUNK_SECONDS_MAX = 0.1
MAX_CHUNK = 100_000  # steps in one chunk, however fast they are
#: Stop measures the network once more where it stopped only when a measurement takes less
#: than this; otherwise the last picture stays (Stop answers within 0.5 s either way).
FINAL_MEASURE_SECONDS = 0.1
#: Threads of the compiled products in a trainer's thread (numba's count is per thread, so the
#: rest of the server keeps its own). One: a kernel launch on several threads waits for them to
#: wake, which on a busy 2-core machine cost more than the work (measured, 32 hidden layers of
#: 32 units: 290-810 ms a step on 2 threads, 74-99 ms on 1), and one core stays free for the
#: server and the browser. Threads only split rows: the bits are the same.
TRAIN_THREADS = 1
BOUNDARY_GRID = 60  # the decision boundary's grid is BOUNDARY_GRID^2 points ...
BOUNDARY_BATCH = 400  # ... measured this many points at a time, Stop checked between
#: Seconds between measurements of the grid pictures (decision boundary, unit tiles): the page
#: draws them at most this often (`initlab.dashboard.app`), and they were most of a
#: measurement's time (the tiles' PNGs 60% of it, profiled on the course's story), which bounds
#: how often the page gets the status, the cost and the table.
PICTURES_EVERY = 0.3
#: The unit tiles' grid: at most this many points a side (`initlab.report.tiles`)
TILE_GRID = 28
TILE_PX = 22  # CSS pixels a tile is drawn at: four inits of 10 units side by side at 1280 px


@dataclass(frozen=True)
class Config:
    data: str
    layers: tuple[int, ...]
    hidden: str
    inits: tuple[str, ...]
    lr: float
    iterations: int
    seed: int
    #: a residual network's weight layers per branch (None: plain), its gate (None, True or a
    #: starting value) and norm (`initlab.nn.residual`)
    residual: int | None = None
    gate: bool | float | None = None
    norm: str | None = None

    def structure(self) -> dict:
        """`RunConfig`'s residual keywords (none for a plain network)."""
        if self.residual is None:
            return {}
        return {"residual": self.residual, "gate": self.gate, "norm": self.norm}

    def runs(self) -> list[RunConfig]:
        """One `RunConfig` per init (this tab's ensemble), trained in chunks by `Training.step`."""
        return [
            RunConfig(
                self.data,
                self.layers,
                self.hidden,
                None,
                init,
                self.lr,
                self.iterations,
                self.seed,
                **self.structure(),
            )
            for init in self.inits
        ]

    def query(self) -> dict[str, str]:
        """The URL's query parameters for this configuration."""
        return {
            "data": self.data,
            "layers": ",".join(map(str, self.layers)),
            "hidden": self.hidden,
            "inits": ",".join(self.inits),
            "lr": f"{self.lr:g}",
            "iterations": str(self.iterations),
            "seed": str(self.seed),
            **(
                {}
                if self.residual is None
                else {
                    "residual": str(self.residual),
                    "gate": "none" if self.gate is None else "learned" if self.gate is True else f"{self.gate:g}",
                    "norm": self.norm or "none",
                }
            ),
        }


def split_inits(text: str) -> list[str]:
    """``"zeros,random:0.01,variance_scaling:2,fan_out"`` -> specs, split by the registry
    (`initlab.initializers.split_specs`)."""
    return initializers.split_specs(text)


def _short(x: float) -> str:
    """3790000000 -> '3.8e9'."""
    return f"{x:.2g}".replace("e+0", "e").replace("e+", "e")


def estimate(layers: tuple[int, ...] | list[int], networks: int, examples: int) -> tuple[int, int]:
    """``(operations, bytes)`` of one training step of ``networks`` networks of these layer
    sizes on ``examples`` examples, from the sizes alone (nothing is allocated).

    Operations: networks x examples x (3 x weights + 64 x units); see `MAX_STEP_WORK`.
    Bytes: 8 x networks x (6 x parameters + 12 x units x examples): the parameters, their
    gradients, the update's and the kernels' copies; each layer's A, Z, dZ, dA and a kernel's
    transposed copy, twice (the page keeps the last snapshot's activations while the next
    measurement runs); examples is at least a batch of the boundary's grid. Checked against
    the peak tracemalloc sees (tests/test_dashboard.py)."""
    weights = sum(a * b for a, b in zip(layers[:-1], layers[1:], strict=True))
    params = weights + sum(layers[1:])
    units = sum(layers[1:])
    work = networks * examples * (3 * weights + 64 * units)
    memory = 8 * networks * (6 * params + 12 * units * max(examples, BOUNDARY_BATCH))
    return work, memory


def check_size(layers: tuple[int, ...] | list[int], networks: int, examples: int) -> None:
    """Refuse, in one line naming the figure and the limit, a network the dashboard cannot train
    while staying responsive: too deep, too wide, or too much work or memory in one step."""
    hidden = len(layers) - 2
    if hidden > MAX_HIDDEN_LAYERS:
        raise InitlabError(f"layers: {hidden} hidden layers; the dashboard takes at most {MAX_HIDDEN_LAYERS}")
    if max(layers) > MAX_UNITS:
        raise InitlabError(f"layers: a layer of {max(layers)} units; the dashboard takes at most {MAX_UNITS} a layer")
    work, memory = estimate(layers, networks, examples)
    if work > MAX_STEP_WORK:
        weights = sum(a * b for a, b in zip(layers[:-1], layers[1:], strict=True))
        raise InitlabError(
            f"layers: one step is about {_short(work)} operations ({networks} networks x {examples} examples x "
            f"(3 x {weights:,} weights + 64 x {sum(layers[1:]):,} units)); the dashboard takes at most "
            f"{_short(MAX_STEP_WORK)}, so that Stop answers at once: use fewer or narrower layers, "
            "or fewer initializers"
        )
    if memory > MAX_MEMORY:
        raise InitlabError(
            f"layers: about {memory / 2**20:,.0f} MiB for {networks} networks; the dashboard "
            f"takes at most {MAX_MEMORY // 2**20} MiB: use fewer or narrower layers"
        )


def max_chars(field: str) -> int:
    """The longest text `parse_config` reads for ``field``."""
    return MAX_LAYERS_CHARS if field == "layers" else MAX_FIELD_CHARS


def _clip(text: str, n: int = 40) -> str:
    """``text`` quoted, cut to ``n`` characters when longer (saying how long it was)."""
    return repr(text) if len(text) <= n else f"{text[:n]!r}... ({len(text):,} characters)"


def _layers(text: str) -> tuple[int, ...]:
    """``"2,10,5,1"`` -> ``(2, 10, 5, 1)``, in the dashboard's depth and width caps; the depth
    is checked before the sizes, so every message stays short."""
    try:
        dims = parse_ints(text, "layers")
    except InitlabError:
        raise InitlabError(f"layers takes comma-separated integers such as 2,4,1; got {_clip(text)}") from None
    if len(dims) - 2 > MAX_HIDDEN_LAYERS:
        raise InitlabError(f"layers: {len(dims) - 2} hidden layers; the dashboard takes at most {MAX_HIDDEN_LAYERS}")
    widest = max(dims)
    if widest > MAX_UNITS:
        raise InitlabError(
            f"layers: a layer of {widest if widest < 10**15 else 'more than 10^15'} units; "
            f"the dashboard takes at most {MAX_UNITS} a layer"
        )
    return tuple(check_layer_dims(dims))


def _integer(name: str, text: str, lo: int, hi: int, what: str = "an integer") -> int:
    """A plain decimal integer (ASCII digits, spaces around) from ``lo`` to ``hi``."""
    t = text.strip()
    if not (t.isascii() and t.isdigit()):
        raise InitlabError(f"{name} must be {what} from {lo:,} to {hi:,}, got {text!r}")
    value = int(t)
    if not lo <= value <= hi:
        raise InitlabError(f"{name} must be {lo:,} to {hi:,}, got {value:,}")
    return value


def parse_config(
    values: dict[str, str], *, where: dict[str, int] | None = None
) -> tuple[Config | None, dict[str, str]]:
    """Check every field of ``values`` (strings, from the page or the URL; missing ones take the
    defaults). Returns the config, or None and ``{field: message}`` for each bad field.
    ``where``, when given, gets ``{"inits": k}``: the inits' message is about spec ``k`` of the
    field (from 0), so the page can say it under that initializer's own field."""
    where = {} if where is None else where
    v = {**DEFAULTS, **{k: str(x) for k, x in values.items() if x is not None}}
    errors: dict[str, str] = {}
    for f in DEFAULTS:  # before any parse: bounds the work of every check and every message
        if len(v[f]) > max_chars(f):
            errors[f] = f"{f}: {len(v[f]):,} characters; at most {max_chars(f):,}"
    ds = None
    if "data" in errors:
        pass
    elif v["data"] not in DATASETS:
        errors["data"] = f"unknown data set {v['data']!r}; choose from {', '.join(DATASETS)}"
    else:
        ds = datasets.load(v["data"])
    layers: tuple[int, ...] = ()
    if "layers" not in errors:
        try:
            layers = _layers(v["layers"])
        except InitlabError as exc:
            errors["layers"] = str(exc)
    if layers and len(layers) < 3 and "layers" not in errors:
        errors["layers"] = "layers: give at least one hidden layer, such as 2,10,1"
    if layers and ds is not None and "layers" not in errors:
        try:
            check_fits(layers, ds)  # the one check every face makes
        except InitlabError as exc:
            errors["layers"] = str(exc)
    if "hidden" not in errors:
        try:  # unknown, or a family's bad value (leaky_relu:abc): the table's own message
            v = {**v, "hidden": HIDDEN.canonical(v["hidden"], "activation")}
        except InitlabError as exc:
            errors["hidden"] = str(exc)
    inits = split_inits(v["inits"]) if "inits" not in errors else []
    if "inits" not in errors and not 1 <= len(inits) <= MAX_INITS:
        errors["inits"] = f"give 1 to {MAX_INITS} initializers, got {len(inits)}"
    for k, spec in enumerate(inits if "inits" not in errors else ()):
        try:
            initializers.parse_spec(spec)
        except InitlabError as exc:
            errors["inits"] = str(exc) if spec in str(exc) else f"initializer {spec!r}: {exc}"
            where["inits"] = k
            break
    if "inits" not in errors:  # "random" and "random:0.01" draw the same weights
        forms = [initializers.canonical(spec) for spec in inits]
        k = next((k for k in range(len(inits)) if forms[k] in forms[:k]), None)
        if k is not None:
            first = inits[forms.index(forms[k])]
            same = "" if first == inits[k] else f" ({first!r} and {inits[k]!r} are both {forms[k]!r})"
            errors["inits"] = f"an initializer appears twice: {inits[k]!r}{same}"
            where["inits"] = k
    if layers and "layers" not in errors:
        try:  # from the sizes alone: nothing is allocated for a network refused here
            check_size(layers, max(1, min(len(inits), MAX_INITS)), ds.X_train.shape[1] if ds else 1)
        except InitlabError as exc:
            errors["layers"] = str(exc)
    lr = 0.0
    if "lr" not in errors:
        try:
            lr = check_positive("learning rate", v["lr"])
            if lr > 100:
                errors["lr"] = f"learning rate {lr:g} is above 100"
        except InitlabError as exc:
            errors["lr"] = str(exc)
    iterations = seed = 0
    for f in ("iterations", "seed"):
        if f in errors:
            continue
        try:
            if f == "iterations":
                iterations = _integer("iterations", v[f], 1, MAX_ITERATIONS)
            else:
                seed = _integer("seed", v[f], 0, MAX_SEED, "a non-negative integer")
        except InitlabError as exc:
            errors[f] = str(exc)
    residual, gate, norm = _structure(v, layers, errors)
    if "inits" not in errors and not {"residual", "gate", "norm", "layers"} & set(errors):
        _check_recipes(inits, layers, residual, gate, norm, errors, where)
    if errors:
        return None, errors
    return Config(v["data"], layers, v["hidden"], tuple(inits), lr, iterations, seed, residual, gate, norm), {}


def _check_recipes(inits, layers, residual, gate, norm, errors: dict[str, str], where: dict[str, int]) -> None:
    """A recipe the network cannot take (``fixup`` on a plain network, ``t_fixup`` with branches
    of one layer) is the Initializer field's error, said before anything is drawn."""
    from initlab.nn.residual import check_init

    for k, spec in enumerate(inits):
        try:
            check_init(spec, layers, residual, gate, norm)  # the one check every face makes
        except InitlabError as exc:
            errors["inits"] = str(exc) if spec in str(exc) else f"initializer {spec!r}: {exc}"
            where["inits"] = k
            return


def _structure(v: dict[str, str], layers: tuple[int, ...], errors: dict[str, str]):
    """The residual fields: ``(residual, gate, norm)`` as `Config` holds them; a bad one gets
    its message in ``errors`` under its own field (a layout that does not fit the layers under
    ``residual``)."""
    from initlab.nn.residual import Layout

    residual = gate = norm = None
    if "residual" not in errors:
        try:
            residual = _integer("residual", v["residual"], 0, MAX_HIDDEN_LAYERS) or None
        except InitlabError as exc:
            errors["residual"] = str(exc)
    if "gate" not in errors:
        word = v["gate"].strip().lower()
        if word in GATES:
            gate = None if word == "none" else True
        else:
            try:
                gate = float(word)
                if not np.isfinite(gate):
                    raise ValueError
            except ValueError:
                errors["gate"] = f"gate: none, learned or a starting value (a number); got {_clip(v['gate'])}"
    if "norm" not in errors:
        norm = v["norm"].strip().lower()
        if norm not in NORM_FIELD:
            errors["norm"] = f"norm: choose from {', '.join(NORM_FIELD)}; got {_clip(v['norm'])}"
        norm = None if norm == "none" else norm
    if residual is None and "residual" not in errors:
        for f, value in (("gate", gate), ("norm", norm)):
            if value is not None and f not in errors:
                errors[f] = f"{f}: belongs to a residual network; set Residual to the layers per branch"
    elif residual is not None and layers and not {"layers", "gate", "norm"} & set(errors):
        try:
            Layout.build(layers, residual, gate is not None, norm)
        except InitlabError as exc:
            errors["residual"] = str(exc)
    return residual, gate, norm


@dataclass
class Snapshot:
    """What the page draws, measured at ``iteration``. Per-member lists follow ``config.inits``."""

    iteration: int
    costs: list[tuple[int, list[float]]]
    effective_width: list[tuple[int, list[list[int]]]]  # (iteration, [member][hidden layer])
    sentences: list[list[str]]  # [member][hidden layer]
    widths: list[int]
    saturated: list[list[float | None]]  # [member][layer]
    dead: list[list[float | None]]
    boundary: list[np.ndarray] | None  # [member] (g, g) grid of P(class 1) or class
    grid: tuple[float, float, float, float] | None  # x0, x1, y0, y1
    tiles: list[str] | None  # [member] HTML of its unit tiles (`report.tiles.tiles_html`), 2-D data only
    activations: list[list[np.ndarray]]  # [member][hidden layer] values of A
    gradients: list[list[np.ndarray]]  # [member][layer] log10 max(|dW|, 1e-12)
    weights: list[tuple[int, list[np.ndarray]]]  # (iteration, [member] W1 (n1, n0))
    variance_measured: list[list[float]] | None  # [member][hidden layer] mean z^2 now
    variance_init: list[list[float]] | None  # ... at iteration 0
    variance_predicted: list[list[float]] | None  # mean-field at initialization
    train_accuracy: list[float]
    test_accuracy: list[float]
    done: bool = False
    stopped: bool = False
    error: str | None = None


class _Stopped(Exception):
    """Stop was pressed during a measurement: it is dropped, the last one stays."""


#: Trainers whose threads run, all tabs of the server together (`MAX_RUNNING`).
_RUNNING: set[Trainer] = set()
_RUNNING_LOCK = threading.Lock()


def _check_room(trainer: Trainer | None = None) -> None:
    """Refuse a run beyond `MAX_RUNNING` training at once (runs asked to stop do not count: they
    end within a chunk); with ``trainer``, count it in under the same lock."""
    with _RUNNING_LOCK:
        _RUNNING.difference_update([t for t in _RUNNING if not t.running or t._stop.is_set()])
        if len(_RUNNING) >= MAX_RUNNING:
            raise InitlabError(
                f"{MAX_RUNNING} runs are training in this dashboard already (in other tabs); stop one, then press Train"
            )
        if trainer is not None:
            _RUNNING.add(trainer)
            trainer._thread = threading.Thread(target=trainer._run, name="initlab-trainer", daemon=True)
            trainer._thread.start()


@dataclass(eq=False)
class Trainer:
    """Trains ``config``'s ensemble in a thread; ``snapshot`` is the latest measurement,
    ``version`` counts them. Training runs in chunks of about ``CHUNK_SECONDS``, sized by the
    measured time a step takes, and a measurement runs in parts; ``stop()`` is checked between
    chunks and parts, so it takes effect within one step or one part (at most ~0.1 s at the
    size caps, measured; 0.5 s promised)."""

    config: Config
    snapshot: Snapshot | None = None
    version: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __post_init__(self) -> None:
        c = self.config
        self.ds = datasets.load(c.data)
        # a Config made by hand skips parse_config: refuse it here too, before allocating
        check_size(c.layers, len(c.inits), self.ds.X_train.shape[1])
        _check_room()
        # the one path a run trains by; its size is held to the dashboard's caps above
        self.training = Training(c.runs(), data=self.ds, check=False)
        self.X, self.Y = self.ds.X_train, self.ds.Y_train
        self.costs: list[tuple[int, list[float]]] = []
        self.widths_seen: list[tuple[int, list[list[int]]]] = []
        self.weights_seen: list[tuple[int, list[np.ndarray]]] = []
        self.variance_init: list[list[float]] | None = None
        # the mean-field prediction is for the initialization: computed once, shown beside each snapshot
        self.variance_predicted = (
            [theory.network_variances(c.hidden, spec, c.layers, self.X).tolist() for spec in c.inits]
            if len(c.layers) >= 4
            and c.residual is None  # a residual stream: measured only (the page's plot is per layer)
            else None
        )
        self.lock = threading.Lock()
        self.error: str | None = None  # an exception in the training thread, for the page
        self.measure_seconds = 0.0  # how long the last whole measurement took
        self.trained = 0  # iterations trained (the snapshot may be a little behind)
        self.measuring = False  # a measurement is under way (Stop interrupts it)
        self.pictures = None  # the last (boundary, grid, tiles), measured at most every PICTURES_EVERY
        self.pictures_at = 0.0

    @property
    def net(self) -> Network:
        """The ensemble as the page shows it, hidden units in the user's order (`Training`
        trains them in one fixed order between chunks: a snapshot read its parameters in that
        order, so the unit-weight picture swapped colours after the first step)."""
        return self.training.network

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        _check_room(self)

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _check(self) -> None:
        if self._stop.is_set():
            raise _Stopped

    def _run(self) -> None:
        c = self.config
        try:
            from initlab.nn import products

            if products.NUMBA:
                import numba

                numba.set_num_threads(min(TRAIN_THREADS, numba.config.NUMBA_NUM_THREADS))
            self._measure(0)  # the picture at initialization, whole
            done, step = 0, 1
            last = time.monotonic()
            while done < c.iterations and not self._stop.is_set():
                n = min(step, c.iterations - done)
                t = time.perf_counter()
                self.training.step(n)
                dt = time.perf_counter() - t
                done = self.trained = done + n
                if n == step:  # the next chunk, from the time this one took
                    step = (
                        min(MAX_CHUNK, 2 * step)
                        if dt < CHUNK_SECONDS
                        else max(1, step // 2)
                        if dt > CHUNK_SECONDS_MAX
                        else step
                    )
                if self._stop.is_set():
                    break
                # about 12 measurements a second, but never more than half of the time
                if done == c.iterations or time.monotonic() - last >= max(SNAPSHOT_EVERY, self.measure_seconds):
                    try:
                        self._measure(done, check=self._check)
                    except _Stopped:
                        break
                    last = time.monotonic()
            self._finish(done)
        except Exception as exc:  # shown on the page; the server keeps serving
            with self.lock:
                self.error = f"{type(exc).__name__}: {exc}"
                if self.snapshot is not None:
                    self.snapshot.error = self.error
                    self.snapshot.done = True
                self.version += 1

    def _finish(self, done: int) -> None:
        """The last snapshot, marked done (and stopped when Stop ended the run): measured at
        ``done`` when that is quick, else the last measurement as it is."""
        stopped = done < self.config.iterations or (self._stop.is_set() and self.snapshot.iteration < done)
        s = self.snapshot
        if s.iteration != done and self.measure_seconds <= FINAL_MEASURE_SECONDS:
            self._measure(done, done=True, stopped=stopped)
            return
        with self.lock:
            self.snapshot = replace(s, done=True, stopped=stopped)
            self.version += 1

    def _measure(self, i: int, *, done: bool = False, stopped: bool = False, check=lambda: None) -> None:
        """Measure the network at iteration ``i`` and publish the snapshot; ``check()`` runs
        between the parts (each about one forward or backward pass) and may raise `_Stopped`."""
        self.measuring = True
        try:
            self._measure_parts(i, done, stopped, check)
        finally:
            self.measuring = False

    def _measure_parts(self, i: int, done: bool, stopped: bool, check) -> None:
        start = time.perf_counter()
        net, X, Y = self.net, self.X, self.Y
        E = len(self.config.inits)
        AL, cache = net.forward(X)
        cost = self.training.costs()  # the run's own record: the number its result holds
        sym = symmetry(net)  # a residual network's stream units grouped as one set
        reps = [sym.member(k) for k in range(E)]
        weights = [net.params["W1"][k].copy() for k in range(E)]
        check()
        sat_all = saturation(net, X)
        sat = [sat_all.member(k) for k in range(E)]
        check()

        def per_layer(attr: str) -> list[list[float | None]]:
            return [[getattr(s, attr) for s in sat[k].layers] for k in range(E)]

        grads = net.gradients(X, Y)
        check()
        L = len(self.config.layers) - 1
        hidden = L - 1
        acts = [[cache[l][0][k].ravel() for l in range(1, hidden + 1)] for k in range(E)]
        gradients = [
            [np.log10(np.maximum(np.abs(grads[f"dW{l}"][k]).ravel(), 1e-12)) for l in range(1, L + 1)] for k in range(E)
        ]
        if done or stopped or self.pictures is None or time.monotonic() - self.pictures_at >= PICTURES_EVERY:
            # the grid pictures: the page draws them at most this often (and at the end)
            self.pictures = (*self._boundary(check=check), self._tiles(sym, check=check))
            self.pictures_at = time.monotonic()
        boundary, grid, tiles = self.pictures
        measured = None
        if hidden >= 2:
            prop = propagation(net, X)
            check()
            measured = [[lp.z_q for lp in prop.member(k).layers[:hidden]] for k in range(E)]
        train_accuracy = [float(v) for v in np.atleast_1d(net.accuracy(X, Y))]
        test_accuracy = [float(v) for v in np.atleast_1d(net.accuracy(self.ds.X_test, self.ds.Y_test))]
        # complete: only now does the measurement join the histories
        self.costs.append((i, cost))
        self.widths_seen.append((i, [r.effective_widths for r in reps]))
        self.weights_seen.append((i, weights))
        if measured is not None and self.variance_init is None:
            self.variance_init = measured
        snap = Snapshot(
            iteration=i,
            costs=list(self.costs),
            effective_width=list(self.widths_seen),
            sentences=[[layer.sentence() for layer in r.layers] for r in reps],
            widths=list(self.config.layers[1:-1]),
            saturated=per_layer("saturated_fraction"),
            dead=per_layer("dead_fraction"),
            boundary=boundary,
            grid=grid,
            tiles=tiles,
            activations=acts,
            gradients=gradients,
            weights=list(self.weights_seen),
            variance_measured=measured,
            variance_init=self.variance_init,
            variance_predicted=self.variance_predicted,
            train_accuracy=train_accuracy,
            test_accuracy=test_accuracy,
            done=done,
            stopped=stopped,
        )
        self.measure_seconds = time.perf_counter() - start
        with self.lock:
            self.snapshot = snap
            self.version += 1

    def _boundary(self, g: int = BOUNDARY_GRID, check=lambda: None):
        """What the page colours on the 2-D data (`initlab.report.plots.decision_surface`, the
        static report's grid, with `class_score`): ``([member] (rows, cols) grid, (x0, x1, y0,
        y1))``, at most ``g`` points a side, in batches of `BOUNDARY_BATCH` points with
        ``check()`` between them; ``(None, None)`` for data that is not 2-D."""
        if self.ds.n_x != 2:
            return None, None
        s = plots.decision_surface(
            lambda P: plots.class_score(self.net.forward(P)[0]),
            self.X,
            pad=0.5,
            steps=g,
            batch=BOUNDARY_BATCH,
            between=check,
        )
        return list(s.values), s.extent

    def _tiles(self, sym, check=lambda: None) -> list[str] | None:
        """Each member's unit tiles as HTML (`initlab.report.tiles`), drawn here in the trainer's
        thread so the page's event loop only swaps text; None for data that is not 2-D."""
        if self.ds.n_x != 2:
            return None
        from initlab.report.tiles import tiles_html, unit_tiles

        t = unit_tiles(self.net, self.X, steps=TILE_GRID, batch=BOUNDARY_BATCH, between=check, sym=sym)
        return [
            tiles_html(t.member(k), title=init, colour=plots.COLOURS[k % len(plots.COLOURS)], note=False, px=TILE_PX)
            for k, init in enumerate(self.config.inits)
        ]

    def result(self) -> dict:
        """The run as JSON: ``runs``, one ``initlab train --json`` object (`RunResult.to_dict`)
        per init, at the iteration training stands at; and ``config``, ``costs``,
        ``final_cost`` and the accuracies with one entry per init, from those runs."""
        runs = [r.to_dict() for r in self.training.results()] if self.training.done or self.snapshot else []
        c = self.config
        base = runs[0]["config"] if runs else {}
        return {
            "config": {**base, "init": list(c.inits), "iterations": self.training.done},
            "costs": [[i, [r["costs"][j][1] for r in runs]] for j, (i, _) in enumerate(runs[0]["costs"])]
            if runs
            else [],
            "final_cost": [r["final_cost"] for r in runs] if runs else None,
            "train_accuracy": [r["train_accuracy"] for r in runs] if runs else None,
            "test_accuracy": [r["test_accuracy"] for r in runs] if runs else None,
            "runs": runs,
        }
