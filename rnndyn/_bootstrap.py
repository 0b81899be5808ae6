"""Bootstrap intervals by resampling sequences (re-exported by :mod:`rnndyn.summary`).

:func:`resample_indices` draws the resamples and :func:`resample_counts` says
how often each sequence is drawn in each; every statistic that is a sum over
sequences is then one matrix product ``counts @ per_sequence_sums`` for all
resamples at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from . import metrics
from ._convert import index_axis
from ._estimators import area, as64
from ._physics_util import as_traj, counts_like
from ._validation import (
    check_choice,
    check_float,
    check_int,
    check_region,
    dtype_kind,
    real_array,
    to_numpy,
)
from .errors import RnndynError
from .trajectories import Trajectories

__all__ = ["BootstrapCI", "bootstrap_ci", "BUILTIN_STATISTICS", "resample_indices", "resample_counts"]

#: Statistics computed by weighted sums (one matrix product for every resample at once).
BUILTIN_STATISTICS = ("mean", "rms_delta", "mean_abs_delta", "area_rms", "area_mean_abs")

_BLOCK_BYTES = 64 * 2**20

#: Most resampled indices (``n_boot * n_sequences``) one call may draw: 2**31 int64s is 16 GiB.
MAX_DRAWS = 2**31

_SEED_KINDS = "None, a non-negative int, a numpy.random.Generator or a numpy.random.SeedSequence"


def check_seed(seed: Any, name: str = "seed") -> Any:
    """A seed numpy's ``default_rng`` takes as meant: None, an int >= 0, a Generator or a SeedSequence.

    Floats (silently truncated elsewhere), bools, strings and negative ints are refused.
    """
    if seed is None or isinstance(seed, (np.random.Generator, np.random.SeedSequence)):
        return seed
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise RnndynError(
            f"{name} must be {_SEED_KINDS}; got {seed!r} ({type(seed).__name__}). For a float such as "
            f"1.0 pass int(1.0); for a string, derive an int first."
        )
    if seed < 0:
        raise RnndynError(f"{name} must be {_SEED_KINDS}; got the negative int {seed}. Use abs({seed}).")
    return int(seed)


def check_ci(ci: Any) -> float:
    """A confidence level strictly between 0 and 1 (0.95, not 95)."""
    ci = check_float(ci, "ci")
    if 1.0 < ci <= 100.0:
        raise RnndynError(
            f"ci is a fraction strictly between 0 and 1; got {ci:g}, which looks like a percent. "
            f"Use ci={ci / 100:g}."
        )
    if not 0.0 < ci < 1.0:
        raise RnndynError(f"ci must lie strictly between 0 and 1 (e.g. 0.95); got {ci}.")
    return ci


def _as_data(x: Any, name: str = "x") -> tuple[Any, int]:
    """The data to resample and its number of sequences (axis 0), or an error saying why not."""
    if isinstance(x, Trajectories):
        n = x.n_sequences
    elif hasattr(x, "shape") and hasattr(x, "dtype") and not isinstance(x, (np.generic,)):
        if len(x.shape) == 0:
            raise RnndynError(
                f"{name} must have sequences on axis 0; got a 0-d array. Pass an array of shape "
                "(n_sequences, ...)."
            )
        if dtype_kind(x) not in "fiu":
            raise RnndynError(
                f"{name} must hold real numbers (float or int); got dtype {x.dtype}. Convert it first."
            )
        n = int(x.shape[0])
    else:
        x = real_array(x, name, finite=False)
        if x.ndim == 0:
            raise RnndynError(
                f"{name} must have sequences on axis 0; got the scalar {x}. Pass an array of shape "
                "(n_sequences, ...)."
            )
        n = int(x.shape[0])
    if n < 1:
        raise RnndynError(
            f"bootstrap_ci needs at least one sequence; {name} has none (shape "
            f"{tuple(getattr(x, 'shape', ()))}). Check the selection that produced it."
        )
    return x, n


def _as_boot_value(value: Any, b: int | None) -> np.ndarray:
    """The statistic's output as float64, or an error naming the resample it came from."""
    where = "on the full data" if b is None else f"on resample {b}"
    if isinstance(value, (str, bytes, dict)) or value is None:
        raise RnndynError(
            f"statistic must return a number or an array of numbers; {where} it returned "
            f"{type(value).__name__} {value!r:.60}."
        )
    try:
        a = np.asarray(to_numpy(value))
    except Exception as exc:
        raise RnndynError(
            f"statistic must return a number or an array of numbers; {where} it returned a "
            f"{type(value).__name__} that numpy cannot read: {exc}."
        ) from None
    if a.dtype.kind not in "fiu":
        raise RnndynError(
            f"statistic must return real numbers; {where} it returned dtype {a.dtype}. "
            "Return floats (e.g. cast booleans with .astype(float))."
        )
    return a.astype(np.float64, copy=False)


