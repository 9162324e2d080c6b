"""Training throughput in net-iterations per second, initlab against its peers, one run.

Work: the course's circles network 2-10-5-1 (ReLU, ReLU, sigmoid), 300 examples, full-batch
gradient descent. Peers: the plain NumPy course code and scikit-learn's MLPClassifier
(sgd, full batch, momentum 0, alpha 0), each one network at a time. Prints the final cost of
each beside ours, so that it is clear every peer really trained.
"""

from __future__ import annotations

import platform
import time
import warnings

import numpy as np

from initlab import data
from initlab.nn import Network

LAYERS = [2, 10, 5, 1]
LR = 0.01


def timed(fn, min_seconds: float = 1.0) -> tuple[float, object]:
    """Seconds per call (best of repeated calls for at least min_seconds) and the last result."""
    best, spent, out = np.inf, 0.0, None
    while spent < min_seconds:
        t = time.perf_counter()
        out = fn()
        dt = time.perf_counter() - t
        best, spent = min(best, dt), spent + dt
    return best, out


def course_numpy(X, Y, iterations, seed):
    """The course's own two-hidden-layer code, written out (relu, relu, sigmoid)."""
    rng = np.random.default_rng(seed)
    p = {}
    for l in range(1, 4):
        p[f"W{l}"] = rng.standard_normal((LAYERS[l], LAYERS[l - 1])) * np.sqrt(2 / LAYERS[l - 1])
        p[f"b{l}"] = np.zeros((LAYERS[l], 1))
    m = X.shape[1]
    for _ in range(iterations):
        z1 = p["W1"] @ X + p["b1"]; a1 = np.maximum(z1, 0)  # noqa: E702
        z2 = p["W2"] @ a1 + p["b2"]; a2 = np.maximum(z2, 0)  # noqa: E702
        z3 = p["W3"] @ a2 + p["b3"]; a3 = 1 / (1 + np.exp(-z3))  # noqa: E702
        dz3 = a3 - Y
        dW3 = dz3 @ a2.T / m; db3 = dz3.sum(1, keepdims=True) / m  # noqa: E702
        dz2 = (p["W3"].T @ dz3) * (a2 > 0)
        dW2 = dz2 @ a1.T / m; db2 = dz2.sum(1, keepdims=True) / m  # noqa: E702
        dz1 = (p["W2"].T @ dz2) * (a1 > 0)
        dW1 = dz1 @ X.T / m; db1 = dz1.sum(1, keepdims=True) / m  # noqa: E702
        for k, g in (("W1", dW1), ("b1", db1), ("W2", dW2), ("b2", db2), ("W3", dW3), ("b3", db3)):
            p[k] -= LR * g
    a3 = 1 / (1 + np.exp(-(p["W3"] @ np.maximum(p["W2"] @ np.maximum(p["W1"] @ X + p["b1"], 0)
                                                 + p["b2"], 0) + p["b3"])))
    return float(-np.mean(Y * np.log(a3) + (1 - Y) * np.log(1 - a3)))


def sklearn_mlp(X, Y, iterations, seed):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier(hidden_layer_sizes=(10, 5), activation="relu", solver="sgd",
                        batch_size=X.shape[1], learning_rate_init=LR, momentum=0.0, alpha=0.0,
                        max_iter=iterations, shuffle=False, tol=0.0, n_iter_no_change=10**9,
                        random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X.T, Y.ravel())
    return float(clf.loss_curve_[-1])


def main() -> None:
    ds = data.load("circles")
    X, Y = ds.X_train, ds.Y_train
    its = 2000
    print(f"machine: {platform.machine()} {platform.processor() or ''}, python "
          f"{platform.python_version()}, numpy {np.__version__}")
    print(f"work: circles {LAYERS}, m={X.shape[1]}, {its} full-batch iterations per network\n")
    rows = []

    t, cost = timed(lambda: Network(LAYERS, hidden="relu", init="he", seed=0)
                    .fit(X, Y, lr=LR, iterations=its).final_cost)
    rows.append(("initlab, one network", its / t, float(cost), its))
    for E in (64, 1024):
        t, cost = timed(lambda E=E: Network(LAYERS, hidden="relu", init="he", seed=0, ensemble=E)
                        .fit(X, Y, lr=LR, iterations=its // 10).final_cost)
        rows.append((f"initlab, ensemble of {E} (mean cost)", E * (its // 10) / t,
                     float(np.mean(cost)), its // 10))
    t, cost = timed(lambda: course_numpy(X, Y, its, 0))
    rows.append(("plain NumPy course code, one at a time", its / t, cost, its))
    t, cost = timed(lambda: sklearn_mlp(X, Y, its, 0))
    rows.append(("scikit-learn MLPClassifier, one at a time", its / t, cost, its))

    base = rows[-1][1]
    print(f"{'':44}{'net-it/s':>12}{'x sklearn':>11}{'iterations':>12}{'final cost':>12}")
    for name, rate, cost, n in rows:
        print(f"{name:44}{rate:>12,.0f}{rate / base:>10.1f}x{n:>12}{cost:>12.4f}")


if __name__ == "__main__":
    main()
