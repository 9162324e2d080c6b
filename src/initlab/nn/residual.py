"""Residual MLPs: blocks ``S := S + gate * branch(N(S))`` around one stream, forward and backward.

A residual network has layers ``[n_x, d, d, ..., d, n_y]``: layer 1 (the *input projection*)
writes the stream, the ``B * m`` layers after it form ``B`` blocks of ``m`` weight layers each
(the *branches*), and layer ``L = B * m + 2`` (the *readout*) reads the stream. Pre-activation
form (He et al. 2016, "Identity mappings"), every read of the stream activated, and normalized
where ``norm="layernorm"``::

    S[0] = W[1] X + b[1]                                   the stream, (d, m)
    block b = 1..B, layers l = 1 + (b-1) m + j, j = 1..m:
        A = g(N[b](S[b-1]))                                the branch reads the stream
        Z[l] = W[l] A + b[l];  A = g(Z[l])   (j < m)       inside the branch, as a plain net
        S[b] = S[b-1] + gate[b] * Z[l]       (j = m)       the branch's last layer adds to it
    Z[L] = W[L] g(N[B+1](S[B])) + b[L];  A[L] = output(Z[L])

``g`` is each layer's hidden activation (``hidden``), ``gate[b]`` a learned scalar (1 without
gates), and ``N[k]`` the identity, or a layer norm over the stream's ``d`` units with learned
gain and bias (``N(S) = gamma * (S - mean) / sqrt(var + eps) + beta``, per example). With ``B = 0``
the network is the plain ``[n_x, d, n_y]`` one; with every gate 0 (ReZero at init) it computes
the input projection followed by the readout.

Parameters are the plain network's ``W{l}``, ``b{l}`` plus ``gate{b}: (1, 1)`` for b = 1..B
(with gates) and ``norm_gain{k}``, ``norm_bias{k}: (d, 1)`` for k = 1..B+1 (with a norm), each
with a leading ``(E,)`` in an ensemble.

The cache is a list with one ``(A[l-1], P[l])`` per layer as a plain network's: ``P[l]`` is the
pre-activation whose ``g`` is what the next layer reads (``A[l] = g(P[l])``), so the per-layer
diagnostics (saturation, dead units, signal size) read a residual network as a plain one. For a
block's last layer and the input projection ``P[l] = N(S)``, the activated stream; inside a
branch ``P[l] = Z[l]``. The streams, the branches' outputs and the norms' statistics ride along
(`ResidualCache`).

Exactness: every product is `initlab.nn.products`' (each entry summed in one order wherever it
sits), every other operation is elementwise or a reduction over one row or one column in index
order, so equal units stay bit-identical and an ensemble member gets the bits it gets alone, as in
a plain network.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from initlab.errors import InitlabError

Params = dict[str, np.ndarray]
#: The layer norm's epsilon (PyTorch's ``nn.LayerNorm`` default).
NORM_EPS = 1e-5
#: Pre-branch normalizations.
NORMS = ("layernorm",)


@dataclass(frozen=True)
class Role:
    """What weight layer ``layer`` is in a residual network: ``"input"`` (the projection that
    writes the stream), ``"branch"`` (layer ``j`` of ``m`` in block ``block``) or ``"readout"``.
    A recipe (`initlab.initializers`) draws each layer by its role."""

    layer: int
    kind: str
    block: int = 0
    j: int = 0
    m: int = 0

    @property
    def first(self) -> bool:
        return self.kind == "branch" and self.j == 1

    @property
    def last(self) -> bool:
        """The branch's last layer: its output is added to the stream."""
        return self.kind == "branch" and self.j == self.m


