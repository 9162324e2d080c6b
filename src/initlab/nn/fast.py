"""The batched engine: full-batch gradient descent for E small networks at once, compiled.

Same math as `initlab.nn.network` (forward, backward, update), in two kernels; `Engine` picks
one by the network's shape alone, so a network's numbers never depend on its ensemble:

- **unrolled** (`initlab.nn.codegen`): source written for the one shape, every unit a local
  variable, one vector loop over 16 networks around the whole pass for up to 4 examples;
  compiled once per machine and cached on disk. For shapes whose written-out pass fits
  ``codegen.BUDGET`` statements (the course's networks). A recording run also sums the cost
  of its first step in the kernel (`Engine.costs`), so cost records cost almost nothing.
- **generic** (`_train` below), for the rest: networks cut into blocks; in a block every array
  keeps the network axis *last and contiguous*, so each inner loop is a SIMD loop over the
  block's networks; a block is as wide as fits ``CACHE_BYTES`` (at most ``BLOCK``, and narrow
  enough that every thread gets one) and stays in cache for the whole pass over the examples,
  which accumulates ``dW`` example by example, then updates.

Blocks run in parallel threads (numba ``prange``). Measured on the circles network, 1024
networks: generic 130k net-it/s, unrolled about 480k (see docs/performance.md).

Results equal the plain NumPy path to rounding (the tests require 1e-9 after hundreds of
iterations): only the order of floating-point sums differs. `Network.fit(engine="auto")`
uses this engine when numba is installed (the ``fast`` extra) and the network's *shape* runs the
unrolled kernel (`pays`), whatever its ensemble size: so a network gets the same bits alone,
in any ensemble and on any executor.
"""

from __future__ import annotations

import math

import numpy as np

from initlab.nn import codegen

try:  # numba is optional: without it Network.fit uses the NumPy path
    from numba import njit, prange

    AVAILABLE = True
except ImportError:  # pragma: no cover - exercised only without the extra
    AVAILABLE = False

BLOCK = 512  # at most this many networks per block
CACHE_BYTES = 1 << 20  # a block's working set aims at the L2 cache
#: activation codes shared with the kernel
CODES = {"sigmoid": 0, "tanh": 1, "relu": 2, "leaky_relu": 3, "identity": 4, "softmax": 5}
LOSS_CODES = {"binary_cross_entropy": 0, "cross_entropy": 1, "mse": 2}
LEAKY = 0.01


def supported(net) -> bool:
    """Whether the engine runs this network (float64, activations and loss it knows)."""
    return AVAILABLE and all(a.name in CODES for a in net.activations) and net.loss.name in LOSS_CODES


def pays(net) -> bool:
    """Whether ``Network.fit(engine="auto")`` picks this engine, by the network's shape alone
    (never by its ensemble size): supported and small enough for the unrolled kernel
    (`unrolls`). A network's numbers then never depend on the ensemble it trains in, nor on
    the executor: alone, in a comparison or in a sweep's chunk it runs the same kernel. The
    generic kernel runs only when asked for (``engine="fast"``): measured against the NumPy
    path with exact products it is 10x slower for one network and at most 1.3x faster for
    ensembles of 32 to 256 (docs/performance.md)."""
    return supported(net) and unrolls(net)


def unrolls(net) -> bool:
    """Whether `Engine` runs the unrolled kernel for this network's shape (`codegen.tile_size`)."""
    return codegen.tile_size(list(net.layer_dims), _codes(net)) > 0


def _codes(net) -> list[int]:
    """The kernels' activation code of each layer."""
    return [CODES[a.name] for a in net.activations]


