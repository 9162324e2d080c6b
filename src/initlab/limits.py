"""How much memory and work a request needs, estimated before anything is allocated.

A request that the machine cannot hold (``--layers 2,100000000,1``: 640 GB of forward caches on
the flower) or cannot finish in any sensible time (``--iterations 1000000000000``) is refused at
once with one line naming the figure, the limit and how to raise it, instead of grinding for
minutes and ending in a ``MemoryError`` or the OOM killer.

The estimates (float64, 8 bytes a number; ``E`` networks, ``m`` examples, layer sizes
``n[0..L]``, ``W = sum n[l] n[l-1]`` weights, ``P = W + sum n[l]`` parameters)::

    parameters       8 E P
    gradients        8 E (P + m sum_{l<L} n[l])          dW, db and dA of every layer
    forward caches   8 E m (2 sum_{l>=1} n[l] + 2 max n)  A and Z of every layer, dZ and g'(Z)
    records          cost records, tracked diagnostics and weight snapshots
    work             iterations x sum_l max(3 E m n[l] n[l-1], 1e5) multiply-adds

(3 products a layer and a step: ``W @ A``, ``dZ @ A^T``, ``W^T @ dZ``; a layer's step costs at
least about as much time as 1e5 multiply-adds however small it is: measured on these machines,
100-300 us a layer-step for tiny layers, 1e9-1e10 multiply-adds a second for large ones.)

The limits, in this order: `limit` (a context manager; the CLI's ``--max-memory`` and
``--max-work``), the environment (``INITLAB_MAX_MEMORY=64GB``, ``INITLAB_MAX_WORK=1e15``), the
defaults: the memory available now (``MemAvailable`` in ``/proc/meminfo``, or the cgroup's
room, whichever is smaller) and `DEFAULT_MAX_WORK`. ``none`` lifts a limit.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from initlab.errors import InitlabError

#: 1e14 multiply-adds: hours of one core of these machines (1e9-1e10 a second measured), days
#: for the small networks whose steps cost more than their products. Every documented example
#: needs under 1e12 (``initlab deep`` with its defaults: 5e11).
DEFAULT_MAX_WORK = 1e14
#: What a layer's step counts at least, in multiply-adds (its fixed cost in time).
STEP_FLOOR = 1e5
#: Bytes a cost record costs in Python lists (an int, a float or array object, list slots)
#: besides its E numbers.
RECORD_BYTES = 160
ENV_MEMORY = "INITLAB_MAX_MEMORY"
ENV_WORK = "INITLAB_MAX_WORK"
#: When neither /proc/meminfo nor sysconf says how much memory is free.
FALLBACK_MEMORY = 4 * 10**9


class LimitError(InitlabError):
    """A request beyond the memory or work limit (one line: the figure, the limit, the flag)."""


@dataclass(frozen=True)
class Estimate:
    """What a request needs: ``memory`` in bytes by part, ``work`` in multiply-adds."""

    what: str
    memory: dict[str, float] = field(default_factory=dict)
    work: float = 0.0
    #: How the work figure comes about, for the message (``"3 x 400 examples x ..."``).
    work_detail: str = ""

    @property
    def total_memory(self) -> float:
        return float(sum(self.memory.values()))

    def to_dict(self) -> dict:
        return {
            "what": self.what,
            "memory_bytes": self.total_memory,
            "memory_parts": dict(self.memory),
            "work": self.work,
        }


@dataclass(frozen=True)
class _Setting:
    max_memory: float | None = None
    max_work: float | None = None
    cli: bool = False


_SETTING: contextvars.ContextVar[_Setting | None] = contextvars.ContextVar("initlab_limits", default=None)


def _setting() -> _Setting:
    return _SETTING.get() or _Setting()


# ------------------------------------------------------------------------------ parsing
_UNITS = {
    "": 1,
    "b": 1,
    "k": 10**3,
    "kb": 10**3,
    "m": 10**6,
    "mb": 10**6,
    "g": 10**9,
    "gb": 10**9,
    "t": 10**12,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}


def parse_memory(value: str | float | int | None, name: str = "--max-memory") -> float | None:
    """``"64GB"``, ``"512MiB"``, ``"1e10"`` (bytes) or a number of bytes -> bytes; ``"none"`` or
    ``inf`` -> ``inf`` (no limit); None -> None (not set)."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        v = float(value)
    else:
        text = str(value).strip().lower().replace(" ", "")
        if text in ("none", "inf", "unlimited"):
            return math.inf
        match = re.fullmatch(r"([0-9.]+(?:e[+-]?[0-9]+)?)([a-z]*)", text)
        if not match or match.group(2) not in _UNITS:
            raise InitlabError(f"{name} takes a size such as 64GB, 512MiB or none, got {value!r}")
        try:
            v = float(match.group(1)) * _UNITS[match.group(2)]
        except ValueError:
            raise InitlabError(f"{name} takes a size such as 64GB, 512MiB or none, got {value!r}") from None
    if math.isnan(v) or v <= 0:
        raise InitlabError(f"{name} must be a positive size such as 64GB, got {value!r}")
    return v


