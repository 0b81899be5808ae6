"""Run a Keras script in a fresh interpreter on the TensorFlow backend (Keras fixes its backend at import)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_keras_script(code: str, done: str, timeout: int = 600) -> None:
    """Run ``code`` with ``KERAS_BACKEND=tensorflow``; assert it exits 0 and prints ``done``."""
    env = {
        **os.environ,
        "KERAS_BACKEND": "tensorflow",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")]),
    }
    res = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert res.returncode == 0 and done in res.stdout, (res.stdout + res.stderr)[-4000:]
