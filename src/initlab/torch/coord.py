"""Width scaling: muP's coordinate check. Do activations keep their size as the model gets wider?

The experiment is Microsoft ``mup``'s ``get_coord_data`` / ``plot_coord_data``
(``mup/coord_check.py``; Yang et al., *Tensor Programs V*, 2022, section "Coord check"), made
deterministic and turned into a verdict:

- **What is measured.** For every module of the model (``named_modules()``, the root excepted),
  ``l1 = mean(|y|)`` of its output ``y`` (mup's default statistic ``'l1'``: ``x.abs().mean()``);
  a tuple output gives one record per tensor, ``name[i]``. A module called more than once in a
  forward (a shared activation) gives one record per call site: ``name``, ``name#2``, ...
  (mup mixes the calls under one name).
- **When.** In the forward pass of each of the first ``steps`` training steps, on one fixed batch
  (mup's ``fix_data=True``): ``step 0`` is at initialization, ``step k`` after ``k`` optimizer
  updates. mup calls these ``t = 1 .. nsteps`` (its ``t`` is our ``step + 1``); it also takes a
  last update after the last record, which changes nothing recorded, so we skip it.
- **Training.** Cross-entropy of the output (its last axis holds the classes) against fixed random
  labels (mup's default ``lossfn='xent'``; an output of one unit is trained by mean squared error
  against fixed N(0, 1) targets instead); ``torch.optim.SGD`` / ``Adam`` / ``AdamW`` with only the
  learning rate set, mup's defaults ``0.1`` for SGD and ``1e-3`` for Adam and AdamW. A model in
  muP form declares muP's per-parameter learning rates itself (mup does it with ``MuAdam`` /
  ``MuSGD`` and ``set_base_shapes``): a method ``lr_scales(optimizer) -> {parameter name:
  factor}`` multiplies ``lr`` for the parameters it names (hidden matrices under Adam:
  ``base_width / width``).
- **Seeds.** mup seeds ``torch.manual_seed(i)`` for ``i < nseeds`` before building each model and
  averages the records over seeds in its plot; so do we, from ``seed`` on, inside
  ``torch.random.fork_rng`` (the caller's global generator is left as it was). Unlike mup, dropout
  is off (``F.dropout`` and its kin are the identity, ``dropout_p`` of attention is 0), so a run
  repeats bit for bit.
- **Verdict.** Per module and step, the growth of ``l1`` per 4x of width: with ``b`` the
  least-squares slope of ``log l1`` against ``log width`` over the widths,
  ``growth = exp(b * log 4) = 4**b`` (for two widths ``w`` and ``4w`` it is exactly
  ``l1(4w) / l1(w)``, the ratio mup's own test ``CoordCheckCase`` takes between widths 1000 and
  4000 and requires within ``(1/1.2, 1.2)``). A module is flagged when its growth leaves
  ``(1/1.2, 1.2)`` at any step: its coordinates blow up or shrink to 0 with width (mup's README:
  "the l1 can blow up or shrink to 0 with width").
- **Allowed at init.** muP lets two things shrink like ``1/sqrt(width)`` at initialization only
  (mup's README, "Coord Check"): the network's output and the attention logits. The readout
  (every module whose output is the model's output tensor, and the model's output itself,
  recorded as ``(output)`` when no module returns it) is exempt at step 0 automatically; attention
  logits computed inside a forward are a module's output only where the model makes them one
  (an ``nn.Identity`` on the scores): name them in ``exempt`` (``fnmatch`` patterns such as
  ``"*.scores"``). Exempt modules are still judged at every later step.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

from initlab.errors import InitlabError, check_positive, unknown
from initlab.torch.audit import _output_tensor  # one rule for which tensor a model's output means
from initlab.torch.trace import DROPOUT, dropout_off
from initlab.userfile import user_code

#: optimizer name -> (class, mup's default learning rate: ``get_coord_data``'s ``lr=None``)
OPTIMIZERS: dict[str, tuple[type, float]] = {
    "sgd": (torch.optim.SGD, 0.1),
    "adam": (torch.optim.Adam, 1e-3),
    "adamw": (torch.optim.AdamW, 1e-3),
}
#: mup's tolerance (``mup/test/__main__.py``, ``CoordCheckCase``: ``tol = 1.2`` on the l1 ratio
#: between widths 4x apart)
THRESHOLD = 1.2
#: the record of the model's output when no module returns that tensor (parentheses: never a
#: module name)
OUTPUT = "(output)"


class _NoDropout(TorchFunctionMode):
    """Dropout off everywhere in the block, functional calls and attention's ``dropout_p`` included
    (``model.eval()`` would also change BatchNorm, which the check runs in training mode)."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in DROPOUT:
            return args[0] if args else kwargs["input"]
        args, kwargs = dropout_off(func, args, kwargs)
        return func(*args, **kwargs)


