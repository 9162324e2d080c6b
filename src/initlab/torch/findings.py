"""The audit's findings: what is wrong with a model's initialization, in plain words, each with
its fix, and never advice that undoes a known convention (GPT-2's residual scaling, the zero
branch ends of SkipInit/Fixup). Reads an `AuditReport`; the thresholds below say where they come
from.
"""

from __future__ import annotations

import functools
import math
import re
from typing import TYPE_CHECKING

import numpy as np

from initlab.diagnose import SATURATION_THRESHOLD
from initlab.errors import InitlabError
from initlab.nn.activations import ACTIVATIONS, Activation
from initlab.torch.weights import _round_std

if TYPE_CHECKING:
    from initlab.torch.audit import AuditReport, LayerAudit

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
#: A layer inside a residual branch or attention is judged too large when its
#: ``sigma_w^2 = fan_in * mean(W^2)`` exceeds this: its outputs' RMS is more than 5.7x its
#: inputs'. The 0.02 convention stays far below it (hidden 768: 0.31; a 28672-wide down-projection,
#: Llama-70B's: 11.5); N(0, 1) weights reach fan_in.
BRANCH_SIGMA_W2 = 32.0
#: Attention is judged too sharp at init when its rows' entropy is below this fraction of the
#: uniform attention's ln(keys) (rows with at least 8 keys).
ATTENTION_ENTROPY = 0.5


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
    activation after it is judged as the identity.

    The theory's answer within 1% of the usual ``sigma_w^2 = u``, found where it can be: `_near`
    looks only in ``[0.99 u, 1.01 u]`` (a few `theory.chi1` calls, not the bisection over
    ``[1e-3, 100]`` that cost the first audit of a process half a second to a second per
    activation); where that is not conclusive, the theory's own search decides."""
    from initlab import initializers, theory

    act = "identity" if act is None else act
    row = _row(act)
    if row is None or row.grad is None:
        return None
    usual = initializers.get(row.init).theory((1, 1))
    if usual.get("mode", "fan_in") != "fan_in":
        return None
    usual_sigma_w2 = usual["std"] ** 2 * usual["fan_in"]
    near = _near(act, usual_sigma_w2)
    if near is False:
        return None
    if near is None:  # not conclusive: the theory's search over [1e-3, 100]
        try:
            near = float(theory.critical_sigma_w2(act))
        except InitlabError:
            return None
        if abs(usual_sigma_w2 / near - 1) > 0.01:
            return None
    return round(near, 6)  # 2.0 for ReLU, not 2.0000000000000266


def _near(act: str, u: float, rel: float = 1e-7) -> float | bool | None:
    """Where ``chi_1`` crosses 1 within ``[0.99 u, 1.01 u]``, to ``rel`` (the audit keeps 6
    digits); False when it does not there (no sign change of ``chi_1 - 1``); None when a few
    secant steps do not settle it, or ``chi_1`` rises by more than 1e-6 across the final bracket
    (a jump over 1, or a steep rise, as softplus's at 2: the theory's own search decides).
    ``chi_1`` at ``sigma_b^2 = 0`` increases with ``sigma_w^2`` where the theory finds a critical
    point (it bisects on ``chi_1 > 1``), so a crossing in the bracket is the one it finds. Usually
    the crossing is ``u`` itself (ReLU and He, tanh and LeCun): the first call, at ``0.99 u,
    u (1 -+ rel), 1.01 u``, finds it; each further step is one call at two points."""
    from initlab import theory

    def f(*x):
        return (np.asarray(theory.chi1(act, np.array(x), 0.0), dtype=float) - 1).tolist()

    a, lo, hi, b = 0.99 * u, u * (1 - rel), u * (1 + rel), 1.01 * u
    fa, flo, fhi, fb = f(a, lo, hi, b)
    if not (fa < 0 < fb):
        return False
    if flo < 0 <= fhi:  # a steep rise (softplus) or a jump over 1 (no critical point): the theory decides
        return None if fhi - flo > 1e-6 else u
    a, fa, b, fb = (a, fa, lo, flo) if flo >= 0 else (hi, fhi, b, fb)
    for _ in range(8):
        r = a - fa * (b - a) / (fb - fa)  # the secant's root, inside (a, b)
        lo, hi = r * (1 - rel), r * (1 + rel)
        flo, fhi = f(lo, hi)
        if flo < 0 <= fhi:
            return None if fhi - flo > 1e-6 else r
        if fhi < 0:
            a, fa = hi, fhi
        else:
            b, fb = lo, flo
        if not (fa < 0 <= fb) or a >= b:
            return None
    return None


