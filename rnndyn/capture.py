"""`capture()`: run inputs through a model and record its recurrent states.

The adapter plugin that claims the model (see :mod:`rnndyn.plugins`) lists
the recurrent layers and runs each batch; this module does everything else:
choosing and validating the layers and states, batching, lengths, progress,
error reporting, and joining the batches into one :class:`Trajectories`.
"""

from __future__ import annotations

import random
import sys
import types
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._batching import (
    LengthsSplitter,
    Plan,
    check_input_values,
    check_lengths_arg,
    describe,
    one_line,
    plan_batches,
    resolve_targets,
)
from ._validation import check_bool, check_int
from .adapter import Args, Batch
from .errors import RnndynError
from .plugins import DOCS, find_adapter
from .trajectories import Trajectories

__all__ = ["capture", "iter_capture", "layers", "resolve_targets"]

_NOTED = "_rnndyn_batch_noted"


class _DefaultBatchSize(int):
    """The default ``batch_size`` (256), told apart from a ``batch_size=256`` the user gave."""

    def __repr__(self) -> str:
        return "256"


BATCH_SIZE = _DefaultBatchSize(256)


def capture(
    model: Any,
    inputs: Any,
    layer: str | Sequence[str] | None = None,
    state: str | Sequence[str] = "h",
    *,
    lengths: Any = None,
    batch_size: int = BATCH_SIZE,
    progress: bool = True,
    device: Any = None,
    collate: Callable[[list[Any]], Any] | None = None,
    batch_axis: int | Mapping[int | str, int | None] | None = None,
    forward: Callable[[Any, Any], Any] | None = None,
) -> Trajectories:
    """Run ``inputs`` through ``model`` and record recurrent states at every step.

    Parameters
    ----------
    model : object
        A model of any framework with an installed adapter plugin (PyTorch,
        Keras, or a third-party one).
    inputs : array, Args, dict, dataclass, list of examples, or iterable of batches
        Exactly what you would pass to ``model(...)``, for all the sequences
        at once; rnndyn cuts it into batches along the sequences:

        * an array or tensor: the model's one argument, sliced along its batch
          axis (axis 0, or ``batch_axis=``);
        * ``rnndyn.Args(*args, **kwargs)``: several positional and keyword
          arguments, ``model(*args, **kwargs)``; every array in them (also in
          tuples, lists, dicts, e.g. an LSTM state ``(h, c)``) is sliced along
          its batch axis, anything else (``None``, flags) is passed whole;
        * a dict, a dataclass or a named tuple: the model's one argument
          (``model(batch)``), its arrays sliced alike (``rnndyn.Args(**d)``
          passes a dict as keyword arguments);
        * a ``list`` of examples (e.g. strings): grouped by ``batch_size`` and
          turned into batches by ``collate``; the examples are kept in the
          result's ``inputs``;
        * any other iterable (a DataLoader, a generator): each item is one
          batch, as above; a plain list/tuple item such as ``[x, y]`` gives
          its first element as the model input (with ``forward=``, the whole
          item is handed to ``forward``).

        A plain ``tuple`` is refused (examples or arguments? use a list or
        ``rnndyn.Args``), unless the adapter proves that a list or tuple is
        the model's one argument (a multi-input Keras model's ``[a, b]``,
        sliced as ``rnndyn.Args([a, b])``). An adapter may take over inputs of its own kind
        (e.g. a PyTorch ``PackedSequence``) through its ``split`` method.
    layer : str, list of str, or None
        Recurrent layer name(s) (:func:`layers` lists them); ``None`` means
        the model's only recurrent module (the top layer of a stacked one).
    state : str or list of str, default "h"
        State(s) to record: ``"h"``, ``"c"`` or gate names (the layer lists
        them). Every (layer, state) pair is captured in one forward pass and
        joined along units, layer by layer (see the result's ``units`` table).
    lengths : array of int, optional
        Real input steps of every sequence of ``inputs`` (all batches
        together); steps after that are padding.
    batch_size : int, default 256
        Sequences per batch, for inputs rnndyn slices (arrays, ``Args``,
        dicts, dataclasses, lists of examples). An iterable's items are the
        batches: giving ``batch_size`` with one is an error.
    progress : bool, default True
        Show a tqdm progress bar (counting sequences).
    device : optional
        Where the adapter should run and keep the states (e.g. ``"cuda"``);
        ``None`` gives numpy arrays.
    collate : callable, optional
        Turns a list of examples into one batch; default: stack them (they
        must have equal shapes).
    batch_axis : int, dict or None
        Where the sequences lie in the input arrays. ``None``: axis 0, unless
        the adapter proves otherwise (a bare time-major PyTorch module takes
        ``(steps, sequences, features)``: axis 1). An int: every input array
        (e.g. ``1`` for time-major tokens and ``(layers, sequences, units)``
        states). A dict by argument (``rnndyn.Args`` positions and keywords,
        dict keys, dataclass fields): e.g. ``{"hidden": 1}``; ``None`` passes
        that argument whole to every batch. Arguments not named use axis 0.
        rnndyn never transposes: when the model provably reads its sequences
        along another axis than the one given (or than 0), it says so.
    forward : callable, optional
        ``forward(model, batch)`` runs the model on one batch instead of
        ``model(batch)``: the escape hatch for any signature, e.g.
        ``forward=lambda model, b: model(b["tokens"], b["hidden"])``. The
        batch is cut from ``inputs`` as above (a tuple is allowed here and
        sliced element by element); what ``forward`` returns is ignored.

    Returns
    -------
    Trajectories
        ``states`` of shape ``(n_sequences, n_steps, n_units)``.

    Raises
    ------
    PluginError
        No adapter claims the model, or an unknown layer or state.
    RnndynError
        Bad inputs or lengths, or a batch that fails in the model (the
        message names the batch index and shape).

    Examples
    --------
    >>> import numpy as np, rnndyn
    >>> from rnndyn_numpyrnn import NumpyRNN
    >>> model = NumpyRNN.random(n_inputs=2, n_units=3, seed=0)
    >>> x = np.random.default_rng(0).normal(size=(10, 7, 2))
    >>> traj = rnndyn.capture(model, x, state=["h", "z"], batch_size=4, progress=False)
    >>> traj.shape
    (10, 7, 6)
    >>> traj.units["state"].tolist()
    ['h', 'h', 'h', 'z', 'z', 'z']
    """
    run = _prepare(
        model, inputs, layer, state, lengths, batch_size, progress, device, collate, batch_axis, forward
    )
    result = _join(run, run.plan.total)
    raw = run.plan.raw_inputs if run.plan.raw_inputs is not None else _raw_for_split(inputs, run)
    if raw is not None:
        result = result._replace(inputs=list(raw))
    return result


