"""Vectorised bootstrap helpers of the date study (resampling strings).

Every headline number of the study is a function of sums over strings, so
one integer matrix ``C`` of shape ``(n_boot, n_strings)`` -- how often each
string is drawn in each resample -- turns every resample into one matrix
product ``C @ per_string_sums``; no Python loop over resamples or strings.

The per-string sums of the metrics (squared and absolute deltas, MSD
numerators and pair counts) come from rnndyn itself:
:class:`rnndyn.stream.Accumulator` with ``per_sequence=True``. Relaxation
curves are not among rnndyn's streaming metrics, so
:func:`relaxation_deviation` keeps the per-string terms of
:func:`rnndyn.physics.relaxation_curve`, and :func:`fit_log_linear` fits
every resample's curve at once as :func:`rnndyn.physics.relaxation_time`
fits one; the study reports how far the full-data values are from the
library's (``checks`` and ``check_tau_rel`` in ``summary.json``).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ._study_types import Interval

__all__ = [
    "interval",
    "percentile_ci",
    "band",
    "resampled_mean",
    "ratio",
    "unit_ratio_distribution",
    "median_and_share",
    "spearman",
    "loglog_slope",
    "relaxation_deviation",
    "fit_log_linear",
    "share_of_top",
]

LEVEL = 0.95


def percentile_ci(boots: np.ndarray, level: float = LEVEL) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise percentile interval over axis 0 (NaN resamples ignored)."""
    q = (100 * (1 - level) / 2, 100 * (1 + level) / 2)
    with np.errstate(invalid="ignore"), _quiet():
        lo, hi = np.nanpercentile(boots, q, axis=0)
    return lo, hi


def interval(estimate: Any, boots: np.ndarray, level: float = LEVEL) -> Interval:
    """``{"estimate", "low", "high"}`` of a scalar statistic and its resamples."""
    lo, hi = percentile_ci(np.asarray(boots, dtype=np.float64).reshape(len(boots), -1), level)
    return {"estimate": float(estimate), "low": float(lo[0]), "high": float(hi[0])}


def band(boots: np.ndarray) -> dict[str, np.ndarray]:
    """Pointwise 95% band ``{"low", "high"}`` of resampled curves (resamples on axis 0)."""
    lo, hi = percentile_ci(boots)
    return {"low": lo, "high": hi}


def resampled_mean(C: np.ndarray, per_string: np.ndarray) -> np.ndarray:
    """``C @ per_string / n`` for per-string arrays of any trailing shape."""
    n = per_string.shape[0]
    flat = per_string.reshape(n, -1)
    return (C @ flat / n).reshape((C.shape[0],) + per_string.shape[1:])


def ratio(
    C: np.ndarray, s_in: np.ndarray, n_in: np.ndarray, s_pad: np.ndarray, n_pad: np.ndarray
) -> Interval:
    """Pooled RMS ratio ``sqrt(sum s_in / sum n_in) / sqrt(sum s_pad / sum n_pad)`` and its interval.

    ``s_*`` are per-string sums of squared deltas, ``n_*`` per-string delta counts.
    """
    est = np.sqrt(s_in.sum() / n_in.sum()) / np.sqrt(s_pad.sum() / n_pad.sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        b = np.sqrt((C @ s_in) / (C @ n_in)) / np.sqrt((C @ s_pad) / (C @ n_pad))
    return interval(est, b)


def unit_ratio_distribution(
    C: np.ndarray, q_in: np.ndarray, n_in: np.ndarray, q_pad: np.ndarray, n_pad: np.ndarray
) -> dict[str, Interval]:
    """Per-unit input/padding RMS ratios: their median and the share above 1, with intervals.

    ``q_in``, ``q_pad`` are per-string, per-unit sums of squared deltas
    ``(n, U)``; ``n_in``, ``n_pad`` the per-string delta counts ``(n,)``. The
    pooled ratio of :func:`ratio` weighs units by how much they move; this is
    the distribution over units, each counted once.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.sqrt(q_in.sum(0) / n_in.sum()) / np.sqrt(q_pad.sum(0) / n_pad.sum())
        b = np.sqrt((C @ q_in) / (C @ n_in)[:, None]) / np.sqrt((C @ q_pad) / (C @ n_pad)[:, None])
        return median_and_share(r, b)


def median_and_share(r: np.ndarray, b: np.ndarray) -> dict[str, Interval]:
    """Median over units of the ratios ``r`` and the share above 1, with intervals from ``b``."""
    return {
        "median": interval(np.nanmedian(r), np.nanmedian(b, axis=1)),
        "share_above_1": interval(np.mean(r > 1), np.mean(b > 1, axis=1)),
    }


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation over the positions where both are finite (NaN for < 3 or a constant)."""
    from scipy.stats import spearmanr  # scipy loads in ~0.5 s: only when a correlation is asked for

    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.ptp(a[ok]) == 0 or np.ptp(b[ok]) == 0:
        return float("nan")
    return float(spearmanr(a[ok], b[ok]).statistic)


class _quiet:
    def __enter__(self) -> None:
        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc: Any) -> None:
        self._w.__exit__(*exc)


