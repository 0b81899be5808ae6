"""What the map linearised at a fixed point predicts for the measured metrics.

Near a fixed point ``s*`` a deviation moves as ``ds_{t+1} = J ds_t``, so
``ds_t = sum_k a_k lambda_k^t v_k``: mode ``k`` decays with the relaxation
time ``tau_k = -1 / ln|lambda_k|``. Unit ``u`` sees only the modes whose
eigenvector has weight on it; its measured relaxation time
(:func:`rnndyn.physics.relaxation_time` toward ``s*``) tends, at long lags,
to the ``tau`` of its slowest such mode. Public names are re-exported by
:mod:`rnndyn.dynamics`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ._cells import check_cell
from ._state_units import as_point, real_values, select_state_units
from ._validation import check_choice, check_float, check_lag_window, describe, to_numpy
from .errors import RnndynError
from .trajectories import Trajectories

__all__ = ["relaxation_times", "predicted_relaxation", "predicted_msd_plateau"]


def relaxation_times(abs_eigenvalues: Any) -> np.ndarray:
    """``tau = -1 / ln|lambda|``: 0 for ``|lambda| = 0``, ``inf`` at 1, negative above 1 (growth).

    Examples
    --------
    >>> relaxation_times([0.95, 1.0, 0.0]).round(4).tolist()
    [19.4957, inf, 0.0]
    """
    a = np.abs(np.asarray(abs_eigenvalues, dtype=np.float64))
    with np.errstate(divide="ignore"):
        ln = np.log(a)
        return np.where(a == 1.0, np.inf, -1.0 / np.where(a == 1.0, -1.0, ln))


def _rows(cell: Any) -> pd.DataFrame:
    H = cell.hidden_size
    return pd.DataFrame(
        {
            "state": np.repeat(list(cell.state_names), H),
            "index": np.tile(np.arange(H, dtype=np.int64), len(cell.state_names)),
        }
    )


def _measured(
    cell: Any, measured: Any, layer: Any, direction: Any
) -> tuple[Trajectories | np.ndarray, np.ndarray]:
    """The measured trajectories restricted to the cell's coordinates, and those coordinates."""
    if isinstance(measured, Trajectories):
        present = tuple(n for n in cell.state_names if (measured.units["state"] == n).any())
        if not present:
            raise RnndynError(
                f"measured holds none of the cell's state blocks {cell.state_names}; capture the layer's "
                f"'h' units (got states {sorted(set(measured.units['state']))})."
            )
        pos = select_state_units(cell, measured, present, layer, direction, "measured")
        coords = np.concatenate(
            [np.arange(cell.hidden_size) + cell.state_names.index(n) * cell.hidden_size for n in present]
        )
        return measured.select(pos), coords
    if measured is None or isinstance(measured, (str, bytes, dict)) or not hasattr(measured, "shape"):
        raise RnndynError(
            "measured must be a Trajectories or an array (n_sequences, n_steps, k); got "
            f"{describe(measured)}."
        )
    k = int(measured.shape[-1])
    if len(measured.shape) != 3 or k not in (cell.hidden_size, cell.dim):
        raise RnndynError(
            f"measured must have shape (n_sequences, n_steps, {cell.hidden_size}) (the h units, by index) "
            f"or (n_sequences, n_steps, {cell.dim}) (the whole state); got {tuple(measured.shape)}."
        )
    return measured, np.arange(k)