def growth_per_4x(widths: Sequence[float], l1: Sequence[float]) -> float:
    """How much ``l1`` changes per 4x of width: ``4**b``, ``b`` the least-squares slope of
    ``log l1`` against ``log width``.

    ``widths``, ``l1``: ``(k,)``, ``k >= 2`` distinct widths. 1.0 means flat; for widths ``w`` and
    ``4w`` it is ``l1[1] / l1[0]``. ``l1`` zero at every width (a zero-initialized readout at
    init) is flat, 1.0; zero at some widths only is ``inf`` where it is largest at the widest
    model and ``0.0`` otherwise. Non-finite anywhere (a run that diverged to NaN or inf) is
    ``nan``: not a growth, and flagged as *diverged*.
    """
    w = np.asarray(widths, dtype=np.float64)
    y = np.asarray(l1, dtype=np.float64)
    if w.shape != y.shape or w.size < 2 or len(set(w.tolist())) < 2:
        raise InitlabError(f"growth needs l1 at two or more distinct widths, got widths {list(w)} and l1 {list(y)}")
    if np.all(y == 0):
        return 1.0
    if not np.all(np.isfinite(y)):
        return math.nan
    if np.any(y <= 0):
        return math.inf if y[np.argmax(w)] > 0 else 0.0
    b = np.polyfit(np.log(w), np.log(y), 1)[0]
    return float(np.exp(b * np.log(4.0)))


def check_widths(widths: object) -> list[int]:
    """Two or more distinct positive integer widths, returned sorted."""
    try:
        ws = list(widths)  # type: ignore[call-overload]
    except TypeError:
        raise InitlabError(f"widths must be a list of integers such as [64, 128, 256], got {widths!r}") from None
    for w in ws:
        if isinstance(w, bool) or not isinstance(w, (int, np.integer)) or w < 1:
            raise InitlabError(f"widths must be positive integers, got {w!r} in {ws}")
    if len(set(ws)) < 2:
        raise InitlabError(f"a coordinate check needs at least two distinct widths, got {ws}")
    if len(set(ws)) != len(ws):
        raise InitlabError(f"widths must be distinct, got {ws}")
    return sorted(int(w) for w in ws)


