"""What the three course modules share: input descriptions and the course's failures as errors.

The course's functions are written here the way the course writes them, so on inputs where the
course's code fails (a 1-D ``Y`` whose ``Y.shape[1]`` does not exist, shapes that do not
multiply, a cache without ``"A1"``) ours fails too; `course_function` turns that NumPy or
Python error into an `InitlabError` that names the function, the inputs' shapes and the cause.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import TypeVar

import numpy as np

from initlab.errors import InitlabError

F = TypeVar("F", bound=Callable)


def describe(value: object) -> str:
    """A short description of an input: shapes of arrays, keys of dicts."""
    if isinstance(value, np.ndarray):
        return f"array {value.shape}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {describe(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(describe(v) for v in value) + ")"
    return repr(value)


def examples(arr: object, name: str) -> int:
    """``m = arr.shape[1]``, as the course reads it; a clear error where that fails."""
    shape = getattr(arr, "shape", None)
    if shape is None:
        raise InitlabError(
            f"{name} must be a NumPy array (the course reads m = {name}.shape[1]), got {type(arr).__name__}"
        )
    if len(shape) < 2:
        raise InitlabError(
            f"{name} must be 2-D (units, examples) (the course reads m = {name}.shape[1]), got shape {shape}"
        )
    return shape[1]


def same_shape(dA: np.ndarray, Z: np.ndarray, what: str) -> None:
    """The course's ``assert (dZ.shape == Z.shape)``, as an error that names both shapes."""
    if np.shape(dA) != np.shape(Z):
        raise InitlabError(
            f"{what}: dA and the cache's Z must have the same shape, got dA {np.shape(dA)} and Z {np.shape(Z)}"
        )


def course_function(fn: F) -> F:
    """Where the course's code would raise on these inputs, raise an `InitlabError` naming why.

    A call with the wrong arguments (count, names) still raises Python's own ``TypeError``.
    """
    sig = inspect.signature(fn)
    where = f"{fn.__module__.rsplit('.', 1)[-1]}.{fn.__name__}"

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except InitlabError:
            raise
        except (TypeError, ValueError, IndexError, KeyError, AttributeError, AssertionError) as e:
            try:
                bound = sig.bind(*args, **kwargs)
            except TypeError:
                raise e from None
            cause = f"missing key {e.args[0]!r}" if isinstance(e, KeyError) else f"{type(e).__name__}: {e}"
            inputs = ", ".join(f"{k}={describe(v)}" for k, v in bound.arguments.items())
            raise InitlabError(f"{where}({inputs}): the course's code fails on these inputs too: {cause}") from None

    return wrapper  # type: ignore[return-value]
