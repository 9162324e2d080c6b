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

{% if tiles %}
<h2>Every hidden unit, at initialization and at the end</h2>
<p class="note">Each tile is one hidden unit's activation over the input plane (seed {{ config.seeds[0] }}; dark
low, bright high, on its layer's range). Units boxed together are one symmetry group: they compute the
same function and get the same gradient, so they stay together. Under zeros or constant:C every tile of a
layer is the same picture; under a random init they differ, and move apart as training goes.</p>
<div class="panels tiles">{% for t in tiles %}<div class="tiles-init">{{ t|safe }}</div>{% endfor %}</div>
{% endif %}

{% for fig in figures %}
<h2>{{ fig.title }}</h2>
<p class="note">{{ fig.caption }}</p>
{% if fig.panels %}<div class="panels">{% for p in fig.panels %}<figure><img alt="{{ fig.title }}: {{ p.label }}"
src="data:image/png;base64,{{ p.png }}"></figure>{% endfor %}</div>
{% else %}<img alt="{{ fig.title }}" src="data:image/png;base64,{{ fig.png }}">{% endif %}
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
 .panels { display: flex; flex-wrap: wrap; gap: 0.5rem 1rem; align-items: flex-start; }
 .panels figure { margin: 0; flex: 1 1 280px; max-width: 26rem; }
 .panels.tiles > div { flex: 0 1 auto; }
 @media (max-width: 600px) { .panels figure { flex-basis: 100%; max-width: 100%; } }
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
    """The figure as base64 PNG. A figure laid out by matplotlib's constrained layout (every one
    `figure` makes) is saved as laid out: ``bbox_inches="tight"`` on top drew each figure twice
    (measured on the compare report's 13 figures, one process: 5.5-5.8 s -> 4.0-5.5 s)."""
    buf = io.BytesIO()
    engine = fig.get_layout_engine()
    tight = None if engine is not None and type(engine).__name__ == "ConstrainedLayoutEngine" else "tight"
    fig.savefig(buf, format="png", dpi=110, bbox_inches=tight)
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

    def panels(draw, width: float = 4.2, height: float = 3.4) -> list[dict]:
        """One PNG per init (``draw(ax, c, init)``): the page lays them side by side, or one
        under another on a phone, instead of one wide picture shrunk to the screen."""
        out = []
        for c, init in enumerate(inits):
            fig, ax = figure(1, width=width, height=height)
            draw(ax[0, 0], c, init)
            out.append({"label": init, "png": png(fig)})
        return out

    if ds.n_x == 2:

        def boundary(ax, c, init):
            member = result.net.member(result.member(init))
            plots.probability_surface(
                ax, lambda P, m=member: plots.class_score(m.forward(P)[0]), ds.X_train, plots.class_score(ds.Y_train)
            )
            ax.set_title(init, color=plots.COLOURS[c % len(plots.COLOURS)])

        out.append(
            {
                "title": "Decision boundaries",
                "panels": panels(boundary),
                "caption": f"After training, seed {cfg.seeds[0]}, on the training data: the colour is the "
                "network's P(class 1) (the predicted class over the classes less one, for more than two), "
                "white at 0.5, the boundary; points coloured by their true class.",
            }
        )

    def weights(ax, c, init):
        curves = result.runs[result.member(init)].curves
        plots.unit_weights(ax, curves["iteration"], [w["W1"] for w in curves["weights"]], title=init)

    out.append(
        {
            "title": "Each hidden unit's weights over iterations",
            "panels": panels(weights),
            "caption": f"Layer 1, seed {cfg.seeds[0]}: one colour per unit (every unit its own), one line "
            "style per input. Under a symmetric initialization all units' lines lie on top of "
            "each other; a random one separates them from the start.",
        }
    )

    hidden = len(cfg.layers) - 2

    def hists(ax, c, init):
        k = result.member(init)
        h = plots.histograms([np.ravel(result.init_cache[l + 1][0][k]) for l in range(hidden)], bins=40)
        for l, share in enumerate(h.shares()):
            ax.stairs(share, h.edges, label=f"layer {l + 1}", fill=l == 0, alpha=0.5 if l == 0 else 1, lw=1.5)
        ax.set_title(f"{init}: activations at init", fontsize=10, color=plots.COLOURS[c % len(plots.COLOURS)])
        ax.set_xlabel("a")
        ax.set_ylabel("share of values")
        ax.legend(frameon=False, fontsize=8)

    out.append(
        {
            "title": "Activation histograms at initialization",
            "panels": panels(hists, height=3.0),
            "caption": "Per hidden layer, the distribution of A[l] over all units and training "
            "examples before training, on bins shared by the layers (heights: share of each layer's values).",
        }
    )

    act = result.net.activations[0]

    def curve(ax, c, init):
        Z = result.init_cache[0][1][result.member(init)]
        plots.activation_curve(ax, act.fn, Z, name=act.name, colour=plots.COLOURS[c % len(plots.COLOURS)])
        ax.set_title(f"{init}: layer 1 z values", fontsize=10)

    out.append(
        {
            "title": "Where the z values fall on the activation",
            "panels": panels(curve, height=3.0),
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
        # a residual network says so: its layers read as a plain MLP's otherwise (trial)
        layers="-".join(map(str, cfg.layers))
        + ("" if result.net is None or result.net.layout is None else f" (residual: {result.net.layout.describe()})"),
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
        tiles=tiles_panels(result),
    )


def tiles_panels(result) -> list[str]:
    """Per init (its first seed), its unit tiles at initialization and at the end, as HTML
    (`initlab.report.tiles.tiles_html`); [] for data that is not 2-D."""
    from initlab.report.tiles import tiles_html

    if result.tiles_init is None or result.tiles_end is None:
        return []
    out = []
    for c, init in enumerate(result.config.inits):
        k, colour = result.member(init), plots.COLOURS[c % len(plots.COLOURS)]
        out.append(
            tiles_html(result.tiles_init.member(k), title=f"{init}: at initialization", colour=colour, note=False)
            + tiles_html(result.tiles_end.member(k), title=f"{init}: at the end", colour=colour, note=False)
        )
    return out


def write_report(result, out_dir: str | Path, *, course_table: bool = False) -> dict[str, Path]:
    """Write ``report.html`` and ``results.json`` into ``out_dir`` (created if missing)."""
    return write_page(out_dir, render(result, course_table=course_table), result.to_dict(course_table=course_table))
