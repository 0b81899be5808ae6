"""Benchmark rnndyn.dynamics.fixed_points against FixedPointFinder's algorithm.

Run from the repository root::

    python benchmarks/dynamics.py            # H=256, I=60, 1000 starts (minutes on 2 cores)
    python benchmarks/dynamics.py --quick    # H=64, 200 starts, well under a minute

The model stands in for the date encoder's forward LSTM (256 units, 60-symbol
one-hot inputs) until the adapters hand over its step map: a random
``LSTMCell`` with recurrent weights ``gain * N(0, 1/H)`` (gain 1 gives a
stable fixed point of the padding input). Starts are states sampled from
simulated trajectories (random symbols, then padding), as in the study.

Two methods, same model, same starts, the padding input:

* rnndyn: ``dynamics.fixed_points`` (float64 damped Newton / Levenberg-Marquardt
  with analytic Jacobians, on ``h`` for an LSTM);
* FixedPointFinder's algorithm (Golub and Sussillo 2018, ``FixedPointFinderBase``
  defaults), written here in float64 numpy: Adam on the mean of
  ``q = |F(s) - s|^2 / 2`` over the whole state ``[h, c]`` (``epsilon = 0.01``,
  betas 0.9 / 0.999), learning rate from ``AdaptiveLearningRate`` (initial 1.0,
  x0.95 when the loss is worse than the last 5, x1/0.95 after 5 steady
  decreases), gradient norm clipped at the 95th percentile of the last 128
  norms (``AdaptiveGradNormClip``), stopping when every ``q < tol_q = 1e-12``
  (or every ``dq < 1e-20 * lr``) or after ``max_iters = 5000``. The analytic
  vector-Jacobian product replaces autograd. Because one Adam iteration costs
  the same per start, Adam runs on ``--adam-starts`` of the starts and its time
  is scaled to all of them (it only favours Adam: more starts can only delay
  its joint stopping rule). It keeps iterating after its own stopping rule
  until every start reaches ``|F(s) - s|_inf < 1e-10`` or ``max_iters``, to
  time it to rnndyn's tolerance.

``--date`` runs the same comparison on the date study's encoder instead
(``examples/dates``, the shipped PyTorch translator, layer ``"encoder"``,
forward direction, via :func:`rnndyn.plugins.step_map`): its fixed points
under the padding input (one-hot index 0) from ``--starts`` (1,000) states
sampled from the captured trajectories of the first 200 validation strings.

Distinct points: rnndyn merges within 1e-6 (max-norm); FixedPointFinder's
``tol_unique = 1e-3``. Times are wall times (the machine may be shared).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from rnndyn.dynamics import LSTMCell, fixed_points


def make_model(H: int, n_in: int, gain: float, seed: int = 0) -> tuple[LSTMCell, np.ndarray]:
    rng = np.random.default_rng(seed)
    cell = LSTMCell(
        rng.normal(size=(4 * H, n_in)),
        gain * rng.normal(size=(4 * H, H)) / np.sqrt(H),
        0.5 * rng.normal(size=4 * H),
    )
    n, T, L = 64, 50, 25
    s, states = np.zeros((n, 2 * H)), []
    for t in range(T):
        sym = rng.integers(1, n_in, n) if t < L else np.zeros(n, int)
        s = cell.step(s, np.eye(n_in)[sym])
        states.append(s)
    return cell, np.stack(states, axis=1).reshape(-1, 2 * H)


def date_model(n_strings: int = 200) -> tuple[LSTMCell, np.ndarray]:
    """The date encoder's forward cell (shipped PyTorch model) and its captured states ``[h, c]``."""
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    from examples.dates import _study_capture as K
    from examples.dates import models as M
    from rnndyn.plugins import step_map

    model = M.load_torch()
    cell = step_map(model, "encoder")["forward"]
    cell = LSTMCell(
        *(np.asarray(w.detach().cpu() if hasattr(w, "detach") else w) for w in (cell.W_ih, cell.W_hh, cell.b))
    )
    strings = [r.human for r in M.load_validation()[:n_strings]]
    traj, _ = K.capture_encoder("torch", model, strings, states=("h", "c"))
    u = traj.units
    pos = []
    for state in ("h", "c"):
        sel = np.flatnonzero((u["state"] == state).to_numpy() & (u["direction"] == "forward").to_numpy())
        pos.append(sel[np.argsort(u["index"].to_numpy()[sel])])
    states = np.asarray(traj.states, dtype=np.float64)[:, :, np.concatenate(pos)]
    return cell, states.reshape(-1, states.shape[-1])


