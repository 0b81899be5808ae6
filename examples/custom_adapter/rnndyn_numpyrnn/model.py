"""A tiny Elman RNN in pure NumPy: ``h_t = tanh(W_x x_t + W_h h_{t-1} + b)``, ``h_{-1} = 0``."""

from __future__ import annotations

import os

import numpy as np

__all__ = ["NumpyRNN"]


class NumpyRNN:
    """One recurrent layer of ``n_units`` tanh units reading ``n_inputs`` features.

    Parameters
    ----------
    W_x : array of shape (n_units, n_inputs)
    W_h : array of shape (n_units, n_units)
    b : array of shape (n_units,)
    name : str, default "rnn"
        The layer name rnndyn shows (``layer=`` in :func:`rnndyn.capture`).

    Examples
    --------
    >>> model = NumpyRNN.random(n_inputs=2, n_units=3, seed=0)
    >>> model.forward(np.zeros((4, 5, 2))).shape
    (4, 5, 3)
    """

    def __init__(self, W_x, W_h, b, *, name: str = "rnn") -> None:
        W_x, W_h, b = (np.asarray(a, dtype=np.float64) for a in (W_x, W_h, b))
        n_units = b.shape[0] if b.ndim == 1 else -1
        if b.ndim != 1 or W_h.shape != (n_units, n_units) or W_x.ndim != 2 or W_x.shape[0] != n_units:
            raise ValueError(
                "NumpyRNN needs W_x (n_units, n_inputs), W_h (n_units, n_units) and b "
                f"(n_units,); got {W_x.shape}, {W_h.shape} and {b.shape}."
            )
        self.W_x, self.W_h, self.b, self.name = W_x, W_h, b, str(name)

    @classmethod
    def random(cls, n_inputs: int, n_units: int, *, seed: int = 0, name: str = "rnn") -> NumpyRNN:
        """Random weights scaled so that the dynamics neither explode nor die at once."""
        rng = np.random.default_rng(seed)
        return cls(
            rng.normal(scale=1 / np.sqrt(n_inputs), size=(n_units, n_inputs)),
            rng.normal(scale=0.9 / np.sqrt(n_units), size=(n_units, n_units)),
            rng.normal(scale=0.1, size=n_units),
            name=name,
        )

    @property
    def n_inputs(self) -> int:
        return int(self.W_x.shape[1])

    @property
    def n_units(self) -> int:
        return int(self.b.shape[0])

    def forward(self, x) -> np.ndarray:
        """Hidden states of shape (n, T, n_units) for inputs ``x`` of shape (n, T, n_inputs)."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 3 or x.shape[2] != self.n_inputs:
            raise ValueError(f"NumpyRNN expects inputs of shape (n, T, {self.n_inputs}); got {x.shape}.")
        n, T, _ = x.shape
        h = np.zeros((n, self.n_units))
        out = np.empty((n, T, self.n_units))
        drive = x @ self.W_x.T + self.b  # every input term at once
        for t in range(T):
            h = np.tanh(drive[:, t] + h @ self.W_h.T)
            out[:, t] = h
        return out

    def save(self, path: str | os.PathLike[str]) -> None:
        """Save the weights to an ``.npz`` file (plain arrays, no pickle)."""
        np.savez(path, W_x=self.W_x, W_h=self.W_h, b=self.b, name=np.array(self.name))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> NumpyRNN:
        """Load weights saved by :meth:`save`; never unpickles anything."""
        with np.load(path, allow_pickle=False) as f:
            return cls(f["W_x"], f["W_h"], f["b"], name=str(f["name"]))
