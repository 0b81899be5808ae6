"""The date study's shipped files: the validation set reproduces the shipped numbers, and a
damaged weights folder (vocabularies, validation set, Keras or PyTorch weights) raises
``WeightsError`` naming the file, what is wrong and what to do; nothing is ever unpickled."""

from __future__ import annotations

import io
import json
import math
import pickle
import shutil
import zipfile
from collections import defaultdict
from pathlib import Path

import pytest

pytest.importorskip("babel")
pytest.importorskip("faker")

from examples.dates import _study_capture as K  # noqa: E402
from examples.dates import data as D  # noqa: E402
from examples.dates import models as M  # noqa: E402
from rnndyn.errors import RnndynError  # noqa: E402

SHIPPED = M.DEFAULT_WEIGHTS_DIR
SMALL = (M.INPUT_VOCAB_FILE, M.OUTPUT_VOCAB_FILE, M.VALIDATION_FILE, M.METRICS_FILE)
FIX = r"--train|restore"


def _folder(tmp_path: Path, *files: str) -> Path:
    """A copy of the shipped folder's small files (and ``files``) to damage."""
    d = tmp_path / "weights"
    d.mkdir()
    for name in (*SMALL, *files):
        shutil.copyfile(SHIPPED / name, d / name)
    return d


def _assert_names(exc: pytest.ExceptionInfo, path: Path) -> None:
    msg = str(exc.value)
    assert isinstance(exc.value, RnndynError)
    assert str(path) in msg or path.name in msg, msg


# ------------------------------------------------------------------ the shipped validation set
def test_shipped_validation_set_is_checked_and_complete():
    val = M.load_validation()
    assert len(val) == D.VAL_N == 1000
    assert D.validation_sha256(val) == D.VAL_SHA256
    meta = json.loads((SHIPPED / M.METRICS_FILE).read_text(encoding="utf-8"))["data"]
    assert meta["validation"]["sha256"] == D.VAL_SHA256 and meta["validation"]["n"] == len(val)
    assert meta["n_val"] == len(val)
    lens = [len(r.human) for r in val]
    assert round(sum(lens) / len(lens), 2) == meta["val_length_stats"]["mean"]
    assert (min(lens), max(lens)) == (meta["val_length_stats"]["min"], meta["val_length_stats"]["max"])


def test_shipped_validation_set_is_the_seeded_generator_output():
    # Dates, locales, formats and cases come from the seeded RNGs alone; only Babel's
    # rendering of a few strings may differ from the installed Babel (none with 2.18).
    import babel

    val = M.load_validation()
    gen = D.generate_records(len(val), D.VAL_SEED)
    assert [(r.iso, r.locale, r.format, r.case) for r in val] == [
        (r.iso, r.locale, r.format, r.case) for r in gen
    ]
    differ = sum(a.human != b.human for a, b in zip(val, gen, strict=True))
    if babel.__version__ == "2.18.0":
        assert differ == 0
    else:
        assert differ <= 20


def _per_group(preds: list[str], records: list[D.DateRecord], key: str) -> dict:
    groups: dict[str, list[bool]] = defaultdict(list)
    for p, r in zip(preds, records, strict=True):
        groups[getattr(r, key)].append(p == r.iso)
    return {k: {"accuracy": round(sum(v) / len(v), 4), "n": len(v)} for k, v in sorted(groups.items())}


@pytest.mark.parametrize("fw", ["torch", "keras"])
def test_shipped_models_reproduce_shipped_metrics_exactly(fw):
    val = M.load_validation()
    expected = json.loads((SHIPPED / M.METRICS_FILE).read_text(encoding="utf-8"))[fw]["validation"]
    if fw == "torch":
        torch = pytest.importorskip("torch")
        n = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            preds = M.translate(M.load_torch(), [r.human for r in val])
        finally:
            torch.set_num_threads(n)
    else:
        pytest.importorskip("keras")
        K.quiet_frameworks()
        preds = M.translate(M.load_keras(), [r.human for r in val])
    ok = [p == r.iso for p, r in zip(preds, val, strict=True)]
    assert expected["n"] == len(val)
    assert round(sum(ok) / len(ok), 4) == expected["exact_match"]
    assert _per_group(preds, val, "format") == expected["per_format"]
    assert _per_group(preds, val, "case") == expected["per_case"]
    chars = [a == b for p, r in zip(preds, val, strict=True) for a, b in zip(p, r.iso, strict=True)]
    assert round(sum(chars) / len(chars), 4) == expected["char_accuracy"]


