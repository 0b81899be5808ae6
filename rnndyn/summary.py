"""Per-unit tables, rankings, quantiles and bootstrap intervals.

* :func:`unit_summary` -- one row per unit: the unit table, the founding
  study's "area" and rank, input vs padding RMS, MSD exponent and regime,
  diffusion coefficients, relaxation time, plus plugin metrics;
* :func:`describe` -- the quantiles the founding study reported;
* :func:`top_units` / :func:`rank_units` -- the most dynamic units;
* :func:`bootstrap_ci` -- intervals on curves and numbers by resampling
  sequences (in ``rnndyn/_bootstrap.py``).

Formulas and windows are listed in ``docs/summary.md``.

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

from . import metrics
from ._bootstrap import BootstrapCI, bootstrap_ci
from ._physics_util import as_traj, check_counts, counts_like, linfit, unit_scale
from ._validation import (
    check_bool,
    check_int,
    check_lag_window,
    check_region,
    real_array,
    to_numpy,
)
from .errors import RnndynError
from .physics import ZERO_MSD, _exponent, classify_regime, relaxation_time
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

#: The percentiles of :func:`describe` (those the founding study reported).
DESCRIBE_PERCENTILES = (50, 75, 90, 95, 99)

DEFAULT_MAX_LAG = 10


def _np(a: Any) -> np.ndarray:
    return np.asarray(to_numpy(a), dtype=np.float64)


def _area(curve: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Sum over steps that have data; NaN for a unit with no step in the region."""
    has = counts_like(counts, curve.shape) > 0
    out = np.where(has, curve, 0.0).sum(axis=0)
    return np.where(has.any(axis=0), out, np.nan)


def _pooled_rms(traj: Trajectories, region: str) -> np.ndarray:
    """``sqrt(sum_t N_t rms_t^2 / sum_t N_t)``: the RMS of every delta in the region."""
    rms, n = metrics.rms_delta(traj, region=region, return_counts=True)
    rms, n = _np(rms), counts_like(n, _np(rms).shape).astype(np.float64)
    tot = n.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(tot > 0, np.sqrt(np.where(n > 0, n * rms**2, 0.0).sum(axis=0) / tot), np.nan)


def _default_window(counts: np.ndarray) -> tuple[int, int] | None:
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
          :func:`rnndyn.metrics.mean_abs_delta` (the founding notebook's "area");
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
    df["area_rms"] = _area(_np(rms), rms_n)
    df["area_mean_abs"] = _area(_np(mad), mad_n)
    df["rank"] = rank_units(df, by="area_mean_abs")
    df["rms_input"] = _pooled_rms(traj, "input")
    df["rms_padding"] = _pooled_rms(traj, "padding")

    top = min(DEFAULT_MAX_LAG, T - 1) if lags is None else check_lag_window(lags, T - 1)[1]
    curve, counts = metrics.msd(traj, max_lag=top, region=region, return_counts=True)
    curve, counts = _np(curve), counts_like(counts, (top + 1, U))
    if lags is None:
        window = _default_window(counts)
        if window is None:
            notes.append(f"msd/diffusion: region={region!r} has too few lags with pairs for a fit window")
    else:
        window = check_lag_window(lags, T - 1)
        check_counts(counts[window[0] : window[1] + 1], window[0], "unit_summary", region)
    nan = np.full(U, np.nan)
    if window is not None:
        lo, hi = window
        m = np.arange(lo, hi + 1)
        seg = curve[lo : hi + 1]
        alpha = _exponent(seg, m, seg <= ZERO_MSD * unit_scale(traj), "unit_summary msd_exponent")
        # the Green-Kubo sum runs over the same lags, as far as the deltas reach (T - 2)
        c = _np(metrics.vacf(traj, max_lag=min(hi, T - 2), region=region))
        df["msd_exponent"] = alpha
        df["regime"] = classify_regime(alpha)
        df["diffusion_einstein"] = linfit(m, seg)[0] / 2.0
        df["diffusion_green_kubo"] = c[0] / 2.0 + c[1:].sum(axis=0)
    else:
        df["msd_exponent"], df["regime"] = nan, "undetermined"
        df["diffusion_einstein"] = df["diffusion_green_kubo"] = nan
    try:
        relax = relaxation_time(traj)
        df["relaxation_tau"], df["relaxation_r2"] = relax["tau"].to_numpy(), relax["r2"].to_numpy()
    except RnndynError as exc:
        notes.append(f"relaxation: {exc}")
        df["relaxation_tau"] = df["relaxation_r2"] = nan
    df["regime"] = pd.Categorical(df["regime"], categories=list(_regimes()))

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


def _regimes() -> tuple[str, ...]:
    from .physics import REGIMES

    return REGIMES


def describe(values: Any) -> pd.Series | pd.DataFrame:
    """Count, mean, std, min, 50/75/90/95/99th percentiles and max.

    The numbers the founding study reported for string lengths and areas
    (pandas' ``describe(percentiles=[.5, .75, .9, .95, .99])``): ``std`` with
    ``ddof=1``, percentiles by linear interpolation. NaN values are left
    out; ``count`` says how many values were used.

    Parameters
    ----------
    values : array-like, Series or DataFrame
        1-D real values (a Series keeps its name); a DataFrame gives one
        column per numeric column. At least one value; NaN is left out (a
        column of NaN only gives ``count`` 0 and NaN statistics), inf is an
        error.

    Examples
    --------
    >>> describe([1.0, 2.0, 3.0, 4.0])["75%"]
    np.float64(3.25)
    """
    if isinstance(values, pd.DataFrame):
        num = values.select_dtypes("number")
        if num.shape[1] == 0:
            raise RnndynError(
                f"values is a DataFrame without a numeric column (columns: {list(values.columns)}); "
                "describe() needs numbers. Pass the numeric columns, e.g. table[['area_rms']]."
            )
        if values.shape[0] == 0:
            raise RnndynError("values is a DataFrame with no rows; describe() needs at least one value.")
        return pd.DataFrame({c: _describe(num[c]) for c in num.columns})
    return _describe(values)


def _describe(values: Any) -> pd.Series:
    name = values.name if isinstance(values, pd.Series) else None
    if isinstance(values, pd.Series):
        dtype = values.dtype
        numeric = pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
        try:
            if not (numeric or dtype.kind == "O"):
                raise TypeError
            values = values.to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError):
            raise RnndynError(
                f"values must hold real numbers; the Series {name!r} has dtype {dtype}, which is not "
                "numeric. Pass a numeric column (e.g. table['area_rms'])."
            ) from None
    a = real_array(values, "values", allow_nan=True)
    if a.ndim != 1:
        raise RnndynError(
            f"describe() takes 1-D values (e.g. one column per unit); got shape {a.shape}. Pass "
            "values.ravel() to pool everything, or a DataFrame for one description per column."
        )
    if a.size == 0:
        raise RnndynError(
            "values is empty; describe() needs at least one value. Check the selection that produced "
            "it (e.g. a filter that kept no unit)."
        )
    a = a[~np.isnan(a)]
    index = ["count", "mean", "std", "min", *[f"{p}%" for p in DESCRIBE_PERCENTILES], "max"]
    if a.size == 0:
        return pd.Series([0.0] + [np.nan] * (len(index) - 1), index=index, name=name)
    std = a.std(ddof=1) if a.size > 1 else np.nan
    q = np.percentile(a, DESCRIBE_PERCENTILES)
    return pd.Series([float(a.size), a.mean(), std, a.min(), *q, a.max()], index=index, name=name)


