"""Part 3 of the study's report: the map behind the motion (fixed points, spectra, predicted relaxation)."""

from __future__ import annotations

import pandas as pd

from rnndyn.report import Report

from ._study_dynamics import CHARS, SEARCH
from ._study_figures import add_figure as _fig
from ._study_findings import ci, fmt
from ._study_types import Results

__all__ = ["dynamics"]


def dynamics(rep: Report, results: Results) -> None:
    """Part 3 of the report: fixed points, spectra, predicted vs measured relaxation (if searched)."""
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
