"""Array backends: the few array operations the block kernels need, one class per array library.

:func:`get_backend` picks the class by the array's type: a library is looked
at only when it is already imported (in ``sys.modules``), so choosing a
backend never imports torch or dask.

* :class:`Backend` -- any array-API array, through ``array_api_compat`` (the fallback);
* :class:`NumpyBackend` -- scipy's FFT, one-pass casting copies into reused
  zero-padded work buffers, sums without temporaries, blocks on threads;
* :class:`TorchBackend` -- ``torch.fft`` on the tensor's own device, big blocks;
* :class:`DaskBackend` -- lazy arrays, whose chunks the reduction driver
  (:mod:`rnndyn._reduce`) hands to the numpy backend.

A backend is made for one array: it holds that array's namespace and device.
Its time and FFT operations return float64. This module imports nothing of
rnndyn, so every other module may ask it what an array is.
"""

from __future__ import annotations

import sys
import threading
from typing import Any, ClassVar

import numpy as np

__all__ = ["Backend", "NumpyBackend", "TorchBackend", "DaskBackend", "get_backend", "is_torch", "is_dask"]

#: float64 elements per block (b * n_units * n_steps) on numpy: 8 MB, one block per thread.
NUMPY_BLOCK_ELEMENTS = 2**20
#: float64 elements per FFT work buffer on numpy (sequences x units x nfft): 1 MB, so the
#: copy, the FFT and the power spectrum of one chunk of units stay in cache.
FFT_CHUNK_ELEMENTS = 2**17
#: float64 elements per block on other libraries: big, to keep kernel launches few.
BLOCK_ELEMENTS = 2**24
#: float64 elements per block on a CUDA device (its work arrays take a few GB).
CUDA_BLOCK_ELEMENTS = 2**27


