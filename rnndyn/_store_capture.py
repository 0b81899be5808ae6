"""``capture(..., store=path)``: write a capture batch by batch into a zarr store, resumably.

The store is described in :mod:`rnndyn.store` (layout) and
:mod:`rnndyn._store_files` (the progress record). Here: check that the
store holds this very call (or nothing yet), skip the batches it already
holds without running the model on them, and write every other batch's rows
(states, valid, orders, inputs), sync them, then record the batch as
complete.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import itertools
import json
import math
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ._batching import _checked_collate, _example_batches, default_collate
from ._capture_run import CaptureRun
from ._store_codec import array_digest, fingerprint_inputs, inputs_arrays, str_codes, units_columns
from ._store_files import FORMAT, claim, clear_arrays, disk_errors, import_zarr, sync_chunks, write_progress
from ._validation import to_numpy
from .errors import RnndynError
from .steps import Steps
from .trajectories import Trajectories

__all__ = ["capture_to_store"]

_WHAT = {
    "model": "the model class",
    "targets": "the layers and states",
    "batch_size": "batch_size",
    "lengths": "lengths",
    "batch_axis": "batch_axis",
    "inputs": "the inputs",
    "n_sequences": "the number of sequences",
}


def _call(model: Any, run: CaptureRun, inputs: Any, batch_size: int, batch_axis: Any) -> dict[str, Any]:
    lengths = run.splitter.lengths
    if isinstance(batch_axis, dict):
        axis = repr(sorted(((str(k), v) for k, v in batch_axis.items()), key=repr))
    else:
        axis = repr(batch_axis)
    raw = run.plan.raw_inputs
    return {
        "model": f"{type(model).__module__}.{type(model).__qualname__}",
        "targets": [list(t) for t in run.targets],
        "batch_size": int(batch_size),
        "lengths": None if lengths is None else array_digest(np.asarray(lengths, dtype=np.int64)),
        "batch_axis": axis,
        "inputs": fingerprint_inputs(raw if raw is not None else inputs),
        "n_sequences": int(run.plan.total or 0),
    }


def _differences(stored: dict[str, Any], call: dict[str, Any]) -> list[str]:
    out = []
    for key, what in _WHAT.items():
        a, b = stored.get(key), call.get(key)
        if a != b:
            verb = "differ" if key in ("inputs", "lengths", "targets") else "differs"
            if key in ("inputs", "lengths"):
                a, b = f"sha256 {str(a)[:12]}...", f"sha256 {str(b)[:12]}..."
            out.append(f"{what} {verb} ({a} stored, {b} now)")
    return out


def _versions(model: Any, adapter: Any) -> dict[str, Any]:
    from . import __version__

    root = type(model).__module__.split(".")[0]
    version = getattr(sys.modules.get(root), "__version__", None)
    if version is None:
        try:
            version = importlib.metadata.version(root)
        except importlib.metadata.PackageNotFoundError:
            version = None
    framework = str(getattr(adapter, "framework", root))
    return {"rnndyn": __version__, "framework": framework, root: None if version is None else str(version)}


def capture_to_store(
    store: str | os.PathLike,
    run: CaptureRun,
    *,
    model: Any,
    inputs: Any,
    batch_size: int,
    batch_axis: Any,
    collate: Any,
    forward: Any,
) -> Trajectories:
    """Run the prepared capture ``run`` into the store at ``store``; the store's Trajectories."""
    from .store import open_store

    path = Path(os.path.expanduser(os.fspath(store))).absolute()
    plan = run.plan
    try:
        import_zarr()  # before anything is written
        if plan.total is None:
            raise RnndynError(
                "store= needs inputs rnndyn cuts into batches itself (an array, rnndyn.Args, a dict or "
                "dataclass of arrays, or a list of examples): an iterable of batches (a DataLoader, a "
                "generator) or inputs an adapter splits can be read only once, so a killed capture "
                "could not be resumed or checked. Pass the arrays, or a list of examples with collate=."
            )
        call = _call(model, run, inputs, batch_size, batch_axis)
        total = call["n_sequences"]
        n_batches = math.ceil(total / batch_size)
        record = claim(path)
        if record is None:
            record = {"format": FORMAT, "call": call, "n_batches": n_batches, "complete": []}
            with disk_errors(path, "creating the store"):
                write_progress(path, record)
        differ = _differences(record.get("call", {}), call)
        if differ:
            raise RnndynError(
                f"store={os.fspath(store)} holds another capture: {'; '.join(differ)}. Use a new store "
                "path, or run the very call that made it to resume it."
            )
        done = len(record["complete"])
        if done < n_batches:
            _skip(run, done, batch_size, collate, forward)
            _Writer(path, record, run, model, batch_size).write_all(done)
    finally:
        run.close()
    return open_store(path)


def _skip(run: CaptureRun, done: int, batch_size: int, collate: Any, forward: Any) -> None:
    """Start the capture at batch ``done``: its inputs are never fed to the model."""
    if not done:
        return
    plan = run.plan
    start = done * batch_size
    if plan.raw_inputs is not None:
        rest = plan.raw_inputs[start:]
        plan.batches = _checked_collate(
            _example_batches(rest, batch_size, collate if collate is not None else default_collate), forward
        )
    else:
        plan.batches = itertools.islice(plan.batches, done, None)  # cutting an array runs nothing
    plan.total = (plan.total or 0) - start
    run.splitter.offset = start


