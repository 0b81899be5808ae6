"""``rnndyn summary``: the per-unit table of a trajectory file, in the terminal or for machines."""

from __future__ import annotations

import json
import warnings
from typing import Any

import click
import numpy as np
import pandas as pd

from ._errors import UsageProblem
from ._info import output_format

__all__ = ["summary", "percentiles", "summary_json", "PERCENTILES"]

#: the percentiles printed for every numeric column
PERCENTILES = (0, 5, 25, 50, 75, 95, 100)


def percentiles(table: pd.DataFrame) -> pd.DataFrame:
    """Percentiles of every numeric column of a unit summary (rows: columns; NaN skipped).

    Examples
    --------
    >>> t = pd.DataFrame({"layer": ["a"] * 5, "x": [1.0, 2.0, 3.0, 4.0, 5.0]})
    >>> percentiles(t).loc["x", ["p0", "p50", "p100"]].tolist()
    [1.0, 3.0, 5.0]
    """
    rows = {}
    for col in table.columns:
        if col in ("index", "rank"):
            continue  # positions, not measurements
        if pd.api.types.is_numeric_dtype(table[col]) and not pd.api.types.is_bool_dtype(table[col]):
            values = table[col].to_numpy(dtype=float)
            values = values[np.isfinite(values)]
            rows[col] = (
                np.percentile(values, PERCENTILES).tolist() if values.size else [np.nan] * len(PERCENTILES)
            )
    return pd.DataFrame.from_dict(rows, orient="index", columns=[f"p{p}" for p in PERCENTILES])


def _order(table: pd.DataFrame, sort: str, ascending: bool) -> pd.DataFrame:
    numeric = [c for c in table.columns if pd.api.types.is_numeric_dtype(table[c])]
    if sort not in numeric:
        raise UsageProblem(f"--sort {sort}: not a numeric column of the summary; choose one of {numeric}.")
    return table.sort_values(sort, ascending=ascending, kind="stable", na_position="last")


def _plain(v: Any) -> Any:
    """A JSON value, numbers exact (repr of the float64), NaN as null."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not np.isfinite(v):
        return None
    return v


def summary_json(table: pd.DataFrame, ordered: pd.DataFrame, top: int, sort: str, notes: list[str]) -> str:
    """The JSON printed by ``rnndyn summary --json``."""
    records = [
        {k: _plain(v) for k, v in row.items()} for row in table.reset_index(names="unit").to_dict("records")
    ]
    pct = {col: {k: _plain(v) for k, v in row.items()} for col, row in percentiles(table).iterrows()}
    return json.dumps(
        {
            "sort": sort,
            "top": [int(u) for u in ordered.index[:top]],
            "units": records,
            "percentiles": pct,
            "lags": list(table.attrs.get("lags") or []) or None,
            "notes": notes,
        },
        indent=1,
        allow_nan=False,
    )


@click.command(
    epilog="""\b
Example (dates.npz written by the `rnndyn capture` example):
  rnndyn summary dates.npz --top 5 --sort msd_exponent
""",
)
@click.argument("store", type=click.Path(exists=True))
@click.option("--top", type=click.IntRange(min=1), default=10, show_default=True, help="Units to show.")
@click.option("--sort", default="area_mean_abs", show_default=True, help="Column to rank the units by.")
@click.option("--ascending", is_flag=True, help="Smallest first (default: largest first).")
@click.option(
    "--region",
    type=click.Choice(["all", "input", "padding"]),
    default="all",
    show_default=True,
    help="Steps the areas, MSD exponent and diffusion use.",
)
@click.option("--csv", "as_csv", is_flag=True, help="Print the whole table as CSV.")
@click.option("--json", "as_json", is_flag=True, help="Print the table, top units and percentiles as JSON.")
def summary(
    store: str, top: int, sort: str, ascending: bool, region: str, as_csv: bool, as_json: bool
) -> None:
    """Print the per-unit table of a trajectory file: the top units by a column, and percentiles.

    The table is rnndyn.summary.unit_summary of the trajectories (one row
    per unit: areas, RMS on input and padding, MSD exponent and regime,
    diffusion, relaxation). --csv and --json print all of it for machines.
    """
    from ..summary import unit_summary
    from . import _store

    fmt = output_format(as_csv, as_json)
    traj, meta = _store.load(store)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = unit_summary(traj, region=region)
    notes = [str(w.message) for w in caught]
    ordered = _order(table, sort, ascending)
    top = min(top, len(table))
    if fmt == "csv":
        click.echo(table.to_csv(index_label="unit"), nl=False)
    elif fmt == "json":
        click.echo(summary_json(table, ordered, top, sort, notes))
    else:
        _print_table(traj, meta, table, ordered, top, sort, ascending)
    for note in notes:
        click.echo(f"note: {' '.join(note.split())}", err=True)


def _print_table(
    traj: Any,
    meta: dict[str, Any],
    table: pd.DataFrame,
    ordered: pd.DataFrame,
    top: int,
    sort: str,
    asc: bool,
) -> None:
    n, T, U = traj.shape
    what = f"{meta.get('model', '?')}, layer {meta.get('layer', '?')}" if meta else "trajectories"
    click.echo(f"{what}: {n} sequences x {T} steps x {U} units")
    click.echo(f"\nTop {top} of {U} units by {sort} ({'smallest' if asc else 'largest'} first):")
    cols = ["layer", "state", "direction", "index", sort]
    cols += [
        c for c in ("area_mean_abs", "rms_input", "rms_padding", "msd_exponent", "regime") if c not in cols
    ]
    with pd.option_context(
        "display.width", 200, "display.max_columns", 20, "display.float_format", "{:.4g}".format
    ):
        click.echo(ordered[cols].head(top).to_string(index_names=False))
        click.echo("\nPercentiles of every column over the units (NaN skipped):")
        click.echo(percentiles(table).to_string())
