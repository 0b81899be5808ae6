"""Region windows: which steps and deltas of each series a metric may use.

A region (``"all"``, ``"input"``, ``"padding"``) selects, in every sequence
and for every unit direction, one contiguous run of deltas (see
:func:`rnndyn.trajectories.delta_region_mask`). This module turns those runs
into *windows*, stored as a start and a count per (sequence, direction group):

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

from ._validation import array_namespace, check_bool, check_lengths, check_region
from .errors import RnndynError
from .trajectories import Trajectories, delta_region_mask

__all__ = ["Windows", "resolve", "setup", "check_max_lag", "like", "finish"]


@dataclass(frozen=True)
class Windows:
    """Per-(sequence, group) windows of one region; units map to groups."""

    n_steps: int
    region: str
    groups: np.ndarray  # (n_units,) group of each unit
    dstart: np.ndarray  # (n_sequences, n_groups)
    dcount: np.ndarray  # (n_sequences, n_groups)
    pcount: np.ndarray  # (n_sequences, n_groups)

    @property
    def n_groups(self) -> int:
        return int(self.dstart.shape[1])

    @property
    def full_deltas(self) -> bool:
        """Every series uses every delta (no mask needed)."""
        return bool(np.all(self.dcount == max(self.n_steps - 1, 0)))

    @property
    def full_positions(self) -> bool:
        """Every series uses every step (no mask needed)."""
        return bool(np.all(self.pcount == self.n_steps))

    # ----------------------------------------------------------- block masks
    def delta_mask(self, i0: int, i1: int) -> np.ndarray:
        """Bool ``(b, n_groups, n_steps - 1)`` for sequences ``i0:i1``."""
        t = np.arange(max(self.n_steps - 1, 0))
        a = self.dstart[i0:i1, :, None]
        return (t >= a) & (t < a + self.dcount[i0:i1, :, None])

    def position_mask(self, i0: int, i1: int) -> np.ndarray:
        """Bool ``(b, n_groups, n_steps)`` for sequences ``i0:i1``."""
        t = np.arange(self.n_steps)
        a = self.dstart[i0:i1, :, None]
        return (t >= a) & (t < a + self.pcount[i0:i1, :, None])

    def start_mask(self, i0: int, i1: int) -> np.ndarray:
        """Bool ``(b, n_groups, n_steps)``: pair ``(0, t)`` lies in the region."""
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
        T = self.n_steps
        out = np.empty((T, self.n_groups), dtype=np.int64)
        for g in range(self.n_groups):
            ok = (self.dstart[:, g] == 0) | (self.pcount[:, g] == T)
            hist = np.bincount(self.pcount[ok, g], minlength=T + 1)[: T + 1]
            out[:, g] = np.cumsum(hist[::-1])[::-1][1:]  # #(pcount > t)
        return self._per_unit(out)


def _windows_from_masks(masks: list[np.ndarray], groups: np.ndarray, n_steps: int, region: str) -> Windows:
    n = masks[0].shape[0] if masks else 0
    G = len(masks)
    dstart = np.zeros((n, G), dtype=np.int64)
    dcount = np.zeros((n, G), dtype=np.int64)
    for g, m in enumerate(masks):
        c = m.sum(axis=1)
        a = np.where(c > 0, np.argmax(m, axis=1), 0) if m.shape[1] else np.zeros(n, np.int64)
        last = m.shape[1] - 1 - np.argmax(m[:, ::-1], axis=1) if m.shape[1] else a
        if np.any((c > 0) & (last - a + 1 != c)):  # pragma: no cover - guarded by design
            raise RnndynError(f"internal error: region {region!r} is not contiguous in every sequence.")
        dstart[:, g], dcount[:, g] = a, c
    if region == "all":
        pcount = np.full((n, G), n_steps, dtype=np.int64)
    else:
        pcount = np.where(dcount > 0, dcount + 1, 0)
    return Windows(n_steps, region, groups, dstart, dcount, pcount)


def resolve(x: Any, lengths: Any, region: str, name: str = "x") -> tuple[Any, Windows]:
    """States and region windows of a ``Trajectories`` or a bare array.

    With a bare array every unit is forward, in input order, unmasked, and
    ``lengths=None`` means every step is real.
    """
    from ._validation import check_states

    check_region(region)
    if isinstance(x, Trajectories):
        if lengths is not None:
            raise RnndynError(
                "lengths= cannot be combined with a Trajectories, which carries its own lengths; "
                "drop lengths=, or pass traj.states with lengths= instead."
            )
        states, lengths = x.states, x.lengths
        n, T, U = x.shape
        dirs = x.direction_groups()
        order, masked = x.order, x.masked
    else:
        states = check_states(x, name)
        n, T, U = (int(s) for s in states.shape)
        lengths = check_lengths(lengths, n, T)
        dirs = {"forward": np.arange(U)}
        order, masked = "input", False
    groups = np.zeros(U, dtype=np.int64)
    masks = []
    for g, (direction, cols) in enumerate(dirs.items()):
        groups[cols] = g
        masks.append(
            delta_region_mask(lengths, T, region=region, direction=direction, order=order, masked=masked)
        )
    if not masks:  # no units at all
        masks = [np.ones((n, max(T - 1, 0)), dtype=bool)]
    return states, _windows_from_masks(masks, groups, T, region)


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
) -> tuple[Any, Windows, int]:
    """:func:`resolve`, plus the checks every metric shares.

    Checks, before any work: ``region``; ``vector`` and the other ``flags``
    (name -> value) are real booleans; at least ``min_steps`` steps; for an
    ``averaged`` metric (a mean over sequences) at least one sequence and one
    unit; one chain for ``vector``.
    """
    check_region(region)
    vector = check_bool(vector, "vector")
    for name, value in (flags or {}).items():
        check_bool(value, name)
    states, win = resolve(x, lengths, region)
    n, T, U = (int(s) for s in states.shape)
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
    if vector and win.n_groups > 1 and not win.full_positions:
        if not all(bool(np.all(a == a[:, :1])) for a in (win.dstart, win.dcount, win.pcount)):
            raise RnndynError(
                f"{fname}(vector=True) treats the whole state vector as one chain, so every unit "
                f"must share the steps of region {region!r}; here forward and backward units have "
                "different ones. Use region='all', call it per direction "
                "(traj.split_directions()), or use vector=False."
            )
    return states, win, T


def check_max_lag(max_lag: Any, top: int, fname: str, n_steps: int) -> int:
    """``max_lag`` as an int in ``[0, top]`` (``None``: ``top``), or an error saying the maximum."""
    if max_lag is None:
        return top
    if isinstance(max_lag, (bool, np.bool_)) or not isinstance(max_lag, (int, np.integer)):
        raise RnndynError(
            f"max_lag must be an int or None; got {max_lag!r} ({type(max_lag).__name__}). Floats and "
            f"booleans are never truncated: pass a whole number in [0, {top}], or None for all lags."
        )
    if max_lag < 0:
        raise RnndynError(f"max_lag must be >= 0; got {max_lag}. Lag 0 is the first entry.")
    if max_lag > top:
        raise RnndynError(
            f"max_lag={max_lag} is too large: with n_steps={n_steps} the largest lag {fname}() "
            f"can measure is {top}. Pass max_lag <= {top}, or None for all lags."
        )
    return int(max_lag)


# ------------------------------------------------------------------ results
def like(a: np.ndarray, ref: Any) -> Any:
    """A numpy array in ``ref``'s array type (and device)."""
    if isinstance(ref, np.ndarray):
        return a
    if type(ref).__module__.startswith("dask"):
        import dask.array as da

        return da.from_array(a)
    return array_namespace(ref).asarray(a, device=getattr(ref, "device", None))


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
