"""One forward pass recorded at the level of operations, whatever the modules are called.

A ``TorchFunctionMode`` sees every torch function the forward pass calls (``F.linear``,
``torch.addmm``, ``F.conv2d``, ``F.gelu``, ``x + y``, ``F.layer_norm``,
``F.scaled_dot_product_attention``, ...) with its arguments, as Graphcore's unit-scaling does
with its ``track_scales``; module hooks keep the stack of modules being called (the *scope* of
each operation, and the tensors each module received). We use the mode on every model rather
than ``torch.fx``: fx cannot trace most real models (Hugging Face's have data-dependent control
flow), and one recording path gives one set of results. What is recorded (`Event`):

- ``weight``: an operation that consumes a parameter of the model as a weight matrix or kernel
  (``F.linear``, ``torch.addmm``/``matmul`` with a parameter, as HF's ``Conv1D`` does,
  ``F.conv*``, ``F.conv_transpose*``, ``F.embedding``): its input, output and parameters.
- ``act``: an elementwise activation of the table (`initlab.nn.activations`) by its function
  (``F.relu``, ``F.gelu``, ``torch.tanh``, ...), or a module recognised by what it computes
  (probed on a grid: transformers' ``NewGELUActivation`` is ``gelu_tanh``); its input ``z`` is the
  tensor the activation receives (after BatchNorm, if any), one event per call site.
- ``norm``: ``F.layer_norm``, ``F.rms_norm``, ``F.batch_norm``, ``F.group_norm``,
  ``F.instance_norm``, or a module whose output, less its bias and divided by its gain, has unit
  root mean square over the last axis (``LlamaRMSNorm``, a model's own LayerNorm).
- ``add``: ``a + b`` of two tensors of one shape. It is a *residual* add when one operand is a
  stream: a tensor some module on the stack received, the output of an earlier residual add, or
  a norm of one (post-LN), and a weight operation ran since that stream was made.
- ``attention``: ``F.scaled_dot_product_attention`` (its ``q``, ``k``, mask and scale) or a
  softmax over the last axis of a tensor of 4 axes (eager attention's logits).
- ``rnn``: an ``nn.LSTM``/``nn.GRU`` module (its input and initial state), audited per gate.

Dropout of every kind is the identity while recording (``F.dropout`` and friends, the
``dropout_p`` of scaled-dot-product attention, the ``training`` flag of
``F.multi_head_attention_forward``), so two audits with one seed give the same numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

from initlab.nn.activations import ACTIVATIONS, activation_of_module

Tensor = torch.Tensor

DROPOUT = {
    F.dropout,
    F.dropout1d,
    F.dropout2d,
    F.dropout3d,
    F.alpha_dropout,
    F.feature_alpha_dropout,
    torch.dropout,
    torch.alpha_dropout,
    torch.feature_dropout,
    torch.feature_alpha_dropout,
}
#: functions that take an attention ``dropout_p``, and its position among their arguments
DROPOUT_P = {F.scaled_dot_product_attention: 4, F.multi_head_attention_forward: 10}


def dropout_off(func, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """``func``'s arguments with attention's ``dropout_p`` set to 0 (by keyword or position);
    the arguments as they are for every other function. With `DROPOUT` (the identity), the one
    rule by which the audit and the coordinate check switch dropout off."""
    i = DROPOUT_P.get(func)
    if i is not None:
        if "dropout_p" in kwargs:
            kwargs = {**kwargs, "dropout_p": 0.0}
        elif len(args) > i:
            args = (*args[:i], 0.0, *args[i + 1 :])
    return args, kwargs


ADD = {torch.add, Tensor.add, Tensor.__add__, Tensor.__radd__, Tensor.__iadd__, Tensor.add_}
NORMS = {F.layer_norm, F.rms_norm, F.batch_norm, F.group_norm, F.instance_norm}
#: weight operations: the function, where its weight is, and the layer's kind
WEIGHT_OPS = {
    F.linear: (1, "linear"),
    torch.addmm: (2, "linear_t"),  # HF Conv1D: addmm(bias, x, W) with W of shape (in, out)
    torch.matmul: (1, "linear_t"),
    Tensor.matmul: (1, "linear_t"),
    Tensor.__matmul__: (1, "linear_t"),
    torch.mm: (1, "linear_t"),
    F.conv1d: (1, "conv"),
    F.conv2d: (1, "conv"),
    F.conv3d: (1, "conv"),
    F.conv_transpose1d: (1, "conv_transpose"),
    F.conv_transpose2d: (1, "conv_transpose"),
    F.conv_transpose3d: (1, "conv_transpose"),
    F.embedding: (1, "embedding"),
}


def _act_functions() -> dict:
    """Activation functions -> the table's row (``None``: read ``approximate``/slope args)."""
    table = {}
    for fns, name in [
        ((F.relu, torch.relu, Tensor.relu, torch.relu_, Tensor.relu_, F.relu_), "relu"),
        ((F.silu,), "silu"),
        ((torch.tanh, Tensor.tanh, F.tanh), "tanh"),
        ((torch.sigmoid, Tensor.sigmoid, F.sigmoid), "sigmoid"),
        ((F.selu, torch.selu), "selu"),
        ((F.gelu,), "gelu"),
        ((F.elu,), "elu"),
        ((F.softplus,), "softplus"),
        ((F.leaky_relu,), "leaky_relu"),
    ]:
        for fn in fns:
            table[fn] = name
    return table