def _dead_words(act: str | None) -> str:
    """What dead means for the activation, in words."""
    return "z <= 0" if act == "relu" else f"|g'(z)| < {SATURATION_THRESHOLD} of its maximum"


def _finding(layer, severity, kind, message) -> dict:
    return {"layer": layer, "severity": severity, "kind": kind, "message": message}


#: The advice for the layers of a transformer's residual branches: its own convention.
CONVENTION_FIX = (
    "initialize it as GPT-2/BERT/Llama do: normal std 0.02 (initializer_range), "
    "the branches' last projections 0.02/sqrt(2 n_layer)"
)


def _convention_fix(report, bad: list) -> str:
    """The fix for branch layers that are off: the model's own convention, read from its other
    branch layers (the most common label), and GPT-2/BERT/Llama's only where that is the model's
    (or nothing else is known). A trial found a ResNet told to use std 0.02 and T5, whose layers
    are LeCun-like, told the same."""
    from collections import Counter

    skip = {id(x) for x in bad}
    others = [
        x.looks_like
        for x in report.layers
        if (x.branch is not None or x.role in ("q", "k", "v", "o"))
        and id(x) not in skip
        and x.sigma_w2 <= BRANCH_SIGMA_W2  # off scale too: not a convention to follow (all N(0, 1))
        and x.looks_like != "zeros"
        and not x.looks_like.startswith("constant")
        and not x.tied_to
    ]
    if not others:
        return CONVENTION_FIX
    label = Counter(others).most_common(1)[0][0]
    if "0.02" in label:
        return CONVENTION_FIX
    return f"initialize them as the model's other branch layers are ({label})"


