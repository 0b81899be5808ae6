"""A cell given by callables, for any recurrence the typed cells do not cover.

An adapter wraps its framework's own cell in a :class:`StepCell`: ``step``
runs the framework, ``jacobian`` lets the framework differentiate it
(:func:`autograd_jacobian` does so for a torch module). Public names are
re-exported by :mod:`rnndyn.dynamics`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ._cell_base import CellBase
from ._validation import check_int, describe
from .errors import RnndynError

__all__ = ["StepCell", "autograd_jacobian"]


def autograd_jacobian(call: Callable[[Any, Any], Any], s: Any, x: Any) -> Any:
    """``d call(s, x) / d s`` for torch tensors ``s (n, dim)``: one backward pass per output coordinate.

    For adapters whose :class:`StepCell` runs a torch module (PyTorch, or Keras
    on the torch backend); returns a ``(n, dim_out, dim)`` tensor, zeros where
    an output does not depend on ``s``.
    """
    import torch

    s = s.detach().requires_grad_(True)
    with torch.enable_grad():
        out = call(s, x)
        n = out.shape[1]
        rows = [
            torch.autograd.grad(out[:, i].sum(), s, retain_graph=i < n - 1, allow_unused=True)[0]
            for i in range(n)
        ]
    rows = [torch.zeros_like(s) if r is None else r for r in rows]
    return torch.stack(rows, dim=1).detach()


class StepCell(CellBase):
    """Any other cell, given as callables (an adapter differentiates it with its framework).

    Parameters
    ----------
    step : callable ``(s, x) -> s'``
        Called with float64 numpy arrays ``s (n, dim)`` and ``x (n, input_size)``;
        returns ``(n, dim)``.
    jacobian : callable ``(s, x) -> J``
        Same arguments; returns ``dF/ds`` of shape ``(n, dim, dim)``.
    dim : int
        Length of the state vector.
    input_size : int, default 0
    state_names : tuple of str, default ("h",)
        Names of the blocks of the state vector, each ``dim / len(state_names)`` long.

    Examples
    --------
    >>> import numpy as np
    >>> jac = lambda s, x: np.broadcast_to(0.5 * np.eye(1), (len(s), 1, 1))
    >>> cell = StepCell(lambda s, x: 0.5 * s, jac, dim=1)
    >>> cell.step(np.array([[2.0]]), np.zeros((1, 0))).tolist()
    [[1.0]]
    """

    def __init__(
        self,
        step: Callable[[Any, Any], Any],
        jacobian: Callable[[Any, Any], Any],
        dim: int,
        input_size: int = 0,
        state_names: tuple[str, ...] = ("h",),
    ) -> None:
        for name, f in (("step", step), ("jacobian", jacobian)):
            if not callable(f):
                raise RnndynError(f"{name} must be a callable (s, x) -> array; got {describe(f)}.")
        dim = check_int(dim, "dim", minimum=1)
        input_size = check_int(input_size, "input_size", minimum=0)
        names = tuple(state_names)
        if not names or any(not isinstance(n, str) for n in names) or dim % len(names):
            raise RnndynError(
                f"state_names must be a non-empty tuple of str whose length divides dim={dim}; got "
                f"{state_names!r}."
            )
        self.step_fn, self.jacobian_fn, self.dim_ = step, jacobian, dim
        self.input_size, self.names = input_size, names

    def __repr__(self) -> str:
        return f"StepCell(dim={self.dim_}, input_size={self.input_size}, state_names={self.names})"

    @property
    def dim(self) -> int:
        return self.dim_

    @property
    def hidden_size(self) -> int:  # type: ignore[override]
        return self.dim_ // len(self.names)

    @property
    def state_names(self) -> tuple[str, ...]:
        return self.names

    @property
    def xp(self) -> Any:
        return np

    @property
    def W_hh(self) -> Any:  # type: ignore[override]
        return np.zeros(0)

    def _call(self, f: Callable[[Any, Any], Any], s: Any, x: Any, tail: tuple[int, ...], what: str) -> Any:
        lead = tuple(np.broadcast_shapes(s.shape[:-1], x.shape[:-1]))
        n = int(np.prod(lead, dtype=np.int64))
        s2 = np.broadcast_to(s, lead + s.shape[-1:]).reshape(n, self.dim)
        x2 = np.broadcast_to(x, lead + x.shape[-1:]).reshape(n, self.input_size)
        out = np.asarray(f(s2, x2), dtype=np.float64)
        want = (s2.shape[0],) + tail
        if out.shape != want:
            raise RnndynError(
                f"StepCell's {what} callable returned shape {out.shape} for {s2.shape[0]} states; "
                f"expected {want}. It must be batched over the first axis."
            )
        return out.reshape(lead + tail)

    def _step(self, s: Any, x: Any) -> Any:
        return self._call(self.step_fn, s, x, (self.dim,), "step")

    def _jac(self, s: Any, x: Any) -> Any:
        return self._call(self.jacobian_fn, s, x, (self.dim, self.dim), "jacobian")
