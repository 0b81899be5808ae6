"""The Keras model zoo, run once per Keras backend (TensorFlow, PyTorch, JAX).

Not collected by default (the backend is fixed when keras is first imported):
``tests/test_zoo_keras.py`` runs this file in a fresh interpreter per backend,
e.g. ``KERAS_BACKEND=jax python -m pytest tests/_zoo_keras.py``.

Every case builds a model the way Keras tutorials write it, with a fixed seed,
checks a float64 reference written from the equations (``_keras_reference``,
``_zoo_reference``) against the model's own outputs, then captures the
documented way (``docs/keras.md``, "Inputs"), with ``batch_size`` smaller than
the number of sequences, and compares the states to the reference, to 1e-5.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import _keras_reference as kref  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from _zoo_reference import assert_close, f64, keras_tanh_cell  # noqa: E402
from keras import layers  # noqa: E402

import rnndyn  # noqa: E402

T = 8


def capture(model, inputs, **kw):
    return rnndyn.capture(model, inputs, progress=False, **kw)


def grab(traj, layer, state, direction=None):
    crit = {"layer": layer, "state": state}
    if direction is not None:
        crit["direction"] = direction
    return traj.select(**crit).states


def check(traj, layer, want, states, direction=None):
    for s in states:
        assert_close(grab(traj, layer, s, direction), want[s], f"{layer} {direction or ''} {s}")


def _act(fn):
    for name in kref.ACT:
        if keras.activations.get(name) is fn:
            return name
    raise AssertionError(fn)


def ref(layer, x, **kw):
    """The float64 reference of a Keras LSTM / GRU / SimpleRNN (or ``RNN`` of their cell) on ``x``."""
    cell = getattr(layer, "cell", layer)
    w = [f64(v) for v in cell.get_weights()]
    kind = type(cell).__name__
    if kind == "LSTMCell":
        return kref.lstm(
            x, *w[:2], w[2] if cell.use_bias else None, activation=_act(cell.activation),
            recurrent_activation=_act(cell.recurrent_activation), **kw,
        )  # fmt: skip
    if kind == "GRUCell":
        return kref.gru(
            x, *w[:2], w[2] if cell.use_bias else None, reset_after=cell.reset_after,
            activation=_act(cell.activation), recurrent_activation=_act(cell.recurrent_activation), **kw,
        )  # fmt: skip
    return kref.simple_rnn(x, *w[:3], activation=_act(cell.activation), **kw)


def sub(model, inputs, outputs, data):
    """The values of ``outputs`` of a functional model (e.g. an embedding's output), by Keras."""
    return keras.ops.convert_to_numpy(keras.Model(inputs, outputs)(data, training=False))


def padded_ids(n, vocab, seed, T=T):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(2, T, size=n)
    lengths[0] = T
    ids = rng.integers(1, vocab, size=(n, T)).astype("int32")
    ids[np.arange(T)[None] >= lengths[:, None]] = 0
    return ids, lengths


def normal(*shape, seed=0, dtype="float32"):
    return np.random.default_rng(seed).normal(size=shape).astype(dtype)


# ------------------------------------------------------------------ classifiers
def test_zoo_imdb_masked_lstm_classifier():
    keras.utils.set_random_seed(1)
    inp = keras.Input((T,), dtype="int32")
    emb = layers.Embedding(30, 6, mask_zero=True)(inp)
    x = layers.LSTM(8, dropout=0.2, name="lstm")(emb)
    model = keras.Model(inp, layers.Dense(1, activation="sigmoid", name="out")(x))
    ids, lengths = padded_ids(6, 30, seed=1)
    want = ref(model.get_layer("lstm"), sub(model, inp, emb, ids), mask=ids != 0)
    w, b = (f64(v) for v in model.get_layer("out").get_weights())
    prob = 1 / (1 + np.exp(-(want["h"][:, -1] @ w + b)))
    assert_close(model.predict(ids, verbose=0), prob, "self-check predict")
    traj = capture(model, ids, layer="lstm", state=["h", "c", "i"], batch_size=3)
    assert traj.masked and traj.lengths.tolist() == lengths.tolist()
    check(traj, "lstm", want, "hci")


def test_zoo_sequential_stack_lstm_then_gru():
    keras.utils.set_random_seed(2)
    model = keras.Sequential(
        [
            keras.Input((T, 3)),
            layers.LSTM(6, return_sequences=True, name="lstm"),
            layers.GRU(5, reset_after=False, name="gru"),
            layers.Dense(2),
        ]
    )
    x = normal(6, T, 3, seed=2)
    r1 = ref(model.get_layer("lstm"), x)
    r2 = ref(model.get_layer("gru"), r1["h"])
    assert_close(sub(model, model.inputs, model.get_layer("gru").output, x), r2["h"][:, -1], "self-check")
    traj = capture(model, x, layer=["lstm", "gru"], batch_size=3)
    check(traj, "lstm", r1, "h")
    check(traj, "gru", r2, "h")


# ------------------------------------------------------------- custom cells
@keras.saving.register_keras_serializable(package="zoo")
class TanhCell(layers.Layer):
    """The Keras RNN guide's minimal cell, with a tanh and a bias."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer="glorot_uniform")
        self.recurrent_kernel = self.add_weight(shape=(self.units, self.units), initializer="orthogonal")
        self.bias = self.add_weight(shape=(self.units,), initializer="random_normal")

    def call(self, inputs, states):
        prev = states[0]
        h = keras.ops.tanh(
            keras.ops.matmul(inputs, self.kernel) + keras.ops.matmul(prev, self.recurrent_kernel) + self.bias
        )
        return h, [h]

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def test_zoo_custom_keras_cell():
    keras.utils.set_random_seed(3)
    inp = keras.Input((T, 4))
    seq = layers.RNN(TanhCell(6), return_sequences=True, name="custom")(inp)
    model = keras.Model(inp, layers.Dense(1)(seq))
    x = normal(5, T, 4, seed=3)
    cell = model.get_layer("custom").cell
    want = keras_tanh_cell(x, *(f64(v) for v in (cell.kernel, cell.recurrent_kernel, cell.bias)))
    assert_close(sub(model, inp, seq, x), want, "self-check")
    traj = capture(model, x, layer="custom", batch_size=2)
    assert_close(traj.states, want, "custom h")


def test_zoo_stacked_cells_in_one_rnn():
    keras.utils.set_random_seed(4)
    inp = keras.Input((T, 3))
    out = layers.RNN([layers.LSTMCell(6), layers.GRUCell(4)], return_sequences=True, name="stacked")(inp)
    model = keras.Model(inp, out)
    x = normal(5, T, 3, seed=4)
    c1, c2 = model.get_layer("stacked").cell.cells
    r1 = ref(c1, x)
    r2 = ref(c2, r1["h"])
    assert_close(model.predict(x, verbose=0), r2["h"], "self-check")
    traj = capture(model, x, layer="stacked", batch_size=2)
    assert_close(traj.states, r2["h"], "stacked h (the top cell's output)")


# --------------------------------------------------------------- saved models
def test_zoo_bidirectional_gru_loaded_from_a_keras_file(tmp_path):
    keras.utils.set_random_seed(5)
    inp = keras.Input((T, 3))
    seq = layers.Bidirectional(layers.GRU(5, return_sequences=True), name="bigru")(inp)
    original = keras.Model(inp, layers.Dense(2)(seq))
    path = tmp_path / "tagger.keras"
    original.save(path)
    model = rnndyn.plugins.load_model(str(path))
    x = normal(6, T, 3, seed=5)
    assert_close(model.predict(x, verbose=0), original.predict(x, verbose=0), "loaded = saved")
    bi = model.get_layer("bigru")
    fw = ref(bi.forward_layer, x)
    bw = ref(bi.backward_layer, x, go_backwards=True)
    assert_close(sub(model, model.inputs, bi.output, x), np.concatenate([fw["h"], bw["h"]], -1), "self-check")
    traj = capture(model, x, layer="bigru", state=["h", "z"], batch_size=4)
    assert traj.units["direction"].tolist() == (["forward"] * 5 + ["backward"] * 5) * 2
    check(traj, "bigru", fw, "hz", "forward")
    check(traj, "bigru", bw, "hz", "backward")


def test_zoo_custom_cell_loaded_from_a_keras_file(tmp_path):
    keras.utils.set_random_seed(6)
    inp = keras.Input((T, 4))
    model = keras.Model(inp, layers.RNN(TanhCell(5), name="custom")(inp))
    path = tmp_path / "custom.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    x = normal(4, T, 4, seed=6)
    cell = loaded.get_layer("custom").cell
    want = keras_tanh_cell(x, *(f64(v) for v in (cell.kernel, cell.recurrent_kernel, cell.bias)))
    assert_close(loaded.predict(x, verbose=0), want[:, -1], "self-check")
    traj = capture(loaded, x, layer="custom", batch_size=3)
    assert_close(traj.states, want, "custom h")


# ----------------------------------------------------------------- float64
def test_zoo_float64_lstm():
    keras.utils.set_random_seed(7)
    inp = keras.Input((T, 3), dtype="float64")
    seq = layers.LSTM(6, return_sequences=True, dtype="float64", name="lstm")(inp)
    model = keras.Model(inp, seq)
    x = normal(5, T, 3, seed=7, dtype="float64")
    want = ref(model.get_layer("lstm"), x)
    assert_close(model.predict(x, verbose=0), want["h"], "self-check")
    traj = capture(model, x, layer="lstm", state=["h", "c", "o"], batch_size=2)
    check(traj, "lstm", want, "hco")


# ------------------------------------------------------------------ seq2seq
def seq2seq():
    """The Keras character-level seq2seq example: the decoder starts from the encoder's states."""
    keras.utils.set_random_seed(8)
    enc_in = keras.Input((None, 5), name="encoder_inputs")
    _, h, c = layers.LSTM(6, return_state=True, name="encoder")(enc_in)
    dec_in = keras.Input((None, 5), name="decoder_inputs")
    dec = layers.LSTM(6, return_sequences=True, return_state=True, name="decoder")(
        dec_in, initial_state=[h, c]
    )
    return keras.Model([enc_in, dec_in], layers.Dense(5, activation="softmax")(dec[0]))


def test_zoo_seq2seq_decoder_from_encoder_states():
    model = seq2seq()
    enc, dec = normal(6, T, 5, seed=8), normal(6, T, 5, seed=9)
    e = ref(model.get_layer("encoder"), enc)
    d = ref(model.get_layer("decoder"), dec, h0=e["h"][:, -1], c0=e["c"][:, -1])
    got = sub(model, model.inputs, model.get_layer("decoder").output[0], [enc, dec])
    assert_close(got, d["h"], "self-check decoder")
    both = {"layer": ["encoder", "decoder"], "state": ["h", "c"], "batch_size": 3}
    as_list = capture(model, [enc, dec], **both)
    by_name = capture(model, {"decoder_inputs": dec, "encoder_inputs": enc}, **both)  # not in input order
    as_tuple = capture(model, (enc, dec), **both)
    for traj in (as_list, by_name, as_tuple):
        check(traj, "encoder", e, "hc")
        check(traj, "decoder", d, "hc")


def test_zoo_seq2seq_refusals_name_the_inputs():
    model = seq2seq()
    enc, dec = normal(6, T, 5, seed=8), normal(6, 5, 5, seed=9)
    with pytest.raises(rnndyn.RnndynError, match="encoder_inputs"):
        capture(model, {"encoder_input": enc, "decoder_inputs": dec}, layer="decoder")
    with pytest.raises(rnndyn.RnndynError, match="encoder_inputs"):
        capture(model, [enc, dec[:4]], layer="decoder")


# ----------------------------------------------------------- subclassed models
class DictForecaster(keras.Model):
    """A subclassed forecaster taking one dict: a masked series and static features."""

    def __init__(self):
        super().__init__()
        self.masking = layers.Masking(0.0)
        self.rnn = layers.Bidirectional(
            layers.LSTM(4, return_sequences=True), merge_mode="sum", name="bilstm"
        )
        self.static = layers.Dense(4)
        self.head = layers.Dense(1)

    def call(self, inputs, training=False):
        seq = self.rnn(self.masking(inputs["past"]), training=training)
        return self.head(seq[:, -1] + self.static(inputs["static"]))


def test_zoo_subclassed_model_taking_one_dict():
    keras.utils.set_random_seed(9)
    model = DictForecaster()
    past = normal(6, T, 2, seed=10)
    lengths = np.array([8, 5, 3, 6, 7, 2])
    past[np.arange(T)[None] >= lengths[:, None]] = 0.0
    batch = {"past": past, "static": normal(6, 3, seed=11)}
    model(batch)
    mask = past.any(-1)
    fw = ref(model.rnn.forward_layer, past, mask=mask)
    bw = ref(model.rnn.backward_layer, past, mask=mask, go_backwards=True)
    assert_close(
        keras.ops.convert_to_numpy(model.rnn(past, mask=keras.ops.convert_to_tensor(mask))),
        (fw["h"] + bw["h"]) * mask[..., None],
        "self-check merged output",
    )
    traj = capture(model, batch, layer="bilstm", state=["h", "c"], batch_size=3)
    assert traj.masked and traj.lengths.tolist() == lengths.tolist()
    check(traj, "bilstm", fw, "hc", "forward")
    check(traj, "bilstm", bw, "hc", "backward")


# ------------------------------------------------------------- time series
def test_zoo_masked_backward_gru_and_stacked_simple_rnns():
    keras.utils.set_random_seed(10)
    inp = keras.Input((T, 2))
    masked = layers.Masking(0.0)(inp)
    s1 = layers.Bidirectional(layers.SimpleRNN(4, activation="relu", return_sequences=True), name="bi_rnn")(
        masked
    )
    s2 = layers.GRU(5, go_backwards=True, name="rev_gru")(s1)
    model = keras.Model(inp, layers.Dense(1)(s2))
    x = normal(6, T, 2, seed=12)
    lengths = np.array([8, 4, 6, 2, 7, 5])
    x[np.arange(T)[None] >= lengths[:, None]] = 0.0
    mask = np.arange(T)[None] < lengths[:, None]
    bi = model.get_layer("bi_rnn")
    fw = ref(bi.forward_layer, x, mask=mask)
    bw = ref(bi.backward_layer, x, mask=mask, go_backwards=True)
    g = ref(model.get_layer("rev_gru"), np.concatenate([fw["h"], bw["h"]], -1), mask=mask, go_backwards=True)
    assert_close(sub(model, inp, s2, x), g["h"][:, 0], "self-check: the backward GRU ends at step 0")
    traj = capture(model, x, layer=["bi_rnn", "rev_gru"], batch_size=3)
    assert traj.masked and traj.lengths.tolist() == lengths.tolist()
    check(traj, "bi_rnn", fw, "h", "forward")
    check(traj, "bi_rnn", bw, "h", "backward")
    check(traj, "rev_gru", g, "h", "backward")
