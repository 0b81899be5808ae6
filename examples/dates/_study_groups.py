"""Per state and direction: input vs padding, MSD, VACF, diffusion, relaxation.

Each group (``h`` or ``c``, forward or backward) is analysed in its own
processing order (the backward LSTM reads the padding first), with one
bootstrap resample matrix shared by every number (see
:mod:`examples.dates._study_stats`).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

import rnndyn
from rnndyn import metrics, physics
from rnndyn.trajectories import delta_region_mask

from . import _study_stats as S

__all__ = [
    "WINDOWS",
    "RELAX_R2",
    "ALIGN",
    "DIRECTIONS",
    "analyze_group",
    "take_units",
    "band",
    "resampled_mean",
    "ratio",
    "unit_ratio_distribution",
]

#: MSD / diffusion fit windows (lo, hi) per region, in steps.
WINDOWS = {"input": (1, 5), "padding": (1, 10)}
#: A relaxation fit counts as good at this R^2 or above.
RELAX_R2 = 0.9
#: Offsets around the input/padding boundary shown in the aligned curves.
ALIGN = (-10, 25)
DIRECTIONS = ("forward", "backward")


def take_units(traj: rnndyn.Trajectories, pos: np.ndarray) -> rnndyn.Trajectories:
    """``traj.select(pos)``, as a view of the states when ``pos`` is a contiguous run."""
    pos = np.asarray(pos)
    if pos.size and np.array_equal(pos, np.arange(pos[0], pos[0] + pos.size)):
        return rnndyn.Trajectories(
            traj.states[:, :, pos[0] : pos[0] + pos.size],
            traj.lengths,
            traj.units.iloc[pos].reset_index(drop=True),
            traj.inputs,
            masked=traj.masked,
            order=traj.order,
        )
    return traj.select(pos)


def _group_units(traj: rnndyn.Trajectories, state: str, direction: str) -> rnndyn.Trajectories:
    """One state and direction, units by index (a view when possible)."""
    u = traj.units
    pos = np.flatnonzero((u["state"].to_numpy() == state) & (u["direction"].to_numpy() == direction))
    return take_units(traj, pos[np.argsort(u["index"].to_numpy()[pos], kind="stable")])


def band(boots: np.ndarray) -> dict[str, np.ndarray]:
    lo, hi = S.percentile_ci(boots)
    return {"low": lo, "high": hi}


def resampled_mean(C: np.ndarray, per_string: np.ndarray) -> np.ndarray:
    """``C @ per_string / n`` for per-string arrays of any trailing shape."""
    n = per_string.shape[0]
    flat = per_string.reshape(n, -1)
    return (C @ flat / n).reshape((C.shape[0],) + per_string.shape[1:])


def _boundary(direction: str, lengths: np.ndarray, T: int) -> np.ndarray:
    """Index of the first delta of the second regime (processing order).

    Forward: the first padding delta (``L - 1``); backward (reads the padding
    first): the first input delta (``T - 1 - L``).
    """
    return lengths - 1 if direction == "forward" else T - 1 - lengths


def ratio(C: np.ndarray, s_in, n_in, s_pad, n_pad) -> dict:
    est = np.sqrt(s_in.sum() / n_in.sum()) / np.sqrt(s_pad.sum() / n_pad.sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        b = np.sqrt((C @ s_in) / (C @ n_in)) / np.sqrt((C @ s_pad) / (C @ n_pad))
    return S.interval(est, b)


def unit_ratio_distribution(C: np.ndarray, q_in, n_in, q_pad, n_pad) -> dict:
    """Per-unit input/padding RMS ratios: their median and the share above 1, with intervals.

    ``q_in``, ``q_pad`` are per-string, per-unit sums of squared deltas
    ``(n, U)``; ``n_in``, ``n_pad`` the per-string delta counts ``(n,)``. The
    pooled ratio of :func:`ratio` weighs units by how much they move; this is
    the distribution over units, each counted once.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.sqrt(q_in.sum(0) / n_in.sum()) / np.sqrt(q_pad.sum(0) / n_pad.sum())
        b = np.sqrt((C @ q_in) / (C @ n_in)[:, None]) / np.sqrt((C @ q_pad) / (C @ n_pad)[:, None])
        return {
            "median": S.interval(np.nanmedian(r), np.nanmedian(b, axis=1)),
            "share_above_1": S.interval(np.mean(r > 1), np.mean(b > 1, axis=1)),
        }


