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
    "one_line",
    "check_input_values",
    "check_states_finite",
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


def one_line(exc: BaseException) -> str:
    """``"Type: message"`` of a framework's exception on one line.

    Multi-line messages keep their first line, except TensorFlow's graph errors
    ("Graph execution error: ... Detected at node ..."), whose last line is the
    one that says what went wrong.

    Examples
    --------
    >>> one_line(ValueError("bad shape\\nmore detail"))
    'ValueError: bad shape'
    """
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    if not lines:
        return type(exc).__name__
    text = lines[-1] if "Graph execution error" in lines[0] else lines[0]
    if len(text) > 300:
        text = text[:297] + "..."
    return f"{type(exc).__name__}: {text}"


def _library(x: Any) -> str:
    return type(x).__module__.split(".")[0]


def _leaves(data: Any, where: str) -> Iterator[tuple[str, Any]]:
    """The arrays of one batch (inside dicts, lists and tuples), with where they sit."""
    if isinstance(data, Mapping):
        for k, v in data.items():
            yield from _leaves(v, f"{where}[{k!r}]")
    elif type(data) in (list, tuple):
        for j, v in enumerate(data):
            yield from _leaves(v, f"{where}[{j}]")
    else:
        yield where, data


def _nonfinite_position(a: Any) -> tuple[tuple[int, ...], Any] | None:
    """Index and value of the first NaN/inf of a float array of any library, or ``None``."""
    lib = _library(a)
    if lib == "dask":
        return None  # lazy: never computed here
    if lib == "torch" and hasattr(a, "batch_sizes"):  # a PackedSequence: its rows
        a = a.data
    if lib == "torch" and not hasattr(a, "is_floating_point"):
        return None
    if lib == "torch":
        if not (a.is_floating_point() or a.is_complex()) or a.numel() == 0:
            return None
        ok = a.isfinite()
        if bool(ok.all()):
            return None
        where = tuple(int(i) for i in (~ok).nonzero()[0].tolist())
        return where, a[where].item()
    try:
        arr = a if isinstance(a, np.ndarray) else to_numpy(a)
    except Exception:
        return None  # not an array numpy can read (the adapter will say)
    if arr.dtype.kind not in "fc" or arr.size == 0:
        return None
    with np.errstate(over="ignore", invalid="ignore"):
        if bool(np.isfinite(arr.sum())):
            return None
    bad = np.argwhere(~np.isfinite(arr))
    if not len(bad):
        return None
    where = tuple(int(i) for i in bad[0])
    return where, arr[where]


def check_input_values(data: Any, name: str, *, offset: int | None = 0, finite: bool = True) -> None:
    """Refuse model inputs that hold no data or cannot be right, before the model runs.

    * tensors on PyTorch's ``meta`` device (shapes without data);
    * numpy object arrays of arrays or lists (ragged sequences);
    * dask arrays with unknown chunk sizes;
    * NaN or infinity in float inputs (a recurrent model carries them into
      every later state): the message names the first sequence and step.

    ``name`` says which input (e.g. ``"inputs"`` or ``"batch 3"``); ``offset``
    is the index of the batch's first sequence among all the inputs (``None``:
    unknown, positions are given within the batch).

    Examples
    --------
    >>> check_input_values(np.array([[[0.0], [np.nan]]]), "inputs")
    Traceback (most recent call last):
    ...
    rnndyn.errors.RnndynError: inputs holds a non-finite value (nan) at sequence 0, step 1 ...
    """
    for where, a in _leaves(data, name):
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
        shape = _shape(a)
        if _library(a) == "dask" and shape is not None and any(s != s for s in shape):
            raise RnndynError(
                f"{where} is a dask array with unknown chunk sizes (shape {shape}); rnndyn "
                "needs the number of sequences to batch it. Call x.compute_chunk_sizes() "
                "first, or pass an iterable of computed batches."
            )
        if not finite:
            continue
        found = _nonfinite_position(a)
        if found is None:
            continue
        pos, value = found
        seq = f"sequence {pos[0] + offset}" if offset is not None else f"sequence {pos[0]} of this batch"
        at = f"{seq}, step {pos[1]}" if len(pos) >= 2 else (seq if pos else "its only element")
        raise RnndynError(
            f"{where} holds a non-finite value ({value}) at {at} (index {pos}); the model would "
            "carry it into every later state, so the trajectories would be NaN. Replace the "
            "value (e.g. np.nan_to_num), drop that sequence, or, if it marks padding, pad with "
            "a finite value and pass the real lengths with lengths=."
        )


