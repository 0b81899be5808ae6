"""Bad inputs to `rnndyn.capture`, the plugin manager and the two adapters.

Every case asserts the error type and that the message names the argument
and says what to do; the checks run before the model does (no batch runs).
Tiny models: ``nn.LSTM(3, 4, batch_first=True)``, and one Keras ``Sequential``
per module (Keras imports are slow).
"""

from __future__ import annotations

import os
import random
import re
from collections.abc import Iterator

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from _torch_fixtures import _one_thread  # noqa: E402, F401  (autouse fixture)
from torch import nn  # noqa: E402

import rnndyn  # noqa: E402
from rnndyn import PluginError, RnndynError, capture, iter_capture, plugins  # noqa: E402
from rnndyn._batching import default_collate  # noqa: E402
from rnndyn._targets import resolve_targets  # noqa: E402
from rnndyn.adapter import Batch  # noqa: E402
from rnndyn_torch import TorchAdapter  # noqa: E402

N, T, F = 5, 6, 3
NAN = float("nan")


def _lstm() -> nn.LSTM:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return nn.LSTM(F, 4, batch_first=True)


LSTM = _lstm()
X = torch.from_numpy(np.random.default_rng(0).normal(size=(N, T, F)).astype(np.float32))


def run(model=LSTM, inputs=X, **kw):
    kw.setdefault("progress", False)
    return capture(model, inputs, **kw)


def raises(match: str, fn, *args, error=RnndynError, **kw) -> str:
    """Call fn, assert it raises ``error`` matching ``match``; return the message."""
    with pytest.raises(error, match=match) as info:
        fn(*args, **kw)
    return str(info.value)


def _gen(*items):
    yield from items


# ------------------------------------------------------------- batch_size
@pytest.mark.parametrize(
    "batch_size, said",
    [
        (0, ">= 1; got 0"),
        (-1, ">= 1; got -1"),
        (2.5, "must be an int; got 2.5"),
        (4.0, "must be an int; got 4.0"),
        (True, "must be an int; got True"),
        ("8", "must be an int; got '8'"),
        (None, "must be an int; got None"),
        (np.float64(8), "must be an int"),
    ],
)
def test_batch_size_is_refused(batch_size, said):
    msg = raises("batch_size", run, batch_size=batch_size)
    assert said in msg and "e.g. batch_size=256" in msg


def test_a_huge_batch_size_is_one_batch():
    ref = run(batch_size=2).states
    got = run(batch_size=10**15)
    np.testing.assert_allclose(got.states, ref, atol=1e-6)
    assert list(iter_capture(LSTM, X, batch_size=np.int64(10**12), progress=False))[0].n_sequences == N


# --------------------------------------------------------------- progress
@pytest.mark.parametrize("progress", ["yes", "False", 1, 0, None, [True]])
def test_progress_must_be_a_bool(progress):
    msg = raises("progress must be True or False", run, progress=progress)
    assert "progress=False hides" in msg


# ------------------------------------------------------------------ state
@pytest.mark.parametrize(
    "state, error, said",
    [
        ("x", PluginError, "no state 'x'; its states are 'h', 'c', 'i', 'f', 'g', 'o'"),
        (["h", "zz"], PluginError, "no state 'zz'"),
        (1, RnndynError, "state must be a name or a list of names.*got int 1"),
        (None, RnndynError, "state must be a name or a list of names.*got NoneType None"),
        ([], RnndynError, "state is an empty list; give at least one name"),
        (["h", "h"], RnndynError, r"state lists \['h'\] more than once; list each name once"),
        ("", RnndynError, "state holds an empty name"),
        (["h", 3], RnndynError, "state must be a name or a list of names"),
        ({"h"}, RnndynError, "state must be a name or a list of names.*got set"),
    ],
)
def test_bad_state(state, error, said):
    msg = raises(said, run, state=state, error=error)
    if error is RnndynError and "more than once" not in msg:
        assert "h, c, i, f, g, o" in msg  # says which states exist


