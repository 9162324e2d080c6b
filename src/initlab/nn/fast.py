"""The compiled engine: full-batch gradient descent for E small networks at once.

Same math as `initlab.nn.network` (forward, backward, update) in one kernel written for the
network's shape (`initlab.nn.codegen`): every unit a local variable, one vector loop over 16
networks around the whole pass for up to 4 examples; compiled once per machine and cached on
disk. It runs shapes whose written-out pass fits ``codegen.BUDGET`` statements (the course's
networks); a recording run also sums the cost in the kernel (`Engine.run`), so cost records
cost almost nothing. Lane blocks run in parallel threads (numba ``prange``). Measured on the
circles network, 1024 networks: about 480k net-it/s (see docs/performance.md).

Results equal the plain NumPy path to rounding (the tests require 1e-9 after hundreds of
iterations): only the order of floating-point sums and the exp differ.
`Network.fit(engine="auto")` uses this engine when numba is installed (the ``fast`` extra) and
the network's *shape* runs the kernel (`pays`), whatever its ensemble size: so a network gets
the same bits alone, in any ensemble and on any executor.

A looped "generic" kernel for larger shapes was removed (issue 17.9): once the NumPy path's
products became exact (`initlab.nn.products`) it ran at 0.7-1.3x that path's speed for 32 to
256 networks and 10x slower for one, and it was a third copy of every activation.
"""

from __future__ import annotations

import numpy as np

from initlab.nn import codegen
from initlab.nn.network import RECORDS_PER_CALL, Cache, forward

try:  # numba is optional: without it Network.fit uses the NumPy path
    import numba  # noqa: F401

    AVAILABLE = True
except ImportError:  # pragma: no cover - exercised only without the extra
    AVAILABLE = False

#: the losses the kernel writes (`codegen.cost_lines`, the output delta)
LOSSES = ("binary_cross_entropy", "cross_entropy", "mse")


def supported(net) -> bool:
    """Whether the engine runs this network: numba installed, float64, every activation with a
    kernel row in the activation table, a loss it writes, and a shape that fits (`unrolls`)."""
    if getattr(net, "layout", None) is not None:
        return False  # residual networks train on the NumPy path (initlab.nn.residual)
    return AVAILABLE and all(a.kernel is not None for a in net.activations) and net.loss.name in LOSSES and unrolls(net)


def pays(net) -> bool:
    """Whether ``Network.fit(engine="auto")`` picks this engine: by the network's shape alone,
    never its ensemble size, so a network's numbers never depend on the ensemble it trains in,
    nor on the executor (alone, in a comparison or in a sweep's chunk it runs the same code).
    Every supported shape pays: after its one compile per machine, one course network trains
    faster than on the NumPy path (docs/performance.md)."""
    return supported(net)


def unrolls(net) -> bool:
    """Whether the network's shape fits the kernel (`codegen.tile_size`)."""
    if not all(a.kernel is not None for a in net.activations):
        return False
    return codegen.tile_size(list(net.layer_dims), _names(net)) > 0


def _names(net) -> list[str]:
    """Each layer's activation name."""
    return [a.name for a in net.activations]


