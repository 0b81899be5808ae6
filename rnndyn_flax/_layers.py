"""Which modules of a Flax NNX model are capturable layers, and how they are named.

* Every ``nnx.RNN`` and ``nnx.Bidirectional`` is a layer named by its
  attribute path, parts joined by dots (``"encoder"``, ``"blocks.0.rnn"``).
  The two ``nnx.RNN`` inside a ``Bidirectional`` are its directions, not
  layers of their own.
* A model that *is* an ``RNN`` or ``Bidirectional`` is named by its class
  name in lower case (``"rnn"``, ``"bidirectional"``).
* A standalone ``RNN`` built with ``reverse=True`` has the one direction
  ``"backward"``.
* Every other cell (an ``nnx.RNNCellBase``: Flax's cells and a user's cells
  derived from it) that no ``nnx.RNN`` owns is a layer too, named by its
  attribute path, with layout ``"steps = calls"``: a cell the model runs with
  ``jax.lax.scan`` (:mod:`rnndyn_flax._scan`). Its one direction is
  ``"forward"``; a scan with ``reverse=True`` gives it a reversed processing
  order (:class:`rnndyn.Steps`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flax import nnx

from rnndyn.adapter import LayerInfo

__all__ = ["Entry", "discover", "cell_kind", "STATES"]

STATES = {
    "LSTM": ("h", "c", "i", "f", "g", "o"),
    "GRU": ("h", "r", "z", "n"),
    "RNN": ("h",),
}
_CELLS = (
    (nnx.LSTMCell, "LSTM"),
    (nnx.OptimizedLSTMCell, "LSTM"),
    (nnx.GRUCell, "GRU"),
    (nnx.SimpleCell, "RNN"),
)


def cell_kind(cell: Any) -> str | None:
    """``"LSTM"``, ``"GRU"`` or ``"RNN"`` for Flax's own cells, ``None`` for any other cell."""
    for cls, kind in _CELLS:
        if isinstance(cell, cls):
            return kind
    return None


@dataclass(frozen=True)
class Entry:
    """One capturable layer: its module and the ``nnx.RNN`` of each direction."""

    name: str
    module: Any
    rnns: tuple[tuple[str, Any], ...]
    kind: str | None
    info: LayerInfo
    cell: Any = None  # the cell itself when a jax.lax.scan drives it (no nnx.RNN)


def _entry(name: str, module: Any) -> Entry:
    if isinstance(module, nnx.Bidirectional):
        rnns: tuple[tuple[str, Any], ...] = (
            ("forward", module.forward_rnn),
            ("backward", module.backward_rnn),
        )
        time_major = bool(module.time_major)
    else:
        rnns = (("backward" if module.reverse else "forward", module),)
        time_major = bool(module.time_major)
    cell = rnns[0][1].cell
    kind = cell_kind(cell)
    states = STATES[kind] if kind is not None else ("h",)
    n_units = int(getattr(cell, "hidden_features", 0) or 0)
    info = LayerInfo(
        name,
        kind if kind is not None else type(cell).__name__,
        states,
        tuple(d for d, _ in rnns),
        n_units,
        layout="time-major" if time_major else "batch-first",
    )
    return Entry(name, module, rnns, kind, info)


def _cell_entry(name: str, cell: Any) -> Entry:
    kind = cell_kind(cell)
    info = LayerInfo(
        name,
        kind if kind is not None else type(cell).__name__,
        STATES[kind] if kind is not None else ("h",),
        ("forward",),
        int(getattr(cell, "hidden_features", 0) or 0),
        layout="steps = calls",
    )
    return Entry(name, cell, (), kind, info, cell=cell)


def discover(model: Any) -> dict[str, Entry]:
    """Every capturable layer of ``model`` by name, in Flax's module order (by attribute name).

    Examples
    --------
    >>> rnn = nnx.RNN(nnx.GRUCell(2, 3, rngs=nnx.Rngs(0)))
    >>> list(discover(rnn))
    ['rnn']
    """
    found: dict[str, Entry] = {}
    inner: set[int] = set()
    modules = list(nnx.iter_modules(model))
    for _, module in modules:
        if isinstance(module, nnx.Bidirectional):
            inner.update((id(module.forward_rnn), id(module.backward_rnn)))
        if isinstance(module, nnx.RNN):
            inner.add(id(module.cell))
    for path, module in modules:
        if id(module) in inner:
            continue
        name = ".".join(str(p) for p in path) if path else type(module).__name__.lower()
        if name in found:
            continue
        if isinstance(module, nnx.RNN | nnx.Bidirectional):
            found[name] = _entry(name, module)
        elif isinstance(module, nnx.RNNCellBase):
            found[name] = _cell_entry(name, module)
    return found
