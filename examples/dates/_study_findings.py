"""The "Findings" of the date study: each founding claim tested, with numbers and intervals."""

from __future__ import annotations

from typing import Any

from rnndyn.physics import classify_regime

__all__ = ["fmt", "ci", "findings", "headline"]

#: What each MSD regime says about a unit's motion.
MEANING = {
    "ballistic": "a smooth, persistent drift",
    "super-diffusive": "a persistent drift",
    "diffusive": "random-walk-like",
    "sub-diffusive": "confined, the MSD levels off",
    "arrested": "a plateau, the state has settled",
    "undetermined": "no fit",
}


def fmt(v: Any, digits: int = 3) -> str:
    """A number with ``digits`` significant digits ("n/a" for None/NaN)."""
    if v is None:
        return "n/a"
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    if f != f:
        return "n/a"
    return f"{f:.{digits}g}"


def ci(d: dict | None, digits: int = 3, pct: bool = False) -> str:
    """``"estimate [low, high]"`` of an interval dict (percent when ``pct``)."""
    if d is None:
        return "n/a"
    k = 100.0 if pct else 1.0
    unit = "%" if pct else ""

    def f(v: Any) -> str:
        return "n/a" if v is None else fmt(float(v) * k, digits) + unit

    if d.get("low") is None:
        return f(d["estimate"])
    return f"{f(d['estimate'])} [{f(d['low'])}, {f(d['high'])}]"


def _g(res: dict, state: str, direction: str, which: str = "trained") -> dict:
    return res[which]["numbers"]["groups"][state][direction]


def headline(res: dict, which: str = "trained") -> dict[str, Any]:
    """The headline numbers of one network, as interval dicts (or plain numbers)."""
    nb = res[which]["numbers"]["notebook"]
    out: dict[str, Any] = {
        "rms_ratio_input_over_padding (h, all 512)": nb["rms_ratio_input_over_padding"],
    }
    for d in ("forward", "backward"):
        out[f"rms_ratio_input_over_padding (h, {d})"] = _g(res, "h", d, which)["rms_ratio_input_over_padding"]
    out["area median"] = nb["area_describe"]["50%"]
    out["area max"] = nb["area_describe"]["max"]
    out["share of area, top 5% units"] = nb["share_top5pct"]
    out["share of area, top 10% units"] = nb["share_top10pct"]
    for d in ("forward", "backward"):
        r = _g(res, "h", d, which)["relaxation"]
        out[f"relaxation tau median ({d})"] = r["tau_median_good_fits"]
        out[f"relaxation good-fit fraction ({d})"] = r["fraction_good_fit"]
    for d in ("forward", "backward"):
        for region in ("input", "padding"):
            out[f"MSD exponent median ({d}, {region})"] = _g(res, "h", d, which)["msd"][region][
                "alpha_median"
            ]
    return out


def _verdict_ratio(r: dict) -> str:
    if r["low"] is not None and r["low"] > 2:
        return "holds"
    if r["low"] is not None and r["low"] > 1:
        return "holds, weakly"
    return "does not hold"


def _overlap(a: dict, b: dict) -> bool:
    if not isinstance(a, dict) or not isinstance(b, dict) or a.get("low") is None or b.get("low") is None:
        return True
    return not (a["high"] < b["low"] or b["high"] < a["low"])


