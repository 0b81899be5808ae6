"""Tests of rnndyn.physics: analytic oracles (PHYSICS.md), brute-force references, errors."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.signal
from hypothesis import given, settings
from hypothesis import strategies as st

import rnndyn.metrics
from rnndyn import RnndynError, Trajectories, physics

# --------------------------------------------------------------------------- references
# Brute-force metrics (a loop over lags, explicit pair masks), written independently of the
# FFT code in rnndyn.metrics: they cross-check it and serve as references below.


def _traj(x, lengths=None):
    return x if isinstance(x, Trajectories) else Trajectories(x, lengths=lengths)


def _pairs_ok(dm, lag):
    """(n, T-lag, U): every bond between t and t + lag is in the region (lag >= 1)."""
    cs = np.cumsum(np.pad(dm.astype(np.int64), ((0, 0), (1, 0), (0, 0))), axis=1)
    return (cs[:, lag:] - cs[:, :-lag]) == lag


def ref_msd(x, *, max_lag=None, region="all", lengths=None, return_counts=False):
    traj = _traj(x, lengths)
    s = np.asarray(traj.to_numpy().states, dtype=np.float64)
    dm = traj.delta_mask(region)
    T = s.shape[1]
    max_lag = T - 1 if max_lag is None else max_lag
    vals = np.zeros((max_lag + 1, s.shape[2]))
    cnt = np.zeros((max_lag + 1, s.shape[2]), dtype=np.int64)
    beads = np.zeros(s.shape, dtype=bool)
    beads[:, 1:] |= dm
    beads[:, :-1] |= dm
    cnt[0] = beads.sum(axis=(0, 1))
    for m in range(1, max_lag + 1):
        ok = _pairs_ok(dm, m)
        cnt[m] = ok.sum(axis=(0, 1))
        sq = np.where(ok, (s[:, m:] - s[:, :-m]) ** 2, 0.0)
        vals[m] = sq.sum(axis=(0, 1)) / np.maximum(cnt[m], 1)
    return (vals, cnt) if return_counts else vals


def ref_vacf(x, *, max_lag=None, normalize=False, region="all", lengths=None, return_counts=False):
    traj = _traj(x, lengths)
    s = np.asarray(traj.to_numpy().states, dtype=np.float64)
    d = np.diff(s, axis=1)
    dm = traj.delta_mask(region)
    L = d.shape[1]
    max_lag = L - 1 if max_lag is None else max_lag
    vals = np.zeros((max_lag + 1, s.shape[2]))
    cnt = np.zeros((max_lag + 1, s.shape[2]), dtype=np.int64)
    for lag in range(max_lag + 1):
        ok = dm[:, : L - lag] & dm[:, lag:]
        cnt[lag] = ok.sum(axis=(0, 1))
        vals[lag] = np.sum(np.where(ok, d[:, : L - lag] * d[:, lag:], 0.0), axis=(0, 1)) / np.maximum(
            cnt[lag], 1
        )
    if normalize:
        vals = vals / vals[0]
    return (vals, cnt) if return_counts else vals


def pm1_walks(n, n_bonds, seed):
    steps = np.random.default_rng(seed).choice([-1.0, 1.0], size=(n, n_bonds, 1))
    return np.concatenate([np.zeros((n, 1, 1)), np.cumsum(steps, axis=1)], axis=1)


def ar1_velocity(n, T, phi, seed, sigma=1.0):
    """Positions whose bonds are a stationary AR(1) process v_{t+1} = phi v_t + sigma xi."""
    rng = np.random.default_rng(seed)
    c0 = sigma**2 / (1 - phi**2)
    zi = phi * np.sqrt(c0) * rng.standard_normal((n, 1))
    v = scipy.signal.lfilter([1.0], [1.0, -phi], sigma * rng.standard_normal((n, T - 1)), axis=1, zi=zi)[0]
    x = np.concatenate([np.zeros((n, 1)), np.cumsum(v, axis=1)], axis=1)
    return x[:, :, None], c0


def ar1_msd(m, phi, c0):
    m = np.asarray(m, dtype=np.float64)
    return c0 * (m * (1 + phi) / (1 - phi) - 2 * phi * (1 - phi**m) / (1 - phi) ** 2)


# ------------------------------------------------------------------------ exponents


def test_references_agree_with_metrics_module():
    x = np.random.default_rng(1).standard_normal((5, 12, 3)).cumsum(axis=1)
    lengths = [12, 9, 5, 3, 7]
    for region in ("all", "input", "padding"):
        m, mc = rnndyn.metrics.msd(x, max_lag=6, region=region, lengths=lengths, return_counts=True)
        r, rc = ref_msd(x, max_lag=6, region=region, lengths=lengths, return_counts=True)
        np.testing.assert_allclose(np.asarray(m)[1:], r[1:], rtol=1e-9, atol=1e-12)
        np.testing.assert_array_equal(np.broadcast_to(np.asarray(mc).reshape(7, -1), rc.shape)[1:], rc[1:])
        v, vc = rnndyn.metrics.vacf(x, max_lag=5, region=region, lengths=lengths, return_counts=True)
        rv, rvc = ref_vacf(x, max_lag=5, region=region, lengths=lengths, return_counts=True)
        np.testing.assert_allclose(np.asarray(v), rv, rtol=1e-9, atol=1e-12)
        np.testing.assert_array_equal(np.broadcast_to(np.asarray(vc).reshape(6, -1), rvc.shape), rvc)


def test_linear_motion_is_ballistic_exactly():
    c = np.array([0.3, -2.0, 5.0])
    x = np.arange(30.0)[None, :, None] * c * np.ones((4, 1, 1))
    alpha = physics.msd_exponent(x, lags=(1, 20))
    np.testing.assert_allclose(alpha, 2.0, atol=1e-9)
    curve = rnndyn.metrics.msd(x, max_lag=25)
    np.testing.assert_allclose(physics.local_exponent(np.asarray(curve)[:, 1:]), 2.0, atol=1e-9)
    assert physics.classify_regime(alpha).tolist() == ["ballistic"] * 3


def test_local_exponent_ar1_analytic():
    phi, c0 = 0.8, 1 / (1 - 0.8**2)
    curve = ar1_msd(np.arange(0, 103), phi, c0)
    alpha = physics.local_exponent(curve)
    assert alpha.shape == (101,)
    # PHYSICS.md: 1.85, 1.47, 1.05 at m = 1, 10, 100 (alpha[k] is m = k + 1)
    np.testing.assert_allclose(alpha[[0, 9, 99]], [1.85, 1.47, 1.05], atol=0.006)
    brute = [np.log(curve[m + 1] / curve[m]) / np.log((m + 1) / m) for m in (1, 10, 100)]
    np.testing.assert_allclose(alpha[[0, 9, 99]], brute, rtol=1e-12)


def test_local_exponent_ar1_simulated():
    phi = 0.8
    x, c0 = ar1_velocity(200, 1500, phi, seed=11)
    curve = np.asarray(rnndyn.metrics.msd(x, max_lag=102))[:, 0]
    np.testing.assert_allclose(curve[[1, 10, 100]], ar1_msd([1, 10, 100], phi, c0), rtol=0.05)
    alpha = physics.local_exponent(curve)
    np.testing.assert_allclose(alpha[[0, 9]], [1.85, 1.47], atol=0.04)
    assert abs(alpha[99] - 1.05) < 0.15
    assert physics.classify_regime(physics.msd_exponent(x, lags=(1, 3)))[0] == "ballistic"
    assert physics.classify_regime(physics.msd_exponent(x, lags=(100, 200)))[0] == "diffusive"


def test_pm1_walk_is_diffusive():
    x = pm1_walks(3000, 40, seed=3)
    alpha = physics.msd_exponent(x, lags=(1, 20))
    assert abs(alpha[0] - 1.0) < 0.03
    assert physics.classify_regime(alpha)[0] == "diffusive"
    d_e = physics.diffusion_coefficient(x, method="einstein", lags=(1, 20))
    d_gk = physics.diffusion_coefficient(x, method="green-kubo", max_lag=10)
    np.testing.assert_allclose([d_e[0], d_gk[0]], 0.5, rtol=0.03)


def test_ar1_positions_plateau_is_arrested():
    a, n, T = 0.5, 400, 200
    rng = np.random.default_rng(5)
    x = np.empty((n, T))
    x[:, 0] = rng.standard_normal(n) / np.sqrt(1 - a * a)
    for t in range(1, T):
        x[:, t] = a * x[:, t - 1] + rng.standard_normal(n)
    x = x[:, :, None]
    curve = np.asarray(rnndyn.metrics.msd(x, max_lag=60))[:, 0]
    np.testing.assert_allclose(curve[20:61], 2 / (1 - a * a), rtol=0.03)  # plateau 2 Var
    alpha = physics.msd_exponent(x, lags=(10, 60))
    assert abs(alpha[0]) < 0.05
    assert physics.classify_regime(alpha)[0] == "arrested"


def test_constant_unit_exponent_zero_and_partial_zero_is_nan_with_warning():
    x = np.zeros((3, 10, 3))
    x[:, :, 0] = 7.0  # constant: arrested, exponent 0
    x[:, :, 1] = np.arange(10.0) % 2  # period 2: MSD zero at even lags only
    x[:, :, 2] = np.arange(10.0)
    with pytest.warns(RuntimeWarning, match="1 of 3 result"):
        alpha = physics.msd_exponent(x, lags=(1, 4))
    assert alpha[0] == 0.0 and np.isnan(alpha[1]) and alpha[2] == pytest.approx(2.0)
    assert physics.classify_regime(alpha).tolist() == ["arrested", "undetermined", "ballistic"]


def test_msd_exponent_matches_bruteforce_fit_with_region():
    x = np.random.default_rng(2).standard_normal((6, 30, 2)).cumsum(axis=1)
    lengths = [30, 25, 20, 18, 22, 30]
    got = physics.msd_exponent(x, lags=(2, 8), region="input", lengths=lengths)
    curve = ref_msd(x, max_lag=8, region="input", lengths=lengths)
    want = [np.polyfit(np.log(np.arange(2, 9)), np.log(curve[2:9, u]), 1)[0] for u in range(2)]
    np.testing.assert_allclose(got, want, rtol=1e-9)


def test_classify_regime_thresholds():
    a = np.array([2.3, 1.7, 1.69, 1.21, 1.2, 1.0, 0.8, 0.79, 0.2, 0.19, -0.5, np.nan])
    want = [
        "ballistic",
        "ballistic",
        "super-diffusive",
        "super-diffusive",
        "diffusive",
        "diffusive",
        "diffusive",
        "sub-diffusive",
        "sub-diffusive",
        "arrested",
        "arrested",
        "undetermined",
    ]
    assert physics.classify_regime(a).tolist() == want
    assert physics.classify_regime(1.5, tol=0.6, ballistic=1.9) == "diffusive"
    assert physics.classify_regime(0.3, arrested=0.5) == "arrested"
    with pytest.raises(RnndynError, match="ballistic"):
        physics.classify_regime(1.0, ballistic=1.1)


# ------------------------------------------------------------------------ diffusion


def test_einstein_and_green_kubo_agree_on_stationary_ar1():
    phi = 0.8
    x, c0 = ar1_velocity(100, 3000, phi, seed=7)
    d_true = c0 * (1 + phi) / (2 * (1 - phi))
    d_e = physics.diffusion_coefficient(x, method="einstein", lags=(50, 200))[0]
    d_gk = physics.diffusion_coefficient(x, method="green-kubo", max_lag=60)[0]
    assert d_e == pytest.approx(d_true, rel=0.08)
    assert d_gk == pytest.approx(d_true, rel=0.08)
    assert d_e == pytest.approx(d_gk, rel=0.03)


def test_green_kubo_is_the_vacf_sum():
    x = np.random.default_rng(4).standard_normal((5, 20, 3)).cumsum(axis=1)
    c = ref_vacf(x, max_lag=6)
    got = physics.diffusion_coefficient(x, method="green-kubo", max_lag=6)
    np.testing.assert_allclose(got, c[0] / 2 + c[1:].sum(axis=0), rtol=1e-9)
    m = ref_msd(x, max_lag=10)
    want = [np.polyfit(np.arange(3, 11), m[3:11, u], 1)[0] / 2 for u in range(3)]
    np.testing.assert_allclose(physics.diffusion_coefficient(x, lags=(3, 10)), want, rtol=1e-9)


# ------------------------------------------------------------------------ the chain


def test_random_walk_chain_sizes():
    N = 20
    x = pm1_walks(6000, N, seed=8)
    ree2 = physics.end_to_end_distance(x, squared=True)[:, 0]
    rg2 = physics.radius_of_gyration(x, squared=True)[:, 0]
    se = ree2.std() / np.sqrt(ree2.size)
    assert abs(ree2.mean() - N) < 4 * se
    want = N * (N + 2) / (6 * (N + 1))
    assert abs(rg2.mean() - want) < 4 * rg2.std() / np.sqrt(rg2.size)


def _chain_bruteforce(x, lengths, region, fn):
    traj = Trajectories(x, lengths=lengths)
    dm = traj.delta_mask(region)
    out = np.full(x.shape[::2], np.nan)
    for i in range(x.shape[0]):
        for u in range(x.shape[2]):
            t = np.flatnonzero(dm[i, :, u])
            if t.size:
                out[i, u] = fn(x[i, t[0] : t[-1] + 2, u])
    return out


@pytest.mark.parametrize("region", ["all", "input", "padding"])
def test_gyration_lagrange_identity_and_chain_bruteforce(region):
    rng = np.random.default_rng(9)
    x = rng.standard_normal((6, 15, 3)).cumsum(axis=1)
    lengths = [15, 12, 8, 5, 2, 10]

    def lagrange(c):
        return np.sum((c[:, None] - c[None, :]) ** 2) / (2 * c.size**2)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        rg2 = physics.radius_of_gyration(x, squared=True, region=region, lengths=lengths)
        ree = physics.end_to_end_distance(x, region=region, lengths=lengths)
        cl = physics.contour_length(x, region=region, lengths=lengths)
    np.testing.assert_allclose(rg2, _chain_bruteforce(x, lengths, region, lagrange), rtol=1e-12)
    np.testing.assert_allclose(ree, _chain_bruteforce(x, lengths, region, lambda c: abs(c[-1] - c[0])))
    np.testing.assert_allclose(cl, _chain_bruteforce(x, lengths, region, lambda c: np.abs(np.diff(c)).sum()))


def test_vector_chain_quantities():
    rng = np.random.default_rng(10)
    x = rng.standard_normal((4, 9, 3)).cumsum(axis=1)
    h = x[0]
    rg2 = np.sum((h[:, None, :] - h[None, :, :]) ** 2) / (2 * len(h) ** 2)
    assert physics.radius_of_gyration(x, per="vector", squared=True)[0] == pytest.approx(rg2)
    assert physics.end_to_end_distance(x, per="vector")[0] == pytest.approx(np.linalg.norm(h[-1] - h[0]))
    cl = np.linalg.norm(np.diff(h, axis=0), axis=1).sum()
    assert physics.contour_length(x, per="vector")[0] == pytest.approx(cl)
    assert physics.straightness(x, per="vector")[0] == pytest.approx(np.linalg.norm(h[-1] - h[0]) / cl)


def test_empty_chain_is_nan_with_warning_and_straight_line_is_one():
    x = np.arange(10.0)[None, :, None] * np.ones((2, 1, 1))
    with pytest.warns(RuntimeWarning, match="no bond"):
        rg = physics.radius_of_gyration(x, region="padding", lengths=[10, 4])
    assert np.isnan(rg[0, 0]) and rg[1, 0] > 0
    np.testing.assert_allclose(physics.straightness(x), 1.0)


@settings(max_examples=25, deadline=None)
@given(scale=st.floats(-5, 5).filter(lambda s: abs(s) > 1e-3), shift=st.floats(-100, 100))
def test_gyration_shift_and_scale(scale, shift):
    x = np.random.default_rng(12).standard_normal((3, 8, 2)).cumsum(axis=1)
    base = physics.radius_of_gyration(x)
    np.testing.assert_allclose(physics.radius_of_gyration(scale * x + shift), abs(scale) * base, rtol=1e-8)


# ----------------------------------------------------------------------- persistence


def test_bond_correlation_and_persistence_of_ar1():
    phi = 0.8
    x, _ = ar1_velocity(100, 2000, phi, seed=13)
    rho = physics.bond_correlation(x, max_lag=5)[:, 0]
    np.testing.assert_allclose(rho, phi ** np.arange(6), atol=0.02)
    assert physics.persistence_length(x)[0] == pytest.approx(-1 / np.log(phi), rel=0.05)
    tau, M = physics.integrated_correlation_time(x, return_window=True)
    assert tau[0] == pytest.approx((1 + phi) / (2 * (1 - phi)), rel=0.06)
    assert M[0] >= 5 * tau[0] and M[0] - 1 < 5 * (0.5 + rho.sum()) + 30


def test_integrated_time_fixed_window_and_sokal_rule():
    x = np.random.default_rng(14).standard_normal((3, 40, 2)).cumsum(axis=1) ** 2
    rho = ref_vacf(x, max_lag=38)
    rho = rho / rho[0]
    got = physics.integrated_correlation_time(x, window=7)
    np.testing.assert_allclose(got, 0.5 + rho[1:8].sum(axis=0), rtol=1e-9)
    tau, M = physics.integrated_correlation_time(x, c=3.0, return_window=True)
    for u in range(2):
        taus = [0.5 + rho[1 : m + 1, u].sum() for m in range(1, 39)]
        m_want = next((m for m in range(1, 39) if m >= 3.0 * taus[m - 1]), 38)
        assert M[u] == m_want and tau[u] == pytest.approx(taus[m_want - 1])


def test_vector_bond_correlation_is_mean_cosine():
    rng = np.random.default_rng(15)
    x = rng.standard_normal((3, 12, 4)).cumsum(axis=1)
    x[1, 5:7] = x[1, 4]  # two zero-length bonds: left out of the pairs
    lengths = [12, 10, 7]
    d = np.diff(x, axis=1)
    dm = Trajectories(x, lengths=lengths).delta_mask("input")[:, :, 0]
    got = physics.bond_correlation(x, per="vector", region="input", lengths=lengths, max_lag=4)
    for s in range(5):
        cos = [
            d[i, t] @ d[i, t + s] / (np.linalg.norm(d[i, t]) * np.linalg.norm(d[i, t + s]))
            for i in range(3)
            for t in range(11 - s)
            if dm[i, t] and dm[i, t + s] and np.linalg.norm(d[i, t]) > 0 and np.linalg.norm(d[i, t + s]) > 0
        ]
        assert got[s] == pytest.approx(np.mean(cos), rel=1e-9)


def test_persistence_limits():
    alt = (np.arange(10.0) % 2)[None, :, None]  # rho(1) = -1: no persistence
    line = np.arange(10.0)[None, :, None]  # rho(1) = 1: infinite
    assert physics.persistence_length(alt)[0] == 0.0
    assert physics.persistence_length(line)[0] == np.inf
    with pytest.warns(RuntimeWarning, match="never move"):
        assert np.isnan(physics.persistence_length(np.ones((1, 10, 1)))[0])


# ----------------------------------------------------------------------- relaxation


def _linear_relaxation(n, T, lengths, lam=(0.95, 0.6, 0.3), seed=16):
    """Driven for lengths[i] steps, then dh_{t+1} = J dh_t with fixed point h* = 0."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    J = q @ np.diag(lam) @ q.T
    h = np.empty((n, T, 3))
    h[:, 0] = rng.standard_normal((n, 3)) + 3.0
    for t in range(1, T):
        drive = (t < np.asarray(lengths))[:, None] * rng.standard_normal((n, 3))
        h[:, t] = h[:, t - 1] @ J.T + drive
    return h


