"""Model inputs and stateful layers: checks before a batch runs, state put back after."""

from __future__ import annotations

from typing import Any

import numpy as np

from rnndyn.errors import RnndynError

from ._graph import graph_of

__all__ = [
    "input_names",
    "standardize",
    "input_list",
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


def input_names(model: Any) -> list[str] | None:
    """The names of a functional/Sequential model's inputs, in the model's order (else ``None``)."""
    graph = graph_of(model)
    if graph is None:
        return None
    struct = graph._inputs_struct
    if isinstance(struct, dict):
        return list(struct)
    return [str(kt.name) for kt in graph._inputs]


def _unwrap_args(data: Any) -> Any:
    """``rnndyn.Args(inputs)`` -> ``inputs`` (a Keras model takes its inputs as one argument)."""
    from rnndyn.adapter import Args

    if not isinstance(data, Args):
        return data
    if len(data.args) != 1 or data.kwargs:
        raise RnndynError(
            f"inputs: the Keras adapter takes rnndyn.Args(inputs) with exactly one positional "
            f"argument, the model's inputs as model(inputs) takes them (an array, a list of arrays "
            f"or a dict keyed by input name); got {data!r:.200}. Keras models take all their "
            "inputs in that one argument; use forward=lambda model, batch: ... for other calls."
        )
    return data.args[0]


def standardize(model: Any, data: Any) -> Any:
    """One batch as the capture graph takes it: ``rnndyn.Args(x)`` unwrapped, and a dict keyed
    by input name put in the model's input order (as Keras does), refusing unknown or missing
    names. Models without a functional graph get ``data`` as it is."""
    data = _unwrap_args(data)
    graph = graph_of(model)
    if graph is None or not isinstance(data, dict):
        return data
    struct = graph._inputs_struct
    names = input_names(model) or []
    unknown = [k for k in data if k not in names]
    missing = [k for k in names if k not in data]
    if unknown or missing:
        said = "; ".join(
            part
            for part in (
                f"unknown name(s) {unknown}" if unknown else "",
                f"missing input(s) {missing}" if missing else "",
            )
            if part
        )
        raise RnndynError(
            f"inputs: a dict batch must be keyed by the model's input names {names} (any order, "
            f"each once); {said}. Name the arrays like the model's keras.Input(name=...) layers, "
            "or pass a list with one array per input in that order."
        )
    if isinstance(struct, dict):
        return {k: data[k] for k in names}
    if isinstance(struct, list | tuple):
        return [data[k] for k in names]
    return data[names[0]]


def input_list(model: Any, inputs: Any) -> bool:
    """Whether ``inputs``, a list or tuple, is a multi-input model's one argument (``model([a,
    b])``) rather than a list of examples: the model has a functional graph taking a list of
    k > 1 inputs and ``inputs`` holds arrays only. Refuses a wrong number of arrays, and arrays
    that do not hold the same number of sequences, naming each."""
    if type(inputs) not in (list, tuple) or not inputs:
        return False
    graph = graph_of(model)
    if graph is None or isinstance(graph._inputs_struct, dict) or len(graph._inputs) < 2:
        return False
    if not all(getattr(a, "shape", None) is not None and len(a.shape) >= 1 for a in inputs):
        return False
    names = input_names(model) or []
    what = f"inputs: a {type(inputs).__name__} of {len(inputs)} arrays"
    if len(inputs) != len(names):
        raise RnndynError(
            f"{what}, but the model takes {len(names)} inputs {names} (shapes {expected_shapes(model)}); "
            "a list of arrays is the model's inputs, as model([...]) takes them: pass one array per "
            "input in that order, or a dict keyed by input name."
        )
    counts = [int(a.shape[0]) if a.shape[0] is not None else None for a in inputs]
    if len({c for c in counts if c is not None}) > 1:
        listing = ", ".join(
            f"inputs[{j}] ({n!r}): {c}" for j, (n, c) in enumerate(zip(names, counts, strict=True))
        )
        raise RnndynError(
            f"{what}, the model's {len(names)} inputs, which do not hold the same number of sequences "
            f"along axis 0 ({listing}). Every input of the model must hold the same sequences, one "
            "row per sequence."
        )
    return True


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
