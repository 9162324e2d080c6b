"""initlab on PyTorch models: apply any registry initializer, and audit a model's initialization.

Needs the ``torch`` extra (``pip install -e '.[torch]'``, PyTorch 2.13.0); ``import initlab``
never imports this package.
"""

from initlab.torch.audit import AuditReport, LayerAudit, audit, looks_like
from initlab.torch.coord import CoordCheck, coord_check
from initlab.torch.initialize import SUPPORTED, initialize, torch_fans

__all__ = [
    "SUPPORTED",
    "AuditReport",
    "CoordCheck",
    "LayerAudit",
    "audit",
    "coord_check",
    "initialize",
    "looks_like",
    "torch_fans",
]
