"""The capture floor after the tidy-up: one name per idea, a complete adapter protocol.

`rnndyn.capture` is a function (its module is `rnndyn._capture`), the optional
adapter methods are typed protocols, an adapter's `split` hands the step count
of the whole input to the core (no state kept in the adapter), and every
NaN/inf check runs one search (`rnndyn._validation.first_nonfinite`).
"""

from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import rnndyn
from rnndyn import RnndynError, Trajectories, plugins
from rnndyn._inputs import check_input_values
from rnndyn._validation import check_finite, check_max_lag, first_nonfinite
from rnndyn.adapter import Batch, LayerInfo, ProvesBatchAxis, Split, SplitsInputs, TakesArgumentList
from rnndyn.hookspecs import hookimpl

ROOT = Path(__file__).resolve().parents[1]
CAPTURE_FLOOR = [
    "_capture.py",
    "_capture_run.py",
    "_batching.py",
    "_inputs.py",
    "_layout.py",
    "_targets.py",
    "_model_locks.py",
    "adapter.py",
    "__init__.py",
    *(f"_validation/{p.name}" for p in sorted((ROOT / "rnndyn" / "_validation").glob("*.py"))),
]


# ------------------------------------------------------------------ names
def test_capture_is_a_function_and_not_a_module():
    assert callable(rnndyn.capture) and not isinstance(rnndyn.capture, type(rnndyn))
    assert rnndyn.capture.__module__ == "rnndyn._capture"
    assert rnndyn.iter_capture.__module__ == "rnndyn._capture"
    assert rnndyn.layers.__module__ == "rnndyn._capture"
    assert {"capture", "iter_capture", "layers"} <= set(rnndyn.__all__)
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("rnndyn.capture")
    importlib.import_module("rnndyn._capture")
    assert rnndyn.capture is sys.modules["rnndyn._capture"].capture


def test_no_file_of_the_capture_floor_is_long():
    for name in CAPTURE_FLOOR:
        n = len((ROOT / "rnndyn" / name).read_text().splitlines())
        assert n <= 380, f"rnndyn/{name} has {n} lines"


def test_validation_is_the_bottom_floor():
    """rnndyn._validation imports nothing of rnndyn but its errors and the array backends (which
    import nothing of rnndyn themselves), and itself."""
    backends = ast.parse((ROOT / "rnndyn" / "_backends.py").read_text())
    assert not any(isinstance(n, ast.ImportFrom) and n.level for n in ast.walk(backends))
    for path in sorted((ROOT / "rnndyn" / "_validation").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 2:
                assert node.module in ("errors", "_backends"), f"{path.name} imports ..{node.module}"
            if isinstance(node, ast.Import) or (isinstance(node, ast.ImportFrom) and not node.level):
                names = [node.module] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                assert not any(str(n).startswith("rnndyn") for n in names), f"{path.name} imports {names}"


# --------------------------------------------------------------- protocol
class _Model:
    """A model of a toy framework whose inputs come as `_Ragged` lists of sequences."""

    def __init__(self) -> None:
        self.batches: list[Batch] = []


class _Ragged:
    def __init__(self, seqs: list[np.ndarray]) -> None:
        self.seqs = seqs


class _Adapter:
    framework = "ragged-toy"

    def __init__(self, model: _Model) -> None:
        self.model = model

    def layers(self) -> list[LayerInfo]:
        return [LayerInfo("rnn", "Toy", ("h",), ("forward",), 1)]

    def split(self, inputs, batch_size):
        if not isinstance(inputs, _Ragged):
            return None
        longest = max(len(s) for s in inputs.seqs)
        chunks = [inputs.seqs[i : i + batch_size] for i in range(0, len(inputs.seqs), batch_size)]
        return Split(iter(chunks), longest)

    def capture(self, batches, targets, *, device=None):
        units = pd.DataFrame({"layer": ["rnn"], "state": ["h"], "direction": ["forward"], "index": [0]})
        for batch in batches:
            self.model.batches.append(batch)
            if not isinstance(batch.data, list):  # an array
                yield Trajectories(np.asarray(batch.data)[:, :, :1], None, units)
                continue
            seqs = batch.data
            T = max(len(s) for s in seqs)  # this batch's own longest: the core pads the rest
            states = np.zeros((len(seqs), T, 1))
            for i, s in enumerate(seqs):
                states[i, : len(s), 0] = np.cumsum(s)
            yield Trajectories(states, [len(s) for s in seqs], units, masked=True)


class _Plugin:
    @hookimpl
    def rnndyn_claim_model(self, model):
        return _Adapter(model) if isinstance(model, _Model) else None


@pytest.fixture
def toy(monkeypatch):
    pm = plugins.make_plugin_manager()
    monkeypatch.setattr(plugins, "pm", pm)
    monkeypatch.setattr(plugins, "_loaded", True)
    pm.register(_Plugin(), name="ragged-toy")
    try:
        yield _Model()
    finally:
        pm.unregister(name="ragged-toy")


def test_optional_methods_are_typed_protocols():
    adapter = _Adapter(_Model())
    assert isinstance(adapter, SplitsInputs)
    assert not isinstance(adapter, ProvesBatchAxis) and not isinstance(adapter, TakesArgumentList)


def test_split_hands_the_whole_inputs_steps_to_every_batch_and_the_core_pads(toy):
    seqs = [np.ones(2), np.ones(5), np.ones(1), np.ones(3)]
    traj = rnndyn.capture(toy, _Ragged(seqs), batch_size=2, progress=False)
    assert [b.n_steps for b in toy.batches] == [5, 5]
    assert traj.shape == (4, 5, 1) and traj.lengths.tolist() == [2, 5, 1, 3]
    expected = np.zeros((4, 5))
    for i, s in enumerate(seqs):
        expected[i, : len(s)] = np.cumsum(s)
    np.testing.assert_array_equal(traj.states[:, :, 0], expected)


def test_batches_the_core_cut_carry_no_split_steps(toy):
    rnndyn.capture(toy, np.zeros((3, 4, 2)), batch_size=2, progress=False)
    assert [b.n_steps for b in toy.batches] == [None, None]


# ----------------------------------------------------------------- torch
def test_torch_split_keeps_no_state_and_its_batches_join():
    torch = pytest.importorskip("torch")
    from torch.nn.utils.rnn import pack_padded_sequence

    from rnndyn_torch import TorchAdapter

    torch.manual_seed(3)
    lstm = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True)
    x = torch.randn(5, 7, 3)
    packed = pack_padded_sequence(x, torch.tensor([3, 2, 7, 1, 5]), batch_first=True, enforce_sorted=False)
    adapter = TorchAdapter(lstm)
    split = adapter.split(packed, 2)
    assert isinstance(split, Split) and split.n_steps == 7
    assert adapter.split(x, 2) is None
    assert "_total_length" not in vars(adapter)
    kw = dict(layer="lstm", state=["h", "c", "i"], progress=False)
    whole = rnndyn.capture(lstm, packed, batch_size=5, **kw)
    for batch_size in (1, 2):
        got = rnndyn.capture(lstm, packed, batch_size=batch_size, **kw)
        assert got.shape == whole.shape and got.masked
        np.testing.assert_array_equal(got.lengths, whole.lengths)
        np.testing.assert_allclose(got.states, whole.states, atol=1e-6)  # BLAS rounds by batch shape
        np.testing.assert_array_equal(got.states == 0, whole.states == 0)  # the padding, to the end


