"""The vector bond correlation of chains whose bonds square to under- or overflow."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from rnndyn import physics


@pytest.mark.parametrize("scale", [1e-170, 1e-160, 1.0, 1e160, 1e200])
def test_straight_chain_is_perfectly_correlated_at_any_scale(scale):
    rng = np.random.default_rng(0)
    direction = rng.normal(size=3)
    x = np.cumsum(np.broadcast_to(direction * scale, (2, 12, 3)), axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow/underflow warning leaks out
        rho = physics.bond_correlation(x, per="vector")
    np.testing.assert_allclose(rho, 1.0, rtol=1e-12)


def test_alternating_chain_anticorrelates_at_tiny_scale():
    step = np.array([1.0, -2.0]) * 1e-160
    bonds = np.array([step if t % 2 == 0 else -step for t in range(10)])
    x = np.concatenate([np.zeros((1, 2)), np.cumsum(bonds, axis=0)])[None]
    rho = physics.bond_correlation(x, per="vector", max_lag=3)
    np.testing.assert_allclose(rho, [1.0, -1.0, 1.0, -1.0], rtol=1e-12)
