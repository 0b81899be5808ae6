"""Arrays: conversion to numpy, states arrays, and the one search for NaN and infinity."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from .._backends import is_dask, is_torch
from ..errors import RnndynError
from ._text import describe

__all__ = [
    "array_namespace",
    "check_array_data",
    "to_numpy",
    "as_numpy",
    "dtype_kind",
    "check_states",
    "first_nonfinite",
    "check_finite",
    "check_states_finite",
    "real_array",
]


def array_namespace(x: Any) -> Any:
    """The array-API namespace of ``x`` (numpy for lists and numpy arrays)."""
    import array_api_compat

    try:
        return array_api_compat.array_namespace(x)
    except TypeError:
        return array_api_compat.array_namespace(np.asarray(x))


def check_array_data(x: Any, name: str = "x") -> None:
    """Refuse arrays that hold no values yet: torch ``meta`` tensors, dask arrays of unknown shape."""
    if getattr(x, "is_meta", False) is True:
        raise RnndynError(
            f"{name} is a torch tensor on the 'meta' device: it has a shape {tuple(x.shape)} but no "
            "values, so nothing can be computed from it. Capture (or create) it on a real device, "
            "e.g. model.to('cpu') or model.to('cuda') before capturing, and pass that tensor."
        )
    shape = getattr(x, "shape", None)
    if is_dask(x) and shape is not None:
        if any(isinstance(s, float) and math.isnan(s) for s in shape):
            raise RnndynError(
                f"{name} is a dask array with unknown chunk sizes (shape {tuple(shape)}), e.g. after "
                f"boolean indexing; call {name} = {name}.compute_chunk_sizes() first, or "
                f"{name}.compute() to load it."
            )


def to_numpy(x: Any, name: str = "x") -> np.ndarray:
    """Convert any supported array (numpy, torch, dask, list) to numpy."""
    if isinstance(x, np.ndarray):
        return x
    check_array_data(x, name)
    if is_torch(x):
        x = x.detach()
        if str(x.dtype) == "torch.bfloat16":  # numpy has no bfloat16
            x = x.float()
        return x.cpu().numpy()
    if is_dask(x):
        return np.asarray(x.compute())
    return np.asarray(x)


def as_numpy(x: Any, name: str, expect: str) -> np.ndarray:
    """``to_numpy(x)``, or an error that starts with ``expect`` and says why ``x`` would not convert."""
    try:
        return np.asarray(to_numpy(x, name))
    except RnndynError:
        raise
    except Exception as exc:
        raise RnndynError(f"{expect}; could not convert {describe(x)}: {exc}.") from None


def dtype_kind(x: Any) -> str:
    """numpy-style dtype kind ('f', 'i', 'u', 'b', 'c', 'O', ...) of any array."""
    dt = x.dtype
    if isinstance(dt, np.dtype):
        return dt.kind
    name = str(dt).replace("torch.", "")
    if name.startswith(("float", "bfloat", "half", "double")):
        return "f"
    if name.startswith("uint"):
        return "u"
    if name.startswith("int") or name in ("long", "short"):
        return "i"
    if name == "bool":
        return "b"
    if name.startswith("complex"):
        return "c"
    return "O"


def check_states(x: Any, name: str = "x", *, finite: bool = True) -> Any:
    """Validate an array shaped ``(n_sequences, n_steps, n_units)``.

    Lists and other array-likes become numpy arrays; numpy, torch and dask
    arrays are returned as they are (same type, same device). Torch tensors
    on the ``meta`` device and dask arrays of unknown chunk sizes are refused.
    """
    expect = f"{name} must be an array of shape (n_sequences, n_steps, n_units)"
    if type(x).__module__.startswith("pandas"):
        raise RnndynError(
            f"{expect}; got a pandas {type(x).__name__}, which is a table, not 3-d. Pass a numpy "
            "array, e.g. df.to_numpy().reshape(n_sequences, n_steps, n_units)."
        )
    if x is None or isinstance(x, str | bytes | Mapping | set | Iterator | int | float | complex):
        raise RnndynError(f"{expect}; got {describe(x)}.")
    if not hasattr(x, "shape") or not hasattr(x, "dtype"):
        try:
            x = np.asarray(x)
        except Exception as exc:  # ragged lists and the like
            raise RnndynError(
                f"{expect}; could not convert the {type(x).__name__} received: {exc}. Pad ragged "
                "sequences to one length and pass `lengths=` instead."
            ) from None
    check_array_data(x, name)
    shape = tuple(int(s) for s in x.shape)
    if len(shape) != 3:
        hint = ""
        if len(shape) == 2:
            hint = (
                " For one sequence use x[None] (shape (1, n_steps, n_units)); for one unit use x[..., None]."
            )
        raise RnndynError(
            f"{name} must have 3 dimensions (n_sequences, n_steps, n_units); got "
            f"{len(shape)} dimension(s) with shape {shape}.{hint}"
        )
    kind = dtype_kind(x)
    if kind not in "fiu":
        what = {"b": "booleans", "c": "complex numbers"}.get(kind, "non-numbers")
        raise RnndynError(
            f"{name} must hold real numbers (float or int); got dtype {x.dtype} ({what}). "
            "Convert it first, e.g. x.astype(float) (for complex states: x.real or abs(x))."
        )
    if finite and kind == "f":
        check_finite(x, name)
    return x


def first_nonfinite(x: Any) -> tuple[tuple[int, ...], Any] | None:
    """Index and value of the first NaN or infinity in an array, or ``None``.

    Any array library (numpy, torch, anything the array API or numpy reads; a
    PyTorch ``PackedSequence``: its rows). Arrays of ints, booleans or text,
    empty arrays, values numpy cannot read and dask arrays (lazy: never
    computed here) give ``None``. One pass without temporaries comes first:
    a sum of finite values is finite unless it overflows; only then is the
    array searched element by element.

    Examples
    --------
    >>> first_nonfinite(np.array([[0.0, 1.0], [np.inf, 2.0]]))
    ((1, 0), array(inf))
    >>> first_nonfinite(np.array([1e308, 1e308])) is None
    True
    """
    import array_api_compat

    if is_dask(x):
        return None
    if hasattr(x, "batch_sizes") and is_torch(getattr(x, "data", None)):
        x = x.data  # a PackedSequence: its rows
    try:
        xp = array_api_compat.array_namespace(x)
    except TypeError:  # not an array-API array: read it through numpy
        try:
            x = to_numpy(x)
        except Exception:
            return None
        xp = array_api_compat.array_namespace(x)
    if dtype_kind(x) not in "fc" or 0 in tuple(x.shape):
        return None
    with np.errstate(over="ignore", invalid="ignore"):
        if bool(xp.isfinite(xp.sum(x))):
            return None
    bad = ~xp.isfinite(x)
    if not bool(xp.any(bad)):
        return None  # the sum overflowed; every value is finite
    where = tuple(int(i) for i in np.argwhere(to_numpy(bad))[0])
    return where, to_numpy(x[where])


def check_finite(x: Any, name: str = "x", *, start: tuple[int, int, int] = (0, 0, 0)) -> None:
    """Raise naming the first non-finite (sequence, step, unit) of a states array.

    ``start`` is the position of ``x[0, 0, 0]`` in the whole array, when ``x``
    is one block of it. Dask arrays are not computed here (they are checked
    block by block, where they are computed).

    Examples
    --------
    >>> check_finite(np.full((1, 2, 1), np.nan), "states", start=(4, 0, 0))
    Traceback (most recent call last):
    ...
    rnndyn.errors.RnndynError: states holds a non-finite value (nan) at sequence 4, step 0, unit 0; ...
    """
    found = first_nonfinite(x)
    if found is None:
        return
    (i, t, u), value = found
    raise RnndynError(
        f"{name} holds a non-finite value ({value}) at sequence {i + start[0]}, step "
        f"{t + start[1]}, unit {u + start[2]}; every value must be finite. NaN poisons every "
        "lag of an FFT: drop that sequence, or if NaN marks padding, pass the real "
        "lengths with `lengths=` and fill the padding with finite values."
    )


def check_states_finite(states: Any, units: Any, where: str) -> None:
    """Raise when a model produced NaN/inf states (from inputs already checked finite).

    ``units`` is the capture's units table (``layer``, ``state``, ``direction``,
    ``index``); ``where`` prefixes the message (e.g. ``"batch 3"``; ``""``: none).
    """
    found = first_nonfinite(states)
    if found is None:
        return
    (i, t, u), value = found
    row = units.iloc[u]
    prefix = f"{where}: " if where else ""
    raise RnndynError(
        f"{prefix}the model produced a non-finite state ({value}) at sequence {i} of the batch, "
        f"step {t}, unit {u} (layer {row['layer']!r}, state {row['state']!r}, "
        f"{row['direction']} unit {int(row['index'])}) although the inputs are finite. The "
        "model itself computes it: check its weights for NaN/inf (e.g. after a diverged "
        "training run) and that the inputs are scaled as in training (huge values overflow)."
    )


def real_array(values: Any, name: str, *, finite: bool = True, allow_nan: bool = False) -> np.ndarray:
    """``values`` as a float64 numpy array, refusing text, objects, booleans and complex numbers.

    With ``finite=True`` inf is refused, and NaN too unless ``allow_nan``.
    """
    if isinstance(values, (str, bytes, dict)) or values is None:
        raise RnndynError(f"{name} must be an array of real numbers; got {type(values).__name__}.")
    try:
        a = np.asarray(to_numpy(values))
    except Exception as exc:  # ragged lists and the like
        raise RnndynError(
            f"{name} must be an array of real numbers; could not convert the {type(values).__name__} "
            f"received: {exc}."
        ) from None
    if a.dtype.kind not in "fiu":
        raise RnndynError(
            f"{name} must hold real numbers (float or int); got dtype {a.dtype}. Convert it first, "
            "e.g. np.asarray(values, dtype=float)."
        )
    a = a.astype(np.float64, copy=False)
    if finite:
        bad = np.isinf(a) if allow_nan else ~np.isfinite(a)
        if bad.any():
            first = tuple(int(i) for i in np.argwhere(bad)[0])
            raise RnndynError(
                f"{name} holds {int(bad.sum())} non-finite value(s) (first: {a[first]} at index "
                f"{first}); every value must be finite{' or NaN' if allow_nan else ''}. Drop or "
                "replace them first."
            )
    return a
