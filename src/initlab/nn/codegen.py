"""The unrolled kernel: Python source written for one network shape, compiled by numba.

Why generate code: the course's networks are tiny (2-10-5-1 has 75 weights), so a layer is
no matrix product worth the name, and a kernel with loops over units and inputs spends its
time loading and storing rows of activations (three memory operations per multiply-add).
Written out for one shape, every unit of every layer becomes a local variable, so
LLVM keeps them in vector registers: one loop over ``V`` lanes (networks) whose body is the
whole forward and backward pass for ``K`` examples at once, the loops over units and inputs
unrolled away. A weight is loaded once per tile of ``K`` examples, a gradient row loaded and
stored once per tile. Measured on the circles network, 1024 networks, 2 cores, kernel alone:
ReLU 440k-530k net-it/s against 130k for the looped kernel it replaced; tanh 186k against 66k.

Layout of one lane block (``V`` networks) in a flat float64 array ``s``: ``R`` rows of
parameters (each layer's ``W`` row-major, then each layer's ``b``), then ``R`` rows of their
gradients, then ``n_y K`` rows for the tile's output ``z`` and ``n_y K`` for a sigmoid output's
``exp(-|z|)`` (a recorded step sums the cost from them, in the kernel: a record costs no extra
forward pass and no NumPy pass over the ensemble);
row ``r`` of lane ``e`` is ``s[r * V + e]``. One array, constant offsets: LLVM
proves the rows never overlap, so it vectorizes with no run-time alias checks (with two
arrays it gives up: "too many memory checks").

Math, per example (column ``k``): ``z[l] = W[l] a[l-1] + b[l]``, ``a[l] = g(z[l])``;
``d[L] = (a[L] - y) * mask[k]`` (times ``g'`` for MSE); ``dW[l] += d[l] a[l-1]^T``,
``db[l] += d[l]``, ``d[l-1] = (W[l]^T d[l]) * g'(a[l-1])``; after all examples
``W -= lr * dW / m``. ``mask`` is 0 on the columns that pad ``m`` to a multiple of ``K``.
Each activation's ``g`` and ``g'`` come from its row of the activation table
(`initlab.nn.activations.Kernel`), which write them with `exp_minus` and `log1p_unit` (below)
and ``math`` (GELU's erfc); a row whose ``g'`` is no function of ``g`` keeps it per unit.

The source is written to ``~/.cache/initlab/kernels`` (``INITLAB_CACHE`` overrides; a
temporary folder when neither is writable) and compiled with numba's on-disk cache, so a
shape compiles once per machine (5-15 s), then loads in a fraction of a second. Writing and
compiling happen under a file lock, one process at a time.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import math
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from initlab.nn.activations import ACTIVATIONS, Kernel

V = 16  # lanes (networks) per block: the vectorized loop's trip count; LLVM treats 16 and more as a real loop
BUDGET = 1600  # most statements in one tile: compile time grows with it (about 8 s at 1,000)

_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_MAGIC = 6755399441055744.0  # 1.5 * 2^52: adding it rounds to an integer held in the low bits
_MAGIC_BITS = int(np.array([_MAGIC]).view(np.int64)[0])
_LOG2E = 1.4426950408889634
(_E2, _E3, _E4, _E5, _E6, _E7, _E8, _E9, _E10, _E11, _E12) = (1.0 / math.factorial(k) for k in range(2, 13))


def _kernels(acts: list[str]) -> list[Kernel]:
    """Each layer's `Kernel` row of the activation table."""
    return [ACTIVATIONS[a].kernel for a in acts]


def tile_size(dims: list[int], acts: list[str]) -> int:
    """Examples per tile (4, 2 or 1) for a shape, or 0 when even one example's written-out pass
    exceeds ``BUDGET`` statements (the NumPy path trains those)."""
    macs = sum(a * b for a, b in zip(dims[:-1], dims[1:], strict=True))
    back = sum(a * b for a, b in zip(dims[1:-1], dims[2:], strict=True))  # W^T d, not needed for layer 1
    extra = sum(n * k.statements for n, k in zip(dims[1:], _kernels(acts), strict=True))
    per_example = 2 * macs + back + extra + sum(dims)
    for k in (4, 2, 1):
        if k * per_example <= BUDGET:
            return k
    return 0


def activate(act: str, a: str) -> list[str]:
    """Statements setting ``a = g(z)`` from the local ``z`` (and ``g'`` beside it, for the rows
    that keep it: `Kernel.derivative_name`), from the activation table."""
    return ACTIVATIONS[act].kernel.forward_of(a)


