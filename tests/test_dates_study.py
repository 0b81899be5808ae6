"""End-to-end checks of the date study (``python -m examples.dates``).

One small run (n=40, both frameworks, the shipped weights) into a temporary
folder; its ``summary.json`` is checked against numbers recomputed here from
an independent capture (the full translator through ``rnndyn.capture``, not
the study's encoder sub-model) with brute-force numpy and ``rnndyn.physics``.
The command line's error paths run as subprocesses.

The shipped weights must exist (``examples/dates/weights``, committed by the
training helper); without them these tests fail and say how to make them.
``RNNDYN_DATES_WEIGHTS`` points at another weights folder.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

pytest.importorskip("babel")
pytest.importorskip("faker")

import rnndyn  # noqa: E402
from examples.dates import data as D  # noqa: E402
from examples.dates import models as M  # noqa: E402
from examples.dates import study  # noqa: E402
from examples.dates._study_analysis import random_units  # noqa: E402
from rnndyn import physics  # noqa: E402

N = 40
WEIGHTS = Path(os.environ.get("RNNDYN_DATES_WEIGHTS", M.DEFAULT_WEIGHTS_DIR))
FIGURES = [
    "fig2_heatmap", "fig3_random_units_value", "fig3_random_units_delta", "fig4_lengths",
    "fig5_random_units_curves", "fig6_area_distribution", "fig7_top5_curves", "fig8_most_dynamic_unit",
    "fig9_directions_h", "fig10_aligned_boundary", "fig11_relaxation", "fig12_relaxation_times",
    "fig13_msd_loglog", "fig14_msd_exponents", "fig15_vacf", "fig16_diffusion", "fig17_directions_c",
    "fig18_spectra", "fig19_modes_top_units", "fig20_predicted_vs_measured",
]  # fmt: skip
TABLES = [
    "models", "examples", "headline", "lengths_describe", "area_describe", "top5_units",
    "input_vs_padding", "relaxation", "msd_exponents", "diffusion", "units_keras", "units_torch",
    "area_split", "fixed_points", "pad_fixed_point", "predicted_vs_measured",
]  # fmt: skip


def _need_weights() -> None:
    missing = [
        f
        for f in (M.KERAS_FILE, M.TORCH_FILE, M.INPUT_VOCAB_FILE, M.OUTPUT_VOCAB_FILE)
        if not (WEIGHTS / f).is_file()
    ]
    if missing:
        pytest.fail(
            f"the shipped date-translator weights are missing in {WEIGHTS} ({', '.join(missing)}); "
            "create them with `python -m examples.dates.train --framework both` (or set "
            "RNNDYN_DATES_WEIGHTS to a weights folder)",
            pytrace=False,
        )


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    _need_weights()
    out = tmp_path_factory.mktemp("dates") / "report"
    path = study.run_study(framework="both", n=N, out=out, progress=False, weights=WEIGHTS)
    assert path == out
    return out


@pytest.fixture(scope="module")
def summary(report) -> dict:
    return json.loads((report / "summary.json").read_text())


@pytest.fixture(scope="module")
def strings() -> list[str]:
    return [r.human for r in M.load_validation(WEIGHTS)[:N]]


def _independent_h(fw: str, strings: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Encoder outputs (n, 50, 512) [forward | backward] from the FULL model, float64."""
    model = M.load_keras(WEIGHTS) if fw == "keras" else M.load_torch(WEIGHTS)
    x = D.encode_inputs(strings, model.input_vocab)
    L = D.input_lengths(strings)
    traj = rnndyn.capture(model, x, layer="encoder", state="h", lengths=L, batch_size=16, progress=False)
    u = traj.units
    order = np.lexsort((u["index"].to_numpy(), (u["direction"] == "backward").to_numpy()))
    return np.asarray(traj.states, dtype=np.float64)[:, :, order], L


@pytest.fixture(scope="module")
def captures(strings) -> dict:
    _need_weights()
    return {fw: _independent_h(fw, strings) for fw in ("keras", "torch")}


# ------------------------------------------------------------------ the files
def test_every_file_is_written(report):
    names = {p.name for p in report.iterdir()}
    expected = {"index.html", "summary.json"} | {f"{f}.png" for f in FIGURES} | {f"{t}.csv" for t in TABLES}
    assert expected <= names, sorted(expected - names)
    assert not [p for p in report.parent.iterdir() if p.name.startswith(".report")]  # no temp left


