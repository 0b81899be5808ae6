"""Gate cells: Keras' own LSTM and GRU step, returning the gates as outputs.

Keras' recurrent layers return only ``h_t``. A *gate cell* wraps a layer's
cell (the same weight variables, nothing copied) and repeats its arithmetic
(``keras.layers.LSTMCell`` / ``GRUCell``, inference mode), but its output at
every step is the requested states side by side, e.g. ``[c_t, i_t, f_t, g_t,
o_t]``. Run by ``keras.layers.RNN(..., return_sequences=True)``, the states of
every step come out of the same compiled loop as ``h``: no second pass over the
sequences and no second matrix product. The cell's own activations are used,
custom ones included.

Gate names: LSTM ``i, f, g, o`` (input, forget, candidate -- Keras calls it
``c`` -- and output); GRU ``r, z, n`` (reset, update, candidate -- Keras' ``h``
block), as rnndyn_torch names them.

Used only when a capture asks for ``c`` or a gate: a layer whose ``h`` alone is
asked for runs as itself, on the backend's fused kernels (cuDNN, PyTorch's
LSTM) where Keras uses them.
"""

from __future__ import annotations

import functools
import itertools
from typing import Any

__all__ = ["STATES", "gate_cell"]

#: capturable states per cell kind, "h" first
STATES: dict[str, tuple[str, ...]] = {
    "LSTM": ("h", "c", "i", "f", "g", "o"),
    "GRU": ("h", "r", "z", "n"),
    "SimpleRNN": ("h",),
    "RNN": ("h",),
}

_uid = itertools.count()


def gate_cell(cell: Any, kind: str, states: tuple[str, ...]) -> Any:
    """A Keras RNN cell that steps like ``cell`` and outputs ``states``.

    Parameters
    ----------
    cell : keras.layers.LSTMCell or keras.layers.GRUCell
        Built (it has weights); shared, never changed.
    kind : {"LSTM", "GRU"}
    states : tuple of str
        Among ``STATES[kind]``; the output at every step is these states of
        that step, concatenated along the last axis in this order.

    Examples
    --------
    >>> import numpy as np, keras
    >>> lstm = keras.layers.LSTM(3, return_sequences=True)
    >>> x = np.random.default_rng(0).normal(size=(2, 4, 5)).astype("float32")
    >>> h = keras.ops.convert_to_numpy(lstm(x))
    >>> both = keras.layers.RNN(gate_cell(lstm.cell, "LSTM", ("c", "h")), return_sequences=True)
    >>> out = keras.ops.convert_to_numpy(both(x))
    >>> out.shape, bool(np.allclose(out[..., 3:], h, atol=1e-6))
    ((2, 4, 6), True)
    """
    bad = [s for s in states if s not in STATES.get(kind, ())]
    if kind not in ("LSTM", "GRU") or bad or not states:
        raise ValueError(f"gate_cell: states {states} of a {kind} cell; choose among {STATES.get(kind)}")
    cls = _lstm_class() if kind == "LSTM" else _gru_class()
    return cls(cell, tuple(states), name=f"rnndyn_gates_{next(_uid)}")