def _join(parts: Any, total: int | None) -> Trajectories:
    """Join the batches as they arrive.

    With numpy parts and a known total, the result is allocated once and each
    batch is copied in and dropped, so peak memory is the result plus one
    batch (not twice the result).
    """
    it = iter(parts)
    try:
        first = next(it)
    except StopIteration:  # pragma: no cover - _prepare rejects empty inputs
        raise RnndynError("capture() received no batches.") from None
    if total is None or not isinstance(first.states, np.ndarray) or first.n_sequences == total:
        rest = list(it)
        return first if not rest else Trajectories.concat([first, *rest])
    states = np.empty((total, *first.shape[1:]), dtype=first.states.dtype)
    lengths = np.empty(total, dtype=np.int64)
    inputs: list[Any] | None = [] if first.inputs is not None else None
    n = 0
    part: Trajectories | None = first
    template = first.take(slice(0, 0))
    del first  # each batch is dropped once copied
    while part is not None:
        if n + part.n_sequences > total:
            raise RnndynError(
                f"capture(): the batches hold more than the {total} sequences of the inputs; "
                "the adapter yielded extra sequences (a bug in the plugin)."
            )
        # (_Run already checked that every part has the first part's steps and units)
        states[n : n + part.n_sequences] = part.states
        lengths[n : n + part.n_sequences] = part.lengths
        if inputs is not None:
            inputs.extend(part.inputs or [])
        n += part.n_sequences
        part = next(it, None)
    if n != total:
        raise RnndynError(
            f"capture(): the batches hold {n} sequences but the inputs hold {total} (a bug in the plugin)."
        )
    return template._replace(states=states, lengths=lengths, inputs=inputs)