@dataclass(frozen=True)
class Layout:
    """A residual network's structure: ``dims`` (``[n_x, d, ..., d, n_y]``), ``m`` weight layers
    per branch, ``blocks`` (B), whether each block has a learned ``gate``, and its ``norm``
    (None or ``"layernorm"``)."""

    dims: tuple[int, ...]
    m: int
    gate: bool = False
    norm: str | None = None

    @classmethod
    def build(cls, layer_dims: Sequence[int], m: object, gate: bool = False, norm: str | None = None) -> Layout:
        """The layout of ``layer_dims`` with ``m`` layers per branch; errors say what does not fit."""
        dims = tuple(int(n) for n in layer_dims)
        if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 1:
            raise InitlabError(f"residual (weight layers per branch) must be a positive integer, got {m!r}")
        m = int(m)
        if norm is not None and norm not in NORMS:
            raise InitlabError(f"norm must be None or one of {', '.join(NORMS)}, got {norm!r}")
        L = len(dims) - 1
        if L < 2:
            raise InitlabError(
                f"a residual network needs an input projection and a readout (at least layers [n_x, d, n_y]), "
                f"got layers {list(dims)}"
            )
        hidden = dims[1:-1]
        if len(set(hidden)) != 1:
            raise InitlabError(
                f"a residual network's hidden layers are one stream and must all have one width, "
                f"got hidden widths {list(hidden)}"
            )
        if (L - 2) % m:
            raise InitlabError(
                f"a residual network with {m} weight layers per branch needs 1 + {m} * blocks hidden layers; "
                f"layers {list(dims)} have {L - 1} (the input projection and {L - 2} branch layers)"
            )
        return cls(dims, m, bool(gate), norm)

    @classmethod
    def of_init(cls, layer_dims: Sequence[int], m: object, gate=None, norm: str | None = None, inits=()) -> Layout:
        """The layout `Network` builds for these keywords: gates when ``gate`` names them (True or
        a starting value, 0.0 included) or an init of ``inits`` sets them (``rezero``)."""
        from initlab.initializers import get

        needs = any(getattr(get(i), "needs_gate", False) for i in inits)
        return cls.build(layer_dims, m, (gate is not None and gate is not False) or needs, norm)

    @classmethod
    def of_blocks(
        cls, n_x: int, width: int, n_y: int, *, blocks: int, m: int, gate: bool = False, norm: str | None = None
    ) -> Layout:
        """``[n_x] + [width] * (1 + blocks * m) + [n_y]``."""
        if isinstance(blocks, bool) or not isinstance(blocks, (int, np.integer)) or blocks < 0:
            raise InitlabError(f"blocks must be a non-negative integer, got {blocks!r}")
        return cls.build([n_x] + [width] * (1 + blocks * m) + [n_y], m, gate, norm)

    @property
    def L(self) -> int:
        return len(self.dims) - 1

    @property
    def blocks(self) -> int:
        return (self.L - 2) // self.m

    @property
    def width(self) -> int:
        return self.dims[1]

    def role(self, l: int) -> Role:
        """The role of weight layer ``l`` (1-based)."""
        if not 1 <= l <= self.L:
            raise InitlabError(f"layer {l} does not exist: the network has layers 1..{self.L}")
        if l == 1:
            return Role(1, "input")
        if l == self.L:
            return Role(l, "readout")
        b, j = divmod(l - 2, self.m)
        return Role(l, "branch", b + 1, j + 1, self.m)

    def roles(self) -> list[Role]:
        return [self.role(l) for l in range(1, self.L + 1)]

    def stream_layers(self) -> list[int]:
        """The layers whose units are the stream's: the input projection and each block's last
        layer (``A[l] = g(N(S))`` in the cache)."""
        return [1] + [1 + b * self.m for b in range(1, self.blocks + 1)]

    def extra_shapes(self) -> dict[str, tuple[int, ...]]:
        """The parameters beyond ``W{l}``, ``b{l}``: gates and norms, with their shapes."""
        out: dict[str, tuple[int, ...]] = {}
        if self.gate:
            out.update({f"gate{b}": (1, 1) for b in range(1, self.blocks + 1)})
        if self.norm:
            for k in range(1, self.blocks + 2):
                out[f"norm_gain{k}"] = (self.width, 1)
                out[f"norm_bias{k}"] = (self.width, 1)
        return out

    def describe(self) -> str:
        parts = [f"{self.blocks} block(s) of {self.m} layer(s), width {self.width}"]
        if self.gate:
            parts.append("gated")
        if self.norm:
            parts.append(self.norm)
        return ", ".join(parts)


class ResidualCache(list):
    """The per-layer ``(A[l-1], P[l])`` list (module docstring) and what the backward pass needs
    besides: ``streams`` ``S[0..B]``, ``branch_out`` (each block's last ``Z``, before its gate) and
    ``norms`` (per read ``k = 1..B+1``: ``(S, xhat, rstd)``, or None without a norm)."""

    streams: list[np.ndarray]
    branch_out: list[np.ndarray]
    norms: list[tuple[np.ndarray, np.ndarray, np.ndarray] | None]


def _rows_sum_loop(x: np.ndarray, out: np.ndarray) -> None:
    """``out[e, 0, j] = x[e, 0, j] + x[e, 1, j] + ...``, added in index order."""
    E, d, m = x.shape
    for e in range(E):
        for j in range(m):
            out[e, 0, j] = x[e, 0, j]
        for i in range(1, d):
            for j in range(m):
                out[e, 0, j] = out[e, 0, j] + x[e, i, j]


_COMPILED: list = []