def parse_work(value: str | float | int | None, name: str = "--max-work") -> float | None:
    """``"1e15"`` multiply-adds, ``"none"`` or ``inf`` for no limit; None -> None (not set)."""
    if value is None:
        return None
    text = str(value).strip().lower().replace("_", "").replace(",", "")
    if text in ("none", "inf", "unlimited"):
        return math.inf
    try:
        v = float(text)
    except ValueError:
        raise InitlabError(f"{name} takes a number of multiply-adds such as 1e15 or none, got {value!r}") from None
    if math.isnan(v) or v <= 0:
        raise InitlabError(f"{name} must be a positive number of multiply-adds, got {value!r}")
    return v


def fmt_bytes(n: float) -> str:
    """``7.2e9`` -> ``'7.2 GB'`` (decimal units, as ``--max-memory`` reads them)."""
    if math.isinf(n):
        return "unlimited"
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n:.0f} B"


# ------------------------------------------------------------------------ the machine
def _meminfo_available(path: str = "/proc/meminfo") -> float | None:
    try:
        with open(path) as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024  # kB
    except (OSError, ValueError, IndexError):
        return None
    return None


def _cgroup_room() -> float | None:
    """What the cgroup still lets this process allocate (v2, then v1); None when unlimited."""
    pairs = (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"),
    )
    for limit_path, usage_path in pairs:
        try:
            with open(limit_path) as f:
                text = f.read().strip()
            if text == "max":
                return None
            limit = float(text)
            if limit >= 2**60:  # v1 writes "unlimited" as a huge number
                return None
            with open(usage_path) as f:
                usage = float(f.read().strip())
            return max(0.0, limit - usage)
        except (OSError, ValueError):
            continue
    return None


def available_memory() -> float:
    """Bytes this process can allocate now: MemAvailable, capped by the cgroup's room; without
    /proc, the free physical pages (sysconf); else `FALLBACK_MEMORY`."""
    found = _meminfo_available()
    if found is None:
        try:
            found = float(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError, AttributeError):
            found = float(FALLBACK_MEMORY)
    room = _cgroup_room()
    return found if room is None else min(found, room)


# --------------------------------------------------------------------------- settings
@contextlib.contextmanager
def limit(
    *, max_memory: str | float | None = None, max_work: str | float | None = None, cli: bool = False
) -> Iterator[None]:
    """Limits for the calls inside the block (``None`` keeps the environment's or the
    default)::

        with initlab.limits.limit(max_memory="64GB", max_work=1e15):
            Network([2, 30000, 30000, 1]).fit(X, Y, lr=0.1, iterations=100)

    ``cli=True`` makes messages name the command line's flags.
    """
    token = _SETTING.set(_Setting(parse_memory(max_memory), parse_work(max_work), cli))
    try:
        yield
    finally:
        _SETTING.reset(token)


