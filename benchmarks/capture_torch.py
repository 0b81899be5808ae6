"""Benchmark: capturing a PyTorch bidirectional LSTM against its plain forward pass.

The founding study's encoder: one-hot input of 60 symbols, 50 steps, a
bidirectional LSTM with 256 units each way. For 1,000 and 20,000 sequences
it times

* ``plain``: the batched ``model(x)`` under ``torch.inference_mode()`` (and,
  for reference, under ``torch.no_grad()``), output left where it is;
* ``h``: :func:`rnndyn.capture` of ``h`` (states copied to numpy batch by
  batch; at 20,000 sequences streamed with ``iter_capture`` and dropped, since
  the joined result alone would take 2 GB);
* ``c+gates``: capture of ``c, i, f, g, o`` (streamed the same way), which
  on CPU runs rnndyn's own LSTM recurrence instead of the module's forward
  (``rnndyn_torch._recurrence``);
* ``c+gates, module forward``: the same with
  ``TorchAdapter.own_recurrence = False``: the module's fused forward, then
  ``c`` and the gates recovered from its ``h`` (up to 5,000 sequences);
* ``cell loop``: what one writes without rnndyn to get ``c``: two
  ``nn.LSTMCell`` copies stepped in Python over the whole batch, ``h`` and
  ``c`` stacked (timed on up to 500 sequences, scaled linearly);
* ``one at a time``: ``model(x[i:i+1])`` per sequence, as the founding
  notebook did (timed on a subsample, scaled linearly).

Targets: on CPU ``h`` <= 1.1x and ``c+gates`` <= 2x the plain forward; on
GPU (``--device cuda``) ``h`` <= 1.1x and ``c+gates`` <= 3x the cuDNN forward.
Every time is the best of ``--repeats`` runs, measurements interleaved. On a
shared, busy machine wall times swing; ``--cpu-time`` times this thread's CPU
time with one torch thread instead, which other processes barely disturb
(with one thread rnndyn's recurrence runs on this thread too; with more it
starts worker threads, whose CPU time this clock would miss).

Usage::

    python benchmarks/capture_torch.py            # 1,000 and 20,000 sequences
    python benchmarks/capture_torch.py --quick    # 200 and 1,000
    python benchmarks/capture_torch.py --cpu-time # one thread, CPU time
    python benchmarks/capture_torch.py --device cuda --batch-size 5000
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable
from functools import partial

import numpy as np
import torch
from torch import nn

import rnndyn
from rnndyn import iter_capture
from rnndyn_torch import TorchAdapter

V, T, H = 60, 50, 256
GATES = ["c", "i", "f", "g", "o"]


class Encoder(nn.Module):
    """One-hot (frozen identity embedding) -> bidirectional LSTM, as in the study."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.LSTM(V, H, batch_first=True, bidirectional=True)

    def forward(self, chars: torch.Tensor) -> torch.Tensor:
        return self.encoder(nn.functional.one_hot(chars, V).float())[0]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


CLOCK = time.perf_counter


def _timed(fn: Callable[[], object], device: torch.device) -> float:
    _sync(device)
    t0 = CLOCK()
    fn()
    _sync(device)
    return CLOCK() - t0


def plain(model: nn.Module, x: torch.Tensor, bs: int, device: torch.device, mode) -> None:
    with mode():
        for i in range(0, x.shape[0], bs):
            model(x[i : i + bs].to(device))


def capture(
    model: nn.Module, x: torch.Tensor, bs: int, states: list[str], keep: bool, dev, own: bool = True
) -> None:
    kw = dict(layer="encoder", state=states, batch_size=bs, progress=False, device=dev)
    TorchAdapter.own_recurrence = own
    try:
        if keep:
            rnndyn.capture(model, x, **kw)
        else:
            for _ in iter_capture(model, x, **kw):
                pass
    finally:
        TorchAdapter.own_recurrence = True


def cell_loop(model: Encoder, x: torch.Tensor, bs: int, device: torch.device) -> None:
    """h and c of both directions by stepping two LSTMCells (copied weights) in Python."""
    lstm = model.encoder
    cells = []
    for sfx in ("_l0", "_l0_reverse"):
        cell = nn.LSTMCell(V, H).to(device)
        with torch.no_grad():
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(cell, name).copy_(getattr(lstm, name + sfx))
        cells.append(cell)
    with torch.inference_mode():
        for i in range(0, x.shape[0], bs):
            xb = nn.functional.one_hot(x[i : i + bs].to(device), V).float()
            for d, cell in enumerate(cells):
                h = c = xb.new_zeros(xb.shape[0], H)
                hs, cs = [], []
                for t in range(T - 1, -1, -1) if d else range(T):
                    h, c = cell(xb[:, t], (h, c))
                    hs.append(h)
                    cs.append(c)
                torch.stack(hs, 1).cpu().numpy()
                torch.stack(cs, 1).cpu().numpy()


