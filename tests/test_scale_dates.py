"""Stream, store and Dask on real trajectories: the shipped date translator's encoder.

The reference is the in-memory capture of the same strings (same batches,
so the framework computes the same states) and :mod:`rnndyn.metrics` on it.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest

import rnndyn
from examples.dates import _study_capture as K
from examples.dates import data as D
from examples.dates import models as M
from rnndyn import metrics
from rnndyn.stream import Accumulator

WEIGHTS = Path(__file__).resolve().parents[1] / "examples" / "dates" / "weights"
N, BATCH = 48, 16
REGIONS = ("all", "input", "padding")
METRICS = ("msd", "vacf", "rms_delta", "mean_abs_delta", "msd_from_start")


def close(got, want, what):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=what)
    scale = np.nanmax(np.abs(want), initial=0.0)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9 * scale, equal_nan=True, err_msg=what)


def check(acc: Accumulator, traj: rnndyn.Trajectories) -> None:
    assert acc.n_sequences == traj.n_sequences and acc.units.equals(traj.units.reset_index(drop=True))
    for region in REGIONS:
        for metric, value in acc.result(region).items():
            close(value, getattr(metrics, metric)(traj, region=region), f"{metric} {region}")


@pytest.fixture(scope="module")
def inputs():
    strings = [r.human for r in M.load_validation(WEIGHTS)[:N]]
    return strings


@pytest.mark.parametrize("fw", ["keras", "torch"])
def test_stream_and_store_of_the_date_encoder(fw, inputs, tmp_path):
    model = M.load_keras(WEIGHTS) if fw == "keras" else M.load_torch(WEIGHTS)
    enc = K.encoder_model(fw, model)
    x = D.encode_inputs(inputs, model.input_vocab)
    lengths = D.input_lengths(inputs)
    kw = {"layer": "encoder", "state": ["h", "c"], "lengths": lengths, "batch_size": BATCH, "progress": False}
    traj = rnndyn.capture(enc, x, **kw)
    check(rnndyn.capture(enc, x, sink=Accumulator(METRICS, regions=REGIONS), **kw), traj)
    stored = rnndyn.capture(enc, x, store=tmp_path / "run.zarr", **kw)
    np.testing.assert_array_equal(np.asarray(stored.states), traj.states)
    reopened = rnndyn.open_store(tmp_path / "run.zarr")
    for region in REGIONS:  # out of core, chunk by chunk
        for metric in ("msd", "rms_delta"):
            value = getattr(metrics, metric)(reopened, region=region)
            close(
                np.asarray(value), getattr(metrics, metric)(traj, region=region), f"store {metric} {region}"
            )


def test_dask_workers_capture_the_date_encoder(inputs):
    from distributed import Client, LocalCluster

    from rnndyn.distributed import accumulate

    model = M.load_torch(WEIGHTS)
    x = D.encode_inputs(inputs, model.input_vocab)
    lengths = D.input_lengths(inputs)
    traj = rnndyn.capture(
        K.encoder_model("torch", model), x, layer="encoder", lengths=lengths, batch_size=BATCH, progress=False
    )
    factory = functools.partial(K.torch_encoder, str(WEIGHTS))
    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address="127.0.0.1:0"
    )
    with cluster, Client(cluster) as client:
        acc = accumulate(
            factory,
            x,
            layer="encoder",
            lengths=lengths,
            regions=REGIONS,
            metrics=METRICS,
            shard_size=BATCH,
            batch_size=BATCH,
            client=client,
        )
    check(acc, traj)
