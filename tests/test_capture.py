"""`rnndyn.capture`: batching, inputs of every kind, lengths, targets, errors, progress.

Runs on the NumPy example adapter and on throwaway adapters, registered on a
fresh plugin manager, so it needs neither PyTorch nor Keras.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import rnndyn
from rnndyn import PluginError, RnndynError, Trajectories, capture, iter_capture, plugins
from rnndyn.adapter import LayerInfo
from rnndyn.hookspecs import hookimpl

try:
    from rnndyn_numpyrnn import NumpyRNN
    from rnndyn_numpyrnn import plugin as numpy_plugin
except ImportError:  # not installed: use the source tree
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples" / "custom_adapter"))
    from rnndyn_numpyrnn import NumpyRNN
    from rnndyn_numpyrnn import plugin as numpy_plugin

RNG = np.random.default_rng(20240501)
X = RNG.normal(size=(7, 5, 2))


def brute_force(model: NumpyRNN, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """h and z of an Elman RNN, one sequence, one step, one unit at a time."""
    n, T, F = x.shape
    U = model.n_units
    h_out, z_out = np.zeros((n, T, U)), np.zeros((n, T, U))
    for i in range(n):
        h = [0.0] * U
        for t in range(T):
            z = [
                sum(model.W_x[u, k] * x[i, t, k] for k in range(F))
                + sum(model.W_h[u, v] * h[v] for v in range(U))
                + model.b[u]
                for u in range(U)
            ]
            h = [float(np.tanh(zu)) for zu in z]
            h_out[i, t], z_out[i, t] = h, z
    return h_out, z_out


# ---------------------------------------------------------- a toy framework
TOY_LAYERS = [
    LayerInfo("enc", "LSTM", ("h", "c"), ("forward", "backward"), 2),
    LayerInfo("dec", "GRU", ("h",), ("forward",), 3),
]


def toy_block(x: np.ndarray, info: LayerInfo, state: str) -> tuple[np.ndarray, pd.DataFrame]:
    """What the toy 'records' for one (layer, state): scaled running sums of the input."""
    pos = [layer.name for layer in TOY_LAYERS].index(info.name)
    run = np.cumsum(x.reshape(x.shape[0], x.shape[1], -1).sum(axis=2), axis=1)
    cols = [(d, i) for d in info.directions for i in range(info.n_units)]
    coef = np.array([1 + pos + 10 * info.states.index(state) + 0.1 * c for c in range(len(cols))])
    units = pd.DataFrame(
        {
            "layer": info.name,
            "state": state,
            "direction": [d for d, _ in cols],
            "index": [i for _, i in cols],
        }
    )
    return run[:, :, None] * coef, units


def toy_reference(x, targets):
    infos = {info.name: info for info in TOY_LAYERS}
    blocks = [toy_block(x, infos[layer], state) for layer, state in targets]
    return np.concatenate([b[0] for b in blocks], axis=2), pd.concat(
        [b[1] for b in blocks], ignore_index=True
    )


class ToyModel:
    """A model of the toy framework with knobs that make its adapter misbehave."""

    def __init__(self, layers=TOY_LAYERS, **knobs):
        self.layers = list(layers)
        self.knobs = knobs
        self.events: list[tuple] = []


def _as_array(data):
    if isinstance(data, dict):
        return sum(np.asarray(v, dtype=float) for v in data.values())
    return np.asarray(data, dtype=float)


class ToyAdapter:
    framework = "toy"

    def __init__(self, model: ToyModel):
        self.model = model

    def layers(self):
        return self.model.layers

    def capture(self, batches, targets, *, device=None):
        m, k = self.model, self.model.knobs
        m.events.append(("start", list(targets), device))
        try:
            for j, batch in enumerate(batches):
                lengths = None if batch.lengths is None else batch.lengths.tolist()
                m.events.append(("batch", batch.index, lengths))
                if k.get("fail_on") == batch.index:
                    raise k["fail_with"]
                states, units = toy_reference(_as_array(batch.data), targets)
                if k.get("short_on") == batch.index:
                    states = states[1:]
                if k.get("wrong_units"):
                    units = units.assign(state="q")
                lens = batch.lengths if batch.lengths is None else batch.lengths[: len(states)]
                yield Trajectories(states, lens, units)
                if k.get("stop_after") == j + 1:
                    return
        finally:
            m.events.append(("closed",))


class Packed:
    """Inputs only the toy adapter's split() understands."""

    def __init__(self, x):
        self.x = x


