"""Exact cell states and gate activations from a known ``h`` sequence.

The fused kernels (cuDNN, oneDNN, ``torch._VF``) return only the hidden state
``h_t``. Once every ``h_{t-1}`` is known, nothing else needs a step loop:

* gate pre-activations for every step are one batched matmul,
  ``x W_ih^T + b_ih + h_prev W_hh^T + b_hh``;
* the gates are elementwise functions of those;
* the LSTM cell state is the elementwise recurrence
  ``c_t = f_t * c_{t-1} + i_t * g_t``, a loop over steps on whole
  ``(batch, units)`` tensors (never a loop over sequences).

Every function here works in *input order*, batch first: tensors are shaped
``(batch, steps, features)``; a backward direction reads position ``t + 1``
before position ``t``. With ``lengths`` (a packed, masked batch) each
sequence's recurrence covers only its real steps (the backward one starts at
its last real step) and every output is zero on padding steps, as
``pad_packed_sequence`` pads ``h``.

Gate order is PyTorch's: LSTM ``i, f, g, o``; GRU ``r, z, n`` with
``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

__all__ = [
    "LSTM_GATES",
    "GRU_GATES",
    "previous_states",
    "linear_steps",
    "lstm_gates",
    "gru_gates",
    "lstm_direction",
    "gru_direction",
    "padding_mask",
]

LSTM_GATES = ("i", "f", "g", "o")
GRU_GATES = ("r", "z", "n")


def padding_mask(lengths: Tensor, n_steps: int, like: Tensor) -> Tensor:
    """``(batch, steps, 1)`` tensor: 1 on real steps, 0 on padding (``like``'s dtype/device)."""
    t = torch.arange(n_steps, device=like.device)
    return (t[None, :] < lengths.to(like.device)[:, None]).to(like.dtype)[:, :, None]


def previous_states(h: Tensor, h0: Tensor, *, reverse: bool, lengths: Tensor | None = None) -> Tensor:
    """The state each step read, ``h_prev[:, t]``, shape ``(batch, steps, units)``.

    Forward: ``h_prev[:, 0] = h0``, ``h_prev[:, t] = h[:, t - 1]``. Backward:
    ``h_prev[:, t] = h[:, t + 1]`` and ``h0`` at the step the recurrence
    starts from (the last step, or each sequence's last real step when
    ``lengths`` is given).

    Examples
    --------
    >>> h = torch.arange(3.0).reshape(1, 3, 1)
    >>> previous_states(h, torch.full((1, 1), -1.0), reverse=False)[0, :, 0].tolist()
    [-1.0, 0.0, 1.0]
    >>> previous_states(h, torch.full((1, 1), -1.0), reverse=True)[0, :, 0].tolist()
    [1.0, 2.0, -1.0]
    """
    h0 = h0.to(h.dtype)
    if not reverse:
        return torch.cat([h0[:, None], h[:, :-1]], dim=1)
    prev = torch.cat([h[:, 1:], h0[:, None]], dim=1)
    if lengths is not None:
        rows = torch.arange(h.shape[0], device=h.device)
        last = (lengths.to(h.device) - 1).clamp(min=0)
        prev[rows, last] = h0
    return prev


def linear_steps(x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """``x W^T + b`` for every (sequence, step) at once: one matmul, ``(B, T, out)``."""
    B, T = x.shape[0], x.shape[1]
    x2 = x.reshape(B * T, x.shape[2])
    out = torch.mm(x2, weight.t()) if bias is None else torch.addmm(bias, x2, weight.t())
    return out.view(B, T, weight.shape[0])


def _slot(out: Mapping[str, Tensor | None], name: str, src: Tensor) -> Tensor:
    dst = out.get(name)
    return src if dst is None else dst


def lstm_direction(
    x: Tensor,
    h: Tensor,
    h0: Tensor,
    c0: Tensor,
    weights: Mapping[str, Tensor | None],
    *,
    reverse: bool,
    lengths: Tensor | None,
    out: Mapping[str, Tensor | None],
) -> dict[str, Tensor]:
    """Cell state and gates of one LSTM direction.

    Parameters
    ----------
    x : Tensor of shape (batch, steps, input_size)
        The layer's input, input order.
    h : Tensor of shape (batch, steps, proj_size or hidden_size)
        The direction's hidden states, input order.
    h0, c0 : Tensor of shape (batch, units)
        Initial states of the recurrence.
    weights : mapping
        ``w_ih``, ``w_hh``, ``b_ih``, ``b_hh`` of this layer and direction
        (biases may be ``None``).
    reverse : bool
        True for the backward direction.
    lengths : Tensor of shape (batch,) or None
        Real steps per sequence for a packed batch; ``None`` when every step
        was computed by the model.
    out : mapping
        State name (``"c"``, ``"i"``, ``"f"``, ``"g"``, ``"o"``) to the
        ``(batch, steps, hidden_size)`` tensor (may be a strided view) to write
        it into, or ``None`` to allocate. Only these states are returned.

    Returns
    -------
    dict
        The requested states, each ``(batch, steps, hidden_size)``.

    Examples
    --------
    >>> cell = torch.nn.LSTMCell(2, 3)
    >>> x = torch.randn(1, 4, 2)
    >>> hs, cs, (hh, cc) = [], [], (torch.zeros(1, 3), torch.zeros(1, 3))
    >>> with torch.no_grad():
    ...     for t in range(4):
    ...         hh, cc = cell(x[:, t], (hh, cc)); hs.append(hh); cs.append(cc)
    ...     w = dict(w_ih=cell.weight_ih, w_hh=cell.weight_hh, b_ih=cell.bias_ih, b_hh=cell.bias_hh)
    ...     got = lstm_direction(x, torch.stack(hs, 1), torch.zeros(1, 3), torch.zeros(1, 3), w,
    ...                          reverse=False, lengths=None, out={"c": None})
    >>> torch.allclose(got["c"], torch.stack(cs, 1), atol=1e-6)
    True
    """
    T = h.shape[1]
    h_prev = previous_states(h, h0, reverse=reverse, lengths=lengths)
    need = set(out) | ({"i", "f", "g"} if "c" in out else set())
    got = lstm_gates(x, h_prev, weights, out=out, need=need)
    if "c" in out:
        got["c"] = _cell_state(got["i"], got["f"], got["g"], c0, out.get("c"), reverse, lengths)
    result = {name: got[name] for name in out}
    if lengths is not None:
        mask = padding_mask(lengths, T, h)
        for v in result.values():
            v.mul_(mask)
    return result


def lstm_gates(
    x: Tensor,
    h_prev: Tensor,
    weights: Mapping[str, Tensor | None],
    *,
    out: Mapping[str, Tensor | None],
    need: set[str] | None = None,
) -> dict[str, Tensor]:
    """LSTM gate activations ``i, f, g, o`` from inputs and the states each step read.

    ``x`` is ``(batch, steps, input_size)``, ``h_prev`` ``(batch, steps,
    units)``; gates in ``need`` (default: those in ``out``) are computed, into
    ``out[name]`` when that is a tensor. One matmul for all steps.
    """
    B, T = x.shape[0], x.shape[1]
    bias = _sum_bias(weights["b_ih"], weights["b_hh"])
    pre = linear_steps(x, weights["w_ih"], bias)
    pre.view(B * T, -1).addmm_(h_prev.reshape(B * T, -1), weights["w_hh"].t())
    H = pre.shape[2] // 4
    need = set(out) if need is None else need
    got: dict[str, Tensor] = {}
    for k, name in enumerate(LSTM_GATES):
        if name not in need:
            continue
        src = pre[:, :, k * H : (k + 1) * H]
        dst = _slot(out, name, src)
        if name == "g":
            torch.tanh(src, out=dst)
        else:
            torch.sigmoid(src, out=dst)
        got[name] = dst
    return got


def _sum_bias(b_ih: Tensor | None, b_hh: Tensor | None) -> Tensor | None:
    if b_ih is None:
        return b_hh
    return b_ih if b_hh is None else b_ih + b_hh


def _cell_state(
    i: Tensor,
    f: Tensor,
    g: Tensor,
    c0: Tensor,
    dst: Tensor | None,
    reverse: bool,
    lengths: Tensor | None,
) -> Tensor:
    """``c_t = f_t * c_prev + i_t * g_t``: one elementwise step per position."""
    T = i.shape[1]
    c = torch.mul(i, g) if dst is None else torch.mul(i, g, out=dst)
    c0 = c0.to(c.dtype)
    prev = c0
    starts = None
    if reverse and lengths is not None:
        starts = (lengths.to(c.device) - 1)[:, None]
    for t in range(T - 1, -1, -1) if reverse else range(T):
        ct = c[:, t]
        if starts is not None:
            prev = torch.where(starts == t, c0, prev)
        ct.addcmul_(f[:, t], prev)
        prev = ct
    return c


def gru_direction(
    x: Tensor,
    h: Tensor,
    h0: Tensor,
    weights: Mapping[str, Tensor | None],
    *,
    reverse: bool,
    lengths: Tensor | None,
    out: Mapping[str, Tensor | None],
) -> dict[str, Tensor]:
    """Gates ``r``, ``z``, ``n`` of one GRU direction (arguments as :func:`lstm_direction`).

    Examples
    --------
    >>> cell = torch.nn.GRUCell(2, 3)
    >>> x, h0 = torch.randn(1, 1, 2), torch.zeros(1, 3)
    >>> with torch.no_grad():
    ...     h1 = cell(x[:, 0], h0)
    ...     w = dict(w_ih=cell.weight_ih, w_hh=cell.weight_hh, b_ih=cell.bias_ih, b_hh=cell.bias_hh)
    ...     g = gru_direction(x, h1[:, None], h0, w, reverse=False, lengths=None,
    ...                       out={"z": None, "n": None})
    >>> torch.allclose(h1, (1 - g["z"][:, 0]) * g["n"][:, 0], atol=1e-6)
    True
    """
    T = h.shape[1]
    h_prev = previous_states(h, h0, reverse=reverse, lengths=lengths)
    got = gru_gates(x, h_prev, weights, out=out)
    result = {name: got[name] for name in out}
    if lengths is not None:
        mask = padding_mask(lengths, T, h)
        for v in result.values():
            v.mul_(mask)
    return result


def gru_gates(
    x: Tensor,
    h_prev: Tensor,
    weights: Mapping[str, Tensor | None],
    *,
    out: Mapping[str, Tensor | None],
) -> dict[str, Tensor]:
    """GRU gates ``r, z, n`` (those in ``out``) from inputs and the states each step read."""
    gx = linear_steps(x, weights["w_ih"], weights["b_ih"])
    gh = linear_steps(h_prev, weights["w_hh"], weights["b_hh"])
    H = gx.shape[2] // 3

    def part(t: Tensor, k: int) -> Tensor:
        return t[:, :, k * H : (k + 1) * H]

    got: dict[str, Tensor] = {}
    if "r" in out or "n" in out:
        r = _slot(out, "r", part(gx, 0))
        torch.add(part(gx, 0), part(gh, 0), out=r).sigmoid_()
        got["r"] = r
    if "z" in out:
        z = _slot(out, "z", part(gx, 1))
        torch.add(part(gx, 1), part(gh, 1), out=z).sigmoid_()
        got["z"] = z
    if "n" in out:
        n = _slot(out, "n", part(gx, 2))
        torch.addcmul(part(gx, 2), got["r"], part(gh, 2), out=n).tanh_()
        got["n"] = n
    return got
