"""Benchmark: data bigger than memory -- streaming, the zarr store, Dask, kill and resume.

The date study's encoder with random weights: ``nn.LSTM(60, 256,
batch_first=True, bidirectional=True)`` (512 units of ``h``) on one-hot inputs
of 60 symbols, 50 steps, random lengths 6..41, batches of ``--batch-size``
(1000). The one-hot inputs are made on the fly from ``uint8`` tokens
(``forward=``), batch by batch where rnndyn allows it, so the inputs never
make memory grow with the number of sequences. Metrics: ``msd``, ``vacf``,
``rms_delta``, ``mean_abs_delta``, ``msd_from_start``, regions ``input`` and
``padding``, all lags. It measures

* **stream**: ``capture(model, batches, sink=Accumulator(...))`` with the
  batches from a generator, at 1k, 10k and 100k sequences, each in a fresh
  interpreter, so its peak RSS (``VmHWM``) is its own; throughput in
  sequences/s, wall and CPU time (the process, all threads);
* **stream vs in memory** at 1k: the same batches through ``capture()`` and
  then the ten in-memory metric calls, interleaved, best of ``--repeats``;
  the streamed result must equal the in-memory one to 1e-9 relative;
* **store**: ``capture(..., store=path)`` against the in-memory ``capture()``
  of the same inputs (interleaved, best of), then the metrics out of core on
  ``rnndyn.open_store`` (one ``dask.compute``), checked against the streamed
  result; 1k and 10k (100k is 10 GB and would take over 4 minutes here);
* **Dask**: ``rnndyn.distributed.accumulate`` of 10k sequences on a local
  cluster of 1, then 2 worker processes (one thread each), the model through
  a file written by ``rnndyn_torch.save_rnn``; checked against the stream.
  Dask's nannies start workers with ``MALLOC_TRIM_THRESHOLD_=65536``, which
  turns off glibc's adaptive mmap threshold: every large temporary array of
  the capture and the metrics is then mapped and unmapped again, and a
  1,000-sequence capture + accumulate took 24 s in a worker (14 s of it
  system time) against 10 s without the variable and 7 s in a plain
  process. The benchmark removes it (``work_dask(trim=True)`` keeps it);
* **kill and resume**: a 10k store capture in a subprocess, SIGKILLed once half
  of its batches are complete, then the same call again: its time against an
  uninterrupted capture, and the two stores compared (states, steps, units,
  metadata).

Targets: streaming peak RSS flat within 20% from 10k to 100k and under 1 GB
at 100k; streaming throughput within 15% of capture + in-memory metrics at 1k
(ratio <= 1.15); store write <= 1.5x the in-memory capture. Every worker uses
one torch thread (rnndyn's metrics use one thread per core).

Usage::

    python benchmarks/scale.py           # everything (about 15-20 min on a busy 2-core machine)
    python benchmarks/scale.py --quick   # 200 / 1,000 / 2,000 sequences, a smoke run
    python benchmarks/scale.py --sizes 1000,10000 --skip dask,resume
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

V, T, H = 60, 50, 256
METRICS = ["msd", "vacf", "rms_delta", "mean_abs_delta", "msd_from_start"]
REGIONS = ["input", "padding"]
GB = 1e9


# ------------------------------------------------------------------ the workload
def build_model() -> Any:
    import torch
    from torch import nn

    torch.manual_seed(0)
    return nn.LSTM(V, H, batch_first=True, bidirectional=True).eval()


def onehot(model: Any, tokens: Any) -> Any:
    """``forward=``: one batch of uint8 tokens -> the LSTM on their one-hot vectors."""
    import torch

    x = torch.nn.functional.one_hot(torch.as_tensor(tokens, dtype=torch.int64), V).float()
    return model(x)


def token_batch(i: int, n: int, bs: int) -> np.ndarray:
    """Batch ``i`` of the tokens (its own seed: any batch is made alone, in any order)."""
    size = min(bs, n - i * bs)
    return np.random.default_rng([0, i]).integers(0, V, size=(size, T)).astype(np.uint8)


def token_batches(n: int, bs: int) -> Iterator[np.ndarray]:
    for i in range(-(-n // bs)):
        yield token_batch(i, n, bs)


def tokens(n: int, bs: int) -> np.ndarray:
    """All the tokens at once (n x 50 bytes), the batches of :func:`token_batches` joined."""
    return np.concatenate(list(token_batches(n, bs)))


def lengths(n: int) -> np.ndarray:
    return np.random.default_rng(1).integers(6, 42, size=n)


def accumulator() -> Any:
    from rnndyn.stream import Accumulator

    return Accumulator(METRICS, regions=REGIONS)


def results_of(acc: Any) -> dict[str, np.ndarray]:
    return {f"{r}/{m}": np.asarray(v) for r in REGIONS for m, v in acc.result(r).items()}


def max_rel(a: dict[str, Any], b: dict[str, Any]) -> float:
    """Largest |a - b| / max|b| over every metric (relative to each metric's scale).

    A lag or step no pair reaches is NaN in both (else: infinity).
    """
    out = 0.0
    for k in b:
        x, y = np.asarray(a[k], dtype=np.float64), np.asarray(b[k], dtype=np.float64)
        if x.shape != y.shape or not np.array_equal(np.isnan(x), np.isnan(y)):
            return float("inf")
        if not np.all(np.isnan(y)):  # an all-NaN metric: msd_from_start in the padding (no pairs)
            out = max(out, float(np.nanmax(np.abs(x - y)) / np.nanmax(np.abs(y))))
    return out


# ------------------------------------------------------------------ measuring (in the workers)
def peak_rss() -> float:
    """This process's peak resident memory (VmHWM), bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return float(line.split()[1]) * 1024
    import resource  # pragma: no cover - not Linux

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024.0


def timed(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """``(wall, cpu, result)``: wall clock and this process's CPU time (all threads)."""
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - w, time.process_time() - c, out


def best_of(jobs: dict[str, Callable[[], Any]], repeats: int) -> dict[str, tuple[float, float]]:
    """Interleaved runs; the best wall and the best CPU time of each job."""
    best = {k: (float("inf"), float("inf")) for k in jobs}
    for _ in range(repeats):
        for k, fn in jobs.items():
            w, c, _ = timed(fn)
            best[k] = (min(best[k][0], w), min(best[k][1], c))
    return best


def _setup() -> Any:
    import torch

    torch.set_num_threads(1)
    model = build_model()
    import rnndyn

    # warm up every path on one small batch (imports, the first FFT plans)
    rnndyn.capture(model, token_batch(0, 10, 10), lengths=lengths(10), forward=onehot, progress=False)
    rnndyn.capture(
        model, token_batches(10, 10), lengths=lengths(10), forward=onehot, progress=False, sink=accumulator()
    )
    return model


def work_stream(n: int, bs: int, out: str | None, **_: Any) -> dict[str, Any]:
    import rnndyn

    model = _setup()
    before = peak_rss()
    run = lambda: rnndyn.capture(  # noqa: E731
        model, token_batches(n, bs), lengths=lengths(n), forward=onehot, progress=False, sink=accumulator()
    )
    wall, cpu, acc = timed(run)
    if out:
        np.savez(out, **results_of(acc))
    return {"wall": wall, "cpu": cpu, "rss": peak_rss(), "rss_setup": before, "n": acc.n_sequences}


def in_memory(model: Any, n: int, bs: int) -> dict[str, Any]:
    """Capture every sequence into one Trajectories, then the in-memory metrics."""
    import rnndyn

    traj = rnndyn.capture(model, token_batches(n, bs), lengths=lengths(n), forward=onehot, progress=False)
    return {f"{r}/{m}": getattr(rnndyn.metrics, m)(traj, region=r) for r in REGIONS for m in METRICS}


def work_compare(n: int, bs: int, repeats: int, **_: Any) -> dict[str, Any]:
    import rnndyn

    model = _setup()
    stream = lambda: rnndyn.capture(  # noqa: E731
        model, token_batches(n, bs), lengths=lengths(n), forward=onehot, progress=False, sink=accumulator()
    )
    best = best_of({"stream": stream, "memory": lambda: in_memory(model, n, bs)}, repeats)
    return {**best, "rel": max_rel(results_of(stream()), in_memory(model, n, bs))}


def store_metrics(path: str) -> dict[str, np.ndarray]:
    """Every metric out of core on the store: one graph, one pass of dask."""
    import dask

    import rnndyn

    traj = rnndyn.open_store(path)
    lazy = {f"{r}/{m}": getattr(rnndyn.metrics, m)(traj, region=r) for r in REGIONS for m in METRICS}
    return dict(zip(lazy, dask.compute(*lazy.values()), strict=True))


def _warm_store(model: Any, folder: str) -> None:
    """One tiny store capture: zarr, dask and the store code imported before any timing."""
    import rnndyn

    path = os.path.join(folder, "warm.zarr")
    rnndyn.capture(
        model, token_batch(0, 10, 10), lengths=lengths(10), forward=onehot, progress=False, store=path
    )
    shutil.rmtree(path, ignore_errors=True)


def work_store(n: int, bs: int, repeats: int, path: str, ref: str | None, **_: Any) -> dict[str, Any]:
    """Store writes against in-memory captures (interleaved), then the metrics out of core."""
    import rnndyn

    model = _setup()
    _warm_store(model, os.path.dirname(path))
    tok, lens = tokens(n, bs), lengths(n)
    kw = {"lengths": lens, "batch_size": bs, "forward": onehot, "progress": False}

    def write() -> None:
        shutil.rmtree(path, ignore_errors=True)
        rnndyn.capture(model, tok, store=path, **kw)

    best = best_of({"store": write, "memory": lambda: rnndyn.capture(model, tok, **kw)}, repeats)
    rss_write = peak_rss()
    wall, cpu, res = timed(lambda: store_metrics(path))
    out = {**best, "metrics": (wall, cpu), "rss_write": rss_write, "bytes": _du(path)}
    if ref:
        with np.load(ref) as f:
            out["rel"] = max_rel(res, dict(f))
    return out


def work_store_once(n: int, bs: int, path: str, **_: Any) -> dict[str, Any]:
    """One store capture (what the kill-and-resume run repeats)."""
    import rnndyn

    model = _setup()
    _warm_store(model, os.path.dirname(path))
    tok, lens = tokens(n, bs), lengths(n)
    wall, cpu, _ = timed(
        lambda: rnndyn.capture(
            model, tok, lengths=lens, batch_size=bs, forward=onehot, progress=False, store=path
        )
    )
    return {"wall": wall, "cpu": cpu}


def work_dask(n: int, bs: int, workers: int, ref: str | None, trim: bool = False, **_: Any) -> dict[str, Any]:
    import dask
    from distributed import Client, LocalCluster

    if not trim:  # see the docstring: Dask's default costs 2.4x here
        dask.config.config["distributed"]["nanny"]["pre-spawn-environ"].pop("MALLOC_TRIM_THRESHOLD_", None)
        os.environ.pop("MALLOC_TRIM_THRESHOLD_", None)

    from rnndyn.distributed import accumulate
    from rnndyn_torch import save_rnn

    folder = tempfile.mkdtemp(prefix="rnndyn-scale-")
    model_path = os.path.join(folder, "encoder.safetensors")
    save_rnn(build_model(), model_path)
    tok, lens = tokens(n, bs), lengths(n)
    t0 = time.perf_counter()
    opts = {
        "threads_per_worker": 1,
        "processes": True,
        "host": "127.0.0.1",
        "dashboard_address": "127.0.0.1:0",
    }
    with LocalCluster(n_workers=workers, **opts) as cluster, Client(cluster) as client:
        start = time.perf_counter() - t0
        go = lambda: accumulate(  # noqa: E731
            model_path, tok, lengths=lens, forward=onehot, metrics=METRICS, regions=REGIONS,
            shard_size=bs, batch_size=bs, client=client,
        )  # fmt: skip
        go_small = lambda: accumulate(  # noqa: E731
            model_path, tok[: bs * workers], lengths=lens[: bs * workers], forward=onehot,
            metrics=METRICS, regions=REGIONS, shard_size=bs, batch_size=bs, client=client,
        )  # fmt: skip
        go_small()  # warm up: every worker loads the model and its imports
        wall, cpu, acc = timed(go)
    shutil.rmtree(folder, ignore_errors=True)
    out = {"wall": wall, "cpu": cpu, "start": start, "n": acc.n_sequences}
    if ref:
        with np.load(ref) as f:
            out["rel"] = max_rel(results_of(acc), dict(f))
    return out


WORKERS = {
    "stream": work_stream,
    "compare": work_compare,
    "store": work_store,
    "store_once": work_store_once,
    "dask": work_dask,
}


def _du(path: str) -> int:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)


# ------------------------------------------------------------------ the driver
def spawn(kind: str, **kw: Any) -> subprocess.Popen:
    args = [sys.executable, os.path.abspath(__file__), "--worker", kind, "--args", json.dumps(kw)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(args, stdout=subprocess.PIPE, env=env, text=True)


def worker(kind: str, **kw: Any) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter; its last output line is the JSON result."""
    p = spawn(kind, **kw)
    out, _ = p.communicate()
    if p.returncode:
        raise SystemExit(f"worker {kind} {kw} failed ({p.returncode})")
    return json.loads(out.strip().splitlines()[-1])


def resume(n: int, bs: int, folder: str, ref_path: str) -> dict[str, Any]:
    """Kill a store capture half-way, run it again; compare with the uninterrupted store."""
    from rnndyn.store import store_info

    path = os.path.join(folder, "killed.zarr")
    p = spawn("store_once", n=n, bs=bs, path=path)
    half, done = -(-n // bs) // 2, 0
    while p.poll() is None:
        try:
            done = store_info(path)["complete_batches"]
        except Exception:  # not created yet
            done = 0
        if done >= half:
            p.send_signal(signal.SIGKILL)
            break
        time.sleep(0.05)
    p.wait()
    killed_at = done
    res = worker("store_once", n=n, bs=bs, path=path)
    fresh = os.path.join(folder, "fresh.zarr")
    whole = worker("store_once", n=n, bs=bs, path=fresh)
    res.update(whole_wall=whole["wall"], whole_cpu=whole["cpu"], killed_at=killed_at, batches=-(-n // bs))
    res["equal"] = stores_equal(path, fresh) and stores_equal(path, ref_path)
    return res


def stores_equal(a: str, b: str) -> bool:
    import dask.array as da

    import rnndyn
    from rnndyn.store import store_info

    ia, ib = ({k: v for k, v in store_info(p).items() if k != "created"} for p in (a, b))
    ta, tb = rnndyn.open_store(a), rnndyn.open_store(b)
    same_states = bool(da.all(ta.states == tb.states).compute())
    same_steps = np.array_equal(ta.steps.valid, tb.steps.valid) and np.array_equal(ta.lengths, tb.lengths)
    return ia == ib and same_states and same_steps and ta.units.equals(tb.units)


def fmt_rate(n: int, wall: float) -> str:
    return f"{n / wall:8.0f} seq/s"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    ap.add_argument("--sizes", default=None, help="streaming sizes (default 1000,10000,100000)")
    ap.add_argument("--store-sizes", default=None, help="store sizes (default 1000,10000)")
    ap.add_argument("--n", type=int, default=None, help="sequences for Dask and kill-and-resume (10000)")
    ap.add_argument("--batch-size", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip", default="", help="comma-separated: stream,compare,store,dask,resume")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--args", default="{}", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        print(json.dumps(WORKERS[a.worker](**json.loads(a.args))))
        return
    t_start = time.perf_counter()
    bs = a.batch_size if not a.quick else 100
    sizes = [int(s) for s in (a.sizes or ("200,1000,2000" if a.quick else "1000,10000,100000")).split(",")]
    store_sizes = [int(s) for s in (a.store_sizes or ("200,1000" if a.quick else "1000,10000")).split(",")]
    n_big = a.n or (1000 if a.quick else 10000)
    skip = set(filter(None, a.skip.split(",")))
    load = os.getloadavg()[0]
    print(
        f"{os.cpu_count()} CPUs, load average {load:.1f}; BiLSTM {H} units each way (512 of h), {T} steps, "
        f"one-hot {V} symbols, lengths 6..41, batch_size {bs}; metrics {', '.join(METRICS)}; regions "
        f"{', '.join(REGIONS)}; one torch thread per process"
    )
    folder = tempfile.mkdtemp(prefix="rnndyn-scale-", dir="/tmp")
    ratios: list[tuple[str, float, str, bool]] = []
    try:
        refs = {n: os.path.join(folder, f"stream{n}.npz") for n in sorted({*sizes, *store_sizes, n_big})}
        rss: dict[int, float] = {}
        if "stream" not in skip:
            print("\nstream: capture(sink=Accumulator), inputs from a generator, a fresh process per size")
            for n in sorted({*sizes, *store_sizes, n_big} - {max(sizes)}):
                r = worker("stream", n=n, bs=bs, out=refs[n])
                rss[n] = r["rss"]
                print(
                    f"  {n:>7} sequences: {r['wall']:8.1f} s wall {r['cpu']:8.1f} s CPU "
                    f"{fmt_rate(n, r['wall'])}"
                    f"   peak RSS {r['rss'] / 2**20:6.0f} MiB (after setup {r['rss_setup'] / 2**20:.0f} MiB)"
                )
        if "compare" not in skip:
            n = sorted(sizes)[0] if a.quick else 1000
            r = worker("compare", n=n, bs=bs, repeats=a.repeats)
            (sw, sc), (mw, mc) = r["stream"], r["memory"]
            print(
                f"\nstream vs capture + in-memory metrics, {n} sequences, best of {a.repeats} (interleaved)"
            )
            print(f"  stream                {sw:7.2f} s wall {sc:7.2f} s CPU {fmt_rate(n, sw)}")
            print(f"  capture + metrics     {mw:7.2f} s wall {mc:7.2f} s CPU {fmt_rate(n, mw)}")
            print(f"  max relative difference: {r['rel']:.1e}")
            ratios.append(
                (f"stream / in memory at {n}, wall (CPU {sc / mc:.2f})", sw / mw, "<= 1.15", sw / mw <= 1.15)
            )
            ratios.append(
                ("stream vs in-memory metrics, max rel. difference", r["rel"], "<= 1e-9", r["rel"] <= 1e-9)
            )
        if "store" not in skip:
            print(
                f"\nstore: capture(store=) vs in-memory capture (best of {a.repeats}, interleaved), then the"
            )
            print("metrics out of core on open_store (one dask.compute)")
            for n in store_sizes:
                ref = refs[n] if os.path.exists(refs[n]) else None
                path = os.path.join(folder, f"store{n}.zarr")
                r = worker("store", n=n, bs=bs, repeats=a.repeats if n <= 1000 else 2, path=path, ref=ref)
                (sw, sc), (mw, mc), (xw, xc) = r["store"], r["memory"], r["metrics"]
                print(
                    f"  {n:>7}: write {sw:6.1f} s wall {sc:6.1f} s CPU "
                    f"({r['bytes'] / 2**20:.0f} MiB on disk), "
                    f"in-memory capture {mw:6.1f} s / {mc:6.1f} s: {sw / mw:.2f}x; metrics out of core "
                    f"{xw:6.1f} s / {xc:6.1f} s CPU {fmt_rate(n, xw)}; peak RSS "
                    f"{r['rss_write'] / 2**20:.0f} MiB"
                    + (f"; vs stream {r['rel']:.1e}" if "rel" in r else "")
                )
                ok = sw / mw <= 1.5
                ratios.append(
                    (f"store write / in-memory capture at {n} (CPU {sc / mc:.2f})", sw / mw, "<= 1.5", ok)
                )
                if "rel" in r:
                    ratios.append((f"store metrics vs stream at {n}", r["rel"], "<= 1e-9", r["rel"] <= 1e-9))
                if n != n_big or "resume" in skip:
                    shutil.rmtree(path, ignore_errors=True)
        if "dask" not in skip:
            print(
                f"\nDask: rnndyn.distributed.accumulate, {n_big} sequences, shards of {bs}, model from a file"
            )
            walls = {}
            for k in (1, 2):
                ref = refs[n_big] if os.path.exists(refs[n_big]) else None
                r = worker("dask", n=n_big, bs=bs, workers=k, ref=ref)
                walls[k] = r["wall"]
                print(
                    f"  {k} worker{'s' if k > 1 else ' '}: {r['wall']:7.1f} s wall "
                    f"{fmt_rate(n_big, r['wall'])} "
                    f"(client CPU {r['cpu']:.1f} s; cluster start {r['start']:.1f} s)"
                    + (f"; vs stream {r['rel']:.1e}" if "rel" in r else "")
                )
                if "rel" in r:
                    ratios.append((f"Dask {k} worker(s) vs stream", r["rel"], "<= 1e-9", r["rel"] <= 1e-9))
            ratios.append(("Dask speed-up, 2 workers / 1", walls[1] / walls[2], "(2 cores, shared)", True))
        if "resume" not in skip:
            ref_path = os.path.join(folder, f"store{n_big}.zarr")
            if not os.path.exists(ref_path):
                worker("store_once", n=n_big, bs=bs, path=ref_path)
            r = resume(n_big, bs, folder, ref_path)
            print(
                f"\nkill and resume: store capture of {n_big}, SIGKILLed at {r['killed_at']} "
                f"of {r['batches']} batches"
            )
            print(
                f"  resumed run {r['wall']:6.1f} s wall {r['cpu']:6.1f} s CPU; uninterrupted "
                f"{r['whole_wall']:6.1f} s wall {r['whole_cpu']:6.1f} s CPU: "
                f"{r['wall'] / r['whole_wall']:.2f}x; stores equal: {r['equal']}"
            )
            ratios.append(
                ("resumed / uninterrupted (wall)", r["wall"] / r["whole_wall"], "(about 1 - done)", True)
            )
            ratios.append(("resumed store equals uninterrupted", float(r["equal"]), "== 1", r["equal"]))
        if "stream" not in skip:  # the largest last: the longest run
            n = max(sizes)
            r = worker("stream", n=n, bs=bs, out=None)
            rss[n] = r["rss"]
            print(
                f"\nstream, {n} sequences: {r['wall']:8.1f} s wall {r['cpu']:8.1f} s CPU "
                f"{fmt_rate(n, r['wall'])}   peak RSS {r['rss'] / 2**20:6.0f} MiB"
            )
            lo, hi = sorted(sizes)[-2:] if len(sizes) > 1 else (sizes[0], sizes[0])
            growth = rss[hi] / rss[lo]
            ratios.append((f"stream peak RSS {hi} / {lo}", growth, "<= 1.2", growth <= 1.2))
            ratios.append((f"stream peak RSS at {hi} (GB)", rss[hi] / GB, "< 1", rss[hi] < GB))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print("\nratios [target]")
    for name, value, goal, ok in ratios:
        print(f"  {name:<58} {value:10.3g}  [{goal}] {'met' if ok else 'MISSED'}")
    print(f"\nwhole benchmark: {time.perf_counter() - t_start:.0f} s wall")


if __name__ == "__main__":
    main()
