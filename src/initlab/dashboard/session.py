"""One browser tab's experiment: its configuration, checked field by field, and a trainer that
runs off the server's event loop and leaves measured snapshots for the page to draw.

No math here: the network is `initlab.nn.Network` (one ensemble, one member per initializer),
the measurements are `symmetry`, `saturation`, `propagation` and `theory.network_variances`.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import numpy as np

from initlab import data as datasets
from initlab import initializers, theory
from initlab.diagnose.propagation import propagation
from initlab.diagnose.saturation import saturation
from initlab.diagnose.symmetry import symmetry
from initlab.errors import InitlabError, check_layer_dims, check_positive, parse_ints
from initlab.nn import HIDDEN, Network

DATASETS = list(datasets.BUILTIN)
MAX_INITS = 4
MAX_ITERATIONS = 1_000_000
MAX_UNITS = 1024
COURSE_STORY = ("zeros", "random:0.01", "random:10", "he")
DEFAULTS = {"data": "circles", "layers": "2,10,5,1", "hidden": "relu", "inits": ",".join(COURSE_STORY),
            "lr": "0.01", "iterations": "3000", "seed": "1"}
SNAPSHOT_EVERY = 0.08  # seconds between measured snapshots while training (about 12 a second)
CHUNK_SECONDS = 0.04   # training between checks of Stop


@dataclass(frozen=True)
class Config:
    data: str
    layers: tuple[int, ...]
    hidden: str
    inits: tuple[str, ...]
    lr: float
    iterations: int
    seed: int

    def query(self) -> dict[str, str]:
        """The URL's query parameters for this configuration."""
        return {"data": self.data, "layers": ",".join(map(str, self.layers)), "hidden": self.hidden,
                "inits": ",".join(self.inits), "lr": f"{self.lr:g}", "iterations": str(self.iterations),
                "seed": str(self.seed)}


def split_inits(text: str) -> list[str]:
    """``"zeros,random:0.01,variance_scaling:2,fan_out"`` -> specs: a comma continues the
    previous spec only where that makes it a valid spec with one more argument."""
    out: list[str] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name = part.partition(":")[0].strip().lower()
        if out and name not in initializers.REGISTRY and _valid(out[-1] + "," + part):
            out[-1] += "," + part
        else:
            out.append(part)
    return out


def _valid(spec: str) -> bool:
    try:
        initializers.get(spec)
        return True
    except InitlabError:
        return False


def parse_config(values: dict[str, str]) -> tuple[Config | None, dict[str, str]]:
    """Check every field of ``values`` (strings, from the page or the URL; missing ones take the
    defaults). Returns the config, or None and ``{field: message}`` for each bad field."""
    v = {**DEFAULTS, **{k: str(x) for k, x in values.items() if x is not None}}
    errors: dict[str, str] = {}
    ds = None
    if v["data"] not in DATASETS:
        errors["data"] = f"unknown data set {v['data']!r}; choose from {', '.join(DATASETS)}"
    else:
        ds = datasets.load(v["data"])
    layers: tuple[int, ...] = ()
    try:
        layers = tuple(check_layer_dims(parse_ints(v["layers"], "layers")))
    except InitlabError as exc:
        errors["layers"] = str(exc)
    if layers and len(layers) < 3 and "layers" not in errors:
        errors["layers"] = "layers: give at least one hidden layer, such as 2,10,1"
    if layers and max(layers) > MAX_UNITS:
        errors["layers"] = f"layers: at most {MAX_UNITS} units a layer in the dashboard"
    if layers and ds is not None and "layers" not in errors and (layers[0] != ds.n_x or layers[-1] != ds.n_y):
        errors["layers"] = (f"layers: {ds.name} has {ds.n_x} features and needs {ds.n_y} output unit(s): "
                            f"use {ds.n_x},...,{ds.n_y}")
    if v["hidden"] not in HIDDEN:
        errors["hidden"] = f"unknown activation {v['hidden']!r}; choose from {', '.join(HIDDEN)}"
    inits = split_inits(v["inits"])
    if not 1 <= len(inits) <= MAX_INITS:
        errors["inits"] = f"give 1 to {MAX_INITS} initializers, got {len(inits)}"
    for spec in inits:
        try:
            initializers.get(spec)
        except InitlabError as exc:
            errors["inits"] = str(exc) if spec in str(exc) else f"initializer {spec!r}: {exc}"
            break
    if len(set(inits)) != len(inits):
        errors["inits"] = "an initializer appears twice"
    lr = 0.0
    try:
        lr = check_positive("learning rate", v["lr"])
        if lr > 100:
            errors["lr"] = f"learning rate {lr:g} is above 100"
    except InitlabError as exc:
        errors["lr"] = str(exc)
    iterations = 0
    try:
        iterations = int(v["iterations"])
        if not 1 <= iterations <= MAX_ITERATIONS:
            errors["iterations"] = f"iterations must be 1 to {MAX_ITERATIONS:,}, got {iterations:,}"
    except ValueError:
        errors["iterations"] = f"iterations must be an integer, got {v['iterations']!r}"
    seed = 0
    try:
        seed = int(v["seed"])
        if seed < 0:
            raise ValueError
    except ValueError:
        errors["seed"] = f"seed must be a non-negative integer, got {v['seed']!r}"
    if errors:
        return None, errors
    return Config(v["data"], layers, v["hidden"], tuple(inits), lr, iterations, seed), {}