if AVAILABLE:

    from initlab.nn.codegen import exp_minus

    @njit(cache=True, fastmath={"contract"}, error_model="numpy")
    def _activate(code, zr, ar):
        """ar = g(zr) for one unit over the block's networks (the branch outside the SIMD loop);
        sigmoid and tanh through `initlab.nn.codegen.exp_minus`, which vectorizes."""
        n = zr.shape[0]
        if code == 0:  # sigmoid from t = exp(-|z|), as the reference writes it
            for e in range(n):
                z = zr[e]
                t = exp_minus(-abs(z), 0.0)
                ar[e] = 1.0 / (1.0 + t) if z >= 0 else t / (1.0 + t)
        elif code == 1:  # tanh |z| = -u / (2 + u) with u = expm1(-2|z|)
            for e in range(n):
                z = zr[e]
                u = exp_minus(-2.0 * abs(z), 1.0)
                t = -u / (2.0 + u)
                ar[e] = t if z >= 0 else -t
        elif code == 2:
            for e in range(n):
                ar[e] = max(zr[e], 0.0)
        elif code == 3:
            for e in range(n):
                z = zr[e]
                ar[e] = z if z > 0 else LEAKY * z
        else:
            for e in range(n):
                ar[e] = zr[e]

    @njit(cache=True, fastmath={"contract"})
    def _times_grad(code, dr, zr, ar):
        """dr *= g'(z) in the reference's form, for one unit over the block's networks."""
        n = dr.shape[0]
        if code == 0:
            for e in range(n):
                dr[e] *= ar[e] * (1.0 - ar[e])
        elif code == 1:
            for e in range(n):
                dr[e] *= 1.0 - ar[e] * ar[e]
        elif code == 2:
            for e in range(n):
                dr[e] = dr[e] if zr[e] > 0 else 0.0
        elif code == 3:
            for e in range(n):
                dr[e] = dr[e] if zr[e] > 0 else LEAKY * dr[e]

    @njit(cache=True, parallel=True, fastmath={"contract"})
    def _train(X, Y, W, B, LR, dims, woff, boff, uoff, acts, loss, iterations):  # noqa: C901
        """``iterations`` steps for every block. W: (nblk, totw, EB), B: (nblk, totb, EB),
        LR: (nblk, EB); dims: layer sizes; woff/boff/uoff: offsets of each layer's weights,
        biases and units; acts: activation code per layer; loss: loss code."""
        nblk, totw, EB = W.shape
        totb = B.shape[1]
        L = dims.shape[0] - 1
        m = X.shape[1]
        n_y = dims[L]
        maxw = 0
        for l in range(L + 1):
            maxw = max(maxw, dims[l])
        inv_m = 1.0 / m
        for blk in prange(nblk):
            Wb = W[blk]
            Bb = B[blk]
            lr = LR[blk]
            Z = np.empty((totb, EB))
            A = np.empty((totb, EB))
            dW = np.empty((totw, EB))
            dB = np.empty((totb, EB))
            dz = np.empty((maxw, EB))
            da = np.empty((maxw, EB))
            for _ in range(iterations):
                dW[:, :] = 0.0
                dB[:, :] = 0.0
                for k in range(m):
                    # ---- forward: Z[l] = W[l] @ A[l-1] + b[l], A[l] = g(Z[l])
                    for l in range(L):
                        n_in = dims[l]
                        n_out = dims[l + 1]
                        code = acts[l]
                        for i in range(n_out):
                            row = woff[l] + i * n_in
                            zr = Z[uoff[l] + i]
                            zr[:] = 0.0
                            if l == 0:
                                for j in range(n_in):
                                    x = X[j, k]
                                    wr = Wb[row + j]
                                    for e in range(EB):
                                        zr[e] += wr[e] * x
                            else:
                                prev = uoff[l - 1]
                                for j in range(n_in):
                                    wr = Wb[row + j]
                                    ar = A[prev + j]
                                    for e in range(EB):
                                        zr[e] += wr[e] * ar[e]
                            br = Bb[boff[l] + i]
                            for e in range(EB):
                                zr[e] += br[e]
                            if code != 5:
                                _activate(code, zr, A[uoff[l] + i])
                        if code == 5:  # softmax over the output units
                            u0 = uoff[l]
                            for e in range(EB):
                                mx = Z[u0, e]
                                for i in range(1, n_out):
                                    mx = max(mx, Z[u0 + i, e])
                                tot = 0.0
                                for i in range(n_out):
                                    v = math.exp(Z[u0 + i, e] - mx)
                                    A[u0 + i, e] = v
                                    tot += v
                                for i in range(n_out):
                                    A[u0 + i, e] = A[u0 + i, e] / tot
                    # ---- output delta
                    uL = uoff[L - 1]
                    for i in range(n_y):
                        y = Y[i, k]
                        ar = A[uL + i]
                        dr = dz[i]
                        for e in range(EB):
                            dr[e] = ar[e] - y
                        if loss == 2:
                            _times_grad(acts[L - 1], dr, Z[uL + i], ar)
                    # ---- backward: dW += dZ A_prev^T, db += dZ, dA_prev = W^T dZ
                    for l in range(L - 1, -1, -1):
                        n_in = dims[l]
                        n_out = dims[l + 1]
                        if l > 0:
                            da[:n_in, :] = 0.0
                        for i in range(n_out):
                            row = woff[l] + i * n_in
                            dr = dz[i]
                            dbr = dB[boff[l] + i]
                            for e in range(EB):
                                dbr[e] += dr[e]
                            if l == 0:
                                for j in range(n_in):
                                    x = X[j, k]
                                    dwr = dW[row + j]
                                    for e in range(EB):
                                        dwr[e] += dr[e] * x
                            else:
                                prev = uoff[l - 1]
                                for j in range(n_in):
                                    dwr = dW[row + j]
                                    wr = Wb[row + j]
                                    ar = A[prev + j]
                                    dar = da[j]
                                    for e in range(EB):
                                        dwr[e] += dr[e] * ar[e]
                                        dar[e] += wr[e] * dr[e]
                        if l > 0:
                            prev = uoff[l - 1]
                            code = acts[l - 1]
                            for j in range(n_in):
                                dr = dz[j]
                                dar = da[j]
                                for e in range(EB):
                                    dr[e] = dar[e]
                                _times_grad(code, dr, Z[prev + j], A[prev + j])
                # ---- update: W := W - lr * dW / m
                for r in range(totw):
                    wr = Wb[r]
                    dwr = dW[r]
                    for e in range(EB):
                        wr[e] -= lr[e] * (dwr[e] * inv_m)
                for r in range(totb):
                    br = Bb[r]
                    dbr = dB[r]
                    for e in range(EB):
                        br[e] -= lr[e] * (dbr[e] * inv_m)


