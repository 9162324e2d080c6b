"""Symmetry, measured: which hidden units of a layer compute the same function.

Hidden units ``i`` and ``j`` of layer ``l`` are the same function, and receive the same
gradient at every step, when they have the same incoming row ``W[l][i, :]``, the same bias
``b[l][i]`` and the same outgoing column ``W[l+1][:, i]``. By induction over gradient-descent
steps they then stay identical forever: the symmetry problem. The *effective width* of a
layer is its number of distinct units.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from initlab.errors import InitlabError, check_positive


@dataclass(frozen=True)
class LayerSymmetry:
    """One hidden layer: ``groups`` are lists of unit indices computing the same function."""

    layer: int
    width: int
    groups: list[list[int]]
    effective_width: int
    #: Largest range, over the units, of any one incoming weight or bias: 0 iff all rows equal.
    spread: float

    @property
    def symmetric(self) -> bool:
        """Some units of this layer are copies of each other (effective width < width)."""
        return self.effective_width < self.width

    def sentence(self) -> str:
        """The measurement in words, e.g. 'layer 1: 1 of 10 units distinct: ...'."""
        head = f"layer {self.layer}: {self.effective_width} of {self.width} units distinct"
        if self.effective_width == 1 and self.width > 1:
            return head + ": every hidden unit computes the same function"
        if self.symmetric:
            sizes = sorted((len(g) for g in self.groups if len(g) > 1), reverse=True)
            return head + f": groups of identical units of sizes {sizes}"
        return head

    def to_dict(self) -> dict:
        return {"layer": self.layer, "width": self.width, "groups": self.groups,
                "effective_width": self.effective_width, "spread": self.spread}


@dataclass(frozen=True)
class SymmetryReport:
    """Every hidden layer of one network."""

    layers: list[LayerSymmetry]
    atol: float

    @property
    def effective_widths(self) -> list[int]:
        return [s.effective_width for s in self.layers]

    @property
    def widths(self) -> list[int]:
        return [s.width for s in self.layers]

    @property
    def symmetric(self) -> bool:
        """Some hidden layer has identical units: its symmetry has not been broken."""
        return any(s.symmetric for s in self.layers)

    def to_dict(self) -> dict:
        return {"atol": self.atol, "symmetric": self.symmetric,
                "effective_width": self.effective_widths, "width": self.widths,
                "layers": [s.to_dict() for s in self.layers]}

    def __repr__(self) -> str:
        return "SymmetryReport(" + "; ".join(s.sentence() for s in self.layers) + ")"


def group_rows(signature: np.ndarray, atol: float = 0.0) -> list[list[int]]:
    """Units (rows of ``signature``) grouped by equality, or within ``atol`` of a group's first."""
    n = signature.shape[0]
    if atol == 0.0:
        # exact: rows with identical bytes (adding 0.0 turns -0.0 into 0.0, which compare equal)
        rows = np.ascontiguousarray(signature, dtype=np.float64) + 0.0
        order: dict[bytes, list[int]] = {}
        for i in range(n):
            order.setdefault(rows[i].tobytes(), []).append(i)
        return list(order.values())
    groups: list[list[int]] = []
    for i in range(n):
        for g in groups:
            if np.max(np.abs(signature[i] - signature[g[0]])) <= atol:
                g.append(i)
                break
        else:
            groups.append([i])
    return groups


def _one(params: dict, atol: float) -> SymmetryReport:
    L = sum(1 for k in params if k.startswith("W"))
    layers = []
    for l in range(1, L):
        W, b, W_next = params[f"W{l}"], params[f"b{l}"], params[f"W{l + 1}"]
        incoming = np.concatenate([W, b], axis=1)
        signature = np.concatenate([incoming, W_next.T], axis=1)
        groups = group_rows(signature, atol)
        spread = float(np.max(incoming.max(axis=0) - incoming.min(axis=0)))
        layers.append(LayerSymmetry(l, W.shape[0], groups, len(groups), spread))
    return SymmetryReport(layers, atol)


def symmetry(params: dict, *, atol: float = 0.0) -> SymmetryReport | list[SymmetryReport]:
    """Per hidden layer: ``width``, ``groups``, ``effective_width`` and the row ``spread``.

    ``params`` is the course's dict (``W[l]: (n[l], n[l-1])``) or an ensemble's
    (``(E, n[l], n[l-1])``), which gives one report per network. Exact by default; ``atol``
    counts units as identical when every entry of their signatures differs by at most atol.
    """
    atol = check_positive("atol", atol, allow_zero=True)
    if "W1" not in params:
        raise InitlabError(f"params need W1, b1, ...: got keys {sorted(params)}")
    W1 = np.asarray(params["W1"])
    if W1.ndim == 3:
        return [_one({k: np.asarray(v)[e] for k, v in params.items()}, atol)
                for e in range(W1.shape[0])]
    if W1.ndim != 2:
        raise InitlabError(f"W1 must be (n1, n0) or (E, n1, n0), got shape {W1.shape}")
    return _one({k: np.asarray(v) for k, v in params.items()}, atol)
