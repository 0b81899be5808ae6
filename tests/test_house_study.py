"""The date study as a subpackage: small modules, top-level imports, core views not index arithmetic."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd

import rnndyn
from examples.dates import _study_dynamics as DY
from examples.dates import _study_stats as S
from examples.dates._study_groups import group_units
from examples.dates._study_relaxation import leading_padding

STUDY = Path(__file__).resolve().parents[1] / "examples" / "dates"
MODULES = sorted([STUDY / "study.py", *STUDY.glob("_study_*.py")])


def _own_imports_inside_functions(path: Path) -> list[str]:
    """``from .x import y`` / ``from examples.dates...`` statements nested in a function."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for fn in ast.walk(tree):
        if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(fn):
            if isinstance(node, ast.ImportFrom) and (
                node.level > 0 or (node.module or "").startswith("examples.dates")
            ):
                found.append(f"{path.name}:{node.lineno}")
    return found


def test_study_modules_import_each_other_at_the_top_only():
    assert MODULES
    assert [hit for p in MODULES for hit in _own_imports_inside_functions(p)] == []


def test_study_modules_are_small():
    sizes = {p.name: len(p.read_text(encoding="utf-8").splitlines()) for p in MODULES}
    assert {k: v for k, v in sizes.items() if v > 380} == {}


def _bidirectional(lengths: list[int], T: int = 7) -> rnndyn.Trajectories:
    rng = np.random.default_rng(0)
    units = pd.DataFrame(
        {
            "layer": "enc",
            "state": "h",
            "direction": ["forward", "forward", "backward", "backward"],
            "index": [1, 0, 1, 0],
        }
    )
    return rnndyn.Trajectories(rng.normal(size=(len(lengths), T, 4)), lengths, units)


def test_group_units_sorts_by_index_and_keeps_one_direction():
    traj = _bidirectional([3, 5])
    g = group_units(traj, "h", "backward")
    assert g.units["index"].tolist() == [0, 1]
    assert set(g.units["direction"]) == {"backward"}
    np.testing.assert_array_equal(g.states, traj.states[:, :, [3, 2]])


def test_leading_padding_in_processing_order():
    traj = _bidirectional([3, 5, 7])
    back = group_units(traj, "h", "backward").processing_order()
    fwd = group_units(traj, "h", "forward").processing_order()
    np.testing.assert_array_equal(leading_padding(back), [4, 2, 0])
    np.testing.assert_array_equal(leading_padding(fwd), [0, 0, 0])
    # the last leading pad of the backward pass is the pad next to the string (input order)
    i = 0
    np.testing.assert_array_equal(
        np.asarray(back.states)[i, leading_padding(back)[i] - 1],
        np.asarray(group_units(traj, "h", "backward").states)[i, 3],
    )


def test_ratio_and_distribution_without_resampling_spread():
    C = np.ones((3, 4))  # every resample draws each string once
    s_in, n_in = np.array([4.0, 4.0, 4.0, 4.0]), np.ones(4)
    s_pad, n_pad = np.ones(4), np.ones(4)
    r = S.ratio(C, s_in, n_in, s_pad, n_pad)
    assert r == {"estimate": 2.0, "low": 2.0, "high": 2.0}
    q_in, q_pad = np.full((4, 2), 4.0), np.full((4, 2), 1.0)
    d = S.unit_ratio_distribution(C, q_in, n_in, q_pad, n_pad)
    assert d["median"]["estimate"] == 2.0 and d["share_above_1"]["estimate"] == 1.0


def test_spearman_needs_three_finite_varying_points():
    assert S.spearman(np.array([1.0, 2.0, 3.0]), np.array([3.0, 2.0, 1.0])) == -1.0
    assert np.isnan(S.spearman(np.array([1.0, np.nan, 3.0]), np.array([1.0, 2.0, 3.0])))
    assert np.isnan(S.spearman(np.array([1.0, 1.0, 1.0]), np.array([1.0, 2.0, 3.0])))


def test_with_dynamics_appends_the_section_last():
    units = pd.DataFrame({"index": [0]})
    a = {"numbers": {"notebook": 1, "groups": 2, "n_boot": 3}, "arrays": {"notebook": 4}, "units": units}
    out = DY.with_dynamics(a, {"numbers": {"x": 1}, "arrays": {"y": 2}})
    assert list(out["numbers"]) == ["notebook", "groups", "n_boot", "dynamics"]
    assert out["arrays"]["dynamics"] == {"y": 2} and out["units"] is units
    assert "dynamics" not in a["numbers"]
