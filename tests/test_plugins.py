"""The plugin machinery: discovery, one test per hook, errors, import hygiene."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import warnings
from importlib import metadata
from pathlib import Path

import numpy as np
import pluggy
import pytest

import rnndyn
from rnndyn import PluginError, RnndynError, Trajectories, plugins
from rnndyn.adapter import LayerInfo
from rnndyn.hookspecs import hookimpl

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------- fixtures
@pytest.fixture
def fresh(monkeypatch):
    """A fresh manager in place of the process-wide one, with no entry point loaded."""
    manager = plugins.make_plugin_manager()
    monkeypatch.setattr(plugins, "pm", manager)
    monkeypatch.setattr(plugins, "_loaded", True)
    return manager


@pytest.fixture
def register(fresh):
    """Register throwaway plugins on the fresh manager; unregister them afterwards."""
    names: list[str] = []

    def _register(plugin, name=None):
        names.append(fresh.register(plugin, name=name))
        return plugin

    try:
        yield _register
    finally:
        for name in names:
            if fresh.get_plugin(name) is not None:
                fresh.unregister(name=name)


@pytest.fixture
def fake_entry_points(monkeypatch, tmp_path):
    """Point the entry-point group at plugin modules written into tmp_path."""
    monkeypatch.syspath_prepend(str(tmp_path))
    eps: list[metadata.EntryPoint] = []
    real = metadata.entry_points

    def entry_points(**kw):
        if kw.get("group") == "rnndyn":
            return list(eps)
        return real(**kw)

    monkeypatch.setattr(metadata, "entry_points", entry_points)

    def add(name, module, source=None):
        if source is not None:
            (tmp_path / f"{module}.py").write_text(textwrap.dedent(source))
        eps.append(metadata.EntryPoint(name=name, value=module, group="rnndyn"))

    return add


class ToyAdapter:
    framework = "toy"

    def __init__(self, model):
        self.model = model

    def layers(self):
        return [LayerInfo("rnn", "Toy", ("h",), ("forward",), 1)]

    def capture(self, batches, targets, *, device=None):
        for b in batches:
            yield Trajectories(np.asarray(b.data, dtype=float)[:, :, None])


class IntModel(int):
    pass


# ------------------------------------------------------- one test per hook
def test_rnndyn_claim_model(register):
    calls = []

    class Declines:
        @hookimpl
        def rnndyn_claim_model(self, model):
            calls.append("declines")
            return None

    class ClaimsInts:
        @hookimpl
        def rnndyn_claim_model(self, model):
            calls.append("ints")
            return ToyAdapter(model) if isinstance(model, IntModel) else None

    register(ClaimsInts(), "ints")
    register(Declines(), "declines")  # registered last: asked first
    adapter = plugins.find_adapter(IntModel(3))
    assert isinstance(adapter, ToyAdapter) and adapter.model == 3
    assert calls == ["declines", "ints"]

    # firstresult: once one claims, the plugins after it are not asked
    class ClaimsAll:
        @hookimpl
        def rnndyn_claim_model(self, model):
            calls.append("all")
            return ToyAdapter(model)

    register(ClaimsAll(), "all")
    calls.clear()
    assert plugins.find_adapter(IntModel(4)).model == 4
    assert calls == ["all"]


def test_find_adapter_error_lists_adapters_and_how_to_add(register):
    class ClaimsInts:
        @hookimpl
        def rnndyn_claim_model(self, model):
            return ToyAdapter(model) if isinstance(model, IntModel) else None

    register(ClaimsInts(), "toyints")
    with pytest.raises(PluginError) as info:
        plugins.find_adapter(["not", "a", "model"])
    msg = str(info.value)
    assert "builtins.list" in msg
    assert "toyints" in msg
    assert "rnndyn[torch]" in msg and "rnndyn[keras]" in msg
    assert "docs/plugins.md" in msg
    assert isinstance(info.value, KeyError) and isinstance(info.value, ValueError)


def test_find_adapter_rejects_a_non_adapter(register):
    class Bad:
        @hookimpl
        def rnndyn_claim_model(self, model):
            return object()

    register(Bad(), "bad")
    with pytest.raises(PluginError, match=r"without the method\(s\) \['layers', 'capture'\]"):
        plugins.find_adapter(1)


def test_rnndyn_load_model(register, tmp_path):
    seen = []

    class ToyLoader:
        @hookimpl
        def rnndyn_load_model(self, path, framework):
            seen.append((path, framework))
            if framework not in (None, "toy") or not path.endswith(".toy"):
                return None
            return ("toy model", Path(path).read_text())

    register(ToyLoader(), "toyloader")
    f = tmp_path / "m.toy"
    f.write_text("weights")
    assert plugins.load_model(f) == ("toy model", "weights")
    assert seen[-1] == (str(f), None)  # the hook gets a str path
    assert plugins.load_model(str(f), framework="toy")[1] == "weights"

    with pytest.raises(PluginError) as info:
        plugins.load_model(f, framework="other")
    assert "framework='other'" in str(info.value) and "toyloader" in str(info.value)

    other = tmp_path / "m.bin"
    other.write_bytes(b"\0")
    with pytest.raises(PluginError, match="No installed rnndyn plugin could load"):
        plugins.load_model(other)

    n_calls = len(seen)
    with pytest.raises(RnndynError, match="nothing exists at path") as missing:
        plugins.load_model(tmp_path / "missing.toy")
    assert not isinstance(missing.value, PluginError)
    assert len(seen) == n_calls  # no plugin was asked about a missing file
    with pytest.raises(RnndynError, match="framework must be a name"):
        plugins.load_model(f, framework=3)


def test_rnndyn_register_metrics(register):
    def a(traj):
        return np.zeros(traj.n_units)

    def b(traj):
        return np.ones(traj.n_units)

    class One:
        @hookimpl
        def rnndyn_register_metrics(self, register):
            register("metric_a", a)

    class Two:
        @hookimpl
        def rnndyn_register_metrics(self, register):
            register("metric_b", b)

    assert plugins.extra_metrics() == {}
    register(One(), "one")
    register(Two(), "two")
    assert plugins.extra_metrics() == {"metric_b": b, "metric_a": a}

    class Clash:
        @hookimpl
        def rnndyn_register_metrics(self, register):
            register("metric_a", b)

    register(Clash(), "clash")
    with pytest.raises(RnndynError) as info:
        plugins.extra_metrics()
    assert "'metric_a'" in str(info.value)
    assert "'one'" in str(info.value) and "'clash'" in str(info.value)


def test_register_metrics_takes_names_and_functions_and_returns_nothing(register, fresh):
    class NotAFunction:
        @hookimpl
        def rnndyn_register_metrics(self, register):
            register("metric", [len])

    register(NotAFunction(), "notafunction")
    with pytest.raises(PluginError, match="'notafunction'.*register\\(name, func\\).*list"):
        plugins.extra_metrics()
    fresh.unregister(name="notafunction")

    class ReturnsADict:
        @hookimpl
        def rnndyn_register_metrics(self):
            return {"metric": len}

    register(ReturnsADict(), "returnsadict")
    with pytest.raises(PluginError, match="'returnsadict'.*return nothing; it returned a dict"):
        plugins.extra_metrics()


def test_rnndyn_step_map(register):
    from rnndyn.dynamics import RNNCell

    calls = []

    class Claims:
        @hookimpl
        def rnndyn_claim_model(self, model):
            return ToyAdapter(model) if isinstance(model, IntModel) else None

    class Declines:
        @hookimpl
        def rnndyn_step_map(self, model, layer):
            calls.append(("declines", layer))
            return None

    register(Claims(), "ints")
    register(Declines(), "declines")
    with pytest.raises(PluginError) as info:
        plugins.step_map(IntModel(2))
    msg = str(info.value)
    assert "rnndyn_step_map" in msg and "'rnn'" in msg and "declines" in msg and "ints" in msg
    assert calls == [("declines", "rnn")]  # layer=None: the only layer, by name

    cell = RNNCell(np.ones((1, 1)), 0.5 * np.eye(1))

    class Maps:
        @hookimpl
        def rnndyn_step_map(self, model, layer):
            calls.append(("maps", layer))
            return {"forward": cell}

    register(Maps(), "maps")  # registered last: asked first, and wins (firstresult)
    calls.clear()
    assert plugins.step_map(IntModel(2), "rnn") == {"forward": cell}
    assert calls == [("maps", "rnn")]
    with pytest.raises(PluginError, match="Unknown layer 'rnm'.*Did you mean 'rnn'"):
        plugins.step_map(IntModel(2), "rnm")

    class Wrong:
        @hookimpl(tryfirst=True)
        def rnndyn_step_map(self, model, layer):
            return {"forward": cell, "backward": cell}

    register(Wrong(), "wrong")
    with pytest.raises(PluginError, match="directions are \\['forward'\\].*bug in the plugin"):
        plugins.step_map(IntModel(2))


# ---------------------------------------------------------------- discovery
GOOD = """
    from rnndyn.hookspecs import hookimpl

    @hookimpl
    def rnndyn_register_metrics(register):
        register("good_metric", len)
