"""The numbers of the date study, computed once per captured network.

:func:`analyze` turns one capture of the encoder (``h`` and ``c``, both
directions, validation strings followed by the founding study's example
strings) into

* ``numbers`` -- every headline number, JSON-ready, with 95% bootstrap
  intervals (resampling strings) as ``{"estimate", "low", "high"}``;
* ``arrays`` -- the small arrays the figures need (curves, bands, a few
  traces); the captured states themselves are not kept;
* ``units`` -- one row per unit and group (the CSV table).

The notebook part works on the 512 encoder outputs in input order, as the
founding notebook did (docs/dates.md); everything else works per state
(``h``, ``c``) and direction, each direction in its own processing order (the
backward LSTM reads the padding first), in :mod:`examples.dates._study_groups`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

import rnndyn
from rnndyn import metrics, summary
from rnndyn._bootstrap import resample_counts

from . import _study_stats as S
from ._study_groups import DIRECTIONS, analyze_group
from ._study_types import Analysis, Arrays, Numbers

__all__ = ["random_units", "encoder_outputs", "split", "analyze"]


def random_units(n_units: int = 512, seed: int = 0xCAFE, k: int = 5) -> list[int]:
    """Random units as the founding study drew them: ``RandomState(seed)`` shuffle of ``0..n_units-1``.

    Examples
    --------
    >>> random_units()
    [405, 496, 432, 47, 121]
    """
    idx = np.arange(n_units)
    np.random.RandomState(seed).shuffle(idx)
    return [int(i) for i in idx[:k]]


def encoder_outputs(traj: rnndyn.Trajectories) -> rnndyn.Trajectories:
    """The 512 encoder outputs in Keras/PyTorch order: ``h`` forward 0..255, then backward 0..255."""
    u = traj.units
    h = np.flatnonzero(u["state"].to_numpy() == "h")
    key = np.lexsort((u["index"].to_numpy()[h], (u["direction"].to_numpy()[h] == "backward")))
    return traj.select(h[key])


def _describe_boot(values: np.ndarray) -> dict[str, np.ndarray]:
    """:func:`rnndyn.summary.describe` along the last axis, for every resample at once."""
    q = np.percentile(values, summary.DESCRIBE_PERCENTILES, axis=-1)
    out = {
        "mean": values.mean(-1),
        "std": values.std(-1, ddof=1),
        "min": values.min(-1),
    }
    out.update({f"{p}%": q[j] for j, p in enumerate(summary.DESCRIBE_PERCENTILES)})
    out["max"] = values.max(-1)
    return out


# ----------------------------------------------------------------- notebook
def _notebook(main: rnndyn.Trajectories, ex: rnndyn.Trajectories, C: np.ndarray) -> tuple[Numbers, Arrays]:
    """The numbers of figures 2-8 of the founding study, on the 512 encoder outputs (input order)."""
    H = encoder_outputs(main)
    if H.n_units != 512:
        raise ValueError(f"expected 512 encoder outputs; the capture has {H.n_units}")
    x = np.asarray(H.states)  # float32 as captured; sums below accumulate in float64
    n = x.shape[0]
    d = np.diff(x, axis=1)
    absd = np.abs(d)
    mad = np.asarray(metrics.mean_abs_delta(H))  # (T-1, 512): the notebook's "RMS"
    rms = np.asarray(metrics.rms_delta(H))  # the true RMS
    A = absd.sum(1, dtype=np.float64)  # (n, 512) per-string area
    dm = H.delta_mask("input")  # forward outputs 0..255, then backward 256..511
    m_in, m_bw = np.ascontiguousarray(dm[:, :, 0]), np.ascontiguousarray(dm[:, :, 256])
    del dm
    A_in = np.concatenate(  # (n, 512) per-string area over input deltas
        [
            np.einsum("itu,it->iu", absd[:, :, :256], m_in, dtype=np.float64),
            np.einsum("itu,it->iu", absd[:, :, 256:], m_bw, dtype=np.float64),
        ],
        axis=1,
    )
    d2 = np.square(d, out=d)
    sq = np.concatenate([d2[:, :, :256].sum(2, dtype=np.float64), d2[:, :, 256:].sum(2, dtype=np.float64)], 1)
    mm = np.concatenate([m_in, m_bw], axis=1).astype(float)
    e_in, e_pad = (sq * mm).sum(1), (sq * (1 - mm)).sum(1)
    c_in, c_pad = 256 * mm.sum(1), 256 * (1 - mm).sum(1)
    # per unit: squared deltas over input / padding deltas, per string (n, 512)
    q_in = np.concatenate(
        [
            np.einsum("itu,it->iu", d2[:, :, :256], m_in, dtype=np.float64),
            np.einsum("itu,it->iu", d2[:, :, 256:], m_bw, dtype=np.float64),
        ],
        axis=1,
    )
    q_pad = d2.sum(1, dtype=np.float64) - q_in
    n_fw, n_bw = m_in.sum(1).astype(float), m_bw.sum(1).astype(float)
    per_unit_ratio = {
        d: S.unit_ratio_distribution(C, q_in[:, cols], nin, q_pad[:, cols], (x.shape[1] - 1) - nin)
        for d, cols, nin in (("forward", slice(0, 256), n_fw), ("backward", slice(256, 512), n_bw))
    }
    per_unit_ratio["all"] = _ratio_all(C, q_in, q_pad, n_fw, n_bw, x.shape[1] - 1)
    check_area = float(np.max(np.abs(A.mean(0) - mad.sum(0))))
    area = mad.sum(0)
    area_b = C @ A / n
    desc = summary.describe(area)
    desc_b = _describe_boot(area_b)
    table = H.units.copy()
    table["area_mean_abs"] = area
    top = summary.top_units(table, n=5)
    top5 = [int(u) for u in top.index]
    ranks_b = np.argsort(-area_b, axis=1, kind="stable")[:, :5]
    stability = [float(np.mean(np.any(ranks_b == u, axis=1))) for u in top5]
    rnd = random_units(512)

    def curves(units: list[int]) -> dict[str, Any]:
        a = absd[:, :, units]
        s2 = d2[:, :, units]  # d was squared in place
        return {
            "units": units,
            "mean_abs": mad[:, units],
            "mean_abs_band": S.band(S.resampled_mean(C, a)),
            "rms": rms[:, units],
            "rms_band": S.band(np.sqrt(S.resampled_mean(C, s2))),
        }

    u1 = top5[0]
    last = x[:, -1, u1].astype(np.float64)
    numbers = {
        "random_units": rnd,
        "area_describe": {
            k: {
                "estimate": float(desc[k]),
                "low": float(S.percentile_ci(desc_b[k])[0]),
                "high": float(S.percentile_ci(desc_b[k])[1]),
            }
            for k in desc_b
        },
        "rms_ratio_input_over_padding": S.ratio(C, e_in, c_in, e_pad, c_pad),
        "rms_ratio_per_unit": per_unit_ratio,
        "area_split": _area_split_512(C, A_in, A, top5),
        "top5_units": top5,
        "top5_areas": [float(area[u]) for u in top5],
        "top5_in_top5_fraction": stability,
        "share_top5pct": S.interval(S.share_of_top(area, 0.05), S.share_of_top(area_b, 0.05)),
        "share_top10pct": S.interval(S.share_of_top(area, 0.10), S.share_of_top(area_b, 0.10)),
        "most_dynamic_unit": {
            "unit": u1,
            "direction": "forward" if u1 < 256 else "backward",
            "final_mean": S.interval(last.mean(), C @ last / n),
            "final_std": float(last.std()),
            "std_at_end_of_input": float(
                np.std(x[np.arange(n), H.lengths - 1, u1]),
            ),
        },
        "checks": {"area_per_string_vs_rnndyn": check_area},
    }
    ex_h = encoder_outputs(ex)
    arrays = {
        "area": area,
        "area_input": A_in.mean(0),
        "area_padding": area - A_in.mean(0),
        "random": curves(rnd),
        "top": curves(top5),
        "ensemble": x[:, :, u1].astype(np.float32),
        "examples": np.asarray(ex_h.states, dtype=np.float32),
        "example_lengths": ex_h.lengths,
        "example_strings": list(ex.inputs) if ex.inputs is not None else None,
    }
    return numbers, arrays


def _ratio_all(C, q_in, q_pad, n_fw, n_bw, n_deltas: int) -> dict:
    """:func:`~examples.dates._study_stats.unit_ratio_distribution` over all 512 outputs.

    Each direction has its own delta counts.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        cnt_in = np.concatenate([np.repeat(n_fw.sum(), 256), np.repeat(n_bw.sum(), 256)])
        r = np.sqrt(q_in.sum(0) / cnt_in) / np.sqrt(q_pad.sum(0) / (q_in.shape[0] * n_deltas - cnt_in))
        b_fw, b_bw = C @ n_fw, C @ n_bw
        b_in = np.concatenate([np.repeat(b_fw[:, None], 256, 1), np.repeat(b_bw[:, None], 256, 1)], 1)
        b_tot = C.sum(1)[:, None] * n_deltas
        b = np.sqrt((C @ q_in) / b_in) / np.sqrt((C @ q_pad) / (b_tot - b_in))
        return S.median_and_share(r, b)


