"""The recurrent layers an adapter lists, and the ``layer=``/``state=`` a capture asks for."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any

from .adapter import LayerInfo
from .errors import PluginError, RnndynError
from .plugins import DOCS

__all__ = ["layers_table", "resolve_targets"]


def layers_table(infos: Sequence[LayerInfo]) -> Any:
    """The layers an adapter lists, as a pandas DataFrame (one row per ``layer=`` name).

    Examples
    --------
    >>> info = LayerInfo("enc", "LSTM", ("h", "c"), ("forward",), 4, 2, "batch-first")
    >>> layers_table([info]).to_dict("records")[0]["states"]
    'h, c'
    """
    import pandas as pd

    rows = [
        {
            "layer": i.name,
            "type": i.type,
            "units": i.n_units,
            "directions": "+".join(i.directions),
            "stacked": i.n_layers,
            "layout": i.layout or "unknown",
            "states": ", ".join(i.states),
        }
        for i in infos
    ]
    columns = ["layer", "type", "units", "directions", "stacked", "layout", "states"]
    return pd.DataFrame(rows, columns=columns)


def resolve_targets(layers: Sequence[LayerInfo], layer: Any, state: Any) -> list[tuple[str, str]]:
    """Validate ``layer=``/``state=`` against an adapter's layers.

    Returns every ``(layer, state)`` combination, layer by layer.

    Examples
    --------
    >>> info = LayerInfo("enc", "LSTM", ("h", "c"), ("forward",), 4)
    >>> resolve_targets([info], None, ["h", "c"])
    [('enc', 'h'), ('enc', 'c')]
    """
    if not isinstance(layers, Sequence) or not all(isinstance(i, LayerInfo) for i in layers):
        raise RnndynError(
            f"layers must be a list of rnndyn.adapter.LayerInfo (what an adapter's layers() "
            f"returns); got {type(layers).__name__}."
        )
    by_name = {info.name: info for info in layers}
    listing = "\n  ".join(_layer_line(info) for info in layers)
    known_layers = f"The recurrent layers of this model are:\n  {listing or '(none)'}"
    if layer is None:
        if not layers:
            raise PluginError(
                "The adapter found no recurrent layer in this model; rnndyn captures the "
                f"states of recurrent layers (LSTM, GRU, simple RNN). See {DOCS}."
            )
        # one stacked module listed with its layers ("rnn", "rnn.l0", "rnn.l1"): its name
        tops = [i for i in layers if all(j is i or j.name.startswith(i.name + ".") for j in layers)]
        if len(layers) > 1 and len(tops) == 1:
            layers = tops
        if len(layers) > 1:
            raise PluginError(
                f"The model has {len(layers)} recurrent layers; pass layer= one of their names "
                f"or a list of them:\n  {listing}"
            )
        names = [layers[0].name]
    else:
        names = _as_names(layer, "layer", known_layers)
    picked = [by_name[n] for n in names if n in by_name]
    states_known = "; ".join(f"layer {i.name!r} has the states {', '.join(i.states)}" for i in picked)
    states = _as_names(state, "state", f"States: {states_known}." if states_known else "")
    for name in names:
        if name not in by_name:
            close = difflib.get_close_matches(name, list(by_name), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise PluginError(
                f"Unknown layer {name!r}.{hint} The recurrent layers of this model are:"
                f"\n  {listing or '(none)'}"
            )
        info = by_name[name]
        for s in states:
            if s not in info.states:
                raise PluginError(
                    f"Layer {name!r} ({info.type}) has no state {s!r}; its states are "
                    f"{', '.join(repr(v) for v in info.states)}."
                )
    return [(name, s) for name in names for s in states]


def _layer_line(info: LayerInfo) -> str:
    extra = "".join(
        f"; {v}"
        for v in (
            f"{info.n_layers} stacked layers, top layer" if info.n_layers > 1 else "",
            info.layout,
        )
        if v
    )
    return (
        f"{info.name!r} ({info.type}; states {', '.join(info.states)}; "
        f"{'+'.join(info.directions)}; {info.n_units} units{extra})"
    )


def _as_names(value: Any, arg: str, known: str) -> list[str]:
    """``value`` as a list of distinct, non-empty names; ``known`` lists what exists."""
    example = (
        "layer='encoder' or layer=['encoder', 'decoder']"
        if arg == "layer"
        else "state='h' or state=['h', 'c']"
    )
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list | tuple) or not all(isinstance(v, str) for v in names):
        raise RnndynError(
            f"{arg} must be a name or a list of names (str), e.g. {example}; got "
            f"{type(value).__name__} {value!r:.60}. {known}"
        )
    if not names:
        raise RnndynError(f"{arg} is an empty list; give at least one name, e.g. {example}. {known}")
    empty = [v for v in names if not v.strip()]
    if empty:
        raise RnndynError(f"{arg} holds an empty name {empty[0]!r}; give a real name. {known}")
    dup = sorted({v for v in names if names.count(v) > 1})
    if dup:
        raise RnndynError(f"{arg} lists {dup} more than once; list each name once.")
    return list(names)
