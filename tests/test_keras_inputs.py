"""Keras input forms (``tests/_keras_cases_inputs.py``) on the TensorFlow backend, in a fresh
interpreter (this process never imports keras), and the error when Keras has no backend.

Run by hand: ``KERAS_BACKEND=tensorflow python -m pytest tests/_keras_cases_inputs.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(args: list[str], env: dict[str, str] | None = None, timeout: int = 600):
    full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=timeout
    )


def test_keras_input_forms_on_tensorflow():
    res = _run(
        [
            "-m",
            "pytest",
            str(ROOT / "tests" / "_keras_cases_inputs.py"),
            "-q",
            "-x",
            "-p",
            "no:cacheprovider",
            "-W",
            "ignore::DeprecationWarning",
        ],
        env={"KERAS_BACKEND": "tensorflow"},
    )
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-6000:]
    assert " passed" in out and " skipped" not in out and " failed" not in out, out[-2000:]


def test_keras_without_a_backend_names_the_extras():
    code = (
        "import sys\n"
        "sys.modules['tensorflow'] = None  # as if only the 'keras' extra were installed\n"
        "from rnndyn.errors import RnndynError\n"
        "from rnndyn_keras.plugin import import_keras\n"
        "try:\n"
        "    import_keras()\n"
        "except RnndynError as exc:\n"
        "    print(exc)\n"
        "else:\n"
        "    raise SystemExit('no error')\n"
    )
    res = _run(["-c", code], env={"KERAS_BACKEND": "tensorflow"})
    assert res.returncode == 0, res.stderr[-3000:]
    for extra in ("rnndyn[tensorflow-cpu]", "rnndyn[tensorflow]", "rnndyn[jax]", "KERAS_BACKEND"):
        assert extra in res.stdout, res.stdout
