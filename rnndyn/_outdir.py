"""Write an output folder, replacing an old one only if rnndyn can prove it wrote it.

An existing destination is replaced only if :func:`rnndyn._manifest.inspect_dest`
finds it empty or exactly what its manifest lists (:mod:`rnndyn._manifest`).
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
import os
import secrets
import shutil
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._manifest import MANIFEST, Found, inspect_dest, manifest_bytes, retry_hint, sha256
from .errors import RnndynError

__all__ = ["MANIFEST", "check_out", "write_dir", "resolve_out"]


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
            f"write into a folder you are working in. {retry_hint(dest, name, 'run from another folder')}"
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
    inspect_dest(dest, kind=kind, overwrite=overwrite, name=name, what=what)
    return dest


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


def _remove_old(aside: Path, found: Found, dest: Path, what: str) -> None:
    """Delete the previous folder, moved aside: only the files its manifest lists, each checked first."""
    try:
        for rel, (size, sha) in found.files.items():
            path = aside / rel
            if os.lstat(path).st_size != size or sha256(path) != sha:
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
    found: Found | None = None
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
        manifest = manifest_bytes(tmp, kind)
        with open(tmp / MANIFEST, "xb") as f:
            f.write(manifest)
        found = inspect_dest(dest, kind=kind, overwrite=overwrite, name=name, what=what)
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
                    f"replaced. {retry_hint(dest, name)}"
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
