"""Model inputs and stateful layers: checks before a batch runs, state put back after."""

from __future__ import annotations

from typing import Any

import numpy as np

from rnndyn.errors import RnndynError

from ._graph import graph_of

__all__ = [
    "check_ids",
    "check_library",
    "input_embeddings",
    "shapes",
    "expected_shapes",
    "check_input_shape",
    "save_stateful",
    "reset_stateful",
    "restore_stateful",
]


def flat_inputs(data: Any) -> list[Any]:
    import keras

    return keras.tree.flatten(data)


def shapes(data: Any) -> Any:
    shapes = [tuple(int(s) for s in getattr(a, "shape", np.shape(a))) for a in flat_inputs(data)]
    return shapes[0] if len(shapes) == 1 else shapes


def expected_shapes(model: Any) -> Any:
    graph = graph_of(model)
    if graph is None:
        shape = getattr(model, "_build_shapes_dict", None)
        return shape if shape else "(unknown: a subclassed model)"
    shapes = [tuple(kt.shape) for kt in graph._inputs]
    return shapes[0] if len(shapes) == 1 else shapes


def check_input_shape(model: Any, data: Any) -> None:
    graph = graph_of(model)
    if graph is None:
        return
    flat = flat_inputs(data)
    expected = [tuple(kt.shape) for kt in graph._inputs]
    if len(flat) != len(expected):
        raise RnndynError(
            f"inputs: the model takes {len(expected)} input(s) shaped {expected_shapes(model)}; "
            f"a batch holds {len(flat)} array(s). Pass one array per model input."
        )
    for a, exp in zip(flat, expected, strict=True):
        got = tuple(int(s) for s in getattr(a, "shape", np.shape(a)))
        if len(got) != len(exp) or any(e is not None and e != g for e, g in zip(exp, got, strict=True)):
            raise RnndynError(
                f"inputs: the model expects input shape {expected_shapes(model)} (None: any "
                f"size); got a batch of shape {shapes(data)}. Pass inputs shaped like the "
                "model's input, batch first (e.g. x[None] for a single sequence)."
            )


#: array libraries, by top-level module, and the Keras backend that takes their arrays
_LIBRARIES = {"tensorflow": "tensorflow", "torch": "torch", "jax": "jax", "jaxlib": "jax"}
_FOREIGN = ("dask", "cupy", "mlx")


def check_library(data: Any) -> None:
    """Refuse arrays of a framework other than the backend's (a torch tensor on TensorFlow)."""
    import keras

    backend = keras.backend.backend()
    for x in flat_inputs(data):
        lib = type(x).__module__.split(".")[0]
        if lib in _FOREIGN or (lib in _LIBRARIES and _LIBRARIES[lib] != backend):
            raise RnndynError(
                f"inputs: a batch is a {type(x).__module__}.{type(x).__qualname__}, an array of "
                f"{lib}, but the Keras model runs on the {backend} backend. Pass numpy arrays "
                "(e.g. x.numpy() for a torch tensor, x.compute() for dask) or arrays of the "
                "backend."
            )


def input_embeddings(model: Any) -> list[tuple[str, int, int]]:
    """``(name, input_dim, input index)`` of each Embedding that reads a model input directly."""
    import keras

    graph = graph_of(model)
    if graph is None:
        return []
    inputs = {id(t): k for k, t in enumerate(graph._inputs)}
    found = []
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if not isinstance(layer, keras.layers.Embedding):
            continue
        for k, node in enumerate(layer._inbound_nodes):
            if f"{id(layer)}_ib-{k}" not in graph._nodes:
                continue
            args = node.arguments.args
            if args and id(args[0]) in inputs:
                found.append((layer.name, int(layer.input_dim), inputs[id(args[0])]))
    return found


def check_ids(embeddings: list[tuple[str, int, int]], batch: Any) -> None:
    """Refuse token ids outside the table of an Embedding that reads them (TensorFlow would
    raise deep inside on CPU for ids too large, and silently read zeros for negative ones)."""
    if not embeddings:
        return
    import keras

    flat = flat_inputs(batch.data)
    for name, size, j in embeddings:
        if j >= len(flat):
            continue
        ids = np.asarray(keras.ops.convert_to_numpy(flat[j]))
        if ids.dtype.kind not in "iu" or ids.size == 0:
            continue
        bad = (ids < 0) | (ids >= size)
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            raise RnndynError(
                f"inputs: batch {batch.index} holds the token id {int(ids[where])} at position "
                f"{where} (sequence, step), read by the embedding {name!r}, which has {size} "
                f"entries (ids 0..{size - 1}); {int(bad.sum())} id(s) are out of range. Map the "
                "ids with the vocabulary the model was trained with (unknown tokens to its "
                "out-of-vocabulary id)."
            )


def save_stateful(model: Any) -> list[tuple[Any, list[np.ndarray]]]:
    import keras

    saved = []
    for layer in model._flatten_layers(include_self=True, recursive=True):
        if isinstance(layer, keras.layers.RNN) and layer.stateful and layer.states is not None:
            variables = keras.tree.flatten(layer.states)
            saved.append((layer, [keras.ops.convert_to_numpy(v) for v in variables]))
    return saved


def reset_stateful(saved: list[tuple[Any, list[np.ndarray]]]) -> None:
    for layer, _ in saved:
        layer.reset_state()


def restore_stateful(saved: list[tuple[Any, list[np.ndarray]]]) -> None:
    import keras

    for layer, values in saved:
        for var, value in zip(keras.tree.flatten(layer.states), values, strict=True):
            var.assign(value)
