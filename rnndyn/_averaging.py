"""Averages by pair counts that neither overflow nor underflow float64.

:func:`averaged` divides a metric's numerator by its exact integer counts
(:func:`rnndyn._regions.finish`). Squares of values beyond ~1e154 overflow
float64 and squares of values below ~1e-150 underflow it; so when a first
result is not finite (or a unit's numerator is zero while its states are
that small), it is recomputed on the states scaled per unit by a power of
two (exact) and scaled back. A result that is itself beyond float64 raises.
Lazy (dask) arrays are not rescaled: their blocks raise when computed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ._backends import get_backend
from ._regions import finish
from ._validation import array_namespace, to_numpy
from .errors import RnndynError

__all__ = ["averaged", "moments", "from_moments", "all_finite", "no_inf_block", "FLOAT_MAX"]

FLOAT_MAX = float(np.finfo(np.float64).max)


def all_finite(v: Any) -> bool:
    xp = array_namespace(v)
    return bool(xp.all(xp.isfinite(v)))


def _any_inf(v: Any) -> bool:
    xp = array_namespace(v)
    return bool(xp.any(xp.isinf(v)))


def _unit_max(states: Any, units: np.ndarray | None = None) -> np.ndarray:
    """``max |x[:, :, u]|`` per unit (of the given units only), as float64 numpy."""
    be = get_backend(states)
    if units is not None:
        states = be.take(states, units, axis=2)
    # exact in the states' own dtype (no float64 copy of the whole array): |x| and max do not round
    return np.asarray(to_numpy(be.xp.max(be.xp.abs(states), axis=(0, 1))), dtype=np.float64)


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
    be = get_backend(states)
    half = -k // 2  # two factors: 2**1074 (subnormal states) is beyond float64, its halves are not
    return be.f64(states) * be.asarray(np.ldexp(1.0, half)) * be.asarray(np.ldexp(1.0, -k - half))


def _overflow_error(fname: str, k: np.ndarray, power: int) -> RnndynError:
    kmax = int(k.max()) if k.size else 0
    return RnndynError(
        f"{fname}(): the result overflows float64: its true value exceeds {FLOAT_MAX:.3g} (the states "
        f"reach ~2**{kmax + 1}). Rescale the states first, e.g. x / 2**{kmax}, and multiply the result "
        f"by 2**{power * kmax} in a wider type (Python ints, decimal) if you need it."
    )


def no_inf_block(block: np.ndarray, fname: str) -> np.ndarray:
    """One computed dask block of a result, or an error if it overflowed."""
    if np.any(np.isinf(block)):
        raise RnndynError(
            f"{fname}(): the result overflows float64 (values beyond {FLOAT_MAX:.3g}). On dask arrays "
            "rnndyn does not rescale: compute the states into numpy (x.compute()) for the "
            "overflow-safe path, or divide them by a power of two first."
        )
    return block


def _sqrt(v: Any, xp: Any) -> Any:
    return xp.sqrt(v)


def _normalize(v: Any, xp: Any) -> Any:
    c0 = v[0:1, ...]
    ok = c0 != 0
    return xp.where(ok, v / xp.where(ok, c0, 1.0), xp.nan)


def averaged(
    states: Any,
    numerator: Callable[[Any], Any],
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
    if get_backend(states).lazy:
        out = finish(numerator(states), counts, vector=vector, return_counts=return_counts, post=posts[post])
        if return_counts:
            return out[0].map_blocks(no_inf_block, fname, dtype=np.float64), out[1]
        return out.map_blocks(no_inf_block, fname, dtype=np.float64)
    num, k = moments(states, numerator)
    if not k.any():
        with np.errstate(over="ignore", invalid="ignore"):
            out = finish(num, counts, vector=vector, return_counts=return_counts, post=posts[post])
        if not _any_inf(out[0] if return_counts else out):
            return out
        k = _unit_exponents(states)  # a sum over units overflowed: scale after all
        with np.errstate(over="ignore", invalid="ignore"):
            num = numerator(_scaled(states, k))
    return from_moments(
        num, k, counts, fname, power=power, vector=vector, return_counts=return_counts, post=post
    )


def moments(states: Any, numerator: Callable[[Any], Any]) -> tuple[Any, np.ndarray]:
    """``(num, k)``: the numerator of ``states / 2**k`` per unit, ``k`` 0 unless squares over/underflow.

    What a streaming accumulator keeps per batch: numerators of different
    ``k`` add exactly once brought to a common ``k`` (a power of two).
    """
    with np.errstate(over="ignore", invalid="ignore"):
        num = numerator(states)
        if all_finite(num) and not _underflows(states, num):
            return num, np.zeros(int(states.shape[-1]), np.int64)
        k = _unit_exponents(states)
        return numerator(_scaled(states, k)), k


def from_moments(
    num: Any,
    k: np.ndarray,
    counts: np.ndarray,
    fname: str,
    *,
    power: int = 2,
    vector: bool = False,
    return_counts: bool = False,
    post: str | None = None,
) -> Any:
    """The average of a numerator of states scaled by ``2**-k`` per unit, scaled back.

    Raises when the result itself is beyond float64.
    """
    be = get_backend(num)
    kk: Any = k
    with np.errstate(over="ignore", invalid="ignore"):
        if vector:  # one common scale for the sum over units
            kk = int(k.max()) if k.size else 0
            num = num * be.asarray(np.ldexp(1.0, power * (k - kk)))
        val, c = finish(num, counts, vector=vector, return_counts=True)
        factor = be.asarray(np.asarray(np.ldexp(1.0, kk), dtype=np.float64))
        if post == "normalize":  # a ratio: the scale cancels
            val = _normalize(val, be.xp)
        elif post == "sqrt":  # sqrt(mean (d / 2**k)^2) * 2**k
            val = be.xp.sqrt(val) * factor
        else:
            for _ in range(power):
                val = val * factor
    if _any_inf(val):
        raise _overflow_error(fname, k, power)
    return (val, c) if return_counts else val
