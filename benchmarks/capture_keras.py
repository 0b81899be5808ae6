"""Benchmark: Keras capture against plain batched ``predict`` and the founding loop.

The founding encoder (one-hot 60 -> ``Bidirectional(LSTM(256,
return_sequences=True))``, 50 steps), 1,000 right-padded sequences, TensorFlow
backend, batch size 256 for everything batched. Prints three ratios:

* capture of ``h`` (both directions) / plain batched ``predict`` of the same
  encoder (target <= 1.15);
* capture of ``c`` and the four gates ``i, f, g, o`` / the same ``predict``
  (target <= 2);
* the founding notebook's loop (sub-model ``predict`` one string at a time;
  ~30 strings timed, extrapolated to 1,000) / capture of ``h`` (target >= 50).

"cold" timings include building and compiling (a model's first ``predict``
traces it; a model's first capture builds and traces its capture graph, which
later captures of the same layers reuse); "warm" timings are the best of three
interleaved later runs. Everything goes through ``rnndyn.capture``, so the
core's batching and joining of the batches are counted; one more row times
the same capture through ``rnndyn.iter_capture`` (the batches left unjoined),
to show what joining them costs. Each row also gives the CPU time of the
process (all threads), steadier than wall time on a shared machine.

Run: ``python benchmarks/capture_keras.py`` (about 1 min on a 2-core CPU).
"""

from __future__ import annotations

import logging
import os
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
logging.getLogger("tensorflow").setLevel(logging.ERROR)  # retracing notes

import numpy as np  # noqa: E402

N, STEPS, VOCAB, UNITS, BATCH, LOOP, REPEATS = 1000, 50, 60, 256, 256, 30, 3


def build_encoder():
    import keras

    keras.utils.set_random_seed(0)
    chars = keras.Input((STEPS,), dtype="int32", name="chars")
    one_hot = keras.layers.Embedding(
        VOCAB, VOCAB, embeddings_initializer="identity", trainable=False, name="one_hot"
    )(chars)
    enc = keras.layers.Bidirectional(keras.layers.LSTM(UNITS, return_sequences=True), name="encoder")(one_hot)
    return keras.Model(chars, enc, name="encoder_model")


def data(seed=0):
    rng = np.random.default_rng(seed)
    lengths = np.clip(rng.normal(13.6, 5.2, N).round(), 6, 41).astype(int)
    x = rng.integers(1, VOCAB, size=(N, STEPS)).astype("int32")
    x[np.arange(STEPS)[None, :] >= lengths[:, None]] = 0  # <pad> = 0 at the end
    return x, lengths


def timed(fn):
    """(wall seconds, CPU seconds of the process, result)."""
    t, c = time.perf_counter(), os.times()
    out = fn()
    c2 = os.times()
    return time.perf_counter() - t, c2.user + c2.system - c.user - c.system, out


def final_c(model, x):
    """The forward LSTM's cell state after the last step, from Keras itself."""
    import keras

    fw = model.get_layer("encoder").forward_layer
    inp = keras.Input((STEPS, VOCAB))
    twin = keras.layers.LSTM(UNITS, return_state=True)
    _, _, c = twin(inp)
    twin.set_weights(fw.get_weights())
    return keras.Model(inp, c).predict(np.eye(VOCAB, dtype="float32")[x], verbose=0)