def _area_split_512(C: np.ndarray, A_in: np.ndarray, A: np.ndarray, top5: list[int]) -> dict:
    """The 512 outputs' area split into input and padding parts (and that of the top five units)."""
    n = A.shape[0]
    s_in, s_all = A_in.sum(1), A.sum(1)
    unit_in, unit_all = A_in.sum(0) / n, A.sum(0) / n
    with np.errstate(invalid="ignore", divide="ignore"):
        share = 1.0 - unit_in / unit_all
    return {
        "padding_share": S.interval(1 - s_in.sum() / s_all.sum(), 1 - (C @ s_in) / (C @ s_all)),
        "padding_share_forward": float(1 - unit_in[:256].sum() / unit_all[:256].sum()),
        "padding_share_backward": float(1 - unit_in[256:].sum() / unit_all[256:].sum()),
        "padding_share_unit_median": float(np.nanmedian(share)),
        "top5": [
            {"unit": u, "input": float(unit_in[u]), "padding": float(unit_all[u] - unit_in[u])} for u in top5
        ],
    }


def split(traj: rnndyn.Trajectories, n_main: int) -> tuple[rnndyn.Trajectories, rnndyn.Trajectories]:
    """Validation strings and example strings, as views (no copy of the states)."""
    inputs = list(traj.inputs) if traj.inputs is not None else None

    def part(sl: slice) -> rnndyn.Trajectories:
        return rnndyn.Trajectories(
            traj.states[sl],
            traj.lengths[sl],
            traj.units,
            None if inputs is None else inputs[sl],
            masked=traj.masked,
            order=traj.order,
        )

    return part(slice(0, n_main)), part(slice(n_main, None))


