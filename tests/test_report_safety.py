"""rnndyn never deletes what it did not write, and a report is replaced atomically or not at all.

Failures are injected into every file-system call a successful replacement
makes (counted in a first run), one at a time: after each, either the old
report is there byte for byte, or (only when the final clean-up failed) the
new report is complete and the old one sits in a folder a warning names.
"""

from __future__ import annotations

import builtins
import errno
import functools
import hashlib
import json
import os
import re
import stat
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from rnndyn import RnndynError, _outdir  # noqa: E402
from rnndyn import _manifest as manifest_module  # noqa: E402
from rnndyn._outdir import MANIFEST, write_dir  # noqa: E402
from rnndyn.report import Report  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------ helpers
def tree(root: Path) -> dict[str, Any]:
    """Every entry under ``root``: file bytes, ``None`` for a folder, ('link', target) for a link."""
    out: dict[str, Any] = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if p.is_symlink():
            out[rel] = ("link", os.readlink(p))
        elif p.is_dir():
            out[rel + "/"] = None
        else:
            out[rel] = p.read_bytes()
    return out


def temp_leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if ".rnndyn-" in p.name)


def make_report(title: str, value: int, *, figure: bool = False) -> Report:
    rep = Report(title)
    rep.heading("Numbers")
    rep.text(f"value {value}")
    rep.table(pd.DataFrame({"x": np.arange(3) * value}), "table")
    if figure:
        fig, ax = plt.subplots(figsize=(1, 1))
        ax.plot([0, value])
        rep.figure(fig, "plot", dpi=20)
    rep.numbers.update(value=value, arr=np.arange(value), nan=float("nan"))
    return rep


