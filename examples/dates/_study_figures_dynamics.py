"""The figures of the study's dynamics part: spectra, modes on the top units, predicted vs measured tau."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _study_plotting as P
from ._study_types import Results

__all__ = ["spectra", "modes", "predicted"]


def spectra(results: Results) -> Any:
    """Eigenvalues of the Jacobian at the padding map's stable fixed point, with the unit circle."""
    fig, axes = P.grid(results, rows=2, width=4.6, height=4.4)
    th = np.linspace(0, 2 * np.pi, 400)
    for j, (fw, res) in enumerate(results.items()):
        for i, which in enumerate(("trained", "untrained")):
            ax = axes[i, j]
            ax.plot(np.cos(th), np.sin(th), "k-", lw=0.8, label="|lambda| = 1")
            for d in ("forward", "backward"):
                a = P.dyn(res, which)[d]
                for k, lam in enumerate(a["char_eigenvalues"].values()):
                    ax.scatter(
                        lam.real,
                        lam.imag,
                        s=3,
                        color="0.75",
                        label="character inputs" if not k and d == "forward" else None,
                    )
                lam = a["eigenvalues"]
                tau = res[which]["numbers"]["dynamics"][d]["pad_point"]["tau_slowest"]
                ax.scatter(
                    lam.real, lam.imag, s=5, color=P.COLORS[d], label=f"{d}, padding (slowest tau {tau:.3g})"
                )
            ax.set_aspect("equal")
            ax.set_xlim(-1.15, 1.15)
            ax.set_ylim(-1.15, 1.15)
            ax.set_xlabel("Re lambda")
            ax.set_ylabel("Im lambda")
            ax.set_title(f"{fw} {which}: Jacobian spectrum at the pad fixed point", fontsize=9)
            ax.legend(fontsize=6, loc="lower left")
    fig.tight_layout()
    return fig


def modes(results: Results) -> Any:
    """Share of the leading modes in the most dynamic units (by area), per direction."""
    fig, axes = P.grid(results, rows=2, width=5.4, height=3.4)
    for j, (fw, res) in enumerate(results.items()):
        for i, d in enumerate(("forward", "backward")):
            ax = axes[i, j]
            a = P.dyn(res)[d]
            im = ax.imshow(
                a["share"], aspect="auto", cmap="viridis", vmin=0, vmax=max(float(a["share"].max()), 1e-12)
            )
            ax.set_yticks(range(len(a["top"])), [f"{d[0]}{u}" for u in a["top"]], fontsize=7)
            ax.set_xticks(
                range(a["share"].shape[1]),
                [f"{k}\n{t:.3g}" for k, t in enumerate(a["tau_modes"])],
                fontsize=6,
            )
            ax.set_xlabel("mode k (slowest first) / its tau", fontsize=8)
            ax.set_ylabel("unit (by area)", fontsize=8)
            ax.set_title(f"{fw}, {d}: share of mode k in unit u", fontsize=9)
            fig.colorbar(im, ax=ax, shrink=0.8)
    fig.tight_layout()
    return fig


def predicted(results: Results) -> Any:
    """Measured relaxation time toward the pad fixed point vs the linearisation's prediction, per unit."""
    fig, axes = P.grid(results, rows=2, width=5.0, height=4.0)
    for j, (fw, res) in enumerate(results.items()):
        for i, d in enumerate(("forward", "backward")):
            ax = axes[i, j]
            for which, marker in (("trained", "o"), ("untrained", "x")):
                a = P.dyn(res, which)[d]
                g = a["good"]
                color = P.COLORS[d] if which == "trained" else "0.5"
                ax.scatter(
                    a["tau_predicted"][g],
                    a["tau_measured"][g],
                    s=8,
                    marker=marker,
                    color=color,
                    label=f"{which}: slowest loaded mode",
                )
                ax.scatter(
                    a["tau_weighted"][g],
                    a["tau_measured"][g],
                    s=5,
                    marker=marker,
                    color=color,
                    alpha=0.3,
                    label=f"{which}: share-weighted",
                )
            ax.plot([0.1, 200], [0.1, 200], "k--", lw=0.8, label="equal")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("predicted tau (steps)")
            ax.set_ylabel("measured tau toward h* (R^2 >= 0.9)")
            ax.set_title(f"{fw}, {d}", fontsize=9)
            ax.legend(fontsize=6)
    fig.tight_layout()
    return fig
