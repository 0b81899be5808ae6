"""One capture of a model at a time: the per-model lock that :class:`~rnndyn._capture_run.CaptureRun` holds.

Adapters change the model while they capture it (hooks, eval mode, swapped
classes, the RNG counts put back afterwards), so two captures of one model
object running at the same time (the threads of a Dask worker sharing the
model it loaded once) would mix their states. A capture therefore holds its
model from its first batch until it ends (last batch, an error, or
``close()``); a capture of the same model from another thread waits for it.

* Keys are ``id(model)``, and an entry lives only while a capture holds the
  model or waits for it (both keep the model alive, so the id cannot be
  reused meanwhile); nothing keeps a model alive, and models that cannot be
  weakly referenced work too.
* The holder is a capture, not a thread: an ``iter_capture`` dropped
  half-way is closed by whichever thread frees it (``del``, the garbage
  collector), which releases the model.
* A waiting capture waits as long as the holder keeps running batches,
  however long that takes. When the holder sits suspended (an
  ``iter_capture`` whose consumer stopped asking for batches) for a second,
  the waiter runs the garbage collector once (an abandoned iterator caught in
  a reference cycle is closed by it); when the holder has sat suspended for
  :data:`STALL_TIMEOUT` seconds (600; the environment variable
  ``RNNDYN_CAPTURE_STALL_TIMEOUT``), the waiter fails with an
  :class:`~rnndyn.errors.RnndynError` naming the other capture.
* The same thread never waits for itself: a capture started inside a capture
  of the same model (``forward=``), or while the thread holds an unfinished
  ``iter_capture`` of it, fails at once.
"""

from __future__ import annotations

import gc
import os
import threading
import time
from typing import Any

from .errors import RnndynError

__all__ = ["ModelHold", "STALL_TIMEOUT", "hold", "hold_capture"]

#: Seconds a capture waits for a capture of the same model that sits suspended (not running a batch).
STALL_TIMEOUT: float = float(os.environ.get("RNNDYN_CAPTURE_STALL_TIMEOUT", "600"))
_GC_AFTER = 1.0  # seconds a holder sits suspended before a waiter runs the garbage collector
_POLL = 0.5

_cond = threading.Condition(threading.Lock())
_entries: dict[int, _Entry] = {}


class _Entry:
    """The state of one model that is held or waited for."""

    def __init__(self) -> None:
        self.holder: ModelHold | None = None
        self.users = 0  # the holder and the waiters


class ModelHold:
    """The hold of one capture on one model; :meth:`release` is idempotent and thread-safe."""

    def __init__(self, key: int, what: str) -> None:
        self.key = key
        self.what = what
        self.thread = threading.current_thread()
        self.since = time.time()
        self.running = True  # from the start: set up, first batch
        self.batches = 0
        self.idle_since: float | None = None  # monotonic time the holder last yielded
        self.released = False

    def resume(self) -> None:
        """The capture runs its next batch (waiters keep waiting however long it takes)."""
        with _cond:
            self.running = True
            self.idle_since = None

    def pause(self) -> None:
        """The capture hands a batch to its consumer and sits suspended until asked for the next."""
        with _cond:
            self.running = False
            self.batches += 1
            self.idle_since = time.monotonic()

    def release(self) -> None:
        with _cond:
            if self.released:
                return
            self.released = True
            entry = _entries.get(self.key)
            if entry is not None and entry.holder is self:
                entry.holder = None
                entry.users -= 1
                if entry.users == 0:
                    del _entries[self.key]
                _cond.notify_all()

    def describe(self) -> str:
        started = time.strftime("%H:%M:%S", time.localtime(self.since))
        state = "running a batch" if self.running else f"suspended after {self.batches} batch(es)"
        return f"{self.what}, started at {started} in thread {self.thread.name!r}, {state}"


def hold(model: Any, what: str) -> ModelHold:
    """Hold ``model`` for one capture, waiting while another capture of it runs.

    Parameters
    ----------
    model : object
        The model object captured (its identity is the key).
    what : str
        The capture, for error messages (e.g. ``"a capture of a Net (torch)"``).

    Returns
    -------
    ModelHold
        Call ``resume()``/``pause()`` around each batch and ``release()`` at the end.

    Raises
    ------
    RnndynError
        The same thread already holds the model, or the holder has sat
        suspended for :data:`STALL_TIMEOUT` seconds.

    Examples
    --------
    >>> h = hold(object(), "a capture")
    >>> h.resume(); h.pause(); h.release(); h.release()
    """
    key = id(model)
    me = ModelHold(key, what)
    start = time.monotonic()
    collected: ModelHold | None = None  # the holder the garbage collector was run for
    with _cond:
        entry = _entries.setdefault(key, _Entry())
        entry.users += 1
    try:
        while True:
            with _cond:
                other = entry.holder
                if other is None:
                    entry.holder = me
                    return me
                if other.thread is me.thread:
                    raise _own_thread(other)
                idle = 0.0 if other.idle_since is None else time.monotonic() - other.idle_since
                if idle >= STALL_TIMEOUT:
                    raise _stalled(other, time.monotonic() - start, idle)
                if idle < _GC_AFTER or collected is other:
                    _cond.wait(_POLL)
                    continue
            collected = other
            gc.collect()  # outside the lock: the finalizer of an abandoned capture releases its hold
    except BaseException:
        with _cond:
            entry.users -= 1
            if entry.users == 0 and entry.holder is None:
                _entries.pop(key, None)
        raise


def hold_capture(adapter: Any, model: Any = None) -> ModelHold:
    """:func:`hold` the model of one capture: the object ``adapter`` changes (its ``model``
    attribute: torch's module inside a ``DataParallel``), else ``model``, else the adapter."""
    target = getattr(adapter, "model", None)
    target = target if target is not None else model if model is not None else adapter
    name = getattr(adapter, "framework", type(adapter).__name__)
    return hold(target, f"a capture of a {type(target).__qualname__} ({name})")


def _own_thread(other: ModelHold) -> RnndynError:
    if other.running:
        return RnndynError(
            "A capture of this model was started inside another capture of the same model "
            f"({other.describe()}), e.g. from its forward= function; the model is being changed for "
            "that capture, so a nested one would mix their states. Capture a copy of the model, or "
            "capture after the first one has finished."
        )
    return RnndynError(
        f"This thread holds an unfinished rnndyn.iter_capture of this model ({other.describe()}); a "
        "second capture of the same model in the same thread would wait for itself. Exhaust that "
        "iterator or call its close() first (or capture a copy of the model)."
    )


def _stalled(other: ModelHold, waited: float, idle: float) -> RnndynError:
    return RnndynError(
        f"This capture waited {waited:.0f} s for another capture of the same model ({other.describe()}), "
        f"which has not been asked for a batch for {idle:.0f} s: an unfinished rnndyn.iter_capture "
        "left half-way? Exhaust that iterator or call its close() (a with-block or try/finally does it), or "
        "give each thread its own copy of the model. Captures of one model object run one at a "
        f"time; the wait for a suspended one is capped at {STALL_TIMEOUT:g} s "
        "(environment variable RNNDYN_CAPTURE_STALL_TIMEOUT)."
    )
