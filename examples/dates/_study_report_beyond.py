"""Part 2 of the study's report: beyond the founding study (directions, regimes, relaxation, MSD, VACF)."""

from __future__ import annotations

import pandas as pd

from rnndyn.report import Report

from ._study_figures import add_figure as _fig
from ._study_findings import ci, fmt
from ._study_msd import WINDOWS
from ._study_relaxation import RELAX_R2
from ._study_types import Results

__all__ = ["beyond"]


def _table_rows(results: Results) -> tuple[list, list, list, list]:
    io, rel, msd, dif = [], [], [], []
    for fw, r in results.items():
        for which in ("trained", "untrained"):
            for state, dirs in r[which]["numbers"]["groups"].items():
                for d, g in dirs.items():
                    key = {"framework": fw, "model": which, "state": state, "direction": d}
                    io.append(
                        key
                        | {
                            "RMS input": ci(g["rms_input"]),
                            "RMS padding": ci(g["rms_padding"]),
                            "ratio input/padding": ci(g["rms_ratio_input_over_padding"]),
                            "units faster in input": fmt(g["units_faster_in_input"]),
                        }
                        | (
                            {
                                "per-unit ratio median": ci(g["per_unit_ratio"]["median"]),
                                "share of units with ratio > 1": ci(
                                    g["per_unit_ratio"]["share_above_1"], pct=True
                                ),
                                "area, input part (mean over units)": fmt(g["area"]["input_mean"]),
                                "area, padding part (mean over units)": fmt(g["area"]["padding_mean"]),
                                "padding share of area": ci(g["area"]["padding_share"], pct=True),
                            }
                            if "per_unit_ratio" in g
                            else {}
                        )
                    )
                    x = g["relaxation"]
                    rel.append(
                        key
                        | {
                            "what": x["kind"],
                            "window": str(x["window"]),
                            "tau median (R^2>=0.9)": ci(x["tau_median_good_fits"]),
                            "fraction R^2>=0.9": ci(x["fraction_good_fit"]),
                            "R^2 median": fmt(x["r2_median"]),
                        }
                        | (
                            {
                                "tau median toward h* (R^2>=0.9)": ci(
                                    x["fixed_point"]["tau_median_good_fits"]
                                ),
                                "fraction R^2>=0.9 toward h*": ci(x["fixed_point"]["fraction_good_fit"]),
                                "R^2 median toward h*": fmt(x["fixed_point"]["r2_median"]),
                                "|h_end - h*| median": fmt(
                                    x["fixed_point"]["final_state_distance"]["median"]
                                ),
                                "|h_end - h*| 90%": fmt(x["fixed_point"]["final_state_distance"]["p90"]),
                            }
                            if "fixed_point" in x
                            else {}
                        )
                    )
                    for region, m in g["msd"].items():
                        msd.append(
                            key
                            | {
                                "region": region,
                                "lags": str(m["window"]),
                                "alpha median": ci(m["alpha_median"]),
                                "alpha IQR": f"{fmt(m['alpha_quartiles'][0])}-{fmt(m['alpha_quartiles'][1])}",
                            }
                            | {k: v for k, v in m["regime_counts"].items()}
                        )
                        dif.append(key | {"region": region} | {k: fmt(v) for k, v in m["diffusion"].items()})
    return io, rel, msd, dif