def test_study_reads_the_shipped_records(tmp_path):
    d = _folder(tmp_path)
    val = M.load_validation(d)
    assert K.validation_records(7, d) == val[:7]
    longer = K.validation_records(1003, d)
    assert longer[:1000] == val and len(longer) == 1003
    assert longer[1000:] == D.generate_records(1003, D.VAL_SEED)[1000:]


# ------------------------------------------------------------------ damaged validation set
def _val_obj() -> dict:
    return json.loads((SHIPPED / M.VALIDATION_FILE).read_text(encoding="utf-8"))


def _edit(fn):
    def make() -> bytes:
        obj = _val_obj()
        fn(obj)
        return json.dumps(obj, ensure_ascii=False).encode("utf-8")

    return make


def _set_field(i: int, j: int, value):
    def fn(obj):
        obj["records"][i][j] = value

    return fn


def _drop_last(obj):
    obj["records"].pop()


def _drop_last_and_n(obj):
    obj["records"].pop()
    obj["n"] = len(obj["records"])


def _swap(obj):
    r = obj["records"]
    r[0], r[1] = r[1], r[0]


VAL_DAMAGE = {
    "empty": (lambda: b"", "empty"),
    "binary": (lambda: bytes(range(256)) * 8, "not UTF-8"),
    "truncated": (lambda: (SHIPPED / M.VALIDATION_FILE).read_bytes()[:5000], "not valid JSON"),
    "csv": (lambda: b"human,iso\nJan 1 1990,1990-01-01\n", "not valid JSON"),
    "json_list": (lambda: json.dumps(_val_obj()["records"]).encode(), "JSON object.*got a list"),
    "wrong_kind": (_edit(lambda o: o.update(kind="InputVocab")), "'kind'"),
    "wrong_fields": (_edit(lambda o: o.update(fields=["human", "iso"])), "'fields'"),
    "records_not_list": (_edit(lambda o: o.update(records={"a": 1})), "'records' must be a list"),
    "count_mismatch": (_edit(_drop_last), "'n' says 1000 records but the file holds 999"),
    "n_not_int": (_edit(lambda o: o.update(n="1000")), "'n' says '1000'"),
    "n_bool": (_edit(lambda o: o.update(n=True)), "'n' says True"),
    "fewer_records": (_edit(_drop_last_and_n), "edited or replaced"),
    "no_records": (_edit(lambda o: o.update(records=[], n=0)), "'records' is empty"),
    "row_not_list": (_edit(lambda o: o["records"].__setitem__(3, "Jan 1 1990")), "record 3 .*got a str"),
    "row_short": (_edit(lambda o: o["records"].__setitem__(5, o["records"][5][:4])), "record 5 .*4 fields"),
    "int_entry": (_edit(_set_field(7, 1, 19900101)), "record 7 field 'iso' must be a string; got int"),
    "null_entry": (_edit(_set_field(8, 0, None)), "record 8 field 'human' must be a string; got null"),
    "nan_entry": (_edit(_set_field(9, 0, math.nan)), "record 9 field 'human' must be a string; got float"),
    "list_entry": (_edit(_set_field(9, 2, ["en"])), "record 9 field 'locale' must be a string"),
    "bad_month": (_edit(_set_field(10, 1, "1990-13-01")), "record 10 'iso' must be a real date"),
    "unpadded_iso": (_edit(_set_field(10, 1, "1990-1-01")), "record 10 'iso'"),
    "empty_human": (_edit(_set_field(11, 0, "")), "record 11 'human' must have 1 to 50"),
    "long_human": (_edit(_set_field(11, 0, "x" * 51)), "record 11 'human' .*got 51"),
    "unknown_locale": (_edit(_set_field(12, 2, "xx_YY")), "record 12 'locale'"),
    "unknown_format": (_edit(_set_field(12, 3, "yyyy")), "record 12 'format'"),
    "unknown_case": (_edit(_set_field(12, 4, "title")), "record 12 'case'"),
    "edited_string": (_edit(_set_field(0, 0, "12, Jul 1977")), "edited or replaced"),
    "swapped_records": (_edit(_swap), "edited or replaced"),
}


