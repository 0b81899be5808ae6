"""The step model: padding anywhere and explicit processing orders, against step-loop oracles.

The oracle is a "counter" recurrence simulated step by step in a given
processing order: reading a real input adds 1, reading padding adds 1000, and
positions the recurrence skips hold a fill value far from every count (a
packed PyTorch call returns zeros there). A stored delta is then an input delta exactly when its
magnitude is 1: consecutive processing steps that read real input. Nothing in
the oracle shares a formula with :mod:`rnndyn.steps`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rnndyn import RnndynError, Steps, Trajectories, metrics, physics
from rnndyn.trajectories import delta_region_mask

REAL, PAD, SKIPPED = 1.0, 1000.0, -1e6


def _simulate(valid: np.ndarray, order: np.ndarray, processed: np.ndarray) -> np.ndarray:
    """States (n, T) by input position of a counter run over ``order[i, :processed[i]]``."""
    n, T = valid.shape
    out = np.full((n, T), SKIPPED)
    for i in range(n):
        h = 0.0
        for k in range(processed[i]):
            t = order[i, k]
            h += REAL if valid[i, t] else PAD
            out[i, t] = h
    return out


def _random_case(rng: np.random.Generator, n: int = 7, T: int = 9):
    """Valid masks with padding at the end, the start and the middle (packed calls joined)."""
    valid = np.ones((n, T), dtype=bool)
    for i in range(n):
        kind = i % 4
        a, b = sorted(rng.choice(np.arange(1, T), size=2, replace=False))
        if kind == 1:
            valid[i, a:] = False  # right padding
        elif kind == 2:
            valid[i, :a] = False  # left padding
        elif kind == 3:
            valid[i, a:b] = False  # padding in the middle
    return valid


def _masked_orders(valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Written out with Python lists: real positions ascending / descending, then padding."""
    fwd, bwd = [], []
    for row in valid:
        real = [t for t in range(row.size) if row[t]]
        pad = [t for t in range(row.size) if not row[t]]
        fwd.append(real + pad)
        bwd.append(real[::-1] + pad)
    return np.array(fwd), np.array(bwd)


def _traj_and_oracle(valid: np.ndarray, masked: bool, order_kind: str = "default"):
    n, T = valid.shape
    if masked:
        fwd, bwd = _masked_orders(valid)
        processed = valid.sum(axis=1)
    else:
        fwd = np.tile(np.arange(T), (n, 1))
        bwd = fwd[:, ::-1].copy()
        processed = np.full(n, T)
    orders = None
    if order_kind == "flax":  # Flax seq_lengths reverse: real steps backwards, then the padding backwards
        bwd = np.array(
            [[t for t in range(T)[::-1] if r[t]] + [t for t in range(T)[::-1] if not r[t]] for r in valid]
        )
        processed = np.full(n, T)
        orders = {("enc", "backward"): bwd}
        masked = False
    states = np.stack([_simulate(valid, fwd, processed), _simulate(valid, bwd, processed)], axis=2)
    units = pd.DataFrame({"layer": "enc", "state": "h", "direction": ["forward", "backward"], "index": 0})
    steps = Steps(valid, masked=masked, orders=orders)
    return Trajectories(states, units=units, steps=steps)


CASES = [(m, k) for m in (False, True) for k in ("default",)] + [(False, "flax")]


