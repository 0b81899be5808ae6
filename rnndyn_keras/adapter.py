"""`KerasAdapter`: captures the states of Keras 3 recurrent layers (any backend).

What it captures, per recurrent layer (``LSTM``, ``GRU``, ``SimpleRNN``,
``RNN(cell)``, ``Bidirectional`` of those; found by name anywhere in the model,
nested models included):

* ``h`` -- the output of every step, even for ``return_sequences=False``
  layers; for ``Bidirectional`` each direction's own output before the merge
  (any ``merge_mode``), backward units in input order;
* LSTM: ``c`` and the gates ``i, f, g, o``; GRU: the gates ``z, r, n``; all
  from the layer's own step, run again with its own weights and activations
  (see :mod:`rnndyn_keras._gates`).

The model itself is never run in training mode, never patched (functional and
``Sequential`` models) and never changed; see :mod:`rnndyn_keras._graph`.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from rnndyn._validation import one_line
from rnndyn.adapter import Batch, LayerInfo, check_targets
from rnndyn.errors import PluginError, RnndynError
from rnndyn.trajectories import Trajectories

from ._assemble import assemble
from ._graph import GraphRunner, InterceptRunner, graph_of, no_grad
from ._inputs import (
    check_ids,
    check_input_shape,
    check_library,
    expected_shapes,
    input_embeddings,
    input_list,
    reset_stateful,
    restore_stateful,
    save_stateful,
    shapes,
    standardize,
)
from ._layers import Target, find_targets
from ._twins import wanted

__all__ = ["KerasAdapter"]


class KerasAdapter:
    """The rnndyn adapter for one Keras 3 model (or layer).

    Parameters
    ----------
    model : keras.Model or keras.layers.Layer
        Functional, ``Sequential`` or subclassed; built (it has weights).

    Examples
    --------
    >>> import numpy as np, keras
    >>> from rnndyn.adapter import Batch
    >>> model = keras.Sequential([keras.Input((7, 3)), keras.layers.LSTM(4, name="lstm")])
    >>> adapter = KerasAdapter(model)
    >>> [(i.name, i.states) for i in adapter.layers()]
    [('lstm', ('h', 'c', 'i', 'f', 'g', 'o'))]
    >>> batch = Batch(np.ones((2, 7, 3), "float32"), None, 0)
    >>> traj = next(adapter.capture([batch], [("lstm", "h"), ("lstm", "c")]))
    >>> traj.shape
    (2, 7, 8)
    """

    framework = "keras"
    #: beyond one array or dict: ``rnndyn.Args(inputs)`` (one positional argument, the
    #: model's inputs) and ``forward=`` (run eagerly, the layers' calls recorded)
    input_forms = frozenset({"args", "forward"})

    def __init__(self, model: Any) -> None:
        import keras

        if isinstance(model, type) or not isinstance(model, keras.layers.Layer):
            raise RnndynError(
                f"model must be a Keras model or layer (an instance); got "
                f"{model.__qualname__ if isinstance(model, type) else type(model).__name__}."
            )
        if not model.built:
            raise RnndynError(
                f"model: the Keras model {model.name!r} is not built, so it has no weights yet; "
                "capturing it would run freshly initialised random weights. Build it (give it "
                "an Input, or call model.build(input_shape)) and load the trained weights first."
            )
        self.model = model
        self._targets: list[Target] | None = None

    def _all(self) -> list[Target]:
        if self._targets is None:
            self._targets = find_targets(self.model)
        return self._targets

    def one_argument(self, inputs: Any) -> bool:
        """Whether a list or tuple of arrays is the model's inputs, ``model([a, b])``.

        True for a functional or ``Sequential`` model with k > 1 inputs taken as a
        list and ``inputs`` holding arrays only (a list of examples of such a
        model would hold k arrays each); the core then slices every array
        along axis 0 together. A wrong number of arrays, or arrays holding
        different numbers of sequences, are refused naming each.
        """
        return input_list(self.model, inputs)

    def layers(self) -> list[LayerInfo]:
        """Every capturable recurrent layer of the model, in the model's order."""
        return [t.info() for t in self._all()]

    def _plan(self, targets: Sequence[tuple[str, str]]) -> dict[str, tuple[Target, list[str]]]:
        by_name = {t.name: t for t in self._all()}
        plan: dict[str, tuple[Target, list[str]]] = {}
        for item in targets:
            name, state = item
            if name not in by_name:
                raise PluginError(
                    f"layer={name!r}: no recurrent layer of that name in the Keras model "
                    f"{self.model.name!r}; recurrent layers: {sorted(by_name) or 'none'}."
                )
            target = by_name[name]
            if state not in target.states:
                raise PluginError(
                    f"state={state!r}: layer {name!r} ({type(target.layer).__name__}) has the "
                    f"states {target.states}."
                )
            plan.setdefault(name, (target, []))[1].append(state)
        if not plan:
            raise RnndynError("targets: give at least one (layer, state) pair; got none.")
        return plan

    def capture(
        self,
        batches: Iterable[Batch],
        targets: Sequence[tuple[str, str]],
        *,
        device: Any = None,
    ) -> Iterator[Trajectories]:
        """Run each batch through the model (batched, inference mode); yield its states.

        Parameters
        ----------
        batches : iterable of rnndyn.adapter.Batch
            ``data`` as the model takes it (an array, or a list/dict for
            several inputs); ``lengths`` optional.
        targets : sequence of (layer name, state)
        device : str, optional
            A Keras device (e.g. ``"cpu:0"``, ``"gpu:0"``) to run on; the
            results are numpy arrays either way.

        Yields
        ------
        Trajectories
            One per batch: float32 states of shape (batch, n_steps, n_units),
            the units of every target in order (each target: forward, then
            backward), ``masked=True`` when the layers see a Keras mask.
        """
        check_targets(targets)
        plan = self._plan(targets)
        _check_device(device)
        if isinstance(batches, Batch) or not hasattr(batches, "__iter__"):
            raise RnndynError(
                f"batches must be an iterable of rnndyn.adapter.Batch; got {type(batches).__name__}. "
                "Wrap one batch in a list: [Batch(x, None, 0)]."
            )
        return self._run(batches, plan, [tuple(t) for t in targets], device)

    # ----------------------------------------------------------------- running
    def _run(
        self,
        batches: Iterable[Batch],
        plan: dict[str, tuple[Target, list[str]]],
        targets: list[tuple[str, str]],
        device: Any,
    ) -> Iterator[Trajectories]:
        import keras

        layers = {name: (t, wanted(states)) for name, (t, states) in plan.items()}
        saved = save_stateful(self.model)
        try:
            runner: Any = None
            embeddings = input_embeddings(self.model)
            for batch in batches:
                if not isinstance(batch, Batch):
                    raise RnndynError(
                        f"batches must yield rnndyn.adapter.Batch objects; got a "
                        f"{type(batch).__name__}. Use rnndyn.capture(model, inputs), which makes "
                        "the batches."
                    )
                reset_stateful(saved)
                if batch.forward is not None:  # the user calls the model: run it and record
                    data, run = batch.data, _forwarded(self.model, layers, batch.forward)
                else:
                    data = standardize(self.model, batch.data)
                    check_library(data)
                    check_input_shape(self.model, data)
                    check_ids(embeddings, Batch(data, batch.lengths, batch.index))
                    if runner is None:
                        runner = _runner_for(self.model, list(layers.values()))
                    run = runner.run
                scope = keras.device(device) if device is not None else contextlib.nullcontext()
                try:
                    with scope, no_grad():
                        raws = run(data)
                except RnndynError:
                    raise
                except Exception as exc:
                    raise RnndynError(
                        f"inputs: batch {batch.index} (shape {shapes(batch.data)}) does not fit the "
                        f"Keras model, which raised {one_line(exc)}. The model expects input "
                        f"shape {expected_shapes(self.model)} (None: any size). Pass inputs "
                        "shaped like the model's input, batch first, with the dtype and value "
                        "range it was trained on."
                    ) from exc
                yield assemble(raws, layers, targets, batch)
        finally:
            restore_stateful(saved)


