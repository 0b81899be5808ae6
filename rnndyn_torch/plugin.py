"""The hook implementations rnndyn loads through the entry point ``rnndyn:torch``.

Importing this module never imports torch: a model can only be a
``torch.nn.Module`` if torch is already in :data:`sys.modules`.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from rnndyn.hookspecs import hookimpl

if TYPE_CHECKING:
    from .adapter import TorchAdapter

__all__ = ["rnndyn_claim_model", "rnndyn_load_model", "rnndyn_step_map", "FRAMEWORK"]

#: the module the adapter needs, and how to install it (named in "no adapter claims" errors)
FRAMEWORK = ("torch", "pip install 'rnndyn[torch]'")


@hookimpl
def rnndyn_claim_model(model: Any) -> TorchAdapter | None:
    """A :class:`~rnndyn_torch.TorchAdapter` for any ``torch.nn.Module``, else ``None``.

    Examples
    --------
    >>> rnndyn_claim_model("not a model") is None
    True
    """
    torch = sys.modules.get("torch")
    nn = getattr(torch, "nn", None)
    if nn is None or not isinstance(model, nn.Module):
        return None
    from .adapter import TorchAdapter

    return TorchAdapter(model)


@hookimpl
def rnndyn_load_model(path: str, framework: str | None) -> Any | None:
    """Load a recurrent module saved by :func:`rnndyn_torch.save_rnn` (safetensors).

    Declines (``None``) other files unless ``framework`` is ``"torch"`` (or
    ``"pytorch"``, any case), in which case it raises
    :class:`~rnndyn.RnndynError` naming the file, what it is, and which formats
    load safely. Never unpickles and never calls ``torch.load``: pickled
    ``.pt`` models could run code from the file. TorchScript archives are
    refused with the reason (PyTorch refuses forward hooks on scripted
    modules, so there is nothing to capture); a model built by its own code
    takes safetensors weights through :func:`rnndyn_torch.io.load_weights`
    (the command line's ``MODULE:FACTORY --weights``).

    Examples
    --------
    >>> rnndyn_load_model("no/such/model.pt", None) is None
    True
    """
    if framework is not None and (not isinstance(framework, str) or framework.lower() not in _NAMES):
        return None
    from .io import load_model

    return load_model(path, strict=framework is not None)


_NAMES = ("torch", "pytorch")


@hookimpl
def rnndyn_step_map(model: Any, layer: str) -> dict[str, Any] | None:
    """The cells of a PyTorch layer (see :mod:`rnndyn_torch._step_map`), else ``None``.

    Examples
    --------
    >>> rnndyn_step_map("not a model", "lstm") is None
    True
    """
    torch = sys.modules.get("torch")
    nn = getattr(torch, "nn", None)
    if nn is None or not isinstance(model, nn.Module):
        return None
    from ._step_map import step_map

    return step_map(model, layer)