def iter_capture(
    model: Any,
    inputs: Any,
    layer: str | Sequence[str] | None = None,
    state: str | Sequence[str] = "h",
    *,
    lengths: Any = None,
    batch_size: int = BATCH_SIZE,
    progress: bool = True,
    device: Any = None,
    collate: Callable[[list[Any]], Any] | None = None,
    batch_axis: int | Mapping[int | str, int | None] | None = None,
    forward: Callable[[Any, Any], Any] | None = None,
) -> Iterator[Trajectories]:
    """Like :func:`capture`, but yield one :class:`Trajectories` per batch.

    For streaming into accumulators or a store without holding every batch
    in memory. Everything is validated before the first batch runs; closing
    the iterator early closes the adapter (restoring the model).

    Examples
    --------
    >>> import numpy as np
    >>> from rnndyn_numpyrnn import NumpyRNN
    >>> model = NumpyRNN.random(n_inputs=2, n_units=3, seed=0)
    >>> x = np.zeros((10, 5, 2))
    >>> [p.n_sequences for p in iter_capture(model, x, batch_size=4, progress=False)]
    [4, 4, 2]
    """
    return _prepare(
        model, inputs, layer, state, lengths, batch_size, progress, device, collate, batch_axis, forward
    )


def _raw_for_split(inputs: Any, run: _Run) -> Sequence[Any] | None:
    # an adapter's split() took a list of examples: keep them if they map 1:1
    if isinstance(inputs, list | tuple) and run.n_done == len(inputs):
        return inputs
    return None


