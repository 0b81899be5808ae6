"""Recording the calls of recurrent modules during a forward pass, and turning
them into states.

One :class:`Plan` per capture (validated targets, units table, the modules
to hook and the one-layer copies of stacked modules); per batch, each hooked
module's recorded calls are normalised (:func:`fused_call`,
:func:`cell_calls`) and their states written into one output tensor
(:func:`run_fused`, :func:`run_cells`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pad_packed_sequence

from rnndyn.errors import PluginError, RnndynError

from . import _gates
from ._layers import Entry, n_units, single_layer, units_table, weights

__all__ = [
    "Plan",
    "ModulePlan",
    "FusedCall",
    "CellCalls",
    "make_hook",
    "fused_call",
    "cell_calls",
    "packed_lengths",
    "padded",
    "run_fused",
    "run_cells",
]


@dataclass
class ModulePlan:
    """What to take from one module: ``wants[layer] = [(state, offset, target name)]``."""

    module: nn.Module
    kind: str
    cell: bool
    top: int
    directions: int
    wants: dict[int, list[tuple[str, int, Entry]]] = field(default_factory=dict)
    own: bool = False
    _clones: list[nn.Module] | None = None

    @property
    def clones(self) -> list[nn.Module]:
        """One-layer copies of the layers below the top whose output is used (built once,
        on first use: a module the capture runs itself never needs them)."""
        if self._clones is None:
            self._clones = [single_layer(self.module, k) for k in range(self.n_clones())]
        return self._clones

    def columns(self) -> list[tuple[int, int]]:
        """Column ranges of the capture's result that this module fills."""
        D = self.directions
        return [(off, off + D * n_units(e, s)) for items in self.wants.values() for s, off, e in items]

    def n_clones(self) -> int:
        """Single-layer copies needed: layers 0..K below the top whose output is used."""
        need = -1
        for k, items in self.wants.items():
            if any(s != "h" for s, _, _ in items):
                need = max(need, k - 1)
            if k < self.top:
                need = max(need, k)
        return need + 1


@dataclass
class Plan:
    """Validated targets: the unit table, each target's columns, the modules to hook."""

    targets: list[tuple[str, str]]
    units: pd.DataFrame
    n_units: int
    modules: list[ModulePlan]

    @classmethod
    def build(
        cls, entries: dict[str, Entry], targets: Sequence[tuple[str, str]], *, own: bool = True
    ) -> Plan:
        targets = [(str(name), str(state)) for name, state in targets]
        if not targets:
            raise RnndynError("targets must name at least one (layer, state) pair; got none.")
        by_module: dict[int, ModulePlan] = {}
        tables = []
        offset = 0
        for name, state in targets:
            entry = entries.get(name)
            if entry is None:
                listing = ", ".join(f"{n!r} ({e.info.type})" for n, e in entries.items())
                raise PluginError(
                    f"layer {name!r} is not a recurrent layer of this model; recurrent layers: "
                    f"{listing or 'none'}."
                )
            if state not in entry.info.states:
                raise PluginError(
                    f"state {state!r} does not exist for layer {name!r} ({entry.info.type}); "
                    f"available states: {entry.info.states}."
                )
            mp = by_module.get(id(entry.module))
            if mp is None:
                dirs = len(entry.info.directions)
                top = 0 if entry.cell else int(entry.module.num_layers) - 1
                mp = ModulePlan(entry.module, entry.kind, entry.cell, top, dirs)
                by_module[id(entry.module)] = mp
            mp.wants.setdefault(entry.layer, []).append((state, offset, entry))
            table = units_table(entry, state)
            tables.append(table)
            offset += len(table)
        modules = list(by_module.values())
        for mp in modules:
            mp.own = own and _runs_own(mp)
        units = pd.concat(tables, ignore_index=True)
        return cls(targets, units, offset, modules)


def _runs_own(mp: ModulePlan) -> bool:
    """A CPU float32/float64 ``nn.LSTM`` (not a subclass with a forward of its own)
    asked for ``c`` or gates runs rnndyn's recurrence (:mod:`rnndyn_torch._recurrence`);
    ``h`` alone stays the module's own output."""
    m = mp.module
    if mp.kind != "LSTM" or mp.cell or not isinstance(m, nn.LSTM):
        return False
    if type(m).forward is not nn.LSTM.forward or "forward" in vars(m):
        return False
    w = m.weight_ih_l0
    if w.device.type != "cpu" or w.dtype not in (torch.float32, torch.float64):
        return False
    return any(s != "h" for items in mp.wants.values() for s, _, _ in items)


