"""Where the sequences lie in a model input, and how one batch is cut from it.

:class:`Layout` holds the batch axis of every argument (``batch_axis=``, or
what the adapter proves) and cuts a batch of sequences from the inputs: every
batched array sliced along its axis, everything else passed whole. rnndyn
never transposes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ._inputs import arg_name, array_leaves, entries, is_array, is_dataclass, is_namedtuple, shape_of
from .adapter import Args
from .errors import RnndynError

__all__ = ["Layout"]


@dataclass
class Layout:
    """Where the sequences lie in the model's inputs: the batch axis of every argument.

    ``axes`` maps an argument's key (position, keyword or dict key, field
    name) to its batch axis, ``None`` for an argument passed whole;
    ``default`` is the axis of arguments not in ``axes``; ``prover`` (the
    adapter's ``batch_axis``) may prove an argument's axis; ``given`` says
    which keys the user named (``"*"``: all, by an int ``batch_axis``).
    """

    axes: dict[int | str, int | None]
    default: int
    given: set[int | str] | str
    prover: Callable[[int | str, Any], int | None] | None
    tuples: bool = False  # a forward= takes plain tuples as structures

    def axis(self, key: int | str, value: Any) -> int | None:
        """The batch axis of one argument (checking the adapter's proof against the user's word)."""
        named = self.given == "*" or key in self.given
        proven = self.prover(key, value) if self.prover is not None else None
        if not named:
            return proven if proven is not None else self.default
        user = self.axes.get(key, self.default)
        if user is not None and proven is not None and user != proven:
            raise RnndynError(
                f"batch_axis says the sequences of argument {key!r} lie along axis {user}, but the "
                f"model provably reads them along axis {proven} (a time-major recurrent module takes "
                "(steps, sequences, features)). Pass the inputs exactly as the model takes them and "
                f"leave batch_axis out for this argument (or set it to {proven})."
            )
        return user

    def sizes(self, data: Any, root: str) -> dict[str, int]:
        """Sequences of every batched array of one input, by where it sits."""
        top = entries(data, tuples=self.tuples)
        if top is None:
            return {}
        out: dict[str, int] = {}
        for key, value in top:
            axis = self.axis(key, value)
            if axis is None:
                continue
            for where, a in array_leaves(value, arg_name(key, data, root)):
                shape = shape_of(a) or ()
                if len(shape) <= axis:
                    raise RnndynError(
                        f"{where} has shape {shape}, which has no batch axis {axis}. Give its batch "
                        f"axis with batch_axis={{{key!r}: axis}}, or batch_axis={{{key!r}: None}} to "
                        "pass it whole to every batch."
                    )
                out[where] = _axis_size(shape, axis, where)
        return out

    def count(self, data: Any, root: str) -> int | None:
        """Sequences in one input; refuses arrays that disagree."""
        sizes = self.sizes(data, root)
        if not sizes:
            return None
        if len(set(sizes.values())) > 1:
            listing = ", ".join(f"{w}: {n}" for w, n in sizes.items())
            raise RnndynError(
                f"The arrays of the {root} do not agree on the number of sequences along their batch "
                f"axes ({listing}). Every batched argument must hold the same sequences. Give the "
                "batch axis of each argument with batch_axis= (e.g. batch_axis=1 for time-major "
                "(steps, sequences, ...) inputs and (layers, sequences, units) states, or "
                "batch_axis={'hidden': 1}), and batch_axis={name: None} for an argument that is not "
                "batched (passed whole to every batch)."
            )
        return next(iter(sizes.values()))

    def cut(self, data: Any, s: slice) -> Any:
        """One batch: every batched array sliced along its axis."""
        if isinstance(data, Args):
            args = [_cut(v, self.axis(k, v), s) for k, v in enumerate(data.args)]
            kwargs = {k: _cut(v, self.axis(k, v), s) for k, v in data.kwargs.items()}
            return Args(*args, **kwargs)
        pieces = {k: _cut(v, self.axis(k, v), s) for k, v in entries(data, tuples=self.tuples) or []}
        return pieces[0] if is_array(data) else _rebuild(data, pieces)

    def n_steps(self, data: Any) -> int | None:
        """The step count of the first batched array of ``data`` with a step axis, if any."""
        for key, value in entries(data, tuples=self.tuples) or []:
            axis = self.axis(key, value)
            if axis not in (0, 1):
                continue
            for _, a in array_leaves(value, ""):
                shape = shape_of(a) or ()
                if len(shape) >= 2:
                    n = shape[1 - axis]
                    return int(n) if n is not None and n == n else None
            return None
        return None

    def time_major_hint(self, data: Any, n_read: int) -> str | None:
        """When the model ran ``n_read`` sequences and that is axis 1 of the first input array
        (and not the batch axis 0 rnndyn cut along): what it means and how to say so."""
        for key, value in entries(data, tuples=self.tuples) or []:
            axis = self.axis(key, value)
            for where, a in array_leaves(value, arg_name(key, data, "inputs")):
                shape = shape_of(a) or ()
                if axis == 0 and len(shape) >= 2 and shape[1] == n_read and shape[0] != n_read:
                    return (
                        f"The model read {n_read} sequences, the size of axis 1 of {where} (shape "
                        f"{shape}), not of axis 0 where rnndyn cut the batches: the model takes its "
                        "sequences along axis 1 (time-major, (steps, sequences, ...), PyTorch's "
                        "default layout). Say so with batch_axis=1 (and batch_axis={name: axis} for "
                        "arguments laid out otherwise); rnndyn never transposes inputs."
                    )
            return None
        return None


def _axis_size(shape: tuple[Any, ...], axis: int, name: str) -> int:
    n = shape[axis]
    if n is None or n != n:  # a symbolic or dask dimension
        raise RnndynError(
            f"{name} has an unknown number of sequences (shape {shape}); rnndyn needs it to "
            "batch the inputs. Compute it first (dask: x.compute_chunk_sizes()), or pass an "
            "iterable of batches."
        )
    return int(n)


def _cut(value: Any, axis: int | None, s: slice) -> Any:
    """``value`` with every array in it sliced along ``axis`` (``None``: whole)."""
    if axis is None:
        return value
    if is_array(value):
        return value[(slice(None),) * axis + (s,)]
    if isinstance(value, Mapping):
        parts: Any = value.items()
    elif is_dataclass(value):
        parts = [(f.name, getattr(value, f.name)) for f in dataclasses.fields(value) if f.init]
    elif is_namedtuple(value) or type(value) in (list, tuple):
        parts = enumerate(value)
    else:
        return value
    return _rebuild(value, {k: _cut(v, axis, s) for k, v in parts})


def _rebuild(data: Any, pieces: dict[Any, Any]) -> Any:
    """``data`` (a mapping, dataclass, named tuple, list or tuple) with its entries replaced by ``pieces``."""
    if isinstance(data, Mapping):
        if type(data) is dict:
            return pieces
        try:
            return type(data)(pieces)
        except Exception:
            return pieces
    if is_dataclass(data):
        return dataclasses.replace(
            data, **{f.name: pieces[f.name] for f in dataclasses.fields(data) if f.init}
        )
    if is_namedtuple(data):
        return type(data)(*pieces.values())
    return type(data)(pieces.values())
