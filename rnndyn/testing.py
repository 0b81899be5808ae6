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

import numpy as np
import pandas as pd
import pluggy

from . import plugins as _plugins
from ._testing_contract import check_adapter
from .errors import RnndynError

__all__ = ["check_adapter", "units_table", "isolated_plugins", "plugin_manager"]


def units_table(
    layer: str, state: str, directions: tuple[str, ...] | list[str], n_units: int
) -> pd.DataFrame:
    """The unit table of one (layer, state): the forward units, then the backward units.

    Concatenate the tables of your targets, in the order of ``targets``, to get
    the ``units`` of the :class:`~rnndyn.Trajectories` an adapter yields.

    Parameters
    ----------
    layer, state : str
        The layer's name (as :meth:`Adapter.layers` lists it) and the state.
    directions : tuple of str
        ``("forward",)`` or ``("forward", "backward")``.
    n_units : int
        Units of this state per direction (``c`` of a projected LSTM may have
        more than ``LayerInfo.n_units``).

    Examples
    --------
    >>> units_table("rnn", "z", ("forward",), 3)["index"].tolist()
    [0, 1, 2]
    >>> tables = [units_table("enc", s, ("forward",), 2) for s in ("h", "c")]
    >>> pd.concat(tables, ignore_index=True)["state"].tolist()
    ['h', 'h', 'c', 'c']
    """
    bad_dirs = not isinstance(directions, tuple | list) or not directions
    if bad_dirs or any(d not in ("forward", "backward") for d in directions):
        raise RnndynError(f"directions must be ('forward',) or ('forward', 'backward'); got {directions!r}.")
    if not isinstance(n_units, int | np.integer) or isinstance(n_units, bool) or n_units < 1:
        raise RnndynError(f"n_units must be a positive int; got {n_units!r}.")
    n = int(n_units)
    return pd.DataFrame(
        {
            "layer": [str(layer)] * (n * len(directions)),
            "state": [str(state)] * (n * len(directions)),
            "direction": [d for d in directions for _ in range(n)],
            "index": np.tile(np.arange(n, dtype=np.int64), len(directions)),
        }
    )


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
