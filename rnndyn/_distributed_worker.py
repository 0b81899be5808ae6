"""What runs on a Dask worker for :mod:`rnndyn.distributed`: build the model once, capture a shard, merge.

Tasks exchange accumulator states as :meth:`Accumulator.to_dict` dicts (plain
NumPy arrays, whatever device the capture ran on). A task is a pure function
of its arguments, so a task whose worker died is simply run again elsewhere
and a partial counts once: when its task completes.

The model is built once per worker process and model source, and kept (the
last :data:`KEEP` of them). Captures of one cached model take turns (a lock
per model): a worker with several threads never runs one model object in two
threads at once.
"""

from __future__ import annotations

import hashlib
import pickle
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from .errors import PluginError, RnndynError

__all__ = ["ModelSource", "Packed", "capture_shard", "merge", "BUILDS", "KEEP"]

#: Models kept per worker process (least recently used dropped first).
KEEP = 2
#: Times each model source was built in this process, by key (tests read it with ``client.run``).
BUILDS: dict[str, int] = {}
_MODELS: OrderedDict[str, tuple[Any, threading.Lock]] = OrderedDict()
_CACHE_LOCK = threading.Lock()


@dataclass(frozen=True)
class ModelSource:
    """How a worker gets the model: a saved model's ``path``, or a pickled zero-argument ``factory``."""

    key: str
    path: str | None = None
    factory: bytes | None = None
    framework: str | None = None
    name: str = ""

    @classmethod
    def of_path(cls, path: str, framework: str | None) -> ModelSource:
        return cls(_digest(f"path\0{path}\0{framework}".encode()), path=path, framework=framework, name=path)

    @classmethod
    def of_factory(cls, payload: bytes, name: str) -> ModelSource:
        return cls(_digest(b"factory\0" + payload), factory=payload, name=name)

    def build(self) -> Any:
        if self.path is not None:
            from .plugins import load_model

            return load_model(self.path, framework=self.framework)
        try:
            factory = pickle.loads(self.factory)  # noqa: S301 - our own bytes, pickled by the client
        except Exception as exc:
            raise RnndynError(
                f"the worker could not unpickle the model factory {self.name} ({type(exc).__name__}: "
                f"{exc}); define it in a module the workers can import, or pass a saved model's path."
            ) from None
        return factory()


@dataclass(frozen=True)
class Packed:
    """A :class:`~rnndyn.Trajectories` in plain parts, to send to a worker (its inputs left out)."""

    states: Any
    units: Any
    valid: Any
    masked: Any
    orders: Any

    @classmethod
    def of(cls, traj: Any) -> Packed:
        steps = traj.steps
        return cls(traj.states, traj.units, steps.valid, steps.masked, dict(steps.orders))

    def unpack(self) -> Any:
        from .steps import Steps
        from .trajectories import Trajectories

        steps = Steps(self.valid, masked=self.masked, orders=self.orders)
        return Trajectories(self.states, units=self.units, steps=steps)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:32]


def _where() -> str:
    try:
        from distributed import get_worker

        return f"worker {get_worker().address}"
    except (ImportError, ValueError):
        return "this process"


def model_for(source: ModelSource) -> tuple[Any, threading.Lock]:
    """The model of ``source`` in this process (built on first use) and the lock its captures share."""
    with _CACHE_LOCK:
        hit = _MODELS.get(source.key)
        if hit is not None:
            _MODELS.move_to_end(source.key)
            return hit
        try:
            model = source.build()
        except RnndynError as exc:
            raise _again(exc, f"could not build the model from {source.name}") from None
        except Exception as exc:
            raise RnndynError(
                f"could not build the model from {source.name}: {type(exc).__name__}: {exc}"
            ) from None
        BUILDS[source.key] = BUILDS.get(source.key, 0) + 1
        _MODELS[source.key] = (model, threading.Lock())
        while len(_MODELS) > KEEP:
            _MODELS.popitem(last=False)
        return _MODELS[source.key]


def capture_shard(
    source: ModelSource | None,
    index: int,
    shard: Any,
    lengths: Any,
    capture_options: dict[str, Any],
    accumulator_options: dict[str, Any],
) -> dict[str, Any]:
    """Capture one shard into a fresh accumulator; its state as a plain dict.

    A callable shard (not an array) is called first to load the shard here.
    Without a model source the shard is already trajectories (e.g. a store
    chunk) and is accumulated as it is.
    """
    from ._capture import capture
    from ._inputs import is_array
    from .stream import Accumulator

    acc = Accumulator(**accumulator_options)
    try:
        if callable(shard) and not is_array(shard):
            shard = shard()
        if isinstance(shard, Packed):
            shard = shard.unpack()
        if source is None:
            acc.update(shard)
            return acc.to_dict()
        model, lock = model_for(source)
        with lock:
            capture(model, shard, lengths=lengths, progress=False, sink=acc, **capture_options)
    except RnndynError as exc:
        raise _again(exc, f"shard {index} on {_where()}") from None
    except Exception as exc:
        raise RnndynError(f"shard {index} on {_where()}: {type(exc).__name__}: {exc}") from None
    return acc.to_dict()


def merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """The state of two accumulator states merged (exact)."""
    from .stream import Accumulator

    return (Accumulator.from_dict(a) + Accumulator.from_dict(b)).to_dict()


def _again(exc: RnndynError, where: str) -> RnndynError:
    """The same kind of error, its message prefixed with where it happened."""
    try:
        return type(exc)(f"{where}: {exc}")
    except Exception:  # a subclass with another signature
        return (PluginError if isinstance(exc, PluginError) else RnndynError)(f"{where}: {exc}")
