"""Self-contained HTML pages: plots embedded as PNG data, no external URL, readable on a phone
(a fluid layout, tables that scroll sideways). One shell (`PAGE`) and one writer (`write_page`)
serve every report: the comparison here, `initlab deep`'s and `initlab audit`'s."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np

from initlab.report import plots
from initlab.report.strict_json import to_json

TEMPLATE = """{% extends "page.html" %}
{% block title %}initlab compare: {{ config.data }} {{ layers }}{% endblock %}
{% block body %}
<h1>Initializations compared on {{ config.data }}</h1>
<p class="note">Network {{ layers }}, hidden {{ config.hidden }}, learning rate {{ config.lr }},
{{ config.iterations }} iterations of full-batch gradient descent, seeds {{ config.seeds|join(", ") }}.
Data: {{ data.description }} ({{ data.m_train }} train, {{ data.m_test }} test).
Every number below is measured on these runs. Configuration hash {{ hash }}.</p>

<h2>Results</h2>
<div class="scroll"><table>
<tr><th>init</th><th>train acc</th><th>test acc</th><th>final cost</th>
{% for w in widths %}<th>eff. width L{{ loop.index }}</th>{% endfor %}
<th>saturated at init</th><th>saturated at end</th><th>dead at init</th><th>symmetric every step</th></tr>
{% for row in summary %}
<tr><td><span class="swatch" style="background: {{ colours[loop.index0] }}"></span>{{ row.init }}</td>
<td>{{ pct(row.train_accuracy_mean) }} &plusmn; {{ pct(row.train_accuracy_std) }}</td>
<td>{{ pct(row.test_accuracy_mean) }} &plusmn; {{ pct(row.test_accuracy_std) }}</td>
<td>{{ "%.4f"|format(row.final_cost_mean) }}</td>
{% for e in row.effective_width_mean %}<td>{{ "%g"|format(e) }} / {{ widths[loop.index0] }}</td>{% endfor %}
<td>{{ fracs(row.saturated_fraction_init) }}</td><td>{{ fracs(row.saturated_fraction_end) }}</td>
<td>{{ fracs(row.dead_fraction_init) }}</td>
<td>{{ row.symmetric_every_step|select|list|length }} of {{ row.runs }}</td></tr>
{% endfor %}
</table></div>
<p class="note">Accuracy: mean &plusmn; standard deviation over seeds. Effective width: distinct
hidden units at the end (mean over seeds). Saturated: fraction of (unit, example) pairs of
sigmoid/tanh layers whose g'(z) is below {{ threshold }} of its maximum, per layer ("-" for
layers that cannot saturate). Dead: fraction of ReLU units with z &le; 0 on every example.</p>

{% if course_table %}
<h2>The course's table: zero versus random initialization, measured</h2>
<div class="scroll"><table>
<tr><th></th><th>zero ({{ course_table.zero.init }})</th><th>random ({{ course_table.random.init }})</th></tr>
{% for key, label in course_rows %}
<tr><td>{{ label }}</td><td class="text">{{ course_table.zero[key] }}</td>
<td class="text">{{ course_table.random[key] }}</td></tr>
{% endfor %}
</table></div>
{% endif %}

{% for fig in figures %}
<h2>{{ fig.title }}</h2>
<p class="note">{{ fig.caption }}</p>
<img alt="{{ fig.title }}" src="data:image/png;base64,{{ fig.png }}">
{% endfor %}
{% endblock %}
"""

#: The shell every initlab page shares: one stylesheet, readable on a phone, no external URL.
PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{% block title %}{% endblock %}</title>
<style>
 body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; padding: 1rem;
        max-width: 72rem; color: #222; line-height: 1.45; }
 h1 { font-size: 1.4rem; } h2 { font-size: 1.15rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
 .scroll { overflow-x: auto; }
 table { border-collapse: collapse; font-size: 0.9rem; }
 th, td { padding: 0.3rem 0.5rem; border-bottom: 1px solid #eee; text-align: right; white-space: nowrap; }
 th { white-space: normal; vertical-align: bottom; }
 th:first-child, td:first-child { text-align: left; }
 td.text { text-align: left; white-space: normal; min-width: 14rem; }
 @media (max-width: 600px) { td.text { min-width: 9rem; } body { padding: 0.6rem; } }
 img { max-width: 100%; height: auto; display: block; margin: 0.5rem 0; }
 .note { color: #555; font-size: 0.9rem; }
 .swatch { display: inline-block; width: 0.8rem; height: 0.8rem; border-radius: 2px; margin-right: 0.3rem; }
 td.label { text-align: left; }
 li.error { color: #b00; } li.warning { color: #a60; }
</style>
</head>
<body>
{% block body %}{% endblock %}
</body>
</html>
"""


def render_page(template: str, **context) -> str:
    """Render a page template that extends ``page.html`` (the shared shell)."""
    from jinja2 import DictLoader, Environment

    env = Environment(loader=DictLoader({"page.html": PAGE, "this.html": template}), autoescape=True)
    return env.get_template("this.html").render(**context)


