"""The unit table, the raw inputs and position selections of a Trajectories: checks."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ._validation import as_numpy, describe
from .errors import RnndynError

__all__ = ["UNIT_COLUMNS", "DIRECTIONS", "check_units", "check_inputs", "positions", "select_positions"]

UNIT_COLUMNS = ("layer", "state", "direction", "index")
DIRECTIONS = ("forward", "backward")


def _default_units(n_units: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "layer": ["layer"] * n_units,
            "state": ["h"] * n_units,
            "direction": ["forward"] * n_units,
            "index": np.arange(n_units, dtype=np.int64),
        }
    )


_UNITS_HINT = (
    "Build it as pd.DataFrame({'layer': 'enc', 'state': 'h', 'direction': 'forward', "
    "'index': range(n_units)})."
)


def _rows(mask: np.ndarray) -> str:
    rows = np.flatnonzero(mask)
    more = f" and {rows.size - 5} more" if rows.size > 5 else ""
    return f"row(s) {rows[:5].tolist()}{more}"


def _check_index_column(col: pd.Series) -> np.ndarray:
    """The ``index`` column as int64: whole numbers >= 0, never truncated."""
    arr = col.to_numpy()
    kind = arr.dtype.kind
    if kind == "O":  # mixed Python objects: each must be an int or a whole float
        ok = np.array(
            [
                not isinstance(v, bool | np.bool_)
                and (
                    isinstance(v, int | np.integer)
                    or (isinstance(v, float | np.floating) and float(v).is_integer())
                )
                for v in arr
            ],
            dtype=bool,
        )
        if not ok.all():
            i = int(np.flatnonzero(~ok)[0])
            raise RnndynError(
                f"units['index'] must hold whole numbers >= 0; {_rows(~ok)} hold e.g. {arr[i]!r} "
                f"({type(arr[i]).__name__}). {_UNITS_HINT}"
            )
        arr = np.array([int(v) for v in arr], dtype=object)
    elif kind == "f":
        bad = arr != np.round(arr)
        if bad.any():
            raise RnndynError(
                f"units['index'] must hold whole numbers >= 0; {_rows(bad)} hold e.g. "
                f"{arr[np.flatnonzero(bad)[0]]}. Unit indices are never truncated."
            )
    elif kind not in "iu":
        raise RnndynError(
            f"units['index'] must hold whole numbers >= 0; got dtype {arr.dtype}. {_UNITS_HINT}"
        )
    if arr.size and (min(arr) < 0 or max(arr) > np.iinfo(np.int64).max):
        bad = np.array([v < 0 or v > np.iinfo(np.int64).max for v in arr])
        raise RnndynError(
            f"units['index'] must hold whole numbers >= 0 (a unit's position inside its layer, state "
            f"and direction); {_rows(bad)} hold e.g. {arr[np.flatnonzero(bad)[0]]}."
        )
    return arr.astype(np.int64)


def check_units(units: Any, n_units: int) -> pd.DataFrame:
    """The unit table as a fresh DataFrame (one row per unit), or an error naming the column."""
    if units is None:
        return _default_units(n_units)
    if isinstance(units, pd.DataFrame):
        df = units.reset_index(drop=True).copy()
    elif isinstance(units, Mapping):
        if all(np.ndim(v) == 0 for v in units.values()):
            raise RnndynError(
                f"units must be a table with one row per unit; got a dict of single values "
                f"({dict(units)!r:.80}), which has no rows. Give each column as a list, or "
                f"{_UNITS_HINT}"
            )
        try:
            df = pd.DataFrame(dict(units))
        except Exception as exc:
            raise RnndynError(f"units: could not build a table from the dict: {exc}. {_UNITS_HINT}") from None
    else:
        raise RnndynError(
            f"units must be a pandas DataFrame (or a dict of columns) with one row per unit and the "
            f"columns {UNIT_COLUMNS}; got {describe(units)}. {_UNITS_HINT}"
        )
    missing = [c for c in UNIT_COLUMNS if c not in df.columns]
    if missing:
        raise RnndynError(f"units must have the columns {UNIT_COLUMNS}; missing {missing}. {_UNITS_HINT}")
    if len(df) != n_units:
        raise RnndynError(f"units must have one row per unit (n_units={n_units}); got {len(df)} rows.")
    for col in UNIT_COLUMNS:
        na = df[col].isna().to_numpy()
        if na.any():
            raise RnndynError(
                f"units[{col!r}] has missing values (NaN/None) in {_rows(na)}; every unit needs a "
                f"{col}. Fill them in (e.g. units[{col!r}].fillna(...)) before building Trajectories."
            )
    for col in ("layer", "state", "direction"):
        if pd.api.types.infer_dtype(df[col], skipna=False) == "string":
            continue  # fast path: every value a str
        values = df[col].to_numpy()
        bad = np.array([not isinstance(v, str) for v in values], dtype=bool)
        if bad.any():
            v = values[np.flatnonzero(bad)[0]]
            raise RnndynError(
                f"units[{col!r}] must hold strings; {_rows(bad)} hold e.g. {v!r} ({type(v).__name__}). "
                f"Convert it, e.g. units[{col!r}] = units[{col!r}].astype(str)."
            )
    direction = df["direction"].to_numpy()
    bad = ~np.isin(direction, DIRECTIONS)
    if bad.any():
        v = direction[np.flatnonzero(bad)[0]]
        hint = " (lower case)" if str(v).strip().lower() in DIRECTIONS else ""
        raise RnndynError(
            f"units['direction'] must be 'forward' or 'backward'{hint}; {_rows(bad)} hold e.g. {v!r}."
        )
    df["index"] = _check_index_column(df["index"])
    dup = df.duplicated(list(UNIT_COLUMNS), keep=False).to_numpy()
    if dup.any():
        first = df.loc[dup, list(UNIT_COLUMNS)].iloc[0].tolist()
        raise RnndynError(
            f"units has duplicate rows: {_rows(dup)} share (layer, state, direction, index) = {first}; "
            "each unit must be listed once."
        )
    return df


def check_inputs(inputs: Any, n: int) -> Sequence[Any] | None:
    if inputs is None:
        return None
    if type(inputs).__module__.startswith("pandas") and hasattr(inputs, "tolist"):
        inputs = inputs.tolist()  # positions, not labels
    if isinstance(inputs, str | bytes | Mapping | set | frozenset | Iterator) or not hasattr(
        inputs, "__getitem__"
    ):
        hint = " For a generator or iterator, pass list(inputs)." if isinstance(inputs, Iterator) else ""
        raise RnndynError(
            f"inputs must be a sequence (list, tuple, array) with one entry per sequence ({n}); got "
            f"{describe(inputs)}.{hint}"
        )
    try:
        count = len(inputs)
    except TypeError:
        raise RnndynError(
            f"inputs must be a sequence with one entry per sequence ({n}); got {describe(inputs)}."
        ) from None
    if count != n:
        raise RnndynError(f"inputs must have one entry per sequence ({n}); got {count}.")
    return inputs


def positions(sel: Any, n: int, name: str, what: str) -> np.ndarray:
    """Positions ``0 <= p < n`` from an int, slice, 1-d int array or bool mask.

    Negative ints count from the end; repeats are kept (as numpy does).
    """
    expect = f"{name} must be an int, a slice, a 1-d array of ints or a bool mask of length {n}"
    if isinstance(sel, slice):
        try:
            return np.arange(n)[sel]
        except TypeError:
            raise RnndynError(f"{expect}; got the slice {sel!r}, whose bounds are not ints.") from None
    if sel is None or isinstance(
        sel, bool | np.bool_ | str | bytes | float | complex | Mapping | set | Iterator
    ):
        raise RnndynError(f"{expect}; got {describe(sel)}.")
    if isinstance(sel, int | np.integer):
        arr = np.array([int(sel)])
    else:
        arr = as_numpy(sel, name, expect)
        if arr.ndim == 0 and arr.dtype.kind in "iu":
            arr = arr.reshape(1)
    if arr.ndim != 1:
        raise RnndynError(f"{expect}; got shape {arr.shape}.")
    if arr.dtype.kind == "b":
        if arr.shape[0] != n:
            raise RnndynError(
                f"{name}: a bool mask needs one entry per {what[:-1]} ({n}); got {arr.shape[0]}."
            )
        return np.flatnonzero(arr)
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.dtype.kind not in "iu":
        raise RnndynError(f"{expect}; got dtype {arr.dtype}. Positions are never rounded.")
    bad = (arr < -n) | (arr >= n)
    if bad.any():
        v = arr[np.flatnonzero(bad)[0]]
        raise RnndynError(
            f"{name}: position {v} is out of range; there are {n} {what} (valid: {-n}..{n - 1})."
        )
    arr = arr.astype(np.int64)
    return np.where(arr < 0, arr + n, arr)


def select_positions(table: pd.DataFrame, units: Any, criteria: Mapping[str, Any]) -> np.ndarray:
    """Positions of the units kept by :meth:`Trajectories.select` (``units`` positions, then criteria)."""
    n_units = len(table)
    pos = np.arange(n_units)
    if units is not None:
        pos = positions(units, n_units, "units", "units")
    keep = np.ones(pos.shape[0], dtype=bool)
    for col, value in criteria.items():
        if col not in table.columns:
            raise RnndynError(f"select(): unknown unit column {col!r}; columns are {list(table.columns)}.")
        values = value if isinstance(value, list | tuple | set | np.ndarray | pd.Index) else [value]
        values = list(np.asarray(values).ravel()) if isinstance(values, np.ndarray) else list(values)
        column = table[col].to_numpy()
        available = sorted(pd.unique(column).tolist(), key=str)
        absent = [v for v in values if not np.isin(column, [v]).any()]
        if absent or not values:
            raise RnndynError(
                f"select(): no unit has {col}={absent[0] if absent else value!r}; available: {available}."
            )
        keep &= np.isin(column[pos], values)
    pos = pos[keep]
    if pos.size == 0:
        raise RnndynError(f"select(): no unit matches {criteria}.")
    return pos
