"""NumPy arithmetic of the Keras cells: gates and cell state from known ``h``.

Keras' fused kernels return only the output ``h_t``. Once every ``h_{t-1}`` is
known, every gate pre-activation of every step is one batched matrix product
(``x_t @ kernel + h_{t-1} @ recurrent_kernel + bias``), and the LSTM cell state
is the elementwise recurrence ``c_t = f_t c_{t-1} + i_t g_t``. Everything here
works in a direction's *processing order* (time reversed for a backward
recurrence) on whole ``(batch, units)`` arrays; the caller flips back.

Gate names: LSTM ``i, f, g, o`` (input, forget,
candidate -- Keras calls it ``c`` -- and output); GRU ``r, z, n`` (reset,
update, candidate -- Keras' ``h`` block), as rnndyn_torch names them.

Masked steps (Keras skips them) hold the value of the previous processed step;
before the first real step that is the initial state for ``h``/``c`` and 0 for
a gate.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
from scipy import special

__all__ = [
    "STATES",
    "numpy_activation",
    "hold_masked",
    "lstm_states",
    "gru_states",
]

#: capturable states per cell kind, "h" first
STATES: dict[str, tuple[str, ...]] = {
    "LSTM": ("h", "c", "i", "f", "g", "o"),
    "GRU": ("h", "r", "z", "n"),
    "SimpleRNN": ("h",),
    "RNN": ("h",),
}

#: activations here may overwrite their argument (a scratch buffer) and return it
Activation = Callable[[np.ndarray], np.ndarray]


def _sigmoid_(a: np.ndarray) -> np.ndarray:
    # sigmoid(x) = (1 + tanh(x / 2)) / 2: in place, ~4x faster than scipy's expit
    a *= 0.5
    np.tanh(a, out=a)
    a *= 0.5
    a += 0.5
    return a


def _hard_sigmoid_(a: np.ndarray) -> np.ndarray:
    # Keras 3: relu6(x + 3) / 6 == clip(x / 6 + 0.5, 0, 1)
    a /= 6.0
    a += 0.5
    return np.clip(a, 0.0, 1.0, out=a)


_NUMPY_ACTIVATIONS: dict[str, Activation] = {
    "tanh": lambda a: np.tanh(a, out=a),
    "sigmoid": _sigmoid_,
    "hard_sigmoid": _hard_sigmoid_,
    "relu": lambda a: np.maximum(a, 0.0, out=a),
    "relu6": lambda a: np.clip(a, 0.0, 6.0, out=a),
    "linear": lambda a: a,
    "softsign": lambda a: a / (1 + np.abs(a)),
    "softplus": lambda a: np.logaddexp(np.asarray(0, a.dtype), a),
    "exponential": lambda a: np.exp(a, out=a),
    "silu": lambda a: a * special.expit(a),
}


def numpy_activation(name: str | None, fallback: Activation) -> Activation:
    """The NumPy twin of a Keras activation called ``name``, else ``fallback``.

    ``fallback`` evaluates the Keras function itself (e.g. on the backend) for
    activations without a NumPy twin here (custom ones included).

    Examples
    --------
    >>> numpy_activation("hard_sigmoid", None)(np.array([-4.0, 0.0, 1.5, 4.0])).tolist()
    [0.0, 0.5, 0.75, 1.0]
    """
    if name in _NUMPY_ACTIVATIONS:
        return _NUMPY_ACTIVATIONS[name]
    return fallback


def hold_masked(values: np.ndarray, valid: np.ndarray | None, init: np.ndarray | None) -> np.ndarray:
    """Replace masked steps by the previous step's value (``init`` before the first).

    Parameters
    ----------
    values : array of shape (batch, n_steps, units)
        In processing order.
    valid : bool array of shape (batch, n_steps) or None
        True on steps the recurrence read; ``None`` means every step.
    init : array of shape (batch, units) or None
        Value before the first step (zeros when ``None``).

    Examples
    --------
    >>> v = np.arange(4.0).reshape(1, 4, 1)
    >>> hold_masked(v, np.array([[True, True, False, False]]), None)[0, :, 0].tolist()
    [0.0, 1.0, 1.0, 1.0]
    >>> hold_masked(v, np.array([[False, False, True, True]]), None)[0, :, 0].tolist()
    [0.0, 0.0, 2.0, 3.0]
    """
    if valid is None or bool(valid.all()):
        return values
    out = np.array(values, copy=True)
    prev = np.zeros_like(out[:, 0]) if init is None else np.asarray(init, out.dtype)
    for t in range(out.shape[1]):
        keep = valid[:, t, None]
        out[:, t] = np.where(keep, out[:, t], prev)
        prev = out[:, t]
    return out


def _previous(h: np.ndarray, h0: np.ndarray) -> np.ndarray:
    """``h_{t-1}`` for every step: ``h0`` then ``h[:, :-1]``."""
    return np.concatenate([np.asarray(h0, h.dtype)[:, None], h[:, :-1]], axis=1)


def _project(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``x @ w`` over every (sequence, step) at once, as one matrix product."""
    b, t, d = x.shape
    return (np.ascontiguousarray(x).reshape(b * t, d) @ w).reshape(b, t, w.shape[1])