# -------------------------------------------------------------------- run
@dataclass
class _Run:
    """One capture: the prepared plan, iterated once into per-batch Trajectories."""

    adapter: Any
    targets: list[tuple[str, str]]
    plan: Plan
    splitter: LengthsSplitter
    progress: bool
    device: Any
    forward: Callable[[Any, Any], Any] | None = None
    sizes: list[int | None] = field(default_factory=list)
    lengths: list[np.ndarray | None] = field(default_factory=list)
    shapes: list[str] = field(default_factory=list)
    ndims: list[int | None] = field(default_factory=list)
    current: int | None = None
    exhausted: bool = False
    n_done: int = 0
    pending: dict[int, Any] = field(default_factory=dict)
    forms: frozenset[str] = frozenset()
    _gen: Iterator[Trajectories] | None = None

    def __iter__(self) -> Iterator[Trajectories]:
        if self._gen is None:
            self._gen = self._run()
        return self._gen

    def __next__(self) -> Trajectories:
        return next(iter(self))

    def close(self) -> None:
        if self._gen is not None:
            self._gen.close()

    def _feed(self) -> Iterator[Batch]:
        index = 0
        offset: int | None = 0  # sequences before this batch, while known
        first_kind = ""
        it = self.plan.batches
        while True:
            self.current = index
            try:
                data = next(it)
            except StopIteration:
                break
            except RnndynError as exc:
                _noted(exc, f"Preparing batch {index}: ")
                raise
            except Exception as exc:
                raise _noted(
                    RnndynError(f"Reading batch {index} from the inputs failed: {type(exc).__name__}: {exc}")
                ) from exc
            try:
                kind = _kind_of(data)
                if index == 0:
                    first_kind = kind
                elif kind != first_kind:
                    raise RnndynError(
                        f"inputs: batch {index} is {kind} but batch 0 was {first_kind}; every "
                        "batch must be the same kind of model input (the same array type, the "
                        "same dict keys). Convert them alike, e.g. all to numpy arrays."
                    )
                if isinstance(data, Args) and "args" not in self.forms:
                    raise _no_form(self.adapter, "rnndyn.Args batches")
                n = self.plan.count(data)
                if n == 0:
                    raise RnndynError(
                        f"inputs: batch {index} holds no sequences ({describe(data)}); every "
                        "batch must hold at least one. Drop empty batches from the iterable."
                    )
                # arrays and dicts were checked whole, up front
                check_input_values(data, "inputs", offset=offset, finite=self.plan.kind != "structured")
                lengths = self.splitter.take(n, index, data)
            except RnndynError as exc:
                _noted(exc, f"Preparing batch {index}: ")
                raise
            if offset is not None:
                offset = None if n is None else offset + n
            self.sizes.append(n)
            self.lengths.append(lengths)
            self.shapes.append(describe(data))
            self.ndims.append(getattr(data, "ndim", None) if not isinstance(data, Mapping) else None)
            self.pending[index] = data
            yield Batch(data, lengths, index, self.forward)
            index += 1
        self.current = None
        if index == 0:
            raise _noted(
                RnndynError(
                    "inputs yielded no batches; there is nothing to capture. An iterable that is "
                    "empty, or a generator or DataLoader iterator used up by an earlier loop, "
                    "gives none: pass a fresh one holding at least one batch."
                )
            )
        try:
            self.splitter.finish()
        except RnndynError as exc:
            _noted(exc)
            raise
        self.exhausted = True

    def _where(self) -> str:
        i = self.current if self.current is not None else len(self.sizes) - 1
        if i < 0:
            return "before the first batch"
        shape = self.shapes[i] if i < len(self.shapes) else "not read yet"
        return f"batch {i} ({shape})"

    def _run(self) -> Iterator[Trajectories]:
        from tqdm.auto import tqdm

        adapter = self.adapter
        feeder = self._feed()
        bar = tqdm(total=self.plan.total, disable=not self.progress, unit="seq", desc="rnndyn.capture")
        gen: Any = None
        first: Trajectories | None = None
        streams = _Streams()
        try:
            gen = self._guard(lambda: iter(adapter.capture(feeder, self.targets, device=self.device)))
            k = 0
            while True:
                try:
                    with streams.active():
                        part = self._guard(lambda: next(gen))
                except StopIteration:
                    break
                part = self._fit_steps(part, k, first)
                first = self._check_part(part, k, first)
                bar.update(part.n_sequences)
                self.n_done += part.n_sequences
                k += 1
                yield part
            if not self.exhausted:
                try:
                    next(feeder)
                except StopIteration:
                    pass
                else:
                    raise self._bug(f"it stopped after {k} parts, before reading every batch")
            if k != len(self.sizes):
                raise self._bug(f"it yielded {k} parts for {len(self.sizes)} batches")
        finally:
            try:
                if gen is not None and hasattr(gen, "close"):
                    gen.close()
            finally:
                feeder.close()
                bar.close()

    def _guard(self, step: Callable[[], Any]) -> Any:
        """Run one step of the adapter; name the batch in whatever it raises."""
        try:
            return step()
        except StopIteration:
            raise
        except RnndynError as exc:
            if not getattr(exc, _NOTED, False) and str(exc).startswith("states holds a non-finite"):
                # a third-party adapter's Trajectories refused NaN states: the model made them
                raise _noted(
                    RnndynError(
                        f"Capturing {self._where()}: the model produced non-finite states from "
                        f"finite inputs ({exc}). Check the model's weights for NaN/inf and that "
                        "the inputs are scaled as in training."
                    )
                ) from None
            _noted(exc, f"Capturing {self._where()}: ")
            raise
        except Exception as exc:
            name = getattr(self.adapter, "framework", type(self.adapter).__name__)
            raise RnndynError(
                f"Capturing {self._where()} failed: the {name} adapter raised {one_line(exc)}. "
                "Usually the inputs do not fit the model: check that they are what model(...) "
                "takes (shape, with the sequences along the batch axis: batch_axis=), dtype and "
                "values. If they are, report it to the adapter's authors."
            ) from exc

    def _bug(self, what: str) -> RnndynError:
        bug = "this is a bug" if what.endswith("otherwise") else ". This is a bug"
        return RnndynError(
            f"The adapter {type(self.adapter).__module__}.{type(self.adapter).__qualname__} "
            f"broke the Adapter protocol: {what}{bug if bug[0] == '.' else ' ' + bug} in that "
            f"plugin; the protocol is described in {DOCS}."
        )

    def _fit_steps(self, part: Any, k: int, first: Trajectories | None) -> Any:
        """Pad a masked batch (the model packed it itself, to its own longest sequence) with
        padding steps at the end, to the inputs' step count (or batch 0's): lengths unchanged."""
        if not isinstance(part, Trajectories) or not part.masked:
            return part
        target = first.n_steps if first is not None else self.plan.n_steps
        if target is None or part.n_steps >= target:
            return part
        if part.n_sequences and int(np.max(part.lengths)) > part.n_steps:
            return part  # lengths beyond the steps: _check_part / Trajectories say so
        return _pad_steps(part, target)

    def _check_part(self, part: Any, k: int, first: Trajectories | None) -> Trajectories:
        if not isinstance(part, Trajectories):
            raise self._bug(f"part {k} is a {type(part).__name__}, not a Trajectories")
        if k >= len(self.sizes):
            raise self._bug(f"it yielded part {k} but only {len(self.sizes)} batches were read")
        n = self.sizes[k]
        data = self.pending.pop(k, None)
        if n is not None and part.n_sequences != n:
            if self.ndims[k] == 2 and part.n_sequences == 1:
                raise RnndynError(
                    f"inputs: batch {k} is 2-d ({self.shapes[k]}), which the model read as one "
                    f"unbatched sequence of {part.n_steps} steps, but rnndyn reads axis 0 as "
                    f"sequences ({n} of them). Pass sequences along axis 0: x[None] for one "
                    "sequence, shape (1, steps, features)."
                )
            layout = self.plan.layout
            hint = layout.time_major_hint(data, part.n_sequences) if layout is not None else None
            if hint is not None:
                raise RnndynError(
                    f"inputs: batch {k} ({self.shapes[k]}) holds {n} sequences along its batch "
                    f"axis, but the model ran {part.n_sequences}. {hint}"
                )
            raise RnndynError(
                f"inputs: batch {k} ({self.shapes[k]}) holds {n} sequences along its batch axis, but "
                f"the captured layers ran {part.n_sequences} sequences, so the trajectories cannot be "
                "matched to the inputs' sequences. Check the inputs' layout: say where the sequences "
                "lie with batch_axis= (e.g. batch_axis=1 for time-major inputs); a layer that runs "
                "other sequences than the inputs' (a model that reshapes them) cannot be captured "
                "from these inputs: capture a sub-model fed that layer's own inputs. If the inputs "
                "are laid out as the model takes them, the adapter yielded the wrong number of "
                "sequences: report it to the adapter's authors."
            )
        given = self.lengths[k]
        if given is not None and not np.array_equal(part.lengths, given):
            raise self._bug(f"the trajectories of batch {k} do not carry the lengths given")
        if first is None:
            pairs = list(dict.fromkeys(zip(part.units["layer"], part.units["state"], strict=True)))
            if pairs != [tuple(t) for t in self.targets]:
                raise self._bug(f"it captured {pairs} for the targets {self.targets}")
            return part.take(slice(0, 0))  # keep the layout only, not the batch's memory
        if part.n_steps != first.n_steps:
            packed = (
                " The model packs its inputs (masked trajectories): pass the inputs as one padded "
                "array (rnndyn pads every batch to its step count), or capture with one batch."
                if part.masked
                else ""
            )
            raise RnndynError(
                f"Batch {k} ({self.shapes[k]}) gave {part.n_steps} steps but batch 0 gave "
                f"{first.n_steps}; batches cannot be joined. Pad every sequence to one "
                "length (and pass the real lengths with lengths=), or capture the groups "
                f"separately.{packed}"
            )
        if not part.units.equals(first.units):
            raise self._bug(f"batch {k} has another units table than batch 0")
        return first


