"""Hold a learner's functions against the course's reference on random inputs.

`check(path, module=None)` imports the learner's file (only the file named), finds the
functions that carry course names, calls each and the reference on the same random inputs of
several shapes (m = 1, the grader's shapes, larger ones), and reports per function: ok, or the
first input where they differ with the shapes and the largest difference; a missing function
is listed, a function that raises shows its one-line error.

Backward functions also get caches that are *inconsistent on purpose* (``A1`` that is not
``tanh(Z1)``, ``a2`` that is not ``relu(z2)``, ``AL`` that is not ``sigmoid(Z_L)``), as the
course's newest unit tests build them: a learner who recomputes ``g'`` from ``Z`` where the
course reads it from ``A`` (or the other way) agrees on a real forward pass and differs there,
and the report names that input.
"""

from __future__ import annotations

import contextlib
import copy
import io
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType

import numpy as np

from initlab.course import MODULES
from initlab.course._course import describe
from initlab.errors import InitlabError, unknown
from initlab.userfile import UserCodeError, import_file, user_code

__all__ = ["CASES", "CheckReport", "FunctionResult", "check", "compare", "describe", "main_text"]

RTOL, ATOL = 1e-6, 1e-9  # tolerance for "the same number": rounding, not a different formula

Case = tuple[str, Callable[[np.random.Generator], tuple]]


# --------------------------------------------------------------------------- input makers
def _params(dims: list[int], rng: np.random.Generator, scale: float = 0.5) -> dict:
    p = {}
    for l in range(1, len(dims)):
        p[f"W{l}"] = rng.standard_normal((dims[l], dims[l - 1])) * scale
        p[f"b{l}"] = rng.standard_normal((dims[l], 1)) * 0.1
    return p


def _labels(rng: np.random.Generator, m: int) -> np.ndarray:
    return (rng.random((1, m)) > 0.5).astype(np.int64)


def _probs(rng: np.random.Generator, m: int) -> np.ndarray:
    return rng.uniform(0.05, 0.95, (1, m))


def _saturated(rng: np.random.Generator) -> tuple:
    """Outputs at exactly 0 and 1, right and wrong: the course's cost is inf or nan there."""
    return np.array([[0.0, 1.0, 1.0, 0.5]]), np.array([[0, 1, 0, 1]])


#: What the inconsistent caches are, for the report (the course reads A, not Z, where it says).
INCONSISTENT_PLANAR = (
    "inconsistent on purpose (A1 is not tanh(Z1), A2 not sigmoid(Z2); the course "
    "reads A1, A2 and W2, never Z1, Z2 or W1)"
)
INCONSISTENT_DEEP = (
    "inconsistent on purpose (AL is not sigmoid(Z_L), each A_prev not relu of the Z "
    "below; the course reads Z for g', A_prev and W for the linear step, AL for dAL)"
)
INCONSISTENT_INIT = (
    "inconsistent on purpose (a1, a2 are not relu(z1), relu(z2), a3 not sigmoid(z3); "
    "the course reads a1, a2, a3, W2, W3 and masks with a > 0, never z)"
)


