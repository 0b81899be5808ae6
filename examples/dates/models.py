"""The founding date-translation architecture, in Keras 3 and in PyTorch.

Architecture (both frameworks, same shapes and parameter count)
---------------------------------------------------------------
::

    chars   int (batch, 50)            real characters first, <pad>=0 at the end
    one_hot (batch, 50, V)             frozen identity embedding, V = len(InputVocab) (60)
    encoder (batch, 50, 512)           Bidirectional LSTM 256, merge "concat":
                                       [..., :256] forward, [..., 256:] backward
    summary (batch, 256)               tanh(Dense(encoder[:, 0, :]))  (step 0 holds the
                                       backward LSTM's state after reading the whole input)
    queries (batch, 10, 256)           SimpleRNN 256 (tanh) over the summary repeated 10 times
    keys    (batch, 50, 256)           Dense(encoder), no bias
    context (batch, 10, 512)           dot-product attention: softmax_t(queries . keys_t)
                                       weights the 512-dim encoder outputs
    decoder (batch, 10, 256)           LSTM 256 over [context | queries] (768 per step)
    output  (batch, 10, 11)            Dense + softmax over ``0123456789-``

The decoder is **non-autoregressive**: it never sees its own previous output
characters. Output position ``k`` gets its own attention query from the query
RNN (which counts positions), and the decoder LSTM, which reads the attention
context together with the query, carries information between output
positions. (Feeding the query to the decoder matters: with the context alone
the summary reaches the output only through the attention weights, and
training stalls at uniform attention.) This is leaner and much faster to train than the
original autoregressive attention decoder, and only built-in layers are
needed (no Lambda, no custom layer), so a saved ``.keras`` file loads with
``keras.saving.load_model(path, safe_mode=True)``.

The encoder does **not** mask padding: like the original model, it reads the
``<pad>`` steps, so the padding dynamics the study analyses are present. The
attention is not masked either (the model learns to ignore pad positions).
~2.1 M parameters (8.4 MB in float32) per framework.

Capturing the encoder
---------------------
* Keras: ``keras.Model(model.inputs, model.get_layer("encoder").output)``
  maps ``(batch, 50)`` ints to ``(batch, 50, 512)``; its input layer
  ``model.get_layer("one_hot")`` is a frozen identity ``Embedding``.
* PyTorch: ``model.encoder`` is a standard ``nn.LSTM(V, 256,
  batch_first=True, bidirectional=True)`` fed by ``model.one_hot(x)``;
  ``model.encode(x)`` returns its ``(batch, 50, 512)`` output.

Weights on disk (``examples/dates/weights``)
--------------------------------------------
``keras_model.keras`` (full model, no optimizer state), ``torch_model.safetensors``,
``input_vocab.json``, ``output_vocab.json``, ``metrics.json``,
``validation.json`` (the 1,000 held-out validation records, read with
:func:`load_validation` and checked against ``data.VAL_SHA256``). Produced by
``python -m examples.dates.train --framework both``. Every loader checks its
file before use and raises :class:`WeightsError` naming the file, what is
wrong and what to do; nothing is ever unpickled.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rnndyn.errors import RnndynError

from . import _models_torch
from . import data as _data
from ._files import (
    INPUT_VOCAB_FILE,
    KERAS_FILE,
    METRICS_FILE,
    OUTPUT_VOCAB_FILE,
    TORCH_FILE,
    VALIDATION_FILE,
    WeightsError,
    _fix,
    _weights_file,
)
from ._models_keras import DECODER_UNITS, ENCODER_UNITS, build_keras, keras_encoder
from ._models_torch import _check_safetensors, build_torch
from ._predict import _is_torch_module, predict_indices
from .data import (
    DateRecord,
    InputVocab,
    OutputVocab,
    decode_outputs,
    encode_inputs,
)

if TYPE_CHECKING:  # pragma: no cover
    import keras
    import torch

__all__ = [
    "ENCODER_UNITS",
    "DECODER_UNITS",
    "KERAS_FILE",
    "TORCH_FILE",
    "INPUT_VOCAB_FILE",
    "OUTPUT_VOCAB_FILE",
    "METRICS_FILE",
    "VALIDATION_FILE",
    "WeightsError",
    "build_keras",
    "build_torch",
    "DateTranslator",  # noqa: F822 - defined lazily (module __getattr__) to keep torch optional
    "load_vocabs",
    "load_validation",
    "load_keras",
    "load_torch",
    "translate",
    "translate_keras",
    "translate_torch",
    "predict_indices",
    "keras_encoder",
]

#: Default weights folder (next to this module).
DEFAULT_WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


def __getattr__(name: str) -> Any:
    # Lazy so that importing this module does not import torch.
    if name == "DateTranslator":
        return _models_torch.DateTranslator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------


def _weights_dir(weights_dir: str | os.PathLike | None) -> Path:
    return Path(weights_dir) if weights_dir is not None else DEFAULT_WEIGHTS_DIR


def load_vocabs(weights_dir: str | os.PathLike | None = None) -> tuple[InputVocab, OutputVocab]:
    """Load ``input_vocab.json`` and ``output_vocab.json``.

    Raises
    ------
    WeightsError
        If a file is missing, a folder, empty, not JSON or not a vocabulary
        (wrong ``kind``, duplicated symbols, no ``<pad>``...), naming the file.

    Examples
    --------
    >>> iv, ov = load_vocabs()
    >>> len(iv), "".join(ov.tokens)
    (60, '0123456789-')
    """
    d = _weights_dir(weights_dir)
    try:
        return InputVocab.load(d / INPUT_VOCAB_FILE), OutputVocab.load(d / OUTPUT_VOCAB_FILE)
    except RnndynError as e:
        raise WeightsError(f"vocabulary: {e}") from None


def load_validation(weights_dir: str | os.PathLike | None = None) -> list[DateRecord]:
    """The shipped held-out validation records (``validation.json``), checked by hash.

    The study's accuracies and figures are computed on these records, so they
    do not depend on the installed Babel (see :mod:`examples.dates.data`).
    Every copy must hold the same records (their sha256 is
    ``data.VAL_SHA256``), so a weights folder without ``validation.json``
    (e.g. one trained before the file was shipped) uses the shipped file.

    Parameters
    ----------
    weights_dir : path, optional
        Folder with ``validation.json`` (default: the shipped
        ``examples/dates/weights``; also used when the folder has none).

    Returns
    -------
    list of DateRecord
        1,000 records (``human``, ``iso``, ``locale``, ``format``, ``case``).

    Raises
    ------
    WeightsError
        If the file is missing, damaged, of the wrong layout or edited (its
        records' sha256 is not ``data.VAL_SHA256``), naming the file.

    Examples
    --------
    >>> val = load_validation()
    >>> len(val), len(val[0].iso)
    (1000, 10)
    """
    path = _weights_dir(weights_dir) / VALIDATION_FILE
    if not os.path.lexists(path):
        path = DEFAULT_WEIGHTS_DIR / VALIDATION_FILE
    try:
        return _data.load_validation(path)
    except RnndynError as e:
        raise WeightsError(f"validation set: {e}") from None


def load_keras(weights_dir: str | os.PathLike | None = None) -> keras.Model:
    """Load the trained Keras model safely.

    The archive is inspected first (:func:`rnndyn_keras.plugin.check_keras_archive`:
    a zip with ``config.json``, ``metadata.json`` and an HDF5
    ``model.weights.h5``, built-in layers only, no ``Lambda``), then loaded
    with ``keras.saving.load_model(path, safe_mode=True, compile=False)``, so
    no code from the file is run. The vocabularies are attached as
    ``model.input_vocab`` and ``model.output_vocab`` (used by :func:`translate`).

    Parameters
    ----------
    weights_dir : path, optional
        Folder with ``keras_model.keras`` and the vocabularies (default: the
        shipped ``examples/dates/weights``).

    Raises
    ------
    WeightsError
        If a file is missing or cannot be loaded; the message names the file
        and says how to recreate it (``--train``).
    """
    from rnndyn_keras.plugin import load_keras_file

    d = _weights_dir(weights_dir)
    in_vocab, out_vocab = load_vocabs(d)
    path = _weights_file(d, KERAS_FILE, "keras")
    try:
        model = load_keras_file(path, compile=False)
    except RnndynError as e:
        raise WeightsError(f"Keras weights: {e} For the date translator, {_fix('keras')}") from None
    try:
        n_in = int(model.get_layer("one_hot").input_dim)
        n_out = int(model.output_shape[-1])
    except Exception as e:  # noqa: BLE001
        raise WeightsError(
            f"{path} is a Keras model but not the date translator ({type(e).__name__}: {e}); " + _fix("keras")
        ) from None
    if (n_in, n_out) != (len(in_vocab), len(out_vocab)):
        raise WeightsError(
            f"{path} expects {n_in} input / {n_out} output symbols but the vocabularies have "
            f"{len(in_vocab)} / {len(out_vocab)}; " + _fix("keras")
        )
    model.input_vocab = in_vocab
    model.output_vocab = out_vocab
    return model


def load_torch(weights_dir: str | os.PathLike | None = None, device: str = "cpu") -> torch.nn.Module:
    """Load the trained PyTorch model safely (safetensors, no pickle).

    The safetensors header is checked first (tensor names, shapes and
    floating dtypes of :class:`DateTranslator`); pickles and ``torch.save``
    archives are refused without being loaded.

    Parameters
    ----------
    weights_dir : path, optional
        Folder with ``torch_model.safetensors`` and the vocabularies
        (default: the shipped ``examples/dates/weights``).
    device : str, optional
        Where to put the model (default ``"cpu"``).

    Returns
    -------
    DateTranslator
        In eval mode, float32, with ``input_vocab`` and ``output_vocab``
        attributes (used by :func:`translate`).

    Raises
    ------
    WeightsError
        If a file is missing, corrupted or does not match the architecture;
        the message names the file and says how to recreate it (``--train``).
    """
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    d = _weights_dir(weights_dir)
    in_vocab, out_vocab = load_vocabs(d)
    path = _weights_file(d, TORCH_FILE, "torch")
    model = build_torch(len(in_vocab), len(out_vocab), seed=0)
    _check_safetensors(path, {k: tuple(v.shape) for k, v in model.state_dict().items()})
    try:
        state = load_file(str(path))
        state = {k: v.to(torch.float32) for k, v in state.items()}
        model.load_state_dict(state, strict=True)
    except (SafetensorError, OSError, RuntimeError, ValueError) as e:
        raise WeightsError(
            f"PyTorch weights {path} are corrupted or do not match the architecture "
            f"({type(e).__name__}: {e}); " + _fix("torch")
        ) from None
    bad = [k for k, v in state.items() if not bool(torch.isfinite(v).all())]
    if bad:
        raise WeightsError(f"{path}: tensor {bad[0]!r} holds NaN or infinite values; " + _fix("torch"))
    model = model.to(device).eval()
    model.input_vocab = in_vocab
    model.output_vocab = out_vocab
    return model


# --------------------------------------------------------------------------
# Inference
# --------------------------------------------------------------------------


def _vocabs_for(model, input_vocab, output_vocab) -> tuple[InputVocab, OutputVocab]:
    iv = input_vocab or getattr(model, "input_vocab", None)
    ov = output_vocab or getattr(model, "output_vocab", None) or OutputVocab()
    if iv is None:
        iv, _ = load_vocabs(None)
    return iv, ov


def translate(
    model: Any,
    strings: Sequence[str],
    input_vocab: InputVocab | None = None,
    output_vocab: OutputVocab | None = None,
    batch_size: int = 256,
) -> list[str]:
    """Translate human-written dates to ``YYYY-MM-DD`` with either framework.

    Parameters
    ----------
    model : keras.Model or DateTranslator
        From :func:`load_keras`/:func:`load_torch` (vocabularies attached),
        or a factory model (then pass the vocabularies, or the shipped ones
        are used).
    strings : sequence of str
        At most 50 characters each (``ValueError`` otherwise).
    input_vocab, output_vocab : optional
        Override the model's vocabularies.
    batch_size : int, optional

    Returns
    -------
    list of str
        One 10-character prediction per input (greedy argmax per position).
    """
    if isinstance(strings, str):
        raise TypeError("translate expects a sequence of strings, not a str")
    iv, ov = _vocabs_for(model, input_vocab, output_vocab)
    x = encode_inputs(list(strings), iv)
    return decode_outputs(predict_indices(model, x, batch_size), ov)


def translate_keras(model: keras.Model, strings: Sequence[str], **kwargs: Any) -> list[str]:
    """:func:`translate` for a Keras model."""
    if _is_torch_module(model):
        raise TypeError("translate_keras got a torch module; use translate_torch")
    return translate(model, strings, **kwargs)


def translate_torch(model: torch.nn.Module, strings: Sequence[str], **kwargs: Any) -> list[str]:
    """:func:`translate` for a PyTorch :class:`DateTranslator`."""
    if not _is_torch_module(model):
        raise TypeError("translate_torch expects a torch.nn.Module")
    return translate(model, strings, **kwargs)
