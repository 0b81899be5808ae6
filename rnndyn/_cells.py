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

from collections.abc import Callable
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

import numpy as np

from ._validation import array_namespace, check_bool, check_choice, check_int, describe, to_numpy
from .errors import RnndynError

__all__ = ["LSTMCell", "GRUCell", "RNNCell", "StepCell", "ACTIVATIONS"]

ACTIVATIONS = ("tanh", "relu", "linear")


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


def _is_torch(x: Any) -> bool:
    return type(x).__module__.startswith("torch")


def _weight(w: Any, name: str, shape: tuple[int | None, ...], like: Any = None) -> Any:
    """A float64 weight array (numpy, or torch on its device) of the expected shape, finite."""
    if w is None or isinstance(w, (str, bytes, dict, bool, int, float)):
        raise RnndynError(f"{name} must be an array of shape {_shape_text(shape)}; got {describe(w)}.")
    if _is_torch(w) or (like is not None and _is_torch(like)):
        import torch

        device = w.device if _is_torch(w) else like.device
        try:
            w = torch.as_tensor(w.detach() if _is_torch(w) else np.asarray(w), device=device)
        except Exception as exc:
            raise RnndynError(f"{name} could not be read as an array: {exc}.") from None
        if w.is_complex() or not (w.is_floating_point() or w.dtype in (torch.int32, torch.int64)):
            raise RnndynError(f"{name} must hold real numbers; got dtype {w.dtype}.")
        w = w.to(torch.float64)
        finite = bool(torch.isfinite(w).all())
    else:
        try:
            w = np.asarray(w)
        except Exception as exc:
            raise RnndynError(f"{name} could not be read as an array: {exc}.") from None
        if w.dtype.kind not in "fiu":
            raise RnndynError(f"{name} must hold real numbers; got dtype {w.dtype}.")
        w = w.astype(np.float64)
        finite = bool(np.isfinite(w).all())
    got = tuple(int(s) for s in w.shape)
    if len(got) != len(shape) or any(e is not None and e != g for e, g in zip(shape, got, strict=True)):
        raise RnndynError(
            f"{name} must have shape {_shape_text(shape)}; got {got}. See the canonical weight layout "
            "in rnndyn.dynamics (gates stacked along the first axis, PyTorch's order)."
        )
    if not finite:
        raise RnndynError(
            f"{name} holds NaN or inf; every weight must be finite (a model that diverged in "
            "training has no step map to analyse)."
        )
    return w


