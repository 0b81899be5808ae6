"""rnndyn.stream.Accumulator: batch by batch, merged in any order, equal to the in-memory metrics.

The reference is :mod:`rnndyn.metrics` called once on the concatenation of
every batch (itself tested against loop-based references elsewhere). Splits
are chosen by hypothesis; trajectories have padding at the end, at the start
and in the middle, masked and unmasked layers, forward and backward units.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rnndyn
from rnndyn import RnndynError, Steps, Trajectories, metrics
from rnndyn.stream import METRICS, Accumulator

RTOL = 1e-9
LAGGED = {"msd", "vacf"}


def close(got, want, what=""):
    """Equal to ``RTOL`` relative to the result's scale (values near 0 by cancellation have no digits)."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape, what
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=what)
    scale = np.nanmax(np.abs(want), initial=0.0)
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=RTOL * scale, equal_nan=True, err_msg=what)


def make(n=11, T=9, U=3, seed=0, layout="end", bidirectional=False, masked=False):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, T, U * (2 if bidirectional else 1))).cumsum(axis=1)
    L = rng.integers(2, T + 1, n)
    k = np.arange(T)[None, :]
    if layout == "end":
        valid = k < L[:, None]
    elif layout == "start":
        valid = k >= (T - L)[:, None]
    else:  # a gap in the middle
        valid = (k < (L // 2)[:, None]) | (k >= (T - L + L // 2)[:, None])
    if bidirectional:
        d = np.repeat(["forward", "backward"], U)
        units = {"layer": ["rnn"] * 2 * U, "state": ["h"] * 2 * U, "direction": list(d)}
        units["index"] = list(np.tile(np.arange(U), 2))
        import pandas as pd

        return Trajectories(x, units=pd.DataFrame(units), steps=Steps(valid, masked=masked))
    return Trajectories(x, steps=Steps(valid, masked=masked))


def reference(traj, metric, region, max_lag=None, vector=False):
    kw = {"region": region}
    if vector:
        kw["vector"] = True
    if metric in LAGGED and max_lag is not None:
        kw["max_lag"] = max_lag
    return getattr(metrics, metric)(traj, **kw)


def fed(traj, cuts, **kw):
    acc = Accumulator(**kw)
    edges = [0, *sorted(set(cuts)), traj.n_sequences]
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        if b > a:
            acc.update(traj.take(np.arange(a, b)))
    return acc


@pytest.mark.parametrize("layout", ["end", "start", "middle"])
@pytest.mark.parametrize("bidirectional, masked", [(False, False), (True, False), (True, True)])
def test_every_metric_and_region_equals_the_in_memory_metric(layout, bidirectional, masked):
    traj = make(layout=layout, bidirectional=bidirectional, masked=masked, seed=3)
    regions = ("all", "input", "padding")
    acc = fed(traj, [3, 4, 8], regions=regions)
    assert acc.n_sequences == traj.n_sequences and acc.n_steps == traj.n_steps
    for region in regions:
        got = acc.result(region)
        assert set(got) == set(METRICS)
        for metric, value in got.items():
            close(value, reference(traj, metric, region), f"{metric} {region}")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cuts=st.lists(st.integers(1, 14), max_size=6),
    seed=st.integers(0, 10_000),
    region=st.sampled_from(["all", "input", "padding"]),
    max_lag=st.one_of(st.none(), st.integers(0, 6)),
    layout=st.sampled_from(["end", "start", "middle"]),
)
def test_any_split_gives_the_same_numbers(cuts, seed, region, max_lag, layout):
    traj = make(n=15, T=8, U=2, seed=seed, layout=layout)
    acc = fed(
        traj, cuts, metrics=["msd", "vacf", "rms_delta", "msd_from_start"], regions=region, max_lag=max_lag
    )
    for metric, value in acc.result().items():
        close(value, reference(traj, metric, region, max_lag), f"{metric} cuts={cuts}")


def test_merging_in_any_order_and_tree_and_counts():
    traj = make(n=20, seed=5, bidirectional=True)
    parts = [fed(traj.take(np.arange(a, a + 4)), [], regions=("input", "padding")) for a in range(0, 20, 4)]
    left = parts[0] + parts[1] + parts[2] + parts[3] + parts[4]
    tree = (parts[4] + parts[0]) + ((parts[2] + parts[3]) + parts[1])
    for acc in (left, tree):
        assert acc.n_sequences == 20
        for region in ("input", "padding"):
            for metric, (value, counts) in acc.result(region, return_counts=True).items():
                want, want_counts = getattr(metrics, metric)(traj, region=region, return_counts=True)
                close(value, want, metric)
                np.testing.assert_array_equal(counts, want_counts)


def test_vector_form():
    traj = make(n=9, seed=2)
    acc = fed(
        traj, [2, 5], metrics=["msd", "vacf", "rms_delta", "vacf_two_time", "msd_from_start"], vector=True
    )
    for metric, value in acc.result().items():
        close(value, reference(traj, metric, "all", vector=True), metric)


def test_state_round_trips_through_a_plain_npz():
    traj = make(n=10, seed=4, bidirectional=True)
    acc = fed(traj, [5], regions=("all", "input"), max_lag=4)
    buf = io.BytesIO()
    np.savez(buf, **acc.to_dict())
    buf.seek(0)
    with np.load(buf, allow_pickle=False) as f:  # no pickle needed to read it back
        back = Accumulator.from_dict(dict(f))
    assert back.n_sequences == acc.n_sequences and back.units.equals(acc.units)
    for region in ("all", "input"):
        a, b = acc.result(region), back.result(region)
        for metric in a:
            np.testing.assert_array_equal(a[metric], b[metric])
    more = traj.take(np.arange(3))  # a restored accumulator keeps accumulating
    back.update(more)
    both = Trajectories.concat([traj, more])
    for region in ("all", "input"):
        close(back.result(region)["msd"], metrics.msd(both, region=region, max_lag=4))


def test_overflowing_and_underflowing_batches_add_exactly():
    rng = np.random.default_rng(0)
    big = rng.standard_normal((6, 7, 2)).cumsum(axis=1) * 1e153  # sums of squares beyond float64
    small = rng.standard_normal((6, 7, 2)).cumsum(axis=1)
    tiny = rng.standard_normal((6, 7, 2)).cumsum(axis=1) * 1e-170  # squares underflow
    for a, b in ((big, small * 1e152), (tiny, tiny * 3)):
        acc = Accumulator(["msd", "rms_delta", "vacf"]).update(a).update(b)
        both = np.concatenate([a, b])
        for metric, value in acc.result().items():
            close(value, getattr(metrics, metric)(both), metric)
    with pytest.raises(RnndynError, match="overflows float64"):
        Accumulator(["msd"]).update(big * 1e50).result()


def test_torch_tensors_accumulate_on_their_device():
    torch = pytest.importorskip("torch")
    traj = make(n=8, seed=6)
    t = traj._replace(states=torch.as_tensor(np.asarray(traj.states)))
    acc = Accumulator(["msd", "rms_delta"], regions="input")
    acc.update(t.take(np.arange(4))).update(t.take(np.arange(4, 8)))
    got = acc.result()
    assert all(isinstance(v, torch.Tensor) and v.device == t.states.device for v in got.values())
    for metric, value in got.items():
        close(value.numpy(), reference(traj, metric, "input"), metric)
    assert isinstance(acc.to_dict()["num/msd/input"], np.ndarray)


def test_capture_streams_into_a_sink_and_keeps_nothing():
    from rnndyn_numpyrnn import NumpyRNN

    model = NumpyRNN.random(n_inputs=3, n_units=5, seed=1)
    x = np.random.default_rng(2).normal(size=(23, 9, 3))
    lengths = np.random.default_rng(3).integers(2, 10, 23)
    acc = Accumulator(regions=("input", "padding"))
    out = rnndyn.capture(model, x, state=["h", "z"], lengths=lengths, batch_size=5, sink=acc, progress=False)
    assert out is acc and acc.n_sequences == 23
    traj = rnndyn.capture(model, x, state=["h", "z"], lengths=lengths, batch_size=23, progress=False)
    assert acc.units.equals(traj.units.reset_index(drop=True))
    for region in ("input", "padding"):
        for metric, value in acc.result(region).items():
            close(value, reference(traj, metric, region), f"{metric} {region}")


def test_torch_model_into_a_sink():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    model = torch.nn.LSTM(3, 4, batch_first=True, bidirectional=True)
    x = torch.randn(17, 8, 3)
    lengths = np.random.default_rng(1).integers(1, 9, 17)
    kw = {"layer": "lstm", "state": ["h", "c"], "lengths": lengths, "progress": False}
    acc = rnndyn.capture(model, x, batch_size=4, sink=Accumulator(regions=("input", "padding")), **kw)
    traj = rnndyn.capture(model, x, batch_size=4, **kw)  # the same batches: BLAS results depend on batch size
    for region in ("input", "padding"):
        for metric, value in acc.result(region).items():
            close(value, reference(traj, metric, region), f"{metric} {region}")


def test_bad_input_names_the_difference():
    traj = make(n=6, T=9, seed=0)
    with pytest.raises(RnndynError, match="metrics must be names"):
        Accumulator(["msd", "nope"])
    with pytest.raises(RnndynError, match="region"):
        Accumulator(regions=["sideways"])
    with pytest.raises(RnndynError, match="max_lag"):
        Accumulator(max_lag=-1)
    with pytest.raises(RnndynError, match="mean_abs_delta has no vector form"):
        Accumulator(vector=True)
    acc = Accumulator(["msd"]).update(traj)
    with pytest.raises(RnndynError, match="8 steps, the earlier ones 9"):
        acc.update(traj.states[:, :8])
    with pytest.raises(RnndynError, match="units differ"):
        acc.update(traj.states[:, :, :2])
    with pytest.raises(RnndynError, match="different metrics"):
        acc + Accumulator(["vacf"]).update(traj)
    with pytest.raises(RnndynError, match="different msd lags: max_lag 8 and 3"):
        acc + Accumulator(["msd"], max_lag=3).update(traj)
    with pytest.raises(RnndynError, match="different regions"):
        acc + Accumulator(["msd"], regions="input").update(traj)
    with pytest.raises(RnndynError, match="4 and 9 steps"):
        Accumulator(["msd"]).update(traj.states[:, :4]) + acc
    with pytest.raises(RnndynError, match="states are float32, the earlier ones float64"):
        acc.update(traj.states.astype(np.float32))
    with pytest.raises(RnndynError, match="float64 and float32 states"):
        acc + Accumulator(["msd"]).update(traj.states.astype(np.float32))
    with pytest.raises(RnndynError, match="no batch yet"):
        Accumulator().result()
    with pytest.raises(RnndynError, match="was not accumulated"):
        acc.result("padding")
    with pytest.raises(RnndynError, match="not an rnndyn accumulator"):
        Accumulator.from_dict({**acc.to_dict(), "format": np.array("something else")})
    with pytest.raises(RnndynError, match="lacks 'num/msd/all'"):
        Accumulator.from_dict({k: v for k, v in acc.to_dict().items() if k != "num/msd/all"})
    with pytest.raises(RnndynError, match="update\\(trajectories\\) method"):
        rnndyn.capture(object(), np.zeros((2, 3, 1)), sink=object(), progress=False)


@pytest.mark.parametrize("layout", ["end", "middle"])
def test_per_sequence_rows_make_every_bootstrap_resample(layout):
    from rnndyn._bootstrap import resample_counts, resample_indices

    traj = make(n=12, seed=7, layout=layout, bidirectional=True)
    acc = fed(traj, [5], regions=("input", "padding"), per_sequence=True, max_lag=5)
    idx = resample_indices(12, 4, seed=1)
    C = resample_counts(12, 4, seed=1)
    for region in ("input", "padding"):
        num, k, counts = acc.rows("msd", region)
        assert num.shape == (12, 6, traj.n_units) and counts.shape == (12, 6, traj.n_units)
        _, total_counts = metrics.msd(traj, region=region, max_lag=5, return_counts=True)
        np.testing.assert_array_equal(counts.sum(axis=0), total_counts)
        boots = acc.resampled(C, region)
        for b in range(4):  # each resample is the metric of the resampled sequences
            resample = traj.take(idx[b])
            for metric, values in boots.items():
                close(values[b], reference(resample, metric, region, max_lag=5), f"{metric} {region} {b}")
        part = acc.resampled(C, region, units=np.array([1, 4]))
        close(part["rms_delta"], boots["rms_delta"][..., [1, 4]])
    with pytest.raises(RnndynError, match="per_sequence=True"):
        fed(traj, []).rows("msd")
    with pytest.raises(RnndynError, match="weights must have shape"):
        acc.resampled(C[:, :5], "input")


def test_a_region_without_pairs_costs_no_copy_of_the_batch():
    """msd_from_start in the padding has no (0, t) pair: NaN everywhere, and no float64 copy of the states."""
    import tracemalloc

    x = np.random.default_rng(0).standard_normal((200, 30, 64)).astype(np.float32).cumsum(axis=1)
    lengths = np.random.default_rng(1).integers(5, 25, 200)
    traj = Trajectories(x, lengths=lengths)
    acc = Accumulator(["msd_from_start"], regions="padding")
    tracemalloc.start()
    acc.update(traj.take(np.arange(100)))
    acc.update(traj.take(np.arange(100, 200)))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    got = acc.result()["msd_from_start"]
    want = metrics.msd_from_start(traj, region="padding")
    assert got.shape == want.shape and np.isnan(got).all() and np.isnan(want).all()
    assert peak < 100 * 30 * 64 * 8, f"peak {peak} bytes: a float64 copy of a batch was made"