def _scratch(work: dict[str, np.ndarray] | None, key: str, shape: tuple[int, ...]) -> np.ndarray:
    """A float32 buffer kept in ``work`` between batches (fresh pages are slow to fault in)."""
    if work is None:
        return np.empty(shape, np.float32)
    buf = work.get(key)
    if buf is None or buf.shape != shape:
        buf = work[key] = np.empty(shape, np.float32)
    return buf


def _preactivations(
    x: np.ndarray,
    h: np.ndarray,
    h0: np.ndarray,
    kernel: np.ndarray,
    recurrent_kernel: np.ndarray,
    bias: np.ndarray | None,
    blocks: list[int],
    work: dict[str, np.ndarray] | None = None,
) -> np.ndarray:
    """``[x_t, h_{t-1}] @ [kernel; recurrent_kernel] + bias`` for every step and gate.

    One batched matrix product over the gate blocks ``blocks`` (indices of
    ``units``-wide column blocks); returns float32 of shape
    ``(len(blocks), batch, n_steps, units)``, each gate contiguous.
    """
    b, t, d = x.shape
    u = h.shape[2]
    xh = _scratch(work, "xh", (b, t, d + u))
    xh[:, :, :d] = x
    xh[:, 0, d:] = h0
    xh[:, 1:, d:] = h[:, :-1]
    w = np.concatenate([kernel, recurrent_kernel], axis=0).astype(np.float32, copy=False)
    w = np.stack([w[:, k * u : (k + 1) * u] for k in blocks])  # (gates, d + u, u)
    pre = np.matmul(xh.reshape(1, b * t, d + u), w, out=_scratch(work, "pre", (len(blocks), b * t, u)))
    if bias is not None:
        bias = np.asarray(bias, np.float32)
        pre += np.stack([bias[k * u : (k + 1) * u] for k in blocks])[:, None, :]
    return pre.reshape(len(blocks), b, t, u)


