"""How :func:`rnndyn.capture` cuts its inputs (and ``lengths=``) into batches.

:func:`plan_batches` turns the user's inputs into batches. The rule:
every batch is exactly what the user would pass to ``model(...)``, cut along
the sequences. Tried in this order (after the adapter's own ``split``):

* :class:`rnndyn.Args` (several positional/keyword arguments), a dict, a
  dataclass or a named tuple (one structured argument), or an array: every
  array in it is sliced along its batch axis (``batch_axis=``; axis 0 unless
  the user or the adapter says otherwise), everything else is passed whole;
* a ``list`` of examples: grouped, then ``collate(list)``;
* any other iterable (a DataLoader, a generator): each item is one batch; a
  plain ``list``/``tuple`` item (``[x, y]`` from a DataLoader) gives its first
  element as the model input, unless ``forward=`` is given (then the item is
  handed to it whole).

A plain ``tuple`` as the inputs is refused unless ``forward=`` is given: it
could be examples or several arguments, and rnndyn never guesses which. An
adapter that can prove a plain list or tuple is its model's one argument (a
multi-input Keras model's ``[a, b]``) says so through ``one_argument(inputs)``;
it is then sliced as ``rnndyn.Args(inputs)`` (and so is the model input of an
iterable's item).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._inputs import (
    PAD_HINT,
    arg_name,
    check_input_values,
    describe_input,
    entries,
    is_array,
    n_sequences,
    shape_of,
)
from ._layout import Layout
from ._validation import check_batch_axis, to_numpy
from .adapter import Args, ProvesBatchAxis, Split, SplitsInputs, TakesArgumentList
from .errors import RnndynError

__all__ = ["Plan", "plan_batches", "default_collate", "LengthsSplitter"]


@dataclass
class Plan:
    """Batches to feed: ``batches`` yields the model input of each batch."""

    batches: Iterator[Any]
    total: int | None  # number of sequences, when known in advance
    raw_inputs: Sequence[Any] | None = None  # the examples, to attach to the result
    layout: Layout | None = None  # how to count the sequences of a batch (None: n_sequences)
    n_steps: int | None = None  # the inputs' step count, when known (to pad packed batches to)
    checked: bool = False  # the values of every batch were checked up front (NaN, meta, ragged)
    split_steps: int | None = None  # the step count the adapter's split gave (Batch.n_steps)

    def count(self, data: Any) -> int | None:
        """Sequences in one batch."""
        if self.layout is None:
            return n_sequences(data)
        return self.layout.count(data, "batch")


def default_collate(examples: list[Any]) -> Any:
    """Stack equally shaped examples into one batch (numpy, or the examples' array type).

    Dict examples (multi-input models) are collated key by key.

    Examples
    --------
    >>> default_collate([np.zeros((4, 2)), np.ones((4, 2))]).shape
    (2, 4, 2)
    """
    if not isinstance(examples, list | tuple) or not examples:
        raise RnndynError(f"default_collate() needs a non-empty list of examples; got {examples!r:.80}.")
    if all(isinstance(e, Mapping) for e in examples):
        keys = list(examples[0])
        for j, e in enumerate(examples):
            if list(e) != keys:
                raise RnndynError(
                    f"Dict examples must all have the same keys; example 0 has {keys}, "
                    f"example {j} has {list(e)}."
                )
        return {k: default_collate([e[k] for e in examples]) for k in keys}
    native = all(shape_of(e) is not None for e in examples) and not all(
        isinstance(e, np.ndarray | np.generic) for e in examples
    )
    arrays = list(examples) if native else [np.asarray(e) for e in examples]
    shapes = [shape_of(a) for a in arrays]
    for j, s in enumerate(shapes):
        if s != shapes[0]:
            raise RnndynError(
                f"Cannot stack the examples into one batch: example 0 has shape {shapes[0]} "
                f"and example {j} has shape {s}. {PAD_HINT}"
            )
    if native:
        import array_api_compat

        try:
            xp = array_api_compat.array_namespace(*arrays)
        except TypeError:
            arrays = [to_numpy(a) for a in arrays]
        else:
            return xp.stack(arrays)
    return np.stack(arrays)


_FORMS = (
    "an array of shape (n_sequences, n_steps, ...), rnndyn.Args(...) for several positional or "
    "keyword arguments, a dict or a dataclass of arrays (the model's single argument), a list of "
    "examples, or an iterable of batches"
)


def plan_batches(
    inputs: Any,
    batch_size: int,
    *,
    adapter: Any,
    collate: Callable[[list[Any]], Any] | None,
    batch_axis: Any = None,
    forward: Callable[[Any, Any], Any] | None = None,
    batch_size_given: bool = False,
) -> Plan:
    """Decide how ``inputs`` splits into batches (validating what can be validated now)."""
    if collate is not None and not callable(collate):
        raise RnndynError(
            f"collate must be a function that turns a list of examples into one batch, or None; "
            f"got {type(collate).__name__} {collate!r:.60}."
        )
    if forward is not None and not callable(forward):
        raise RnndynError(
            f"forward must be a function (model, batch) -> output that runs the model on one batch, "
            f"or None; got {type(forward).__name__} {forward!r:.60}. E.g. forward=lambda model, "
            "batch: model(batch['tokens'], batch['hidden'])."
        )
    axes, default, given = check_batch_axis(batch_axis)
    prover = (
        adapter.batch_axis if isinstance(adapter, ProvesBatchAxis) and callable(adapter.batch_axis) else None
    )
    layout = Layout(axes, default, given, prover, tuples=forward is not None)
    check_input_values(inputs, "inputs", finite=False)  # meta tensors, before any adapter sees them
    if isinstance(adapter, SplitsInputs) and callable(adapter.split):
        split = adapter.split(inputs, batch_size)
        if split is not None:
            split = split if isinstance(split, Split) else Split(split)
            return Plan(iter(split.batches), None, n_steps=split.n_steps, split_steps=split.n_steps)
    if inputs is None:
        raise RnndynError(f"inputs is None; pass the sequences to capture: {_FORMS}.")
    if isinstance(inputs, str | bytes):
        raise RnndynError(
            f"inputs is a single {type(inputs).__name__}; pass a list of examples, e.g. "
            "[text] for one sequence, with collate= to turn a list of them into a batch."
        )
    if isinstance(inputs, set | frozenset):
        raise RnndynError(
            f"inputs is a {type(inputs).__name__}, which has no order, so the trajectories "
            "could not be matched to the sequences; pass a list (e.g. sorted(inputs))."
        )
    one_argument = _one_argument_of(adapter) if forward is None and collate is None else None
    if one_argument is not None and one_argument(inputs):
        inputs = Args(inputs)  # the model's one argument, e.g. a Keras model([a, b])
    if type(inputs) is tuple and forward is None:
        raise _refuse_tuple("inputs")
    if isinstance(inputs, Mapping) and not inputs:
        raise RnndynError("inputs is an empty dict; it must map input names to arrays.")
    shape = shape_of(inputs)
    if shape is not None and len(shape) == 0 and hasattr(inputs, "__getitem__"):
        raise RnndynError(
            "inputs is a 0-d array; it must hold the sequences along axis 0, e.g. shape "
            "(n_sequences, n_steps, n_features)."
        )
    if type(inputs) is not list and entries(inputs, tuples=forward is not None) is not None:
        _check_axis_keys(inputs, axes, given, layout)
        n = layout.count(inputs, "inputs")
        if n is None:
            raise RnndynError(
                f"inputs ({describe_input(inputs)}) holds no batched array, so rnndyn cannot tell its "
                "sequences. At least one argument must be an array with the sequences along its "
                "batch axis (batch_axis=None passes an argument whole)."
            )
        _check_not_empty(n)
        _check_leaves(inputs, layout)
        return Plan(
            _structured_batches(inputs, layout, n, batch_size),
            n,
            layout=layout,
            n_steps=layout.n_steps(inputs),
            checked=True,
        )
    if isinstance(inputs, list):
        _check_not_empty(len(inputs))
        collate = default_collate if collate is None else collate
        return Plan(
            _checked_collate(_example_batches(inputs, batch_size, collate), forward),
            len(inputs),
            raw_inputs=inputs,
            layout=layout,
        )
    if hasattr(inputs, "__iter__"):
        if batch_size_given:
            raise RnndynError(
                f"batch_size={batch_size} was given, but inputs is an iterable ({type(inputs).__name__}) "
                "whose items are the batches, so it cannot apply: batch with the iterable (e.g. "
                "DataLoader(..., batch_size=...)) and leave batch_size out, or pass one array to "
                "have rnndyn batch it."
            )
        return Plan(_iterable_batches(inputs, forward is not None, one_argument), None, layout=layout)
    raise RnndynError(f"inputs must be {_FORMS}; got {type(inputs).__name__}.")


def _slices(n: int, batch_size: int) -> Iterator[slice]:
    for start in range(0, n, batch_size):
        yield slice(start, min(start + batch_size, n))


def _structured_batches(x: Any, layout: Layout, n: int, batch_size: int) -> Iterator[Any]:
    for s in _slices(n, batch_size):
        yield layout.cut(x, s)


def _example_batches(x: Sequence[Any], batch_size: int, collate: Callable[[list[Any]], Any]) -> Iterator[Any]:
    custom = collate is not default_collate
    for s in _slices(len(x), batch_size):
        group = list(x[s])
        if not custom:
            yield collate(group)
            continue
        try:
            data = collate(group)
        except RnndynError:
            raise
        except Exception as exc:
            raise RnndynError(
                f"collate= failed on examples {s.start}..{s.stop - 1}: {type(exc).__name__}: {exc}"
            ) from exc
        yield data


def _one_argument_of(adapter: Any) -> Callable[[Any], bool] | None:
    """The adapter's ``one_argument(inputs)``: True when a plain list or tuple is the model's
    one argument (a multi-input Keras model's ``[a, b]``), not examples; else ``None``."""
    if not isinstance(adapter, TakesArgumentList) or not callable(adapter.one_argument):
        return None
    found = adapter.one_argument
    return lambda inputs: type(inputs) in (list, tuple) and bool(found(inputs))


def _iterable_batches(
    x: Any, whole: bool, one_argument: Callable[[Any], bool] | None = None
) -> Iterator[Any]:
    for i, item in enumerate(x):
        if type(item) in (list, tuple) and not whole:  # [inputs, targets] as a DataLoader yields them
            if not item:
                raise RnndynError(
                    f"inputs: batch {i} is an empty {type(item).__name__}; each batch must be "
                    "the model input, or a list/tuple whose first element is the model input."
                )
            item = item[0]
        if one_argument is not None and one_argument(item):
            item = Args(item)  # ([a, b], y) from a multi-input Keras model's data set
        yield item


def _refuse_tuple(what: str) -> RnndynError:
    return RnndynError(
        f"{what} is a plain tuple, which rnndyn will not guess at: it could be examples, several "
        "arguments of the model, or one tuple argument. Pass rnndyn.Args(*t) for positional "
        "arguments (model(*t)), rnndyn.Args(t) for one tuple argument (model(t)), a list for "
        "examples, or forward=lambda model, batch: ... to call the model yourself."
    )


def _checked_collate(batches: Iterator[Any], forward: Any) -> Iterator[Any]:
    for data in batches:
        if type(data) is tuple and forward is None:
            raise _refuse_tuple("The batch collate= returned")
        yield data


def _check_axis_keys(inputs: Any, axes: dict[int | str, int | None], given: Any, layout: Layout) -> None:
    if not axes:
        return
    keys = [k for k, _ in entries(inputs, tuples=layout.tuples) or []]
    if is_array(inputs) and not isinstance(inputs, Args):
        raise RnndynError(
            "batch_axis is a dict, but inputs is one array; give its batch axis as an int "
            "(e.g. batch_axis=1), or pass rnndyn.Args(...), a dict or a dataclass of arguments."
        )
    unknown = [k for k in axes if k not in keys]
    if unknown:
        raise RnndynError(
            f"batch_axis names {unknown[0]!r}, which is not an argument of the inputs; they are "
            f"{keys} (positions of rnndyn.Args are ints, keyword arguments, dict keys and "
            "dataclass fields are names)."
        )


def _check_leaves(inputs: Any, layout: Layout) -> None:
    """NaN, meta and ragged checks on every batched array, naming its sequence."""
    for key, value in entries(inputs, tuples=layout.tuples) or []:
        axis = layout.axis(key, value)
        where = arg_name(key, inputs, "inputs")
        check_input_values(value, where, finite=True, axis=0 if axis is None else axis)


def _check_not_empty(n: int) -> None:
    if n == 0:
        raise RnndynError(
            "inputs holds no sequences (0 along axis 0); there is nothing to capture. Pass at "
            "least one sequence, e.g. x[None] for a single one."
        )


class LengthsSplitter:
    """Hands out ``lengths`` batch by batch and checks the count fits the inputs."""

    def __init__(self, lengths: np.ndarray | None) -> None:
        self.lengths = lengths
        self.offset = 0

    def take(self, n: int | None, index: int, data: Any) -> np.ndarray | None:
        if self.lengths is None:
            if n is not None:
                self.offset += n
            return None
        if n is None:
            raise RnndynError(
                f"lengths= was given but rnndyn cannot tell how many sequences batch {index} "
                f"holds ({describe_input(data)}); batches must be arrays with the sequences along "
                "axis 0 or dicts of them. Leave lengths= out if the adapter handles lengths."
            )
        stop = self.offset + n
        if stop > self.lengths.shape[0]:
            raise RnndynError(
                f"lengths has {self.lengths.shape[0]} entries, but batches 0..{index} already "
                f"hold {stop} sequences; give one length per sequence of all the inputs."
            )
        out = self.lengths[self.offset : stop]
        self.offset = stop
        return out

    def finish(self) -> None:
        if self.lengths is not None and self.offset != self.lengths.shape[0]:
            raise RnndynError(
                f"lengths has {self.lengths.shape[0]} entries but the inputs held "
                f"{self.offset} sequences; give one length per sequence of all the inputs."
            )
