"""Float64 NumPy references for the model zoo (``tests/test_zoo_torch.py``, ``tests/_zoo_keras.py``).

Written from the equations, one step at a time, sharing no code with rnndyn:

- PyTorch layout (``nn.LSTM``/``nn.GRU``/``nn.RNN`` and their cells): weights
  ``W_ih (G*H, F)``, ``W_hh (G*H, H)``, biases ``b_ih``, ``b_hh``; LSTM gates in
  the order ``i, f, g, o``, GRU ``r, z, n`` with
  ``n = tanh(W_in x + b_in + r (W_hn h + b_hn))``, ``h' = (1 - z) n + z h``.
- Keras layout: see ``tests/_keras_reference.py`` (kernel ``(F, G*H)``, LSTM
  ``i, f, c, o``, GRU ``z, r, h``); :func:`keras_tanh_cell` is the zoo's
  custom cell.

Every function returns states in input order, each ``(n, T, units)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

ATOL = 1e-5


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def f64(a: Any) -> np.ndarray:
    """Any tensor or array as a float64 NumPy array (detached, on the CPU)."""
    if hasattr(a, "detach"):
        a = a.detach().cpu().double().numpy()
    return np.asarray(a, dtype=np.float64)


def assert_close(got: Any, want: Any, what: str, atol: float = ATOL) -> None:
    got, want = f64(got), f64(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    err = float(np.abs(got - want).max()) if got.size else 0.0
    assert err < atol, f"{what}: max abs error {err:.2e} >= {atol:g}"


# ------------------------------------------------------------------ PyTorch layout
def torch_step(kind: str, x: np.ndarray, h: np.ndarray, c: np.ndarray | None, w: dict, nonlinearity="tanh"):
    """One step of a PyTorch cell on a batch ``x (n, F)``; returns ``(h, c, values)``."""
    gi = x @ w["w_ih"].T + w["b_ih"]
    gh = h @ w["w_hh"].T + w["b_hh"]
    if kind == "lstm":
        i, f, g, o = np.split(gi + gh, 4, axis=-1)
        i, f, g, o = sigmoid(i), sigmoid(f), np.tanh(g), sigmoid(o)
        c = f * c + i * g
        hn = o * np.tanh(c)
        if "w_hr" in w:
            hn = hn @ w["w_hr"].T
        return hn, c, {"h": hn, "c": c, "i": i, "f": f, "g": g, "o": o}
    if kind == "gru":
        xr, xz, xn = np.split(gi, 3, axis=-1)
        hr, hz, hn_ = np.split(gh, 3, axis=-1)
        r, z = sigmoid(xr + hr), sigmoid(xz + hz)
        n = np.tanh(xn + r * hn_)
        hn = (1 - z) * n + z * h
        return hn, None, {"h": hn, "r": r, "z": z, "n": n}
    act = np.tanh if nonlinearity == "tanh" else (lambda v: np.maximum(v, 0.0))
    hn = act(gi + gh)
    return hn, None, {"h": hn}


def torch_weights(module: Any, layer: int = 0, reverse: bool = False) -> dict:
    """Float64 weights of one layer and direction of a fused module (or of a cell, layer 0)."""
    sfx = f"_l{layer}" + ("_reverse" if reverse else "") if hasattr(module, "num_layers") else ""
    out = {"w_ih": f64(getattr(module, f"weight_ih{sfx}")), "w_hh": f64(getattr(module, f"weight_hh{sfx}"))}
    for k in ("ih", "hh"):
        b = getattr(module, f"bias_{k}{sfx}", None)
        out[f"b_{k}"] = np.zeros(out[f"w_{k}"].shape[0]) if b is None else f64(b)
    if getattr(module, "proj_size", 0):
        out["w_hr"] = f64(getattr(module, f"weight_hr{sfx}"))
    return out


def torch_direction(
    kind: str,
    x: np.ndarray,
    w: dict,
    h0: np.ndarray,
    c0: np.ndarray | None = None,
    *,
    reverse: bool = False,
    lengths: np.ndarray | None = None,
    nonlinearity: str = "tanh",
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray | None]:
    """One direction of one layer over batch-first ``x (n, T, F)``, one sequence at a time.

    With ``lengths`` (a packed sequence) sequence ``i`` reads its first
    ``lengths[i]`` steps only (the backward direction starts at its last real
    step) and every state is 0 after them, as ``pad_packed_sequence`` pads.
    Returns ``(states by name, h_n, c_n)``.
    """
    x = f64(x)
    n, T, _ = x.shape
    lengths = np.full(n, T) if lengths is None else np.asarray(lengths)
    out: dict[str, np.ndarray] = {}
    h_n = np.zeros((n, f64(h0).shape[-1]))
    c_n = None if c0 is None else np.zeros((n, f64(c0).shape[-1]))
    for s in range(n):
        h = f64(h0)[s]
        c = None if c0 is None else f64(c0)[s]
        steps = range(lengths[s] - 1, -1, -1) if reverse else range(lengths[s])
        for t in steps:
            h, c, values = torch_step(kind, x[s, t], h, c, w, nonlinearity)
            for k, v in values.items():
                out.setdefault(k, np.zeros((n, T, v.shape[-1])))[s, t] = v
        h_n[s] = h
        if c_n is not None:
            c_n[s] = c
    return out, h_n, c_n


def torch_module(
    module: Any,
    x: Any,
    hx: Any = None,
    *,
    lengths: Any = None,
    batch_first: bool | None = None,
) -> tuple[list[dict[str, np.ndarray]], np.ndarray, np.ndarray | None]:
    """Every layer of a fused ``nn.LSTM``/``nn.GRU``/``nn.RNN`` on ``x`` as the module reads it.

    Returns ``(layers, h_n, c_n)``: ``layers[l][state]`` is ``(n, T, D*units)``
    (forward units, then backward units; batch-first whatever the module's
    layout), ``h_n``/``c_n`` as the module returns them ``(L*D, n, units)``.
    """
    names = [c.__name__ for c in type(module).__mro__]
    kind = next(k.lower() for k in names if k in ("LSTM", "GRU", "RNN"))
    bf = module.batch_first if batch_first is None else batch_first
    x = f64(x)
    x = x if bf else x.transpose(1, 0, 2)
    n = x.shape[0]
    D = 2 if module.bidirectional else 1
    H = module.proj_size or module.hidden_size
    if hx is None:
        h0 = np.zeros((module.num_layers * D, n, H))
        c0 = np.zeros((module.num_layers * D, n, module.hidden_size)) if kind == "lstm" else None
    elif kind == "lstm":
        h0, c0 = f64(hx[0]), f64(hx[1])
    else:
        h0, c0 = f64(hx), None
    nl = getattr(module, "nonlinearity", "tanh")
    layers, h_n, c_n = [], [], []
    inp = x
    for layer in range(module.num_layers):
        per_dir = []
        for d in range(D):
            k = layer * D + d
            w = torch_weights(module, layer, reverse=d == 1)
            states, hn, cn = torch_direction(
                kind,
                inp,
                w,
                h0[k],
                None if c0 is None else c0[k],
                reverse=d == 1,
                lengths=lengths,
                nonlinearity=nl,
            )
            per_dir.append(states)
            h_n.append(hn)
            c_n.append(cn)
        joined = {k: np.concatenate([p[k] for p in per_dir], axis=-1) for k in per_dir[0]}
        layers.append(joined)
        inp = joined["h"]
    return layers, np.stack(h_n), None if c0 is None else np.stack(c_n)


def torch_cell(cell: Any, xs: list[np.ndarray], h0: Any = None, c0: Any = None) -> dict[str, np.ndarray]:
    """A PyTorch cell (``nn.LSTMCell``/``GRUCell``/``RNNCell``) over the inputs of its calls, in order."""
    name = type(cell).__name__
    kind = {"LSTMCell": "lstm", "GRUCell": "gru", "RNNCell": "rnn"}[name]
    w = torch_weights(cell)
    n = f64(xs[0]).shape[0]
    h = np.zeros((n, cell.hidden_size)) if h0 is None else f64(h0)
    c = (np.zeros((n, cell.hidden_size)) if c0 is None else f64(c0)) if kind == "lstm" else None
    out: dict[str, list[np.ndarray]] = {}
    for x in xs:
        h, c, values = torch_step(kind, f64(x), h, c, w, getattr(cell, "nonlinearity", "tanh"))
        for k, v in values.items():
            out.setdefault(k, []).append(v)
    return {k: np.stack(v, axis=1) for k, v in out.items()}


# -------------------------------------------------------------------- Keras layout
def keras_tanh_cell(x: Any, kernel: Any, recurrent_kernel: Any, bias: Any) -> np.ndarray:
    """The zoo's custom Keras cell: ``h' = tanh(x K + h R + b)`` from ``h = 0``, ``(n, T, units)``."""
    x, K, R, b = f64(x), f64(kernel), f64(recurrent_kernel), f64(bias)
    n, T, _ = x.shape
    h = np.zeros((n, R.shape[0]))
    out = np.zeros((n, T, R.shape[0]))
    for t in range(T):
        h = np.tanh(x[:, t] @ K + h @ R + b)
        out[:, t] = h
    return out
