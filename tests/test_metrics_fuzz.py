"""Hypothesis fuzz tests of rnndyn.metrics and Trajectories time order against NumPy brute force.

The references below are loops written from the definitions in docs/metrics.md
and docs/data-layout.md, not from rnndyn internals:

* ``d[i, t] = x[i, t+1] - x[i, t]``; which input position *drives* each stored
  delta follows from how each direction reads its input (forward: position
  ``t+1``; an unmasked backward recurrence reads the padding first; a masked
  one reads only the real steps, from the end). A delta is an input delta when
  its driving position is a real one (``< lengths[i]``), a padding delta
  otherwise; ``"all"`` keeps every delta.
* the region's positions are the endpoints of its deltas (every step for
  ``"all"``); a pair of steps ``(a, b)`` is in the region when both are
  positions and every delta between them is in the region; a pair of deltas
  when every delta from the first to the last is.
* averages pool over every sequence (and time origin) by pair counts; a cell
  with no pair is NaN with count 0.

Inputs are random in shape (n 1..6, T 1..12, U 1..4), lengths (0 and full
included), unit directions, ``masked``, ``order``, scale (1e-3..1e3), kind
(Gaussian, random walk, integer, constant, two-valued), dtype (float16/32/64,
int, uint8), array library (numpy, torch) and form (Trajectories or a bare
array with ``lengths=``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from rnndyn import RnndynError, Trajectories, metrics

try:  # torch is optional: without it only numpy inputs are drawn
    import torch
except ImportError:  # pragma: no cover - the dev environment has torch
    torch = None

REGIONS = ("all", "input", "padding")
BACKENDS = ("numpy", "torch") if torch is not None else ("numpy",)
KINDS = ("normal", "walk", "int", "constant", "two_values")
FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEW = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ---------------------------------------------------------------- the cases
@dataclass(frozen=True)
class Case:
    """One random input: stored values plus everything that says what they mean."""

    x: np.ndarray  # stored values, shape (n, T, U), in the trajectory's own order
    lengths: np.ndarray
    directions: tuple[str, ...]
    masked: bool
    order: str
    bare: bool  # pass as a bare array with lengths= (all forward, input order, unmasked)
    lengths_none: bool  # bare array with lengths=None (every step real)
    backend: str
    lengths_form: str = "array"  # how lengths are passed: list, int64/int32 array, whole floats, torch

    def lengths_arg(self, lengths: np.ndarray) -> Any:
        if self.lengths_form == "list":
            return lengths.tolist()
        if self.lengths_form == "int32":
            return lengths.astype(np.int32)
        if self.lengths_form == "float":
            return lengths.astype(np.float64)  # whole numbers are accepted, never rounded
        if self.lengths_form == "torch" and torch is not None:
            return torch.from_numpy(lengths)
        return lengths

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(int(s) for s in self.x.shape)  # type: ignore[return-value]

    @property
    def x64(self) -> np.ndarray:
        return self.x.astype(np.float64)

    @property
    def scale2(self) -> float:
        """A bound on squared displacements, for absolute tolerances."""
        return float(4.0 * np.max(np.abs(self.x64), initial=0.0) ** 2) + 1e-300

    def units(self) -> pd.DataFrame:
        U = self.shape[2]
        return pd.DataFrame(
            {"layer": "l", "state": "h", "direction": list(self.directions), "index": range(U)}
        )

    def wrap(self, x: np.ndarray) -> Any:
        return torch.from_numpy(np.ascontiguousarray(x)) if self.backend == "torch" else x

    def obj(self, x: np.ndarray | None = None, rows: Any = None) -> tuple[Any, dict[str, Any]]:
        """The rnndyn argument (and extra keywords) for these values (optionally some sequences)."""
        x = self.x if x is None else x
        lengths = self.lengths
        if rows is not None:
            x, lengths = x[rows], lengths[rows]
        if self.bare:
            return self.wrap(x), {"lengths": None if self.lengths_none else self.lengths_arg(lengths)}
        traj = Trajectories(
            self.wrap(x), self.lengths_arg(lengths), self.units(), masked=self.masked, order=self.order
        )
        return traj, {}

    def call(self, f: Any, x: np.ndarray | None = None, rows: Any = None, **kw: Any) -> Any:
        arg, extra = self.obj(x, rows)
        return to_np(f(arg, **extra, **kw), self.backend)


def to_np(result: Any, backend: str) -> Any:
    """numpy copy of a metric result, asserting the documented output types."""
    if isinstance(result, tuple):
        val, cnt = result
        val = to_np(val, backend)
        if backend == "torch":
            assert isinstance(cnt, torch.Tensor) and cnt.dtype == torch.int64
            cnt = cnt.numpy()
        assert isinstance(cnt, np.ndarray) and cnt.dtype == np.int64
        return val, cnt
    if backend == "torch":
        assert isinstance(result, torch.Tensor) and result.dtype == torch.float64
        result = result.numpy()
    assert isinstance(result, np.ndarray) and result.dtype == np.float64
    return result


def _values(rng: np.random.Generator, kind: str, shape: tuple[int, int, int], scale: float) -> np.ndarray:
    n, T, U = shape
    if kind == "normal":
        return rng.standard_normal(shape) * scale
    if kind == "walk":
        return np.cumsum(rng.standard_normal(shape), axis=1) * scale
    if kind == "int":
        return np.cumsum(rng.integers(-3, 4, size=shape), axis=1).astype(np.float64)
    if kind == "constant":  # no movement at all: every delta is 0
        return np.broadcast_to(rng.integers(-5, 6, size=(n, 1, U)), shape).astype(np.float64)
    return rng.integers(0, 2, size=shape).astype(np.float64) * 4.0  # two values: many zero deltas


@st.composite
def cases(draw: Any, min_steps: int = 1, backend: str | None = None, numpy_float64: bool = False) -> Case:
    n = draw(st.integers(1, 6))
    T = draw(st.integers(min_steps, 12))
    U = draw(st.integers(1, 4))
    lengths = np.array(
        draw(st.lists(st.one_of(st.sampled_from([0, T]), st.integers(0, T)), min_size=n, max_size=n)),
        dtype=np.int64,
    )
    bare = draw(st.booleans()) if draw(st.integers(0, 3)) == 0 else False
    if bare:
        directions, masked, order = ("forward",) * U, False, "input"
        lengths_none = draw(st.booleans())
        if lengths_none:
            lengths = np.full(n, T, dtype=np.int64)
    else:
        directions = tuple(draw(st.lists(st.sampled_from(["forward", "backward"]), min_size=U, max_size=U)))
        masked, order, lengths_none = (
            draw(st.booleans()),
            draw(st.sampled_from(["input", "processing"])),
            False,
        )
    kind = draw(st.sampled_from(KINDS))
    scale = draw(st.sampled_from([1e-3, 1.0, 1e3]))
    offset = draw(st.sampled_from([0.0, 10.0]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    vals = _values(rng, kind, (n, T, U), scale)
    if numpy_float64:
        dtype = "float64"
    elif kind in ("int", "constant", "two_values"):
        dtype = draw(st.sampled_from(["float64", "float32", "float16", "int64", "int32", "int16", "uint8"]))
        vals = vals + (100.0 if dtype == "uint8" else offset * 10)
    else:
        dtype = draw(st.sampled_from(["float64", "float64", "float32", "float16"]))
        if dtype == "float16":
            vals = vals / scale  # float16 tops out at 65504
        vals = vals + offset * np.max(np.abs(vals), initial=0.0)
    x = vals.astype(dtype)
    if backend is None:
        backend = "numpy" if numpy_float64 else draw(st.sampled_from(BACKENDS))
    lengths_form = draw(st.sampled_from(["array", "list", "int32", "float", "torch"]))
    return Case(x, lengths, directions, masked, order, bare, lengths_none, backend, lengths_form)


# -------------------------------------------------------------- references
def driving_position(k: int, T: int, L: int, direction: str, masked: bool, order: str) -> int | None:
    """The input position read by the transition between stored steps k and k+1 (None: none)."""
    if direction == "forward":
        return k + 1  # x[k] -> x[k+1] reads position k + 1
    if not masked:  # reads T-1, ..., 0: the padding first
        return k if order == "input" else T - 2 - k  # processing step k is position T-1-k
    if k + 1 >= L:  # a masked backward recurrence never reads padding
        return None
    return k if order == "input" else L - 2 - k  # processing step k < L is position L-1-k


def ref_masks(case: Case, region: str) -> tuple[np.ndarray, np.ndarray]:
    """Region deltas ``(n, T-1, U)`` and region positions ``(n, T, U)``."""
    n, T, U = case.shape
    dm = np.zeros((n, max(T - 1, 0), U), dtype=bool)
    for i, u, k in itertools.product(range(n), range(U), range(T - 1)):
        p = driving_position(k, T, int(case.lengths[i]), case.directions[u], case.masked, case.order)
        is_input = p is not None and p < case.lengths[i]
        dm[i, k, u] = {"all": True, "input": is_input, "padding": not is_input}[region]
    if region == "all":
        return dm, np.ones((n, T, U), dtype=bool)
    pos = np.zeros((n, T, U), dtype=bool)
    pos[:, :-1] |= dm
    pos[:, 1:] |= dm
    return dm, pos


def _pair(dm: np.ndarray, pos: np.ndarray, i: int, a: int, b: int, u: int) -> bool:
    return bool(pos[i, a, u] and pos[i, b, u] and dm[i, a:b, u].all())


def _mean(total: float, count: int) -> float:
    return total / count if count else np.nan


def ref_deltas(x: np.ndarray, dm: np.ndarray) -> np.ndarray:
    n, T, U = x.shape
    out = np.full((n, T - 1, U), np.nan)
    for i, t, u in itertools.product(range(n), range(T - 1), range(U)):
        if dm[i, t, u]:
            out[i, t, u] = x[i, t + 1, u] - x[i, t, u]
    return out


def ref_steps(x: np.ndarray, dm: np.ndarray, power: int) -> tuple[np.ndarray, np.ndarray]:
    """sqrt(mean d^2) (power 2) or mean |d| (power 1) per (step, unit)."""
    n, T, U = x.shape
    val, cnt = np.full((T - 1, U), np.nan), np.zeros((T - 1, U), dtype=np.int64)
    for t, u in itertools.product(range(T - 1), range(U)):
        vals = [abs(x[i, t + 1, u] - x[i, t, u]) ** power for i in range(n) if dm[i, t, u]]
        cnt[t, u] = len(vals)
        if vals:
            m = sum(vals) / len(vals)
            val[t, u] = np.sqrt(m) if power == 2 else m
    return val, cnt


def ref_vacf(x: np.ndarray, dm: np.ndarray, max_lag: int) -> tuple[np.ndarray, np.ndarray]:
    n, T, U = x.shape
    d = np.diff(x, axis=1)
    val, cnt = np.full((max_lag + 1, U), np.nan), np.zeros((max_lag + 1, U), dtype=np.int64)
    for s, u in itertools.product(range(max_lag + 1), range(U)):
        total, c = 0.0, 0
        for i, t in itertools.product(range(n), range(T - 1 - s)):
            if dm[i, t : t + s + 1, u].all():
                total += d[i, t, u] * d[i, t + s, u]
                c += 1
        val[s, u], cnt[s, u] = _mean(total, c), c
    return val, cnt


def ref_two_time(x: np.ndarray, dm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n, T, U = x.shape
    d = np.diff(x, axis=1)
    val, cnt = np.full((T - 1, T - 1, U), np.nan), np.zeros((T - 1, T - 1, U), dtype=np.int64)
    for t, s, u in itertools.product(range(T - 1), range(T - 1), range(U)):
        total, c = 0.0, 0
        for i in range(n):
            if dm[i, min(t, s) : max(t, s) + 1, u].all():
                total += d[i, t, u] * d[i, s, u]
                c += 1
        val[t, s, u], cnt[t, s, u] = _mean(total, c), c
    return val, cnt


def ref_msd(x: np.ndarray, dm: np.ndarray, pos: np.ndarray, max_lag: int) -> tuple[np.ndarray, np.ndarray]:
    n, T, U = x.shape
    val, cnt = np.full((max_lag + 1, U), np.nan), np.zeros((max_lag + 1, U), dtype=np.int64)
    for m, u in itertools.product(range(max_lag + 1), range(U)):
        total, c = 0.0, 0
        for i, t in itertools.product(range(n), range(T - m)):
            if _pair(dm, pos, i, t, t + m, u):
                total += (x[i, t + m, u] - x[i, t, u]) ** 2
                c += 1
        val[m, u], cnt[m, u] = _mean(total, c), c
    return val, cnt


def ref_from_start(x: np.ndarray, dm: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n, T, U = x.shape
    val, cnt = np.full((T, U), np.nan), np.zeros((T, U), dtype=np.int64)
    for t, u in itertools.product(range(T), range(U)):
        total, c = 0.0, 0
        for i in range(n):
            if _pair(dm, pos, i, 0, t, u):
                total += (x[i, t, u] - x[i, 0, u]) ** 2
                c += 1
        val[t, u], cnt[t, u] = _mean(total, c), c
    return val, cnt


def close(got: Any, ref: Any, atol: float, rtol: float = 1e-9) -> None:
    """Equal within tolerance, NaN exactly where the reference is NaN."""
    got, ref = np.asarray(got), np.asarray(ref)
    assert got.shape == ref.shape
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    np.testing.assert_allclose(got, ref, rtol=rtol, atol=atol, equal_nan=True)


def draw_max_lag(data: Any, top: int) -> int | None:
    """None, or a lag in [0, top] as a Python or numpy int."""
    if data.draw(st.booleans()):
        return None
    lag = data.draw(st.integers(0, top))
    return np.int64(lag) if data.draw(st.booleans()) else lag


# ------------------------------------------------- each metric, brute force
@FUZZ
@given(cases(), st.sampled_from(REGIONS))
def test_deltas_match_brute_force(case, region):
    if case.shape[1] < 2:
        with pytest.raises(RnndynError, match="n_steps=1"):
            case.call(metrics.deltas, region=region)
        return
    dm, _ = ref_masks(case, region)
    got = case.call(metrics.deltas, region=region)
    ref = ref_deltas(case.x64, dm)
    assert got.shape == ref.shape
    np.testing.assert_array_equal(got, ref)  # a difference in float64 is exact


@FUZZ
@given(cases(), st.sampled_from(REGIONS))
def test_rms_and_mean_abs_delta_match_brute_force(case, region):
    if case.shape[1] < 2:
        for f in (metrics.rms_delta, metrics.mean_abs_delta):
            with pytest.raises(RnndynError, match="two steps"):
                case.call(f, region=region)
        return
    dm, _ = ref_masks(case, region)
    atol = 1e-10 * np.sqrt(case.scale2)
    for f, power in ((metrics.rms_delta, 2), (metrics.mean_abs_delta, 1)):
        val, cnt = case.call(f, region=region, return_counts=True)
        ref, ref_cnt = ref_steps(case.x64, dm, power)
        np.testing.assert_array_equal(cnt, ref_cnt)
        close(val, ref, atol)
        close(case.call(f, region=region), val, 0.0, 0.0)  # counts or not, same values


@FUZZ
@given(cases(), st.sampled_from(REGIONS), st.data())
def test_vacf_matches_brute_force(case, region, data):
    T = case.shape[1]
    if T < 2:
        with pytest.raises(RnndynError, match="two steps"):
            case.call(metrics.vacf, region=region)
        return
    max_lag = draw_max_lag(data, T - 2)
    lag = T - 2 if max_lag is None else int(max_lag)
    dm, _ = ref_masks(case, region)
    ref, ref_cnt = ref_vacf(case.x64, dm, lag)
    val, cnt = case.call(metrics.vacf, max_lag=max_lag, region=region, return_counts=True)
    np.testing.assert_array_equal(cnt, ref_cnt)
    close(val, ref, 1e-10 * case.scale2)
    # normalize=True divides by C(0); NaN where C(0) is 0 (a unit that never moves) or undefined
    c0 = ref[0:1]
    ref_n = np.where(np.isfinite(c0) & (c0 != 0), ref / np.where(c0 != 0, c0, 1.0), np.nan)
    nval, ncnt = case.call(metrics.vacf, max_lag=max_lag, region=region, normalize=True, return_counts=True)
    np.testing.assert_array_equal(ncnt, ref_cnt)
    close(nval, ref_n, 1e-8, 1e-8)
    with pytest.raises(RnndynError, match="max_lag"):
        case.call(metrics.vacf, max_lag=T - 1, region=region)


@FEW
@given(cases(), st.sampled_from(REGIONS))
def test_vacf_two_time_matches_brute_force(case, region):
    if case.shape[1] < 2:
        with pytest.raises(RnndynError, match="two steps"):
            case.call(metrics.vacf_two_time, region=region)
        return
    dm, _ = ref_masks(case, region)
    ref, ref_cnt = ref_two_time(case.x64, dm)
    val, cnt = case.call(metrics.vacf_two_time, region=region, return_counts=True)
    np.testing.assert_array_equal(cnt, ref_cnt)
    close(val, ref, 1e-10 * case.scale2)


@FUZZ
@given(cases(), st.sampled_from(REGIONS), st.data())
def test_msd_matches_brute_force(case, region, data):
    T = case.shape[1]
    max_lag = draw_max_lag(data, T - 1)
    lag = T - 1 if max_lag is None else int(max_lag)
    dm, pos = ref_masks(case, region)
    ref, ref_cnt = ref_msd(case.x64, dm, pos, lag)
    val, cnt = case.call(metrics.msd, max_lag=max_lag, region=region, return_counts=True)
    np.testing.assert_array_equal(cnt, ref_cnt)
    close(val, ref, 1e-10 * case.scale2)
    assert np.all(val[0][cnt[0] > 0] == 0.0)  # lag 0 is exactly 0
    assert np.all(np.nan_to_num(val) >= 0.0)
    with pytest.raises(RnndynError, match="max_lag"):
        case.call(metrics.msd, max_lag=T, region=region)


@FUZZ
@given(cases(), st.sampled_from(REGIONS))
def test_msd_from_start_matches_brute_force(case, region):
    dm, pos = ref_masks(case, region)
    ref, ref_cnt = ref_from_start(case.x64, dm, pos)
    val, cnt = case.call(metrics.msd_from_start, region=region, return_counts=True)
    np.testing.assert_array_equal(cnt, ref_cnt)
    close(val, ref, 1e-10 * case.scale2)


BIDIRECTIONAL_MASKED = Case(
    x=np.cumsum(np.random.default_rng(0).normal(size=(3, 6, 2)), axis=1),
    lengths=np.array([6, 4, 2]),
    directions=("forward", "backward"),
    masked=True,  # masked backward units share the forward units' input deltas (t + 1 < lengths)
    order="input",
    bare=False,
    lengths_none=False,
    backend="numpy",
)


@FEW
@example(case=BIDIRECTIONAL_MASKED, region="input")
@given(cases(min_steps=2), st.sampled_from(REGIONS))
def test_vector_is_the_sum_over_units_or_an_error(case, region):
    """vector=True: one N-dim chain; an error exactly when the units' region steps differ."""
    dm, pos = ref_masks(case, region)
    shared = all(np.array_equal(dm[:, :, 0], dm[:, :, u]) for u in range(case.shape[2]))
    funcs = (metrics.msd, metrics.vacf, metrics.vacf_two_time, metrics.msd_from_start, metrics.rms_delta)
    if not shared:
        for f in funcs:
            with pytest.raises(RnndynError, match="vector=True"):
                case.call(f, region=region, vector=True)
        return
    x, T = case.x64, case.shape[1]
    refs = {
        metrics.msd: ref_msd(x, dm, pos, T - 1),
        metrics.vacf: ref_vacf(x, dm, T - 2),
        metrics.vacf_two_time: ref_two_time(x, dm),
        metrics.msd_from_start: ref_from_start(x, dm, pos),
        metrics.rms_delta: ref_steps(x, dm, 2),
    }
    for f, (ref, ref_cnt) in refs.items():
        if f is metrics.rms_delta:
            ref = np.sqrt((ref**2).sum(axis=-1))
            atol = 1e-10 * np.sqrt(case.scale2 * case.shape[2])
        else:
            ref, atol = ref.sum(axis=-1), 1e-10 * case.scale2 * case.shape[2]
        val, cnt = case.call(f, region=region, vector=True, return_counts=True)
        np.testing.assert_array_equal(cnt, ref_cnt[..., 0])
        close(val, ref, atol)


