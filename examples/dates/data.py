"""Seeded data for the date-translation study.

Human-written dates in many locales and formats, paired with their ISO form
``YYYY-MM-DD``, in the spirit of the keras-attention date translator that the
founding study analysed (see ``seed/STUDY.md``).

How a pair is made (:func:`iter_records`)
-----------------------------------------
1. A date from ``Faker.date_object`` (1970-01-01 .. 2025-12-31; the end is
   fixed, timezone-aware, so the data do not depend on the day or the
   machine's timezone).
2. A locale drawn uniformly from :data:`LOCALES` and a format drawn uniformly
   from :data:`FORMATS` (the original's list, including its duplicate
   ``'d MMMM yyyy'``), rendered with ``babel.dates.format_date``.
3. A random case change as in the original: with probability 1/4 the whole
   string is upper-cased, with probability 1/4 lower-cased, otherwise kept.

All randomness comes from one ``random.Random(seed)`` (locale, format, case)
and one ``Faker`` instance seeded with ``seed_instance(seed)`` (the date), so
``generate(n, seed)`` is a pure function of ``(n, seed)`` for fixed Faker and
Babel versions (developed with Faker 40.63 and Babel 2.18).

Formats use ``yyyy`` (calendar year), never Babel's ``YYY``/``YYYY``, which is
the *week-based* year and mislabels dates near New Year.

Locales
-------
The original drew from all Babel locales. Babel renders the digits of
``format_date`` as Latin digits in every locale, so a "Latin digits"
restriction removes nothing; the difficulty is the month and weekday names of
~1,000 locales in dozens of scripts, which a one-hot input of ~60 symbols
cannot represent (most characters would be ``<unk>``, making the month
unrecoverable) and which a 2-core CPU cannot learn in minutes. We therefore
restrict to :data:`LOCALES`: every Babel locale of the 37 widely used
Latin-script languages in :data:`LANGUAGES` whose ``full``/``long``/
``medium``/``short`` output contains only Latin-script letters (315 locales;
regenerate with :func:`find_latin_locales`). English has many regional
locales, so it is ~38% of the data, as in the original, where locales were
also drawn uniformly.

Length
------
Inputs are at most :data:`MAX_LEN` = 50 characters. The generator *excludes*
(redraws) any string longer than ``max_len``; with :data:`LOCALES` and
:data:`FORMATS` none is longer than 38 characters, so in practice nothing is
excluded. :func:`encode_inputs` never truncates: it raises ``ValueError``.

Vocabularies and encoding
-------------------------
:class:`InputVocab`: index 0 is ``<pad>``, index 1 is ``<unk>``, then the
most frequent characters of the training strings (capped so the vocabulary
has at most 60 symbols; the one-hot input is therefore <= 60 wide, like the
founding study). No ``<eot>`` is used: the end of input is where padding
starts. Like the original keras-attention reader, the input vocabulary is
case-folded (``lowercase=True``: every character is mapped to its lower-case
form when that is a single character), which keeps the vocabulary small; the
raw strings keep their random case.

:func:`encode_inputs` gives an ``int32`` array ``(n, max_len)`` with the real
characters first and ``<pad>`` (0) at the END; :func:`input_lengths` gives
the number of real characters per string (= the number of non-pad steps).

:class:`OutputVocab`: the 11 ISO characters ``0123456789-`` (index = position
in that string); outputs are always :data:`OUT_LEN` = 10 characters.

Splits
------
:func:`make_splits` draws the 1,000-string validation set from
:data:`VAL_SEED` and the training set from :data:`TRAIN_SEED`, dropping every
training pair whose human string occurs in the validation set (held out: no
string overlap).

The shipped validation set
--------------------------
Babel is not pinned, and its output changes between releases (with Babel 2.19
seven of the 1,000 validation strings render differently from Babel 2.18, e.g.
the ``sv_FI`` "short" dates). The 1,000 validation records that produced the
shipped accuracies and the study's printed numbers (Babel 2.18, Faker 40.63)
are therefore shipped as ``examples/dates/weights/validation.json``
(:data:`VAL_FILE`) and read with :func:`load_validation`, which checks them
field by field and against :data:`VAL_SHA256`. The training data stay
generated; pass the shipped records as ``make_splits(..., val=...)`` to hold
them out.
"""