_ELEMENTWISE: dict[tuple[str, bool], object] = {}


def elementwise(act: str, derivative: bool = False):
    """``g`` (or ``g'``) over a 1-D float64 array, compiled from the same statements the kernel is
    generated from (`activate`, `Kernel.grad_of`): what the kernel computes for one unit, to check
    against the NumPy ``fn`` (``grad``)."""
    key = (act, derivative)
    if key not in _ELEMENTWISE:
        from numba import njit

        body = "\n".join("        " + line for line in activate(act, "a"))
        value = (ACTIVATIONS[act].kernel.grad_of("a") or "1.0") if derivative else "a"
        text = (
            f"def g(zs):\n    out = np.empty_like(zs)\n    for i in range(zs.shape[0]):\n"
            f"        z = zs[i]\n{body}\n        out[i] = {value}\n    return out\n"
        )
        scope = {"np": np, "math": math, "exp_minus": exp_minus, "log1p_unit": log1p_unit, "log_pos": log_pos}
        exec(compile(text, f"<initlab kernel row: {act}>", "exec"), scope)  # noqa: S102 - our own table
        _ELEMENTWISE[key] = njit(fastmath={"contract"}, error_model="numpy")(scope["g"])
    return _ELEMENTWISE[key]


def cost_lines(n_y: int, out: str, loss: str, R: int, K: int) -> list[str]:
    """Statements that add one example's cost (lane ``e``, example ``t`` of the tile) to
    ``cst[e]``, from the output z the tile kept, as `initlab.nn.losses` writes each cost:
    binary cross-entropy ``max(z, 0) - z y + log1p(exp(-|z|))``; cross-entropy
    ``sum_i y_i (logsumexp(z) - z_i)``; MSE ``(g(z) - y)^2 / 2`` summed over outputs."""

    def z(i: int) -> str:
        return f"s[({2 * R} + {i} * {K} + t) * {V} + e]"

    def y(i: int) -> str:
        return f"Y[{i}, k0 + t]"

    lines = []
    if loss == "binary_cross_entropy":  # the tile kept u = exp(-|z|) after z
        for i in range(n_y):
            lines += [f"z = {z(i)}", f"cst[e] += max(z, 0.0) - z * {y(i)} + log1p_unit({z(n_y + i)})"]
    elif loss == "cross_entropy":
        lines.append(f"mx = {z(0)}")
        lines += [f"mx = max(mx, {z(i)})" for i in range(1, n_y)]
        lines.append("tot = " + " + ".join(f"exp_minus({z(i)} - mx, 0.0)" for i in range(n_y)))
        lines.append("lse = mx + log_pos(tot)")
        lines.append("cst[e] += " + " + ".join(f"{y(i)} * (lse - {z(i)})" for i in range(n_y)))
    else:
        for i in range(n_y):
            lines.append(f"z = {z(i)}")
            lines += activate(out, "a")
            lines.append(f"cst[e] += 0.5 * (a - {y(i)}) * (a - {y(i)})")
    return lines


