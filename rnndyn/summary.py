"""Per-unit tables, rankings, quantiles and bootstrap intervals.

* :func:`unit_summary` -- one row per unit: the unit table, the areas under
  the per-step delta curves and the rank by area, input vs padding RMS, MSD
  exponent and regime, diffusion coefficients, relaxation time, plus plugin
  metrics;
* :func:`describe` -- count, mean, std and upper quantiles of a column;
* :func:`top_units` / :func:`rank_units` -- the most dynamic units;
* :func:`bootstrap_ci` -- intervals on curves and numbers by resampling
  sequences.

``describe`` and ``rank_units`` live in ``rnndyn/_ranking.py``,
``bootstrap_ci`` in ``rnndyn/_bootstrap.py``, the estimators shared with
:mod:`rnndyn.physics` in ``rnndyn/_estimators.py``. Formulas and windows are
listed in ``docs/summary.md``.

Examples
--------
>>> import numpy as np, rnndyn
>>> x = np.random.default_rng(0).standard_normal((20, 12, 3)).cumsum(axis=1)
>>> table = rnndyn.summary.unit_summary(x, lengths=np.full(20, 6), extra=False)
>>> table[["area_mean_abs", "rank"]].shape
(3, 2)
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from . import _estimators as est
from . import metrics
from ._bootstrap import BootstrapCI, bootstrap_ci
from ._physics_util import as_traj, counts_like, unit_scale
from ._ranking import DESCRIBE_PERCENTILES, describe, rank_units
from ._validation import check_bool, check_int, check_lag_window, check_region, to_numpy
from .errors import RnndynError
from .physics import REGIMES, classify_regime, relaxation_time
from .trajectories import UNIT_COLUMNS, Trajectories

__all__ = [
    "SUMMARY_COLUMNS",
    "DESCRIBE_PERCENTILES",
    "unit_summary",
    "describe",
    "rank_units",
    "top_units",
    "bootstrap_ci",
    "BootstrapCI",
]

#: Built-in columns of :func:`unit_summary`, in order.
SUMMARY_COLUMNS = (
    *UNIT_COLUMNS,
    "area_rms",
    "area_mean_abs",
    "rank",
    "rms_input",
    "rms_padding",
    "msd_exponent",
    "regime",
    "diffusion_einstein",
    "diffusion_green_kubo",
    "relaxation_tau",
    "relaxation_r2",
)

#: Largest lag of the default fit window of :func:`unit_summary`.
DEFAULT_MAX_LAG = 10


def _area(curve: Any, counts: Any) -> np.ndarray:
    """A per-step metric summed over the steps that have data; NaN for a unit with none in the region."""
    curve = est.as64(curve)
    return est.area(curve, counts_like(counts, curve.shape) > 0)


def _pooled_rms(traj: Trajectories, region: str) -> np.ndarray:
    """``sqrt(sum_t N_t rms_t^2 / sum_t N_t)``: the RMS of every delta in the region."""
    rms, n = metrics.rms_delta(traj, region=region, return_counts=True)
    rms = est.as64(rms)
    n = counts_like(n, rms.shape).astype(np.float64)
    tot = n.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(tot > 0, np.sqrt(np.where(n > 0, n * rms**2, 0.0).sum(axis=0) / tot), np.nan)


def _default_window(counts: np.ndarray) -> tuple[int, int] | None:
    """``(1, min(DEFAULT_MAX_LAG, largest lag with pairs for every unit))``, or None below 2 lags."""
    full = np.all(counts > 0, axis=1)
    top = int(np.flatnonzero(full)[-1]) if full.any() else 0
    hi = min(DEFAULT_MAX_LAG, top)
    return (1, hi) if hi >= 2 else None


def _extra_metrics() -> dict[str, Callable[[Trajectories], Any]]:
    from .plugins import extra_metrics  # lazily: loads the plugins on first use

    return extra_metrics()


def unit_summary(
    traj: Any,
    *,
    region: str = "all",
    lags: tuple[int, int] | None = None,
    extra: bool = True,
    lengths: Any = None,
) -> pd.DataFrame:
    """One row per unit: what moves, how much, and how.

    Parameters
    ----------
    traj : Trajectories or array of shape (n_sequences, n_steps, n_units)
    region : {"all", "input", "padding"}, default "all"
        Region of the areas, the MSD exponent and the diffusion coefficients.
    lags : (int, int), optional
        Window ``(lo, hi)`` (both included) of the MSD exponent and the
        Einstein fit; the Green-Kubo sum runs to ``hi``. Default: ``(1, hi)``
        with ``hi = min(10, largest lag with pairs for every unit)``.
    extra : bool, default True
        Add the metrics contributed by plugins (hook ``rnndyn_register_metrics``).
    lengths : array, optional
        Real input steps per sequence, for a plain array.

    Returns
    -------
    pandas.DataFrame
        Index: unit position (column of ``states``). Columns
        :data:`SUMMARY_COLUMNS` then the plugin metrics:

        * ``layer``, ``state``, ``direction``, ``index`` -- the unit table;
        * ``area_rms`` -- sum over steps of :func:`rnndyn.metrics.rms_delta`;
        * ``area_mean_abs`` -- sum over steps of
          :func:`rnndyn.metrics.mean_abs_delta`;
        * ``rank`` -- 1 = the most dynamic unit by ``area_mean_abs`` (ties by
          unit position, NaN last);
        * ``rms_input``, ``rms_padding`` -- RMS of every input (padding) delta,
          i.e. ``sqrt(sum_t N_t rms_t^2 / sum_t N_t)`` (regardless of ``region``;
          NaN when there is no such delta);
        * ``msd_exponent``, ``regime`` -- :func:`rnndyn.physics.msd_exponent`,
          :func:`rnndyn.physics.classify_regime` (default thresholds);
        * ``diffusion_einstein``, ``diffusion_green_kubo`` --
          :func:`rnndyn.physics.diffusion_coefficient`;
        * ``relaxation_tau``, ``relaxation_r2`` --
          :func:`rnndyn.physics.relaxation_time` with its defaults.

        ``attrs["lags"]`` holds the window used and ``attrs["notes"]`` why a
        column is NaN (e.g. no padding to relax in); each note is also warned.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).standard_normal((50, 20, 2)).cumsum(axis=1)
    >>> table = unit_summary(x, lengths=np.full(50, 12), extra=False)
    >>> table["regime"].tolist()
    ['diffusive', 'diffusive']
    """
    check_region(region)
    extra = check_bool(extra, "extra")
    traj = as_traj(traj, lengths, "traj", what="unit_summary")
    U, T = traj.n_units, traj.n_steps
    if T < 3:
        raise RnndynError(f"unit_summary needs at least 3 steps (2 deltas); got n_steps={T}.")
    notes: list[str] = []
    df = traj.units[list(UNIT_COLUMNS)].copy()
    df.index = pd.RangeIndex(U, name="unit")

    mad, mad_n = metrics.mean_abs_delta(traj, region=region, return_counts=True)
    rms, rms_n = metrics.rms_delta(traj, region=region, return_counts=True)
    df["area_rms"] = _area(rms, rms_n)
    df["area_mean_abs"] = _area(mad, mad_n)
    df["rank"] = rank_units(df, by="area_mean_abs")
    df["rms_input"] = _pooled_rms(traj, "input")
    df["rms_padding"] = _pooled_rms(traj, "padding")

    top = min(DEFAULT_MAX_LAG, T - 1) if lags is None else check_lag_window(lags, T - 1)[1]
    curve, counts = est.msd_curve(traj, top, region)
    if lags is None:
        window = _default_window(counts)
        if window is None:
            notes.append(f"msd/diffusion: region={region!r} has too few lags with pairs for a fit window")
    else:
        window = check_lag_window(lags, T - 1)
        est.window(curve, counts, *window, "unit_summary", region)  # raises when a lag has no pair
    nan = np.full(U, np.nan)
    if window is not None:
        lo, hi = window
        seg = curve[lo : hi + 1]
        alpha = est.msd_exponent_of(seg, lo, unit_scale(traj), "unit_summary msd_exponent")
        # the Green-Kubo sum runs over the same lags, as far as the deltas reach (T - 2)
        c, _ = est.vacf_curve(traj, min(hi, T - 2), region)
        df["msd_exponent"] = alpha
        df["regime"] = classify_regime(alpha)
        df["diffusion_einstein"] = est.einstein(seg, lo)
        df["diffusion_green_kubo"] = est.green_kubo(c)
    else:
        df["msd_exponent"], df["regime"] = nan, "undetermined"
        df["diffusion_einstein"] = df["diffusion_green_kubo"] = nan
    try:
        relax = relaxation_time(traj)
        df["relaxation_tau"], df["relaxation_r2"] = relax["tau"].to_numpy(), relax["r2"].to_numpy()
    except RnndynError as exc:
        notes.append(f"relaxation: {exc}")
        df["relaxation_tau"] = df["relaxation_r2"] = nan
    df["regime"] = pd.Categorical(df["regime"], categories=list(REGIMES))

    if extra:
        for name, fn in _extra_metrics().items():
            if name in df.columns:
                raise RnndynError(
                    f"A plugin metric is named {name!r}, like a built-in column of unit_summary "
                    f"({list(SUMMARY_COLUMNS)}); the plugin must rename it."
                )
            val = np.asarray(to_numpy(fn(traj)))
            if val.shape != (U,):
                raise RnndynError(
                    f"Plugin metric {name!r} must return one number per unit, shape ({U},); got "
                    f"shape {val.shape}. Fix the plugin's function."
                )
            df[name] = val
    for note in notes:
        warnings.warn(f"unit_summary: {note}", RuntimeWarning, stacklevel=2)
    df.attrs["lags"] = window
    df.attrs["region"] = region
    df.attrs["notes"] = notes
    return df


def top_units(
    summary_or_traj: Any,
    n: int = 5,
    *,
    by: str = "area_mean_abs",
    region: str = "all",
    lengths: Any = None,
) -> pd.DataFrame:
    """The ``n`` units with the largest ``by``, largest first (ties by unit position).

    Parameters
    ----------
    summary_or_traj : DataFrame from :func:`unit_summary`, Trajectories or array
        Trajectories are summarised first (only the areas when ``by`` is an
        area column, else :func:`unit_summary` with ``extra=True``).
    n : int, default 5
        ``1 <= n <= n_units``; asking for more units than there are is an
        error (nothing is silently cut), ``n = n_units`` sorts them all.
    by : str, default "area_mean_abs"
        A numeric column of the summary.
    region : str, default "all"
        For Trajectories and arrays only.
    lengths : array, optional
        Real input steps per sequence, for a plain array.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).standard_normal((10, 8, 4)).cumsum(axis=1) * [1, 5, 2, 3]
    >>> top_units(x, n=2).index.tolist()
    [1, 3]
    """
    n = check_int(n, "n", minimum=1)
    if not isinstance(by, str):
        raise RnndynError(f"by must be a column name (str); got {by!r} ({type(by).__name__}).")
    check_region(region)
    text_columns = (*UNIT_COLUMNS, "regime")
    if not isinstance(summary_or_traj, pd.DataFrame) and by in text_columns:
        numeric = [c for c in SUMMARY_COLUMNS if c not in text_columns]
        raise RnndynError(
            f"by={by!r} is a text column of unit_summary, not a numeric one, so it cannot be ranked; "
            f"rank by one of the numeric columns {numeric} (or a plugin metric)."
        )
    if isinstance(summary_or_traj, pd.DataFrame):
        if lengths is not None:
            raise RnndynError("lengths= is for trajectories; a summary table already has its numbers.")
        if region != "all":
            raise RnndynError(
                f"region={region!r} is for trajectories; a summary table already has its numbers "
                "(pass region= to unit_summary instead)."
            )
        table = summary_or_traj
    elif by in ("area_mean_abs", "area_rms"):
        traj = as_traj(summary_or_traj, lengths, "summary_or_traj", what="top_units")
        fn = metrics.mean_abs_delta if by == "area_mean_abs" else metrics.rms_delta
        curve, counts = fn(traj, region=region, return_counts=True)
        table = traj.units[list(UNIT_COLUMNS)].copy()
        table.index = pd.RangeIndex(traj.n_units, name="unit")
        table[by] = _area(curve, counts)
    else:
        table = unit_summary(summary_or_traj, region=region, lengths=lengths)
    ranks = rank_units(table, by=by)
    if n > len(table):
        raise RnndynError(
            f"n={n} is more than the {len(table)} unit(s) there are; use n <= {len(table)} "
            f"(n={len(table)} returns them all, sorted)."
        )
    return table.iloc[np.argsort(ranks.to_numpy(), kind="stable")[: int(n)]]
