"""initlab's one error type and the checks every public entry point runs at its edge.

An `InitlabError` is a `ValueError` whose message names the problem (shape, value,
file, line) and what was expected, so that the CLI can print it as one line.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

import numpy as np


class InitlabError(ValueError):
    """Bad input to initlab: the message says what was expected and what was given."""


def suggest(name: str, options: Iterable[str]) -> str:
    """' (did you mean x, y?)' for the options closest to `name`, or '' when none is close."""
    close = difflib.get_close_matches(name, list(options), n=3, cutoff=0.6)
    return f" (did you mean {', '.join(close)}?)" if close else ""


def unknown(kind: str, name: str, options: Sequence[str]) -> InitlabError:
    """Error for a name missing from a table: suggests close names and lists all of them."""
    return InitlabError(f"unknown {kind} {name!r}{suggest(name, options)}; choose from: {', '.join(options)}")


def parse_ints(text: str, name: str) -> list[int]:
    """``"2,4,1"`` -> ``[2, 4, 1]``; anything else names the field (or option) and the text."""
    try:
        return [int(p.strip()) for p in text.split(",")]
    except ValueError:
        raise InitlabError(f"{name} takes comma-separated integers such as 2,4,1; got {text!r}") from None


def check_layer_dims(layer_dims: Sequence[int]) -> list[int]:
    """Layer sizes `[n_x, n_1, ..., n_L]`: at least two, each a positive integer."""
    try:
        dims = list(layer_dims)
    except TypeError:
        raise InitlabError(f"layer sizes must be a list of integers, got {layer_dims!r}") from None
    if len(dims) < 2:
        raise InitlabError(f"layer sizes need at least an input and an output size, got {dims}")
    for l, n in enumerate(dims):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
            raise InitlabError(f"layer {l} size must be an integer, got {n!r} in {dims}")
        if n <= 0:
            raise InitlabError(f"layer {l} has width {n}: every layer needs at least 1 unit (sizes {dims})")
    return [int(n) for n in dims]


def check_examples(X: object, name: str = "X") -> np.ndarray:
    """A finite float matrix `(n, m)` with examples as columns."""
    arr = np.asarray(X)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise InitlabError(f"{name} must be numeric, got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise InitlabError(f"{name} must be 2-D (features, examples) with examples as columns, got shape {arr.shape}")
    if arr.shape[1] == 0:
        raise InitlabError(f"{name} has no examples: shape {arr.shape}")
    arr = arr.astype(np.float64) if not np.issubdtype(arr.dtype, np.floating) else arr
    bad = ~np.isfinite(arr)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise InitlabError(
            f"{name} has {int(bad.sum())} non-finite value(s) (NaN or inf); first at row {i}, example {j}: {arr[i, j]}"
        )
    return arr


def check_pair(X: np.ndarray, Y: np.ndarray) -> None:
    """X `(n_x, m)` and Y `(n_y, m)` must hold the same number of examples."""
    if X.shape[-1] != Y.shape[-1]:
        raise InitlabError(
            f"X has shape {X.shape} ({X.shape[-1]} examples) but Y has shape {Y.shape} "
            f"({Y.shape[-1]} examples): both need one column per example"
        )


def check_positive(name: str, value: float, *, allow_zero: bool = False) -> float:
    """A finite number > 0 (or >= 0)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InitlabError(f"{name} must be a number, got {value!r}") from None
    if not np.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        need = ">= 0" if allow_zero else "> 0"
        raise InitlabError(f"{name} must be a finite number {need}, got {value!r}")
    return v
