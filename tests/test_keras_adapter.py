"""The Keras adapter plugin: import hygiene here, the cases once per Keras backend.

Keras fixes its backend when it is first imported, so the cases
(``tests/_keras_cases.py``, ``tests/_keras_cases_states.py``) run in a fresh interpreter per backend
(TensorFlow, PyTorch and JAX); this
process never imports keras (other test modules may check that it stays out).
Run one backend by hand with e.g.
``KERAS_BACKEND=torch python -m pytest tests/_keras_cases.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CASES = [ROOT / "tests" / "_keras_cases.py", ROOT / "tests" / "_keras_cases_states.py"]


def _run(args: list[str], env: dict[str, str] | None = None, timeout: int = 600):
    full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=timeout
    )


def test_importing_the_plugin_imports_no_framework():
    code = (
        "import sys\n"
        "import rnndyn_keras, rnndyn_keras.plugin as p\n"
        "assert p.rnndyn_claim_model(object()) is None\n"
        "assert p.rnndyn_load_model('model.pt', None) is None\n"
        "assert p.rnndyn_load_model('model.keras', 'torch') is None\n"
        "heavy = [m for m in ('keras', 'tensorflow', 'torch', 'jax') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    res = _run(["-c", code])
    assert res.returncode == 0, res.stderr[-3000:]


def test_entry_point_names_the_plugin_module():
    from importlib import metadata

    eps = {ep.name: ep.value for ep in metadata.entry_points(group="rnndyn")}
    assert eps.get("keras") == "rnndyn_keras.plugin"


@pytest.mark.parametrize("backend", ["tensorflow", "torch", "jax"])
def test_keras_cases_on_backend(backend):
    # JAX (CPU, from the 'dev' extra) also runs the input forms; TensorFlow runs them in
    # tests/test_keras_inputs.py
    cases = [*CASES, *([ROOT / "tests" / "_keras_cases_inputs.py"] if backend == "jax" else [])]
    res = _run(
        [
            "-m",
            "pytest",
            *map(str, cases),
            "-q",
            "-x",
            "-p",
            "no:cacheprovider",
            "-W",
            "ignore::DeprecationWarning",
        ],
        env={"KERAS_BACKEND": backend},
    )
    out = res.stdout + res.stderr
    assert res.returncode == 0, f"KERAS_BACKEND={backend}:\n{out[-6000:]}"
    assert " passed" in out and " skipped" not in out, out[-2000:]
