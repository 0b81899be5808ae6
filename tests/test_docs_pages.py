"""The Python blocks of the README and the general docs pages run as shown, in order."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]
PAGES = [
    "README.md",
    "docs/index.md",
    "docs/data-layout.md",
    "docs/metrics.md",
    "docs/physics.md",
    "docs/summary.md",
]


def _blocks(page: str) -> list[str]:
    text = (ROOT / page).read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    # a block that needs the reader's own model is a template, not an example
    return [b for b in blocks if "capture(model" not in b]


@pytest.mark.parametrize("page", PAGES)
def test_python_blocks_run(page: str) -> None:
    blocks = _blocks(page)
    assert blocks, f"{page} has no runnable Python block"
    namespace = {"__name__": "__docs__"}  # a page is read top to bottom: later blocks use earlier ones
    for block in blocks:
        exec(compile(block, page, "exec"), namespace)


def test_readme_opens_with_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"```bash\n(.*?)\n```", readme, flags=re.S)[:2]
    assert "python -m examples.dates" in commands[0]
    assert commands[1].endswith("-m pytest -n 2")
    ci = (ROOT / ".ci/run").read_text().strip().splitlines()[-1]
    assert ci == commands[1], ".ci/run must run exactly the README's test command"
