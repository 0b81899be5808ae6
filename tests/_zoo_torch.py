"""The PyTorch model zoo: recurrent models written the way tutorials and papers write them.

Each class is used by ``tests/test_zoo_torch.py``, which builds it with a fixed
seed, checks a float64 reference (``tests/_zoo_reference.py``) against the
model's own outputs and then ``rnndyn.capture`` against the reference.
Sizes are tiny (units 4-16, steps 5-12, 3-9 sequences).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


class WordLM(nn.Module):
    """PyTorch's word_language_model: time-major tokens, a carried ``(h, c)`` state."""

    def __init__(self, vocab=20, emb=6, units=8, layers=2):
        super().__init__()
        self.encoder = nn.Embedding(vocab, emb)
        self.rnn = nn.LSTM(emb, units, layers)  # time-major, as in the example
        self.decoder = nn.Linear(units, vocab)
        self.layers, self.units = layers, units

    def init_hidden(self, bsz):
        weight = next(self.parameters())
        return (
            weight.new_zeros(self.layers, bsz, self.units),
            weight.new_zeros(self.layers, bsz, self.units),
        )

    def forward(self, input, hidden):
        output, hidden = self.rnn(self.encoder(input), hidden)
        return self.decoder(output), hidden


class StepEncoder(nn.Module):
    """A seq2seq encoder (PyTorch's translation tutorial) fed one token at a time by its caller."""

    def __init__(self, vocab=15, units=8):
        super().__init__()
        self.embedding = nn.Embedding(vocab, units)
        self.gru = nn.GRU(units, units, batch_first=True)

    def forward(self, src):
        hidden, outputs = None, []
        for t in range(src.shape[1]):
            out, hidden = self.gru(self.embedding(src[:, t : t + 1]), hidden)
            outputs.append(out)
        return torch.cat(outputs, 1), hidden


class Seq2Seq(nn.Module):
    """An encoder GRU whose final state starts a decoder GRU (teacher forcing)."""

    def __init__(self, vocab=15, units=8):
        super().__init__()
        self.embed = nn.Embedding(vocab, 6)
        self.encoder = nn.GRU(6, units, batch_first=True)
        self.decoder = nn.GRU(6, units, batch_first=True)
        self.out = nn.Linear(units, vocab)

    def forward(self, src, tgt):
        _, hidden = self.encoder(self.embed(src))
        dec, _ = self.decoder(self.embed(tgt), hidden)
        return self.out(dec)


class PackedTagger(nn.Module):
    """A BiLSTM tagger that packs its padded batch and unpacks without ``total_length``."""

    def __init__(self, vocab=20, units=6, tags=5):
        super().__init__()
        self.embed = nn.Embedding(vocab, 5, padding_idx=0)
        self.lstm = nn.LSTM(5, units, batch_first=True, bidirectional=True)
        self.tag = nn.Linear(2 * units, tags)

    def forward(self, tokens, lengths):
        packed = pack_padded_sequence(
            self.embed(tokens), lengths.cpu(), batch_first=True, enforce_sorted=False
        )
        out, _ = self.lstm(packed)
        out, _ = pad_packed_sequence(out, batch_first=True)
        return self.tag(out)


class SpeechStack(nn.Module):
    """Speech-style acoustic model: time-major features through a stack of BiLSTM modules."""

    def __init__(self, feats=6, units=5, n=2, classes=4):
        super().__init__()
        self.rnns = nn.ModuleList(
            nn.LSTM(feats if k == 0 else 2 * units, units, bidirectional=True) for k in range(n)
        )
        self.fc = nn.Linear(2 * units, classes)

    def forward(self, x):  # x: (T, B, feats)
        for rnn in self.rnns:
            x, _ = rnn(x)
        return self.fc(x).log_softmax(-1)


class DeepSpeechRNN(nn.Module):
    """One fused time-major 3-layer BiGRU over spectrogram frames."""

    def __init__(self, feats=6, units=4):
        super().__init__()
        self.rnn = nn.GRU(feats, units, num_layers=3, bidirectional=True)

    def forward(self, x):
        return self.rnn(x)[0]


class ImdbClassifier(nn.Module):
    """IMDB sentiment: right-padded ids (0 = pad), lengths from the mask, packed LSTM, last state."""

    def __init__(self, vocab=30, units=8):
        super().__init__()
        self.embedding = nn.Embedding(vocab, 6, padding_idx=0)
        self.rnn = nn.LSTM(6, units, batch_first=True)
        self.fc = nn.Linear(units, 1)

    def forward(self, text):
        lengths = (text != 0).sum(1)
        packed = pack_padded_sequence(
            self.embedding(text), lengths.cpu(), batch_first=True, enforce_sorted=False
        )
        _, (hidden, _) = self.rnn(packed)
        return self.fc(hidden[-1])


class StackedCells(nn.Module):
    """Two ``nn.LSTMCell`` layers unrolled by hand."""

    def __init__(self, feats=4, units=(7, 5)):
        super().__init__()
        self.cell1 = nn.LSTMCell(feats, units[0])
        self.cell2 = nn.LSTMCell(units[0], units[1])

    def forward(self, x):
        s1 = s2 = None
        outs = []
        for t in range(x.size(1)):
            s1 = self.cell1(x[:, t], s1)
            s2 = self.cell2(s1[0], s2)
            outs.append(s2[0])
        return torch.stack(outs, 1)


