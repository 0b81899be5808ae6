"""One capture, batch by batch: feed the adapter, name the batch in every error, check its parts.

:class:`CaptureRun` iterates a prepared :class:`~rnndyn._batching.Plan` into
one :class:`~rnndyn.trajectories.Trajectories` per batch: it hands the
adapter :class:`~rnndyn.adapter.Batch` objects (their ``lengths=`` cut to
fit), checks every part it yields against the batch it came from (sequences,
steps, units), pads the masked parts of a model that packs its inputs to
the inputs' step count, and keeps the random streams and the user's
generators apart. While it runs it holds its model (:mod:`rnndyn._model_locks`):
captures of one model object from several threads take turns.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._batching import LengthsSplitter, Plan
from ._inputs import check_input_values, describe_input
from ._model_locks import ModelHold, hold_capture
from ._validation import one_line
from .adapter import Args, Batch
from .errors import RnndynError
from .plugins import DOCS
from .trajectories import Trajectories

__all__ = ["CaptureRun", "no_form"]

_NOTED = "_rnndyn_batch_noted"


class CaptureRun:
    """One capture: the prepared plan (the arguments of :class:`_Run`), iterated once into per-batch
    Trajectories. Its generator refers to the ``_Run`` only: an ``iter_capture`` dropped half-way is
    closed (the model restored and released) at once, not at the next garbage collection."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._state = _Run(*args, **kwargs)
        self._gen: Iterator[Trajectories] | None = None

    def __getattr__(self, name: str) -> Any:
        if name in ("_state", "_gen"):  # not set yet (copy, pickle): no recursion
            raise AttributeError(name)
        return getattr(self._state, name)

    def __iter__(self) -> Iterator[Trajectories]:
        if self._gen is None:
            self._gen = self._state._run()
        return self._gen

    def __next__(self) -> Trajectories:
        return next(iter(self))

    def close(self) -> None:
        if self._gen is not None:
            self._gen.close()


