"""Bad inputs to the core data type and the metrics: each raises a clear RnndynError up front.

Every case checks the error type and that the message names the argument (and
a key word of what was wrong). Accepted edge cases are checked by value:
overflow-safe metrics against exact or analytically rescaled references,
duplicate ``take`` positions against numpy fancy indexing.
"""

from __future__ import annotations

import sys
from decimal import Decimal, getcontext
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

from rnndyn import RnndynError, Trajectories, metrics

torch = pytest.importorskip("torch")
da = pytest.importorskip("dask.array")

RNG = np.random.default_rng(0)
X = np.cumsum(RNG.standard_normal((4, 6, 3)), axis=1)


def units(**cols):
    base = {"layer": ["enc"] * 3, "state": ["h"] * 3, "direction": ["forward"] * 3, "index": [0, 1, 2]}
    base.update(cols)
    return pd.DataFrame(base)


def unknown_chunks():
    a = da.from_array(np.ones((4, 5, 2)), chunks=2)
    return a[da.from_array(np.ones((4, 5, 2)))[:, 0, 0] > 0]


# ------------------------------------------------------------------- units
@pytest.mark.parametrize(
    "bad, match",
    [
        (units(index=[0, 1.5, 2]), r"units\['index'\].*whole numbers"),
        (units(index=[0, "a", 2]), r"units\['index'\].*whole numbers"),
        (units(index=[0, np.nan, 2]), r"units\['index'\].*missing"),
        (units(index=[0, -1, 2]), r"units\['index'\].*>= 0"),
        (units(index=[0, True, 2]), r"units\['index'\].*whole numbers"),
        (units(index=[0, 1, 1]), r"units has duplicate rows.*\[1, 2\]"),
        (units(layer=["enc", None, "enc"]), r"units\['layer'\].*missing.*\[1\]"),
        (units(state=["h", np.nan, "h"]), r"units\['state'\].*missing"),
        (units(direction=[None, "forward", "forward"]), r"units\['direction'\].*missing"),
        (units(layer=[0, 0, 0]), r"units\['layer'\] must hold strings"),
        (units(state=[1, 2, 3]), r"units\['state'\] must hold strings"),
        (units(direction=["Forward"] * 3), r"units\['direction'\].*lower case"),
        (units(direction=["fwd"] * 3), r"units\['direction'\] must be 'forward' or 'backward'"),
        ("h", r"units must be a pandas DataFrame.*str"),
        (["enc", "enc", "enc"], r"units must be a pandas DataFrame.*list"),
        (
            {"layer": "enc", "state": "h", "direction": "forward", "index": 0},
            r"units .*dict of single values",
        ),
        (np.zeros((3, 4)), r"units must be a pandas DataFrame.*ndarray"),
        (units().drop(columns="state"), r"units must have the columns.*missing \['state'\]"),
        (units().iloc[:2], r"units must have one row per unit"),
    ],
)
def test_bad_units(bad, match):
    with pytest.raises(RnndynError, match=match):
        Trajectories(X, units=bad)


def test_units_whole_float_index_and_dict_of_columns_are_accepted():
    t = Trajectories(X, units=units(index=[0.0, 1.0, 2.0]))
    assert t.units["index"].dtype == np.int64 and t.units["index"].tolist() == [0, 1, 2]
    t = Trajectories(X, units={"layer": ["a"] * 3, "state": "h", "direction": "forward", "index": [2, 1, 0]})
    assert t.units["index"].tolist() == [2, 1, 0]


# ------------------------------------------------------------------- flags
@pytest.mark.parametrize("bad", ["yes", "False", 1, 0, 1.0, None, np.array([True]), [True]])
def test_masked_must_be_a_bool(bad):
    with pytest.raises(RnndynError, match="masked must be True or False"):
        Trajectories(X, masked=bad)


@pytest.mark.parametrize("bad", ["Input", None, 1, ["input"], "backward"])
def test_order_must_be_a_choice(bad):
    with pytest.raises(RnndynError, match="order must be one of"):
        Trajectories(X, order=bad)


def test_numpy_bool_flag_is_accepted():
    assert Trajectories(X, masked=np.bool_(True)).masked is True


