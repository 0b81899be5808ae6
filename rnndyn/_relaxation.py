"""Relaxation after the input ends, and the state cloud (participation ratio, gates).

Public names are re-exported by :mod:`rnndyn.physics`.

Where "after the end of input" is. Everything here works in each unit's own
processing order (:class:`~rnndyn.steps.Steps`), aligned at the processing
step that read the unit's last real input (:func:`rnndyn.steps.end_index`):

* forward units, and backward units of a masked recurrence, of right-padded
  sequences: step ``lengths[i] - 1``; the padding steps follow;
* backward units of an unmasked recurrence read the padding *first* and the
  real characters last: their input ends at the last step, so no step follows
  it and they have no relaxation to measure (their rows are NaN with
  ``n_points = 0``, and a warning says so).
"""

from __future__ import annotations

import warnings
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from ._physics_util import as_traj, common_mask, states64, warn_nan
from ._validation import (
    check_end_of_input,
    check_float,
    check_int,
    check_region,
    real_array,
    to_numpy,
)
from .errors import RnndynError
from .steps import end_index
from .trajectories import Trajectories

__all__ = ["RelaxationCurve", "relaxation_curve", "relaxation_time", "participation_ratio", "gate_saturation"]

TARGETS = ("final", "tail_mean")


class RelaxationCurve(NamedTuple):
    """Mean distance to the target state, per offset after the end of input.

    ``deviation[k, u]`` is the mean over sequences of ``|h[end + k, u] - h*|``
    (only sequences that have step ``end + k``; ``counts[k, u]`` of them).
    """

    offsets: np.ndarray
    deviation: np.ndarray
    counts: np.ndarray


def _positions(order: np.ndarray, k: np.ndarray, rows: np.ndarray, traj: Trajectories) -> np.ndarray:
    """Stored step of processing steps ``k`` (``(b,)`` or ``(b, m)``) of sequences ``rows``."""
    if traj.order == "processing":
        return k
    kk = k if k.ndim == 2 else k[:, None]
    out = np.take_along_axis(order[rows], kk, axis=1)
    return out if k.ndim == 2 else out[:, 0]


def _targets(s: np.ndarray, traj: Trajectories, target: Any, tail: int) -> np.ndarray:
    n, T, U = s.shape
    rows = np.arange(n)
    if isinstance(target, str):
        if target not in TARGETS:
            raise RnndynError(
                f"target must be one of {TARGETS} or an array of fixed-point values (shape (n_units,) "
                f"or (n_sequences, n_units)); got {target!r}."
            )
        if target == "tail_mean" and tail > T:
            raise RnndynError(
                f"tail={tail} is longer than the trajectories (n_steps={T}); target='tail_mean' "
                f"averages the last `tail` steps, so use tail <= {T}."
            )
        steps = np.array([T - 1]) if target == "final" else np.arange(T - tail, T)
        h = np.empty((n, U))
        for order, cols in traj.step_groups():
            t = _positions(order, np.broadcast_to(steps, (n, steps.size)), rows, traj)
            h[:, cols] = s[rows[:, None], t][:, :, cols].mean(axis=1, dtype=np.float64)
        return h
    h = real_array(target, "target", finite=False)
    if h.shape not in ((U,), (n, U)):
        raise RnndynError(
            f"target as an array must have shape (n_units,) = ({U},) or (n_sequences, n_units) = "
            f"({n}, {U}); got {h.shape}."
        )
    if not np.all(np.isfinite(h)):
        raise RnndynError("target holds NaN or inf; every value must be finite.")
    return np.broadcast_to(h, (n, U))


def relaxation_curve(x: Any, *, target: Any = "final", tail: int = 5, lengths: Any = None) -> RelaxationCurve:
    """Mean distance ``<|h_t - h*|>`` to the target vs steps since the end of input.

    Works in each unit's processing order (see the module docstring): offset
    ``k`` of sequence ``i`` is processing step ``end_i + k``, the same step
    that :meth:`Trajectories.align_end` of the processing-order states finds
    (computed by gathering those steps, without re-ordering the whole array).

    Parameters
    ----------
    x : Trajectories or array of shape (n_sequences, n_steps, n_units)
    target : {"final", "tail_mean"} or array, default "final"
        ``h*`` per sequence and unit: its last state (``"final"``), the mean
        of its last ``tail`` steps (``"tail_mean"``), or given values
        (shape ``(n_units,)`` or ``(n_sequences, n_units)``, e.g. a known
        fixed point). "Last" is in processing order.
    tail : int, default 5
    lengths : array, optional

    Returns
    -------
    RelaxationCurve
        ``offsets`` (0 = the step that read the last real input),
        ``deviation`` and ``counts``, both shaped ``(n_offsets, n_units)``.

    Examples
    --------
    >>> import numpy as np
    >>> x = (0.5 ** np.arange(6.0))[None, :, None]          # input ends at step 1
    >>> relaxation_curve(x, lengths=[2], target=np.zeros(1)).deviation[:, 0].tolist()
    [0.5, 0.25, 0.125, 0.0625, 0.03125]
    """
    tail = check_int(tail, "tail", minimum=1)
    if not isinstance(target, str) and (target is None or isinstance(target, (bytes, dict))):
        raise RnndynError(
            f"target must be one of {TARGETS} or an array of fixed-point values; got {target!r}."
        )
    traj = as_traj(x, lengths, what="relaxation_curve")
    n, T, U = traj.shape
    check_end_of_input(traj.lengths, "relaxation_curve")
    s = to_numpy(traj.states)
    h = _targets(s, traj, target, tail)
    groups = traj.step_groups()
    ends = [end_index(order, traj.steps.valid) for order, _ in groups]
    K = max(T - 1 - int(e.min()) for e in ends)
    dev = np.zeros((K + 1, U))
    cnt = np.zeros((K + 1, U), dtype=np.int64)
    for (order, cols), e in zip(groups, ends, strict=True):
        for k in range(T - int(e.min())):
            rows = np.flatnonzero(e + k < T)
            t = _positions(order, e[rows] + k, rows, traj)
            vals = s[rows, t][:, cols]
            dev[k, cols] = np.abs(vals - h[rows][:, cols]).sum(axis=0, dtype=np.float64)
            cnt[k, cols] = rows.size
    with np.errstate(invalid="ignore", divide="ignore"):
        dev = np.where(cnt > 0, dev / np.maximum(cnt, 1), np.nan)
    return RelaxationCurve(np.arange(K + 1), dev, cnt)


