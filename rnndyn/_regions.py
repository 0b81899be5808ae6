"""Region windows: which steps and deltas of each series a metric may use.

A region (``"all"``, ``"input"``, ``"padding"``) selects, in every sequence
and for every group of units sharing a processing order, some deltas (the
rule is in :mod:`rnndyn.steps`). This module turns them into *windows*, stored
as a start and a count per (row, group), where a row is a sequence, or -- when
a region has several runs in one sequence (padding in the middle) and the
metric pairs steps across lags -- one run of a sequence (``rows`` maps rows
to sequences):

* delta window ``[dstart, dstart + dcount)`` -- the deltas in the region;
* position window ``[dstart, dstart + pcount)`` -- the positions (steps) that
  are endpoints of those deltas: ``pcount = dcount + 1`` when ``dcount > 0``,
  else 0. For ``region="all"`` every step is a position (``pcount = n_steps``,
  also when ``n_steps == 1``).

Since every window is contiguous, a pair of steps ``(t, t + m)`` has every
delta between them in the region exactly when both steps lie in the position
window; a pair of deltas likewise. All pair counts follow from the windows in
closed form (no per-pair loops), as exact integers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._backends import get_backend
from ._convert import index_axis
from ._validation import array_namespace, check_bool, check_region
from .errors import RnndynError
from .steps import Steps, delta_region
from .trajectories import Trajectories

__all__ = ["Windows", "resolve", "setup", "like", "finish"]


@dataclass(frozen=True)
class Windows:
    """Per-(sequence, group) windows of one region; units map to groups."""

    n_steps: int
    groups: np.ndarray  # (n_units,) group of each unit
    dstart: np.ndarray  # (n_rows, n_groups)
    dcount: np.ndarray  # (n_rows, n_groups)
    pcount: np.ndarray  # (n_rows, n_groups)
    dmask: np.ndarray | None = None  # (n_rows, n_groups, n_steps - 1) when not one run per row
    seq: np.ndarray | None = None  # (n_rows,) the sequence of each row, when a sequence has several

    def row(self, r: int) -> Windows:
        """The windows of row ``r`` alone (its counts are that row's)."""
        dmask = None if self.dmask is None else self.dmask[r : r + 1]
        sl = slice(r, r + 1)
        return Windows(self.n_steps, self.groups, self.dstart[sl], self.dcount[sl], self.pcount[sl], dmask)

    @property
    def n_rows(self) -> int:
        return int(self.dstart.shape[0])

    def sequence_of_rows(self) -> np.ndarray:
        """The sequence each row belongs to, int ``(n_rows,)``."""
        return np.arange(self.n_rows) if self.seq is None else self.seq

    @property
    def n_groups(self) -> int:
        return int(self.dstart.shape[1])

    @property
    def full_deltas(self) -> bool:
        """Every series uses every delta (no mask needed)."""
        if self.dmask is not None:
            return bool(self.dmask.all())
        return bool(np.all(self.dcount == max(self.n_steps - 1, 0)))

    def _runs_only(self, what: str) -> None:
        if self.dmask is not None:  # pragma: no cover - guarded by resolve(runs=True)
            raise RnndynError(f"internal error: {what} needs one run per row; resolve with runs=True.")

    @property
    def full_positions(self) -> bool:
        """Every series uses every step (no mask needed)."""
        return bool(np.all(self.pcount == self.n_steps))

    # ----------------------------------------------------------- block masks
    def delta_mask(self, i0: int, i1: int) -> np.ndarray:
        """Bool ``(b, n_groups, n_steps - 1)`` for rows ``i0:i1``."""
        if self.dmask is not None:
            return self.dmask[i0:i1]
        t = np.arange(max(self.n_steps - 1, 0))
        a = self.dstart[i0:i1, :, None]
        return (t >= a) & (t < a + self.dcount[i0:i1, :, None])

    def position_mask(self, i0: int, i1: int) -> np.ndarray:
        """Bool ``(b, n_groups, n_steps)`` for rows ``i0:i1``."""
        self._runs_only("position_mask")
        t = np.arange(self.n_steps)
        a = self.dstart[i0:i1, :, None]
        return (t >= a) & (t < a + self.pcount[i0:i1, :, None])

    def start_mask(self, i0: int, i1: int) -> np.ndarray:
        """Bool ``(b, n_groups, n_steps)``: pair ``(0, t)`` lies in the region."""
        self._runs_only("start_mask")
        t = np.arange(self.n_steps)
        ok = (self.dstart[i0:i1, :, None] == 0) | (self.pcount[i0:i1, :, None] == self.n_steps)
        return ok & (t < self.pcount[i0:i1, :, None])

    # ---------------------------------------------------------------- counts
    def _per_unit(self, per_group: np.ndarray) -> np.ndarray:
        """``(..., n_groups)`` -> ``(..., n_units)``."""
        return np.ascontiguousarray(per_group[..., self.groups])

    def lag_counts(self, n_lags: int, *, positions: bool) -> np.ndarray:
        """Pairs ``sum_i max(c_i - m, 0)`` per lag ``m < n_lags``: shape (n_lags, n_units).

        ``c_i`` is the window length: positions (for the MSD) or deltas (VACF).
        """
        self._runs_only("lag_counts")
        c = self.pcount if positions else self.dcount
        top = max(self.n_steps, 1) + 1
        m = np.arange(n_lags)
        out = np.empty((n_lags, self.n_groups), dtype=np.int64)
        for g in range(self.n_groups):
            hist = np.bincount(c[:, g], minlength=top)[:top]
            k = np.arange(top)
            # sum over c > m of (c - m) hist[c], via reverse cumulative sums
            s0 = np.cumsum(hist[::-1])[::-1]  # s0[j] = #(c >= j)
            s1 = np.cumsum((k * hist)[::-1])[::-1]
            j = np.minimum(m + 1, top - 1)
            valid = m + 1 < top
            out[:, g] = np.where(valid, s1[j] - m * s0[j], 0)
        return self._per_unit(out)

    def step_counts(self) -> np.ndarray:
        """Sequences whose delta ``t`` lies in the region: shape (n_steps - 1, n_units)."""
        T1 = max(self.n_steps - 1, 0)
        if self.dmask is not None:
            return self._per_unit(self.dmask.sum(axis=0, dtype=np.int64).T)
        out = np.empty((T1, self.n_groups), dtype=np.int64)
        for g in range(self.n_groups):
            a, c = self.dstart[:, g], self.dcount[:, g]
            diff = np.bincount(a[c > 0], minlength=T1 + 1)[: T1 + 1].astype(np.int64)
            diff -= np.bincount((a + c)[c > 0], minlength=T1 + 1)[: T1 + 1]
            out[:, g] = np.cumsum(diff)[:T1]
        return self._per_unit(out)

    def pair_counts(self) -> np.ndarray:
        """Sequences whose deltas ``t`` and ``s`` both lie in the region: (T-1, T-1, n_units)."""
        T1 = max(self.n_steps - 1, 0)
        if self.dmask is not None:
            m = self.dmask.astype(np.int64)
            return self._per_unit(np.einsum("igt,igs->tsg", m, m))
        out = np.empty((T1, T1, self.n_groups), dtype=np.int64)
        for g in range(self.n_groups):
            a, c = self.dstart[:, g], self.dcount[:, g]
            keep = c > 0
            # H[a, e]: windows starting at delta a and ending at delta e (inclusive)
            e = a + c - 1
            H = np.bincount(a[keep] * T1 + e[keep], minlength=T1 * T1)[: T1 * T1]
            H = H.reshape(T1, T1)
            # C[t, s] (t <= s) = #(a <= t and e >= s)
            C = np.cumsum(H, axis=0)[:, ::-1].cumsum(axis=1)[:, ::-1]
            upper = np.triu(C)
            out[:, :, g] = upper + np.triu(C, 1).T
        return self._per_unit(out)

    def start_counts(self) -> np.ndarray:
        """Sequences whose pair ``(0, t)`` lies in the region: shape (n_steps, n_units)."""
        self._runs_only("start_counts")
        T = self.n_steps
        out = np.empty((T, self.n_groups), dtype=np.int64)
        for g in range(self.n_groups):
            ok = (self.dstart[:, g] == 0) | (self.pcount[:, g] == T)
            hist = np.bincount(self.pcount[ok, g], minlength=T + 1)[: T + 1]
            out[:, g] = np.cumsum(hist[::-1])[::-1][1:]  # #(pcount > t)
        return self._per_unit(out)


def _runs(m: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Contiguous runs of True in each row of ``m`` ``(n, L)``: (row, start, count), row-major."""
    edges = np.diff(np.pad(m.astype(np.int8), ((0, 0), (1, 1))), axis=1)
    row, start = np.nonzero(edges == 1)
    _, stop = np.nonzero(edges == -1)
    return row, start, stop - start


def _windows(
    masks: list[np.ndarray], groups: np.ndarray, n_steps: int, region: str, runs: bool
) -> tuple[Windows, np.ndarray | None]:
    """Windows of per-group delta masks ``(n, n_steps - 1)``, and the rows -> sequences map.

    The map is None when every sequence has at most one run in every group
    (one row per sequence); with ``runs=False`` several runs stay one row and
    the windows keep the explicit mask.
    """
    n, G = (masks[0].shape[0] if masks else 0), len(masks)
    found = [_runs(m) for m in masks]
    per_seq = np.zeros((n, G), dtype=np.int64)
    for g, (row, _, _) in enumerate(found):
        per_seq[:, g] = np.bincount(row, minlength=n)[:n]
    several = bool(np.any(per_seq > 1))
    if several and not runs:
        dmask = np.stack(masks, axis=1)
        zero = np.zeros((n, G), dtype=np.int64)
        return Windows(n_steps, groups, zero, zero, zero, dmask), None
    nrows = np.maximum(per_seq.max(axis=1, initial=1), 1) if several else np.ones(n, dtype=np.int64)
    first_row = np.concatenate([[0], np.cumsum(nrows)[:-1]]).astype(np.int64)
    R = int(nrows.sum())
    dstart = np.zeros((R, G), dtype=np.int64)
    dcount = np.zeros((R, G), dtype=np.int64)
    for g, (row, start, count) in enumerate(found):
        k = np.arange(row.size) - np.concatenate([[0], np.cumsum(per_seq[:, g])[:-1]])[row]
        dstart[first_row[row] + k, g], dcount[first_row[row] + k, g] = start, count
    if region == "all":
        pcount = np.full((R, G), n_steps, dtype=np.int64)
    else:
        pcount = np.where(dcount > 0, dcount + 1, 0)
    rows = np.repeat(np.arange(n), nrows) if several else None
    return Windows(n_steps, groups, dstart, dcount, pcount, seq=rows), rows


def resolve(x: Any, lengths: Any, region: str, name: str = "x", *, runs: bool = True) -> tuple[Any, Windows]:
    """States and region windows of a ``Trajectories`` or a bare array.

    With a bare array every unit is forward, in input order, unmasked, and
    ``lengths=None`` means every step is real. With ``runs=True`` (metrics
    that pair steps across lags) a sequence whose region has several runs is
    repeated once per run, and the returned states hold those rows.
    """
    from ._validation import check_states

    check_region(region)
    if isinstance(x, Trajectories):
        if lengths is not None:
            raise RnndynError(
                "lengths= cannot be combined with a Trajectories, which carries its own lengths; "
                "drop lengths=, or pass traj.states with lengths= instead."
            )
        states = x.states
        n, T, U = x.shape
        parts = [(delta_region(o, x.steps.valid, region, x.order), c) for o, c in x.step_groups()]
    else:
        states = check_states(x, name)
        n, T, U = (int(s) for s in states.shape)
        steps = Steps.full(n, T) if lengths is None else Steps.from_lengths(lengths, T, n_sequences=n)
        parts = [(steps.delta_region("", "forward", region), np.arange(U))]
    groups = np.zeros(U, dtype=np.int64)
    for g, (_, cols) in enumerate(parts):
        groups[cols] = g
    masks = [m for m, _ in parts] or [np.ones((n, max(T - 1, 0)), dtype=bool)]
    win, rows = _windows(masks, groups, T, region, runs)
    if rows is not None:
        states = index_axis(states, rows, axis=0)
    return states, win


def setup(
    x: Any,
    lengths: Any,
    region: str,
    fname: str,
    min_steps: int,
    vector: bool = False,
    *,
    averaged: bool = True,
    flags: dict[str, Any] | None = None,
    runs: bool = False,
) -> tuple[Any, Windows, int]:
    """:func:`resolve`, plus the checks every metric shares.

    ``runs=True`` for metrics that pair steps across lags (see :func:`resolve`).

    Checks, before any work: ``region``; ``vector`` and the other ``flags``
    (name -> value) are real booleans; at least ``min_steps`` steps; for an
    ``averaged`` metric (a mean over sequences) at least one sequence and one
    unit; one chain for ``vector``.
    """
    check_region(region)
    vector = check_bool(vector, "vector")
    for name, value in (flags or {}).items():
        check_bool(value, name)
    states, win = resolve(x, lengths, region, runs=runs)
    n, T, U = (int(s) for s in states.shape)  # n counts rows: 0 exactly when there are no sequences
    if T < min_steps:
        what = "one step" if min_steps == 1 else "two steps (one delta)"
        why = "" if min_steps == 1 else " A one-step trajectory has no deltas."
        raise RnndynError(
            f"{fname}() needs at least {what}; x has n_steps={T}.{why} Capture longer sequences."
        )
    if averaged and n == 0:
        raise RnndynError(
            f"{fname}() averages over sequences, but x has 0 sequences: a mean of nothing is "
            "undefined. Pass at least one sequence (an empty take() or filter may have removed them all)."
        )
    if averaged and U == 0:
        raise RnndynError(f"{fname}() needs at least one unit; x has n_units=0. Select at least one unit.")
    if vector and win.n_groups > 1 and not win.full_deltas:
        same = [win.dmask] if win.dmask is not None else [win.dstart, win.dcount, win.pcount]
        if not all(bool(np.all(a == a[:, :1])) for a in same):
            raise RnndynError(
                f"{fname}(vector=True) treats the whole state vector as one chain, so every unit "
                f"must share the steps of region {region!r}; here forward and backward units have "
                "different ones. Use region='all', call it per direction "
                "(traj.split_directions()), or use vector=False."
            )
    return states, win, T


# ------------------------------------------------------------------ results
def like(a: np.ndarray, ref: Any) -> Any:
    """A numpy array in ``ref``'s array type (and device)."""
    return get_backend(ref).asarray(a)


def finish(
    num: Any,
    counts: np.ndarray,
    *,
    vector: bool = False,
    return_counts: bool = False,
    post: Callable[[Any, Any], Any] | None = None,
) -> Any:
    """``num / counts`` (NaN where the count is 0), summed over units if ``vector``, then ``post``."""
    xp = array_namespace(num)
    c = like(counts, num)
    ok = c > 0
    val = xp.where(ok, num / xp.where(ok, c, 1), xp.nan)
    if vector:  # every unit shares the counts (checked by the caller)
        val = xp.sum(val, axis=-1)
        counts = counts[..., 0] if counts.shape[-1] else np.zeros(counts.shape[:-1], np.int64)
        c = like(counts, num)
    if post is not None:
        val = post(val, xp)
    return (val, c) if return_counts else val