# ------------------------------------------------------------------ inputs
@pytest.mark.parametrize(
    "bad, match",
    [
        ((s for s in "abcd"), "inputs must be a sequence.*list\\(inputs\\)"),
        ({0: "a", 1: "b", 2: "c", 3: "d"}, "inputs must be a sequence.*dict"),
        (5, "inputs must be a sequence.*int"),
        ("abcd", "inputs must be a sequence.*str"),
        (["a", "b"], r"inputs must have one entry per sequence \(4\); got 2"),
        ({"a", "b", "c", "d"}, "inputs must be a sequence.*set"),
    ],
)
def test_bad_inputs(bad, match):
    with pytest.raises(RnndynError, match=match):
        Trajectories(X, inputs=bad)


def test_series_inputs_are_taken_by_position():
    t = Trajectories(X, inputs=pd.Series(list("abcd"), index=[10, 11, 12, 13]))
    assert t.take([2, 0]).inputs == ["c", "a"]


# ----------------------------------------------------------------- lengths
@pytest.mark.parametrize(
    "bad, match",
    [
        ([True, False, True, True], "lengths.*booleans.*mask.sum"),
        (True, "lengths must be a 1-d array"),
        (["6", "6", "6", "6"], "lengths must be.*dtype <U1"),
        ([6, np.nan, 6, 6], "lengths.*sequence 1 has length nan.*finite"),
        ([6, np.inf, 6, 6], "lengths.*sequence 1 has length inf"),
        ([6, 5.5, 6, 6], "lengths must hold whole numbers.*5.5"),
        ([[6, 6], [6, 6]], r"lengths must be a 1-d array.*shape \(2, 2\)"),
        (6, r"lengths must be a 1-d array.*For one sequence"),
        ([6, 6, 6], r"lengths must be a 1-d array.*\(4\); got shape \(3,\)"),
        ([6, 7, 6, 6], r"lengths must lie in \[0, n_steps=6\]; sequence 1 has length 7"),
        ([6, -1, 6, 6], r"lengths must lie in \[0, n_steps=6\]; sequence 1 has length -1"),
        (np.array([6, 2**63 + 5, 6, 6], dtype=np.uint64), r"lengths must lie in \[0, n_steps=6\]"),
        ({0: 6}, "lengths must be a 1-d array.*dict"),
        ((n for n in [6, 6, 6, 6]), "lengths must be a 1-d array.*generator"),
        ("6666", "lengths must be a 1-d array.*str"),
        ([6, None, 6, 6], "lengths must be.*dtype object"),
    ],
)
def test_bad_lengths(bad, match):
    with pytest.raises(RnndynError, match=match):
        Trajectories(X, lengths=bad)


def test_meta_lengths_are_refused():
    with pytest.raises(RnndynError, match="lengths is a torch tensor on the 'meta' device"):
        Trajectories(X, lengths=torch.empty(4, device="meta"))


@pytest.mark.parametrize(
    "good",
    [
        torch.tensor([6, 5, 4, 3]),
        da.from_array(np.array([6, 5, 4, 3]), chunks=2),
        [6.0, 5.0, 4.0, 3.0],
        np.array([6, 5, 4, 3], dtype=np.uint8),
    ],
)
def test_lengths_from_other_libraries_and_whole_floats(good):
    assert Trajectories(X, lengths=good).lengths.tolist() == [6, 5, 4, 3]


