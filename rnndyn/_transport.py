"""How far the states travel: diffusion coefficients and the shape of displacements.

Public names are re-exported by :mod:`rnndyn.physics`; the estimators on
curves are in :mod:`rnndyn._estimators`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._estimators import einstein, green_kubo, msd_curve, vacf_curve, window
from ._physics_util import as_traj, pair_mask, states64, warn_nan
from ._validation import check_choice, check_int, check_lag_window, check_region
from .errors import RnndynError

__all__ = ["diffusion_coefficient", "non_gaussian_parameter"]


def diffusion_coefficient(
    x: Any,
    *,
    method: str = "einstein",
    lags: tuple[int, int] | None = None,
    max_lag: int | None = None,
    region: str = "all",
    lengths: Any = None,
) -> np.ndarray:
    """Diffusion coefficient per unit (1-D), from the MSD or from the VACF.

    * ``method="einstein"``: ``D = b / 2`` with ``b`` the least-squares slope
      (with intercept) of ``MSD(m)`` against ``m`` over ``lags=(lo, hi)``,
      both included (``0 <= lo < hi``). Fit where the MSD is linear (beyond
      the velocity correlation time).
    * ``method="green-kubo"``: ``D = C(0)/2 + sum_{s=1}^{max_lag} C(s)`` with
      the time-origin averaged VACF of :func:`rnndyn.metrics.vacf`. Sum far
      enough for ``C`` to have decayed, not into the noise.

    On stationary increments the two agree (``MSD(m) ~ 2 D m`` at large ``m``).
    Each method takes only its own window argument.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.cumsum(np.random.default_rng(0).choice([-1.0, 1.0], (500, 200, 1)), axis=1)
    >>> float(diffusion_coefficient(x, method="einstein", lags=(1, 50))[0].round(1))
    0.5
    >>> float(diffusion_coefficient(x, method="green-kubo", max_lag=10)[0].round(1))
    0.5
    """
    check_choice(method, "method", ("einstein", "green-kubo"))
    check_region(region)
    traj = as_traj(x, lengths, what="diffusion_coefficient")
    if method == "einstein":
        if max_lag is not None:
            raise RnndynError(
                "max_lag= is the Green-Kubo summation window; method='einstein' fits the MSD over "
                "lags=(lo, hi). Pass lags= instead."
            )
        lo, hi = check_lag_window(lags, traj.n_steps - 1, lo_min=0)
        curve, counts = msd_curve(traj, hi, region)
        return einstein(window(curve, counts, lo, hi, "einstein", region), lo)
    if lags is not None:
        raise RnndynError(
            "lags= is the Einstein fit window; method='green-kubo' sums the VACF up to "
            "max_lag=. Pass max_lag= instead."
        )
    if max_lag is None:
        raise RnndynError(
            "method='green-kubo' needs an explicit summation window max_lag= (e.g. a few "
            "correlation times; see integrated_correlation_time)."
        )
    if traj.n_steps < 2:
        raise RnndynError(
            f"method='green-kubo' needs at least 2 steps (one step delta); got n_steps={traj.n_steps}."
        )
    max_lag = check_int(max_lag, "max_lag", minimum=0, maximum=traj.n_steps - 2)
    c, counts = vacf_curve(traj, max_lag, region)
    return green_kubo(window(c, counts, 0, max_lag, "green-kubo", region))


def non_gaussian_parameter(
    x: Any,
    *,
    lag: int,
    origins: str = "all",
    region: str = "all",
    lengths: Any = None,
) -> np.ndarray:
    """Non-Gaussian parameter ``<dx^4> / (3 <dx^2>^2) - 1`` of displacements over ``lag`` steps.

    Zero for Gaussian displacements; ``-2/(3 m)`` for a +-1 random walk.

    Parameters
    ----------
    lag : int
        Displacement ``dx = x[t + lag] - x[t]``, ``1 <= lag <= n_steps - 1``.
    origins : {"all", "start"}, default "all"
        ``"all"``: pool every time origin ``t`` whose pair lies in the region
        (time-origin averaged); ``"start"``: one displacement per sequence,
        from the first state of its region chain (the ensemble from the start).
    region : {"all", "input", "padding"}
    lengths : array, optional

    Returns
    -------
    numpy.ndarray of shape (n_units,)
        NaN (with a warning) where every displacement is zero.

    Examples
    --------
    >>> import itertools, numpy as np
    >>> walks = np.array(list(itertools.product([-1.0, 1.0], repeat=4)))   # all 16 walks
    >>> x = np.concatenate([np.zeros((16, 1)), walks.cumsum(axis=1)], axis=1)[:, :, None]
    >>> float(non_gaussian_parameter(x, lag=4, origins="start")[0])        # -2/(3*4)
    -0.16666666666666663
    """
    check_choice(origins, "origins", ("all", "start"))
    check_region(region)
    traj = as_traj(x, lengths, what="non_gaussian_parameter")
    lag = check_int(lag, "lag", minimum=1, maximum=traj.n_steps - 1)
    s = states64(traj)
    dmask = traj.delta_mask(region)
    ok = pair_mask(dmask, lag)  # (n, T - lag, U)
    if origins == "start":
        first = np.argmax(dmask, axis=1)  # first bond of the region chain, (n, U)
        has = dmask.any(axis=1)
        start = np.zeros_like(ok)
        np.put_along_axis(start, np.minimum(first, ok.shape[1] - 1)[:, None, :], True, axis=1)
        ok = ok & start & has[:, None, :]
    dx = s[:, lag:] - s[:, :-lag]
    w = ok.astype(np.float64)
    n = w.sum(axis=(0, 1))
    if np.any(n == 0):
        u = int(np.flatnonzero(n == 0)[0])
        raise RnndynError(
            f"non_gaussian_parameter: region={region!r} has no pair {lag} steps apart for unit {u}; "
            "use a smaller lag or another region."
        )
    dx2 = dx * dx
    m2 = (w * dx2).sum(axis=(0, 1)) / n
    m4 = (w * dx2 * dx2).sum(axis=(0, 1)) / n
    zero = m2 <= 0
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(zero, np.nan, m4 / (3.0 * np.where(zero, 1.0, m2) ** 2) - 1.0)
    warn_nan("non_gaussian_parameter", int(zero.sum()), zero.size, "every displacement is zero")
    return out
