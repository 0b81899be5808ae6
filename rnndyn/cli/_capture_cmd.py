"""``rnndyn capture`` (model + inputs -> trajectory file) and ``rnndyn analyze`` (file -> report)."""

from __future__ import annotations

import datetime
import platform
import sys
import warnings
from importlib import metadata
from pathlib import Path
from typing import Any

import click

from ..errors import RnndynError
from ._errors import UsageProblem
from ._info import check_target, model_options

__all__ = ["capture", "analyze", "provenance"]


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def provenance(model: Any, spec: str, layer: str, states: list[str]) -> dict[str, Any]:
    """Where the trajectories come from: model, layer, states and the versions of what ran."""
    import numpy as np

    framework = type(model).__module__.split(".")[0]
    versions = {"rnndyn": _version("rnndyn"), "numpy": np.__version__, "python": platform.python_version()}
    for dist in ("torch", "keras", "tensorflow", "jax", "flax"):
        if dist in sys.modules:
            versions[dist] = _version(dist)
    return {
        "model": spec,
        "model_class": f"{type(model).__module__}.{type(model).__qualname__}",
        "framework": framework,
        "layer": layer,
        "states": states,
        "versions": versions,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


@click.command(
    epilog="""\b
Example (from the repository root; dates.txt holds one date per line):
  rnndyn capture examples/dates/weights/keras_model.keras dates.txt \\
    --vocab examples/dates/weights/input_vocab.json --unknown 1 --steps 50 \\
    --layer encoder --state h --out dates.npz
""",
)
@click.argument("model")
@click.argument("inputs", type=click.Path(exists=True, dir_okay=False))
@click.option("--layer", help="Recurrent layer to record (see `rnndyn layers MODEL`); default: the only one.")
@click.option("--state", "state", default="h", show_default=True, help="States to record, comma-separated.")
@click.option(
    "--out",
    required=True,
    type=click.Path(),
    help="Where to write: FILE.npz (a trajectory file) or RUN.zarr (a resumable store: run the same "
    "command again to continue an interrupted capture).",
)
@click.option("--batch-size", type=click.IntRange(min=1), help="Sequences per batch (default 256).")
@click.option("--key", help="Array of a .npz INPUTS to feed the model (needed when it holds several).")
@click.option(
    "--lengths",
    "lengths_file",
    type=click.Path(exists=True, dir_okay=False),
    help="Real steps per sequence: a .npy (or a .npz with --lengths-key).",
)
@click.option("--lengths-key", help="Array holding the lengths (in --lengths, else in the .npz INPUTS).")
@click.option(
    "--vocab", type=click.Path(exists=True, dir_okay=False), help="Vocabulary JSON for text INPUTS."
)
@click.option("--unknown", type=int, metavar="ID", help="Text: id of tokens not in the vocabulary.")
@click.option("--pad", type=int, metavar="ID", help="Text: padding id (default: the vocabulary's pad_index).")
@click.option("--steps", type=click.IntRange(min=1), help="Text: pad every line to this many steps.")
@click.option(
    "--tokens", type=click.Choice(["chars", "words"]), default="chars", show_default=True, help="Text tokens."
)
@model_options
@click.option(
    "--overwrite/--no-overwrite",
    default=True,
    show_default=True,
    help="Replace an existing --out written by rnndyn (other files are never replaced).",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Progress bar on stderr (default: when stderr is a terminal).",
)
def capture(
    model: str,
    inputs: str,
    layer: str | None,
    state: str,
    out: str,
    batch_size: int | None,
    key: str | None,
    lengths_file: str | None,
    lengths_key: str | None,
    vocab: str | None,
    unknown: int | None,
    pad: int | None,
    steps: int | None,
    tokens: str,
    framework: str | None,
    weights: str | None,
    overwrite: bool,
    progress: bool | None,
) -> None:
    """Run INPUTS through MODEL and record the states of one recurrent layer at every step.

    MODEL is a saved model (e.g. a Keras .keras file, a PyTorch safetensors
    file written by rnndyn_torch.save_rnn) or MODULE:FACTORY, a function of
    your own code that builds it (with --weights W.safetensors for PyTorch).
    INPUTS is a .npy/.npz array of what the model reads (never a pickle) or a
    text file of one sequence per line with --vocab. The trajectories,
    lengths, unit table and provenance are written to the .npz --out, or
    batch by batch to a crash-safe zarr store when --out ends with .zarr.
    """
    from .. import capture as rnndyn_capture
    from . import _store
    from ._inputs import read_inputs
    from ._models import load

    states = [s.strip() for s in state.split(",") if s.strip()]
    if not states:
        raise click.BadParameter(
            "give at least one state, e.g. --state h or --state h,c.", param_hint="--state"
        )
    if steps is not None and vocab is None:
        raise click.BadParameter("--steps pads text lines; it goes with --vocab.", param_hint="--steps")
    zarr = out.rstrip("/\\").endswith(".zarr")
    try:
        dest = Path(out).absolute() if zarr else _store.check_out(out, overwrite=overwrite)
    except RnndynError as exc:
        raise UsageProblem(str(exc)) from None
    data = read_inputs(
        inputs,
        key=key,
        lengths=lengths_file,
        lengths_key=lengths_key,
        vocab=vocab,
        unknown=unknown,
        pad=pad,
        steps=steps,
        tokens=tokens,
    )
    net = load(model, framework=framework, weights=weights)
    from ._info import layers_frame

    table = layers_frame(net)
    if table.empty:
        raise RnndynError(f"MODEL {model}: the adapter finds no recurrent layer in it (nothing to capture).")
    layer = check_target(table, layer, states)
    if progress is None:
        progress = sys.stderr.isatty()
    extra: dict[str, Any] = {} if batch_size is None else {"batch_size": batch_size}
    if zarr:  # the resumable store: the same command again continues an interrupted capture
        traj = rnndyn_capture(
            net,
            data.array,
            layer=layer,
            state=states,
            lengths=data.lengths,
            progress=progress,
            store=dest,
            **extra,
        )
        n, T, U = traj.shape
        click.echo(
            f"wrote {out}: {n} sequences x {T} steps x {U} units (layer {layer}, states {','.join(states)})"
        )
        return
    traj = rnndyn_capture(
        net, data.array, layer=layer, state=states, lengths=data.lengths, progress=progress, **extra
    )
    if data.lines is not None:
        traj = traj._replace(inputs=data.lines)
    meta = provenance(net, model, str(layer), states)
    meta["inputs"] = data.source
    meta["batch_size"] = batch_size or 256
    if weights is not None:
        from ._inputs import sha256_file

        meta["weights"] = {"file": Path(weights).name, "sha256": sha256_file(weights)}
    _store.save(traj, dest, meta=meta, model_inputs=data.array, overwrite=overwrite)
    n, T, U = traj.shape
    click.echo(
        f"wrote {out}: {n} sequences x {T} steps x {U} units (layer {layer}, states {','.join(states)})"
    )


def _check_report_out(out: str, overwrite: bool) -> None:
    """Refuse up front (exit 2) an --out that is a file, a link or somebody else's folder.

    The same check :func:`rnndyn.analysis.analyze` makes (``kind="report"``), made before the
    trajectory file is read so that a wrong --out is a usage error.
    """
    from .._outdir import check_out

    try:
        check_out(out, kind="report", overwrite=overwrite, name="--out", what="report")
    except RnndynError as exc:
        raise UsageProblem(str(exc)) from None


@click.command(
    epilog="""\b
Example (dates.npz written by the `rnndyn capture` example):
  rnndyn analyze dates.npz --out dates-report --title "Date encoder"
""",
)
@click.argument("store", type=click.Path(exists=True))
@click.option("--out", required=True, type=click.Path(), help="Folder to write the report to.")
@click.option("--title", help="Title of the report (default: from the model and layer).")
@click.option(
    "--overwrite/--no-overwrite",
    default=True,
    show_default=True,
    help="Replace an earlier report folder written by rnndyn (other folders are never replaced).",
)
def analyze(store: str, out: str, title: str | None, overwrite: bool) -> None:
    """Write the report of a trajectory file: interactive index.html, PNG figures, CSV tables, summary.json.

    The folder is written atomically: an interrupted or failed run leaves
    no half-written report, and an existing folder is replaced only when
    rnndyn wrote it.
    """
    from . import _store
    from ._inputs import sha256_file

    _check_report_out(out, overwrite)
    traj, meta = _store.load(store)
    meta = dict(meta)
    if Path(store).is_file():
        meta["store"] = {"file": Path(store).name, "sha256": sha256_file(store)}
    from ..analysis import analyze as write_analysis

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        where = write_analysis(traj, out, title=title, meta=meta, overwrite=overwrite)
    for note in dict.fromkeys(" ".join(str(w.message).split()) for w in caught):
        click.echo(f"note: {note}", err=True)
    click.echo(f"wrote {Path(where) / 'index.html'}")
