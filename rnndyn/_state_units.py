"""Where a cell's state lives: inputs, points, starts and trajectory units, validated.

A cell's state vector is made of blocks named by ``cell.state_names``
(``("h",)``, or ``("h", "c")`` for an LSTM), each ``hidden_size`` long. In a
:class:`~rnndyn.Trajectories` those coordinates are the units whose ``state``
is the block's name, ordered by ``index``, of one ``layer`` and ``direction``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._cells import LSTMCell
from ._validation import describe, real_array, to_numpy
from .errors import RnndynError
from .trajectories import Trajectories

__all__ = [
    "real_values",
    "as_inputs",
    "as_point",
    "initial_states",
    "trajectory_states",
    "select_state_units",
]

DEFAULT_STARTS = 128


def real_values(a: Any, name: str, expect: str) -> np.ndarray:
    """``a`` as a finite float64 numpy array; the error for a non-array says it must be ``expect``."""
    if a is None or isinstance(a, (str, bytes, dict, set)):
        raise RnndynError(f"{name} must be {expect}; got {describe(a)}.")
    return real_array(a, name)


def as_inputs(cell: Any, inputs: Any) -> np.ndarray:
    """Constant inputs as ``(n_inputs, input_size)`` float64; ``None`` is one zero input."""
    width = cell.input_size
    if inputs is None:
        return np.zeros((1, width))
    expect = f"an array of shape (n_inputs, {width}) or ({width},) (input_size = {width})"
    x = real_values(inputs, "inputs", expect)
    if x.ndim == 1:
        x = x[None]
    if x.ndim != 2 or x.shape[1] != width or x.shape[0] == 0:
        raise RnndynError(
            f"inputs must be {expect}; got shape {x.shape}. Each row is one constant input, e.g. the "
            "one-hot vector of the padding symbol."
        )
    return x


def as_point(cell: Any, point: Any, input: Any) -> tuple[np.ndarray, np.ndarray]:
    """One state ``(dim,)`` and one input ``(input_size,)``."""
    s = real_values(point, "point", f"an array of shape ({cell.dim},)")
    if s.shape != (cell.dim,):
        raise RnndynError(
            f"point must have shape ({cell.dim},) (the cell's full state"
            f"{', h then c' if isinstance(cell, LSTMCell) else ''}); got {s.shape}. For a FixedPoints "
            "result pass fps.states[k] and fps.inputs[k]."
        )
    x = as_inputs(cell, input)
    if x.shape[0] != 1:
        raise RnndynError(f"input must be one input of shape ({cell.input_size},); got {x.shape}.")
    return s, x[0]


def select_state_units(
    cell: Any, traj: Trajectories, names: tuple[str, ...], layer: Any, direction: Any, name: str
) -> np.ndarray:
    """Unit positions of the blocks ``names`` (concatenated, each ordered by index)."""
    units = traj.units
    keep = np.ones(len(units), dtype=bool)
    for col, value in (("layer", layer), ("direction", direction)):
        if value is not None:
            hit = units[col].to_numpy() == value
            if not hit.any():
                raise RnndynError(
                    f"{name} has no unit with {col}={value!r}; available: {sorted(set(units[col]), key=str)}."
                )
            keep &= hit
    H = cell.hidden_size
    out = []
    for block in names:
        rows = np.flatnonzero(keep & (units["state"].to_numpy() == block))
        if rows.size == 0:
            raise RnndynError(
                f"{name} holds no {block!r} units{_where(layer, direction)}; the cell needs its state "
                f"blocks {names} ({H} units each). Capture state={list(names)} for this layer."
            )
        if rows.size != H:
            groups = units.iloc[rows].groupby(["layer", "direction"]).size().to_dict()
            hint = (
                " Pass layer= and direction= to pick one."
                if len(groups) > 1
                else f" The cell has hidden_size {H}."
            )
            raise RnndynError(
                f"{name} has {rows.size} {block!r} units{_where(layer, direction)} ({groups}); "
                f"expected {H}.{hint}"
            )
        rows = rows[np.argsort(units["index"].to_numpy()[rows], kind="stable")]
        out.append(rows)
    return np.concatenate(out)


def _where(layer: Any, direction: Any) -> str:
    parts = [f"{k}={v!r}" for k, v in (("layer", layer), ("direction", direction)) if v is not None]
    return f" with {', '.join(parts)}" if parts else ""


def trajectory_states(cell: Any, traj: Trajectories, *, layer: Any, direction: Any) -> np.ndarray:
    """The cell's full state along captured trajectories, ``(n_sequences, n_steps, dim)``."""
    pos = select_state_units(cell, traj, cell.state_names, layer, direction, "states")
    return np.asarray(to_numpy(traj.states), dtype=np.float64)[:, :, pos]


def _reduced_dim(cell: Any) -> int:
    return cell.hidden_size if isinstance(cell, LSTMCell) else cell.dim


def initial_states(
    cell: Any, initial: Any, n_starts: int | None, rng: np.random.Generator, *, layer: Any, direction: Any
) -> np.ndarray:
    """Starts in the solver's coordinates (``h`` for an LSTM, the full state otherwise)."""
    m = _reduced_dim(cell)
    if initial is None:
        return rng.standard_normal((n_starts or DEFAULT_STARTS, m))
    if isinstance(initial, Trajectories):
        names = ("h",) if isinstance(cell, LSTMCell) else cell.state_names
        pos = select_state_units(cell, initial, names, layer, direction, "initial")
        pool = np.asarray(to_numpy(initial.states), dtype=np.float64)[:, :, pos].reshape(-1, pos.size)
        n_starts = n_starts or DEFAULT_STARTS
    else:
        dims = f"{cell.dim}" + (f" or {m} (h only)" if m != cell.dim else "")
        pool = real_values(initial, "initial", f"an array of states (n, {dims})")
        if pool.ndim not in (2, 3) or pool.shape[-1] not in (cell.dim, m) or pool.size == 0:
            raise RnndynError(
                f"initial must be states of shape (n, {dims}), or (n_sequences, n_steps, {dims}), or a "
                f"Trajectories; got shape {pool.shape}."
            )
        pool = pool.reshape(-1, pool.shape[-1])[:, :m]
    if pool.shape[0] == 0:
        raise RnndynError("initial holds no state to start from.")
    if n_starts is None:
        return pool.copy()
    rows = rng.choice(pool.shape[0], size=n_starts, replace=n_starts > pool.shape[0])
    return pool[rows]
