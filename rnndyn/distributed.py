"""Capture and accumulate on a Dask cluster: one :class:`~rnndyn.stream.Accumulator` from many workers.

:func:`accumulate` cuts the inputs into shards, has each worker build the
model once (from a saved model's path, or a zero-argument factory), capture
its shards into partial accumulators, and merges the partials in a fixed
pairwise tree. The result equals :func:`rnndyn.capture` followed by the
in-memory metrics on the whole input (to float64 rounding of the order of
summation), and does not depend on the number of workers or on which worker
ran what: the tree is fixed by the shards, so two runs give the same bits.

A worker that dies mid-shard is replaced and its shard run again (Dask
reschedules it, up to the scheduler's ``distributed.scheduler.allowed-failures``
times); a partial counts only when its task completes, so nothing is counted
twice. Needs the ``dask`` extra: ``pip install 'rnndyn[dask]'``.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import os
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any

import numpy as np

from ._distributed_worker import ModelSource, Packed, capture_shard, merge
from ._validation import check_int, check_lengths_arg
from .errors import MissingExtraError, RnndynError
from .stream import METRICS, Accumulator

if TYPE_CHECKING:
    from distributed import Client, Future

__all__ = ["accumulate"]

#: Sequences per shard (one task) unless ``shard_size=`` says otherwise.
SHARD_SIZE = 1024
_MODEL_FORMS = (
    "a saved model's path (anything rnndyn.plugins.load_model loads, e.g. a file written by "
    "rnndyn_torch.save_rnn) or a picklable zero-argument factory that builds the model, such as "
    "functools.partial(MyModel.load, 'weights.pt') defined in a module the workers can import"
)


def accumulate(
    model: str | os.PathLike[str] | Callable[[], Any] | None,
    inputs: Any = None,
    layer: str | Sequence[str] | None = None,
    state: str | Sequence[str] = "h",
    *,
    shards: Sequence[Any] | None = None,
    metrics: Sequence[str] | str = METRICS,
    regions: Sequence[str] | str = ("all",),
    max_lag: int | None = None,
    vector: bool = False,
    lengths: Any = None,
    shard_size: int = SHARD_SIZE,
    batch_size: int | None = None,
    framework: str | None = None,
    collate: Callable[[list[Any]], Any] | None = None,
    batch_axis: int | Mapping[int | str, int | None] | None = None,
    forward: Callable[[Any, Any], Any] | None = None,
    device: Any = None,
    client: Client | None = None,
) -> Accumulator:
    """Capture ``inputs`` on the workers of a Dask cluster and accumulate their metrics.

    Parameters
    ----------
    model : str, path-like, callable, or None
        How each worker builds the model, once per worker process: a saved
        model's path (loaded there by :func:`rnndyn.plugins.load_model`; it
        must exist on the workers) or a picklable zero-argument factory. A
        model object is refused: it would be pickled into every task. ``None``
        when ``shards`` already hold trajectories (nothing to capture).
    inputs : array, Args, dict, dataclass, or list of examples
        What :func:`rnndyn.capture` takes, cut into shards of ``shard_size``
        sequences along the batch axis (a list of examples is cut as a list
        and collated on the workers).
    layer, state
        As in :func:`rnndyn.capture`.
    shards : sequence, optional
        Instead of ``inputs``: the shards themselves, each what
        :func:`rnndyn.capture` takes (all with the same steps), or a
        zero-argument callable the worker calls to load its shard (e.g.
        ``functools.partial(np.load, "part-3.npy")``: the data never passes
        through this process). With ``model=None``, each shard is a
        :class:`~rnndyn.Trajectories` (or a callable giving one), accumulated
        as it is.
    metrics, regions, max_lag, vector
        As in :class:`rnndyn.stream.Accumulator`.
    lengths : array of int, optional
        Real input steps of every sequence of ``inputs``; with ``shards``, a
        list holding one such array (or ``None``) per shard.
    shard_size : int, default 1024
        Sequences per shard: one task, one partial accumulator.
    batch_size : int, optional
        Sequences per model call within a shard (default: capture's 256).
    framework : str, optional
        Passed to :func:`rnndyn.plugins.load_model` with a path.
    collate, batch_axis, forward, device
        As in :func:`rnndyn.capture` (``collate`` and ``forward`` must be
        picklable). The inputs are cut along ``batch_axis`` (axis 0 when
        ``None``), and the workers are told that axis: a model that provably
        reads its sequences along another one (a time-major PyTorch module)
        is an error asking for ``batch_axis=``, never a silent mix-up.
    client : distributed.Client, optional
        The cluster to run on. ``None`` starts a local cluster of one process
        per core on 127.0.0.1 (its dashboard on a free port) and closes it at the end.

    Returns
    -------
    rnndyn.stream.Accumulator
        Every shard merged: ``.result(region)`` gives the metrics,
        ``.n_sequences`` and ``.units`` what a single-process capture gives.

    Raises
    ------
    RnndynError
        Bad arguments (before any task runs); an error in a shard (named, with
        its worker and the worker's message); a shard that killed more
        workers than the scheduler allows.
    PluginError
        No adapter on the worker loads the path or claims the built model.

    Examples
    --------
    >>> import functools, numpy as np
    >>> from rnndyn_numpyrnn import NumpyRNN
    >>> factory = functools.partial(NumpyRNN.random, n_inputs=2, n_units=3, seed=0)
    >>> x = np.random.default_rng(0).normal(size=(1000, 20, 2))
    >>> acc = accumulate(factory, x, metrics=["msd"], shard_size=250)  # doctest: +SKIP
    >>> acc.result()["msd"].shape  # doctest: +SKIP
    (20, 3)
    >>> accumulate(factory(), x)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    rnndyn.errors.RnndynError: model is a model object (NumpyRNN), which would be pickled into every task...
    """
    source = _source(model, framework)
    shard_size = check_int(shard_size, "shard_size", minimum=1, hint="Sequences per task, e.g. 1024.")
    capture_options: dict[str, Any] = {"layer": layer, "state": state, "device": device}
    if batch_size is not None:
        capture_options["batch_size"] = check_int(batch_size, "batch_size", minimum=1)
    accumulator_options = {"metrics": metrics, "max_lag": max_lag, "regions": regions, "vector": vector}
    Accumulator(**accumulator_options)  # checks them here, before any task
    if source is None:
        pieces, shard_lengths, axis = _trajectory_shards(inputs, shards, lengths)
    elif shards is not None:
        if inputs is not None:
            raise RnndynError("pass either inputs (cut into shards of shard_size) or shards=, not both.")
        (pieces, shard_lengths), axis = _given_shards(shards, lengths), batch_axis
    else:
        pieces, shard_lengths, axis = _cut(inputs, shard_size, lengths, batch_axis, forward)
    dist = _distributed()
    capture_options.update(
        {
            k: v
            for k, v in {"collate": collate, "batch_axis": axis, "forward": forward}.items()
            if v is not None
        }
    )
    for name in ("collate", "forward"):
        if capture_options.get(name) is not None:
            _pickled(capture_options[name], name)
    with ExitStack() as stack:
        if client is None:
            stack.enter_context(_no_malloc_trim())
            cluster = stack.enter_context(
                dist.LocalCluster(
                    processes=True, threads_per_worker=1, host="127.0.0.1", dashboard_address="127.0.0.1:0"
                )
            )
            client = stack.enter_context(dist.Client(cluster))
        _check_client(client, dist)
        state = _run(client, source, pieces, shard_lengths, capture_options, accumulator_options)
    return Accumulator.from_dict(state)


def _source(model: Any, framework: str | None) -> ModelSource | None:
    if model is None:
        return None
    if isinstance(model, str | os.PathLike):
        path = os.fspath(model)
        if not isinstance(path, str) or not path.strip():
            raise RnndynError(f"model is an empty or non-text path ({model!r}); {_MODEL_FORMS}.")
        return ModelSource.of_path(os.path.abspath(path) if os.path.exists(path) else path, framework)
    if framework is not None:
        raise RnndynError("framework= applies to a model path only; a factory builds its model itself.")
    from .plugins import get_plugin_manager

    if get_plugin_manager().hook.rnndyn_claim_model(model=model) is not None:
        raise RnndynError(
            f"model is a model object ({type(model).__name__}), which would be pickled into every task "
            f"and rebuilt for each shard. Pass {_MODEL_FORMS}."
        )
    if not callable(model):
        raise RnndynError(f"model must be {_MODEL_FORMS}; got {type(model).__name__} {model!r:.60}.")
    try:
        inspect.signature(model).bind()
    except TypeError:
        raise RnndynError(
            f"the model factory {_name(model)} needs arguments; it must take none (bind them with "
            "functools.partial)."
        ) from None
    except ValueError:  # no signature to read (some builtins): let the worker try
        pass
    return ModelSource.of_factory(_pickled(model, "the model factory"), _name(model))


def _name(obj: Any) -> str:
    if isinstance(obj, functools.partial):
        return f"partial({_name(obj.func)}, ...)"
    return getattr(obj, "__qualname__", None) or repr(obj)[:80]


def _pickled(obj: Any, what: str) -> bytes:
    from distributed.protocol.pickle import dumps

    try:
        return dumps(obj)
    except Exception as exc:
        raise RnndynError(
            f"{what} {_name(obj)} cannot be pickled to send to the workers ({type(exc).__name__}: {exc}). "
            "Define it at module level in a module the workers can import, without open files, locks "
            "or live connections in it."
        ) from None


def _cut(
    inputs: Any, shard_size: int, lengths: Any, batch_axis: Any, forward: Any
) -> tuple[list[Any], list[Any], Any]:
    """Shards of ``shard_size`` sequences, their lengths, and the batch axis the workers must use."""
    from ._batching import plan_batches
    from ._inputs import entries
    from ._validation import check_batch_axis

    if isinstance(inputs, list):  # examples: cut the list, collated on the workers
        if not inputs:
            raise RnndynError("inputs is an empty list; it must hold at least one example.")
        n, pieces, axis = len(inputs), None, batch_axis
    else:
        plan = plan_batches(
            inputs, shard_size, adapter=None, collate=None, batch_axis=batch_axis, forward=forward
        )
        if plan.total is None:
            raise RnndynError(
                f"inputs is an iterable of batches ({type(inputs).__name__}), which rnndyn cannot cut "
                "into shards without running it here; pass the shards themselves as shards=[...] (each "
                "an array, or a function that loads one on the worker)."
            )
        n, pieces = plan.total, list(plan.batches)
        axes, default, _ = check_batch_axis(batch_axis)
        # tell the workers the axis cut here, for every argument: a model that reads another errs there
        axis = (
            default
            if not axes
            else {k: axes.get(k, default) for k, _ in entries(inputs, tuples=forward is not None) or []}
        )
    starts = range(0, n, shard_size)
    if pieces is None:
        pieces = [inputs[s : s + shard_size] for s in starts]
    full = check_lengths_arg(lengths, n)
    return pieces, [None if full is None else full[s : s + shard_size] for s in starts], axis


def _given_shards(shards: Any, lengths: Any) -> tuple[list[Any], list[Any]]:
    if isinstance(shards, str | bytes | Mapping) or not isinstance(shards, Sequence) or not len(shards):
        raise RnndynError(
            f"shards must be a non-empty list of shards (each what rnndyn.capture takes, or a function "
            f"that loads one on the worker); got {type(shards).__name__} {shards!r:.60}."
        )
    if lengths is None:
        return list(shards), [None] * len(shards)
    if isinstance(lengths, np.ndarray) or not isinstance(lengths, Sequence) or len(lengths) != len(shards):
        raise RnndynError(
            f"with shards=, lengths must be a list of {len(shards)} entries, one array of lengths (or None) "
            f"per shard; got {type(lengths).__name__} {lengths!r:.60}."
        )
    return list(shards), list(lengths)


def _trajectory_shards(inputs: Any, shards: Any, lengths: Any) -> tuple[list[Any], list[Any], None]:
    if inputs is not None or shards is None:
        raise RnndynError(
            "model=None accumulates trajectories that exist already: pass them as shards=[...] "
            "(each a Trajectories, or a function that loads one on the worker); otherwise pass "
            f"{_MODEL_FORMS}."
        )
    if lengths is not None:
        raise RnndynError("lengths= does not apply with model=None: trajectories carry their own lengths.")
    from .trajectories import Trajectories

    pieces = [Packed.of(p) if isinstance(p, Trajectories) else p for p in _given_shards(shards, None)[0]]
    return pieces, [None] * len(pieces), None


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise MissingExtraError(
            "rnndyn.distributed needs dask.distributed, which is not installed: pip install 'rnndyn[dask]'. "
            "rnndyn.capture(..., sink=rnndyn.stream.Accumulator(...)) streams on one machine without it."
        ) from None
    return distributed


def _check_client(client: Any, dist: Any) -> None:
    if not isinstance(client, dist.Client):
        raise RnndynError(
            f"client must be a distributed.Client (or None for a local cluster); got {type(client).__name__}."
        )
    if client.status != "running":
        raise RnndynError(
            f"the client is {client.status}, not running; pass a connected distributed.Client (or None "
            "to start a local cluster)."
        )


def _run(
    client: Client,
    source: ModelSource | None,
    pieces: list[Any],
    shard_lengths: list[Any],
    capture_options: dict[str, Any],
    accumulator_options: dict[str, Any],
) -> dict[str, Any]:
    """Submit one task per shard, merge the partials in a fixed pairwise tree, gather the root."""
    from distributed import KilledWorker
    from distributed.client import FutureCancelledError

    tag = uuid.uuid4().hex[:12]
    level: list[Future] = [
        client.submit(
            capture_shard,
            source,
            i,
            piece,
            shard_lengths[i],
            capture_options,
            accumulator_options,
            key=f"rnndyn-shard-{i}-{tag}",
        )
        for i, piece in enumerate(pieces)
    ]
    every = list(level)
    depth = 0
    while len(level) > 1:
        depth += 1
        merged = [
            client.submit(merge, level[j], level[j + 1], key=f"rnndyn-merge-{depth}-{j // 2}-{tag}")
            for j in range(0, len(level) - 1, 2)
        ]
        level = merged + level[len(level) - len(level) % 2 :]
        every += merged
    try:
        return level[0].result()
    except KilledWorker as exc:
        client.cancel(every)
        raise RnndynError(
            f"a task killed every worker that ran it ({exc}); Dask gave up after "
            "distributed.scheduler.allowed-failures tries. A shard that crashes its worker (out of "
            "memory? a segfault in the model?) is not counted: make shard_size or batch_size smaller, "
            "or raise allowed-failures when workers die for other reasons."
        ) from None
    except FutureCancelledError as exc:
        client.cancel(every)
        raise RnndynError(
            f"the cluster dropped the tasks ({exc}): the client was closed, or the scheduler or a worker "
            "could not unpickle a shard or an option (the scheduler's log says which; every worker needs "
            "the modules the shards and functions come from)."
        ) from None
    except BaseException:
        client.cancel(every)
        raise


@contextlib.contextmanager
def _no_malloc_trim() -> Iterator[None]:
    """Start workers without Dask's ``MALLOC_TRIM_THRESHOLD_`` (set by its nannies).

    That variable turns off glibc's adaptive mmap threshold, so every large
    temporary of a capture is mapped and unmapped again: measured 2.4x slower
    per shard (``benchmarks/scale.py``, docs/performance.md).
    """
    import dask

    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}) or {})
    environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}):
        yield
