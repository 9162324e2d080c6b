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

import functools
import math
import re
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from initlab.diagnose import SATURATION_THRESHOLD
from initlab.diagnose.symmetry import group_rows
from initlab.errors import InitlabError
from initlab.nn.activations import ACTIVATIONS, Activation, activation_of_module
from initlab.torch.initialize import torch_fans
from initlab.torch.trace import Event, Recorder
from initlab.userfile import describe, user_code

#: The torch.nn activation classes of the activation table's rows (`Activation.torch`).
ACTIVATION_CLASSES = tuple(
    {getattr(nn, row.torch[0]) for row in ACTIVATIONS.values() if row.torch is not None and hasattr(nn, row.torch[0])}
)
NORM_MODULES = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.LayerNorm, nn.GroupNorm, nn.RMSNorm)

#: A branch whose RMS exceeds its stream's by this factor drowns the block's input: the block
#: no longer starts near the identity, which is what makes deep residual nets trainable (He et
#: al. 2016; Fixup, Zhang et al. 2019, sec. 2).
DWARF_RATIO = 10.0
#: The stream's RMS growth over the blocks that counts as "grows with depth": x4 is the growth
#: of 16 equal unscaled branches (RMS grows like sqrt(number of branches)).
GROWTH_RATIO = 4.0
#: The output logits are judged too large when a cross-entropy loss on them starts this many
#: nats above ln(classes), the loss of a uniform guess.
LOGIT_EXCESS_NATS = 1.0
#: Attention is judged too sharp at init when its rows' entropy is below this fraction of the
#: uniform attention's ln(keys) (rows with at least 8 keys).
ATTENTION_ENTROPY = 0.5
#: Roles of attention projections by the usual names (q, k, v, o).
ROLE_PATTERNS = {
    "q": r"(^|\.)(q_proj|query|wq|to_q|q)$|\[q\]$",
    "k": r"(^|\.)(k_proj|key|wk|to_k|k)$|\[k\]$",
    "v": r"(^|\.)(v_proj|value|wv|to_v|v)$|\[v\]$",
    "o": r"(^|\.)(o_proj|out_proj|wo|to_out|attn\.c_proj|attention\.output\.dense|attention\.o)$",
}
PACKED_QKV = r"(in_proj_weight|c_attn|qkv|Wqkv|query_key_value)$"


def activation_name(module: nn.Module) -> str:
    """The table's name for an activation module (``nn.LeakyReLU(0.2)`` -> ``leaky_relu:0.2``,
    ``nn.GELU(approximate="tanh")`` -> ``gelu_tanh``), or its class with what differs from every
    row (``ELU(alpha=0.5)``: a layer before it is not judged)."""
    name = activation_of_module(module)
    if name is not None:
        return name
    rows = [r for r in ACTIVATIONS.values() if r.torch is not None and r.torch[0] == type(module).__name__]
    attrs = sorted({k for r in rows for k, _ in r.torch[1]})
    return f"{type(module).__name__}({', '.join(f'{k}={getattr(module, k, None)!r}' for k in attrs)})"


def _row(act: str | None) -> Activation | None:
    """The activation's row, None for no activation or one the table does not have."""
    if act is None:
        return None
    try:
        return ACTIVATIONS[act]
    except KeyError:
        return None


def recommended(act: str | None) -> str:
    """The initializer to recommend before an activation: its row's ``init`` (``he_normal`` for
    ReLU, GELU, SiLU; ``lecun_normal`` for tanh, SELU and no activation; ``glorot_normal`` for
    sigmoid)."""
    row = _row("identity" if act is None else act)
    return row.init if row is not None else "he_normal"


@functools.cache
def critical(act: str | None) -> float | None:
    """The critical sigma_w^2 (chi_1 = 1 at sigma_b^2 = 0) of the activation after a layer,
    from `initlab.theory` (never written by hand), where the audit judges a layer's scale by it:
    where the theory has one and the activation's usual initializer (its row's ``init``) sits
    at it (ReLU and He: 2; leaky ReLU; tanh and the identity with LeCun's 1). None elsewhere:
    sigmoid, GELU and SiLU have no critical point at sigma_b^2 = 0; SELU's is 0.48, at q* = 0,
    while SELU is used at its self-normalizing point sigma_w^2 = 1 (chaotic, chi_1 = 1.07); ELU's
    and softplus's critical points are not where He's initialization puts them. A layer with no
    activation after it is judged as the identity."""
    from initlab import initializers, theory

    act = "identity" if act is None else act
    row = _row(act)
    if row is None or row.grad is None:
        return None
    try:
        crit = float(theory.critical_sigma_w2(act))
    except InitlabError:
        return None
    usual = initializers.get(row.init).theory((1, 1))
    usual_sigma_w2 = usual["std"] ** 2 * usual["fan_in"] if usual.get("mode", "fan_in") == "fan_in" else None
    if usual_sigma_w2 is None or abs(usual_sigma_w2 / crit - 1) > 0.01:
        return None
    return round(crit, 6)  # 2.0 for ReLU, not 2.0000000000000266


