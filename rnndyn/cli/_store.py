"""The trajectory file of ``rnndyn capture``: a plain ``.npz``, read without pickles.

Until the resumable store lands, ``rnndyn capture`` writes one ``.npz``
(:func:`numpy.savez`, uncompressed) holding plain arrays only, so that
``np.load(path, allow_pickle=False)`` reads every part of it:

* ``rnndyn_format`` -- the marker, the str :data:`FORMAT`;
* ``states`` -- ``(n_sequences, n_steps, n_units)``, the dtype the model gave;
* ``valid`` -- bool ``(n_sequences, n_steps)``, :attr:`rnndyn.Steps.valid`;
* ``units.<column>`` -- one array per column of the unit table;
* ``orders.<i>`` -- explicit processing orders (:attr:`rnndyn.Steps.orders`), if any;
* ``inputs`` -- the raw inputs when they are str (one per sequence) or
  numeric arrays of one shape;
* ``model_inputs`` -- the numeric array fed to the model, when there is one;
* ``header`` -- a JSON str: the format, ``order``, ``masked``, the unit
  columns and dtypes, the keys of the explicit orders, how ``inputs`` was
  stored, and ``meta`` (provenance: model, layer, states, versions, the
  inputs file and its sha256).

The file is written atomically (a hidden temporary file in the same folder,
then :func:`os.replace`), and an existing file is replaced only when it is an
rnndyn trajectory file (it carries the marker).
"""

from __future__ import annotations

import json
import os
import secrets
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .._store_codec import inputs_arrays, units_columns, units_frame
from ..errors import RnndynError
from ..steps import Steps
from ..trajectories import Trajectories

__all__ = ["FORMAT", "save", "load", "is_store", "check_out"]

#: The marker of an rnndyn trajectory file (key ``rnndyn_format``).
FORMAT = "rnndyn-trajectories/1"


def is_store(path: str | os.PathLike) -> bool:
    """Whether ``path`` is an rnndyn trajectory file (a zip holding the marker), read without loading it.

    Examples
    --------
    >>> is_store("no/such/file.npz")
    False
    """
    try:
        with zipfile.ZipFile(path) as zf:
            if "rnndyn_format.npy" not in zf.namelist():
                return False
        with np.load(path, allow_pickle=False) as npz:
            return str(npz["rnndyn_format"]) == FORMAT
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError):
        return False


def check_out(out: str | os.PathLike, *, overwrite: bool = True) -> Path:
    """Refuse an ``--out`` that rnndyn may not write; return its absolute path.

    Refused: a path not ending in ``.npz``, a folder, a symbolic link, a file
    that is not an rnndyn trajectory file, any existing file when
    ``overwrite`` is False, and a path whose folder does not exist.

    Examples
    --------
    >>> check_out("traj.csv")
    Traceback (most recent call last):
    ...
    rnndyn.errors.RnndynError: --out traj.csv must end with .npz (the trajectory file is a numpy .npz).
    """
    text = os.fspath(out)
    if not str(text).lower().endswith(".npz"):
        raise RnndynError(f"--out {text} must end with .npz (the trajectory file is a numpy .npz).")
    path = Path(os.path.expanduser(text)).absolute()
    if not path.parent.is_dir():
        raise RnndynError(f"--out {text}: the folder {path.parent} does not exist; create it first.")
    if path.is_symlink():
        raise RnndynError(f"--out {text} is a symbolic link; rnndyn does not write through links.")
    if path.is_dir():
        raise RnndynError(f"--out {text} is a folder; give a file name ending in .npz.")
    if path.exists():
        if not is_store(path):
            raise RnndynError(
                f"--out {text} exists and is not an rnndyn trajectory file; rnndyn never overwrites a "
                "file it did not write. Choose another name or move that file away."
            )
        if not overwrite:
            raise RnndynError(
                f"--out {text} exists (an earlier rnndyn trajectory file) and --no-overwrite was given; "
                "choose another name or drop --no-overwrite."
            )
    return path


