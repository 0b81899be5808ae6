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

from collections.abc import Callable

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


#: bytes of gate pre-activations per chunk of sequences: large enough for an
#: efficient matrix product (OpenBLAS slows down on small ones), small enough to
#: bound the scratch memory (measured on a 2-core CPU: 16-64 MB all alike)
CHUNK_BYTES = 1 << 25


def _chunk_size(n_steps: int, width: int) -> int:
    return max(1, CHUNK_BYTES // max(1, 4 * n_steps * width))


def _scratch(work: dict[str, np.ndarray] | None, key: str, shape: tuple[int, ...]) -> np.ndarray:
    """A float32 buffer kept in ``work`` from batch to batch (fresh pages are slow)."""
    if work is None:
        return np.empty(shape, np.float32)
    buf = work.get(key)
    if buf is None or buf.shape != shape:
        buf = work[key] = np.empty(shape, np.float32)
    return buf


def _gate_major(w: np.ndarray, blocks: list[int], units: int) -> np.ndarray:
    """Columns blocks of ``w`` stacked: ``(len(blocks), rows, units)`` float32."""
    return np.stack([w[..., k * units : (k + 1) * units] for k in blocks]).astype(np.float32)


def _with_previous(
    x: np.ndarray, h: np.ndarray, h0: np.ndarray, b0: int, b1: int, buf: np.ndarray
) -> np.ndarray:
    """``[x_t, h_{t-1}]`` of sequences ``b0:b1``, shape ``(b1 - b0, n_steps, in + units)``."""
    d = x.shape[2]
    xh = buf[: b1 - b0]
    xh[:, :, :d] = x[b0:b1]
    xh[:, 0, d:] = h0[b0:b1]
    xh[:, 1:, d:] = h[b0:b1, :-1]
    return xh


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
    out: dict[str, np.ndarray],
    work: dict[str, np.ndarray] | None = None,
) -> None:
    """Write the cell state and gates of a Keras LSTM into ``out``.

    For every chunk of sequences, one matrix product gives every gate
    pre-activation of every step: ``[x_t, h_{t-1}] @ [kernel; recurrent_kernel]
    + bias``; the cell state follows as ``c_t = f_t c_{t-1} + i_t g_t``.

    Parameters
    ----------
    x : array of shape (batch, n_steps, input_dim)
        The layer's input, in processing order.
    h : array of shape (batch, n_steps, units)
        Its output at every step (masked steps already held), processing order.
    h0, c0 : arrays of shape (batch, units)
        Initial states.
    valid : bool array of shape (batch, n_steps) or None
        Steps the recurrence read (processing order); ``None``: all.
    kernel, recurrent_kernel, bias
        The cell's weights, gate blocks in Keras order ``i, f, c, o``.
    activation, recurrent_activation : callables on arrays (may work in place)
    out : dict
        State (``"c"``, ``"i"``, ``"f"``, ``"g"``, ``"o"``) -> array of shape
        (batch, n_steps, units) to fill, processing order (views welcome).
    work : dict, optional
        Scratch buffers reused from call to call.

    Examples
    --------
    >>> u = 2; out = {"f": np.empty((1, 3, u)), "c": np.empty((1, 3, u))}
    >>> lstm_states(np.ones((1, 3, 1)), np.zeros((1, 3, u)), h0=np.zeros((1, u)),
    ...     c0=np.ones((1, u)), valid=None, kernel=np.zeros((1, 4 * u)),
    ...     recurrent_kernel=np.zeros((u, 4 * u)), bias=None, activation=np.tanh,
    ...     recurrent_activation=lambda a: a * 0 + 0.5, out=out)
    >>> out["f"][0, :, 0].tolist(), out["c"][0, :, 0].tolist()
    ([0.5, 0.5, 0.5], [0.5, 0.25, 0.125])
    """
    blocks = {"i": 0, "f": 1, "g": 2, "o": 3}
    need = {g for g in out if g in blocks} | ({"i", "f", "g"} if "c" in out else set())
    order = [g for g in blocks if g in need]
    if not order:
        return
    n, steps, d = x.shape
    u = h.shape[2]
    w = _gate_major(np.concatenate([kernel, recurrent_kernel], axis=0), [blocks[g] for g in order], u)
    b = None if bias is None else _gate_major(np.asarray(bias), [blocks[g] for g in order], u)[:, None]
    size = _chunk_size(steps, len(order) * u)
    xh_buf = _scratch(work, "xh", (size, steps, d + u))
    c0 = np.asarray(c0, np.float32)
    for b0 in range(0, n, size):
        b1 = min(n, b0 + size)
        m = (b1 - b0) * steps
        xh = _with_previous(x, h, h0, b0, b1, xh_buf).reshape(1, m, d + u)
        pre = np.matmul(xh, w, out=_scratch(work, f"pre{m}", (len(order), m, u)))
        if b is not None:
            pre += b
        ok = None if valid is None else valid[b0:b1]
        gates = {}
        for k, g in enumerate(order):
            fn = activation if g == "g" else recurrent_activation
            gates[g] = np.asarray(fn(pre[k]), np.float32).reshape(b1 - b0, steps, u)
        if "c" in out:
            c, prev = out["c"][b0:b1], c0[b0:b1]
            i, f, g = gates["i"], gates["f"], gates["g"]
            for t in range(steps):
                np.multiply(f[:, t], prev, out=c[:, t])
                c[:, t] += i[:, t] * g[:, t]
                if ok is not None:
                    np.copyto(c[:, t], prev, where=~ok[:, t, None])
                prev = c[:, t]
        for g in order:
            if g in out:
                out[g][b0:b1] = hold_masked(gates[g], ok, None)


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
    out: dict[str, np.ndarray],
    work: dict[str, np.ndarray] | None = None,
) -> None:
    """Write the gates of a Keras GRU (``r``, ``z``, ``n``) into ``out``.

    Follows ``keras.layers.GRUCell``: ``h_t = z h_{t-1} + (1 - z) n``, with
    ``n = act(x W_h + b_h + r * (h_{t-1} U_h + b'_h))`` when ``reset_after``
    (bias of shape ``(2, 3 units)``: input and recurrent rows), else
    ``n = act(x W_h + b_h + (r * h_{t-1}) U_h)``. Arguments as for
    :func:`lstm_states`; ``out`` keys among ``{"r", "z", "n"}``.
    """
    if not out:
        return
    n, steps, d = x.shape
    u = h.shape[2]
    b_in = b_rec = None
    if bias is not None:
        bias = np.asarray(bias, np.float32)
        b_in, b_rec = (bias[0], bias[1]) if reset_after else (bias, None)
    w_zr = _gate_major(np.concatenate([kernel, recurrent_kernel], axis=0), [0, 1], u)
    b_zr = None
    if b_in is not None:
        b_zr = _gate_major(b_in + (0 if b_rec is None else b_rec), [0, 1], u)[:, None]
    k_n = np.asarray(kernel, np.float32)[:, 2 * u :]
    r_n = np.asarray(recurrent_kernel, np.float32)[:, 2 * u :]
    size = _chunk_size(steps, 3 * u)
    xh_buf = _scratch(work, "xh", (size, steps, d + u))
    for b0 in range(0, n, size):
        b1 = min(n, b0 + size)
        m = (b1 - b0) * steps
        xh = _with_previous(x, h, h0, b0, b1, xh_buf).reshape(1, m, d + u)
        pre = np.matmul(xh, w_zr, out=_scratch(work, f"pre{m}", (2, m, u)))
        if b_zr is not None:
            pre += b_zr
        z = np.asarray(recurrent_activation(pre[0]), np.float32)
        r = np.asarray(recurrent_activation(pre[1]), np.float32)
        got = {"z": z, "r": r}
        if "n" in out:
            cand = xh[0, :, :d] @ k_n
            if b_in is not None:
                cand += b_in[2 * u :]
            hp = xh[0, :, d:]
            if reset_after:
                rec = hp @ r_n
                if b_rec is not None:
                    rec += b_rec[2 * u :]
                rec *= r
            else:
                rec = (r * hp) @ r_n
            cand += rec
            got["n"] = np.asarray(activation(cand), np.float32)
        ok = None if valid is None else valid[b0:b1]
        for k in out:
            out[k][b0:b1] = hold_masked(got[k].reshape(b1 - b0, steps, u), ok, None)