# ------------------------------------------------------------------ states
@pytest.mark.parametrize(
    "bad, match",
    [
        (
            lambda: torch.empty(2, 5, 3, device="meta"),
            "states is a torch tensor on the 'meta' device.*real device",
        ),
        (lambda: np.zeros((2, 5, 3), dtype=complex), "states must hold real numbers.*complex"),
        (lambda: np.zeros((2, 5, 3), dtype=bool), "states must hold real numbers.*booleans"),
        (lambda: np.zeros((2, 5, 3), dtype=object), "states must hold real numbers.*object"),
        (lambda: torch.zeros(2, 5, 3, dtype=torch.complex64), "states must hold real numbers.*complex"),
        (unknown_chunks, r"states is a dask array with unknown chunk sizes.*compute_chunk_sizes\(\)"),
        (lambda: pd.DataFrame(np.zeros((5, 3))), "states must be an array.*pandas DataFrame.*to_numpy"),
        (lambda: [[[0.0], [1.0]], [[0.0]]], "states must be an array.*Pad ragged"),
        (lambda: 3.0, "states must be an array.*float"),
        (lambda: "abc", "states must be an array.*str"),
        (lambda: None, "states must be an array.*NoneType"),
        (lambda: {"a": np.zeros((1, 2, 3))}, "states must be an array.*dict"),
        (lambda: np.zeros((5, 3)), r"states must have 3 dimensions.*x\[None\]"),
        (lambda: np.full((2, 5, 3), np.nan), r"states holds a non-finite value \(nan\) at sequence 0"),
    ],
)
def test_bad_states(bad, match):
    with pytest.raises(RnndynError, match=match):
        Trajectories(bad())


def test_computed_chunk_sizes_are_accepted():
    t = Trajectories(unknown_chunks().compute_chunk_sizes())
    assert t.shape == (4, 5, 2)


# -------------------------------------------------------------------- take
TRAJ = Trajectories(X, lengths=[6, 5, 4, 3], inputs=list("abcd"))


@pytest.mark.parametrize(
    "bad, match",
    [
        (4, r"sequences: position 4 is out of range; there are 4 sequences \(valid: -4..3\)"),
        (-5, "sequences: position -5 is out of range"),
        ([0, 9], "sequences: position 9 is out of range"),
        (1.0, "sequences must be an int, a slice.*float"),
        ([0.0, 1.0], "sequences must be.*dtype float64.*never rounded"),
        ([[0, 1]], r"sequences must be.*shape \(1, 2\)"),
        ([True, False], r"sequences: a bool mask needs one entry per sequence \(4\); got 2"),
        (True, "sequences must be an int, a slice.*bool"),
        (None, "sequences must be an int, a slice.*NoneType"),
        ("0", "sequences must be an int, a slice.*str"),
        (slice(0.5, 2), "sequences must be.*slice.*not ints"),
    ],
)
def test_bad_take(bad, match):
    with pytest.raises(RnndynError, match=match):
        TRAJ.take(bad)


@pytest.mark.parametrize(
    "sel", [[2, 0, 2, 2], np.array([-1, -1, 1]), [3], 2, slice(None, None, -2), np.array([], int)]
)
def test_take_matches_numpy_fancy_indexing(sel):
    got = TRAJ.take(sel)
    ref = np.atleast_1d(np.arange(4)[sel])
    np.testing.assert_array_equal(got.states, X[ref])
    np.testing.assert_array_equal(got.lengths, TRAJ.lengths[ref])
    assert got.inputs == [TRAJ.inputs[i] for i in ref]


def test_take_on_torch_with_a_bool_tensor():
    t = Trajectories(torch.as_tensor(X), lengths=[6, 5, 4, 3])
    got = t.take(torch.tensor([True, False, True, False]))
    np.testing.assert_array_equal(got.states.numpy(), X[[0, 2]])


# ------------------------------------------------------------------ select
@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(colour="red"), r"unknown unit column 'colour'; columns are \['layer'"),
        (dict(state="c"), r"no unit has state='c'; available: \['h'\]"),
        (dict(state=["h", "cc"]), r"no unit has state='cc'; available: \['h'\]"),
        (dict(state=[]), "no unit has state=\\[\\]"),
        (dict(units=1.5), "units must be an int, a slice.*float"),
        (dict(units=[0, 3]), r"units: position 3 is out of range; there are 3 units"),
        (dict(units=[True, False]), r"units: a bool mask needs one entry per unit \(3\); got 2"),
        (dict(units=[[0]]), r"units must be.*shape \(1, 1\)"),
        (dict(units=[True, False, False], index=2), "no unit matches"),
    ],
)
def test_bad_select(kw, match):
    with pytest.raises(RnndynError, match=match):
        TRAJ.select(**kw)


