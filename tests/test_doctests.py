"""Every Examples section in the packages' docstrings runs and is right."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import matplotlib
import pytest

import rnndyn
import rnndyn_flax
import rnndyn_keras
import rnndyn_torch

matplotlib.use("Agg")

MODULES = sorted(
    ["rnndyn"]
    + [m.name for m in pkgutil.walk_packages(rnndyn.__path__, "rnndyn.")]
    + ["rnndyn_torch", "rnndyn_keras", "rnndyn_flax"]
    + [m.name for m in pkgutil.walk_packages(rnndyn_torch.__path__, "rnndyn_torch.")]
    + [m.name for m in pkgutil.walk_packages(rnndyn_keras.__path__, "rnndyn_keras.")]
    + [m.name for m in pkgutil.walk_packages(rnndyn_flax.__path__, "rnndyn_flax.")]
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} doctest(s) failed in {name}"
