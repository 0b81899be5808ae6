"""The figures of the date study: one panel per framework, side by side.

Each function takes ``results`` (framework -> the output of
:func:`examples.dates._study_pipeline.run_framework`) and returns a matplotlib figure;
:class:`rnndyn.report.Report` saves, embeds and closes it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import rnndyn
from rnndyn import plots
from rnndyn.report import Report

from . import _study_plotting as P
from ._study_figures_dynamics import modes, predicted, spectra
from ._study_types import Results

__all__ = ["FIGURES", "add_figure"]


def heatmap(results: Results) -> Any:
    fig, axes = P.grid(results, width=7.0, height=4.4)
    for ax, (fw, res) in zip(axes[0], results.items(), strict=True):
        plots.heatmap(P.example_traj(res), 0, ax=ax)
        ax.set_title(f"{fw}: {ax.get_title()}")
        ax.axvline(255.5, color="0.3", lw=0.8)
        ax.set_xlabel("encoder output (0-255 forward, 256-511 backward)")
    return fig


def random_traces(results: Results, what: str) -> Any:
    fig, axes = P.grid(results)
    for ax, (fw, res) in zip(axes[0], results.items(), strict=True):
        units = res["trained"]["numbers"]["notebook"]["random_units"]
        plots.unit_traces(P.example_traj(res), units, sequence=0, what=what, ax=ax)
        ax.set_title(f"{fw}: five random units, {'value' if what == 'value' else 'step delta'}")
    return fig


def lengths(lengths_: np.ndarray) -> Any:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.2, 3.4))
    plots.distribution(lengths_, bins=np.arange(lengths_.min() - 0.5, lengths_.max() + 1.5), ax=ax)
    ax.set_xlabel("string length (characters)")
    ax.set_title(f"{lengths_.size} validation strings")
    return fig


def unit_curves(results: Results, key: str) -> Any:
    """Mean |delta| (top row, the notebook's "RMS") and true RMS (bottom) per step."""
    fig, axes = P.grid(results, rows=2, height=3.2)
    for j, (fw, res) in enumerate(results.items()):
        c = P.nb(res)[key]
        labels = [f"unit {u}" for u in c["units"]]
        for i, (name, title) in enumerate(
            (("mean_abs", "mean |delta| (notebook's 'RMS')"), ("rms", "true RMS"))
        ):
            band = c[f"{name}_band"]
            plots.curves(
                c[name],
                lower=band["low"],
                upper=band["high"],
                labels=labels,
                ax=axes[i, j],
                xlabel="step t (delta x[t+1] - x[t])",
                ylabel=title,
            )
            axes[i, j].set_title(f"{fw}: {title} over strings, 95% CI")
    fig.tight_layout()
    return fig


def areas(results: Results) -> Any:
    fig, axes = P.grid(results)
    for ax, (fw, res) in zip(axes[0], results.items(), strict=True):
        a = P.nb(res)["area"]
        plots.distribution(a, bins=40, ax=ax, xlabel="area = sum over steps of mean |delta|")
        null = P.nb(res, "untrained")["area"]
        ax.hist(null, bins=40, histtype="step", color="0.4", label="untrained (null)")
        ax.legend(fontsize=8)
        ax.set_title(f"{fw}: area per unit (512 encoder outputs)")
    return fig


def ensemble(results: Results) -> Any:
    fig, axes = P.grid(results)
    for ax, (fw, res) in zip(axes[0], results.items(), strict=True):
        x = P.nb(res)["ensemble"]
        traj = rnndyn.Trajectories(x[:, :, None])
        plots.ensemble(traj, 0, ax=ax, alpha=min(0.3, 20.0 / max(len(x), 1)))
        u = res["trained"]["numbers"]["notebook"]["most_dynamic_unit"]
        ax.set_ylabel(f"unit {u['unit']} ({u['direction']})")
        ax.set_title(f"{fw}: the most dynamic unit over every string")
    return fig


def step_rms(results: Results, state: str = "h") -> Any:
    fig, axes = P.grid(results)
    for ax, (fw, res) in zip(axes[0], results.items(), strict=True):
        for d in ("forward", "backward"):
            g = P.grp(res, state, d)
            x = np.arange(g["step_rms"].size)
            P.band_plot(ax, x, g["step_rms"], g["step_rms_band"], P.COLORS[d], f"{d} (trained)")
            if state in res["untrained"]["arrays"]["groups"]:
                n = P.grp(res, state, d, "untrained")
                ax.plot(x, n["step_rms"], ":", color=P.COLORS[d], lw=1.2, label=f"{d} (untrained)")
        ax.set_yscale("log")
        ax.set_xlabel("processing step k (each direction in the order it ran)")
        ax.set_ylabel(f"RMS delta of {state}, over units and strings")
        ax.set_title(f"{fw}: {state}, directions separated, 95% CI")
        ax.legend(fontsize=7)
    return fig


def aligned(results: Results) -> Any:
    fig, axes = P.grid(results)
    for ax, (fw, res) in zip(axes[0], results.items(), strict=True):
        for d in ("forward", "backward"):
            g = P.grp(res, "h", d)
            P.band_plot(
                ax,
                g["aligned_offsets"],
                g["aligned_rms"],
                g["aligned_band"],
                P.COLORS[d],
                f"{d}: 0 = {g['boundary']}",
            )
            n = P.grp(res, "h", d, "untrained")
            ax.plot(
                n["aligned_offsets"], n["aligned_rms"], ":", color=P.COLORS[d], lw=1.2, label=f"{d} untrained"
            )
        ax.axvline(-0.5, color="k", lw=0.8, ls="--")
        ax.set_yscale("log")
        ax.set_xlabel("deltas since the regime boundary (processing order)")
        ax.set_ylabel("RMS delta of h")
        ax.set_title(f"{fw}: aligned at the input/padding boundary, 95% CI")
        ax.legend(fontsize=7)
    return fig


def relaxation(results: Results) -> Any:
    fig, axes = P.grid(results)
    for ax, (fw, res) in zip(axes[0], results.items(), strict=True):
        for d, what in (("forward", "after input ends"), ("backward", "leading padding, from h0 = 0")):
            g = P.grp(res, "h", d)["relaxation"]
            P.band_plot(ax, g["offsets"], g["curve"], g["band"], P.COLORS[d], f"{d}: {what}")
            n = P.grp(res, "h", d, "untrained")["relaxation"]
            ax.plot(n["offsets"], n["curve"], ":", color=P.COLORS[d], lw=1.2, label=f"{d} untrained")
            if "fixed_point" in g:
                f = g["fixed_point"]
                P.band_plot(
                    ax,
                    f["offsets"],
                    f["curve"],
                    f["band"],
                    P.COLORS[d],
                    f"{d}: toward the pad fixed point",
                    "--",
                )
        ax.set_yscale("log")
        ax.set_xlabel("steps k")
        ax.set_ylabel("median over units of D(k) / D(0)")
        ax.set_title(f"{fw}: relaxation to the terminal state, h")
        ax.legend(fontsize=7)
    return fig


def taus(results: Results) -> Any:
    fig, axes = P.grid(results)
    for ax, (fw, res) in zip(axes[0], results.items(), strict=True):
        for which, style in (("trained", "bar"), ("untrained", "step")):
            r = P.grp(res, "h", "forward", which)["relaxation"]
            t = r["tau"][(r["r2"] >= 0.9) & np.isfinite(r["tau"]) & (r["tau"] > 0)]
            if t.size:
                ax.hist(
                    np.clip(t, 0, 60),
                    bins=np.linspace(0, 60, 31),
                    histtype=style,
                    alpha=0.7,
                    label=f"{which} ({t.size} units with R^2 >= 0.9)",
                )
        ax.set_xlabel("relaxation time tau (steps; clipped at 60)")
        ax.set_ylabel("forward units")
        ax.set_title(f"{fw}: relaxation times after the input ends")
        ax.legend(fontsize=7)
    return fig


def msd(results: Results) -> Any:
    fig, axes = P.grid(results, height=4.0)
    for ax, (fw, res) in zip(axes[0], results.items(), strict=True):
        for d in ("forward", "backward"):
            for region, ls in (("input", "-"), ("padding", "--")):
                m = P.grp(res, "h", d)["msd"][region]
                lag = m["lags"][1:]
                P.band_plot(
                    ax,
                    lag,
                    m["msd_median"][1:],
                    {k: v[1:] for k, v in m["msd_band"].items()},
                    P.COLORS[d],
                    f"{d}, {region}",
                    ls,
                )
        lag = np.arange(1, 11, dtype=float)
        y0 = float(np.nanmedian(P.grp(res, "h", "forward")["msd"]["input"]["msd_median"][1]))
        ax.plot(lag, y0 * lag, "k:", lw=1, label="slope 1 (Brownian)")
        ax.plot(lag, y0 * lag**2, "k-.", lw=1, label="slope 2 (ballistic)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("lag m (steps)")
        ax.set_ylabel("MSD of h, median over units")
        ax.set_title(f"{fw}: time-averaged MSD per region, 95% CI")
        ax.legend(fontsize=7, ncol=2)
    return fig


def exponents(results: Results) -> Any:
    fig, axes = P.grid(results)
    bins = np.linspace(-0.5, 2.5, 31)
    for ax, (fw, res) in zip(axes[0], results.items(), strict=True):
        for d in ("forward", "backward"):
            for region, style in (("input", "bar"), ("padding", "step")):
                a = P.grp(res, "h", d)["msd"][region]["alpha"]
                ax.hist(
                    np.clip(a[np.isfinite(a)], -0.5, 2.5),
                    bins=bins,
                    histtype=style,
                    alpha=0.55,
                    color=P.COLORS[d],
                    lw=1.5,
                    label=f"{d}, {region}",
                )
        for v in (1.0, 2.0):
            ax.axvline(v, color="k", lw=0.8, ls=":")
        ax.set_xlabel("MSD exponent alpha (1 Brownian, 2 ballistic)")
        ax.set_ylabel("units")
        ax.set_title(f"{fw}: exponent per unit, h")
        ax.legend(fontsize=7)
    return fig


def vacf(results: Results) -> Any:
    fig, axes = P.grid(results)
    for ax, (fw, res) in zip(axes[0], results.items(), strict=True):
        for d in ("forward", "backward"):
            for region, ls in (("input", "-"), ("padding", "--")):
                m = P.grp(res, "h", d)["msd"][region]
                lag = m["lags"]
                ax.plot(lag, m["vacf_median"], ls, color=P.COLORS[d], lw=1.4, label=f"{d}, {region}")
                ax.fill_between(lag, m["vacf_q"][0], m["vacf_q"][1], color=P.COLORS[d], alpha=0.12, lw=0)
        ax.axhline(0, color="k", lw=0.6)
        ax.set_xlabel("lag s (steps)")
        ax.set_ylabel("C(s) / C(0), median over units (IQR)")
        ax.set_title(f"{fw}: velocity autocorrelation, h")
        ax.legend(fontsize=7)
    return fig


def diffusion(results: Results) -> Any:
    fig, axes = P.grid(results, height=4.2, width=5.2)
    for ax, (fw, res) in zip(axes[0], results.items(), strict=True):
        lo, hi = np.inf, 0.0
        for d in ("forward", "backward"):
            for region, marker in (("input", "o"), ("padding", "x")):
                m = P.grp(res, "h", d)["msd"][region]
                e, g = m["d_einstein"], m["d_green_kubo"]
                ok = (e > 0) & (g > 0)
                ax.scatter(
                    e[ok], g[ok], s=6, marker=marker, color=P.COLORS[d], alpha=0.5, label=f"{d}, {region}"
                )
                if ok.any():
                    lo, hi = min(lo, e[ok].min(), g[ok].min()), max(hi, e[ok].max(), g[ok].max())
        if np.isfinite(lo) and hi > 0:
            ax.plot([lo, hi], [lo, hi], "k--", lw=0.8, label="equal")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("D (Einstein: MSD slope / 2)")
        ax.set_ylabel("D (Green-Kubo: VACF sum)")
        ax.set_title(f"{fw}: diffusion coefficient per unit, h")
        ax.legend(fontsize=7, markerscale=2)
    return fig


FIGURES = {
    "heatmap": heatmap,
    "random_traces": random_traces,
    "lengths": lengths,
    "unit_curves": unit_curves,
    "areas": areas,
    "ensemble": ensemble,
    "step_rms": step_rms,
    "aligned": aligned,
    "relaxation": relaxation,
    "taus": taus,
    "msd": msd,
    "exponents": exponents,
    "vacf": vacf,
    "diffusion": diffusion,
    "spectra": spectra,
    "modes": modes,
    "predicted": predicted,
}


def add_figure(rep: Report, results: Results, key: str, name: str, caption: str, *args: Any) -> None:
    """Draw the figure ``FIGURES[key](results, *args)`` and add it to ``rep`` as ``name``."""
    rep.figure(FIGURES[key](results, *args), name, caption=caption, dpi=80)