def test_index_is_self_contained(report):
    html = (report / "index.html").read_text(encoding="utf-8")
    pngs = len(list(report.glob("*.png")))
    assert html.count('src="data:image/png;base64,') == pngs == len(FIGURES)
    assert not re.search(r'src="(?!data:)', html)  # nothing loaded from outside
    for heading in (
        "Findings",
        "1. The notebook, figure by figure",
        "2. Beyond the notebook",
        "3. Dynamics: the map behind the motion",
    ):
        assert heading in html


@pytest.mark.parametrize("fw", ["keras", "torch"])
def test_explore_pages_hold_the_encoders_units(fw, report, captures):
    """The study's interactive pages are rnndyn.analysis pages of the same h: one row per unit."""
    html = (report / f"explore_{fw}.html").read_text(encoding="utf-8")
    assert f'href="explore_{fw}.html"' in (report / "index.html").read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "</html>" in html
    assert not re.search(r'(?:src|href)="https?://', html)  # nothing loaded from outside
    n_units = captures[fw][0].shape[2]
    assert n_units == 512
    assert f"{N} sequences x 50 steps x {n_units} units" in html


def test_random_units_are_the_notebooks(summary):
    assert random_units() == [405, 496, 432, 47, 121]
    for fw in ("keras", "torch"):
        assert summary[fw]["trained"]["notebook"]["random_units"] == [405, 496, 432, 47, 121]


# -------------------------------------------------- numbers vs a recomputation
@pytest.mark.parametrize("fw", ["keras", "torch"])
def test_area_and_top_units_match_brute_force(fw, summary, captures):
    h, _ = captures[fw]
    area = np.zeros(512)
    for i in range(h.shape[0]):  # sum over steps of mean over strings of |delta|
        area += np.abs(np.diff(h[i], axis=0)).sum(axis=0)
    area /= h.shape[0]
    desc = summary[fw]["trained"]["notebook"]["area_describe"]
    for key, q in (("50%", 50), ("75%", 75), ("90%", 90), ("95%", 95), ("99%", 99)):
        assert desc[key]["estimate"] == pytest.approx(np.percentile(area, q), rel=1e-4)
        assert desc[key]["low"] <= desc[key]["estimate"] <= desc[key]["high"]
    assert desc["mean"]["estimate"] == pytest.approx(area.mean(), rel=1e-4)
    assert desc["max"]["estimate"] == pytest.approx(area.max(), rel=1e-4)
    top = summary[fw]["trained"]["notebook"]["top5_units"]
    assert np.allclose(area[top], np.sort(area)[::-1][:5], rtol=1e-4)
    share = np.sort(area)[::-1][:52].sum() / area.sum()  # top 10% = ceil(51.2) units
    assert summary[fw]["trained"]["notebook"]["share_top10pct"]["estimate"] == pytest.approx(share, rel=1e-4)


@pytest.mark.parametrize("fw", ["keras", "torch"])
def test_rms_ratio_matches_brute_force(fw, summary, captures):
    h, L = captures[fw]
    sums = {"input": 0.0, "padding": 0.0}
    counts = {"input": 0, "padding": 0}
    for i in range(h.shape[0]):
        d = np.diff(h[i], axis=0)
        for t in range(d.shape[0]):
            for cols, is_input in ((slice(0, 256), t + 1 < L[i]), (slice(256, 512), t < L[i])):
                k = "input" if is_input else "padding"
                sums[k] += float((d[t, cols] ** 2).sum())
                counts[k] += 256
    ratio = np.sqrt(sums["input"] / counts["input"]) / np.sqrt(sums["padding"] / counts["padding"])
    got = summary[fw]["trained"]["notebook"]["rms_ratio_input_over_padding"]
    assert got["estimate"] == pytest.approx(ratio, rel=1e-4)
    assert got["low"] < got["estimate"] < got["high"]


