"""The three matrix products of forward and backward, each entry computed the same way
wherever it sits.

Why not ``@`` (BLAS): BLAS promises an accurate product, not an exact one, and how it rounds
an entry depends on where the entry sits and where the arrays lie in memory. Its kernels treat
rows by position (full register tiles, edge tiles, vector bodies and remainder loops) and some
treat the first elements by their address, so two equal rows of ``W`` can give two ``Z`` rows
that differ in the last bit, and the same network can train to other bits when it trains inside
an ensemble (measured: OpenBLAS ``(1, 6) @ (6, 37)`` products of identical bytes differ by 1e-17
between two calls whose arrays lie at different addresses). The course's induction, "equal
units stay equal", then fails by rounding, and the split grows.

Here every entry is a sum over the contracted index in increasing order, ``s = 0; s = s + x_k
y_k``, one multiply and one add each (no fused multiply-add, no reordering: compiled without
fast-math), in a loop whose shape does not depend on the entry's position, its ensemble
member or the arrays' addresses. Therefore, by construction:

- rows of ``W @ A`` whose rows of ``W`` are equal are equal (hidden units with equal incoming
  weights and bias get equal ``Z``); likewise ``dZ @ A^T`` for equal rows of ``dZ`` and
  ``W^T @ dZ`` for equal columns of ``W``: units that start equal stay bit-identical;
- a member of an ensemble gets the bits it gets alone;
- the memory layout of the inputs does not matter.

What a permutation of hidden units does to the order of a sum is `initlab.nn.units`' part.

Compiled with numba (a dependency); the inner loop runs over the contiguous last axis, which
LLVM vectorizes (each lane is another entry, so vector and scalar lanes round alike).
Without numba the same order of operations runs as NumPy loops (exact, slower).

Shapes (a leading ensemble axis ``E`` on either operand, or both, or neither)::

    matmul(W, A)      W: ([E,] n, k)  A: ([E,] k, m)  ->  W @ A      ([E,] n, m)
    matmul_nt(D, A)   D: ([E,] n, m)  A: ([E,] k, m)  ->  D @ A^T    ([E,] n, k)
    matmul_tn(W, D)   W: ([E,] n, k)  D: ([E,] n, m)  ->  W^T @ D    ([E,] k, m)
"""

from __future__ import annotations

import types

import numpy as np

try:
    from numba import njit, prange

    NUMBA = True
except ImportError:  # pragma: no cover - numba is a dependency; the fallback keeps the math
    NUMBA = False

#: Multiply-adds above which the rows of a product run on several threads (the per-entry
#: arithmetic is the same either way: threads only split the rows).
PARALLEL_WORK = 1 << 20
#: Rows of the result one thread takes at a time.
ROWS = 16
#: Below this many examples (or columns) a kernel runs its inner loop along the other axis.
NARROW = 8


if NUMBA:
    # Three kernels, two loop layouts for each product, picked by the shape alone (never by E);
    # every layout adds the terms of an entry in the same order, so the layout changes the
    # speed, never the bits.
    # Rows of the result are independent, so they are split over threads (prange). Operands
    # a layout reads along its other axis come transposed (a contiguous copy made by NumPy).

    def _nn_rows(W, A, out):
        """out[i, :] += W[i, c] A[c, :] over c: the inner loop runs along the examples."""
        E, n, m = out.shape
        k = W.shape[2]
        nb = -(-n // ROWS)
        for q in prange(E * nb):  # (member, block of ROWS rows): views made once a block
            e, i0 = q // nb, (q % nb) * ROWS
            We = W[e if W.shape[0] > 1 else 0]
            Ae = A[e if A.shape[0] > 1 else 0]
            oe = out[e]
            for i in range(i0, min(i0 + ROWS, n)):
                row = oe[i]
                for j in range(m):
                    row[j] = 0.0
                for c in range(k):
                    w = We[i, c]
                    a = Ae[c]
                    for j in range(m):
                        row[j] = row[j] + w * a[j]

    def _nn_dots(W, At, out):
        """Few examples: each entry a dot product over c, four rows at a time (four independent
        chains, each still added in increasing c). At: (m, k)."""
        E, n, m = out.shape
        k = W.shape[2]
        for q in prange(E * m):
            e, j = q // m, q % m
            We = W[e if W.shape[0] > 1 else 0]
            a = At[e if At.shape[0] > 1 else 0, j]
            i = 0
            while i + 4 <= n:
                w0, w1, w2, w3 = We[i], We[i + 1], We[i + 2], We[i + 3]
                s0 = s1 = s2 = s3 = 0.0
                for c in range(k):
                    s0 = s0 + w0[c] * a[c]
                    s1 = s1 + w1[c] * a[c]
                    s2 = s2 + w2[c] * a[c]
                    s3 = s3 + w3[c] * a[c]
                out[e, i, j], out[e, i + 1, j], out[e, i + 2, j], out[e, i + 3, j] = s0, s1, s2, s3
                i += 4
            while i < n:
                w0 = We[i]
                s0 = 0.0
                for c in range(k):
                    s0 = s0 + w0[c] * a[c]
                out[e, i, j] = s0
                i += 1

    def _tn_cols(W, D, out):
        """Few examples: out[:, j] += W[i, :] D[i, j] over i, along W's rows."""
        E, k, m = out.shape
        n = W.shape[1]
        for q in prange(E * m):
            e, j = q // m, q % m
            We = W[e if W.shape[0] > 1 else 0]
            De = D[e if D.shape[0] > 1 else 0]
            col = np.zeros(k)
            for i in range(n):
                d = De[i, j]
                w = We[i]
                for c in range(k):
                    col[c] = col[c] + w[c] * d
            for c in range(k):
                out[e, c, j] = col[c]

    def _renamed(fn, suffix: str):
        """The same function under another name: numba's on-disk cache is keyed by the name,
        not by the compile options, so the threaded build needs a name of its own."""
        g = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__ + suffix, fn.__defaults__, fn.__closure__)
        g.__qualname__ = fn.__qualname__ + suffix
        return g

    # each serial (small products) and threaded (large ones); without the GIL, as BLAS runs, so
    # a program's other threads (the dashboard's server) keep running while a product does
    _KERNELS = {
        fn.__name__: (
            njit(cache=True, nogil=True)(fn),
            njit(cache=True, nogil=True, parallel=True)(_renamed(fn, "_threaded")),
        )
        for fn in (_nn_rows, _nn_dots, _tn_cols)
    }