@dataclass
class _Run:
    """The state of one capture and the generator that runs it (see :class:`CaptureRun`)."""

    adapter: Any
    targets: list[tuple[str, str]]
    plan: Plan
    splitter: LengthsSplitter
    progress: bool
    device: Any
    forward: Callable[[Any, Any], Any] | None = None
    sizes: list[int | None] = field(default_factory=list)
    lengths: list[np.ndarray | None] = field(default_factory=list)
    shapes: list[str] = field(default_factory=list)
    ndims: list[int | None] = field(default_factory=list)
    current: int | None = None
    exhausted: bool = False
    n_done: int = 0
    pending: dict[int, Any] = field(default_factory=dict)
    forms: frozenset[str] = frozenset()
    model: Any = None  # the model captured, held for the run unless the adapter names its own .model

    def _feed(self) -> Iterator[Batch]:
        index = 0
        offset: int | None = 0  # sequences before this batch, while known
        first_kind = ""
        it = self.plan.batches
        while True:
            self.current = index
            try:
                data = next(it)
            except StopIteration:
                break
            except RnndynError as exc:
                _noted(exc, f"Preparing batch {index}: ")
                raise
            except Exception as exc:
                raise _noted(
                    RnndynError(f"Reading batch {index} from the inputs failed: {type(exc).__name__}: {exc}")
                ) from exc
            try:
                kind = _kind_of(data)
                if index == 0:
                    first_kind = kind
                elif kind != first_kind:
                    raise RnndynError(
                        f"inputs: batch {index} is {kind} but batch 0 was {first_kind}; every "
                        "batch must be the same kind of model input (the same array type, the "
                        "same dict keys). Convert them alike, e.g. all to numpy arrays."
                    )
                if isinstance(data, Args) and "args" not in self.forms:
                    raise no_form(self.adapter, "rnndyn.Args batches")
                n = self.plan.count(data)
                if n == 0:
                    raise RnndynError(
                        f"inputs: batch {index} holds no sequences ({describe_input(data)}); every "
                        "batch must hold at least one. Drop empty batches from the iterable."
                    )
                # arrays and dicts were checked whole, up front
                check_input_values(data, "inputs", offset=offset, finite=not self.plan.checked)
                lengths = self.splitter.take(n, index, data)
            except RnndynError as exc:
                _noted(exc, f"Preparing batch {index}: ")
                raise
            if offset is not None:
                offset = None if n is None else offset + n
            self.sizes.append(n)
            self.lengths.append(lengths)
            self.shapes.append(describe_input(data))
            self.ndims.append(getattr(data, "ndim", None) if not isinstance(data, Mapping) else None)
            self.pending[index] = data
            yield Batch(data, lengths, index, self.forward, self.plan.split_steps)
            index += 1
        self.current = None
        if index == 0:
            raise _noted(
                RnndynError(
                    "inputs yielded no batches; there is nothing to capture. An iterable that is "
                    "empty, or a generator or DataLoader iterator used up by an earlier loop, "
                    "gives none: pass a fresh one holding at least one batch."
                )
            )
        try:
            self.splitter.finish()
        except RnndynError as exc:
            _noted(exc)
            raise
        self.exhausted = True

    def _where(self) -> str:
        i = self.current if self.current is not None else len(self.sizes) - 1
        if i < 0:
            return "before the first batch"
        shape = self.shapes[i] if i < len(self.shapes) else "not read yet"
        return f"batch {i} ({shape})"

    def _run(self) -> Iterator[Trajectories]:
        from tqdm.auto import tqdm

        adapter = self.adapter
        feeder = self._feed()
        bar = tqdm(total=self.plan.total, disable=not self.progress, unit="seq", desc="rnndyn.capture")
        gen: Any = None
        held: ModelHold | None = None
        first: Trajectories | None = None
        streams = _Streams()
        try:
            # captures of one model take turns (a second one waits here, its bar at 0)
            held = hold_capture(adapter, self.model)
            gen = self._guard(lambda: iter(adapter.capture(feeder, self.targets, device=self.device)))
            k = 0
            while True:
                try:
                    with streams.active():
                        part = self._guard(lambda: next(gen))
                except StopIteration:
                    break
                part = self._fit_steps(part, k, first)
                first = self._check_part(part, k, first)
                bar.update(part.n_sequences)
                self.n_done += part.n_sequences
                k += 1
                held.pause()
                yield part
                held.resume()
            if not self.exhausted:
                try:
                    next(feeder)
                except StopIteration:
                    pass
                else:
                    raise self._bug(f"it stopped after {k} parts, before reading every batch")
            if k != len(self.sizes):
                raise self._bug(f"it yielded {k} parts for {len(self.sizes)} batches")
        finally:
            try:
                if gen is not None and hasattr(gen, "close"):
                    gen.close()
            finally:
                try:
                    feeder.close()
                    bar.close()
                finally:
                    if held is not None:
                        held.release()  # after the adapter restored the model

    def _guard(self, step: Callable[[], Any]) -> Any:
        """Run one step of the adapter; name the batch in whatever it raises."""
        try:
            return step()
        except StopIteration:
            raise
        except RnndynError as exc:
            if not getattr(exc, _NOTED, False) and str(exc).startswith("states holds a non-finite"):
                # a third-party adapter's Trajectories refused NaN states: the model made them
                raise _noted(
                    RnndynError(
                        f"Capturing {self._where()}: the model produced non-finite states from "
                        f"finite inputs ({exc}). Check the model's weights for NaN/inf and that "
                        "the inputs are scaled as in training."
                    )
                ) from None
            _noted(exc, f"Capturing {self._where()}: ")
            raise
        except Exception as exc:
            name = getattr(self.adapter, "framework", type(self.adapter).__name__)
            raise RnndynError(
                f"Capturing {self._where()} failed: the {name} adapter raised {one_line(exc)}. "
                "Usually the inputs do not fit the model: check that they are what model(...) "
                "takes (shape, with the sequences along the batch axis: batch_axis=), dtype and "
                "values. If they are, report it to the adapter's authors."
            ) from exc

    def _bug(self, what: str) -> RnndynError:
        bug = "this is a bug" if what.endswith("otherwise") else ". This is a bug"
        return RnndynError(
            f"The adapter {type(self.adapter).__module__}.{type(self.adapter).__qualname__} "
            f"broke the Adapter protocol: {what}{bug if bug[0] == '.' else ' ' + bug} in that "
            f"plugin; the protocol is described in {DOCS}."
        )

    def _fit_steps(self, part: Any, k: int, first: Trajectories | None) -> Any:
        """Pad a masked batch (the model packed it itself, to its own longest sequence) with
        padding steps at the end, to the inputs' step count (or batch 0's): real steps unchanged."""
        if not isinstance(part, Trajectories) or not part.masked:
            return part
        target = first.n_steps if first is not None else self.plan.n_steps
        if target is None or part.n_steps >= target:
            return part
        return _pad_steps(part, target)

    def _check_part(self, part: Any, k: int, first: Trajectories | None) -> Trajectories:
        if not isinstance(part, Trajectories):
            raise self._bug(f"part {k} is a {type(part).__name__}, not a Trajectories")
        if k >= len(self.sizes):
            raise self._bug(f"it yielded part {k} but only {len(self.sizes)} batches were read")
        n = self.sizes[k]
        data = self.pending.pop(k, None)
        if n is not None and part.n_sequences != n:
            if self.ndims[k] == 2 and part.n_sequences == 1:
                raise RnndynError(
                    f"inputs: batch {k} is 2-d ({self.shapes[k]}), which the model read as one "
                    f"unbatched sequence of {part.n_steps} steps, but rnndyn reads axis 0 as "
                    f"sequences ({n} of them). Pass sequences along axis 0: x[None] for one "
                    "sequence, shape (1, steps, features)."
                )
            layout = self.plan.layout
            hint = layout.time_major_hint(data, part.n_sequences) if layout is not None else None
            if hint is not None:
                raise RnndynError(
                    f"inputs: batch {k} ({self.shapes[k]}) holds {n} sequences along its batch "
                    f"axis, but the model ran {part.n_sequences}. {hint}"
                )
            raise RnndynError(
                f"inputs: batch {k} ({self.shapes[k]}) holds {n} sequences along its batch axis, but "
                f"the captured layers ran {part.n_sequences} sequences, so the trajectories cannot be "
                "matched to the inputs' sequences. Check the inputs' layout: say where the sequences "
                "lie with batch_axis= (e.g. batch_axis=1 for time-major inputs); a layer that runs "
                "other sequences than the inputs' (a model that reshapes them) cannot be captured "
                "from these inputs: capture a sub-model fed that layer's own inputs. If the inputs "
                "are laid out as the model takes them, the adapter yielded the wrong number of "
                "sequences: report it to the adapter's authors."
            )
        given = self.lengths[k]
        if given is not None and not np.array_equal(part.lengths, given):
            raise self._bug(f"the trajectories of batch {k} do not carry the lengths given")
        if first is None:
            pairs = list(dict.fromkeys(zip(part.units["layer"], part.units["state"], strict=True)))
            if pairs != [tuple(t) for t in self.targets]:
                raise self._bug(f"it captured {pairs} for the targets {self.targets}")
            return part.take(slice(0, 0))  # keep the layout only, not the batch's memory
        if part.n_steps != first.n_steps:
            packed = (
                " The model packs its inputs (masked trajectories): pass the inputs as one padded "
                "array (rnndyn pads every batch to its step count), or capture with one batch."
                if part.masked
                else ""
            )
            raise RnndynError(
                f"Batch {k} ({self.shapes[k]}) gave {part.n_steps} steps but batch 0 gave "
                f"{first.n_steps}; batches cannot be joined. Pad every sequence to one "
                "length (and pass the real lengths with lengths=), or capture the groups "
                f"separately.{packed}"
            )
        if not part.units.equals(first.units):
            raise self._bug(f"batch {k} has another units table than batch 0")
        return first


