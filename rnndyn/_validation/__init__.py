"""Argument and value checks, in one place: errors that name the argument.

Every public function funnels its inputs through these helpers so that a bad
input always produces the same kind of message: the argument, what was
expected, what was received, and what to do about it.

* :mod:`._text`: how a received value or a framework's exception is shown;
* :mod:`._arrays`: arrays: conversion to numpy, states arrays, NaN and
  infinity (:func:`first_nonfinite` is the one search for them);
* :mod:`._scalars`: flags, numbers, choices, lag windows, ``batch_axis=``;
* :mod:`._lengths`: the real steps of each sequence (``lengths``), of
  trajectories and of capture inputs.
"""

from __future__ import annotations

from ._arrays import (
    array_namespace,
    as_numpy,
    check_array_data,
    check_finite,
    check_states,
    check_states_finite,
    dtype_kind,
    first_nonfinite,
    real_array,
    to_numpy,
)
from ._lengths import check_end_of_input, check_lengths, check_lengths_arg
from ._scalars import (
    REGIONS,
    check_batch_axis,
    check_bool,
    check_choice,
    check_float,
    check_int,
    check_lag_window,
    check_max_lag,
    check_region,
)
from ._text import describe, one_line

__all__ = [
    "REGIONS",
    "array_namespace",
    "as_numpy",
    "check_array_data",
    "check_batch_axis",
    "check_bool",
    "check_choice",
    "check_end_of_input",
    "check_finite",
    "check_float",
    "check_int",
    "check_lag_window",
    "check_lengths",
    "check_lengths_arg",
    "check_max_lag",
    "check_region",
    "check_states",
    "check_states_finite",
    "describe",
    "dtype_kind",
    "first_nonfinite",
    "one_line",
    "real_array",
    "to_numpy",
]
