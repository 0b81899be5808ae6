"""Bad input and faults of the zarr store: other calls refused, corruption found, disk full, foreign paths."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import numpy as np
import pytest
import zarr.storage._local as zarr_local
from rnndyn_numpyrnn import NumpyRNN

import rnndyn
from rnndyn.errors import RnndynError
from rnndyn.store import open_store


class OtherRNN(NumpyRNN):
    """Another model class (the numpyrnn adapter claims it too)."""


MODEL = NumpyRNN.random(n_inputs=2, n_units=3, seed=0)
X = np.random.default_rng(3).normal(size=(10, 6, 2))
KW = dict(state=["h", "z"], lengths=[6] * 8 + [4, 2], batch_size=4, progress=False)


def capture(path: Path, model=MODEL, x=X, **over):
    return rnndyn.capture(model, x, store=path, **{**KW, **over})


@pytest.fixture(scope="module")
def mem():
    return rnndyn.capture(MODEL, X, **KW)


# ------------------------------------------------------------------ another call: refused, with the reason
@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (dict(model=OtherRNN(MODEL.W_x, MODEL.W_h, MODEL.b)), "the model class differs"),
        (dict(x=X + 1e-9), "the inputs differ"),
        (dict(state="h"), "the layers and states differ"),
        (dict(batch_size=5), "batch_size differs"),
        (dict(lengths=[6] * 9 + [3]), "lengths differ"),
    ],
)
def test_store_of_another_call_is_refused_naming_the_difference(tmp_path, mem, change, reason):
    path = tmp_path / "s.zarr"
    capture(path)
    before = (path / "rnndyn-progress.json").read_bytes()
    with pytest.raises(RnndynError, match=reason):
        capture(path, **change)
    assert (path / "rnndyn-progress.json").read_bytes() == before  # nothing written
    np.testing.assert_array_equal(np.asarray(open_store(path).states), mem.states)


def test_same_call_on_a_complete_store_runs_nothing(tmp_path, mem, monkeypatch):
    path = tmp_path / "s.zarr"
    capture(path)
    model = NumpyRNN(MODEL.W_x, MODEL.W_h, MODEL.b)
    calls = []
    monkeypatch.setattr(model, "forward", lambda x: calls.append(1) or NumpyRNN.forward(model, x))
    again = capture(path, model=model)
    assert calls == []
    np.testing.assert_array_equal(np.asarray(again.states), mem.states)


# ------------------------------------------------------------------ corruption
def _chunk(path: Path, name: str, k: int) -> Path:
    found = [p for p in (path / name / "c" / str(k)).rglob("*") if p.is_file()]
    if not found and (path / name / "c" / str(k)).is_file():
        return path / name / "c" / str(k)
    (file,) = found
    return file


@pytest.mark.parametrize("damage", ["flip", "truncate", "delete"])
def test_corrupted_states_chunk_is_reported_by_index_and_never_read(tmp_path, mem, damage):
    path = tmp_path / "s.zarr"
    capture(path)
    file = _chunk(path, "states", 1)
    data = bytearray(file.read_bytes())
    if damage == "flip":
        data[17] ^= 0x40
        file.write_bytes(bytes(data))
    elif damage == "truncate":
        file.write_bytes(bytes(data[:-8]))
    else:
        file.unlink()
    traj = open_store(path)
    np.testing.assert_array_equal(np.asarray(traj.states[:4]), mem.states[:4])  # chunk 0 is fine
    with pytest.raises(RnndynError, match=r"chunk 1 of states \(sequences 4\.\.7\)"):
        np.asarray(traj.states)
    with pytest.raises(RnndynError, match="chunk 1 of states"):
        rnndyn.metrics.msd(traj, max_lag=2).compute()


def test_corrupted_valid_chunk_is_reported_by_index(tmp_path):
    path = tmp_path / "s.zarr"
    capture(path)
    file = _chunk(path, "valid", 2)
    data = bytearray(file.read_bytes())
    data[0] ^= 1  # valid[8, 0]: True -> False
    file.write_bytes(bytes(data))
    with pytest.raises(
        RnndynError, match=r"chunk 2 \(sequences 8\.\.9\) of valid/orders/inputs is corrupted"
    ):
        open_store(path)


def test_no_pickle_can_be_in_a_store(tmp_path):
    """Every array is a plain numeric/bool zarr v3 array with the raw ``bytes`` codec; the rest is JSON."""
    path = tmp_path / "s.zarr"
    rnndyn.capture(MODEL, ["ab", "b"], collate=lambda g: np.ones((len(g), 3, 2)), progress=False, store=path)
    arrays = 0
    for meta in path.rglob("zarr.json"):
        node = json.loads(meta.read_text())
        if node["node_type"] == "array":
            arrays += 1
            assert node["data_type"] in ("float64", "float32", "bool", "int64", "uint32"), meta
            assert [c["name"] for c in node["codecs"]] == ["bytes"], meta
    assert arrays == 3  # states, valid, inputs
    json.loads((path / "rnndyn-progress.json").read_text())


# ------------------------------------------------------------------ disk full, unwritable
def test_disk_full_is_a_clear_error_and_the_store_stays_readable(tmp_path, mem, monkeypatch):
    path = tmp_path / "s.zarr"
    real = zarr_local._put

    def full(p, value, exclusive=False):
        if "/states/c/2" in str(p):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(p, value, exclusive)

    monkeypatch.setattr(zarr_local, "_put", full)
    with pytest.raises(
        RnndynError, match=r"writing batch 2 failed: the disk is full.*first 2 complete batch"
    ):
        capture(path)
    with pytest.raises(RnndynError, match="incomplete: 2 of 3 batches; run the same capture again to resume"):
        open_store(path)
    part = open_store(path, partial=True)
    assert part.shape == (8, *mem.shape[1:])
    np.testing.assert_array_equal(np.asarray(part.states), mem.states[:8])
    np.testing.assert_array_equal(part.steps.valid, mem.steps.valid[:8])
    monkeypatch.setattr(zarr_local, "_put", real)  # space freed: the same call resumes and finishes
    done = capture(path)
    np.testing.assert_array_equal(np.asarray(done.states), mem.states)
    assert done.steps == mem.steps


def test_unwritable_path_is_a_clear_error(tmp_path, monkeypatch):
    def denied(self, *a, **k):
        raise PermissionError(errno.EACCES, "Permission denied", str(self))

    monkeypatch.setattr(Path, "mkdir", denied)
    with pytest.raises(RnndynError, match="creating the store failed: permission denied"):
        capture(tmp_path / "s.zarr")


def test_missing_parent_folder_is_refused(tmp_path):
    with pytest.raises(RnndynError, match="does not exist; create it first"):
        capture(tmp_path / "no" / "s.zarr")


# ------------------------------------------------------------------ paths rnndyn did not write
def test_unrelated_folder_or_file_is_refused_and_left_alone(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    with pytest.raises(RnndynError, match="exists and is not an rnndyn store"):
        capture(folder)
    assert [p.name for p in folder.iterdir()] == ["notes.txt"]
    file = tmp_path / "data.zarr"
    file.write_text("keep me too")
    with pytest.raises(RnndynError, match="is a file, not an rnndyn store"):
        capture(file)
    assert file.read_text() == "keep me too"
    with pytest.raises(RnndynError, match="not an rnndyn store"):
        open_store(folder)


def test_empty_folder_is_used(tmp_path, mem):
    (tmp_path / "empty.zarr").mkdir()
    np.testing.assert_array_equal(np.asarray(capture(tmp_path / "empty.zarr").states), mem.states)


def test_one_shot_iterable_and_sink_with_store_are_refused(tmp_path):
    batches = (X[i : i + 4] for i in range(0, 10, 4))
    with pytest.raises(RnndynError, match="store= needs inputs rnndyn cuts into batches itself"):
        rnndyn.capture(MODEL, batches, progress=False, store=tmp_path / "s.zarr")
    assert not (tmp_path / "s.zarr" / "rnndyn-progress.json").exists()

    class Sink:
        def update(self, part):
            pass

    with pytest.raises(RnndynError, match="sink= or store=, not both"):
        rnndyn.capture(MODEL, X, progress=False, sink=Sink(), store=tmp_path / "t.zarr")
