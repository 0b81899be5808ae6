"""Figures draw the data they are given; reports are complete or absent."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from rnndyn import RnndynError, Trajectories, plots  # noqa: E402
from rnndyn.report import Report  # noqa: E402


@pytest.fixture
def traj() -> Trajectories:
    rng = np.random.default_rng(0)
    return Trajectories(rng.normal(size=(3, 7, 5)), [7, 4, 2], inputs=["abcdefg", "abcd", "ab"])


def test_heatmap_shows_the_states_and_the_length(traj: Trajectories) -> None:
    ax = plots.heatmap(traj, sequence=1)
    np.testing.assert_array_equal(ax.images[0].get_array(), traj.states[1])
    hline = [ln for ln in ax.lines if ln.get_label() == "end of input"][0]
    assert hline.get_ydata()[0] == pytest.approx(4 - 0.5)
    assert "'abcd'" in ax.get_title()
    plt.close("all")
    with pytest.raises(RnndynError, match="sequence"):
        plots.heatmap(traj, sequence=3)


def test_unit_traces_plot_values_and_deltas(traj: Trajectories) -> None:
    ax = plots.unit_traces(traj, [0, 3], sequence=2, what="delta")
    np.testing.assert_allclose(ax.lines[1].get_ydata(), np.diff(traj.states[2, :, 3]))
    ax = plots.unit_traces(traj, [4], sequence=0)
    np.testing.assert_allclose(ax.lines[0].get_ydata(), traj.states[0, :, 4])
    plt.close("all")


def test_ensemble_draws_every_sequence_and_the_mean(traj: Trajectories) -> None:
    ax = plots.ensemble(traj, 2)
    assert len(ax.lines) == traj.n_sequences + 1
    np.testing.assert_allclose(ax.lines[-1].get_ydata(), traj.states[:, :, 2].mean(axis=0))
    plt.close("all")


def test_report_writes_everything(tmp_path: Path, traj: Trajectories) -> None:
    rep = Report("t")
    rep.heading("h")
    rep.text("a < b")
    rep.figure(plots.heatmap(traj).figure, "heat", caption="c")
    rep.table(pd.DataFrame({"x": [1.5, np.nan]}), "tab")
    rep.numbers.update(a=np.float64(1.5), b=np.arange(3), c=float("nan"))
    out = rep.write(tmp_path / "rep")
    assert sorted(p.name for p in out.iterdir()) == [
        ".rnndyn-manifest.json",
        "heat.png",
        "index.html",
        "summary.json",
        "tab.csv",
    ]
    page = (out / "index.html").read_text()
    assert "data:image/png;base64," in page and "a &lt; b" in page
    assert json.loads((out / "summary.json").read_text()) == {"a": 1.5, "b": [0, 1, 2], "c": None}
    assert pd.read_csv(out / "tab.csv", index_col=0)["x"].iloc[0] == 1.5
    assert [p.name for p in tmp_path.iterdir()] == ["rep"]


def test_failed_write_leaves_nothing_and_keeps_the_old_report(tmp_path: Path, monkeypatch) -> None:
    old = Report("old")
    old.numbers["v"] = 1
    old.write(tmp_path / "rep")
    rep = Report("new")
    rep.numbers["v"] = 2

    def boom(self, *a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(Path, "write_text", boom)
    with pytest.raises(OSError, match="disk full"):
        rep.write(tmp_path / "rep")
    monkeypatch.undo()
    assert [p.name for p in tmp_path.iterdir()] == ["rep"]
    assert json.loads((tmp_path / "rep" / "summary.json").read_text()) == {"v": 1}


def test_duplicate_names_and_unwritable_folder(tmp_path: Path) -> None:
    rep = Report("t")
    rep.table(pd.DataFrame({"a": [1]}), "x")
    with pytest.raises(RnndynError, match="used twice"):
        rep.table(pd.DataFrame({"a": [1]}), "x")
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(RnndynError, match="cannot write"):
        rep.write(blocker / "sub" / "rep")
