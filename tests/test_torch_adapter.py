"""TorchAdapter states against independent references.

The reference runs every layer, direction, sequence and step one at a time
(``nn.LSTMCell`` / ``nn.GRUCell`` / ``nn.RNNCell`` copied from the module's
weights, in float64; gates by their textbook formulas), and the module's own
final states ``(h_n, c_n)`` are checked too.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _torch_fixtures import _one_thread  # noqa: F401  (autouse fixture)
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from rnndyn.adapter import Batch
from rnndyn_torch import TorchAdapter

ATOL = 1e-5
STATES = {nn.LSTM: ("h", "c", "i", "f", "g", "o"), nn.GRU: ("h", "r", "z", "n"), nn.RNN: ("h",)}


pytestmark = pytest.mark.filterwarnings("ignore:LSTM with projections:UserWarning")


# ----------------------------------------------------------------- reference
def _cell(module: nn.Module, k: int, d: int) -> nn.Module:
    sfx = f"_l{k}" + ("_reverse" if d else "")
    w_ih = getattr(module, "weight_ih" + sfx).detach().double()
    H = module.hidden_size
    if isinstance(module, nn.LSTM):
        cell = nn.LSTMCell(w_ih.shape[1], H, bias=module.bias)
    elif isinstance(module, nn.GRU):
        cell = nn.GRUCell(w_ih.shape[1], H, bias=module.bias)
    else:
        cell = nn.RNNCell(w_ih.shape[1], H, bias=module.bias, nonlinearity=module.nonlinearity)
    cell = cell.double()
    if getattr(module, "proj_size", 0):
        return cell  # the projected step is done by hand below
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            if hasattr(module, name + sfx):
                getattr(cell, name).copy_(getattr(module, name + sfx))
    return cell


def _w(module: nn.Module, name: str, k: int, d: int) -> torch.Tensor | None:
    t = getattr(module, f"{name}_l{k}" + ("_reverse" if d else ""), None)
    return None if t is None else t.detach().double()


@torch.no_grad()
def reference(module, x, *, lengths=None, hx=None):
    """``{(layer, state, direction): (B, T, units)}``, input order, zeros on padding.

    ``x`` is ``(B, T, I)``; ``lengths`` given = packed (each sequence runs over
    its real steps only); ``hx`` as the module takes it.
    """
    x = x.detach().double()
    B, T, _ = x.shape
    D = 2 if module.bidirectional else 1
    H = module.hidden_size
    P = getattr(module, "proj_size", 0) or H
    is_lstm = isinstance(module, nn.LSTM)
    if hx is None:
        h0 = torch.zeros(module.num_layers * D, B, P, dtype=torch.float64)
        c0 = torch.zeros(module.num_layers * D, B, H, dtype=torch.float64)
    elif is_lstm:
        h0, c0 = (t.detach().double() for t in hx)
    else:
        h0, c0 = hx.detach().double(), None
    out: dict = {}
    layer_in = x
    for k in range(module.num_layers):
        nxt = torch.zeros(B, T, D * P, dtype=torch.float64)
        for d in range(D):
            cell = _cell(module, k, d)
            w = {n: _w(module, n, k, d) for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
            w_hr = _w(module, "weight_hr", k, d)
            rec = {
                s: torch.zeros(B, T, P if s == "h" else H, dtype=torch.float64) for s in STATES[type(module)]
            }
            for b in range(B):
                n = T if lengths is None else int(lengths[b])
                h = h0[k * D + d, b][None]
                c = c0[k * D + d, b][None] if is_lstm else None
                for t in range(n) if d == 0 else range(n - 1, -1, -1):
                    xt = layer_in[b, t][None]
                    gx = xt @ w["weight_ih"].T + (0 if w["bias_ih"] is None else w["bias_ih"])
                    gh = h @ w["weight_hh"].T + (0 if w["bias_hh"] is None else w["bias_hh"])
                    if is_lstm:
                        i, f, g, o = (gx + gh).chunk(4, dim=1)
                        i, f, g, o = i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()
                        if w_hr is None:
                            h_new, c_new = cell(xt, (h, c))
                            c_hand = f * c + i * g
                            assert torch.allclose(c_new, c_hand, atol=1e-12)
                        else:
                            c_new = f * c + i * g
                            h_new = (o * c_new.tanh()) @ w_hr.T
                        for s, v in zip("ifgo", (i, f, g, o), strict=True):
                            rec[s][b, t] = v[0]
                        rec["c"][b, t] = c_new[0]
                        c = c_new
                    elif isinstance(module, nn.GRU):
                        r = (gx[:, :H] + gh[:, :H]).sigmoid()
                        z = (gx[:, H : 2 * H] + gh[:, H : 2 * H]).sigmoid()
                        nn_ = (gx[:, 2 * H :] + r * gh[:, 2 * H :]).tanh()
                        h_new = cell(xt, h)
                        assert torch.allclose(h_new, (1 - z) * nn_ + z * h, atol=1e-12)
                        rec["r"][b, t], rec["z"][b, t], rec["n"][b, t] = r[0], z[0], nn_[0]
                    else:
                        h_new = cell(xt, h)
                    rec["h"][b, t] = h_new[0]
                    h = h_new
            for s, v in rec.items():
                out[(k, s, d)] = v
            nxt[:, :, d * P : (d + 1) * P] = rec["h"]
        layer_in = nxt
    return out


def _capture_all(module, data, *, lengths=None, device=None):
    adapter = TorchAdapter(module)
    targets = [(info.name, s) for info in adapter.layers() for s in info.states]
    batch = Batch(data, None if lengths is None else np.asarray(lengths), 0)
    (traj,) = list(adapter.capture([batch], targets, device=device))
    return adapter, traj


def _layer_index(module, name: str) -> int:
    return int(name.rsplit(".l", 1)[1]) if ".l" in name else module.num_layers - 1


def _check_against_reference(module, traj, ref, root: str):
    dirs = ("forward", "backward")
    seen = 0
    for name in traj.units["layer"].unique():
        k = _layer_index(module, name)
        for s in traj.units.query("layer == @name")["state"].unique():
            for d, dname in enumerate(dirs[: 2 if module.bidirectional else 1]):
                got = np.asarray(traj.select(layer=name, state=s, direction=dname).states)
                want = ref[(k, s, d)].numpy()
                assert got.shape == want.shape, (name, s, dname)
                np.testing.assert_allclose(got, want, atol=ATOL, err_msg=f"{name}/{s}/{dname}")
                seen += 1
    assert seen > 0


# --------------------------------------------------------------- the matrix
CASES = [
    (cls, bf, bi, nl, proj)
    for cls in (nn.LSTM, nn.GRU, nn.RNN)
    for bf in (True, False)
    for bi in (False, True)
    for nl in (1, 2)
    for proj in ((0, 3) if cls is nn.LSTM else (0,))
]


class _TimeMajor(nn.Module):
    """A model that feeds its recurrent module (steps, batch, features) itself."""

    def __init__(self, rnn: nn.Module) -> None:
        super().__init__()
        self.rnn = rnn

    def forward(self, x):
        return self.rnn(x)[0]


@pytest.mark.parametrize("cls,batch_first,bidirectional,num_layers,proj", CASES)
def test_every_state_matches_cell_loop(cls, batch_first, bidirectional, num_layers, proj):
    torch.manual_seed(CASES.index((cls, batch_first, bidirectional, num_layers, proj)))
    kw = {"proj_size": proj} if proj else {}
    module = cls(5, 8, num_layers=num_layers, batch_first=batch_first, bidirectional=bidirectional, **kw)
    x = torch.randn(3, 9, 5)
    data = x if batch_first else x.transpose(0, 1)
    # a root module takes sequences along axis 0; a time-major one inside a model is fed by it
    model = module if batch_first else _TimeMajor(module)
    adapter, traj = _capture_all(model, data)
    assert traj.shape[:2] == (3, 9) and not traj.masked
    assert traj.lengths.tolist() == [9, 9, 9]
    _check_against_reference(module, traj, reference(module, x), "")
    with torch.no_grad():
        _, hn = module(data)
    h_n, c_n = hn if isinstance(hn, tuple) else (hn, None)
    D = 2 if bidirectional else 1
    for k in range(num_layers):
        name = f"{adapter.layers()[0].name}.l{k}" if num_layers > 1 else adapter.layers()[0].name
        h = traj.select(layer=name, state="h")
        fwd = np.asarray(h.select(direction="forward").states)[:, -1]
        np.testing.assert_allclose(fwd, h_n[k * D].numpy(), atol=ATOL)
        if bidirectional:
            bwd = np.asarray(h.select(direction="backward").states)[:, 0]
            np.testing.assert_allclose(bwd, h_n[k * D + 1].numpy(), atol=ATOL)
        if c_n is not None:
            c = traj.select(layer=name, state="c")
            np.testing.assert_allclose(
                np.asarray(c.select(direction="forward").states)[:, -1], c_n[k * D], atol=ATOL
            )
            if bidirectional:
                np.testing.assert_allclose(
                    np.asarray(c.select(direction="backward").states)[:, 0],
                    c_n[k * D + 1],
                    atol=ATOL,
                )


def test_units_table_and_layer_info_with_projection():
    module = nn.LSTM(4, 6, num_layers=2, proj_size=2, bidirectional=True, batch_first=True)
    adapter = TorchAdapter(module)
    infos = {i.name: i for i in adapter.layers()}
    assert list(infos) == ["lstm", "lstm.l0", "lstm.l1"]
    assert infos["lstm.l1"].n_units == 2 and infos["lstm"].type == "LSTM"
    assert infos["lstm"].directions == ("forward", "backward")
    (traj,) = adapter.capture([Batch(torch.randn(2, 3, 4), None, 0)], [("lstm", "h"), ("lstm", "c")])
    u = traj.units
    assert traj.n_units == 2 * 2 + 2 * 6
    assert u["state"].tolist() == ["h"] * 4 + ["c"] * 12
    assert u["direction"].tolist()[:4] == ["forward", "forward", "backward", "backward"]
    assert u["index"].tolist()[4:16] == list(range(6)) * 2
    assert set(u["layer"]) == {"lstm"}


def test_module_name_means_top_layer():
    torch.manual_seed(1)
    module = nn.GRU(3, 5, num_layers=3, batch_first=True)
    adapter = TorchAdapter(module)
    x = torch.randn(2, 6, 3)
    b = Batch(x, None, 0)
    (top,) = adapter.capture([b], [("gru", "z")])
    (l2,) = adapter.capture([b], [("gru.l2", "z")])
    (l1,) = adapter.capture([b], [("gru.l1", "z")])
    np.testing.assert_array_equal(top.states, l2.states)
    assert top.units["layer"].iloc[0] == "gru" and l2.units["layer"].iloc[0] == "gru.l2"
    assert not np.allclose(l1.states, l2.states)


# ----------------------------------------------------------- packed batches
@pytest.mark.parametrize("cls", [nn.LSTM, nn.GRU, nn.RNN])
@pytest.mark.parametrize("batch_first", [True, False])
def test_packed_variable_lengths(cls, batch_first):
    torch.manual_seed(7)
    kw = {"proj_size": 3} if cls is nn.LSTM and batch_first else {}
    module = cls(4, 6, num_layers=2, bidirectional=True, batch_first=batch_first, **kw)
    lengths = [7, 1, 4, 7, 2]
    x = torch.randn(5, 7, 4)
    for b, n in enumerate(lengths):
        x[b, n:] = 99.0  # padding must never be read
    data = x if batch_first else x.transpose(0, 1)
    packed = pack_padded_sequence(data, torch.tensor(lengths), batch_first=batch_first, enforce_sorted=False)
    adapter, traj = _capture_all(module, packed)
    assert traj.masked and traj.lengths.tolist() == lengths
    assert traj.n_steps == 7
    ref = reference(module, x, lengths=lengths)
    _check_against_reference(module, traj, ref, "")
    pad = ~traj.mask
    assert np.all(np.asarray(traj.states)[pad] == 0.0)
    with torch.no_grad():
        _, hn = module(packed)
    h_n = hn[0] if isinstance(hn, tuple) else hn
    h = traj.select(layer=f"{cls.__name__.lower()}.l1", state="h")
    fwd = np.asarray(h.select(direction="forward").states)
    last = fwd[np.arange(5), np.asarray(lengths) - 1]
    np.testing.assert_allclose(last, h_n[2].numpy(), atol=ATOL)
    bwd = np.asarray(h.select(direction="backward").states)[:, 0]
    np.testing.assert_allclose(bwd, h_n[3].numpy(), atol=ATOL)
    if cls is nn.LSTM:
        c = traj.select(layer="lstm.l0", state="c")
        cb = np.asarray(c.select(direction="backward").states)[:, 0]
        np.testing.assert_allclose(cb, hn[1][1].numpy(), atol=ATOL)


class _WithInitialState(nn.Module):
    def __init__(self, rnn: nn.RNNBase, hx) -> None:
        super().__init__()
        self.rnn, self.hx = rnn, hx

    def forward(self, x):
        return self.rnn(x, self.hx)[0]


@pytest.mark.parametrize("cls", [nn.LSTM, nn.GRU])
def test_initial_state_is_used(cls):
    torch.manual_seed(3)
    kw = {"proj_size": 2} if cls is nn.LSTM else {}
    rnn = cls(3, 5, num_layers=2, bidirectional=True, batch_first=True, **kw)
    P = 2 if cls is nn.LSTM else 5
    h0 = torch.randn(4, 3, P)
    hx = (h0, torch.randn(4, 3, 5)) if cls is nn.LSTM else h0
    model = _WithInitialState(rnn, hx)
    x = torch.randn(3, 6, 3)
    _, traj = _capture_all(model, x)
    _check_against_reference(rnn, traj, reference(rnn, x, hx=hx), "rnn")
    lengths = [6, 2, 4]
    packed = pack_padded_sequence(x, torch.tensor(lengths), batch_first=True, enforce_sorted=False)
    _, traj = _capture_all(model, packed)
    _check_against_reference(rnn, traj, reference(rnn, x, lengths=lengths, hx=hx), "rnn")


# ------------------------------------------------------------ cells in loops
class _Loop(nn.Module):
    """A decoder-style loop: one cell step per input position."""

    def __init__(self, cell: nn.Module) -> None:
        super().__init__()
        self.inp = nn.Linear(3, 4)
        self.cell = cell

    def forward(self, x):
        state = None
        outs = []
        for t in range(x.shape[1]):
            state = self.cell(self.inp(x[:, t]), state)
            outs.append(state[0] if isinstance(state, tuple) else state)
        return torch.stack(outs, 1)


@pytest.mark.parametrize("cls", [nn.LSTMCell, nn.GRUCell, nn.RNNCell])
def test_cell_in_python_loop(cls):
    torch.manual_seed(11)
    cell = cls(4, 6)
    model = _Loop(cell)
    x = torch.randn(3, 8, 3)
    adapter, traj = _capture_all(model, x)
    (info,) = adapter.layers()
    assert (info.name, info.type, info.directions) == ("cell", cls.__name__, ("forward",))
    fused = {nn.LSTMCell: nn.LSTM, nn.GRUCell: nn.GRU, nn.RNNCell: nn.RNN}[cls](4, 6, batch_first=True)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(fused, name + "_l0").copy_(getattr(cell, name))
        ref = reference(fused, model.inp(x))
    assert traj.shape == (3, 8, 6 * len(info.states))
    for s in info.states:
        np.testing.assert_allclose(traj.select(state=s).states, ref[(0, s, 0)].numpy(), atol=ATOL)


def test_fused_module_called_step_by_step_joins_calls():
    torch.manual_seed(5)
    lstm = nn.LSTM(3, 4, batch_first=True)

    class Stepper(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = lstm

        def forward(self, x):
            hx = None
            for t in range(x.shape[1]):
                _, hx = self.lstm(x[:, t : t + 1], hx)
            return hx[0]

    x = torch.randn(2, 5, 3)
    _, traj = _capture_all(Stepper(), x)
    _check_against_reference(lstm, traj, reference(lstm, x), "lstm")


def test_unbatched_input_and_numpy_input():
    torch.manual_seed(2)
    gru = nn.GRU(3, 4, bidirectional=True)
    x = torch.randn(6, 3)  # (steps, features), no batch
    _, traj = _capture_all(gru, x)
    assert traj.shape[:2] == (1, 6)
    _check_against_reference(gru, traj, reference(gru, x[None]), "gru")
    lstm = nn.LSTM(3, 4, batch_first=True)
    xn = np.random.default_rng(0).normal(size=(2, 5, 3))  # float64 -> model dtype
    _, traj = _capture_all(lstm, xn)
    ref = reference(lstm, torch.from_numpy(xn).float())
    np.testing.assert_allclose(traj.select(state="c").states, ref[(0, "c", 0)], atol=ATOL)


def test_dropout_model_in_train_mode_is_captured_in_eval():
    torch.manual_seed(4)
    lstm = nn.LSTM(3, 5, num_layers=3, dropout=0.5, batch_first=True, bidirectional=True).train()
    x = torch.randn(2, 6, 3)
    _, traj = _capture_all(lstm, x)
    assert lstm.training
    _check_against_reference(lstm, traj, reference(lstm, x), "lstm")


def test_relu_rnn_and_no_bias():
    torch.manual_seed(6)
    for module in (
        nn.RNN(3, 4, nonlinearity="relu", num_layers=2, batch_first=True),
        nn.LSTM(3, 4, bias=False, num_layers=2, bidirectional=True, batch_first=True),
    ):
        x = torch.randn(2, 5, 3)
        _, traj = _capture_all(module, x)
        _check_against_reference(module, traj, reference(module, x), "")


def test_device_keeps_torch_tensors():
    module = nn.LSTM(3, 4, batch_first=True)
    _, traj = _capture_all(module, torch.randn(2, 5, 3), device="cpu")
    assert isinstance(traj.states, torch.Tensor) and traj.states.device.type == "cpu"
    _, ref = _capture_all(module, torch.randn(2, 5, 3).new_zeros(2, 5, 3))
    assert isinstance(ref.states, np.ndarray)


@pytest.mark.parametrize("cls", [nn.LSTM, nn.GRU, nn.LSTMCell, nn.GRUCell])
def test_chunked_computation_equals_one_chunk(cls, monkeypatch):
    """On CPU the gates run over chunks of sequences; chunk edges must not matter."""
    from rnndyn_torch import _gates

    torch.manual_seed(9)
    lengths = [5, 1, 3, 5, 2, 4, 5]
    x = torch.randn(7, 5, 3)
    if cls in (nn.LSTMCell, nn.GRUCell):
        model, data = _Loop(cls(4, 6)), x
    else:
        model = cls(3, 6, num_layers=2, bidirectional=True, batch_first=True)
        data = pack_padded_sequence(x, torch.tensor(lengths), batch_first=True, enforce_sorted=False)
    _, whole = _capture_all(model, data)
    monkeypatch.setattr(_gates, "CHUNK_BYTES", 1)  # one sequence per chunk
    _, chunked = _capture_all(model, data)
    np.testing.assert_allclose(np.asarray(chunked.states), np.asarray(whole.states), atol=1e-6)
    monkeypatch.setattr(_gates, "CHUNK_BYTES", 3 * 5 * 24 * 4)  # uneven chunks of 3
    _, uneven = _capture_all(model, data)
    np.testing.assert_allclose(np.asarray(uneven.states), np.asarray(whole.states), atol=1e-6)


@pytest.mark.parametrize("cls", [nn.LSTM, nn.GRU])
def test_any_subset_of_states_equals_the_full_capture(cls):
    """Only the gates asked for are computed; each subset must match the full set."""
    torch.manual_seed(12)
    kw = {"proj_size": 3} if cls is nn.LSTM else {}
    module = cls(3, 5, num_layers=2, bidirectional=True, batch_first=True, **kw)
    x = torch.randn(4, 6, 3)
    packed = pack_padded_sequence(x, torch.tensor([6, 2, 5, 1]), batch_first=True, enforce_sorted=False)
    for data in (x, packed):
        _, full = _capture_all(module, data)
        adapter = TorchAdapter(module)
        states = STATES[cls]
        subsets = [[s] for s in states] + [["c", "o"], ["g", "i"], ["f", "c"]] * (cls is nn.LSTM)
        for layer in (f"{cls.__name__.lower()}.l0", cls.__name__.lower()):
            for subset in subsets:
                (got,) = adapter.capture([Batch(data, None, 0)], [(layer, s) for s in subset])
                for s in subset:
                    np.testing.assert_allclose(
                        got.select(state=s).states,
                        full.select(layer=layer, state=s).states,
                        atol=1e-6,
                        err_msg=f"{layer}/{s} from {subset}",
                    )
