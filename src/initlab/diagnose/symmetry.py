"""Symmetry, measured: which hidden units of a layer compute the same function.

Hidden units ``i`` and ``j`` of layer ``l`` are the same function, and receive the same
gradient at every step, when they have the same incoming row ``W[l][i, :]``, the same bias
``b[l][i]`` and the same outgoing column ``W[l+1][:, i]``. By induction over gradient-descent
steps they then stay identical forever: the symmetry problem. The *effective width* of a
layer is its number of distinct units.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from initlab.diagnose.members import check_member, member_of, plain
from initlab.errors import InitlabError, check_positive
from initlab.nn.units import group_rows, signatures  # the one definition of "the same function"


@dataclass(frozen=True)
class LayerSymmetry:
    """One hidden layer: ``groups`` are lists of unit indices computing the same function.

    For one network ``groups`` is a list of groups, ``effective_width`` an int and ``spread`` a
    float; for an ensemble of E, ``groups`` holds E such lists and the other two are ``(E,)``
    arrays (`member` gives one network's layer). ``layer`` and ``width`` are the architecture's.
    """

    layer: int
    width: int
    groups: list[list[int]] | list[list[list[int]]]
    effective_width: int | np.ndarray
    #: Largest range, over the units, of any one incoming weight or bias: 0 iff all rows equal.
    spread: float | np.ndarray

    @property
    def ensemble(self) -> int | None:
        return None if np.ndim(self.effective_width) == 0 else len(self.effective_width)

    @property
    def symmetric(self) -> bool | np.ndarray:
        """Some units of this layer are copies of each other (effective width < width)."""
        return self.effective_width < self.width

    def member(self, k: int) -> LayerSymmetry:
        """Network ``k``'s layer (an ensemble's)."""
        return member_of(self, check_member(self.ensemble, k), fixed=("layer", "width"))

    def sentence(self) -> str:
        """The measurement in words, e.g. 'layer 1: 1 of 10 units distinct: ...'; for an
        ensemble one count per network: 'layer 1: 1, 6, 1 of 6 units distinct'."""
        if self.ensemble is not None:
            counts = ", ".join(str(w) for w in self.effective_width.tolist())
            return f"layer {self.layer}: {counts} of {self.width} units distinct"
        head = f"layer {self.layer}: {self.effective_width} of {self.width} units distinct"
        if self.effective_width == 1 and self.width > 1:
            return head + ": every hidden unit computes the same function"
        if self.symmetric:
            sizes = sorted((len(g) for g in self.groups if len(g) > 1), reverse=True)
            return head + f": groups of identical units of sizes {sizes}"
        return head

    def to_dict(self) -> dict:
        return {
            "layer": self.layer,
            "width": self.width,
            "groups": self.groups,
            "effective_width": plain(self.effective_width),
            "spread": plain(self.spread),
        }


@dataclass(frozen=True)
class SymmetryReport:
    """Every hidden layer of one network, or of an ensemble of ``ensemble`` networks (each
    layer's measurements then lead with an ``(E,)`` axis; `member` gives one network's report)."""

    layers: list[LayerSymmetry]
    atol: float
    ensemble: int | None = None

    @property
    def effective_widths(self) -> list[int] | np.ndarray:
        """Distinct units per hidden layer: a list for one network, ``(E, L-1)`` for an ensemble."""
        if self.ensemble is None:
            return [s.effective_width for s in self.layers]
        return np.array([s.effective_width for s in self.layers], dtype=int).reshape(-1, self.ensemble).T

    @property
    def widths(self) -> list[int]:
        return [s.width for s in self.layers]

    @property
    def symmetric(self) -> bool | np.ndarray:
        """Some hidden layer has identical units: its symmetry has not been broken (``(E,)`` for an ensemble)."""
        if self.ensemble is None:
            return any(s.symmetric for s in self.layers)
        return np.asarray(self.effective_widths < np.array(self.widths, dtype=int)).any(axis=-1)

    def member(self, k: int) -> SymmetryReport:
        """Network ``k``'s report: what `symmetry` gives for that network alone."""
        k = check_member(self.ensemble, k)
        return SymmetryReport([s.member(k) for s in self.layers], self.atol)

    def to_dict(self) -> dict:
        return {
            "atol": self.atol,
            "ensemble": self.ensemble,
            "symmetric": plain(self.symmetric),
            "effective_width": plain(self.effective_widths),
            "width": self.widths,
            "layers": [s.to_dict() for s in self.layers],
        }

    def _repr_html_(self) -> str:
        """The notebook's table (`initlab.report.notebook`)."""
        from initlab.report.notebook import symmetry_html

        return symmetry_html(self)

    def __repr__(self) -> str:
        head = [] if self.ensemble is None else [f"{self.ensemble} networks"]
        return "SymmetryReport(" + "; ".join(head + [s.sentence() for s in self.layers]) + ")"


def _one(params: dict, atol: float, layout=None) -> SymmetryReport:
    L = sum(1 for k in params if k.startswith("W"))
    layers = []
    for l in range(1, L):
        W, b = params[f"W{l}"], params[f"b{l}"]
        incoming = np.concatenate([W, b], axis=1)
        groups = group_rows(signatures(params, l, layout), atol)
        spread = float(np.max(incoming.max(axis=0) - incoming.min(axis=0)))
        layers.append(LayerSymmetry(l, W.shape[0], groups, len(groups), spread))
    return SymmetryReport(layers, atol)


def _stack(reports: list[SymmetryReport], atol: float) -> SymmetryReport:
    """The members' reports as one, each measurement with a leading ``(E,)`` axis."""
    layers = [
        LayerSymmetry(
            first.layer,
            first.width,
            [r.layers[i].groups for r in reports],
            np.array([r.layers[i].effective_width for r in reports]),
            np.array([r.layers[i].spread for r in reports]),
        )
        for i, first in enumerate(reports[0].layers)
    ]
    return SymmetryReport(layers, atol, ensemble=len(reports))


