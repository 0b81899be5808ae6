"""The Jacobian ``dF/ds`` of a cell along states, and its spectrum.

Public names are re-exported by :mod:`rnndyn.dynamics`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from ._cells import LSTMCell, check_cell
from ._state_units import real_values, trajectory_states
from .errors import RnndynError
from .trajectories import Trajectories

__all__ = ["JacobianSpectra", "jacobians", "sorted_eig"]


def sorted_eig(J: np.ndarray, dim: int, *, vectors: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """Eigenvalues sorted by decreasing ``|lambda|`` (and the matching unit eigenvectors)."""
    if len(J) == 0:
        return np.zeros((0, dim), complex), np.zeros((0, dim, dim), complex) if vectors else None
    lam, vec = np.linalg.eig(J) if vectors else (np.linalg.eigvals(J), None)
    order = np.argsort(-np.abs(lam), axis=-1, kind="stable")
    lam = np.take_along_axis(lam, order, axis=-1).astype(complex)
    if vec is not None:
        vec = np.take_along_axis(vec, order[:, None, :], axis=-1).astype(complex)
    return lam, vec


class JacobianSpectra(NamedTuple):
    """``dF/ds`` along states, from :func:`jacobians` (arrays of the cell's library)."""

    jacobian: Any
    """``(..., dim, dim)``, or None when ``return_jacobians=False``."""
    spectral_radius: Any
    """``(...)``: ``max_k |lambda_k|``."""
    singular_values: Any
    """``(..., dim)``, decreasing."""


def jacobians(
    cell: Any,
    states: Any,
    inputs: Any = None,
    *,
    return_jacobians: bool = True,
    layer: Any = None,
    direction: Any = None,
) -> JacobianSpectra:
    """The Jacobian ``dF/ds`` at each state, with its spectral radius and singular values.

    ``J = dF/ds`` evaluated at ``(states[..., k, :], inputs[..., k, :])``: the
    Jacobian of the step that reads ``inputs[..., k, :]`` from the state
    ``states[..., k, :]``. Align captured trajectories accordingly (the state
    before step ``t`` is the state captured at ``t - 1``).

    Parameters
    ----------
    cell : LSTMCell, GRUCell, RNNCell or StepCell
    states : array of shape (..., dim) or Trajectories
        A :class:`Trajectories` must hold every state coordinate of the cell
        (for an LSTM both ``h`` and ``c``) for ``layer``/``direction``.
    inputs : array of shape (..., input_size), optional
        Broadcast against the states' leading shape. Default: zero.
    return_jacobians : bool, default True
        False computes the spectra in chunks and keeps no Jacobian (memory).

    Returns
    -------
    JacobianSpectra

    Examples
    --------
    >>> import numpy as np
    >>> from rnndyn.dynamics import RNNCell
    >>> cell = RNNCell(np.zeros((2, 1)), np.diag([0.5, -2.0]), activation="linear")
    >>> out = jacobians(cell, np.zeros((3, 4, 2)))
    >>> out.jacobian.shape, float(out.spectral_radius[0, 0]), out.singular_values[0, 0].tolist()
    ((3, 4, 2, 2), 2.0, [2.0, 0.5])
    """
    cell = check_cell(cell)
    if isinstance(states, Trajectories):
        states = trajectory_states(cell, states, layer=layer, direction=direction)
    states = real_values(states, "states", f"an array of shape (..., {cell.dim})")
    if states.ndim < 1 or states.shape[-1] != cell.dim:
        raise RnndynError(
            f"states must have shape (..., dim) with dim = {cell.dim} (the cell's state length"
            f"{', h then c' if isinstance(cell, LSTMCell) else ''}); got shape {tuple(states.shape)}."
        )
    if inputs is None:
        inputs = np.zeros(states.shape[:-1] + (cell.input_size,))
    inputs = real_values(inputs, "inputs", f"an array of shape (..., {cell.input_size})")
    if inputs.ndim < 1 or inputs.shape[-1] != cell.input_size:
        raise RnndynError(
            f"inputs must have shape (..., input_size) with input_size = {cell.input_size}; got "
            f"shape {tuple(inputs.shape)}."
        )
    try:
        lead = np.broadcast_shapes(states.shape[:-1], inputs.shape[:-1])
    except ValueError:
        raise RnndynError(
            f"states {tuple(states.shape)} and inputs {tuple(inputs.shape)} have leading shapes that do not "
            "broadcast; give one input per state (or one for all)."
        ) from None
    xp = cell.xp
    s2 = np.broadcast_to(states, lead + (cell.dim,)).reshape(-1, cell.dim)
    x2 = np.broadcast_to(inputs, lead + (cell.input_size,)).reshape(-1, cell.input_size)
    chunk = max(1, 2**27 // (8 * cell.dim * cell.dim))
    Js, rho, sv = [], [], []
    for lo in range(0, s2.shape[0], chunk):
        J = cell.jacobian(s2[lo : lo + chunk], x2[lo : lo + chunk])
        rho.append(xp.max(xp.abs(xp.linalg.eigvals(J)), axis=-1))
        sv.append(xp.linalg.svdvals(J))
        if return_jacobians:
            Js.append(J)

    def cat(parts: list[Any], tail: tuple[int, ...]) -> Any:
        if not parts:
            return xp.zeros(lead + tail)
        return xp.reshape(xp.concat(parts, axis=0), lead + tail)

    J_all = cat(Js, (cell.dim, cell.dim)) if return_jacobians else None
    return JacobianSpectra(J_all, cat(rho, ()), cat(sv, (cell.dim,)))
