"""Kill and resume: a capture into a store, SIGKILLed in a subprocess, finishes when run again.

The subprocess captures with the NumPy tutorial model slowed down (its
``forward`` sleeps), and is killed once the progress record lists 1, 2, 3
complete batches (so at some point inside the next batch: running the model,
writing chunks or the record). The same call, run again here, must run the
model only on the batches not yet complete and end with a store identical,
file by file, to an uninterrupted one (the creation time aside).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from rnndyn_numpyrnn import NumpyRNN

import rnndyn
from rnndyn.store import open_store

ROOT = Path(__file__).resolve().parents[1]
N, T, BS = 22, 6, 4  # 6 batches, the last one short
N_BATCHES = 6
LENGTHS = [T] * 18 + [5, 4, 3, 1]

SCRIPT = f"""
import sys, time
import numpy as np
import rnndyn
from rnndyn_numpyrnn import NumpyRNN

model = NumpyRNN.random(n_inputs=2, n_units=3, seed=0)
real = model.forward
def slow(x):
    time.sleep(0.25)
    return real(x)
model.forward = slow
x = np.random.default_rng(7).normal(size=({N}, {T}, 2))
rnndyn.capture(model, x, state=["h", "z"], lengths={LENGTHS}, batch_size={BS}, progress=False,
               store=sys.argv[1])
"""


def make_model_and_inputs():
    model = NumpyRNN.random(n_inputs=2, n_units=3, seed=0)
    x = np.random.default_rng(7).normal(size=(N, T, 2))
    return model, x


def run_here(path: Path):
    """The same call as the subprocess's, in this process; the first input row of every model call."""
    model, x = make_model_and_inputs()
    seen: list[np.ndarray] = []
    real = model.forward

    def counted(batch):
        seen.append(np.array(batch[0]))
        return real(batch)

    model.forward = counted
    traj = rnndyn.capture(
        model, x, state=["h", "z"], lengths=LENGTHS, batch_size=BS, progress=False, store=path
    )
    batches = [int(np.flatnonzero((x == row).all(axis=(1, 2)))[0]) // BS for row in seen]
    return traj, batches


def complete(path: Path) -> int:
    try:
        return len(json.loads((path / "rnndyn-progress.json").read_text())["complete"])
    except (FileNotFoundError, ValueError, KeyError):
        return 0


def files(path: Path) -> dict[str, bytes]:
    out = {}
    for p in sorted(path.rglob("*")):
        if p.is_file():
            data = p.read_bytes()
            if p == path / "zarr.json":  # the group: compare its metadata without the creation time
                node = json.loads(data)
                node["attributes"]["rnndyn"].pop("created")
                data = json.dumps(node, sort_keys=True).encode()
            out[str(p.relative_to(path))] = data
    return out


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    path = tmp_path_factory.mktemp("ref") / "ref.zarr"
    traj, batches = run_here(path)
    assert batches == list(range(N_BATCHES))
    model, x = make_model_and_inputs()
    mem = rnndyn.capture(model, x, state=["h", "z"], lengths=LENGTHS, batch_size=BS, progress=False)
    np.testing.assert_array_equal(np.asarray(traj.states), mem.states)
    return files(path), mem


@pytest.mark.parametrize("after", [1, 2, 3])
def test_killed_capture_resumes_to_an_identical_store(tmp_path, reference, after):
    ref_files, mem = reference
    path = tmp_path / "run.zarr"
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(path)],
        cwd=ROOT,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while complete(path) < after:
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline, "the subprocess made no progress"
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stderr.close()
    done = complete(path)
    assert after <= done < N_BATCHES  # killed mid-capture
    with pytest.raises(rnndyn.RnndynError, match=f"incomplete: {done} of {N_BATCHES} batches"):
        open_store(path)
    np.testing.assert_array_equal(np.asarray(open_store(path, partial=True).states), mem.states[: done * BS])

    traj, batches = run_here(path)
    assert batches == list(range(done, N_BATCHES))  # the model never saw a completed batch again
    assert files(path) == ref_files  # every array chunk, the metadata and the progress record
    np.testing.assert_array_equal(np.asarray(traj.states), mem.states)
    assert traj.steps == mem.steps
    assert traj.units.equals(mem.units)


def test_a_resumed_capture_with_other_inputs_is_refused(tmp_path):
    path = tmp_path / "run.zarr"
    model, x = make_model_and_inputs()
    rnndyn.capture(
        model, x[:8], state=["h", "z"], lengths=LENGTHS[:8], batch_size=BS, progress=False, store=path
    )
    record = json.loads((path / "rnndyn-progress.json").read_text())
    record["complete"] = record["complete"][:1]  # as if killed after batch 0
    (path / "rnndyn-progress.json").write_text(json.dumps(record))
    y = x[:8].copy()
    y[5, 2, 1] += 1.0  # one value of batch 1 differs
    with pytest.raises(rnndyn.RnndynError, match="holds another capture: the inputs differ"):
        rnndyn.capture(
            model, y, state=["h", "z"], lengths=LENGTHS[:8], batch_size=BS, progress=False, store=path
        )
