"""The analysis of any set of trajectories, as a report folder you explore in a browser.

:func:`analyze` writes, atomically (as :meth:`rnndyn.report.Report.write`)::

    out/
      index.html       one self-contained interactive page: no network, no server
      figures/*.png    static figures for papers (rnndyn.plots)
      tables/*.csv     the per-unit table (rnndyn.summary.unit_summary), the unit
                       map, and the RMS delta, MSD and VACF curves per unit and region
      summary.json     the findings with their numbers, per-column statistics,
                       the provenance (meta)
      .rnndyn-manifest.json

The page shows the unit table (sortable, filterable), a unit map (units
placed by their metric profile, so that units which behave alike sit
together), the trajectories, step deltas, MSD and VACF of the unit you click
(input and padding apart), the population figures and the findings. Its
charts are Vega-Lite, drawn by a vendored offline bundle (see
``docs/interactive-report.md``). :func:`page` returns the page alone, to add
to a report of your own.

Every number comes from :mod:`rnndyn.metrics` and
:func:`rnndyn.summary.unit_summary`; nothing is computed a second way.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ._explore_data import REGIONS, ExploreData, compute
from ._explore_figures import figures
from ._explore_findings import findings, population
from ._explore_page import render
from ._outdir import check_out, write_dir
from ._validation import check_bool
from .errors import RnndynError
from .report import _jsonable
from .trajectories import Trajectories

__all__ = ["analyze", "page"]


def _check(traj: Any, title: Any, meta: Any) -> tuple[Trajectories, str, dict[str, Any]]:
    """Checked arguments: trajectories with something to analyse, a str title, JSON-ready meta."""
    if not isinstance(traj, Trajectories):
        hint = (
            " Wrap an array: rnndyn.Trajectories(states, lengths)."
            if hasattr(traj, "shape")
            else " Capture one with rnndyn.capture(model, inputs) or load one with rnndyn.cli._store.load."
        )
        raise RnndynError(f"traj must be a rnndyn.Trajectories; got {type(traj).__name__}.{hint}")
    n, T, U = traj.shape
    if n == 0 or U == 0:
        raise RnndynError(
            f"traj is empty ({n} sequences x {T} steps x {U} units); there is nothing to analyse. "
            "Capture at least one sequence of at least one unit."
        )
    if T < 3:
        raise RnndynError(
            f"analyze needs at least 3 steps (2 step deltas) per sequence; got n_steps={T}. "
            "Capture longer sequences."
        )
    if title is None:
        title = f"rnndyn analysis: {n} sequences x {T} steps x {U} units"
    elif not isinstance(title, str):
        raise RnndynError(f"title must be a str or None; got {type(title).__name__}.")
    if meta is None:
        meta = {}
    elif not isinstance(meta, Mapping):
        raise RnndynError(
            f"meta must be a mapping (e.g. a dict of provenance: model, layer, inputs file) or None; "
            f"got {type(meta).__name__}."
        )
    return traj, title, _jsonable(dict(meta), "meta")


def _curve_csv(curves: np.ndarray, x: str) -> bytes:
    """Curves ``(n_regions, n_points, n_units)`` as CSV: ``region, x`` then one column per unit."""
    import pandas as pd

    parts = []
    for r, name in enumerate(REGIONS):
        df = pd.DataFrame(curves[r], columns=[str(u) for u in range(curves.shape[2])])
        df.insert(0, x, np.arange(curves.shape[1]))
        df.insert(0, "region", name)
        parts.append(df)
    return pd.concat(parts, ignore_index=True).to_csv(index=False).encode()


def _summary(data: ExploreData, title: str, meta: dict[str, Any], found: list[dict[str, Any]]) -> dict:
    from . import __version__

    n, T, U = data.shape
    t = data.table
    return {
        "title": title,
        "meta": meta,
        "rnndyn_version": __version__,
        "shape": {"n_sequences": n, "n_steps": T, "n_units": U},
        "region": t.attrs.get("region"),
        "lags": list(t.attrs["lags"]) if t.attrs.get("lags") else None,
        "notes": list(data.notes),
        "findings": found,
        "population": population(t),
        "unit_map": {"columns": data.map_columns, "explained": data.explained},
    }


def _build(traj: Trajectories, title: str, meta: dict[str, Any]) -> dict[str, bytes]:
    """Every file of the report folder, in memory: ``{relative path: bytes}``."""
    traj = traj.to_numpy()
    data = compute(traj)
    found = findings(data.table)
    files: dict[str, bytes] = {}
    for name, png in figures(traj, data).items():
        files[f"figures/{name}"] = png
    files["tables/units.csv"] = data.table.to_csv(index=True).encode()
    import pandas as pd

    umap = pd.DataFrame({"map_x": data.coords[:, 0], "map_y": data.coords[:, 1]})
    files["tables/unit_map.csv"] = umap.rename_axis("unit").to_csv().encode()
    files["tables/rms_delta.csv"] = _curve_csv(data.rms, "step")
    files["tables/msd.csv"] = _curve_csv(data.msd, "lag")
    files["tables/vacf.csv"] = _curve_csv(data.vacf, "lag")
    summary = _jsonable(_summary(data, title, meta, found), "summary")
    files["summary.json"] = json.dumps(summary, indent=2, allow_nan=False).encode()
    listing = sorted(files)
    files["index.html"] = render(data, title=title, meta=meta, findings=found, files=listing).encode()
    return files


def _write_file(folder: Path, rel: str, data: bytes) -> None:
    path = folder / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def analyze(
    traj: Trajectories,
    out: str | os.PathLike[str],
    *,
    title: str | None = None,
    meta: Mapping[str, Any] | None = None,
    overwrite: bool = True,
) -> Path:
    """Analyse ``traj`` and write the report folder ``out``: interactive page, figures, tables, numbers.

    The arguments and ``out`` are checked before any work (``out`` must be
    new, empty or an earlier rnndyn report nobody changed since, as for
    :meth:`rnndyn.report.Report.write`). Everything is computed in memory,
    then written into a hidden sibling folder and moved into place: an error
    or an interrupt (Ctrl-C) never leaves a half-written report, and an
    earlier report stays as it was.

    Parameters
    ----------
    traj : Trajectories
        At least one sequence, one unit and 3 steps.
    out : str or os.PathLike
        The report folder.
    title : str, optional
        The page title (default: the shape of ``traj``).
    meta : mapping, optional
        Free-form provenance (model class, layer, states, versions, inputs
        file): shown on the page and saved in ``summary.json``; must be
        JSON-ready (numbers, strings, lists, dicts, numpy arrays).
    overwrite : bool, default True
        If False, refuse any existing non-empty folder.

    Returns
    -------
    pathlib.Path
        The report folder, absolute.

    Raises
    ------
    RnndynError
        ``traj`` is not a non-empty Trajectories, ``title`` or ``meta`` is of
        the wrong kind, or ``out`` is a file, a folder holding anything but an
        earlier rnndyn report, or not writable.

    Examples
    --------
    >>> import tempfile, numpy as np, rnndyn
    >>> x = np.random.default_rng(0).standard_normal((12, 10, 3)).cumsum(axis=1)
    >>> traj = rnndyn.Trajectories(x, lengths=np.full(12, 7))
    >>> out = analyze(traj, tempfile.mkdtemp() + "/report", meta={"model": "random walk"})
    >>> sorted(p.name for p in out.iterdir())
    ['.rnndyn-manifest.json', 'figures', 'index.html', 'summary.json', 'tables']
    """
    traj, title, meta = _check(traj, title, meta)
    overwrite = check_bool(overwrite, "overwrite")
    check_out(out, kind="report", overwrite=overwrite, what="report")
    files = _build(traj, title, meta)

    def fill(folder: Path) -> None:
        for rel, data in files.items():
            _write_file(folder, rel, data)

    return write_dir(out, fill, kind="report", overwrite=overwrite, what="report")


def page(traj: Trajectories, *, title: str | None = None, meta: Mapping[str, Any] | None = None) -> str:
    """The interactive page of :func:`analyze` alone, as one self-contained HTML string.

    For a report of your own: save it as a file of your report folder (it
    needs nothing next to it). The file listing of :func:`analyze`'s page is
    left out; figures and tables are not made.

    Examples
    --------
    >>> import numpy as np, rnndyn
    >>> x = np.random.default_rng(0).standard_normal((8, 6, 2)).cumsum(axis=1)
    >>> html = page(rnndyn.Trajectories(x), title="two units")
    >>> html.startswith("<!DOCTYPE html>"), "<title>two units</title>" in html
    (True, True)
    """
    traj, title, meta = _check(traj, title, meta)
    data = compute(traj)
    return render(data, title=title, meta=meta, findings=findings(data.table))