def save(
    traj: Trajectories,
    path: str | os.PathLike,
    *,
    meta: Mapping[str, Any] | None = None,
    model_inputs: np.ndarray | None = None,
    overwrite: bool = True,
) -> Path:
    """Write ``traj`` (numpy states) and ``meta`` to the ``.npz`` at ``path``, atomically.

    Examples
    --------
    >>> import tempfile, os, numpy as np, rnndyn
    >>> traj = rnndyn.Trajectories(np.arange(12.0).reshape(2, 3, 2), lengths=[3, 1])
    >>> path = save(traj, os.path.join(tempfile.mkdtemp(), "t.npz"), meta={"layer": "rnn"})
    >>> back, meta = load(path)
    >>> np.array_equal(back.states, traj.states), back.lengths.tolist(), meta["layer"]
    (True, [3, 1], 'rnn')
    """
    dest = check_out(path, overwrite=overwrite)
    states = np.asarray(traj.states)
    arrays: dict[str, np.ndarray] = {
        "rnndyn_format": np.asarray(FORMAT),
        "states": states,
        "valid": np.asarray(traj.steps.valid),
    }
    columns, dtypes, unit_arrays = units_columns(traj.units)
    for i, arr in enumerate(unit_arrays):
        arrays[f"units.{i}"] = arr
    keys = [list(k) for k in traj.steps.orders]
    for i, order in enumerate(traj.steps.orders.values()):
        arrays[f"orders.{i}"] = np.asarray(order)
    kind, inputs = inputs_arrays(traj.inputs)
    arrays.update(inputs)
    if model_inputs is not None:
        arrays["model_inputs"] = np.asarray(model_inputs)
    header = {
        "format": FORMAT,
        "order": traj.order,
        "masked": traj.masked,
        "units": columns,
        "dtypes": dtypes,
        "orders": keys,
        "inputs": kind,
        "meta": dict(meta or {}),
    }
    arrays["header"] = np.asarray(json.dumps(header, default=str))
    tmp = dest.parent / f".{dest.name}.{secrets.token_hex(4)}.tmp"
    try:
        with open(tmp, "xb") as fh:
            np.savez(fh, **arrays)
            fh.flush()
            os.fsync(fh.fileno())
        check_out(dest, overwrite=overwrite)  # again: something may have appeared meanwhile
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return dest


def load(path: str | os.PathLike) -> tuple[Trajectories, dict[str, Any]]:
    """Read a trajectory file or zarr store written by ``rnndyn capture``: ``(Trajectories, meta)``.

    A store (a folder) is read into memory, every chunk checked. Nothing is
    unpickled (``allow_pickle=False``); a file that is not an rnndyn
    trajectory file is refused with a message saying what it is.
    See :func:`save` for an example.
    """
    text = os.fspath(path)
    if os.path.isdir(text):  # a zarr store written by `rnndyn capture --out RUN.zarr`
        from ..store import open_store, store_info

        traj = open_store(text)  # checked chunk by chunk as it is read
        info = store_info(text)
        return traj._replace(states=np.asarray(traj.states)), {"store": info}
    if not os.path.isfile(text):
        raise RnndynError(f"{text}: no such file; give a trajectory file written by `rnndyn capture --out`.")
    if not is_store(text):
        raise RnndynError(
            f"{text} is not an rnndyn trajectory file (no {FORMAT!r} marker); write one with "
            "`rnndyn capture MODEL INPUTS --layer L --out FILE.npz`."
        )
    try:
        with np.load(text, allow_pickle=False) as npz:
            header = json.loads(str(npz["header"]))
            states = npz["states"]
            valid = npz["valid"]
            units = units_frame(
                header["units"], header["dtypes"], [npz[f"units.{i}"] for i in range(len(header["units"]))]
            )
            orders = {(k[0], k[1]): npz[f"orders.{i}"] for i, k in enumerate(header["orders"])}
            inputs: Any = None
            if header["inputs"] == "str":
                inputs = [str(v) for v in npz["inputs"]]
            elif header["inputs"] == "arrays":
                inputs = list(npz["inputs"])
    except (KeyError, ValueError, TypeError, OSError, zipfile.BadZipFile) as exc:
        raise RnndynError(
            f"{text}: the trajectory file is damaged ({type(exc).__name__}: {exc}); capture it again."
        ) from None
    steps = Steps(valid, masked=header["masked"], orders=orders)
    traj = Trajectories(states, units=units, inputs=inputs, order=header["order"], steps=steps)
    return traj, dict(header.get("meta") or {})


def load_model_inputs(path: str | os.PathLike) -> np.ndarray | None:
    """The numeric array that was fed to the model, if the file holds one."""
    with np.load(os.fspath(path), allow_pickle=False) as npz:
        return npz["model_inputs"] if "model_inputs" in npz.files else None