# -------------------------------------------------------------- properties
@FEW
@given(cases(numpy_float64=True), st.sampled_from(REGIONS), st.data())
def test_affine_maps(case, region, data):
    """a x + c: displacements scale by a (squares by a^2), constants drop out, C(s)/C(0) is unchanged."""
    n, T, U = case.shape
    a = data.draw(st.sampled_from([-3.0, -1.0, 1e-3, 0.5, 2.0, 1e3]))
    kind = data.draw(st.sampled_from(["scalar", "per_sequence", "per_unit"]))
    shape = {"scalar": (1, 1, 1), "per_sequence": (n, 1, 1), "per_unit": (n, 1, U)}[kind]
    c = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1))).uniform(-100, 100, shape)
    c *= np.sqrt(case.scale2)
    y = a * case.x + c
    s2 = 4.0 * np.max(np.abs(y)) ** 2 + a * a * case.scale2 + 1e-300
    metric_pow = [(metrics.msd, 2), (metrics.msd_from_start, 2)]
    if T >= 2:
        metric_pow += [(metrics.vacf, 2), (metrics.vacf_two_time, 2)]
        metric_pow += [(metrics.rms_delta, 1), (metrics.mean_abs_delta, 1), (metrics.deltas, 0)]
    for f, p in metric_pow:
        kw = {} if f is metrics.deltas else {"return_counts": True}
        base, moved = case.call(f, region=region, **kw), case.call(f, x=y, region=region, **kw)
        if kw:
            np.testing.assert_array_equal(moved[1], base[1])
            base, moved = base[0], moved[0]
        factor = {2: a * a, 1: abs(a), 0: a}[p]
        close(moved, factor * base, 1e-9 * (s2 if p == 2 else np.sqrt(s2)), 1e-8)
    if T >= 2:
        close(
            case.call(metrics.vacf, x=y, region=region, normalize=True),
            case.call(metrics.vacf, region=region, normalize=True),
            1e-7,
            1e-7,
        )