def check_states_finite(states: Any, units: Any, where: str) -> None:
    """Raise when a model produced NaN/inf states (from inputs already checked finite).

    ``units`` is the capture's units table (``layer``, ``state``, ``direction``,
    ``index``); ``where`` prefixes the message (e.g. ``"batch 3"``; ``""``: none).
    """
    found = _nonfinite_position(states)
    if found is None:
        return
    (i, t, u), value = found
    row = units.iloc[u]
    prefix = f"{where}: " if where else ""
    raise RnndynError(
        f"{prefix}the model produced a non-finite state ({value}) at sequence {i} of the batch, "
        f"step {t}, unit {u} (layer {row['layer']!r}, state {row['state']!r}, "
        f"{row['direction']} unit {int(row['index'])}) although the inputs are finite. The "
        "model itself computes it: check its weights for NaN/inf (e.g. after a diverged "
        "training run) and that the inputs are scaled as in training (huge values overflow)."
    )


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
    if collate is not None and not callable(collate):
        raise RnndynError(
            f"collate must be a function that turns a list of examples into one batch, or None; "
            f"got {type(collate).__name__} {collate!r:.60}."
        )
    check_input_values(inputs, "inputs", finite=False)  # meta tensors, before any adapter sees them
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
    if isinstance(inputs, set | frozenset):
        raise RnndynError(
            f"inputs is a {type(inputs).__name__}, which has no order, so the trajectories "
            "could not be matched to the sequences; pass a list (e.g. sorted(inputs))."
        )
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
            sizes[k] = _axis0(shape, f"inputs[{k!r}]")
        if len(set(sizes.values())) > 1:
            raise RnndynError(
                f"Every array in the inputs dict must hold the same number of sequences "
                f"(axis 0); got {sizes}."
            )
        n = next(iter(sizes.values()))
        _check_not_empty(n)
        check_input_values(inputs, "inputs")
        return Plan(_mapping_batches(inputs, n, batch_size), n, None, "mapping")
    shape = _shape(inputs)
    if shape is not None and hasattr(inputs, "__getitem__"):
        if len(shape) == 0:
            raise RnndynError(
                "inputs is a 0-d array; it must hold the sequences along axis 0, e.g. shape "
                "(n_sequences, n_steps, n_features)."
            )
        n = _axis0(shape, "inputs")
        _check_not_empty(n)
        check_input_values(inputs, "inputs")
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


def _axis0(shape: tuple[Any, ...], name: str) -> int:
    n = shape[0]
    if n is None or n != n:  # a symbolic or dask dimension
        raise RnndynError(
            f"{name} has an unknown number of sequences (shape {shape}); rnndyn needs it to "
            "batch the inputs. Compute it first (dask: x.compute_chunk_sizes()), or pass an "
            "iterable of batches."
        )
    return int(n)


def _check_not_empty(n: int) -> None:
    if n == 0:
        raise RnndynError(
            "inputs holds no sequences (0 along axis 0); there is nothing to capture. Pass at "
            "least one sequence, e.g. x[None] for a single one."
        )