def lstm_states(
    x: np.ndarray,
    h: np.ndarray,
    *,
    h0: np.ndarray,
    c0: np.ndarray,
    valid: np.ndarray | None,
    kernel: np.ndarray,
    recurrent_kernel: np.ndarray,
    bias: np.ndarray | None,
    activation: Activation,
    recurrent_activation: Activation,
    want: Iterable[str],
    work: dict[str, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """Cell state and gates of a Keras LSTM from its inputs and outputs.

    Parameters
    ----------
    x : array of shape (batch, n_steps, input_dim)
        The layer's input, in processing order.
    h : array of shape (batch, n_steps, units)
        Its output at every step (masked steps already held), processing order.
    h0, c0 : arrays of shape (batch, units)
        Initial states.
    valid : bool array of shape (batch, n_steps) or None
        Steps the recurrence read.
    kernel, recurrent_kernel, bias
        The cell's weights, gate blocks in Keras order ``i, f, c, o``.
    activation, recurrent_activation : callables on arrays (may work in place)
    want : iterable of {"c", "i", "f", "g", "o"}
    work : dict, optional
        Scratch buffers reused from batch to batch; the results then live in
        them until the next call with the same ``work``.

    Returns
    -------
    dict
        State name -> float32 array of shape (batch, n_steps, units), processing
        order.

    Examples
    --------
    >>> u = 2; w = np.zeros((1, 4 * u)); x = np.ones((1, 3, 1)); h = np.zeros((1, 3, u))
    >>> out = lstm_states(x, h, h0=np.zeros((1, u)), c0=np.zeros((1, u)), valid=None,
    ...     kernel=w, recurrent_kernel=np.zeros((u, 4 * u)), bias=None, activation=np.tanh,
    ...     recurrent_activation=lambda a: a * 0 + 0.5, want=["f", "c"])
    >>> out["f"][0, :, 0].tolist(), out["c"][0, :, 0].tolist()
    ([0.5, 0.5, 0.5], [0.0, 0.0, 0.0])
    """
    want = [w for w in want if w != "h"]
    blocks = {"i": 0, "f": 1, "g": 2, "o": 3}
    need = {w for w in want if w in blocks}
    if "c" in want:
        need |= {"i", "f", "g"}
    order = [g for g in blocks if g in need]
    if not order:
        return {}
    pre = _preactivations(x, h, h0, kernel, recurrent_kernel, bias, [blocks[g] for g in order], work)
    gates: dict[str, np.ndarray] = {}
    for k, g in enumerate(order):
        fn = activation if g == "g" else recurrent_activation
        gates[g] = np.asarray(fn(pre[k]), dtype=np.float32)
    out: dict[str, np.ndarray] = {}
    if "c" in want:
        c = _scratch(work, "c", h.shape)
        prev = np.asarray(c0, np.float32)
        i, f, g = gates["i"], gates["f"], gates["g"]
        for t in range(c.shape[1]):
            new = c[:, t]
            np.multiply(f[:, t], prev, out=new)
            new += i[:, t] * g[:, t]
            if valid is not None:
                np.copyto(new, prev, where=~valid[:, t, None])
            prev = new
        out["c"] = c
    for g in order:
        if g in want:
            out[g] = hold_masked(gates[g], valid, None)
    return out


def gru_states(
    x: np.ndarray,
    h: np.ndarray,
    *,
    h0: np.ndarray,
    valid: np.ndarray | None,
    kernel: np.ndarray,
    recurrent_kernel: np.ndarray,
    bias: np.ndarray | None,
    reset_after: bool,
    activation: Activation,
    recurrent_activation: Activation,
    want: Iterable[str],
    work: dict[str, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """Gates of a Keras GRU (``r``, ``z``, ``n``) from its inputs and outputs.

    Follows ``keras.layers.GRUCell``: ``h_t = z h_{t-1} + (1 - z) n``, with
    ``n = act(x W_h + b_h + r * (h_{t-1} U_h + b'_h))`` when ``reset_after``
    (bias of shape ``(2, 3 units)``: input and recurrent rows), else
    ``n = act(x W_h + b_h + (r * h_{t-1}) U_h)``. Arguments as for
    :func:`lstm_states`; ``want`` among ``{"r", "z", "n"}``.
    """
    want = [w for w in want if w != "h"]
    if not want:
        return {}
    u = h.shape[2]
    b_in = b_rec = None
    if bias is not None:
        bias = np.asarray(bias, np.float32)
        b_in, b_rec = (bias[0], bias[1]) if reset_after else (bias, None)
    kernel = np.asarray(kernel, np.float32)
    rk = np.asarray(recurrent_kernel, np.float32)
    both = None
    if b_in is not None:
        both = b_in[: 2 * u] + (0 if b_rec is None else b_rec[: 2 * u])
    pre = _preactivations(x, h, h0, kernel[:, : 2 * u], rk[:, : 2 * u], both, [0, 1], work)
    z = np.asarray(recurrent_activation(pre[0]), np.float32)
    r = np.asarray(recurrent_activation(pre[1]), np.float32)
    out: dict[str, Any] = {"z": z, "r": r}
    if "n" in want:
        xh = _project(np.asarray(x, np.float32), kernel[:, 2 * u :])
        if b_in is not None:
            xh += b_in[2 * u :]
        hp = _previous(h, h0)
        if reset_after:
            rec = _project(hp, rk[:, 2 * u :])
            if b_rec is not None:
                rec += b_rec[2 * u :]
            rec *= r
        else:
            rec = _project(r * hp, rk[:, 2 * u :])
        xh += rec
        out["n"] = np.asarray(activation(xh), np.float32)
    return {k: hold_masked(out[k], valid, None) for k in want}