@dataclass(frozen=True)
class CoordCheck:
    """The records of a coordinate check, the growth per 4x of width, and the verdict.

    ``records``: one dict ``{"width", "module", "step", "l1"}`` per (width, module, step), ``l1``
    the mean over seeds. ``growth[module][step]``: ``4**b`` (`growth_per_4x`). ``exempt``: module
    -> why it may change with width at step 0. ``flagged``: the modules whose growth leaves
    ``(1/threshold, threshold)`` at a step where they are judged, in forward order.
    """

    widths: list[int]
    steps: int
    optimizer: str
    lr: float
    seeds: list[int]
    records: list[dict]
    modules: list[str]
    growth: dict[str, list[float]]
    exempt: dict[str, str]
    flagged: list[str]
    threshold: float = THRESHOLD
    lr_scaled: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.flagged

    def judged(self, module: str, step: int) -> bool:
        """Whether ``module`` is judged at ``step`` (exempt modules are not at step 0)."""
        return not (step == 0 and module in self.exempt)

    def bad_steps(self, module: str) -> list[int]:
        """The steps at which ``module``'s growth leaves ``(1/threshold, threshold)``."""
        t = self.threshold
        return [s for s, g in enumerate(self.growth[module]) if self.judged(module, s) and not (1 / t < g < t)]

    def verdict(self, module: str) -> str:
        """``ok``, ``grows at step 1, 2`` or ``shrinks at step 0``, and ``(exempt at init)``."""
        bad = self.bad_steps(module)
        if not bad:
            text = "ok"
        else:
            grows = [s for s in bad if self.growth[module][s] > 1]
            shrinks = [s for s in bad if self.growth[module][s] < 1]
            diverged = [s for s in bad if math.isnan(self.growth[module][s])]
            parts = []
            if diverged:
                parts.append("diverged at step " + ", ".join(map(str, diverged)) + " (l1 is NaN or inf: lower the lr)")
            if grows:
                parts.append("grows at step " + ", ".join(map(str, grows)))
            if shrinks:
                parts.append("shrinks at step " + ", ".join(map(str, shrinks)))
            text = "; ".join(parts)
        return text + (" (exempt at init)" if module in self.exempt else "")

    def lines(self) -> list[str]:
        t = self.threshold
        seeds = f"{len(self.seeds)} seed{'s' if len(self.seeds) > 1 else ''}"
        out = [
            f"coordinate check: widths {', '.join(map(str, self.widths))}; {self.optimizer} lr {self.lr:g}"
            + (f" (the model's lr_scales change it for {_tensors(len(self.lr_scaled))})" if self.lr_scaled else "")
            + f"; {self.steps} steps (step 0 = init); {seeds}",
            f"l1 = mean |output| per module; growth = change of l1 per 4x of width; flagged outside "
            f"({1 / t:.3g}, {t:g}) (mup's test criterion)",
            "",
        ]
        name_w = min(max([len(m) for m in self.modules] + [6]), 40)
        head = f"{'module':<{name_w}}" + "".join(f"{f'step {s}':>10}" for s in range(self.steps)) + "  verdict"
        out.append(head)
        for m in self.modules:
            cells = "".join(
                f"{_fmt_growth(g) + ('' if self.judged(m, s) else '*'):>10}" for s, g in enumerate(self.growth[m])
            )
            out.append(f"{m[:name_w]:<{name_w}}{cells}  {self.verdict(m)}")
        out.append("")
        if self.exempt:
            out.append("* not judged at init: " + "; ".join(f"{m} ({why})" for m, why in self.exempt.items()))
        if self.flagged:
            out.append(
                f"FAIL: {len(self.flagged)} of {len(self.modules)} modules change with width: "
                + ", ".join(self.flagged)
            )
        else:
            out.append(f"PASS: all {len(self.modules)} modules keep their size as width grows")
        return out

    def __repr__(self) -> str:
        return "\n".join(self.lines())

    def _repr_html_(self) -> str:
        """A notebook's view: the verdict, and the growth per module and step (``*``: not judged)."""
        import html

        from initlab.torch.faces import html_table

        rows = [
            [m]
            + [_fmt_growth(g) + ("" if self.judged(m, s) else "*") for s, g in enumerate(self.growth[m])]
            + [self.verdict(m)]
            for m in self.modules
        ]
        head = ["module"] + [f"step {s}" for s in range(self.steps)] + ["verdict"]
        lines = [html.escape(line) for line in self.lines()]
        return html_table(head, rows, note=f"<b>{lines[-1]}</b> ({lines[0]})")

    def to_dict(self) -> dict:
        return {
            "widths": self.widths,
            "steps": self.steps,
            "optimizer": self.optimizer,
            "lr": self.lr,
            "lr_scaled": self.lr_scaled,
            "seeds": self.seeds,
            "threshold": self.threshold,
            "modules": [
                {
                    "module": m,
                    "growth": self.growth[m],
                    "exempt": self.exempt.get(m),
                    "flagged": m in self.flagged,
                    "verdict": self.verdict(m),
                }
                for m in self.modules
            ],
            "flagged": self.flagged,
            "passed": self.passed,
            "records": self.records,
        }


