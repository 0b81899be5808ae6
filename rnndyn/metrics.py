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
(states below ~1e-150) are handled: when a first result is not finite (or a
unit's is zero and its states are that small), it is recomputed with each
unit scaled by a power of two and scaled back, so the result is right
whenever it is itself representable; when it is not (the MSD of 1e200 steps is 1e400), an
:class:`~rnndyn.RnndynError` says so. The averaged metrics need at least one
sequence and one unit; ``lengths=`` goes with bare arrays only (a
``Trajectories`` carries its own).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _fft
from ._fft import MSDKernel, VACFKernel, check_chunk, fft_length, is_dask, reduce_sequences
from ._regions import check_max_lag, finish, like, setup
from ._validation import array_namespace, to_numpy
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


# ------------------------------------------------------------ block kernels
def _time_units(be: _fft.Backend, mask: np.ndarray, groups: np.ndarray) -> Any:
    """Group masks ``(b, G, T)`` -> float64 ``(b, T, U)`` (or ``(b, T, 1)``) on the device."""
    w = np.ascontiguousarray(mask.transpose(0, 2, 1), dtype=np.float64)
    return be.asarray(w[:, :, groups] if mask.shape[1] > 1 else w)


def _diff(be: _fft.Backend, xb: Any) -> Any:
    """float64 deltas ``(b, n_steps - 1, n_units)``."""
    if be.kind == "numpy":
        return np.subtract(xb[:, 1:, :], xb[:, :-1, :], dtype=np.float64)
    s = be.f64(xb)
    return s[:, 1:, :] - s[:, :-1, :]


def _sum_power(be: _fft.Backend, v: Any, power: int) -> Any:
    """``sum_i v[i]^2`` or ``sum_i |v[i]|`` over the first axis (numpy: no temporaries)."""
    if be.kind == "numpy":
        if power == 2:
            return np.einsum("itu,itu->tu", v, v)
        return np.abs(v, out=v).sum(axis=0)
    return be.xp.sum(v * v if power == 2 else be.xp.abs(v), axis=0)


class StepKernel(_fft.BlockKernel):
    """``sum_i w d[i, t]^2`` (``power=2``) or ``sum_i w |d[i, t]|`` (``power=1``): (T-1, U)."""

    power: int

    @property
    def per_row(self) -> int:  # type: ignore[override]
        return 2 * self.win.n_steps * len(self.win.groups)

    def shapes(self, T: int, U: int) -> list[tuple[int, ...]]:
        return [(T - 1, U)]

    def __call__(self, xb: Any, be: _fft.Backend, i0: int, i1: int) -> list[Any]:
        d = _diff(be, xb)
        if not self.win.full_deltas:  # a 0/1 weight: (w d)^2 = w d^2, |w d| = w |d|
            d = d * _time_units(be, self.win.delta_mask(i0, i1), self.win.groups)
        return [_sum_power(be, d, self.power)]


class TwoTimeKernel(_fft.BlockKernel):
    """``sum_i w d[i, t] d[i, s]`` as (U, T-1, T-1): one matrix product per unit."""

    @property
    def per_row(self) -> int:  # type: ignore[override]
        return max(self.win.n_steps * len(self.win.groups) // 8, 1)  # big blocks feed BLAS

    def shapes(self, T: int, U: int) -> list[tuple[int, ...]]:
        return [(U, T - 1, T - 1)]

    def __call__(self, xb: Any, be: _fft.Backend, i0: int, i1: int) -> list[Any]:
        xp = be.xp
        d = be.deltas_time_last(xb)  # (b, U, T-1)
        if not self.win.full_deltas:
            d = d * _fft.unit_windows(be, self.win.delta_mask(i0, i1), self.win.groups)[1]
        d = xp.permute_dims(d, (1, 0, 2))  # (U, b, T-1) with unit inner stride: BLAS-ready
        return [xp.matmul(xp.permute_dims(d, (0, 2, 1)), d)]


class StartKernel(_fft.BlockKernel):
    """``sum_i w (x[i, t] - x[i, 0])^2``: (T, U)."""

    @property
    def per_row(self) -> int:  # type: ignore[override]
        return 2 * self.win.n_steps * len(self.win.groups)

    def shapes(self, T: int, U: int) -> list[tuple[int, ...]]:
        return [(T, U)]

    def __call__(self, xb: Any, be: _fft.Backend, i0: int, i1: int) -> list[Any]:
        if be.kind == "numpy":
            r = np.subtract(xb, xb[:, :1, :], dtype=np.float64)
        else:
            s = be.f64(xb)
            r = s - s[:, :1, :]
        if not self.win.full_positions:
            r = r * _time_units(be, self.win.start_mask(i0, i1), self.win.groups)
        return [_sum_power(be, r, 2)]


# ------------------------------------------------------ overflow-safe driver
_FLOAT_MAX = float(np.finfo(np.float64).max)


def _all_finite(v: Any) -> bool:
    xp = array_namespace(v)
    return bool(xp.all(xp.isfinite(v)))


def _any_inf(v: Any) -> bool:
    xp = array_namespace(v)
    return bool(xp.any(xp.isinf(v)))


def _unit_max(states: Any, units: np.ndarray | None = None) -> np.ndarray:
    """``max |x[:, :, u]|`` per unit (of the given units only), as float64 numpy."""
    xp = array_namespace(states)
    if units is not None:
        states = (
            states[:, :, units]
            if isinstance(states, np.ndarray)
            else xp.take(states, like(units, states), axis=2)
        )
    return to_numpy(xp.max(xp.abs(_fft.Backend(states).f64(states)), axis=(0, 1)))


def _unit_exponents(states: Any) -> np.ndarray:
    """Per unit ``k`` with ``max |x[:, :, u]| / 2**k`` in ``[1, 2)`` (``k = 0`` where the unit is all 0)."""
    m = _unit_max(states)
    return np.where(m > 0, np.frexp(m)[1].astype(np.int64) - 1, 0)


def _underflows(states: Any, num: Any) -> bool:
    """Whether squares of some unit's values may have underflowed (its states are all below 2**-500).

    Only units whose numerator is (nearly) zero are looked at, so the common case costs nothing.
    """
    a = np.abs(to_numpy(num))
    tiny = np.flatnonzero(np.max(a.reshape(-1, a.shape[-1]), axis=0, initial=0.0) < 2.0**-900)
    if tiny.size == 0:
        return False
    m = _unit_max(states, tiny)
    return bool(np.any((m > 0) & (m < 2.0**-500)))


def _scaled(states: Any, k: np.ndarray) -> Any:
    """float64 ``states / 2**k`` per unit (exact: a power of two)."""
    be = _fft.Backend(states)
    half = -k // 2  # two factors: 2**1074 (subnormal states) is beyond float64, its halves are not
    return be.f64(states) * be.asarray(np.ldexp(1.0, half)) * be.asarray(np.ldexp(1.0, -k - half))


def _overflow_error(fname: str, k: np.ndarray, power: int) -> RnndynError:
    kmax = int(k.max()) if k.size else 0
    return RnndynError(
        f"{fname}(): the result overflows float64: its true value exceeds {_FLOAT_MAX:.3g} (the states "
        f"reach ~2**{kmax + 1}). Rescale the states first, e.g. x / 2**{kmax}, and multiply the result "
        f"by 2**{power * kmax} in a wider type (Python ints, decimal) if you need it."
    )


def _no_inf_block(block: np.ndarray, fname: str) -> np.ndarray:
    if np.any(np.isinf(block)):
        raise RnndynError(
            f"{fname}(): the result overflows float64 (values beyond {_FLOAT_MAX:.3g}). On dask arrays "
            "rnndyn does not rescale: compute the states into numpy (x.compute()) for the "
            "overflow-safe path, or divide them by a power of two first."
        )
    return block


def _averaged(
    states: Any,
    numerator: Any,
    counts: np.ndarray,
    fname: str,
    *,
    power: int = 2,
    vector: bool = False,
    return_counts: bool = False,
    post: str | None = None,
) -> Any:
    """``finish(numerator(states), counts, ...)``, without overflow of squares or sums.

    ``numerator`` maps states to the float64 numerator, homogeneous of degree
    ``power`` in the states; ``post`` is None, ``"sqrt"`` or ``"normalize"``.
    Fast path first; only when its result is not finite (an overflow: the
    states are finite) is it recomputed on states scaled per unit by a power
    of two, then scaled back. An unrepresentable result raises.
    """
    posts = {None: None, "sqrt": _sqrt, "normalize": _normalize}
    if is_dask(states):
        out = finish(numerator(states), counts, vector=vector, return_counts=return_counts, post=posts[post])
        if return_counts:
            return out[0].map_blocks(_no_inf_block, fname, dtype=np.float64), out[1]
        return out.map_blocks(_no_inf_block, fname, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        num = numerator(states)
        if _all_finite(num) and not _underflows(states, num):
            out = finish(num, counts, vector=vector, return_counts=return_counts, post=posts[post])
            if not _any_inf(out[0] if return_counts else out):
                return out
        k = _unit_exponents(states)
        num = numerator(_scaled(states, k))
        xp = array_namespace(num)
        kk: Any = k
        if vector:  # one common scale for the sum over units
            kk = int(k.max()) if k.size else 0
            num = num * like(np.ldexp(1.0, power * (k - kk)), num)
        val, c = finish(num, counts, vector=vector, return_counts=True)
        factor = like(np.asarray(np.ldexp(1.0, kk), dtype=np.float64), val)
        if post == "normalize":  # a ratio: the scale cancels
            val = _normalize(val, xp)
        elif post == "sqrt":  # sqrt(mean (d / 2**k)^2) * 2**k
            val = xp.sqrt(val) * factor
        else:
            for _ in range(power):
                val = val * factor
    if _any_inf(val):
        raise _overflow_error(fname, k, power)
    return (val, c) if return_counts else val


# --------------------------------------------------------------- public API
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
    if is_dask(states):
        import dask.array as da

        states = states.map_blocks(_checked_block, dtype=states.dtype)
        d = da.diff(states.astype(np.float64), axis=1).map_blocks(_no_inf_block, "deltas", dtype=np.float64)
        if mask is not None:
            d = da.where(da.from_array(mask, chunks=d.chunks), d, np.nan)
        return d
    be = _fft.Backend(states)
    with np.errstate(over="ignore", invalid="ignore"):
        d = _diff(be, states)
        if not (_all_finite(be.xp.sum(d)) or _all_finite(d)):  # one pass; look closer only if needed
            bad = np.argwhere(~np.isfinite(to_numpy(d)))[0]
            raise RnndynError(
                f"deltas(): the step delta x[{bad[0]}, {bad[1] + 1}, {bad[2]}] - x[{bad[0]}, {bad[1]}, "
                f"{bad[2]}] overflows float64 (beyond {_FLOAT_MAX:.3g}). Rescale the states first, "
                "e.g. x / 2**10."
            )
    return d if mask is None else be.xp.where(like(mask, d), d, be.xp.nan)


def _checked_block(block: np.ndarray, block_info: Any = None) -> np.ndarray:
    """Validate one dask chunk (finite values), naming global positions."""
    loc = block_info[0]["array-location"] if block_info else [(0, 0)] * 3
    check_chunk(np.asarray(block), int(loc[0][0]), "x", step=int(loc[1][0]), unit=int(loc[2][0]))
    return block


def _reduce(states: Any, kernel: Any, shape: tuple[int, ...]) -> Any:
    return reduce_sequences(states, kernel, [shape])[0]


def _sqrt(v: Any, xp: Any) -> Any:
    return xp.sqrt(v)


def _normalize(v: Any, xp: Any) -> Any:
    c0 = v[0:1, ...]
    ok = c0 != 0
    return xp.where(ok, v / xp.where(ok, c0, 1.0), xp.nan)


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
    in ``region`` count; NaN where none does. This is the true RMS; the
    founding notebook's "RMS" was :func:`mean_abs_delta`.

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
    states, win, T = setup(x, lengths, region, "rms_delta", 2, vector, flags={"return_counts": return_counts})
    U = int(states.shape[2])
    kernel = StepKernel(win, power=2)
    return _averaged(
        states,
        lambda s: _reduce(s, kernel, (T - 1, U)),
        win.step_counts(),
        "rms_delta",
        vector=vector,
        return_counts=return_counts,
        post="sqrt",
    )


def mean_abs_delta(x: Any, *, region: str = "all", lengths: Any = None, return_counts: bool = False) -> Any:
    """Mean absolute delta per step over sequences: ``mean_i |d[i, t, u]|``.

    What the founding notebook computed and called "RMS" (``mean(sqrt(d**2))``);
    :func:`rms_delta` is the true root mean square. Same region rules and
    counts as :func:`rms_delta`.

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
    states, win, T = setup(x, lengths, region, "mean_abs_delta", 2, flags={"return_counts": return_counts})
    U = int(states.shape[2])
    kernel = StepKernel(win, power=1)
    return _averaged(
        states,
        lambda s: _reduce(s, kernel, (T - 1, U)),
        win.step_counts(),
        "mean_abs_delta",
        power=1,
        return_counts=return_counts,
    )


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
    flags = {"normalize": normalize, "return_counts": return_counts}
    states, win, T = setup(x, lengths, region, "vacf", 2, vector, flags=flags)
    max_lag = check_max_lag(max_lag, T - 2, "vacf", T)
    n_lags, U = max_lag + 1, int(states.shape[2])
    nfft = fft_length(T - 1, max_lag)
    kernel = VACFKernel(win, n_lags=n_lags, nfft=nfft)

    def numerator(s: Any) -> Any:
        num = _reduce(s, kernel, (U, n_lags))
        return array_namespace(num).permute_dims(num, (1, 0))

    counts = win.lag_counts(n_lags, positions=False)
    post = "normalize" if normalize else None
    return _averaged(states, numerator, counts, "vacf", vector=vector, return_counts=return_counts, post=post)


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
    flags = {"return_counts": return_counts}
    states, win, T = setup(x, lengths, region, "vacf_two_time", 2, vector, flags=flags)
    U = int(states.shape[2])
    kernel = TwoTimeKernel(win)

    def numerator(s: Any) -> Any:
        num = _reduce(s, kernel, (U, T - 1, T - 1))
        return array_namespace(num).permute_dims(num, (1, 2, 0))

    return _averaged(
        states, numerator, win.pair_counts(), "vacf_two_time", vector=vector, return_counts=return_counts
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
    states, win, T = setup(x, lengths, region, "msd", 1, vector, flags={"return_counts": return_counts})
    max_lag = check_max_lag(max_lag, T - 1, "msd", T)
    n_lags, U = max_lag + 1, int(states.shape[2])
    nfft = fft_length(T, max_lag)
    kernel = MSDKernel(win, n_lags=n_lags, nfft=nfft)

    def numerator(s: Any) -> Any:
        num = _reduce(s, kernel, (U, n_lags))
        return array_namespace(num).permute_dims(num, (1, 0))

    counts = win.lag_counts(n_lags, positions=True)
    return _averaged(states, numerator, counts, "msd", vector=vector, return_counts=return_counts)


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
    flags = {"return_counts": return_counts}
    states, win, T = setup(x, lengths, region, "msd_from_start", 1, vector, flags=flags)
    U = int(states.shape[2])
    kernel = StartKernel(win)
    return _averaged(
        states,
        lambda s: _reduce(s, kernel, (T, U)),
        win.start_counts(),
        "msd_from_start",
        vector=vector,
        return_counts=return_counts,
    )
