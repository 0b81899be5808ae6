"""Assemble the study's report: text, figures, tables and ``summary.json``."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from rnndyn import summary
from rnndyn.report import Report

from . import _study_figures as F
from ._study_findings import ci, findings, fmt, headline
from ._study_groups import RELAX_R2, WINDOWS

__all__ = ["build_report"]

STATS = ["count", "mean", "std", "min", "50%", "75%", "90%", "95%", "99%", "max"]


def _fig(rep: Report, results: dict, key: str, name: str, caption: str, *args: Any) -> None:
    rep.figure(F.FIGURES[key](results, *args), name, caption=caption, dpi=80)


def _intro(rep: Report, results: dict, settings: dict, lengths: np.ndarray) -> None:
    from .study import NOTEBOOK

    fws = " and ".join(results)
    rep.text(
        "A 2019 notebook ('RNN dynamics through polymer dynamics theory') studied, by hand, how the "
        "hidden state of a trained date translator (human-written dates -> YYYY-MM-DD; one-hot "
        "characters -> bidirectional LSTM 256+256 -> attention decoder) moves while it reads a "
        "string padded to 50 steps. This report reproduces each of its figures and tables with "
        f"rnndyn on our {fws} translators of the same architecture, puts the notebook's numbers "
        "next to ours, and then tests its conclusions: directions separated, input vs padding, "
        "relaxation, MSD scaling, velocity autocorrelation, diffusion, the cell state, an untrained "
        "null model and 95% bootstrap intervals (resampling strings) on every curve and number."
    )
    rep.bullets(
        [
            f"Strings: the first {settings['n']} held-out validation strings "
            "(shipped with the weights in validation.json and checked by hash; beyond 1,000 "
            f"generated with VAL_SEED={settings['val_seed']}), plus the notebook's "
            "four example strings for the single-string figures.",
            f"Weights: {settings['weights']}. Null model: the same factory, untrained, seed "
            f"{settings['null_model_seed']}.",
            f"Bootstrap: {settings['n_boot']} resamples of the strings (seed {settings['seed']}); "
            "intervals are 95% percentile intervals, written 'estimate [low, high]'.",
            "Capture: rnndyn.capture(encoder sub-model, layer='encoder', state=['h', 'c']) in batches of "
            f"500; the notebook called predict one string at a time ({NOTEBOOK['capture']['seconds']:.0f} s "
            "for 1,000 strings on a GPU, 17 strings/s).",
        ]
    )
    rows = {}
    for fw, res in results.items():
        c = res["capture"]
        rows[fw] = {
            "exact match, training helper (metrics.json)": res.get("shipped_accuracy"),
            f"exact match, recomputed on these {settings['n']} strings": res["accuracy"],
            "capture seconds (h and c)": c["seconds"],
            "strings per second": c["strings_per_s"],
            "capture seconds, untrained (h)": c["untrained_seconds"],
        }
    rep.heading("The models")
    rep.table(pd.DataFrame(rows), "models", caption="Accuracy and capture speed on this 2-core CPU.")
    ex = {}
    for fw, res in results.items():
        for e in res["examples"]:
            row = ex.setdefault(
                e["input"], {"target": e["target"], "notebook": NOTEBOOK["examples"][e["input"]]}
            )
            row[fw] = e["output"]
    rep.table(pd.DataFrame(ex).T, "examples", caption="The notebook's four example strings, translated.")


def _notebook_part(rep: Report, results: dict, lengths: np.ndarray) -> None:
    from .study import NOTEBOOK

    rep.heading("1. The notebook, figure by figure")
    rep.text(
        "Figure 2 of the notebook: every one of the 512 encoder outputs (columns; 0-255 the forward "
        "LSTM, 256-511 the backward LSTM) at each of the 50 steps (rows) for 'February 16th, 2019'; "
        "the dashed line is the string length (19): below it the network reads padding."
    )
    _fig(rep, results, "heatmap", "fig2_heatmap", "Encoder outputs for 'February 16th, 2019'.")
    units = {fw: r["trained"]["numbers"]["notebook"]["random_units"] for fw, r in results.items()}
    same = all(u == NOTEBOOK["random_units"] for u in units.values())
    rep.text(
        "Figure 3: five random units, chosen as in the notebook by shuffling 0..511 with "
        f"numpy RandomState(0xCAFE) and keeping the first five: {next(iter(units.values()))} "
        f"({'the same as' if same else 'DIFFERENT from'} the notebook's {NOTEBOOK['random_units']}). "
        "Their value per step, then their step delta x[t+1] - x[t], with the string length marked."
    )
    _fig(rep, results, "random_traces", "fig3_random_units_value", "Value vs step.", "value")
    _fig(rep, results, "random_traces", "fig3_random_units_delta", "Step delta vs step.", "delta")
    rep.text("Figure 4: the lengths of the validation strings (the notebook's Babel formats and locales).")
    rep.figure(F.lengths(lengths), "fig4_lengths", caption="String-length distribution.", dpi=80)
    ours = summary.describe(lengths.astype(float))
    rep.table(
        pd.DataFrame({"notebook": pd.Series(NOTEBOOK["lengths"]), "ours": ours}).loc[STATS],
        "lengths_describe",
        caption="String lengths: the notebook's numbers and ours.",
    )
    rep.text(
        "Figure 5: per unit and step, the notebook's 'RMS delta' over strings, which it computed as "
        "mean(sqrt(d**2)), i.e. the mean absolute delta (top), next to the true root mean square "
        "(bottom), for the five random units; shaded: 95% bootstrap bands."
    )
    _fig(rep, results, "unit_curves", "fig5_random_units_curves", "Mean |delta| and RMS per step.", "random")
    rep.text(
        "Figure 6: the 'area' of each unit, the sum over the 49 deltas of its mean |delta| curve: how "
        "much the unit moves over a whole string. Outline: the untrained null model."
    )
    _fig(rep, results, "areas", "fig6_area_distribution", "Area per unit.")
    table = {"notebook": pd.Series(NOTEBOOK["area"])}
    for fw, r in results.items():
        for which in ("trained", "untrained"):
            d = r[which]["numbers"]["notebook"]["area_describe"]
            col = fw if which == "trained" else f"{fw} untrained"
            table[col] = pd.Series({k: ci(v) for k, v in d.items()} | {"count": 512})
    rep.table(
        pd.DataFrame(table).loc[STATS],
        "area_describe",
        caption="Area per unit over the 512 outputs, with 95% bootstrap intervals.",
    )
    top = {"notebook": pd.Series(NOTEBOOK["top5_units"], index=range(1, 6))}
    for fw, r in results.items():
        nb = r["trained"]["numbers"]["notebook"]
        top[f"{fw} unit"] = pd.Series(nb["top5_units"], index=range(1, 6))
        top[f"{fw} direction"] = pd.Series(
            ["forward" if u < 256 else "backward" for u in nb["top5_units"]], index=range(1, 6)
        )
        top[f"{fw} area"] = pd.Series(nb["top5_areas"], index=range(1, 6))
        top[f"{fw} in top 5 (of resamples)"] = pd.Series(nb["top5_in_top5_fraction"], index=range(1, 6))
    rep.text(
        "Figure 7: the five units with the largest area (the notebook's were 309, 436, 346, 214, 50: "
        "three backward units and two forward ones). 'In top 5' is the fraction of bootstrap "
        "resamples in which the unit stays among the five largest."
    )
    rep.table(pd.DataFrame(top).rename_axis("rank"), "top5_units", caption="The five most dynamic units.")
    _fig(rep, results, "unit_curves", "fig7_top5_curves", "Mean |delta| and RMS of the top five.", "top")
    rep.text(
        "Figure 8: the most dynamic unit's value over every string (faint) and its mean (dashed). A "
        "backward unit's last input-order step is the first step it computed (one pad read from "
        "h0 = 0), so its 'terminal value' is the same for every string."
    )
    _fig(rep, results, "ensemble", "fig8_most_dynamic_unit", "The most dynamic unit over all strings.")


def _table_rows(results: dict) -> tuple[list, list, list, list]:
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


def _beyond(rep: Report, results: dict) -> None:
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


def _dynamics(rep: Report, results: dict) -> None:
    from ._study_dynamics import CHARS, SEARCH

    if not all("dynamics" in r["trained"]["numbers"] for r in results.values()):
        return
    rep.heading("3. Dynamics: the map behind the motion")
    rep.text(
        "Each direction of the encoder moves its state s = [h, c] by s' = F(s, x); "
        "rnndyn.plugins.step_map hands F over as a framework-free LSTM cell (the model's weights, "
        "float64). For a constant input x -- the padding symbol, or one of the characters "
        f"{', '.join(repr(c) for c in CHARS)} repeated -- rnndyn.dynamics.fixed_points finds the "
        "states with F(s, x) = s (damped Newton to |F(s) - s|_inf < 1e-10), started from "
        f"{SEARCH['n_starts_pad']} (padding) or {SEARCH['n_starts_char']} (each character) states "
        "sampled from the captured h of the validation strings, plus Gaussian noise of standard "
        f"deviation {SEARCH['noise']}. Each point's Jacobian eigenvalues lambda_k give its "
        "stability and its modes' relaxation times tau_k = -1 / ln|lambda_k|. The character maps are "
        "searched for the trained models only. The stable fixed point "
        "h* of the padding map nearest to where the padding leads is where the notebook's "
        "'terminal value' should be."
    )
    fps, pad, pvm = {}, {}, {}
    for fw, r in results.items():
        for which in ("trained", "untrained"):
            dy = r[which]["numbers"]["dynamics"]
            for d in ("forward", "backward"):
                x = dy[d]
                key = (fw, which, d)
                for inp in dy["inputs"]:
                    rows = [p for p in x["fixed_points"] if p["input"] == inp]
                    st = x["starts"][inp]
                    fps[key + (repr(inp),)] = {
                        "points": len(rows),
                        "stable": sum(p["stability"] == "stable" for p in rows),
                        "unstable": sum(p["stability"] == "unstable" for p in rows),
                        "spectral radius (stable)": ", ".join(
                            fmt(p["spectral_radius"], 4) for p in rows if p["stability"] == "stable"
                        ),
                        "slowest tau (stable)": ", ".join(
                            fmt(p["tau"]) for p in rows if p["stability"] == "stable"
                        ),
                        "max residual": fmt(max((p["residual"] for p in rows), default=float("nan")), 2),
                        "starts fixed / failed": f"{st['fixed']} / {st['failed']}",
                    }
                pp, rr = x["pad_point"], x["relaxation"]
                g = r[which]["numbers"]["groups"]["h"][d]["relaxation"]
                pad[key] = {
                    "|F(h*) - h*|_inf": fmt(pp["residual"], 2),
                    "stability": pp["stability"],
                    "spectral radius": fmt(pp["spectral_radius"], 4),
                    "slowest tau": fmt(pp["tau_slowest"]),
                    "|h_end - h*| median": fmt(g["fixed_point"]["final_state_distance"]["median"]),
                    "|h_end - h*| 90%": fmt(g["fixed_point"]["final_state_distance"]["p90"]),
                    "tau toward h[49] / last pad": ci(g["tau_median_good_fits"]),
                    "tau toward h*": ci(g["fixed_point"]["tau_median_good_fits"]),
                }
                pvm[key] = {
                    "good fits (toward h*)": rr["n_good_fits"],
                    "measured tau median": fmt(rr["tau_measured_median"]),
                    "predicted tau median (slowest loaded mode)": fmt(rr["tau_predicted_median"]),
                    "share-weighted tau median": fmt(rr["tau_weighted_median"]),
                    "units reached by the slowest mode": fmt(rr["units_reached_by_slowest_mode"]),
                    "measured / predicted, median": fmt(rr["measured_over_predicted_median"]),
                    "within a factor 2": fmt(rr["within_factor_2"]),
                    "Spearman (predicted)": ci(rr["spearman_predicted"]),
                    "Spearman (share-weighted)": ci(rr["spearman_weighted"]),
                }
    names = ["framework", "model", "direction"]
    rep.table(
        pd.DataFrame(fps).T.rename_axis(names + ["input"]),
        "fixed_points",
        caption="Fixed points per constant input (residual: |F(s) - s|_inf).",
    )
    rep.text(
        "The Jacobian spectrum at the padding map's stable fixed point of each direction (colour), "
        "with the stable points of the character maps (grey) and the unit circle: every mode inside "
        "it decays; the closer to the circle, the slower."
    )
    _fig(rep, results, "spectra", "fig18_spectra", "Eigenvalues at the pad fixed point, unit circle.")
    rep.table(
        pd.DataFrame(pad).T.rename_axis(names),
        "pad_fixed_point",
        caption="The padding map's stable fixed point h*, and the relaxation toward h[49] and toward h*.",
    )
    rep.text(
        "Which modes move the most dynamic units: the share |v_k[u]|^2 / sum_j |v_j[u]|^2 of the "
        "leading modes k (slowest first) in the units of largest area of each direction (trained)."
    )
    _fig(rep, results, "modes", "fig19_modes_top_units", "Leading modes on the most dynamic units.")
    rep.text(
        "Predicted vs measured relaxation per h unit (rnndyn.dynamics.predicted_relaxation at h*): "
        "the predicted tau is that of the slowest mode with any weight on the unit (the long-lag "
        "decay), the share-weighted tau a mix of all modes; measured is the fit toward h* of "
        "section 2.3 (units with R^2 >= 0.9). Spearman correlations over those units with 95% "
        "bootstrap intervals over strings (the backward path is the same for every string: no "
        "interval)."
    )
    _fig(rep, results, "predicted", "fig20_predicted_vs_measured", "Predicted vs measured tau per unit.")
    rep.table(
        pd.DataFrame(pvm).T.rename_axis(names),
        "predicted_vs_measured",
        caption="Relaxation times predicted by the linearisation at h* vs measured toward h*.",
    )


def build_report(results: dict, records: list, settings: dict, shipped: dict) -> Report:
    """The whole report (not yet written)."""
    lengths = np.array([len(r.human) for r in records])
    for fw, res in results.items():
        res["shipped_accuracy"] = shipped.get(fw, {}).get("validation", {}).get("exact_match")
    rep = Report("The date-translation study: RNN dynamics as polymer dynamics")
    _intro(rep, results, settings, lengths)
    bullets, verdicts = findings(results)
    rep.heading("Findings")
    rep.bullets(bullets)
    side = {}
    for fw, r in results.items():
        for which in ("trained", "untrained"):
            side[fw if which == "trained" else f"{fw} untrained"] = {
                k: ci(v) for k, v in headline(r, which).items()
            }
    rep.table(pd.DataFrame(side), "headline", caption="Headline numbers side by side (95% intervals).")
    _notebook_part(rep, results, lengths)
    _beyond(rep, results)
    _dynamics(rep, results)
    rep.heading("Per-unit tables")
    for fw, r in results.items():
        rep.table(
            r["trained"]["units"],
            f"units_{fw}",
            caption=f"{fw}: one row per unit, state and direction.",
            max_rows=8,
        )
    rep.numbers.update(_numbers(results, settings, lengths, verdicts))
    return rep


def _numbers(results: dict, settings: dict, lengths: np.ndarray, verdicts: dict) -> dict:
    from .study import NOTEBOOK

    out: dict[str, Any] = {
        "settings": settings,
        "notebook": NOTEBOOK,
        "lengths": {k: float(v) for k, v in summary.describe(lengths.astype(float)).items()},
        "findings": verdicts,
    }
    for fw, r in results.items():
        out[fw] = {
            "accuracy": {
                "recomputed_exact_match": r["accuracy"],
                "n": settings["n"],
                "metrics_json_exact_match": r.get("shipped_accuracy"),
            },
            "examples": r["examples"],
            "capture": r["capture"],
            "headline": headline(r),
            "trained": r["trained"]["numbers"],
            "untrained": r["untrained"]["numbers"],
        }
    return out