ACT_FUNCTIONS = _act_functions()
SOFTMAX = {F.softmax, torch.softmax, Tensor.softmax}


def _act_row(name: str, args: tuple, kwargs: dict) -> str | None:
    """The table's row for an activation call, reading its arguments (GELU's ``approximate``,
    ELU's ``alpha``, Softplus's ``beta``, LeakyReLU's slope); where the table has no row, the
    module's class with the argument that differs (``ELU(alpha=0.5)``: not judged)."""
    if name == "gelu":
        return "gelu_tanh" if kwargs.get("approximate", "none") == "tanh" else "gelu"
    if name == "elu":
        alpha = kwargs.get("alpha", args[1] if len(args) > 1 else 1.0)
        return "elu" if alpha == 1.0 else f"ELU(alpha={alpha!r})"
    if name == "softplus":
        beta = kwargs.get("beta", args[1] if len(args) > 1 else 1.0)
        return "softplus" if beta == 1.0 else f"Softplus(beta={beta!r})"
    if name == "leaky_relu":
        slope = float(kwargs.get("negative_slope", args[1] if len(args) > 1 else 0.01))
        return ACTIVATIONS.families["leaky_relu"].value_name(slope)
    return name


@dataclass
class Event:
    """One recorded operation: ``kind`` (weight, act, norm, add, attention, rnn), where
    (``scope``: the innermost module; ``index``: the order), and what it touched."""

    kind: str
    index: int
    scope: str
    op: str = ""
    inputs: tuple = ()
    output: object = None
    params: tuple = ()  # (name, tensor) of the parameters used
    info: dict = field(default_factory=dict)


def probe_activation(module: nn.Module) -> str | None:
    """The table's row a parameterless module computes, found by evaluating it on a grid of
    ``z`` in [-6, 6] against every row's ``g``: the closest, if within 1e-5 of ``max |g|``
    (float32 rounding; the tanh form of GELU is 5e-4 from the exact one); None if none fits or it
    fails on a 1-D tensor. Torch's own activation modules are read by class and attributes."""
    name = activation_of_module(module)
    if name is not None:
        return None if name == "identity" else name
    if any(True for _ in module.parameters()) or any(True for _ in module.children()):
        return None
    z = torch.linspace(-6.0, 6.0, 241)
    try:
        with torch.no_grad():
            out = module(z.clone())
    except Exception:
        return None
    if not torch.is_tensor(out) or out.shape != z.shape or not out.is_floating_point():
        return None
    y = out.double().numpy()
    zn = z.double().numpy()
    if np.allclose(y, zn):
        return None  # Identity, Dropout in eval mode
    best, best_err = None, math.inf
    for row_name, row in ACTIVATIONS.items():
        if row.grad is None or row_name == "identity":
            continue
        g = row.fn(zn)
        err = float(np.abs(y - g).max()) / max(1.0, float(np.abs(g).max()))
        if err < best_err:
            best, best_err = row_name, err
    return best if best_err < 1e-5 else None  # float32 rounding; GELU's tanh form is 5e-4 away


