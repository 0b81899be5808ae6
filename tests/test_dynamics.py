"""rnndyn.dynamics against analytic cases, brute force and finite differences."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.optimize

import rnndyn.dynamics as dynamics
from rnndyn import RnndynError, Trajectories
from rnndyn.dynamics import GRUCell, LSTMCell, RNNCell, StepCell

ROOT = Path(__file__).resolve().parents[1]


def tau_of(lam: float) -> float:
    return -1.0 / np.log(abs(lam))


# ----------------------------------------------------------------- linear RNN
def linear_cell(W: np.ndarray, U: np.ndarray) -> RNNCell:
    return RNNCell(U, W, activation="linear")


def test_linear_rnn_fixed_point_jacobian_and_spectrum_are_exact() -> None:
    rng = np.random.default_rng(1)
    W = rng.normal(size=(4, 4))
    W *= 0.8 / np.max(np.abs(np.linalg.eigvals(W)))
    U = rng.normal(size=(4, 3))
    X = rng.normal(size=(5, 3))
    fps = dynamics.fixed_points(linear_cell(W, U), X, rng.normal(size=(6, 4)))
    assert len(fps) == 5 and (fps.table["kind"] == "fixed").all()
    assert (fps.starts["status"] == "fixed").all()
    for k in range(5):
        x = fps.inputs[k]
        np.testing.assert_allclose(fps.states[k], np.linalg.solve(np.eye(4) - W, U @ x), atol=1e-8)
        np.testing.assert_allclose(fps.jacobians[k], W, atol=1e-12)
    lam = np.linalg.eigvals(W)
    lam = lam[np.argsort(-np.abs(lam))]
    np.testing.assert_allclose(np.abs(fps.eigenvalues[0]), np.abs(lam), atol=1e-10)
    assert (fps.table["stability"] == "stable").all()
    lin = dynamics.linearize(linear_cell(W, U), fps.states[0], fps.inputs[0])
    np.testing.assert_allclose(lin.tau, -1 / np.log(np.abs(lam)), rtol=1e-10)
    np.testing.assert_allclose(
        lin.jacobian @ lin.eigenvectors, lin.eigenvectors * lin.eigenvalues, atol=1e-10
    )


def _relaxing_linear_rnn(seed: int = 0) -> tuple[RNNCell, np.ndarray, np.ndarray, np.ndarray]:
    """h' = W h + U x with modes v0 = e0 + e1 (0.9), v1 = e1 (0.6), v2 = e2 (0.8); simulated."""
    W = np.array([[0.9, 0.0, 0.0], [0.3, 0.6, 0.0], [0.0, 0.0, 0.8]])
    U = np.array([[1.0, 0.5], [-0.5, 1.0], [0.7, 0.3]])
    cell = linear_cell(W, U)
    rng = np.random.default_rng(seed)
    n, T = 40, 100
    lengths = rng.integers(5, 20, size=n)
    pad = np.array([0.3, -0.2])
    x = np.where((np.arange(T)[None, :] < lengths[:, None])[..., None], rng.normal(size=(n, T, 2)), pad)
    h = np.zeros((n, 3))
    states = np.empty((n, T, 3))
    for t in range(T):
        h = cell.step(h, x[:, t])
        states[:, t] = h
    return cell, states, lengths, pad


