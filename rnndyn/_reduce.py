"""The reduction driver: sum a block kernel over all sequences of an array.

Every averaged metric is ``sum over sequences of a per-sequence numerator``
divided by an exact integer pair count (from :mod:`rnndyn._regions`). A
kernel (:mod:`rnndyn._kernels`) adds the partial sums of one block of
sequences to accumulators; :func:`reduce_sequences` walks the blocks:

* numpy: blocks of ~8 MB on a pool of threads (one per core), each FFT
  single-threaded; the result does not depend on thread timing;
* torch and other array libraries: big blocks, one after the other, on the
  array's own device;
* dask: one delayed task per chunk of sequences, each running the numpy path.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np

from ._backends import Backend, get_backend
from ._validation import check_finite

if TYPE_CHECKING:
    from ._kernels import BlockKernel

__all__ = ["reduce_sequences", "checked_block"]


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def _reduce_local(x: Any, kernel: BlockKernel, offset: int = 0, threads: int | None = None) -> list[Any]:
    """Sum ``kernel`` over blocks of the sequences of an in-memory array, then finalize.

    On a threaded backend (numpy and scipy release the GIL) the blocks run on
    a pool of threads; thread ``k`` always takes blocks ``k, k + threads, ...``
    into its own accumulators, which are added in thread order.
    """
    be = get_backend(x)
    n, T, U = (int(s) for s in x.shape)
    b = be.rows(kernel.per_row)
    starts = list(range(0, n, b))
    threads = max(1, min(_cores() if threads is None else threads, len(starts)))
    if not be.threaded:
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
        tbe = get_backend(x, fft_workers=1)
        with ThreadPoolExecutor(threads) as pool:
            accs = list(pool.map(lambda k: run(k, tbe), range(threads)))
        acc = accs[0]
        for other in accs[1:]:
            for a, o in zip(acc, other, strict=True):
                a += o
    return kernel.finalize(acc, be)


def checked_block(block: np.ndarray, block_info: Any = None) -> np.ndarray:
    """Validate one dask chunk (finite values), naming global positions (for ``map_blocks``)."""
    loc = block_info[0]["array-location"] if block_info else [(0, 0)] * 3
    check_finite(np.asarray(block), "x", start=(int(loc[0][0]), int(loc[1][0]), int(loc[2][0])))
    return block


def _dask_part(chunk: Any, kernel: BlockKernel, offset: int, name: str) -> tuple:
    chunk = np.asarray(chunk)
    check_finite(chunk, name, start=(offset, 0, 0))
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is reported by the metric
        return tuple(np.asarray(p) for p in _reduce_local(chunk, kernel, offset, threads=1))


def _reduce_lazy(x: Any, kernel: BlockKernel, shapes: Sequence[tuple[int, ...]], name: str) -> list[Any]:
    """One delayed numpy reduction per chunk of sequences of a dask array, summed lazily."""
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


def reduce_sequences(
    x: Any, kernel: BlockKernel, shapes: Sequence[tuple[int, ...]], name: str = "x"
) -> list[Any]:
    """Sum ``kernel`` over all sequences of ``x``: the finalized totals, of the given ``shapes``.

    In-memory arrays (numpy, torch, ...) are walked block by block; a lazy
    (dask) array becomes one delayed numpy task per chunk of sequences (time
    and units one chunk), and the result is a list of lazy dask arrays.
    """
    if get_backend(x).lazy:
        return _reduce_lazy(x, kernel, shapes, name)
    return _reduce_local(x, kernel)
