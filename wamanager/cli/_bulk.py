"""``wamanager bulk FILE.csv``: onboard every number of a CSV file with
:func:`~wamanager.provision_many`, live, resumable with ``--journal``.

The parts, each testable alone: :func:`read_bulk_file` (the CSV, or a one-line reason it
cannot be used), the OTP sources :class:`CommandOTP` and :class:`FileOTP` (and
:class:`FreshCodes`, which keeps them from submitting a rejected code again), the three
displays (:class:`JsonLines`, :class:`PlainLines`, :class:`LiveDisplay`) fed by the run's
events, and :func:`summary_lines`. The command wires them together.
"""

from __future__ import annotations

import contextlib
import csv
import logging
import os
import shlex
import sys
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import anyio
import attrs
import click
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from .._bulk import Onboarding, provision_many
from .._bulk_report import BulkEvent, BulkProgress, BulkReport, NumberChanged
from .._client import WhatsAppManager
from .._journal import JournalError
from .._models import Deployment, DeploymentRequest, Profile, Vertical
from .._otp_driver import OTPProvider
from .._policy import OTPPolicy, PollPolicy
from .._states import DeploymentState
from ._deployments import SANDBOX_INTERVAL, SandboxOTP
from ._errors import EXIT_DEPLOYMENT
from ._options import POSITIVE_SECONDS, api_command
from ._output import Output, state_style

__all__ = [
    "COMMANDS",
    "OPTIONAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "BulkFile",
    "CommandOTP",
    "FileOTP",
    "FreshCodes",
    "read_bulk_file",
    "summary_lines",
]

logger = logging.getLogger("wamanager.cli.bulk")

#: The columns every bulk file has, in any order.
REQUIRED_COLUMNS = ("country_code", "number", "waba_id", "vname_certificate", "method")
#: The columns it may have: the PIN, and the number's profile and photo.
OPTIONAL_COLUMNS = ("pin", "about", "email", "vertical", "website", "photo_url")
#: An OTP command still running after this many seconds is killed (it gave no code).
OTP_COMMAND_TIMEOUT = 30.0
#: Failures listed in the summary; the report has them all.
SUMMARY_FAILURES = 10
#: Seconds between the totals a terminal's live display is refreshed from.
LIVE_PROGRESS_EVERY = 0.5


# --- the file ------------------------------------------------------------------------------


class BulkFileError(ValueError):
    """The bulk file cannot be used; the message says why in one line."""


@attrs.frozen
class BulkFile:
    """The numbers of a bulk file, in order, and the line each one came from."""

    path: Path
    items: tuple[Onboarding, ...]
    #: ``lines[i]`` is the file's line of ``items[i]`` (the header is line 1).
    lines: tuple[int, ...]

    def line_of(self, position: int) -> int | None:
        """The file's line of the item at ``position`` (``None``: no such item)."""
        return self.lines[position] if 0 <= position < len(self.lines) else None


def _column(name: str) -> str:
    return name.strip().lower().replace(" ", "_").replace("-", "_")


def _vertical(text: str) -> Vertical | str:
    # Case-insensitive, as `profile set --vertical` is; anything else is left for the rules
    # to reject, so that the row is reported as invalid with the reason.
    for vertical in Vertical:
        if vertical.value.lower() == text.lower():
            return vertical
    return text


def onboarding_of(cells: Mapping[str, str]) -> Onboarding:
    """The :class:`~wamanager.Onboarding` of one row (``cells`` by column name). Pure.

    Cells are stripped; an empty optional cell is "not given". ``website`` may hold two URLs
    separated by spaces. Values are not checked here: :func:`~wamanager.provision_many`
    reports a bad row as invalid.
    """

    def optional(name: str) -> str | None:
        return cells.get(name, "").strip() or None

    request = DeploymentRequest(
        country_code=cells["country_code"].strip(),
        number=cells["number"].strip(),
        vname_certificate=cells["vname_certificate"].strip(),
        waba_id=cells["waba_id"].strip(),
        method=cells["method"].strip().lower(),
        pin=optional("pin"),
    )
    vertical = optional("vertical")
    website = optional("website")
    profile = Profile(
        about=optional("about"),
        email=optional("email"),
        vertical=_vertical(vertical) if vertical else None,
        websites=tuple(website.split()) if website else None,
    )
    return Onboarding(
        request, profile=None if profile == Profile() else profile, photo_url=optional("photo_url")
    )