# --------------------------------------------------------------- align_end
@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(before=1.5), "before must be an int.*1.5.*never truncated"),
        (dict(before=2.0), "before must be an int.*float"),
        (dict(before=True), "before must be an int.*bool"),
        (dict(before=-1), "before must be >= 0; got -1"),
        (dict(before=np.nan), "before must be an int.*nan"),
        (dict(before=10**12), r"before must be <= 5; got 1000000000000.*n_steps=6"),
        (dict(after="2"), "after must be an int.*str"),
        (dict(after=np.float64(1.0)), "after must be an int"),
        (dict(after=6), "after must be <= 5"),
    ],
)
def test_bad_align_end(kw, match):
    with pytest.raises(RnndynError, match=match):
        TRAJ.align_end(**kw)


def test_align_end_accepts_numpy_ints_and_processing_order_is_refused():
    a = TRAJ.align_end(before=np.int64(1), after=np.int32(2))
    assert a.offsets.tolist() == [-1, 0, 1, 2]
    back = Trajectories(X, units=units(direction=["backward"] * 3)).processing_order()
    with pytest.raises(RnndynError, match=r"align_end\(\) needs input order.*input_order"):
        back.align_end()


# ------------------------------------------------------------------ concat
A = Trajectories(X[:2], lengths=[6, 5])
B = Trajectories(X[2:], lengths=[4, 3])


@pytest.mark.parametrize(
    "parts, kw, match",
    [
        ([], {}, "needs at least one Trajectories in parts"),
        (None, {}, "parts must be a list.*NoneType"),
        (X, {}, "parts must be a list.*ndarray.*Wrap arrays"),
        (A, {}, "parts must be a list.*got one Trajectories.*concat\\(\\[traj"),
        ([A, X[:1]], {}, "part 1 of parts is a numpy ndarray.*not a Trajectories"),
        ([A, None], {}, "part 1 of parts is None"),
        ((x for x in [X[:1], X[1:]]), {}, "part 0 of parts is a numpy ndarray"),
        (
            [A, Trajectories(torch.as_tensor(X[2:]))],
            {},
            "part 1 of parts holds torch states and part 0 numpy",
        ),
        ([A, Trajectories(da.from_array(X[2:]))], {}, "part 1 of parts holds dask states"),
        ([A, Trajectories(X[:, :5])], {}, "along='sequences'.*part 1 has 5 steps"),
        ([A, Trajectories(X[:, :, :2])], {}, "along='sequences'.*part 1 has 6 steps and 2 units"),
        ([A, Trajectories(X[2:], units=units(layer=["dec"] * 3))], {}, "part 1 has another units table"),
        ([A, B._replace(order="processing")], {}, "part 1 has order=processing"),
        ([A, B._replace(masked=True)], {}, "masked=True"),
        ([A, B._replace(inputs=["x", "y"])], {}, "some parts have inputs and some do not"),
        ([A, B], dict(along="time"), "along must be one of \\('sequences', 'units'\\); got 'time'"),
        ([A, B], dict(along=None), "along must be one of.*NoneType"),
        ([A, B], dict(along=1), "along must be one of.*int"),
        ([A, A], dict(along="units"), "along='units'.*part 1 repeats the unit"),
        ([A, B], dict(along="units"), "along='units'.*part 1 has other lengths"),
        ([A, Trajectories(X)], dict(along="units"), r"along='units'.*part 1 is \(4, 6\)"),
    ],
)
def test_bad_concat(parts, kw, match):
    with pytest.raises(RnndynError, match=match):
        Trajectories.concat(parts, **kw)


def test_concat_promotes_dtypes_as_numpy_does():
    got = Trajectories.concat([Trajectories(X[:2].astype(np.float32)), Trajectories(X[2:])])
    ref = np.concatenate([X[:2].astype(np.float32), X[2:]])
    assert got.states.dtype == ref.dtype == np.float64
    np.testing.assert_array_equal(got.states, ref)


def test_concat_accepts_a_generator_of_trajectories():
    got = Trajectories.concat(Trajectories(X[i : i + 1]) for i in range(4))
    np.testing.assert_array_equal(got.states, X)


def test_to_xarray_without_xarray_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "xarray", None)
    with pytest.raises(ImportError, match=r"pip install 'rnndyn\[xarray\]'") as info:
        TRAJ.to_xarray()
    assert isinstance(info.value, RnndynError)


