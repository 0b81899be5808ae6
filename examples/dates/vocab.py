"""Character vocabularies of the date translator and the encoding of its inputs and outputs.

:class:`InputVocab` (``<pad>``, ``<unk>``, then case-folded characters) and
:class:`OutputVocab` (``0123456789-``), their JSON files, and the arrays the
models read and write: :func:`encode_inputs`, :func:`input_lengths`,
:func:`encode_outputs`, :func:`decode_outputs`. The section "Vocabularies and
encoding" of :mod:`examples.dates.data`, which re-exports every name, describes
the layout.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from rnndyn.errors import RnndynError

from ._files import _file_error, _kind_of, _read_json

__all__ = [
    "MAX_LEN",
    "OUT_LEN",
    "PAD",
    "UNK",
    "InputVocab",
    "OutputVocab",
    "encode_inputs",
    "input_lengths",
    "encode_outputs",
    "decode_outputs",
]

#: Maximum input length in characters (steps of the encoder).
MAX_LEN: int = 50
#: Output length: ``YYYY-MM-DD``.
OUT_LEN: int = 10
#: Padding token (index 0 of :class:`InputVocab`).
PAD: str = "<pad>"
#: Unknown-character token (index 1 of :class:`InputVocab`).
UNK: str = "<unk>"


def _fold(c: str) -> str:
    low = c.lower()
    return low if len(low) == 1 else c


class InputVocab:
    """Character vocabulary of the encoder input.

    Index 0 is :data:`PAD` (``<pad>``), index 1 is :data:`UNK` (``<unk>``),
    then characters by decreasing training frequency (ties by code point).

    Parameters
    ----------
    chars : sequence of str
        The characters after ``<pad>`` and ``<unk>``, in index order.
    lowercase : bool, optional
        Case-fold each character (when its lower case is one character)
        before lookup. Default True.

    Attributes
    ----------
    tokens : list of str
        All symbols in index order (``tokens[0] == "<pad>"``).
    pad_index, unk_index : int
        0 and 1.
    """

    pad_index: int = 0
    unk_index: int = 1

    def __init__(self, chars: Sequence[str], *, lowercase: bool = True) -> None:
        if isinstance(chars, str):
            chars = list(chars)
        chars = list(chars)
        bad = [c for c in chars if not isinstance(c, str) or len(c) != 1]
        if bad:
            raise RnndynError(f"InputVocab chars: every entry must be one character; got {bad[0]!r}")
        dup = sorted({c for c in chars if chars.count(c) > 1})
        if dup:
            raise RnndynError(f"InputVocab chars: duplicate characters {dup}; each may appear once")
        if not isinstance(lowercase, bool):
            raise RnndynError(f"InputVocab lowercase must be True or False; got {lowercase!r}")
        self.lowercase = lowercase
        self.tokens: list[str] = [PAD, UNK, *chars]
        self._index = {c: i for i, c in enumerate(self.tokens) if i >= 2}

    @classmethod
    def build(cls, strings: Iterable[str], *, max_size: int = 60, lowercase: bool = True) -> InputVocab:
        """Vocabulary of the ``max_size - 2`` most frequent characters.

        Parameters
        ----------
        strings : iterable of str
            Training strings.
        max_size : int, optional
            Total number of symbols including ``<pad>`` and ``<unk>``
            (default 60, the one-hot width of the founding study).
        lowercase : bool, optional
            Case-fold before counting and lookup (default True).
        """
        if max_size < 3:
            raise ValueError("max_size must be >= 3")
        counts: Counter[str] = Counter()
        for s in strings:
            counts.update(_fold(c) for c in s) if lowercase else counts.update(s)
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], ord(kv[0])))
        return cls([c for c, _ in ranked[: max_size - 2]], lowercase=lowercase)

    def __len__(self) -> int:
        return len(self.tokens)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, InputVocab)
            and self.tokens == other.tokens
            and self.lowercase == other.lowercase
        )

    def __repr__(self) -> str:
        return f"InputVocab(size={len(self)}, lowercase={self.lowercase})"

    def index(self, char: str) -> int:
        """Index of one character (``unk_index`` when not in the vocabulary)."""
        if self.lowercase:
            char = _fold(char)
        return self._index.get(char, self.unk_index)

    def to_dict(self) -> dict:
        """JSON-serialisable description."""
        return {
            "kind": "InputVocab",
            "tokens": self.tokens,
            "pad_index": self.pad_index,
            "unk_index": self.unk_index,
            "lowercase": self.lowercase,
        }

    @classmethod
    def from_dict(cls, d: dict) -> InputVocab:
        """Inverse of :meth:`to_dict` (validates the layout).

        Raises
        ------
        rnndyn.RnndynError
            If ``d`` is not what :meth:`to_dict` writes: wrong ``kind``,
            ``tokens`` not a list of single characters starting with
            ``<pad>``, ``<unk>``, duplicates, or a non-boolean ``lowercase``.

        Examples
        --------
        >>> InputVocab.from_dict({"kind": "InputVocab", "tokens": ["<pad>", "<unk>", "a"]}).tokens
        ['<pad>', '<unk>', 'a']
        """
        if not isinstance(d, dict):
            raise RnndynError(f"expected a JSON object with 'kind' and 'tokens'; got a {_kind_of(d)}")
        if d.get("kind") != "InputVocab":
            raise RnndynError(f"'kind' must be 'InputVocab'; got {d.get('kind')!r}")
        tokens = d.get("tokens")
        if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
            raise RnndynError(
                f"'tokens' must be a list of strings; got {_kind_of(tokens)} {str(tokens)[:60]}"
            )
        if tokens[:2] != [PAD, UNK]:
            raise RnndynError(
                f"'tokens' must start with {PAD!r}, {UNK!r} (indices 0 and 1); got {tokens[:2]}"
            )
        for key, want in (("pad_index", 0), ("unk_index", 1)):
            if key in d and (type(d[key]) is not int or d[key] != want):
                raise RnndynError(f"{key!r} must be {want}; got {d[key]!r}")
        lowercase = d.get("lowercase", True)
        if not isinstance(lowercase, bool):
            raise RnndynError(f"'lowercase' must be true or false; got {lowercase!r}")
        extra = [t for t in tokens[2:] if t in (PAD, UNK)]
        if extra:
            raise RnndynError(f"'tokens' holds {extra[0]!r} twice; it must appear only at its index")
        try:
            return cls(tokens[2:], lowercase=lowercase)
        except RnndynError as e:
            raise RnndynError(str(e).replace("InputVocab chars", "'tokens'")) from None

    def save(self, path: str | Path) -> None:
        """Write the vocabulary as JSON (UTF-8)."""
        Path(path).write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=1), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> InputVocab:
        """Read a vocabulary written by :meth:`save`.

        Raises
        ------
        rnndyn.RnndynError
            Naming ``path``, if it is missing, a folder, empty, not UTF-8
            JSON, or not an input vocabulary (see :meth:`from_dict`).
        """
        d = _read_json(path, "input vocabulary")
        try:
            return cls.from_dict(d)
        except RnndynError as e:
            raise _file_error(Path(path), f"not an input vocabulary: {e}") from None


class OutputVocab:
    """The 11 output symbols ``0123456789-`` (index = position)."""

    SYMBOLS: str = "0123456789-"

    def __init__(self, symbols: str = SYMBOLS) -> None:
        if not isinstance(symbols, str) or sorted(symbols) != sorted(self.SYMBOLS):
            raise RnndynError(
                f"OutputVocab symbols must be the 11 ISO characters {self.SYMBOLS!r}, each once "
                f"(in any order); got {symbols!r}"
            )
        self.tokens: list[str] = list(symbols)
        self._index = {c: i for i, c in enumerate(self.tokens)}

    def __len__(self) -> int:
        return len(self.tokens)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, OutputVocab) and self.tokens == other.tokens

    def __repr__(self) -> str:
        return f"OutputVocab({''.join(self.tokens)!r})"

    def index(self, char: str) -> int:
        """Index of one output character (``KeyError`` if not an ISO symbol)."""
        return self._index[char]

    def to_dict(self) -> dict:
        """JSON-serialisable description."""
        return {"kind": "OutputVocab", "tokens": self.tokens}

    @classmethod
    def from_dict(cls, d: dict) -> OutputVocab:
        """Inverse of :meth:`to_dict`.

        Raises
        ------
        rnndyn.RnndynError
            If ``d`` is not what :meth:`to_dict` writes.

        Examples
        --------
        >>> OutputVocab.from_dict(OutputVocab().to_dict()) == OutputVocab()
        True
        """
        if not isinstance(d, dict):
            raise RnndynError(f"expected a JSON object with 'kind' and 'tokens'; got a {_kind_of(d)}")
        if d.get("kind") != "OutputVocab":
            raise RnndynError(f"'kind' must be 'OutputVocab'; got {d.get('kind')!r}")
        tokens = d.get("tokens")
        if not isinstance(tokens, list) or not all(isinstance(t, str) and len(t) == 1 for t in tokens):
            raise RnndynError(
                f"'tokens' must be a list of single characters; got {_kind_of(tokens)} {str(tokens)[:60]}"
            )
        try:
            return cls("".join(tokens))
        except RnndynError as e:
            raise RnndynError(str(e).replace("OutputVocab symbols", "'tokens'")) from None

    def save(self, path: str | Path) -> None:
        """Write the vocabulary as JSON."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=1), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> OutputVocab:
        """Read a vocabulary written by :meth:`save` (errors as :meth:`InputVocab.load`)."""
        d = _read_json(path, "output vocabulary")
        try:
            return cls.from_dict(d)
        except RnndynError as e:
            raise _file_error(Path(path), f"not an output vocabulary: {e}") from None


