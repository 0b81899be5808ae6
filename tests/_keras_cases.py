"""Keras adapter cases, run once per Keras backend.

Not collected by default (the backend is fixed when keras is first imported):
``tests/test_keras_adapter.py`` runs this file in a subprocess per backend, e.g.
``KERAS_BACKEND=torch python -m pytest tests/_keras_cases.py``.

Every case checks the captured states against (a) the independent NumPy loops
of ``_keras_reference``, (b) the final states of a ``return_state=True`` layer
given the same weights and/or (c) the model's own outputs, to 1e-5.
"""

from __future__ import annotations

import gc
import os
import weakref

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import _keras_reference as ref  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from keras import layers  # noqa: E402

from rnndyn.adapter import Batch  # noqa: E402
from rnndyn_keras import KerasAdapter  # noqa: E402

ATOL = 1e-5
T = 7


def grab(traj, layer, state, direction="forward"):
    return traj.select(layer=layer, state=state, direction=direction).states


def run(model, data, targets, lengths=None):
    return next(KerasAdapter(model).capture([Batch(data, lengths, 0)], targets))


def predict(inputs, outputs, data):
    return keras.Model(inputs, outputs).predict_on_batch(data)


def int_data(n=5, vocab=12, seed=0, padded=True):
    rng = np.random.default_rng(seed)
    x = rng.integers(1, vocab, size=(n, T)).astype("int32")
    if padded:
        lengths = rng.integers(1, T + 1, size=n)
        lengths[0] = T
        x[np.arange(T)[None, :] >= lengths[:, None]] = 0
    return x


def assert_close(got, want, what):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape, (what, got.shape, want.shape)
    err = np.abs(got - want).max() if got.size else 0.0
    assert err < ATOL, f"{what}: max abs error {err:.2e}"


def lstm_ref(layer, x, **kw):
    cell = layer.cell
    w = cell.get_weights()
    return ref.lstm(
        x,
        w[0],
        w[1],
        w[2] if cell.use_bias else None,
        activation=_act(cell.activation),
        recurrent_activation=_act(cell.recurrent_activation),
        **kw,
    )


def gru_ref(layer, x, **kw):
    cell = layer.cell
    w = cell.get_weights()
    return ref.gru(
        x,
        w[0],
        w[1],
        w[2] if cell.use_bias else None,
        reset_after=cell.reset_after,
        activation=_act(cell.activation),
        recurrent_activation=_act(cell.recurrent_activation),
        **kw,
    )


def simple_ref(layer, x, **kw):
    w = layer.cell.get_weights()
    return ref.simple_rnn(x, w[0], w[1], w[2], **kw)


def _act(fn):
    for name in ref.ACT:
        if keras.activations.get(name) is fn:
            return name
    raise AssertionError(fn)


# ---------------------------------------------------------------- A: functional stack
def build_stack(masked):
    keras.utils.set_random_seed(1)
    inp = keras.Input((T,), dtype="int32")
    emb = layers.Embedding(12, 5, mask_zero=masked, name="emb")(inp)
    # dropout everywhere: captures must run in inference mode
    seq = layers.LSTM(6, return_sequences=True, dropout=0.3, name="lstm")(layers.Dropout(0.5)(emb))
    last = layers.GRU(
        4, reset_after=False, recurrent_activation="hard_sigmoid", recurrent_dropout=0.3, name="gru"
    )(seq)
    out = layers.Dense(2, name="head")(last)
    return keras.Model(inp, out), inp, emb, seq


