"""`rnndyn capture`, `summary` and `analyze` against rnndyn called in Python on the same model and inputs.

Models: a PyTorch LSTM saved with ``rnndyn_torch.save_rnn``, a ``module:factory``
of the test's own (an embedding + GRU) with safetensors weights, and a small
Keras model saved as ``.keras``. The trajectory file round trip is exact.
"""

from __future__ import annotations

import json
import pickle
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from _torch_fixtures import _one_thread  # noqa: F401  (autouse fixture)
from click.testing import CliRunner
from safetensors.torch import save_file

import rnndyn
from rnndyn.cli import _store, cli
from rnndyn.summary import unit_summary
from rnndyn_torch import load_rnn, save_rnn

VOCAB = {"<pad>": 0, "?": 1, "a": 2, "b": 3, "c": 4}
FACTORY = """
import torch


class Tagger(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(5, 3)
        self.gru = torch.nn.GRU(3, 4, batch_first=True)

    def forward(self, tokens):
        return self.gru(self.embed(tokens.long()))[0]


def build():
    torch.manual_seed(1)
    return Tagger()
"""


def run(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def ok(*args: str):
    result = run(*args)
    assert result.exit_code == 0, result.output
    return result


def assert_same(a: rnndyn.Trajectories, b: rnndyn.Trajectories) -> None:
    assert a.states.dtype == b.states.dtype
    np.testing.assert_array_equal(a.states, b.states)
    assert a.steps == b.steps and a.order == b.order and a.masked == b.masked
    pd.testing.assert_frame_equal(a.units, b.units)
    if a.inputs is None or b.inputs is None:
        assert a.inputs is None and b.inputs is None
    else:
        assert len(a.inputs) == len(b.inputs)
        assert all(np.array_equal(x, y) for x, y in zip(a.inputs, b.inputs, strict=True))


class Boom:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture(scope="module")
def lstm(tmp_path_factory):
    torch.manual_seed(0)
    d = tmp_path_factory.mktemp("lstm")
    save_rnn(torch.nn.LSTM(3, 4, batch_first=True, bidirectional=True), d / "lstm.safetensors")
    x = np.random.default_rng(0).normal(size=(6, 7, 3)).astype(np.float32)
    lengths = np.array([7, 5, 3, 7, 1, 6])
    np.save(d / "x.npy", x)
    np.save(d / "lengths.npy", lengths)
    np.savez(d / "data.npz", tokens=x, n=lengths)
    return d, x, lengths


@pytest.fixture(scope="module")
def factory_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("factory")
    (d / "tinymodels.py").write_text(textwrap.dedent(FACTORY))
    (d / "vocab.json").write_text(json.dumps(VOCAB))
    (d / "lines.txt").write_text("abc\nba\ncab?a\n")
    sys.path.insert(0, str(d))
    try:
        import tinymodels

        torch.manual_seed(7)
        trained = tinymodels.Tagger()  # other weights than build() makes: the file must win
        save_file(trained.state_dict(), d / "w.safetensors")
        yield d, trained
    finally:
        sys.path.remove(str(d))
        sys.modules.pop("tinymodels", None)


# ------------------------------------------------------------------ arrays
def test_capture_of_npy_inputs_equals_rnndyn_capture(lstm, tmp_path):
    d, x, lengths = lstm
    out = tmp_path / "t.npz"
    result = ok(
        "capture", d / "lstm.safetensors", d / "x.npy", "--lengths", d / "lengths.npy",
        "--state", "h,c", "--batch-size", "4", "--out", out,
    )  # fmt: skip
    assert "6 sequences x 7 steps x 16 units" in result.output
    traj, meta = _store.load(out)
    ref = rnndyn.capture(
        load_rnn(d / "lstm.safetensors"), x, state=["h", "c"], lengths=lengths, batch_size=4, progress=False
    )
    assert_same(traj, ref)
    assert meta["layer"] == "lstm" and meta["states"] == ["h", "c"] and meta["framework"] == "torch"
    assert meta["inputs"]["file"] == "x.npy" and len(meta["inputs"]["sha256"]) == 64
    assert meta["versions"]["torch"] == torch.__version__
    np.testing.assert_array_equal(_store.load_model_inputs(out), x)
    for region in ("input", "padding"):
        np.testing.assert_array_equal(
            rnndyn.metrics.msd(traj, region=region), rnndyn.metrics.msd(ref, region=region)
        )


def test_capture_of_an_npz_picks_the_key_and_the_lengths_key(lstm, tmp_path):
    d, x, lengths = lstm
    result = run("capture", d / "lstm.safetensors", d / "data.npz", "--out", tmp_path / "t.npz")
    assert result.exit_code == 1 and "say which one with --key" in result.stderr
    ok("capture", d / "lstm.safetensors", d / "data.npz", "--key", "tokens", "--lengths-key", "n",
       "--out", tmp_path / "t.npz")  # fmt: skip
    traj, _ = _store.load(tmp_path / "t.npz")
    ref = rnndyn.capture(load_rnn(d / "lstm.safetensors"), x, lengths=lengths, progress=False)
    assert_same(traj, ref)


def test_the_trajectory_file_round_trip_is_exact(tmp_path):
    rng = np.random.default_rng(3)
    valid = rng.random((5, 6)) < 0.7
    valid[:, 0] = True
    order = np.argsort(rng.random((5, 6)), axis=1)
    units = pd.DataFrame(
        {"layer": ["a", "a", "b"], "state": ["h", "c", "h"], "direction": ["forward", "backward", "forward"],
         "index": [0, 0, 1], "note": [1.5, 2.5, 3.5]}
    )  # fmt: skip
    steps = rnndyn.Steps(valid, masked={"a": True, "b": False}, orders={("b", "forward"): order})
    traj = rnndyn.Trajectories(
        rng.normal(size=(5, 6, 3)).astype(np.float32), units=units, steps=steps,
        inputs=["x", "yy", "zzz", "", "w"], order="processing",
    )  # fmt: skip
    back, meta = _store.load(_store.save(traj, tmp_path / "t.npz", meta={"k": [1, 2]}))
    assert_same(back, traj)
    assert back.inputs == traj.inputs and meta == {"k": [1, 2]}
    for f in (rnndyn.metrics.vacf, rnndyn.metrics.msd, rnndyn.metrics.rms_delta):
        np.testing.assert_array_equal(f(back, region="input"), f(traj, region="input"))


def test_out_is_replaced_only_when_rnndyn_wrote_it(lstm, tmp_path):
    d, x, _ = lstm
    out = tmp_path / "t.npz"
    ok("capture", d / "lstm.safetensors", d / "x.npy", "--out", out)
    ok("capture", d / "lstm.safetensors", d / "x.npy", "--out", out)  # ours: replaced
    result = run("capture", d / "lstm.safetensors", d / "x.npy", "--out", out, "--no-overwrite")
    assert result.exit_code == 2 and "--no-overwrite" in result.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["t.npz"]  # no temporary file left


# ------------------------------------------------------------ text and factory
def test_text_inputs_with_a_factory_and_weights_equal_rnndyn_capture(factory_dir, tmp_path, monkeypatch):
    d, trained = factory_dir
    monkeypatch.chdir(d)  # MODULE:FACTORY imports from the current folder, like python -m
    out = tmp_path / "t.npz"
    ok("capture", "tinymodels:build", "lines.txt", "--vocab", "vocab.json", "--unknown", "1", "--pad", "0",
       "--weights", "w.safetensors", "--out", out)  # fmt: skip
    traj, meta = _store.load(out)
    tokens = np.array([[2, 3, 4, 0, 0], [3, 2, 0, 0, 0], [4, 2, 3, 1, 2]], dtype=np.int32)
    ref = rnndyn.capture(trained.eval(), tokens, lengths=[3, 2, 5], progress=False)
    assert_same(traj._replace(inputs=None), ref)
    assert traj.inputs == ["abc", "ba", "cab?a"]
    assert meta["model_class"] == "tinymodels.Tagger" and meta["weights"]["file"] == "w.safetensors"
    assert meta["inputs"]["kind"] == "text" and meta["inputs"]["pad"] == 0


def test_text_inputs_refuse_unknown_tokens_and_unknown_padding(factory_dir, tmp_path, monkeypatch):
    d, _ = factory_dir
    monkeypatch.chdir(d)
    (tmp_path / "bad.txt").write_text("abc\nabz\n")
    args = [
        "capture",
        "tinymodels:build",
        tmp_path / "bad.txt",
        "--vocab",
        "vocab.json",
        "--out",
        tmp_path / "t.npz",
    ]
    result = run(*args)
    assert result.exit_code == 1 and "line 2: 'z' is not in the vocabulary" in result.stderr
    ok(*args, "--unknown", "1", "--pad", "0")
    np.testing.assert_array_equal(_store.load_model_inputs(tmp_path / "t.npz"), [[2, 3, 4], [2, 3, 1]])
    (tmp_path / "t.npz").unlink()
    (tmp_path / "plain.json").write_text(json.dumps({"a": 2, "b": 3, "c": 4}))
    (tmp_path / "uneven.txt").write_text("abc\nab\n")
    result = run("capture", "tinymodels:build", tmp_path / "uneven.txt", "--vocab", tmp_path / "plain.json",
                 "--out", tmp_path / "t.npz")  # fmt: skip
    assert result.exit_code == 1 and "--pad ID" in result.stderr
    assert not (tmp_path / "t.npz").exists()


def test_weights_that_do_not_fit_list_the_differences(factory_dir, tmp_path, monkeypatch):
    d, _ = factory_dir
    monkeypatch.chdir(d)
    save_file({"embed.weight": torch.zeros(9, 3), "extra": torch.zeros(1)}, tmp_path / "bad.safetensors")
    result = run("layers", "tinymodels:build", "--weights", tmp_path / "bad.safetensors")
    assert result.exit_code == 1
    msg = result.stderr
    assert "embed.weight (9, 3) in the file, (5, 3) in the model" in msg
    assert "missing in the file: ['gru.bias_hh_l0'" in msg and "not in the model: ['extra']" in msg
    result = run("layers", "tinymodels:nothing")
    assert result.exit_code == 1 and "has no attribute 'nothing'" in result.stderr


@pytest.mark.parametrize("kind", ["npy", "npz object array", "text"])
def test_a_pickle_disguised_as_inputs_is_refused_without_unpickling(lstm, factory_dir, tmp_path, kind):
    d, _, _ = lstm
    marker = tmp_path / "UNPICKLED"
    if kind == "npy":
        path = tmp_path / "x.npy"
        path.write_bytes(pickle.dumps(Boom(str(marker))))
    elif kind == "text":
        path = tmp_path / "x.txt"
        path.write_bytes(pickle.dumps(Boom(str(marker))))
    else:
        path = tmp_path / "x.npz"
        np.savez(path, x=np.array([Boom(str(marker))], dtype=object))
    extra = ["--vocab", factory_dir[0] / "vocab.json"] if kind == "text" else []
    result = run("capture", d / "lstm.safetensors", path, *extra, "--out", tmp_path / "t.npz")
    assert result.exit_code == 1, result.output
    assert "pickle" in result.stderr and "never loads" in result.stderr
    assert not marker.exists()


# ------------------------------------------------------------------ keras
def test_keras_model_capture_equals_rnndyn_capture(tmp_path):
    keras = pytest.importorskip("keras")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((5, 3)), keras.layers.GRU(4, return_sequences=True, name="gru")])
    model.save(tmp_path / "m.keras")
    x = np.random.default_rng(1).normal(size=(4, 5, 3)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    ok("capture", tmp_path / "m.keras", tmp_path / "x.npy", "--layer", "gru", "--out", tmp_path / "t.npz")
    traj, meta = _store.load(tmp_path / "t.npz")
    ref = rnndyn.capture(keras.saving.load_model(tmp_path / "m.keras", safe_mode=True), x, layer="gru",
                         progress=False)  # fmt: skip
    assert_same(traj, ref)
    assert meta["framework"] == "keras"


# ------------------------------------------------------------------ summary
def test_summary_json_and_csv_equal_unit_summary(lstm, tmp_path):
    d, x, lengths = lstm
    ok(
        "capture",
        d / "lstm.safetensors",
        d / "x.npy",
        "--lengths",
        d / "lengths.npy",
        "--out",
        tmp_path / "t.npz",
    )
    ref = unit_summary(rnndyn.capture(load_rnn(d / "lstm.safetensors"), x, lengths=lengths, progress=False))
    got = json.loads(ok("summary", tmp_path / "t.npz", "--json", "--top", "3", "--sort", "rms_input").stdout)
    table = pd.DataFrame(got["units"]).set_index("unit")
    for col in ("area_mean_abs", "rms_input", "msd_exponent", "diffusion_einstein"):
        np.testing.assert_allclose(
            table[col].to_numpy(float), ref[col].to_numpy(float), rtol=1e-12, equal_nan=True
        )
    assert got["top"] == ref["rms_input"].sort_values(ascending=False, kind="stable").index[:3].tolist()
    values = ref["msd_exponent"].dropna().to_numpy()
    assert got["percentiles"]["msd_exponent"]["p50"] == pytest.approx(np.median(values), rel=1e-12)
    csv = pd.read_csv(
        pd.io.common.StringIO(ok("summary", tmp_path / "t.npz", "--csv").stdout), index_col="unit"
    )
    np.testing.assert_allclose(csv["area_rms"], ref["area_rms"], rtol=1e-9)
    text = ok("summary", tmp_path / "t.npz", "--top", "2").output
    assert "Top 2 of 8 units by area_mean_abs" in text and "Percentiles" in text
    result = run("summary", tmp_path / "t.npz", "--sort", "nope")
    assert result.exit_code == 2 and "area_mean_abs" in result.stderr


# ------------------------------------------------------------------ analyze
def test_analyze_writes_the_report_of_the_captured_file(lstm, tmp_path):
    d, _, lengths = lstm
    ok(
        "capture",
        d / "lstm.safetensors",
        d / "x.npy",
        "--lengths",
        d / "lengths.npy",
        "--out",
        tmp_path / "t.npz",
    )
    result = ok("analyze", tmp_path / "t.npz", "--out", tmp_path / "report", "--title", "Tiny LSTM")
    assert "index.html" in result.output
    report = tmp_path / "report"
    assert (report / "index.html").is_file() and list((report / "figures").glob("*.png"))
    assert list((report / "tables").glob("*.csv"))
    summary = json.loads((report / "summary.json").read_text())
    text = json.dumps(summary)
    assert "lstm.safetensors" in text and "Tiny LSTM" in text


def test_an_interrupted_analyze_leaves_no_half_written_report(lstm, tmp_path, monkeypatch):
    d, _, _ = lstm
    ok("capture", d / "lstm.safetensors", d / "x.npy", "--out", tmp_path / "t.npz")
    ok("analyze", tmp_path / "t.npz", "--out", tmp_path / "report")
    before = {
        p.relative_to(tmp_path): p.read_bytes() for p in (tmp_path / "report").rglob("*") if p.is_file()
    }
    calls = []
    original = Path.write_bytes

    def interrupted(self, data):
        calls.append(self)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return original(self, data)

    monkeypatch.setattr(Path, "write_bytes", interrupted)
    result = CliRunner().invoke(cli, ["analyze", str(tmp_path / "t.npz"), "--out", str(tmp_path / "report")])
    monkeypatch.undo()
    assert len(calls) >= 3 and result.exit_code == 130, result.output
    assert "interrupted" in result.stderr
    after = {p.relative_to(tmp_path): p.read_bytes() for p in (tmp_path / "report").rglob("*") if p.is_file()}
    assert after == before  # the earlier report is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report", "t.npz"]  # no temporary folder left


def test_capture_into_a_zarr_store_then_analyze_and_summary(tmp_path):
    """--out RUN.zarr writes the resumable store; analyze and summary read it like a .npz."""
    import json

    from click.testing import CliRunner
    from rnndyn_numpyrnn import NumpyRNN

    from rnndyn.cli import cli

    model = NumpyRNN.random(n_inputs=2, n_units=3, seed=4)
    model_path = tmp_path / "model.npz"
    model.save(model_path)
    x = np.random.default_rng(0).normal(size=(9, 6, 2))
    np.save(tmp_path / "x.npy", x)
    runner = CliRunner()
    args = ["capture", str(model_path), str(tmp_path / "x.npy"), "--batch-size", "4"]
    res = runner.invoke(cli, [*args, "--out", str(tmp_path / "run.zarr")])
    assert res.exit_code == 0, res.output
    again = runner.invoke(cli, [*args, "--out", str(tmp_path / "run.zarr")])  # the same call: nothing to do
    assert again.exit_code == 0, again.output
    want = rnndyn.capture(model, x, batch_size=4, progress=False)
    np.testing.assert_array_equal(np.asarray(rnndyn.open_store(tmp_path / "run.zarr").states), want.states)
    res = runner.invoke(cli, ["summary", str(tmp_path / "run.zarr"), "--json"])
    assert res.exit_code == 0, res.output
    got = json.loads(res.stdout)
    ref = rnndyn.summary.unit_summary(want)
    table = pd.DataFrame(got["units"]).set_index("unit")
    np.testing.assert_allclose(
        table["area_mean_abs"].to_numpy(float), ref["area_mean_abs"].to_numpy(float), rtol=1e-12
    )
    res = runner.invoke(cli, ["analyze", str(tmp_path / "run.zarr"), "--out", str(tmp_path / "report")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "report" / "index.html").is_file()
    other = runner.invoke(
        cli, [*args[:2], str(tmp_path / "x.npy"), "--batch-size", "3", "--out", str(tmp_path / "run.zarr")]
    )
    assert other.exit_code != 0 and "batch" in other.output
