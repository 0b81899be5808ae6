"""Shared pieces of the study's figures: the panel grid, the result lookups, colours, banded curves."""

from __future__ import annotations

import rnndyn

from ._study_types import FrameworkResult, Results

__all__ = ["COLORS", "grid", "nb", "grp", "dyn", "example_traj", "band_plot"]

COLORS = {"forward": "tab:blue", "backward": "tab:red"}


def grid(results: Results, rows: int = 1, width: float = 6.2, height: float = 3.6):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    cols = len(results)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    return fig, axes


def nb(res: FrameworkResult, which: str = "trained") -> dict:
    return res[which]["arrays"]["notebook"]


def grp(res: FrameworkResult, state: str, direction: str, which: str = "trained") -> dict:
    return res[which]["arrays"]["groups"][state][direction]


def example_traj(res: FrameworkResult) -> rnndyn.Trajectories:
    a = nb(res)
    return rnndyn.Trajectories(a["examples"], a["example_lengths"], inputs=a["example_strings"])


def band_plot(ax, x, y, band, color, label, ls="-") -> None:
    ax.plot(x, y, ls, color=color, lw=1.4, label=label)
    if band is not None:
        ax.fill_between(x, band["low"], band["high"], color=color, alpha=0.2, lw=0)


def dyn(res: FrameworkResult, which: str = "trained") -> dict:
    return res[which]["arrays"]["dynamics"]
