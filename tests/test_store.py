"""The zarr store of ``rnndyn.capture(..., store=path)``: round trips and out-of-core analysis.

Every store is a real zarr store in ``tmp_path``; the reference is the same
call of :func:`rnndyn.capture` without ``store=`` (in memory).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import zarr
from rnndyn_numpyrnn import NumpyRNN

import rnndyn
from rnndyn import metrics
from rnndyn.adapter import LayerInfo, units_table
from rnndyn.hookspecs import hookimpl
from rnndyn.plugins import get_plugin_manager
from rnndyn.store import open_store, store_info
from rnndyn.summary import unit_summary


# ------------------------------------------------------------------ a model with every Steps feature
class GridModel:
    """Two layers (``enc``: both directions, masked; ``dec``: explicit orders); 0 in the inputs is padding."""

    n_units = 2


class GridAdapter:
    framework = "grid"

    def __init__(self, model: GridModel) -> None:
        self.model = model

    def layers(self):
        return [
            LayerInfo("enc", "Grid", ("h", "c"), ("forward", "backward"), 2),
            LayerInfo("dec", "Grid", ("h",), ("forward",), 2),
        ]

    def capture(self, batches, targets, *, device=None):
        for batch in batches:
            x = np.asarray(batch.data, dtype=float)  # (n, T)
            valid = x != 0  # padding anywhere
            order = np.argsort(-np.abs(x), axis=1, kind="stable")  # explicit processing order
            parts, tables = [], []
            for layer, state in targets:
                dirs = ("forward", "backward") if layer == "enc" else ("forward",)
                for j, _ in enumerate(dirs):
                    for u in range(2):
                        k = 1 + j + 2 * u + (state == "c")
                        parts.append(np.sin(np.cumsum(x, axis=1) * 0.3 * k) + 0.1 * k * x)
                tables.append(units_table(layer, state, dirs, 2))
            steps = rnndyn.Steps(valid, masked={"enc": True}, orders={("dec", "forward"): order})
            units = pd.concat(tables, ignore_index=True)
            yield rnndyn.Trajectories(np.stack(parts, axis=2), units=units, steps=steps)


class GridPlugin:
    @hookimpl
    def rnndyn_claim_model(self, model):
        return GridAdapter(model) if isinstance(model, GridModel) else None


@pytest.fixture(scope="module")
def grid_plugin():
    manager = get_plugin_manager()
    name = manager.register(GridPlugin(), name="test-store-grid")
    yield
    manager.unregister(name=name)


def grid_inputs(n: int = 11, T: int = 7, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.integers(1, 5, size=(n, T)).astype(float)
    x[rng.random((n, T)) < 0.3] = 0.0  # padding anywhere
    x[:, 0] = 1.0
    return x


def assert_same(stored: rnndyn.Trajectories, mem: rnndyn.Trajectories) -> None:
    """Every field of the store's Trajectories equals the in-memory capture's."""
    assert type(stored.states).__module__.startswith("dask")
    assert stored.shape == mem.shape
    assert np.asarray(stored.states).dtype == mem.states.dtype
    np.testing.assert_array_equal(np.asarray(stored.states), mem.states)
    assert stored.steps == mem.steps
    assert stored.steps.masked == mem.steps.masked
    assert sorted(stored.steps.orders) == sorted(mem.steps.orders)
    pd.testing.assert_frame_equal(stored.units, mem.units)
    assert stored.order == mem.order
    if mem.inputs is None:
        assert stored.inputs is None
    else:
        assert len(stored.inputs) == len(mem.inputs)
        for a, b in zip(stored.inputs, mem.inputs, strict=True):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
            assert type(a) is type(b) or isinstance(b, np.ndarray)


# ------------------------------------------------------------------ round trips
def test_round_trip_padding_anywhere_masked_orders_layers_states(tmp_path, grid_plugin):
    x = grid_inputs()
    kw = dict(layer=["enc", "dec"], state="h", batch_size=4, progress=False)
    mem = rnndyn.capture(GridModel(), x, **kw)
    assert not mem.steps.right_padded and mem.steps.orders  # the features are really there
    stored = rnndyn.capture(GridModel(), x, store=tmp_path / "g.zarr", **kw)
    assert_same(stored, mem)
    assert_same(open_store(tmp_path / "g.zarr"), mem)
    both = dict(kw, layer="enc", state=["h", "c"])
    assert_same(
        rnndyn.capture(GridModel(), x, store=tmp_path / "hc.zarr", **both),
        rnndyn.capture(GridModel(), x, **both),
    )


def test_round_trip_string_inputs_with_lengths(tmp_path):
    words = ["ab", "abba", "b", "baaab", "aab", "ü", "bbbbbb"]
    T = max(map(len, words))

    def collate(group):
        out = np.zeros((len(group), T, 2))
        for i, w in enumerate(group):
            for t, ch in enumerate(w):
                out[i, t, "ab".find(ch) if ch in "ab" else 0] = 1.0
        return out

    model = NumpyRNN.random(n_inputs=2, n_units=3, seed=4)
    kw = dict(
        state=["h", "z"], lengths=[len(w) for w in words], batch_size=3, collate=collate, progress=False
    )
    mem = rnndyn.capture(model, words, **kw)
    stored = rnndyn.capture(model, words, store=tmp_path / "w.zarr", **kw)
    assert stored.inputs == words and all(type(w) is str for w in stored.inputs)
    assert_same(stored, mem)
    # the strings are plain uint32 code points on disk, no object or pickle codec anywhere
    group = zarr.open_group(tmp_path / "w.zarr", mode="r")
    assert group["inputs"].dtype == np.dtype("uint32")
    text = "".join(p.read_text() for p in (tmp_path / "w.zarr").rglob("zarr.json"))
    assert "pickle" not in text.lower() and "object" not in text.lower()


def test_round_trip_numeric_array_examples(tmp_path):
    rng = np.random.default_rng(2)
    examples = [rng.normal(size=(6, 2)) for _ in range(9)]
    model = NumpyRNN.random(n_inputs=2, n_units=2, seed=1)
    mem = rnndyn.capture(model, examples, batch_size=4, progress=False)
    stored = rnndyn.capture(model, examples, batch_size=4, progress=False, store=tmp_path / "e.zarr")
    assert_same(stored, mem)
    assert zarr.open_group(tmp_path / "e.zarr", mode="r")["inputs"].shape == (9, 6, 2)


def test_metadata_and_chunks(tmp_path):
    model = NumpyRNN.random(n_inputs=2, n_units=3, seed=0)
    x = np.random.default_rng(0).normal(size=(10, 5, 2)).astype(np.float32)
    traj = rnndyn.capture(model, x, batch_size=4, progress=False, store=tmp_path / "m.zarr")
    info = store_info(tmp_path / "m.zarr")
    assert info["model"] == "rnndyn_numpyrnn.model.NumpyRNN"
    assert (info["layers"], info["states"], info["batch_size"]) == (["rnn"], ["h"], 4)
    assert info["versions"]["rnndyn"] == rnndyn.__version__ and info["versions"]["framework"] == "numpyrnn"
    assert (info["n_batches"], info["complete_batches"], info["n_sequences"]) == (3, 3, 10)
    import hashlib

    assert info["fingerprints"]["inputs"] == rnndyn._store_codec.fingerprint_inputs(x)
    assert len(info["fingerprints"]["call"]) == len(hashlib.sha256().hexdigest())
    # one chunk per batch, along the sequences
    assert traj.states.chunks == ((4, 4, 2), (5,), (3,))
    assert zarr.open_group(tmp_path / "m.zarr", mode="r")["states"].chunks == (4, 5, 3)
    record = json.loads((tmp_path / "m.zarr" / "rnndyn-progress.json").read_text())
    assert len(record["complete"]) == 3 and record["call"]["batch_size"] == 4


# ------------------------------------------------------------------ out of core
@pytest.fixture(scope="module")
def big(tmp_path_factory, grid_plugin):
    path = tmp_path_factory.mktemp("ooc") / "big.zarr"
    x = grid_inputs(n=23, T=9, seed=5)
    kw = dict(layer=["enc", "dec"], batch_size=5, progress=False)
    return rnndyn.capture(GridModel(), x, store=path, **kw), rnndyn.capture(GridModel(), x, **kw)


def _close(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    assert a.shape == b.shape
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    np.testing.assert_allclose(a[~np.isnan(a)], b[~np.isnan(b)], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("region", ["all", "input", "padding"])
def test_every_metric_out_of_core_equals_in_memory(big, region):
    stored, mem = big
    for name in ("rms_delta", "mean_abs_delta", "vacf_two_time", "msd_from_start"):
        fn = getattr(metrics, name)
        _close(fn(stored, region=region), fn(mem, region=region))
    for name in ("msd", "vacf"):
        fn = getattr(metrics, name)
        _close(fn(stored, region=region, max_lag=5), fn(mem, region=region, max_lag=5))
    _close(metrics.deltas(stored, region=region), metrics.deltas(mem, region=region))


def test_unit_summary_out_of_core_equals_in_memory(big):
    stored, mem = big
    a, b = unit_summary(stored), unit_summary(mem)
    assert list(a.columns) == list(b.columns) and len(a) == len(b)
    for col in a.columns:
        if pd.api.types.is_numeric_dtype(b[col]):
            _close(a[col].to_numpy(), b[col].to_numpy())
        else:
            assert a[col].tolist() == b[col].tolist()


def test_open_store_reads_only_chunks_it_checked(big):
    stored, mem = big
    part = stored.take([1, 7, 22])
    np.testing.assert_array_equal(np.asarray(part.states), mem.states[[1, 7, 22]])
    np.testing.assert_array_equal(np.asarray(stored.states[3:12, 2:4]), mem.states[3:12, 2:4])