def source(dims: list[int], acts: list[str], loss: str, K: int) -> str:
    """The module's source: ``tile(s, X, Y, M, k0)`` for examples ``k0 .. k0+K-1`` and
    ``train(X, Y, M, m, S, LR, iterations, C, rec)`` over blocks ``S: (nblk, (2 R + 2 n_y K) V)``,
    ``LR: (nblk, V)``, ``C: (nblk, len(rec), V)`` (the costs at the steps ``rec``).
    Activations are names in `initlab.nn.activations.ACTIVATIONS` (their ``kernel`` rows write
    the code), the loss a name in `initlab.nn.losses`."""
    L = len(dims) - 1
    woff, boff = [0], [0]
    for l in range(L):
        woff.append(woff[-1] + dims[l] * dims[l + 1])
        boff.append(boff[-1] + dims[l + 1])
    R = woff[-1] + boff[-1]
    lines: list[str] = []

    def emit(text: str, depth: int = 2) -> None:
        lines.append("    " * depth + text)

    def w(l: int, i: int, j: int, grad: bool = False) -> str:
        return f"s[{((R if grad else 0) + woff[l] + i * dims[l] + j) * V} + e]"

    def b(l: int, i: int, grad: bool = False) -> str:
        return f"s[{((R if grad else 0) + woff[L] + boff[l] + i) * V} + e]"

    # inputs and targets are the same for every lane: loaded once, before the lane loop
    for t in range(K):
        emit(f"mk{t} = M[k0 + {t}]", 1)
        for j in range(dims[0]):
            emit(f"a0_{j}_{t} = X[{j}, k0 + {t}]", 1)
        for i in range(dims[L]):
            emit(f"y{i}_{t} = Y[{i}, k0 + {t}]", 1)
    emit(f"for e in range({V}):", 1)
    # ---- forward
    for l in range(L):
        n_in, n_out, act = dims[l], dims[l + 1], acts[l]
        softmax = act == "softmax"  # the one activation that is not elementwise
        emit(f"# layer {l + 1}: z = W{l + 1} a{l} + b{l + 1}, a{l + 1} = g(z)")
        for i in range(n_out):
            for j in range(n_in):
                emit(f"w{j} = {w(l, i, j)}")
            emit(f"bi = {b(l, i)}")
            for t in range(K):
                z = " + ".join(f"w{j} * a{l}_{j}_{t}" for j in range(n_in))
                a = f"a{l + 1}_{i}_{t}"
                emit(f"z = bi + {z}" if not softmax else f"{a} = bi + {z}")
                if l == L - 1:  # the output's z, kept for the cost (train copies it out when asked)
                    emit(f"s[{(2 * R + i * K + t) * V} + e] = {'z' if not softmax else a}")
                for line in [] if softmax else activate(act, a):
                    emit(line)
                if l == L - 1 and loss == "binary_cross_entropy":
                    # the sigmoid output's u = exp(-|z|), kept: the cost's log1p(u) needs no second exp
                    emit(f"s[{(2 * R + (dims[L] + i) * K + t) * V} + e] = u")
        if softmax:  # over the layer's units, per example
            for t in range(K):
                units = [f"a{l + 1}_{i}_{t}" for i in range(n_out)]
                emit(f"mx = {units[0]}")
                for a in units[1:]:
                    emit(f"mx = max(mx, {a})")
                for a in units:
                    emit(f"{a} = exp_minus({a} - mx, 0.0)")
                emit("tot = " + " + ".join(units))
                for a in units:
                    emit(f"{a} = {a} / tot")
    # ---- output delta: a - y (cross-entropies with their matching output), times g' for MSE
    emit("# output delta")
    for t in range(K):
        for i in range(dims[L]):
            a = f"a{L}_{i}_{t}"
            grad = ACTIVATIONS[acts[L - 1]].kernel.grad_of(a) if loss == "mse" else None
            emit(f"d{L}_{i}_{t} = ({a} - y{i}_{t}) * mk{t}" + (f" * {grad}" if grad else ""))
    # ---- backward
    for l in range(L - 1, -1, -1):
        n_in, n_out = dims[l], dims[l + 1]
        emit(
            f"# layer {l + 1}: dW{l + 1} += d{l + 1} a{l}^T, db{l + 1} += d{l + 1}"
            + (f", d{l} = (W{l + 1}^T d{l + 1}) g'(a{l})" if l else "")
        )
        for i in range(n_out):
            emit(f"{b(l, i, True)} += " + " + ".join(f"d{l + 1}_{i}_{t}" for t in range(K)))
            for j in range(n_in):
                emit(f"{w(l, i, j, True)} += " + " + ".join(f"d{l + 1}_{i}_{t} * a{l}_{j}_{t}" for t in range(K)))
        if l == 0:
            continue
        kernel = ACTIVATIONS[acts[l - 1]].kernel
        for j in range(n_in):
            for i in range(n_out):
                emit(f"w{i} = {w(l, i, j)}")
            for t in range(K):
                emit("g = " + " + ".join(f"w{i} * d{l + 1}_{i}_{t}" for i in range(n_out)))
                emit(f"d{l}_{j}_{t} = {kernel.backprop_of('g', f'a{l}_{j}_{t}')}")
    header = (
        f'"""Generated by initlab.nn.codegen: layers {dims}, activations {acts}, '
        f'loss {loss}; {K} examples per tile, {V} lanes. Do not edit."""\n\n'
        f"# codegen.py {_SELF}: numba's cache does not see the functions this calls, so a\n"
        "# change to codegen.py makes a new file, not a stale kernel\n\n"
        "import math\n\nimport numpy as np\nfrom numba import njit, prange\n\n"
        "from initlab.nn.codegen import exp_minus, log1p_unit, log_pos\n\n\n"
        "@njit(cache=True, fastmath={'contract'}, error_model='numpy')\n"
        "def tile(s, X, Y, M, k0):\n"
    )
    cost = "\n".join(" " * 32 + c for c in cost_lines(dims[L], acts[L - 1], loss, R, K))
    train = f'''

@njit(cache=True, parallel=True, fastmath={{'contract'}})
def train(X, Y, M, m, S, LR, iterations, C, rec):
    """``iterations`` steps of full-batch gradient descent for every block of S (in place).
    At each step ``rec[j]`` (increasing step numbers, counted from 0 in this call) the mean
    cost at the parameters before that step's update goes to ``C[:, j]: (nblk, V)``, summed in
    the kernel from the output z of each tile while the step runs."""
    nblk = S.shape[0]
    inv_m = 1.0 / m
    nrec = rec.shape[0]
    for c in prange(nblk):
        s = S[c].copy()  # a private copy: measured 15% faster than working in S itself
        lr = LR[c]
        cst = np.zeros({V})
        j = 0
        for it in range(iterations):
            recording = j < nrec and rec[j] == it
            s[{R * V}:{2 * R * V}] = 0.0
            for k0 in range(0, X.shape[1], {K}):
                tile(s, X, Y, M, k0)
                if recording:
                    for t in range({K}):
                        if M[k0 + t] > 0.0:
                            for e in range({V}):
{cost}
            if recording:
                for e in range({V}):
                    C[c, j, e] = cst[e] * inv_m
                    cst[e] = 0.0
                j += 1
            for r in range({R}):
                for e in range({V}):
                    s[r * {V} + e] -= lr[e] * (s[({R} + r) * {V} + e] * inv_m)
        S[c, :{R * V}] = s[:{R * V}]
'''
    return header + "\n".join(lines) + "\n" + train


