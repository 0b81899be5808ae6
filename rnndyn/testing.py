"""A kit for plugin authors: test an adapter against rnndyn's contract in your own test suite.

* :func:`check_adapter` runs the contract on one model your plugin claims
  (claims, layers, every state, batching, lengths, restore after a capture
  and after a failed one, a float64 reference, no framework import at
  discovery) and raises an :class:`AssertionError` naming the broken clause.
* :func:`units_table` builds the unit table every adapter yields.
* :func:`isolated_plugins` (a context manager) and :func:`plugin_manager` (a
  pytest fixture factory) give a clean plugin manager holding only the
  plugins you name.

Importing this module imports no framework and not pytest.

Examples
--------
>>> units_table("lstm", "h", ("forward", "backward"), 2)
  layer state direction  index
0  lstm     h   forward      0
1  lstm     h   forward      1
2  lstm     h  backward      0
3  lstm     h  backward      1
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pluggy

from . import plugins as _plugins
from ._testing_contract import check_adapter
from .adapter import units_table

__all__ = ["check_adapter", "units_table", "isolated_plugins", "plugin_manager"]


def _resolve(plugin: Any) -> Any:
    """A plugin object; a str names a module to import (e.g. ``"rnndyn_numpyrnn.plugin"``)."""
    if isinstance(plugin, str):
        return importlib.import_module(plugin)
    return plugin


@contextmanager
def isolated_plugins(*plugins: Any, entry_points: bool = False) -> Iterator[pluggy.PluginManager]:
    """Make a clean manager the process-wide one for the ``with`` block, holding only ``plugins``.

    Everything that looks up plugins (:func:`rnndyn.capture`,
    :func:`rnndyn.plugins.find_adapter`, :func:`rnndyn.list_plugins`, ...)
    sees only these plugins inside the block; the installed ones are back
    afterwards. Not thread-safe: use it in tests.

    Parameters
    ----------
    *plugins : module, object or str
        Plugins to register (a module or object with hook implementations,
        or a module's dotted name).
    entry_points : bool, default False
        Also load the installed entry points of the group ``rnndyn`` (a
        fresh load, as a new process would see them).

    Examples
    --------
    >>> from rnndyn import plugins
    >>> with isolated_plugins() as manager:
    ...     plugins.list_plugins()
    []
    """
    manager = _plugins.make_plugin_manager()
    for plugin in plugins:
        manager.register(_resolve(plugin))
    if entry_points:
        _plugins.load_plugins(manager)
    with _plugins.use_plugin_manager(manager) as in_effect:
        yield in_effect


def plugin_manager(*plugins: Any, entry_points: bool = False) -> Callable[..., Any]:
    """A pytest fixture that yields :func:`isolated_plugins` (``plugins``) for each test.

    Assign it at module level of a test file; the fixture's name is the
    variable's name.

    Parameters
    ----------
    *plugins, entry_points
        As :func:`isolated_plugins`.

    Examples
    --------
    >>> fixture = plugin_manager("rnndyn_numpyrnn.plugin")  # in a test file: manager = plugin_manager(...)
    >>> callable(fixture)
    True
    """
    import pytest

    @pytest.fixture
    def _manager() -> Iterator[pluggy.PluginManager]:
        with isolated_plugins(*plugins, entry_points=entry_points) as manager:
            yield manager

    return _manager
