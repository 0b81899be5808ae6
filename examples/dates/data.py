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
import hashlib
import json
import os
import random
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from rnndyn.errors import RnndynError

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

#: Maximum input length in characters (steps of the encoder).
MAX_LEN: int = 50
#: Output length: ``YYYY-MM-DD``.
OUT_LEN: int = 10
#: Seed of the training set.
TRAIN_SEED: int = 0
#: Seed of the 1,000-string validation set.
VAL_SEED: int = 1
#: File name of the shipped validation set (in ``examples/dates/weights``).
VAL_FILE: str = "validation.json"
#: Number of records in the shipped validation set.
VAL_N: int = 1000
#: sha256 of the shipped validation records (:func:`validation_sha256`):
#: ``generate_records(1000, VAL_SEED)`` made with Babel 2.18.0 and Faker 40.63.0.
VAL_SHA256: str = "afd05261aef3c4aa2490aae24ac6749e8b20e0e0e1b40bff57ffd7750b05f9c3"
#: Padding token (index 0 of :class:`InputVocab`).
PAD: str = "<pad>"
#: Unknown-character token (index 1 of :class:`InputVocab`).
UNK: str = "<unk>"

#: Babel formats of the original generator, with ``yyyy`` for the calendar
#: year (never the week-year ``YYY``). ``'d MMMM yyyy'`` appears twice, as in
#: the original, so it is drawn twice as often.
FORMATS: tuple[str, ...] = (
    "short",
    "medium",
    "long",
    "full",
    "d MMM yyyy",
    "d MMMM yyyy",
    "dd MMM yyyy",
    "d MMM, yyyy",
    "d MMMM, yyyy",
    "dd, MMM yyyy",
    "d MM yy",
    "d MMMM yyyy",
    "MMMM d yyyy",
    "MMMM d, yyyy",
    "dd.MM.yy",
)

#: Latin-script languages whose locales make up :data:`LOCALES`.
LANGUAGES: tuple[str, ...] = tuple(
    "af bs ca cs cy da de en es et eu fi fil fr ga gl hr hu id is it lt lv "
    "ms nb nl nn pl pt ro sk sl sq sr sv sw tr".split()
)

#: The locales drawn from (sorted; ``find_latin_locales(LANGUAGES)`` with
#: Babel 2.18). Hard-coded so the data do not change if a newer Babel adds
#: locales.
LOCALES: tuple[str, ...] = tuple(
    """
    af af_NA af_ZA bs bs_Latn bs_Latn_BA ca ca_AD ca_ES ca_ES_VALENCIA
    ca_FR ca_IT cs cs_CZ cy cy_GB da da_DK da_GL de de_AT de_BE de_CH
    de_DE de_IT de_LI de_LU en en_001 en_150 en_AE en_AG en_AI en_AS
    en_AT en_AU en_BB en_BE en_BI en_BM en_BS en_BW en_BZ en_CA en_CC
    en_CH en_CK en_CM en_CX en_CY en_CZ en_DE en_DG en_DK en_DM en_ER
    en_ES en_FI en_FJ en_FK en_FM en_FR en_GB en_GD en_GG en_GH en_GI
    en_GM en_GS en_GU en_GY en_HK en_HU en_ID en_IE en_IL en_IM en_IN
    en_IO en_IT en_JE en_JM en_KE en_KI en_KN en_KY en_LC en_LR en_LS
    en_MG en_MH en_MO en_MP en_MS en_MT en_MU en_MV en_MW en_MY en_NA
    en_NF en_NG en_NL en_NO en_NR en_NU en_NZ en_PG en_PH en_PK en_PL
    en_PN en_PR en_PT en_PW en_RO en_RW en_SB en_SC en_SD en_SE en_SG
    en_SH en_SI en_SK en_SL en_SS en_SX en_SZ en_TC en_TK en_TO en_TT
    en_TV en_TZ en_UG en_UM en_US en_US_POSIX en_VC en_VG en_VI en_VU
    en_WS en_ZA en_ZM en_ZW es es_419 es_AR es_BO es_BR es_BZ es_CL
    es_CO es_CR es_CU es_DO es_EA es_EC es_ES es_GQ es_GT es_HN es_IC
    es_MX es_NI es_PA es_PE es_PH es_PR es_PY es_SV es_US es_UY es_VE et
    et_EE eu eu_ES fi fi_FI fil fil_PH fr fr_BE fr_BF fr_BI fr_BJ fr_BL
    fr_CA fr_CD fr_CF fr_CG fr_CH fr_CI fr_CM fr_DJ fr_DZ fr_FR fr_GA
    fr_GF fr_GN fr_GP fr_GQ fr_HT fr_KM fr_LU fr_MA fr_MC fr_MF fr_MG
    fr_ML fr_MQ fr_MR fr_MU fr_NC fr_NE fr_PF fr_PM fr_RE fr_RW fr_SC
    fr_SN fr_SY fr_TD fr_TG fr_TN fr_VU fr_WF fr_YT ga ga_GB ga_IE gl
    gl_ES hr hr_BA hr_HR hu hu_HU id id_ID is is_IS it it_CH it_IT it_SM
    it_VA lt lt_LT lv lv_LV ms ms_BN ms_ID ms_MY ms_SG nb nb_NO nb_SJ nl
    nl_AW nl_BE nl_BQ nl_CW nl_NL nl_SR nl_SX nn nn_NO pl pl_PL pt pt_AO
    pt_BR pt_CH pt_CV pt_GQ pt_GW pt_LU pt_MO pt_MZ pt_PT pt_ST pt_TL ro
    ro_MD ro_RO sk sk_SK sl sl_SI sq sq_AL sq_MK sq_XK sr_Latn
    sr_Latn_BA sr_Latn_ME sr_Latn_RS sr_Latn_XK sv sv_AX sv_FI sv_SE sw
    sw_CD sw_KE sw_TZ sw_UG tr tr_CY tr_TR
    """.split()
)