def input_lengths(strings: Sequence[str], max_len: int = MAX_LEN) -> np.ndarray:
    """Number of real (non-pad) steps per string.

    Parameters
    ----------
    strings : sequence of str
    max_len : int, optional
        Raises ``ValueError`` if a string is longer (default 50).

    Returns
    -------
    numpy.ndarray of int64, shape (n,)
    """
    lens = np.fromiter((len(s) for s in strings), dtype=np.int64, count=len(strings))
    _check_lengths(strings, lens, max_len)
    return lens


def _check_lengths(strings: Sequence[str], lens: np.ndarray, max_len: int) -> None:
    if lens.size and lens.max() > max_len:
        i = int(np.argmax(lens))
        raise ValueError(
            f"string {i} has {int(lens[i])} characters > max_len={max_len} "
            f"({strings[i][:60]!r}...); inputs are never truncated"
        )


def encode_inputs(strings: Sequence[str], vocab: InputVocab, max_len: int = MAX_LEN) -> np.ndarray:
    """Encode strings as padded index arrays.

    Parameters
    ----------
    strings : sequence of str
        Human-written dates.
    vocab : InputVocab
    max_len : int, optional
        Output width (default 50).

    Returns
    -------
    numpy.ndarray of int32, shape (n, max_len)
        Real characters first, then ``vocab.pad_index`` (0) to the end.
        Row ``i`` has ``len(strings[i])`` non-pad entries (see
        :func:`input_lengths`).

    Raises
    ------
    ValueError
        If a string is longer than ``max_len`` (never truncated).
    """
    if isinstance(strings, str):
        raise TypeError("encode_inputs expects a sequence of strings, not a str")
    strings = list(strings)
    lens = np.fromiter((len(s) for s in strings), dtype=np.int64, count=len(strings))
    _check_lengths(strings, lens, max_len)
    out = np.full((len(strings), max_len), vocab.pad_index, dtype=np.int32)
    for i, s in enumerate(strings):
        out[i, : len(s)] = [vocab.index(c) for c in s]
    return out


def encode_outputs(isos: Sequence[str], vocab: OutputVocab | None = None) -> np.ndarray:
    """Encode ISO dates as ``int32`` arrays ``(n, 10)``.

    Raises
    ------
    ValueError
        If a target is not 10 characters long.
    """
    vocab = vocab or OutputVocab()
    out = np.empty((len(isos), OUT_LEN), dtype=np.int32)
    for i, s in enumerate(isos):
        if len(s) != OUT_LEN:
            raise ValueError(f"target {s!r} is not {OUT_LEN} characters long")
        out[i] = [vocab.index(c) for c in s]
    return out


def decode_outputs(indices: np.ndarray, vocab: OutputVocab | None = None) -> list[str]:
    """Decode ``(n, 10)`` indices (or ``(n, 10, 11)`` scores, via argmax)."""
    vocab = vocab or OutputVocab()
    a = np.asarray(indices)
    if a.ndim == 3:
        a = a.argmax(axis=-1)
    if a.ndim != 2:
        raise ValueError("expected shape (n, out_len) or (n, out_len, n_symbols)")
    toks = np.asarray(vocab.tokens)
    return ["".join(row) for row in toks[a]]