def relaxation_time(
    x: Any,
    *,
    target: Any = "final",
    start: int = 0,
    stop: int | None = None,
    min_points: int = 3,
    min_sequences: int = 1,
    tail: int = 5,
    lengths: Any = None,
) -> pd.DataFrame:
    """Relaxation time of the approach to the target state after the input ends.

    Estimator: the pooled curve ``D(k) = <|h[end + k] - h*|>`` of
    :func:`relaxation_curve` (mean over sequences at each offset ``k``), then
    a least-squares line ``ln D(k) = a - k / tau`` over the fit window, per
    unit. ``D(k) ~ |lambda_max|**k`` gives ``tau = -1 / ln|lambda_max|``.

    Fit window: offsets ``start <= k < stop`` that at least ``min_sequences``
    sequences reach, cut at the first offset where ``D`` is exactly 0 (the
    state has arrived, e.g. the last step for ``target="final"``; a log of 0
    cannot be fitted). Keep it before ``D`` hits the noise floor; check ``r2``.

    Parameters
    ----------
    x : Trajectories or array of shape (n_sequences, n_steps, n_units)
    target, tail : see :func:`relaxation_curve`
    start : int, default 0
        First offset of the fit window (``>= 0``).
    stop : int, optional
        Exclusive, ``start < stop <= n_offsets`` (the last offset any
        sequence reaches, plus 1; also the default). A larger ``stop`` is an
        error, not clipped.
    min_points : int, default 3
        Fewer points in a unit's window give NaN ``tau``, ``rate`` and ``r2``
        (with a warning). A window that cannot hold ``min_points`` for any
        unit is an error.
    min_sequences : int, default 1
        At most ``n_sequences``.
    lengths : array, optional

    Returns
    -------
    pandas.DataFrame
        One row per unit (index = unit position), columns ``tau``
        (``-1/slope``; ``inf`` for a flat ``D``, negative if ``D`` grows),
        ``rate`` (``-slope``), ``r2``, ``n_points``, ``window_start``,
        ``window_stop`` (the offsets used, stop exclusive).

    Examples
    --------
    >>> import numpy as np
    >>> x = (0.95 ** np.arange(60.0))[None, :, None]
    >>> relaxation_time(x, lengths=[1], target=np.zeros(1))["tau"].round(4).tolist()
    [19.4957]
    """
    start = check_int(start, "start", minimum=0)
    if stop is not None:
        stop = check_int(stop, "stop", minimum=start + 1)
    min_points = check_int(min_points, "min_points", minimum=2)
    min_sequences = check_int(min_sequences, "min_sequences", minimum=1)
    traj = as_traj(x, lengths, what="relaxation_time")
    if min_sequences > traj.n_sequences:
        raise RnndynError(
            f"min_sequences={min_sequences} is more than the {traj.n_sequences} sequence(s) given, so "
            f"no offset could qualify; use min_sequences <= {traj.n_sequences}."
        )
    curve = relaxation_curve(traj, target=target, tail=tail)
    K1 = curve.offsets.size
    if stop is None:
        stop = K1
    elif stop > K1:
        raise RnndynError(
            f"stop={stop} is past the last offset after the end of input ({K1 - 1}; offsets run "
            f"0..{K1 - 1}), so the window would be silently cut. Use stop <= {K1}, or stop=None for "
            "the whole curve."
        )
    k = curve.offsets[:, None].astype(np.float64)
    use = (k >= start) & (k < stop) & (curve.counts >= min_sequences)
    if int(use.sum(axis=0).max()) < min_points:
        raise RnndynError(
            f"relaxation_time: the fit window start={start}, stop={stop} holds fewer than "
            f"min_points={min_points} offsets reached by >= {min_sequences} sequence(s) for every "
            f"unit (offsets after the end of input run 0..{K1 - 1}). Widen the window, lower "
            "min_points/min_sequences, or capture more padding steps."
        )
    arrived = np.cumsum(use & (curve.deviation == 0), axis=0) > 0
    use &= ~arrived
    npts = use.sum(axis=0)
    w = use.astype(np.float64)
    y = np.log(np.where(use, curve.deviation, 1.0))
    nn = np.maximum(npts, 1)
    km = (w * k).sum(axis=0) / nn
    ym = (w * y).sum(axis=0) / nn
    sxx = (w * (k - km) ** 2).sum(axis=0)
    sxy = (w * (k - km) * (y - ym)).sum(axis=0)
    ok = npts >= min_points
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.where(ok, sxy / np.where(sxx > 0, sxx, 1.0), np.nan)
        ss_tot = (w * (y - ym) ** 2).sum(axis=0)
        ss_res = (w * (y - ym - slope * (k - km)) ** 2).sum(axis=0)
        r2 = np.where(ok & (ss_tot > 0), 1.0 - ss_res / np.where(ss_tot > 0, ss_tot, 1.0), np.nan)
        tau = np.where(slope == 0, np.inf, -1.0 / slope)
    no_after = curve.counts[min(1, K1 - 1)] == 0 if K1 > 1 else np.ones(npts.shape, bool)
    n_bad = int((~ok).sum())
    if n_bad:
        why = "their fit window holds fewer than min_points offsets"
        if (~ok & no_after).any():
            why += (
                f" ({int((~ok & no_after).sum())} have no step after the end of their input: backward "
                "units of an unmasked recurrence read the padding first)"
            )
        warn_nan("relaxation_time", n_bad, npts.size, why)
    first = np.where(npts > 0, np.argmax(use, axis=0), -1)
    return pd.DataFrame(
        {
            "tau": tau,
            "rate": -slope,
            "r2": r2,
            "n_points": npts.astype(np.int64),
            "window_start": first.astype(np.int64),
            "window_stop": np.where(npts > 0, first + npts, -1).astype(np.int64),
        }
    )


