"""Lengths: the real steps of each sequence, of trajectories and of capture inputs."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from ..errors import RnndynError
from ._arrays import as_numpy, to_numpy
from ._text import describe, one_line

__all__ = ["check_lengths", "check_end_of_input", "check_lengths_arg"]


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


def check_end_of_input(lengths: np.ndarray, where: str) -> None:
    """Every sequence must have a last real step (for alignment and relaxation)."""
    if np.any(lengths == 0):
        i = int(np.flatnonzero(lengths == 0)[0])
        raise RnndynError(
            f"{where}: sequence {i} has length 0, so it has no end of input; drop empty "
            "sequences with traj.take(traj.lengths > 0)."
        )


def check_lengths_arg(lengths: Any, total: int | None) -> np.ndarray | None:
    """Validate ``lengths=`` (one entry per sequence of all the inputs).

    Examples
    --------
    >>> check_lengths_arg([3, 2], 2)
    array([3, 2])
    >>> check_lengths_arg([3, 2.5], 2)
    Traceback (most recent call last):
    ...
    rnndyn.errors.RnndynError: lengths must hold whole numbers of steps; lengths[1] is 2.5. ...
    """
    if lengths is None:
        return None
    todo = (
        "Give one int per sequence of the inputs (the number of its real input steps), e.g. "
        "lengths=np.array([7, 5, 3]), or leave lengths=None when every step is real."
    )
    if getattr(lengths, "is_meta", False) is True:
        raise RnndynError("lengths is a tensor on the 'meta' device, which has a shape but no data. " + todo)
    if isinstance(lengths, str | bytes | Mapping | set | frozenset) or not (
        hasattr(lengths, "shape") or isinstance(lengths, list | tuple | range)
    ):
        raise RnndynError(
            f"lengths must be a 1-d array of ints; got {type(lengths).__name__} {lengths!r:.60}. {todo}"
        )
    try:
        arr = to_numpy(lengths)
    except Exception as exc:  # ragged lists and the like
        raise RnndynError(
            f"lengths could not be read as a 1-d array of ints ({one_line(exc)}). {todo}"
        ) from None
    if arr.ndim != 1:
        raise RnndynError(
            f"lengths must be a 1-d array with one entry per sequence; got shape {arr.shape}. {todo}"
        )
    if arr.dtype.kind == "b":
        raise RnndynError(
            "lengths holds booleans; it must hold the number of real steps of each sequence. "
            "From a (sequences, steps) mask of real steps use lengths=mask.sum(axis=1)."
        )
    if arr.size and arr.dtype.kind not in "iu":
        if arr.dtype.kind not in "f":
            raise RnndynError(f"lengths must hold whole numbers; got dtype {arr.dtype}. {todo}")
        bad = np.flatnonzero(~np.isfinite(arr) | (arr != np.round(arr)))
        if bad.size:
            i = int(bad[0])
            raise RnndynError(
                f"lengths must hold whole numbers of steps; lengths[{i}] is {arr[i]}. "
                "Nothing is rounded: give ints."
            )
        if np.any(np.abs(arr) > 2**62):
            i = int(np.flatnonzero(np.abs(arr) > 2**62)[0])
            raise RnndynError(f"lengths[{i}] = {arr[i]} is far beyond any number of steps. {todo}")
    arr = arr.astype(np.int64)
    if np.any(arr < 0):
        i = int(np.flatnonzero(arr < 0)[0])
        raise RnndynError(
            f"lengths must be >= 0; sequence {i} has length {int(arr[i])}. A length counts the "
            "real input steps of a sequence."
        )
    if total is not None and arr.shape[0] != total:
        raise RnndynError(
            f"lengths has {arr.shape[0]} entries but inputs hold {total} sequences; give "
            "one length (number of real input steps) per sequence."
        )
    return arr
