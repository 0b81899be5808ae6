"""Scalar arguments: flags, numbers, choices, lag windows and ``batch_axis=``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import RnndynError
from ._text import describe

__all__ = [
    "REGIONS",
    "check_region",
    "check_choice",
    "check_bool",
    "check_float",
    "check_int",
    "check_lag_window",
    "check_max_lag",
    "check_batch_axis",
]

REGIONS = ("all", "input", "padding")


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


def check_max_lag(max_lag: Any, top: int, fname: str, n_steps: int) -> int:
    """``max_lag`` as an int in ``[0, top]`` (``None``: ``top``), or an error saying the maximum."""
    if max_lag is None:
        return top
    if isinstance(max_lag, (bool, np.bool_)) or not isinstance(max_lag, (int, np.integer)):
        raise RnndynError(
            f"max_lag must be an int or None; got {max_lag!r} ({type(max_lag).__name__}). Floats and "
            f"booleans are never truncated: pass a whole number in [0, {top}], or None for all lags."
        )
    if max_lag < 0:
        raise RnndynError(f"max_lag must be >= 0; got {max_lag}. Lag 0 is the first entry.")
    if max_lag > top:
        raise RnndynError(
            f"max_lag={max_lag} is too large: with n_steps={n_steps} the largest lag {fname}() "
            f"can measure is {top}. Pass max_lag <= {top}, or None for all lags."
        )
    return int(max_lag)


def check_batch_axis(batch_axis: Any) -> tuple[dict[int | str, int | None], int, set[int | str] | str]:
    """Validate ``batch_axis=``: ``None``, an int >= 0, or a dict of axes (or ``None``) by argument.

    Returns the per-argument axes, the default axis and the keys the user named.

    Examples
    --------
    >>> axes, default, named = check_batch_axis({"hidden": 1, 0: None})
    >>> axes, default, sorted(named, key=str)
    ({'hidden': 1, 0: None}, 0, [0, 'hidden'])
    """
    todo = (
        "Pass batch_axis=None (axis 0, or what the model provably takes), an int (the axis of the "
        "sequences in every input array, e.g. 1 for time-major (steps, sequences, ...) inputs), or "
        "a dict by argument, e.g. batch_axis={'hidden': 1, 'mask': None} (None: pass it whole)."
    )
    if batch_axis is None:
        return {}, 0, set()
    if isinstance(batch_axis, Mapping):
        axes: dict[int | str, int | None] = {}
        for k, v in batch_axis.items():
            if isinstance(k, bool) or not isinstance(k, int | str):
                raise RnndynError(
                    f"batch_axis keys must be argument positions (int) or names (str); got {k!r}. {todo}"
                )
            if v is not None and (isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 0):
                raise RnndynError(f"batch_axis[{k!r}] must be an int >= 0 or None; got {v!r}. {todo}")
            axes[k] = None if v is None else int(v)
        return axes, 0, set(axes)
    if isinstance(batch_axis, bool) or not isinstance(batch_axis, int | np.integer) or batch_axis < 0:
        raise RnndynError(f"batch_axis must be None, an int >= 0 or a dict; got {batch_axis!r:.60}. {todo}")
    return {}, int(batch_axis), "*"
