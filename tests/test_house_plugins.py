"""Plugins, dynamics and output, one idea per module: the register callback, the names
that stay where they are documented, and the size of each module."""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pytest

from rnndyn import PluginError, RnndynError, plugins
from rnndyn.hookspecs import hookimpl

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def manager(monkeypatch):
    pm = plugins.make_plugin_manager()
    monkeypatch.setattr(plugins, "pm", pm)
    monkeypatch.setattr(plugins, "_loaded", True)
    return pm


def test_each_plugin_gets_its_own_register_and_is_named_in_a_clash(manager):
    seen = []

    class First:
        @hookimpl
        def rnndyn_register_metrics(self, register):
            seen.append(register)
            register("spread", np.std)
            register("level", np.mean)

    class Second:
        @hookimpl
        def rnndyn_register_metrics(self, register):
            seen.append(register)
            register("level", np.median)

    manager.register(First(), name="first")
    assert plugins.extra_metrics() == {"spread": np.std, "level": np.mean}
    manager.register(Second(), name="second")
    seen.clear()
    with pytest.raises(RnndynError, match="'level' is registered by both plugin 'second' and plugin 'first'"):
        plugins.extra_metrics()
    assert len(seen) == 2 and seen[0] is not seen[1]


@pytest.mark.parametrize(("name", "func"), [("", np.std), ("  ", np.std), (3, np.std), ("ok", "np.std")])
def test_register_refuses_bad_names_and_functions(manager, name, func):
    class Bad:
        @hookimpl
        def rnndyn_register_metrics(self, register):
            register(name, func)

    manager.register(Bad(), name="bad")
    with pytest.raises(PluginError, match="Plugin 'bad': rnndyn_register_metrics must call register"):
        plugins.extra_metrics()


def test_a_plugin_without_metrics_registers_nothing(manager):
    class Quiet:
        @hookimpl
        def rnndyn_register_metrics(self):
            return None

    manager.register(Quiet(), name="quiet")
    assert plugins.extra_metrics() == {}


PUBLIC = {
    "rnndyn.plugins": [
        "ENTRY_POINT_GROUP",
        "pm",
        "make_plugin_manager",
        "load_plugins",
        "get_plugin_manager",
        "list_plugins",
        "find_adapter",
        "load_model",
        "extra_metrics",
        "step_map",
    ],
    "rnndyn.dynamics": [
        "step_map",
        "LSTMCell",
        "GRUCell",
        "RNNCell",
        "StepCell",
        "ACTIVATIONS",
        "FixedPoints",
        "fixed_points",
        "JacobianSpectra",
        "jacobians",
        "Linearization",
        "linearize",
        "predicted_relaxation",
        "predicted_msd_plateau",
        "relaxation_times",
    ],
    "rnndyn.plots": ["heatmap", "unit_traces", "curves", "distribution", "ensemble", "loglog", "MAX_BINS"],
    "rnndyn.report": ["Report"],
    # private names other packages import
    "rnndyn._cells": ["Cell", "check_cell", "LSTMCell", "StepCell"],
    "rnndyn._outdir": ["MANIFEST", "check_out", "write_dir", "resolve_out"],
}


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_names_stay_where_they_are_documented(module):
    mod = importlib.import_module(module)
    missing = [name for name in PUBLIC[module] if not hasattr(mod, name)]
    assert not missing, f"{module} lost {missing}"
    if hasattr(mod, "__all__"):
        assert set(mod.__all__) <= set(dir(mod))


def test_the_dynamics_names_are_the_same_objects_everywhere():
    from rnndyn import _cells, _jacobians, _step_cell, dynamics

    assert dynamics.StepCell is _cells.StepCell is _step_cell.StepCell
    assert dynamics.jacobians is _jacobians.jacobians
    assert dynamics.step_map is plugins.step_map


MINE = [
    "rnndyn/plugins.py",
    "rnndyn/_plugin_loading.py",
    "rnndyn/hookspecs.py",
    "rnndyn/_cells.py",
    "rnndyn/_cell_base.py",
    "rnndyn/_step_cell.py",
    "rnndyn/dynamics.py",
    "rnndyn/_jacobians.py",
    "rnndyn/_fixed_points.py",
    "rnndyn/_linear_response.py",
    "rnndyn/_state_units.py",
    "rnndyn/_outdir.py",
    "rnndyn/_manifest.py",
    "rnndyn/plots.py",
    "rnndyn/_plot_checks.py",
    "rnndyn/report.py",
]


@pytest.mark.parametrize("path", MINE)
def test_each_module_is_small_enough_to_read(path):
    n = len((ROOT / path).read_text().splitlines())
    assert n <= 380, f"{path} has {n} lines; split it by idea"
