"""The documentation site builds with ``mkdocs build --strict`` and its API pages are complete.

Strict mode turns every warning into an error: a page missing from the nav, a
broken link or anchor, a docstring griffe cannot parse. The tests below check
what strict mode does not: the API reference shows every public name with its
real signature and parsed numpydoc sections, and nothing on the site points
outside it except to a few known hosts.
"""

from __future__ import annotations

import html
import importlib
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
# module -> the API page that documents it
API = {
    "rnndyn.metrics": "api/metrics",
    "rnndyn.physics": "api/physics",
    "rnndyn.summary": "api/summary",
    "rnndyn.plots": "api/plots",
    "rnndyn.report": "api/report",
    "rnndyn.analysis": "api/analysis",
    "rnndyn.stream": "api/stream",
    "rnndyn.store": "api/store",
    "rnndyn.distributed": "api/distributed",
    "rnndyn.dynamics": "api/dynamics",
    "rnndyn.plugins": "api/plugins",
    "rnndyn.adapter": "api/plugins",
    "rnndyn.testing": "api/testing",
    "rnndyn.errors": "api/rnndyn",
}
# the top-level names, by where their docs live (capture & co. load lazily from rnndyn._capture)
TOP = {
    "Trajectories": "rnndyn.Trajectories",
    "Steps": "rnndyn.Steps",
    "capture": "rnndyn._capture.capture",
    "iter_capture": "rnndyn._capture.iter_capture",
    "layers": "rnndyn._capture.layers",
    "open_store": "rnndyn.store.open_store",
}
HOOKS = ("rnndyn_claim_model", "rnndyn_load_model", "rnndyn_register_metrics", "rnndyn_step_map")
ADAPTERS = (
    "rnndyn_torch.adapter.TorchAdapter",
    "rnndyn_keras.adapter.KerasAdapter",
    "rnndyn_flax.adapter.FlaxAdapter",
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    config = str(ROOT / "mkdocs.yml")
    cmd = [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", config, "-d", str(out)]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{done.stderr[-5000:]}"
    return out


def _page(site: Path, page: str) -> str:
    return (site / page / "index.html").read_text()


def _ids(text: str) -> set[str]:
    return set(re.findall(r'\bid="([^"]+)"', text))


def _section(text: str, anchor: str) -> str:
    """The HTML of one documented object: from its heading to the next object's heading."""
    start = text.index(f'id="{anchor}"')
    nxt = re.compile(r'<h\d id="[^"]+" class="doc doc-heading"').search(text, start + 1)
    return text[start : nxt.start() if nxt else len(text)]


def _plain(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


def _public(module: str) -> list[tuple[str, object]]:
    mod = importlib.import_module(module)
    return [
        (name, obj)
        for name in mod.__all__
        if (inspect.isfunction(obj := getattr(mod, name)) or inspect.isclass(obj)) and obj.__doc__
    ]


@pytest.mark.parametrize("module", sorted(API))
def test_api_page_documents_every_public_name(site: Path, module: str) -> None:
    text = _page(site, API[module])
    ids = _ids(text)
    public = _public(module)
    assert public, f"{module} has no public function or class"
    for name, obj in public:
        anchor = f"{module}.{name}"
        assert anchor in ids, f"{anchor} is missing from {API[module]}"
        if inspect.isfunction(obj):  # the rendered signature names every parameter
            shown = _plain(_section(text, anchor))
            for param in inspect.signature(obj).parameters:
                assert re.search(rf"\b{param}\b", shown), f"{anchor}: parameter {param} is not shown"


def test_the_signature_of_msd_is_rendered(site: Path) -> None:
    import rnndyn.metrics

    def squeeze(s: str) -> str:  # no spaces, no quotes (the annotations are strings), no trailing comma
        return re.sub(r"[\s'\"]", "", s).replace(",)", ")")

    shown = squeeze(_plain(_section(_page(site, "api/metrics"), "rnndyn.metrics.msd")))
    assert "msd" + squeeze(str(inspect.signature(rnndyn.metrics.msd))) in shown
    assert "max_lag:int|None=None" in shown


def test_top_level_and_protocol_pages(site: Path) -> None:
    top = _ids(_page(site, "api/rnndyn"))
    assert set(TOP.values()) <= top
    plugins = _ids(_page(site, "api/plugins"))
    assert {f"rnndyn.hookspecs.{hook}" for hook in HOOKS} <= plugins
    adapters = _ids(_page(site, "api/adapters"))
    assert set(ADAPTERS) <= adapters
    assert {"rnndyn_torch.io.save_rnn", "rnndyn_torch.io.load_rnn"} <= adapters


def test_numpydoc_sections_are_parsed(site: Path) -> None:
    """An unparsed numpydoc section becomes a Markdown heading ('Parameters' over '----------')."""
    for page in sorted((site / "api").rglob("index.html")):
        raw = r"--(parameters|returns|raises|examples)$"
        headings = [i for i in _ids(page.read_text()) if re.search(raw, i)]
        assert not headings, f"{page.relative_to(site)}: numpydoc sections not parsed: {headings[:3]}"
    metrics = _page(site, "api/metrics")
    # every function shows at least its parameters and what it returns as sections
    assert metrics.count("doc-section-title") >= 2 * len(_public("rnndyn.metrics"))


def test_links_stay_on_the_site(site: Path) -> None:
    pages = sorted(p for p in site.rglob("*.html") if p.name != "404.html")  # 404 links from the site root
    ids = {page: _ids(page.read_text()) for page in pages}
    for page in pages:
        for link in re.findall(r'\b(?:href|src)="([^"]+)"', page.read_text()):
            parts = urlsplit(html.unescape(link))
            if parts.scheme in ("http", "https"):
                assert parts.hostname and "." in parts.hostname, f"{page.relative_to(site)}: bad link {link}"
                continue
            assert not parts.scheme and not parts.netloc, f"{page.relative_to(site)}: {link}"
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if target.is_dir():
                target = target / "index.html"
            assert target.exists(), f"{page.relative_to(site)} links to a missing {link}"
            if parts.fragment and target.suffix == ".html":
                assert parts.fragment in ids[target], f"{page.relative_to(site)}: no anchor for {link}"


def test_nav_lists_the_issue_pages() -> None:
    """The pages the site is made of, in the order a reader meets them."""
    config = (ROOT / "mkdocs.yml").read_text()
    order = [
        "index.md",
        "install.md",
        "quickstart.md",
        "concepts.md",
        "torch.md",
        "keras.md",
        "flax.md",
        "plugins.md",
        "dates.md",
        "dynamics.md",
        "summary.md",
        "report.md",
        "interactive-report.md",
        "cli.md",
        "performance.md",
        "api/index.md",
    ]
    where = [config.find(f" {page}\n") for page in order]
    assert -1 not in where and where == sorted(where), dict(zip(order, where, strict=True))
