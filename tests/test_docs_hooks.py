"""docs/plugins.md stays true: every hook with its exact signature, the Adapter
protocol, the tutorial's code equal to examples/custom_adapter, its session run."""

from __future__ import annotations

import ast
import doctest
import inspect
import re
from importlib import metadata
from pathlib import Path

import pytest

import rnndyn.hookspecs
from rnndyn.adapter import Adapter

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "plugins.md"
EXAMPLE = ROOT / "examples" / "custom_adapter"
HEADING = re.compile(r"^(#{2,4}) `(?P<name>\w+)(?P<rest>.*)`\s*$", re.M)
FENCE = re.compile(r"^```(?P<info>[^\n]*)\n(?P<body>.*?)^```\s*$", re.M | re.S)


def hookspecs() -> dict[str, object]:
    return {
        name: fn for name, fn in vars(rnndyn.hookspecs).items() if callable(fn) and hasattr(fn, "rnndyn_spec")
    }


def sections() -> dict[str, tuple[str, str]]:
    """Backticked headings -> (the rest of the heading, the text up to the next heading)."""
    text = DOC.read_text()
    heads = list(re.finditer(r"^#{2,4} .*$", text, re.M))
    out = {}
    for i, h in enumerate(heads):
        m = HEADING.match(h.group(0))
        if m:
            end = heads[i + 1].start() if i + 1 < len(heads) else len(text)
            out[m["name"]] = (m["rest"], text[h.end() : end])
    return out


def spec_signature(fn) -> str:
    # annotations are strings (from __future__ import annotations): drop the quotes
    return str(inspect.signature(fn)).replace("'", "")


def test_every_hookspec_is_documented_with_its_exact_signature():
    docs = sections()
    specs = hookspecs()
    assert specs, "no hook specs found"
    for name, fn in specs.items():
        assert name in docs, f"{name} is not documented in docs/plugins.md"
        assert docs[name][0] == spec_signature(fn), name


def test_every_documented_hook_exists():
    documented = {name for name in sections() if name.startswith("rnndyn_")}
    assert documented == set(hookspecs())


def test_firstresult_is_documented_as_it_is_specified():
    docs = sections()
    for name, fn in hookspecs().items():
        body = docs[name][1]
        if fn.rnndyn_spec["firstresult"]:
            assert "Called with **firstresult**" in body, name
        else:
            assert "**firstresult**" not in body and "no firstresult" in body, name


def test_every_hook_has_a_test_named_after_it():
    tree = ast.parse((ROOT / "tests" / "test_plugins.py").read_text())
    tests = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    missing = [h for h in hookspecs() if f"test_{h}" not in tests]
    assert not missing, f"tests/test_plugins.py has no test for {missing}"


def _call_form(fn) -> str:
    sig = inspect.signature(fn)
    params = [
        p.replace(annotation=inspect.Parameter.empty) for p in sig.parameters.values() if p.name != "self"
    ]
    return str(inspect.Signature(params))


def test_the_adapter_protocol_is_documented():
    docs = sections()
    assert "framework" in Adapter.__annotations__ and "framework" in docs
    for method in ("layers", "capture"):
        rest = docs[method][0]
        assert rest.startswith(_call_form(getattr(Adapter, method))), method
        ret = inspect.signature(getattr(Adapter, method)).return_annotation
        assert rest.endswith(f" -> {ret}"), method
    assert docs["split"][0] == "(inputs, batch_size) -> Split | Iterable[Any] | None"


def fenced_blocks() -> list[tuple[str, str]]:
    return [(m["info"].strip(), m["body"]) for m in FENCE.finditer(DOC.read_text())]


def test_the_tutorial_code_is_the_tested_example():
    titled = {}
    for info, body in fenced_blocks():
        m = re.search(r'title="([^"]+)"', info)
        if m:
            titled[m.group(1)] = body
    files = {
        str(p.relative_to(EXAMPLE))
        for p in EXAMPLE.rglob("*")
        if p.suffix in (".py", ".toml") and "egg-info" not in str(p) and "__pycache__" not in str(p)
    }
    assert set(titled) == files
    for rel, body in titled.items():
        assert body == (EXAMPLE / rel).read_text(), f"docs/plugins.md shows another {rel}"


def test_the_tutorial_session_runs(tmp_path, monkeypatch):
    if not [ep for ep in metadata.entry_points(group="rnndyn") if ep.name == "numpyrnn"]:
        pytest.fail("install the example plugin: .venv/bin/pip install -e ./examples/custom_adapter")
    monkeypatch.chdir(tmp_path)  # the session saves a file
    blocks = [body for info, body in fenced_blocks() if info.split()[:1] == ["pycon"]]
    assert blocks
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    report: list[str] = []
    for i, body in enumerate(blocks):
        test = parser.get_doctest(body, {}, f"docs/plugins.md pycon block {i}", str(DOC), 0)
        runner.run(test, out=report.append)
    assert runner.tries >= 10 and runner.failures == 0, "".join(report)
    assert (tmp_path / "elman.npz").exists()


def test_every_untitled_python_block_runs():
    """The page's other Python blocks run in order (definitions are defined, examples assert)."""
    blocks = [body for info, body in fenced_blocks() if info.split() == ["python"]]
    assert len(blocks) >= 8
    namespace: dict = {"__name__": "plugins_md"}
    for body in blocks:
        exec(compile(body, "docs/plugins.md", "exec"), namespace)
    namespace["test_the_contract"](None)  # the kit's example test, run for real