def participation_ratio(x: Any, *, region: str = "all", lengths: Any = None) -> float:
    """Participation ratio ``(sum lambda)^2 / sum lambda^2`` of the state cloud.

    ``lambda`` are the eigenvalues of the covariance of every state vector
    ``h[i, t]`` in the region, pooled over sequences and steps (a step is
    "input" when it read a real input position). It counts the effectively
    used dimensions: ``k`` for an isotropic cloud in ``k`` dimensions, 1 for
    a line. Computed as ``tr(C)^2 / ||C||_F^2`` (no eigendecomposition).

    Returns
    -------
    float
        NaN (with a warning) for a cloud of one point (zero covariance).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).standard_normal((100, 50, 3))
    >>> round(participation_ratio(x), 1)
    3.0
    """
    check_region(region)
    traj = as_traj(x, lengths, what="participation_ratio")
    s = states64(traj)
    mask = common_mask(traj.step_mask(region), "participation_ratio")
    pts = s[mask]
    if pts.shape[0] < 2:
        raise RnndynError(
            f"participation_ratio needs at least 2 states in region={region!r}; got {pts.shape[0]}."
        )
    pts = pts - pts.mean(axis=0)
    g = pts.T @ pts if pts.shape[1] <= pts.shape[0] else pts @ pts.T
    tr, fro2 = float(np.trace(g)), float(np.sum(g * g))
    if fro2 == 0:
        warn_nan("participation_ratio", 1, 1, "the state cloud is a single point")
        return float("nan")
    return tr * tr / fro2


def gate_saturation(
    x: Any, *, low: float = 0.1, high: float = 0.9, region: str = "all", lengths: Any = None
) -> np.ndarray:
    """Fraction of (sequence, step) values below ``low`` or above ``high``, per unit.

    Meant for gate activations (values in ``[0, 1]``) captured with
    ``state="i"``/``"f"``/``"o"`` etc. Only steps in the region count (a step
    is "input" when it read a real input position).

    Examples
    --------
    >>> import numpy as np
    >>> gate_saturation(np.array([0.05, 0.5, 0.95, 0.5])[None, :, None]).tolist()
    [0.5]
    """
    check_region(region)
    low, high = check_float(low, "low"), check_float(high, "high")
    if not low < high:
        raise RnndynError(
            f"gate_saturation needs low < high (low is the closed-gate bound, high the open one); "
            f"got low={low}, high={high}. Swap them."
        )
    traj = as_traj(x, lengths, what="gate_saturation")
    s = states64(traj)
    mask = traj.step_mask(region)
    n = mask.sum(axis=(0, 1))
    sat = ((s < low) | (s > high)) & mask
    if np.any(n == 0):
        warnings.warn(
            f"gate_saturation: {int((n == 0).sum())} unit(s) have no step in region={region!r}; "
            "their fraction is NaN.",
            RuntimeWarning,
            stacklevel=2,
        )
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, sat.sum(axis=(0, 1)) / np.maximum(n, 1), np.nan)
