"""The bulk run's display: the live view's counts, states, rate, ETA and failures, durations
read naturally, and the summary's advice."""

from __future__ import annotations

import io
from datetime import datetime, timezone
from pathlib import Path

import pytest
from rich.console import Console

from wamanager import BulkProgress, BulkReport, NumberOutcome
from wamanager.cli._bulk_display import duration, live_view, summary_lines
from wamanager.cli._bulk_file import BulkFile


def test_live_view_shows_counts_states_rate_eta_and_failures() -> None:
    """The live view: title, bar, counts, the states in flight, rate, ETA, failures."""
    progress = BulkProgress(
        at=datetime.now(timezone.utc),
        total=10,
        done=4,
        failed=1,
        in_flight=3,
        by_state={"CODE_SENT": 2, "pending": 1},
        rate_per_minute=12.5,
        eta_seconds=125,
    )
    console = Console(file=io.StringIO(), width=120, record=True)
    console.print(live_view("bulk n.csv", progress, 10, ["line 3: boom"], 61))
    text = console.export_text()
    for expected in (
        "bulk n.csv",
        "5/10",
        "ready 4   failed 1   in flight 3   waiting 2",
        "CODE_SENT 2   pending 1",
        "elapsed 1m 01s   rate 12.5/min   ETA 2m 05s",
        "last failures:",
        "line 3: boom",
    ):
        assert expected in text
    console = Console(file=io.StringIO(), width=120, record=True)
    console.print(live_view("bulk n.csv", None, 10, [], 0))
    assert "0/10" in console.export_text()


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (42.4, "42s"), (59.6, "1m 00s"), (185, "3m 05s"), (7620, "2h 07m"), (-3, "0s")],
)
def test_durations_read_naturally(seconds: float, text: str) -> None:
    """Seconds shown as 42s, 3m 05s, 2h 07m."""
    assert duration(seconds) == text


def test_the_summary_lists_at_most_ten_failures_and_says_what_next() -> None:
    """The summary fits a screen: counts, requests, ten failures and how many more, where
    the report is, and what to do about invalid rows and failed numbers."""
    outcomes = [NumberOutcome(0, "447700900001", "ready", "d-0", "done", resumed=True)]
    outcomes += [
        NumberOutcome(n, f"4477009{n:05d}", "failed", "d", "watch", "DeploymentFailed", "boom")
        for n in range(1, 13)
    ]
    outcomes.append(NumberOutcome(13, "4477-00", "invalid", error="invalid number"))
    report = BulkReport(tuple(outcomes), duration=75, requests=90, throttled=2, max_in_flight=5)
    bulk_file = BulkFile(Path("n.csv"), (), tuple(range(2, 16)))
    lines = summary_lines(report, bulk_file, report_path=Path("r.json"), journal=Path("j.sqlite"))
    assert (
        lines[0] == "14 numbers in 1m 15s: 1 ready (1 already in the journal), 12 failed, 1 invalid"
    )
    assert lines[1] == "90 requests (2 answered 429), at most 5 numbers in flight"
    listed = [line for line in lines if line.startswith("  line ")]
    assert len(listed) == 10
    assert listed[0] == "  line 3 447700900001 failed at watch: boom"
    assert "  … and 3 more in r.json" in lines
    assert "report written to r.json" in lines
    assert any("invalid rows were not sent" in line for line in lines)
    assert any("wamanager delete ID" in line for line in lines)
    assert any("--journal j.sqlite" in line for line in lines)
    assert len(lines) <= 20


def test_a_clean_summary_gives_no_advice() -> None:
    """All READY: the counts, in the singular where it applies, and nothing to do."""
    report = BulkReport(
        (NumberOutcome(0, "447700900001", "ready", "d-0", "done"),),
        duration=3,
        requests=1,
        throttled=0,
        max_in_flight=1,
    )
    lines = summary_lines(report, BulkFile(Path("n.csv"), (), (2,)))
    assert lines == [
        "1 number in 3s: 1 ready, 0 failed, 0 invalid",
        "1 request (0 answered 429), at most 1 number in flight",
    ]
