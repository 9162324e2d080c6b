"""A sweep's report, read from its store: tables per group and the three pictures of a grid.

- accuracy and final cost against scale, one line per init that takes a scale (``random``,
  ``variance_scaling``), mean over seeds with its standard error; inits without a scale (he,
  xavier, zeros, ...) are horizontal lines at their mean;
- effective width against iteration per init (mean over seeds and hidden layers, as a fraction
  of the layer's width), where the sweep tracked symmetry.

A group is one architecture on one data set: (sweep, data, layers, hidden, lr, iterations).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from initlab.errors import InitlabError
from initlab.report.html import figure, png, render_page, write_page
from initlab.report.plots import COLOURS

GROUP = ["sweep", "data", "layers", "hidden", "lr", "iterations"]


def sweep_tables(store, sweep: str | None = None) -> list[dict]:
    """Per group, per init: runs, accuracy (mean, sd), final cost, effective width, symmetric,
    saturated and failed counts."""
    where = "" if sweep is None else "WHERE sweep = $sweep"
    import duckdb

    try:
        df = store.frame(
            f"""
                SELECT sweep, data, layers, hidden, lr, iterations, init, init_name, scale,
                       count(*) FILTER (status = 'done') AS runs,
                       count(*) FILTER (status = 'failed') AS failed,
                       avg(train_accuracy) AS train_mean, stddev_pop(train_accuracy) AS train_sd,
                       avg(test_accuracy) AS test_mean, stddev_pop(test_accuracy) AS test_sd,
                       avg(final_cost) AS cost_mean,
                       avg(list_avg(effective_width)) AS width_mean,
                       avg(symmetric_end::INTEGER) AS symmetric,
                       avg(saturated_fraction) AS saturated, avg(dead_fraction) AS dead
                FROM runs {where}
                GROUP BY ALL ORDER BY sweep, data, layers, hidden, lr, iterations, init_name, scale
            """,
            _params(sweep),
        )
    except duckdb.CatalogException:
        raise InitlabError(f"store {str(store.path)!r} holds no runs table: run a sweep first") from None
    if df.empty:
        raise InitlabError(f"store {str(store.path)!r} has no runs" + (f" of sweep {sweep!r}" if sweep else ""))
    groups = []
    for key, g in df.groupby(GROUP, sort=False):
        groups.append(
            {
                **dict(zip(GROUP, key, strict=True)),
                "rows": g.drop(columns=GROUP).replace({np.nan: None}).to_dict("records"),
            }
        )
    return groups


def _params(sweep: str | None) -> dict | None:
    """The ``$sweep`` filter's parameter, when a sweep is named."""
    return {"sweep": sweep} if sweep else None


def _seed_stats(store, sweep: str | None):
    """One row per done run: its group, init, scale, train accuracy and final cost."""
    where = "AND sweep = $sweep" if sweep else ""
    return store.frame(
        f"SELECT {', '.join(GROUP)}, init, init_name, scale, train_accuracy, "
        f"final_cost FROM runs WHERE status = 'done' {where}",
        _params(sweep),
    )


def _curves(store, sweep: str | None):
    """Per group, init and iteration: effective width over width, mean over hidden layers and seeds."""
    where = "AND r.sweep = $sweep" if sweep else ""
    df = store.frame(
        f"""
        SELECT {", ".join("r." + g for g in GROUP)}, r.init, c.iteration,
               list_avg(c.effective_width) AS distinct_units
        FROM curves c JOIN runs r ON c.run = r.id
        WHERE r.status = 'done' AND c.effective_width IS NOT NULL {where}
    """,
        _params(sweep),
    )
    hidden_width = df["layers"].map(lambda s: float(np.mean([int(n) for n in s.split(",")[1:-1]])))
    df["width"] = df["distinct_units"] / hidden_width
    return df.groupby([*GROUP, "init", "iteration"], as_index=False)["width"].mean()