@pytest.mark.parametrize("masked", [False, True])
def test_functional_stack_matches_references(masked):
    model, inp, emb, seq = build_stack(masked)
    x = int_data(padded=True)
    mask = x != 0 if masked else None
    targets = [("lstm", s) for s in "h c i f g o".split()] + [("gru", s) for s in "h r z n".split()]
    lengths = None if masked else np.full(len(x), T)
    traj = run(model, x, targets, lengths=lengths)
    assert traj.masked is masked
    np.testing.assert_array_equal(traj.lengths, (x != 0).sum(1) if masked else T)
    assert list(traj.units["layer"].unique()) == ["lstm", "gru"]
    e, s = predict(inp, [emb, seq], x)
    want = lstm_ref(model.get_layer("lstm"), e, mask=mask)
    for k in "h c i f g o".split():
        assert_close(grab(traj, "lstm", k), want[k], f"lstm {k}")
    want_g = gru_ref(model.get_layer("gru"), s, mask=mask)
    for k in "h r z n".split():
        assert_close(grab(traj, "gru", k), want_g[k], f"gru {k}")
    # (c) the model's own sequence output, and (b) final states of a return_state twin
    assert_close(grab(traj, "lstm", "h"), s, "lstm h vs model output")
    twin = layers.LSTM(6, return_state=True)
    _, h_end, c_end = twin(emb)
    twin.set_weights(model.get_layer("lstm").get_weights())
    h_end, c_end = predict(inp, [h_end, c_end], x)
    assert_close(grab(traj, "lstm", "h")[:, -1], h_end, "lstm final h")
    assert_close(grab(traj, "lstm", "c")[:, -1], c_end, "lstm final c")
    gru_last = predict(inp, model.get_layer("gru").output, x)
    assert_close(grab(traj, "gru", "h")[:, -1], gru_last, "gru h (return_sequences=False)")
    if masked:  # padding: forward states repeat their last real value
        L = traj.lengths
        h = grab(traj, "lstm", "c")
        for i in range(len(x)):
            assert np.all(h[i, L[i] :] == h[i, L[i] - 1])


# ------------------------------------------------------------- B: bidirectional
MERGES = {"concat": "concat", "sum": "sum", "mul": "mul", "ave": "ave", "none": None}


def build_bidirectional(masked):
    keras.utils.set_random_seed(2)
    inp = keras.Input((T,), dtype="int32")
    emb = layers.Embedding(12, 4, mask_zero=masked, name="emb")(inp)
    cells = {
        "concat": layers.LSTM(5, return_sequences=True),
        "sum": layers.GRU(5, return_sequences=True),
        "mul": layers.LSTM(5, return_sequences=True, recurrent_activation="hard_sigmoid"),
        "ave": layers.SimpleRNN(5, return_sequences=True),
        "none": layers.GRU(5, return_sequences=True, reset_after=False),
    }
    outs = {k: layers.Bidirectional(c, merge_mode=MERGES[k], name=f"bi_{k}")(emb) for k, c in cells.items()}
    last = layers.Bidirectional(layers.LSTM(3), name="bi_last")(emb)
    model = keras.Model(inp, [*keras.tree.flatten(list(outs.values())), last])
    return model, inp, emb


def _reference(sub, x, mask, backwards):
    kind = type(sub).__name__
    fn = {"LSTM": lstm_ref, "GRU": gru_ref, "SimpleRNN": simple_ref}[kind]
    return fn(sub, x, mask=mask, go_backwards=backwards)


def _padded_anywhere(x: np.ndarray, where: str) -> np.ndarray:
    """The same tokens with their padding moved to the start ("left") or the middle."""
    out = np.zeros_like(x)
    for i, row in enumerate(x):
        real = row[row != 0]
        gap = x.shape[1] - real.size
        if where == "left":
            out[i, gap:] = real
        else:  # middle: half the real tokens, the padding, the rest
            k = real.size // 2
            out[i, :k], out[i, k + gap :] = real[:k], real[k:]
    return out


