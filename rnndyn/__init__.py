"""rnndyn: the dynamics of recurrent neural networks, measured as polymer chains.

>>> import numpy as np, rnndyn
>>> traj = rnndyn.Trajectories(np.cumsum(np.ones((2, 5, 1)), axis=1))
>>> rnndyn.metrics.msd(traj)[:, 0].round(9).tolist()
[0.0, 1.0, 4.0, 9.0, 16.0]
"""

from __future__ import annotations

from typing import Any

from . import metrics
from .errors import MissingExtraError, PluginError, RnndynError
from .steps import Steps
from .trajectories import Trajectories

__version__ = "0.1.0"

__all__ = [
    "Trajectories",
    "Steps",
    "RnndynError",
    "PluginError",
    "MissingExtraError",
    "metrics",
    "capture",
    "iter_capture",
    "layers",
    "Args",
    "list_plugins",
    "open_store",
]

# Heavier parts load on first use, so that `import rnndyn` stays fast.
_SUBMODULES = (
    "physics",
    "summary",
    "plugins",
    "plots",
    "report",
    "dynamics",
    "analysis",
    "stream",
    "distributed",
    "store",
)
_LAZY = {
    "capture": "._capture",
    "iter_capture": "._capture",
    "layers": "._capture",
    "Args": ".adapter",
    "list_plugins": ".plugins",
    "open_store": ".store",
}


def __getattr__(name: str) -> Any:
    import importlib

    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module 'rnndyn' has no attribute {name!r}")
