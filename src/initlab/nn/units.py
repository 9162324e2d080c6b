"""Hidden units as the same function: one definition, and what training does with it.

Hidden units ``i`` and ``j`` of layer ``l`` compute the same function, and receive the same
gradient at every step, when their *signatures* are equal: the incoming row ``W[l][i, :]``,
the bias ``b[l][i]`` and the outgoing column ``W[l+1][:, i]``. Every tool that asks "are these
units the same?" (`initlab.symmetry`, the tracker, compare, sweeps, the dashboard, the audit)
groups rows with `group_rows` below, so they agree.

Why training needs this module: `initlab.nn.products` computes every entry of a product in the
same way wherever it sits, so units that are equal stay bit-identical. A *permutation* of hidden
units, though, reorders the sums over them (``Z[l+1] = W[l+1] A[l]`` adds the units of layer
``l`` in index order), and floating-point addition is not associative. `Network.fit` therefore
trains the network with its hidden units in a canonical order (`canonical_order`: a
deterministic sort of each layer's units by their values) and puts them back afterwards. Two
networks that differ by a permutation of their hidden units are then the same arithmetic, so
their trained parameters differ by that permutation, bit for bit, whatever the engine.
"""

from __future__ import annotations

import numpy as np

Params = dict[str, np.ndarray]


def num_layers(params: Params) -> int:
    """L, the number of weight layers in a parameter dict."""
    return sum(1 for k in params if k.startswith("W"))


def signatures(params: Params, l: int, layout=None) -> np.ndarray:
    """Each hidden unit's signature in layer ``l``: ``[W[l][i, :], b[l][i], W[l+1][:, i]]``.

    Shape ``(n[l], n[l-1] + 1 + n[l+1])``, or ``(E, n[l], ...)`` for an ensemble. ``-0.0`` is
    turned into ``0.0`` (they compute the same function).

    In a residual network (``layout``, `initlab.nn.residual.Layout`) the stream's units are one
    set of units across the input projection and every block's last layer: a stream unit's
    signature is everything that writes or reads it, ``[W[1][i, :], b[1][i]]``, then per block
    ``[W[last][i, :], b[last][i], W[first][:, i]]``, its norm gains and biases, and
    ``W[L][:, i]``; every stream layer has those signatures. A unit inside a branch has the plain one.
    """
    if layout is not None and l in layout.stream_layers():
        parts = [params["W1"], params["b1"]]
        for b in range(1, layout.blocks + 1):
            first, last = 2 + (b - 1) * layout.m, 1 + b * layout.m
            parts += [params[f"W{last}"], params[f"b{last}"], params[f"W{first}"].swapaxes(-1, -2)]
        if layout.norm:
            parts += [params[f"norm_{p}{k}"] for k in range(1, layout.blocks + 2) for p in ("gain", "bias")]
        parts.append(params[f"W{layout.L}"].swapaxes(-1, -2))
        return np.concatenate(parts, axis=-1) + 0.0
    W, b, W_next = params[f"W{l}"], params[f"b{l}"], params[f"W{l + 1}"]
    return np.concatenate([W, b, W_next.swapaxes(-1, -2)], axis=-1) + 0.0


def group_rows(signature: np.ndarray, atol: float = 0.0) -> list[list[int]]:
    """Units (rows of ``signature``) grouped by equality, or within ``atol`` of a group's first.

    Exact (``atol = 0``): rows with identical bytes after ``-0.0 -> 0.0``. Groups are listed in
    the order of their first unit, and units in increasing order.
    """
    n = signature.shape[0]
    if atol == 0.0:
        rows = np.ascontiguousarray(signature, dtype=np.float64) + 0.0
        order: dict[bytes, list[int]] = {}
        for i in range(n):
            order.setdefault(rows[i].tobytes(), []).append(i)
        return list(order.values())
    rows = np.asarray(signature, dtype=np.float64)
    groups: list[list[int]] = []
    near = _with_near_neighbour(rows, atol)
    for i in range(n):
        if not near[i]:
            groups.append([i])
            continue
        for g in groups:
            if near[g[0]] and np.max(np.abs(rows[i] - rows[g[0]])) <= atol:
                g.append(i)
                break
        else:
            groups.append([i])
    return groups


