"""MSD, scaling exponent, regimes, VACF and diffusion of one group of units in one region.

One MSD and one VACF call per region (:mod:`rnndyn.metrics`); the exponent,
the regime and both diffusion coefficients follow from them exactly as
:func:`rnndyn.physics.msd_exponent` and
:func:`rnndyn.physics.diffusion_coefficient` compute them
(``tests/test_dates_study.py`` checks that they agree). With bootstrap the
MSD comes from :class:`rnndyn.stream.Accumulator` kept per string
(``per_sequence=True``): every resample is one weighted sum of its rows.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

import rnndyn
from rnndyn import metrics, physics
from rnndyn.stream import Accumulator

from . import _study_stats as S
from ._study_types import Arrays, Numbers

__all__ = ["WINDOWS", "msd_region"]

#: MSD / diffusion fit windows (lo, hi) per region, in steps.
WINDOWS = {"input": (1, 5), "padding": (1, 10)}


def _scale(x: np.ndarray) -> np.ndarray:
    """Mean within-string variance per unit (the zero-MSD scale of rnndyn.physics)."""
    return x.var(axis=1).mean(axis=0)


def _window(dmask: np.ndarray, region: str) -> tuple[int, int]:
    """The fit window of ``region``, shortened to the longest run of deltas any string has."""
    lo, hi = WINDOWS[region]
    hi = int(min(hi, max(int(dmask.sum(1).max()), 2)))
    return min(lo, hi - 1), hi


def msd_region(
    P: rnndyn.Trajectories, x: np.ndarray, dmask: np.ndarray, region: str, C: np.ndarray, boot: bool
) -> tuple[Numbers, Arrays, dict[str, np.ndarray]]:
    """Numbers, arrays and per-unit columns of ``region`` for the units of ``P``.

    ``x`` is ``P.states`` as a numpy array, ``dmask`` the region's delta mask
    ``(n, T - 1)`` (shared by the units), ``C`` the resample counts; ``boot``
    adds bootstrap intervals to the exponent and the regime shares.
    """
    lo, hi = _window(dmask, region)
    lags = np.arange(lo, hi + 1)
    if boot:  # rnndyn's own statistic, kept per string: every resample is one weighted sum of rows
        acc = Accumulator(["msd"], max_lag=hi, regions=region, per_sequence=True).update(P)
        msd = np.asarray(acc.result()["msd"], dtype=np.float64)
    else:
        msd = np.asarray(metrics.msd(P, max_lag=hi, region=region), dtype=np.float64)
    c = np.asarray(metrics.vacf(P, max_lag=hi, region=region), dtype=np.float64)
    alpha = S.loglog_slope(msd[lo : hi + 1], lags)
    flat = np.all(msd[lo : hi + 1] <= physics.ZERO_MSD * np.nanmax(msd), axis=0)
    if flat.any():  # a constant unit: exponent 0 ("arrested"), as rnndyn.physics does
        alpha = np.where(np.all(msd[lo : hi + 1] <= physics.ZERO_MSD * _scale(x), axis=0), 0.0, alpha)
    regime = physics.classify_regime(alpha)
    counts = {r: int(np.sum(regime == r)) for r in physics.REGIMES}
    shown = [r for r in physics.REGIMES if counts[r] or r in ("ballistic", "diffusive")]
    with np.errstate(invalid="ignore", divide="ignore"):
        vacf = np.where(c[:1] != 0, c / np.where(c[:1] != 0, c[:1], 1.0), np.nan)
    m = lags.astype(np.float64)
    seg = msd[lo : hi + 1]
    d_e = ((m - m.mean())[:, None] * (seg - seg.mean(0))).sum(0) / ((m - m.mean()) ** 2).sum() / 2.0
    d_gk = c[0] / 2.0 + c[1:hi].sum(0)
    arrays: dict[str, Any] = {
        "lags": np.arange(hi + 1),
        "vacf_median": np.nanmedian(vacf, axis=1),
        "vacf_q": np.nanpercentile(vacf, [25, 75], axis=1),
        "alpha": alpha,
        "d_einstein": d_e,
        "d_green_kubo": d_gk,
    }
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        gk_over_e = d_gk / d_e
        numbers: dict[str, Any] = {
            "window": [lo, hi],
            "alpha_median": {"estimate": float(np.nanmedian(alpha)), "low": None, "high": None},
            "alpha_quartiles": [float(np.nanpercentile(alpha, 25)), float(np.nanpercentile(alpha, 75))],
            "regime_counts": counts,
            "regime_fraction": {
                r: {"estimate": float(np.mean(regime == r)), "low": None, "high": None} for r in shown
            },
            "diffusion": {
                "einstein_median": float(np.nanmedian(d_e)),
                "green_kubo_median": float(np.nanmedian(d_gk)),
                "gk_over_einstein_median": float(np.nanmedian(gk_over_e)),
                "spearman": S.spearman(d_e, d_gk),
            },
            "vacf1_median": float(np.nanmedian(vacf[1])) if vacf.shape[0] > 1 else float("nan"),
        }
        if boot:
            b_msd = acc.resampled(C)["msd"]  # (resamples, hi + 1, units), NaN where a lag has no pair
            b_alpha = S.loglog_slope(b_msd[:, lo : hi + 1], lags)
            b_regime = physics.classify_regime(b_alpha)
            numbers["alpha_median"] = S.interval(np.nanmedian(alpha), np.nanmedian(b_alpha, axis=1))
            numbers["regime_fraction"] = {
                r: S.interval(np.mean(regime == r), np.mean(b_regime == r, axis=1)) for r in shown
            }
            numbers["pairs"] = int(acc.result(return_counts=True)["msd"][1][hi, 0])
            arrays["msd_median"] = np.nanmedian(msd, axis=1)
            arrays["msd_band"] = S.band(np.nanmedian(b_msd, axis=2))
    per_unit = {
        f"alpha_{region}": alpha,
        f"regime_{region}": regime,
        f"D_einstein_{region}": d_e,
        f"D_green_kubo_{region}": d_gk,
    }
    return numbers, arrays, per_unit
