"""Quick checks of the date-study data generator (examples/dates/data.py)."""

from __future__ import annotations

import re

import numpy as np
import pytest

pytest.importorskip("babel")
pytest.importorskip("faker")

from examples.dates import data as D  # noqa: E402

ISO = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def test_generate_is_seeded_and_prefix_stable():
    a = D.generate(200, seed=5)
    assert a == D.generate(200, seed=5)
    assert D.generate(50, seed=5) == a[:50]
    assert a != D.generate(200, seed=6)
    assert all(isinstance(h, str) and ISO.match(iso) for h, iso in a)


def test_records_use_known_formats_and_locales():
    recs = D.generate_records(300, seed=3)
    assert {r.format for r in recs} <= set(D.FORMATS)
    assert {r.locale for r in recs} <= set(D.LOCALES)
    assert {r.case for r in recs} <= {"upper", "lower", "keep"}
    assert all(1 <= len(r.human) <= D.MAX_LEN for r in recs)
    assert all("1970-01-01" <= r.iso <= "2025-12-31" for r in recs)


def test_no_week_year_formats():
    assert not any("Y" in f for f in D.FORMATS)


def test_year_is_calendar_year_near_new_year():
    # 2018-12-31 falls in ISO week 1 of 2019: a week-year format would say 2019.
    import datetime as dt

    from babel.dates import format_date

    s = format_date(dt.date(2018, 12, 31), format="d MMM yyyy", locale="en")
    assert "2018" in s


def test_splits_are_disjoint():
    train, val = D.make_splits(3000, 1000)
    assert len(train) == 3000 and len(val) == 1000
    assert not {r.human for r in train} & {r.human for r in val}
    with pytest.raises(ValueError):
        D.make_splits(10, 10, train_seed=1, val_seed=1)


def test_input_vocab_layout_and_roundtrip(tmp_path):
    strings = [h for h, _ in D.generate(2000, seed=0)]
    v = D.InputVocab.build(strings, max_size=60)
    assert len(v) <= 60
    assert v.tokens[0] == "<pad>" and v.pad_index == 0
    assert v.tokens[1] == "<unk>" and v.unk_index == 1
    v.save(tmp_path / "v.json")
    assert D.InputVocab.load(tmp_path / "v.json") == v
    o = D.OutputVocab()
    o.save(tmp_path / "o.json")
    assert D.OutputVocab.load(tmp_path / "o.json") == o
    assert len(o) == 11


def test_encode_pads_at_end_and_lengths():
    v = D.InputVocab(list("0123456789 abc"))
    x = D.encode_inputs(["12 ab", "7", "Z9"], v, max_len=8)
    assert x.shape == (3, 8) and x.dtype == np.int32
    np.testing.assert_array_equal(D.input_lengths(["12 ab", "7", "Z9"]), [5, 1, 2])
    assert (x[0, 5:] == 0).all() and (x[0, :5] != 0).all()
    assert x[2, 0] == v.unk_index  # 'Z' -> 'z' not in vocab
    assert x[0, 3] == v.index("a") == v.index("A")  # case-folded


def test_too_long_raises_never_truncates():
    v = D.InputVocab(list("ab"))
    with pytest.raises(ValueError, match="max_len"):
        D.encode_inputs(["a" * 51], v)
    with pytest.raises(ValueError, match="max_len"):
        D.input_lengths(["a" * 51])


def test_outputs_roundtrip():
    isos = ["2019-02-16", "1990-01-01"]
    y = D.encode_outputs(isos)
    assert y.shape == (2, 10)
    assert D.decode_outputs(y) == isos
    onehot = np.eye(11)[y]
    assert D.decode_outputs(onehot) == isos


def test_shipped_vocab_matches_generator_defaults():
    from examples.dates import models as M

    iv, ov = M.load_vocabs()
    assert len(iv) == 60 and iv.tokens[:2] == ["<pad>", "<unk>"]
    assert "".join(ov.tokens) == "0123456789-"


def test_shipped_torch_weights_translate_and_errors(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("safetensors")
    import shutil

    from examples.dates import models as M

    model = M.load_torch()
    assert M.translate(model, ["Jan 1 1990", "21.07.93"]) == ["1990-01-01", "1993-07-21"]
    for f in (M.INPUT_VOCAB_FILE, M.OUTPUT_VOCAB_FILE):
        shutil.copy(M.DEFAULT_WEIGHTS_DIR / f, tmp_path / f)
    with pytest.raises(M.WeightsError, match="--train"):
        M.load_torch(tmp_path)
    (tmp_path / M.TORCH_FILE).write_bytes(b"not a safetensors file")
    with pytest.raises(M.WeightsError, match="corrupted"):
        M.load_torch(tmp_path)
