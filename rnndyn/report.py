"""A self-contained HTML report: figures embedded, tables as CSV, numbers as JSON.

The report is built in memory and written at once into a temporary folder
next to the destination, then moved into place, so an error half-way never
leaves a half-written report behind. An existing folder is replaced only if
its manifest proves rnndyn wrote it and nobody changed it since
(:mod:`rnndyn._outdir`; docs/report.md).
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._outdir import MANIFEST, write_dir
from ._validation import check_bool, check_int
from .errors import RnndynError

__all__ = ["Report"]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:1000px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
h1{border-bottom:2px solid #444}h2{margin-top:2em;border-bottom:1px solid #ccc}
figure{margin:1.2em 0}figure img{max-width:100%}figcaption{font-size:.9em;color:#555}
table{border-collapse:collapse;font-size:.85em;margin:.8em 0}
td,th{border:1px solid #ccc;padding:.2em .5em;text-align:right}th{background:#f3f3f3}
.note{background:#f7f7e8;padding:.6em 1em;border-left:4px solid #cc3}
"""


def _json_key(key: Any, where: str) -> str:
    """The JSON object key ``json.dumps`` would write for ``key``; raise for keys JSON cannot hold."""
    if isinstance(key, np.generic):
        key = key.item()
    if isinstance(key, str):
        return key
    if key is None:
        return "null"
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, int):
        return str(int(key))
    if isinstance(key, float):
        return json.dumps(float(key))  # 'NaN', 'Infinity' as json writes them
    raise RnndynError(
        f"{where} has the key {_short(key)} ({type(key).__name__}), which JSON cannot hold: keys must be "
        "str, int, float, bool or None. Use str(key) as the key."
    )