def predicted_relaxation(
    cell: Any,
    point: Any,
    input: Any = None,
    *,
    measured: Any = None,
    loading_tol: float = 1e-8,
    layer: Any = None,
    direction: Any = None,
    **fit: Any,
) -> pd.DataFrame:
    """Relaxation time per state coordinate predicted at ``point``, beside the measured one.

    With unit-norm eigenvectors ``v_k`` (sorted by decreasing ``|lambda_k|``),
    the share of mode ``k`` in unit ``u`` is
    ``w[u, k] = |v_k[u]|^2 / sum_j |v_j[u]|^2``. The prediction for unit ``u``
    is ``tau_predicted = tau_k`` of its slowest mode with ``w[u, k] >=
    loading_tol``: the asymptotic slope of ``ln <|h_t[u] - h*[u]|>`` for a
    generic deviation. ``tau_weighted = sum_k w[u, k] tau_k`` is a share-weighted
    mix of all modes, closer to short fit windows where fast modes still count.

    Parameters
    ----------
    cell : LSTMCell, GRUCell, RNNCell or StepCell
    point : array of shape (dim,)
        The terminal fixed point (of the padding input, say).
    input : array of shape (input_size,), optional
        The input that holds ``point`` fixed. Default: zero.
    measured : Trajectories or array of shape (n_sequences, n_steps, k), optional
        Trajectories relaxing toward ``point``; ``k`` is ``hidden_size`` (the
        ``h`` units by index) or ``dim``. Adds ``tau_measured``, ``r2`` and
        ``n_points`` from :func:`rnndyn.physics.relaxation_time` with
        ``target=point``.
    loading_tol : float, default 1e-8
    layer, direction : optional
        Which units of a :class:`Trajectories` are this cell's.
    **fit
        Passed to :func:`rnndyn.physics.relaxation_time` (``start``, ``stop``,
        ``min_points``, ``lengths`` for arrays, ...).

    Returns
    -------
    pandas.DataFrame
        One row per state coordinate: ``state``, ``index``, ``tau_predicted``,
        ``mode``, ``abs_eigenvalue``, ``share``, ``tau_weighted`` (and the
        measured columns, NaN for coordinates not measured).

    Examples
    --------
    >>> import numpy as np
    >>> from rnndyn.dynamics import RNNCell
    >>> cell = RNNCell(np.zeros((2, 1)), np.diag([0.95, 0.5]), activation="linear")
    >>> predicted_relaxation(cell, np.zeros(2))["tau_predicted"].round(4).tolist()
    [19.4957, 1.4427]
    """
    from .dynamics import linearize

    cell = check_cell(cell)
    loading_tol = check_float(loading_tol, "loading_tol", minimum=0.0, maximum=1.0, exclusive_minimum=True)
    s, x = as_point(cell, point, input)
    lin = linearize(cell, s, x)
    w = np.abs(lin.eigenvectors) ** 2
    w = w / w.sum(axis=1, keepdims=True)
    loaded = w >= loading_tol
    k = np.argmax(loaded, axis=1)  # modes are sorted slowest first
    u = np.arange(cell.dim)
    out = _rows(cell)
    out["tau_predicted"] = lin.tau[k]
    out["mode"] = k.astype(np.int64)
    out["abs_eigenvalue"] = np.abs(lin.eigenvalues[k])
    out["share"] = w[u, k]
    with np.errstate(invalid="ignore"):
        out["tau_weighted"] = np.where(w > 0, w * lin.tau[None, :], 0.0).sum(axis=1)
    if measured is not None:
        from ._relaxation import relaxation_time

        traj, coords = _measured(cell, measured, layer, direction)
        got = relaxation_time(traj, target=s[coords], **fit)
        for col, src in (("tau_measured", "tau"), ("r2", "r2"), ("n_points", "n_points")):
            vals = np.full(cell.dim, np.nan)
            vals[coords] = got[src].to_numpy()
            out[col] = vals
    return out


