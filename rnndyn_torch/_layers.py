"""Which modules of a PyTorch model are capturable layers, and how they are named.

* Every ``nn.LSTM``, ``nn.GRU`` and ``nn.RNN`` is a layer named by its module
  path (``"encoder"``, ``"blocks.0.rnn"``). A stacked module
  (``num_layers > 1``) is also addressable layer by layer: ``"encoder.l0"``,
  ``"encoder.l1"``, ...; the module's own name means its top (last) layer,
  whose output is the module's output.
* Every ``nn.LSTMCell``, ``nn.GRUCell`` and ``nn.RNNCell`` is a layer too; its
  steps are its calls during one forward pass, in call order.
* A model that *is* a recurrent module is named by its class, lower case
  (``"lstm"``, ``"lstm.l1"``, ``"grucell"``).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import torch
from torch import nn

from rnndyn.adapter import LayerInfo
from rnndyn.adapter import units_table as _units_table

__all__ = ["Entry", "discover", "unwrap", "units_table", "n_units", "single_layer", "weights"]

STATES = {
    "LSTM": ("h", "c", "i", "f", "g", "o"),
    "GRU": ("h", "r", "z", "n"),
    "RNN": ("h",),
}
_FUSED = ((nn.LSTM, "LSTM"), (nn.GRU, "GRU"), (nn.RNN, "RNN"))
_CELLS = ((nn.LSTMCell, "LSTM"), (nn.GRUCell, "GRU"), (nn.RNNCell, "RNN"))


@dataclass(frozen=True)
class Entry:
    """One address of a capturable layer.

    ``kind`` is ``"LSTM"``, ``"GRU"`` or ``"RNN"``; ``cell`` tells a cell
    (driven by a Python loop) from a fused module; ``layer`` is the index of
    the layer inside a fused module (the top layer for the module's name).
    """

    name: str
    module: nn.Module
    kind: str
    cell: bool
    layer: int
    info: LayerInfo


def unwrap(model: nn.Module) -> nn.Module:
    """The eager module behind ``torch.compile(model)`` (hooks need eager calls)."""
    inner = getattr(model, "_orig_mod", None)
    return inner if isinstance(inner, nn.Module) else model


def _kind(module: nn.Module) -> tuple[str, bool] | None:
    for cls, kind in _FUSED:
        if isinstance(module, cls):
            return kind, False
    for cls, kind in _CELLS:
        if isinstance(module, cls):
            return kind, True
    return None


def discover(model: nn.Module) -> dict[str, Entry]:
    """Every capturable address of ``model``, in module order.

    Examples
    --------
    >>> list(discover(nn.LSTM(3, 4, num_layers=2)))
    ['lstm', 'lstm.l0', 'lstm.l1']
    """
    entries: dict[str, Entry] = {}
    for path, module in model.named_modules():
        found = _kind(module)
        if found is None:
            continue
        kind, cell = found
        name = path or type(module).__name__.lower()
        typ = type(module).__name__
        states = STATES[kind]
        if cell:
            info = LayerInfo(name, typ, states, ("forward",), int(module.hidden_size), 1, "steps = calls")
            entries[name] = Entry(name, module, kind, True, 0, info)
            continue
        dirs = ("forward", "backward") if module.bidirectional else ("forward",)
        n_h = int(getattr(module, "proj_size", 0) or module.hidden_size)
        top = int(module.num_layers) - 1
        layout = "batch-first" if module.batch_first else "time-major"
        info = LayerInfo(name, typ, states, dirs, n_h, top + 1, layout)
        entries[name] = Entry(name, module, kind, False, top, info)
        if top > 0:
            for k in range(top + 1):
                sub = f"{name}.l{k}"
                info = LayerInfo(sub, typ, states, dirs, n_h, 1, layout)
                entries[sub] = Entry(sub, module, kind, False, k, info)
    return entries


def n_units(entry: Entry, state: str) -> int:
    """Units per direction of ``state``: ``proj_size`` for ``h`` of a projected LSTM."""
    if state == "h":
        return entry.info.n_units
    return int(entry.module.hidden_size)


def units_table(entry: Entry, state: str) -> pd.DataFrame:
    """Rows for one (layer, state): every forward unit, then every backward unit."""
    return _units_table(entry.name, state, entry.info.directions, n_units(entry, state))


def weights(module: nn.Module, layer: int, direction: int, cell: bool) -> dict[str, torch.Tensor]:
    """``w_ih``, ``w_hh``, ``b_ih``, ``b_hh`` of one layer and direction (biases may be None)."""
    sfx = "" if cell else f"_l{layer}" + ("_reverse" if direction else "")
    return {
        "w_ih": getattr(module, f"weight_ih{sfx}"),
        "w_hh": getattr(module, f"weight_hh{sfx}"),
        "b_ih": getattr(module, f"bias_ih{sfx}", None),
        "b_hh": getattr(module, f"bias_hh{sfx}", None),
    }


def single_layer(module: nn.RNNBase, layer: int) -> nn.RNNBase:
    """A one-layer module computing layer ``layer`` of ``module``, with copied weights.

    Built on the CPU with the random generator's state saved and restored
    (the throwaway initialisation leaves the user's generator where it was),
    then moved to the module's device; the original parameters are never
    touched (on CUDA the copy is flattened for cuDNN, the original is not).
    """
    p = next(iter(module.parameters()))
    D = 2 if module.bidirectional else 1
    proj = int(getattr(module, "proj_size", 0) or 0)
    in_size = module.input_size if layer == 0 else D * (proj or module.hidden_size)
    kw: dict = dict(
        num_layers=1,
        bias=module.bias,
        batch_first=module.batch_first,
        dropout=0.0,
        bidirectional=module.bidirectional,
    )
    if isinstance(module, nn.LSTM):
        cls: type[nn.RNNBase] = nn.LSTM
        kw["proj_size"] = proj
    elif isinstance(module, nn.GRU):
        cls = nn.GRU
    else:
        cls = nn.RNN
        kw["nonlinearity"] = module.nonlinearity
    with torch.random.fork_rng(devices=[]):  # the random init must not move the user's RNG
        clone = cls(in_size, module.hidden_size, dtype=p.dtype, **kw)
    clone = clone.to(p.device).eval()
    with torch.no_grad():
        for name in clone._flat_weights_names:
            src = name.replace("_l0", f"_l{layer}")
            getattr(clone, name).copy_(getattr(module, src))
    clone.requires_grad_(False)
    if p.is_cuda:
        clone.flatten_parameters()
    return clone
