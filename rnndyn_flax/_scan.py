"""A user's cell driven by ``jax.lax.scan``: each call recorded, its step known from the scan.

A cell run by ``jax.lax.scan`` inside the model (rather than by ``nnx.RNN``)
is captured eagerly: the model runs under :func:`jax.disable_jit`, where
``lax.scan`` is a Python loop calling the cell once per step with concrete
arrays. For the duration of the capture ``jax.lax.scan`` is wrapped
(transparently, for every thread) so that each scan notes its length and
``reverse`` flag on a thread-local stack; the cell's class is swapped for a
recording subclass whose calls note ``(carry, x) -> (carry', y)`` and their
index within the innermost running scan. Call ``k`` of a scan of length
``T`` read input position ``k`` (``T - 1 - k`` with ``reverse=True``).

Calls that no wrapped scan made (a Python loop, ``nnx.scan``, or a
``scan`` imported by name before the capture) cannot be placed on the time
axis with certainty and are refused.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import jax
import numpy as np

from rnndyn import PluginError

from ._replay import Call, replay

__all__ = ["Frame", "CELL_RECORDS", "recording_cell", "scans_recorded", "cell_states"]

_LOCAL = threading.local()
_PATCH_LOCK = threading.Lock()
_PATCHED = {"count": 0, "original": None}
#: id(cell) -> [(frame or None, k, carry, x, new_carry, y)]
CELL_RECORDS: dict[int, list[tuple[Frame | None, int, Any, Any, Any, Any]]] = {}
_SUBCLASSES: dict[type, type] = {}


@dataclass(eq=False)
class Frame:
    """One running ``lax.scan``: its length, direction and the calls each cell made in it."""

    length: int
    reverse: bool
    calls: dict[int, int] = field(default_factory=dict)


def _stack() -> list[Frame]:
    if not hasattr(_LOCAL, "stack"):
        _LOCAL.stack = []
    return _LOCAL.stack


def _length(xs: Any, length: Any) -> int:
    if length is not None:
        return int(length)
    leaves = jax.tree_util.tree_leaves(xs)
    return int(np.shape(leaves[0])[0]) if leaves else 0


def _wrap(original: Any) -> Any:
    def scan(f: Any, init: Any, xs: Any = None, length: Any = None, reverse: bool = False, **kw: Any) -> Any:
        _stack().append(Frame(_length(xs, length), bool(reverse)))
        try:
            return original(f, init, xs, length=length, reverse=reverse, **kw)
        finally:
            _stack().pop()

    return functools.wraps(original)(scan)


@contextmanager
def scans_recorded() -> Iterator[None]:
    """``jax.lax.scan`` wrapped (reference counted across threads) and JIT disabled in this thread."""
    with _PATCH_LOCK:
        if _PATCHED["count"] == 0:
            _PATCHED["original"] = jax.lax.scan
            jax.lax.scan = _wrap(jax.lax.scan)
        _PATCHED["count"] += 1
    try:
        with jax.disable_jit():
            yield
    finally:
        with _PATCH_LOCK:
            _PATCHED["count"] -= 1
            if _PATCHED["count"] == 0:
                jax.lax.scan = _PATCHED["original"]


def recording_cell(cls: type) -> type:
    """A subclass of the cell class ``cls`` whose calls are noted in :data:`CELL_RECORDS`."""
    if cls not in _SUBCLASSES:

        def __call__(self: Any, carry: Any, inputs: Any, *args: Any, **kwargs: Any) -> Any:
            out = cls.__call__(self, carry, inputs, *args, **kwargs)
            stack = _stack()
            frame = stack[-1] if stack else None
            k = -1
            if frame is not None:
                k = frame.calls.get(id(self), 0)
                frame.calls[id(self)] = k + 1
            CELL_RECORDS[id(self)].append((frame, k, carry, inputs, out[0], out[1]))
            return out

        _SUBCLASSES[cls] = type(cls.__name__, (cls,), {"__call__": __call__, "__module__": cls.__module__})
    return _SUBCLASSES[cls]


def _arr(a: Any, what: str, name: str) -> np.ndarray:
    out = np.asarray(a)
    if out.ndim != 2:
        raise PluginError(
            f"layer {name!r}: rnndyn_flax captures a cell called on one step of a batch, {what} of shape "
            f"(batch, features); got shape {out.shape}."
        )
    return out


def cell_states(
    name: str, cell: Any, kind: str | None, states: set[str]
) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """The requested states of a scanned cell in input order, and its processing order if reversed."""
    records = CELL_RECORDS[id(cell)]
    frames = list(dict.fromkeys(r[0] for r in records))
    if not records or None in frames or len(frames) != 1:
        loose = sum(r[0] is None for r in records)
        raise PluginError(
            f"layer {name!r} ({type(cell).__name__}) was called {len(records)} times in one batch, "
            f"{loose} of them outside jax.lax.scan and in {len([f for f in frames if f])} scans; rnndyn "
            "captures a cell that one jax.lax.scan (called as jax.lax.scan or lax.scan) runs once per "
            "model call, or an nnx.RNN. Python loops, nnx.scan and a scan imported by name cannot be "
            "placed on the time axis with certainty."
        )
    frame = frames[0]
    T = frame.length
    if len(records) != T or [r[1] for r in records] != list(range(T)):
        raise PluginError(
            f"layer {name!r} was called {len(records)} times by a jax.lax.scan of length {T}; rnndyn "
            "captures a cell called once per step."
        )
    order = np.arange(T)[::-1] if frame.reverse else np.arange(T)
    back = np.argsort(order)
    y = np.stack([_arr(r[5], "outputs", name) for r in records], axis=1)[:, back]
    x = np.stack([_arr(r[3], "inputs", name) for r in records], axis=1)[:, back]
    n = y.shape[0]
    if kind is None:
        if states - {"h"}:
            raise PluginError(f"rnndyn_flax captures only 'h' (the output) of a {type(cell).__name__} cell.")
        out = {"h": y.astype(np.float32)}
    else:
        call = Call(x, y, records[0][2], None, frame.reverse, keep_order=True)
        out = replay(_Holder(cell), kind, call, states)
    proc = np.broadcast_to(order, (n, T)).copy() if frame.reverse else None
    return out, proc


class _Holder:
    """What :func:`~rnndyn_flax._replay.replay` reads of an ``nnx.RNN``: its cell."""

    def __init__(self, cell: Any) -> None:
        self.cell = cell
