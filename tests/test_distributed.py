"""rnndyn.distributed.accumulate on real LocalClusters of worker processes, against single-process capture.

The reference is always ``rnndyn.capture`` in this process followed by the
in-memory ``rnndyn.metrics``; the capture runs with ``batch_size`` equal to the
shard size, so both sides feed the model the very same batches.
"""

from __future__ import annotations

import functools
import hashlib
import multiprocessing
import os
import threading
from pathlib import Path

import dask
import numpy as np
import pandas as pd
import pytest
from distributed import Client, LocalCluster
from rnndyn_numpyrnn import NumpyRNN

import rnndyn
from rnndyn.distributed import accumulate
from rnndyn.stream import METRICS

REGIONS = ("all", "input", "padding")
N, T, F = 60, 9, 2
SHARD = 13  # 60 sequences: shards of 13, 13, 13, 13, 8 (an odd count: the tree carries one up)


def _cluster(n_workers: int) -> LocalCluster:
    return LocalCluster(
        n_workers=n_workers,
        processes=True,
        threads_per_worker=1,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
    )


@pytest.fixture(scope="module")
def client():
    with dask.config.set({"distributed.scheduler.allowed-failures": 10}):
        cluster = _cluster(2)
    with cluster, Client(cluster) as c:
        yield c


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(N, T, F))
    lengths = rng.integers(2, T + 1, size=N)
    lengths[:3] = T  # some sequences with no padding at all
    return x, lengths


def _factory(seed: int = 0):
    return functools.partial(NumpyRNN.random, n_inputs=F, n_units=3, seed=seed)


def _reference(model, x, lengths, state="h", **kw) -> rnndyn.Trajectories:
    return rnndyn.capture(model, x, state=state, lengths=lengths, batch_size=SHARD, progress=False, **kw)


def _assert_matches(acc, traj: rnndyn.Trajectories, regions=REGIONS, metrics=METRICS) -> None:
    assert acc.n_sequences == traj.n_sequences
    assert acc.n_steps == traj.n_steps
    pd.testing.assert_frame_equal(acc.units.reset_index(drop=True), traj.units.reset_index(drop=True))
    for region in regions:
        got = acc.result(region)
        for metric in metrics:
            want = getattr(rnndyn.metrics, metric)(traj, region=region)
            np.testing.assert_allclose(got[metric], want, rtol=1e-9, atol=0, err_msg=f"{metric} {region}")


def _builds(client: Client) -> dict[str, dict[str, int]]:
    def read() -> dict[str, int]:
        from rnndyn._distributed_worker import BUILDS

        return dict(BUILDS)

    return client.run(read)


def test_path_route_equals_single_process(client, data, tmp_path):
    x, lengths = data
    model = _factory()()
    model.save(tmp_path / "rnn.npz")
    acc = accumulate(
        tmp_path / "rnn.npz",
        x,
        state=["h", "z"],
        lengths=lengths,
        regions=REGIONS,
        shard_size=SHARD,
        client=client,
    )
    traj = _reference(model, x, lengths, state=["h", "z"])
    assert traj.units["state"].tolist() == ["h"] * 3 + ["z"] * 3
    _assert_matches(acc, traj)


def test_factory_route_one_and_two_workers_give_the_same_bits(client, data):
    x, lengths = data
    kw = {"lengths": lengths, "regions": REGIONS, "metrics": ["msd", "vacf", "rms_delta"], "max_lag": 5}
    two = accumulate(_factory(3), x, shard_size=SHARD, client=client, **kw)
    with _cluster(1) as cluster, Client(cluster) as one_client:
        one = accumulate(_factory(3), x, shard_size=SHARD, client=one_client, **kw)
        (built,) = _builds(one_client).values()
    assert list(built.values()) == [1]  # five shards, one build on the one worker
    for region in REGIONS:
        for metric, value in two.result(region).items():
            np.testing.assert_array_equal(value, one.result(region)[metric])  # the tree is fixed
    traj = _reference(_factory(3)(), x, lengths)
    assert two.result()["msd"].shape == (6, 3)
    for region in REGIONS:
        np.testing.assert_allclose(
            two.result(region)["msd"], rnndyn.metrics.msd(traj, region=region, max_lag=5), rtol=1e-9
        )
        np.testing.assert_allclose(
            two.result(region)["vacf"], rnndyn.metrics.vacf(traj, region=region, max_lag=5), rtol=1e-9
        )
    # every worker built each model at most once, however many shards it ran
    assert all(n == 1 for per_worker in _builds(client).values() for n in per_worker.values())


