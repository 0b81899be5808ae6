"""What an adapter is: the object a plugin returns for a model it claims."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from .errors import RnndynError
from .trajectories import Trajectories

if TYPE_CHECKING:
    import pandas

__all__ = [
    "Adapter",
    "SplitsInputs",
    "ProvesBatchAxis",
    "TakesArgumentList",
    "Split",
    "Args",
    "LayerInfo",
    "Batch",
    "check_targets",
    "call_model",
    "units_table",
]


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
    n_layers : int, default 1
        Stacked layers of the module this name addresses (``"lstm"`` of a
        2-layer ``nn.LSTM``: 2, its top layer; ``"lstm.l0"``: 1).
    layout : str, default ""
        How the layer reads its input: ``"batch-first"``, ``"time-major"``,
        ``"steps = calls"`` (a cell driven by a loop), or ``""`` (unknown).
    """

    name: str
    type: str
    states: tuple[str, ...]
    directions: tuple[str, ...]
    n_units: int
    n_layers: int = 1
    layout: str = ""


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
    forward : callable or None
        The user's ``forward=``: call ``forward(model, data)`` instead of
        ``model(data)`` (only handed to adapters whose ``input_forms``
        include ``"forward"``; see :func:`call_model`).
    n_steps : int or None, default None
        Steps of the whole input when the adapter's own
        :meth:`SplitsInputs.split` gave them (:attr:`Split.n_steps`), else
        ``None``. The adapter may pad the batch's masked trajectories to it
        (the core pads those that come back shorter).
    """

    data: Any
    lengths: np.ndarray | None
    index: int
    forward: Callable[[Any, Any], Any] | None = None
    n_steps: int | None = None


class Args:
    """The positional and keyword arguments of one call ``model(*args, **kwargs)``.

    Pass ``rnndyn.capture(model, rnndyn.Args(tokens, hidden))`` for a model
    called as ``model(tokens, hidden)``: every array in the arguments (also
    inside tuples, lists, dicts and dataclasses, e.g. an LSTM state ``(h,
    c)``) is sliced into batches along its batch axis (``batch_axis=`` of
    :func:`rnndyn.capture`; axis 0 unless said otherwise); anything else
    (``None``, flags, numbers, strings) and arguments whose batch axis is
    ``None`` are passed whole to every batch. Each batch reaches the model as
    ``model(*batch.args, **batch.kwargs)``.

    Examples
    --------
    >>> import numpy as np
    >>> a = Args(np.zeros((4, 3)), hidden=None)
    >>> a
    Args(<ndarray shape (4, 3)>, hidden=None)
    >>> len(a.args), sorted(a.kwargs)
    (1, ['hidden'])
    """

    __slots__ = ("args", "kwargs")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args: tuple[Any, ...] = args
        self.kwargs: dict[str, Any] = dict(kwargs)

    def items(self) -> list[tuple[int | str, Any]]:
        """``(position or name, value)`` of every argument, positional ones first."""
        return [*enumerate(self.args), *self.kwargs.items()]

    def __repr__(self) -> str:
        def show(v: Any) -> str:
            shape = getattr(v, "shape", None)
            return f"<{type(v).__name__} shape {tuple(shape)}>" if shape is not None else repr(v)

        parts = [show(v) for v in self.args] + [f"{k}={show(v)}" for k, v in self.kwargs.items()]
        return f"Args({', '.join(parts)})"


def call_model(model: Any, batch: Batch, convert: Callable[[Any], Any] | None = None) -> Any:
    """Call ``model`` on one batch the way the user's inputs say.

    ``convert`` (e.g. moving arrays to the model's device) is applied to the
    batch's data first. Then: ``batch.forward(model, data)`` when the user
    gave ``forward=``; ``model(*data.args, **data.kwargs)`` for
    :class:`Args`; otherwise ``model(data)`` (a dict, a dataclass or a tuple
    is the model's single argument).

    Examples
    --------
    >>> call_model(lambda a, b=0: a + b, Batch(Args(1, b=2), None, 0))
    3
    >>> call_model(lambda d: d["x"], Batch({"x": 5}, None, 0))
    5
    """
    data = batch.data if convert is None else convert(batch.data)
    if batch.forward is not None:
        return batch.forward(model, data)
    if isinstance(data, Args):
        return model(*data.args, **data.kwargs)
    return model(data)


@runtime_checkable
class Adapter(Protocol):
    """Captures trajectories from one model of one framework.

    Returned by a plugin's ``rnndyn_claim_model`` hook. The core
    (:func:`rnndyn.capture`) does batching, progress, lengths and
    concatenation; the adapter runs batches through the model.

    Beyond the members below an adapter may have an ``input_forms``
    attribute, a set of the input forms it handles beyond one array or dict
    argument: ``"args"`` (:class:`Args` batches) and ``"forward"``
    (:attr:`Batch.forward`), and any of the optional methods of
    :class:`SplitsInputs`, :class:`ProvesBatchAxis` and :class:`TakesArgumentList`.
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


@dataclass(frozen=True)
class Split:
    """Batches an adapter cut itself (what :meth:`SplitsInputs.split` may return).

    Attributes
    ----------
    batches : iterable
        The model input of each batch, the sequences in their original order.
    n_steps : int or None, default None
        Steps of the whole input (its longest sequence). The core hands it
        back with every batch (:attr:`Batch.n_steps`) and pads the masked
        trajectories that come back shorter with zeros up to it, so that the
        batches join. ``None``: every batch gives the same steps.
    """

    batches: Iterable[Any]
    n_steps: int | None = None


@runtime_checkable
class SplitsInputs(Protocol):
    """Optional: an adapter that batches inputs of its framework's own kind itself."""

    def split(self, inputs: Any, batch_size: int) -> Split | Iterable[Any] | None:
        """Batches of ``batch_size`` sequences of ``inputs``, or ``None`` to let the core batch them.

        Asked first, before the core's own batching: e.g. PyTorch's
        ``PackedSequence`` cannot be sliced along the sequences. An iterable
        of the model input of each batch, or a :class:`Split` that also gives
        the step count of the whole input.
        """
        ...


@runtime_checkable
class ProvesBatchAxis(Protocol):
    """Optional: an adapter that knows along which axis its model reads the sequences."""

    def batch_axis(self, key: int | str, value: Any) -> int | None:
        """The axis the model provably reads its sequences along in one argument, or ``None``.

        ``key`` is the argument's position or name (as ``batch_axis=`` keys
        it), ``value`` the argument; ``None`` means the adapter cannot prove it.
        """
        ...


@runtime_checkable
class TakesArgumentList(Protocol):
    """Optional: an adapter whose model may take a plain list or tuple as its one argument."""

    def one_argument(self, inputs: Any) -> bool:
        """True when a plain list or tuple is provably the model's one argument, not examples.

        E.g. a multi-input Keras model's ``[a, b]``: the core then batches it as
        ``Args(inputs)`` (the adapter's ``input_forms`` must include ``"args"``).
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


def units_table(
    layer: str, state: str, directions: tuple[str, ...] | list[str], n_units: int
) -> pandas.DataFrame:
    """The unit table of one (layer, state): the forward units, then the backward units.

    Concatenate the tables of your targets, in the order of ``targets``, to get
    the ``units`` of the :class:`~rnndyn.Trajectories` an adapter yields. Every
    shipped adapter builds its tables with it.

    Parameters
    ----------
    layer, state : str
        The layer's name (as :meth:`Adapter.layers` lists it) and the state.
    directions : tuple of str
        ``("forward",)`` or ``("forward", "backward")``.
    n_units : int
        Units of this state per direction (``c`` of a projected LSTM may have
        more than ``LayerInfo.n_units``).

    Examples
    --------
    >>> units_table("rnn", "z", ("forward",), 3)["index"].tolist()
    [0, 1, 2]
    >>> tables = [units_table("enc", s, ("forward",), 2) for s in ("h", "c")]
    >>> import pandas as pd
    >>> pd.concat(tables, ignore_index=True)["state"].tolist()
    ['h', 'h', 'c', 'c']
    """
    bad_dirs = not isinstance(directions, tuple | list) or not directions
    if bad_dirs or any(d not in ("forward", "backward") for d in directions):
        raise RnndynError(f"directions must be ('forward',) or ('forward', 'backward'); got {directions!r}.")
    if not isinstance(n_units, int | np.integer) or isinstance(n_units, bool) or n_units < 1:
        raise RnndynError(f"n_units must be a positive int; got {n_units!r}.")
    import pandas as pd

    n = int(n_units)
    return pd.DataFrame(
        {
            "layer": [str(layer)] * (n * len(directions)),
            "state": [str(state)] * (n * len(directions)),
            "direction": [d for d in directions for _ in range(n)],
            "index": np.tile(np.arange(n, dtype=np.int64), len(directions)),
        }
    )
