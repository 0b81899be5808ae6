"""Turning what a batch gave (:class:`~rnndyn_keras._graph.Raw`) into Trajectories.

Each target layer arrives as its columns, already in input order (see
:mod:`rnndyn_keras._twins`); here they are checked against the mask and the
user's lengths and laid out along units in the order of the targets. With
one layer asked for (or several, each asked for in one run), the arrays the
model returned become the result as they are: no copy.

Keras skips masked steps and repeats its previous output there, which is
0 before a direction's first real step; where the model passes initial states,
``h`` and ``c`` hold them there instead (:func:`hold_initial`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rnndyn._validation import check_lengths, check_states_finite
from rnndyn.adapter import Batch, units_table
from rnndyn.errors import RnndynError
from rnndyn.steps import Steps
from rnndyn.trajectories import Trajectories

from ._graph import Raw
from ._layers import Target
from ._twins import columns_of

__all__ = ["check_mask", "hold_initial", "assemble"]


def check_mask(mask: np.ndarray, name: str) -> np.ndarray:
    """A layer's Keras mask as the real steps ``(batch, steps)`` (True = real), padding anywhere."""
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise RnndynError(
            f"layer={name!r}: its Keras mask has shape {mask.shape}; rnndyn reads a (sequences, steps) "
            "mask, one flag per step."
        )
    return mask.astype(bool, copy=False)


def _inits(target: Target, raw: Raw) -> list[list[np.ndarray] | None]:
    if raw.init is None:
        return [None] * len(target.parts)
    half = len(raw.init) // len(target.parts)
    return [raw.init[k * half : (k + 1) * half] for k in range(len(target.parts))]


def hold_initial(cols: np.ndarray, target: Target, states: tuple[str, ...], raw: Raw) -> np.ndarray:
    """``cols`` with ``h`` and ``c`` at their initial state before each direction's first real step.

    Only masked layers given initial states change (a copy; ``cols`` may be
    read-only): the forward direction's masked steps before its first real
    one (left padding), the backward direction's after its last real one
    (right padding, which it reads first).
    """
    if raw.mask is None or raw.init is None:
        return cols
    mask = np.asarray(raw.mask, dtype=bool)
    seen_before = np.cumsum(mask, axis=1) > 0  # a real step at or before t
    seen_after = np.cumsum(mask[:, ::-1], axis=1)[:, ::-1] > 0  # a real step at or after t
    u = target.n_units
    out = None
    inits = _inits(target, raw)
    for k, (state, direction) in enumerate(columns_of(target, states)):
        part = target.directions.index(direction)
        which = {"h": 0, "c": 1}.get(state)
        init = inits[part]
        if which is None or target.kinds[part] == "RNN" or init is None or which >= len(init):
            continue  # gates are 0 there, as Keras gives; generic cells: 0 too
        before = ~seen_after if target.parts[part][1].go_backwards else ~seen_before
        if before.any():
            out = np.array(cols, dtype=np.float32) if out is None else out
            block = out[:, :, k * u : (k + 1) * u]
            block[before] = np.broadcast_to(np.asarray(init[which])[:, None, :], block.shape)[before]
    return cols if out is None else out


def assemble(
    raws: dict[str, Raw],
    plan: dict[str, tuple[Target, tuple[str, ...]]],
    targets: list[tuple[str, str]],
    batch: Batch,
) -> Trajectories:
    """One batch's Trajectories: every target's units, in order, float32.

    ``plan``: layer name -> (target, its distinct states in order), the
    layers in order of first appearance in ``targets``.
    """
    valid: np.ndarray | None = None
    masked: dict[str, bool] = {}
    steps: dict[str, int] = {}
    for name in plan:
        raw = raws[name]
        steps[name] = int(raw.cols.shape[1])
        masked[name] = raw.mask is not None
        if raw.mask is not None:
            m = check_mask(raw.mask, name)
            if valid is not None and not np.array_equal(m, valid):
                raise RnndynError(
                    f"layer={name!r} sees another Keras mask than the other layers captured with "
                    "it; capture these layers in separate calls."
                )
            valid = m
    if len(set(steps.values())) > 1:
        raise RnndynError(
            f"layer: the layers asked for run over different numbers of steps {steps}; capture "
            "them in separate calls (one Trajectories has one time axis)."
        )
    if len(set(masked.values())) > 1:
        raise RnndynError(
            f"layer: some layers asked for see a Keras mask and some do not ({masked}); capture "
            "them in separate calls (masked and unmasked recurrences differ in their padding)."
        )
    if batch.lengths is not None:
        B, T = next(iter(raws.values())).cols.shape[:2]
        given = check_lengths(batch.lengths, B, T)
        right = np.arange(T)[None, :] < given[:, None]
        bad = np.flatnonzero(np.any(right != valid, axis=1)) if valid is not None else []
        if len(bad):
            i = int(bad[0])
            raise RnndynError(
                f"lengths: sequence {i} of this batch has length {int(given[i])}, but the model's "
                f"Keras mask marks steps {np.flatnonzero(valid[i]).tolist()} as real. Pass "
                "lengths=None to take the real steps from the mask (padding anywhere), or fix "
                "the lengths (or the padding) so they agree."
            )
        valid = right
    cols: dict[str, np.ndarray] = {}
    for name, (target, states) in plan.items():
        c = hold_initial(raws[name].cols, target, states, raws[name])
        cols[name] = c if c.dtype == np.float32 else c.astype(np.float32)
    # the result's column blocks (layer, state, direction, units), in the order of the targets
    blocks = [(n, s, d, plan[n][0].n_units) for n, s in targets for d in plan[n][0].directions]
    natural = [(n, s, d, t.n_units) for n, (t, states) in plan.items() for s, d in columns_of(t, states)]
    if blocks == natural:  # each layer's columns in one run: use them as they are
        values = list(cols.values())
        result = values[0] if len(values) == 1 else np.concatenate(values, axis=2)
    else:
        first = next(iter(cols.values()))
        result = np.empty(first.shape[:2] + (sum(b[3] for b in blocks),), np.float32)
        start = 0
        where = {n: columns_of(t, states) for n, (t, states) in plan.items()}
        for name, state, direction, u in blocks:
            k = where[name].index((state, direction))
            result[:, :, start : start + u] = cols[name][:, :, k * u : (k + 1) * u]
            start += u
    units = pd.concat([units_table(name, state, (d,), u) for name, state, d, u in blocks], ignore_index=True)
    check_states_finite(result, units, "")
    # checked just above, with a message that blames the model rather than the adapter
    if valid is None:
        valid = np.ones(result.shape[:2], dtype=bool)
    steps_ = Steps(valid, masked=any(masked.values()))
    return Trajectories(result, units=units, steps=steps_, _check_finite=False)
