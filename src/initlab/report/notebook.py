"""Results as notebooks show them: ``_repr_html_`` builders, a small table each (and a small plot
where a person would rather look: a cost curve).

The builders live here, beside the report's HTML, so that the result classes stay free of
markup; `install` attaches them to the classes that lack one. ``History`` is
`initlab.nn.network`'s: ``History._repr_html_ = history_html`` attaches it for good.
"""

from __future__ import annotations

import html as _html

import numpy as np

STYLE = (
    "<style>table.initlab-nb{border-collapse:collapse;font-size:12px}"
    "table.initlab-nb td,table.initlab-nb th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:right}"
    "table.initlab-nb td:first-child,table.initlab-nb th:first-child{text-align:left}</style>"
)


def _table(head: list[str], rows: list[list[object]], caption: str = "") -> str:
    esc = _html.escape
    cap = f"<caption style='text-align:left;font-weight:600'>{esc(caption)}</caption>" if caption else ""
    body = "".join("<tr>" + "".join(f"<td>{esc(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return (
        f"{STYLE}<div style='overflow-x:auto'><table class='initlab-nb'>{cap}<tr>"
        + "".join(f"<th>{esc(h)}</th>" for h in head)
        + f"</tr>{body}</table></div>"
    )


def _pct(v) -> str:
    return "-" if v is None else f"{100 * float(v):.1f}%"


def symmetry_html(report) -> str:
    """`SymmetryReport`: one row per hidden layer (and network): distinct units of the width, groups."""
    reports = [report] if report.ensemble is None else [report.member(k) for k in range(report.ensemble)]
    rows = []
    for k, r in enumerate(reports):
        for s in r.layers:
            shared = [g for g in s.groups if len(g) > 1]
            rows.append(
                ([k] if report.ensemble is not None else [])
                + [
                    s.layer,
                    f"{s.effective_width} of {s.width}",
                    "; ".join(str([u + 1 for u in g]) for g in shared) or "-",
                ]
            )
    head = (["network"] if report.ensemble is not None else []) + ["layer", "distinct units", "identical units"]
    return _table(head, rows, "symmetry")


def saturation_html(report) -> str:
    """`SaturationReport`: one row per layer (and network): activation, saturated and dead fractions."""
    reports = [report] if report.ensemble is None else [report.member(k) for k in range(report.ensemble)]
    rows = []
    for k, r in enumerate(reports):
        for s in r.layers:
            rows.append(
                ([k] if report.ensemble is not None else [])
                + [
                    getattr(s, "layer", ""),
                    getattr(s, "activation", ""),
                    _pct(s.saturated_fraction),
                    _pct(s.dead_fraction),
                ]
            )
    head = (["network"] if report.ensemble is not None else []) + ["layer", "activation", "saturated", "dead"]
    return _table(head, rows, f"saturation (g'(z) below {report.threshold} of its maximum)")


def compare_html(result) -> str:
    """`CompareResult`: the compare table (means over seeds), then the unit tiles when 2-D."""
    rows = []
    for row in result.summary():
        rows.append(
            [
                row["init"],
                f"{_pct(row['train_accuracy_mean'])} ± {100 * row['train_accuracy_std']:.1f}",
                f"{_pct(row['test_accuracy_mean'])} ± {100 * row['test_accuracy_std']:.1f}",
                f"{row['final_cost_mean']:.4f}",
                ", ".join(f"{e:g}" for e in row["effective_width_mean"]),
                f"{sum(row['symmetric_every_step'])} of {row['runs']}",
            ]
        )
    head = ["init", "train acc", "test acc", "final cost", "effective width", "symmetric every step"]
    out = _table(head, rows, f"compare: {result.config.data}, layers {'-'.join(map(str, result.config.layers))}")
    if getattr(result, "tiles_end", None) is not None:
        from initlab.report.html import tiles_panels

        out += (
            "<div style='display:flex;flex-wrap:wrap;gap:12px'>"
            + "".join(f"<div>{t}</div>" for t in tiles_panels(result))
            + "</div>"
        )
    return out


def history_html(history) -> str:
    """`History`: the final cost per network and a small cost curve (an SVG polyline, log axis)."""
    costs = np.asarray(history.costs, dtype=float)
    its = np.asarray(history.iterations, dtype=float)
    if costs.ndim == 1:
        costs = costs[:, None]
    finals = costs[-1]
    colours = ["#D55E00", "#0072B2", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]
    W, H = 320, 120
    svg = ""
    good = costs[np.isfinite(costs) & (costs > 0)]
    if len(its) > 1 and good.size:
        lo, hi = np.log10(good.min()), np.log10(good.max())
        hi = hi if hi > lo else lo + 1
        lines = []
        for k in range(costs.shape[1]):
            c = costs[:, k]
            ok = np.isfinite(c) & (c > 0)
            x = (its[ok] - its[0]) / max(1e-12, its[-1] - its[0]) * (W - 40) + 35
            y = H - 15 - (np.log10(c[ok]) - lo) / (hi - lo) * (H - 25)
            pts = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(x, y, strict=True))
            lines.append(f"<polyline fill='none' stroke='{colours[k % 8]}' stroke-width='1.5' points='{pts}'/>")
        svg = (
            f"<svg width='{W}' height='{H}' role='img' aria-label='cost per iteration, log scale'>"
            f"<text x='0' y='12' font-size='10'>{10**hi:.3g}</text><text x='0' y='{H - 15}' font-size='10'>"
            f"{10**lo:.3g}</text><text x='{W - 60}' y='{H - 2}' font-size='10'>iteration {int(its[-1])}</text>"
            + "".join(lines)
            + "</svg>"
        )
    rows = [[k if costs.shape[1] > 1 else "", f"{f:.4g}"] for k, f in enumerate(finals)]
    return _table(["network", "final cost"], rows, f"History: {len(its)} records") + svg


def install() -> None:
    """Attach the builders to the result classes that have no ``_repr_html_`` of their own."""
    from initlab.diagnose.saturation import SaturationReport
    from initlab.diagnose.symmetry import SymmetryReport
    from initlab.experiments.compare import CompareResult
    from initlab.nn.network import History

    for cls, fn in (
        (SymmetryReport, symmetry_html),
        (SaturationReport, saturation_html),
        (CompareResult, compare_html),
        (History, history_html),
    ):
        if "_repr_html_" not in cls.__dict__:
            cls._repr_html_ = fn