class Engine:
    """One `Network`'s parameters in the kernel's lane-block layout, and the kernel over them.

    ``load`` copies ``net.params`` in; ``run(n)`` trains n iterations; ``store`` copies back.
    It is an `initlab.nn.network.Engine` (``step``, ``cost``, ``forward``, ``store``,
    ``per_call``), the interface `Network.fit` trains through; its cost is the kernel's sum.
    """

    #: events one `step` records: one kernel call sums the cost at all of them as it trains
    per_call = RECORDS_PER_CALL
    #: Multiply-adds (as counted in `run`) one kernel call may do: a longer `run` is several
    #: calls, so a Ctrl-C (Python runs its signal handler between calls, never inside compiled
    #: code) stops `initlab train --iterations 100000000` within a fraction of a second, where it
    #: went on for the whole run. The steps are the same steps: the numbers do not change. 1e9 is
    #: about 0.1-0.3 s per call for the demo's network; 1e8 cost up to 1.3x on its 15000 steps.
    work_per_call = 10**9

    def __init__(self, net, X: np.ndarray, Y: np.ndarray, lr) -> None:
        dims = np.array(net.layer_dims, dtype=np.int64)
        L = len(dims) - 1
        self.net = net
        self.E = net.ensemble or 1
        sizes_w = dims[1:] * dims[:-1]
        P, Q = int(sizes_w.sum()), int(dims[1:].sum())
        self.kernel = codegen.load(dims.tolist(), _names(net), net.loss.name)
        self.EB = codegen.V
        self.nblk = -(-self.E // self.EB)
        X = np.ascontiguousarray(X, dtype=np.float64)
        Y = np.ascontiguousarray(Y, dtype=np.float64)
        self.data = X  # for `forward`
        m, K = X.shape[1], self.kernel.K
        pad = -m % K  # examples padding m to whole tiles, masked out of the gradient
        self.m = m
        self.X = np.ascontiguousarray(np.pad(X, ((0, 0), (0, pad))))
        self.Y = np.ascontiguousarray(np.pad(Y, ((0, 0), (0, pad))))
        self.M = (np.arange(m + pad) < m).astype(np.float64)
        n_y = int(dims[-1])
        self.S = np.zeros((self.nblk, (2 * (P + Q) + 2 * n_y * K) * self.EB))
        self.W = self.S[:, : P * self.EB].reshape(self.nblk, P, self.EB)
        self.B = self.S[:, P * self.EB : (P + Q) * self.EB].reshape(self.nblk, Q, self.EB)
        self.woff = np.concatenate([[0], np.cumsum(sizes_w)[:-1]]).astype(np.int64)
        self.boff = np.concatenate([[0], np.cumsum(dims[1:])[:-1]]).astype(np.int64)
        self.dims, self.P = dims, P
        lr_e = np.broadcast_to(np.asarray(lr, dtype=np.float64).ravel(), (self.E,))
        self.LR = self._blocked(lr_e[:, None])[:, 0, :]
        self.L = L
        self.load()

    def _blocked(self, flat: np.ndarray) -> np.ndarray:
        """(E, k) -> (nblk, k, EB), padding the last block with copies of the last network."""
        pad = self.nblk * self.EB - self.E
        if pad:
            flat = np.concatenate([flat, np.repeat(flat[-1:], pad, axis=0)])
        return np.ascontiguousarray(flat.reshape(self.nblk, self.EB, -1).transpose(0, 2, 1))

    def _unblocked(self, blocked: np.ndarray) -> np.ndarray:
        """(nblk, k, EB) -> (E, k)."""
        return blocked.transpose(0, 2, 1).reshape(self.nblk * self.EB, -1)[: self.E]

    def load(self) -> None:
        p = self.net.params
        lead = (self.E,)
        self.W[...] = self._blocked(
            np.concatenate([p[f"W{l}"].reshape(lead + (-1,)) for l in range(1, self.L + 1)], axis=1)
        )
        self.B[...] = self._blocked(
            np.concatenate([p[f"b{l}"].reshape(lead + (-1,)) for l in range(1, self.L + 1)], axis=1)
        )

    def store(self) -> None:
        W, B = self._unblocked(self.W), self._unblocked(self.B)
        single = self.net.ensemble is None
        for l in range(1, self.L + 1):
            n_in, n_out = int(self.dims[l - 1]), int(self.dims[l])
            w = W[:, self.woff[l - 1] : self.woff[l - 1] + n_in * n_out].reshape(self.E, n_out, n_in)
            b = B[:, self.boff[l - 1] : self.boff[l - 1] + n_out].reshape(self.E, n_out, 1)
            self.net.params[f"W{l}"][...] = w[0] if single else w
            self.net.params[f"b{l}"][...] = b[0] if single else b

    def step(self, n: int, record=()) -> list:
        """``n`` steps; the mean cost after ``k`` of them for each ``k`` of ``record``
        (increasing, ``0 <= k <= n``): a float, or ``(E,)`` for an ensemble. The kernel sums the
        costs at ``k < n`` as it trains (before update k); ``k == n`` is a `peek`."""
        inner = [k for k in record if k < n]
        C = self.run(n, record=inner)  # (E, len(inner)), None when nothing is recorded
        costs = [self._as_net(C[:, j]) for j in range(len(inner))]
        if len(record) > len(inner):
            costs.append(self.cost())
        return costs

    def cost(self) -> float | np.ndarray:
        """The kernel's cost at the current parameters (`peek`): a float, or ``(E,)``."""
        return self._as_net(self.peek())

    def _as_net(self, cost: np.ndarray) -> float | np.ndarray:
        """``(E,)`` costs as the network reports them: ``(E,)``, or a float for one network."""
        return cost if self.net.ensemble else cost[0]

    def forward(self) -> tuple[np.ndarray, Cache]:
        """The NumPy forward pass (`initlab.nn.network.forward`) at the kernel's parameters,
        stored into the network first (what the tracker measures)."""
        self.store()
        return forward(self.net.params, self.data, self.net.activations)

    def peek(self) -> np.ndarray:
        """The mean cost ``(E,)`` at the current parameters, which stay as they are: one
        recorded step, then the parameters put back. Cheaper than a NumPy forward pass over
        the ensemble (and it needs no memory for every layer's activations)."""
        kept = self.S.copy()
        cost = self.run(1, record=[0])[:, 0]
        self.S[...] = kept
        return cost

    _NO_RECORDS = np.zeros(0, dtype=np.int64)

    def run(self, iterations: int, record=()) -> np.ndarray | None:
        """``iterations`` steps. ``record``: steps of this run (0 = the first, increasing) at
        which the kernel sums the cost before that step's update; returns those costs
        ``(E, len(record))`` (None when nothing is recorded)."""
        if iterations <= 0:
            return None
        rec = np.asarray(record, dtype=np.int64) if len(record) else self._NO_RECORDS
        C = np.zeros((self.nblk, len(rec), self.EB))
        # forward and backward: about 3 multiply-adds per weight, example and network of a block
        per_step = 3 * self.nblk * self.EB * self.X.shape[1] * self.P
        steps = max(1, self.work_per_call // per_step)
        for start in range(0, int(iterations), steps):
            n = min(steps, int(iterations) - start)
            here = (rec >= start) & (rec < start + n)
            part = np.zeros((self.nblk, int(here.sum()), self.EB))
            self.kernel.train(self.X, self.Y, self.M, self.m, self.S, self.LR, n, part, rec[here] - start)
            C[:, here, :] = part
        return self._unblocked(C).copy() if len(rec) else None


def refusal(net) -> str:
    """Why ``engine="fast"`` cannot run this network (for the error message)."""
    if not AVAILABLE:
        return "the fast engine needs numba: pip install -e '.[fast]'"
    if getattr(net, "layout", None) is not None:
        return "the fast engine runs plain networks; a residual network trains with engine='auto' or 'reference'"
    missing = [a.name for a in net.activations if a.kernel is None]
    if missing:
        return f"the fast engine has no kernel for {', '.join(missing)}; use engine='auto' or 'reference'"
    if net.loss.name not in LOSSES:
        return f"the fast engine does not write the loss {net.loss.name}; use engine='auto' or 'reference'"
    return (
        f"the fast engine runs shapes whose written-out pass fits {codegen.BUDGET} statements "
        f"per example; layers {list(net.layer_dims)} do not: use engine='auto' or 'reference'"
    )