def test_relaxation_time_linear_system():
    lengths = np.array([10, 14, 20, 12, 16, 11])
    h = _linear_relaxation(6, 180, lengths)
    out = physics.relaxation_time(h, lengths=lengths, target=np.zeros(3), start=30, stop=120)
    assert list(out.columns) == ["tau", "rate", "r2", "n_points", "window_start", "window_stop"]
    np.testing.assert_allclose(out["tau"], -1 / np.log(0.95), rtol=1e-3)
    assert -1 / np.log(0.95) == pytest.approx(19.4957, abs=1e-4)
    np.testing.assert_allclose(out["rate"], -np.log(0.95), rtol=1e-3)
    assert (out["n_points"] == 90).all() and (out["window_start"] == 30).all()
    assert (out["window_stop"] == 120).all() and (out["r2"] > 0.9999).all()
    # the same with the state's own final value as target (it has converged by then)
    h2 = _linear_relaxation(6, 600, lengths)
    fin = physics.relaxation_time(h2, lengths=lengths, start=30, stop=120)
    np.testing.assert_allclose(fin["tau"], 19.4957, rtol=1e-3)


def test_relaxation_curve_is_pooled_mean_bruteforce():
    rng = np.random.default_rng(17)
    x = rng.standard_normal((4, 12, 2))
    lengths = [12, 5, 8, 3]
    c = physics.relaxation_curve(x, lengths=lengths, target="tail_mean", tail=3)
    for k in range(10):
        for u in range(2):
            vals = [
                abs(x[i, lengths[i] - 1 + k, u] - x[i, -3:, u].mean())
                for i in range(4)
                if lengths[i] - 1 + k < 12
            ]
            assert c.counts[k, u] == len(vals)
            assert c.deviation[k, u] == pytest.approx(np.mean(vals))


