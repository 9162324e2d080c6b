"""Apply any initlab initializer to a PyTorch model.

Fans are PyTorch's (``torch.nn.init._calculate_fan_in_and_fan_out``): for a weight of shape
``(size0, size1, *kernel)``, ``fan_in = size1 * prod(kernel)`` and ``fan_out = size0 * prod(kernel)``.
That is ``(out, in/groups, *k)`` for ``nn.Linear`` and ``nn.ConvNd``, ``(in, out/groups, *k)`` for
``nn.ConvTransposeNd`` (PyTorch's own convention there, which we follow so that the same spec
gives the same distribution as ``torch.nn.init``), and ``(num_embeddings, dim)`` for
``nn.Embedding``. The sample is drawn as a ``(size0, numel / size0)`` matrix with those fans
and reshaped: orthogonal, identity and sparse act on that matrix, as PyTorch's do.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from initlab import initializers
from initlab.errors import InitlabError
from initlab.rng import Seed, resolve

#: The module types initialize() and audit() know, and what their weight's axes mean.
SUPPORTED = (
    nn.Linear,
    nn.Conv1d,
    nn.Conv2d,
    nn.Conv3d,
    nn.ConvTranspose1d,
    nn.ConvTranspose2d,
    nn.ConvTranspose3d,
    nn.Embedding,
)


def torch_fans(weight: torch.Tensor) -> tuple[int, int]:
    """``(fan_in, fan_out)`` exactly as ``torch.nn.init`` computes them."""
    if weight.dim() < 2:
        raise InitlabError(f"fans need a weight of at least 2 dimensions, got shape {tuple(weight.shape)}")
    receptive = math.prod(weight.shape[2:]) if weight.dim() > 2 else 1
    return int(weight.shape[1]) * receptive, int(weight.shape[0]) * receptive


def transposed_linear(module: nn.Module) -> bool:
    """Hugging Face's ``Conv1D`` (GPT-2's attention and MLP matrices): a Linear whose weight is
    stored ``(in, out)`` (``y = x @ W + b``), known by its class name and ``nf`` (out) attribute
    (transformers is not imported for it)."""
    w = getattr(module, "weight", None)
    return (
        type(module).__name__ == "Conv1D"
        and isinstance(w, torch.Tensor)
        and w.dim() == 2
        and getattr(module, "nf", None) == w.shape[1]
    )


def _selected(name: str, module: nn.Module, include: Sequence[str | type] | None) -> bool:
    if not isinstance(module, SUPPORTED) and not transposed_linear(module):
        return False
    if include is None:
        return True
    for rule in include:
        if isinstance(rule, str) and fnmatch.fnmatchcase(name, rule):
            return True
        if isinstance(rule, type) and isinstance(module, rule):
            return True
    return False


def sample_like(weight: torch.Tensor, spec: str, rng, *, transposed: bool = False, groups: int = 1) -> torch.Tensor:
    """A sample of the initializer ``spec`` with ``weight``'s shape, dtype, device and fans.

    Most samplers draw the flattened ``(out, in * k...)`` matrix with PyTorch's fans. A sampler
    of convolution kernels (``kernel_shaped``: ``delta_orthogonal``) draws the kernel's own shape
    ``(out, in, k...)``; a transposed convolution's weight is ``(in, out, k...)`` in PyTorch, so
    its kernel is drawn as ``(out, in, k...)`` and swapped back (``transposed``). A grouped
    convolution (``groups``; depthwise: one group per channel) is ``groups`` convolutions side by
    side: each group's kernel is drawn on its own, so each is orthogonal on its channels.
    """
    sampler = initializers.get(spec)
    shape = tuple(int(n) for n in weight.shape)
    if getattr(sampler, "kernel_shaped", False):
        out, inn, k = (shape[1], shape[0], shape[2:]) if transposed else (shape[0], shape[1], shape[2:])
        if transposed:  # PyTorch's (in, out / groups, k...): each group's (out / groups, in / groups)
            per = [sampler((out, inn // groups, *k), rng) for _ in range(groups)]
            drawn = np.concatenate([np.swapaxes(p, 0, 1) for p in per], axis=0)
        else:  # (out, in / groups, k...): each group's (out / groups, in / groups)
            drawn = np.concatenate([sampler((out // groups, inn, *k), rng) for _ in range(groups)], axis=0)
        return torch.from_numpy(np.ascontiguousarray(drawn)).to(dtype=weight.dtype, device=weight.device)
    fan_in, fan_out = torch_fans(weight)
    rows = shape[0]
    flat = sampler((rows, weight.numel() // rows), rng, fans=(fan_in, fan_out))
    return torch.from_numpy(np.ascontiguousarray(flat.reshape(shape))).to(dtype=weight.dtype, device=weight.device)


@torch.no_grad()
def initialize(
    model: nn.Module,
    spec: str,
    *,
    bias: str | None = "zeros",
    include: Sequence[str | type] | None = None,
    seed: Seed = None,
    batch: torch.Tensor | None = None,
) -> dict[str, dict]:
    """Initialize every supported module's weight with ``spec`` (and its bias with ``bias``).

    A data-dependent spec (``lsuv[:TOL][,MAX_ITER]``, Mishkin & Matas 2016) needs ``batch``, an
    input the model accepts: after the orthonormal draw, each initialized module in the order the
    forward pass reaches it has its weight divided by ``sqrt(Var(output))`` on that batch until
    ``|Var - 1| < TOL`` (at most MAX_ITER times), as `initlab.nn.lsuv.lsuv` does for a `Network`;
    its entry gains ``"lsuv": {"iterations", "variance", "converged"}``. Buffers (BatchNorm's
    running statistics) are restored after these passes.

    ``include``: module names (shell patterns: ``"fc*"``, ``"layer1.*"``) or types
    (``nn.Conv2d``); a module is initialized when it matches any. ``bias=None`` leaves biases
    as they are; a bias spec is drawn with the weight's fans (``"pytorch_default"`` gives
    PyTorch's own ``U(+-1/sqrt(fan_in))``). ``nn.Embedding``'s ``padding_idx`` row is zeroed
    again, as PyTorch does. Returns, per initialized module, what was set::

        {"fc1": {"type": "Linear", "shape": [64, 32], "fan_in": 32, "fan_out": 64,
                 "init": "he_normal", "std": 0.25, "bias": "zeros"}, ...}
    """
    if not isinstance(model, nn.Module):
        raise InitlabError(f"initialize() takes a torch.nn.Module, got {type(model).__name__}")
    sampler = initializers.get(spec)
    refusal = getattr(sampler, "plain_refusal", None)
    if refusal:  # fixup, rezero, ...: roles in initlab's residual blocks, which a model does not have
        raise InitlabError(
            f"{refusal}. In a PyTorch model the blocks are the model's own: draw with its base "
            f"({getattr(sampler, 'base', 'he')!r}) and zero or scale each branch's last layer with include="
        )
    if bias is not None:
        initializers.get(bias)
    data_dependent = getattr(sampler, "data_dependent", False)
    if data_dependent and not isinstance(batch, torch.Tensor):
        raise InitlabError(
            f"{spec!r} rescales each layer on data: pass a batch the model accepts, "
            f"initialize(model, {spec!r}, batch=x); got batch={type(batch).__name__}"
        )
    rng = resolve(seed) if seed is not None else np.random.default_rng()
    done: dict[str, dict] = {}
    for name, module in model.named_modules():
        if not _selected(name, module, include):
            continue
        # a Conv1D's (in, out) weight is drawn as the Linear it is, (out, in), then stored transposed
        w = module.weight.T if transposed_linear(module) else module.weight
        fan_in, fan_out = torch_fans(w)
        w.copy_(
            sample_like(
                w,
                spec,
                rng,
                transposed=isinstance(module, nn.modules.conv._ConvTransposeNd),
                groups=int(getattr(module, "groups", 1)),
            )
        )
        info = {
            "type": type(module).__name__,
            "shape": list(module.weight.shape),
            "fan_in": fan_in,
            "fan_out": fan_out,
            "init": spec,
            "std": (
                sampler.theory(tuple(int(n) for n in w.shape))
                if getattr(sampler, "kernel_shaped", False)
                else sampler.theory((int(w.shape[0]), w.numel() // int(w.shape[0])), fans=(fan_in, fan_out))
            ).get("std"),
            "bias": None,
        }
        if isinstance(module, nn.Embedding) and module.padding_idx is not None:
            w[module.padding_idx].fill_(0)
        b = getattr(module, "bias", None)
        if bias is not None and isinstance(b, torch.Tensor):
            sample = initializers.get(bias)((b.numel(), 1), rng, fans=(fan_in, fan_out))
            b.copy_(torch.from_numpy(sample.reshape(b.shape)).to(dtype=b.dtype, device=b.device))
            info["bias"] = bias
        done[name] = info
    # recurrent layers draw their own gates: said, never skipped without a word (trial: an LSTM
    # classifier's LSTM, 99% of its parameters, was left as it was)
    rnns = [n for n, m in model.named_modules() if isinstance(m, nn.RNNBase)]
    rnn_note = (
        f"; the recurrent layer(s) {', '.join(repr(n) for n in rnns[:3])}{' ...' if len(rnns) > 3 else ''} draw "
        "their own weights per gate: call their reset_parameters(), or set weight_ih_l*/weight_hh_l* with "
        "torch.nn.init"
        if rnns
        else ""
    )
    if not done:
        kinds = ", ".join([t.__name__ for t in SUPPORTED] + ["Hugging Face Conv1D"])
        raise InitlabError(
            f"no module was initialized: none of the model's modules is a {kinds}"
            + ("" if include is None else f" matching include={list(include)}")
            + rnn_note
        )
    if rnns:
        import warnings

        warnings.warn(f"initialize left the recurrent layers as they are{rnn_note}", stacklevel=2)
    if data_dependent:
        _lsuv(model, batch, done, tol=sampler.tol, max_iter=sampler.max_iter)
    return done


class _Reached(Exception):
    """Raised by a hook to stop the forward pass once the module of interest has run."""


def _lsuv(model: nn.Module, batch: torch.Tensor, done: dict[str, dict], *, tol: float, max_iter: int) -> None:
    """The data step of LSUV on the modules in ``done``, in the order the forward pass runs them.

    Variance over the whole output (units, examples and positions), as `initlab.nn.lsuv.lsuv` and
    the paper's Algorithm 1. Each forward pass stops at the module being rescaled.
    """
    modules = dict(model.named_modules())
    order: list[str] = []
    hooks = [modules[n].register_forward_hook(lambda m, i, o, n=n: order.append(n)) for n in done]
    saved = {k: v.clone() for k, v in model.named_buffers()}
    try:
        try:
            model(batch)
        except Exception as e:
            raise InitlabError(
                f"the model rejected the batch of shape {tuple(batch.shape)}: {type(e).__name__}: {e}".splitlines()[0]
            ) from None
        finally:
            for h in hooks:
                h.remove()
        for name in dict.fromkeys(order):  # first call of each, in forward order
            module, out = modules[name], {}

            def grab(m, i, o, out=out):
                out["var"] = float(o.detach().double().var(unbiased=False))
                raise _Reached

            taken = 0
            while True:
                h = module.register_forward_hook(grab)
                try:
                    model(batch)
                except _Reached:
                    pass
                finally:
                    h.remove()
                var = out["var"]
                if abs(var - 1.0) < tol or var == 0 or not math.isfinite(var) or taken == max_iter:
                    break
                module.weight.div_(math.sqrt(var))
                taken += 1
            done[name]["lsuv"] = {"iterations": taken, "variance": var, "converged": abs(var - 1.0) < tol}
        for name in done.keys() - set(order):  # never reached by the forward pass: not rescaled
            done[name]["lsuv"] = None
    finally:
        for k, v in model.named_buffers():
            v.copy_(saved[k])
