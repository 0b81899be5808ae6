"""Keras adapter cases for c and the gates, run once per Keras backend.

Like ``_keras_cases.py`` (whose helpers this file uses), run by
``tests/test_keras_adapter.py`` in a fresh interpreter per backend:
initial states on masked steps, any activation, and targets in any order.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from _keras_cases import T, assert_close, grab, gru_ref, int_data, lstm_ref, predict, run  # noqa: E402
from keras import layers  # noqa: E402

from rnndyn import RnndynError  # noqa: E402
from rnndyn_keras import KerasAdapter  # noqa: E402
from rnndyn_keras._gates import gate_cell  # noqa: E402


def build_initial_states(explicit_mask):
    keras.utils.set_random_seed(8)
    tokens = keras.Input((T,), dtype="int32", name="tokens")
    seed = keras.Input((3,), name="seed")
    emb = layers.Embedding(12, 3, mask_zero=True, name="emb")(tokens)
    # with initial states, Keras 3 hands a layer no implicit mask: only an explicit one
    kw = {"mask": keras.ops.not_equal(tokens, 0)} if explicit_mask else {}
    inits = [layers.Dense(4, name=f"init_{k}")(seed) for k in range(4)]  # h, c forward; h, c backward
    bi = layers.Bidirectional(layers.LSTM(4, return_sequences=True), name="bi")(
        emb, initial_state=inits, **kw
    )
    g0 = layers.Dense(3, name="init_gru")(seed)
    gru = layers.GRU(3, go_backwards=True, return_sequences=True, name="gru")(emb, initial_state=g0, **kw)
    return keras.Model([tokens, seed], [bi, gru]), [tokens, seed], emb, inits, g0


@pytest.mark.parametrize(("explicit_mask", "left"), [(True, False), (False, False), (True, True)])
def test_initial_states_with_and_without_a_mask(explicit_mask, left):
    model, inputs, emb, inits, g0 = build_initial_states(explicit_mask)
    x = int_data(n=6, seed=13)
    x[3] = 0  # an empty sequence: every step masked, in both directions
    if left:  # left padding: the forward direction holds its initial state before the first token
        x = np.stack([np.concatenate([r[r == 0], r[r != 0]]) for r in x])
    data = [x, np.random.default_rng(13).normal(size=(6, 3)).astype("float32")]
    mask = x != 0 if explicit_mask else None
    targets = [("bi", s) for s in ("h", "c", "i", "f", "g", "o")] + [("gru", s) for s in ("h", "r", "z", "n")]
    traj = run(model, data, targets)
    assert traj.masked is explicit_mask
    np.testing.assert_array_equal(traj.lengths, mask.sum(1) if explicit_mask else T)
    np.testing.assert_array_equal(traj.steps.valid, mask if explicit_mask else np.ones((6, T), bool))
    e, h0f, c0f, h0b, c0b, gh0, (bi_out, gru_out) = predict(inputs, [emb, *inits, g0, model.outputs], data)
    bi = model.get_layer("bi")
    for direction, sub, h0, c0 in (
        ("forward", bi.forward_layer, h0f, c0f),
        ("backward", bi.backward_layer, h0b, c0b),
    ):
        want = lstm_ref(sub, e, mask=mask, go_backwards=direction == "backward", h0=h0, c0=c0)
        for s in ("h", "c", "i", "f", "g", "o"):
            assert_close(grab(traj, "bi", s, direction), want[s], f"bi {direction} {s}")
    want = gru_ref(model.get_layer("gru"), e, mask=mask, go_backwards=True, h0=gh0)
    for s in ("h", "r", "z", "n"):
        assert_close(grab(traj, "gru", s, "backward"), want[s], f"gru {s}")
    # (c) the model's own outputs, wherever Keras does not zero them
    real = (x != 0)[:, :, None] if explicit_mask else np.ones((6, T, 1), bool)
    fw, bw = grab(traj, "bi", "h", "forward"), grab(traj, "bi", "h", "backward")
    assert_close(np.concatenate([fw, bw], -1) * real, bi_out * real, "bi output")
    # a go_backwards layer returns its steps in processing order
    assert_close(grab(traj, "gru", "h", "backward") * real, gru_out[:, ::-1] * real, "gru output")
    if explicit_mask and left:  # forward left padding holds the initial state (the reference says so too)
        pad = ~(x != 0)
        assert_close(
            grab(traj, "bi", "c", "forward")[pad], np.broadcast_to(c0f[:, None], (6, T, 4))[pad], "c0"
        )
    if explicit_mask and not left:  # backward padding, and the empty sequence, sit at the initial state
        pad = ~(x != 0)
        assert_close(
            grab(traj, "bi", "c", "backward")[pad], np.broadcast_to(c0b[:, None], (6, T, 4))[pad], "c0"
        )
        assert_close(grab(traj, "bi", "h", "forward")[3], np.broadcast_to(h0f[3], (T, 4)), "empty: h0")
        assert np.all(grab(traj, "bi", "i", "backward")[pad] == 0)  # gates: 0 before the first step


def test_targets_in_any_order_and_twice_refused():
    keras.utils.set_random_seed(9)
    inp = keras.Input((T, 2))
    seq = layers.Bidirectional(layers.GRU(3, return_sequences=True, activation="relu"), name="bi")(inp)
    out = layers.LSTM(4, recurrent_activation="hard_sigmoid", name="lstm")(seq)
    model = keras.Model(inp, out)
    x = np.random.default_rng(14).normal(size=(4, T, 2)).astype("float32")
    targets = [("lstm", "c"), ("bi", "z"), ("lstm", "h"), ("bi", "h")]
    with pytest.raises(RnndynError, match="more than once"):
        run(model, x, targets + [("lstm", "c")])  # duplicate units would be ambiguous rows
    traj = run(model, x, targets)
    labels = traj.units[["layer", "state", "direction"]].itertuples(index=False, name=None)
    blocks = list(dict.fromkeys(labels))
    assert blocks == [
        ("lstm", "c", "forward"),
        ("bi", "z", "forward"),
        ("bi", "z", "backward"),
        ("lstm", "h", "forward"),
        ("bi", "h", "forward"),
        ("bi", "h", "backward"),
    ]
    assert traj.n_units == 4 + 3 + 3 + 4 + 3 + 3
    bi = model.get_layer("bi")
    for direction, sub in (("forward", bi.forward_layer), ("backward", bi.backward_layer)):
        want = gru_ref(sub, x, go_backwards=direction == "backward")  # relu candidate
        assert_close(grab(traj, "bi", "z", direction), want["z"], f"bi {direction} z")
        assert_close(grab(traj, "bi", "h", direction), want["h"], f"bi {direction} h")
    s = predict(inp, seq, x)
    want = lstm_ref(model.get_layer("lstm"), s)
    assert_close(grab(traj, "lstm", "c"), want["c"], "lstm c")
    assert_close(grab(traj, "lstm", "h"), want["h"], "lstm h")
    # h alone (the layer's own kernels) and h next to the gates (the gate cell) agree
    alone = run(model, x, [("bi", "h"), ("lstm", "h")])
    assert_close(grab(alone, "bi", "h", "backward"), grab(traj, "bi", "h", "backward"), "h alone")
    assert_close(grab(alone, "lstm", "h"), grab(traj, "lstm", "h"), "lstm h alone")


def test_gate_cell_steps_like_the_keras_cell():
    keras.utils.set_random_seed(10)
    x = np.random.default_rng(15).normal(size=(3, T, 2)).astype("float32")
    for layer, kind in (
        (layers.LSTM(3, return_sequences=True, use_bias=False), "LSTM"),
        (layers.GRU(3, return_sequences=True, reset_after=False), "GRU"),
        (layers.GRU(3, return_sequences=True, use_bias=False), "GRU"),
    ):
        h = keras.ops.convert_to_numpy(layer(x))
        twin = layers.RNN(gate_cell(layer.cell, kind, ("h",)), return_sequences=True)
        assert_close(keras.ops.convert_to_numpy(twin(x)), h, f"{kind} h")
        # the layer's own variables, nothing new
        assert len(twin.weights) == len(layer.weights)
        assert all(any(w is v for v in layer.weights) for w in twin.weights)
        want = (lstm_ref if kind == "LSTM" else gru_ref)(layer, x)
        gates = ("i", "o") if kind == "LSTM" else ("n", "r")
        both = layers.RNN(gate_cell(layer.cell, kind, gates), return_sequences=True)
        got = keras.ops.convert_to_numpy(both(x))
        assert_close(got[..., :3], want[gates[0]], f"{kind} {gates[0]}")
        assert_close(got[..., 3:], want[gates[1]], f"{kind} {gates[1]}")
    with pytest.raises(ValueError, match="SimpleRNN"):
        gate_cell(layers.SimpleRNNCell(2), "SimpleRNN", ("h",))
    assert [i.states for i in KerasAdapter(keras.Sequential([keras.Input((T, 2)), layer])).layers()] == [
        ("h", "r", "z", "n")
    ]
