"""The findings of the interactive report: short verdicts, each with the numbers behind it.

Every verdict is computed from the per-unit table of
:func:`rnndyn.summary.unit_summary`; the text is chosen by the numbers (never
written in advance), and the numbers go to ``summary.json`` next to it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .physics import REGIMES

__all__ = ["findings", "population", "GOOD_FIT"]

#: Smallest R^2 of a relaxation fit that counts as a unit relaxing exponentially.
GOOD_FIT = 0.9


def _stats(values: Any) -> dict[str, Any]:
    """Median, quartiles and count of the finite values (None when there are none)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return {"n": 0, "median": None, "q1": None, "q3": None}
    q1, med, q3 = np.quantile(v, [0.25, 0.5, 0.75])
    return {"n": int(v.size), "median": float(med), "q1": float(q1), "q3": float(q3)}


def population(table: pd.DataFrame) -> dict[str, Any]:
    """Per-column median and quartiles over units, and the regime counts.

    Examples
    --------
    >>> t = pd.DataFrame({"msd_exponent": [1.0, 2.0, 3.0], "regime": ["diffusive"] * 3})
    >>> population(t)["msd_exponent"]["median"], population(t)["regimes"]["diffusive"]
    (2.0, 3)
    """
    out: dict[str, Any] = {}
    for col in table.columns:
        s = table[col]
        if col in ("index", "rank") or not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
            continue
        out[str(col)] = _stats(s.to_numpy(dtype=np.float64))
    if "regime" in table:
        counts = table["regime"].astype(str).value_counts()
        out["regimes"] = {r: int(counts[r]) for r in REGIMES if r in counts}
    return out


def _fmt(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.3g}"


def _iqr(st: dict[str, Any]) -> str:
    return f"IQR {_fmt(st['q1'])} to {_fmt(st['q3'])}, {st['n']} units"


def findings(table: pd.DataFrame) -> list[dict[str, Any]]:
    """Verdicts ``{"key", "text", "numbers"}`` on how the units move, from the unit table.

    Examples
    --------
    >>> t = pd.DataFrame({"msd_exponent": [1.9, 1.8, 2.0], "regime": ["ballistic"] * 3,
    ...                   "rms_input": [1.0, 1.0, 1.0], "rms_padding": [0.01, 0.02, 0.03],
    ...                   "area_mean_abs": [1.0, 1.0, 1.0]})
    >>> [f["text"] for f in findings(t)][:2]  # doctest: +NORMALIZE_WHITESPACE
    ['Most units move ballistically at short lags (3 of 3 units): median MSD exponent 1.9 (IQR 1.85 to
      1.95, 3 units).', 'Units come to rest in the padding: median padding/input RMS ratio 0.02 (IQR
      0.015 to 0.025, 3 units).']
    """
    out: list[dict[str, Any]] = []
    if "msd_exponent" in table and "regime" in table:
        st = _stats(table["msd_exponent"])
        regimes = table["regime"].astype(str)
        counts = regimes.value_counts()
        if st["n"]:
            top = str(counts.index[0])
            words = {
                "ballistic": "move ballistically at short lags",
                "diffusive": "move diffusively (like a random walk)",
                "sub-diffusive": "move sub-diffusively (confined, slower than a random walk)",
                "super-diffusive": "move super-diffusively (persistent, between random walk and ballistic)",
                "arrested": "are arrested (their MSD plateaus)",
                "undetermined": "could not be classified",
            }
            lead = "Most units" if counts.iloc[0] * 2 > len(table) else "The largest group of units"
            text = (
                f"{lead} {words.get(top, 'are ' + top)} ({int(counts.iloc[0])} of {len(table)} units): "
                f"median MSD exponent {_fmt(st['median'])} ({_iqr(st)})."
            )
            out.append({"key": "msd_exponent", "text": text, "numbers": {**st, "regime": top}})
    if "rms_input" in table and "rms_padding" in table:
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = table["rms_padding"].to_numpy(np.float64) / table["rms_input"].to_numpy(np.float64)
        st = _stats(ratio)
        if st["n"]:
            m = st["median"]
            if m >= 0.5:
                head = "Units keep moving in the padding"
            elif m >= 0.1:
                head = "Units slow down in the padding"
            else:
                head = "Units come to rest in the padding"
            text = f"{head}: median padding/input RMS ratio {_fmt(m)} ({_iqr(st)})."
            out.append({"key": "padding_ratio", "text": text, "numbers": st})
    if "area_mean_abs" in table:
        a = np.sort(table["area_mean_abs"].to_numpy(np.float64)[np.isfinite(table["area_mean_abs"])])[::-1]
        if a.size >= 2 and a.sum() > 0:
            k = max(1, int(np.ceil(0.1 * a.size)))
            share = float(a[:k].sum() / a.sum())
            even = k / a.size
            head = (
                "Activity is concentrated in a few units" if share >= 2 * even else "Activity is spread out"
            )
            text = (
                f"{head}: the top {k} of {a.size} units ({even:.0%}) carry {share:.0%} of the total "
                "area under the mean |delta| curves."
            )
            out.append({"key": "concentration", "text": text, "numbers": {"top": k, "share": share}})
    if "relaxation_tau" in table and "relaxation_r2" in table:
        tau = table["relaxation_tau"].to_numpy(np.float64)
        r2 = table["relaxation_r2"].to_numpy(np.float64)
        fitted = np.isfinite(tau)
        good = fitted & (np.nan_to_num(r2, nan=-np.inf) >= GOOD_FIT)
        st = _stats(tau[good])
        if st["n"]:
            text = (
                f"{st['n']} of {len(table)} units relax to their final value after the input ends "
                f"(exponential fit with R2 >= {GOOD_FIT}): median relaxation time {_fmt(st['median'])} "
                f"steps ({_iqr(st)})."
            )
            out.append({"key": "relaxation", "text": text, "numbers": st})
        elif fitted.any():
            text = (
                f"No unit relaxes cleanly after the input ends: none of the {int(fitted.sum())} "
                f"exponential fits reaches R2 >= {GOOD_FIT} (median R2 {_fmt(float(np.nanmedian(r2)))})."
            )
            out.append({"key": "relaxation", "text": text, "numbers": st})
    if "direction" in table and table["direction"].nunique() > 1 and "area_mean_abs" in table:
        med = table.groupby("direction", sort=True)["area_mean_abs"].median()
        parts = ", ".join(f"{d} {_fmt(float(v))}" for d, v in med.items())
        text = f"The directions move differently: median area under mean |delta| per unit {parts}."
        out.append({"key": "directions", "text": text, "numbers": {str(k): float(v) for k, v in med.items()}})
    return out
