"""Bootstrap intervals by resampling sequences (re-exported by :mod:`rnndyn.summary`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from . import metrics
from ._physics_util import as_traj
from ._validation import array_namespace, check_choice, check_int, check_region, to_numpy
from .errors import RnndynError
from .trajectories import Trajectories, delta_region_mask

__all__ = ["BootstrapCI", "bootstrap_ci", "BUILTIN_STATISTICS"]

#: Statistics computed by weighted sums (one matrix product for every resample at once).
BUILTIN_STATISTICS = ("mean", "rms_delta", "mean_abs_delta", "area_rms", "area_mean_abs")

_BLOCK_BYTES = 64 * 2**20


class BootstrapCI(NamedTuple):
    """A percentile-bootstrap interval: ``low <= estimate <= high`` (usually), elementwise."""

    estimate: Any
    low: Any
    high: Any
    ci: float
    n_boot: int


def _counts(idx: np.ndarray, n: int) -> np.ndarray:
    """How often each sequence is drawn in each resample, float ``(n_boot, n)``."""
    c = np.zeros((idx.shape[0], n))
    np.add.at(c, (np.arange(idx.shape[0])[:, None], idx), 1.0)
    return c


def _take(x: Any, rows: np.ndarray) -> Any:
    if isinstance(x, Trajectories):
        return x.take(rows)
    if isinstance(x, np.ndarray):
        return x[rows]
    xp = array_namespace(x)
    return xp.take(x, xp.asarray(rows, device=getattr(x, "device", None)), axis=0)


def _weighted(
    x: Any, name: str, C: np.ndarray, region: str, lengths: Any, q: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Estimate and percentiles of a built-in statistic, every resample at once."""
    if name == "mean":
        if lengths is not None:
            raise RnndynError("statistic='mean' averages the values as given; lengths= does not apply.")
        v = np.asarray(to_numpy(x.states if isinstance(x, Trajectories) else x), dtype=np.float64)
        if v.ndim == 0:
            raise RnndynError("statistic='mean' needs values with sequences on axis 0; got a scalar.")
        flat = v.reshape(v.shape[0], -1)
        est = flat.mean(axis=0)
        boots = C @ flat / v.shape[0]
        lo, hi = np.percentile(boots, q, axis=0)
        return est.reshape(v.shape[1:]), lo.reshape(v.shape[1:]), hi.reshape(v.shape[1:])
    traj = as_traj(x, lengths)
    if traj.n_steps < 2:
        raise RnndynError(f"statistic={name!r} needs at least 2 steps; got {traj.n_steps}.")
    rms = name in ("rms_delta", "area_rms")
    area = name.startswith("area")
    fn = metrics.rms_delta if rms else metrics.mean_abs_delta
    curve, counts = fn(traj, region=region, return_counts=True)
    curve = np.asarray(to_numpy(curve), dtype=np.float64)
    states = to_numpy(traj.states)
    n, T, U = traj.shape
    T1, B = T - 1, C.shape[0]
    per_block = max(1, _BLOCK_BYTES // (8 * B * max(T1, 1)))
    shape = (U,) if area else (T1, U)
    lo, hi = np.empty(shape), np.empty(shape)
    for direction, cols in traj.direction_groups().items():
        # every unit of a direction shares its region mask, so the resampled counts too
        mask = delta_region_mask(
            traj.lengths, T, region=region, direction=direction, order=traj.order, masked=traj.masked
        )
        den = np.full((B, T1), float(n)) if mask.all() else C @ mask.astype(np.float64)
        for c0 in range(0, cols.size, per_block):
            cb = cols[c0 : c0 + per_block]
            db = np.diff(np.asarray(states[:, :, cb], dtype=np.float64), axis=1)
            v = np.where(mask[:, :, None], db * db if rms else np.abs(db), 0.0)
            num = (C @ v.reshape(n, -1)).reshape(B, T1, cb.size)
            with np.errstate(invalid="ignore", divide="ignore"):
                stat = np.where(den[:, :, None] > 0, num / np.maximum(den, 1.0)[:, :, None], np.nan)
            if rms:
                stat = np.sqrt(stat)
            if area:
                has = ~np.isnan(stat)
                stat = np.where(has.any(axis=1), np.where(has, stat, 0.0).sum(axis=1), np.nan)
            lo[..., cb], hi[..., cb] = np.percentile(stat, q, axis=0)
    if area:
        has = np.asarray(to_numpy(counts)) > 0
        curve = np.where(has.any(axis=0), np.where(has, curve, 0.0).sum(axis=0), np.nan)
    return curve, lo, hi


def bootstrap_ci(
    x: Any,
    statistic: str | Callable[[Any], Any],
    *,
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
    region: str = "all",
    lengths: Any = None,
) -> BootstrapCI:
    """Percentile-bootstrap interval of a statistic, resampling sequences (axis 0).

    Every resample draws ``n_sequences`` sequences with replacement (one
    ``(n_boot, n_sequences)`` index array from ``numpy.random.default_rng(seed)``);
    the interval is the ``(1 - ci)/2`` and ``(1 + ci)/2`` quantiles of the
    statistic over the resamples, elementwise (curves get pointwise bands).

    Parameters
    ----------
    x : Trajectories or array with sequences on axis 0
    statistic : str or callable
        A built-in name, computed for every resample at once as weighted sums
        (one matrix product; no loop over resamples):

        * ``"mean"`` -- the mean over sequences of ``x`` (any shape);
        * ``"rms_delta"``, ``"mean_abs_delta"`` -- the curves of
          :mod:`rnndyn.metrics`, shape ``(n_steps - 1, n_units)``;
        * ``"area_rms"``, ``"area_mean_abs"`` -- their sums over steps, per
          unit (the areas of :func:`unit_summary`).

        Or any function of resampled data (a Trajectories when ``x`` is one
        or when ``lengths`` is given, else an array of the same type as
        ``x``) returning a number or an array; it is called ``n_boot + 1`` times.
    n_boot : int, default 1000
    ci : float, default 0.95
    seed : int, default 0
    region : {"all", "input", "padding"}, default "all"
        For the built-in delta statistics.
    lengths : array, optional

    Returns
    -------
    BootstrapCI
        ``estimate`` (the statistic on all the data), ``low``, ``high``,
        ``ci``, ``n_boot``. A resample where a step has no delta in the
        region gives NaN there, so that step's bounds are NaN.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(1).normal(10.0, 1.0, size=(400,))
    >>> r = bootstrap_ci(x, "mean", n_boot=500)
    >>> bool(r.low < 10.0 < r.high)
    True
    """
    n_boot = check_int(n_boot, "n_boot", minimum=2)
    ci = float(ci)
    if not 0.0 < ci < 1.0:
        raise RnndynError(f"ci must lie strictly between 0 and 1 (e.g. 0.95); got {ci}.")
    check_region(region)
    n = int(x.shape[0]) if hasattr(x, "shape") else len(x)
    if not isinstance(x, Trajectories) and not hasattr(x, "shape"):
        x = np.asarray(x, dtype=np.float64)
    if n < 1:
        raise RnndynError("bootstrap_ci needs at least one sequence; got none.")
    idx = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
    q = (100 * (1 - ci) / 2, 100 * (1 + ci) / 2)
    if isinstance(statistic, str):
        check_choice(statistic, "statistic", BUILTIN_STATISTICS)
        est, lo, hi = _weighted(x, statistic, _counts(idx, n), region, lengths, q)
        return BootstrapCI(est, lo, hi, ci, n_boot)
    if not callable(statistic):
        raise RnndynError(
            f"statistic must be one of {BUILTIN_STATISTICS} or a function; got {type(statistic).__name__}."
        )
    data = as_traj(x, lengths) if lengths is not None else x
    est = np.asarray(to_numpy(statistic(data)), dtype=np.float64)
    boots = np.empty((n_boot, *est.shape))
    for b in range(n_boot):
        boots[b] = np.asarray(to_numpy(statistic(_take(data, idx[b]))), dtype=np.float64)
    lo, hi = np.percentile(boots, q, axis=0)
    return BootstrapCI(est, lo, hi, ci, n_boot)
