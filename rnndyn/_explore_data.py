"""The numbers behind the interactive report: per-unit curves, bands, the unit map, packing.

Everything here calls the library's own metrics (:mod:`rnndyn.metrics`,
:func:`rnndyn.summary.unit_summary`); this module only arranges their results
for the page:

* :func:`compute` -- the per-unit table, the curves per region, the value bands
  over sequences per step (input and padding steps apart), a few example
  sequences and the unit map, as one :class:`ExploreData`;
* :func:`step_quantiles` -- quantiles over sequences, per step and unit, of the
  states inside a mask;
* :func:`unit_map` -- a 2-D embedding of the units by their metric profile
  (PCA of the standardized summary columns, numpy SVD);
* :func:`pack` -- an array as base64 float32, how the page carries curves
  (about 5.3 bytes a number, exact float32 values).
"""

from __future__ import annotations

import base64
import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from . import metrics
from .summary import unit_summary
from .trajectories import UNIT_COLUMNS, Trajectories

__all__ = [
    "ExploreData",
    "compute",
    "step_quantiles",
    "unit_map",
    "across_units",
    "pack",
    "REGIONS",
    "QUANTILES",
]

#: Regions of the curves, in the order they are stacked.
REGIONS = ("all", "input", "padding")
#: Quantiles over sequences of the value bands (low, median, high).
QUANTILES = (0.1, 0.5, 0.9)
#: Most lags of the MSD and VACF curves.
MAX_LAG = 64
#: Most example sequences shown per unit.
N_EXAMPLES = 4
#: Scale-like summary columns that enter the unit map as log10 when all positive.
_LOG_COLUMNS = (
    "area_rms",
    "area_mean_abs",
    "rms_input",
    "rms_padding",
    "diffusion_einstein",
    "diffusion_green_kubo",
    "relaxation_tau",
)
#: Numeric summary columns that describe bookkeeping or fit quality, not behaviour.
_NOT_FEATURES = ("index", "rank", "relaxation_r2")


@dataclass
class ExploreData:
    """What the report shows, computed once (arrays are float64 unless said).

    ``rms``, ``msd`` and ``vacf`` stack the regions :data:`REGIONS` on axis 0;
    ``bands`` is ``{"input" | "padding": (len(QUANTILES), n_steps, n_units)}``
    float32; ``examples`` the example sequences' states ``(k, n_steps,
    n_units)`` float32 with ``example_input`` (bool, same shape) telling input
    steps from padding.
    """

    table: pd.DataFrame
    notes: list[str]
    rms: np.ndarray
    msd: np.ndarray
    vacf: np.ndarray
    bands: dict[str, np.ndarray]
    examples: np.ndarray
    example_input: np.ndarray
    example_index: np.ndarray
    coords: np.ndarray
    map_columns: list[str]
    explained: np.ndarray
    shape: tuple[int, int, int] = (0, 0, 0)
    extra: dict[str, Any] = field(default_factory=dict)


def step_quantiles(values: np.ndarray, mask: np.ndarray, qs: tuple[float, ...] = QUANTILES) -> np.ndarray:
    """Quantiles over sequences (axis 0) of ``values`` where ``mask``; NaN where no value.

    Linear interpolation between order statistics, as :func:`numpy.nanquantile`
    does, but vectorised over every step and unit at once (one sort).

    Parameters
    ----------
    values : array of shape (n_sequences, n_steps, n_units)
    mask : bool array of the same shape
    qs : tuple of float in [0, 1]

    Returns
    -------
    numpy.ndarray of shape (len(qs), n_steps, n_units), float32

    Examples
    --------
    >>> x = np.arange(8.0).reshape(4, 2, 1)
    >>> m = np.ones_like(x, dtype=bool); m[3, 1] = False
    >>> step_quantiles(x, m, (0.0, 0.5, 1.0))[:, :, 0].tolist()
    [[0.0, 1.0], [3.0, 3.0], [6.0, 5.0]]
    """
    vals = np.where(mask, np.asarray(values, dtype=np.float32), np.float32(np.nan))
    vals.sort(axis=0)  # NaN last
    k = mask.sum(axis=0)
    out = np.full((len(qs), *vals.shape[1:]), np.nan, dtype=np.float32)
    has = k > 0
    for j, q in enumerate(qs):
        pos = q * (np.maximum(k, 1) - 1)
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, np.maximum(k - 1, 0))
        frac = (pos - lo).astype(np.float32)
        a = np.take_along_axis(vals, lo[None], axis=0)[0]
        b = np.take_along_axis(vals, hi[None], axis=0)[0]
        out[j] = np.where(has, a + (b - a) * frac, np.nan)
    return out


