"""One shape for a diagnostic of one network and of an ensemble, and member ``k`` out of it.

A result measured on an ensemble of E networks has a leading ``(E,)`` axis on every measured
field (a list of E items where the per-network value is a list, such as symmetry's groups);
on one network the same field is a plain number or list. What describes the measurement
rather than a network (a layer's index, width or activation, a threshold) has no such axis.
``member(k)`` on a result is what the same function returns for ``net.member(k)`` alone.
"""

from __future__ import annotations

from dataclasses import fields, replace

import numpy as np

from initlab.errors import InitlabError


def check_member(ensemble: int | None, k: int) -> int:
    """``k`` as an index of an ensemble of ``ensemble`` networks, refused as `Network.member` refuses."""
    if ensemble is None:
        raise InitlabError("member() is for ensembles; this is a single network")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= k < ensemble:
        raise InitlabError(f"member {k} does not exist: the ensemble has {ensemble}")
    return int(k)


def pick(value: object, k: int) -> object:
    """Member ``k``'s value of a field with a leading ``(E,)`` axis: a plain Python number
    (the type the one-network result holds) for an ``(E,)`` array, item ``k`` of a list."""
    if value is None:
        return None
    if isinstance(value, np.ndarray):
        v = value[k]
        return v.item() if v.ndim == 0 else v
    return value[k]


def member_of(result: object, k: int, fixed: tuple[str, ...]) -> object:
    """A copy of the dataclass ``result`` with every field not named in ``fixed`` picked at ``k``."""
    return replace(result, **{f.name: pick(getattr(result, f.name), k) for f in fields(result) if f.name not in fixed})


def plain(value: object) -> object:
    """JSON-able: arrays and NumPy numbers as lists and Python numbers."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value