@dataclass
class Snapshot:
    """What the page draws, measured at ``iteration``. Per-member lists follow ``config.inits``."""

    iteration: int
    costs: list[tuple[int, list[float]]]
    effective_width: list[tuple[int, list[list[int]]]]   # (iteration, [member][hidden layer])
    sentences: list[list[str]]                            # [member][hidden layer]
    widths: list[int]
    saturated: list[list[float | None]]                   # [member][layer]
    dead: list[list[float | None]]
    boundary: list[np.ndarray] | None                     # [member] (g, g) grid of P(class 1) or class
    grid: tuple[float, float, float, float] | None        # x0, x1, y0, y1
    activations: list[list[np.ndarray]]                   # [member][hidden layer] values of A
    gradients: list[list[np.ndarray]]                     # [member][layer] log10 max(|dW|, 1e-12)
    weights: list[tuple[int, list[np.ndarray]]]           # (iteration, [member] W1 (n1, n0))
    variance_measured: list[list[float]] | None           # [member][hidden layer] mean z^2 now
    variance_init: list[list[float]] | None               # ... at iteration 0
    variance_predicted: list[list[float]] | None          # mean-field at initialization
    train_accuracy: list[float]
    test_accuracy: list[float]
    done: bool = False
    stopped: bool = False
    error: str | None = None


