"""Write an output folder, replacing an old one only if rnndyn can prove it wrote it.

Every folder rnndyn writes holds a manifest, :data:`MANIFEST`, written last:
``{"tool": "rnndyn", "version": ..., "kind": ..., "files": [{"path", "size",
"sha256"}, ...], "dirs": [...]}``. An existing destination is replaced only if
it is a real folder (not a link, not a file) that is empty, or whose content is
exactly what its manifest lists, byte for byte (same files, sizes and SHA-256).
Anything else is refused with :class:`~rnndyn.errors.RnndynError`, before any
work is done, with a message that says what is there.

The replacement is atomic on one filesystem: the new folder is written in a
hidden sibling, the destination is checked again, the old folder is renamed
aside, the new one renamed into place, and only then are the old folder's files
deleted, one by one, each checked against the manifest first. On any failure
before the new folder is in place the old one is put back as it was and the
temporary folder removed. If only the final deletion fails, the new folder
stays and a :class:`RuntimeWarning` names the folder left aside.

:func:`check_out` is the up-front check (call it before a long run);
:func:`write_dir` does the whole write.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import secrets
import shutil
import stat
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import RnndynError

__all__ = ["MANIFEST", "check_out", "write_dir", "resolve_out"]

#: The manifest's file name, inside every folder rnndyn writes.
MANIFEST = ".rnndyn-manifest.json"

_SHOW = 5  # names listed in a message before "and N more"
_MAX_MANIFEST = 64 << 20


@dataclass
class _Found:
    """An existing destination that may be replaced: empty, or exactly what its manifest lists."""

    files: dict[str, tuple[int, str]] = field(default_factory=dict)
    dirs: list[str] = field(default_factory=list)
    manifest: bool = False

    @property
    def empty(self) -> bool:
        return not self.files and not self.dirs and not self.manifest


def resolve_out(out: Any, *, name: str = "out", what: str = "report") -> Path:
    """The absolute destination path, ``~`` expanded, its parent resolved (not its last part).

    The last component is kept as written, so that a symbolic link there is
    seen (and refused) rather than followed.

    Examples
    --------
    >>> resolve_out("/tmp/a/../b/report").as_posix()
    '/tmp/b/report'
    >>> resolve_out(3)
    Traceback (most recent call last):
    ...
    rnndyn.errors.RnndynError: out must be a folder path (str or pathlib.Path); got 3 (int).
    """
    if not isinstance(out, (str, os.PathLike)):
        raise RnndynError(
            f"{name} must be a folder path (str or pathlib.Path); got {out!r} ({type(out).__name__})."
        )
    text = os.fspath(out)
    if not isinstance(text, str):
        raise RnndynError(f"{name} must be a folder path given as str or pathlib.Path; got {out!r}.")
    if not text.strip():
        raise RnndynError(
            f"{name} is empty; give the folder to write the {what} to, e.g. {name}='my-{what}'."
        )
    if "\x00" in text:
        raise RnndynError(f"{name} contains a NUL character, which no file system accepts; got {text!r}.")
    full = Path(os.path.expanduser(text)).absolute()
    if full.name in ("", ".", ".."):
        return full.resolve()
    return full.parent.resolve() / full.name


def _how(dest: Path, name: str, instead: str = "move your files out of it first") -> str:
    for i in range(2, 100):
        candidate = dest.with_name(f"{dest.name}-{i}")
        if not os.path.lexists(candidate):
            break
    return f"Choose another folder (for example {name}={candidate}) or {instead}."


def _listing(names: list[str]) -> str:
    more = f" and {len(names) - _SHOW} more" if len(names) > _SHOW else ""
    return ", ".join(names[:_SHOW]) + more


def _count(n: int, noun: str, plural: str = "") -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {plural or noun + 's'}"


def _walk(root: Path) -> tuple[dict[str, int], list[str], list[str]]:
    """Regular files (relative posix path -> size), folders and other entries, links not followed."""
    files: dict[str, int] = {}
    dirs: list[str] = []
    odd: list[str] = []
    stack = [("", root)]
    while stack:
        prefix, folder = stack.pop()
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
        for entry in entries:
            rel = prefix + entry.name
            if entry.is_symlink():
                odd.append(f"{rel} (a symbolic link)")
            elif entry.is_dir(follow_symlinks=False):
                dirs.append(rel)
                stack.append((rel + "/", Path(entry.path)))
            elif entry.is_file(follow_symlinks=False):
                files[rel] = entry.stat(follow_symlinks=False).st_size
            else:
                odd.append(f"{rel} (not a regular file)")
    return files, sorted(dirs), sorted(odd)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _valid_rel(p: Any) -> bool:
    if not isinstance(p, str) or not p or p.startswith("/") or "\\" in p or "\x00" in p:
        return False
    return all(part not in ("", ".", "..") for part in p.split("/")) and p != MANIFEST


def _read_manifest(path: Path) -> dict[str, Any]:
    """The parsed manifest; raises ValueError saying what is wrong with it."""
    with open(path, "rb") as f:
        raw = f.read(_MAX_MANIFEST + 1)
    if len(raw) > _MAX_MANIFEST:
        raise ValueError("it is larger than any manifest rnndyn writes")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"it is not valid JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("tool") != "rnndyn":
        raise ValueError('it does not say {"tool": "rnndyn"}')
    if not isinstance(data.get("kind"), str):
        raise ValueError("it names no kind of output")
    files, dirs = data.get("files"), data.get("dirs", [])
    if not isinstance(files, list) or not isinstance(dirs, list):
        raise ValueError("its 'files' or 'dirs' is not a list")
    seen: dict[str, tuple[int, str]] = {}
    for entry in files:
        ok = isinstance(entry, dict) and _valid_rel(entry.get("path"))
        size, sha = (entry.get("size"), entry.get("sha256")) if isinstance(entry, dict) else (None, None)
        ok = ok and isinstance(size, int) and not isinstance(size, bool) and size >= 0
        ok = ok and isinstance(sha, str) and len(sha) == 64 and all(c in "0123456789abcdef" for c in sha)
        if not ok or entry["path"] in seen:
            raise ValueError(f"its file entry {entry!r} is malformed or repeated")
        seen[entry["path"]] = (size, sha)
    if not all(_valid_rel(d) for d in dirs):
        raise ValueError("its 'dirs' holds a path that is not a plain relative path")
    data["_files"], data["_dirs"] = seen, set(dirs)
    return data


def _inspect(dest: Path, *, kind: str, overwrite: bool, name: str, what: str) -> _Found | None:
    """``None`` if ``dest`` does not exist, a :class:`_Found` if it may be replaced; else raise."""
    try:
        st = os.lstat(dest)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise RnndynError(f"cannot write the {what} to {dest}: {exc.strerror or exc}.") from None
    if stat.S_ISLNK(st.st_mode):
        raise RnndynError(
            f"{name}={dest} is a symbolic link (to {os.readlink(dest)}); rnndyn neither replaces links "
            f"nor writes through them. {_how(dest, name)}"
        )
    if not stat.S_ISDIR(st.st_mode):
        raise RnndynError(
            f"{name}={dest} exists and is a file, not a folder; rnndyn writes a folder and never "
            f"replaces a file. {_how(dest, name)}"
        )
    try:
        files, dirs, odd = _walk(dest)
    except OSError as exc:
        raise RnndynError(f"cannot read {name}={dest}: {exc.strerror or exc}. {_how(dest, name)}") from None
    if not files and not dirs and not odd:
        return _Found()
    held = f"holds {_count(len(files), 'file')}" + (f" and {_count(len(dirs), 'folder')}" if dirs else "")
    if not overwrite:
        raise RnndynError(
            f"{name}={dest} exists and is not empty (it {held}); with overwrite=False rnndyn writes only "
            f"into a new or empty folder. Pass overwrite=True to replace an earlier {what} rnndyn wrote. "
            f"{_how(dest, name)}"
        )
    if MANIFEST not in files:
        names = sorted(files) + [d + "/" for d in dirs] + odd
        raise RnndynError(
            f"{name}={dest} is not empty and has no rnndyn manifest ({MANIFEST}), so rnndyn cannot prove "
            f"it wrote it and will not replace it: it {held} ({_listing(names)}). rnndyn "
            f"replaces only a folder it wrote and nobody changed since. {_how(dest, name)}"
        )
    try:
        manifest = _read_manifest(dest / MANIFEST)
    except (OSError, ValueError) as exc:
        raise RnndynError(
            f"{name}={dest} has an rnndyn manifest ({MANIFEST}) that cannot be trusted: {exc}; rnndyn "
            f"will not replace the folder. {_how(dest, name)}"
        ) from None
    if manifest["kind"] != kind:
        raise RnndynError(
            f"{name}={dest} holds an rnndyn {manifest['kind']}, not a {kind}; rnndyn replaces a folder "
            f"only with output of the same kind. {_how(dest, name)}"
        )
    listed: dict[str, tuple[int, str]] = manifest["_files"]
    problems = []
    extra = [p for p in files if p != MANIFEST and p not in listed]
    if extra:
        problems.append(f"holds {_count(len(extra), 'file')} rnndyn did not write: {_listing(extra)}")
    missing = [p for p in listed if p not in files]
    if missing:
        problems.append(f"lacks {_count(len(missing), 'file')} rnndyn wrote: {_listing(missing)}")
    changed = []
    for p in sorted(set(listed) & set(files)):
        size, sha = listed[p]
        try:
            if files[p] != size or _sha256(dest / p) != sha:
                changed.append(p)
        except OSError:
            changed.append(p)
    if changed:
        problems.append(
            f"has {_count(len(changed), 'file')} changed since rnndyn wrote it: {_listing(changed)}"
        )
    needed = set(manifest["_dirs"])
    for p in listed:
        parts = p.split("/")
        needed.update("/".join(parts[:i]) for i in range(1, len(parts)))
    extra_dirs = [d + "/" for d in dirs if d not in needed]
    if extra_dirs:
        problems.append(
            f"holds {_count(len(extra_dirs), 'folder')} rnndyn did not write: {_listing(extra_dirs)}"
        )
    if odd:
        problems.append(f"holds {_count(len(odd), 'entry', 'entries')} rnndyn did not write: {_listing(odd)}")
    if problems:
        raise RnndynError(
            f"{name}={dest} was written by rnndyn but is no longer only rnndyn's: it "
            f"{'; it '.join(problems)}. rnndyn will not replace it, so that nothing of yours is deleted. "
            f"{_how(dest, name)}"
        )
    return _Found(files=listed, dirs=dirs, manifest=True)


def check_out(
    out: Any, *, kind: str = "report", overwrite: bool = True, name: str = "out", what: str = "report"
) -> Path:
    """Refuse, before any work, a destination rnndyn may not write or replace; return its path.

    Parameters
    ----------
    out : str or os.PathLike
        The folder to write (``~`` is expanded, relative paths are from the
        current directory).
    kind : str
        The kind of output recorded in the manifest; a folder holding another
        kind of rnndyn output is refused.
    overwrite : bool
        If False, any existing non-empty folder is refused.
    name, what : str
        How messages call the argument and the output.

    Returns
    -------
    pathlib.Path
        The absolute destination.

    Raises
    ------
    RnndynError
        The destination is the current folder or one of its parents, a file, a
        symbolic link, a non-empty folder without a valid rnndyn manifest, or a
        folder whose content differs from its manifest; or it cannot be created.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> mine = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (mine / "thesis.tex").write_text("years of work")
    >>> check_out(mine)
    Traceback (most recent call last):
    ...
    rnndyn.errors.RnndynError: out=... is not empty and has no rnndyn manifest ...
    >>> check_out(mine / "report") == mine / "report"
    True
    """
    dest = resolve_out(out, name=name, what=what)
    if dest.parent == dest:
        raise RnndynError(f"{name}={dest} is the root of the file system; choose a folder inside it.")
    try:
        cwd: Path | None = Path.cwd().resolve()
    except OSError:
        cwd = None
    if cwd is not None and (dest == cwd or dest in cwd.parents):
        where = "the current folder" if dest == cwd else f"a parent of the current folder ({cwd})"
        raise RnndynError(
            f"{name}={dest} is {where}; rnndyn replaces the whole folder it writes, so it will not "
            f"write into a folder you are working in. {_how(dest, name, 'run from another folder')}"
        )
    anc = dest.parent
    while not os.path.lexists(anc) and anc != anc.parent:
        anc = anc.parent
    if not os.path.isdir(anc):
        raise RnndynError(
            f"cannot write the {what} to {dest}: {anc} is a file, not a folder. Choose a folder whose "
            "parents are folders."
        )
    if not os.access(anc, os.W_OK | os.X_OK):
        raise RnndynError(
            f"cannot write the {what} to {dest}: no write permission in {anc}. Choose a folder you can "
            "write to."
        )
    _inspect(dest, kind=kind, overwrite=overwrite, name=name, what=what)
    return dest


def _manifest_bytes(root: Path, kind: str) -> bytes:
    from . import __version__

    files, dirs, odd = _walk(root)
    if odd:
        raise RnndynError(f"rnndyn wrote entries that are not regular files into {root}: {odd}")
    entries = [{"path": p, "size": size, "sha256": _sha256(root / p)} for p, size in sorted(files.items())]
    body = {"tool": "rnndyn", "version": __version__, "kind": kind, "files": entries, "dirs": dirs}
    return (json.dumps(body, indent=1) + "\n").encode("utf-8")


def _fresh_name(parent: Path, stem: str, tag: str) -> Path:
    return parent / f".{stem}.rnndyn-{tag}-{secrets.token_hex(6)}"


def _remove_tmp(tmp: Path) -> None:
    """Remove our own temporary folder (we created it; only we wrote into it)."""
    try:
        shutil.rmtree(tmp)
    except OSError as exc:
        warnings.warn(
            f"rnndyn could not remove its temporary folder {tmp} ({exc}); delete it yourself.",
            RuntimeWarning,
            stacklevel=4,
        )


def _remove_old(aside: Path, found: _Found, dest: Path, what: str) -> None:
    """Delete the previous folder, moved aside: only the files its manifest lists, each checked first."""
    try:
        for rel, (size, sha) in found.files.items():
            path = aside / rel
            if os.lstat(path).st_size != size or _sha256(path) != sha:
                raise OSError(f"{rel} changed after it was checked, so it was kept")
            os.unlink(path)
        if found.manifest:
            os.unlink(aside / MANIFEST)
        for d in sorted(found.dirs, key=lambda d: d.count("/"), reverse=True):
            os.rmdir(aside / d)
        os.rmdir(aside)
    except BaseException as exc:  # an interrupt too: say where the old folder is, then go on
        warnings.warn(
            f"rnndyn wrote the new {what} to {dest}, but could not finish removing the previous one, "
            f"which it had moved aside to {aside} ({type(exc).__name__}: {exc}). Nothing of yours was "
            "lost: check that folder and delete it yourself.",
            RuntimeWarning,
            stacklevel=3,
        )
        if not isinstance(exc, Exception):
            raise


def write_dir(
    out: Any,
    fill: Callable[[Path], None],
    *,
    kind: str = "report",
    overwrite: bool = True,
    name: str = "out",
    what: str = "report",
) -> Path:
    """Write a folder with ``fill`` and put it at ``out``, replacing only an earlier one of ours.

    ``out`` is checked first with :func:`check_out` (nothing is written if it is
    refused). ``fill(folder)`` writes the content into an empty temporary
    sibling folder; the manifest is added last, listing every file ``fill``
    wrote. The destination is then checked again and replaced atomically.

    Parameters
    ----------
    out : str or os.PathLike
        The destination folder.
    fill : callable
        ``fill(folder: pathlib.Path) -> None`` writes the files.
    kind, overwrite, name, what
        As in :func:`check_out`.

    Returns
    -------
    pathlib.Path
        The absolute destination.

    Raises
    ------
    RnndynError
        ``out`` is refused (see :func:`check_out`), or it changed during the
        write so that it may no longer be replaced. Nothing was changed.
    OSError
        Writing failed; the old folder is unchanged and nothing is left behind.

    Warns
    -----
    RuntimeWarning
        The new folder is in place but the previous one, moved aside, could not
        be removed completely; the warning names where it is.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "demo"
    >>> _ = write_dir(out, lambda d: (d / "a.txt").write_text("one"))
    >>> _ = write_dir(out, lambda d: (d / "b.txt").write_text("two"))
    >>> sorted(p.name for p in out.iterdir())
    ['.rnndyn-manifest.json', 'b.txt']
    """
    dest = check_out(out, kind=kind, overwrite=overwrite, name=name, what=what)
    parent = dest.parent
    created: list[Path] = []
    p = parent
    while not os.path.lexists(p):
        created.append(p)
        p = p.parent
    tmp: Path | None = None
    aside: Path | None = None
    found: _Found | None = None
    placed = False
    try:
        try:
            for d in reversed(created):
                os.mkdir(d)
            spot = _fresh_name(parent, dest.name, "new")
            os.mkdir(spot)
            tmp = spot
        except OSError as exc:
            raise RnndynError(f"cannot write the {what} to {dest}: {exc.strerror or exc}.") from None
        fill(tmp)
        manifest = _manifest_bytes(tmp, kind)
        with open(tmp / MANIFEST, "xb") as f:
            f.write(manifest)
        found = _inspect(dest, kind=kind, overwrite=overwrite, name=name, what=what)
        if found is not None and not (found.empty and os.name != "nt"):
            spot = _fresh_name(parent, dest.name, "old")
            os.rename(dest, spot)
            aside = spot
        try:
            os.rename(tmp, dest)
        except OSError as exc:
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR, errno.EISDIR):
                raise RnndynError(
                    f"{name}={dest} appeared or changed while the {what} was being written; nothing was "
                    f"replaced. {_how(dest, name)}"
                ) from None
            raise
        placed = True
    except BaseException:
        if aside is not None and not placed:
            try:
                os.rename(aside, dest)
            except OSError as exc:
                warnings.warn(
                    f"rnndyn could not move the previous {what} back from {aside} to {dest} ({exc}); "
                    f"nothing was lost: rename {aside} to {dest} yourself.",
                    RuntimeWarning,
                    stacklevel=2,
                )
        if tmp is not None and not placed:
            _remove_tmp(tmp)
        for d in created:
            try:
                os.rmdir(d)
            except FileNotFoundError:
                continue
            except OSError:
                break
        raise
    if aside is not None and found is not None:
        _remove_old(aside, found, dest, what)
    return dest