def _forwarded(model: Any, layers: dict[str, Any], forward: Any) -> Any:
    """``forward(model, data)`` run eagerly while the target layers' calls are recorded."""
    runner = InterceptRunner(model, list(layers.values()), call=lambda data: forward(model, data))
    return runner.run


def _check_device(device: Any) -> None:
    """``device=`` must be None or a device Keras knows (tried before any batch runs)."""
    if device is None:
        return
    if not isinstance(device, str) or not device.strip():
        raise RnndynError(
            f"device must be None or a Keras device name such as 'cpu:0' or 'gpu:0'; got "
            f"{type(device).__name__} {device!r:.40}."
        )
    import keras

    try:
        with keras.device(device):
            pass
    except Exception as exc:
        raise RnndynError(
            f"device={device!r} is not a device Keras can use here ({one_line(exc)}); use None, "
            "'cpu:0' or 'gpu:0'."
        ) from None


# Capture graphs per model, reused by later captures of the same layers (the
# compiled predict function is the slow part to build). Weak keys: a model that
# is deleted takes its graphs along (the graphs reference its layers, not it).
_RUNNERS: weakref.WeakKeyDictionary[Any, dict[tuple[Any, ...], Any]] = weakref.WeakKeyDictionary()


def _runner_for(model: Any, plan: list[tuple[Target, tuple[str, ...]]]) -> Any:
    key = (id(graph_of(model)), tuple((t.name, states) for t, states in plan))
    try:
        cache = _RUNNERS.setdefault(model, {})
    except TypeError:  # not weak-referenceable
        cache = {}
    if key not in cache:
        try:
            cache[key] = GraphRunner(model, plan)
        except RnndynError:
            raise
        except Exception:  # NeedsIntercept, or a graph Keras cannot cut: run and record
            return InterceptRunner(model, plan)  # cheap to build; holds the model
    return cache[key]