# ----------------------------------------------------------------- metrics
AVERAGED = [
    metrics.rms_delta,
    metrics.mean_abs_delta,
    metrics.vacf,
    metrics.vacf_two_time,
    metrics.msd,
    metrics.msd_from_start,
]
ALL = [metrics.deltas, *AVERAGED]
WITH_VECTOR = [f for f in AVERAGED if f is not metrics.mean_abs_delta]
WITH_LAG = [metrics.vacf, metrics.msd]


@pytest.mark.parametrize("f", ALL, ids=lambda f: f.__name__)
@pytest.mark.parametrize("region", [None, 1, ["input"], "Input", np.array(["input"])])
def test_bad_region(f, region):
    with pytest.raises(RnndynError, match="region must be one of"):
        f(X, region=region)


@pytest.mark.parametrize("f", AVERAGED, ids=lambda f: f.__name__)
@pytest.mark.parametrize("value", ["yes", 1, np.array([True])])
def test_return_counts_must_be_a_bool(f, value):
    with pytest.raises(RnndynError, match="return_counts must be True or False"):
        f(X, return_counts=value)


@pytest.mark.parametrize("f", WITH_VECTOR, ids=lambda f: f.__name__)
def test_vector_must_be_a_bool(f):
    with pytest.raises(RnndynError, match="vector must be True or False"):
        f(X, vector="False")


@pytest.mark.parametrize("value", ["yes", 0, None])
def test_normalize_must_be_a_bool(value):
    with pytest.raises(RnndynError, match="normalize must be True or False"):
        metrics.vacf(X, normalize=value)


@pytest.mark.parametrize("f", WITH_LAG, ids=lambda f: f.__name__)
@pytest.mark.parametrize(
    "max_lag, match",
    [
        (2.0, "max_lag must be an int or None.*never truncated"),
        (True, "max_lag must be an int or None.*bool"),
        (-1, "max_lag must be >= 0"),
        (np.nan, "max_lag must be an int or None"),
        (10**18, "max_lag=1000000000000000000 is too large"),
        ("3", "max_lag must be an int or None.*str"),
    ],
)
def test_bad_max_lag(f, max_lag, match):
    with pytest.raises(RnndynError, match=match):
        f(X, max_lag=max_lag)


@pytest.mark.parametrize("f", ALL, ids=lambda f: f.__name__)
def test_lengths_with_a_trajectories_is_ambiguous(f):
    with pytest.raises(RnndynError, match="lengths= cannot be combined with a Trajectories"):
        f(TRAJ, lengths=[6, 6, 6, 6])


@pytest.mark.parametrize("f", AVERAGED, ids=lambda f: f.__name__)
def test_zero_sequences_cannot_be_averaged(f):
    with pytest.raises(
        RnndynError, match=rf"{f.__name__}\(\) averages over sequences, but x has 0 sequences"
    ):
        f(np.zeros((0, 5, 2)))
    with pytest.raises(RnndynError, match="0 sequences"):
        f(TRAJ.take([]))


@pytest.mark.parametrize("f", AVERAGED, ids=lambda f: f.__name__)
def test_zero_units_are_refused(f):
    with pytest.raises(RnndynError, match=rf"{f.__name__}\(\) needs at least one unit"):
        f(np.zeros((2, 5, 0)))


@pytest.mark.parametrize(
    "f", [metrics.deltas, metrics.rms_delta, metrics.vacf, metrics.vacf_two_time], ids=lambda f: f.__name__
)
def test_one_step_has_no_deltas(f):
    with pytest.raises(RnndynError, match="at least two steps.*one-step trajectory has no deltas"):
        f(np.zeros((2, 1, 3)))


@pytest.mark.parametrize("f", ALL, ids=lambda f: f.__name__)
@pytest.mark.parametrize(
    "bad, match",
    [
        (lambda: torch.empty(2, 5, 3, device="meta"), "x is a torch tensor on the 'meta' device"),
        (unknown_chunks, "x is a dask array with unknown chunk sizes"),
        (lambda: pd.DataFrame(np.zeros((5, 3))), "x must be an array.*DataFrame"),
    ],
)
def test_metrics_refuse_arrays_without_data(f, bad, match):
    with pytest.raises(RnndynError, match=match):
        f(bad())


