"""``rnndyn plugins`` and ``rnndyn layers``: what is installed, and what a model holds."""

from __future__ import annotations

import json
from typing import Any

import click
import pandas as pd

from ._errors import UsageProblem

__all__ = ["plugins", "layers", "plugin_table", "layers_frame", "model_options", "output_format"]

_HOOKS = {
    "rnndyn_claim_model": "captures",
    "rnndyn_load_model": "loads models",
    "rnndyn_step_map": "step maps (dynamics)",
    "rnndyn_register_metrics": "extra metrics",
}


def plugin_table() -> pd.DataFrame:
    """One row per installed plugin: name, version, what it does, whether its framework is importable.

    Examples
    --------
    >>> "torch" in plugin_table()["plugin"].tolist()
    True
    """
    from .._plugin_loading import framework_missing
    from ..plugins import get_plugin_manager, list_plugins
    from ._models import loaders

    manager = get_plugin_manager()
    loads = dict(loaders())
    rows = []
    for p in list_plugins():
        plugin = manager.get_plugin(p["name"])
        declared = getattr(plugin, "FRAMEWORK", None)
        needs = framework_missing(plugin)
        if needs:
            framework = f"missing ({needs})"
        elif isinstance(declared, tuple) and declared and declared[0]:
            framework = f"{declared[0]} (installed)"
        else:
            framework = "-"
        rows.append(
            {
                "plugin": p["name"],
                "version": p["version"] or "-",
                "does": ", ".join(_HOOKS.get(h, h) for h in p["hooks"]),
                "framework": framework,
                "loads": loads.get(p["name"], "-"),
                "module": p["module"],
            }
        )
    return pd.DataFrame(rows, columns=["plugin", "version", "does", "framework", "loads", "module"])


def output_format(as_csv: bool, as_json: bool) -> str:
    if as_csv and as_json:
        raise click.UsageError("give --csv or --json, not both.")
    return "csv" if as_csv else "json" if as_json else "table"


def emit(frame: pd.DataFrame, fmt: str, *, index: bool = False) -> None:
    """Print a table for people (aligned text), or as CSV / JSON records for machines."""
    if fmt == "csv":
        click.echo(frame.to_csv(index=index), nl=False)
    elif fmt == "json":
        click.echo(json.dumps(json.loads(frame.to_json(orient="records")), indent=1))
    else:
        click.echo(frame.to_string(index=index))


@click.command(
    epilog="""\b
Example:
  rnndyn plugins
""",
)
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV instead of a table.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON records instead of a table.")
def plugins(as_csv: bool, as_json: bool) -> None:
    """List the installed adapter plugins: what each captures and loads, whether its framework is there."""
    fmt = output_format(as_csv, as_json)
    emit(plugin_table(), fmt)


def model_options(func: Any) -> Any:
    """The options every command that loads a MODEL takes (--framework, --weights)."""
    func = click.option(
        "--weights",
        type=click.Path(exists=True, dir_okay=False),
        help="safetensors state dict for a MODEL given as MODULE:FACTORY (PyTorch).",
    )(func)
    return click.option(
        "--framework",
        metavar="NAME",
        help="Ask one plugin to load MODEL (e.g. torch, keras); default: the first that recognises it.",
    )(func)


def layers_frame(model: Any) -> pd.DataFrame:
    """``rnndyn.layers(model)`` with list-like cells joined by commas (printable, CSV-able)."""
    from .. import layers as rnndyn_layers

    table = rnndyn_layers(model)
    out = table.copy()
    for col in out.columns:
        if out[col].map(lambda v: isinstance(v, (list, tuple))).any():
            out[col] = out[col].map(lambda v: ",".join(map(str, v)) if isinstance(v, (list, tuple)) else v)
    return out


def layers_line(table: pd.DataFrame) -> str:
    """The layers table in one line, for error messages."""
    if table.empty:
        return "(none)"
    parts = []
    for _, row in table.iterrows():
        what = f"{row['type']}, {row['units']} units, {row['directions']}, states {row['states']}"
        parts.append(f"{row['layer']} ({what})")
    return "; ".join(parts)


def check_target(table: pd.DataFrame, layer: str | None, states: list[str]) -> str | None:
    """Refuse (exit 2) a layer or state the model does not have; the layers table is in the message."""
    names = [str(n) for n in table["layer"]]
    if not names:
        return layer
    if layer is None:
        if len(names) > 1:
            raise UsageProblem(
                f"the model has {len(names)} recurrent layers; choose one with --layer. Layers: "
                f"{layers_line(table)}."
            )
        layer = names[0]
    if layer not in names:
        raise UsageProblem(
            f"--layer {layer}: the model has no recurrent layer of that name. Layers: {layers_line(table)}."
        )
    row = table.loc[[n == layer for n in names]].iloc[0]
    have = [s.strip() for s in str(row["states"]).split(",")]
    bad = [s for s in states if s not in have]
    if bad:
        raise UsageProblem(
            f"--state {','.join(bad)}: layer {layer} records only the states {','.join(have)}."
        )
    return layer


@click.command(
    epilog="""\b
Example (from the repository root):
  rnndyn layers examples/dates/weights/keras_model.keras
""",
)
@click.argument("model")
@model_options
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV instead of a table.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON records instead of a table.")
def layers(model: str, framework: str | None, weights: str | None, as_csv: bool, as_json: bool) -> None:
    """List the recurrent layers of a saved MODEL (a file, or MODULE:FACTORY) and the states each records."""
    from ._models import load

    fmt = output_format(as_csv, as_json)
    emit(layers_frame(load(model, framework=framework, weights=weights)), fmt)
