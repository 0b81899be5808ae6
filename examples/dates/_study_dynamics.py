"""The map behind the motion: fixed points, spectra and predicted relaxation of the date encoder.

The encoder's forward and backward LSTMs each move their state by
``s_{t+1} = F(s_t, x)``; :func:`rnndyn.plugins.step_map` hands over ``F`` per
direction as an :class:`rnndyn.dynamics.LSTMCell` (the weights of the model,
framework-free). For a constant input ``x`` (the padding symbol, or one
character repeated) :func:`rnndyn.dynamics.fixed_points` finds the states
with ``F(s, x) = s``, started from captured states plus noise, each with its
Jacobian spectrum. The stable fixed point of the padding map is where the
"terminal value" of a unit (its state after the padding) should be; its
modes predict the relaxation times per unit
(:func:`rnndyn.dynamics.predicted_relaxation`), compared here with the
relaxation measured toward that point by
:mod:`examples.dates._study_relaxation`.
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import Any

import numpy as np

import rnndyn
from rnndyn.dynamics import fixed_points, predicted_relaxation
from rnndyn.plugins import step_map

from . import _study_stats as S
from ._study_groups import group_units
from ._study_relaxation import good_fits, leading_padding
from ._study_types import Analysis, DirectionSearch, DynamicsResult, Search

__all__ = [
    "PAD",
    "CHARS",
    "SEARCH",
    "N_MODES",
    "fixed_point_search",
    "targets",
    "analyze_dynamics",
    "with_dynamics",
]

#: The padding symbol of the input vocabulary (index 0).
PAD = "<pad>"
#: Characters whose constant input is also searched (a digit, another digit, a separator, a space, a letter).
CHARS = ("0", "1", "-", " ", "a")
#: Fixed-point search settings: starts sampled from the captured ``h`` of the validation strings.
SEARCH = {"n_starts_pad": 24, "n_starts_char": 6, "noise": 0.02, "max_iter": 25, "tol": 1e-10}
#: Leading modes shown on the most dynamic units.
N_MODES = 8
#: Most dynamic units (by area, per direction) shown against the leading modes.
N_TOP = 8


class _quiet_stdout:
    """Silence C-level stdout (file descriptor 1) meanwhile.

    Intel MKL (under torch's batched ``linalg.solve``) prints
    ``Intel oneMKL ERROR: Parameter 6 was incorrect on entry to DLASWP``
    for singular batches the solver then handles one by one; thousands of
    such lines would bury the study's progress output.
    """

    def __enter__(self) -> None:
        sys.stdout.flush()
        self._saved = os.dup(1)
        self._null = open(os.devnull, "w")  # noqa: SIM115
        os.dup2(self._null.fileno(), 1)

    def __exit__(self, *exc: Any) -> None:
        sys.stdout.flush()
        os.dup2(self._saved, 1)
        os.close(self._saved)
        self._null.close()


def _one_hot(vocab: list[str], symbols: list[str]) -> np.ndarray:
    return np.eye(len(vocab))[[vocab.index(s) for s in symbols]]


def _terminal(main: rnndyn.Trajectories, direction: str) -> np.ndarray:
    """The ``h`` the padding leads to, by unit index.

    Forward: the median over strings of the last state ``h[T-1]``. Backward
    (reads the padding first, from ``h0 = 0``, along one path shared by every
    string): the last leading padding state of the string with the most padding.
    """
    G = group_units(main, "h", direction)
    if direction == "forward":
        return np.median(np.asarray(G.states)[:, -1, :].astype(np.float64), axis=0)
    P = G.processing_order()
    n_pad = leading_padding(P)
    i0 = int(np.argmax(n_pad))
    return np.asarray(P.states)[i0, n_pad[i0] - 1, :].astype(np.float64)


def fixed_point_search(model: Any, main: rnndyn.Trajectories, *, seed: int = 0, chars: bool = True) -> Search:
    """Fixed points of each direction's map under the padding input and under :data:`CHARS`.

    Parameters
    ----------
    model : the translator (Keras or PyTorch); its layer ``"encoder"`` is analysed
    main : Trajectories
        The validation strings' capture (``h`` of both directions at least): the starts.
    seed : int
    chars : bool
        Also search the character maps (the study does for the trained
        models; the untrained twin's character maps barely differ from its
        padding map, and each point costs an eigendecomposition).

    Returns
    -------
    Search
        ``inputs`` (symbols, the padding first), ``cells`` (from
        :func:`rnndyn.plugins.step_map`), and per direction ``pad`` and
        ``chars`` (:class:`rnndyn.dynamics.FixedPoints`), ``row`` (the pad
        point taken as the terminal one: the stable point nearest the
        terminal state), ``point`` (its full state ``[h, c]``) and
        ``terminal`` (the ``h`` the padding leads to).
    """
    # numpy float64 copies of the adapter's cells: on a CPU the faster backend for the search
    cells = {d: c.to_numpy() for d, c in step_map(model, "encoder").items()}
    vocab = list(model.input_vocab.tokens)
    inputs = [PAD] + ([c for c in CHARS if c in vocab] if chars else [])
    X = _one_hot(vocab, inputs)
    directions: dict[str, DirectionSearch] = {}
    common = {
        "noise": SEARCH["noise"],
        "max_iter": SEARCH["max_iter"],
        "tol": SEARCH["tol"],
        "seed": seed,
        "layer": "encoder",
    }
    for d, cell in cells.items():
        with warnings.catch_warnings(), _quiet_stdout():
            warnings.simplefilter("ignore", RuntimeWarning)
            fp_pad = fixed_points(cell, X[:1], main, n_starts=SEARCH["n_starts_pad"], direction=d, **common)
            fp_chr = (
                fixed_points(  # stability and spectra only: eigenvalues, no eigenvectors
                    cell, X[1:], main, n_starts=SEARCH["n_starts_char"], direction=d, modes=False, **common
                )
                if chars
                else None
            )
        terminal = _terminal(main, d)
        H = cell.hidden_size
        if len(fp_pad) == 0:
            raise RuntimeError(f"no fixed point of the padding map found for the {d} encoder")
        dist = np.max(np.abs(fp_pad.states[:, :H] - terminal[None, :]), axis=1)
        stable = (fp_pad.table["stability"] == "stable").to_numpy()
        row = int(np.argmin(np.where(stable, dist, np.inf))) if stable.any() else int(np.argmin(dist))
        directions[d] = {
            "pad": fp_pad,
            "chars": fp_chr,
            "row": row,
            "point": fp_pad.states[row].copy(),
            "terminal": terminal,
            "terminal_distance": float(dist[row]),
        }
    return {"inputs": inputs, "cells": cells, "directions": directions}


def targets(search: Search) -> dict[tuple[str, str], np.ndarray]:
    """``{(state, direction): values}`` of the terminal pad fixed point, for the relaxation target."""
    out = {}
    for d, r in search["directions"].items():
        H = search["cells"][d].hidden_size
        out[("h", d)] = r["point"][:H]
        out[("c", d)] = r["point"][H:]
    return out


def _spearman_interval(pred: np.ndarray, tau: np.ndarray, r2: np.ndarray, b_tau, b_r2) -> dict:
    """Spearman of ``pred`` vs the measured ``tau`` over good fits, with its bootstrap interval."""
    good = good_fits(tau, r2)
    est = S.spearman(pred[good], tau[good])
    if b_tau is None:
        return {"estimate": est, "low": None, "high": None, "n_units": int(good.sum())}
    b_good = good_fits(b_tau, b_r2)
    boots = np.array([S.spearman(pred[g], t[g]) for g, t in zip(b_good, b_tau, strict=True)])
    return S.interval(est, boots) | {"n_units": int(good.sum())}


def _table_rows(fp: Any, names: list[str]) -> list[dict]:
    t = fp.table
    rows = []
    for k in range(len(t)):
        r = t.iloc[k]
        rows.append(
            {
                "input": names[int(r["input"])],
                "kind": str(r["kind"]),
                "residual": float(r["residual"]),
                "spectral_radius": float(r["spectral_radius"]),
                "stability": str(r["stability"]),
                "n_unstable": int(r["n_unstable"]),
                "tau": float(r["tau"]),
                "n_starts": int(r["n_starts"]),
            }
        )
    return rows


def _starts(fp: Any, names: list[str]) -> dict:
    s = fp.starts
    return {
        name: {k: int(np.sum((s["input"] == i) & (s["status"] == k))) for k in ("fixed", "slow", "failed")}
        for i, name in enumerate(names)
    }


def _units(analysis: Analysis, direction: str) -> Any:
    u = analysis["units"]
    return u[(u["state"] == "h") & (u["direction"] == direction)].sort_values("index")


def analyze_dynamics(search: Search, analysis: Analysis) -> DynamicsResult:
    """Numbers and arrays of the dynamics section for one network.

    Parameters
    ----------
    search : the output of :func:`fixed_point_search`
    analysis : the output of :func:`examples.dates._study_analysis.analyze`
        run with ``fixed=targets(search)`` (its relaxation toward the pad fixed point).

    Returns
    -------
    DynamicsResult
        ``numbers`` (JSON-ready) and ``arrays`` (for the figures); also adds
        the per-unit prediction columns to ``analysis["units"]``.
    """
    inputs = search["inputs"]
    numbers: dict[str, Any] = {
        "inputs": inputs,
        "search": dict(SEARCH),
        "loading_tol": 1e-8,
    }
    arrays: dict[str, Any] = {}
    for d, r in search["directions"].items():
        cell = search["cells"][d]
        H = cell.hidden_size
        x_pad = np.asarray(r["pad"].inputs[r["row"]], dtype=np.float64)
        fp = r["pad"]
        k = r["row"]
        ch = r["chars"] is not None
        lam = fp.eigenvalues[k]
        vec = fp.eigenvectors[k]
        pr = predicted_relaxation(cell, r["point"], x_pad)
        pr = pr[pr["state"] == "h"].sort_values("index")
        rel = analysis["arrays"]["groups"]["h"][d]["relaxation"]["fixed_point"]
        tau_m, r2_m = rel["tau"], rel["r2"]
        tau_p, tau_w = pr["tau_predicted"].to_numpy(), pr["tau_weighted"].to_numpy()
        good = good_fits(tau_m, r2_m)
        units = _units(analysis, d)
        area = units["area"].to_numpy()
        top = [int(i) for i in np.argsort(-area, kind="stable")[:N_TOP]]
        w = np.abs(vec[:H]) ** 2
        w = w / (np.abs(vec) ** 2).sum(axis=1)[:H, None]  # share of mode k in unit u (h rows)
        tau_modes = -1.0 / np.log(np.abs(lam[:N_MODES]))
        slowest = float(-1.0 / np.log(np.abs(lam[0])))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            ratio = tau_m[good] / tau_p[good]
        numbers[d] = {
            "fixed_points": _table_rows(fp, [PAD]) + (_table_rows(r["chars"], inputs[1:]) if ch else []),
            "starts": _starts(fp, [PAD]) | (_starts(r["chars"], inputs[1:]) if ch else {}),
            "pad_point": {
                "row": k,
                "state": [float(v) for v in r["point"]],
                "residual": float(fp.table["residual"].iloc[k]),
                "spectral_radius": float(fp.table["spectral_radius"].iloc[k]),
                "stability": str(fp.table["stability"].iloc[k]),
                "n_unstable": int(fp.table["n_unstable"].iloc[k]),
                "tau_slowest": slowest,
                "n_pad_points": len(fp),
                "n_pad_stable": int((fp.table["stability"] == "stable").sum()),
                "terminal_distance": r["terminal_distance"],
                "eigenvalues": [[float(z.real), float(z.imag)] for z in lam],
            },
            "modes": {
                "top_units": top,
                "top_units_area": [float(area[u]) for u in top],
                "tau": [float(t) for t in tau_modes],
                "share": [[float(w[u, j]) for j in range(N_MODES)] for u in top],
                "top_units_prediction": [
                    {
                        "index": u,
                        "tau_predicted": float(tau_p[u]),
                        "mode": int(pr["mode"].iloc[u]),
                        "abs_eigenvalue": float(pr["abs_eigenvalue"].iloc[u]),
                        "share": float(pr["share"].iloc[u]),
                        "tau_weighted": float(tau_w[u]),
                        "tau_measured": float(tau_m[u]),
                        "r2": float(r2_m[u]),
                    }
                    for u in top
                ],
            },
            "relaxation": {
                "tau_slowest_mode": slowest,
                "units_reached_by_slowest_mode": float(np.mean(pr["mode"].to_numpy() == 0)),
                "tau_predicted_median": float(np.median(tau_p)),
                "tau_weighted_median": float(np.median(tau_w)),
                "tau_measured_median": float(np.median(tau_m[good])) if good.any() else float("nan"),
                "n_good_fits": int(good.sum()),
                "measured_over_predicted_median": float(np.median(ratio)) if ratio.size else float("nan"),
                "within_factor_2": float(np.mean((ratio >= 0.5) & (ratio <= 2)) if ratio.size else np.nan),
                "spearman_predicted": _spearman_interval(tau_p, tau_m, r2_m, rel["boot_tau"], rel["boot_r2"]),
                "spearman_weighted": _spearman_interval(tau_w, tau_m, r2_m, rel["boot_tau"], rel["boot_r2"]),
            },
        }
        arrays[d] = {
            "eigenvalues": lam,
            "char_eigenvalues": {
                inputs[1 + int(i)]: r["chars"].eigenvalues[j]
                for j, i in enumerate(r["chars"].table["input"])
                if r["chars"].table["stability"].iloc[j] == "stable"
            }
            if ch
            else {},
            "share": w[top][:, :N_MODES],
            "top": top,
            "tau_modes": tau_modes,
            "tau_predicted": tau_p,
            "tau_weighted": tau_w,
            "tau_measured": tau_m,
            "good": good,
        }
        mask = (analysis["units"]["state"] == "h") & (analysis["units"]["direction"] == d)
        idx = analysis["units"].loc[mask, "index"].to_numpy()
        analysis["units"].loc[mask, "tau_predicted"] = tau_p[idx]
        analysis["units"].loc[mask, "tau_mode"] = pr["mode"].to_numpy()[idx]
        analysis["units"].loc[mask, "tau_weighted"] = tau_w[idx]
    return {"numbers": numbers, "arrays": arrays}


def with_dynamics(analysis: Analysis, dynamics: DynamicsResult) -> Analysis:
    """``analysis`` with the dynamics section added to its numbers and arrays (as ``"dynamics"``)."""
    return {
        "numbers": analysis["numbers"] | {"dynamics": dynamics["numbers"]},
        "arrays": analysis["arrays"] | {"dynamics": dynamics["arrays"]},
        "units": analysis["units"],
    }
