"""The plugins at work: the process-wide manager, adapter lookup, model loading, metrics.

One :class:`pluggy.PluginManager` named ``"rnndyn"`` holds every plugin. The
plugins are the modules named by the entry-point group ``rnndyn`` (our own
``rnndyn_torch.plugin`` and ``rnndyn_keras.plugin`` included); they are
imported once, on first use, never when ``rnndyn`` itself is imported
(discovery: :mod:`rnndyn._plugin_loading`). A plugin that fails to import is
skipped with a :class:`RuntimeWarning` that names it, so one broken package
cannot take the others down; a plugin whose hook implementations do not match
the specs fails loudly.

Examples
--------
>>> import rnndyn
>>> [p["name"] for p in rnndyn.list_plugins()]  # doctest: +SKIP
['keras', 'numpyrnn', 'torch']
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pluggy

from ._plugin_loading import (
    DOCS,
    ENTRY_POINT_GROUP,
    failed_note,
    framework_missing,
    hook_plugins,
    load_plugins,
    make_plugin_manager,
    model_hint,
    plugin_rows,
    type_name,
)
from .errors import PluginError, RnndynError

if TYPE_CHECKING:
    import numpy as np

    from ._cells import Cell
    from .adapter import Adapter
    from .trajectories import Trajectories

__all__ = [
    "use_plugin_manager",
    "ENTRY_POINT_GROUP",
    "pm",
    "make_plugin_manager",
    "load_plugins",
    "get_plugin_manager",
    "list_plugins",
    "find_adapter",
    "load_model",
    "extra_metrics",
    "step_map",
]

INSTALL_HINT = (
    "Install the adapter for the model's framework with pip install 'rnndyn[torch]' "
    "(PyTorch) or pip install 'rnndyn[keras]' (Keras 3), or write a plugin for another "
    f"framework: see {DOCS}."
)

#: The one manager of the process; use :func:`get_plugin_manager` to get it loaded.
pm = make_plugin_manager()
_loaded = False
_lock = threading.RLock()


@contextmanager
def use_plugin_manager(manager: pluggy.PluginManager) -> Iterator[pluggy.PluginManager]:
    """Make ``manager`` the process-wide manager (as loaded) inside the ``with`` block; for tests.

    :mod:`rnndyn.testing` builds on it (``isolated_plugins``).
    """
    global pm, _loaded
    if not isinstance(manager, pluggy.PluginManager):
        raise RnndynError(f"manager must be a pluggy.PluginManager; got {type(manager).__name__}.")
    with _lock:
        saved, (pm, _loaded) = (pm, _loaded), (manager, True)
    try:
        yield manager
    finally:
        with _lock:
            pm, _loaded = saved


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide manager, with the installed plugins loaded (once, on first use).

    Examples
    --------
    >>> manager = get_plugin_manager()
    >>> manager.project_name
    'rnndyn'
    """
    global _loaded
    if not _loaded:
        with _lock:
            if not _loaded:
                load_plugins(pm)
                _loaded = True
    return pm


def list_plugins() -> list[dict[str, Any]]:
    """Every loaded plugin, sorted by name.

    Returns
    -------
    list of dict
        One dict per plugin with ``name`` (entry-point or registration name),
        ``module`` (where its hooks live), ``dist`` and ``version`` (the
        distribution that installed it; ``None`` for plugins registered by
        hand) and ``hooks`` (the hook names it implements, sorted).

    Examples
    --------
    >>> import rnndyn
    >>> all({"name", "module", "dist", "version", "hooks"} <= set(p) for p in rnndyn.list_plugins())
    True
    """
    return plugin_rows(get_plugin_manager())


def _hook_plugins(hook_name: str) -> list[str]:
    return hook_plugins(get_plugin_manager(), hook_name)


def _failed_note() -> str:
    return failed_note(get_plugin_manager())


