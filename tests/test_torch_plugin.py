"""The torch plugin through rnndyn: hooks, loading, batching, side effects, errors."""

from __future__ import annotations

import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch
from _torch_fixtures import _one_thread  # noqa: F401  (autouse fixture)
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

import rnndyn
from rnndyn.adapter import Adapter, Batch
from rnndyn.errors import PluginError, RnndynError
from rnndyn_torch import TorchAdapter, load_rnn, save_rnn
from rnndyn_torch import plugin as torch_plugin


class Encoder(nn.Module):
    """One-hot -> bidirectional 2-layer LSTM (with dropout) -> dense, like the study."""

    def __init__(self, vocab: int = 6) -> None:
        super().__init__()
        self.vocab = vocab
        self.encoder = nn.LSTM(vocab, 8, num_layers=2, dropout=0.3, batch_first=True, bidirectional=True)
        self.drop = nn.Dropout(0.5)
        self.head = nn.Linear(16, 3)

    def forward(self, chars):
        out, _ = self.encoder(nn.functional.one_hot(chars, self.vocab).float())
        return self.head(self.drop(out))


def _chars(n=10, T=7, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).integers(0, 6, size=(n, T)))


pytestmark = pytest.mark.filterwarnings("ignore:LSTM with projections:UserWarning")


# -------------------------------------------------------------------- plugin
def test_rnndyn_claim_model():
    model = Encoder()
    adapter = torch_plugin.rnndyn_claim_model(model)
    assert isinstance(adapter, TorchAdapter) and isinstance(adapter, Adapter)
    assert adapter.framework == "torch"
    assert torch_plugin.rnndyn_claim_model(object()) is None
    assert torch_plugin.rnndyn_claim_model(np.zeros(3)) is None
    assert isinstance(rnndyn.plugins.find_adapter(model), TorchAdapter)


