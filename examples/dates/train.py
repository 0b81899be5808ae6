"""Train the date translators (Keras 3 and/or PyTorch) on a 2-core CPU.

Usage (from the repository root)::

    python -m examples.dates.train --framework keras|torch|both --out examples/dates/weights

Everything is seeded: data (:func:`examples.dates.data.make_splits`), the
initial weights (``--seed``) and the batch order. The validation set is the
shipped one (``examples/dates/weights/validation.json``, checked by hash with
:func:`examples.dates.models.load_validation`), so validation accuracies do
not depend on the installed Babel; the training strings are generated and
exclude every validation string. The defaults (80,000
strings, one epoch, batch 64, Adam 2e-3 with warm-up and cosine decay) reach
about 95% exact-match accuracy on the 1,000 held-out validation strings (the
shipped ``metrics.json``; training times in docs/dates.md). ``--threads``
sets the CPU threads.

Outputs in ``--out``: ``input_vocab.json``, ``output_vocab.json``,
``keras_model.keras`` (loads with ``safe_mode=True``),
``torch_model.safetensors``, ``validation.json`` (a copy of the shipped
validation set) and ``metrics.json`` (overall, per-format and
per-case exact-match accuracy, the four example strings of the founding
study and each model's output for them, training time and settings).
Training one framework keeps the other framework's entries.

The Keras model trains on whatever ``KERAS_BACKEND`` selects (default
tensorflow, with TensorFlow's default threads); PyTorch uses
``torch.set_num_threads(2)``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import shutil
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from . import data as D
from . import models as M

#: The four example strings of the founding study with their true ISO dates
#: ("March the 12th, 2012" is the one the original model got wrong).
STUDY_EXAMPLES: tuple[tuple[str, str], ...] = (
    ("February 16th, 2019", "2019-02-16"),
    ("Jan 1 1990", "1990-01-01"),
    ("02-03-1998", "1998-03-02"),
    ("March the 12th, 2012", "2012-03-12"),
)

#: Strings used to build the input vocabulary (fixed, independent of
#: ``--n-train``, so both frameworks always share one vocabulary).
VOCAB_STRINGS: int = 100_000


def make_input_vocab() -> D.InputVocab:
    """The shared input vocabulary: 60 symbols from 100,000 training strings."""
    return D.InputVocab.build((h for h, _ in D.generate(VOCAB_STRINGS, D.TRAIN_SEED)), max_size=60)


def lr_at(step: int, total: int, lr: float, warmup: int = 100, final_frac: float = 0.03) -> float:
    """Linear warm-up then cosine decay to ``final_frac * lr``."""
    if step < warmup:
        return lr * (step + 1) / warmup
    p = min(1.0, (step - warmup) / max(1, total - warmup))
    return lr * (final_frac + (1 - final_frac) * 0.5 * (1 + math.cos(math.pi * p)))


def evaluate(
    model, records: Sequence[D.DateRecord], in_vocab: D.InputVocab, out_vocab: D.OutputVocab
) -> dict:
    """Exact-match accuracy overall, per format, per case and per character.

    Returns
    -------
    dict
        ``exact_match``, ``char_accuracy``, ``n``, ``per_format``
        (format -> {accuracy, n}), ``per_case``, ``errors`` (up to 20
        examples of wrong outputs).
    """
    preds = M.translate(model, [r.human for r in records], in_vocab, out_vocab)
    ok = np.array([p == r.iso for p, r in zip(preds, records, strict=True)])
    chars = np.mean(
        [a == b for p, r in zip(preds, records, strict=True) for a, b in zip(p, r.iso, strict=True)]
    )
    groups: dict[str, dict[str, list[bool]]] = {"format": defaultdict(list), "case": defaultdict(list)}
    for good, r in zip(ok, records, strict=True):
        groups["format"][r.format].append(bool(good))
        groups["case"][r.case].append(bool(good))

    def table(g):
        return {k: {"accuracy": round(float(np.mean(v)), 4), "n": len(v)} for k, v in sorted(g.items())}

    errors = [
        {"input": r.human, "target": r.iso, "output": p, "locale": r.locale, "format": r.format}
        for p, r, good in zip(preds, records, ok, strict=True)
        if not good
    ][:20]
    return {
        "n": len(records),
        "exact_match": round(float(ok.mean()), 4),
        "char_accuracy": round(float(chars), 4),
        "per_format": table(groups["format"]),
        "per_case": table(groups["case"]),
        "errors": errors,
    }


def study_examples(model, in_vocab, out_vocab) -> list[dict]:
    """The model's outputs for :data:`STUDY_EXAMPLES`."""
    preds = M.translate(model, [s for s, _ in STUDY_EXAMPLES], in_vocab, out_vocab)
    return [
        {"input": s, "target": t, "output": p, "correct": p == t}
        for (s, t), p in zip(STUDY_EXAMPLES, preds, strict=True)
    ]


