"""The command line's documented examples run: every ```bash block of docs/cli.md (as one shell
session, on the shipped date models) and the example at the end of every ``--help``.

What they write is compared with rnndyn called in Python: the date model's encoder captured
from the study's own encoding of the strings, and the summary from ``unit_summary``.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import rnndyn
from rnndyn.cli import _store, cli
from rnndyn.summary import unit_summary

pytest.importorskip("keras")

ROOT = Path(__file__).resolve().parents[1]
BASH = re.compile(r"```bash\n(.*?)\n```", flags=re.S)
DATES = ["March 3, 2001", "12/05/1999", "le 4 juillet 1776", "Sunday, 7 June 1942"]


def _encoded(strings: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The study's own encoding (examples.dates.data), independent of the command's."""
    from examples.dates import data as D
    from examples.dates import models as M

    vocab, _ = M.load_vocabs()
    return D.encode_inputs(strings, vocab), D.input_lengths(strings)


@pytest.fixture(scope="module")
def session(tmp_path_factory) -> Path:
    """Run docs/cli.md's bash blocks, in order, in one bash from the repository root."""
    tmp = tmp_path_factory.mktemp("cli-docs")
    script = "\n".join(BASH.findall((ROOT / "docs/cli.md").read_text()))
    assert "rnndyn capture" in script and "rnndyn analyze" in script
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "TMPDIR": str(tmp),
        "OMP_NUM_THREADS": "1",
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }
    res = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0, f"{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
    (work,) = [p for p in tmp.iterdir() if p.is_dir()]
    return work


def test_docs_capture_of_the_keras_date_model_equals_rnndyn_capture(session):
    from examples.dates import models as M

    traj, meta = _store.load(session / "dates.npz")
    x, lengths = _encoded(DATES)
    ref = rnndyn.capture(M.load_keras(), x, layer="encoder", lengths=lengths, progress=False)
    np.testing.assert_array_equal(traj.states, ref.states)
    assert traj.steps == ref.steps and traj.units.equals(ref.units)
    assert traj.inputs == DATES and meta["layer"] == "encoder"
    units = json.loads((session / "units.json").read_text())
    table = unit_summary(traj)
    np.testing.assert_allclose(
        [u["area_mean_abs"] for u in units["units"]], table["area_mean_abs"], rtol=1e-12
    )
    assert (session / "report" / "index.html").is_file()
    assert "Date encoder (Keras)" in (session / "report" / "summary.json").read_text()


def test_docs_capture_of_the_torch_date_model_equals_rnndyn_capture(session):
    from examples.dates import models as M

    traj, meta = _store.load(session / "dates-torch.npz")
    x, lengths = _encoded(DATES)
    ref = rnndyn.capture(
        M.load_torch(), x, layer="encoder", state=["h", "c"], lengths=lengths, progress=False
    )
    np.testing.assert_array_equal(traj.states, ref.states)
    assert traj.units.equals(ref.units) and meta["model"] == "examples.dates.models:load_torch"
    assert (session / "units.csv").read_text().splitlines()[0].startswith("unit,layer,state,direction,index")


def _example(command: str) -> list[str]:
    text = CliRunner().invoke(cli, [command, "--help"]).output
    lines = []
    for line in text.split("Example", 1)[1].splitlines()[1:]:
        lines.append(line.strip().rstrip("\\"))
        if not line.rstrip().endswith("\\"):
            break
    args = shlex.split(" ".join(lines))
    assert args[:2] == ["rnndyn", command]
    return args[1:]


def test_every_help_example_runs(tmp_path, monkeypatch):
    (tmp_path / "examples").symlink_to(ROOT / "examples")  # the examples' paths are the repository's
    (tmp_path / "dates.txt").write_text("\n".join(DATES[:2]) + "\n")
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    for command in ("plugins", "layers", "capture", "summary", "analyze"):
        result = runner.invoke(cli, _example(command), catch_exceptions=False)
        assert result.exit_code == 0, f"{command}: {result.output}"
    traj, _ = _store.load(tmp_path / "dates.npz")
    assert traj.inputs == DATES[:2] and traj.shape == (2, 50, 512)
    assert (tmp_path / "dates-report" / "index.html").is_file()
