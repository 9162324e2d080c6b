"""Deep MLPs on digits: which initializations train and which stall, and why, layer by layer.

All initializations train at once as one ensemble (same seed, one member per init). Before
training, a forward and backward pass measures per-layer signal and gradient second moments
(`initlab.diagnose.propagation`), beside the mean-field prediction of the same network
(`initlab.theory.network_variances`: the signal's ratio from the first hidden layer to the last,
and ``chi_1``, the factor by which the gradient's second moment changes per layer at the last
hidden layer's predicted variance); after training, each run is called *trains*, *stalls* or
*diverged* from its measured accuracy and cost. An initializer that names its biases (a
``critical:ACT,SIGMA_B2`` spec: ``random:sqrt(SIGMA_B2)``) trains with them; the others with zeros.

Residual MLPs (``residual=m``, ``blocks=B``; `initlab.nn.residual`): an input projection, ``B``
blocks ``S := S + gate * branch(N(S))`` of ``m`` layers of ``width`` units, and the readout. What
is measured at initialization is then the residual stream: its second moment after every block
(``stream_variance``, block 1 first) beside the mean-field prediction
(`initlab.theory.residual_network_variances`), and the first step's gradient norm.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from initlab import data as datasets
from initlab import initializers, theory
from initlab.diagnose.propagation import propagation
from initlab.errors import InitlabError, check_positive
from initlab.experiments.run import RunConfig, Training, groups


@dataclass(frozen=True)
class DeepConfig:
    """The budget is part of the config: ``iterations`` at ``lr`` on ``train_examples`` examples."""

    data: str = "digits"
    depth: int = 30
    width: int = 64
    hidden: str = "relu"
    inits: tuple[str, ...] = ("he", "xavier", "variance_scaling:0.5")
    lr: float = 0.01
    iterations: int = 800
    train_examples: int | None = 600
    seed: int = 0
    residual: int | None = None
    blocks: int = 100
    gate: bool | float | None = None
    norm: str | None = None

    def __post_init__(self) -> None:
        if self.residual is None and (self.gate not in (None, False) or self.norm is not None):
            raise InitlabError("gate and norm belong to residual networks: set residual (--residual M)")
        if self.residual is not None and (isinstance(self.blocks, bool) or self.blocks < 1):
            raise InitlabError(f"blocks must be a positive number of residual blocks, got {self.blocks!r}")
        if self.depth < 2:
            raise InitlabError(f"depth counts weight layers and must be at least 2, got {self.depth}")
        if self.width < 1:
            raise InitlabError(f"width must be at least 1, got {self.width}")
        if self.train_examples is not None and (isinstance(self.train_examples, bool) or self.train_examples < 1):
            raise InitlabError(
                f"train_examples (--train-examples) must be a positive number of examples "
                f"(0 on the command line: all), got {self.train_examples}"
            )
        if isinstance(self.iterations, bool) or self.iterations < 0:
            raise InitlabError(f"iterations must be a non-negative integer, got {self.iterations!r}")
        check_positive("lr", self.lr)
        if not self.inits:
            raise InitlabError("deep needs at least one initializer in inits")
        for spec in self.inits:
            initializers.get(spec)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["inits"] = list(self.inits)
        if self.residual is None:  # a plain run's object as it was
            for k in ("residual", "blocks", "gate", "norm"):
                del d[k]
        return d

    def layers(self, n_x: int, n_y: int) -> tuple[int, ...]:
        """The network's layer sizes on a data set of ``n_x`` features and ``n_y`` outputs."""
        hidden = self.depth - 1 if self.residual is None else 1 + self.blocks * self.residual
        return (n_x,) + (self.width,) * hidden + (n_y,)

    def describe(self) -> str:
        c = self
        if c.residual is None:
            return f"{c.depth}-layer {c.hidden} MLP (width {c.width})"
        extra = "".join(
            [", gated" if c.gate is True else "" if c.gate is None else f", gates at {c.gate:g}"]
            + [f", {c.norm}" if c.norm else ", no normalization"]
        )
        return f"residual {c.hidden} MLP: {c.blocks} blocks of {c.residual} layer(s), width {c.width}{extra}"