def findings(report: AuditReport | list[LayerAudit]) -> list[dict]:
    """What is wrong, in plain words, each with its fix (and ``info`` for conventions seen)."""
    if isinstance(report, list):
        from initlab.torch.audit import AuditReport

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
    same_heads = set()  # attention blocks with identical heads: one finding for the block, not one per q/k/v
    for a in report.attention:
        block = _attention_block(a["scope"] + ".q")
        if a.get("head_groups") and not any(_attention_block(n) == block for n in paired):  # zeros: said above
            same_heads.add(block)
            distinct = a["heads"] - sum(len(g) - 1 for g in a["head_groups"])
            pairs = "; ".join(" and ".join(f"{h}" for h in g) for g in a["head_groups"])
            out.append(
                _finding(
                    block,
                    "error",
                    "symmetry",
                    f"{block}: {distinct} of {a['heads']} attention heads distinct: heads {pairs} are identical "
                    f"(their rows of q, k and v, biases included, and their columns of the output projection): "
                    f"they compute the same attention and receive the same gradient, so they stay identical; "
                    f"draw every head at random (normal std 0.02, GPT-2/BERT/Llama's initializer_range)",
                )
            )
    for i, x in enumerate(layers):
        last = i == len(layers) - 1
        fix = recommended(x.activation)
        conv = x.role in ("conv", "conv_transpose") or (x.type.startswith("Conv") and x.role != "linear_t")
        unit = "channels" if conv else "units"
        if x.role in ("q", "k", "v", "o") and _attention_block(x.name) in same_heads:
            x_sym = False  # said once for the block, by heads
        else:
            x_sym = True
        constant = x.looks_like == "zeros" or x.looks_like.startswith("constant")
        # an LSTM/GRU gate is drawn by the module itself: initlab.torch.initialize does not reach it
        rfix = (
            "reset_parameters() (PyTorch's default U(+-1/sqrt(hidden))), or orthogonal W_hh and glorot_uniform W_ih"
            if x.role.startswith(("lstm", "gru"))
            else fix
        )
        if x.name in paired or x.tied_to:
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
        elif x.rounding_groups and x_sym:
            distinct = x.width - sum(len(g) - 1 for g in x.rounding_groups)
            out.append(
                _finding(
                    x.name,
                    "error",
                    "symmetry",
                    f"{x.name}: {distinct} of {x.width} {unit} distinct up to rounding "
                    f"(largest difference {x.rounding_difference:.3g}): they compute the same "
                    f"function but for float rounding, so they started identical; initialize with {rfix}",
                )
            )
        elif x.effective_width is not None and x.effective_width < x.width and x_sym:
            why = "weights are constant" if constant else "some rows are identical"
            out.append(
                _finding(
                    x.name,
                    "error",
                    "symmetry",
                    f"{x.name}: {x.effective_width} of {x.width} {unit} distinct: {why}; initialize with {rfix}",
                )
            )
        elif x.constant_parts and not constant:
            pass  # an RNN layer's constant weight: said once for the layer, below
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
            if x.preactivation_mean**2 > x.preactivation_variance:  # mean^2 > variance: a shift, not a spread
                cause = (
                    f"its pre-activations sit off centre (mean {x.preactivation_mean:.3g} against a "
                    f"spread of {math.sqrt(x.preactivation_variance):.3g}): check the biases (zeros, "
                    f"PyTorch's default scale) and the inputs' mean"
                )
            elif x.role.startswith(("lstm", "gru")):
                cause = (
                    f"the weights are too large ({x.looks_like}); initialize with reset_parameters() "
                    f"(PyTorch's default U(+-1/sqrt(hidden)))"
                )
            else:
                cause = f"the weights are too large ({x.looks_like}); initialize with {fix}"
            out.append(
                _finding(
                    x.name,
                    "warning",
                    "saturated",
                    f"{x.name}: {100 * x.saturated_fraction:.0f}% of its {x.activation} {unit} are "
                    f"saturated (g'(z) < {SATURATION_THRESHOLD} of its maximum): {cause}",
                )
            )
        convention = bool(report.residual) and x.looks_like in ("random:0.02", "trunc_normal:0.02")
        if convention and x.critical_sigma_w2 is not None and not x.suits.startswith("suits") and not last:
            out.append(  # a transformer's head or an MLP layer its residual search missed (OPT)
                _finding(
                    x.name,
                    "info",
                    "convention",
                    f"{x.name}: normal std 0.02 (the model's initializer_range, GPT/BERT/Llama's "
                    f"convention), sigma_w^2 = {x.sigma_w2:.3g} ({x.suits} for {x.activation or 'no activation'} "
                    f"in a plain chain); kept: its input is normalized by the stream's norms",
                )
            )
        elif x.critical_sigma_w2 is not None and not x.suits.startswith("suits") and not constant and not last:
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
    out += _rnn_findings(layers)
    out += _norm_findings(report)
    out += _embedding_findings(report)
    out += _logit_findings(report, out)
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
    big = [
        x
        for x in report.layers
        if (x.branch is not None or x.role in ("q", "k", "v", "o")) and x.sigma_w2 > BRANCH_SIGMA_W2
    ]
    if big:
        names = ", ".join(x.name for x in big[:6]) + (f" and {len(big) - 6} more" if len(big) > 6 else "")
        out.append(
            _finding(
                big[0].name,
                "warning",
                "scale",
                f"{len(big)} layers of the residual branches are far too large: sigma_w^2 = fan_in * mean(W^2) "
                f"from {min(x.sigma_w2 for x in big):.3g} to {max(x.sigma_w2 for x in big):.3g} (above "
                f"{BRANCH_SIGMA_W2:g}: each multiplies its input's RMS by more than 5.7): {names}; they look "
                f"like {', '.join(sorted({x.looks_like for x in big}))}: {_convention_fix(report, big)}",
            )
        )
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
                f"layers look like {looks}: {_convention_fix(report, layers)}",
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