class Engine:
    """The blocked layout of one `Network`'s parameters, and the compiled kernel over it.

    ``load`` copies ``net.params`` in; ``run(n)`` trains n iterations; ``store`` copies back.
    """

    def __init__(self, net, X: np.ndarray, Y: np.ndarray, lr, unrolled: bool | None = None) -> None:
        dims = np.array(net.layer_dims, dtype=np.int64)
        L = len(dims) - 1
        self.net = net
        self.E = net.ensemble or 1
        sizes_w = dims[1:] * dims[:-1]
        P, Q = int(sizes_w.sum()), int(dims[1:].sum())
        self.acts = np.array(_codes(net), dtype=np.int64)
        self.loss = LOSS_CODES[net.loss.name]
        self.X = np.ascontiguousarray(X, dtype=np.float64)
        self.Y = np.ascontiguousarray(Y, dtype=np.float64)
        self.kernel = None
        if unrolled is None:
            unrolled = unrolls(net)
        if unrolled:
            self.kernel = codegen.load(dims.tolist(), self.acts.tolist(), self.loss)
            self.EB = codegen.V
            self.nblk = -(-self.E // self.EB)
            m, K = self.X.shape[1], self.kernel.K
            pad = -m % K  # examples padding m to whole tiles, masked out of the gradient
            self.m = m
            self.X = np.ascontiguousarray(np.pad(self.X, ((0, 0), (0, pad))))
            self.Y = np.ascontiguousarray(np.pad(self.Y, ((0, 0), (0, pad))))
            self.M = (np.arange(m + pad) < m).astype(np.float64)
            n_y = int(dims[-1])
            self.S = np.zeros((self.nblk, (2 * (P + Q) + 2 * n_y * K) * self.EB))
            self.W = self.S[:, : P * self.EB].reshape(self.nblk, P, self.EB)
            self.B = self.S[:, P * self.EB: (P + Q) * self.EB].reshape(self.nblk, Q, self.EB)
        else:
            per_net = 8 * (2 * P + 4 * Q + 2 * int(dims.max()))
            from numba import get_num_threads

            threads = get_num_threads()
            width = max(1, min(BLOCK, CACHE_BYTES // per_net, -(-self.E // threads)))
            self.EB = min(self.E, width)
            self.nblk = -(-self.E // self.EB)
            self.W = np.zeros((self.nblk, P, self.EB))
            self.B = np.zeros((self.nblk, Q, self.EB))
        self.woff = np.concatenate([[0], np.cumsum(sizes_w)[:-1]]).astype(np.int64)
        self.boff = np.concatenate([[0], np.cumsum(dims[1:])[:-1]]).astype(np.int64)
        self.uoff = self.boff.copy()
        self.dims = dims
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
        self.W[...] = self._blocked(np.concatenate(
            [p[f"W{l}"].reshape(lead + (-1,)) for l in range(1, self.L + 1)], axis=1))
        self.B[...] = self._blocked(np.concatenate(
            [p[f"b{l}"].reshape(lead + (-1,)) for l in range(1, self.L + 1)], axis=1))

    def store(self) -> None:
        W, B = self._unblocked(self.W), self._unblocked(self.B)
        single = self.net.ensemble is None
        for l in range(1, self.L + 1):
            n_in, n_out = int(self.dims[l - 1]), int(self.dims[l])
            w = W[:, self.woff[l - 1]: self.woff[l - 1] + n_in * n_out].reshape(self.E, n_out, n_in)
            b = B[:, self.boff[l - 1]: self.boff[l - 1] + n_out].reshape(self.E, n_out, 1)
            self.net.params[f"W{l}"][...] = w[0] if single else w
            self.net.params[f"b{l}"][...] = b[0] if single else b

    @property
    def records(self) -> bool:
        """Whether ``run(n, record=...)`` measures costs (the unrolled kernel does)."""
        return self.kernel is not None

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
        which the unrolled kernel sums the cost before that step's update; returns those costs
        ``(E, len(record))``."""
        if iterations > 0 and self.kernel is not None:
            rec = np.asarray(record, dtype=np.int64) if len(record) else self._NO_RECORDS
            C = np.zeros((self.nblk, len(rec), self.EB))
            self.kernel.train(self.X, self.Y, self.M, self.m, self.S, self.LR, int(iterations), C, rec)
            return self._unblocked(C).copy() if len(rec) else None
        if record:
            raise ValueError("the generic kernel records no costs (Engine.records is False)")
        if iterations > 0:
            _train(self.X, self.Y, self.W, self.B, self.LR, self.dims, self.woff, self.boff, self.uoff,
                   self.acts, self.loss, int(iterations))