def rank_units(summary: pd.DataFrame, *, by: str = "area_mean_abs", ascending: bool = False) -> pd.Series:
    """Rank of each unit, 1 = largest ``by`` (``ascending=True``: smallest).

    Ties are broken by unit position (the row order), NaN ranks last.

    Parameters
    ----------
    summary : pandas.DataFrame
        A table with one row per unit, such as :func:`unit_summary` returns
        (at least one row).
    by : str, default "area_mean_abs"
        A numeric column of ``summary``.
    ascending : bool, default False

    Examples
    --------
    >>> import pandas as pd
    >>> rank_units(pd.DataFrame({"area_mean_abs": [1.0, 3.0, 3.0, float("nan")]})).tolist()
    [3, 1, 2, 4]
    """
    if not isinstance(summary, pd.DataFrame):
        raise RnndynError(
            f"summary must be a pandas DataFrame with one row per unit (from unit_summary); got "
            f"{type(summary).__name__}."
        )
    ascending = check_bool(ascending, "ascending")
    v = _numeric_column(summary, by)
    key = np.where(np.isnan(v), np.inf, v if ascending else -v)
    order = np.lexsort((np.arange(v.size), np.isnan(v), key))
    ranks = np.empty(v.size, dtype=np.int64)
    ranks[order] = np.arange(1, v.size + 1)
    return pd.Series(ranks, index=summary.index, name="rank")


def _numeric_column(table: pd.DataFrame, by: Any) -> np.ndarray:
    """``table[by]`` as float64, or an error naming the numeric columns one can rank by."""
    numeric = list(table.select_dtypes("number").columns)
    if not isinstance(by, str):
        raise RnndynError(
            f"by must be a column name (str); got {by!r} ({type(by).__name__}). Numeric columns: {numeric}."
        )
    if by not in table.columns:
        raise RnndynError(f"by={by!r} is not a column of the summary; numeric columns are {numeric}.")
    if by not in numeric:
        raise RnndynError(
            f"by={by!r} is a {table[by].dtype} column, not a numeric one, so it cannot be ranked; "
            f"rank by one of the numeric columns {numeric}."
        )
    if table.shape[0] == 0:
        raise RnndynError("summary has no rows (no units); there is nothing to rank.")
    try:
        return table[by].to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):  # e.g. a column of complex numbers
        raise RnndynError(
            f"by={by!r} holds values that are not real numbers; rank by a real column."
        ) from None


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
        table[by] = _area(_np(curve), counts)
    else:
        table = unit_summary(summary_or_traj, region=region, lengths=lengths)
    ranks = rank_units(table, by=by)
    if n > len(table):
        raise RnndynError(
            f"n={n} is more than the {len(table)} unit(s) there are; use n <= {len(table)} "
            f"(n={len(table)} returns them all, sorted)."
        )
    return table.iloc[np.argsort(ranks.to_numpy(), kind="stable")[: int(n)]]