class CharSampler(nn.Module):
    """A char-RNN that reads a prime and then samples its own next characters."""

    def __init__(self, vocab=12, units=8, steps=4):
        super().__init__()
        self.embed = nn.Embedding(vocab, 5)
        self.cell = nn.GRUCell(5, units)
        self.head = nn.Linear(units, vocab)
        self.steps = steps

    def forward(self, prime):
        h = None
        for t in range(prime.shape[1]):
            h = self.cell(self.embed(prime[:, t]), h)
        sampled = []
        for _ in range(self.steps):
            probs = torch.softmax(self.head(h), -1)
            nxt = torch.multinomial(probs, 1)[:, 0]
            sampled.append(nxt)
            h = self.cell(self.embed(nxt), h)
        return torch.stack(sampled, 1)


class ElmanLM(nn.Module):
    """A 2-layer ReLU Elman network, ``forward(x, h0)``."""

    def __init__(self, feats=3, units=6):
        super().__init__()
        self.rnn = nn.RNN(feats, units, num_layers=2, nonlinearity="relu", batch_first=True)
        self.out = nn.Linear(units, 1)

    def forward(self, x, h0):
        y, _ = self.rnn(x, h0)
        return self.out(y)


class Float64Tagger(nn.Module):
    """A float64 2-layer BiGRU (scientific code often runs in double precision)."""

    def __init__(self, feats=3, units=5):
        super().__init__()
        self.gru = nn.GRU(
            feats, units, num_layers=2, batch_first=True, bidirectional=True, dtype=torch.float64
        )
        self.head = nn.Linear(2 * units, 2, dtype=torch.float64)

    def forward(self, x):
        return self.head(self.gru(x)[0])


class ProjectedLM(nn.Module):
    """An LSTM with ``proj_size`` (LSTMP, as in large-vocabulary speech models)."""

    def __init__(self, feats=4, units=8, proj=3):
        super().__init__()
        self.lstm = nn.LSTM(feats, units, proj_size=proj, batch_first=True)

    def forward(self, x):
        return self.lstm(x)[0]


@dataclass
class SeriesBatch:
    """One batch of a forecasting library: a dataclass, some fields optional."""

    past: torch.Tensor
    static: torch.Tensor | None = None
    future_covariates: torch.Tensor | None = None


class DataclassForecaster(nn.Module):
    """``forward(self, batch)`` taking one dataclass, with ``None`` entries."""

    def __init__(self, feats=2, static=3, units=6):
        super().__init__()
        self.static_to_h = nn.Linear(static, units)
        self.lstm = nn.LSTM(feats, units, batch_first=True)

    def forward(self, batch: SeriesBatch):
        h0 = torch.tanh(self.static_to_h(batch.static))[None]
        out, _ = self.lstm(batch.past, (h0, torch.zeros_like(h0)))
        return out[:, -1]


class DictModel(nn.Module):
    """``forward(self, batch)`` taking one dict positionally."""

    def __init__(self, feats=3, units=5):
        super().__init__()
        self.gru = nn.GRU(feats, units, batch_first=True)

    def forward(self, batch):
        x = batch["x"] if batch.get("scale") is None else batch["x"] * batch["scale"]
        return self.gru(x)[0]


class ListStateLSTM(nn.Module):
    """An LSTM whose carried state travels as a *list* ``[h, c]``."""

    def __init__(self, feats=3, units=6):
        super().__init__()
        self.lstm = nn.LSTM(feats, units, batch_first=True)

    def forward(self, x, state):
        h, c = state
        out, (h, c) = self.lstm(x, (h, c))
        return out, [h, c]


class Forecaster(nn.Module):
    """DeepAR-style: one LSTM reads the context window, then is called step by step on its own forecasts."""

    def __init__(self, units=6, horizon=4):
        super().__init__()
        self.rnn = nn.LSTM(1, units, batch_first=True)
        self.proj = nn.Linear(units, 1)
        self.horizon = horizon

    def forward(self, context):  # (B, T, 1)
        out, state = self.rnn(context)
        y = self.proj(out[:, -1:])
        preds = [y]
        for _ in range(self.horizon - 1):
            out, state = self.rnn(y, state)
            y = self.proj(out)
            preds.append(y)
        return torch.cat(preds, 1)


class PackingLSTM(nn.LSTM):
    """An ``nn.LSTM`` subclass that packs inside its own forward (given the lengths)."""

    def forward(self, x, hx=None, lengths=None):
        if lengths is None:
            return super().forward(x, hx)
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, hx = super().forward(packed, hx)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
        return out, hx


class PackedEncoderDecoder(nn.Module):
    """One packing LSTM: an encoder call of variable length, then decoder steps from its state."""

    def __init__(self, feats=3, units=5, horizon=3):
        super().__init__()
        self.rnn = PackingLSTM(feats, units, batch_first=True)
        self.horizon = horizon

    def forward(self, x, lengths, future):
        _, state = self.rnn(x, lengths=lengths)
        out, _ = self.rnn(future, state)
        return out