def test_predicted_relaxation_matches_measured_on_a_linear_rnn() -> None:
    cell, states, lengths, pad = _relaxing_linear_rnn()
    fps = dynamics.fixed_points(cell, pad, states)
    assert len(fps) == 1
    h_star = np.linalg.solve(np.eye(3) - cell.W_hh, cell.W_ih @ pad)
    np.testing.assert_allclose(fps.states[0], h_star, atol=1e-12)
    traj = Trajectories(states, lengths=lengths)
    out = dynamics.predicted_relaxation(cell, fps.states[0], pad, measured=traj, start=40, stop=80)
    assert list(out["state"]) == ["h"] * 3 and list(out["index"]) == [0, 1, 2]
    expected = [tau_of(0.9), tau_of(0.9), tau_of(0.8)]
    np.testing.assert_allclose(out["tau_predicted"], expected, rtol=1e-12)
    # units 0 and 2 see one mode each: the measured fit is exact
    np.testing.assert_allclose(out["tau_measured"][[0, 2]], out["tau_predicted"][[0, 2]], rtol=1e-8)
    # unit 1 mixes 0.9 and 0.6; by offset 40 the fast mode is (2/3)^40 ~ 1e-7 of the slow one
    np.testing.assert_allclose(out["tau_measured"][1], out["tau_predicted"][1], rtol=1e-5)
    assert out["mode"].tolist() == [0, 0, 1]
    np.testing.assert_allclose(out["share"], [1.0, 1 / 3, 1.0], rtol=1e-12)
    # the share-weighted mix of unit 1: (1/3) tau(0.9) + (2/3) tau(0.6)
    np.testing.assert_allclose(out["tau_weighted"][1], tau_of(0.9) / 3 + 2 * tau_of(0.6) / 3, rtol=1e-12)


def test_predicted_msd_plateau_solves_lyapunov_and_matches_simulation() -> None:
    W = np.array([[0.9, 0.1], [0.0, 0.5]])
    cell = linear_cell(W, np.zeros((2, 1)))
    Q = np.array([[1.0, 0.3], [0.3, 0.5]])
    out = dynamics.predicted_msd_plateau(cell, np.zeros(2), noise_cov=Q)
    P = sum(np.linalg.matrix_power(W, k) @ Q @ np.linalg.matrix_power(W, k).T for k in range(400))
    np.testing.assert_allclose(out["variance"], np.diag(P), rtol=1e-10)
    np.testing.assert_allclose(out["msd_plateau_predicted"], 2 * np.diag(P), rtol=1e-10)
    rng = np.random.default_rng(3)
    n, T = 300, 400
    L = np.linalg.cholesky(Q)
    h = rng.normal(size=(n, 2)) @ np.linalg.cholesky(P).T  # start stationary
    states = np.empty((n, T, 2))
    for t in range(T):
        h = h @ W.T + rng.normal(size=(n, 2)) @ L.T
        states[:, t] = h
    got = dynamics.predicted_msd_plateau(cell, np.zeros(2), noise_cov=Q, measured=states, lags=(100, 150))
    np.testing.assert_allclose(got["msd_plateau_measured"], got["msd_plateau_predicted"], rtol=0.05)


# ----------------------------------------------------------- 1-unit tanh RNN
@pytest.mark.parametrize("w", [0.5, 0.9, 1.2, 2.0, 3.0])
def test_one_unit_tanh_pitchfork(w: float) -> None:
    cell = RNNCell(np.zeros((1, 0)), np.array([[w]]))
    fps = dynamics.fixed_points(cell, initial=np.linspace(-2, 2, 41)[:, None])
    h = fps.states[:, 0]
    if w < 1:
        assert len(fps) == 1 and abs(h[0]) < 1e-10
        assert fps.table["stability"].tolist() == ["stable"]
        return
    # h* = tanh(w h*) > 0, found independently by bisection
    h_star = scipy.optimize.brentq(lambda v: np.tanh(w * v) - v, 1e-3, 1.0, xtol=1e-15)
    np.testing.assert_allclose(h, [-h_star, 0.0, h_star], atol=1e-10)
    assert fps.table["stability"].tolist() == ["stable", "unstable", "stable"]
    assert fps.table["n_unstable"].tolist() == [0, 1, 0]
    np.testing.assert_allclose(fps.table["spectral_radius"], [w * (1 - h_star**2), w, w * (1 - h_star**2)])


