"""rnndyn_flax against float64 NumPy references written from Flax's cell equations.

The references (``_ref``) read the cells' weights (``Linear``: ``x @ kernel +
bias``) and loop over the steps in Flax's processing order: forward
``0 .. T-1``; reverse with ``seq_lengths``: the real steps backwards, then the
padding backwards (the carry is never frozen). They are first checked against
Flax's own outputs, then against :func:`rnndyn.capture`.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import rnndyn
from rnndyn import PluginError

jax = pytest.importorskip("jax")
nnx = pytest.importorskip("flax.nnx")
from rnndyn_flax import FlaxAdapter  # noqa: E402

TOL = 1e-5
KINDS = {
    "LSTMCell": ("LSTM", ("h", "c", "i", "f", "g", "o")),
    "OptimizedLSTMCell": ("LSTM", ("h", "c", "i", "f", "g", "o")),
    "GRUCell": ("GRU", ("h", "r", "z", "n")),
    "SimpleCell": ("RNN", ("h",)),
}


def _w(lin) -> tuple[np.ndarray, np.ndarray]:
    k = np.asarray(lin.kernel[...], np.float64)
    b = np.asarray(lin.bias[...], np.float64) if lin.bias is not None else np.zeros(k.shape[1])
    return k, b


def _sig(a):
    return 1.0 / (1.0 + np.exp(-a))


def _step(cell, carry, x):
    """One float64 step of a Flax cell: (new carry, {state: value})."""
    name = type(cell).__name__
    if name in ("LSTMCell", "OptimizedLSTMCell"):
        c, h = carry
        if name == "LSTMCell":
            pre = [
                x @ _w(li)[0] + h @ _w(lh)[0] + _w(lh)[1]
                for li, lh in (
                    (cell.ii, cell.hi),
                    (cell.if_, cell.hf),
                    (cell.ig, cell.hg),
                    (cell.io, cell.ho),
                )
            ]
        else:
            (ki, _), (kh, bh) = _w(cell.dense_i), _w(cell.dense_h)
            pre = np.split(x @ ki + h @ kh + bh, 4, axis=-1)
        i, f, g, o = _sig(pre[0]), _sig(pre[1]), np.tanh(pre[2]), _sig(pre[3])
        c = f * c + i * g
        h = o * np.tanh(c)
        return (c, h), {"h": h, "c": c, "i": i, "f": f, "g": g, "o": o}
    if name == "GRUCell":
        (ki, bi), (kh, _) = _w(cell.dense_i), _w(cell.dense_h)
        xr, xz, xn = np.split(x @ ki + bi, 3, axis=-1)
        hr, hz, hn = np.split(carry @ kh, 3, axis=-1)
        r, z = _sig(xr + hr), _sig(xz + hz)
        n = np.tanh(xn + r * hn)
        h = (1 - z) * n + z * carry
        return h, {"h": h, "r": r, "z": z, "n": n}
    (ki, bi), (kh, _) = _w(cell.dense_i), _w(cell.dense_h)
    h = np.tanh(x @ ki + bi + carry @ kh)
    return h, {"h": h}


def _ref(rnn, x, lengths=None, reverse=False):
    """float64 states by input position, {state: (n, T, units)}."""
    x = np.asarray(x, np.float64)
    n, T, _ = x.shape
    U = rnn.cell.hidden_features
    out: dict[str, np.ndarray] = {}
    for s in range(n):
        L = T if lengths is None else int(lengths[s])
        order = list(range(T))
        if reverse:
            order = list(range(L))[::-1] + list(range(L, T))[::-1]
        zero = np.zeros(U)
        carry = (zero, zero) if "LSTM" in type(rnn.cell).__name__ else zero
        for t in order:
            carry, vals = _step(rnn.cell, carry, x[s, t])
            for k, v in vals.items():
                out.setdefault(k, np.zeros((n, T, U)))[s, t] = v
    return out


def _cell(name, n_in, n_out, seed):
    return getattr(nnx, name)(n_in, n_out, rngs=nnx.Rngs(seed))


def _x(n=5, T=6, F=3, seed=0):
    return np.random.default_rng(seed).normal(size=(n, T, F)).astype(np.float32)


LENGTHS = np.array([6, 3, 5, 1, 4])


@pytest.mark.parametrize("name", list(KINDS))
def test_references_match_flax_outputs(name):
    rnn = nnx.RNN(_cell(name, 3, 4, 1))
    x = _x()
    np.testing.assert_allclose(np.asarray(rnn(x)), _ref(rnn, x)["h"], atol=TOL)
    got = rnn(x, seq_lengths=LENGTHS, reverse=True, keep_order=True)
    np.testing.assert_allclose(np.asarray(got), _ref(rnn, x, LENGTHS, reverse=True)["h"], atol=TOL)


@pytest.mark.parametrize("name", list(KINDS))
def test_capture_every_state_of_each_cell(name):
    rnn = nnx.RNN(_cell(name, 3, 4, 2))
    x = _x()
    states = list(KINDS[name][1])
    traj = rnndyn.capture(rnn, x, state=states, batch_size=2, progress=False)
    ref = _ref(rnn, x)
    assert traj.states.dtype == np.float32 and traj.shape == (5, 6, 4 * len(states))
    for s in states:
        np.testing.assert_allclose(traj.select(state=s).states, ref[s], atol=TOL, err_msg=s)


class Tagger(nnx.Module):
    def __init__(self, rngs):
        self.embed = nnx.Linear(3, 4, rngs=rngs)
        self.enc = nnx.Bidirectional(nnx.RNN(_cell("LSTMCell", 4, 5, 3)), nnx.RNN(_cell("LSTMCell", 4, 5, 4)))
        self.blocks = nnx.List([nnx.RNN(_cell("GRUCell", 10, 2, 5))])
        self.drop = nnx.Dropout(0.5, rngs=rngs)

    def __call__(self, x, seq_lengths=None):
        e = self.drop(self.embed(x))
        return self.blocks[0](self.enc(e, seq_lengths=seq_lengths), seq_lengths=seq_lengths)


def test_layers_lists_every_rnn_by_attribute_path():
    listing = {i.name: i for i in FlaxAdapter(Tagger(nnx.Rngs(0))).layers()}
    assert set(listing) == {"enc", "blocks.0"}
    assert listing["enc"].type == "LSTM" and listing["enc"].directions == ("forward", "backward")
    assert listing["enc"].states == ("h", "c", "i", "f", "g", "o") and listing["enc"].n_units == 5
    assert listing["blocks.0"].states == ("h", "r", "z", "n") and listing["blocks.0"].layout == "batch-first"
    rev = nnx.RNN(_cell("SimpleCell", 3, 2, 0), reverse=True, time_major=True)
    (info,) = FlaxAdapter(rev).layers()
    assert (info.name, info.type, info.directions, info.layout) == ("rnn", "RNN", ("backward",), "time-major")
    bi = nnx.Bidirectional(nnx.RNN(_cell("GRUCell", 3, 2, 0)), nnx.RNN(_cell("GRUCell", 3, 2, 1)))
    assert [i.name for i in FlaxAdapter(bi).layers()] == ["bidirectional"]


def test_bidirectional_with_seq_lengths_and_restore():
    model = Tagger(nnx.Rngs(0))
    model.train()
    rng_before = jax.tree.leaves(jax.tree.map(np.asarray, nnx.state(model, nnx.RngCount)))
    x = _x(seed=1)
    e = np.asarray(model.embed(x))
    args = rnndyn.Args(x, seq_lengths=LENGTHS)
    traj = rnndyn.capture(model, args, layer="enc", state=["h", "c"], batch_size=2, progress=False)
    top_traj = rnndyn.capture(model, args, layer="blocks.0", batch_size=3, progress=False)
    fwd = _ref(model.enc.forward_rnn, e, LENGTHS)
    bwd = _ref(model.enc.backward_rnn, e, LENGTHS, reverse=True)
    for s in ("h", "c"):
        np.testing.assert_allclose(
            traj.select(layer="enc", state=s, direction="forward").states, fwd[s], atol=TOL
        )
        np.testing.assert_allclose(
            traj.select(layer="enc", state=s, direction="backward").states, bwd[s], atol=TOL
        )
    top = np.concatenate([fwd["h"], bwd["h"]], axis=2)
    np.testing.assert_allclose(top_traj.states, _ref(model.blocks[0], top, LENGTHS)["h"], atol=TOL)
    np.testing.assert_array_equal(traj.lengths, LENGTHS)
    # restored: train mode, RNG counts, the RNN classes
    assert model.drop.deterministic is False
    rng_after = jax.tree.leaves(jax.tree.map(np.asarray, nnx.state(model, nnx.RngCount)))
    assert len(rng_after) == len(rng_before) and all(map(np.array_equal, rng_before, rng_after))
    assert type(model.enc.forward_rnn) is nnx.RNN and type(model.blocks[0]) is nnx.RNN


def test_reverse_without_keep_order_and_time_major():
    rnn = nnx.RNN(_cell("OptimizedLSTMCell", 3, 4, 6), reverse=True)
    x = _x(seed=2)
    traj = rnndyn.capture(
        rnn, rnndyn.Args(x, seq_lengths=LENGTHS), state=["h", "c"], batch_size=3, progress=False
    )
    ref = _ref(rnn, x, LENGTHS, reverse=True)
    np.testing.assert_allclose(traj.select(state="h").states, ref["h"], atol=TOL)
    np.testing.assert_allclose(traj.select(state="c").states, ref["c"], atol=TOL)
    assert set(traj.units.direction) == {"backward"}
    tm = nnx.RNN(_cell("GRUCell", 3, 4, 7), time_major=True)
    traj = rnndyn.capture(tm, x.transpose(1, 0, 2), state=["h", "z"], batch_size=2, progress=False)
    ref = _ref(tm, x)
    assert traj.shape == (5, 6, 8)
    np.testing.assert_allclose(traj.select(state="z").states, ref["z"], atol=TOL)


class Counter(nnx.Module):
    """A Bidirectional of identity cells that add their input: 1 per real step, 1000 per padding step."""

    def __init__(self):
        def cell():
            c = nnx.SimpleCell(1, 1, activation_fn=lambda a: a, rngs=nnx.Rngs(0))
            c.dense_i.kernel[...] = np.ones((1, 1), np.float32)
            c.dense_i.bias[...] = np.zeros(1, np.float32)
            c.dense_h.kernel[...] = np.ones((1, 1), np.float32)
            return c

        self.bi = nnx.Bidirectional(nnx.RNN(cell()), nnx.RNN(cell()))

    def __call__(self, x, seq_lengths):
        return self.bi(x, seq_lengths=seq_lengths)


@pytest.mark.parametrize("arrangement", ["input", "processing"])
def test_region_masks_match_a_counter_run_by_flax(arrangement):
    T = 7
    lengths = np.array([7, 3, 5, 1, 2, 6])
    x = np.where(np.arange(T)[None, :] < lengths[:, None], 1.0, 1000.0).astype(np.float32)[:, :, None]
    traj = rnndyn.capture(Counter(), rnndyn.Args(x, seq_lengths=lengths), progress=False)
    if arrangement == "processing":
        traj = traj.processing_order()
    d = np.diff(np.asarray(traj.states, np.float64), axis=1)
    np.testing.assert_array_equal(traj.delta_mask("input"), np.abs(d) == 1)
    np.testing.assert_array_equal(traj.delta_mask("padding"), np.abs(d) != 1)


def test_device_gives_jax_arrays():
    rnn = nnx.RNN(_cell("SimpleCell", 3, 4, 8))
    traj = rnndyn.capture(rnn, _x(), device="cpu", progress=False)
    assert isinstance(traj.states, jax.Array)
    np.testing.assert_allclose(np.asarray(traj.states), _ref(rnn, _x())["h"], atol=TOL)


def test_unknown_layer_lists_the_layers():
    with pytest.raises(PluginError, match=r"(?s)Unknown layer 'dec'.*enc.*blocks\.0"):
        rnndyn.capture(Tagger(nnx.Rngs(0)), _x(), layer="dec", progress=False)


def test_importing_the_plugin_imports_no_framework():
    code = "import sys, rnndyn_flax.plugin, rnndyn_flax; print('jax' in sys.modules or 'flax' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_docs_page_runs():
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "flax.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks
    namespace = {"__name__": "flax_md"}  # the page is read top to bottom: later blocks use earlier ones
    for code in blocks:
        exec(compile(code, "docs/flax.md", "exec"), namespace)