@FEW
@given(cases(), st.sampled_from(REGIONS), st.data())
def test_batches_in_any_order_pool_by_counts(case, region, data):
    """Split the sequences, shuffled, into batches: the count-weighted mean of the batches is the whole."""
    n, T, _ = case.shape
    perm = np.array(data.draw(st.permutations(range(n))))
    cuts = sorted(data.draw(st.sets(st.integers(1, max(n - 1, 1)), max_size=n - 1)) if n > 1 else [])
    batches = [b for b in np.split(perm, cuts) if b.size]
    funcs = [metrics.msd, metrics.msd_from_start]
    if T >= 2:
        funcs += [metrics.vacf, metrics.vacf_two_time, metrics.rms_delta, metrics.mean_abs_delta]
    for f in funcs:
        val, cnt = case.call(f, region=region, return_counts=True)
        num, tot = np.zeros_like(val), np.zeros_like(cnt)
        for rows in batches:
            v, c = case.call(f, rows=rows, region=region, return_counts=True)
            if f is metrics.rms_delta:
                v = v**2
            num += np.where(c > 0, v, 0.0) * c
            tot += c
        np.testing.assert_array_equal(tot, cnt)
        pooled = np.where(tot > 0, num / np.where(tot > 0, tot, 1), np.nan)
        if f is metrics.rms_delta:
            pooled = np.sqrt(pooled)
        atol = 1e-9 * (
            np.sqrt(case.scale2) if f in (metrics.rms_delta, metrics.mean_abs_delta) else case.scale2
        )
        close(val, pooled, atol, 1e-8)
        # the shuffled whole is the same as the whole
        v2, c2 = case.call(f, rows=perm, region=region, return_counts=True)
        np.testing.assert_array_equal(c2, cnt)
        close(v2, val, atol, 1e-8)