class SplittingToyAdapter(ToyAdapter):
    def split(self, inputs, batch_size):
        if not isinstance(inputs, Packed):
            return None
        self.model.events.append(("split", batch_size))
        return (inputs.x[i : i + batch_size] for i in range(0, len(inputs.x), batch_size))


class EagerToyAdapter(ToyAdapter):
    """capture() is a plain function returning a list (runs every batch at once)."""

    def capture(self, batches, targets, *, device=None):
        return list(ToyAdapter.capture(self, batches, targets, device=device))


class ToyPlugin:
    @hookimpl
    def rnndyn_claim_model(self, model):
        if isinstance(model, ToyModel):
            cls = ToyAdapter
            if model.knobs.get("split"):
                cls = SplittingToyAdapter
            if model.knobs.get("eager"):
                cls = EagerToyAdapter
            return cls(model)
        return None


@pytest.fixture(autouse=True)
def manager(monkeypatch):
    """A fresh plugin manager holding the NumPy plugin and the toy plugin."""
    pm = plugins.make_plugin_manager()
    monkeypatch.setattr(plugins, "pm", pm)
    monkeypatch.setattr(plugins, "_loaded", True)
    pm.register(numpy_plugin, name="numpyrnn")
    pm.register(ToyPlugin(), name="toy")
    try:
        yield pm
    finally:
        for name in ("numpyrnn", "toy"):
            pm.unregister(name=name)


@pytest.fixture
def model():
    return NumpyRNN.random(n_inputs=2, n_units=3, seed=1, name="elman")


def batches_seen(m: ToyModel) -> list[tuple]:
    return [e for e in m.events if e[0] == "batch"]


# ------------------------------------------------------------ correctness
def test_capture_equals_brute_force_with_two_states(model):
    h, z = brute_force(model, X)
    traj = capture(model, X, state=["h", "z"], batch_size=3, progress=False)
    assert traj.shape == (7, 5, 6)
    np.testing.assert_allclose(traj.states, np.concatenate([h, z], axis=2), rtol=1e-12, atol=1e-12)
    assert traj.units["state"].tolist() == ["h"] * 3 + ["z"] * 3
    assert traj.units["layer"].unique().tolist() == ["elman"]
    assert traj.lengths.tolist() == [5] * 7 and traj.inputs is None


@pytest.mark.parametrize("batch_size", [1, 3, 7, 100])
def test_batching_invariance(model, batch_size):
    whole = capture(model, X, state=["z", "h"], batch_size=len(X), progress=False)
    traj = capture(model, X, state=["z", "h"], batch_size=batch_size, progress=False)
    # BLAS may round a (1, F) @ (F, U) product differently from a (7, F) @ (F, U) one
    np.testing.assert_allclose(traj.states, whole.states, rtol=1e-13, atol=1e-15)
    assert traj.units.equals(whole.units)
    # the toy computes each sequence alone: there the results are bit for bit equal
    toy, x = ToyModel(), RNG.normal(size=(7, 4, 1))
    ref = capture(toy, x, layer="enc", state=["c", "h"], batch_size=7, progress=False).states
    got = capture(toy, x, layer="enc", state=["c", "h"], batch_size=batch_size, progress=False)
    np.testing.assert_array_equal(got.states, ref)


def test_rnndyn_capture_attribute_stays_callable(model):
    first = rnndyn.capture(model, X, progress=False)
    importlib.import_module("rnndyn._capture")  # importing the module leaves the function in place
    assert callable(rnndyn.capture)

    second = rnndyn.capture(model, X, progress=False)
    np.testing.assert_array_equal(first.states, second.states)


