"""Benchmark rnndyn.metrics against a Python loop of tidynamics and naive numpy.

Run from the repository root::

    python benchmarks/metrics.py            # full shapes (about a minute on 2 cores)
    python benchmarks/metrics.py --quick    # small shapes, seconds
    python benchmarks/metrics.py --device cuda   # also torch CUDA tensors (10000, 50, 512)

For each shape (float32 random walks) it times MSD + VACF three ways and
prints the ratios side by side, with the largest difference from tidynamics:

* rnndyn: ``metrics.msd(x)`` + ``metrics.vacf(x)`` over every series;
* tidynamics: ``tidynamics.msd`` + ``tidynamics.acf`` in a Python loop over
  series, timed on a subsample of series and scaled up to all of them;
* naive numpy: the same FFT algorithm on the whole float64 array at once
  (no blocks), as one would write it first.

Then it times the whole metric suite on (1000, 50, 512). Times are the
minimum wall time over ``--repeat`` runs (the machine may be shared).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.fft

from rnndyn import metrics

SUITE = ("deltas", "rms_delta", "mean_abs_delta", "vacf", "msd", "vacf_two_time", "msd_from_start")


def best_time(func: Callable[[], Any], repeat: int, sync: Callable[[], None] | None = None) -> float:
    """Minimum wall time of ``func()`` over ``repeat`` runs (CPU time is in ``CPU_TIMES``)."""
    best, cpu = float("inf"), float("inf")
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        func()
        if sync is not None:
            sync()
        best = min(best, time.perf_counter() - t0)
        cpu = min(cpu, time.process_time() - c0)
    CPU_TIMES.append(cpu)
    return best


#: CPU time (all threads) of the best_time calls, in order: a shared machine
#: inflates wall times, CPU time much less.
CPU_TIMES: list[float] = []


def walks(shape: tuple[int, int, int], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.cumsum(rng.standard_normal(shape, dtype=np.float32), axis=1)


def tidynamics_loop(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pooled MSD and VACF, one tidynamics call per series (all series equally long)."""
    import tidynamics

    n, T, U = x.shape
    msd = np.zeros((T, U))
    acf = np.zeros((T - 1, U))
    for i in range(n):
        for u in range(U):
            s = x[i, :, u].astype(np.float64)
            msd[:, u] += tidynamics.msd(s)
            acf[:, u] += tidynamics.acf(np.diff(s))
    return msd / n, acf / n


