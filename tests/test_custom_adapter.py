"""The third-party example plugin (examples/custom_adapter), used as it is installed.

The README's test command installs it (``pip install -e ./examples/custom_adapter``);
these tests go through its real entry point, as a user's process would.
"""

from __future__ import annotations

from importlib import metadata

import numpy as np
import pytest

from rnndyn import PluginError, capture, plugins
from rnndyn.testing import check_adapter, plugin_manager

INSTALL = (
    "The example plugin is not installed; install it as the README's test command does: "
    ".venv/bin/pip install -e ./examples/custom_adapter"
)


#: a fresh manager holding the installed entry points (as a new process finds them)
manager = plugin_manager(entry_points=True)


@pytest.fixture(scope="module")
def entry_point():
    found = [ep for ep in metadata.entry_points(group="rnndyn") if ep.name == "numpyrnn"]
    if not found:
        pytest.fail(INSTALL)
    return found[0]


@pytest.fixture
def model():
    from rnndyn_numpyrnn import NumpyRNN

    return NumpyRNN.random(n_inputs=3, n_units=4, seed=7, name="elman")


def loop_reference(model, x):
    """h_t = tanh(W_x x_t + W_h h_{t-1} + b), one sequence and one step at a time."""
    out = np.zeros((x.shape[0], x.shape[1], model.n_units))
    for i in range(x.shape[0]):
        h = np.zeros(model.n_units)
        for t in range(x.shape[1]):
            h = np.tanh(model.W_x @ x[i, t] + model.W_h @ h + model.b)
            out[i, t] = h
    return out


def test_the_entry_point(entry_point):
    assert entry_point.value == "rnndyn_numpyrnn.plugin"
    assert entry_point.dist.name == "rnndyn-numpyrnn"
    module = entry_point.load()
    assert callable(module.rnndyn_claim_model)


def test_capture_through_the_entry_point_equals_a_loop(entry_point, manager, model):
    x = np.random.default_rng(3).normal(size=(9, 6, 3))
    traj = capture(model, x, batch_size=4, progress=False)
    assert manager.get_plugin("numpyrnn") is not None  # found through the entry point
    np.testing.assert_allclose(traj.states, loop_reference(model, x), rtol=1e-12, atol=1e-14)
    assert traj.units["layer"].unique().tolist() == ["elman"]
    assert traj.units["index"].tolist() == [0, 1, 2, 3]


def test_it_passes_the_adapter_contract(entry_point, manager, model):
    x = np.random.default_rng(6).normal(size=(7, 5, 3))
    check_adapter(
        model, x, reference=lambda m, x: {("elman", "h"): loop_reference(m, x)}, lengths=[5, 1, 3, 5, 2, 4, 1]
    )


def test_list_plugins_shows_it(entry_point, manager):
    from rnndyn import list_plugins

    (entry,) = [p for p in list_plugins() if p["name"] == "numpyrnn"]
    assert entry == {
        "name": "numpyrnn",
        "module": "rnndyn_numpyrnn.plugin",
        "dist": "rnndyn-numpyrnn",
        "version": metadata.version("rnndyn-numpyrnn"),
        "hooks": ["rnndyn_claim_model", "rnndyn_load_model", "rnndyn_register_metrics"],
    }


def test_load_model(entry_point, manager, model, tmp_path):
    path = tmp_path / "elman.npz"
    model.save(path)
    for framework in (None, "numpyrnn"):
        loaded = plugins.load_model(path, framework=framework)
        assert type(loaded) is type(model) and loaded.name == "elman"
        for name in ("W_x", "W_h", "b"):
            np.testing.assert_array_equal(getattr(loaded, name), getattr(model, name))
    x = np.random.default_rng(4).normal(size=(3, 5, 3))
    np.testing.assert_array_equal(
        capture(loaded, x, progress=False).states, capture(model, x, progress=False).states
    )


def test_load_model_declines_other_files_and_never_unpickles(entry_point, manager, tmp_path):
    other = tmp_path / "other.npz"
    np.savez(other, something=np.zeros(3))
    with pytest.raises(PluginError, match="could load.*numpyrnn"):
        plugins.load_model(other)
    evil = tmp_path / "evil.npz"
    np.savez(
        evil, W_x=np.array([{"a": 1}], dtype=object), W_h=np.zeros((1, 1)), b=np.zeros(1), name=np.array("x")
    )
    for framework in ("numpyrnn", None):  # it looks like ours, but holds a pickle: refused
        with pytest.raises(ValueError, match="allow_pickle=False"):
            plugins.load_model(evil, framework=framework)


def test_its_metric(entry_point, manager, model):
    metric = plugins.extra_metrics()["mean_abs_state"]
    x = np.random.default_rng(5).normal(size=(4, 6, 3))
    lengths = [6, 2, 4, 1]
    traj = capture(model, x, lengths=lengths, progress=False)
    ref = loop_reference(model, x)
    expected = np.mean(np.concatenate([np.abs(ref[i, : lengths[i]]) for i in range(4)], axis=0), axis=0)
    np.testing.assert_allclose(metric(traj), expected, rtol=1e-12)