def _batches(n: int, batch_size: int, epoch: int, seed: int):
    order = np.random.default_rng([seed, epoch]).permutation(n)
    for i in range(0, n - batch_size + 1, batch_size):  # drop the ragged tail
        yield order[i : i + batch_size]


@contextlib.contextmanager
def _torch_cpu_settings(threads: int):
    """Set torch's threads and flush-denormal mode; restore them afterwards."""
    import torch

    prev = torch.get_num_threads()
    torch.set_num_threads(threads)
    # Adam's moment estimates of rarely-updated weights (one-hot columns of rare
    # characters) decay into subnormal floats after ~800 steps, which makes CPU
    # training several times slower; TensorFlow flushes them by default.
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(False)
        torch.set_num_threads(prev)


def train_torch(X, Y, val, in_vocab, out_vocab, args) -> tuple[object, dict]:
    """Train :class:`DateTranslator`; returns the model and a history dict."""
    with _torch_cpu_settings(args.threads or 2):
        return _train_torch(X, Y, val, in_vocab, out_vocab, args)


def _train_torch(X, Y, val, in_vocab, out_vocab, args) -> tuple[object, dict]:
    import torch
    import torch.nn.functional as F

    torch.manual_seed(args.seed)
    model = M.build_torch(len(in_vocab), len(out_vocab), seed=args.seed).train()
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    steps_per_epoch = len(X) // args.batch_size
    total = steps_per_epoch * args.epochs
    Xt = torch.from_numpy(X.astype(np.int64))
    Yt = torch.from_numpy(Y.astype(np.int64))
    history = []
    step = 0
    t0 = time.perf_counter()
    for epoch in range(args.epochs):
        for idx in _batches(len(X), args.batch_size, epoch, args.seed):
            for g in opt.param_groups:
                g["lr"] = lr_at(step, total, args.lr)
            logits = model(Xt[idx])
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), Yt[idx].reshape(-1))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            step += 1
            if step % args.log_every == 0 or step == total:
                model.eval()
                acc = evaluate(model, val, in_vocab, out_vocab)["exact_match"]
                model.train()
                el = time.perf_counter() - t0
                history.append(
                    {
                        "step": step,
                        "loss": round(loss.item(), 5),
                        "val_exact_match": acc,
                        "seconds": round(el, 1),
                    }
                )
                print(
                    f"[torch] epoch {epoch + 1}/{args.epochs} step {step}/{total} "
                    f"loss {loss.item():.4f} val_exact {acc:.3f} "
                    f"({step * args.batch_size / el:.0f} ex/s, {el:.0f}s)",
                    flush=True,
                )
    model.eval()
    return model, {"history": history, "train_seconds": round(time.perf_counter() - t0, 1)}


