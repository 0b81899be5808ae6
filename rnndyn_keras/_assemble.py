"""Turning what a batch gave (:class:`~rnndyn_keras._graph.Raw`) into Trajectories.

Per target layer and direction: the twin's ``h`` (masked steps held), then the
requested ``c`` and gates from :mod:`rnndyn_keras._gates`, all flipped back to
input order, checked against the mask and the user's lengths, and laid out
along units in the order of the targets.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from rnndyn.adapter import Batch
from rnndyn.errors import RnndynError
from rnndyn.trajectories import Trajectories

from . import _gates
from ._graph import Raw
from ._layers import Target

__all__ = ["part_weights", "np_activation", "check_mask", "layer_states", "assemble"]


def part_weights(target: Target) -> list[dict[str, Any]]:
    import keras

    out = []
    for (_, sub), kind in zip(target.parts, target.kinds, strict=True):
        cell = sub.cell
        w: dict[str, Any] = {"kind": kind}
        if kind in ("LSTM", "GRU"):
            w["kernel"] = keras.ops.convert_to_numpy(cell.kernel)
            w["recurrent_kernel"] = keras.ops.convert_to_numpy(cell.recurrent_kernel)
            w["bias"] = None if cell.bias is None else keras.ops.convert_to_numpy(cell.bias)
            w["activation"] = np_activation(cell.activation)
            w["recurrent_activation"] = np_activation(cell.recurrent_activation)
            w["reset_after"] = bool(getattr(cell, "reset_after", False))
        out.append(w)
    return out


def np_activation(fn: Any) -> Any:
    import keras

    name = None
    for candidate in (
        "tanh",
        "sigmoid",
        "hard_sigmoid",
        "relu",
        "relu6",
        "linear",
        "softsign",
        "softplus",
        "exponential",
        "silu",
    ):
        try:
            if keras.activations.get(candidate) is fn:
                name = candidate
                break
        except ValueError:  # pragma: no cover - older Keras without this name
            continue

    def on_backend(a: np.ndarray) -> np.ndarray:
        return keras.ops.convert_to_numpy(fn(keras.ops.convert_to_tensor(a)))

    return _gates.numpy_activation(name, on_backend)


def check_mask(mask: np.ndarray, name: str) -> np.ndarray:
    n_steps = mask.shape[1]
    lengths = mask.sum(axis=1).astype(np.int64)
    prefix = np.arange(n_steps)[None, :] < lengths[:, None]
    bad = np.flatnonzero(np.any(mask != prefix, axis=1))
    if bad.size:
        i = int(bad[0])
        raise RnndynError(
            f"layer={name!r}: the Keras mask of sequence {i} of this batch is "
            f"{mask[i].astype(int).tolist()}, not real steps followed by padding. rnndyn assumes "
            "right-padding (every masked step after every real one): put the padding at the end "
            "of each sequence (e.g. pad with 0 after the tokens for Embedding(mask_zero=True))."
        )
    return lengths


def _inits(target: Target, raw: Raw) -> list[list[np.ndarray] | None]:
    if raw.init is None:
        return [None] * len(target.parts)
    half = len(raw.init) // len(target.parts)
    return [raw.init[k * half : (k + 1) * half] for k in range(len(target.parts))]


def layer_states(
    target: Target,
    raw: Raw,
    dest: dict[tuple[str, str], np.ndarray],
    weights: list[dict[str, Any]] | None,
    work: dict,
) -> None:
    """Fill ``dest[(direction, state)]`` (arrays (batch, n_steps, units), input order)."""
    for k, ((direction, sub), kind) in enumerate(zip(target.parts, target.kinds, strict=True)):
        rev = bool(sub.go_backwards)

        def flip(a: np.ndarray, rev: bool = rev) -> np.ndarray:
            return a[:, ::-1] if rev else a

        # everything below runs in the direction's processing order
        out = {s: flip(v) for (d, s), v in dest.items() if d == direction}
        h = np.asarray(raw.h[direction], dtype=np.float32)
        valid = None if raw.mask is None else flip(raw.mask)
        init = _inits(target, raw)[k]
        zeros = np.zeros((h.shape[0], h.shape[2]), np.float32)
        h0 = zeros if (init is None or kind == "RNN") else np.asarray(init[0], np.float32)
        h = _gates.hold_masked(h, valid, h0)
        if "h" in out:
            out.pop("h")[...] = h
        if not out:
            continue
        w = weights[k]  # type: ignore[index]
        common = dict(
            h0=h0,
            valid=valid,
            kernel=w["kernel"],
            recurrent_kernel=w["recurrent_kernel"],
            bias=w["bias"],
            activation=w["activation"],
            recurrent_activation=w["recurrent_activation"],
            out=out,
            work=work.setdefault((target.name, direction), {}),
        )
        x = flip(np.asarray(raw.x, dtype=np.float32))
        if kind == "LSTM":
            c0 = zeros if init is None else np.asarray(init[1], np.float32)
            _gates.lstm_states(x, h, c0=c0, **common)
        else:
            _gates.gru_states(x, h, reset_after=w["reset_after"], **common)


def assemble(
    raws: dict[str, Raw],
    plan: dict[str, tuple[Target, list[str]]],
    targets: list[tuple[str, str]],
    weights: dict[str, list[dict[str, Any]]],
    batch: Batch,
    work: dict,
) -> Trajectories:
    """One batch's Trajectories: every target's units, in order, float32."""
    lengths: np.ndarray | None = None
    masked: dict[str, bool] = {}
    steps: dict[str, int] = {}
    for name in plan:
        raw = raws[name]
        steps[name] = int(next(iter(raw.h.values())).shape[1])
        masked[name] = raw.mask is not None
        if raw.mask is not None:
            ln = check_mask(raw.mask, name)
            if lengths is not None and not np.array_equal(ln, lengths):
                raise RnndynError(
                    f"layer={name!r} sees another Keras mask than the other layers captured with "
                    "it; capture these layers in separate calls."
                )
            lengths = ln
    if len(set(steps.values())) > 1:
        raise RnndynError(
            f"layer: the layers asked for run over different numbers of steps {steps}; capture "
            "them in separate calls (one Trajectories has one time axis)."
        )
    if len(set(masked.values())) > 1:
        raise RnndynError(
            f"layer: some layers asked for see a Keras mask and some do not ({masked}); capture "
            "them in separate calls (masked and unmasked recurrences differ in their padding)."
        )
    if batch.lengths is not None:
        given = np.asarray(batch.lengths, dtype=np.int64)
        if lengths is not None and not np.array_equal(given, lengths):
            i = int(np.flatnonzero(given != lengths)[0])
            raise RnndynError(
                f"lengths: sequence {i} of this batch has length {int(given[i])}, but the model's "
                f"Keras mask gives it {int(lengths[i])} real steps. Pass lengths=None to take the "
                "lengths from the mask, or fix the lengths (or the padding) so they agree."
            )
        lengths = given
    # lay the units out first, then let every layer write straight into its columns
    columns: list[tuple[str, str, str, int]] = []
    for name, state in targets:
        target = plan[name][0]
        for direction, _ in target.parts:
            columns.append((name, state, direction, int(raws[name].h[direction].shape[2])))
    first = next(iter(raws[columns[0][0]].h.values()))
    states = np.empty((first.shape[0], first.shape[1], sum(c[3] for c in columns)), np.float32)
    dest: dict[str, dict[tuple[str, str], np.ndarray]] = {name: {} for name in plan}
    copies, start = [], 0
    for name, state, direction, n in columns:
        view = states[:, :, start : start + n]
        if (direction, state) in dest[name]:  # asked for twice: computed once, copied
            copies.append((view, dest[name][(direction, state)]))
        else:
            dest[name][(direction, state)] = view
        start += n
    for name, (target, _) in plan.items():
        layer_states(target, raws[name], dest[name], weights.get(name), work)
    for view, source in copies:
        view[...] = source
    units = pd.DataFrame(
        {
            "layer": [c[0] for c in columns for _ in range(c[3])],
            "state": [c[1] for c in columns for _ in range(c[3])],
            "direction": [c[2] for c in columns for _ in range(c[3])],
            "index": np.concatenate([np.arange(c[3]) for c in columns]),
        }
    )
    return Trajectories(states, lengths=lengths, units=units, masked=any(masked.values()))
