"""Reading the inputs of ``rnndyn capture``: ``.npy``/``.npz`` arrays, or lines of text plus a vocabulary.

Arrays are read with ``np.load(..., allow_pickle=False)`` only: a pickle
(also one named ``.npy`` or ``.npz``, or an object array inside an ``.npz``)
is refused with a message, never unpickled.

A text file holds one sequence per line (UTF-8). The vocabulary is a JSON
object ``{"token": id, ...}``, or ``{"tokens": [...]}`` (the id of a token is
its position) with optional ``"pad_index"``, ``"unk_index"`` and
``"lowercase"``. Lines are split into characters (or, with ``tokens="words"``,
at whitespace). A token not in the vocabulary is refused with its line
number unless ``unknown`` gives the id to use. Lines of different lengths are
right-padded with the ``pad`` id and their lengths are passed to capture, so
the padding is known; nothing is padded or dropped silently.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._manifest import sha256
from ..errors import RnndynError

__all__ = ["Inputs", "read_inputs", "read_vocab", "encode_lines", "sha256_file"]

_PICKLE_HINT = (
    "it holds Python pickles, which rnndyn never loads because unpickling can run code. Save numeric "
    "arrays with np.save / np.savez (no object arrays)."
)


@dataclass
class Inputs:
    """What the model reads: the array, the lengths (or None) and the text lines (or None)."""

    array: np.ndarray
    lengths: np.ndarray | None = None
    lines: list[str] | None = None
    source: dict[str, Any] = field(default_factory=dict)


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's bytes."""
    return sha256(Path(path))


def _is_pickle(path: Path) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(2)
    return head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05")


def _load_array(path: Path, key: str | None, what: str) -> np.ndarray:
    """One numeric array from a .npy, or the array ``key`` of a .npz (no pickles)."""
    if _is_pickle(path):
        raise RnndynError(f"{what} {path} is not a numpy file: {_PICKLE_HINT}")
    try:
        loaded = np.load(path, allow_pickle=False)
    except ValueError as exc:
        if "pickle" in str(exc):
            raise RnndynError(f"{what} {path}: {_PICKLE_HINT}") from None
        raise RnndynError(f"{what} {path} is not a numpy .npy/.npz file ({exc}).") from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise RnndynError(f"{what} {path} cannot be read as a numpy .npy/.npz file ({exc}).") from None
    if isinstance(loaded, np.lib.npyio.NpzFile):
        with loaded:
            names = list(loaded.files)
            if key is None:
                if len(names) != 1:
                    raise RnndynError(
                        f"{what} {path} holds the arrays {names}; say which one with --key "
                        f"(e.g. --key {names[0] if names else 'x'})."
                    )
                key = names[0]
            if key not in names:
                raise RnndynError(f"{what} {path} has no array {key!r}; it holds {names}.")
            try:
                arr = loaded[key]
            except ValueError as exc:
                if "pickle" in str(exc):
                    raise RnndynError(f"{what} {path}, array {key!r}: {_PICKLE_HINT}") from None
                raise RnndynError(f"{what} {path}, array {key!r} cannot be read ({exc}).") from None
    else:
        if key is not None:
            raise RnndynError(f"--key {key} only applies to .npz files; {path} is a .npy file.")
        arr = loaded
    if arr.dtype.kind not in "biuf":
        raise RnndynError(f"{what} {path} holds a {arr.dtype} array; a model reads numbers (int or float).")
    return arr


