"""One model call compiled with :func:`jax.jit`, the recorded ``nnx.RNN`` calls returned as outputs.

Eager Flax is an order of magnitude slower than compiled Flax, so the
adapter first tries to run each batch compiled: the model is split
(:func:`flax.nnx.split`) and merged again inside a jitted function, whose
recording ``nnx.RNN`` copies note their inputs, keyword arrays and outputs
while the function is traced; the function returns those arrays, so every
later call of the compiled function hands them out without tracing again.
Arguments that are not arrays are part of the cache key. A model that
cannot be traced (Python control flow on values, host callbacks that fail)
runs eagerly instead (:mod:`rnndyn_flax.adapter`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import jax
import numpy as np
from flax import nnx

from rnndyn.adapter import Args, Batch, call_model

from ._layers import discover

__all__ = ["traced_records"]

Key = tuple[str, str]
Record = tuple[Any, dict[str, Any], Any]

_CACHE: OrderedDict[Any, tuple[Callable[..., Any], dict[Key, list[tuple[Any, list[Any]]]]]] = OrderedDict()
_CACHE_SIZE = 8
_CACHE_LOCK = threading.Lock()


def _is_array(leaf: Any) -> bool:
    return isinstance(leaf, np.ndarray | jax.Array)


def _split_kwargs(kwargs: dict[str, Any]) -> tuple[Any, list[Any], list[Any]]:
    leaves, tree = jax.tree_util.tree_flatten(kwargs)
    arrays = [leaf for leaf in leaves if _is_array(leaf)]
    static = [None if _is_array(leaf) else leaf for leaf in leaves]
    return tree, static, arrays


def _join_kwargs(tree: Any, static: list[Any], arrays: list[Any]) -> dict[str, Any]:
    it = iter(arrays)
    return jax.tree_util.tree_unflatten(tree, [next(it) if s is None else s for s in static])


def _compile(
    graphdef: Any, tree: Any, static: tuple[tuple[int, Any], ...], n_leaves: int, args: bool, batch: Batch
) -> tuple[Callable[..., Any], dict[Key, list[tuple[Any, list[Any]]]]]:
    """The jitted call and the (filled at trace time) static part of every recorded keyword."""
    from .adapter import _RECORDS

    kw_meta: dict[Key, list[tuple[Any, list[Any]]]] = {}
    fixed = dict(static)

    def run(state: Any, dynamic: list[Any]) -> dict[Key, list[Record]]:
        model = nnx.merge(graphdef, state)
        it = iter(dynamic)
        leaves = [fixed[i] if i in fixed else next(it) for i in range(n_leaves)]
        payload = jax.tree_util.tree_unflatten(tree, leaves)
        data = Args(*payload[0], **payload[1]) if args else payload
        keys = {id(rnn): (e.name, d) for e in discover(model).values() for d, rnn in e.rnns}
        for k in keys:
            _RECORDS[k] = []
        try:
            call_model(model, Batch(data, None, batch.index, batch.forward))
            out: dict[Key, list[Record]] = {}
            for k, key in keys.items():
                kw_meta[key] = []
                for _, inputs, kwargs, result in _RECORDS[k]:
                    kw_tree, kw_static, kw_arrays = _split_kwargs(kwargs)
                    kw_meta[key].append((kw_tree, kw_static))
                    out.setdefault(key, []).append((inputs, kw_arrays, result))
            return out
        finally:
            for k in keys:
                _RECORDS.pop(k, None)

    return jax.jit(run), kw_meta


def traced_records(
    split: tuple[Any, Any], batch: Batch
) -> dict[Key, list[tuple[Any, dict[str, Any], Any]]] | None:
    """``{(layer, direction): [(inputs, kwargs, output), ...]}`` of one compiled call, or ``None``.

    ``split`` is ``nnx.split(model)`` of the model with its recording layers
    (made once per capture: splitting costs as much as a small batch).

    ``None`` when the batch holds arguments that cannot be a cache key
    (unhashable non-array values); the caller then runs the model eagerly.
    Errors of tracing or of the model propagate.
    """
    data = batch.data
    args = isinstance(data, Args)
    payload = (tuple(data.args), dict(data.kwargs)) if args else data
    leaves, tree = jax.tree_util.tree_flatten(payload)
    static = tuple((i, leaf) for i, leaf in enumerate(leaves) if not _is_array(leaf))
    dynamic = [leaf for leaf in leaves if _is_array(leaf)]
    graphdef, state = split
    try:
        key = (graphdef, tree, static, len(leaves), args, batch.forward)
        hash(key)
    except TypeError:
        return None
    with _CACHE_LOCK:
        entry = _CACHE.get(key)
        if entry is None:
            entry = _CACHE[key] = _compile(graphdef, tree, static, len(leaves), args, batch)
            while len(_CACHE) > _CACHE_SIZE:
                _CACHE.popitem(last=False)
        else:
            _CACHE.move_to_end(key)
    fn, kw_meta = entry
    out = fn(state, dynamic)
    return {
        key: [
            (inputs, _join_kwargs(tree_, static_, arrays), result)
            for (inputs, arrays, result), (tree_, static_) in zip(records, kw_meta[key], strict=True)
        ]
        for key, records in out.items()
    }
