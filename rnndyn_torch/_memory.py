"""Memory for captured states, reused across batches.

A capture of ``c`` and the four gates writes five times as many numbers as
the module's output, and fresh memory costs the kernel a page fault and a
zeroing per page. :class:`Pool` hands the memory of an earlier batch's result
out again once nobody holds it any more (a consumer of
:func:`rnndyn.iter_capture` that drops each batch after use), which saves the
fresh memory altogether; it keeps at most :attr:`Pool.KEEP` arrays, for as
long as one capture runs. The arrays come from torch's allocator (4 kB pages)
rather than numpy's (2 MB transparent huge pages), whose cost varies more from
one call to the next; docs/performance.md has the measurements.
"""

from __future__ import annotations

import sys

import numpy as np
import torch
from torch import Tensor

__all__ = ["Pool", "new_states"]

#: dtypes whose tensors have a numpy view (bfloat16 has none)
NUMPY_DTYPES = (torch.float16, torch.float32, torch.float64)


def new_states(B: int, T: int, U: int, like: Tensor, pool: Pool | None = None) -> Tensor:
    """An uninitialised ``(B, T, U)`` tensor with ``like``'s dtype and device.

    On CPU (float16/32/64) it is taken from ``pool`` when given: a free array
    of an earlier batch if there is one of that shape.

    Examples
    --------
    >>> new_states(2, 3, 4, torch.zeros(1)).shape
    torch.Size([2, 3, 4])
    """
    if pool is None or like.device.type != "cpu" or like.dtype not in NUMPY_DTYPES:
        return like.new_empty((B, T, U))
    return torch.from_numpy(pool.take((B, T, U), like.dtype))


class Pool:
    """Keeps the arrays of the last :data:`KEEP` results and hands one out again once
    it is free.

    Free means nothing but the pool refers to it: no Trajectories, no view,
    no tensor made from it (each of those holds a reference to the array).
    ``KEEP`` is 3 because :func:`rnndyn.iter_capture` itself holds the
    first batch and, while the next one runs, the previous one; the third
    array is then free for a consumer that drops each batch.

    Examples
    --------
    >>> pool = Pool()
    >>> a = pool.take((2, 3), torch.float32)
    >>> pool.take((2, 3), torch.float32) is a  # still held here: a new one
    False
    >>> first = id(pool.take((4, 5), torch.float32))  # dropped at once
    >>> id(pool.take((4, 5), torch.float32)) == first
    True
    """

    KEEP = 3

    def __init__(self) -> None:
        self._arrays: list[np.ndarray] = []

    def take(self, shape: tuple[int, ...], dtype: torch.dtype) -> np.ndarray:
        """A free CPU array of ``shape`` and ``dtype`` (uninitialised).

        The array is the numpy view of a torch tensor: numpy views of it and
        tensors made from it with ``torch.from_numpy`` (and their views) all
        hold a reference to it.
        """
        arrays = self._arrays
        np_dtype = torch.empty(0, dtype=dtype).numpy().dtype
        for k in range(len(arrays)):
            a = arrays[k]
            # references: the list's, ``a`` and getrefcount's argument; any holder adds one
            if a.shape == shape and a.dtype == np_dtype and sys.getrefcount(arrays[k]) == 3:
                arrays.append(arrays.pop(k))  # most recently used last
                return a
            del a
        arrays.append(torch.empty(shape, dtype=dtype).numpy())
        del arrays[: -self.KEEP]
        return arrays[-1]