def current() -> tuple[float, float, str, str]:
    """``(max_memory, max_work, where_memory, where_work)``: the limits in force and where each
    comes from (``"available"``, ``"default"``, the flag or the environment variable)."""
    s = _setting()
    if s.max_memory is not None:
        mem, mem_from = s.max_memory, ("--max-memory" if s.cli else "max_memory=")
    elif os.environ.get(ENV_MEMORY, "").strip():
        mem, mem_from = parse_memory(os.environ[ENV_MEMORY], ENV_MEMORY), ENV_MEMORY
    else:
        mem, mem_from = available_memory(), "available"
    if s.max_work is not None:
        work, work_from = s.max_work, ("--max-work" if s.cli else "max_work=")
    elif os.environ.get(ENV_WORK, "").strip():
        work, work_from = parse_work(os.environ[ENV_WORK], ENV_WORK), ENV_WORK
    else:
        work, work_from = DEFAULT_MAX_WORK, "default"
    return mem, work, mem_from, work_from


def _how_to_raise(kind: str) -> str:
    cli = _setting().cli
    if kind == "memory":
        flag = "--max-memory SIZE" if cli else "initlab.limits.limit(max_memory=...)"
        return f"{flag} or {ENV_MEMORY}"
    flag = "--max-work N" if cli else "initlab.limits.limit(max_work=...)"
    return f"{flag} or {ENV_WORK}"


def check(estimate: Estimate) -> Estimate:
    """Refuse (`LimitError`, one line) an estimate beyond the limits in force; else return it."""
    mem_limit, work_limit, mem_from, work_from = current()
    need = estimate.total_memory
    if need > mem_limit:
        parts = sorted(((v, k) for k, v in estimate.memory.items() if v > 0), reverse=True)[:3]
        detail = ", ".join(f"{k} {fmt_bytes(v)}" for v, k in parts)
        limit_text = (
            f"{fmt_bytes(mem_limit)} of memory is available"
            if mem_from == "available"
            else f"the limit is {fmt_bytes(mem_limit)} ({mem_from})"
        )
        raise LimitError(
            f"{estimate.what} needs about {fmt_bytes(need)} of memory ({detail}) but "
            f"{limit_text}: make it smaller, or raise the limit with "
            f"{_how_to_raise('memory')} if the machine can hold it"
        )
    if estimate.work > work_limit:
        detail = f" ({estimate.work_detail})" if estimate.work_detail else ""
        source = "the default: hours of CPU" if work_from == "default" else work_from
        raise LimitError(
            f"{estimate.what} needs about {estimate.work:.2g} multiply-adds{detail}, over "
            f"the limit of {work_limit:.2g} ({source}): make it smaller, or "
            f"raise the limit with {_how_to_raise('work')}"
        )
    return estimate


# -------------------------------------------------------------------------- estimates
def _dims(layer_dims: Sequence[int]) -> list[int]:
    return [int(n) for n in layer_dims]


def network(layer_dims: Sequence[int], *, ensemble: int | None = None, what: str | None = None) -> Estimate:
    """Building a `Network`: its parameters, the sampler's temporaries (one layer), and for an
    ensemble the members' dicts before they are stacked (twice the parameters)."""
    n = _dims(layer_dims)
    E = ensemble or 1
    weights = [a * b for a, b in zip(n[:-1], n[1:], strict=False)]
    P = sum(weights) + sum(n[1:])
    mem = {"parameters": 8.0 * E * P, "drawing": 8.0 * (E * P if ensemble else 2 * max(weights))}
    label = what or (
        f"an ensemble of {E:,} networks of layers {_short(n)}" if ensemble else f"a network of layers {_short(n)}"
    )
    return Estimate(label, mem)