def loglog_slope(curve: np.ndarray, lags: np.ndarray) -> np.ndarray:
    """Least-squares slope of ``ln curve`` vs ``ln lag`` along axis -2.

    ``curve`` has shape ``(..., n_lags, U)``; NaN where any value is <= 0.
    """
    lx = np.log(np.asarray(lags, dtype=np.float64))
    lx = lx - lx.mean()
    with np.errstate(divide="ignore", invalid="ignore"):
        ly = np.log(np.where(curve > 0, curve, np.nan))
    ly = ly - ly.mean(axis=-2, keepdims=True)
    return (lx[:, None] * ly).sum(axis=-2) / (lx**2).sum()


def relaxation_deviation(
    x: np.ndarray, lengths: np.ndarray, n_offsets: int, target: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``|h[L-1+k] - h*|`` per string, offset and unit (forward units, input order).

    ``h*`` is each string's last state ``h[T-1]`` (``target=None``) or the
    given values (shape ``(U,)``, e.g. a fixed point). Returns ``dev`` of shape
    ``(n, n_offsets, U)`` (0 where the string has no such step) and ``valid``
    ``(n, n_offsets)``. Pooling ``dev`` over strings and dividing by the count
    of valid strings gives :func:`rnndyn.physics.relaxation_curve` with
    ``target="final"`` (or the array).
    """
    n, T, _ = x.shape
    k = np.arange(n_offsets)[None, :]
    t = (lengths[:, None] - 1) + k
    valid = t < T
    g = np.take_along_axis(x, np.minimum(t, T - 1)[:, :, None], axis=1)
    if target is None:
        g -= x[:, -1:, :]
    else:
        g = g.astype(np.float64) - np.asarray(target, dtype=np.float64)[None, None, :]
    dev = np.abs(g, out=g)
    dev *= valid[:, :, None]
    return dev, valid


def fit_log_linear(curve: np.ndarray, use: np.ndarray, min_points: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """``tau`` and ``R^2`` of ``ln curve[k] = a - k / tau`` along axis -2.

    ``curve`` is ``(..., K, U)``, ``use`` a bool mask broadcastable to it
    (points in the fit window). The window is cut at the first point where
    the curve is 0, as in :func:`rnndyn.physics.relaxation_time`.
    """
    K = curve.shape[-2]
    k = np.arange(K, dtype=np.float64)[:, None]
    use = np.broadcast_to(use, curve.shape) & np.isfinite(curve)
    arrived = np.cumsum(use & (curve == 0), axis=-2) > 0
    use = use & ~arrived
    w = use.astype(np.float64)
    npts = w.sum(axis=-2)
    nn = np.maximum(npts, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.log(np.where(use, curve, 1.0))
        km = (w * k).sum(axis=-2) / nn
        ym = (w * y).sum(axis=-2) / nn
        dk = k - km[..., None, :]
        dy = y - ym[..., None, :]
        sxx = (w * dk * dk).sum(axis=-2)
        slope = (w * dk * dy).sum(axis=-2) / np.where(sxx > 0, sxx, 1.0)
        ss_tot = (w * dy * dy).sum(axis=-2)
        ss_res = (w * (dy - slope[..., None, :] * dk) ** 2).sum(axis=-2)
        ok = npts >= min_points
        r2 = np.where(ok & (ss_tot > 0), 1.0 - ss_res / np.where(ss_tot > 0, ss_tot, 1.0), np.nan)
        tau = np.where(ok, np.where(slope == 0, np.inf, -1.0 / slope), np.nan)
    return tau, r2


def share_of_top(area: np.ndarray, fraction: float) -> np.ndarray:
    """Share of the total area held by the ``ceil(fraction * U)`` largest units, along axis -1.

    Examples
    --------
    >>> float(share_of_top(np.array([1.0, 1.0, 2.0, 4.0]), 0.25))
    0.5
    """
    U = area.shape[-1]
    k = max(1, int(np.ceil(fraction * U)))
    top = -np.partition(-area, k - 1, axis=-1)[..., :k]
    return top.sum(axis=-1) / area.sum(axis=-1)