# --------------------------------------------------------------------- hooks
def make_hook(store: list) -> Callable[..., None]:
    """A ``with_kwargs`` forward hook appending ``(args, kwargs, output)`` to ``store``."""

    def hook(module: nn.Module, args: tuple, kwargs: dict, output: Any) -> None:
        store.append((args, kwargs, output))

    return hook


def _arg(args: tuple, kwargs: dict, i: int, name: str) -> Any:
    return args[i] if len(args) > i else kwargs.get(name)


# ------------------------------------------------------------- fused modules
@dataclass
class FusedCall:
    """One call of an ``nn.LSTM``/``GRU``/``RNN``, with a batch dimension."""

    x: Tensor | PackedSequence
    hx: Any
    out: Tensor | PackedSequence
    lengths: Tensor | None  # real steps per sequence when packed
    n_batch: int
    n_steps: int
    width: int | None = None  # steps it takes when joined with other calls (packed: padded width)


def fused_call(module: nn.RNNBase, record: tuple, name: str) -> FusedCall:
    """Normalise one recorded call (unbatched inputs get a batch dimension)."""
    args, kwargs, output = record
    x = _arg(args, kwargs, 0, "input")
    hx = _arg(args, kwargs, 1, "hx")
    if type(hx) is list:  # an LSTM state passed as [h, c] (PyTorch reads it like (h, c))
        hx = tuple(hx)
    out = output[0]
    if isinstance(x, PackedSequence):
        B = int(x.batch_sizes[0])
        lengths = packed_lengths(x)
        return FusedCall(x, hx, out, lengths, B, int(lengths.max()))
    if not isinstance(x, Tensor):
        raise RnndynError(
            f"layer {name!r} received a {type(x).__name__}; expected a Tensor or PackedSequence."
        )
    if x.dim() == 2:  # unbatched (steps, features)
        bd = 0 if module.batch_first else 1
        x, out = x.unsqueeze(bd), out.unsqueeze(bd)
        if isinstance(hx, tuple):
            hx = tuple(t.unsqueeze(1) for t in hx)
        elif hx is not None:
            hx = hx.unsqueeze(1)
    B, T = (x.shape[0], x.shape[1]) if module.batch_first else (x.shape[1], x.shape[0])
    return FusedCall(x, hx, out, None, int(B), int(T))


def packed_lengths(seq: PackedSequence) -> Tensor:
    """Real steps per sequence of a packed batch, in the batch's own order (CPU int64)."""
    sizes = seq.batch_sizes.cpu()
    B = int(sizes[0])
    lengths = (sizes[None, :] > torch.arange(B)[:, None]).sum(dim=1)
    if seq.unsorted_indices is not None:
        lengths = lengths[seq.unsorted_indices.cpu()]
    return lengths


def padded(module: nn.RNNBase, seq: Tensor | PackedSequence, n_steps: int) -> Tensor:
    """``(batch, steps, features)`` view or padded copy of a module's input or output."""
    if isinstance(seq, PackedSequence):
        return pad_packed_sequence(seq, batch_first=True, total_length=n_steps)[0]
    return seq if module.batch_first else seq.transpose(0, 1)


def _initial(hx: Any, index: int, B: int, units: int, like: Tensor) -> Tensor:
    if hx is None:
        return like.new_zeros(B, units)
    return hx[index]


