"""``wamanager bulk FILE.csv``: onboard every number of a CSV file with
:func:`~wamanager.provision_many`, live, resumable with ``--journal``.

The command wires parts that are each testable alone: the file (:mod:`._bulk_file`), the OTP
sources (:mod:`._otp_sources`) and the displays and summary (:mod:`._bulk_display`).
"""

from __future__ import annotations

import contextlib
import shlex
from pathlib import Path

import anyio
import click

from .._bulk import provision_many
from .._bulk_report import BulkEvent
from .._client import WhatsAppManager
from .._journal import JournalError
from .._otp_driver import OTPProvider
from .._policy import OTPPolicy, PollPolicy
from ._bulk_display import Display, JSONLines, LiveDisplay, PlainLines, summary_lines
from ._bulk_file import BulkFile, BulkFileType
from ._deployments import SANDBOX_INTERVAL
from ._errors import EXIT_DEPLOYMENT
from ._options import POSITIVE_SECONDS, api_command
from ._otp_sources import CommandOTP, FileOTP, FreshCodes, SandboxOTP
from ._output import Output

__all__ = ["COMMANDS"]


def _report_path(ctx: click.Context, param: click.Parameter, value: str | None) -> Path | None:
    if value is None:
        return None
    path = Path(value)
    if path.suffix.lower() not in (".json", ".csv"):
        raise click.BadParameter("the report's name must end in .json or .csv", ctx, param)
    if not path.parent.is_dir():
        raise click.BadParameter(f"no folder {path.parent} to write it in", ctx, param)
    return path


