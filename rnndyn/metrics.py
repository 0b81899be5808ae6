"""Polymer-physics metrics of hidden-state trajectories: plain functions of arrays.

Every function takes a :class:`~rnndyn.Trajectories` or an array of shape
``(n_sequences, n_steps, n_units)`` (numpy, torch tensor or dask array) and
returns float64 results of the same array type (torch: same device; dask: a
lazy dask array, call ``.compute()``). With ``d[i, t, u] = x[i, t+1, u] -
x[i, t, u]`` the step delta ("velocity", "bond"):

=====================  ==========================================  ==================
function               value                                       shape
=====================  ==========================================  ==================
``deltas``             ``d`` (NaN outside the region)              (n, T-1, U)
``rms_delta``          ``sqrt(mean_i d[i,t]^2)``                   (T-1, U)
``mean_abs_delta``     ``mean_i |d[i,t]|``                         (T-1, U)
``vacf``               ``mean_{i,t} d[i,t] d[i,t+s]``              (max_lag+1, U)
``vacf_two_time``      ``mean_i d[i,t] d[i,s]``                    (T-1, T-1, U)
``msd``                ``mean_{i,t} (x[i,t+m] - x[i,t])^2``        (max_lag+1, U)
``msd_from_start``     ``mean_i (x[i,t] - x[i,0])^2``              (T, U)
=====================  ==========================================  ==================

``region="input"`` / ``"padding"`` keeps only pairs of steps whose every delta
between them lies in the region (see :mod:`rnndyn._regions`); averages pool
over sequences by pair counts, and are NaN where a lag or step has no pair
(count 0). ``return_counts=True`` also returns those integer counts.
``vector=True`` gives the whole state vector as one N-dim chain (the sum over
units). The MSD and VACF use the fast correlation algorithm (FFT along time,
float64, each series' mean removed for the MSD) batched over blocks of
sequences; see ``docs/metrics.md``.

Values whose squares overflow float64 (steps beyond ~1e154) or underflow it
(states below ~1e-150) are handled by scaling each unit by a power of two
(see :mod:`rnndyn._averaging`): a result is right whenever it is itself
representable; when it is not (the MSD of 1e200 steps is 1e400), an
:class:`~rnndyn.RnndynError` says so. The averaged metrics need at least one
sequence and one unit; ``lengths=`` goes with bare arrays only (a
``Trajectories`` carries its own).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._averaging import FLOAT_MAX, all_finite, no_inf_block
from ._backends import get_backend
from ._plans import PLANS, run
from ._reduce import checked_block
from ._regions import setup
from ._validation import to_numpy
from .errors import RnndynError

__all__ = [
    "deltas",
    "rms_delta",
    "mean_abs_delta",
    "vacf",
    "vacf_two_time",
    "msd",
    "msd_from_start",
]


def deltas(x: Any, *, region: str = "all", lengths: Any = None) -> Any:
    """Step deltas ``d[i, t, u] = x[i, t+1, u] - x[i, t, u]``, NaN outside ``region``.

    Parameters
    ----------
    x : Trajectories or array of shape (n_sequences, n_steps, n_units)
        At least 2 steps.
    region : {"all", "input", "padding"}, default "all"
        Deltas outside the region are NaN (never dropped: the shape is kept).
    lengths : array of shape (n_sequences,), optional
        Real input steps per sequence (bare arrays only).

    Returns
    -------
    array of shape (n_sequences, n_steps - 1, n_units), float64

    Examples
    --------
    >>> import numpy as np
    >>> deltas(np.array([[[0.0], [1.0], [3.0]]]))[0, :, 0].tolist()
    [1.0, 2.0]
    >>> deltas(np.array([[[0.0], [1.0], [3.0]]]), region="input", lengths=[2])[0, :, 0].tolist()
    [1.0, nan]
    """
    states, win, T = setup(x, lengths, region, "deltas", 2, averaged=False)
    mask = None
    if not win.full_deltas:
        mask = win.delta_mask(0, int(states.shape[0])).transpose(0, 2, 1)[:, :, win.groups]
    be = get_backend(states)
    if be.lazy:  # checked block by block when computed
        d = be.step_deltas(states.map_blocks(checked_block, dtype=states.dtype))
        d = d.map_blocks(no_inf_block, "deltas", dtype=np.float64)
    else:
        with np.errstate(over="ignore", invalid="ignore"):
            d = be.step_deltas(states)
            if not (all_finite(be.xp.sum(d)) or all_finite(d)):  # one pass; look closer only if needed
                bad = np.argwhere(~np.isfinite(to_numpy(d)))[0]
                raise RnndynError(
                    f"deltas(): the step delta x[{bad[0]}, {bad[1] + 1}, {bad[2]}] - x[{bad[0]}, {bad[1]}, "
                    f"{bad[2]}] overflows float64 (beyond {FLOAT_MAX:.3g}). Rescale the states first, "
                    "e.g. x / 2**10."
                )
    return d if mask is None else be.nan_outside(d, mask)


def rms_delta(
    x: Any,
    *,
    region: str = "all",
    lengths: Any = None,
    return_counts: bool = False,
    vector: bool = False,
) -> Any:
    """Root-mean-square delta per step over sequences: ``sqrt(mean_i d[i, t, u]^2)``.

    The ensemble (per step) estimator. Only sequences whose delta ``t`` lies
    in ``region`` count; NaN where none does. This is the root mean square;
    :func:`mean_abs_delta` is the mean absolute delta.

    Parameters
    ----------
    x : Trajectories or array of shape (n_sequences, n_steps, n_units)
        At least 2 steps.
    region : {"all", "input", "padding"}, default "all"
    lengths : array of shape (n_sequences,), optional
        Real input steps per sequence (bare arrays only).
    return_counts : bool, default False
        Also return the number of sequences averaged, int, shape (n_steps - 1, n_units).
    vector : bool, default False
        The whole state vector: ``sqrt(mean_i |d[i, t]|^2)``, shape (n_steps - 1,).

    Returns
    -------
    array of shape (n_steps - 1, n_units), float64 (and the counts)

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[[0.0], [3.0]], [[0.0], [-4.0]]])
    >>> rms_delta(x)[:, 0].tolist()
    [3.5355339059327378]
    """
    return run(
        PLANS["rms_delta"](x, region=region, lengths=lengths, return_counts=return_counts, vector=vector)
    )


def mean_abs_delta(x: Any, *, region: str = "all", lengths: Any = None, return_counts: bool = False) -> Any:
    """Mean absolute delta per step over sequences: ``mean_i |d[i, t, u]|``.

    The mean of ``sqrt(d**2)``, not the root mean square (that is
    :func:`rms_delta`). Same region rules and counts as :func:`rms_delta`.

    Returns
    -------
    array of shape (n_steps - 1, n_units), float64 (and the counts)

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[[0.0], [3.0]], [[0.0], [-4.0]]])
    >>> mean_abs_delta(x)[:, 0].tolist()
    [3.5]
    """
    return run(PLANS["mean_abs_delta"](x, region=region, lengths=lengths, return_counts=return_counts))


def vacf(
    x: Any,
    *,
    max_lag: int | None = None,
    normalize: bool = False,
    region: str = "all",
    lengths: Any = None,
    return_counts: bool = False,
    vector: bool = False,
) -> Any:
    """Time-origin averaged velocity autocorrelation ``C(s)`` per unit.

    ``C(s) = sum_i sum_t w d[i, t] d[i, t+s] / sum_i sum_t w`` over every
    sequence ``i`` and time origin ``t`` whose deltas ``t`` and ``t+s`` both
    lie in ``region`` (``w`` = 1 then, else 0): pooled by pair counts, no mean
    removed (the tidynamics ``acf`` convention for one series).

    Parameters
    ----------
    x : Trajectories or array of shape (n_sequences, n_steps, n_units)
        At least 2 steps.
    max_lag : int, optional
        Largest lag ``s`` (default and maximum: ``n_steps - 2``).
    normalize : bool, default False
        Divide by ``C(0)`` (NaN where ``C(0)`` is 0 or undefined).
    region : {"all", "input", "padding"}, default "all"
    lengths : array of shape (n_sequences,), optional
        Real input steps per sequence (bare arrays only).
    return_counts : bool, default False
        Also return the pair counts, int, shape (max_lag + 1, n_units).
    vector : bool, default False
        The whole state vector, ``<d_t . d_{t+s}>``, shape (max_lag + 1,).

    Returns
    -------
    array of shape (max_lag + 1, n_units), float64 (and the counts)

    Examples
    --------
    >>> import numpy as np
    >>> x = np.cumsum([[[1.0], [1.0], [-1.0], [1.0]]], axis=1)   # deltas 1, -1, 1
    >>> vacf(x)[:, 0].tolist()
    [1.0, -1.0, 1.0]
    """
    opts = {"region": region, "lengths": lengths, "return_counts": return_counts, "vector": vector}
    return run(PLANS["vacf"](x, max_lag=max_lag, normalize=normalize, **opts))


def vacf_two_time(
    x: Any,
    *,
    region: str = "all",
    lengths: Any = None,
    return_counts: bool = False,
    vector: bool = False,
) -> Any:
    """Two-time velocity correlation ``C(t, s) = mean_i d[i, t] d[i, s]`` (ensemble estimator).

    Averages over the sequences whose deltas ``t`` and ``s`` both lie in
    ``region`` (NaN where none). Its diagonal is ``rms_delta**2``, and with
    ``region="all"`` ``sum_{t,s < k} C(t, s)`` is ``msd_from_start[k]``.
    Computed as one matrix product per unit (BLAS); the result holds
    ``(n_steps - 1)**2 * n_units`` floats (2 GB at T=1000, U=256).

    Returns
    -------
    array of shape (n_steps - 1, n_steps - 1, n_units), float64 (and the counts);
    with ``vector=True`` shape (n_steps - 1, n_steps - 1).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.cumsum([[[1.0], [2.0], [3.0]]], axis=1)   # deltas 2, 3
    >>> vacf_two_time(x)[:, :, 0].tolist()
    [[4.0, 6.0], [6.0, 9.0]]
    """
    return run(
        PLANS["vacf_two_time"](x, region=region, lengths=lengths, return_counts=return_counts, vector=vector)
    )


def msd(
    x: Any,
    *,
    max_lag: int | None = None,
    region: str = "all",
    lengths: Any = None,
    return_counts: bool = False,
    vector: bool = False,
) -> Any:
    """Time-origin averaged mean-squared displacement per unit.

    ``MSD(m) = sum_i sum_t (x[i, t+m] - x[i, t])^2 / N(m)`` over every
    sequence and time origin whose pair ``(t, t+m)`` lies in ``region``;
    ``N(m)`` is the number of such pairs (``sum_i max(L_i - m, 0)`` for
    windows of ``L_i`` steps): pooled by pair counts, not a mean of
    per-sequence curves. For one series it equals ``tidynamics.msd``.

    Parameters
    ----------
    x : Trajectories or array of shape (n_sequences, n_steps, n_units)
        At least 1 step.
    max_lag : int, optional
        Largest lag ``m`` (default and maximum: ``n_steps - 1``).
    region : {"all", "input", "padding"}, default "all"
    lengths : array of shape (n_sequences,), optional
        Real input steps per sequence (bare arrays only).
    return_counts : bool, default False
        Also return the pair counts, int, shape (max_lag + 1, n_units).
    vector : bool, default False
        The whole state vector, ``<|h_{t+m} - h_t|^2>``, shape (max_lag + 1,).

    Returns
    -------
    array of shape (max_lag + 1, n_units), float64 (and the counts)

    Notes
    -----
    float64 FFT with each series' mean (over its window) removed first: a
    float32 FFT would lose ~1e-5 (T=50) to ~1e-2 (T=1000) relative accuracy.

    Examples
    --------
    >>> import numpy as np
    >>> x = 2.0 * np.arange(5.0).reshape(1, 5, 1)   # x = c t, c = 2
    >>> np.round(msd(x)[:, 0], 12).tolist()
    [0.0, 4.0, 16.0, 36.0, 64.0]
    """
    opts = {"region": region, "lengths": lengths, "return_counts": return_counts, "vector": vector}
    return run(PLANS["msd"](x, max_lag=max_lag, **opts))


def msd_from_start(
    x: Any,
    *,
    region: str = "all",
    lengths: Any = None,
    return_counts: bool = False,
    vector: bool = False,
) -> Any:
    """Mean-square displacement from step 0, ``mean_i (x[i, t] - x[i, 0])^2`` (ensemble estimator).

    The mean-square end-to-end distance of the chain grown to ``t`` steps.
    With a region, sequence ``i`` counts at step ``t`` only if its first ``t``
    deltas all lie in the region (NaN where no sequence does).

    Returns
    -------
    array of shape (n_steps, n_units), float64 (and the counts);
    with ``vector=True`` shape (n_steps,).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.cumsum([[[0.0], [1.0], [1.0]], [[0.0], [1.0], [-1.0]]], axis=1)
    >>> msd_from_start(x)[:, 0].tolist()
    [0.0, 1.0, 2.0]
    """
    return run(
        PLANS["msd_from_start"](x, region=region, lengths=lengths, return_counts=return_counts, vector=vector)
    )