def test_importing_the_plugin_does_not_import_torch():
    code = (
        "import sys, rnndyn, rnndyn_torch, rnndyn_torch.plugin as p; "
        "assert p.rnndyn_claim_model(object()) is None; "
        "assert p.rnndyn_load_model('/nonexistent', None) is None; "
        "assert p.rnndyn_load_model('/nonexistent', 'keras') is None; "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_layers_names_and_types():
    class Mixed(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = nn.GRU(3, 4, num_layers=2, bidirectional=True)
            self.blocks = nn.ModuleList([nn.RNN(8, 5), nn.Linear(5, 5)])
            self.dec = nn.LSTMCell(5, 6)

    infos = TorchAdapter(Mixed()).layers()
    got = [(i.name, i.type, i.states, i.directions, i.n_units) for i in infos]
    assert got == [
        ("enc", "GRU", ("h", "r", "z", "n"), ("forward", "backward"), 4),
        ("enc.l0", "GRU", ("h", "r", "z", "n"), ("forward", "backward"), 4),
        ("enc.l1", "GRU", ("h", "r", "z", "n"), ("forward", "backward"), 4),
        ("blocks.0", "RNN", ("h",), ("forward",), 5),
        ("dec", "LSTMCell", ("h", "c", "i", "f", "g", "o"), ("forward",), 6),
    ]
    assert TorchAdapter(nn.Linear(2, 2)).layers() == []


def test_rnndyn_load_model_roundtrip_and_refusals(tmp_path):
    torch.manual_seed(0)
    lstm = nn.LSTM(3, 5, num_layers=2, proj_size=2, bidirectional=True, batch_first=True)
    path = tmp_path / "lstm.safetensors"
    save_rnn(lstm, path)
    state = torch.random.get_rng_state()
    loaded = rnndyn.plugins.load_model(path)
    assert torch.equal(state, torch.random.get_rng_state())
    assert isinstance(loaded, nn.LSTM) and not loaded.training and loaded.proj_size == 2
    x = torch.randn(2, 4, 3)
    with torch.no_grad():
        assert torch.equal(lstm.eval()(x)[0], loaded(x)[0])
    assert torch_plugin.rnndyn_load_model(str(path), "keras") is None
    assert isinstance(load_rnn(path), nn.LSTM)
    with pytest.raises(RnndynError, match="save_rnn"):
        save_rnn(Encoder(), tmp_path / "enc.safetensors")


class _Boom:
    """Unpickling this would create a file: loading must never unpickle."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickled_files_are_never_unpickled(tmp_path):
    marker = tmp_path / "executed"
    path = tmp_path / "model.pt"
    with open(path, "wb") as fh:
        pickle.dump(_Boom(str(marker)), fh)
    assert torch_plugin.rnndyn_load_model(str(path), None) is None
    with pytest.raises(RnndynError, match="weights_only"):
        torch_plugin.rnndyn_load_model(str(path), "torch")
    with pytest.raises(PluginError):
        rnndyn.plugins.load_model(path)
    assert not marker.exists()
    # a plain state dict in safetensors (not ours) is declined the same way
    from safetensors.torch import save_file

    other = tmp_path / "weights.safetensors"
    save_file({"w": torch.zeros(2)}, str(other))
    assert torch_plugin.rnndyn_load_model(str(other), None) is None
    with pytest.raises(RnndynError, match="rnndyn_torch.save_rnn"):
        torch_plugin.rnndyn_load_model(str(other), "torch")


# ---------------------------------------------------------- through capture
def test_capture_end_to_end_matches_module_output():
    torch.manual_seed(1)
    model = Encoder()
    chars = _chars()
    traj = rnndyn.capture(model, chars, layer="encoder", state=["h", "c", "o"], batch_size=3, progress=False)
    assert traj.shape == (10, 7, 48) and isinstance(traj.states, np.ndarray)
    with torch.no_grad():
        model.eval()
        want, (h_n, c_n) = model.encoder(nn.functional.one_hot(chars, 6).float())
    np.testing.assert_allclose(traj.select(state="h").states, want.numpy(), atol=1e-6)
    c = traj.select(state="c")
    np.testing.assert_allclose(c.select(direction="forward").states[:, -1], c_n[2], atol=1e-5)
    np.testing.assert_allclose(c.select(direction="backward").states[:, 0], c_n[3], atol=1e-5)
    one = rnndyn.capture(model, chars, layer="encoder", state=["h", "c", "o"], batch_size=100, progress=False)
    np.testing.assert_allclose(traj.states, one.states, atol=1e-6)
    both = rnndyn.capture(model, chars, layer=["encoder.l0", "encoder.l1"], state="h", progress=False)
    # h alone is the fused module's output; with c it is rnndyn's recurrence: equal to rounding
    np.testing.assert_allclose(
        both.select(layer="encoder.l1").states, traj.select(state="h").states, atol=1e-6
    )


def test_capture_packed_input_splits_into_equal_step_batches():
    torch.manual_seed(2)
    gru = nn.GRU(3, 4, bidirectional=True, batch_first=True)
    lengths = torch.tensor([2, 7, 1, 5, 3, 3, 6])
    x = torch.randn(7, 7, 3)
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    small = rnndyn.capture(gru, packed, state=["h", "z"], batch_size=2, progress=False)
    whole = rnndyn.capture(gru, packed, state=["h", "z"], batch_size=50, progress=False)
    assert small.masked and small.lengths.tolist() == lengths.tolist()
    np.testing.assert_allclose(small.states, whole.states, atol=1e-6)
    for i, n in enumerate(lengths.tolist()):  # each sequence alone, no padding at all
        alone = rnndyn.capture(gru, x[i : i + 1, :n], state=["h", "z"], progress=False)
        np.testing.assert_allclose(small.states[i, :n], alone.states[0], atol=1e-5)
    with pytest.raises(RnndynError, match="disagree with the PackedSequence"):
        rnndyn.capture(gru, packed, lengths=[7] * 7, batch_size=3, progress=False)


def test_time_major_model_is_fed_as_pytorch_takes_it():
    """A bare time-major module gets (steps, sequences, features), as ``lstm(x)`` does."""
    torch.manual_seed(3)
    lstm = nn.LSTM(3, 4)  # batch_first=False
    x = torch.randn(6, 5, 3)  # 6 steps of 5 sequences, the PyTorch way
    traj = rnndyn.capture(lstm, x, state="h", batch_size=2, progress=False)  # batches cut along axis 1
    with torch.no_grad():
        want = lstm(x)[0].transpose(0, 1)
    assert traj.shape == (5, 6, 4)
    np.testing.assert_allclose(traj.states, want.numpy(), atol=1e-6)
    xn = x.numpy().astype(np.float64)
    traj64 = rnndyn.capture(lstm, xn, state="h", progress=False)
    np.testing.assert_allclose(traj64.states, want.numpy(), atol=1e-6)


def test_capture_device_returns_tensors_and_lengths_are_kept():
    model = Encoder()
    traj = rnndyn.capture(
        model, _chars(4), layer="encoder.l0", device="cpu", lengths=[7, 3, 5, 1], progress=False
    )
    assert isinstance(traj.states, torch.Tensor)
    assert traj.lengths.tolist() == [7, 3, 5, 1] and not traj.masked


# -------------------------------------------------------------- side effects
def _hooks(model):
    return [(len(m._forward_hooks), len(m._forward_pre_hooks)) for m in model.modules()]


def test_no_side_effects():
    torch.manual_seed(4)
    model = Encoder().train()
    model.head.eval()  # a mixed state must come back as it was
    seen = []
    model.encoder.register_forward_hook(lambda m, a, o: seen.append(1))  # the user's own hook
    flags = [m.training for m in model.modules()]
    hooks = _hooks(model)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    chars = _chars()
    model.eval()
    with torch.no_grad():
        out_before = model(chars)
    model.train()
    model.head.eval()
    rng = torch.random.get_rng_state()
    seen.clear()
    adapter = TorchAdapter(model)
    gen = adapter.capture(
        [Batch(chars[:5], None, 0), Batch(chars[5:], None, 1)], [("encoder.l0", "c"), ("encoder", "h")]
    )
    next(gen)
    assert torch.is_grad_enabled() and not torch.is_inference_mode_enabled()
    assert [m.training for m in model.modules()] == flags  # nothing leaks across yields
    assert _hooks(model) == hooks
    list(gen)
    assert [m.training for m in model.modules()] == flags
    assert _hooks(model) == hooks and len(seen) == 2
    assert torch.equal(rng, torch.random.get_rng_state())
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    model.eval()
    with torch.no_grad():
        assert torch.equal(out_before, model(chars))


def test_failing_batch_restores_the_model():
    class Fails(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.RNN(2, 3, batch_first=True)
            self.calls = 0

        def forward(self, x):
            out = self.rnn(x)[0]
            self.calls += 1
            if self.calls == 2:
                raise ValueError("bad batch")
            return out

    model = Fails().train()
    hooks = _hooks(model)
    with pytest.raises(ValueError, match="bad batch"):
        list(
            TorchAdapter(model).capture(
                [Batch(torch.zeros(2, 3, 2), None, 0), Batch(torch.zeros(2, 3, 2), None, 1)], [("rnn", "h")]
            )
        )
    assert model.training and model.rnn.training and _hooks(model) == hooks
    model.calls = 0
    with pytest.raises(RnndynError, match="batch 1"):
        rnndyn.capture(model, torch.zeros(4, 3, 2), batch_size=2, progress=False)
    assert model.training and _hooks(model) == hooks
    # a shape error inside torch, through the core
    with pytest.raises(RnndynError, match="batch 0"):
        rnndyn.capture(model, torch.zeros(4, 3, 5), progress=False)
    assert model.training and _hooks(model) == hooks


# -------------------------------------------------------------------- errors
def test_bad_targets():
    model = Encoder()
    with pytest.raises(PluginError, match="'encoder' .LSTM"):
        rnndyn.capture(model, _chars(), layer="head", progress=False)
    gru = nn.GRU(2, 3)
    with pytest.raises(PluginError, match="'h', 'r', 'z', 'n'"):
        rnndyn.capture(gru, torch.zeros(2, 3, 2), state="c", progress=False)
    with pytest.raises(PluginError, match="not a recurrent layer"):
        list(TorchAdapter(model).capture([Batch(_chars(), None, 0)], [("head", "h")]))
    with pytest.raises(PluginError, match="available states"):
        list(TorchAdapter(gru).capture([Batch(torch.zeros(2, 3, 2), None, 0)], [("gru", "c")]))


def test_layer_not_called_and_mismatched_layers():
    class TwoPaths(nn.Module):
        def __init__(self):
            super().__init__()
            self.long = nn.GRU(2, 3, batch_first=True)
            self.short = nn.GRU(2, 3, batch_first=True)
            self.unused = nn.LSTM(2, 3)

        def forward(self, x):
            return self.long(x)[0], self.short(x[:, :2])[0]

    model = TwoPaths()
    x = torch.zeros(2, 5, 2)
    with pytest.raises(RnndynError, match="'unused' .LSTM. was not called"):
        rnndyn.capture(model, x, layer="unused", progress=False)
    with pytest.raises(RnndynError, match="cannot be captured together"):
        rnndyn.capture(model, x, layer=["long", "short"], progress=False)
    assert rnndyn.capture(model, x, layer="short", progress=False).n_steps == 2


def test_cell_with_changing_batch_size():
    class Shrinks(nn.Module):
        def __init__(self):
            super().__init__()
            self.cell = nn.GRUCell(2, 3)

        def forward(self, x):
            h = self.cell(x[:, 0])
            return self.cell(x[:1, 1], h[:1])

    with pytest.raises(RnndynError, match="batch size 3 and then 1"):
        rnndyn.capture(Shrinks(), torch.zeros(3, 2, 2), progress=False)


def test_compiled_wrapper_is_unwrapped():
    lstm = nn.LSTM(2, 3, batch_first=True)

    class Wrapper(nn.Module):  # stands in for torch.compile's OptimizedModule
        def __init__(self):
            super().__init__()
            self._orig_mod = lstm

    adapter = TorchAdapter(Wrapper())
    assert adapter.model is lstm and [i.name for i in adapter.layers()] == ["lstm"]


def test_packed_batch_padding_is_never_read():
    torch.manual_seed(5)
    lstm = nn.LSTM(2, 3, bidirectional=True, batch_first=True)
    x = torch.randn(3, 6, 2)
    lengths = torch.tensor([6, 2, 4])
    y = x.clone()
    y[1, 2:] = 1e3
    y[2, 4:] = -1e3
    a, b = (
        rnndyn.capture(
            lstm,
            pack_padded_sequence(v, lengths, batch_first=True, enforce_sorted=False),
            state=["h", "c", "f"],
            progress=False,
        )
        for v in (x, y)
    )
    np.testing.assert_array_equal(a.states, b.states)
