"""The date translator in Keras 3 (the architecture is described in :mod:`examples.dates.models`).

Keras is imported inside the functions, so importing this module does not
import it. :mod:`examples.dates.models` re-exports every name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .vocab import MAX_LEN, OUT_LEN

if TYPE_CHECKING:  # pragma: no cover
    import keras

__all__ = ["ENCODER_UNITS", "DECODER_UNITS", "build_keras", "keras_encoder"]

#: Units per direction of the bidirectional encoder LSTM.
ENCODER_UNITS: int = 256
#: Units of the attention decoder (query RNN, keys, decoder LSTM).
DECODER_UNITS: int = 256


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
