"""The Flax adapter's step map: each direction's cell reproduces the layer's own captured states.

As in tests/test_step_map.py: the states are captured with
:func:`rnndyn.capture` and ``cell.step(previous captured state, input of that
step)`` must give the next captured state (forward: the state at ``t - 1``;
backward: at ``t + 1``; zero before the first step read). Flax runs in
float32, so the check holds to float32 rounding (2e-5). Typed cells are
checked against Flax's own call, step cells' Jacobians against central
differences of their own step, and the layer's Jacobian spectrum against
:mod:`rnndyn.dynamics` fed with the typed twin.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from test_step_map import fd_check, one_step_error, states_of

import rnndyn
from rnndyn import PluginError, plugins
from rnndyn.dynamics import GRUCell, LSTMCell, RNNCell, StepCell

B, T, F, H = 3, 6, 3, 4
ATOL = 2e-5


def x_of(seed=0):
    return np.random.default_rng(seed).normal(size=(B, T, F)).astype(np.float32)


def check(model, layer, kind, x, inputs=None):
    cells = plugins.step_map(model, layer)
    states = sorted({s for c in cells.values() for s in c.state_names}, key="hc".index)
    traj = rnndyn.capture(model, x, layer=layer, state=states, progress=False)
    for direction, cell in cells.items():
        assert type(cell) is kind, (layer, direction, type(cell))
        S = states_of(traj, layer, direction, cell)
        X = np.asarray(x if inputs is None else inputs, np.float64)
        err = one_step_error(cell, S, X, direction)
        assert err < ATOL, f"{layer} {direction}: max error {err:.2e}"
    return cells


class Leaky(nnx.RNNCellBase):
    """A user's cell: leaky tanh units, carry one array."""

    def __init__(self, f: int, h: int, rngs: nnx.Rngs) -> None:
        self.in_features, self.hidden_features = f, h
        self.lin = nnx.Linear(f + h, h, rngs=rngs)

    def __call__(self, carry, x):
        new = 0.7 * carry + 0.3 * jnp.tanh(self.lin(jnp.concatenate([x, carry], -1)))
        return new, new

    def initialize_carry(self, input_shape, rngs=None):
        return jnp.zeros(input_shape[:-1] + (self.hidden_features,))

    @property
    def num_feature_axes(self) -> int:
        return 1


CELLS = [
    (lambda r: nnx.LSTMCell(F, H, rngs=r), LSTMCell),
    (lambda r: nnx.OptimizedLSTMCell(F, H, rngs=r), LSTMCell),
    (lambda r: nnx.GRUCell(F, H, rngs=r), GRUCell),
    (lambda r: nnx.SimpleCell(F, H, rngs=r), RNNCell),
    (lambda r: nnx.SimpleCell(F, H, activation_fn=nnx.relu, rngs=r), RNNCell),
    (lambda r: nnx.SimpleCell(F, H, residual=True, rngs=r), StepCell),
    (lambda r: nnx.LSTMCell(F, H, gate_fn=jax.nn.hard_sigmoid, rngs=r), StepCell),
    (lambda r: nnx.GRUCell(F, H, activation_fn=jax.nn.soft_sign, rngs=r), StepCell),
    (lambda r: Leaky(F, H, r), StepCell),
]
IDS = [
    "lstm",
    "optimized-lstm",
    "gru",
    "simple-tanh",
    "simple-relu",
    "residual",
    "lstm-hard",
    "gru-softsign",
    "user",
]


@pytest.mark.parametrize("make, kind", CELLS, ids=IDS)
def test_flax_step_map_reproduces_every_direction(make, kind):
    rngs = nnx.Rngs(3)
    model = nnx.Bidirectional(nnx.RNN(make(rngs)), nnx.RNN(make(rngs)))
    before = nnx.clone(nnx.state(model, nnx.Param))
    cells = check(model, "bidirectional", kind, x_of(1))
    assert set(cells) == {"forward", "backward"}
    if kind is StepCell:
        fd_check(cells["forward"])
    after = nnx.state(model, nnx.Param)
    same = jax.tree_util.tree_map(lambda a, b: bool(np.array_equal(a, b)), before, after)
    assert all(jax.tree_util.tree_leaves(same)), "the step map changed the model's parameters"


@pytest.mark.parametrize("make, kind", CELLS[:5], ids=IDS[:5])
def test_typed_cells_equal_flax_own_call(make, kind):
    cell = make(nnx.Rngs(0))
    mapped = plugins.step_map(nnx.RNN(cell), "rnn")["forward"]
    rng = np.random.default_rng(2)
    h = rng.normal(size=(5, H)).astype(np.float32)
    c = rng.normal(size=(5, H)).astype(np.float32)
    x = rng.normal(size=(5, F)).astype(np.float32)
    if kind is LSTMCell:
        (c2, h2), _ = cell((jnp.asarray(c), jnp.asarray(h)), jnp.asarray(x))
        want = np.concatenate([np.asarray(h2), np.asarray(c2)], -1)
        s = np.concatenate([h, c], -1)
    else:
        want, _ = cell(jnp.asarray(h), jnp.asarray(x))
        want, s = np.asarray(want), h
    np.testing.assert_allclose(mapped.step(s.astype(np.float64), x.astype(np.float64)), want, atol=2e-6)


def test_a_stacked_model_and_the_reverse_rnn():
    class Model(nnx.Module):
        def __init__(self, rngs):
            self.first = nnx.RNN(nnx.GRUCell(F, H, rngs=rngs))
            self.second = nnx.RNN(nnx.LSTMCell(H, H, rngs=rngs), reverse=True, keep_order=True)

        def __call__(self, x):
            return self.second(self.first(x))

    model = Model(nnx.Rngs(0))
    check(model, "first", GRUCell, x_of(2))
    cells = check(model, "second", LSTMCell, x_of(2), inputs=np.asarray(model.first(x_of(2))))
    assert list(cells) == ["backward"]


def test_fixed_points_of_a_flax_layer_equal_those_of_its_typed_twin():
    from rnndyn import dynamics

    model = nnx.RNN(nnx.SimpleCell(2, 3, rngs=nnx.Rngs(0)))
    typed = plugins.step_map(model, "rnn")["forward"]
    user = nnx.RNN(
        nnx.SimpleCell(2, 3, residual=False, activation_fn=lambda a: jnp.tanh(a), rngs=nnx.Rngs(0))
    )
    step = plugins.step_map(user, "rnn")["forward"]
    assert isinstance(step, StepCell)
    s = np.random.default_rng(0).normal(size=(6, 3))
    x = np.zeros((6, 2))
    np.testing.assert_allclose(step.step(s, x), typed.step(s, x), atol=1e-12)
    np.testing.assert_allclose(step.jacobian(s, x), typed.jacobian(s, x), atol=1e-12)
    a = dynamics.linearize(typed, np.zeros(3), np.zeros(2))
    b = dynamics.linearize(step, np.zeros(3), np.zeros(2))
    np.testing.assert_allclose(np.sort(np.abs(a.eigenvalues)), np.sort(np.abs(b.eigenvalues)), atol=1e-10)


def test_unknown_layer_and_unusable_cells():
    model = nnx.RNN(nnx.GRUCell(F, H, rngs=nnx.Rngs(0)))
    with pytest.raises(PluginError, match="rnn"):
        plugins.step_map(model, "nope")

    class NoSize(Leaky):
        def __init__(self, rngs):
            super().__init__(F, H, rngs)
            del self.hidden_features

    with pytest.raises(PluginError, match="hidden_features"):
        plugins.step_map(nnx.RNN(NoSize(nnx.Rngs(0))), "rnn")