# ------------------------------------------------------------- Jacobians (FD)
def _cells(rng: np.random.Generator, H: int = 5, n_in: int = 3) -> dict[str, object]:
    n = rng.normal
    return {
        "lstm": LSTMCell(n(size=(4 * H, n_in)), n(size=(4 * H, H)), n(size=4 * H)),
        "gru": GRUCell(n(size=(3 * H, n_in)), n(size=(3 * H, H)), n(size=3 * H), n(size=3 * H)),
        "gru_reset_before": GRUCell(
            n(size=(3 * H, n_in)), n(size=(3 * H, H)), n(size=3 * H), n(size=3 * H), reset_after=False
        ),
        "rnn_tanh": RNNCell(n(size=(H, n_in)), n(size=(H, H)), n(size=H)),
        "rnn_relu": RNNCell(n(size=(H, n_in)), n(size=(H, H)), n(size=H), activation="relu"),
    }


def _fd(f, s: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    return np.stack([(f(s + eps * e) - f(s - eps * e)) / (2 * eps) for e in np.eye(s.size)], axis=-1)


@pytest.mark.parametrize("kind", ["lstm", "gru", "gru_reset_before", "rnn_tanh", "rnn_relu"])
def test_jacobian_matches_central_differences_numpy_and_torch(kind: str) -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    cell = _cells(rng)[kind]
    for _ in range(3):
        s, x = rng.normal(size=cell.dim), rng.normal(size=cell.input_size)
        J = cell.jacobian(s, x)
        np.testing.assert_allclose(J, _fd(lambda v, x=x: cell.step(v, x), s), atol=1e-6)
        tcell = type(cell)(**_torch_weights(cell, torch))
        Jt = tcell.jacobian(torch.tensor(s), torch.tensor(x))
        assert isinstance(Jt, torch.Tensor) and Jt.dtype == torch.float64
        np.testing.assert_allclose(
            Jt.numpy(), _fd(lambda v, c=tcell, x=x: c.step(torch.tensor(v), x).numpy(), s), atol=1e-6
        )
        np.testing.assert_allclose(Jt.numpy(), J, atol=1e-12)


def _torch_weights(cell, torch) -> dict:
    out = {}
    for name in ("W_ih", "W_hh", "b", "b_ih", "b_hh"):
        if hasattr(cell, name):
            out[name] = torch.tensor(getattr(cell, name))
    for name in ("activation", "reset_after"):
        if hasattr(cell, name):
            out[name] = getattr(cell, name)
    return out


def test_lstm_reduced_system_is_the_derivative_of_its_residual() -> None:
    cell = _cells(np.random.default_rng(2))["lstm"]
    h, x = np.random.default_rng(3).normal(size=(2, 5)), np.ones((2, 3))
    _, A = cell._system(h, x)
    for k in range(2):
        np.testing.assert_allclose(
            A[k], _fd(lambda v, k=k: cell._residual(v[None], x[k][None])[0], h[k]), atol=1e-6
        )


def test_cells_follow_pytorch_equations_and_layout() -> None:
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    H, n_in, B = 4, 3, 6
    x, h, c = (
        torch.randn(B, n_in, dtype=torch.float64),
        torch.randn(B, H, dtype=torch.float64),
        torch.randn(B, H, dtype=torch.float64),
    )
    lstm = torch.nn.LSTMCell(n_in, H).double()
    ours = LSTMCell(lstm.weight_ih, lstm.weight_hh, lstm.bias_ih + lstm.bias_hh)
    h1, c1 = lstm(x, (h, c))
    got = ours.step(torch.cat([h, c], 1), x)
    np.testing.assert_allclose(got.numpy(), torch.cat([h1, c1], 1).detach().numpy(), atol=1e-12)
    gru = torch.nn.GRUCell(n_in, H).double()
    ours = GRUCell(gru.weight_ih, gru.weight_hh, gru.bias_ih, gru.bias_hh)
    np.testing.assert_allclose(ours.step(h, x).numpy(), gru(x, h).detach().numpy(), atol=1e-12)
    for act in ("tanh", "relu"):
        rnn = torch.nn.RNNCell(n_in, H, nonlinearity=act).double()
        ours = RNNCell(rnn.weight_ih, rnn.weight_hh, rnn.bias_ih + rnn.bias_hh, activation=act)
        np.testing.assert_allclose(ours.step(h, x).numpy(), rnn(x, h).detach().numpy(), atol=1e-12)


def test_gru_reset_before_follows_keras_equation() -> None:
    rng = np.random.default_rng(4)
    H, n_in = 3, 2
    W_ih, W_hh, b_ih, b_hh = (
        rng.normal(size=(3 * H, n_in)),
        rng.normal(size=(3 * H, H)),
        rng.normal(size=3 * H),
        rng.normal(size=3 * H),
    )
    h, x = rng.normal(size=H), rng.normal(size=n_in)
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    r = sig(W_ih[:H] @ x + b_ih[:H] + W_hh[:H] @ h + b_hh[:H])
    z = sig(W_ih[H : 2 * H] @ x + b_ih[H : 2 * H] + W_hh[H : 2 * H] @ h + b_hh[H : 2 * H])
    n = np.tanh(W_ih[2 * H :] @ x + b_ih[2 * H :] + W_hh[2 * H :] @ (r * h) + b_hh[2 * H :])
    got = GRUCell(W_ih, W_hh, b_ih, b_hh, reset_after=False).step(h, x)
    np.testing.assert_allclose(got, (1 - z) * n + z * h, atol=1e-14)


# ---------------------------------------------------------- Newton precision
@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_newton_reaches_1e_10_on_random_small_cells(kind: str) -> None:
    rng = np.random.default_rng(11)
    H, n_in = 8, 3
    n = rng.normal
    if kind == "lstm":
        cell = LSTMCell(n(size=(4 * H, n_in)), 1.5 * n(size=(4 * H, H)) / np.sqrt(H), n(size=4 * H))
    else:
        cell = GRUCell(
            n(size=(3 * H, n_in)), 1.5 * n(size=(3 * H, H)) / np.sqrt(H), n(size=3 * H), n(size=3 * H)
        )
    X = n(size=(2, n_in))
    fps = dynamics.fixed_points(cell, X, n_starts=30, seed=1)
    fixed = fps.table["kind"] == "fixed"
    assert fixed.sum() >= 2
    for k in np.flatnonzero(fixed):
        res = cell.step(fps.states[k], fps.inputs[k]) - fps.states[k]
        assert np.max(np.abs(res)) < 1e-10
    # every start reported, the fixed ones mapped onto a point
    assert len(fps.starts) == 60 and (fps.starts.loc[fps.starts["status"] == "fixed", "point"] >= 0).all()


def test_torch_cell_finds_the_same_points() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    cell = GRUCell(
        rng.normal(size=(12, 3)), 2 * rng.normal(size=(12, 4)) / 2, rng.normal(size=12), rng.normal(size=12)
    )
    tcell = GRUCell(**_torch_weights(cell, torch))
    X = np.ones((1, 3))
    starts = np.random.default_rng(6).uniform(-1, 1, size=(10, 4))
    a = dynamics.fixed_points(cell, X, starts)
    b = dynamics.fixed_points(tcell, X, torch.tensor(starts))
    fa, fb = a.table["kind"] == "fixed", b.table["kind"] == "fixed"
    assert fa.sum() >= 1 and fa.tolist() == fb.tolist()
    assert np.abs(a.states).max() <= 1
    np.testing.assert_allclose(a.states[fa], b.states[fb], atol=1e-10)
    assert a.table["stability"].tolist() == b.table["stability"].tolist()


# -------------------------------------------------------------- attractors
def test_planted_line_attractor_is_found_as_a_line() -> None:
    W = np.array([[1.0, 0.3], [0.0, 0.5]])  # eigenvalues 1 (direction e0) and 0.5
    cell = linear_cell(W, np.zeros((2, 1)))
    starts = np.random.default_rng(0).uniform(-2, 2, size=(30, 2))
    fps = dynamics.fixed_points(cell, initial=starts)
    assert len(fps) == 30 and (fps.table["kind"] == "fixed").all()
    assert np.max(np.abs(fps.states[:, 1])) < 1e-10  # all on the line h1 = 0
    assert np.ptp(fps.states[:, 0]) > 1.0  # spread along it
    assert (fps.table["stability"] == "marginal").all()
    np.testing.assert_allclose(fps.table["spectral_radius"], 1.0, atol=1e-12)
    assert (fps.table["tau"] == np.inf).all()


def test_step_cell_from_a_numpy_function_matches_rnn_cell() -> None:
    rng = np.random.default_rng(8)
    W, b = 2.0 * rng.normal(size=(3, 3)) / np.sqrt(3), 0.1 * rng.normal(size=3)

    def step(s, x):
        return np.tanh(s @ W.T + b)

    def jac(s, x):
        return (1 - step(s, x) ** 2)[:, :, None] * W

    sc = StepCell(step, jac, dim=3)
    rc = RNNCell(np.zeros((3, 0)), W, b)
    starts = rng.normal(size=(40, 3))
    a, b_ = dynamics.fixed_points(sc, initial=starts), dynamics.fixed_points(rc, initial=starts)
    np.testing.assert_allclose(a.states, b_.states, atol=1e-10)
    assert a.table["stability"].tolist() == b_.table["stability"].tolist()
    with pytest.raises(RnndynError, match="jacobian"):
        StepCell(step, lambda s, x: np.zeros((3, 3)), dim=3).jacobian(np.zeros((2, 3)), np.zeros((2, 0)))


def test_non_convergent_starts_are_reported_never_returned() -> None:
    cell = RNNCell(np.zeros((2, 0)), np.eye(2), np.ones(2), activation="linear")  # h' = h + 1: no fixed point
    fps = dynamics.fixed_points(cell, initial=np.random.default_rng(0).normal(size=(7, 2)))
    assert len(fps) == 0 and fps.states.shape == (0, 2)
    assert (fps.starts["status"] == "failed").all() and (fps.starts["point"] == -1).all()
    np.testing.assert_allclose(fps.starts["q"], 1.0)


def test_slow_point_of_a_saddle_node_ghost_is_labelled_slow() -> None:
    eps = 1e-4  # F(h) = h + h^2 + eps: no fixed point, q = (h^2 + eps)^2 / 2 is smallest at h = 0
    cell = StepCell(lambda s, x: s + s**2 + eps, lambda s, x: (1 + 2 * s)[:, :, None], dim=1)
    fps = dynamics.fixed_points(cell, initial=np.array([[0.5], [-0.3]]), max_iter=200)
    assert fps.table["kind"].tolist() == ["slow"]
    assert abs(fps.states[0, 0]) < 1e-4
    np.testing.assert_allclose(fps.table["q"], eps**2 / 2, rtol=1e-3)


# -------------------------------------------------------- jacobians() and starts
def test_jacobians_along_trajectories_batched() -> None:
    rng = np.random.default_rng(9)
    cell = _cells(rng, H=3)["lstm"]
    states, inputs = rng.normal(size=(2, 4, 6)), rng.normal(size=(2, 4, 3))
    out = dynamics.jacobians(cell, states, inputs)
    assert out.jacobian.shape == (2, 4, 6, 6)
    J = cell.jacobian(states[1, 2], inputs[1, 2])
    np.testing.assert_allclose(out.jacobian[1, 2], J, atol=1e-14)
    np.testing.assert_allclose(out.spectral_radius[1, 2], np.max(np.abs(np.linalg.eigvals(J))), rtol=1e-12)
    np.testing.assert_allclose(out.singular_values[1, 2], np.linalg.svd(J, compute_uv=False), rtol=1e-12)
    lean = dynamics.jacobians(cell, states, inputs, return_jacobians=False)
    assert lean.jacobian is None
    np.testing.assert_allclose(lean.spectral_radius, out.spectral_radius)
    units = pd.DataFrame(
        {"layer": "enc", "state": ["c"] * 3 + ["h"] * 3, "direction": "forward", "index": [2, 0, 1, 0, 1, 2]}
    )
    traj = Trajectories(np.concatenate([states[..., [5, 3, 4]], states[..., :3]], axis=-1), units=units)
    np.testing.assert_allclose(dynamics.jacobians(cell, traj, inputs).jacobian, out.jacobian, atol=1e-14)


def test_starts_are_sampled_from_trajectories_h_units() -> None:
    rng = np.random.default_rng(10)
    cell = _cells(rng, H=3)["rnn_tanh"]
    units = pd.DataFrame(
        {
            "layer": "enc",
            "state": "h",
            "direction": ["forward"] * 3 + ["backward"] * 3,
            "index": [0, 1, 2] * 2,
        }
    )
    traj = Trajectories(rng.normal(size=(4, 5, 6)), units=units)
    fps = dynamics.fixed_points(cell, np.zeros(3), traj, n_starts=12, direction="backward")
    assert len(fps.starts) == 12
    with pytest.raises(RnndynError, match="direction="):
        dynamics.fixed_points(cell, np.zeros(3), traj)


# ------------------------------------------------------------------ bad input
W4 = np.zeros((16, 4))


@pytest.mark.parametrize(
    ("make", "name"),
    [
        (lambda: LSTMCell(np.zeros((16, 2)), np.full((16, 4), np.nan)), "W_hh"),
        (lambda: LSTMCell(np.zeros((16, 2)), np.where(np.eye(16, 4) > 0, np.inf, 0.0)), "W_hh"),
        (lambda: LSTMCell(np.zeros((12, 2)), W4), "W_ih"),
        (lambda: LSTMCell(np.zeros((16, 2)), W4, np.zeros(12)), "b"),
        (lambda: LSTMCell(np.zeros((16, 2)), np.zeros((12, 4))), "W_hh"),
        (lambda: GRUCell(np.zeros((12, 2)), np.zeros((12, 4)), b_hh=np.array([np.nan] * 12)), "b_hh"),
        (lambda: GRUCell(np.zeros((12, 2)), np.zeros((12, 4)), reset_after="yes"), "reset_after"),
        (lambda: RNNCell(np.zeros((4, 2)), np.zeros((4, 4)), activation="sigmoid"), "activation"),
        (lambda: RNNCell(np.zeros((4, 2)), np.zeros((4, 3))), "W_hh"),
        (lambda: RNNCell(np.zeros((4, 2)), "weights"), "W_hh"),
        (lambda: StepCell("f", lambda s, x: s, dim=2), "step"),
        (lambda: StepCell(lambda s, x: s, lambda s, x: s, dim=0), "dim"),
        (lambda: StepCell(lambda s, x: s, lambda s, x: s, dim=2.0), "dim"),
    ],
)
def test_bad_cells_raise_naming_the_argument(make, name: str) -> None:
    with pytest.raises(RnndynError, match=re.escape(name)):
        make()


CELL = RNNCell(np.zeros((2, 3)), 0.5 * np.eye(2))


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"inputs": np.zeros(4)}, "inputs"),
        ({"inputs": np.zeros((2, 2))}, "inputs"),
        ({"inputs": np.array([np.nan, 0, 0])}, "inputs"),
        ({"initial": np.zeros((5, 3))}, "initial"),
        ({"initial": np.zeros(2)}, "initial"),
        ({"initial": "states"}, "initial"),
        ({"n_starts": 0}, "n_starts"),
        ({"n_starts": -3}, "n_starts"),
        ({"n_starts": 2.0}, "n_starts"),
        ({"n_starts": True}, "n_starts"),
        ({"tol": 0.0}, "tol"),
        ({"tol": -1e-10}, "tol"),
        ({"tol": float("nan")}, "tol"),
        ({"q_tol": 0}, "q_tol"),
        ({"max_iter": 0}, "max_iter"),
        ({"max_iter": 10.0}, "max_iter"),
        ({"noise": -1.0}, "noise"),
        ({"unique_tol": float("inf")}, "unique_tol"),
        ({"seed": 1.5}, "seed"),
    ],
)
def test_bad_fixed_point_arguments_raise_naming_the_argument(kwargs: dict, name: str) -> None:
    with pytest.raises(RnndynError, match=re.escape(name)):
        dynamics.fixed_points(CELL, **kwargs)


