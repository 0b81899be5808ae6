"""The rnndyn plugin for NumpyRNN: claim the model, load ``.npz`` files, add a metric.

Found by rnndyn through the entry point ``numpyrnn = "rnndyn_numpyrnn.plugin"``
in the group ``rnndyn`` (see ``pyproject.toml``).
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd

from rnndyn import RnndynError, Trajectories
from rnndyn.adapter import Batch, LayerInfo, units_table
from rnndyn.hookspecs import hookimpl

from .model import NumpyRNN

FRAMEWORK = "numpyrnn"
WEIGHTS = {"W_x", "W_h", "b", "name"}


class NumpyRNNAdapter:
    """Captures ``h`` (the output) and ``z`` (the pre-activation) of a NumpyRNN."""

    framework = FRAMEWORK

    def __init__(self, model: NumpyRNN) -> None:
        self.model = model

    def layers(self) -> list[LayerInfo]:
        m = self.model
        return [LayerInfo(m.name, "NumpyRNN", ("h", "z"), ("forward",), m.n_units)]

    def capture(
        self, batches: Iterable[Batch], targets: Sequence[tuple[str, str]], *, device: Any = None
    ) -> Iterator[Trajectories]:
        if device is not None:
            raise RnndynError(f"The numpyrnn adapter runs on the CPU only; got device={device!r}.")
        m = self.model
        units = pd.concat(
            [units_table(layer, state, ("forward",), m.n_units) for layer, state in targets],
            ignore_index=True,
        )
        for batch in batches:
            x = np.asarray(batch.data, dtype=np.float64)
            h = m.forward(x)  # the model's own forward pass
            found = {"h": h}
            if any(state == "z" for _, state in targets):
                # with every h_{t-1} known, all pre-activations are one batched matmul
                h_prev = np.concatenate([np.zeros_like(h[:, :1]), h[:, :-1]], axis=1)
                found["z"] = x @ m.W_x.T + h_prev @ m.W_h.T + m.b
            states = np.concatenate([found[state] for _, state in targets], axis=2)
            yield Trajectories(states, batch.lengths, units)


@hookimpl
def rnndyn_claim_model(model: Any) -> NumpyRNNAdapter | None:
    if isinstance(model, NumpyRNN):
        return NumpyRNNAdapter(model)
    return None


@hookimpl
def rnndyn_load_model(path: str, framework: str | None) -> NumpyRNN | None:
    """Load a NumpyRNN saved with NumpyRNN.save (.npz of plain arrays, no pickle)."""
    if framework not in (None, FRAMEWORK) or not path.endswith(".npz"):
        return None
    if framework is None:  # only claim files that hold our weights
        try:
            with np.load(path, allow_pickle=False) as f:
                if not WEIGHTS <= set(f.files):
                    return None
        except (OSError, ValueError, zipfile.BadZipFile):
            return None
    return NumpyRNN.load(path)


def mean_abs_state(traj: Trajectories) -> np.ndarray:
    """Mean ``|state|`` of each unit over the real input steps, shape (n_units,)."""
    x = np.abs(np.asarray(traj.to_numpy().states, dtype=np.float64))
    mask = traj.mask[:, :, None]
    count = mask.sum()
    if count == 0:
        return np.full(traj.n_units, np.nan)
    return (x * mask).sum(axis=(0, 1)) / count


@hookimpl
def rnndyn_register_metrics(register: Any) -> None:
    register("mean_abs_state", mean_abs_state)