def train_keras(X, Y, val, in_vocab, out_vocab, args) -> tuple[object, dict]:
    """Train the Keras model (current ``KERAS_BACKEND``)."""
    import keras

    class Progress(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.step = 0
            self.t0 = time.perf_counter()
            self.history = []

        def on_train_batch_end(self, batch, logs=None):
            self.step += 1
            if self.step % args.log_every == 0 or self.step == total:
                acc = evaluate(self.model, val, in_vocab, out_vocab)["exact_match"]
                el = time.perf_counter() - self.t0
                loss = float(logs.get("loss", float("nan"))) if logs else float("nan")
                self.history.append(
                    {
                        "step": self.step,
                        "loss": round(loss, 5),
                        "val_exact_match": acc,
                        "seconds": round(el, 1),
                    }
                )
                print(
                    f"[keras/{keras.backend.backend()}] step {self.step}/{total} "
                    f"loss {loss:.4f} val_exact {acc:.3f} "
                    f"({self.step * args.batch_size / el:.0f} ex/s, {el:.0f}s)",
                    flush=True,
                )

    class Schedule(keras.optimizers.schedules.LearningRateSchedule):
        # Only used in memory during training (never saved).
        def __call__(self, step):
            s = keras.ops.cast(step, "float32")
            warm = args.lr * (s + 1.0) / 100.0
            p = keras.ops.clip((s - 100.0) / max(1, total - 100), 0.0, 1.0)
            cos = args.lr * (0.03 + 0.97 * 0.5 * (1.0 + keras.ops.cos(math.pi * p)))
            return keras.ops.where(s < 100.0, warm, cos)

    steps_per_epoch = len(X) // args.batch_size
    total = steps_per_epoch * args.epochs
    model = M.build_keras(len(in_vocab), len(out_vocab), seed=args.seed)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=Schedule(), global_clipnorm=1.0),
        loss="sparse_categorical_crossentropy",
    )
    progress = Progress()
    t0 = time.perf_counter()
    for epoch in range(args.epochs):
        order = np.concatenate(list(_batches(len(X), args.batch_size, epoch, args.seed)))
        model.fit(
            X[order],
            Y[order],
            batch_size=args.batch_size,
            epochs=1,
            shuffle=False,
            verbose=0,
            callbacks=[progress],
        )
    return model, {"history": progress.history, "train_seconds": round(time.perf_counter() - t0, 1)}


def save_keras(model, out: Path, in_vocab, out_vocab, seed: int) -> Path:
    """Save a clean (uncompiled, no optimizer state) ``.keras`` copy."""
    clean = M.build_keras(len(in_vocab), len(out_vocab), seed=seed)
    clean.set_weights(model.get_weights())
    path = out / M.KERAS_FILE
    clean.save(path)
    return path


def save_torch(model, out: Path) -> Path:
    """Save the state dict as safetensors (float32)."""
    from safetensors.torch import save_file

    path = out / M.TORCH_FILE
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(path), metadata={"format": "pt", "model": "DateTranslator"})
    return path


def _versions(framework: str) -> dict:
    import babel
    import faker

    v = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "babel": babel.__version__,
        "faker": faker.VERSION,
    }
    if framework == "torch":
        import torch

        v["torch"] = torch.__version__
    else:
        import keras

        v["keras"] = keras.__version__
        v["keras_backend"] = keras.backend.backend()
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            v["tensorflow"] = tf.__version__
    return v