def test_several_layers_and_states_in_one_forward_pass():
    m = ToyModel()
    x = RNG.normal(size=(5, 4, 1))
    traj = capture(m, x, layer=["dec", "enc"], state=["h"], batch_size=2, progress=False)
    starts = [e for e in m.events if e[0] == "start"]
    assert starts == [("start", [("dec", "h"), ("enc", "h")], None)]
    assert len(batches_seen(m)) == 3
    ref, units = toy_reference(x, [("dec", "h"), ("enc", "h")])
    np.testing.assert_allclose(traj.states, ref)
    assert traj.units.equals(units)
    traj2 = capture(m, x, layer="enc", state=["h", "c"], progress=False)
    np.testing.assert_allclose(traj2.states, toy_reference(x, [("enc", "h"), ("enc", "c")])[0])
    assert traj2.units.groupby(["state", "direction"], sort=False).size().tolist() == [2, 2, 2, 2]


def test_device_is_passed_to_the_adapter():
    m = ToyModel()
    capture(m, np.ones((2, 3, 1)), layer="dec", device="toy:1", progress=False)
    assert m.events[0] == ("start", [("dec", "h")], "toy:1")


# ------------------------------------------------------------- input kinds
def test_list_of_examples_default_collate_keeps_the_inputs(model):
    examples = list(X)
    traj = capture(model, examples, batch_size=3, progress=False)
    ref = capture(model, X, batch_size=3, progress=False).states
    np.testing.assert_array_equal(traj.states, ref)
    assert len(traj.inputs) == 7
    assert all(a is b for a, b in zip(traj.inputs, examples, strict=True))


def test_list_of_strings_with_collate_and_lengths(model):
    words = ["1", "0110", "10", "111", "0", "01", "1001", "11"]
    T = 4

    def one_hot(batch):
        out = np.zeros((len(batch), T, 2))
        for i, w in enumerate(batch):
            for t, ch in enumerate(w):
                out[i, t, int(ch)] = 1.0
        return out

    lengths = [len(w) for w in words]
    traj = capture(model, words, collate=one_hot, lengths=lengths, batch_size=3, progress=False)
    assert traj.inputs == words
    assert traj.lengths.tolist() == lengths
    np.testing.assert_allclose(traj.states, brute_force(model, one_hot(words))[0], atol=1e-12)


def test_default_collate_refuses_ragged_examples(model):
    ragged = [np.zeros((5, 2)), np.zeros((5, 2)), np.zeros((5, 2)), np.zeros((4, 2))]
    with pytest.raises(RnndynError) as info:
        capture(model, ragged, batch_size=2, progress=False)
    msg = str(info.value)
    assert "batch 1" in msg and "(5, 2)" in msg and "(4, 2)" in msg
    assert "collate=" in msg and "lengths=" in msg


def test_custom_collate_failure_names_the_batch(model):
    def collate(group):
        if len(group) < 3:
            raise TypeError("cannot tokenize")
        return np.stack(group)

    with pytest.raises(
        RnndynError, match="batch 2: collate= failed on examples 6..6: TypeError: cannot tokenize"
    ) as info:
        capture(model, list(X), collate=collate, batch_size=3, progress=False)
    assert isinstance(info.value.__cause__, TypeError)


def test_iterable_of_batches_and_dataloader_style_items(model):
    sizes = [3, 1, 3]
    chunks = np.split(X, np.cumsum(sizes)[:-1])
    ref = capture(model, X, progress=False).states
    from_gen = capture(model, (c for c in chunks), progress=False)
    np.testing.assert_allclose(from_gen.states, ref, rtol=1e-13, atol=1e-15)
    # a DataLoader over a TensorDataset yields [inputs, targets]: the first is the input
    pairs = [[c, np.zeros(len(c))] for c in chunks]
    from_pairs = capture(model, iter(pairs), progress=False).states
    np.testing.assert_array_equal(from_pairs, from_gen.states)
    tuples = [(c,) for c in chunks]
    np.testing.assert_array_equal(capture(model, iter(tuples), progress=False).states, from_pairs)


