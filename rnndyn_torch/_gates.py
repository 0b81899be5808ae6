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

On CPU the work runs over chunks of sequences (pre-activations of at most
``CHUNK_BYTES``), reusing one workspace and writing every activation straight
into its destination, so the memory it needs stays bounded for any batch
size. Chunks are large on purpose: every tensor operation is a
synchronisation point of the CPU thread pool, which costs more than cache
misses (docs/performance.md has the measurements). On GPU a chunk is the
whole batch.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

__all__ = [
    "LSTM_GATES",
    "GRU_GATES",
    "previous_states",
    "lstm_gates",
    "gru_gates",
    "lstm_direction",
    "gru_direction",
    "padding_mask",
]

LSTM_GATES = ("i", "f", "g", "o")
GRU_GATES = ("r", "z", "n")
#: bytes of pre-activations per chunk of sequences on CPU
CHUNK_BYTES = 64 << 20

Weights = Mapping[str, "Tensor | None"]
Slots = Mapping[str, "Tensor | None"]


def padding_mask(lengths: Tensor, n_steps: int, like: Tensor) -> Tensor:
    """``(batch, steps, 1)`` tensor: 1 on real steps, 0 on padding (``like``'s dtype/device)."""
    t = torch.arange(n_steps, device=like.device)
    return (t[None, :] < lengths.to(like.device)[:, None]).to(like.dtype)[:, :, None]


def _fill_previous(dst: Tensor, h: Tensor, h0: Tensor, reverse: bool, lengths: Tensor | None) -> Tensor:
    if not reverse:
        dst[:, 0] = h0
        dst[:, 1:] = h[:, :-1]
        return dst
    dst[:, :-1] = h[:, 1:]
    dst[:, -1] = h0
    if lengths is not None:
        rows = torch.arange(h.shape[0], device=h.device)
        dst[rows, (lengths.to(h.device) - 1).clamp(min=0)] = h0
    return dst


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
    return _fill_previous(torch.empty_like(h), h, h0.to(h.dtype), reverse, lengths)


