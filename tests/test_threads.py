"""Captures of one model object from several threads at once (a Dask worker's thread pool).

Every concurrent capture must give exactly the states the same model gives
when captured alone; captures of one model wait for each other (the core's
per-model lock, :mod:`rnndyn._model_locks`), a capture that fails leaves the
others and the model unharmed, an abandoned ``iter_capture`` does not block
the model forever, and a capture of a model inside a capture of the same
model (``forward=``) is refused with a clear error instead of a deadlock.
Keras fixes its backend at first import: its case runs in a fresh interpreter.
"""

from __future__ import annotations

import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import rnndyn
from rnndyn import RnndynError

ROOT = Path(__file__).resolve().parents[1]

#: (sequences, steps, batch size) of the concurrent jobs: batches of every job interleave
JOBS = [(7, 5, 2), (5, 9, 3), (9, 6, 4), (4, 8, 1), (6, 7, 5), (8, 4, 3)]


def _inputs(n_features: int, dtype: str = "float64") -> list[tuple[np.ndarray, int]]:
    return [
        (np.random.default_rng(k).normal(size=(n, T, n_features)).astype(dtype), bs)
        for k, (n, T, bs) in enumerate(JOBS)
    ]


def _check_concurrent(model, jobs, **kw) -> None:
    """Each job captured alone first, then all of them at once on 4 threads: equal, exactly."""

    def one(job):
        x, bs = job
        return rnndyn.capture(model, x, batch_size=bs, progress=False, **kw)

    reference = [one(job) for job in jobs]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(one, jobs))
    for k, (ref, traj) in enumerate(zip(reference, got, strict=True)):
        assert traj.shape == ref.shape, k
        np.testing.assert_array_equal(np.asarray(traj.states), np.asarray(ref.states), err_msg=f"job {k}")
        np.testing.assert_array_equal(traj.mask, ref.mask)
        assert traj.units.equals(ref.units)


