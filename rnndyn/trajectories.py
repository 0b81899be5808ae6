"""`Trajectories`: the one data type everything in rnndyn passes around.

Data layout (defined once here, repeated in every docstring):

* ``states`` -- array of shape ``(n_sequences, n_steps, n_units)``. Step ``t``
  is the state after the network read input position ``t`` (input order), or,
  for a backward unit put in its own processing order, the ``t``-th state the
  backward recurrence produced.
* ``lengths`` -- int array ``(n_sequences,)``: how many steps are real input;
  steps ``t >= lengths[i]`` are padding.
* ``units`` -- a :class:`pandas.DataFrame`, one row per unit (column of
  ``states``) with at least ``layer``, ``state`` (``"h"``, ``"c"`` or a gate
  name), ``direction`` (``"forward"``/``"backward"``) and ``index`` (the unit
  index inside its layer, state and direction).
* ``masked`` -- whether the recurrence skipped the padding (Keras masking,
  PyTorch packed sequences). Without masking, a backward recurrence reads the
  padding *first*.
* ``order`` -- ``"input"`` (every unit indexed by input position) or
  ``"processing"`` (backward units re-ordered into the order they computed).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd

from ._convert import _like
from ._validation import (
    array_namespace,
    as_numpy,
    check_bool,
    check_choice,
    check_end_of_input,
    check_int,
    check_lengths,
    check_region,
    check_states,
    describe,
    to_numpy,
)
from .errors import RnndynError

if TYPE_CHECKING:
    import xarray

__all__ = ["Trajectories", "Aligned", "delta_region_mask", "UNIT_COLUMNS"]

UNIT_COLUMNS = ("layer", "state", "direction", "index")
DIRECTIONS = ("forward", "backward")
ORDERS = ("input", "processing")


def delta_region_mask(
    lengths: np.ndarray,
    n_steps: int,
    *,
    region: str,
    direction: str = "forward",
    order: str = "input",
    masked: bool = False,
) -> np.ndarray:
    """Which step deltas belong to a region, shape ``(n_sequences, n_steps - 1)``.

    The delta ``d[i, t] = x[i, t+1] - x[i, t]`` is an *input* delta when the
    change it measures was driven by reading a real input position, and a
    *padding* delta otherwise:

    * forward units (and masked backward units, in either order): driven by
      position ``t + 1``, input when ``t + 1 < lengths[i]``;
    * unmasked backward units in input order: the backward recurrence goes
      from ``x[t+1]`` to ``x[t]`` by reading position ``t``: input when
      ``t < lengths[i]``;
    * unmasked backward units in processing order (step ``k`` is input
      position ``n_steps - 1 - k``): input when ``k >= n_steps - 1 - lengths[i]``.

    In every case each region is a contiguous run of deltas in every sequence.

    Examples
    --------
    >>> delta_region_mask(np.array([3]), 5, region="input").astype(int)
    array([[1, 1, 0, 0]])
    """
    check_region(region)
    check_choice(direction, "direction", DIRECTIONS)
    check_choice(order, "order", ORDERS)
    check_bool(masked, "masked")
    n_steps = check_int(n_steps, "n_steps", minimum=0)
    n = int(np.shape(lengths)[0]) if np.ndim(lengths) == 1 else 1
    lengths = check_lengths(lengths, n, n_steps)
    if region == "all" or n_steps < 2:
        return np.ones((n, max(n_steps - 1, 0)), dtype=bool)
    t = np.arange(n_steps - 1)[None, :]
    L = lengths[:, None]
    if direction == "backward" and not masked:
        is_input = t < L if order == "input" else t >= (n_steps - 1 - L)
    else:
        is_input = t + 1 < L
    return is_input if region == "input" else ~is_input


class Aligned(NamedTuple):
    """States aligned at the end of input.

    ``values[i, k, u]`` is the state of sequence ``i`` at ``offsets[k]`` steps
    after its last real input step (``offsets[k] == 0`` is the last real
    character, negative offsets are earlier characters, positive ones padding);
    NaN where sequence ``i`` has no such step (``valid[i, k]`` is False).
    """

    values: np.ndarray
    offsets: np.ndarray
    valid: np.ndarray


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


def _check_units(units: Any, n_units: int) -> pd.DataFrame:
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


def _check_inputs(inputs: Any, n: int) -> Sequence[Any] | None:
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


def _positions(sel: Any, n: int, name: str, what: str) -> np.ndarray:
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


@dataclass(frozen=True, eq=False, init=False)
class Trajectories:
    """Hidden-state trajectories of a recurrent network, plus what they mean.

    Parameters
    ----------
    states : array of shape (n_sequences, n_steps, n_units)
        numpy (or torch / dask) array of finite real numbers.
    lengths : array of shape (n_sequences,), optional
        Real input steps per sequence; default: every step is real.
    units : DataFrame, optional
        One row per unit with columns ``layer``, ``state``, ``direction``,
        ``index``; default: one forward ``h`` layer named ``"layer"``.
    inputs : sequence, optional
        The raw inputs (e.g. strings), one per sequence.
    masked : bool, default False
        Whether the recurrence skipped padding steps (masking / packing).
    order : {"input", "processing"}, default "input"
        Time order of backward units (see the module docstring).

    Examples
    --------
    >>> import numpy as np
    >>> traj = Trajectories(np.zeros((4, 10, 3)), lengths=[10, 7, 5, 3])
    >>> traj.shape
    (4, 10, 3)
    >>> traj.mask.sum(axis=1).tolist()
    [10, 7, 5, 3]
    """

    states: Any
    lengths: np.ndarray
    units: pd.DataFrame
    inputs: Sequence[Any] | None
    masked: bool
    order: str

    def __init__(
        self,
        states: Any,
        lengths: Any = None,
        units: Any = None,
        inputs: Sequence[Any] | None = None,
        *,
        masked: bool = False,
        order: str = "input",
        _check_finite: bool = True,
        _units_checked: bool = False,
    ) -> None:
        # _check_finite=False is for states derived from already-validated ones;
        # _units_checked=True for a unit table taken (rows kept in full) from a validated one
        states = check_states(states, "states", finite=_check_finite)
        n, T, U = (int(s) for s in states.shape)
        lengths = np.array(check_lengths(lengths, n, T), copy=True)
        lengths.setflags(write=False)
        if _units_checked and isinstance(units, pd.DataFrame) and len(units) == U:
            units = units.reset_index(drop=True)
        else:
            units = _check_units(units, U)
        inputs = _check_inputs(inputs, n)
        masked = check_bool(masked, "masked")
        check_choice(order, "order", ORDERS)
        if isinstance(states, np.ndarray) and states.flags.writeable:
            states = states.view()
            states.setflags(write=False)
        object.__setattr__(self, "states", states)
        object.__setattr__(self, "lengths", lengths)
        object.__setattr__(self, "units", units)
        object.__setattr__(self, "inputs", inputs)
        object.__setattr__(self, "masked", bool(masked))
        object.__setattr__(self, "order", order)

    # ------------------------------------------------------------------ basics
    @property
    def shape(self) -> tuple[int, int, int]:
        """``(n_sequences, n_steps, n_units)``."""
        return tuple(int(s) for s in self.states.shape)  # type: ignore[return-value]

    @property
    def n_sequences(self) -> int:
        return self.shape[0]

    @property
    def n_steps(self) -> int:
        return self.shape[1]

    @property
    def n_units(self) -> int:
        return self.shape[2]

    def __len__(self) -> int:
        return self.n_sequences

    def __repr__(self) -> str:
        layers = ", ".join(
            f"{k[0]}/{k[1]}/{k[2]}: {v}"
            for k, v in self.units.groupby(["layer", "state", "direction"], sort=False).size().items()
        )
        lo = int(self.lengths.min()) if self.n_sequences else 0
        hi = int(self.lengths.max()) if self.n_sequences else 0
        return (
            f"<Trajectories {self.n_sequences} sequences x {self.n_steps} steps x "
            f"{self.n_units} units ({layers}); lengths {lo}..{hi}; order={self.order}, "
            f"masked={self.masked}>"
        )

    def _replace(self, **changes: Any) -> Trajectories:
        kw = dict(
            states=self.states,
            lengths=self.lengths,
            units=self.units,
            inputs=self.inputs,
            masked=self.masked,
            order=self.order,
        )
        trusted = changes.pop("_units_checked", "units" not in changes)
        kw.update(changes)
        return Trajectories(**kw, _check_finite=False, _units_checked=trusted)

    @property
    def mask(self) -> np.ndarray:
        """Bool array ``(n_sequences, n_steps)``: True on real input steps (input order)."""
        return np.arange(self.n_steps)[None, :] < self.lengths[:, None]

    def delta_mask(self, region: str = "input") -> np.ndarray:
        """Bool array ``(n_sequences, n_steps - 1, n_units)``: deltas inside ``region``.

        Follows each unit's direction, this object's ``order`` and ``masked``;
        see :func:`delta_region_mask`.
        """
        out = np.empty((self.n_sequences, max(self.n_steps - 1, 0), self.n_units), dtype=bool)
        for direction, cols in self.direction_groups().items():
            m = delta_region_mask(
                self.lengths,
                self.n_steps,
                region=region,
                direction=direction,
                order=self.order,
                masked=self.masked,
            )
            out[:, :, cols] = m[:, :, None]
        return out

    def direction_groups(self) -> dict[str, np.ndarray]:
        """Unit positions per direction, e.g. ``{"forward": array([0, 1, ...])}``."""
        d = self.units["direction"].to_numpy()
        return {k: np.flatnonzero(d == k) for k in DIRECTIONS if np.any(d == k)}

    # --------------------------------------------------------------- selection
    def select(self, units: Any = None, **criteria: Any) -> Trajectories:
        """Keep some units, by position and/or by unit-table columns.

        Parameters
        ----------
        units : int, slice, array of int or bool, optional
            Positions (columns of ``states``) to keep, in the given order.
        **criteria
            Column of ``self.units`` = value or list of values, e.g.
            ``direction="forward"``, ``state=["h", "c"]``, ``index=[1, 5]``.

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> units = pd.DataFrame({"layer": "enc", "state": "h",
        ...     "direction": ["forward", "forward", "backward", "backward"], "index": [0, 1, 0, 1]})
        >>> Trajectories(np.zeros((2, 5, 4)), units=units).select(direction="backward").n_units
        2
        """
        pos = np.arange(self.n_units)
        if units is not None:
            pos = _positions(units, self.n_units, "units", "units")
        keep = np.ones(pos.shape[0], dtype=bool)
        for col, value in criteria.items():
            if col not in self.units.columns:
                raise RnndynError(
                    f"select(): unknown unit column {col!r}; columns are {list(self.units.columns)}."
                )
            values = value if isinstance(value, list | tuple | set | np.ndarray | pd.Index) else [value]
            values = list(np.asarray(values).ravel()) if isinstance(values, np.ndarray) else list(values)
            column = self.units[col].to_numpy()
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
        xp = array_namespace(self.states)
        states = (
            xp.take(self.states, xp.asarray(pos, device=_device(self.states)), axis=2)
            if not isinstance(self.states, np.ndarray)
            else self.states[:, :, pos]
        )
        units = self.units.iloc[pos].reset_index(drop=True)
        return self._replace(states=states, units=units, _units_checked=True)

    def take(self, sequences: Any) -> Trajectories:
        """Keep some sequences (int positions, slice or bool mask), in the given order.

        Like numpy fancy indexing: negative positions count from the end, a
        position may repeat (its sequence is then kept several times), and an
        empty selection gives a Trajectories of 0 sequences (which the
        averaged metrics refuse). Positions out of range, floats, 2-d arrays
        and bool masks of another length are errors.

        Examples
        --------
        >>> import numpy as np
        >>> traj = Trajectories(np.zeros((4, 3, 1)), lengths=[3, 2, 1, 3])
        >>> traj.take([0, -1, 0]).lengths.tolist()
        [3, 3, 3]
        >>> traj.take(traj.lengths > 1).n_sequences
        3
        """
        idx = _positions(sequences, self.n_sequences, "sequences", "sequences")
        inputs = None if self.inputs is None else [self.inputs[int(i)] for i in idx]
        if isinstance(self.states, np.ndarray):
            states = self.states[idx]
        else:
            xp = array_namespace(self.states)
            states = xp.take(self.states, xp.asarray(idx, device=_device(self.states)), axis=0)
        return self._replace(states=states, lengths=self.lengths[idx], inputs=inputs)

    def split_directions(self) -> dict[str, Trajectories]:
        """``{"forward": ..., "backward": ...}`` (only directions present)."""
        return {k: self.select(v) for k, v in self.direction_groups().items()}

    # ------------------------------------------------------------- time order
    def _time_index(self, to: str) -> np.ndarray:
        """Gather index ``(n_sequences, n_steps)`` for the backward units."""
        n, T = self.n_sequences, self.n_steps
        t = np.broadcast_to(np.arange(T), (n, T))
        if not self.masked:
            return np.ascontiguousarray(t[:, ::-1])
        L = self.lengths[:, None]
        # real steps reversed, padding kept where it is; an involution
        return np.where(t < L, L - 1 - t, t)

    def _reorder(self, to: str) -> Trajectories:

        if self.order == to:
            return self
        cols = self.direction_groups().get("backward")
        if cols is None or self.n_steps == 0:
            return self._replace(order=to)
        idx = self._time_index(to)
        states = to_numpy(self.states)
        out = np.array(states, copy=True)
        sub = states[:, :, cols]
        out[:, :, cols] = np.take_along_axis(sub, idx[:, :, None], axis=1)
        return self._replace(states=_like(out, self.states), order=to)

    def processing_order(self) -> Trajectories:
        """Backward units re-ordered into the order the backward recurrence ran.

        Unmasked backward recurrences read the whole padded sequence from the
        end: step ``k`` becomes input position ``n_steps - 1 - k`` (padding
        first). Masked ones read only the real steps from the end: step ``k``
        becomes position ``lengths[i] - 1 - k`` for ``k < lengths[i]``; the
        padding steps stay last. Forward units are unchanged.
        """
        return self._reorder("processing")

    def input_order(self) -> Trajectories:
        """Every unit indexed by input position (undoes :meth:`processing_order`)."""
        return self._reorder("input")

    def align_end(self, before: int | None = None, after: int | None = None) -> Aligned:
        """Align every sequence at its last real input step.

        Parameters
        ----------
        before, after : int, optional
            How many steps to keep before and after the end of input
            (default: as many as any sequence has).

        Returns
        -------
        Aligned
            ``values`` of shape ``(n_sequences, before + 1 + after, n_units)``
            (float64, NaN where a sequence has no such step), ``offsets``
            (steps since the last real input step) and ``valid``.

        Examples
        --------
        >>> import numpy as np
        >>> a = Trajectories(np.arange(6.0).reshape(2, 3, 1), lengths=[1, 3]).align_end()
        >>> a.offsets.tolist()
        [-2, -1, 0, 1, 2]
        >>> a.values[:, :, 0].tolist()
        [[nan, nan, 0.0, 1.0, 2.0], [3.0, 4.0, 5.0, nan, nan]]
        """
        if self.order != "input":
            raise RnndynError("align_end() needs input order; call .input_order() first.")
        check_end_of_input(self.lengths, "align_end()")
        T = self.n_steps
        max_before = int(self.lengths.max(initial=1)) - 1
        max_after = T - int(self.lengths.min(initial=T))
        hint = (
            f"With n_steps={T} no sequence has a step further than {max(T - 1, 0)} steps from its end "
            "of input; use a smaller value or None (as far as any sequence reaches)."
        )
        top = max(T - 1, 0)
        before = (
            max_before if before is None else check_int(before, "before", minimum=0, maximum=top, hint=hint)
        )
        after = max_after if after is None else check_int(after, "after", minimum=0, maximum=top, hint=hint)
        offsets = np.arange(-before, after + 1)
        t = (self.lengths[:, None] - 1) + offsets[None, :]
        valid = (t >= 0) & (t < T)
        states = to_numpy(self.states).astype(np.float64, copy=False)
        vals = np.take_along_axis(states, np.clip(t, 0, max(T - 1, 0))[:, :, None], axis=1)
        vals = np.where(valid[:, :, None], vals, np.nan)
        return Aligned(vals, offsets, valid)

    # ------------------------------------------------------------ conversion
    def to_numpy(self) -> Trajectories:
        """The same trajectories with ``states`` as a numpy array."""
        return self._replace(states=to_numpy(self.states))

    def to_xarray(self) -> xarray.DataArray:
        """A labelled ``xarray.DataArray`` with dims (sequence, step, unit).

        Unit-table columns become coordinates along ``unit``; ``length`` and
        (if present) ``input`` are coordinates along ``sequence``.
        """
        from ._convert import to_xarray

        return to_xarray(self)

    def to_frame(self) -> pd.DataFrame:
        """Long table, one row per (sequence, step, unit).

        Columns: ``sequence``, ``step``, ``unit`` (column position), the unit
        table's columns, ``is_input`` (step < length) and ``value``.
        """
        from ._convert import to_frame

        return to_frame(self)

    @classmethod
    def concat(cls, parts: Iterable[Trajectories], *, along: str = "sequences") -> Trajectories:
        """Join trajectories from several batches (``along="sequences"``) or
        several layers/states captured on the same sequences (``along="units"``).

        Every part must be a Trajectories with states from one array library
        (numpy, torch or dask; torch: one device), the same ``order`` and
        ``masked``; along sequences the same steps and units table, along
        units the same lengths and no unit twice. dtypes promote as
        ``numpy.concatenate`` / ``torch.cat`` do (float32 + float64 -> float64).

        Examples
        --------
        >>> import numpy as np
        >>> a, b = Trajectories(np.zeros((2, 3, 1))), Trajectories(np.ones((1, 3, 1)))
        >>> Trajectories.concat([a, b]).shape
        (3, 3, 1)
        """
        from ._convert import concat

        return concat(parts, along=along)


def _device(x: Any) -> Any:
    import array_api_compat

    return array_api_compat.device(x)