@pytest.mark.parametrize("fw", ["keras", "torch"])
def test_msd_exponents_and_relaxation_match_rnndyn_physics(fw, summary, captures):
    h, L = captures[fw]
    groups = summary[fw]["trained"]["groups"]["h"]
    fwd = rnndyn.Trajectories(h[:, :, :256], L)
    bwd_units = {"layer": "encoder", "state": "h", "direction": "backward", "index": np.arange(256)}
    bwd = rnndyn.Trajectories(h[:, :, 256:], L, units=bwd_units).processing_order()
    for name, traj in (("forward", fwd), ("backward", bwd)):
        for region in ("input", "padding"):
            got = groups[name]["msd"][region]
            lo, hi = got["window"]
            alpha = physics.msd_exponent(traj, lags=(lo, hi), region=region)
            assert got["alpha_median"]["estimate"] == pytest.approx(np.median(alpha), abs=1e-3)
            regimes = physics.classify_regime(alpha)
            assert got["regime_counts"]["ballistic"] == pytest.approx(np.sum(regimes == "ballistic"), abs=2)
            d_e = physics.diffusion_coefficient(traj, method="einstein", lags=(lo, hi), region=region)
            d_gk = physics.diffusion_coefficient(traj, method="green-kubo", max_lag=hi - 1, region=region)
            assert got["diffusion"]["einstein_median"] == pytest.approx(np.median(d_e), rel=1e-3)
            assert got["diffusion"]["green_kubo_median"] == pytest.approx(np.median(d_gk), rel=1e-3)
    rel = groups["forward"]["relaxation"]
    start, stop = rel["window"]
    res = physics.relaxation_time(
        fwd, target="final", start=start, stop=stop, min_sequences=rel["min_strings"]
    )
    good = (res["r2"] >= 0.9) & (res["tau"] > 0) & np.isfinite(res["tau"])
    assert rel["fraction_good_fit"]["estimate"] == pytest.approx(good.mean(), abs=1e-9)
    if good.any():
        assert rel["tau_median_good_fits"]["estimate"] == pytest.approx(res["tau"][good].median(), rel=1e-3)


def test_lengths_accuracy_and_examples(summary, strings):
    L = np.array([len(s) for s in strings])
    assert summary["lengths"]["50%"] == pytest.approx(np.median(L))
    assert summary["lengths"]["max"] == L.max()
    targets = [r.iso for r in M.load_validation(WEIGHTS)[:N]]
    for fw in ("keras", "torch"):
        model = M.load_keras(WEIGHTS) if fw == "keras" else M.load_torch(WEIGHTS)
        out = M.translate(model, strings)
        acc = np.mean([a == b for a, b in zip(out, targets, strict=True)])
        assert summary[fw]["accuracy"]["recomputed_exact_match"] == pytest.approx(acc)
        ex = summary[fw]["examples"]
        assert [e["input"] for e in ex] == list(study.NOTEBOOK["examples"])
        assert [e["output"] for e in ex] == M.translate(model, [e["input"] for e in ex])


# ------------------------------------------- dynamics: fixed points and relaxation target
def _models(fw: str, summary: dict) -> dict:
    from examples.dates._study_capture import untrained

    model = M.load_keras(WEIGHTS) if fw == "keras" else M.load_torch(WEIGHTS)
    seed = summary["settings"]["null_model_seed"]
    return {"trained": model, "untrained": untrained(fw, model.input_vocab, model.output_vocab, seed)}


@pytest.fixture(scope="module")
def step_maps(summary) -> dict:
    from rnndyn.plugins import step_map

    out = {}
    for fw in ("keras", "torch"):
        for which, model in _models(fw, summary).items():
            cells = step_map(model, "encoder")
            out[(fw, which)] = {
                d: rnndyn.dynamics.LSTMCell(
                    *(np.asarray(rnndyn._validation.to_numpy(w)) for w in (c.W_ih, c.W_hh, c.b))
                )
                for d, c in cells.items()
            }
    return out


def _abs_sorted(lam: np.ndarray) -> np.ndarray:
    return np.sort(np.abs(lam))[::-1]