@pytest.mark.parametrize("masked", [False, True, "left", "middle"])
def test_bidirectional_each_direction_before_the_merge(masked):
    model, inp, emb = build_bidirectional(bool(masked))
    x = int_data(seed=3)
    if isinstance(masked, str):  # Keras pads on the left by default (pad_sequences(padding="pre"))
        x = _padded_anywhere(x, masked)
    mask = x != 0 if masked else None
    names = [f"bi_{k}" for k in MERGES] + ["bi_last"]
    infos = {i.name: i for i in KerasAdapter(model).layers()}
    assert all(infos[n].directions == ("forward", "backward") for n in names)
    targets = [(n, s) for n in names for s in infos[n].states]
    traj = run(model, x, targets)
    assert traj.masked is bool(masked)
    if masked:  # the real steps are the mask's, wherever the padding is
        np.testing.assert_array_equal(traj.steps.valid, x != 0)
    e, *outputs = predict(inp, [emb, *(model.get_layer(n).output for n in names)], x)
    outputs = dict(zip(names, outputs, strict=True))
    for n in names:
        bi = model.get_layer(n)
        for direction, sub in (("forward", bi.forward_layer), ("backward", bi.backward_layer)):
            want = _reference(sub, e, mask, direction == "backward")
            for s in infos[n].states:
                assert_close(grab(traj, n, s, direction), want[s], f"{n} {direction} {s}")
        fw, bw = grab(traj, n, "h", "forward"), grab(traj, n, "h", "backward")
        got = outputs[n]
        if n == "bi_last":  # return_sequences=False: final states, concatenated
            assert_close(np.concatenate([fw[:, -1], bw[:, 0]], -1), got, f"{n} output")
            continue
        merged = {
            "concat": lambda a, b: np.concatenate([a, b], -1),
            "sum": np.add,
            "mul": np.multiply,
            "ave": lambda a, b: (a + b) / 2,
        }
        keep = (x != 0)[:, :, None] if masked else True  # Keras zeroes masked outputs here
        if bi.merge_mode is None:
            assert_close(fw * keep, got[0], f"{n} forward output")
            assert_close(bw * keep, got[1], f"{n} backward output")
        else:
            assert_close(merged[bi.merge_mode](fw, bw) * keep, got, f"{n} merged output")
    if masked is True:  # backward right padding: the initial (zero) state, never touched
        pad = ~(x != 0)
        assert np.all(grab(traj, "bi_concat", "h", "backward")[pad] == 0)


# ------------------------------------------- C: Sequential, Masking, RNN(cell)
def test_sequential_masking_and_generic_cells():
    keras.utils.set_random_seed(3)
    model = keras.Sequential(
        [
            keras.Input((T, 3)),
            layers.Masking(0.0),
            layers.SimpleRNN(5, return_sequences=True, name="s1"),
            layers.RNN(layers.LSTMCell(4), return_sequences=True, name="cell_lstm"),
            layers.RNN(layers.GRUCell(3), go_backwards=True, name="cell_gru"),
        ]
    )
    infos = {i.name: i for i in KerasAdapter(model).layers()}
    assert [(i.type, i.states, i.directions) for i in infos.values()] == [
        ("SimpleRNN", ("h",), ("forward",)),
        ("RNN", ("h", "c", "i", "f", "g", "o"), ("forward",)),
        ("RNN", ("h", "r", "z", "n"), ("backward",)),
    ]
    rng = np.random.default_rng(4)
    lengths = np.array([7, 3, 5, 1])
    x = rng.normal(size=(4, T, 3)).astype("float32")
    x[np.arange(T)[None, :] >= lengths[:, None]] = 0.0
    mask = np.arange(T)[None, :] < lengths[:, None]
    traj = run(
        model, x, [("s1", "h"), ("cell_lstm", "h"), ("cell_lstm", "c"), ("cell_gru", "h"), ("cell_gru", "n")]
    )
    assert traj.masked
    np.testing.assert_array_equal(traj.lengths, lengths)
    s1 = simple_ref(model.get_layer("s1"), x, mask=mask)["h"]
    assert_close(grab(traj, "s1", "h"), s1, "s1 h")
    want = lstm_ref(model.get_layer("cell_lstm"), s1, mask=mask)
    assert_close(grab(traj, "cell_lstm", "h"), want["h"], "cell_lstm h")
    assert_close(grab(traj, "cell_lstm", "c"), want["c"], "cell_lstm c")
    want_g = gru_ref(model.get_layer("cell_gru"), want["h"], mask=mask, go_backwards=True)
    assert_close(grab(traj, "cell_gru", "h", "backward"), want_g["h"], "cell_gru h")
    assert_close(grab(traj, "cell_gru", "n", "backward"), want_g["n"], "cell_gru n")
    # (c) a backward layer's own final output is its state at input position 0
    assert_close(grab(traj, "cell_gru", "h", "backward")[:, 0], model.predict_on_batch(x), "output")