def test_relaxation_backward_units_processing_order():
    lengths = np.array([10, 14, 20, 12])
    h = _linear_relaxation(4, 150, lengths)
    units = pd.DataFrame(
        {
            "layer": "l",
            "state": "h",
            "direction": ["forward"] * 3 + ["backward"] * 3,
            "index": [0, 1, 2, 0, 1, 2],
        }
    )
    # masked backward units, given in processing order: they relax exactly like forward ones
    both = Trajectories(
        np.concatenate([h, h], axis=2), lengths=lengths, units=units, masked=True, order="processing"
    )
    out = physics.relaxation_time(both, target=np.zeros(6), start=30, stop=100)
    np.testing.assert_allclose(out["tau"], 19.4957, rtol=1e-3)
    # the same data in input order gives the same answer (processing_order() is used inside)
    out_in = physics.relaxation_time(both.input_order(), target=np.zeros(6), start=30, stop=100)
    pd.testing.assert_frame_equal(out, out_in)
    # unmasked backward units read the padding first: nothing follows their input
    unmasked = Trajectories(np.concatenate([h, h[:, ::-1]], axis=2), lengths=lengths, units=units)
    with pytest.warns(RuntimeWarning, match="read the padding first"):
        out = physics.relaxation_time(unmasked, target=np.zeros(6), start=30, stop=100)
    np.testing.assert_allclose(out["tau"][:3], 19.4957, rtol=1e-3)
    assert out["tau"][3:].isna().all() and (out["n_points"][3:] == 0).all()


