"""Compare initializations: train every (init, seed) of one architecture on one data set.

All runs train at once as one ensemble (one member per (init, seed), member k initialized
exactly as ``Network(init=init_k, seed=seed_k)``), with symmetry and saturation tracked.
The result holds per-run numbers (`RunResult`), per-init summaries, and what the report's
pictures need.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from initlab import data as datasets
from initlab import initializers, limits
from initlab.diagnose import saturation, symmetry
from initlab.errors import InitlabError, check_layer_dims
from initlab.nn import Network
from initlab.rng import MAX_SEED


def config_hash(config: dict) -> str:
    """A config's identity: 16 hex digits of SHA-256 over its JSON with sorted keys."""
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class CompareConfig:
    """A comparison, small and frozen: its hash is its identity."""

    data: str = "circles"
    layers: tuple[int, ...] = (2, 10, 5, 1)
    hidden: str = "relu"
    output: str | None = None
    inits: tuple[str, ...] = ("zeros", "random:10", "he")
    lr: float = 0.01
    iterations: int = 15000
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    track_every: int | None = None  # default: about 100 tracked steps
    data_seed: int | None = None

    def __post_init__(self) -> None:
        check_layer_dims(self.layers)
        if not self.inits:
            raise InitlabError("compare needs at least one initializer in inits")
        for spec in self.inits:
            initializers.get(spec)
        if not self.seeds:
            raise InitlabError("compare needs at least one seed")
        if len(set(self.inits)) != len(self.inits):
            raise InitlabError(f"inits repeat a name: {list(self.inits)}")

    @property
    def every(self) -> int:
        return self.track_every or max(1, self.iterations // 100)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["layers"], d["inits"], d["seeds"] = list(self.layers), list(self.inits), list(self.seeds)
        return d

    def hash(self) -> str:
        return config_hash(self.to_dict())


@dataclass(frozen=True)
class RunResult:
    """One (init, seed): final numbers and curves. Lists are per hidden layer (or per layer)."""

    init: str
    seed: int
    train_accuracy: float
    test_accuracy: float
    final_cost: float
    initial_cost: float
    effective_width: list[int]
    symmetric_every_step: bool
    saturated_fraction_init: list[float | None]
    saturated_fraction_end: list[float | None]
    dead_fraction_init: list[float | None]
    dead_fraction_end: list[float | None]
    grad_row_spread_init: list[float]
    hidden_grad_norm_init: list[float]
    feature_diversity_end: list[float]
    costs: list[list[float]]
    effective_width_curve: list[list[int]]
    #: The first recorded iteration whose cost was NaN or inf (`History.diverged_at`), else None.
    diverged_at: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class CompareResult:
    config: CompareConfig
    dataset: datasets.Dataset
    runs: list[RunResult]
    #: What the pictures need (not in the JSON): per init, its first seed's member index, the
    #: trained network, the initial forward pass, and the tracked weights.
    net: Network = field(repr=False, default=None)
    init_cache: list = field(repr=False, default_factory=list)
    tracked_weights: list = field(repr=False, default_factory=list)
    tracked_iterations: list = field(repr=False, default_factory=list)

    def member(self, init: str, seed: int | None = None) -> int:
        seed = self.config.seeds[0] if seed is None else seed
        return self.config.inits.index(init) * len(self.config.seeds) + self.config.seeds.index(seed)

    def summary(self) -> list[dict]:
        """One row per init: means and spreads over the seeds."""
        rows = []
        for init in self.config.inits:
            rs = [r for r in self.runs if r.init == init]

            def mean_list(key: str, rs: list = rs) -> list[float | None]:
                cols = list(zip(*[getattr(r, key) for r in rs], strict=True))
                return [None if any(v is None for v in c) else float(np.mean(c)) for c in cols]

            tr = np.array([r.train_accuracy for r in rs])
            te = np.array([r.test_accuracy for r in rs])
            rows.append(
                {
                    "init": init,
                    "runs": len(rs),
                    "train_accuracy_mean": float(tr.mean()),
                    "train_accuracy_std": float(tr.std()),
                    "test_accuracy_mean": float(te.mean()),
                    "test_accuracy_std": float(te.std()),
                    "final_cost_mean": float(np.mean([r.final_cost for r in rs])),
                    "effective_width_mean": mean_list("effective_width"),
                    "saturated_fraction_init": mean_list("saturated_fraction_init"),
                    "saturated_fraction_end": mean_list("saturated_fraction_end"),
                    "dead_fraction_init": mean_list("dead_fraction_init"),
                    "dead_fraction_end": mean_list("dead_fraction_end"),
                    "symmetric_every_step": [r.symmetric_every_step for r in rs],
                }
            )
        return rows

    def course_table(self) -> dict:
        """The course's zero-vs-random table (MISSION C9), filled from the measured runs.

        The "zero" column is the first init that stayed symmetric at every step, the "random"
        column the first that did not.
        """
        summ = {row["init"]: row for row in self.summary()}
        sym = [i for i in self.config.inits if all(summ[i]["symmetric_every_step"])]
        brk = [i for i in self.config.inits if not any(summ[i]["symmetric_every_step"])]
        if not sym or not brk:
            raise InitlabError(
                "the course table needs one init that stays symmetric (zeros or "
                "constant:C) and one that breaks symmetry (random, he, ...) among "
                f"the inits; got {list(self.config.inits)}"
            )
        cols = {}
        widths = [self.config.layers[l] for l in range(1, len(self.config.layers) - 1)]
        for label, init in (("zero", sym[0]), ("random", brk[0])):
            rs = [r for r in self.runs if r.init == init]
            eff = summ[init]["effective_width_mean"]
            spread = np.max([r.grad_row_spread_init for r in rs])
            gnorm = np.mean([r.hidden_grad_norm_init for r in rs])
            div = np.mean([r.feature_diversity_end for r in rs])
            c0 = np.mean([r.initial_cost for r in rs])
            c1 = np.mean([r.final_cost for r in rs])
            n_sym = sum(r.symmetric_every_step for r in rs)
            cols[label] = {
                "init": init,
                "symmetry": (
                    f"kept at every step in {n_sym} of {len(rs)} runs"
                    if n_sym
                    else f"broken from the start in all {len(rs)} runs"
                ),
                "learning": (
                    f"cost {c0:.4f} -> {c1:.4f}; train accuracy {100 * summ[init]['train_accuracy_mean']:.1f}%"
                ),
                "gradients": (
                    f"dW rows identical at init (largest row spread {spread:.2g}); "
                    f"hidden-layer gradient norm {gnorm:.3g}"
                    if spread == 0
                    else f"dW rows differ at init (row spread up to {spread:.3g}); "
                    f"hidden-layer gradient norm {gnorm:.3g}"
                ),
                "effective_units": ", ".join(f"{e:g} of {w}" for e, w in zip(eff, widths, strict=True)),
                "feature_diversity": (
                    f"spread of hidden activations across units {div:.3g}"
                    + (" (all units alike)" if div < 1e-12 else "")
                ),
            }
        return cols

    def to_dict(self, course_table: bool = False) -> dict:
        out = {
            "config": self.config.to_dict(),
            "config_hash": self.config.hash(),
            "data": self.dataset.summary(),
            "summary": self.summary(),
            "results": [r.to_dict() for r in self.runs],
        }
        if course_table:
            out["course_table"] = self.course_table()
        return out


def _opt(v: object) -> float | None:
    return None if v is None or (isinstance(v, float) and np.isnan(v)) else float(v)


def compare(config: CompareConfig, *, progress: Callable[[int, object], None] | None = None) -> CompareResult:
    """Train every (init, seed) of ``config`` at once and measure them."""
    ds = datasets.load(config.data, seed=config.data_seed)
    layers = list(config.layers)
    if layers[0] != ds.n_x or layers[-1] != ds.n_y:
        raise InitlabError(
            f"layers {layers} do not fit {ds.name}: it has {ds.n_x} features and "
            f"needs {ds.n_y} output unit(s); use {ds.n_x},...,{ds.n_y}"
        )
    inits = [i for i in config.inits for _ in config.seeds]
    seeds = [s for _ in config.inits for s in config.seeds]
    # everything held at once, checked before anything is drawn: the ensemble's drawing, the
    # initial forward pass kept for the report, ~100 tracked steps with weight snapshots
    limits.check(
        limits.training(
            layers,
            ensemble=len(inits),
            examples=max(ds.X_train.shape[1], ds.X_test.shape[1]),
            iterations=config.iterations,
            tracked=config.iterations // config.every + 2,
            track_weights=True,
            held_passes=1,
            build=True,
            what=f"comparing {len(inits):,} runs of layers {','.join(map(str, layers))}",
        )
    )
    net = Network(layers, hidden=config.hidden, output=config.output or ds.output, init=inits, seed=seeds)
    X, Y = ds.X_train, ds.Y_train
    hidden_layers = len(layers) - 2

    # a run that overflows is reported (RunResult.diverged_at), not warned about by NumPy
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        _, init_cache = net.forward(X)
        sat0 = saturation(net, X)
        grads0 = net.gradients(X, Y)

        history = net.fit(
            X,
            Y,
            lr=config.lr,
            iterations=config.iterations,
            callback=progress,
            track=("symmetry", "saturation", "weights"),
            track_every=config.every,
        )
        sat1 = saturation(net, X)
        _, end_cache = net.forward(X)
        train_acc, test_acc = net.accuracy(X, Y), net.accuracy(ds.X_test, ds.Y_test)
        initial_cost = history.costs[0]  # fit records the cost at iteration 0, before any update
        diverged_at = history.diverged_at
        tracked = history.tracked
        widths = np.array(tracked.effective_width)  # (k, E, L-1)
        symmetric = np.array(tracked.symmetric)  # (k, E)
        end_sym = symmetry(net.params)

        runs = []
        for k, (init, seed) in enumerate(zip(inits, seeds, strict=True)):

            def per_layer(rep, attr, k=k):
                return [_opt(None if getattr(s, attr) is None else np.asarray(getattr(s, attr))[k]) for s in rep.layers]

            runs.append(
                RunResult(
                    init=init,
                    seed=seed,
                    train_accuracy=float(train_acc[k]),
                    test_accuracy=float(test_acc[k]),
                    final_cost=float(history.final_cost[k]),
                    initial_cost=float(initial_cost[k]),
                    effective_width=end_sym[k].effective_widths,
                    symmetric_every_step=bool(symmetric[:, k].all()),
                    saturated_fraction_init=per_layer(sat0, "saturated_fraction"),
                    saturated_fraction_end=per_layer(sat1, "saturated_fraction"),
                    dead_fraction_init=per_layer(sat0, "dead_fraction"),
                    dead_fraction_end=per_layer(sat1, "dead_fraction"),
                    grad_row_spread_init=[
                        float(np.ptp(grads0[f"dW{l}"][k], axis=0).max()) for l in range(1, hidden_layers + 1)
                    ],
                    hidden_grad_norm_init=[
                        float(np.linalg.norm(grads0[f"dW{l}"][k])) for l in range(1, hidden_layers + 1)
                    ],
                    feature_diversity_end=[
                        float(end_cache[l][0][k].std(axis=0).mean()) for l in range(1, hidden_layers + 1)
                    ],
                    costs=[[int(i), float(c[k])] for i, c in zip(history.iterations, history.costs, strict=True)],
                    effective_width_curve=[
                        [int(i), *map(int, w[k])] for i, w in zip(tracked.iterations, widths, strict=True)
                    ],
                    diverged_at=diverged_at[k],
                )
            )
    return CompareResult(
        config,
        ds,
        runs,
        net=net,
        init_cache=init_cache,
        tracked_weights=tracked.weights,
        tracked_iterations=tracked.iterations,
    )


#: Seeds a count may ask for: a count is a typo long before the memory check could see it.
MAX_SEEDS = 1_000_000


def parse_seeds(text: str | int | Sequence[int]) -> tuple[int, ...]:
    """``5`` -> seeds 0..4; ``"3,7"`` -> (3, 7)."""
    if isinstance(text, int):
        n = text
    elif isinstance(text, str) and "," not in text:
        try:
            n = int(text)
        except ValueError:
            raise InitlabError(f"--seeds takes a count (5) or a list (3,7), got {text!r}") from None
    else:
        try:
            seeds = tuple(int(s) for s in (text.split(",") if isinstance(text, str) else text))
        except ValueError:
            raise InitlabError(f"--seeds takes a count (5) or a list (3,7), got {text!r}") from None
        if any(s < 0 or s > MAX_SEED for s in seeds):
            raise InitlabError(f"seeds must be integers from 0 to 2**63 - 1, got {list(seeds)}")
        return seeds
    if n < 1:
        raise InitlabError(f"--seeds count must be at least 1, got {n}")
    if n > MAX_SEEDS:  # before the tuple is built: 10^8 seeds are 4 GB of Python ints alone
        raise InitlabError(
            f"--seeds {n:,} is more than {MAX_SEEDS:,} seeds per initializer: every seed "
            f"is a network trained at once; give a smaller count"
        )
    return tuple(range(n))
