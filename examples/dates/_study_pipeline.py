"""The stages of the date study for one framework, timed: load, capture, translate, search, analyse.

:func:`run_framework` captures the trained translator's encoder and its
untrained twin's, searches the fixed points of each direction's padding map
and measures everything (:func:`examples.dates._study_analysis.analyze`,
:func:`examples.dates._study_dynamics.analyze_dynamics`); the captured states
are dropped as soon as they are measured.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import rnndyn

from . import _study_capture as K
from . import _study_dynamics as DY
from ._study_analysis import analyze, split
from ._study_types import Analysis, FrameworkResult
from .data import DateRecord

__all__ = ["Stages", "run_framework"]

R = TypeVar("R")


class Stages:
    """Wall time per stage, and progress lines on stderr."""

    def __init__(self, progress: bool) -> None:
        self.progress = progress
        self.t0 = time.perf_counter()
        self.seconds: dict[str, float] = {}

    def run(self, name: str, fn: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        """``fn(*args, **kwargs)``, its wall time recorded under ``name``."""
        if self.progress:
            print(f"[dates study] {name} ...", file=sys.stderr, flush=True)
        t = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            self.seconds[name] = round(time.perf_counter() - t, 2)

    def total(self) -> float:
        """Seconds since the start."""
        return round(time.perf_counter() - self.t0, 2)


def _measure(
    traj: rnndyn.Trajectories,
    model: Any,
    n: int,
    seed: int,
    n_boot: int,
    stages: Stages,
    fw: str,
    label: str,
    states: tuple[str, ...],
    chars: bool,
) -> Analysis:
    """Fixed points, then every number of one captured network (``label``: "" or " untrained")."""
    search = stages.run(
        f"{fw}: fixed points{label}", DY.fixed_point_search, model, split(traj, n)[0], seed=seed, chars=chars
    )
    analysis = stages.run(
        f"{fw}: analysis{label}",
        analyze,
        traj,
        n_main=n,
        seed=seed,
        n_boot=n_boot,
        states=states,
        fixed=DY.targets(search),
    )
    return DY.with_dynamics(analysis, DY.analyze_dynamics(search, analysis))


def run_framework(
    fw: str,
    weights_dir: Path,
    records: Sequence[DateRecord],
    examples: Sequence[tuple[str, str]],
    seed: int,
    n_boot: int,
    progress: bool,
    stages: Stages,
) -> FrameworkResult:
    """Every measurement of one framework: its trained translator and the untrained twin."""
    strings = [r.human for r in records] + [s for s, _ in examples]
    targets = [r.iso for r in records] + [t for _, t in examples]
    n = len(records)
    model = stages.run(f"{fw}: load", K.load, fw, weights_dir)
    traj, secs = stages.run(
        f"{fw}: capture", K.capture_encoder, fw, model, strings, states=("h", "c"), progress=progress
    )
    acc, outs = stages.run(f"{fw}: translate", K.accuracy, model, strings[:n], targets[:n])
    ex_out = K.accuracy(model, strings[n:], targets[n:])[1]
    trained = _measure(traj, model, n, seed, n_boot, stages, fw, "", ("h", "c"), True)
    explore = stages.run(
        f"{fw}: interactive page",
        rnndyn.analysis.page,
        split(traj, n)[0].select(state="h"),
        title=f"{fw} encoder of the date translator: explore its units",
        meta={"framework": fw, "layer": "encoder", "state": "h", "strings": n},
    )
    units, steps = traj.n_units, traj.n_steps
    del traj
    null = K.untrained(fw, model.input_vocab, model.output_vocab, seed)
    ntraj, nsecs = stages.run(
        f"{fw}: capture untrained", K.capture_encoder, fw, null, strings, states=("h",), progress=progress
    )
    untrained = _measure(ntraj, null, n, seed, n_boot, stages, fw, " untrained", ("h",), False)
    del ntraj, null, model
    return {
        "accuracy": acc,
        "outputs": outs,
        "examples": [
            {"input": s, "target": t, "output": o, "correct": o == t}
            for (s, t), o in zip(examples, ex_out, strict=True)
        ],
        "capture": {
            "seconds": round(secs, 2),
            "strings_per_s": round(len(strings) / secs, 1) if secs > 0 else None,
            "strings": len(strings),
            "units": units,
            "steps": steps,
            "untrained_seconds": round(nsecs, 2),
        },
        "trained": trained,
        "untrained": untrained,
        "explore": explore,
    }
