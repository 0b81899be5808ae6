"""Tests of rnndyn.summary: the per-unit table, quantiles, rankings, bootstrap intervals."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from rnndyn import RnndynError, Trajectories, metrics, physics, summary
from rnndyn.hookspecs import hookimpl


def _traj(seed=0, n=40, T=24, lengths=True, masked=True):
    rng = np.random.default_rng(seed)
    x = np.tanh(0.3 * rng.standard_normal((n, T, 4)).cumsum(axis=1)) * [1.0, 3.0, 0.5, 2.0]
    units = pd.DataFrame(
        {"layer": "enc", "state": "h", "direction": ["forward"] * 2 + ["backward"] * 2, "index": [0, 1, 0, 1]}
    )
    L = rng.integers(6, T - 4, n) if lengths else None
    return Trajectories(x, lengths=L, units=units, masked=masked)


def _bruteforce_deltas(traj, region):
    x = np.asarray(traj.states)
    d = np.diff(x, axis=1)
    m = traj.delta_mask(region)
    return d, m


@pytest.fixture
def quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


# ----------------------------------------------------------------------- unit_summary


def test_unit_summary_columns_and_values(quiet):
    traj = _traj()
    df = summary.unit_summary(traj, extra=False)
    assert tuple(df.columns) == summary.SUMMARY_COLUMNS
    assert df.index.tolist() == [0, 1, 2, 3]
    pd.testing.assert_frame_equal(
        df[["layer", "state", "direction", "index"]].reset_index(drop=True), traj.units
    )
    d, m = _bruteforce_deltas(traj, "all")
    np.testing.assert_allclose(df["area_mean_abs"], np.abs(d).mean(axis=0).sum(axis=0), rtol=1e-10)
    np.testing.assert_allclose(df["area_rms"], np.sqrt((d**2).mean(axis=0)).sum(axis=0), rtol=1e-10)
    order = np.argsort(-df["area_mean_abs"].to_numpy())
    assert df["rank"].to_numpy()[order].tolist() == [1, 2, 3, 4]
    for region, col in (("input", "rms_input"), ("padding", "rms_padding")):
        d, m = _bruteforce_deltas(traj, region)
        want = [np.sqrt(np.mean(d[:, :, u][m[:, :, u]] ** 2)) for u in range(4)]
        np.testing.assert_allclose(df[col], want, rtol=1e-10)
    assert df.attrs["lags"] == (1, 10)
    np.testing.assert_allclose(df["msd_exponent"], physics.msd_exponent(traj, lags=(1, 10)), rtol=1e-10)
    assert df["regime"].astype(str).tolist() == physics.classify_regime(df["msd_exponent"]).tolist()
    np.testing.assert_allclose(
        df["diffusion_einstein"], physics.diffusion_coefficient(traj, lags=(1, 10)), rtol=1e-10
    )
    np.testing.assert_allclose(
        df["diffusion_green_kubo"],
        physics.diffusion_coefficient(traj, method="green-kubo", max_lag=10),
        rtol=1e-10,
    )
    relax = physics.relaxation_time(traj)
    np.testing.assert_allclose(df["relaxation_tau"], relax["tau"], rtol=1e-12)
    np.testing.assert_allclose(df["relaxation_r2"], relax["r2"], rtol=1e-12)


def test_unit_summary_region_and_window(quiet):
    traj = _traj(seed=1)
    df = summary.unit_summary(traj, region="input", lags=(2, 5), extra=False)
    d, m = _bruteforce_deltas(traj, "input")
    counts = m.sum(axis=0)
    rms = np.sqrt(np.where(m, d**2, 0).sum(axis=0) / np.maximum(counts, 1))
    np.testing.assert_allclose(df["area_rms"], np.where(counts > 0, rms, 0).sum(axis=0), rtol=1e-10)
    assert df.attrs["lags"] == (2, 5) and df.attrs["region"] == "input"
    want = physics.msd_exponent(traj, lags=(2, 5), region="input")
    np.testing.assert_allclose(df["msd_exponent"], want, rtol=1e-10)
    with pytest.raises(RnndynError, match="past the largest lag"):
        summary.unit_summary(traj, lags=(1, 40), extra=False)


def test_unit_summary_without_padding_says_why_relaxation_is_nan():
    x = np.random.default_rng(2).standard_normal((10, 15, 2)).cumsum(axis=1)
    with pytest.warns(RuntimeWarning, match="relaxation"):
        df = summary.unit_summary(x, extra=False)
    assert df["relaxation_tau"].isna().all() and df["rms_padding"].isna().all()
    assert any("relaxation" in note for note in df.attrs["notes"])
    assert df["regime"].tolist() == ["diffusive", "diffusive"]


def test_unit_summary_known_regimes(quiet):
    n, T = 200, 40
    t = np.arange(T, dtype=np.float64)
    rng = np.random.default_rng(3)
    walk = np.concatenate([np.zeros((n, 1)), rng.choice([-1.0, 1.0], (n, T - 1)).cumsum(axis=1)], axis=1)
    x = np.stack([np.broadcast_to(0.1 * t, (n, T)), walk, np.full((n, T), 0.3)], axis=2)
    df = summary.unit_summary(x, extra=False)
    assert df["regime"].tolist() == ["ballistic", "diffusive", "arrested"]
    assert isinstance(df["regime"].dtype, pd.CategoricalDtype)


# --------------------------------------------------------------------------- plugins


class _Plugin:
    def __init__(self, metrics_):
        self.metrics_ = metrics_

    @hookimpl
    def rnndyn_register_metrics(self, register):
        for name, fn in self.metrics_.items():
            register(name, fn)


@pytest.fixture
def register():
    from rnndyn.plugins import get_plugin_manager

    pm = get_plugin_manager()
    names = []

    def add(mapping):
        name = f"test-summary-{len(names)}"
        pm.register(_Plugin(mapping), name=name)
        names.append(name)

    try:
        yield add
    finally:
        for name in names:
            pm.unregister(name=name)


def test_plugin_metric_becomes_a_column(register, quiet):
    traj = _traj(seed=4)
    register({"max_abs": lambda t: np.abs(np.asarray(t.states)).max(axis=(0, 1))})
    df = summary.unit_summary(traj)
    np.testing.assert_allclose(df["max_abs"], np.abs(np.asarray(traj.states)).max(axis=(0, 1)))
    assert list(df.columns[: len(summary.SUMMARY_COLUMNS)]) == list(summary.SUMMARY_COLUMNS)
    plain = summary.unit_summary(traj, extra=False)
    assert tuple(plain.columns) == summary.SUMMARY_COLUMNS


def test_plugin_metric_name_clash_and_bad_shape(register, quiet):
    traj = _traj(seed=5)
    register({"rank": lambda t: np.zeros(t.n_units)})
    with pytest.raises(RnndynError, match="built-in column"):
        summary.unit_summary(traj)


def test_plugin_metric_bad_shape(register, quiet):
    register({"oops": lambda t: np.zeros(3)})
    with pytest.raises(RnndynError, match="one number per unit"):
        summary.unit_summary(_traj(seed=6))


def test_two_plugins_same_metric_name(register, quiet):
    register({"dup": lambda t: np.zeros(t.n_units)})
    register({"dup": lambda t: np.ones(t.n_units)})
    with pytest.raises(RnndynError, match="dup"):
        summary.unit_summary(_traj(seed=7))


# -------------------------------------------------------------------------- describe


def test_describe_matches_numpy_and_pandas():
    v = np.random.default_rng(8).lognormal(size=513)
    got = summary.describe(v)
    assert got.index.tolist() == ["count", "mean", "std", "min", "50%", "75%", "90%", "95%", "99%", "max"]
    np.testing.assert_allclose(
        got[["50%", "75%", "90%", "95%", "99%"]], np.percentile(v, [50, 75, 90, 95, 99])
    )
    assert got["count"] == 513 and got["std"] == pytest.approx(np.std(v, ddof=1))
    assert got["min"] == v.min() and got["max"] == v.max() and got["mean"] == pytest.approx(v.mean())
    pd.testing.assert_series_equal(
        got,
        pd.Series(v).describe(percentiles=[0.5, 0.75, 0.9, 0.95, 0.99]),
        check_names=False,
    )


def test_describe_nan_series_and_frame():
    s = pd.Series([1.0, np.nan, 3.0], name="tau")
    got = summary.describe(s)
    assert got.name == "tau" and got["count"] == 2 and got["mean"] == 2.0
    frame = summary.describe(pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 5.0], "c": ["x", "y"]}))
    assert list(frame.columns) == ["a", "b"] and frame.loc["max", "b"] == 5.0


# ---------------------------------------------------------------------- top / rank


def test_top_units_ties_by_position():
    table = pd.DataFrame({"area_mean_abs": [2.0, 5.0, 5.0, np.nan, 1.0]})
    assert summary.top_units(table, n=3).index.tolist() == [1, 2, 0]
    assert summary.rank_units(table).tolist() == [3, 1, 2, 5, 4]
    assert summary.rank_units(table, ascending=True).tolist() == [2, 3, 4, 5, 1]
    with pytest.raises(RnndynError, match="not a column"):
        summary.top_units(table, by="area")
    with pytest.raises(RnndynError, match="n must be >= 1"):
        summary.top_units(table, n=0)


def test_top_units_from_trajectories_matches_summary(quiet):
    traj = _traj(seed=9)
    full = summary.unit_summary(traj, extra=False)
    for by in ("area_mean_abs", "area_rms", "msd_exponent"):
        got = summary.top_units(traj, n=2, by=by)
        assert got.index.tolist() == full.sort_values(by, ascending=False).index[:2].tolist()


# ------------------------------------------------------------------------- bootstrap


def test_bootstrap_coverage_of_a_known_mean():
    rng = np.random.default_rng(10)
    hits = 0
    n_sets = 300
    for _ in range(n_sets):
        data = rng.normal(2.0, 1.0, size=(40, 1, 1))
        r = summary.bootstrap_ci(data, "mean", n_boot=400, seed=int(rng.integers(1 << 30)))
        hits += bool(r.low[0, 0] <= 2.0 <= r.high[0, 0])
    assert 0.89 <= hits / n_sets <= 0.99  # nominal 0.95; binomial sd 0.013


@pytest.mark.parametrize("stat", ["rms_delta", "mean_abs_delta", "area_rms", "area_mean_abs"])
@pytest.mark.parametrize("region", ["all", "input", "padding"])
def test_bootstrap_vectorised_equals_loop(stat, region):
    traj = _traj(seed=11, n=25, T=12, masked=False)  # forward and backward regions differ
    fast = summary.bootstrap_ci(traj, stat, n_boot=60, seed=3, region=region)
    fn = metrics.rms_delta if "rms" in stat else metrics.mean_abs_delta

    def slow_stat(t):
        c, n = fn(t, region=region, return_counts=True)
        c = np.asarray(c)
        if stat.startswith("area"):
            has = np.asarray(n) > 0
            return np.where(has.any(axis=0), np.where(has, c, 0).sum(axis=0), np.nan)
        return c

    slow = summary.bootstrap_ci(traj, slow_stat, n_boot=60, seed=3)
    for a, b in zip(fast[:3], slow[:3], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-14)
    assert fast.ci == 0.95 and fast.n_boot == 60
    ok = ~np.isnan(fast.low)
    assert np.all(fast.low[ok] <= fast.high[ok])


def test_bootstrap_callable_on_arrays_and_errors():
    x = np.random.default_rng(12).standard_normal((30, 5, 2))
    r = summary.bootstrap_ci(x, lambda a: a.std(axis=0).mean(), n_boot=50)
    assert np.ndim(r.estimate) == 0 and r.low <= r.high
    again = summary.bootstrap_ci(x, lambda a: a.std(axis=0).mean(), n_boot=50)
    assert again.low == r.low  # fixed seed: reproducible
    with pytest.raises(RnndynError, match="ci"):
        summary.bootstrap_ci(x, "mean", ci=95)
    with pytest.raises(RnndynError, match="statistic"):
        summary.bootstrap_ci(x, "median")
    with pytest.raises(RnndynError, match="n_boot"):
        summary.bootstrap_ci(x, "mean", n_boot=1)


def test_describe_rejects_2d():
    with pytest.raises(RnndynError, match="1-D"):
        summary.describe(np.zeros((3, 4)))


def test_docs_summary_examples_run_and_cover_the_api(quiet, capsys):
    import pathlib
    import re

    text = (pathlib.Path(__file__).parents[1] / "docs" / "summary.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 4
    exec(compile("\n".join(blocks), "docs/summary.md", "exec"), {})
    for name in (
        "unit_summary",
        "describe",
        "top_units",
        "rank_units",
        "bootstrap_ci",
        *summary.SUMMARY_COLUMNS,
    ):
        assert name in text, f"{name} is not documented in docs/summary.md"


def test_unit_summary_on_sequences_too_short_for_the_default_vacf_window() -> None:
    # 6 steps: the default MSD window reaches lag 5, the deltas only lag 4
    rng = np.random.default_rng(11)
    x = np.cumsum(rng.normal(size=(40, 6, 3)), axis=1)
    table = summary.unit_summary(Trajectories(x), extra=False)
    c = metrics.vacf(x, max_lag=4)
    np.testing.assert_allclose(table["diffusion_green_kubo"], c[0] / 2 + c[1:].sum(axis=0))