from __future__ import annotations

import datetime as _dt
import random
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from functools import cache

from ._records import (
    FORMATS,
    LANGUAGES,
    LOCALES,
    TRAIN_SEED,
    VAL_FILE,
    VAL_N,
    VAL_SEED,
    VAL_SHA256,
    DateRecord,
)
from .validation import load_validation, save_validation, validation_sha256
from .vocab import (
    MAX_LEN,
    OUT_LEN,
    PAD,
    UNK,
    InputVocab,
    OutputVocab,
    decode_outputs,
    encode_inputs,
    encode_outputs,
    input_lengths,
)

__all__ = [
    "FORMATS",
    "LANGUAGES",
    "LOCALES",
    "MAX_LEN",
    "OUT_LEN",
    "TRAIN_SEED",
    "VAL_SEED",
    "VAL_FILE",
    "VAL_N",
    "VAL_SHA256",
    "PAD",
    "UNK",
    "DateRecord",
    "InputVocab",
    "OutputVocab",
    "iter_records",
    "generate_records",
    "generate",
    "make_splits",
    "encode_inputs",
    "input_lengths",
    "encode_outputs",
    "decode_outputs",
    "find_latin_locales",
    "validation_sha256",
    "save_validation",
    "load_validation",
]

_DATE_START = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
_DATE_END = _dt.datetime(2025, 12, 31, 23, 59, 59, tzinfo=_dt.timezone.utc)


def find_latin_locales(languages: Iterable[str] = LANGUAGES) -> list[str]:
    """Babel locales of ``languages`` whose dates use only Latin letters.

    A locale qualifies when its ``full``, ``long``, ``medium`` and ``short``
    renderings of 36 dates (every month; days 1, 16, 28 of 2019) contain no
    alphabetic character outside the Latin script. This is how
    :data:`LOCALES` was made.

    Parameters
    ----------
    languages : iterable of str
        Language codes (the part of a locale identifier before ``_``).

    Returns
    -------
    list of str
        Sorted locale identifiers.
    """
    from babel import localedata
    from babel.dates import format_date

    langs = set(languages)
    dates = [_dt.date(2019, m, d) for m in range(1, 13) for d in (1, 16, 28)]

    def latin(s: str) -> bool:
        return all(not c.isalpha() or "LATIN" in unicodedata.name(c, "") for c in s)

    out = []
    for loc in sorted(localedata.locale_identifiers()):
        if loc.split("_")[0] not in langs:
            continue
        if all(
            latin(format_date(d, format=f, locale=loc))
            for f in ("full", "long", "medium", "short")
            for d in dates
        ):
            out.append(loc)
    return out


@cache
def _babel_locale(identifier: str):
    from babel import Locale

    return Locale.parse(identifier)


def _check_locales(locales: Sequence[str]) -> None:
    from babel import localedata

    missing = [loc for loc in locales if not localedata.exists(loc)]
    if missing:
        raise ValueError(
            f"{len(missing)} locale(s) unknown to the installed Babel "
            f"(e.g. {missing[:5]}); install Babel >= 2.18 or pass locales="
        )


