"""Losses, each with its gradient with respect to the output layer's ``Z[L]``.

Costs are averaged over the ``m`` examples (axis -1) and summed over output units (axis -2):
shape ``()`` for one network, ``(E,)`` for an ensemble. Gradients are per example
(``dZ[L]: (n_y, m)``); the ``1/m`` is applied once, in the linear backward step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from initlab.nn.activations import Activation


def _mean_over_examples(per_unit: np.ndarray) -> np.ndarray:
    m = per_unit.shape[-1]
    return per_unit.sum(axis=(-2, -1)) / m


def bce_cost(Z: np.ndarray, A: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Binary cross-entropy ``-(1/m) sum(Y log A + (1 - Y) log(1 - A))``, with ``A = sigmoid(Z)``.

    Computed from the logits as ``max(z, 0) - z y + log(1 + exp(-|z|))``: the same number, but
    never ``log(0)``, so never nan or inf however saturated the output.
    """
    return _mean_over_examples(np.maximum(Z, 0.0) - Z * Y + np.log1p(np.exp(-np.abs(Z))))


def bce_grad(Z: np.ndarray, A: np.ndarray, Y: np.ndarray, out: Activation) -> np.ndarray:
    """``dZ = A - Y`` (sigmoid and cross-entropy together)."""
    return A - Y


def bce_cost_from_probabilities(A: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """The course's formula as written, from the probabilities:
    ``-(1/m) nansum(Y log A + (1 - Y) log(1 - A))``.

    Where an output has saturated to exactly 0 or 1 this is ``inf`` (the course prints
    "Cost after iteration 0: inf" for its large random init); `bce_cost` is the stable form.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        logprobs = Y * np.log(A) + (1 - Y) * np.log(1 - A)
    m = A.shape[-1]
    return -np.nansum(logprobs, axis=(-2, -1)) / m


def softmax_ce_cost(Z: np.ndarray, A: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """``-(1/m) sum_k Y_k log softmax(Z)_k = (1/m) sum(logsumexp(Z) - sum_k Y_k Z_k)``, stable."""
    zmax = Z.max(axis=-2, keepdims=True)
    lse = zmax + np.log(np.exp(Z - zmax).sum(axis=-2, keepdims=True))
    return _mean_over_examples(Y * (lse - Z))


def mse_cost(Z: np.ndarray, A: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """``(1 / 2m) sum ||A - Y||^2``."""
    return _mean_over_examples(0.5 * (A - Y) ** 2)


def mse_grad(Z: np.ndarray, A: np.ndarray, Y: np.ndarray, out: Activation) -> np.ndarray:
    """``dZ = (A - Y) * g'(Z)``."""
    return (A - Y) * out.grad(Z)


@dataclass(frozen=True)
class Loss:
    """A cost and its ``dZ[L]``; ``outputs`` lists the output activations it accepts."""

    name: str
    cost: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
    grad: Callable[[np.ndarray, np.ndarray, np.ndarray, Activation], np.ndarray]
    outputs: tuple[str, ...]
    formula: str


LOSSES: dict[str, Loss] = {
    l.name: l
    for l in [
        Loss("binary_cross_entropy", bce_cost, bce_grad, ("sigmoid",), "-(1/m) sum(y log a + (1 - y) log(1 - a))"),
        Loss("cross_entropy", softmax_ce_cost, bce_grad, ("softmax",), "-(1/m) sum_k y_k log a_k"),
        Loss(
            "mse", mse_cost, mse_grad, ("identity", "sigmoid", "tanh", "relu", "leaky_relu"), "(1/2m) sum ||a - y||^2"
        ),
    ]
}

#: The loss an output activation gets when none is named.
DEFAULT_LOSS = {"sigmoid": "binary_cross_entropy", "softmax": "cross_entropy", "identity": "mse"}


def output_and_loss(output: str | None, loss: str | None, n_out: int) -> tuple[str, Loss]:
    """The one rule for a network's output and loss, from ``n_out`` output units: ``output``
    defaults to sigmoid for one unit and softmax for more; ``loss`` to the output's
    (`DEFAULT_LOSS`); the loss must accept the output, and a softmax needs 2 units or more.
    `Network` and `initlab.experiments.run.RunConfig` both ask it."""
    from initlab.errors import InitlabError, unknown
    from initlab.nn.activations import ACTIVATIONS

    if output is None:
        output = "sigmoid" if n_out == 1 else "softmax"
    if output not in ACTIVATIONS:
        raise unknown("output activation", output, list(ACTIVATIONS))
    output = ACTIVATIONS[output].name  # the table's one name: SIGMOID is sigmoid
    name = loss or DEFAULT_LOSS.get(output)
    if name is None:
        raise InitlabError(f"output {output!r} has no default loss: name one of {list(LOSSES)}")
    if name not in LOSSES:
        raise unknown("loss", name, list(LOSSES))
    if output not in LOSSES[name].outputs:
        use = " or ".join(LOSSES[name].outputs)
        raise InitlabError(f"loss {name!r} does not go with output {output!r}: use output {use}")
    if output == "softmax" and n_out < 2:
        raise InitlabError("a softmax output needs at least 2 units; use sigmoid for 1")
    return output, LOSSES[name]