def findings(results: dict) -> tuple[list[str], dict[str, Any]]:
    """Bullet texts and the verdicts (for ``summary.json``), one block per framework."""
    bullets: list[str] = []
    verdicts: dict[str, Any] = {}
    for fw, res in results.items():
        nb = res["trained"]["numbers"]["notebook"]
        nbn = res["untrained"]["numbers"]["notebook"]
        v: dict[str, Any] = {}
        # 1. padding moves the state much less than characters
        r = nb["rms_ratio_input_over_padding"]
        v["padding_moves_less"] = _verdict_ratio(r)
        per_dir = ", ".join(
            f"{d} {ci(_g(res, 'h', d)['rms_ratio_input_over_padding'])}" for d in ("forward", "backward")
        )
        bullets.append(
            f"[{fw}] Characters move the state more than pads: {v['padding_moves_less']}. RMS step delta "
            f"over input steps / over padding steps = {ci(r)} for the 512 outputs ({per_dir}); the "
            f"untrained twin gives {ci(nbn['rms_ratio_input_over_padding'])}."
        )
        # 2. a few units dominate
        s5, s10 = nb["share_top5pct"], nb["share_top10pct"]
        ratio10 = s10["estimate"] / 0.10
        v["few_units_dominate"] = (
            "holds" if ratio10 >= 2 else ("partly" if ratio10 >= 1.3 else "does not hold")
        )
        desc = nb["area_describe"]
        bullets.append(
            f"[{fw}] A few units dominate: {v['few_units_dominate']}. The top 5% of units hold "
            f"{ci(s5, pct=True)} of the total area and the top 10% hold {ci(s10, pct=True)} (10% if "
            f"all were equal; untrained: {ci(nbn['share_top10pct'], pct=True)}); max/median area = "
            f"{fmt(desc['max']['estimate'] / desc['50%']['estimate'])} (notebook 5.4/1.1 = 4.9)."
        )
        # 3. relaxation to a terminal value
        rf = _g(res, "h", "forward")["relaxation"]
        rb = _g(res, "h", "backward")["relaxation"]
        good = rf["fraction_good_fit"]["estimate"]
        v["relaxes_to_terminal_value"] = (
            "holds" if good >= 0.5 else ("partly" if good >= 0.2 else "does not hold")
        )
        md = nb["most_dynamic_unit"]
        bullets.append(
            f"[{fw}] The state relaxes to a terminal value once the input ends: "
            f"{v['relaxes_to_terminal_value']}. Forward units: {ci(rf['fraction_good_fit'], pct=True)} "
            f"fit an exponential approach with R^2 >= 0.9, median tau = {ci(rf['tau_median_good_fits'])} "
            f"steps. Backward units read the padding first: from h0 = 0 they approach a padding fixed "
            f"point (median tau {fmt(rb['tau_median_good_fits']['estimate'])} steps, the same path for "
            f"every string, spread {fmt(rb['max_spread_across_strings'])}), so in input order their "
            f"'terminal value' is their first step. The most dynamic unit ({md['unit']}, {md['direction']}) "
            f"ends at {ci(md['final_mean'])} with spread {fmt(md['final_std'])} over strings."
        )
        # 4. Brownian vs ballistic
        a = {(d, r): _g(res, "h", d)["msd"][r] for d in ("forward", "backward") for r in ("input", "padding")}
        brownian = [
            abs(a[(d, "padding")]["alpha_median"]["estimate"] - 1) <= 0.2 for d in ("forward", "backward")
        ]
        v["padding_is_brownian"] = (
            "holds" if all(brownian) else ("for one direction only" if any(brownian) else "does not hold")
        )

        def regimes(d: str, r: str, a: dict = a) -> str:
            c = a[(d, r)]["regime_counts"]
            return ", ".join(f"{k} {n}" for k, n in c.items() if n)

        def named(d: str, r: str, a: dict = a) -> str:
            m = a[(d, r)]["alpha_median"]
            regime = str(classify_regime(m["estimate"]))
            return f"{d} {ci(m)} ({regime}: {MEANING[regime]})"

        bullets.append(
            f"[{fw}] 'Pads act like weak Brownian noise' (MSD exponent 1): {v['padding_is_brownian']}. "
            f"Median MSD exponent over padding steps: {named('forward', 'padding')}; "
            f"{named('backward', 'padding')}. Over input steps: {named('forward', 'input')}; "
            f"{named('backward', 'input')}. Units per regime, forward padding: "
            f"{regimes('forward', 'padding')}; backward padding: {regimes('backward', 'padding')}."
        )
        verdicts[fw] = v
    if len(results) == 2:
        (fa, ra), (fb, rb_) = results.items()
        ha, hb = headline(ra), headline(rb_)
        differ = [k for k in ha if not _overlap(ha[k], hb[k])]
        acc = f"exact match {fmt(ra['accuracy'])} vs {fmt(rb_['accuracy'])}"
        bullets.append(
            f"[{fa} vs {fb}] Same architecture, data and vocabulary, separately trained ({acc}). "
            f"Headline numbers whose 95% intervals do not overlap: "
            + ("; ".join(f"{k}: {ci(ha[k])} vs {ci(hb[k])}" for k in differ) if differ else "none")
            + ". Verdicts: "
            + (
                "the same for both"
                if verdicts[fa] == verdicts[fb]
                else "; ".join(
                    f"{k.replace('_', ' ')}: {verdicts[fa][k]} vs {verdicts[fb][k]}"
                    for k in verdicts[fa]
                    if verdicts[fa][k] != verdicts[fb][k]
                )
            )
            + "."
        )
        verdicts["differences"] = differ
    return bullets, verdicts
