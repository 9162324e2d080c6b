"""Networks: activations, losses, forward/backward, gradient descent, `Network`."""

from initlab.nn.activations import ACTIVATIONS, HIDDEN, Activation
from initlab.nn.losses import LOSSES, Loss
from initlab.nn.network import (
    History,
    Network,
    backward,
    forward,
    gradient_check,
    linear_backward,
    linear_forward,
    update,
)

__all__ = [
    "ACTIVATIONS",
    "HIDDEN",
    "LOSSES",
    "Activation",
    "History",
    "Loss",
    "Network",
    "backward",
    "forward",
    "gradient_check",
    "linear_backward",
    "linear_forward",
    "update",
]