def read_bulk_file(path: str | os.PathLike[str]) -> BulkFile:
    """Read a bulk file: a CSV (UTF-8, a header row) of :data:`REQUIRED_COLUMNS` and any of
    :data:`OPTIONAL_COLUMNS`.

    Header names are case-insensitive (spaces and dashes count as underscores). Raises
    :class:`BulkFileError` for what makes the whole file unusable: it cannot be read or is
    not UTF-8 CSV, a column is missing, unknown or repeated, a row has more or fewer cells
    than the header, or there is no row. A bad *value* is not an error here.
    """
    where = Path(path)
    try:
        with where.open(encoding="utf-8-sig", newline="") as handle:
            return _parse(where, csv.reader(handle, strict=True))
    except UnicodeDecodeError:
        raise BulkFileError(f"{where} is not UTF-8 text") from None
    except OSError as exc:
        raise BulkFileError(f"cannot read {where}: {exc.strerror or exc}") from None


def _parse(path: Path, reader: Any) -> BulkFile:
    try:
        header = next(reader, None)
        if header is None:
            raise BulkFileError(f"{path} is empty: it needs a header row and a row per number")
        columns = [_column(name) for name in header]
        repeated = sorted({name for name in columns if columns.count(name) > 1})
        if repeated:
            raise BulkFileError(f"{path}: column {', '.join(repeated)} appears more than once")
        missing = [name for name in REQUIRED_COLUMNS if name not in columns]
        if missing:
            raise BulkFileError(f"{path}: missing column(s) {', '.join(missing)}")
        unknown = [name for name in columns if name not in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)]
        if unknown:
            raise BulkFileError(
                f"{path}: unknown column(s) {', '.join(unknown)} "
                f"(the optional ones are {', '.join(OPTIONAL_COLUMNS)})"
            )
        items: list[Onboarding] = []
        lines: list[int] = []
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue  # a blank line
            if len(row) != len(columns):
                raise BulkFileError(
                    f"{path}, line {reader.line_num}: {len(row)} cells, the header has "
                    f"{len(columns)} (a comma inside a value needs quotes)"
                )
            items.append(onboarding_of(dict(zip(columns, row, strict=True))))
            lines.append(reader.line_num)
    except csv.Error as exc:
        raise BulkFileError(f"{path}, line {reader.line_num}: not valid CSV: {exc}") from None
    if not items:
        raise BulkFileError(f"{path} has a header but no numbers")
    return BulkFile(path, tuple(items), tuple(lines))


class _BulkFileType(click.ParamType):  # type: ignore[type-arg,unused-ignore]  # generic in click 8.3+
    name = "FILE.csv"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, BulkFile):
            return value
        try:
            return read_bulk_file(value)
        except BulkFileError as exc:
            self.fail(str(exc), param, ctx)


# --- OTP sources ---------------------------------------------------------------------------


def _msisdn(deployment: Deployment) -> str:
    return f"{deployment.country_code or ''}{deployment.number or ''}"


def command_arguments(template: Sequence[str], number: str, deployment_id: str) -> list[str]:
    """``template`` (split like a shell would) with ``{number}`` and ``{deployment_id}``
    replaced in each argument. Pure; no shell ever sees the result, so a value cannot
    inject anything."""
    return [
        argument.replace("{number}", number).replace("{deployment_id}", deployment_id)
        for argument in template
    ]


