"""Audit a PyTorch model's initialization with one batch: one forward and one backward pass.

The forward pass is recorded op by op (`initlab.torch.trace`): every operation that uses a
parameter as a weight (``F.linear``, HF's ``Conv1D`` through ``torch.addmm``,
``nn.MultiheadAttention``'s packed ``in_proj_weight``, convolutions, embeddings), every
activation by what it computes, every normalization, every residual add and every attention.
``nn.LSTM``/``nn.GRU`` are audited per gate. Per layer: symmetry among output units (identical
rows, with biases), dead and saturated fractions on the tensor the activation receives (after
BatchNorm; per call site), activation and gradient variance, the mean-field prediction
``q = fan_in * mean(W^2) * mean(x^2) + mean(b^2)``, the extreme singular values, which known
initializer the weights look like (`looks_like`). Then the architecture: residual streams (the
stream's RMS per block, each branch against the stream it is added to, pre-LN/post-LN),
attention logits, the output logits; and findings in plain words, each with its fix, that never
undo a known convention (GPT-2's ``0.02/sqrt(2 n_layer)``, Fixup/SkipInit's zero branch ends).
Every parameter is audited or listed with the reason (`AuditReport.coverage`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from initlab.diagnose import SATURATION_THRESHOLD
from initlab.errors import InitlabError
from initlab.torch.faces import load_batch, load_model, make_batch, write_audit_report
from initlab.torch.findings import _row, critical, findings, recommended
from initlab.torch.initialize import torch_fans
from initlab.torch.trace import Event, Recorder
from initlab.torch.weights import _round_std, looks_like, spectrum, symmetry
from initlab.userfile import describe, user_code

__all__ = [
    "AuditReport",
    "LayerAudit",
    "audit",
    "critical",
    "findings",
    "load_batch",
    "load_model",
    "looks_like",
    "make_batch",
    "recommended",
    "spectrum",
    "symmetry",
    "write_audit_report",
]

#: Roles of attention projections by the usual names (q, k, v, o).
ROLE_PATTERNS = {
    "q": r"(^|\.)(q_proj|query|wq|to_q|q)$|\[q\]$",
    "k": r"(^|\.)(k_proj|key|wk|to_k|k)$|\[k\]$",
    "v": r"(^|\.)(v_proj|value|wv|to_v|v)$|\[v\]$",
    "o": r"(^|\.)(o_proj|out_proj|wo|to_out|attn\.c_proj|attention\.output\.dense|attention\.o)$",
}
PACKED_QKV = r"(in_proj_weight|c_attn|qkv|Wqkv|query_key_value)$"


# ----------------------------------------------------------------------------- results
@dataclass
class LayerAudit:
    name: str
    type: str
    shape: list[int]
    width: int
    fan_in: int
    fan_out: int
    activation: str | None
    effective_width: int | None
    groups: list[list[int]]
    #: Units equal up to rounding but not bit for bit (within 64 ulps of the layer's largest
    #: weight: what BLAS, a GPU or float32 training leaves of identical units), and the largest
    #: difference inside those groups; never counted as distinct, never silently as equal.
    rounding_groups: list[list[int]]
    rounding_difference: float | None
    dead_fraction: float | None
    saturated_fraction: float | None
    preactivation_mean: float
    preactivation_variance: float
    activation_variance: float
    gradient_variance: float
    #: sum of squared gradients at the layer's output per example: comparable across layer sizes
    gradient_energy: float
    measured_q: float
    predicted_q: float | None
    sv_max: float
    sv_min: float
    condition: float
    looks_like: str
    evidence: str
    sigma_w2: float
    critical_sigma_w2: float | None
    suits: str
    #: the parameter(s) it reads, e.g. ``layers.0.self_attn.in_proj_weight[q]``
    param: str = ""
    #: linear, conv, conv_transpose, embedding, or an RNN gate (``lstm:i``); q/k/v/o for attention
    role: str = ""
    std: float = 0.0
    #: the residual block whose branch it is in (the add's scope), and whether it ends the branch
    branch: str | None = None
    branch_end: bool = False
    #: the normalization between it and its activation (BatchNorm), and that norm's mean bias
    norm: str | None = None
    norm_bias_mean: float | None = None
    #: the root mean square of its input, and the normalization that made that input, if one did
    input_rms: float | None = None
    input_norm: str | None = None
    #: the layer that reads the same parameter first (``lm_head`` tied to ``transformer.wte``)
    tied_to: str | None = None
    #: an RNN gate's weight that is constant on its own (``weight_hh_l0 = 0.1``)
    constant_parts: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class AuditReport:
    layers: list[LayerAudit]
    findings: list[dict] = field(default_factory=list)
    passes: dict = field(default_factory=dict)
    input_shape: list[int] = field(default_factory=list)
    #: ``audited_parameters``, ``total_parameters``, ``not_audited``: [{name, parameters, why}]
    coverage: dict = field(default_factory=dict)
    #: per residual add: block, stream/branch/output RMS, ratio, pre_norm, post_norm, branch_end
    residual: list[dict] = field(default_factory=list)
    #: per attention call: scope, logits std, entropy against uniform, scale
    attention: list[dict] = field(default_factory=list)
    #: the output: its shape, std, and the initial cross-entropy against ln(classes) if logits
    output: dict = field(default_factory=dict)
    #: per normalization with a gain: name, gain (its parameter), gain_mean, gain_zero (every entry
    #: 0), ends_branch (its output is a residual branch), feeds (the layers reading its output)
    norms: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "input_shape": self.input_shape,
            "passes": self.passes,
            "coverage": self.coverage,
            "layers": [x.to_dict() for x in self.layers],
            "residual": self.residual,
            "attention": self.attention,
            "output": self.output,
            "norms": self.norms,
            "findings": self.findings,
        }

    def _repr_html_(self) -> str:
        """A notebook's view: the findings, the coverage and the layers' table."""
        import html

        from initlab.torch.faces import html_table

        items = "".join(f"<li>[{f['severity']}] {html.escape(f['message'])}</li>" for f in self.findings)
        rows = [
            [x.name, x.type, x.activation or "-", x.width, "-" if x.effective_width is None else x.effective_width]
            + [f"{x.activation_variance:.3g}", f"{x.gradient_variance:.3g}", x.looks_like, x.suits]
            for x in self.layers
        ]
        head = ["layer", "type", "activation", "width", "distinct", "var(a)", "var(grad)", "looks like", "judged"]
        return (
            f"<p><b>{html.escape(self.lines()[0])}</b><br>{html.escape(self.coverage_line())}</p>"
            + (f"<ul>{items}</ul>" if items else "<p>No problems found.</p>")
            + html_table(head, rows)
        )

    def coverage_line(self) -> str:
        """One line: how many parameters were audited, and what was not, and why."""
        c = self.coverage
        if not c:
            return ""
        total = max(1, c["total_parameters"])
        line = (
            f"coverage: {c['audited_parameters']:,} of {c['total_parameters']:,} parameters audited "
            f"({100 * c['audited_parameters'] / total:.1f}%)"
        )
        if c["not_audited"]:
            parts = [f"{x['name']} ({x['parameters']:,}: {x['why']})" for x in c["not_audited"][:3]]
            more = len(c["not_audited"]) - 3
            line += "; not audited: " + "; ".join(parts) + (f"; and {more} more" if more > 0 else "")
        return line

    def lines(self) -> list[str]:
        out = [
            f"audit of {len(self.layers)} layer{'' if len(self.layers) == 1 else 's'} on a batch of shape "
            f"{tuple(self.input_shape)} "
            f"({self.passes.get('forward', 0)} forward, {self.passes.get('backward', 0)} backward pass)",
        ]
        if self.coverage:
            out.append(self.coverage_line())
        out.append("")
        head = (
            f"{'layer':<24}{'type':<12}{'act':<10}{'width':>6}{'distinct':>9}{'dead':>7}{'sat.':>7}"
            f"{'var(a)':>10}{'var(grad)':>11}{'q pred/meas':>13}{'cond':>9}  looks like"
        )
        out.append(head)

        def f(v, fmt):
            return "-" if v is None else format(v, fmt)

        for x in self.layers:
            ratio = None if x.predicted_q is None or x.measured_q == 0 else x.predicted_q / x.measured_q
            name = x.name if len(x.name) <= 23 else "…" + x.name[-22:]
            out.append(
                f"{name:<24}{x.type[:11]:<12}{(x.activation or '-')[:9]:<10}{x.width:>6}"
                f"{f(x.effective_width, 'd'):>9}{f(x.dead_fraction, '.2f'):>7}"
                f"{f(x.saturated_fraction, '.2f'):>7}"
                f"{x.activation_variance:>10.3g}{x.gradient_variance:>11.3g}{f(ratio, '.3f'):>13}"
                f"{x.condition:>9.3g}  {x.looks_like}"
            )
        if self.residual:
            out += [
                "",
                f"{'residual add':<32}{'norm':<6}{'rms(stream)':>12}{'rms(branch)':>12}{'ratio':>8}  branch end",
            ]
            for r in self.residual:
                kind = "pre" if r["pre_norm"] else "post" if r["post_norm"] else "-"
                out.append(
                    f"{r['block'][-31:]:<32}{kind:<6}{r['stream_rms']:>12.3g}{r['branch_rms']:>12.3g}"
                    f"{r['ratio']:>8.3g}  {r['branch_end'] or '-'}"
                )
        out.append("")
        serious = [fnd for fnd in self.findings if fnd["severity"] != "info"]
        if not serious:
            out.append(
                "no problems found: every layer has distinct units, an init that suits its "
                "activation, and a signal that neither vanishes nor explodes"
            )
        for fnd in self.findings:
            out.append(f"[{fnd['severity']}] {fnd['message']}")
        return out


# ----------------------------------------------------------------------------- statistics
def _saturated(Zu: np.ndarray, act: str | None) -> float | None:
    """The saturated fraction of (unit, example) pairs, by the row's rule (`Activation.weak`),
    for an activation that saturates; ``Zu: (units, examples)``."""
    row = _row(act)
    if row is None or not row.saturating:
        return None
    return float(row.weak(Zu, SATURATION_THRESHOLD).mean())


def _dead(Zu: np.ndarray, act: str | None) -> float | None:
    """The dead fraction of units (passing little on every example: `Activation.weak`), for an
    activation that can die (ReLU: ``z <= 0`` everywhere; GELU, SiLU)."""
    row = _row(act)
    if row is None or not row.dying:
        return None
    return float(row.weak(Zu, SATURATION_THRESHOLD).all(axis=1).mean())


def _units(Z: torch.Tensor, axis: int, sample: int = 8192) -> torch.Tensor:
    """``Z`` as ``(units, examples)`` with the units on ``axis``; at most ``sample`` examples
    (evenly strided: a deterministic sample)."""
    Z = Z.detach()
    if Z.dim() == 1:
        Z = Z.unsqueeze(0)
    axis = axis if axis < Z.dim() else -1
    Zt = Z.movedim(axis, 0).reshape(Z.shape[axis], -1)
    if Zt.shape[1] > sample:
        Zt = Zt[:, :: math.ceil(Zt.shape[1] / sample)]
    return Zt


def _stats(Zt: torch.Tensor, act: str | None, g, n_ex: int, *, Zin: torch.Tensor | None = None, A=None) -> dict:
    """The statistics every layer reports, LayerAudit's fields by name, from its pre-activations
    ``Zt: (units, examples)``, what its activation receives (``Zin``, after a norm; else ``Zt``)
    and gives (``A``; else ``act(Zt)`` for a function of torch's, else ``Zt``), and the gradient at
    its output ``g`` over ``n_ex`` examples. One helper for the weight layers and the RNN gates."""
    Zn = (Zt if Zin is None else Zin).double().cpu().numpy()
    if A is None:
        A = getattr(torch, act)(Zt) if act in ("tanh", "sigmoid") else Zt
    return {
        "dead_fraction": _dead(Zn, act),
        "saturated_fraction": _saturated(Zn, act),
        "preactivation_mean": float(Zt.double().mean()),
        "preactivation_variance": float(Zt.double().var(unbiased=False)),
        "activation_variance": float(A.detach().double().var()),
        "gradient_variance": float(g.double().var()) if g is not None else 0.0,
        "gradient_energy": float(g.double().pow(2).sum()) / max(1, n_ex) if g is not None else 0.0,
        "measured_q": float(Zt.double().pow(2).mean()),
    }


def _weight_fields(rows, M: torch.Tensor, fan_in: int, fan_out: int, sv_mode: str, fingerprints: bool, **like) -> dict:
    """What a weight says of itself, LayerAudit's fields by name: identical rows (``rows``: the
    units' weights and bias; None for an embedding), the extreme singular values of ``M`` and
    which known initializer it looks like (``like``: `looks_like`'s keywords)."""
    distinct, groups, near, near_diff = (
        symmetry(rows, fingerprints=fingerprints) if rows is not None else (None, [], [], None)
    )
    sv_max, sv_min = spectrum(M.reshape(M.shape[0], -1), sv_mode)
    label, evidence = looks_like(M, fan_in, fan_out, (sv_max, sv_min) if sv_mode != "off" else None, **like)
    return {
        "fan_in": int(fan_in),
        "fan_out": int(fan_out),
        "effective_width": distinct,
        "groups": groups,
        "rounding_groups": near,
        "rounding_difference": near_diff,
        "sv_max": sv_max,
        "sv_min": sv_min,
        "condition": sv_max / sv_min if sv_min > 0 else float("inf"),
        "looks_like": label,
        "evidence": evidence,
        "sigma_w2": fan_in * float(torch.linalg.vector_norm(M.float())) ** 2 / max(1, M.numel()),
        "std": float(M.double().std()) if M.numel() > 1 else 0.0,
    }


def _check_finite_parameters(model: nn.Module) -> None:
    """NaN or inf weights make every figure meaningless (and the SVD fails): say which."""
    for name, p in model.named_parameters():
        if p.is_floating_point() and math.isfinite(float(p.detach().sum(dtype=torch.float64))):
            continue  # one pass, no mask: a NaN or inf makes the sum non-finite
        bad = ~torch.isfinite(p.detach())
        if bad.any():
            raise InitlabError(
                f"the model's parameter {name} {tuple(p.shape)} holds {int(bad.sum())} "
                f"non-finite value(s) (NaN or inf): an audit needs finite weights"
            )


def _output_tensor(output: object, key: str | None = None) -> torch.Tensor:
    """The tensor the backward pass starts from: ``output[key]`` when a key is given; else the
    output itself, a dict's or ``ModelOutput``'s ``logits``, or the first tensor of a tuple,
    list or ``ModelOutput``. A dict without ``logits`` and no key is refused, naming its keys."""
    if key is not None:
        try:
            value = output[key] if not isinstance(output, (tuple, list)) else output[int(key)]
        except (KeyError, IndexError, ValueError, TypeError):
            keys = (
                list(output.keys())
                if hasattr(output, "keys")
                else f"{len(output)} items"
                if hasattr(output, "__len__")
                else type(output).__name__
            )
            raise InitlabError(f"the model's output has no {key!r} (--output-key); it has {keys}") from None
        if not torch.is_tensor(value):
            raise InitlabError(f"the model's output[{key!r}] is a {type(value).__name__}, not a tensor")
        return value
    if torch.is_tensor(output):
        return output
    if isinstance(output, dict) or hasattr(output, "to_tuple"):
        if torch.is_tensor(output.get("logits")):
            return output["logits"]
        if hasattr(output, "to_tuple") and output.to_tuple() and torch.is_tensor(output.to_tuple()[0]):
            return output.to_tuple()[0]
        keys = ", ".join(repr(k) for k in list(output)[:5])
        raise InitlabError(
            f"the model's forward returned a dict (keys {keys}) without 'logits': say which tensor to "
            f"audit with output_key= (--output-key)"
        )
    if isinstance(output, (tuple, list)) and output and torch.is_tensor(output[0]):
        return output[0]
    raise InitlabError(
        f"the model's forward returned a {type(output).__name__}: initlab needs a tensor, a dict or "
        f"ModelOutput with 'logits', or a tuple whose first item is a tensor"
    )


def _index_hint(model: nn.Module, inputs: list) -> str:
    """Why an embedding lookup failed ("index out of range in self" says nothing): the largest
    token id against the embeddings' rows, or a sequence longer than the smallest embedding
    (a table of positions)."""
    ids = [a for a in inputs if torch.is_tensor(a) and not a.is_floating_point() and a.numel()]
    tables = {n: m.num_embeddings for n, m in model.named_modules() if isinstance(m, nn.Embedding)}
    if not ids or not tables:
        return ""
    top, longest = max(int(a.max()) for a in ids), max(int(a.shape[-1]) for a in ids)
    name, rows = min(tables.items(), key=lambda kv: kv[1])
    largest = max(tables.values())
    if top >= largest:
        return f" (token ids up to {top}, but the largest embedding has {largest} rows: lower --vocab)"
    if longest > rows:
        return f" (a sequence of {longest}, but {name} has {rows} rows: positions? shorten the input)"
    return f" (token ids up to {top}; embedding rows: {', '.join(f'{n} {r}' for n, r in tables.items())})"


# ----------------------------------------------------------------------------- the audit
def audit(
    model: nn.Module,
    batch,
    *,
    target=None,
    seed: int = 0,
    output_key: str | None = None,
    singular_values: str = "fast",
    fingerprints: bool = True,
) -> AuditReport:
    """Audit ``model`` on ``batch`` (a tensor, a tuple of the forward's arguments, or a dict of
    keyword arguments).

    One forward and one backward pass. With ``target``, the backward pass starts from the loss
    (cross-entropy for integer class targets, else mean squared error); without, from a
    unit-variance Gaussian error at the output (seeded), which isolates how the network itself
    scales gradients. A model returning a dict or HF ``ModelOutput`` is audited on its
    ``logits`` (or ``output_key``), a tuple on its first item. The forward pass runs as in
    training (BatchNorm normalizes with the batch's statistics) with every dropout off
    (modules, ``F.dropout``, attention's ``dropout_p``); BatchNorm's running statistics and the
    modules' train/eval modes are restored after; parameters' ``.grad`` are not touched.

    Cost: ``singular_values`` is ``"fast"`` (exact up to 128 on the smaller side, else a few
    Lanczos steps: `spectrum`), ``"exact"`` or ``"off"``; ``fingerprints`` screens each weight
    for identical rows with one projection before any exact comparison (`symmetry`).
    """
    if not isinstance(model, nn.Module):
        raise InitlabError(f"audit() takes a torch.nn.Module, got {type(model).__name__}")
    if singular_values not in ("fast", "exact", "off"):
        raise InitlabError(f"singular_values must be 'fast', 'exact' or 'off', got {singular_values!r}")
    if isinstance(batch, dict):
        args, kwargs = (), dict(batch)
    else:
        args, kwargs = (batch if isinstance(batch, tuple) else (batch,)), {}
    if not any(True for _ in model.parameters()):
        raise InitlabError("the model has no parameters to audit")
    _check_finite_parameters(model)
    passes = {"forward": 0, "backward": 0}
    modes = {m: m.training for m in model.modules()}
    buffers = {
        k: v.clone()
        for k, v in model.state_dict().items()
        if any(k.endswith(b) for b in ("running_mean", "running_var", "num_batches_tracked"))
    }
    model.train()
    for m in model.modules():
        if isinstance(m, nn.modules.dropout._DropoutNd):
            m.eval()
    first = next(iter(kwargs.values()), None) if not args else args[0]
    shapes = ", ".join(str(tuple(a.shape)) for a in list(args) + list(kwargs.values()) if torch.is_tensor(a))
    try:
        rec = Recorder(model)
        with torch.enable_grad(), user_code("the model's forward", exceptions=False):
            try:
                with rec:
                    output = model(*args, **kwargs)
            except InitlabError:
                raise
            except Exception as e:  # the user's model: say what it rejected, in one line
                msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                if isinstance(e, IndexError) and "index out of range" in msg:
                    msg += _index_hint(model, list(args) + list(kwargs.values()))
                raise InitlabError(f"the model rejects an input of shape {shapes}: {msg}") from None
            passes["forward"] += 1
            out = _output_tensor(output, output_key)
            if not out.requires_grad:
                raise InitlabError("the model's output does not depend on its parameters (no gradient)")
            if target is not None:
                if target.dtype in (torch.int64, torch.int32) and out.dim() >= 2:
                    logits = out.reshape(-1, out.shape[-1]) if out.dim() > 2 and target.dim() == out.dim() - 1 else out
                    loss = nn.functional.cross_entropy(logits, target.reshape(-1) if logits is not out else target)
                else:
                    loss = nn.functional.mse_loss(out, target.to(out.dtype))
            else:
                g = torch.Generator(device="cpu").manual_seed(seed)
                loss = (out * torch.randn(out.shape, generator=g).to(out)).sum()
            wanted = [
                e
                for e in rec.events
                if e.kind in ("weight", "add", "rnn")
                and _first_tensor(e.output) is not None
                and _first_tensor(e.output).requires_grad
            ]
            try:
                grads = (
                    torch.autograd.grad(loss, [_first_tensor(e.output) for e in wanted], allow_unused=True)
                    if wanted
                    else []
                )
            except Exception as e:  # a custom autograd function of the user's, say
                raise InitlabError(f"the backward pass through the model failed: {describe(e)}") from None
            passes["backward"] += 1
    finally:
        for m, mode in modes.items():
            m.train(mode)
        if buffers:
            with torch.no_grad():
                state = model.state_dict()
                for k, v in buffers.items():
                    state[k].copy_(v)
    grad_of = {e.index: gr for e, gr in zip(wanted, grads, strict=True)}
    threads = torch.get_num_threads()
    # the statistics are many small operations: one thread avoids OpenMP's start-up and spinning,
    # which cost more than the work (a 64 x 64 SVD: 0.3 ms on one thread, 60 ms on two, busy)
    torch.set_num_threads(1)
    try:
        with torch.no_grad():
            report = _judge(model, rec, grad_of, out, singular_values, fingerprints)
    finally:
        torch.set_num_threads(threads)
    report.passes = passes
    report.input_shape = list(first.shape) if torch.is_tensor(first) else []
    report.findings = findings(report)
    return report


def _first_tensor(x):
    if torch.is_tensor(x):
        return x
    if isinstance(x, (tuple, list)) and x and torch.is_tensor(x[0]):
        return x[0]
    return None


def _weight_matrix(e: Event) -> tuple[torch.Tensor, int, int, int]:
    """The weight as ``(units, inputs)`` rows, its fans and the output's unit axis.

    ``nn.ConvTransposeNd``'s fan-in is what each output position receives:
    ``in/groups * prod(kernel / stride)`` (a stride-2 layer with kernel 2 sums ``in`` inputs, not
    PyTorch's ``out/groups * 4``)."""
    w = e.params[0][1].detach()
    kind = e.info["kind"]
    if kind == "linear_t":
        return w.T, int(w.shape[0]), int(w.shape[1]), -1
    if kind == "embedding":
        return w, 1, int(w.shape[0]), -1
    if kind == "conv_transpose":
        k = w.shape[2:]
        stride = e.info.get("stride", 1)
        stride = tuple(stride) if isinstance(stride, (tuple, list)) else (stride,) * len(k)
        groups = int(e.info.get("groups", 1) or 1)
        fan_in = max(1, round(w.shape[0] / groups * math.prod(kk / s for kk, s in zip(k, stride, strict=False))))
        rows = w.movedim(1, 0).reshape(w.shape[1], -1) if groups == 1 else None
        _, fan_out = torch_fans(w)
        return (rows if rows is not None else w.reshape(w.shape[0], -1)), fan_in, fan_out, 1
    if kind == "conv":
        fi, fo = torch_fans(w)
        return w.reshape(w.shape[0], -1), fi, fo, 1
    fi, fo = torch_fans(w)
    return w, fi, fo, -1


def _name_of(rec: Recorder, e: Event) -> tuple[str, str]:
    """A layer's name (its module's, as ``named_modules`` gives it, when the module holds the
    weight as ``.weight``; else the parameter's name) and the parameter's name."""
    pname = e.params[0][0]
    mod = e.info.get("module")
    if mod is not None and getattr(mod, "weight", None) is e.params[0][1]:
        return e.scope, pname
    if pname.endswith(".weight"):
        return pname[: -len(".weight")], pname
    return pname, pname


def _role(name: str, kind: str) -> str:
    for role, pat in ROLE_PATTERNS.items():
        if re.search(pat, name):
            return role
    return kind


def _judge(model, rec: Recorder, grad_of: dict, out: torch.Tensor, sv_mode: str, fingerprints: bool) -> AuditReport:
    events = rec.events
    weights = [e for e in events if e.kind == "weight"]
    adds = [e for e in events if e.kind == "add"]
    n_residual = len(adds)
    # which weight ops sit in which residual branch, and which ends it
    branch_of: dict[int, Event] = {}
    end_of: dict[int, Event] = {}
    for a in adds:
        inside = [w for w in weights if a.info["since"] < w.index < a.index and w.index != a.info.get("shortcut")]
        for w in inside:
            branch_of.setdefault(w.index, a)
        if inside:
            end_of[inside[-1].index] = a
    stds = sorted(
        float(e.params[0][1].detach().float().std())
        for e in weights
        if e.info["kind"] in ("linear", "linear_t") and e.params[0][1].numel() > 1
    )
    base_std = stds[len(stds) // 2] if stds else None
    base_round = _round_std(base_std) if base_std else None
    names_seen: dict[str, int] = {}
    matrices: dict[str, tuple] = {}  # attention projections: (rows, bias), for the heads
    layers: list[LayerAudit] = []
    at: list[int] = []  # the event of each layer
    for i, e in enumerate(weights):
        nxt = weights[i + 1].index if i + 1 < len(weights) else len(events)
        between = events[e.index + 1 : nxt]
        act_e = next((x for x in between if x.kind == "act"), None)
        norm_e = next((x for x in between if x.kind == "norm" and (act_e is None or x.index < act_e.index)), None)
        name, pname = _name_of(rec, e)
        names_seen[name] = names_seen.get(name, 0) + 1
        if names_seen[name] > 1:
            name = f"{name}#{names_seen[name]}"
        M, fan_in, fan_out, axis = _weight_matrix(e)
        bias = e.params[1][1].detach() if len(e.params) > 1 else None
        Z = e.output.detach()
        g = grad_of.get(e.index)
        parts = [(name, pname, slice(None))]
        if re.search(PACKED_QKV, pname) or re.search(PACKED_QKV, name):
            if M.shape[0] % 3 == 0 and M.shape[0] == 3 * M.shape[1]:
                d = M.shape[0] // 3
                parts = [(f"{name}[{r}]", f"{pname}[{r}]", slice(j * d, (j + 1) * d)) for j, r in enumerate("qkv")]
        for pn, pp, sl in parts:
            at.append(e.index)
            Mp = M[sl]
            bp = bias[sl] if bias is not None and bias.dim() == 1 and bias.shape[0] == M.shape[0] else None
            if _role(pn, e.info["kind"]) in ("q", "k", "v", "o"):
                matrices[pn] = (Mp, bp)
            Zp = Z if sl == slice(None) else Z[..., sl]
            gp = None if g is None else (g if sl == slice(None) else g[..., sl])
            layers.append(
                _layer(
                    e,
                    pn,
                    pp,
                    Mp,
                    bp,
                    fan_in,
                    fan_out if sl == slice(None) else Mp.shape[0],
                    axis,
                    Zp,
                    gp,
                    act_e if sl == slice(None) else None,
                    norm_e,
                    branch_of.get(e.index),
                    end_of.get(e.index) is not None and (sl == slice(None) or pn.endswith("[v]")),
                    n_residual,
                    base_round,
                    sv_mode,
                    fingerprints,
                )
            )
    for e in events:
        if e.kind == "rnn":
            gates = _rnn_layers(e, grad_of.get(e.index), sv_mode, fingerprints)
            layers += gates
            at += [e.index] * len(gates)
    # a norm's output reaches a layer as itself or as a view (HF's Conv1D reshapes it): by its storage
    norm_of = {
        n.output.untyped_storage().data_ptr(): n for n in events if n.kind == "norm" and torch.is_tensor(n.output)
    }
    for i, x in zip(at, layers, strict=True):
        src = events[i].inputs[0] if events[i].inputs else None
        if torch.is_tensor(src) and src.is_floating_point() and events[i].kind == "weight":
            x.input_rms = float(src.detach().double().pow(2).mean().sqrt())
            made = norm_of.get(src.untyped_storage().data_ptr())
            x.input_norm = (made.scope or made.op) if made is not None else None
    layers = [x for _, x in sorted(zip(at, layers, strict=True), key=lambda p: p[0])]  # stable: in call order
    first_use: dict[str, LayerAudit] = {}
    for x in layers:  # a tied parameter (lm_head = wte): one tensor, one label
        key = x.param.split("[")[0]
        if key in first_use and not x.role.startswith(("lstm", "gru")):
            x.tied_to = first_use[key].name
            x.looks_like, x.evidence = first_use[key].looks_like, first_use[key].evidence + f" (tied to {x.tied_to})"
        first_use.setdefault(key, x)
    # several rules fit some layers (equal fans): name them as the model's other layers are named
    counts: dict[str, int] = {}
    for x in layers:
        also = re.search(r"; also ([^(;]+) \(within the sample's error\)", x.evidence)
        for label in [x.looks_like] + (also.group(1).split(", ") if also else []):
            counts[label] = counts.get(label, 0) + 1
    prefer = tuple(sorted(counts, key=lambda k: (-counts[k], "fan_out" in k)))
    for x in layers:
        if "; also " in x.evidence and x.role in ("linear", "linear_t", "conv", "conv_transpose") and not x.tied_to:
            e = next(e for e in weights if e.params[0][0] == x.param.split("[")[0])
            M, fan_in, fan_out, _ = _weight_matrix(e)
            x.looks_like, x.evidence = looks_like(
                M, fan_in, fan_out, (x.sv_max, x.sv_min), n_residual=n_residual, base_std=base_round, prefer=prefer
            )
    residual = [
        {
            "block": a.scope,
            "stream_rms": math.sqrt(a.info["stream_ms"]),
            "branch_rms": math.sqrt(a.info["branch_ms"]),
            "out_rms": math.sqrt(a.info["out_ms"]),
            "ratio": math.sqrt(a.info["branch_ms"] / a.info["stream_ms"]) if a.info["stream_ms"] > 0 else float("inf"),
            "pre_norm": a.info["stream_normed"],
            "post_norm": any(
                n.kind == "norm" and n.inputs and n.inputs[0] is a.output for n in events[a.index + 1 : a.index + 4]
            ),
            "branch_end": next((x.name for x in layers if x.branch_end and x.branch == _block_key(a)), None),
            "branch_layers": [x.name for x in layers if x.branch == _block_key(a)],
        }
        for a in adds
    ]
    attention = [_attention(e) for e in events if e.kind == "attention"]
    attention = [a for a in attention if a is not None]
    for a in attention:
        a["head_groups"] = _head_groups(a, layers, matrices)
    return AuditReport(
        layers,
        coverage=_coverage(model, rec, layers),
        residual=residual,
        attention=attention,
        output=_output_summary(out, rec),
        norms=_norms(events, adds, layers),
    )


def _head_groups(a: dict, layers: list[LayerAudit], matrices: dict) -> list[list[int]]:
    """Groups of identical attention heads (of 2 or more) in the call ``a``: a head's signature is
    its rows of q (with their biases), the rows of k and v of the key/value head it reads
    (grouped-query attention), and its columns of the output projection; grouped by
    `initlab.nn.units.group_rows`, the one definition of identical units. Identical heads compute
    the same attention and receive the same gradient: they stay identical."""
    from initlab.nn.units import group_rows
    from initlab.torch.findings import _attention_block

    heads, kv = a.get("heads"), a.get("kv_heads")
    block = _attention_block(a["scope"] + ".q")
    roles = {
        x.role: matrices.get(x.name)
        for x in layers
        if x.role in ("q", "k", "v", "o") and _attention_block(x.name) == block
    }
    if not heads or heads < 2 or any(roles.get(r) is None for r in "qkvo"):
        return []
    (q, bq), (k, bk), (v, bv), (o, _) = (roles[r] for r in "qkvo")
    d = q.shape[0] // heads
    kv = kv or heads
    if q.shape[0] != heads * d or k.shape[0] != kv * d or v.shape[0] != kv * d or o.shape[1] != heads * d:
        return []

    def rows(M, b, h):
        sl = slice(h * d, (h + 1) * d)
        return [M[sl].reshape(-1)] + ([b[sl]] if b is not None else [])

    sig = torch.stack(
        [
            torch.cat(
                rows(q, bq, h)
                + rows(k, bk, h * kv // heads)
                + rows(v, bv, h * kv // heads)
                + [o[:, h * d : (h + 1) * d].T.reshape(-1)]
            ).double()
            for h in range(heads)
        ]
    )
    return [g for g in group_rows(sig.cpu().numpy()) if len(g) > 1]


GAIN_NAMES = ("weight", "scale", "gamma")


def _norms(events: list[Event], adds: list[Event], layers: list[LayerAudit]) -> list[dict]:
    """Each normalization with a gain: the gain's mean, whether every entry is 0 (the norm then
    outputs its bias alone: the same vector for every position), whether it ends a residual
    branch (its output is what the add adds: zero there is the identity-at-init convention), and
    the layers that read its output."""
    out = []
    for n in events:
        if n.kind != "norm":
            continue
        gains = [(pn, p) for pn, p in n.params if p.dim() == 1 and pn.rsplit(".", 1)[-1] in GAIN_NAMES]
        if not gains:
            continue
        pn, gain = gains[0]
        gain = gain.detach()
        feeds = [x.name for x in layers if x.input_norm == (n.scope or n.op)]
        out.append(
            {
                "name": n.scope or n.op,
                "gain": pn,
                "gain_mean": float(gain.double().mean()),
                "gain_zero": bool((gain == 0).all()),
                "ends_branch": any(a.inputs[1] is n.output for a in adds),
                "feeds": feeds,
            }
        )
    return out


def _block_key(a: Event) -> str:
    return f"{a.scope}@{a.index}"


def _layer(
    e: Event,
    name: str,
    pname: str,
    M: torch.Tensor,
    bias,
    fan_in: int,
    fan_out: int,
    axis: int,
    Z: torch.Tensor,
    g,
    act_e: Event | None,
    norm_e: Event | None,
    add: Event | None,
    is_end: bool,
    n_residual: int,
    base_std: float | None,
    sv_mode: str,
    fingerprints: bool,
) -> LayerAudit:
    kind = e.info["kind"]
    embedding = kind == "embedding"
    act = act_e.op if act_e is not None else None
    rows = None
    if not embedding:
        rows = M.reshape(M.shape[0], -1)
        if bias is not None:
            rows = torch.cat([rows, bias.reshape(-1, 1).to(rows.dtype)], 1)
    w = _weight_fields(
        rows, M, fan_in, fan_out, sv_mode, fingerprints, n_residual=n_residual, base_std=base_std, embedding=embedding
    )
    like = w["looks_like"]
    sigma_w2 = w["sigma_w2"]
    mean_w2 = sigma_w2 / fan_in
    x = e.inputs[0] if e.inputs else None
    mean_b2 = float(bias.double().pow(2).mean()) if bias is not None else 0.0
    constant = like == "zeros" or like.startswith("constant")
    predicted = None
    if torch.is_tensor(x) and x.is_floating_point() and not constant and not embedding and kind != "conv_transpose":
        predicted = sigma_w2 * float(x.detach().float().pow(2).mean()) + mean_b2
    role = _role(name, kind)
    crit = None  # found only for the layers judged by it (`critical`: a search, once per activation)
    if embedding:
        suits = f"an embedding: its output's second moment is mean(W^2) = {mean_w2:.3g}; no fan-in to judge by"
    elif norm_e is not None and not (is_end and add is not None and add.info.get("stream_normed")):
        # a pre-LN branch end adds into the stream, which every later layer reads: the norm after
        # it in op order reads the stream for the next branch only (trial: said "not judged")
        suits = "not judged: a normalization layer follows, so its scale does not propagate"
    elif add is not None:
        suits = "judged with its residual branch, against the stream it is added to"
    elif role in ("q", "k", "v", "o"):
        suits = "judged by the attention logits it makes"
    elif (crit := critical(act)) is None:
        suits = "not judged for this activation (see the saturated fraction)"
    else:
        r = sigma_w2 / crit
        suits = (
            "suits"
            if 0.5 <= r <= 2
            else f"too small: sigma_w^2 = {sigma_w2:.3g}, critical {crit:.3g} (x{r:.2g} per layer)"
            if r < 0.5
            else f"too large: sigma_w^2 = {sigma_w2:.3g}, critical {crit:.3g} (x{r:.2g} per layer)"
        )
    Zt = _units(Z, axis)
    Zin = _units(act_e.inputs[0], axis) if act_e is not None and torch.is_tensor(act_e.inputs[0]) else None
    A = act_e.output if act_e is not None and torch.is_tensor(act_e.output) else None
    norm_bias = None
    if norm_e is not None:
        bs = [p for n, p in norm_e.params if n.endswith("bias") or n.endswith("beta")]
        norm_bias = float(bs[0].detach().double().mean()) if bs else None
    n_ex = int(Z.shape[0]) if Z.dim() > 0 else 1
    return LayerAudit(
        name=name,
        type=type(e.info.get("module")).__name__ if e.info.get("module") is not None else kind,
        shape=list(e.params[0][1].shape),
        width=int(Zt.shape[0]),
        activation=act,
        **w,
        **_stats(Zt, act, g, n_ex, Zin=Zin, A=A if A is not None else Zt),
        predicted_q=predicted,
        critical_sigma_w2=crit,
        suits=suits,
        param=pname,
        role=role,
        branch=_block_key(add) if add is not None else None,
        branch_end=is_end,
        norm=norm_e.scope or norm_e.op if norm_e is not None else None,
        norm_bias_mean=norm_bias,
    )


GATES = {"LSTM": ("i", "f", "g", "o"), "GRU": ("r", "z", "n")}


def _rnn_layers(e: Event, g, sv_mode: str, fingerprints: bool) -> list[LayerAudit]:
    """One `LayerAudit` per gate of every layer and direction of an ``nn.LSTM``/``nn.GRU``.

    The gates' pre-activations are recomputed from the recorded input (no gradient):
    ``a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh`` split into the gates (LSTM: i, f, o through a
    sigmoid, g through tanh; GRU: r, z sigmoid, n = tanh(W_in x + b_in + r * (W_hn h + b_hn))).
    A gate's rows are ``[W_ih | W_hh | b]`` for its units; fan_in = input size + hidden size.
    The gradient is the module output's (gates' own are inside the fused kernel)."""
    mod = e.info.get("module")
    params = dict(e.params)
    name = e.scope
    rnn_type = e.op
    gates = GATES.get(rnn_type)
    x, hx = e.inputs
    if gates is None or not torch.is_tensor(x):
        return []
    kinds = {p.rsplit(".", 1)[-1]: t for p, t in params.items()}
    H = next(t for k, t in kinds.items() if k.startswith("weight_hh")).shape[1]
    num_layers = sum(1 for k in kinds if k.startswith("weight_ih") and not k.endswith("_reverse"))
    bidir = any(k.endswith("_reverse") for k in kinds)
    batch_first = getattr(mod, "batch_first", False) if mod is not None else False
    if x.dim() == 2:
        x = x.unsqueeze(1)
    elif batch_first:
        x = x.transpose(0, 1)
    x = x.detach()
    T, B = x.shape[0], x.shape[1]
    out: list[LayerAudit] = []
    inp = x
    for layer in range(num_layers):
        outs = []
        for d, sfx in enumerate(("", "_reverse") if bidir else ("",)):
            W_ih = kinds[f"weight_ih_l{layer}{sfx}"].detach()
            W_hh = kinds[f"weight_hh_l{layer}{sfx}"].detach()
            b_ih = kinds.get(f"bias_ih_l{layer}{sfx}")
            b_hh = kinds.get(f"bias_hh_l{layer}{sfx}")
            b_ih = (
                b_ih.detach() if b_ih is not None else torch.zeros(W_ih.shape[0], dtype=W_ih.dtype, device=W_ih.device)
            )
            b_hh = (
                b_hh.detach() if b_hh is not None else torch.zeros(W_hh.shape[0], dtype=W_hh.dtype, device=W_hh.device)
            )
            h = torch.zeros(B, H, dtype=x.dtype, device=x.device)
            c = torch.zeros(B, H, dtype=x.dtype, device=x.device)
            if hx is not None:
                h0 = hx[0] if isinstance(hx, tuple) else hx
                h = h0.detach()[layer * (2 if bidir else 1) + d].reshape(B, H)
                if isinstance(hx, tuple):
                    c = hx[1].detach()[layer * (2 if bidir else 1) + d].reshape(B, H)
            xs = inp.flip(0) if d else inp
            pre_x = xs @ W_ih.T + b_ih
            pre = []
            hs = []
            for t in range(T):
                if rnn_type == "LSTM":
                    a = pre_x[t] + h @ W_hh.T + b_hh
                    i_, f_, g_, o_ = a.chunk(4, -1)
                    c = torch.sigmoid(f_) * c + torch.sigmoid(i_) * torch.tanh(g_)
                    h = torch.sigmoid(o_) * torch.tanh(c)
                    pre.append(a)
                else:
                    gh = h @ W_hh.T + b_hh
                    r_, z_, n_x = pre_x[t].chunk(3, -1)
                    r_h, z_h, n_h = gh.chunk(3, -1)
                    r = torch.sigmoid(r_ + r_h)
                    z = torch.sigmoid(z_ + z_h)
                    n = torch.tanh(n_x + r * n_h)
                    h = (1 - z) * n + z * h
                    pre.append(torch.cat([r_ + r_h, z_ + z_h, n_x + r * n_h], -1))
                hs.append(h)
            P = torch.stack(pre)  # (T, B, gates * H)
            hseq = torch.stack(hs)
            outs.append(hseq.flip(0) if d else hseq)
            for j, gate in enumerate(gates):
                sl = slice(j * H, (j + 1) * H)
                act = "tanh" if gate in ("g", "n") else "sigmoid"
                rows = torch.cat([W_ih[sl], W_hh[sl], (b_ih[sl] + b_hh[sl]).reshape(-1, 1)], 1)
                Mg = torch.cat([W_ih[sl], W_hh[sl]], 1)
                Zt = P[..., sl].reshape(-1, H).T
                constant = [
                    f"{part}_l{layer}{sfx} = {float(W[sl].reshape(-1)[0]):g}"
                    for part, W in (("weight_ih", W_ih), ("weight_hh", W_hh))
                    if W[sl].numel() > 1 and bool((W[sl] == W[sl].reshape(-1)[0]).all())
                ]
                out.append(
                    LayerAudit(
                        name=f"{name}.l{layer}{sfx}[{gate}]",
                        type=rnn_type,
                        shape=list(Mg.shape),
                        width=H,
                        activation=act,
                        **_weight_fields(rows, Mg, Mg.shape[1], H, sv_mode, fingerprints),
                        **_stats(Zt, act, g, B),
                        predicted_q=None,
                        critical_sigma_w2=None,
                        suits="not judged by a critical point: a recurrent gate (see the saturated fraction)",
                        param=f"{name}.weight_ih_l{layer}{sfx}, weight_hh_l{layer}{sfx} [{gate}]",
                        role=f"{rnn_type.lower()}:{gate}",
                        constant_parts=constant,
                    )
                )
        inp = torch.cat(outs, -1)
    return out


def _attention(e: Event) -> dict | None:
    """The attention logits' std over the unmasked (query, key) pairs and the rows' entropy
    against uniform attention, on at most 2 examples x 64 queries (all heads)."""
    heads = kv_heads = None
    if e.op == "sdpa":
        q, k = e.inputs
        if q.dim() < 3 or k.dim() < 3:
            return None
        heads, kv_heads = int(q.shape[-3]), int(k.shape[-3])
        q = q[:2, ..., :64, :].double()
        k = k[:2].double()
        if k.shape[-3] != q.shape[-3] and q.dim() == 4 and q.shape[1] % k.shape[1] == 0:
            k = k.repeat_interleave(q.shape[1] // k.shape[1], dim=1)  # grouped-query attention
        scale = e.info["scale"] if e.info["scale"] is not None else 1 / math.sqrt(q.shape[-1])
        S = (q @ k.transpose(-1, -2)) * scale
        valid = torch.ones_like(S, dtype=torch.bool)
        if e.info["causal"]:
            Lq, Lk = S.shape[-2], S.shape[-1]
            # PyTorch's is_causal is top-left aligned: query i sees keys 0..i (the first 64 kept)
            valid = valid & torch.ones(Lq, Lk, dtype=torch.bool, device=S.device).tril(0)
        mask = e.info["mask"]
        if torch.is_tensor(mask):
            m = mask[..., :64, :] if mask.dim() >= 2 else mask
            if m.dim() == 4 and m.shape[0] > 2:
                m = m[:2]
            try:
                m = m.broadcast_to(S.shape)
            except RuntimeError:
                return None  # a mask laid out otherwise: no statistics rather than wrong ones
            if m.dtype == torch.bool:
                valid = valid & m
            else:
                S = S + m.double()
                valid = valid & (m > -1e4)
        head_dim = q.shape[-1]
    else:
        S = e.inputs[0][:2, :, :64].double()
        heads = int(S.shape[1])
        valid = S > -1e4
        scale = None
        head_dim = None
    S = torch.where(valid, S, torch.full_like(S, -math.inf))
    n_keys = valid.sum(-1)
    rows = n_keys >= 8
    if not bool(rows.any()):
        return None
    P = torch.softmax(S, -1)
    ent = -(P * torch.log(P.clamp_min(1e-300))).sum(-1)
    ratio = (ent / torch.log(n_keys.clamp_min(2).double()))[rows]
    vals = S[valid & rows.unsqueeze(-1)]
    centred = S - torch.where(valid, S, torch.zeros_like(S)).sum(-1, keepdim=True) / n_keys.clamp_min(1).unsqueeze(-1)
    std = float(centred[valid & rows.unsqueeze(-1)].pow(2).mean().sqrt()) if vals.numel() else 0.0
    return {
        "scope": e.scope,
        "op": e.op,
        "logits_std": std,
        "entropy_ratio": float(ratio.mean()),
        "max_prob": float(P.amax(-1)[rows].mean()),
        "scale": scale,
        "head_dim": head_dim,
        "heads": heads,
        "kv_heads": kv_heads,
    }


def _output_summary(out: torch.Tensor, rec: Recorder) -> dict:
    """The output's shape and std; when a weight operation made it and its last axis has at
    least 2 entries (logits), the initial cross-entropy ``E[logsumexp(l) - mean(l)]`` (the
    expected loss for a random label) against ``ln(classes)``."""
    o = out.detach()
    info = {"shape": list(o.shape), "std": float(o.float().std()) if o.numel() > 1 else 0.0}
    made = next((e for e in reversed(rec.events) if e.kind == "weight"), None)
    is_logits = (
        made is not None
        and made.info["kind"] in ("linear", "linear_t")
        and o.dim() >= 2
        and o.shape[-1] >= 2
        and _first_tensor(made.output) is not None
        and (_first_tensor(made.output) is out or _first_tensor(made.output).data_ptr() == out.data_ptr())
    )
    if is_logits:
        flat = o.reshape(-1, o.shape[-1])[:4096].double()
        loss = float((torch.logsumexp(flat, -1) - flat.mean(-1)).mean())
        info.update({"logits": True, "initial_loss": loss, "uniform_loss": math.log(o.shape[-1])})
    return info


def _coverage(model: nn.Module, rec: Recorder, layers: list[LayerAudit]) -> dict:
    """Every parameter audited or listed: audited when a weight operation, an RNN or a norm the
    audit judges used it; else listed per module with its count and why."""
    audited_ids: set[int] = set()
    for e in rec.events:
        if e.kind in ("weight", "norm", "rnn"):
            audited_ids.update(id(p) for _, p in e.params)
    total = 0
    audited = 0
    missing: dict[str, dict] = {}
    for pname, p in model.named_parameters():
        total += p.numel()
        if id(p) in audited_ids:
            audited += p.numel()
            continue
        owner = pname.rsplit(".", 1)[0] if "." in pname else pname
        used = rec.used.get(id(p))
        why = (
            "not used by this forward pass"
            if not used
            else f"used by {', '.join(sorted(used))} only: not a layer the audit judges"
        )
        entry = missing.setdefault(owner, {"name": owner, "parameters": 0, "why": why})
        entry["parameters"] += p.numel()
    return {
        "audited_parameters": audited,
        "total_parameters": total,
        "not_audited": sorted(missing.values(), key=lambda x: -x["parameters"]),
    }
