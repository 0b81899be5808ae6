"""The date translator in PyTorch: the :class:`DateTranslator` twin of the Keras model.

PyTorch is imported lazily (the class is defined on first access, through
the module ``__getattr__``), so importing this module does not import it.
:func:`_check_safetensors` checks a weights file's header before anything is
loaded. :mod:`examples.dates.models` re-exports the public names.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._files import WeightsError, _fix, _sniff
from ._models_keras import DECODER_UNITS, ENCODER_UNITS
from .vocab import MAX_LEN, OUT_LEN

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = [
    "build_torch",
    "DateTranslator",  # noqa: F822 - defined lazily (module __getattr__) to keep torch optional
]

#: Module that presents :class:`DateTranslator` (its ``__module__``), the public face.
_PUBLIC_MODULE = __name__.rpartition(".")[0] + ".models"


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

    DateTranslator.__module__ = _PUBLIC_MODULE
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
