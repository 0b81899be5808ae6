"""Per state and direction: input vs padding, MSD, VACF, diffusion, relaxation.

Each group (``h`` or ``c``, forward or backward) is analysed in its own
processing order (:meth:`rnndyn.Trajectories.processing_order`: the backward
LSTM reads the padding first), with its region masks from
:meth:`rnndyn.Trajectories.delta_mask` and one bootstrap resample matrix
shared by every number (see :mod:`examples.dates._study_stats`). The
per-string sums are rnndyn's own statistic kept per string
(:class:`rnndyn.stream.Accumulator` with ``per_sequence=True``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

import rnndyn
from rnndyn.stream import Accumulator

from . import _study_stats as S
from ._study_msd import msd_region
from ._study_relaxation import relax_backward, relax_forward
from ._study_types import GroupAnalysis

__all__ = ["ALIGN", "DIRECTIONS", "REGIONS", "group_units", "analyze_group"]

#: Offsets around the input/padding boundary shown in the aligned curves.
ALIGN = (-10, 25)
DIRECTIONS = ("forward", "backward")
REGIONS = ("input", "padding")


def group_units(traj: rnndyn.Trajectories, state: str, direction: str) -> rnndyn.Trajectories:
    """One state and direction, units sorted by index."""
    u = traj.units
    pos = np.flatnonzero((u["state"].to_numpy() == state) & (u["direction"].to_numpy() == direction))
    return traj.select(pos[np.argsort(u["index"].to_numpy()[pos], kind="stable")])


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


def _rows(acc: Accumulator, metric: str, region: str) -> np.ndarray:
    """Every string's numerator of ``metric`` in ``region``, float64 ``(n, T - 1, U)`` at its true scale."""
    num, k, _ = acc.rows(metric, region)
    power = 1 if metric == "mean_abs_delta" else 2
    return np.asarray(num, dtype=np.float64) * np.ldexp(1.0, power * k)


def analyze_group(
    main: rnndyn.Trajectories,
    state: str,
    direction: str,
    C: np.ndarray,
    boot: bool,
    target: np.ndarray | None = None,
) -> GroupAnalysis:
    """Every number of one state and direction; ``target``: its units' values at the padding fixed point."""
    P = group_units(main, state, direction).processing_order()
    x = np.asarray(P.states)
    n, T, U = x.shape
    masks = {r: np.ascontiguousarray(P.delta_mask(r)[:, :, 0]) for r in REGIONS}  # shared by the units
    m_in, m_pad = masks["input"], masks["padding"]
    # rnndyn's statistic kept per string: squared and absolute deltas per string, step and unit
    acc = Accumulator(["rms_delta", "mean_abs_delta"], regions=REGIONS, per_sequence=True).update(P)
    sq = {r: _rows(acc, "rms_delta", r) for r in REGIONS}  # (n, T-1, U): w d^2
    a_in = _rows(acc, "mean_abs_delta", "input").sum(1)  # per string and unit: sum of |delta|
    a_pad = _rows(acc, "mean_abs_delta", "padding").sum(1)
    e = (sq["input"] + sq["padding"]).mean(2)  # (n, T-1): mean square delta over units (every delta is one)
    step_rms = np.sqrt(e.mean(0))
    s_in, n_in = (e * m_in).sum(1), m_in.sum(1).astype(float)
    s_pad, n_pad = (e * m_pad).sum(1), m_pad.sum(1).astype(float)
    io_ratio = S.ratio(C, s_in, n_in, s_pad, n_pad)
    rms_in = S.interval(np.sqrt(s_in.sum() / n_in.sum()), np.sqrt((C @ s_in) / (C @ n_in)))
    rms_pad = S.interval(np.sqrt(s_pad.sum() / n_pad.sum()), np.sqrt((C @ s_pad) / (C @ n_pad)))
    q_in, q_pad = sq["input"].sum(1), sq["padding"].sum(1)  # per string and unit
    u_in = np.sqrt(q_in.sum(0) / m_in.sum())
    u_pad = np.sqrt(q_pad.sum(0) / m_pad.sum())
    del sq, acc
    with np.errstate(divide="ignore", invalid="ignore"):
        u_ratio = u_in / u_pad
    per_unit_ratio = S.unit_ratio_distribution(C, q_in, n_in, q_pad, n_pad)
    area_split = _area_split(C, a_in, a_pad)
    # aligned at the boundary between the two regimes: the first delta of the regime read second
    b = (n_in if direction == "forward" else n_pad).astype(np.int64)
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
        "step_rms_band": S.band(np.sqrt(S.resampled_mean(C, e))),
        "aligned_offsets": off,
        "aligned_rms": aligned,
        "aligned_band": S.band(aligned_b),
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
    for region in REGIONS:
        nb, ar, pu = msd_region(P, x, masks[region], region, C, boot)
        numbers["msd"][region], arrays["msd"][region] = nb, ar
        per_unit.update(pu)
    relax = relax_forward(P, x, C, boot, target) if direction == "forward" else relax_backward(P, x, target)
    numbers["relaxation"], arrays["relaxation"] = relax[0], relax[1]
    per_unit.update(relax[2])
    table = pd.DataFrame({"state": state, "direction": direction, "index": P.units["index"].to_numpy()})
    for k, v in per_unit.items():
        table[k] = v
    return {"numbers": numbers, "arrays": arrays, "units": table}