"""


def test_a_plugin_that_fails_to_import_warns_and_discovery_goes_on(fake_entry_points, register):
    manager = plugins.make_plugin_manager()
    fake_entry_points("broken", "rnndyn_test_broken", "raise RuntimeError('kaput')\n")
    fake_entry_points("good", "rnndyn_test_good", GOOD)
    with pytest.warns(RuntimeWarning) as record:
        added = plugins.load_plugins(manager)
    assert added == ["good"]
    (w,) = [w for w in record if "broken" in str(w.message)]
    assert "'rnndyn_test_broken'" in str(w.message) and "RuntimeError: kaput" in str(w.message)
    assert manager.get_plugin("good").__name__ == "rnndyn_test_good"
    assert manager.get_plugin("broken") is None


def test_get_plugin_manager_loads_once_on_first_use(monkeypatch, fake_entry_points):
    manager = plugins.make_plugin_manager()
    monkeypatch.setattr(plugins, "pm", manager)
    monkeypatch.setattr(plugins, "_loaded", False)
    fake_entry_points("good", "rnndyn_test_good2", GOOD)
    fake_entry_points("missing", "rnndyn_test_no_such_module")
    assert manager.get_plugin("good") is None  # nothing loaded yet
    with pytest.warns(RuntimeWarning, match="'missing'.*ModuleNotFoundError"):
        assert plugins.get_plugin_manager() is manager
    assert manager.get_plugin("good") is not None
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a second call loads nothing, so warns nothing
        assert plugins.get_plugin_manager() is manager
    assert plugins.extra_metrics() == {"good_metric": len}
    # the failure is remembered for the "no adapter" message
    with pytest.raises(PluginError, match="'missing' \\(ModuleNotFoundError"):
        plugins.find_adapter(object())


def test_misspelled_hookimpl_fails_loudly(fake_entry_points):
    manager = plugins.make_plugin_manager()
    fake_entry_points(
        "typo",
        "rnndyn_test_typo",
        """
        from rnndyn.hookspecs import hookimpl

        @hookimpl
        def rnndyn_claim_modle(model):
            return None
        """,
    )
    for _ in range(2):  # unregistered again, so a retry fails the same way
        with pytest.raises(PluginError, match="rnndyn_claim_modle"):
            plugins.load_plugins(manager)
        assert manager.get_plugin("typo") is None


def test_a_hookimpl_with_wrong_arguments_fails_loudly(fake_entry_points):
    manager = plugins.make_plugin_manager()
    fake_entry_points(
        "wrongargs",
        "rnndyn_test_wrongargs",
        """
        from rnndyn.hookspecs import hookimpl

        @hookimpl
        def rnndyn_claim_model(model, extra):
            return None
        """,
    )
    with pytest.raises(PluginError, match="'wrongargs'.*cannot be registered") as info:
        plugins.load_plugins(manager)
    assert isinstance(info.value.__cause__, pluggy.PluginValidationError)


def test_duplicate_entry_points_register_once(fake_entry_points):
    manager = plugins.make_plugin_manager()
    fake_entry_points("good", "rnndyn_test_good3", GOOD)
    fake_entry_points("good", "rnndyn_test_good3")
    assert plugins.load_plugins(manager) == ["good"]
    assert plugins.load_plugins(manager) == []  # already there


def test_blocked_plugins_are_not_loaded(fake_entry_points):
    manager = plugins.make_plugin_manager()
    fake_entry_points("good", "rnndyn_test_good4", GOOD)
    manager.set_blocked("good")
    assert plugins.load_plugins(manager) == []
    assert "rnndyn_test_good4" not in sys.modules


def test_list_plugins(register):
    class Toy:
        @hookimpl
        def rnndyn_claim_model(self, model):
            return None

        @hookimpl
        def rnndyn_register_metrics(self, register):
            pass

    register(Toy(), "toy")
    (entry,) = rnndyn.list_plugins()
    assert entry == {
        "name": "toy",
        "module": f"{__name__}.{Toy.__qualname__}",
        "dist": None,
        "version": None,
        "hooks": ["rnndyn_claim_model", "rnndyn_register_metrics"],
    }


# ------------------------------------------- the installed entry points
def _rnndyn_entry_points():
    return [
        ep for ep in metadata.entry_points(group="rnndyn") if ep.dist is not None and ep.dist.name == "rnndyn"
    ]


def test_the_installed_entry_points_of_rnndyn():
    eps = {ep.name: ep.value for ep in _rnndyn_entry_points()}
    assert eps == {
        "torch": "rnndyn_torch.plugin",
        "keras": "rnndyn_keras.plugin",
        "flax": "rnndyn_flax.plugin",
    }
    for name, value in eps.items():
        module = metadata.EntryPoint(name=name, value=value, group="rnndyn").load()
        manager = plugins.make_plugin_manager()
        manager.register(module, name=name)
        manager.check_pending()
        hooks = {c.name for c in manager.get_hookcallers(module)}
        assert "rnndyn_claim_model" in hooks, name
        # loading saved models is optional: Flax has no one file format to load from
        assert ("rnndyn_load_model" in hooks) == (name != "flax"), name


HYGIENE = """
import json, sys, time, warnings
t = time.perf_counter()
import rnndyn
dt = time.perf_counter() - t
early = sorted(m for m in sys.modules if m.endswith(".plugin") and m.startswith("rnndyn"))
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter("always")
    rnndyn.plugins.get_plugin_manager()
    names = [p["name"] for p in rnndyn.list_plugins()]
heavy = sorted(m for m in ("torch", "tensorflow", "keras", "jax") if m in sys.modules)
print(json.dumps({"dt": dt, "early": early, "names": names, "heavy": heavy,
                  "warnings": [str(x.message) for x in w]}))
"""


def test_import_and_plugin_loading_import_no_framework():
    runs = []
    for _ in range(3):  # the import time is the best of up to 3 clean interpreters
        out = subprocess.run(
            [sys.executable, "-c", HYGIENE], capture_output=True, text=True, timeout=60, cwd=ROOT
        )
        assert out.returncode == 0, out.stderr
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
        if runs[-1]["dt"] < 1.0:
            break
    res = runs[-1]
    assert res["heavy"] == [], f"frameworks imported: {res['heavy']} ({res['warnings']})"
    assert res["early"] == [], "plugins must load on first use, not at import"
    assert min(r["dt"] for r in runs) < 1.0, [r["dt"] for r in runs]