def _rows_sum(x: np.ndarray, out: np.ndarray) -> None:
    """`_rows_sum_loop` compiled on first use (`import initlab` stays NumPy-only)."""
    if not _COMPILED:
        try:
            from numba import njit

            _COMPILED.append(njit(cache=True, nogil=True)(_rows_sum_loop))
        except ImportError:  # pragma: no cover - numba is a dependency; the loop is the same order
            _COMPILED.append(_rows_sum_loop)
    _COMPILED[0](x, out)


def _rows_mean(x: np.ndarray) -> np.ndarray:
    """Mean over the units axis (-2), ``([E,] d, m) -> ([E,] 1, m)``, the rows added in index
    order whatever the shape: the same bits for a network alone or inside an ensemble."""
    x3 = np.ascontiguousarray(x.reshape((-1, *x.shape[-2:])), dtype=np.float64)
    out = np.empty((x3.shape[0], 1, x3.shape[2]))
    _rows_sum(x3, out)
    return out.reshape((*x.shape[:-2], 1, x.shape[-1])) / x.shape[-2]


def norm_forward(S: np.ndarray, gain: np.ndarray, bias: np.ndarray) -> tuple[np.ndarray, tuple]:
    """Layer norm over the units of each example: ``xhat = (S - mu) * rstd``,
    ``rstd = 1 / sqrt(mean((S - mu)^2) + eps)``, ``H = gain * xhat + bias``. ``S: ([E,] d, m)``,
    ``gain, bias: ([E,] d, 1)``."""
    centred = S - _rows_mean(S)
    rstd = 1.0 / np.sqrt(_rows_mean(centred * centred) + NORM_EPS)
    xhat = centred * rstd
    return gain * xhat + bias, (xhat, rstd)


def norm_backward(dH: np.ndarray, gain: np.ndarray, saved: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(dS, dgain, dbias)`` of `norm_forward` from ``dH`` (per example, not yet averaged):
    ``dxhat = gain * dH``, ``dS = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))``,
    ``dgain = sum_examples dH * xhat / m``, ``dbias = sum_examples dH / m``."""
    xhat, rstd = saved
    m = dH.shape[-1]
    dxhat = gain * dH
    dS = rstd * (dxhat - _rows_mean(dxhat) - xhat * _rows_mean(dxhat * xhat))
    return dS, (dH * xhat).sum(axis=-1, keepdims=True) / m, dH.sum(axis=-1, keepdims=True) / m


def forward(params: Params, X: np.ndarray, activations: Sequence, layout: Layout) -> tuple[np.ndarray, ResidualCache]:
    """``(A[L], cache)`` of the residual network (module docstring). ``X: (n_x, m)``."""
    from initlab.nn.network import linear_forward

    cache = ResidualCache()
    cache.streams, cache.branch_out, cache.norms = [], [], []

    def read(S: np.ndarray, k: int) -> np.ndarray:
        """``N[k](S)``: the stream as the next layer's activation sees it."""
        if layout.norm is None:
            cache.norms.append(None)
            return S
        H, saved = norm_forward(S, params[f"norm_gain{k}"], params[f"norm_bias{k}"])
        cache.norms.append(saved)
        return H

    S = linear_forward(X, params["W1"], params["b1"])
    cache.streams.append(S)
    P = read(S, 1)
    cache.append((X, P))
    for role in layout.roles()[1:]:
        l = role.layer
        A = activations[l - 2].fn(P)  # what layer l-1's units give: A[l-1] = g(P[l-1])
        Z = linear_forward(A, params[f"W{l}"], params[f"b{l}"])
        if role.last:
            cache.branch_out.append(Z)
            S = S + (params[f"gate{role.block}"] * Z if layout.gate else Z)
            cache.streams.append(S)
            P = read(S, role.block + 1)
        else:
            P = Z
        cache.append((A, P))
    return activations[-1].fn(P), cache