# ----------------------------------------------------------------------------- weights
def _rounding_groups(
    rows: np.ndarray | None, dtype: torch.dtype, exact: list[list[int]] | None
) -> tuple[list[list[int]], float | None]:
    """Groups of units whose rows agree within 64 ulps of the largest entry (``dtype``'s ulps)
    and that the exact grouping split; and the largest difference inside them."""
    if rows is None or exact is None or not torch.is_floating_point(torch.empty(0, dtype=dtype)):
        return [], None
    atol = 64 * float(torch.finfo(dtype).eps) * float(np.nanmax(np.abs(rows), initial=0.0))
    if atol == 0.0:
        return [], None
    near = [g for g in group_rows(rows, atol) if len(g) > 1]
    exact_sets = {frozenset(g) for g in exact}
    near = [g for g in near if frozenset(g) not in exact_sets]
    if not near:
        return [], None
    diff = max(float(np.max(np.abs(rows[g] - rows[g[0]]))) for g in near)
    return near, diff


def symmetry(rows: torch.Tensor, *, fingerprints: bool = True) -> tuple[list[list[int]], list[list[int]], float | None]:
    """Exact groups of identical rows, groups equal up to rounding, and the largest difference in
    those; ``rows: (units, weights + bias)``.

    With ``fingerprints``, a screen first: each row is projected on a fixed random vector ``r``
    (in float64, over at most 256 of its entries, chosen with a fixed seed: rows within ``atol``
    everywhere are within it there too). Rows within ``atol`` (64 ulps of the largest entry, `_rounding_groups`'s
    tolerance) of each other project within ``atol * ||r||_1``, so in the sorted projections they
    sit in one run of neighbours that close. Only the rows of such runs are compared, pairwise;
    when no two are within ``atol`` every unit is distinct, and the full float64 grouping (which
    compares each row with every group) is skipped. A run longer than 64 rows, or any near pair,
    sends the whole matrix to the full grouping."""
    n = rows.shape[0]
    if n < 2:
        return [[0]] if n else [], [], None
    if fingerprints and rows.is_floating_point():
        g = torch.Generator(device="cpu").manual_seed(0)
        cols = rows.shape[1]
        pick = torch.randperm(cols, generator=g)[:256].sort().values if cols > 256 else slice(None)
        R = rows.detach()[:, pick].double()
        r = torch.randn(R.shape[1], generator=g, dtype=torch.float64)
        p = R @ r
        atol = 64 * float(torch.finfo(rows.dtype).eps) * float(rows.detach().abs().max())
        slack = atol * float(r.abs().sum()) * (1 + 1e-9) + 1e-12 * float(R.abs().max() * r.abs().sum())
        order = torch.argsort(p)
        close = (p[order].diff() <= slack).tolist()
        suspicious = False
        k = 0
        while k < len(close) and not suspicious:
            if not close[k]:
                k += 1
                continue
            j = k
            while j < len(close) and close[j]:
                j += 1
            run = order[k : j + 1]
            if len(run) > 64:
                suspicious = True
                break
            block = rows.detach()[run].double()
            diff = (block[:, None, :] - block[None, :, :]).abs().amax(-1)
            diff.fill_diagonal_(math.inf)
            suspicious = bool((diff <= atol).any())
            k = j + 1
        if not suspicious:
            return [[i] for i in range(n)], [], None
    R = rows.detach().double().cpu().numpy()
    exact = group_rows(R)
    near, diff = _rounding_groups(R, rows.dtype, exact)
    return exact, near, diff


def spectrum(M: torch.Tensor, mode: str = "fast", steps: int = 12) -> tuple[float, float]:
    """``(sv_max, sv_min)`` of ``M``.

    ``exact``: all singular values (``torch.linalg.svdvals``). ``fast``: exact when the smaller
    side is at most 128, else ``steps`` Lanczos steps (12: sv_max within 1%, sv_min within 1.5x
    on Gaussian matrices; each step reads ``M`` twice, the cost that counts) on the Gram matrix ``G = M M^T`` (the
    smaller side), with full reorthogonalization: the extreme Ritz values ``theta`` of the
    tridiagonal ``T`` give ``sv = sqrt(theta)``. The largest converges in a few steps; the
    smallest is an upper bound on the true ``sv_min`` (exact for an orthogonal matrix, where
    ``G = c I`` stops the recursion at once, and 0 for a matrix with a large null space).
    ``off``: NaN, NaN."""
    if mode == "off":
        return float("nan"), float("nan")
    M = M.detach().float()
    if M.shape[0] > M.shape[1]:
        M = M.T
    n = M.shape[0]
    if mode == "exact" or n <= 128:
        sv = torch.linalg.svdvals(M).double()
        return float(sv[0]), float(sv[-1])
    g = torch.Generator(device="cpu").manual_seed(0)
    v = torch.randn(n, generator=g, dtype=torch.float64).to(M.dtype)
    v = v / v.norm()
    V = [v]
    alphas, betas = [], []
    for _ in range(min(steps, n)):
        w = M @ (M.T @ V[-1])
        a = float(w @ V[-1])
        alphas.append(a)
        B = torch.stack(V, 1)
        w = w - B @ (B.T @ w)
        w = w - B @ (B.T @ w)  # twice is enough (Giraud et al. 2005)
        b = float(w.norm())
        if b <= 1e-6 * max(abs(a), 1e-30):
            break
        betas.append(b)
        V.append(w / b)
    k = len(alphas)
    T = np.diag(alphas) + np.diag(betas[: k - 1], 1) + np.diag(betas[: k - 1], -1)
    theta = np.linalg.eigvalsh(T)
    return float(np.sqrt(max(theta[-1], 0.0))), float(np.sqrt(max(theta[0], 0.0)))