# ----------------------------------- D: initial states, nested models, names
def build_seq2seq():
    keras.utils.set_random_seed(4)
    enc_in = keras.Input((T, 3), name="enc_in")
    dec_in = keras.Input((T, 2), name="dec_in")
    _, h, c = layers.LSTM(5, return_state=True, name="lstm")(enc_in)
    dec = layers.LSTM(5, return_sequences=True, name="dec")(dec_in, initial_state=[h, c])
    inner_in = keras.Input((T, 5))
    inner = keras.Model(inner_in, layers.GRU(4, return_sequences=True, name="lstm")(inner_in), name="inner")
    out = inner(dec)
    return keras.Model([enc_in, dec_in], out), (enc_in, dec_in), (h, c, dec)


def test_initial_state_nested_model_and_qualified_names():
    model, inputs, (h, c, dec) = build_seq2seq()
    names = [i.name for i in KerasAdapter(model).layers()]
    assert names == ["lstm", "dec", "inner/lstm"]
    rng = np.random.default_rng(5)
    data = [rng.normal(size=(3, T, 3)).astype("float32"), rng.normal(size=(3, T, 2)).astype("float32")]
    traj = run(
        model, data, [("dec", "h"), ("dec", "c"), ("dec", "f"), ("inner/lstm", "h"), ("inner/lstm", "z")]
    )
    h0, c0, d = predict(list(inputs), [h, c, dec], data)
    want = lstm_ref(model.get_layer("dec"), data[1], h0=h0, c0=c0)
    for s in ("h", "c", "f"):
        assert_close(grab(traj, "dec", s), want[s], f"dec {s}")
    assert_close(grab(traj, "dec", "h"), d, "dec h vs model output")
    want_i = gru_ref(model.get_layer("inner").get_layer("lstm"), d)
    assert_close(grab(traj, "inner/lstm", "h"), want_i["h"], "inner h")
    assert_close(grab(traj, "inner/lstm", "z"), want_i["z"], "inner z")
    assert_close(grab(traj, "inner/lstm", "h"), model.predict_on_batch(data), "inner vs model")


# ------------------------------------------------------ E: subclassed models
class Tagger(keras.Model):
    """A subclassed model: no graph to cut, so the adapter records the calls."""

    def __init__(self):
        super().__init__()
        self.emb = layers.Embedding(12, 4, mask_zero=True)
        self.bi = layers.Bidirectional(layers.GRU(3, return_sequences=True), merge_mode="mul", name="bi")
        self.rev = layers.LSTM(4, go_backwards=True, name="rev")

    def call(self, x):
        return self.rev(self.bi(self.emb(x)))


def test_subclassed_model_is_recorded_then_restored():
    keras.utils.set_random_seed(5)
    model = Tagger()
    x = int_data(seed=6)
    y_before = keras.ops.convert_to_numpy(model(x))
    infos = {i.name: i for i in KerasAdapter(model).layers()}
    assert infos["rev"].directions == ("backward",) and infos["bi"].type == "Bidirectional"
    traj = run(model, x, [("bi", "h"), ("bi", "r"), ("rev", "h"), ("rev", "c")])
    assert traj.masked
    assert "call" not in model.bi.__dict__ and "call" not in model.rev.__dict__
    mask = x != 0
    e = keras.ops.convert_to_numpy(model.emb(x))
    outs = []
    for direction, sub in (("forward", model.bi.forward_layer), ("backward", model.bi.backward_layer)):
        want = gru_ref(sub, e, mask=mask, go_backwards=direction == "backward")
        assert_close(grab(traj, "bi", "h", direction), want["h"], f"bi {direction} h")
        assert_close(grab(traj, "bi", "r", direction), want["r"], f"bi {direction} r")
        outs.append(want["h"])
    want = lstm_ref(model.rev, outs[0] * outs[1], mask=mask, go_backwards=True)
    assert_close(grab(traj, "rev", "h", "backward"), want["h"], "rev h")
    assert_close(grab(traj, "rev", "c", "backward"), want["c"], "rev c")
    assert_close(grab(traj, "rev", "h", "backward")[:, 0], y_before, "rev final output")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(model(x)), y_before)


