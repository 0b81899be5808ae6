"""What a file seems to be, from its first bytes and zip listing: for error messages, nothing is loaded."""

from __future__ import annotations

import os
import zipfile

__all__ = ["describe_file", "PICKLE", "TORCHSCRIPT", "TORCH_SAVE"]

PICKLE = "a Python pickle"
TORCHSCRIPT = "a TorchScript archive (torch.jit.save)"
TORCH_SAVE = "a torch.save archive (a pickle inside a zip)"


def _is_pickle(head: bytes) -> bool:
    return head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05")


def describe_file(path: str | os.PathLike[str]) -> str:
    """A short description of a file rnndyn cannot use, or ``""`` when the bytes say nothing known.

    Examples
    --------
    >>> import pickle, tempfile, os
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = os.path.join(d, "model.pt")
    ...     with open(p, "wb") as fh:
    ...         pickle.dump({"w": 1}, fh)
    ...     describe_file(p)
    'a Python pickle'
    """
    if os.path.isdir(path):
        return "a folder"
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
    except OSError as exc:
        return f"unreadable ({exc.strerror})"
    if not head:
        return "an empty file"
    if _is_pickle(head):
        return PICKLE
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as zf:
                names = zf.namelist()
        except (zipfile.BadZipFile, OSError):
            return "a damaged zip archive"
        if any(n.endswith("constants.pkl") or "/code/" in n for n in names):
            return TORCHSCRIPT
        if any(n.endswith("data.pkl") for n in names):
            return TORCH_SAVE
        if "config.json" in names:
            return "a Keras archive"
        return "a zip archive"
    if head.startswith(b"\x89HDF"):
        return "an HDF5 file (e.g. a Keras .h5 model)"
    return ""
