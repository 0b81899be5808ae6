"""`capture()`: run inputs through a model and record its recurrent states.

The adapter plugin that claims the model (see :mod:`rnndyn.plugins`) lists
the recurrent layers and runs each batch; the core does everything else:
choosing and validating the layers and states (:mod:`rnndyn._targets`),
batching and lengths (:mod:`rnndyn._batching`), running the batches with
progress and error reporting (:mod:`rnndyn._capture_run`), and joining them
into one :class:`Trajectories`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from ._batching import LengthsSplitter, plan_batches
from ._capture_run import CaptureRun, no_form
from ._convert import join_sequences
from ._targets import layers_table, resolve_targets
from ._validation import check_bool, check_int, check_lengths_arg
from .adapter import Args
from .errors import RnndynError
from .plugins import find_adapter
from .trajectories import Trajectories

__all__ = ["capture", "iter_capture", "layers"]


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
    sink: Any = None,
    store: str | os.PathLike | None = None,
) -> Any:
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
    sink : object with an ``update(trajectories)`` method, optional
        Stream every batch into it (e.g. a :class:`rnndyn.stream.Accumulator`)
        and keep no trajectories: memory stays that of one batch however
        many sequences ``inputs`` holds. ``capture`` then returns ``sink``.
    store : str or path-like, optional
        Write every batch into a zarr store at this path (one chunk per batch,
        see :mod:`rnndyn.store`) and keep no trajectories in memory; returns
        ``rnndyn.open_store(store)``, states as a lazy dask array. Crash-safe:
        run the same call again after a crash and it resumes after the last
        complete batch. A store of another call, or a path that is not an
        rnndyn store, is refused. Needs inputs rnndyn batches itself (not an
        iterable of batches).

    Returns
    -------
    Trajectories
        ``states`` of shape ``(n_sequences, n_steps, n_units)``; ``sink``
        itself when one is given; the store's (lazy) trajectories with ``store=``.

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
    if sink is not None and not callable(getattr(sink, "update", None)):
        raise RnndynError(
            f"sink must have an update(trajectories) method, such as rnndyn.stream.Accumulator; got "
            f"{type(sink).__name__}."
        )
    if store is not None and sink is not None:
        raise RnndynError(
            "capture(): give sink= or store=, not both (stream the store later with open_store)."
        )
    run = _prepare(
        model, inputs, layer, state, lengths, batch_size, progress, device, collate, batch_axis, forward
    )
    if store is not None:
        from ._store_capture import capture_to_store

        return capture_to_store(
            store,
            run,
            model=model,
            inputs=inputs,
            batch_size=int(batch_size),
            batch_axis=batch_axis,
            collate=collate,
            forward=forward,
        )
    if sink is not None:
        for part in run:
            sink.update(part)
        return sink
    result = _join(run, run.plan.total)
    raw = run.plan.raw_inputs if run.plan.raw_inputs is not None else _raw_for_split(inputs, run)
    if raw is not None:
        result = result._replace(inputs=list(raw))
    return result


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
    the iterator early closes the adapter (restoring the model). While it
    runs (from the first batch until exhausted or closed) it holds the model:
    a capture of the same model from another thread waits for it, so close
    iterators you stop early.

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
    return layers_table(list(find_adapter(model).layers()))


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
    steps = []
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
        # (CaptureRun already checked that every part has the first part's steps and units)
        states[n : n + part.n_sequences] = part.states
        steps.append(part.steps)
        if inputs is not None:
            inputs.extend(part.inputs or [])
        n += part.n_sequences
        part = next(it, None)
    if n != total:
        raise RnndynError(
            f"capture(): the batches hold {n} sequences but the inputs hold {total} (a bug in the plugin)."
        )
    return template._replace(states=states, steps=join_sequences(steps), inputs=inputs)


def _raw_for_split(inputs: Any, run: CaptureRun) -> Sequence[Any] | None:
    # an adapter's split() took a list of examples: keep them if they map 1:1
    if isinstance(inputs, list | tuple) and run.n_done == len(inputs):
        return inputs
    return None


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
) -> CaptureRun:
    given = batch_size is not BATCH_SIZE
    with _hint("Pass the number of sequences per batch, e.g. batch_size=256."):
        batch_size = check_int(batch_size, "batch_size", minimum=1)
    with _hint("progress=False hides the progress bar."):
        progress = check_bool(progress, "progress")
    adapter = find_adapter(model)
    forms = frozenset(getattr(adapter, "input_forms", ()) or ())
    if forward is not None and "forward" not in forms:
        raise no_form(adapter, "forward=")
    if isinstance(inputs, Args) and "args" not in forms:
        raise no_form(adapter, "rnndyn.Args inputs")
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
    return CaptureRun(adapter, targets, plan, splitter, progress, device, forward, forms=forms, model=model)


@contextmanager
def _hint(what: str) -> Iterator[None]:
    """Add what to do to the message of a shared validator."""
    try:
        yield
    except RnndynError as exc:
        raise RnndynError(f"{exc} {what}") from None