def _shape_text(shape: tuple[int | None, ...]) -> str:
    return (
        "(" + ", ".join("?" if s is None else str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
    )


def _sigmoid(xp: Any, z: Any) -> Any:
    # 0.5 (1 + tanh(z/2)): no overflow for large |z|, absolute error ~1e-16
    return 0.5 * (1.0 + xp.tanh(0.5 * z))


def _mv(W: Any, v: Any) -> Any:
    """``W @ v`` for a batch of vectors ``v (..., n)`` and a matrix ``W (m, n)``."""
    return v @ W.T


def _rowsum(xp: Any, D: list[Any], Wst: Any) -> Any:
    """``sum_k diag(D[k]) @ W_k`` batched, with ``Wst[:, k, :] = W_k`` (shape ``(m, K, n)``).

    One batched matmul over the rows (10x faster than K broadcast products).
    """
    D = xp.stack(xp.broadcast_arrays(*D), axis=-1)  # (..., m, K)
    lead, m, K = tuple(D.shape[:-2]), int(D.shape[-2]), int(D.shape[-1])
    N = int(np.prod(lead, dtype=np.int64))
    Dm = xp.permute_dims(xp.reshape(D, (N, m, K)), (1, 0, 2))  # (m, N, K)
    out = xp.permute_dims(Dm @ Wst, (1, 0, 2))  # (N, m, n)
    return xp.reshape(out, lead + (m, int(Wst.shape[-1])))


def _rows(d: Any, W: Any) -> Any:
    """``diag(d) @ W`` batched: ``d (..., m)``, ``W (m, n)`` or ``(..., m, n)``."""
    return d[..., :, None] * W


class _Base:
    """Shared plumbing: namespace, argument conversion, the Newton system."""

    hidden_size: int
    input_size: int
    W_hh: Any

    @property
    def dim(self) -> int:
        """Length of the state vector ``s``."""
        return self.hidden_size

    @property
    def state_names(self) -> tuple[str, ...]:
        """What each block of ``hidden_size`` coordinates of ``s`` is (``("h",)`` or ``("h", "c")``)."""
        return ("h",)

    @property
    def xp(self) -> Any:
        return array_namespace(self.W_hh)

    def to_numpy(self) -> Any:
        """The same cell with float64 numpy weights (e.g. a GPU model's map analysed on the CPU).

        On a CPU, numpy is also the faster backend for :func:`~rnndyn.dynamics.fixed_points`.
        A :class:`StepCell` is returned as it is (it already works on numpy arrays).

        Examples
        --------
        >>> import numpy as np
        >>> RNNCell(np.zeros((2, 1)), np.eye(2)).to_numpy().W_hh.dtype
        dtype('float64')
        """
        if not is_dataclass(self):
            return self
        kw = {f.name: getattr(self, f.name) for f in fields(self) if f.init}
        kw = {k: np.asarray(to_numpy(v), np.float64) if hasattr(v, "shape") else v for k, v in kw.items()}
        return type(self)(**kw)

    def _args(self, s: Any, x: Any) -> tuple[Any, Any]:
        xp = self.xp
        dev = self.W_hh.device if _is_torch(self.W_hh) else None
        s = _as(xp, s, dev)
        x = _as(xp, x, dev)
        if s.shape[-1:] != (self.dim,):
            raise RnndynError(
                f"states must have shape (..., {self.dim}) for this cell; got {tuple(s.shape)}."
            )
        if x.shape[-1:] != (self.input_size,):
            raise RnndynError(
                f"inputs must have shape (..., {self.input_size}) (the cell's input_size); got "
                f"{tuple(x.shape)}."
            )
        return s, x

    # --- the system the fixed-point solver works on (overridden by LSTMCell)
    def _reduce(self, s: Any) -> Any:
        return s

    def _lift(self, z: Any, x: Any) -> Any:
        return z

    def _residual(self, z: Any, x: Any) -> Any:
        return self._step(z, x) - z

    def _system(self, z: Any, x: Any) -> tuple[Any, Any]:
        xp = self.xp
        eye = xp.eye(self.dim, dtype=z.dtype, device=getattr(z, "device", None))
        return self._step(z, x) - z, self._jac(z, x) - eye

    # --- public
    def step(self, s: Any, x: Any) -> Any:
        """Next state ``F(s, x)``; ``s (..., dim)``, ``x (..., input_size)``."""
        return self._step(*self._args(s, x))

    def jacobian(self, s: Any, x: Any) -> Any:
        """``dF/ds`` at ``(s, x)``, shape ``(..., dim, dim)`` (row: output, column: input coordinate)."""
        s, x = self._args(s, x)
        shape = tuple(np.broadcast_shapes(tuple(s.shape[:-1]), tuple(x.shape[:-1])))
        return self.xp.broadcast_to(self._jac(s, x), shape + (self.dim, self.dim))

    def _step(self, s: Any, x: Any) -> Any:
        raise NotImplementedError

    def _jac(self, s: Any, x: Any) -> Any:
        raise NotImplementedError


def _as(xp: Any, a: Any, device: Any) -> Any:
    if _is_torch(a) and not xp.__name__.endswith("torch"):
        a = a.detach().cpu().numpy()
    if device is not None:
        import torch

        return torch.as_tensor(a, dtype=torch.float64, device=device)
    return np.asarray(a, dtype=np.float64)


@dataclass(frozen=True, eq=False)
class LSTMCell(_Base):
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
        W_hh = _weight(self.W_hh, "W_hh", (None, None))
        H = int(W_hh.shape[1])
        if W_hh.shape[0] != 4 * H:
            raise RnndynError(
                "W_hh of an LSTM must have shape (4H, H) (gates i, f, g, o stacked); got "
                f"{tuple(W_hh.shape)}."
            )
        W_ih = _weight(self.W_ih, "W_ih", (4 * H, None), W_hh)
        b = _weight(np.zeros(4 * H) if self.b is None else self.b, "b", (4 * H,), W_hh)
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
        z = _mv(self.W_ih, x) + _mv(self.W_hh, h) + self.b
        return (
            _sigmoid(xp, z[..., :H]),
            _sigmoid(xp, z[..., H : 2 * H]),
            xp.tanh(z[..., 2 * H : 3 * H]),
            _sigmoid(xp, z[..., 3 * H :]),
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
        dc_dh = _rowsum(xp, [di, df, dg, zero], self._Wst)
        dh_dh = _rowsum(xp, [do * di, do * df, do * dg, t * o * (1 - o)], self._Wst)
        dc_dc = _diag(xp, f)
        dh_dc = _diag(xp, do * f)
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
        A = _rowsum(
            xp,
            [a * g * i * (1 - i), o * (1 - t * t) * c * f, a * i * (1 - g * g), t * o * (1 - o)],
            self._Wst,
        )
        A = A - xp.eye(H, dtype=A.dtype, device=getattr(A, "device", None))
        return o * t - z, A


def _diag(xp: Any, d: Any) -> Any:
    n = d.shape[-1]
    return d[..., :, None] * xp.eye(n, dtype=d.dtype, device=getattr(d, "device", None))


@dataclass(frozen=True, eq=False)
class GRUCell(_Base):
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
        W_hh = _weight(self.W_hh, "W_hh", (None, None))
        H = int(W_hh.shape[1])
        if W_hh.shape[0] != 3 * H:
            raise RnndynError(
                f"W_hh of a GRU must have shape (3H, H) (gates r, z, n stacked); got {tuple(W_hh.shape)}."
            )
        W_ih = _weight(self.W_ih, "W_ih", (3 * H, None), W_hh)
        b_ih = _weight(np.zeros(3 * H) if self.b_ih is None else self.b_ih, "b_ih", (3 * H,), W_hh)
        b_hh = _weight(np.zeros(3 * H) if self.b_hh is None else self.b_hh, "b_hh", (3 * H,), W_hh)
        check_bool(self.reset_after, "reset_after")
        for k, v in (("W_hh", W_hh), ("W_ih", W_ih), ("b_ih", b_ih), ("b_hh", b_hh), ("hidden_size", H)):
            object.__setattr__(self, k, v)
        object.__setattr__(self, "input_size", int(W_ih.shape[1]))
        object.__setattr__(self, "reset_after", bool(self.reset_after))
        xp = self.xp
        object.__setattr__(self, "_Wst", xp.permute_dims(xp.reshape(W_hh, (3, H, H)), (1, 0, 2)))

    def _parts(self, h: Any, x: Any) -> tuple[Any, ...]:
        xp, H = self.xp, self.hidden_size
        gi = _mv(self.W_ih, x) + self.b_ih
        Wr, Wz, Wn = self.W_hh[:H], self.W_hh[H : 2 * H], self.W_hh[2 * H :]
        r = _sigmoid(xp, gi[..., :H] + _mv(Wr, h) + self.b_hh[:H])
        z = _sigmoid(xp, gi[..., H : 2 * H] + _mv(Wz, h) + self.b_hh[H : 2 * H])
        if self.reset_after:
            a = _mv(Wn, h) + self.b_hh[2 * H :]
            n = xp.tanh(gi[..., 2 * H :] + r * a)
        else:
            a = None
            n = xp.tanh(gi[..., 2 * H :] + _mv(Wn, r * h) + self.b_hh[2 * H :])
        return r, z, n, a, Wr, Wz, Wn

    def _step(self, s: Any, x: Any) -> Any:
        r, z, n, *_ = self._parts(s, x)
        return (1 - z) * n + z * s

    def _jac(self, s: Any, x: Any) -> Any:
        xp = self.xp
        r, z, n, a, Wr, Wz, Wn = self._parts(s, x)
        zdiag = _diag(xp, xp.broadcast_to(z, n.shape))
        if self.reset_after:
            # h' = (1-z) n + z h with n = tanh(. + r * a): every term is diag(.) W_k
            dn = (1 - z) * (1 - n * n)
            rows = [dn * a * r * (1 - r), (s - n) * z * (1 - z), dn * r]
            return _rowsum(xp, rows, self._Wst) + zdiag
        # W_hn (r * h): d/dh = W_hn diag(r) + W_hn diag(h) dr/dh
        dr = _rows(r * (1 - r), Wr)
        dn = _rows(1 - n * n, Wn * r[..., None, :] + (Wn * s[..., None, :]) @ dr)
        return _rows(1 - z, dn) + _rows(s - n, _rows(z * (1 - z), Wz)) + zdiag


@dataclass(frozen=True, eq=False)
class RNNCell(_Base):
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
        W_hh = _weight(self.W_hh, "W_hh", (None, None))
        H = int(W_hh.shape[1])
        if W_hh.shape[0] != H:
            raise RnndynError(f"W_hh of a simple RNN must be square (H, H); got {tuple(W_hh.shape)}.")
        W_ih = _weight(self.W_ih, "W_ih", (H, None), W_hh)
        b = _weight(np.zeros(H) if self.b is None else self.b, "b", (H,), W_hh)
        check_choice(self.activation, "activation", ACTIVATIONS)
        for k, v in (("W_hh", W_hh), ("W_ih", W_ih), ("b", b), ("hidden_size", H)):
            object.__setattr__(self, k, v)
        object.__setattr__(self, "input_size", int(W_ih.shape[1]))

    def _pre(self, s: Any, x: Any) -> Any:
        return _mv(self.W_ih, x) + _mv(self.W_hh, s) + self.b

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
        return _rows(d, self.W_hh)


class StepCell(_Base):
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


Cell = LSTMCell | GRUCell | RNNCell | StepCell


def check_cell(cell: Any, name: str = "cell") -> Cell:
    if not isinstance(cell, (LSTMCell, GRUCell, RNNCell, StepCell)):
        raise RnndynError(
            f"{name} must be an LSTMCell, GRUCell, RNNCell or StepCell from rnndyn.dynamics; got "
            f"{describe(cell)}. Build one from the layer's weights (canonical layout in "
            "rnndyn.dynamics), or wrap step and Jacobian callables in StepCell."
        )
    return cell