def unit_map(table: pd.DataFrame) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Units placed in 2-D by their metric profile: PCA of the standardized summary columns.

    Every numeric column of the table but the bookkeeping ones (``index``,
    ``rank``, ``relaxation_r2``) is a feature; scale-like columns (areas, RMS,
    diffusion, relaxation time) enter as log10 when all their values are
    positive; each feature is standardized (mean 0, std 1), a missing value
    becomes the mean, constant or empty columns are dropped. The signs of the
    components are fixed so that each one's largest loading is positive.

    Returns
    -------
    coords : numpy.ndarray of shape (n_units, 2)
        Zero where there is nothing to embed (fewer than 2 units or no feature).
    columns : list of str
        The features used.
    explained : numpy.ndarray of shape (2,)
        Fraction of the variance each component explains.

    Examples
    --------
    >>> t = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [1.0, 1.0, 2.0, 2.0], "rank": [1, 2, 3, 4]})
    >>> coords, cols, explained = unit_map(t)
    >>> cols, coords.shape, bool(explained.sum() <= 1.0 + 1e-12)
    (['a', 'b'], (4, 2), True)
    """
    feats, names = [], []
    for col in table.columns:
        if col in UNIT_COLUMNS or col in _NOT_FEATURES:
            continue
        if not pd.api.types.is_numeric_dtype(table[col]) or pd.api.types.is_bool_dtype(table[col]):
            continue
        v = table[col].to_numpy(dtype=np.float64)
        fin = np.isfinite(v)
        if fin.sum() < 2:
            continue
        if col in _LOG_COLUMNS and np.all(v[fin] > 0):
            v = np.log10(np.where(fin, v, 1.0))
        v = np.where(fin, v, np.nan)
        sd = np.nanstd(v)
        if not np.isfinite(sd) or sd <= 1e-12 * max(1.0, float(np.nanmax(np.abs(v)))):
            continue
        feats.append(np.nan_to_num((v - np.nanmean(v)) / sd, nan=0.0))
        names.append(str(col))
    n = len(table)
    if n < 2 or not feats:
        return np.zeros((n, 2)), names, np.zeros(2)
    f = np.stack(feats, axis=1)
    f -= f.mean(axis=0)
    u, s, vt = np.linalg.svd(f, full_matrices=False)
    k = min(2, len(s))
    coords = np.zeros((n, 2))
    coords[:, :k] = u[:, :k] * s[:k]
    for j in range(k):
        if vt[j, np.argmax(np.abs(vt[j]))] < 0:
            coords[:, j] *= -1
    var = s**2
    explained = np.zeros(2)
    explained[:k] = var[:k] / var.sum() if var.sum() > 0 else 0.0
    return coords, names, explained


def _example_sequences(lengths: np.ndarray, k: int = N_EXAMPLES) -> np.ndarray:
    """Up to ``k`` sequences spread over the range of lengths (shortest, ..., longest)."""
    n = len(lengths)
    order = np.argsort(lengths, kind="stable")
    picks = order[np.unique(np.linspace(0, n - 1, min(k, n)).round().astype(np.int64))]
    return np.sort(picks)


def compute(traj: Trajectories) -> ExploreData:
    """Everything the page and the files show, computed with :mod:`rnndyn.metrics` and ``unit_summary``.

    Warnings of :func:`~rnndyn.summary.unit_summary` (e.g. no padding to relax
    in) are collected into ``notes`` and warned again.
    """
    traj = traj.to_numpy()  # torch (any device) or dask states: one conversion, here
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = unit_summary(traj)
    for w in caught:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    notes = list(table.attrs.get("notes", []))
    T = traj.n_steps
    max_msd, max_vacf = min(T - 1, MAX_LAG), min(T - 2, MAX_LAG)
    rms = np.stack([np.asarray(metrics.rms_delta(traj, region=r)) for r in REGIONS])
    msd = np.stack([np.asarray(metrics.msd(traj, region=r, max_lag=max_msd)) for r in REGIONS])
    with np.errstate(invalid="ignore", divide="ignore"):
        vacf = np.stack(
            [np.asarray(metrics.vacf(traj, region=r, max_lag=max_vacf, normalize=True)) for r in REGIONS]
        )
    states = np.asarray(traj.to_numpy().states)
    bands = {r: step_quantiles(states, traj.step_mask(r)) for r in ("input", "padding")}
    pick = _example_sequences(traj.lengths)
    coords, names, explained = unit_map(table)
    return ExploreData(
        table=table,
        notes=notes,
        rms=rms,
        msd=msd,
        vacf=vacf,
        bands=bands,
        examples=states[pick].astype(np.float32),
        example_input=traj.step_mask("input")[pick],
        example_index=pick,
        coords=coords,
        map_columns=names,
        explained=explained,
        shape=traj.shape,
        extra={"lengths": np.asarray(traj.lengths)[pick]},
    )


def across_units(curve: np.ndarray) -> np.ndarray:
    """Quantiles :data:`QUANTILES` over units (axis 1) of a curve ``(n_points, n_units)``; NaN-aware.

    Examples
    --------
    >>> across_units(np.array([[1.0, 2.0, 3.0], [np.nan, np.nan, np.nan]]))[:, 0].tolist()
    [1.2, 2.0, 2.8]
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a point with no value at all stays NaN
        return np.nanquantile(np.asarray(curve, dtype=np.float64), QUANTILES, axis=1)


