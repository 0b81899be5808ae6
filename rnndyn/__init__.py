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
from .trajectories import Trajectories

__version__ = "0.1.0"

__all__ = [
    "Trajectories",
    "RnndynError",
    "PluginError",
    "MissingExtraError",
    "metrics",
    "capture",
    "layers",
    "Args",
    "list_plugins",
]


def __getattr__(name: str) -> Any:
    # Heavier parts load on first use so that `import rnndyn` stays fast.
    import importlib

    if name in ("physics", "summary", "plugins", "plots", "report", "dynamics"):
        return importlib.import_module(f".{name}", __name__)
    if name == "capture":
        from .capture import capture

        globals()["capture"] = capture  # the function, not the module of the same name
        return capture
    if name == "layers":
        from .capture import layers

        return layers
    if name == "Args":
        from .adapter import Args

        return Args
    if name == "list_plugins":
        from .plugins import list_plugins

        return list_plugins
    raise AttributeError(f"module 'rnndyn' has no attribute {name!r}")