def test_relaxation_arrival_cuts_the_window():
    x = (0.5 ** np.arange(8.0))[None, :, None].repeat(2, axis=2)
    x[0, 5:, 1] = 0.0  # unit 1 arrives at the target at offset 5
    out = physics.relaxation_time(x, lengths=[1], target=np.zeros(2))
    assert out["n_points"].tolist() == [8, 5] and out["window_stop"].tolist() == [8, 5]
    np.testing.assert_allclose(out["tau"], -1 / np.log(0.5))


# ----------------------------------------------------------------------- state cloud


def test_participation_ratio_analytic():
    rng = np.random.default_rng(18)
    q, _ = np.linalg.qr(rng.standard_normal((10, 10)))
    iso = rng.standard_normal((200, 100, 4)) @ q[:4]  # isotropic in a 4-d subspace of 10
    assert physics.participation_ratio(iso) == pytest.approx(4.0, rel=0.02)
    line = rng.standard_normal((5, 30, 1)) * np.arange(1.0, 7.0)  # rank 1
    assert physics.participation_ratio(line) == pytest.approx(1.0, abs=1e-9)
    small = rng.standard_normal((1, 3, 8))  # fewer points than dimensions: Gram form
    ev = np.linalg.eigvalsh(np.cov(small[0].T))
    assert physics.participation_ratio(small) == pytest.approx(ev.sum() ** 2 / (ev**2).sum())


