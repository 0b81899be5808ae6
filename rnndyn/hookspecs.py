"""The plugin contract: every hook an rnndyn plugin may implement.

A plugin is a module (found through the entry-point group ``rnndyn``) holding
functions decorated with :data:`hookimpl` whose names match the specs below.
The core never imports a deep-learning framework; adapters do, lazily.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import numpy as np

    from .adapter import Adapter
    from .trajectories import Trajectories

__all__ = ["hookspec", "hookimpl"]

hookspec = pluggy.HookspecMarker("rnndyn")
hookimpl = pluggy.HookimplMarker("rnndyn")


@hookspec(firstresult=True)
def rnndyn_claim_model(model: Any) -> Adapter | None:
    """Return an :class:`~rnndyn.adapter.Adapter` for ``model``, or ``None``.

    Called by :func:`rnndyn.capture` with the user's model; the first plugin
    that returns an adapter wins (``firstresult``). An implementation must not
    import its framework to decide: match by type only when the framework's
    module is already in :data:`sys.modules` (a model of that framework cannot
    exist otherwise).

    A model of the plugin's framework that cannot be captured at all (a Keras
    model that is not built, so it has no weights) may raise
    :class:`~rnndyn.RnndynError` saying what to do, rather than return
    ``None``: then the user reads that message instead of "no adapter claims
    this model".

    :param model: the object the user passed to :func:`rnndyn.capture`.
    :returns: an adapter bound to ``model``, or ``None`` if this plugin does
        not handle it.
    """


@hookspec(firstresult=True)
def rnndyn_load_model(path: str, framework: str | None) -> Any | None:
    """Load a model from a file for command-line and distributed use.

    The first plugin that recognises the file returns the model. Loading must
    never execute code from the file (``safe_mode=True`` for Keras,
    ``weights_only=True`` / safetensors for PyTorch).

    :param path: path of the saved model.
    :param framework: the framework the user asked for (e.g. ``"torch"``), or
        ``None`` to let each plugin decide from the file.
    :returns: the loaded model, or ``None`` if this plugin cannot load it.
    """


@hookspec
def rnndyn_register_metrics() -> dict[str, Callable[[Trajectories], np.ndarray]]:
    """Contribute extra per-unit metrics to :func:`rnndyn.summary.unit_summary`.

    Called once per summary; every plugin's answer is used (names must not
    clash).

    :returns: a mapping from a column name to a function that takes a
        :class:`~rnndyn.Trajectories` and returns one number per unit
        (an array of shape ``(n_units,)``).
    """
