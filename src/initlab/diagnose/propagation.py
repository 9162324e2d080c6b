"""Signal propagation, measured: how the variance of the signal and of the gradient changes layer
by layer, for one network or across an ensemble, beside the mean-field prediction.

``q`` below is the second moment ``mean(z^2)`` over units and examples: what mean-field theory
calls the variance of a pre-activation (its mean is 0 in expectation).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from initlab import initializers
from initlab.diagnose.members import check_member, member_of, pick, plain
from initlab.diagnose.saturation import _scalar, check_network
from initlab.errors import InitlabError, check_layer_dims
from initlab.nn import linear_forward
from initlab.nn.activations import ACTIVATIONS, HIDDEN


def _stats(values: float | np.ndarray) -> dict:
    """Ensemble statistics of one per-network quantity ``(E,)``: mean, SEM, spread of the log
    (one network: its value, 0, 0)."""
    v = np.atleast_1d(np.asarray(values, dtype=float))
    E = v.size
    logv = np.log(v[v > 0]) if (v > 0).any() else np.array([np.nan])
    return {
        "mean": float(v.mean()),
        "sem": float(v.std(ddof=1) / np.sqrt(E)) if E > 1 else 0.0,
        "log_spread": float(logv.std(ddof=1)) if logv.size > 1 else 0.0,
    }


@dataclass(frozen=True)
class LayerPropagation:
    """One layer: forward moments of ``Z[l]`` and ``A[l]``, backward second moment of ``dZ[l]``
    and of ``dW[l]``. Floats for one network; ``(E,)`` arrays for an ensemble (`stats` gives
    their mean, standard error and spread across the networks)."""

    layer: int
    z_mean: float | np.ndarray
    z_var: float | np.ndarray
    z_q: float | np.ndarray
    a_mean: float | np.ndarray
    a_var: float | np.ndarray
    grad_q: float | np.ndarray
    weight_grad_q: float | np.ndarray

    @property
    def ensemble(self) -> int | None:
        return None if np.ndim(self.z_q) == 0 else len(self.z_q)

    def member(self, k: int) -> LayerPropagation:
        """Network ``k``'s layer (an ensemble's)."""
        return member_of(self, check_member(self.ensemble, k), fixed=("layer",))

    def stats(self, name: str) -> dict:
        """``{"mean", "sem", "log_spread"}`` of one measurement across the networks: its mean,
        standard error and the standard deviation of its log (``stats("z_q")``)."""
        return _stats(getattr(self, name))

    def to_dict(self) -> dict:
        return {f.name: plain(getattr(self, f.name)) for f in fields(self)}


@dataclass(frozen=True)
class PropagationReport:
    """Every layer of one network, or of an ensemble of ``ensemble`` networks (each number then
    leads with an ``(E,)`` axis; `member` gives one network's report)."""

    layers: list[LayerPropagation]
    #: last layer's over first layer's: forward ``z_q``, backward ``grad_q``.
    forward_ratio: float | np.ndarray
    backward_ratio: float | np.ndarray
    ensemble: int | None = None

    def member(self, k: int) -> PropagationReport:
        """Network ``k``'s report: what `propagation` gives for that network alone."""
        k = check_member(self.ensemble, k)
        return PropagationReport(
            [x.member(k) for x in self.layers], pick(self.forward_ratio, k), pick(self.backward_ratio, k)
        )

    def to_dict(self) -> dict:
        return {
            "ensemble": self.ensemble,
            "layers": [x.to_dict() for x in self.layers],
            "forward_ratio": plain(self.forward_ratio),
            "backward_ratio": plain(self.backward_ratio),
        }


def _moments(layer: int, Z, A, dZ, dW) -> LayerPropagation:
    ax = (-2, -1)
    s = _scalar
    return LayerPropagation(
        layer,
        s(Z.mean(axis=ax)),
        s(Z.var(axis=ax)),
        s((Z * Z).mean(axis=ax)),
        s(A.mean(axis=ax)),
        s(A.var(axis=ax)),
        s((dZ * dZ).mean(axis=ax)),
        s((dW * dW).mean(axis=ax)),
    )


def propagation(net, X: np.ndarray, Y: np.ndarray | None = None, *, seed: int = 0) -> PropagationReport:
    """Per layer: mean and variance of ``Z[l]`` and ``A[l]`` on the forward pass, and the second
    moment of the gradients ``dZ[l]``, ``dW[l]`` on the backward pass. In a residual network
    (`initlab.nn.residual`) the input projection's and each block's last layer's ``Z`` is the
    stream ``S[b]`` after it, and its ``dZ`` the gradient reaching the stream there.

    With labels ``Y`` the backward pass starts from the loss; without, from a unit-variance
    Gaussian error signal at the output (seeded), which isolates how the network itself scales
    gradients. On an ensemble every number is ``(E,)`` and ``report.member(k)`` is network k's
    report; every network gets the same error signal (as it gets the same ``X``), so member k's
    numbers are those of ``net.member(k)`` alone.
    """
    check_network(net, "propagation")
    AL, cache = net.forward(X)
    if Y is None:
        dZ = np.broadcast_to(np.random.default_rng(seed).standard_normal(AL.shape[-2:]), AL.shape).copy()
    else:
        Y = net._check_Y(net._check_X(X), Y)
        dZ = net.loss.grad(cache[-1][1], AL, Y, net.activations[-1])
    grads = net._backward(net.params, cache, AL, Y, dZ_out=dZ)
    layout = getattr(net, "layout", None)
    stream = {} if layout is None else {l: b for b, l in enumerate(layout.stream_layers())}
    L = len(cache)
    layers = [None] * L
    for l in range(L, 0, -1):
        Z = cache[l - 1][1]
        A = net.activations[l - 1].fn(Z)
        if l < L:
            dZ = grads[f"dA{l}"] * net.activations[l - 1].grad(Z)
        if l in stream:  # a residual network's stream: its own size and the gradient reaching it
            Z, dZ = cache.streams[stream[l]], grads[f"dS{stream[l]}"]
        layers[l - 1] = _moments(l, Z, A, dZ, grads[f"dW{l}"])
    with np.errstate(divide="ignore", invalid="ignore"):  # a zero network's ratios are nan, said plainly
        forward = _scalar(np.divide(layers[-1].z_q, layers[0].z_q))
        backward = _scalar(np.divide(layers[-1].grad_q, layers[0].grad_q))
    return PropagationReport(layers, forward, backward, ensemble=net.ensemble)


# ------------------------------------------------------------- a large ensemble, streamed
@dataclass
class EnsembleMeasurement:
    """An ensemble's forward and backward pass beside the mean-field prediction, per layer.

    ``z_q``: ``(E, L)`` measured ``mean(z^2)`` per network and layer; ``grad_q`` likewise for
    ``dZ``; ``predicted_z_q``, ``predicted_grad_q``: ``(L,)``; ``log_sqnorm``: ``(E, m)``,
    ``log ||z_L(x)||^2`` per network and input.
    """

    config: dict
    z_q: np.ndarray
    grad_q: np.ndarray
    predicted_z_q: np.ndarray
    predicted_grad_q: np.ndarray
    log_sqnorm: np.ndarray

    def layer_table(self) -> list[dict]:
        rows = []
        E = self.z_q.shape[0]
        for l in range(self.z_q.shape[1]):
            zq, gq = self.z_q[:, l], self.grad_q[:, l]
            rows.append(
                {
                    "layer": l + 1,
                    "predicted_q": float(self.predicted_z_q[l]),
                    "mean_q": float(zq.mean()),
                    "sem_q": float(zq.std(ddof=1) / np.sqrt(E)) if E > 1 else 0.0,
                    "log_spread_q": float(np.log(zq).std(ddof=1)) if E > 1 else 0.0,
                    "one_network_q": float(zq[0]),
                    "predicted_grad_q": float(self.predicted_grad_q[l]),
                    "mean_grad_q": float(gq.mean()),
                    "one_network_grad_q": float(gq[0]),
                }
            )
        return rows

    def spread(self) -> float:
        """Measured variance across networks of ``log ||z_L(x)||^2`` (averaged over inputs)."""
        return float(self.log_sqnorm.var(axis=0, ddof=1).mean())

    def to_dict(self) -> dict:
        from initlab import theory

        pred = (
            theory.finite_width_spread([self.config["width"]] * self.config["depth"])
            if self.config["activation"] == "relu"
            else None
        )
        return {
            "config": self.config,
            "layers": self.layer_table(),
            "finite_width": {"measured_spread": self.spread(), "predicted_spread": pred},
        }


def measure_ensemble(
    *,
    depth: int,
    width: int,
    activation: str = "relu",
    init: str = "he",
    sigma_b2: float = 0.0,
    networks: int = 64,
    batch: int = 4,
    n_in: int | None = None,
    seed: int = 0,
    backward: bool = True,
) -> EnsembleMeasurement:
    """Build ``networks`` MLPs of ``depth`` layers of ``width`` units (leading ensemble axis),
    run a forward and a backward pass on a batch of ``batch`` Gaussian inputs, and put the
    mean-field prediction beside the measurement. Trains nothing.

    Weights are drawn one layer at a time from that layer's own seeded stream and drawn again
    on the backward pass, so memory holds one layer's weights, not the whole ensemble's.
    Biases ``b ~ N(0, sigma_b2)``. The backward pass starts from a unit-variance Gaussian error
    at the last layer's pre-activation.
    """
    from initlab import theory

    activation = HIDDEN.canonical(activation, "activation")
    n_in = n_in or width
    check_layer_dims([n_in] + [width] * depth)
    if networks < 2:
        raise InitlabError(f"an ensemble needs at least 2 networks, got {networks}")
    sampler = initializers.get(init)
    g = ACTIVATIONS[activation]
    rng = np.random.default_rng([seed, 10**6])
    X = rng.standard_normal((n_in, batch))

    def layer(l: int, fan_in: int) -> tuple[np.ndarray, np.ndarray]:
        r = np.random.default_rng([seed, l])
        W = sampler((networks, width, fan_in), r)
        b = r.standard_normal((networks, width, 1)) * np.sqrt(sigma_b2) if sigma_b2 > 0 else 0.0
        return W, b

    z_q = np.empty((networks, depth))
    cache = []
    A = X
    for l in range(1, depth + 1):
        W, b = layer(l, A.shape[-2])
        Z = linear_forward(A, W, b)
        cache.append((A, Z))
        z_q[:, l - 1] = (Z * Z).mean(axis=(-2, -1))
        A = g.fn(Z)
        del W
    log_sqnorm = np.log((cache[-1][1] ** 2).sum(axis=-2))
    grad_q = np.full((networks, depth), np.nan)
    if backward:
        dZ = np.random.default_rng([seed, 10**6 + 1]).standard_normal(cache[-1][1].shape)
        for l in range(depth, 0, -1):
            A_prev, Z = cache[l - 1]
            grad_q[:, l - 1] = (dZ * dZ).mean(axis=(-2, -1))
            if l > 1:
                W, _ = layer(l, A_prev.shape[-2])
                dA_prev = W.swapaxes(-1, -2) @ dZ
                dZ = dA_prev * g.grad(cache[l - 2][1])
    t = sampler.theory((width, width))
    sigma_w2 = t["std"] ** 2 * t["fan_in"]
    q1 = sampler.theory((width, n_in))["std"] ** 2 * n_in * float((X * X).mean()) + sigma_b2
    predicted = theory.variance_by_layer(activation, sigma_w2, sigma_b2, q1, depth)
    # backward: each layer scales the gradient's second moment by sigma_w2 E[phi'(sqrt(q_l) z)^2]
    pg = np.empty(depth)
    pg[-1] = 1.0
    for l in range(depth - 1, 0, -1):
        pg[l - 1] = pg[l] * float(theory.chi1(activation, sigma_w2, sigma_b2, q=predicted[l - 1]))
    config = {
        "depth": depth,
        "width": width,
        "activation": activation,
        "init": init,
        "sigma_w2": sigma_w2,
        "sigma_b2": sigma_b2,
        "networks": networks,
        "batch": batch,
        "n_in": n_in,
        "seed": seed,
    }
    return EnsembleMeasurement(config, z_q, grad_q, predicted, pg, log_sqnorm)