@pytest.mark.parametrize("case", sorted(VAL_DAMAGE))
def test_damaged_validation_set_is_refused(tmp_path, case):
    make, pattern = VAL_DAMAGE[case]
    d = _folder(tmp_path)
    path = d / M.VALIDATION_FILE
    path.write_bytes(make())
    for call in (lambda: M.load_validation(d), lambda: K.check_weights(d, ["torch"])):
        with pytest.raises(M.WeightsError, match=pattern) as exc:
            call()
        _assert_names(exc, path)
        assert "restore" in str(exc.value) or "--train" in str(exc.value)
    with pytest.raises(RnndynError, match=pattern):
        D.load_validation(path)


def test_validation_set_in_place_of_a_file_is_refused(tmp_path):
    d = _folder(tmp_path)
    path = d / M.VALIDATION_FILE
    path.unlink()
    path.mkdir()
    with pytest.raises(M.WeightsError, match="folder") as exc:
        K.validation_records(10, d)
    _assert_names(exc, path)


def test_folder_without_validation_set_uses_the_shipped_one(tmp_path, monkeypatch):
    d = _folder(tmp_path)
    (d / M.VALIDATION_FILE).unlink()
    assert K.validation_records(5, d) == M.load_validation()[:5]
    # ... and when the shipped one is missing too, the error names it
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setattr(M, "DEFAULT_WEIGHTS_DIR", empty)
    with pytest.raises(M.WeightsError, match="missing") as exc:
        M.load_validation(d)
    _assert_names(exc, empty / M.VALIDATION_FILE)


# ------------------------------------------------------------------ damaged vocabularies
def _vocab(name: str, **changes) -> bytes:
    obj = json.loads((SHIPPED / name).read_text(encoding="utf-8"))
    obj.update(changes)
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")


def _in_tokens(fn) -> bytes:
    obj = json.loads((SHIPPED / M.INPUT_VOCAB_FILE).read_text(encoding="utf-8"))
    obj["tokens"] = fn(obj["tokens"])
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")


IV, OV = M.INPUT_VOCAB_FILE, M.OUTPUT_VOCAB_FILE
VOCAB_DAMAGE = {
    "in_empty": (IV, lambda: b"", "empty"),
    "in_truncated": (IV, lambda: (SHIPPED / IV).read_bytes()[:100], "not valid JSON"),
    "in_not_json": (IV, lambda: b"<pad> <unk> a b c", "not valid JSON"),
    "in_binary": (IV, lambda: b"\xff\xfe\x00\x81" * 64, "not UTF-8"),
    "in_list": (IV, lambda: json.dumps(["<pad>", "<unk>", "a"]).encode(), "JSON object.*got a list"),
    "in_wrong_kind": (IV, lambda: _vocab(IV, kind="OutputVocab"), "'kind' must be 'InputVocab'"),
    "in_tokens_str": (IV, lambda: _vocab(IV, tokens="<pad><unk>abc"), "'tokens' must be a list"),
    "in_tokens_int": (
        IV,
        lambda: _in_tokens(lambda t: [*t[:5], 7, *t[6:]]),
        "'tokens' must be a list of strings",
    ),
    "in_no_pad": (IV, lambda: _in_tokens(lambda t: t[1:]), "must start with '<pad>'"),
    "in_duplicate": (IV, lambda: _in_tokens(lambda t: [*t, t[5]]), "duplicate"),
    "in_multichar": (IV, lambda: _in_tokens(lambda t: [*t[:4], "ab", *t[5:]]), "one character"),
    "in_pad_twice": (IV, lambda: _in_tokens(lambda t: [*t, "<pad>"]), "'<pad>' twice"),
    "in_lowercase_str": (IV, lambda: _vocab(IV, lowercase="yes"), "'lowercase' must be true or false"),
    "in_pad_index": (IV, lambda: _vocab(IV, pad_index=3), "'pad_index' must be 0"),
    "out_truncated": (OV, lambda: (SHIPPED / OV).read_bytes()[:20], "not valid JSON"),
    "out_wrong_symbols": (OV, lambda: _vocab(OV, tokens=list("0123456789/")), "11 ISO characters"),
    "out_duplicate": (OV, lambda: _vocab(OV, tokens=list("0123456789--")), "11 ISO characters"),
    "out_missing_tokens": (OV, lambda: _vocab(OV, tokens=None), "'tokens' must be a list"),
    "out_wrong_kind": (OV, lambda: _vocab(OV, kind="InputVocab"), "'kind' must be 'OutputVocab'"),
}