def test_gate_saturation_bruteforce():
    rng = np.random.default_rng(19)
    g = rng.uniform(size=(5, 9, 3))
    lengths = [9, 4, 6, 2, 7]
    got = physics.gate_saturation(g, region="input", lengths=lengths, low=0.2, high=0.7)
    for u in range(3):
        vals = [g[i, t, u] for i in range(5) for t in range(lengths[i])]
        assert got[u] == pytest.approx(np.mean([(v < 0.2) or (v > 0.7) for v in vals]))


# ------------------------------------------------------------------------ displacements


@pytest.mark.parametrize("m", [1, 3, 6])
def test_non_gaussian_pm1_walk_exact(m):
    walks = np.array(list(itertools.product([-1.0, 1.0], repeat=8)))
    x = np.concatenate([np.zeros((256, 1)), walks.cumsum(axis=1)], axis=1)[:, :, None]
    assert physics.non_gaussian_parameter(x, lag=m, origins="start")[0] == pytest.approx(-2 / (3 * m))
    assert physics.non_gaussian_parameter(x, lag=m)[0] == pytest.approx(-2 / (3 * m))


def test_non_gaussian_gaussian_steps_and_region():
    x = np.random.default_rng(20).standard_normal((2000, 20, 1)).cumsum(axis=1)
    assert abs(physics.non_gaussian_parameter(x, lag=5)[0]) < 0.03
    lengths = np.full(2000, 10)  # input chain: steps 0..9

    def a2(dx):
        return np.mean(dx**4) / (3 * np.mean(dx**2) ** 2) - 1

    kw = dict(lag=5, region="input", lengths=lengths)
    got = physics.non_gaussian_parameter(x, origins="start", **kw)[0]
    assert got == pytest.approx(a2(x[:, 5, 0] - x[:, 0, 0]))
    got = physics.non_gaussian_parameter(x, **kw)[0]
    assert got == pytest.approx(a2((x[:, 5:10, 0] - x[:, 0:5, 0]).ravel()))