def one_at_a_time(model: nn.Module, x: torch.Tensor, device: torch.device) -> None:
    with torch.inference_mode():
        for i in range(x.shape[0]):
            model(x[i : i + 1].to(device)).cpu().numpy()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="200 and 1,000 sequences")
    ap.add_argument("--sizes", type=str, default=None, help="comma-separated sequence counts")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch-size", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=None, help="default 3 (1 above 5,000)")
    ap.add_argument("--subsample", type=int, default=None, help="sequences for one-at-a-time")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument(
        "--cpu-time",
        action="store_true",
        help="time with this thread's CPU time (sets --threads 1): steady on a busy machine",
    )
    args = ap.parse_args()
    if args.cpu_time:
        global CLOCK
        CLOCK = time.thread_time
        args.threads = 1
    sizes = (
        [int(s) for s in args.sizes.split(",")]
        if args.sizes
        else ([200, 1000] if args.quick else [1000, 20000])
    )
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    model = Encoder().to(device).eval()
    bs = args.batch_size
    sub = args.subsample or (20 if args.quick else 50)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor()
    print(
        f"torch {torch.__version__}, device {device} ({name or platform.machine()}), "
        f"{torch.get_num_threads()} threads, {os.cpu_count()} CPUs, load average {load:.1f}, "
        f"clock {'thread CPU time' if args.cpu_time else 'wall'}"
    )
    print(f"BiLSTM {H} units each way, {T} steps, one-hot {V} symbols, batch_size {bs}")
    rng = np.random.default_rng(0)
    for n in sizes:
        x = torch.from_numpy(rng.integers(0, V, size=(n, T)))
        keep = n * T * 2 * H * 4 * len(GATES) <= 2e9  # keep joined results up to 2 GB
        repeats = args.repeats or (3 if n <= 5000 else 1)
        measure(model, x, bs, device, keep, repeats, sub)


def measure(model, x, bs, device, keep, repeats, sub) -> None:
    """Time every job on ``x`` and print the table and the ratios."""
    n = x.shape[0]
    capture(model, x[: min(n, bs)], bs, ["h"], True, None)  # warm up every path
    capture(model, x[: min(n, bs)], bs, GATES, True, None)
    capture(model, x[: min(n, bs)], bs, GATES, True, None, False)
    jobs: dict[str, Callable[[], object]] = {
        "plain (inference_mode)": partial(plain, model, x, bs, device, torch.inference_mode),
        "plain (no_grad)": partial(plain, model, x, bs, device, torch.no_grad),
        "h -> numpy": partial(capture, model, x, bs, ["h"], keep, None),
        "h+c -> numpy": partial(capture, model, x, bs, ["h", "c"], keep, None),
        "c+gates -> numpy": partial(capture, model, x, bs, GATES, keep, None),
        "c+gates, module forward": partial(capture, model, x, bs, GATES, keep, None, False),
    }
    if n > 5000:  # the large run keeps to the three that matter (about a minute of CPU)
        del jobs["plain (no_grad)"], jobs["h+c -> numpy"], jobs["c+gates, module forward"]
    if device.type != "cpu":
        jobs["h, kept on device"] = partial(capture, model, x, bs, ["h"], False, device)
        jobs["c+gates, kept on device"] = partial(capture, model, x, bs, GATES, False, device)
    best = {k: float("inf") for k in jobs}
    for _ in range(repeats):
        for k, fn in jobs.items():
            best[k] = min(best[k], _timed(fn, device))
    m = min(n, 500)
    best["cell loop (h, c)"] = _timed(partial(cell_loop, model, x[:m], bs, device), device) * n / m
    k = min(n, sub)
    best["one at a time (h)"] = _timed(partial(one_at_a_time, model, x[:k], device), device) * n / k
    base = best["plain (inference_mode)"]
    ng = best.get("plain (no_grad)", base)
    how = "joined into one Trajectories" if keep else "streamed with iter_capture, dropped"
    print(f"\n{n} sequences ({how}; best of {repeats}; cell loop and one-at-a-time scaled)")
    for key, secs in best.items():
        print(f"  {key:<28} {secs:9.3f} s   {secs / base:7.2f}x plain   {n / secs:10.0f} seq/s")
    target = 2 if device.type == "cpu" else 3
    for key, goal in (("h -> numpy", 1.1), ("c+gates -> numpy", target)):
        print(
            f"  {key} / plain: {best[key] / base:.2f} (/ no_grad plain {best[key] / ng:.2f}; "
            f"target <= {goal})"
        )
    if device.type != "cpu":
        print(
            f"  kept on device / plain: h {best['h, kept on device'] / base:.2f}, c+gates "
            f"{best['c+gates, kept on device'] / base:.2f}"
        )
    if "c+gates, module forward" in best:
        fwd = best["c+gates, module forward"]
        print(
            f"  c+gates, module forward / plain: {fwd / base:.2f} "
            f"(rnndyn's recurrence saves {1 - best['c+gates -> numpy'] / fwd:.0%})"
        )
    if "h+c -> numpy" in best:
        cell = best["cell loop (h, c)"]
        print(f"  cell loop (h, c) / capture h+c: {cell / best['h+c -> numpy']:.2f}")
    print(f"  one at a time / capture h: {best['one at a time (h)'] / best['h -> numpy']:.1f}")


if __name__ == "__main__":
    main()