def _check_patterns(patterns: list[str], modules: list[str]) -> None:
    """Every ``exempt`` pattern matches a recorded module (a typo would exempt nothing, silently)."""
    unmatched = [p for p in patterns if not any(fnmatch.fnmatchcase(m, p) for m in modules)]
    if unmatched:
        raise InitlabError(
            f"exempt pattern {unmatched[0]!r} matches no recorded module; modules: {', '.join(modules[:8])}"
            f"{', ...' if len(modules) > 8 else ''}"
        )


def _tensors(n: int) -> str:
    return f"{n} tensor{'s' if n != 1 else ''}"


def _fmt_growth(g: float) -> str:
    return "diverged" if math.isnan(g) else "inf" if g == math.inf else f"{g:.3g}x"


class _Recorder:
    """Forward hooks of one forward pass: ``l1 = mean(|y|)`` of each floating-point output
    ``y`` into ``sums[(width, name, step)]``, per call site (``name``, ``name#2``, ...) and per
    tensor of a tuple output (``name[i]``); ``seen`` keeps (name, tensor) in call order."""

    def __init__(self, sums: dict, width: int, step: int):
        self.sums, self.width, self.step = sums, width, step
        self.calls: dict[str, int] = {}
        self.seen: list[tuple[str, torch.Tensor]] = []

    def hook(self, name: str) -> Callable:
        def record(module: nn.Module, inputs: object, out: object) -> None:
            self.calls[name] = self.calls.get(name, 0) + 1
            key = name if self.calls[name] == 1 else f"{name}#{self.calls[name]}"
            items = [(key, out)] if torch.is_tensor(out) else []
            if isinstance(out, (tuple, list)):
                items = [(f"{key}[{j}]", o) for j, o in enumerate(out) if torch.is_tensor(o)]
            for k, o in items:
                if torch.is_floating_point(o):
                    self.seen.append((k, o))
                    with torch.no_grad():
                        l1 = float(o.detach().abs().double().mean())
                    self.sums.setdefault((self.width, k, self.step), []).append(l1)

        return record


def _signature(model: nn.Module) -> tuple:
    return tuple((n, tuple(p.shape)) for n, p in model.named_parameters())


def _optimizer(model: nn.Module, name: str, lr: float, width: int) -> tuple[torch.optim.Optimizer, list[str]]:
    """The optimizer over the model's trainable parameters, one group per learning-rate factor of
    the model's ``lr_scales(name)`` (muP's per-parameter rates), and the names it scaled."""
    cls, _ = OPTIMIZERS[name]
    params = dict(model.named_parameters())
    scales: dict[str, float] = {}
    fn = getattr(model, "lr_scales", None)
    if fn is not None:
        with user_code(f"the model's lr_scales({name!r}) at width {width}"):
            scales = dict(fn(name))
        for pname, s in scales.items():
            if pname not in params:
                raise InitlabError(
                    f"lr_scales({name!r}) names {pname!r}, which is not a parameter of the model at width "
                    f"{width}; parameters: {', '.join(list(params)[:8])}{', ...' if len(params) > 8 else ''}"
                )
            check_positive(f"lr_scales({name!r})[{pname!r}]", s)
    groups: dict[float, list[torch.Tensor]] = {}
    for pname, p in params.items():
        if p.requires_grad:
            groups.setdefault(float(scales.get(pname, 1.0)), []).append(p)
    if not groups:
        raise InitlabError(f"the model at width {width} has no trainable parameter")
    opt = cls([{"params": ps, "lr": lr * s} for s, ps in groups.items()], lr=lr)
    return opt, sorted(n for n, s in scales.items() if s != 1.0)