@FUZZ
@given(cases(min_steps=2), st.sampled_from(REGIONS))
def test_identities_between_metrics(case, region):
    s2 = case.scale2
    rms, n_t = case.call(metrics.rms_delta, region=region, return_counts=True)
    mad = case.call(metrics.mean_abs_delta, region=region)
    # diagonal of the two-time VACF is rms^2, on the same sequences
    c2, n2 = case.call(metrics.vacf_two_time, region=region, return_counts=True)
    np.testing.assert_array_equal(np.einsum("ttu->tu", n2), n_t)
    close(np.einsum("ttu->tu", c2), rms**2, 1e-10 * s2)
    # C(t, s) = C(s, t)
    close(c2, c2.transpose(1, 0, 2), 1e-12 * s2)
    # MSD at lag 1 = mean of d^2 over the region's deltas = VACF at lag 0
    d = case.call(metrics.deltas, region=region)
    inside = ~np.isnan(d)
    m1, k1 = case.call(metrics.msd, region=region, max_lag=1, return_counts=True)
    np.testing.assert_array_equal(k1[1], inside.sum(axis=(0, 1)))
    n_in = inside.sum(axis=(0, 1))
    mean_d2 = np.where(n_in > 0, np.nansum(d**2, axis=(0, 1)) / np.maximum(n_in, 1), np.nan)
    close(m1[1], mean_d2, 1e-10 * s2)
    v0, kv = case.call(metrics.vacf, region=region, max_lag=0, return_counts=True)
    np.testing.assert_array_equal(kv[0], k1[1])
    close(v0[0], m1[1], 1e-10 * s2)
    # msd_from_start at t=1 is the first delta squared, averaged where it lies in the region
    st_val, st_cnt = case.call(metrics.msd_from_start, region=region, return_counts=True)
    np.testing.assert_array_equal(st_cnt[1], n_t[0])
    close(st_val[1], rms[0] ** 2, 1e-10 * s2)
    assert np.all(st_val[0][st_cnt[0] > 0] == 0.0)
    # |d| averages never exceed the RMS; normalized VACF is 1 at lag 0 where the unit moves
    assert np.all(np.nan_to_num(mad) <= np.nan_to_num(rms) * (1 + 1e-12) + 1e-300)
    norm = case.call(metrics.vacf, region=region, normalize=True)
    moving = np.nan_to_num(v0[0]) != 0
    close(norm[0][moving], np.ones(moving.sum()), 1e-12, 1e-12)
    assert np.all(np.isnan(norm[:, ~moving]))
    if region == "all":  # two-time Green-Kubo: msd_from_start(t) = sum_{a, b < t} C(a, b)
        for t in range(case.shape[1]):
            close(st_val[t], c2[:t, :t].sum(axis=(0, 1)), 1e-9 * s2 * t * t + 1e-300)