def run_fused(mp: ModulePlan, call: FusedCall, n_steps: int, out: Tensor, t0: int) -> None:
    """Write every wanted state of one call into ``out[:, t0:t0 + steps, offset:...]``."""
    module = mp.module
    D = mp.directions
    T = n_steps if call.lengths is not None else call.n_steps
    hx_h, hx_c = call.hx if isinstance(call.hx, tuple) else (call.hx, None)
    raw_out: list[Any] = []
    inp = call.x
    for k, clone in enumerate(mp.clones):
        hk = None
        if call.hx is not None:
            sl = slice(k * D, (k + 1) * D)
            hk = (hx_h[sl], hx_c[sl]) if hx_c is not None else hx_h[sl]
        inp = clone(inp, hk)[0]
        raw_out.append(inp)
    cache: dict[int, Tensor] = {}

    def layer_seq(k: int) -> Tensor:  # padded output of layer k (k = -1: the input)
        if k not in cache:
            raw = call.x if k < 0 else (call.out if k == mp.top else raw_out[k])
            cache[k] = padded(module, raw, T)
        return cache[k]

    steps = slice(t0, t0 + T)
    B = call.n_batch
    for k, items in mp.wants.items():
        h = layer_seq(k)
        P = h.shape[2] // D
        gates = [(s, off, e) for s, off, e in items if s != "h"]
        for s, off, _ in items:
            if s == "h":
                out[:, steps, off : off + D * P].copy_(h)
        if not gates:
            continue
        x = layer_seq(k - 1)
        first: dict[str, tuple[int, int]] = {}  # a state asked twice (two names) is copied
        for s, off, e in gates:
            first.setdefault(s, (off, n_units(e, s)))
        for d in range(D):
            slots = {s: out[:, steps, off + d * U : off + (d + 1) * U] for s, (off, U) in first.items()}
            w = weights(module, k, d, cell=False)
            h_d = h[:, :, d * P : (d + 1) * P]
            h0 = _initial(hx_h, k * D + d, B, P, h)
            kw = dict(reverse=d == 1, lengths=call.lengths, out=slots)
            if mp.kind == "LSTM":
                c0 = _initial(hx_c, k * D + d, B, int(module.hidden_size), h)
                _gates.lstm_direction(x, h_d, h0, c0, w, **kw)
            else:
                _gates.gru_direction(x, h_d, h0, w, **kw)
        for s, off, _ in gates:
            src, U = first[s]
            if off != src:
                out[:, steps, off : off + D * U].copy_(out[:, steps, src : src + D * U])


# ----------------------------------------------------------------------- cells
@dataclass
class CellCalls:
    """Every call of one cell during a forward pass, stacked along steps."""

    x: list[Tensor]
    h_prev: list[Tensor | None]
    c_prev: list[Tensor | None]
    h: list[Tensor]
    c: list[Tensor | None]
    n_batch: int

    @property
    def n_steps(self) -> int:
        return len(self.h)


def cell_calls(module: nn.Module, kind: str, records: list, name: str) -> CellCalls:
    """Normalise the recorded calls of a cell; every call must have the same batch size."""
    calls = CellCalls([], [], [], [], [], 0)
    for j, (args, kwargs, output) in enumerate(records):
        x = _arg(args, kwargs, 0, "input")
        hx = _arg(args, kwargs, 1, "hx")
        unbatched = x.dim() == 1

        def b(t: Tensor | None, unbatched: bool = unbatched) -> Tensor | None:
            return t.unsqueeze(0) if (t is not None and unbatched) else t

        if kind == "LSTM":
            hp, cp = (None, None) if hx is None else hx
            h, c = output
        else:
            hp, cp, h, c = hx, None, output, None
        x = b(x)
        B = int(x.shape[0])
        if j == 0:
            calls.n_batch = B
        elif B != calls.n_batch:
            raise RnndynError(
                f"cell {name!r} was called with batch size {calls.n_batch} and then {B} (call "
                f"{j}) in one forward pass; its calls are the steps of one trajectory, so every "
                "call must carry the same sequences. Capture a fused module instead, or keep "
                "finished sequences in the batch."
            )
        calls.x.append(x)
        calls.h_prev.append(b(hp))
        calls.c_prev.append(b(cp))
        calls.h.append(b(h))
        calls.c.append(b(c))
    return calls


def run_cells(mp: ModulePlan, calls: CellCalls, out: Tensor) -> None:
    """Write the wanted states of a cell's calls into ``out`` (steps = call order)."""
    module = mp.module
    H = int(module.hidden_size)
    B = calls.n_batch
    items = mp.wants[0]
    for s, off, _ in items:
        if s in ("h", "c"):
            for t, v in enumerate(calls.h if s == "h" else calls.c):
                out[:, t, off : off + H].copy_(v)
    first: dict[str, int] = {}
    for s, off, _ in items:
        if s not in ("h", "c"):
            first.setdefault(s, off)
    gates = {s: out[:, :, off : off + H] for s, off in first.items()}
    if not gates:
        return
    ref = calls.h[0]
    x = torch.stack(calls.x, dim=1)
    h_prev = torch.stack([ref.new_zeros(B, H) if p is None else p for p in calls.h_prev], dim=1)
    w = weights(module, 0, 0, cell=True)
    if mp.kind == "LSTM":
        _gates.lstm_gates(x, h_prev, w, out=gates)
    else:
        _gates.gru_gates(x, h_prev, w, out=gates)
    for s, off, _ in items:
        if s in first and off != first[s]:
            out[:, :, off : off + H].copy_(out[:, :, first[s] : first[s] + H])
