"""The hook implementations rnndyn loads through the entry point ``rnndyn:flax``.

Importing this module imports neither jax nor flax: a model can only be an
``nnx.Module`` once ``flax.nnx`` is in :data:`sys.modules`.

Examples
--------
>>> rnndyn_claim_model("not a model") is None
True
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from rnndyn.hookspecs import hookimpl

if TYPE_CHECKING:
    from .adapter import FlaxAdapter

__all__ = ["rnndyn_claim_model", "rnndyn_step_map", "FRAMEWORK"]

#: the module the adapter needs, and how to install it (named in "no adapter claims" errors)
FRAMEWORK = ("flax", "pip install 'rnndyn[flax]'")


@hookimpl
def rnndyn_claim_model(model: Any) -> FlaxAdapter | None:
    """A :class:`~rnndyn_flax.FlaxAdapter` for any ``flax.nnx.Module``, else ``None``.

    Examples
    --------
    >>> rnndyn_claim_model(object()) is None
    True
    """
    nnx = sys.modules.get("flax.nnx")
    module_cls = getattr(nnx, "Module", None)
    if module_cls is None or not isinstance(model, module_cls):
        return None
    from .adapter import FlaxAdapter

    return FlaxAdapter(model)


@hookimpl
def rnndyn_step_map(model: Any, layer: str) -> dict[str, Any] | None:
    """The cells of a Flax layer (see :mod:`rnndyn_flax._step_map`), else ``None``.

    Examples
    --------
    >>> rnndyn_step_map(object(), "rnn") is None
    True
    """
    nnx = sys.modules.get("flax.nnx")
    module_cls = getattr(nnx, "Module", None)
    if module_cls is None or not isinstance(model, module_cls):
        return None
    from ._step_map import step_map

    return step_map(model, layer)