def check_lengths_arg(lengths: Any, total: int | None) -> np.ndarray | None:
    """Validate ``lengths=`` (one entry per sequence of all the inputs).

    Examples
    --------
    >>> check_lengths_arg([3, 2], 2)
    array([3, 2])
    >>> check_lengths_arg([3, 2.5], 2)
    Traceback (most recent call last):
    ...
    rnndyn.errors.RnndynError: lengths must hold whole numbers of steps; lengths[1] is 2.5. ...
    """
    if lengths is None:
        return None
    todo = (
        "Give one int per sequence of the inputs (the number of its real input steps), e.g. "
        "lengths=np.array([7, 5, 3]), or leave lengths=None when every step is real."
    )
    if getattr(lengths, "is_meta", False) is True:
        raise RnndynError("lengths is a tensor on the 'meta' device, which has a shape but no data. " + todo)
    if isinstance(lengths, str | bytes | Mapping | set | frozenset) or not (
        hasattr(lengths, "shape") or isinstance(lengths, list | tuple | range)
    ):
        raise RnndynError(
            f"lengths must be a 1-d array of ints; got {type(lengths).__name__} {lengths!r:.60}. {todo}"
        )
    try:
        arr = to_numpy(lengths)
    except Exception as exc:  # ragged lists and the like
        raise RnndynError(
            f"lengths could not be read as a 1-d array of ints ({one_line(exc)}). {todo}"
        ) from None
    if arr.ndim != 1:
        raise RnndynError(
            f"lengths must be a 1-d array with one entry per sequence; got shape {arr.shape}. {todo}"
        )
    if arr.dtype.kind == "b":
        raise RnndynError(
            "lengths holds booleans; it must hold the number of real steps of each sequence. "
            "From a (sequences, steps) mask of real steps use lengths=mask.sum(axis=1)."
        )
    if arr.size and arr.dtype.kind not in "iu":
        if arr.dtype.kind not in "f":
            raise RnndynError(f"lengths must hold whole numbers; got dtype {arr.dtype}. {todo}")
        bad = np.flatnonzero(~np.isfinite(arr) | (arr != np.round(arr)))
        if bad.size:
            i = int(bad[0])
            raise RnndynError(
                f"lengths must hold whole numbers of steps; lengths[{i}] is {arr[i]}. "
                "Nothing is rounded: give ints."
            )
        if np.any(np.abs(arr) > 2**62):
            i = int(np.flatnonzero(np.abs(arr) > 2**62)[0])
            raise RnndynError(f"lengths[{i}] = {arr[i]} is far beyond any number of steps. {todo}")
    arr = arr.astype(np.int64)
    if np.any(arr < 0):
        i = int(np.flatnonzero(arr < 0)[0])
        raise RnndynError(
            f"lengths must be >= 0; sequence {i} has length {int(arr[i])}. A length counts the "
            "real input steps of a sequence."
        )
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


def _as_names(value: Any, arg: str, known: str) -> list[str]:
    """``value`` as a list of distinct, non-empty names; ``known`` lists what exists."""
    example = (
        "layer='encoder' or layer=['encoder', 'decoder']"
        if arg == "layer"
        else "state='h' or state=['h', 'c']"
    )
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list | tuple) or not all(isinstance(v, str) for v in names):
        raise RnndynError(
            f"{arg} must be a name or a list of names (str), e.g. {example}; got "
            f"{type(value).__name__} {value!r:.60}. {known}"
        )
    if not names:
        raise RnndynError(f"{arg} is an empty list; give at least one name, e.g. {example}. {known}")
    empty = [v for v in names if not v.strip()]
    if empty:
        raise RnndynError(f"{arg} holds an empty name {empty[0]!r}; give a real name. {known}")
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
    if not isinstance(layers, Sequence) or not all(isinstance(i, LayerInfo) for i in layers):
        raise RnndynError(
            f"layers must be a list of rnndyn.adapter.LayerInfo (what an adapter's layers() "
            f"returns); got {type(layers).__name__}."
        )
    by_name = {info.name: info for info in layers}
    listing = "\n  ".join(_layer_line(info) for info in layers)
    known_layers = f"The recurrent layers of this model are:\n  {listing or '(none)'}"
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
        names = _as_names(layer, "layer", known_layers)
    picked = [by_name[n] for n in names if n in by_name]
    states_known = "; ".join(f"layer {i.name!r} has the states {', '.join(i.states)}" for i in picked)
    states = _as_names(state, "state", f"States: {states_known}." if states_known else "")
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
