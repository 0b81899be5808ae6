"""Shared input validation: one place, errors that name the argument.

Every public function funnels its inputs through these helpers so that a bad
input always produces the same kind of message: the argument, what was
expected, what was received, and what to do about it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from .errors import RnndynError

__all__ = [
    "REGIONS",
    "array_namespace",
    "check_states",
    "check_lengths",
    "check_region",
    "check_finite",
    "check_int",
    "check_bool",
    "check_float",
    "check_lag_window",
    "check_choice",
    "real_array",
    "as_numpy",
    "check_array_data",
    "describe",
    "is_numpy",
    "to_numpy",
]

REGIONS = ("all", "input", "padding")


def array_namespace(x: Any) -> Any:
    """The array-API namespace of ``x`` (numpy for lists and numpy arrays)."""
    import array_api_compat

    try:
        return array_api_compat.array_namespace(x)
    except TypeError:
        return array_api_compat.array_namespace(np.asarray(x))


def is_numpy(x: Any) -> bool:
    return isinstance(x, np.ndarray | np.generic)


def describe(x: Any) -> str:
    """A short description of what was received, for error messages."""
    shape = getattr(x, "shape", None)
    if shape is not None and hasattr(x, "dtype"):
        lib = type(x).__module__.split(".")[0]
        return f"a {lib} {type(x).__name__} of shape {tuple(shape)} and dtype {x.dtype}"
    text = " ".join(repr(x).split())
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(x).__name__})"


def check_array_data(x: Any, name: str = "x") -> None:
    """Refuse arrays that hold no values yet: torch ``meta`` tensors, dask arrays of unknown shape."""
    if getattr(x, "is_meta", False) is True:
        raise RnndynError(
            f"{name} is a torch tensor on the 'meta' device: it has a shape {tuple(x.shape)} but no "
            "values, so nothing can be computed from it. Capture (or create) it on a real device, "
            "e.g. model.to('cpu') or model.to('cuda') before capturing, and pass that tensor."
        )
    shape = getattr(x, "shape", None)
    if type(x).__module__.startswith("dask") and shape is not None:
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
    mod = type(x).__module__
    if mod.startswith("torch"):
        x = x.detach()
        if str(x.dtype) == "torch.bfloat16":  # numpy has no bfloat16
            x = x.float()
        return x.cpu().numpy()
    if mod.startswith("dask"):
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


def _dtype_kind(x: Any) -> str:
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
    kind = _dtype_kind(x)
    if kind not in "fiu":
        what = {"b": "booleans", "c": "complex numbers"}.get(kind, "non-numbers")
        raise RnndynError(
            f"{name} must hold real numbers (float or int); got dtype {x.dtype} ({what}). "
            "Convert it first, e.g. x.astype(float) (for complex states: x.real or abs(x))."
        )
    if finite and kind == "f":
        check_finite(x, name)
    return x


def check_finite(x: Any, name: str = "x") -> None:
    """Raise naming the first non-finite (sequence, step, unit)."""
    if type(x).__module__.startswith("dask"):
        return  # checked lazily, block by block, by the functions that compute
    xp = array_namespace(x)
    # Fast path: one pass and no temporaries. A sum of finite values is finite
    # unless it overflows; then (or if any value is NaN/inf) look element-wise.
    with np.errstate(over="ignore", invalid="ignore"):
        if bool(xp.isfinite(xp.sum(x))):
            return
    bad = ~xp.isfinite(x)
    if bool(xp.any(bad)):
        where = np.argwhere(to_numpy(bad))[0]
        value = to_numpy(x[tuple(int(w) for w in where)])
        raise RnndynError(
            f"{name} holds a non-finite value ({value}) at sequence {where[0]}, step "
            f"{where[1]}, unit {where[2]}; every value must be finite. NaN poisons every "
            "lag of an FFT: drop that sequence, or if NaN marks padding, pass the real "
            "lengths with `lengths=` and fill the padding with finite values."
        )


def check_lengths(lengths: Any, n_sequences: int, n_steps: int, name: str = "lengths") -> np.ndarray:
    """Validate per-sequence lengths; ``None`` means every step is real.

    Whole numbers only: ints, or floats that are exactly whole (``7.0``);
    booleans, fractions, NaN and inf are refused, never rounded.
    """
    if lengths is None:
        return np.full(n_sequences, n_steps, dtype=np.int64)
    expect = f"{name} must be a 1-d array of ints with one entry per sequence ({n_sequences})"
    if isinstance(lengths, str | bytes | Mapping | set | Iterator) or isinstance(lengths, bool | np.bool_):
        raise RnndynError(f"{expect}; got {describe(lengths)}.")
    arr = as_numpy(lengths, name, expect)
    if arr.ndim != 1 or arr.shape[0] != n_sequences:
        hint = " For one sequence pass [length]." if arr.ndim == 0 else ""
        raise RnndynError(f"{expect}; got shape {arr.shape}.{hint}")
    kind = arr.dtype.kind
    if kind == "b":
        raise RnndynError(
            f"{expect}; got booleans. A length counts real steps: for a (n_sequences, n_steps) mask "
            "pass mask.sum(axis=1)."
        )
    if arr.size and kind not in "iu":
        if kind != "f":
            raise RnndynError(f"{expect}; got dtype {arr.dtype}. Pass whole numbers.")
        if not np.all(np.isfinite(arr)):
            i = int(np.flatnonzero(~np.isfinite(arr))[0])
            raise RnndynError(f"{expect}; sequence {i} has length {arr[i]}. Every length must be finite.")
        if not np.all(arr == np.round(arr)):
            i = int(np.flatnonzero(arr != np.round(arr))[0])
            raise RnndynError(
                f"{name} must hold whole numbers; sequence {i} has length {arr[i]}. Lengths are never "
                "rounded: pass the number of real steps of each sequence."
            )
    bad = np.flatnonzero((arr < 0) | (arr > n_steps))
    if bad.size:
        i = int(bad[0])
        raise RnndynError(
            f"{name} must lie in [0, n_steps={n_steps}]; sequence {i} has length "
            f"{arr[i]} ({bad.size} sequence(s) out of range). A length counts the real "
            "input steps of a sequence, so it cannot exceed the number of captured steps."
        )
    return arr.astype(np.int64)


def check_region(region: Any, name: str = "region") -> str:
    if not isinstance(region, str) or region not in REGIONS:
        raise RnndynError(
            f"{name} must be one of {REGIONS}; got {describe(region)}. 'input' keeps only steps "
            "driven by real input, 'padding' only steps driven by padding."
        )
    return region


def check_choice(value: Any, name: str, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise RnndynError(f"{name} must be one of {choices}; got {describe(value)}.")
    return value


def check_end_of_input(lengths: np.ndarray, where: str) -> None:
    """Every sequence must have a last real step (for alignment and relaxation)."""
    if np.any(lengths == 0):
        i = int(np.flatnonzero(lengths == 0)[0])
        raise RnndynError(
            f"{where}: sequence {i} has length 0, so it has no end of input; drop empty "
            "sequences with traj.take(traj.lengths > 0)."
        )


def check_bool(value: Any, name: str) -> bool:
    """A flag must be a real bool (``True``/``False`` or numpy's), not a truthy object."""
    if not isinstance(value, (bool, np.bool_)):
        raise RnndynError(
            f"{name} must be True or False; got {value!r} ({type(value).__name__}). Flags are not "
            "read from strings or numbers, since 'False' and 2 are both truthy."
        )
    return bool(value)


def check_float(
    value: Any,
    name: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    exclusive_minimum: bool = False,
) -> float:
    """A finite real number (int or float, not bool) within optional bounds."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise RnndynError(f"{name} must be a real number; got {value!r} ({type(value).__name__}).")
    value = float(value)
    if not np.isfinite(value):
        raise RnndynError(f"{name} must be finite; got {value}.")
    if minimum is not None and (value <= minimum if exclusive_minimum else value < minimum):
        op = ">" if exclusive_minimum else ">="
        raise RnndynError(f"{name} must be {op} {minimum}; got {value}.")
    if maximum is not None and value > maximum:
        raise RnndynError(f"{name} must be <= {maximum}; got {value}.")
    return value


def check_int(
    value: Any, name: str, *, minimum: int | None = None, maximum: int | None = None, hint: str = ""
) -> int:
    """An int (Python or numpy, not bool, not a float that would be truncated) within bounds.

    ``hint`` (optional) says what the bound means and what to do; it ends the
    message when a bound is broken.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise RnndynError(
            f"{name} must be an int; got {describe(value)}. Floats and booleans are never "
            f"truncated or read as numbers: pass a whole number, e.g. {name}=int(...)."
        )
    value = int(value)
    if minimum is not None and value < minimum:
        raise RnndynError(f"{name} must be >= {minimum}; got {value}.{' ' + hint if hint else ''}")
    if maximum is not None and value > maximum:
        if not hint and "lag" in name:
            hint = (
                f"{maximum} is the largest lag these trajectories have; use a smaller value or "
                "longer trajectories."
            )
        raise RnndynError(f"{name} must be <= {maximum}; got {value}.{' ' + hint if hint else ''}")
    return value


def check_lag_window(lags: Any, max_lag: int, *, name: str = "lags", lo_min: int = 1) -> tuple[int, int]:
    """Validate an inclusive lag window ``(lo, hi)`` with ``lo_min <= lo < hi <= max_lag``."""
    if lags is None or isinstance(lags, str) or not isinstance(lags, Sequence) or len(lags) != 2:
        raise RnndynError(
            f"{name} must be an explicit fit window (lo, hi) of lags, both included, e.g. "
            f"{name}=(1, 10); got {lags!r}."
        )
    lo, hi = lags
    for v in (lo, hi):
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
            raise RnndynError(f"{name} must hold two ints (lo, hi); got {lags!r}.")
    lo, hi = int(lo), int(hi)
    if not lo_min <= lo < hi:
        raise RnndynError(
            f"{name}=({lo}, {hi}) is not a window: need {lo_min} <= lo < hi (at least two lags "
            f"to fit a line). Example: {name}=({lo_min}, {lo_min + 9})."
        )
    if hi > max_lag:
        raise RnndynError(
            f"{name}=({lo}, {hi}) reaches past the largest lag available, {max_lag} (n_steps - 1). "
            f"Choose hi <= {max_lag}."
        )
    return lo, hi


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
