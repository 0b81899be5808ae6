"""The interactive report page: one self-contained HTML file.

The page holds, inline: the vendored Vega + Vega-Lite + vega-embed bundle
(``_static/vega-bundle.js``, see ``_static/VEGA-LICENSE.txt``), the page's
own script and style (``_static/explore.js``, ``_static/explore.css``) and one
JSON document (``<script type="application/json" id="rnndyn-data">``) with the
unit table, the packed curves (:func:`rnndyn._explore_data.pack`) and the
Vega-Lite specs (:mod:`rnndyn._explore_specs`). Nothing is fetched: no
network, no server.
"""

from __future__ import annotations

import html
import json
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from ._explore_data import REGIONS, ExploreData, pack, unit_names, unit_rows
from ._explore_specs import CHARTS, specs

__all__ = ["page_data", "render", "static_text"]

_FACTS = ("rank", "area_mean_abs", "rms_input", "rms_padding", "msd_exponent", "regime", "relaxation_tau")
_SECTIONS = {
    "unit": "The selected unit",
    "population": "All units",
}


@cache
def static_text(name: str) -> str:
    """A file of ``rnndyn/_static`` as text (cached)."""
    return (resources.files("rnndyn") / "_static" / name).read_text(encoding="utf-8")


def _numeric(s: pd.Series) -> bool:
    return bool(pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s))


def page_data(data: ExploreData) -> dict[str, Any]:
    """The JSON document the page's script reads (see ``_static/explore.js``)."""
    t = data.table
    names = unit_names(t)
    columns = [{"name": "unit", "numeric": True}]
    columns += [{"name": str(c), "numeric": _numeric(t[c])} for c in t.columns]
    ranks = t["rank"].to_numpy() if "rank" in t else np.arange(1, len(t) + 1)
    charts = specs(data)
    lengths = np.asarray(data.extra.get("lengths", np.zeros(len(data.example_index), dtype=int)))
    return {
        "columns": columns,
        "units": unit_rows(data, names),
        "fact_columns": [c for c in _FACTS if c in t.columns],
        "regions": list(REGIONS),
        "curves": {
            "rms": pack(data.rms),
            "msd": pack(data.msd),
            "vacf": pack(data.vacf),
            "band_input": pack(data.bands["input"]),
            "band_padding": pack(data.bands["padding"]),
            "examples": pack(data.examples),
            "example_input": pack(data.example_input, "u1"),
        },
        "example_index": [int(i) for i in data.example_index],
        "example_lengths": [int(v) for v in lengths],
        "specs": charts,
        "charts": [[cid, section] for cid, section, _, _ in CHARTS],
        # charts where a click selects a unit (and the selected one is ringed)
        "scatters": [c for c, sp in charts.items() if any(p["name"] == "pick" for p in sp.get("params", []))],
        "initial": int(np.argmin(ranks)),
    }


def _script_json(obj: Any) -> str:
    """JSON safe inside a <script> element (no '<', so no '</script>')."""
    return json.dumps(obj, separators=(",", ":"), allow_nan=False).replace("<", "\\u003c")


def _meta_table(meta: dict[str, Any]) -> str:
    if not meta:
        return ""
    rows = []
    for k, v in meta.items():
        text = v if isinstance(v, str) else json.dumps(v)
        rows.append(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(text)}</td></tr>")
    return f"<table class='meta'>{''.join(rows)}</table>"


def _figure(cid: str, title: str, caption: str) -> str:
    return (
        f"<figure><h3>{html.escape(title)}</h3><div class='chart' id='chart-{cid}'></div>"
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def render(
    data: ExploreData,
    *,
    title: str,
    meta: dict[str, Any],
    findings: list[dict[str, Any]],
    files: list[str] | None = None,
) -> str:
    """The whole page, as it is written to ``index.html``."""
    doc = page_data(data)
    n, T, U = data.shape
    charts = {
        section: [_figure(c, ti, ca) for c, s, ti, ca in CHARTS if s == section] for section in _SECTIONS
    }
    map_fig = next(_figure(c, ti, ca) for c, s, ti, ca in CHARTS if s == "units")
    color_opts = [c["name"] for c in doc["columns"] if c["name"] not in ("unit", "index")]
    default = next((c for c in ("msd_exponent", "area_mean_abs") if c in color_opts), color_opts[0])
    options = "".join(
        f"<option value='{html.escape(c)}'{' selected' if c == default else ''}>{html.escape(c)}</option>"
        for c in color_opts
    )
    lags = data.table.attrs.get("lags")
    window = f"MSD fit window: lags {lags[0]} to {lags[1]}." if lags else "No MSD fit window (too few lags)."
    notes = "".join(f"<p class='note'>{html.escape(n_)}</p>" for n_ in data.notes)
    found = "".join(f"<li>{html.escape(f['text'])}</li>" for f in findings)
    listing = ""
    if files:
        listing = (
            "<h2>Files</h2><p>Next to this page: static figures for papers (<code>figures/</code>), tables "
            "(<code>tables/</code>) and every number above (<code>summary.json</code>).</p><ul>"
            + "".join(f"<li><code>{html.escape(f)}</code></li>" for f in files)
            + "</ul>"
        )
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(title)}</title>"
        f"<style>{static_text('explore.css')}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        f"<p class='sub'>{n} sequences x {T} steps x {U} units. {window} Click a unit in the table, the "
        "unit map or the input-vs-padding chart to see how it moves.</p>"
        f"{_meta_table(meta)}<h2>Findings</h2><ul class='findings'>{found}</ul>{notes}"
        "<h2>Units</h2><div class='controls'><input id='unit-filter' type='search' "
        "placeholder='filter: text, or column&lt;value, e.g. ballistic msd_exponent&gt;1.5'>"
        "<span id='unit-count'></span><label>map colour <select id='map-color'>"
        f"{options}</select></label></div>"
        "<p class='sub'>Click a column header to sort (again to reverse); type words to keep the rows that "
        "contain them, or <code>column&lt;value</code>, <code>column&gt;value</code>, "
        "<code>column=value</code> to filter by a column.</p>"
        "<div class='grid'><div class='tablebox' style='flex:1 1 560px'><table id='unit-table'>"
        f"<thead></thead><tbody></tbody></table></div>{map_fig}</div>"
        f"<h2 id='unit-title'>{_SECTIONS['unit']}</h2><p id='unit-facts'></p>"
        f"<div class='grid'>{''.join(charts['unit'])}</div>"
        f"<h2>{_SECTIONS['population']}</h2><div class='grid'>{''.join(charts['population'])}</div>"
        f"{listing}"
        f"<script type='application/json' id='rnndyn-data'>{_script_json(doc)}</script>"
        f"<script>{static_text('vega-bundle.js')}</script>"
        f"<script>{static_text('explore.js')}</script>"
        "</body></html>\n"
    )
