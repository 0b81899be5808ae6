"""Loading model files through the plugins' ``rnndyn_load_model`` hooks: a file that is not
what its name says gets an ``RnndynError`` naming the file, the part and why, and nothing
is ever unpickled (``pickle`` and ``torch.load`` are patched to fail the test if called)."""

from __future__ import annotations

import io
import json
import pickle
import zipfile
from pathlib import Path

import pytest

import rnndyn
from rnndyn.errors import RnndynError

torch = pytest.importorskip("torch")
pytest.importorskip("safetensors")

from safetensors.torch import save_file  # noqa: E402

from rnndyn_torch import io as tio  # noqa: E402
from rnndyn_torch import plugin as torch_plugin  # noqa: E402
from rnndyn_torch import save_rnn  # noqa: E402


@pytest.fixture(autouse=True)
def no_unpickling(monkeypatch):
    """Any attempt to unpickle (or torch.load) a file fails the test."""

    def boom(*args, **kwargs):
        raise AssertionError("a model file was unpickled")

    monkeypatch.setattr(pickle, "loads", boom)
    monkeypatch.setattr(pickle, "load", boom)
    monkeypatch.setattr(pickle, "Unpickler", boom)
    monkeypatch.setattr(torch, "load", boom)


def _zip(parts: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    return buf.getvalue()


PICKLE = pickle.dumps({"weight": [1.0, 2.0]})  # harmless; must still never be loaded
HDF5 = b"\x89HDF\r\n\x1a\n" + bytes(64)


# ====================================================================== PyTorch
def _lstm_file(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    path = tmp_path / "lstm.safetensors"
    save_rnn(torch.nn.LSTM(3, 4), path)
    return path


def _ours(tmp_path: Path, *, tensors=None, **meta) -> bytes:
    """A safetensors file with rnndyn's metadata, optionally altered."""
    lstm = torch.nn.LSTM(3, 4)
    config = {k: getattr(lstm, k) for k in tio._KEYS["LSTM"]}
    metadata = {"format": tio.FORMAT, "class": "LSTM", "config": json.dumps(config)}
    for k, v in meta.items():
        if isinstance(v, dict):
            metadata["config"] = json.dumps({**config, **v})
        elif v is None:
            metadata.pop(k)
        else:
            metadata[k] = v
    state = {k: v.detach().contiguous() for k, v in lstm.state_dict().items()}
    state.update(tensors or {})
    path = tmp_path / "_ours.safetensors"
    save_file(state, str(path), metadata=metadata)
    return path.read_bytes()


TORCH_CASES = {
    "pickle_pt": ("model.pt", lambda t: PICKLE, "a Python pickle.*unpickling could execute code"),
    "torch_save_zip": (
        "model.pt",
        lambda t: _zip({"archive/data.pkl": PICKLE, "archive/version": b"3\n"}),
        "torch.save archive",
    ),
    "torchscript": (
        "model.pt",
        lambda t: _zip({"m/constants.pkl": PICKLE, "m/code/m.py": b"def f(): pass"}),
        "TorchScript archive",
    ),
    "keras_archive": ("model.safetensors", lambda t: _zip({"config.json": b"{}"}), "Keras archive"),
    "damaged_zip": ("model.pt", lambda t: b"PK\x03\x04" + bytes(30), "damaged zip"),
    "hdf5": ("model.h5", lambda t: HDF5, "HDF5 file"),
    "text": ("model.safetensors", lambda t: b"hello, I am text", "text file"),
    "binary": ("model.bin", lambda t: bytes(range(255, 0, -1)), "binary data"),
    "empty": ("model.safetensors", lambda t: b"", "an empty file"),
    "plain_state_dict": (
        "w.safetensors",
        lambda t: _ours(t, format=None),
        "safetensors file without rnndyn_torch.save_rnn's metadata",
    ),
    "other_format_tag": (
        "w.safetensors",
        lambda t: _ours(t, format="other/1"),
        "without rnndyn_torch.save_rnn",
    ),
    "truncated": ("w.safetensors", lambda t: _ours(t)[:-40], "damaged or truncated"),
    "unknown_class": (
        "w.safetensors",
        lambda t: _ours(t, **{"class": "Transformer"}),
        "unknown recurrent class",
    ),
    "config_not_json": ("w.safetensors", lambda t: _ours(t, config="{oops"), "'config' is not valid JSON"),
    "config_list": ("w.safetensors", lambda t: _ours(t, config="[1, 2]"), "config must hold exactly"),
    "config_missing_key": (
        "w.safetensors",
        lambda t: _ours(t, config=json.dumps({"input_size": 3})),
        "config must hold exactly",
    ),
    "hidden_negative": (
        "w.safetensors",
        lambda t: _ours(t, cfg={"hidden_size": -4}),
        "'hidden_size' has a bad",
    ),
    "hidden_zero": ("w.safetensors", lambda t: _ours(t, cfg={"hidden_size": 0}), "'hidden_size' has a bad"),
    "hidden_float": (
        "w.safetensors",
        lambda t: _ours(t, cfg={"hidden_size": 4.5}),
        "'hidden_size' has a bad",
    ),
    "hidden_bool": (
        "w.safetensors",
        lambda t: _ours(t, cfg={"hidden_size": True}),
        "'hidden_size' has a bad",
    ),
    "hidden_str": ("w.safetensors", lambda t: _ours(t, cfg={"hidden_size": "4"}), "'hidden_size' has a bad"),
    "bias_int": ("w.safetensors", lambda t: _ours(t, cfg={"bias": 1}), "'bias' has a bad"),
    "dropout_big": ("w.safetensors", lambda t: _ours(t, cfg={"dropout": 2.0}), "'dropout' has a bad"),
    "wrong_shape": (
        "w.safetensors",
        lambda t: _ours(t, tensors={"bias_hh_l0": torch.zeros(3)}),
        "tensors do not fit",
    ),
    "int_tensor": (
        "w.safetensors",
        lambda t: _ours(t, tensors={"bias_hh_l0": torch.zeros(16, dtype=torch.int32)}),
        "'bias_hh_l0' has dtype 'I32'",
    ),
}


@pytest.mark.parametrize("case", sorted(TORCH_CASES))
def test_torch_bad_files_are_refused_when_torch_is_asked(tmp_path, case):
    name, make, pattern = TORCH_CASES[case]
    path = tmp_path / name
    path.write_bytes(make(tmp_path))
    with pytest.raises(RnndynError, match=pattern) as exc:
        torch_plugin.rnndyn_load_model(str(path), "torch")
    assert str(path) in str(exc.value)


@pytest.mark.parametrize("case", ["pickle_pt", "torch_save_zip", "text", "empty", "plain_state_dict"])
def test_torch_declines_what_is_not_its_format_when_not_asked(tmp_path, case):
    name, make, _ = TORCH_CASES[case]
    path = tmp_path / name
    path.write_bytes(make(tmp_path))
    assert torch_plugin.rnndyn_load_model(str(path), None) is None
    assert tio.load_model(str(path), strict=False) is None


def test_torch_pickle_is_refused_with_the_formats_that_load(tmp_path):
    path = tmp_path / "model.pt"
    path.write_bytes(PICKLE)
    with pytest.raises(RnndynError) as exc:
        torch_plugin.rnndyn_load_model(str(path), "PyTorch")
    msg = str(exc.value)
    assert "rnndyn_torch.save_rnn" in msg and "weights_only=True" in msg and "safetensors" in msg


@pytest.mark.parametrize("kind", ["missing", "folder"])
def test_torch_missing_path_or_folder(tmp_path, kind):
    path = tmp_path / "nothing.safetensors"
    if kind == "folder":
        path.mkdir()
    with pytest.raises(RnndynError, match="no such file" if kind == "missing" else "a folder") as exc:
        tio.load_model(str(path), strict=True)
    assert str(path) in str(exc.value)


def test_torch_good_file_still_loads_and_other_frameworks_decline(tmp_path):
    path = _lstm_file(tmp_path)
    assert isinstance(torch_plugin.rnndyn_load_model(str(path), "torch"), torch.nn.LSTM)
    assert isinstance(rnndyn.plugins.load_model(path), torch.nn.LSTM)
    assert torch_plugin.rnndyn_load_model(str(path), "keras") is None


# ====================================================================== Keras
@pytest.fixture(scope="module")
def keras_file(tmp_path_factory) -> Path:
    """A tiny, valid Keras 3 archive (built-in layers only)."""
    pytest.importorskip("keras")
    from examples.dates._study_capture import quiet_frameworks

    quiet_frameworks()
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((5, 3)), keras.layers.SimpleRNN(4, name="rnn")])
    path = tmp_path_factory.mktemp("keras") / "tiny.keras"
    model.save(path)
    return path