def naive_numpy(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The FFT algorithm on the whole array at once: float64 copy, FFT along axis 1."""
    n, T, U = x.shape
    y = x.astype(np.float64)
    y -= y.mean(axis=1, keepdims=True)
    nfft = scipy.fft.next_fast_len(2 * T, real=True)
    s2 = scipy.fft.irfft(np.abs(scipy.fft.rfft(y, nfft, axis=1)) ** 2, nfft, axis=1)[:, :T].sum(0)
    q = (y * y).sum(0)
    P = np.concatenate([np.zeros((1, U)), np.cumsum(q, axis=0)])
    m = np.arange(T)
    msd = (P[T] - P[m] + P[T - m] - 2 * s2) / (n * (T - m))[:, None]
    d = np.diff(y, axis=1)
    nfft = scipy.fft.next_fast_len(2 * (T - 1), real=True)
    c = scipy.fft.irfft(np.abs(scipy.fft.rfft(d, nfft, axis=1)) ** 2, nfft, axis=1)[:, : T - 1].sum(0)
    return msd, c / (n * (T - 1 - np.arange(T - 1)))[:, None]


def rel_diff(a: np.ndarray, ref: np.ndarray) -> float:
    """Largest |a - ref| relative to the scale of each unit's reference curve."""
    scale = np.max(np.abs(ref), axis=0, keepdims=True)
    return float(np.max(np.abs(a - ref) / np.where(scale > 0, scale, 1.0)))


def compare(shape: tuple[int, int, int], sample: tuple[int, int], repeat: int) -> dict[str, float]:
    x = walks(shape)
    n, T, U = shape
    t_ours = best_time(lambda: (metrics.msd(x), metrics.vacf(x)), repeat)
    c_ours = CPU_TIMES[-1]
    t_naive = best_time(lambda: naive_numpy(x), max(1, repeat // 2))
    ks, ku = sample
    sub = x[:ks, :, :ku]
    t0, c0 = time.perf_counter(), time.process_time()
    ref_msd, ref_acf = tidynamics_loop(sub)
    t_tid = (time.perf_counter() - t0) / (ks * ku) * (n * U)
    c_tid = (time.process_time() - c0) / (ks * ku) * (n * U)
    diff = max(rel_diff(metrics.msd(sub), ref_msd), rel_diff(metrics.vacf(sub), ref_acf))
    naive_msd, naive_acf = naive_numpy(x)
    diff_naive = max(rel_diff(metrics.msd(x), naive_msd), rel_diff(metrics.vacf(x), naive_acf))
    print(
        f"{str(shape):>16}  rnndyn {t_ours:8.3f} s | tidynamics loop {t_tid:8.2f} s "
        f"({t_tid / t_ours:5.1f}x) | naive numpy {t_naive:7.3f} s ({t_naive / t_ours:4.1f}x) | "
        f"max rel diff vs tidynamics {diff:.1e}, vs naive {diff_naive:.1e}"
    )
    print(
        f"{'CPU time':>16}  rnndyn {c_ours:8.3f} s | tidynamics loop {c_tid:8.2f} s ({c_tid / c_ours:5.1f}x)"
    )
    return {"rnndyn": t_ours, "tidynamics": t_tid, "naive": t_naive, "diff": diff}


def suite(x: Any, repeat: int, sync: Callable[[], None] | None = None) -> dict[str, float]:
    times = {}
    for name in SUITE:
        func = getattr(metrics, name)
        times[name] = best_time(lambda func=func: func(x), repeat, sync)
    return times


def print_suite(label: str, times: dict[str, float]) -> None:
    parts = " ".join(f"{k} {v * 1e3:.0f}" for k, v in times.items())
    cpu = sum(CPU_TIMES[-len(times) :])
    print(f"{label}: total {sum(times.values()):.3f} s, CPU {cpu:.3f} s  (ms: {parts})")


def cuda(shape: tuple[int, int, int], repeat: int) -> None:
    import torch

    if not torch.cuda.is_available():
        print("--device cuda: torch.cuda is not available here; skipped.")
        return
    x = torch.as_tensor(walks(shape)).cuda()
    sync = torch.cuda.synchronize
    for name in SUITE:  # warm-up: cuFFT plans, kernels
        getattr(metrics, name)(x)
    sync()
    t = best_time(lambda: (metrics.msd(x), metrics.vacf(x)), repeat, sync)
    print(f"cuda {shape}: msd + vacf {t * 1e3:.1f} ms ({torch.cuda.get_device_name()})")
    print_suite(f"cuda {shape} suite", suite(x, repeat, sync))
    ref = metrics.msd(x[:50].cpu().numpy())
    got = metrics.msd(x[:50]).cpu().numpy()
    print(f"cuda vs numpy msd max rel diff {rel_diff(got, ref):.1e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small shapes, for a smoke test")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--repeat", type=int, default=None, help="timing repeats (min is kept)")
    args = parser.parse_args()
    repeat = args.repeat or (2 if args.quick else 5)
    if args.quick:
        cases = [((100, 50, 64), (20, 64)), ((10, 1000, 64), (4, 32))]
        suite_shape = (100, 50, 64)
    else:
        cases = [((1000, 50, 512), (32, 128)), ((100, 1000, 512), (8, 64))]
        suite_shape = (1000, 50, 512)
    print("MSD + VACF, float32 random walks (targets: >= 25x tidynamics at T=50, >= 4x at T=1000)")
    for shape, sample in cases:
        compare(shape, sample, repeat)
    print_suite(f"suite {suite_shape} (target < 2 s)", suite(walks(suite_shape), repeat))
    if args.device == "cuda":
        cuda((1000, 50, 512) if args.quick else (10000, 50, 512), repeat)


if __name__ == "__main__":
    main()