@pytest.mark.parametrize("case", sorted(VOCAB_DAMAGE))
def test_damaged_vocabulary_is_refused(tmp_path, case):
    name, make, pattern = VOCAB_DAMAGE[case]
    d = _folder(tmp_path)
    path = d / name
    path.write_bytes(make())
    with pytest.raises(M.WeightsError, match=pattern) as exc:
        M.load_vocabs(d)
    _assert_names(exc, path)
    assert "restore" in str(exc.value) and "--train" in str(exc.value)
    cls = D.InputVocab if name == IV else D.OutputVocab
    with pytest.raises(RnndynError, match=pattern):
        cls.load(path)


@pytest.mark.parametrize("name", [IV, OV])
@pytest.mark.parametrize("case", ["missing", "folder"])
def test_missing_vocabulary_is_refused(tmp_path, name, case):
    d = _folder(tmp_path)
    path = d / name
    path.unlink()
    if case == "folder":
        path.mkdir()
    with pytest.raises(M.WeightsError, match="missing" if case == "missing" else "folder") as exc:
        K.check_weights(d, ["torch"])
    _assert_names(exc, path)


# ------------------------------------------------------------------ damaged PyTorch weights
@pytest.fixture
def no_unpickling(monkeypatch):
    """Fail the test if anything tries to unpickle or torch.load."""

    def boom(*args, **kwargs):
        raise AssertionError("a weights file was unpickled")

    monkeypatch.setattr(pickle, "loads", boom)
    monkeypatch.setattr(pickle, "load", boom)
    monkeypatch.setattr(pickle, "Unpickler", boom)
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(torch, "load", boom)


def _state(**changes):
    from safetensors.torch import load_file

    state = load_file(str(SHIPPED / M.TORCH_FILE))
    state.update(changes)
    return {k: v for k, v in state.items() if v is not None}


def _safetensors(state) -> bytes:
    from safetensors.torch import save

    return save(state)


def _bias(kind: str):
    import torch

    if kind == "long":
        return torch.zeros(12)
    if kind == "int":
        return torch.zeros(11, dtype=torch.int64)
    return torch.full((11,), float("nan"))


def _torch_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("archive/data.pkl", pickle.dumps({"weights": [1.0, 2.0]}))
        zf.writestr("archive/version", "3\n")
    return buf.getvalue()


def _shipped_torch(cut: int | None = None) -> bytes:
    data = (SHIPPED / M.TORCH_FILE).read_bytes()
    return data[:cut] if cut is not None else data