def test_other_bad_inputs_raise_naming_the_argument() -> None:
    with pytest.raises(RnndynError, match="cell"):
        dynamics.fixed_points("lstm")
    with pytest.raises(RnndynError, match="states"):
        dynamics.jacobians(CELL, np.zeros((4, 3)))
    with pytest.raises(RnndynError, match="inputs"):
        dynamics.jacobians(CELL, np.zeros((4, 2)), np.zeros((4, 2)))
    with pytest.raises(RnndynError, match="point"):
        dynamics.linearize(CELL, np.zeros(3))
    with pytest.raises(RnndynError, match="noise_cov"):
        dynamics.predicted_msd_plateau(CELL, np.zeros(2), noise_cov=-np.eye(2))
    with pytest.raises(RnndynError, match="noise_cov"):
        dynamics.predicted_msd_plateau(CELL, np.zeros(2), noise_cov=np.ones(3))
    with pytest.raises(RnndynError, match="stable"):
        dynamics.predicted_msd_plateau(RNNCell(np.zeros((1, 0)), 2 * np.eye(1)), np.zeros(1), noise_cov=1.0)
    with pytest.raises(RnndynError, match="lags"):
        dynamics.predicted_msd_plateau(CELL, np.zeros(2), noise_cov=1.0, measured=np.zeros((2, 9, 2)))
    with pytest.raises(RnndynError, match="loading_tol"):
        dynamics.predicted_relaxation(CELL, np.zeros(2), loading_tol=0)
    with pytest.raises(RnndynError, match="measured"):
        dynamics.predicted_relaxation(CELL, np.zeros(2), measured=np.zeros((2, 9, 5)))
    lstm = _cells(np.random.default_rng(0), H=2)["lstm"]
    with pytest.raises(RnndynError, match="'c'"):  # jacobians need c too
        dynamics.jacobians(lstm, Trajectories(np.zeros((1, 3, 2))), np.zeros(3))


