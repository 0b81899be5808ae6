"""The PyTorch zoo: ``rnndyn.capture`` on models written as real code writes them.

Every case (a) builds a model of ``tests/_zoo_torch.py`` with a fixed seed,
(b) checks a float64 reference written from the equations
(``tests/_zoo_reference.py``) against the model's own outputs and final
states, then (c) captures the documented way (``docs/torch.md``, "Inputs"),
with ``batch_size`` smaller than the number of sequences, and compares the
states (and lengths, padding, directions) with the reference, to 1e-5.
"""

from __future__ import annotations

import random
import time

import _zoo_torch as zoo
import numpy as np
import pytest
import torch
from _torch_fixtures import _one_thread  # noqa: F401  (autouse fixture)
from _zoo_reference import (
    assert_close,
    f64,
    torch_cell,
    torch_direction,
    torch_module,
    torch_step,
    torch_weights,
)
from torch.utils.data import DataLoader, TensorDataset

import rnndyn

pytestmark = pytest.mark.filterwarnings("ignore:LSTM with projections:UserWarning")


def grab(traj, layer, state, direction=None):
    crit = {"layer": layer, "state": state}
    if direction is not None:
        crit["direction"] = direction
    return traj.select(**crit).states


def check(traj, layer, want: dict, states, what=""):
    for s in states:
        assert_close(grab(traj, layer, s), want[s], f"{what} {layer} {s}")


def directions(traj, layer, state="h"):
    return traj.select(layer=layer, state=state).units["direction"].tolist()


def tokens(n, T, vocab, seed=0, low=1):
    return torch.from_numpy(np.random.default_rng(seed).integers(low, vocab, size=(n, T)))


