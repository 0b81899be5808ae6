"""Each averaged metric as a :class:`Plan`: its checked states, block kernel, pair counts and finish.

:mod:`rnndyn.metrics` runs a plan at once; :class:`rnndyn.stream.Accumulator`
keeps a plan's numerator and counts per batch and adds them: one
implementation of every formula for both.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ._averaging import averaged, moments
from ._backends import get_backend
from ._kernels import BlockKernel, MSDKernel, StartKernel, StepKernel, TwoTimeKernel, VACFKernel, fft_length
from ._reduce import reduce_sequences
from ._regions import Windows, setup
from ._validation import array_namespace, check_max_lag
from .errors import RnndynError

__all__ = ["Plan", "run", "PLANS"]


@dataclass(frozen=True)
class Plan:
    """One metric, ready to run: its states, kernel, pair counts and how to finish the average.

    The in-memory metrics run a plan at once (:func:`run`); a streaming
    :class:`rnndyn.stream.Accumulator` keeps a plan's numerator and counts
    per batch and adds them (the same kernels, the same finish).
    """

    states: Any
    kernel: BlockKernel
    shape: tuple[int, ...]
    counts: np.ndarray
    fname: str
    axes: tuple[int, ...] | None = None
    power: int = 2
    post: str | None = None
    vector: bool = False
    return_counts: bool = False
    count: Callable[[Windows], np.ndarray] | None = None  # the counts of some windows (e.g. one row's)

    def numerator(self, states: Any) -> Any:
        """The kernel's numerator of ``states`` (units on the last axis)."""
        num = reduce_sequences(states, self.kernel, [self.shape])[0]
        return self._permuted(num)

    def zero_numerator(self) -> Any:
        """A numerator of zeros (a region without pairs), as :meth:`numerator` would shape it."""
        return self._permuted(get_backend(self.states).zeros(self.shape))

    def _permuted(self, num: Any) -> Any:
        return num if self.axes is None else array_namespace(num).permute_dims(num, self.axes)

    def rows(self) -> tuple[Any, np.ndarray, np.ndarray]:
        """``(num, k, counts)`` of every row of the states alone, rows first.

        Computed in one pass: row ``r``'s unit ``u`` becomes unit ``r * U + u``
        of a single sequence whose windows are the rows' (each row, group
        pair a group of its own), so every kernel gives per-row numerators
        and the counts functions per-row counts. ``k`` is ``(rows, U)``.
        """
        win = self.kernel.win
        R, T, U = (int(s) for s in self.states.shape)
        G = win.n_groups
        be = get_backend(self.states)
        flat = be.xp.reshape(be.xp.permute_dims(self.states, (1, 0, 2)), (1, T, R * U))
        groups = (np.arange(R)[:, None] * G + win.groups[None, :]).reshape(-1)
        dmask = None if win.dmask is None else win.dmask.reshape(1, R * G, -1)
        one = Windows(T, groups, *(a.reshape(1, R * G) for a in (win.dstart, win.dcount, win.pcount)), dmask)
        kernel = copy.copy(self.kernel)
        kernel.win = one
        shape = tuple(R * U if s == U and i == self._unit_axis() else s for i, s in enumerate(self.shape))
        plan = replace(self, states=flat, kernel=kernel, shape=shape)
        num, k = moments(flat, plan.numerator)  # (..., R * U)
        counts = np.asarray(self.count(one) if self.count is not None else (), np.int64)
        split = (*num.shape[:-1], R, U)
        num = be.xp.moveaxis(be.xp.reshape(num, split), -2, 0)
        counts = np.moveaxis(counts.reshape(*counts.shape[:-1], R, U), -2, 0)
        return num, k.reshape(R, U), counts

    def _unit_axis(self) -> int:
        """The axis of ``shape`` that holds the units (before ``axes`` permutes it last)."""
        return 0 if self.axes is not None else len(self.shape) - 1


def run(plan: Plan) -> Any:
    """The metric's value: the numerator averaged by the counts, overflow-safe (:func:`averaged`)."""
    opts = {
        "power": plan.power,
        "vector": plan.vector,
        "return_counts": plan.return_counts,
        "post": plan.post,
    }
    return averaged(plan.states, plan.numerator, plan.counts, plan.fname, **opts)


def _plan_rms_delta(
    x: Any, *, region: str = "all", lengths: Any = None, return_counts: bool = False, vector: bool = False
) -> Plan:
    states, win, T = setup(x, lengths, region, "rms_delta", 2, vector, flags={"return_counts": return_counts})
    U = int(states.shape[2])
    kernel = StepKernel(win, power=2)
    opts = {"vector": vector, "return_counts": return_counts, "post": "sqrt"}
    return Plan(states, kernel, (T - 1, U), win.step_counts(), "rms_delta", **opts, count=Windows.step_counts)


