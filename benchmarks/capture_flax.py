"""Benchmark: Flax capture against a plain jitted ``apply`` of the same model.

A bidirectional NNX LSTM of the founding encoder's size (one-hot 60 ->
``nnx.Bidirectional(LSTMCell(60, 256))``, 50 steps), 1,000 sequences with
``seq_lengths``, batch size 256 for both. Prints:

* capture of ``h`` (both directions) / the model's own call compiled with
  ``nnx.jit``, its output brought to NumPy batch by batch (target <= 1.2);
* capture of ``c`` and the gates ``i, f, g, o`` / the same jitted call
  (no target: the gates are recomputed, vectorised, from the recorded inputs
  and outputs);
* capture of ``h`` run eagerly (a model that cannot be traced) / the jitted
  call, to show what compiling buys.

"cold" timings include compiling; "warm" timings are the best of three
interleaved later runs; each row also gives the CPU time of the process.

Run: ``python benchmarks/capture_flax.py`` (about 1 min on a 2-core CPU).
"""

from __future__ import annotations

import os
import time

import numpy as np

N, STEPS, VOCAB, UNITS, BATCH, REPEATS = 1000, 50, 60, 256, 256, 3


def build():
    from flax import nnx

    rngs = nnx.Rngs(0)
    fw = nnx.RNN(nnx.LSTMCell(VOCAB, UNITS, rngs=rngs))
    bw = nnx.RNN(nnx.LSTMCell(VOCAB, UNITS, rngs=rngs))
    return nnx.Bidirectional(fw, bw)


def data(seed=0):
    rng = np.random.default_rng(seed)
    lengths = np.clip(rng.normal(13.6, 5.2, N).round(), 6, 41).astype(np.int32)
    chars = rng.integers(1, VOCAB, size=(N, STEPS))
    chars[np.arange(STEPS)[None, :] >= lengths[:, None]] = 0
    return np.eye(VOCAB, dtype=np.float32)[chars], lengths


def timed(fn):
    """(wall seconds, CPU seconds of the process, result)."""
    t, c = time.perf_counter(), os.times()
    out = fn()
    c2 = os.times()
    return time.perf_counter() - t, c2.user + c2.system - c.user - c.system, out


def main() -> None:
    import flax
    import jax
    from flax import nnx

    import rnndyn

    x, lengths = data()
    print(
        f"flax {flax.__version__}, jax {jax.__version__} ({jax.default_backend()}), "
        f"{os.cpu_count()} CPU cores"
    )
    print(f"nnx.Bidirectional(LSTMCell({VOCAB}, {UNITS})), {STEPS} steps, {N} sequences, batch {BATCH}")
    model = build()
    apply = nnx.jit(lambda m, x, n: m(x, seq_lengths=n))

    def jitted():
        return np.concatenate(
            [np.asarray(apply(model, x[b : b + BATCH], lengths[b : b + BATCH])) for b in range(0, N, BATCH)]
        )

    def capture(states, eager=False):
        args = rnndyn.Args(x, seq_lengths=lengths)
        if eager:
            with jax.disable_jit():
                return rnndyn.capture(
                    model, args, layer="bidirectional", state=states, batch_size=BATCH, progress=False
                )
        return rnndyn.capture(
            model, args, layer="bidirectional", state=states, batch_size=BATCH, progress=False
        )

    gates = ["c", "i", "f", "g", "o"]
    rows: dict[str, tuple[float, float]] = {}
    *rows["jitted apply, cold"], ref = timed(jitted)
    *rows["capture h, cold"], traj = timed(lambda: capture("h"))
    *rows["capture c+gates, cold"], full = timed(lambda: capture(gates))
    warm: dict[str, list[tuple[float, float]]] = {"jitted apply": [], "capture h": [], "capture c+gates": []}
    for _ in range(REPEATS):  # interleaved, best of REPEATS: the machine is shared
        warm["jitted apply"].append(timed(jitted)[:2])
        warm["capture h"].append(timed(lambda: capture("h"))[:2])
        warm["capture c+gates"].append(timed(lambda: capture(gates))[:2])
    for k, v in warm.items():
        rows[f"{k}, warm (best of {REPEATS})"] = (min(w for w, _ in v), min(c for _, c in v))
    rows["capture h, eager (jax.disable_jit)"] = timed(lambda: capture("h", eager=True))[:2]

    valid = np.arange(STEPS)[None, :] < lengths[:, None]
    err = np.abs(traj.states - ref)[valid].max()
    assert err < 1e-5, f"captured h differs from the jitted call by {err}"
    assert full.shape == (N, STEPS, 2 * UNITS * len(gates))

    print(f"  {'':<44s} {'wall':>8s}   {'CPU':>7s}   {'sequences/s (wall)':>18s}")
    for k, (w, c) in rows.items():
        print(f"  {k:<44s} {w:8.2f} s {c:7.2f} s   {N / w:18.0f}")
    a_cold = rows["jitted apply, cold"][0]
    a_warm, a_cpu = rows[f"jitted apply, warm (best of {REPEATS})"]
    h_cold = rows["capture h, cold"][0]
    h_warm, h_cpu = rows[f"capture h, warm (best of {REPEATS})"]
    g_warm, g_cpu = rows[f"capture c+gates, warm (best of {REPEATS})"]
    eager = rows["capture h, eager (jax.disable_jit)"][0]
    print("ratios (targets in brackets):")
    print(
        f"  capture h / jitted apply        cold {h_cold / a_cold:5.2f}   warm {h_warm / a_warm:5.2f}"
        f"   warm CPU {h_cpu / a_cpu:5.2f}   [<= 1.2]"
    )
    print(
        f"  capture c+gates / jitted apply              warm {g_warm / a_warm:5.2f}"
        f"   warm CPU {g_cpu / a_cpu:5.2f}"
    )
    print(f"  eager capture h / jitted apply              {eager / a_warm:5.2f}")


if __name__ == "__main__":
    main()