def _area_split(C: np.ndarray, a_in: np.ndarray, a_pad: np.ndarray) -> dict:
    """Area (sum over deltas of the mean |delta|) split into input and padding parts.

    ``a_in``, ``a_pad``: per-string, per-unit sums of ``|delta|`` over input and
    padding deltas ``(n, U)``. The padding share is pooled over units (with
    its interval) and its median over units.
    """
    n = a_in.shape[0]
    s_in, s_pad = a_in.sum(1), a_pad.sum(1)
    b_in, b_pad = C @ s_in, C @ s_pad
    unit_in, unit_pad = a_in.sum(0) / n, a_pad.sum(0) / n
    with np.errstate(invalid="ignore", divide="ignore"):
        unit_share = unit_pad / (unit_in + unit_pad)
    return {
        "input_mean": float(unit_in.mean()),
        "padding_mean": float(unit_pad.mean()),
        "padding_share": S.interval(s_pad.sum() / (s_in.sum() + s_pad.sum()), b_pad / (b_in + b_pad)),
        "padding_share_unit_median": float(np.nanmedian(unit_share)),
    }


def _scale(x: np.ndarray) -> np.ndarray:
    """Mean within-string variance per unit (the zero-MSD scale of rnndyn.physics)."""
    return x.var(axis=1).mean(axis=0)


def _msd_region(P, x, dmask, region, C, boot: bool) -> tuple[dict, dict, dict]:
    lo, hi = WINDOWS[region]
    n_reg = dmask.sum(1)
    hi = int(min(hi, max(int(n_reg.max()), 2)))
    lo = min(lo, hi - 1)
    lags = np.arange(lo, hi + 1)
    # One MSD and one VACF call per region (rnndyn.metrics); the exponent, the
    # regime and both diffusion coefficients follow from them exactly as
    # rnndyn.physics.msd_exponent / diffusion_coefficient compute them
    # (tests/test_dates_study.py checks that they agree).
    if boot:  # per-string sums, pooled: the same estimator as rnndyn.metrics.msd (float32 sums)
        num, cnt = S.msd_sums(x, dmask, hi)
        msd = num.sum(0) / np.maximum(cnt.sum(0), 1)[:, None]
    else:
        msd = np.asarray(metrics.msd(P, max_lag=hi, region=region), dtype=np.float64)
    c = np.asarray(metrics.vacf(P, max_lag=hi, region=region), dtype=np.float64)
    alpha = S.loglog_slope(msd[lo : hi + 1], lags)
    flat = np.all(msd[lo : hi + 1] <= physics.ZERO_MSD * np.nanmax(msd), axis=0)
    if flat.any():  # a constant unit: exponent 0 ("arrested"), as rnndyn.physics does
        alpha = np.where(np.all(msd[lo : hi + 1] <= physics.ZERO_MSD * _scale(x), axis=0), 0.0, alpha)
    regime = physics.classify_regime(alpha)
    counts = {r: int(np.sum(regime == r)) for r in physics.REGIMES}
    shown = [r for r in physics.REGIMES if counts[r] or r in ("ballistic", "diffusive")]
    with np.errstate(invalid="ignore", divide="ignore"):
        vacf = np.where(c[:1] != 0, c / np.where(c[:1] != 0, c[:1], 1.0), np.nan)
    m = lags.astype(np.float64)
    seg = msd[lo : hi + 1]
    d_e = ((m - m.mean())[:, None] * (seg - seg.mean(0))).sum(0) / ((m - m.mean()) ** 2).sum() / 2.0
    d_gk = c[0] / 2.0 + c[1:hi].sum(0)
    from scipy.stats import spearmanr

    ok = np.isfinite(d_e) & np.isfinite(d_gk)
    rho = float(spearmanr(d_e[ok], d_gk[ok]).statistic) if ok.sum() > 2 else float("nan")
    arrays: dict[str, Any] = {
        "lags": np.arange(hi + 1),
        "vacf_median": np.nanmedian(vacf, axis=1),
        "vacf_q": np.nanpercentile(vacf, [25, 75], axis=1),
        "alpha": alpha,
        "d_einstein": d_e,
        "d_green_kubo": d_gk,
    }
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        gk_over_e = d_gk / d_e
        numbers: dict[str, Any] = {
            "window": [lo, hi],
            "alpha_median": {"estimate": float(np.nanmedian(alpha)), "low": None, "high": None},
            "alpha_quartiles": [float(np.nanpercentile(alpha, 25)), float(np.nanpercentile(alpha, 75))],
            "regime_counts": counts,
            "regime_fraction": {
                r: {"estimate": float(np.mean(regime == r)), "low": None, "high": None} for r in shown
            },
            "diffusion": {
                "einstein_median": float(np.nanmedian(d_e)),
                "green_kubo_median": float(np.nanmedian(d_gk)),
                "gk_over_einstein_median": float(np.nanmedian(gk_over_e)),
                "spearman": rho,
            },
            "vacf1_median": float(np.nanmedian(vacf[1])) if vacf.shape[0] > 1 else float("nan"),
        }
        if boot:
            b_num = (C @ num.reshape(num.shape[0], -1)).reshape(C.shape[0], hi + 1, -1)
            b_cnt = C @ cnt
            b_msd = b_num / np.where(b_cnt > 0, b_cnt, np.nan)[:, :, None]
            b_alpha = S.loglog_slope(b_msd[:, lo : hi + 1], lags)
            b_regime = physics.classify_regime(b_alpha)
            numbers["alpha_median"] = S.interval(np.nanmedian(alpha), np.nanmedian(b_alpha, axis=1))
            numbers["regime_fraction"] = {
                r: S.interval(np.mean(regime == r), np.mean(b_regime == r, axis=1)) for r in shown
            }
            numbers["pairs"] = int(cnt[:, hi].sum())
            arrays["msd_median"] = np.nanmedian(msd, axis=1)
            arrays["msd_band"] = band(np.nanmedian(b_msd, axis=2))
    per_unit = {
        f"alpha_{region}": alpha,
        f"regime_{region}": regime,
        f"D_einstein_{region}": d_e,
        f"D_green_kubo_{region}": d_gk,
    }
    return numbers, arrays, per_unit


