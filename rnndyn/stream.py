"""Metrics of data that never fits in memory: one mergeable statistic, fed batch by batch.

Every averaged metric of :mod:`rnndyn.metrics` is a sum over sequences of
per-sequence terms divided by integer pair counts. An :class:`Accumulator`
keeps, per metric and region, exactly those sums (float64, by the same block
kernels the in-memory metrics use: :mod:`rnndyn._plans`) and counts; it
merges exactly (``a + b``, any order, any tree) and finishes to what
``rnndyn.metrics.<name>(all_data, region=..., max_lag=...)`` returns on the
concatenation (to float64 rounding of the order of summation).

Feed it from :func:`rnndyn.capture` (``sink=``), :func:`rnndyn.iter_capture`,
a store or your own loop; keep its state with :meth:`Accumulator.to_dict`
(plain arrays and strings: ``np.savez`` it, no pickle).

Overflow: a batch whose squares overflow (or underflow) float64 is summed on
its states scaled per unit by a power of two ``2**-k``, exactly as the
in-memory metrics do; sums of different ``k`` are brought to the larger one
(exact) when added.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ._averaging import from_moments, moments
from ._backends import get_backend
from ._plans import PLANS
from ._validation import check_bool, check_region, to_numpy
from .errors import RnndynError
from .trajectories import Trajectories

__all__ = ["Accumulator", "METRICS"]

Key = tuple[str, str]

#: The metrics an :class:`Accumulator` can keep (every averaged metric of :mod:`rnndyn.metrics`).
METRICS = tuple(PLANS)
_LAGGED = ("msd", "vacf")
_FORMAT = "rnndyn-accumulator/1"
_UNIT_COLUMNS = ("layer", "state", "direction", "index")


@dataclass
class _Sum:
    """One metric in one region: numerator of states scaled by ``2**-k`` per unit, and pair counts."""

    num: Any
    k: np.ndarray
    counts: np.ndarray
    power: int
    post: str | None

    def at(self, k: np.ndarray) -> Any:
        """The numerator brought to the scale ``2**-k`` (``k >= self.k``; exact: a power of two)."""
        if np.array_equal(self.k, k):
            return self.num
        return self.num * get_backend(self.num).asarray(np.ldexp(1.0, self.power * (self.k - k)))

    def add(self, other: _Sum) -> _Sum:
        k = np.maximum(self.k, other.k)
        be = get_backend(self.num)
        if type(get_backend(other.num)) is not type(be):  # e.g. a torch total and a numpy batch
            other = _Sum(be.asarray(to_numpy(other.num)), other.k, other.counts, other.power, other.post)
        return _Sum(self.at(k) + other.at(k), k, self.counts + other.counts, self.power, self.post)


def _names(values: Any, what: str, allowed: Sequence[str]) -> tuple[str, ...]:
    items = (values,) if isinstance(values, str) else tuple(values)
    if not items or any(not isinstance(v, str) or v not in allowed for v in items):
        raise RnndynError(f"{what} must be names from {list(allowed)}; got {values!r}.")
    if len(set(items)) != len(items):
        raise RnndynError(f"{what} lists a name twice: {list(items)}.")
    return items


@dataclass
class Accumulator:
    """Sums and pair counts of metrics over every batch it is given; merges exactly.

    Parameters
    ----------
    metrics : str or sequence of str, default every metric
        Names from :data:`METRICS` (``"msd"``, ``"vacf"``, ``"rms_delta"``,
        ``"mean_abs_delta"``, ``"msd_from_start"``, ``"vacf_two_time"``).
    max_lag : int, optional
        Largest lag of ``msd`` and ``vacf`` (default: the most the first
        batch's steps allow, as the metrics do).
    regions : str or sequence of str, default ("all",)
        Regions ``"all"``, ``"input"``, ``"padding"``, each kept separately.
    vector : bool, default False
        The whole state vector as one chain (the metrics' ``vector=True``).
    per_sequence : bool, default False
        Also keep every sequence's own sums (:meth:`rows`), so that a
        bootstrap resample is a weighted sum of rows (:meth:`resampled`).
        Memory then grows with the sequences.

    Examples
    --------
    >>> import numpy as np, rnndyn
    >>> x = np.random.default_rng(0).standard_normal((10, 6, 2)).cumsum(axis=1)
    >>> acc = Accumulator(["msd", "rms_delta"])
    >>> for i in range(0, 10, 4):
    ...     _ = acc.update(rnndyn.Trajectories(x[i : i + 4]))
    >>> bool(np.allclose(acc.result()["msd"], rnndyn.metrics.msd(x), rtol=1e-12))
    True
    >>> acc.n_sequences
    10
    """

    metrics: Sequence[str] | str = METRICS
    max_lag: int | None = None
    regions: Sequence[str] | str = ("all",)
    vector: bool = False
    per_sequence: bool = False
    n_sequences: int = field(default=0, init=False)
    n_steps: int | None = field(default=None, init=False)
    dtype: str | None = field(default=None, init=False)  # of the states accumulated
    units: pd.DataFrame | None = field(default=None, init=False, repr=False)
    _lags: dict[str, int] = field(default_factory=dict, init=False, repr=False)
    _sums: dict[Key, _Sum] = field(default_factory=dict, init=False, repr=False)
    _rows: dict[Key, list[_Sum]] = field(default_factory=dict, init=False, repr=False)  # per batch

    def __post_init__(self) -> None:
        self.metrics = _names(self.metrics, "metrics", METRICS)
        regions = (self.regions,) if isinstance(self.regions, str) else tuple(self.regions)
        for r in regions:
            check_region(r)
        self.regions = _names(regions, "regions", ("all", "input", "padding"))
        self.vector = check_bool(self.vector, "vector")
        self.per_sequence = check_bool(self.per_sequence, "per_sequence")
        if self.vector and "mean_abs_delta" in self.metrics:
            raise RnndynError("mean_abs_delta has no vector form; leave it out of metrics with vector=True.")
        if self.max_lag is not None and (
            isinstance(self.max_lag, bool)
            or not isinstance(self.max_lag, int | np.integer)
            or self.max_lag < 0
        ):
            raise RnndynError(f"max_lag must be a non-negative int or None; got {self.max_lag!r}.")

    # ------------------------------------------------------------------ feeding
    def update(self, traj: Trajectories | Any) -> Accumulator:
        """Add the sums of one batch (a :class:`~rnndyn.Trajectories` or an array ``(n, T, U)``).

        Every batch must have the first batch's steps and units. Returns ``self``.
        """
        if not isinstance(traj, Trajectories):
            traj = Trajectories(traj)
        self._check_like(traj)
        sums, rows = self._batch_sums(traj)
        for key, r in rows.items():
            self._rows.setdefault(key, []).append(r)
        for key, s in sums.items():
            self._sums[key] = s if key not in self._sums else self._sums[key].add(s)
        if self.units is None:
            self.units = traj.units.reset_index(drop=True)
            self.n_steps = traj.n_steps
            self.dtype = _dtype(traj)
        self.n_sequences += traj.n_sequences
        return self

    def _batch_sums(self, traj: Trajectories) -> tuple[dict[Key, _Sum], dict[Key, _Sum]]:
        """The sums of ``traj`` per (metric, region), and (``per_sequence``) every sequence's own."""
        sums: dict[Key, _Sum] = {}
        rows: dict[Key, _Sum] = {}
        for metric in self.metrics:
            for region in self.regions:
                kw: dict[str, Any] = {"region": region, "vector": self.vector}  # checks the regions fit
                if metric in _LAGGED:
                    kw["max_lag"] = self._lags.get(metric, self.max_lag)
                plan = PLANS[metric](traj, **kw)
                counts = np.asarray(plan.counts, np.int64)
                if counts.any():
                    num, k = moments(plan.states, plan.numerator)
                else:  # no pair in the region (msd_from_start in the padding): exactly 0, no pass
                    num, k = plan.zero_numerator(), np.zeros(int(plan.states.shape[-1]), np.int64)
                sums[(metric, region)] = _Sum(num, k, counts, plan.power, plan.post)
                if metric in _LAGGED:
                    self._lags.setdefault(metric, int(plan.shape[1]) - 1)
                if self.per_sequence:  # one row per sequence (a sequence may span several: runs)
                    rows[(metric, region)] = _per_sequence(plan, traj.n_sequences)
        return sums, rows

    def update_all(self, batches: Iterable[Trajectories | Any]) -> Accumulator:
        """:meth:`update` with every batch of an iterable (e.g. :func:`rnndyn.iter_capture`)."""
        for batch in batches:
            self.update(batch)
        return self

    def _check_like(self, traj: Trajectories) -> None:
        if self.units is None:
            return
        if traj.n_steps != self.n_steps:
            raise RnndynError(
                f"Accumulator: this batch has {traj.n_steps} steps, the earlier ones {self.n_steps}; every "
                "batch must have the same steps (pad them alike: capture() does)."
            )
        if _dtype(traj) != self.dtype:
            raise RnndynError(
                f"Accumulator: this batch's states are {_dtype(traj)}, the earlier ones {self.dtype}; "
                "feed one accumulator states of one dtype (e.g. traj.astype(...) first)."
            )
        if not _same_units(traj.units, self.units):
            raise RnndynError(
                "Accumulator: this batch's units differ from the earlier batches' "
                f"({_unit_diff(traj.units, self.units)}); feed one accumulator the same layers and states."
            )

    # ------------------------------------------------------------------ merging
    def merge(self, other: Accumulator) -> Accumulator:
        """A new accumulator holding both (exact: sums and counts add). ``a + b`` does the same."""
        if not isinstance(other, Accumulator):
            raise RnndynError(f"can only merge an Accumulator with another; got {type(other).__name__}.")
        for what in ("metrics", "regions", "vector", "per_sequence"):
            if getattr(self, what) != getattr(other, what):
                raise RnndynError(
                    f"cannot merge accumulators with different {what}: {getattr(self, what)!r} and "
                    f"{getattr(other, what)!r}."
                )
        if self.units is not None and other.units is not None:
            if self.n_steps != other.n_steps:
                raise RnndynError(f"cannot merge accumulators of {self.n_steps} and {other.n_steps} steps.")
            if self.dtype != other.dtype:
                raise RnndynError(f"cannot merge accumulators of {self.dtype} and {other.dtype} states.")
            if not _same_units(self.units, other.units):
                raise RnndynError(
                    f"cannot merge accumulators of different units: {_unit_diff(other.units, self.units)}."
                )
            for m in set(self._lags) & set(other._lags):
                if self._lags[m] != other._lags[m]:
                    raise RnndynError(
                        f"cannot merge accumulators with different {m} lags: max_lag {self._lags[m]} and "
                        f"{other._lags[m]}."
                    )
        out = Accumulator(self.metrics, self.max_lag, self.regions, self.vector, self.per_sequence)
        out._rows = {
            key: self._rows.get(key, []) + other._rows.get(key, []) for key in self._rows | other._rows
        }
        first = self if self.units is not None else other
        out.units, out.n_steps, out.dtype = first.units, first.n_steps, first.dtype
        out._lags = {**other._lags, **self._lags}
        out.n_sequences = self.n_sequences + other.n_sequences
        for key in set(self._sums) | set(other._sums):
            a, b = self._sums.get(key), other._sums.get(key)
            out._sums[key] = a.add(b) if a is not None and b is not None else (a or b)  # type: ignore[assignment]
        return out

    def __add__(self, other: Accumulator) -> Accumulator:
        return self.merge(other)

    # ------------------------------------------------------------------ results
    def result(self, region: str | None = None, *, return_counts: bool = False) -> dict[str, Any]:
        """``{metric: value}`` for one region (default: the first of ``regions``).

        Each value is what ``rnndyn.metrics.<metric>(all batches, region=...,
        max_lag=..., vector=...)`` returns; with ``return_counts`` a pair
        ``(value, counts)``.
        """
        region = self._region(region)
        out = {}
        for metric in self.metrics:
            s = self._sums[(metric, region)]
            out[metric] = from_moments(
                s.num,
                s.k,
                s.counts,
                metric,
                power=s.power,
                vector=self.vector,
                return_counts=return_counts,
                post=s.post,
            )
        return out

    def rows(self, metric: str, region: str | None = None) -> tuple[Any, np.ndarray, np.ndarray]:
        """Every sequence's sums of ``metric``: ``(num, k, counts)``, sequences on axis 0.

        ``num[i] * 2**(power * k)`` (per unit; ``power`` 2, or 1 for
        ``mean_abs_delta``) is sequence ``i``'s numerator and ``counts[i]`` its
        pair counts; summed over ``i`` they are the accumulated totals.
        Needs ``per_sequence=True``.
        """
        region = self._region(region)
        if not self.per_sequence:
            raise RnndynError("rows() needs an Accumulator(per_sequence=True); this one keeps totals only.")
        if metric not in self.metrics:
            raise RnndynError(f"metric {metric!r} was not accumulated; metrics are {list(self.metrics)}.")
        parts = self._rows[(metric, region)]  # one _Sum per batch, sequences on axis 0
        k = np.max(np.stack([p.k for p in parts]), axis=0)
        be = get_backend(parts[0].num)
        return be.xp.concat([p.at(k) for p in parts], axis=0), k, np.concatenate([p.counts for p in parts])

    def resampled(self, weights: Any, region: str | None = None, units: Any = None) -> dict[str, np.ndarray]:
        """``{metric: values}`` of every resample at once, resamples on axis 0 (NumPy).

        ``weights`` is ``(n_resamples, n_sequences)``: how often each sequence
        is drawn in each resample (e.g. ``rnndyn._bootstrap.resample_counts``);
        each resample's value is its weighted sum of rows, finished as
        :meth:`result` finishes the totals. ``units`` (an index array or a
        slice of the unit axis) limits the work to those units. Needs
        ``per_sequence=True``.
        """
        region = self._region(region)
        C = np.asarray(weights, np.float64)
        if C.ndim != 2 or C.shape[1] != self.n_sequences:
            raise RnndynError(
                f"weights must have shape (n_resamples, {self.n_sequences}); got {np.shape(weights)}."
            )
        sel = slice(None) if units is None else units
        out = {}
        for metric in self.metrics:
            num, k, counts = self.rows(metric, region)
            num, k, counts = to_numpy(num)[..., sel], k[sel], counts[..., sel]
            s = self._sums[(metric, region)]
            wn = np.tensordot(C, num, axes=1)
            wc = np.tensordot(C, counts.astype(np.float64), axes=1)
            out[metric] = from_moments(wn, k, wc, metric, power=s.power, vector=self.vector, post=s.post)
        return out

    def _region(self, region: str | None) -> str:
        region = self.regions[0] if region is None else region
        if region not in self.regions:
            raise RnndynError(f"region {region!r} was not accumulated; regions are {list(self.regions)}.")
        if not self._sums:
            raise RnndynError("the accumulator holds no batch yet; update() it first.")
        return region

    # ------------------------------------------------------------------ state
    def to_dict(self) -> dict[str, Any]:
        """The whole state as plain NumPy arrays (safe to ``np.savez``; nothing to unpickle)."""
        if self.units is None:
            raise RnndynError("the accumulator holds no batch yet; there is nothing to save.")
        d: dict[str, Any] = {
            "format": np.array(_FORMAT),
            "metrics": np.array(self.metrics),
            "regions": np.array(self.regions),
            "vector": np.array(self.vector),
            "max_lag": np.array(-1 if self.max_lag is None else int(self.max_lag)),
            "n_sequences": np.array(self.n_sequences),
            "n_steps": np.array(self.n_steps),
            "dtype": np.array(self.dtype),
            "lags": np.array([self._lags.get(m, -1) for m in self.metrics]),
        }
        for col in self.units.columns:
            values = self.units[col].to_numpy()
            d[f"units/{col}"] = values.astype(str) if values.dtype == object else values
        for (metric, region), s in self._sums.items():
            d[f"num/{metric}/{region}"] = to_numpy(s.num)
            d[f"k/{metric}/{region}"] = s.k
            d[f"counts/{metric}/{region}"] = s.counts
            d[f"finish/{metric}/{region}"] = np.array([str(s.power), s.post or ""])
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Accumulator:
        """The accumulator :meth:`to_dict` saved (e.g. ``dict(np.load(path, allow_pickle=False))``)."""
        try:
            if str(np.asarray(d["format"])) != _FORMAT:
                raise RnndynError(f"not an rnndyn accumulator state (format {np.asarray(d['format'])!r}).")
            max_lag = int(d["max_lag"])
            acc = cls(
                [str(m) for m in d["metrics"]],
                None if max_lag < 0 else max_lag,
                [str(r) for r in d["regions"]],
                bool(d["vector"]),
            )
            acc.n_sequences, acc.n_steps = int(d["n_sequences"]), int(d["n_steps"])
            acc.dtype = str(np.asarray(d["dtype"]))
            acc._lags = {m: int(v) for m, v in zip(acc.metrics, d["lags"], strict=True) if int(v) >= 0}
            cols = [k.split("/", 1)[1] for k in d if k.startswith("units/")]
            acc.units = pd.DataFrame({c: np.asarray(d[f"units/{c}"]) for c in cols})
            for metric in acc.metrics:
                for region in acc.regions:
                    power, post = (str(v) for v in d[f"finish/{metric}/{region}"])
                    acc._sums[(metric, region)] = _Sum(
                        np.asarray(d[f"num/{metric}/{region}"], np.float64),
                        np.asarray(d[f"k/{metric}/{region}"], np.int64),
                        np.asarray(d[f"counts/{metric}/{region}"], np.int64),
                        int(power),
                        post or None,
                    )
        except KeyError as exc:
            raise RnndynError(
                f"the accumulator state lacks {exc.args[0]!r}; it is damaged or not one."
            ) from None
        return acc


def _same_units(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    cols = [c for c in _UNIT_COLUMNS if c in a.columns]
    if len(a) != len(b) or cols != [c for c in _UNIT_COLUMNS if c in b.columns]:
        return False
    return all(np.array_equal(a[c].to_numpy().astype(str), b[c].to_numpy().astype(str)) for c in cols)


def _unit_diff(a: pd.DataFrame, b: pd.DataFrame) -> str:
    if len(a) != len(b):
        return f"{len(a)} units against {len(b)}"
    for c in _UNIT_COLUMNS:
        if c in a.columns and c in b.columns:
            x, y = a[c].to_numpy().astype(str), b[c].to_numpy().astype(str)
            bad = np.flatnonzero(x != y)
            if bad.size:
                return f"unit {int(bad[0])} has {c}={x[bad[0]]!r} against {y[bad[0]]!r}"
    return "different unit columns"


def _per_sequence(plan: Any, n: int) -> _Sum:
    """Every sequence's own sums of ``plan`` (rows of one sequence added), sequences on axis 0."""
    num, k, counts = plan.rows()  # num (rows, ..., U), k (rows, U)
    common = (
        np.max(k, axis=0, initial=np.iinfo(np.int64).min) if len(k) else np.zeros(num.shape[-1], np.int64)
    )
    be = get_backend(num)
    num = num * be.asarray(
        np.ldexp(1.0, plan.power * (k - common)).reshape(
            (k.shape[0],) + (1,) * (num.ndim - 2) + (k.shape[1],)
        )
    )
    seq = plan.kernel.win.sequence_of_rows()
    if seq.size == n and np.array_equal(seq, np.arange(n)):
        return _Sum(num, common, counts, plan.power, plan.post)
    out = np.zeros((n, *num.shape[1:]))
    np.add.at(out, seq, to_numpy(num))
    c = np.zeros((n, *counts.shape[1:]), np.int64)
    np.add.at(c, seq, counts)
    return _Sum(be.asarray(out), common, c, plan.power, plan.post)


def _dtype(traj: Trajectories) -> str:
    """The states' dtype by name (``"float32"``), whatever the array library."""
    return str(traj.states.dtype).rsplit(".", 1)[-1]
