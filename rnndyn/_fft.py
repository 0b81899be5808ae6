"""Array backends, blocked reductions over sequences, and the block kernels.

Every averaged metric is ``sum over sequences of a per-sequence numerator``
divided by an exact integer pair count (from :mod:`rnndyn._regions`). This
module computes the numerators: a *kernel* adds the partial sums of one block
of sequences to accumulators, and :func:`reduce_sequences` walks the blocks:

* numpy: blocks of ~8 MB on a pool of threads (one per core); inside a block
  the FFT kernels work on cache-sized chunks of units, copying each into a
  reused zero-padded float64 buffer with time on the last axis;
* torch: big blocks on the tensor's own device (``torch.fft``);
* dask: one delayed task per chunk of sequences, each running the numpy path.

The MSD and VACF kernels use the fast correlation algorithm in float64 with
the sum over sequences taken in the frequency domain, so each series costs
one real FFT (two with a region window) and each unit one inverse FFT.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
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
    "reduce_sequences",
    "check_chunk",
    "unit_windows",
    "fft_length",
]

#: float64 elements per numpy block (b * n_units * n_steps): 8 MB.
NUMPY_BLOCK_ELEMENTS = 2**20
#: float64 elements per FFT work buffer on the numpy path (sequences x units x nfft): 1 MB,
#: so the copy, the FFT and the power spectrum of one chunk stay in cache.
FFT_CHUNK_ELEMENTS = 2**17
#: float64 elements per torch block: big, to keep kernel launches few (a CUDA block of
#: 2**27 elements needs a few GB of device memory for its work arrays).
TORCH_BLOCK_ELEMENTS = 2**24
CUDA_BLOCK_ELEMENTS = 2**27


def fft_length(n: int, max_lag: int) -> int:
    """Smallest fast FFT length with no wrap-around for lags ``0..max_lag`` of length ``n``."""
    import scipy.fft  # lazily: importing it costs ~0.2 s

    return scipy.fft.next_fast_len(max(n + max_lag, 1), real=True)


def is_dask(x: Any) -> bool:
    return type(x).__module__.startswith("dask")


def is_torch(x: Any) -> bool:
    return type(x).__module__.startswith("torch")


def _tiles(n_units: int, n_time: int, tile: int = 128) -> list[tuple[slice, slice]]:
    """Tiles for a cache-friendly transposing copy (one tile when time is short)."""
    if n_time <= tile:
        return [(slice(0, n_units), slice(0, n_time))]
    return [
        (slice(u, u + tile), slice(t, min(t + tile, n_time)))
        for u in range(0, n_units, tile)
        for t in range(0, n_time, tile)
    ]


class Backend:
    """The few array operations the kernels need, for one array library."""

    def __init__(self, like: Any, fft_workers: int = -1) -> None:
        self.fft_workers = fft_workers
        self._local = threading.local()
        self.kind = "numpy" if isinstance(like, np.ndarray) else "torch" if is_torch(like) else "other"
        self.xp = array_namespace(like)
        self.device = None if self.kind == "numpy" else getattr(like, "device", None)
        on_gpu = getattr(self.device, "type", "cpu") == "cuda"
        self.block_elements = (
            NUMPY_BLOCK_ELEMENTS
            if self.kind == "numpy"
            else CUDA_BLOCK_ELEMENTS
            if on_gpu
            else TORCH_BLOCK_ELEMENTS
        )

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
            src = xb.transpose(0, 2, 1)
            for us, ts in _tiles(xb.shape[2], xb.shape[1]):
                out[:, us, ts] = src[:, us, ts]
            return out
        y = self.xp.permute_dims(self.f64(xb), (0, 2, 1))
        return y.contiguous() if self.kind == "torch" else y

    def padded(self, name: str, shape: tuple[int, int, int]) -> np.ndarray:
        """A zeroed float64 work buffer of this thread, reused across blocks (numpy).

        Callers write only the first ``n_steps`` entries of the last axis, so
        the zero padding FFTs need stays zero and is never rewritten.
        """
        cache = self._local.__dict__
        key = (name, *shape[1:])
        buf = cache.get(key)
        if buf is None or buf.shape[0] < shape[0]:
            buf = cache[key] = np.zeros(shape)
        return buf[: shape[0]]

    def centered_time_last(self, xb: Any, pad: int | None = None) -> Any:
        """Like :meth:`time_last`, minus each series' mean over time.

        numpy with ``pad``: the ``(b, n_units, pad)`` zero-padded work buffer
        holding it in its first ``n_steps`` columns.
        """
        if self.kind == "numpy":  # one pass from the input: cast, transpose, subtract
            mean = np.mean(xb, axis=1, dtype=np.float64)[:, :, None]
            b, T, U = xb.shape
            out = self.padded("centered", (b, U, pad)) if pad else np.empty((b, U, T))
            src = xb.transpose(0, 2, 1)
            for us, ts in _tiles(U, T):
                np.subtract(src[:, us, ts], mean[:, us], out=out[:, us, ts], dtype=np.float64)
            return out
        y = self.time_last(xb)
        return y - self.xp.mean(y, axis=-1, keepdims=True)

    def deltas_time_last(self, xb: Any, pad: int | None = None) -> Any:
        """``(b, n_steps, n_units)`` -> float64 deltas ``(b, n_units, n_steps - 1)``.

        Contiguous; numpy with ``pad``: the zero-padded work buffer, as above.
        """
        if self.kind == "numpy":  # one pass from the input
            b, T, U = xb.shape
            T1 = max(T - 1, 0)
            d = self.padded("deltas", (b, U, pad)) if pad else np.empty((b, U, T1))
            src = xb.transpose(0, 2, 1)
            for us, ts in _tiles(U, T1):
                nxt = slice(ts.start + 1, ts.stop + 1)
                np.subtract(src[:, us, nxt], src[:, us, ts], out=d[:, us, ts], dtype=np.float64)
            return d
        y = self.time_last(xb)
        return y[..., 1:] - y[..., :-1]

    # FFT along the last axis
    def _fft(self, name: str, a: Any, n: int) -> Any:
        if self.kind == "numpy":
            import scipy.fft

            return getattr(scipy.fft, name)(a, n=n, axis=-1, workers=self.fft_workers)
        if self.kind == "torch":
            import torch

            return getattr(torch.fft, name)(a, n=n, dim=-1)
        return getattr(self.xp.fft, name)(a, n=n, axis=-1)

    def rfft(self, a: Any, n: int) -> Any:
        return self._fft("rfft", a, n)

    def irfft(self, a: Any, n: int) -> Any:
        return self._fft("irfft", a, n)

    def power_sum(self, Y: Any) -> Any:
        """``sum_i |Y[i]|^2`` over the first axis."""
        xp = self.xp
        return xp.sum(xp.real(Y) ** 2 + xp.imag(Y) ** 2, axis=0)

    def cross_sum(self, W: Any, Q: Any) -> Any:
        """``sum_i Re(conj(W[i]) Q[i])`` over the first axis (broadcasting ``W``)."""
        xp = self.xp
        return xp.sum(xp.real(W) * xp.real(Q) + xp.imag(W) * xp.imag(Q), axis=0)

    def zeros(self, shape: tuple[int, ...]) -> Any:
        if self.kind == "numpy":
            return np.zeros(shape)
        return self.xp.zeros(shape, dtype=self.xp.float64, device=self.device)

    def rows(self, per_row: int) -> int:
        """Sequences per block, for ``per_row`` float64 elements per sequence."""
        return max(1, self.block_elements // max(per_row, 1))


# --------------------------------------------------------------------- driver
def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def _reduce_local(x: Any, kernel: BlockKernel, offset: int = 0, threads: int | None = None) -> list[Any]:
    """Sum ``kernel`` over blocks of the sequences of a numpy/torch array, then finalize.

    numpy blocks run on a pool of threads (one per core; numpy and scipy release
    the GIL), each FFT single-threaded. Thread ``k`` always takes blocks ``k,
    k + threads, ...`` into its own accumulators, which are added in thread
    order: the result does not depend on thread timing.
    """
    be = Backend(x)
    n, T, U = (int(s) for s in x.shape)
    b = be.rows(kernel.per_row)
    starts = list(range(0, n, b))
    threads = max(1, min(_cores() if threads is None else threads, len(starts)))
    if be.kind != "numpy":
        threads = 1

    def run(k: int, be: Backend) -> list[Any]:
        acc = [be.zeros(shape) for shape in kernel.shapes(T, U)]
        # errstate is per thread; overflow shows as a non-finite result, which the
        # metrics check (and redo on rescaled states), so numpy need not warn
        with np.errstate(over="ignore", invalid="ignore"):
            for i0 in starts[k::threads]:
                i1 = min(i0 + b, n)
                kernel.add(x[i0:i1], be, offset + i0, offset + i1, acc)
        return acc

    if threads == 1:
        acc = run(0, be)
    else:
        tbe = Backend(x, fft_workers=1)
        with ThreadPoolExecutor(threads) as pool:
            accs = list(pool.map(lambda k: run(k, tbe), range(threads)))
        acc = accs[0]
        for other in accs[1:]:
            for a, o in zip(acc, other, strict=True):
                a += o
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
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is reported by the metric
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


def unit_chunks(n_units: int, b: int, nfft: int) -> list[slice]:
    """Cache-sized chunks of units for ``b`` sequences of FFT length ``nfft`` (numpy path)."""
    step = max(1, FFT_CHUNK_ELEMENTS // max(b * nfft, 1))
    return [slice(u, min(u + step, n_units)) for u in range(0, max(n_units, 1), step)]


def add_power(acc: np.ndarray, Y: np.ndarray) -> None:
    """``acc += sum_i |Y[i]|^2`` in place (numpy; ``Y`` is overwritten)."""
    v = Y.view(np.float64)  # (b, ..., 2 * n_freq): real, imag interleaved
    np.multiply(v, v, out=v)
    s = v.sum(axis=0) if v.shape[0] != 1 else v[0]
    acc += s[..., 0::2]
    acc += s[..., 1::2]


class BlockKernel:
    """Accumulates per-block partial sums; ``finalize`` turns their total into numerators.

    ``shapes(n_steps, n_units)`` are the accumulators' shapes; ``per_row`` the
    float64 working memory per sequence, which sets the block size.
    """

    per_row: int = 1

    def __init__(self, win: Any, **options: Any) -> None:
        self.win = win
        self.__dict__.update(options)

    def shapes(self, T: int, U: int) -> list[tuple[int, ...]]:
        raise NotImplementedError

    def __call__(self, xb: Any, be: Backend, i0: int, i1: int) -> list[Any]:
        """The partial sums of one block."""
        raise NotImplementedError

    def add(self, xb: Any, be: Backend, i0: int, i1: int, acc: list[Any]) -> None:
        """Add one block's partial sums to ``acc`` in place."""
        for a, p in zip(acc, self(xb, be, i0, i1), strict=True):
            a += p

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

    def shapes(self, T: int, U: int) -> list[tuple[int, ...]]:
        nf = self.nfft // 2 + 1
        return [(U, nf), (U, T) if self.win.full_positions else (U, nf)]

    def add(self, xb: Any, be: Backend, i0: int, i1: int, acc: list[Any]) -> None:
        if not (self.win.full_positions and be.kind == "numpy"):
            return super().add(xb, be, i0, i1, acc)
        T = xb.shape[1]
        for us in unit_chunks(xb.shape[2], xb.shape[0], self.nfft):
            buf = be.centered_time_last(xb[:, :, us], pad=self.nfft)  # FFT the padded buffer
            y = buf[..., :T]
            add_power(acc[0][us], be.rfft(buf, self.nfft))
            acc[1][us] += np.einsum("iut,iut->ut", y, y)

    def __call__(self, xb: Any, be: Backend, i0: int, i1: int) -> list[Any]:
        xp, nfft = be.xp, self.nfft
        if self.win.full_positions:
            y = be.centered_time_last(xb)  # (b, U, T)
            return [be.power_sum(be.rfft(y, nfft)), xp.sum(y * y, axis=0)]
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

    def shapes(self, T: int, U: int) -> list[tuple[int, ...]]:
        return [(U, self.nfft // 2 + 1)]

    def add(self, xb: Any, be: Backend, i0: int, i1: int, acc: list[Any]) -> None:
        if not (self.win.full_deltas and be.kind == "numpy"):
            return super().add(xb, be, i0, i1, acc)
        for us in unit_chunks(xb.shape[2], xb.shape[0], self.nfft):
            buf = be.deltas_time_last(xb[:, :, us], pad=self.nfft)  # FFT the padded buffer
            add_power(acc[0][us], be.rfft(buf, self.nfft))

    def __call__(self, xb: Any, be: Backend, i0: int, i1: int) -> list[Any]:
        d = be.deltas_time_last(xb)  # (b, U, T-1); no mean removed
        if not self.win.full_deltas:
            d = d * unit_windows(be, self.win.delta_mask(i0, i1), self.win.groups)[1]
        return [be.power_sum(be.rfft(d, self.nfft))]

    def finalize(self, acc: list[Any], be: Backend) -> list[Any]:
        return [be.irfft(acc[0], self.nfft)[..., : self.n_lags]]
