"""Audit a PyTorch model's initialization with one batch: one forward and one backward pass.

Hooks record, for every ``nn.Linear``, ``nn.ConvNd``, ``nn.ConvTransposeNd`` and ``nn.Embedding``:
its input, its output (the pre-activation) and the gradient reaching that output, and the
activation module that follows it in the forward pass. From these, per layer: symmetry among
output units or channels (identical rows or filters, with biases), dead and saturated fractions,
activation and gradient variance, the mean-field prediction of the pre-activation variance from
the measured input (``fan_in * mean(W^2) * mean(x^2) + mean(b^2)``), the singular values of the
weight, which known initializer the weights look like, and whether that suits the activation
that follows (its ``sigma_w^2 = fan_in * mean(W^2)`` against the critical value of
`initlab.theory`). Then findings in plain words, each with its fix.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from initlab.diagnose import SATURATION_THRESHOLD
from initlab.diagnose.symmetry import group_rows
from initlab.errors import InitlabError
from initlab.nn.activations import ACTIVATIONS, Activation, activation_of_module
from initlab.torch.initialize import SUPPORTED, torch_fans
from initlab.userfile import describe, user_code

#: The torch.nn activation classes the audit hooks: those of the activation table's rows
#: (`Activation.torch`); `activation_of_module` names a module by its class and attributes.
ACTIVATION_CLASSES = tuple(
    {getattr(nn, row.torch[0]) for row in ACTIVATIONS.values() if row.torch is not None and hasattr(nn, row.torch[0])}
)
NORM_MODULES = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.LayerNorm, nn.GroupNorm)


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
    return None if act is None else ACTIVATIONS.get(act)


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


def _unit_axis(module: nn.Module) -> int:
    """Which axis of the layer's output holds its units / channels."""
    return (
        1
        if isinstance(
            module, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
        )
        else -1
    )


def _rows(module: nn.Module) -> np.ndarray | None:
    """The weight as one row per output unit (with its bias): what makes units identical."""
    if isinstance(module, nn.Embedding):
        return None
    W = module.weight.detach().double().cpu().numpy()
    if isinstance(module, (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)):
        if module.groups != 1:
            return None
        W = np.moveaxis(W, 1, 0)  # (in, out, *k) -> (out, in, *k)
    rows = W.reshape(W.shape[0], -1)
    b = getattr(module, "bias", None)
    if isinstance(b, torch.Tensor):
        rows = np.concatenate([rows, b.detach().double().cpu().numpy().reshape(-1, 1)], axis=1)
    return rows


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