def test_metric_lengths_on_meta_device_are_refused():
    with pytest.raises(RnndynError, match="lengths is a torch tensor on the 'meta' device"):
        metrics.msd(X, lengths=torch.empty(4, device="meta"))


# ---------------------------------------------------------------- overflow
def _exact_rms(x):
    """sqrt(mean_i d^2) per (t, u) from exact rationals, as float."""
    getcontext().prec = 50
    n, T, U = x.shape
    out = np.empty((T - 1, U))
    for t in range(T - 1):
        for u in range(U):
            s = sum((Fraction(x[i, t + 1, u]) - Fraction(x[i, t, u])) ** 2 for i in range(n)) / n
            out[t, u] = float((Decimal(s.numerator) / Decimal(s.denominator)).sqrt())
    return out


def _exact_mean_abs(x):
    n, T, U = x.shape
    return np.array(
        [
            [
                float(sum(abs(Fraction(x[i, t + 1, u]) - Fraction(x[i, t, u])) for i in range(n)) / n)
                for u in range(U)
            ]
            for t in range(T - 1)
        ]
    )


@pytest.mark.parametrize("scale", [1e200, 1e300, 1e-300])
def test_rms_delta_of_huge_steps_matches_exact_rationals(scale):
    x = np.cumsum(RNG.standard_normal((5, 4, 2)), axis=1) * scale
    x[:, :, 1] /= scale  # a unit of ordinary size next to the huge one
    np.testing.assert_allclose(metrics.rms_delta(x), _exact_rms(x), rtol=1e-14)


def test_mean_abs_delta_whose_sum_overflows_matches_exact_rationals():
    x = np.zeros((6, 3, 1))
    x[:, 1, 0] = 1.5e308
    x[:, 2, 0] = -1.5e308  # each |d| is finite; d[:, 1] and the sum over sequences are not
    with pytest.raises(RnndynError, match="overflows float64"):
        metrics.deltas(x)
    x[:, 2, 0] = 0.5e308
    np.testing.assert_allclose(metrics.mean_abs_delta(x), _exact_mean_abs(x), rtol=1e-14)


def test_rms_delta_vector_and_counts_of_huge_steps():
    x = np.cumsum(RNG.standard_normal((5, 4, 3)), axis=1)
    s = 2.0**700  # exact: a power of two
    got, cnt = metrics.rms_delta(x * s, vector=True, return_counts=True)
    np.testing.assert_allclose(got, metrics.rms_delta(x, vector=True) * s, rtol=1e-13)
    np.testing.assert_array_equal(cnt, metrics.rms_delta(x, vector=True, return_counts=True)[1])


@pytest.mark.parametrize("f", [metrics.msd, metrics.vacf, metrics.msd_from_start, metrics.vacf_two_time])
@pytest.mark.parametrize("vector", [False, True])
def test_quadratic_metrics_whose_intermediates_overflow(f, vector):
    """Steps of 2**508: squares and FFT sums overflow, the means (~2**1016) do not."""
    x = np.cumsum(RNG.standard_normal((6, 20, 3)), axis=1)
    s = 2.0**508
    got = f(x * s, vector=vector, region="input", lengths=[20, 18, 15, 20, 12, 20])
    ref = f(x, vector=vector, region="input", lengths=[20, 18, 15, 20, 12, 20]) * s * s
    assert np.isfinite(ref[~np.isnan(ref)]).all()
    np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-12 * np.nanmax(np.abs(ref)))


def test_normalized_vacf_of_huge_steps():
    x = np.cumsum(RNG.standard_normal((3, 30, 2)), axis=1)
    np.testing.assert_allclose(
        metrics.vacf(x * 1e250, normalize=True), metrics.vacf(x, normalize=True), rtol=1e-9
    )


@pytest.mark.parametrize("f", [metrics.msd, metrics.vacf, metrics.msd_from_start, metrics.vacf_two_time])
def test_unrepresentable_results_raise(f):
    x = np.cumsum(np.ones((2, 5, 1)), axis=1) * 1e200  # squares of 1e200 steps: 1e400
    with pytest.raises(RnndynError, match=rf"{f.__name__}\(\): the result overflows float64.*Rescale"):
        f(x)