# ------------------------------------------------------------------ layer
@pytest.mark.parametrize(
    "layer, error, said",
    [
        ("foo", PluginError, "Unknown layer 'foo'"),
        ("lstm.l0", PluginError, "Unknown layer 'lstm.l0'"),
        (1, RnndynError, "layer must be a name or a list of names.*got int 1"),
        ("", RnndynError, "layer holds an empty name ''"),
        ("  ", RnndynError, "layer holds an empty name"),
        ([], RnndynError, "layer is an empty list"),
        (["lstm", None], RnndynError, "layer must be a name or a list of names"),
    ],
)
def test_bad_layer_lists_the_layers_that_exist(layer, error, said):
    msg = raises(said, run, layer=layer, error=error)
    assert "'lstm' (LSTM; states h, c, i, f, g, o; forward; 4 units; batch-first)" in msg


def test_duplicate_layers():
    raises(r"layer lists \['lstm'\] more than once", run, layer=["lstm", "lstm"])


# ---------------------------------------------------------------- lengths
_META_LENGTHS = "meta"


@pytest.mark.parametrize(
    "lengths, said",
    [
        ([6, 6], "lengths has 2 entries but inputs hold 5 sequences"),
        ([6] * 6, "lengths has 6 entries but inputs hold 5"),
        ([5.5] * N, r"whole numbers of steps; lengths\[0\] is 5.5"),
        ([6, 6, 6, 6, NAN], r"whole numbers of steps; lengths\[4\] is nan"),
        ([6, float("inf"), 6, 6, 6], r"lengths\[1\] is inf"),
        ([6, 6, -1, 6, 6], "lengths must be >= 0; sequence 2 has length -1"),
        ([1e300] * N, "far beyond any number of steps"),
        ([True] * N, "lengths holds booleans.*mask.sum"),
        ("abc", "lengths must be a 1-d array of ints; got str"),
        (6, "lengths must be a 1-d array of ints; got int 6"),
        ({"a": 6}, "lengths must be a 1-d array of ints; got dict"),
        ([[6] * N], r"1-d array with one entry per sequence; got shape \(1, 5\)"),
        ([[1, 2], [3]], "lengths could not be read"),
        (np.array(["6"] * N), "whole numbers"),
        (_META_LENGTHS, "lengths is a tensor on the 'meta' device"),
    ],
)
def test_bad_lengths(lengths, said):
    if isinstance(lengths, str) and lengths == _META_LENGTHS:
        lengths = torch.full((N,), 6, dtype=torch.long, device="meta")
    msg = raises(said, run, lengths=lengths)
    assert "length" in msg


def test_lengths_beyond_the_steps_are_refused():
    msg = raises("lengths must lie in", run, lengths=[7] * N)
    assert "batch 0" in msg and "n_steps=6" in msg


def test_whole_float_and_torch_lengths_are_taken():
    a = run(lengths=[6.0, 5.0, 4.0, 3.0, 2.0])
    b = run(lengths=torch.tensor([6, 5, 4, 3, 2]))
    assert a.lengths.tolist() == b.lengths.tolist() == [6, 5, 4, 3, 2]


# ----------------------------------------------------------------- inputs
def _object_array():
    a = np.empty(2, dtype=object)
    a[0], a[1] = np.zeros((3, F)), np.zeros((4, F))
    return a


def _nan_at(seq: int, step: int, value: float = NAN) -> torch.Tensor:
    x = X.clone()
    x[seq, step, 1] = value
    return x