_DATE_START = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
_DATE_END = _dt.datetime(2025, 12, 31, 23, 59, 59, tzinfo=_dt.timezone.utc)


class DateRecord(NamedTuple):
    """One generated example.

    Attributes
    ----------
    human : str
        The human-written date (model input).
    iso : str
        The target, ``YYYY-MM-DD``.
    locale : str
        Babel locale used to render ``human``.
    format : str
        Babel format used (an entry of :data:`FORMATS`).
    case : str
        ``"upper"``, ``"lower"`` or ``"keep"``.
    """

    human: str
    iso: str
    locale: str
    format: str
    case: str


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


# --------------------------------------------------------------------------
# Reading the shipped files (vocabularies, validation set) defensively
# --------------------------------------------------------------------------

#: Largest JSON file read (the shipped ones are < 200 kB).
_MAX_JSON_BYTES = 20_000_000
_RESTORE = "restore the shipped examples/dates/weights/{name} (git checkout) or retrain with --train"
_CASES = ("upper", "lower", "keep")
_VAL_KIND = "DateValidationSet"
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _file_error(path: Path, problem: str, fix: str | None = None) -> RnndynError:
    fix = fix if fix is not None else _RESTORE.format(name=path.name)
    return RnndynError(f"{path}: {problem}; {fix}")


def _read_json(path: str | os.PathLike, what: str) -> Any:
    """Parse a small UTF-8 JSON file, with one clear error per way it can be broken."""
    path = Path(path)
    if not path.exists():
        raise _file_error(path, f"the {what} file is missing")
    if not path.is_file():
        raise _file_error(path, f"expected the {what} file, got a folder or special file")
    size = path.stat().st_size
    if size == 0:
        raise _file_error(path, f"the {what} file is empty")
    if size > _MAX_JSON_BYTES:
        raise _file_error(
            path, f"the {what} file has {size} bytes, more than a {what} can ({_MAX_JSON_BYTES})"
        )
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise _file_error(
            path, f"the {what} file is not UTF-8 JSON text (binary data at byte {e.start})"
        ) from None
    try:
        return json.loads(text)
    except ValueError as e:
        raise _file_error(path, f"the {what} file is not valid JSON, or is truncated ({e})") from None


def _kind_of(obj: object) -> str:
    return "null" if obj is None else type(obj).__name__


