"""What :func:`rnndyn.capture` does before any batch runs: targets and batches.

:func:`resolve_targets` checks ``layer=``/``state=`` against the adapter's
layers. :func:`plan_batches` turns the user's inputs into batches. The rule:
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

import dataclasses
import difflib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._validation import to_numpy
from .adapter import Args, LayerInfo
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
    "layers_table",
    "Layout",
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
    kind: str  # "adapter", "structured", "examples", "iterable"
    layout: Layout | None = None  # how to count the sequences of a batch (None: n_sequences)
    n_steps: int | None = None  # the inputs' step count, when known (to pad packed batches to)

    def count(self, data: Any) -> int | None:
        """Sequences in one batch."""
        if self.layout is None:
            return n_sequences(data)
        return self.layout.count(data, "batch")


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
    if isinstance(data, Args):
        return "Args(" + ", ".join(f"{k}: {describe(v)}" for k, v in data.items()) + ")"
    if _is_dataclass(data):
        fields = ", ".join(f"{f.name}: {describe(getattr(data, f.name))}" for f in dataclasses.fields(data))
        return f"{type(data).__name__}({fields})"
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
    """Everything one batch holds, with where it sits: arrays, and the other values (None, flags).

    Walks ``Args``, dicts, dataclasses, lists and tuples (named tuples too);
    an array is never looked into.
    """
    if isinstance(data, Args):
        for k, v in data.items():
            yield from _leaves(v, f"{where} argument {k!r}")
    elif _is_array(data):
        yield where, data
    elif isinstance(data, Mapping):
        for k, v in data.items():
            yield from _leaves(v, f"{where}[{k!r}]")
    elif _is_dataclass(data):
        for f in dataclasses.fields(data):
            yield from _leaves(getattr(data, f.name), f"{where}.{f.name}")
    elif isinstance(data, list | tuple):
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
        # one pass, no temporary: a sum of finite values is finite unless it overflows
        if bool(a.sum().isfinite()):
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
        if axis != 0 and len(pos) > axis:
            i = pos[axis] + (offset or 0)
            at = f"sequence {i}" if offset is not None else f"sequence {pos[axis]} of this batch"
        else:
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


# ------------------------------------------------------------ structured inputs
_FORMS = (
    "an array of shape (n_sequences, n_steps, ...), rnndyn.Args(...) for several positional or "
    "keyword arguments, a dict or a dataclass of arrays (the model's single argument), a list of "
    "examples, or an iterable of batches"
)


def _is_array(x: Any) -> bool:
    shape = _shape(x)
    return shape is not None and len(shape) > 0 and hasattr(x, "__getitem__")


def _is_dataclass(x: Any) -> bool:
    return dataclasses.is_dataclass(x) and not isinstance(x, type)


def _is_namedtuple(x: Any) -> bool:
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


def _entries(data: Any, *, tuples: bool) -> list[tuple[int | str, Any]] | None:
    """The top-level arguments of one model input, keyed as ``batch_axis=`` keys them.

    ``Args``: positions and keyword names; a dict, dataclass or named tuple (the
    model's single argument): its keys or fields; an array: ``0``; a plain
    tuple/list only when ``tuples`` (a ``forward=`` receives it whole).
    """
    if isinstance(data, Args):
        return data.items()
    if isinstance(data, Mapping):
        return list(data.items())
    if _is_dataclass(data):
        return [(f.name, getattr(data, f.name)) for f in dataclasses.fields(data)]
    if _is_namedtuple(data):
        return list(zip(type(data)._fields, data, strict=True))
    if _is_array(data):
        return [(0, data)]
    if tuples and type(data) in (list, tuple):
        return list(enumerate(data))
    return None


def _name(key: int | str, data: Any, root: str) -> str:
    if isinstance(data, Args):
        return f"{root} argument {key}" if isinstance(key, int) else f"{root} argument {key!r}"
    if _is_array(data):
        return root
    if _is_dataclass(data) or _is_namedtuple(data):
        return f"{root}.{key}"
    return f"{root}[{key!r}]"


def _array_leaves(value: Any, where: str) -> Iterator[tuple[str, Any]]:
    """The arrays inside one argument (tuples, lists, dicts, dataclasses), with where they sit."""
    return ((w, a) for w, a in _leaves(value, where) if _is_array(a))


def _cut(value: Any, axis: int | None, s: slice) -> Any:
    """``value`` with every array in it sliced along ``axis`` (``None``: whole)."""
    if axis is None:
        return value
    if _is_array(value):
        return value[(slice(None),) * axis + (s,)]
    if isinstance(value, Mapping):
        items = {k: _cut(v, axis, s) for k, v in value.items()}
        return items if type(value) is dict else _rebuild_mapping(value, items)
    if _is_dataclass(value):
        return dataclasses.replace(
            value,
            **{f.name: _cut(getattr(value, f.name), axis, s) for f in dataclasses.fields(value) if f.init},
        )
    if _is_namedtuple(value):
        return type(value)(*(_cut(v, axis, s) for v in value))
    if type(value) in (list, tuple):
        return type(value)(_cut(v, axis, s) for v in value)
    return value


def _rebuild_mapping(value: Mapping[Any, Any], items: dict[Any, Any]) -> Any:
    try:
        return type(value)(items)
    except Exception:
        return items


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
        entries = _entries(data, tuples=self.tuples)
        if entries is None:
            return {}
        out: dict[str, int] = {}
        for key, value in entries:
            axis = self.axis(key, value)
            if axis is None:
                continue
            for where, a in _array_leaves(value, _name(key, data, root)):
                shape = _shape(a) or ()
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
        entries = _entries(data, tuples=self.tuples) or []
        cut = {k: _cut(v, self.axis(k, v), s) for k, v in entries}
        if _is_array(data):
            return cut[0]
        if isinstance(data, Mapping):
            return cut if type(data) is dict else _rebuild_mapping(data, cut)
        if _is_dataclass(data):
            return dataclasses.replace(
                data, **{f.name: cut[f.name] for f in dataclasses.fields(data) if f.init}
            )
        if _is_namedtuple(data):
            return type(data)(*cut.values())
        return type(data)(cut.values())

    def n_steps(self, data: Any) -> int | None:
        """The step count of the first batched array of ``data`` with a step axis, if any."""
        for key, value in _entries(data, tuples=self.tuples) or []:
            axis = self.axis(key, value)
            if axis not in (0, 1):
                continue
            for _, a in _array_leaves(value, ""):
                shape = _shape(a) or ()
                if len(shape) >= 2:
                    n = shape[1 - axis]
                    return int(n) if n is not None and n == n else None
            return None
        return None

    def time_major_hint(self, data: Any, n_read: int) -> str | None:
        """When the model ran ``n_read`` sequences and that is axis 1 of the first input array
        (and not the batch axis 0 rnndyn cut along): what it means and how to say so."""
        for key, value in _entries(data, tuples=self.tuples) or []:
            axis = self.axis(key, value)
            for where, a in _array_leaves(value, _name(key, data, "inputs")):
                shape = _shape(a) or ()
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


def check_batch_axis(batch_axis: Any) -> tuple[dict[int | str, int | None], int, set[int | str] | str]:
    """Validate ``batch_axis=``: ``None``, an int >= 0, or a dict of axes (or ``None``) by argument.

    Returns the per-argument axes, the default axis and the keys the user named.

    Examples
    --------
    >>> check_batch_axis({"hidden": 1, 0: None})
    ({'hidden': 1, 0: None}, 0, {0, 'hidden'})
    """
    todo = (
        "Pass batch_axis=None (axis 0, or what the model provably takes), an int (the axis of the "
        "sequences in every input array, e.g. 1 for time-major (steps, sequences, ...) inputs), or "
        "a dict by argument, e.g. batch_axis={'hidden': 1, 'mask': None} (None: pass it whole)."
    )
    if batch_axis is None:
        return {}, 0, set()
    if isinstance(batch_axis, Mapping):
        axes: dict[int | str, int | None] = {}
        for k, v in batch_axis.items():
            if isinstance(k, bool) or not isinstance(k, int | str):
                raise RnndynError(
                    f"batch_axis keys must be argument positions (int) or names (str); got {k!r}. {todo}"
                )
            if v is not None and (isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 0):
                raise RnndynError(f"batch_axis[{k!r}] must be an int >= 0 or None; got {v!r}. {todo}")
            axes[k] = None if v is None else int(v)
        return axes, 0, set(axes)
    if isinstance(batch_axis, bool) or not isinstance(batch_axis, int | np.integer) or batch_axis < 0:
        raise RnndynError(f"batch_axis must be None, an int >= 0 or a dict; got {batch_axis!r:.60}. {todo}")
    return {}, int(batch_axis), "*"


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
    found = getattr(adapter, "one_argument", None)
    if not callable(found):
        return None
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
    prover = getattr(adapter, "batch_axis", None)
    layout = Layout(axes, default, given, prover if callable(prover) else None, tuples=forward is not None)
    check_input_values(inputs, "inputs", finite=False)  # meta tensors, before any adapter sees them
    split = getattr(adapter, "split", None)
    if callable(split):
        it = split(inputs, batch_size)
        if it is not None:
            return Plan(iter(it), None, None, "adapter")
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
    shape = _shape(inputs)
    if shape is not None and len(shape) == 0 and hasattr(inputs, "__getitem__"):
        raise RnndynError(
            "inputs is a 0-d array; it must hold the sequences along axis 0, e.g. shape "
            "(n_sequences, n_steps, n_features)."
        )
    if type(inputs) is not list and _entries(inputs, tuples=forward is not None) is not None:
        _check_axis_keys(inputs, axes, given, layout)
        n = layout.count(inputs, "inputs")
        if n is None:
            raise RnndynError(
                f"inputs ({describe(inputs)}) holds no batched array, so rnndyn cannot tell its "
                "sequences. At least one argument must be an array with the sequences along its "
                "batch axis (batch_axis=None passes an argument whole)."
            )
        _check_not_empty(n)
        _check_leaves(inputs, layout)
        return Plan(
            _structured_batches(inputs, layout, n, batch_size),
            n,
            None,
            "structured",
            layout,
            layout.n_steps(inputs),
        )
    if isinstance(inputs, list):
        _check_not_empty(len(inputs))
        collate = default_collate if collate is None else collate
        return Plan(
            _checked_collate(_example_batches(inputs, batch_size, collate), forward),
            len(inputs),
            inputs,
            "examples",
            layout,
        )
    if hasattr(inputs, "__iter__"):
        if batch_size_given:
            raise RnndynError(
                f"batch_size={batch_size} was given, but inputs is an iterable ({type(inputs).__name__}) "
                "whose items are the batches, so it cannot apply: batch with the iterable (e.g. "
                "DataLoader(..., batch_size=...)) and leave batch_size out, or pass one array to "
                "have rnndyn batch it."
            )
        return Plan(
            _iterable_batches(inputs, forward is not None, one_argument), None, None, "iterable", layout
        )
    raise RnndynError(f"inputs must be {_FORMS}; got {type(inputs).__name__}.")


def _checked_collate(batches: Iterator[Any], forward: Any) -> Iterator[Any]:
    for data in batches:
        if type(data) is tuple and forward is None:
            raise _refuse_tuple("The batch collate= returned")
        yield data


def _check_axis_keys(inputs: Any, axes: dict[int | str, int | None], given: Any, layout: Layout) -> None:
    if not axes:
        return
    keys = [k for k, _ in _entries(inputs, tuples=layout.tuples) or []]
    if _is_array(inputs) and not isinstance(inputs, Args):
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
    for key, value in _entries(inputs, tuples=layout.tuples) or []:
        axis = layout.axis(key, value)
        where = _name(key, inputs, "inputs")
        check_input_values(value, where, finite=True, axis=0 if axis is None else axis)


def _axis0(shape: tuple[Any, ...], name: str) -> int:
    return _axis_size(shape, 0, name)


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
    extra = "".join(
        f"; {v}"
        for v in (
            f"{info.n_layers} stacked layers, top layer" if info.n_layers > 1 else "",
            info.layout,
        )
        if v
    )
    return (
        f"{info.name!r} ({info.type}; states {', '.join(info.states)}; "
        f"{'+'.join(info.directions)}; {info.n_units} units{extra})"
    )


def layers_table(infos: Sequence[LayerInfo]) -> Any:
    """The layers an adapter lists, as a pandas DataFrame (one row per ``layer=`` name).

    Examples
    --------
    >>> info = LayerInfo("enc", "LSTM", ("h", "c"), ("forward",), 4, 2, "batch-first")
    >>> layers_table([info]).to_dict("records")[0]["states"]
    'h, c'
    """
    import pandas as pd

    rows = [
        {
            "layer": i.name,
            "type": i.type,
            "units": i.n_units,
            "directions": "+".join(i.directions),
            "stacked": i.n_layers,
            "layout": i.layout or "unknown",
            "states": ", ".join(i.states),
        }
        for i in infos
    ]
    columns = ["layer", "type", "units", "directions", "stacked", "layout", "states"]
    return pd.DataFrame(rows, columns=columns)


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