def read_vocab(path: str | os.PathLike) -> tuple[dict[str, int], dict[str, Any]]:
    """The token -> id mapping of a vocabulary JSON file, and its options (pad_index, unk_index, lowercase).

    Examples
    --------
    >>> import json, tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "v.json")
    >>> _ = open(p, "w").write(json.dumps({"tokens": ["<pad>", "a", "b"], "pad_index": 0}))
    >>> read_vocab(p)
    ({'<pad>': 0, 'a': 1, 'b': 2}, {'pad_index': 0})
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise RnndynError(f"--vocab {path} is not a UTF-8 JSON file ({exc}).") from None
    options: dict[str, Any] = {}
    if isinstance(data, dict) and isinstance(data.get("tokens"), list):
        tokens = data["tokens"]
        if not all(isinstance(t, str) for t in tokens):
            raise RnndynError(f"--vocab {path}: 'tokens' must be a list of str.")
        vocab = {t: i for i, t in enumerate(tokens)}
        for k in ("pad_index", "unk_index"):
            if k in data:
                if type(data[k]) is not int:
                    raise RnndynError(f"--vocab {path}: {k!r} must be an int; got {data[k]!r}.")
                options[k] = data[k]
        if data.get("lowercase"):
            options["lowercase"] = True
        return vocab, options
    if not isinstance(data, dict) or not data or not all(type(v) is int for v in data.values()):
        raise RnndynError(
            f'--vocab {path} must be a JSON object of token -> int id, e.g. {{"a": 1, "b": 2}}, or '
            '{"tokens": ["<pad>", "a", ...]} (id = position).'
        )
    return dict(data), options


def encode_lines(
    lines: list[str],
    vocab: dict[str, int],
    *,
    unknown: int | None = None,
    pad: int | None = None,
    steps: int | None = None,
    tokens: str = "chars",
    lowercase: bool = False,
    where: str = "INPUTS",
) -> tuple[np.ndarray, np.ndarray]:
    """Encode lines into an int32 array ``(n_lines, n_steps)``, right-padded, and their lengths.

    Examples
    --------
    >>> x, n = encode_lines(["ab", "b"], {"a": 1, "b": 2}, pad=0)
    >>> x.tolist(), n.tolist()
    ([[1, 2], [2, 0]], [2, 1])
    """
    seqs = []
    for no, line in enumerate(lines, 1):
        toks = line.split() if tokens == "words" else list(line)
        if lowercase:  # case-fold each token (a character whose lower case is two is kept)
            toks = [t.lower() if tokens == "words" or len(t.lower()) == 1 else t for t in toks]
        if not toks:
            raise RnndynError(f"{where} line {no} is empty; remove empty lines (a sequence needs a step).")
        ids = []
        for tok in toks:
            i = vocab.get(tok)
            if i is None:
                if unknown is None:
                    raise RnndynError(
                        f"{where} line {no}: {tok!r} is not in the vocabulary; fix the line, or map unknown "
                        "tokens to an id with --unknown ID."
                    )
                i = unknown
            ids.append(i)
        seqs.append(ids)
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    longest = int(lengths.max())
    n_steps = longest if steps is None else steps
    if longest > n_steps:
        no = int(np.argmax(lengths)) + 1
        raise RnndynError(
            f"{where} line {no} has {longest} tokens, more than --steps {n_steps}; shorten it or raise "
            "--steps."
        )
    if pad is None and (np.any(lengths != n_steps)):
        raise RnndynError(
            f"the lines of {where} have {int(lengths.min())} to {longest} tokens (padded to {n_steps}); "
            "give the padding id with --pad ID (or a 'pad_index' in the vocabulary)."
        )
    out = np.full((len(seqs), n_steps), pad if pad is not None else 0, dtype=np.int32)
    for i, s in enumerate(seqs):
        out[i, : len(s)] = s
    return out, lengths


def read_inputs(
    path: str | os.PathLike,
    *,
    key: str | None = None,
    lengths: str | os.PathLike | None = None,
    lengths_key: str | None = None,
    vocab: str | os.PathLike | None = None,
    unknown: int | None = None,
    pad: int | None = None,
    steps: int | None = None,
    tokens: str = "chars",
) -> Inputs:
    """Read ``INPUTS`` as ``rnndyn capture`` does (see the module docstring)."""
    p = Path(path)
    source: dict[str, Any] = {"file": p.name, "sha256": sha256_file(p)}
    suffix = p.suffix.lower()
    if suffix in (".npy", ".npz"):
        if vocab is not None:
            raise RnndynError(f"--vocab is for text inputs; {p} is a numpy file of ids already.")
        array = _load_array(p, key, "INPUTS")
        source.update(kind="array", key=key)
        lens = None
        if lengths is not None:
            lens = _load_array(Path(lengths), lengths_key, "--lengths")
        elif lengths_key is not None:
            if suffix != ".npz":
                raise RnndynError("--lengths-key alone reads the lengths from INPUTS, which must be a .npz.")
            lens = _load_array(p, lengths_key, "--lengths-key")
        if lens is not None:
            if lens.dtype.kind not in "iu":
                raise RnndynError(f"the lengths must be integers; got a {lens.dtype} array.")
            source["lengths"] = os.fspath(lengths) if lengths is not None else f"{p.name}:{lengths_key}"
        return Inputs(array, lens, None, source)
    if vocab is None:
        raise RnndynError(
            f"INPUTS {p} is not a .npy/.npz file, so it is read as text (one sequence per line), which "
            "needs --vocab VOCAB.json (token -> id)."
        )
    if lengths is not None or lengths_key is not None or key is not None:
        raise RnndynError(
            "--lengths, --lengths-key and --key are for .npy/.npz inputs; text lines know theirs."
        )
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        if _is_pickle(p):
            raise RnndynError(f"INPUTS {p} is a Python pickle, not text: {_PICKLE_HINT}") from None
        raise RnndynError(f"INPUTS {p} is not UTF-8 text (byte {exc.start}); save it as UTF-8.") from None
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()  # trailing blank lines are not sequences
    if not lines:
        raise RnndynError(f"INPUTS {p} has no lines; write one sequence per line.")
    table, options = read_vocab(vocab)
    pad = pad if pad is not None else options.get("pad_index")
    array, lens = encode_lines(
        lines,
        table,
        unknown=unknown,
        pad=pad,
        steps=steps,
        tokens=tokens,
        lowercase=bool(options.get("lowercase")),
        where=f"INPUTS {p.name}",
    )
    source.update(kind="text", vocab=Path(vocab).name, vocab_sha256=sha256_file(vocab), pad=pad)
    source.update(unknown=unknown, tokens=tokens)
    return Inputs(array, lens, lines, source)