@pytest.mark.parametrize(
    "make, said",
    [
        (lambda: torch.zeros(0, T, F), "inputs holds no sequences.*x\\[None\\]"),
        (lambda: np.zeros((0, T, F)), "inputs holds no sequences"),
        (lambda: [], "inputs holds no sequences"),
        (lambda: None, "inputs is None; pass the sequences"),
        (lambda: "abc", "inputs is a single str"),
        (lambda: 3.0, "inputs must be an array of shape.*got float"),
        (lambda: np.float32(3.0), "inputs is a 0-d array"),
        (lambda: {}, "inputs is an empty dict"),
        (lambda: {X[0, 0, 0].item()}, "inputs is a set, which has no order"),
        (lambda: [np.zeros((3, F)), np.zeros((4, F))], "Cannot stack the examples.*lengths="),
        (lambda: _gen(), "inputs yielded no batches.*fresh one"),
        (lambda: iter([]), "inputs yielded no batches"),
        (lambda: _gen(X[:2], X[2:].numpy()), "batch 1 is a numpy.ndarray but batch 0 was a torch.Tensor"),
        # a dict is the model's one argument; keyword arguments are rnndyn.Args(**kwargs)
        (
            lambda: _gen(rnndyn.Args(input=X[:2]), rnndyn.Args(x=X[2:])),
            "batch 1 is rnndyn.Args with the arguments \\['x'\\]",
        ),
        (lambda: _gen(X[:2], X[:0]), "batch 1 holds no sequences"),
        (lambda: _object_array(), "numpy array of dtype object.*ndarray values.*lengths="),
        (lambda: _nan_at(2, 3), r"inputs holds a non-finite value \(nan\) at sequence 2, step 3"),
        (lambda: _nan_at(4, 0, float("inf")), r"non-finite value \(inf\) at sequence 4, step 0"),
        (lambda: _nan_at(0, 5, -float("inf")), r"non-finite value \(-inf\) at sequence 0, step 5"),
        (lambda: _nan_at(1, 1).numpy(), r"non-finite value \(nan\) at sequence 1, step 1"),
        (lambda: _gen(X[:2], _nan_at(3, 2)[2:]), r"Preparing batch 1: .*sequence 3, step 2"),
        (lambda: [x for x in _nan_at(3, 4)], r"Preparing batch 1: .*sequence 3, step 4"),
        (lambda: torch.zeros(N, T, F, device="meta"), "inputs is a tensor on the 'meta' device"),
        (lambda: _gen(torch.zeros(2, T, F, device="meta")), "on the 'meta' device.*device='cpu'"),
    ],
)
def test_bad_inputs(make, said):
    inputs = make()
    # batch_size applies to inputs rnndyn slices; an iterable's items are the batches
    kw = {} if isinstance(inputs, Iterator) else {"batch_size": 3}
    msg = raises(said, run, inputs=inputs, **kw)
    assert "inputs" in msg or "example" in msg


def test_nan_inputs_are_refused_before_the_model_runs():
    calls = []
    handle = LSTM.register_forward_pre_hook(lambda m, a: calls.append(1))
    try:
        raises("non-finite", run, inputs=_nan_at(4, 5), batch_size=2)
    finally:
        handle.remove()
    assert calls == []  # the whole array is checked up front


def test_an_unbatched_2d_input_is_an_input_error():
    msg = raises("batch 0 is 2-d.*one unbatched sequence.*x\\[None\\]", run, inputs=X[0])
    assert "bug" not in msg


# ------------------------------------------------------------------ model
class _SklearnLike:
    def fit(self, x, y):
        return self

    def predict(self, x):
        return x


@pytest.mark.parametrize(
    "model, said",
    [
        (lambda x: x, "plain function"),
        (None, "model is None"),
        (object(), "builtins.object"),
        (_SklearnLike(), "_SklearnLike"),
        (nn.LSTM, "class LSTM, not a model"),
        ("model.pt", "load the model first"),
    ],
)
def test_a_model_no_adapter_claims(model, said):
    msg = raises(said, run, model=model, error=PluginError)
    assert "Installed adapter plugins:" in msg and "torch" in msg and "docs/plugins.md" in msg


