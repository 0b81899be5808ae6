"""capture() feeds the model exactly what ``model(...)`` takes (issue 10): the input forms.

Models are written the way real code writes them: a word-level language model
``forward(tokens, hidden)`` with a time-major ``nn.LSTM``, a tagger that packs
inside its forward, models taking one dataclass or one dict, a sampling model.
Every capture is compared to a float64 reference written from the LSTM
equations (itself checked against PyTorch's own outputs) or to the module's
own outputs, to 1e-5.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from _torch_fixtures import _one_thread  # noqa: E402,F401  (autouse fixture)
from torch import nn  # noqa: E402
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence  # noqa: E402

import rnndyn  # noqa: E402
from rnndyn import RnndynError  # noqa: E402

ATOL = 1e-5
V, E, H, L = 20, 6, 8, 2  # vocabulary, embedding, units, stacked layers


def _sig(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def lstm_reference(module: nn.LSTM, x: np.ndarray, h0: np.ndarray, c0: np.ndarray, lengths=None):
    """Float64 LSTM from the equations: x (B, T, F) batch-first, h0/c0 (layers, B, H).

    Returns h and c of every layer, each (B, T, H); steps at or after a
    sequence's length keep zeros (packed: the recurrence never reads them).
    """
    B, T, _ = x.shape
    lengths = np.full(B, T) if lengths is None else np.asarray(lengths)
    inp = x.astype(np.float64)
    hs, cs = [], []
    for k in range(module.num_layers):
        w_ih = getattr(module, f"weight_ih_l{k}").detach().double().numpy()
        w_hh = getattr(module, f"weight_hh_l{k}").detach().double().numpy()
        b = (getattr(module, f"bias_ih_l{k}") + getattr(module, f"bias_hh_l{k}")).detach().double().numpy()
        h, c = h0[k].astype(np.float64), c0[k].astype(np.float64)
        out_h, out_c = np.zeros((B, T, H)), np.zeros((B, T, H))
        for t in range(T):
            z = inp[:, t] @ w_ih.T + h @ w_hh.T + b
            i, f, g, o = np.split(z, 4, axis=1)
            c_new = _sig(f) * c + _sig(i) * np.tanh(g)
            h_new = _sig(o) * np.tanh(c_new)
            real = (t < lengths)[:, None]
            h, c = np.where(real, h_new, h), np.where(real, c_new, c)
            out_h[:, t], out_c[:, t] = np.where(real, h, 0), np.where(real, c, 0)
        hs.append(out_h)
        cs.append(out_c)
        inp = out_h
    return hs, cs


class WordLM(nn.Module):
    """The classic word-level language model: time-major tokens (T, B), state (layers, B, H)."""

    def __init__(self):
        super().__init__()
        self.encoder = nn.Embedding(V, E)
        self.rnn = nn.LSTM(E, H, num_layers=L)
        self.decoder = nn.Linear(H, V)

    def forward(self, tokens, hidden):
        output, hidden = self.rnn(self.encoder(tokens), hidden)
        return self.decoder(output), hidden


def _lm_data(T=7, B=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randint(0, V, (T, B), generator=g)
    h0 = torch.randn(L, B, H, generator=g) * 0.5
    c0 = torch.randn(L, B, H, generator=g) * 0.5
    return tokens, h0, c0


def _lm_reference(lm: WordLM, tokens, h0, c0):
    x = lm.encoder(tokens).detach().numpy().transpose(1, 0, 2)  # (B, T, E)
    return lstm_reference(lm.rnn, x, h0.numpy(), c0.numpy())


def test_the_float64_reference_matches_pytorch():
    torch.manual_seed(0)
    lm = WordLM().eval()
    tokens, h0, c0 = _lm_data()
    hs, cs = _lm_reference(lm, tokens, h0, c0)
    with torch.no_grad():
        out, (hn, cn) = lm.rnn(lm.encoder(tokens), (h0, c0))
    np.testing.assert_allclose(hs[-1], out.numpy().transpose(1, 0, 2), atol=ATOL)
    for k in range(L):
        np.testing.assert_allclose(hs[k][:, -1], hn[k].numpy(), atol=ATOL)
        np.testing.assert_allclose(cs[k][:, -1], cn[k].numpy(), atol=ATOL)


# ------------------------------------------------------------ time-major models
def test_a_bare_time_major_module_takes_its_inputs_as_pytorch_does():
    torch.manual_seed(1)
    lstm = nn.LSTM(4, H)  # batch_first=False, PyTorch's default
    x = torch.randn(30, 5, 4)  # 30 steps, 5 sequences
    traj = rnndyn.capture(lstm, x, state=["h", "c"], batch_size=2, progress=False)
    assert traj.shape == (5, 30, 2 * H)  # never "30 sequences x 5 steps"
    hs, cs = lstm_reference(lstm, x.numpy().transpose(1, 0, 2), np.zeros((1, 5, H)), np.zeros((1, 5, H)))
    np.testing.assert_allclose(traj.select(state="h").states, hs[0], atol=ATOL)
    np.testing.assert_allclose(traj.select(state="c").states, cs[0], atol=ATOL)
    with torch.no_grad():
        np.testing.assert_allclose(traj.select(state="h").states, lstm(x)[0].transpose(0, 1), atol=ATOL)
    # saying another axis than the module provably reads is refused, never transposed
    with pytest.raises(RnndynError, match="provably reads them along axis 1.*time-major"):
        rnndyn.capture(lstm, x, batch_axis=0, progress=False)


def test_a_bare_time_major_module_with_its_initial_state():
    torch.manual_seed(2)
    lstm = nn.LSTM(4, H, num_layers=2)
    x = torch.randn(6, 5, 4)
    h0, c0 = torch.randn(2, 5, H), torch.randn(2, 5, H)
    traj = rnndyn.capture(
        lstm, rnndyn.Args(x, (h0, c0)), layer=["lstm.l0", "lstm"], state="c", batch_size=3, progress=False
    )
    _, cs = lstm_reference(lstm, x.numpy().transpose(1, 0, 2), h0.numpy(), c0.numpy())
    np.testing.assert_allclose(traj.select(layer="lstm.l0").states, cs[0], atol=ATOL)
    np.testing.assert_allclose(traj.select(layer="lstm").states, cs[1], atol=ATOL)


@pytest.mark.parametrize("as_list", [False, True])
def test_word_language_model_with_carried_state(as_list):
    torch.manual_seed(3)
    lm = WordLM()
    tokens, h0, c0 = _lm_data()
    hidden = [h0, c0] if as_list else (h0, c0)
    traj = rnndyn.capture(
        lm,
        rnndyn.Args(tokens, hidden),
        layer=["rnn.l0", "rnn"],
        state=["h", "c"],
        batch_axis=1,
        batch_size=2,
        progress=False,
    )
    hs, cs = _lm_reference(lm, tokens, h0, c0)
    for k, name in enumerate(["rnn.l0", "rnn"]):
        np.testing.assert_allclose(traj.select(layer=name, state="h").states, hs[k], atol=ATOL)
        np.testing.assert_allclose(traj.select(layer=name, state="c").states, cs[k], atol=ATOL)
    assert traj.lengths.tolist() == [7] * 5 and not traj.masked


def test_word_language_model_without_batch_axis_is_refused_with_the_fix():
    lm = WordLM()
    tokens, h0, c0 = _lm_data()
    with pytest.raises(RnndynError, match="do not agree on the number of sequences.*batch_axis=1") as info:
        rnndyn.capture(lm, rnndyn.Args(tokens, (h0, c0)), progress=False)
    assert "plugin" not in str(info.value)
    # only the state laid out otherwise: named per argument
    traj = rnndyn.capture(lm, rnndyn.Args(tokens, (h0, c0)), batch_axis={0: 1, 1: 1}, progress=False)
    np.testing.assert_allclose(traj.states, _lm_reference(lm, tokens, h0, c0)[0][-1], atol=ATOL)


def test_time_major_tokens_without_state_are_detected_not_cut():
    torch.manual_seed(4)
    lm = WordLM()
    tokens, h0, c0 = _lm_data(T=9, B=4)

    def no_state(model, batch):
        return model(batch, None)

    for batch_size in (256, 3):  # one batch, and the time axis cut into batches: both refused
        with pytest.raises(RnndynError, match="axis 1 of inputs.*time-major.*batch_axis=1") as info:
            rnndyn.capture(lm, tokens, forward=no_state, batch_size=batch_size, progress=False)
        assert "plugin" not in str(info.value)
    traj = rnndyn.capture(lm, tokens, forward=no_state, batch_axis=1, batch_size=3, progress=False)
    zeros = np.zeros((L, 4, H))
    x = lm.encoder(tokens).detach().numpy().transpose(1, 0, 2)
    np.testing.assert_allclose(traj.states, lstm_reference(lm.rnn, x, zeros, zeros)[0][-1], atol=ATOL)


def test_forward_escape_hatch_with_a_dict_batch():
    torch.manual_seed(5)
    lm = WordLM()
    tokens, h0, c0 = _lm_data()
    traj = rnndyn.capture(
        lm,
        {"tokens": tokens, "hidden": (h0, c0)},
        forward=lambda model, b: model(b["tokens"], b["hidden"]),
        batch_axis=1,
        batch_size=2,
        state="c",
        progress=False,
    )
    np.testing.assert_allclose(traj.states, _lm_reference(lm, tokens, h0, c0)[1][-1], atol=ATOL)


# ------------------------------------------------------------ structured inputs
@dataclass
class TagBatch:
    tokens: torch.Tensor
    lengths: torch.Tensor
    mask: torch.Tensor | None = None
    name: str = "train"


class PackingTagger(nn.Module):
    """A tagger that packs inside forward and unpacks without total_length."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(V, E)
        self.lstm = nn.LSTM(E, H, batch_first=True)
        self.out = nn.Linear(H, 3)

    def forward(self, tokens, lengths):
        packed = pack_padded_sequence(self.emb(tokens), lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, _ = self.lstm(packed)
        return self.out(pad_packed_sequence(out, batch_first=True)[0])


class DataclassTagger(PackingTagger):
    def forward(self, batch: TagBatch):  # type: ignore[override]
        assert batch.mask is None and batch.name == "train"
        return super().forward(batch.tokens, batch.lengths)


class DictTagger(PackingTagger):
    def forward(self, batch: dict):  # type: ignore[override]
        return super().forward(batch["tokens"], batch["lengths"])


def _tag_data(B=7, T=10):
    g = torch.Generator().manual_seed(7)
    tokens = torch.randint(0, V, (B, T), generator=g)
    lengths = torch.tensor([3, 10, 2, 5, 4, 9, 1])[:B]
    return tokens, lengths


def _tag_reference(model, tokens, lengths):
    x = model.emb(tokens).detach().numpy()
    z = np.zeros((1, len(lengths), H))
    return lstm_reference(model.lstm, x, z, z, lengths.numpy())


@pytest.mark.parametrize("form", ["args", "dataclass", "dict"])
def test_models_that_pack_inside_forward_are_padded_to_the_inputs_steps(form):
    torch.manual_seed(8)
    tokens, lengths = _tag_data()
    if form == "args":
        model, inputs = PackingTagger(), rnndyn.Args(tokens, lengths)
    elif form == "dataclass":
        model, inputs = DataclassTagger(), TagBatch(tokens, lengths)
    else:
        model, inputs = DictTagger(), {"tokens": tokens, "lengths": lengths}
    # batches of 2: the longest sequences of the batches are 10, 5, 9 and 1 steps
    traj = rnndyn.capture(model, inputs, state=["h", "c"], batch_size=2, progress=False)
    assert traj.masked and traj.shape == (7, 10, 2 * H)
    assert traj.lengths.tolist() == lengths.tolist()
    hs, cs = _tag_reference(model, tokens, lengths)
    np.testing.assert_allclose(traj.select(state="h").states, hs[0], atol=ATOL)
    np.testing.assert_allclose(traj.select(state="c").states, cs[0], atol=ATOL)
    assert np.all(np.asarray(traj.states)[~traj.mask] == 0)  # padding only at the end, zeros


def test_a_tuple_is_never_guessed_at():
    lstm = nn.LSTM(4, H, batch_first=True)
    x = torch.randn(3, 5, 4)
    for inputs in [(x,), (x, x)]:
        with pytest.raises(RnndynError, match=r"plain tuple.*rnndyn.Args\(\*t\).*forward="):
            rnndyn.capture(lstm, inputs, progress=False)
    with pytest.raises(RnndynError, match="collate= returned is a plain tuple"):
        rnndyn.capture(lstm, list(x), collate=lambda ex: (torch.stack(ex),), progress=False)
    # a DataLoader's [x] / (x, y) items: the first element is the model input
    ref = rnndyn.capture(lstm, x, progress=False).states
    got = rnndyn.capture(lstm, iter([(x[:2],), (x[2:], torch.zeros(1))]), progress=False).states
    np.testing.assert_array_equal(got, ref)
    with torch.no_grad():
        np.testing.assert_allclose(ref, lstm(x)[0], atol=ATOL)


def test_batch_size_is_refused_for_iterables_not_ignored():
    lstm = nn.LSTM(4, H, batch_first=True)
    x = torch.randn(4, 5, 4)
    with pytest.raises(RnndynError, match="batch_size=2 was given, but inputs is an iterable"):
        rnndyn.capture(lstm, iter([x[:2], x[2:]]), batch_size=2, progress=False)
    assert rnndyn.capture(lstm, iter([x[:2], x[2:]]), progress=False).n_sequences == 4


def test_batch_axis_is_validated():
    lstm = nn.LSTM(4, H, batch_first=True)
    x = torch.randn(4, 5, 4)
    with pytest.raises(RnndynError, match="batch_axis must be None, an int >= 0 or a dict"):
        rnndyn.capture(lstm, x, batch_axis=-1, progress=False)
    with pytest.raises(RnndynError, match="batch_axis names 'hidden', which is not an argument"):
        rnndyn.capture(lstm, rnndyn.Args(x), batch_axis={"hidden": 1}, progress=False)
    with pytest.raises(RnndynError, match="batch_axis is a dict, but inputs is one array"):
        rnndyn.capture(lstm, x, batch_axis={0: 0}, progress=False)


# --------------------------------------------------------------- other patterns
class Sampler(nn.Module):
    """A model that samples: noise from torch, numpy and Python's generators on its inputs."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(4, H, batch_first=True)

    def forward(self, x):
        noise = torch.randn_like(x) + float(np.random.normal()) + random.random()
        return self.rnn(x + 0.1 * noise)[0]


def test_a_sampling_model_leaves_every_random_generator_where_it_was():
    torch.manual_seed(9)
    model = Sampler()
    x = torch.randn(3, 6, 4)
    torch.manual_seed(123)
    np.random.seed(5)
    random.seed(6)
    before = (torch.random.get_rng_state(), np.random.get_state()[1].copy(), random.getstate())
    traj = rnndyn.capture(model, x, progress=False)
    assert torch.equal(torch.random.get_rng_state(), before[0])
    assert np.array_equal(np.random.get_state()[1], before[1]) and random.getstate() == before[2]
    # the model drew from a stream starting where the user's stood: as model(x) would
    with torch.no_grad():
        expected = model(x)
    np.testing.assert_allclose(traj.states, expected, atol=ATOL)


class EncoderDecoderLSTM(nn.LSTM):
    """An LSTM subclass packing inside its forward, called for an encoder and again per step."""

    def forward(self, x, lengths=None, hx=None):  # type: ignore[override]
        if lengths is None:
            return super().forward(x, hx)
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, state = super().forward(packed, hx)
        return pad_packed_sequence(out, batch_first=True)[0], state


class Forecaster(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = EncoderDecoderLSTM(4, H, batch_first=True)

    def forward(self, x, lengths):
        _, state = self.rnn(x, lengths)
        return self.rnn(torch.zeros(x.shape[0], 3, 4), hx=state)[0]


def _step_by_step(rnn: nn.LSTM, xs: torch.Tensor, state=None):
    """(h, c) after each step of one sequence, from the module's own forward one step at a time."""
    hs, cs = [], []
    for t in range(xs.shape[0]):
        _, state = nn.LSTM.forward(rnn, xs[None, t : t + 1], state)
        hs.append(state[0][0, 0])
        cs.append(state[1][0, 0])
    return torch.stack(hs), torch.stack(cs), state


@pytest.mark.parametrize("batch_size", [1, 2, 3])
def test_padding_hidden_in_the_middle_of_a_trajectory_is_marked(batch_size):
    """Packed encoder call + decoder calls: padding in the middle, real steps joined in processing order."""
    torch.manual_seed(10)
    x = torch.randn(3, 6, 4)
    lengths = torch.tensor([6, 2, 4])
    model = Forecaster()
    traj = rnndyn.capture(
        model, rnndyn.Args(x, lengths), state=["h", "c"], batch_size=batch_size, progress=False
    )
    T = 6 + 3
    assert traj.shape == (3, T, 2 * H) and traj.masked is True
    valid = np.ones((3, T), dtype=bool)
    valid[:, :6] = np.arange(6)[None] < lengths.numpy()[:, None]
    np.testing.assert_array_equal(traj.steps.valid, valid)
    proc = traj.processing_order()
    with torch.no_grad():
        for i, L in enumerate(lengths.tolist()):
            h_enc, c_enc, state = _step_by_step(model.rnn, x[i, :L])
            h_dec, c_dec, _ = _step_by_step(model.rnn, torch.zeros(3, 4), state)
            want = torch.cat([torch.cat([h_enc, h_dec]), torch.cat([c_enc, c_dec])], dim=1).numpy()
            np.testing.assert_allclose(traj.states[i][valid[i]], want, atol=ATOL)
            np.testing.assert_allclose(proc.states[i, : L + 3], want, atol=ATOL)
    # the step into the decoder is a real step in processing order; in input order the gap is padding
    assert (
        proc.delta_mask("input")[1, : 2 + 3 - 1].all() and not proc.delta_mask("input")[1, 2 + 3 - 1 :].any()
    )
    assert not traj.delta_mask("input")[1, 1:6].any() and traj.delta_mask("input")[1, 6:].all()


class HiddenPadding(nn.LSTM):
    """Runs the fused kernel itself (never nn.LSTM.forward) and zeroes the padding of its output."""

    def forward(self, x, lengths=None, hx=None):  # type: ignore[override]
        zeros = x.new_zeros(1, x.shape[0], self.hidden_size)
        args = (self._flat_weights, self.bias, self.num_layers, 0.0, False, False, True)
        out, *state = torch._VF.lstm(x, (zeros, zeros), *args)
        if lengths is not None:
            out = out * (torch.arange(x.shape[1])[None, :, None] < lengths[:, None, None])
        return out, state


class HiddenPaddingModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = HiddenPadding(4, H, batch_first=True)

    def forward(self, x, lengths):
        return self.rnn(x, lengths)[0]


def test_padding_a_forward_hides_from_rnndyn_is_refused():
    torch.manual_seed(11)
    x = torch.randn(3, 6, 4)
    with pytest.raises(RnndynError, match="pads its output inside that forward.*cannot tell that padding"):
        rnndyn.capture(HiddenPaddingModel(), rnndyn.Args(x, torch.tensor([6, 2, 4])), progress=False)


class StackedTimeMajor(nn.Module):
    def __init__(self):
        super().__init__()
        self.speech = nn.LSTM(4, H, num_layers=2, bidirectional=True)
        self.cell = nn.GRUCell(2 * H, 3)

    def forward(self, x):
        return self.cell(self.speech(x)[0][-1])


def test_layers_table_and_no_such_layer_listing():
    table = rnndyn.layers(StackedTimeMajor())
    assert table["layer"].tolist() == ["speech", "speech.l0", "speech.l1", "cell"]
    row = table.iloc[0].to_dict()
    assert row == {
        "layer": "speech",
        "type": "LSTM",
        "units": H,
        "directions": "forward+backward",
        "stacked": 2,
        "layout": "time-major",
        "states": "h, c, i, f, g, o",
    }
    assert table.iloc[3]["layout"] == "steps = calls" and table.iloc[3]["states"] == "h, r, z, n"
    with pytest.raises(rnndyn.PluginError, match="2 stacked layers, top layer; time-major"):
        rnndyn.capture(StackedTimeMajor(), torch.randn(5, 2, 4), layer="nope", progress=False)


def test_layer_none_means_the_only_module_stacked_or_not():
    torch.manual_seed(11)
    lstm = nn.LSTM(4, H, num_layers=2, batch_first=True)
    x = torch.randn(2, 5, 4)
    traj = rnndyn.capture(lstm, x, progress=False)
    assert set(traj.units["layer"]) == {"lstm"}
    with torch.no_grad():
        np.testing.assert_allclose(traj.states, lstm(x)[0], atol=ATOL)
