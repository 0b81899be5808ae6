"""The step map of a Keras layer: its recurrence as a framework-free cell of :mod:`rnndyn.dynamics`.

What :func:`step_map` returns per layer (every direction of a ``Bidirectional``
separately, each with its own weights):

* ``LSTM`` (or ``RNN(LSTMCell)``) with Keras' default activations (``tanh``,
  ``recurrent_activation="sigmoid"``): an :class:`~rnndyn.dynamics.LSTMCell`
  with ``W_ih = kernel.T``, ``W_hh = recurrent_kernel.T`` and ``bias`` (Keras'
  gate order i, f, c, o is the canonical i, f, g, o); state ``s = [h, c]``.
* ``GRU`` with default activations: a :class:`~rnndyn.dynamics.GRUCell`, the
  blocks reordered from Keras' z, r, h to r, z, n; ``reset_after=True``:
  bias row 0 is ``b_ih``, row 1 ``b_hh``; ``reset_after=False``:
  ``b_ih = bias``, ``b_hh = 0``.
* ``SimpleRNN`` with ``tanh``, ``relu`` or ``linear``: an
  :class:`~rnndyn.dynamics.RNNCell`.
* Anything else (``RNN(cell)`` with a custom cell, or one of the above with
  other activations such as ``hard_sigmoid``): a
  :class:`~rnndyn.dynamics.StepCell` that calls the layer's own cell, in
  float64 when the cell can be rebuilt in float64 from its config (else in
  the cell's own dtype), and differentiates it with the backend (TensorFlow:
  ``GradientTape.batch_jacobian``; PyTorch: reverse-mode autograd). On other
  backends such a cell has no step map (``None``). On the PyTorch backend,
  Keras' type promotion runs ``keras.ops.matmul`` in float32 even for float64
  operands, so such a StepCell is only float32-accurate there (about 1e-7;
  the Jacobian is exact for the function computed).

The backward layer of a ``Bidirectional`` reads the inputs from the last step
to the first: its state at step ``t`` is ``cell.step(state at t + 1, x[t])``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnndyn._step_cell import autograd_jacobian
from rnndyn.errors import PluginError

from ._layers import find_targets

__all__ = ["step_map", "keras_step_cell"]


def step_map(model: Any, layer: str) -> dict[str, Any] | None:
    """``{"forward": cell}`` (plus ``"backward"``) for the layer named ``layer``, or ``None``.

    ``None`` when the model has no recurrent layer of that name, or a cell
    the backend cannot differentiate.

    Examples
    --------
    >>> import keras
    >>> model = keras.Sequential([keras.Input((5, 3)), keras.layers.GRU(4, name="gru")])
    >>> cell = step_map(model, "gru")["forward"]
    >>> type(cell).__name__, cell.input_size, cell.dim
    ('GRUCell', 3, 4)
    """
    target = {t.name: t for t in find_targets(model)}.get(layer)
    if target is None:
        return None
    out = {}
    for (direction, rnn), kind in zip(target.parts, target.kinds, strict=True):
        cell = _cell(rnn.cell, kind)
        if cell is None:
            return None
        out[direction] = cell
    return out


def _np(v: Any) -> np.ndarray:
    import keras

    return np.asarray(keras.ops.convert_to_numpy(v), dtype=np.float64)


def _is(fn: Any, name: str) -> bool:
    import keras

    return fn is getattr(keras.activations, name)


def _cell(cell: Any, kind: str) -> Any:
    from rnndyn.dynamics import GRUCell, LSTMCell, RNNCell

    if kind in ("LSTM", "GRU") and _is(cell.activation, "tanh") and _is(cell.recurrent_activation, "sigmoid"):
        W, U = _np(cell.kernel), _np(cell.recurrent_kernel)
        bias = _np(cell.bias) if cell.use_bias else None
        if kind == "LSTM":
            return LSTMCell(W.T, U.T, bias)
        H = int(cell.units)
        perm = np.concatenate([np.arange(H, 2 * H), np.arange(H), np.arange(2 * H, 3 * H)])  # z,r,h -> r,z,n
        b_ih = b_hh = None
        if bias is not None:
            b_ih, b_hh = (bias[0][perm], bias[1][perm]) if cell.reset_after else (bias[perm], None)
        return GRUCell(W[:, perm].T, U[:, perm].T, b_ih, b_hh, reset_after=bool(cell.reset_after))
    if kind == "SimpleRNN":
        act = next((a for a in ("tanh", "relu", "linear") if _is(cell.activation, a)), None)
        if act is not None:
            bias = _np(cell.bias) if cell.use_bias else None
            return RNNCell(_np(cell.kernel).T, _np(cell.recurrent_kernel).T, bias, activation=act)
    return keras_step_cell(cell)


def _input_size(cell: Any) -> int:
    shapes = getattr(cell, "_build_shapes_dict", None) or {}
    for shape in shapes.values():
        if isinstance(shape, (tuple, list)) and shape and isinstance(shape[-1], int):
            return int(shape[-1])
    kernel = getattr(cell, "kernel", None)
    if kernel is not None and len(kernel.shape) == 2:
        return int(kernel.shape[0])
    raise PluginError(
        f"the Keras cell {cell.name!r} ({type(cell).__name__}) does not say its input size (it was "
        "not built from an input shape), so rnndyn cannot give its step map; build the model "
        "on an Input first."
    )


def _float64_twin(cell: Any, n_in: int) -> Any:
    """``cell`` rebuilt in float64 with the same weights, or ``cell`` itself if that fails."""
    try:
        twin = type(cell).from_config({**cell.get_config(), "dtype": "float64"})
        twin.build((None, n_in))
        weights = cell.get_weights()
        if [w.shape for w in weights] != [tuple(v.shape) for v in twin.weights]:
            return cell
        twin.set_weights([np.asarray(w, dtype=np.float64) for w in weights])
        return twin
    except Exception:
        return cell


def keras_step_cell(cell: Any) -> Any:
    """A :class:`~rnndyn.dynamics.StepCell` that calls a Keras RNN cell (inference mode).

    The state vector is the cell's states side by side (``[h, c]`` for an
    LSTM-like cell with two states of equal size). The cell runs in float64
    when it can be rebuilt from its config (``get_config`` / ``from_config``)
    with the same weights, else in its own dtype. The Jacobian comes from the
    backend: ``tf.GradientTape.batch_jacobian`` (TensorFlow), autograd
    (PyTorch) or ``jax.vmap(jax.jacfwd(...))`` (JAX). Returns ``None`` on other
    backends. On the PyTorch backend
    ``keras.ops.matmul`` computes in float32 whatever the dtype (Keras' type
    promotion), so the step is float32-accurate there.

    Examples
    --------
    >>> import keras, numpy as np
    >>> layer = keras.layers.SimpleRNN(3, activation="softsign")
    >>> _ = layer(np.zeros((1, 2, 4), "float32"))
    >>> cell = keras_step_cell(layer.cell)
    >>> cell.dim, cell.input_size, cell.jacobian(np.zeros((6, 3)), np.ones((6, 4))).shape
    (3, 4, (6, 3, 3))
    """
    import keras

    from rnndyn.dynamics import StepCell

    backend = keras.backend.backend()
    if backend not in ("tensorflow", "torch", "jax"):
        return None
    structure = cell.state_size
    nested = keras.tree.is_nested(structure)
    sizes = [int(s) for s in keras.tree.flatten(structure)] if nested else [int(structure)]
    if len(set(sizes)) != 1:
        raise PluginError(
            f"the Keras cell {cell.name!r} ({type(cell).__name__}) has states of sizes {sizes}; "
            "rnndyn's StepCell needs states of one size (the state vector is cut into equal "
            "blocks). Implement the hook rnndyn_step_map for this layer (see docs/plugins.md)."
        )
    n_in = _input_size(cell)
    twin = _float64_twin(cell, n_in)
    dtype = keras.backend.standardize_dtype(twin.compute_dtype)
    names = ("h", "c") if len(sizes) == 2 else ("h",) + tuple(f"s{k}" for k in range(1, len(sizes)))
    bounds = np.cumsum([0] + sizes)

    def call(s: Any, x: Any) -> Any:
        parts = [s[:, int(a) : int(b)] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
        states = keras.tree.pack_sequence_as(structure, parts) if nested else parts
        kwargs = {"training": False} if twin._call_has_training_arg else {}
        _, new = twin(x, states, **kwargs)
        flat = keras.tree.flatten(new) if keras.tree.is_nested(new) else [new]
        return keras.ops.concatenate(flat, axis=-1) if len(flat) > 1 else flat[0]

    def as_backend(a: Any) -> Any:
        return keras.ops.convert_to_tensor(np.asarray(a, dtype=dtype), dtype=dtype)

    def step(s: Any, x: Any) -> np.ndarray:
        return np.asarray(keras.ops.convert_to_numpy(call(as_backend(s), as_backend(x))), np.float64)

    if backend == "tensorflow":
        import tensorflow as tf

        def jacobian(s: Any, x: Any) -> np.ndarray:
            s, x = as_backend(s), as_backend(x)
            with tf.GradientTape() as tape:
                tape.watch(s)
                out = call(s, x)
            J = tape.batch_jacobian(out, s, unconnected_gradients=tf.UnconnectedGradients.ZERO)
            return np.asarray(J.numpy(), np.float64)

    elif backend == "jax":
        import jax

        def one(si: Any, xi: Any) -> Any:
            return call(si[None], xi[None])[0]

        per_state = jax.vmap(jax.jacfwd(one), in_axes=(0, 0))

        def jacobian(s: Any, x: Any) -> np.ndarray:
            return np.asarray(per_state(as_backend(s), as_backend(x)), np.float64)

    else:

        def jacobian(s: Any, x: Any) -> np.ndarray:
            J = autograd_jacobian(call, as_backend(s), as_backend(x))
            return np.asarray(J.cpu().numpy(), np.float64)

    return StepCell(step, jacobian, dim=sum(sizes), input_size=n_in, state_names=names)