def _mean_se(v: np.ndarray) -> tuple[float, float]:
    v = v[np.isfinite(v)]
    if not len(v):
        return np.nan, np.nan
    return float(v.mean()), float(v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else 0.0


def sweep_figures(store, sweep: str | None = None) -> list[dict]:
    """One figure per group: accuracy and cost against scale, effective width over iterations."""
    runs = _seed_stats(store, sweep)
    curves = _curves(store, sweep)
    figs = []
    for key, g in runs.groupby(GROUP, sort=False):
        has_curves = not curves.empty
        if has_curves:
            cg = curves[(curves[GROUP] == list(key)).all(axis=1)]
            has_curves = not cg.empty
        fig, axes = figure(3 if has_curves else 2)
        axes = axes[0]
        inits = list(dict.fromkeys(g["init"]))
        families = list(dict.fromkeys(g["init_name"]))
        colour = {f: COLOURS[i % len(COLOURS)] for i, f in enumerate(families)}
        scales = g["scale"].dropna()
        for ax, col, label in ((axes[0], "train_accuracy", "train accuracy"), (axes[1], "final_cost", "final cost")):
            for fam in families:
                fg = g[g["init_name"] == fam]
                if fg["scale"].notna().all() and fg["scale"].nunique() > 1:
                    xs = sorted(fg["scale"].unique())
                    stats = [_mean_se(fg[fg["scale"] == x][col].to_numpy(float)) for x in xs]
                    ax.errorbar(
                        xs,
                        [s[0] for s in stats],
                        yerr=[s[1] for s in stats],
                        marker="o",
                        color=colour[fam],
                        label=fam,
                        capsize=3,
                    )
                else:
                    for init in dict.fromkeys(fg["init"]):
                        m, _ = _mean_se(fg[fg["init"] == init][col].to_numpy(float))
                        ax.axhline(m, color=colour[fam], ls="--", lw=1.2, label=init)
            if len(scales) and scales.min() > 0:
                ax.set_xscale("log")
            if col == "final_cost" and (g[col] > 0).all():
                ax.set_yscale("log")
            ax.set_xlabel("scale (SCALE of random / variance_scaling)")
            ax.set_ylabel(label)
            ax.set_title(f"{label} against scale")
        axes[0].legend(fontsize=7)
        if has_curves:
            ax = axes[2]
            family_of = dict(zip(g["init"], g["init_name"], strict=True))
            styles = ["-", "--", ":", "-."]
            for init in inits:
                ig = cg[cg["init"] == init]
                fam = family_of[init]
                nth = [i for i in inits if family_of[i] == fam].index(init)
                if len(ig):
                    ax.plot(ig["iteration"], ig["width"], color=colour[fam], ls=styles[nth % 4], label=init)
            ax.set_ylim(0, 1.05)
            ax.set_xlabel("iteration")
            ax.set_ylabel("effective width / width")
            ax.set_title("distinct hidden units")
            ax.legend(fontsize=7)
        k = dict(zip(GROUP, key, strict=True))
        figs.append(
            {
                "title": f"{k['sweep']}: {k['data']} {k['layers']} {k['hidden']}, lr {k['lr']:g}, "
                f"{k['iterations']} iterations",
                "png": png(fig),
            }
        )
    return figs


def write_sweep_report(store, out_dir: str | Path, sweep: str | None = None) -> dict[str, Path]:
    """``report.html`` (tables and figures) and ``results.json`` (the tables) in ``out_dir``."""
    tables = sweep_tables(store, sweep)
    figs = sweep_figures(store, sweep)
    summary = store.summary()
    page = render_page(
        SWEEP_TEMPLATE,
        tables=tables,
        figs=figs,
        store=str(store.path),
        summary=summary,
        pct=lambda v: "-" if v is None else f"{100 * v:.1f}%",
        num=lambda v: "-" if v is None else f"{v:.4g}",
    )
    return write_page(out_dir, page, {"store": str(store.path), "sweeps": summary, "groups": tables})


SWEEP_TEMPLATE = """{% extends "page.html" %}
{% block title %}initlab sweep report{% endblock %}
{% block body %}
<h1>Sweep report</h1>
<p class="note">Store {{ store }}.
{% for s in summary %}Sweep <b>{{ s.sweep }}</b>: {{ s.done }} runs done, {{ s.failed }} failed,
{{ "{:,}".format(s.net_iterations) }} network-iterations in {{ "%.1f"|format(s.train_seconds) }} s of training.
{% endfor %}</p>
{% for t in tables %}
<h2>{{ t.sweep }}: {{ t.data }}, layers {{ t.layers }}, hidden {{ t.hidden }}, lr {{ t.lr }},
{{ t.iterations }} iterations</h2>
<div class="scroll"><table>
<tr><th>init</th><th>runs</th><th>failed</th><th>train acc</th><th>test acc</th><th>final cost</th>
<th>eff. width (mean over layers)</th><th>symmetric at end</th><th>saturated</th><th>dead</th></tr>
{% for r in t.rows %}
<tr><td>{{ r.init }}</td><td>{{ r.runs }}</td><td>{{ r.failed }}</td>
<td>{{ pct(r.train_mean) }} &plusmn; {{ pct(r.train_sd) }}</td>
<td>{{ pct(r.test_mean) }} &plusmn; {{ pct(r.test_sd) }}</td>
<td>{{ num(r.cost_mean) }}</td><td>{{ num(r.width_mean) }}</td><td>{{ pct(r.symmetric) }}</td>
<td>{{ pct(r.saturated) }}</td><td>{{ pct(r.dead) }}</td></tr>
{% endfor %}
</table></div>
{% endfor %}
<p class="note">Accuracy: mean &plusmn; standard deviation over seeds. Effective width: distinct
hidden units at the end, averaged over hidden layers and seeds. Symmetric at end: share of runs
in which some hidden layer still has identical units. Saturated / dead: mean over hidden layers
at the end of training ("-" where the activation cannot saturate or die).</p>
{% for fig in figs %}
<h2>{{ fig.title }}</h2>
<p class="note">Left and middle: mean over seeds with its standard error; dashed lines are inits
without a scale. Right: distinct hidden units as a fraction of the width, mean over seeds.</p>
<img alt="{{ fig.title }}" src="data:image/png;base64,{{ fig.png }}">
{% endfor %}
{% endblock %}
"""
