"""A self-contained HTML report: figures embedded, tables as CSV, numbers as JSON.

The report is built in memory and written at once into a temporary folder
next to the destination, then moved into place, so an error half-way never
leaves a half-written report behind.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

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


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj


@dataclass
class Report:
    """Collects headings, text, figures and tables; :meth:`write` saves them.

    Examples
    --------
    >>> import tempfile, pandas as pd
    >>> rep = Report("demo")
    >>> rep.heading("Numbers")
    >>> rep.table(pd.DataFrame({"a": [1, 2]}), "numbers", caption="two numbers")
    >>> rep.numbers["answer"] = 42
    >>> out = rep.write(tempfile.mkdtemp() + "/report")
    >>> sorted(p.name for p in out.iterdir())
    ['index.html', 'numbers.csv', 'summary.json']
    """

    title: str
    _parts: list[str] = field(default_factory=list)
    _files: dict[str, bytes] = field(default_factory=dict)
    numbers: dict[str, Any] = field(default_factory=dict)

    def heading(self, text: str, level: int = 2) -> None:
        self._parts.append(f"<h{level}>{html.escape(text)}</h{level}>")

    def text(self, text: str, *, note: bool = False) -> None:
        """A paragraph (plain text; blank lines separate paragraphs)."""
        for para in str(text).strip().split("\n\n"):
            cls = ' class="note"' if note else ""
            self._parts.append(f"<p{cls}>{html.escape(para)}</p>")

    def bullets(self, items: list[str]) -> None:
        lis = "".join(f"<li>{html.escape(i)}</li>" for i in items)
        self._parts.append(f"<ul>{lis}</ul>")

    def _name(self, name: str, suffix: str) -> str:
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
        fname = f"{safe}.{suffix}"
        if fname in self._files:
            raise RnndynError(f"Report: the name {name!r} is used twice.")
        return fname

    def figure(self, fig: Any, name: str, *, caption: str = "", dpi: int = 110) -> None:
        """Embed a matplotlib figure (and save it as ``name.png``); closes it."""
        import matplotlib.pyplot as plt

        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
        plt.close(fig)
        data = buf.getvalue()
        fname = self._name(name, "png")
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
        fname = self._name(name, "csv")
        self._files[fname] = df.to_csv(index=True).encode()
        shown = df.head(max_rows)
        body = shown.to_html(float_format=lambda v: float_format.format(v), border=0)
        more = f" (first {max_rows} of {len(df)} rows)" if len(df) > max_rows else ""
        self._parts.append(
            f"<figure>{body}<figcaption><b>{html.escape(fname)}</b> "
            f"{html.escape(caption)}{more}</figcaption></figure>"
        )

    def html(self) -> str:
        body = "\n".join(self._parts)
        return (
            f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(self.title)}"
            f"</title><style>{_CSS}</style></head><body><h1>{html.escape(self.title)}</h1>\n"
            f"{body}\n</body></html>\n"
        )

    def write(self, out: str | os.PathLike[str], *, overwrite: bool = True) -> Path:
        """Write ``index.html``, the PNGs, CSVs and ``summary.json`` into ``out``.

        Written to a temporary sibling folder and moved into place at the end;
        an existing report at ``out`` is replaced only then.
        """
        out = Path(out)
        parent = out.parent if str(out.parent) else Path(".")
        try:
            parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=parent))
        except OSError as exc:
            raise RnndynError(f"cannot write the report to {out}: {exc.strerror or exc}.") from None
        try:
            for fname, data in self._files.items():
                (tmp / fname).write_bytes(data)
            (tmp / "summary.json").write_text(json.dumps(_jsonable(self.numbers), indent=2))
            (tmp / "index.html").write_text(self.html(), encoding="utf-8")
            if out.exists():
                if not overwrite:
                    raise RnndynError(f"{out} exists; pass overwrite=True or pick another folder.")
                if out.is_dir():
                    shutil.rmtree(out)
                else:
                    raise RnndynError(f"{out} exists and is not a folder.")
            tmp.rename(out)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return out
