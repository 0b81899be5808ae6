"""The step map of a Flax layer: its recurrence as a framework-free cell of :mod:`rnndyn.dynamics`.

What :func:`step_map` returns per direction of a layer:

* ``nnx.LSTMCell`` and ``nnx.OptimizedLSTMCell`` with Flax's default
  activations (``sigmoid`` gates, ``tanh``): an
  :class:`~rnndyn.dynamics.LSTMCell` (``W = kernel.T``, gates ``i, f, g, o``,
  ``b`` the hidden layers' bias); state ``s = [h, c]``.
* ``nnx.GRUCell`` with the default activations: a
  :class:`~rnndyn.dynamics.GRUCell` (``reset_after=True``: Flax computes
  ``n = tanh(W_in x + b_in + r * (W_hn h))``).
* ``nnx.SimpleCell`` (``tanh`` or ``relu``, not ``residual``): a
  :class:`~rnndyn.dynamics.RNNCell`.
* Any other cell (other activations, ``residual=True``, a user's cell whose
  carry is one array): a :class:`~rnndyn.dynamics.StepCell` that calls the
  cell itself in float64 (``jax.enable_x64``) and differentiates it with
  :func:`jax.jacfwd`, batched with :func:`jax.vmap`.

The parameters are copied to float64 NumPy arrays; the model is not changed.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from rnndyn.errors import PluginError

from ._layers import cell_kind, discover

__all__ = ["step_map", "cell_step_map"]


def _w(linear: Any) -> np.ndarray:
    """``W`` of ``y = W x`` (Flax kernels are ``(in, out)``), float64."""
    return np.asarray(linear.kernel[...], np.float64).T


def _b(linear: Any, size: int) -> np.ndarray:
    bias = getattr(linear, "bias", None)
    return np.zeros(size) if bias is None else np.asarray(bias[...], np.float64)


def _default(fn: Any, *names: str) -> bool:
    return any(fn is getattr(nnx, name, None) or fn is getattr(jax.nn, name, None) for name in names) or any(
        fn is getattr(jnp, name, None) for name in names
    )


def _typed(cell: Any, kind: str) -> Any | None:
    """The typed cell of :mod:`rnndyn.dynamics` for Flax's own cells with standard activations."""
    from rnndyn.dynamics import GRUCell, LSTMCell, RNNCell

    H = int(cell.hidden_features)
    if kind == "RNN":
        act = next((a for a in ("tanh", "relu") if _default(cell.activation_fn, a)), None)
        if act is None or getattr(cell, "residual", False):
            return None
        b = _b(cell.dense_i, H) + _b(cell.dense_h, H)
        return RNNCell(_w(cell.dense_i), _w(cell.dense_h), b, activation=act)
    if not (_default(cell.gate_fn, "sigmoid") and _default(cell.activation_fn, "tanh")):
        return None
    if kind == "GRU":
        return GRUCell(_w(cell.dense_i), _w(cell.dense_h), _b(cell.dense_i, 3 * H), _b(cell.dense_h, 3 * H))
    if hasattr(cell, "dense_i"):  # OptimizedLSTMCell: gates i, f, g, o side by side
        W_ih, W_hh = _w(cell.dense_i), _w(cell.dense_h)
        b = _b(cell.dense_i, 4 * H) + _b(cell.dense_h, 4 * H)
    else:
        pairs = ((cell.ii, cell.hi), (cell.if_, cell.hf), (cell.ig, cell.hg), (cell.io, cell.ho))
        W_ih = np.concatenate([_w(i) for i, _ in pairs])
        W_hh = np.concatenate([_w(h) for _, h in pairs])
        b = np.concatenate([_b(i, H) + _b(h, H) for i, h in pairs])
    return LSTMCell(W_ih, W_hh, b)


def _float64(tree: Any) -> Any:
    def cast(a: Any) -> Any:
        return jnp.asarray(a, jnp.float64) if jnp.issubdtype(jnp.asarray(a).dtype, jnp.floating) else a

    return jax.tree_util.tree_map(cast, tree)


def _step_cell(cell: Any, kind: str | None, input_size: int) -> Any:
    """A :class:`~rnndyn.dynamics.StepCell` calling ``cell`` in float64; Jacobian by ``jax.jacfwd``."""
    from rnndyn.dynamics import StepCell

    graphdef, state = nnx.split(cell)
    H = int(getattr(cell, "hidden_features", 0) or 0)
    lstm = kind == "LSTM"
    if not H:
        raise PluginError(
            f"rnndyn_flax builds a step map of a {type(cell).__name__} from its hidden_features, which "
            "it does not have; give the cell a hidden_features attribute (as Flax's cells do)."
        )

    def one(s: Any, x: Any) -> Any:
        twin = nnx.merge(graphdef, _float64(state))
        for _, module in nnx.iter_modules(twin):  # compute dtypes (Linear(dtype=float32)) too
            if getattr(module, "dtype", None) is not None:
                module.dtype = jnp.float64
        carry = (s[H:], s[:H]) if lstm else s
        new, _ = twin(carry, x)
        if lstm:
            return jnp.concatenate([new[1], new[0]])
        if not isinstance(new, jax.Array) or new.shape != (H,):
            raise PluginError(
                f"rnndyn_flax builds a step map of a cell whose carry is one array of hidden_features={H}"
                f" values; {type(cell).__name__} returned a carry of type {type(new).__name__}."
            )
        return new

    step_b = jax.jit(jax.vmap(one))
    jac_b = jax.jit(jax.vmap(jax.jacfwd(one)))

    def run(f: Any, s: Any, x: Any) -> np.ndarray:
        with jax.enable_x64(True):
            return np.asarray(f(jnp.asarray(s, jnp.float64), jnp.asarray(x, jnp.float64)), np.float64)

    dim = 2 * H if lstm else H
    return StepCell(
        lambda s, x: run(step_b, s, x),
        lambda s, x: run(jac_b, s, x),
        dim=dim,
        input_size=input_size,
        state_names=("h", "c") if lstm else ("h",),
    )


def cell_step_map(cell: Any) -> Any:
    """The framework-free cell of one Flax cell: typed when it can be, else a :class:`StepCell`.

    Examples
    --------
    >>> cell = cell_step_map(nnx.GRUCell(2, 3, rngs=nnx.Rngs(0)))
    >>> type(cell).__name__, cell.dim, cell.input_size
    ('GRUCell', 3, 2)
    """
    kind = cell_kind(cell)
    typed = None if kind is None else _typed(cell, kind)
    if typed is not None:
        return typed
    size = int(getattr(cell, "in_features", 0) or 0)
    return _step_cell(cell, kind, size)


def step_map(model: Any, layer: str) -> dict[str, Any] | None:
    """``{"forward": cell}`` (plus ``"backward"``) for the layer named ``layer``, or ``None``.

    Examples
    --------
    >>> rnn = nnx.Bidirectional(
    ...     nnx.RNN(nnx.LSTMCell(2, 3, rngs=nnx.Rngs(0))), nnx.RNN(nnx.LSTMCell(2, 3, rngs=nnx.Rngs(1)))
    ... )
    >>> {d: (type(c).__name__, c.dim) for d, c in step_map(rnn, "bidirectional").items()}
    {'forward': ('LSTMCell', 6), 'backward': ('LSTMCell', 6)}
    """
    entry = discover(model).get(layer)
    if entry is None:
        return None
    if entry.cell is not None:  # a cell driven by jax.lax.scan
        return {"forward": cell_step_map(entry.cell)}
    return {direction: cell_step_map(rnn.cell) for direction, rnn in entry.rnns}
