"""The step model: which steps of a trajectory are real, and in what order each
unit group processed them.

Everything rnndyn says about "input" vs "padding", processing order, the end
of input and relaxation derives from one :class:`Steps` object:

* ``valid`` -- bool ``(n_sequences, n_steps)``, indexed by input position:
  ``valid[i, t]`` is True when position ``t`` of sequence ``i`` holds a real
  input (False: padding, wherever it is -- at the end, at the start, or in the
  middle of a trajectory joined from several calls).
* a *processing order* per (layer, direction): ``order[i, k]`` is the input
  position of the ``k``-th state that recurrence computed, a permutation of
  ``0 .. n_steps - 1`` per sequence. Default orders follow from the direction
  and whether the layer is ``masked`` (skips padding, e.g. Keras masking or
  PyTorch packed sequences):

  ============  ===============================  ==================================
  direction     unmasked (reads every step)       masked (skips padding)
  ============  ===============================  ==================================
  forward       ``0, 1, ..., T - 1``              real positions ascending, then the
                                                  padding positions ascending
  backward      ``T - 1, ..., 1, 0``              real positions descending, then the
                                                  padding positions ascending
  ============  ===============================  ==================================

  Any other order (e.g. a reverse pass that reads the real steps backwards and
  then the padding backwards) is given explicitly with ``orders=``.

The rule for regions. A step delta joins two stored steps. It is an *input*
delta when the two are consecutive in the unit's processing order and the
later of the two (the state the recurrence computed) read a real input; every
other delta is a *padding* delta (driven by padding, or joining states that
are not consecutive in processing order). A state is an input state when its
position is valid.

Examples
--------
>>> import numpy as np
>>> steps = Steps.from_lengths([3, 1], 4, masked=True)
>>> steps.order("enc", "backward").tolist()
[[2, 1, 0, 3], [0, 1, 2, 3]]
>>> steps.lengths.tolist()
[3, 1]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ._validation import as_numpy, check_bool, check_choice, check_int, check_lengths, check_region, describe
from .errors import RnndynError

__all__ = [
    "Steps",
    "DIRECTIONS",
    "ARRANGEMENTS",
    "delta_region",
    "delta_region_mask",
    "step_region",
    "end_index",
    "rank",
]

DIRECTIONS = ("forward", "backward")
ARRANGEMENTS = ("input", "processing")
Key = tuple[str, str]


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.setflags(write=False)
    return a


def _check_valid(valid: Any) -> np.ndarray:
    expect = "valid must be a bool array of shape (n_sequences, n_steps)"
    if valid is None or isinstance(valid, str | bytes | Mapping):
        raise RnndynError(f"{expect}; got {describe(valid)}.")
    arr = as_numpy(valid, "valid", expect)
    if arr.ndim != 2:
        raise RnndynError(f"{expect}; got shape {arr.shape}.")
    if arr.dtype.kind != "b":
        raise RnndynError(
            f"{expect}; got dtype {arr.dtype}. Pass a boolean mask (True = real input step), "
            "e.g. tokens != pad_id."
        )
    return _frozen(arr.copy())


def _check_masked(masked: Any) -> bool | dict[str, bool]:
    if isinstance(masked, Mapping):
        out = {}
        for layer, m in masked.items():
            if not isinstance(layer, str):
                raise RnndynError(f"masked: keys must be layer names (str); got {describe(layer)}.")
            out[layer] = check_bool(m, f"masked[{layer!r}]")
        return out
    return check_bool(masked, "masked")


def _check_order(key: Any, order: Any, shape: tuple[int, int]) -> tuple[Key, np.ndarray]:
    if (
        not isinstance(key, tuple)
        or len(key) != 2
        or not all(isinstance(k, str) for k in key)
        or key[1] not in DIRECTIONS
    ):
        raise RnndynError(
            f"orders: keys must be (layer, direction) pairs with direction 'forward' or 'backward'; "
            f"got {key!r}."
        )
    expect = f"orders[{key!r}] must be an int array of shape {shape} (a permutation of steps per row)"
    arr = as_numpy(order, f"orders[{key!r}]", expect)
    if arr.shape != shape or (arr.size and arr.dtype.kind not in "iu"):
        raise RnndynError(f"{expect}; got shape {arr.shape}, dtype {arr.dtype}.")
    arr = arr.astype(np.int64)
    if arr.size and not np.array_equal(np.sort(arr, axis=1), np.broadcast_to(np.arange(shape[1]), shape)):
        bad = int(np.flatnonzero(~np.all(np.sort(arr, axis=1) == np.arange(shape[1]), axis=1))[0])
        raise RnndynError(
            f"{expect}; row {bad} is {arr[bad].tolist()[:12]}, which does not list every step "
            "exactly once. A processing order lists each input position once, in the order computed."
        )
    return key, _frozen(arr)


def rank(order: np.ndarray) -> np.ndarray:
    """Inverse permutation: ``rank[i, order[i, k]] = k`` (processing index of each position)."""
    out = np.empty_like(order)
    np.put_along_axis(out, order, np.broadcast_to(np.arange(order.shape[1]), order.shape), axis=1)
    return out


def _gather(a: np.ndarray, idx: np.ndarray) -> np.ndarray:
    return np.take_along_axis(a, idx, axis=1)


def delta_region(order: np.ndarray, valid: np.ndarray, region: str, arrangement: str = "input") -> np.ndarray:
    """Deltas of one unit group inside ``region``: bool ``(n, n_steps - 1)``.

    ``arrangement`` says how the states are stored: by input position, or in
    the group's processing order (stored step ``k`` is position ``order[:, k]``).
    See the module docstring for the rule.
    """
    n, T = valid.shape
    if region == "all" or T < 2:
        return np.ones((n, max(T - 1, 0)), dtype=bool)
    one = _shared(order)
    if arrangement == "processing":
        is_input = valid[:, one[1:]] if one is not None else _gather(valid, order[:, 1:])
    else:
        r = np.argsort(one)[None, :] if one is not None else rank(order)
        ra, rb = r[:, :-1], r[:, 1:]
        t = np.arange(T - 1)[None, :]
        dest = np.where(rb > ra, t + 1, t)
        near = np.abs(rb - ra) == 1
        is_input = near & (valid[:, dest[0]] if one is not None else _gather(valid, dest))
    return is_input if region == "input" else ~is_input


def _shared(order: np.ndarray) -> np.ndarray | None:
    """The one order of every sequence when ``order`` is a broadcast row (no copy), else None."""
    if order.ndim == 2 and order.shape[0] and order.strides[0] == 0:
        return np.asarray(order[0])
    return None


def step_region(order: np.ndarray, valid: np.ndarray, region: str, arrangement: str = "input") -> np.ndarray:
    """States of one unit group that read a real input (``"input"``) or padding: ``(n, n_steps)``."""
    if region == "all":
        return np.ones(valid.shape, dtype=bool)
    one = _shared(order)
    if arrangement == "input":
        real = valid
    else:
        real = valid[:, one] if one is not None else _gather(valid, order)
    return real if region == "input" else ~real


def end_index(order: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Processing index of each sequence's last real state, ``(n,)``; -1 where there is none."""
    real = _gather(valid, order)
    T = real.shape[1]
    last = T - 1 - np.argmax(real[:, ::-1], axis=1)
    return np.where(real.any(axis=1), last, -1)