def coord_check(
    factory: Callable[[int], nn.Module],
    widths: Sequence[int],
    batch,
    *,
    steps: int = 3,
    optimizer: str = "sgd",
    lr: float | None = None,
    seeds: int = 1,
    seed: int = 0,
    target: torch.Tensor | None = None,
    exempt: Sequence[str] = (),
    output_key: str | None = None,
) -> CoordCheck:
    """Train ``factory(width)`` for a few steps at each width and judge whether every module's
    output keeps its coordinate size as width grows (mup's coordinate check; see the module's
    docstring for each choice and where it comes from).

    ``factory(width) -> nn.Module``: the same architecture at every width (only the sizes scale).
    ``batch``: the forward's input, a tensor or a tuple of arguments; the same batch at every step
    and width. ``steps``: forward passes recorded, the first at initialization (``steps - 1``
    updates). ``optimizer``: ``sgd``, ``adam`` or ``adamw``; ``lr``: default 0.1 (SGD) or 1e-3.
    ``seeds``: models built under ``torch.manual_seed(seed + i)``, ``i < seeds``; records are the
    mean over seeds. ``target``: labels for the loss (integer: cross-entropy; float: mean squared
    error); default, fixed random labels (the same for every seed). ``exempt``: ``fnmatch``
    patterns of modules that muP lets change with width at initialization (attention logits),
    beside the readout, which is found by itself. ``output_key``: which tensor of a dict,
    ``ModelOutput`` or tuple output the loss is taken on (default: its ``logits``, or its first
    tensor), as the audit's.

    Each record is ``l1 = mean(|y|)`` over every entry of the module's output ``y`` (any shape:
    ``(batch, width)``, ``(batch, seq, width)``, ...).
    """
    ws = check_widths(widths)
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise InitlabError(f"steps must be an integer >= 1 (forward passes recorded, the first at init), got {steps!r}")
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise InitlabError(f"seeds must be an integer >= 1, got {seeds!r}")
    if optimizer not in OPTIMIZERS:
        raise unknown("optimizer", str(optimizer), list(OPTIMIZERS))
    rate = OPTIMIZERS[optimizer][1] if lr is None else check_positive("lr", lr)
    if not callable(factory):
        raise InitlabError(f"factory must be a function width -> nn.Module, got a {type(factory).__name__}")
    args = batch if isinstance(batch, tuple) else (batch,)
    tensors = [a for a in args if torch.is_tensor(a)]
    if not tensors:
        raise InitlabError(f"batch must be a tensor or a tuple of the forward's arguments, got {type(batch).__name__}")
    device = tensors[0].device
    shapes = ", ".join(str(tuple(a.shape)) for a in tensors)
    patterns = [str(p) for p in exempt]

    sums: dict[tuple[int, str, int], list[float]] = {}
    order: list[str] = []
    readouts: set[str] = set()
    built: dict[tuple, int] = {}
    out_shape: dict[int, tuple[int, ...]] = {}
    labels: torch.Tensor | None = target
    lr_scaled: list[str] = []

    for i in range(seeds):
        for w in ws:
            with torch.random.fork_rng():
                torch.manual_seed(seed + i)
                with user_code(f"factory({w})"):
                    model = factory(w)
                if not isinstance(model, nn.Module):
                    raise InitlabError(f"factory({w}) returned a {type(model).__name__}, not a torch.nn.Module")
                sig = _signature(model)
                if sig in built and built[sig] != w:
                    raise InitlabError(
                        f"factory({built[sig]}) and factory({w}) built models with the same parameter shapes: "
                        f"the factory ignores its width argument (coord_check needs factory(width) to scale the model)"
                    )
                built[sig] = w
                model.to(device).train()
                opt, scaled = _optimizer(model, optimizer, rate, w)
                lr_scaled = lr_scaled or scaled
                for step in range(steps):
                    rec = _Recorder(sums, w, step)
                    handles = [m.register_forward_hook(rec.hook(n)) for n, m in model.named_modules() if n]
                    try:
                        with _NoDropout(), user_code(f"the model of factory({w}) on a batch of shape {shapes}"):
                            output = model(*args)
                    finally:
                        for h in handles:
                            h.remove()
                    y = _output_tensor(output, output_key)
                    if not torch.is_floating_point(y):
                        raise InitlabError(f"the model's output has dtype {y.dtype}: coord_check needs float logits")
                    seen = rec.seen
                    outs = [k for k, o in seen if o is y]
                    readouts.update(outs)
                    if not outs:
                        sums.setdefault((w, OUTPUT, step), []).append(float(y.detach().abs().double().mean()))
                        readouts.add(OUTPUT)
                        seen.append((OUTPUT, y))
                    for k, _ in seen:
                        if k not in order:
                            order.append(k)
                    if i == 0 and w == ws[0] and step == 0:
                        _check_patterns(patterns, order)  # before any training: fail fast
                    if w not in out_shape:
                        out_shape[w] = tuple(y.shape)
                        first = out_shape[ws[0]] if ws[0] in out_shape else tuple(y.shape)
                        if tuple(y.shape) != first:
                            raise InitlabError(
                                f"the model's output has shape {first} at width {ws[0]} but {tuple(y.shape)} at "
                                f"width {w}: coord_check needs an output of fixed size (a readout to classes or "
                                f"a vocabulary), not one that grows with width"
                            )
                    if step == steps - 1:
                        break
                    labels = _labels(y) if labels is None else labels
                    loss = _loss(y, labels)
                    opt.zero_grad()
                    with _NoDropout(), user_code(f"the backward pass of factory({w})"):
                        loss.backward()
                    opt.step()

    records = [
        {"width": w, "module": m, "step": s, "l1": float(np.mean(sums[(w, m, s)]))}
        for m in order
        for s in range(steps)
        for w in ws
        if (w, m, s) in sums
    ]
    growth: dict[str, list[float]] = {}
    for m in order:
        row = []
        for s in range(steps):
            pts = [(w, float(np.mean(sums[(w, m, s)]))) for w in ws if (w, m, s) in sums]
            row.append(growth_per_4x(*zip(*pts, strict=True)) if len(pts) >= 2 else 1.0)
        growth[m] = row
    exempt_why: dict[str, str] = {}
    for m in order:
        if m in readouts:
            exempt_why[m] = "the model's output, which muP lets shrink like 1/sqrt(width) at init"
        elif any(fnmatch.fnmatchcase(m, p) for p in patterns):
            exempt_why[m] = "named exempt, as attention logits, which muP lets shrink like 1/sqrt(width) at init"
    result = CoordCheck(
        widths=ws,
        steps=steps,
        optimizer=optimizer,
        lr=rate,
        seeds=[seed + i for i in range(seeds)],
        records=records,
        modules=order,
        growth=growth,
        exempt=exempt_why,
        flagged=[],
        lr_scaled=lr_scaled,
    )
    flagged = [m for m in order if result.bad_steps(m)]
    object.__setattr__(result, "flagged", flagged)
    return result