class _DiesOnce(NumpyRNN):
    """A NumpyRNN whose forward kills its worker process the first time it sees a doomed batch."""

    def forward(self, x):
        digest = hashlib.sha1(np.ascontiguousarray(x, dtype=np.float64).tobytes()).hexdigest()
        if digest in self.doomed:
            try:
                os.close(os.open(Path(self.marker_dir, digest), os.O_CREAT | os.O_EXCL))
            except FileExistsError:
                pass  # died here before: run this time
            else:
                os._exit(1)
        return super().forward(x)


def _dies_once(marker_dir: str, doomed: frozenset[str]) -> _DiesOnce:
    base = _factory()()
    model = _DiesOnce(base.W_x, base.W_h, base.b)
    model.marker_dir, model.doomed = marker_dir, doomed
    return model


def test_a_worker_killed_mid_shard_is_retried_and_counts_once(client, data, tmp_path):
    x, lengths = data
    doomed = frozenset(hashlib.sha1(x[i * SHARD : (i + 1) * SHARD].tobytes()).hexdigest() for i in (1, 3))
    factory = functools.partial(_dies_once, str(tmp_path), doomed)
    acc = accumulate(factory, x, lengths=lengths, regions=REGIONS, shard_size=SHARD, client=client)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(doomed)  # both workers really died
    assert acc.n_sequences == N
    _assert_matches(acc, _reference(_factory()(), x, lengths))
    assert len(client.scheduler_info()["workers"]) == 2  # the nanny brought them back


def test_local_cluster_by_default_is_closed_afterwards(data):
    x, lengths = data
    before = set(multiprocessing.active_children())
    acc = accumulate(_factory(), x, lengths=lengths, metrics=["msd", "msd_from_start"], shard_size=25)
    assert set(multiprocessing.active_children()) <= before  # its worker processes are gone
    _assert_matches(acc, _reference(_factory()(), x, lengths), ("all",), ["msd", "msd_from_start"])


def test_explicit_shards_loaded_on_the_worker_and_trajectory_shards(client, data, tmp_path):
    x, lengths = data
    cuts = [0, 20, 21, 60]
    files = []
    for i, (a, b) in enumerate(zip(cuts, cuts[1:], strict=False)):
        files.append(tmp_path / f"part-{i}.npy")
        np.save(files[-1], x[a:b])
    loaders = [functools.partial(np.load, str(f)) for f in files]
    parts = [lengths[a:b] for a, b in zip(cuts, cuts[1:], strict=False)]
    acc = accumulate(_factory(), shards=loaders, lengths=parts, regions=REGIONS, client=client)
    traj = rnndyn.capture(_factory()(), x, lengths=lengths, progress=False)
    _assert_matches(acc, traj)
    # model=None: trajectories that exist already, merged without capture
    pieces = [traj.take(slice(a, b)) for a, b in zip(cuts, cuts[1:], strict=False)]
    again = accumulate(
        None, shards=pieces, regions=REGIONS, metrics=["vacf_two_time", "mean_abs_delta"], client=client
    )
    _assert_matches(again, traj, REGIONS, ["vacf_two_time", "mean_abs_delta"])


