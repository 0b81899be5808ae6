"""The plugin manager: entry-point discovery, adapter lookup, model loading.

One :class:`pluggy.PluginManager` named ``"rnndyn"`` holds every plugin. The
plugins are the modules named by the entry-point group ``rnndyn`` (our own
``rnndyn_torch.plugin`` and ``rnndyn_keras.plugin`` included); they are
imported once, on first use, never when ``rnndyn`` itself is imported. A
plugin that fails to import is skipped with a :class:`RuntimeWarning` that
names it, so one broken package cannot take the others down; a plugin whose
hook implementations do not match the specs fails loudly.

Examples
--------
>>> import rnndyn
>>> [p["name"] for p in rnndyn.list_plugins()]  # doctest: +SKIP
['keras', 'numpyrnn', 'torch']
"""

from __future__ import annotations

import os
import threading
import warnings
import weakref
from collections.abc import Callable, Mapping
from importlib import metadata
from typing import TYPE_CHECKING, Any

import pluggy

from . import hookspecs
from .errors import PluginError, RnndynError

if TYPE_CHECKING:
    import numpy as np

    from ._cells import Cell
    from .adapter import Adapter
    from .trajectories import Trajectories

__all__ = [
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

ENTRY_POINT_GROUP = "rnndyn"
DOCS = "docs/plugins.md in the rnndyn documentation"
INSTALL_HINT = (
    "Install the adapter for the model's framework with pip install 'rnndyn[torch]' "
    "(PyTorch) or pip install 'rnndyn[keras]' (Keras 3), or write a plugin for another "
    f"framework: see {DOCS}."
)


def make_plugin_manager() -> pluggy.PluginManager:
    """A new, empty manager that knows every rnndyn hook spec (no plugin loaded).

    Examples
    --------
    >>> manager = make_plugin_manager()
    >>> manager.get_plugins()
    set()
    >>> callable(manager.hook.rnndyn_claim_model)
    True
    """
    manager = pluggy.PluginManager("rnndyn")
    manager.add_hookspecs(hookspecs)
    return manager


#: The one manager of the process; use :func:`get_plugin_manager` to get it loaded.
pm = make_plugin_manager()
_loaded = False
_lock = threading.RLock()


class _LoadInfo:
    """What loading found, per manager: where each plugin came from, what failed."""

    def __init__(self) -> None:
        self.dist: dict[str, tuple[str | None, str | None]] = {}
        self.failed: dict[str, str] = {}


_load_info: weakref.WeakKeyDictionary[pluggy.PluginManager, _LoadInfo] = weakref.WeakKeyDictionary()


def _info(manager: pluggy.PluginManager) -> _LoadInfo:
    if manager not in _load_info:
        _load_info[manager] = _LoadInfo()
    return _load_info[manager]


def _entry_points(group: str) -> list[metadata.EntryPoint]:
    seen: set[tuple[str, str]] = set()
    out = []
    for ep in metadata.entry_points(group=group):
        if (ep.name, ep.value) not in seen:  # a dist on sys.path twice lists its eps twice
            seen.add((ep.name, ep.value))
            out.append(ep)
    return out


def load_plugins(manager: pluggy.PluginManager, group: str = ENTRY_POINT_GROUP) -> list[str]:
    """Register every entry point of ``group`` on ``manager``; return the names added.

    Like :meth:`pluggy.PluginManager.load_setuptools_entrypoints`, but entry
    points load one by one: one that fails to import warns (``RuntimeWarning``
    naming the entry point and the error) and the others still load. Then
    ``manager.check_pending()`` makes a hook implementation that matches no
    spec (a typo) fail with a :class:`PluginError`; in that case every plugin
    added by this call is unregistered again, so a retry fails the same way.

    Examples
    --------
    >>> manager = make_plugin_manager()
    >>> names = load_plugins(manager)  # e.g. ['keras', 'torch']
    >>> sorted(names) == sorted(name for name, _ in manager.list_name_plugin())
    True
    """
    if not isinstance(manager, pluggy.PluginManager):
        raise RnndynError(
            f"manager must be a pluggy.PluginManager (see make_plugin_manager()); got "
            f"{type(manager).__name__}."
        )
    if not isinstance(group, str) or not group.strip():
        raise RnndynError(
            f"group must be the name of an entry-point group, a non-empty str such as "
            f"{ENTRY_POINT_GROUP!r}; got {group!r}."
        )
    info = _info(manager)
    added: list[str] = []
    for ep in _entry_points(group):
        if manager.get_plugin(ep.name) is not None or manager.is_blocked(ep.name):
            continue
        dist = getattr(ep, "dist", None)
        where = f"{dist.name} {dist.version}" if dist is not None else "unknown distribution"
        try:
            plugin = ep.load()
        except Exception as exc:
            info.failed[ep.name] = f"{type(exc).__name__}: {exc}"
            warnings.warn(
                f"rnndyn plugin {ep.name!r} (entry point {ep.value!r} of {where}) failed to "
                f"import and is skipped: {type(exc).__name__}: {exc}",
                RuntimeWarning,
                stacklevel=2,
            )
            continue
        try:
            manager.register(plugin, name=ep.name)
        except (ValueError, pluggy.PluginValidationError) as exc:
            _unregister(manager, added)
            raise PluginError(
                f"rnndyn plugin {ep.name!r} (entry point {ep.value!r} of {where}) cannot be "
                f"registered: {exc}. Fix or uninstall that package; hooks are listed in {DOCS}."
            ) from exc
        added.append(ep.name)
        info.failed.pop(ep.name, None)
        info.dist[ep.name] = (dist.name, dist.version) if dist is not None else (None, None)
    try:
        manager.check_pending()
    except pluggy.PluginValidationError as exc:
        _unregister(manager, added)
        raise PluginError(
            f"An rnndyn plugin implements a hook that does not exist: {exc}. Hook names are "
            f"listed in {DOCS}; fix the spelling or uninstall that plugin."
        ) from exc
    return added


def _unregister(manager: pluggy.PluginManager, names: list[str]) -> None:
    for name in names:
        manager.unregister(name=name)
        _info(manager).dist.pop(name, None)


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


def _plugin_module(plugin: Any) -> str:
    name = getattr(plugin, "__name__", None)
    if isinstance(name, str) and not isinstance(plugin, type):
        return name  # a module
    cls = plugin if isinstance(plugin, type) else type(plugin)
    return f"{cls.__module__}.{cls.__qualname__}"


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
    manager = get_plugin_manager()
    out = []
    for name, plugin in manager.list_name_plugin():
        if plugin is None:  # blocked
            continue
        dist, version = _info(manager).dist.get(name, (None, None))
        callers = manager.get_hookcallers(plugin) or []
        out.append(
            {
                "name": name,
                "module": _plugin_module(plugin),
                "dist": dist,
                "version": version,
                "hooks": sorted(c.name for c in callers),
            }
        )
    return sorted(out, key=lambda p: str(p["name"]))


def _hook_plugins(hook_name: str) -> list[str]:
    manager = get_plugin_manager()
    caller = getattr(manager.hook, hook_name)
    return sorted({impl.plugin_name for impl in caller.get_hookimpls()})


def _failed_note() -> str:
    failed = _info(get_plugin_manager()).failed
    if not failed:
        return ""
    listed = "; ".join(f"{k!r} ({v})" for k, v in sorted(failed.items()))
    return f" These plugins failed to import and were skipped: {listed}."


def _type_name(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def _model_hint(model: Any) -> str:
    """What is probably wrong with a ``model`` no adapter claims."""
    if model is None:
        return " model is None: pass the trained model object itself."
    if isinstance(model, type):
        return (
            f" model is the class {model.__qualname__}, not a model: create the model "
            "(and load its weights) first, then pass the instance."
        )
    if isinstance(model, str | bytes | os.PathLike):
        return " model is a path or name: load the model first, e.g. with rnndyn.plugins.load_model(path)."
    if callable(model) and type(model).__name__ in ("function", "method", "builtin_function_or_method"):
        return (
            " model is a plain function: rnndyn needs the model object (e.g. a "
            "torch.nn.Module or a keras.Model) to find its recurrent layers, not a function "
            "that calls it."
        )
    return ""


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
        installed = _hook_plugins("rnndyn_claim_model")
        listed = ", ".join(installed) if installed else "none"
        raise PluginError(
            f"No installed rnndyn adapter claims a model of type {_type_name(model)}.{_model_hint(model)} "
            f"Installed adapter plugins: {listed}.{_failed_note()} {INSTALL_HINT}"
        )
    missing = [m for m in ("layers", "capture") if not callable(getattr(adapter, m, None))]
    if missing:
        raise PluginError(
            f"The adapter returned for a model of type {_type_name(model)} is a "
            f"{_type_name(adapter)} without the method(s) {missing} of the Adapter protocol; "
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

    Raises
    ------
    RnndynError
        When two plugins register the same metric name, or a plugin returns
        something other than a mapping of names to functions.

    Examples
    --------
    >>> isinstance(extra_metrics(), dict)
    True
    """
    manager = get_plugin_manager()
    caller = manager.hook.rnndyn_register_metrics
    out: dict[str, Callable[[Trajectories], np.ndarray]] = {}
    owner: dict[str, str] = {}
    # pluggy calls the implementations last-registered first: do the same
    for impl in reversed(caller.get_hookimpls()):
        if impl.hookwrapper or impl.wrapper:
            continue
        got = impl.function()
        if got is None:
            continue
        if not isinstance(got, Mapping):
            raise PluginError(
                f"Plugin {impl.plugin_name!r}: rnndyn_register_metrics must return a dict "
                f"of name -> function; got {type(got).__name__}."
            )
        for name, fn in got.items():
            if not isinstance(name, str) or not callable(fn):
                raise PluginError(
                    f"Plugin {impl.plugin_name!r}: rnndyn_register_metrics must map str names "
                    f"to functions; got {name!r} -> {type(fn).__name__}."
                )
            if name in out:
                raise RnndynError(
                    f"Metric {name!r} is registered by both plugin {owner[name]!r} and plugin "
                    f"{impl.plugin_name!r}; names must be unique. Uninstall one, or block it "
                    f"with rnndyn.plugins.pm.set_blocked({impl.plugin_name!r}) before first use."
                )
            out[name] = fn
            owner[name] = impl.plugin_name
    return out


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
    from ._batching import resolve_targets
    from ._cells import check_cell

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
            f"model of type {_type_name(model)}, so its dynamics cannot be analysed. Plugins that "
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