def write_page(out_dir: str | Path, html: str, results: dict) -> dict[str, Path]:
    """Write ``report.html`` and ``results.json`` into ``out_dir`` (created if missing)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.html").write_text(html, encoding="utf-8")
    (out / "results.json").write_text(to_json(results, indent=1), encoding="utf-8")
    return {"html": out / "report.html", "json": out / "results.json"}


COURSE_ROWS = [
    ("symmetry", "Symmetry"),
    ("learning", "Learning"),
    ("gradients", "Gradients"),
    ("effective_units", "Effective units"),
    ("feature_diversity", "Feature diversity"),
]


def png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def figure(ncols: int, nrows: int = 1, width: float = 4.2, height: float = 3.4):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def figures(result) -> list[dict]:
    """The report's pictures, each ``{"title", "caption", "png"}`` (base64)."""
    cfg, ds = result.config, result.dataset
    inits = list(cfg.inits)
    out = []

    fig, ax = figure(1, width=7.5, height=4)
    its = np.array(result.runs[0].iterations)
    curves = {i: [np.array(result.runs[k].costs) for k in result.of(i)] for i in inits}
    plots.cost_curves(ax[0, 0], curves, its)
    out.append(
        {
            "title": "Cost curves",
            "png": png(fig),
            "caption": "Training cost per iteration: bold the mean over seeds, thin each seed.",
        }
    )

    if ds.n_x == 2:
        fig, ax = figure(len(inits))
        for c, init in enumerate(inits):
            member = result.net.member(result.member(init))
            plots.decision_boundary(
                ax[0, c], lambda x, m=member: m.predict(x.T)[0], ds.X_train, ds.Y_train, h=None, pad=0.5
            )
            ax[0, c].set_title(init, color=plots.COLOURS[c % len(plots.COLOURS)])
        out.append(
            {
                "title": "Decision boundaries",
                "png": png(fig),
                "caption": f"After training, seed {cfg.seeds[0]}, on the training data.",
            }
        )

    fig, ax = figure(len(inits))
    for c, init in enumerate(inits):
        curves = result.runs[result.member(init)].curves
        plots.unit_weights(ax[0, c], curves["iteration"], [w["W1"] for w in curves["weights"]], title=init)
    out.append(
        {
            "title": "Each hidden unit's weights over iterations",
            "png": png(fig),
            "caption": f"Layer 1, seed {cfg.seeds[0]}: one colour per unit, one line style per "
            "input. Under a symmetric initialization all units' lines lie on top of "
            "each other; a random one separates them from the start.",
        }
    )

    hidden = len(cfg.layers) - 2
    fig, ax = figure(len(inits), hidden, width=3.6, height=2.4)
    for c, init in enumerate(inits):
        k = result.member(init)
        for l in range(hidden):
            A = result.init_cache[l + 1][0][k]
            plots.histogram(
                ax[l, c], A, colour=plots.COLOURS[c % len(plots.COLOURS)], title=f"{init}: layer {l + 1} activations"
            )
    out.append(
        {
            "title": "Activation histograms at initialization",
            "png": png(fig),
            "caption": "Per hidden layer, the distribution of A[l] over all units and training "
            "examples before training.",
        }
    )

    fig, ax = figure(len(inits))
    act = result.net.activations[0]
    for c, init in enumerate(inits):
        k = result.member(init)
        Z = result.init_cache[0][1][k]
        plots.activation_curve(ax[0, c], act.fn, Z, name=act.name, colour=plots.COLOURS[c % len(plots.COLOURS)])
        ax[0, c].set_title(f"{init}: layer 1 z values", fontsize=10)
    out.append(
        {
            "title": "Where the z values fall on the activation",
            "png": png(fig),
            "caption": f"The hidden activation {act.name}(z) and a histogram of layer 1's "
            "pre-activations at initialization: on the flat parts of sigmoid/tanh "
            "a unit is saturated; below 0, a ReLU passes nothing back.",
        }
    )
    return out


def render(result, *, course_table: bool = False) -> str:
    """The report as one HTML string."""
    from initlab.diagnose import SATURATION_THRESHOLD

    def pct(v: float) -> str:
        return f"{100 * v:.1f}%"

    def fracs(vs: list) -> str:
        return ", ".join("-" if v is None else f"{v:.2f}" for v in vs)

    cfg = result.config
    return render_page(
        TEMPLATE,
        config=cfg,
        layers="-".join(map(str, cfg.layers)),
        data=result.dataset.summary(),
        hash=cfg.hash(),
        summary=result.summary(),
        widths=list(cfg.layers[1:-1]),
        colours=plots.COLOURS,
        pct=pct,
        fracs=fracs,
        threshold=SATURATION_THRESHOLD,
        course_table=result.course_table() if course_table else None,
        course_rows=COURSE_ROWS,
        figures=figures(result),
    )


def write_report(result, out_dir: str | Path, *, course_table: bool = False) -> dict[str, Path]:
    """Write ``report.html`` and ``results.json`` into ``out_dir`` (created if missing)."""
    return write_page(out_dir, render(result, course_table=course_table), result.to_dict(course_table=course_table))