def training(
    layer_dims: Sequence[int],
    *,
    examples: int,
    iterations: int,
    ensemble: int | None = None,
    records: int | None = None,
    tracked: int = 0,
    track_weights: bool = False,
    held_passes: int = 0,
    build: bool = False,
    built: bool = False,
    what: str | None = None,
) -> Estimate:
    """Training ``ensemble`` networks (None: one) of ``layer_dims`` on ``examples`` examples for
    ``iterations`` full-batch steps.

    ``records``: cost records (default `fit`'s: about 200); ``tracked``: tracked steps
    (``fit(track=...)``), with the hidden layers' weights copied each time if ``track_weights``;
    ``held_passes``: forward passes the caller keeps while training (compare keeps the initial
    one for its report); ``build``: the network is not built yet, count its drawing too;
    ``built``: it is (`Network.fit`): count only what training adds, not its parameters and data,
    which the memory available now already excludes.
    """
    n = _dims(layer_dims)
    E = ensemble or 1
    m = max(1, int(examples))
    iterations = max(0, int(iterations))
    L = len(n) - 1
    weights = [a * b for a, b in zip(n[:-1], n[1:], strict=False)]
    W, units = sum(weights), sum(n[1:])
    P = W + units
    if records is None:
        records = min(iterations, 200) + 2
    caches = 8.0 * E * m * (2 * units + 2 * max(n))
    mem = {
        "parameters": 8.0 * E * P,
        "gradients": 8.0 * E * (P + m * sum(n[:-1]) + max(weights)),
        "forward caches": caches * (1 + held_passes),
        "data": 16.0 * m * (n[0] + n[-1]),
        "records": float(records) * (RECORD_BYTES + 8 * E)
        + float(tracked) * E * (8 * (sum(weights[:-1]) if track_weights else 0) + 24 * L + 200),
    }
    if built:
        mem = {k: v for k, v in mem.items() if k not in ("parameters", "data")}
    if build:  # drawing comes first: the peak is the larger of drawing and training, not both
        drawing = network(n, ensemble=ensemble).memory["drawing"]
        training_extra = sum(v for k, v in mem.items() if k != "parameters")
        if drawing > training_extra:
            mem = {"parameters": mem["parameters"], "drawing": drawing}
    products = 3.0 * E * m * W
    step = sum(max(3.0 * E * m * w, STEP_FLOOR) for w in weights)
    work = float(iterations) * step
    if not iterations:
        detail = ""
    elif step > 1.01 * products:  # small layers: their fixed cost per step dominates
        detail = (
            f"{iterations:,} iterations x {step:.2g} a step; each of the {L} layers counts at least "
            f"{STEP_FLOOR:.0e}, the time a step takes however small"
        )
    else:
        detail = f"{iterations:,} iterations x {E:,} network(s) x {m:,} examples x {W:,} weights x 3"
    label = what or (
        f"training {'an ensemble of ' + format(E, ',') + ' networks' if ensemble else 'a network'}"
        f" of layers {_short(n)} on {m:,} examples"
    )
    return Estimate(label, mem, work, detail)


def ensemble_pass(
    *, depth: int, width: int, networks: int, batch: int, n_in: int | None = None, what: str | None = None
) -> Estimate:
    """One forward and one backward pass of ``networks`` MLPs of ``depth`` layers of ``width``
    units on ``batch`` inputs, weights drawn one layer at a time (``theory --measure``)."""
    n_in = n_in or width
    E, m = max(1, networks), max(1, batch)
    layer = 8.0 * E * width * max(width, n_in)
    mem = {
        "forward caches": 8.0 * E * m * width * depth * 2 + 8.0 * E * m * n_in,
        "one layer's weights": 3 * layer,
        "gradients": 8.0 * E * m * width * 3,
    }
    W = width * n_in + (depth - 1) * width * width
    work = 2.0 * E * m * W + depth * 2 * STEP_FLOOR
    label = what or f"{E:,} networks of {depth:,} layers of {width:,} units on {m:,} inputs"
    return Estimate(label, mem, work, f"{E:,} networks x {m:,} inputs x {W:,} weights x 2")


def _short(n: list[int]) -> str:
    """``2,4,1``; a long list keeps its ends: ``64,64,...(100000 layers),10``."""
    if len(n) <= 8:
        return ",".join(map(str, n))
    return f"{n[0]},{n[1]},...,{n[-2]},{n[-1]} ({len(n) - 1:,} layers)"
