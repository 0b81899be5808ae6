"""Relaxation of one direction's units: forward after the input ends, backward during the leading padding.

Forward units read the characters first: after the last one, each string's
state relaxes toward its final state (or toward a given target, the stable
fixed point of the padding map), measured with
:func:`rnndyn.physics.relaxation_time` and, for the intervals, with the same
fit on every bootstrap resample. Backward units read the padding first, from
``h0 = 0``: they relax along one path shared by every string before the
characters begin.
"""

from __future__ import annotations

import warnings

import numpy as np

import rnndyn
from rnndyn import physics

from . import _study_stats as S
from ._study_types import Arrays, Numbers

__all__ = ["RELAX_R2", "good_fits", "leading_padding", "relax_forward", "relax_backward"]

#: A relaxation fit counts as good at this R^2 or above.
RELAX_R2 = 0.9

PerUnit = dict[str, np.ndarray]


def good_fits(tau: np.ndarray, r2: np.ndarray) -> np.ndarray:
    """Fits with ``R^2 >= RELAX_R2`` and a finite, positive ``tau``."""
    return (r2 >= RELAX_R2) & np.isfinite(tau) & (tau > 0)


def leading_padding(P: rnndyn.Trajectories) -> np.ndarray:
    """Per string, how many padding steps come before the first real one (all units share it).

    ``P`` holds one direction's units in processing order: 0 for forward
    units, ``n_steps - length`` for unmasked backward ones.
    """
    pad = P.step_mask("padding")[:, :, 0]
    return np.logical_and.accumulate(pad, axis=1).sum(1)


