"""One recorded ``nnx.RNN`` call, replayed to give every state and gate per step.

``nnx.RNN`` runs its cell inside ``nnx.scan``, so nothing can be read out of
the loop. The adapter records each call instead (inputs, ``initial_carry``,
``seq_lengths``, flags and outputs) and this module recomputes the gates of
every step at once from the inputs and the RNN's own outputs (the previous
``h`` of each step is known), with the cell's own layers and activation
functions; an LSTM's ``c`` is then one elementwise recurrence. The
recomputed ``h`` must match the RNN's output, else :class:`~rnndyn.PluginError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jax.numpy as jnp
import numpy as np

from rnndyn import PluginError

__all__ = ["Call", "resolve", "replay", "processing_order"]

TOLERANCE = 1e-5


@dataclass
class Call:
    """One call of an ``nnx.RNN``: batch-first inputs and outputs, flags as the call resolved them."""

    x: np.ndarray  # (n, T, features), input order
    y: np.ndarray  # (n, T, units), as the RNN returned it (processing order if reverse without keep_order)
    carry: Any  # initial carry given, or None
    seq_lengths: np.ndarray | None
    reverse: bool
    keep_order: bool


def _numpy(a: Any, what: str) -> np.ndarray:
    try:
        return np.asarray(a)
    except Exception as exc:  # noqa: BLE001 - tracers (jit, grad) cannot become numpy
        raise PluginError(
            f"rnndyn_flax cannot read the {what} of an nnx.RNN call ({type(exc).__name__}); call the "
            "model eagerly (not inside nnx.jit, jax.jit or a transform) while rnndyn captures it."
        ) from None


def resolve(rnn: Any, inputs: Any, kwargs: dict[str, Any], out: Any) -> Call:
    """The :class:`Call` of ``rnn(inputs, **kwargs)`` that returned ``out``."""

    def flag(name: str) -> bool:
        v = kwargs.get(name)
        return bool(getattr(rnn, name) if v is None else v)

    return_carry, time_major = flag("return_carry"), flag("time_major")
    x, y = _numpy(inputs, "inputs"), _numpy(out[1] if return_carry else out, "outputs")
    if x.ndim != 3 or y.ndim != 3:
        raise PluginError(
            f"rnndyn_flax captures nnx.RNN calls on inputs of shape (batch, steps, features) (or "
            f"(steps, batch, features) with time_major=True); got inputs of shape {x.shape} and "
            f"outputs of shape {y.shape}."
        )
    if time_major:
        x, y = x.transpose(1, 0, 2), y.transpose(1, 0, 2)
    lengths = kwargs.get("seq_lengths")
    lengths = None if lengths is None else _numpy(lengths, "seq_lengths").astype(np.int64).reshape(-1)
    carry = kwargs.get("initial_carry")
    return Call(x, y, carry, lengths, flag("reverse"), flag("keep_order"))


def processing_order(call: Call) -> np.ndarray:
    """``order[i, k]``: the input position the ``k``-th step of ``call`` read, int ``(n, T)``.

    Forward: ``0 .. T-1``. Reverse: Flax's ``flip_sequences``, i.e. the real
    steps backwards then the padding backwards (``T-1 .. 0`` without
    ``seq_lengths``).

    Examples
    --------
    >>> c = Call(np.zeros((1, 5, 1)), np.zeros((1, 5, 1)), None, np.array([3]), True, True)
    >>> processing_order(c).tolist()
    [[2, 1, 0, 4, 3]]
    """
    n, T = call.x.shape[:2]
    k = np.arange(T)[None, :]
    if not call.reverse:
        return np.broadcast_to(k, (n, T)).copy()
    L = call.seq_lengths[:, None] if call.seq_lengths is not None else np.full((n, 1), T)
    return (T - 1 - k + L) % T


def _carry0(cell: Any, call: Call, kind: str | None, n: int, units: int) -> tuple[np.ndarray, np.ndarray]:
    """Initial ``(c, h)`` (``c`` zeros for cells without one), float32 ``(n, units)``."""
    if call.carry is None:
        if getattr(cell, "carry_init", None) is not None:
            raise PluginError(
                "this nnx.RNN's cell draws its initial carry with carry_init, which rnndyn cannot "
                "replay; pass initial_carry= to the RNN call (e.g. through rnndyn.Args)."
            )
        z = np.zeros((n, units), np.float32)
        return z, z
    if kind == "LSTM":
        c, h = call.carry
        return np.asarray(c, np.float32), np.asarray(h, np.float32)
    h = np.asarray(call.carry, np.float32)
    return np.zeros_like(h), h


def _split(a: Any, k: int) -> list[np.ndarray]:
    return [np.asarray(p, np.float32) for p in jnp.split(a, k, axis=-1)]


def _gates(cell: Any, kind: str, x: Any, hp: Any) -> dict[str, np.ndarray]:
    """Every gate of every step at once (``hp``: the ``h`` before each step)."""
    if kind == "LSTM":
        if hasattr(cell, "dense_i"):  # OptimizedLSTMCell
            pre = _split(cell.dense_i(x) + cell.dense_h(hp), 4)
        else:
            pre = [
                np.asarray(li(x) + lh(hp), np.float32)
                for li, lh in (
                    (cell.ii, cell.hi),
                    (cell.if_, cell.hf),
                    (cell.ig, cell.hg),
                    (cell.io, cell.ho),
                )
            ]
        acts = (cell.gate_fn, cell.gate_fn, cell.activation_fn, cell.gate_fn)
        return {s: np.asarray(f(p), np.float32) for s, f, p in zip("ifgo", acts, pre, strict=True)}
    if kind == "GRU":
        xr, xz, xn = _split(cell.dense_i(x), 3)
        hr, hz, hn = _split(cell.dense_h(hp), 3)
        r = np.asarray(cell.gate_fn(xr + hr), np.float32)
        z = np.asarray(cell.gate_fn(xz + hz), np.float32)
        n = np.asarray(cell.activation_fn(xn + r * hn), np.float32)
        return {"r": r, "z": z, "n": n}
    pre = cell.dense_i(x) + cell.dense_h(hp)
    if getattr(cell, "residual", False):
        pre = pre + hp
    return {"pre": np.asarray(cell.activation_fn(pre), np.float32)}


def replay(rnn: Any, kind: str | None, call: Call, states: set[str]) -> dict[str, np.ndarray]:
    """The requested ``states`` of one call, each float32 ``(n, T, units)`` in input order."""
    n, T = call.x.shape[:2]
    order = processing_order(call)
    identity = not call.reverse  # processing order is input order: no reordering at all

    def take(a: np.ndarray, idx: np.ndarray) -> np.ndarray:
        return a if identity else np.take_along_axis(a, idx[:, :, None], axis=1)

    # y in processing order: forward and keep_order outputs are in input order
    in_input_order = not call.reverse or call.keep_order
    if states == {"h"} and in_input_order:
        return {"h": np.asarray(call.y, np.float32)}
    h = np.asarray(take(call.y, order) if in_input_order else call.y, np.float32)
    out: dict[str, np.ndarray] = {"h": h}
    if states - {"h"}:
        if kind is None:
            raise PluginError(f"rnndyn_flax captures only 'h' of a {type(rnn.cell).__name__} cell.")
        cell = rnn.cell
        c0, h0 = _carry0(cell, call, kind, n, h.shape[2])
        x = take(call.x, order)
        hp = np.concatenate([h0[:, None], h[:, :-1]], axis=1)
        gates = _gates(cell, kind, jnp.asarray(x), jnp.asarray(hp))
        if kind == "LSTM":
            c = np.empty_like(h)
            prev = c0
            for t in range(T):
                prev = gates["f"][:, t] * prev + gates["i"][:, t] * gates["g"][:, t]
                c[:, t] = prev
            check = gates["o"] * np.asarray(cell.activation_fn(jnp.asarray(c)), np.float32)
            out.update(gates, c=c)
        elif kind == "GRU":
            z = gates["z"]
            check = (1.0 - z) * gates["n"] + z * hp
            out.update(gates)
        else:
            check = gates.pop("pre")
        err = float(np.max(np.abs(check - h), initial=0.0))
        if not err <= TOLERANCE * max(1.0, float(np.max(np.abs(h), initial=0.0))):
            raise PluginError(
                f"rnndyn_flax replayed a {type(cell).__name__} and got h off the RNN's own output by "
                f"{err:.3g}; this cell or call is not one rnndyn can replay (capture only state='h')."
            )
    back = np.empty_like(order)
    np.put_along_axis(back, order, np.broadcast_to(np.arange(T), (n, T)), axis=1)
    return {s: take(out[s], back) for s in states}
