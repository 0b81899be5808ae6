"""rnndyn.metrics on torch tensors and dask arrays: same numbers as numpy, own array type."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rnndyn import RnndynError, Trajectories, metrics

torch = pytest.importorskip("torch")
da = pytest.importorskip("dask.array")

FUNCS = ("deltas", "rms_delta", "mean_abs_delta", "vacf", "vacf_two_time", "msd", "msd_from_start")
COUNTED = ("rms_delta", "mean_abs_delta", "vacf", "vacf_two_time", "msd", "msd_from_start")
LENGTHS = np.array([12, 0, 1, 2, 7, 11, 12, 5, 3])


@pytest.fixture(scope="module")
def walk() -> np.ndarray:
    rng = np.random.default_rng(21)
    return np.cumsum(rng.standard_normal((len(LENGTHS), 12, 5)), axis=1)


def bidir(x: np.ndarray | object, masked: bool = False, order: str = "input") -> Trajectories:
    units = pd.DataFrame(
        {
            "layer": "enc",
            "state": "h",
            "direction": ["forward", "forward", "backward", "backward", "forward"],
            "index": [0, 1, 0, 1, 2],
        }
    )
    return Trajectories(x, LENGTHS, units, masked=masked, order=order)


def same(a: np.ndarray, b: np.ndarray) -> None:
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12, equal_nan=True)


# ---------------------------------------------------------------------- torch
@pytest.mark.parametrize("region", ["all", "input", "padding"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_torch_matches_numpy_and_stays_torch(walk, region, dtype):
    x = walk.astype(dtype)
    t = torch.as_tensor(x)
    for name in FUNCS:
        f = getattr(metrics, name)
        ref = f(bidir(x), region=region)
        got = f(bidir(t), region=region)
        assert isinstance(got, torch.Tensor) and got.dtype == torch.float64
        assert got.device == t.device
        same(got.numpy(), ref)
    for name in COUNTED:
        _, counts = getattr(metrics, name)(bidir(t), region=region, return_counts=True)
        _, ref = getattr(metrics, name)(bidir(x), region=region, return_counts=True)
        assert isinstance(counts, torch.Tensor) and counts.dtype == torch.int64
        np.testing.assert_array_equal(counts.numpy(), ref)


def test_torch_bare_tensor_options(walk):
    t = torch.as_tensor(walk)
    same(metrics.msd(t, max_lag=4, vector=True).numpy(), metrics.msd(walk, max_lag=4, vector=True))
    same(metrics.vacf(t, normalize=True).numpy(), metrics.vacf(walk, normalize=True))
    same(
        metrics.msd(t, region="input", lengths=torch.tensor(LENGTHS.tolist())).numpy(),
        metrics.msd(walk, region="input", lengths=LENGTHS),
    )
    same(metrics.rms_delta(t.to(torch.float16)).numpy(), metrics.rms_delta(walk.astype(np.float16)))
    same(metrics.msd(t.to(torch.int32)).numpy(), metrics.msd(walk.astype(np.int32)))


def test_torch_many_blocks(walk, monkeypatch):
    """Tiny blocks exercise the block loop on the torch path."""
    from rnndyn import _backends

    monkeypatch.setattr(_backends, "BLOCK_ELEMENTS", 1)
    t = torch.as_tensor(walk)
    for name in COUNTED:
        same(
            getattr(metrics, name)(bidir(t), region="input").numpy(),
            getattr(metrics, name)(bidir(walk), region="input"),
        )


def test_torch_non_finite_is_named(walk):
    t = torch.as_tensor(walk).clone()
    t[4, 3, 2] = float("nan")
    with pytest.raises(RnndynError, match="sequence 4, step 3, unit 2"):
        metrics.msd(t)


# ----------------------------------------------------------------------- dask
@pytest.mark.parametrize("chunks", [(2, 12, 5), (4, 5, 2), (9, 12, 5)])
@pytest.mark.parametrize("region", ["all", "input", "padding"])
def test_dask_matches_numpy_and_stays_lazy(walk, chunks, region):
    d = da.from_array(walk.astype(np.float32), chunks=chunks)
    ref_x = walk.astype(np.float32)
    for name in FUNCS:
        f = getattr(metrics, name)
        got = f(bidir(d, masked=True, order="processing"), region=region)
        assert isinstance(got, da.Array)
        same(got.compute(), f(bidir(ref_x, masked=True, order="processing"), region=region))
    val, counts = metrics.msd(d, region=region, lengths=LENGTHS, return_counts=True)
    ref, ref_counts = metrics.msd(ref_x, region=region, lengths=LENGTHS, return_counts=True)
    assert isinstance(val, da.Array) and isinstance(counts, da.Array)
    same(val.compute(), ref)
    np.testing.assert_array_equal(counts.compute(), ref_counts)


def test_dask_vector_and_normalize(walk):
    d = da.from_array(walk, chunks=(3, 12, 5))
    same(
        metrics.vacf(d, normalize=True, vector=True).compute(),
        metrics.vacf(walk, normalize=True, vector=True),
    )
    same(metrics.rms_delta(d, vector=True).compute(), metrics.rms_delta(walk, vector=True))


def test_dask_non_finite_is_named_at_compute(walk):
    bad = walk.copy()
    bad[7, 10, 3] = np.inf
    d = da.from_array(bad, chunks=(3, 4, 5))
    lazy = metrics.msd(d)  # nothing computed yet: no error
    with pytest.raises(RnndynError, match="sequence 7, step 10, unit 3"):
        lazy.compute()
    with pytest.raises(RnndynError, match="sequence 7, step 10, unit 3"):
        metrics.deltas(d).compute()


def test_dask_on_a_distributed_cluster(walk):
    """The per-chunk tasks pickle and run on separate worker processes."""
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
    ):
        d = da.from_array(walk, chunks=(4, 12, 5))
        same(metrics.msd(bidir(d), region="input").compute(), metrics.msd(bidir(walk), region="input"))
