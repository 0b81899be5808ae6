"""Vega-Lite specifications of the interactive report's charts, with their captions.

Each chart is a plain JSON-ready dict. Charts of the selected unit name their
data (``{"data": {"name": "bands"}}``); the page's script fills those datasets
from the packed curves of the unit that was clicked and draws the chart again.
Charts over all units name the dataset ``units`` (the unit table, filled by the
script); the population curves carry their values inline.

:data:`CHARTS` lists every chart: ``(id, section, title, caption)``. The page
draws one Vega view per entry; the browser test counts them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._explore_data import QUANTILES, REGIONS, ExploreData, across_units
from .physics import REGIMES

__all__ = ["CHARTS", "specs", "population_rows"]

_W, _H = 430, 250
_REGION_COLORS = {"domain": ["input", "padding", "all"], "range": ["#1f77b4", "#d62728", "#7f7f7f"]}
_Q = f"{QUANTILES[0]:.0%} to {QUANTILES[-1]:.0%}"

#: Every chart of the page: (id, section, title, caption).
CHARTS: tuple[tuple[str, str, str, str], ...] = (
    (
        "unit_map",
        "units",
        "Unit map",
        "Each point is a unit, placed by a principal component analysis of its standardized metric "
        "profile (the numeric columns of the unit table; areas, RMS, diffusion and relaxation time on a "
        "log scale). Units that behave alike sit together. Colour: the column chosen above. Click a "
        "point to select its unit.",
    ),
    (
        "unit_traj",
        "unit",
        "Trajectories of the selected unit",
        f"The unit's value at each step over all sequences: median (line) and {_Q} band, on input steps "
        "(blue) and padding steps (red) separately, plus a few example sequences (grey; shortest to "
        "longest). A band that narrows after the input ends means the unit forgets where it came from.",
    ),
    (
        "unit_delta",
        "unit",
        "Step deltas of the selected unit",
        "RMS over sequences of the step delta x[t+1] - x[t] at each step t, over every delta (grey), "
        "input deltas only (blue) and padding deltas only (red). How fast the unit moves, step by step.",
    ),
    (
        "unit_msd",
        "unit",
        "MSD of the selected unit",
        "Mean-squared displacement against lag, on log-log axes, per region. The slope is the MSD "
        "exponent: 2 is ballistic (steady drift), 1 diffusive (random walk), below 1 confined, 0 arrested.",
    ),
    (
        "unit_vacf",
        "unit",
        "VACF of the selected unit",
        "Velocity (step delta) autocorrelation against lag, normalized to 1 at lag 0, per region. "
        "Positive values: the unit keeps moving the same way; negative: it turns back; near 0: no memory.",
    ),
    (
        "pop_rms",
        "population",
        "Input vs padding RMS per unit",
        "Each point is a unit: the RMS of its step deltas over input steps (x) against over padding "
        "steps (y). Points below the diagonal slow down once the input ends. Click a point to select "
        "its unit.",
    ),
    (
        "pop_area",
        "population",
        "How much each unit moves",
        "Histogram over units of the area under the mean |delta| curve (the sum over steps of the mean "
        "absolute step delta, the founding notebook's measure); the dashed line is the median. A long "
        "right tail means a few units do most of the moving.",
    ),
    (
        "pop_exponent",
        "population",
        "MSD exponent distribution",
        "Histogram over units of the MSD scaling exponent over the fit window, coloured by regime; the "
        "dashed line is the median.",
    ),
    (
        "pop_msd",
        "population",
        "MSD over all units",
        f"Median over units of the MSD curve with the {_Q} band over units, on log-log axes. Slope 2: "
        "ballistic; slope 1: diffusive; flat: arrested.",
    ),
    (
        "pop_vacf",
        "population",
        "VACF over all units",
        f"Median over units of the normalized VACF with the {_Q} band over units. The area under it "
        "(times the RMS squared) is the Green-Kubo diffusion coefficient.",
    ),
    (
        "pop_delta",
        "population",
        "RMS step delta along the sequence",
        f"Median over units of the RMS step delta at each step, input (blue) and padding (red) deltas "
        f"apart, with the {_Q} band over units.",
    ),
)


def _band(data: str, x: str, xtitle: str, ytitle: str, *, logx: bool = False, logy: bool = False) -> Any:
    """Layered chart: a band (lo..hi) and a median line per region."""
    xs: dict[str, Any] = {"field": x, "type": "quantitative", "title": xtitle}
    ys: dict[str, Any] = {"field": "med", "type": "quantitative", "title": ytitle}
    if logx:
        xs["scale"] = {"type": "log"}
    if logy:
        ys["scale"] = {"type": "log"}
    color = {"field": "region", "type": "nominal", "scale": _REGION_COLORS, "title": "region"}
    return {
        "data": {"name": data},
        "width": _W,
        "height": _H,
        "layer": [
            {
                "mark": {"type": "area", "opacity": 0.22},
                "encoding": {"x": xs, "y": {**ys, "field": "lo"}, "y2": {"field": "hi"}, "color": color},
            },
            {
                "mark": {"type": "line", "point": {"size": 12}},
                "encoding": {
                    "x": xs,
                    "y": ys,
                    "color": color,
                    "tooltip": [
                        {"field": x, "type": "quantitative"},
                        {"field": "region", "type": "nominal"},
                        {"field": "med", "type": "quantitative", "format": ".4g"},
                    ],
                },
            },
        ],
    }


def _curve(data: str, x: str, y: str, xtitle: str, ytitle: str, *, log: bool = False) -> dict[str, Any]:
    scale = {"scale": {"type": "log"}} if log else {}
    return {
        "data": {"name": data},
        "width": _W,
        "height": _H,
        "mark": {"type": "line", "point": {"size": 12}},
        "encoding": {
            "x": {"field": x, "type": "quantitative", "title": xtitle, **scale},
            "y": {"field": y, "type": "quantitative", "title": ytitle, **scale},
            "color": {"field": "region", "type": "nominal", "scale": _REGION_COLORS, "title": "region"},
            "tooltip": [
                {"field": x, "type": "quantitative"},
                {"field": "region", "type": "nominal"},
                {"field": y, "type": "quantitative", "format": ".4g"},
            ],
        },
    }


def _histogram(field: str, title: str, color: dict[str, Any] | None = None) -> dict[str, Any]:
    bar: dict[str, Any] = {
        "mark": "bar",
        "encoding": {
            "x": {"field": field, "type": "quantitative", "bin": {"maxbins": 30}, "title": title},
            "y": {"aggregate": "count", "type": "quantitative", "title": "units"},
        },
    }
    if color is not None:
        bar["encoding"]["color"] = color
    rule = {
        "mark": {"type": "rule", "strokeDash": [4, 3], "color": "black"},
        "encoding": {"x": {"aggregate": "median", "field": field, "type": "quantitative"}},
    }
    return {
        "data": {"name": "units"},
        "transform": [{"filter": f"isValid(datum['{field}']) && isFinite(datum['{field}'])"}],
        "width": _W,
        "height": _H,
        "layer": [bar, rule],
    }


def _pick() -> dict[str, Any]:
    return {"name": "pick", "select": {"type": "point", "fields": ["unit"], "on": "click", "clear": False}}


def _scatter(x: str, y: str, xtitle: str, ytitle: str, color: dict[str, Any]) -> dict[str, Any]:
    """Units as points (clickable); the selected one (param ``selectedUnit``, set by the script) ringed."""
    tip = [{"field": "name", "type": "nominal", "title": "unit"}, {"field": x, "format": ".4g"}]
    tip += [{"field": y, "format": ".4g"}, {"field": "regime", "type": "nominal"}]
    chosen = "datum.unit === selectedUnit"
    return {
        "data": {"name": "units"},
        "transform": [{"filter": f"isValid(datum['{x}']) && isValid(datum['{y}'])"}],
        "width": _W,
        "height": _H,
        "params": [_pick(), {"name": "selectedUnit", "value": -1}],
        "mark": {"type": "circle", "opacity": 0.8, "cursor": "pointer"},
        "encoding": {
            "x": {"field": x, "type": "quantitative", "title": xtitle},
            "y": {"field": y, "type": "quantitative", "title": ytitle},
            "color": color,
            "size": {"condition": {"test": chosen, "value": 260}, "value": 40},
            "stroke": {"condition": {"test": chosen, "value": "black"}, "value": None},
            "strokeWidth": {"condition": {"test": chosen, "value": 3}, "value": 0},
            "tooltip": tip,
        },
    }


def _message(text: str) -> dict[str, Any]:
    """A chart that says why there is nothing to draw."""
    return {
        "data": {"values": [{"text": text}]},
        "width": _W,
        "height": 60,
        "mark": {"type": "text", "align": "left", "x": 0, "y": 30, "limit": _W, "fontSize": 12},
        "encoding": {"text": {"field": "text", "type": "nominal"}},
    }


def population_rows(curves: np.ndarray, x: str, regions: tuple[int, ...] = (0,)) -> list[dict[str, Any]]:
    """Quantiles over units of curves (n_regions, n_points, n_units): rows ``{x, region, lo, med, hi}``."""
    rows = []
    for r in regions:
        q = across_units(curves[r])
        for t in range(curves.shape[1]):
            lo, med, hi = (float(v) for v in q[:, t])
            if np.isfinite(med):
                rows.append({x: t, "region": REGIONS[r], "lo": lo, "med": med, "hi": hi})
    return rows


def specs(data: ExploreData) -> dict[str, dict[str, Any]]:
    """The Vega-Lite spec of every chart of :data:`CHARTS`, by id."""
    regime_color = {
        "field": "regime",
        "type": "nominal",
        "scale": {"domain": list(REGIMES)},
        "title": "regime",
    }
    msd_rows = [r for r in population_rows(data.msd, "lag") if r["lag"] > 0 and r["lo"] > 0]
    out: dict[str, dict[str, Any]] = {
        "unit_map": _scatter("map_x", "map_y", "PC 1", "PC 2", {"field": "COLOR", "type": "quantitative"}),
        "unit_traj": {
            "width": _W,
            "height": _H,
            "layer": [
                {**_band("bands", "step", "step", "value")["layer"][0], "data": {"name": "bands"}},
                {**_band("bands", "step", "step", "value")["layer"][1], "data": {"name": "bands"}},
                {
                    "data": {"name": "examples"},
                    "mark": {"type": "line", "strokeWidth": 1, "opacity": 0.6, "color": "#555"},
                    "encoding": {
                        "x": {"field": "step", "type": "quantitative"},
                        "y": {"field": "value", "type": "quantitative"},
                        "detail": {"field": "seq", "type": "nominal"},
                        "strokeDash": {
                            "field": "part",
                            "type": "nominal",
                            "scale": {"domain": ["input", "padding"], "range": [[1, 0], [3, 2]]},
                            "title": "example",
                        },
                        "tooltip": [{"field": "seq", "type": "nominal"}, {"field": "value", "format": ".4g"}],
                    },
                },
            ],
        },
        "unit_delta": _curve("delta", "step", "rms", "step t (delta x[t+1] - x[t])", "RMS step delta"),
        "unit_msd": _curve("msd", "lag", "msd", "lag", "MSD", log=True),
        "unit_vacf": _curve("vacf", "lag", "vacf", "lag", "VACF / VACF(0)"),
        "pop_rms": _scatter(
            "rms_input",
            "rms_padding",
            "RMS delta over input",
            "RMS delta over padding",
            {"field": "direction", "type": "nominal", "title": "direction"},
        )
        if np.isfinite(data.table["rms_padding"].to_numpy(np.float64)).any()
        else _message(
            "No padding steps in these trajectories: every step is real input, so there is "
            "no motion after the input to compare."
        ),
        "pop_area": _histogram("area_mean_abs", "area under mean |delta|"),
        "pop_exponent": _histogram("msd_exponent", "MSD exponent", regime_color),
        "pop_msd": {
            **_band("pop_msd", "lag", "lag", "MSD", logx=True, logy=True),
            "data": {"values": msd_rows},
        },
        "pop_vacf": {
            **_band("pop_vacf", "lag", "lag", "VACF / VACF(0)"),
            "data": {"values": population_rows(data.vacf, "lag")},
        },
        "pop_delta": {
            **_band("pop_delta", "step", "step t", "RMS step delta"),
            "data": {"values": population_rows(data.rms, "step", regions=(1, 2))},
        },
    }
    return out