def _logit_findings(report: AuditReport, found: list[dict]) -> list[dict]:
    """Logits too large at init, blamed on what makes them: the readout when it amplifies (its
    sigma_w^2 above He's 2), else its input (a norm's gain, or the layers before: the findings
    already made); nothing more when the readout is an embedding tied to it that is already
    reported."""
    o = report.output
    if not (o.get("logits") and o["initial_loss"] - o["uniform_loss"] > LOGIT_EXCESS_NATS):
        return []
    head = next((x for x in reversed(report.layers) if x.role in ("linear", "linear_t")), None)
    if head is not None and head.tied_to and any(f["layer"] == head.tied_to for f in found):
        return []  # the embedding's finding says it, naming both
    hname = head.name if head else "the output layer"
    size = (
        f"the output logits have std {o['std']:.3g} at init: a cross-entropy loss starts at "
        f"{o['initial_loss']:.3g} nats against ln({o['shape'][-1]}) = {o['uniform_loss']:.3g} for a "
        f"uniform guess, and the first steps go to shrinking them"
    )
    if head is None or head.sigma_w2 > 2 or head.input_rms is None:
        looks = head.looks_like if head else "?"
        tied = f" (tied to {head.tied_to})" if head is not None and head.tied_to else ""
        return [
            _finding(
                hname,
                "warning",
                "logits",
                f"{size}; {hname}{tied} looks like {looks}: initialize it small (normal std 0.02, or zeros "
                f"as in muP's readout)",
            )
        ]
    norm = next((n for n in report.norms if n["name"] == head.input_norm), None)
    fine = f"{hname} itself is fine ({head.looks_like}, sigma_w^2 = {head.sigma_w2:.3g})"
    if norm is not None and abs(norm["gain_mean"]) > 2:
        return [
            _finding(
                norm["name"],
                "warning",
                "logits",
                f"{size}; {fine}, but its input has RMS {head.input_rms:.3g}: {norm['name']}'s gain "
                f"({norm['gain']}) has mean {norm['gain_mean']:.3g}: set it to ones (nn.init.ones_, PyTorch's default)",
            )
        ]
    before = [f["layer"] for f in found if f["severity"] != "info" and f["layer"] and f["layer"] != hname]
    return [
        _finding(
            hname,
            "info" if before else "warning",
            "logits",
            f"{size}; {fine}: its input has RMS {head.input_rms:.3g}"
            + (
                f", made by the layers found above ({', '.join(before[:3])})"
                if before
                else ": scale what feeds it down"
            ),
        )
    ]


def _rnn_findings(layers: list[LayerAudit]) -> list[dict]:
    """An RNN layer with one weight constant on its own (W_hh = 0.1, W_ih random): its units stay
    distinct by W_ih, but every unit receives the same recurrent input c * sum(h), a rank-1
    recurrence; one finding per layer, naming the gates."""
    out, seen = [], {}
    for x in layers:
        whole = x.looks_like == "zeros" or x.looks_like.startswith("constant")  # said as a symmetry
        if x.constant_parts and not whole and (x.effective_width is None or x.effective_width == x.width):
            seen.setdefault(x.name.split("[")[0], []).append(x)
    for name, gates in seen.items():
        parts = sorted({p for x in gates for p in x.constant_parts})
        letters = ", ".join(x.name.split("[")[-1].rstrip("]") for x in gates)
        out.append(
            _finding(
                gates[0].name,
                "warning",
                "constant",
                f"{name}: {'; '.join(parts)}: constant in gates {letters}: every unit receives the same "
                f"input through it (the constant times the sum of the inputs it reads), a rank-1 map that "
                f"the units tell apart only through the other weight; initialize with reset_parameters() "
                f"(PyTorch's default U(+-1/sqrt(hidden))), or orthogonal W_hh and glorot_uniform W_ih",
            )
        )
    return out