def test_a_failing_generator_of_batches_names_the_batch():
    m = ToyModel()

    def batches():
        yield np.zeros((2, 3, 1))
        raise OSError("disk gone")

    with pytest.raises(RnndynError, match="Reading batch 1 from the inputs failed: OSError") as info:
        capture(m, batches(), layer="dec", progress=False)
    assert isinstance(info.value.__cause__, OSError)
    assert m.events[-1] == ("closed",) and len(batches_seen(m)) == 1


def test_dict_inputs_are_sliced_together():
    m = ToyModel()
    a, b = RNG.normal(size=(5, 3, 1)), RNG.normal(size=(5, 3, 2))
    traj = capture(m, {"a": a, "b": b}, layer="dec", batch_size=2, progress=False)
    ref = toy_reference(a + b, [("dec", "h")])[0]
    np.testing.assert_allclose(traj.states, ref)
    assert [e[1] for e in batches_seen(m)] == [0, 1, 2]
    with pytest.raises(RnndynError, match=r"do not agree on the number of sequences.*'a'\]: 5.*'b'\]: 4"):
        capture(m, {"a": a, "b": b[:4]}, layer="dec", progress=False)


def test_adapter_split_claims_its_own_inputs():
    m = ToyModel(split=True)
    x = RNG.normal(size=(5, 3, 1))
    traj = capture(m, Packed(x), layer="dec", batch_size=2, progress=False)
    assert ("split", 2) in m.events
    np.testing.assert_allclose(traj.states, toy_reference(x, [("dec", "h")])[0])
    m.events.clear()  # split() declines other inputs: the core batches them
    capture(m, x, layer="dec", batch_size=4, progress=False)
    assert not [e for e in m.events if e[0] == "split"] and len(batches_seen(m)) == 2


# ----------------------------------------------------------------- lengths
def test_lengths_are_split_across_batches():
    m = ToyModel()
    x = RNG.normal(size=(7, 4, 1))
    lengths = np.array([4, 1, 3, 2, 4, 0, 3])
    traj = capture(m, x, layer="dec", lengths=lengths, batch_size=3, progress=False)
    assert traj.lengths.tolist() == lengths.tolist()
    assert [e[2] for e in batches_seen(m)] == [[4, 1, 3], [2, 4, 0], [3]]
    # iterables: batch sizes as they come
    m.events.clear()
    chunks = [x[:2], x[2:7]]
    traj = capture(m, iter(chunks), layer="dec", lengths=lengths, progress=False)
    assert [e[2] for e in batches_seen(m)] == [[4, 1], [3, 2, 4, 0, 3]]
    assert traj.lengths.tolist() == lengths.tolist()


def test_lengths_count_must_match_before_running():
    m = ToyModel()
    with pytest.raises(RnndynError, match="lengths has 6 entries but inputs hold 7"):
        capture(m, np.zeros((7, 4, 1)), layer="dec", lengths=[4] * 6, progress=False)
    assert m.events == []  # nothing ran
    with pytest.raises(RnndynError, match="whole numbers"):
        capture(m, np.zeros((2, 4, 1)), layer="dec", lengths=[1.5, 2], progress=False)
    with pytest.raises(RnndynError, match=">= 0"):
        capture(m, np.zeros((2, 4, 1)), layer="dec", lengths=[1, -2], progress=False)


def test_lengths_overrun_in_an_iterable_fails_at_once():
    m = ToyModel()
    chunks = [np.zeros((2, 3, 1))] * 5
    with pytest.raises(RnndynError, match="lengths has 5 entries, but batches 0..2 already hold 6"):
        capture(m, iter(chunks), layer="dec", lengths=[3] * 5, progress=False)
    assert [e[1] for e in batches_seen(m)] == [0, 1]  # batch 2 never reached the model
    assert m.events[-1] == ("closed",)


