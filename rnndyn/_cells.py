"""Framework-free recurrent cells: the step map ``s' = F(s, x)`` and its analytic Jacobian.

Public names are re-exported by :mod:`rnndyn.dynamics`.

The equations are written once, in array-API style: with numpy weights they run
in float64 numpy; with torch weights, in float64 torch on the weights' device.
Every function is batched: states of shape ``(..., dim)`` and inputs of shape
``(..., input_size)`` (leading shapes broadcast) give next states
``(..., dim)`` and Jacobians ``(..., dim, dim)``.

Canonical weight layout (what an adapter converts to; PyTorch's own layout):

* ``LSTMCell``: gates stacked in the order i, f, g, o; ``W_ih (4H, I)``,
  ``W_hh (4H, H)``, one bias ``b (4H,)`` (PyTorch: ``bias_ih + bias_hh``;
  Keras: ``kernel.T``, ``recurrent_kernel.T``, ``bias``, whose gate order
  i, f, c, o is the same). The state is ``s = [h, c]`` (dim ``2H``).
* ``GRUCell``: gates r, z, n; ``W_ih (3H, I)``, ``W_hh (3H, H)``, ``b_ih (3H,)``,
  ``b_hh (3H,)``; ``h' = (1 - z) * n + z * h``. Keras stores z, r, h: reorder
  its blocks to r, z, n (``reset_after=True``: bias row 0 is ``b_ih``, row 1
  ``b_hh``; ``reset_after=False``: ``b_ih = bias``, ``b_hh = 0``).
* ``RNNCell``: ``W_ih (H, I)``, ``W_hh (H, H)``, ``b (H,)`` (PyTorch:
  ``bias_ih + bias_hh``); ``h' = act(W_ih x + W_hh h + b)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._cell_base import CellBase, check_weight, diag, matvec, rowsum, scale_rows, sigmoid
from ._step_cell import StepCell
from ._validation import check_bool, check_choice, describe
from .errors import RnndynError

__all__ = ["LSTMCell", "GRUCell", "RNNCell", "StepCell", "ACTIVATIONS", "Cell", "check_cell"]

ACTIVATIONS = ("tanh", "relu", "linear")


@dataclass(frozen=True, eq=False)
class LSTMCell(CellBase):
    """An LSTM step on ``s = [h, c]`` (dim ``2H``), PyTorch's equations and gate order.

    ``z = W_ih x + W_hh h + b`` split into i, f, g, o;
    ``c' = sigmoid(f) c + sigmoid(i) tanh(g)``, ``h' = sigmoid(o) tanh(c')``.

    Parameters
    ----------
    W_ih : array of shape (4H, I)
    W_hh : array of shape (4H, H)
    b : array of shape (4H,), optional
        Zero when omitted. PyTorch: ``bias_ih + bias_hh``.

    Examples
    --------
    >>> import numpy as np
    >>> cell = LSTMCell(np.zeros((8, 1)), np.zeros((8, 2)))
    >>> cell.dim, cell.step(np.ones(4), np.zeros(1)).round(4).tolist()
    (4, [0.2311, 0.2311, 0.5, 0.5])
    """

    W_ih: Any
    W_hh: Any
    b: Any = None
    hidden_size: int = field(init=False)
    input_size: int = field(init=False)

    def __post_init__(self) -> None:
        W_hh = check_weight(self.W_hh, "W_hh", (None, None))
        H = int(W_hh.shape[1])
        if W_hh.shape[0] != 4 * H:
            raise RnndynError(
                "W_hh of an LSTM must have shape (4H, H) (gates i, f, g, o stacked); got "
                f"{tuple(W_hh.shape)}."
            )
        W_ih = check_weight(self.W_ih, "W_ih", (4 * H, None), W_hh)
        b = check_weight(np.zeros(4 * H) if self.b is None else self.b, "b", (4 * H,), W_hh)
        for k, v in (("W_hh", W_hh), ("W_ih", W_ih), ("b", b), ("hidden_size", H)):
            object.__setattr__(self, k, v)
        object.__setattr__(self, "input_size", int(W_ih.shape[1]))
        # rows of the blocks W_i, W_f, W_g, W_o side by side: (H, 4, H)
        xp = self.xp
        object.__setattr__(self, "_Wst", xp.permute_dims(xp.reshape(W_hh, (4, H, H)), (1, 0, 2)))

    @property
    def dim(self) -> int:
        return 2 * self.hidden_size

    @property
    def state_names(self) -> tuple[str, ...]:
        return ("h", "c")

    def _gates(self, h: Any, x: Any) -> tuple[Any, Any, Any, Any]:
        xp, H = self.xp, self.hidden_size
        z = matvec(self.W_ih, x) + matvec(self.W_hh, h) + self.b
        return (
            sigmoid(xp, z[..., :H]),
            sigmoid(xp, z[..., H : 2 * H]),
            xp.tanh(z[..., 2 * H : 3 * H]),
            sigmoid(xp, z[..., 3 * H :]),
        )

    def _step(self, s: Any, x: Any) -> Any:
        xp, H = self.xp, self.hidden_size
        h, c = s[..., :H], s[..., H:]
        i, f, g, o = self._gates(h, x)
        c1 = f * c + i * g
        h1 = o * xp.tanh(c1)
        h1, c1 = xp.broadcast_arrays(h1, c1)
        return xp.concat([h1, c1], axis=-1)

    def _jac(self, s: Any, x: Any) -> Any:
        xp, H = self.xp, self.hidden_size
        h, c = s[..., :H], s[..., H:]
        i, f, g, o = self._gates(h, x)
        c1 = f * c + i * g
        t = xp.tanh(c1)
        # rows of dc'/dh and dh'/dh as sums of diag(.) W_k over the gates i, f, g, o
        di, df, dg = g * i * (1 - i), c * f * (1 - f), i * (1 - g * g)
        do = o * (1 - t * t)
        zero = 0 * o
        dc_dh = rowsum(xp, [di, df, dg, zero], self._Wst)
        dh_dh = rowsum(xp, [do * di, do * df, do * dg, t * o * (1 - o)], self._Wst)
        dc_dc = diag(xp, f)
        dh_dc = diag(xp, do * f)
        dh_dh, dh_dc, dc_dh, dc_dc = xp.broadcast_arrays(dh_dh, dh_dc, dc_dh, dc_dc)
        top = xp.concat([dh_dh, dh_dc], axis=-1)
        bottom = xp.concat([dc_dh, dc_dc], axis=-1)
        return xp.concat([top, bottom], axis=-2)

    # The fixed points of an LSTM satisfy c = i g / (1 - f) with the gates
    # functions of h alone, so the search runs on h (dim H, 8x cheaper solves):
    # R(h) = o tanh(i g / (1 - f)) - h.
    def _reduce(self, s: Any) -> Any:
        return s[..., : self.hidden_size]

    def _c_star(self, h: Any, x: Any) -> tuple[Any, ...]:
        i, f, g, o = self._gates(h, x)
        one_f = 1 - f
        one_f = self.xp.where(one_f > 1e-300, one_f, 1e-300)
        return i, f, g, o, one_f, i * g / one_f

    def _lift(self, z: Any, x: Any) -> Any:
        xp = self.xp
        c = self._c_star(z, x)[-1]
        z, c = xp.broadcast_arrays(z, c)
        return xp.concat([z, c], axis=-1)

    def _residual(self, z: Any, x: Any) -> Any:
        i, f, g, o, one_f, c = self._c_star(z, x)
        return o * self.xp.tanh(c) - z

    def _system(self, z: Any, x: Any) -> tuple[Any, Any]:
        xp, H = self.xp, self.hidden_size
        i, f, g, o, one_f, c = self._c_star(z, x)
        t = xp.tanh(c)
        a = o * (1 - t * t) / one_f
        # through f: d/dh of i g / (1 - f) is c f W_f
        A = rowsum(
            xp,
            [a * g * i * (1 - i), o * (1 - t * t) * c * f, a * i * (1 - g * g), t * o * (1 - o)],
            self._Wst,
        )
        A = A - xp.eye(H, dtype=A.dtype, device=getattr(A, "device", None))
        return o * t - z, A


@dataclass(frozen=True, eq=False)
class GRUCell(CellBase):
    """A GRU step, PyTorch's equations and gate order r, z, n.

    ``r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)``, ``z`` likewise,
    ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))`` (``reset_after=True``,
    PyTorch and Keras' default) or ``n = tanh(W_in x + b_in + W_hn (r * h) + b_hn)``
    (``reset_after=False``); ``h' = (1 - z) * n + z * h``.

    Parameters
    ----------
    W_ih : array of shape (3H, I)
    W_hh : array of shape (3H, H)
    b_ih, b_hh : arrays of shape (3H,), optional (zero when omitted)
    reset_after : bool, default True

    Examples
    --------
    >>> import numpy as np
    >>> cell = GRUCell(np.zeros((3, 1)), np.zeros((3, 1)))
    >>> cell.step(np.array([0.8]), np.zeros(1)).tolist()   # z = 1/2, n = 0
    [0.4]
    """

    W_ih: Any
    W_hh: Any
    b_ih: Any = None
    b_hh: Any = None
    reset_after: bool = True
    hidden_size: int = field(init=False)
    input_size: int = field(init=False)

    def __post_init__(self) -> None:
        W_hh = check_weight(self.W_hh, "W_hh", (None, None))
        H = int(W_hh.shape[1])
        if W_hh.shape[0] != 3 * H:
            raise RnndynError(
                f"W_hh of a GRU must have shape (3H, H) (gates r, z, n stacked); got {tuple(W_hh.shape)}."
            )
        W_ih = check_weight(self.W_ih, "W_ih", (3 * H, None), W_hh)
        b_ih = check_weight(np.zeros(3 * H) if self.b_ih is None else self.b_ih, "b_ih", (3 * H,), W_hh)
        b_hh = check_weight(np.zeros(3 * H) if self.b_hh is None else self.b_hh, "b_hh", (3 * H,), W_hh)
        check_bool(self.reset_after, "reset_after")
        for k, v in (("W_hh", W_hh), ("W_ih", W_ih), ("b_ih", b_ih), ("b_hh", b_hh), ("hidden_size", H)):
            object.__setattr__(self, k, v)
        object.__setattr__(self, "input_size", int(W_ih.shape[1]))
        object.__setattr__(self, "reset_after", bool(self.reset_after))
        xp = self.xp
        object.__setattr__(self, "_Wst", xp.permute_dims(xp.reshape(W_hh, (3, H, H)), (1, 0, 2)))

    def _parts(self, h: Any, x: Any) -> tuple[Any, ...]:
        xp, H = self.xp, self.hidden_size
        gi = matvec(self.W_ih, x) + self.b_ih
        Wr, Wz, Wn = self.W_hh[:H], self.W_hh[H : 2 * H], self.W_hh[2 * H :]
        r = sigmoid(xp, gi[..., :H] + matvec(Wr, h) + self.b_hh[:H])
        z = sigmoid(xp, gi[..., H : 2 * H] + matvec(Wz, h) + self.b_hh[H : 2 * H])
        if self.reset_after:
            a = matvec(Wn, h) + self.b_hh[2 * H :]
            n = xp.tanh(gi[..., 2 * H :] + r * a)
        else:
            a = None
            n = xp.tanh(gi[..., 2 * H :] + matvec(Wn, r * h) + self.b_hh[2 * H :])
        return r, z, n, a, Wr, Wz, Wn

    def _step(self, s: Any, x: Any) -> Any:
        r, z, n, *_ = self._parts(s, x)
        return (1 - z) * n + z * s

    def _jac(self, s: Any, x: Any) -> Any:
        xp = self.xp
        r, z, n, a, Wr, Wz, Wn = self._parts(s, x)
        zdiag = diag(xp, xp.broadcast_to(z, n.shape))
        if self.reset_after:
            # h' = (1-z) n + z h with n = tanh(. + r * a): every term is diag(.) W_k
            dn = (1 - z) * (1 - n * n)
            rows = [dn * a * r * (1 - r), (s - n) * z * (1 - z), dn * r]
            return rowsum(xp, rows, self._Wst) + zdiag
        # W_hn (r * h): d/dh = W_hn diag(r) + W_hn diag(h) dr/dh
        dr = scale_rows(r * (1 - r), Wr)
        dn = scale_rows(1 - n * n, Wn * r[..., None, :] + (Wn * s[..., None, :]) @ dr)
        return scale_rows(1 - z, dn) + scale_rows(s - n, scale_rows(z * (1 - z), Wz)) + zdiag


@dataclass(frozen=True, eq=False)
class RNNCell(CellBase):
    """A simple (Elman) RNN step ``h' = act(W_ih x + W_hh h + b)``.

    Parameters
    ----------
    W_ih : array of shape (H, I)
    W_hh : array of shape (H, H)
    b : array of shape (H,), optional
        Zero when omitted. PyTorch: ``bias_ih + bias_hh``.
    activation : {"tanh", "relu", "linear"}, default "tanh"
        ``"linear"`` is the identity (a linear map, for analytic checks).

    Examples
    --------
    >>> import numpy as np
    >>> cell = RNNCell(np.ones((1, 1)), 0.5 * np.eye(1), activation="linear")
    >>> cell.step(np.array([2.0]), np.array([1.0])).tolist()
    [2.0]
    """

    W_ih: Any
    W_hh: Any
    b: Any = None
    activation: str = "tanh"
    hidden_size: int = field(init=False)
    input_size: int = field(init=False)

    def __post_init__(self) -> None:
        W_hh = check_weight(self.W_hh, "W_hh", (None, None))
        H = int(W_hh.shape[1])
        if W_hh.shape[0] != H:
            raise RnndynError(f"W_hh of a simple RNN must be square (H, H); got {tuple(W_hh.shape)}.")
        W_ih = check_weight(self.W_ih, "W_ih", (H, None), W_hh)
        b = check_weight(np.zeros(H) if self.b is None else self.b, "b", (H,), W_hh)
        check_choice(self.activation, "activation", ACTIVATIONS)
        for k, v in (("W_hh", W_hh), ("W_ih", W_ih), ("b", b), ("hidden_size", H)):
            object.__setattr__(self, k, v)
        object.__setattr__(self, "input_size", int(W_ih.shape[1]))

    def _pre(self, s: Any, x: Any) -> Any:
        return matvec(self.W_ih, x) + matvec(self.W_hh, s) + self.b

    def _step(self, s: Any, x: Any) -> Any:
        p = self._pre(s, x)
        if self.activation == "tanh":
            return self.xp.tanh(p)
        if self.activation == "relu":
            return self.xp.where(p > 0, p, 0.0 * p)
        return p

    def _jac(self, s: Any, x: Any) -> Any:
        p = self._pre(s, x)
        if self.activation == "tanh":
            t = self.xp.tanh(p)
            d = 1 - t * t
        elif self.activation == "relu":
            d = self.xp.astype(p > 0, p.dtype)
        else:
            d = self.xp.ones_like(p)
        return scale_rows(d, self.W_hh)


Cell = LSTMCell | GRUCell | RNNCell | StepCell


def check_cell(cell: Any, name: str = "cell") -> Cell:
    if not isinstance(cell, (LSTMCell, GRUCell, RNNCell, StepCell)):
        raise RnndynError(
            f"{name} must be an LSTMCell, GRUCell, RNNCell or StepCell from rnndyn.dynamics; got "
            f"{describe(cell)}. Build one from the layer's weights (canonical layout in "
            "rnndyn.dynamics), or wrap step and Jacobian callables in StepCell."
        )
    return cell
