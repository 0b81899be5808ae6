"""rnndyn.testing catches broken adapters: each toy breaks one clause and fails with its name."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

import rnndyn
from rnndyn import plugins
from rnndyn.adapter import LayerInfo, call_model
from rnndyn.hookspecs import hookimpl
from rnndyn.testing import check_adapter, isolated_plugins, plugin_manager, units_table


class ToyRNN:
    """An Elman RNN with a training flag, as frameworks have."""

    def __init__(self, n_inputs: int = 3, n_units: int = 4, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.W_x = rng.normal(scale=0.5, size=(n_units, n_inputs))
        self.W_h = rng.normal(scale=0.3, size=(n_units, n_units))
        self.training = True

    def __call__(self, x):
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 3 or x.shape[2] != self.W_x.shape[1]:
            raise ValueError(f"ToyRNN takes (n, T, {self.W_x.shape[1]}); got {x.shape}")
        h = np.zeros((x.shape[0], self.W_h.shape[0]))
        out = np.empty((*x.shape[:2], h.shape[1]))
        for t in range(x.shape[1]):
            h = np.tanh(x[:, t] @ self.W_x.T + h @ self.W_h.T)
            out[:, t] = h
        return out


class ToyAdapter:
    framework = "toy"

    def __init__(self, model: ToyRNN) -> None:
        self.model = model

    def layers(self):
        return [LayerInfo("rnn", "ToyRNN", ("h",), ("forward",), self.model.W_h.shape[0])]

    def states(self, batch, h):
        return h

    def capture(self, batches, targets, *, device=None):
        was = self.model.training
        self.model.training = False
        try:
            for batch in batches:
                h = self.states(batch, call_model(self.model, batch))
                units = units_table("rnn", "h", ("forward",), h.shape[2])
                yield rnndyn.Trajectories(h, batch.lengths, units)
        finally:
            self.model.training = was


class WrongShape(ToyAdapter):
    def states(self, batch, h):
        return h[:, :, :-1]  # drops a unit: fewer than LayerInfo.n_units


class BatchDependent(ToyAdapter):
    def states(self, batch, h):
        return h - h.mean(axis=0, keepdims=True)  # depends on the other sequences of the batch


class NoRestore(ToyAdapter):
    def capture(self, batches, targets, *, device=None):
        self.model.training = False  # never put back
        for batch in batches:
            h = call_model(self.model, batch)
            yield rnndyn.Trajectories(h, batch.lengths, units_table("rnn", "h", ("forward",), h.shape[2]))


class Rng:
    def __init__(self) -> None:
        self.count = 0


class AdvancesRng(ToyAdapter):
    def capture(self, batches, targets, *, device=None):
        for traj in super().capture(batches, targets, device=device):
            self.model.rngs["dropout"].count += 1  # a draw the capture never puts back
            yield traj


class OnDevice(ToyAdapter):
    def capture(self, batches, targets, *, device=None):
        for traj in super().capture(batches, targets, device=device):
            yield traj if device is None else traj._replace(states=traj.states * 1.01)


class DuplicateLayers(ToyAdapter):
    def layers(self):
        return super().layers() * 2


class BackwardFirst(ToyAdapter):
    def layers(self):
        info = super().layers()[0]
        return [LayerInfo(info.name, info.type, info.states, ("forward", "backward"), info.n_units)]

    def capture(self, batches, targets, *, device=None):
        for batch in batches:
            h = call_model(self.model, batch)
            units = pd.concat([units_table("rnn", "h", ("backward", "forward"), h.shape[2])])
            yield rnndyn.Trajectories(np.concatenate([h, h], axis=2), batch.lengths, units)


class Claims:
    def __init__(self, adapter: type[ToyAdapter]) -> None:
        self.adapter = adapter

    @hookimpl
    def rnndyn_claim_model(self, model):
        return self.adapter(model) if isinstance(model, ToyRNN) else None


X = np.random.default_rng(1).normal(size=(5, 6, 3))

manager = plugin_manager(Claims(ToyAdapter))


def reference(model, x):
    return {("rnn", "h"): model(x)}


def test_a_good_adapter_passes(manager):
    check_adapter(ToyRNN(), X, reference=reference, lengths=[6, 3, 1, 6, 2])
    assert [p["name"] for p in plugins.list_plugins()] == [
        manager.get_name(next(iter(manager.get_plugins())))
    ]


@pytest.mark.parametrize(
    "adapter, clause, words",
    [
        (WrongShape, "shape", "n_units is 4 but the capture has 3 units"),
        (BatchDependent, "batching", "in batches of 2"),
        (NoRestore, "restore", "left the model changed: \\['training'\\]"),
        (DuplicateLayers, "layers", "unique"),
        (BackwardFirst, "units", "forward units, then the backward units"),
    ],
)
def test_a_broken_adapter_fails_with_its_clause(adapter, clause, words):
    with isolated_plugins(Claims(adapter)), pytest.raises(AssertionError, match=rf"\[{clause}\].*{words}"):
        check_adapter(ToyRNN(), X, check_import=False)


def test_rng_draws_and_device_captures_are_checked():
    model = ToyRNN()
    model.rngs = {"dropout": Rng()}  # nested like a framework's RNG streams
    with (
        isolated_plugins(Claims(AdvancesRng)),
        pytest.raises(AssertionError, match=r"\[restore\].*rngs.dropout.count"),
    ):
        check_adapter(model, X, check_import=False)
    with isolated_plugins(Claims(OnDevice)):
        check_adapter(ToyRNN(), X, check_import=False)  # device not asked for: not checked
        with pytest.raises(AssertionError, match=r"\[device\].*device='cpu'"):
            check_adapter(ToyRNN(), X, check_import=False, device="cpu")


def test_two_claims_and_none_fail():
    with isolated_plugins(Claims(ToyAdapter), Claims(ToyAdapter)):
        with pytest.raises(AssertionError, match=r"\[claim\].*claimed by \[.*, .*\]"):
            check_adapter(ToyRNN(), X, check_import=False)
    with isolated_plugins(), pytest.raises(AssertionError, match=r"\[claim\].*none"):
        check_adapter(ToyRNN(), X)


def test_a_wrong_reference_fails(manager):
    def off(model, x):
        return {("rnn", "h"): model(x) + 1e-3}

    with pytest.raises(AssertionError, match=r"\[reference\].*differs beyond 1e-05"):
        check_adapter(ToyRNN(), X, reference=off, check_import=False)


def test_a_plugin_that_imports_its_framework_fails(tmp_path, monkeypatch):
    (tmp_path / "fakefw.py").write_text("")
    (tmp_path / "toy_heavy_plugin.py").write_text(
        textwrap.dedent(
            """
            import fakefw  # the framework, imported at plugin import: wrong
            from rnndyn.hookspecs import hookimpl

            FRAMEWORK = ("fakefw", "pip install fakefw")


            @hookimpl
            def rnndyn_claim_model(model):
                if type(model).__name__ == "ToyRNN":
                    from test_testing_kit import ToyAdapter

                    return ToyAdapter(model)
                return None
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with (
        isolated_plugins("toy_heavy_plugin"),
        pytest.raises(AssertionError, match=r"\[import\].*\['fakefw'\]"),
    ):
        check_adapter(ToyRNN(), X)


def test_isolated_plugins_puts_the_installed_ones_back():
    before = plugins.list_plugins()
    with isolated_plugins() as pm:
        assert plugins.list_plugins() == [] and pm.get_plugins() == set()
        with pytest.raises(rnndyn.PluginError):
            plugins.find_adapter(ToyRNN())
    assert plugins.list_plugins() == before


def test_units_table_refuses_bad_arguments():
    with pytest.raises(rnndyn.RnndynError, match="directions"):
        units_table("a", "h", ("sideways",), 2)
    with pytest.raises(rnndyn.RnndynError, match="n_units"):
        units_table("a", "h", ("forward",), 0)


def test_importing_rnndyn_does_not_import_the_kit():
    code = "import sys, rnndyn; assert 'rnndyn.testing' not in sys.modules and 'pytest' not in sys.modules"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    code = "import sys, rnndyn.testing; assert 'pytest' not in sys.modules and 'torch' not in sys.modules"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