def main() -> None:
    import keras

    import rnndyn

    x, lengths = data()
    print(f"keras {keras.__version__} ({keras.backend.backend()}), {os.cpu_count()} CPU cores")
    print(
        f"founding encoder: one-hot {VOCAB} -> Bidirectional(LSTM({UNITS})), {STEPS} steps, "
        f"{N} sequences, batch {BATCH}"
    )

    def predict(model):
        return model.predict(x, batch_size=BATCH, verbose=0)

    def capture(model, states):
        return rnndyn.capture(
            model, x, layer="encoder", state=states, lengths=lengths, batch_size=BATCH, progress=False
        )

    def unjoined(model, states):
        from rnndyn import iter_capture

        parts = iter_capture(
            model, x, layer="encoder", state=states, lengths=lengths, batch_size=BATCH, progress=False
        )
        return [p.n_sequences for p in parts]

    gates = ["c", "i", "f", "g", "o"]
    rows: dict[str, tuple[float, float]] = {}
    model = build_encoder()
    *rows["predict, cold"], ref = timed(lambda: predict(model))
    *rows["capture h, cold"], traj = timed(lambda: capture(model, "h"))
    *rows["capture c+gates, cold"], full = timed(lambda: capture(model, gates))
    warm: dict[str, list[tuple[float, float]]] = {"predict": [], "capture h": [], "capture c+gates": []}
    for _ in range(REPEATS):  # interleaved, best of REPEATS: the machine is shared
        warm["predict"].append(timed(lambda: predict(model))[:2])
        warm["capture h"].append(timed(lambda: capture(model, "h"))[:2])
        warm["capture c+gates"].append(timed(lambda: capture(model, gates))[:2])
    # the same, each batch dropped once captured: what joining the batches costs
    unjoined_runs = [timed(lambda: unjoined(model, gates))[:2] for _ in range(REPEATS)]
    warm["capture c+gates, batches not joined"] = unjoined_runs
    for k, v in warm.items():
        rows[f"{k}, warm (best of {REPEATS})"] = (min(w for w, _ in v), min(c for _, c in v))

    # the founding notebook: a sub-model, predict called one string at a time
    loop_model = build_encoder()
    loop_model.predict(x[:1], verbose=0)  # its first call traces; not counted
    t_loop, c_loop, _ = timed(lambda: [loop_model.predict(x[i : i + 1], verbose=0) for i in range(LOOP)])
    loop = t_loop * N / LOOP
    rows[f"one string at a time ({LOOP} timed, x{N // LOOP})"] = (loop, c_loop * N / LOOP)

    fw = traj.select(direction="forward").states
    bw = traj.select(direction="backward").states
    err = np.abs(np.concatenate([fw, bw], -1) - ref).max()
    assert err < 1e-5, f"captured h differs from predict by {err}"
    assert full.shape == (N, STEPS, 2 * UNITS * len(gates))
    c_last = full.select(state="c", direction="forward").states[:64, -1]
    err = np.abs(c_last - final_c(model, x[:64])).max()
    assert err < 1e-4, f"captured c differs from Keras' final cell state by {err}"

    print(f"  {'':<54s} {'wall':>8s}   {'CPU':>7s}   {'sequences/s (wall)':>18s}")
    for k, (w, c) in rows.items():
        print(f"  {k:<54s} {w:8.2f} s {c:7.2f} s   {N / w:18.0f}")
    p_cold = rows["predict, cold"][0]
    p_warm, p_cpu = rows[f"predict, warm (best of {REPEATS})"]
    h_cold = rows["capture h, cold"][0]
    h_warm, h_cpu = rows[f"capture h, warm (best of {REPEATS})"]
    g_cold = rows["capture c+gates, cold"][0]
    g_warm, g_cpu = rows[f"capture c+gates, warm (best of {REPEATS})"]
    print("ratios (targets in brackets):")
    print(
        f"  capture h / predict             cold {h_cold / p_cold:5.2f}   warm {h_warm / p_warm:5.2f}"
        f"   warm CPU {h_cpu / p_cpu:5.2f}   [<= 1.15]"
    )
    print(
        f"  capture c+gates / predict       cold {g_cold / p_cold:5.2f}   warm {g_warm / p_warm:5.2f}"
        f"   warm CPU {g_cpu / p_cpu:5.2f}   [<= 2]"
    )
    u_warm = rows[f"capture c+gates, batches not joined, warm (best of {REPEATS})"][0]
    print(
        f"  c+gates, batches not joined / predict        warm {u_warm / p_warm:5.2f}"
        f"   (joining the batches: {g_warm - u_warm:.2f} s)"
    )
    print(
        f"  one-at-a-time loop / capture h  cold {loop / h_cold:5.0f}   warm {loop / h_warm:5.0f}   [>= 50]"
    )
    print(f"  (the founding notebook managed 17 strings/s on a GPU; this loop: {N / loop:.1f}/s)")


if __name__ == "__main__":
    main()
