"""Strict JSON for every output initlab writes (``--json``, ``results.json``, the dashboard's
download): one convention, one place.

Strict JSON has no infinity or NaN, so a non-finite float is written as one of the strings
``"Infinity"``, ``"-Infinity"``, ``"NaN"`` (the protobuf JSON mapping's convention; ``float(s)``
in Python and ``Number(s)`` in JavaScript read them back). Every other number stays a number.
"""

from __future__ import annotations

import json

import numpy as np

NONFINITE = {np.inf: "Infinity", -np.inf: "-Infinity"}


def to_json(obj: object, indent: int | None = None) -> str:
    """``obj`` as strict JSON: NumPy arrays and scalars become lists and numbers, non-finite
    floats become the strings ``"Infinity"``, ``"-Infinity"``, ``"NaN"``; ``allow_nan=False``
    makes any non-finite float that slipped past this an error instead of invalid JSON."""
    return json.dumps(jsonable(obj), allow_nan=False, indent=indent)


def jsonable(o: object) -> object:
    """A copy of ``o`` with only JSON types, non-finite floats spelled as strings (``NONFINITE``)."""
    if isinstance(o, dict):
        return {str(k): jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [jsonable(v) for v in o]
    if isinstance(o, np.ndarray):
        return jsonable(o.tolist())
    if isinstance(o, np.generic):
        return jsonable(o.item())
    if isinstance(o, float) and not np.isfinite(o):
        return NONFINITE.get(o, "NaN")
    if o is None or isinstance(o, (str, int, float)):
        return o
    raise TypeError(f"not JSON-serializable: {type(o).__name__}")
