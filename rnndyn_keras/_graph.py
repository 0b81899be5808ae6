"""Running a batch and collecting, for each target layer, what its states need.

For every target layer this gathers, per batch: the mask Keras gives it, its
initial states (when the model passes some) and its requested states at every
step, already laid out as the layer's columns of the result. They come from a
*twin* recurrence per direction (:mod:`rnndyn_keras._twins`) that shares the
layer's own cell (same weight variables) but returns every step and never
keeps state: a copy of the layer itself when only ``h`` is asked for (Keras'
fused kernels where it has them), else an ``RNN`` of a gate cell
(:mod:`rnndyn_keras._gates`) whose output is every requested state.

Two ways to get there:

* :class:`GraphRunner` (functional and ``Sequential`` models, nested ones
  too): one Keras model from the model's inputs to those tensors, compiled
  and run batch by batch like ``predict_on_batch``; on TensorFlow the results
  are read without a copy (:func:`fetch`). Nothing in the original model is
  called or changed; the bookkeeping Keras adds to the original layers while
  the capture graph is built is removed again.
* :class:`InterceptRunner` (subclassed models, custom layers): the model runs
  eagerly once per batch while each target layer's ``call`` is wrapped to
  record its arguments; the wrappers are removed in ``finally`` before the
  twins run.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np

from rnndyn.errors import RnndynError

from ._layers import Target
from ._twins import columns, twins_of

__all__ = [
    "Raw",
    "GraphRunner",
    "InterceptRunner",
    "NeedsIntercept",
    "graph_of",
    "fetch",
]

_uid = itertools.count()


class NeedsIntercept(Exception):
    """The graph path cannot reach a target; fall back to interception."""


@dataclass
class Raw:
    """What one batch gave for one target layer (numpy arrays)."""

    mask: np.ndarray | None  # (batch, n_steps) bool, input order
    init: list[np.ndarray] | None  # initial states as passed to the layer, flattened
    cols: np.ndarray  # (batch, n_steps, n_cols): the layer's columns, input order


@functools.cache
def _mask_layer_class() -> type:
    import keras

    class RnndynMaskOf(keras.layers.Layer):
        """``[has_mask, mask_0 .. mask_{T-1}]`` of its input, float32 ``(batch, 1 + T)``.

        Called with the target layer's own arguments, so Keras hands it the
        mask that it hands the layer (none, for instance, when the layer gets
        initial states but no explicit mask).
        """

        def call(self, sequences: Any, initial_state: Any = None, mask: Any = None) -> Any:
            ops, x = keras.ops, sequences
            first = ops.zeros_like(ops.cast(x[:, :1, 0], "float32"))
            if mask is not None:
                mask = keras.tree.flatten(mask)[0]
            if mask is None:
                return ops.concatenate([first, ops.zeros_like(ops.cast(x[:, :, 0], "float32"))], 1)
            return ops.concatenate([first + 1.0, ops.cast(mask, "float32")], axis=1)

        def compute_mask(self, sequences: Any, previous_mask: Any = None) -> None:
            return None  # consumes the mask (and says so, so Keras does not warn)

    return RnndynMaskOf


def _bind(call: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """Map arguments of ``call`` to ``{"sequences", "initial_state", "mask"}``."""
    try:
        bound = inspect.signature(call).bind_partial(*args, **kwargs).arguments
    except TypeError:
        bound = dict(kwargs)
    names = list(bound)
    x = bound.get("sequences", bound.get("inputs", args[0] if args else bound[names[0]]))
    return {"sequences": x, "initial_state": bound.get("initial_state"), "mask": bound.get("mask")}


def _split_init(init: Any, n_parts: int) -> list[Any]:
    import keras

    if init is None:
        return [None] * n_parts
    flat = keras.tree.flatten(init)
    half = len(flat) // n_parts
    return [flat[k * half : (k + 1) * half] for k in range(n_parts)]


def graph_of(layer: Any) -> Any:
    """The functional graph of a functional/Sequential model, else ``None``."""
    import keras

    if isinstance(layer, keras.Sequential):
        return getattr(layer, "_functional", None)
    if isinstance(layer, keras.Model) and hasattr(layer, "_nodes") and hasattr(layer, "_inputs_struct"):
        return layer
    return None


def _node_in(layer: Any, graph: Any, name: str) -> Any:
    # a graph lists its nodes by key: f"{id(operation)}_ib-{index in _inbound_nodes}"
    nodes = [n for k, n in enumerate(layer._inbound_nodes) if f"{id(layer)}_ib-{k}" in graph._nodes]
    if not nodes:
        raise NeedsIntercept(name)
    if len(nodes) > 1:
        raise RnndynError(
            f"layer={name!r}: the layer {layer.name!r} is called {len(nodes)} times in the model "
            "(a shared layer), so its states are not one trajectory per input; rnndyn captures "
            "layers that run once per forward pass. Capture another layer, or build a model "
            "that calls it once."
        )
    return nodes[0]


class GraphRunner:
    """Capture through one functional Keras model built over the original graph.

    ``plan``: each target layer with the states asked of it (see
    :func:`~rnndyn_keras._twins.wanted`).
    """

    def __init__(self, model: Any, plan: list[tuple[Target, tuple[str, ...]]]) -> None:
        import keras

        top = graph_of(model)
        if top is None:
            raise NeedsIntercept(model.name)
        self._states = {t.name: states for t, states in plan}
        snapshot = [(op, list(op._outbound_nodes)) for op in _operations(model)]
        try:
            outputs, self._layout = self._collect(top, [(t, t.path) for t, _ in plan])
            self.model = keras.Model(top._inputs_struct, outputs, name=f"rnndyn_capture_{next(_uid)}")
        finally:
            # building the graph registered new outbound nodes on the model's layers
            for op, nodes in snapshot:
                op._outbound_nodes[:] = nodes

    def _direct(self, target: Target, graph: Any) -> tuple[list[Any], dict[str, Any]]:
        node = _node_in(target.layer, graph, target.name)
        call = _bind(target.layer.call, node.arguments.args, node.arguments.kwargs)
        x, mask = call["sequences"], call["mask"]
        mask_of = _mask_layer_class()(name=f"rnndyn_mask_{next(_uid)}")
        outs: list[Any] = [mask_of(x, initial_state=call["initial_state"], mask=mask)]
        states = self._states[target.name]
        twins = twins_of(target, states)
        inits = _split_init(call["initial_state"], len(target.parts))
        layout: dict[str, Any] = {"mask": 0, "cols": 1, "init": None}
        outs.append(columns(target, states, twins, x, inits, mask))
        if call["initial_state"] is not None:
            import keras

            flat = keras.tree.flatten(call["initial_state"])
            layout["init"] = list(range(len(outs), len(outs) + len(flat)))
            outs.extend(flat)
        return outs, layout

    def _collect(self, graph: Any, items: list[tuple[Target, tuple[Any, ...]]]) -> tuple[list[Any], dict]:
        import keras

        outs: list[Any] = []
        layouts: dict[str, dict[str, Any]] = {}

        def shift(layout: dict[str, Any], by: int) -> dict[str, Any]:
            def s(v: Any) -> Any:
                if v is None:
                    return None
                if isinstance(v, dict):
                    return {k: s(w) for k, w in v.items()}
                if isinstance(v, list):
                    return [w + by for w in v]
                return v + by

            return {k: s(v) for k, v in layout.items()}

        children: dict[int, tuple[Any, list[tuple[Target, tuple[Any, ...]]]]] = {}
        for target, rest in items:
            if not rest:
                o, lay = self._direct(target, graph)
                layouts[target.name] = shift(lay, len(outs))
                outs.extend(o)
            else:
                children.setdefault(id(rest[0]), (rest[0], []))[1].append((target, rest[1:]))
        for child, sub_items in children.values():
            inner = graph_of(child)
            if inner is None:
                raise NeedsIntercept(child.name)
            node = _node_in(child, graph, child.name)
            inner_outs, inner_layouts = self._collect(inner, sub_items)
            sub = keras.Model(inner._inputs_struct, inner_outs, name=f"rnndyn_sub_{next(_uid)}")
            lifted = keras.tree.flatten(sub(*node.arguments.args, **node.arguments.kwargs))
            for name, lay in inner_layouts.items():
                layouts[name] = shift(lay, len(outs))
            outs.extend(lifted)
        return outs, layouts

    def run(self, data: Any) -> dict[str, Raw]:
        res = fetch(self.model, data)
        return {name: _raw(lay, res) for name, lay in self._layout.items()}


def fetch(model: Any, data: Any) -> list[np.ndarray]:
    """``model.predict_on_batch(data)`` as a flat list of numpy arrays.

    On TensorFlow the compiled predict function runs as ``predict_on_batch``
    runs it, but its CPU results are read in place (a read-only view through
    the buffer protocol) rather than copied: with the gates, the results are
    large, and fresh memory is slow to touch.
    """
    import keras

    if keras.backend.backend() == "tensorflow" and hasattr(model, "make_predict_function"):
        model.make_predict_function()
        res = model.predict_function([(data,)])
    else:
        res = model.predict_on_batch(data)
    return [_numpy(r) for r in keras.tree.flatten(res)]


def _numpy(t: Any) -> np.ndarray:
    import keras

    if isinstance(t, np.ndarray):
        return t
    try:
        return np.asarray(memoryview(t))  # zero-copy for TensorFlow CPU tensors
    except (TypeError, ValueError, BufferError):
        return keras.ops.convert_to_numpy(t)


def _raw(layout: dict[str, Any], res: list[np.ndarray]) -> Raw:
    info = res[layout["mask"]]
    mask = info[:, 1:] > 0.5 if info.shape[0] and bool(info[:, 0].max() > 0.5) else None
    return Raw(
        mask=mask,
        init=None if layout["init"] is None else [res[i] for i in layout["init"]],
        cols=res[layout["cols"]],
    )


def _operations(model: Any) -> list[Any]:
    ops = {id(model): model}
    for layer in model._flatten_layers(include_self=True, recursive=True):
        ops[id(layer)] = layer
        for node in getattr(layer, "_inbound_nodes", []):
            for parent in node.parent_nodes:
                ops.setdefault(id(parent.operation), parent.operation)
    return [op for op in ops.values() if hasattr(op, "_outbound_nodes")]


@contextlib.contextmanager
def no_grad() -> Any:
    import keras

    if keras.backend.backend() == "torch":
        import torch

        with torch.no_grad():
            yield
    else:
        yield


class InterceptRunner:
    """Capture by recording each target layer's call during an eager forward pass."""

    def __init__(self, model: Any, plan: list[tuple[Target, tuple[str, ...]]], call: Any = None) -> None:
        self.model = model
        self.plan = plan
        self.call = call  # runs the model on one batch (the user's forward=); default model(data)
        self._twins = {t.name: twins_of(t, states) for t, states in plan}

    def run(self, data: Any) -> dict[str, Raw]:
        import keras

        records: dict[str, list[dict[str, Any]]] = {t.name: [] for t, _ in self.plan}
        patched: list[tuple[Any, Any]] = []
        with no_grad():
            try:
                for t, _ in self.plan:
                    layer = t.layer
                    patched.append((layer, layer.__dict__.get("call")))
                    layer.call = _recorder(layer.call, records[t.name])
                if self.call is not None:
                    self.call(data)
                else:
                    kwargs = (
                        {"training": False} if getattr(self.model, "_call_has_training_arg", True) else {}
                    )
                    self.model(data, **kwargs)
            finally:
                for layer, own in reversed(patched):
                    del layer.call
                    if own is not None:
                        layer.call = own
            out: dict[str, Raw] = {}
            for t, states in self.plan:
                calls = records[t.name]
                if len(calls) != 1:
                    raise RnndynError(
                        f"layer={t.name!r}: the layer ran {len(calls)} times in one forward pass of "
                        "the model; rnndyn captures layers that run exactly once per forward pass."
                    )
                call = calls[0]
                x, mask = call["sequences"], call["mask"]
                if mask is not None:
                    mask = keras.tree.flatten(mask)[0]
                inits = _split_init(call["initial_state"], len(t.parts))
                cols = columns(t, states, self._twins[t.name], x, inits, mask)
                init_np = None
                if call["initial_state"] is not None:
                    flat = keras.tree.flatten(call["initial_state"])
                    init_np = [keras.ops.convert_to_numpy(v) for v in flat]
                out[t.name] = Raw(
                    mask=None if mask is None else keras.ops.convert_to_numpy(mask).astype(bool),
                    init=init_np,
                    cols=keras.ops.convert_to_numpy(cols),
                )
        return out


def _recorder(call: Any, sink: list[dict[str, Any]]) -> Any:
    def recording_call(*args: Any, **kwargs: Any) -> Any:
        sink.append(_bind(call, args, kwargs))
        return call(*args, **kwargs)

    return recording_call
