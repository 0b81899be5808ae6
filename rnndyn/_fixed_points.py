"""The batched fixed-point solver behind :func:`rnndyn.dynamics.fixed_points`.

Each start runs damped Newton on the cell's fixed-point system ``r(z) = 0``
(``r = F(s) - s`` on the full state; for an LSTM the equivalent system on
``h`` alone, since ``c = i g / (1 - f)`` at a fixed point). Newton's direction
``d = -A^{-1} r`` (``A = dr/dz``, analytic) is a descent direction of
``q = |r|^2 / 2``; a backtracking line search keeps ``q`` decreasing. Where
Newton fails (singular ``A``, or no decrease along ``d``: near slow points and
continuous attractors) a Levenberg-Marquardt step ``(A^T A + mu I) d = -A^T r``
takes over, so the iteration minimises ``q`` everywhere and converges
quadratically near a regular fixed point. Everything is float64.
:func:`merge_starts` then merges the starts that reached the same point.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["solve", "solve_many", "merge_starts", "on_device"]

#: Largest number of dim x dim matrices held at once (memory ~ CHUNK_BYTES).
CHUNK_BYTES = 2**28
#: Consecutive iterations with less than 0.1% decrease of q after which a start stops.
CREEP = 4
#: Starts per input solved in full before the others reuse the points found (:func:`solve_many`).
PILOT = 16


def _np(a: Any) -> np.ndarray:
    if isinstance(a, np.ndarray):
        return a
    return a.detach().cpu().numpy()


def _idx(xp: Any, like: Any, idx: np.ndarray) -> Any:
    if isinstance(like, np.ndarray):
        return idx
    return xp.asarray(idx, device=like.device)


def _lin_solve(xp: Any, A: Any, b: Any) -> tuple[Any, np.ndarray]:
    """Solve ``A x = b`` for a batch; singular or non-finite rows come back flagged (and zero).

    Non-finite rows are never handed to LAPACK (MKL prints an error per such
    matrix and may return garbage for the whole batch).
    """
    n = int(A.shape[0])
    ok = _np(xp.all(xp.isfinite(xp.reshape(A, (n, -1))), axis=-1) & xp.all(xp.isfinite(b), axis=-1))
    bad = ~ok
    if bad.all():
        return xp.zeros_like(b), bad
    if bad.any():
        keep = _idx(xp, A, np.flatnonzero(ok))
        x_ok, bad_ok = _lin_solve(xp, A[keep], b[keep])
        x = xp.zeros_like(b)
        x[keep] = x_ok
        bad[np.flatnonzero(ok)[bad_ok]] = True
        return x, bad
    try:
        x = xp.linalg.solve(A, b[..., None])[..., 0]
        return x, bad
    except (np.linalg.LinAlgError, RuntimeError):
        pass
    out = []
    for k in range(n):
        try:
            out.append(xp.linalg.solve(A[k], b[k][:, None])[:, 0])
        except (np.linalg.LinAlgError, RuntimeError):
            out.append(xp.zeros_like(b[k]))
            bad[k] = True
    return xp.stack(out), bad


def _q(xp: Any, r: Any) -> np.ndarray:
    return _np(0.5 * xp.sum(r * r, axis=-1))


def solve(cell: Any, z0: Any, x: Any, *, tol: float, max_iter: int) -> tuple[Any, np.ndarray, np.ndarray]:
    """Run the solver from every start, in chunks that fit memory.

    Returns the final reduced states ``z``, the iterations used per start and
    whether each start stopped because no step could lower ``q`` (stalled).
    """
    xp = cell.xp
    n, m = int(z0.shape[0]), int(z0.shape[-1])
    size = max(1, CHUNK_BYTES // (8 * max(m, 1) ** 2 * 3))
    zs, its, stalls = [], [], []
    for lo in range(0, max(n, 1), size):
        z, it, st = _solve_chunk(cell, xp, z0[lo : lo + size], x[lo : lo + size], tol, max_iter)
        zs.append(z)
        its.append(it)
        stalls.append(st)
    return xp.concat(zs, axis=0), np.concatenate(its), np.concatenate(stalls)


def _solve_chunk(
    cell: Any, xp: Any, z: Any, x: Any, tol: float, max_iter: int
) -> tuple[Any, np.ndarray, np.ndarray]:
    n = int(z.shape[0])
    z = xp.asarray(z, copy=True)
    r, A = cell._system(z, x)
    q = _q(xp, r)
    n_iter = np.zeros(n, dtype=np.int64)
    stalled = np.zeros(n, dtype=bool)
    lam = np.full(n, 1e-3)
    creep = np.zeros(n, dtype=np.int64)  # consecutive iterations that lowered q by < 0.1%

    def finished() -> np.ndarray:
        rinf = _np(xp.max(xp.abs(r), axis=-1)) if r.shape[-1] else np.zeros(n)
        return ~np.isfinite(q) | (rinf < tol) | stalled

    for _ in range(max_iter):
        act = np.flatnonzero(~finished())
        if act.size == 0:
            break
        n_iter[act] += 1
        ia = _idx(xp, z, act)
        za, xa, ra, Aa, qa = z[ia], x[ia], r[ia], A[ia], q[act]
        d, bad = _lin_solve(xp, Aa, -ra)
        bad |= ~np.isfinite(_np(xp.sum(d, axis=-1)))
        # backtracking line search along the Newton direction (Armijo, c = 1e-4)
        t = np.ones(act.size)
        acc = np.zeros(act.size, dtype=bool)
        z_new = xp.asarray(za, copy=True)
        for _ls in range(8):
            cand = np.flatnonzero(~acc & ~bad)
            if cand.size == 0:
                break
            ic = _idx(xp, z, cand)
            tc = xp.asarray(t[cand], dtype=za.dtype, device=getattr(za, "device", None))
            trial = za[ic] + tc[:, None] * d[ic]
            qt = _q(xp, cell._residual(trial, xa[ic]))
            ok = np.isfinite(qt) & (qt <= (1 - 2e-4 * t[cand]) * qa[cand])
            okc = cand[ok]
            if okc.size:
                z_new[_idx(xp, z, okc)] = trial[_idx(xp, z, np.flatnonzero(ok))]
            acc[okc] = True
            t[cand[~ok]] *= 0.25
        # Levenberg-Marquardt where Newton found no descent
        lm = np.flatnonzero(~acc)
        if lm.size:
            il = _idx(xp, z, lm)
            Al, rl, zl, xl = Aa[il], ra[il], za[il], xa[il]
            At = xp.matrix_transpose(Al) if hasattr(xp, "matrix_transpose") else xp.swapaxes(Al, -1, -2)
            G = At @ Al
            g = (At @ rl[..., None])[..., 0]
            scale = _np(xp.mean(xp.linalg.diagonal(G), axis=-1)) + 1e-300
            eye = xp.eye(G.shape[-1], dtype=G.dtype, device=getattr(G, "device", None))
            todo = np.arange(lm.size)
            for _try in range(8):
                if todo.size == 0:
                    break
                it_ = _idx(xp, z, todo)
                mu = xp.asarray(
                    lam[act[lm[todo]]] * scale[todo], dtype=G.dtype, device=getattr(G, "device", None)
                )
                dl, sing = _lin_solve(xp, G[it_] + mu[:, None, None] * eye, -g[it_])
                trial = zl[it_] + dl
                qt = _q(xp, cell._residual(trial, xl[it_]))
                ok = np.isfinite(qt) & (qt < qa[lm[todo]]) & ~sing
                okc = todo[ok]
                if okc.size:
                    z_new[_idx(xp, z, lm[okc])] = trial[_idx(xp, z, np.flatnonzero(ok))]
                    acc[lm[okc]] = True
                    lam[act[lm[okc]]] = np.maximum(lam[act[lm[okc]]] / 10, 1e-12)
                lam[act[lm[todo[~ok]]]] *= 10
                todo = todo[~ok & (lam[act[lm[todo]]] * 10 <= 1e12)]
            stuck = lm[~acc[lm]]
            stalled[act[stuck]] = True
        moved = np.flatnonzero(acc)
        if moved.size:
            im = _idx(xp, z, moved)
            iz = _idx(xp, z, act[moved])
            zn = z_new[im]
            rn, An = cell._system(zn, xa[im])
            z[iz], r[iz], A[iz] = zn, rn, An
            q_new = _q(xp, rn)
            slow = q_new > (1 - 1e-3) * q[act[moved]]
            creep[act[moved]] = np.where(slow, creep[act[moved]] + 1, 0)
            q[act[moved]] = q_new
            # a local minimum of q with q > 0 (a slow point): LM creeps, stop there
            stalled |= creep >= CREEP
    return z, n_iter, stalled


def solve_many(
    cell: Any, z0: Any, x: Any, *, tol: float, max_iter: int, unique_tol: float, pilot: int = PILOT
) -> tuple[Any, np.ndarray, np.ndarray]:
    """:func:`solve` for many starts of one input, reusing the Jacobians of points already found.

    A pilot of ``pilot`` starts runs the full solver. Every other start then
    runs the chord iteration ``z <- z - A*^{-1} r(z)`` with the inverse
    Jacobian ``A*`` of the nearest point found (one ``dim x dim`` inverse per
    point, then matrix products: as cheap per iteration as a gradient step).
    A start is done when its residual passes ``tol``, verified like any other;
    starts on which the chord stalls or diverges run the full solver from
    their own start. Only the cost changes: every returned point passes the
    same residual test.
    """
    xp = cell.xp
    n = int(z0.shape[0])
    if n <= pilot:
        return solve(cell, z0, x, tol=tol, max_iter=max_iter)
    z = xp.asarray(z0, copy=True)
    n_iter = np.zeros(n, dtype=np.int64)
    stalled = np.zeros(n, dtype=bool)
    ip = _idx(xp, z, np.arange(pilot))
    zp, itp, stp = solve(cell, z0[ip], x[ip], tol=tol, max_iter=max_iter)
    z[ip], n_iter[:pilot], stalled[:pilot] = zp, itp, stp
    rinf = _np(xp.max(xp.abs(cell._residual(zp, x[ip])), axis=-1))
    found = _np(zp)[rinf < tol]
    reps: list[np.ndarray] = []
    for p in found:
        if not reps or np.min(np.max(np.abs(np.array(reps) - p), axis=1)) >= unique_tol:
            reps.append(p)
    rest = np.arange(pilot, n)
    done = np.zeros(n, dtype=bool)
    done[:pilot] = True
    if reps:
        R = np.array(reps)
        zr = _np(z0[_idx(xp, z, rest)])
        near = np.argmin(np.max(np.abs(zr[:, None, :] - R[None]), axis=-1), axis=1)
        for k in range(len(R)):
            rows = rest[near == k]
            if rows.size:
                ok, its = _chord(cell, xp, z, x, rows, R[k], tol, max_iter)
                done[rows[ok]] = True
                n_iter[rows] += its
    todo = np.flatnonzero(~done)
    if todo.size:
        it_ = _idx(xp, z, todo)
        zt, itt, stt = solve(cell, z0[it_], x[it_], tol=tol, max_iter=max_iter)
        z[it_], stalled[todo] = zt, stt
        n_iter[todo] += itt
    return z, n_iter, stalled


def _chord(
    cell: Any, xp: Any, z: Any, x: Any, rows: np.ndarray, point: np.ndarray, tol: float, max_iter: int
) -> tuple[np.ndarray, np.ndarray]:
    """Chord iterations on ``z[rows]`` (updated in place where they converge)."""
    ir = _idx(xp, z, rows)
    zs, xs = z[ir], x[ir]
    p = xp.asarray(point[None], dtype=zs.dtype, device=getattr(zs, "device", None))
    _, A = cell._system(p, xs[:1])
    try:
        Ainv_T = (
            xp.matrix_transpose(xp.linalg.inv(A[0]))
            if hasattr(xp, "matrix_transpose")
            else xp.linalg.inv(A[0]).T
        )
    except (np.linalg.LinAlgError, RuntimeError):
        return np.zeros(rows.size, dtype=bool), np.zeros(rows.size, dtype=np.int64)
    r = cell._residual(zs, xs)
    q0 = _q(xp, r)
    best = q0.copy()
    worse = np.zeros(rows.size, dtype=np.int64)
    ok = np.zeros(rows.size, dtype=bool)
    its = np.zeros(rows.size, dtype=np.int64)
    act = np.arange(rows.size)
    for _ in range(max_iter):
        ia = _idx(xp, zs, act)
        za = zs[ia] - r[ia] @ Ainv_T
        ra = cell._residual(za, xs[ia])
        zs[ia], r[ia] = za, ra
        its[act] += 1
        q = _q(xp, ra)
        rinf = _np(xp.max(xp.abs(ra), axis=-1))
        ok[act] = rinf < tol
        improved = q < best[act]
        worse[act] = np.where(improved, 0, worse[act] + 1)
        best[act] = np.minimum(best[act], np.where(np.isfinite(q), q, np.inf))
        give_up = ~np.isfinite(q) | (worse[act] >= 3) | (q > 100 * q0[act] + 1e-300)
        act = act[~ok[act] & ~give_up]
        if act.size == 0:
            break
    conv = np.flatnonzero(ok)
    if conv.size:
        z[_idx(xp, z, rows[conv])] = zs[_idx(xp, zs, conv)]
    return ok, its


def on_device(xp: Any, a: np.ndarray, device: Any) -> Any:
    """The numpy array ``a`` as an array of ``xp`` on ``device`` (``a`` itself when ``device`` is None)."""
    return a if device is None else xp.asarray(a, device=device)


def merge_starts(
    s: np.ndarray, q: np.ndarray, status: np.ndarray, input_id: np.ndarray, tol: float
) -> np.ndarray:
    """Point id per start (-1 for failed): greedy by increasing q, max-norm distance < tol.

    A slow point merges within ``sqrt(tol)``: ``q`` is flat around its minimum,
    so the iteration locates it less precisely than a fixed point.
    """
    point = np.full(len(s), -1, dtype=np.int64)
    n_points = 0
    for inp in np.unique(input_id):
        rows = np.flatnonzero((input_id == inp) & (status != "failed"))
        rows = rows[np.argsort(q[rows], kind="stable")]
        reps: list[int] = []
        for r in rows:
            if reps:
                d = np.max(np.abs(s[reps] - s[r]), axis=-1)
                k = int(np.argmin(d))
                if d[k] < (tol if status[r] == "fixed" else np.sqrt(tol)):
                    point[r] = point[reps[k]]
                    continue
            reps.append(int(r))
            point[r] = n_points
            n_points += 1
    return point
