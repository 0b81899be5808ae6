"""Conversions and joins of Trajectories (the bodies behind its methods)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ._validation import array_namespace, to_numpy
from .errors import RnndynError

if TYPE_CHECKING:
    import xarray

    from .trajectories import Trajectories


def to_xarray(traj: Trajectories) -> xarray.DataArray:
    """See :meth:`Trajectories.to_xarray`."""
    try:
        import xarray as xr
    except ImportError:
        raise RnndynError("to_xarray() needs xarray: pip install 'rnndyn[xarray]'.") from None
    coords: dict[str, Any] = {
        "sequence": np.arange(traj.n_sequences),
        "step": np.arange(traj.n_steps),
        "length": ("sequence", traj.lengths),
    }
    if traj.inputs is not None:
        coords["input"] = ("sequence", np.asarray(list(traj.inputs), dtype=object))
    for col in traj.units.columns:
        coords[col if col != "index" else "unit_index"] = ("unit", traj.units[col].to_numpy())
    return xr.DataArray(
        to_numpy(traj.states),
        dims=("sequence", "step", "unit"),
        coords=coords,
        name="state",
        attrs={"order": traj.order, "masked": int(traj.masked)},
    )


def to_frame(traj: Trajectories) -> pd.DataFrame:
    """See :meth:`Trajectories.to_frame`."""
    n, T, U = traj.shape
    vals = to_numpy(traj.states).reshape(-1)
    seq = np.repeat(np.arange(n), T * U)
    step = np.tile(np.repeat(np.arange(T), U), n)
    unit = np.tile(np.arange(U), n * T)
    df = pd.DataFrame({"sequence": seq, "step": step, "unit": unit})
    for col in traj.units.columns:
        df[col] = traj.units[col].to_numpy()[unit]
    df["is_input"] = step < traj.lengths[seq]
    df["value"] = vals
    return df


def concat(parts: Iterable[Trajectories], *, along: str = "sequences") -> Trajectories:
    """See :meth:`Trajectories.concat`."""
    parts = list(parts)
    if not parts:
        raise RnndynError("concat() needs at least one Trajectories; got none.")
    first = parts[0]
    for j, p in enumerate(parts[1:], 1):
        if p.order != first.order or p.masked != first.masked:
            raise RnndynError(
                f"concat(): part {j} has order={p.order}, masked={p.masked}; part 0 has "
                f"order={first.order}, masked={first.masked}. Convert first."
            )
    xp = array_namespace(first.states)
    if along == "sequences":
        for j, p in enumerate(parts[1:], 1):
            if p.n_steps != first.n_steps or not p.units.equals(first.units):
                raise RnndynError(
                    f"concat(along='sequences'): part {j} has {p.n_steps} steps and "
                    f"{p.n_units} units; part 0 has {first.n_steps} and {first.n_units} "
                    "(and the unit tables must be equal)."
                )
        has_inputs = [p.inputs is not None for p in parts]
        if any(has_inputs) and not all(has_inputs):
            raise RnndynError("concat(): some parts have inputs and some do not.")
        inputs = [x for p in parts for x in p.inputs] if all(has_inputs) else None
        states = xp.concat([p.states for p in parts], axis=0)
        return first._replace(
            states=states,
            lengths=np.concatenate([p.lengths for p in parts]),
            inputs=inputs,
        )
    if along == "units":
        for j, p in enumerate(parts[1:], 1):
            if p.n_sequences != first.n_sequences or p.n_steps != first.n_steps:
                raise RnndynError(
                    f"concat(along='units'): part {j} is {p.shape[:2]} (sequences, steps); "
                    f"part 0 is {first.shape[:2]}."
                )
            if not np.array_equal(p.lengths, first.lengths):
                raise RnndynError(f"concat(along='units'): part {j} has other lengths.")
        units = pd.concat([p.units for p in parts], ignore_index=True)
        states = xp.concat([p.states for p in parts], axis=2)
        return first._replace(states=states, units=units)
    raise RnndynError(f"along must be 'sequences' or 'units'; got {along!r}.")


def _like(arr: np.ndarray, ref: Any) -> Any:
    """Put a numpy result back into ``ref``'s array type and device."""
    if isinstance(ref, np.ndarray):
        return arr
    mod = type(ref).__module__
    if mod.startswith("torch"):
        import torch

        return torch.as_tensor(arr, device=ref.device)
    if mod.startswith("dask"):
        import dask.array as da

        return da.from_array(arr, chunks=ref.chunks)
    return arr
