"""Independent NumPy references for the Keras recurrent cells (float64 step loops).

Written from the Keras cell equations, one step at a time and one sequence at
a time for the mask bookkeeping, sharing no code with ``rnndyn_keras``.
Masked steps (Keras skips them) keep the previous step's value; before the
first real step that is the initial state (``h``, ``c``) or 0 (gates).
"""

from __future__ import annotations

import numpy as np


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def hard_sigmoid(x):
    return np.clip(x / 6.0 + 0.5, 0.0, 1.0)


ACT = {"tanh": np.tanh, "sigmoid": sigmoid, "hard_sigmoid": hard_sigmoid, "relu": lambda x: np.maximum(x, 0)}


def _run(step, x, mask, go_backwards, init, names):
    """Drive ``step(x_t, state) -> (state, values)`` over time, input order out."""
    x = np.asarray(x, np.float64)
    n, T, _ = x.shape
    mask = np.ones((n, T), bool) if mask is None else np.asarray(mask, bool)
    out = {k: None for k in names}
    order = range(T - 1, -1, -1) if go_backwards else range(T)
    for i in range(n):
        state = {k: np.array(v[i], np.float64) for k, v in init.items()}
        last = {k: None for k in names}
        for t in order:
            if mask[i, t]:
                state, values = step(x[i, t], state)
                last = values
            for k in names:
                if out[k] is None:
                    size = (last[k] if last[k] is not None else state.get(k, state["h"])).shape[0]
                    out[k] = np.zeros((n, T, size))
                if last[k] is not None:
                    out[k][i, t] = last[k] if k not in state else state[k]
                elif k in state:
                    out[k][i, t] = state[k]
    return out


def lstm(
    x,
    kernel,
    recurrent_kernel,
    bias,
    *,
    activation="tanh",
    recurrent_activation="sigmoid",
    mask=None,
    go_backwards=False,
    h0=None,
    c0=None,
):
    """h, c and gates i, f, g, o of a Keras LSTM, each (n, T, units)."""
    u = recurrent_kernel.shape[0]
    act, ract = ACT[activation], ACT[recurrent_activation]
    K, R = np.asarray(kernel, np.float64), np.asarray(recurrent_kernel, np.float64)
    b = np.zeros(4 * u) if bias is None else np.asarray(bias, np.float64)

    def step(xt, s):
        z = xt @ K + s["h"] @ R + b
        i, f, g, o = ract(z[:u]), ract(z[u : 2 * u]), act(z[2 * u : 3 * u]), ract(z[3 * u :])
        c = f * s["c"] + i * g
        h = o * act(c)
        return {"h": h, "c": c}, {"h": h, "c": c, "i": i, "f": f, "g": g, "o": o}

    n = x.shape[0]
    init = {
        "h": np.zeros((n, u)) if h0 is None else h0,
        "c": np.zeros((n, u)) if c0 is None else c0,
    }
    return _run(step, x, mask, go_backwards, init, ["h", "c", "i", "f", "g", "o"])


def gru(
    x,
    kernel,
    recurrent_kernel,
    bias,
    *,
    reset_after=True,
    activation="tanh",
    recurrent_activation="sigmoid",
    mask=None,
    go_backwards=False,
    h0=None,
):
    """h and gates r, z, n of a Keras GRU, each (n, T, units)."""
    u = recurrent_kernel.shape[0]
    act, ract = ACT[activation], ACT[recurrent_activation]
    K, R = np.asarray(kernel, np.float64), np.asarray(recurrent_kernel, np.float64)
    if bias is None:
        b_in, b_rec = np.zeros(3 * u), np.zeros(3 * u)
    elif reset_after:
        b_in, b_rec = np.asarray(bias[0], np.float64), np.asarray(bias[1], np.float64)
    else:
        b_in, b_rec = np.asarray(bias, np.float64), np.zeros(3 * u)

    def step(xt, s):
        h = s["h"]
        xz, xr, xh = np.split(xt @ K + b_in, 3)
        z = ract(xz + h @ R[:, :u] + b_rec[:u])
        r = ract(xr + h @ R[:, u : 2 * u] + b_rec[u : 2 * u])
        if reset_after:
            cand = act(xh + r * (h @ R[:, 2 * u :] + b_rec[2 * u :]))
        else:
            cand = act(xh + (r * h) @ R[:, 2 * u :])
        hn = z * h + (1 - z) * cand
        return {"h": hn}, {"h": hn, "z": z, "r": r, "n": cand}

    n = x.shape[0]
    init = {"h": np.zeros((n, u)) if h0 is None else h0}
    return _run(step, x, mask, go_backwards, init, ["h", "r", "z", "n"])


def simple_rnn(
    x, kernel, recurrent_kernel, bias, *, activation="tanh", mask=None, go_backwards=False, h0=None
):
    """h of a Keras SimpleRNN, (n, T, units)."""
    u = recurrent_kernel.shape[0]
    act = ACT[activation]
    b = np.zeros(u) if bias is None else np.asarray(bias, np.float64)

    def step(xt, s):
        h = act(xt @ kernel + s["h"] @ recurrent_kernel + b)
        return {"h": h}, {"h": h}

    n = x.shape[0]
    init = {"h": np.zeros((n, u)) if h0 is None else h0}
    return _run(step, x, mask, go_backwards, init, ["h"])
