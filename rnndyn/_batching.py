"""What :func:`rnndyn.capture` does before any batch runs: targets and batches.

:func:`resolve_targets` checks ``layer=``/``state=`` against the adapter's
layers. :func:`plan_batches` turns the user's inputs into batches; four
kinds of inputs, tried in this order (after the adapter's own ``split``):

* a mapping of arrays (multi-input models): sliced together along axis 0;
* an array or tensor (anything with ``.shape``): sliced along axis 0;
* a ``list`` or ``tuple`` of examples: grouped, then ``collate(list)``;
* any other iterable (a DataLoader, a generator): each item is one batch; a
  plain ``list``/``tuple`` item (``(x, y)`` from a DataLoader) gives its first
  element as the model input.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._validation import to_numpy
from .adapter import LayerInfo
from .errors import PluginError, RnndynError
from .plugins import DOCS

__all__ = [
    "resolve_targets",
    "Plan",
    "plan_batches",
    "default_collate",
    "n_sequences",
    "describe",
    "LengthsSplitter",
]

PAD_HINT = (
    "Pass collate= a function that turns a list of examples into one batch (a tokenizer, "
    "a padding function), or pad every example to one length yourself and pass the real "
    "lengths with lengths=."
)


@dataclass
class Plan:
    """Batches to feed: ``batches`` yields the model input of each batch."""

    batches: Iterator[Any]
    total: int | None  # number of sequences, when known in advance
    raw_inputs: Sequence[Any] | None  # the examples, to attach to the result
    kind: str  # "adapter", "mapping", "array", "examples", "iterable"


def _shape(x: Any) -> tuple[Any, ...] | None:
    shape = getattr(x, "shape", None)
    if shape is None:
        return None
    try:
        return tuple(shape)
    except TypeError:  # e.g. a method named shape
        return None


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
    shape = _shape(data)
    if shape is not None:
        if len(shape) == 0 or shape[0] is None:
            return None
        return int(shape[0])
    if isinstance(data, list | tuple):
        return len(data)
    return None


def describe(data: Any) -> str:
    """A short description of a batch for error messages, e.g. ``shape (3, 7, 2)``."""
    if isinstance(data, Mapping):
        return "dict of " + ", ".join(f"{k!r}: {describe(v)}" for k, v in data.items())
    shape = _shape(data)
    if shape is not None:
        dtype = getattr(data, "dtype", None)
        return f"shape {shape}" + (f", dtype {dtype}" if dtype is not None else "")
    if isinstance(data, list | tuple):
        return f"{type(data).__name__} of {len(data)}"
    return type(data).__name__


def default_collate(examples: list[Any]) -> Any:
    """Stack equally shaped examples into one batch (numpy, or the examples' array type).

    Dict examples (multi-input models) are collated key by key.

    Examples
    --------
    >>> default_collate([np.zeros((4, 2)), np.ones((4, 2))]).shape
    (2, 4, 2)
    """
    if examples and all(isinstance(e, Mapping) for e in examples):
        keys = list(examples[0])
        for j, e in enumerate(examples):
            if list(e) != keys:
                raise RnndynError(
                    f"Dict examples must all have the same keys; example 0 has {keys}, "
                    f"example {j} has {list(e)}."
                )
        return {k: default_collate([e[k] for e in examples]) for k in keys}
    native = all(_shape(e) is not None for e in examples) and not all(
        isinstance(e, np.ndarray | np.generic) for e in examples
    )
    arrays = list(examples) if native else [np.asarray(e) for e in examples]
    shapes = [_shape(a) for a in arrays]
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


def _slices(n: int, batch_size: int) -> Iterator[slice]:
    for start in range(0, n, batch_size):
        yield slice(start, min(start + batch_size, n))


def _array_batches(x: Any, n: int, batch_size: int) -> Iterator[Any]:
    for s in _slices(n, batch_size):
        yield x[s]


def _mapping_batches(x: Mapping[Any, Any], n: int, batch_size: int) -> Iterator[Any]:
    for s in _slices(n, batch_size):
        yield {k: v[s] for k, v in x.items()}


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


def _iterable_batches(x: Any) -> Iterator[Any]:
    for i, item in enumerate(x):
        if type(item) in (list, tuple):  # (inputs, targets) as a DataLoader yields them
            if not item:
                raise RnndynError(
                    f"inputs: batch {i} is an empty {type(item).__name__}; each batch must be "
                    "the model input, or a list/tuple whose first element is the model input."
                )
            item = item[0]
        yield item


def plan_batches(
    inputs: Any,
    batch_size: int,
    *,
    adapter: Any,
    collate: Callable[[list[Any]], Any] | None,
) -> Plan:
    """Decide how ``inputs`` splits into batches (validating what can be validated now)."""
    split = getattr(adapter, "split", None)
    if callable(split):
        it = split(inputs, batch_size)
        if it is not None:
            return Plan(iter(it), None, None, "adapter")
    if inputs is None:
        raise RnndynError(
            "inputs is None; pass the sequences to capture: an array of shape (n_sequences, "
            "n_steps, ...), a dict of such arrays, a list of examples, or an iterable of batches."
        )
    if isinstance(inputs, str | bytes):
        raise RnndynError(
            f"inputs is a single {type(inputs).__name__}; pass a list of examples, e.g. "
            "[text] for one sequence, with collate= to turn a list of them into a batch."
        )
    if collate is not None and not callable(collate):
        raise RnndynError(f"collate must be a function or None; got {type(collate).__name__}.")
    if isinstance(inputs, Mapping):
        if not inputs:
            raise RnndynError("inputs is an empty dict; it must map input names to arrays.")
        sizes = {}
        for k, v in inputs.items():
            shape = _shape(v)
            if shape is None or len(shape) == 0:
                raise RnndynError(
                    f"inputs[{k!r}] must be an array with the sequences along axis 0; got "
                    f"{type(v).__name__}{'' if shape is None else ' of shape ()'}."
                )
            sizes[k] = int(shape[0])
        if len(set(sizes.values())) > 1:
            raise RnndynError(
                f"Every array in the inputs dict must hold the same number of sequences "
                f"(axis 0); got {sizes}."
            )
        n = next(iter(sizes.values()))
        _check_not_empty(n)
        return Plan(_mapping_batches(inputs, n, batch_size), n, None, "mapping")
    shape = _shape(inputs)
    if shape is not None and hasattr(inputs, "__getitem__"):
        if len(shape) == 0:
            raise RnndynError(
                "inputs is a 0-d array; it must hold the sequences along axis 0, e.g. shape "
                "(n_sequences, n_steps, n_features)."
            )
        n = int(shape[0])
        _check_not_empty(n)
        return Plan(_array_batches(inputs, n, batch_size), n, None, "array")
    if isinstance(inputs, list | tuple):
        _check_not_empty(len(inputs))
        collate = default_collate if collate is None else collate
        return Plan(_example_batches(inputs, batch_size, collate), len(inputs), inputs, "examples")
    if hasattr(inputs, "__iter__"):
        return Plan(_iterable_batches(inputs), None, None, "iterable")
    raise RnndynError(
        f"inputs must be an array of shape (n_sequences, n_steps, ...), a dict of such arrays, "
        f"a list of examples or an iterable of batches; got {type(inputs).__name__}."
    )


def _check_not_empty(n: int) -> None:
    if n == 0:
        raise RnndynError("inputs holds no sequences (0 along axis 0); there is nothing to capture.")


def check_lengths_arg(lengths: Any, total: int | None) -> np.ndarray | None:
    """Validate ``lengths=`` (one entry per sequence of all the inputs)."""
    if lengths is None:
        return None
    arr = to_numpy(lengths)
    if arr.ndim != 1:
        raise RnndynError(f"lengths must be a 1-d array with one entry per sequence; got shape {arr.shape}.")
    if arr.size and arr.dtype.kind not in "iu":
        if not (arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr))):
            raise RnndynError(f"lengths must hold whole numbers; got dtype {arr.dtype}.")
    arr = arr.astype(np.int64)
    if np.any(arr < 0):
        i = int(np.flatnonzero(arr < 0)[0])
        raise RnndynError(f"lengths must be >= 0; sequence {i} has length {int(arr[i])}.")
    if total is not None and arr.shape[0] != total:
        raise RnndynError(
            f"lengths has {arr.shape[0]} entries but inputs hold {total} sequences; give "
            "one length (number of real input steps) per sequence."
        )
    return arr


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
                f"holds ({describe(data)}); batches must be arrays with the sequences along "
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


# ---------------------------------------------------------------- targets
def _layer_line(info: LayerInfo) -> str:
    return (
        f"{info.name!r} ({info.type}; states {', '.join(info.states)}; "
        f"{'+'.join(info.directions)}; {info.n_units} units)"
    )


def _as_names(value: Any, arg: str) -> list[str]:
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list | tuple) or not all(isinstance(v, str) for v in names):
        raise RnndynError(f"{arg} must be a name or a list of names (str); got {value!r}.")
    if not names:
        raise RnndynError(f"{arg} is an empty list; give at least one name.")
    dup = sorted({v for v in names if names.count(v) > 1})
    if dup:
        raise RnndynError(f"{arg} lists {dup} more than once; list each name once.")
    return list(names)


def resolve_targets(layers: Sequence[LayerInfo], layer: Any, state: Any) -> list[tuple[str, str]]:
    """Validate ``layer=``/``state=`` against an adapter's layers.

    Returns every ``(layer, state)`` combination, layer by layer.

    Examples
    --------
    >>> info = LayerInfo("enc", "LSTM", ("h", "c"), ("forward",), 4)
    >>> resolve_targets([info], None, ["h", "c"])
    [('enc', 'h'), ('enc', 'c')]
    """
    by_name = {info.name: info for info in layers}
    listing = "\n  ".join(_layer_line(info) for info in layers)
    if layer is None:
        if not layers:
            raise PluginError(
                "The adapter found no recurrent layer in this model; rnndyn captures the "
                f"states of recurrent layers (LSTM, GRU, simple RNN). See {DOCS}."
            )
        # one stacked module listed with its layers ("rnn", "rnn.l0", "rnn.l1"): its name
        tops = [i for i in layers if all(j is i or j.name.startswith(i.name + ".") for j in layers)]
        if len(layers) > 1 and len(tops) == 1:
            layers = tops
        if len(layers) > 1:
            raise PluginError(
                f"The model has {len(layers)} recurrent layers; pass layer= one of their names "
                f"or a list of them:\n  {listing}"
            )
        names = [layers[0].name]
    else:
        names = _as_names(layer, "layer")
    states = _as_names(state, "state")
    for name in names:
        if name not in by_name:
            close = difflib.get_close_matches(name, list(by_name), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise PluginError(
                f"Unknown layer {name!r}.{hint} The recurrent layers of this model are:"
                f"\n  {listing or '(none)'}"
            )
        info = by_name[name]
        for s in states:
            if s not in info.states:
                raise PluginError(
                    f"Layer {name!r} ({info.type}) has no state {s!r}; its states are "
                    f"{', '.join(repr(v) for v in info.states)}."
                )
    return [(name, s) for name in names for s in states]
