"""Matplotlib figures of trajectories and metric curves.

Every function draws on an ``ax`` (a new figure when none is given) and
returns the axes, in the habit of pandas and seaborn. matplotlib is imported
on first use, so ``import rnndyn`` stays light.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ._validation import to_numpy
from .errors import RnndynError
from .trajectories import Trajectories

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["heatmap", "unit_traces", "curves", "distribution", "ensemble", "loglog"]


def _axes(ax: Axes | None, figsize: tuple[float, float] = (7, 4)) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt  # falls back to Agg where there is no display

    _, ax = plt.subplots(figsize=figsize)
    return ax


def _check_sequence(traj: Trajectories, sequence: int) -> int:
    if not -traj.n_sequences <= sequence < traj.n_sequences:
        raise RnndynError(f"sequence must be in [0, {traj.n_sequences}); got {sequence}.")
    return sequence % traj.n_sequences


def heatmap(traj: Trajectories, sequence: int = 0, *, ax: Axes | None = None, cmap: str = "RdBu_r") -> Axes:
    """Every unit (columns) at every step (rows) of one sequence, with a
    horizontal line at the sequence's length (the end of real input).

    Examples
    --------
    >>> import numpy as np
    >>> from rnndyn import Trajectories
    >>> ax = heatmap(Trajectories(np.random.default_rng(0).normal(size=(2, 6, 8)), [4, 6]))
    """
    i = _check_sequence(traj, sequence)
    ax = _axes(ax, (9, 4))
    img = to_numpy(traj.states[i])
    lim = float(np.abs(img).max()) or 1.0
    im = ax.imshow(img, aspect="auto", cmap=cmap, vmin=-lim, vmax=lim, interpolation="nearest")
    ax.axhline(int(traj.lengths[i]) - 0.5, color="k", lw=1.5, ls="--", label="end of input")
    ax.set_xlabel("unit")
    ax.set_ylabel("step")
    title = f"sequence {i}"
    if traj.inputs is not None:
        title = repr(traj.inputs[i])
    ax.set_title(f"{title} (length {int(traj.lengths[i])})")
    ax.figure.colorbar(im, ax=ax, label="state")
    ax.legend(loc="lower right", fontsize=8)
    return ax


def unit_traces(
    traj: Trajectories,
    units: Sequence[int],
    *,
    sequence: int = 0,
    what: str = "value",
    ax: Axes | None = None,
) -> Axes:
    """Value (``what="value"``) or step delta (``what="delta"``) of a few
    units against the step, for one sequence, with a vertical line at its length."""
    i = _check_sequence(traj, sequence)
    if what not in ("value", "delta"):
        raise RnndynError(f"what must be 'value' or 'delta'; got {what!r}.")
    ax = _axes(ax)
    x = to_numpy(traj.states[i]).astype(np.float64)
    if what == "delta":
        x = np.diff(x, axis=0)
    for u in units:
        ax.plot(np.arange(x.shape[0]), x[:, u], marker=".", lw=1, label=f"unit {u}")
    ax.axvline(int(traj.lengths[i]) - (1 if what == "delta" else 0), color="k", ls="--", lw=1)
    ax.set_xlabel("step" if what == "value" else "step t (delta x[t+1] - x[t])")
    ax.set_ylabel("state" if what == "value" else "step delta")
    ax.legend(fontsize=8)
    return ax


def curves(
    y: Any,
    *,
    x: Any = None,
    labels: Sequence[str] | None = None,
    lower: Any = None,
    upper: Any = None,
    ax: Axes | None = None,
    xlabel: str = "step",
    ylabel: str = "",
    logx: bool = False,
    logy: bool = False,
    styles: Sequence[str] | None = None,
) -> Axes:
    """Line plot of the columns of ``y`` (shape ``(n_points, n_curves)``),
    with optional confidence bands ``lower``/``upper`` of the same shape."""
    ax = _axes(ax)
    y = np.asarray(to_numpy(y), dtype=np.float64)
    if y.ndim == 1:
        y = y[:, None]
    xs = np.arange(y.shape[0]) if x is None else np.asarray(x)
    for k in range(y.shape[1]):
        label = None if labels is None else labels[k]
        ls = "-" if styles is None else styles[k]
        (line,) = ax.plot(xs, y[:, k], ls, lw=1.3, label=label)
        if lower is not None and upper is not None:
            lo = np.asarray(lower, dtype=np.float64).reshape(y.shape)[:, k]
            hi = np.asarray(upper, dtype=np.float64).reshape(y.shape)[:, k]
            ax.fill_between(xs, lo, hi, color=line.get_color(), alpha=0.2, lw=0)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if labels is not None:
        ax.legend(fontsize=8)
    return ax


def distribution(values: Any, *, bins: int = 40, ax: Axes | None = None, xlabel: str = "") -> Axes:
    """Histogram of per-unit (or per-sequence) values with the median marked."""
    ax = _axes(ax)
    v = np.asarray(to_numpy(values), dtype=np.float64).ravel()
    ax.hist(v, bins=bins, color="tab:blue", alpha=0.8)
    ax.axvline(float(np.median(v)), color="k", ls="--", lw=1, label=f"median {np.median(v):.3g}")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("count")
    ax.legend(fontsize=8)
    return ax


def ensemble(traj: Trajectories, unit: int, *, ax: Axes | None = None, alpha: float = 0.05) -> Axes:
    """One unit over every sequence (faint lines) with the mean (dashed)."""
    if not 0 <= unit < traj.n_units:
        raise RnndynError(f"unit must be in [0, {traj.n_units}); got {unit}.")
    ax = _axes(ax)
    x = to_numpy(traj.states[:, :, unit]).astype(np.float64)
    ax.plot(np.arange(traj.n_steps), x.T, color="tab:blue", lw=0.5, alpha=alpha)
    ax.plot(np.arange(traj.n_steps), x.mean(axis=0), "k--", lw=2, label="mean over sequences")
    ax.set_xlabel("step")
    ax.set_ylabel(f"unit {unit}")
    ax.legend(fontsize=8)
    return ax


def loglog(
    curve: Any,
    *,
    lags: Any = None,
    labels: Sequence[str] | None = None,
    ax: Axes | None = None,
    ylabel: str = "MSD",
    guides: bool = True,
) -> Axes:
    """MSD-like curves on log-log axes (lag 0 dropped) with slope-1 and
    slope-2 guide lines (Brownian and ballistic)."""
    y = np.asarray(to_numpy(curve), dtype=np.float64)
    if y.ndim == 1:
        y = y[:, None]
    lag = np.arange(y.shape[0]) if lags is None else np.asarray(lags)
    keep = lag > 0
    ax = curves(
        y[keep],
        x=lag[keep],
        labels=labels,
        ax=ax,
        xlabel="lag",
        ylabel=ylabel,
        logx=True,
        logy=True,
    )
    if guides and np.any(y[keep] > 0):
        m = lag[keep].astype(float)
        y0 = float(np.nanmedian(np.where(y[keep][0] > 0, y[keep][0], np.nan)))
        ax.plot(m, y0 * m, "k:", lw=1, label="slope 1 (Brownian)")
        ax.plot(m, y0 * m**2, "k-.", lw=1, label="slope 2 (ballistic)")
        ax.legend(fontsize=8)
    return ax