# ----------------------------------------------------------------------------- errors


def test_bad_input_errors():
    x = np.random.default_rng(21).standard_normal((3, 10, 2)).cumsum(axis=1)
    with pytest.raises(RnndynError, match="past the largest lag"):
        physics.msd_exponent(x, lags=(1, 10))
    with pytest.raises(RnndynError, match="not a window"):
        physics.msd_exponent(x, lags=(5, 5))
    with pytest.raises(RnndynError, match="explicit fit window"):
        physics.msd_exponent(x, lags=None)
    with pytest.raises(RnndynError, match="method"):
        physics.diffusion_coefficient(x, method="fick", lags=(1, 3))
    with pytest.raises(RnndynError, match="max_lag= instead"):
        physics.diffusion_coefficient(x, method="green-kubo", lags=(1, 3))
    with pytest.raises(RnndynError, match="explicit summation window"):
        physics.diffusion_coefficient(x, method="green-kubo")
    with pytest.raises(RnndynError, match="target"):
        physics.relaxation_time(x, lengths=[3, 3, 3], target="mean")
    with pytest.raises(RnndynError, match="per"):
        physics.radius_of_gyration(x, per="sequence")
    with pytest.raises(RnndynError, match="min_points"):
        physics.relaxation_time(x, lengths=[9, 9, 10], target="final")
    with pytest.raises(RnndynError, match="region"):
        physics.msd_exponent(x, lags=(1, 3), region="pad")
    with pytest.raises(RnndynError, match="no pair"):
        physics.msd_exponent(x, lags=(1, 6), region="input", lengths=[5, 5, 5])
    with pytest.raises(RnndynError, match="lengths= is only for plain arrays"):
        physics.msd_exponent(Trajectories(x), lags=(1, 3), lengths=[10, 10, 10])
    with pytest.raises(RnndynError, match="low < high"):
        physics.gate_saturation(x, low=0.9, high=0.1)
    with pytest.raises(RnndynError, match="lag"):
        physics.non_gaussian_parameter(x, lag=0)


