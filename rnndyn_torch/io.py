"""Saving and loading recurrent modules safely (safetensors, no pickle).

A pickled PyTorch model (``torch.save(model)``) can run any code when it is
loaded, and ``torch.load(..., weights_only=True)`` returns tensors only, not a
model. A TorchScript or ``torch.export`` program is not capturable either: its
recurrent modules are compiled into graph operations that forward hooks
cannot see. What this module saves and loads instead is one ``nn.LSTM``,
``nn.GRU`` or ``nn.RNN``: its weights in a safetensors file and its
constructor arguments, as JSON, in the file's metadata. That is enough for the
command line and distributed workers to rebuild the module without running
code from the file. Models with custom code are rebuilt by their own code and
passed to :func:`rnndyn.capture` directly; :func:`load_weights` loads a
safetensors state dict into such a model strictly (the command line's
``MODULE:FACTORY --weights``).
"""

from __future__ import annotations

import json
import os
import struct
from typing import TYPE_CHECKING, Any

from rnndyn._sniff import PICKLE, describe_file
from rnndyn.errors import RnndynError

if TYPE_CHECKING:
    from torch import nn

__all__ = ["save_rnn", "load_rnn", "load_model", "load_weights", "FORMAT"]

FORMAT = "rnndyn-torch-rnn/1"
_KEYS = {
    "LSTM": (
        "input_size",
        "hidden_size",
        "num_layers",
        "bias",
        "batch_first",
        "dropout",
        "bidirectional",
        "proj_size",
    ),
    "GRU": ("input_size", "hidden_size", "num_layers", "bias", "batch_first", "dropout", "bidirectional"),
    "RNN": (
        "input_size",
        "hidden_size",
        "num_layers",
        "bias",
        "batch_first",
        "dropout",
        "bidirectional",
        "nonlinearity",
    ),
}


def save_rnn(module: nn.Module, path: str | os.PathLike) -> None:
    """Save an ``nn.LSTM``/``nn.GRU``/``nn.RNN`` as safetensors (weights + config).

    Examples
    --------
    >>> import tempfile, os, torch
    >>> lstm = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    >>> path = os.path.join(tempfile.mkdtemp(), "lstm.safetensors")
    >>> save_rnn(lstm, path)
    >>> back = load_rnn(path)
    >>> all(torch.equal(a, b) for a, b in zip(lstm.state_dict().values(),
    ...                                        back.state_dict().values()))
    True
    """
    from safetensors.torch import save_file
    from torch import nn

    kind = next((k for k, c in _classes(nn).items() if type(module) is c), None)
    if kind is None:
        raise RnndynError(
            f"save_rnn() saves an nn.LSTM, nn.GRU or nn.RNN; got {type(module).__name__}. "
            "Save a larger model's weights with safetensors and rebuild it from its code."
        )
    config = {k: getattr(module, k) for k in _KEYS[kind]}
    tensors = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    meta = {"format": FORMAT, "class": kind, "config": json.dumps(config)}
    save_file(tensors, os.fspath(path), metadata=meta)


def _classes(nn: Any) -> dict[str, type]:
    return {"LSTM": nn.LSTM, "GRU": nn.GRU, "RNN": nn.RNN}