def looks_like(W: np.ndarray, fan_in: int, fan_out: int, sv: np.ndarray | None = None) -> tuple[str, str]:
    """Which known initializer ``W`` resembles, and the evidence: ``std * sqrt(fan)`` and the
    shape of its distribution (kurtosis: 1.8 uniform, about 2.36 truncated normal, 3 normal).
    ``sv``: the singular values of ``W`` as a ``(size0, rest)`` matrix, when already computed."""
    w = W.ravel()
    if np.all(w == w[0]):
        return ("zeros" if w[0] == 0 else f"constant:{w[0]:g}"), "every weight equal"
    M = W.reshape(W.shape[0], -1)
    if sv is None:
        sv = np.linalg.svd(M, compute_uv=False)
    if sv[-1] > 0 and sv[0] / sv[-1] < 1.001 and min(M.shape) > 1:
        return "orthogonal", f"all singular values equal ({sv[0]:.4g}): an orthogonal matrix times {sv[0]:.3g}"
    std = float(w.std())
    kurt = float(np.mean((w - w.mean()) ** 4) / std**4)
    family = "uniform" if kurt < 2.1 else "truncated_normal" if kurt < 2.7 else "normal"
    avg = (fan_in + fan_out) / 2
    table = {
        "uniform": [
            ("pytorch_default", 1 / 3, fan_in),
            ("lecun_uniform", 1, fan_in),
            ("he_uniform", 2, fan_in),
            ("glorot_uniform", 1, avg),
        ],
        "normal": [("lecun_normal", 1, fan_in), ("he_normal", 2, fan_in), ("glorot_normal", 1, avg)],
        "truncated_normal": [
            ("lecun_truncated_normal", 1, fan_in),
            ("he_truncated_normal", 2, fan_in),
            ("glorot_truncated_normal", 1, avg),
        ],
    }[family]
    tol = max(0.05, 4 / np.sqrt(2 * w.size))  # a sample std's relative error is about 1/sqrt(2n)
    fits = [name for name, scale, n in table if abs(std / np.sqrt(scale / n) - 1) < tol]
    evidence = (
        f"{family.replace('_', ' ')} (kurtosis {kurt:.2f}), std {std:.4g}, "
        f"std*sqrt(fan_in) = {std * np.sqrt(fan_in):.3g}"
    )
    if fits:
        return " = ".join(fits), evidence
    if family == "uniform":
        return f"uniform(+-{np.abs(w).max():.3g})", evidence
    return f"random:{std:.3g}", evidence


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

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class AuditReport:
    layers: list[LayerAudit]
    findings: list[dict] = field(default_factory=list)
    passes: dict = field(default_factory=dict)
    input_shape: list[int] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "input_shape": self.input_shape,
            "passes": self.passes,
            "layers": [x.to_dict() for x in self.layers],
            "findings": self.findings,
        }

    def lines(self) -> list[str]:
        out = [
            f"audit of {len(self.layers)} layers on a batch of shape {tuple(self.input_shape)} "
            f"({self.passes.get('forward', 0)} forward, {self.passes.get('backward', 0)} backward pass)",
            "",
        ]
        head = (
            f"{'layer':<16}{'type':<16}{'act':<10}{'width':>6}{'distinct':>9}{'dead':>7}{'sat.':>7}"
            f"{'var(a)':>10}{'var(grad)':>11}{'q pred/meas':>13}{'cond':>9}  looks like"
        )
        out.append(head)
        for x in self.layers:

            def f(v, fmt):
                return "-" if v is None else format(v, fmt)

            ratio = None if x.predicted_q is None or x.measured_q == 0 else x.predicted_q / x.measured_q
            out.append(
                f"{x.name[:15]:<16}{x.type[:15]:<16}{(x.activation or '-')[:9]:<10}{x.width:>6}"
                f"{f(x.effective_width, 'd'):>9}{f(x.dead_fraction, '.2f'):>7}"
                f"{f(x.saturated_fraction, '.2f'):>7}"
                f"{x.activation_variance:>10.3g}{x.gradient_variance:>11.3g}{f(ratio, '.3f'):>13}"
                f"{x.condition:>9.3g}  {x.looks_like}"
            )
        out.append("")
        if not self.findings:
            out.append(
                "no problems found: every layer has distinct units, an init that suits its "
                "activation, and a signal that neither vanishes nor explodes"
            )
        for fnd in self.findings:
            out.append(f"[{fnd['severity']}] {fnd['message']}")
        return out


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


def _check_finite_parameters(model: nn.Module) -> None:
    """NaN or inf weights make every figure meaningless (and the SVD fails): say which."""
    for name, p in model.named_parameters():
        bad = ~torch.isfinite(p.detach())
        if bad.any():
            raise InitlabError(
                f"the model's parameter {name} {tuple(p.shape)} holds {int(bad.sum())} "
                f"non-finite value(s) (NaN or inf): an audit needs finite weights"
            )


def _output_tensor(output: object) -> torch.Tensor:
    """The tensor the backward pass starts from: the output, or the first item of a tuple or list
    (or of a Hugging Face ``ModelOutput``); a plain dict is refused, naming its keys."""
    if torch.is_tensor(output):
        return output
    if hasattr(output, "to_tuple"):  # transformers' ModelOutput: a dict that indexes like a tuple
        output = output.to_tuple()
    if isinstance(output, (tuple, list)) and output and torch.is_tensor(output[0]):
        return output[0]
    if isinstance(output, dict):
        keys = ", ".join(repr(k) for k in list(output)[:5])
        raise InitlabError(
            f"the model's forward returned a dict (keys {keys}): audit needs a tensor, or a "
            f"tuple whose first item is one; wrap the model to return the tensor to audit"
        )
    raise InitlabError(
        f"the model's forward returned a {type(output).__name__}: audit needs a tensor, or a "
        f"tuple whose first item is one"
    )


