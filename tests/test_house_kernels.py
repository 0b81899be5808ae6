"""The array kernels floor: backends chosen by type, one reduction driver, the block kernels."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rnndyn import RnndynError, metrics
from rnndyn._backends import Backend, DaskBackend, NumpyBackend, TorchBackend, get_backend

FUNCS = ("deltas", "rms_delta", "mean_abs_delta", "vacf", "vacf_two_time", "msd", "msd_from_start")
FLOOR = ("_backends.py", "_reduce.py", "_kernels.py", "_averaging.py", "metrics.py")
LENGTHS = np.array([7, 0, 1, 2, 5, 7, 3])


@pytest.fixture(scope="module")
def walk() -> np.ndarray:
    rng = np.random.default_rng(5)
    return np.cumsum(rng.standard_normal((len(LENGTHS), 7, 4)), axis=1)


def test_backend_is_chosen_by_type():
    assert type(get_backend(np.zeros((2, 3, 1)))) is NumpyBackend
    assert type(get_backend(np.float64(1.0))) is Backend  # not an ndarray: the array-API fallback
    torch = pytest.importorskip("torch")
    assert type(get_backend(torch.zeros(2, 3, 1))) is TorchBackend
    da = pytest.importorskip("dask.array")
    be = get_backend(da.zeros((2, 3, 1)))
    assert type(be) is DaskBackend and be.lazy and not be.threaded


def test_choosing_a_backend_imports_no_framework():
    code = (
        "import sys, numpy as np\n"
        "from rnndyn._backends import DaskBackend, TorchBackend, get_backend\n"
        "get_backend(np.zeros(3)); get_backend(np.float32(1))\n"
        "assert not TorchBackend.is_appropriate_type(np.zeros(3))\n"
        "assert not DaskBackend.is_appropriate_type(np.zeros(3))\n"
        "print(sorted(m for m in ('torch', 'dask', 'tensorflow', 'keras', 'jax') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_floor_has_no_framework_sniffing_and_small_files():
    root = Path(metrics.__file__).parent
    for name in FLOOR:
        text = (root / name).read_text()
        assert "__module__" not in text, name
        assert ".kind ==" not in text and ".kind !=" not in text, name
        assert len(text.splitlines()) <= 380, name
    assert not (root / "_fft.py").exists()


@pytest.mark.parametrize("pad", [None, 16])
def test_numpy_backend_matches_the_array_api_fallback(walk, pad):
    x = walk.astype(np.float32)
    fast, generic = NumpyBackend(x), Backend(x)
    T = x.shape[1]
    np.testing.assert_array_equal(fast.time_last(x), generic.time_last(x))
    np.testing.assert_array_equal(fast.step_deltas(x), generic.step_deltas(x))
    np.testing.assert_array_equal(fast.from_first(x), generic.from_first(x))
    centered = fast.centered_time_last(x, pad=pad)
    np.testing.assert_allclose(centered[..., :T], generic.centered_time_last(x, pad=pad), atol=1e-12)
    d = fast.deltas_time_last(x, pad=pad)
    np.testing.assert_allclose(d[..., : T - 1], generic.deltas_time_last(x, pad=pad), atol=1e-12)
    if pad:  # the padding of a reused buffer stays zero
        assert not np.any(centered[..., T:]) and not np.any(d[..., T - 1 :])
    v = generic.step_deltas(x)
    for power in (1, 2):
        np.testing.assert_allclose(fast.sum_power(v.copy(), power), generic.sum_power(v.copy(), power))
    Y = fast.rfft(generic.time_last(x), 16)
    acc = np.zeros(Y.shape[1:])
    fast.add_power(acc, Y.copy())
    np.testing.assert_allclose(acc, generic.power_sum(Y), rtol=1e-13)
    np.testing.assert_allclose(fast.irfft(Y, 16), generic.irfft(Y, 16), atol=1e-12)


@pytest.mark.parametrize("n_units", [1, 5, 300])
def test_unit_chunks_cover_every_unit_once(n_units):
    be = NumpyBackend(np.zeros(1))
    chunks = be.unit_chunks(n_units, 7, 64)
    assert np.array_equal(np.concatenate([np.arange(n_units)[c] for c in chunks]), np.arange(n_units))
    assert Backend(np.zeros(1)).unit_chunks(n_units, 7, 64) == [slice(0, n_units)]


@pytest.mark.parametrize("region", ["all", "input", "padding"])
def test_metrics_through_the_fallback_backend(walk, region, monkeypatch):
    """Every kernel also runs on the generic array-API backend, with the same numbers."""
    import rnndyn._backends as backends

    ref = {name: getattr(metrics, name)(walk, region=region, lengths=LENGTHS) for name in FUNCS}
    monkeypatch.setattr(backends, "BACKENDS", ())
    monkeypatch.setattr(backends, "_type2backend", {})
    assert type(get_backend(walk)) is Backend
    for name in FUNCS:
        got = getattr(metrics, name)(walk, region=region, lengths=LENGTHS)
        np.testing.assert_allclose(got, ref[name], rtol=1e-12, atol=1e-12, equal_nan=True, err_msg=name)


def test_dask_chunk_names_the_global_position(walk):
    da = pytest.importorskip("dask.array")
    x = walk.copy()
    x[5, 3, 2] = np.inf
    d = da.from_array(x, chunks=(2, 4, 2))
    with pytest.raises(RnndynError, match="sequence 5, step 3, unit 2"):
        metrics.deltas(d).compute()
    with pytest.raises(RnndynError, match="sequence 5, step 3, unit 2"):
        metrics.msd(d).compute()