@FEW
@given(cases(backend="numpy"), st.sampled_from(REGIONS), st.data())
def test_torch_gives_the_same_as_numpy(case, region, data):
    if torch is None:  # pragma: no cover
        pytest.skip("torch is not installed")
    T = case.shape[1]
    tcase = Case(**{**case.__dict__, "backend": "torch"})
    calls: list[tuple[Any, dict[str, Any]]] = [
        (metrics.msd, {"max_lag": draw_max_lag(data, T - 1)}),
        (metrics.msd_from_start, {}),
    ]
    if T >= 2:
        calls += [
            (metrics.vacf, {"max_lag": draw_max_lag(data, T - 2), "normalize": data.draw(st.booleans())}),
            (metrics.vacf_two_time, {}),
            (metrics.rms_delta, {}),
            (metrics.mean_abs_delta, {}),
        ]
    for f, kw in calls:
        v_np, c_np = case.call(f, region=region, return_counts=True, **kw)
        v_t, c_t = tcase.call(f, region=region, return_counts=True, **kw)
        np.testing.assert_array_equal(c_t, c_np)
        close(v_t, v_np, 1e-8 if kw.get("normalize") else 1e-10 * case.scale2, 1e-9)
    if T >= 2:
        np.testing.assert_array_equal(
            tcase.call(metrics.deltas, region=region), case.call(metrics.deltas, region=region)
        )


