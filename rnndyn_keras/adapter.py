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

from rnndyn.adapter import Batch, LayerInfo
from rnndyn.errors import PluginError, RnndynError
from rnndyn.trajectories import Trajectories

from ._assemble import assemble
from ._graph import GraphRunner, InterceptRunner, graph_of, no_grad
from ._inputs import (
    check_input_shape,
    expected_shapes,
    reset_stateful,
    restore_stateful,
    save_stateful,
    shapes,
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

    def __init__(self, model: Any) -> None:
        self.model = model
        self._targets: list[Target] | None = None

    def _all(self) -> list[Target]:
        if self._targets is None:
            self._targets = find_targets(self.model)
        return self._targets

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
        plan = self._plan(targets)
        return self._run(batches, plan, list(targets), device)

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
            runner = _runner_for(self.model, list(layers.values()))
            for batch in batches:
                reset_stateful(saved)
                check_input_shape(self.model, batch.data)
                scope = keras.device(device) if device is not None else contextlib.nullcontext()
                try:
                    with scope, no_grad():
                        raws = runner.run(batch.data)
                except RnndynError:
                    raise
                except Exception as exc:
                    raise RnndynError(
                        f"inputs: the Keras model rejected a batch of shape {shapes(batch.data)}: "
                        f"{type(exc).__name__}: {exc}\nThe model expects input shape "
                        f"{expected_shapes(self.model)} (None: any size). Pass inputs shaped "
                        "like the model's input, batch first."
                    ) from exc
                yield assemble(raws, layers, targets, batch)
        finally:
            restore_stateful(saved)


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
