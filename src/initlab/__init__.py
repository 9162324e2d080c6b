"""initlab: neural-network weight initialization, measured.

``import initlab`` needs NumPy only; plotting, PyTorch and the rest load where they are used.
The subpackages below (and ``propagation``) load on first access (PEP 562), so
``import initlab`` then ``initlab.theory.critical_sigma_w2("relu")`` works as the docs write it
without making ``import initlab`` import them; ``initlab.torch`` imports PyTorch.
"""

import importlib

from initlab import initializers
from initlab.diagnose import saturation, symmetry
from initlab.errors import InitlabError
from initlab.initializers import initialize_parameters, initialize_parameters_deep
from initlab.nn import History, Network, gradient_check

__version__ = "0.1.0"

# name -> (module, attribute or None for the module itself), imported on first access
_LAZY = {
    "course": ("initlab.course", None),
    "dashboard": ("initlab.dashboard", None),
    "data": ("initlab.data", None),
    "experiments": ("initlab.experiments", None),
    "jacobian_spectrum": ("initlab.diagnose.jacobian", "jacobian_spectrum"),
    "propagation": ("initlab.diagnose.propagation", "propagation"),
    "report": ("initlab.report", None),
    "theory": ("initlab.theory", None),
    "torch": ("initlab.torch", None),
}

# the lazy names light enough for `from initlab import *` (torch, dashboard, ... stay out)
__all__ = [
    "History",
    "InitlabError",
    "Network",
    "gradient_check",
    "initialize_parameters",
    "initialize_parameters_deep",
    "initializers",
    "jacobian_spectrum",
    "propagation",
    "saturation",
    "symmetry",
    "theory",
]


def __getattr__(name: str):
    try:
        module, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'initlab' has no attribute {name!r}") from None
    value = importlib.import_module(module)
    if attribute is not None:
        value = getattr(value, attribute)
    globals()[name] = value  # the next access skips __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