class CommandOTP:
    """An OTP source that runs a command per ask: the first line of its stdout is the code.

    ``template`` is the command split into arguments (``shlex.split``); ``{number}`` (the full
    number, country code first) and ``{deployment_id}`` are replaced in each. Empty output
    means "no code yet". A command that fails, cannot start or runs longer than ``timeout``
    seconds gives no code and is logged (a warning), never fatal; what it printed on stdout
    is never logged.
    """

    def __init__(self, template: Sequence[str], *, timeout: float = OTP_COMMAND_TIMEOUT) -> None:
        self.template = tuple(template)
        self.timeout = timeout

    async def __call__(self, deployment: Deployment) -> str | None:
        number = _msisdn(deployment)
        arguments = command_arguments(self.template, number, deployment.deployment_id)
        with anyio.move_on_after(self.timeout):
            try:
                done = await anyio.run_process(arguments, check=False)
            except OSError as exc:
                logger.warning("the OTP command for %s could not start: %s", number, exc)
                return None
            if done.returncode != 0:
                said = done.stderr.decode("utf-8", "replace").strip().splitlines()
                logger.warning(
                    "the OTP command for %s exited with %s%s",
                    number,
                    done.returncode,
                    f": {said[-1][:200]}" if said else "",
                )
                return None
            lines = done.stdout.decode("utf-8", "replace").splitlines()
            return (lines[0].strip() if lines else "") or None
        logger.warning("the OTP command for %s ran over %gs and was stopped", number, self.timeout)
        return None


def parse_codes(text: str) -> dict[str, str]:
    """The codes of an OTP file's text: ``number,code`` rows (a header row is optional), the
    number's non-digits ignored; a later row of a number wins. Pure."""
    codes: dict[str, str] = {}
    for row in csv.reader(text.splitlines()):
        if len(row) < 2:
            continue
        number = "".join(ch for ch in row[0] if ch.isdigit())
        code = row[1].strip()
        if number and code:
            codes[number] = code
    return codes


class FileOTP:
    """An OTP source reading a CSV of ``number,code`` rows, read again whenever it changes,
    so that codes can be added while the run waits. The number is the full one (country
    code first; ``+``, spaces and dashes are ignored). A file that cannot be read is logged
    and gives no code."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._seen: tuple[int, int] | None = None
        self._codes: dict[str, str] = {}

    def _refresh(self) -> None:
        info = self.path.stat()
        if (info.st_mtime_ns, info.st_size) != self._seen:
            self._codes = parse_codes(self.path.read_text(encoding="utf-8-sig"))
            self._seen = (info.st_mtime_ns, info.st_size)

    async def __call__(self, deployment: Deployment) -> str | None:
        try:
            await anyio.to_thread.run_sync(self._refresh)
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            logger.warning("cannot read the OTP file %s: %s", self.path, exc)
            return None
        return self._codes.get(_msisdn(deployment))


class FreshCodes:
    """Wraps an OTP source that may give the same code again (a file, a command), so that a
    code the API rejected is never submitted again for that deployment: until the source
    gives another, there is no code. A code whose verify failed for another reason (the
    network) may be submitted again.

    A code counts as rejected when the deployment shows WRONG_CODE after it was submitted.
    """

    def __init__(self, source: OTPProvider) -> None:
        self._source = source
        self._submitted: dict[str, str] = {}
        self._rejected: dict[str, set[str]] = {}

    async def __call__(self, deployment: Deployment) -> str | None:
        key = deployment.deployment_id
        if deployment.state == DeploymentState.WRONG_CODE and key in self._submitted:
            self._rejected.setdefault(key, set()).add(self._submitted.pop(key))
        code = await self._source(deployment)
        if not code or code in self._rejected.get(key, ()):
            return None
        self._submitted[key] = code
        return code


# --- displays ------------------------------------------------------------------------------


def duration(seconds: float) -> str:
    """``seconds`` for a person: ``"42s"``, ``"3m 05s"``, ``"2h 07m"``. Pure."""
    whole = max(round(seconds), 0)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m {whole % 60:02d}s"
    return f"{whole // 3600}h {whole % 3600 // 60:02d}m"


def totals_text(progress: BulkProgress) -> str:
    """One line of a run's totals. Pure."""
    finished = progress.done + progress.failed
    eta = "" if progress.eta_seconds is None else f", about {duration(progress.eta_seconds)} to go"
    return (
        f"{finished}/{progress.total} finished ({progress.done} ready, {progress.failed} "
        f"failed), {progress.in_flight} in flight; {progress.rate_per_minute:.1f}/min{eta}"
    )