def iter_records(
    seed: int,
    *,
    locales: Sequence[str] = LOCALES,
    formats: Sequence[str] = FORMATS,
    max_len: int = MAX_LEN,
) -> Iterator[DateRecord]:
    """Endless, seeded stream of :class:`DateRecord`.

    Parameters
    ----------
    seed : int
        Seeds both ``random.Random`` (locale, format, case) and the Faker
        instance (date).
    locales : sequence of str, optional
        Babel locale identifiers, drawn uniformly. Default :data:`LOCALES`.
    formats : sequence of str, optional
        Babel formats, drawn uniformly. Default :data:`FORMATS`.
    max_len : int, optional
        Strings longer than this are excluded (redrawn). Default 50.

    Yields
    ------
    DateRecord
    """
    from babel.dates import format_date
    from faker import Faker

    locales = tuple(locales)
    formats = tuple(formats)
    if not locales or not formats:
        raise ValueError("locales and formats must not be empty")
    _check_locales(locales)
    rng = random.Random(seed)
    fake = Faker()
    fake.seed_instance(seed)
    while True:
        date = fake.date_object(end_datetime=_DATE_END)
        loc = rng.choice(locales)
        fmt = rng.choice(formats)
        human = format_date(date, format=fmt, locale=_babel_locale(loc))
        case_change = rng.randint(0, 3)
        if case_change == 1:
            human, case = human.upper(), "upper"
        elif case_change == 2:
            human, case = human.lower(), "lower"
        else:
            case = "keep"
        if len(human) > max_len or not human:
            continue  # excluded (documented): never truncated
        yield DateRecord(human, date.isoformat(), loc, fmt, case)


def generate_records(n: int, seed: int, **kwargs) -> list[DateRecord]:
    """First ``n`` records of :func:`iter_records` ``(seed, **kwargs)``.

    Parameters
    ----------
    n : int
        Number of records.
    seed : int
        Random seed.
    **kwargs
        ``locales``, ``formats``, ``max_len`` for :func:`iter_records`.

    Returns
    -------
    list of DateRecord
    """
    if n < 0:
        raise ValueError("n must be >= 0")
    it = iter_records(seed, **kwargs)
    return [next(it) for _ in range(n)]


def generate(n: int, seed: int, **kwargs) -> list[tuple[str, str]]:
    """Generate ``n`` seeded ``(human, iso)`` pairs.

    Parameters
    ----------
    n : int
        Number of pairs.
    seed : int
        Random seed; the same ``(n, seed)`` always gives the same pairs, and
        ``generate(m, seed)`` is a prefix of ``generate(n, seed)`` for m < n.
    **kwargs
        ``locales``, ``formats``, ``max_len`` for :func:`iter_records`.

    Returns
    -------
    list of (str, str)
        ``(human, iso)`` with ``iso`` formatted ``YYYY-MM-DD``.

    Examples
    --------
    >>> pairs = generate(3, seed=0)
    >>> all(len(iso) == 10 for _, iso in pairs)
    True
    """
    return [(r.human, r.iso) for r in generate_records(n, seed, **kwargs)]


def make_splits(
    n_train: int,
    n_val: int = 1000,
    *,
    train_seed: int = TRAIN_SEED,
    val_seed: int = VAL_SEED,
    val: Sequence[DateRecord] | None = None,
    **kwargs,
) -> tuple[list[DateRecord], list[DateRecord]]:
    """Training and held-out validation records, with no string overlap.

    The validation set is ``val`` when given (e.g. the shipped set,
    :func:`load_validation`), else ``generate_records(n_val, val_seed)``. The
    training set is the first ``n_train`` records of ``iter_records(train_seed)``
    whose human string is not in the validation set.

    Parameters
    ----------
    n_train, n_val : int
        Sizes (``n_val`` is ignored when ``val`` is given).
    train_seed, val_seed : int
        Must differ.
    val : sequence of DateRecord, optional
        A ready validation set to hold out instead of generating one.
    **kwargs
        Passed to :func:`iter_records`.

    Returns
    -------
    train, val : list of DateRecord
    """
    if train_seed == val_seed:
        raise ValueError("train_seed and val_seed must differ")
    val = list(val) if val is not None else generate_records(n_val, val_seed, **kwargs)
    held_out = {r.human for r in val}
    train: list[DateRecord] = []
    it = iter_records(train_seed, **kwargs)
    while len(train) < n_train:
        r = next(it)
        if r.human not in held_out:
            train.append(r)
    return train, val
