"""The rnndyn plugin for Keras 3: claims Keras models, loads ``.keras`` files.

Registered through the entry point ``keras = "rnndyn_keras.plugin"`` (group
``rnndyn``). Importing this module imports neither keras nor tensorflow nor
torch: a Keras model can only exist once ``keras`` is in :data:`sys.modules`,
so the claim looks there first.

Examples
--------
>>> import sys
>>> from rnndyn_keras import plugin
>>> plugin.rnndyn_claim_model(object()) is None
True
>>> plugin.rnndyn_load_model("model.pt", None) is None
True
"""

from __future__ import annotations

import json
import os
import sys
import zipfile
from pathlib import Path
from typing import Any

from rnndyn.errors import RnndynError
from rnndyn.hookspecs import hookimpl

__all__ = [
    "rnndyn_claim_model",
    "rnndyn_load_model",
    "rnndyn_step_map",
    "check_keras_archive",
    "load_keras_file",
    "import_keras",
]

#: what to install for a Keras backend (the ``keras`` extra installs none)
BACKEND_EXTRAS = (
    "pip install 'rnndyn[tensorflow-cpu]' (TensorFlow, CPU build), 'rnndyn[tensorflow]' (TensorFlow, "
    "the GPU-capable build), 'rnndyn[jax]' (JAX) or 'rnndyn[keras,torch]' (then KERAS_BACKEND=torch)"
)


def import_keras() -> Any:
    """``import keras``, or an :class:`~rnndyn.RnndynError` naming the extras to install.

    The ``keras`` extra installs Keras without a backend; Keras fails on import
    when the backend it is set to (``KERAS_BACKEND``, default TensorFlow) is missing.
    """
    try:
        import keras
    except ImportError as exc:
        if getattr(exc, "name", None) == "keras":
            raise RnndynError(
                f"Keras is not installed; rnndyn's Keras adapter needs Keras 3 and one backend: "
                f"{BACKEND_EXTRAS}."
            ) from None
        backend = os.environ.get("KERAS_BACKEND") or "tensorflow (the default)"
        raise RnndynError(
            f"Keras is installed, but its backend {backend} cannot be imported "
            f"({type(exc).__name__}: {' '.join(str(exc).split())[:200]}). Keras needs one backend: "
            f"{BACKEND_EXTRAS}; or choose an installed one with KERAS_BACKEND=jax, torch or "
            "tensorflow before keras is first imported."
        ) from None
    return keras


#: names the ``framework=`` argument of :func:`rnndyn_load_model` accepts
FRAMEWORK_NAMES = ("keras", "tensorflow", "tf")
#: the module the adapter needs, and how to install it (named in "no adapter claims" errors)
FRAMEWORK = ("keras", "pip install 'rnndyn[tensorflow-cpu]' (or another Keras backend extra)")


@hookimpl(tryfirst=True)
def rnndyn_claim_model(model: Any) -> Any:
    """Return a :class:`~rnndyn_keras.adapter.KerasAdapter` for a Keras model or layer.

    Runs before the other plugins (``tryfirst``): on the PyTorch backend a Keras
    model is also a ``torch.nn.Module``, and only this adapter knows its layers.
    """
    keras = sys.modules.get("keras")
    if keras is None:
        return None
    layer_cls = getattr(getattr(keras, "layers", None), "Layer", None)
    if layer_cls is None or not isinstance(model, layer_cls):
        return None
    from .adapter import KerasAdapter

    return KerasAdapter(model)


@hookimpl(tryfirst=True)
def rnndyn_step_map(model: Any, layer: str) -> Any:
    """The cells of a Keras layer (see :mod:`rnndyn_keras._step_map`), else ``None``.

    Runs before the other plugins (``tryfirst``), as :func:`rnndyn_claim_model`
    does: on the PyTorch backend a Keras model is also a ``torch.nn.Module``.
    """
    keras = sys.modules.get("keras")
    layer_cls = getattr(getattr(keras, "layers", None), "Layer", None)
    if layer_cls is None or not isinstance(model, layer_cls):
        return None
    from ._step_map import step_map

    return step_map(model, layer)


@hookimpl
def rnndyn_load_model(path: str, framework: str | None) -> Any:
    """Load a ``.keras`` file with ``keras.saving.load_model(path, safe_mode=True)``.

    Declines (returns ``None``) other frameworks, and other suffixes unless
    ``framework`` names Keras, in which case it raises. Before Keras sees the
    file, :func:`check_keras_archive` inspects it, so that a file that is not
    a Keras archive gets a precise :class:`~rnndyn.RnndynError`; safe mode
    then refuses to deserialize code (``Lambda`` layers and the like).

    Raises
    ------
    rnndyn.RnndynError
        Naming the file (and the part of the archive) and what is wrong.
    """
    if framework is not None and (not isinstance(framework, str) or framework.lower() not in FRAMEWORK_NAMES):
        return None
    if Path(str(path)).suffix.lower() != ".keras":
        if framework is None:
            return None
        raise RnndynError(
            f"cannot load {str(path)!r} with framework={framework!r}: only Keras 3 archives named "
            "'.keras' load (safely, with safe_mode=True). Load legacy .h5 files or SavedModel "
            "folders with Keras yourself and pass the model to rnndyn.capture."
        )
    return load_keras_file(path)


#: The parts every Keras 3 archive holds.
KERAS_PARTS = ("config.json", "metadata.json", "model.weights.h5")
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_MAX_CONFIG_BYTES = 50_000_000
_CODE_CLASSES = ("Lambda", "__lambda__", "__function__", "TFOpLambda")