def pack(arr: Any, dtype: str = "f4") -> dict[str, Any]:
    """``{"shape", "dtype", "b64"}``: a C-ordered little-endian array as base64 (``f4`` or ``u1``).

    Examples
    --------
    >>> p = pack(np.array([[1.0, 2.5]]))
    >>> p["shape"], p["dtype"]
    ([1, 2], 'f4')
    >>> np.frombuffer(base64.b64decode(p["b64"]), "<f4").tolist()
    [1.0, 2.5]
    """
    a = np.ascontiguousarray(np.asarray(arr), dtype="<" + dtype if dtype == "f4" else np.uint8)
    return {
        "shape": [int(s) for s in a.shape],
        "dtype": dtype,
        "b64": base64.b64encode(a.tobytes()).decode("ascii"),
    }


def _cell(v: Any) -> Any:
    """A table cell for JSON: numbers to 6 significant digits, NaN as None."""
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return float(f"{float(v):.6g}") if math.isfinite(v) else None
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)


def unit_rows(data: ExploreData, names: list[str]) -> list[dict[str, Any]]:
    """The unit table as JSON records, with ``unit``, ``name``, ``map_x`` and ``map_y`` added."""
    t = data.table
    cols = list(t.columns)
    rows = []
    for u in range(len(t)):
        row = {"unit": u, "name": names[u]}
        for c in cols:
            row[str(c)] = _cell(t[c].iat[u])
        row["map_x"] = _cell(data.coords[u, 0])
        row["map_y"] = _cell(data.coords[u, 1])
        rows.append(row)
    return rows


def unit_names(table: pd.DataFrame) -> list[str]:
    """A short label per unit: ``"12 layer/h/fw#3"`` (position, layer, state, direction, index)."""
    short = {"forward": "fw", "backward": "bw"}
    return [
        f"{u} {table['layer'].iat[u]}/{table['state'].iat[u]}/"
        f"{short.get(str(table['direction'].iat[u]), table['direction'].iat[u])}#{table['index'].iat[u]}"
        for u in range(len(table))
    ]
