"""rnndyn's adapter for JAX/Flax NNX models: ``nnx.RNN`` and ``nnx.Bidirectional`` layers.

Found by rnndyn through the entry point ``flax = "rnndyn_flax.plugin"``
(group ``rnndyn``); install it with ``pip install 'rnndyn[flax]'``. Importing
this package imports neither jax nor flax; :class:`FlaxAdapter` does, when a
Flax model is captured. See ``docs/flax.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .adapter import FlaxAdapter

__all__ = ["FlaxAdapter"]


def __getattr__(name: str) -> Any:
    if name == "FlaxAdapter":
        from .adapter import FlaxAdapter

        return FlaxAdapter
    raise AttributeError(f"module 'rnndyn_flax' has no attribute {name!r}")
