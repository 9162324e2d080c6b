"""The walkthroughs a learner runs (MISSION C7, C8, C11): every sentence printed is made from a
measured value, never asserted.

Each function returns a small result with ``to_dict()`` (for ``--json``) and ``lines()`` (what
the CLI prints).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from initlab import data as datasets
from initlab import initializers
from initlab.diagnose import saturation, symmetry
from initlab.experiments.run import RunConfig, Training, train
from initlab.nn import HIDDEN, Network


def _fmt(a: np.ndarray) -> str:
    return np.array2string(np.asarray(a), precision=5, suppress_small=True, floatmode="fixed", max_line_width=100)


# ---------------------------------------------------------------------------- walkthrough
#: Four examples on two inputs, three of class 1: unbalanced on purpose, so that a
#: zero-initialized network has something to learn (on balanced data even its output bias's
#: gradient, mean(a - y), is 0).
WALK_X = np.array([[1.0, 2.0, -1.0, 0.5], [0.5, -1.0, 2.0, 1.0]])
WALK_Y = np.array([[1.0, 0.0, 1.0, 1.0]])
WALK_DATA = datasets.Dataset("walk", WALK_X, WALK_Y, WALK_X, WALK_Y)


@dataclass
class Walkthrough:
    steps: dict = field(default_factory=dict)
    good: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"steps": self.steps, "good_methods": self.good}

    def lines(self) -> list[str]:
        out = [
            "A layer of 3 sigmoid units on 2 inputs, one sigmoid output; 4 examples "
            "(X is 2 x 4, examples as columns), learning rate 1.0.",
            "",
        ]
        for init, steps in self.steps.items():
            out.append(f"=== init: {init} ===")
            for s in steps:
                out.append(f"-- {s['title']}")
                out.append("W1 (one row per hidden unit):")
                out += ["  " + line for line in _fmt(s["W1"]).splitlines()]
                out.append(f"W2 = {_fmt(s['W2'])}   b1 = {_fmt(np.ravel(s['b1']))}")
                if "Z1" in s:
                    out.append("Z1 = W1 @ X + b1 (one row per unit, one column per example):")
                    out += ["  " + line for line in _fmt(s["Z1"]).splitlines()]
                    out.append("dW1 (one row per unit):")
                    out += ["  " + line for line in _fmt(s["dW1"]).splitlines()]
                out.append(f"measured: {s['sentence']}")
            out.append("")
        out.append("=== the three good methods side by side (a sample W of shape (40, 256): fan_in 256) ===")
        out.append(f"{'init':<14}{'formula':<34}{'std (formula)':>14}{'std (sample)':>14}{'distinct units':>16}")
        for g in self.good:
            out.append(
                f"{g['init']:<14}{g['formula']:<34}{g['std_formula']:>14.5f}{g['std_sample']:>14.5f}"
                f"{g['effective_width']:>12} of 3"
            )
        return out


def walkthrough(*, updates: int = 3, seed: int = 1) -> Walkthrough:
    """Zero init through forward, gradient and ``updates`` updates; then random; then the good
    methods (random:0.01, xavier, he) side by side."""
    result = Walkthrough()
    for init in ("zeros", "random:0.01"):
        training = Training([RunConfig("walk", (2, 3, 1), "sigmoid", None, init, 1.0, updates, seed)], data=WALK_DATA)
        steps = []
        for t in range(updates + 1):
            net = training.network.member(0)  # this step's parameters, as one network
            _, cache = net.forward(WALK_X)
            grads = net.gradients(WALK_X, WALK_Y)
            rep = symmetry(net.params)
            identical_grad = bool(np.all(grads["dW1"] == grads["dW1"][0]))
            sentence = (
                rep.layers[0].sentence()
                + "; dW1 rows "
                + ("identical: every unit gets the same update" if identical_grad else "differ: the units move apart")
            )
            steps.append(
                {
                    "title": "initialized" if t == 0 else f"after update {t}",
                    "W1": net.params["W1"].copy(),
                    "b1": net.params["b1"].copy(),
                    "W2": net.params["W2"].copy(),
                    "Z1": cache[0][1],
                    "dW1": grads["dW1"],
                    "effective_width": rep.effective_widths[0],
                    "dW1_rows_identical": identical_grad,
                    "sentence": sentence,
                }
            )
            if t < updates:
                training.step(1)
        result.steps[init] = [
            {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in s.items()} for s in steps
        ]
    rng = np.random.default_rng(seed)
    for init in ("random:0.01", "xavier", "he"):
        sampler = initializers.get(init)
        W = sampler((40, 256), rng)
        eff = symmetry(Network([2, 3, 1], init=init, seed=seed).params).effective_widths[0]
        result.good.append(
            {
                "init": init,
                "formula": initializers.entry_of(init).formula,
                "std_formula": sampler.theory((40, 256))["std"],
                "std_sample": float(W.std()),
                "effective_width": eff,
            }
        )
    return result


# ------------------------------------------------------------------------- symmetry story
@dataclass
class SymmetryStory:
    config: dict
    runs: dict
    per_activation: list

    def to_dict(self) -> dict:
        return {"config": self.config, "runs": self.runs, "per_activation": self.per_activation}

    def lines(self) -> list[str]:
        c = self.config
        out = [
            f"The course's 2-2-1 network ({c['hidden']} hidden units) on {c['data']}, lr {c['lr']}, "
            f"{c['iterations']} iterations. XOR needs two different hidden units.",
            "",
        ]
        out.append(f"{'iteration':>10}" + "".join(f"  {'eff. width ' + i:>22}" for i in self.runs))
        its = self.runs[next(iter(self.runs))]["tracked_iterations"]
        show = sorted(set(np.linspace(0, len(its) - 1, 6).astype(int)))
        for j in show:
            out.append(f"{its[j]:>10}" + "".join(f"  {r['effective_width'][j]:>22}" for r in self.runs.values()))
        out.append("")
        for init, r in self.runs.items():
            out.append(f"{init}: each hidden unit's incoming weights (w1, w2) over time")
            for j in show:
                rows = "   ".join(f"unit {u + 1}: ({w[0]:+.4f}, {w[1]:+.4f})" for u, w in enumerate(r["W1"][j]))
                out.append(f"  iteration {its[j]:>6}: {rows}")
        out.append("")
        for init, r in self.runs.items():
            out.append(f"{init}: {r['conclusion']}")
        out.append("")
        out.append("From all-zero weights, per hidden activation (measured on the same data):")
        for a in self.per_activation:
            out.append(f"  {a['activation']:<11} {a['sentence']}")
        return out


def _values(a: np.ndarray) -> str:
    lo, hi = float(np.min(a)), float(np.max(a))
    return f"{lo:g}" if lo == hi else f"{lo:g} to {hi:g}"


def zero_gradient_factors(net: Network, X: np.ndarray, Y: np.ndarray) -> dict:
    """Which factor of the hidden layer's gradients is zero, measured on ``(X, Y)`` (a 2-layer net).

    ``dW1 = (W2^T dZ2 * g'(Z1)) X^T / m`` (and ``db1``) is zero when ``W2 = 0``, ``dZ2 = 0`` or
    ``g'(Z1) = 0``; ``dW2 = dZ2 A1^T / m`` when ``dZ2 = 0`` or ``A1 = g(Z1) = 0``. Returns each
    factor's test and values, and ``reason``: the sentence, made only of the factors found zero.
    """
    A2, cache = net.forward(X)
    (_, Z1), (A1, Z2) = cache
    g = net.activations[0]
    dZ2 = net.loss.grad(Z2, A2, net._check_Y(X, Y), net.activations[-1])
    gp = g.grad(Z1)
    W2 = net.params["W2"]
    zero = {
        "W2": bool(np.all(W2 == 0)),
        "dZ2": bool(np.all(dZ2 == 0)),
        "g'(Z1)": bool(np.all(gp == 0)),
        "A1": bool(np.all(A1 == 0)),
    }
    values = {"W2": _values(W2), "dZ2": _values(dZ2), "g'(Z1)": _values(gp), "A1": _values(A1), "Z1": _values(Z1)}
    parts = []
    hidden_zero = [k for k in ("W2", "dZ2", "g'(Z1)") if zero[k]]
    if hidden_zero:
        others = [f"{k} = {values[k]}" for k in ("W2", "g'(Z1)") if not zero[k]]
        parts.append(
            "dW1 = (W2^T dZ2 * g'(Z1)) X^T / m is 0 because "
            + " and ".join(f"{k} = 0" for k in hidden_zero)
            + (f" ({', '.join(others)}: not the reason)" if others else "")
        )
    out_zero = [k for k in ("dZ2", "A1") if zero[k]]
    if out_zero:
        parts.append(
            "dW2 = dZ2 A1^T / m is 0 because "
            + " and ".join(f"{k} = 0" + (f" (A1 = g(Z1), Z1 = {values['Z1']})" if k == "A1" else "") for k in out_zero)
        )
    reason = "; ".join(parts) if parts else "no factor of dW1 or dW2 is 0 at the start"
    return {"zero": zero, "values": values, "reason": reason}


def symmetry_story(
    *, iterations: int = 3000, lr: float = 1.2, seed: int = 1, inits: tuple[str, ...] = ("zeros", "random:0.01")
) -> SymmetryStory:
    """Zero vs random on a 2-2-1 sigmoid network on XOR, and what each activation does from zeros."""
    ds = datasets.load("xor")
    X, Y = ds.X_train, ds.Y_train
    every = max(1, iterations // 100)
    runs = {}
    configs = [
        RunConfig("xor", (2, 2, 1), "sigmoid", None, i, lr, iterations, seed, ("weights",), every) for i in inits
    ]
    for init, r in zip(inits, train(configs), strict=True):
        widths = [int(w[0]) for w in r.curves["effective_width"]]
        acc = r.train_accuracy
        sym = r.symmetric_every_step
        span = f"{min(widths)}" if min(widths) == max(widths) else f"{min(widths)} to {max(widths)}"
        conclusion = (
            f"effective width {span} of 2 at every one of "
            f"{len(widths)} tracked steps: "
            + (
                "the two units stayed one function the whole time"
                if sym
                else "the units computed different functions from the start"
            )
            + f"; train accuracy {100 * acc:.1f}%, final cost {r.final_cost:.4f}"
        )
        runs[init] = {
            "effective_width": widths,
            "tracked_iterations": r.curves["iteration"],
            "W1": [w["W1"].tolist() for w in r.curves["weights"]],
            "train_accuracy": acc,
            "final_cost": r.final_cost,
            "symmetric_every_step": sym,
            "conclusion": conclusion,
        }
    per = []
    m_pos = float(Y.mean())
    for act in HIDDEN:
        if act == "identity":
            continue
        training = Training([RunConfig("xor", (2, 2, 1), act, None, "zeros", lr, iterations, 0)], data=ds)
        net = training.network.member(0)
        factors = zero_gradient_factors(net, X, Y)
        (h,) = training.run()
        moved = {k: float(np.abs(training.network.params[k][0] - net.params[k]).max()) for k in net.params}
        learned = [k for k, v in moved.items() if v > 0]
        if not learned:
            s = (
                f"nothing moved at all (labels {100 * m_pos:.1f}% positive: "
                "the output bias's gradient mean(a - y) is 0 too)"
            )
        elif learned == ["b2"]:
            s = (
                f"hidden weights stayed exactly 0 (W1, b1, W2 unchanged); only the output bias "
                f"learned (b2 moved {moved['b2']:.3g}): {factors['reason']}"
            )
        else:
            s = (
                f"learned ({', '.join(learned)} moved) but as ONE unit: effective width "
                f"{int(np.max(h.curves['effective_width']))} of 2 at every tracked step "
                f"(symmetric every step: {h.symmetric_every_step})"
            )
        per.append(
            {
                "activation": act,
                "moved": moved,
                "learned": learned,
                "factors_at_init": factors,
                "symmetric_every_step": h.symmetric_every_step,
                "sentence": s,
                "train_accuracy": h.train_accuracy,  # after training (net is the network before it)
            }
        )
    config = {
        "data": "xor",
        "layers": [2, 2, 1],
        "hidden": "sigmoid",
        "lr": lr,
        "iterations": iterations,
        "seed": seed,
        "inits": list(inits),
    }
    return SymmetryStory(config, runs, per)


# ----------------------------------------------------------------------- saturation story
@dataclass
class SaturationStory:
    config: dict
    rows: list

    def to_dict(self) -> dict:
        return {"config": self.config, "rows": self.rows}

    def lines(self) -> list[str]:
        c = self.config
        out = [
            f"{c['data']}, {'-'.join(map(str, c['layers']))} network, lr {c['lr']}, "
            f"{c['iterations']} iterations; saturated = g'(z) below {c['threshold']} of its maximum.",
            f"{'hidden':<9}{'init':<14}{'saturated at init':>18}{'mean |g_prime|':>16}"
            f"{'cost after ' + str(c['iterations']):>18}{'iterations to cost ' + str(c['target']):>26}",
        ]
        for r in self.rows:
            reach = r["iterations_to_target"]
            out.append(
                f"{r['hidden']:<9}{r['init']:<14}{r['saturated_at_init']:>18.3f}"
                f"{r['mean_abs_grad_at_init']:>16.4f}{r['final_cost']:>18.4f}"
                f"{('never' if reach is None else str(reach)):>26}"
            )
        out.append("")
        for hidden in c["hidden"]:
            rs = [r for r in self.rows if r["hidden"] == hidden]
            lo, hi = rs[0], rs[-1]
            out.append(
                f"{hidden}: from {lo['init']} to {hi['init']} the saturated fraction at init "
                f"goes {lo['saturated_at_init']:.2f} -> {hi['saturated_at_init']:.2f} and the cost "
                f"after {c['iterations']} iterations {lo['final_cost']:.3f} -> {hi['final_cost']:.3f}"
                + (
                    ": large weights saturate the units and learning crawls."
                    if hi["final_cost"] > lo["final_cost"] and hi["saturated_at_init"] > lo["saturated_at_init"]
                    else "."
                )
            )
            reached = [r for r in rs if r["iterations_to_target"] is not None]
            if reached:
                best = min(reached, key=lambda r: r["iterations_to_target"])
                never = [r["init"] for r in rs if r["iterations_to_target"] is None]
                out.append(
                    f"  fastest to cost {c['target']}: {best['init']} "
                    f"({best['iterations_to_target']} iterations)"
                    + (f"; never within {c['iterations']}: {', '.join(never)}" if never else "")
                )
        return out


def saturation_story(
    *,
    scales: tuple[float, ...] = (0.01, 0.1, 1, 10, 100),
    iterations: int = 1000,
    lr: float = 1.2,
    seed: int = 0,
    target: float = 0.4,
) -> SaturationStory:
    """Sigmoid and tanh hidden layers on the flower, weights ``randn * scale`` for each scale:
    one ensemble per activation."""
    ds = datasets.load("flower")
    X = ds.X_train
    inits = [f"random:{s:g}" for s in scales]
    rows = []
    for hidden in ("sigmoid", "tanh"):
        configs = [RunConfig("flower", (2, 4, 1), hidden, None, i, lr, iterations, seed, track_every=1) for i in inits]
        training = Training(configs, data=ds)
        sat = saturation(training.network, X)
        results = training.run()
        for k, (init, h) in enumerate(zip(inits, results, strict=True)):
            below = np.flatnonzero(np.array(h.costs) <= target)
            hidden_k = sat.member(k).layers[0]
            rows.append(
                {
                    "hidden": hidden,
                    "init": init,
                    "scale": scales[k],
                    "saturated_at_init": hidden_k.saturated_fraction,
                    "mean_abs_grad_at_init": hidden_k.mean_abs_grad,
                    "final_cost": h.final_cost,
                    "iterations_to_target": int(h.iterations[below[0]]) if below.size else None,
                }
            )
    from initlab.diagnose import SATURATION_THRESHOLD

    config = {
        "data": "flower",
        "layers": [2, 4, 1],
        "hidden": ["sigmoid", "tanh"],
        "lr": lr,
        "iterations": iterations,
        "scales": list(scales),
        "seed": seed,
        "target": target,
        "threshold": SATURATION_THRESHOLD,
    }
    return SaturationStory(config, rows)