# ------------------------------------------------------------- NaN and inf
def test_one_search_for_non_finite_values_in_every_library():
    x = np.zeros((2, 3, 4))
    x[1, 2, 3] = -np.inf
    pos, value = first_nonfinite(x)
    assert pos == (1, 2, 3) and str(value) == "-inf"
    assert first_nonfinite(np.full(3, 1e308)) is None  # the sum overflows, no value is inf
    assert first_nonfinite(np.arange(3)) is None and first_nonfinite("text") is None
    assert first_nonfinite(float("nan"))[0] == ()
    torch = pytest.importorskip("torch")
    t_pos, t_value = first_nonfinite(torch.tensor(x, dtype=torch.float32))
    assert t_pos == pos and str(t_value) == "-inf"
    da = pytest.importorskip("dask.array")
    assert first_nonfinite(da.from_array(x)) is None  # lazy: never computed here


def test_check_finite_gives_positions_in_the_whole_array():
    block = np.zeros((2, 2, 2))
    block[1, 0, 1] = np.nan
    with pytest.raises(
        RnndynError, match=r"^x holds a non-finite value \(nan\) at sequence 11, step 3, unit 1;"
    ):
        check_finite(block, "x", start=(10, 3, 0))


def test_a_non_finite_number_argument_is_named():
    with pytest.raises(
        RnndynError, match=r"inputs argument 'h' holds a non-finite value \(nan\) at its only"
    ):
        check_input_values(rnndyn.Args(np.zeros((2, 3)), h=float("nan")), "inputs")


# ----------------------------------------------------------------- max_lag
@pytest.mark.parametrize(
    ("value", "message"),
    [
        (2.0, r"max_lag must be an int or None; got 2.0 \(float\)\. .* whole number in \[0, 4\]"),
        (True, r"max_lag must be an int or None; got True \(bool\)"),
        (-1, r"max_lag must be >= 0; got -1\. Lag 0 is the first entry\."),
        (5, r"max_lag=5 is too large: with n_steps=5 the largest lag msd\(\) can measure is 4\."),
    ],
)
def test_check_max_lag_says_the_largest_lag(value, message):
    with pytest.raises(RnndynError, match=message):
        check_max_lag(value, 4, "msd", 5)


def test_check_max_lag_accepts_none_and_numpy_ints():
    assert check_max_lag(None, 4, "msd", 5) == 4
    assert check_max_lag(np.int64(2), 4, "msd", 5) == 2
