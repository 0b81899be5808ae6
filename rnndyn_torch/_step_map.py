"""The step map of a PyTorch layer: its recurrence as a framework-free cell of :mod:`rnndyn.dynamics`.

What :func:`step_map` returns per layer kind (every direction separately):

* ``nn.LSTM`` (each layer of a stacked module, ``"name.lK"``; the module's own
  name is its top layer) and ``nn.LSTMCell``: an
  :class:`~rnndyn.dynamics.LSTMCell` with ``W_ih``, ``W_hh`` and
  ``b = bias_ih + bias_hh`` (PyTorch's layout is the canonical one); state
  ``s = [h, c]``. A projected LSTM (``proj_size > 0``) is refused.
* ``nn.GRU`` and ``nn.GRUCell``: a :class:`~rnndyn.dynamics.GRUCell`
  (``reset_after=True``, PyTorch's equations).
* ``nn.RNN`` and ``nn.RNNCell``: a :class:`~rnndyn.dynamics.RNNCell` with the
  module's ``nonlinearity`` (``"tanh"`` or ``"relu"``).
* A subclass of ``nn.LSTMCell``, ``nn.GRUCell`` or ``nn.RNNCell`` that
  overrides ``forward`` (its arithmetic is its own): a
  :class:`~rnndyn.dynamics.StepCell` calling a float64 copy of the module,
  its Jacobian by reverse-mode autograd (one backward pass per state
  coordinate, batched over the states).

The weights stay torch tensors on the module's device (detached, no copy of
the user's parameters is changed): the cells compute in float64 there.
A backward direction (``bidirectional=True``) gets its own ``*_reverse``
weights; its cell steps through the inputs from the last to the first.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
from torch import nn

from rnndyn._step_cell import autograd_jacobian
from rnndyn.errors import PluginError

from ._layers import Entry, discover, unwrap, weights

__all__ = ["step_map", "module_step_cell"]

_BASES = {"LSTM": nn.LSTMCell, "GRU": nn.GRUCell, "RNN": nn.RNNCell}


def step_map(model: nn.Module, layer: str) -> dict[str, Any] | None:
    """``{"forward": cell}`` (plus ``"backward"``) for the layer named ``layer``, or ``None``.

    ``None`` when the model has no layer of that name (the core lists the
    layers in its error).

    Examples
    --------
    >>> cells = step_map(nn.LSTM(3, 4, num_layers=2), "lstm.l1")
    >>> type(cells["forward"]).__name__, cells["forward"].input_size, cells["forward"].dim
    ('LSTMCell', 4, 8)
    """
    entry = discover(unwrap(model)).get(layer)
    if entry is None:
        return None
    module = entry.module
    if entry.cell:
        if type(module).forward is not _BASES[entry.kind].forward:
            return {"forward": module_step_cell(module, entry.kind)}
        return {"forward": _typed(entry, weights(module, 0, 0, True))}
    proj = int(getattr(module, "proj_size", 0) or 0)
    if proj:
        raise PluginError(
            f"layer {layer!r} is an nn.LSTM with proj_size={proj}: its state [h ({proj}), c "
            f"({module.hidden_size})] has no step map in rnndyn.dynamics (LSTMCell has no "
            "projection). Analyse an LSTM without projections, or implement the hook "
            "rnndyn_step_map for this layer with a StepCell (see docs/plugins.md)."
        )
    dirs = entry.info.directions
    return {d: _typed(entry, weights(module, entry.layer, k, False)) for k, d in enumerate(dirs)}


def _typed(entry: Entry, w: dict[str, torch.Tensor | None]) -> Any:
    from rnndyn.dynamics import GRUCell, LSTMCell, RNNCell

    w_ih, w_hh = w["w_ih"].detach(), w["w_hh"].detach()
    b_ih = None if w["b_ih"] is None else w["b_ih"].detach().to(torch.float64)
    b_hh = None if w["b_hh"] is None else w["b_hh"].detach().to(torch.float64)
    if entry.kind == "GRU":
        return GRUCell(w_ih, w_hh, b_ih, b_hh, reset_after=True)
    b = None if b_ih is None else b_ih + b_hh
    if entry.kind == "LSTM":
        return LSTMCell(w_ih, w_hh, b)
    return RNNCell(w_ih, w_hh, b, activation=str(entry.module.nonlinearity))


def module_step_cell(module: nn.Module, kind: str) -> Any:
    """A :class:`~rnndyn.dynamics.StepCell` that calls a float64 copy of a cell module.

    ``module`` is called like the PyTorch cell it derives from:
    ``module(x, (h, c)) -> (h, c)`` for ``kind="LSTM"`` (state ``[h, c]``),
    ``module(x, h) -> h`` otherwise. The Jacobian comes from autograd through
    that call, in float64, on the module's device.

    Examples
    --------
    >>> import numpy as np
    >>> cell = module_step_cell(nn.RNNCell(2, 3), "RNN")
    >>> cell.jacobian(np.zeros((5, 3)), np.ones((5, 2))).shape
    (5, 3, 3)
    """
    from rnndyn.dynamics import StepCell

    twin = copy.deepcopy(module).to(torch.float64).eval().requires_grad_(False)
    params = list(twin.parameters())
    device = params[0].device if params else torch.device("cpu")
    H, n_in = int(module.hidden_size), int(module.input_size)
    lstm = kind == "LSTM"

    def call(s: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        if lstm:
            h, c = twin(x, (s[:, :H], s[:, H:]))
            return torch.cat([h, c], dim=-1)
        return twin(x, s)

    def tensors(s: Any, x: Any) -> tuple[torch.Tensor, torch.Tensor]:
        as_t = lambda a: torch.as_tensor(np.asarray(a), dtype=torch.float64, device=device)  # noqa: E731
        return as_t(s), as_t(x)

    def step(s: Any, x: Any) -> np.ndarray:
        s, x = tensors(s, x)
        with torch.no_grad():
            return call(s, x).cpu().numpy()

    def jacobian(s: Any, x: Any) -> np.ndarray:
        return autograd_jacobian(call, *tensors(s, x)).cpu().numpy()

    names = ("h", "c") if lstm else ("h",)
    return StepCell(step, jacobian, dim=len(names) * H, input_size=n_in, state_names=names)