def _short(value: Any, limit: int = 60) -> str:
    text = " ".join(repr(value).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


_HINTS = {
    complex: "store value.real and value.imag separately",
    bytes: "decode it, e.g. value.decode()",
    bytearray: "decode it, e.g. value.decode()",
    set: "use sorted(value) or list(value)",
    frozenset: "use sorted(value) or list(value)",
}


def _json_ready(obj: Any, where: str, on_path: dict[int, str]) -> Any:
    """A copy of ``obj`` that ``json.dumps`` writes; non-finite floats become None."""
    if isinstance(obj, np.generic):
        obj = obj.item()
    if obj is None or isinstance(obj, (bool, str)):
        return obj if not isinstance(obj, str) else str(obj)
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        return float(obj) if np.isfinite(obj) else None
    if isinstance(obj, np.ndarray) and (obj.dtype.kind in "biu" or obj.ndim == 0):
        return obj.tolist() if obj.dtype.kind in "biu" else _json_ready(obj.item(), where, on_path)
    if isinstance(obj, (dict, list, tuple, np.ndarray)):
        if id(obj) in on_path:
            raise RnndynError(
                f"{where} refers back to {on_path[id(obj)]} (a circular reference), which JSON cannot "
                "hold; store a copy or drop the back-reference."
            )
        on_path[id(obj)] = where
        try:
            if isinstance(obj, dict):
                out: dict[str, Any] = {}
                origin: dict[str, Any] = {}
                for k, v in obj.items():
                    jk = _json_key(k, where)
                    if jk in origin:
                        raise RnndynError(
                            f"{where} has two keys, {origin[jk]!r} and {k!r}, that both become the JSON "
                            f"key {jk!r}, so one would be lost; rename one of them."
                        )
                    origin[jk] = k
                    out[jk] = _json_ready(v, f"{where}[{k!r}]", on_path)
                return out
            items = obj.tolist() if isinstance(obj, np.ndarray) else obj
            return [_json_ready(v, f"{where}[{i}]", on_path) for i, v in enumerate(items)]
        finally:
            del on_path[id(obj)]
    hint = next((h for t, h in _HINTS.items() if isinstance(obj, t)), "convert it first, e.g. str(value)")
    raise RnndynError(
        f"{where} is a {type(obj).__name__} ({_short(obj)}), which JSON cannot hold. Report numbers "
        f"must be numbers, strings, bools, None, lists, tuples, dicts or numeric numpy arrays; {hint}."
    )


def _jsonable(numbers: Any, where: str = "numbers") -> Any:
    """Check and convert report numbers for JSON, up front; the error names the key path.

    Examples
    --------
    >>> _jsonable({"a": np.float64(1.5), "b": np.arange(2), "c": float("nan")})
    {'a': 1.5, 'b': [0, 1], 'c': None}
    >>> _jsonable({"fit": {"when": {1, 2}}})
    Traceback (most recent call last):
    ...
    rnndyn.errors.RnndynError: numbers['fit']['when'] is a set ({1, 2}), which JSON cannot hold. ...
    """
    if not isinstance(numbers, dict):
        raise RnndynError(
            f"{where} must be a dict of JSON-ready values; got {type(numbers).__name__}. "
            "Fill it with rep.numbers[key] = value."
        )
    try:
        return _json_ready(numbers, where, {})
    except RecursionError:
        raise RnndynError(f"{where} is nested too deeply to write as JSON; flatten it.") from None


def _check_str(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise RnndynError(f"{name} must be a str; got {_short(value)} ({type(value).__name__}).")
    return value


_RESERVED = ("index.html", "summary.json", MANIFEST)
_MAX_NAME = 120


@dataclass
class Report:
    """Collects headings, text, figures and tables; :meth:`write` saves them.

    Every argument is checked when it is given: a wrong type, a name used
    twice or a non-positive count raises :class:`~rnndyn.errors.RnndynError`.

    Examples
    --------
    >>> import tempfile, pandas as pd
    >>> rep = Report("demo")
    >>> rep.heading("Numbers")
    >>> rep.table(pd.DataFrame({"a": [1, 2]}), "numbers", caption="two numbers")
    >>> rep.numbers["answer"] = 42
    >>> out = rep.write(tempfile.mkdtemp() + "/report")
    >>> sorted(p.name for p in out.iterdir())
    ['.rnndyn-manifest.json', 'index.html', 'numbers.csv', 'summary.json']
    """

    title: str
    _parts: list[str] = field(default_factory=list)
    _files: dict[str, bytes] = field(default_factory=dict)
    numbers: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_str(self.title, "title")
        if not isinstance(self.numbers, dict):
            raise RnndynError(f"numbers must be a dict; got {type(self.numbers).__name__}.")

    def heading(self, text: str, level: int = 2) -> None:
        """A heading; ``level`` 1 to 6 as in HTML (``<h2>`` by default)."""
        _check_str(text, "text")
        level = check_int(level, "level", minimum=1)
        if level > 6:
            raise RnndynError(f"level must be a heading level from 1 to 6 (as in HTML); got {level}.")
        self._parts.append(f"<h{level}>{html.escape(text)}</h{level}>")

    def text(self, text: str, *, note: bool = False) -> None:
        """A paragraph (plain text; blank lines separate paragraphs)."""
        _check_str(text, "text")
        note = check_bool(note, "note")
        for para in text.strip().split("\n\n"):
            cls = ' class="note"' if note else ""
            self._parts.append(f"<p{cls}>{html.escape(para)}</p>")

    def bullets(self, items: list[str]) -> None:
        """A bulleted list of plain-text items."""
        if isinstance(items, str) or not isinstance(items, (list, tuple)):
            raise RnndynError(
                f"items must be a list of str; got {_short(items)} ({type(items).__name__}). "
                "For one item use [item]."
            )
        for i, item in enumerate(items):
            _check_str(item, f"items[{i}]")
        lis = "".join(f"<li>{html.escape(i)}</li>" for i in items)
        self._parts.append(f"<ul>{lis}</ul>")

    def _name(self, name: Any, suffix: str) -> str:
        """The file name for ``name``; raise if it is empty or clashes with one already used."""
        if not isinstance(name, str) or not name.strip():
            raise RnndynError(
                f"name must be a non-empty str (the file name, without suffix); got {_short(name)}"
                f" ({type(name).__name__})."
            )
        if len(name) > _MAX_NAME:
            raise RnndynError(f"name must have at most {_MAX_NAME} characters; got {len(name)}.")
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
        fname = f"{safe}.{suffix}"
        taken = {f.casefold(): f for f in (*self._files, *_RESERVED)}
        if fname.casefold() in taken:
            what = "is used twice" if fname in self._files else f"clashes with {taken[fname.casefold()]}"
            raise RnndynError(
                f"Report: the name {name!r} (file {fname}) {what}; file names are letters, digits, - and "
                "_ (other characters become _, and case is ignored), so give each figure or table its "
                "own name."
            )
        return fname

    def figure(self, fig: Any, name: str, *, caption: str = "", dpi: int = 110) -> None:
        """Embed a matplotlib figure (and save it as ``name.png``); closes it."""
        from matplotlib.figure import Figure

        if not isinstance(fig, Figure):
            hint = " Pass ax.figure for an Axes." if hasattr(fig, "figure") else ""
            raise RnndynError(
                f"fig must be a matplotlib Figure; got {_short(fig)} ({type(fig).__name__}).{hint}"
            )
        fname = self._name(name, "png")
        _check_str(caption, "caption")
        dpi = check_int(dpi, "dpi", minimum=1)
        if dpi > 1200:
            raise RnndynError(f"dpi must be from 1 to 1200 (300 is print quality); got {dpi}.")
        import matplotlib.pyplot as plt

        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
        plt.close(fig)
        data = buf.getvalue()
        self._files[fname] = data
        b64 = base64.b64encode(data).decode("ascii")
        self._parts.append(
            f'<figure><img alt="{html.escape(name)}" src="data:image/png;base64,{b64}">'
            f"<figcaption><b>{html.escape(fname)}</b> {html.escape(caption)}</figcaption></figure>"
        )

    def table(
        self,
        df: pd.DataFrame,
        name: str,
        *,
        caption: str = "",
        max_rows: int = 30,
        float_format: str = "{:.4g}",
    ) -> None:
        """Show a table (first ``max_rows`` rows) and save all of it as ``name.csv``."""
        if not isinstance(df, pd.DataFrame):
            hint = " Use series.to_frame()." if isinstance(df, pd.Series) else " Wrap it: pd.DataFrame(...)."
            raise RnndynError(f"df must be a pandas DataFrame; got {type(df).__name__}.{hint}")
        fname = self._name(name, "csv")
        _check_str(caption, "caption")
        max_rows = check_int(max_rows, "max_rows", minimum=1)
        _check_str(float_format, "float_format")
        try:
            ok = isinstance(float_format.format(1.5), str)
        except (ValueError, IndexError, KeyError, TypeError):
            ok = False
        if not ok:
            raise RnndynError(
                f"float_format must be a format string for one float, like '{{:.4g}}'; got {float_format!r}."
            )
        self._files[fname] = df.to_csv(index=True).encode()
        shown = df.head(max_rows)
        body = shown.to_html(float_format=lambda v: float_format.format(v), border=0)
        more = f" (first {max_rows} of {len(df)} rows)" if len(df) > max_rows else ""
        self._parts.append(
            f"<figure>{body}<figcaption><b>{html.escape(fname)}</b> "
            f"{html.escape(caption)}{more}</figcaption></figure>"
        )

    def attach(self, name: str, data: str | bytes, *, text: str = "", suffix: str = "html") -> None:
        """Save ``data`` as the file ``name.suffix`` of the report, linked from the page with ``text``.

        For a page that stands on its own, such as the interactive page of
        :func:`rnndyn.analysis.page`: it is written (and replaced, and
        listed in the manifest) with the rest of the report.

        Examples
        --------
        >>> rep = Report("with an attachment")
        >>> rep.attach("notes", "<p>hello</p>", text="Notes")
        >>> rep.html().count("notes.html")
        1
        """
        if not isinstance(suffix, str) or not suffix.isalnum():
            raise RnndynError(f"suffix must be letters and digits, like 'html'; got {_short(suffix)}.")
        fname = self._name(name, suffix)
        _check_str(text, "text")
        if isinstance(data, str):
            data = data.encode()
        if not isinstance(data, bytes):
            raise RnndynError(f"data must be str or bytes; got {type(data).__name__}.")
        self._files[fname] = data
        label = html.escape(text or fname)
        self._parts.append(f'<p class="attachment"><a href="{html.escape(fname)}">{label}</a></p>')

    def html(self) -> str:
        """The whole page, as it is written to ``index.html``."""
        _check_str(self.title, "title")
        body = "\n".join(self._parts)
        return (
            f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(self.title)}"
            f"</title><style>{_CSS}</style></head><body><h1>{html.escape(self.title)}</h1>\n"
            f"{body}\n</body></html>\n"
        )

    def write(self, out: str | os.PathLike[str], *, overwrite: bool = True) -> Path:
        """Write ``index.html``, the PNGs, CSVs, ``summary.json`` and a manifest into ``out``.

        Everything is checked first (``numbers`` must be JSON-ready; ``out``
        must be new, empty or an earlier report rnndyn wrote and nobody changed
        since). The report is written into a hidden sibling folder and moved
        into place; an earlier report is replaced only then, atomically (see
        :mod:`rnndyn._outdir`). A folder holding anything else is never touched.

        Parameters
        ----------
        out : str or os.PathLike
            The report folder.
        overwrite : bool
            If False, refuse any existing non-empty folder.

        Returns
        -------
        pathlib.Path
            The report folder, as an absolute path.

        Raises
        ------
        RnndynError
            ``numbers`` holds a value JSON cannot hold (the message names its
            key path), or ``out`` may not be written or replaced (the message
            says what is there and how to choose another folder).
        """
        overwrite = check_bool(overwrite, "overwrite")
        summary = json.dumps(_jsonable(self.numbers), indent=2, allow_nan=False)
        page = self.html()
        files = dict(self._files)

        def fill(folder: Path) -> None:
            for fname, data in files.items():
                (folder / fname).write_bytes(data)
            (folder / "summary.json").write_text(summary, encoding="utf-8")
            (folder / "index.html").write_text(page, encoding="utf-8")

        return write_dir(out, fill, kind="report", overwrite=overwrite, what="report")