def _chunk(B: int, T: int, width: int, like: Tensor) -> int:
    if like.device.type != "cpu" or B == 0:
        return max(B, 1)
    return max(1, min(B, CHUNK_BYTES // max(1, T * width * like.element_size())))


def _sum_bias(b_ih: Tensor | None, b_hh: Tensor | None) -> Tensor | None:
    if b_ih is None:
        return b_hh
    return b_ih if b_hh is None else b_ih + b_hh


def _linear(x: Tensor, w_t: Tensor, bias: Tensor | None, out: Tensor) -> Tensor:
    if bias is None:
        return torch.mm(x, w_t, out=out)
    return torch.addmm(bias, x, w_t, out=out)


def _destinations(out: Slots, B: int, T: int, H: int, like: Tensor) -> dict[str, Tensor]:
    return {s: like.new_empty(B, T, H) if v is None else v for s, v in out.items()}


def _lstm_weights(w: Weights, gates: list[str]) -> tuple[Tensor, Tensor | None]:
    """``[W_ih | W_hh]^T`` (one matmul for input and state) and ``b_ih + b_hh``, restricted
    to the rows of ``gates`` (a gate nobody needs costs nothing)."""
    H = w["w_hh"].shape[0] // 4
    rows = [LSTM_GATES.index(g) for g in gates]
    W = torch.cat([w["w_ih"], w["w_hh"]], dim=1)
    bias = _sum_bias(w["b_ih"], w["b_hh"])
    if len(rows) < 4:
        W = torch.cat([W[k * H : (k + 1) * H] for k in rows])
        bias = None if bias is None else torch.cat([bias[k * H : (k + 1) * H] for k in rows])
    return W.t(), bias


def _lstm_chunk(
    xh: Tensor,
    w_t: Tensor,
    bias: Tensor | None,
    pre: Tensor,
    gates: list[str],
    dst: Mapping[str, Tensor],
) -> dict[str, Tensor]:
    """Gates of one chunk. ``xh`` is ``(n, T, I + P)``: each step's input and the state it
    read; ``pre`` the ``(n * T, len(gates) * H)`` workspace, with the columns of ``gates``
    in that order; gates not in ``dst`` stay in ``pre``."""
    n, T = xh.shape[0], xh.shape[1]
    _linear(xh.view(n * T, -1), w_t, bias, pre)
    H = pre.shape[1] // len(gates)
    pre3 = pre.view(n, T, len(gates) * H)
    got: dict[str, Tensor] = {}
    for j, name in enumerate(gates):
        src = pre3[:, :, j * H : (j + 1) * H]
        d = dst.get(name, src)
        (torch.tanh if name == "g" else torch.sigmoid)(src, out=d)
        got[name] = d
    return got


def lstm_gates(x: Tensor, h_prev: Tensor, weights: Weights, *, out: Slots) -> dict[str, Tensor]:
    """LSTM gate activations ``i, f, g, o`` from inputs and the states each step read.

    ``x`` is ``(batch, steps, input_size)``, ``h_prev`` ``(batch, steps,
    units)``; the gates named in ``out`` are written into ``out[name]``
    (``(batch, steps, hidden_size)``, may be a strided view) or, where that is
    ``None``, into new tensors. Returns them.
    """
    B, T, n_in = x.shape
    H = weights["w_hh"].shape[0] // 4
    dst = _destinations(out, B, T, H, h_prev)
    gates = [g for g in LSTM_GATES if g in dst]
    cs = _chunk(B, T, len(gates) * H, h_prev)
    pre = h_prev.new_empty(cs * T, len(gates) * H)
    xh = h_prev.new_empty(cs, T, n_in + h_prev.shape[2])
    w_t, bias = _lstm_weights(weights, gates)
    for b0 in range(0, B, cs):
        b1 = min(B, b0 + cs)
        n = b1 - b0
        xh[:n, :, :n_in] = x[b0:b1]
        xh[:n, :, n_in:] = h_prev[b0:b1]
        sub = {s: v[b0:b1] for s, v in dst.items()}
        _lstm_chunk(xh[:n], w_t, bias, pre[: n * T], gates, sub)
    return dst


def lstm_direction(
    x: Tensor,
    h: Tensor,
    h0: Tensor,
    c0: Tensor,
    weights: Weights,
    *,
    reverse: bool,
    lengths: Tensor | None,
    out: Slots,
) -> dict[str, Tensor]:
    """Cell state and gates of one LSTM direction.

    Parameters
    ----------
    x : Tensor of shape (batch, steps, input_size)
        The layer's input, input order.
    h : Tensor of shape (batch, steps, proj_size or hidden_size)
        The direction's hidden states, input order (may be a strided view).
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
    B, T, P = h.shape
    n_in = x.shape[2]
    H = weights["w_hh"].shape[0] // 4
    dst = _destinations(out, B, T, H, h)
    want_c = "c" in dst
    need = set(dst) | ({"i", "f", "g"} if want_c else set())
    gates = [g for g in LSTM_GATES if g in need]
    keep = dict(dst)
    if want_c and "f" not in keep:  # the recurrence runs after the chunks: keep f
        keep["f"] = h.new_empty(B, T, H)
    cs = _chunk(B, T, len(gates) * H, h)
    pre = h.new_empty(cs * T, len(gates) * H)
    xh = h.new_empty(cs, T, n_in + P)
    w_t, bias = _lstm_weights(weights, gates)
    h0, c0 = h0.to(h.dtype), c0.to(h.dtype)
    for b0 in range(0, B, cs):
        b1 = min(B, b0 + cs)
        n = b1 - b0
        ln = None if lengths is None else lengths[b0:b1]
        xh[:n, :, :n_in] = x[b0:b1]
        _fill_previous(xh[:n, :, n_in:], h[b0:b1], h0[b0:b1], reverse, ln)
        sub = {s: v[b0:b1] for s, v in keep.items()}
        got = _lstm_chunk(xh[:n], w_t, bias, pre[: n * T], gates, sub)
        if want_c:
            torch.mul(got["i"], got["g"], out=sub["c"])
    if want_c:
        _cell_state(dst["c"], keep["f"], c0, reverse, lengths)
    if lengths is not None:
        mask = padding_mask(lengths, T, h)
        for v in dst.values():
            v.mul_(mask)
    return dst


def _cell_state(c: Tensor, f: Tensor, c0: Tensor, reverse: bool, lengths: Tensor | None) -> Tensor:
    """``c_t = f_t * c_prev + (i_t * g_t)``, in place in ``c`` (which holds ``i * g``).

    One elementwise step per position, on the whole batch.
    """
    T = c.shape[1]
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


def _gru_chunk(
    x: Tensor,
    h_prev: Tensor,
    w: Weights,
    gx: Tensor,
    gh: Tensor,
    dst: Mapping[str, Tensor],
) -> None:
    n, T = x.shape[0], x.shape[1]
    _linear(x.reshape(n * T, -1), w["w_ih"].t(), w["b_ih"], gx)
    _linear(h_prev.reshape(n * T, -1), w["w_hh"].t(), w["b_hh"], gh)
    H = gx.shape[1] // 3
    gx3, gh3 = gx.view(n, T, 3 * H), gh.view(n, T, 3 * H)

    def part(t: Tensor, k: int) -> Tensor:
        return t[:, :, k * H : (k + 1) * H]

    r = dst.get("r", part(gx3, 0))
    if "r" in dst or "n" in dst:
        torch.add(part(gx3, 0), part(gh3, 0), out=r).sigmoid_()
    if "z" in dst:
        torch.add(part(gx3, 1), part(gh3, 1), out=dst["z"]).sigmoid_()
    if "n" in dst:
        torch.addcmul(part(gx3, 2), r, part(gh3, 2), out=dst["n"]).tanh_()


def gru_gates(x: Tensor, h_prev: Tensor, weights: Weights, *, out: Slots) -> dict[str, Tensor]:
    """GRU gates ``r, z, n`` (those in ``out``) from inputs and the states each step read."""
    B, T = x.shape[0], x.shape[1]
    H = weights["w_hh"].shape[0] // 3
    dst = _destinations(out, B, T, H, h_prev)
    cs = _chunk(B, T, 6 * H, h_prev)
    gx, gh = h_prev.new_empty(cs * T, 3 * H), h_prev.new_empty(cs * T, 3 * H)
    for b0 in range(0, B, cs):
        b1 = min(B, b0 + cs)
        m = (b1 - b0) * T
        sub = {s: v[b0:b1] for s, v in dst.items()}
        _gru_chunk(x[b0:b1], h_prev[b0:b1], weights, gx[:m], gh[:m], sub)
    return dst


def gru_direction(
    x: Tensor,
    h: Tensor,
    h0: Tensor,
    weights: Weights,
    *,
    reverse: bool,
    lengths: Tensor | None,
    out: Slots,
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
    B, T, P = h.shape
    H = weights["w_hh"].shape[0] // 3
    dst = _destinations(out, B, T, H, h)
    cs = _chunk(B, T, 6 * H, h)
    gx, gh = h.new_empty(cs * T, 3 * H), h.new_empty(cs * T, 3 * H)
    prev = h.new_empty(cs, T, P)
    h0 = h0.to(h.dtype)
    for b0 in range(0, B, cs):
        b1 = min(B, b0 + cs)
        n = b1 - b0
        ln = None if lengths is None else lengths[b0:b1]
        hp = _fill_previous(prev[:n], h[b0:b1], h0[b0:b1], reverse, ln)
        sub = {s: v[b0:b1] for s, v in dst.items()}
        _gru_chunk(x[b0:b1], hp, weights, gx[: n * T], gh[: n * T], sub)
        if ln is not None:
            mask = padding_mask(ln, T, h)
            for v in sub.values():
                v.mul_(mask)
    return dst
