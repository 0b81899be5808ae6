"""Private helpers shared by :mod:`rnndyn.physics` and :mod:`rnndyn.summary`.

Conventions used throughout:

* a *bond* is a step delta ``d[i, t] = x[i, t+1] - x[i, t]``; which bonds lie in
  a region is :meth:`Trajectories.delta_mask` (follows each unit's direction);
* the *chain* of a region is its bonds and the states they join (``k`` bonds,
  ``k + 1`` states); regions are contiguous runs, so a chain has no gaps;
* a *step* (state) is "input" when the state was produced by reading a real
  input position (see :meth:`Trajectories.step_mask`).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ._validation import array_namespace, to_numpy
from .errors import RnndynError
from .trajectories import Trajectories

__all__ = [
    "as_traj",
    "states64",
    "bead_mask",
    "pair_mask",
    "common_mask",
    "linfit",
    "warn_nan",
    "unit_scale",
    "counts_like",
]


def as_traj(x: Any, lengths: Any = None, name: str = "x", *, what: str = "") -> Trajectories:
    """A :class:`Trajectories` from a Trajectories or an array ``(n, T, U)``.

    Raises when there is no data to analyse: zero sequences, steps or units.
    """
    if isinstance(x, Trajectories):
        if lengths is not None:
            raise RnndynError(
                f"lengths= is only for plain arrays; {name} is a Trajectories that already has "
                "lengths. Drop lengths=, or build Trajectories(states, lengths=...) yourself."
            )
        traj = x
    else:
        if isinstance(x, (str, bytes, dict)) or x is None:
            raise RnndynError(
                f"{name} must be a Trajectories or an array of shape (n_sequences, n_steps, n_units); "
                f"got {type(x).__name__}."
            )
        traj = Trajectories(x, lengths=lengths)
    empty = [k for k, v in zip(("sequences", "steps", "units"), traj.shape, strict=True) if v == 0]
    if empty:
        who = f"{what} needs" if what else "this needs"
        raise RnndynError(
            f"{name} has no {' and no '.join(empty)} (shape {traj.shape}); {who} at least one of "
            "each. Check how the trajectories were selected or captured (e.g. a filter that kept "
            "nothing)."
        )
    return traj


def states64(traj: Trajectories) -> np.ndarray:
    """The states as a float64 numpy array (float64 keeps sums of squares exact enough)."""
    return np.asarray(to_numpy(traj.states), dtype=np.float64)


def bead_mask(dmask: np.ndarray) -> np.ndarray:
    """States joined by the bonds of a region: ``(n, T-1, U)`` bonds -> ``(n, T, U)`` states."""
    n, tm1, u = dmask.shape
    out = np.zeros((n, tm1 + 1, u), dtype=bool)
    out[:, :-1] |= dmask
    out[:, 1:] |= dmask
    return out


def pair_mask(dmask: np.ndarray, lag: int) -> np.ndarray:
    """Pairs ``(t, t + lag)`` whose every bond is in the region, shape ``(n, T - lag, U)``."""
    n, tm1, u = dmask.shape
    if lag == 0:
        return bead_mask(dmask)
    cs = np.zeros((n, tm1 + 1, u), dtype=np.int64)
    np.cumsum(dmask, axis=1, out=cs[:, 1:])
    return (cs[:, lag:] - cs[:, :-lag]) == lag


def common_mask(mask: np.ndarray, what: str) -> np.ndarray:
    """The one ``(n, T)`` mask shared by every unit, or an error saying why there is none."""
    first = mask[:, :, :1]
    if not np.array_equal(np.broadcast_to(first, mask.shape), mask):
        raise RnndynError(
            f"{what} treats the whole state vector as one point per step, so every unit must "
            "share the same steps in the region; here forward and backward units have different "
            "ones. Use region='all', call it per direction (traj.split_directions()), or put "
            "the trajectories in input order (traj.input_order())."
        )
    return first[:, :, 0]


def counts_like(counts: Any, shape: tuple[int, ...]) -> np.ndarray:
    """Pair counts from :mod:`rnndyn.metrics` broadcast to a curve's shape ``(n_lags, U)``."""
    c = np.asarray(to_numpy(counts))
    if c.ndim == 1:
        c = c[:, None]
    return np.broadcast_to(c, shape)


def check_counts(counts: np.ndarray, lo: int, what: str, region: str) -> None:
    """Raise when some lag of a window has no pair in the region."""
    bad = np.argwhere(counts <= 0)
    if bad.size:
        lag, unit = int(bad[0, 0]) + lo, int(bad[0, 1])
        raise RnndynError(
            f"{what}: region={region!r} has no pair of steps {lag} apart for unit {unit} "
            f"({len(np.unique(bad[:, 1]))} unit(s) affected), so lag {lag} cannot be used. "
            "Choose a window of smaller lags, or another region."
        )


def linfit(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Least-squares line ``y = a + b x`` along axis 0 for every column of ``y``.

    Returns ``(slope, intercept, r2)``; ``r2`` is NaN where ``y`` is constant.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    xs = x.reshape((-1,) + (1,) * (y.ndim - 1))
    xm = xs.mean(axis=0)
    ym = y.mean(axis=0)
    dx = xs - xm
    sxx = np.sum(dx * dx, axis=0)
    slope = np.sum(dx * (y - ym), axis=0) / sxx
    intercept = ym - slope * xm
    res = y - (intercept + slope * xs)
    ss_tot = np.sum((y - ym) ** 2, axis=0)
    ss_res = np.sum(res * res, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(ss_tot > 0, 1.0 - ss_res / np.where(ss_tot > 0, ss_tot, 1.0), np.nan)
    return slope, intercept, r2


def warn_nan(what: str, n_bad: int, n_total: int, why: str) -> None:
    """Say, once per call, that some results are NaN and why."""
    if n_bad:
        warnings.warn(
            f"{what}: {n_bad} of {n_total} result(s) are NaN because {why}.",
            RuntimeWarning,
            stacklevel=3,
        )


def unit_scale(traj: Trajectories) -> np.ndarray:
    """Mean within-sequence variance per unit, shape ``(U,)``: the scale for "MSD is zero".

    The FFT MSD of a constant series is round-off of order ``1e-16`` times
    this variance, not exactly 0.
    """
    if traj.n_sequences == 0 or traj.n_steps == 0:
        return np.zeros(traj.n_units)
    s = traj.states
    if not isinstance(s, np.ndarray):  # torch / dask: reduce where the data lives
        xp = array_namespace(s)
        return np.asarray(to_numpy(xp.mean(xp.var(xp.astype(s, xp.float64), axis=1), axis=0)))
    # a scale only: the states' own precision is enough (float32 stays float32, 3x faster)
    var = np.var(s, axis=1) if s.dtype.kind == "f" else np.var(s, axis=1, dtype=np.float64)
    return np.asarray(var.mean(axis=0, dtype=np.float64), dtype=np.float64)