class _Writer:
    """Writes batches ``done``, ``done + 1``, ... of ``run`` into the store at ``path``."""

    def __init__(self, path: Path, record: dict[str, Any], run: CaptureRun, model: Any, batch_size: int):
        self.path, self.record, self.run, self.model, self.bs = path, record, run, model, batch_size
        self.total = int(record["call"]["n_sequences"])
        raw = run.plan.raw_inputs
        self.kind, found = inputs_arrays(raw) if raw is not None else ("none", {})
        encoded = found.get("inputs")
        self.inputs = str_codes(encoded) if self.kind == "str" and encoded is not None else encoded
        self.group: Any = None
        self.keys: list[tuple[str, str]] = []

    def _after(self) -> str:
        n = len(self.record["complete"])
        return (
            f"The store holds its first {n} complete batch(es) of {self.record['n_batches']} and stays "
            "readable (rnndyn.open_store(path, partial=True)); fix the cause and run the same capture "
            "again to resume."
        )

    def write_all(self, done: int) -> None:
        zarr = import_zarr()

        if done:
            with disk_errors(self.path, "opening the store", self._after):
                self.group = zarr.open_group(self.path, mode="r+", zarr_format=3)
            self.keys = [(k[0], k[1]) for k in self.group.attrs["rnndyn"]["orders"]]
        for k, part in enumerate(self.run, start=done):
            with disk_errors(self.path, f"writing batch {k}", self._after):
                if self.group is None:
                    self._create(part)
                self._write(k, part)
        if len(self.record["complete"]) != self.record["n_batches"]:
            raise RnndynError(  # pragma: no cover - CaptureRun checks the batch count
                f"store={self.path}: the capture gave {len(self.record['complete'])} batches, expected "
                f"{self.record['n_batches']} (a bug in the adapter)."
            )

    def _create(self, part: Trajectories) -> None:
        zarr = import_zarr()

        clear_arrays(self.path)
        n, (_, T, U) = self.total, part.shape
        states = to_numpy(part.states)
        self.keys = sorted(part.steps.orders)
        columns, dtypes, arrays = units_columns(part.units)
        call = self.record["call"]
        attrs = {
            "format": FORMAT,
            "n_sequences": n,
            "n_steps": T,
            "batch_size": self.bs,
            "n_batches": self.record["n_batches"],
            "order": part.order,
            "masked": part.masked,
            "orders": [list(k) for k in self.keys],
            "units": {"columns": columns, "dtypes": dtypes, "values": [a.tolist() for a in arrays]},
            "inputs": self.kind if self.inputs is not None else "none",
            "model": call["model"],
            "layers": list(dict.fromkeys(t[0] for t in call["targets"])),
            "states": list(dict.fromkeys(t[1] for t in call["targets"])),
            "versions": _versions(self.model, self.run.adapter),
            "fingerprints": {
                "inputs": call["inputs"],
                "call": array_digest(np.frombuffer(json.dumps(call, sort_keys=True).encode(), np.uint8)),
            },
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        }
        g = zarr.open_group(self.path, mode="a", zarr_format=3)  # new: clear_arrays removed zarr.json
        g.update_attributes({"rnndyn": attrs})
        bs = self.bs
        g.create_array("states", shape=(n, T, U), chunks=(bs, T, U), dtype=states.dtype, compressors=None)
        g.create_array("valid", shape=(n, T), chunks=(bs, T), dtype=bool, compressors=None)
        for i in range(len(self.keys)):
            g.create_array(f"orders/{i}", shape=(n, T), chunks=(bs, T), dtype=np.int64, compressors=None)
        if self.inputs is not None:
            shape = self.inputs.shape
            g.create_array(
                "inputs", shape=shape, chunks=(bs, *shape[1:]), dtype=self.inputs.dtype, compressors=None
            )
        self.group = g

    def _orders(self, steps: Steps) -> list[np.ndarray]:
        default = Steps(steps.valid, masked=steps.masked)
        for key in steps.orders:
            if key not in self.keys and not np.array_equal(steps.order(*key), default.order(*key)):
                raise RnndynError(
                    f"store=: a later batch has an explicit processing order for {key}, which the first "
                    "batch did not have; a store keeps the orders the first batch has. Capture into "
                    "memory (no store=) for this model."
                )
        return [np.asarray(steps.order(*key), dtype=np.int64) for key in self.keys]

    def _write(self, k: int, part: Trajectories) -> None:
        g = self.group
        start = k * self.bs
        stop = min(start + self.bs, self.total)
        if part.n_sequences != stop - start:
            raise RnndynError(  # pragma: no cover - CaptureRun checks the batch sizes
                f"store=: batch {k} holds {part.n_sequences} sequences, expected {stop - start}."
            )
        states = np.ascontiguousarray(to_numpy(part.states), dtype=g["states"].dtype)
        valid = np.asarray(part.steps.valid, dtype=bool)
        orders = self._orders(part.steps)
        rows = [valid, *orders]
        if self.inputs is not None:
            rows.append(self.inputs[start:stop])
            g["inputs"][start:stop] = self.inputs[start:stop]
        g["valid"][start:stop] = valid
        for i, order in enumerate(orders):
            g[f"orders/{i}"][start:stop] = order
        g["states"][start:stop] = states
        names = ["states", "valid"] + [f"orders/{i}" for i in range(len(orders))]
        sync_chunks(self.path, names + (["inputs"] if self.inputs is not None else []), k)
        entry = {"states": array_digest(states), "rows": array_digest(*rows)}
        record = dict(self.record, complete=[*self.record["complete"], entry])
        write_progress(self.path, record)
        self.record["complete"] = record["complete"]
