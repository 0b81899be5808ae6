"""The typed results that flow between the stages of the date study.

capture -> :class:`Search` (fixed points) -> :class:`Analysis` (numbers,
arrays, per-unit table) -> :class:`FrameworkResult` (one per framework) ->
the report. The leaves under ``numbers`` are JSON-ready (``summary.json``
is written from them as they are); the leaves under ``arrays`` feed the
figures only.
"""

from __future__ import annotations

from typing import Any, TypedDict

import numpy as np
import pandas as pd

__all__ = [
    "Interval",
    "Numbers",
    "Arrays",
    "GroupAnalysis",
    "Analysis",
    "DirectionSearch",
    "Search",
    "DynamicsResult",
    "CaptureInfo",
    "Example",
    "FrameworkResult",
    "Results",
    "Settings",
]

#: JSON-ready numbers of one part of the study (written to ``summary.json`` as they are).
Numbers = dict[str, Any]
#: Curves, bands and per-unit arrays of one part of the study (for the figures).
Arrays = dict[str, Any]


class Interval(TypedDict):
    """A statistic and its 95% bootstrap interval (``low``/``high`` None when not resampled)."""

    estimate: float
    low: float | None
    high: float | None


class GroupAnalysis(TypedDict):
    """One state and direction: :func:`examples.dates._study_groups.analyze_group`."""

    numbers: Numbers
    arrays: Arrays
    units: pd.DataFrame


class Analysis(TypedDict):
    """One captured network: :func:`examples.dates._study_analysis.analyze`.

    ``numbers`` and ``arrays`` hold ``notebook``, ``groups[state][direction]``
    and, once :func:`examples.dates._study_dynamics.with_dynamics` ran,
    ``dynamics``; ``units`` is the per-unit table.
    """

    numbers: Numbers
    arrays: Arrays
    units: pd.DataFrame


class DirectionSearch(TypedDict):
    """The fixed points of one direction's maps and the one taken as terminal."""

    pad: Any  # rnndyn.dynamics.FixedPoints of the padding map
    chars: Any  # FixedPoints of the character maps, or None
    row: int
    point: np.ndarray
    terminal: np.ndarray
    terminal_distance: float


class Search(TypedDict):
    """:func:`examples.dates._study_dynamics.fixed_point_search`."""

    inputs: list[str]
    cells: dict[str, Any]
    directions: dict[str, DirectionSearch]


class DynamicsResult(TypedDict):
    """:func:`examples.dates._study_dynamics.analyze_dynamics`."""

    numbers: Numbers
    arrays: Arrays


class CaptureInfo(TypedDict):
    """Size and speed of one framework's captures."""

    seconds: float
    strings_per_s: float | None
    strings: int
    units: int
    steps: int
    untrained_seconds: float


class Example(TypedDict):
    """One of the founding study's example strings, translated."""

    input: str
    target: str
    output: str
    correct: bool


class _Shipped(TypedDict, total=False):
    shipped_accuracy: float | None  # from the weights' metrics.json, added by the report


class FrameworkResult(_Shipped):
    """Everything measured on one framework's trained model and its untrained twin."""

    accuracy: float
    outputs: list[str]
    examples: list[Example]
    capture: CaptureInfo
    trained: Analysis
    untrained: Analysis
    explore: str  # the interactive page of the trained encoder's h (rnndyn.analysis.page)


#: Framework name -> its results, in the order run.
Results = dict[str, FrameworkResult]


class Settings(TypedDict):
    """The run's settings, as written to ``summary.json``."""

    frameworks: list[str]
    n: int
    seed: int
    n_boot: int
    weights: str
    val_seed: int
    null_model_seed: int