def test_vector_quantities_need_common_steps():
    units = pd.DataFrame({"layer": "l", "state": "h", "direction": ["forward", "backward"], "index": 0})
    traj = Trajectories(np.random.default_rng(22).standard_normal((3, 8, 2)), lengths=[8, 5, 3], units=units)
    with pytest.raises(RnndynError, match="split_directions"):
        physics.radius_of_gyration(traj, per="vector", region="input")
    assert physics.radius_of_gyration(traj, per="vector").shape == (3,)


def test_torch_input():
    torch = pytest.importorskip("torch")
    x = pm1_walks(50, 20, seed=23)
    got = physics.msd_exponent(torch.as_tensor(x), lags=(1, 10))
    np.testing.assert_allclose(got, physics.msd_exponent(x, lags=(1, 10)), rtol=1e-12)
    np.testing.assert_allclose(physics.radius_of_gyration(torch.as_tensor(x)), physics.radius_of_gyration(x))


@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("target", ["final", "tail_mean"])
def test_relaxation_curve_matches_processing_order_and_align_end(masked, target):
    units = pd.DataFrame(
        {
            "layer": "l",
            "state": "h",
            "direction": ["forward", "backward", "forward", "backward"],
            "index": [0, 0, 1, 1],
        }
    )
    x = np.random.default_rng(24).standard_normal((5, 12, 4))
    traj = Trajectories(x, lengths=[12, 5, 8, 3, 1], units=units, masked=masked)
    got = physics.relaxation_curve(traj, target=target, tail=3)
    p = traj.processing_order()
    s = np.asarray(p.states)
    h = s[:, -1] if target == "final" else s[:, -3:].mean(axis=1)
    for u in range(4):
        unmasked_bwd = units["direction"][u] == "backward" and not masked
        ends = np.full(5, 12) if unmasked_bwd else traj.lengths
        a = Trajectories(s[:, :, [u]], lengths=ends).align_end(before=0)
        dev = np.abs(a.values[:, :, 0] - h[:, u, None])
        k = a.offsets.size
        np.testing.assert_array_equal(got.counts[:k, u], a.valid.sum(axis=0))
        np.testing.assert_allclose(got.deviation[:k, u], np.nanmean(dev, axis=0), rtol=1e-12)
        assert (got.counts[k:, u] == 0).all()