def _pad_steps(part: Trajectories, n_steps: int) -> Trajectories:
    """``part`` with zero padding steps appended up to ``n_steps`` (numpy or the framework's arrays)."""
    states = part.states
    n, t, u = states.shape
    if isinstance(states, np.ndarray):
        out: Any = np.zeros((n, n_steps, u), dtype=states.dtype)
    else:
        import array_api_compat

        xp = array_api_compat.array_namespace(states)
        out = xp.zeros((n, n_steps, u), dtype=states.dtype, device=array_api_compat.device(states))
    out[:, :t] = states
    return part._replace(states=out)


def _no_form(adapter: Any, what: str) -> RnndynError:
    name = getattr(adapter, "framework", type(adapter).__name__)
    return RnndynError(
        f"The {name} adapter does not take {what} yet; pass the model's one input (an array, or a "
        "dict of arrays) as inputs, or wrap the model so that it takes one."
    )


class _Streams:
    """The random streams (numpy's and Python's global generators) of one capture.

    A model that samples draws from a stream that starts where the user's
    generator stood and runs on from batch to batch; around each batch the
    user's own state is put back, so a capture leaves it as it found it.
    """

    def __init__(self) -> None:
        self.np = np.random.get_state()
        self.py = random.getstate()

    @contextmanager
    def active(self) -> Iterator[None]:
        user = (np.random.get_state(), random.getstate())
        np.random.set_state(self.np)
        random.setstate(self.py)
        try:
            yield
        finally:
            self.np, self.py = np.random.get_state(), random.getstate()
            np.random.set_state(user[0])
            random.setstate(user[1])


