"""The step-map hook: each adapter's cells reproduce the layer's own captured states.

For every layer kind of both frameworks, every direction: the states are
captured with :func:`rnndyn.capture`, and ``cell.step(previous captured state,
input of that step)`` must give the next captured state (forward: the state
before step ``t`` is the one at ``t - 1``; backward: the one at ``t + 1``; zero
before the first step read). PyTorch models run in float64 and are checked to
1e-6 (in fact ~1e-15). Keras models are float64 too, but the Keras adapter
returns float32 states, so those checks hold to 1e-6 only up to that rounding
(errors ~1e-7). A StepCell's Jacobian is checked against central finite
differences of its own step.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import rnndyn
from rnndyn import PluginError, RnndynError, plugins
from rnndyn.dynamics import GRUCell, LSTMCell, RNNCell, StepCell

ATOL = 1e-6
ROOT = Path(__file__).resolve().parents[1]
B, T, F = 3, 6, 3


def _np(a):
    return a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)


def grab(traj, layer, state, direction):
    return np.array(traj.select(layer=layer, state=state, direction=direction).states, np.float64)


def states_of(traj, layer, direction, cell):
    """The captured state vector ``s`` of ``cell`` (``[h, c]`` for an LSTM), shape (B, T, dim)."""
    return np.concatenate([grab(traj, layer, s, direction) for s in cell.state_names], axis=-1)


def one_step_error(cell, S, X, direction):
    """max |cell.step(S[t -/+ 1], X[t]) - S[t]| over every sequence and step."""
    zero = np.zeros_like(S[:, :1])
    prev = (
        np.concatenate([zero, S[:, :-1]], 1)
        if direction == "forward"
        else np.concatenate([S[:, 1:], zero], 1)
    )
    got = _np(cell.step(prev, X))
    assert got.shape == S.shape
    return float(np.abs(got - S).max())


def check_layer(model, x, layer, *, inputs=None, kinds=None):
    """Capture ``layer`` and check every direction's cell; return the cells."""
    cells = plugins.step_map(model, layer)
    states = sorted({s for c in cells.values() for s in c.state_names}, key="hc".index)
    traj = rnndyn.capture(model, x, layer=layer, state=states, progress=False)
    X = np.asarray(_np(x) if inputs is None else inputs, np.float64)
    for direction, cell in cells.items():
        if kinds is not None:
            assert type(cell) is kinds, (layer, type(cell))
        S = states_of(traj, layer, direction, cell)
        assert S.shape == (X.shape[0], X.shape[1], cell.dim)
        err = one_step_error(cell, S, X, direction)
        assert err < ATOL, f"{layer} {direction}: max error {err:.2e}"
    return cells, traj


def fd_check(cell, n=4, seed=0, eps=1e-6, tol=1e-6):
    """The cell's Jacobian against central differences of its step, in float64."""
    rng = np.random.default_rng(seed)
    s = rng.normal(scale=0.5, size=(n, cell.dim))
    x = rng.normal(size=(n, cell.input_size))
    J = _np(cell.jacobian(s, x))
    assert J.shape == (n, cell.dim, cell.dim)
    fd = np.empty_like(J)
    for j in range(cell.dim):
        e = np.zeros(cell.dim)
        e[j] = eps
        fd[:, :, j] = (_np(cell.step(s + e, x)) - _np(cell.step(s - e, x))) / (2 * eps)
    err = np.abs(J - fd).max()
    assert err < tol, f"Jacobian vs finite differences: {err:.2e}"


# ================================================================== PyTorch
@pytest.fixture(scope="module", autouse=True)
def _torch_setup():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield
    torch.set_num_threads(n)


def xt(seed=0, feats=F):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, T, feats, generator=g, dtype=torch.float64)


def test_rnndyn_step_map_torch_stacked_bidirectional_lstm():
    model = nn.LSTM(F, 4, num_layers=2, bidirectional=True, batch_first=True).double()
    x = xt()
    cells, traj0 = check_layer(model, x, "lstm.l0", kinds=LSTMCell)
    assert set(cells) == {"forward", "backward"} and cells["forward"].dim == 8
    # layer 1 reads layer 0's output: forward and backward h side by side, input order
    below = np.concatenate([grab(traj0, "lstm.l0", "h", d) for d in ("forward", "backward")], -1)
    check_layer(model, x, "lstm.l1", inputs=below, kinds=LSTMCell)
    top = plugins.step_map(model)  # default: the module's own name, its top layer
    assert np.array_equal(_np(top["backward"].W_hh), model.weight_hh_l1_reverse.detach().numpy())
    # the cells hold the weights in float64 on the module's device, detached
    assert cells["forward"].W_ih.dtype == torch.float64 and not cells["forward"].W_ih.requires_grad


