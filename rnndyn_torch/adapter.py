"""`TorchAdapter`: captures trajectories from a PyTorch model for :func:`rnndyn.capture`."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from rnndyn._inputs import describe_input, leaves
from rnndyn._validation import check_lengths, check_states_finite, one_line
from rnndyn.adapter import Args, Batch, LayerInfo, Split, call_model, check_targets
from rnndyn.errors import RnndynError
from rnndyn.steps import Steps
from rnndyn.trajectories import Trajectories

from ._inner import has_own_forward, inner_calls, join_calls, record_inner, refuse_hidden_padding
from ._layers import discover, unwrap
from ._memory import Pool, new_states
from ._record import CellCalls, FusedCall, Plan, cell_calls, fused_call, make_hook, run_cells, run_fused
from ._recurrence import Recurrence, own_forwards

__all__ = ["TorchAdapter"]


class TorchAdapter:
    """Captures hidden states, cell states and gates of a ``torch.nn.Module``.

    Layers are the model's ``nn.LSTM``, ``nn.GRU`` and ``nn.RNN`` modules (by
    module path; ``"name.l0"``, ``"name.l1"``... address the layers of a
    stacked module and ``"name"`` its top layer) and its ``nn.LSTMCell``,
    ``nn.GRUCell`` and ``nn.RNNCell`` modules (steps = calls, in order).

    ``h`` of a module's top layer is its own output, read by a forward hook;
    lower layers run again as one-layer fused modules with the same weights;
    ``c`` and the gates come from one batched matmul over every step plus an
    elementwise recurrence for ``c`` (see :mod:`rnndyn_torch._gates`). On
    CPU, a capture of ``c`` or gates of an ``nn.LSTM`` runs rnndyn's own step
    loop *instead of* the module's forward (every state in one pass; see
    :mod:`rnndyn_torch._recurrence`): the rest of the model then reads that
    loop's output, equal to the module's to rounding. Set
    :attr:`own_recurrence` to ``False`` to keep the module's own forward
    (``c`` and the gates are then computed after it, at more cost;
    docs/performance.md has the measurements).

    Parameters
    ----------
    model : torch.nn.Module
        Any module; ``torch.compile`` wrappers are unwrapped (hooks need eager
        calls).

    Attributes
    ----------
    own_recurrence : bool, default True
        Run rnndyn's LSTM recurrence instead of a CPU ``nn.LSTM``'s forward
        when ``c`` or a gate of it is captured. A class attribute: set it on
        ``TorchAdapter`` to change every capture, or on one adapter.

    Examples
    --------
    >>> import torch
    >>> from rnndyn.adapter import Batch
    >>> lstm = torch.nn.LSTM(3, 4, batch_first=True)
    >>> adapter = TorchAdapter(lstm)
    >>> [(l.name, l.type, l.n_units) for l in adapter.layers()]
    [('lstm', 'LSTM', 4)]
    >>> batch = Batch(torch.randn(2, 5, 3), None, 0)
    >>> traj = next(adapter.capture([batch], [("lstm", "h"), ("lstm", "c")]))
    >>> traj.shape
    (2, 5, 8)
    """

    framework = "torch"
    own_recurrence: bool = True
    #: input forms beyond one argument: rnndyn.Args batches and forward= (see rnndyn.adapter)
    input_forms = frozenset({"args", "forward"})

    def __init__(self, model: nn.Module) -> None:
        if not isinstance(model, nn.Module):
            raise RnndynError(
                f"model must be a torch.nn.Module; got {type(model).__name__}. Pass the module "
                "itself (an instance), e.g. TorchAdapter(nn.LSTM(3, 4))."
            )
        self.model = unwrap(model)
        self._entries = discover(self.model)
        self._embeddings = [
            (path or "model", m) for path, m in self.model.named_modules() if isinstance(m, nn.Embedding)
        ]

    def __repr__(self) -> str:
        return f"<TorchAdapter {type(self.model).__name__}: {list(self._entries)}>"

    # ------------------------------------------------------------------ layers
    def layers(self) -> list[LayerInfo]:
        """Every recurrent layer, in module order (a stacked module's name first,
        then its ``.l0``, ``.l1``, ...)."""
        return [e.info for e in self._entries.values()]

    # ------------------------------------------------------------------ inputs
    def batch_axis(self, key: int | str, value: Any) -> int | None:
        """The axis a bare recurrent module provably reads its sequences along, or ``None``.

        A model that *is* an ``nn.LSTM``/``GRU``/``RNN`` takes ``input`` of
        shape ``(sequences, steps, features)`` when ``batch_first`` and
        ``(steps, sequences, features)`` otherwise, and its state ``hx`` as
        ``(layers * directions, sequences, units)``. Anything else (a model
        containing such modules, unbatched 2-d inputs): ``None``.

        Examples
        --------
        >>> import torch
        >>> a = TorchAdapter(torch.nn.LSTM(3, 4))
        >>> a.batch_axis(0, torch.zeros(7, 2, 3)), a.batch_axis("hx", (torch.zeros(1, 2, 4),) * 2)
        (1, 1)
        """
        m = self.model
        if not isinstance(m, nn.RNNBase):
            return None
        if key in (0, "input"):
            dim = value.dim() if isinstance(value, Tensor) else getattr(value, "ndim", None)
            return (0 if m.batch_first else 1) if dim == 3 else None
        if key in (1, "hx"):
            return 1
        return None

    def split(self, inputs: Any, batch_size: int) -> Split | None:
        """Batches of a ``PackedSequence``, which the core cannot slice.

        Re-packed batches of ``batch_size`` sequences, in the original order,
        with the longest sequence of the whole input as ``n_steps``: the core
        hands it back with every batch (``Batch.n_steps``), whose
        trajectories :meth:`capture` pads to it, so every batch has the same
        number of steps. Returns ``None`` (decline) for any other input.

        Examples
        --------
        >>> import torch
        >>> from torch.nn.utils.rnn import pack_sequence
        >>> packed = pack_sequence([torch.ones(3, 2), torch.ones(1, 2), torch.ones(2, 2)],
        ...                        enforce_sorted=False)
        >>> split = TorchAdapter(torch.nn.GRU(2, 3)).split(packed, 2)
        >>> [int(b.batch_sizes[0]) for b in split.batches], split.n_steps
        ([2, 1], 3)
        """
        if not isinstance(inputs, PackedSequence):
            return None
        padded, lengths = pad_packed_sequence(inputs, batch_first=True)
        batches = (
            pack_padded_sequence(
                padded[i : i + batch_size],
                lengths[i : i + batch_size],
                batch_first=True,
                enforce_sorted=False,
            )
            for i in range(0, padded.shape[0], batch_size)
        )
        return Split(batches, int(lengths.max()) if lengths.numel() else 0)

    # ----------------------------------------------------------------- capture
    def capture(
        self,
        batches: Iterable[Batch],
        targets: Sequence[tuple[str, str]],
        *,
        device: Any = None,
    ) -> Iterator[Trajectories]:
        """Run each batch through the model and yield its trajectories.

        Parameters
        ----------
        batches : iterable of Batch
            ``Batch.data`` is what the model is called with (see
            :func:`rnndyn.adapter.call_model`): ``model(data)`` for a tensor,
            a ``PackedSequence``, a numpy array (converted; floats to the
            model's dtype), a dict, a dataclass or a tuple (one argument);
            ``model(*args, **kwargs)`` for :class:`rnndyn.Args`;
            ``batch.forward(model, data)`` when given. Arrays (also inside
            tuples, lists, dicts and dataclasses) are moved to the model's
            device. Nothing is transposed: a time-major model gets
            ``(steps, sequences, ...)`` as it takes them.
        targets : sequence of (layer, state)
            Validated pairs (see :meth:`layers`).
        device : str or torch.device, optional
            ``None``: states come back as numpy arrays, batch by batch.
            Otherwise as torch tensors on that device.

        Yields
        ------
        Trajectories
            One per batch: every target along units, in order, forward units
            before backward units; ``masked=True`` when the layers read a
            ``PackedSequence``.

        Notes
        -----
        For each batch the model is put in eval mode, hooks are installed and
        the forward pass runs under ``torch.no_grad()`` (not inference mode:
        states returned with ``device=`` stay ordinary tensors that allow
        in-place operations later); every training flag is restored and every
        hook removed in a ``finally``, also when the batch fails (the exception
        propagates unchanged). Nothing of the model's is kept between batches,
        so nothing leaks to the caller between two yields. On CPU the memory
        of a batch's states is reused for the next batch when the caller no
        longer holds them (no Trajectories, view or tensor of them left), as
        a consumer of :func:`rnndyn.iter_capture` that drops each batch does.
        """
        check_targets(targets)
        _check_weights(self.model)
        plan = Plan.build(self._entries, targets, own=bool(self.own_recurrence))
        out_device = _check_device(device)
        if isinstance(batches, Batch) or not hasattr(batches, "__iter__"):
            raise RnndynError(
                f"batches must be an iterable of rnndyn.adapter.Batch; got {type(batches).__name__}. "
                "Wrap one batch in a list: [Batch(x, None, 0)]."
            )
        return self._batches(batches, plan, out_device)

    def _batches(self, batches: Iterable[Batch], plan: Plan, out_device: Any) -> Iterator[Trajectories]:
        pool = Pool()  # a batch's result memory, reused once the caller dropped it
        self._rng = _TorchStream()
        for batch in batches:
            if not isinstance(batch, Batch):
                raise RnndynError(
                    f"batches must yield rnndyn.adapter.Batch objects; got a {type(batch).__name__}. "
                    "Use rnndyn.capture(model, inputs), which makes the batches."
                )
            yield self._one_batch(batch, plan, out_device, pool)

    def _one_batch(self, batch: Batch, plan: Plan, out_device: Any, pool: Pool) -> Trajectories:
        model = self.model
        param = next(iter(model.parameters()), None)
        _check_library(batch.data)
        dev = param.device if param is not None else torch.device("cpu")
        dtype = param.dtype if param is not None else torch.get_default_dtype()
        stores: list[list] = [[] for _ in plan.modules]
        flags = [(m, m.training) for m in model.modules()]
        handles = []
        owned = [(j, mp.module, mp.wants) for j, mp in enumerate(plan.modules) if mp.own]
        own = [j for j, mp in enumerate(plan.modules) if has_own_forward(mp.module)]  # before own_forwards
        try:
            model.eval()
            for mp, store in zip(plan.modules, stores, strict=True):
                handles.append(mp.module.register_forward_hook(make_hook(store), with_kwargs=True))
            for name, emb in self._embeddings:
                handles.append(emb.register_forward_pre_hook(_id_check(name, emb, batch.index)))
            with (
                torch.no_grad(),
                own_forwards(owned, plan.n_units, pool) as owns,
                self._rng.active(),
                record_inner([plan.modules[j].module for j in own], [stores[j] for j in own]) as recorded,
            ):
                try:
                    call_model(model, batch, lambda data: _to_device(data, dev, dtype))
                except RnndynError:
                    raise
                except Exception as exc:
                    via = (
                        "your forward= function" if batch.forward is not None else "the model's forward pass"
                    )
                    raise RnndynError(
                        f"inputs: batch {batch.index} ({describe_input(batch.data)}) does not fit the "
                        f"model: {via} raised {one_line(exc)}. {self._expects()} "
                        "Pass exactly what model(...) takes (rnndyn.Args(...) for several "
                        "arguments, batch_axis= where the sequences are not along axis 0), with "
                        "the features, dtype and value range the model was trained on."
                    ) from exc
            with torch.no_grad():
                inner = dict(zip(own, recorded, strict=True))
                states, valid, masked = self._states(batch, plan, stores, owns, pool, inner)
        finally:
            for handle in handles:
                handle.remove()
            for m, flag in flags:
                m.training = flag
            stores.clear()
        check_states_finite(states, plan.units, "")
        if out_device is None:
            states = states.cpu().numpy()
        else:
            states = states.to(out_device)
        # states checked finite just above, with a message that blames the model
        steps = Steps(valid, masked=masked)
        return Trajectories(states, units=plan.units, steps=steps, _check_finite=False)

    def _expects(self) -> str:
        """What the model's first recurrent layer takes, for error messages."""
        for e in self._entries.values():
            m = e.module
            size = getattr(m, "input_size", None)
            if size is not None:
                p = next(iter(m.parameters()), None)
                dtype = f" of dtype {p.dtype}" if p is not None else ""
                return f"Its first recurrent layer {e.name!r} ({e.info.type}) takes {size} features{dtype}."
        return ""

    def _states(
        self,
        batch: Batch,
        plan: Plan,
        stores: list[list],
        owns: dict[int, Recurrence],
        pool: Pool,
        inner: dict[int, list],
    ) -> tuple[Tensor, np.ndarray, bool]:
        """Normalise the recorded calls, check they agree, compute the states."""
        calls: list[list[FusedCall] | CellCalls] = []
        for j, (mp, store) in enumerate(zip(plan.modules, stores, strict=True)):
            name = _first_name(mp)
            if not store:
                raise RnndynError(
                    f"layer {name!r} ({type(mp.module).__name__}) was not called while the "
                    f"model ran batch {batch.index}; capture a layer the forward pass uses."
                )
            if mp.cell:
                calls.append(cell_calls(mp.module, mp.kind, store, name))
                continue
            if inner.get(j):  # what a forward of its own handed to the base class
                fc = inner_calls(mp.module, inner[j], store, name)
            else:
                fc = [fused_call(mp.module, rec, name) for rec in store]
                refuse_hidden_padding(mp.module, fc, name)
            calls.append(fc)
        B, T, valid, masked = self._shape(batch, plan, calls)
        shortcut = _shortcut(plan, calls, T)
        if shortcut is not None:
            return shortcut, valid, masked
        # modules whose every call ran rnndyn's recurrence wrote their states already
        done = {j: r.parts for j, r in owns.items() if not r.declined and len(r.parts) == len(stores[j])}
        parts = [p for ps in done.values() for p in ps]
        if len(parts) == 1 and tuple(parts[0].shape) == (B, T, plan.n_units):
            out = parts[0]
        else:
            out = new_states(B, T, plan.n_units, _reference_tensor(calls), pool)
            for j, ps in done.items():
                t0 = 0
                for p in ps:
                    for a, b in plan.modules[j].columns():
                        out[:, t0 : t0 + p.shape[1], a:b] = p[:, :, a:b]
                    t0 += p.shape[1]
        for j, (mp, c) in enumerate(zip(plan.modules, calls, strict=True)):
            if j in done:
                continue
            if isinstance(c, CellCalls):
                run_cells(mp, c, out)
                continue
            t0 = 0
            for call in c:
                width = call.width if call.width is not None else call.n_steps
                run_fused(mp, call, width, out, t0)
                t0 += width
        return out, valid, masked

    def _shape(self, batch: Batch, plan: Plan, calls: list) -> tuple[int, int, np.ndarray, bool]:
        """Batch size, steps, real steps ``(B, T)`` and masking, the same for every target."""
        seen: list[tuple[str, int, int, np.ndarray, bool]] = []
        for mp, c in zip(plan.modules, calls, strict=True):
            name = _first_name(mp)
            if isinstance(c, CellCalls):
                seen.append((name, c.n_batch, c.n_steps, np.ones((c.n_batch, c.n_steps), bool), False))
                continue
            Bs = {call.n_batch for call in c}
            if len(Bs) > 1:
                raise RnndynError(
                    f"layer {name!r} was called with batch sizes {sorted(Bs)} in one forward "
                    "pass; its calls must carry the same sequences to be joined along steps."
                )
            T, valid, masked = join_calls(c, name, mp.directions, batch.n_steps)
            seen.append((name, c[0].n_batch, T, valid, masked))
        name0, B, T, valid, masked = seen[0]
        for name, b, t, v, m in seen[1:]:
            if (b, t) != (B, T) or m != masked:
                raise RnndynError(
                    f"layers {name0!r} and {name!r} cannot be captured together: they ran "
                    f"{B} x {T} and {b} x {t} (sequences x steps), masked={masked} and "
                    f"masked={m}. Capture them in separate calls."
                )
            if not np.array_equal(v, valid):
                raise RnndynError(
                    f"layers {name0!r} and {name!r} read PackedSequences of different lengths "
                    "in one forward pass; capture them in separate calls."
                )
        if masked:
            if batch.lengths is not None:
                given = np.asarray(batch.lengths)
                got = valid.sum(axis=1)
                right = np.array_equal(valid, np.arange(T)[None, :] < got[:, None])
                if not right or given.shape != got.shape or not np.array_equal(given, got):
                    i = _first_difference(given, got) if right else "the padding is not only at the end"
                    raise RnndynError(
                        f"lengths disagree with the PackedSequence in batch {batch.index}: "
                        f"{i}; the model skipped the padding of the packed batch, so its "
                        "lengths are the real ones. Drop `lengths=` (they are read from the "
                        "PackedSequence) or fix them."
                    )
            return B, T, valid, True
        if batch.lengths is not None:
            given = np.asarray(batch.lengths, dtype=np.int64)
            if given.shape != (B,):
                raise RnndynError(
                    f"lengths for batch {batch.index} must have one entry per sequence ({B}); "
                    f"got shape {given.shape}."
                )
            given = check_lengths(given, B, T)
            return B, T, np.arange(T)[None, :] < given[:, None], False
        return B, T, np.ones((B, T), dtype=bool), False


class _TorchStream:
    """The torch random stream of one capture (CPU, and every CUDA device once CUDA is up).

    A model that samples draws from a stream that starts where the user's
    generator stood and runs on from batch to batch; around each batch the
    user's state is put back, so the capture leaves torch's generators as it
    found them.
    """

    def __init__(self) -> None:
        self.cpu = torch.random.get_rng_state()
        self.cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None

    @contextmanager
    def active(self) -> Iterator[None]:
        user_cpu = torch.random.get_rng_state()
        cuda_up = torch.cuda.is_initialized()
        user_cuda = torch.cuda.get_rng_state_all() if cuda_up else None
        torch.random.set_rng_state(self.cpu)
        if cuda_up and self.cuda is not None:
            torch.cuda.set_rng_state_all(self.cuda)
        try:
            yield
        finally:
            self.cpu = torch.random.get_rng_state()
            torch.random.set_rng_state(user_cpu)
            if torch.cuda.is_initialized():
                self.cuda = torch.cuda.get_rng_state_all()
                if user_cuda is not None:
                    torch.cuda.set_rng_state_all(user_cuda)


#: array libraries whose arrays a PyTorch model cannot take
_FOREIGN = ("tensorflow", "jax", "jaxlib", "keras", "tf_keras", "dask", "cupy", "mlx")


def _check_library(data: Any) -> None:
    """Refuse arrays of another framework (a tf.Tensor given to a torch model)."""
    for _, x in leaves(data, "inputs"):
        lib = type(x).__module__.split(".")[0]
        if lib in _FOREIGN:
            raise RnndynError(
                f"inputs: a batch is a {type(x).__module__}.{type(x).__qualname__}, an array of "
                f"{lib}, but the model is a PyTorch module. Pass torch tensors or numpy arrays "
                "(e.g. np.asarray(x), or x.numpy() for a TensorFlow tensor)."
            )


def _check_weights(model: nn.Module) -> None:
    """Refuse a model without real weights: on the meta device, or lazy (uninitialised)."""
    from torch.nn.parameter import is_lazy

    for name, p in model.named_parameters():
        if is_lazy(p):
            raise RnndynError(
                f"model: parameter {name!r} is lazy (not initialised yet), so the model has no "
                "trained weights; run the model once on an example and load its weights first."
            )
        if p.is_meta:
            raise RnndynError(
                f"model: parameter {name!r} is on the 'meta' device, so the model has no weights, "
                "only shapes. Load them first, e.g. model.to_empty(device='cpu') and then "
                "model.load_state_dict(...)."
            )


def _check_device(device: Any) -> torch.device | None:
    """``device=`` as a torch.device that exists on this machine (``None``: numpy results)."""
    if device is None:
        return None
    if isinstance(device, bool) or not isinstance(device, str | int | torch.device):
        raise RnndynError(
            f"device must be None (numpy results) or a torch device such as 'cpu' or 'cuda:0'; "
            f"got {type(device).__name__} {device!r:.40}."
        )
    try:
        dev = torch.device(device)
    except Exception as exc:
        raise RnndynError(
            f"device={device!r} is not a torch device ({one_line(exc)}); use None (numpy "
            "results), 'cpu', 'cuda' or 'cuda:0'."
        ) from None
    if dev.type == "meta":
        raise RnndynError("device='meta' would return states without data; use None, 'cpu' or 'cuda'.")
    if dev.type == "cuda":
        n = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if n == 0 or (dev.index is not None and dev.index >= n):
            raise RnndynError(
                f"device={device!r}, but this machine has {n} CUDA device(s) torch can use; "
                "use device=None (numpy) or 'cpu'" + (f", or 'cuda:0'..'cuda:{n - 1}'." if n else ".")
            )
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise RnndynError(f"device={device!r}, but MPS is not available here; use None or 'cpu'.")
    return dev


def _id_check(name: str, emb: nn.Embedding, index: int) -> Any:
    """A forward pre-hook that refuses token ids outside an embedding's table."""
    size = int(emb.num_embeddings)

    def hook(module: nn.Module, args: tuple) -> None:
        ids = args[0] if args else None
        if not isinstance(ids, Tensor) or ids.is_floating_point() or ids.numel() == 0 or ids.is_meta:
            return
        bad = (ids < 0) | (ids >= size)
        if bool(bad.any()):
            where = tuple(int(i) for i in bad.nonzero()[0].tolist())
            n_bad = int(bad.sum())
            raise RnndynError(
                f"inputs: batch {index} holds the token id {int(ids[where])} at position {where} "
                f"(sequence, step) of the ids embedding {name!r} reads, but that embedding has "
                f"{size} entries (ids 0..{size - 1}); {n_bad} id(s) are out of range. Map the "
                "ids with the vocabulary the model was trained with (unknown tokens to its "
                "out-of-vocabulary id)."
            )

    return hook


def _first_name(mp: Any) -> str:
    return next(iter(mp.wants.values()))[0][2].name


def _first_difference(given: np.ndarray, got: np.ndarray) -> str:
    if given.shape != got.shape:
        return f"lengths= has shape {given.shape}, the batch holds {got.shape[0]} sequences"
    i = int(np.flatnonzero(given != got)[0])
    return f"sequence {i} has length {int(given[i])} in lengths= but {int(got[i])} when packed"


def _reference_tensor(calls: list) -> Tensor:
    c = calls[0]
    if isinstance(c, CellCalls):
        return c.h[0]
    out = c[0].out
    return out.data if isinstance(out, PackedSequence) else out


def _shortcut(plan: Plan, calls: list, T: int) -> Tensor | None:
    """A lone top-layer ``h`` of one tensor call is the module's output: no copy."""
    if len(plan.modules) != 1 or isinstance(calls[0], CellCalls) or len(calls[0]) != 1:
        return None
    mp, call = plan.modules[0], calls[0][0]
    items = [it for its in mp.wants.values() for it in its]
    if len(items) != 1 or items[0][0] != "h" or mp.top not in mp.wants:
        return None
    if call.lengths is not None:
        return pad_packed_sequence(call.out, batch_first=True, total_length=T)[0]
    return call.out if mp.module.batch_first else call.out.transpose(0, 1)


def _to_device(data: Any, device: torch.device, dtype: torch.dtype) -> Any:
    """Move tensors (in tuples, lists and dicts too) to ``device``; numpy becomes torch."""
    if isinstance(data, (Tensor, PackedSequence)):
        return data.to(device)
    if isinstance(data, np.ndarray):
        t = torch.from_numpy(np.ascontiguousarray(data))
        if t.is_floating_point():
            t = t.to(dtype)
        return t.to(device)
    if type(data) is tuple:
        return tuple(_to_device(d, device, dtype) for d in data)
    if type(data) is list:
        return [_to_device(d, device, dtype) for d in data]
    if type(data) is dict:
        return {k: _to_device(v, device, dtype) for k, v in data.items()}
    if isinstance(data, Args):
        return Args(*_to_device(data.args, device, dtype), **_to_device(data.kwargs, device, dtype))
    if isinstance(data, tuple) and hasattr(type(data), "_fields"):  # a named tuple
        return type(data)(*(_to_device(v, device, dtype) for v in data))
    if dataclasses.is_dataclass(data) and not isinstance(data, type):
        fields = [f.name for f in dataclasses.fields(data) if f.init]
        return dataclasses.replace(data, **{f: _to_device(getattr(data, f), device, dtype) for f in fields})
    return data