def _plan_mean_abs_delta(
    x: Any, *, region: str = "all", lengths: Any = None, return_counts: bool = False, vector: bool = False
) -> Plan:
    if vector:
        raise RnndynError("mean_abs_delta() has no vector form: |d| of a vector is not a sum over units.")
    states, win, T = setup(x, lengths, region, "mean_abs_delta", 2, flags={"return_counts": return_counts})
    U = int(states.shape[2])
    kernel = StepKernel(win, power=1)
    opts = {"power": 1, "return_counts": return_counts}
    return Plan(
        states, kernel, (T - 1, U), win.step_counts(), "mean_abs_delta", **opts, count=Windows.step_counts
    )


def _plan_vacf(
    x: Any,
    *,
    max_lag: int | None = None,
    normalize: bool = False,
    region: str = "all",
    lengths: Any = None,
    return_counts: bool = False,
    vector: bool = False,
) -> Plan:
    flags = {"normalize": normalize, "return_counts": return_counts}
    states, win, T = setup(x, lengths, region, "vacf", 2, vector, flags=flags, runs=True)
    max_lag = check_max_lag(max_lag, T - 2, "vacf", T)
    n_lags, U = max_lag + 1, int(states.shape[2])
    nfft = fft_length(T - 1, max_lag)
    kernel = VACFKernel(win, n_lags=n_lags, nfft=nfft)

    def count(w: Windows) -> np.ndarray:
        return w.lag_counts(n_lags, positions=False)

    opts = {"vector": vector, "return_counts": return_counts, "post": "normalize" if normalize else None}
    return Plan(states, kernel, (U, n_lags), count(win), "vacf", (1, 0), **opts, count=count)


def _plan_vacf_two_time(
    x: Any, *, region: str = "all", lengths: Any = None, return_counts: bool = False, vector: bool = False
) -> Plan:
    flags = {"return_counts": return_counts}
    states, win, T = setup(x, lengths, region, "vacf_two_time", 2, vector, flags=flags)
    U = int(states.shape[2])
    kernel = TwoTimeKernel(win)
    opts = {"vector": vector, "return_counts": return_counts}
    counts = win.pair_counts()
    return Plan(
        states,
        kernel,
        (U, T - 1, T - 1),
        counts,
        "vacf_two_time",
        (1, 2, 0),
        **opts,
        count=Windows.pair_counts,
    )


def _plan_msd(
    x: Any,
    *,
    max_lag: int | None = None,
    region: str = "all",
    lengths: Any = None,
    return_counts: bool = False,
    vector: bool = False,
) -> Plan:
    states, win, T = setup(
        x, lengths, region, "msd", 1, vector, flags={"return_counts": return_counts}, runs=True
    )
    max_lag = check_max_lag(max_lag, T - 1, "msd", T)
    n_lags, U = max_lag + 1, int(states.shape[2])
    nfft = fft_length(T, max_lag)
    kernel = MSDKernel(win, n_lags=n_lags, nfft=nfft)

    def count(w: Windows) -> np.ndarray:
        return w.lag_counts(n_lags, positions=True)

    opts = {"vector": vector, "return_counts": return_counts}
    return Plan(states, kernel, (U, n_lags), count(win), "msd", (1, 0), **opts, count=count)


def _plan_msd_from_start(
    x: Any, *, region: str = "all", lengths: Any = None, return_counts: bool = False, vector: bool = False
) -> Plan:
    flags = {"return_counts": return_counts}
    states, win, T = setup(x, lengths, region, "msd_from_start", 1, vector, flags=flags, runs=True)
    U = int(states.shape[2])
    kernel = StartKernel(win)
    opts = {"vector": vector, "return_counts": return_counts}
    return Plan(
        states, kernel, (T, U), win.start_counts(), "msd_from_start", **opts, count=Windows.start_counts
    )


#: The averaged metrics, by name: ``PLANS[name](x, region=..., ...) -> Plan`` (``max_lag`` for msd, vacf).
PLANS = {
    "rms_delta": _plan_rms_delta,
    "mean_abs_delta": _plan_mean_abs_delta,
    "vacf": _plan_vacf,
    "vacf_two_time": _plan_vacf_two_time,
    "msd": _plan_msd,
    "msd_from_start": _plan_msd_from_start,
}