def _labels(y: torch.Tensor) -> torch.Tensor:
    """Fixed random targets for output ``y``: class labels ``(*y.shape[:-1],)`` in
    ``[0, y.shape[-1])``, or N(0, 1) values of ``y``'s shape for a one-unit output. Like the batch
    they are data: one draw (generator seed 0) whatever the models' seeds."""
    g = torch.Generator().manual_seed(0)
    if y.ndim >= 1 and y.shape[-1] >= 2:
        return torch.randint(0, y.shape[-1], tuple(y.shape[:-1]), generator=g).to(y.device)
    return torch.randn(tuple(y.shape), generator=g, dtype=y.dtype).to(y.device)


def _loss(y: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy for integer labels (the classes on ``y``'s last axis), else mean squared error."""
    if not torch.is_floating_point(labels):
        if tuple(labels.shape) != tuple(y.shape[:-1]):
            raise InitlabError(
                f"target has shape {tuple(labels.shape)}: class labels for an output of shape {tuple(y.shape)} "
                f"need shape {tuple(y.shape[:-1])}"
            )
        return F.cross_entropy(y.reshape(-1, y.shape[-1]), labels.reshape(-1).long())
    if tuple(labels.shape) != tuple(y.shape):
        raise InitlabError(f"target has shape {tuple(labels.shape)} but the output has shape {tuple(y.shape)}")
    return F.mse_loss(y, labels.to(y.dtype))


def random_batch(shape: Sequence[int], *, dtype: str = "float", vocab: int | None = None, seed: int = 0):
    """A seeded batch for the CLI: ``float``: N(0, 1) of ``shape``; ``long``: token ids uniform in
    ``[0, vocab)``."""
    shape = [int(n) for n in shape]
    if not shape or any(n < 1 for n in shape):
        raise InitlabError(f"--input-shape needs positive sizes, got {shape}")
    g = torch.Generator().manual_seed(seed)
    if dtype == "float":
        if vocab is not None:
            raise InitlabError("--vocab goes with --input-dtype long (token ids), not float inputs")
        return torch.randn(*shape, generator=g)
    if dtype == "long":
        if vocab is None:
            raise InitlabError("--input-dtype long draws token ids: give their range with --vocab N (ids in [0, N))")
        if vocab < 1:
            raise InitlabError(f"--vocab must be a positive number of tokens, got {vocab}")
        return torch.randint(0, vocab, tuple(shape), generator=g)
    raise unknown("--input-dtype", dtype, ["float", "long"])


# ----------------------------------------------------------------------------- the picture, the page
def plot_coord_check(result: CoordCheck, *, title: str | None = None):
    """mup's picture (``plot_coord_data``): one panel per step, width on x, l1 on y, both log base
    2, one line per module (mean over seeds), one legend for all panels; a module flagged at a step
    is drawn thick there, and the legend names its worst growth per 4x of width."""
    from matplotlib import colormaps

    from initlab.report.html import figure

    below = len(result.modules) > 10  # a long legend goes under the panels, four columns
    fig, axes = figure(
        result.steps, width=3.3, height=3.0 + (0.11 * math.ceil(len(result.modules) / 4) if below else 0)
    )
    colours = colormaps["tab10"]
    styles = ["-", "--", ":", "-."]
    by: dict[tuple[str, int], list[tuple[int, float]]] = {}
    for r in result.records:
        by.setdefault((r["module"], r["step"]), []).append((r["width"], r["l1"]))
    handles = {}
    for s in range(result.steps):
        ax = axes[0, s]
        for k, m in enumerate(result.modules):
            pts = [(w, v) for w, v in by.get((m, s), []) if v > 0 and np.isfinite(v)]
            if not pts:
                continue
            bad = s in result.bad_steps(m)
            (line,) = ax.plot(
                *zip(*pts, strict=True),
                marker="o",
                ms=2.5,
                lw=2.2 if bad else 0.9,
                ls=styles[(k // 10) % len(styles)],
                color=colours(k % 10),
            )
            handles.setdefault(m, line)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log", base=2)
        ax.set_title(f"step {s}" + (" (init)" if s == 0 else f" (after {s} update{'s' if s > 1 else ''})"), fontsize=9)
        ax.set_xlabel("width", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3, which="both")
    axes[0, 0].set_ylabel("l1 = mean |output|", fontsize=8)

    def label(m: str) -> str:
        bad = result.bad_steps(m)
        if not bad:
            return m
        worst = max((result.growth[m][s] for s in bad), key=lambda g: abs(math.log(g)) if 0 < g < math.inf else 1e9)
        return f"{m}: {_fmt_growth(worst)} per 4x"

    names = [m for m in result.modules if m in handles]  # forward order
    fig.legend(
        [handles[m] for m in names],
        [label(m) for m in names],
        loc="outside lower center" if below else "outside right upper",
        fontsize=6,
        frameon=False,
        ncols=4 if below else 1,
    )
    verdict = "pass" if result.passed else f"FAIL, {len(result.flagged)} of {len(result.modules)} modules flagged"
    fig.suptitle(
        (title + ": " if title else "")
        + f"{result.optimizer} lr={result.lr:g}, "
        + (f"seed {result.seeds[0]}" if len(result.seeds) == 1 else f"seeds {', '.join(map(str, result.seeds))}")
        + f": {verdict}",
        fontsize=9,
    )
    return fig


def write_coord_report(result: CoordCheck, out_dir, *, title: str | None = None) -> dict:
    """``report.html`` (the verdict per module, the plot) and ``results.json`` (`CoordCheck.to_dict`)."""
    from initlab.report.html import png, render_page, write_page

    page = render_page(
        COORD_TEMPLATE, r=result, png=png(plot_coord_check(result, title=title)), title=title, fmt=_fmt_growth
    )
    return write_page(out_dir, page, result.to_dict())


COORD_TEMPLATE = """{% extends "page.html" %}
{% block title %}initlab coord-check{% if title %}: {{ title }}{% endif %}{% endblock %}
{% block body %}
<h1>Do activations keep their size as the model gets wider?{% if title %} ({{ title }}){% endif %}</h1>
<p class="note">muP's coordinate check (Microsoft mup's get_coord_data / plot_coord_data): the mean |output|
(l1) of every module at widths {{ r.widths|join(", ") }}, in the forward pass of the first {{ r.steps }} steps
(step 0 at initialization), {{ r.optimizer }} at learning rate {{ "%g"|format(r.lr) }}{% if r.lr_scaled %}
(changed by the model's lr_scales for {{ r.lr_scaled|length }} tensors){% endif %}, one fixed batch,
dropout off, {% if r.seeds|length == 1 %}seed {{ r.seeds[0] }}
{%- else %}mean over seeds {{ r.seeds|join(", ") }}{% endif %}.
Growth: the change of l1 per 4x of width (4<sup>b</sup>,
b the slope of log l1 against log width); a module is flagged outside ({{ "%.3g"|format(1 / r.threshold) }},
{{ r.threshold }}) at any step, mup's own test criterion.</p>
<h2>{% if r.passed %}Pass: every module keeps its size{% else %}Fail: {{ r.flagged|length }} of
{{ r.modules|length }} modules change with width{% endif %}</h2>
<div class="scroll"><table>
<tr><th>module</th>{% for s in range(r.steps) %}<th>step {{ s }}</th>{% endfor %}
<th style="text-align: left">verdict</th></tr>
{% for m in r.modules %}<tr><td>{{ m }}</td>
{% for g in r.growth[m] %}<td>{{ fmt(g) }}{% if not r.judged(m, loop.index0) %}*{% endif %}</td>{% endfor %}
<td class="text"{% if m in r.flagged %} style="color: #b00"{% endif %}>{{ r.verdict(m) }}</td></tr>{% endfor %}
</table></div>
{% if r.exempt %}<p class="note">* not judged at initialization:
{% for m, why in r.exempt.items() %}{{ m }} ({{ why }}){% if not loop.last %}; {% endif %}{% endfor %}.</p>{% endif %}
<h2>l1 against width, one panel per step (log-log, base 2)</h2>
<p class="note">Flat lines pass. A module is drawn thick at the steps where it is flagged, and the legend gives its
worst growth per 4x of width. A module whose l1 is 0 (a zero-initialized readout or query) has no point on the
log scale.</p>
<img alt="coordinate check plot" src="data:image/png;base64,{{ png }}">
{% endblock %}
"""