def _planar_cases() -> dict[str, list[Case]]:
    from initlab.course import planar as ref

    def fwd(m):
        def make(rng):
            return (rng.standard_normal((2, m)), _params([2, 4, 1], rng))

        return make

    def bwd(m):
        def make(rng):
            X, p = rng.standard_normal((2, m)), _params([2, 4, 1], rng)
            _, cache = ref.forward_propagation(X, p)
            return (p, cache, X, _labels(rng, m))

        return make

    def bwd_inconsistent(m, boolean=False):
        def make(rng):
            X, p = rng.standard_normal((2, m)), _params([2, 4, 1], rng)
            cache = {
                "Z1": rng.standard_normal((4, m)),
                "A1": rng.uniform(-1, 1, (4, m)),
                "Z2": rng.standard_normal((1, m)),
                "A2": _probs(rng, m),
            }
            Y = _labels(rng, m)
            return (p, cache, X, Y > 0 if boolean else Y)

        return make

    def upd(*lr):
        def make(rng):
            p = _params([2, 4, 1], rng)
            X = rng.standard_normal((2, 5))
            _, cache = ref.forward_propagation(X, p)
            return (p, ref.backward_propagation(p, cache, X, _labels(rng, 5)), *lr)

        return make

    return {
        "layer_sizes": [
            (
                f"X ({n}, {m}), Y ({k}, {m})",
                lambda rng, n=n, m=m, k=k: (rng.standard_normal((n, m)), rng.standard_normal((k, m))),
            )
            for n, m, k in ((5, 3, 2), (2, 1, 1), (64, 100, 10))
        ],
        "initialize_parameters": [
            (f"n_x={a}, n_h={b}, n_y={c}", lambda rng, a=a, b=b, c=c: (a, b, c))
            for a, b, c in ((2, 4, 1), (3, 5, 2), (1, 1, 1))
        ],
        "forward_propagation": [(f"X (2, {m}), parameters 2-4-1", fwd(m)) for m in (3, 1, 50)],
        "compute_cost": [
            (f"A2 (1, {m}), Y (1, {m})", lambda rng, m=m: (_probs(rng, m), _labels(rng, m))) for m in (3, 1, 40)
        ]
        + [
            ("A2 (1, 5), Y (1, 5) boolean", lambda rng: (_probs(rng, 5), _labels(rng, 5) > 0)),
            ("A2 (1, 4) with outputs of exactly 0 and 1, Y (1, 4)", _saturated),
        ],
        "sigmoid": [
            ("x (3, 4)", lambda rng: (rng.standard_normal((3, 4)),)),
            ("x a number", lambda rng: (float(rng.standard_normal()),)),
        ],
        "backward_propagation": [(f"X (2, {m}), parameters 2-4-1, cache, Y (1, {m})", bwd(m)) for m in (3, 1, 30)]
        + [
            (
                f"X (2, {m}), parameters 2-4-1, Y (1, {m}){' boolean' if b else ''}, and a cache {INCONSISTENT_PLANAR}",
                bwd_inconsistent(m, b),
            )
            for m, b in ((3, False), (1, False), (7, True))
        ],
        "update_parameters": [
            ("parameters 2-4-1, grads (default learning_rate)", upd()),
            ("parameters 2-4-1, grads, learning_rate=0.5", upd(0.5)),
        ],
        "nn_model": [
            (
                f"X (2, {m}), Y (1, {m}), n_h={h}, num_iterations=50",
                lambda rng, m=m, h=h: (rng.standard_normal((2, m)), _labels(rng, m), h, 50),
            )
            for m, h in ((20, 4), (1, 2))
        ],
        "predict": [(f"parameters 2-4-1, X (2, {m})", lambda rng, m=m: fwd(m)(rng)[::-1]) for m in (3, 1)],
    }