def _norm_findings(report: AuditReport) -> list[dict]:
    """A normalization whose gain is zero: it outputs its bias alone, the same vector at every
    position, so what reads it sees no signal and passes no gradient back through it. Where it
    ends a residual branch that is the identity-at-init convention (Goyal et al. 2017's zero
    last BatchNorm gain, torchvision's zero_init_residual)."""
    out = []
    for n in report.norms:
        if not n["gain_zero"]:
            continue
        if n["ends_branch"]:
            out.append(
                _finding(
                    n["name"],
                    "info",
                    "convention",
                    f"{n['name']}: gain zero, and it ends a residual branch: the block starts as the identity "
                    f"(Goyal et al. 2017's zero-initialized last norm gain, torchvision's zero_init_residual)",
                )
            )
            continue
        feeds = ", ".join(n["feeds"][:3]) if n["feeds"] else "the layers after it"
        out.append(
            _finding(
                n["name"],
                "error",
                "norm",
                f"{n['name']}: its gain ({n['gain']}) is zero: it outputs its bias alone, the same vector at "
                f"every position, so what reads it ({feeds}) sees no signal and no gradient passes back "
                f"through it: the branch it feeds is off; set the gain to ones (nn.init.ones_, PyTorch's default)",
            )
        )
    return out


def _embedding_findings(report: AuditReport) -> list[dict]:
    """An embedding far larger than the model's other weights (nn.Embedding's default N(0, 1) in
    a model initialized at normal std 0.02) makes a pre-LN residual stream the residual branches
    barely change: every block starts as (nearly) the identity whatever its weights, and a tied
    readout makes huge logits. Said once, naming the readout tied to it."""
    res = [r for r in report.residual if r["pre_norm"]]
    embs = [x for x in report.layers if x.role == "embedding"]
    others = [x.std for x in report.layers if x.role in ("linear", "linear_t") and not x.tied_to and x.std > 0]
    if not res or not embs or not others:
        return []
    rounded = [_round_std(v) or v for v in others]
    base = max(set(rounded), key=rounded.count)  # the model's usual std (0.02)
    big = [x for x in embs if x.std > 10 * base]
    ratio = float(np.median([r["ratio"] for r in res]))
    if not big or ratio >= 1 / DWARF_RATIO:
        return []
    worst = max(big, key=lambda x: x.std)
    tied = [x for x in report.layers if x.tied_to == worst.name]
    o = report.output
    also = ""
    if tied and o.get("logits"):
        also = (
            f"; {tied[0].name}, tied to it, makes output logits of std {o['std']:.3g} (a cross-entropy loss "
            f"starts at {o['initial_loss']:.3g} nats against ln({o['shape'][-1]}) = {o['uniform_loss']:.3g})"
        )
    names = ", ".join(x.name for x in big) + (f" (and {tied[0].name}, tied to it)" if tied else "")
    return [
        _finding(
            worst.name,
            "warning",
            "embedding",
            f"{names}: std {worst.std:.3g} ({worst.looks_like}) against std {base:.3g} for the model's other "
            f"layers: the residual stream starts at RMS {res[0]['stream_rms']:.3g} and the branches add "
            f"{ratio:.2g} of it (median over {len(res)}), so every block starts as almost the identity and "
            f"its updates are a small share of the stream{also}; initialize the embedding as the rest "
            f"(normal std 0.02 in GPT-2/BERT/Llama, initializer_range)",
        )
    ]
