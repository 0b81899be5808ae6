"""The argument checks of :mod:`rnndyn.plots`, run before anything is drawn.

Each raises :class:`~rnndyn.RnndynError` naming the argument, what it must be
and what was received; matplotlib is imported only where a check needs it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ._validation import check_int, real_array
from .errors import RnndynError
from .trajectories import Trajectories

__all__ = [
    "MAX_BINS",
    "check_ax",
    "check_bins",
    "check_cmap",
    "check_index",
    "check_names",
    "check_sequence",
    "check_str",
    "check_traj",
    "check_units",
    "curve_array",
]

#: Most histogram bins :func:`distribution` draws (more is a mistake, not a figure).
MAX_BINS = 10_000


def check_ax(ax: Any) -> None:
    """``ax`` must be None or a matplotlib Axes (checked before anything is drawn)."""
    if ax is None:
        return
    from matplotlib.axes import Axes

    if not isinstance(ax, Axes):
        hint = " For a Figure pass fig.gca() or one of fig.axes." if hasattr(ax, "add_subplot") else ""
        raise RnndynError(
            f"ax must be a matplotlib Axes or None (a new figure); got {type(ax).__name__}.{hint}"
        )


def check_traj(traj: Any) -> Trajectories:
    if not isinstance(traj, Trajectories):
        raise RnndynError(
            f"traj must be a Trajectories; got {type(traj).__name__}. Wrap an array first: "
            "Trajectories(states, lengths=...)."
        )
    return traj


def check_index(value: Any, name: str, n: int, what: str) -> int:
    """An int in ``[0, n)``: an index of a sequence or unit (negative indices are refused)."""
    value = check_int(value, name)
    if not 0 <= value < n:
        raise RnndynError(
            f"{name} must be a {what} index in [0, {n}) ({n} {what}(s)); got {value}."
            + (
                f" Negative indices are not read from the end here; use {n - 1} for the last."
                if value < 0
                else ""
            )
        )
    return value


def check_sequence(traj: Trajectories, sequence: Any) -> int:
    return check_index(sequence, "sequence", check_traj(traj).n_sequences, "sequence")


def check_str(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise RnndynError(f"{name} must be a str; got {value!r} ({type(value).__name__}).")
    return value


def check_names(value: Any, name: str, n: int) -> list[str] | None:
    """None, or one str per curve (``n`` of them)."""
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, Sequence | np.ndarray):
        raise RnndynError(
            f"{name} must be a list with one str per curve ({n}); got {type(value).__name__}"
            + (f" {value!r}: wrap it as [{value!r}]." if isinstance(value, str) else ".")
        )
    if len(value) != n:
        raise RnndynError(f"{name} must have one entry per curve ({n}); got {len(value)}.")
    for v in value:
        check_str(v, f"every entry of {name}")
    return [str(v) for v in value]


def curve_array(values: Any, name: str) -> np.ndarray:
    """A 1-D or 2-D real array ``(n_points, n_curves)`` with at least one point and one curve."""
    y = real_array(values, name, allow_nan=True)
    if y.ndim == 1:
        y = y[:, None]
    if y.ndim != 2:
        raise RnndynError(f"{name} must be 1-D (one curve) or 2-D (n_points, n_curves); got shape {y.shape}.")
    if y.size == 0:
        raise RnndynError(f"{name} is empty (shape {y.shape}); there is no curve to draw.")
    return y


def check_cmap(cmap: Any) -> str:
    import matplotlib

    check_str(cmap, "cmap")
    if cmap not in matplotlib.colormaps:
        raise RnndynError(
            f"cmap={cmap!r} is not a matplotlib colormap; try 'RdBu_r' or 'viridis' "
            "(list(matplotlib.colormaps) names them all)."
        )
    return cmap


def check_units(units: Any, n_units: int) -> list[int]:
    if isinstance(units, (str, bytes)) or not isinstance(units, Sequence | np.ndarray):
        raise RnndynError(
            f"units must be a list of unit indices, e.g. [0, 3]; got {type(units).__name__}"
            + (f". For one unit pass [{units}]." if isinstance(units, (int, np.integer)) else ".")
        )
    if len(units) == 0:
        raise RnndynError("units is empty; pass at least one unit index, e.g. [0].")
    out = [check_index(u, "units", n_units, "unit") for u in units]
    if len(set(out)) != len(out):
        raise RnndynError(f"units lists a unit twice ({out}); each unit is drawn once.")
    return out


def check_bins(bins: Any) -> int | np.ndarray:
    """A number of bins in ``[1, MAX_BINS]`` or the bin edges (1-D, increasing, finite)."""
    if isinstance(bins, (list, tuple, np.ndarray)):
        edges = real_array(bins, "bins")
        if edges.ndim != 1 or edges.size < 2 or edges.size > MAX_BINS + 1:
            raise RnndynError(
                f"bins as edges must be a 1-D array of 2 to {MAX_BINS + 1} values; got shape {edges.shape}."
            )
        if np.any(np.diff(edges) <= 0):
            raise RnndynError("bins as edges must increase strictly (e.g. np.arange(0.5, 10.5)).")
        return edges
    n = check_int(bins, "bins", minimum=1)
    if n > MAX_BINS:
        raise RnndynError(f"bins must be <= {MAX_BINS}; got {n}. A few dozen bins is typical.")
    return n