def run(framework: str, args, train, val, in_vocab, out_vocab) -> dict:
    """Train, evaluate, save one framework; return its metrics entry."""
    X = D.encode_inputs([r.human for r in train], in_vocab)
    Y = D.encode_outputs([r.iso for r in train], out_vocab)
    print(
        f"== {framework}: {len(X)} training strings x {args.epochs} epochs, "
        f"batch {args.batch_size}, lr {args.lr}",
        flush=True,
    )
    cpu0 = time.process_time()
    trainer = train_torch if framework == "torch" else train_keras
    model, info = trainer(X, Y, val, in_vocab, out_vocab, args)
    cpu = time.process_time() - cpu0
    out = Path(args.out)
    path = (
        save_torch(model, out)
        if framework == "torch"
        else save_keras(model, out, in_vocab, out_vocab, args.seed)
    )
    # Evaluate what was written, loaded back the safe way.
    loaded = M.load_torch(out) if framework == "torch" else M.load_keras(out)
    ev = evaluate(loaded, val, in_vocab, out_vocab)
    n_params = (
        sum(int(p.numel()) for p in loaded.parameters())
        if framework == "torch"
        else int(loaded.count_params())
    )
    entry = {
        "file": path.name,
        "file_bytes": path.stat().st_size,
        "parameters": n_params,
        "validation": ev,
        "study_examples": study_examples(loaded, in_vocab, out_vocab),
        "training": {
            "n_train": len(X),
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "lr": args.lr,
            "schedule": (
                "Adam, 100-step linear warm-up, cosine decay to 3% of lr, global gradient-norm clip 1.0"
            ),
            "threads": args.threads,
            "seed": args.seed,
            "wall_seconds": info["train_seconds"],
            "process_cpu_seconds": round(cpu, 1),
            "history": info["history"],
        },
        "versions": _versions(framework),
    }
    print(
        f"== {framework}: val exact-match {ev['exact_match']:.4f} (char {ev['char_accuracy']:.4f}); "
        f"trained in {info['train_seconds']:.0f}s wall, {cpu:.0f}s CPU; "
        f"{path} {path.stat().st_size / 1e6:.1f} MB",
        flush=True,
    )
    for fmt, d in ev["per_format"].items():
        print(f"   {fmt:>14s}: {d['accuracy']:.3f} (n={d['n']})")
    for e in entry["study_examples"]:
        print(f"   {e['input']!r} -> {e['output']} (target {e['target']})")
    return entry


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--framework", choices=["keras", "torch", "both"], default="both")
    p.add_argument("--out", default=str(M.DEFAULT_WEIGHTS_DIR))
    p.add_argument("--n-train", type=int, default=80_000)
    p.add_argument(
        "--n-val",
        type=int,
        default=D.VAL_N,
        help=f"validation strings: the first n of the shipped set, 1..{D.VAL_N} ({D.VAL_N})",
    )
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--log-every", type=int, default=100, help="steps between validation prints")
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="CPU threads (torch default 2; TensorFlow default: its own). On a machine "
        "shared with other jobs, 1 thread is often several times faster than 2.",
    )
    args = p.parse_args(argv)
    if not 1 <= args.n_val <= D.VAL_N:
        p.error(f"--n-val must be from 1 to {D.VAL_N} (the shipped validation set); got {args.n_val}")
    try:
        shipped_val = M.load_validation(M.DEFAULT_WEIGHTS_DIR)
    except M.WeightsError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    if args.threads and backend == "tensorflow" and args.framework != "torch":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    if backend == "torch" and args.framework != "torch":
        import torch

        torch.set_num_threads(args.threads or 2)  # Keras on the torch backend

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    val_src = M.DEFAULT_WEIGHTS_DIR / M.VALIDATION_FILE
    val_dst = out / M.VALIDATION_FILE
    if not (val_dst.exists() and val_dst.resolve() == val_src.resolve()):
        shutil.copyfile(val_src, val_dst)
    in_vocab = make_input_vocab()
    out_vocab = D.OutputVocab()
    iv_path = out / M.INPUT_VOCAB_FILE
    if iv_path.exists():
        try:
            old = D.InputVocab.load(iv_path)
        except Exception:  # noqa: BLE001 - corrupted: rewrite
            old = None
        if old is not None and old != in_vocab:
            print(
                f"warning: {iv_path} differs from the vocabulary built now; overwriting "
                "(retrain the other framework too)",
                file=sys.stderr,
            )
    in_vocab.save(iv_path)
    out_vocab.save(out / M.OUTPUT_VOCAB_FILE)

    t = time.perf_counter()
    train, val = D.make_splits(args.n_train, val=shipped_val[: args.n_val])
    print(
        f"data: {len(train)} train / {len(val)} val strings in {time.perf_counter() - t:.1f}s; "
        f"input vocab {len(in_vocab)} symbols, output vocab {len(out_vocab)}",
        flush=True,
    )

    metrics_path = out / M.METRICS_FILE
    metrics = {}
    if metrics_path.exists():
        try:
            metrics = json.loads(metrics_path.read_text())
        except ValueError:
            metrics = {}
    lens = D.input_lengths([r.human for r in val])
    metrics["data"] = {
        "generator": "examples.dates.data.make_splits",
        "validation": {
            "file": M.VALIDATION_FILE,
            "n": len(shipped_val),
            "sha256": D.validation_sha256(shipped_val),
            "sha256_of": "the records as compact UTF-8 JSON (examples.dates.data.validation_sha256)",
        },
        "train_seed": D.TRAIN_SEED,
        "val_seed": D.VAL_SEED,
        "n_train": len(train),
        "n_val": len(val),
        "n_locales": len(D.LOCALES),
        "formats": list(D.FORMATS),
        "max_len": D.MAX_LEN,
        "input_vocab_size": len(in_vocab),
        "output_vocab_size": len(out_vocab),
        "pad_index": in_vocab.pad_index,
        "unk_index": in_vocab.unk_index,
        "padding": "end",
        "val_length_stats": {
            "mean": round(float(lens.mean()), 2),
            "std": round(float(lens.std()), 2),
            "min": int(lens.min()),
            "median": float(np.median(lens)),
            "max": int(lens.max()),
        },
    }
    frameworks = ["keras", "torch"] if args.framework == "both" else [args.framework]
    for fw in frameworks:
        metrics[fw] = run(fw, args, train, val, in_vocab, out_vocab)
        metrics_path.write_text(json.dumps(metrics, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