def predicted_msd_plateau(
    cell: Any,
    point: Any,
    input: Any = None,
    *,
    noise_cov: Any,
    measured: Any = None,
    lags: tuple[int, int] | None = None,
    region: str = "all",
    lengths: Any = None,
    layer: Any = None,
    direction: Any = None,
) -> pd.DataFrame:
    """MSD plateau per state coordinate of the linearised noise-driven map, beside the measured one.

    For ``ds_{t+1} = J ds_t + xi_t`` with ``cov(xi) = noise_cov`` and every
    ``|lambda(J)| < 1``, the stationary covariance ``P`` solves
    ``P = J P J^T + noise_cov`` (``scipy.linalg.solve_discrete_lyapunov``) and
    the MSD of unit ``u`` tends to ``2 P[u, u]`` at long lags.

    Parameters
    ----------
    cell, point, input : see :func:`predicted_relaxation`
    noise_cov : float, array of shape (dim,) or (dim, dim)
        Covariance of the noise per step: a variance for every coordinate, a
        diagonal, or the full matrix (symmetric, positive semi-definite).
    measured : Trajectories or array of shape (n_sequences, n_steps, k), optional
        Adds ``msd_plateau_measured``: the mean of :func:`rnndyn.metrics.msd`
        over the lags ``lags = (lo, hi)`` (both included; required then).
    region, lengths : passed to :func:`rnndyn.metrics.msd`

    Returns
    -------
    pandas.DataFrame
        One row per state coordinate: ``state``, ``index``, ``variance``
        (``P[u, u]``), ``msd_plateau_predicted`` (and ``msd_plateau_measured``).

    Examples
    --------
    >>> import numpy as np
    >>> from rnndyn.dynamics import RNNCell
    >>> cell = RNNCell(np.zeros((1, 1)), np.array([[0.5]]), activation="linear")
    >>> predicted_msd_plateau(cell, np.zeros(1), noise_cov=1.0)["msd_plateau_predicted"].round(6).tolist()
    [2.666667]
    """
    import scipy.linalg

    from .dynamics import linearize

    cell = check_cell(cell)
    check_choice(region, "region", ("all", "input", "padding"))
    s, x = as_point(cell, point, input)
    Q = _noise_cov(noise_cov, cell.dim)
    lin = linearize(cell, s, x)
    rho = float(np.abs(lin.eigenvalues[0]))
    if rho >= 1:
        raise RnndynError(
            f"point is not a stable fixed point (spectral radius {rho:.6g} >= 1), so the noise-driven "
            "linearised map has no stationary covariance and no MSD plateau. Use a stable point "
            "(FixedPoints.table['stability'] == 'stable')."
        )
    P = scipy.linalg.solve_discrete_lyapunov(lin.jacobian, Q)
    var = np.real(np.diag(P))
    out = _rows(cell)
    out["variance"] = var
    out["msd_plateau_predicted"] = 2 * var
    if measured is not None:
        from .metrics import msd

        traj, coords = _measured(cell, measured, layer, direction)
        n_steps = int(traj.states.shape[1] if isinstance(traj, Trajectories) else traj.shape[1])
        lo, hi = check_lag_window(lags, n_steps - 1, name="lags")
        curve = to_numpy(msd(traj, max_lag=hi, region=region, lengths=lengths))
        vals = np.full(cell.dim, np.nan)
        vals[coords] = curve[lo : hi + 1].mean(axis=0)
        out["msd_plateau_measured"] = vals
    return out


def _noise_cov(noise_cov: Any, dim: int) -> np.ndarray:
    expect = f"a variance (float), a diagonal of shape ({dim},) or a matrix of shape ({dim}, {dim})"
    if isinstance(noise_cov, (bool, np.bool_)):
        raise RnndynError(f"noise_cov must be {expect}; got {describe(noise_cov)}.")
    Q = real_values(noise_cov, "noise_cov", expect)
    if Q.ndim == 0:
        Q = float(Q) * np.eye(dim)
    elif Q.shape == (dim,):
        Q = np.diag(Q)
    elif Q.shape != (dim, dim):
        raise RnndynError(f"noise_cov must be {expect}; got shape {Q.shape}.")
    if not np.allclose(Q, Q.T) or np.linalg.eigvalsh(0.5 * (Q + Q.T)).min() < -1e-12 * max(
        1.0, np.abs(Q).max()
    ):
        raise RnndynError("noise_cov must be symmetric and positive semi-definite (a covariance matrix).")
    return Q