def delta_region_mask(
    lengths: np.ndarray,
    n_steps: int,
    *,
    region: str,
    direction: str = "forward",
    order: str = "input",
    masked: bool = False,
) -> np.ndarray:
    """Which step deltas of right-padded sequences belong to a region, ``(n_sequences, n_steps - 1)``.

    The delta ``d[i, t] = x[i, t+1] - x[i, t]`` is an *input* delta when the
    change it measures was driven by reading a real input position, and a
    *padding* delta otherwise (the general rule, for padding anywhere, is in
    :mod:`rnndyn.steps`):

    * forward units (and masked backward units, in either order): driven by
      position ``t + 1``, input when ``t + 1 < lengths[i]``;
    * unmasked backward units in input order: the backward recurrence goes
      from ``x[t+1]`` to ``x[t]`` by reading position ``t``: input when
      ``t < lengths[i]``;
    * unmasked backward units in processing order (step ``k`` is input
      position ``n_steps - 1 - k``): input when ``k >= n_steps - 1 - lengths[i]``.

    Examples
    --------
    >>> import numpy as np
    >>> delta_region_mask(np.array([3]), 5, region="input").astype(int)
    array([[1, 1, 0, 0]])
    """
    check_region(region)
    check_choice(direction, "direction", DIRECTIONS)
    check_choice(order, "order", ARRANGEMENTS)
    masked = check_bool(masked, "masked")
    n_steps = check_int(n_steps, "n_steps", minimum=0)
    steps = Steps.from_lengths(lengths, n_steps, masked=masked)
    return steps.delta_region("", direction, region, order)