def _relax_fit(P, x, C, boot: bool, stop: int, ms: int, target: np.ndarray | None) -> tuple[dict, dict]:
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
    good = (r2 >= RELAX_R2) & np.isfinite(tau) & (tau > 0)
    b_good = (b_r2 >= RELAX_R2) & np.isfinite(b_tau) & (b_tau > 0)
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
            "band": band(np.nanmedian(b_norm, axis=2)),
            "tau": tau,
            "r2": r2,
            "boot_tau": b_tau if boot else None,
            "boot_r2": b_r2 if boot else None,
        }
    return numbers, arrays


def _relax_forward(P, x, C, boot: bool, target: np.ndarray | None = None) -> tuple[dict, dict, dict]:
    """Approach to the final state after the input ends (forward units); also to ``target`` if given.

    ``target`` is the stable fixed point of the padding map (the study's
    dynamics part): the notebook's version measures each string's approach to
    its own last state ``h[49]``, only 15 to 44 pads after its input.
    """
    n, T, _ = x.shape
    L = P.lengths
    ms = max(1, int(np.ceil(0.1 * n)))
    stop = int(max(3, T - np.percentile(L, 90)))  # offsets most strings reach
    nb, ar = _relax_fit(P, x, C, boot, stop, ms, None)
    numbers = {
        "kind": "after the end of input, toward the final state",
        "window": [0, stop],
        "min_strings": ms,
        **nb,
    }
    arrays = ar
    per_unit = {"relax_tau": ar["tau"], "relax_r2": ar["r2"]}
    if target is not None:
        nf, af = _relax_fit(P, x, C, boot, stop, ms, target)
        last = x[:, -1, :].astype(np.float64) - np.asarray(target, dtype=np.float64)[None, :]
        nf["kind"] = "after the end of input, toward the stable fixed point of the padding map"
        nf["final_state_distance"] = {  # |h[49] - h*| over strings and units
            "median": float(np.median(np.abs(last))),
            "p90": float(np.percentile(np.abs(last), 90)),
            "max_norm_median": float(np.median(np.max(np.abs(last), axis=1))),
        }
        numbers["fixed_point"] = nf
        arrays["fixed_point"] = af
        per_unit |= {"relax_tau_fp": af["tau"], "relax_r2_fp": af["r2"]}
    return numbers, arrays, per_unit


