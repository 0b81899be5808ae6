"""Time views of a Trajectories: processing order and alignment at the end of input.

The bodies behind :meth:`Trajectories.processing_order`,
:meth:`Trajectories.input_order` and :meth:`Trajectories.align_end`; the
orders come from the trajectories' :class:`~rnndyn.steps.Steps`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from ._convert import _like
from ._validation import check_end_of_input, check_int, to_numpy
from .errors import RnndynError
from .steps import rank

if TYPE_CHECKING:
    from .trajectories import Trajectories

__all__ = ["Aligned", "reorder", "align_end"]


class Aligned(NamedTuple):
    """States aligned at the end of input.

    ``values[i, k, u]`` is the state of sequence ``i`` at ``offsets[k]`` steps
    after its last real input step (``offsets[k] == 0`` is the last real
    character, negative offsets are earlier characters, positive ones padding);
    NaN where sequence ``i`` has no such step (``valid[i, k]`` is False).
    """

    values: np.ndarray
    offsets: np.ndarray
    valid: np.ndarray


def reorder(traj: Trajectories, to: str) -> Trajectories:
    """States re-arranged into ``to`` (``"input"`` or ``"processing"``) order."""
    if traj.order == to:
        return traj
    groups = [(o, c) for o, c in traj.step_groups() if not bool(np.all(o == np.arange(traj.n_steps)))]
    if not groups or traj.n_steps == 0:
        return traj._replace(order=to)
    states = traj.states
    if len(groups) == 1 and groups[0][1].size == traj.n_units and isinstance(states, np.ndarray):
        order = groups[0][0]
        if np.array_equal(order, np.broadcast_to(np.arange(traj.n_steps)[::-1], order.shape)):
            return traj._replace(states=states[:, ::-1], order=to)  # a reversed view, no copy
    states = to_numpy(states)
    out = np.array(states, copy=True)
    for order, cols in groups:
        idx = order if to == "processing" else rank(order)
        out[:, :, cols] = np.take_along_axis(states[:, :, cols], idx[:, :, None], axis=1)
    return traj._replace(states=_like(out, traj.states), order=to)


def align_end(traj: Trajectories, before: int | None, after: int | None) -> Aligned:
    """See :meth:`Trajectories.align_end`."""
    if traj.order != "input":
        raise RnndynError("align_end() needs input order; call .input_order() first.")
    check_end_of_input(traj.lengths, "align_end()")
    T = traj.n_steps
    last = T - 1 - np.argmax(traj.steps.valid[:, ::-1], axis=1)  # last real input position
    max_before = int(last.max(initial=0))
    max_after = T - 1 - int(last.min(initial=T - 1))
    hint = (
        f"With n_steps={T} no sequence has a step further than {max(T - 1, 0)} steps from its end "
        "of input; use a smaller value or None (as far as any sequence reaches)."
    )
    top = max(T - 1, 0)
    before = max_before if before is None else check_int(before, "before", minimum=0, maximum=top, hint=hint)
    after = max_after if after is None else check_int(after, "after", minimum=0, maximum=top, hint=hint)
    offsets = np.arange(-before, after + 1)
    t = last[:, None] + offsets[None, :]
    valid = (t >= 0) & (t < T)
    states = to_numpy(traj.states).astype(np.float64, copy=False)
    vals = np.take_along_axis(states, np.clip(t, 0, max(T - 1, 0))[:, :, None], axis=1)
    vals = np.where(valid[:, :, None], vals, np.nan)
    return Aligned(vals, offsets, valid)