def find_adapter(model: Any) -> Adapter:
    """The adapter that the first claiming plugin returns for ``model``.

    Raises
    ------
    PluginError
        When no installed plugin claims the model: the message lists the
        installed adapter plugins, the model's type and how to add more.

    Examples
    --------
    >>> find_adapter(object())  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    rnndyn.errors.PluginError: No installed rnndyn adapter claims a model of type builtins.object...
    """
    manager = get_plugin_manager()
    adapter = manager.hook.rnndyn_claim_model(model=model)
    if adapter is None:
        ready, idle = [], []
        for name in _hook_plugins("rnndyn_claim_model"):
            needs = framework_missing(manager.get_plugin(name))
            (idle if needs else ready).append(f"{name} ({needs})" if needs else name)
        listed = ", ".join(ready) if ready else "none"
        unusable = f" Adapters whose framework is not installed: {'; '.join(idle)}." if idle else ""
        raise PluginError(
            f"No installed rnndyn adapter claims a model of type {type_name(model)}.{model_hint(model)} "
            f"Installed adapter plugins: {listed}.{unusable}{_failed_note()} {INSTALL_HINT}"
        )
    missing = [m for m in ("layers", "capture") if not callable(getattr(adapter, m, None))]
    if missing:
        raise PluginError(
            f"The adapter returned for a model of type {type_name(model)} is a "
            f"{type_name(adapter)} without the method(s) {missing} of the Adapter protocol; "
            f"this is a bug in that plugin (the protocol is described in {DOCS})."
        )
    return adapter


def load_model(path: str | os.PathLike[str], framework: str | None = None) -> Any:
    """Load a saved model through the first plugin that recognises the file.

    Parameters
    ----------
    path : str or path-like
        A saved model (a file or a folder).
    framework : str, optional
        Ask for one framework (e.g. ``"torch"``, ``"keras"``); default: let
        each plugin decide from the file.

    Raises
    ------
    RnndynError
        When nothing exists at ``path``.
    PluginError
        When no installed plugin loads it.

    Examples
    --------
    >>> load_model("no/such/model.pt")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    rnndyn.errors.RnndynError: load_model(): nothing exists at path 'no/such/model.pt'...
    """
    if not isinstance(path, str | bytes | os.PathLike):
        raise RnndynError(
            f"path must be a file or folder path (str or pathlib.Path); got {type(path).__name__} "
            f"{path!r:.60}."
        )
    path = os.fspath(path)
    if not isinstance(path, str):
        path = os.fsdecode(path)
    if not path.strip():
        raise RnndynError("path is an empty string; give the path of a saved model file or folder.")
    if framework is not None and (not isinstance(framework, str) or not framework.strip()):
        raise RnndynError(
            f"framework must be a name such as 'torch' or 'keras', or None to let each plugin "
            f"decide from the file; got {type(framework).__name__} {framework!r:.40}."
        )
    if not os.path.exists(path):
        raise RnndynError(
            f"load_model(): nothing exists at path {path!r} (resolved to "
            f"{os.path.abspath(path)!r}). Check the path and the working directory."
        )
    manager = get_plugin_manager()
    model = manager.hook.rnndyn_load_model(path=path, framework=framework)
    if model is None:
        loaders = _hook_plugins("rnndyn_load_model")
        asked = f" with framework={framework!r}" if framework is not None else ""
        raise PluginError(
            f"No installed rnndyn plugin could load {path!r}{asked}. Plugins that load "
            f"models: {', '.join(loaders) if loaders else 'none'}.{_failed_note()} Check "
            "that the file is a model saved by one of those frameworks (and the framework= "
            f"name). {INSTALL_HINT}"
        )
    return model


def extra_metrics() -> dict[str, Callable[[Trajectories], np.ndarray]]:
    """Every plugin's extra per-unit metrics, merged into one mapping.

    Each implementation of :func:`~rnndyn.hookspecs.rnndyn_register_metrics`
    is called with a ``register(name, func)`` of its own, so every metric is
    known together with the plugin that registered it. Plugins are asked in
    pluggy's order (the most recently registered first).

    Raises
    ------
    PluginError
        When a plugin registers a name that is not a non-empty str or a
        function that is not callable, or returns something (the hook
        returns nothing: it calls ``register``).
    RnndynError
        When two plugins register the same metric name (the message names both).

    Examples
    --------
    >>> isinstance(extra_metrics(), dict)
    True
    """
    metrics: dict[str, Callable[[Trajectories], np.ndarray]] = {}
    owner: dict[str, str] = {}

    def registrar(plugin: str) -> Callable[[str, Callable[[Trajectories], np.ndarray]], None]:
        def register(name: str, func: Callable[[Trajectories], np.ndarray]) -> None:
            if not isinstance(name, str) or not name.strip() or not callable(func):
                raise PluginError(
                    f"Plugin {plugin!r}: rnndyn_register_metrics must call register(name, func) with a "
                    f"non-empty str name and a function; got {name!r:.60} -> {type(func).__name__}."
                )
            if name in metrics:
                raise RnndynError(
                    f"Metric {name!r} is registered by both plugin {owner[name]!r} and plugin "
                    f"{plugin!r}; names must be unique. Uninstall one, or block it with "
                    f"rnndyn.plugins.pm.set_blocked({plugin!r}) before first use."
                )
            metrics[name], owner[name] = func, plugin

        return register

    for impl in reversed(get_plugin_manager().hook.rnndyn_register_metrics.get_hookimpls()):
        if impl.hookwrapper or impl.wrapper:
            continue
        register = registrar(impl.plugin_name)
        got = impl.function(**dict.fromkeys(impl.argnames, register))
        if got is not None:
            raise PluginError(
                f"Plugin {impl.plugin_name!r}: rnndyn_register_metrics(register) must call "
                f"register(name, func) for each metric and return nothing; it returned a "
                f"{type(got).__name__}. See the hook in {DOCS}."
            )
    return metrics


