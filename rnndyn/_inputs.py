"""What one model input holds: its arguments, its arrays, how many sequences, what values.

A model input (the inputs of :func:`rnndyn.capture`, or one batch of them) is
an array, an :class:`rnndyn.Args`, a dict, a dataclass or a named tuple, with
arrays and other values (``None``, flags) nested in tuples, lists, dicts and
dataclasses. These helpers walk it: :func:`entries` lists its top-level
arguments as ``batch_axis=`` keys them, :func:`leaves` everything inside;
:func:`check_input_values` refuses values no model can run on.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from ._backends import is_dask
from ._validation import first_nonfinite
from .adapter import Args
from .errors import RnndynError

__all__ = [
    "PAD_HINT",
    "shape_of",
    "is_array",
    "is_dataclass",
    "is_namedtuple",
    "entries",
    "arg_name",
    "leaves",
    "array_leaves",
    "n_sequences",
    "describe_input",
    "check_input_values",
]


PAD_HINT = (
    "Pass collate= a function that turns a list of examples into one batch (a tokenizer, "
    "a padding function), or pad every example to one length yourself and pass the real "
    "lengths with lengths=."
)


def shape_of(x: Any) -> tuple[Any, ...] | None:
    shape = getattr(x, "shape", None)
    if shape is None:
        return None
    try:
        return tuple(shape)
    except TypeError:  # e.g. a method named shape
        return None


def is_array(x: Any) -> bool:
    shape = shape_of(x)
    return shape is not None and len(shape) > 0 and hasattr(x, "__getitem__")


def is_dataclass(x: Any) -> bool:
    return dataclasses.is_dataclass(x) and not isinstance(x, type)


def is_namedtuple(x: Any) -> bool:
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


def entries(data: Any, *, tuples: bool) -> list[tuple[int | str, Any]] | None:
    """The top-level arguments of one model input, keyed as ``batch_axis=`` keys them.

    ``Args``: positions and keyword names; a dict, dataclass or named tuple (the
    model's single argument): its keys or fields; an array: ``0``; a plain
    tuple/list only when ``tuples`` (a ``forward=`` receives it whole).
    """
    if isinstance(data, Args):
        return data.items()
    if isinstance(data, Mapping):
        return list(data.items())
    if is_dataclass(data):
        return [(f.name, getattr(data, f.name)) for f in dataclasses.fields(data)]
    if is_namedtuple(data):
        return list(zip(type(data)._fields, data, strict=True))
    if is_array(data):
        return [(0, data)]
    if tuples and type(data) in (list, tuple):
        return list(enumerate(data))
    return None


def arg_name(key: int | str, data: Any, root: str) -> str:
    if isinstance(data, Args):
        return f"{root} argument {key}" if isinstance(key, int) else f"{root} argument {key!r}"
    if is_array(data):
        return root
    if is_dataclass(data) or is_namedtuple(data):
        return f"{root}.{key}"
    return f"{root}[{key!r}]"


def leaves(data: Any, where: str) -> Iterator[tuple[str, Any]]:
    """Everything one batch holds, with where it sits: arrays, and the other values (None, flags).

    Walks ``Args``, dicts, dataclasses, lists and tuples (named tuples too);
    an array is never looked into.
    """
    if isinstance(data, Args):
        for k, v in data.items():
            yield from leaves(v, f"{where} argument {k!r}")
    elif is_array(data):
        yield where, data
    elif isinstance(data, Mapping):
        for k, v in data.items():
            yield from leaves(v, f"{where}[{k!r}]")
    elif is_dataclass(data):
        for f in dataclasses.fields(data):
            yield from leaves(getattr(data, f.name), f"{where}.{f.name}")
    elif isinstance(data, list | tuple):
        for j, v in enumerate(data):
            yield from leaves(v, f"{where}[{j}]")
    else:
        yield where, data


def array_leaves(value: Any, where: str) -> Iterator[tuple[str, Any]]:
    """The arrays inside one argument (tuples, lists, dicts, dataclasses), with where they sit."""
    return ((w, a) for w, a in leaves(value, where) if is_array(a))


def n_sequences(data: Any) -> int | None:
    """Number of sequences in one batch of model input, or ``None`` if unknowable."""
    if isinstance(data, Mapping):
        sizes = {k: n_sequences(v) for k, v in data.items()}
        known = {v for v in sizes.values() if v is not None}
        if len(known) > 1:
            raise RnndynError(
                f"The arrays of a dict batch must hold the same number of sequences; got "
                f"{sizes}. Slice every input of a multi-input model together."
            )
        return known.pop() if known else None
    batch_sizes = getattr(data, "batch_sizes", None)  # a packed sequence
    if batch_sizes is not None and hasattr(data, "sorted_indices"):
        return int(batch_sizes[0]) if len(batch_sizes) else 0
    shape = shape_of(data)
    if shape is not None:
        if len(shape) == 0 or shape[0] is None:
            return None
        return int(shape[0])
    if isinstance(data, list | tuple):
        return len(data)
    return None


def describe_input(data: Any) -> str:
    """A short description of a batch for error messages, e.g. ``shape (3, 7, 2)``."""
    if isinstance(data, Args):
        return "Args(" + ", ".join(f"{k}: {describe_input(v)}" for k, v in data.items()) + ")"
    if is_dataclass(data):
        fields = ", ".join(
            f"{f.name}: {describe_input(getattr(data, f.name))}" for f in dataclasses.fields(data)
        )
        return f"{type(data).__name__}({fields})"
    if isinstance(data, Mapping):
        return "dict of " + ", ".join(f"{k!r}: {describe_input(v)}" for k, v in data.items())
    shape = shape_of(data)
    if shape is not None:
        dtype = getattr(data, "dtype", None)
        return f"shape {shape}" + (f", dtype {dtype}" if dtype is not None else "")
    if isinstance(data, list | tuple):
        return f"{type(data).__name__} of {len(data)}"
    return type(data).__name__


def check_input_values(
    data: Any, name: str, *, offset: int | None = 0, finite: bool = True, axis: int = 0
) -> None:
    """Refuse model inputs that hold no data or cannot be right, before the model runs.

    * tensors on PyTorch's ``meta`` device (shapes without data);
    * numpy object arrays of arrays or lists (ragged sequences);
    * dask arrays with unknown chunk sizes;
    * NaN or infinity in float inputs (a recurrent model carries them into
      every later state): the message names the first sequence and step.

    ``name`` says which input (e.g. ``"inputs"`` or ``"batch 3"``); ``offset``
    is the index of the batch's first sequence among all the inputs (``None``:
    unknown, positions are given within the batch); ``axis`` is the batch axis
    of the arrays (with another axis than 0 the message gives the index).

    Examples
    --------
    >>> check_input_values(np.array([[[0.0], [np.nan]]]), "inputs")
    Traceback (most recent call last):
    ...
    rnndyn.errors.RnndynError: inputs holds a non-finite value (nan) at sequence 0, step 1 ...
    """
    for where, a in leaves(data, name):
        if getattr(a, "is_meta", False) is True or str(getattr(a, "device", "")) == "meta":
            raise RnndynError(
                f"{where} is a tensor on the 'meta' device, which has a shape ({tuple(a.shape)}) "
                "but no data; there is nothing to run the model on. Create or load the inputs "
                "on a real device, e.g. x = torch.randn(..., device='cpu'), not device='meta'."
            )
        if isinstance(a, np.ndarray) and a.dtype == object and a.size:
            kinds = {type(v).__name__ for v in a.flat if not isinstance(v, str | bytes)}
            if kinds:
                raise RnndynError(
                    f"{where} is a numpy array of dtype object (shape {a.shape}) holding "
                    f"{', '.join(sorted(kinds))} values, not numbers: usually sequences of "
                    f"different lengths. {PAD_HINT}"
                )
        shape = shape_of(a)
        if is_dask(a) and shape is not None and any(s != s for s in shape):
            raise RnndynError(
                f"{where} is a dask array with unknown chunk sizes (shape {shape}); rnndyn "
                "needs the number of sequences to batch it. Call x.compute_chunk_sizes() "
                "first, or pass an iterable of computed batches."
            )
        if not finite:
            continue
        found = first_nonfinite(a)
        if found is None:
            continue
        pos, value = found
        if axis != 0 and len(pos) > axis:
            i = pos[axis] + (offset or 0)
            at = f"sequence {i}" if offset is not None else f"sequence {pos[axis]} of this batch"
        elif not pos:  # a 0-d array or a number
            at = "its only element"
        else:
            seq = f"sequence {pos[0] + offset}" if offset is not None else f"sequence {pos[0]} of this batch"
            at = f"{seq}, step {pos[1]}" if len(pos) >= 2 else seq
        raise RnndynError(
            f"{where} holds a non-finite value ({value}) at {at} (index {pos}); the model would "
            "carry it into every later state, so the trajectories would be NaN. Replace the "
            "value (e.g. np.nan_to_num), drop that sequence, or, if it marks padding, pad with "
            "a finite value and pass the real lengths with lengths=."
        )