def _otp_template(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> list[str] | None:
    if value is None:
        return None
    try:
        template = shlex.split(value)
    except ValueError as exc:
        raise click.BadParameter(f"cannot split it like a shell would: {exc}", ctx, param) from None
    if not template:
        raise click.BadParameter("the command is empty", ctx, param)
    return template


async def _otp_source(
    wam: WhatsAppManager,
    stack: contextlib.AsyncExitStack,
    from_sandbox: bool,
    command: list[str] | None,
    codes: Path | None,
) -> OTPProvider:
    if [from_sandbox, command is not None, codes is not None].count(True) != 1:
        raise click.UsageError(
            "give one OTP source: --otp-from-sandbox, --otp-command or --otp-file",
            click.get_current_context(),
        )
    if command is not None:
        return FreshCodes(CommandOTP(command))
    if codes is not None:
        return FreshCodes(FileOTP(codes))
    return await stack.enter_async_context(SandboxOTP(wam))


_DEFAULT_OTP = OTPPolicy()


@api_command(short_help="Onboard the numbers of a CSV file, many at once; resumable.")
@click.argument("bulk_file", metavar="FILE.csv", type=BulkFileType())
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=50,
    help="Numbers onboarded at once, at most.",
)
@click.option(
    "--journal",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A SQLite file recording each number's progress: run again with it to resume.",
)
@click.option(
    "--report",
    "report_path",
    metavar="FILE.json|FILE.csv",
    callback=_report_path,
    help="Write every number's outcome there (JSON or CSV, by the name's suffix).",
)
@click.option(
    "--otp-from-sandbox", is_flag=True, help="Read the OTP codes from the sandbox's inbox."
)
@click.option(
    "--otp-command",
    metavar="COMMAND",
    callback=_otp_template,
    help="Run COMMAND for a number's code: '{number}' and '{deployment_id}' are replaced in "
    "its arguments; the first line it prints is the code (nothing: not yet).",
)
@click.option(
    "--otp-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A CSV of number,code rows, read again while the run waits for codes.",
)
@click.option(
    "--interval",
    type=POSITIVE_SECONDS,
    help="Poll every SECONDS [default: per state, 2-15 s; 0.25 with --otp-from-sandbox].",
)
@click.option(
    "--timeout",
    type=POSITIVE_SECONDS,
    help="Give up on a number after watching it SECONDS (it fails; the deployment goes on).",
)
@click.option(
    "--resend-after",
    type=POSITIVE_SECONDS,
    default=_DEFAULT_OTP.resend_after,
    help="Have a new code sent when none came within SECONDS.",
)
@click.option(
    "--max-resends",
    type=click.IntRange(min=0),
    default=_DEFAULT_OTP.max_resends,
    help="New codes asked for per number before it fails.",
)
@click.option(
    "--max-verify-attempts",
    type=click.IntRange(min=1),
    default=_DEFAULT_OTP.max_verify_attempts,
    help="Rejected codes per number before it fails.",
)
@click.option("--fallback-to-voice", is_flag=True, help="Have new codes sent by voice call.")
async def bulk(
    wam: WhatsAppManager,
    out: Output,
    bulk_file: BulkFile,
    concurrency: int,
    journal: Path | None,
    report_path: Path | None,
    otp_from_sandbox: bool,
    otp_command: list[str] | None,
    otp_file: Path | None,
    interval: float | None,
    timeout: float | None,
    resend_after: float,
    max_resends: int,
    max_verify_attempts: int,
    fallback_to_voice: bool,
) -> None:
    """Onboard every number of FILE.csv, up to --concurrency at once: create (adopting a
    number deployed already), verify the OTP, wait for READY, then apply the row's profile
    and photo.

    \b
    Columns (a header row; any order):
      country_code, number, waba_id, vname_certificate, method (sms or voice)
      optional: pin, about, email, vertical, website (two: separated by a space), photo_url

    A row with a bad value is reported as invalid and never sent; a missing or unknown
    column, or a file that cannot be read, stops before anything is sent (exit 2). With
    --journal, run the same command again after a crash or Ctrl-C to resume: no number is
    created twice, finished ones are skipped, failed ones are tried again.

    The OTP codes come from one of --otp-from-sandbox, --otp-command or --otp-file. On a
    terminal the progress is drawn live; --json prints one JSON object per event instead.
    Exit codes: 0 every number READY, 4 some failed or were invalid, 130 interrupted.
    """
    async with contextlib.AsyncExitStack() as stack:
        otp = await _otp_source(wam, stack, otp_from_sandbox, otp_command, otp_file)
        display: Display
        if out.json_mode:
            display = JSONLines(out, bulk_file)
        elif out.terminal:
            display = LiveDisplay(out, bulk_file)
        else:
            display = PlainLines(out, bulk_file)
        closed_pipe: list[BrokenPipeError] = []

        def on_event(event: BulkEvent) -> None:
            try:
                display(event)
            except BrokenPipeError as exc:  # the reader left: stop, as the other commands do
                closed_pipe.append(exc)
                scope.cancel()

        try:
            with anyio.CancelScope() as scope, display.running():
                report = await provision_many(
                    wam,
                    bulk_file.items,
                    otp=otp,
                    concurrency=concurrency,
                    journal=journal,
                    on_event=on_event,
                    progress_every=display.progress_every,
                    policy=PollPolicy(
                        interval=interval or (SANDBOX_INTERVAL if otp_from_sandbox else None),
                        deadline=timeout,
                    ),
                    resend_after=resend_after,
                    max_resends=max_resends,
                    max_verify_attempts=max_verify_attempts,
                    fallback_to_voice=fallback_to_voice,
                )
        except JournalError as exc:
            raise click.UsageError(
                f"--journal {journal}: {exc}", click.get_current_context()
            ) from None
        except anyio.get_cancelled_exc_class():
            _say_how_to_resume(journal)
            raise
        if closed_pipe:
            raise closed_pipe[0]
    if report_path is not None:
        (report.write_csv if report_path.suffix.lower() == ".csv" else report.write_json)(
            report_path
        )
    display.summary(summary_lines(report, bulk_file, report_path=report_path, journal=journal))
    if report.failed:
        raise click.exceptions.Exit(EXIT_DEPLOYMENT)


def _say_how_to_resume(journal: Path | None) -> None:
    with contextlib.suppress(OSError):
        if journal is not None:
            click.echo(
                f"stopped; run the same command again to resume (--journal {journal})", err=True
            )
        else:
            click.echo(
                "stopped; a new run starts over (numbers created already are adopted, never "
                "created twice); --journal makes a run resumable",
                err=True,
            )


COMMANDS = (bulk,)
