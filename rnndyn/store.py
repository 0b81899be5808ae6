"""A capture on disk: a chunked, resumable zarr store, read back out of core.

``rnndyn.capture(model, inputs, ..., store="run.zarr")`` writes every batch
into a zarr v3 store as it is captured and keeps no trajectories in memory;
:func:`open_store` gives the store's :class:`~rnndyn.trajectories.Trajectories`,
its states a lazy dask array on which every metric and
:func:`rnndyn.summary.unit_summary` run chunk by chunk.

Layout (one chunk along the sequences = one capture batch):

* ``states`` -- ``(n_sequences, n_steps, n_units)``, the model's dtype;
* ``valid`` -- bool ``(n_sequences, n_steps)``, :attr:`rnndyn.Steps.valid`;
* ``orders/<i>`` -- int64 ``(n_sequences, n_steps)``, explicit processing
  orders, for the keys listed in the attributes;
* ``inputs`` -- the raw examples when they are str (their UTF-32 code points,
  uint32 ``(n_sequences, width)``) or numeric arrays of one shape;
* the group attribute ``rnndyn``: the unit table, ``order``, ``masked``, the
  model's class, layers and states, ``batch_size``, the versions of rnndyn and
  the framework, the sha256 fingerprints of the inputs and of the call, and
  ``created``;
* ``rnndyn-progress.json`` -- what a resumed capture must match and which
  batches are complete, with the sha256 of each one's chunks (see
  :mod:`rnndyn._store_files`).

A capture killed at any point and run again with the same call continues
after the last complete batch (the model never sees the inputs of the
batches already stored) and ends with the store an uninterrupted capture
writes. Every chunk read is checked against its sha256; no store part is
ever unpickled (zarr v3 has no pickles, and rnndyn stores no object arrays).
Store ``store=`` needs inputs rnndyn batches itself (arrays, ``rnndyn.Args``,
dicts, dataclasses, lists of examples): a one-shot iterable cannot be
resumed or checked, so it is refused.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ._store_codec import array_digest, codes_str, units_frame
from ._store_files import FORMAT, import_zarr, read_progress
from .errors import RnndynError
from .steps import Steps
from .trajectories import Trajectories

__all__ = ["open_store", "store_info", "FORMAT"]


def _record(path: str | os.PathLike) -> tuple[Path, dict[str, Any]]:
    text = os.fspath(path)
    where = Path(os.path.expanduser(text)).absolute()
    if not where.is_dir():
        what = "a file" if where.exists() else "no such folder"
        raise RnndynError(f"{text}: {what}; give a store written by rnndyn.capture(..., store=path).")
    record = read_progress(where)
    if record is None:
        raise RnndynError(
            f"{text} is not an rnndyn store (no rnndyn-progress.json); write one with "
            "rnndyn.capture(model, inputs, ..., store=path)."
        )
    return where, record


def store_info(path: str | os.PathLike) -> dict[str, Any]:
    """What the store at ``path`` holds: its metadata, plus ``complete_batches``.

    Examples
    --------
    >>> import tempfile, os, numpy as np, rnndyn
    >>> from rnndyn_numpyrnn import NumpyRNN
    >>> model = NumpyRNN.random(n_inputs=2, n_units=3, seed=0)
    >>> x = np.random.default_rng(0).normal(size=(10, 5, 2))
    >>> path = os.path.join(tempfile.mkdtemp(), "run.zarr")
    >>> _ = rnndyn.capture(model, x, batch_size=4, progress=False, store=path)
    >>> info = store_info(path)
    >>> info["model"], info["layers"], info["batch_size"], info["complete_batches"], info["n_batches"]
    ('rnndyn_numpyrnn.model.NumpyRNN', ['rnn'], 4, 3, 3)
    """
    where, record = _record(path)
    done = len(record["complete"])
    if not done:
        return {"format": FORMAT, "complete_batches": 0, "n_batches": record["n_batches"]}
    zarr = import_zarr()

    attrs = dict(zarr.open_group(where, mode="r", zarr_format=3).attrs["rnndyn"])
    attrs["complete_batches"] = done
    return attrs


def open_store(path: str | os.PathLike, *, partial: bool = False) -> Trajectories:
    """The :class:`~rnndyn.trajectories.Trajectories` of a store, states as a lazy dask array.

    Parameters
    ----------
    path : str or path-like
        A store written by ``rnndyn.capture(..., store=path)``.
    partial : bool, default False
        Open the complete batches of a capture that did not finish (killed,
        disk full); by default such a store is refused.

    Returns
    -------
    Trajectories
        ``states`` is a dask array with one chunk per capture batch; each
        chunk is checked against the sha256 recorded when it was written,
        when it is read. ``steps``, ``units`` and ``inputs`` are in memory.

    Raises
    ------
    RnndynError
        Not an rnndyn store; an incomplete capture (without ``partial``); a
        corrupted chunk (named by its index).

    Examples
    --------
    >>> import tempfile, os, numpy as np, rnndyn
    >>> from rnndyn_numpyrnn import NumpyRNN
    >>> model = NumpyRNN.random(n_inputs=2, n_units=3, seed=0)
    >>> x = np.random.default_rng(0).normal(size=(10, 5, 2))
    >>> path = os.path.join(tempfile.mkdtemp(), "run.zarr")
    >>> _ = rnndyn.capture(model, x, lengths=[5] * 9 + [3], batch_size=4, progress=False, store=path)
    >>> traj = open_store(path)
    >>> traj.shape, traj.states.chunks[0], traj.lengths.tolist()[-2:]
    ((10, 5, 3), (4, 4, 2), [5, 3])
    >>> mem = rnndyn.capture(model, x, lengths=[5] * 9 + [3], batch_size=4, progress=False)
    >>> bool(np.allclose(rnndyn.metrics.msd(traj, max_lag=3), rnndyn.metrics.msd(mem, max_lag=3)))
    True
    """
    where, record = _record(path)
    done, n_batches = len(record["complete"]), int(record["n_batches"])
    if done < n_batches and not partial:
        raise RnndynError(
            f"{os.fspath(path)}: incomplete: {done} of {n_batches} batches; run the same capture again to "
            "resume (or rnndyn.open_store(path, partial=True) for the complete batches)."
        )
    if not done:
        raise RnndynError(
            f"{os.fspath(path)}: incomplete: 0 of {n_batches} batches, nothing to open; run the same "
            "capture again to resume."
        )
    zarr = import_zarr()

    try:
        group = zarr.open_group(where, mode="r", zarr_format=3)
        attrs = group.attrs["rnndyn"]
        bs = int(attrs["batch_size"])
        n = min(done * bs, int(attrs["n_sequences"]))
        valid = np.asarray(group["valid"][:n])
        orders = [np.asarray(group[f"orders/{i}"][:n]) for i in range(len(attrs["orders"]))]
        codes = np.asarray(group["inputs"][:n]) if attrs["inputs"] in ("str", "arrays") else None
        states = group["states"]
    except (KeyError, ValueError, TypeError, OSError) as exc:
        raise RnndynError(
            f"{os.fspath(path)}: the store is damaged ({type(exc).__name__}: {exc}); capture it again."
        ) from None
    for k, entry in enumerate(record["complete"]):
        sl = slice(k * bs, min((k + 1) * bs, n))
        rows = [valid[sl], *(o[sl] for o in orders)] + ([] if codes is None else [codes[sl]])
        if array_digest(*rows) != entry["rows"]:
            raise RnndynError(
                f"{os.fspath(path)}: chunk {k} (sequences {sl.start}..{sl.stop - 1}) of valid/orders/inputs "
                "is corrupted: its sha256 differs from the one recorded when it was written. Capture "
                "again into a new store."
            )
    inputs: Any = None
    if codes is not None:
        inputs = [str(s) for s in codes_str(codes)] if attrs["inputs"] == "str" else list(codes)
    steps = Steps(
        valid,
        masked=attrs["masked"],
        orders={(k[0], k[1]): o for k, o in zip(attrs["orders"], orders, strict=True)},
    )
    units = units_frame(attrs["units"]["columns"], attrs["units"]["dtypes"], attrs["units"]["values"])
    lazy = _lazy_states(where, states, n, bs, [e["states"] for e in record["complete"]])
    return Trajectories(
        lazy, units=units, inputs=inputs, order=attrs["order"], steps=steps, _check_finite=False
    )


class _VerifiedChunks:
    """The states array of a store, read whole chunks at a time and each checked against its sha256."""

    def __init__(self, where: Path, array: Any, n: int, bs: int, digests: list[str]) -> None:
        self.where, self.array, self.bs, self.digests = where, array, bs, digests
        self.shape = (n, *array.shape[1:])
        self.dtype = np.dtype(
            array.dtype.to_native_dtype() if hasattr(array.dtype, "to_native_dtype") else array.dtype
        )
        self.ndim = 3

    def chunk(self, k: int) -> np.ndarray:
        sl = slice(k * self.bs, min((k + 1) * self.bs, self.shape[0]))
        try:
            data = np.asarray(self.array[sl])
        except Exception as exc:  # noqa: BLE001 - any failure to decode is a damaged chunk
            raise RnndynError(
                f"{self.where}: chunk {k} of states (sequences {sl.start}..{sl.stop - 1}) cannot be read "
                f"({type(exc).__name__}: {exc}); the store is damaged. Capture again into a new store."
            ) from None
        if array_digest(data) != self.digests[k]:
            raise RnndynError(
                f"{self.where}: chunk {k} of states (sequences {sl.start}..{sl.stop - 1}) is corrupted: its "
                "sha256 differs from the one recorded when it was written; it is not read as data. "
                "Capture again into a new store."
            )
        return data

    def __getitem__(self, key: Any) -> np.ndarray:
        key = key if isinstance(key, tuple) else (key,)
        first = key[0] if key else slice(None)
        rest = key[1:]
        if isinstance(first, slice):
            start, stop, step = first.indices(self.shape[0])
            if step != 1 or stop <= start:
                return (
                    np.asarray(self[(slice(None), *rest)])[first]
                    if stop > start
                    else np.empty((0, *self.shape[1:]), self.dtype)[(slice(None), *rest)]
                )
            k0, k1 = start // self.bs, (stop - 1) // self.bs
            data = np.concatenate([self.chunk(k) for k in range(k0, k1 + 1)])
            return data[(slice(start - k0 * self.bs, stop - k0 * self.bs), *rest)]
        idx = np.arange(self.shape[0])[first]  # an int or an index array
        ks = np.unique(np.atleast_1d(idx) // self.bs)
        whole = {int(k): self.chunk(int(k)) for k in ks}
        pick = np.atleast_1d(idx)
        data = np.stack([whole[int(i) // self.bs][int(i) % self.bs] for i in pick])
        data = data[(slice(None), *rest)]
        return data[0] if np.ndim(idx) == 0 else data


def _lazy_states(where: Path, array: Any, n: int, bs: int, digests: list[str]) -> Any:
    import dask.array as da

    source = _VerifiedChunks(where, array, n, bs, digests)
    name = "rnndyn-store-" + array_digest(np.frombuffer((str(where) + "".join(digests)).encode(), np.uint8))
    return da.from_array(
        source,
        chunks=(bs, *source.shape[1:]),
        name=name,
        asarray=True,
        lock=False,
        fancy=False,
        meta=np.empty((0, 0, 0), dtype=source.dtype),
    )
