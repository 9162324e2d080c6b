"""Compare initializations: train every (init, seed) of one architecture on one data set.

Every (init, seed) is one `RunConfig`; they train at once as one ensemble through
`initlab.experiments.run.Training` (member k initialized exactly as ``Network(init=init_k,
seed=seed_k)``), with symmetry and saturation tracked. The result holds the runs
(`RunResult`), per-init summaries, the course table's gradient measures, and what the report's
pictures need.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from initlab import data as datasets
from initlab import initializers
from initlab.errors import InitlabError, check_layer_dims
from initlab.experiments.run import RunConfig, RunResult, Training, config_hash
from initlab.nn import Network
from initlab.rng import MAX_SEED


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
    #: a residual MLP (`initlab.nn.residual`): weight layers per branch, gates, norm
    residual: int | None = None
    gate: bool | float | None = None
    norm: str | None = None

    def __post_init__(self) -> None:
        check_layer_dims(self.layers)
        if not self.inits:
            raise InitlabError("compare needs at least one initializer in inits")
        for spec in self.inits:
            initializers.get(spec)
        if not self.seeds:
            raise InitlabError("compare needs at least one seed")
        canon = [initializers.canonical(s) for s in self.inits]
        if len(set(canon)) != len(canon):
            raise InitlabError(f"inits repeat an initializer (compared in canonical form): {list(self.inits)}")
        if len(set(self.seeds)) != len(self.seeds):
            raise InitlabError(f"seeds repeat a seed: {list(self.seeds)}")
        gated = [s for s in self.inits if getattr(initializers.get(s), "needs_gate", False)]
        if self.residual is not None and self.gate in (None, False) and gated and len(gated) < len(self.inits):
            raise InitlabError(
                f"{', '.join(gated)} start(s) each block's gate at 0, so its networks have gates and the others "
                f"would not: one comparison trains one kind of network; add --gate (every init gets gates, "
                f"starting where it puts them: 1 for a sampler) or compare {gated[0]} apart"
            )

    def runs(self) -> list[RunConfig]:
        """One `RunConfig` per (init, seed), inits outer."""
        return [
            RunConfig(
                self.data,
                self.layers,
                self.hidden,
                self.output,
                init,
                self.lr,
                self.iterations,
                seed,
                ("weights",),
                self.track_every,
                self.data_seed,
                **self.structure(),
            )
            for init in self.inits
            for seed in self.seeds
        ]

    def structure(self) -> dict:
        """`RunConfig`'s residual keywords (none for a plain network)."""
        if self.residual is None:
            return {}
        return {"residual": self.residual, "gate": self.gate, "norm": self.norm}

    def to_dict(self) -> dict:
        d = asdict(self)
        d["layers"], d["inits"], d["seeds"] = list(self.layers), list(self.inits), list(self.seeds)
        if self.residual is None:  # a plain comparison keeps the hash it had
            for k in ("residual", "gate", "norm"):
                del d[k]
        return d

    def hash(self) -> str:
        return config_hash(self.to_dict())


@dataclass
class CompareResult:
    config: CompareConfig
    dataset: datasets.Dataset
    runs: list[RunResult]
    #: Per run, the course table's measures beyond the tracker's: the spread of ``dW``'s rows
    #: and the gradient norm per hidden layer at initialization, the spread of the hidden
    #: activations across units at the end.
    gradients: list[dict] = field(default_factory=list)
    #: What the pictures need (not in the JSON): the trained ensemble (member k is run k) and
    #: its initial forward pass.
    net: Network = field(repr=False, default=None)
    init_cache: list = field(repr=False, default_factory=list)
    #: Each hidden unit over the input plane (2-D data; `initlab.report.tiles`), the whole
    #: ensemble at initialization and at the end (member k is run k); None for other data.
    tiles_init: object = field(repr=False, default=None)
    tiles_end: object = field(repr=False, default=None)

    def _repr_html_(self) -> str:
        """The notebook's table (`initlab.report.notebook`)."""
        from initlab.report.notebook import compare_html

        return compare_html(self)

    def of(self, init: str) -> list[int]:
        """Indices of ``init``'s runs (one per seed)."""
        i, S = self.config.inits.index(init), len(self.config.seeds)
        return list(range(i * S, (i + 1) * S))

    def member(self, init: str, seed: int | None = None) -> int:
        """The index of ``init``'s run at ``seed`` (default: the first seed)."""
        seed = self.config.seeds[0] if seed is None else seed
        return self.of(init)[self.config.seeds.index(seed)]

    def summary(self) -> list[dict]:
        """One row per init: means and spreads over the seeds."""
        rows = []
        for init in self.config.inits:
            rs = [self.runs[k] for k in self.of(init)]

            def mean_list(when: str, key: str, rs: list = rs) -> list[float | None]:
                cols = list(zip(*[getattr(getattr(r, when), key) for r in rs], strict=True))
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
                    "effective_width_mean": mean_list("end", "effective_width"),
                    "saturated_fraction_init": mean_list("start", "saturated_fraction"),
                    "saturated_fraction_end": mean_list("end", "saturated_fraction"),
                    "dead_fraction_init": mean_list("start", "dead_fraction"),
                    "dead_fraction_end": mean_list("end", "dead_fraction"),
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
            ks = self.of(init)
            rs = [self.runs[k] for k in ks]
            eff = summ[init]["effective_width_mean"]
            spread = np.max([self.gradients[k]["grad_row_spread_init"] for k in ks])
            gnorm = np.mean([self.gradients[k]["hidden_grad_norm_init"] for k in ks])
            div = np.mean([self.gradients[k]["feature_diversity_end"] for k in ks])
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
            "gradients": self.gradients,
        }
        if course_table:
            out["course_table"] = self.course_table()
        return out


def compare(config: CompareConfig, *, progress: Callable[[int, object], None] | None = None) -> CompareResult:
    """Train every (init, seed) of ``config`` at once (one `Training`) and measure them."""
    training = Training(config.runs(), held_passes=1)
    net, ds = training.network, training.data
    X, Y = ds.X_train, ds.Y_train
    hidden = range(1, len(config.layers) - 1)
    # a run that overflows is reported (RunResult.diverged_at), not warned about by NumPy
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        _, init_cache = net.forward(X)  # the report's pictures of the initialization
        tiles_init = _tiles(net, X)
        grads = net.gradients(X, Y)
        runs = training.run(progress)
        _, end_cache = net.forward(X)
        tiles_end = _tiles(net, X)
        gradients = [
            {
                "grad_row_spread_init": [float(np.ptp(grads[f"dW{l}"][k], axis=0).max()) for l in hidden],
                "hidden_grad_norm_init": [float(np.linalg.norm(grads[f"dW{l}"][k])) for l in hidden],
                "feature_diversity_end": [float(end_cache[l][0][k].std(axis=0).mean()) for l in hidden],
            }
            for k in range(len(runs))
        ]
    return CompareResult(
        config, ds, runs, gradients, net=net, init_cache=init_cache, tiles_init=tiles_init, tiles_end=tiles_end
    )


def _tiles(net: Network, X: np.ndarray):
    """`initlab.report.tiles.unit_tiles` of the ensemble on 2-D data, else None."""
    if X.shape[0] != 2:
        return None
    from initlab.report.tiles import unit_tiles

    return unit_tiles(net, X)


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
