"""The interactive report in a real headless Chromium: every chart drawn, a click on a unit shows
that unit (the numbers drawn are the library's), the table sorts and filters, no console error,
no network request.

Needs the system Chromium (``apt-get install chromium``) and playwright (dev extra); it fails, never
skips, when they are missing.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import rnndyn
from rnndyn import analysis, metrics
from rnndyn._explore_specs import CHARTS

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(
            "headless Chromium is missing: install it with `apt-get install chromium` (the report is "
            "tested in a real browser)."
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is missing: pip install -e '.[dev]' (and `apt-get install chromium`).")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def captured() -> rnndyn.Trajectories:
    """A real capture: a tiny bidirectional LSTM with random weights, h and c, variable lengths."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(0)
        model = torch.nn.LSTM(3, 5, batch_first=True, bidirectional=True)
        inputs = torch.randn(24, 12, 3)
        lengths = np.random.default_rng(0).integers(4, 13, 24)
        return rnndyn.capture(model, inputs, state=("h", "c"), lengths=lengths, progress=False)
    finally:
        torch.set_num_threads(threads)


def _write(traj: rnndyn.Trajectories, out: Path) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return analysis.analyze(traj, out, meta={"model": "LSTM(3, 5, bidirectional)"})


class Page:
    """A loaded report, with what the browser said and asked for."""

    def __init__(self, browser: Any, path: Path) -> None:
        self.page = browser.new_page(viewport={"width": 1300, "height": 900})
        self.errors: list[str] = []
        self.external: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        self.page.route("**/*", self._route)
        self.page.goto((path / "index.html").as_uri())
        self.page.wait_for_function("document.body.dataset.ready", timeout=20_000)
        assert self.page.evaluate("document.body.dataset.ready") == "1", self.errors

    def _route(self, route: Any) -> None:
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            self.external.append(route.request.url)
            route.abort()

    def js(self, expr: str, arg: Any = None) -> Any:
        return self.page.evaluate(expr, arg)

    def table_units(self) -> list[int]:
        return self.js("[...document.querySelectorAll('#unit-table tbody tr')].map(r => +r.dataset.unit)")

    def wait_unit(self, u: int) -> None:
        self.page.wait_for_function(f"document.body.dataset.unit === '{u}'", timeout=10_000)

    def clean(self) -> None:
        assert self.errors == [], self.errors
        assert self.external == [], f"the page asked the network for {self.external}"


def _drawn(page: Page) -> dict[str, int]:
    """Per chart: how many data-mark items its SVG holds (0 when it has none)."""
    return page.js(
        """ids => Object.fromEntries(ids.map(id => {
            const el = document.getElementById('chart-' + id);
            const marks = ['path', 'line', 'text'].map(t => 'svg .role-mark > ' + t).join(', ');
            const n = el.querySelectorAll(marks).length;
            return [id, el.dataset.drawn === '1' ? n : 0];
        }))""",
        [c[0] for c in CHARTS],
    )


@pytest.fixture(scope="module")
def report(browser, captured, tmp_path_factory):
    out = _write(captured, tmp_path_factory.mktemp("browser") / "report")
    page = Page(browser, out)
    yield page
    page.page.close()


def test_every_chart_is_drawn(report):
    drawn = _drawn(report)
    assert len(drawn) == len(CHARTS) == 11
    assert all(n > 0 for n in drawn.values()), drawn
    assert sorted(report.js("Object.keys(window.rnndyn.views)")) == sorted(c[0] for c in CHARTS)
    assert report.js("document.querySelectorAll('.chart svg').length") == len(CHARTS)
    report.clean()


def test_click_a_unit_in_the_table(report, captured):
    rows = report.js("window.rnndyn.data.units")
    initial = report.js("window.rnndyn.selected")
    # pick the backward c unit with the largest MSD exponent, by filtering the table first
    report.page.fill("#unit-filter", "state=c backward")
    shown = report.table_units()
    want = [r["unit"] for r in rows if r["state"] == "c" and r["direction"] == "backward"]
    assert sorted(shown) == want and len(want) == 5
    u = max(want, key=lambda k: rows[k]["msd_exponent"] if rows[k]["msd_exponent"] is not None else -9)
    assert u != initial
    report.page.click(f"#unit-table tbody tr[data-unit='{u}']")
    report.wait_unit(u)
    name = rows[u]["name"]
    assert "backward" not in name and "/c/bw#" in name
    assert report.page.inner_text("#unit-title") == f"Selected unit: {name}"
    assert report.js(f"document.querySelector(\"tr[data-unit='{u}']\").classList.contains('selected')")
    for cid in ("unit_traj", "unit_delta", "unit_msd", "unit_vacf"):
        text = report.js(f"document.querySelector('#chart-{cid} svg').textContent")
        assert f"unit {name}" in text, cid
    # the drawn numbers are the library's, for this unit
    bands = report.js("window.rnndyn.views.unit_traj.data('bands')")
    states = np.asarray(captured.states)[:, :, u]
    for region in ("input", "padding"):
        got = {r["step"]: r["med"] for r in bands if r["region"] == region}
        mask = captured.step_mask(region)[:, :, u]
        ref = {
            t: float(np.median(states[mask[:, t], t])) for t in range(captured.n_steps) if mask[:, t].any()
        }
        assert got.keys() == ref.keys()
        np.testing.assert_allclose([got[t] for t in ref], list(ref.values()), rtol=1e-5, atol=1e-6)
    msd = report.js("window.rnndyn.views.unit_msd.data('msd')")
    ref = metrics.msd(captured, max_lag=captured.n_steps - 1)[:, u]
    got = {r["lag"]: r["msd"] for r in msd if r["region"] == "all"}
    assert sorted(got) == list(range(1, captured.n_steps))
    np.testing.assert_allclose([got[k] for k in sorted(got)], ref[1:], rtol=1e-5)
    rms = report.js("window.rnndyn.views.unit_delta.data('delta')")
    got = [r["rms"] for r in rms if r["region"] == "input"]
    ref = metrics.rms_delta(captured, region="input")[:, u]
    np.testing.assert_allclose(got, ref[np.isfinite(ref)], rtol=1e-5)
    # the unit map rings the selected unit
    assert report.js("window.rnndyn.views.unit_map.signal('selectedUnit')") == u
    report.page.fill("#unit-filter", "")
    report.clean()


