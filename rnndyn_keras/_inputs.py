"""Model inputs and stateful layers: checks before a batch runs, state put back after."""

from __future__ import annotations

from typing import Any

import numpy as np

from rnndyn.errors import RnndynError

from ._graph import graph_of

__all__ = [
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
