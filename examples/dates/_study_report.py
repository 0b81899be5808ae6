"""Assemble the study's report: the introduction, part 1 (the founding study's figures), ``summary.json``.

Part 2 is :mod:`examples.dates._study_report_beyond`, part 3
:mod:`examples.dates._study_report_dynamics`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from rnndyn import summary
from rnndyn.report import Report

from . import _study_figures as F
from ._study_figures import add_figure as _fig
from ._study_findings import ci, findings, headline
from ._study_reference import NOTEBOOK
from ._study_report_beyond import beyond
from ._study_report_dynamics import dynamics
from ._study_types import Results, Settings
from .data import DateRecord

__all__ = ["build_report"]

STATS = ["count", "mean", "std", "min", "50%", "75%", "90%", "95%", "99%", "max"]


def _intro(rep: Report, results: Results, settings: Settings, lengths: np.ndarray) -> None:
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


def _notebook_part(rep: Report, results: Results, lengths: np.ndarray) -> None:
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


def build_report(
    results: Results, records: Sequence[DateRecord], settings: Settings, shipped: Mapping[str, Any]
) -> Report:
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
    beyond(rep, results)
    dynamics(rep, results)
    rep.heading("Explore the units")
    rep.text(
        "One self-contained interactive page per framework (rnndyn.analysis.page, the page "
        "`rnndyn analyze` writes for any model): the encoder's h units in a sortable, filterable "
        "table and on a map of units that behave alike; click a unit for its trajectories (median "
        "and bands, input and padding apart), step deltas, MSD and VACF."
    )
    for fw, r in results.items():
        rep.attach(f"explore_{fw}", r["explore"], text=f"{fw}: explore the encoder's units")
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


def _numbers(results: Results, settings: Settings, lengths: np.ndarray, verdicts: dict) -> dict[str, Any]:
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