class BootstrapCI(NamedTuple):
    """A percentile-bootstrap interval: ``low <= estimate <= high`` (usually), elementwise."""

    estimate: Any
    low: Any
    high: Any
    ci: float
    n_boot: int


def resample_indices(n: int, n_boot: int, seed: Any) -> np.ndarray:
    """The sequences drawn (with replacement) by each of ``n_boot`` resamples of ``n``, int ``(n_boot, n)``.

    One draw ``numpy.random.default_rng(seed).integers(0, n, size=(n_boot, n))``;
    raises when it would hold more than :data:`MAX_DRAWS` indices.
    """
    if n_boot * n > MAX_DRAWS:
        raise RnndynError(
            f"n_boot={n_boot} resamples of {n} sequences draw {n_boot * n:,} indices, more than "
            f"{MAX_DRAWS:,} (16 GiB); use n_boot <= {MAX_DRAWS // n:,} (1000 to 10000 is typical)."
        )
    return np.random.default_rng(seed).integers(0, n, size=(n_boot, n))


def resample_counts(n: int, n_boot: int, seed: Any) -> np.ndarray:
    """How often each of ``n`` sequences is drawn in each resample, float ``(n_boot, n)``.

    The resamples of :func:`resample_indices` with the same ``seed``.

    Examples
    --------
    >>> C = resample_counts(5, 3, seed=0)
    >>> C.shape, C.sum(axis=1).tolist()
    ((3, 5), [5.0, 5.0, 5.0])
    """
    idx = resample_indices(n, n_boot, seed)
    c = np.zeros((n_boot, n))
    np.add.at(c, (np.arange(n_boot)[:, None], idx), 1.0)
    return c


def _take(x: Any, rows: np.ndarray) -> Any:
    if isinstance(x, Trajectories):
        return x.take(rows)
    return index_axis(x, rows, axis=0)


