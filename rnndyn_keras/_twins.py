"""Twin recurrences and the layout of a layer's columns, in Keras ops.

A *twin* of one direction of a target layer shares the layer's cell (the same
weight variables), returns every step and never keeps state. :func:`columns`
runs one twin per direction and lays their outputs out as the layer's columns
of the result (:func:`columns_of`): state by state, forward then backward,
everything in input order. The same code builds the capture graph
(:class:`~rnndyn_keras._graph.GraphRunner`, symbolic tensors) and runs eagerly
(:class:`~rnndyn_keras._graph.InterceptRunner`).
"""

from __future__ import annotations

import functools
import itertools
from typing import Any

from ._gates import gate_cell
from ._layers import Target

__all__ = ["make_twin", "twins_of", "columns_of", "columns", "wanted"]

_uid = itertools.count()


def wanted(states: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """The distinct states of ``states``, in order of first appearance.

    Examples
    --------
    >>> wanted(["c", "h", "c", "f"])
    ('c', 'h', 'f')
    """
    return tuple(dict.fromkeys(states))


def columns_of(target: Target, states: tuple[str, ...]) -> list[tuple[str, str]]:
    """``(state, direction)`` of each block of ``target.n_units`` columns, in order."""
    return [(s, d) for s in states for d in target.directions]


def make_twin(sub: Any, kind: str, states: tuple[str, ...]) -> Any:
    """A stateless ``return_sequences=True`` twin of ``sub`` that outputs ``states``.

    ``("h",)`` alone: a copy of ``sub`` sharing its cell (Keras' own kernels,
    fused ones included). Anything else: an ``RNN`` of a gate cell.
    """
    import keras

    name = f"rnndyn_twin_{next(_uid)}"
    if states != ("h",):
        twin = keras.layers.RNN(
            gate_cell(sub.cell, kind, states),
            return_sequences=True,
            go_backwards=sub.go_backwards,
            unroll=sub.unroll,
            name=name,
            dtype=sub.dtype_policy,
        )
    elif type(sub) in (keras.layers.LSTM, keras.layers.GRU, keras.layers.SimpleRNN):
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
    twin.zero_output_for_mask = False  # masked steps repeat the previous output
    return twin


def twins_of(target: Target, states: tuple[str, ...]) -> list[Any]:
    """One twin per direction of ``target`` (see :func:`make_twin`)."""
    return [make_twin(sub, kind, states) for (_, sub), kind in zip(target.parts, target.kinds, strict=True)]


def columns(
    target: Target,
    states: tuple[str, ...],
    twins: list[Any],
    x: Any,
    inits: list[Any],
    mask: Any,
) -> Any:
    """The layer's columns (batch, n_steps, units x states x directions).

    ``twins`` (one per direction, from :func:`make_twin`) run on ``x``; a
    backward twin's output is flipped into input order. One direction: the
    twin's output itself; two: interleaved state by state
    (:func:`_interleave_class`).
    """
    import keras

    outs = []
    for (_, sub), twin, init in zip(target.parts, twins, inits, strict=True):
        full = getattr(twin.cell, "full_initial_state", None)
        if full is not None:
            init = full(init)
        y = twin(x, initial_state=init, mask=mask, training=False)
        outs.append(keras.ops.flip(y, axis=1) if sub.go_backwards else y)
    if len(outs) == 1:
        return outs[0]
    interleave = _interleave_class()(len(states), target.n_units, name=f"rnndyn_columns_{next(_uid)}")
    return interleave(outs[0], outs[1])


@functools.cache
def _interleave_class() -> type:
    import keras

    class RnndynInterleave(keras.layers.Layer):
        """``[a_1, b_1, a_2, b_2, ...]`` from ``a = [a_1, a_2, ...]`` and ``b``, blocks of ``units``.

        One concatenation along a new axis of free reshapes (slicing the
        blocks out one by one would copy everything twice).
        """

        def __init__(self, n_blocks: int, units: int, name: str) -> None:
            super().__init__(name=name)
            self.n_blocks, self.units = n_blocks, units

        def call(self, a: Any, b: Any) -> Any:
            ops = keras.ops
            shape = ops.shape(a)
            blocks = (-1, self.n_blocks, 1, self.units)
            both = ops.concatenate([ops.reshape(a, blocks), ops.reshape(b, blocks)], axis=2)
            return ops.reshape(both, (shape[0], shape[1], 2 * self.n_blocks * self.units))

        def compute_output_shape(self, a_shape: Any, b_shape: Any) -> tuple[Any, ...]:
            return (a_shape[0], a_shape[1], 2 * self.n_blocks * self.units)

        def compute_mask(self, a: Any, previous_mask: Any = None) -> None:
            return None

    return RnndynInterleave
