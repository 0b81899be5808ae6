"""The trajectory as a polymer chain: size, shape and persistence.

Public names are re-exported by :mod:`rnndyn.physics`. A region's chain is its
bonds (step deltas inside the region, :meth:`Trajectories.delta_mask`) and the
states they join; ``per="unit"`` treats each unit as a 1-D chain (one value per
sequence and unit), ``per="vector"`` the whole state vector as one chain in
``n_units`` dimensions (one value per sequence).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from . import metrics
from ._estimators import as64, vacf_curve
from ._physics_util import as_traj, bead_mask, common_mask, counts_like, states64, warn_nan
from ._validation import check_bool, check_choice, check_float, check_int, check_region
from .errors import RnndynError

__all__ = [
    "radius_of_gyration",
    "end_to_end_distance",
    "contour_length",
    "straightness",
    "bond_correlation",
    "persistence_length",
    "integrated_correlation_time",
]

PER = ("unit", "vector")
_EMPTY = "their region has no bond (no step delta) in that sequence"


def _chain(x: Any, per: str, region: str, lengths: Any, what: str):
    check_choice(per, "per", PER)
    check_region(region)
    traj = as_traj(x, lengths, what=what)
    s = states64(traj)
    dmask = traj.delta_mask(region)
    if per == "vector" and region != "all":
        common_mask(dmask, f"{what}(per='vector')")
    return traj, s, dmask


def _finish(value: np.ndarray, empty: np.ndarray, what: str) -> np.ndarray:
    out = np.where(empty, np.nan, value)
    warn_nan(what, int(empty.sum()), empty.size, _EMPTY)
    return out


def radius_of_gyration(
    x: Any, *, per: str = "unit", region: str = "all", squared: bool = False, lengths: Any = None
) -> np.ndarray:
    """Radius of gyration ``R_g^2 = (1/N) sum_t |h_t - mean h|^2`` of each chain.

    The ``N`` states of the region's chain (a chain of ``k`` bonds has
    ``N = k + 1`` states) of each sequence; ``region="input"`` keeps only the
    states joined by real-input deltas.

    Parameters
    ----------
    x : Trajectories or array of shape (n_sequences, n_steps, n_units)
    per : {"unit", "vector"}, default "unit"
        ``"unit"``: shape ``(n_sequences, n_units)``; ``"vector"``: the state
        vector as one chain, shape ``(n_sequences,)`` (the sum over units of
        the squared per-unit values).
    region : {"all", "input", "padding"}
    squared : bool, default False
        Return ``R_g^2``.
    lengths : array, optional

    Returns
    -------
    numpy.ndarray
        NaN (with a warning) for a sequence whose region has no bond.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([0.0, 1.0, 2.0])[None, :, None]
    >>> radius_of_gyration(x, squared=True).tolist()      # (1 + 0 + 1) / 3
    [[0.6666666666666666]]
    """
    squared = check_bool(squared, "squared")
    traj, s, dmask = _chain(x, per, region, lengths, "radius_of_gyration")
    w = bead_mask(dmask).astype(np.float64)
    count = w.sum(axis=1)
    empty = count == 0
    count = np.where(empty, 1.0, count)
    mean = (w * s).sum(axis=1) / count
    rg2 = (w * (s - mean[:, None, :]) ** 2).sum(axis=1) / count
    if per == "vector":
        rg2, empty = rg2.sum(axis=1), empty.any(axis=1)
    out = _finish(rg2, empty, "radius_of_gyration")
    return out if squared else np.sqrt(out)


def end_to_end_distance(
    x: Any, *, per: str = "unit", region: str = "all", squared: bool = False, lengths: Any = None
) -> np.ndarray:
    """End-to-end distance ``|h_last - h_first|`` of each region chain (= ``|sum of bonds|``).

    Same arguments and shapes as :func:`radius_of_gyration`.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[0.0, 0.0], [1.0, 0.0], [3.0, 4.0]])[None]   # 3 steps, 2 units
    >>> end_to_end_distance(x, per="vector").tolist()
    [5.0]
    """
    squared = check_bool(squared, "squared")
    traj, s, dmask = _chain(x, per, region, lengths, "end_to_end_distance")
    d = np.diff(s, axis=1)
    ree = np.where(dmask, d, 0.0).sum(axis=1) ** 2
    empty = ~dmask.any(axis=1)
    if per == "vector":
        ree, empty = ree.sum(axis=1), empty.any(axis=1)
    out = _finish(ree, empty, "end_to_end_distance")
    return out if squared else np.sqrt(out)


def contour_length(x: Any, *, per: str = "unit", region: str = "all", lengths: Any = None) -> np.ndarray:
    """Contour length ``sum_t |v_t|`` of each region chain (Euclidean ``|v_t|`` for ``per="vector"``).

    Examples
    --------
    >>> import numpy as np
    >>> contour_length(np.array([0.0, 1.0, 0.0, 2.0])[None, :, None]).tolist()
    [[4.0]]
    """
    traj, s, dmask = _chain(x, per, region, lengths, "contour_length")
    d = np.diff(s, axis=1)
    empty = ~dmask.any(axis=1)
    if per == "unit":
        out = np.where(dmask, np.abs(d), 0.0).sum(axis=1)
    else:
        out = np.where(dmask[:, :, 0], np.sqrt((d * d).sum(axis=2)), 0.0).sum(axis=1)
        empty = empty.any(axis=1)
    return _finish(out, empty, "contour_length")


def straightness(x: Any, *, per: str = "unit", region: str = "all", lengths: Any = None) -> np.ndarray:
    """End-to-end distance over contour length, in ``[0, 1]`` (1: a straight chain).

    NaN (with a warning) where the contour length is 0 (the state never moved).

    Examples
    --------
    >>> import numpy as np
    >>> straightness(np.array([0.0, 1.0, 0.0, 2.0])[None, :, None]).tolist()
    [[0.5]]
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # reported once below
        ree = end_to_end_distance(x, per=per, region=region, lengths=lengths)
        c = contour_length(x, per=per, region=region, lengths=lengths)
    bad = ~(c > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(bad, np.nan, ree / np.where(bad, 1.0, c))
    warn_nan("straightness", int(bad.sum()), bad.size, "the chain has no bond or never moves")
    return out


def _pair_sums(d: np.ndarray, max_lag: int) -> np.ndarray:
    """``sum_i sum_t d[i, t] d[i, t + s]`` for ``s = 0..max_lag``, per column of ``d`` ``(n, L, k)``.

    The numerator of :func:`rnndyn.metrics.vacf` for the chain whose bonds are
    ``d`` (its VACF times its pair counts).
    """
    n, L, k = d.shape
    chain = np.zeros((n, L + 1, k))
    np.cumsum(d, axis=1, out=chain[:, 1:])
    c, counts = metrics.vacf(chain, max_lag=max_lag, return_counts=True)
    c = as64(c)
    return c * counts_like(counts, c.shape)


def bond_correlation(
    x: Any,
    *,
    max_lag: int | None = None,
    per: str = "unit",
    region: str = "all",
    lengths: Any = None,
) -> np.ndarray:
    """Normalised bond (velocity) correlation ``rho(s)`` for ``s = 0..max_lag``.

    * ``per="unit"``: ``rho(s) = C(s) / C(0)`` with the time-origin averaged
      VACF of :func:`rnndyn.metrics.vacf` (pooled over sequences), shape
      ``(max_lag + 1, n_units)``;
    * ``per="vector"``: the mean cosine between bond vectors ``s`` steps apart,
      ``<v_t . v_{t+s} / (|v_t| |v_{t+s}|)>`` over every sequence and origin
      (pairs with a zero-length bond are left out), shape ``(max_lag + 1,)``.

    Parameters
    ----------
    max_lag : int, optional
        Default ``n_steps - 2`` (every lag).

    Returns
    -------
    numpy.ndarray
        NaN (with a warning) for a unit that never moves (``C(0) = 0``) or a
        lag with no pair in the region.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.cumsum(np.ones((1, 6, 1)), axis=1)     # constant velocity
    >>> bond_correlation(x, max_lag=2)[:, 0].tolist()
    [1.0, 1.0, 1.0]
    """
    check_choice(per, "per", PER)
    check_region(region)
    if max_lag is not None:
        check_int(max_lag, "max_lag", minimum=0)
    traj = as_traj(x, lengths, what="bond_correlation")
    if traj.n_steps < 2:
        raise RnndynError(f"bond_correlation needs at least 2 steps; got {traj.n_steps}.")
    top = traj.n_steps - 2
    max_lag = top if max_lag is None else check_int(max_lag, "max_lag", minimum=0, maximum=top)
    if per == "unit":
        c, counts = vacf_curve(traj, max_lag, region)
        nopair = counts <= 0
        c0 = c[0]
        still = ~(c0 > 0) | nopair[0]
        with np.errstate(divide="ignore", invalid="ignore"):
            rho = c / np.where(still, 1.0, c0)
        rho = np.where(still[None, :] | nopair, np.nan, rho)
        warn_nan("bond_correlation", int(still.sum()), still.size, "those units never move (C(0) = 0)")
        warn_nan("bond_correlation", int((nopair & ~still).sum()), nopair.size, "no pair at that lag")
        return rho
    s = states64(traj)
    dmask = traj.delta_mask(region)
    if region != "all":
        common_mask(dmask, "bond_correlation(per='vector')")
    d = np.diff(s, axis=1)
    with np.errstate(over="ignore", under="ignore"):
        norm = np.sqrt((d * d).sum(axis=2, keepdims=True))
    risky = (norm < 1e-150) | ~np.isfinite(norm)  # squares under- or overflow: the exact norm there
    if risky.any():
        norm = np.where(risky, np.hypot.reduce(d, axis=2, keepdims=True), norm)
    ok = dmask[:, :, :1] & (norm > 0)
    u = np.where(ok, d / np.where(ok, norm, 1.0), 0.0)
    num = _pair_sums(u, max_lag).sum(axis=1)
    den = np.rint(_pair_sums(ok.astype(np.float64), max_lag)[:, 0])
    bad = den <= 0
    out = np.where(bad, np.nan, num / np.where(bad, 1.0, den))
    warn_nan("bond_correlation", int(bad.sum()), bad.size, "no pair of moving bonds at that lag")
    return out


def persistence_length(x: Any, *, per: str = "unit", region: str = "all", lengths: Any = None) -> np.ndarray:
    """Persistence length ``l_p = -1 / ln rho(1)`` in steps (exact if ``rho(s) = rho(1)**s``).

    ``rho(1) <= 0`` (no persistence, or anti-correlated bonds) gives 0 (the
    limit as ``rho(1) -> 0``); ``rho(1) >= 1`` gives ``inf``.

    Examples
    --------
    >>> import numpy as np
    >>> v = np.random.default_rng(0).standard_normal((200, 400, 1))
    >>> for t in range(1, 400):
    ...     v[:, t] += 0.5 * v[:, t - 1]                 # AR(1) velocity, phi = 0.5
    >>> x = np.concatenate([np.zeros((200, 1, 1)), v.cumsum(axis=1)], axis=1)
    >>> float(persistence_length(x)[0].round(1))       # -1 / ln 0.5
    1.4
    """
    rho1 = bond_correlation(x, max_lag=1, per=per, region=region, lengths=lengths)[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        lp = -1.0 / np.log(np.clip(rho1, 1e-300, None))
    lp = np.where(rho1 <= 0, 0.0, lp)
    lp = np.where(rho1 >= 1, np.inf, lp)
    out = np.where(np.isnan(rho1), np.nan, lp)
    return float(out) if out.ndim == 0 else out


def integrated_correlation_time(
    x: Any,
    *,
    window: str | int = "sokal",
    c: float = 5.0,
    max_lag: int | None = None,
    per: str = "unit",
    region: str = "all",
    lengths: Any = None,
    return_window: bool = False,
) -> Any:
    """Integrated correlation time of the bonds, ``tau(M) = 1/2 + sum_{s=1}^{M} rho(s)``.

    ``rho`` is :func:`bond_correlation`. With ``window="sokal"`` the window
    ``M`` is Sokal's: the smallest ``M >= 1`` with ``M >= c * tau(M)``; if no
    ``M <= max_lag`` satisfies it the largest is used, with a warning (the
    series is too short for a reliable estimate). ``window=M`` (an int) fixes it.
    For ``rho(s) = phi**s``, ``tau = (1 + phi) / (2 (1 - phi))``.

    Returns
    -------
    numpy.ndarray of shape (n_units,) (or a float for ``per="vector"``)
        ``(tau, M)`` when ``return_window=True``.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.cumsum(np.random.default_rng(0).standard_normal((100, 300, 1)), axis=1)
    >>> float(integrated_correlation_time(x)[0].round(1))    # uncorrelated bonds
    0.5
    """
    c = check_float(c, "c", minimum=0.0, exclusive_minimum=True)
    if isinstance(window, str):
        check_choice(window, "window", ("sokal",))
    else:
        check_int(window, "window", minimum=1)
    return_window = check_bool(return_window, "return_window")
    rho = bond_correlation(x, max_lag=max_lag, per=per, region=region, lengths=lengths)
    top = rho.shape[0] - 1
    if top < 1:
        raise RnndynError("integrated_correlation_time needs at least 3 steps (one lag s >= 1).")
    tau = 0.5 + np.cumsum(rho[1:], axis=0)  # tau[M - 1] = tau(M)
    M = np.arange(1, top + 1).reshape((-1,) + (1,) * (rho.ndim - 1))
    if isinstance(window, str):
        ok = M >= c * tau
        found = ok.any(axis=0)
        idx = np.where(found, np.argmax(ok, axis=0), top - 1)
        lost = ~found & ~np.isnan(tau[-1])
        if lost.any():
            warnings.warn(
                f"integrated_correlation_time: Sokal's window M >= {c} tau(M) is not reached within "
                f"max_lag={top} for {int(lost.sum())} of {lost.size} result(s); used M = {top}. "
                "Longer sequences (or a larger max_lag) give a reliable estimate.",
                RuntimeWarning,
                stacklevel=2,
            )
    else:
        if window > top:
            raise RnndynError(
                f"window={window} is past the largest lag summed, {top} (max_lag, default "
                "n_steps - 2). Use window <= max_lag, or a larger max_lag."
            )
        m = int(window)
        idx = np.full(tau.shape[1:], m - 1, dtype=np.int64)
    out = np.take_along_axis(tau, np.asarray(idx)[None, ...], axis=0)[0]
    if out.ndim == 0:
        out, idx = float(out), int(idx)
    return (out, np.asarray(idx) + 1 if not isinstance(idx, int) else idx + 1) if return_window else out