def test_rnndyn_step_map_torch_lstm_without_bias_and_gru():
    lstm = nn.LSTM(F, 5, bias=False, batch_first=True).double()
    cells, _ = check_layer(lstm, xt(1), "lstm", kinds=LSTMCell)
    assert float(np.abs(_np(cells["forward"].b)).max()) == 0.0
    gru = nn.GRU(F, 4, bidirectional=True, batch_first=True).double()
    check_layer(gru, xt(2), "gru", kinds=GRUCell)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnndyn_step_map_torch_rnn(nonlinearity):
    model = nn.RNN(F, 5, num_layers=2, nonlinearity=nonlinearity, batch_first=True).double()
    x = xt(3)
    cells, traj = check_layer(model, x, "rnn.l0", kinds=RNNCell)
    assert cells["forward"].activation == nonlinearity
    check_layer(model, x, "rnn.l1", inputs=grab(traj, "rnn.l0", "h", "forward"), kinds=RNNCell)


class Loop(nn.Module):
    """A cell module driven by a Python loop over the steps (steps = calls)."""

    def __init__(self, cell):
        super().__init__()
        self.cell = cell

    def forward(self, x):
        h = None
        for t in range(x.shape[1]):
            h = self.cell(x[:, t], h)
        return h[0] if isinstance(h, tuple) else h


@pytest.mark.parametrize(
    "cell, kind",
    [
        (lambda: nn.LSTMCell(F, 4), LSTMCell),
        (lambda: nn.GRUCell(F, 4), GRUCell),
        (lambda: nn.RNNCell(F, 4, nonlinearity="relu"), RNNCell),
    ],
    ids=["LSTMCell", "GRUCell", "RNNCell"],
)
def test_rnndyn_step_map_torch_cell_modules(cell, kind):
    check_layer(Loop(cell()).double(), xt(4), "cell", kinds=kind)


class LeakyCell(nn.RNNCell):
    """Overrides forward: its arithmetic is not nn.RNNCell's, so it gets a StepCell."""

    def forward(self, x, h=None):
        if h is None:
            h = x.new_zeros(x.shape[0], self.hidden_size)
        return 0.3 * h + 0.7 * torch.sin(x @ self.weight_ih.T + h @ self.weight_hh.T + self.bias_ih)


class LeakyLSTMCell(nn.LSTMCell):
    def forward(self, x, hx=None):
        if hx is None:
            hx = (x.new_zeros(x.shape[0], self.hidden_size),) * 2
        h, c = super().forward(x, hx)
        return h, 0.5 * c + 0.5 * hx[1]


@pytest.mark.parametrize("make", [lambda: LeakyCell(F, 4), lambda: LeakyLSTMCell(F, 3)], ids=["rnn", "lstm"])
def test_rnndyn_step_map_torch_custom_cell_is_a_step_cell(make):
    module = make()  # float32: the step map runs a float64 copy, the module is untouched
    before = {k: v.clone() for k, v in module.state_dict().items()}
    model = Loop(module).double()
    cells, _ = check_layer(model, xt(5), "cell", kinds=StepCell)
    cell = cells["forward"]
    assert cell.state_names == (("h", "c") if isinstance(module, nn.LSTMCell) else ("h",))
    fd_check(cell)
    assert all(torch.equal(before[k].double(), v) for k, v in model.cell.state_dict().items())


def test_torch_step_map_bad_input():
    model = nn.LSTM(F, 4, num_layers=2)
    with pytest.raises(PluginError, match=r"Unknown layer 'lstm\.l2'.*lstm\.l1") as info:
        plugins.step_map(model, "lstm.l2")
    assert "lstm.l0" in str(info.value)
    with pytest.raises(RnndynError, match="layer must be one layer name"):
        plugins.step_map(model, ["lstm.l0", "lstm.l1"])
    with pytest.raises(PluginError, match="proj_size=2.*rnndyn_step_map"):
        plugins.step_map(nn.LSTM(F, 4, proj_size=2), "lstm")
    broken = nn.GRU(F, 4)
    with torch.no_grad():
        broken.weight_hh_l0[1, 2] = float("nan")
    with pytest.raises(RnndynError, match="W_hh holds NaN or inf"):
        plugins.step_map(broken)
    with pytest.raises(PluginError, match="No installed rnndyn adapter claims"):
        plugins.step_map(object())


def test_a_layer_without_a_step_map_names_the_hook():
    # the tutorial's plugin captures NumpyRNN models but implements no rnndyn_step_map
    from rnndyn_numpyrnn import NumpyRNN

    model = NumpyRNN.random(n_inputs=2, n_units=3)
    assert rnndyn.capture(model, np.zeros((1, 4, 2)), progress=False).n_units == 3
    with pytest.raises(PluginError) as info:
        plugins.step_map(model)
    msg = str(info.value)
    assert "rnndyn_step_map" in msg and "NumpyRNN" in msg and "'rnn'" in msg
    for name in ("numpyrnn", "torch", "keras"):
        assert name in msg
    assert "docs/plugins.md" in msg


