"""rnndyn-numpyrnn: an rnndyn adapter plugin for a tiny pure-NumPy Elman RNN."""

from __future__ import annotations

from .model import NumpyRNN

__all__ = ["NumpyRNN"]
__version__ = "0.1.0"
