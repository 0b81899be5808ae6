"""The manifest of a folder rnndyn writes, and the check that a folder is still only rnndyn's.

Every folder rnndyn writes holds a manifest, :data:`MANIFEST`, written last:
``{"tool": "rnndyn", "version": ..., "kind": ..., "files": [{"path", "size",
"sha256"}, ...], "dirs": [...]}``. :func:`inspect_dest` decides whether an
existing destination may be replaced: only a real folder (not a link, not a
file) that is empty, or whose content is exactly what its manifest lists,
byte for byte (same files, sizes and SHA-256). Anything else is refused with
:class:`~rnndyn.errors.RnndynError` and a message that says what is there.
Writing and replacing are :mod:`rnndyn._outdir`'s.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import RnndynError

__all__ = ["MANIFEST", "Found", "inspect_dest", "manifest_bytes", "retry_hint", "sha256", "walk"]

#: The manifest's file name, inside every folder rnndyn writes.
MANIFEST = ".rnndyn-manifest.json"

_SHOW = 5  # names listed in a message before "and N more"
_MAX_MANIFEST = 64 << 20


@dataclass
class Found:
    """An existing destination that may be replaced: empty, or exactly what its manifest lists."""

    files: dict[str, tuple[int, str]] = field(default_factory=dict)
    dirs: list[str] = field(default_factory=list)
    manifest: bool = False

    @property
    def empty(self) -> bool:
        return not self.files and not self.dirs and not self.manifest


def retry_hint(dest: Path, name: str, instead: str = "move your files out of it first") -> str:
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


def walk(root: Path) -> tuple[dict[str, int], list[str], list[str]]:
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


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _valid_rel(p: Any) -> bool:
    if not isinstance(p, str) or not p or p.startswith("/") or "\\" in p or "\x00" in p:
        return False
    return all(part not in ("", ".", "..") for part in p.split("/")) and p != MANIFEST


def read_manifest(path: Path) -> dict[str, Any]:
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


def inspect_dest(dest: Path, *, kind: str, overwrite: bool, name: str, what: str) -> Found | None:
    """``None`` if ``dest`` does not exist, a :class:`Found` if it may be replaced; else raise."""
    try:
        st = os.lstat(dest)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise RnndynError(f"cannot write the {what} to {dest}: {exc.strerror or exc}.") from None
    if stat.S_ISLNK(st.st_mode):
        raise RnndynError(
            f"{name}={dest} is a symbolic link (to {os.readlink(dest)}); rnndyn neither replaces links "
            f"nor writes through them. {retry_hint(dest, name)}"
        )
    if not stat.S_ISDIR(st.st_mode):
        raise RnndynError(
            f"{name}={dest} exists and is a file, not a folder; rnndyn writes a folder and never "
            f"replaces a file. {retry_hint(dest, name)}"
        )
    try:
        files, dirs, odd = walk(dest)
    except OSError as exc:
        raise RnndynError(
            f"cannot read {name}={dest}: {exc.strerror or exc}. {retry_hint(dest, name)}"
        ) from None
    if not files and not dirs and not odd:
        return Found()
    held = f"holds {_count(len(files), 'file')}" + (f" and {_count(len(dirs), 'folder')}" if dirs else "")
    if not overwrite:
        raise RnndynError(
            f"{name}={dest} exists and is not empty (it {held}); with overwrite=False rnndyn writes only "
            f"into a new or empty folder. Pass overwrite=True to replace an earlier {what} rnndyn wrote. "
            f"{retry_hint(dest, name)}"
        )
    if MANIFEST not in files:
        names = sorted(files) + [d + "/" for d in dirs] + odd
        raise RnndynError(
            f"{name}={dest} is not empty and has no rnndyn manifest ({MANIFEST}), so rnndyn cannot prove "
            f"it wrote it and will not replace it: it {held} ({_listing(names)}). rnndyn "
            f"replaces only a folder it wrote and nobody changed since. {retry_hint(dest, name)}"
        )
    try:
        manifest = read_manifest(dest / MANIFEST)
    except (OSError, ValueError) as exc:
        raise RnndynError(
            f"{name}={dest} has an rnndyn manifest ({MANIFEST}) that cannot be trusted: {exc}; rnndyn "
            f"will not replace the folder. {retry_hint(dest, name)}"
        ) from None
    if manifest["kind"] != kind:
        raise RnndynError(
            f"{name}={dest} holds an rnndyn {manifest['kind']}, not a {kind}; rnndyn replaces a folder "
            f"only with output of the same kind. {retry_hint(dest, name)}"
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
            if files[p] != size or sha256(dest / p) != sha:
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
            f"{retry_hint(dest, name)}"
        )
    return Found(files=listed, dirs=dirs, manifest=True)


def manifest_bytes(root: Path, kind: str) -> bytes:
    from . import __version__

    files, dirs, odd = walk(root)
    if odd:
        raise RnndynError(f"rnndyn wrote entries that are not regular files into {root}: {odd}")
    entries = [{"path": p, "size": size, "sha256": sha256(root / p)} for p, size in sorted(files.items())]
    body = {"tool": "rnndyn", "version": __version__, "kind": kind, "files": entries, "dirs": dirs}
    return (json.dumps(body, indent=1) + "\n").encode("utf-8")
