"""The `rnndyn` command: help, plugins, layers, and the errors of bad input (one line, exit 2 or 1).

Most tests drive the click group in-process with ``CliRunner``; one runs the
installed console script and ``python -m rnndyn`` in a subprocess.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from _torch_fixtures import _one_thread  # noqa: F401  (autouse fixture)
from click.testing import CliRunner

import rnndyn
from rnndyn.cli import cli
from rnndyn_torch import save_rnn

REPO = Path(__file__).resolve().parents[1]
COMMANDS = ["plugins", "layers", "capture", "analyze", "summary"]


def run(*args: str, **kw):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False, **kw)


class Boom:
    """Unpickling this creates a marker file: proof that nothing was unpickled when it is absent."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture(scope="module")
def gru_file(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("models") / "gru.safetensors"
    save_rnn(torch.nn.GRU(3, 4, batch_first=True), path)
    return path


def _one_line_error(result, status: int) -> str:
    assert result.exit_code == status, result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


# ------------------------------------------------------------------------ help
@pytest.mark.parametrize("command", COMMANDS)
def test_every_help_shows_a_real_example(command):
    result = run(command, "--help")
    assert result.exit_code == 0
    example = result.output.split("Example", 1)[1]
    assert f"rnndyn {command}" in example


def test_group_help_lists_every_command():
    result = run("--help")
    assert result.exit_code == 0
    for command in COMMANDS:
        assert command in result.output


# ---------------------------------------------------------------- plugins
def test_plugins_lists_every_installed_plugin_with_its_hooks():
    result = run("plugins", "--json")
    assert result.exit_code == 0
    rows = {r["plugin"]: r for r in json.loads(result.output)}
    expected = {p["name"]: p for p in rnndyn.list_plugins()}
    assert set(rows) == set(expected)
    assert "captures" in rows["torch"]["does"] and "loads models" in rows["torch"]["does"]
    assert rows["torch"]["framework"] == "torch (installed)"
    assert "save_rnn" in rows["torch"]["loads"] and "safe_mode=True" in rows["keras"]["loads"]
    for name, p in expected.items():
        assert rows[name]["module"] == p["module"]
    table = run("plugins").output
    assert all(name in table for name in expected)


# ----------------------------------------------------------------- layers
def test_layers_prints_the_rnndyn_layers_table(gru_file):
    reference = rnndyn.layers(rnndyn.plugins.load_model(gru_file))
    got = pd.DataFrame(json.loads(run("layers", str(gru_file), "--json").output))
    assert got["layer"].tolist() == reference["layer"].tolist()
    assert got["units"].tolist() == reference["units"].tolist() == [4]
    assert got["type"].tolist() == reference["type"].tolist() == ["GRU"]
    csv = run("layers", str(gru_file), "--csv").stdout.splitlines()
    assert csv[0].split(",")[:3] == ["layer", "type", "units"]
    assert "GRU" in run("layers", str(gru_file)).output


def test_csv_and_json_together_are_a_usage_error(gru_file):
    line = _one_line_error(run("layers", str(gru_file), "--csv", "--json"), 2)
    assert "--csv or --json" in line


# ----------------------------------------------------------------- bad input
def test_a_model_file_no_adapter_loads_lists_the_adapters_and_their_formats(tmp_path):
    path = tmp_path / "model.bin"
    path.write_bytes(b"\x00\x01 not a model at all")
    line = _one_line_error(run("layers", str(path)), 1)
    assert "no installed plugin loads" in line
    assert "torch: Load a recurrent module saved by rnndyn_torch.save_rnn" in line
    assert "keras: Load a .keras file" in line and "MODULE:FACTORY" in line


@pytest.mark.parametrize("name", ["model.pt", "model.safetensors", "model.keras"])
def test_a_pickle_disguised_as_a_model_is_refused_without_unpickling(tmp_path, name):
    marker = tmp_path / "UNPICKLED"
    path = tmp_path / name
    path.write_bytes(pickle.dumps(Boom(str(marker))))
    result = run("layers", str(path))
    assert result.exit_code == 1, result.output
    assert "pickle" in result.stderr.lower()
    assert not marker.exists()


@pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")
def test_a_torchscript_file_is_refused_with_the_reason(tmp_path):
    path = tmp_path / "scripted.pt"
    torch.jit.save(torch.jit.script(torch.nn.GRU(2, 3)), str(path))
    line = _one_line_error(run("layers", str(path), "--framework", "torch"), 1)
    assert "TorchScript" in line and "register_forward_hook" in line and "MODULE:FACTORY" in line
    line = _one_line_error(run("layers", str(path)), 1)
    assert "TorchScript" in line


def test_a_missing_model_path_is_a_usage_error(tmp_path):
    line = _one_line_error(run("layers", str(tmp_path / "nope.keras")), 2)
    assert "no such file" in line and "MODULE:FACTORY" in line


def test_a_layer_that_does_not_exist_shows_the_layers(gru_file, tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((2, 5, 3), dtype=np.float32))
    out = tmp_path / "t.npz"
    result = run("capture", str(gru_file), str(tmp_path / "x.npy"), "--layer", "lstm", "--out", str(out))
    line = _one_line_error(result, 2)
    assert "--layer lstm" in line and "gru (GRU, 4 units, forward, states h" in line
    result = run("capture", str(gru_file), str(tmp_path / "x.npy"), "--state", "c", "--out", str(out))
    assert "records only the states h" in _one_line_error(result, 2)
    assert not out.exists()


def test_inputs_whose_shape_the_model_rejects_fail_in_one_line(gru_file, tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((2, 5, 7), dtype=np.float32))  # 7 features, the GRU takes 3
    out = tmp_path / "t.npz"
    line = _one_line_error(run("capture", str(gru_file), str(tmp_path / "x.npy"), "--out", str(out)), 1)
    assert "batch" in line.lower() and "(2, 5, 7)" in line
    assert not out.exists()


def test_debug_shows_the_traceback(gru_file, tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((2, 5, 7), dtype=np.float32))
    args = ["--debug", "capture", str(gru_file), str(tmp_path / "x.npy"), "--out", str(tmp_path / "t.npz")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1 and isinstance(result.exception, rnndyn.RnndynError)


@pytest.mark.parametrize("kind", ["folder", "foreign file", "not npz"])
def test_capture_refuses_an_out_it_may_not_write(gru_file, tmp_path, kind):
    np.save(tmp_path / "x.npy", np.zeros((2, 5, 3), dtype=np.float32))
    if kind == "folder":
        out = tmp_path / "dir.npz"
        out.mkdir()
    elif kind == "foreign file":
        out = tmp_path / "mine.npz"
        np.savez(out, thesis=np.arange(3))
    else:
        out = tmp_path / "t.csv"
    before = out.read_bytes() if out.is_file() else None
    line = _one_line_error(run("capture", str(gru_file), str(tmp_path / "x.npy"), "--out", str(out)), 2)
    assert "--out" in line
    if before is not None:
        assert out.read_bytes() == before


@pytest.mark.parametrize("kind", ["file", "folder"])
def test_analyze_refuses_an_out_that_is_a_file_or_an_unrelated_folder(tmp_path, kind):
    from rnndyn.cli import _store

    store = _store.save(rnndyn.Trajectories(np.zeros((2, 4, 1))), tmp_path / "t.npz")
    out = tmp_path / "report"
    if kind == "file":
        out.write_text("my notes")
    else:
        out.mkdir()
        (out / "thesis.tex").write_text("years of work")
    line = _one_line_error(run("analyze", str(store), "--out", str(out)), 2)
    assert "--out" in line and ("is a file" in line or "has no rnndyn manifest" in line)
    assert (out.read_text() if kind == "file" else (out / "thesis.tex").read_text()) in (
        "my notes",
        "years of work",
    )


def test_an_unknown_option_is_a_one_line_usage_error():
    line = _one_line_error(run("summary", "--bogus"), 2)
    assert "--bogus" in line and "rnndyn summary --help" in line


# ------------------------------------------------------- the real console script
def test_console_script_and_python_m_run():
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    script = Path(sys.executable).with_name("rnndyn")
    res = subprocess.run([str(script), "--help"], capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 0 and "capture" in res.stdout, res.stderr
    res = subprocess.run(
        [sys.executable, "-m", "rnndyn", "summary", "/no/such.npz"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=REPO,
    )
    assert res.returncode == 2, res.stderr
    assert res.stderr.count("\n") == 1 and res.stderr.startswith("Error: ") and "Traceback" not in res.stderr