class _Watch:
    """Counts how many forward passes of one model run at the same time."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = self.most = self.calls = 0
        self.threads: set[int] = set()

    def __enter__(self) -> None:
        with self.lock:
            self.now += 1
            self.calls += 1
            self.most = max(self.most, self.now)
            self.threads.add(threading.get_ident())
        time.sleep(0.002)  # Python-side work in the forward pass: lets the threads switch

    def __exit__(self, *exc) -> None:
        with self.lock:
            self.now -= 1


# ---------------------------------------------------------------- the tutorial NumpyRNN
def _numpy_model():
    from rnndyn_numpyrnn import NumpyRNN

    class Watched(NumpyRNN):
        def forward(self, x):
            with self.watch:
                return super().forward(x)

    base = NumpyRNN.random(n_inputs=2, n_units=3, seed=0)
    model = Watched(base.W_x, base.W_h, base.b)
    model.watch = _Watch()
    return model


def test_numpyrnn_concurrent_captures_match_and_take_turns():
    model = _numpy_model()
    _check_concurrent(model, _inputs(2))
    assert model.watch.most == 1  # one model: its captures wait for each other
    assert len(model.watch.threads) > 1


def test_failing_capture_leaves_the_other_threads_right():
    model = _numpy_model()
    good = _inputs(2)
    reference = [rnndyn.capture(model, x, batch_size=bs, progress=False) for x, bs in good]
    bad = np.zeros((6, 5, 7))  # 7 features for a model that reads 2

    def run(k):
        if k % 2:
            with pytest.raises(RnndynError, match="batch 0"):
                rnndyn.capture(model, bad, batch_size=2, progress=False)
            return None
        x, bs = good[k // 2]
        return rnndyn.capture(model, x, batch_size=bs, progress=False)

    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(run, range(2 * len(good))))
    for k, ref in enumerate(reference):
        np.testing.assert_array_equal(got[2 * k].states, ref.states)
    # the model is free again: a capture from another thread does not wait
    with ThreadPoolExecutor(1) as pool:
        again = pool.submit(rnndyn.capture, model, good[0][0], batch_size=3, progress=False).result(30)
    np.testing.assert_array_equal(again.states, reference[0].states)


# ---------------------------------------------------------------- abandoned iter_capture, nesting
def test_abandoned_iter_capture_frees_the_model():
    from rnndyn import _model_locks

    model = _numpy_model()
    x = np.random.default_rng(1).normal(size=(6, 5, 2))
    ref = rnndyn.capture(model, x, batch_size=4, progress=False)
    it = rnndyn.iter_capture(model, x, batch_size=2, progress=False)
    next(it)  # holds the model now
    assert id(model) in _model_locks._entries
    del it  # dropped half-way: the model is released at once (no reference cycle keeps it)
    assert id(model) not in _model_locks._entries
    with ThreadPoolExecutor(1) as pool:
        got = pool.submit(rnndyn.capture, model, x, batch_size=4, progress=False).result(30)
    np.testing.assert_array_equal(got.states, ref.states)

    it = rnndyn.iter_capture(model, x, batch_size=2, progress=False)
    next(it)
    cycle: list = [it]
    cycle.append(cycle)  # only the garbage collector can free it; a waiting capture runs it
    del it, cycle
    with ThreadPoolExecutor(1) as pool:
        got = pool.submit(rnndyn.capture, model, x, batch_size=4, progress=False).result(30)
    np.testing.assert_array_equal(got.states, ref.states)
    assert not _model_locks._entries


def test_unfinished_iter_capture_stalls_a_waiting_capture_with_a_clear_error(monkeypatch):
    from rnndyn import _model_locks

    monkeypatch.setattr(_model_locks, "STALL_TIMEOUT", 0.3)
    model = _numpy_model()
    x = np.random.default_rng(2).normal(size=(6, 5, 2))
    it = rnndyn.iter_capture(model, x, batch_size=2, progress=False)
    first = next(it)
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(rnndyn.capture, model, x, batch_size=2, progress=False)
        with pytest.raises(RnndynError, match=r"(?s)waited.*unfinished.*close\(\)") as info:
            future.result(30)
    assert threading.current_thread().name in str(info.value)  # names the other capture's thread
    # the same thread cannot wait for itself: refused at once, with what to do
    with pytest.raises(RnndynError, match=r"unfinished.*same thread"):
        rnndyn.capture(model, x, progress=False)
    rest = list(it)  # the first capture is unharmed and finishes
    joined = rnndyn.Trajectories.concat([first, *rest])
    np.testing.assert_array_equal(joined.states, rnndyn.capture(model, x, progress=False).states)


def test_capture_inside_a_capture_of_the_same_model_is_refused():
    torch = pytest.importorskip("torch")
    model = torch.nn.LSTM(2, 3, batch_first=True)
    x = np.random.default_rng(0).normal(size=(4, 5, 2)).astype("float32")

    def forward(m, b):
        rnndyn.capture(m, x, progress=False)  # the same model, from within its own capture
        return m(b)

    with pytest.raises(RnndynError, match="inside another capture of the same model"):
        rnndyn.capture(model, x, forward=forward, progress=False)
    assert not model._forward_hooks
    np.testing.assert_array_equal(rnndyn.capture(model, x, progress=False).states.shape, (4, 5, 3))


# ---------------------------------------------------------------- PyTorch
@pytest.fixture
def one_torch_thread():
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield torch
    torch.set_num_threads(before)


def test_torch_lstm_concurrent(one_torch_thread):
    torch = one_torch_thread
    from torch import nn

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = nn.LSTM(3, 4, batch_first=True)
            self.drop = nn.Dropout(0.5)  # a training model: captured in eval mode, flag restored
            self.watch = _Watch()

        def forward(self, x):
            with self.watch:
                return self.drop(self.lstm(x)[0])

    torch.manual_seed(0)
    model = Net().train()
    _check_concurrent(model, _inputs(3, "float32"), state=["h", "c"])
    assert model.training and model.drop.training
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())
    assert model.watch.most == 1


def test_torch_cell_loop_concurrent(one_torch_thread):
    torch = one_torch_thread
    from torch import nn

    class Loop(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.cell = nn.LSTMCell(3, 4)
            self.watch = _Watch()

        def forward(self, x):
            with self.watch:
                h = c = x.new_zeros(x.shape[0], 4)
                out = []
                for t in range(x.shape[1]):
                    h, c = self.cell(x[:, t], (h, c))
                    out.append(h)
                return torch.stack(out, 1)

    torch.manual_seed(1)
    model = Loop()
    _check_concurrent(model, _inputs(3, "float32"), layer="cell", state=["h", "c", "f"])
    assert not model.cell._forward_hooks
    # a failing capture (wrong features) in one thread, good ones in the others
    x = _inputs(3, "float32")[1][0]
    ref = rnndyn.capture(model, x, layer="cell", batch_size=2, progress=False)

    def run(k):
        data = np.zeros((4, 5, 9), "float32") if k % 2 else x
        return rnndyn.capture(model, data, layer="cell", batch_size=2, progress=False)

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(run, k) for k in range(6)]
    for k, f in enumerate(futures):
        if k % 2:
            assert isinstance(f.exception(), RnndynError)
        else:
            np.testing.assert_array_equal(f.result().states, ref.states)
    assert not model.cell._forward_hooks and not model._forward_hooks


# ---------------------------------------------------------------- Flax
def test_flax_rnn_concurrent():
    pytest.importorskip("flax")
    from flax import nnx

    model = nnx.RNN(nnx.LSTMCell(3, 4, rngs=nnx.Rngs(0)))
    rng = np.random.default_rng(0)  # three batch shapes only: each one is compiled once
    jobs = [(rng.normal(size=(n, 6, 3)).astype("float32"), bs) for n, bs in [(8, 2), (6, 3), (8, 4), (4, 2)]]
    _check_concurrent(model, jobs, state=["h", "c"])


# ---------------------------------------------------------------- Keras (fresh interpreter)
KERAS = textwrap.dedent(
    """
    import threading
    from concurrent.futures import ThreadPoolExecutor
    import numpy as np
    import keras
    import rnndyn
    from test_threads import JOBS, _inputs

    keras.utils.set_random_seed(0)
    inp = keras.Input((None, 3))
    h = keras.layers.LSTM(4, return_sequences=True, name="lstm")(inp)
    model = keras.Model(inp, keras.layers.Dense(2)(h))
    jobs = _inputs(3, "float32")[:4]

    def one(job):
        x, bs = job
        return rnndyn.capture(model, x, state=["h", "c"], batch_size=bs, progress=False)

    reference = [one(job) for job in jobs]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(one, jobs))
    for ref, traj in zip(reference, got, strict=True):
        np.testing.assert_array_equal(traj.states, ref.states)
    print("THREADS OK")
    """
)


def test_keras_concurrent():
    pytest.importorskip("tensorflow")
    from _keras_subprocess import run_keras_script

    run_keras_script(KERAS, "THREADS OK")