class Backend:
    """Array operations for any array-API array; subclasses override what their library does better.

    ``threaded``: blocks may run on a pool of threads (the library releases
    the GIL); ``lazy``: arrays are computed later, chunk by chunk.
    """

    threaded: ClassVar[bool] = False
    lazy: ClassVar[bool] = False

    def __init__(self, like: Any, fft_workers: int = -1) -> None:
        import array_api_compat

        self.xp = array_api_compat.array_namespace(like)
        self.device = getattr(like, "device", None)
        self.fft_workers = fft_workers

    @classmethod
    def is_appropriate_type(cls, x: Any) -> bool:
        """Whether ``x`` is an array of this backend's library; never imports that library."""
        return True

    @property
    def block_elements(self) -> int:
        """float64 elements per block of sequences."""
        return BLOCK_ELEMENTS

    def rows(self, per_row: int) -> int:
        """Sequences per block, for ``per_row`` float64 elements per sequence."""
        return max(1, self.block_elements // max(per_row, 1))

    # conversion
    def asarray(self, a: np.ndarray) -> Any:
        """A numpy array as this library's array, on its device."""
        return self.xp.asarray(a, device=self.device)

    def zeros(self, shape: tuple[int, ...]) -> Any:
        return self.xp.zeros(shape, dtype=self.xp.float64, device=self.device)

    def f64(self, a: Any) -> Any:
        return self.xp.astype(a, self.xp.float64) if a.dtype != self.xp.float64 else a

    def nan_outside(self, a: Any, mask: np.ndarray) -> Any:
        """``a`` where the numpy boolean ``mask`` (of ``a``'s shape) is true, NaN elsewhere."""
        return self.xp.where(self.asarray(mask), a, self.xp.nan)

    def take(self, a: Any, index: np.ndarray, axis: int) -> Any:
        """``a`` at the integer ``index`` (numpy) along ``axis``."""
        return self.xp.take(a, self.asarray(index), axis=axis)

    # differences along time (axis 1 of a block (b, n_steps, n_units)), float64
    def _minus(self, xb: Any, a: slice, b: slice) -> Any:
        s = self.f64(xb)
        return s[:, a, :] - s[:, b, :]

    def step_deltas(self, xb: Any) -> Any:
        """Deltas ``x[:, t+1] - x[:, t]``, shape ``(b, n_steps - 1, n_units)``."""
        return self._minus(xb, slice(1, None), slice(None, -1))

    def from_first(self, xb: Any) -> Any:
        """Displacements ``x[:, t] - x[:, 0]``, shape ``(b, n_steps, n_units)``."""
        return self._minus(xb, slice(None), slice(0, 1))

    # time on the last axis: (b, n_steps, n_units) -> float64 (b, n_units, ...)
    def time_last(self, xb: Any) -> Any:
        """float64 ``(b, n_units, n_steps)``."""
        return self.xp.permute_dims(self.f64(xb), (0, 2, 1))

    def centered_time_last(self, xb: Any, pad: int | None = None) -> Any:
        """Like :meth:`time_last`, minus each series' mean over time.

        With ``pad`` a backend may return a ``(b, n_units, pad)`` zero-padded
        buffer holding the series in its first ``n_steps`` columns.
        """
        y = self.time_last(xb)
        return y - self.xp.mean(y, axis=-1, keepdims=True)

    def deltas_time_last(self, xb: Any, pad: int | None = None) -> Any:
        """float64 deltas ``(b, n_units, n_steps - 1)``; ``pad`` as in :meth:`centered_time_last`."""
        y = self.time_last(xb)
        return y[..., 1:] - y[..., :-1]

    def unit_chunks(self, n_units: int, b: int, nfft: int) -> list[slice]:
        """Chunks of units to transform together, for ``b`` sequences of FFT length ``nfft``."""
        return [slice(0, n_units)]

    # FFT along the last axis and sums over the first
    def _fft(self, name: str, a: Any, n: int) -> Any:
        return getattr(self.xp.fft, name)(a, n=n, axis=-1)

    def rfft(self, a: Any, n: int) -> Any:
        return self._fft("rfft", a, n)

    def irfft(self, a: Any, n: int) -> Any:
        return self._fft("irfft", a, n)

    def power_sum(self, Y: Any) -> Any:
        """``sum_i |Y[i]|^2`` over the first axis."""
        xp = self.xp
        return xp.sum(xp.real(Y) ** 2 + xp.imag(Y) ** 2, axis=0)

    def add_power(self, acc: Any, Y: Any) -> None:
        """``acc += sum_i |Y[i]|^2`` in place (``Y`` may be overwritten)."""
        acc += self.power_sum(Y)

    def cross_sum(self, W: Any, Q: Any) -> Any:
        """``sum_i Re(conj(W[i]) Q[i])`` over the first axis (broadcasting ``W``)."""
        xp = self.xp
        return xp.sum(xp.real(W) * xp.real(Q) + xp.imag(W) * xp.imag(Q), axis=0)

    def sum_power(self, v: Any, power: int) -> Any:
        """``sum_i v[i]^2`` (``power=2``) or ``sum_i |v[i]|`` (``power=1``) over the first axis.

        ``v`` is 3-d and may be overwritten.
        """
        return self.xp.sum(v * v if power == 2 else self.xp.abs(v), axis=0)


def _tiles(n_units: int, n_time: int, tile: int = 128) -> list[tuple[slice, slice]]:
    """Tiles for a cache-friendly transposing copy (one tile when time is short)."""
    if n_time <= tile:
        return [(slice(0, n_units), slice(0, n_time))]
    return [
        (slice(u, u + tile), slice(t, min(t + tile, n_time)))
        for u in range(0, n_units, tile)
        for t in range(0, n_time, tile)
    ]


class NumpyBackend(Backend):
    """numpy arrays: scipy's FFT; casts, transposes and differences in one pass into work buffers."""

    threaded = True

    def __init__(self, like: Any, fft_workers: int = -1) -> None:
        super().__init__(like, fft_workers)
        self._local = threading.local()

    @classmethod
    def is_appropriate_type(cls, x: Any) -> bool:
        return isinstance(x, np.ndarray)

    @property
    def block_elements(self) -> int:
        return NUMPY_BLOCK_ELEMENTS

    def asarray(self, a: np.ndarray) -> Any:
        return a

    def zeros(self, shape: tuple[int, ...]) -> Any:
        return np.zeros(shape)

    def _minus(self, xb: Any, a: slice, b: slice) -> Any:
        return np.subtract(xb[:, a, :], xb[:, b, :], dtype=np.float64)

    def time_last(self, xb: Any) -> Any:
        out = np.empty((xb.shape[0], xb.shape[2], xb.shape[1]), dtype=np.float64)
        src = xb.transpose(0, 2, 1)
        for us, ts in _tiles(xb.shape[2], xb.shape[1]):
            out[:, us, ts] = src[:, us, ts]
        return out

    def padded(self, name: str, shape: tuple[int, int, int]) -> np.ndarray:
        """A zeroed float64 work buffer of this thread, reused across blocks.

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
        # one pass from the input: cast, transpose, subtract
        mean = np.mean(xb, axis=1, dtype=np.float64)[:, :, None]
        b, T, U = xb.shape
        out = self.padded("centered", (b, U, pad)) if pad else np.empty((b, U, T))
        src = xb.transpose(0, 2, 1)
        for us, ts in _tiles(U, T):
            np.subtract(src[:, us, ts], mean[:, us], out=out[:, us, ts], dtype=np.float64)
        return out

    def deltas_time_last(self, xb: Any, pad: int | None = None) -> Any:
        b, T, U = xb.shape
        T1 = max(T - 1, 0)
        d = self.padded("deltas", (b, U, pad)) if pad else np.empty((b, U, T1))
        src = xb.transpose(0, 2, 1)
        for us, ts in _tiles(U, T1):
            nxt = slice(ts.start + 1, ts.stop + 1)
            np.subtract(src[:, us, nxt], src[:, us, ts], out=d[:, us, ts], dtype=np.float64)
        return d

    def unit_chunks(self, n_units: int, b: int, nfft: int) -> list[slice]:
        step = max(1, FFT_CHUNK_ELEMENTS // max(b * nfft, 1))
        return [slice(u, min(u + step, n_units)) for u in range(0, max(n_units, 1), step)]

    def _fft(self, name: str, a: Any, n: int) -> Any:
        import scipy.fft  # lazily: importing it costs ~0.2 s

        return getattr(scipy.fft, name)(a, n=n, axis=-1, workers=self.fft_workers)

    def add_power(self, acc: Any, Y: Any) -> None:
        v = Y.view(np.float64)  # (b, ..., 2 * n_freq): real, imag interleaved
        np.multiply(v, v, out=v)
        s = v.sum(axis=0) if v.shape[0] != 1 else v[0]
        acc += s[..., 0::2]
        acc += s[..., 1::2]

    def sum_power(self, v: Any, power: int) -> Any:
        if power == 2:
            return np.einsum("iab,iab->ab", v, v)
        return np.abs(v, out=v).sum(axis=0)


class TorchBackend(Backend):
    """torch tensors, on their own device: ``torch.fft``; contiguous time-last copies."""

    @classmethod
    def is_appropriate_type(cls, x: Any) -> bool:
        torch = sys.modules.get("torch")
        return torch is not None and isinstance(x, torch.Tensor)

    @property
    def block_elements(self) -> int:
        return CUDA_BLOCK_ELEMENTS if self.device.type == "cuda" else BLOCK_ELEMENTS

    def time_last(self, xb: Any) -> Any:
        return super().time_last(xb).contiguous()

    def _fft(self, name: str, a: Any, n: int) -> Any:
        return getattr(sys.modules["torch"].fft, name)(a, n=n, dim=-1)


class DaskBackend(Backend):
    """dask arrays: lazy; computed chunk by chunk (see :mod:`rnndyn._reduce`)."""

    lazy = True

    @classmethod
    def is_appropriate_type(cls, x: Any) -> bool:
        da = sys.modules.get("dask.array")
        return da is not None and isinstance(x, da.Array)

    def asarray(self, a: np.ndarray) -> Any:
        return sys.modules["dask.array"].from_array(a)

    def step_deltas(self, xb: Any) -> Any:
        return sys.modules["dask.array"].diff(xb.astype(np.float64), axis=1)

    def nan_outside(self, a: Any, mask: np.ndarray) -> Any:
        da = sys.modules["dask.array"]
        return da.where(da.from_array(mask, chunks=a.chunks), a, np.nan)


#: the backends tried in turn; :class:`Backend` serves any other array
BACKENDS: tuple[type[Backend], ...] = (NumpyBackend, TorchBackend, DaskBackend)
_type2backend: dict[type, type[Backend]] = {}


def get_backend(x: Any, fft_workers: int = -1) -> Backend:
    """The backend for array ``x``, chosen by its type (``fft_workers``: threads per numpy FFT).

    Examples
    --------
    >>> import numpy as np
    >>> type(get_backend(np.zeros(3))).__name__
    'NumpyBackend'
    """
    cls = _type2backend.get(type(x))
    if cls is None:
        candidates = (b for b in BACKENDS if b.is_appropriate_type(x))
        cls = _type2backend[type(x)] = next(candidates, Backend)
    return cls(x, fft_workers)


def is_torch(x: Any) -> bool:
    """``x`` is a torch tensor (never imports torch)."""
    return TorchBackend.is_appropriate_type(x)


def is_dask(x: Any) -> bool:
    """``x`` is a dask array (never imports dask)."""
    return DaskBackend.is_appropriate_type(x)
