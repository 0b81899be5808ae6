"""rnndyn's own LSTM recurrence, run *instead of* a CPU ``nn.LSTM``'s forward
when a capture asks for its cell state or gates.

The fused kernels return only ``h``. Recovering ``c`` and the gates from
``h`` afterwards (:mod:`rnndyn_torch._gates`) costs a second matrix product
as large as the forward pass's own; on a CPU, where the fused kernel is
itself a matrix product per step, a capture of ``c`` and the four gates
cost about 2.6x the forward pass that way. Computing the recurrence once and
keeping every intermediate costs the forward pass's matrix products plus
writing the states: per layer and direction, per step, ``x_t W_ih^T + b``
and ``h_{t-1} W_hh^T`` into a small workspace, the activations in place
there, ``c_t = f_t c_{t-1} + i_t g_t`` and ``h_t = o_t tanh(c_t)`` (times
``W_hr`` with ``proj_size``) in small buffers, and then each wanted state
copied once into the capture's result. Every operation works on a few
hundred kB that stay in cache; the result (500 MB per 1,000 sequences for
the study's encoder) is only written, never read back, which on the
development machine is what is left above the forward pass.

This is a loop over steps of whole-batch tensor operations on the module's
weights (never over sequences, never through ``nn.LSTMCell``). The price:
while a capture runs, the rest of the model reads this loop's output and
``(h_n, c_n)`` instead of the fused kernel's; both compute the same float
operations in another order, so they agree to rounding (about 1e-7 in
float32; the tests hold them to 1e-5). Calls the loop does not handle (a
``PackedSequence``, an input or state of an unexpected shape, dtype or
device) run the module's own forward, and the capture falls back to
recovering the states from its ``h``.

With several torch threads, directions and blocks of sequences run on
threads of their own, each single-threaded in torch (:func:`run_tasks`):
they never wait for each other, while a step loop whose every small
operation is split over the threads waits at each one for the slowest.
Within a thread the rows go in chunks of :data:`CHUNK_ROWS` sequences.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from typing import Any

import torch
from torch import Tensor, nn

from ._layers import n_units, weights
from ._memory import Pool, new_states

__all__ = ["CHUNK_ROWS", "Recurrence", "own_forwards", "lstm_direction_loop", "run_tasks"]

#: sequences per chunk of the step loop (256 to 1,000 timed alike; 128 slower)
CHUNK_ROWS = 512

_MISSING = object()


def lstm_direction_loop(
    x: Tensor,
    h0: Tensor,
    c0: Tensor,
    w: dict[str, Tensor | None],
    *,
    reverse: bool,
    h_out: Tensor,
    slots: dict[str, Tensor],
    chunk: int | None = None,
    rows: tuple[int, int] | None = None,
) -> tuple[Tensor, Tensor]:
    """Run one LSTM layer and direction step by step, keeping every state.

    Parameters
    ----------
    x : Tensor of shape (batch, steps, input_size)
        The layer's input, batch first (may be a strided view).
    h0, c0 : Tensor of shape (batch, P) and (batch, H)
        Initial states (``P`` = ``proj_size`` or ``H``).
    w : mapping
        ``w_ih``, ``w_hh``, ``b_ih``, ``b_hh`` and ``w_hr`` (``None`` without
        projection) of this layer and direction.
    reverse : bool
        Read the steps from last to first (the backward direction).
    h_out : Tensor of shape (batch, steps, P)
        Where ``h`` goes (a view of the layer's output).
    slots : dict
        ``"c"``, ``"i"``, ``"f"``, ``"g"``, ``"o"`` (any of them) to a
        ``(batch, steps, H)`` view to fill; ``"h"`` to a second copy of ``h``.
    chunk : int, optional
        Sequences per chunk (default :data:`CHUNK_ROWS`).
    rows : (int, int), optional
        Only the sequences ``rows[0]:rows[1]`` (default: all).

    Returns
    -------
    (Tensor, Tensor)
        ``h`` and ``c`` after the last step read, ``(rows, P)`` and ``(rows, H)``.

    Examples
    --------
    >>> lstm = nn.LSTM(2, 3, batch_first=True)
    >>> x = torch.randn(4, 5, 2)
    >>> h, c = torch.empty(4, 5, 3), torch.empty(4, 5, 3)
    >>> with torch.no_grad():
    ...     hn, cn = lstm_direction_loop(x, torch.zeros(4, 3), torch.zeros(4, 3),
    ...                                  weights(lstm, 0, 0, cell=False) | {"w_hr": None},
    ...                                  reverse=False, h_out=h, slots={"c": c})
    ...     out, (h_n, c_n) = lstm(x)
    >>> torch.allclose(h, out, atol=1e-6) and torch.allclose(cn, c_n[0], atol=1e-6)
    True
    """
    B, T, _ = x.shape
    r0, r1 = rows if rows is not None else (0, B)
    H = w["w_hh"].shape[0] // 4
    P = h_out.shape[2]
    w_ih_t, w_hh_t = w["w_ih"].t(), w["w_hh"].t()
    bias = w["b_ih"] if w["b_hh"] is None else (w["b_hh"] if w["b_ih"] is None else w["b_ih"] + w["b_hh"])
    w_hr_t = None if w["w_hr"] is None else w["w_hr"].t()
    cs = max(1, min(r1 - r0, chunk or CHUNK_ROWS))
    pre = x.new_empty(cs, 4 * H)
    tmp = x.new_empty(cs, H)
    hbuf, cbuf = x.new_empty(2, cs, P), x.new_empty(2, cs, H)  # this step's and the last
    h_n, c_n = x.new_empty(r1 - r0, P), x.new_empty(r1 - r0, H)
    steps = range(T - 1, -1, -1) if reverse else range(T)
    for b0 in range(r0, r1, cs):
        b1 = min(r1, b0 + cs)
        n = b1 - b0
        pre_n, tmp_n = pre[:n], tmp[:n]
        h_prev, c_prev = h0[b0:b1], c0[b0:b1]
        xs, hs = x[b0:b1], h_out[b0:b1]
        i, f, g, o = (pre_n[:, k * H : (k + 1) * H] for k in range(4))
        sl = [(s, v[b0:b1]) for s, v in slots.items()]
        for j, t in enumerate(steps):
            # every operation reads and writes small contiguous buffers that stay in
            # cache; the (strided, uncached) destinations are only written, once each
            if bias is None:
                torch.mm(xs[:, t], w_ih_t, out=pre_n)
            else:
                torch.addmm(bias, xs[:, t], w_ih_t, out=pre_n)
            pre_n.addmm_(h_prev, w_hh_t)
            pre_n[:, : 2 * H].sigmoid_()
            g.tanh_()
            o.sigmoid_()
            c = cbuf[j % 2, :n]
            torch.mul(i, g, out=c).addcmul_(f, c_prev)
            torch.tanh(c, out=tmp_n)
            h = hbuf[j % 2, :n]
            if w_hr_t is None:
                torch.mul(o, tmp_n, out=h)
            else:
                torch.mm(tmp_n.mul_(o), w_hr_t, out=h)
            hs[:, t].copy_(h)
            got = {"i": i, "f": f, "g": g, "o": o, "c": c, "h": h}
            for s, dst in sl:
                dst[:, t].copy_(got[s])
            h_prev, c_prev = h, c
        h_n[b0 - r0 : b1 - r0] = h_prev
        c_n[b0 - r0 : b1 - r0] = c_prev
    return h_n, c_n


def _one_thread(task: Callable[[], Any]) -> Any:
    torch.set_num_threads(1)  # this thread's OpenMP and MKL; the caller restores the count
    with torch.no_grad():  # grad mode is per thread
        return task()


def run_tasks(tasks: Sequence[Callable[[], Any]], workers: int) -> list[Any]:
    """Results of ``tasks``, run by up to ``workers`` threads, each single-threaded in torch.

    A step loop of small operations, each split over the torch threads, waits
    at every operation for the slowest thread: on a busy machine, where a
    thread often waits for a core, that made a capture several times slower.
    Independent tasks (directions, blocks of sequences) on threads of their
    own never wait for each other.

    Examples
    --------
    >>> run_tasks([lambda: torch.get_num_threads(), lambda: 2], workers=2)
    [1, 2]
    """
    if workers <= 1 or len(tasks) <= 1:
        return [task() for task in tasks]
    n = torch.get_num_threads()
    try:
        with ThreadPoolExecutor(min(workers, len(tasks)), thread_name_prefix="rnndyn") as pool:
            return list(pool.map(_one_thread, tasks))
    finally:
        torch.set_num_threads(n)


class Recurrence:
    """The ``forward`` of one ``nn.LSTM`` while a capture runs one batch.

    Each call it handles writes the wanted states of every layer into a new
    ``(batch, steps, n_units)`` tensor laid out as the capture's result
    (``wants[layer] = [(state, column offset, entry)]``, as in
    :class:`rnndyn_torch._record.ModulePlan`), appended to :attr:`parts`, and
    returns what the module would: ``output, (h_n, c_n)``. Other calls go to
    ``original`` and are counted in :attr:`declined`.
    """

    def __init__(
        self, module: nn.LSTM, wants: dict[int, list], n_units: int, original: Any, pool: Pool | None = None
    ) -> None:
        self.module = module
        self.wants = wants
        self.n_units = n_units
        self.original = original
        self.pool = pool
        self.parts: list[Tensor] = []
        self.declined = 0

    def __call__(self, input: Any, hx: Any = None) -> Any:
        shape = self._accept(input, hx)
        if shape is None:
            self.declined += 1
            return self.original(input, hx)
        with torch.no_grad():
            return self._run(input, hx, *shape)

    def _accept(self, x: Any, hx: Any) -> tuple[bool, int, int] | None:
        """``(batched, B, T)`` when the loop can run this call, else ``None``."""
        m = self.module
        w = m.weight_ih_l0
        if not isinstance(x, Tensor) or x.dim() not in (2, 3) or x.shape[-1] != m.input_size:
            return None
        if x.dtype != w.dtype or x.device != w.device:
            return None
        batched = x.dim() == 3
        if not batched:
            B, T = 1, x.shape[0]
        else:
            B, T = (x.shape[0], x.shape[1]) if m.batch_first else (x.shape[1], x.shape[0])
        if hx is not None:
            LD = m.num_layers * (2 if m.bidirectional else 1)
            P = m.proj_size or m.hidden_size
            want = [(LD, B, P), (LD, B, m.hidden_size)] if batched else [(LD, P), (LD, m.hidden_size)]
            if not (isinstance(hx, tuple) and len(hx) == 2):
                return None
            for t, shape in zip(hx, want, strict=True):
                if not isinstance(t, Tensor) or tuple(t.shape) != shape:
                    return None
                if t.dtype != w.dtype or t.device != w.device:
                    return None
        return batched, int(B), int(T)

    def _run(self, x: Tensor, hx: Any, batched: bool, B: int, T: int) -> Any:
        m = self.module
        L, D, H = m.num_layers, 2 if m.bidirectional else 1, m.hidden_size
        P = m.proj_size or H
        if not batched:
            xb = x.unsqueeze(0)
        else:
            xb = x if m.batch_first else x.transpose(0, 1)
        if hx is None:
            h0, c0 = xb.new_zeros(L * D, B, P), xb.new_zeros(L * D, B, H)
        else:
            h0, c0 = hx if batched else (hx[0].unsqueeze(1), hx[1].unsqueeze(1))
        part = new_states(B, T, self.n_units, xb, self.pool)
        workers = min(torch.get_num_threads(), max(1, B))
        n_blocks = max(1, -(-workers // D))  # every worker gets a direction or a share of one
        blocks = [(B * j // n_blocks, B * (j + 1) // n_blocks) for j in range(n_blocks)]
        layer_in = xb
        h_n, c_n = [], []
        for k in range(L):
            if k < L - 1 or m.batch_first or not batched:
                out = xb.new_empty(B, T, D * P)
                out_bf = out
            else:  # a time-major module returns (steps, batch, features)
                out = xb.new_empty(T, B, D * P)
                out_bf = out.transpose(0, 1)
            first: dict[str, tuple[int, int]] = {}
            for s, off, entry in self.wants.get(k, []):
                first.setdefault(s, (off, n_units(entry, s)))
            tasks = []
            for d in range(D):
                sfx = f"_l{k}" + ("_reverse" if d else "")
                w: dict[str, Tensor | None] = dict(weights(m, k, d, cell=False))
                w["w_hr"] = getattr(m, "weight_hr" + sfx, None)
                slots = {s: part[:, :, off + d * U : off + (d + 1) * U] for s, (off, U) in first.items()}
                kw = dict(reverse=d == 1, h_out=out_bf[:, :, d * P : (d + 1) * P], slots=slots)
                for rows in blocks:
                    tasks.append(
                        partial(
                            lstm_direction_loop, layer_in, h0[k * D + d], c0[k * D + d], w, rows=rows, **kw
                        )
                    )
            done = run_tasks(tasks, workers)
            for d in range(D):
                mine = done[d * len(blocks) : (d + 1) * len(blocks)]
                h_n.append(torch.cat([r[0] for r in mine]))
                c_n.append(torch.cat([r[1] for r in mine]))
            for s, off, _ in self.wants.get(k, []):
                src, U = first[s]
                if off != src:  # the same state asked under two names
                    part[:, :, off : off + D * U].copy_(part[:, :, src : src + D * U])
            layer_in = out_bf
        self.parts.append(part)
        hn_all, cn_all = torch.stack(h_n), torch.stack(c_n)
        if not batched:
            return out[0], (hn_all[:, 0], cn_all[:, 0])
        return out, (hn_all, cn_all)


@contextmanager
def own_forwards(
    modules: list[tuple[int, nn.LSTM, dict]], n_units: int, pool: Pool | None = None
) -> Iterator[dict[int, Recurrence]]:
    """Install a :class:`Recurrence` as the ``forward`` of each ``(index, module, wants)``
    (results taken from ``pool``).

    Yields ``{index: recurrence}``; on exit every module gets back the
    ``forward`` it had (its class's, or an instance attribute of its own).

    Examples
    --------
    >>> lstm = nn.LSTM(2, 3)
    >>> with own_forwards([(0, lstm, {})], 0) as owns:
    ...     _ = lstm(torch.zeros(4, 1, 2))
    >>> len(owns[0].parts), "forward" in vars(lstm)
    (1, False)
    """
    installed: list[tuple[nn.Module, Any]] = []
    owns: dict[int, Recurrence] = {}
    try:
        for index, module, wants in modules:
            saved = module.__dict__.get("forward", _MISSING)
            owns[index] = Recurrence(module, wants, n_units, module.forward, pool)
            module.forward = owns[index]
            installed.append((module, saved))
        yield owns
    finally:
        for module, saved in reversed(installed):
            if saved is _MISSING:
                del module.forward
            else:
                module.forward = saved