@FEW
@given(st.data())
def test_low_precision_is_computed_in_float64(data):
    """float32/float16/int inputs: float64 results of the stored values; close to the float64 originals."""
    case = data.draw(cases(numpy_float64=True))
    region = data.draw(st.sampled_from(REGIONS))
    dtype = data.draw(st.sampled_from(["float32", "float16"]))
    x_orig = case.x64 / max(np.sqrt(case.scale2), 1e-300)  # |x| <= 0.5: inside float16's range
    low = x_orig.astype(dtype)
    lcase = Case(**{**case.__dict__, "x": low})
    ocase = Case(**{**case.__dict__, "x": x_orig})
    eps = float(np.finfo(dtype).eps)
    dm, pos = ref_masks(case, region)
    T = case.shape[1]
    val, cnt = lcase.call(metrics.msd, region=region, return_counts=True)
    ref, ref_cnt = ref_msd(low.astype(np.float64), dm, pos, T - 1)
    np.testing.assert_array_equal(cnt, ref_cnt)
    close(val, ref, 1e-12)  # exactly the stored values' metric, at float64 accuracy
    close(val, ocase.call(metrics.msd, region=region), 8 * eps)  # float-appropriate vs the originals
    close(
        lcase.call(metrics.msd_from_start, region=region),
        ocase.call(metrics.msd_from_start, region=region),
        8 * eps,
    )
    if T >= 2:
        close(
            lcase.call(metrics.rms_delta, region=region),
            ocase.call(metrics.rms_delta, region=region),
            4 * eps,
        )
        close(lcase.call(metrics.vacf, region=region), ocase.call(metrics.vacf, region=region), 8 * eps)
        np.testing.assert_array_equal(
            lcase.call(metrics.deltas, region=region), ref_deltas(low.astype(float), dm)
        )


