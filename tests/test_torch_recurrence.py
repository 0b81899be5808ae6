"""rnndyn's own LSTM recurrence (run instead of a CPU ``nn.LSTM``'s forward
when ``c`` or gates are captured) against independent references: the
float64 cell loop of ``test_torch_adapter``, the module's own outputs and
``(h_n, c_n)``, and the capture that keeps the module's forward
(``own_recurrence = False``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _torch_fixtures import _one_thread  # noqa: F401  (autouse fixture)
from test_torch_adapter import _check_against_reference, _TimeMajor, reference
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

import rnndyn
from rnndyn import iter_capture
from rnndyn.adapter import Batch
from rnndyn_torch import TorchAdapter, _recurrence
from rnndyn_torch._memory import Pool, new_states
from rnndyn_torch._recurrence import Recurrence, own_forwards

ATOL = 1e-5
LSTM_STATES = ("h", "c", "i", "f", "g", "o")

pytestmark = pytest.mark.filterwarnings("ignore:LSTM with projections:UserWarning")


@pytest.fixture
def loops(monkeypatch):
    """Counts the direction loops rnndyn runs (0: the module's own forward ran)."""
    calls = []
    real = _recurrence.lstm_direction_loop

    def spy(*args, **kwargs):
        calls.append(kwargs["reverse"])
        return real(*args, **kwargs)

    monkeypatch.setattr(_recurrence, "lstm_direction_loop", spy)
    return calls


class _Keep(nn.Module):
    """Feeds the LSTM (with an optional initial state) and keeps what it returned."""

    def __init__(self, rnn: nn.LSTM, hx=None) -> None:
        super().__init__()
        self.rnn, self.hx = rnn, hx
        self.seen: list = []

    def forward(self, x):
        out, (h_n, c_n) = self.rnn(x, self.hx)
        self.seen.append((out, h_n, c_n))
        return out


def _targets(adapter: TorchAdapter) -> list[tuple[str, str]]:
    return [(info.name, s) for info in adapter.layers() for s in info.states]


def _capture(model, data, targets, *, own=True):
    adapter = TorchAdapter(model)
    adapter.own_recurrence = own
    (traj,) = list(adapter.capture([Batch(data, None, 0)], targets or _targets(adapter)))
    return traj


CASES = [
    (bf, bi, nl, proj, init)
    for bf in (True, False)
    for bi in (False, True)
    for nl in (1, 2)
    for proj in (0, 3)
    for init in (False, True)
    if not (proj and not bi and init)  # keep the matrix small; every factor still appears
]


@pytest.mark.parametrize("batch_first,bidirectional,num_layers,proj,init", CASES)
def test_own_recurrence_matches_references(loops, batch_first, bidirectional, num_layers, proj, init):
    torch.manual_seed(CASES.index((batch_first, bidirectional, num_layers, proj, init)))
    lstm = nn.LSTM(
        4, 6, num_layers=num_layers, batch_first=batch_first, bidirectional=bidirectional, proj_size=proj
    )
    D, P = 2 if bidirectional else 1, proj or 6
    hx = (torch.randn(num_layers * D, 5, P), torch.randn(num_layers * D, 5, 6)) if init else None
    x = torch.randn(5, 7, 4)
    data = x if batch_first else x.transpose(0, 1)  # a time-major module inside a model
    model = _Keep(lstm, hx)
    targets = _targets(TorchAdapter(model))
    traj = _capture(model, data, targets)
    assert len(loops) == num_layers * D  # every layer and direction ran in rnndyn's loop
    _check_against_reference(lstm, traj, reference(lstm, x, hx=hx), "rnn")
    # what the rest of the model read equals the module's own forward
    ((out, h_n, c_n),) = model.seen
    with torch.no_grad():
        want, (want_h, want_c) = lstm(data, hx)
    assert out.shape == want.shape and out.is_contiguous()
    for got, ref in ((out, want), (h_n, want_h), (c_n, want_c)):
        np.testing.assert_allclose(got.numpy(), ref.numpy(), atol=ATOL)
    # and the capture that keeps the module's forward gives the same states
    kept = _capture(model, data, targets, own=False)
    assert len(loops) == num_layers * D
    np.testing.assert_allclose(traj.states, kept.states, atol=ATOL)
    assert traj.units.equals(kept.units)


def test_h_alone_keeps_the_module_forward(loops):
    torch.manual_seed(1)
    lstm = nn.LSTM(3, 4, num_layers=2, batch_first=True)
    x = torch.randn(2, 5, 3)
    traj = _capture(lstm, x, [("lstm", "h"), ("lstm.l0", "h")])
    assert loops == []
    with torch.no_grad():
        np.testing.assert_array_equal(traj.select(layer="lstm").states, lstm(x)[0].numpy())
    _capture(lstm, x, [("lstm.l0", "f")])
    assert loops == [False, False]  # both layers run: the module's output needs the top one


def test_unbatched_time_major_float64_and_uneven_chunks(monkeypatch):
    torch.manual_seed(2)
    lstm = nn.LSTM(3, 5, num_layers=2, bidirectional=True).double()
    hx = (torch.randn(4, 5, dtype=torch.float64), torch.randn(4, 5, dtype=torch.float64))
    x = torch.randn(6, 3, dtype=torch.float64)  # (steps, features): no batch
    model = _Keep(lstm, hx)
    traj = _capture(model, x, None)
    assert traj.states.dtype == np.float64 and traj.shape[:2] == (1, 6)
    hx_b = (hx[0][:, None], hx[1][:, None])
    _check_against_reference(lstm, traj, reference(lstm, x[None], hx=hx_b), "rnn")
    ((out, h_n, c_n),) = model.seen
    with torch.no_grad():
        want, (want_h, want_c) = lstm(x, hx)
    assert out.shape == want.shape and h_n.shape == want_h.shape == (4, 5)
    np.testing.assert_allclose(out, want, atol=1e-12)
    np.testing.assert_allclose(c_n, want_c, atol=1e-12)
    # a time-major model of 7 sequences, in chunks of 3, 3 and 1 sequences
    xs = torch.randn(7, 4, 3, dtype=torch.float64)
    whole = _capture(_TimeMajor(lstm), xs.transpose(0, 1), None)
    monkeypatch.setattr(_recurrence, "CHUNK_ROWS", 3)
    chunked = _capture(_TimeMajor(lstm), xs.transpose(0, 1), None)
    np.testing.assert_allclose(chunked.states, whole.states, atol=1e-12)
    _check_against_reference(lstm, chunked, reference(lstm, xs), "rnn")


def test_two_lstms_and_a_gru_in_one_pass(loops):
    """Two modules the capture runs itself and one it does not share one result."""

    class Three(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.LSTM(3, 4, batch_first=True, bidirectional=True)
            self.b = nn.LSTM(8, 5, batch_first=True)
            self.gru = nn.GRU(5, 2, batch_first=True)

        def forward(self, x):
            return self.gru(self.b(self.a(x)[0])[0])[0]

    torch.manual_seed(3)
    model = Three()
    x = torch.randn(3, 6, 3)
    targets = [("a", "c"), ("gru", "z"), ("b", "h"), ("b", "i"), ("a", "h"), ("gru", "h")]
    traj = _capture(model, x, targets)
    assert len(loops) == 3
    kept = _capture(model, x, targets, own=False)
    np.testing.assert_allclose(traj.states, kept.states, atol=ATOL)
    with torch.no_grad():
        xa = model.a(x)[0]
        xb = model.b(xa)[0]
    _check_against_reference(model.a, traj.select(layer="a"), reference(model.a, x), "a")
    _check_against_reference(model.b, traj.select(layer="b"), reference(model.b, xa), "b")
    _check_against_reference(model.gru, traj.select(layer="gru"), reference(model.gru, xb), "gru")


class _Stepper(nn.Module):
    def __init__(self, lstm: nn.LSTM) -> None:
        super().__init__()
        self.lstm = lstm

    def forward(self, x):
        hx = None
        for t in range(x.shape[1]):
            _, hx = self.lstm(x[:, t : t + 1], hx)
        return hx[0]


def test_calls_joined_and_declined_calls_fall_back(monkeypatch, loops):
    torch.manual_seed(4)
    lstm = nn.LSTM(3, 4, batch_first=True)
    x = torch.randn(2, 5, 3)
    ref = reference(lstm, x)
    traj = _capture(_Stepper(lstm), x, None)  # five calls, each one step, joined
    assert len(loops) == 5
    _check_against_reference(lstm, traj, ref, "lstm")
    # if the loop declines one call (it does for inputs it cannot run), that call runs
    # the module's forward and the states of every call come from the recorded h
    real = Recurrence._accept
    seen = []

    def every_other(self, x, hx):
        seen.append(1)
        return real(self, x, hx) if len(seen) % 2 else None

    monkeypatch.setattr(Recurrence, "_accept", every_other)
    loops.clear()
    traj = _capture(_Stepper(lstm), x, None)
    assert len(seen) == 5 and len(loops) == 3
    _check_against_reference(lstm, traj, ref, "lstm")


def test_packed_input_runs_the_module_forward(loops):
    torch.manual_seed(5)
    lstm = nn.LSTM(3, 4, batch_first=True, bidirectional=True)
    x = torch.randn(3, 5, 3)
    packed = pack_padded_sequence(x, torch.tensor([5, 2, 4]), batch_first=True, enforce_sorted=False)
    traj = _capture(lstm, packed, None)
    assert loops == [] and traj.masked
    _check_against_reference(lstm, traj, reference(lstm, x, lengths=[5, 2, 4]), "lstm")


def test_forward_is_restored_and_subclasses_keep_theirs(loops):
    torch.manual_seed(6)

    class Fails(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(2, 3, batch_first=True)

        def forward(self, x):
            self.lstm(x)
            raise ValueError("after the LSTM")

    model = Fails()
    with pytest.raises(rnndyn.RnndynError, match="after the LSTM"):
        rnndyn.capture(model, torch.randn(2, 4, 2), layer="lstm", state="c", progress=False)
    assert len(loops) == 1 and "forward" not in vars(model.lstm)

    class Doubled(nn.LSTM):  # a forward of its own: never replaced
        def forward(self, x, hx=None):
            out, state = super().forward(x, hx)
            return out * 2, state

    doubled = Doubled(2, 3, batch_first=True)
    loops.clear()
    x = torch.randn(2, 4, 2)
    traj = rnndyn.capture(doubled, x, state=["h", "c"], progress=False)
    assert loops == [] and "forward" not in vars(doubled)
    with torch.no_grad():  # h is the recurrence's own (what super().forward returned), not the doubled output
        np.testing.assert_array_equal(traj.select(state="h").states, doubled(x)[0].numpy() / 2)

    lstm = nn.LSTM(2, 3)
    mine = lstm.forward
    lstm.forward = mine  # an instance attribute of the user's: kept, and honoured
    _capture(lstm, torch.randn(2, 4, 2), [("lstm", "c")])
    assert loops == [] and vars(lstm)["forward"] is mine


def test_own_forwards_restores_instance_attributes():
    lstm, other = nn.LSTM(2, 3), nn.LSTM(2, 3)
    mine = other.forward
    other.forward = mine
    with pytest.raises(RuntimeError, match="boom"):
        with own_forwards([(0, lstm, {}), (1, other, {})], 0) as owns:
            assert isinstance(vars(lstm)["forward"], Recurrence) and vars(other)["forward"] is owns[1]
            raise RuntimeError("boom")
    assert "forward" not in vars(lstm) and vars(other)["forward"] is mine


def test_new_states_dtypes_and_devices():
    pool = Pool()
    for dtype in (torch.float32, torch.float64, torch.bfloat16):
        for p in (None, pool):
            t = new_states(2, 3, 4, torch.zeros(1, dtype=dtype), p)
            assert t.dtype == dtype and t.shape == (2, 3, 4) and t.device.type == "cpu"
    t = new_states(2, 3, 4, torch.zeros(1), pool)
    t.fill_(1.5)
    assert np.all(t.numpy() == 1.5) and len(pool._arrays) == 2  # float32 reused; no bfloat16


def _address(states) -> int:
    arr = states.numpy() if isinstance(states, torch.Tensor) else states
    return arr.__array_interface__["data"][0]


@pytest.mark.parametrize("cls", [nn.LSTM, nn.GRU])  # rnndyn's loop, and the module's forward
def test_result_memory_is_reused_only_once_dropped(cls):
    torch.manual_seed(7)
    module = cls(3, 4, batch_first=True, bidirectional=True)
    x = torch.randn(24, 5, 3)
    gate = "c" if cls is nn.LSTM else "z"
    kw = dict(state=["h", gate], batch_size=4, progress=False)
    want = rnndyn.capture(module, x, **kw).states  # six batches, each kept and joined
    # a consumer that drops each batch: dropped results are handed out again
    addresses, copies = [], []
    for part in iter_capture(module, x, **kw):
        addresses.append(_address(part.states))
        copies.append(np.array(part.states))
        del part
    assert len(set(addresses)) < len(addresses)
    np.testing.assert_array_equal(np.concatenate(copies), want)
    # anything still held (a view, a Trajectories, a tensor) is never written again
    held, views = [], []
    for j, part in enumerate(iter_capture(module, x, **kw)):
        if j == 0:
            views.append(part.states[1:3])
        else:
            held.append(part)
    np.testing.assert_array_equal(views[0], want[1:3])
    np.testing.assert_array_equal(np.concatenate([p.states for p in held]), want[4:])
    assert len({_address(p.states) for p in held}) == len(held)
    tensors = [p.states for p in iter_capture(module, x, device="cpu", **kw)]
    np.testing.assert_array_equal(torch.cat(tensors).numpy(), want)


def test_pool_hands_out_only_free_arrays():
    pool = Pool()
    a = pool.take((3, 4, 5), torch.float32)
    first = a.__array_interface__["data"][0]
    t = torch.from_numpy(a)[1]  # a view of a tensor made from it
    del a
    b = pool.take((3, 4, 5), torch.float32)
    assert not np.shares_memory(b, t.numpy())  # the view still holds the first one
    v = b[::2]  # a numpy view
    del b, t
    c = pool.take((3, 4, 5), torch.float32)  # the first one is free again
    assert c.__array_interface__["data"][0] == first and not np.shares_memory(c, v)
    assert c.dtype == np.float32 and c.shape == (3, 4, 5)
    d = pool.take((3, 4, 5), torch.float64)
    assert d.dtype == np.float64 and not np.shares_memory(d, c)
    assert len(pool._arrays) == Pool.KEEP


@pytest.mark.parametrize("threads", [2, 3])
def test_threads_run_blocks_of_sequences_alike(threads, monkeypatch):
    """With several torch threads each direction and block of sequences runs on a
    thread of its own (single-threaded in torch, without autograd); same states."""
    import threading

    where = []
    real = _recurrence.lstm_direction_loop

    def spy(*args, **kwargs):
        where.append((threading.current_thread().name, kwargs["rows"], torch.get_num_threads()))
        return real(*args, **kwargs)

    monkeypatch.setattr(_recurrence, "lstm_direction_loop", spy)
    torch.manual_seed(8)
    lstm = nn.LSTM(3, 5, num_layers=2, bidirectional=True, batch_first=True, proj_size=2)
    x = torch.randn(7, 6, 3)
    model = _Keep(lstm)
    one = _capture(model, x, None)
    torch.set_num_threads(threads)
    try:
        where.clear()
        many = _capture(model, x, None)
        assert torch.get_num_threads() == threads
    finally:
        torch.set_num_threads(1)
    blocks = [(0, 7)] if threads == 2 else [(0, 3), (3, 7)]
    assert sorted(r for _, r, _ in where) == sorted(blocks * 4)  # 2 layers x 2 directions
    assert all(name.startswith("rnndyn") and n == 1 for name, _, n in where)
    np.testing.assert_allclose(many.states, one.states, atol=1e-6)
    _check_against_reference(lstm, many, reference(lstm, x), "rnn")
    (_, h1, c1), (_, h2, c2) = model.seen
    np.testing.assert_allclose(h2, h1, atol=1e-6)
    np.testing.assert_allclose(c2, c1, atol=1e-6)


def test_run_tasks_restores_threads_and_raises():
    from rnndyn_torch._recurrence import run_tasks

    torch.set_num_threads(2)
    try:
        got = run_tasks([torch.get_num_threads, torch.is_grad_enabled, lambda: 7], workers=2)
        assert got == [1, False, 7] and torch.get_num_threads() == 2
        with pytest.raises(ZeroDivisionError):
            run_tasks([lambda: 1, lambda: 1 / 0], workers=2)
        assert torch.get_num_threads() == 2
        assert run_tasks([torch.get_num_threads], workers=2) == [2]  # one task: inline
    finally:
        torch.set_num_threads(1)