def event_json(event: BulkEvent) -> dict[str, Any]:
    """A run's event as a flat JSON object, its type under ``"event"``. Pure."""

    def plain(_: Any, __: Any, value: Any) -> Any:
        return value.isoformat() if hasattr(value, "isoformat") else value

    return {"event": type(event).__name__, **attrs.asdict(event, value_serializer=plain)}


class _Display:
    """What every display does with the run's events; the base shows nothing."""

    #: Seconds between the run's totals (:class:`~wamanager.BulkProgress`).
    progress_every = 5.0

    def __init__(self, out: Output, bulk_file: BulkFile) -> None:
        self.out = out
        self.file = bulk_file
        self.started = time.monotonic()

    def where(self, event: NumberChanged) -> str:
        """Which row ``event`` is about: its line in the file, and its number."""
        line = self.file.line_of(event.position)
        return f"line {line}" + (f" ({event.msisdn})" if event.msisdn else "")

    def __call__(self, event: BulkEvent) -> None:
        """Show ``event``."""

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        """Around the run."""
        yield

    def summary(self, lines: Sequence[str]) -> None:
        """Show the summary after the run."""
        for line in lines:
            self.out.line(line)


class JsonLines(_Display):
    """``--json``: one JSON object per event on stdout, and nothing else (the summary goes
    to stderr)."""

    def __call__(self, event: BulkEvent) -> None:
        self.out.json(event_json(event), compact=True)

    def summary(self, lines: Sequence[str]) -> None:
        for line in lines:
            click.echo(line, err=True)


class PlainLines(_Display):
    """Not a terminal: a line per number that ends (READY, failed, skipped) and the totals
    every few seconds, each with the time since the start."""

    def __call__(self, event: BulkEvent) -> None:
        text: str | None = None
        if isinstance(event, BulkProgress):
            text = totals_text(event)
        elif event.step == "done":
            text = f"{self.where(event)} READY as {event.deployment_id}"
        elif event.step == "skipped":
            text = f"{self.where(event)} READY already (journal), {event.deployment_id}"
        elif event.step == "failed":
            text = f"{self.where(event)} failed: {event.error}"
        if text is not None:
            self.out.line(f"[{time.monotonic() - self.started:7.1f}s] {text}")


def live_view(
    title: str,
    progress: BulkProgress | None,
    total: int,
    failures: Sequence[str],
    elapsed: float,
) -> RenderableType:
    """What the live display shows: ``title`` and a bar, the counts, the states of the
    numbers in flight, rate and ETA, and the last failures. Pure (a rich renderable)."""
    done = progress.done if progress else 0
    failed = progress.failed if progress else 0
    in_flight = progress.in_flight if progress else 0
    counts = Text.assemble(
        ("ready ", "bold"),
        (str(done), "bold green"),
        ("   failed ", "bold"),
        (str(failed), "bold red" if failed else ""),
        ("   in flight ", "bold"),
        str(in_flight),
        ("   waiting ", "bold"),
        str(max(total - done - failed - in_flight, 0)),
    )
    states = Text()
    for state, count in sorted((progress.by_state if progress else {}).items()):
        states.append(f"{state} ", style=state_style(state) if state != "pending" else "dim")
        states.append(f"{count}   ")
    rate = Text(f"elapsed {duration(elapsed)}")
    if progress is not None:
        rate.append(f"   rate {progress.rate_per_minute:.1f}/min")
        if progress.eta_seconds is not None:
            rate.append(f"   ETA {duration(progress.eta_seconds)}")
    bar = Table.grid(padding=(0, 1))
    bar.add_row(
        Text(title, style="bold"),
        ProgressBar(total=total, completed=done + failed, width=40),
        f"{done + failed}/{total}",
    )
    parts: list[RenderableType] = [bar, counts, states, rate]
    if failures:
        parts.append(Text("last failures:", style="bold red"))
        parts.extend(
            Text(f"  {failure}", overflow="ellipsis", no_wrap=True) for failure in failures
        )
    return Group(*parts)


