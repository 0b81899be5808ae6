"""The date-translation study: its command line and :func:`run_study`.

Usage (from the repository root)::

    python -m examples.dates                       # both frameworks, 1,000 strings
    python -m examples.dates --framework torch --n 200 --out /tmp/dates-report
    python -m examples.dates --train               # retrain instead of the shipped weights

Pipeline: read the held-out validation strings shipped with the weights
(``weights/validation.json``, checked by hash, so the numbers do not depend
on the installed Babel; the training helper's validation set), load each trained translator (or train
it), capture its encoder (``layer="encoder"``, states ``h`` and ``c``) with
:func:`rnndyn.capture`, capture an untrained twin of the same architecture
(the null model), measure everything (:mod:`examples.dates._study_pipeline`)
and write one self-contained report folder (``index.html``, PNGs, CSVs,
``summary.json``) with :class:`rnndyn.report.Report`, atomically: a failed
run leaves nothing behind. ``--out`` is checked before the run: it must be
new, empty, or an earlier report whose manifest proves rnndyn wrote it and
nobody changed it since; anything else is refused (docs/report.md).

Bad input (``--n`` out of range, an unknown framework, an unwritable or
unsuitable ``--out``, missing or corrupted weights) ends with one line on
stderr and a non-zero exit status (2 for usage errors, 1 otherwise).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rnndyn._outdir import check_out
from rnndyn.errors import RnndynError

from . import _study_capture as K
from . import data as D
from . import models as M
from . import train as TR
from ._study_pipeline import Stages, run_framework
from ._study_reference import NOTEBOOK
from ._study_report import build_report
from ._study_types import Results, Settings

__all__ = ["StudyError", "run_study", "main", "build_parser", "NOTEBOOK", "N_MAX"]

#: Largest ``--n`` (strings captured per framework).
N_MAX = 10_000
#: Bootstrap resamples of the strings.
N_BOOT = 400


class StudyError(ValueError):
    """A usage error of the study (bad argument); ``main`` exits with status 2."""


def _frameworks(framework: str) -> tuple[str, ...]:
    if not isinstance(framework, str):
        raise StudyError(f"--framework must be keras, torch or both; got {framework!r}")
    if framework == "both":
        return ("keras", "torch")
    if framework in ("keras", "torch"):
        return (framework,)
    raise StudyError(f"--framework must be keras, torch or both; got {framework!r}")


def _check_n(n: Any) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= N_MAX:
        raise StudyError(f"--n must be an integer from 1 to {N_MAX}; got {n!r}")
    return n


def _check_out(out: Any) -> Path:
    """Refuse up front an --out that rnndyn may not write or replace (see docs/report.md)."""
    try:
        return check_out(out, name="--out", what="report")
    except RnndynError as e:
        raise StudyError(str(e)) from None


def _train(frameworks: tuple[str, ...], seed: int, stages: Stages) -> Path:
    tmp = Path(tempfile.mkdtemp(prefix="rnndyn-dates-weights-"))
    fw = frameworks[0] if len(frameworks) == 1 else "both"
    code = stages.run("train", TR.main, ["--framework", fw, "--out", str(tmp), "--seed", str(seed)])
    if code:
        raise M.WeightsError(f"training failed (exit status {code})")
    return tmp


def run_study(
    *,
    framework: str = "both",
    n: int = 1000,
    out: str | os.PathLike[str] = "dates-report",
    train: bool = False,
    seed: int = 0,
    progress: bool = True,
    weights: str | os.PathLike[str] | None = None,
    n_boot: int = N_BOOT,
) -> Path:
    """Run the whole study and write the report folder.

    Parameters
    ----------
    framework : {"both", "keras", "torch"}
    n : int
        Validation strings captured per framework (1 .. 10,000): the first
        ``n`` of the shipped held-out set (``weights/validation.json``, checked
        by hash; beyond its 1,000 strings, generated with ``data.VAL_SEED``).
    out : path
        The report folder: new, empty, or an earlier report rnndyn wrote and
        nobody changed since (replaced atomically); anything else is refused.
    train : bool
        Retrain the models with :mod:`examples.dates.train` (into a temporary
        folder, deleted afterwards) instead of loading the shipped weights.
    seed : int
        Seeds the bootstrap, the untrained null model and ``--train``.
    progress : bool
        Progress lines and capture progress bars on stderr.
    weights : path, optional
        A weights folder other than the shipped ``examples/dates/weights``.
    n_boot : int
        Bootstrap resamples.

    Returns
    -------
    pathlib.Path
        The report folder.

    Raises
    ------
    StudyError
        A bad argument (nothing was written).
    examples.dates.models.WeightsError
        Missing or unreadable weights (nothing was written).

    Examples
    --------
    >>> from examples.dates.study import run_study
    >>> run_study(n=0)
    Traceback (most recent call last):
    ...
    examples.dates.study.StudyError: --n must be an integer from 1 to 10000; got 0
    """
    frameworks = _frameworks(framework)
    n = _check_n(n)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise StudyError(f"--seed must be a non-negative integer; got {seed!r}")
    for flag, value in (("train", train), ("progress", progress)):
        if not isinstance(value, bool):
            raise StudyError(f"{flag} must be True or False; got {value!r} ({type(value).__name__})")
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or not 2 <= n_boot <= 100_000:
        raise StudyError(f"n_boot must be an integer from 2 to 100000 (bootstrap resamples); got {n_boot!r}")
    if weights is not None:
        if not isinstance(weights, str | os.PathLike) or not str(weights).strip():
            raise StudyError(f"--weights must be a folder path; got {weights!r}")
        if train:
            raise StudyError(
                "--weights and --train exclude each other: --train trains new weights instead of "
                "loading a folder; drop one of them"
            )
        if Path(weights).exists() and not Path(weights).is_dir():
            raise StudyError(f"--weights {weights} is a file; pass the folder that holds the weights files")
    out = _check_out(out)
    stages = Stages(progress)
    tmp_weights = None
    try:
        if train:
            tmp_weights = weights_dir = _train(frameworks, seed, stages)
        else:
            weights_dir = Path(weights) if weights is not None else M.DEFAULT_WEIGHTS_DIR
        K.check_weights(weights_dir, frameworks)
        records = stages.run("data", K.validation_records, n, weights_dir)
        results: Results = {
            fw: run_framework(fw, weights_dir, records, TR.STUDY_EXAMPLES, seed, n_boot, progress, stages)
            for fw in frameworks
        }
        metrics_file = weights_dir / M.METRICS_FILE
        try:
            shipped = json.loads(metrics_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            shipped = {}
    finally:
        if tmp_weights is not None:
            shutil.rmtree(tmp_weights, ignore_errors=True)
    settings: Settings = {
        "frameworks": list(frameworks),
        "n": n,
        "seed": seed,
        "n_boot": n_boot,
        "weights": "retrained (--train)" if train else str(weights_dir),
        "val_seed": D.VAL_SEED,
        "null_model_seed": seed,
    }
    report = stages.run("figures and tables", build_report, results, records, settings, shipped)
    stages.seconds["total_before_write"] = stages.total()
    report.numbers["timing"] = dict(stages.seconds)
    path = report.write(out)
    if progress:
        print(f"[dates study] report written to {path} in {stages.total():.0f} s", file=sys.stderr)
    return path


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, no usage dump
        print(f"{self.prog}: error: {message} (see --help)", file=sys.stderr)
        raise SystemExit(2)


def _int_in_range(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer from 1 to {N_MAX}; got {text!r}") from None
    if not 1 <= v <= N_MAX:
        raise argparse.ArgumentTypeError(f"must be an integer from 1 to {N_MAX}; got {v}")
    return v


def _seed(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        v = -1
    if v < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer; got {text!r}")
    return v


def build_parser() -> argparse.ArgumentParser:
    """The command line of :func:`main` (usage errors: one line on stderr, exit status 2)."""
    p = _Parser(
        prog="python -m examples.dates",
        description="Reproduce and extend the founding RNN-dynamics study on the date translators.",
    )
    p.add_argument("--framework", choices=["keras", "torch", "both"], default="both")
    p.add_argument("--n", type=_int_in_range, default=1000, help=f"validation strings, 1..{N_MAX} (1000)")
    p.add_argument("--out", default="dates-report", help="report folder (dates-report)")
    p.add_argument("--train", action="store_true", help="retrain the models instead of the shipped weights")
    p.add_argument("--seed", type=_seed, default=0, help="bootstrap, null-model and training seed (0)")
    p.add_argument("--weights", default=None, help="weights folder (default: the shipped one)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m examples.dates [--framework F] [--n N] [--out DIR] [--train] [--seed S]``."""
    p = build_parser()
    args = p.parse_args(argv)
    try:
        run_study(
            framework=args.framework,
            n=args.n,
            out=args.out,
            train=args.train,
            seed=args.seed,
            progress=not args.quiet,
            weights=args.weights,
        )
    except StudyError as e:
        print(f"{p.prog}: error: {e}", file=sys.stderr)
        return 2
    except M.WeightsError as e:
        print(f"{p.prog}: error: {_one_line(e)}", file=sys.stderr)
        return 1
    except (RnndynError, OSError) as e:
        print(f"{p.prog}: error: {_one_line(e)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{p.prog}: interrupted; no report written", file=sys.stderr)
        return 130
    return 0


def _one_line(e: BaseException, limit: int = 400) -> str:
    text = " ".join(str(e).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


if __name__ == "__main__":
    raise SystemExit(main())