def _looks_like(head: bytes) -> str:
    """A short description of what a file that is not a zip archive seems to be."""
    if not head:
        return "an empty file"
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return "a Python pickle (never unpickled: it could run code)"
    if head.startswith(_HDF5_SIGNATURE):
        return "an HDF5 file (a legacy Keras .h5 model or weights file)"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return "binary data"
    return "a text file"


def check_keras_archive(path: str | os.PathLike) -> None:
    """Check that ``path`` is a Keras 3 archive of built-in layers, without running Keras.

    A ``.keras`` file is a zip archive holding ``config.json`` (the model's
    layers, JSON), ``metadata.json`` (JSON) and ``model.weights.h5`` (HDF5).
    Every object the config names must come from Keras itself (``module``
    starting with ``keras``) and must not be code (``Lambda``).

    Parameters
    ----------
    path : path
        The ``.keras`` file.

    Raises
    ------
    rnndyn.RnndynError
        Naming the file, the part of the archive and what is wrong.

    Examples
    --------
    >>> check_keras_archive("no/such/model.keras")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    rnndyn.errors.RnndynError: cannot load 'no/such/model.keras': no such file...
    """
    path = os.fspath(path)
    where = f"cannot load {path!r}"
    if not os.path.exists(path):
        raise RnndynError(f"{where}: no such file (resolved to {os.path.abspath(path)!r}); check the path.")
    if not os.path.isfile(path):
        raise RnndynError(f"{where}: it is a folder, not a .keras archive (a file); pass the .keras file.")
    if not zipfile.is_zipfile(path):
        with open(path, "rb") as fh:
            head = fh.read(16)
        raise RnndynError(
            f"{where}: not a Keras archive (a .keras file is a zip archive); it is {_looks_like(head)}. "
            "Save the model with model.save('name.keras') in Keras 3."
        )
    try:
        with zipfile.ZipFile(path) as zf:
            bad = zf.testzip()
            if bad is not None:
                raise RnndynError(f"{where}: the archive's part {bad!r} is corrupted (CRC check failed).")
            infos = {i.filename: i for i in zf.infolist()}
            missing = [part for part in KERAS_PARTS if part not in infos]
            if missing:
                raise RnndynError(
                    f"{where}: a zip archive without {missing}, so not a Keras 3 archive (it holds "
                    f"{sorted(infos)[:8]}); a .keras file holds {list(KERAS_PARTS)}."
                )
            for part in ("config.json", "metadata.json"):
                if infos[part].file_size > _MAX_CONFIG_BYTES:
                    raise RnndynError(f"{where}: its {part} is {infos[part].file_size} bytes, too large.")
            config = _json_part(zf, "config.json", where)
            _json_part(zf, "metadata.json", where)
            with zf.open("model.weights.h5") as fh:
                head = fh.read(8)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise RnndynError(f"{where}: the zip archive is damaged or truncated ({exc}).") from None
    if not head.startswith(_HDF5_SIGNATURE):
        raise RnndynError(
            f"{where}: its part 'model.weights.h5' is not an HDF5 file (it is {_looks_like(head)})."
        )
    if not isinstance(config, dict) or "class_name" not in config:
        raise RnndynError(
            f"{where}: its config.json is not a Keras model config (expected an object with "
            f"'class_name'; got {type(config).__name__})."
        )
    _check_config_objects(config, where)


def _json_part(zf: zipfile.ZipFile, part: str, where: str) -> Any:
    try:
        return json.loads(zf.read(part).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise RnndynError(f"{where}: its part {part!r} is not valid JSON ({exc}).") from None


def _check_config_objects(obj: Any, where: str) -> None:
    """Refuse classes that are not Keras' own, and code (Lambda), anywhere in the config."""
    stack = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            name, module = item.get("class_name"), item.get("module")
            if name in _CODE_CLASSES:
                raise RnndynError(
                    f"{where}: its config.json holds a {name} layer or function, which is Python code; "
                    "safe mode refuses to deserialize code. Rebuild the model from its code and pass it "
                    "to rnndyn.capture."
                )
            if isinstance(name, str) and module is not None and not str(module).startswith("keras"):
                raise RnndynError(
                    f"{where}: its config.json names the class {name!r} from module {module!r}, which is "
                    "not built into Keras; only built-in layers load from a file. Load the model with "
                    "its code (custom_objects) yourself and pass it to rnndyn.capture."
                )
            stack.extend(item.values())


def load_keras_file(path: str | os.PathLike, *, compile: bool = True) -> Any:
    """:func:`check_keras_archive`, then ``keras.saving.load_model(path, safe_mode=True)``.

    Parameters
    ----------
    path : path
        A ``.keras`` file.
    compile : bool, optional
        Passed to Keras (default True).

    Returns
    -------
    keras.Model

    Raises
    ------
    rnndyn.RnndynError
        If the file is not a Keras archive of built-in layers, or Keras
        cannot load it (its error is quoted, with the file's name).
    """
    check_keras_archive(path)
    keras = import_keras()
    try:
        return keras.saving.load_model(os.fspath(path), safe_mode=True, compile=compile)
    except Exception as exc:  # noqa: BLE001 - any failure means an unusable file
        raise RnndynError(
            f"cannot load {os.fspath(path)!r}: Keras could not rebuild the model from it "
            f"({type(exc).__name__}: {' '.join(str(exc).split())[:300]}). Check that it was saved by "
            "Keras 3 with built-in layers, or re-save it."
        ) from None
