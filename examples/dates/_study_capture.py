"""Loading the date translators and capturing their encoders for the study.

Frameworks are imported only here, lazily, so ``python -m examples.dates
--help`` and argument errors stay instant.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

import rnndyn

from . import data as D
from . import models as M

__all__ = [
    "FRAMEWORKS",
    "quiet_frameworks",
    "check_weights",
    "validation_records",
    "load",
    "untrained",
    "capture_encoder",
    "torch_encoder",
    "encoder_model",
    "accuracy",
]

FRAMEWORKS = ("keras", "torch")


def quiet_frameworks() -> None:
    """Import Keras with TensorFlow's start-up chatter on stderr silenced (it is not an error).

    TensorFlow's C++ logging writes to file descriptor 2 at import, whatever
    ``TF_CPP_MIN_LOG_LEVEL`` says; it is pointed at ``/dev/null`` meanwhile.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "keras" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            try:
                import keras  # noqa: F401
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)


def check_weights(weights_dir: Path, frameworks: Sequence[str]) -> None:
    """Fail fast, before importing a framework, when a file of the weights folder is missing or damaged.

    Checks the vocabularies and the validation set (``validation.json``, by
    hash) fully, and that each framework's weights file exists (its content
    is checked when it is loaded).

    Raises
    ------
    examples.dates.models.WeightsError
    """
    M.load_vocabs(weights_dir)
    M.load_validation(weights_dir)
    files = {"keras": M.KERAS_FILE, "torch": M.TORCH_FILE}
    for fw in frameworks:
        path = weights_dir / files[fw]
        if not path.is_file():
            raise M.WeightsError(
                f"{fw} weights missing: {path}; pass --train to train them, or run "
                f"`python -m examples.dates.train --framework {fw}`"
            )


def validation_records(n: int, weights_dir: Path) -> list[D.DateRecord]:
    """The first ``n`` held-out validation records: the shipped ones, read from ``weights_dir``.

    The first :data:`~examples.dates.data.VAL_N` (1,000) come from
    ``validation.json`` (checked by hash, see
    :func:`examples.dates.models.load_validation`), so the study's numbers do
    not depend on the installed Babel. A larger ``n`` continues the same
    seeded stream (``data.generate_records(n, data.VAL_SEED)[1000:]``); those
    extra strings are generated and so depend on the installed Babel.

    Raises
    ------
    examples.dates.models.WeightsError
        If ``validation.json`` is missing or damaged.
    """
    shipped = M.load_validation(weights_dir)
    if n <= len(shipped):
        return shipped[:n]
    return shipped + D.generate_records(n, D.VAL_SEED)[len(shipped) :]


def load(framework: str, weights_dir: Path) -> Any:
    """The trained model with its vocabularies attached (``input_vocab``, ``output_vocab``)."""
    if framework == "keras":
        quiet_frameworks()
        return M.load_keras(weights_dir)
    return M.load_torch(weights_dir)


def untrained(framework: str, input_vocab: D.InputVocab, output_vocab: D.OutputVocab, seed: int) -> Any:
    """The same architecture from the same factory, untrained, with a fixed seed (the null model)."""
    if framework == "keras":
        quiet_frameworks()
        model = M.build_keras(len(input_vocab), len(output_vocab), seed=seed)
    else:
        model = M.build_torch(len(input_vocab), len(output_vocab), seed=seed)
    model.input_vocab, model.output_vocab = input_vocab, output_vocab
    return model


def _torch_encoder(model: Any) -> Any:
    """A module that runs only the one-hot input and the encoder (its layer keeps the name ``encoder``)."""
    import torch

    class EncoderOnly(torch.nn.Module):
        def __init__(self, full: Any) -> None:
            super().__init__()
            self.encoder = full.encoder
            self._one_hot = full.one_hot

        def forward(self, chars: torch.Tensor) -> torch.Tensor:
            return self.encoder(self._one_hot(chars))[0]

    return EncoderOnly(model).eval()


def torch_encoder(weights_dir: str | None = None) -> Any:
    """The shipped PyTorch translator's encoder alone, loaded from ``weights_dir``.

    A zero-argument factory once bound (``functools.partial(torch_encoder, path)``):
    what :func:`rnndyn.distributed.accumulate` builds on each Dask worker.
    """
    return _torch_encoder(M.load_torch(weights_dir))


def encoder_model(framework: str, model: Any) -> Any:
    """The sub-model from the characters to the encoder outputs (the decoder is not run).

    Like the founding notebook's sub-model: Keras ``keras.Model(inputs,
    encoder.output)``; PyTorch the one-hot input and ``model.encoder``.
    """
    return M.keras_encoder(model) if framework == "keras" else _torch_encoder(model)


def capture_encoder(
    framework: str,
    model: Any,
    strings: Sequence[str],
    *,
    states: Sequence[str] = ("h", "c"),
    batch_size: int = 500,
    progress: bool = False,
) -> tuple[rnndyn.Trajectories, float]:
    """Capture ``states`` of the layer ``encoder`` for ``strings``; returns the trajectories and seconds.

    The result keeps the strings as ``inputs`` and their lengths (number of
    characters; the rest of the 50 steps is padding).
    """
    x = D.encode_inputs(list(strings), model.input_vocab)
    lengths = D.input_lengths(list(strings))
    enc = encoder_model(framework, model)
    t0 = time.perf_counter()
    traj = rnndyn.capture(
        enc, x, layer="encoder", state=list(states), lengths=lengths, batch_size=batch_size, progress=progress
    )
    seconds = time.perf_counter() - t0
    traj = rnndyn.Trajectories(
        traj.states, traj.lengths, traj.units, list(strings), masked=traj.masked, order=traj.order
    )
    return traj, seconds


def accuracy(model: Any, strings: Sequence[str], targets: Sequence[str]) -> tuple[float, list[str]]:
    """Exact-match accuracy of :func:`examples.dates.models.translate` and its outputs."""
    out = M.translate(model, list(strings), batch_size=1000)
    ok = np.array([a == b for a, b in zip(out, targets, strict=True)])
    return float(ok.mean()) if ok.size else float("nan"), out