def test_overflow_safe_path_on_torch():
    x = np.cumsum(RNG.standard_normal((4, 6, 2)), axis=1)
    got = metrics.rms_delta(torch.as_tensor(x * 1e200))
    assert isinstance(got, torch.Tensor)
    np.testing.assert_allclose(got.numpy(), _exact_rms(x * 1e200), rtol=1e-13)


# ------------------------------------------------------- delta_region_mask
@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(direction="Forward"), "direction must be one of"),
        (dict(order=None), "order must be one of"),
        (dict(masked=1), "masked must be True or False"),
        (dict(n_steps=5.0), "n_steps must be an int"),
        (dict(region="pad"), "region must be one of"),
        (dict(lengths=np.array([6])), r"lengths must lie in \[0, n_steps=5\]"),
        (dict(lengths=np.array([[1]])), r"lengths must be a 1-d array.*shape \(1, 1\)"),
        (dict(lengths=np.array([1.5])), "lengths must hold whole numbers"),
    ],
)
def test_bad_delta_region_mask(kw, match):
    from rnndyn.trajectories import delta_region_mask

    args = dict(lengths=np.array([3]), n_steps=5, region="input")
    args.update(kw)
    with pytest.raises(RnndynError, match=match):
        delta_region_mask(**args)


@pytest.mark.parametrize("region", ["inputs", None, 0])
def test_bad_delta_mask_region(region):
    with pytest.raises(RnndynError, match="region must be one of"):
        TRAJ.delta_mask(region)


def test_bfloat16_torch_states_convert_to_numpy():
    t = Trajectories(torch.arange(12.0).reshape(1, 12, 1).to(torch.bfloat16), lengths=[6])
    np.testing.assert_array_equal(t.align_end(before=1, after=1).values[0, :, 0], [4.0, 5.0, 6.0])
    np.testing.assert_array_equal(t.to_numpy().states[0, :3, 0], [0.0, 1.0, 2.0])


def test_dask_overflow_raises_when_computed():
    x = da.from_array(np.cumsum(np.ones((4, 5, 2)), axis=1) * 1e200, chunks=2)
    lazy = metrics.rms_delta(x)  # nothing computed yet
    with pytest.raises(RnndynError, match=r"rms_delta\(\): the result overflows.*x.compute\(\)"):
        lazy.compute()
    np.testing.assert_allclose(metrics.rms_delta(x.compute()), np.full((4, 2), 1e200), rtol=1e-14)


@pytest.mark.parametrize("value", [2.2250738585e-313, 5e-324, 1e-200])
def test_subnormal_states_do_not_underflow(value):
    x = np.array([[[0.0], [value]], [[value], [0.0]]])
    got = metrics.rms_delta(x)
    assert got[0, 0] == value  # sqrt(mean(v^2, v^2)) = v exactly
    np.testing.assert_array_equal(metrics.msd(x, return_counts=True)[1], [[4], [2]])
    assert metrics.msd(x)[0, 0] == 0.0


@pytest.mark.parametrize("f", WITH_VECTOR, ids=lambda f: f.__name__)
def test_vector_of_masked_bidirectional_units_sharing_the_region(f):
    """Masked backward units share the forward units' input steps: vector=True is their sum."""
    u = units(direction=["forward", "backward", "backward"], index=[0, 0, 1])
    t = Trajectories(X, lengths=[6, 5, 4, 3], units=u, masked=True)
    got = f(t, region="input", vector=True)
    per_unit = f(t, region="input")
    ref = np.sqrt(np.sum(per_unit**2, axis=-1)) if f is metrics.rms_delta else np.sum(per_unit, axis=-1)
    np.testing.assert_allclose(got, ref, rtol=1e-12)


def test_vector_of_unmasked_bidirectional_units_in_a_region_is_refused():
    u = units(direction=["forward", "backward", "backward"], index=[0, 0, 1])
    t = Trajectories(X, lengths=[6, 5, 4, 3], units=u)
    with pytest.raises(RnndynError, match=r"msd\(vector=True\).*must share the steps"):
        metrics.msd(t, region="input", vector=True)
