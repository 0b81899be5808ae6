"""The "no adapter claims this model" error separates adapters that could run from those whose
framework is not installed, and says how to install each."""

from __future__ import annotations

import types

import pytest

import rnndyn
from rnndyn.hookspecs import hookimpl
from rnndyn.plugins import framework_missing, get_plugin_manager


def _plugin(framework):
    mod = types.SimpleNamespace(FRAMEWORK=framework)

    @hookimpl
    def rnndyn_claim_model(model):
        return None

    mod.rnndyn_claim_model = rnndyn_claim_model
    return mod


@pytest.fixture
def registered():
    pm = get_plugin_manager()
    names = []

    def add(name, framework):
        pm.register(_plugin(framework), name=name)
        names.append(name)

    yield add
    for name in names:
        pm.unregister(name=name)


def test_adapters_without_their_framework_are_listed_apart(registered):
    registered("ghostnet", ("ghostnet_framework_not_installed", "pip install 'rnndyn-ghostnet'"))
    registered("numpylike", ("numpy", "pip install numpy"))
    with pytest.raises(rnndyn.PluginError) as info:
        rnndyn.plugins.find_adapter(object())
    msg = str(info.value)
    ready = msg.split("Installed adapter plugins: ")[1].split(".")[0]
    assert "numpylike" in ready and "ghostnet" not in ready and "torch" in ready
    assert (
        "Adapters whose framework is not installed: ghostnet (needs ghostnet_framework_not_installed: "
        "pip install 'rnndyn-ghostnet')" in msg
    )


@pytest.mark.parametrize(
    "declared",
    [None, "torch", ("torch",), ("torch", 3), ["torch", "pip install torch"], ("", "x")],
)
def test_undeclared_or_malformed_frameworks_count_as_installed(declared):
    assert framework_missing(types.SimpleNamespace(FRAMEWORK=declared)) == ""


def test_the_shipped_plugins_declare_their_framework():
    from rnndyn_keras import plugin as keras_plugin
    from rnndyn_torch import plugin as torch_plugin

    assert torch_plugin.FRAMEWORK[0] == "torch" and "rnndyn[torch]" in torch_plugin.FRAMEWORK[1]
    assert keras_plugin.FRAMEWORK[0] == "keras"
    assert framework_missing(torch_plugin) == "" and framework_missing(keras_plugin) == ""