@pytest.mark.parametrize("fw", ["keras", "torch"])
def test_pad_fixed_point_is_a_fixed_point_of_the_step_map(fw, summary, step_maps):
    """Recomputed with the cells of rnndyn.plugins.step_map: F(h*, pad) = h*, and the reported spectrum."""
    for which in ("trained", "untrained"):
        dyn = summary[fw][which]["dynamics"]
        assert dyn["inputs"][0] == "<pad>"
        pad = np.zeros(60)
        pad[0] = 1.0  # <pad> is index 0 of the input vocabulary
        for d in ("forward", "backward"):
            cell = step_maps[(fw, which)][d]
            pp = dyn[d]["pad_point"]
            s = np.array(pp["state"])
            H = cell.hidden_size
            # an independent LSTM step, PyTorch's equations, canonical layout (gates i, f, g, o)
            z = cell.W_ih @ pad + cell.W_hh @ s[:H] + cell.b
            sig = 1 / (1 + np.exp(-z))
            c1 = sig[H : 2 * H] * s[H:] + sig[:H] * np.tanh(z[2 * H : 3 * H])
            h1 = sig[3 * H :] * np.tanh(c1)
            assert np.max(np.abs(np.concatenate([h1, c1]) - s)) < 1e-10
            assert pp["residual"] < 1e-10 and pp["stability"] == "stable"
            # the Jacobian by central finite differences, its eigenvalues vs the reported ones
            eps = 1e-6
            J = np.empty((2 * H, 2 * H))
            for k in range(2 * H):
                e = np.zeros(2 * H)
                e[k] = eps
                J[:, k] = (
                    cell.step((s + e)[None], pad[None])[0] - cell.step((s - e)[None], pad[None])[0]
                ) / (2 * eps)
            lam = np.linalg.eigvals(J)
            got = np.array(pp["eigenvalues"])
            got = got[:, 0] + 1j * got[:, 1]
            assert np.allclose(_abs_sorted(got), _abs_sorted(lam), atol=1e-6)
            rho = np.abs(lam).max()
            assert pp["spectral_radius"] == pytest.approx(rho, abs=1e-6)
            assert pp["tau_slowest"] == pytest.approx(-1 / np.log(pp["spectral_radius"]), rel=1e-12)
            # the point is where the padding leads: the captured final states are near it
            assert pp["terminal_distance"] < 2.0


@pytest.mark.parametrize("fw", ["keras", "torch"])
def test_predicted_tau_is_that_of_the_reported_mode(fw, summary, step_maps):
    dyn = summary[fw]["trained"]["dynamics"]
    pad = np.eye(60)[0]
    for d in ("forward", "backward"):
        x = dyn[d]
        lam = np.array(x["pad_point"]["eigenvalues"])
        lam = lam[:, 0] + 1j * lam[:, 1]
        cell = step_maps[(fw, "trained")][d]
        s = np.array(x["pad_point"]["state"])
        w_all, v = np.linalg.eig(cell.jacobian(s[None], pad[None])[0])
        order = np.argsort(-np.abs(w_all), kind="stable")
        share = np.abs(v[:, order]) ** 2
        share /= share.sum(axis=1, keepdims=True)
        for row in x["modes"]["top_units_prediction"]:
            k = row["mode"]
            assert row["abs_eigenvalue"] == pytest.approx(abs(lam[k]), rel=1e-12)
            assert row["tau_predicted"] == pytest.approx(-1 / np.log(abs(lam[k])), rel=1e-12)
            # independently: the slowest mode with a share >= 1e-8 in that h unit (ties of |lambda| aside)
            u = row["index"]
            k_mine = int(np.argmax(share[u] >= 1e-8))
            assert abs(np.abs(w_all[order][k_mine]) - row["abs_eigenvalue"]) < 1e-8
        assert x["relaxation"]["tau_slowest_mode"] == pytest.approx(-1 / np.log(abs(lam[0])), rel=1e-12)


