"""The map behind the trajectories: fixed points, Jacobians and linearisation.

A recurrent layer moves its state by ``s_{t+1} = F(s_t, x_{t+1})``. This
module holds ``F`` as a framework-free cell (:class:`LSTMCell`,
:class:`GRUCell`, :class:`RNNCell`, or :class:`StepCell` for any other cell)
and analyses it. :func:`step_map` gets the cells of a model's layer from its
adapter (``{"forward": cell, "backward": cell}``; the ``rnndyn_step_map``
hook); the analysis:

* :func:`fixed_points`: states with ``F(s, x) = s`` for constant inputs ``x``
  (and slow points, local minima of ``q = |F(s) - s|^2 / 2``), each with its
  Jacobian, eigenvalues and stability;
* :func:`jacobians`: ``dF/ds`` along trajectories, with spectral radius and
  singular values per step;
* :func:`linearize`: the Jacobian at one point, its modes and their
  relaxation times ``tau_k = -1 / ln|lambda_k|``;
* :func:`predicted_relaxation` and :func:`predicted_msd_plateau`: what the
  linearised map predicts for :func:`rnndyn.physics.relaxation_time` and the
  MSD plateau of :func:`rnndyn.metrics.msd`, beside the measured values.

Canonical weight layout (adapters convert to it; it is PyTorch's):

=========  ==========================  =====================  ==================
cell       ``W_ih``                    ``W_hh``               biases
=========  ==========================  =====================  ==================
LSTM       ``(4H, I)``, gates i,f,g,o  ``(4H, H)``            ``b (4H,)``
GRU        ``(3H, I)``, gates r,z,n    ``(3H, H)``            ``b_ih, b_hh (3H,)``
RNN        ``(H, I)``                  ``(H, H)``             ``b (H,)``
=========  ==========================  =====================  ==================

An LSTM's state is ``s = [h, c]`` (``dim = 2H``; ``h`` first). All arithmetic
is float64: numpy, or torch on the weights' device when the weights are torch
tensors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from . import _fixed_points
from ._cells import ACTIVATIONS, GRUCell, LSTMCell, RNNCell, StepCell, check_cell
from ._fixed_points import merge_starts, on_device
from ._jacobians import JacobianSpectra, jacobians, sorted_eig
from ._linear_response import predicted_msd_plateau, predicted_relaxation, relaxation_times
from ._state_units import as_inputs, as_point, initial_states
from ._validation import check_bool, check_float, check_int, to_numpy
from .plugins import step_map

__all__ = [
    "step_map",
    "LSTMCell",
    "GRUCell",
    "RNNCell",
    "StepCell",
    "ACTIVATIONS",
    "FixedPoints",
    "fixed_points",
    "JacobianSpectra",
    "jacobians",
    "Linearization",
    "linearize",
    "predicted_relaxation",
    "predicted_msd_plateau",
    "relaxation_times",
]

STABILITY = ("stable", "marginal", "unstable")


@dataclass(frozen=True, eq=False)
class FixedPoints:
    """Fixed and slow points found by :func:`fixed_points`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per distinct point: ``input`` (row of the inputs given),
        ``kind`` (``"fixed"``: ``|F(s) - s|_inf < tol``; ``"slow"``: a local
        minimum of ``q`` with ``q < q_tol``), ``q``, ``residual``
        (``|F(s) - s|_inf``), ``spectral_radius`` (``max |lambda|``),
        ``stability`` (``"stable"``, ``"marginal"``: within ``marginal_tol``
        of 1, ``"unstable"``), ``n_unstable`` (modes with
        ``|lambda| > 1 + marginal_tol``), ``tau`` (``-1 / ln`` of the
        spectral radius) and ``n_starts`` (starts that merged into it).
    starts : pandas.DataFrame
        One row per start: ``input``, ``start``, ``status`` (``"fixed"``,
        ``"slow"`` or ``"failed"``: never returned as a point), ``q``,
        ``residual``, ``n_iter``, ``point`` (its row of ``table``; -1 if failed).
    states : array of shape (n_points, dim)
    inputs : array of shape (n_points, input_size)
    jacobians : array of shape (n_points, dim, dim)
    eigenvalues : complex array of shape (n_points, dim)
        Sorted by decreasing ``|lambda|``.
    eigenvectors : complex array of shape (n_points, dim, dim), or None
        Column ``k`` of ``eigenvectors[p]`` belongs to ``eigenvalues[p, k]`` (unit
        norm); None when the search ran with ``modes=False``.
    cell : the cell analysed
    """

    table: pd.DataFrame
    starts: pd.DataFrame
    states: np.ndarray
    inputs: np.ndarray
    jacobians: np.ndarray
    eigenvalues: np.ndarray
    eigenvectors: np.ndarray | None
    cell: Any

    def __len__(self) -> int:
        return len(self.table)

    @property
    def hidden(self) -> np.ndarray:
        """The ``h`` coordinates of each point, shape ``(n_points, hidden_size)``."""
        return self.states[:, : self.cell.hidden_size]

    def __repr__(self) -> str:
        counts = self.starts["status"].value_counts().reindex(["fixed", "slow", "failed"], fill_value=0)
        kinds = self.table["stability"].value_counts().to_dict() if len(self.table) else {}
        return (
            f"<FixedPoints {len(self)} points {kinds} from {len(self.starts)} starts "
            f"(fixed {counts['fixed']}, slow {counts['slow']}, failed {counts['failed']})>"
        )


def fixed_points(
    cell: Any,
    inputs: Any = None,
    initial: Any = None,
    *,
    n_starts: int | None = None,
    noise: float = 0.0,
    tol: float = 1e-10,
    q_tol: float = 1e-6,
    max_iter: int = 100,
    unique_tol: float = 1e-6,
    marginal_tol: float = 1e-6,
    seed: int | None = 0,
    layer: Any = None,
    direction: Any = None,
    modes: bool = True,
) -> FixedPoints:
    """Fixed points and slow points of ``s -> F(s, x)`` for one or many constant inputs.

    Each start runs a batched, float64 damped Newton iteration with analytic
    Jacobians, falling back to Levenberg-Marquardt steps on
    ``q = |F(s) - s|^2 / 2`` where Newton gives no descent (so slow points
    and continuous attractors are found too). For an LSTM the search runs on
    ``h`` alone, using ``c = i g / (1 - f)`` at a fixed point. A start is a
    fixed point when ``|F(s) - s|_inf < tol``, a slow point when it stopped
    with ``q < q_tol``, and failed otherwise (reported in ``starts``, never
    returned as a point). Points of the same input closer than
    ``unique_tol`` (max-norm; ``sqrt(unique_tol)`` for slow points, whose
    ``q`` is flat around its minimum) are merged, keeping the one of lowest ``q``.

    Parameters
    ----------
    cell : LSTMCell, GRUCell, RNNCell or StepCell
    inputs : array of shape (n_inputs, input_size) or (input_size,), optional
        Constant inputs (e.g. the padding symbol, each character). Default: zero.
    initial : Trajectories or array, optional
        Where to start: states of shape ``(n, dim)`` (for an LSTM also
        ``(n, H)``, ``h`` only), ``(n_sequences, n_steps, ...)`` arrays, or a
        :class:`Trajectories` whose ``h`` units (of ``layer``/``direction``)
        are sampled. Default: standard normal states.
    n_starts : int, optional
        Starts per input, drawn from ``initial`` (default: every row of an
        array, 128 from trajectories or the default).
    noise : float, default 0.0
        Standard deviation of the Gaussian noise added to each start.
    tol : float, default 1e-10
        Max-norm of ``F(s) - s`` for a fixed point.
    q_tol : float, default 1e-6
        Largest ``q`` of a slow point.
    max_iter : int, default 100
    unique_tol : float, default 1e-6
    marginal_tol : float, default 1e-6
        ``|max|lambda| - 1| <= marginal_tol`` is marginal (a line attractor's
        direction has ``lambda = 1``).
    seed : int, optional
        For the sampling and the noise.
    layer, direction : optional
        Which units of a :class:`Trajectories` hold this cell's state.
    modes : bool, default True
        Also compute each point's eigenvectors; ``False`` computes the
        eigenvalues only (several times cheaper for large states, enough
        for the stability labels and relaxation times).

    Returns
    -------
    FixedPoints

    Examples
    --------
    >>> import numpy as np
    >>> cell = RNNCell(np.zeros((1, 0)), np.array([[2.0]]))       # h' = tanh(2 h)
    >>> fps = fixed_points(cell, initial=np.linspace(-2, 2, 9)[:, None])
    >>> fps.table[["stability", "n_unstable"]].values.tolist()
    [['stable', 0], ['unstable', 1], ['stable', 0]]
    >>> np.round(fps.states[:, 0], 6).tolist()
    [-0.957504, 0.0, 0.957504]
    """
    cell = check_cell(cell)
    n_starts = None if n_starts is None else check_int(n_starts, "n_starts", minimum=1)
    noise = check_float(noise, "noise", minimum=0.0)
    tol = check_float(tol, "tol", minimum=0.0, exclusive_minimum=True)
    q_tol = check_float(q_tol, "q_tol", minimum=0.0, exclusive_minimum=True)
    max_iter = check_int(max_iter, "max_iter", minimum=1)
    modes = check_bool(modes, "modes")
    unique_tol = check_float(unique_tol, "unique_tol", minimum=0.0, exclusive_minimum=True)
    marginal_tol = check_float(marginal_tol, "marginal_tol", minimum=0.0)
    if seed is not None:
        seed = check_int(seed, "seed", minimum=0)
    rng = np.random.default_rng(seed)
    X = as_inputs(cell, inputs)
    z0 = initial_states(cell, initial, n_starts, rng, layer=layer, direction=direction)
    if noise:
        z0 = z0 + noise * rng.standard_normal(z0.shape)
    n0, n_in = z0.shape[0], X.shape[0]
    xp = cell.xp
    dev = cell.W_hh.device if not isinstance(cell.W_hh, np.ndarray) else None
    zz = on_device(xp, np.tile(z0, (n_in, 1)), dev)
    xx = on_device(xp, np.repeat(X, n0, axis=0), dev)
    parts = [
        _fixed_points.solve_many(
            cell,
            zz[k * n0 : (k + 1) * n0],
            xx[k * n0 : (k + 1) * n0],
            tol=tol,
            max_iter=max_iter,
            unique_tol=unique_tol,
        )
        for k in range(n_in)
    ]
    z = xp.concat([p[0] for p in parts], axis=0)
    n_iter = np.concatenate([p[1] for p in parts])
    s = cell._lift(z, xx)
    res = to_numpy(cell._step(s, xx) - s)
    s = to_numpy(s)
    with np.errstate(invalid="ignore", over="ignore"):
        rinf = np.max(np.abs(res), axis=-1) if res.shape[-1] else np.zeros(len(res))
        q = 0.5 * np.sum(res * res, axis=-1)
    finite = np.isfinite(rinf) & np.all(np.isfinite(s), axis=-1)
    status = np.where(finite & (rinf < tol), "fixed", np.where(finite & (q < q_tol), "slow", "failed"))
    input_id = np.repeat(np.arange(n_in), n0)
    point = merge_starts(s, q, status, input_id, unique_tol)
    reps = np.array(
        [np.flatnonzero(point == p)[np.argmin(q[point == p])] for p in range(point.max() + 1)], int
    )
    # points in a reproducible order: by input, fixed before slow, then by coordinates
    keys = [s[reps, j] for j in range(s.shape[1] - 1, -1, -1)] + [status[reps] != "fixed", input_id[reps]]
    order = np.lexsort(keys) if len(reps) else np.zeros(0, int)
    reps = reps[order].reshape(-1)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    point = np.where(point >= 0, rank[np.maximum(point, 0)] if len(order) else -1, -1)
    S, Xp = s[reps], X[input_id[reps]]
    J = (
        to_numpy(cell.jacobian(on_device(xp, S, dev), on_device(xp, Xp, dev)))
        if len(reps)
        else np.zeros((0,) * 3)
    )
    lam, vec = sorted_eig(J, cell.dim, vectors=modes)
    rho = np.abs(lam[:, 0]) if lam.shape[1] else np.zeros(len(reps))
    stability = np.where(
        rho < 1 - marginal_tol, "stable", np.where(rho > 1 + marginal_tol, "unstable", "marginal")
    )
    table = pd.DataFrame(
        {
            "input": input_id[reps],
            "kind": status[reps],
            "q": q[reps],
            "residual": rinf[reps],
            "spectral_radius": rho,
            "stability": stability,
            "n_unstable": (np.abs(lam) > 1 + marginal_tol).sum(axis=1).astype(np.int64),
            "tau": relaxation_times(rho),
            "n_starts": np.bincount(point[point >= 0], minlength=len(reps)).astype(np.int64),
        }
    )
    starts = pd.DataFrame(
        {
            "input": input_id,
            "start": np.tile(np.arange(n0), n_in),
            "status": status,
            "q": q,
            "residual": rinf,
            "n_iter": n_iter,
            "point": point,
        }
    )
    return FixedPoints(table, starts, S, Xp, J, lam, vec, cell)


class Linearization(NamedTuple):
    """The map linearised at one point, from :func:`linearize` (numpy)."""

    jacobian: np.ndarray
    """``(dim, dim)``."""
    eigenvalues: np.ndarray
    """``(dim,)`` complex, by decreasing ``|lambda|``."""
    eigenvectors: np.ndarray
    """``(dim, dim)`` complex; column ``k`` is mode ``k`` (unit norm)."""
    tau: np.ndarray
    """``(dim,)``: ``-1 / ln|lambda_k|`` (``inf`` at ``|lambda| = 1``, negative for growing modes)."""


def linearize(cell: Any, point: Any, input: Any = None) -> Linearization:
    """Jacobian, eigenmodes and relaxation times of ``F(., x)`` at ``point``.

    Parameters
    ----------
    cell : LSTMCell, GRUCell, RNNCell or StepCell
    point : array of shape (dim,)
        Usually a fixed point (``FixedPoints.states[k]``).
    input : array of shape (input_size,), optional
        Default: zero.

    Returns
    -------
    Linearization

    Examples
    --------
    >>> import numpy as np
    >>> cell = RNNCell(np.zeros((1, 1)), np.array([[0.95]]), activation="linear")
    >>> linearize(cell, np.zeros(1)).tau.round(4).tolist()
    [19.4957]
    """
    cell = check_cell(cell)
    s, x = as_point(cell, point, input)
    J = to_numpy(cell.jacobian(s, x)).reshape(cell.dim, cell.dim)
    lam, vec = sorted_eig(J[None], cell.dim)
    return Linearization(J, lam[0], vec[0], relaxation_times(np.abs(lam[0])))