def _header(path: str) -> dict | None:
    """The JSON header of a safetensors file, or None if it is not one (no torch needed)."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(8)
            if len(raw) != 8:
                return None
            (n,) = struct.unpack("<Q", raw)
            if n > 100_000_000:
                return None
            header = json.loads(fh.read(n))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return header if isinstance(header, dict) else None


def load_rnn(path: str | os.PathLike) -> nn.Module:
    """Load a module written by :func:`save_rnn`, in eval mode (see there for an example)."""
    model = load_model(os.fspath(path), strict=True)
    assert model is not None
    return model


def _describe(path: str) -> str:
    """What a file that is not one of our safetensors files seems to be (read without loading it)."""
    what = describe_file(path)
    if what == PICKLE:
        return "a Python pickle (e.g. torch.save of a model)"
    if what == "a Keras archive":
        return "a Keras archive (load it with framework='keras')"
    if what:
        return what
    with open(path, "rb") as fh:
        head = fh.read(16)
    if _header(path) is not None:
        return "a safetensors file without rnndyn_torch.save_rnn's metadata (a plain state dict)"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return "binary data that is not a safetensors file"
    return "a text file, not a safetensors file"


def load_model(path: str, *, strict: bool) -> Any | None:
    """The rnndyn_load_model hook: our safetensors files, else ``None`` (or raise if strict).

    Nothing is ever unpickled: a pickle or ``torch.save`` file is recognised
    by its first bytes and refused (``strict``) or declined.

    Raises
    ------
    rnndyn.RnndynError
        If ``strict`` and the file is not a safetensors file written by
        :func:`save_rnn`, or if it claims to be one but is damaged; the
        message names the file, what it is, and which formats load.

    Examples
    --------
    >>> load_model("no/such/file.safetensors", strict=False) is None
    True
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        if not strict:
            return None
        raise RnndynError(f"cannot load {path!r}: no such file (resolved to {os.path.abspath(path)!r}).")
    header = _header(path) if os.path.isfile(path) else None
    meta = (header or {}).get("__metadata__") or {}
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        if not strict:
            return None
        what = "a folder" if os.path.isdir(path) else _describe(path)
        if what.startswith("a TorchScript"):
            raise RnndynError(
                f"cannot load {path!r}: it is {what}, and rnndyn cannot capture from TorchScript: a "
                "scripted module runs its recurrent layers as compiled graph operations, and PyTorch "
                "refuses forward hooks on them (register_forward_hook is not supported on ScriptModules). "
                "Save the weights instead (safetensors.torch.save_file(model.state_dict(), "
                "'model.safetensors')) and load them into the model built by its code: on the command "
                "line, MODULE:FACTORY --weights model.safetensors; for a bare nn.LSTM/GRU/RNN, "
                "rnndyn_torch.save_rnn."
            )
        raise RnndynError(
            f"cannot load {path!r} as a PyTorch model: it is {what}. Only safetensors files written by "
            "rnndyn_torch.save_rnn (one nn.LSTM/GRU/RNN) load, without running code from the "
            "file: pickled models (torch.save(model), .pt/.pth) are refused because unpickling could "
            "execute code, and TorchScript or torch.export programs have no recurrent modules to hook. "
            "Build the model from its code, load its weights (safetensors, or "
            "torch.load(weights_only=True)) and pass the module to rnndyn.capture."
        )
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    kind = meta.get("class")
    if kind not in _KEYS:
        raise RnndynError(
            f"{path!r}: unknown recurrent class {kind!r} in its metadata; expected one of {sorted(_KEYS)}. "
            "Re-save the module with rnndyn_torch.save_rnn."
        )
    try:
        config = json.loads(meta.get("config", ""))
    except (TypeError, ValueError):
        raise RnndynError(
            f"{path!r}: its metadata 'config' is not valid JSON; re-save the module with "
            "rnndyn_torch.save_rnn."
        ) from None
    if not isinstance(config, dict) or set(config) != set(_KEYS[kind]):
        got = sorted(config) if isinstance(config, dict) else type(config).__name__
        raise RnndynError(f"{path!r}: config must hold exactly {_KEYS[kind]}; got {got}.")
    for key, value in config.items():
        if key == "nonlinearity":
            ok = value in ("tanh", "relu")
        elif key in ("bias", "batch_first", "bidirectional"):
            ok = isinstance(value, bool)
        elif key == "dropout":
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1
        else:
            ok = type(value) is int and (value >= 1 or (key == "proj_size" and value == 0))
        if not ok:
            raise RnndynError(f"{path!r}: config {key!r} has a bad value {value!r}.")
    tensors = header or {}
    for name, info in tensors.items():
        if name != "__metadata__" and (not isinstance(info, dict) or info.get("dtype") not in _FLOAT_DTYPES):
            dtype = info.get("dtype") if isinstance(info, dict) else info
            raise RnndynError(
                f"{path!r}: tensor {name!r} has dtype {dtype!r}; a recurrent module's weights are floating "
                f"point ({', '.join(_FLOAT_DTYPES)})."
            )
    cls = _classes(torch.nn)[kind]
    try:
        module = cls(**config, device="meta")
    except (TypeError, ValueError) as exc:
        raise RnndynError(f"{path!r}: config {config} does not build an nn.{kind} ({exc}).") from None
    try:
        tensors = load_file(path)
    except (SafetensorError, OSError, ValueError) as exc:
        raise RnndynError(f"{path!r}: the safetensors file is damaged or truncated ({exc}).") from None
    try:
        module.load_state_dict(tensors, assign=True, strict=True)
    except RuntimeError as exc:
        raise RnndynError(f"{path!r}: its tensors do not fit a {kind} {config}: {exc}") from None
    module.flatten_parameters()
    return module.eval()


_FLOAT_DTYPES = ("F16", "BF16", "F32", "F64")


def load_weights(module: nn.Module, path: str | os.PathLike) -> nn.Module:
    """Load a safetensors state dict into ``module`` strictly: every name and shape must match.

    The file is read with safetensors (no pickle); its header is checked
    against ``module.state_dict()`` first, and the error lists every missing
    and unexpected tensor name and every shape that differs.

    Examples
    --------
    >>> import tempfile, os, torch
    >>> from safetensors.torch import save_file
    >>> path = os.path.join(tempfile.mkdtemp(), "w.safetensors")
    >>> save_file(torch.nn.GRU(2, 3).state_dict(), path)
    >>> load_weights(torch.nn.GRU(2, 3), path).hidden_size
    3
    >>> load_weights(torch.nn.GRU(2, 4), path)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    rnndyn.errors.RnndynError: ...: the weights do not fit the model built by the factory: shapes differ: ...
    """
    path = os.fspath(path)
    header = _header(path) if os.path.isfile(path) else None
    if header is None:
        what = "a folder" if os.path.isdir(path) else _describe(path)
        raise RnndynError(
            f"--weights {path!r} is {what}, not a safetensors file; save the weights with "
            "safetensors.torch.save_file(model.state_dict(), path) (pickled .pt/.pth files are refused: "
            "unpickling could execute code)."
        )
    want = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    got = {
        k: tuple(v.get("shape", ())) for k, v in header.items() if k != "__metadata__" and isinstance(v, dict)
    }
    problems = []
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    shapes = [f"{k} {got[k]} in the file, {want[k]} in the model" for k in sorted(set(want) & set(got))]
    shapes = [s for s, k in zip(shapes, sorted(set(want) & set(got)), strict=True) if got[k] != want[k]]
    if shapes:
        problems.append("shapes differ: " + "; ".join(shapes))
    if missing:
        problems.append(f"missing in the file: {missing}")
    if extra:
        problems.append(f"not in the model: {extra}")
    if problems:
        raise RnndynError(
            f"{path!r}: the weights do not fit the model built by the factory: {'; '.join(problems)}. "
            "Check that the factory builds the same architecture the weights were saved from."
        )
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        tensors = load_file(path)
    except (SafetensorError, OSError, ValueError) as exc:
        raise RnndynError(f"{path!r}: the safetensors file is damaged or truncated ({exc}).") from None
    state = module.state_dict()
    tensors = {k: v.to(state[k].dtype) for k, v in tensors.items()}
    module.load_state_dict(tensors, strict=True)
    return module