@pytest.mark.parametrize("fw", ["keras", "torch"])
def test_relaxation_toward_the_fixed_point_matches_rnndyn_physics(fw, summary, captures, report):
    import pandas as pd

    h, L = captures[fw]
    fwd = rnndyn.Trajectories(h[:, :, :256], L)
    g = summary[fw]["trained"]["groups"]["h"]["forward"]["relaxation"]
    rel = g["fixed_point"]
    target = np.array(summary[fw]["trained"]["dynamics"]["forward"]["pad_point"]["state"][:256])
    start, stop = g["window"]
    res = physics.relaxation_time(fwd, target=target, start=start, stop=stop, min_sequences=g["min_strings"])
    good = (res["r2"] >= 0.9) & (res["tau"] > 0) & np.isfinite(res["tau"])
    assert rel["fraction_good_fit"]["estimate"] == pytest.approx(good.mean(), abs=1.5 / 256)
    if good.sum() > 2:
        assert rel["tau_median_good_fits"]["estimate"] == pytest.approx(res["tau"][good].median(), rel=2e-2)
    units = pd.read_csv(report / f"units_{fw}.csv")
    u = units[(units["state"] == "h") & (units["direction"] == "forward")].sort_values("index")
    ok = np.isfinite(res["tau"].to_numpy()) & (res["r2"].to_numpy() > 0.5)
    assert np.allclose(u["relax_tau_fp"].to_numpy()[ok], res["tau"].to_numpy()[ok], rtol=1e-2)
    d = np.abs(h[:, -1, :256] - target)
    assert rel["final_state_distance"]["median"] == pytest.approx(np.median(d), rel=1e-3, abs=1e-6)
    # the notebook's version is kept beside it, unchanged
    assert g["kind"] == "after the end of input, toward the final state"


@pytest.mark.parametrize("fw", ["keras", "torch"])
def test_per_unit_ratios_and_area_split_match_brute_force(fw, summary, captures):
    h, L = captures[fw]
    n = h.shape[0]
    sq = {"input": np.zeros(512), "padding": np.zeros(512)}
    cnt = {"input": np.zeros(512), "padding": np.zeros(512)}
    area_in, area_all = np.zeros(512), np.zeros(512)
    for i in range(n):
        d = np.diff(h[i], axis=0)
        for t in range(d.shape[0]):
            for cols, is_input in ((slice(0, 256), t + 1 < L[i]), (slice(256, 512), t < L[i])):
                k = "input" if is_input else "padding"
                sq[k][cols] += d[t, cols] ** 2
                cnt[k][cols] += 1
                area_all[cols] += np.abs(d[t, cols])
                if is_input:
                    area_in[cols] += np.abs(d[t, cols])
    r = np.sqrt(sq["input"] / cnt["input"]) / np.sqrt(sq["padding"] / cnt["padding"])
    for d, cols in (("forward", slice(0, 256)), ("backward", slice(256, 512))):
        got = summary[fw]["trained"]["groups"]["h"][d]["per_unit_ratio"]
        assert got["median"]["estimate"] == pytest.approx(np.median(r[cols]), rel=1e-3)
        assert got["share_above_1"]["estimate"] == pytest.approx(np.mean(r[cols] > 1), abs=1.5 / 256)
        assert got["median"]["low"] <= got["median"]["high"]
    nb = summary[fw]["trained"]["notebook"]
    assert nb["rms_ratio_per_unit"]["all"]["median"]["estimate"] == pytest.approx(np.median(r), rel=1e-3)
    split = nb["area_split"]
    assert split["padding_share"]["estimate"] == pytest.approx(1 - area_in.sum() / area_all.sum(), rel=1e-3)
    for t in split["top5"]:
        assert t["input"] == pytest.approx(area_in[t["unit"]] / n, rel=1e-3)
        assert t["padding"] == pytest.approx(
            (area_all[t["unit"]] - area_in[t["unit"]]) / n, rel=1e-3, abs=1e-6
        )


def test_dynamics_findings_are_stated(summary, report):
    html = (report / "index.html").read_text(encoding="utf-8")
    for fw in ("keras", "torch"):
        v = summary["findings"][fw]
        for key in (
            "relaxes_to_pad_fixed_point",
            "terminal_value_is_stable_fixed_point",
            "slowest_mode_sets_relaxation",
        ):
            assert v[key] in html
        for which in ("trained", "untrained"):
            rr = summary[fw][which]["dynamics"]["forward"]["relaxation"]
            sp = rr["spearman_weighted"]
            if sp["low"] is not None:
                assert sp["low"] <= sp["high"]
    assert "stable fixed point of the padding map" in html


