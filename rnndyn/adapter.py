"""What an adapter is: the object a plugin returns for a model it claims."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .errors import RnndynError
from .trajectories import Trajectories

__all__ = ["Adapter", "LayerInfo", "Batch", "check_targets"]


@dataclass(frozen=True)
class LayerInfo:
    """One capturable recurrent layer of a model.

    Attributes
    ----------
    name : str
        The address users pass as ``layer=`` (e.g. ``"encoder"``,
        ``"lstm.l1"`` for layer 1 of a stacked PyTorch module).
    type : str
        The framework's class name, e.g. ``"LSTM"``.
    states : tuple of str
        States that can be captured, ``"h"`` first (e.g. ``("h", "c", "i",
        "f", "g", "o")``).
    directions : tuple of str
        ``("forward",)`` or ``("forward", "backward")``.
    n_units : int
        Units per direction of the ``"h"`` state.
    """

    name: str
    type: str
    states: tuple[str, ...]
    directions: tuple[str, ...]
    n_units: int


@dataclass(frozen=True)
class Batch:
    """One batch handed to an adapter.

    Attributes
    ----------
    data : Any
        The model input for this batch, as the framework expects it.
    lengths : ndarray of int or None
        Real steps per sequence given by the user, or ``None``.
    index : int
        Position of the batch (0-based), for error messages.
    """

    data: Any
    lengths: np.ndarray | None
    index: int


@runtime_checkable
class Adapter(Protocol):
    """Captures trajectories from one model of one framework.

    Returned by a plugin's ``rnndyn_claim_model`` hook. The core
    (:func:`rnndyn.capture`) does batching, progress, lengths and
    concatenation; the adapter runs batches through the model.
    """

    #: short framework name, e.g. ``"torch"``
    framework: str

    def layers(self) -> list[LayerInfo]:
        """Every recurrent layer of the model, in the model's order."""
        ...

    def capture(
        self,
        batches: Iterable[Batch],
        targets: Sequence[tuple[str, str]],
        *,
        device: Any = None,
    ) -> Iterator[Trajectories]:
        """Run each batch through the model, yield its trajectories.

        ``targets`` are validated ``(layer name, state)`` pairs; each yielded
        :class:`Trajectories` holds, along units, every target in the given
        order (with its units table), input-order states, the batch's lengths
        and ``masked``. The adapter sets inference mode and installs whatever
        hooks it needs when the generator starts and restores everything in a
        ``finally`` (so a failing batch or an early ``close()`` leaves the
        model as it was). ``device=None`` returns numpy arrays.
        """
        ...


def check_targets(targets: Any) -> None:
    """Refuse ``targets`` that are not a list of distinct ``(layer, state)`` pairs of str.

    Adapters call it first in :meth:`Adapter.capture`, so a bad list fails
    with the same message whatever the framework.

    Examples
    --------
    >>> check_targets([("lstm", "h"), ("lstm", "c")])
    >>> check_targets([("lstm", "h"), ("lstm", "h")])
    Traceback (most recent call last):
    ...
    rnndyn.errors.RnndynError: targets lists ('lstm', 'h') more than once; ...
    """
    ok = isinstance(targets, list | tuple) and all(
        isinstance(t, list | tuple) and len(t) == 2 and all(isinstance(v, str) for v in t) for t in targets
    )
    if not ok:
        raise RnndynError(
            f"targets must be a list of (layer, state) pairs of str, e.g. [('lstm', 'h')]; got "
            f"{targets!r:.80}."
        )
    pairs = [tuple(t) for t in targets]
    dup = [t for k, t in enumerate(pairs) if t in pairs[:k]]
    if dup:
        raise RnndynError(
            f"targets lists {dup[0]} more than once; list each (layer, state) pair once (a "
            "Trajectories lists each unit once)."
        )