# ------------------------------------------------------- time order, align
def ref_processing(case: Case) -> np.ndarray:
    """Backward units re-indexed by the step at which the backward recurrence computed them."""
    n, T, U = case.shape
    out = case.x.copy()
    for i, u in itertools.product(range(n), range(U)):
        if case.directions[u] != "backward":
            continue
        L = int(case.lengths[i])
        for k in range(T):
            if case.masked:
                src = L - 1 - k if k < L else k  # real steps from the end, padding left last
            else:
                src = T - 1 - k  # the whole padded sequence from the end
            out[i, k, u] = case.x[i, src, u]
    return out


@FUZZ
@given(cases(), st.sampled_from(REGIONS))
def test_processing_order_and_back(case, region):
    assume(not case.bare)
    case = Case(**{**case.__dict__, "order": "input"})
    traj, _ = case.obj()
    proc = traj.processing_order()
    assert proc.order == "processing" and proc.masked == case.masked
    assert type(proc.states) is type(traj.states)
    got = np.asarray(proc.states if case.backend == "numpy" else proc.states.numpy())
    assert got.dtype == case.x.dtype
    ref = ref_processing(case)
    np.testing.assert_array_equal(got, ref)
    np.testing.assert_array_equal(proc.lengths, case.lengths)
    back = proc.input_order()
    assert back.order == "input"
    np.testing.assert_array_equal(
        np.asarray(back.states if case.backend == "numpy" else back.states.numpy()), case.x
    )
    assert proc.processing_order() is proc and traj.input_order() is traj
    # the region masks of both orders follow the data-layout table
    pcase = Case(**{**case.__dict__, "x": ref, "order": "processing"})
    if case.shape[1] >= 2:
        np.testing.assert_array_equal(traj.delta_mask(region), ref_masks(case, region)[0])
        np.testing.assert_array_equal(proc.delta_mask(region), ref_masks(pcase, region)[0])
    # reversing time keeps the pairs of an unmasked run (and of the real steps when masked)
    if not case.masked or region == "input":
        s2 = case.scale2
        for f in (metrics.msd, metrics.vacf) if case.shape[1] >= 2 else (metrics.msd,):
            a = to_np(f(traj, region=region, return_counts=True), case.backend)
            b = to_np(f(proc, region=region, return_counts=True), case.backend)
            np.testing.assert_array_equal(a[1], b[1])
            close(a[0], b[0], 1e-10 * s2)