def test_lengths_underrun_in_an_iterable_fails_at_the_end():
    m = ToyModel()
    chunks = [np.zeros((2, 3, 1))] * 2
    with pytest.raises(RnndynError, match="lengths has 5 entries but the inputs held 4"):
        capture(m, iter(chunks), layer="dec", lengths=[3] * 5, progress=False)


# ------------------------------------------------------------ error paths
def test_no_adapter_claims_the_model():
    with pytest.raises(PluginError) as info:
        capture(pd.DataFrame(), X, progress=False)
    msg = str(info.value)
    assert "pandas.DataFrame" in msg and "numpyrnn" in msg and "toy" in msg
    assert "rnndyn[torch]" in msg and "plugins.md" in msg


def test_unknown_layer_lists_the_recurrent_layers():
    with pytest.raises(PluginError) as info:
        capture(ToyModel(), X, layer="encoder", progress=False)
    msg = str(info.value)
    assert "Unknown layer 'encoder'" in msg and "Did you mean 'enc'" in msg
    assert "'enc' (LSTM; states h, c; forward+backward; 2 units)" in msg
    assert "'dec' (GRU; states h; forward; 3 units)" in msg


def test_layer_must_be_given_when_there_are_several():
    with pytest.raises(PluginError, match="(?s)2 recurrent layers.*'enc' \\(LSTM.*'dec' \\(GRU"):
        capture(ToyModel(), X, progress=False)
    with pytest.raises(PluginError, match="no recurrent layer"):
        capture(ToyModel(layers=[]), X, progress=False)


def test_unknown_state_lists_the_states_of_that_layer():
    with pytest.raises(PluginError, match="Layer 'dec' \\(GRU\\) has no state 'c'; its states are 'h'"):
        capture(ToyModel(), X, layer=["enc", "dec"], state=["h", "c"], progress=False)
    with pytest.raises(RnndynError, match="more than once"):
        capture(ToyModel(), X, layer=["enc", "enc"], progress=False)
    with pytest.raises(RnndynError, match="state must be a name or a list"):
        capture(ToyModel(), X, layer="enc", state=3, progress=False)


@pytest.mark.parametrize(
    "inputs, match",
    [
        (np.zeros((0, 5, 2)), "holds no sequences"),
        ([], "holds no sequences"),
        (iter([]), "yielded no batches"),
        ({}, "empty dict"),
        (None, "inputs is None"),
        ("01101", "single str"),
        (np.float64(3.0), "0-d array"),
        (42, "got int"),
    ],
)
def test_empty_or_unusable_inputs(model, inputs, match):
    with pytest.raises(RnndynError, match=match):
        capture(model, inputs, progress=False)


@pytest.mark.parametrize("batch_size", [0, -3, 2.0, True, "8"])
def test_batch_size_must_be_a_positive_int(model, batch_size):
    with pytest.raises(RnndynError, match="batch_size"):
        capture(model, X, batch_size=batch_size, progress=False)


def test_a_batch_failing_inside_the_model_names_the_batch_and_closes_the_adapter():
    m = ToyModel(fail_on=2, fail_with=ValueError("shapes do not match"))
    with pytest.raises(RnndynError) as info:
        capture(m, np.zeros((7, 4, 1)), layer="dec", batch_size=3, progress=False)
    msg = str(info.value)
    assert "batch 2 (shape (1, 4, 1), dtype float64)" in msg and "shapes do not match" in msg
    assert isinstance(info.value.__cause__, ValueError)
    assert m.events[-1] == ("closed",)


def test_an_rnndyn_error_from_the_adapter_keeps_its_type_and_gains_the_batch():
    m = ToyModel(fail_on=1, fail_with=PluginError("no such gate"))
    with pytest.raises(PluginError, match=r"^Capturing batch 1 \(shape \(3, 4, 1\).*no such gate"):
        capture(m, np.zeros((7, 4, 1)), layer="dec", batch_size=3, progress=False)
    assert m.events[-1] == ("closed",)


