"""`Trajectories`: the one data type everything in rnndyn passes around.

Data layout (defined once here, repeated in every docstring):

* ``states`` -- array of shape ``(n_sequences, n_steps, n_units)``. Step ``t``
  is the state after the network read input position ``t`` (input order), or,
  in processing order, the ``t``-th state the unit's recurrence computed.
* ``steps`` -- a :class:`~rnndyn.steps.Steps`: which input positions are real
  (``valid``) and the order in which each (layer, direction) processed them.
  ``lengths``, ``masked`` and ``mask`` are views of it; ``lengths=`` and
  ``masked=`` build it for right-padded sequences.
* ``units`` -- a :class:`pandas.DataFrame`, one row per unit (column of
  ``states``) with at least ``layer``, ``state`` (``"h"``, ``"c"`` or a gate
  name), ``direction`` (``"forward"``/``"backward"``) and ``index`` (the unit
  index inside its layer, state and direction).
* ``order`` -- ``"input"`` (every unit indexed by input position) or
  ``"processing"`` (every unit in the order its recurrence computed).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ._convert import concat, index_axis, to_frame, to_xarray
from ._units import DIRECTIONS, UNIT_COLUMNS, check_inputs, check_units, positions, select_positions
from ._validation import (
    check_choice,
    check_region,
    check_states,
    describe,
    to_numpy,
)
from ._views import Aligned, align_end, reorder
from .errors import RnndynError
from .steps import ARRANGEMENTS, Steps, delta_region_mask, step_region
from .steps import delta_region as _delta_region

if TYPE_CHECKING:
    import xarray

__all__ = ["Trajectories", "Aligned", "Steps", "delta_region_mask", "UNIT_COLUMNS"]

ORDERS = ARRANGEMENTS


@dataclass(frozen=True, eq=False, init=False)
class Trajectories:
    """Hidden-state trajectories of a recurrent network, plus what they mean.

    Parameters
    ----------
    states : array of shape (n_sequences, n_steps, n_units)
        numpy (or torch / dask) array of finite real numbers.
    lengths : array of shape (n_sequences,), optional
        Right-padded sequences: real input steps per sequence; default: every
        step is real.
    units : DataFrame, optional
        One row per unit with columns ``layer``, ``state``, ``direction``,
        ``index``; default: one forward ``h`` layer named ``"layer"``.
    inputs : sequence, optional
        The raw inputs (e.g. strings), one per sequence.
    masked : bool or dict of layer -> bool, default False
        Whether the recurrence skipped padding steps (masking / packing).
    order : {"input", "processing"}, default "input"
        How ``states`` is arranged in time (see the module docstring).
    steps : Steps, optional
        The full step model (padding anywhere, explicit processing orders),
        instead of ``lengths`` and ``masked``.

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
    steps: Steps
    units: pd.DataFrame
    inputs: Sequence[Any] | None
    order: str

    def __init__(
        self,
        states: Any,
        lengths: Any = None,
        units: Any = None,
        inputs: Sequence[Any] | None = None,
        *,
        masked: Any = False,
        order: str = "input",
        steps: Steps | None = None,
        _check_finite: bool = True,
        _units_checked: bool = False,
    ) -> None:
        # _check_finite=False is for states derived from already-validated ones;
        # _units_checked=True for a unit table taken (rows kept in full) from a validated one
        states = check_states(states, "states", finite=_check_finite)
        n, T, U = (int(s) for s in states.shape)
        if steps is None:
            steps = (
                Steps.from_lengths(lengths, T, masked=masked, n_sequences=n) if lengths is not None else None
            )
            steps = steps or Steps.full(n, T, masked=masked)
        elif not isinstance(steps, Steps):
            raise RnndynError(f"steps must be a rnndyn.Steps; got {describe(steps)}.")
        elif lengths is not None or masked is not False:
            raise RnndynError(
                "steps= already says which steps are real and how each layer was masked; drop "
                "lengths= and masked=, or build Steps.from_lengths(lengths, n_steps, masked=...)."
            )
        if steps.shape != (n, T):
            raise RnndynError(
                f"steps describe {steps.shape[0]} sequences x {steps.shape[1]} steps; states have "
                f"{n} x {T}. Build the Steps for these states."
            )
        if _units_checked and isinstance(units, pd.DataFrame) and len(units) == U:
            units = units.reset_index(drop=True)
        else:
            units = check_units(units, U)
        inputs = check_inputs(inputs, n)
        check_choice(order, "order", ORDERS)
        if isinstance(states, np.ndarray) and states.flags.writeable:
            states = states.view()
            states.setflags(write=False)
        object.__setattr__(self, "states", states)
        object.__setattr__(self, "steps", steps)
        object.__setattr__(self, "units", units)
        object.__setattr__(self, "inputs", inputs)
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

    @property
    def lengths(self) -> np.ndarray:
        """Real input steps per sequence, ``(n_sequences,)`` (read-only)."""
        return self.steps.lengths

    @property
    def masked(self) -> bool | dict[str, bool]:
        """Whether the recurrence skipped padding: one bool, or one per layer."""
        return self.steps.masked

    def __len__(self) -> int:
        return self.n_sequences

    def __repr__(self) -> str:
        layers = ", ".join(
            f"{k[0]}/{k[1]}/{k[2]}: {v}"
            for k, v in self.units.groupby(["layer", "state", "direction"], sort=False).size().items()
        )
        lo = int(self.lengths.min()) if self.n_sequences else 0
        hi = int(self.lengths.max()) if self.n_sequences else 0
        where = "" if self.steps.right_padded else " (padding not only at the end)"
        return (
            f"<Trajectories {self.n_sequences} sequences x {self.n_steps} steps x "
            f"{self.n_units} units ({layers}); lengths {lo}..{hi}{where}; order={self.order}, "
            f"masked={self.masked}>"
        )

    def _replace(self, **changes: Any) -> Trajectories:
        kw = dict(
            states=self.states, steps=self.steps, units=self.units, inputs=self.inputs, order=self.order
        )
        trusted = changes.pop("_units_checked", "units" not in changes)
        if "lengths" in changes or "masked" in changes:  # right-padded steps built anew
            masked = changes.pop("masked", self.masked)
            lengths = changes.pop("lengths", None)
            if lengths is None:
                changes["steps"] = Steps(self.steps.valid, masked=masked, orders=self.steps.orders)
            else:
                n, T = (int(s) for s in changes.get("states", self.states).shape[:2])
                changes["steps"] = Steps.from_lengths(lengths, T, masked=masked, n_sequences=n)
        kw.update(changes)
        return Trajectories(**kw, _check_finite=False, _units_checked=trusted)

    @property
    def mask(self) -> np.ndarray:
        """Bool array ``(n_sequences, n_steps)``: True on real input steps (by input position)."""
        return self.steps.valid

    def step_groups(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Units sharing one processing order: ``[(order, unit positions), ...]``.

        ``order`` is int ``(n_sequences, n_steps)``: the input position of each
        processing step (see :class:`~rnndyn.steps.Steps`).
        """
        keys = [
            self.steps.rule(str(layer), str(direction))
            for layer, direction in zip(self.units["layer"], self.units["direction"], strict=True)
        ]
        out: dict[Any, list[int]] = {}
        for j, key in enumerate(keys):
            out.setdefault(key, []).append(j)
        return [
            (
                self.steps.order(
                    str(self.units["layer"].iat[cols[0]]), str(self.units["direction"].iat[cols[0]])
                ),
                np.asarray(cols, dtype=np.int64),
            )
            for cols in out.values()
        ]

    def delta_mask(self, region: str = "input") -> np.ndarray:
        """Bool array ``(n_sequences, n_steps - 1, n_units)``: deltas inside ``region``.

        Follows each unit's processing order and this object's ``order``
        (see :mod:`rnndyn.steps` for the rule).
        """
        check_region(region)
        out = np.empty((self.n_sequences, max(self.n_steps - 1, 0), self.n_units), dtype=bool)
        for order, cols in self.step_groups():
            out[:, :, cols] = _delta_region(order, self.steps.valid, region, self.order)[:, :, None]
        return out

    def step_mask(self, region: str = "input") -> np.ndarray:
        """Bool array ``(n_sequences, n_steps, n_units)``: states that read a real input (or padding)."""
        check_region(region)
        out = np.empty(self.shape, dtype=bool)
        for order, cols in self.step_groups():
            out[:, :, cols] = step_region(order, self.steps.valid, region, self.order)[:, :, None]
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
        pos = select_positions(self.units, units, criteria)
        states = index_axis(self.states, pos, axis=2)
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
        idx = positions(sequences, self.n_sequences, "sequences", "sequences")
        inputs = None if self.inputs is None else [self.inputs[int(i)] for i in idx]
        states = index_axis(self.states, idx, axis=0)
        return self._replace(states=states, steps=self.steps.take(idx), inputs=inputs)

    def split_directions(self) -> dict[str, Trajectories]:
        """``{"forward": ..., "backward": ...}`` (only directions present)."""
        return {k: self.select(v) for k, v in self.direction_groups().items()}

    # ------------------------------------------------------------- time order
    def _reorder(self, to: str) -> Trajectories:
        return reorder(self, to)

    def processing_order(self) -> Trajectories:
        """Every unit re-ordered into the order its recurrence computed.

        Step ``k`` of a unit becomes the state at input position
        ``order[i, k]`` of its (layer, direction) (see :class:`~rnndyn.steps.Steps`):
        an unmasked backward recurrence reads the whole padded sequence from
        the end (padding first); a masked one reads only the real steps from
        the end, and the padding steps come last. Forward units of right-padded
        sequences are unchanged.
        """
        return self._reorder("processing")

    def input_order(self) -> Trajectories:
        """Every unit indexed by input position (undoes :meth:`processing_order`)."""
        return self._reorder("input")

    def align_end(self, before: int | None = None, after: int | None = None) -> Aligned:
        """Align every sequence at its last real input position.

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
        return align_end(self, before, after)

    # ------------------------------------------------------------ conversion
    def to_numpy(self) -> Trajectories:
        """The same trajectories with ``states`` as a numpy array."""
        return self._replace(states=to_numpy(self.states))

    def to_xarray(self) -> xarray.DataArray:
        """A labelled ``xarray.DataArray`` with dims (sequence, step, unit).

        Unit-table columns become coordinates along ``unit``; ``length`` and
        (if present) ``input`` are coordinates along ``sequence``.
        """
        return to_xarray(self)

    def to_frame(self) -> pd.DataFrame:
        """Long table, one row per (sequence, step, unit).

        Columns: ``sequence``, ``step``, ``unit`` (column position), the unit
        table's columns, ``is_input`` (step < length) and ``value``.
        """
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
        return concat(parts, cls, along=along)
