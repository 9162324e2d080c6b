"""initlab: neural-network weight initialization, measured.

``import initlab`` needs NumPy only; plotting, PyTorch and the rest load where they are used.
"""

from initlab import initializers
from initlab.diagnose import saturation, symmetry
from initlab.errors import InitlabError
from initlab.initializers import initialize_parameters, initialize_parameters_deep
from initlab.nn import History, Network, gradient_check

__version__ = "0.1.0"

__all__ = [
    "History", "InitlabError", "Network", "gradient_check", "initialize_parameters",
    "initialize_parameters_deep", "initializers", "saturation", "symmetry",
]