# ---------------------------------------------------------- F: no side effects
def test_capture_leaves_weights_outputs_graph_and_states_alone():
    model, *_ = build_stack(True)
    x = int_data(seed=7)
    weights = [w.copy() for w in model.get_weights()]
    y = model.predict_on_batch(x)
    layer_ops = model._flatten_layers(include_self=True, recursive=True)
    nodes = {id(op): (len(op._inbound_nodes), len(op._outbound_nodes)) for op in layer_ops}
    for _ in range(2):
        run(model, x, [("lstm", "c"), ("gru", "h")])
    assert {id(op): (len(op._inbound_nodes), len(op._outbound_nodes)) for op in layer_ops} == nodes
    for a, b in zip(model.get_weights(), weights, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(model.predict_on_batch(x), y)
    # the cached capture graph does not keep the model alive
    alive = weakref.ref(model)
    del model, layer_ops
    gc.collect()
    assert alive() is None


def test_graph_models_are_cut_not_patched():
    from rnndyn_keras._graph import GraphRunner, NeedsIntercept
    from rnndyn_keras._layers import find_targets

    for model in (build_stack(True)[0], build_seq2seq()[0], build_bidirectional(False)[0]):
        targets = find_targets(model)
        GraphRunner(model, [(t, t.states) for t in targets])  # no NeedsIntercept
    with pytest.raises(NeedsIntercept):
        GraphRunner(Tagger(), [(t, ("h",)) for t in find_targets(Tagger())])


def test_stateful_layers_start_from_zero_and_get_their_states_back():
    keras.utils.set_random_seed(6)
    inp = keras.Input(batch_shape=(3, T, 2))
    a = layers.LSTM(4, stateful=True, return_sequences=True, name="a")(inp)
    b = layers.GRU(3, stateful=True, name="b")(a)
    model = keras.Model(inp, b)
    x = np.random.default_rng(8).normal(size=(3, T, 2)).astype("float32")
    model(x)  # moves the states away from zero (predict_on_batch does not, on JAX)
    before = [
        keras.ops.convert_to_numpy(v) for v in model.get_layer("a").states + model.get_layer("b").states
    ]
    assert np.abs(before[0]).max() > 0
    traj = run(model, x, [("a", "h"), ("b", "h")])
    after = [keras.ops.convert_to_numpy(v) for v in model.get_layer("a").states + model.get_layer("b").states]
    for u, v in zip(before, after, strict=True):
        np.testing.assert_array_equal(u, v)
    want = lstm_ref(model.get_layer("a"), x)
    assert_close(grab(traj, "a", "h"), want["h"], "stateful a h")
    assert_close(grab(traj, "b", "h"), gru_ref(model.get_layer("b"), want["h"])["h"], "stateful b h")


# ------------------------------------------------------------------ G: errors
def test_bad_targets_inputs_lengths_and_masks():
    from rnndyn.errors import PluginError, RnndynError

    model, *_ = build_stack(True)
    adapter = KerasAdapter(model)
    x = int_data(seed=9)
    with pytest.raises(PluginError, match=r"'head'.*\['gru', 'lstm'\]"):
        adapter.capture([Batch(x, None, 0)], [("head", "h")])
    with pytest.raises(PluginError, match=r"state='c'.*\('h', 'r', 'z', 'n'\)"):
        adapter.capture([Batch(x, None, 0)], [("gru", "c")])
    with pytest.raises(RnndynError, match=r"expects input shape \(None, 7\).*\(5, 9\)"):
        next(adapter.capture([Batch(np.ones((5, 9), "int32"), None, 0)], [("lstm", "h")]))
    with pytest.raises(RnndynError, match=r"lengths: sequence 0 .* length 3, but .* mask marks steps"):
        next(adapter.capture([Batch(x, np.full(5, 3), 0)], [("lstm", "h")]))
    left = np.where(np.arange(T) < 2, 0, 5)[None].repeat(2, 0).astype("int32")
    with pytest.raises(RnndynError, match=r"length 7, but .* mask marks steps \[2, 3, 4, 5, 6\] as real"):
        next(adapter.capture([Batch(left, np.full(2, T), 0)], [("lstm", "h")]))


def test_layers_that_cannot_share_one_trajectories():
    from rnndyn.errors import RnndynError

    keras.utils.set_random_seed(7)
    a, b = keras.Input((T,), dtype="int32"), keras.Input((T, 2))
    c = keras.Input((T - 2, 2))
    shared = layers.LSTM(3, name="shared")
    outs = [
        layers.LSTM(3, name="masked")(layers.Embedding(9, 2, mask_zero=True)(a)),
        layers.LSTM(3, name="plain")(b),
        layers.LSTM(3, name="short")(c),
        shared(b),
        shared(layers.Dense(2)(b)),
    ]
    model = keras.Model([a, b, c], outs)
    rng = np.random.default_rng(12)
    data = [int_data(n=2, vocab=9), rng.normal(size=(2, T, 2)), rng.normal(size=(2, T - 2, 2))]
    adapter = KerasAdapter(model)
    with pytest.raises(RnndynError, match=r"some layers .* see a Keras mask and some do not"):
        next(adapter.capture([Batch(data, None, 0)], [("masked", "h"), ("plain", "h")]))
    with pytest.raises(RnndynError, match=r"different numbers of steps \{'plain': 7, 'short': 5\}"):
        next(adapter.capture([Batch(data, None, 0)], [("plain", "h"), ("short", "h")]))
    with pytest.raises(RnndynError, match=r"'shared' is called 2 times .* shared layer"):
        next(adapter.capture([Batch(data, None, 0)], [("shared", "h")]))


# ------------------------------------------------- H: through rnndyn.capture
def test_end_to_end_through_rnndyn_capture():
    import rnndyn

    model, *_ = build_stack(True)
    x = int_data(n=10, seed=10)
    traj = rnndyn.capture(model, x, layer=["lstm", "gru"], batch_size=4, progress=False, device="cpu:0")
    whole = run(model, x, [("lstm", "h"), ("gru", "h")])
    assert traj.shape == (10, T, 6 + 4) and traj.masked
    np.testing.assert_array_equal(traj.lengths, (x != 0).sum(1))
    for layer, state in (("lstm", "h"), ("gru", "h")):
        assert_close(grab(traj, layer, state), grab(whole, layer, state), f"{layer} {state}")
    wrong = (x != 0).sum(1)
    wrong[5] = 1 if wrong[5] > 1 else 2  # sequence 1 of batch 1
    with pytest.raises(rnndyn.RnndynError, match=r"batch 1 .*lengths: sequence 1 of this batch"):
        rnndyn.capture(model, x, layer="lstm", lengths=wrong, batch_size=4, progress=False)
    with pytest.raises(rnndyn.PluginError, match="gru"):
        rnndyn.capture(model, x, layer="dense", progress=False)
    table = rnndyn.layers(model)  # Keras 3 recurrent layers read (batch, steps, features)
    assert table["layer"].tolist() == ["lstm", "gru"] and set(table["layout"]) == {"batch-first"}


# ----------------------------------------------------------------- I: plugin
def test_plugin_claims_keras_models_and_loads_keras_files_safely(tmp_path):
    from rnndyn_keras import plugin

    model, *_ = build_stack(False)
    assert isinstance(plugin.rnndyn_claim_model(model), KerasAdapter)
    assert isinstance(plugin.rnndyn_claim_model(model.get_layer("lstm")), KerasAdapter)
    assert plugin.rnndyn_claim_model(np.zeros(3)) is None
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = plugin.rnndyn_load_model(str(path), None)
    x = int_data(seed=11)
    np.testing.assert_array_equal(loaded.predict_on_batch(x), model.predict_on_batch(x))
    assert plugin.rnndyn_load_model(str(path), "torch") is None
    assert plugin.rnndyn_load_model(str(tmp_path / "model.pt"), None) is None
    # a bare recurrent layer is a model too: its input is the sequences
    seq = np.random.default_rng(1).normal(size=(2, T, 5)).astype("float32")
    traj = run(model.get_layer("lstm"), seq, [("lstm", "h")])
    assert_close(grab(traj, "lstm", "h"), lstm_ref(model.get_layer("lstm"), seq)["h"], "bare layer")


# ------------------------------------------------------------------- J: docs
def test_docs_keras_md_examples_run():
    import pathlib
    import re

    text = (pathlib.Path(__file__).parents[1] / "docs" / "keras.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 4
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "docs/keras.md", "exec"), namespace)
