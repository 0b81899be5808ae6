"""Plugin discovery: a manager that knows the hook specs, filled from the entry points.

The plugins are the modules named by the entry-point group ``rnndyn``; they
load one by one, so that one that fails to import is skipped with a
:class:`RuntimeWarning` naming it, while a hook implementation that matches
no spec fails loudly. What loading found (which distribution installed each
plugin, which failed) is kept per manager for :func:`rnndyn.list_plugins` and
for the error messages of :mod:`rnndyn.plugins`. Public names are re-exported
by :mod:`rnndyn.plugins`.
"""

from __future__ import annotations

import importlib.util
import os
import warnings
import weakref
from importlib import metadata
from typing import Any

import pluggy

from . import hookspecs
from .errors import PluginError, RnndynError

__all__ = [
    "ENTRY_POINT_GROUP",
    "DOCS",
    "make_plugin_manager",
    "load_plugins",
    "framework_missing",
    "type_name",
    "model_hint",
]

ENTRY_POINT_GROUP = "rnndyn"
DOCS = "docs/plugins.md in the rnndyn documentation"


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


def _plugin_module(plugin: Any) -> str:
    name = getattr(plugin, "__name__", None)
    if isinstance(name, str) and not isinstance(plugin, type):
        return name  # a module
    cls = plugin if isinstance(plugin, type) else type(plugin)
    return f"{cls.__module__}.{cls.__qualname__}"


def plugin_rows(manager: pluggy.PluginManager) -> list[dict[str, Any]]:
    """One dict per registered plugin of ``manager`` (see :func:`rnndyn.list_plugins`), sorted by name."""
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


def hook_plugins(manager: pluggy.PluginManager, hook_name: str) -> list[str]:
    """The names of the plugins of ``manager`` that implement the hook ``hook_name``, sorted."""
    caller = getattr(manager.hook, hook_name)
    return sorted({impl.plugin_name for impl in caller.get_hookimpls()})


def failed_note(manager: pluggy.PluginManager) -> str:
    """A sentence naming the plugins that failed to import (empty when none did), for messages."""
    failed = _info(manager).failed
    if not failed:
        return ""
    listed = "; ".join(f"{k!r} ({v})" for k, v in sorted(failed.items()))
    return f" These plugins failed to import and were skipped: {listed}."


def framework_missing(plugin: Any) -> str:
    """What a plugin's framework needs that is not installed ("" when nothing, or not declared).

    A plugin module may declare ``FRAMEWORK = ("torch", "pip install 'rnndyn[torch]'")``: the
    module its adapter imports, and how to install it. The module is looked up without
    being imported.

    Examples
    --------
    >>> import types
    >>> framework_missing(types.SimpleNamespace(FRAMEWORK=("no_such_framework", "pip install x")))
    'needs no_such_framework: pip install x'
    """
    declared = getattr(plugin, "FRAMEWORK", None)
    if not (isinstance(declared, tuple) and len(declared) == 2 and all(isinstance(d, str) for d in declared)):
        return ""
    if not declared[0]:
        return ""
    module, install = declared
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        found = False
    return "" if found else f"needs {module}: {install}"


def type_name(obj: Any) -> str:
    """``module.QualName`` of ``obj``'s type, for messages."""
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def model_hint(model: Any) -> str:
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
