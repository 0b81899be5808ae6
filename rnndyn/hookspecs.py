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

    from ._cells import Cell
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
    """Load a saved model from ``path``, or return ``None``.

    Called by :func:`rnndyn.plugins.load_model` once it has checked that
    something exists at ``path``; the first plugin that recognises the file
    returns the model (``firstresult``). Loading must never execute code from
    the file (``safe_mode=True`` for Keras, ``weights_only=True`` /
    safetensors for PyTorch).

    :param path: path of the saved model (a file or a folder).
    :param framework: the framework the user asked for (e.g. ``"torch"``), or
        ``None`` to let each plugin decide from the file.
    :returns: the loaded model, or ``None`` if this plugin cannot load it.
    """


@hookspec
def rnndyn_register_metrics(register: Callable[[str, Callable[[Trajectories], np.ndarray]], None]) -> None:
    """Contribute extra per-unit metrics to :func:`rnndyn.summary.unit_summary`.

    Call ``register(name, func)`` once per metric; return nothing. Called by
    :func:`rnndyn.plugins.extra_metrics` (once per summary) with a
    ``register`` of this plugin's own, so a name registered by two plugins
    is refused with an error that names both. Every plugin is asked (no
    firstresult).

    :param register: ``register(name, func)`` adds the column ``name`` (a
        non-empty str), computed by ``func``: a function that takes a
        :class:`~rnndyn.Trajectories` and returns one number per unit (an
        array of shape ``(n_units,)``).
    """


@hookspec(firstresult=True)
def rnndyn_step_map(model: Any, layer: str) -> dict[str, Cell] | None:
    """Return the recurrence of one layer as framework-free cells, or ``None``.

    Called by :func:`rnndyn.plugins.step_map` (and through it by
    :mod:`rnndyn.dynamics`) once the layer name is validated against the
    adapter's ``layers()``; the first plugin that returns cells wins
    (``firstresult``). Like :func:`rnndyn_claim_model`, an implementation must
    not import its framework to decide: return ``None`` unless the model is
    one of its framework's (and the framework is already in
    :data:`sys.modules`), or when it has no step map for that layer, so that
    another plugin may answer.

    For LSTM, GRU and simple RNN layers, return the cell type of
    :mod:`rnndyn.dynamics` holding the layer's weights in the canonical layout
    (:class:`~rnndyn.dynamics.LSTMCell`, :class:`~rnndyn.dynamics.GRUCell`,
    :class:`~rnndyn.dynamics.RNNCell`); for any other cell, a
    :class:`~rnndyn.dynamics.StepCell` whose step calls the framework and
    whose Jacobian the framework differentiates. A model of the plugin's
    framework whose layer can never have a step map (an LSTM with
    projections) may raise :class:`~rnndyn.PluginError` saying why.

    :param model: the object the user passed to :func:`rnndyn.plugins.step_map`.
    :param layer: the layer's name, one of the names the adapter's ``layers()``
        lists (e.g. ``"encoder"``, ``"lstm.l1"``).
    :returns: ``{"forward": cell}``, or ``{"forward": cell, "backward": cell}``
        for a bidirectional layer (the backward cell steps through the inputs
        from the last to the first); ``None`` if this plugin does not handle
        the model or the layer.
    """
