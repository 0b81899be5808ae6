"""The rnndyn adapter for JAX/Flax NNX models (``nnx.RNN``, ``nnx.Bidirectional``, scanned cells).

During a capture each target ``nnx.RNN`` object gets, for the duration of
the batch, a recording subclass of its own class (its ``__call__`` calls the
original and keeps what went in and out); the states and gates are then
replayed from those records (:mod:`rnndyn_flax._replay`). Each batch runs
compiled with :func:`jax.jit` (:mod:`rnndyn_flax._traced`), or eagerly when
the model cannot be traced. The classes, the
``train``/``eval`` flags and every RNG count are restored in a ``finally``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import nullcontext
from typing import Any

import jax
import numpy as np
import pandas as pd
from flax import nnx

from rnndyn import PluginError, Steps, Trajectories
from rnndyn.adapter import Batch, LayerInfo, call_model, check_targets, units_table

from ._layers import Entry, discover
from ._replay import Call, processing_order, replay, resolve
from ._scan import CELL_RECORDS, cell_states, recording_cell, scans_recorded
from ._traced import traced_records

__all__ = ["FlaxAdapter"]

_FLAGS = ("deterministic", "use_running_average")
_LOCK = threading.Lock()
_RECORDS: dict[int, list[tuple[Any, Any, dict[str, Any], Any]]] = {}
_SUBCLASSES: dict[type, type] = {}


def _recording(cls: type) -> type:
    """A subclass of ``cls`` whose ``__call__`` records each call in :data:`_RECORDS`."""
    if cls not in _SUBCLASSES:

        def __call__(self: Any, inputs: Any, **kwargs: Any) -> Any:
            out = cls.__call__(self, inputs, **kwargs)
            _RECORDS[id(self)].append((self, inputs, kwargs, out))
            return out

        _SUBCLASSES[cls] = type(cls.__name__, (cls,), {"__call__": __call__, "__module__": cls.__module__})
    return _SUBCLASSES[cls]


class FlaxAdapter:
    """Captures ``h``, ``c`` and the gates of the ``nnx.RNN`` layers of a Flax NNX model.

    Parameters
    ----------
    model : flax.nnx.Module
        Called as the user calls it (``model(x)``, ``model(*Args)``, or ``forward=``).

    Examples
    --------
    >>> from flax import nnx
    >>> rnn = nnx.RNN(nnx.LSTMCell(3, 4, rngs=nnx.Rngs(0)))
    >>> [(i.name, i.type, i.states, i.layout) for i in FlaxAdapter(rnn).layers()]
    [('rnn', 'LSTM', ('h', 'c', 'i', 'f', 'g', 'o'), 'batch-first')]
    """

    framework = "flax"
    input_forms = frozenset({"args", "forward"})

    def __init__(self, model: Any) -> None:
        self.model = model

    def layers(self) -> list[LayerInfo]:
        """Every ``nnx.RNN``/``nnx.Bidirectional`` of the model (see :mod:`rnndyn_flax._layers`)."""
        return [e.info for e in discover(self.model).values()]

    def batch_axis(self, key: int | str, value: Any) -> int | None:
        """The sequences' axis of an argument, known when the model is itself an RNN layer."""
        if not isinstance(self.model, nnx.RNN | nnx.Bidirectional):
            return None
        if key == 0:
            return 1 if self.model.time_major else 0
        return 0 if key == "seq_lengths" else None

    def capture(
        self, batches: Iterable[Batch], targets: Sequence[tuple[str, str]], *, device: Any = None
    ) -> Iterator[Trajectories]:
        """Run each batch through the model; yield float32 ``(sequences, steps, units)`` trajectories.

        ``device=None`` gives numpy arrays; a ``jax.Device`` or a platform
        name (``"cpu"``, ``"gpu"``) gives JAX arrays on that device.
        """
        check_targets(targets)
        targets = [tuple(t) for t in targets]
        found = discover(self.model)
        for name, state in targets:
            if name not in found or state not in found[name].info.states:
                listing = ", ".join(f"{e.name} ({', '.join(e.info.states)})" for e in found.values())
                raise PluginError(
                    f"No layer/state {name}/{state} in this model; it has: {listing or 'none'}."
                )
        dev = _device(device)
        entries = [found[name] for name in dict.fromkeys(n for n, _ in targets)]
        rnns = {id(rnn): rnn for e in entries for _, rnn in e.rnns}
        cells = {id(e.cell): e.cell for e in entries if e.cell is not None}
        units = pd.concat(
            [units_table(n, s, found[n].info.directions, found[n].info.n_units) for n, s in targets],
            ignore_index=True,
        )
        flags = [
            (m, f, getattr(m, f)) for _, m in nnx.iter_modules(self.model) for f in _FLAGS if hasattr(m, f)
        ]
        rng = nnx.clone(nnx.state(self.model, nnx.RngState))
        classes = {k: type(r) for k, r in (rnns | cells).items()}
        with _LOCK:
            if any(k in _RECORDS for k in rnns) or any(k in CELL_RECORDS for k in cells):
                raise PluginError("a layer of this model is being captured by another thread already.")
            for k in rnns:
                _RECORDS[k] = []
            for k in cells:
                CELL_RECORDS[k] = []
        try:
            self.model.eval()
            for k, rnn in rnns.items():
                object.__setattr__(rnn, "__class__", _recording(classes[k]))  # not nnx's __setattr__
            for k, cell in cells.items():
                object.__setattr__(cell, "__class__", recording_cell(classes[k]))
            keys = {(e.name, d): id(rnn) for e in entries for d, rnn in e.rnns}
            # a scanned cell runs eagerly (jax.disable_jit); nnx.RNN layers compiled when they can
            traced, split = not cells, nnx.split(self.model)

            def finish(batch: Batch, got: dict[Any, Any] | None) -> Trajectories:
                if got is not None:  # compiled: the recorded calls came back as outputs
                    for key, k in keys.items():
                        _RECORDS[k] = [(rnns[k], x, kw, out) for x, kw, out in got.get(key, [])]
                traj = _assemble(entries, targets, units, batch)
                return traj if dev is None else traj._replace(states=jax.device_put(traj.states, dev))

            # compiled calls are dispatched asynchronously: batch k + 1 runs while batch k is assembled
            pending: tuple[Batch, dict[Any, Any]] | None = None
            for batch in batches:
                for k in rnns:
                    _RECORDS[k].clear()
                for k in cells:
                    CELL_RECORDS[k].clear()
                got = None
                if traced:
                    try:
                        got = traced_records(split, batch)
                    except Exception:  # noqa: BLE001 - not traceable: run eagerly, errors surface there
                        traced = False
                if pending is not None:
                    yield finish(*pending)
                    pending = None
                if got is not None:
                    pending = (batch, got)
                    continue
                with scans_recorded() if cells else nullcontext():
                    call_model(self.model, batch)
                yield finish(batch, None)
            if pending is not None:
                yield finish(*pending)
        finally:
            for k, module in (rnns | cells).items():
                object.__setattr__(module, "__class__", classes[k])
            for module, flag, value in flags:
                setattr(module, flag, value)
            nnx.update(self.model, rng)
            with _LOCK:
                for k in rnns:
                    _RECORDS.pop(k, None)
                for k in cells:
                    CELL_RECORDS.pop(k, None)


