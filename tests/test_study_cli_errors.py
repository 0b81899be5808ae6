"""The date study's command (``python -m examples.dates``) and ``run_study``: every bad
argument ends with one line, a non-zero exit status and nothing written or removed.

These run ``main`` in-process (argument checks happen before any framework is
imported); ``tests/test_dates_study.py`` runs the real subprocess for a few of them.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from examples.dates import models as M
from examples.dates import study

WEIGHTS = M.DEFAULT_WEIGHTS_DIR


def _tree(root: Path) -> dict[str, bytes | None]:
    """Every path under ``root`` with its bytes (None for folders)."""
    out: dict[str, bytes | None] = {}
    for p in sorted(root.rglob("*")):
        out[str(p.relative_to(root))] = None if p.is_dir() else p.read_bytes()
    return out


def _main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        code = study.main(argv)
    except SystemExit as e:  # argparse usage errors
        code = int(e.code)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("[dates study]")]
    assert len(lines) == 1, err
    assert "error" in lines[0]
    return code, lines[0]


# --------------------------------------------------------------- usage errors: exit 2
USAGE = [
    (["--n", "0"], "--n"),
    (["--n", "-1"], "--n"),
    (["--n", "10001"], "--n"),
    (["--n", "1.5"], "--n"),
    (["--n", ""], "--n"),
    (["--n", "many"], "--n"),
    (["--n", "1e3"], "--n"),
    (["--n", "nan"], "--n"),
    (["--n"], "--n"),
    (["--seed", "-1"], "--seed"),
    (["--seed", "1.5"], "--seed"),
    (["--seed", "x"], "--seed"),
    (["--seed", ""], "--seed"),
    (["--framework", "jax"], "jax"),
    (["--framework", "KERAS"], "KERAS"),
    (["--framework", ""], "--framework"),
    (["--bogus"], "--bogus"),
    (["extra-positional"], "extra-positional"),
    (["--train", "--weights", str(WEIGHTS)], "--train"),
]


@pytest.mark.parametrize("argv, words", USAGE, ids=[" ".join(a) or "empty" for a, _ in USAGE])
def test_usage_errors_exit_2_and_write_nothing(tmp_path, capsys, argv, words):
    out = tmp_path / "rep"
    code, line = _main([*argv, "--out", str(out), "--quiet"], capsys)
    assert code == 2
    assert words in line
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------- --out refused: exit 2, nothing touched
def _user_folder(tmp_path: Path) -> Path:
    d = tmp_path / "mine"
    d.mkdir()
    (d / "summary.json").write_text('{"mine": true}')
    (d / "thesis.tex").write_text("\\documentclass{article}")
    return d


def _out_cases(tmp_path: Path) -> dict[str, tuple[str, str]]:
    a_file = tmp_path / "a_file.txt"
    a_file.write_text("keep")
    user = _user_folder(tmp_path)
    link = tmp_path / "link"
    link.symlink_to(user, target_is_directory=True)
    return {
        "a file": (str(a_file), "not a folder"),
        "below a file": (str(a_file / "rep"), "a_file.txt"),
        "user folder with summary.json": (str(user), "manifest"),
        "symlink to a user folder": (str(link), "link"),
        "empty name": ("", "--out"),
        "blank name": ("   ", "--out"),
        "the current folder": (".", "current"),
        "a parent of the current folder": ("..", "current"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "a file",
        "below a file",
        "user folder with summary.json",
        "symlink to a user folder",
        "empty name",
        "blank name",
        "the current folder",
        "a parent of the current folder",
    ],
)
def test_refused_out_exit_2_and_touch_nothing(tmp_path, capsys, monkeypatch, case):
    work = tmp_path / "work"
    work.mkdir()
    cases = _out_cases(work)
    monkeypatch.chdir(work)
    before = _tree(tmp_path)
    out, words = cases[case]
    code, line = _main(["--out", out, "--quiet", "--n", "3"], capsys)
    assert code == 2
    assert words.lower() in line.lower(), line
    assert _tree(tmp_path) == before


# --------------------------------------------------------------- weights: exit 1 (or 2 for a file)
def test_missing_weights_folder_exit_1(tmp_path, capsys):
    code, line = _main(["--weights", str(tmp_path / "none"), "--out", str(tmp_path / "r"), "--quiet"], capsys)
    assert code == 1 and "--train" in line
    assert [p.name for p in tmp_path.iterdir()] == []


def test_weights_that_are_a_file_exit_2(tmp_path, capsys):
    f = tmp_path / "w.keras"
    f.write_bytes(b"x")
    code, line = _main(["--weights", str(f), "--out", str(tmp_path / "r"), "--quiet"], capsys)
    assert code == 2 and "is a file" in line
    assert [p.name for p in tmp_path.iterdir()] == ["w.keras"]


@pytest.mark.parametrize(
    "damage, words",
    [
        ("input_vocab.json", "input_vocab.json"),
        ("output_vocab.json", "output_vocab.json"),
        ("validation.json", "validation.json"),
    ],
)
def test_damaged_weights_folder_exit_1_names_the_file(tmp_path, capsys, damage, words):
    w = tmp_path / "w"
    shutil.copytree(WEIGHTS, w, ignore=shutil.ignore_patterns("*.keras", "*.safetensors"))
    (w / damage).write_text("{ not json")
    before = _tree(tmp_path)
    code, line = _main(
        ["--framework", "torch", "--weights", str(w), "--out", str(tmp_path / "r"), "--quiet"], capsys
    )
    assert code == 1 and words in line
    assert _tree(tmp_path) == before


# --------------------------------------------------------------- run_study's Python arguments
BAD_KWARGS = [
    ({"framework": None}, "--framework"),
    ({"framework": ["keras"]}, "--framework"),
    ({"framework": "tensorflow"}, "--framework"),
    ({"n": 0}, "--n"),
    ({"n": True}, "--n"),
    ({"n": 1.0}, "--n"),
    ({"n": None}, "--n"),
    ({"n": "10"}, "--n"),
    ({"n": 10_001}, "--n"),
    ({"seed": -1}, "--seed"),
    ({"seed": True}, "--seed"),
    ({"seed": 1.5}, "--seed"),
    ({"seed": "0"}, "--seed"),
    ({"train": "yes"}, "train"),
    ({"train": 1}, "train"),
    ({"progress": None}, "progress"),
    ({"progress": "no"}, "progress"),
    ({"n_boot": 0}, "n_boot"),
    ({"n_boot": 1}, "n_boot"),
    ({"n_boot": 2.5}, "n_boot"),
    ({"n_boot": True}, "n_boot"),
    ({"n_boot": 10**9}, "n_boot"),
    ({"weights": 123}, "--weights"),
    ({"weights": ""}, "--weights"),
    ({"weights": str(WEIGHTS), "train": True}, "--train"),
    ({"out": None}, "--out"),
    ({"out": 3}, "--out"),
    ({"out": ""}, "--out"),
]


@pytest.mark.parametrize("kwargs, words", BAD_KWARGS, ids=[repr(k) for k, _ in BAD_KWARGS])
def test_run_study_refuses_bad_arguments_before_any_work(tmp_path, monkeypatch, kwargs, words):
    monkeypatch.chdir(tmp_path)
    args = {"n": 3, "out": tmp_path / "rep", "progress": False, **kwargs}
    with pytest.raises(study.StudyError, match=words.replace("-", r"\-")):
        study.run_study(**args)
    assert list(tmp_path.iterdir()) == []


def test_study_error_is_a_value_error_with_one_line(tmp_path):
    with pytest.raises(ValueError) as info:
        study.run_study(n=3, out=tmp_path / "r", n_boot=0, progress=False)
    assert "\n" not in str(info.value)


def test_user_folder_survives_the_study_byte_for_byte(tmp_path, capsys):
    user = _user_folder(tmp_path)
    before = _tree(tmp_path)
    code, line = _main(["--out", str(user), "--quiet", "--n", "3"], capsys)
    assert code == 2
    assert str(user) in line or os.fspath(user.resolve()) in line
    assert _tree(tmp_path) == before
