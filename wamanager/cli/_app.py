"""The root ``wamanager`` group, and :func:`run`: parsing, errors, exit codes, closed pipes."""

from __future__ import annotations

import contextlib
import os
import sys
import traceback
from collections.abc import Sequence

import click

from .._version import __version__
from . import _bulk, _deployments, _profile, _sandbox, _stickers
from ._errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, exit_code, explain, unwrap
from ._options import Settings

__all__ = ["cli", "run"]

_EPILOG = """\b
Credentials (flags of the same meaning override them):
  VONAGE_APPLICATION_ID, VONAGE_PRIVATE_KEY   JWT (preferred: the API applies bearer auth)
  VONAGE_API_KEY, VONAGE_API_SECRET           basic auth
  WAMANAGER_BASE_URL                          another API root (a sandbox's)

\b
Exit codes: 0 ok, 2 usage, 3 API error, 4 deployment failed or deleted, 5 timed out,
130 interrupted.
"""


@click.group(
    invoke_without_command=True,
    epilog=_EPILOG,
    context_settings={
        "help_option_names": ["-h", "--help"],
        "show_default": True,
        "max_content_width": 100,
    },
)
@click.version_option(__version__, prog_name="wamanager", message="%(prog)s %(version)s")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Onboard and manage WhatsApp numbers with the Vonage WhatsApp Provisioning API.

    'wamanager COMMAND --help' tells more. Try it all locally: 'wamanager demo', or
    'wamanager sandbox' and the commands against it.
    """
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help(), err=True)
        ctx.exit(EXIT_USAGE)


for _module in (_deployments, _bulk, _profile, _stickers, _sandbox):
    for _command in _module.COMMANDS:
        cli.add_command(_command)


def _report(lines: Sequence[str]) -> None:
    with contextlib.suppress(OSError):  # stderr may be a closed pipe too
        for index, line in enumerate(lines):
            click.echo(click.style(line, fg="red") if index == 0 else line, err=True)


def _silence_stdout() -> None:
    # What is still buffered for a closed pipe would fail again when Python exits and print
    # "Exception ignored"; send it to /dev/null instead.
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def run(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); returns the exit code."""
    args = sys.argv[1:] if argv is None else list(argv)
    settings = Settings()
    settings.open()
    try:
        try:
            with cli.make_context("wamanager", args, obj=settings) as ctx:
                cli.invoke(ctx)
        finally:
            sys.stdout.flush()  # a closed pipe shows here at the latest, inside the try
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.UsageError as exc:
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
        _report([f"Error: {exc.format_message()}{hint}"])
        return EXIT_USAGE
    except click.Abort:
        _report(["Interrupted."])
        return EXIT_INTERRUPTED
    except click.ClickException as exc:
        _report([f"Error: {exc.format_message()}"])
        return exc.exit_code
    except (Exception, KeyboardInterrupt) as raised:
        error = unwrap(raised)
        if isinstance(error, BrokenPipeError):  # the reader left (`| head`): end quietly
            _silence_stdout()
            return EXIT_OK
        if settings.debug:
            with contextlib.suppress(OSError):
                traceback.print_exception(type(error), error, error.__traceback__, file=sys.stderr)
        _report(explain(error))
        return exit_code(error)
    finally:
        settings.close()
    return EXIT_OK
