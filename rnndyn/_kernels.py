"""Block kernels: the per-block partial sums behind each averaged metric.

A kernel turns one block of sequences ``(b, n_steps, n_units)`` into partial
sums that :func:`rnndyn._reduce.reduce_sequences` adds up over all blocks;
``finalize`` turns the totals into the metric's numerator. Region windows
(:class:`rnndyn._regions.Windows`) enter as 0/1 float64 weights ``w``.

========================  =================================================  ================
kernel                    numerator                                          shape
========================  =================================================  ================
:class:`StepKernel`       ``sum_i w d[i,t]^2`` or ``sum_i w |d[i,t]|``       (T-1, U)
:class:`TwoTimeKernel`    ``sum_i w d[i,t] d[i,s]``                          (U, T-1, T-1)
:class:`StartKernel`      ``sum_i w (x[i,t] - x[i,0])^2``                    (T, U)
:class:`MSDKernel`        ``sum_i sum_k w w (x[i,k+m] - x[i,k])^2``          (U, n_lags)
:class:`VACFKernel`       ``sum_i sum_t w w d[i,t] d[i,t+s]``                (U, n_lags)
========================  =================================================  ================

The MSD and VACF kernels use the fast correlation algorithm in float64 with
the sum over sequences taken in the frequency domain, so each series costs
one real FFT (two with a region window) and each unit one inverse FFT. When
every step (delta) is used, the backend may transform cache-sized chunks of
units from reused zero-padded buffers (:meth:`Backend.unit_chunks`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._backends import Backend

__all__ = [
    "BlockKernel",
    "StepKernel",
    "TwoTimeKernel",
    "StartKernel",
    "MSDKernel",
    "VACFKernel",
    "fft_length",
    "unit_windows",
]


def fft_length(n: int, max_lag: int) -> int:
    """Smallest fast FFT length with no wrap-around for lags ``0..max_lag`` of length ``n``."""
    import scipy.fft  # lazily: importing it costs ~0.2 s

    return scipy.fft.next_fast_len(max(n + max_lag, 1), real=True)


def unit_windows(be: Backend, mask: np.ndarray, groups: np.ndarray, time_axis: int = 2) -> tuple[Any, Any]:
    """Group masks ``(b, G, T)`` -> float64 masks per group and per unit, on the backend's device.

    Time goes on ``time_axis``: 2 gives ``(b, G, T)`` and ``(b, U, T)``, 1
    gives ``(b, T, G)`` and ``(b, T, U)``. With one group the per-unit array
    is the group array (it broadcasts over units).
    """
    w = be.asarray(np.ascontiguousarray(np.moveaxis(mask, 2, time_axis), dtype=np.float64))
    if mask.shape[1] == 1:
        return w, w
    return w, be.take(w, groups, axis=3 - time_axis)


class BlockKernel:
    """Accumulates per-block partial sums; ``finalize`` turns their total into numerators.

    ``shapes(n_steps, n_units)`` are the accumulators' shapes; ``per_row`` the
    float64 working memory per sequence, which sets the block size. Options
    given as keywords become attributes.
    """

    per_row: int = 1

    def __init__(self, win: Any, **options: Any) -> None:
        self.win = win
        self.__dict__.update(options)

    def shapes(self, T: int, U: int) -> list[tuple[int, ...]]:
        raise NotImplementedError

    def __call__(self, xb: Any, be: Backend, i0: int, i1: int) -> list[Any]:
        """The partial sums of block ``xb``, sequences ``i0:i1``."""
        raise NotImplementedError

    def add(self, xb: Any, be: Backend, i0: int, i1: int, acc: list[Any]) -> None:
        """Add one block's partial sums to ``acc`` in place."""
        for a, p in zip(acc, self(xb, be, i0, i1), strict=True):
            a += p

    def finalize(self, acc: list[Any], be: Backend) -> list[Any]:
        return acc


class _EnsembleKernel(BlockKernel):
    """A kernel over one block's steps, ``2 * n_steps`` float64 per sequence and group."""

    @property
    def per_row(self) -> int:  # type: ignore[override]
        return 2 * self.win.n_steps * len(self.win.groups)


class StepKernel(_EnsembleKernel):
    """``sum_i w d[i, t]^2`` (``power=2``) or ``sum_i w |d[i, t]|`` (``power=1``): (T-1, U)."""

    power: int

    def shapes(self, T: int, U: int) -> list[tuple[int, ...]]:
        return [(T - 1, U)]

    def __call__(self, xb: Any, be: Backend, i0: int, i1: int) -> list[Any]:
        d = be.step_deltas(xb)
        if not self.win.full_deltas:  # a 0/1 weight: (w d)^2 = w d^2, |w d| = w |d|
            d = d * unit_windows(be, self.win.delta_mask(i0, i1), self.win.groups, time_axis=1)[1]
        return [be.sum_power(d, self.power)]


class StartKernel(_EnsembleKernel):
    """``sum_i w (x[i, t] - x[i, 0])^2``: (T, U)."""

    def shapes(self, T: int, U: int) -> list[tuple[int, ...]]:
        return [(T, U)]

    def __call__(self, xb: Any, be: Backend, i0: int, i1: int) -> list[Any]:
        r = be.from_first(xb)
        if not self.win.full_positions:
            r = r * unit_windows(be, self.win.start_mask(i0, i1), self.win.groups, time_axis=1)[1]
        return [be.sum_power(r, 2)]