def _fit(P, x, C, boot: bool, stop: int, ms: int, target: np.ndarray | None) -> tuple[Numbers, Arrays]:
    """Relaxation after the input ends toward ``target`` (None: each string's final state)."""
    n = x.shape[0]
    res = physics.relaxation_time(
        P, target="final" if target is None else target, start=0, stop=stop, min_sequences=ms
    )
    dev, valid = S.relaxation_deviation(x, P.lengths, stop, target)
    D_full = dev.sum(0, dtype=np.float64) / np.maximum(valid.sum(0), 1)[:, None]
    use = (valid.sum(0) >= ms)[:, None]
    tau_mine, _ = S.fit_log_linear(D_full, use)
    if boot:
        Cf = C.astype(np.float32)
        b_cnt = C @ valid
        b_D = (Cf @ dev.reshape(n, -1).astype(np.float32)).reshape(C.shape[0], stop, -1)
        b_D = b_D.astype(np.float64) / np.maximum(b_cnt, 1)[:, :, None]
        b_tau, b_r2 = S.fit_log_linear(b_D, (b_cnt >= ms)[:, :, None])
    else:
        b_D = np.full((2, stop, x.shape[2]), np.nan)
        b_tau = b_r2 = np.full((2, x.shape[2]), np.nan)
    del dev
    tau, r2 = res["tau"].to_numpy(), res["r2"].to_numpy()
    good, b_good = good_fits(tau, r2), good_fits(b_tau, b_r2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        b_med = np.nanmedian(np.where(b_good, b_tau, np.nan), axis=1)
        norm = D_full / np.where(D_full[:1] > 0, D_full[:1], np.nan)
        b_norm = b_D / np.where(b_D[:, :1] > 0, b_D[:, :1], np.nan)
        numbers = {
            "tau_median_good_fits": S.interval(np.nanmedian(np.where(good, tau, np.nan)), b_med),
            "fraction_good_fit": S.interval(good.mean(), b_good.mean(axis=1)),
            "r2_median": float(np.nanmedian(r2)),
            "check_tau_rel": float(np.nanmax(np.abs(tau_mine - tau) / np.maximum(np.abs(tau), 1e-12))),
        }
        if not boot:
            for key in ("tau_median_good_fits", "fraction_good_fit"):
                numbers[key]["low"] = numbers[key]["high"] = None
        arrays = {
            "offsets": np.arange(stop),
            "curve": np.nanmedian(norm, axis=1),
            "band": S.band(np.nanmedian(b_norm, axis=2)),
            "tau": tau,
            "r2": r2,
            "boot_tau": b_tau if boot else None,
            "boot_r2": b_r2 if boot else None,
        }
    return numbers, arrays


def _distance(last: np.ndarray, max_norm_median: float) -> dict[str, float]:
    """How far the last state is from the target: median and 90th percentile of ``|last|``."""
    return {
        "median": float(np.median(last)),
        "p90": float(np.percentile(last, 90)),
        "max_norm_median": max_norm_median,
    }


def relax_forward(
    P: rnndyn.Trajectories, x: np.ndarray, C: np.ndarray, boot: bool, target: np.ndarray | None = None
) -> tuple[Numbers, Arrays, PerUnit]:
    """Approach to the final state after the input ends (forward units); also to ``target`` if given.

    ``target`` is the stable fixed point of the padding map: each string's
    last state ``h[T-1]`` may come only a few pads after its input.
    """
    n, T, _ = x.shape
    ms = max(1, int(np.ceil(0.1 * n)))
    stop = int(max(3, T - np.percentile(P.lengths, 90)))  # offsets most strings reach
    nb, arrays = _fit(P, x, C, boot, stop, ms, None)
    numbers = {
        "kind": "after the end of input, toward the final state",
        "window": [0, stop],
        "min_strings": ms,
    }
    numbers |= nb
    per_unit = {"relax_tau": arrays["tau"], "relax_r2": arrays["r2"]}
    if target is not None:
        nf, af = _fit(P, x, C, boot, stop, ms, target)
        last = np.abs(x[:, -1, :].astype(np.float64) - np.asarray(target, dtype=np.float64)[None, :])
        nf["kind"] = "after the end of input, toward the stable fixed point of the padding map"
        nf["final_state_distance"] = _distance(last, float(np.median(np.max(last, axis=1))))
        numbers["fixed_point"] = nf
        arrays["fixed_point"] = af
        per_unit |= {"relax_tau_fp": af["tau"], "relax_r2_fp": af["r2"]}
    return numbers, arrays, per_unit


def _fit_path(path: np.ndarray, target: str | np.ndarray) -> tuple[Numbers, Arrays]:
    """Relaxation of one path ``(1, K, U)`` toward ``target`` (no resampling: one path)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = physics.relaxation_time(path, lengths=[1], target=target)
        tau, r2 = res["tau"].to_numpy(), res["r2"].to_numpy()
        good = good_fits(tau, r2)
        dev = physics.relaxation_curve(path, lengths=[1], target=target).deviation
        norm = dev / np.where(dev[:1] > 0, dev[:1], np.nan)
        numbers = {
            "tau_median_good_fits": {
                "estimate": float(np.nanmedian(np.where(good, tau, np.nan))),
                "low": None,
                "high": None,
            },
            "fraction_good_fit": {"estimate": float(good.mean()), "low": None, "high": None},
            "r2_median": float(np.nanmedian(r2)),
        }
        arrays = {
            "offsets": np.arange(dev.shape[0]),
            "curve": np.nanmedian(norm, axis=1),
            "band": None,
            "tau": tau,
            "r2": r2,
        }
    return numbers, arrays


def relax_backward(
    P: rnndyn.Trajectories, x: np.ndarray, target: np.ndarray | None = None
) -> tuple[Numbers, Arrays, PerUnit]:
    """Approach to the padding fixed point from h0 = 0 (backward units read the padding first).

    Every string starts from the same state and reads the same pads, so the
    path is identical for every string until its characters begin; it is
    measured on the string with the most padding.
    """
    n = x.shape[0]
    n_pad = leading_padding(P)
    i0 = int(np.argmax(n_pad))
    # deterministic dynamics: equal last padding states mean equal paths
    k_last = np.maximum(n_pad - 1, 0)
    has = n_pad > 0
    spread = float(np.max(np.abs(x[np.arange(n), k_last] - x[i0, k_last])[has], initial=0.0))
    path = x[i0, : n_pad[i0]][None]
    window = [0, int(n_pad[i0])]
    kind = "during the leading padding, toward the padding fixed point (identical for every string)"
    nb, arrays = _fit_path(path, "final")
    numbers = {"kind": kind, "window": window} | nb | {"max_spread_across_strings": spread}
    per_unit = {"relax_tau": arrays["tau"], "relax_r2": arrays["r2"]}
    if target is not None:
        tgt = np.asarray(target, dtype=np.float64)
        nf, af = _fit_path(path, tgt)
        last = np.abs(x[i0, n_pad[i0] - 1].astype(np.float64) - tgt)
        kind = "during the leading padding, toward the stable fixed point of the padding map"
        numbers["fixed_point"] = {"kind": kind, "window": window} | nf
        numbers["fixed_point"]["final_state_distance"] = _distance(last, float(last.max()))
        arrays["fixed_point"] = af | {"boot_tau": None, "boot_r2": None}
        per_unit |= {"relax_tau_fp": af["tau"], "relax_r2_fp": af["r2"]}
    return numbers, arrays, per_unit