def _noted(exc: RnndynError, prefix: str = "") -> RnndynError:
    """Prefix the message once (keeping the exception's type and traceback)."""
    if prefix and not getattr(exc, _NOTED, False) and exc.args:
        exc.args = (f"{prefix}{exc.args[0]}", *exc.args[1:])
    setattr(exc, _NOTED, True)
    return exc


def _prepare(
    model: Any,
    inputs: Any,
    layer: Any,
    state: Any,
    lengths: Any,
    batch_size: Any,
    progress: Any,
    device: Any,
    collate: Any,
    batch_axis: Any = None,
    forward: Any = None,
) -> _Run:
    given = batch_size is not BATCH_SIZE
    with _hint("Pass the number of sequences per batch, e.g. batch_size=256."):
        batch_size = check_int(batch_size, "batch_size", minimum=1)
    with _hint("progress=False hides the progress bar."):
        progress = check_bool(progress, "progress")
    adapter = find_adapter(model)
    forms = frozenset(getattr(adapter, "input_forms", ()) or ())
    if forward is not None and "forward" not in forms:
        raise _no_form(adapter, "forward=")
    if isinstance(inputs, Args) and "args" not in forms:
        raise _no_form(adapter, "rnndyn.Args inputs")
    targets = resolve_targets(list(adapter.layers()), layer, state)
    plan = plan_batches(
        inputs,
        batch_size,
        adapter=adapter,
        collate=collate,
        batch_axis=batch_axis,
        forward=forward,
        batch_size_given=given,
    )
    splitter = LengthsSplitter(check_lengths_arg(lengths, plan.total))
    return _Run(adapter, targets, plan, splitter, progress, device, forward, forms=forms)


def layers(model: Any) -> Any:
    """The recurrent layers the adapter for ``model`` finds, as a table.

    One row per name ``layer=`` takes: ``layer``, ``type`` (the framework's
    class), ``units`` (of ``h``, per direction), ``directions``, ``stacked``
    (layers of a stacked module; its name means the top one), ``layout``
    (``batch-first``, ``time-major``, ``steps = calls`` for a cell driven by a
    loop, or ``unknown``) and ``states`` (``h``, ``c`` and the gates).

    Parameters
    ----------
    model : object
        A model of any framework with an installed adapter plugin.

    Returns
    -------
    pandas.DataFrame

    Examples
    --------
    >>> import rnndyn
    >>> from rnndyn_numpyrnn import NumpyRNN
    >>> rnndyn.layers(NumpyRNN.random(n_inputs=2, n_units=3, seed=0))[["layer", "type", "units"]]
      layer      type  units
    0   rnn  NumpyRNN      3
    """
    from ._batching import layers_table

    return layers_table(list(find_adapter(model).layers()))


@contextmanager
def _hint(what: str) -> Iterator[None]:
    """Add what to do to the message of a shared validator."""
    try:
        yield
    except RnndynError as exc:
        raise RnndynError(f"{exc} {what}") from None


def _kind_of(data: Any) -> str:
    """What kind of model input a batch is, to tell when a stream of batches changes kind."""
    if isinstance(data, Args):
        return f"rnndyn.Args with the arguments {[k for k, _ in data.items()]}"
    if isinstance(data, Mapping):
        return f"a dict with the keys {sorted(map(str, data))}"
    cls = type(data)
    return f"a {cls.__module__}.{cls.__qualname__}"


class _CallableModule(types.ModuleType):
    """``import rnndyn.capture`` rebinds the package attribute ``rnndyn.capture`` to this
    module; keep ``rnndyn.capture(model, inputs)`` working either way."""

    def __call__(self, *args: Any, **kwargs: Any) -> Trajectories:
        return capture(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
