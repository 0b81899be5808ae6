"""The physics floor keeps one place per idea: the estimators, the resample counts, the autocorrelation."""

from __future__ import annotations

import pathlib
import warnings

import numpy as np
import pandas as pd
import pytest

from rnndyn import Trajectories, _bootstrap, _estimators, physics, summary

ROOT = pathlib.Path(__file__).resolve().parents[1]
FILES = [
    "summary.py",
    "physics.py",
    "_chain.py",
    "_bootstrap.py",
    "_estimators.py",
    "_transport.py",
    "_ranking.py",
]


def _traj(seed: int = 0) -> Trajectories:
    rng = np.random.default_rng(seed)
    x = np.tanh(0.3 * rng.standard_normal((30, 20, 4)).cumsum(axis=1)) * [1.0, 3.0, 0.5, 2.0]
    units = pd.DataFrame(
        {"layer": "enc", "state": "h", "direction": ["forward"] * 2 + ["backward"] * 2, "index": [0, 1, 0, 1]}
    )
    return Trajectories(x, lengths=rng.integers(6, 16, 30), units=units)


@pytest.mark.parametrize("region", ["all", "input"])
@pytest.mark.parametrize("lags", [(1, 5), (2, 8)])
def test_summary_and_physics_share_each_estimator_bit_for_bit(region: str, lags: tuple[int, int]) -> None:
    traj = _traj()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        table = summary.unit_summary(traj, region=region, lags=lags, extra=False)
    alpha = physics.msd_exponent(traj, lags=lags, region=region)
    d_e = physics.diffusion_coefficient(traj, method="einstein", lags=lags, region=region)
    d_gk = physics.diffusion_coefficient(traj, method="green-kubo", max_lag=lags[1], region=region)
    np.testing.assert_array_equal(table["msd_exponent"].to_numpy(), alpha)
    np.testing.assert_array_equal(table["diffusion_einstein"].to_numpy(), d_e)
    np.testing.assert_array_equal(table["diffusion_green_kubo"].to_numpy(), d_gk)


def test_estimators_on_known_curves() -> None:
    m = np.arange(0, 6.0)[:, None]
    msd = 3.0 * m**1.5
    assert _estimators.msd_exponent_of(msd[1:], 1, np.ones(1), "t")[0] == pytest.approx(1.5)
    assert _estimators.einstein(4.0 * m, 0)[0] == pytest.approx(2.0)
    assert _estimators.green_kubo(np.array([[2.0], [0.5], [0.25]]))[0] == pytest.approx(1.75)
    curve = np.array([[1.0, 5.0], [2.0, 6.0]])
    has = np.array([[True, False], [True, False]])
    np.testing.assert_array_equal(_estimators.area(curve, has), [3.0, np.nan])


def test_resample_counts_are_the_draws_of_resample_indices() -> None:
    idx = _bootstrap.resample_indices(7, 11, seed=3)
    counts = _bootstrap.resample_counts(7, 11, seed=3)
    assert counts.shape == (11, 7) and counts.dtype == np.float64
    for b in range(11):
        np.testing.assert_array_equal(counts[b], np.bincount(idx[b], minlength=7))


def test_resample_counts_equal_the_historical_recipe() -> None:
    n, n_boot, seed = 13, 9, 5
    idx = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
    want = np.zeros((n_boot, n))
    np.add.at(want, (np.arange(n_boot)[:, None], idx), 1.0)
    np.testing.assert_array_equal(_bootstrap.resample_counts(n, n_boot, seed), want)


@pytest.mark.parametrize("region", ["all", "input", "padding"])
def test_vector_bond_correlation_is_the_mean_cosine(region: str) -> None:
    traj = _traj(1)
    x = np.array(traj.states)
    x[2, 3:6] = x[2, 2]  # zero-length bonds are left out
    traj = Trajectories(x, lengths=traj.lengths)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        got = physics.bond_correlation(traj, per="vector", region=region)
    d = np.diff(x, axis=1)
    norm = np.linalg.norm(d, axis=2)
    ok = traj.delta_mask(region)[:, :, 0] & (norm > 0)
    u = np.where(ok[:, :, None], d / np.where(ok, norm, 1.0)[:, :, None], 0.0)
    for s in range(d.shape[1]):
        pairs = ok[:, : d.shape[1] - s] & ok[:, s:]
        if not pairs.any():
            assert np.isnan(got[s])
            continue
        cos = (u[:, : d.shape[1] - s] * u[:, s:]).sum(axis=2)[pairs]
        assert got[s] == pytest.approx(cos.mean(), abs=1e-13)


@pytest.mark.parametrize("name", FILES)
def test_physics_floor_files_are_short_and_tell_no_history(name: str) -> None:
    text = (ROOT / "rnndyn" / name).read_text()
    assert len(text.splitlines()) <= 380
    for word in ("founding", "notebook", "PHYSICS.md"):
        assert word not in text, f"{name} mentions {word!r}; project history belongs in docs/"