# --------------------------------------------------------------- error paths
def _cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "examples.dates", "--quiet", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _one_line_error(proc: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert "error" in lines[0]
    return lines[0]


@pytest.mark.parametrize(
    "args, words",
    [
        (["--n", "0"], "--n"),
        (["--n", "10001"], "--n"),
        (["--n", "many"], "--n"),
        (["--framework", "jax"], "jax"),
        (["--seed", "-3"], "--seed"),
    ],
)
def test_usage_errors_exit_2(tmp_path, args, words):
    out = tmp_path / "rep"
    proc = _cli(*args, "--out", str(out))
    assert proc.returncode == 2
    assert words in _one_line_error(proc)
    assert not out.exists()


def test_unwritable_or_unsuitable_out(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    proc = _cli("--out", str(blocker / "rep"))
    assert proc.returncode == 2 and "not a folder" in _one_line_error(proc)
    other = tmp_path / "someone_elses"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    proc = _cli("--out", str(other))
    assert proc.returncode == 2 and "no rnndyn manifest" in _one_line_error(proc)
    assert (other / "notes.txt").read_text() == "keep me"


def test_missing_weights(tmp_path):
    out = tmp_path / "rep"
    proc = _cli("--weights", str(tmp_path / "nothing_here"), "--out", str(out))
    assert proc.returncode == 1
    assert "--train" in _one_line_error(proc)
    assert not out.exists()


def test_corrupted_torch_weights(tmp_path):
    _need_weights()
    w = tmp_path / "w"
    w.mkdir()
    for f in (M.INPUT_VOCAB_FILE, M.OUTPUT_VOCAB_FILE, M.KERAS_FILE):
        shutil.copy(WEIGHTS / f, w / f)
    (w / M.TORCH_FILE).write_bytes(b"\x00not a safetensors file" * 10)
    out = tmp_path / "rep"
    proc = _cli("--framework", "torch", "--weights", str(w), "--out", str(out))
    assert proc.returncode == 1
    assert "--train" in _one_line_error(proc)
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == ["w"]


def test_corrupted_keras_weights_in_process(tmp_path, report):
    w = tmp_path / "w"
    w.mkdir()
    for f in (M.INPUT_VOCAB_FILE, M.OUTPUT_VOCAB_FILE, M.TORCH_FILE):
        shutil.copy(WEIGHTS / f, w / f)
    (w / M.KERAS_FILE).write_bytes(b"PK\x03\x04 truncated zip")
    out = tmp_path / "rep"
    with pytest.raises(M.WeightsError, match="--train"):
        study.run_study(framework="keras", n=3, out=out, weights=w, progress=False)
    assert not out.exists()
    with pytest.raises(study.StudyError, match="--n"):
        study.run_study(n=0, out=out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w"]


def test_train_flag_trains_into_a_temporary_folder(tmp_path, monkeypatch, report):
    """--train runs examples.dates.train into a temporary folder, uses it, then removes it."""
    from examples.dates import train

    seen: list[list[str]] = []

    def fake_train(argv):  # stands in for 20 minutes of training: copies trained weights
        seen.append(list(argv))
        dest = Path(argv[argv.index("--out") + 1])
        for f in (M.INPUT_VOCAB_FILE, M.OUTPUT_VOCAB_FILE, M.TORCH_FILE):
            shutil.copy(WEIGHTS / f, dest / f)
        return 0

    monkeypatch.setattr(train, "main", fake_train)
    out = study.run_study(framework="torch", n=4, out=tmp_path / "rep", train=True, seed=3, progress=False)
    assert seen and seen[0][:2] == ["--framework", "torch"] and seen[0][-2:] == ["--seed", "3"]
    assert not Path(seen[0][seen[0].index("--out") + 1]).exists()
    got = json.loads((out / "summary.json").read_text())
    assert got["settings"]["weights"] == "retrained (--train)" and got["settings"]["frameworks"] == ["torch"]


def test_documented_command_lines_parse():
    """Every `python -m examples.dates ...` line in docs/dates.md is accepted by the parser."""
    import shlex

    text = (ROOT / "docs" / "dates.md").read_text()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip().startswith("python -m examples.dates ")]
    lines += ["python -m examples.dates"]
    parser = study.build_parser()
    for ln in lines:
        args = parser.parse_args(shlex.split(ln.split("#")[0])[3:])
        assert args.framework in ("keras", "torch", "both")


def test_documented_python_compiles():
    """The Python blocks of docs/dates.md compile and import only names that exist."""
    import ast
    import importlib

    text = (ROOT / "docs" / "dates.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks
    for code in blocks:
        tree = ast.parse(code)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                mod = importlib.import_module(node.module)
                assert all(hasattr(mod, a.name) for a in node.names)