# -------------------------------------------- the model's forward pass fails
class _Head(nn.Module):
    """An LSTM and a linear head expecting 5 inputs: the forward pass raises."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(F, 4, batch_first=True)
        self.head = nn.Linear(5, 1)

    def forward(self, x):
        return self.head(self.rnn(x)[0])


@pytest.mark.parametrize(
    "model, inputs, said",
    [
        (LSTM, torch.zeros(N, T, 7), "Expected 3, got 7.*takes 3 features"),
        (LSTM, np.zeros((N, T, 7)), "Expected 3, got 7"),
        (LSTM, torch.zeros(N, T, F, dtype=torch.long), "dtype"),
        (LSTM, torch.zeros(N, T, F, dtype=torch.float64), "dtype"),
        (_Head(), torch.zeros(N, T, F), "RuntimeError: mat1 and mat2"),
    ],
)
def test_exceptions_of_the_forward_pass_blame_the_inputs(model, inputs, said):
    msg = raises(said, run, model=model, inputs=inputs, batch_size=2)
    assert "inputs: batch 0" in msg and "does not fit the model" in msg and "bug" not in msg
    assert "\n" not in msg.split("raised", 1)[1]  # the framework's message on one line


def test_nan_weights_blame_the_model():
    m = _lstm()
    with torch.no_grad():
        m.weight_hh_l0[0, 0] = NAN
    msg = raises("the model produced a non-finite state", run, model=m)
    assert "weights" in msg and "layer 'lstm', state 'h'" in msg and "bug" not in msg


def test_nan_states_of_a_third_party_adapter_blame_the_model():
    numpyrnn = pytest.importorskip("rnndyn_numpyrnn")
    m = numpyrnn.NumpyRNN.random(n_inputs=2, n_units=3, seed=0)
    m.W_h[0, 0] = NAN
    msg = raises(
        "model produced non-finite states from finite inputs", run, model=m, inputs=np.ones((3, 4, 2))
    )
    assert "weights" in msg and "bug" not in msg


# ------------------------------------------------------------ token ids
def _embedder() -> nn.Module:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        return nn.Sequential(nn.Embedding(10, F), nn.LSTM(F, 4, batch_first=True))


@pytest.mark.parametrize("bad", [10, 12, -1, 10**6])
def test_token_ids_out_of_the_embedding(bad):
    ids = torch.tensor([[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    ids[2, 1] = bad
    msg = raises(f"token id {bad} at position \\(2, 1\\)", run, model=_embedder(), inputs=ids, layer="1")
    assert "inputs: batch 0" in msg and "'0'" in msg and "10 entries (ids 0..9)" in msg
    assert "IndexError" not in msg


def test_token_ids_in_range_are_captured():
    ids = torch.tensor([[0, 9, 3], [4, 5, 6]])
    assert run(model=_embedder(), inputs=ids, layer="1").shape == (2, 3, 4)


# ----------------------------------------------------------------- device
@pytest.mark.parametrize(
    "device, said",
    [
        ("nonsense", "device='nonsense' is not a torch device"),
        (3.5, "device must be None.*got float 3.5"),
        (True, "device must be None.*got bool"),
        ("meta", "device='meta' would return states without data"),
        ("cuda:99", "device='cuda:99', but this machine has"),
    ],
)
def test_bad_torch_device(device, said):
    raises(said, run, device=device)


# -------------------------------------------------- random generators untouched
def test_capture_leaves_every_random_generator_where_it_was():
    stacked = nn.LSTM(F, 4, num_layers=2, batch_first=True)  # layer 0 runs on a throwaway copy
    before = (torch.random.get_rng_state(), np.random.get_state(), random.getstate())
    run(model=stacked, layer="lstm.l0", state=["h", "c", "i"], progress=True)
    run(model=stacked, layer=["lstm.l0", "lstm.l1"], state=["h", "f"])
    run(model=_embedder(), inputs=torch.tensor([[1, 2]]), layer="1", state="g")
    after = (torch.random.get_rng_state(), np.random.get_state(), random.getstate())
    assert torch.equal(before[0], after[0])
    assert all(np.array_equal(a, b) for a, b in zip(before[1], after[1], strict=True))
    assert before[2] == after[2]


# ------------------------------------------------ the torch adapter itself
class _LazyModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.inp = nn.LazyLinear(F)
        self.rnn = nn.LSTM(F, 4, batch_first=True)

    def forward(self, x):
        return self.rnn(self.inp(x))


def _meta_lstm():
    with torch.device("meta"):
        return nn.LSTM(F, 4, batch_first=True)


@pytest.mark.parametrize(
    "call, said",
    [
        (lambda: TorchAdapter(5), "model must be a torch.nn.Module; got int"),
        (lambda: TorchAdapter(nn.LSTM), "model must be a torch.nn.Module; got type"),
        (lambda: TorchAdapter(LSTM).capture([Batch(X, None, 0)], ["lstm", "h"]), "targets must be a list of"),
        (lambda: TorchAdapter(LSTM).capture([Batch(X, None, 0)], [("lstm", 1)]), "targets must be a list of"),
        (
            lambda: TorchAdapter(LSTM).capture(Batch(X, None, 0), [("lstm", "h")]),
            "batches must be an iterable",
        ),
        (lambda: next(TorchAdapter(LSTM).capture([X], [("lstm", "h")])), "must yield rnndyn.adapter.Batch"),
        (
            lambda: TorchAdapter(LSTM).capture([Batch(X, None, 0)], [("lstm", "h"), ("lstm", "h")]),
            r"targets lists \('lstm', 'h'\) more than once",
        ),
        (lambda: run(model=_LazyModel()), "is lazy"),
        (lambda: run(model=_meta_lstm()), "on the 'meta' device.*load_state_dict"),
    ],
)
def test_torch_adapter_arguments(call, said):
    raises(said, call)


def test_a_tf_tensor_given_to_a_torch_model(keras_models):
    tf = pytest.importorskip("tensorflow")
    msg = raises("is a tensorflow.*but the model is a PyTorch module", run, inputs=tf.constant(X.numpy()))
    assert "numpy" in msg


# --------------------------------------------------------- plugin manager
@pytest.mark.parametrize(
    "call, said",
    [
        (lambda: plugins.load_model(None), "path must be a file or folder path.*got NoneType"),
        (lambda: plugins.load_model(3), "path must be a file or folder path.*got int"),
        (lambda: plugins.load_model(""), "path is an empty string"),
        (lambda: plugins.load_model("m.pt", framework=3), "framework must be a name.*got int"),
        (lambda: plugins.load_model("m.pt", framework=""), "framework must be a name"),
        (lambda: plugins.load_model("no/such/model.pt"), "nothing exists at path"),
        (lambda: plugins.load_plugins("manager"), "manager must be a pluggy.PluginManager"),
        (lambda: plugins.load_plugins(plugins.make_plugin_manager(), group=""), "group must be the name"),
        (lambda: plugins.load_plugins(plugins.make_plugin_manager(), group=None), "group must be the name"),
        (lambda: default_collate([]), "default_collate\\(\\) needs a non-empty list"),
        (lambda: resolve_targets("lstm", None, "h"), "layers must be a list of rnndyn.adapter.LayerInfo"),
        (lambda: run(collate=5, inputs=[np.zeros((T, F))]), "collate must be a function"),
    ],
)
def test_plugin_manager_arguments(call, said):
    raises(said, call)


def test_list_plugins_lists_both_adapters():
    names = [p["name"] for p in rnndyn.list_plugins()]
    assert {"torch", "keras"} <= set(names)


# ------------------------------------------------------------------ Keras
@pytest.fixture(scope="module")
def keras_models():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    keras = pytest.importorskip("keras")
    keras.utils.set_random_seed(0)
    lstm = keras.Sequential([keras.Input((T, F)), keras.layers.LSTM(4, name="lstm")])
    emb = keras.Sequential(
        [
            keras.Input((T,), dtype="int32"),
            keras.layers.Embedding(10, F, name="emb"),
            keras.layers.GRU(4, name="gru"),
        ]
    )
    return keras, lstm, emb


def _ids(bad=None):
    ids = np.arange(2 * T, dtype="int32").reshape(2, T) % 10
    if bad is not None:
        ids[1, 4] = bad
    return ids


@pytest.mark.parametrize(
    "what, said",
    [
        ("features", r"model expects input shape \(None, 6, 3\).*\(5, 6, 7\)"),
        ("nan", r"non-finite value \(nan\) at sequence 1, step 2"),
        ("torch", "is a torch.Tensor.*tensorflow backend"),
        ("meta", "on the 'meta' device"),
        ("id 10", r"token id 10 at position \(1, 4\).*'emb', which has 10 entries"),
        ("id -1", r"token id -1 at position \(1, 4\).*'emb'"),
        ("device str", "device='nonsense' is not a device Keras can use"),
        ("device int", "device must be None or a Keras device name.*got int 3"),
        ("layer", "(?s)Unknown layer 'gru'.*'lstm' \\(LSTM"),
        ("state", "no state 'z'; its states are 'h', 'c'"),
        ("state empty", "state holds an empty name"),
    ],
)
def test_keras_bad_inputs(keras_models, what, said):
    keras, lstm, emb = keras_models
    x = np.random.default_rng(1).normal(size=(N, T, F)).astype("float32")
    model, kw = lstm, {"inputs": x}
    if what == "features":
        kw["inputs"] = np.zeros((N, T, 7), "float32")
    elif what == "nan":
        x[1, 2, 0] = NAN
    elif what == "torch":
        if keras.backend.backend() != "tensorflow":
            pytest.skip("torch tensors are native on this backend")
        kw["inputs"] = torch.from_numpy(x)
    elif what == "meta":
        kw["inputs"] = torch.zeros(N, T, F, device="meta")
    elif what.startswith("id"):
        model, kw = emb, {"inputs": _ids(int(what.split()[1]))}
    elif what == "device str":
        kw["device"] = "nonsense"
    elif what == "device int":
        kw["device"] = 3
    elif what == "layer":
        kw["layer"] = "gru"
    elif what == "state":
        kw["state"] = ["h", "z"]
    elif what == "state empty":
        kw["state"] = ""
    error = PluginError if what in ("layer", "state") else RnndynError
    msg = raises(said, run, model=model, error=error, **kw)
    assert "bug" not in msg


def test_keras_adapter_arguments(keras_models):
    keras, lstm, _ = keras_models
    from rnndyn_keras import KerasAdapter

    raises("model must be a Keras model or layer.*got int", KerasAdapter, 5)
    raises("model must be a Keras model or layer.*got Sequential", KerasAdapter, keras.Sequential)
    unbuilt = keras.Sequential([keras.layers.LSTM(4)])
    raises("is not built.*load the trained weights", run, model=unbuilt, inputs=np.zeros((2, T, F)))
    adapter = KerasAdapter(lstm)
    raises("targets must be a list of", adapter.capture, [Batch(np.zeros((1, T, F)), None, 0)], ["lstm", "h"])
    raises(
        "must yield rnndyn.adapter.Batch",
        lambda: next(adapter.capture([np.zeros((1, T, F))], [("lstm", "h")])),
    )
    raises(
        r"targets lists \('lstm', 'c'\) more than once",
        adapter.capture,
        [Batch(np.zeros((1, T, F)), None, 0)],
        [("lstm", "c"), ("lstm", "h"), ("lstm", "c")],
    )


def test_keras_ids_in_range_and_generators_untouched(keras_models):
    _, lstm, emb = keras_models
    before = (np.random.get_state(), random.getstate(), torch.random.get_rng_state())
    a = run(model=emb, inputs=_ids(), state=["h", "z", "n"])
    b = run(model=lstm, inputs=np.ones((3, T, F), "float32"), state=["h", "c", "f"])
    after = (np.random.get_state(), random.getstate(), torch.random.get_rng_state())
    assert a.shape == (2, T, 12) and b.shape == (3, T, 12)
    assert all(np.array_equal(u, v) for u, v in zip(before[0], after[0], strict=True))
    assert before[1] == after[1] and torch.equal(before[2], after[2])


def test_every_message_says_what_to_do():
    # a spot check of the wording shared by the cases above
    msgs = [
        raises("batch_size", run, batch_size=0),
        raises("lengths", run, lengths=[1.5] * N),
        raises("inputs", run, inputs=_nan_at(0, 0)),
    ]
    for msg in msgs:
        assert re.search(r"\b(pass|give|replace|use)\b", msg, re.IGNORECASE), msg
