"""The files of an rnndyn zarr store: the progress record, ownership, durable batch writes.

A store is a folder holding a zarr v3 group plus ``rnndyn-progress.json``,
the record of what is on disk:

* ``format`` -- the marker :data:`FORMAT` (a folder without it is not
  rnndyn's, and rnndyn never writes into it);
* ``call`` -- the capture it holds: model class, layers, states, batch size,
  sha256 of the lengths, batch axis, sha256 of the inputs (what a resumed
  capture must match);
* ``n_sequences``, ``n_batches``;
* ``complete`` -- one entry per complete batch, in order: the sha256 of its
  states chunk and of its other rows (valid, orders, inputs).

The record is replaced atomically (a temporary file, fsync, :func:`os.replace`,
fsync of the folder) only after a batch's chunks are written and synced, so
a batch counts once all of it is on disk and a half-written chunk is never
counted: a resumed capture rewrites everything after the last complete batch.
"""

from __future__ import annotations

import errno
import json
import os
import re
import secrets
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from .errors import MissingExtraError, RnndynError

__all__ = [
    "FORMAT",
    "PROGRESS",
    "ARRAYS",
    "read_progress",
    "write_progress",
    "claim",
    "clear_arrays",
    "clear_partials",
    "sync_chunks",
    "disk_errors",
    "import_zarr",
]

#: The marker of an rnndyn store (``format`` in its progress record).
FORMAT = "rnndyn-store/1"
#: The progress record's file name, in the store's root.
PROGRESS = "rnndyn-progress.json"
#: The zarr nodes rnndyn writes in a store (and may rewrite when a capture restarts).
ARRAYS = ("states", "valid", "orders", "inputs", "zarr.json")

T = TypeVar("T")


def import_zarr() -> Any:
    """The zarr module (and dask.array importable), or a MissingExtraError saying what to install."""
    try:
        import dask.array  # noqa: F401
        import zarr
    except ImportError as exc:
        raise MissingExtraError(
            f"A zarr store needs zarr>=3.1 and dask[array] ({exc}); "
            "pip install 'rnndyn[dask]' (it brings zarr)."
        ) from None
    return zarr


def read_progress(path: Path) -> dict[str, Any] | None:
    """The progress record of the store at ``path``; ``None`` when there is none (not rnndyn's)."""
    try:
        text = (path / PROGRESS).read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise RnndynError(f"{path}: cannot read the store's {PROGRESS}: {exc}") from None
    try:
        record = json.loads(text)
    except ValueError:
        record = None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise RnndynError(
            f"{path}: {PROGRESS} is damaged or not rnndyn's (no {FORMAT!r} marker); rnndyn will not "
            "use or overwrite this folder. Move it away and capture again."
        )
    return record


def write_progress(path: Path, record: dict[str, Any]) -> None:
    """Replace the progress record atomically and durably."""
    tmp = path / f".{PROGRESS}.{secrets.token_hex(4)}.tmp"
    data = json.dumps(record, indent=1, sort_keys=True).encode()
    try:
        with open(tmp, "xb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path / PROGRESS)
        _sync_dir(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _sync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory handles
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _stale(name: str) -> bool:
    return name.startswith(f".{PROGRESS}.") and name.endswith(".tmp")


def claim(path: Path) -> dict[str, Any] | None:
    """Make ``path`` a store folder rnndyn may write: its progress record, or ``None`` if new.

    A missing folder is created (its parent must exist); an empty one is
    taken; an rnndyn store is returned as found; anything else is refused.
    """
    text = os.fspath(path)
    if path.is_symlink():
        raise RnndynError(f"store={text} is a symbolic link; rnndyn does not write through links.")
    if path.exists() and not path.is_dir():
        raise RnndynError(
            f"store={text} exists and is a file, not an rnndyn store; rnndyn never overwrites a path it "
            "did not write. Choose another name or move that file away."
        )
    if not path.exists():
        if not path.parent.is_dir():
            raise RnndynError(f"store={text}: the folder {path.parent} does not exist; create it first.")
        with disk_errors(path, "creating the store"):
            path.mkdir()
        return None
    record = read_progress(path)
    if record is not None:
        for name in os.listdir(path):
            if _stale(name):
                (path / name).unlink(missing_ok=True)
        clear_partials(path)
        return record
    others = [n for n in os.listdir(path) if not _stale(n)]
    if others:
        raise RnndynError(
            f"store={text} exists and is not an rnndyn store (it holds {sorted(others)[:3]}, no "
            f"{PROGRESS}); rnndyn never writes into a folder it did not create. Choose another name "
            "or move that folder away."
        )
    for name in os.listdir(path):
        (path / name).unlink(missing_ok=True)
    return None


def clear_arrays(path: Path) -> None:
    """Remove the zarr nodes rnndyn wrote (never anything else), to start the capture afresh."""
    for name in ARRAYS:
        node = path / name
        if node.is_dir() and not node.is_symlink():
            shutil.rmtree(node)
        elif node.exists() or node.is_symlink():
            node.unlink()


_PARTIAL = re.compile(r"\.[0-9a-f]{32}\.partial$")


def clear_partials(path: Path) -> None:
    """Remove the temporary files of chunk writes a killed capture left (zarr's ``*.<uuid>.partial``)."""
    for name in ARRAYS:
        node = path / name
        if node.is_dir() and not node.is_symlink():
            for root, _, files in os.walk(node):
                for f in files:
                    if _PARTIAL.search(f):
                        (Path(root) / f).unlink(missing_ok=True)


def sync_chunks(path: Path, names: list[str], batch: int) -> None:
    """fsync the chunk files of batch ``batch`` (chunk key ``c/<batch>/...``) of the arrays ``names``."""
    for name in names:
        top = path / name / "c" / str(batch)
        if top.is_file():
            _sync_file(top)
            continue
        for root, _, files in os.walk(top):
            for f in files:
                _sync_file(Path(root) / f)


def _sync_file(file: Path) -> None:
    fd = os.open(file, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def disk_errors(path: Path, doing: str, after: Callable[[], str] | None = None) -> Iterator[None]:
    """Turn an OSError (disk full, no permission) into an RnndynError saying what still holds."""
    try:
        yield
    except OSError as exc:
        why = {
            errno.ENOSPC: "the disk is full",
            errno.EDQUOT: "the disk quota is exceeded",
            errno.EACCES: "permission denied",
            errno.EPERM: "permission denied",
            errno.EROFS: "the file system is read-only",
        }.get(exc.errno or -1, f"{type(exc).__name__}: {exc}")
        tail = f" {after()}" if after is not None else ""
        raise RnndynError(
            f"store={os.fspath(path)}: {doing} failed: {why} ({exc.strerror or exc}).{tail}"
        ) from exc