def _deep_cases() -> dict[str, list[Case]]:
    from initlab.course import deep as ref

    def lin_cache(rng, n_prev, n, m):
        return (rng.standard_normal((n_prev, m)), rng.standard_normal((n, n_prev)), rng.standard_normal((n, 1)))

    def lmf(dims, m):
        def make(rng):
            return (rng.standard_normal((dims[0], m)), _params(dims, rng))

        return make

    def lmb(dims, m):
        def make(rng):
            AL, caches = ref.L_model_forward(rng.standard_normal((dims[0], m)), _params(dims, rng))
            return (AL, _labels(rng, m), caches)

        return make

    def lmb_inconsistent(dims, m, boolean=False):
        def make(rng):
            caches = [
                (lin_cache(rng, dims[l - 1], dims[l], m), rng.standard_normal((dims[l], m)))
                for l in range(1, len(dims))
            ]
            Y = _labels(rng, m)
            return (_probs(rng, m), Y > 0 if boolean else Y, caches)

        return make

    def upd(dims):
        def make(rng):
            p = _params(dims, rng)
            AL, caches = ref.L_model_forward(rng.standard_normal((dims[0], 4)), p)
            return (p, ref.L_model_backward(AL, _labels(rng, 4), caches), 0.1)

        return make

    cases: dict[str, list[Case]] = {
        "initialize_parameters": [
            (f"n_x={a}, n_h={b}, n_y={c}", lambda rng, a=a, b=b, c=c: (a, b, c))
            for a, b, c in ((3, 2, 1), (1, 1, 1), (5, 4, 3))
        ],
        "initialize_parameters_deep": [
            (f"layer_dims={d}", lambda rng, d=d: (list(d),)) for d in ([5, 4, 3], [2, 1], [4, 5, 3, 2, 1])
        ],
        "linear_forward": [
            (f"A ({a}, {m}), W ({n}, {a}), b ({n}, 1)", lambda rng, a=a, n=n, m=m: lin_cache(rng, a, n, m))
            for a, n, m in ((3, 1, 2), (5, 4, 1), (8, 6, 10))
        ],
        "linear_activation_forward": [
            (
                f"A_prev ({a}, {m}), W ({n}, {a}), b ({n}, 1), {act!r}",
                lambda rng, a=a, n=n, m=m, act=act: (*lin_cache(rng, a, n, m), act),
            )
            for act in ("sigmoid", "relu")
            for a, n, m in ((3, 1, 2), (4, 3, 1))
        ],
        "L_model_forward": [
            (f"X ({d[0]}, {m}), parameters {d}", lmf(d, m))
            for d, m in (([5, 4, 3, 1], 4), ([4, 1], 1), ([3, 5, 2, 4, 1], 7))
        ],
        "compute_cost": [
            (f"AL (1, {m}), Y (1, {m})", lambda rng, m=m: (_probs(rng, m), _labels(rng, m))) for m in (3, 1, 20)
        ]
        + [("AL (1, 4) with outputs of exactly 0 and 1, Y (1, 4)", _saturated)],
        "linear_backward": [
            (
                f"dZ ({n}, {m}), cache (A_prev ({a}, {m}), W ({n}, {a}), b ({n}, 1))",
                lambda rng, a=a, n=n, m=m: (rng.standard_normal((n, m)), lin_cache(rng, a, n, m)),
            )
            for a, n, m in ((5, 3, 4), (2, 1, 1))
        ],
        "linear_activation_backward": [
            (
                f"dA ({n}, {m}), cache ((A_prev ({a}, {m}), W, b), Z ({n}, {m})), {act!r}",
                lambda rng, a=a, n=n, m=m, act=act: (
                    rng.standard_normal((n, m)),
                    (lin_cache(rng, a, n, m), rng.standard_normal((n, m))),
                    act,
                ),
            )
            for act in ("sigmoid", "relu")
            for a, n, m in ((3, 1, 2), (4, 3, 1))
        ],
        "L_model_backward": [
            (f"AL, Y (1, {m}), caches of {d}", lmb(d, m)) for d, m in (([4, 3, 1], 2), ([4, 1], 1), ([5, 4, 3, 1], 6))
        ]
        + [
            (f"AL, Y (1, {m}){' boolean' if b else ''}, caches of {d} {INCONSISTENT_DEEP}", lmb_inconsistent(d, m, b))
            for d, m, b in (([4, 3, 1], 3, False), ([5, 4, 3, 1], 1, False), ([3, 2, 1], 4, True))
        ],
        "update_parameters": [(f"parameters {d}, grads, learning_rate=0.1", upd(d)) for d in ([4, 3, 1], [3, 1])],
    }
    for name in ("sigmoid", "relu"):
        cases[name] = [(f"Z (3, {m})", lambda rng, m=m: (rng.standard_normal((3, m)),)) for m in (4, 1)]
    for name in ("sigmoid_backward", "relu_backward"):
        cases[name] = [
            (
                f"dA (3, {m}), cache Z (3, {m})",
                lambda rng, m=m: (rng.standard_normal((3, m)), rng.standard_normal((3, m))),
            )
            for m in (4, 1)
        ]
        cases[name].append(
            (
                "dA (2, 3), cache Z (2, 3) with exact zeros",
                lambda rng: (rng.standard_normal((2, 3)), np.array([[0.0, 1.0, -1.0], [2.0, 0.0, -0.5]])),
            )
        )
    return cases


