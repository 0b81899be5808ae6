"""rnndyn.metrics against brute-force loops, tidynamics, exact identities and analytic cases."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
import tidynamics

from rnndyn import RnndynError, Trajectories, metrics
from rnndyn.trajectories import delta_region_mask

REGIONS = ("all", "input", "padding")
DELTA_METRICS = (
    metrics.deltas,
    metrics.rms_delta,
    metrics.mean_abs_delta,
    metrics.vacf,
    metrics.vacf_two_time,
)


# ---------------------------------------------------------------- references
def positions(dmask: np.ndarray, region: str) -> np.ndarray:
    """Steps in the region: endpoints of its deltas (every step for 'all')."""
    n, t1, u = dmask.shape
    if region == "all":
        return np.ones((n, t1 + 1, u), dtype=bool)
    pos = np.zeros((n, t1 + 1, u), dtype=bool)
    pos[:, :-1] |= dmask
    pos[:, 1:] |= dmask
    return pos


def _mean(total: float, count: int) -> float:
    return total / count if count else np.nan


def bf_msd(x, dmask, region, max_lag):
    n, T, U = x.shape
    pos = positions(dmask, region)
    val = np.full((max_lag + 1, U), np.nan)
    cnt = np.zeros((max_lag + 1, U), dtype=int)
    for u, m in itertools.product(range(U), range(max_lag + 1)):
        total, c = 0.0, 0
        for i in range(n):
            for t in range(T - m):
                inside = pos[i, t, u] if m == 0 else bool(np.all(dmask[i, t : t + m, u]))
                if inside:
                    total += (x[i, t + m, u] - x[i, t, u]) ** 2
                    c += 1
        val[m, u], cnt[m, u] = _mean(total, c), c
    return val, cnt


def bf_vacf(x, dmask, max_lag):
    n, T, U = x.shape
    d = np.diff(x, axis=1)
    val = np.full((max_lag + 1, U), np.nan)
    cnt = np.zeros((max_lag + 1, U), dtype=int)
    for u, s in itertools.product(range(U), range(max_lag + 1)):
        total, c = 0.0, 0
        for i in range(n):
            for t in range(T - 1 - s):
                if np.all(dmask[i, t : t + s + 1, u]):
                    total += d[i, t, u] * d[i, t + s, u]
                    c += 1
        val[s, u], cnt[s, u] = _mean(total, c), c
    return val, cnt


def bf_steps(x, dmask, func):
    n, T, U = x.shape
    d = np.diff(x, axis=1)
    val = np.full((T - 1, U), np.nan)
    cnt = np.zeros((T - 1, U), dtype=int)
    for t, u in itertools.product(range(T - 1), range(U)):
        vals = [d[i, t, u] for i in range(n) if dmask[i, t, u]]
        cnt[t, u] = len(vals)
        if vals:
            val[t, u] = func(np.array(vals))
    return val, cnt


def bf_two_time(x, dmask):
    n, T, U = x.shape
    d = np.diff(x, axis=1)
    val = np.full((T - 1, T - 1, U), np.nan)
    cnt = np.zeros((T - 1, T - 1, U), dtype=int)
    for t, s, u in itertools.product(range(T - 1), range(T - 1), range(U)):
        total, c = 0.0, 0
        for i in range(n):
            if np.all(dmask[i, min(t, s) : max(t, s) + 1, u]):
                total += d[i, t, u] * d[i, s, u]
                c += 1
        val[t, s, u], cnt[t, s, u] = _mean(total, c), c
    return val, cnt


def bf_from_start(x, dmask, region):
    n, T, U = x.shape
    pos = positions(dmask, region)
    val = np.full((T, U), np.nan)
    cnt = np.zeros((T, U), dtype=int)
    for t, u in itertools.product(range(T), range(U)):
        total, c = 0.0, 0
        for i in range(n):
            inside = pos[i, 0, u] if t == 0 else bool(np.all(dmask[i, :t, u]))
            if inside:
                total += (x[i, t, u] - x[i, 0, u]) ** 2
                c += 1
        val[t, u], cnt[t, u] = _mean(total, c), c
    return val, cnt


def close(a, b, rtol=1e-10):
    a, b = np.asarray(a), np.asarray(b)
    scale = np.nanmax(np.abs(b)) if np.any(np.isfinite(b)) else 1.0
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * max(scale, 1e-300), equal_nan=True)


# ------------------------------------------------------------------ fixtures
LENGTHS = np.array([9, 0, 1, 2, 5, 8])


def bidir_units(n_fwd: int = 2, n_bwd: int = 2) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "layer": "enc",
            "state": "h",
            "direction": ["forward"] * n_fwd + ["backward"] * n_bwd,
            "index": list(range(n_fwd)) + list(range(n_bwd)),
        }
    )


@pytest.fixture(scope="module")
def walk() -> np.ndarray:
    rng = np.random.default_rng(11)
    return np.cumsum(rng.standard_normal((len(LENGTHS), 9, 4)), axis=1) + 3.0


CASES = list(itertools.product([False, True], ["input", "processing"], REGIONS))


# ---------------------------------------------------- brute force, all cases
@pytest.mark.parametrize("masked,order,region", CASES)
def test_every_metric_matches_brute_force(walk, masked, order, region):
    traj = Trajectories(walk, LENGTHS, bidir_units(), masked=masked, order=order)
    dm = traj.delta_mask(region)
    T = walk.shape[1]
    pairs = [
        (metrics.msd(traj, region=region, return_counts=True), bf_msd(walk, dm, region, T - 1)),
        (metrics.vacf(traj, region=region, return_counts=True), bf_vacf(walk, dm, T - 2)),
        (
            metrics.rms_delta(traj, region=region, return_counts=True),
            bf_steps(walk, dm, lambda v: np.sqrt(np.mean(v**2))),
        ),
        (
            metrics.mean_abs_delta(traj, region=region, return_counts=True),
            bf_steps(walk, dm, lambda v: np.mean(np.abs(v))),
        ),
        (metrics.vacf_two_time(traj, region=region, return_counts=True), bf_two_time(walk, dm)),
        (metrics.msd_from_start(traj, region=region, return_counts=True), bf_from_start(walk, dm, region)),
    ]
    for (val, cnt), (ref, ref_cnt) in pairs:
        assert val.dtype == np.float64 and cnt.dtype == np.int64
        np.testing.assert_array_equal(cnt, ref_cnt)
        close(val, ref)
    expected = np.where(dm, np.diff(walk, axis=1), np.nan)
    np.testing.assert_array_equal(metrics.deltas(traj, region=region), expected)


@pytest.mark.parametrize("region", REGIONS)
def test_bare_array_with_lengths_is_forward_input_order(walk, region):
    dm = np.repeat(delta_region_mask(LENGTHS, walk.shape[1], region=region)[:, :, None], 4, axis=2)
    val, cnt = metrics.msd(walk, region=region, lengths=LENGTHS, max_lag=5, return_counts=True)
    ref, ref_cnt = bf_msd(walk, dm, region, 5)
    np.testing.assert_array_equal(cnt, ref_cnt)
    close(val, ref)
    val, cnt = metrics.vacf(walk, region=region, lengths=LENGTHS, max_lag=3, return_counts=True)
    ref, ref_cnt = bf_vacf(walk, dm, 3)
    np.testing.assert_array_equal(cnt, ref_cnt)
    close(val, ref)
    same = Trajectories(walk, LENGTHS)
    close(metrics.msd(same, region=region), metrics.msd(walk, region=region, lengths=LENGTHS))


def test_max_lag_truncates_the_full_curve(walk):
    full = metrics.msd(walk)
    close(metrics.msd(walk, max_lag=3), full[:4], rtol=1e-12)
    close(metrics.vacf(walk, max_lag=0), metrics.vacf(walk)[:1], rtol=1e-12)
    assert metrics.msd(walk, max_lag=0).tolist() == [[0.0] * 4]


# ------------------------------------------------------------------ tidynamics
def test_single_series_equals_tidynamics():
    rng = np.random.default_rng(3)
    s = np.cumsum(rng.standard_normal(300)) + 50.0
    close(metrics.msd(s[None, :, None])[:, 0], tidynamics.msd(s), rtol=1e-9)
    d = np.diff(s)
    close(metrics.vacf(s[None, :, None])[:, 0], tidynamics.acf(d), rtol=1e-9)


def test_pooled_variable_lengths_equal_tidynamics_weighted_by_pairs():
    rng = np.random.default_rng(4)
    lengths = np.array([40, 2, 17, 1, 0, 33, 40])
    x = np.cumsum(rng.standard_normal((len(lengths), 40, 2)), axis=1)
    T = x.shape[1]
    num_m, den_m = np.zeros((T, 2)), np.zeros((T, 1))
    num_c, den_c = np.zeros((T - 1, 2)), np.zeros((T - 1, 1))
    for i, L in enumerate(lengths):
        if L < 2:
            continue  # no input delta: the input region is empty in that sequence
        pairs = (L - np.arange(L))[:, None]
        for u in range(2):
            num_m[:L, u] += tidynamics.msd(x[i, :L, u]) * pairs[:, 0]
            num_c[: L - 1, u] += tidynamics.acf(np.diff(x[i, :L, u])) * pairs[1:, 0]
        den_m[:L] += pairs
        den_c[: L - 1] += pairs[1:]
    with np.errstate(invalid="ignore"):
        close(metrics.msd(x, region="input", lengths=lengths), num_m / den_m, rtol=1e-9)
        close(metrics.vacf(x, region="input", lengths=lengths), num_c / den_c, rtol=1e-9)


# -------------------------------------------------------------- identities
@pytest.mark.parametrize("region", REGIONS)
def test_identity_1_msd_is_s1_minus_2_s2(walk, region):
    """MSD(m) = S1 - 2 S2 per series (PHYSICS identity 1), pooled by pair counts."""
    x = walk[:, :, :1]
    lengths = np.array([9, 4, 9, 2, 5, 8])
    val, cnt = metrics.msd(x, region=region, lengths=lengths, return_counts=True)
    num = np.zeros(x.shape[1])
    for i in range(x.shape[0]):
        mask = delta_region_mask(lengths[i : i + 1], x.shape[1], region=region)[0]
        nz = np.flatnonzero(mask)
        idx = np.arange(x.shape[1]) if region == "all" else np.union1d(nz, nz + 1).astype(int)
        s = x[i, idx, 0]
        L = len(s)
        for m in range(L):
            s1 = np.sum(s[: L - m] ** 2) + np.sum(s[m:] ** 2)
            s2 = np.sum(s[: L - m] * s[m:])
            num[m] += s1 - 2 * s2
    with np.errstate(invalid="ignore"):
        close(val[:, 0], num / cnt[:, 0])


def test_identity_2_two_time_green_kubo(walk):
    """<(x_t - x_0)^2> = sum_{i<t, j<t} <v_i v_j> exactly, for any data."""
    c = metrics.vacf_two_time(walk)
    start = metrics.msd_from_start(walk)
    for t in range(walk.shape[1]):
        close(start[t], c[:t, :t].sum(axis=(0, 1)))


@pytest.mark.parametrize("masked,order,region", CASES)
def test_identity_4_msd_lag_one_is_pooled_rms_squared(walk, masked, order, region):
    traj = Trajectories(walk, LENGTHS, bidir_units(), masked=masked, order=order)
    rms, n_t = metrics.rms_delta(traj, region=region, return_counts=True)
    m1 = metrics.msd(traj, region=region, max_lag=1)[1]
    with np.errstate(invalid="ignore"):
        expected = np.nansum(n_t * rms**2, axis=0) / n_t.sum(axis=0)
    close(m1, expected)


@pytest.mark.parametrize("masked,order,region", CASES)
def test_identity_5_two_time_diagonal_is_rms(walk, masked, order, region):
    traj = Trajectories(walk, LENGTHS, bidir_units(), masked=masked, order=order)
    c = metrics.vacf_two_time(traj, region=region)
    close(np.sqrt(np.einsum("ttu->tu", c)), metrics.rms_delta(traj, region=region))


def test_vacf_lag_zero_is_msd_lag_one(walk):
    close(
        metrics.vacf(walk, region="input", lengths=LENGTHS)[0],
        metrics.msd(walk, region="input", lengths=LENGTHS)[1],
    )


# -------------------------------------------------------------- analytic
def test_ballistic_line_and_constant():
    c, T = 0.7, 30
    x = np.broadcast_to(c * np.arange(T)[None, :, None] + np.array([1.0, -5.0, 1e3]), (3, T, 3))
    m = np.arange(T)[:, None]
    close(metrics.msd(x), np.broadcast_to(c**2 * m**2, (T, 3)), rtol=1e-9)
    close(metrics.msd(x, vector=True), 3 * c**2 * m[:, 0] ** 2, rtol=1e-9)
    close(metrics.vacf(x, normalize=True), np.ones((T - 1, 3)), rtol=1e-12)
    close(metrics.msd_from_start(x), c**2 * m**2 * np.ones(3), rtol=1e-12)
    const = np.full((4, 20, 2), 3.25)
    assert np.all(metrics.msd(const) == 0.0)
    assert np.all(metrics.vacf(const) == 0.0)
    assert np.all(np.isnan(metrics.vacf(const, normalize=True)))


def test_random_walk_ensemble_msd_from_start_is_t():
    rng = np.random.default_rng(5)
    n, T = 20000, 16
    steps = rng.choice([-1.0, 1.0], size=(n, T - 1, 1))
    x = np.concatenate([np.zeros((n, 1, 1)), np.cumsum(steps, axis=1)], axis=1)
    got = metrics.msd_from_start(x)[:, 0]
    t = np.arange(T)
    sigma = np.sqrt(2 * t**2 / n)  # Var[(x_t)^2] = 2t^2 - 2t for a +-1 walk
    assert np.all(np.abs(got - t) <= 5 * sigma + 1e-12)
    # time-origin averaged MSD of the same walk is m as well; the lag-1 value is exact
    assert metrics.msd(x, max_lag=1)[1, 0] == pytest.approx(1.0, abs=1e-12)


def test_ar1_velocity_vacf_is_geometric():
    rng = np.random.default_rng(6)
    phi, sigma, n, T = 0.8, 1.0, 400, 400
    c0 = sigma**2 / (1 - phi**2)
    v = np.empty((n, T - 1))
    v[:, 0] = rng.standard_normal(n) * np.sqrt(c0)  # stationary start
    for t in range(1, T - 1):
        v[:, t] = phi * v[:, t - 1] + sigma * rng.standard_normal(n)
    x = np.concatenate([np.zeros((n, 1)), np.cumsum(v, axis=1)], axis=1)[:, :, None]
    c = metrics.vacf(x, max_lag=20)[:, 0]
    np.testing.assert_allclose(c, c0 * phi ** np.arange(21), atol=0.05 * c0)
    rho = metrics.vacf(x, max_lag=20, normalize=True)[:, 0]
    np.testing.assert_allclose(rho, phi ** np.arange(21), atol=0.03)


# ------------------------------------------------------- options and shapes
def test_vector_is_the_sum_over_units(walk):
    for f in (metrics.msd, metrics.vacf, metrics.msd_from_start, metrics.vacf_two_time):
        val, cnt = f(walk, vector=True, return_counts=True)
        close(val, f(walk).sum(axis=-1))
        assert cnt.shape == val.shape
    close(metrics.rms_delta(walk, vector=True), np.sqrt((metrics.rms_delta(walk) ** 2).sum(axis=-1)))
    # one direction shares its windows: vector works with a region
    traj = Trajectories(walk, LENGTHS)
    close(metrics.msd(traj, region="input", vector=True), metrics.msd(traj, region="input").sum(axis=-1))


def test_vector_with_differing_windows_is_an_error(walk):
    traj = Trajectories(walk, LENGTHS, bidir_units())
    with pytest.raises(RnndynError, match="share the steps"):
        metrics.msd(traj, region="input", vector=True)
    val = metrics.msd(traj, region="all", vector=True)  # 'all' is shared by every unit
    close(val, metrics.msd(walk).sum(axis=-1))


def test_normalized_vacf_divides_by_lag_zero(walk):
    c = metrics.vacf(walk)
    close(metrics.vacf(walk, normalize=True), c / c[0])
    cv = metrics.vacf(walk, vector=True)
    close(metrics.vacf(walk, normalize=True, vector=True), cv / cv[0])


def test_mean_abs_delta_is_the_notebooks_rms(walk):
    d = np.diff(walk, axis=1)
    close(metrics.mean_abs_delta(walk), np.mean(np.sqrt(d**2), axis=0))  # what the notebook wrote
    close(metrics.rms_delta(walk), np.sqrt(np.mean(d**2, axis=0)))
    assert np.all(metrics.rms_delta(walk) >= metrics.mean_abs_delta(walk) - 1e-12)


def test_region_without_pairs_gives_nan_and_zero_counts():
    x = np.cumsum(np.ones((2, 5, 1)), axis=1)
    val, cnt = metrics.msd(x, region="padding", return_counts=True)  # all steps real: no padding
    assert np.all(np.isnan(val)) and np.all(cnt == 0)
    val, cnt = metrics.rms_delta(x, region="input", lengths=[3, 1], return_counts=True)
    assert cnt[:, 0].tolist() == [1, 1, 0, 0]
    assert np.isnan(val[2:, 0]).all() and np.all(val[:2, 0] == 1.0)


# ---------------------------------------------------------------- edge cases
@pytest.mark.parametrize("n_steps", [1, 2])
def test_few_steps(n_steps):
    x = np.arange(3.0 * n_steps).reshape(3, n_steps, 1) ** 2
    assert metrics.msd(x).shape == (n_steps, 1)
    assert metrics.msd(x)[0, 0] == 0.0
    assert metrics.msd_from_start(x, return_counts=True)[1][:, 0].tolist() == [3] * n_steps
    if n_steps == 2:
        d = x[:, 1, 0] - x[:, 0, 0]
        assert metrics.vacf(x)[0, 0] == pytest.approx(np.mean(d**2))
        assert metrics.msd(x)[1, 0] == pytest.approx(np.mean(d**2))
        assert metrics.vacf_two_time(x).shape == (1, 1, 1)
    else:
        for f in (
            metrics.vacf,
            metrics.deltas,
            metrics.rms_delta,
            metrics.mean_abs_delta,
            metrics.vacf_two_time,
        ):
            with pytest.raises(RnndynError, match="at least two steps"):
                f(x)


def test_zero_steps_and_zero_sequences():
    with pytest.raises(RnndynError, match="at least one step"):
        metrics.msd(np.zeros((2, 0, 3)))
    with pytest.raises(RnndynError, match="at least one step"):
        metrics.msd_from_start(np.zeros((2, 0, 3)))
    with pytest.raises(RnndynError, match="0 sequences"):  # a mean over no sequences is undefined
        metrics.msd(np.zeros((0, 5, 2)), return_counts=True)
    assert metrics.deltas(np.zeros((0, 5, 2))).shape == (0, 4, 2)


@pytest.mark.parametrize("lengths", [[0, 0], [1, 1], [2, 2], [2, 0]])
def test_tiny_lengths(lengths):
    x = np.cumsum(np.random.default_rng(7).standard_normal((2, 6, 1)), axis=1)
    dm = delta_region_mask(np.array(lengths), 6, region="input")[:, :, None]
    val, cnt = metrics.msd(x, region="input", lengths=lengths, return_counts=True)
    ref, ref_cnt = bf_msd(x, dm, "input", 5)
    np.testing.assert_array_equal(cnt, ref_cnt)
    close(val, ref)


def test_one_sequence(walk):
    one = walk[2:3]
    close(metrics.msd(one)[:, 1], tidynamics.msd(one[0, :, 1]), rtol=1e-9)
    close(metrics.rms_delta(one), np.abs(np.diff(one, axis=1)[0]))


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.int32, np.int64, np.uint8])
def test_low_precision_and_integer_input_is_computed_in_float64(dtype):
    rng = np.random.default_rng(8)
    x = (rng.integers(0, 100, size=(5, 12, 2))).astype(dtype)
    ref = x.astype(np.float64)
    for f in (
        metrics.msd,
        metrics.vacf,
        metrics.rms_delta,
        metrics.vacf_two_time,
        metrics.msd_from_start,
        metrics.deltas,
    ):
        got = f(x)
        assert got.dtype == np.float64
        close(got, f(ref), rtol=1e-12)


def test_large_offsets_keep_float64_accuracy():
    """Mean removal: a series far from zero gives the same MSD as the centred series."""
    rng = np.random.default_rng(9)
    x = np.cumsum(rng.standard_normal((3, 200, 1)), axis=1)
    close(metrics.msd(x + 1e6), metrics.msd(x), rtol=1e-7)
    close(metrics.msd(x.astype(np.float32)), metrics.msd(x.astype(np.float32).astype(np.float64)), rtol=1e-12)


def test_msd_is_never_negative_and_exactly_zero_at_lag_zero():
    rng = np.random.default_rng(10)
    x = 1.0 + 1e-9 * rng.standard_normal((4, 64, 3))
    val = metrics.msd(x)
    assert np.all(val >= 0) and np.all(val[0] == 0)


# ---------------------------------------------------------------- validation
def test_non_finite_values_are_named():
    x = np.zeros((3, 4, 2))
    x[1, 2, 1] = np.nan
    with pytest.raises(RnndynError, match=r"sequence 1, step 2, unit 1"):
        metrics.msd(x)
    x[1, 2, 1] = np.inf
    with pytest.raises(RnndynError, match=r"non-finite value \(inf\)"):
        metrics.vacf(x)


@pytest.mark.parametrize(
    "x,match",
    [
        (np.zeros((3, 4)), "3 dimensions"),
        (np.zeros((2, 3, 4, 5)), "3 dimensions"),
        (np.array([[["a", "b"]]]), "real numbers"),
        (np.zeros((2, 3, 1), dtype=complex), "real numbers"),
        ([[[0.0], [1.0]], [[2.0]]], "could not convert"),
    ],
)
def test_bad_arrays(x, match):
    with pytest.raises(RnndynError, match=match):
        metrics.msd(x)


def test_bad_options(walk):
    n, T, _ = walk.shape
    cases = [
        (dict(lengths=[1, 2]), "one entry per sequence"),
        (dict(lengths=[1] * (n - 1) + [T + 1]), r"lie in \[0, n_steps"),
        (dict(lengths=[-1] + [1] * (n - 1)), r"lie in \[0, n_steps"),
        (dict(lengths=[0.5] * n), "whole numbers"),
        (dict(region="inputs"), "region must be one of"),
        (dict(max_lag=T), f"largest lag msd\\(\\) can measure is {T - 1}"),
        (dict(max_lag=-1), ">= 0"),
        (dict(max_lag=2.0), "must be an int"),
        (dict(max_lag=True), "must be an int"),
    ]
    for kw, match in cases:
        with pytest.raises(RnndynError, match=match):
            metrics.msd(walk, **kw)
    with pytest.raises(RnndynError, match=f"largest lag vacf\\(\\) can measure is {T - 2}"):
        metrics.vacf(walk, max_lag=T - 1)
    with pytest.raises(RnndynError, match="cannot be combined with a Trajectories"):
        metrics.rms_delta(Trajectories(walk), lengths=[T] * n)
    with pytest.raises(ValueError):  # RnndynError is a ValueError
        metrics.deltas(walk, region="pad")


def test_results_are_new_arrays(walk):
    x = walk.copy()
    metrics.msd(x)
    metrics.deltas(x)[:] = 0.0
    np.testing.assert_array_equal(x, walk)  # inputs never modified


# ---------------------------------------------------------------------- docs
def test_docs_metrics_md_examples_run(capsys):
    """docs/metrics.md stays true: its code blocks run, in order, and print what they say."""
    import re
    from pathlib import Path

    doc = Path(__file__).resolve().parents[1] / "docs" / "metrics.md"
    blocks = re.findall(r"^```python\n(.*?)^```\s*$", doc.read_text(), re.M | re.S)
    assert len(blocks) >= 2
    namespace: dict = {}
    for i, block in enumerate(blocks):
        exec(compile(block, f"docs/metrics.md block {i}", "exec"), namespace)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "(30, 4) int64"
    assert out[-1] == "[1 1 0 0] [ 1.  1. nan nan]"


def test_long_series_many_units_match_a_direct_sum():
    """Long T and many units take the tiled copies and several blocks."""
    rng = np.random.default_rng(12)
    x = np.cumsum(rng.standard_normal((3, 300, 130)), axis=1).astype(np.float32)
    y = x.astype(np.float64)
    d = np.diff(y, axis=1)
    T = y.shape[1]
    ref_msd = np.array([np.mean((y[:, m:] - y[:, : T - m]) ** 2, axis=(0, 1)) for m in range(T)])
    ref_vacf = np.array([np.mean(d[:, s:] * d[:, : T - 1 - s], axis=(0, 1)) for s in range(T - 1)])
    close(metrics.msd(x), ref_msd, rtol=1e-10)
    close(metrics.vacf(x), ref_vacf, rtol=1e-10)
    close(metrics.vacf_two_time(x)[:, :, 7], np.einsum("it,is->ts", d[:, :, 7], d[:, :, 7]) / 3)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("rows", [1, 4])
def test_blocks_and_threads_do_not_change_results(walk, monkeypatch, rows, threads):
    """Uneven blocks on the thread pool (reused padded buffers) give the one-block results."""
    from rnndyn import _backends, _kernels, _reduce

    cases = list(itertools.product((metrics.msd, metrics.vacf), REGIONS))
    whole = [f(walk, region=r) for f, r in cases]
    whole_tt = metrics.vacf_two_time(walk)
    per_row = _kernels.MSDKernel(_one_window(walk), n_lags=9, nfft=_kernels.fft_length(9, 8)).per_row
    monkeypatch.setattr(_backends, "NUMPY_BLOCK_ELEMENTS", rows * per_row)
    monkeypatch.setattr(_reduce, "_cores", lambda: threads)
    for (f, r), ref in zip(cases, whole, strict=True):
        close(f(walk, region=r), ref, rtol=1e-12)
    close(metrics.vacf_two_time(walk), whole_tt, rtol=1e-12)
    close(
        metrics.msd(walk, lengths=LENGTHS, region="input"), bf_msd(walk, _forward_mask(walk), "input", 8)[0]
    )


def _one_window(x):
    from rnndyn._regions import resolve

    return resolve(x, None, "all")[1]


def _forward_mask(x):
    m = delta_region_mask(LENGTHS, x.shape[1], region="input")
    return np.repeat(m[:, :, None], x.shape[2], axis=2)