def cache_dir() -> Path:
    """Where generated kernels and numba's cache of them live."""
    base = os.environ.get("INITLAB_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "initlab"
    )
    for folder in (Path(base) / "kernels", Path(tempfile.gettempdir()) / f"initlab-kernels-{os.getuid()}"):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            if os.access(folder, os.W_OK):
                return folder
        except OSError:
            continue
    raise OSError("no writable folder for compiled kernels: set INITLAB_CACHE to one")


_LOADED: dict[str, object] = {}  # kernel modules of this process, by file
_SELF = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]  # this file's version, in each kernel


def _signature() -> tuple:
    """The argument types `Engine` calls ``train`` with (C-contiguous float64 arrays)."""
    from numba import types

    def arr(nd: int):
        return types.Array(types.float64, nd, "C")

    return (arr(2), arr(2), arr(1), types.int64, arr(2), arr(2), types.int64, arr(3), types.Array(types.int64, 1, "C"))


_BY_SHAPE: dict[tuple, object] = {}  # kernel modules of this process, by shape: no source rewritten


def load(dims: list[int], acts: list[str], loss: str):
    """The compiled module for a shape (written and compiled on first use; then from disk; then
    from this process's memory, without writing the source again: 45 ms for 2-10-5-1)."""
    shape = (tuple(dims), tuple(acts), loss)
    if shape in _BY_SHAPE:
        return _BY_SHAPE[shape]
    _BY_SHAPE[shape] = module = _load(dims, acts, loss)
    return module


def _load(dims: list[int], acts: list[str], loss: str):
    """`load` past this process's memory: the source, the file, numba's cache."""
    K = tile_size(dims, acts)
    if K == 0:
        raise ValueError(
            f"layers {dims} are too large to write out (more than {BUDGET} statements "
            "for one example); the NumPy path trains them"
        )
    text = source(dims, acts, loss, K)
    key = hashlib.sha256(text.encode()).hexdigest()[:16]
    path = cache_dir() / f"k_{key}.py"
    if str(path) in _LOADED:
        return _LOADED[str(path)]
    # one process at a time writes, compiles and caches a kernel (sweep workers start together;
    # numba's cache is not safe against two processes compiling the same function at once)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not path.exists() or path.read_text() != text:
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(text)
            os.replace(tmp, path)
        name = f"initlab_kernel_{key}"  # the same in every process: numba's cache records it
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        module.train.compile(_signature())  # from numba's cache when another process compiled it
    module.K = K
    _LOADED[str(path)] = module
    return module