def audit(model: nn.Module, batch, *, target=None, seed: int = 0) -> AuditReport:
    """Audit ``model`` on ``batch`` (a tensor, or a tuple of the forward's arguments).

    One forward and one backward pass. With ``target``, the backward pass starts from the loss
    (cross-entropy for integer class targets, else mean squared error); without, from a
    unit-variance Gaussian error at the output (seeded), which isolates how the network itself
    scales gradients. The forward pass runs as in training (BatchNorm normalizes with the
    batch's statistics), with Dropout off; BatchNorm's running statistics are restored after,
    and so are the model's train/eval mode. Parameters' ``.grad`` are not touched.
    """
    if not isinstance(model, nn.Module):
        raise InitlabError(f"audit() takes a torch.nn.Module, got {type(model).__name__}")
    args = batch if isinstance(batch, tuple) else (batch,)
    layers = [(n, m) for n, m in model.named_modules() if isinstance(m, SUPPORTED)]
    if not layers:
        raise InitlabError("the model has no Linear, Conv, ConvTranspose or Embedding layer to audit")
    _check_finite_parameters(model)
    order: list[tuple[str, nn.Module]] = []
    record: dict[str, dict] = {}
    passes = {"forward": 0, "backward": 0}
    handles = []

    def on_model(mod, inp, out):
        passes["forward"] += 1

    def make_hook(name):
        def hook(mod, inp, out):
            order.append((name, mod))
            if isinstance(mod, SUPPORTED):
                x = inp[0] if inp else None
                record[name] = {"in": x.detach() if torch.is_tensor(x) else None, "out": out}
            elif isinstance(mod, ACTIVATION_CLASSES):
                record.setdefault("_act", {})[name] = out.detach()

        return hook

    handles.append(model.register_forward_hook(on_model))
    for name, m in model.named_modules():
        if isinstance(m, SUPPORTED) or isinstance(m, ACTIVATION_CLASSES) or isinstance(m, NORM_MODULES):
            handles.append(m.register_forward_hook(make_hook(name)))
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
    try:
        with torch.enable_grad(), user_code("the model's forward", exceptions=False):
            try:
                output = model(*args)
            except Exception as e:  # the user's model: say what it rejected, in one line
                shapes = ", ".join(str(tuple(a.shape)) for a in args if torch.is_tensor(a))
                msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                raise InitlabError(f"the model rejects an input of shape {shapes}: {msg}") from None
            output = _output_tensor(output)
            if target is not None:
                if target.dtype in (torch.int64, torch.int32) and output.dim() >= 2:
                    loss = nn.functional.cross_entropy(output, target)
                else:
                    loss = nn.functional.mse_loss(output, target.to(output.dtype))
            else:
                g = torch.Generator(device="cpu").manual_seed(seed)
                loss = (output * torch.randn(output.shape, generator=g).to(output)).sum()
            outs = [record[n]["out"] for n, _ in layers if n in record and record[n]["out"].requires_grad]
            names = [n for n, _ in layers if n in record and record[n]["out"].requires_grad]
            try:
                grads = torch.autograd.grad(loss, outs, allow_unused=True) if outs else []
            except Exception as e:  # a custom autograd function of the user's, say
                raise InitlabError(f"the backward pass through the model failed: {describe(e)}") from None
            passes["backward"] += 1
    finally:
        for h in handles:
            h.remove()
        for m, mode in modes.items():
            m.train(mode)
        if buffers:
            with torch.no_grad():
                state = model.state_dict()
                for k, v in buffers.items():
                    state[k].copy_(v)
    grad_of = dict(zip(names, grads, strict=True))

    # the activation that follows each layer in the forward pass (before the next layer)
    following: dict[str, str | None] = {}
    normalized: set[str] = set()
    act_out: dict[str, torch.Tensor] = {}
    for i, (name, mod) in enumerate(order):
        if not isinstance(mod, SUPPORTED):
            continue
        following[name] = None
        for nxt_name, nxt in order[i + 1 :]:
            if isinstance(nxt, SUPPORTED):
                break
            if isinstance(nxt, NORM_MODULES):
                normalized.add(name)
            if isinstance(nxt, ACTIVATION_CLASSES):
                following[name] = activation_name(nxt)
                act_out[name] = record.get("_act", {}).get(nxt_name)
                break

    audits = []
    for name, mod in layers:
        if name not in record:
            continue  # not used in this forward pass
        Z = record[name]["out"].detach()
        axis = _unit_axis(mod)
        Zt = Z.movedim(axis, 0).reshape(Z.shape[axis], -1)
        act = following.get(name)
        A = act_out.get(name)
        W = mod.weight.detach().double().cpu().numpy()
        fan_in, fan_out = torch_fans(mod.weight)
        rows = _rows(mod)
        groups = group_rows(rows) if rows is not None else None
        near, near_diff = _rounding_groups(rows, mod.weight.dtype, groups)
        sv = torch.linalg.svdvals(mod.weight.detach().reshape(mod.weight.shape[0], -1).float()).double().numpy()
        like, evidence = looks_like(W, fan_in, fan_out, sv)
        sigma_w2 = float(fan_in * np.mean(W**2))
        x = record[name]["in"]
        b = getattr(mod, "bias", None)
        mean_b2 = float(b.detach().double().pow(2).mean()) if isinstance(b, torch.Tensor) else 0.0
        predicted = None
        constant = like == "zeros" or like.startswith("constant")  # the theory needs zero-mean weights
        if x is not None and not isinstance(mod, nn.Embedding) and x.is_floating_point() and not constant:
            predicted = sigma_w2 * float(x.double().pow(2).mean()) + mean_b2
        crit = critical(act)
        if name in normalized:
            crit = None
            suits = "not judged: a normalization layer follows, so its scale does not propagate"
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
        g = grad_of.get(name)
        audits.append(
            LayerAudit(
                name=name,
                type=type(mod).__name__,
                shape=list(mod.weight.shape),
                width=int(Zt.shape[0]),
                fan_in=fan_in,
                fan_out=fan_out,
                activation=act,
                effective_width=None if groups is None else len(groups),
                groups=[] if groups is None else [gr for gr in groups if len(gr) > 1],
                rounding_groups=near,
                rounding_difference=near_diff,
                dead_fraction=_dead(Zt.double().numpy(), act),
                saturated_fraction=_saturated(Zt.double().numpy(), act),
                preactivation_mean=float(Zt.mean()),
                preactivation_variance=float(Zt.var(unbiased=False)),
                activation_variance=float(A.var()) if A is not None else float(Zt.var()),
                gradient_variance=float(g.var()) if g is not None else 0.0,
                gradient_energy=float(g.pow(2).sum()) / max(1, int(Z.shape[0])) if g is not None else 0.0,
                measured_q=float(Zt.double().pow(2).mean()),
                predicted_q=predicted,
                sv_max=float(sv[0]),
                sv_min=float(sv[-1]),
                condition=float(sv[0] / sv[-1]) if sv[-1] > 0 else float("inf"),
                looks_like=like,
                evidence=evidence,
                sigma_w2=sigma_w2,
                critical_sigma_w2=crit,
                suits=suits,
            )
        )
    report = AuditReport(audits, passes=passes, input_shape=list(args[0].shape) if torch.is_tensor(args[0]) else [])
    report.findings = findings(audits)
    return report


