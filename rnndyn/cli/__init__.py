"""The ``rnndyn`` command: list plugins and layers, capture trajectories, summarise and analyse them.

Built on click (see ``docs/cli.md``). Every command's ``--help`` ends with a
real example; errors are one line on stderr, exit status 2 for usage and 1
for failures (:mod:`rnndyn.cli._errors`); ``rnndyn --debug ...`` shows the
traceback instead. ``import rnndyn`` never imports this package (nor click).

Examples
--------
>>> from click.testing import CliRunner
>>> result = CliRunner().invoke(cli, ["--help"])
>>> result.exit_code, "capture" in result.output
(0, True)
"""

from __future__ import annotations

from collections.abc import Sequence

import click

from ._errors import RnndynGroup

__all__ = ["cli", "main"]

_EPILOG = """\b
Example (from the repository root):
  rnndyn layers examples/dates/weights/keras_model.keras
"""


@click.group(
    name="rnndyn", cls=RnndynGroup, epilog=_EPILOG, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.option("--debug", is_flag=True, help="Show the full traceback of an error instead of one line.")
@click.version_option(package_name="rnndyn", prog_name="rnndyn")
def cli(debug: bool) -> None:
    """Measure how the hidden state of a trained recurrent network moves while it reads.

    Typical session: `rnndyn layers MODEL` to see the recurrent layers,
    `rnndyn capture MODEL INPUTS --layer L --out traj.npz` to record them,
    `rnndyn summary traj.npz` for the per-unit table and
    `rnndyn analyze traj.npz --out report` for the interactive report.
    """


def _register() -> None:
    from ._capture_cmd import analyze, capture
    from ._info import layers, plugins
    from ._summary import summary

    for command in (plugins, layers, capture, analyze, summary):
        cli.add_command(command)


_register()


def main(argv: Sequence[str] | None = None) -> None:
    """Run the ``rnndyn`` command (the console script) with ``argv`` (default: ``sys.argv[1:]``)."""
    cli.main(args=list(argv) if argv is not None else None, prog_name="rnndyn")