class TwoTimeKernel(BlockKernel):
    """``sum_i w d[i, t] d[i, s]`` as (U, T-1, T-1): one matrix product per unit."""

    @property
    def per_row(self) -> int:  # type: ignore[override]
        return max(self.win.n_steps * len(self.win.groups) // 8, 1)  # big blocks feed BLAS

    def shapes(self, T: int, U: int) -> list[tuple[int, ...]]:
        return [(U, T - 1, T - 1)]

    def __call__(self, xb: Any, be: Backend, i0: int, i1: int) -> list[Any]:
        xp = be.xp
        d = be.deltas_time_last(xb)  # (b, U, T-1)
        if not self.win.full_deltas:
            d = d * unit_windows(be, self.win.delta_mask(i0, i1), self.win.groups)[1]
        d = xp.permute_dims(d, (1, 0, 2))  # (U, b, T-1) with unit inner stride: BLAS-ready
        return [xp.matmul(xp.permute_dims(d, (0, 2, 1)), d)]


class _LagKernel(BlockKernel):
    """A correlation over lags by FFT. Options: ``n_lags``, ``nfft`` (from :func:`fft_length`)."""

    n_lags: int
    nfft: int

    @property
    def per_row(self) -> int:  # type: ignore[override]
        return 3 * len(self.win.groups) * self.nfft


class MSDKernel(_LagKernel):
    """MSD numerator ``sum_i sum_k w_k w_{k+m} (x_{k+m} - x_k)^2``, shape (n_units, n_lags).

    ``num(m) = corr(w, w y^2)(m) + corr(w y^2, w)(m) - 2 corr(w y, w y)(m)``
    with ``y`` the series minus its mean over its window (exactly
    shift-invariant). Without a window (every step used) the first two terms
    are prefix sums of ``sum_i y^2``; with one, an inverse FFT of a cross
    spectrum.
    """

    def shapes(self, T: int, U: int) -> list[tuple[int, ...]]:
        nf = self.nfft // 2 + 1
        return [(U, nf), (U, T) if self.win.full_positions else (U, nf)]

    def add(self, xb: Any, be: Backend, i0: int, i1: int, acc: list[Any]) -> None:
        if not self.win.full_positions:
            return super().add(xb, be, i0, i1, acc)
        T = xb.shape[1]
        for us in be.unit_chunks(xb.shape[2], xb.shape[0], self.nfft):
            buf = be.centered_time_last(xb[:, :, us], pad=self.nfft)  # FFT the padded buffer
            y = buf[..., :T]
            be.add_power(acc[0][us], be.rfft(buf, self.nfft))
            acc[1][us] += be.sum_power(y, 2)

    def __call__(self, xb: Any, be: Backend, i0: int, i1: int) -> list[Any]:
        xp, nfft = be.xp, self.nfft
        y = be.time_last(xb)
        wg, wu = unit_windows(be, self.win.position_mask(i0, i1), self.win.groups)
        count = xp.sum(wu, axis=-1, keepdims=True)
        mean = xp.sum(y * wu, axis=-1, keepdims=True) / xp.where(count > 0, count, 1.0)
        y = (y - mean) * wu
        W = be.rfft(wg, nfft)
        if wg.shape[1] > 1:
            W = be.take(W, self.win.groups, axis=1)
        cross = be.cross_sum(W, be.rfft(y * y, nfft))
        return [be.power_sum(be.rfft(y, nfft)), cross]

    def finalize(self, acc: list[Any], be: Backend) -> list[Any]:
        xp, n_lags, nfft = be.xp, self.n_lags, self.nfft
        s2 = be.irfft(acc[0], nfft)[..., :n_lags]
        if self.win.full_positions:
            q = acc[1]  # (U, T)
            T = q.shape[-1]
            m = np.arange(n_lags)
            P = xp.cumulative_sum(q, axis=-1, include_initial=True)  # (U, T + 1)
            s1 = P[..., T:] - be.take(P, m, axis=-1) + be.take(P, T - m, axis=-1)
        else:
            s1 = 2 * be.irfft(acc[1], nfft)[..., :n_lags]
        # A sum of squares: exactly 0 at lag 0, never negative; FFT rounding (~1e-16 of
        # sum y^2) could otherwise leave -1e-17 where a series does not move.
        lag0 = be.asarray(np.arange(n_lags) == 0)
        return [xp.where(lag0, 0.0, xp.clip(s1 - 2 * s2, min=0.0))]


class VACFKernel(_LagKernel):
    """VACF numerator ``sum_i sum_t w_t w_{t+s} d_t d_{t+s}``, shape (n_units, n_lags)."""

    def shapes(self, T: int, U: int) -> list[tuple[int, ...]]:
        return [(U, self.nfft // 2 + 1)]

    def add(self, xb: Any, be: Backend, i0: int, i1: int, acc: list[Any]) -> None:
        if not self.win.full_deltas:
            return super().add(xb, be, i0, i1, acc)
        for us in be.unit_chunks(xb.shape[2], xb.shape[0], self.nfft):
            buf = be.deltas_time_last(xb[:, :, us], pad=self.nfft)  # FFT the padded buffer
            be.add_power(acc[0][us], be.rfft(buf, self.nfft))

    def __call__(self, xb: Any, be: Backend, i0: int, i1: int) -> list[Any]:
        d = be.deltas_time_last(xb)  # (b, U, T-1); no mean removed
        d = d * unit_windows(be, self.win.delta_mask(i0, i1), self.win.groups)[1]
        return [be.power_sum(be.rfft(d, self.nfft))]

    def finalize(self, acc: list[Any], be: Backend) -> list[Any]:
        return [be.irfft(acc[0], self.nfft)[..., : self.n_lags]]