def _relax_backward(P, x, target: np.ndarray | None = None) -> tuple[dict, dict, dict]:
    """Approach to the padding fixed point from h0 = 0 (backward units read the padding first).

    Every string starts from the same state and reads the same pads, so the
    path is identical for every string until its characters begin; it is
    measured on the string with the most padding.
    """
    n, T, U = x.shape
    L = P.lengths
    n_pad = T - L  # padding states in processing order: steps 0 .. T - 1 - L
    i0 = int(np.argmax(n_pad))
    # deterministic dynamics: equal last padding states mean equal paths
    k_last = np.maximum(n_pad - 1, 0)
    has = n_pad > 0
    spread = float(np.max(np.abs(x[np.arange(n), k_last] - x[i0, k_last])[has], initial=0.0))
    path = x[i0, : n_pad[i0]][None]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = physics.relaxation_time(path, lengths=[1], target="final")
        tau, r2 = res["tau"].to_numpy(), res["r2"].to_numpy()
        good = (r2 >= RELAX_R2) & np.isfinite(tau) & (tau > 0)
        dev = physics.relaxation_curve(path, lengths=[1], target="final").deviation
        norm = dev / np.where(dev[:1] > 0, dev[:1], np.nan)
        numbers = {
            "kind": "during the leading padding, toward the padding fixed point (identical for every string)",
            "window": [0, int(n_pad[i0])],
            "tau_median_good_fits": {
                "estimate": float(np.nanmedian(np.where(good, tau, np.nan))),
                "low": None,
                "high": None,
            },
            "fraction_good_fit": {"estimate": float(good.mean()), "low": None, "high": None},
            "r2_median": float(np.nanmedian(r2)),
            "max_spread_across_strings": spread,
        }
        arrays = {
            "offsets": np.arange(dev.shape[0]),
            "curve": np.nanmedian(norm, axis=1),
            "band": None,
            "tau": tau,
            "r2": r2,
        }
    per_unit = {"relax_tau": tau, "relax_r2": r2}
    if target is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            tgt = np.asarray(target, dtype=np.float64)
            res = physics.relaxation_time(path, lengths=[1], target=tgt)
            tau_f, r2_f = res["tau"].to_numpy(), res["r2"].to_numpy()
            good = (r2_f >= RELAX_R2) & np.isfinite(tau_f) & (tau_f > 0)
            dev = physics.relaxation_curve(path, lengths=[1], target=tgt).deviation
            norm = dev / np.where(dev[:1] > 0, dev[:1], np.nan)
            last = np.abs(x[i0, n_pad[i0] - 1].astype(np.float64) - tgt)
            numbers["fixed_point"] = {
                "kind": "during the leading padding, toward the stable fixed point of the padding map",
                "window": [0, int(n_pad[i0])],
                "tau_median_good_fits": {
                    "estimate": float(np.nanmedian(np.where(good, tau_f, np.nan))),
                    "low": None,
                    "high": None,
                },
                "fraction_good_fit": {"estimate": float(good.mean()), "low": None, "high": None},
                "r2_median": float(np.nanmedian(r2_f)),
                "final_state_distance": {  # of the last leading-padding state, over units
                    "median": float(np.median(last)),
                    "p90": float(np.percentile(last, 90)),
                    "max_norm_median": float(last.max()),
                },
            }
            arrays["fixed_point"] = {
                "offsets": np.arange(dev.shape[0]),
                "curve": np.nanmedian(norm, axis=1),
                "band": None,
                "tau": tau_f,
                "r2": r2_f,
                "boot_tau": None,
                "boot_r2": None,
            }
        per_unit |= {"relax_tau_fp": tau_f, "relax_r2_fp": r2_f}
    return numbers, arrays, per_unit


def _processing_order(G: rnndyn.Trajectories) -> rnndyn.Trajectories:
    """:meth:`Trajectories.processing_order` of one direction's units, without a copy.

    An unmasked backward recurrence's processing step ``k`` is input position
    ``n_steps - 1 - k`` (rnndyn's definition), i.e. the time axis reversed: a
    view. Anything else goes through rnndyn.
    """
    dirs = set(G.units["direction"])
    if dirs == {"backward"} and not G.masked and G.order == "input":
        return rnndyn.Trajectories(
            G.states[:, ::-1], G.lengths, G.units, G.inputs, masked=False, order="processing"
        )
    return G.processing_order()