def test_click_a_point_on_the_unit_map(report):
    rows = report.js("window.rnndyn.data.units")
    xy = np.array([[r["map_x"], r["map_y"]] for r in rows])
    far = np.linalg.norm(xy[:, None] - xy[None], axis=2) + np.eye(len(xy)) * 1e9
    current = report.js("window.rnndyn.selected")
    u = next(int(k) for k in np.argsort(-far.min(axis=1)) if k != current)  # a point with no neighbour on it
    x, y = report.js(
        """u => {
            document.getElementById('chart-unit_map').scrollIntoView();
            const v = window.rnndyn.views.unit_map, r = window.rnndyn.data.units[u];
            const box = document.querySelector('#chart-unit_map svg').getBoundingClientRect();
            const [ox, oy] = v.origin(), pad = v.padding();
            return [box.left + pad.left + ox + v.scale('x')(r.map_x),
                    box.top + pad.top + oy + v.scale('y')(r.map_y)];
        }""",
        u,
    )
    hit = report.js("([x, y]) => document.elementFromPoint(x, y).parentNode.getAttribute('class')", [x, y])
    assert "role-mark" in hit, hit  # the point of that unit is under the mouse
    report.page.mouse.click(x, y)
    report.wait_unit(u)
    assert report.page.inner_text("#unit-title") == f"Selected unit: {rows[u]['name']}"
    report.clean()


def test_sort_and_filter_the_table(report):
    rows = report.js("window.rnndyn.data.units")
    assert report.table_units() == sorted(range(len(rows)), key=lambda k: rows[k]["rank"])

    def by_exponent(k: int) -> tuple:
        v = rows[k]["msd_exponent"]
        return (v is None, v if v is not None else 0.0, k)

    report.page.click("#unit-table th[data-col='msd_exponent']")
    assert report.table_units() == sorted(range(len(rows)), key=by_exponent)
    report.page.click("#unit-table th[data-col='msd_exponent']")
    finite = [k for k in range(len(rows)) if rows[k]["msd_exponent"] is not None]
    down = sorted(finite, key=lambda k: (-rows[k]["msd_exponent"], k))
    assert report.table_units()[: len(down)] == down
    report.page.fill("#unit-filter", "msd_exponent>1.5 forward")
    want = [k for k in down if rows[k]["msd_exponent"] > 1.5 and rows[k]["direction"] == "forward"]
    assert report.table_units() == want
    assert report.page.inner_text("#unit-count") == f"{len(want)} of {len(rows)} units"
    report.page.fill("#unit-filter", "regime=nothing-like-this")
    assert report.table_units() == []
    report.page.fill("#unit-filter", "")
    assert len(report.table_units()) == len(rows)
    report.clean()


def test_colour_the_map_by_another_column(report):
    report.page.select_option("#map-color", "direction")
    report.page.wait_for_function(
        "window.rnndyn.views.unit_map && document.getElementById('chart-unit_map').dataset.drawn === '1' "
        "&& document.querySelector('#chart-unit_map svg').textContent.includes('direction')"
    )
    assert _drawn(report)["unit_map"] > 0
    report.clean()


def test_random_trajectories_report(browser, tmp_path):
    """A second report, of random walks with no padding at all (empty padding curves)."""
    x = np.random.default_rng(3).standard_normal((30, 10, 7)).cumsum(axis=1)
    page = Page(browser, _write(rnndyn.Trajectories(x), tmp_path / "random"))
    try:
        drawn = _drawn(page)
        assert all(n > 0 for n in drawn.values()), drawn
        text = page.js("document.querySelector('#chart-pop_rms svg').textContent")
        assert "No padding steps" in text
        assert page.js("window.rnndyn.views.unit_traj.data('bands').every(r => r.region === 'input')")
        page.clean()
    finally:
        page.page.close()
