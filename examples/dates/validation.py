"""The shipped validation set: its hash, its writer and its defensive reader.

The section "The shipped validation set" of :mod:`examples.dates.data`, which
re-exports every name, says why the 1,000 validation records are shipped
rather than generated.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path

from rnndyn.errors import RnndynError

from ._files import _file_error, _kind_of, _read_json
from ._records import FORMATS, LOCALES, VAL_FILE, VAL_SEED, VAL_SHA256, DateRecord  # noqa: F401 - VAL_FILE: doctest
from .vocab import MAX_LEN

__all__ = ["validation_sha256", "save_validation", "load_validation"]

_CASES = ("upper", "lower", "keep")
_VAL_KIND = "DateValidationSet"
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def validation_sha256(records: Sequence[DateRecord] | Sequence[Sequence[str]]) -> str:
    """sha256 of validation records, independent of the file's layout.

    The hash is taken over the records as compact UTF-8 JSON (a list of
    ``[human, iso, locale, format, case]`` lists), so whitespace and line
    endings of the file (e.g. a Windows checkout) do not change it.

    Parameters
    ----------
    records : sequence of DateRecord or of 5-string sequences

    Returns
    -------
    str
        64 hexadecimal digits.

    Examples
    --------
    >>> r = DateRecord("Jan 1 1990", "1990-01-01", "en", "MMM d yyyy", "keep")
    >>> validation_sha256([r]) == validation_sha256([list(r)])
    True
    """
    rows = [list(r) for r in records]
    text = json.dumps(rows, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def save_validation(
    records: Sequence[DateRecord], path: str | os.PathLike, *, versions: dict[str, str] | None = None
) -> str:
    """Write validation records in the format :func:`load_validation` reads; return their sha256.

    One record per line, so that a change shows as a one-line diff.

    Parameters
    ----------
    records : sequence of DateRecord
    path : path
        The file to write (e.g. ``weights/validation.json``).
    versions : dict, optional
        Library versions that generated the strings (recorded, not checked).

    Returns
    -------
    str
        :func:`validation_sha256` of ``records``.
    """
    records = [DateRecord(*r) for r in records]
    digest = validation_sha256(records)
    head = {
        "kind": _VAL_KIND,
        "description": (
            f"The study's held-out validation strings: examples.dates.data.generate_records({len(records)}, "
            f"seed={VAL_SEED}), shipped so that the numbers do not depend on the installed Babel."
        ),
        "versions": dict(versions or {}),
        "fields": list(DateRecord._fields),
        "n": len(records),
        "sha256": digest,
    }
    lines = [json.dumps(head, ensure_ascii=False, indent=1)[:-2] + ',\n "records": [']
    rows = [" " + json.dumps(list(r), ensure_ascii=False) for r in records]
    text = "\n".join(lines) + "\n" + ",\n".join(rows) + "\n ]\n}\n"
    Path(path).write_text(text, encoding="utf-8")
    return digest


def _check_record(i: int, row: object) -> DateRecord:
    fields = DateRecord._fields
    if not isinstance(row, list) or len(row) != len(fields):
        got = f"{len(row)} fields" if isinstance(row, list) else f"a {_kind_of(row)}"
        raise RnndynError(f"record {i} must be a list of {len(fields)} strings {list(fields)}; got {got}")
    for name, value in zip(fields, row, strict=True):
        if not isinstance(value, str):
            raise RnndynError(f"record {i} field {name!r} must be a string; got {_kind_of(value)} {value!r}")
    r = DateRecord(*row)
    if not 1 <= len(r.human) <= MAX_LEN:
        raise RnndynError(f"record {i} 'human' must have 1 to {MAX_LEN} characters; got {len(r.human)}")
    try:
        ok = bool(_ISO.match(r.iso)) and _dt.date.fromisoformat(r.iso).isoformat() == r.iso
    except ValueError:
        ok = False
    if not ok:
        raise RnndynError(f"record {i} 'iso' must be a real date written YYYY-MM-DD; got {r.iso!r}")
    if r.locale not in LOCALES:
        raise RnndynError(f"record {i} 'locale' must be one of data.LOCALES; got {r.locale!r}")
    if r.format not in FORMATS:
        raise RnndynError(f"record {i} 'format' must be one of data.FORMATS; got {r.format!r}")
    if r.case not in _CASES:
        raise RnndynError(f"record {i} 'case' must be one of {list(_CASES)}; got {r.case!r}")
    return r


def load_validation(path: str | os.PathLike, *, sha256: str | None = VAL_SHA256) -> list[DateRecord]:
    """Read and check the shipped validation set (see the module docstring).

    Parameters
    ----------
    path : path
        ``validation.json`` (written by :func:`save_validation`).
    sha256 : str or None, optional
        Expected :func:`validation_sha256` of the records (default
        :data:`VAL_SHA256`, the shipped set); ``None`` skips the check.

    Returns
    -------
    list of DateRecord

    Raises
    ------
    rnndyn.RnndynError
        Naming ``path``, what is wrong and what to do, if the file is missing,
        a folder, empty, not UTF-8 JSON, has a wrong layout (``kind``,
        ``fields``, ``n``), a record of the wrong shape or type, or records
        whose hash differs from ``sha256`` (edited or replaced).

    Examples
    --------
    >>> from examples.dates.models import DEFAULT_WEIGHTS_DIR
    >>> val = load_validation(DEFAULT_WEIGHTS_DIR / VAL_FILE)
    >>> len(val), val[0]._fields[:2]
    (1000, ('human', 'iso'))
    """
    path = Path(path)
    d = _read_json(path, "validation set")

    def bad(problem: str) -> RnndynError:
        return _file_error(path, f"not the study's validation set: {problem}")

    if not isinstance(d, dict):
        raise bad(f"expected a JSON object with 'kind', 'fields', 'n' and 'records'; got a {_kind_of(d)}")
    if d.get("kind") != _VAL_KIND:
        raise bad(f"'kind' must be {_VAL_KIND!r}; got {d.get('kind')!r}")
    if d.get("fields") != list(DateRecord._fields):
        raise bad(f"'fields' must be {list(DateRecord._fields)}; got {d.get('fields')!r}")
    rows, n = d.get("records"), d.get("n")
    if not isinstance(rows, list):
        raise bad(f"'records' must be a list; got {_kind_of(rows)}")
    if type(n) is not int or n != len(rows):
        raise bad(f"'n' says {n!r} records but the file holds {len(rows)}")
    if not rows:
        raise bad("'records' is empty")
    try:
        records = [_check_record(i, row) for i, row in enumerate(rows)]
    except RnndynError as e:
        raise bad(str(e)) from None
    if sha256 is not None:
        got = validation_sha256(records)
        if got != sha256:
            raise _file_error(
                path,
                f"the validation records were edited or replaced (sha256 {got[:16]}..., expected "
                f"{sha256[:16]}...), so the study's numbers would not be the shipped ones",
            )
    return records
