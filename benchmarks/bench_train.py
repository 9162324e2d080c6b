"""Training throughput in net-iterations per second: initlab against its peers, in one run.

Work: the course's circles network 2-10-5-1 (ReLU, ReLU, sigmoid; binary cross-entropy),
300 examples, full-batch gradient descent, float64, He initialization. Peers, each on the same
work: scikit-learn's MLPClassifier (sgd, full batch, momentum 0, alpha 0), the plain NumPy
course code, PyTorch, all one network at a time; and PyTorch ``torch.func`` ensembles
(``stack_module_state`` + ``vmap``). Every peer's final cost is printed beside ours so it is
clear each really trained. Also: attained GFLOP/s against the float64 GEMM peak measured here
(2 * n_in * n_out * m per product, three products per layer per iteration).

Run: ``make bench`` (or ``python benchmarks/bench_train.py [--quick]``).
"""

from __future__ import annotations

import os
import platform
import sys
import time
import warnings

import numpy as np

from initlab import data
from initlab.nn import Network

LAYERS = [2, 10, 5, 1]
LR = 0.01
FLOP_PER_NET_IT = 3 * sum(2 * a * b * 300 for a, b in zip(LAYERS[:-1], LAYERS[1:], strict=True))


def timed(fn, min_seconds: float = 1.0) -> tuple[float, object]:
    """Seconds per call (best of repeated calls for at least min_seconds) and the last result."""
    best, spent, out = np.inf, 0.0, None
    while spent < min_seconds:
        t = time.perf_counter()
        out = fn()
        dt = time.perf_counter() - t
        best, spent = min(best, dt), spent + dt
    return best, out


def gemm_peak() -> float:
    """float64 GEMM GFLOP/s on this machine (best of a few 2048^3 products)."""
    n = 2048
    a, b = np.random.default_rng(0).standard_normal((2, n, n))
    t, _ = timed(lambda: a @ b, 2.0)
    return 2 * n**3 / t / 1e9


def course_numpy(X, Y, iterations, seed):
    """The course's own two-hidden-layer code, written out (relu, relu, sigmoid)."""
    rng = np.random.default_rng(seed)
    p = {}
    for l in range(1, 4):
        p[f"W{l}"] = rng.standard_normal((LAYERS[l], LAYERS[l - 1])) * np.sqrt(2 / LAYERS[l - 1])
        p[f"b{l}"] = np.zeros((LAYERS[l], 1))
    m = X.shape[1]
    for _ in range(iterations):
        z1 = p["W1"] @ X + p["b1"]
        a1 = np.maximum(z1, 0)  # noqa: E702
        z2 = p["W2"] @ a1 + p["b2"]
        a2 = np.maximum(z2, 0)  # noqa: E702
        z3 = p["W3"] @ a2 + p["b3"]
        a3 = 1 / (1 + np.exp(-z3))  # noqa: E702
        dz3 = a3 - Y
        dW3 = dz3 @ a2.T / m
        db3 = dz3.sum(1, keepdims=True) / m  # noqa: E702
        dz2 = (p["W3"].T @ dz3) * (a2 > 0)
        dW2 = dz2 @ a1.T / m
        db2 = dz2.sum(1, keepdims=True) / m  # noqa: E702
        dz1 = (p["W2"].T @ dz2) * (a1 > 0)
        dW1 = dz1 @ X.T / m
        db1 = dz1.sum(1, keepdims=True) / m  # noqa: E702
        for k, g in (("W1", dW1), ("b1", db1), ("W2", dW2), ("b2", db2), ("W3", dW3), ("b3", db3)):
            p[k] -= LR * g
    a3 = 1 / (
        1 + np.exp(-(p["W3"] @ np.maximum(p["W2"] @ np.maximum(p["W1"] @ X + p["b1"], 0) + p["b2"], 0) + p["b3"]))
    )
    return float(-np.mean(Y * np.log(a3) + (1 - Y) * np.log(1 - a3)))


def sklearn_mlp(X, Y, iterations, seed):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier(
        hidden_layer_sizes=(10, 5),
        activation="relu",
        solver="sgd",
        batch_size=X.shape[1],
        learning_rate_init=LR,
        momentum=0.0,
        alpha=0.0,
        max_iter=iterations,
        shuffle=False,
        tol=0.0,
        n_iter_no_change=10**9,
        random_state=seed,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X.T, Y.ravel())
    return float(clf.loss_curve_[-1])


def _torch_model(torch, seed):
    torch.manual_seed(seed)
    nn = torch.nn
    m = nn.Sequential(nn.Linear(2, 10), nn.ReLU(), nn.Linear(10, 5), nn.ReLU(), nn.Linear(5, 1)).double()
    for layer in m:
        if isinstance(layer, nn.Linear):
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
            nn.init.zeros_(layer.bias)
    return m


def torch_single(X, Y, iterations, seed):
    import torch

    m = _torch_model(torch, seed)
    x, y = torch.from_numpy(X.T.copy()), torch.from_numpy(Y.T.copy())
    opt = torch.optim.SGD(m.parameters(), lr=LR)
    lossf = torch.nn.BCEWithLogitsLoss()
    for _ in range(iterations):
        opt.zero_grad()
        loss = lossf(m(x), y)
        loss.backward()
        opt.step()
    with torch.no_grad():
        return float(lossf(m(x), y))


def torch_vmap(X, Y, iterations, E, seed):
    import torch
    from torch.func import functional_call, grad, stack_module_state, vmap

    models = [_torch_model(torch, seed + k) for k in range(E)]
    params, buffers = stack_module_state(models)
    base = _torch_model(torch, seed).to("meta")
    x, y = torch.from_numpy(X.T.copy()), torch.from_numpy(Y.T.copy())
    lossf = torch.nn.functional.binary_cross_entropy_with_logits

    def loss(p, b):
        return lossf(functional_call(base, (p, b), (x,)), y)

    g = vmap(grad(loss))
    for _ in range(iterations):
        grads = g(params, buffers)
        params = {k: v - LR * grads[k] for k, v in params.items()}
    return float(vmap(loss)(params, buffers).mean().detach())