def _device(device: Any) -> Any:
    if device is None or isinstance(device, jax.Device):
        return device
    if isinstance(device, str):
        try:
            return jax.devices(device)[0]
        except RuntimeError as exc:
            raise PluginError(f"device={device!r}: JAX has no such platform ({exc}).") from None
    raise PluginError(f"device must be None, a jax.Device or a platform name like 'cpu'; got {device!r}.")


def _call_of(entry: Entry, direction: str, rnn: Any) -> tuple[Call, Any]:
    """The one call of ``rnn`` that ran ``direction`` in this batch."""
    calls = [resolve(r, x, kw, out) for r, x, kw, out in _RECORDS[id(rnn)]]
    match = [c for c in calls if c.reverse == (direction == "backward")]
    if len(match) != 1:
        raise PluginError(
            f"layer {entry.name!r} ({direction}) ran {len(match)} times in one batch (of {len(calls)} "
            "calls of its nnx.RNN); rnndyn captures a layer called once per model call, in the "
            "direction it was built for (reverse=)."
        )
    return match[0], rnn


def _assemble(
    entries: list[Entry], targets: Sequence[tuple[str, str]], units: pd.DataFrame, batch: Batch
) -> Trajectories:
    wanted: dict[str, set[str]] = {}
    for name, state in targets:
        wanted.setdefault(name, set()).add(state)
    got: dict[tuple[str, str, str], np.ndarray] = {}
    lengths: np.ndarray | None = None
    orders: dict[tuple[str, str], np.ndarray] = {}
    for entry in entries:
        if entry.cell is not None:
            found, order = cell_states(entry.name, entry.cell, entry.kind, wanted[entry.name])
            for state, arr in found.items():
                got[(entry.name, state, "forward")] = arr
            if order is not None:
                orders[(entry.name, "forward")] = order
        for direction, rnn in entry.rnns:
            call, rnn = _call_of(entry, direction, rnn)
            if call.seq_lengths is not None:
                if lengths is not None and not np.array_equal(lengths, call.seq_lengths):
                    raise PluginError("the captured layers were called with different seq_lengths.")
                lengths = call.seq_lengths
                if call.reverse and (call.seq_lengths < call.x.shape[1]).any():
                    orders[(entry.name, direction)] = processing_order(call)
            for state, arr in replay(rnn, entry.kind, call, wanted[entry.name]).items():
                got[(entry.name, state, direction)] = arr
    states = np.concatenate(
        [got[(name, state, d)] for name, state in targets for d in _directions(entries, name)], axis=2
    )
    n, T = states.shape[:2]
    given = None if batch.lengths is None else np.asarray(batch.lengths, np.int64)
    if given is not None and lengths is not None and not np.array_equal(given, lengths):
        raise PluginError(
            f"batch {batch.index}: lengths= {given.tolist()[:8]} differ from the model's seq_lengths "
            f"{lengths.tolist()[:8]}; pass the same, or only one of them."
        )
    lengths = lengths if lengths is not None else given
    valid = np.arange(T)[None, :] < lengths[:, None] if lengths is not None else np.ones((n, T), bool)
    return Trajectories(states, units=units, steps=Steps(valid, orders=orders))


def _directions(entries: list[Entry], name: str) -> list[str]:
    return next(list(e.info.directions) for e in entries if e.name == name)
