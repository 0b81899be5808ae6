"""Running a batch and collecting, for each target layer, what its states need.

For every target layer this gathers, per batch: the layer's input ``x``, the
mask Keras gives it, its initial states (when the model passes some) and the
output ``h`` of every step of each direction, computed by a *twin* recurrence
that shares the layer's own cell (same weight variables) but returns every
step (``return_sequences=True``) and never keeps state.

Two ways to get there:

* :class:`GraphRunner` (functional and ``Sequential`` models, nested ones
  too): one Keras model from the model's inputs to those tensors, run with
  ``predict_on_batch`` (compiled, batched). Nothing in the original model is
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
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rnndyn.errors import RnndynError

from ._layers import Target

__all__ = ["Raw", "GraphRunner", "InterceptRunner", "NeedsIntercept", "graph_of"]

_uid = itertools.count()


class NeedsIntercept(Exception):
    """The graph path cannot reach a target; fall back to interception."""


@dataclass
class Raw:
    """What one batch gave for one target layer (numpy arrays)."""

    mask: np.ndarray | None  # (batch, n_steps) bool, input order
    x: np.ndarray | None  # (batch, n_steps, input_dim), input order
    init: list[np.ndarray] | None  # initial states as passed to the layer, flattened
    h: dict[str, np.ndarray] = field(default_factory=dict)  # direction -> twin output


@functools.cache
def _mask_layer_class() -> type:
    import keras

    class RnndynMaskOf(keras.layers.Layer):
        """``[has_mask, mask_0 .. mask_{T-1}]`` of its input, float32 ``(batch, 1 + T)``."""

        def call(self, x: Any, mask: Any = None) -> Any:
            ops = keras.ops
            first = ops.zeros_like(ops.cast(x[:, :1, 0], "float32"))
            if mask is not None:
                mask = keras.tree.flatten(mask)[0]
            if mask is None:
                return ops.concatenate([first, ops.zeros_like(ops.cast(x[:, :, 0], "float32"))], 1)
            return ops.concatenate([first + 1.0, ops.cast(mask, "float32")], axis=1)

        def compute_mask(self, x: Any, mask: Any = None) -> None:
            return None  # consumes the mask (and says so, so Keras does not warn)

    return RnndynMaskOf


def make_twin(sub: Any) -> Any:
    """A stateless ``return_sequences=True`` copy of ``sub`` sharing its cell."""
    import keras

    name = f"rnndyn_twin_{next(_uid)}"
    if type(sub) in (keras.layers.LSTM, keras.layers.GRU, keras.layers.SimpleRNN):
        cfg = sub.get_config()
        cfg.update(name=name, return_sequences=True, return_state=False, stateful=False)
        twin = type(sub).from_config(cfg)
        if hasattr(sub, "use_cudnn"):
            twin.use_cudnn = sub.use_cudnn
        twin.cell = sub.cell  # the same, already built, weights
    else:
        twin = keras.layers.RNN(
            sub.cell,
            return_sequences=True,
            go_backwards=sub.go_backwards,
            unroll=sub.unroll,
            name=name,
        )
    twin.zero_output_for_mask = False
    return twin


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
    """Capture through one functional Keras model built over the original graph."""

    def __init__(self, model: Any, targets: list[Target], need_x: dict[str, bool]) -> None:
        import keras

        top = graph_of(model)
        if top is None:
            raise NeedsIntercept(model.name)
        self._need_x = need_x
        snapshot = [(op, list(op._outbound_nodes)) for op in _operations(model)]
        try:
            outputs, self._layout = self._collect(top, [(t, t.path) for t in targets])
            self.model = keras.Model(top._inputs_struct, outputs, name=f"rnndyn_capture_{next(_uid)}")
        finally:
            # building the graph registered new outbound nodes on the model's layers
            for op, nodes in snapshot:
                op._outbound_nodes[:] = nodes

    def _direct(self, target: Target, graph: Any) -> tuple[list[Any], dict[str, Any]]:
        node = _node_in(target.layer, graph, target.name)
        call = _bind(target.layer.call, node.arguments.args, node.arguments.kwargs)
        x, mask = call["sequences"], call["mask"]
        outs: list[Any] = [_mask_layer_class()(name=f"rnndyn_mask_{next(_uid)}")(x, mask=mask)]
        layout: dict[str, Any] = {"mask": 0, "x": None, "init": None, "h": {}}
        inits = _split_init(call["initial_state"], len(target.parts))
        for (direction, sub), init in zip(target.parts, inits, strict=True):
            layout["h"][direction] = len(outs)
            outs.append(make_twin(sub)(x, initial_state=init, mask=mask, training=False))
        if self._need_x[target.name]:
            layout["x"] = len(outs)
            outs.append(x)
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
        res = self.model.predict_on_batch(data)
        res = res if isinstance(res, (list, tuple)) else [res]
        return {name: _raw(lay, res) for name, lay in self._layout.items()}


def _raw(layout: dict[str, Any], res: list[Any]) -> Raw:
    info = np.asarray(res[layout["mask"]])
    mask = info[:, 1:] > 0.5 if info.shape[0] and bool(info[:, 0].max() > 0.5) else None
    return Raw(
        mask=mask,
        x=None if layout["x"] is None else np.asarray(res[layout["x"]]),
        init=None if layout["init"] is None else [np.asarray(res[i]) for i in layout["init"]],
        h={d: np.asarray(res[i]) for d, i in layout["h"].items()},
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

    def __init__(self, model: Any, targets: list[Target], need_x: dict[str, bool]) -> None:
        self.model = model
        self.targets = targets
        self._need_x = need_x
        self._twins = {t.name: [make_twin(sub) for _, sub in t.parts] for t in targets}

    def run(self, data: Any) -> dict[str, Raw]:
        import keras

        records: dict[str, list[dict[str, Any]]] = {t.name: [] for t in self.targets}
        patched: list[tuple[Any, Any]] = []
        with no_grad():
            try:
                for t in self.targets:
                    layer = t.layer
                    patched.append((layer, layer.__dict__.get("call")))
                    layer.call = _recorder(layer.call, records[t.name])
                kwargs = {"training": False} if getattr(self.model, "_call_has_training_arg", True) else {}
                self.model(data, **kwargs)
            finally:
                for layer, own in reversed(patched):
                    del layer.call
                    if own is not None:
                        layer.call = own
            out: dict[str, Raw] = {}
            for t in self.targets:
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
                h = {}
                for (direction, _), twin, init in zip(t.parts, self._twins[t.name], inits, strict=True):
                    y = twin(x, initial_state=init, mask=mask, training=False)
                    h[direction] = keras.ops.convert_to_numpy(y)
                init_np = None
                if call["initial_state"] is not None:
                    flat = keras.tree.flatten(call["initial_state"])
                    init_np = [keras.ops.convert_to_numpy(v) for v in flat]
                out[t.name] = Raw(
                    mask=None if mask is None else keras.ops.convert_to_numpy(mask).astype(bool),
                    x=keras.ops.convert_to_numpy(x) if self._need_x[t.name] else None,
                    init=init_np,
                    h=h,
                )
        return out


def _recorder(call: Any, sink: list[dict[str, Any]]) -> Any:
    def recording_call(*args: Any, **kwargs: Any) -> Any:
        sink.append(_bind(call, args, kwargs))
        return call(*args, **kwargs)

    return recording_call
