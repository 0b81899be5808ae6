"""The shipped adapters and the tutorial plugin pass rnndyn.testing.check_adapter.

PyTorch and the tutorial's NumPy plugin run here; Keras fixes its backend when
first imported, so its case runs in a fresh interpreter (TensorFlow backend),
as ``tests/test_keras_adapter.py`` does.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest

from rnndyn.testing import check_adapter

ROOT = Path(__file__).resolve().parents[1]


def test_torch_lstm_and_gru_bidirectional():
    torch = pytest.importorskip("torch")
    from _zoo_reference import torch_module
    from torch import nn

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = nn.LSTM(3, 4, batch_first=True, bidirectional=True)
            self.gru = nn.GRU(8, 5, batch_first=True, bidirectional=True)

        def forward(self, x):
            return self.gru(self.lstm(x)[0])[0]

    torch.manual_seed(0)
    model = Net().train()  # a training model: the capture must put the flag back
    x = torch.randn(5, 7, 3)

    def reference(model, x):
        (lstm,), _, _ = torch_module(model.lstm, x)
        (gru,), _, _ = torch_module(model.gru, lstm["h"], batch_first=True)
        return {**{("lstm", k): v for k, v in lstm.items()}, **{("gru", k): v for k, v in gru.items()}}

    check_adapter(model, x, reference=reference, lengths=[7, 3, 1, 7, 5], device=torch.device("cpu"))
    assert model.training and model.lstm.training


def test_the_tutorial_plugin():
    from rnndyn_numpyrnn import NumpyRNN

    model = NumpyRNN.random(n_inputs=3, n_units=4, seed=2, name="elman")
    x = np.random.default_rng(0).normal(size=(6, 5, 3))
    check_adapter(model, x, reference={("elman", "h"): model.forward(x)}, lengths=[5, 1, 2, 5, 4, 3])


KERAS = textwrap.dedent(
    """
    import numpy as np
    import keras
    from _keras_reference import lstm
    from rnndyn.testing import check_adapter

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((6, 3)), keras.layers.LSTM(4, return_sequences=True, name="lstm"), keras.layers.Dense(2)]
    )
    x = np.random.default_rng(0).normal(size=(5, 6, 3)).astype("float32")

    def reference(model, x):
        ref = lstm(x, *model.get_layer("lstm").get_weights())
        return {("lstm", "h"): ref["h"], ("lstm", "c"): ref["c"]}

    check_adapter(model, x, reference=reference, lengths=[6, 2, 1, 6, 4], device="cpu:0")
    print("CONTRACT OK")
    """
)


def test_keras_on_tensorflow():
    pytest.importorskip("tensorflow")
    from _keras_subprocess import run_keras_script

    run_keras_script(KERAS, "CONTRACT OK")


def test_flax_lstm_then_gru():
    from flax import nnx
    from test_flax_adapter import _ref

    class Net(nnx.Module):
        def __init__(self) -> None:
            self.enc = nnx.RNN(nnx.LSTMCell(3, 4, rngs=nnx.Rngs(0)))
            self.drop = nnx.Dropout(0.3, rngs=nnx.Rngs(7))  # training mode: RNG counts must come back
            self.dec = nnx.RNN(nnx.GRUCell(4, 5, rngs=nnx.Rngs(1)))

        def __call__(self, x):
            return self.dec(self.drop(self.enc(x)))

    model = Net()
    x = np.random.default_rng(3).normal(size=(5, 6, 3)).astype(np.float32)
    model.train()

    def reference(model, x):
        enc = _ref(model.enc, x)
        dec = _ref(model.dec, enc["h"])  # captured in eval mode: dropout is the identity
        return {**{("enc", k): v for k, v in enc.items()}, **{("dec", k): v for k, v in dec.items()}}

    check_adapter(model, x, reference=reference, device="cpu")
    assert not model.drop.deterministic


def test_flax_scanned_cell():
    from flax import nnx
    from test_flax_adapter import _ref
    from test_flax_scan import Holder, Scanned

    model = Scanned(nnx.LSTMCell(3, 4, rngs=nnx.Rngs(2)), reverse=True)
    x = np.random.default_rng(4).normal(size=(5, 6, 3)).astype(np.float32)

    def reference(model, x):
        return {("cell", k): v for k, v in _ref(Holder(model.cell), x, reverse=True).items()}

    check_adapter(model, x, reference=reference, lengths=[6, 2, 1, 6, 4], device="cpu")
