"""The rnndyn plugin for Keras 3: claims Keras models, loads ``.keras`` files.

Registered through the entry point ``keras = "rnndyn_keras.plugin"`` (group
``rnndyn``). Importing this module imports neither keras nor tensorflow nor
torch: a Keras model can only exist once ``keras`` is in :data:`sys.modules`,
so the claim looks there first.

Examples
--------
>>> import sys
>>> from rnndyn_keras import plugin
>>> plugin.rnndyn_claim_model(object()) is None
True
>>> plugin.rnndyn_load_model("model.pt", None) is None
True
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from rnndyn.hookspecs import hookimpl

__all__ = ["rnndyn_claim_model", "rnndyn_load_model"]

#: names the ``framework=`` argument of :func:`rnndyn_load_model` accepts
FRAMEWORK_NAMES = ("keras", "tensorflow", "tf")


@hookimpl(tryfirst=True)
def rnndyn_claim_model(model: Any) -> Any:
    """Return a :class:`~rnndyn_keras.adapter.KerasAdapter` for a Keras model or layer.

    Runs before the other plugins (``tryfirst``): on the PyTorch backend a Keras
    model is also a ``torch.nn.Module``, and only this adapter knows its layers.
    """
    keras = sys.modules.get("keras")
    if keras is None:
        return None
    layer_cls = getattr(getattr(keras, "layers", None), "Layer", None)
    if layer_cls is None or not isinstance(model, layer_cls):
        return None
    from .adapter import KerasAdapter

    return KerasAdapter(model)


@hookimpl
def rnndyn_load_model(path: str, framework: str | None) -> Any:
    """Load a ``.keras`` file with ``keras.saving.load_model(path, safe_mode=True)``.

    Declines (returns ``None``) other suffixes and other frameworks. Safe mode
    refuses to deserialize code (``Lambda`` layers and the like).
    """
    if framework is not None and framework.lower() not in FRAMEWORK_NAMES:
        return None
    if Path(str(path)).suffix.lower() != ".keras":
        return None
    import keras

    return keras.saving.load_model(str(path), safe_mode=True)