def analyze_group(
    main: rnndyn.Trajectories,
    state: str,
    direction: str,
    C: np.ndarray,
    boot: bool,
    target: np.ndarray | None = None,
) -> dict:
    """Every number of one state and direction; ``target``: its units' values at the padding fixed point."""
    P = _processing_order(_group_units(main, state, direction))
    x = np.asarray(P.states)  # float32 as captured: deltas of float32 values are exact enough
    n, T, U = x.shape
    masks = {
        r: delta_region_mask(P.lengths, T, region=r, direction=direction, order=P.order, masked=P.masked)
        for r in ("input", "padding")
    }
    m_in, m_pad = masks["input"], masks["padding"]
    d = np.diff(x, axis=1)
    absd = np.abs(d)
    a_in = np.einsum("itu,it->iu", absd, m_in, dtype=np.float64)  # per string and unit
    a_pad = np.einsum("itu,it->iu", absd, m_pad, dtype=np.float64)
    del absd
    d2 = np.square(d, out=d)
    e = d2.mean(2, dtype=np.float64)  # (n, T-1): mean square delta over units, per string and step
    step_rms = np.sqrt(e.mean(0))
    s_in, n_in = (e * m_in).sum(1), m_in.sum(1).astype(float)
    s_pad, n_pad = (e * m_pad).sum(1), m_pad.sum(1).astype(float)
    io_ratio = ratio(C, s_in, n_in, s_pad, n_pad)
    rms_in = S.interval(np.sqrt(s_in.sum() / n_in.sum()), np.sqrt((C @ s_in) / (C @ n_in)))
    rms_pad = S.interval(np.sqrt(s_pad.sum() / n_pad.sum()), np.sqrt((C @ s_pad) / (C @ n_pad)))
    q_in = np.einsum("itu,it->iu", d2, m_in, dtype=np.float64)  # per string and unit
    q_pad = np.einsum("itu,it->iu", d2, m_pad, dtype=np.float64)
    u_in = np.sqrt(q_in.sum(0) / m_in.sum())
    u_pad = np.sqrt(q_pad.sum(0) / m_pad.sum())
    del d, d2
    with np.errstate(divide="ignore", invalid="ignore"):
        u_ratio = u_in / u_pad
    per_unit_ratio = unit_ratio_distribution(C, q_in, n_in, q_pad, n_pad)
    area_split = _area_split(C, a_in, a_pad)
    # aligned at the boundary between the two regimes
    b = _boundary(direction, P.lengths, T)
    off = np.arange(*ALIGN)
    t = b[:, None] + off[None, :]
    ok = (t >= 0) & (t < T - 1)
    ea = np.take_along_axis(e, np.clip(t, 0, T - 2), axis=1) * ok
    with np.errstate(invalid="ignore", divide="ignore"):
        aligned = np.sqrt(ea.sum(0) / ok.sum(0))
        aligned_b = np.sqrt((C @ ea) / (C @ ok.astype(float)))
    numbers: dict[str, Any] = {
        "n_units": U,
        "rms_input": rms_in,
        "rms_padding": rms_pad,
        "rms_ratio_input_over_padding": io_ratio,
        "unit_ratio_median": float(np.nanmedian(u_ratio)),
        "units_faster_in_input": float(np.mean(u_ratio > 1)),
        "per_unit_ratio": per_unit_ratio,
        "area": area_split,
        "input_deltas": int(n_in.sum()),
        "padding_deltas": int(n_pad.sum()),
    }
    arrays: dict[str, Any] = {
        "step_rms": step_rms,
        "step_rms_band": band(np.sqrt(resampled_mean(C, e))),
        "aligned_offsets": off,
        "aligned_rms": aligned,
        "aligned_band": band(aligned_b),
        "boundary": "padding starts" if direction == "forward" else "characters start",
    }
    per_unit: dict[str, Any] = {
        "rms_input": u_in,
        "rms_padding": u_pad,
        "rms_ratio": u_ratio,
        "area": (a_in.sum(0) + a_pad.sum(0)) / n,
        "area_input": a_in.sum(0) / n,
        "area_padding": a_pad.sum(0) / n,
    }
    numbers["msd"], arrays["msd"] = {}, {}
    for region in ("input", "padding"):
        nb, ar, pu = _msd_region(P, x, masks[region], region, C, boot)
        numbers["msd"][region], arrays["msd"][region] = nb, ar
        per_unit.update(pu)
    relax = _relax_forward(P, x, C, boot, target) if direction == "forward" else _relax_backward(P, x, target)
    numbers["relaxation"], arrays["relaxation"] = relax[0], relax[1]
    per_unit.update(relax[2])
    table = pd.DataFrame({"state": state, "direction": direction, "index": P.units["index"].to_numpy()})
    for k, v in per_unit.items():
        table[k] = v
    return {"numbers": numbers, "arrays": arrays, "units": table}
