"""Reports of the papers reproduced (``initlab reproduce NAME --report DIR``): each paper's
figure redrawn from our runs, its claims beside what we measured, in the shared page shell
(`initlab.report.html.render_page`, `write_page`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from initlab.errors import InitlabError
from initlab.report import plots
from initlab.report.html import figure, png, render_page, write_page

TEMPLATE = """{% extends "page.html" %}
{% block title %}initlab reproduce {{ name }}{% endblock %}
{% block body %}
<h1>{{ title }}</h1>
<p class="note">Every number and figure on this page was measured by <code>initlab reproduce {{ name }}</code>;
the published ones are the paper's, in our words.</p>
<h2>Published and measured</h2>
<div class="scroll"><table>
<tr><th>claim</th><th>published</th><th>measured</th></tr>
{% for claim, pub, got in comparison %}<tr><td class="text">{{ claim }}</td><td class="text">{{ pub }}</td>
<td class="text">{{ got }}</td></tr>{% endfor %}
</table></div>
{% for title, caption, image in figs %}<h2>{{ title }}</h2><p class="note">{{ caption }}</p>
<img alt="{{ title }}" src="data:image/png;base64,{{ image }}">{% endfor %}
<h2>The paper's claims</h2>
<ul>{% for k, v in claims.items() %}<li><b>{{ k }}</b>: {{ v }}</li>{% endfor %}</ul>
<h2>How it was run</h2>
<ul>{% for n in notes %}<li class="note">{{ n }}</li>{% endfor %}</ul>
{% endblock %}
"""


def _fmt(v: float | None, spec: str = ".3g") -> str:
    return "-" if v is None else format(v, spec)


# ------------------------------------------------------------------------ pennington-2017
def pennington(rep) -> tuple[str, list, list]:
    spec = [r for r in rep.rows if r["part"] == "spectrum"]
    learn = [r for r in rep.rows if r["part"] == "learning"]
    fig, ax = figure(3, width=4.2, height=3.6)
    for a, act in zip(ax[0], ("identity", "relu", "tanh"), strict=True):
        for k, weights in enumerate(("gaussian", "orthogonal")):
            mine = [r for r in spec if r["activation"] == act and r["weights"] == weights]
            d = np.array([r["depth"] for r in mine], dtype=float)
            y = np.array([r["normalized_variance"] for r in mine])
            t = np.array([r["predicted_normalized_variance"] for r in mine])
            colour = plots.COLOURS[k]
            # an exact isometry (orthogonal linear) has variance 0, measured as rounding (1e-30):
            # a log axis cannot show 0, so those points are left out and said so
            ok, tk = y > 1e-8, t > 1e-8
            a.plot(d[ok], y[ok], "o", color=colour, label=f"{weights}, measured")
            a.plot(d[tk], t[tk], "-", color=colour, lw=1.3, label=f"{weights}, theory")
            if not ok.any():
                a.text(0.05, 0.92, f"{weights}: 0 at every depth (not drawn)", transform=a.transAxes, fontsize=8)
        a.set_xscale("log", base=2)
        a.set_yscale("log")
        a.set_xlabel("depth L")
        a.set_title("linear" if act == "identity" else act, fontsize=10)
        a.grid(alpha=0.3)
    ax[0, 0].set_ylabel("var / mean^2 of J J^T's eigenvalues")
    ax[0, 0].legend(frameon=False, fontsize=7)
    figs = [
        (
            "The spectrum of J J^T against depth (Pennington et al. 2017, Figure 1's question)",
            "The normalized variance (variance over squared mean) of the eigenvalues of J J^T at criticality, "
            "measured (points: mean over networks and inputs) beside free probability's prediction (lines), "
            "log-log. Orthogonal linear networks are exact isometries (variance 0, measured below 1e-29): not drawn.",
            png(fig),
        )
    ]
    fig, ax = figure(1, width=7.5, height=3.8)
    for k, r in enumerate(learn):
        c = np.array(r["costs"], dtype=float)
        ax[0, 0].plot(c[:, 0], c[:, 1], color=plots.COLOURS[k], lw=2, label=f"{r['weights']} (depth {r['depth']})")
    ax[0, 0].set_xlabel("step")
    ax[0, 0].set_ylabel("training cost")
    ax[0, 0].set_yscale("log")
    ax[0, 0].legend(frameon=False)
    ax[0, 0].grid(alpha=0.3)
    figs.append(
        (
            "The learning race: critical tanh, orthogonal against Gaussian",
            "Training cost of the two networks (Pennington et al. 2017, sec. 4: dynamical isometry speeds learning).",
            png(fig),
        )
    )
    deep_tanh = {
        r["weights"]: r for r in spec if r["activation"] == "tanh" and r["depth"] == max(x["depth"] for x in spec)
    }
    relu = {r["weights"]: r for r in spec if r["activation"] == "relu" and r["depth"] == max(x["depth"] for x in spec)}
    comparison = [
        (
            "variance of J J^T's spectrum grows linearly with depth",
            "free-probability prediction (sec. 2-3)",
            "; ".join(
                f"{r['activation']}/{r['weights']} L={r['depth']}: {r['normalized_variance']:.3g} vs "
                f"{r['predicted_normalized_variance']:.3g}"
                for r in spec
                if r["depth"] == 32
            ),
        ),
        (
            "ReLU cannot reach dynamical isometry",
            "sec. 3",
            ", ".join(f"{w}: var/mean^2 {r['normalized_variance']:.3g} at L={r['depth']}" for w, r in relu.items()),
        ),
        (
            "orthogonal tanh at criticality can",
            "sec. 3",
            ", ".join(f"{w}: {r['normalized_variance']:.3g} at L={r['depth']}" for w, r in deep_tanh.items()),
        ),
        (
            "orthogonal learns faster",
            "orders of magnitude (sec. 4, CIFAR-10)",
            ", ".join(f"{r['weights']}: cost {r['final_cost']:.3g} after the race" for r in learn),
        ),
    ]
    return "Pennington, Schoenholz & Ganguli 2017: dynamical isometry", figs, comparison


# ------------------------------------------------------------------------ schoenholz-2017
def schoenholz_figure(extra: dict):
    """The paper's figure: train accuracy as a heatmap over sigma_w^2 (x) and depth (y), with
    ``6 xi_c`` (white dashed) and the fitted ``c xi_c`` (white solid) over it."""
    from initlab import theory

    cells = extra["cells"]
    sws = np.array(sorted({c["sigma_w2"] for c in cells}))
    depths = np.array(sorted({c["depth"] for c in cells}))
    acc = np.full((len(depths), len(sws)), np.nan)
    for c in cells:
        acc[np.searchsorted(depths, c["depth"]), np.searchsorted(sws, c["sigma_w2"])] = c["train_accuracy"]

    def edges(v: np.ndarray) -> np.ndarray:
        mid = (v[1:] + v[:-1]) / 2
        first = v[0] - (mid[0] - v[0]) if len(v) > 1 else v[0] - 0.5
        last = v[-1] + (v[-1] - mid[-1]) if len(v) > 1 else v[-1] + 0.5
        return np.concatenate([[first], mid, [last]])

    fig, ax = figure(1, width=7.2, height=5.2)
    a = ax[0, 0]
    mesh = a.pcolormesh(edges(sws), edges(depths.astype(float)), acc, cmap="viridis", vmin=extra["chance"], vmax=1.0)
    fig.colorbar(mesh, ax=a, label="train accuracy")
    sb2 = extra["config"]["sigma_b2"]
    fine = np.linspace(edges(sws)[0], edges(sws)[-1], 300)
    xi = np.array([theory.depth_scales("tanh", float(s), sb2).xi_c for s in fine])
    top = edges(depths.astype(float))[-1]
    a.plot(fine, np.minimum(6 * xi, 10 * top), "w--", lw=2, label="6 xi_c (the paper)")
    c = extra["fit"]["c"]
    a.plot(fine, np.minimum(c * xi, 10 * top), "w-", lw=1.5, label=f"{c:.3g} xi_c (fitted)")
    a.axvline(extra["critical_sigma_w2"], color="w", ls=":", lw=1)
    a.set_ylim(edges(depths.astype(float))[0], top)
    a.set_xlim(edges(sws)[0], edges(sws)[-1])
    a.set_xlabel("sigma_w^2")
    a.set_ylabel("depth L (hidden layers)")
    a.set_title(f"tanh, sigma_b^2 = {sb2:g}: train accuracy after a fixed budget", fontsize=10)
    a.legend(loc="upper right", fontsize=8, facecolor="0.3", labelcolor="w", framealpha=0.7)
    return fig


def schoenholz(rep) -> tuple[str, list, list]:
    x = rep.extra
    f = x["fit"]
    figs = [
        (
            "Trainability against sigma_w^2 and depth (Schoenholz et al. 2017, Figure 5, redrawn)",
            f"Each cell: train accuracy after {x['config']['steps']} steps (mean over seeds; colour from chance "
            f"{x['chance']:.2f} to 1). Dashed: 6 xi_c from initlab.theory's mean-field depth scale; solid: "
            f"{f['c']:.3g} xi_c, the constant fitted to these cells; dotted: the critical sigma_w^2, where xi_c "
            "diverges.",
            png(schoenholz_figure(x)),
        )
    ]
    comparison = [
        (
            "trainable depth = c xi_c",
            "c about 6 (sec. 5, Figure 5)",
            f"c = {f['c']:.3g} (every c in {f['c_low']:.3g}-{f['c_high']:.3g} misclassifies {f['misclassified']} of "
            f"{f['cells']} cells)",
        ),
        (
            "near criticality deep networks train",
            "arbitrarily deep, given time",
            ", ".join(
                f"depth {c['depth']}: {100 * c['train_accuracy']:.0f}%"
                for c in x["cells"]
                if abs(c["sigma_w2"] - min(x["xi_c"], key=lambda s: -x["xi_c"][s])) < 1e-12
            )
            + f" at sigma_w^2 = {min(x['xi_c'], key=lambda s: -x['xi_c'][s]):g}",
        ),
    ]
    return "Schoenholz, Gilmer, Ganguli & Sohl-Dickstein 2017: trainability and the depth scale xi_c", figs, comparison


# ----------------------------------------------------------------------------- saxe-2014
def saxe(rep) -> tuple[str, list, list]:
    steps = rep.extra["config"]["steps"]
    fig, ax = figure(2, width=5, height=3.8)
    a = ax[0, 0]
    for k, w in enumerate(("orthogonal", "gaussian")):
        colour = plots.COLOURS[k]
        mine = [r for r in rep.rows if r["weights"] == w]
        d = np.array([r["depth"] for r in mine], dtype=float)
        t = np.array([r["learning_time"] if r["learning_time"] is not None else np.nan for r in mine], dtype=float)
        jitter = 1 + 0.04 * (np.array([r["seed"] for r in mine]) - 1)
        a.plot(d * jitter, t, "o", color=colour, alpha=0.5, ms=4)
        never = np.isnan(t)
        a.plot(d[never] * jitter[never], np.full(never.sum(), steps * 1.08), "^", color=colour, mfc="none", ms=6)
        s = [x for x in rep.extra["summary"] if x["weights"] == w]
        med = [x["median_learning_time"] if x["median_learning_time"] is not None else np.nan for x in s]
        a.plot([x["depth"] for x in s], med, "-", color=colour, lw=2, label=f"{w} (median)")
    a.axhline(steps, color="0.6", lw=0.8, ls=":")
    a.set_xscale("log", base=2)
    a.set_xlabel("depth (weight layers)")
    a.set_ylabel("steps to the criterion")
    a.set_title("learning time; open triangles: not reached", fontsize=10)
    a.legend(frameon=False, fontsize=8)
    a.grid(alpha=0.3)
    b = ax[0, 1]
    deepest = max(r["depth"] for r in rep.rows)
    for k, w in enumerate(("orthogonal", "gaussian")):
        for r in rep.rows:
            if r["weights"] == w and r["depth"] == deepest:
                c = np.array(r["costs"], dtype=float)
                b.plot(
                    c[:, 0],
                    c[:, 1],
                    color=plots.COLOURS[k],
                    lw=1.5,
                    label=w if r["seed"] == rep.rows[0]["seed"] else None,
                )
    b.axhline(rep.extra["config"]["criterion"], color="0.4", ls="--", lw=1, label="criterion")
    b.set_yscale("log")
    b.set_xlabel("step")
    b.set_ylabel("training cost (squared error)")
    b.set_title(f"cost at depth {deepest}, each seed at its best rate", fontsize=10)
    b.legend(frameon=False, fontsize=8)
    b.grid(alpha=0.3)
    figs = [
        (
            "Learning time against depth, deep linear networks (Saxe et al. 2014)",
            "Steps until the training cost first reaches the criterion, each network at the fastest learning rate "
            "of the grid; points: seeds, lines: medians. Right: the cost curves at the deepest depth.",
            png(fig),
        )
    ]
    comparison = []
    for w, pub in (("orthogonal", "depth-independent"), ("gaussian", "grows with depth")):
        s = [x for x in rep.extra["summary"] if x["weights"] == w]
        comparison.append(
            (
                f"{w} learning time",
                pub,
                ", ".join(
                    f"L={x['depth']}: "
                    + (f">{steps}" if x["median_learning_time"] is None else f"{x['median_learning_time']:.0f}")
                    for x in s
                ),
            )
        )
    return "Saxe, McClelland & Ganguli 2014: learning time of deep linear networks", figs, comparison


# --------------------------------------------------------------------------- glorot-2010
def glorot(rep) -> tuple[str, list, list]:
    sat = [r for r in rep.rows if r["part"] == "saturation"]
    jac = [r for r in rep.rows if r["part"] == "jacobian"]
    inits = list(dict.fromkeys(r["init"] for r in sat))
    fig, ax = figure(len(inits), width=4.6, height=3.6)
    for a, init in zip(ax[0], inits, strict=True):
        for r in (r for r in sat if r["init"] == init):
            m = np.array(r["mean_activation"])
            its = np.array(r["iterations"])[: m.shape[0]]
            for l in range(m.shape[1]):
                a.plot(
                    its,
                    m[:, l],
                    color=plots.COLOURS[l % len(plots.COLOURS)],
                    lw=1.4,
                    label=f"layer {l + 1}" if r is sat[0] or r["seed"] == sat[0]["seed"] else None,
                )
        a.set_ylim(0, 1)
        a.set_xlabel("step")
        a.set_title(init, fontsize=10)
        a.grid(alpha=0.3)
    ax[0, 0].set_ylabel("mean sigmoid activation")
    ax[0, 0].legend(frameon=False, fontsize=8)
    figs = [
        (
            "Mean activation of each hidden layer during training (Glorot & Bengio 2010, Figure 2, redrawn)",
            "Sigmoid units; one line per hidden layer and seed. In the paper the top hidden layer (layer 4 of 4 "
            "here) falls to 0 (saturation) early under the standard init and stays there.",
            png(fig),
        )
    ]
    fig, ax = figure(1, width=6, height=3.4)
    a = ax[0, 0]
    x = np.arange(len(jac))
    a.bar(x - 0.18, [r["mean_singular_value"] for r in jac], 0.36, color=plots.COLOURS[0], label="measured")
    a.bar(x + 0.18, [r["published"] or 0 for r in jac], 0.36, color=plots.COLOURS[1], label="published")
    a.set_xticks(x, [r["init"] for r in jac])
    a.set_ylabel("mean singular value of J")
    a.set_ylim(0, 1)
    a.legend(frameon=False)
    a.grid(alpha=0.3, axis="y")
    figs.append(
        (
            "Layer-to-layer Jacobian singular values at initialization (sec. 4.2.2)",
            "Mean singular value of J = d a[l] / d a[l-1] (tanh, square hidden layers), measured with "
            "initlab.jacobian_spectrum beside the paper's 0.5 (standard) and 0.8 (normalized).",
            png(fig),
        )
    )
    comparison = [
        (
            f"{r['init']}: mean singular value of the layer Jacobian",
            _fmt(r["published"], "g"),
            f"{r['mean_singular_value']:.3f}",
        )
        for r in jac
    ]
    for init in inits:
        mine = [r for r in sat if r["init"] == init]
        comparison.append(
            (
                f"{init}: top hidden layer's mean activation, init -> early -> end",
                "toward 0 early, stuck there a long time (Figure 2)"
                if init == inits[0]
                else "not in Figure 2 (the standard init only); the normalized init trains better (sec. 4)",
                "; ".join(
                    f"seed {r['seed']}: {r['top_mean_activation_init']:.2f} -> {r['top_mean_activation_early']:.2f} -> "
                    f"{r['top_mean_activation_end']:.2f}"
                    for r in mine
                ),
            )
        )
    return "Glorot & Bengio 2010: saturation and the normalized initialization", figs, comparison


# ------------------------------------------------------------------------------ he-2015
def he(rep) -> tuple[str, list, list]:
    fig, ax = figure(1, width=7.5, height=4)
    a = ax[0, 0]
    for k, (init, runs) in enumerate(rep.extra["costs"].items()):
        for j, costs in enumerate(runs):
            c = np.array(costs, dtype=float)
            a.plot(c[:, 0], c[:, 1], color=plots.COLOURS[k], lw=1.6, label=init if j == 0 else None)
    a.set_xlabel("step")
    a.set_ylabel("training cost")
    a.legend(frameon=False)
    a.grid(alpha=0.3)
    a.set_title(f"{rep.extra['config']['depth']}-layer ReLU MLP, one line per seed", fontsize=10)
    figs = [
        (
            "He against Xavier on a deep ReLU network (He et al. 2015, Figure 3, redrawn)",
            "Training cost per step. In the paper's 30-layer network Xavier (std sqrt(1/n)) does not learn; "
            "He (std sqrt(2/n)) converges.",
            png(fig),
        )
    ]
    comparison = []
    for init, pub in (("he", "converges"), ("xavier", "stalls: does not learn")):
        mine = [r for r in rep.rows if r["init"] == init]
        comparison.append(
            (
                f"{init} on {rep.extra['config']['depth']} ReLU layers",
                pub,
                "; ".join(
                    f"seed {r['seed']}: {r['verdict']} ({100 * r['train_accuracy']:.0f}%, "
                    f"signal L/1 {r['signal_ratio']:.2g})"
                    for r in mine
                ),
            )
        )
    return "He, Zhang, Ren & Sun 2015: a 30-layer ReLU network", figs, comparison


PAGES = {
    "pennington-2017": pennington,
    "schoenholz-2017": schoenholz,
    "saxe-2014": saxe,
    "glorot-2010": glorot,
    "he-2015": he,
}


def write_paper_report(rep, out_dir: str | Path) -> dict[str, Path]:
    """``report.html`` (the paper's figure redrawn, its claims beside the measurement) and
    ``results.json`` (the reproduction's `to_dict`) in ``out_dir``."""
    if rep.name not in PAGES:
        raise InitlabError(f"{rep.name} has no report: --report is for {', '.join(PAGES)}")
    title, figs, comparison = PAGES[rep.name](rep)
    claims = rep.extra.get("claims") or _claims(rep.name)
    page = render_page(
        TEMPLATE, name=rep.name, title=title, figs=figs, comparison=comparison, claims=claims, notes=rep.notes
    )
    return write_page(out_dir, page, rep.to_dict())


def _claims(name: str) -> dict:
    from initlab.experiments import reproduce

    return {"pennington-2017": reproduce.PENNINGTON_CLAIMS}.get(name, {})