@settings(max_examples=20, deadline=None)
@given(scale=st.floats(0.01, 100), shift=st.floats(-50, 50))
def test_msd_exponent_invariant_under_affine_maps(scale, shift):
    x = pm1_walks(30, 25, seed=25)
    base = physics.msd_exponent(x, lags=(1, 8))
    np.testing.assert_allclose(physics.msd_exponent(scale * x + shift, lags=(1, 8)), base, rtol=1e-7)


def test_dask_input():
    da = pytest.importorskip("dask.array")
    x = pm1_walks(40, 20, seed=26)
    got = physics.msd_exponent(da.from_array(x, chunks=(10, 21, 1)), lags=(1, 10))
    np.testing.assert_allclose(got, physics.msd_exponent(x, lags=(1, 10)), rtol=1e-10)


def _doc_blocks(name):
    import pathlib
    import re

    text = (pathlib.Path(__file__).parents[1] / "docs" / name).read_text()
    return text, re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_docs_physics_examples_run_and_cover_the_api():
    text, blocks = _doc_blocks("physics.md")
    assert len(blocks) >= 4
    namespace: dict = {}
    exec(compile("\n".join(blocks), "docs/physics.md", "exec"), namespace)
    for name in physics.__all__:
        assert name in text, f"{name} is not documented in docs/physics.md"


def test_vector_persistence_of_a_straight_chain_and_types():
    x = np.arange(12.0)[None, :, None] * np.array([1.0, 2.0, -1.0])  # one direction throughout
    rho = physics.bond_correlation(x, per="vector", max_lag=3)
    np.testing.assert_allclose(rho, 1.0)
    assert physics.persistence_length(x, per="vector") == np.inf
    tau, M = physics.integrated_correlation_time(x, per="vector", window=4, return_window=True)
    assert tau == pytest.approx(4.5) and M == 4 and isinstance(tau, float)
