"""Plain-data forms of a :class:`~rnndyn.trajectories.Trajectories`' parts, shared by the stores.

The ``.npz`` trajectory file of ``rnndyn capture`` (:mod:`rnndyn.cli._store`)
and the zarr store (:mod:`rnndyn.store`) keep only plain arrays and JSON, so
that nothing is ever unpickled. This module holds the conversions both use:

* the unit table as columns of plain values and their dtypes (:func:`units_columns`,
  :func:`units_frame`);
* the raw inputs as one array when they are str (one per sequence) or numeric
  arrays of one shape (:func:`inputs_arrays`); str become fixed-width arrays,
  in the zarr store as their UTF-32 code points (:func:`str_codes`,
  :func:`codes_str`), a data type every zarr reader knows;
* sha256 fingerprints of arrays and of a model input (:func:`array_digest`,
  :func:`fingerprint_inputs`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ._inputs import is_array, leaves
from ._validation import to_numpy
from .errors import RnndynError

__all__ = [
    "str_array",
    "inputs_arrays",
    "units_columns",
    "units_frame",
    "str_codes",
    "codes_str",
    "array_digest",
    "fingerprint_inputs",
]


def str_array(values: Any) -> np.ndarray:
    """``values`` as a fixed-width numpy str array (``<U1`` when empty)."""
    return np.asarray([str(v) for v in values], dtype=str) if len(values) else np.zeros(0, dtype="<U1")


def inputs_arrays(inputs: Any) -> tuple[str, dict[str, np.ndarray]]:
    """How the raw inputs are kept: ``("str" | "arrays" | "none" | "dropped", {"inputs": array})``.

    Examples
    --------
    >>> inputs_arrays(["ab", "c"])
    ('str', {'inputs': array(['ab', 'c'], dtype='<U2')})
    >>> inputs_arrays([object()])[0]
    'dropped'
    """
    if inputs is None:
        return "none", {}
    items = list(inputs)
    if all(isinstance(v, str) for v in items):
        return "str", {"inputs": str_array(items)}
    try:
        arrays = [np.asarray(v) for v in items]
    except Exception:  # noqa: BLE001 - anything not array-like is not stored
        return "dropped", {}
    if arrays and all(a.dtype.kind in "biuf" and a.shape == arrays[0].shape for a in arrays):
        return "arrays", {"inputs": np.stack(arrays)}
    return "dropped", {}


def units_columns(units: pd.DataFrame) -> tuple[list[str], dict[str, str], list[np.ndarray]]:
    """The unit table as ``(columns, dtypes, arrays)``: str or numeric arrays, one per column."""
    columns = [str(c) for c in units.columns]
    dtypes: dict[str, str] = {}
    arrays = []
    for col in columns:
        series = units[col]
        values = series.to_numpy()
        arr = str_array(values) if values.dtype.kind in "OUST" else np.asarray(values)
        if arr.dtype.kind not in "biufUS":
            raise RnndynError(f"unit column {col!r} has dtype {series.dtype}, which a store cannot hold.")
        arrays.append(arr)
        dtypes[col] = str(series.dtype)
    return columns, dtypes, arrays


def units_frame(columns: Sequence[str], dtypes: Mapping[str, str], arrays: Sequence[Any]) -> pd.DataFrame:
    """The unit table back from :func:`units_columns`' parts (arrays or JSON lists).

    Examples
    --------
    >>> table = pd.DataFrame({"layer": ["a", "a"], "index": [0, 1]})
    >>> units_frame(*units_columns(table)).equals(table)
    True
    """
    return pd.DataFrame(
        {col: pd.Series(arr).astype(dtypes[col]) for col, arr in zip(columns, arrays, strict=True)}
    )


def str_codes(values: np.ndarray) -> np.ndarray:
    """A fixed-width str array ``(n,)`` as its UTF-32 code points ``(n, width)`` uint32.

    Examples
    --------
    >>> codes = str_codes(np.array(["ab", "ü"]))
    >>> codes.shape, codes_str(codes).tolist()
    ((2, 2), ['ab', 'ü'])
    """
    values = np.ascontiguousarray(values, dtype=f"<U{max(values.dtype.itemsize // 4, 1)}")
    width = values.dtype.itemsize // 4
    return values.view("<u4").reshape(values.shape[0], width)


def codes_str(codes: np.ndarray) -> np.ndarray:
    """The str array ``(n,)`` back from :func:`str_codes`' code points."""
    codes = np.ascontiguousarray(codes, dtype="<u4")
    return codes.view(f"<U{codes.shape[1]}").reshape(codes.shape[0])


def array_digest(*arrays: Any) -> str:
    """sha256 (hex) over the dtypes, shapes and C-order bytes of ``arrays``, in order."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(memoryview(a).cast("B") if a.size else b"")
    return h.hexdigest()


def fingerprint_inputs(inputs: Any) -> str:
    """sha256 (hex) of a model input or a list of examples: every array's bytes and str, in order.

    Arrays (numpy, torch, ...) count by dtype, shape and bytes; str by their
    UTF-8 text; ``None``, bools and numbers by their value. Anything else
    (an object without a stable value) is refused: a store could not tell a
    resumed capture's inputs from the first run's.

    Examples
    --------
    >>> fingerprint_inputs(["ab", "c"]) == fingerprint_inputs(["ab", "c"])
    True
    >>> fingerprint_inputs(["ab", "c"]) == fingerprint_inputs(["a", "bc"])
    False
    """
    h = hashlib.sha256()
    for where, value in leaves(inputs, "inputs"):
        h.update(where.encode() + b"\0")
        if is_array(value):
            h.update(array_digest(to_numpy(value)).encode())
        elif isinstance(value, str | bytes):
            text = value.encode() if isinstance(value, str) else value
            h.update(f"{type(value).__name__}{len(text)}:".encode() + text)
        elif value is None or isinstance(value, bool | int | float | complex | np.generic):
            h.update(repr(value).encode())
        else:
            raise RnndynError(
                f"store=: {where} is a {type(value).__name__}, which has no stable value to "
                "fingerprint, so a resumed capture could not be checked against the first run. "
                "Pass arrays, str, or a list of them (with collate=)."
            )
        h.update(b"\1")
    return h.hexdigest()
