"""Derived quantities: what the metrics curves say about the dynamics.

Every function takes a :class:`~rnndyn.Trajectories` or an array of shape
``(n_sequences, n_steps, n_units)`` (numpy, torch or dask), keeps its options
keyword-only, needs fit windows spelled out, and returns per-unit numpy
arrays (or a small :class:`pandas.DataFrame` when a result has several
columns). Curves come from :mod:`rnndyn.metrics`; formulas, estimators and
fit windows are listed in ``docs/physics.md``.

* scaling of the MSD: :func:`local_exponent`, :func:`msd_exponent`,
  :func:`classify_regime`; transport: :func:`diffusion_coefficient`;
  displacement statistics: :func:`non_gaussian_parameter`;
* the chain: :func:`radius_of_gyration`, :func:`end_to_end_distance`,
  :func:`contour_length`, :func:`straightness`; persistence:
  :func:`bond_correlation`, :func:`persistence_length`,
  :func:`integrated_correlation_time`;
* after the input: :func:`relaxation_curve`, :func:`relaxation_time`; the
  state cloud: :func:`participation_ratio`, :func:`gate_saturation`.

Examples
--------
>>> import numpy as np
>>> from rnndyn import physics
>>> x = np.arange(20.0)[None, :, None] * np.array([0.5, 2.0])   # x = c t
>>> physics.msd_exponent(x, lags=(1, 10)).round(6).tolist()
[2.0, 2.0]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _estimators
from ._chain import (
    bond_correlation,
    contour_length,
    end_to_end_distance,
    integrated_correlation_time,
    persistence_length,
    radius_of_gyration,
    straightness,
)
from ._estimators import ZERO_MSD as ZERO_MSD  # the threshold of an arrested unit, used by studies
from ._physics_util import as_traj, unit_scale, warn_nan
from ._relaxation import gate_saturation, participation_ratio, relaxation_curve, relaxation_time
from ._transport import diffusion_coefficient, non_gaussian_parameter
from ._validation import check_float, check_lag_window, check_region, real_array
from .errors import RnndynError

__all__ = [
    "REGIMES",
    "local_exponent",
    "msd_exponent",
    "classify_regime",
    "diffusion_coefficient",
    "non_gaussian_parameter",
    "radius_of_gyration",
    "end_to_end_distance",
    "contour_length",
    "straightness",
    "bond_correlation",
    "persistence_length",
    "integrated_correlation_time",
    "relaxation_curve",
    "relaxation_time",
    "participation_ratio",
    "gate_saturation",
]

#: Regime labels of :func:`classify_regime`, from the most mobile to the least.
REGIMES = ("ballistic", "super-diffusive", "diffusive", "sub-diffusive", "arrested", "undetermined")


def local_exponent(msd_curve: Any, *, atol: float = 0.0) -> np.ndarray:
    """Local MSD exponent ``alpha(m) = ln(MSD(m+1)/MSD(m)) / ln((m+1)/m)``.

    Parameters
    ----------
    msd_curve : array of shape (n_lags, ...)
        An MSD curve with lag 0 first, as :func:`rnndyn.metrics.msd` returns.
    atol : float, default 0.0
        MSD values ``<= atol`` count as zero (finite, ``>= 0``).

    Returns
    -------
    numpy.ndarray of shape (n_lags - 2, ...)
        ``alpha[k]`` is the exponent at lag ``m = k + 1`` (``m = 1 .. n_lags - 2``).
        Where the MSD is zero at both ``m`` and ``m + 1`` the exponent is 0
        (an arrested unit); where it is zero at only one of them it is NaN
        and a :class:`RuntimeWarning` says so.

    Examples
    --------
    >>> import numpy as np
    >>> local_exponent(np.arange(6.0) ** 2).round(12).tolist()      # MSD = m^2: ballistic
    [2.0, 2.0, 2.0, 2.0]
    """
    atol = check_float(atol, "atol", minimum=0.0)
    c = real_array(msd_curve, "msd_curve")
    if c.ndim < 1 or c.shape[0] < 3:
        raise RnndynError(
            f"msd_curve must have lag 0 first and at least 3 lags (shape (n_lags, ...)); got shape "
            f"{c.shape}. Compute it with rnndyn.metrics.msd(x, max_lag=...) with max_lag >= 2."
        )
    if c.size == 0:
        raise RnndynError(f"msd_curve has no curve in it (shape {c.shape}); pass at least one column.")
    if np.any(c < 0):
        where = tuple(int(i) for i in np.argwhere(c < 0)[0])
        raise RnndynError(
            f"msd_curve holds {int((c < 0).sum())} negative value(s) (first: {c[where]} at lag "
            f"{where[0]}); an MSD is a mean of squares and cannot be negative. Pass the curve of "
            "rnndyn.metrics.msd, not a difference or a log."
        )
    m = np.arange(1, c.shape[0] - 1, dtype=np.float64).reshape((-1,) + (1,) * (c.ndim - 1))
    a, b = c[1:-1], c[2:]
    za, zb = a <= atol, b <= atol
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = np.log(np.where(zb, 1.0, b) / np.where(za, 1.0, a)) / np.log((m + 1) / m)
    alpha = np.where(za & zb, 0.0, alpha)
    alpha = np.where(za ^ zb, np.nan, alpha)
    warn_nan("local_exponent", int(np.sum(za ^ zb)), alpha.size, "the MSD is zero at m or m+1 only")
    return alpha


def msd_exponent(x: Any, *, lags: tuple[int, int], region: str = "all", lengths: Any = None) -> np.ndarray:
    """MSD scaling exponent ``alpha`` per unit, ``MSD(m) ~ m**alpha`` over a lag window.

    Least-squares slope of ``ln MSD(m)`` against ``ln m`` for ``m = lo .. hi``
    (both included), with the time-origin averaged MSD of
    :func:`rnndyn.metrics.msd` (pooled over sequences by pair counts).

    Parameters
    ----------
    x : Trajectories or array of shape (n_sequences, n_steps, n_units)
    lags : (int, int)
        The fit window ``(lo, hi)``, ``1 <= lo < hi <= n_steps - 1``.
    region : {"all", "input", "padding"}, default "all"
        Which pairs of steps count (see :func:`rnndyn.metrics.msd`).
    lengths : array of shape (n_sequences,), optional
        Real input steps per sequence, for a plain array ``x``.

    Returns
    -------
    numpy.ndarray of shape (n_units,)
        A unit whose MSD is zero over the whole window (a constant unit; zero
        means below ``1e-11`` times the unit's mean within-sequence variance,
        the FFT round-off) gets exponent 0,
        i.e. "arrested". A unit whose MSD is zero at only some lags of the
        window gets NaN, with a :class:`RuntimeWarning`.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.cumsum(np.random.default_rng(0).choice([-1.0, 1.0], (2000, 40, 1)), axis=1)
    >>> round(float(msd_exponent(x, lags=(1, 10))[0]), 1)     # a random walk: diffusive
    1.0
    """
    check_region(region)
    traj = as_traj(x, lengths, what="msd_exponent")
    lo, hi = check_lag_window(lags, traj.n_steps - 1)
    curve, counts = _estimators.msd_curve(traj, hi, region)
    seg = _estimators.window(curve, counts, lo, hi, "msd_exponent", region)
    return _estimators.msd_exponent_of(seg, lo, unit_scale(traj), "msd_exponent")


def classify_regime(alpha: Any, *, tol: float = 0.2, arrested: float = 0.2, ballistic: float = 1.7) -> Any:
    """Name the regime of each MSD exponent.

    ========================  ==========================================
    label                     exponent ``alpha``
    ========================  ==========================================
    ``"ballistic"``           ``alpha >= ballistic`` (default 1.7; ~2)
    ``"super-diffusive"``     ``1 + tol < alpha < ballistic``
    ``"diffusive"``           ``|alpha - 1| <= tol`` (default 0.8 .. 1.2)
    ``"sub-diffusive"``       ``arrested <= alpha < 1 - tol``
    ``"arrested"``            ``alpha < arrested`` (default 0.2; a plateau)
    ``"undetermined"``        ``alpha`` is NaN
    ========================  ==========================================

    Exponents above 2 (accelerating) are labelled "ballistic" and negative
    ones (an MSD that falls, e.g. oscillation) "arrested".

    Parameters
    ----------
    alpha : float or array
        Real numbers; NaN means "undetermined", ``inf``/``-inf`` are the
        limits ("ballistic"/"arrested").
    tol : float, default 0.2
        Half-width of the diffusive band around 1, ``0 <= tol < 1``.
    arrested, ballistic : float
        The lower and upper thresholds (finite); need ``arrested < 1 - tol``
        and ``1 + tol < ballistic``.

    Returns
    -------
    str or numpy.ndarray of str, shaped like ``alpha``.

    Examples
    --------
    >>> classify_regime([2.0, 1.5, 1.05, 0.5, 0.0]).tolist()
    ['ballistic', 'super-diffusive', 'diffusive', 'sub-diffusive', 'arrested']
    """
    tol = check_float(tol, "tol", minimum=0.0)
    arrested = check_float(arrested, "arrested")
    ballistic = check_float(ballistic, "ballistic")
    if tol >= 1:
        raise RnndynError(f"tol must be < 1 (the diffusive band 1 +- tol); got {tol}. Typical: 0.2.")
    if not arrested < 1 - tol:
        raise RnndynError(
            f"arrested must be < 1 - tol = {1 - tol}; got arrested={arrested} (with tol={tol}). "
            "The thresholds must keep their order arrested < 1 - tol <= 1 + tol < ballistic."
        )
    if not 1 + tol < ballistic:
        raise RnndynError(
            f"ballistic must be > 1 + tol = {1 + tol}; got ballistic={ballistic} (with tol={tol}). "
            "The thresholds must keep their order arrested < 1 - tol <= 1 + tol < ballistic."
        )
    a = real_array(alpha, "alpha", finite=False)
    conds = [
        np.isnan(a),
        a >= ballistic,
        a > 1 + tol,
        a >= 1 - tol,
        a >= arrested,
    ]
    with np.errstate(invalid="ignore"):
        labels = np.select(conds, ["undetermined", *REGIMES[:4]], default="arrested")
    return str(labels) if labels.ndim == 0 else labels
