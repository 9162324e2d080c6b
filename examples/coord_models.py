"""Models for the coordinate check (docs/coord_check.md, tests/test_coord.py): an MLP and a small
pre-LN transformer, each in the standard parametrization (SP: PyTorch's default init, one learning
rate) and in muP form, as ``factory(width) -> nn.Module``.

muP form, following Microsoft mup (``MuReadout``, ``MuAdam``/``MuSGD``, ``set_base_shapes``) and
Tensor Programs V (Yang et al. 2022, Table 3), with ``m = width / BASE`` (muP equals SP at ``BASE``):
- the readout is mup's ``MuReadout``: ``W (x / m) + b``, weight and bias starting at zero (mup's
  ``readout_zero_init=True``, what mup's own coord-check test uses);
- attention logits ``q.k * sqrt(d0) / d`` (``1/d`` instead of ``1/sqrt(d)``, equal at ``d = d0``,
  the head size at ``BASE``; mup writes ``8/d``), the query starting at zero (mup's README: else
  the logits shrink like ``1/sqrt(d)`` at init);
- learning rates per parameter, ``lr_scales(optimizer)``: under Adam, a hidden matrix (both
  dimensions grow with width) gets ``lr / m``, everything else ``lr``; under SGD, a "vector-like"
  parameter (one dimension grows: input weights, embeddings, biases, norms, the readout's weight)
  gets ``lr * m``, hidden matrices ``lr`` (mup's ``MuSGD``).
Initialization is PyTorch's default everywhere else (fan-in scaled), which muP keeps.

    initlab coord-check examples/coord_models.py:mlp_sp --input-shape 32,64 --optimizer adam
"""

from __future__ import annotations

import math

import torch
from torch import nn

BASE = 64  # muP equals SP at this width
IN, CLASSES = 64, 10  # the MLP's input size and classes (fixed as width grows)
VOCAB, SEQ, HEADS = 128, 16, 4  # the transformer's vocabulary, longest sequence, heads (fixed)


def _mup_lr_scales(model: nn.Module, delta: nn.Module, optimizer: str, readout: str) -> dict[str, float]:
    """mup's rules, from the shapes of ``model`` and of ``delta``, the same model at another width
    (mup's ``set_base_shapes(model, base, delta=...)``): a dimension "grows" where they differ."""
    m = model.width / BASE
    other = dict(delta.named_parameters())
    out = {}
    for name, p in model.named_parameters():
        grows = sum(a != b for a, b in zip(p.shape, other[name].shape, strict=True))
        if name.startswith(readout + "."):
            grows = 1 if name.endswith("weight") else 0  # MuReadout: its weight is vector-like
        if optimizer in ("adam", "adamw"):
            out[name] = 1 / m if grows == 2 else 1.0
        else:
            out[name] = m if grows == 1 else 1.0
    return out


class MuReadout(nn.Linear):
    """mup's ``MuReadout``: ``W (x / m) + b``, ``m = width / BASE``; weight and bias start at zero
    (``readout_zero_init=True``). The multiplier is inside the module, so the coordinate check
    records the network's real output, and it leaves the bias alone (which, scaled by ``1/m``
    too, would shrink its contribution to the output with width)."""

    def __init__(self, width: int, out_features: int):
        super().__init__(width, out_features)
        self.mult = BASE / width
        nn.init.zeros_(self.weight)
        nn.init.zeros_(self.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x * self.mult)


class MLP(nn.Module):
    """``IN -> width -> width -> CLASSES``, ReLU; ``mup=True``: muP form (see the module doc)."""

    def __init__(self, width: int, *, mup: bool = False):
        super().__init__()
        self.width, self.mup = width, mup
        self.fc1 = nn.Linear(IN, width)
        self.act1 = nn.ReLU()
        self.fc2 = nn.Linear(width, width)
        self.act2 = nn.ReLU()
        self.readout = MuReadout(width, CLASSES) if mup else nn.Linear(width, CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act2(self.fc2(self.act1(self.fc1(x))))
        return self.readout(h)

    def lr_scales(self, optimizer: str) -> dict[str, float]:
        if not self.mup:
            return {}
        with torch.device("meta"):  # shapes only, no memory
            delta = MLP(2 * self.width, mup=True)
        return _mup_lr_scales(self, delta, optimizer, "readout")


class Attention(nn.Module):
    """Causal multi-head self-attention; the logits pass through ``scores`` (an ``nn.Identity``)
    so that the coordinate check sees them."""

    def __init__(self, width: int, mup: bool):
        super().__init__()
        self.heads, self.d = HEADS, width // HEADS
        self.q, self.k, self.v, self.o = (nn.Linear(width, width) for _ in range(4))
        self.scores = nn.Identity()
        d0 = BASE // HEADS
        self.scale = math.sqrt(d0) / self.d if mup else 1 / math.sqrt(self.d)
        if mup:  # mup's README: a zero query keeps the logits from shrinking like 1/sqrt(d) at init
            nn.init.zeros_(self.q.weight)
            nn.init.zeros_(self.q.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, _ = x.shape

        def split(t: torch.Tensor) -> torch.Tensor:  # (B, T, width) -> (B, heads, T, d)
            return t.view(B, T, self.heads, self.d).transpose(1, 2)

        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        logits = self.scores(q @ k.transpose(-2, -1) * self.scale)
        mask = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
        att = logits.masked_fill(~mask, float("-inf")).softmax(-1)
        return self.o((att @ v).transpose(1, 2).reshape(B, T, -1))


class Block(nn.Module):
    """Pre-LN: ``x + attn(ln1(x))``, then ``x + mlp(ln2(x))`` (MLP ``width -> 4 width -> width``, GELU)."""

    def __init__(self, width: int, mup: bool):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.attn = Attention(width, mup)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class Transformer(nn.Module):
    """Token and position embeddings, two pre-LN blocks, a final LayerNorm, a readout to
    ``VOCAB`` logits; input ``(batch, seq)`` token ids, output ``(batch, seq, VOCAB)``."""

    def __init__(self, width: int, *, mup: bool = False, layers: int = 2):
        super().__init__()
        self.width, self.mup = width, mup
        self.tok = nn.Embedding(VOCAB, width)
        self.pos = nn.Embedding(SEQ, width)
        self.blocks = nn.ModuleList(Block(width, mup) for _ in range(layers))
        self.ln = nn.LayerNorm(width)
        self.readout = MuReadout(width, VOCAB) if mup else nn.Linear(width, VOCAB)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        x = self.tok(idx) + self.pos(torch.arange(idx.shape[1], device=idx.device))
        for block in self.blocks:
            x = block(x)
        return self.readout(self.ln(x))

    def lr_scales(self, optimizer: str) -> dict[str, float]:
        if not self.mup:
            return {}
        with torch.device("meta"):
            delta = Transformer(2 * self.width, mup=True, layers=len(self.blocks))
        return _mup_lr_scales(self, delta, optimizer, "readout")


def mlp_sp(width: int) -> nn.Module:
    return MLP(width)


def mlp_mup(width: int) -> nn.Module:
    return MLP(width, mup=True)


def transformer_sp(width: int) -> nn.Module:
    return Transformer(width)


def transformer_mup(width: int) -> nn.Module:
    return Transformer(width, mup=True)
