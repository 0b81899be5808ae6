"""Static PNG figures of the analysis, for papers: drawn with :mod:`rnndyn.plots`, returned as bytes.

Each figure is a :class:`matplotlib.figure.Figure` made without pyplot (so the
user's backend and open figures are left alone) and saved to PNG in memory;
:func:`figures` returns ``{file name: PNG bytes}`` for ``figures/``.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import numpy as np

from . import plots
from ._explore_data import ExploreData, across_units
from .trajectories import Trajectories

__all__ = ["figures"]

_DPI = 110


def _png(draw: Callable[[Any], None], size: tuple[float, float] = (6.4, 4.0)) -> bytes:
    from matplotlib.figure import Figure

    fig = Figure(figsize=size)
    draw(fig.subplots())
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI, bbox_inches="tight")
    return buf.getvalue()


def _finite(values: Any) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    return v[np.isfinite(v)]


def _population(
    curve: np.ndarray, *, first: int, ylabel: str, log: bool, xlabel: str
) -> Callable[[Any], None] | None:
    q = across_units(curve)[:, first:]
    x = np.arange(first, first + q.shape[1])
    keep = np.isfinite(q[1]) & ((q[0] > 0) if log else True)
    if not keep.any():
        return None

    def draw(ax: Any) -> None:
        plots.curves(
            q[1][keep, None],
            x=x[keep],
            lower=q[0][keep, None],
            upper=q[2][keep, None],
            labels=["median over units (10-90% band)"],
            ax=ax,
            xlabel=xlabel,
            ylabel=ylabel,
            logx=log,
            logy=log,
        )

    return draw


def _regions(rms: np.ndarray) -> Callable[[Any], None]:
    med = np.stack([across_units(rms[1])[1], across_units(rms[2])[1]], axis=1)

    def draw(ax: Any) -> None:
        plots.curves(
            med, labels=["input deltas", "padding deltas"], ax=ax, xlabel="step t", ylabel="RMS delta"
        )
        ax.set_title("median over units of the RMS step delta")

    return draw


def _scatter(
    x: np.ndarray, y: np.ndarray, c: np.ndarray, labels: tuple[str, str, str]
) -> Callable[[Any], None]:
    def draw(ax: Any) -> None:
        ok = np.isfinite(x) & np.isfinite(y)
        cc = np.where(np.isfinite(c), c, np.nan)[ok]
        pts = ax.scatter(x[ok], y[ok], c=cc, s=14, cmap="viridis")
        if np.isfinite(cc).any():
            ax.figure.colorbar(pts, ax=ax, label=labels[2])
        ax.set_xlabel(labels[0])
        ax.set_ylabel(labels[1])

    return draw


def figures(traj: Trajectories, data: ExploreData) -> dict[str, bytes]:
    """``{"name.png": PNG bytes}``: the population figures, the unit map and one sequence's heatmap."""
    t = data.table
    draw: dict[str, Callable[[Any], None]] = {}
    area = _finite(t["area_mean_abs"])
    if area.size:
        draw["area_per_unit"] = lambda ax: plots.distribution(
            area, ax=ax, xlabel="area under mean |delta| (sum over steps)"
        )
    alpha = _finite(t["msd_exponent"])
    if alpha.size:
        draw["msd_exponent"] = lambda ax: plots.distribution(alpha, ax=ax, xlabel="MSD exponent")
    for name, fn in (
        ("msd_population", _population(data.msd[0], first=1, ylabel="MSD", log=True, xlabel="lag")),
        (
            "vacf_population",
            _population(data.vacf[0], first=0, ylabel="VACF / VACF(0)", log=False, xlabel="lag"),
        ),
    ):
        if fn is not None:
            draw[name] = fn
    draw["rms_delta_steps"] = _regions(data.rms)
    exponent = t["msd_exponent"].to_numpy(np.float64)
    draw["rms_input_vs_padding"] = _scatter(
        t["rms_input"].to_numpy(np.float64),
        t["rms_padding"].to_numpy(np.float64),
        exponent,
        ("RMS delta over input", "RMS delta over padding", "MSD exponent"),
    )
    draw["unit_map"] = _scatter(
        data.coords[:, 0], data.coords[:, 1], exponent, ("PC 1", "PC 2", "MSD exponent")
    )
    draw["heatmap_sequence0"] = lambda ax: plots.heatmap(traj, 0, ax=ax)
    out = {}
    for name, fn in draw.items():
        size = (9.0, 4.0) if name == "heatmap_sequence0" else (6.4, 4.0)
        out[f"{name}.png"] = _png(fn, size)
    return out