def beyond(rep: Report, results: Results) -> None:
    """Part 2 of the report: each direction in its processing order, input vs padding, relaxation, MSD."""
    io, rel, msd, dif = (
        pd.DataFrame(t).set_index(["framework", "model", "state", "direction"]) for t in _table_rows(results)
    )
    rep.heading("2. Beyond the notebook")
    rep.heading("2.1 Two directions, each in its own processing order", 3)
    rep.text(
        "Half of the 512 outputs belong to the backward LSTM, which reads the string from its end: "
        "first the padding, then the characters. Below, each direction is plotted in the order it "
        "computed (processing step k), as the RMS step delta over its 256 units and all strings; "
        "dotted: the untrained twin. Step k of the forward LSTM read character k; step k of the "
        "backward LSTM read position 49 - k."
    )
    _fig(rep, results, "step_rms", "fig9_directions_h", "RMS delta per processing step, h.", "h")
    rep.heading("2.2 Input vs padding", 3)
    rep.text(
        "A delta is an input delta when reading a real character drove it, a padding delta when a "
        "pad did. Below: the RMS over each regime's deltas and their ratio, per direction, with 95% "
        "bootstrap intervals; then the RMS delta aligned at the boundary between the regimes (forward: "
        "0 = the first pad; backward: 0 = the first character)."
    )
    rep.table(io, "input_vs_padding", caption="RMS step delta over input and padding deltas.")
    rep.text(
        "The pooled ratio weighs units by how much they move; the per-unit columns count each unit "
        "once (its own RMS over input deltas / over padding deltas; median over units and the share "
        "of units above 1, with intervals). Each unit's area (sum over deltas of the mean |delta|) "
        "splits into the part driven by characters and the part driven by pads; the backward "
        "padding part follows one path shared by every string (it starts from h0 = 0 and reads "
        "only pads), so it is the same for all of them."
    )
    split = {}
    for fw, r in results.items():
        nb = r["trained"]["numbers"]["notebook"]
        if "area_split" not in nb:
            continue
        a = nb["area_split"]
        for k, t in enumerate(a["top5"], 1):
            split[(fw, k)] = {
                "unit": t["unit"],
                "area, input part": fmt(t["input"]),
                "area, padding part": fmt(t["padding"]),
                "padding share": fmt(t["padding"] / (t["input"] + t["padding"])),
            }
        split[(fw, "all 512")] = {
            "unit": "",
            "area, input part": "",
            "area, padding part": "",
            "padding share": ci(a["padding_share"], pct=True),
        }
    if split:
        rep.table(
            pd.DataFrame(split).T.rename_axis(["framework", "rank"]),
            "area_split",
            caption="The five most dynamic units' areas split into input and padding parts.",
        )
    _fig(rep, results, "aligned", "fig10_aligned_boundary", "RMS delta aligned at the regime boundary.")
    rep.heading("2.3 Relaxation", 3)
    rep.text(
        "Forward units: D(k) = mean over strings of |h[L-1+k] - h[49]|, k steps after the last "
        "character (rnndyn.physics.relaxation_time, target 'final', window up to the offset 90% of "
        f"strings reach, counting offsets reached by at least 10% of strings); tau from a straight "
        f"line fit of ln D(k); a fit counts as good at R^2 >= {RELAX_R2}. Backward units have no "
        "step after their input; instead they relax from h0 = 0 toward a padding fixed point during "
        "the leading padding, along one path shared by every string (measured on the string with "
        "the most padding). Beside it (dashed, and the 'toward h*' columns), the same fits "
        "toward the stable fixed point h* of the padding map (section 3): each string's own last "
        "state h[49] is only 15 to 44 pads after its input and need not have settled."
    )
    _fig(rep, results, "relaxation", "fig11_relaxation", "Normalised distance to the terminal state.")
    _fig(rep, results, "taus", "fig12_relaxation_times", "Relaxation times of the forward units.")
    rep.table(rel, "relaxation", caption="Relaxation per network, state and direction.")
    rep.heading("2.4 MSD, scaling exponent and regimes", 3)
    rep.text(
        "Time-averaged mean-squared displacement per unit (rnndyn.metrics.msd), pooled over strings "
        "by pair counts, separately over pairs of steps inside the input (lags "
        f"{WINDOWS['input'][0]}-{WINDOWS['input'][1]}) and inside the padding (lags "
        f"{WINDOWS['padding'][0]}-{WINDOWS['padding'][1]}). The exponent alpha is the slope of "
        "log MSD vs log lag over that window; regimes as rnndyn.physics.classify_regime: ballistic "
        ">= 1.7, super-diffusive, diffusive 0.8-1.2, sub-diffusive, arrested < 0.2."
    )
    _fig(rep, results, "msd", "fig13_msd_loglog", "MSD vs lag (log-log).")
    _fig(rep, results, "exponents", "fig14_msd_exponents", "MSD exponent per unit.")
    rep.table(msd, "msd_exponents", caption="MSD exponents and regime counts (units).")
    rep.heading("2.5 Velocity autocorrelation and diffusion", 3)
    rep.text(
        "The normalised velocity autocorrelation C(s)/C(0) of the step deltas (time-origin averaged, "
        "no mean removed) — the quantity the notebook named but did not compute — and the diffusion "
        "coefficient two ways: Einstein (half the MSD slope over the window) and Green-Kubo "
        "(C(0)/2 + sum of C(s) up to the window). They agree only for stationary increments; the "
        "RNN's driven, decaying dynamics are not stationary, so the scatter shows how far each "
        "regime is from it."
    )
    _fig(rep, results, "vacf", "fig15_vacf", "Normalised VACF.")
    _fig(rep, results, "diffusion", "fig16_diffusion", "Einstein vs Green-Kubo.")
    rep.table(
        dif, "diffusion", caption="Diffusion coefficients (medians over units) and their rank correlation."
    )
    rep.heading("2.6 The cell state c", 3)
    rep.text(
        "The LSTM's cell state c is not squashed by tanh; rnndyn computes it exactly from the captured "
        "h (one batched matmul for the gates and an elementwise recurrence). Its RMS delta per "
        "processing step (no null model: only h is captured for the untrained twin); its numbers "
        "are in the tables above (state c)."
    )
    _fig(rep, results, "step_rms", "fig17_directions_c", "RMS delta per processing step, c.", "c")