def _keras_parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def _with(path: Path, **replace) -> bytes:
    parts = _keras_parts(path)
    for name, data in replace.items():
        name = name.replace("__", ".")
        if data is None:
            parts.pop(name)
        else:
            parts[name] = data
    return _zip(parts)


def _edit_config(path: Path, fn) -> bytes:
    cfg = json.loads(_keras_parts(path)["config.json"])
    fn(cfg)
    return _with(path, config__json=json.dumps(cfg).encode())


def _rnn_layer(cfg: dict) -> dict:
    return next(layer for layer in cfg["config"]["layers"] if layer["config"].get("name") == "rnn")


def _set(**kv):
    def fn(cfg):
        _rnn_layer(cfg).update(kv)

    return fn


def _flip_byte(path: Path) -> bytes:
    # a stored (uncompressed) part with one byte changed: its CRC no longer matches
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, data in _keras_parts(path).items():
            zf.writestr(name, data)
    raw = bytearray(buf.getvalue())
    i = raw.index(b'"class_name"')
    raw[i + 2] ^= 0x20
    return bytes(raw)


KERAS_CASES = {
    "text": (lambda p: b"just some text", "not a Keras archive.*a text file"),
    "empty": (lambda p: b"", "not a Keras archive.*an empty file"),
    "pickle": (lambda p: PICKLE, "not a Keras archive.*a Python pickle"),
    "legacy_h5": (lambda p: HDF5, "not a Keras archive.*HDF5"),
    "binary": (lambda p: bytes(range(255, 0, -1)), "not a Keras archive.*binary data"),
    "other_zip": (lambda p: _zip({"readme.txt": b"hi"}), "a zip archive without"),
    "torch_zip": (lambda p: _zip({"archive/data.pkl": PICKLE}), "a zip archive without"),
    "truncated": (lambda p: p.read_bytes()[: len(p.read_bytes()) // 2], "not a Keras archive|damaged"),
    "crc": (_flip_byte, "'config.json' is corrupted"),
    "no_config": (lambda p: _with(p, config__json=None), "without \\['config.json'\\]"),
    "no_metadata": (lambda p: _with(p, metadata__json=None), "without \\['metadata.json'\\]"),
    "no_weights": (lambda p: _with(p, model__weights__h5=None), "without \\['model.weights.h5'\\]"),
    "config_not_json": (
        lambda p: _with(p, config__json=b"{'single': quotes}"),
        "'config.json' is not valid JSON",
    ),
    "config_binary": (lambda p: _with(p, config__json=b"\x80\x81"), "'config.json' is not valid JSON"),
    "config_list": (lambda p: _with(p, config__json=b"[]"), "config.json is not a Keras model config"),
    "config_no_class": (lambda p: _with(p, config__json=b'{"config": {}}'), "not a Keras model config"),
    "metadata_not_json": (lambda p: _with(p, metadata__json=b"keras 3"), "'metadata.json' is not valid JSON"),
    "weights_text": (lambda p: _with(p, model__weights__h5=b"weights"), "'model.weights.h5' is not an HDF5"),
    "weights_pickle": (
        lambda p: _with(p, model__weights__h5=PICKLE),
        "'model.weights.h5' is not an HDF5.*pickle",
    ),
    "lambda": (lambda p: _edit_config(p, _set(class_name="Lambda")), "Lambda layer.*safe mode refuses"),
    "lambda_fn": (
        lambda p: _edit_config(p, _set(config={"function": {"class_name": "__lambda__", "config": {}}})),
        "__lambda__",
    ),
    "custom_module": (
        lambda p: _edit_config(p, _set(module="evil.layers", class_name="Evil")),
        "'Evil' from module 'evil.layers'.*not built into Keras",
    ),
    "unknown_builtin": (
        lambda p: _edit_config(p, _set(class_name="NoSuchLayer")),
        "Keras could not rebuild the model",
    ),
    "weights_hdf5_garbage": (
        lambda p: _with(p, model__weights__h5=HDF5),
        "Keras could not rebuild the model",
    ),
}


@pytest.mark.parametrize("case", sorted(KERAS_CASES))
def test_keras_bad_archives_are_refused(tmp_path, keras_file, case):
    from rnndyn_keras import plugin as keras_plugin

    make, pattern = KERAS_CASES[case]
    path = tmp_path / "model.keras"
    path.write_bytes(make(keras_file))
    for framework in (None, "keras", "TensorFlow"):
        with pytest.raises(RnndynError, match=pattern) as exc:
            keras_plugin.rnndyn_load_model(str(path), framework)
        assert str(path) in str(exc.value)
    with pytest.raises(RnndynError, match=pattern):
        rnndyn.plugins.load_model(path)


def test_keras_real_lambda_model_is_refused_without_running_code(tmp_path, keras_file):
    import keras

    from rnndyn_keras import plugin as keras_plugin

    model = keras.Sequential([keras.Input((3,)), keras.layers.Lambda(lambda x: x * 2.0, name="double")])
    path = tmp_path / "lambda.keras"
    model.save(path)
    with pytest.raises(RnndynError, match="Lambda layer") as exc:
        keras_plugin.rnndyn_load_model(str(path), None)
    assert str(path) in str(exc.value)


@pytest.mark.parametrize("kind", ["missing", "folder"])
def test_keras_missing_path_or_folder(tmp_path, kind):
    from rnndyn_keras import plugin as keras_plugin

    path = tmp_path / "nothing.keras"
    if kind == "folder":
        path.mkdir()
    with pytest.raises(RnndynError, match="no such file" if kind == "missing" else "folder") as exc:
        keras_plugin.rnndyn_load_model(str(path), "keras")
    assert str(path) in str(exc.value)


@pytest.mark.parametrize("name", ["model.h5", "model.pt", "saved_model"])
def test_keras_asked_for_other_suffix_says_which_files_load(tmp_path, name):
    from rnndyn_keras import plugin as keras_plugin

    path = tmp_path / name
    path.write_bytes(HDF5)
    assert keras_plugin.rnndyn_load_model(str(path), None) is None
    assert keras_plugin.rnndyn_load_model(str(path), "torch") is None
    with pytest.raises(RnndynError, match="only Keras 3 archives named '.keras'") as exc:
        keras_plugin.rnndyn_load_model(str(path), "keras")
    assert str(path) in str(exc.value)


def test_keras_good_archive_still_loads(keras_file):
    import keras

    from rnndyn_keras import plugin as keras_plugin

    model = keras_plugin.rnndyn_load_model(str(keras_file), "keras")
    assert isinstance(model, keras.Model) and model.get_layer("rnn").units == 4
    assert keras_plugin.rnndyn_load_model(str(keras_file), "torch") is None
