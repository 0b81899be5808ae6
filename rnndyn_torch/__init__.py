"""rnndyn_torch: the PyTorch adapter plugin of rnndyn.

Importing this package does not import torch; :class:`TorchAdapter`,
:func:`save_rnn` and :func:`load_rnn` load it on first use. rnndyn finds the
plugin through the entry point ``torch = "rnndyn_torch.plugin"`` (group
``rnndyn``), so ``rnndyn.capture(torch_model, ...)`` needs no import of it.

>>> import sys, rnndyn_torch.plugin
>>> rnndyn_torch.plugin.rnndyn_claim_model(object()) is None
True
"""

from __future__ import annotations

from typing import Any

__all__ = ["TorchAdapter", "save_rnn", "load_rnn"]


def __getattr__(name: str) -> Any:
    if name == "TorchAdapter":
        from .adapter import TorchAdapter

        return TorchAdapter
    if name in ("save_rnn", "load_rnn"):
        from . import io

        return getattr(io, name)
    raise AttributeError(f"module 'rnndyn_torch' has no attribute {name!r}")
