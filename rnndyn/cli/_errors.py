"""Errors of the command line: one line on stderr, exit 2 for usage, 1 for failures.

* **2, usage**: the command line must change -- an unknown option, a missing
  argument, a path on it that does not exist, a layer or state the model does
  not have, an ``--out`` that rnndyn refuses to write (a folder, a file it did
  not write).
* **1, failure**: the command line is fine but the work failed -- a model
  file no plugin loads, a pickle refused, inputs the model rejects, a damaged
  trajectory file.
* **130**: interrupted (Ctrl-C); nothing half-written is left behind.

With ``rnndyn --debug`` the error propagates with its traceback instead.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import click

from ..errors import RnndynError

__all__ = ["UsageProblem", "RnndynGroup", "one_line", "EXIT_USAGE", "EXIT_FAILURE", "EXIT_INTERRUPTED"]

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class UsageProblem(RnndynError):
    """The command line names something that does not exist or may not be written (exit status 2)."""


def one_line(text: str) -> str:
    """Collapse a message to one line (tables and wrapped text joined by spaces).

    Examples
    --------
    >>> one_line("No layer 'x'.\\n  layer  type\\n  enc    LSTM")
    "No layer 'x'. layer type enc LSTM"
    """
    return " ".join(str(text).split())


def _hint(exc: BaseException) -> str:
    name = type(exc).__name__
    if isinstance(exc, MemoryError):
        return "out of memory: use a smaller --batch-size or fewer inputs"
    if isinstance(exc, RnndynError):
        return ""
    if isinstance(exc, (RuntimeError, TypeError, ValueError, IndexError)):
        return (
            f"the model or framework raised {name}; check that INPUTS have the shape and dtype the model "
            "expects (run `rnndyn layers MODEL`); --debug shows the traceback"
        )
    return f"{name} raised; --debug shows the traceback"


class RnndynGroup(click.Group):
    """A click group whose errors are one line each, with rnndyn's exit statuses."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        debug = "--debug" in argv[: next((i for i, a in enumerate(argv) if not a.startswith("-")), len(argv))]
        try:
            return super().main(argv, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("rnndyn: interrupted; nothing was left half-written.", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except click.UsageError as exc:
            if debug:
                raise
            cmd = exc.ctx.command_path if exc.ctx is not None else "rnndyn"
            click.echo(f"Error: {one_line(exc.format_message())} (see `{cmd} --help`)", err=True)
            sys.exit(EXIT_USAGE)
        except click.ClickException as exc:
            if debug:
                raise
            click.echo(f"Error: {one_line(exc.format_message())}", err=True)
            sys.exit(exc.exit_code)
        except UsageProblem as exc:
            if debug:
                raise
            click.echo(f"Error: {one_line(str(exc))}", err=True)
            sys.exit(EXIT_USAGE)
        except KeyboardInterrupt:
            click.echo("rnndyn: interrupted; nothing was left half-written.", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except Exception as exc:  # noqa: BLE001 - every failure is one line unless --debug
            if debug:
                raise
            hint = _hint(exc)
            text = one_line(str(exc)) or type(exc).__name__
            prefix = "" if isinstance(exc, RnndynError) else f"{type(exc).__name__}: "
            click.echo(f"Error: {prefix}{text}" + (f" ({hint})" if hint else ""), err=True)
            sys.exit(EXIT_FAILURE)
