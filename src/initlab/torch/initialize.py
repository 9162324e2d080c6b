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
SUPPORTED = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d,
             nn.ConvTranspose3d, nn.Embedding)


def torch_fans(weight: torch.Tensor) -> tuple[int, int]:
    """``(fan_in, fan_out)`` exactly as ``torch.nn.init`` computes them."""
    if weight.dim() < 2:
        raise InitlabError(f"fans need a weight of at least 2 dimensions, got shape {tuple(weight.shape)}")
    receptive = math.prod(weight.shape[2:]) if weight.dim() > 2 else 1
    return int(weight.shape[1]) * receptive, int(weight.shape[0]) * receptive


def _selected(name: str, module: nn.Module, include: Sequence[str | type] | None) -> bool:
    if not isinstance(module, SUPPORTED):
        return False
    if include is None:
        return True
    for rule in include:
        if isinstance(rule, str) and fnmatch.fnmatchcase(name, rule):
            return True
        if isinstance(rule, type) and isinstance(module, rule):
            return True
    return False


def sample_like(weight: torch.Tensor, spec: str, rng) -> torch.Tensor:
    """A sample of the initializer ``spec`` with ``weight``'s shape, dtype, device and fans."""
    sampler = initializers.get(spec)
    fan_in, fan_out = torch_fans(weight)
    rows = int(weight.shape[0])
    flat = sampler((rows, weight.numel() // rows), rng, fans=(fan_in, fan_out))
    return torch.from_numpy(np.ascontiguousarray(flat.reshape(tuple(weight.shape)))).to(
        dtype=weight.dtype, device=weight.device)


@torch.no_grad()
def initialize(
    model: nn.Module,
    spec: str,
    *,
    bias: str | None = "zeros",
    include: Sequence[str | type] | None = None,
    seed: Seed = None,
) -> dict[str, dict]:
    """Initialize every supported module's weight with ``spec`` (and its bias with ``bias``).

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
    if bias is not None:
        initializers.get(bias)
    rng = resolve(seed) if seed is not None else np.random.default_rng()
    done: dict[str, dict] = {}
    for name, module in model.named_modules():
        if not _selected(name, module, include):
            continue
        w = module.weight
        fan_in, fan_out = torch_fans(w)
        w.copy_(sample_like(w, spec, rng))
        info = {"type": type(module).__name__, "shape": list(w.shape), "fan_in": fan_in,
                "fan_out": fan_out, "init": spec,
                "std": sampler.theory((int(w.shape[0]), w.numel() // int(w.shape[0])),
                                      fans=(fan_in, fan_out)).get("std"), "bias": None}
        if isinstance(module, nn.Embedding) and module.padding_idx is not None:
            w[module.padding_idx].fill_(0)
        b = getattr(module, "bias", None)
        if bias is not None and isinstance(b, torch.Tensor):
            sample = initializers.get(bias)((b.numel(), 1), rng, fans=(fan_in, fan_out))
            b.copy_(torch.from_numpy(sample.reshape(b.shape)).to(dtype=b.dtype, device=b.device))
            info["bias"] = bias
        done[name] = info
    if not done:
        kinds = ", ".join(t.__name__ for t in SUPPORTED)
        raise InitlabError(f"no module was initialized: none of the model's modules is a {kinds}"
                           + ("" if include is None else f" matching include={list(include)}"))
    return done
