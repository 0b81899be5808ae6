"""The physics estimators, each written once, on curves already computed.

:mod:`rnndyn.physics` computes one curve per call and applies one estimator;
:func:`rnndyn.summary.unit_summary` computes one MSD and one VACF and applies
them all. Curves are float64 numpy arrays with the lag (or step) on axis 0
and one column per unit:

* :func:`msd_curve`, :func:`vacf_curve` -- the curves of :mod:`rnndyn.metrics`
  with their pair counts; :func:`window` -- the lags ``lo .. hi`` of a curve,
  checked to have pairs;
* :func:`msd_exponent_of` -- slope of ``ln MSD`` vs ``ln m``;
* :func:`einstein` -- ``D = b / 2`` from the slope ``b`` of ``MSD(m)`` vs ``m``;
* :func:`green_kubo` -- ``D = C(0)/2 + sum_{s>=1} C(s)`` from the VACF;
* :func:`area` -- a per-step curve summed over the steps that have data.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import metrics
from ._physics_util import check_counts, counts_like, linfit, warn_nan
from ._validation import to_numpy
from .trajectories import Trajectories

__all__ = [
    "ZERO_MSD",
    "as64",
    "msd_curve",
    "vacf_curve",
    "window",
    "msd_exponent_of",
    "einstein",
    "green_kubo",
    "area",
]

#: An MSD below ``ZERO_MSD`` times the unit's mean within-sequence variance counts as zero
#: (the FFT round-off of a constant unit is ~1e-16 times that variance).
ZERO_MSD = 1e-11


def as64(a: Any) -> np.ndarray:
    """A metric's result (numpy, torch or dask) as a float64 numpy array."""
    return np.asarray(to_numpy(a), dtype=np.float64)


def msd_curve(traj: Trajectories, max_lag: int, region: str) -> tuple[np.ndarray, np.ndarray]:
    """:func:`rnndyn.metrics.msd` for lags ``0 .. max_lag`` and its pair counts, ``(max_lag + 1, U)``."""
    curve, counts = metrics.msd(traj, max_lag=max_lag, region=region, return_counts=True)
    return as64(curve), counts_like(counts, (max_lag + 1, traj.n_units))


def vacf_curve(traj: Trajectories, max_lag: int, region: str) -> tuple[np.ndarray, np.ndarray]:
    """:func:`rnndyn.metrics.vacf` for lags ``0 .. max_lag`` and its pair counts, ``(max_lag + 1, U)``."""
    c, counts = metrics.vacf(traj, max_lag=max_lag, region=region, return_counts=True)
    c = as64(c)[: max_lag + 1]
    return c, counts_like(counts, c.shape)


def window(curve: np.ndarray, counts: np.ndarray, lo: int, hi: int, what: str, region: str) -> np.ndarray:
    """Lags ``lo .. hi`` (both included) of a curve; raises when one of them has no pair for a unit."""
    check_counts(counts[lo : hi + 1], lo, what, region)
    return curve[lo : hi + 1]


def msd_exponent_of(seg: np.ndarray, lo: int, scale: np.ndarray, what: str) -> np.ndarray:
    """Least-squares slope of ``ln MSD(m)`` vs ``ln m`` over ``m = lo .. lo + len(seg) - 1``, per column.

    An MSD ``<= ZERO_MSD * scale`` (``scale``: the unit's mean within-sequence
    variance) counts as zero. A column that is zero throughout gets 0
    (arrested); one that is zero at some lags only gets NaN, with a
    :class:`RuntimeWarning` naming ``what``.
    """
    zero = seg <= ZERO_MSD * scale
    all_zero = zero.all(axis=0)
    some_zero = zero.any(axis=0) & ~all_zero
    safe = np.where(zero, 1.0, seg)
    slope, _, _ = linfit(np.log(np.arange(lo, lo + seg.shape[0])), np.log(safe))
    alpha = np.where(all_zero, 0.0, slope)
    alpha = np.where(some_zero, np.nan, alpha)
    warn_nan(
        what,
        int(some_zero.sum()),
        some_zero.size,
        "their MSD is zero at some lags of the window and not at others (a log-log slope is "
        "undefined); choose a window where the MSD is positive throughout",
    )
    return alpha


def einstein(seg: np.ndarray, lo: int) -> np.ndarray:
    """``D = b / 2``, ``b`` the least-squares slope (with intercept) of ``MSD(m)`` vs ``m`` from ``lo``."""
    slope, _, _ = linfit(np.arange(lo, lo + seg.shape[0]), seg)
    return slope / 2.0


def green_kubo(c: np.ndarray) -> np.ndarray:
    """``D = C(0)/2 + sum_{s=1}^{max_lag} C(s)`` from a VACF with lag 0 first."""
    return c[0] / 2.0 + c[1:].sum(axis=0)


def area(curve: np.ndarray, has: np.ndarray, axis: int = 0) -> np.ndarray:
    """Sum of ``curve`` along ``axis`` over the steps where ``has``; NaN where no step has."""
    return np.where(has.any(axis=axis), np.where(has, curve, 0.0).sum(axis=axis), np.nan)
