"""Tests of the Trajectories type: validation, region masks, orders, alignment."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rnndyn import RnndynError, Trajectories
from rnndyn.trajectories import delta_region_mask


def _units(n_fwd: int, n_bwd: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "layer": "enc",
            "state": "h",
            "direction": ["forward"] * n_fwd + ["backward"] * n_bwd,
            "index": list(range(n_fwd)) + list(range(n_bwd)),
        }
    )


def _counter_states(lengths: np.ndarray, T: int, masked: bool) -> np.ndarray:
    """A bidirectional 'counter' recurrence, written as a step loop.

    Each unit adds 1 when it reads a real input position and 0 for padding, so
    a delta is non-zero exactly when real input drove it: an oracle for the
    region masks that does not share their formulas.
    """
    n = len(lengths)
    out = np.zeros((n, T, 2))
    for i, L in enumerate(lengths):
        u = (np.arange(T) < L).astype(float)
        h = 0.0
        for t in range(T):  # forward
            if masked and t >= L:
                out[i, t, 0] = h  # Keras repeats the last output on masked steps
                continue
            h = h + u[t]
            out[i, t, 0] = h
        h = 0.0
        for t in reversed(range(T)):  # backward: reads the padding first
            if masked and t >= L:
                out[i, t, 1] = 0.0  # masked backward: initial state on padding
                continue
            h = h + u[t]
            out[i, t, 1] = h
    return out


@pytest.mark.parametrize("order", ["input", "processing"])
def test_region_masks_match_a_counter_recurrence_unmasked(order: str) -> None:
    lengths = np.array([0, 1, 2, 5, 8, 8])
    T = 8
    traj = Trajectories(_counter_states(lengths, T, masked=False), lengths, _units(1, 1))
    if order == "processing":
        traj = traj.processing_order()
    moved = np.diff(traj.states, axis=1) != 0
    np.testing.assert_array_equal(traj.delta_mask("input"), moved)
    np.testing.assert_array_equal(traj.delta_mask("padding"), ~moved)
    assert traj.delta_mask("all").all()


def test_region_masks_masked_counter_in_processing_order() -> None:
    lengths = np.array([1, 2, 5, 8])
    T = 8
    traj = Trajectories(_counter_states(lengths, T, masked=True), lengths, _units(1, 1), masked=True)
    proc = traj.processing_order()
    # in processing order, the backward counter climbs 1..L over the real steps
    for i, L in enumerate(lengths):
        np.testing.assert_array_equal(proc.states[i, :L, 1], np.arange(1, L + 1))
        np.testing.assert_array_equal(proc.states[i, :L, 0], np.arange(1, L + 1))
    moved = np.diff(proc.states, axis=1) > 0  # the climb; the drop to h0 is not dynamics
    np.testing.assert_array_equal(proc.delta_mask("input"), moved)


def test_processing_order_round_trip_and_forward_untouched() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 7, 4))
    lengths = np.array([7, 3, 1, 0, 5])
    for masked in (False, True):
        traj = Trajectories(x, lengths, _units(2, 2), masked=masked)
        proc = traj.processing_order()
        assert proc.order == "processing"
        np.testing.assert_array_equal(proc.states[:, :, :2], x[:, :, :2])
        np.testing.assert_array_equal(proc.input_order().states, x)
        if not masked:
            np.testing.assert_array_equal(proc.states[:, :, 2:], x[:, ::-1, 2:])


def test_delta_region_mask_example_and_partition() -> None:
    lengths = np.array([0, 3, 6])
    for direction in ("forward", "backward"):
        for order in ("input", "processing"):
            for masked in (False, True):
                kw = dict(direction=direction, order=order, masked=masked)
                a = delta_region_mask(lengths, 6, region="input", **kw)
                b = delta_region_mask(lengths, 6, region="padding", **kw)
                assert not (a & b).any() and (a | b).all()
                # every region is a contiguous run of deltas in every sequence
                for row in a.astype(int):
                    assert np.count_nonzero(np.diff(row)) <= 1


def test_validation_errors_name_the_problem() -> None:
    with pytest.raises(RnndynError, match="3 dimensions"):
        Trajectories(np.zeros((4, 5)))
    with pytest.raises(RnndynError, match="real numbers"):
        Trajectories(np.array([[["a"]]]))
    bad = np.zeros((2, 3, 4))
    bad[1, 2, 3] = np.nan
    with pytest.raises(RnndynError, match="sequence 1, step 2, unit 3"):
        Trajectories(bad)
    with pytest.raises(RnndynError, match="one entry per sequence"):
        Trajectories(np.zeros((2, 3, 1)), lengths=[1, 2, 3])
    with pytest.raises(RnndynError, match=r"sequence 1 has length 4"):
        Trajectories(np.zeros((2, 3, 1)), lengths=[1, 4])
    with pytest.raises(RnndynError, match="missing"):
        Trajectories(np.zeros((2, 3, 1)), units=pd.DataFrame({"layer": ["a"]}))
    with pytest.raises(RnndynError, match="one row per unit"):
        Trajectories(np.zeros((2, 3, 1)), units=_units(1, 1))
    with pytest.raises(RnndynError, match="one entry per sequence"):
        Trajectories(np.zeros((2, 3, 1)), inputs=["a"])


def test_states_are_read_only_and_lengths_default() -> None:
    x = np.ones((2, 3, 1))
    traj = Trajectories(x)
    np.testing.assert_array_equal(traj.lengths, [3, 3])
    with pytest.raises(ValueError):
        traj.states[0, 0, 0] = 5.0
    x[0, 0, 0] = 2.0  # the caller's array stays writable
    assert traj.mask.all()


def test_select_take_and_split() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4, 5, 6))
    traj = Trajectories(x, [5, 4, 3, 2], _units(3, 3), inputs=list("abcd"))
    fwd = traj.select(direction="forward")
    np.testing.assert_array_equal(fwd.states, x[:, :, :3])
    np.testing.assert_array_equal(traj.select([5, 0]).states, x[:, :, [5, 0]])
    assert traj.select(direction="backward", index=[1, 2]).units["index"].tolist() == [1, 2]
    parts = traj.split_directions()
    assert set(parts) == {"forward", "backward"}
    sub = traj.take([2, 0])
    np.testing.assert_array_equal(sub.states, x[[2, 0]])
    assert sub.inputs == ["c", "a"] and sub.lengths.tolist() == [3, 5]
    with pytest.raises(RnndynError, match="available"):
        traj.select(direction="sideways")
    with pytest.raises(RnndynError, match="unknown unit column"):
        traj.select(colour="red")


def test_align_end_against_a_loop() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(3, 6, 2))
    lengths = np.array([2, 6, 4])
    a = Trajectories(x, lengths).align_end(before=2, after=3)
    assert a.offsets.tolist() == [-2, -1, 0, 1, 2, 3]
    for i, L in enumerate(lengths):
        for k, off in enumerate(a.offsets):
            t = L - 1 + off
            if 0 <= t < 6:
                assert a.valid[i, k]
                np.testing.assert_array_equal(a.values[i, k], x[i, t])
            else:
                assert not a.valid[i, k] and np.isnan(a.values[i, k]).all()
    with pytest.raises(RnndynError, match="length 0"):
        Trajectories(x, [0, 1, 2]).align_end()


def test_concat_sequences_and_units() -> None:
    rng = np.random.default_rng(3)
    a = Trajectories(rng.normal(size=(2, 4, 3)), [4, 2], inputs=["x", "y"])
    b = Trajectories(rng.normal(size=(1, 4, 3)), [3], inputs=["z"])
    ab = Trajectories.concat([a, b])
    np.testing.assert_array_equal(ab.states, np.concatenate([a.states, b.states]))
    assert ab.lengths.tolist() == [4, 2, 3] and ab.inputs == ["x", "y", "z"]
    c = Trajectories(rng.normal(size=(2, 4, 2)), [4, 2], units=_units(1, 1))
    ac = Trajectories.concat([a, c], along="units")
    assert ac.n_units == 5 and ac.units["direction"].tolist()[-1] == "backward"
    with pytest.raises(RnndynError, match="steps"):
        Trajectories.concat([a, Trajectories(np.zeros((1, 5, 3)))])
    with pytest.raises(RnndynError, match="other lengths"):
        Trajectories.concat([a, Trajectories(np.zeros((2, 4, 1)), [1, 1])], along="units")


def test_to_frame_and_to_xarray_round_trip() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2, 3, 4))
    traj = Trajectories(x, [3, 1], _units(2, 2), inputs=["ab", "c"])
    df = traj.to_frame()
    assert len(df) == 24
    back = df.pivot_table(index=["sequence", "step"], columns="unit", values="value")
    np.testing.assert_array_equal(back.to_numpy().reshape(2, 3, 4), x)
    assert df["is_input"].sum() == 3 * 4 + 1 * 4
    da = traj.to_xarray()
    assert da.dims == ("sequence", "step", "unit")
    np.testing.assert_array_equal(da.values, x)
    assert da.coords["direction"].values.tolist() == ["forward"] * 2 + ["backward"] * 2
    assert da.coords["length"].values.tolist() == [3, 1]