def _check_params(params: object) -> dict[str, np.ndarray]:
    """The course's dict as float arrays, checked: ``W1..WL`` and ``b1..bL``, ``W[l]: (n[l], n[l-1])``
    and ``b[l]: (n[l], 1)``, all with the same leading ``(E,)`` or none. A `Network` gives its
    ``params``. Errors name the key, its shape and the shape expected."""
    if not isinstance(params, Mapping):
        inner = getattr(params, "params", None)
        if not isinstance(inner, Mapping):
            raise InitlabError(
                f"symmetry needs a parameter dict {{'W1', 'b1', ...}} or a Network, got {type(params).__name__}"
            )
        params = inner
    layered = [int(k[1:]) for k in params if isinstance(k, str) and k[:1] in "Wb" and k[1:].isdigit()]
    L = max(layered, default=0)  # the deepest W or b names the depth: a missing W3 beside b3 is an error
    stray = sorted(k for k in map(str, params) if k[:1] in "Wb" and k[1:].isdigit() and int(k[1:]) < 1)
    if stray:
        raise InitlabError(f"params have {', '.join(stray)}: layers count from 1 (W1, b1, ...)")
    need = [f"{p}{l}" for l in range(1, max(L, 1) + 1) for p in "Wb"]
    missing = [k for k in need if k not in params]
    if missing:
        raise InitlabError(
            f"params lack {', '.join(missing)}: expected {', '.join(need)}, got keys {sorted(map(str, params))}"
        )
    out: dict[str, np.ndarray] = {}
    for k in need:
        try:
            out[k] = np.asarray(params[k], dtype=np.float64)
        except (TypeError, ValueError):
            raise InitlabError(f"{k} must be an array of numbers, got {type(params[k]).__name__}") from None
    W1 = out["W1"]
    if W1.ndim not in (2, 3):
        raise InitlabError(f"W1 must be (n1, n0) or (E, n1, n0), got shape {W1.shape}")
    lead = W1.shape[:-2]
    n_prev = W1.shape[-1]
    for l in range(1, L + 1):
        W, b = out[f"W{l}"], out[f"b{l}"]
        if W.shape[:-2] != lead or W.ndim != W1.ndim or W.shape[-1] != n_prev:
            where = "the input has" if l == 1 else f"layer {l - 1} has"
            expected = ", ".join([*map(str, lead), f"n{l}", str(n_prev)])
            raise InitlabError(f"W{l} has shape {W.shape} but {where} {n_prev} units: expected ({expected})")
        n = W.shape[-2]
        if b.shape != lead + (n, 1):
            raise InitlabError(f"b{l} has shape {b.shape} but W{l} has {n} rows: expected {lead + (n, 1)}")
        n_prev = n
    return out


def effective_widths(params: dict, layout=None) -> np.ndarray:
    """Exact effective width of every hidden layer, ``([E,] L-1)`` ints: the number of groups
    `symmetry` finds at ``atol = 0`` (the same rule: equal signature bytes after ``-0.0 -> 0.0``,
    `initlab.nn.units.signatures`), counted for the whole ensemble at once by sorting each
    member's signatures, not grouped member by member (what a tracker records at every step)."""
    full = getattr(params, "params", params)
    if layout is None:
        layout = getattr(params, "layout", None)
    L = sum(1 for k in full if str(k).startswith("W"))
    single = np.ndim(full["W1"]) == 2
    out = []
    for l in range(1, L):
        sig = np.asarray(signatures(full, l, layout), dtype=np.float64)
        sig = np.ascontiguousarray(sig[None] if single else sig) + 0.0  # (E, n, d)
        E, n, d = sig.shape
        rows = sig.view(np.dtype((np.void, 8 * d))).reshape(E, n)
        s = np.sort(rows, axis=1)
        out.append(1 + (s[:, 1:] != s[:, :-1]).sum(axis=1))
    widths = np.stack(out, axis=-1) if out else np.zeros((1 if single else np.shape(full["W1"])[0], 0), dtype=int)
    return widths[0] if single else widths


def symmetry(params: dict, *, atol: float = 0.0, layout=None) -> SymmetryReport:
    """Per hidden layer: ``width``, ``groups``, ``effective_width`` and the row ``spread``.

    ``params`` is the course's dict (``W[l]: (n[l], n[l-1])``, ``b[l]: (n[l], 1)``), an
    ensemble's (``(E, n[l], n[l-1])``: every measurement then has a leading ``(E,)`` axis and
    ``report.member(k)`` is network k's report), or a `Network` (its ``params``). Exact by
    default; ``atol`` counts units as identical when every entry of their signatures differs by
    at most atol.

    A residual network (a `Network` with ``residual=``, or ``layout=`` its
    `initlab.nn.residual.Layout`): the stream's units are grouped by everything that writes or
    reads them (`initlab.nn.units.signatures`), so every stream layer reports the same groups.
    """
    atol = check_positive("atol", atol, allow_zero=True)
    if layout is None:
        layout = getattr(params, "layout", None)
    full = getattr(params, "params", params)
    params = _check_params(params)
    if layout is not None:  # the gates and norms too: the stream's signatures read them
        params.update({k: np.asarray(v, dtype=np.float64) for k, v in full.items() if k.startswith("norm_")})
    if params["W1"].ndim == 2:
        return _one(params, atol, layout)
    members = [{k: v[e] for k, v in params.items()} for e in range(params["W1"].shape[0])]
    return _stack([_one(p, atol, layout) for p in members], atol)