def _initialization_cases() -> dict[str, list[Case]]:
    from initlab.course import initialization as ref

    def dims_cases(dims_list):
        return [(f"layers_dims={d}", lambda rng, d=d: (list(d),)) for d in dims_list]

    def bwd(m):
        def make(rng):
            X = rng.standard_normal((2, m))
            _, cache = ref.forward_propagation(X, _params([2, 10, 5, 1], rng))
            return (X, _labels(rng, m), cache)

        return make

    def bwd_inconsistent(m, boolean=False):
        def make(rng):
            dims, c = [2, 10, 5, 1], []
            for l in range(1, 4):
                z = rng.standard_normal((dims[l], m))  # a's sign pattern is not z's
                a = np.maximum(rng.standard_normal((dims[l], m)), 0) if l < 3 else _probs(rng, m)
                c += [z, a, rng.standard_normal((dims[l], dims[l - 1])), rng.standard_normal((dims[l], 1))]
            Y = _labels(rng, m)
            return (rng.standard_normal((2, m)), Y > 0 if boolean else Y, tuple(c))

        return make

    def upd(rng):
        X, p = rng.standard_normal((2, 6)), _params([2, 10, 5, 1], rng)
        _, cache = ref.forward_propagation(X, p)
        return (p, ref.backward_propagation(X, _labels(rng, 6), cache), 0.05)

    return {
        "sigmoid": [("x (3, 4)", lambda rng: (rng.standard_normal((3, 4)),))],
        "relu": [("x (3, 4)", lambda rng: (rng.standard_normal((3, 4)),))],
        "forward_propagation": [
            (
                f"X (2, {m}), parameters 2-10-5-1",
                lambda rng, m=m: (rng.standard_normal((2, m)), _params([2, 10, 5, 1], rng)),
            )
            for m in (4, 1)
        ],
        "compute_loss": [
            (f"a3 (1, {m}), Y (1, {m})", lambda rng, m=m: (_probs(rng, m), _labels(rng, m))) for m in (3, 1)
        ]
        + [("a3 (1, 4) with outputs of exactly 0 and 1, Y (1, 4)", _saturated)],
        "backward_propagation": [(f"X (2, {m}), Y (1, {m}), cache of 2-10-5-1", bwd(m)) for m in (4, 1)]
        + [
            (
                f"X (2, {m}), Y (1, {m}){' boolean' if b else ''}, and a cache {INCONSISTENT_INIT}",
                bwd_inconsistent(m, b),
            )
            for m, b in ((5, False), (1, False), (3, True))
        ],
        "update_parameters": [("parameters 2-10-5-1, grads, learning_rate=0.05", upd)],
        "predict_dec": [
            (
                f"parameters 2-10-5-1, X (2, {m})",
                lambda rng, m=m: (_params([2, 10, 5, 1], rng), rng.standard_normal((2, m))),
            )
            for m in (5, 1)
        ],
        "initialize_parameters_zeros": dims_cases(([3, 2, 1], [2, 10, 5, 1], [1, 1])),
        "initialize_parameters_random": dims_cases(([3, 2, 1], [2, 10, 5, 1], [1, 1])),
        "initialize_parameters_he": dims_cases(([2, 4, 1], [3, 2, 1], [2, 10, 5, 1])),
        "model": [
            (
                f"X (2, 20), Y (1, 20), num_iterations=30, initialization={init!r}",
                lambda rng, init=init: (rng.standard_normal((2, 20)), _labels(rng, 20), 0.01, 30, False, init),
            )
            for init in ("zeros", "random", "he")
        ],
        "predict": [
            (
                f"X (2, {m}), y (1, {m}), parameters 2-10-5-1",
                lambda rng, m=m: (rng.standard_normal((2, m)), _labels(rng, m), _params([2, 10, 5, 1], rng)),
            )
            for m in (5, 1)
        ],
    }


CASES: dict[str, Callable[[], dict[str, list[Case]]]] = {
    "planar": _planar_cases,
    "deep": _deep_cases,
    "initialization": _initialization_cases,
}


# ----------------------------------------------------------------------------- comparing
def compare(ref: object, got: object, where: str = "result") -> tuple[str | None, float]:
    """``(None, max_diff)`` when ``got`` equals ``ref`` to tolerance, else ``(message, max_diff)``."""
    if isinstance(ref, dict):
        if not isinstance(got, dict):
            return f"{where}: expected a dict, got {type(got).__name__}", np.inf
        missing, extra = sorted(set(ref) - set(got)), sorted(set(got) - set(ref))
        if missing or extra:
            parts = ([f"missing keys {missing}"] if missing else []) + ([f"unexpected keys {extra}"] if extra else [])
            return f"{where}: {'; '.join(parts)}", np.inf
        worst = 0.0
        for k in ref:
            msg, d = compare(ref[k], got[k], f"{where}[{k!r}]")
            if msg:
                return msg, d
            worst = max(worst, d)
        return None, worst
    if isinstance(ref, (tuple, list)):
        if not isinstance(got, (tuple, list)) or len(got) != len(ref):
            n = len(got) if isinstance(got, (tuple, list)) else type(got).__name__
            return f"{where}: expected {len(ref)} values, got {n}", np.inf
        worst = 0.0
        for i, (r, g) in enumerate(zip(ref, got, strict=True)):
            msg, d = compare(r, g, f"{where}[{i}]")
            if msg:
                return msg, d
            worst = max(worst, d)
        return None, worst
    r = np.asarray(ref)
    try:
        g = np.asarray(got, dtype=np.float64) if r.dtype != object else np.asarray(got)
    except (TypeError, ValueError):
        return f"{where}: expected numbers, got {type(got).__name__}", np.inf
    if r.dtype.kind in "UO" or g.dtype.kind in "UO":
        return (None, 0.0) if np.array_equal(r, g) else (f"{where}: expected {ref!r}, got {got!r}", np.inf)
    if r.shape != g.shape:
        return f"{where}: expected shape {r.shape}, got shape {g.shape}", np.inf
    r = r.astype(np.float64)
    both_inf = np.isinf(r) & (r == g)
    with np.errstate(invalid="ignore"):
        diff = np.where(both_inf, 0.0, np.abs(r - g))
    worst = float(np.max(diff, initial=0.0, where=~np.isnan(diff)))
    if np.isnan(r).any() or np.isnan(g).any():
        if not np.array_equal(np.isnan(r), np.isnan(g)):
            return f"{where}: NaN where the reference has none (or the other way)", np.inf
    if not np.all((diff <= ATOL + RTOL * np.abs(r)) | np.isnan(r)):
        return f"{where}: values differ, largest difference {worst:.3g}", worst
    return None, worst