def nested_fill(tag: str) -> Callable[[Path], None]:
    def fill(folder: Path) -> None:
        (folder / "top.txt").write_text(f"top {tag}")
        (folder / "sub").mkdir()
        (folder / "sub" / "deep").mkdir()
        (folder / "sub" / "a.bin").write_bytes(tag.encode() * 10)
        (folder / "sub" / "deep" / "b.txt").write_text(f"deep {tag}")

    return fill


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A parent folder with a user file beside the reports; the cwd is elsewhere."""
    parent = tmp_path / "parent"
    parent.mkdir()
    (parent / "mine.txt").write_text("the user's own file")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    return parent


# --------------------------------------------------------------- the manifest
def test_manifest_lists_exactly_the_files_written(workdir: Path) -> None:
    out = make_report("t", 3, figure=True).write(workdir / "rep")
    manifest = json.loads((out / MANIFEST).read_text())
    assert {k: manifest[k] for k in ("tool", "kind")} == {"tool": "rnndyn", "kind": "report"}
    import rnndyn

    assert manifest["version"] == rnndyn.__version__
    on_disk = sorted(p.name for p in out.iterdir() if p.name != MANIFEST)
    assert (
        [e["path"] for e in manifest["files"]]
        == on_disk
        == sorted(["index.html", "summary.json", "table.csv", "plot.png"])
    )
    for e in manifest["files"]:
        data = (out / e["path"]).read_bytes()
        assert e["size"] == len(data)
        assert e["sha256"] == hashlib.sha256(data).hexdigest()


def test_nested_manifest_lists_files_and_folders(workdir: Path) -> None:
    out = write_dir(workdir / "store", nested_fill("x"), kind="store")
    manifest = json.loads((out / MANIFEST).read_text())
    files = {e["path"]: e for e in manifest["files"]}
    assert sorted(files) == ["sub/a.bin", "sub/deep/b.txt", "top.txt"]
    assert manifest["dirs"] == ["sub", "sub/deep"]
    for rel, e in files.items():
        assert e["sha256"] == hashlib.sha256((out / rel).read_bytes()).hexdigest()


def test_report_written_twice_replaces_cleanly(workdir: Path) -> None:
    first = make_report("one", 1, figure=True).write(workdir / "rep")
    second = make_report("two", 2).write(workdir / "rep")
    assert first == second == workdir / "rep"
    assert json.loads((second / "summary.json").read_text())["value"] == 2
    assert not (second / "plot.png").exists()  # the old report's extra file went with it
    assert sorted(p.name for p in workdir.iterdir()) == ["mine.txt", "rep"]
    assert (workdir / "mine.txt").read_text() == "the user's own file"


def test_nested_folder_replaced_twice(workdir: Path) -> None:
    write_dir(workdir / "s", nested_fill("one"), kind="store")
    write_dir(workdir / "s", nested_fill("two"), kind="store")
    assert (workdir / "s" / "sub" / "deep" / "b.txt").read_text() == "deep two"
    assert temp_leftovers(workdir) == []


# ---------------------------------------------------------------- refusals
def _user_folder(parent: Path) -> Path:
    d = parent / "thesis"
    d.mkdir()
    (d / "summary.json").write_text('{"my": "numbers"}')
    (d / "thesis.tex").write_text("\\documentclass{article} years of work")
    return d


def test_users_folder_with_summary_json_is_refused_and_untouched(workdir: Path) -> None:
    d = _user_folder(workdir)
    before = tree(workdir)
    with pytest.raises(RnndynError, match=r"out=.*thesis.*no rnndyn manifest.*thesis\.tex.*Choose another"):
        make_report("t", 1).write(d)
    assert tree(workdir) == before


def test_study_check_out_refuses_a_users_folder(workdir: Path) -> None:
    from examples.dates import study

    d = _user_folder(workdir)
    before = tree(workdir)
    with pytest.raises(study.StudyError, match=r"--out=.*no rnndyn manifest.*summary\.json, thesis\.tex"):
        study._check_out(d)
    assert tree(workdir) == before
    assert study._check_out(workdir / "new") == workdir / "new"


def test_study_main_exits_2_before_the_run_and_keeps_the_folder(workdir: Path, capsys) -> None:
    from examples.dates import study

    d = _user_folder(workdir)
    before = tree(workdir)
    assert study.main(["--quiet", "--framework", "torch", "--n", "2", "--out", str(d)]) == 2
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "error" in lines[0] and "no rnndyn manifest" in lines[0]
    assert "Traceback" not in lines[0]
    assert tree(workdir) == before


def _edit(d: Path) -> None:
    (d / "index.html").write_text("<p>my notes</p>")


def _edit_same_size(d: Path) -> None:
    data = bytearray((d / "table.csv").read_bytes())
    data[-2] = ord("9") if data[-2] != ord("9") else ord("8")
    (d / "table.csv").write_bytes(bytes(data))


def _add(d: Path) -> None:
    (d / "thesis.tex").write_text("mine")


def _add_nested(d: Path) -> None:
    (d / "notes").mkdir()
    (d / "notes" / "a.txt").write_text("mine")


def _add_empty_folder(d: Path) -> None:
    (d / "empty").mkdir()


def _remove(d: Path) -> None:
    (d / "table.csv").unlink()


def _add_link(d: Path) -> None:
    (d / "link").symlink_to(d.parent / "mine.txt")


def _no_manifest(d: Path) -> None:
    (d / MANIFEST).unlink()


def _manifest(text: str) -> Callable[[Path], None]:
    def f(d: Path) -> None:
        (d / MANIFEST).write_text(text)

    return f


def _manifest_edit(**change: Any) -> Callable[[Path], None]:
    def f(d: Path) -> None:
        m = json.loads((d / MANIFEST).read_text())
        m.update(change)
        (d / MANIFEST).write_text(json.dumps(m))

    return f


def _escaping_manifest(d: Path) -> None:
    m = json.loads((d / MANIFEST).read_text())
    m["files"].append({"path": "../mine.txt", "size": 1, "sha256": "0" * 64})
    (d / MANIFEST).write_text(json.dumps(m))


@pytest.mark.parametrize(
    "damage, words",
    [
        (_edit, r"1 file changed since rnndyn wrote it: index\.html"),
        (_edit_same_size, r"changed since rnndyn wrote it: table\.csv"),
        (_add, r"holds 1 file rnndyn did not write: thesis\.tex"),
        (_add_nested, r"holds 1 file rnndyn did not write: notes/a\.txt"),
        (_add_empty_folder, r"holds 1 folder rnndyn did not write: empty/"),
        (_remove, r"lacks 1 file rnndyn wrote: table\.csv"),
        (_add_link, r"link \(a symbolic link\)"),
        (_no_manifest, r"no rnndyn manifest"),
        (_manifest("not json {"), r"manifest .*cannot be trusted: it is not valid JSON"),
        (_manifest('{"tool": "other"}'), r"cannot be trusted.*tool"),
        (_manifest("[1, 2]"), r"cannot be trusted"),
        (_manifest_edit(files="all"), r"cannot be trusted.*not a list"),
        (_manifest_edit(kind=3), r"cannot be trusted.*kind"),
        (_manifest_edit(kind="store"), r"holds an rnndyn store, not a report"),
        (_escaping_manifest, r"cannot be trusted.*\.\./mine\.txt"),
    ],
)
def test_changed_report_is_refused_and_untouched(workdir: Path, damage, words: str) -> None:
    rep_dir = make_report("old", 1).write(workdir / "rep")
    damage(rep_dir)
    before = tree(workdir)
    with pytest.raises(RnndynError, match=words) as err:
        make_report("new", 2).write(rep_dir)
    assert tree(workdir) == before
    assert "out=" in str(err.value) and "Choose another folder" in str(err.value)


def test_symlink_destination_is_refused(workdir: Path) -> None:
    real = make_report("old", 1).write(workdir / "real")
    (workdir / "link").symlink_to(real)
    before = tree(workdir)
    with pytest.raises(RnndynError, match=r"out=.*link is a symbolic link .*Choose another folder"):
        make_report("new", 2).write(workdir / "link")
    assert tree(workdir) == before


def test_file_destination_is_refused(workdir: Path) -> None:
    with pytest.raises(RnndynError, match=r"out=.*mine\.txt exists and is a file, not a folder"):
        make_report("new", 2).write(workdir / "mine.txt")
    assert (workdir / "mine.txt").read_text() == "the user's own file"


def test_file_in_the_parent_path_is_refused(workdir: Path) -> None:
    with pytest.raises(RnndynError, match=r"cannot write the report .*mine\.txt is a file, not a folder"):
        make_report("new", 2).write(workdir / "mine.txt" / "sub" / "rep")


@pytest.mark.parametrize("out", [".", "..", "../..", "./", "sub/.."])
def test_current_folder_and_its_parents_are_refused(workdir: Path, monkeypatch, out: str) -> None:
    old = make_report("old", 1).write(workdir / "rep")
    monkeypatch.chdir(old)  # inside an earlier report
    before = tree(workdir)
    with pytest.raises(RnndynError, match=r"out=.* is (the current folder|a parent of the current folder)"):
        make_report("new", 2).write(out)
    assert tree(workdir) == before


def test_cwd_inside_the_destination_is_refused(workdir: Path, monkeypatch) -> None:
    old = write_dir(workdir / "s", nested_fill("a"), kind="report")
    monkeypatch.chdir(old / "sub" / "deep")
    before = tree(workdir)
    with pytest.raises(RnndynError, match="a parent of the current folder"):
        make_report("new", 2).write(workdir / "s")
    with pytest.raises(RnndynError, match="a parent of the current folder"):
        make_report("new", 2).write("../..")
    assert tree(workdir) == before


def test_home_and_relative_paths(workdir: Path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(workdir))
    out = make_report("t", 1).write("~/home-rep")
    assert out == workdir / "home-rep" and (out / "index.html").is_file()
    monkeypatch.chdir(workdir)
    again = make_report("t", 2).write("home-rep")
    assert again == out and json.loads((out / "summary.json").read_text())["value"] == 2


def test_empty_folder_is_used(workdir: Path) -> None:
    (workdir / "empty").mkdir()
    out = make_report("t", 1).write(workdir / "empty", overwrite=False)
    assert (out / "index.html").is_file() and temp_leftovers(workdir) == []


def test_nonexistent_nested_parent_is_created(workdir: Path) -> None:
    out = make_report("t", 1).write(workdir / "a" / "b" / "c" / "rep")
    assert (out / "summary.json").is_file()
    assert sorted(p.name for p in (workdir / "a" / "b" / "c").iterdir()) == ["rep"]


def test_overwrite_false_refuses_even_our_own_report(workdir: Path) -> None:
    make_report("old", 1).write(workdir / "rep")
    before = tree(workdir)
    with pytest.raises(RnndynError, match=r"not empty .*overwrite=False.*Pass overwrite=True"):
        make_report("new", 2).write(workdir / "rep", overwrite=False)
    assert tree(workdir) == before
    make_report("new", 2).write(workdir / "fresh", overwrite=False)


@pytest.mark.parametrize(
    "out, words",
    [
        (None, "out must be a folder path"),
        (3, "out must be a folder path"),
        (b"/tmp/rep", "out must be a folder path"),
        (["rep"], "out must be a folder path"),
        ("", "out is empty"),
        ("   ", "out is empty"),
        ("re\x00p", "NUL"),
        ("/", "root of the file system"),
    ],
)
def test_bad_out_values(workdir: Path, out: Any, words: str) -> None:
    with pytest.raises(RnndynError, match=words):
        make_report("t", 1).write(out)
    assert temp_leftovers(workdir) == []


@pytest.mark.parametrize("overwrite", [None, 1, 0, "yes", "False", 1.0])
def test_overwrite_must_be_a_bool(workdir: Path, overwrite: Any) -> None:
    with pytest.raises(RnndynError, match="overwrite must be True or False"):
        make_report("t", 1).write(workdir / "rep", overwrite=overwrite)
    assert not (workdir / "rep").exists()


def test_destination_changed_during_the_run_is_refused(workdir: Path) -> None:
    old = write_dir(workdir / "s", nested_fill("a"), kind="report")

    def fill(folder: Path) -> None:  # the user adds a file while rnndyn works
        nested_fill("b")(folder)
        (old / "late.txt").write_text("added during the run")

    before_files = tree(old)
    with pytest.raises(RnndynError, match=r"holds 1 file rnndyn did not write: late\.txt"):
        write_dir(old, fill, kind="report")
    assert tree(old) == {**before_files, "late.txt": b"added during the run"}
    assert temp_leftovers(workdir) == []


def test_destination_appearing_during_the_run_is_refused(workdir: Path) -> None:
    dest = workdir / "new"

    def fill(folder: Path) -> None:
        (folder / "a.txt").write_text("a")
        dest.mkdir()
        (dest / "theirs.txt").write_text("someone else's")

    with pytest.raises(RnndynError, match="no rnndyn manifest"):
        write_dir(dest, fill)
    assert tree(dest) == {"theirs.txt": b"someone else's"}
    assert temp_leftovers(workdir) == []


def test_failing_fill_leaves_nothing(workdir: Path) -> None:
    old = make_report("old", 1).write(workdir / "rep")
    before = tree(workdir)

    def fill(folder: Path) -> None:
        (folder / "half.txt").write_text("half")
        raise RuntimeError("the user's code failed")

    with pytest.raises(RuntimeError, match="user's code"):
        write_dir(old, fill)
    assert tree(workdir) == before


def test_failure_removes_the_parents_it_created(workdir: Path) -> None:
    def fill(folder: Path) -> None:
        raise OSError(errno.ENOSPC, "disk full")

    with pytest.raises(OSError, match="disk full"):
        write_dir(workdir / "a" / "b" / "rep", fill)
    assert sorted(p.name for p in workdir.iterdir()) == ["mine.txt"]


# ------------------------------------------------------- injected failures
class Faults:
    """Counts the file-system calls rnndyn makes; the ``at``-th one raises ``exc`` (once)."""

    TARGETS = [
        (os, "rename"),
        (os, "replace"),
        (os, "unlink"),
        (os, "rmdir"),
        (os, "mkdir"),
        (os, "scandir"),
        (Path, "write_bytes"),
        (Path, "write_text"),
    ]

    def __init__(self, mp: pytest.MonkeyPatch, at: int | None = None, exc: type = OSError) -> None:
        self.calls: list[str] = []
        self.at, self.exc = at, exc
        self.fired: str | None = None
        for owner, attr in self.TARGETS:
            mp.setattr(owner, attr, self._wrap(getattr(owner, attr), attr))
        for module in (_outdir, manifest_module):  # the modules that open files
            mp.setattr(module, "open", self._wrap(builtins.open, "open"), raising=False)

    def _wrap(self, orig: Callable, label: str) -> Callable:
        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(label)
            if self.fired is None and len(self.calls) == self.at:
                self.fired = label
                if self.exc is OSError:
                    raise OSError(errno.EIO, f"injected failure in {label}")
                raise self.exc(f"injected {label}")
            return orig(*args, **kwargs)

        return call


@functools.lru_cache(maxsize=1)
def _old_and_new() -> tuple[Report, Report]:
    return make_report("old", 1, figure=True), make_report("new", 2)


def _report_scenario(parent: Path, start: str) -> tuple[Path, Callable[[], Path], Callable[[Path], None]]:
    old, new = _old_and_new()
    dest = parent / "rep"

    def setup(dest: Path = dest) -> None:
        if start == "report":
            old.write(dest)
        elif start == "empty":
            dest.mkdir()

    return dest, lambda: new.write(dest), setup


def _nested_scenario(parent: Path, start: str) -> tuple[Path, Callable[[], Path], Callable[[Path], None]]:
    dest = parent / "rep"

    def setup(dest: Path = dest) -> None:
        if start == "report":
            write_dir(dest, nested_fill("old"))
        elif start == "empty":
            dest.mkdir()

    return dest, lambda: write_dir(dest, nested_fill("new")), setup


@pytest.mark.parametrize("exc", [OSError, KeyboardInterrupt])
@pytest.mark.parametrize("start", ["report", "empty", "absent"])
@pytest.mark.parametrize("scenario", [_report_scenario, _nested_scenario])
def test_failure_at_every_step(tmp_path: Path, monkeypatch, scenario, start: str, exc: type) -> None:
    monkeypatch.chdir(tmp_path)
    # the reference: the new folder as a successful run writes it
    ref_parent = tmp_path / "ref"
    ref_parent.mkdir()
    dest, run, setup = scenario(ref_parent, start)
    setup()
    with monkeypatch.context() as mp:
        counter = Faults(mp)
        run()
    n_calls = len(counter.calls)
    last_rename = max(i for i, c in enumerate(counter.calls, 1) if c == "rename")
    new_tree = tree(dest)
    assert n_calls > 5 and temp_leftovers(ref_parent) == []

    for k in range(1, n_calls + 1):
        parent = tmp_path / f"k{k}"
        parent.mkdir()
        (parent / "mine.txt").write_text("the user's own file")
        dest, run, setup = scenario(parent, start)
        setup()
        before = tree(parent)
        old_tree = tree(dest) if dest.exists() else None
        with warnings.catch_warnings(record=True) as caught, monkeypatch.context() as mp:
            warnings.simplefilter("always")
            faults = Faults(mp, at=k, exc=exc)
            raised: BaseException | None = None
            try:
                run()
            except (OSError, RnndynError, KeyboardInterrupt) as e:
                raised = e
        assert faults.fired, f"call {k} of {n_calls} never came"
        where = f"failure {k}/{n_calls} in {faults.fired} ({start}, {exc.__name__})"
        assert (parent / "mine.txt").read_text() == "the user's own file", where
        if k <= last_rename:  # before the new folder is in place: everything as it was
            assert raised is not None, where
            assert tree(parent) == before, where
            assert not caught, (where, [str(w.message) for w in caught])
        else:  # only the removal of the old folder failed
            assert start == "report", where
            assert tree(dest) == new_tree, where
            (aside,) = [p for p in parent.iterdir() if ".rnndyn-old-" in p.name]
            assert len(caught) == 1 and str(aside) in str(caught[0].message), where
            assert "Nothing of yours was lost" in str(caught[0].message)
            left = tree(aside)
            assert all(old_tree[rel] == data for rel, data in left.items()), where
            assert sorted(p.name for p in parent.iterdir()) == sorted(["mine.txt", "rep", aside.name])
            assert (raised is None) == (exc is OSError), where


def test_rollback_failure_warns_where_the_old_report_is(workdir: Path, monkeypatch) -> None:
    old = make_report("old", 1).write(workdir / "rep")
    old_tree = tree(old)
    real_rename = os.rename
    calls = []

    def rename(src: Any, dst: Any) -> None:
        calls.append((src, dst))
        if len(calls) == 1:
            return real_rename(src, dst)  # the old report goes aside
        raise OSError(errno.EIO, "rename failed")

    monkeypatch.setattr(os, "rename", rename)
    with pytest.warns(RuntimeWarning, match="could not move the previous report back") as rec:
        with pytest.raises(OSError, match="rename failed"):
            make_report("new", 2).write(old)
    monkeypatch.undo()
    aside = Path(calls[0][1])
    assert str(aside) in str(rec[0].message)
    assert tree(aside) == old_tree  # nothing lost
    assert not old.exists() and [p for p in workdir.iterdir() if ".rnndyn-new-" in p.name] == []


# ------------------------------------------- files that cannot be deleted
def _refuse_for(monkeypatch, name: str, target: str) -> None:
    real = getattr(os, name)

    def guarded(path: Any, *args: Any, **kwargs: Any) -> Any:
        if ".rnndyn-old-" in str(path) and str(path).endswith(target):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, name, guarded)


@pytest.mark.parametrize(
    "name, target",
    [("unlink", "top.txt"), ("unlink", "b.txt"), ("unlink", MANIFEST), ("rmdir", "deep"), ("rmdir", "sub")],
)
def test_undeletable_old_file_keeps_the_new_one_and_warns(workdir: Path, monkeypatch, name, target) -> None:
    write_dir(workdir / "s", nested_fill("old"), kind="report")
    old_tree = tree(workdir / "s")
    ref = write_dir(workdir / "ref", nested_fill("new"), kind="report")
    _refuse_for(monkeypatch, name, target)
    with pytest.warns(RuntimeWarning, match=r"could not finish removing the previous one.*moved aside to"):
        write_dir(workdir / "s", nested_fill("new"), kind="report")
    monkeypatch.undo()
    assert tree(workdir / "s") == tree(ref)
    (aside,) = [p for p in workdir.iterdir() if ".rnndyn-old-" in p.name]
    left = tree(aside)
    assert left and all(old_tree[rel] == data for rel, data in left.items())
    assert (workdir / "mine.txt").read_text() == "the user's own file"


def test_real_read_only_subfolder(workdir: Path) -> None:
    old = write_dir(workdir / "s", nested_fill("old"), kind="report")
    old_tree = tree(old)
    ref = tree(write_dir(workdir / "ref", nested_fill("new"), kind="report"))
    deep = old / "sub" / "deep"
    deep.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            write_dir(old, nested_fill("new"), kind="report")
    finally:
        for p in workdir.rglob("deep"):
            p.chmod(0o755)
    assert tree(old) == ref  # the new one is in place whichever way the OS behaves
    asides = [p for p in workdir.iterdir() if ".rnndyn-old-" in p.name]
    if caught:  # not root: the old one waits, named in the warning
        assert len(asides) == 1 and str(asides[0]) in str(caught[0].message)
        assert all(old_tree[rel] == data for rel, data in tree(asides[0]).items())
    else:  # root deletes anyway
        assert asides == []


def test_old_file_edited_after_the_check_is_kept(workdir: Path, monkeypatch) -> None:
    write_dir(workdir / "s", nested_fill("old"), kind="report")
    real_rename = os.rename

    def rename(src: Any, dst: Any) -> None:
        real_rename(src, dst)
        if ".rnndyn-old-" in str(dst):  # someone writes into the old folder right after the move
            (Path(dst) / "top.txt").write_text("edited at the worst moment")

    monkeypatch.setattr(os, "rename", rename)
    with pytest.warns(RuntimeWarning, match=r"top\.txt changed after it was checked"):
        write_dir(workdir / "s", nested_fill("new"), kind="report")
    monkeypatch.undo()
    (aside,) = [p for p in workdir.iterdir() if ".rnndyn-old-" in p.name]
    assert (aside / "top.txt").read_text() == "edited at the worst moment"
    assert (workdir / "s" / "top.txt").read_text() == "top new"


# ----------------------------------------------------------- report numbers
class _Thing:
    pass


def _circular_dict() -> dict:
    d: dict = {"a": {}}
    d["a"]["back"] = d
    return d


def _circular_list() -> dict:
    lst: list = [1]
    lst.append(lst)
    return {"fit": lst}


@pytest.mark.parametrize(
    "numbers, words",
    [
        ({"fit": {"when": {1, 2}}}, r"numbers\['fit'\]\['when'\] is a set .*sorted"),
        ({"x": _Thing()}, r"numbers\['x'\] is a _Thing"),
        ({"x": b"raw"}, r"numbers\['x'\] is a bytes .*decode"),
        ({"x": 1 + 2j}, r"numbers\['x'\] is a complex .*real"),
        ({"x": np.complex128(1j)}, r"numbers\['x'\] is a complex"),
        ({"x": np.array([1j, 2])}, r"numbers\['x'\]\[0\] is a complex"),
        ({"x": np.array([b"a"])}, r"numbers\['x'\]\[0\] is a bytes"),
        ({"x": np.datetime64("2020-01-01")}, r"numbers\['x'\] is a date"),
        ({"x": pd.Series([1, 2])}, r"numbers\['x'\] is a Series"),
        ({"x": [1, {"y": frozenset()}]}, r"numbers\['x'\]\[1\]\['y'\] is a frozenset"),
        ({"x": (1, _Thing)}, r"numbers\['x'\]\[1\] is a type"),
        ({("a", "b"): 1}, r"numbers has the key \('a', 'b'\) \(tuple\).*str, int, float, bool or None"),
        ({"x": {_Thing(): 1}}, r"numbers\['x'\] has the key .*_Thing"),
        ({"x": {1: "a", "1": "b"}}, r"numbers\['x'\] has two keys, 1 and '1'.*one would be lost"),
        ({True: 1, "true": 2}, r"two keys, True and 'true'"),
        (_circular_dict(), r"numbers\['a'\]\['back'\]\['a'\] refers back to numbers\['a'\] \(a circular"),
        (_circular_list(), r"numbers\['fit'\]\[1\] refers back to numbers\['fit'\]"),
    ],
)
def test_numbers_json_cannot_hold_are_refused_up_front(workdir: Path, numbers: Any, words: str) -> None:
    rep = Report("t")
    rep.numbers.update(numbers)
    with pytest.raises(RnndynError, match=words):
        rep.write(workdir / "rep")
    assert not (workdir / "rep").exists() and temp_leftovers(workdir) == []


def test_numbers_not_a_dict(workdir: Path) -> None:
    rep = Report("t")
    rep.numbers = [1, 2]  # type: ignore[assignment]
    with pytest.raises(RnndynError, match="numbers must be a dict"):
        rep.write(workdir / "rep")
    with pytest.raises(RnndynError, match="numbers must be a dict"):
        Report("t", numbers=[1])  # type: ignore[arg-type]


def test_numbers_nested_too_deeply(workdir: Path) -> None:
    deep: list = []
    cur = deep
    for _ in range(5000):
        cur.append([])
        cur = cur[0]
    rep = Report("t")
    rep.numbers["deep"] = deep
    with pytest.raises(RnndynError, match="nested too deeply"):
        rep.write(workdir / "rep")


def test_numbers_that_json_holds_are_written(workdir: Path) -> None:
    rep = Report("t")
    shared = [1, 2]
    rep.numbers.update(
        {
            "np": np.float32(1.5),
            "i": np.int64(7),
            "b": np.bool_(True),
            "s": np.str_("x"),
            "arr": np.arange(4).reshape(2, 2),
            "farr": np.array([1.0, np.nan, np.inf]),
            "obj": np.array([1, "a", None], dtype=object),
            "nan": float("nan"),
            "inf": -np.inf,
            "t": (1, (2, 3)),
            "none": None,
            1: "int key",
            2.5: "float key",
            None: "none key",
            np.int64(3): "numpy key",
            "shared": [shared, shared],  # the same list twice is not a cycle
        }
    )
    out = rep.write(workdir / "rep")
    got = json.loads((out / "summary.json").read_text())
    expected = {
        "np": 1.5,
        "i": 7,
        "b": True,
        "s": "x",
        "arr": [[0, 1], [2, 3]],
        "farr": [1.0, None, None],
        "obj": [1, "a", None],
        "nan": None,
        "inf": None,
        "t": [1, [2, 3]],
        "none": None,
        "1": "int key",
        "2.5": "float key",
        "null": "none key",
        "3": "numpy key",
        "shared": [[1, 2], [1, 2]],
    }
    assert got == expected
    assert json.loads(json.dumps(expected)) == got  # what json itself makes of the plain values


# ------------------------------------------------------- report arguments
@pytest.mark.parametrize("title", [None, 3, b"t", ["t"]])
def test_title_must_be_a_str(title: Any) -> None:
    with pytest.raises(RnndynError, match="title must be a str"):
        Report(title)


@pytest.mark.parametrize(
    "level, words",
    [(0, "level must be >= 1"), (-1, "level must be >= 1"), (7, "from 1 to 6"), (2.0, "level must be an int"),
     (True, "level must be an int"), ("2", "level must be an int"), (None, "level must be an int")],
)  # fmt: skip
def test_heading_level(level: Any, words: str) -> None:
    rep = Report("t")
    with pytest.raises(RnndynError, match=words):
        rep.heading("h", level)
    assert rep._parts == []


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda r: r.heading(3), "text must be a str"),
        (lambda r: r.text(None), "text must be a str"),
        (lambda r: r.text("x", note="yes"), "note must be True or False"),
        (lambda r: r.bullets("one item"), "items must be a list of str.*\\[item\\]"),
        (lambda r: r.bullets(None), "items must be a list of str"),
        (lambda r: r.bullets(["a", 2]), r"items\[1\] must be a str"),
    ],
)
def test_text_arguments(call: Callable, words: str) -> None:
    rep = Report("t")
    with pytest.raises(RnndynError, match=words):
        call(rep)
    assert rep._parts == []


@pytest.fixture
def fig() -> Any:
    f, ax = plt.subplots(figsize=(1, 1))
    yield f
    plt.close(f)


@pytest.mark.parametrize(
    "bad, words",
    [
        (None, "fig must be a matplotlib Figure; got None"),
        (np.zeros((2, 2)), "fig must be a matplotlib Figure; got .*ndarray"),
        ("axes", "ax.figure"),
    ],
)
def test_figure_must_be_a_figure(fig: Any, bad: Any, words: str) -> None:
    if isinstance(bad, str):
        bad = fig.axes[0]
    with pytest.raises(RnndynError, match=words):
        Report("t").figure(bad, "f")


@pytest.mark.parametrize(
    "dpi, words",
    [(0, "dpi must be >= 1"), (-5, "dpi must be >= 1"), (1.5, "dpi must be an int"),
     (110.0, "dpi must be an int"), (True, "dpi must be an int"), ("110", "dpi must be an int"),
     (10**6, "dpi must be from 1 to 1200")],
)  # fmt: skip
def test_figure_dpi(fig: Any, dpi: Any, words: str) -> None:
    rep = Report("t")
    with pytest.raises(RnndynError, match=words):
        rep.figure(fig, "f", dpi=dpi)
    assert rep._files == {} and plt.fignum_exists(fig.number)  # nothing done, figure not closed
    rep.figure(fig, "f", dpi=20)  # the name was not taken by the failed call
    assert list(rep._files) == ["f.png"] and not plt.fignum_exists(fig.number)


@pytest.mark.parametrize(
    "first, second, words",
    [
        ("x", "x", "is used twice"),
        ("a b", "a_b", r"'a_b' \(file a_b.csv\) is used twice"),
        ("A", "a", r"\(file a.csv\) clashes with A.csv"),
        ("héllo", "héllo", "is used twice"),
    ],
)
def test_names_that_become_the_same_file(first: str, second: str, words: str) -> None:
    rep = Report("t")
    rep.table(pd.DataFrame({"a": [1]}), first)
    with pytest.raises(RnndynError, match=words):
        rep.table(pd.DataFrame({"a": [2]}), second)
    assert len(rep._files) == 1


@pytest.mark.parametrize(
    "name, words",
    [("", "name must be a non-empty str"), ("  ", "name must be a non-empty str"), (None, "got None"),
     (3, r"got 3 \(int\)"), ("x" * 500, "at most 120 characters")],
)  # fmt: skip
def test_bad_names(name: Any, words: str) -> None:
    rep = Report("t")
    with pytest.raises(RnndynError, match=words):
        rep.table(pd.DataFrame({"a": [1]}), name)
    assert rep._files == {}


def test_names_never_clobber_the_reports_own_files(workdir: Path) -> None:
    rep = Report("t")
    for name in ("index", "summary", "rnndyn-manifest", "_rnndyn-manifest"):
        rep.table(pd.DataFrame({"a": [1]}), name)
    out = rep.write(workdir / "rep")
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(
        [MANIFEST, "index.html", "summary.json", "index.csv", "summary.csv", "rnndyn-manifest.csv",
         "_rnndyn-manifest.csv"]
    )  # fmt: skip
    assert (out / "index.html").read_text().startswith("<!DOCTYPE html>")


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"df": pd.Series([1])}, "df must be a pandas DataFrame; got Series.*to_frame"),
        ({"df": {"a": [1]}}, "df must be a pandas DataFrame; got dict"),
        ({"df": np.ones((2, 2))}, "df must be a pandas DataFrame; got ndarray"),
        ({"df": None}, "df must be a pandas DataFrame; got NoneType"),
        ({"max_rows": 0}, "max_rows must be >= 1"),
        ({"max_rows": -3}, "max_rows must be >= 1"),
        ({"max_rows": 2.5}, "max_rows must be an int"),
        ({"max_rows": True}, "max_rows must be an int"),
        ({"max_rows": None}, "max_rows must be an int"),
        ({"float_format": "{}{}"}, "float_format must be a format string"),
        ({"float_format": "{:d}"}, "float_format must be a format string"),
        ({"float_format": "{x}"}, "float_format must be a format string"),
        ({"float_format": 5}, "float_format must be a str"),
        ({"caption": 5}, "caption must be a str"),
    ],
)
def test_table_arguments(kwargs: dict, words: str) -> None:
    args = {"df": pd.DataFrame({"a": [1.5]}), "name": "t", **kwargs}
    rep = Report("t")
    with pytest.raises(RnndynError, match=words):
        rep.table(**args)
    assert rep._files == {} and rep._parts == []


def test_table_shows_max_rows_and_saves_all(workdir: Path) -> None:
    rep = Report("t")
    rep.table(pd.DataFrame({"a": np.arange(10)}), "t", max_rows=3)
    out = rep.write(workdir / "rep")
    assert len(pd.read_csv(out / "t.csv")) == 10
    assert "(first 3 of 10 rows)" in (out / "index.html").read_text()


# --------------------------------------------------------------- the docs page
def test_docs_page_blocks_run(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    text = (ROOT / "docs" / "report.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks
    for block in blocks:
        exec(compile(block, "docs/report.md", "exec"), {"__name__": "__docs__"})
    assert MANIFEST in text and "overwrite=False" in text