class Recorder(TorchFunctionMode):
    """Records a forward pass of ``model`` as `Event`s (see the module's docstring).

    Use as ``with Recorder(model) as rec: out = model(x)``; ``rec.events`` in call order. Tensors
    are kept alive while recording, so Python ids are not reused."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.events: list[Event] = []
        self.param_names: dict[int, str] = {}
        for name, p in model.named_parameters(remove_duplicate=False):
            self.param_names.setdefault(id(p), name)
        self.module_names = {id(m): n for n, m in model.named_modules(remove_duplicate=False)}
        self.used: dict[int, set] = {}  # parameter id -> the ops that read it
        self.stack: list[tuple[str, nn.Module, set[int], int]] = []  # name, module, inputs, first event
        self.streams: dict[int, int] = {}  # tensor id -> the event index when it became a stream
        self.keep: list = []  # tensors kept alive
        #: tensor id -> the event index before the first module call that received it (a block's
        #: input even after the block returned: ``x + block(x)`` written in the parent's forward)
        self.received: dict[int, int] = {}
        self.receivers: dict[int, list[str]] = {}  # tensor id -> the modules that received it
        #: tensor id -> (the stream's event index, the weight event, the projected tensor's id) of a
        #: projection shortcut's output
        self.shortcuts: dict[int, tuple[int, int]] = {}
        self.opaque = 0
        self.last_weight = -1
        self.weight_events: list[int] = []
        self.handles: list = []
        self.custom_act: dict[int, str] = {}
        for m in model.modules():
            if isinstance(m, (nn.LSTM, nn.GRU)):
                continue
            if not type(m).__module__.startswith("torch.nn"):
                name = probe_activation(m)
                if name is not None:
                    self.custom_act[id(m)] = name

    # ------------------------------------------------------------------ module hooks
    def _pre(self, module, args, kwargs):
        name = self.module_names.get(id(module), "")
        ids = set()
        for a in list(args) + list(kwargs.values()):
            if torch.is_tensor(a) and a.is_floating_point():
                ids.add(id(a))
                self.keep.append(a)
                self.received.setdefault(id(a), len(self.events) - 1)
                self.receivers.setdefault(id(a), []).append(name)
        self.stack.append((name, module, ids, len(self.events)))
        if self.opaque == 0 and isinstance(module, (nn.LSTM, nn.GRU)):
            x = args[0] if args else kwargs.get("input")
            hx = args[1] if len(args) > 1 else kwargs.get("hx")
            self._event("rnn", name, op=type(module).__name__, inputs=(x, hx), params=module, info={"module": module})
        if id(module) in self.custom_act or isinstance(module, (nn.LSTM, nn.GRU)):
            self.opaque += 1

    def _post(self, module, args, kwargs, output):
        name, _, _, first = self.stack.pop()
        if id(module) in self.custom_act:
            self.opaque -= 1
            if self.opaque == 0:
                z = args[0] if args else next(iter(kwargs.values()))
                self._event("act", name, op=self.custom_act[id(module)], inputs=(z,), output=output)
        elif isinstance(module, (nn.LSTM, nn.GRU)):
            self.opaque -= 1
            if self.opaque == 0:
                for e in reversed(self.events):
                    if e.kind == "rnn" and e.scope == name:
                        e.output = output
                        break
        elif self.opaque == 0 and _leaf_norm_like(module, args, output):
            if not any(e.kind in ("norm", "weight") for e in self.events[first:]):
                x = args[0]
                self._event("norm", name, op=type(module).__name__, inputs=(x,), output=output, params=module)
                self._after_norm(x, output)
        elif self.opaque == 0:
            self._shortcut(module, args, output, first)
        return None

    def _shortcut(self, module, args, output, first: int) -> None:
        """A module that projects a stream to another shape with one weight operation (and at most
        a norm): ResNet's ``downsample`` (a 1x1 conv and BatchNorm on the skip path). Its output is
        the stream a residual add continues, and its weight is not part of the branch."""
        x = args[0] if args else None
        if not (torch.is_tensor(x) and torch.is_tensor(output)) or x.shape == output.shape or x.dim() < 2:
            return
        inside = self.events[first:]
        weights = [e for e in inside if e.kind == "weight"]
        if len(weights) != 1 or any(e.kind not in ("weight", "norm") for e in inside):
            return
        since = self._is_stream(x)
        if since is not None:
            self.shortcuts[id(output)] = (since, weights[0].index, id(x), self.module_names.get(id(module), ""))
            self.keep.append(output)

    def __enter__(self):
        self.depth = getattr(self, "depth", 0) + 1
        if self.depth == 1:  # the module hooks once, for the outermost entry
            for m in self.model.modules():
                self.handles.append(m.register_forward_pre_hook(self._pre, with_kwargs=True))
                self.handles.append(m.register_forward_hook(self._post, with_kwargs=True))
        return super().__enter__()

    def __exit__(self, *exc):
        self.depth -= 1
        if self.depth == 0:
            for h in self.handles:
                h.remove()
            self.handles = []
        return super().__exit__(*exc)

    # ------------------------------------------------------------------ operations
    def _event(self, kind, scope, *, op="", inputs=(), output=None, params=(), info=None) -> Event:
        if isinstance(params, nn.Module):
            params = tuple((self.param_names.get(id(p), n), p) for n, p in params.named_parameters(recurse=False))
            for _, p in params:
                self.used.setdefault(id(p), set()).add(kind)
        e = Event(kind, len(self.events), scope, op, inputs, output, params, info or {})
        self.events.append(e)
        return e

    def _scope(self) -> str:
        return self.stack[-1][0] if self.stack else ""

    def _after_norm(self, x, out) -> None:
        """A norm of a stream is a stream (post-LN: the block's output is norm(x + branch))."""
        if id(x) in self.streams and self.events and self.events[-1].kind == "norm":
            # only the output of a residual add continues the stream when normalized
            if self.streams[id(x)] >= 0 and any(
                e.kind == "add" and e.info.get("residual") and e.output is x for e in self.events[-3:]
            ):
                self.streams[id(out)] = len(self.events) - 1  # the norm event: layers after it are the branch
                self.keep.append(out)

    def _is_stream(self, t) -> int | None:
        """The event index from which ``t`` is a stream, or None."""
        if id(t) in self.streams:
            return self.streams[id(t)]
        for _, _, ids, first in self.stack:  # the outermost module that received it: its block
            if id(t) in ids:
                return first - 1
        return None

    def _shortcut_of(self, t) -> tuple[int | None, int | None]:
        """``(since, weight event)`` when ``t`` is a projection shortcut's output whose input a
        module outside the shortcut also received (the branch: a stem projects the model's input,
        which nothing else reads)."""
        if id(t) not in self.shortcuts:
            return None, None
        since, w, x, name = self.shortcuts[id(t)]
        others = [
            r
            for r in self.receivers.get(x, [])
            if not (r == name or r.startswith(name + ".") or name.startswith(r + ".") or r == "")
        ]
        return (since, w) if others else (None, None)

    def _stream_of(self, a, b) -> tuple | None:
        """``(stream, branch, since, shortcut weight event or None)`` when exactly one of ``a``,
        ``b`` is a stream: by `_is_stream`; else a projection shortcut's output (`_shortcut`); else
        a tensor a module received earlier (``x + block(x)`` in the parent's forward)."""
        for rule in (
            lambda t: (self._is_stream(t), None),
            self._shortcut_of,
            lambda t: (self.received.get(id(t)), None),
        ):
            (sa, wa), (sb, wb) = rule(a), rule(b)
            if sa is not None and sb is not None:
                return None
            if sa is not None:
                return a, b, sa, wa
            if sb is not None:
                return b, a, sb, wb
        return None

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in DROPOUT:
            return args[0] if args else kwargs["input"]
        args, kwargs = dropout_off(func, args, kwargs)
        if func is F.multi_head_attention_forward and not self.opaque:
            return self._mha(func, args, {**kwargs, "training": False})
        for a in args:
            if isinstance(a, nn.Parameter):
                self.used.setdefault(id(a), set()).add(getattr(func, "__name__", str(func)))
        if self.opaque:
            return func(*args, **kwargs)
        if func in ADD and len(args) >= 2 and torch.is_tensor(args[0]) and torch.is_tensor(args[1]):
            return self._add(func, args, kwargs)
        act = ACT_FUNCTIONS.get(func)
        if act is not None and args and torch.is_tensor(args[0]) and args[0].is_floating_point():
            z = (
                args[0].detach().clone()
                if func in (torch.relu_, Tensor.relu_, F.relu_) or kwargs.get("inplace")
                else args[0]
            )
            out = func(*args, **kwargs)
            self._event("act", self._scope(), op=_act_row(act, args, kwargs), inputs=(z,), output=out)
            return out
        out = func(*args, **kwargs)
        spec = WEIGHT_OPS.get(func)
        if spec is not None:
            self._weight(func, spec, args, kwargs, out)
        elif func in NORMS:
            x = args[0]
            ps = [a for a in list(args[1:]) + list(kwargs.values()) if isinstance(a, nn.Parameter)]
            e = self._event("norm", self._scope(), op=func.__name__, inputs=(x,), output=out)
            e.params = tuple((self.param_names.get(id(p), "?"), p) for p in ps)
            self._after_norm(x, out)
        elif func is F.scaled_dot_product_attention:
            q, k = args[0], args[1]
            mask = args[3] if len(args) > 3 else kwargs.get("attn_mask")
            causal = args[5] if len(args) > 5 else kwargs.get("is_causal", False)
            scale = args[6] if len(args) > 6 else kwargs.get("scale")
            self._event(
                "attention",
                self._scope(),
                op="sdpa",
                inputs=(q.detach(), k.detach()),
                info={"mask": mask, "causal": bool(causal), "scale": scale},
            )
        elif func in SOFTMAX and args and torch.is_tensor(args[0]) and args[0].dim() == 4:
            dim = kwargs.get("dim", args[1] if len(args) > 1 else None)
            if dim in (-1, 3):
                self._event("attention", self._scope(), op="softmax", inputs=(args[0].detach(),))
        return out

    def _mha(self, func, args, kwargs):
        """``F.multi_head_attention_forward`` (``nn.MultiheadAttention``) with its inside recorded:
        its packed ``in_proj_weight`` projection, the attention and ``out_proj``. Its first line
        hands any call to the active mode (``has_torch_function``), and the mode is off while this
        handler runs; so the mode is entered again, with that check answering no for the call."""
        orig = F.has_torch_function
        F.has_torch_function = lambda *a, **k: False
        try:
            with self:
                return func(*args, **kwargs)
        finally:
            F.has_torch_function = orig

    def _weight(self, func, spec, args, kwargs, out) -> None:
        pos, kind = spec
        w = args[pos] if len(args) > pos else kwargs.get("weight")
        if not isinstance(w, nn.Parameter) or w.dim() < 2:
            return  # not a parameter (a view of one, W @ x): listed by the coverage, not a layer
        x = args[0] if func is not torch.addmm else args[1]
        bias = None
        if func is torch.addmm:
            bias = args[0] if isinstance(args[0], nn.Parameter) else None
        elif kind != "linear_t":
            b = args[2] if len(args) > 2 else kwargs.get("bias")
            bias = b if isinstance(b, nn.Parameter) else None
        info = {"kind": kind}
        if kind == "conv_transpose":  # F.conv_transpose*(input, weight, bias, stride, padding, output_padding, groups)
            info["stride"] = args[3] if len(args) > 3 else kwargs.get("stride", 1)
        if kind in ("conv", "conv_transpose"):  # F.conv*(input, weight, bias, stride, padding, dilation, groups)
            info["groups"] = args[6] if len(args) > 6 else kwargs.get("groups", 1)
        params = [(self.param_names.get(id(w), "?"), w)]
        if bias is not None:
            params.append((self.param_names.get(id(bias), "?"), bias))
        e = self._event("weight", self._scope(), op=kind, inputs=(x,), output=out, params=tuple(params), info=info)
        e.info["module"] = self.stack[-1][1] if self.stack else None
        self.last_weight = e.index
        self.weight_events.append(e.index)

    def _add(self, func, args, kwargs):
        a, b = (args[1], args[0]) if func is Tensor.__radd__ else (args[0], args[1])
        same = a.shape == b.shape and a.is_floating_point() and b.is_floating_point() and a.dim() >= 2
        found = self._stream_of(a, b) if same else None
        if found is None:
            return func(*args, **kwargs)
        stream, branch, since, shortcut = found
        if not any(i > since and i != shortcut for i in self.weight_events[::-1][:8]):
            return func(*args, **kwargs)  # no weight operation on the branch
        s = stream.detach().float()
        br = branch.detach().float()
        info = {
            "residual": True,
            "stream_ms": float(s.pow(2).mean()),
            "branch_ms": float(br.pow(2).mean()),
            "since": since,
            "shortcut": shortcut,
            "stream_normed": any(
                e.kind == "norm" and e.index > since and e.inputs and e.inputs[0] is stream
                for e in self.events[since + 1 if since >= 0 else 0 :]
            ),
        }
        out = func(*args, **kwargs)
        info["out_ms"] = float(out.detach().float().pow(2).mean())
        scope = self._scope()
        origin = self.shortcuts[id(stream)][2] if shortcut is not None else id(stream)
        if origin in self.receivers:
            # ``x + block(x)`` in the parent's forward: the block is the innermost module that
            # received the stream (or what the shortcut projected) and holds every weight of the branch
            parts = [self.events[i].scope.split(".") for i in self.weight_events if i > since and i != shortcut]
            common = []
            for names in zip(*parts, strict=False):
                if len(set(names)) > 1:
                    break
                common.append(names[0])
            while common and ".".join(common) not in self.receivers[origin]:
                common.pop()
            if len(".".join(common)) > len(scope):
                scope = ".".join(common)
        self._event("add", scope, op="add", inputs=(stream, branch), output=out, info=info)
        self.streams[id(out)] = len(self.events) - 1
        self.keep.append(out)
        return out


def _leaf_norm_like(module: nn.Module, args: tuple, output) -> bool:
    """Duck typing of a normalization module: a leaf whose parameters are 1-D of the last axis's
    size and whose output, less its bias and divided by its gain, has root mean square 1 over the
    last axis (RMSNorm; LayerNorm also has mean 0) on the first rows."""
    if any(True for _ in module.children()) or not args or not torch.is_tensor(args[0]):
        return False
    if not torch.is_tensor(output) or output.shape != args[0].shape or not output.is_floating_point():
        return False
    ps = dict(module.named_parameters(recurse=False))
    d = output.shape[-1]
    if not ps or any(p.dim() != 1 or p.shape[0] != d for p in ps.values()) or output is args[0]:
        return False
    gain = ps.get("weight", ps.get("scale", ps.get("gamma")))
    if gain is None:
        return False
    with torch.no_grad():
        y = output.detach().reshape(-1, d)[:64].double()
        bias = ps.get("bias", ps.get("beta"))
        if bias is not None:
            y = y - bias.detach().double()
        g = gain.detach().double()
        if bool((g == 0).all()):  # a dead norm (gain 0): its output is its bias, the same row everywhere
            return bool(y.abs().max() == 0)
        if bool((g.abs() < 1e-6).any()):
            return False
        y = y / g
        ms = y.pow(2).mean(-1)
        return bool(((ms - 1).abs() < 0.05).float().mean() > 0.9)