@functools.cache
def _base_class() -> type:
    import keras

    class GateCell(keras.layers.Layer):
        """Shares ``cell`` and its weights; ``output_size`` = units x states."""

        n_states = 1

        def __init__(self, cell: Any, states: tuple[str, ...], name: str) -> None:
            super().__init__(name=name, dtype=cell.dtype_policy)
            self.cell = cell
            self.states = states
            self.units = int(cell.units)
            self.output_size = self.units * len(states)
            # JAX's masked RNN loop repeats ``states[0]`` as the output of a masked step (it
            # assumes the first state is the previous output); there the cell carries its
            # previous output as an extra first state (zeros at the start, as elsewhere).
            self.carries_output = keras.backend.backend() == "jax"
            lead = [self.output_size] if self.carries_output else []
            self.state_size = lead + [self.units] * self.n_states
            self.built = True  # the weights are the cell's, built already

        def step(self, inputs: Any, states: Any) -> tuple[Any, list[Any]]:
            """The cell's own step on its own states (without the carried output)."""
            raise NotImplementedError

        def call(self, inputs: Any, states: Any, training: bool = False) -> Any:
            states = list(states) if keras.tree.is_nested(states) else [states]
            if not self.carries_output:
                return self.step(inputs, states)
            out, new = self.step(inputs, states[1:])
            return out, [out, *new]

        def full_initial_state(self, init: Any) -> Any:
            """``init`` (the layer's own initial states) with the carried output's zeros first."""
            if init is None or not self.carries_output:
                return init
            ops, flat = keras.ops, keras.tree.flatten(init)
            zeros = ops.repeat(ops.zeros_like(flat[0][:, :1]), self.output_size, axis=1)
            return [zeros, *flat]

        def get_initial_state(self, batch_size: Any = None) -> list[Any]:
            ops = keras.ops
            return [ops.zeros((batch_size, d), dtype=self.compute_dtype) for d in self.state_size]

        def _output(self, values: dict[str, Any]) -> Any:
            if len(self.states) == 1:
                return values[self.states[0]]
            return keras.ops.concatenate([values[s] for s in self.states], axis=-1)

    return GateCell


@functools.cache
def _lstm_class() -> type:
    import keras

    class LSTMGates(_base_class()):  # type: ignore[misc]
        """``keras.layers.LSTMCell.call`` (inference), every gate kept."""

        n_states = 2

        def step(self, inputs: Any, states: Any) -> tuple[Any, list[Any]]:
            ops, cell = keras.ops, self.cell
            h_tm1, c_tm1 = states[0], states[1]
            z = ops.matmul(inputs, cell.kernel)
            z = ops.add(z, ops.matmul(h_tm1, cell.recurrent_kernel))
            if cell.use_bias:
                z = ops.add(z, cell.bias)
            z_i, z_f, z_g, z_o = ops.split(z, 4, axis=1)
            i = cell.recurrent_activation(z_i)
            f = cell.recurrent_activation(z_f)
            g = cell.activation(z_g)
            c = f * c_tm1 + i * g
            o = cell.recurrent_activation(z_o)
            h = o * cell.activation(c)
            return self._output({"h": h, "c": c, "i": i, "f": f, "g": g, "o": o}), [h, c]

    return LSTMGates


@functools.cache
def _gru_class() -> type:
    import keras

    class GRUGates(_base_class()):  # type: ignore[misc]
        """``keras.layers.GRUCell.call`` (inference), every gate kept."""

        def step(self, inputs: Any, states: Any) -> tuple[Any, list[Any]]:
            ops, cell, u = keras.ops, self.cell, self.units
            h_tm1 = states[0]
            x = ops.matmul(inputs, cell.kernel)
            rec_bias = None
            if cell.use_bias:
                if cell.reset_after:
                    x = ops.add(x, cell.bias[0])
                    rec_bias = cell.bias[1]
                else:
                    x = ops.add(x, cell.bias)
            x_z, x_r, x_h = ops.split(x, 3, axis=-1)
            if cell.reset_after:
                inner = ops.matmul(h_tm1, cell.recurrent_kernel)
                if rec_bias is not None:
                    inner = ops.add(inner, rec_bias)
                rec_z, rec_r, rec_h = ops.split(inner, 3, axis=-1)
            else:
                inner = ops.matmul(h_tm1, cell.recurrent_kernel[:, : 2 * u])
                rec_z, rec_r = ops.split(inner, 2, axis=-1)
            z = cell.recurrent_activation(x_z + rec_z)
            r = cell.recurrent_activation(x_r + rec_r)
            if cell.reset_after:
                rec_h = r * rec_h
            else:
                rec_h = ops.matmul(r * h_tm1, cell.recurrent_kernel[:, 2 * u :])
            n = cell.activation(x_h + rec_h)
            h = z * h_tm1 + (1 - z) * n
            return self._output({"h": h, "r": r, "z": z, "n": n}), [h]

    return GRUGates