# ------------------------------------------------------------------ docs page
def test_docs_page_python_blocks_run() -> None:
    text = (ROOT / "docs/dynamics.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks
    namespace: dict = {"__name__": "__docs__"}
    for block in blocks:
        exec(compile(block, "docs/dynamics.md", "exec"), namespace)


def test_modes_false_gives_the_same_eigenvalues_without_vectors() -> None:
    rng = np.random.default_rng(21)
    H = 6
    cell = LSTMCell(
        rng.normal(size=(4 * H, 2)), 1.2 * rng.normal(size=(4 * H, H)) / np.sqrt(H), rng.normal(size=4 * H)
    )
    X = rng.normal(size=(2, 2))
    full = dynamics.fixed_points(cell, X, n_starts=12, seed=3)
    lean = dynamics.fixed_points(cell, X, n_starts=12, seed=3, modes=False)
    assert lean.eigenvectors is None and len(full) == len(lean) > 0
    np.testing.assert_allclose(lean.eigenvalues, full.eigenvalues, atol=1e-10)
    np.testing.assert_array_equal(lean.table["stability"], full.table["stability"])
    # the eigenvalues are those of the reported Jacobians
    for J, lam in zip(lean.jacobians, lean.eigenvalues, strict=True):
        np.testing.assert_allclose(np.sort(np.abs(np.linalg.eigvals(J)))[::-1], np.abs(lam), atol=1e-10)
    with pytest.raises(RnndynError, match="modes"):
        dynamics.fixed_points(cell, X, n_starts=2, modes="no")