TORCH_DAMAGE = {
    "text": (lambda: b"not a safetensors file", "corrupted or not a safetensors file"),
    "empty": (lambda: b"", "empty file"),
    "pickle": (lambda: pickle.dumps({"encoder.weight_ih_l0": [0.0] * 4}), "pickle"),
    "torch_save_zip": (_torch_zip, "zip archive"),
    "hdf5": (lambda: b"\x89HDF\r\n\x1a\n" + bytes(100), "HDF5"),
    "truncated": (lambda: _shipped_torch(len(_shipped_torch()) // 2), "corrupted"),
    "header_only": (lambda: _shipped_torch(400), "corrupted"),
    "wrong_names": (lambda: _safetensors({"w": _bias("long")}), "tensor names"),
    "missing_tensor": (lambda: _safetensors(_state(**{"output.bias": None})), "missing \\['output.bias'\\]"),
    "wrong_shape": (
        lambda: _safetensors(_state(**{"output.bias": _bias("long")})),
        "'output.bias' has shape \\(12,\\), expected \\(11,\\)",
    ),
    "wrong_dtype": (
        lambda: _safetensors(_state(**{"output.bias": _bias("int")})),
        "'output.bias' has dtype I64",
    ),
    "nan": (
        lambda: _safetensors(_state(**{"output.bias": _bias("nan")})),
        "NaN or infinite",
    ),
}


@pytest.mark.parametrize("case", sorted(TORCH_DAMAGE))
def test_damaged_torch_weights_are_refused(tmp_path, case, no_unpickling):
    pytest.importorskip("safetensors")
    make, pattern = TORCH_DAMAGE[case]
    d = _folder(tmp_path)
    path = d / M.TORCH_FILE
    path.write_bytes(make())
    with pytest.raises(M.WeightsError, match=pattern) as exc:
        M.load_torch(d)
    _assert_names(exc, path)
    assert "--train" in str(exc.value)


def test_torch_weights_folder_in_place_of_file(tmp_path):
    pytest.importorskip("torch")
    d = _folder(tmp_path)
    (d / M.TORCH_FILE).mkdir()
    with pytest.raises(M.WeightsError, match="got a folder") as exc:
        M.load_torch(d)
    _assert_names(exc, d / M.TORCH_FILE)


# ------------------------------------------------------------------ damaged Keras weights
def _keras_zip(edit=None, drop: str | None = None, replace: dict | None = None) -> bytes:
    """The shipped .keras archive with its config edited, a part dropped or replaced."""
    buf = io.BytesIO()
    with zipfile.ZipFile(SHIPPED / M.KERAS_FILE) as src, zipfile.ZipFile(buf, "w") as dst:
        for name in src.namelist():
            if name == drop:
                continue
            data = src.read(name)
            if replace and name in replace:
                data = replace[name]
            elif edit is not None and name == "config.json":
                cfg = json.loads(data)
                edit(cfg)
                data = json.dumps(cfg).encode()
            dst.writestr(name, data)
    return buf.getvalue()


def _layer(cfg: dict, name: str) -> dict:
    return next(layer for layer in cfg["config"]["layers"] if layer["config"]["name"] == name)


def _as_lambda(cfg):
    _layer(cfg, "summary_flat")["class_name"] = "Lambda"


def _custom(cfg):
    layer = _layer(cfg, "summary_flat")
    layer["module"], layer["class_name"], layer["registered_name"] = (
        "my_package.layers",
        "MyFlatten",
        "x>MyFlatten",
    )


def _unknown_keras_class(cfg):
    _layer(cfg, "summary_flat")["class_name"] = "NoSuchLayer"


KERAS_DAMAGE = {
    "text": (lambda: b"this is not a model", "not a Keras archive.*text file"),
    "empty": (lambda: b"", "not a Keras archive.*empty file"),
    "pickle": (lambda: pickle.dumps(["harmless"]), "not a Keras archive.*pickle"),
    "hdf5": (lambda: b"\x89HDF\r\n\x1a\n" + bytes(64), "not a Keras archive.*HDF5"),
    "other_zip": (lambda: _torch_zip(), "without \\['config.json', 'metadata.json', 'model.weights.h5'\\]"),
    "truncated": (lambda: (SHIPPED / M.KERAS_FILE).read_bytes()[:100_000], "not a Keras archive|damaged"),
    "no_weights": (lambda: _keras_zip(drop="model.weights.h5"), "without \\['model.weights.h5'\\]"),
    "no_metadata": (lambda: _keras_zip(drop="metadata.json"), "without \\['metadata.json'\\]"),
    "config_not_json": (
        lambda: _keras_zip(replace={"config.json": b"{not json"}),
        "'config.json' is not valid JSON",
    ),
    "config_list": (lambda: _keras_zip(replace={"config.json": b"[1, 2]"}), "not a Keras model config"),
    "metadata_binary": (
        lambda: _keras_zip(replace={"metadata.json": b"\xff\xfe"}),
        "'metadata.json' is not valid",
    ),
    "weights_not_hdf5": (
        lambda: _keras_zip(replace={"model.weights.h5": pickle.dumps([1])}),
        "'model.weights.h5' is not an HDF5 file.*pickle",
    ),
    "lambda_layer": (lambda: _keras_zip(_as_lambda), "Lambda layer.*safe mode"),
    "custom_class": (
        lambda: _keras_zip(_custom),
        "'MyFlatten' from module 'my_package.layers'.*not built into",
    ),
}


@pytest.mark.parametrize("case", sorted(KERAS_DAMAGE))
def test_damaged_keras_weights_are_refused(tmp_path, case, monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("a weights file was unpickled")

    monkeypatch.setattr(pickle, "loads", boom)
    monkeypatch.setattr(pickle, "load", boom)
    make, pattern = KERAS_DAMAGE[case]
    d = _folder(tmp_path)
    path = d / M.KERAS_FILE
    path.write_bytes(make())
    with pytest.raises(M.WeightsError, match=pattern) as exc:
        M.load_keras(d)
    _assert_names(exc, path)
    assert "--train" in str(exc.value)


def test_keras_error_for_an_unknown_builtin_class_is_wrapped(tmp_path):
    pytest.importorskip("keras")
    K.quiet_frameworks()
    d = _folder(tmp_path)
    path = d / M.KERAS_FILE
    path.write_bytes(_keras_zip(_unknown_keras_class))
    with pytest.raises(M.WeightsError, match="Keras could not rebuild the model") as exc:
        M.load_keras(d)
    _assert_names(exc, path)