def lstm_q_grad(cell: LSTMCell, s: np.ndarray, u_in: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Residual ``r = F(s) - s`` and the gradient of ``sum q`` w.r.t. ``s`` (``(J - n_in)^T r``)."""
    H = cell.hidden_size
    h, c = s[:, :H], s[:, H:]
    z = u_in + h @ cell.W_hh.T
    sig = lambda v: 0.5 * (1 + np.tanh(0.5 * v))  # noqa: E731
    i, f, g, o = sig(z[:, :H]), sig(z[:, H : 2 * H]), np.tanh(z[:, 2 * H : 3 * H]), sig(z[:, 3 * H :])
    c1 = f * c + i * g
    t = np.tanh(c1)
    r = np.concatenate([o * t - h, c1 - c], axis=1)
    uh, uc = r[:, :H], r[:, H:]
    gc = uc + uh * o * (1 - t * t)
    gz = np.concatenate(
        [gc * g * i * (1 - i), gc * c * f * (1 - f), gc * i * (1 - g * g), uh * t * o * (1 - o)], 1
    )
    grad = np.concatenate([gz @ cell.W_hh - uh, gc * f - uc], axis=1)
    return r, grad


def adam_fpf(cell: LSTMCell, s0: np.ndarray, u_in: np.ndarray, max_iters: int = 5000) -> dict:
    """FixedPointFinder's joint Adam optimisation, timed to its own rule and to 1e-10."""
    s = s0.copy()
    m, v = np.zeros_like(s), np.zeros_like(s)
    b1, b2, eps = 0.9, 0.999, 0.01
    lr, losses, step_last = 1.0, [], -1
    norms: list[float] = []
    clip = 1e12
    q_prev = np.full(len(s), np.inf)
    t0 = time.perf_counter()
    out = {"t_fpf": None, "it_fpf": None, "t_1e10": None, "it_1e10": None}
    for it in range(max_iters):
        r, grad = lstm_q_grad(cell, s, u_in)
        q = 0.5 * np.sum(r * r, axis=1)
        rinf = np.abs(r).max(axis=1)
        if out["t_fpf"] is None and it > 0 and np.all((q < 1e-12) | (np.abs(q - q_prev) < 1e-20 * lr)):
            out["t_fpf"], out["it_fpf"], out["s_fpf"] = time.perf_counter() - t0, it, s.copy()
        if np.all(rinf < 1e-10):
            out["t_1e10"], out["it_1e10"] = time.perf_counter() - t0, it
            break
        q_prev = q
        loss = float(q.mean())
        grad /= len(s)  # gradient of the mean
        gnorm = float(np.sqrt(np.sum(grad * grad)))
        norms = (norms + [gnorm])[-128:]
        if it > 0:
            clip = float(np.percentile(norms, 95))
        if gnorm > clip:
            grad *= clip / gnorm
        m = b1 * m + (1 - b1) * grad
        v = b2 * v + (1 - b2) * grad * grad
        mh, vh = m / (1 - b1 ** (it + 1)), v / (1 - b2 ** (it + 1))
        s = s - lr * mh / (np.sqrt(vh) + eps)
        # AdaptiveLearningRate (no warm-up)
        losses.append(loss)
        if it >= step_last + 5 and len(losses) > 5:
            win = losses[-6:]
            if all(win[-1] > w for w in win[:-1]):
                lr, step_last = lr * 0.95, it
            elif all(b < a for a, b in zip(win[:-1], win[1:], strict=True)):
                lr, step_last = lr / 0.95, it
    out["t_end"], out["it_end"] = time.perf_counter() - t0, it + 1
    out.setdefault("s_fpf", s)
    out["s"], out["rinf"], out["q"] = s, rinf, q
    return out


def distinct(states: np.ndarray, tol: float) -> int:
    reps: list[np.ndarray] = []
    for x in states:
        if not reps or np.min(np.max(np.abs(np.array(reps) - x), axis=1)) >= tol:
            reps.append(x)
    return len(reps)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="H=64, 200 starts, Adam on 100 starts")
    ap.add_argument("--hidden", type=int, default=None)
    ap.add_argument("--starts", type=int, default=None)
    ap.add_argument("--adam-starts", type=int, default=None)
    ap.add_argument("--gain", type=float, default=1.0)
    ap.add_argument("--max-iters", type=int, default=5000)
    ap.add_argument(
        "--date", action="store_true", help="the date encoder (shipped PyTorch model, forward, padding input)"
    )
    args = ap.parse_args()
    N = args.starts or (200 if args.quick else 1000)
    Na = min(N, args.adam_starts or (100 if args.quick else 250))
    n_in = 60
    if args.date:
        cell, pool = date_model()
        H = cell.hidden_size
    else:
        H = args.hidden or (64 if args.quick else 256)
        cell, pool = make_model(H, n_in, args.gain)
    rng = np.random.default_rng(1)
    starts = pool[rng.choice(len(pool), N, replace=False)]
    pad = np.eye(n_in)[0]
    if args.date:
        print(
            f"date encoder (torch, forward LSTM, H={H}, state dim {2 * H}, I={n_in}), padding input; "
            f"{N} starts sampled from captured states of 200 validation strings"
        )
    else:
        print(f"LSTM H={H} (state dim {2 * H}), I={n_in}, gain {args.gain}; {N} starts from simulated states")

    t0 = time.perf_counter()
    fps = fixed_points(cell, pad, starts)
    t_ours = time.perf_counter() - t0
    ok = fps.starts["residual"] < 1e-10
    print(
        f"rnndyn.dynamics.fixed_points: {t_ours:8.2f} s; |F(s)-s|_inf < 1e-10 for {ok.mean():.1%} of starts; "
        f"{len(fps)} distinct point(s) {fps.table['stability'].value_counts().to_dict()}; "
        f"iterations median {int(fps.starts['n_iter'].median())}, max {int(fps.starts['n_iter'].max())}"
    )

    u_in = pad @ cell.W_ih.T + cell.b
    res = adam_fpf(cell, starts[:Na], u_in, max_iters=args.max_iters)
    scale = N / Na
    q_ok = res["q"] < 1e-12
    r_ok = res["rinf"] < 1e-10
    t_fpf = res["t_fpf"] if res["t_fpf"] is not None else res["t_end"]
    fpf_rule = (
        f"stopping rule met at iteration {res['it_fpf']}"
        if res["t_fpf"]
        else f"no stop in {res['it_end']} iterations"
    )
    r_fpf, _ = lstm_q_grad(cell, res["s_fpf"], u_in)
    conv = res["s_fpf"][0.5 * np.sum(r_fpf * r_fpf, axis=1) < 1e-12]  # its fixed points: q < tol_q
    n_distinct = distinct(conv, 1e-3)
    print(
        f"FixedPointFinder (Adam), {Na} starts, time x{scale:g}: {t_fpf * scale:8.2f} s to its own rule "
        f"({fpf_rule}); "
        f"{n_distinct} distinct point(s) with q < 1e-12 (tol_unique 1e-3)"
    )
    t_same = res["t_1e10"] if res["t_1e10"] is not None else res["t_end"]
    reach = (
        "all reach"
        if res["t_1e10"] is not None
        else f"{r_ok.mean():.1%} reach (q < 1e-12: {q_ok.mean():.1%})"
    )
    print(
        f"FixedPointFinder (Adam) to |F(s)-s|_inf < 1e-10: {t_same * scale:8.2f} s, {reach} after "
        f"{res['it_1e10'] if res['it_1e10'] is not None else res['it_end']} iterations"
    )
    print(f"speed ratio to its own rule (q < 1e-12): {t_fpf * scale / t_ours:6.1f}x")
    print(
        f"speed ratio to |F(s)-s|_inf < 1e-10: {'>= ' if res['t_1e10'] is None else ''}"
        f"{t_same * scale / t_ours:6.1f}x"
    )


if __name__ == "__main__":
    main()