@FUZZ
@given(cases(), st.data())
def test_align_end_matches_index_arithmetic(case, data):
    assume(not case.bare)
    case = Case(**{**case.__dict__, "order": "input"})
    traj, _ = case.obj()
    n, T, U = case.shape
    L = case.lengths
    if np.any(L == 0):
        with pytest.raises(RnndynError, match="length 0"):
            traj.align_end()
        return
    before = data.draw(st.one_of(st.none(), st.integers(-1, T + 1)))
    after = data.draw(st.one_of(st.none(), st.integers(-1, T + 1)))
    for name, value in (("before", before), ("after", after)):
        if value is not None and not 0 <= value <= T - 1:  # no step is further than T - 1 from an end
            with pytest.raises(RnndynError, match=name):
                traj.align_end(before, after)
            return
    b = int(L.max()) - 1 if before is None else before
    a = T - int(L.min()) if after is None else after
    got = traj.align_end(before, after)
    np.testing.assert_array_equal(got.offsets, np.arange(-b, a + 1))
    values = np.full((n, b + 1 + a, U), np.nan)
    valid = np.zeros((n, b + 1 + a), dtype=bool)
    for i, k in itertools.product(range(n), range(b + 1 + a)):
        t = L[i] - 1 + (k - b)
        if 0 <= t < T:
            values[i, k] = case.x64[i, t]
            valid[i, k] = True
    assert np.asarray(got.values).dtype == np.float64
    np.testing.assert_array_equal(got.valid, valid)
    np.testing.assert_array_equal(np.asarray(got.values), values)
    if before is None and after is None:  # the defaults keep every step of every sequence
        assert valid.sum() == n * T
    with pytest.raises(RnndynError, match="input order"):
        traj.processing_order().align_end()