@dataclass
class DeepResult:
    config: DeepConfig
    runs: list[dict]
    z_q: np.ndarray | None  # (E, L) forward second moment at init (plain networks)
    grad_q: np.ndarray | None  # (E, L) backward second moment at init (plain networks)
    costs: np.ndarray  # (records, E)
    iterations: np.ndarray
    stream_q: np.ndarray | None = None  # (E, B+1) the residual stream's second moment at init, S[0] first

    def to_dict(self) -> dict:
        out = {"config": self.config.to_dict(), "runs": self.runs}
        if self.z_q is not None:
            out["propagation_at_init"] = {"z_q": self.z_q.tolist(), "grad_q": self.grad_q.tolist()}
        out["costs"] = [[int(i), c.tolist()] for i, c in zip(self.iterations, self.costs, strict=True)]
        return out

    def lines(self) -> list[str]:
        if self.config.residual is not None:
            return self._residual_lines()
        c = self.config
        out = [
            f"{c.depth}-layer {c.hidden} MLP (width {c.width}) on {c.data}: {c.iterations} iterations "
            f"at lr {c.lr} on {self.runs[0]['m_train']} training examples",
            "",
            f"{'init':<24}{'sigma_w2':>9}{'train acc':>11}{'test acc':>10}{'final cost':>12}"
            f"{'signal L/1':>12}{'theory':>10}{'grad 1/L':>11}{'chi_1':>8}  verdict",
        ]
        for r in self.runs:
            out.append(
                f"{r['init']:<24}{r['sigma_w2']:>9.3g}{100 * r['train_accuracy']:>10.1f}%"
                f"{100 * r['test_accuracy']:>9.1f}%{r['final_cost']:>12.4g}"
                f"{r['signal_ratio']:>12.3g}{r['predicted_signal_ratio']:>10.3g}"
                f"{r['gradient_ratio']:>11.3g}"
                f"{'-' if r['chi1'] is None else format(r['chi1'], '.3g'):>8}  {r['verdict']}"
            )
        out.append("")
        out.append(
            "signal L/1: measured second moment of z at the last hidden layer over the first; theory: "
            "the mean-field prediction; grad 1/L: the gradient's at the first layer over the last; "
            "chi_1: the predicted gradient factor per layer at the last hidden layer"
        )
        out.append("")
        out += [f"{r['init']}: {r['sentence']}" for r in self.runs]
        return out

    def _residual_lines(self) -> list[str]:
        c = self.config
        B = c.blocks
        cols = sorted({1, max(1, B // 2), B})  # first, middle, last block (each once)
        out = [
            f"{c.describe()} on {c.data}: {c.iterations} iterations at lr {c.lr} on "
            f"{self.runs[0]['m_train']} training examples, seed {c.seed}",
            "",
            "stream variance: mean S^2 after a block at initialization, measured (theory)",
            f"{'init':<14}{'train acc':>10}{'test acc':>10}{'final cost':>12}"
            + "".join(f"{f'block {b}':>22}" for b in cols)
            + f"{'grad norm':>11}  verdict",
        ]

        def pair(r, b):
            return f"{r['stream_variance'][b - 1]:.3g} ({r['predicted_stream_variance'][b - 1]:.3g})"

        for r in self.runs:
            out.append(
                f"{r['init']:<14}{100 * r['train_accuracy']:>9.1f}%{100 * r['test_accuracy']:>9.1f}%"
                f"{r['final_cost']:>12.4g}"
                + "".join(f"{pair(r, b):>22}" for b in cols)
                + f"{r['gradient_norm']:>11.3g}  {r['verdict']}"
            )
        out.append("")
        out.append(
            "theory: the mean-field prediction for this network (initlab.theory.residual_variances); "
            "grad norm: the first step's gradient, all weights, one norm"
        )
        out.append("")
        out += [f"{r['init']}: {r['sentence']}" for r in self.runs]
        return out


def _verdict(r: dict, n_classes: int) -> tuple[str, str]:
    chance = 1.0 / n_classes
    if not np.isfinite(r["final_cost"]):
        return "diverged", "the cost became infinite or NaN: the signal exploded"
    if r["train_accuracy"] >= 0.9:
        return "trains", f"reached {100 * r['train_accuracy']:.1f}% training accuracy"
    if r["train_accuracy"] < chance + 0.1:
        ratio = r["signal_ratio"]
        if ratio < 1e-2:
            why = f"the signal shrank by a factor {ratio:.2g} from layer 1 to the last: the gradients vanished"
        elif ratio > 1e2:
            why = f"the signal grew by a factor {ratio:.2g}: the units saturated or exploded"
        else:
            why = "it stayed near chance"
        return "stalls", f"{100 * r['train_accuracy']:.1f}% training accuracy: {why}"
    return "slow", f"{100 * r['train_accuracy']:.1f}% training accuracy: learning, but slowly"


def _residual_verdict(r: dict, n_classes: int) -> tuple[str, str]:
    """`_verdict` for a residual network: the stream, not a layer ratio, says why."""
    growth = _ratio(r["stream_variance"][-1], r["stream_variance_input"])
    if not np.isfinite(r["final_cost"]):
        return "diverged", (
            f"the cost became infinite or NaN: the stream's variance grew {growth:.3g}x over the blocks at init"
        )
    if r["train_accuracy"] >= 0.9:
        return "trains", f"reached {100 * r['train_accuracy']:.1f}% training accuracy"
    if r["train_accuracy"] < 1.0 / n_classes + 0.1:
        why = (
            f"the stream's variance grew {growth:.3g}x over the blocks at init"
            if growth > 1e3
            else "it stayed near chance"
        )
        return "stalls", f"{100 * r['train_accuracy']:.1f}% training accuracy: {why}"
    return "slow", f"{100 * r['train_accuracy']:.1f}% training accuracy: learning, but slowly"


def _ratio(a: float, b: float) -> float:
    """``a / b``, NaN where it is undefined (a network whose signal died or overflowed)."""
    with np.errstate(all="ignore"):
        return float(np.float64(a) / np.float64(b))


def deep(config: DeepConfig, *, progress=None) -> DeepResult:
    """Train every init of ``config`` as one ensemble (`Training`; one per bias spec, when an
    init names its biases) and measure propagation at initialization."""
    ds = datasets.load(config.data, seed=None)
    layers = config.layers(ds.n_x, ds.n_y)
    if config.residual is not None:
        return _deep_residual(config, ds, layers, progress)
    samplers = [initializers.get(init) for init in config.inits]
    configs = [
        RunConfig(
            config.data,
            layers,
            config.hidden,
            None,
            init,
            config.lr,
            config.iterations,
            config.seed,
            examples=config.train_examples,
        )  # a critical init's biases come with it (RunConfig's default: initializers.bias_of)
        for init in config.inits
    ]
    E, L = len(configs), len(layers) - 1
    z_q, grad_q = np.empty((E, L)), np.empty((E, L))
    results: list = [None] * E
    # an exploding init overflows: its verdict says "diverged", NumPy need not warn on every step
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for idx in groups(configs):  # one ensemble per bias spec (a network draws one kind of bias)
            training = Training([configs[i] for i in idx], data=ds)
            X = training.data.X_train
            prop = propagation(training.network, X, seed=config.seed)  # member k: as if alone
            z_q[idx] = np.array([lp.z_q for lp in prop.layers]).T
            grad_q[idx] = np.array([lp.grad_q for lp in prop.layers]).T
            for i, res in zip(idx, training.run(progress), strict=True):
                results[i] = res
        runs = []
        for k, (init, sampler, res) in enumerate(zip(config.inits, samplers, results, strict=True)):
            t = sampler.theory((config.width, config.width))
            sigma_w2 = float(np.float64(t["std"]) ** 2 * t["fan_in"])
            sigma_b2 = float(getattr(sampler, "sigma_b2", 0.0))
            predicted = theory.network_variances(config.hidden, init, layers, X, sigma_b2)
            r = {
                "init": init,
                "sigma_w2": sigma_w2,
                "sigma_b2": sigma_b2,
                "bias": configs[k].bias,
                "m_train": int(X.shape[1]),
                "train_accuracy": res.train_accuracy,
                "test_accuracy": res.test_accuracy,
                "initial_cost": res.initial_cost,
                "final_cost": res.final_cost,
                "signal_ratio": _ratio(z_q[k, -2], z_q[k, 0]),
                "predicted_signal_ratio": _ratio(predicted[-1], predicted[0]),
                "predicted_z_q": predicted.tolist(),
                "gradient_ratio": _ratio(grad_q[k, 0], grad_q[k, -1]),
                # no theory where sigma_w^2 is 0 (zeros) or overflowed (random:1e200): the verdict says why
                "chi1": float(theory.chi1(config.hidden, sigma_w2, sigma_b2, q=predicted[-1]))
                if 0 < sigma_w2 < np.inf and np.isfinite(predicted[-1])
                else None,
            }
            r["verdict"], r["sentence"] = _verdict(r, len(ds.classes))
            runs.append(r)
    costs = np.array([res.costs for res in results]).T  # (records, E)
    return DeepResult(config, runs, z_q, grad_q, costs, np.array(results[0].iterations))


def gradient_norms(network, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """The norm of the whole gradient (every ``dW``, ``db``, gate and norm parameter) of the mean
    cost on ``(X, Y)``: one number per member, ``(E,)`` (a single network: ``(1,)``)."""
    with np.errstate(over="ignore", invalid="ignore"):
        grads = network.gradients(X, Y)
        total = None
        for k in network.params:
            g = np.asarray(grads[f"d{k}"], dtype=np.float64)
            g = g.reshape(g.shape[0], -1) if network.ensemble else g.reshape(1, -1)
            s = (g * g).sum(axis=1)
            total = s if total is None else total + s
        return np.sqrt(total)


def _deep_residual(config: DeepConfig, ds, layers: tuple[int, ...], progress) -> DeepResult:
    """`deep` for residual networks: the stream's second moment per block at init, measured and
    predicted, the first step's gradient norm, then training."""
    structure = {"residual": config.residual, "gate": config.gate, "norm": config.norm}
    configs = [
        RunConfig(
            config.data,
            layers,
            config.hidden,
            None,
            init,
            config.lr,
            config.iterations,
            config.seed,
            examples=config.train_examples,
            **structure,
        )
        for init in config.inits
    ]
    E, B = len(configs), config.blocks
    stream_q = np.empty((E, B + 1))
    grad_norm = np.empty(E)
    results: list = [None] * E
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for idx in groups(configs):  # inits of one bias spec and one gate rule train together
            training = Training([configs[i] for i in idx], data=ds)
            X, Y = training.data.X_train, training.data.Y_train
            stream_q[idx] = theory.stream_second_moments(training.network, X)
            grad_norm[idx] = gradient_norms(training.network, X, Y)
            for i, res in zip(idx, training.run(progress), strict=True):
                results[i] = res
        runs = []
        for k, (init, res) in enumerate(zip(config.inits, results, strict=True)):
            predicted = theory.residual_network_variances(
                config.hidden, init, layers, X, residual=config.residual, gate=config.gate, norm=config.norm
            )
            r = {
                "init": init,
                "bias": configs[k].bias,
                "m_train": int(X.shape[1]),
                "train_accuracy": res.train_accuracy,
                "test_accuracy": res.test_accuracy,
                "initial_cost": res.initial_cost,
                "final_cost": res.final_cost,
                "diverged_at": res.diverged_at,
                "gradient_norm": float(grad_norm[k]),
                "stream_variance_input": float(stream_q[k, 0]),
                "stream_variance": stream_q[k, 1:].tolist(),
                "predicted_stream_variance_input": float(predicted[0]),
                "predicted_stream_variance": predicted[1:].tolist(),
            }
            r["verdict"], r["sentence"] = _residual_verdict(r, len(ds.classes))
            runs.append(r)
    costs = np.array([res.costs for res in results]).T  # (records, E)
    return DeepResult(config, runs, None, None, costs, np.array(results[0].iterations), stream_q)


def write_deep_report(result: DeepResult, out_dir) -> dict:
    """``report.html`` (cost curves, per-layer signal and gradient at init) and ``results.json``."""
    from initlab.report import plots
    from initlab.report.html import figure, png, render_page, write_page

    cfg = result.config
    figs = []
    fig, ax = figure(1, width=7.5, height=4)
    costs = {
        r["init"]: [np.where(np.isfinite(result.costs[:, k]), result.costs[:, k], np.nan)]
        for k, r in enumerate(result.runs)
    }
    plots.cost_curves(ax[0, 0], costs, result.iterations)
    figs.append(("Cost curves", "Training cost per iteration.", png(fig)))
    if cfg.residual is not None:
        fig = stream_figure(result)
        figs.append(
            (
                "The residual stream at initialization",
                "The stream's second moment mean(S^2) after each block (block 0: the input "
                "projection), measured on the training batch (solid) beside the mean-field "
                "prediction (dashed). Without a norm, ReLU branches with He weights double it "
                "every block; a zero last layer (Fixup, ZerO) or gate (ReZero) keeps it flat.",
                png(fig),
            )
        )
        page = render_page(DEEP_RESIDUAL_TEMPLATE, cfg=cfg, runs=result.runs, figs=figs, m=result.runs[0]["m_train"])
        return write_page(out_dir, page, result.to_dict())
    fig, ax = figure(2, width=5, height=3.6)
    layers = np.arange(1, cfg.depth + 1)
    for k, r in enumerate(result.runs):
        colour = plots.COLOURS[k % len(plots.COLOURS)]
        ax[0, 0].plot(layers, result.z_q[k], color=colour, lw=2, label=r["init"])
        ax[0, 1].plot(layers, result.grad_q[k], color=colour, lw=2, label=r["init"])
    for a, label in ((ax[0, 0], "signal: mean z^2 per layer"), (ax[0, 1], "gradient: mean dZ^2 per layer")):
        a.set_yscale("log")
        a.set_xlabel("layer")
        a.set_title(label, fontsize=10)
        a.legend(frameon=False, fontsize=8)
        a.grid(alpha=0.3)
    figs.append(
        (
            "Signal and gradient per layer, at initialization",
            "Forward: the second moment of each layer's pre-activations on the training batch. "
            "Backward: of the gradient reaching each layer from a unit-variance error at the "
            "output. Flat lines propagate; falling or rising lines vanish or explode.",
            png(fig),
        )
    )
    page = render_page(DEEP_TEMPLATE, cfg=cfg, runs=result.runs, figs=figs, m=result.runs[0]["m_train"])
    return write_page(out_dir, page, result.to_dict())


def stream_figure(result: DeepResult):
    """The stream's second moment by block, log y: measured solid, predicted dashed, one colour
    per init. Values that are 0, NaN or infinite are left out (a log axis cannot show them)."""
    from initlab.report import plots
    from initlab.report.html import figure

    fig, ax = figure(1, width=7.5, height=4)
    a = ax[0, 0]
    blocks = np.arange(result.config.blocks + 1)
    for k, r in enumerate(result.runs):
        colour = plots.COLOURS[k % len(plots.COLOURS)]
        measured = np.array([r["stream_variance_input"], *r["stream_variance"]])
        predicted = np.array([r["predicted_stream_variance_input"], *r["predicted_stream_variance"]])
        for y, style, label in ((measured, "-", r["init"]), (predicted, "--", None)):
            y = np.where(np.isfinite(y) & (y > 0), y, np.nan)
            a.plot(blocks, y, style, color=colour, lw=2 if style == "-" else 1.2, label=label)
    a.plot([], [], "k--", lw=1.2, label="theory")
    a.set_yscale("log")
    a.set_xlabel("block")
    a.set_ylabel("mean S^2")
    a.set_title("residual stream at initialization: measured (solid), theory (dashed)", fontsize=10)
    a.legend(frameon=False, fontsize=8)
    a.grid(alpha=0.3)
    return fig


DEEP_RESIDUAL_TEMPLATE = """{% extends "page.html" %}
{% block title %}initlab deep: {{ cfg.blocks }} residual blocks on {{ cfg.data }}{% endblock %}
{% block body %}
<h1>Which initializations train a {{ cfg.blocks }}-block residual {{ cfg.hidden }} network?</h1>
<p class="note">{{ cfg.describe() }}; {{ cfg.data }}, {{ cfg.iterations }} iterations of full-batch gradient
descent at learning rate {{ cfg.lr }} on {{ m }} training examples, seed {{ cfg.seed }}. Measured; the stream's
theory is the mean-field prediction for the same network.</p>
<div class="scroll"><table>
<tr><th>init</th><th>train acc</th><th>test acc</th><th>final cost</th><th>stream after block 1</th>
<th>after block {{ cfg.blocks }}</th><th>theory, block {{ cfg.blocks }}</th><th>first gradient norm</th>
<th>verdict</th></tr>
{% for r in runs %}<tr><td>{{ r.init }}</td>
<td>{{ "%.1f"|format(100 * r.train_accuracy) }}%</td><td>{{ "%.1f"|format(100 * r.test_accuracy) }}%</td>
<td>{{ "%.4g"|format(r.final_cost) }}</td><td>{{ "%.3g"|format(r.stream_variance[0]) }}</td>
<td>{{ "%.3g"|format(r.stream_variance[-1]) }}</td><td>{{ "%.3g"|format(r.predicted_stream_variance[-1]) }}</td>
<td>{{ "%.3g"|format(r.gradient_norm) }}</td>
<td class="text">{{ r.verdict }}: {{ r.sentence }}</td></tr>
{% endfor %}</table></div>
{% for title, caption, png in figs %}<h2>{{ title }}</h2><p class="note">{{ caption }}</p>
<img alt="{{ title }}" src="data:image/png;base64,{{ png }}">{% endfor %}
{% endblock %}
"""


DEEP_TEMPLATE = """{% extends "page.html" %}
{% block title %}initlab deep: {{ cfg.depth }} layers on {{ cfg.data }}{% endblock %}
{% block body %}
<h1>Which initializations train a {{ cfg.depth }}-layer {{ cfg.hidden }} network?</h1>
<p class="note">{{ cfg.data }}, width {{ cfg.width }}, {{ cfg.iterations }} iterations of full-batch gradient
descent at learning rate {{ cfg.lr }} on {{ m }} training examples, seed {{ cfg.seed }}. Measured.</p>
<div class="scroll"><table>
<tr><th>init</th><th>sigma_w^2</th><th>train acc</th><th>test acc</th><th>final cost</th>
<th>signal last/first</th><th>theory</th><th>gradient first/last</th><th>chi_1</th><th>verdict</th></tr>
{% for r in runs %}<tr><td>{{ r.init }}</td><td>{{ "%.3g"|format(r.sigma_w2) }}</td>
<td>{{ "%.1f"|format(100 * r.train_accuracy) }}%</td><td>{{ "%.1f"|format(100 * r.test_accuracy) }}%</td>
<td>{{ "%.4g"|format(r.final_cost) }}</td><td>{{ "%.3g"|format(r.signal_ratio) }}</td>
<td>{{ "%.3g"|format(r.predicted_signal_ratio) }}</td>
<td>{{ "%.3g"|format(r.gradient_ratio) }}</td><td>{{ "-" if r.chi1 is none else "%.3g"|format(r.chi1) }}</td>
<td class="text">{{ r.verdict }}: {{ r.sentence }}</td></tr>
{% endfor %}</table></div>
{% for title, caption, png in figs %}<h2>{{ title }}</h2><p class="note">{{ caption }}</p>
<img alt="{{ title }}" src="data:image/png;base64,{{ png }}">{% endfor %}
{% endblock %}
"""