def _round_std(std: float) -> float | None:
    """A std written with one significant digit in the usual conventions (0.02, 0.01, 0.002,
    0.05, 1, ...), when ``std`` is within 2% of one."""
    if std <= 0:
        return None
    p = 10 ** math.floor(math.log10(std))
    for d in (1, 2, 5):
        for q in (p, 10 * p):
            if abs(std / (d * q) - 1) < 0.02:
                return d * q
    return None


def looks_like(
    W,
    fan_in: int,
    fan_out: int,
    sv: np.ndarray | tuple | None = None,
    *,
    n_residual: int | None = None,
    base_std: float | None = None,
    embedding: bool = False,
    prefer: tuple[str, ...] = (),
) -> tuple[str, str]:
    """Which known initializer ``W`` resembles, and the evidence.

    The distribution's shape from its kurtosis ``E[(w - mean)^4] / std^4`` (1.8 uniform, about
    2.36 truncated normal, 3 normal), on at most 2^18 weights drawn with a fixed seed; then its
    std against, in order: PyTorch's default ``U(+-1/sqrt(fan_in))`` (std ``1/sqrt(3 fan_in)``);
    ``std = sqrt(scale / fan)`` with ``scale`` 1 (LeCun, Glorot) or 2 (He) and ``fan`` one of
    fan_in, (fan_in + fan_out)/2, fan_out (ResNet's ``kaiming_normal_(mode='fan_out')`` is
    ``variance_scaling:2,fan_out,normal``: one rule, one label); a fixed std written with one
    digit, ``random:0.02`` (GPT-2/BERT/Llama's ``initializer_range``; timm's
    ``trunc_normal_(std=.02)`` too, whose cut at +-2 is 100 std away); GPT-2's residual
    projections ``base_std / sqrt(n_residual)`` (``n_residual = 2 n_layer`` residual branches).
    An embedding is judged by its std alone (PyTorch's default there is N(0, 1)). Also zeros,
    constant, orthogonal (all singular values equal). ``sv``: ``(sv_max, ..., sv_min)`` when
    already computed. When several rules fit (a 3x3 conv with as many inputs as outputs has
    fan_in = fan_out), the first of ``prefer`` that fits is named (the audit passes the model's
    most common labels), else the closest; the others are in the evidence."""
    t = W if torch.is_tensor(W) else torch.from_numpy(np.ascontiguousarray(W))
    t = t.detach()
    flat = t.reshape(-1)
    lo, hi = torch.aminmax(flat)
    if float(lo) == float(hi):
        v = float(lo)
        return ("zeros" if v == 0 else f"constant:{v:g}"), "every weight equal"
    M = t.reshape(t.shape[0], -1)
    if sv is None:
        sv = spectrum(M, "exact" if M.numel() <= 1 << 16 else "fast")
    sv_max, sv_min = float(sv[0]), float(sv[-1])
    if sv_min > 0 and sv_max / sv_min < 1.001 and min(M.shape) > 1:
        return "orthogonal", f"all singular values equal ({sv_max:.4g}): an orthogonal matrix times {sv_max:.3g}"
    if flat.numel() > 1 << 18:
        g = torch.Generator(device="cpu").manual_seed(0)
        flat = flat[torch.randint(0, flat.numel(), (1 << 18,), generator=g)]
    w = flat.double()
    std = float(w.std(unbiased=False))
    kurt = float(((w - w.mean()) ** 4).mean() / std**4)
    family = "uniform" if kurt < 2.1 else "truncated_normal" if kurt < 2.7 else "normal"
    tol = max(0.05, 4 / np.sqrt(2 * w.numel()))  # a sample std's relative error is about 1/sqrt(2n)
    evidence = (
        f"{family.replace('_', ' ')} (kurtosis {kurt:.2f}), std {std:.4g}, "
        f"std*sqrt(fan_in) = {std * np.sqrt(fan_in):.3g}"
    )

    def near(target: float) -> bool:
        return abs(std / target - 1) < tol

    if embedding:
        if family == "normal" and near(1.0):
            return "pytorch_default", evidence + ": N(0, 1), nn.Embedding's default"
    else:
        avg = (fan_in + fan_out) / 2
        short = {"uniform": "uniform", "normal": "normal", "truncated_normal": "truncated_normal"}[family]
        table = [("pytorch_default", 1 / 3, fan_in)] if family == "uniform" else []
        table += [
            (f"lecun_{short}", 1, fan_in),
            (f"he_{short}", 2, fan_in),
            (f"glorot_{short}", 1, avg),
            (f"variance_scaling:1,fan_out,{family}", 1, fan_out),
            (f"variance_scaling:2,fan_out,{family}", 2, fan_out),
        ]
        fits = sorted(
            ((abs(std / np.sqrt(scale / n) - 1), name, n) for name, scale, n in table if near(np.sqrt(scale / n))),
            key=lambda f: (f[1] not in prefer, prefer.index(f[1]) if f[1] in prefer else 0, f[0]),
        )
        fits = [(name, n) for _, name, n in fits]
        if fits:
            name, n = fits[0]
            also = [f for f, _ in fits[1:] if f != name]
            more = f"; also {', '.join(also)} (within the sample's error)" if also else ""
            if "fan_out" in name:
                more += f"; kaiming_{family.split('_')[-1]}_(mode='fan_out'), ResNet's, fan_out = {fan_out}"
            return name, evidence + more
    if family != "uniform":
        if base_std and n_residual and n_residual > 1 and near(base_std / np.sqrt(n_residual)):
            half = n_residual // 2
            rule = f"2*{half}" if 2 * half == n_residual else f"{n_residual}"
            return (
                f"random:{base_std:g}/sqrt({rule})",
                evidence + f": GPT-2's residual projection, initializer_range / sqrt(2 n_layer) "
                f"= {base_std / np.sqrt(n_residual):.3g}",
            )
        r = _round_std(std)
        if r is not None:
            label = "random" if family == "normal" else "trunc_normal"
            note = ""
            if r == 0.02:
                note = (
                    ": GPT-2/BERT/Llama's initializer_range (timm's trunc_normal_(std=.02) is the same, "
                    "its cut at +-2 being 100 std away)"
                )
            return f"{label}:{r:g}", evidence + note
        return f"random:{std:.3g}", evidence
    return f"uniform(+-{float(flat.abs().max()):.3g})", evidence


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

    def to_dict(self) -> dict:
        return {
            "input_shape": self.input_shape,
            "passes": self.passes,
            "coverage": self.coverage,
            "layers": [x.to_dict() for x in self.layers],
            "residual": self.residual,
            "attention": self.attention,
            "output": self.output,
            "findings": self.findings,
        }

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
            f"audit of {len(self.layers)} layers on a batch of shape {tuple(self.input_shape)} "
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
        f"the model's forward returned a {type(output).__name__}: audit needs a tensor, a dict or "
        f"ModelOutput with 'logits', or a tuple whose first item is a tensor"
    )


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
        inside = [w for w in weights if a.info["since"] < w.index < a.index]
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
    layers = [x for _, x in sorted(zip(at, layers, strict=True), key=lambda p: p[0])]  # stable: in call order
    # several rules fit some layers (equal fans): name them as the model's other layers are named
    counts: dict[str, int] = {}
    for x in layers:
        also = re.search(r"; also ([^(;]+) \(within the sample's error\)", x.evidence)
        for label in [x.looks_like] + (also.group(1).split(", ") if also else []):
            counts[label] = counts.get(label, 0) + 1
    prefer = tuple(sorted(counts, key=lambda k: (-counts[k], "fan_out" in k)))
    for x in layers:
        if "; also " in x.evidence and x.role in ("linear", "linear_t", "conv", "conv_transpose"):
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
    return AuditReport(
        layers,
        coverage=_coverage(model, rec, layers),
        residual=residual,
        attention=attention,
        output=_output_summary(out, rec),
    )


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
    if rows is not None:
        exact, near, near_diff = symmetry(rows, fingerprints=fingerprints)
    else:
        exact, near, near_diff = None, [], None
    sv_max, sv_min = spectrum(M.reshape(M.shape[0], -1), sv_mode)
    like, evidence = looks_like(
        M,
        fan_in,
        fan_out,
        (sv_max, sv_min) if sv_mode != "off" else None,
        n_residual=n_residual,
        base_std=base_std,
        embedding=embedding,
    )
    mean_w2 = float(torch.linalg.vector_norm(M.float())) ** 2 / max(1, M.numel())  # no temporary
    sigma_w2 = fan_in * mean_w2
    x = e.inputs[0] if e.inputs else None
    mean_b2 = float(bias.double().pow(2).mean()) if bias is not None else 0.0
    constant = like == "zeros" or like.startswith("constant")
    predicted = None
    if torch.is_tensor(x) and x.is_floating_point() and not constant and not embedding and kind != "conv_transpose":
        predicted = sigma_w2 * float(x.detach().float().pow(2).mean()) + mean_b2
    role = _role(name, kind)
    crit = critical(act)
    if embedding:
        crit = None
        suits = f"an embedding: its output's second moment is mean(W^2) = {mean_w2:.3g}; no fan-in to judge by"
    elif norm_e is not None:
        crit = None
        suits = "not judged: a normalization layer follows, so its scale does not propagate"
    elif add is not None:
        crit = None
        suits = "judged with its residual branch, against the stream it is added to"
    elif role in ("q", "k", "v", "o"):
        crit = None
        suits = "judged by the attention logits it makes"
    elif crit is None:
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
    Zin = _units(act_e.inputs[0], axis) if act_e is not None and torch.is_tensor(act_e.inputs[0]) else Zt
    Zn = Zin.double().cpu().numpy()
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
        fan_in=int(fan_in),
        fan_out=int(fan_out),
        activation=act,
        effective_width=None if exact is None else len(exact),
        groups=[] if exact is None else [gr for gr in exact if len(gr) > 1],
        rounding_groups=near,
        rounding_difference=near_diff,
        dead_fraction=_dead(Zn, act),
        saturated_fraction=_saturated(Zn, act),
        preactivation_mean=float(Zt.double().mean()),
        preactivation_variance=float(Zt.double().var(unbiased=False)),
        activation_variance=float(A.detach().double().var()) if A is not None else float(Zt.double().var()),
        gradient_variance=float(g.double().var()) if g is not None else 0.0,
        gradient_energy=float(g.double().pow(2).sum()) / max(1, n_ex) if g is not None else 0.0,
        measured_q=float(Zt.double().pow(2).mean()),
        predicted_q=predicted,
        sv_max=sv_max,
        sv_min=sv_min,
        condition=sv_max / sv_min if sv_min > 0 else float("inf"),
        looks_like=like,
        evidence=evidence,
        sigma_w2=sigma_w2,
        critical_sigma_w2=crit,
        suits=suits,
        param=pname,
        role=role,
        std=float(M.float().std()) if M.numel() > 1 else 0.0,
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
            b_ih = b_ih.detach() if b_ih is not None else torch.zeros(W_ih.shape[0])
            b_hh = b_hh.detach() if b_hh is not None else torch.zeros(W_hh.shape[0])
            h = torch.zeros(B, H, dtype=x.dtype)
            c = torch.zeros(B, H, dtype=x.dtype)
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
                exact, near, near_diff = symmetry(rows, fingerprints=fingerprints)
                Mg = torch.cat([W_ih[sl], W_hh[sl]], 1)
                sv_max, sv_min = spectrum(Mg, sv_mode)
                like, evidence = looks_like(Mg, Mg.shape[1], H, (sv_max, sv_min) if sv_mode != "off" else None)
                Zt = P[..., sl].reshape(-1, H).T
                Zn = Zt.double().numpy()
                fan_in = Mg.shape[1]
                sigma_w2 = fan_in * float(Mg.double().pow(2).mean())
                out.append(
                    LayerAudit(
                        name=f"{name}.l{layer}{sfx}[{gate}]",
                        type=rnn_type,
                        shape=list(Mg.shape),
                        width=H,
                        fan_in=fan_in,
                        fan_out=H,
                        activation=act,
                        effective_width=len(exact),
                        groups=[gr for gr in exact if len(gr) > 1],
                        rounding_groups=near,
                        rounding_difference=near_diff,
                        dead_fraction=None,
                        saturated_fraction=_saturated(Zn, act),
                        preactivation_mean=float(Zt.mean()),
                        preactivation_variance=float(Zt.var(unbiased=False)),
                        activation_variance=float(getattr(torch, act)(Zt).var()),
                        gradient_variance=float(g.double().var()) if g is not None else 0.0,
                        gradient_energy=float(g.double().pow(2).sum()) / max(1, B) if g is not None else 0.0,
                        measured_q=float(Zt.double().pow(2).mean()),
                        predicted_q=None,
                        sv_max=sv_max,
                        sv_min=sv_min,
                        condition=sv_max / sv_min if sv_min > 0 else float("inf"),
                        looks_like=like,
                        evidence=evidence,
                        sigma_w2=sigma_w2,
                        critical_sigma_w2=None,
                        suits="not judged by a critical point: a recurrent gate (see the saturated fraction)",
                        param=f"{name}.weight_ih_l{layer}{sfx}, weight_hh_l{layer}{sfx} [{gate}]",
                        role=f"{rnn_type.lower()}:{gate}",
                        std=float(Mg.double().std()),
                    )
                )
        inp = torch.cat(outs, -1)
    return out


