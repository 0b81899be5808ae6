"""The adapter contract as assertions: :func:`check_adapter` (public in :mod:`rnndyn.testing`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from collections.abc import Callable, Mapping
from importlib import metadata
from typing import Any

import numpy as np
import pandas as pd

from . import plugins as _plugins
from .adapter import LayerInfo
from .errors import RnndynError

FRAMEWORKS = ("torch", "tensorflow", "keras", "jax", "flax", "mlx", "paddle", "mxnet")
ONE_BATCH = 2**31 - 1
Key = tuple[str, str]


def _fail(clause: str, msg: str) -> AssertionError:
    return AssertionError(f"check_adapter [{clause}]: {msg}")


def _claimers(model: Any) -> list[tuple[str, Any]]:
    manager = _plugins.get_plugin_manager()
    out = []
    for impl in manager.hook.rnndyn_claim_model.get_hookimpls():
        if impl.hookwrapper or impl.wrapper:
            continue
        got = impl.function(**{a: model for a in impl.argnames})
        if got is not None:
            out.append((impl.plugin_name, impl.plugin))
    return out


def _check_layers(infos: Any) -> list[LayerInfo]:
    if not isinstance(infos, list) or not infos:
        raise _fail("layers", f"layers() must return a non-empty list of LayerInfo; got {infos!r:.100}.")
    names: list[str] = []
    for info in infos:
        if not isinstance(info, LayerInfo):
            raise _fail("layers", f"layers() lists a {type(info).__name__}, not a rnndyn.adapter.LayerInfo.")
        where = f"layer {info.name!r}"
        if not isinstance(info.name, str) or not info.name or info.name in names:
            raise _fail("layers", f"{where}: names must be non-empty and unique; got {[*names, info.name]}.")
        names.append(info.name)
        states = info.states
        if not isinstance(states, tuple) or not states or not all(isinstance(s, str) for s in states):
            raise _fail("layers", f"{where}: states must be a non-empty tuple of str; got {states!r}.")
        if len(set(states)) != len(states):
            raise _fail("layers", f"{where}: states list a state twice: {states!r}.")
        if info.directions not in (("forward",), ("forward", "backward")):
            raise _fail(
                "layers",
                f"{where}: directions must be ('forward',) or ('forward', 'backward'); "
                f"got {info.directions!r}.",
            )
        if not isinstance(info.n_units, int) or isinstance(info.n_units, bool) or info.n_units < 1:
            raise _fail("layers", f"{where}: n_units must be a positive int; got {info.n_units!r}.")
    return infos


def _capture(clause: str, model: Any, inputs: Any, targets: list[Key], **kw: Any) -> Any:
    layers = list(dict.fromkeys(layer for layer, _ in targets))
    states = list(dict.fromkeys(state for _, state in targets))
    try:
        return _plugins_capture(model, inputs, layer=layers, state=states, progress=False, **kw)
    except RnndynError as exc:
        raise _fail(clause, f"capture of {targets} failed: {exc}") from exc


def _plugins_capture(*args: Any, **kw: Any) -> Any:
    from ._capture import capture

    return capture(*args, **kw)


def _check_units(key: Key, info: LayerInfo, units: pd.DataFrame, n_cols: int) -> None:
    from .testing import units_table

    layer, state = key
    per_dir, rest = divmod(n_cols, len(info.directions))
    if rest or per_dir < 1:
        raise _fail("shape", f"{key}: {n_cols} units do not split over the directions {info.directions}.")
    if state == "h" and per_dir != info.n_units:
        raise _fail(
            "shape",
            f"{key}: LayerInfo.n_units is {info.n_units} but the capture has {per_dir} units "
            "per direction; the states must be (n_sequences, n_steps, n_units) per direction.",
        )
    want = units_table(layer, state, info.directions, per_dir)
    got = units.reset_index(drop=True)[list(want.columns)]
    if not got.astype(str).equals(want.astype(str)):
        raise _fail(
            "units",
            f"{key}: the unit table must be the forward units, then the backward units, "
            f"each indexed 0..n-1 (rnndyn.testing.units_table); got\n{got.head(12)}",
        )


def _close(clause: str, what: str, got: Any, want: Any, tol: float) -> None:
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        raise _fail(clause, f"{what}: shape {got.shape}, expected {want.shape}.")
    err = float(np.max(np.abs(got - want) / (tol + tol * np.abs(want)))) if got.size else 0.0
    if err > 1.0:
        worst = np.unravel_index(int(np.argmax(np.abs(got - want))), got.shape)
        raise _fail(
            clause,
            f"{what}: differs beyond {tol:g} at (sequence, step, unit) {tuple(map(int, worst))}: "
            f"{got[worst]!r} vs {want[worst]!r}.",
        )


def _arrays(obj: Any) -> dict[str, Any]:
    """Flags, numbers and arrays an adapter must put back, found by duck typing."""
    out: dict[str, Any] = {}
    if callable(getattr(obj, "named_modules", None)) and callable(getattr(obj, "state_dict", None)):
        for name, m in obj.named_modules():  # PyTorch-like
            out[f"{name}.training"] = getattr(m, "training", None)
            out[f"{name}.forward"] = vars(m).get("forward")
            for hooks in ("_forward_hooks", "_forward_pre_hooks"):
                out[f"{name}.{hooks}"] = len(getattr(m, hooks, ()))
        for k, v in obj.state_dict().items():
            out[f"state_dict.{k}"] = v.detach().cpu().numpy().copy() if hasattr(v, "detach") else v
        return out
    if callable(getattr(obj, "get_weights", None)):  # Keras-like
        for i, w in enumerate(obj.get_weights()):
            out[f"weight{i}"] = np.array(w)
        for layer in getattr(obj, "layers", []) or []:
            out[f"{layer.name}.trainable"] = getattr(layer, "trainable", None)
        return out
    _walk(obj, "", out, set(), 0)  # anything else (Flax NNX, plain objects): every reachable attribute
    return out


_SKIP = (types.FunctionType, types.MethodType, types.BuiltinFunctionType, types.ModuleType, type)


def _walk(obj: Any, where: str, out: dict[str, Any], seen: set[int], depth: int) -> None:
    """Scalars and arrays reachable from ``obj`` by attributes, items and elements (RNG counts, flags)."""
    if isinstance(obj, bool | int | float | str | type(None)):
        out[where] = obj
        return
    if id(obj) in seen or depth > 12 or isinstance(obj, _SKIP):
        return
    seen.add(id(obj))
    if isinstance(obj, np.ndarray) or hasattr(obj, "__array__"):
        try:
            out[where] = np.array(obj, copy=True)
        except Exception:  # noqa: BLE001 - e.g. typed PRNG keys: their counts are compared instead
            pass
        return
    if isinstance(obj, dict):
        items = list(obj.items())
    elif isinstance(obj, list | tuple):
        items = list(enumerate(obj))
    elif hasattr(obj, "__dict__"):
        items = [(k, v) for k, v in vars(obj).items() if not str(k).startswith("__")]
    else:
        return
    for k, v in items:
        _walk(v, f"{where}.{k}" if where else str(k), out, seen, depth + 1)


def _same(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    keys = sorted(set(a) | set(b))
    return [
        k for k in keys if k not in a or k not in b or not np.array_equal(np.asarray(a[k]), np.asarray(b[k]))
    ]


def _bad_inputs(inputs: Any) -> Any | None:
    """``inputs`` with one feature more (last axis), which the model must refuse; ``None``: no float array."""
    shape = getattr(inputs, "shape", None)
    if shape is None or len(shape) < 3:
        return None
    x = np.asarray(inputs.detach().cpu() if hasattr(inputs, "detach") else inputs)
    if not np.issubdtype(x.dtype, np.floating):
        return None
    return np.concatenate([x, x[..., :1]], axis=-1)


def _plugin_module(name: str, plugin: Any) -> str | None:
    for ep in metadata.entry_points(group="rnndyn"):
        if ep.name == name:
            return ep.value.split(":")[0]
    if isinstance(plugin, types.ModuleType):
        mod = plugin.__name__
    else:
        mod = (plugin if isinstance(plugin, type) else type(plugin)).__module__
    return None if mod in ("__main__", "builtins") else mod


def _check_import(name: str, plugin: Any) -> None:
    module = _plugin_module(name, plugin)
    if module is None:
        return
    declared = getattr(plugin, "FRAMEWORK", None)
    heavy = [*FRAMEWORKS, *([declared[0]] if isinstance(declared, tuple) and declared else [])]
    code = (
        "import importlib, json, sys\n"
        f"importlib.import_module({module!r})\n"
        f"print(json.dumps([m for m in {heavy!r} if m in sys.modules]))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    if res.returncode != 0:
        raise _fail("import", f"importing the plugin module {module!r} failed:\n{res.stderr[-2000:]}")
    found = json.loads(res.stdout.strip().splitlines()[-1])
    if found:
        raise _fail(
            "import",
            f"importing the plugin module {module!r} imports {found}; a plugin must not import "
            "its framework until a model of it is claimed (check sys.modules in rnndyn_claim_model).",
        )


def _check_lengths(
    model: Any, inputs: Any, keys: list[Key], full: np.ndarray, lengths: Any, batch_size: int, tol: float
) -> None:
    """``lengths=`` come back; forward units of the real steps equal those captured without."""
    for bs in (ONE_BATCH, batch_size):
        traj = _capture("lengths", model, inputs, keys, batch_size=bs, lengths=lengths)
        if not np.array_equal(traj.lengths, np.asarray(lengths)):
            given = np.asarray(lengths).tolist()
            raise _fail("lengths", f"{keys}: lengths {given} came back as {traj.lengths.tolist()}.")
        fwd = (traj.units["direction"] == "forward").to_numpy()
        mask = traj.mask[:, :, None] & fwd[None, None, :]
        what = f"{keys} with lengths=: forward units of the real steps"
        _close("lengths", what, np.where(mask, traj.states, 0), np.where(mask, full, 0), tol)


def _host(states: Any) -> np.ndarray:
    """A framework array as NumPy, by duck typing (``.detach().cpu()`` for torch, ``__array__`` else)."""
    if hasattr(states, "detach"):
        states = states.detach().cpu()
    return np.asarray(states)


def _check_device(
    model: Any, inputs: Any, key: Key, want: np.ndarray, device: Any, before: dict[str, Any], tol: float
) -> None:
    traj = _capture("device", model, inputs, [key], batch_size=ONE_BATCH, device=device)
    if getattr(traj.states, "ndim", None) != 3:
        raise _fail("device", f"{key}: device={device!r} must give 3-d states; got {type(traj.states)}.")
    _close("device", f"{key} with device={device!r}", _host(traj.states), want, tol)
    changed = _same(before, _arrays(model))
    if changed:
        raise _fail("device", f"a capture with device={device!r} left the model changed: {changed[:8]}.")


def check_adapter(
    model: Any,
    inputs: Any,
    *,
    reference: Callable[[Any, Any], Mapping[Key, Any]] | Mapping[Key, Any] | None = None,
    layers: list[str] | None = None,
    states: list[str] | None = None,
    batch_size: int = 2,
    lengths: Any = None,
    bad_inputs: Any = None,
    tol: float = 1e-5,
    check_import: bool = True,
    device: Any = None,
) -> None:
    """Run the adapter contract on ``model``; an :class:`AssertionError` names the first broken clause.

    The clauses, in order: ``[claim]`` exactly one plugin claims the model;
    ``[layers]`` ``layers()`` gives valid :class:`~rnndyn.adapter.LayerInfo`
    (unique names, states, directions, units); ``[shape]``/``[units]`` every
    (layer, state) captures as ``(n_sequences, n_steps, units)`` with the
    unit table of :func:`~rnndyn.testing.units_table` (``h``: ``n_units`` per
    direction); ``[batching]`` batches of ``batch_size`` give the states of
    one batch (all states of a layer captured together); ``[lengths]`` with
    ``lengths=``, the same lengths come back and the forward units of the
    real steps equal those without; ``[restore]`` the model's flags and
    weights are unchanged after a capture and after one that fails
    (``bad_inputs``, by default the inputs with one feature more, must raise
    an :class:`~rnndyn.RnndynError`) and it captures the same afterwards;
    ``[device]`` with ``device=``, the states (the framework's arrays on
    that device, or NumPy for a framework whose arrays depend on a backend,
    as Keras) hold the same values, and the model is unchanged;
    ``[reference]`` the states equal ``reference`` to ``tol``; ``[import]``
    importing the plugin's module (its entry point's) in a fresh interpreter
    imports no framework.

    Parameters
    ----------
    model : object
        A model your plugin claims.
    inputs : array or rnndyn.Args or dict
        Inputs :func:`rnndyn.capture` can slice (not a one-shot iterator),
        with more than ``batch_size`` sequences.
    reference : callable or dict, optional
        ``reference(model, inputs)`` or a dict mapping ``(layer, state)`` to
        the expected states ``(n_sequences, n_steps, units)`` (float64,
        computed independently of the adapter).
    layers, states : list of str, optional
        Restrict the check (default: every layer, every state it lists).
    batch_size : int, default 2
    lengths : array of int, optional
        Real steps per sequence, to check ``lengths=``.
    bad_inputs : optional
        Inputs the model must refuse (default: see above; skipped for
        inputs that are not a float array).
    tol : float, default 1e-5
        Relative and absolute tolerance of the comparisons.
    check_import : bool, default True
    device : optional
        A device your adapter accepts as ``device=`` (e.g. ``"cpu"``,
        ``torch.device("cpu")``), to check the ``[device]`` clause.

    Examples
    --------
    >>> check_adapter(object(), None)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    AssertionError: check_adapter [claim]: exactly one plugin must claim a model of type object; ...
    """
    claimers = _claimers(model)
    if len(claimers) != 1:
        raise _fail(
            "claim",
            f"exactly one plugin must claim a model of type {type(model).__name__}; "
            f"claimed by {[n for n, _ in claimers] or 'none'}.",
        )
    adapter = _plugins.find_adapter(model)
    infos = {i.name: i for i in _check_layers(adapter.layers())}
    wanted = [infos[n] for n in layers] if layers is not None else list(infos.values())
    targets = [(i.name, s) for i in wanted for s in i.states if states is None or s in states]
    before = _arrays(model)
    one: dict[Key, np.ndarray] = {}
    for key in targets:
        traj = _capture("shape", model, inputs, [key], batch_size=ONE_BATCH)
        if not isinstance(traj.states, np.ndarray) or traj.states.ndim != 3:
            raise _fail("shape", f"{key}: device=None must give a 3-d numpy array of states.")
        _check_units(key, infos[key[0]], traj.units, traj.states.shape[2])
        one[key] = traj.states
    shapes = {k: v.shape[:2] for k, v in one.items()}
    if len(set(shapes.values())) > 1:
        raise _fail("shape", f"every target must have the same (n_sequences, n_steps); got {shapes}.")
    for info in wanted:
        keys = [k for k in targets if k[0] == info.name]
        joined = np.concatenate([one[k] for k in keys], axis=2)
        traj = _capture("batching", model, inputs, keys, batch_size=batch_size)
        _close("batching", f"{keys} in batches of {batch_size}", traj.states, joined, tol)
        if lengths is not None:
            _check_lengths(model, inputs, keys, joined, lengths, batch_size, tol)
    after = _same(before, _arrays(model))
    if after:
        raise _fail("restore", f"a capture left the model changed: {after[:8]}; restore it in a finally.")
    bad = _bad_inputs(inputs) if bad_inputs is None else bad_inputs
    if bad is not None:
        try:
            _plugins_capture(model, bad, layer=[targets[0][0]], state=[targets[0][1]], progress=False)
        except RnndynError:
            pass
        else:
            raise _fail(
                "restore", "a capture of inputs the model cannot take (one feature more) did not fail."
            )
        changed = _same(before, _arrays(model))
        if changed:
            raise _fail(
                "restore", f"a failed capture left the model changed: {changed[:8]}; restore it in a finally."
            )
        again = _capture("restore", model, inputs, [targets[0]], batch_size=ONE_BATCH)
        _close("restore", "a capture after a failed one", again.states, one[targets[0]], tol)
    if device is not None:
        _check_device(model, inputs, targets[0], one[targets[0]], device, before, tol)
    if reference is not None:
        ref = reference(model, inputs) if callable(reference) else reference
        for key, want in ref.items():
            if key not in one:
                raise _fail("reference", f"reference has {key}, which is not among the targets {targets}.")
            _close("reference", f"{key} against the reference", one[key], want, tol)
    if check_import:
        _check_import(*claimers[0])
