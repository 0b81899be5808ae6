"""The one exception family of rnndyn."""

from __future__ import annotations

__all__ = ["RnndynError", "PluginError", "MissingExtraError"]


class RnndynError(ValueError):
    """Bad input or an impossible request.

    Every message says what was expected, what was received and what to do.
    It subclasses :class:`ValueError`, so ``except ValueError`` catches it too.
    """


class PluginError(RnndynError, KeyError):
    """No installed adapter claims a model, layer or state.

    Subclasses :class:`KeyError` as well, since it usually means a lookup
    (of an adapter, a layer name or a state name) failed.
    """

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class MissingExtraError(RnndynError, ImportError):
    """An optional dependency is not installed; the message names the extra to install.

    Both an :class:`~rnndyn.RnndynError` and an :class:`ImportError`, e.g.
    ``Trajectories.to_xarray()`` without xarray says ``pip install 'rnndyn[xarray]'``.
    """