def _dead_words(act: str | None) -> str:
    """What dead means for the activation, in words."""
    return "z <= 0" if act == "relu" else f"|g'(z)| < {SATURATION_THRESHOLD} of its maximum"


def findings(layers: list[LayerAudit]) -> list[dict]:
    """What is wrong, in plain words, each with its fix."""
    out = []
    for i, x in enumerate(layers):
        last = i == len(layers) - 1
        fix = recommended(x.activation)
        unit = "channels" if "Conv" in x.type else "units"
        if x.rounding_groups:
            distinct = x.width - sum(len(g) - 1 for g in x.rounding_groups)
            out.append(
                {
                    "layer": x.name,
                    "severity": "error",
                    "kind": "symmetry",
                    "message": f"{x.name}: {distinct} of {x.width} {unit} distinct up to rounding "
                    f"(largest difference {x.rounding_difference:.3g}): they compute the same "
                    f"function but for float rounding, so they started identical; "
                    f"initialize with {fix}",
                }
            )
        elif x.effective_width is not None and x.effective_width < x.width:
            why = (
                "weights are constant"
                if x.looks_like == "zeros" or x.looks_like.startswith("constant")
                else "some rows are identical"
            )
            out.append(
                {
                    "layer": x.name,
                    "severity": "error",
                    "kind": "symmetry",
                    "message": f"{x.name}: {x.effective_width} of {x.width} {unit} distinct: {why}; "
                    f"initialize with {fix}",
                }
            )
        elif x.looks_like == "zeros" or x.looks_like.startswith("constant"):
            out.append(
                {
                    "layer": x.name,
                    "severity": "error",
                    "kind": "symmetry",
                    "message": f"{x.name}: weights are constant ({x.looks_like}): only the biases tell its "
                    f"{x.width} {unit} apart, and every weight row gets the same update "
                    f"up to them; initialize with {fix}",
                }
            )
        if x.dead_fraction is not None and x.dead_fraction >= 0.5:
            out.append(
                {
                    "layer": x.name,
                    "severity": "warning",
                    "kind": "dead",
                    "message": f"{x.name}: {100 * x.dead_fraction:.0f}% of its {x.activation} {unit} are "
                    f"dead on this batch ({_dead_words(x.activation)} on every example): they pass "
                    f"(almost) no gradient back; check the biases and initialize with {fix}",
                }
            )
        if x.saturated_fraction is not None and x.saturated_fraction >= 0.3:
            out.append(
                {
                    "layer": x.name,
                    "severity": "warning",
                    "kind": "saturated",
                    "message": f"{x.name}: {100 * x.saturated_fraction:.0f}% of its {x.activation} "
                    f"{unit} are saturated (g'(z) < {SATURATION_THRESHOLD} of its maximum): "
                    f"the weights are too large ({x.looks_like}); initialize with {fix}",
                }
            )
        constant = x.looks_like == "zeros" or x.looks_like.startswith("constant")
        if x.critical_sigma_w2 is not None and not x.suits.startswith("suits") and not constant and not last:
            out.append(
                {
                    "layer": x.name,
                    "severity": "warning",
                    "kind": "scale",
                    "message": f"{x.name}: init {x.suits} for {x.activation or 'no activation'}; "
                    f"weights look like {x.looks_like}: initialize with {fix}",
                }
            )
    signal = [x.measured_q for x in layers if x.measured_q > 0]
    if len(signal) >= 3:
        r = signal[-1] / signal[0]
        if r < 1e-2 or r > 1e2:
            out.append(
                {
                    "layer": None,
                    "severity": "warning",
                    "kind": "propagation",
                    "message": f"the signal's second moment changes by a factor {r:.2g} from the first "
                    f"layer to the last: it {'vanishes' if r < 1 else 'explodes'} with depth",
                }
            )
    grads = [x.gradient_energy for x in layers if x.gradient_energy > 0]
    if len(grads) >= 3:
        r = grads[0] / grads[-1]
        if r < 1e-2 or r > 1e2:
            out.append(
                {
                    "layer": None,
                    "severity": "warning",
                    "kind": "propagation",
                    "message": f"the gradient reaching the first layer carries {r:.2g} times the energy "
                    f"(sum of squares per example) of the gradient at the last: gradients "
                    f"{'vanish' if r < 1 else 'explode'} on the way back",
                }
            )
    return out


# ----------------------------------------------------------------------------- the face's helpers
def load_model(target: str, *, checkpoint: str | None = None) -> nn.Module:
    """``path/file.py:factory`` -> the module the factory returns (called with no arguments),
    with the state dict in ``checkpoint`` loaded (``torch.load(..., weights_only=True)`` only)."""
    from pathlib import Path

    from initlab.userfile import import_file

    path, sep, factory = target.rpartition(":")
    if not sep or not path or not factory:
        raise InitlabError(f"expected FILE.py:FACTORY (e.g. models.py:make_model), got {target!r}")
    module = import_file(path)
    fn = getattr(module, factory, None)
    if fn is None:
        names = [n for n in dir(module) if callable(getattr(module, n)) and not n.startswith("_")]
        raise InitlabError(f"{path} has no {factory!r}; it defines: {', '.join(names) or 'nothing callable'}")
    with user_code(f"{path}:{factory}()"):
        model = fn()
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
<h2>Variance per layer</h2>
<img alt="variance per layer" src="data:image/png;base64,{{ png }}">
{% endblock %}
"""
