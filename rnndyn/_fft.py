"""Array backends, blocked reductions over sequences, and the FFT kernels.

Every averaged metric is ``sum over sequences of a per-sequence numerator``
divided by an exact integer pair count (from :mod:`rnndyn._regions`). This
module computes the numerators: it walks over blocks of sequences (numpy:
cache-sized blocks with time on the last axis; torch: big blocks on the
tensor's device; dask: one task per chunk of sequences, each running the
numpy path) and sums what a *kernel* returns for each block.

The MSD and VACF kernels use the fast correlation algorithm in float64 with
the sum over sequences taken in the frequency domain, so each series costs
one real FFT (two with a region window) and each unit one inverse FFT.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from ._validation import array_namespace
from .errors import RnndynError

__all__ = [
    "Backend",
    "BlockKernel",
    "MSDKernel",
    "VACFKernel",
    "StepKernel",
    "TwoTimeKernel",
    "StartKernel",
    "reduce_sequences",
    "finish",
    "fft_length",
]

#: float64 elements per numpy block (b * n_units * n_steps): 8 MB.
NUMPY_BLOCK_ELEMENTS = 2**20
#: float64 elements per torch block: big, to keep kernel launches few.
TORCH_BLOCK_ELEMENTS = 2**25


def fft_length(n: int, max_lag: int) -> int:
    """Smallest fast FFT length with no wrap-around for lags ``0..max_lag`` of length ``n``."""
    import scipy.fft  # lazily: importing it costs ~0.2 s

    return scipy.fft.next_fast_len(max(n + max_lag, 1), real=True)


def is_dask(x: Any) -> bool:
    return type(x).__module__.startswith("dask")


def is_torch(x: Any) -> bool:
    return type(x).__module__.startswith("torch")


class Backend:
    """The few array operations the kernels need, for one array library."""

    def __init__(self, like: Any, fft_workers: int = -1) -> None:
        self.fft_workers = fft_workers
        self.kind = "numpy" if isinstance(like, np.ndarray) else "torch" if is_torch(like) else "other"
        self.xp = array_namespace(like)
        self.device = None if self.kind == "numpy" else getattr(like, "device", None)
        self.block_elements = NUMPY_BLOCK_ELEMENTS if self.kind == "numpy" else TORCH_BLOCK_ELEMENTS

    # conversion
    def asarray(self, a: np.ndarray) -> Any:
        if self.kind == "numpy":
            return a
        return self.xp.asarray(a, device=self.device)

    def f64(self, a: Any) -> Any:
        return self.xp.astype(a, self.xp.float64) if a.dtype != self.xp.float64 else a

    def time_last(self, xb: Any) -> Any:
        """``(b, n_steps, n_units)`` -> float64 ``(b, n_units, n_steps)``, contiguous."""
        if self.kind == "numpy":
            out = np.empty((xb.shape[0], xb.shape[2], xb.shape[1]), dtype=np.float64)
            out[...] = xb.transpose(0, 2, 1)
            return out
        y = self.xp.permute_dims(self.f64(xb), (0, 2, 1))
        return y.contiguous() if self.kind == "torch" else y

    def centered_time_last(self, xb: Any) -> Any:
        """Like :meth:`time_last`, minus each series' mean over time."""
        if self.kind == "numpy":  # one pass from the input: cast, transpose, subtract
            mean = np.mean(xb, axis=1, dtype=np.float64)[:, :, None]
            out = np.empty((xb.shape[0], xb.shape[2], xb.shape[1]), dtype=np.float64)
            np.subtract(xb.transpose(0, 2, 1), mean, out=out, dtype=np.float64)
            return out
        y = self.time_last(xb)
        return y - self.xp.mean(y, axis=-1, keepdims=True)

    def deltas_time_last(self, xb: Any) -> Any:
        """``(b, n_steps, n_units)`` -> float64 deltas ``(b, n_units, n_steps - 1)``, contiguous."""
        if self.kind == "numpy":  # one pass from the input
            d = np.empty((xb.shape[0], xb.shape[2], max(xb.shape[1] - 1, 0)))
            src = xb.transpose(0, 2, 1)
            np.subtract(src[..., 1:], src[..., :-1], out=d, dtype=np.float64)
            return d
        y = self.time_last(xb)
        return y[..., 1:] - y[..., :-1]

    # FFT along the last axis
    def rfft(self, a: Any, n: int) -> Any:
        if self.kind == "numpy":
            import scipy.fft

            return scipy.fft.rfft(a, n=n, axis=-1, workers=self.fft_workers)
        if self.kind == "torch":
            import torch

            return torch.fft.rfft(a, n=n, dim=-1)
        return self.xp.fft.rfft(a, n=n, axis=-1)

    def irfft(self, a: Any, n: int) -> Any:
        if self.kind == "numpy":
            import scipy.fft

            return scipy.fft.irfft(a, n=n, axis=-1, workers=self.fft_workers)
        if self.kind == "torch":
            import torch

            return torch.fft.irfft(a, n=n, dim=-1)
        return self.xp.fft.irfft(a, n=n, axis=-1)

    def power_sum(self, Y: Any) -> Any:
        """``sum_i |Y[i]|^2`` over the first axis (``Y`` may be overwritten)."""
        if self.kind == "numpy":
            v = Y.view(np.float64)  # (b, ..., 2 * n_freq): real, imag interleaved
            np.multiply(v, v, out=v)
            s = v.sum(axis=0) if v.shape[0] != 1 else v[0]
            return s[..., 0::2] + s[..., 1::2]
        xp = self.xp
        return xp.sum(xp.real(Y) ** 2 + xp.imag(Y) ** 2, axis=0)

    def cross_sum(self, W: Any, Q: Any) -> Any:
        """``sum_i Re(conj(W[i]) Q[i])`` over the first axis (broadcasting ``W``)."""
        xp = self.xp
        return xp.sum(xp.real(W) * xp.real(Q) + xp.imag(W) * xp.imag(Q), axis=0)

    def rows(self, per_row: int) -> int:
        """Sequences per block, for ``per_row`` float64 elements per sequence."""
        return max(1, self.block_elements // max(per_row, 1))


# --------------------------------------------------------------------- driver
def _add(acc: list[Any] | None, part: Sequence[Any]) -> list[Any]:
    if acc is None:
        return list(part)
    for k, p in enumerate(part):
        acc[k] = acc[k] + p
    return acc


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def _reduce_local(x: Any, kernel: BlockKernel, offset: int = 0, threads: int | None = None) -> list[Any]:
    """Sum ``kernel`` over blocks of the sequences of a numpy/torch array, then finalize.

    numpy blocks run on a pool of threads (one per core; numpy and scipy release
    the GIL), each FFT single-threaded; partial sums are added in block order,
    so the result does not depend on the threads.
    """
    be = Backend(x)
    n = int(x.shape[0])
    b = be.rows(kernel.per_row)
    starts = list(range(0, n, b))
    threads = min(_cores() if threads is None else threads, len(starts))
    if be.kind != "numpy":
        threads = 1

    def run(i0: int, be: Backend) -> list[Any]:
        i1 = min(i0 + b, n)
        return kernel(x[i0:i1], be, offset + i0, offset + i1)

    acc = None
    if threads > 1:
        tbe = Backend(x, fft_workers=1)
        with ThreadPoolExecutor(threads) as pool:
            for part in pool.map(lambda i0: run(i0, tbe), starts):
                acc = _add(acc, part)
    else:
        for i0 in starts:
            acc = _add(acc, run(i0, be))
    if acc is None:
        acc = list(kernel(x[0:0], be, offset, offset))
    return kernel.finalize(acc, be)


def check_chunk(chunk: np.ndarray, offset: int, name: str, step: int = 0, unit: int = 0) -> None:
    """Raise naming the first non-finite value of a chunk (offsets make positions global)."""
    if chunk.dtype.kind == "f" and not np.all(np.isfinite(chunk)):
        i, t, u = (int(w) for w in np.argwhere(~np.isfinite(chunk))[0])
        raise RnndynError(
            f"{name} holds a non-finite value ({chunk[i, t, u]}) at sequence {i + offset}, step "
            f"{t + step}, unit {u + unit}; every value must be finite. NaN poisons every lag of an FFT: drop "
            "that sequence, or if NaN marks padding, pass the real lengths with `lengths=` and "
            "fill the padding with finite values."
        )


def _dask_part(chunk: Any, kernel: BlockKernel, offset: int, name: str) -> tuple:
    chunk = np.asarray(chunk)
    check_chunk(chunk, offset, name)
    return tuple(np.asarray(p) for p in _reduce_local(chunk, kernel, offset, threads=1))


def reduce_sequences(
    x: Any, kernel: BlockKernel, shapes: Sequence[tuple[int, ...]], name: str = "x"
) -> list[Any]:
    """Sum ``kernel(block, backend, i0, i1)`` over all sequences of ``x``.

    numpy and torch arrays are walked block by block; a dask array becomes one
    delayed numpy task per chunk of sequences (time and units one chunk), and
    the result is a list of lazy dask arrays of the given ``shapes``.
    """
    if not is_dask(x):
        return _reduce_local(x, kernel)
    import dask
    import dask.array as da

    x = x.rechunk({1: -1, 2: -1})
    starts = np.concatenate([[0], np.cumsum(x.chunks[0])[:-1]]).astype(int)
    parts = []
    for blk, off in zip(x.to_delayed().ravel(), starts, strict=True):
        res = dask.delayed(_dask_part, nout=len(shapes))(blk, kernel, int(off), name)
        parts.append([da.from_delayed(res[k], shape=s, dtype=np.float64) for k, s in enumerate(shapes)])
    if not parts:  # no sequences
        return [da.from_array(np.zeros(s)) for s in shapes]
    return [da.stack([p[k] for p in parts]).sum(axis=0) for k in range(len(shapes))]


# -------------------------------------------------------------------- kernels
def unit_windows(be: Backend, mask: np.ndarray, groups: np.ndarray) -> tuple[Any, Any]:
    """Group masks ``(b, G, T)`` -> float64 (per group, per unit ``(b, U, T)``) on the device.

    With one group the per-unit array is the group array (it broadcasts over units).
    """
    w = be.asarray(mask.astype(np.float64))
    if mask.shape[1] == 1:
        return w, w
    return w, be.xp.take(w, be.asarray(groups), axis=1)


class BlockKernel:
    """Per-block partial sums (``__call__``) and what turns their total into numerators.

    ``per_row`` is the float64 working memory per sequence, which sets the block size.
    """

    per_row: int = 1

    def __init__(self, win: Any, **options: Any) -> None:
        self.win = win
        self.__dict__.update(options)

    def __call__(self, xb: Any, be: Backend, i0: int, i1: int) -> list[Any]:
        raise NotImplementedError

    def finalize(self, acc: list[Any], be: Backend) -> list[Any]:
        return acc


class MSDKernel(BlockKernel):
    """MSD numerator ``sum_i sum_k w_k w_{k+m} (x_{k+m} - x_k)^2``, shape (n_units, n_lags).

    ``num(m) = corr(w, w y^2)(m) + corr(w y^2, w)(m) - 2 corr(w y, w y)(m)``
    with ``y`` the series minus its mean over its window (exactly
    shift-invariant). Without a window (every step used) the first two terms
    are prefix sums of ``sum_i y^2``; with one, an inverse FFT of a cross
    spectrum. Sums over sequences are taken in the frequency domain.
    Options: ``n_lags``, ``nfft``.
    """

    n_lags: int
    nfft: int

    @property
    def per_row(self) -> int:  # type: ignore[override]
        return 3 * len(self.win.groups) * self.nfft

    def __call__(self, xb: Any, be: Backend, i0: int, i1: int) -> list[Any]:
        xp, nfft = be.xp, self.nfft
        if self.win.full_positions:
            y = be.centered_time_last(xb)  # (b, U, T)
            q = np.einsum("iut,iut->ut", y, y) if be.kind == "numpy" else xp.sum(y * y, axis=0)
            return [be.power_sum(be.rfft(y, nfft)), q]
        y = be.time_last(xb)
        wg, wu = unit_windows(be, self.win.position_mask(i0, i1), self.win.groups)
        count = xp.sum(wu, axis=-1, keepdims=True)
        mean = xp.sum(y * wu, axis=-1, keepdims=True) / xp.where(count > 0, count, 1.0)
        y = (y - mean) * wu
        W = be.rfft(wg, nfft)
        if wg.shape[1] > 1:
            W = xp.take(W, be.asarray(self.win.groups), axis=1)
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
            s1 = P[..., T:] - xp.take(P, be.asarray(m), axis=-1) + xp.take(P, be.asarray(T - m), axis=-1)
        else:
            s1 = 2 * be.irfft(acc[1], nfft)[..., :n_lags]
        # A sum of squares: exactly 0 at lag 0, never negative; FFT rounding (~1e-16 of
        # sum y^2) could otherwise leave -1e-17 where a series does not move.
        lag0 = be.asarray(np.arange(n_lags) == 0)
        return [xp.where(lag0, 0.0, xp.clip(s1 - 2 * s2, min=0.0))]


class VACFKernel(BlockKernel):
    """VACF numerator ``sum_i sum_t w_t w_{t+s} d_t d_{t+s}``, shape (n_units, n_lags).

    Options: ``n_lags``, ``nfft``.
    """

    n_lags: int
    nfft: int

    @property
    def per_row(self) -> int:  # type: ignore[override]
        return 3 * len(self.win.groups) * self.nfft

    def __call__(self, xb: Any, be: Backend, i0: int, i1: int) -> list[Any]:
        d = be.deltas_time_last(xb)  # (b, U, T-1); no mean removed
        if not self.win.full_deltas:
            d = d * unit_windows(be, self.win.delta_mask(i0, i1), self.win.groups)[1]
        return [be.power_sum(be.rfft(d, self.nfft))]

    def finalize(self, acc: list[Any], be: Backend) -> list[Any]:
        return [be.irfft(acc[0], self.nfft)[..., : self.n_lags]]


def _time_units(be: Backend, mask: np.ndarray, groups: np.ndarray) -> Any:
    """Group masks ``(b, G, T)`` -> float64 ``(b, T, U)`` (or ``(b, T, 1)``) on the device."""
    w = np.ascontiguousarray(mask.transpose(0, 2, 1), dtype=np.float64)
    return be.asarray(w[:, :, groups] if mask.shape[1] > 1 else w)


def diff(be: Backend, xb: Any) -> Any:
    """float64 deltas ``(b, n_steps - 1, n_units)``."""
    if be.kind == "numpy":
        return np.subtract(xb[:, 1:, :], xb[:, :-1, :], dtype=np.float64)
    s = be.f64(xb)
    return s[:, 1:, :] - s[:, :-1, :]


class StepKernel(BlockKernel):
    """``sum_i w d[i, t]^2`` (``power=2``) or ``sum_i w |d[i, t]|`` (``power=1``): (T-1, U)."""

    power: int

    @property
    def per_row(self) -> int:  # type: ignore[override]
        return 2 * self.win.n_steps * len(self.win.groups)

    def __call__(self, xb: Any, be: Backend, i0: int, i1: int) -> list[Any]:
        d = diff(be, xb)
        v = d * d if self.power == 2 else be.xp.abs(d)
        if not self.win.full_deltas:
            v = v * _time_units(be, self.win.delta_mask(i0, i1), self.win.groups)
        return [be.xp.sum(v, axis=0)]


class TwoTimeKernel(BlockKernel):
    """``sum_i w d[i, t] d[i, s]`` as (U, T-1, T-1): one matrix product per unit."""

    @property
    def per_row(self) -> int:  # type: ignore[override]
        return max(self.win.n_steps * len(self.win.groups) // 8, 1)  # big blocks feed BLAS

    def __call__(self, xb: Any, be: Backend, i0: int, i1: int) -> list[Any]:
        xp = be.xp
        d = be.deltas_time_last(xb)  # (b, U, T-1)
        if not self.win.full_deltas:
            d = d * unit_windows(be, self.win.delta_mask(i0, i1), self.win.groups)[1]
        d = xp.permute_dims(d, (1, 0, 2))  # (U, b, T-1) with unit inner stride: BLAS-ready
        return [xp.matmul(xp.permute_dims(d, (0, 2, 1)), d)]


class StartKernel(BlockKernel):
    """``sum_i w (x[i, t] - x[i, 0])^2``: (T, U)."""

    @property
    def per_row(self) -> int:  # type: ignore[override]
        return 2 * self.win.n_steps * len(self.win.groups)

    def __call__(self, xb: Any, be: Backend, i0: int, i1: int) -> list[Any]:
        s = be.f64(xb)
        r = s - s[:, :1, :]
        v = r * r
        if not self.win.full_positions:
            v = v * _time_units(be, self.win.start_mask(i0, i1), self.win.groups)
        return [be.xp.sum(v, axis=0)]


# --------------------------------------------------------------------- output
def like(a: np.ndarray, ref: Any) -> Any:
    """A numpy array in ``ref``'s array type (and device)."""
    if isinstance(ref, np.ndarray):
        return a
    if is_dask(ref):
        import dask.array as da

        return da.from_array(a)
    return array_namespace(ref).asarray(a, device=getattr(ref, "device", None))


def finish(
    num: Any,
    counts: np.ndarray,
    *,
    vector: bool = False,
    return_counts: bool = False,
    post: Callable[[Any, Any], Any] | None = None,
) -> Any:
    """``num / counts`` (NaN where the count is 0), summed over units if ``vector``, then ``post``."""
    xp = array_namespace(num)
    c = like(counts, num)
    ok = c > 0
    val = xp.where(ok, num / xp.where(ok, c, 1), xp.nan)
    if vector:  # every unit shares the counts (checked by the caller)
        val = xp.sum(val, axis=-1)
        counts = counts[..., 0] if counts.shape[-1] else np.zeros(counts.shape[:-1], np.int64)
        c = like(counts, num)
    if post is not None:
        val = post(val, xp)
    return (val, c) if return_counts else val