@dataclass
class Trainer:
    """Trains ``config``'s ensemble in a thread; ``snapshot`` is the latest measurement,
    ``version`` counts them. ``stop()`` takes effect within one chunk (about 40 ms)."""

    config: Config
    snapshot: Snapshot | None = None
    version: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __post_init__(self) -> None:
        c = self.config
        self.ds = datasets.load(c.data)
        self.net = Network(list(c.layers), hidden=c.hidden, output=self.ds.output, init=list(c.inits),
                           seed=[c.seed] * len(c.inits))
        self.X, self.Y = self.ds.X_train, self.ds.Y_train
        self.costs: list[tuple[int, list[float]]] = []
        self.widths_seen: list[tuple[int, list[list[int]]]] = []
        self.weights_seen: list[tuple[int, list[np.ndarray]]] = []
        self.variance_init: list[list[float]] | None = None
        # the mean-field prediction is for the initialization: computed once, shown beside each snapshot
        self.variance_predicted = [theory.network_variances(c.hidden, spec, c.layers, self.X).tolist()
                                   for spec in c.inits] if len(c.layers) >= 4 else None
        self.lock = threading.Lock()
        self.error: str | None = None  # an exception in the training thread, for the page

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="initlab-trainer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        c = self.config
        try:
            done, step = 0, 1
            self._measure(0)
            last = time.monotonic()
            while done < c.iterations and not self._stop.is_set():
                n = min(step, c.iterations - done)
                t = time.perf_counter()
                self.net.fit(self.X, self.Y, lr=c.lr, iterations=n, record_every=n)
                dt = time.perf_counter() - t
                done += n
                step = int(max(1, min(2000, n * CHUNK_SECONDS / max(dt, 1e-6))))
                if time.monotonic() - last >= SNAPSHOT_EVERY or done == c.iterations:
                    self._measure(done)
                    last = time.monotonic()
            self._measure(done, done=True, stopped=self._stop.is_set())
        except Exception as exc:  # shown on the page; the server keeps serving
            with self.lock:
                self.error = f"{type(exc).__name__}: {exc}"
                if self.snapshot is not None:
                    self.snapshot.error = self.error
                    self.snapshot.done = True
                self.version += 1

    def _measure(self, i: int, *, done: bool = False, stopped: bool = False) -> None:
        net, X, Y = self.net, self.X, self.Y
        E = len(self.config.inits)
        AL, cache = net.forward(X)
        cost = net.loss.cost(cache[-1][1], AL, Y)
        self.costs.append((i, [float(v) for v in np.atleast_1d(cost)]))
        reps = symmetry(net.params)
        self.widths_seen.append((i, [r.effective_widths for r in reps]))
        self.weights_seen.append((i, [net.params["W1"][k].copy() for k in range(E)]))
        sat = saturation(net, X)

        def per_layer(attr: str) -> list[list[float | None]]:
            return [[None if getattr(s, attr) is None else float(np.asarray(getattr(s, attr))[k])
                     for s in sat.layers] for k in range(E)]

        grads = net.gradients(X, Y)
        L = len(self.config.layers) - 1
        hidden = L - 1
        acts = [[cache[l][0][k].ravel() for l in range(1, hidden + 1)] for k in range(E)]
        gradients = [[np.log10(np.maximum(np.abs(grads[f"dW{l}"][k]).ravel(), 1e-12)) for l in range(1, L + 1)]
                     for k in range(E)]
        boundary, grid = self._boundary()
        measured = None
        if hidden >= 2:
            prop = propagation(net, X)
            measured = [[float(np.asarray(prop.layers[l].z_q)[k]) for l in range(hidden)] for k in range(E)]
            if self.variance_init is None:
                self.variance_init = measured
        snap = Snapshot(
            iteration=i, costs=list(self.costs), effective_width=list(self.widths_seen),
            sentences=[[layer.sentence() for layer in r.layers] for r in reps],
            widths=list(self.config.layers[1:-1]), saturated=per_layer("saturated_fraction"),
            dead=per_layer("dead_fraction"), boundary=boundary, grid=grid, activations=acts,
            gradients=gradients, weights=list(self.weights_seen), variance_measured=measured,
            variance_init=self.variance_init, variance_predicted=self.variance_predicted,
            train_accuracy=[float(v) for v in np.atleast_1d(net.accuracy(X, Y))],
            test_accuracy=[float(v) for v in np.atleast_1d(net.accuracy(self.ds.X_test, self.ds.Y_test))],
            done=done, stopped=stopped)
        with self.lock:
            self.snapshot = snap
            self.version += 1

    def _boundary(self, g: int = 60):
        """P(class 1) (two classes) or the predicted class on a g x g grid over the 2-D data."""
        if self.ds.n_x != 2:
            return None, None
        x0, y0 = self.X.min(axis=1) - 0.5
        x1, y1 = self.X.max(axis=1) + 0.5
        xx, yy = np.meshgrid(np.linspace(x0, x1, g), np.linspace(y0, y1, g))
        AL, _ = self.net.forward(np.vstack([xx.ravel(), yy.ravel()]))
        if AL.shape[-2] == 1:
            grids = [AL[k, 0].reshape(g, g) for k in range(AL.shape[0])]
        else:
            grids = [AL[k].argmax(axis=0).reshape(g, g).astype(float) for k in range(AL.shape[0])]
        return grids, (float(x0), float(x1), float(y0), float(y1))

    def result(self) -> dict:
        """The run as JSON: the keys of ``initlab train --json`` (lists over the inits), and
        ``runs``, one ``train --json`` object per init."""
        c, s = self.config, self.snapshot
        base = {"data": c.data, "layers": list(c.layers), "hidden": c.hidden, "output": self.ds.output,
                "loss": self.net.loss.name, "lr": c.lr, "iterations": s.iteration if s else 0,
                "seed": c.seed, "data_seed": None}
        costs = s.costs if s else []
        runs = [{"config": {**base, "init": spec},
                 "costs": [[i, cs[k]] for i, cs in costs],
                 "final_cost": costs[-1][1][k] if costs else None,
                 "train_accuracy": s.train_accuracy[k] if s else None,
                 "test_accuracy": s.test_accuracy[k] if s else None} for k, spec in enumerate(c.inits)]
        return {"config": {**base, "init": list(c.inits)},
                "costs": [[i, cs] for i, cs in costs],
                "final_cost": costs[-1][1] if costs else None,
                "train_accuracy": s.train_accuracy if s else None,
                "test_accuracy": s.test_accuracy if s else None,
                "runs": runs}
