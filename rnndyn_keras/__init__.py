"""rnndyn adapter plugin for Keras 3 (any backend: TensorFlow, PyTorch, JAX).

Importing this package does not import keras; :class:`KerasAdapter` loads
on first use.
"""

from __future__ import annotations

from typing import Any

__all__ = ["KerasAdapter"]


def __getattr__(name: str) -> Any:
    if name == "KerasAdapter":
        from .adapter import KerasAdapter

        return KerasAdapter
    raise AttributeError(f"module 'rnndyn_keras' has no attribute {name!r}")