def _weighted(
    x: Any, name: str, C: np.ndarray, region: str, lengths: Any, q: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Estimate and percentiles of a built-in statistic, every resample at once."""
    if name == "mean":
        if lengths is not None:
            raise RnndynError("statistic='mean' averages the values as given; lengths= does not apply.")
        v = np.asarray(to_numpy(x.states if isinstance(x, Trajectories) else x), dtype=np.float64)
        if not np.all(np.isfinite(v)):
            raise RnndynError(
                f"statistic='mean': x holds {int((~np.isfinite(v)).sum())} NaN or inf value(s), which "
                "would make the mean and its interval NaN; drop or replace them first."
            )
        flat = v.reshape(v.shape[0], -1)
        est = flat.mean(axis=0)
        boots = C @ flat / v.shape[0]
        lo, hi = np.percentile(boots, q, axis=0)
        return est.reshape(v.shape[1:]), lo.reshape(v.shape[1:]), hi.reshape(v.shape[1:])
    traj = as_traj(x, lengths)
    if traj.n_steps < 2:
        raise RnndynError(f"statistic={name!r} needs at least 2 steps; got {traj.n_steps}.")
    from .stream import Accumulator  # the per-sequence sums of the metric itself

    metric = "rms_delta" if name in ("rms_delta", "area_rms") else "mean_abs_delta"
    is_area = name.startswith("area")
    curve, counts = getattr(metrics, metric)(traj, region=region, return_counts=True)
    curve = as64(curve)
    acc = Accumulator([metric], regions=region, per_sequence=True).update(traj)
    n, T, U = traj.shape
    B = C.shape[0]
    per_block = max(1, _BLOCK_BYTES // (8 * B * max(T - 1, 1)))
    shape = (U,) if is_area else (T - 1, U)
    lo, hi = np.empty(shape), np.empty(shape)
    for c0 in range(0, U, per_block):
        cb = np.arange(c0, min(c0 + per_block, U))
        stat = as64(acc.resampled(C, region, units=cb)[metric])  # (B, T - 1, units of the block)
        if is_area:
            stat = area(stat, ~np.isnan(stat), axis=1)
        lo[..., cb], hi[..., cb] = np.percentile(stat, q, axis=0)
    if is_area:
        curve = area(curve, counts_like(counts, curve.shape) > 0)
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
        ``x``) returning a number or an array of real numbers, of the same
        shape every time; it is called ``n_boot + 1`` times. An exception it
        raises is re-raised as :class:`RnndynError` naming the resample; a
        statistic that is NaN everywhere on every resample is an error.
    n_boot : int, default 1000
        At least 2, and ``n_boot * n_sequences <= 2**31``.
    ci : float, default 0.95
        Strictly between 0 and 1 (a percent such as 95 is an error).
    seed : int, numpy.random.Generator, numpy.random.SeedSequence or None, default 0
        As :func:`numpy.random.default_rng` takes it; an int must be ``>= 0``
        (floats, bools and strings are errors). A Generator is advanced.
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
    ci = check_ci(ci)
    seed = check_seed(seed)
    check_region(region)
    if isinstance(statistic, str):
        check_choice(statistic, "statistic", BUILTIN_STATISTICS)
    elif not callable(statistic):
        raise RnndynError(
            f"statistic must be one of {BUILTIN_STATISTICS} or a function; got {type(statistic).__name__}."
        )
    x, n = _as_data(x)
    q = (100 * (1 - ci) / 2, 100 * (1 + ci) / 2)
    if isinstance(statistic, str):
        est, lo, hi = _weighted(x, statistic, resample_counts(n, n_boot, seed), region, lengths, q)
        return BootstrapCI(est, lo, hi, ci, n_boot)
    idx = resample_indices(n, n_boot, seed)
    data = as_traj(x, lengths) if lengths is not None else x
    est = _call(statistic, data, None)
    boots = np.empty((n_boot, *est.shape))
    for b in range(n_boot):
        val = _call(statistic, _take(data, idx[b]), b)
        if val.shape != est.shape:
            raise RnndynError(
                f"statistic returned shape {val.shape} on resample {b} but {est.shape} on the full "
                "data; it must return the same shape every time (e.g. one value per unit, not one "
                "per distinct sequence)."
            )
        boots[b] = val
    if np.isnan(est).all() and np.isnan(boots).all():
        raise RnndynError(
            "statistic returned NaN everywhere, on the full data and on every resample; there is "
            "no interval to give. Check the statistic (e.g. a mean over an empty selection)."
        )
    lo, hi = np.percentile(boots, q, axis=0)
    return BootstrapCI(est, lo, hi, ci, n_boot)


def _call(statistic: Callable[[Any], Any], data: Any, b: int | None) -> np.ndarray:
    """Call the user's statistic; its exception becomes an RnndynError naming the resample."""
    try:
        value = statistic(data)
    except Exception as exc:
        where = "the full data" if b is None else f"resample {b}"
        raise RnndynError(
            f"statistic raised {type(exc).__name__} on {where}: {exc}. Fix the function (it gets "
            f"{'a Trajectories' if isinstance(data, Trajectories) else 'an array like x'} of "
            "resampled sequences)."
        ) from exc
    return _as_boot_value(value, b)