def _attention(e: Event) -> dict | None:
    """The attention logits' std over the unmasked (query, key) pairs and the rows' entropy
    against uniform attention, on at most 2 examples x 64 queries (all heads)."""
    if e.op == "sdpa":
        q, k = e.inputs
        if q.dim() < 3 or k.dim() < 3:
            return None
        q = q[:2, ..., :64, :].double()
        k = k[:2].double()
        if k.shape[-3] != q.shape[-3] and q.dim() == 4 and q.shape[1] % k.shape[1] == 0:
            k = k.repeat_interleave(q.shape[1] // k.shape[1], dim=1)  # grouped-query attention
        scale = e.info["scale"] if e.info["scale"] is not None else 1 / math.sqrt(q.shape[-1])
        S = (q @ k.transpose(-1, -2)) * scale
        valid = torch.ones_like(S, dtype=torch.bool)
        if e.info["causal"]:
            Lq, Lk = S.shape[-2], S.shape[-1]
            valid = valid & torch.ones(Lq, Lk, dtype=torch.bool).tril(Lk - Lq - 0 if Lk >= Lq else 0)[:Lq]
        mask = e.info["mask"]
        if torch.is_tensor(mask):
            m = mask[:2, ..., :64, :] if mask.dim() >= 2 else mask
            m = m.expand(*S.shape) if m.dim() == S.dim() else m.broadcast_to(S.shape)
            if m.dtype == torch.bool:
                valid = valid & m
            else:
                S = S + m.double()
                valid = valid & (m > -1e4)
        head_dim = q.shape[-1]
    else:
        S = e.inputs[0][:2, :, :64].double()
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


# ----------------------------------------------------------------------------- findings
def _dead_words(act: str | None) -> str:
    """What dead means for the activation, in words."""
    return "z <= 0" if act == "relu" else f"|g'(z)| < {SATURATION_THRESHOLD} of its maximum"


def _finding(layer, severity, kind, message) -> dict:
    return {"layer": layer, "severity": severity, "kind": kind, "message": message}


def _convention_fix(report: AuditReport, x: LayerAudit | None = None) -> str:
    """The advice for transformer-style layers: the model's own convention where it has one."""
    return (
        "initialize it as GPT-2/BERT/Llama do: normal std 0.02 (initializer_range), "
        "the branches' last projections 0.02/sqrt(2 n_layer)"
    )


def findings(report: AuditReport | list[LayerAudit]) -> list[dict]:
    """What is wrong, in plain words, each with its fix (and ``info`` for conventions seen)."""
    if isinstance(report, list):
        report = AuditReport(report)
    layers = report.layers
    out: list[dict] = []

    def zero(x: LayerAudit) -> bool:
        return x.looks_like == "zeros"

    # attention projections zeroed in pairs: each one's gradient is proportional to the other
    paired: set[str] = set()
    groups: dict[str, dict[str, LayerAudit]] = {}
    for x in layers:
        if x.role in ("q", "k", "v", "o"):
            groups.setdefault(_attention_block(x.name), {})[x.role] = x
    for block, roles in groups.items():
        for a, b, why in (
            (
                "q",
                "k",
                "the attention logits q.k are 0 for every pair, and dL/dW_q is proportional to W_k "
                "(and dL/dW_k to W_q): neither ever moves, so the attention stays uniform",
            ),
            (
                "v",
                "o",
                "the branch's output is 0, and dL/dW_o is proportional to W_v's output (and dL/dW_v "
                "to W_o): neither ever moves, so the attention branch stays off",
            ),
        ):
            if a in roles and b in roles and zero(roles[a]) and zero(roles[b]):
                paired.update({roles[a].name, roles[b].name})
                out.append(
                    _finding(
                        roles[a].name,
                        "error",
                        "attention",
                        f"{block}: {roles[a].name} and {roles[b].name} are both zero: {why}; "
                        f"initialize them with normal std 0.02 (GPT-2/BERT/Llama's initializer_range), "
                        f"keeping at most the output projection at zero",
                    )
                )
    for i, x in enumerate(layers):
        last = i == len(layers) - 1
        fix = recommended(x.activation)
        unit = "channels" if "Conv" in x.type or x.role in ("conv", "conv_transpose") else "units"
        constant = x.looks_like == "zeros" or x.looks_like.startswith("constant")
        if x.name in paired:
            pass
        elif x.branch_end and zero(x):
            out.append(
                _finding(
                    x.name,
                    "info",
                    "convention",
                    f"{x.name}: zero, and it ends a residual branch: the block starts as the identity "
                    f"(the SkipInit/Fixup/ReZero convention; De & Smith 2020, Zhang et al. 2019); its "
                    f"gradient is not zero, so it learns",
                )
            )
        elif x.rounding_groups:
            distinct = x.width - sum(len(g) - 1 for g in x.rounding_groups)
            out.append(
                _finding(
                    x.name,
                    "error",
                    "symmetry",
                    f"{x.name}: {distinct} of {x.width} {unit} distinct up to rounding "
                    f"(largest difference {x.rounding_difference:.3g}): they compute the same "
                    f"function but for float rounding, so they started identical; initialize with {fix}",
                )
            )
        elif x.effective_width is not None and x.effective_width < x.width:
            why = "weights are constant" if constant else "some rows are identical"
            rfix = (
                "reset_parameters() (PyTorch's default U(+-1/sqrt(hidden))), or orthogonal W_hh and glorot_uniform W_ih"
                if x.role.startswith(("lstm", "gru"))
                else fix
            )
            out.append(
                _finding(
                    x.name,
                    "error",
                    "symmetry",
                    f"{x.name}: {x.effective_width} of {x.width} {unit} distinct: {why}; initialize with {rfix}",
                )
            )
        elif constant and x.role != "embedding":
            out.append(
                _finding(
                    x.name,
                    "error",
                    "symmetry",
                    f"{x.name}: weights are constant ({x.looks_like}): only the biases tell its "
                    f"{x.width} {unit} apart, and every weight row gets the same update up to them; "
                    f"initialize with {fix}",
                )
            )
        if x.dead_fraction is not None and x.dead_fraction >= 0.5:
            cause = f"check the biases and initialize with {fix}"
            if x.norm is not None and x.norm_bias_mean is not None and x.norm_bias_mean < -1:
                cause = (
                    f"the normalization between ({x.norm}) has biases of mean {x.norm_bias_mean:.3g}, so "
                    f"z = gamma * x_hat + beta sits below 0: set its biases to 0 (nn.init.zeros_, "
                    f"PyTorch's default)"
                )
            out.append(
                _finding(
                    x.name,
                    "warning",
                    "dead",
                    f"{x.name}: {100 * x.dead_fraction:.0f}% of its {x.activation} {unit} are dead on this "
                    f"batch ({_dead_words(x.activation)} on every example, measured on what the "
                    f"activation receives): they pass (almost) no gradient back; {cause}",
                )
            )
        if x.saturated_fraction is not None and x.saturated_fraction >= 0.3:
            out.append(
                _finding(
                    x.name,
                    "warning",
                    "saturated",
                    f"{x.name}: {100 * x.saturated_fraction:.0f}% of its {x.activation} {unit} are "
                    f"saturated (g'(z) < {SATURATION_THRESHOLD} of its maximum): the weights are too "
                    f"large ({x.looks_like}); initialize with "
                    + (
                        "reset_parameters() (PyTorch's default U(+-1/sqrt(hidden)))"
                        if x.role.startswith(("lstm", "gru"))
                        else fix
                    ),
                )
            )
        if x.critical_sigma_w2 is not None and not x.suits.startswith("suits") and not constant and not last:
            out.append(
                _finding(
                    x.name,
                    "warning",
                    "scale",
                    f"{x.name}: init {x.suits} for {x.activation or 'no activation'}; "
                    f"weights look like {x.looks_like}: initialize with {fix}",
                )
            )
    out += _residual_findings(report)
    out += _attention_findings(report)
    o = report.output
    if o.get("logits") and o["initial_loss"] - o["uniform_loss"] > LOGIT_EXCESS_NATS:
        head = next((x for x in reversed(layers) if x.role in ("linear", "linear_t")), None)
        hname = head.name if head else "the output layer"
        out.append(
            _finding(
                hname,
                "warning",
                "logits",
                f"the output logits have std {o['std']:.3g} at init: a cross-entropy loss starts at "
                f"{o['initial_loss']:.3g} nats against ln({o['shape'][-1]}) = {o['uniform_loss']:.3g} for a "
                f"uniform guess, and the first steps go to shrinking them; {hname} looks like "
                f"{head.looks_like if head else '?'}: initialize it small (normal std 0.02, or zeros as "
                f"in muP's readout)",
            )
        )
    if not report.residual:
        chain = [x for x in layers if x.role not in ("embedding",) and not x.role.startswith(("lstm", "gru"))]
        signal = [x.measured_q for x in chain if x.measured_q > 0]
        if len(signal) >= 3:
            r = signal[-1] / signal[0]
            if r < 1e-2 or r > 1e2:
                out.append(
                    _finding(
                        None,
                        "warning",
                        "propagation",
                        f"the signal's second moment changes by a factor {r:.2g} from the first "
                        f"layer to the last: it {'vanishes' if r < 1 else 'explodes'} with depth",
                    )
                )
        grads = [x.gradient_energy for x in chain if x.gradient_energy > 0]
        if len(grads) >= 3:
            r = grads[0] / grads[-1]
            if r < 1e-2 or r > 1e2:
                out.append(
                    _finding(
                        None,
                        "warning",
                        "propagation",
                        f"the gradient reaching the first layer carries {r:.2g} times the energy "
                        f"(sum of squares per example) of the gradient at the last: gradients "
                        f"{'vanish' if r < 1 else 'explode'} on the way back",
                    )
                )
    return out


def _attention_block(name: str) -> str:
    """The attention block a projection belongs to: its name up to the attention module
    (``h.0.attn.c_attn[q]`` -> ``h.0.attn``; ``encoder.layer.0.attention.self.query`` ->
    ``encoder.layer.0.attention``)."""
    name = re.sub(r"\[[qkv]\]$", "", name)
    m = re.match(r"(.*?\.(attn|attention|self_attn|self_attention|mha))(\.|$)", name)
    if m:
        return m.group(1)
    return name.rsplit(".", 1)[0] if "." in name else name


def _residual_findings(report: AuditReport) -> list[dict]:
    """A branch that dwarfs its stream; a pre-LN stream that grows with depth while its branch
    ends are not scaled for depth (GPT-2's convention)."""
    out = []
    res = report.residual
    if not res:
        return out
    by_name = {x.name: x for x in report.layers}
    dwarfs = [r for r in res if r["stream_rms"] > 0 and r["ratio"] > DWARF_RATIO]
    if dwarfs:
        worst = max(dwarfs, key=lambda r: r["ratio"])
        layers = [by_name[n] for n in worst["branch_layers"] if n in by_name]
        looks = ", ".join(sorted({x.looks_like for x in layers})) or "?"
        out.append(
            _finding(
                worst["branch_end"] or worst["block"],
                "warning",
                "residual",
                f"{len(dwarfs)} of {len(res)} residual branches dwarf the stream they are added to "
                f"(worst: {worst['block']}, branch RMS {worst['branch_rms']:.3g} on a stream of RMS "
                f"{worst['stream_rms']:.3g}, x{worst['ratio']:.3g}): the blocks do not start near the "
                f"identity, so the signal and its gradient are remade at every block; the branch's "
                f"layers look like {looks}: {_convention_fix(report)}",
            )
        )
    pre = [r for r in res if r["pre_norm"]]
    if len(pre) >= 4:
        growth = pre[-1]["out_rms"] / max(pre[0]["out_rms"], 1e-300)
        ends = [by_name[r["branch_end"]] for r in pre if r["branch_end"] in by_name]
        others = [x.std for x in report.layers if x.branch is not None and not x.branch_end and x.std > 0]
        base = float(np.median(others)) if others else None
        scaled = bool(ends and base and np.median([x.std for x in ends]) < 0.75 * base)
        if growth > GROWTH_RATIO and not scaled and not dwarfs:
            n = len(pre)
            b = _round_std(base) or base if base else 0.02
            out.append(
                _finding(
                    ends[-1].name if ends else pre[-1]["block"],
                    "warning",
                    "residual",
                    f"the residual stream grows with depth: its RMS goes from {pre[0]['out_rms']:.3g} after the "
                    f"first branch to {pre[-1]['out_rms']:.3g} after the last (x{growth:.3g} over {n} "
                    f"branches): every branch adds about the same variance, so the stream grows like "
                    f"sqrt(branches) and each later block's update is a smaller share of it. GPT-2 "
                    f"(Radford et al. 2019, sec. 2.3) scales the last projection of every residual branch "
                    f"({', '.join(sorted({re.sub(r'[0-9]+', 'N', x.name) for x in ends}))}) by 1/sqrt(N) for "
                    f"N = {n} residual layers: std {b:.3g}/sqrt({n}) = {b / math.sqrt(n):.3g} here, so that "
                    f"the sum of all branches has the variance of one",
                )
            )
    return out


def _attention_findings(report: AuditReport) -> list[dict]:
    """Attention rows far from uniform at init (one-hot softmax: little gradient to the keys)."""
    sharp = [a for a in report.attention if a["entropy_ratio"] < ATTENTION_ENTROPY]
    if not sharp:
        return []
    worst = min(sharp, key=lambda a: a["entropy_ratio"])
    scale_words = ""
    if worst["scale"] is not None and worst["head_dim"]:
        usual = 1 / math.sqrt(worst["head_dim"])
        scale_words = (
            f" The scale is {worst['scale']:.3g}"
            + (
                f", not 1/sqrt(d_head) = {usual:.3g}: scale q.k by 1/sqrt(d_head)"
                if abs(worst["scale"] / usual - 1) > 0.01
                else " = 1/sqrt(d_head), so q and k themselves are too large"
            )
            + "."
        )
    qk = [
        x
        for x in report.layers
        if x.role in ("q", "k") and _attention_block(x.name) == _attention_block(worst["scope"] + ".q")
    ]
    looks = ", ".join(sorted({x.looks_like for x in qk})) if qk else None
    return [
        _finding(
            worst["scope"],
            "warning",
            "attention",
            f"{len(sharp)} of {len(report.attention)} attention calls are nearly one-hot at init "
            f"(worst {worst['scope']}: logits std {worst['logits_std']:.3g}, "
            f"entropy {100 * worst['entropy_ratio']:.0f}% of uniform's, max probability "
            f"{worst['max_prob']:.2f}): softmax passes little gradient "
            f"to the keys it ignores.{scale_words}"
            + (f" q and k look like {looks}: " if looks else " ")
            + "initialize q and k with normal std 0.02 (initializer_range) or smaller",
        )
    ]


# ----------------------------------------------------------------------------- the face's helpers
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
            names = [n for n in dir(module) if callable(getattr(module, n)) and not n.startswith("_")]
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
            raise InitlabError(
                f"checkpoint {checkpoint} does not fit the model: {str(e).strip().splitlines()[0]}"
            ) from None
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


def write_audit_report(report: AuditReport, out_dir) -> dict:
    """``report.html`` (findings, the per-layer table, variance per layer) and ``results.json``."""
    from initlab.report.html import figure, png, render_page, write_page

    fig, ax = figure(1, width=7.5, height=3.6)
    idx = np.arange(1, len(report.layers) + 1)
    ax[0, 0].plot(idx, [x.activation_variance for x in report.layers], "o-", label="activation variance")
    ax[0, 0].plot(idx, [max(x.gradient_variance, 1e-300) for x in report.layers], "s-", label="gradient variance")
    pred = [x.predicted_q if x.predicted_q is not None else np.nan for x in report.layers]
    ax[0, 0].plot(idx, [x.measured_q for x in report.layers], "^-", label="pre-activation q (measured)")
    ax[0, 0].plot(idx, pred, "k--", label="q predicted from the layer's input")
    ax[0, 0].set_yscale("log")
    ax[0, 0].set_xticks(idx, [x.name for x in report.layers], rotation=45, ha="right", fontsize=7)
    ax[0, 0].legend(frameon=False, fontsize=8)
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
<div class="scroll"><table>
<tr><th>layer</th><th>type</th><th>activation</th><th>width</th><th>distinct</th><th>dead</th><th>saturated</th>
<th>var(activation)</th><th>var(gradient)</th><th>q measured</th><th>q predicted</th><th>sv max</th><th>sv min</th>
<th>looks like</th><th>for its activation</th></tr>
{% for x in r.layers %}<tr><td>{{ x.name }}</td><td class="label">{{ x.type }}</td>
<td class="label">{{ x.activation or "-" }}</td>
<td>{{ x.width }}</td><td>{{ x.effective_width if x.effective_width is not none else "-" }}</td>
<td>{{ "%.2f"|format(x.dead_fraction) if x.dead_fraction is not none else "-" }}</td>
<td>{{ "%.2f"|format(x.saturated_fraction) if x.saturated_fraction is not none else "-" }}</td>
<td>{{ "%.3g"|format(x.activation_variance) }}</td><td>{{ "%.3g"|format(x.gradient_variance) }}</td>
<td>{{ "%.3g"|format(x.measured_q) }}</td>
<td>{{ "%.3g"|format(x.predicted_q) if x.predicted_q is not none else "-" }}</td>
<td>{{ "%.3g"|format(x.sv_max) }}</td><td>{{ "%.3g"|format(x.sv_min) }}</td>
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
