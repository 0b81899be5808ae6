"""Reading one column of a unit table: its quantiles and the units' ranks.

Public names are re-exported by :mod:`rnndyn.summary`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ._validation import check_bool, real_array
from .errors import RnndynError

__all__ = ["DESCRIBE_PERCENTILES", "describe", "rank_units"]

#: The percentiles of :func:`describe`.
DESCRIBE_PERCENTILES = (50, 75, 90, 95, 99)


def describe(values: Any) -> pd.Series | pd.DataFrame:
    """Count, mean, std, min, 50/75/90/95/99th percentiles and max.

    As pandas' ``describe(percentiles=[.5, .75, .9, .95, .99])``: ``std`` with
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