try:
    from numba import njit
    from numba.core import types
    from numba.extending import intrinsic

    @intrinsic
    def f2i(typingctx, x):
        """The bits of a float64 as an int64 (a bitcast that LLVM vectorizes)."""

        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], context.get_value_type(types.int64))

        return types.int64(types.float64), codegen

    @intrinsic
    def i2f(typingctx, x):
        """The float64 whose bits are this int64."""

        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], context.get_value_type(types.float64))

        return types.float64(types.int64), codegen

    @njit(cache=True, fastmath={"contract"}, error_model="numpy")
    def exp_minus(x, minus):
        """exp(x) - minus for x <= 0 (minus 0: exp, 1: expm1), in SIMD-friendly arithmetic (libm's
        exp is a scalar call that stops LLVM vectorizing the loop around it).

        Cody-Waite reduction x = n ln2 + r, |r| <= ln2/2; expm1(r) by its Taylor series to r^12
        (truncation below 2e-16); 2^n built in the exponent bits with the 1.5 * 2^52 rounding
        trick; exp(x) - minus = 2^n expm1(r) + (2^n - minus), which keeps full relative precision
        of expm1 near 0. Below x = -708 it returns exp(-708) - minus. Measured against libm: at
        most 2.2e-16 relative."""
        v = max(x, -708.0)
        t = v * _LOG2E + _MAGIC
        n = t - _MAGIC
        r = (v - n * _LN2_HI) - n * _LN2_LO
        q = _E12
        q = q * r + _E11
        q = q * r + _E10
        q = q * r + _E9
        q = q * r + _E8
        q = q * r + _E7
        q = q * r + _E6
        q = q * r + _E5
        q = q * r + _E4
        q = q * r + _E3
        q = q * r + _E2
        q = q * r + 1.0
        p = i2f((f2i(t) - _MAGIC_BITS + 1023) << 52)
        return q * r * p + (p - minus)

    @njit(cache=True, fastmath={"contract"}, error_model="numpy")
    def two_atanh(s):
        """2 atanh(s) = log((1 + s) / (1 - s)) for |s| <= 0.1716, by its series
        2 (s + s^3/3 + ... + s^23/23) (truncation below 2e-17 relative)."""
        s2 = s * s
        p = 1.0 / 23.0
        p = p * s2 + 1.0 / 21.0
        p = p * s2 + 1.0 / 19.0
        p = p * s2 + 1.0 / 17.0
        p = p * s2 + 1.0 / 15.0
        p = p * s2 + 1.0 / 13.0
        p = p * s2 + 1.0 / 11.0
        p = p * s2 + 1.0 / 9.0
        p = p * s2 + 1.0 / 7.0
        p = p * s2 + 1.0 / 5.0
        p = p * s2 + 1.0 / 3.0
        return 2.0 * s * (1.0 + p * s2)

    @njit(cache=True, fastmath={"contract"}, error_model="numpy")
    def log_pos(x):
        """log(x) for a finite x >= 2^-1022, in SIMD-friendly arithmetic (libm's log is a scalar
        call). x = 2^k f with f in [sqrt(1/2), sqrt(2)); log f = 2 atanh(s), s = (f - 1) / (f + 1),
        |s| <= 0.1716, by its series to s^23 (truncation below 2e-17 relative); k ln 2 in two
        parts (Cody-Waite). Measured against libm: at most 2.2e-16 relative away from x = 1."""
        bits = f2i(x)
        k = (bits >> 52) - 1023
        f = i2f((bits & 0x000FFFFFFFFFFFFF) | 0x3FF0000000000000)
        if f > 1.4142135623730951:
            f = 0.5 * f
            k = k + 1
        kf = float(k)
        return kf * _LN2_HI + (kf * _LN2_LO + two_atanh((f - 1.0) / (f + 1.0)))

    @njit(cache=True, fastmath={"contract"}, error_model="numpy")
    def log1p_unit(u):
        """log(1 + u) for u in [0, 1], full relative precision for small u, one division:
        log(1 + u) = k ln 2 + 2 atanh(s) with s = u / (u + 2) (k = 0) below sqrt(2) - 1, else
        s = (u - 1) / (u + 3) (k = 1: log((1 + u) / 2)); |s| <= 0.1716, the series to s^23."""
        big = u > 0.41421356237309503
        k = 1.0 if big else 0.0
        return k * _LN2_HI + (k * _LN2_LO + two_atanh((u - 1.0) / (u + 3.0) if big else u / (u + 2.0)))
except ImportError:  # pragma: no cover - numba is optional
    pass
