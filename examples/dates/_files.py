"""Reading the study's shipped files defensively.

JSON helpers for the vocabularies and the validation set (:func:`_read_json`,
:func:`_file_error`), the names of the files in a weights folder, the
:class:`WeightsError` every loader raises, and the checks shared by the Keras
and PyTorch loaders (:func:`_weights_file`, :func:`_sniff`, :func:`_fix`).
Every error names the file, what is wrong and what to do; nothing is ever
unpickled.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from rnndyn.errors import RnndynError

from ._records import VAL_FILE

__all__ = [
    "KERAS_FILE",
    "TORCH_FILE",
    "INPUT_VOCAB_FILE",
    "OUTPUT_VOCAB_FILE",
    "METRICS_FILE",
    "VALIDATION_FILE",
    "WeightsError",
]

KERAS_FILE = "keras_model.keras"
TORCH_FILE = "torch_model.safetensors"
INPUT_VOCAB_FILE = "input_vocab.json"
OUTPUT_VOCAB_FILE = "output_vocab.json"
METRICS_FILE = "metrics.json"
VALIDATION_FILE = VAL_FILE

_TRAIN_HINT = "retrain with --train, i.e. `python -m examples.dates.train --framework {fw} --out <dir>`"


class WeightsError(RnndynError, RuntimeError):
    """Shipped weights, vocabularies or validation set are missing or unusable.

    An :class:`rnndyn.RnndynError` (so a ``ValueError``) and, as before, a
    ``RuntimeError``. The message names the file, what is wrong and what to
    do (restore the shipped file, or retrain with ``--train``).
    """


#: Largest JSON file read (the shipped ones are < 200 kB).
_MAX_JSON_BYTES = 20_000_000
_RESTORE = "restore the shipped examples/dates/weights/{name} (git checkout) or retrain with --train"


def _file_error(path: Path, problem: str, fix: str | None = None) -> RnndynError:
    fix = fix if fix is not None else _RESTORE.format(name=path.name)
    return RnndynError(f"{path}: {problem}; {fix}")


def _read_json(path: str | os.PathLike, what: str) -> Any:
    """Parse a small UTF-8 JSON file, with one clear error per way it can be broken."""
    path = Path(path)
    if not path.exists():
        raise _file_error(path, f"the {what} file is missing")
    if not path.is_file():
        raise _file_error(path, f"expected the {what} file, got a folder or special file")
    size = path.stat().st_size
    if size == 0:
        raise _file_error(path, f"the {what} file is empty")
    if size > _MAX_JSON_BYTES:
        raise _file_error(
            path, f"the {what} file has {size} bytes, more than a {what} can ({_MAX_JSON_BYTES})"
        )
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise _file_error(
            path, f"the {what} file is not UTF-8 JSON text (binary data at byte {e.start})"
        ) from None
    try:
        return json.loads(text)
    except ValueError as e:
        raise _file_error(path, f"the {what} file is not valid JSON, or is truncated ({e})") from None


def _kind_of(obj: object) -> str:
    return "null" if obj is None else type(obj).__name__


def _sniff(path: Path) -> str:
    """What a weights file seems to be, from its first bytes (never loaded)."""
    with open(path, "rb") as fh:
        head = fh.read(16)
    if not head:
        return "an empty file"
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return "a Python pickle (never unpickled: it could run code)"
    if head.startswith(b"PK\x03\x04"):
        return "a zip archive (e.g. torch.save or a .keras file)"
    if head.startswith(b"\x89HDF"):
        return "an HDF5 file"
    if len(head) > 8 and head[8:9] == b"{":
        return "a safetensors file"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return "binary data"
    return "binary data" if "\x00" in text else "a text file"


def _weights_file(d: Path, name: str, fw: str) -> Path:
    path = d / name
    if not path.exists():
        raise WeightsError(f"{fw} weights missing: {path}; " + _TRAIN_HINT.format(fw=fw))
    if not path.is_file():
        raise WeightsError(
            f"{path}: expected the {fw} weights file, got a folder; remove it and restore the shipped "
            "file, or " + _TRAIN_HINT.format(fw=fw)
        )
    return path


def _fix(fw: str) -> str:
    name = KERAS_FILE if fw == "keras" else TORCH_FILE
    return f"restore the shipped examples/dates/weights/{name} (git checkout) or " + _TRAIN_HINT.format(fw=fw)
