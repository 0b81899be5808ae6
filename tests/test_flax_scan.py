"""rnndyn_flax on a user's loop: a cell run by ``jax.lax.scan``, forward and reverse.

States are compared with the float64 references of tests/test_flax_adapter.py
(Flax's cell equations, stepped in the scan's processing order), region masks
with a counter cell, and refusals with what a careful user expects: calls
that no scan made cannot be placed on the time axis and are refused.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from test_flax_adapter import KINDS, TOL, _cell, _ref, _x

import rnndyn
from rnndyn import PluginError, plugins

SCAN = jax.lax.scan  # jax's own, before any capture


class Holder:
    def __init__(self, cell):
        self.cell = cell


class Scanned(nnx.Module):
    """``cell`` run over the steps by ``jax.lax.scan`` (batch-first in and out)."""

    def __init__(self, cell, reverse=False):
        self.cell = cell
        self.reverse = reverse

    def __call__(self, x):
        carry = self.cell.initialize_carry(x[:, 0].shape, nnx.Rngs(0))

        def body(c, xt):
            return self.cell(c, xt)

        _, ys = jax.lax.scan(body, carry, jnp.swapaxes(x, 0, 1), reverse=self.reverse)
        return jnp.swapaxes(ys, 0, 1)


class Leaky(nnx.RNNCellBase):
    """A user's cell: leaky tanh units."""

    def __init__(self, f, h, rngs):
        self.in_features, self.hidden_features = f, h
        self.lin = nnx.Linear(f + h, h, rngs=rngs)

    def __call__(self, carry, x):
        new = 0.5 * carry + 0.5 * jnp.tanh(self.lin(jnp.concatenate([x, carry], -1)))
        return new, new

    def initialize_carry(self, input_shape, rngs=None):
        return jnp.zeros(input_shape[:-1] + (self.hidden_features,))

    @property
    def num_feature_axes(self):
        return 1


@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
@pytest.mark.parametrize("name", list(KINDS))
def test_scanned_flax_cell_every_state(name, reverse):
    model = Scanned(_cell(name, 3, 4, 2), reverse=reverse)
    x = _x()
    states = KINDS[name][1]
    info = rnndyn.layers(model)
    assert info["layer"].tolist() == ["cell"] and info["layout"].tolist() == ["steps = calls"]
    traj = rnndyn.capture(model, x, layer="cell", state=list(states), progress=False)
    ref = _ref(Holder(model.cell), x, reverse=reverse)
    np.testing.assert_allclose(np.asarray(model(x)), ref["h"], atol=TOL)  # the reference is right
    for s in states:
        np.testing.assert_allclose(traj.select(state=s).states, ref[s], atol=TOL, err_msg=s)
    order = traj.steps.order("cell", "forward")
    want = np.arange(x.shape[1])[::-1] if reverse else np.arange(x.shape[1])
    np.testing.assert_array_equal(order, np.broadcast_to(want, order.shape))
    assert jax.lax.scan is SCAN  # unwrapped again


def test_scanned_user_cell_h_and_step_map():
    model = Scanned(Leaky(3, 5, nnx.Rngs(1)))
    x = _x(seed=4)
    traj = rnndyn.capture(model, x, layer="cell", progress=False)
    np.testing.assert_allclose(traj.states, np.asarray(model(x)), atol=1e-6)
    with pytest.raises(PluginError, match="no state 'c'"):
        rnndyn.capture(model, x, layer="cell", state="c", progress=False)
    cell = plugins.step_map(model, "cell")["forward"]
    S = np.asarray(traj.states, np.float64)
    prev = np.concatenate([np.zeros_like(S[:, :1]), S[:, :-1]], axis=1)
    assert np.abs(cell.step(prev, np.asarray(x, np.float64)) - S).max() < 2e-5


class Counter(nnx.Module):
    """A scanned identity cell adding its input: 1 per real step, 1000 per padding step."""

    def __init__(self, reverse):
        c = nnx.SimpleCell(1, 1, activation_fn=lambda a: a, rngs=nnx.Rngs(0))
        c.dense_i.kernel[...] = np.ones((1, 1), np.float32)
        c.dense_i.bias[...] = np.zeros(1, np.float32)
        c.dense_h.kernel[...] = np.ones((1, 1), np.float32)
        self.inner = Scanned(c, reverse)

    def __call__(self, x):
        return self.inner(x)


@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
@pytest.mark.parametrize("arrangement", ["input", "processing"])
def test_region_masks_of_a_scanned_cell_match_a_counter(reverse, arrangement):
    T = 7
    lengths = np.array([7, 3, 5, 1, 2, 6])
    x = np.where(np.arange(T)[None, :] < lengths[:, None], 1.0, 1000.0).astype(np.float32)[:, :, None]
    traj = rnndyn.capture(Counter(reverse), x, lengths=lengths, progress=False)
    assert traj.units["layer"].tolist() == ["inner.cell"]
    if arrangement == "processing":
        traj = traj.processing_order()
    d = np.diff(np.asarray(traj.states, np.float64), axis=1)
    np.testing.assert_array_equal(traj.delta_mask("input"), np.abs(d) == 1)
    np.testing.assert_array_equal(traj.delta_mask("padding"), np.abs(d) != 1)


class PythonLoop(nnx.Module):
    def __init__(self):
        self.cell = _cell("GRUCell", 3, 4, 0)

    def __call__(self, x):
        h = jnp.zeros((x.shape[0], 4))
        for t in range(x.shape[1]):
            h, _ = self.cell(h, x[:, t])
        return h


class TwoScans(Scanned):
    def __call__(self, x):
        first = super().__call__(x)
        return first + super().__call__(x[:, ::-1])


@pytest.mark.parametrize("model", [PythonLoop(), TwoScans(_cell("GRUCell", 3, 4, 0))], ids=["loop", "twice"])
def test_calls_no_single_scan_made_are_refused(model):
    with pytest.raises(rnndyn.RnndynError, match="jax.lax.scan"):
        rnndyn.capture(model, _x(), layer="cell", progress=False)
    assert jax.lax.scan is SCAN
    assert type(model.cell).__call__ is type(model.cell).__mro__[0].__call__
    np.testing.assert_allclose(np.asarray(model(_x())), np.asarray(model(_x())))  # still callable


def test_threads_capturing_one_scanned_model_never_mix_states():
    model = Scanned(_cell("LSTMCell", 3, 4, 3))
    xs = [_x(seed=s) for s in range(4)]
    refs = [_ref(Holder(model.cell), x)["c"] for x in xs]

    def run(i):
        try:
            t = rnndyn.capture(model, xs[i], layer="cell", state="c", progress=False)
        except rnndyn.RnndynError as exc:
            assert "another thread" in str(exc)
            return None
        return np.abs(t.states - refs[i]).max()

    with ThreadPoolExecutor(4) as pool:
        errs = list(pool.map(run, range(4)))
    assert any(e is not None for e in errs)
    assert all(e is None or e < TOL for e in errs)
    assert jax.lax.scan is SCAN