@contextlib.contextmanager
def _logs_above(stderr: Any) -> Iterator[None]:
    """Send the ``wamanager`` log lines that went to ``stderr`` to the current ``sys.stderr``
    (the live display's, which prints them above it) while the block runs."""
    moved = [
        handler
        for handler in logging.getLogger("wamanager").handlers
        if isinstance(handler, logging.StreamHandler) and handler.stream is stderr
    ]
    for handler in moved:
        handler.setStream(sys.stderr)
    try:
        yield
    finally:
        for handler in moved:
            handler.setStream(stderr)


class LiveDisplay(_Display):
    """On a terminal: a live view (rich) redrawn as the totals come, the summary after."""

    progress_every = LIVE_PROGRESS_EVERY

    def __init__(self, out: Output, bulk_file: BulkFile) -> None:
        super().__init__(out, bulk_file)
        self.progress: BulkProgress | None = None
        self.failures: deque[str] = deque(maxlen=5)
        self._live: Live | None = None

    def view(self) -> RenderableType:
        """The view as it is now."""
        elapsed = time.monotonic() - self.started
        title = f"wamanager bulk {self.file.path.name}"
        return live_view(title, self.progress, len(self.file.items), self.failures, elapsed)

    def __call__(self, event: BulkEvent) -> None:
        if isinstance(event, BulkProgress):
            self.progress = event
        elif event.step == "failed":
            self.failures.append(f"{self.where(event)}: {event.error}")
        else:
            return
        if self._live is not None:
            self._live.update(self.view())

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        console = Console(file=sys.stdout, force_terminal=True, highlight=False)
        stderr = sys.stderr
        with Live(self.view(), console=console, refresh_per_second=4) as live, _logs_above(stderr):
            self._live = live
            try:
                yield
            finally:
                live.update(self.view())
                self._live = None


def summary_lines(
    report: BulkReport,
    bulk_file: BulkFile,
    *,
    report_path: Path | None = None,
    journal: Path | None = None,
) -> list[str]:
    """The summary printed after a run: one screen at most. Pure."""
    counts = report.counts
    resumed = sum(1 for outcome in report.outcomes if outcome.resumed)
    lines = [
        f"{_count(len(report.outcomes), 'number')} in {duration(report.duration)}: "
        f"{counts.get('ready', 0)} ready"
        + (f" ({resumed} already in the journal)" if resumed else "")
        + f", {counts.get('failed', 0)} failed, {counts.get('invalid', 0)} invalid",
        f"{_count(report.requests, 'request')} ({report.throttled} answered 429), "
        f"at most {_count(report.max_in_flight, 'number')} in flight",
    ]
    if report.stage_seconds:
        stages = ", ".join(
            f"{step} {seconds:.1f}s" for step, seconds in report.stage_seconds.items()
        )
        lines.append(f"mean time per step: {stages}")
    failed = report.failed
    if failed:
        lines.append("not onboarded:")
        for outcome in failed[:SUMMARY_FAILURES]:
            step = f" at {outcome.step}" if outcome.step and outcome.status == "failed" else ""
            lines.append(
                f"  line {bulk_file.line_of(outcome.position)} {outcome.msisdn or '-'} "
                f"{outcome.status}{step}: {outcome.error}"
            )
        if len(failed) > SUMMARY_FAILURES:
            more = len(failed) - SUMMARY_FAILURES
            lines.append(f"  … and {more} more" + (f" in {report_path}" if report_path else ""))
    if report_path is not None:
        lines.append(f"report written to {report_path}")
    if any(outcome.status == "invalid" for outcome in failed):
        lines.append("invalid rows were not sent: fix them, and onboard them from a new file")
    if any(outcome.error_type == "DeploymentFailed" for outcome in failed):
        lines.append(
            "a number whose deployment is in ERROR is tried again only once it is deleted "
            "(wamanager delete ID)"
        )
    if journal is not None and any(outcome.status == "failed" for outcome in failed):
        lines.append(
            f"to try the failed numbers again, run the same command (--journal {journal}); "
            "READY ones are skipped"
        )
    return lines


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


# --- the command ---------------------------------------------------------------------------


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
@click.argument("bulk_file", metavar="FILE.csv", type=_BulkFileType())
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
        display: _Display
        if out.json_mode:
            display = JsonLines(out, bulk_file)
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
