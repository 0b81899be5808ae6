"""Loading the ``MODEL`` argument: a saved file through the plugin hook, or ``MODULE:FACTORY``.

* A path is loaded by :func:`rnndyn.plugins.load_model` (the
  ``rnndyn_load_model`` hook of the installed plugins: Keras ``.keras`` in safe
  mode, PyTorch safetensors written by ``rnndyn_torch.save_rnn``, ...).
* ``MODULE:FACTORY`` imports ``MODULE`` (the current folder comes first on
  ``sys.path``, as with ``python -m``) and calls ``FACTORY()`` with no
  arguments: the user's own code builds the model. ``--weights W.safetensors``
  then loads a state dict strictly (PyTorch modules).

Nothing is unpickled: pickles are refused by the plugins before any loading.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from typing import Any

from .._sniff import PICKLE, TORCH_SAVE, TORCHSCRIPT, describe_file
from ..errors import PluginError, RnndynError
from ._errors import UsageProblem

__all__ = ["load", "loaders", "FACTORY_RE", "sniff"]

#: ``package.module:factory`` (the factory may be a dotted attribute, e.g. ``Model.build``)
FACTORY_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


def _plain(doc: str) -> str:
    text = re.sub(r":\w+:`~?([^`]+)`", r"\1", doc)
    return re.sub(r"``([^`]+)``", r"\1", text).strip().rstrip(".")


def loaders() -> list[tuple[str, str]]:
    """``(plugin name, what it loads)`` for every plugin implementing ``rnndyn_load_model``.

    What it loads is the first line of the plugin's hook docstring.

    Examples
    --------
    >>> dict(loaders())["torch"]
    'Load a recurrent module saved by rnndyn_torch.save_rnn (safetensors)'
    """
    from ..plugins import get_plugin_manager

    out = []
    for impl in get_plugin_manager().hook.rnndyn_load_model.get_hookimpls():
        doc = (impl.function.__doc__ or "").strip().splitlines()
        out.append((impl.plugin_name, _plain(doc[0]) if doc else "(undocumented)"))
    return sorted(out)


def sniff(path: str) -> str:
    """What a file seems to be, from its first bytes (for error messages; nothing is loaded)."""
    what = describe_file(path)
    if what == PICKLE:
        return "a Python pickle (refused: unpickling can run code; nothing was unpickled)"
    if what == TORCHSCRIPT:
        return (
            "a TorchScript archive (not capturable: PyTorch refuses forward hooks on scripted modules; "
            "save the state dict as safetensors and use MODULE:FACTORY --weights)"
        )
    if what == TORCH_SAVE:
        return "a torch.save archive (a pickle inside a zip: refused, nothing was unpickled)"
    if what.startswith("unreadable"):
        return "unreadable"
    return "" if what == "an empty file" else what


def _load_path(path: str, framework: str | None) -> Any:
    from ..plugins import load_model

    try:
        return load_model(path, framework=framework)
    except PluginError:
        what = sniff(path)
        table = "; ".join(f"{name}: {does}" for name, does in loaders()) or "none"
        asked = f" with --framework {framework}" if framework else ""
        raise RnndynError(
            f"no installed plugin loads {path}{asked}"
            + (f" (it is {what})" if what else "")
            + f". Plugins that load models: {table}; or build the model with your own code: "
            "MODULE:FACTORY [--weights W.safetensors]."
        ) from None


def _build(spec: str, module_name: str, attr: str) -> Any:
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise RnndynError(
            f"MODEL {spec}: cannot import module {module_name!r} ({type(exc).__name__}: {exc}); run from "
            "the folder that holds it, or install it."
        ) from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise RnndynError(f"MODEL {spec}: module {module_name!r} has no attribute {attr!r}.")
        obj = getattr(obj, part)
    if not callable(obj):
        raise RnndynError(f"MODEL {spec}: {attr!r} is a {type(obj).__name__}, not a function to call.")
    return obj()


def _factory(spec: str, weights: str | None) -> Any:
    module_name, _, attr = spec.partition(":")
    saved = list(sys.path)
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())  # like `python -m`: the current folder's modules import
    try:
        model = _build(spec, module_name, attr)
    finally:
        sys.path[:] = saved
    if weights is not None:
        torch = sys.modules.get("torch")
        if torch is None or not isinstance(model, torch.nn.Module):
            raise RnndynError(
                f"--weights loads safetensors into PyTorch modules; {spec}() returned a "
                f"{type(model).__module__}.{type(model).__qualname__}. Let the factory load its own weights."
            )
        from rnndyn_torch.io import load_weights

        model = load_weights(model, weights)
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(model, torch.nn.Module):
        model = model.eval()  # capture measures the trained network, never in training mode
    return model


def load(spec: str, *, framework: str | None = None, weights: str | None = None) -> Any:
    """The model named by ``spec``: a saved file/folder or ``MODULE:FACTORY``."""
    if os.path.exists(spec):
        if weights is not None:
            raise UsageProblem(
                "--weights goes with MODEL given as MODULE:FACTORY, not with a saved model file."
            )
        return _load_path(spec, framework)
    if FACTORY_RE.match(spec):
        return _factory(spec, weights)
    raise UsageProblem(
        f"MODEL {spec!r}: no such file or folder (from {os.getcwd()}); give a saved model (e.g. a .keras "
        "file) or MODULE:FACTORY, a zero-argument function that builds the model."
    )