class Steps:
    """Which steps are real input, and the processing order of every unit group.

    Parameters
    ----------
    valid : bool array of shape (n_sequences, n_steps)
        True where the input position holds a real input.
    masked : bool or dict of layer name -> bool, default False
        Whether the recurrence skipped the padding (one answer for every
        layer, or one per layer; layers not in the dict are unmasked).
    orders : dict of (layer, direction) -> int array (n_sequences, n_steps), optional
        Explicit processing orders (each row a permutation of the steps) for
        groups the default rules do not describe.

    Examples
    --------
    >>> import numpy as np
    >>> valid = np.array([[True, True, False, False, True, True]])   # padding in the middle
    >>> Steps(valid, masked=True).order("lstm", "forward").tolist()
    [[0, 1, 4, 5, 2, 3]]
    """

    __slots__ = ("valid", "masked", "orders", "_cache")

    valid: np.ndarray
    masked: bool | dict[str, bool]
    orders: dict[Key, np.ndarray]

    def __init__(self, valid: Any, *, masked: Any = False, orders: Mapping[Any, Any] | None = None) -> None:
        valid = _check_valid(valid)
        if orders is not None and not isinstance(orders, Mapping):
            raise RnndynError(
                f"orders must be a dict of (layer, direction) -> array; got {describe(orders)}."
            )
        object.__setattr__(self, "valid", valid)
        object.__setattr__(self, "masked", _check_masked(masked))
        checked = dict(_check_order(k, v, valid.shape) for k, v in (orders or {}).items())
        object.__setattr__(self, "orders", checked)
        object.__setattr__(self, "_cache", {})

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Steps is immutable")

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle (e.g. to a Dask worker) through the constructor: the slots are immutable."""
        return (_rebuild, (self.valid, self.masked, self.orders))

    @classmethod
    def from_lengths(
        cls, lengths: Any, n_steps: int, *, masked: Any = False, n_sequences: int | None = None
    ) -> Steps:
        """Right-padded sequences: the first ``lengths[i]`` steps are real.

        ``n_sequences`` (default: as many as ``lengths`` has) is checked against it.
        """
        if lengths is None:
            raise RnndynError("Steps.from_lengths() needs lengths; for all-real steps use Steps.full(n, T).")
        n = n_sequences if n_sequences is not None else (len(lengths) if np.ndim(lengths) == 1 else 1)
        L = check_lengths(lengths, n, n_steps)
        return cls(np.arange(n_steps)[None, :] < L[:, None], masked=masked)

    @classmethod
    def full(cls, n_sequences: int, n_steps: int, *, masked: Any = False) -> Steps:
        """Every step of every sequence is real."""
        return cls(np.ones((n_sequences, n_steps), dtype=bool), masked=masked)

    # ------------------------------------------------------------------ facts
    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.valid.shape[0]), int(self.valid.shape[1]))

    @property
    def lengths(self) -> np.ndarray:
        """Real steps per sequence, ``(n_sequences,)`` int64."""
        if "lengths" not in self._cache:
            self._cache["lengths"] = _frozen(self.valid.sum(axis=1, dtype=np.int64))
        return self._cache["lengths"]

    @property
    def right_padded(self) -> bool:
        """Every sequence is its real steps followed by padding (what ``lengths`` alone describes)."""
        if "right" not in self._cache:
            n, T = self.shape
            self._cache["right"] = bool(
                np.array_equal(self.valid, np.arange(T)[None, :] < self.lengths[:, None])
            )
        return self._cache["right"]

    def masked_for(self, layer: str) -> bool:
        """Whether ``layer`` skipped the padding."""
        m = self.masked
        return bool(m.get(layer, False)) if isinstance(m, dict) else bool(m)

    def rule(self, layer: str, direction: str) -> tuple[Any, ...]:
        """A hashable name of the order of (layer, direction): groups with equal rules share it."""
        if (layer, direction) in self.orders:
            return ("explicit", layer, direction)
        return (direction, self.masked_for(layer))

    def order(self, layer: str, direction: str) -> np.ndarray:
        """Processing order of (layer, direction): int ``(n_sequences, n_steps)``, read-only."""
        check_choice(direction, "direction", DIRECTIONS)
        key = self.rule(layer, direction)
        if key not in self._cache:
            self._cache[key] = self.orders.get((layer, direction))
            if self._cache[key] is None:
                order = self._default_order(direction, key[1])
                self._cache[key] = order if _shared(order) is not None else _frozen(order)
        return self._cache[key]

    def _default_order(self, direction: str, masked: bool) -> np.ndarray:
        n, T = self.shape
        t = np.broadcast_to(np.arange(T), (n, T))
        if not masked or (direction == "forward" and self.right_padded):  # one shared row, no copy
            return np.broadcast_to(np.arange(T) if direction == "forward" else np.arange(T)[::-1], (n, T))
        real_first = np.argsort(~self.valid, axis=1, kind="stable")  # real ascending, then padding
        if direction == "forward":
            return real_first
        L = self.lengths[:, None]
        return np.take_along_axis(real_first, np.where(t < L, L - 1 - t, t), axis=1)

    # ------------------------------------------------------------ derived
    def delta_region(self, layer: str, direction: str, region: str, arrangement: str = "input") -> np.ndarray:
        """See :func:`delta_region`."""
        check_region(region)
        check_choice(arrangement, "arrangement", ARRANGEMENTS)
        return delta_region(self.order(layer, direction), self.valid, region, arrangement)

    def pad_to(self, n_steps: int) -> Steps:
        """The same steps followed by padding up to ``n_steps`` (added positions are processed last)."""
        n, T = self.shape
        if n_steps < T:
            raise RnndynError(f"pad_to(): n_steps={n_steps} is fewer than the {T} steps already there.")
        valid = np.zeros((n, n_steps), dtype=bool)
        valid[:, :T] = self.valid
        extra = np.broadcast_to(np.arange(T, n_steps), (n, n_steps - T))
        orders = {k: np.concatenate([v, extra], axis=1) for k, v in self.orders.items()}
        return Steps(valid, masked=self.masked, orders=orders)

    def take(self, idx: np.ndarray) -> Steps:
        """The steps of some sequences (int positions, already checked)."""
        orders = {k: v[idx] for k, v in self.orders.items()}
        return Steps(self.valid[idx], masked=self.masked, orders=orders)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Steps):
            return NotImplemented
        return (
            np.array_equal(self.valid, other.valid)
            and self.masked == other.masked
            and self.orders.keys() == other.orders.keys()
            and all(np.array_equal(v, other.orders[k]) for k, v in self.orders.items())
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        n, T = self.shape
        kind = "right-padded" if self.right_padded else "padding anywhere"
        extra = f", explicit orders for {sorted(self.orders)}" if self.orders else ""
        return f"<Steps {n} sequences x {T} steps, {kind}, masked={self.masked}{extra}>"


def _rebuild(valid: np.ndarray, masked: Any, orders: dict[Key, np.ndarray]) -> Steps:
    return Steps(valid, masked=masked, orders=orders)