def _pad_steps(part: Trajectories, n_steps: int) -> Trajectories:
    """``part`` with zero padding steps appended up to ``n_steps`` (numpy or the framework's arrays)."""
    states = part.states
    n, t, u = states.shape
    if isinstance(states, np.ndarray):
        out: Any = np.zeros((n, n_steps, u), dtype=states.dtype)
    else:
        import array_api_compat

        xp = array_api_compat.array_namespace(states)
        out = xp.zeros((n, n_steps, u), dtype=states.dtype, device=array_api_compat.device(states))
    out[:, :t] = states
    return part._replace(states=out, steps=part.steps.pad_to(n_steps))  # the steps added are padding


def no_form(adapter: Any, what: str) -> RnndynError:
    name = getattr(adapter, "framework", type(adapter).__name__)
    return RnndynError(
        f"The {name} adapter does not take {what} yet; pass the model's one input (an array, or a "
        "dict of arrays) as inputs, or wrap the model so that it takes one."
    )


class _Streams:
    """The random streams (numpy's and Python's global generators) of one capture.

    A model that samples draws from a stream that starts where the user's
    generator stood and runs on from batch to batch; around each batch the
    user's own state is put back, so a capture leaves it as it found it.
    """

    def __init__(self) -> None:
        self.np = np.random.get_state()
        self.py = random.getstate()

    @contextmanager
    def active(self) -> Iterator[None]:
        user = (np.random.get_state(), random.getstate())
        np.random.set_state(self.np)
        random.setstate(self.py)
        try:
            yield
        finally:
            self.np, self.py = np.random.get_state(), random.getstate()
            np.random.set_state(user[0])
            random.setstate(user[1])


def _noted(exc: RnndynError, prefix: str = "") -> RnndynError:
    """Prefix the message once (keeping the exception's type and traceback)."""
    if prefix and not getattr(exc, _NOTED, False) and exc.args:
        exc.args = (f"{prefix}{exc.args[0]}", *exc.args[1:])
    setattr(exc, _NOTED, True)
    return exc


def _kind_of(data: Any) -> str:
    """What kind of model input a batch is, to tell when a stream of batches changes kind."""
    if isinstance(data, Args):
        return f"rnndyn.Args with the arguments {[k for k, _ in data.items()]}"
    if isinstance(data, Mapping):
        return f"a dict with the keys {sorted(map(str, data))}"
    cls = type(data)
    return f"a {cls.__module__}.{cls.__qualname__}"
