"""Invariants of rnndyn.metrics on random inputs (hypothesis)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from rnndyn import Trajectories, metrics

REGIONS = st.sampled_from(["all", "input", "padding"])
SETTINGS = settings(max_examples=40, deadline=None)


@st.composite
def trajectories(draw, min_steps: int = 2) -> Trajectories:
    n = draw(st.integers(1, 5))
    T = draw(st.integers(min_steps, 10))
    U = draw(st.integers(1, 3))
    x = draw(arrays(np.float64, (n, T, U), elements=st.floats(-10, 10, width=64)))
    lengths = draw(st.lists(st.integers(0, T), min_size=n, max_size=n))
    directions = draw(st.lists(st.sampled_from(["forward", "backward"]), min_size=U, max_size=U))
    units = pd.DataFrame({"layer": "l", "state": "h", "direction": directions, "index": range(U)})
    masked = draw(st.booleans())
    order = draw(st.sampled_from(["input", "processing"]))
    return Trajectories(x, lengths, units, masked=masked, order=order)


def assert_close(a, b, scale, rtol=1e-9):
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * scale, equal_nan=True)


def _scale(x) -> float:
    return float(np.max(np.abs(x)) ** 2 + 1.0)


@SETTINGS
@given(trajectories(), REGIONS, st.data())
def test_shift_invariance(traj, region, data):
    """x + c (per sequence and unit) changes no metric of displacements."""
    n, _, U = traj.shape
    c = data.draw(arrays(np.float64, (n, 1, U), elements=st.floats(-100, 100, width=64)))
    moved = traj._replace(states=traj.states + c)
    scale = _scale(traj.states) * 4
    for f in (metrics.msd, metrics.vacf, metrics.rms_delta, metrics.vacf_two_time, metrics.msd_from_start):
        assert_close(f(moved, region=region), f(traj, region=region), scale, rtol=1e-8)
    assert_close(metrics.deltas(moved, region=region), metrics.deltas(traj, region=region), 100.0, 1e-12)


@SETTINGS
@given(trajectories(), REGIONS, st.floats(-50, 50).filter(lambda a: abs(a) > 1e-3))
def test_quadratic_scaling(traj, region, a):
    scaled = traj._replace(states=a * traj.states)
    scale = _scale(traj.states) * a * a
    for f in (metrics.msd, metrics.vacf, metrics.vacf_two_time, metrics.msd_from_start):
        assert_close(f(scaled, region=region), a * a * f(traj, region=region), scale)
    assert_close(
        metrics.mean_abs_delta(scaled, region=region),
        abs(a) * metrics.mean_abs_delta(traj, region=region),
        np.sqrt(scale),
    )


@SETTINGS
@given(trajectories(), trajectories(), REGIONS)
def test_concatenation_pools_by_pair_counts(a, b, region):
    """Metrics of two batches together = (sum of numerators) / (sum of counts)."""
    if a.n_steps != b.n_steps or a.n_units != b.n_units:
        b = a.take(slice(None, None, -1))  # same shape: the other batch is a reversed copy
    b = b._replace(units=a.units, order=a.order, masked=a.masked)
    both = Trajectories.concat([a, b])
    scale = max(_scale(a.states), _scale(b.states))
    for f in (metrics.msd, metrics.vacf, metrics.rms_delta, metrics.msd_from_start):
        va, ca = f(a, region=region, return_counts=True)
        vb, cb = f(b, region=region, return_counts=True)
        vab, cab = f(both, region=region, return_counts=True)
        np.testing.assert_array_equal(cab, ca + cb)
        if f is metrics.rms_delta:
            va, vb, vab = va**2, vb**2, vab**2
        pooled = (np.nan_to_num(va) * ca + np.nan_to_num(vb) * cb) / np.where(cab > 0, cab, 1)
        assert_close(np.where(cab > 0, vab, 0.0), np.where(cab > 0, pooled, 0.0), scale)


@SETTINGS
@given(trajectories(), REGIONS, st.randoms(use_true_random=False))
def test_sequence_order_is_irrelevant(traj, region, rnd):
    perm = list(range(traj.n_sequences))
    rnd.shuffle(perm)
    shuffled = traj.take(np.array(perm))
    scale = _scale(traj.states)
    for f in (metrics.msd, metrics.vacf, metrics.vacf_two_time, metrics.mean_abs_delta):
        v1, c1 = f(traj, region=region, return_counts=True)
        v2, c2 = f(shuffled, region=region, return_counts=True)
        np.testing.assert_array_equal(c1, c2)
        assert_close(v1, v2, scale)


@SETTINGS
@given(trajectories(), REGIONS)
def test_identities_hold_on_any_data(traj, region):
    scale = _scale(traj.states)
    # 5: sqrt of the two-time diagonal is the RMS delta
    c2 = metrics.vacf_two_time(traj, region=region)
    rms, n_t = metrics.rms_delta(traj, region=region, return_counts=True)
    assert_close(np.sqrt(np.einsum("ttu->tu", c2)), rms, np.sqrt(scale))
    # 4: pooled MSD at lag 1 = sum_t N_t RMS_t^2 / sum_t N_t
    m1 = metrics.msd(traj, region=region, max_lag=1)[1]
    tot = n_t.sum(axis=0)
    expected = np.nansum(n_t * rms**2, axis=0) / np.where(tot > 0, tot, 1)
    assert_close(np.where(tot > 0, m1, 0.0), np.where(tot > 0, expected, 0.0), scale)
    # VACF lag 0 = MSD lag 1 (same pairs)
    assert_close(metrics.vacf(traj, region=region, max_lag=0)[0], m1, scale)
    # MSD is non-negative, exactly 0 at lag 0 where defined
    m = metrics.msd(traj, region=region)
    assert np.all(np.nan_to_num(m) >= 0) and np.all(np.nan_to_num(m[0]) == 0)


@SETTINGS
@given(trajectories())
def test_two_time_green_kubo_on_any_data(traj):
    c = metrics.vacf_two_time(traj)
    start = metrics.msd_from_start(traj)
    scale = _scale(traj.states) * traj.n_steps**2
    for t in range(traj.n_steps):
        assert_close(start[t], c[:t, :t].sum(axis=(0, 1)), scale)