def test_torch_lstm_saved_to_a_path(client, data, tmp_path):
    import torch

    from rnndyn_torch import load_rnn, save_rnn

    x, lengths = data
    torch.manual_seed(0)
    save_rnn(torch.nn.LSTM(F, 4, batch_first=True), tmp_path / "lstm.safetensors")
    save_rnn(torch.nn.LSTM(F, 4), tmp_path / "time_major.safetensors")
    xf = x.astype(np.float32)
    acc = accumulate(
        tmp_path / "lstm.safetensors", xf, state=["h", "c"], lengths=lengths, shard_size=SHARD, client=client
    )
    _assert_matches(
        acc, _reference(load_rnn(tmp_path / "lstm.safetensors"), xf, lengths, state=["h", "c"]), ("all",)
    )
    # time-major: cut along the axis the model reads, said with batch_axis=; without it, a clear error
    x_tm = np.ascontiguousarray(xf.transpose(1, 0, 2))
    acc = accumulate(
        tmp_path / "time_major.safetensors",
        x_tm,
        shard_size=SHARD,
        batch_axis=1,
        metrics=["msd"],
        client=client,
    )
    ref = _reference(load_rnn(tmp_path / "time_major.safetensors"), x_tm, None, batch_axis=1)
    assert acc.n_sequences == N
    np.testing.assert_allclose(acc.result()["msd"], rnndyn.metrics.msd(ref), rtol=1e-9)
    with pytest.raises(rnndyn.RnndynError, match=r"shard 0 on worker tcp://127\.0\.0\.1.*axis 1"):
        accumulate(tmp_path / "time_major.safetensors", x_tm, shard_size=SHARD, client=client)


# ---------------------------------------------------------------------------------------- bad input


def _needs_a_lock(lock):  # pragma: no cover - never called: it cannot be pickled
    raise AssertionError


def test_bad_input_is_refused_before_any_task(data, client):
    x, lengths = data
    with pytest.raises(
        rnndyn.RnndynError, match=r"model factory partial\(_needs_a_lock, ...\) cannot be pickled"
    ):
        accumulate(functools.partial(_needs_a_lock, threading.Lock()), x, client=client)
    with pytest.raises(rnndyn.RnndynError, match="model object \\(NumpyRNN\\)"):
        accumulate(_factory()(), x, client=client)
    with pytest.raises(rnndyn.RnndynError, match="needs arguments"):
        accumulate(NumpyRNN.random, x, client=client)
    with pytest.raises(rnndyn.RnndynError, match="lengths"):
        accumulate(_factory(), x, lengths=lengths[:-1], client=client)
    with pytest.raises(rnndyn.RnndynError, match="lengths must be a list of 2 entries"):
        accumulate(_factory(), shards=[x[:5], x[5:]], lengths=lengths[:10], client=client)
    with pytest.raises(rnndyn.RnndynError, match="shard_size"):
        accumulate(_factory(), x, shard_size=0, client=client)
    with pytest.raises(rnndyn.RnndynError, match="either inputs .* or shards"):
        accumulate(_factory(), x, shards=[x], client=client)
    with pytest.raises(rnndyn.RnndynError, match="iterable of batches"):
        accumulate(_factory(), iter([x[:5], x[5:]]), client=client)
    with pytest.raises(rnndyn.RnndynError, match="metrics"):
        accumulate(_factory(), x, metrics=["nope"], client=client)
    with pytest.raises(rnndyn.RnndynError, match="distributed.Client"):
        accumulate(_factory(), x, client="tcp://127.0.0.1:8786")
    closed = Client(client.cluster)
    closed.close()
    with pytest.raises(rnndyn.RnndynError, match="client is closed"):
        accumulate(_factory(), x, client=closed)


def test_errors_on_the_workers_come_back_named(client, data, tmp_path):
    x, _ = data
    (tmp_path / "notes.txt").write_text("not a model")
    with pytest.raises(rnndyn.PluginError, match=r"on worker tcp://.*No installed rnndyn plugin could load"):
        accumulate(tmp_path / "notes.txt", x, shard_size=30, client=client)
    with pytest.raises(rnndyn.RnndynError, match=r"shard \d on worker .*\(n, T, 2\)"):
        accumulate(_factory(), np.zeros((40, 5, 3)), shard_size=30, client=client)
