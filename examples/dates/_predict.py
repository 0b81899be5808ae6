"""Model outputs for encoded inputs, whichever the framework.

:func:`predict_indices` runs a Keras model or a PyTorch module in batches;
:func:`_is_keras_model` and :func:`_is_torch_module` tell the two apart (a
Keras model on the torch backend is also a ``torch.nn.Module``). The
frameworks are imported only when a model of theirs is run.
:mod:`examples.dates.models` re-exports :func:`predict_indices`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .vocab import OUT_LEN

__all__ = ["predict_indices"]


def _is_keras_model(model: Any) -> bool:
    # Checked first: on KERAS_BACKEND=torch a Keras model is also a torch.nn.Module.
    return any(c.__module__.split(".")[0] == "keras" for c in type(model).__mro__)


def _is_torch_module(model: Any) -> bool:
    """A plain PyTorch module (not a Keras model on the torch backend)."""
    if _is_keras_model(model):
        return False
    try:
        import torch.nn as nn
    except ImportError:  # pragma: no cover
        return False
    return isinstance(model, nn.Module)


def predict_indices(
    model: Any,
    x: np.ndarray,
    batch_size: int = 256,
) -> np.ndarray:
    """Output probabilities ``(n, 10, 11)`` for encoded inputs, either framework."""
    x = np.asarray(x)
    if _is_torch_module(model):
        import torch

        p = next(model.parameters())
        outs = []
        with torch.inference_mode():
            for i in range(0, len(x), batch_size):
                xb = torch.from_numpy(x[i : i + batch_size].astype(np.int64)).to(p.device)
                outs.append(torch.softmax(model(xb), -1).float().cpu().numpy())
        return np.concatenate(outs) if outs else np.zeros((0, OUT_LEN, 11), np.float32)
    import keras

    outs = []
    for i in range(0, len(x), batch_size):
        y = model(x[i : i + batch_size].astype(np.int32), training=False)
        outs.append(keras.ops.convert_to_numpy(y))
    return np.concatenate(outs) if outs else np.zeros((0, OUT_LEN, 11), np.float32)
