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

import numpy as np

from rnndyn.errors import RnndynError

from . import data as _data
from .data import (
    MAX_LEN,
    OUT_LEN,
    VAL_FILE,
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

#: Units per direction of the bidirectional encoder LSTM.
ENCODER_UNITS: int = 256
#: Units of the attention decoder (query RNN, keys, decoder LSTM).
DECODER_UNITS: int = 256

KERAS_FILE = "keras_model.keras"
TORCH_FILE = "torch_model.safetensors"
INPUT_VOCAB_FILE = "input_vocab.json"
OUTPUT_VOCAB_FILE = "output_vocab.json"
METRICS_FILE = "metrics.json"
VALIDATION_FILE = VAL_FILE

#: Default weights folder (next to this module).
DEFAULT_WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"

_TRAIN_HINT = "retrain with --train, i.e. `python -m examples.dates.train --framework {fw} --out <dir>`"


class WeightsError(RnndynError, RuntimeError):
    """Shipped weights, vocabularies or validation set are missing or unusable.

    An :class:`rnndyn.RnndynError` (so a ``ValueError``) and, as before, a
    ``RuntimeError``. The message names the file, what is wrong and what to
    do (restore the shipped file, or retrain with ``--train``).
    """


# --------------------------------------------------------------------------
# Keras
# --------------------------------------------------------------------------


def build_keras(
    input_vocab_size: int,
    output_vocab_size: int = 11,
    seed: int = 0,
    *,
    max_len: int = MAX_LEN,
    out_len: int = OUT_LEN,
    encoder_units: int = ENCODER_UNITS,
    decoder_units: int = DECODER_UNITS,
) -> keras.Model:
    """Build the (untrained) Keras 3 date translator.

    Works on any Keras backend (tested on ``tensorflow`` and ``torch``).
    Untrained models for null-model comparisons are built the same way with
    another ``seed``.

    Parameters
    ----------
    input_vocab_size : int
        ``len(InputVocab)``; the width of the one-hot input.
    output_vocab_size : int, optional
        ``len(OutputVocab)`` (11).
    seed : int, optional
        Seeds the initial weights (calls ``keras.utils.set_random_seed``,
        which also seeds Python's, numpy's and the backend's global RNGs).
    max_len, out_len : int, optional
        Input steps (50) and output characters (10).
    encoder_units, decoder_units : int, optional
        256 and 256, as in the founding study.

    Returns
    -------
    keras.Model
        Uncompiled; input ``int32 (batch, max_len)``, output softmax
        probabilities ``(batch, out_len, output_vocab_size)``. Layer names:
        ``one_hot``, ``encoder``, ``summary_step``, ``summary``,
        ``repeat``, ``query_rnn``, ``attention_keys``, ``attention``,
        ``decoder_input``, ``decoder``, ``output``.
    """
    import keras
    from keras import layers

    keras.utils.set_random_seed(int(seed))
    v = int(input_vocab_size)
    chars = keras.Input(shape=(max_len,), dtype="int32", name="chars")
    one_hot = layers.Embedding(
        v,
        v,
        embeddings_initializer="identity",
        trainable=False,
        name="one_hot",
    )(chars)
    enc = layers.Bidirectional(
        layers.LSTM(encoder_units, return_sequences=True),
        merge_mode="concat",
        name="encoder",
    )(one_hot)
    step0 = layers.Cropping1D((0, max_len - 1), name="summary_step")(enc)
    step0 = layers.Flatten(name="summary_flat")(step0)
    summary = layers.Dense(decoder_units, activation="tanh", name="summary")(step0)
    rep = layers.RepeatVector(out_len, name="repeat")(summary)
    queries = layers.SimpleRNN(decoder_units, return_sequences=True, name="query_rnn")(rep)
    keys = layers.Dense(decoder_units, use_bias=False, name="attention_keys")(enc)
    context = layers.Attention(score_mode="dot", use_scale=False, name="attention")([queries, enc, keys])
    dec_in = layers.Concatenate(name="decoder_input")([context, queries])
    dec = layers.LSTM(decoder_units, return_sequences=True, name="decoder")(dec_in)
    out = layers.Dense(output_vocab_size, activation="softmax", name="output")(dec)
    return keras.Model(chars, out, name="date_translator")


def keras_encoder(model: keras.Model) -> keras.Model:
    """Sub-model from the integer input to the encoder's ``(batch, 50, 512)``."""
    import keras

    return keras.Model(model.input, model.get_layer("encoder").output, name="encoder_capture")


# --------------------------------------------------------------------------
# PyTorch
# --------------------------------------------------------------------------


def _define_torch_class():
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class DateTranslator(nn.Module):
        """PyTorch twin of :func:`build_keras` (same layers and shapes).

        Parameters
        ----------
        input_vocab_size : int
            ``len(InputVocab)``: width of the frozen one-hot input.
        output_vocab_size : int, optional
            ``len(OutputVocab)`` (11).
        max_len, out_len : int, optional
            50 input steps, 10 output characters.
        encoder_units, decoder_units : int, optional
            256 and 256.

        Attributes
        ----------
        encoder : torch.nn.LSTM
            ``nn.LSTM(input_vocab_size, 256, batch_first=True,
            bidirectional=True)``; its output ``(batch, 50, 512)`` is
            ``[forward | backward]``, like Keras' ``merge_mode="concat"``.
        summary, query_rnn, attention_keys, decoder, output
            The attention decoder (see the module docstring).

        Notes
        -----
        ``forward`` returns **logits** ``(batch, 10, 11)``; apply
        ``softmax(-1)`` for the probabilities the Keras model returns.
        PyTorch's LSTM/RNN carry two bias vectors (``bias_ih`` + ``bias_hh``)
        where Keras has one, and the one-hot has no weights here, so the
        parameter counts differ slightly (2,098,699 here; Keras 2,098,971
        including its 3,600 frozen one-hot weights).
        Initialisation follows Keras' defaults (Glorot-uniform input
        kernels, orthogonal recurrent kernels, zero biases with forget-gate
        bias 1) so untrained twins are comparable null models.
        """

        def __init__(
            self,
            input_vocab_size: int,
            output_vocab_size: int = 11,
            *,
            max_len: int = MAX_LEN,
            out_len: int = OUT_LEN,
            encoder_units: int = ENCODER_UNITS,
            decoder_units: int = DECODER_UNITS,
        ) -> None:
            super().__init__()
            self.input_vocab_size = int(input_vocab_size)
            self.output_vocab_size = int(output_vocab_size)
            self.max_len = int(max_len)
            self.out_len = int(out_len)
            self.encoder = nn.LSTM(self.input_vocab_size, encoder_units, batch_first=True, bidirectional=True)
            self.summary = nn.Linear(2 * encoder_units, decoder_units)
            self.query_rnn = nn.RNN(decoder_units, decoder_units, batch_first=True)
            self.attention_keys = nn.Linear(2 * encoder_units, decoder_units, bias=False)
            self.decoder = nn.LSTM(2 * encoder_units + decoder_units, decoder_units, batch_first=True)
            self.output = nn.Linear(decoder_units, self.output_vocab_size)
            self.reset_parameters()

        def reset_parameters(self) -> None:
            """Keras-style initialisation (uses torch's global RNG)."""
            for rnn in (self.encoder, self.query_rnn, self.decoder):
                h = rnn.hidden_size
                gates = 4 if isinstance(rnn, nn.LSTM) else 1
                for name, p in rnn.named_parameters():
                    if name.startswith("weight_ih"):
                        # Keras' kernel is one (in, gates*h) Glorot-uniform matrix.
                        nn.init.xavier_uniform_(p)
                    elif name.startswith("weight_hh"):
                        for k in range(gates):
                            nn.init.orthogonal_(p.data[k * h : (k + 1) * h])
                    elif name.startswith("bias"):
                        nn.init.zeros_(p)
                        if gates == 4 and name.startswith("bias_ih"):
                            p.data[h : 2 * h] = 1.0  # forget gate (order i, f, g, o)
            for lin in (self.summary, self.attention_keys, self.output):
                nn.init.xavier_uniform_(lin.weight)
                if lin.bias is not None:
                    nn.init.zeros_(lin.bias)

        def one_hot(self, chars: torch.Tensor) -> torch.Tensor:
            """Frozen one-hot input ``(batch, steps, V)`` in float32."""
            return F.one_hot(chars.long(), self.input_vocab_size).to(torch.float32)

        def encode(self, chars: torch.Tensor) -> torch.Tensor:
            """Encoder outputs ``(batch, steps, 512)`` for integer input."""
            out, _ = self.encoder(self.one_hot(chars))
            return out

        def forward(self, chars: torch.Tensor) -> torch.Tensor:
            """Logits ``(batch, out_len, output_vocab_size)``."""
            enc = self.encode(chars)
            summary = torch.tanh(self.summary(enc[:, 0, :]))
            rep = summary.unsqueeze(1).expand(-1, self.out_len, -1)
            queries, _ = self.query_rnn(rep)
            keys = self.attention_keys(enc)
            weights = torch.softmax(queries @ keys.transpose(1, 2), dim=-1)
            context = weights @ enc
            dec, _ = self.decoder(torch.cat([context, queries], dim=-1))
            return self.output(dec)

    DateTranslator.__module__ = __name__
    DateTranslator.__qualname__ = "DateTranslator"
    return DateTranslator


_TORCH_CLASS = None


def __getattr__(name: str) -> Any:
    # Lazy so that importing this module does not import torch.
    global _TORCH_CLASS
    if name == "DateTranslator":
        if _TORCH_CLASS is None:
            _TORCH_CLASS = _define_torch_class()
        return _TORCH_CLASS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def build_torch(
    input_vocab_size: int,
    output_vocab_size: int = 11,
    seed: int = 0,
    **kwargs: int,
) -> torch.nn.Module:
    """Build the (untrained) PyTorch :class:`DateTranslator`.

    Parameters
    ----------
    input_vocab_size, output_vocab_size : int
        Vocabulary sizes (60 and 11 for the shipped model).
    seed : int, optional
        Seeds the initial weights (with a private ``torch.Generator``
        context: ``torch.random.fork_rng``), so the global RNG is untouched.
    **kwargs
        ``max_len``, ``out_len``, ``encoder_units``, ``decoder_units``.

    Returns
    -------
    DateTranslator
        In eval mode, float32, on the CPU.
    """
    import torch

    cls = __getattr__("DateTranslator")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        model = cls(input_vocab_size, output_vocab_size, **kwargs)
    return model.eval()


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


def _sniff(path: Path) -> str:
    """What a weights file seems to be, from its first bytes (never loaded)."""
    with open(path, "rb") as fh:
        head = fh.read(16)
    if not head:
        return "an empty file"
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return "a Python pickle (never unpickled: it could run code)"
    if head.startswith(b"PK\x03\x04"):
        return "a zip archive (e.g. torch.save or a .keras file)"
    if head.startswith(b"\x89HDF"):
        return "an HDF5 file"
    if len(head) > 8 and head[8:9] == b"{":
        return "a safetensors file"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return "binary data"
    return "binary data" if "\x00" in text else "a text file"


def _weights_file(d: Path, name: str, fw: str) -> Path:
    path = d / name
    if not path.exists():
        raise WeightsError(f"{fw} weights missing: {path}; " + _TRAIN_HINT.format(fw=fw))
    if not path.is_file():
        raise WeightsError(
            f"{path}: expected the {fw} weights file, got a folder; remove it and restore the shipped "
            "file, or " + _TRAIN_HINT.format(fw=fw)
        )
    return path


def _fix(fw: str) -> str:
    name = KERAS_FILE if fw == "keras" else TORCH_FILE
    return f"restore the shipped examples/dates/weights/{name} (git checkout) or " + _TRAIN_HINT.format(fw=fw)


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


_FLOAT_DTYPES = ("F16", "BF16", "F32", "F64")


def _check_safetensors(path: Path, expected: dict[str, tuple[int, ...]]) -> None:
    """Check names, shapes and dtypes from the safetensors header (nothing is unpickled)."""
    from safetensors import SafetensorError, safe_open

    what = _sniff(path)
    if what in ("an empty file",) or what.startswith(("a Python pickle", "a zip", "an HDF5")):
        raise WeightsError(f"{path}: expected a safetensors file, got {what}; " + _fix("torch"))
    try:
        with safe_open(str(path), framework="numpy") as f:
            got = {k: (tuple(f.get_slice(k).get_shape()), f.get_slice(k).get_dtype()) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as e:
        raise WeightsError(
            f"{path}: corrupted or not a safetensors file (it looks like {what}; {e}); " + _fix("torch")
        ) from None
    missing = sorted(set(expected) - set(got))
    extra = sorted(set(got) - set(expected))
    if missing or extra:
        raise WeightsError(
            f"{path}: the tensor names are not the date translator's (missing {missing[:4]}, "
            f"unexpected {extra[:4]}); " + _fix("torch")
        )
    for name, shape in expected.items():
        if got[name][0] != shape:
            raise WeightsError(
                f"{path}: tensor {name!r} has shape {got[name][0]}, expected {shape}; " + _fix("torch")
            )
        if got[name][1] not in _FLOAT_DTYPES:
            raise WeightsError(
                f"{path}: tensor {name!r} has dtype {got[name][1]}, expected floating point (F32); "
                + _fix("torch")
            )


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


def _vocabs_for(model, input_vocab, output_vocab) -> tuple[InputVocab, OutputVocab]:
    iv = input_vocab or getattr(model, "input_vocab", None)
    ov = output_vocab or getattr(model, "output_vocab", None) or OutputVocab()
    if iv is None:
        iv, _ = load_vocabs(None)
    return iv, ov


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
