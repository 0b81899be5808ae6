"""Matplotlib figures of trajectories and metric curves.

Every function draws on an ``ax`` (a new figure when none is given) and
returns the axes, in the habit of pandas and seaborn. matplotlib is imported
on first use, so ``import rnndyn`` stays light. Arguments are checked before
anything is drawn: a bad one raises :class:`~rnndyn.RnndynError` and leaves
``ax`` untouched.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ._plot_checks import MAX_BINS as MAX_BINS  # most bins distribution() draws
from ._plot_checks import (
    check_ax,
    check_bins,
    check_cmap,
    check_index,
    check_names,
    check_sequence,
    check_str,
    check_traj,
    check_units,
    curve_array,
)
from ._validation import check_bool, check_choice, check_float, real_array, to_numpy
from .errors import RnndynError
from .trajectories import Trajectories

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["heatmap", "unit_traces", "curves", "distribution", "ensemble", "loglog"]


def _axes(ax: Axes | None, figsize: tuple[float, float] = (7, 4)) -> Axes:
    check_ax(ax)
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt  # falls back to Agg where there is no display

    _, ax = plt.subplots(figsize=figsize)
    return ax


def heatmap(traj: Trajectories, sequence: int = 0, *, ax: Axes | None = None, cmap: str = "RdBu_r") -> Axes:
    """Every unit (columns) at every step (rows) of one sequence, with a
    horizontal line at the sequence's length (the end of real input).

    Examples
    --------
    >>> import numpy as np
    >>> from rnndyn import Trajectories
    >>> ax = heatmap(Trajectories(np.random.default_rng(0).normal(size=(2, 6, 8)), [4, 6]))
    """
    i = check_sequence(traj, sequence)
    check_ax(ax)
    check_cmap(cmap)
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
    units against the step, for one sequence, with a vertical line at its length.

    ``units`` is a non-empty list of distinct unit indices in ``[0, n_units)``.

    Examples
    --------
    >>> import numpy as np
    >>> from rnndyn import Trajectories
    >>> ax = unit_traces(Trajectories(np.zeros((2, 5, 3)), [5, 3]), [0, 2], sequence=1)
    >>> len(ax.lines)      # two units and the end-of-input line
    3
    """
    i = check_sequence(traj, sequence)
    check_choice(what, "what", ("value", "delta"))
    units = check_units(units, traj.n_units)
    if what == "delta" and traj.n_steps < 2:
        raise RnndynError("what='delta' needs at least 2 steps (one step delta); got n_steps=1.")
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
    with optional confidence bands ``lower``/``upper`` of the same shape.

    ``x`` has one value per point; ``labels`` and ``styles`` one str per
    curve; ``lower`` and ``upper`` come together. NaN leaves a gap.

    Examples
    --------
    >>> import numpy as np
    >>> ax = curves(np.arange(6.0).reshape(3, 2), labels=["a", "b"])
    >>> ax.lines[1].get_ydata().tolist()
    [1.0, 3.0, 5.0]
    """
    y = curve_array(y, "y")
    n_pts, n_curves = y.shape
    if x is None:
        xs = np.arange(n_pts)
    else:
        xs = real_array(x, "x")
        if xs.shape != (n_pts,):
            raise RnndynError(f"x must have one value per point, shape ({n_pts},); got shape {xs.shape}.")
    labels = check_names(labels, "labels", n_curves)
    styles = check_names(styles, "styles", n_curves)
    if (lower is None) != (upper is None):
        raise RnndynError("lower and upper come together (a band); pass both or neither.")
    bands = None
    if lower is not None:
        bands = []
        for name, b in (("lower", lower), ("upper", upper)):
            b = real_array(b, name, allow_nan=True)
            if b.shape != y.shape and not (b.ndim == 1 and y.shape[1] == 1 and b.shape == (n_pts,)):
                raise RnndynError(f"{name} must have the shape of y, {y.shape}; got {b.shape}.")
            bands.append(b.reshape(y.shape))
    check_str(xlabel, "xlabel")
    check_str(ylabel, "ylabel")
    logx, logy = check_bool(logx, "logx"), check_bool(logy, "logy")
    ax = _axes(ax)
    for k in range(n_curves):
        label = None if labels is None else labels[k]
        ls = "-" if styles is None else styles[k]
        try:
            (line,) = ax.plot(xs, y[:, k], ls, lw=1.3, label=label)
        except ValueError as exc:
            raise RnndynError(
                f"styles[{k}]={ls!r} is not a matplotlib line format (e.g. '-', '--', ':'): {exc}"
            ) from None
        if bands is not None:
            ax.fill_between(xs, bands[0][:, k], bands[1][:, k], color=line.get_color(), alpha=0.2, lw=0)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if labels is not None:
        ax.legend(fontsize=8)
    return ax


def distribution(
    values: Any, *, bins: int | Sequence[float] = 40, ax: Axes | None = None, xlabel: str = ""
) -> Axes:
    """Histogram of per-unit (or per-sequence) values with the median marked.

    ``values`` must be non-empty and finite (drop NaN first: nothing is
    dropped silently); ``bins`` is an int in ``[1, 10000]`` or the bin
    edges (1-D, strictly increasing).

    Examples
    --------
    >>> ax = distribution([1.0, 2.0, 2.0, 3.0], bins=3)
    >>> [float(p.get_height()) for p in ax.patches]
    [1.0, 2.0, 1.0]
    """
    v = real_array(values, "values").ravel()
    if v.size == 0:
        raise RnndynError("values is empty; there is nothing to draw a histogram of.")
    bins = check_bins(bins)
    if isinstance(bins, np.ndarray) and (v.min() < bins[0] or v.max() > bins[-1]):
        out = int(((v < bins[0]) | (v > bins[-1])).sum())
        raise RnndynError(
            f"bins: {out} value(s) lie outside the edges [{bins[0]:g}, {bins[-1]:g}] and would be left out "
            f"of the histogram (values span [{v.min():g}, {v.max():g}]); widen the edges or pass a number."
        )
    check_str(xlabel, "xlabel")
    ax = _axes(ax)
    ax.hist(v, bins=bins, color="tab:blue", alpha=0.8)
    ax.axvline(float(np.median(v)), color="k", ls="--", lw=1, label=f"median {np.median(v):.3g}")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("count")
    ax.legend(fontsize=8)
    return ax


def ensemble(traj: Trajectories, unit: int, *, ax: Axes | None = None, alpha: float = 0.05) -> Axes:
    """One unit over every sequence (faint lines) with the mean (dashed).

    ``alpha`` is the opacity of the faint lines, in ``(0, 1]``.

    Examples
    --------
    >>> import numpy as np
    >>> from rnndyn import Trajectories
    >>> ax = ensemble(Trajectories(np.ones((4, 5, 2))), 1)
    >>> len(ax.lines)      # four sequences and the mean
    5
    """
    unit = check_index(unit, "unit", check_traj(traj).n_units, "unit")
    alpha = check_float(alpha, "alpha", minimum=0.0, maximum=1.0, exclusive_minimum=True)
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
    slope-2 guide lines (Brownian and ballistic).

    ``curve`` is ``(n_lags, n_curves)`` (or 1-D) and must not be negative;
    ``lags`` (default ``0, 1, ...``) has one value per row, at least one of
    them ``> 0``. A zero value has no place on a log axis and is not drawn.

    Examples
    --------
    >>> import numpy as np
    >>> ax = loglog(np.arange(5.0) ** 2, guides=False)
    >>> ax.lines[0].get_xdata().tolist()      # lag 0 left out
    [1.0, 2.0, 3.0, 4.0]
    """
    y = curve_array(curve, "curve")
    if np.any(y < 0):
        raise RnndynError(
            f"curve holds {int((y < 0).sum())} negative value(s); an MSD-like curve cannot be negative "
            "and a log axis cannot show it. Plot it with curves() instead."
        )
    if lags is None:
        lag = np.arange(y.shape[0], dtype=np.float64)
    else:
        lag = real_array(lags, "lags")
        if lag.shape != (y.shape[0],):
            raise RnndynError(
                f"lags must have one value per row of curve, shape ({y.shape[0]},); got {lag.shape}."
            )
        if np.any(lag < 0):
            raise RnndynError("lags must be >= 0 (lag 0 is left out, negative lags do not exist).")
    guides = check_bool(guides, "guides")
    check_ax(ax)
    keep = lag > 0
    if not keep.any():
        raise RnndynError("loglog needs at least one lag > 0 (lag 0 is left out on a log axis); got none.")
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