def analyze(
    traj: rnndyn.Trajectories,
    *,
    n_main: int,
    seed: int = 0,
    n_boot: int = 400,
    states: tuple[str, ...] = ("h", "c"),
    boot_states: tuple[str, ...] = ("h",),
    fixed: dict[tuple[str, str], np.ndarray] | None = None,
) -> Analysis:
    """Every number and curve of the study for one captured network.

    Parameters
    ----------
    traj : Trajectories
        The encoder capture (states ``h`` and ``c``): ``n_main`` validation
        strings followed by the example strings (``inputs`` set).
    n_main : int
        How many leading sequences are the validation strings.
    seed, n_boot : int
        Bootstrap resamples of the strings (one resample matrix for all numbers).
    states : tuple of str
        States analysed per direction.
    boot_states : tuple of str
        States whose MSD exponents and relaxation times get bootstrap
        intervals (the RMS numbers always do).
    fixed : dict, optional
        ``{(state, direction): values}`` of the padding map's stable fixed
        point (:func:`examples.dates._study_dynamics.targets`): the relaxation
        is then also measured toward it, beside each string's final state.

    Returns
    -------
    Analysis
        ``numbers``, ``arrays`` and ``units`` (DataFrame).
    """
    main, ex = split(traj, n_main)
    C = resample_counts(n_main, n_boot, seed)
    nb_numbers, nb_arrays = _notebook(main, ex, C)
    numbers: dict[str, Any] = {"notebook": nb_numbers, "groups": {}}
    arrays: dict[str, Any] = {"notebook": nb_arrays, "groups": {}}
    tables = []
    for state in states:
        for direction in DIRECTIONS:
            target = None if fixed is None else fixed.get((state, direction))
            g = analyze_group(main, state, direction, C, state in boot_states, target)
            numbers["groups"].setdefault(state, {})[direction] = g["numbers"]
            arrays["groups"].setdefault(state, {})[direction] = g["arrays"]
            tables.append(g["units"])
    numbers["n_boot"] = n_boot
    units = pd.concat(tables, ignore_index=True)
    return {"numbers": numbers, "arrays": arrays, "units": units}
