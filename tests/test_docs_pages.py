"""The Python blocks of the README and the general docs pages run as shown, in order.

Pages with their own docs test (the capture pages, plugins, dynamics, ...) are
listed in ``ELSEWHERE``; a test below makes sure every docs page with a Python
block is run here or there, so a new page cannot go untested.
"""

from __future__ import annotations

import inspect
import re
import tempfile
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]
PAGES = [
    "README.md",
    "docs/index.md",
    "docs/install.md",
    "docs/quickstart.md",
    "docs/concepts.md",
    "docs/data-layout.md",
    "docs/metrics.md",
    "docs/physics.md",
    "docs/summary.md",
    "docs/no-hooks.md",
    "docs/interactive-report.md",
    "docs/scale.md",
]
# pages whose blocks another test runs (or, for the date study, compiles: running it takes minutes)
ELSEWHERE = {
    "docs/torch.md": "tests/test_torch_docs.py",
    "docs/keras.md": "tests/_keras_cases.py",
    "docs/flax.md": "tests/test_flax_adapter.py",
    "docs/plugins.md": "tests/test_docs_hooks.py",
    "docs/dynamics.md": "tests/test_dynamics.py",
    "docs/report.md": "tests/test_report_safety.py",
    "docs/dates.md": "tests/test_dates_study.py",
}
# a block written for the reader's own model (`model`, `inputs`) is a template, not an example
TEMPLATE = "capture(model, inputs"
PYTHON = re.compile(r"```python\n(.*?)```", flags=re.S)
BASH = re.compile(r"```bash\n(.*?)\n```", flags=re.S)


def _blocks(page: str) -> list[str]:
    blocks = PYTHON.findall((ROOT / page).read_text())
    return [b for b in blocks if TEMPLATE not in b]


def _run(page: str, tmp: Path) -> dict:
    """Run the page's blocks in one namespace; what they write to a temp folder lands in ``tmp``."""
    import matplotlib.pyplot as plt

    blocks = _blocks(page)
    assert blocks, f"{page} has no runnable Python block"
    namespace = {"__name__": "__docs__"}  # a page is read top to bottom: later blocks use earlier ones
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tempfile, "tempdir", str(tmp))
        try:
            for block in blocks:
                exec(compile(block, page, "exec"), namespace)
        finally:
            plt.close("all")
    return namespace


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    tmp = tmp_path_factory.mktemp("quickstart")
    return _run("docs/quickstart.md", tmp), tmp


@pytest.mark.parametrize("page", PAGES)
def test_python_blocks_run(page: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if page == "docs/quickstart.md":
        request.getfixturevalue("quickstart")  # run once, checked further below
    else:
        _run(page, tmp_path)


def test_only_the_readme_holds_a_template() -> None:
    skipped = {page: len(PYTHON.findall((ROOT / page).read_text())) - len(_blocks(page)) for page in PAGES}
    assert skipped == {page: int(page == "README.md") for page in PAGES}


def test_every_page_with_python_is_run_by_a_test() -> None:
    for page in sorted(ROOT.glob("docs/**/*.md")):
        rel = str(page.relative_to(ROOT))
        if not PYTHON.search(page.read_text()):
            continue
        if rel in PAGES:
            continue
        assert rel in ELSEWHERE, f"{rel} has Python blocks that no test runs: add it to PAGES"
        assert rel in (ROOT / ELSEWHERE[rel]).read_text(), f"{ELSEWHERE[rel]} no longer reads {rel}"


def test_quickstart_writes_the_reports(quickstart: tuple[dict, Path]) -> None:
    """The quickstart's captures and reports match rnndyn called directly."""
    import numpy as np
    import pandas as pd

    import rnndyn

    namespace, tmp = quickstart
    traj = namespace["traj"]
    # the capture is the model's own LSTM output, run by hand
    with namespace["torch"].no_grad():
        model = namespace["model"]
        h, _ = model.lstm(model.embed(namespace["tokens"]))
    assert np.allclose(traj.select(state="h").states, h.numpy(), atol=1e-6)
    table = rnndyn.summary.unit_summary(traj)
    alpha = rnndyn.physics.msd_exponent(traj.select(state="h"), lags=(1, 8), region="input")

    out, mine = namespace["out"], namespace["mine"]
    assert out.parent.parent == tmp and mine.parent.parent == tmp
    assert {"index.html", "summary.json", "figures", "tables"} <= {p.name for p in out.iterdir()}
    explored = pd.read_csv(out / "tables" / "units.csv", index_col="unit")
    assert np.allclose(explored["area_rms"], table["area_rms"])
    assert {"index.html", "units.csv", "most_dynamic_unit.png", "msd.png"} <= {p.name for p in mine.iterdir()}
    written = pd.read_csv(mine / "units.csv", index_col=0)
    assert len(written) == len(table) == 64
    # the CSV of a Report keeps 4 significant digits
    assert np.allclose(written["area_rms"], table["area_rms"], rtol=1e-3)
    assert np.isclose(namespace["report"].numbers["median_msd_exponent"], np.median(alpha))


def test_readme_opens_with_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    commands = BASH.findall(readme)[:2]
    assert "python -m examples.dates" in commands[0]
    assert commands[1].endswith("-m pytest -n 2") and "chromium" in commands[1]
    ci = (ROOT / ".ci/run").read_text().strip().splitlines()[-1]
    assert ci == commands[1], ".ci/run must run exactly the README's test command"


def test_install_commands_are_the_readmes() -> None:
    """Install commands cannot run in the tests (network): they must be the README's, word for word."""
    readme = BASH.findall((ROOT / "README.md").read_text())
    install = BASH.findall((ROOT / "docs/install.md").read_text())
    assert len(install) == 3
    for block in install:
        assert block in readme, f"docs/install.md shows a command block the README does not:\n{block}"


def test_concepts_names_every_metric() -> None:
    """Concepts lists every public function of rnndyn.metrics and rnndyn.physics, with a formula."""
    import rnndyn.metrics
    import rnndyn.physics

    text = (ROOT / "docs/concepts.md").read_text()
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| `(\w+)` \|(.*)$", text, flags=re.M)}
    for module in (rnndyn.metrics, rnndyn.physics):
        for name in module.__all__:
            if inspect.isfunction(getattr(module, name)):
                assert name in rows, f"docs/concepts.md has no row for {module.__name__}.{name}"
                assert "$" in rows[name], f"the row of {name} in docs/concepts.md has no formula"
