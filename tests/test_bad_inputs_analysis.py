"""Bad inputs to the analysis API (physics, summaries, bootstrap, plots) raise clear errors.

Each table row calls one public function with one bad argument and checks that
an :class:`RnndynError` is raised whose message names the argument (and the
key words of what was wrong). Edge values that are accepted are checked
against an independent reference below the tables.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from rnndyn import RnndynError, Trajectories, physics, plots, summary  # noqa: E402

RNG = np.random.default_rng(8)
X = RNG.standard_normal((6, 12, 3)).cumsum(axis=1)  # 6 sequences, 12 steps, 3 units
L = np.array([12, 8, 6, 10, 12, 5])
EMPTY = np.zeros((0, 12, 3))
NAN, INF = float("nan"), float("inf")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _table() -> pd.DataFrame:
    return pd.DataFrame(
        {"state": ["h", "h", "c"], "area_mean_abs": [2.0, 5.0, 1.0], "area_rms": [1.0, 1.5, 0.5]},
        index=pd.RangeIndex(3, name="unit"),
    )


def _traj() -> Trajectories:
    return Trajectories(X, lengths=L)


def _cases(rows: list[tuple[str, Callable[[], Any], str]]) -> list[Any]:
    return [pytest.param(call, match, id=name) for name, call, match in rows]


def _check(call: Callable[[], Any], match: str) -> None:
    with pytest.raises(RnndynError, match=match):
        call()


# ----------------------------------------------------------------------------------- physics

PHYSICS = [
    # local_exponent(msd_curve, atol)
    ("local_exponent-text", lambda: physics.local_exponent("abc"), r"msd_curve must be an array of real"),
    ("local_exponent-2-lags", lambda: physics.local_exponent([0.0, 1.0]), r"msd_curve .*at least 3 lags"),
    ("local_exponent-scalar", lambda: physics.local_exponent(5.0), r"msd_curve .*at least 3 lags"),
    (
        "local_exponent-no-columns",
        lambda: physics.local_exponent(np.zeros((5, 0))),
        r"msd_curve has no curve",
    ),
    ("local_exponent-negative", lambda: physics.local_exponent([0.0, -1.0, 2, 3]), r"msd_curve .*negative"),
    ("local_exponent-nan", lambda: physics.local_exponent([0.0, NAN, 2, 3]), r"msd_curve .*non-finite"),
    ("local_exponent-inf", lambda: physics.local_exponent([0.0, 1, INF, 3]), r"msd_curve .*non-finite"),
    ("local_exponent-complex", lambda: physics.local_exponent(np.ones(4) * 1j), r"msd_curve .*real numbers"),
    ("local_exponent-bool", lambda: physics.local_exponent(np.ones(4, bool)), r"msd_curve .*real numbers"),
    ("local_exponent-ragged", lambda: physics.local_exponent([[1.0], [1.0, 2.0]]), r"msd_curve must be"),
    (
        "local_exponent-atol-neg",
        lambda: physics.local_exponent(np.arange(5.0), atol=-1),
        r"atol must be >= 0",
    ),
    (
        "local_exponent-atol-nan",
        lambda: physics.local_exponent(np.arange(5.0), atol=NAN),
        r"atol must be finite",
    ),
    (
        "local_exponent-atol-str",
        lambda: physics.local_exponent(np.arange(5.0), atol="0"),
        r"atol must be a real",
    ),
    (
        "local_exponent-atol-bool",
        lambda: physics.local_exponent(np.arange(5.0), atol=True),
        r"atol must be a real",
    ),
    # msd_exponent(x, lags, region, lengths)
    ("msd_exponent-lags-float", lambda: physics.msd_exponent(X, lags=(1.5, 3)), r"lags must hold two ints"),
    (
        "msd_exponent-lags-inverted",
        lambda: physics.msd_exponent(X, lags=(3, 1)),
        r"lags=\(3, 1\) is not a window",
    ),
    (
        "msd_exponent-lags-zero",
        lambda: physics.msd_exponent(X, lags=(0, 0)),
        r"lags=\(0, 0\) is not a window",
    ),
    (
        "msd_exponent-lags-int",
        lambda: physics.msd_exponent(X, lags=3),
        r"lags must be an explicit fit window",
    ),
    (
        "msd_exponent-lags-str",
        lambda: physics.msd_exponent(X, lags="13"),
        r"lags must be an explicit fit window",
    ),
    ("msd_exponent-lags-3", lambda: physics.msd_exponent(X, lags=(1, 2, 3)), r"lags must be an explicit"),
    ("msd_exponent-lags-bool", lambda: physics.msd_exponent(X, lags=(True, 3)), r"lags must hold two ints"),
    (
        "msd_exponent-lags-huge",
        lambda: physics.msd_exponent(X, lags=(1, 10**9)),
        r"lags=.*past the largest lag",
    ),
    (
        "msd_exponent-region",
        lambda: physics.msd_exponent(X, lags=(1, 3), region="pad"),
        r"region must be one of",
    ),
    (
        "msd_exponent-region-list",
        lambda: physics.msd_exponent(X, lags=(1, 3), region=["all"]),
        r"region must",
    ),
    ("msd_exponent-no-sequences", lambda: physics.msd_exponent(EMPTY, lags=(1, 3)), r"x has no sequences"),
    (
        "msd_exponent-no-units",
        lambda: physics.msd_exponent(np.zeros((6, 12, 0)), lags=(1, 3)),
        r"x has no units",
    ),
    ("msd_exponent-x-str", lambda: physics.msd_exponent("states", lags=(1, 3)), r"x must be a Trajectories"),
    # classify_regime(alpha, tol, arrested, ballistic)
    ("classify-alpha-str", lambda: physics.classify_regime("a"), r"alpha must be an array of real"),
    ("classify-alpha-strs", lambda: physics.classify_regime(["a", "b"]), r"alpha must hold real numbers"),
    ("classify-alpha-none", lambda: physics.classify_regime(None), r"alpha must be an array of real"),
    ("classify-alpha-complex", lambda: physics.classify_regime([1j]), r"alpha must hold real numbers"),
    ("classify-tol-nan", lambda: physics.classify_regime(1.0, tol=NAN), r"tol must be finite"),
    ("classify-tol-neg", lambda: physics.classify_regime(1.0, tol=-0.1), r"tol must be >= 0"),
    ("classify-tol-str", lambda: physics.classify_regime(1.0, tol="0.2"), r"tol must be a real number"),
    ("classify-tol-bool", lambda: physics.classify_regime(1.0, tol=True), r"tol must be a real number"),
    ("classify-tol-big", lambda: physics.classify_regime(1.0, tol=1.5), r"tol must be < 1"),
    (
        "classify-inverted",
        lambda: physics.classify_regime(1.0, arrested=1.9, ballistic=1.5),
        r"arrested must be < 1 - tol",
    ),
    (
        "classify-ballistic-low",
        lambda: physics.classify_regime(1.0, ballistic=1.1),
        r"ballistic must be > 1 \+ tol",
    ),
    ("classify-arrested-nan", lambda: physics.classify_regime(1.0, arrested=NAN), r"arrested must be finite"),
    (
        "classify-ballistic-inf",
        lambda: physics.classify_regime(1.0, ballistic=INF),
        r"ballistic must be finite",
    ),
    # diffusion_coefficient(x, method, lags, max_lag, region)
    (
        "diffusion-method",
        lambda: physics.diffusion_coefficient(X, method="fick", lags=(1, 3)),
        r"method must be",
    ),
    (
        "diffusion-method-none",
        lambda: physics.diffusion_coefficient(X, method=None),
        r"method must be one of",
    ),
    ("diffusion-method-int", lambda: physics.diffusion_coefficient(X, method=1), r"method must be one of"),
    (
        "diffusion-einstein-max-lag",
        lambda: physics.diffusion_coefficient(X, lags=(1, 3), max_lag=3),
        r"max_lag= is the Green-Kubo",
    ),
    (
        "diffusion-lags-float",
        lambda: physics.diffusion_coefficient(X, lags=(1.5, 3)),
        r"lags must hold two ints",
    ),
    (
        "diffusion-lags-missing",
        lambda: physics.diffusion_coefficient(X),
        r"lags must be an explicit fit window",
    ),
    (
        "diffusion-gk-float",
        lambda: physics.diffusion_coefficient(X, method="green-kubo", max_lag=1.5),
        r"max_lag",
    ),
    (
        "diffusion-gk-neg",
        lambda: physics.diffusion_coefficient(X, method="green-kubo", max_lag=-1),
        r"max_lag",
    ),
    (
        "diffusion-gk-bool",
        lambda: physics.diffusion_coefficient(X, method="green-kubo", max_lag=True),
        r"max_lag",
    ),
    (
        "diffusion-gk-huge",
        lambda: physics.diffusion_coefficient(X, method="green-kubo", max_lag=11),
        r"max_lag",
    ),
    (
        "diffusion-gk-str",
        lambda: physics.diffusion_coefficient(X, method="green-kubo", max_lag="3"),
        r"max_lag",
    ),
    (
        "diffusion-gk-lags",
        lambda: physics.diffusion_coefficient(X, method="green-kubo", lags=(1, 3)),
        r"lags=",
    ),
    ("diffusion-gk-missing", lambda: physics.diffusion_coefficient(X, method="green-kubo"), r"max_lag="),
    ("diffusion-empty", lambda: physics.diffusion_coefficient(EMPTY, lags=(1, 3)), r"x has no sequences"),
    # non_gaussian_parameter(x, lag, origins, region)
    ("ngp-lag-zero", lambda: physics.non_gaussian_parameter(X, lag=0), r"lag must be >= 1"),
    ("ngp-lag-neg", lambda: physics.non_gaussian_parameter(X, lag=-1), r"lag must be >= 1"),
    ("ngp-lag-float", lambda: physics.non_gaussian_parameter(X, lag=1.5), r"lag must be an int"),
    ("ngp-lag-bool", lambda: physics.non_gaussian_parameter(X, lag=True), r"lag must be an int"),
    ("ngp-lag-huge", lambda: physics.non_gaussian_parameter(X, lag=12), r"lag must be <= 11"),
    ("ngp-lag-str", lambda: physics.non_gaussian_parameter(X, lag="2"), r"lag must be an int"),
    (
        "ngp-origins",
        lambda: physics.non_gaussian_parameter(X, lag=1, origins="end"),
        r"origins must be one of",
    ),
    (
        "ngp-origins-int",
        lambda: physics.non_gaussian_parameter(X, lag=1, origins=1),
        r"origins must be one of",
    ),
    # the chain
    ("rg-per", lambda: physics.radius_of_gyration(X, per="sequence"), r"per must be one of"),
    ("rg-per-none", lambda: physics.radius_of_gyration(X, per=None), r"per must be one of"),
    (
        "rg-squared-str",
        lambda: physics.radius_of_gyration(X, squared="yes"),
        r"squared must be True or False",
    ),
    ("rg-squared-int", lambda: physics.radius_of_gyration(X, squared=1), r"squared must be True or False"),
    ("rg-region", lambda: physics.radius_of_gyration(X, region="inputs"), r"region must be one of"),
    ("rg-empty", lambda: physics.radius_of_gyration(EMPTY), r"x has no sequences"),
    (
        "ree-squared-float",
        lambda: physics.end_to_end_distance(X, squared=1.0),
        r"squared must be True or False",
    ),
    ("contour-per-int", lambda: physics.contour_length(X, per=1), r"per must be one of"),
    ("straightness-per", lambda: physics.straightness(X, per="vec"), r"per must be one of"),
    ("straightness-lengths", lambda: physics.straightness(_traj(), lengths=L), r"lengths= is only for plain"),
    ("bond-max-lag-neg", lambda: physics.bond_correlation(X, max_lag=-1), r"max_lag must be >= 0"),
    ("bond-max-lag-float", lambda: physics.bond_correlation(X, max_lag=1.5), r"max_lag must be an int"),
    ("bond-max-lag-huge", lambda: physics.bond_correlation(X, max_lag=11), r"max_lag must be <= 10"),
    ("bond-max-lag-bool", lambda: physics.bond_correlation(X, max_lag=True), r"max_lag must be an int"),
    ("persistence-region", lambda: physics.persistence_length(X, region=3), r"region must be one of"),
    (
        "ict-window-str",
        lambda: physics.integrated_correlation_time(X, window="auto"),
        r"window must be one of",
    ),
    ("ict-window-zero", lambda: physics.integrated_correlation_time(X, window=0), r"window must be >= 1"),
    (
        "ict-window-float",
        lambda: physics.integrated_correlation_time(X, window=1.5),
        r"window must be an int",
    ),
    (
        "ict-window-bool",
        lambda: physics.integrated_correlation_time(X, window=True),
        r"window must be an int",
    ),
    ("ict-window-huge", lambda: physics.integrated_correlation_time(X, window=50), r"window=50 is past"),
    ("ict-c-zero", lambda: physics.integrated_correlation_time(X, c=0), r"c must be > 0"),
    ("ict-c-neg", lambda: physics.integrated_correlation_time(X, c=-5.0), r"c must be > 0"),
    ("ict-c-nan", lambda: physics.integrated_correlation_time(X, c=NAN), r"c must be finite"),
    ("ict-c-str", lambda: physics.integrated_correlation_time(X, c="5"), r"c must be a real number"),
    (
        "ict-return-int",
        lambda: physics.integrated_correlation_time(X, return_window=1),
        r"return_window must be",
    ),
    # relaxation
    ("curve-tail-zero", lambda: physics.relaxation_curve(X, lengths=L, tail=0), r"tail must be >= 1"),
    ("curve-tail-float", lambda: physics.relaxation_curve(X, lengths=L, tail=1.5), r"tail must be an int"),
    ("curve-tail-neg", lambda: physics.relaxation_curve(X, lengths=L, tail=-1), r"tail must be >= 1"),
    (
        "curve-tail-long",
        lambda: physics.relaxation_curve(X, lengths=L, target="tail_mean", tail=13),
        r"tail=13 is longer",
    ),
    (
        "curve-target-name",
        lambda: physics.relaxation_curve(X, lengths=L, target="mean"),
        r"target must be one of",
    ),
    (
        "curve-target-none",
        lambda: physics.relaxation_curve(X, lengths=L, target=None),
        r"target must be one of",
    ),
    (
        "curve-target-shape",
        lambda: physics.relaxation_curve(X, lengths=L, target=np.zeros(2)),
        r"target as an",
    ),
    (
        "curve-target-nan",
        lambda: physics.relaxation_curve(X, lengths=L, target=[NAN, 0, 0]),
        r"target holds NaN",
    ),
    (
        "curve-target-strs",
        lambda: physics.relaxation_curve(X, lengths=L, target=["a", "b", "c"]),
        r"target must",
    ),
    ("curve-empty", lambda: physics.relaxation_curve(EMPTY), r"x has no sequences"),
    ("time-start-neg", lambda: physics.relaxation_time(X, lengths=L, start=-1), r"start must be >= 0"),
    ("time-start-float", lambda: physics.relaxation_time(X, lengths=L, start=1.5), r"start must be an int"),
    ("time-start-bool", lambda: physics.relaxation_time(X, lengths=L, start=False), r"start must be an int"),
    (
        "time-stop-le-start",
        lambda: physics.relaxation_time(X, lengths=L, start=3, stop=3),
        r"stop must be >= 4",
    ),
    ("time-stop-float", lambda: physics.relaxation_time(X, lengths=L, stop=5.0), r"stop must be an int"),
    ("time-stop-huge", lambda: physics.relaxation_time(X, lengths=L, stop=1000), r"stop=1000 is past"),
    (
        "time-min-points",
        lambda: physics.relaxation_time(X, lengths=L, min_points=1),
        r"min_points must be >= 2",
    ),
    (
        "time-min-points-float",
        lambda: physics.relaxation_time(X, lengths=L, min_points=2.5),
        r"min_points must",
    ),
    (
        "time-min-seq-zero",
        lambda: physics.relaxation_time(X, lengths=L, min_sequences=0),
        r"min_sequences must",
    ),
    (
        "time-min-seq-many",
        lambda: physics.relaxation_time(X, lengths=L, min_sequences=7),
        r"min_sequences=7 is",
    ),
    ("pr-region", lambda: physics.participation_ratio(X, region="inputs"), r"region must be one of"),
    ("pr-empty", lambda: physics.participation_ratio(EMPTY), r"x has no sequences"),
    ("gate-low-nan", lambda: physics.gate_saturation(X, low=NAN), r"low must be finite"),
    ("gate-high-str", lambda: physics.gate_saturation(X, high="0.9"), r"high must be a real number"),
    ("gate-inverted", lambda: physics.gate_saturation(X, low=0.9, high=0.1), r"low < high"),
    ("gate-low-bool", lambda: physics.gate_saturation(X, low=True), r"low must be a real number"),
]


@pytest.mark.parametrize(("call", "match"), _cases(PHYSICS))
def test_physics_bad_inputs(call: Callable[[], Any], match: str) -> None:
    _check(call, match)


# --------------------------------------------------------------------------------- summaries


def _raise_on_resamples(a: np.ndarray) -> float:
    if a is not X:
        raise ValueError("boom")
    return float(a.mean())


def _shape_changes(a: np.ndarray) -> np.ndarray:
    return np.unique(a[:, 0, 0])  # as many values as distinct sequences drawn


SUMMARIES = [
    # unit_summary(traj, region, lags, extra, lengths)
    ("unit_summary-empty-array", lambda: summary.unit_summary(EMPTY, extra=False), r"traj has no sequences"),
    (
        "unit_summary-empty-traj",
        lambda: summary.unit_summary(Trajectories(EMPTY), extra=False),
        r"(traj|states).*(no sequences|sequence)",
    ),
    (
        "unit_summary-no-units",
        lambda: summary.unit_summary(np.zeros((6, 12, 0)), extra=False),
        r"traj has no units",
    ),
    ("unit_summary-region", lambda: summary.unit_summary(X, region=1, extra=False), r"region must be one of"),
    ("unit_summary-extra-str", lambda: summary.unit_summary(X, extra="no"), r"extra must be True or False"),
    ("unit_summary-extra-int", lambda: summary.unit_summary(X, extra=0), r"extra must be True or False"),
    (
        "unit_summary-lags-float",
        lambda: summary.unit_summary(X, lags=(1.5, 3), extra=False),
        r"lags must hold",
    ),
    (
        "unit_summary-lags-inverted",
        lambda: summary.unit_summary(X, lags=(3, 1), extra=False),
        r"lags=.*not a",
    ),
    (
        "unit_summary-lags-int",
        lambda: summary.unit_summary(X, lags=5, extra=False),
        r"lags must be an explicit",
    ),
    ("unit_summary-2-steps", lambda: summary.unit_summary(X[:, :2], extra=False), r"at least 3 steps"),
    ("unit_summary-traj-str", lambda: summary.unit_summary("x", extra=False), r"traj must be a Trajectories"),
    # describe(values)
    ("describe-empty-list", lambda: summary.describe([]), r"values is empty"),
    ("describe-empty-array", lambda: summary.describe(np.array([])), r"values is empty"),
    ("describe-str", lambda: summary.describe("abc"), r"values must be an array of real"),
    ("describe-strs", lambda: summary.describe(["a", "b"]), r"values must hold real numbers"),
    ("describe-2d", lambda: summary.describe(np.zeros((3, 4))), r"1-D"),
    ("describe-inf", lambda: summary.describe([1.0, INF]), r"values holds 1 non-finite"),
    ("describe-bool", lambda: summary.describe(np.array([True, False])), r"values must hold real numbers"),
    ("describe-complex", lambda: summary.describe([1j, 2j]), r"values must hold real numbers"),
    ("describe-none", lambda: summary.describe(None), r"values must be an array of real"),
    (
        "describe-series-str",
        lambda: summary.describe(pd.Series(["a", "b"], name="s")),
        r"values must hold real",
    ),
    (
        "describe-series-cat",
        lambda: summary.describe(pd.Series(["a"], dtype="category")),
        r"values must hold real",
    ),
    (
        "describe-frame-text",
        lambda: summary.describe(pd.DataFrame({"a": ["x"]})),
        r"values is a DataFrame without",
    ),
    (
        "describe-frame-empty",
        lambda: summary.describe(pd.DataFrame({"a": []}, dtype=float)),
        r"values is a .*no rows",
    ),
    # rank_units(summary, by, ascending)
    ("rank-by-text", lambda: summary.rank_units(_table(), by="state"), r"by='state' is a .* not a numeric"),
    (
        "rank-by-missing",
        lambda: summary.rank_units(_table(), by="nope"),
        r"by='nope' is not a column.*area_rms",
    ),
    ("rank-by-int", lambda: summary.rank_units(_table(), by=3), r"by must be a column name"),
    (
        "rank-ascending-str",
        lambda: summary.rank_units(_table(), ascending="no"),
        r"ascending must be True or False",
    ),
    (
        "rank-ascending-int",
        lambda: summary.rank_units(_table(), ascending=1),
        r"ascending must be True or False",
    ),
    (
        "rank-summary-array",
        lambda: summary.rank_units(np.zeros((3, 2))),
        r"summary must be a pandas DataFrame",
    ),
    ("rank-summary-empty", lambda: summary.rank_units(_table().iloc[:0]), r"summary has no rows"),
    # top_units(summary_or_traj, n, by, region, lengths)
    ("top-n-zero", lambda: summary.top_units(_table(), n=0), r"n must be >= 1"),
    ("top-n-neg", lambda: summary.top_units(_table(), n=-1), r"n must be >= 1"),
    ("top-n-float", lambda: summary.top_units(_table(), n=1.5), r"n must be an int"),
    ("top-n-bool", lambda: summary.top_units(_table(), n=True), r"n must be an int"),
    ("top-n-str", lambda: summary.top_units(_table(), n="3"), r"n must be an int"),
    ("top-n-too-many", lambda: summary.top_units(_table(), n=4), r"n=4 is more than the 3 unit"),
    ("top-n-huge-traj", lambda: summary.top_units(X, n=10**9), r"n=1000000000 is more than the 3 unit"),
    ("top-by-text", lambda: summary.top_units(_table(), by="state"), r"by='state' .* not a numeric"),
    ("top-by-missing", lambda: summary.top_units(_table(), by="area"), r"by='area' is not a column"),
    ("top-by-regime-traj", lambda: summary.top_units(X, by="regime"), r"by='regime' is a text column"),
    ("top-by-none", lambda: summary.top_units(_table(), by=None), r"by must be a column name"),
    ("top-region", lambda: summary.top_units(X, region="x"), r"region must be one of"),
    ("top-region-table", lambda: summary.top_units(_table(), region="input"), r"region='input' is for traj"),
    (
        "top-lengths-table",
        lambda: summary.top_units(_table(), lengths=L[:3]),
        r"lengths= is for trajectories",
    ),
    ("top-empty", lambda: summary.top_units(EMPTY), r"summary_or_traj has no sequences"),
    # bootstrap_ci(x, statistic, n_boot, ci, seed, region, lengths)
    ("boot-seed-neg", lambda: summary.bootstrap_ci(X, "mean", seed=-1), r"seed must be .*negative int -1"),
    ("boot-seed-float", lambda: summary.bootstrap_ci(X, "mean", seed=1.5), r"seed must be .*float"),
    ("boot-seed-str", lambda: summary.bootstrap_ci(X, "mean", seed="a"), r"seed must be .*str"),
    ("boot-seed-bool", lambda: summary.bootstrap_ci(X, "mean", seed=True), r"seed must be .*bool"),
    ("boot-seed-list", lambda: summary.bootstrap_ci(X, "mean", seed=[1, 2]), r"seed must be .*list"),
    ("boot-n-one", lambda: summary.bootstrap_ci(X, "mean", n_boot=1), r"n_boot must be >= 2"),
    ("boot-n-zero", lambda: summary.bootstrap_ci(X, "mean", n_boot=0), r"n_boot must be >= 2"),
    ("boot-n-float", lambda: summary.bootstrap_ci(X, "mean", n_boot=100.0), r"n_boot must be an int"),
    ("boot-n-bool", lambda: summary.bootstrap_ci(X, "mean", n_boot=True), r"n_boot must be an int"),
    (
        "boot-n-huge",
        lambda: summary.bootstrap_ci(X, "mean", n_boot=10**12),
        r"n_boot=1000000000000 .*use n_boot",
    ),
    ("boot-ci-percent", lambda: summary.bootstrap_ci(X, "mean", ci=95), r"ci .*percent.*Use ci=0.95"),
    ("boot-ci-zero", lambda: summary.bootstrap_ci(X, "mean", ci=0), r"ci must lie strictly between 0 and 1"),
    ("boot-ci-one", lambda: summary.bootstrap_ci(X, "mean", ci=1.0), r"ci must lie strictly between 0 and 1"),
    (
        "boot-ci-neg",
        lambda: summary.bootstrap_ci(X, "mean", ci=-0.5),
        r"ci must lie strictly between 0 and 1",
    ),
    ("boot-ci-nan", lambda: summary.bootstrap_ci(X, "mean", ci=NAN), r"ci must be finite"),
    ("boot-ci-str", lambda: summary.bootstrap_ci(X, "mean", ci="0.95"), r"ci must be a real number"),
    ("boot-ci-huge", lambda: summary.bootstrap_ci(X, "mean", ci=1000), r"ci must lie strictly between"),
    ("boot-stat-name", lambda: summary.bootstrap_ci(X, "median"), r"statistic must be one of"),
    ("boot-stat-int", lambda: summary.bootstrap_ci(X, 3), r"statistic must be one of .* or a function"),
    ("boot-region", lambda: summary.bootstrap_ci(X, "rms_delta", region="pad"), r"region must be one of"),
    ("boot-x-empty", lambda: summary.bootstrap_ci(EMPTY, "mean"), r"at least one sequence; x has none"),
    ("boot-x-empty-list", lambda: summary.bootstrap_ci([], "mean"), r"at least one sequence; x has none"),
    ("boot-x-scalar", lambda: summary.bootstrap_ci(5.0, "mean"), r"x must have sequences on axis 0"),
    ("boot-x-str", lambda: summary.bootstrap_ci("abc", "mean"), r"x must be an array of real"),
    ("boot-x-complex", lambda: summary.bootstrap_ci(np.ones(4) * 1j, "mean"), r"x must hold real numbers"),
    ("boot-mean-nan", lambda: summary.bootstrap_ci([1.0, NAN], "mean"), r"x holds 1 NaN or inf"),
    (
        "boot-fn-shape",
        lambda: summary.bootstrap_ci(X, _shape_changes, n_boot=20),
        r"statistic returned shape",
    ),
    (
        "boot-fn-str",
        lambda: summary.bootstrap_ci(X, lambda a: "x", n_boot=5),
        r"statistic must return a number",
    ),
    (
        "boot-fn-none",
        lambda: summary.bootstrap_ci(X, lambda a: None, n_boot=5),
        r"statistic must return a number",
    ),
    (
        "boot-fn-dict",
        lambda: summary.bootstrap_ci(X, lambda a: {}, n_boot=5),
        r"statistic must return a number",
    ),
    (
        "boot-fn-bool",
        lambda: summary.bootstrap_ci(X, lambda a: a > 0, n_boot=5),
        r"statistic must return real",
    ),
    (
        "boot-fn-raises-full",
        lambda: summary.bootstrap_ci(X, lambda a: 1 / 0, n_boot=5),
        r"statistic raised Zero",
    ),
    (
        "boot-fn-raises",
        lambda: summary.bootstrap_ci(X, _raise_on_resamples, n_boot=5),
        r"statistic raised .*sample 0",
    ),
    (
        "boot-fn-all-nan",
        lambda: summary.bootstrap_ci(X, lambda a: NAN, n_boot=5),
        r"statistic returned NaN every",
    ),
]


@pytest.mark.parametrize(("call", "match"), _cases(SUMMARIES))
def test_summary_bad_inputs(call: Callable[[], Any], match: str) -> None:
    _check(call, match)


# ------------------------------------------------------------------------------------- plots


def _fig() -> Any:
    return plt.figure()


PLOTS = [
    (
        "heatmap-seq-out",
        lambda: plots.heatmap(_traj(), sequence=6),
        r"sequence must be a sequence index in \[0, 6\)",
    ),
    ("heatmap-seq-neg", lambda: plots.heatmap(_traj(), sequence=-1), r"sequence .*Negative indices"),
    ("heatmap-seq-float", lambda: plots.heatmap(_traj(), sequence=1.0), r"sequence must be an int"),
    ("heatmap-seq-bool", lambda: plots.heatmap(_traj(), sequence=True), r"sequence must be an int"),
    ("heatmap-seq-str", lambda: plots.heatmap(_traj(), sequence="0"), r"sequence must be an int"),
    ("heatmap-ax-str", lambda: plots.heatmap(_traj(), ax="axes"), r"ax must be a matplotlib Axes"),
    ("heatmap-ax-figure", lambda: plots.heatmap(_traj(), ax=_fig()), r"ax must be a .*fig\.gca\(\)"),
    (
        "heatmap-cmap",
        lambda: plots.heatmap(_traj(), cmap="nope"),
        r"cmap='nope' is not a matplotlib colormap",
    ),
    ("heatmap-cmap-int", lambda: plots.heatmap(_traj(), cmap=3), r"cmap must be a str"),
    ("heatmap-array", lambda: plots.heatmap(X), r"traj must be a Trajectories"),
    ("traces-unit-out", lambda: plots.unit_traces(_traj(), [3]), r"units must be a unit index in \[0, 3\)"),
    ("traces-unit-neg", lambda: plots.unit_traces(_traj(), [-1]), r"units .*Negative indices"),
    ("traces-unit-float", lambda: plots.unit_traces(_traj(), [0.5]), r"units must be an int"),
    ("traces-units-empty", lambda: plots.unit_traces(_traj(), []), r"units is empty"),
    ("traces-units-int", lambda: plots.unit_traces(_traj(), 0), r"units must be a list .*pass \[0\]"),
    ("traces-units-str", lambda: plots.unit_traces(_traj(), "01"), r"units must be a list"),
    ("traces-units-dup", lambda: plots.unit_traces(_traj(), [0, 0]), r"units lists a unit twice"),
    ("traces-what", lambda: plots.unit_traces(_traj(), [0], what="deltas"), r"what must be one of"),
    (
        "traces-seq",
        lambda: plots.unit_traces(_traj(), [0], sequence=10),
        r"sequence must be a sequence index",
    ),
    ("curves-empty", lambda: plots.curves([]), r"y is empty"),
    ("curves-3d", lambda: plots.curves(np.zeros((2, 2, 2))), r"y must be 1-D .* or 2-D"),
    ("curves-str", lambda: plots.curves("abc"), r"y must be an array of real"),
    ("curves-x-len", lambda: plots.curves(np.zeros(4), x=np.arange(3)), r"x must have one value per point"),
    (
        "curves-labels-len",
        lambda: plots.curves(np.zeros((4, 2)), labels=["a"]),
        r"labels must have one entry",
    ),
    (
        "curves-labels-str",
        lambda: plots.curves(np.zeros((4, 1)), labels="a"),
        r"labels must be a list .*\['a'\]",
    ),
    (
        "curves-styles-len",
        lambda: plots.curves(np.zeros((4, 2)), styles=["-"]),
        r"styles must have one entry",
    ),
    (
        "curves-lower-only",
        lambda: plots.curves(np.zeros(4), lower=np.zeros(4)),
        r"lower and upper come together",
    ),
    (
        "curves-band-shape",
        lambda: plots.curves(np.zeros((4, 2)), lower=np.zeros(8), upper=np.zeros(8)),
        r"lower must have the shape of y",
    ),
    ("curves-logx", lambda: plots.curves(np.ones(4), logx="yes"), r"logx must be True or False"),
    ("curves-xlabel", lambda: plots.curves(np.ones(4), xlabel=3), r"xlabel must be a str"),
    ("curves-ax", lambda: plots.curves(np.ones(4), ax=1), r"ax must be a matplotlib Axes"),
    ("dist-empty", lambda: plots.distribution([]), r"values is empty"),
    ("dist-nan", lambda: plots.distribution([1.0, NAN]), r"values holds 1 non-finite"),
    ("dist-str", lambda: plots.distribution("abc"), r"values must be an array of real"),
    ("dist-bins-zero", lambda: plots.distribution([1.0, 2.0], bins=0), r"bins must be >= 1"),
    ("dist-bins-neg", lambda: plots.distribution([1.0, 2.0], bins=-3), r"bins must be >= 1"),
    ("dist-bins-float", lambda: plots.distribution([1.0, 2.0], bins=2.5), r"bins must be an int"),
    ("dist-bins-bool", lambda: plots.distribution([1.0, 2.0], bins=True), r"bins must be an int"),
    ("dist-bins-huge", lambda: plots.distribution([1.0, 2.0], bins=10**9), r"bins must be <= 10000"),
    ("dist-edges-decreasing", lambda: plots.distribution([1.0, 2.0], bins=[3.0, 2.0, 1.0]), r"bins as edges"),
    ("dist-edges-2d", lambda: plots.distribution([1.0, 2.0], bins=np.zeros((2, 2))), r"bins as edges must"),
    ("dist-edges-one", lambda: plots.distribution([1.0, 2.0], bins=[1.0]), r"bins as edges must"),
    ("dist-edges-nan", lambda: plots.distribution([1.0, 2.0], bins=[0.0, NAN]), r"bins holds 1 non-finite"),
    (
        "dist-edges-short",
        lambda: plots.distribution([1.0, 5.0], bins=[0.0, 2.0]),
        r"bins: 1 value\(s\) lie outside",
    ),
    ("dist-ax", lambda: plots.distribution([1.0, 2.0], ax=[]), r"ax must be a matplotlib Axes"),
    ("ensemble-unit-out", lambda: plots.ensemble(_traj(), 3), r"unit must be a unit index in \[0, 3\)"),
    ("ensemble-unit-neg", lambda: plots.ensemble(_traj(), -1), r"unit .*Negative indices"),
    ("ensemble-unit-float", lambda: plots.ensemble(_traj(), 1.5), r"unit must be an int"),
    ("ensemble-alpha-zero", lambda: plots.ensemble(_traj(), 0, alpha=0), r"alpha must be > 0"),
    ("ensemble-alpha-big", lambda: plots.ensemble(_traj(), 0, alpha=1.5), r"alpha must be <= 1"),
    ("ensemble-alpha-nan", lambda: plots.ensemble(_traj(), 0, alpha=NAN), r"alpha must be finite"),
    ("loglog-negative", lambda: plots.loglog(np.array([0.0, -1.0, 2.0])), r"curve holds 1 negative"),
    ("loglog-empty", lambda: plots.loglog(np.zeros((0, 2))), r"curve is empty"),
    ("loglog-lags-len", lambda: plots.loglog(np.ones(4), lags=[1, 2]), r"lags must have one value per row"),
    ("loglog-lags-zero", lambda: plots.loglog(np.ones(1)), r"at least one lag > 0"),
    ("loglog-lags-neg", lambda: plots.loglog(np.ones(2), lags=[-1, 1]), r"lags must be >= 0"),
    ("loglog-guides", lambda: plots.loglog(np.arange(4.0), guides="yes"), r"guides must be True or False"),
]


@pytest.mark.parametrize(("call", "match"), _cases(PLOTS))
def test_plots_bad_inputs(call: Callable[[], Any], match: str) -> None:
    _check(call, match)


def test_a_refused_plot_draws_nothing() -> None:
    fig, ax = plt.subplots()
    with pytest.raises(RnndynError, match="labels"):
        plots.curves(np.ones((3, 2)), labels=["a"], ax=ax)
    assert len(ax.lines) == 0 and len(ax.collections) == 0


# ------------------------------------------------------------------- accepted edge values


@pytest.mark.parametrize(
    "seed_like",
    [np.random.default_rng(5), np.random.SeedSequence(5), np.int64(5)],
    ids=["Generator", "SeedSequence", "numpy-int"],
)
def test_bootstrap_seed_kinds_equal_the_int_seed(seed_like: Any) -> None:
    ref = summary.bootstrap_ci(X, "area_mean_abs", n_boot=30, seed=5)
    got = summary.bootstrap_ci(X, "area_mean_abs", n_boot=30, seed=seed_like)
    np.testing.assert_array_equal(got.low, ref.low)
    np.testing.assert_array_equal(got.high, ref.high)


def test_bootstrap_seed_none_and_zero_are_accepted() -> None:
    a = summary.bootstrap_ci(X, "mean", n_boot=10, seed=None)
    b = summary.bootstrap_ci(X, "mean", n_boot=10, seed=0)
    np.testing.assert_allclose(a.estimate, X.mean(axis=0))
    np.testing.assert_allclose(b.estimate, X.mean(axis=0))


def test_bootstrap_callable_with_some_nan_keeps_the_nan_where_it_is() -> None:
    def stat(a: np.ndarray) -> np.ndarray:
        return np.array([a.mean(), NAN])

    r = summary.bootstrap_ci(X, stat, n_boot=20, seed=1)
    assert np.isnan(r.low[1]) and np.isnan(r.high[1])
    assert r.estimate[0] == pytest.approx(X.mean()) and r.low[0] <= r.high[0]


def test_top_units_n_equal_to_units_returns_all_in_brute_force_order() -> None:
    table = summary.unit_summary(X, extra=False, lengths=L)
    got = summary.top_units(table, n=table.shape[0])
    v = table["area_mean_abs"].to_numpy()
    order = sorted(range(v.size), key=lambda i: (-v[i], i))  # largest first, ties by position
    assert got.index.tolist() == order
    assert summary.top_units(X, n=np.int64(3), lengths=L).index.tolist() == order


def test_rank_units_accepts_numpy_bool() -> None:
    ranks = summary.rank_units(_table(), ascending=np.bool_(True))
    assert ranks.tolist() == [2, 3, 1]


def test_describe_column_of_nan_only_counts_zero() -> None:
    frame = summary.describe(pd.DataFrame({"a": [1.0, 3.0], "b": [NAN, NAN]}))
    assert frame.loc["count", "b"] == 0 and np.isnan(frame.loc["mean", "b"])
    assert frame.loc["mean", "a"] == 2.0


def test_classify_regime_infinite_exponents_are_the_limits() -> None:
    assert physics.classify_regime([INF, -INF, NAN]).tolist() == ["ballistic", "arrested", "undetermined"]


def test_local_exponent_zero_msd_is_arrested() -> None:
    alpha = physics.local_exponent(np.zeros(5), atol=0)
    np.testing.assert_array_equal(alpha, np.zeros(3))


def test_relaxation_time_stop_at_the_last_offset_equals_the_default() -> None:
    x = (0.9 ** np.arange(30.0))[None, :, None] * np.ones((2, 1, 2))
    full = physics.relaxation_time(x, lengths=[1, 1], target=np.zeros(2))
    n_offsets = physics.relaxation_curve(x, lengths=[1, 1]).offsets.size
    same = physics.relaxation_time(x, lengths=[1, 1], target=np.zeros(2), stop=n_offsets)
    pd.testing.assert_frame_equal(full, same)
    np.testing.assert_allclose(full["tau"], -1 / np.log(0.9), rtol=1e-9)


def test_integrated_correlation_time_largest_window_is_accepted() -> None:
    tau, m = physics.integrated_correlation_time(X, window=10, return_window=True)
    rho = physics.bond_correlation(X)
    np.testing.assert_allclose(tau, 0.5 + rho[1:].sum(axis=0))
    np.testing.assert_array_equal(m, [10, 10, 10])


def test_plots_accept_the_last_sequence_and_numpy_ints() -> None:
    traj = _traj()
    ax = plots.unit_traces(traj, np.array([0, 2]), sequence=np.int64(5))
    np.testing.assert_allclose(ax.lines[1].get_ydata(), X[5, :, 2])
    ax = plots.distribution(np.arange(5.0), bins=np.int64(5))
    assert [p.get_height() for p in ax.patches] == [1.0] * 5
    edges = np.array([0.5, 1.5, 2.5, 3.5])
    ax = plots.distribution([1.0, 2.0, 2.0, 3.0], bins=edges)
    assert [p.get_height() for p in ax.patches] == [1.0, 2.0, 1.0]
