"""Finding the recurrent layers of a Keras model, wherever they are nested."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from rnndyn.adapter import LayerInfo

from ._gates import STATES

__all__ = ["Target", "find_targets", "cell_kind"]


@dataclass(frozen=True, eq=False)
class Target:
    """One capturable recurrent layer.

    Attributes
    ----------
    name : str
        Its address (the layer's name; ``outer/inner/name`` when the name is
        not unique in the model tree).
    layer : keras.layers.RNN or keras.layers.Bidirectional
    path : tuple of keras layers
        The containers from the top model (excluded) down to the one that
        holds ``layer`` directly.
    parts : tuple of (direction, keras.layers.RNN)
        The recurrences that produce the layer's states, forward first.
    kinds : tuple of str
        Cell kind of each part: ``"LSTM"``, ``"GRU"``, ``"SimpleRNN"`` or
        ``"RNN"`` (any other cell: ``h`` only).
    """

    name: str
    layer: Any
    path: tuple[Any, ...]
    parts: tuple[tuple[str, Any], ...]
    kinds: tuple[str, ...]

    @property
    def states(self) -> tuple[str, ...]:
        first = STATES[self.kinds[0]]
        return tuple(s for s in first if all(s in STATES[k] for k in self.kinds))

    @property
    def directions(self) -> tuple[str, ...]:
        return tuple(d for d, _ in self.parts)

    @property
    def n_units(self) -> int:
        return units_of(self.parts[0][1])

    def info(self) -> LayerInfo:
        return LayerInfo(
            name=self.name,
            type=type(self.layer).__name__,
            states=self.states,
            directions=self.directions,
            n_units=self.n_units,
            layout="batch-first",  # Keras 3 recurrent layers read (batch, steps, features)
        )


def cell_kind(rnn: Any) -> str:
    """``"LSTM"``, ``"GRU"``, ``"SimpleRNN"`` for Keras' own cells, else ``"RNN"``.

    Exact types only: a subclass may change the arithmetic, so it gets ``h``.
    """
    import keras

    cell = rnn.cell
    for kind, cls in (
        ("LSTM", keras.layers.LSTMCell),
        ("GRU", keras.layers.GRUCell),
        ("SimpleRNN", keras.layers.SimpleRNNCell),
    ):
        if type(cell) is cls:
            return kind
    return "RNN"


def units_of(rnn: Any) -> int:
    cell = rnn.cell
    size = getattr(cell, "output_size", None)
    if size is None:
        size = cell.state_size
    if isinstance(size, (list, tuple)):
        size = size[0]
    return int(size)


def _is_supported_rnn(layer: Any) -> bool:
    import keras

    if not isinstance(layer, keras.layers.RNN):
        return False
    if type(layer).__name__.startswith("ConvLSTM") or "ConvLSTM" in type(layer.cell).__name__:
        return False
    try:
        units_of(layer)
    except (TypeError, ValueError):
        return False
    return True


def is_recurrent(layer: Any) -> bool:
    """Whether rnndyn can capture ``layer`` (an RNN, or a Bidirectional of RNNs)."""
    import keras

    if isinstance(layer, keras.layers.Bidirectional):
        return _is_supported_rnn(layer.forward_layer) and _is_supported_rnn(layer.backward_layer)
    return _is_supported_rnn(layer)


def _children(layer: Any) -> list[Any]:
    import keras

    if isinstance(layer, keras.Model):
        try:
            return list(layer.layers)
        except Exception:  # pragma: no cover - exotic models
            pass
    return list(layer._flatten_layers(include_self=False, recursive=False))


def _parts(layer: Any) -> tuple[tuple[str, Any], ...]:
    import keras

    if isinstance(layer, keras.layers.Bidirectional):
        subs = [layer.forward_layer, layer.backward_layer]
    else:
        subs = [layer]
    parts = [("backward" if s.go_backwards else "forward", s) for s in subs]
    parts.sort(key=lambda p: p[0] != "forward")
    return tuple(parts)


def find_targets(model: Any) -> list[Target]:
    """Every capturable recurrent layer in ``model`` (depth first, model order).

    Recurrent layers are not searched inside (a Bidirectional's own forward and
    backward layers are its two directions, not separate layers).
    """
    found: list[tuple[Any, tuple[Any, ...]]] = []
    seen: set[int] = set()

    def walk(container: Any, path: tuple[Any, ...]) -> None:
        for child in _children(container):
            if id(child) in seen:
                continue
            seen.add(id(child))
            if is_recurrent(child):
                found.append((child, path))
            elif _children(child):
                walk(child, path + (child,))

    if is_recurrent(model):
        found.append((model, ()))
    else:
        walk(model, ())
    counts = Counter(layer.name for layer, _ in found)
    targets = []
    for layer, path in found:
        name = layer.name
        if counts[name] > 1:
            name = "/".join([c.name for c in path] + [layer.name])
        parts = _parts(layer)
        targets.append(Target(name, layer, path, parts, tuple(cell_kind(s) for _, s in parts)))
    names = Counter(t.name for t in targets)
    dup = [n for n, k in names.items() if k > 1]
    if dup:
        from rnndyn.errors import RnndynError

        raise RnndynError(
            f"model: several recurrent layers share the address {dup[0]!r}, so rnndyn cannot "
            "tell them apart; give the layers (or their enclosing models) unique names."
        )
    return targets