def main() -> None:
    quick = "--quick" in sys.argv
    ds = data.load("circles")
    X, Y = ds.X_train, ds.Y_train
    its = 300 if quick else 2000
    E = 1024
    try:
        import torch

        torch.set_num_threads(os.cpu_count() or 1)
        has_torch = True
    except ImportError:
        has_torch = False
    peak = gemm_peak()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}, "
        f"numpy {np.__version__}" + (f", torch {torch.__version__}" if has_torch else "")
    )
    print(f"float64 GEMM peak measured now: {peak:.1f} GFLOP/s")
    print(
        f"work: circles {LAYERS} (relu, relu, sigmoid), m=300, full batch, float64; "
        f"{FLOP_PER_NET_IT / 1e3:.0f} kFLOP per net-iteration\n"
    )
    rows = []
    n_ens = max(20, its // 10)
    print("Kernel-only rows below time fit(..., record_every=N), one cost record a run.")
    torch_rows = []
    if has_torch:  # first, before numba's threads exist, so the peer is measured at its best
        torch_single(X, Y, 5, 0)  # warm-up: the first call pays PyTorch's start-up
        t, cost = timed(lambda: torch_single(X, Y, its // 2, 0))
        torch_rows.append(("PyTorch, one at a time", (its // 2) / t, cost, its // 2))
        n_vm = max(10, n_ens // 4)
        torch_vmap(X, Y, 2, E, 0)
        t, cost = timed(lambda: torch_vmap(X, Y, n_vm, E, 0))
        torch_rows.append((f"PyTorch torch.func vmap, ensemble of {E}", E * n_vm / t, cost, n_vm))

    def ours(E, n, engine):
        net = Network(LAYERS, hidden="relu", init="he", seed=0, ensemble=E)
        h = net.fit(X, Y, lr=LR, iterations=n, engine=engine, record_every=n)
        return float(np.mean(h.final_cost))

    def readme_call(n):
        """The call the README shows, with its defaults (about 200 cost records, engine auto)."""
        net = Network(LAYERS, hidden="relu", init="he", seed=0, ensemble=E)
        return float(np.mean(net.fit(X, Y, lr=LR, iterations=n).final_cost))

    readme_call(2)  # compile (or load the cached kernel)
    default_rows = []
    for n in (30, 300, 3000):
        t, cost = timed(lambda n=n: readme_call(n))
        t_sk, _ = timed(lambda n=n: sklearn_mlp(X, Y, n, 0))
        default_rows.append((n, E * n / t, n / t_sk, cost))
    t, cost = timed(lambda: ours(E, n_ens, "fast"))
    rows.append((f"initlab fast engine, ensemble of {E}", E * n_ens / t, cost, n_ens))
    t, cost = timed(lambda: ours(E, max(5, n_ens // 4), "reference"))
    rows.append((f"initlab NumPy reference, ensemble of {E}", E * max(5, n_ens // 4) / t, cost, max(5, n_ens // 4)))
    t, cost = timed(lambda: ours(None, its, "reference"))
    rows.append(("initlab, one network", its / t, cost, its))
    t, cost = timed(lambda: course_numpy(X, Y, its, 0))
    rows.append(("plain NumPy course code, one at a time", its / t, cost, its))
    sklearn_mlp(X, Y, 5, 0)  # warm-up
    t, cost = timed(lambda: sklearn_mlp(X, Y, its, 0))
    sk = its / t
    rows.append(("scikit-learn MLPClassifier, one at a time", sk, cost, its))
    rows += torch_rows
    vm = torch_rows[-1][1] if torch_rows else None

    print(
        f"The README's call, defaults: Network({LAYERS}, hidden='relu', init='he', seed=0, "
        f"ensemble={E}).fit(X, Y, lr={LR}, iterations=N)"
    )
    print(f"{'N':>6}{'net-it/s':>11}{'scikit-learn net-it/s':>23}{'x sklearn':>11}{'final cost':>12}")
    for n, rate, sk_rate, cost in default_rows:
        print(f"{n:>6}{rate:>11,.0f}{sk_rate:>23,.0f}{rate / sk_rate:>10.1f}x{cost:>12.4f}")
    print("(goal: at least 50x scikit-learn at N = 300)\n")
    print(f"{'':46}{'net-it/s':>11}{'GFLOP/s':>9}{'x sklearn':>11}{'iterations':>11}{'final cost':>12}")
    for name, rate, cost, n in rows:
        print(f"{name:46}{rate:>11,.0f}{rate * FLOP_PER_NET_IT / 1e9:>9.2f}{rate / sk:>10.1f}x{n:>11}{cost:>12.4f}")
    fast_rate = rows[0][1]
    print()
    print(f"initlab fast / scikit-learn: {fast_rate / sk:.1f}x   (goal 50x)")
    if vm:
        print(f"initlab fast / torch.func vmap: {fast_rate / vm:.1f}x   (goal 10x)")
    print(
        f"initlab fast attains {fast_rate * FLOP_PER_NET_IT / 1e9:.1f} GFLOP/s = "
        f"{100 * fast_rate * FLOP_PER_NET_IT / 1e9 / peak:.0f}% of the measured GEMM peak   (goal 30%)"
    )
    print(
        "(final costs differ between rows with different iteration counts; rows with the same "
        "count start from He weights of different generators, so they agree in magnitude, not digits)"
    )


if __name__ == "__main__":
    main()