def test_an_adapter_that_returns_a_list():
    x = RNG.normal(size=(5, 3, 1))
    traj = capture(ToyModel(eager=True), x, layer="dec", batch_size=2, progress=False)
    np.testing.assert_allclose(traj.states, toy_reference(x, [("dec", "h")])[0])
    m = ToyModel(eager=True, fail_on=1, fail_with=KeyError("gate"))
    with pytest.raises(RnndynError, match="batch 1 \\(shape \\(2, 3, 1\\).*KeyError") as info:
        capture(m, x, layer="dec", batch_size=2, progress=False)
    assert isinstance(info.value.__cause__, KeyError) and m.events[-1] == ("closed",)


def test_the_real_model_failing(model):
    with pytest.raises(RnndynError, match="batch 0 .*shape \\(7, 5, 3\\).*expects inputs"):
        capture(model, np.zeros((7, 5, 3)), progress=False)


@pytest.mark.parametrize(
    "knobs, match",
    [
        ({"short_on": 1}, "batch 1 .* holds 3 sequences .* ran 2 .*report it to the adapter's authors"),
        ({"stop_after": 1}, "stopped after 1 parts, before reading every batch"),
        ({"wrong_units": True}, "captured \\[\\('dec', 'q'\\)\\]"),
    ],
)
def test_adapter_bugs_are_caught_and_the_adapter_is_closed(knobs, match):
    m = ToyModel(**knobs)
    with pytest.raises(RnndynError, match=match) as info:
        capture(m, np.zeros((7, 4, 1)), layer="dec", batch_size=3, progress=False)
    # a sequence count that does not fit may be the inputs' layout: that is said first
    assert ("bug in that plugin" in str(info.value)) == ("short_on" not in knobs)
    assert m.events[-1] == ("closed",)


def test_batches_with_different_step_counts_cannot_be_joined():
    m = ToyModel()
    chunks = [np.zeros((2, 4, 1)), np.zeros((2, 6, 1))]
    with pytest.raises(RnndynError, match="Batch 1 .* gave 6 steps but batch 0 gave 4.*lengths="):
        capture(m, iter(chunks), layer="dec", progress=False)


# ---------------------------------------------------- progress, streaming
def test_progress_bar_on_and_off(model, capsys):
    capture(model, X, batch_size=3, progress=True)
    err = capsys.readouterr().err
    assert "rnndyn.capture" in err and "7/7" in err and "seq" in err
    capture(model, X, batch_size=3, progress=False)
    assert capsys.readouterr().err == ""
    capture(model, iter([X[:3], X[3:]]), progress=True)  # total unknown: a count
    err = capsys.readouterr().err
    assert "7seq" in err.replace(" ", "") and "/7" not in err


def test_iter_capture_streams_and_closes_early():
    m = ToyModel()
    x = RNG.normal(size=(7, 4, 1))
    parts = list(iter_capture(m, x, layer="dec", batch_size=3, progress=False))
    assert [p.n_sequences for p in parts] == [3, 3, 1]
    np.testing.assert_allclose(Trajectories.concat(parts).states, toy_reference(x, [("dec", "h")])[0])
    m.events.clear()
    it = iter_capture(m, x, layer="dec", batch_size=3, progress=False)
    next(it)
    it.close()
    assert m.events[-1] == ("closed",) and len(batches_seen(m)) == 1
    with pytest.raises(PluginError, match="Unknown layer"):  # validated before the first batch
        iter_capture(m, x, layer="nope")


def test_layer_none_picks_the_one_stacked_module() -> None:
    from rnndyn._targets import resolve_targets
    from rnndyn.adapter import LayerInfo

    infos = [
        LayerInfo("rnn", "LSTM", ("h", "c"), ("forward",), 4),
        LayerInfo("rnn.l0", "LSTM", ("h", "c"), ("forward",), 4),
        LayerInfo("rnn.l1", "LSTM", ("h", "c"), ("forward",), 4),
    ]
    assert resolve_targets(infos, None, "c") == [("rnn", "c")]
    two = infos + [LayerInfo("other", "GRU", ("h",), ("forward",), 3)]
    with pytest.raises(PluginError, match="4 recurrent layers"):
        resolve_targets(two, None, "h")