@pytest.mark.parametrize(("masked", "kind"), CASES)
@pytest.mark.parametrize("arrangement", ["input", "processing"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_region_masks_match_the_counter_oracle(masked, kind, arrangement, seed):
    traj = _traj_and_oracle(_random_case(np.random.default_rng(seed)), masked, kind)
    if arrangement == "processing":
        traj = traj.processing_order()
    d = np.diff(traj.states, axis=1)
    np.testing.assert_array_equal(traj.delta_mask("input"), np.abs(d) == REAL)
    np.testing.assert_array_equal(traj.delta_mask("padding"), np.abs(d) != REAL)
    assert traj.delta_mask("all").all()


@pytest.mark.parametrize(("masked", "kind"), CASES)
def test_processing_order_lists_the_states_as_computed(masked, kind):
    valid = _random_case(np.random.default_rng(3))
    traj = _traj_and_oracle(valid, masked, kind)
    proc = traj.processing_order()
    n, T = valid.shape
    for i in range(n):
        k = valid[i].sum() if masked else T
        for u in range(2):
            got = proc.states[i, :k, u]
            steps = np.diff(np.concatenate([[0.0], got]))  # every computed step adds 1 or 1000
            assert set(np.unique(steps)) <= {REAL, PAD}
            assert np.all(np.diff(got) > 0)
    back = proc.input_order()
    np.testing.assert_array_equal(back.states, traj.states)
    assert back.order == "input" and proc.order == "processing"


def test_right_padded_steps_reproduce_the_lengths_rules():
    """The documented right-padding formulas of delta_region_mask, written out here."""
    lengths, T = np.array([0, 1, 3, 6, 6]), 6
    t = np.arange(T - 1)[None, :]
    L = lengths[:, None]
    ref = {
        ("forward", "input", False): t + 1 < L,
        ("forward", "processing", False): t + 1 < L,
        ("backward", "input", False): t < L,
        ("backward", "processing", False): t >= T - 1 - L,
        ("backward", "input", True): t + 1 < L,
        ("backward", "processing", True): t + 1 < L,
        ("forward", "input", True): t + 1 < L,
    }
    for (direction, order, masked), want in ref.items():
        got = delta_region_mask(lengths, T, region="input", direction=direction, order=order, masked=masked)
        np.testing.assert_array_equal(got, want, err_msg=str((direction, order, masked)))


def _brute_msd(x: np.ndarray, dmask: np.ndarray, max_lag: int):
    """Mean over (i, t) of (x[t+m] - x[t])^2 where every delta between is in the region."""
    n, T = x.shape
    num, cnt = np.zeros(max_lag + 1), np.zeros(max_lag + 1, dtype=int)
    for i in range(n):
        for m in range(max_lag + 1):
            for t in range(T - m):
                if m == 0:
                    ok = (t < T - 1 and dmask[i, t]) or (t > 0 and dmask[i, t - 1])
                else:
                    ok = dmask[i, t : t + m].all()
                if ok:
                    num[m] += (x[i, t + m] - x[i, t]) ** 2
                    cnt[m] += 1
    with np.errstate(invalid="ignore"):
        return num / np.where(cnt > 0, cnt, np.nan), cnt


def _brute_vacf(x: np.ndarray, dmask: np.ndarray, max_lag: int):
    d = np.diff(x, axis=1)
    n, T1 = d.shape
    num, cnt = np.zeros(max_lag + 1), np.zeros(max_lag + 1, dtype=int)
    for i in range(n):
        for m in range(max_lag + 1):
            for t in range(T1 - m):
                if dmask[i, t : t + m + 1].all():
                    num[m] += d[i, t] * d[i, t + m]
                    cnt[m] += 1
    with np.errstate(invalid="ignore"):
        return num / np.where(cnt > 0, cnt, np.nan), cnt


@pytest.mark.parametrize("arrangement", ["input", "processing"])
@pytest.mark.parametrize("region", ["input", "padding"])
def test_lag_metrics_never_pair_steps_across_a_gap(arrangement, region):
    rng = np.random.default_rng(5)
    valid = _random_case(rng, n=8, T=10)
    traj = _traj_and_oracle(valid, masked=True)
    traj = traj._replace(states=rng.normal(size=traj.shape))  # generic values; masks checked above
    if arrangement == "processing":
        traj = traj.processing_order()
    dm = traj.delta_mask(region)
    x = traj.states
    for u in range(2):
        want, wc = _brute_msd(x[:, :, u], dm[:, :, u], 6)
        got, gc = metrics.msd(traj, max_lag=6, region=region, return_counts=True)
        np.testing.assert_array_equal(np.asarray(gc)[:, u], wc)
        np.testing.assert_allclose(got[:, u], want, rtol=1e-10, atol=1e-12, equal_nan=True)
        want, wc = _brute_vacf(x[:, :, u], dm[:, :, u], 5)
        got, gc = metrics.vacf(traj, max_lag=5, region=region, return_counts=True)
        np.testing.assert_array_equal(np.asarray(gc)[:, u], wc)
        np.testing.assert_allclose(got[:, u], want, rtol=1e-10, atol=1e-12, equal_nan=True)
    d = np.diff(x, axis=1)
    with np.errstate(invalid="ignore"):
        rms = np.sqrt((d**2 * dm).sum(0) / dm.sum(0))
        two = np.einsum("itu,isu->tsu", d * dm, d * dm) / np.einsum("itu,isu->tsu", dm * 1.0, dm * 1.0)
    np.testing.assert_allclose(metrics.rms_delta(traj, region=region), rms, rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(metrics.vacf_two_time(traj, region=region), two, rtol=1e-10, equal_nan=True)
    np.testing.assert_array_equal(np.asarray(metrics.deltas(traj, region=region)), np.where(dm, d, np.nan))


def test_relaxation_and_alignment_follow_the_last_real_input():
    valid = np.array(
        [[True, True, False, False, True, False, False], [False, False, True, True, True, True, False]]
    )
    traj = _traj_and_oracle(valid, masked=True).select(direction="forward")
    curve = physics.relaxation_curve(traj, target=np.zeros(1))
    # processing order: real steps first; last real is processing step 2 resp. 3; after it: padding (0)
    proc = traj.processing_order().states[:, :, 0]
    ends = [2, 3]
    for k in range(curve.offsets.size):
        rows = [i for i in range(2) if ends[i] + k < valid.shape[1]]
        want = np.mean([abs(proc[i, ends[i] + k]) for i in rows])
        assert curve.counts[k, 0] == len(rows)
        np.testing.assert_allclose(curve.deviation[k, 0], want)
    al = traj.align_end()
    last = [4, 5]  # last real input position
    for i in range(2):
        k0 = int(np.flatnonzero(al.offsets == 0)[0])
        assert al.values[i, k0, 0] == traj.states[i, last[i], 0]
    assert traj.lengths.tolist() == [3, 4]


def test_layers_joined_with_different_masking_keep_their_own_orders():
    lengths, T = np.array([2, 4]), 4
    valid = np.arange(T)[None, :] < lengths[:, None]
    a = _traj_and_oracle(valid, masked=True).select(direction="backward")
    b = _traj_and_oracle(valid, masked=False).select(direction="backward")
    b = b._replace(units=b.units.assign(layer="dec"), _units_checked=False)
    both = Trajectories.concat([a, b], along="units")
    assert both.masked == {"enc": True, "dec": False}
    d = np.diff(both.states, axis=1)
    np.testing.assert_array_equal(both.delta_mask("input"), np.abs(d) == REAL)
    with pytest.raises(RnndynError, match="masked=True"):
        Trajectories.concat([a, b.select(units=[0])._replace(units=a.units)])
    same_layer = b._replace(units=b.units.assign(layer="enc", state="c"), _units_checked=False)
    with pytest.raises(RnndynError, match="layer 'enc' is masked=False in part 1 but masked=True"):
        Trajectories.concat([a, same_layer], along="units")


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        (dict(valid=np.ones((2, 3))), "valid must be a bool array.*float64.*tokens != pad_id"),
        (dict(valid=np.ones(3, dtype=bool)), r"valid must be a bool array.*shape \(3,\)"),
        (dict(valid="abc"), "valid must be a bool array"),
        (dict(valid=None), "valid must be a bool array"),
        (dict(valid=np.ones((2, 3), bool), masked="yes"), "masked"),
        (dict(valid=np.ones((2, 3), bool), masked={"enc": 1.5}), r"masked\['enc'\]"),
        (dict(valid=np.ones((2, 3), bool), orders=[1, 2]), "orders must be a dict"),
        (dict(valid=np.ones((2, 3), bool), orders={"enc": np.zeros((2, 3))}), r"\(layer, direction\) pairs"),
        (dict(valid=np.ones((2, 3), bool), orders={("enc", "up"): np.zeros((2, 3))}), "direction"),
        (
            dict(valid=np.ones((2, 3), bool), orders={("enc", "forward"): np.zeros((2, 3), int)}),
            r"row 0 is \[0, 0, 0\].*every step exactly once",
        ),
        (
            dict(valid=np.ones((2, 3), bool), orders={("enc", "forward"): np.zeros((3, 3), int)}),
            r"shape \(2, 3\).*got shape \(3, 3\)",
        ),
        (
            dict(valid=np.ones((2, 3), bool), orders={("enc", "forward"): np.full((2, 3), 0.5)}),
            "int array",
        ),
    ],
)
def test_bad_steps_are_refused(kw, match):
    with pytest.raises(RnndynError, match=match):
        Steps(**kw)


def test_steps_and_trajectories_must_agree():
    steps = Steps(np.ones((2, 3), bool))
    with pytest.raises(RnndynError, match=r"steps describe 2 sequences x 3 steps; states have 2 x 4"):
        Trajectories(np.zeros((2, 4, 1)), steps=steps)
    with pytest.raises(RnndynError, match="drop lengths= and masked="):
        Trajectories(np.zeros((2, 3, 1)), lengths=[3, 3], steps=steps)
    with pytest.raises(RnndynError, match="steps must be a rnndyn.Steps"):
        Trajectories(np.zeros((2, 3, 1)), steps=np.ones((2, 3), bool))
    with pytest.raises(RnndynError, match="lengths must lie in"):
        Steps.from_lengths([4, 1], 3)


def test_take_keeps_explicit_orders_and_reports_padding_anywhere():
    valid = _random_case(np.random.default_rng(8))
    traj = _traj_and_oracle(valid, False, "flax")
    sub = traj.take([3, 0])
    np.testing.assert_array_equal(sub.steps.valid, valid[[3, 0]])
    np.testing.assert_array_equal(
        sub.steps.order("enc", "backward"), traj.steps.order("enc", "backward")[[3, 0]]
    )
    assert "padding not only at the end" in repr(traj)
    d = np.diff(sub.states, axis=1)
    np.testing.assert_array_equal(sub.delta_mask("input"), np.abs(d) == REAL)


def test_steps_and_trajectories_pickle():
    """A Dask worker receives Trajectories by pickle: the step model must survive it exactly."""
    import pickle

    valid = np.array([[1, 1, 0, 1], [0, 1, 1, 1]], bool)
    order = np.array([[2, 1, 0, 3], [3, 2, 1, 0]])
    steps = Steps(valid, masked={"enc": True}, orders={("enc", "backward"): order})
    back = pickle.loads(pickle.dumps(steps))
    np.testing.assert_array_equal(back.valid, valid)
    assert back.masked == steps.masked
    np.testing.assert_array_equal(back.orders[("enc", "backward")], order)
    traj = Trajectories(np.arange(8.0).reshape(2, 4, 1), steps=Steps(valid))
    again = pickle.loads(pickle.dumps(traj))
    np.testing.assert_array_equal(again.delta_mask("input"), traj.delta_mask("input"))
