"""Forward, backward, gradient descent and `Network`: one code path for one network and for E.

Parameters are the course's dict ``{"W1", "b1", ..., "WL", "bL"}`` with ``W[l]: (n[l], n[l-1])``
and ``b[l]: (n[l], 1)``, or with a leading ensemble axis: ``(E, n[l], n[l-1])``, ``(E, n[l], 1)``.
Data are shared by the ensemble: ``X: (n_x, m)``, ``Y: (n_y, m)``. The math broadcasts, so the
course's 2-D case and E networks at once are the same functions::

    forward:   Z[l] = W[l] @ A[l-1] + b[l],   A[l] = g[l](Z[l])
    backward:  dZ[L] from the loss;  dZ[l] = dA[l] * g[l]'(Z[l])
               dW[l] = dZ[l] @ A[l-1]^T / m,  db[l] = sum_examples dZ[l] / m
               dA[l-1] = W[l]^T @ dZ[l]
    update:    W[l] := W[l] - alpha * dW[l],  b[l] := b[l] - alpha * db[l]
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from initlab import limits
from initlab.errors import (
    InitlabError,
    check_examples,
    check_layer_dims,
    check_pair,
    check_positive,
)
from initlab.initializers import SpecLike, bias_of, get, initialize_parameters_deep
from initlab.nn.activations import ACTIVATIONS, HIDDEN, Activation
from initlab.nn.losses import Loss, output_and_loss
from initlab.nn.residual import Layout
from initlab.nn.residual import backward as residual_backward
from initlab.nn.residual import forward as residual_forward
from initlab.nn.residual import initialize as residual_initialize
from initlab.nn.units import canonical_order, num_layers, permute_cache_rows, permute_units
from initlab.rng import Seed, resolve, spawn

Params = dict[str, np.ndarray]
#: Events the compiled engine records per call (`initlab.nn.fast.Engine.per_call`): the kernel
#: sums the cost at up to this many events in one call, then `fit` calls back and prints.
RECORDS_PER_CALL = 64
#: One entry per layer: ``(A[l-1], Z[l])``, what the backward pass needs.
Cache = list[tuple[np.ndarray, np.ndarray]]


def linear_forward(A_prev: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``Z = W @ A_prev + b``: ``(n[l], n[l-1]) @ (n[l-1], m) + (n[l], 1) -> (n[l], m)``.

    The product is `initlab.nn.products.matmul`, not BLAS: every entry is summed in the same
    order wherever it sits, so equal rows of ``W`` give bit-identical rows of ``Z``.
    """
    from initlab.nn.products import matmul  # compiled on first use: `import initlab` stays light

    return matmul(W, A_prev) + b