def _T(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x.swapaxes(-1, -2))


def _numpy(name: str, x: np.ndarray, y: np.ndarray, out: np.ndarray) -> None:
    """The same order of operations without numba: one multiply-add per contracted index."""
    out[...] = 0.0
    if name == "nn":  # out[i, j] += W[i, c] A[c, j]
        for c in range(x.shape[2]):
            out[...] = out + x[:, :, c, None] * y[:, None, c, :]
    elif name == "nt":  # out[i, c] += D[i, t] A[c, t]
        for t in range(x.shape[2]):
            out[...] = out + x[:, :, t, None] * y[:, None, :, t]
    else:  # out[c, j] += W[i, c] D[i, j]
        for i in range(x.shape[1]):
            out[...] = out + x[:, i, :, None] * y[:, i, None, :]


_BLAS = {"nn": lambda x, y: x @ y, "nt": lambda x, y: x @ y.swapaxes(-1, -2), "tn": lambda x, y: x.swapaxes(-1, -2) @ y}


def _product(name: str, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim not in (2, 3) or y.ndim not in (2, 3):
        return _BLAS[name](x, y)  # a vector or a deeper stack: NumPy's own rules (not exact)
    # (contracted axis of x, of y) and the result's (rows, columns), by product
    (cx, cy), shape = {
        "nn": ((-1, -2), (x.shape[-2], y.shape[-1])),
        "nt": ((-1, -1), (x.shape[-2], y.shape[-2])),
        "tn": ((-2, -2), (x.shape[-1], y.shape[-1])),
    }[name]
    lead = {x.shape[0] if x.ndim == 3 else 1, y.shape[0] if y.ndim == 3 else 1}
    if x.shape[cx] != y.shape[cy] or len(lead - {1}) > 1:
        raise ValueError(
            f"shapes {x.shape} and {y.shape} do not fit one product "
            f"({ {'nn': 'W @ A', 'nt': 'D @ A^T', 'tn': 'W^T @ D'}[name] })"
        )
    single = x.ndim == 2 and y.ndim == 2
    x3 = np.ascontiguousarray(x if x.ndim == 3 else x[None], dtype=np.float64)
    y3 = np.ascontiguousarray(y if y.ndim == 3 else y[None], dtype=np.float64)
    E = max(x3.shape[0], y3.shape[0])
    out = np.empty((E, *shape))
    if NUMBA:
        narrow = shape[1] < NARROW  # the columns of the result: m for nn and tn, k for nt
        # Three kernels serve the three products: D @ A^T is nn on (D, A^T), W^T @ D is nn on
        # (W^T, D), and each entry's terms stay in the same order (the transposes are copies).
        # The kernel, and whether it reads x and y transposed:
        kernel, tx, ty = {
            ("nn", False): ("_nn_rows", 0, 0),
            ("nn", True): ("_nn_dots", 0, 1),
            ("nt", False): ("_nn_rows", 0, 1),
            ("nt", True): ("_tn_cols", 1, 1),
            ("tn", False): ("_nn_rows", 1, 0),
            ("tn", True): ("_tn_cols", 0, 0),
        }[(name, narrow)]
        args = (_T(x3) if tx else x3, _T(y3) if ty else y3)
        serial, threaded = _KERNELS[kernel]
        (threaded if out.size * x3.shape[cx] >= PARALLEL_WORK else serial)(*args, out)
    else:  # pragma: no cover
        _numpy(name, x3, y3, out)
    return out[0] if single else out


def matmul(W: np.ndarray, A: np.ndarray) -> np.ndarray:
    """``W @ A``: ``([E,] n, k) @ ([E,] k, m) -> ([E,] n, m)``; entry ``(i, j)`` is
    ``sum_c W[i, c] A[c, j]`` added in increasing ``c``. Other ranks go to ``@``."""
    return _product("nn", W, A)


def matmul_nt(D: np.ndarray, A: np.ndarray) -> np.ndarray:
    """``D @ A^T``: ``([E,] n, m), ([E,] k, m) -> ([E,] n, k)``; entry ``(i, c)`` is
    ``sum_t D[i, t] A[c, t]`` added in increasing ``t`` (the examples, in data order)."""
    return _product("nt", D, A)


def matmul_tn(W: np.ndarray, D: np.ndarray) -> np.ndarray:
    """``W^T @ D``: ``([E,] n, k), ([E,] n, m) -> ([E,] k, m)``; entry ``(c, j)`` is
    ``sum_i W[i, c] D[i, j]`` added in increasing ``i``."""
    return _product("tn", W, D)
