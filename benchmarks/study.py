"""Benchmark: the full date study (``python -m examples.dates``) against its 2-minute target.

Runs the study as a user does -- a fresh ``python -m examples.dates`` process,
imports included -- into a temporary folder, and prints

* the wall time of each stage (from the report's ``summary.json``: loading,
  capture, translation, analysis, untrained null model, figures) and the
  total, against the target of 120 s for the default run (both frameworks,
  1,000 strings, shipped weights) on a 2-core CPU;
* the CPU time (user + system) of the process. On a shared, busy machine the
  wall time swings with the other processes; the CPU time barely does, and
  on an idle machine the wall time is at most the CPU time (the work is
  compute-bound; threads only make the wall time shorter), so
  ``CPU time < 120 s`` means the target holds on an idle 2-core machine.

Usage (from the repository root)::

    python benchmarks/study.py                  # the default run
    python benchmarks/study.py --n 200 --framework torch
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 120.0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--framework", default="both", choices=["keras", "torch", "both"])
    p.add_argument("--weights", default=None, help="weights folder (default: the shipped one)")
    args = p.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report"
        cmd = [sys.executable, "-m", "examples.dates", "--quiet", "--n", str(args.n)]
        cmd += ["--framework", args.framework, "--out", str(out)]
        if args.weights:
            cmd += ["--weights", args.weights]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)))
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.returncode:
            print(f"the study failed (exit status {proc.returncode})", file=sys.stderr)
            return proc.returncode
        timing = json.loads((out / "summary.json").read_text())["timing"]
        size = sum(f.stat().st_size for f in out.iterdir())
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")

    print(f"date study: --framework {args.framework} --n {args.n}")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load {load:.1f}")
    print(f"{'stage':<34}{'wall s':>8}")
    inside = 0.0
    for stage, s in timing.items():
        if stage.startswith("total"):
            continue
        inside += s
        print(f"{stage:<34}{s:>8.1f}")
    print(f"{'imports, data, write (rest)':<34}{wall - inside:>8.1f}")
    print(f"{'TOTAL wall':<34}{wall:>8.1f}   target {TARGET_S:.0f} s: {'OK' if wall < TARGET_S else 'OVER'}")
    print(
        f"{'TOTAL CPU (user + system)':<34}{cpu:>8.1f}   idle-machine bound {TARGET_S:.0f} s: "
        f"{'OK' if cpu < TARGET_S else 'OVER'}"
    )
    print(f"report size: {size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