def backward(
    params: Params,
    cache: ResidualCache,
    AL: np.ndarray,
    Y: np.ndarray,
    activations: Sequence,
    loss,
    layout: Layout,
    dZ_out: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Gradients ``{"dW1", "db1", ..., "dgate1", ..., "dnorm_gain1", ...}`` of the mean cost, and
    ``dA{l-1}`` (with respect to each layer's input), shapes as the parameters, and ``dS{b}``,
    the gradient reaching the stream ``S[b]`` (b = 0..B: the skip path and the branch's).
    ``dZ_out`` replaces the loss's ``dZ[L]``.

    Through a block (``S[b] = S[b-1] + gate * Z``): ``dZ = gate * dS[b]``,
    ``dgate = sum(dS[b] * Z) / m``, and ``dS[b-1] = dS[b] + N'(dA_branch_input * g'(P))``.
    """
    from initlab.nn.network import linear_backward

    L = layout.L
    grads: dict[str, np.ndarray] = {}

    def unread(dP: np.ndarray, k: int) -> np.ndarray:
        """``dS`` from ``dP``, the gradient at ``N[k](S)``, through the norm (its gain and bias'
        gradients recorded)."""
        if layout.norm is None:
            return dP
        dS, grads[f"dnorm_gain{k}"], grads[f"dnorm_bias{k}"] = norm_backward(
            dP, params[f"norm_gain{k}"], cache.norms[k - 1]
        )
        return dS

    dZ = loss.grad(cache[-1][1], AL, Y, activations[-1]) if dZ_out is None else dZ_out
    grads[f"dA{L - 1}"], grads[f"dW{L}"], grads[f"db{L}"] = linear_backward(dZ, cache[L - 1][0], params[f"W{L}"])
    dS = unread(grads[f"dA{L - 1}"] * activations[L - 2].grad(cache[L - 2][1]), layout.blocks + 1)
    for b in range(layout.blocks, 0, -1):
        grads[f"dS{b}"] = dS
        last = 1 + b * layout.m
        if layout.gate:
            Zb = cache.branch_out[b - 1]
            grads[f"dgate{b}"] = (dS * Zb).sum(axis=-1, keepdims=True).sum(axis=-2, keepdims=True) / dS.shape[-1]
            dZ = params[f"gate{b}"] * dS
        else:
            dZ = dS
        for l in range(last, last - layout.m, -1):
            A_prev, _ = cache[l - 1]
            grads[f"dA{l - 1}"], grads[f"dW{l}"], grads[f"db{l}"] = linear_backward(dZ, A_prev, params[f"W{l}"])
            dZ = grads[f"dA{l - 1}"] * activations[l - 2].grad(cache[l - 2][1])  # through g at P[l-1]
        # dZ is now the gradient at P of the stream read that fed this block: N[b](S[b-1])
        dS = dS + unread(dZ, b)
    grads["dS0"] = dS
    grads["dA0"], grads["dW1"], grads["db1"] = linear_backward(dS, cache[0][0], params["W1"])
    return grads


def check_init(init, layer_dims: Sequence[int], residual=None, gate=None, norm=None) -> None:
    """Refuse, before anything is drawn, an init that cannot draw this network: a recipe with no
    plain form (``fixup``, ``rezero``, ...) on a plain network, or a residual layout the recipe
    has no rule for (``t_fixup`` with branches of 1 layer). The one check every face makes
    (`Network`, `RunConfig`, sweeps, the dashboard); the error says what to pass."""
    from initlab.initializers import get

    sampler = get(init)
    if residual is None or residual is False:
        refusal = getattr(sampler, "plain_refusal", None)
        if refusal:
            raise InitlabError(refusal)
        return
    if hasattr(sampler, "check"):
        sampler.check(Layout.of_init(layer_dims, residual, gate, norm, [sampler]))


def initialize(layout: Layout, init, bias, rng: np.random.Generator, *, gate: float | None = None) -> Params:
    """One network's parameters. A recipe (an initializer with ``residual``, `initlab.initializers`)
    draws by each layer's role; a sampler draws every ``W[l]`` by its fans and ``b[l]`` from
    ``bias`` in the plain order (W1, b1, W2, b2, ...), then gates are ``gate`` (1 by default:
    the plain residual block) and norms start at gain 1, bias 0.
    """
    from initlab.initializers import get

    w_init, b_init = get(init), get(bias)
    recipe = getattr(w_init, "residual", None)
    if recipe is not None:
        params = recipe(layout, rng, b_init)
        if gate is not None and layout.gate:
            params.update({f"gate{b}": np.full((1, 1), float(gate)) for b in range(1, layout.blocks + 1)})
    else:
        params = {}
        for l in range(1, layout.L + 1):
            params[f"W{l}"] = w_init((layout.dims[l], layout.dims[l - 1]), rng)
            params[f"b{l}"] = b_init((layout.dims[l], 1), rng)
        value = 1.0 if gate is None else float(gate)
        if layout.gate:
            params.update({f"gate{b}": np.full((1, 1), value) for b in range(1, layout.blocks + 1)})
    if layout.norm:
        for k in range(1, layout.blocks + 2):
            params.setdefault(f"norm_gain{k}", np.ones((layout.width, 1)))
            params.setdefault(f"norm_bias{k}", np.zeros((layout.width, 1)))
    return params
