"""Conversions and joins of Trajectories (the bodies behind its methods)."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ._backends import get_backend
from ._validation import array_namespace, check_choice, describe, to_numpy
from .errors import MissingExtraError, RnndynError
from .steps import Steps

__all__ = ["to_xarray", "to_frame", "concat", "index_axis", "join_sequences", "join_units"]


if TYPE_CHECKING:
    import xarray

    from .trajectories import Trajectories


def to_xarray(traj: Trajectories) -> xarray.DataArray:
    """See :meth:`Trajectories.to_xarray`."""
    try:
        import xarray as xr
    except ImportError:
        raise MissingExtraError(
            "to_xarray() needs xarray, which is not installed: pip install 'rnndyn[xarray]' "
            "(or pip install xarray). to_frame() gives a pandas table without it."
        ) from None
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


def _library(x: Any) -> str:
    return type(x).__module__.split(".")[0]


def _check_parts(parts: Any, Trajectories: type) -> list[Trajectories]:
    expect = "parts must be a list (or other iterable) of Trajectories"
    if isinstance(parts, Trajectories):
        raise RnndynError(f"{expect}; got one Trajectories. Wrap it in a list: concat([traj, ...]).")
    if parts is None or isinstance(parts, str | bytes | Mapping) or hasattr(parts, "shape"):
        raise RnndynError(f"{expect}; got {describe(parts)}. Wrap arrays as Trajectories(x, lengths=...).")
    try:
        parts = list(parts)
    except TypeError:
        raise RnndynError(f"{expect}; got {describe(parts)}, which is not iterable.") from None
    if not parts:
        raise RnndynError("concat() needs at least one Trajectories in parts; got none.")
    for j, p in enumerate(parts):
        if not isinstance(p, Trajectories):
            raise RnndynError(
                f"concat(): part {j} of parts is {describe(p)}, not a Trajectories. Wrap arrays as "
                "Trajectories(x, lengths=...) first."
            )
    first = parts[0]
    lib0 = _library(first.states)
    dev0 = getattr(first.states, "device", None)
    for j, p in enumerate(parts[1:], 1):
        lib = _library(p.states)
        if lib != lib0:
            raise RnndynError(
                f"concat(): part {j} of parts holds {lib} states and part 0 {lib0} states; parts must "
                "come from one array library. Convert them first, e.g. [t.to_numpy() for t in parts]."
            )
        if lib == "torch" and str(p.states.device) != str(dev0):
            raise RnndynError(
                f"concat(): part {j} of parts is on device {p.states.device} and part 0 on {dev0}; "
                "move every part's states to one device first (or call .to_numpy() on each part)."
            )
        if p.order != first.order:
            raise RnndynError(
                f"concat(): part {j} has order={p.order}; part 0 has order={first.order}. Convert "
                "first (input_order() / processing_order())."
            )
    return parts


def concat(parts: Iterable[Trajectories], cls: type, *, along: str = "sequences") -> Trajectories:
    """See :meth:`Trajectories.concat`."""
    check_choice(along, "along", ("sequences", "units"))
    parts = _check_parts(parts, cls)
    first = parts[0]
    xp = array_namespace(first.states)
    if along == "sequences":
        for j, p in enumerate(parts[1:], 1):
            if p.n_steps != first.n_steps or p.n_units != first.n_units:
                raise RnndynError(
                    f"concat(along='sequences'): part {j} has {p.n_steps} steps and "
                    f"{p.n_units} units; part 0 has {first.n_steps} and {first.n_units}. "
                    "Pad every batch to one number of steps (and pass lengths=)."
                )
            if not p.units.equals(first.units):
                raise RnndynError(
                    f"concat(along='sequences'): part {j} has another units table than part 0; "
                    "batches joined along sequences must hold the same units in the same order."
                )
        has_inputs = [p.inputs is not None for p in parts]
        if any(has_inputs) and not all(has_inputs):
            missing = has_inputs.index(False)
            raise RnndynError(
                f"concat(): some parts have inputs and some do not (part {missing} has none); "
                "give every part its inputs, or none."
            )
        inputs = [x for p in parts for x in p.inputs] if all(has_inputs) else None
        states = xp.concat([p.states for p in parts], axis=0)
        return first._replace(states=states, steps=join_sequences([p.steps for p in parts]), inputs=inputs)
    for j, p in enumerate(parts[1:], 1):
        if p.n_sequences != first.n_sequences or p.n_steps != first.n_steps:
            raise RnndynError(
                f"concat(along='units'): part {j} is {p.shape[:2]} (sequences, steps); "
                f"part 0 is {first.shape[:2]}. Join along units only captures of the same sequences."
            )
    steps = join_units([(p.steps, p.units["layer"].unique().tolist()) for p in parts])
    units = pd.concat([p.units for p in parts], ignore_index=True)
    dup = units.duplicated(["layer", "state", "direction", "index"]).to_numpy()
    if dup.any():
        row = int(np.flatnonzero(dup)[0])
        part = int(np.searchsorted(np.cumsum([p.n_units for p in parts]), row, side="right"))
        raise RnndynError(
            f"concat(along='units'): part {part} repeats the unit "
            f"{units.iloc[row][['layer', 'state', 'direction', 'index']].tolist()} of an earlier part; "
            "every unit may appear once (select() the units you need from each part)."
        )
    states = xp.concat([p.states for p in parts], axis=2)
    return first._replace(states=states, units=units, steps=steps)


def _like(arr: np.ndarray, ref: Any) -> Any:
    """Put a numpy result back into ``ref``'s array type and device (dask: ``ref``'s chunks)."""
    be = get_backend(ref)
    if be.lazy:
        return sys.modules["dask.array"].from_array(arr, chunks=ref.chunks)
    return be.asarray(arr)


def join_sequences(parts: Sequence[Steps]) -> Steps:
    """The steps of parts joined along sequences (same masking; explicit orders kept)."""
    first = parts[0]
    for j, p in enumerate(parts[1:], 1):
        if p.masked != first.masked:
            raise RnndynError(
                f"concat(): part {j} has masked={p.masked}; part 0 has masked={first.masked}. "
                "Parts with different masking come from different models."
            )
    keys = {k for p in parts for k in p.orders}
    orders = {k: np.concatenate([p.order(*k) for p in parts]) for k in keys}
    return Steps(np.concatenate([p.valid for p in parts]), masked=first.masked, orders=orders)


def join_units(parts: Sequence[tuple[Steps, Sequence[str]]]) -> Steps:
    """The steps of captures of the same sequences joined along units.

    ``parts`` holds each part's steps and the layer names of its units; the
    masking becomes per layer where the parts disagree.
    """
    first = parts[0][0]
    for j, (p, _) in enumerate(parts[1:], 1):
        if not np.array_equal(p.valid, first.valid):
            raise RnndynError(
                f"concat(along='units'): part {j} has other lengths (real steps) than part 0, so it "
                "holds other sequences; join along units only captures of the same sequences."
            )
    if all(p.masked == first.masked for p, _ in parts):
        masked: bool | dict[str, bool] = first.masked
    else:
        masked = {}
        for j, (p, layers) in enumerate(parts):
            for layer in map(str, layers):
                if masked.setdefault(layer, p.masked_for(layer)) != p.masked_for(layer):
                    raise RnndynError(
                        f"concat(along='units'): layer {layer!r} is masked={p.masked_for(layer)} in "
                        f"part {j} but masked={masked[layer]} in an earlier part; one layer has one "
                        "masking. Capture it once."
                    )
    orders: dict[tuple[str, str], np.ndarray] = {}
    for p, _ in parts:
        orders.update(p.orders)
    return Steps(first.valid, masked=masked, orders=orders)


def index_axis(x: Any, pos: np.ndarray, axis: int) -> Any:
    """``x`` at int positions ``pos`` along ``axis``, in ``x``'s array library.

    A run of consecutive positions gives a view (a slice); otherwise a copy.
    """
    if pos.size and np.array_equal(pos, np.arange(pos[0], pos[0] + pos.size)):
        key = [slice(None)] * x.ndim
        key[axis] = slice(int(pos[0]), int(pos[0]) + pos.size)
        return x[tuple(key)]
    if isinstance(x, np.ndarray):
        return np.take(x, pos, axis=axis)
    import array_api_compat

    xp = array_namespace(x)
    return xp.take(x, xp.asarray(pos, device=array_api_compat.device(x)), axis=axis)
