"""The audit's face helpers: a model from ``FILE.py:FACTORY`` (and a checkpoint), a batch from a
shape and dtype or from a ``.pt``/``.npz`` file, and the HTML report. The CLI parses strings and
calls these; no math here.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from initlab.errors import InitlabError
from initlab.userfile import describe, user_code

if TYPE_CHECKING:
    from initlab.torch.audit import AuditReport


def load_model(target: str, *, checkpoint: str | None = None) -> nn.Module:
    """``path/file.py:factory`` -> the module the factory returns (called with no arguments),
    with the state dict in ``checkpoint`` loaded (``torch.load(..., weights_only=True)`` only)."""
    import sys
    from pathlib import Path

    from initlab.userfile import import_file

    path, sep, factory = target.rpartition(":")
    if not sep or not path or not factory:
        raise InitlabError(f"expected FILE.py:FACTORY (e.g. models.py:make_model), got {target!r}")
    # the factory's own folder on sys.path while it is imported and called, as `python file.py`
    # would have it: a models.py that imports its sibling layers.py works
    folder = str(Path(path).resolve().parent)
    added = folder not in sys.path
    if added:
        sys.path.insert(0, folder)
    try:
        module = import_file(path)
        fn = getattr(module, factory, None)
        if fn is None:
            names = [n for n in dir(module) if _is_factory(module, n)]
            raise InitlabError(f"{path} has no {factory!r}; it defines: {', '.join(names) or 'nothing callable'}")
        with user_code(f"{path}:{factory}()"):
            model = fn()
    finally:
        if added and folder in sys.path:
            sys.path.remove(folder)
    if not isinstance(model, nn.Module):
        raise InitlabError(f"{path}:{factory}() returned a {type(model).__name__}, not a torch.nn.Module")
    if checkpoint is not None:
        if Path(checkpoint).is_dir():
            raise InitlabError(
                f"checkpoint {checkpoint} is a folder: give the state dict's file "
                f"(torch.save(model.state_dict(), 'model.pt'))"
            )
        if not Path(checkpoint).is_file():
            raise InitlabError(f"checkpoint {checkpoint} does not exist")
        try:
            state = torch.load(checkpoint, map_location="cpu", weights_only=True)
        except Exception as e:
            import re

            text = re.sub(r"\x1b\[[0-9;]*m", "", str(e)).strip()
            first = text.split(".")[0] if text else type(e).__name__
            raise InitlabError(
                f"checkpoint {checkpoint} cannot be loaded with weights_only=True (it holds "
                f"more than tensors, or is not a PyTorch file): {first}"
            ) from None
        if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
            raise InitlabError(
                f"checkpoint {checkpoint} is not a state dict (a dict of tensors); got a {type(state).__name__}"
            )
        try:
            model.load_state_dict(state)
        except RuntimeError as e:
            lines = [x.strip() for x in str(e).strip().splitlines() if x.strip()]
            detail = "; ".join(lines[1:]) or lines[0]  # the missing and unexpected keys, not only the heading
            if len(detail) > 600:
                detail = detail[:600] + " ..."
            raise InitlabError(f"checkpoint {checkpoint} does not fit the model: {detail}") from None
    return model


DTYPES = {
    "float": torch.float32,
    "float32": torch.float32,
    "float64": torch.float64,
    "double": torch.float64,
    "long": torch.int64,
    "int64": torch.int64,
    "int": torch.int32,
    "int32": torch.int32,
}


def _is_factory(module, name: str) -> bool:
    """A name a user may mean as FILE.py:FACTORY: a function defined in the file, or an
    ``nn.Module`` class defined there (calling it builds the model); not what it imports, not
    its other classes (a dataclass, an Enum, a config)."""
    import inspect

    obj = getattr(module, name, None)
    if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
        return False
    return inspect.isfunction(obj) or (inspect.isclass(obj) and issubclass(obj, nn.Module))


def make_batch(
    model: nn.Module, shape: list[int], *, dtype: str = "float", vocab: int | None = None, seed: int = 0
) -> torch.Tensor:
    """A batch of ``shape`` drawn from ``seed``: Gaussian for a float dtype; for an integer dtype
    (token ids), uniform in ``[0, vocab)``, where ``vocab`` defaults to the model's first
    ``nn.Embedding``'s ``num_embeddings``."""
    if dtype not in DTYPES:
        raise InitlabError(f"--input-dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    if any(n < 1 for n in shape):
        raise InitlabError(f"--input-shape needs positive sizes, got {shape}")
    gen = torch.Generator().manual_seed(seed)
    t = DTYPES[dtype]
    if t.is_floating_point:
        return torch.randn(*shape, generator=gen, dtype=t)
    if vocab is None:
        emb = next((m for m in model.modules() if isinstance(m, nn.Embedding)), None)
        if emb is None:
            raise InitlabError(
                "--input-dtype long draws token ids: give their range with --vocab N "
                "(the model has no nn.Embedding to read it from)"
            )
        vocab = emb.num_embeddings
    if vocab < 1:
        raise InitlabError(f"--vocab must be a positive number of tokens, got {vocab}")
    return torch.randint(0, vocab, tuple(shape), generator=gen, dtype=t)


def load_batch(path: str):
    """A batch from a file: ``.pt`` (``torch.load(..., weights_only=True)``: a tensor, a tuple or
    list of tensors, the forward's positional arguments, or a dict of tensors, its keyword
    arguments) or ``.npz`` (one array: the input; several saved by name, ``np.savez(f,
    input_ids=..., attention_mask=...)``: keyword arguments; ``arr_0, arr_1, ...``: positional)."""
    from pathlib import Path

    p = Path(path)
    if not p.is_file():
        raise InitlabError(f"--input {path} does not exist or is not a file")
    if p.suffix == ".npz":
        import zipfile

        if not zipfile.is_zipfile(p):  # np.load would read it as pickled data and say so
            raise InitlabError(
                f"--input {path} is not a readable .npz file: not a zip archive (np.savez writes one); "
                f"corrupt, truncated, or another format named .npz"
            )
        try:
            with np.load(p, allow_pickle=False) as z:
                arrays = {k: torch.from_numpy(np.array(z[k])) for k in z.files}
        except Exception as e:
            raise InitlabError(f"--input {path} is not a readable .npz file: {describe(e)}") from None
        if not arrays:
            raise InitlabError(f"--input {path} holds no arrays")
        if len(arrays) == 1:
            return next(iter(arrays.values()))
        if all(re.fullmatch(r"arr_\d+", k) for k in arrays):
            return tuple(arrays[f"arr_{i}"] for i in range(len(arrays)))
        return arrays
    if p.suffix in (".pt", ".pth"):
        try:
            obj = torch.load(p, map_location="cpu", weights_only=True)
        except Exception as e:
            first = re.sub(r"\x1b\[[0-9;]*m", "", str(e)).strip().split(".")[0] or type(e).__name__
            raise InitlabError(f"--input {path} cannot be loaded with weights_only=True: {first}") from None
        if torch.is_tensor(obj):
            return obj
        if isinstance(obj, (tuple, list)) and obj and all(torch.is_tensor(t) for t in obj):
            return tuple(obj)
        if isinstance(obj, dict) and obj and all(isinstance(k, str) and torch.is_tensor(v) for k, v in obj.items()):
            return dict(obj)
        raise InitlabError(
            f"--input {path} holds a {type(obj).__name__}: expected a tensor, a list of tensors "
            f"(positional arguments) or a dict of tensors (keyword arguments)"
        )
    raise InitlabError(f"--input {path}: expected a .pt or .npz file")


def html_table(head: list[str], rows: list[list], *, note: str = "") -> str:
    """An HTML fragment for a notebook's ``_repr_html_``: an optional note, then a table in its own
    scrolling box (a long name never widens the cell past it), every cell escaped."""
    import html

    cells = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return (
        (f"<p>{note}</p>" if note else "")
        + '<div style="max-width: 100%; overflow-x: auto"><table style="font-size: 12px">'
        + "<tr>"
        + "".join(f"<th>{html.escape(h)}</th>" for h in head)
        + "</tr>"
        + cells
        + "</table></div>"
    )


def write_audit_report(report: AuditReport, out_dir) -> dict:
    """``report.html`` (findings, the per-layer table, variance per layer) and ``results.json``."""
    from initlab.report.html import figure, png, render_page, write_page

    fig, ax = figure(1, width=9.5, height=3.8)
    idx = np.arange(1, len(report.layers) + 1)
    series = [
        ([x.activation_variance for x in report.layers], "o-", "activation variance"),
        ([x.gradient_variance for x in report.layers], "s-", "gradient variance"),
        ([x.measured_q for x in report.layers], "^-", "pre-activation q (measured)"),
        ([np.nan if x.predicted_q is None else x.predicted_q for x in report.layers], "k--", "q predicted"),
    ]
    # a zero (a dead or constant layer: when the audit matters most) has no place on a log axis;
    # plotted as 1e-300 it squashed every real value into a line: the axis fits the values that
    # are not zero, and each zero is a marker on the axis' floor
    values = np.array([v for ys, _, _ in series for v in ys], dtype=float)
    positive = values[np.isfinite(values) & (values > 0)]
    floor = positive.min() / 10 if positive.size else 1e-12
    for k, (ys, style, label) in enumerate(series):
        y = np.array(ys, dtype=float)
        ax[0, 0].plot(idx, np.where(y > 0, y, np.nan), style, label=label)
        zero = np.isfinite(y) & (y <= 0)
        if zero.any():
            ax[0, 0].plot(
                idx[zero],
                np.full(zero.sum(), floor),
                "v",
                color=f"C{k}",
                markersize=8,
                label=f"{label} = 0 (on the floor)",
            )
    ax[0, 0].set_yscale("log")
    ax[0, 0].set_ylim(bottom=floor / 2)
    ax[0, 0].set_xticks(idx, [x.name for x in report.layers], rotation=45, ha="right", fontsize=7)
    ax[0, 0].legend(frameon=False, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside, not over
    ax[0, 0].grid(alpha=0.3)
    page = render_page(AUDIT_TEMPLATE, r=report, png=png(fig))
    return write_page(out_dir, page, report.to_dict())


AUDIT_TEMPLATE = """{% extends "page.html" %}
{% block title %}initlab audit{% endblock %}
{% block body %}
<h1>Is this model initialized well?</h1>
<p>Batch of shape {{ r.input_shape }}; {{ r.passes.forward }} forward and {{ r.passes.backward }} backward pass.</p>
<p>{{ r.coverage_line() }}</p>
<h2>Findings</h2>
{% if r.findings %}<ul>{% for f in r.findings %}<li class="{{ f.severity }}">{{ f.message }}</li>{% endfor %}</ul>
{% else %}<p>No problems found.</p>{% endif %}
<h2>Layers</h2>
<style> table.compact th, table.compact td { padding: 0.3rem 0.3rem; } </style>
<div class="scroll"><table class="compact">
<tr><th>layer</th><th>type</th><th>activation</th><th>width</th><th>distinct</th><th>dead</th><th>saturated</th>
<th>var(act)</th><th>var(grad)</th><th>q measured</th><th>q predicted</th><th>sv max</th><th>sv min</th></tr>
{% for x in r.layers %}<tr><td>{{ x.name }}</td><td class="label">{{ x.type }}</td>
<td class="label">{{ x.activation or "-" }}</td>
<td>{{ x.width }}</td><td>{{ x.effective_width if x.effective_width is not none else "-" }}</td>
<td>{{ "%.2f"|format(x.dead_fraction) if x.dead_fraction is not none else "-" }}</td>
<td>{{ "%.2f"|format(x.saturated_fraction) if x.saturated_fraction is not none else "-" }}</td>
<td>{{ "%.3g"|format(x.activation_variance) }}</td><td>{{ "%.3g"|format(x.gradient_variance) }}</td>
<td>{{ "%.3g"|format(x.measured_q) }}</td>
<td>{{ "%.3g"|format(x.predicted_q) if x.predicted_q is not none else "-" }}</td>
<td>{{ "%.3g"|format(x.sv_max) }}</td><td>{{ "%.3g"|format(x.sv_min) }}</td></tr>{% endfor %}
</table></div>
<h2>Each layer's initialization</h2>
<div class="scroll"><table>
<tr><th>layer</th><th>looks like</th><th>for its activation</th></tr>
{% for x in r.layers %}<tr><td>{{ x.name }}</td>
<td class="text">{{ x.looks_like }}</td><td class="text">{{ x.suits }}</td></tr>{% endfor %}
</table></div>
{% if r.residual %}<h2>Residual streams</h2>
<div class="scroll"><table><tr><th>block</th><th>norm</th><th>stream RMS</th><th>branch RMS</th>
<th>branch / stream</th><th>branch end</th></tr>
{% for b in r.residual %}<tr><td>{{ b.block }}</td>
<td class="label">{{ "pre" if b.pre_norm else "post" if b.post_norm else "-" }}</td>
<td>{{ "%.3g"|format(b.stream_rms) }}</td><td>{{ "%.3g"|format(b.branch_rms) }}</td>
<td>{{ "%.3g"|format(b.ratio) }}</td>
<td class="text">{{ b.branch_end or "-" }}</td></tr>{% endfor %}</table></div>{% endif %}
<h2>Variance per layer</h2>
<img alt="variance per layer" src="data:image/png;base64,{{ png }}">
{% endblock %}
"""