def _with_near_neighbour(rows: np.ndarray, atol: float) -> np.ndarray:
    """Which rows may lie within ``atol`` (entrywise) of another: rows that close project
    within ``atol ||r||_1`` onto a fixed random ``r``, so in the sorted projections each has a
    neighbour that close. Lets `group_rows` compare only those (wide layers are mostly
    distinct): O(n log n) instead of O(n^2) comparisons, the same groups."""
    n = rows.shape[0]
    if n < 2:
        return np.zeros(n, dtype=bool)
    r = np.random.default_rng(0).standard_normal(rows.shape[1])
    p = rows @ r
    # slack for the rounding of the projections themselves
    slack = atol * np.abs(r).sum() * (1 + 1e-9) + 1e-12 * float(np.nanmax(np.abs(rows) @ np.abs(r), initial=0.0))
    order = np.argsort(p, kind="stable")
    close = ~(np.diff(p[order]) > slack)  # nan projections count as close: compared exactly below
    near = np.zeros(n, dtype=bool)
    near[order[1:][close]] = True
    near[order[:-1][close]] = True
    return near


def _as_void(rows: np.ndarray) -> np.ndarray:
    """Each row of a 2-D array as one opaque value (its bytes), for sorting and `np.unique`."""
    rows = np.ascontiguousarray(rows)
    return rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1]))).ravel()


def take_rows(M: np.ndarray, rep: np.ndarray) -> np.ndarray:
    """``M: ([E,] n, m)`` with row ``k`` taken from row ``rep[k]`` (``rep: (n,)`` or ``(E, n)``)."""
    if rep.ndim == 1:
        return M[..., rep, :]
    return np.take_along_axis(M, rep[:, :, None], axis=-2)


def take_cols(M: np.ndarray, rep: np.ndarray) -> np.ndarray:
    """``M: ([E,] k, n)`` with column ``k`` taken from column ``rep[k]``."""
    if rep.ndim == 1:
        return M[..., rep]
    return np.take_along_axis(M, rep[:, None, :], axis=-1)


def canonical_order(params: Params) -> list[np.ndarray]:
    """For each hidden layer, the permutation (``(n,)`` or ``(E, n)``) that sorts its units
    canonically: by the bytes of ``[incoming row (inputs already in canonical order), bias,
    sorted outgoing column]``. Permuting a network's hidden units does not change the result
    (up to units whose keys are equal, which are copies in every case initlab's inits make:
    equal incoming row and bias, and outgoing columns equal as multisets).
    """
    L = num_layers(params)
    perms: list[np.ndarray] = []
    prev = None
    for l in range(1, L):
        W = np.asarray(params[f"W{l}"])
        single = W.ndim == 2
        W = W[None] if single else W
        b = np.asarray(params[f"b{l}"])
        b = b[None] if single else b
        W_next = np.asarray(params[f"W{l + 1}"])
        W_next = W_next[None] if single else W_next
        if prev is not None:
            W = np.take_along_axis(W, prev[:, None, :], axis=-1)
        E, n, _ = W.shape
        outgoing = np.sort(W_next.swapaxes(-1, -2), axis=-1)
        member = np.repeat(np.arange(E, dtype=">i8"), n).view(np.float64).reshape(E, n, 1)
        # big-endian member index first, so the bytes sort member by member
        keys = np.concatenate([member, W + 0.0, b + 0.0, outgoing + 0.0], axis=-1)
        order = np.argsort(_as_void(keys.reshape(E * n, -1)), kind="stable").reshape(E, n) % n
        perms.append(order[0] if single else order)
        prev = order
    return perms


def permute_units(params: Params, perms: list[np.ndarray], *, inverse: bool = False) -> None:
    """Reorder hidden units in place: unit ``perms[l-1][k]`` becomes unit ``k`` of layer ``l``
    (rows of ``W[l]`` and ``b[l]``, columns of ``W[l+1]``); ``inverse=True`` undoes it."""
    for l, p in enumerate(perms, start=1):
        if inverse:
            p = np.argsort(p, axis=-1)
        for key in (f"W{l}", f"b{l}"):
            params[key][...] = take_rows(params[key], p)
        params[f"W{l + 1}"][...] = take_cols(params[f"W{l + 1}"], p)


def permute_cache_rows(M: np.ndarray, perm: np.ndarray, *, inverse: bool = False) -> np.ndarray:
    """Rows of ``M: ([E,] n, m)`` reordered by a hidden layer's permutation (or its inverse)."""
    if inverse:
        perm = np.argsort(perm, axis=-1)
    return take_rows(M, perm)