def linear_backward(dZ: np.ndarray, A_prev: np.ndarray, W: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(dA_prev, dW, db)`` from ``dZ: (n[l], m)``: ``dA_prev = W^T @ dZ``,
    ``dW = dZ @ A_prev^T / m``, ``db = sum over examples of dZ / m``."""
    from initlab.nn.products import matmul_nt, matmul_tn

    m = dZ.shape[-1]
    dW = matmul_nt(dZ, A_prev) / m  # dZ @ A_prev^T, summed over examples in data order
    db = dZ.sum(axis=-1, keepdims=True) / m
    return matmul_tn(W, dZ), dW, db  # W^T @ dZ


def forward(params: Params, X: np.ndarray, activations: Sequence[Activation]) -> tuple[np.ndarray, Cache]:
    """``A[L]`` and the cache. ``X: (n_x, m)``; ``A[L]: (n_y, m)`` or ``(E, n_y, m)``."""
    A = X
    cache: Cache = []
    for l, g in enumerate(activations, start=1):
        Z = linear_forward(A, params[f"W{l}"], params[f"b{l}"])
        cache.append((A, Z))
        A = g.fn(Z)
    return A, cache


def backward(
    params: Params,
    cache: Cache,
    AL: np.ndarray,
    Y: np.ndarray,
    activations: Sequence[Activation],
    loss: Loss,
    dZ_out: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Gradients ``{"dW1", "db1", ..., "dA0", ...}`` of the mean cost; shapes as the parameters.

    ``dA{l}`` is the gradient with respect to ``A[l]`` (``dA0`` with respect to X). ``dZ_out``
    replaces the loss's ``dZ[L]`` (an error signal of one's own, `initlab.diagnose.propagation`).
    """
    L = len(cache)
    grads: dict[str, np.ndarray] = {}
    dZ = loss.grad(cache[-1][1], AL, Y, activations[-1]) if dZ_out is None else dZ_out
    for l in range(L, 0, -1):
        A_prev, Z = cache[l - 1]
        if l < L:
            dZ = grads[f"dA{l}"] * activations[l - 1].grad(Z)
        grads[f"dA{l - 1}"], grads[f"dW{l}"], grads[f"db{l}"] = linear_backward(dZ, A_prev, params[f"W{l}"])
    return grads


def update(params: Params, grads: dict[str, np.ndarray], lr: float | np.ndarray) -> Params:
    """Gradient descent in place: ``W := W - lr * dW``, ``b := b - lr * db`` (and every other
    parameter ``p := p - lr * dp``: a residual network's gates and norms); returns ``params``.

    ``lr`` is a number, or ``(E, 1, 1)`` for one learning rate per ensemble member.
    """
    for key in params:
        params[key] -= lr * grads[f"d{key}"]
    return params


@dataclass
class History:
    """What ``fit`` recorded: the cost at ``iterations`` (before that step's update).

    ``costs`` is ``(k,)`` for one network, ``(k, E)`` for an ensemble. The last row is the cost
    after the final update, at iteration ``iterations[-1] == n_iterations``.
    """

    iterations: np.ndarray
    costs: np.ndarray
    lr: float | list[float]
    #: What ``fit(track=...)`` measured (`initlab.diagnose.tracking.Tracked`), else None.
    tracked: object = None

    @property
    def final_cost(self) -> float | np.ndarray:
        return self.costs[-1]

    @property
    def diverged_at(self) -> int | None | list[int | None]:
        """The first recorded iteration whose cost is NaN or inf (the run diverged), None when
        every recorded cost is finite; for an ensemble, a list with one entry per member."""
        costs = np.asarray(self.costs, dtype=np.float64)
        if costs.size == 0:
            return None if costs.ndim < 2 else [None] * costs.shape[1]
        bad = ~np.isfinite(costs)
        first = bad.argmax(axis=0)
        at = np.where(bad.any(axis=0), np.asarray(self.iterations)[first], -1)
        if at.ndim == 0:
            return None if at < 0 else int(at)
        return [None if a < 0 else int(a) for a in at]

    @property
    def symmetric_every_step(self) -> bool | np.ndarray | None:
        """Whether some hidden layer kept identical units at every tracked step (``(E,)`` for
        an ensemble); None unless ``fit(track=("symmetry",))``."""
        return None if self.tracked is None else self.tracked.symmetric_every_step

    @property
    def effective_widths(self) -> np.ndarray | None:
        """Effective width per tracked step and hidden layer: ``(k, [E,] L-1)``."""
        if self.tracked is None or not self.tracked.effective_width:
            return None
        return np.array(self.tracked.effective_width)

    def to_dict(self) -> dict:
        """``{"costs": [[iteration, cost], ...]}``; for an ensemble each cost is a list of E."""
        out = {
            "costs": [
                [int(i), c.tolist() if np.ndim(c) else float(c)]
                for i, c in zip(self.iterations, self.costs, strict=True)
            ],
            "final_cost": self.final_cost.tolist() if np.ndim(self.final_cost) else float(self.final_cost),
            "diverged_at": self.diverged_at,
        }
        if self.tracked is not None:
            out["tracked"] = self.tracked.to_dict()
            if self.symmetric_every_step is not None:
                out["symmetric_every_step"] = out["tracked"]["symmetric_every_step"]
        return out

    def _repr_html_(self) -> str:
        """The notebook's table (`initlab.report.notebook`)."""
        from initlab.report.notebook import history_html

        return history_html(self)

    def __repr__(self) -> str:
        d = self.diverged_at
        diverged = "" if d is None or d == [None] * len(d or []) else f", diverged at {d}"
        return f"History({len(self.iterations)} records, final cost {self.final_cost}{diverged})"


def _count(iterations: int, every: int) -> int:
    """Events ``range(0, iterations, every)`` plus the final record."""
    return iterations // every + 2


@dataclass(frozen=True, slots=True)
class Event:
    """An iteration ``i`` at which `fit` looks at the network, before that iteration's update
    (``i == iterations``: after the last update): it ``records`` the cost (`History`, the
    callback), ``tracks`` (the tracker measures) and/or ``prints`` the course's line."""

    i: int
    records: bool
    tracks: bool
    prints: bool


@dataclass(frozen=True, slots=True)
class Call:
    """One call of an `Engine`: ``steps`` updates from iteration ``start``, with the cost taken
    at each event of ``events`` that records or prints (``costed``, at ``offsets`` from
    ``start``). ``events[0].i == start``; only the first event may track (the tracker measures
    before the call's steps). The call after the last update has ``steps == 0``."""

    start: int
    steps: int
    events: tuple[Event, ...]

    @property
    def tracks(self) -> bool:
        return self.events[0].tracks

    @property
    def costed(self) -> tuple[Event, ...]:
        return tuple(e for e in self.events if e.records or e.prints)

    @property
    def offsets(self) -> list[int]:
        return [e.i - self.start for e in self.costed]


@dataclass(frozen=True)
class Schedule:
    """When `fit` looks, fixed before the first step: the iterations of ``range(iterations)``
    that are multiples of ``record_every``, ``print_every`` or ``track_every`` (None: never),
    in order, then ``final`` after the last update (recorded; tracked when anything is; never
    printed, so ``print_every`` does not print the final cost)."""

    iterations: int
    events: tuple[Event, ...]
    final: Event

    @classmethod
    def build(
        cls, iterations: int, record_every: int, print_every: int | None = None, track_every: int | None = None
    ) -> Schedule:
        rec, tra, pri = (set(range(0, iterations, k)) if k else set() for k in (record_every, track_every, print_every))
        events = tuple(Event(i, i in rec, i in tra, i in pri) for i in sorted(rec | tra | pri))
        return cls(iterations, events, Event(iterations, True, track_every is not None, False))

    def calls(self, per_call: int) -> Iterator[Call]:
        """The run as engine calls of at most ``per_call`` events each, a tracked event always
        first in its call; the calls cover ``[0, iterations)`` end to end, then the final event
        as a call of 0 steps."""
        groups: list[list[Event]] = []
        for e in self.events:
            if not groups or e.tracks or len(groups[-1]) == per_call:
                groups.append([])
            groups[-1].append(e)
        bounds = [g[0].i for g in groups] + [self.iterations]
        for k, g in enumerate(groups):
            yield Call(bounds[k], bounds[k + 1] - bounds[k], tuple(g))
        yield Call(self.iterations, 0, (self.final,))


class Engine(Protocol):
    """What `fit` needs of an engine: the NumPy `ReferenceEngine` and the compiled
    `initlab.nn.fast.Engine` both are one. A cost is the mean cost over the examples: a float,
    or ``(E,)`` for an ensemble, by the engine's one definition."""

    #: Events one `step` call may record (`Schedule.calls`).
    per_call: int

    def step(self, n: int, record: Sequence[int] = ()) -> list:
        """``n`` updates from the current parameters; returns the cost after ``k`` of them for
        each ``k`` of ``record`` (increasing, ``0 <= k <= n``; ``k < n``: before update k)."""

    def cost(self) -> float | np.ndarray:
        """The cost at the current parameters (``step(0, record=[0])[0]``)."""

    def forward(self) -> tuple[np.ndarray, Cache]:
        """``(A[L], cache)`` of `forward` at the current parameters, written back to the network."""

    def store(self) -> None:
        """Write the current parameters back into the network's ``params``."""


class ReferenceEngine:
    """The formulas as written: `forward`, `backward` and `update` on the network's own
    ``params`` (so `store` has nothing to do); the cost is ``loss.cost(Z[L], A[L], Y)``."""

    #: one event per call: batching saves nothing here, and each callback comes as soon as its
    #: event's steps are done (the CLI's progress bar moves with the work)
    per_call = 1

    def __init__(self, net: Network, X: np.ndarray, Y: np.ndarray, lr: float | np.ndarray) -> None:
        self.params, self.activations, self.loss = net.params, net.activations, net.loss
        self.net, self.X, self.Y, self.lr = net, X, Y, lr
        self._now: tuple[np.ndarray, Cache] | None = None  # the forward pass at the current parameters

    def forward(self) -> tuple[np.ndarray, Cache]:
        """``(A[L], cache)`` at the current parameters, kept for the next step's update."""
        if self._now is None:
            self._now = self.net._forward(self.params, self.X)
        return self._now

    def cost(self) -> float | np.ndarray:
        """``loss.cost`` at the current parameters (a float, or ``(E,)``)."""
        AL, cache = self.forward()
        return self.loss.cost(cache[-1][1], AL, self.Y)

    def step(self, n: int, record: Sequence[int] = ()) -> list:
        """``n`` times: ``A[L], cache = forward(...)`` (the cost taken from it where recorded),
        then ``update(params, backward(...), lr)``; see `Engine.step`."""
        costs = []
        for k in range(n):
            if k in record:
                costs.append(self.cost())
            AL, cache = self.forward()
            update(self.params, self.net._backward(self.params, cache, AL, self.Y), self.lr)
            self._now = None
        if n in record:
            costs.append(self.cost())
        return costs

    def store(self) -> None:
        pass


def _as_list(value: object, n: int, what: str) -> list:
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise InitlabError(f"got {len(value)} {what} for {n} networks")
        return list(value)
    return [value] * n


class Network:
    """A fully connected network in the course's conventions, or an ensemble of E of them.

    ``Network([2, 4, 1], hidden="tanh", output="sigmoid", init="random:0.01", seed=3)`` is the
    course's planar network. ``hidden`` is one activation for every hidden layer or one per
    hidden layer. ``output`` defaults to sigmoid for one output unit and softmax for more (pass
    ``output="sigmoid"`` for independent multi-label outputs). ``loss`` defaults by output:
    sigmoid -> binary cross-entropy, softmax -> cross-entropy, identity -> MSE. ``bias`` is
    the biases' spec; by default the init's own (`initializers.bias_of`: ``critical:gelu,0.3``
    draws its biases from ``N(0, 0.3)``, the other half of its critical point), else zeros.

    Ensembles: ``ensemble=E`` holds E networks, each initialized from its own stream of the seed
    (``SeedSequence(seed).spawn(E)``); ``init`` and ``seed`` may also be lists, one per member,
    and then member k is initialized exactly as ``Network(..., init=init[k], seed=seed[k])``.
    E networks trained at once equal the same E trained one by one (``member(k)``).

    Residual networks (`initlab.nn.residual`): ``residual=m`` makes the hidden layers, all of
    one width, an input projection and blocks ``S := S + gate * branch(N(S))`` of ``m`` weight
    layers each (``[2, 16, 16, 16, 1]`` with ``residual=1``: two blocks). ``gate``: None (no
    gates), True (a learned scalar per block, starting where the init puts it: 1, or 0 for
    ``rezero``) or a number (every gate's starting value). ``norm="layernorm"`` normalizes every
    read of the stream. A recipe (``fixup``, ``rezero``, ...) draws each layer by its role.
    """

    def __init__(
        self,
        layer_dims: Sequence[int],
        *,
        hidden: str | Sequence[str] = "tanh",
        output: str | None = None,
        loss: str | None = None,
        init: SpecLike | Sequence[SpecLike] = "random:0.01",
        bias: SpecLike | None = None,
        seed: Seed | Sequence[Seed] = None,
        ensemble: int | None = None,
        params: Params | None = None,
        residual: int | None = None,
        gate: bool | float | None = None,
        norm: str | None = None,
    ) -> None:
        self.layer_dims = check_layer_dims(layer_dims)
        L = len(self.layer_dims) - 1
        hidden_names = [hidden] * (L - 1) if isinstance(hidden, str) else list(hidden)
        if len(hidden_names) != L - 1:
            raise InitlabError(
                f"got {len(hidden_names)} hidden activations for {L - 1} hidden layers (layers {self.layer_dims})"
            )
        hidden_names = [HIDDEN.canonical(name) for name in hidden_names]  # GELU is gelu
        output, self.loss = output_and_loss(output, loss, self.layer_dims[-1])  # the one rule
        self.hidden = hidden_names
        self.output = output
        self.activations = [ACTIVATIONS[n] for n in hidden_names] + [ACTIVATIONS[output]]

        if ensemble is None and isinstance(init, (list, tuple)):
            ensemble = len(init)
        if ensemble is None and isinstance(seed, (list, tuple)):
            ensemble = len(seed)
        if ensemble is not None and (isinstance(ensemble, bool) or int(ensemble) < 1):
            raise InitlabError(f"ensemble must be a positive number of networks, got {ensemble}")
        self.ensemble = None if ensemble is None else int(ensemble)

        # the specs as given (one, or one per member): checked once each, and nothing the size of
        # the ensemble is made before the limits have seen it (ensemble=10**9 is refused at once)
        given = list(init) if isinstance(init, (list, tuple)) else [init]
        if isinstance(init, (list, tuple)):
            _as_list(given, self.ensemble or 1, "initializers")  # one per member: the count is checked
        samplers = [get(spec) for spec in given]  # validate before drawing
        self.layout = self._layout(residual, gate, norm, samplers)
        self.gate = gate if isinstance(gate, bool) or gate is None else float(gate)

        if params is not None:
            self.params = self._check_params(params)
            self.init = list(init) if isinstance(init, (list, tuple)) else init
            return
        limits.check(limits.network(self.layer_dims, ensemble=self.ensemble))  # before drawing
        inits = _as_list(init, self.ensemble or 1, "initializers")
        rngs = [seed] if self.ensemble is None else spawn(seed, self.ensemble)
        members = [
            self._draw(spec, bias_of(spec) if bias is None else bias, rng)
            for spec, rng in zip(inits, rngs, strict=True)
        ]
        self.init = init if self.ensemble is None else inits
        if self.ensemble is None:
            self.params = members[0]
        else:
            self.params = {k: np.stack([p[k] for p in members]) for k in members[0]}

    # ------------------------------------------------------------------ construction helpers
    def _layout(self, residual: object, gate: object, norm: object, samplers: list) -> Layout | None:
        """The residual layout (None for a plain network); a recipe that sets gates
        (``rezero``) gets them without ``gate=``. A gate or norm without ``residual`` is refused."""
        if residual is None or residual is False:
            if gate not in (None, False) or norm is not None:
                raise InitlabError(
                    "gate and norm belong to residual networks: pass residual=m (weight layers per branch)"
                )
            return None
        if gate is not None and not isinstance(gate, bool):
            try:
                gate = float(gate)
            except (TypeError, ValueError):
                raise InitlabError(f"gate must be None, True or a starting value (a number), got {gate!r}") from None
            if not np.isfinite(gate):
                raise InitlabError(f"gate must be a finite number, got {gate}")
        return Layout.of_init(self.layer_dims, residual, gate, norm, samplers)

    def _draw(self, spec: SpecLike, bias: SpecLike, seed: Seed) -> Params:
        """One network's parameters: the plain draw (`initialize_parameters_deep`) or the
        residual one (`initlab.nn.residual.initialize`, recipes by role)."""
        if self.layout is None:
            return initialize_parameters_deep(self.layer_dims, init=spec, bias=bias, seed=seed)
        gate = None if isinstance(self.gate, bool) else self.gate
        return residual_initialize(self.layout, spec, bias, resolve(seed), gate=gate)

    def _forward(self, params: Params, X: np.ndarray) -> tuple[np.ndarray, Cache]:
        """`forward` (plain) or `initlab.nn.residual.forward` on checked data."""
        if self.layout is None:
            return forward(params, X, self.activations)
        return residual_forward(params, X, self.activations, self.layout)

    def _backward(
        self, params: Params, cache: Cache, AL: np.ndarray, Y: np.ndarray | None, dZ_out: np.ndarray | None = None
    ) -> dict[str, np.ndarray]:
        """`backward` (plain) or `initlab.nn.residual.backward`; ``dZ_out`` as there."""
        if self.layout is None:
            return backward(params, cache, AL, Y, self.activations, self.loss, dZ_out)
        return residual_backward(params, cache, AL, Y, self.activations, self.loss, self.layout, dZ_out)

    def _shapes(self) -> dict[str, tuple[int, ...]]:
        """Every parameter's shape for one network, in draw order."""
        out: dict[str, tuple[int, ...]] = {}
        for l in range(1, len(self.layer_dims)):
            out[f"W{l}"] = (self.layer_dims[l], self.layer_dims[l - 1])
            out[f"b{l}"] = (self.layer_dims[l], 1)
        if self.layout is not None:
            out.update(self.layout.extra_shapes())
        return out

    def _check_params(self, params: Params) -> Params:
        out = {}
        lead = () if self.ensemble is None else (self.ensemble,)
        # a gate or norm the network does not have would be dropped without a word
        extra = sorted(k for k in set(params) - set(self._shapes()) if str(k).startswith(("gate", "norm_")))
        if extra:
            what = "a plain network" if self.layout is None else self.layout.describe()
            raise InitlabError(f"parameters {extra} do not belong to layers {self.layer_dims} ({what})")
        for key, shape in self._shapes().items():
            if key not in params:
                raise InitlabError(f"parameters lack {key} (layers {self.layer_dims})")
            arr = np.array(params[key], dtype=np.float64)
            if arr.shape != lead + shape:
                raise InitlabError(f"{key} has shape {arr.shape} but layers {self.layer_dims} need {lead + shape}")
            out[key] = arr
        return out

    @classmethod
    def from_params(cls, params: Params, **kwargs: object) -> Network:
        """A network around existing parameters (the course's dict, or stacked ``(E, ...)``).

        A residual network's parameters say what they are: ``gate{b}`` keys give ``gate=True``,
        ``norm_gain{k}`` keys ``norm="layernorm"``, and their count the blocks, hence
        ``residual`` (weight layers per branch); keywords given win. Without gates or norms the
        parameters of a residual network are a plain network's: pass ``residual=m``."""
        W1 = np.asarray(params["W1"])
        L = num_layers(params)
        dims = [W1.shape[-1]] + [np.asarray(params[f"W{l}"]).shape[-2] for l in range(1, L + 1)]
        ensemble = W1.shape[0] if W1.ndim == 3 else None
        gates = sum(1 for k in params if str(k).startswith("gate"))
        norms = sum(1 for k in params if str(k).startswith("norm_gain"))
        if gates and kwargs.get("gate") is None:
            kwargs["gate"] = True
        if norms and kwargs.get("norm") is None:
            kwargs["norm"] = "layernorm"
        blocks = gates or max(norms - 1, 0)
        if kwargs.get("residual") is None and (gates or norms):
            if not blocks or (L - 2) % blocks:
                raise InitlabError(
                    f"parameters with {gates} gate(s) and {norms} norm(s) do not fit {L} weight layers as blocks "
                    f"of one branch length: pass residual=m (weight layers per branch)"
                )
            kwargs["residual"] = (L - 2) // blocks
        return cls(dims, params=params, ensemble=ensemble, **kwargs)

    def member(self, k: int) -> Network:
        """Member ``k`` of an ensemble as a network of its own (a copy of its parameters)."""
        if self.ensemble is None:
            raise InitlabError("member() is for ensembles; this is a single network")
        if not 0 <= k < self.ensemble:
            raise InitlabError(f"member {k} does not exist: the ensemble has {self.ensemble}")
        init = self.init[k] if isinstance(self.init, list) else self.init
        return Network(
            self.layer_dims,
            hidden=self.hidden,
            output=self.output,
            loss=self.loss.name,
            init=init,
            params={key: v[k].copy() for key, v in self.params.items()},
            **self.structure(),
        )

    def structure(self) -> dict:
        """The residual keywords that rebuild this network's shape: ``{}`` for a plain network,
        else ``{"residual": m, "gate": True | None, "norm": ...}``."""
        if self.layout is None:
            return {}
        return {"residual": self.layout.m, "gate": True if self.layout.gate else None, "norm": self.layout.norm}

    # ------------------------------------------------------------------------- checks
    def _check_X(self, X: object) -> np.ndarray:
        X = check_examples(X, "X")
        if X.shape[0] != self.layer_dims[0]:
            raise InitlabError(
                f"X has shape {X.shape} ({X.shape[0]} features) but the network's input layer "
                f"has {self.layer_dims[0]} units: expected ({self.layer_dims[0]}, m)"
            )
        return X

    def _check_Y(self, X: np.ndarray, Y: object) -> np.ndarray:
        Y = check_examples(Y, "Y")
        check_pair(X, Y)
        n_y = self.layer_dims[-1]
        if Y.shape[0] != n_y:
            raise InitlabError(
                f"Y has shape {Y.shape} but the output layer has {n_y} unit(s): expected ({n_y}, {X.shape[1]})"
            )
        if self.loss.name in ("binary_cross_entropy", "cross_entropy") and (Y.min() < 0 or Y.max() > 1):
            raise InitlabError(
                f"Y must hold labels in [0, 1] for {self.loss.name}, got values from {Y.min()} to {Y.max()}"
            )
        return Y

    def _check_lr(self, lr: float | Sequence[float]) -> float | np.ndarray:
        if isinstance(lr, (list, tuple, np.ndarray)):
            if self.ensemble is None or len(lr) != self.ensemble:
                raise InitlabError(f"got {len(lr)} learning rates; give one number, or one per ensemble member")
            return np.array([check_positive("lr", v) for v in lr]).reshape(-1, 1, 1)
        return check_positive("lr", lr)

    # ------------------------------------------------------------------------- the math
    def forward(self, X: np.ndarray) -> tuple[np.ndarray, Cache]:
        """``(A[L], cache)`` on ``X: (n_x, m)``."""
        return self._forward(self.params, self._check_X(X))

    def cost(self, X: np.ndarray, Y: np.ndarray) -> float | np.ndarray:
        """The mean cost on ``(X, Y)``: a float, or ``(E,)`` for an ensemble."""
        X = self._check_X(X)
        Y = self._check_Y(X, Y)
        AL, cache = self._forward(self.params, X)
        c = self.loss.cost(cache[-1][1], AL, Y)
        return float(c) if np.ndim(c) == 0 else c

    def gradients(self, X: np.ndarray, Y: np.ndarray) -> dict[str, np.ndarray]:
        """Backpropagated gradients ``{"dW1", "db1", ...}`` on ``(X, Y)`` (no update)."""
        X = self._check_X(X)
        Y = self._check_Y(X, Y)
        AL, cache = self._forward(self.params, X)
        return self._backward(self.params, cache, AL, Y)

    def fit(
        self,
        X: np.ndarray,
        Y: np.ndarray,
        *,
        lr: float | Sequence[float],
        iterations: int,
        print_every: int | None = None,
        record_every: int | None = None,
        callback: Callable[[int, float | np.ndarray], None] | None = None,
        track: Sequence[str] = (),
        track_every: int = 1,
        engine: str = "auto",
        order: list[np.ndarray] | None = None,
    ) -> History:
        """Full-batch gradient descent for ``iterations`` steps on ``X: (n_x, m)``,
        ``Y: (n_y, m)``: ``W[l] := W[l] - lr * dW[l]``, ``b[l] := b[l] - lr * db[l]`` (``lr``
        one number, or one per ensemble member); returns the `History`.

        The cost is recorded every ``record_every`` iterations (default: about 200 records)
        and always at iteration 0 and after the last update. ``print_every=1000`` prints the
        course's "Cost after iteration i: c". ``callback(i, cost)`` is called at each record
        (the CLI's progress bar), before that iteration's line is printed. ``cost`` is a float,
        or ``(E,)`` for an ensemble.

        ``track=("symmetry", "saturation", "weights")`` measures those every ``track_every``
        iterations and after the last update (`History.tracked`, `History.symmetric_every_step`).

        ``engine``: ``"fast"`` (the compiled batched engine, `initlab.nn.fast`), ``"reference"``
        (plain NumPy, the formulas as written) or ``"auto"``: chosen by the network's shape alone,
        never its ensemble size (`initlab.nn.fast.pays`: fast when numba is installed and the
        shape runs the unrolled kernel), so a network trains to the same bits alone, in any
        ensemble and on any executor. The engines agree to rounding, not bit for bit.

        How: the events (`Schedule`) are fixed before the first step; the engine (`Engine`)
        runs from one event to the next, taking the cost at the events it passes; the hidden
        units train in a canonical order that is undone at the end (`initlab.nn.units`).

        ``order``: None (train in the canonical order of the parameters as they are now), or
        the per-hidden-layer permutations the caller has already applied to ``params``
        (`units.permute_units`) and keeps across calls: the units train as they are and the
        tracker sees them back in the caller's order. `initlab.experiments.run.Training` passes
        the order of its first call to every chunk, so training in chunks is the arithmetic of
        one call (the canonical order of the parameters changes as they train).
        """
        X = np.ascontiguousarray(self._check_X(X))  # the same arithmetic for any memory layout
        Y = np.ascontiguousarray(self._check_Y(X, Y))
        alpha = self._check_lr(lr)
        if isinstance(iterations, bool) or not isinstance(iterations, (int, np.integer)) or iterations < 0:
            raise InitlabError(f"iterations must be a non-negative integer, got {iterations!r}")
        every = record_every or max(1, iterations // 200)
        if every < 1:
            raise InitlabError(f"record_every must be at least 1, got {record_every}")
        if print_every is not None and print_every < 1:
            raise InitlabError(f"print_every must be at least 1, got {print_every}")
        if engine not in ("auto", "fast", "reference"):
            raise InitlabError(f"engine must be 'auto', 'fast' or 'reference', got {engine!r}")
        track = (track,) if isinstance(track, str) else tuple(track)
        tracker = self._tracker(track, track_every)
        make_engine = self._engine_type(engine, iterations)
        limits.check(
            limits.training(
                self.layer_dims,
                ensemble=self.ensemble,
                examples=X.shape[1],
                iterations=iterations,
                records=_count(iterations, every) + (0 if print_every is None else _count(iterations, print_every)),
                tracked=0 if tracker is None else _count(iterations, track_every),
                track_weights="weights" in track,
                built=True,
            )
        )
        schedule = Schedule.build(iterations, every, print_every, None if tracker is None else track_every)
        self._apply_lsuv(X)
        # Train with the hidden units in a canonical order (undone in `finally`), so a
        # permutation of them permutes the result bit for bit (initlab.nn.units).
        given = order is not None
        # a residual network's stream is one set of units across many layers: it trains in the
        # order it has (the permutation law is the plain network's)
        perms = canonical_order(self.params) if order is None and self.layout is None else order
        if perms is None:
            perms = []
        if all((p == np.arange(p.shape[-1])).all() for p in perms):
            perms = None  # already in that order
        elif not given:
            permute_units(self.params, perms)
        its, costs = [], []
        try:
            # a run that overflows is reported (History.diverged_at), not warned about per step
            with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
                eng = make_engine(self, X, Y, alpha)  # after the permutation: it trains what it is given
                for call in schedule.calls(eng.per_call):
                    if call.tracks:  # in the user's order of units
                        _, cache = eng.forward()
                        if tracker.needs_order:  # copies of the weights: in the user's order
                            tracker.record(call.start, *_user_order(self.params, cache, perms))
                        else:  # counts of units and groups: the same in any order of the units
                            tracker.record(call.start, self.params, cache)
                    for event, c in zip(call.costed, eng.step(call.steps, record=call.offsets), strict=True):
                        if event.records:
                            its.append(event.i)
                            costs.append(c)
                            if callback is not None:
                                callback(event.i, c)
                        if event.prints:
                            print(f"Cost after iteration {event.i}: {c}")
                eng.store()
        finally:
            if perms is not None and not given:
                permute_units(self.params, perms, inverse=True)
        lr_out = alpha.ravel().tolist() if isinstance(alpha, np.ndarray) else alpha
        return History(np.array(its), np.array(costs), lr_out, tracked=None if tracker is None else tracker.result)

    def _tracker(self, track: tuple[str, ...], track_every: object):
        """The `initlab.diagnose.tracking.Tracker` for ``fit(track=...)``, None when nothing is
        tracked; refuses unknown measures and a ``track_every`` that is not a positive integer."""
        if not track:
            return None
        if isinstance(track_every, bool) or not isinstance(track_every, (int, np.integer)) or track_every < 1:
            raise InitlabError(f"track_every must be a positive integer, got {track_every!r}")
        from initlab.diagnose.tracking import Tracker  # diagnose sits above nn: imported when asked for

        return Tracker(track, self.activations, len(self.layer_dims) - 2, layout=self.layout)

    def _engine_type(self, engine: str, iterations: int) -> type[Engine]:
        """`initlab.nn.fast.Engine` where ``engine`` picks the compiled engine for this network,
        else `ReferenceEngine`; a run of 0 steps too, so its cost is the same definition as the
        first record of a longer run. ``engine="fast"`` on a network the kernel cannot run says
        why."""
        from initlab.nn import fast

        if engine == "fast" and not fast.supported(self):
            raise InitlabError(fast.refusal(self))
        compiled = engine == "fast" or (engine == "auto" and fast.pays(self))
        return fast.Engine if compiled else ReferenceEngine

    def _apply_lsuv(self, X: np.ndarray) -> None:
        """Members initialized with a data-dependent init (``lsuv``) get their data step on the
        first training batch, once."""
        if getattr(self, "lsuv_result", None) is not None:
            return
        inits = self.init if isinstance(self.init, list) else [self.init]
        samplers = [get(i) for i in inits]
        mask = np.array([getattr(s, "data_dependent", False) for s in samplers])
        if not mask.any():
            return
        from initlab.nn.lsuv import lsuv

        if self.layout is not None:
            raise InitlabError("lsuv rescales a plain network layer by layer; a residual network needs a recipe")
        first = samplers[int(np.argmax(mask))]
        self.lsuv_result = lsuv(
            self, X, tol=first.tol, max_iter=first.max_iter, members=mask if self.ensemble else None
        )

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predicted labels ``(1, m)`` (or ``(E, 1, m)``): ``A > 0.5`` as 0/1 for one sigmoid
        output, the arg-max class index for softmax, the output itself for regression."""
        AL, _ = self.forward(X)
        if self.output == "softmax":
            return AL.argmax(axis=-2)[..., None, :]
        if self.loss.name == "binary_cross_entropy":
            return (AL > 0.5).astype(np.int64)
        return AL

    def accuracy(self, X: np.ndarray, Y: np.ndarray) -> float | np.ndarray:
        """Fraction of examples predicted right, in [0, 1]; ``(E,)`` for an ensemble."""
        X = self._check_X(X)
        Y = self._check_Y(X, Y)
        pred = self.predict(X)
        if self.output == "softmax":
            truth = Y.argmax(axis=0)[None, :]
        elif self.loss.name == "binary_cross_entropy":
            truth = (Y > 0.5).astype(np.int64)
        else:
            raise InitlabError("accuracy is for classification; this network regresses")
        acc = (pred == truth).all(axis=-2).mean(axis=-1)
        return float(acc) if np.ndim(acc) == 0 else acc

    def __repr__(self) -> str:
        ens = f", ensemble={self.ensemble}" if self.ensemble else ""
        res = "".join(f", {k}={v!r}" for k, v in self.structure().items() if v is not None)
        return f"Network({self.layer_dims}, hidden={self.hidden}, output={self.output!r}, init={self.init!r}{res}{ens})"


def _user_order(params: Params, cache: Cache, perms: list[np.ndarray] | None) -> tuple[Params, Cache]:
    """Parameters and cache with the hidden units back in the user's order (copies), for what
    a tracker records while `fit` trains in the canonical order."""
    if perms is None:
        return params, cache
    out = {k: v.copy() for k, v in params.items()}
    permute_units(out, perms, inverse=True)
    L = len(cache)
    back = []
    for l, (A_prev, Z) in enumerate(cache, start=1):
        if l > 1:
            A_prev = permute_cache_rows(A_prev, perms[l - 2], inverse=True)
        if l < L:
            Z = permute_cache_rows(Z, perms[l - 1], inverse=True)
        back.append((A_prev, Z))
    return out, back


def gradient_check(net: Network, X: np.ndarray, Y: np.ndarray, *, epsilon: float = 1e-7) -> float:
    """Relative error between backprop and central finite differences (one network).

    ``||g - g_approx|| / (||g|| + ||g_approx||)`` over all parameters, with
    ``g_approx = (J(theta + eps) - J(theta - eps)) / (2 eps)``; the course calls below 2e-7 fine.
    """
    if net.ensemble is not None:
        raise InitlabError("gradient_check takes one network; use net.member(k) for an ensemble")
    grads = net.gradients(X, Y)
    analytic, numeric = [], []
    for key, theta in net.params.items():
        g = grads[f"d{key}"]
        it = np.nditer(theta, flags=["multi_index"])
        for _ in it:
            idx = it.multi_index
            old = theta[idx]
            theta[idx] = old + epsilon
            plus = net.cost(X, Y)
            theta[idx] = old - epsilon
            minus = net.cost(X, Y)
            theta[idx] = old
            numeric.append((plus - minus) / (2 * epsilon))
            analytic.append(g[idx])
    a, n = np.array(analytic), np.array(numeric)
    denom = np.linalg.norm(a) + np.linalg.norm(n)
    return 0.0 if denom == 0 else float(np.linalg.norm(a - n) / denom)