def validation_sha256(records: Sequence[DateRecord] | Sequence[Sequence[str]]) -> str:
    """sha256 of validation records, independent of the file's layout.

    The hash is taken over the records as compact UTF-8 JSON (a list of
    ``[human, iso, locale, format, case]`` lists), so whitespace and line
    endings of the file (e.g. a Windows checkout) do not change it.

    Parameters
    ----------
    records : sequence of DateRecord or of 5-string sequences

    Returns
    -------
    str
        64 hexadecimal digits.

    Examples
    --------
    >>> r = DateRecord("Jan 1 1990", "1990-01-01", "en", "MMM d yyyy", "keep")
    >>> validation_sha256([r]) == validation_sha256([list(r)])
    True
    """
    rows = [list(r) for r in records]
    text = json.dumps(rows, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def save_validation(
    records: Sequence[DateRecord], path: str | os.PathLike, *, versions: dict[str, str] | None = None
) -> str:
    """Write validation records in the format :func:`load_validation` reads; return their sha256.

    One record per line, so that a change shows as a one-line diff.

    Parameters
    ----------
    records : sequence of DateRecord
    path : path
        The file to write (e.g. ``weights/validation.json``).
    versions : dict, optional
        Library versions that generated the strings (recorded, not checked).

    Returns
    -------
    str
        :func:`validation_sha256` of ``records``.
    """
    records = [DateRecord(*r) for r in records]
    digest = validation_sha256(records)
    head = {
        "kind": _VAL_KIND,
        "description": (
            f"The study's held-out validation strings: examples.dates.data.generate_records({len(records)}, "
            f"seed={VAL_SEED}), shipped so that the numbers do not depend on the installed Babel."
        ),
        "versions": dict(versions or {}),
        "fields": list(DateRecord._fields),
        "n": len(records),
        "sha256": digest,
    }
    lines = [json.dumps(head, ensure_ascii=False, indent=1)[:-2] + ',\n "records": [']
    rows = [" " + json.dumps(list(r), ensure_ascii=False) for r in records]
    text = "\n".join(lines) + "\n" + ",\n".join(rows) + "\n ]\n}\n"
    Path(path).write_text(text, encoding="utf-8")
    return digest


def _check_record(i: int, row: object) -> DateRecord:
    fields = DateRecord._fields
    if not isinstance(row, list) or len(row) != len(fields):
        got = f"{len(row)} fields" if isinstance(row, list) else f"a {_kind_of(row)}"
        raise RnndynError(f"record {i} must be a list of {len(fields)} strings {list(fields)}; got {got}")
    for name, value in zip(fields, row, strict=True):
        if not isinstance(value, str):
            raise RnndynError(f"record {i} field {name!r} must be a string; got {_kind_of(value)} {value!r}")
    r = DateRecord(*row)
    if not 1 <= len(r.human) <= MAX_LEN:
        raise RnndynError(f"record {i} 'human' must have 1 to {MAX_LEN} characters; got {len(r.human)}")
    try:
        ok = bool(_ISO.match(r.iso)) and _dt.date.fromisoformat(r.iso).isoformat() == r.iso
    except ValueError:
        ok = False
    if not ok:
        raise RnndynError(f"record {i} 'iso' must be a real date written YYYY-MM-DD; got {r.iso!r}")
    if r.locale not in LOCALES:
        raise RnndynError(f"record {i} 'locale' must be one of data.LOCALES; got {r.locale!r}")
    if r.format not in FORMATS:
        raise RnndynError(f"record {i} 'format' must be one of data.FORMATS; got {r.format!r}")
    if r.case not in _CASES:
        raise RnndynError(f"record {i} 'case' must be one of {list(_CASES)}; got {r.case!r}")
    return r


def load_validation(path: str | os.PathLike, *, sha256: str | None = VAL_SHA256) -> list[DateRecord]:
    """Read and check the shipped validation set (see the module docstring).

    Parameters
    ----------
    path : path
        ``validation.json`` (written by :func:`save_validation`).
    sha256 : str or None, optional
        Expected :func:`validation_sha256` of the records (default
        :data:`VAL_SHA256`, the shipped set); ``None`` skips the check.

    Returns
    -------
    list of DateRecord

    Raises
    ------
    rnndyn.RnndynError
        Naming ``path``, what is wrong and what to do, if the file is missing,
        a folder, empty, not UTF-8 JSON, has a wrong layout (``kind``,
        ``fields``, ``n``), a record of the wrong shape or type, or records
        whose hash differs from ``sha256`` (edited or replaced).

    Examples
    --------
    >>> from examples.dates.models import DEFAULT_WEIGHTS_DIR
    >>> val = load_validation(DEFAULT_WEIGHTS_DIR / VAL_FILE)
    >>> len(val), val[0]._fields[:2]
    (1000, ('human', 'iso'))
    """
    path = Path(path)
    d = _read_json(path, "validation set")

    def bad(problem: str) -> RnndynError:
        return _file_error(path, f"not the study's validation set: {problem}")

    if not isinstance(d, dict):
        raise bad(f"expected a JSON object with 'kind', 'fields', 'n' and 'records'; got a {_kind_of(d)}")
    if d.get("kind") != _VAL_KIND:
        raise bad(f"'kind' must be {_VAL_KIND!r}; got {d.get('kind')!r}")
    if d.get("fields") != list(DateRecord._fields):
        raise bad(f"'fields' must be {list(DateRecord._fields)}; got {d.get('fields')!r}")
    rows, n = d.get("records"), d.get("n")
    if not isinstance(rows, list):
        raise bad(f"'records' must be a list; got {_kind_of(rows)}")
    if type(n) is not int or n != len(rows):
        raise bad(f"'n' says {n!r} records but the file holds {len(rows)}")
    if not rows:
        raise bad("'records' is empty")
    try:
        records = [_check_record(i, row) for i, row in enumerate(rows)]
    except RnndynError as e:
        raise bad(str(e)) from None
    if sha256 is not None:
        got = validation_sha256(records)
        if got != sha256:
            raise _file_error(
                path,
                f"the validation records were edited or replaced (sha256 {got[:16]}..., expected "
                f"{sha256[:16]}...), so the study's numbers would not be the shipped ones",
            )
    return records


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