# ==================================================================== Keras
@pytest.fixture(scope="module")
def keras_models():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    keras = pytest.importorskip("keras")
    from keras import layers

    keras.utils.set_random_seed(0)

    @keras.saving.register_keras_serializable("rnndyn_test")
    class SineCell(layers.Layer):
        """A custom cell: h' = 0.4 h + 0.6 sin(x W + h U)."""

        def __init__(self, units, **kw):
            super().__init__(**kw)
            self.units = units
            self.state_size = units

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")
            self.recurrent_kernel = self.add_weight(shape=(self.units, self.units), name="recurrent_kernel")

        def call(self, inputs, states):
            h = states[0]
            z = keras.ops.matmul(inputs, self.kernel) + keras.ops.matmul(h, self.recurrent_kernel)
            out = 0.4 * h + 0.6 * keras.ops.sin(z)
            return out, [out]

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    f64 = {"dtype": "float64"}
    seq = {"return_sequences": True, **f64}
    inp = keras.Input((T, F), dtype="float64")
    bi = layers.Bidirectional(layers.LSTM(4, **seq), name="bilstm")(inp)
    outs = [
        layers.GRU(4, name="gru_on_bi", **seq)(bi),
        layers.GRU(4, reset_after=False, name="gru_v1", **f64)(inp),
        layers.Bidirectional(layers.GRU(3, **seq), name="bigru")(inp),
        layers.SimpleRNN(5, activation="relu", name="srnn_relu", **f64)(inp),
        layers.SimpleRNN(4, name="srnn_tanh", **seq)(inp),
        layers.RNN(SineCell(4, **f64), name="custom", **f64)(inp),
        layers.LSTM(4, recurrent_activation="hard_sigmoid", name="lstm_hard", **f64)(inp),
        layers.SimpleRNN(3, activation="softsign", name="srnn_softsign", **f64)(inp),
    ]
    model = keras.Model(inp, outs)
    x = np.random.default_rng(7).normal(size=(B, T, F))
    return keras, model, x


@pytest.mark.parametrize(
    "layer, kind",
    [
        ("bilstm", LSTMCell),
        ("gru_v1", GRUCell),
        ("bigru", GRUCell),
        ("srnn_relu", RNNCell),
        ("srnn_tanh", RNNCell),
        ("custom", StepCell),
        ("lstm_hard", StepCell),
        ("srnn_softsign", StepCell),
    ],
)
def test_rnndyn_step_map_keras(keras_models, layer, kind):
    keras, model, x = keras_models
    cells, _ = check_layer(model, x, layer, kinds=kind)
    assert list(cells) == (["forward", "backward"] if layer.startswith("bi") else ["forward"])
    if layer == "bigru":  # each direction its own weights
        assert not np.array_equal(cells["forward"].W_hh, cells["backward"].W_hh)
    if layer == "gru_v1":
        assert cells["forward"].reset_after is False
    if kind is StepCell:
        # float32 there: keras.ops.matmul on torch; JAX without jax_enable_x64
        if keras.backend.backend() in ("torch", "jax"):
            fd_check(cells["forward"], eps=1e-3, tol=5e-4)
        else:
            fd_check(cells["forward"])
        if layer == "lstm_hard":
            assert cells["forward"].state_names == ("h", "c")


def test_rnndyn_step_map_keras_stacked_on_a_bidirectional(keras_models):
    keras, model, x = keras_models
    below = rnndyn.capture(model, x, layer="bilstm", state="h", progress=False)
    inputs = np.concatenate([grab(below, "bilstm", "h", d) for d in ("forward", "backward")], -1)
    cells, _ = check_layer(model, x, "gru_on_bi", inputs=inputs, kinds=GRUCell)
    assert cells["forward"].reset_after is True and cells["forward"].input_size == 8


def test_keras_step_map_bad_input(keras_models):
    keras, model, x = keras_models
    with pytest.raises(PluginError, match=r"Unknown layer 'bilstn'.*Did you mean 'bilstm'"):
        plugins.step_map(model, "bilstn")
    with pytest.raises(PluginError, match="pass layer= one of their names"):
        plugins.step_map(model)
    lstm = keras.Sequential([keras.Input((T, F)), keras.layers.LSTM(4, name="lstm")])
    W = lstm.layers[0].cell.recurrent_kernel
    W.assign(np.full(W.shape, np.inf, "float32"))
    with pytest.raises(RnndynError, match="W_hh holds NaN or inf"):
        plugins.step_map(lstm, "lstm")


@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_keras_step_map_on_other_backends(backend):
    """The Keras cases again with KERAS_BACKEND=torch and jax (the backend is fixed at import)."""
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3", "OMP_NUM_THREADS": "1"}
    args = ["-m", "pytest", __file__, "-q", "-p", "no:cacheprovider", "-p", "no:xdist"]
    args += ["-k", "rnndyn_step_map_keras or keras_step_map_bad", "-W", "ignore::DeprecationWarning"]
    res = subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-4000:]
    assert "10 passed" in out and "skipped" not in out, out[-2000:]
