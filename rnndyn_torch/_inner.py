"""Recurrent modules with a ``forward`` of their own, and joining calls along steps.

A subclass of ``nn.LSTM``/``GRU``/``RNN`` may pack its input inside its own
``forward`` and hand a ``PackedSequence`` to ``super().forward``; a forward
hook on the module sees only the padded tensors around that. While a batch
runs, :func:`record_inner` also records what each such module hands to the
base class (its *inner* calls), so the real lengths are known.

Calls of one module are joined along steps in the order they ran: a packed
call occupies as many steps as the padded tensor its own call received (else
returned, else its longest sequence), its padding marked invalid; a tensor
call is all real.
A packed encoder call followed by decoder calls thus has its padding in the
middle of the joined trajectory, which :class:`rnndyn.Steps` describes exactly.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from rnndyn.errors import RnndynError

from ._record import FusedCall, fused_call

__all__ = [
    "BASE_FORWARDS",
    "has_own_forward",
    "record_inner",
    "inner_calls",
    "join_calls",
    "refuse_hidden_padding",
]

BASE_FORWARDS: dict[type, Any] = {nn.LSTM: nn.LSTM.forward, nn.GRU: nn.GRU.forward, nn.RNN: nn.RNN.forward}


def has_own_forward(module: nn.Module) -> bool:
    """A fused recurrent module whose ``forward`` is not its base class's own."""
    if not isinstance(module, tuple(BASE_FORWARDS)):
        return False
    return type(module).forward not in BASE_FORWARDS.values() or "forward" in vars(module)


@contextmanager
def record_inner(modules: Sequence[nn.Module], outer: Sequence[list]) -> Iterator[list[list]]:
    """Record the base-class forward calls of ``modules`` while the block runs.

    Yields one list per module, filled with ``(args, kwargs, output, k)``
    where ``k`` is the number of the module's own calls completed before
    (``outer[j]`` is the module's forward-hook store), i.e. the index of the
    own call the inner call belongs to. The base classes' ``forward`` is
    patched for the block only and restored in a ``finally``; other modules
    of those classes run unchanged.
    """
    inner: list[list] = [[] for _ in modules]
    by_id = {id(m): (inner[j], outer[j]) for j, m in enumerate(modules)}
    saved: list[tuple[type, Any]] = []
    try:
        for base, original in BASE_FORWARDS.items():
            if not any(isinstance(m, base) for m in modules):
                continue

            @functools.wraps(original)
            def forward(self: nn.Module, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
                output = _original(self, *args, **kwargs)
                hit = by_id.get(id(self))
                if hit is not None:
                    hit[0].append((args, kwargs, output, len(hit[1])))
                return output

            saved.append((base, base.__dict__["forward"]))
            base.forward = forward  # type: ignore[method-assign]
        yield inner
    finally:
        for base, original in reversed(saved):
            base.forward = original  # type: ignore[method-assign]


def _time_size(module: nn.RNNBase, output: Any) -> int | None:
    o = output[0] if isinstance(output, tuple | list) and output else output
    if not isinstance(o, Tensor) or o.dim() != 3:
        return None
    return int(o.shape[1] if module.batch_first else o.shape[0])


def inner_calls(module: nn.RNNBase, inner: list, outer: list, name: str) -> list[FusedCall]:
    """The inner calls as :class:`FusedCall`, each with the width it takes in the joined steps."""
    per_outer = np.bincount([k for *_, k in inner], minlength=len(outer) + 1)
    calls = []
    for args, kwargs, output, k in inner:
        call = fused_call(module, (args, kwargs, output), name)
        if call.lengths is not None:
            longest = int(call.lengths.max()) if call.lengths.numel() else 0
            sizes = []
            if k < len(outer) and per_outer[k] == 1:  # the own call's input, else its output
                args, _, out = outer[k]
                sizes = [_time_size(module, args[0] if args else None), _time_size(module, out)]
            call.width = next((w for w in sizes if w is not None and w >= longest), longest)
        calls.append(call)
    return calls


def join_calls(
    calls: list[FusedCall], name: str, directions: int, n_steps: int | None
) -> tuple[int, np.ndarray, bool]:
    """Steps, validity ``(B, T)`` and masking of a module's calls joined along steps.

    One packed call is padded to ``n_steps`` (the inputs' step count) when
    that is longer; each call's ``width`` says how many steps it fills.
    """
    packed = [c.lengths is not None for c in calls]
    if len(calls) > 1 and any(packed) and directions > 1:
        raise RnndynError(
            f"layer {name!r} is bidirectional and was called {len(calls)} times in one forward pass, "
            "some with a PackedSequence: each call's backward pass is a recurrence of its own, so "
            "joining them along steps has no single processing order. Capture each call's sequences "
            "separately."
        )
    B = calls[0].n_batch
    blocks = []
    for call in calls:
        if call.lengths is None:
            blocks.append(np.ones((B, call.n_steps), dtype=bool))
            continue
        width = call.width if call.width is not None else call.n_steps
        if len(calls) == 1:
            width = max(width, n_steps or 0)
            call.width = width
        lengths = call.lengths.numpy()
        blocks.append(np.arange(width)[None, :] < lengths[:, None])
    valid = np.concatenate(blocks, axis=1) if blocks else np.zeros((B, 0), dtype=bool)
    return int(valid.shape[1]), valid, any(packed)


def refuse_hidden_padding(module: nn.Module, calls: list[FusedCall], name: str) -> None:
    """Refuse a module with a forward of its own whose padded output hides a packing rnndyn did
    not see (its tensor output is exactly zero after some step of some sequences, not all)."""
    if not has_own_forward(module):
        return
    for j, call in enumerate(calls):
        if call.lengths is not None or not isinstance(call.out, Tensor) or call.out.dim() != 3:
            continue
        h = call.out if module.batch_first else call.out.transpose(0, 1)
        zero = (h == 0).all(dim=2)  # (B, T): every unit exactly zero
        tail = zero.flip(1).int().cumprod(dim=1).sum(dim=1)  # trailing all-zero steps per sequence
        if not bool((tail > 0).any()) or bool((tail > 0).all()):
            continue
        i = int(torch.nonzero(tail > 0)[0, 0])
        real = int(h.shape[1] - tail[i])
        raise RnndynError(
            f"layer {name!r} ({type(module).__name__}, a subclass with a forward of its own) pads "
            f"its output inside that forward without handing a PackedSequence to "
            f"{next(b.__name__ for b in BASE_FORWARDS if isinstance(module, b))}.forward: sequence {i} "
            f"of the batch is exactly zero after step {real - 1} of {int(h.shape[1])} (call {j}), and "
            "rnndyn cannot tell that padding from real steps. Let the forward call "
            "super().forward(packed_sequence) (rnndyn then reads the lengths), or capture each call's "
            "sequences separately, unpadded."
        )