def step_map(model: Any, layer: str | None = None) -> dict[str, Cell]:
    """The recurrence of one layer of ``model`` as framework-free cells, per direction.

    Asks the plugins' :func:`~rnndyn.hookspecs.rnndyn_step_map` hook. The
    cells are those of :mod:`rnndyn.dynamics` (``LSTMCell``, ``GRUCell``,
    ``RNNCell`` holding the layer's weights, or a ``StepCell`` whose step and
    Jacobian the framework computes); ``cell.step(s, x)`` maps the state
    before a step and that step's input to the state after it, in float64.

    Parameters
    ----------
    model : object
        A model an installed adapter captures (a ``torch.nn.Module``, a Keras
        model, ...).
    layer : str, optional
        The layer's name as :func:`rnndyn.capture` takes it (e.g.
        ``"encoder"``, ``"lstm.l1"``); default: the model's only recurrent
        layer (a stacked PyTorch module: its top layer).

    Returns
    -------
    dict of str to cell
        ``{"forward": cell}``, or ``{"forward": cell, "backward": cell}`` for
        a bidirectional layer. The backward cell reads the inputs from the last
        step to the first: its state at step ``t`` is
        ``cell.step(state at t + 1, x[t])``.

    Raises
    ------
    PluginError
        When no adapter claims the model, the layer does not exist (the
        message lists the layers), or no plugin gives a step map for the
        layer (the message names the hook to implement, ``rnndyn_step_map``,
        and the installed plugins).

    Examples
    --------
    >>> import torch
    >>> cells = step_map(torch.nn.GRU(3, 4, bidirectional=True))
    >>> sorted(cells), type(cells["backward"]).__name__, cells["forward"].dim
    (['backward', 'forward'], 'GRUCell', 4)
    """
    from ._cells import check_cell
    from ._targets import resolve_targets

    if layer is not None and not isinstance(layer, str):
        raise RnndynError(
            f"layer must be one layer name (a str) or None for the model's only recurrent layer; "
            f"got {type(layer).__name__} {layer!r:.60}. Ask for the layers one at a time."
        )
    adapter = find_adapter(model)
    infos = list(adapter.layers())
    ((name, _),) = resolve_targets(infos, layer, "h")
    info = next(i for i in infos if i.name == name)
    manager = get_plugin_manager()
    cells = manager.hook.rnndyn_step_map(model=model, layer=name)
    if cells is None:
        givers = _hook_plugins("rnndyn_step_map")
        installed = sorted(str(p["name"]) for p in list_plugins())
        raise PluginError(
            f"No installed rnndyn plugin gives the step map of layer {name!r} ({info.type}) of a "
            f"model of type {type_name(model)}, so its dynamics cannot be analysed. Plugins that "
            f"implement the hook rnndyn_step_map: {', '.join(givers) if givers else 'none'}; "
            f"installed plugins: {', '.join(installed) if installed else 'none'}.{_failed_note()} "
            "To add it, implement the hook rnndyn_step_map(model, layer) in a plugin, returning "
            "{'forward': cell} (and 'backward' for a bidirectional layer) with an LSTMCell, "
            f"GRUCell, RNNCell or StepCell of rnndyn.dynamics; see {DOCS}."
        )
    if not isinstance(cells, Mapping) or set(cells) != set(info.directions):
        got = sorted(cells) if isinstance(cells, Mapping) else type(cells).__name__
        raise PluginError(
            f"rnndyn_step_map returned {got} for layer {name!r}, whose directions are "
            f"{list(info.directions)}: it must return a dict with one cell per direction. This is "
            f"a bug in the plugin that answered (plugins: {', '.join(_hook_plugins('rnndyn_step_map'))})."
        )
    for direction in info.directions:
        check_cell(cells[direction], f"rnndyn_step_map(...)[{direction!r}] for layer {name!r}")
    return {d: cells[d] for d in info.directions}
