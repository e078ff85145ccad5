"""What ``wamanager bulk`` shows while it runs, and the summary after.

Three displays, fed by the run's events: :class:`LiveDisplay` (a terminal: a live view,
redrawn as the totals come), :class:`PlainLines` (a line per number that ends, for logs and
pipes) and :class:`JSONLines` (``--json``: one JSON object per event). What they show is made
by pure functions, each testable alone: :func:`live_view`, :func:`totals_text`,
:func:`event_json` and :func:`summary_lines`.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections import deque
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs
import click
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from .._bulk_report import BulkEvent, BulkProgress, BulkReport, NumberChanged
from ._bulk_file import BulkFile
from ._output import Output, state_style

__all__ = [
    "Display",
    "JSONLines",
    "LiveDisplay",
    "PlainLines",
    "duration",
    "event_json",
    "live_view",
    "summary_lines",
    "totals_text",
]

#: Failures listed in the summary; the report has them all.
SUMMARY_FAILURES = 10
#: Seconds between the totals a terminal's live display is refreshed from.
LIVE_PROGRESS_EVERY = 0.5


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


class Display:
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


class JSONLines(Display):
    """``--json``: one JSON object per event on stdout, and nothing else (the summary goes
    to stderr)."""

    def __call__(self, event: BulkEvent) -> None:
        self.out.json(event_json(event), compact=True)

    def summary(self, lines: Sequence[str]) -> None:
        for line in lines:
            click.echo(line, err=True)


class PlainLines(Display):
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


class LiveDisplay(Display):
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
