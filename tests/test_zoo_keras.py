"""The Keras model zoo (``tests/_zoo_keras.py``), once per Keras backend, each in a fresh interpreter.

Keras fixes its backend when it is first imported, so this process never
imports keras. Run one backend by hand with e.g.
``KERAS_BACKEND=jax python -m pytest tests/_zoo_keras.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("backend", ["tensorflow", "torch", "jax"])
def test_keras_zoo_on_backend(backend):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": backend}
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(ROOT / "tests" / "_zoo_keras.py"),
            "-q",
            "-p",
            "no:cacheprovider",
            "-W",
            "ignore::DeprecationWarning",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = res.stdout + res.stderr
    assert res.returncode == 0, f"KERAS_BACKEND={backend}:\n{out[-6000:]}"
    assert " passed" in out and " skipped" not in out and " failed" not in out, out[-2000:]