def padded(n, T, vocab, seed=0, full=True):
    """Right-padded ids (0 = pad) and their lengths; sequence 0 is full when ``full``."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(2, T, size=n)
    if full:
        lengths[0] = T
    ids = rng.integers(1, vocab, size=(n, T))
    ids[np.arange(T)[None] >= lengths[:, None]] = 0
    return torch.from_numpy(ids), torch.from_numpy(lengths)


def capture(model, inputs, **kw):
    return rnndyn.capture(model, inputs, progress=False, **kw)


# ---------------------------------------------------------------- language models
def test_zoo_word_lm_time_major_with_carried_state():
    torch.manual_seed(0)
    model = zoo.WordLM().eval()
    src = tokens(7, 9, 20).T.contiguous()  # (T, B), as batchify makes them
    hidden = tuple(0.5 * torch.randn(2, 7, 8) for _ in range(2))  # carried from an earlier chunk
    with torch.no_grad():
        emb = model.encoder(src)
        out, (h_n, c_n) = model.rnn(emb, hidden)
    layers, rh, rc = torch_module(model.rnn, emb, hidden)
    assert_close(out.transpose(0, 1), layers[1]["h"], "self-check output")
    assert_close(h_n, rh, "self-check h_n")
    assert_close(c_n, rc, "self-check c_n")

    traj = capture(
        model, rnndyn.Args(src, hidden), layer=["rnn.l0", "rnn"], state=["h", "c"], batch_axis=1, batch_size=3
    )
    assert traj.shape == (7, 9, 32)
    check(traj, "rnn.l0", layers[0], "hc")
    check(traj, "rnn", layers[1], "hc")
    assert set(traj.units["direction"]) == {"forward"}
    # the escape hatch gives the same
    traj2 = capture(
        model,
        {"input": src, "hidden": hidden},
        layer="rnn",
        forward=lambda m, b: m(b["input"], b["hidden"]),
        batch_axis=1,
        batch_size=4,
    )
    assert_close(traj2.states, layers[1]["h"], "forward= h")


def test_zoo_lm_without_batch_axis_is_refused_naming_it():
    torch.manual_seed(0)
    model = zoo.WordLM().eval()
    src = tokens(7, 9, 20).T.contiguous()
    hidden = model.init_hidden(7)
    with pytest.raises(rnndyn.RnndynError, match="batch_axis"):
        capture(model, rnndyn.Args(src, hidden), layer="rnn")


def test_zoo_bare_time_major_bilstm():
    torch.manual_seed(1)
    lstm = torch.nn.LSTM(5, 6, num_layers=2, bidirectional=True).eval()
    x = torch.randn(8, 5, 5)  # (T, B, F): PyTorch's default layout
    with torch.no_grad():
        out, (h_n, c_n) = lstm(x)
    layers, rh, rc = torch_module(lstm, x)
    assert_close(out.transpose(0, 1), layers[1]["h"], "self-check output")
    assert_close(h_n, rh, "self-check h_n")
    assert_close(c_n, rc, "self-check c_n")
    traj = capture(lstm, x, layer=["lstm.l0", "lstm"], state=["h", "c", "f"], batch_size=2)
    assert traj.shape == (5, 8, 2 * 3 * 12)
    check(traj, "lstm.l0", layers[0], "hcf")
    check(traj, "lstm", layers[1], "hcf")
    assert directions(traj, "lstm") == ["forward"] * 6 + ["backward"] * 6
    with pytest.raises(rnndyn.RnndynError, match="batch_axis"):
        capture(lstm, x, batch_axis=0)


# -------------------------------------------------------------------- seq2seq
def test_zoo_encoder_fed_one_token_at_a_time():
    torch.manual_seed(2)
    model = zoo.StepEncoder().eval()
    src = tokens(6, 7, 15)
    with torch.no_grad():
        emb = model.embedding(src)
        out, h_n = model(src)
    layers, rh, _ = torch_module(model.gru, emb)
    assert_close(out, layers[0]["h"], "self-check outputs")
    assert_close(h_n, rh, "self-check h_n")
    traj = capture(model, src, layer="gru", state=["h", "r", "z", "n"], batch_size=4)
    assert traj.shape == (6, 7, 32)
    check(traj, "gru", layers[0], "hrzn")


def test_zoo_decoder_started_from_encoder_state():
    torch.manual_seed(3)
    model = zoo.Seq2Seq().eval()
    src, tgt = tokens(5, 8, 15, seed=1), tokens(5, 6, 15, seed=2)
    with torch.no_grad():
        enc, h_n = model.encoder(model.embed(src))
        dec, _ = model.decoder(model.embed(tgt), h_n)
        e_layers, rh, _ = torch_module(model.encoder, model.embed(src))
        d_layers, _, _ = torch_module(model.decoder, model.embed(tgt), rh)
        assert_close(
            model(src, tgt), model.out(torch.from_numpy(d_layers[0]["h"]).float()), "self-check logits"
        )
    assert_close(enc, e_layers[0]["h"], "self-check encoder")
    assert_close(dec, d_layers[0]["h"], "self-check decoder")
    traj = capture(model, rnndyn.Args(src, tgt), layer="decoder", state=["h", "z"], batch_size=2)
    check(traj, "decoder", d_layers[0], "hz")
    traj = capture(model, rnndyn.Args(src, tgt), layer="encoder", batch_size=3)
    check(traj, "encoder", e_layers[0], "h")


# ------------------------------------------------------------------- packing
def test_zoo_tagger_that_packs_inside_forward():
    torch.manual_seed(4)
    model = zoo.PackedTagger().eval()
    ids, lengths = padded(7, 10, 20, seed=3)
    ids[1:3, 8:] = 0  # the second batch (batch_size=3) is shorter than the first
    lengths[1:3] = torch.clamp(lengths[1:3], max=8)
    with torch.no_grad():
        emb = model.embed(ids)
        packed = torch.nn.utils.rnn.pack_padded_sequence(emb, lengths, batch_first=True, enforce_sorted=False)
        out, _ = torch.nn.utils.rnn.pad_packed_sequence(model.lstm(packed)[0], batch_first=True)
    layers, _, _ = torch_module(model.lstm, emb, lengths=lengths.numpy())
    assert_close(out, layers[0]["h"], "self-check output")
    traj = capture(model, rnndyn.Args(ids, lengths), layer="lstm", state=["h", "c"], batch_size=3)
    assert traj.shape == (7, 10, 24)
    assert traj.masked and traj.lengths.tolist() == lengths.tolist()
    check(traj, "lstm", layers[0], "hc")
    assert np.all(f64(traj.states)[~traj.mask] == 0)
    assert directions(traj, "lstm") == ["forward"] * 6 + ["backward"] * 6


def test_zoo_imdb_classifier_packs_by_its_padding():
    torch.manual_seed(5)
    model = zoo.ImdbClassifier().eval()
    ids, lengths = padded(9, 12, 30, seed=4)
    with torch.no_grad():
        emb = model.embedding(ids)
        logits = model(ids)
    layers, rh, _ = torch_module(model.rnn, emb, lengths=lengths.numpy())
    assert_close(logits, rh[-1] @ f64(model.fc.weight).T + f64(model.fc.bias), "self-check logits")
    traj = capture(model, ids, layer="rnn", state=["h", "c", "i"], batch_size=4)
    assert traj.masked and traj.lengths.tolist() == lengths.tolist()
    assert traj.shape == (9, 12, 24)
    check(traj, "rnn", layers[0], "hci")


def test_zoo_compiled_imdb_classifier():
    torch.manual_seed(5)
    model = zoo.ImdbClassifier().eval()
    ids, lengths = padded(6, 9, 30, seed=5)
    t0 = time.perf_counter()
    compiled = torch.compile(model)  # compiled lazily on the first call
    with torch.no_grad():
        logits = compiled(ids)
    assert time.perf_counter() - t0 < 60
    layers, rh, _ = torch_module(model.rnn, model.embedding(ids), lengths=lengths.numpy())
    assert_close(logits, rh[-1] @ f64(model.fc.weight).T + f64(model.fc.bias), "self-check logits")
    traj = capture(compiled, ids, layer="rnn", state=["h", "c"], batch_size=4)
    assert traj.masked and traj.lengths.tolist() == lengths.tolist()
    check(traj, "rnn", layers[0], "hc")


# ---------------------------------------------------------- speech-style stacks
def test_zoo_speech_stack_of_time_major_bilstms():
    torch.manual_seed(6)
    model = zoo.SpeechStack().eval()
    x = torch.randn(9, 5, 6)  # (frames, utterances, features)
    with torch.no_grad():
        l0 = torch_module(model.rnns[0], x)[0]
        l1 = torch_module(model.rnns[1], torch.from_numpy(l0[0]["h"]).transpose(0, 1))[0]
        out = model(x)
        ref = torch.from_numpy(l1[0]["h"]).transpose(0, 1).float()
    assert_close(out, model.fc(ref).log_softmax(-1), "self-check log-probs")
    traj = capture(model, x, layer=["rnns.0", "rnns.1"], state=["h", "c"], batch_axis=1, batch_size=2)
    assert traj.shape == (5, 9, 40)
    check(traj, "rnns.0", l0[0], "hc")
    check(traj, "rnns.1", l1[0], "hc")
    assert directions(traj, "rnns.1") == ["forward"] * 5 + ["backward"] * 5
    with pytest.raises(rnndyn.RnndynError, match="batch_axis"):
        capture(model, x, layer="rnns.1")  # time-major inputs read along axis 0


def test_zoo_fused_three_layer_time_major_bigru():
    torch.manual_seed(7)
    model = zoo.DeepSpeechRNN().eval()
    x = torch.randn(7, 4, 6)
    with torch.no_grad():
        out = model(x)
    layers, _, _ = torch_module(model.rnn, x)
    assert_close(out.transpose(0, 1), layers[2]["h"], "self-check output")
    traj = capture(model, x, layer=["rnn.l1", "rnn"], state=["h", "z"], batch_axis=1, batch_size=3)
    check(traj, "rnn.l1", layers[1], "hz")
    check(traj, "rnn", layers[2], "hz")
    compiled = torch.compile(model)  # one graph, no break: the hooks must still see the module
    with torch.no_grad():
        assert_close(compiled(x).transpose(0, 1), layers[2]["h"], "self-check compiled")
    traj = capture(compiled, x, layer="rnn", state=["h", "n"], batch_axis=1, batch_size=2)
    check(traj, "rnn", layers[2], "hn")


# ------------------------------------------------------------------- cells
def test_zoo_stacked_lstm_cells():
    torch.manual_seed(8)
    model = zoo.StackedCells().eval()
    x = torch.randn(6, 7, 4)
    with torch.no_grad():
        out = model(x)
    r1 = torch_cell(model.cell1, list(x.unbind(1)))
    r2 = torch_cell(model.cell2, list(torch.from_numpy(r1["h"]).unbind(1)))
    assert_close(out, r2["h"], "self-check output")
    traj = capture(model, x, layer=["cell1", "cell2"], state=["h", "c", "f"], batch_size=4)
    check(traj, "cell1", r1, "hcf")
    check(traj, "cell2", r2, "hcf")


def test_zoo_sampling_char_rnn_leaves_the_generators_alone():
    torch.manual_seed(9)
    model = zoo.CharSampler().eval()
    prime = tokens(6, 5, 12, seed=6)
    torch.manual_seed(123)
    np.random.seed(5)
    random.seed(5)
    before = torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate()
    traj = capture(model, prime, layer="cell", state=["h", "z"], batch_size=4)
    assert torch.equal(torch.get_rng_state(), before[0])
    assert np.array_equal(np.random.get_state()[1], before[1]) and random.getstate() == before[2]
    # the capture's draws: batch by batch from where the generator stood
    with torch.no_grad():
        sampled = torch.cat([model(prime[:4]), model(prime[4:])])
        feed = [model.embed(prime[:, t]) for t in range(5)] + [model.embed(sampled[:, k]) for k in range(4)]
        # self-check: the reference replays the model's own samples
        torch.set_rng_state(before[0])
        ref = torch_cell(model.cell, feed[:5])
        h = torch.from_numpy(ref["h"][:, -1]).float()
        probs = torch.softmax(model.head(h[:4]), -1)
        assert torch.equal(torch.multinomial(probs, 1)[:, 0], sampled[:4, 0])
    ref = torch_cell(model.cell, feed)
    assert traj.shape == (6, 9, 16)
    check(traj, "cell", ref, "hz")


# ------------------------------------------------------------ other modules
def test_zoo_relu_elman_with_initial_state():
    torch.manual_seed(10)
    model = zoo.ElmanLM().eval()
    x, h0 = torch.randn(5, 8, 3), 0.3 * torch.randn(2, 5, 6)
    with torch.no_grad():
        y, h_n = model.rnn(x, h0)
    layers, rh, _ = torch_module(model.rnn, x, h0)
    assert_close(y, layers[1]["h"], "self-check output")
    assert_close(h_n, rh, "self-check h_n")
    traj = capture(model, rnndyn.Args(x, h0), layer=["rnn.l0", "rnn"], batch_axis={1: 1}, batch_size=2)
    check(traj, "rnn.l0", layers[0], "h")
    check(traj, "rnn", layers[1], "h")


def test_zoo_float64_bigru():
    torch.manual_seed(11)
    model = zoo.Float64Tagger().eval()
    x = np.random.default_rng(7).normal(size=(5, 7, 3))  # float64 numpy, as scientific code has it
    with torch.no_grad():
        out, h_n = model.gru(torch.from_numpy(x))
    layers, rh, _ = torch_module(model.gru, x)
    assert_close(out, layers[1]["h"], "self-check output", atol=1e-12)
    assert_close(h_n, rh, "self-check h_n", atol=1e-12)
    traj = capture(model, x, layer=["gru.l0", "gru"], state=["h", "r", "z", "n"], batch_size=2)
    assert traj.shape == (5, 7, 2 * 4 * 10)
    check(traj, "gru.l0", layers[0], "hrzn")
    check(traj, "gru", layers[1], "hrzn")
    assert_close(grab(traj, "gru", "h"), layers[1]["h"], "float64 h", atol=1e-10)


def test_zoo_projected_lstm_from_a_dataloader():
    torch.manual_seed(12)
    model = zoo.ProjectedLM().eval()
    x, y = torch.randn(7, 6, 4), torch.randint(0, 2, (7,))
    with torch.no_grad():
        out, (h_n, c_n) = model.lstm(x)
    layers, rh, rc = torch_module(model.lstm, x)
    assert_close(out, layers[0]["h"], "self-check output")
    assert_close(c_n, rc, "self-check c_n")
    loader = DataLoader(TensorDataset(x, y), batch_size=3)  # yields [x, y]: x is the input
    traj = capture(model, loader, state=["h", "c", "o"])
    assert traj.shape == (7, 6, 3 + 8 + 8)
    check(traj, "lstm", layers[0], "hco")
    with pytest.raises(rnndyn.RnndynError, match="batch_size"):
        capture(model, loader, batch_size=2)


# ------------------------------------------------------------ one-argument batches
def test_zoo_forward_taking_one_dataclass():
    torch.manual_seed(13)
    model = zoo.DataclassForecaster().eval()
    batch = zoo.SeriesBatch(past=torch.randn(5, 9, 2), static=torch.randn(5, 3), future_covariates=None)
    with torch.no_grad():
        h0 = torch.tanh(model.static_to_h(batch.static))[None]
        last = model(batch)
    layers, _, _ = torch_module(model.lstm, batch.past, (h0, torch.zeros_like(h0)))
    assert_close(last, layers[0]["h"][:, -1], "self-check output")
    traj = capture(model, batch, layer="lstm", state=["h", "c"], batch_size=2)
    check(traj, "lstm", layers[0], "hc")


def test_zoo_forward_taking_one_dict():
    torch.manual_seed(14)
    model = zoo.DictModel().eval()
    x, scale = torch.randn(6, 5, 3), torch.rand(6, 1, 1) + 0.5
    for batch, xs in (({"x": x, "scale": None}, x), ({"x": x, "scale": scale}, x * scale)):
        with torch.no_grad():
            out = model(batch)
        layers, _, _ = torch_module(model.gru, xs)
        assert_close(out, layers[0]["h"], "self-check output")
        traj = capture(model, batch, layer="gru", state=["h", "n"], batch_size=4)
        check(traj, "gru", layers[0], "hn")


def test_zoo_lstm_state_as_a_list():
    torch.manual_seed(15)
    model = zoo.ListStateLSTM().eval()
    x = torch.randn(5, 6, 3)
    state = [0.4 * torch.randn(1, 5, 6), 0.4 * torch.randn(1, 5, 6)]
    with torch.no_grad():
        out, (h_n, c_n) = model(x, state)
    layers, rh, rc = torch_module(model.lstm, x, state)
    assert_close(out, layers[0]["h"], "self-check output")
    assert_close(c_n, rc, "self-check c_n")
    traj = capture(model, rnndyn.Args(x, state), state=["h", "c"], batch_axis={1: 1}, batch_size=2)
    check(traj, "lstm", layers[0], "hc")


# -------------------------------------------------------- one RNN called often
def test_zoo_forecaster_calls_one_lstm_several_times():
    torch.manual_seed(16)
    model = zoo.Forecaster().eval()
    context = torch.randn(5, 8, 1)
    with torch.no_grad():
        preds = model(context)
    w = torch_weights(model.rnn)
    wp, bp = f64(model.proj.weight), f64(model.proj.bias)
    enc, h, c = torch_direction("lstm", context, w, np.zeros((5, 6)), np.zeros((5, 6)))
    hs, cs, ys = [enc["h"]], [enc["c"]], [h @ wp.T + bp]
    for _ in range(model.horizon - 1):
        h, c, _ = torch_step("lstm", ys[-1], h, c, w)
        hs.append(h[:, None])
        cs.append(c[:, None])
        ys.append(h @ wp.T + bp)
    assert_close(preds[..., 0], np.concatenate(ys, 1), "self-check forecasts")
    traj = capture(model, context, layer="rnn", state=["h", "c"], batch_size=2)
    assert traj.shape == (5, 8 + 3, 12)
    check(traj, "rnn", {"h": np.concatenate(hs, 1), "c": np.concatenate(cs, 1)}, "hc")


# --------------------------------------------------------- padding in the middle
def test_zoo_mid_padding_packed_encoder_then_decoder_steps():
    """An LSTM subclass packing inside its forward: encoder call, then decoder call.

    The joined trajectory of sequence ``i`` has real steps ``0..L_i-1`` (the
    encoder), padding ``L_i..T-1``, then real steps ``T..T+2`` (the decoder).
    """
    torch.manual_seed(17)
    model = zoo.PackedEncoderDecoder().eval()
    n, T, H = 6, 7, 3
    x, future = torch.randn(n, T, 3), torch.randn(n, H, 3)
    lengths = torch.tensor([7, 3, 5, 2, 6, 4])
    x[torch.arange(T)[None] >= lengths[:, None]] = 0.0
    w = torch_weights(model.rnn)
    enc, h, c = torch_direction("lstm", x, w, np.zeros((n, 5)), np.zeros((n, 5)), lengths=lengths.numpy())
    dec, _, _ = torch_direction("lstm", future, w, h, c)
    with torch.no_grad():
        out = model(x, lengths, future)
    assert_close(out, dec["h"], "self-check decoder output")

    traj = capture(model, rnndyn.Args(x, lengths, future), layer="rnn", state=["h", "c"], batch_size=4)
    assert traj.shape == (n, T + H, 10)
    valid = np.zeros((n, T + H), bool)
    valid[:, T:] = True
    valid[:, :T] = np.arange(T)[None] < lengths.numpy()[:, None]
    np.testing.assert_array_equal(np.asarray(traj.steps.valid), valid)
    for s in "hc":
        want = np.concatenate([enc[s], dec[s]], 1)
        got = f64(grab(traj, "rnn", s))
        assert_close(got[valid], want[valid], f"{s} at real steps")
        # processing order: each sequence's real steps first, in the order computed
        proc = f64(grab(traj.processing_order(), "rnn", s))
        for i, L in enumerate(lengths.tolist()):
            assert_close(proc[i, : L + H], np.concatenate([enc[s][i, :L], dec[s][i]]), f"{s} seq {i}")