# ------------------------------------------------------------------------------ checking
@dataclass(frozen=True)
class FunctionResult:
    """One function's verdict: status is "ok", "differs", "raised" or "missing"."""

    name: str
    status: str
    input: str = ""
    detail: str = ""
    max_abs_diff: float | None = None


@dataclass(frozen=True)
class CheckReport:
    """All verdicts for one learner file; ``ok`` when every present function agrees."""

    file: str
    module: str
    results: list[FunctionResult]

    @property
    def ok(self) -> bool:
        return all(r.status in ("ok", "missing") for r in self.results)

    def to_dict(self) -> dict:
        return {"file": self.file, "module": self.module, "ok": self.ok, "results": [asdict(r) for r in self.results]}


def guess_module(learner: ModuleType) -> str:
    """The notebook whose function names the file shares most."""
    counts = {m: sum(callable(getattr(learner, f, None)) for f in CASES[m]()) for m in CASES}
    best = max(counts, key=counts.get)
    if counts[best] == 0:
        raise InitlabError(f"the file defines none of the course's functions (looked for those of {', '.join(CASES)})")
    return best


def _call(fn: Callable, args: tuple) -> object:
    # NumPy's warnings (log(0) on a saturated output) are the course's too: not the learner's fault
    with contextlib.redirect_stdout(io.StringIO()), np.errstate(all="ignore"):
        np.random.seed(1)  # functions that draw without seeding draw the same numbers
        return fn(*copy.deepcopy(args))


def check(path: str | Path, module: str | None = None, *, seed: int = 0) -> CheckReport:
    """Compare the learner's course functions in ``path`` with initlab's reference."""
    if module is not None and module not in CASES:
        raise unknown("course module", module, list(CASES))
    learner = import_file(path)
    module = module or guess_module(learner)
    reference = MODULES[module]
    results = []
    state = np.random.get_state()
    try:
        for name, cases in CASES[module]().items():
            fn = getattr(learner, name, None)
            if not callable(fn):
                results.append(FunctionResult(name, "missing"))
                continue
            results.append(_check_function(name, fn, getattr(reference, name), cases, seed, str(path)))
    finally:
        np.random.set_state(state)
    return CheckReport(str(path), module, results)


def _check_function(
    name: str, fn: Callable, ref: Callable, cases: list[Case], seed: int, file: str = "the file"
) -> FunctionResult:
    worst = 0.0
    for k, (label, make) in enumerate(cases):
        args = make(np.random.default_rng([seed, k]))
        expected = _call(ref, args)
        try:
            with user_code(f"{name} in {file}", exceptions=False):  # exiting is an error, not a result
                got = _call(fn, args)
        except UserCodeError:
            raise
        except Exception as e:  # the learner's code
            line = str(e).strip().splitlines()[0] if str(e).strip() else ""
            return FunctionResult(name, "raised", label, f"{type(e).__name__}: {line}")
        msg, d = compare(expected, got)
        if msg:
            return FunctionResult(name, "differs", label, msg, None if np.isinf(d) else d)
        worst = max(worst, d)
    return FunctionResult(name, "ok", f"{len(cases)} inputs", "", worst)


def main_text(report: CheckReport) -> str:
    """The report as lines for a terminal."""
    lines = [f"{report.file}: checked against initlab.course.{report.module}"]
    for r in report.results:
        if r.status == "ok":
            lines.append(f"  ok       {r.name}  ({r.input}, largest difference {r.max_abs_diff:.1e})")
        elif r.status == "missing":
            lines.append(f"  missing  {r.name}")
        else:
            lines.append(f"  {r.status:<8} {r.name}  on {r.input}: {r.detail}")
    n_ok = sum(r.status == "ok" for r in report.results)
    n_present = sum(r.status != "missing" for r in report.results)
    lines.append(f"{n_ok} of {n_present} functions agree" + ("" if report.ok else ": fix the others"))
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    print(main_text(check(sys.argv[1])))
