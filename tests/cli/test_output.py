"""Output: JSON for scripts, plain aligned text off a terminal, tables and colour on one."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from wamanager._errors import ServerError
from wamanager._events import CodeRejected, CodeRequested, PollFailed, StateChanged, Succeeded
from wamanager._models import CurrentState, Deployment
from wamanager._states import DeploymentState
from wamanager.cli import _output
from wamanager.cli._deployments import describe
from wamanager.cli._output import Output, to_json

from .conftest import CLI, deploy

AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
READY = Deployment(
    "dep-1",
    waba_id="123",
    country_code="44",
    number="7700900123",
    current_state=CurrentState(DeploymentState.READY, "Deployment ready"),
)
ANSI = "\x1b["


def test_plain_table_is_aligned_with_a_header(capsys: pytest.CaptureFixture[str]) -> None:
    """Off a terminal, a table is a header and rows in aligned columns, no colour."""
    Output(terminal=False).table(["ID", "STATE"], [["a", "READY"], ["long-id", "ERROR"]])
    assert capsys.readouterr().out.splitlines() == [
        "ID       STATE",
        "a        READY",
        "long-id  ERROR",
    ]


def test_plain_record_leaves_out_missing_values(capsys: pytest.CaptureFixture[str]) -> None:
    """Off a terminal, a record is aligned 'label: value' lines; None values are left out."""
    Output(terminal=False).deployment(READY)
    assert capsys.readouterr().out.splitlines() == [
        "deployment: dep-1",
        "state:      READY",
        "detail:     Deployment ready",
        "number:     +44 7700900123",
        "WABA id:    123",
    ]


def test_terminal_output_draws_colour(capsys: pytest.CaptureFixture[str]) -> None:
    """On a terminal, tables, records and lines carry colour; the text is the same."""
    out = Output(terminal=True)
    out.table(["ID", "STATE"], [["dep-1", "READY"]], style_column=1)
    out.deployment(READY)
    out.line("hello", "bold")
    text = capsys.readouterr().out
    assert ANSI in text
    for word in ("dep-1", "READY", "+44 7700900123", "hello"):
        assert word in text


def test_json_mode_prints_the_wire_shape(capsys: pytest.CaptureFixture[str]) -> None:
    """With --json a deployment is printed as the API shapes it, and nothing else."""
    Output(json_mode=True, terminal=True).deployment(READY)
    data = json.loads(capsys.readouterr().out)
    assert data["current_state"] == {"title": "READY", "detail": "Deployment ready"}
    assert data["deployment_id"] == "dep-1"


def test_events_become_flat_json_objects() -> None:
    """An event is its type and fields; times are ISO 8601, errors a short text."""
    changed = StateChanged(
        deployment_id="dep-1",
        at=AT,
        previous=DeploymentState.FINALIZING,
        current=DeploymentState.READY,
        deployment=READY,
    )
    data = to_json(changed)
    assert data["event"] == "StateChanged"
    assert data["at"] == "2026-01-02T03:04:05+00:00"
    assert (data["previous"], data["current"]) == ("FINALIZING", "READY")
    assert data["deployment"]["deployment_id"] == "dep-1"
    failed = to_json(PollFailed(deployment_id="dep-1", at=AT, error=ServerError(503), attempt=2))
    assert failed["error"].startswith("ServerError: 503")
    json.dumps([data, failed])  # all of it is JSON


@pytest.mark.parametrize(
    ("event", "text"),
    [
        (
            StateChanged(
                deployment_id="d",
                at=AT,
                previous=None,
                current=DeploymentState.ERROR,
                deployment=Deployment(
                    "d", current_state=CurrentState(DeploymentState.ERROR, "Invalid vname")
                ),
            ),
            "state ERROR: Invalid vname",
        ),
        (CodeRequested(deployment_id="d", at=AT, attempt=1), "waiting for the OTP code"),
        (CodeRejected(deployment_id="d", at=AT, attempt=1, reason=None), "OTP code rejected"),
        (PollFailed(deployment_id="d", at=AT, error=TimeoutError(), attempt=1), "poll failed"),
        (Succeeded(deployment_id="d", at=AT, deployment=READY), "deployment READY"),
    ],
)
def test_describe_tells_each_event_in_words(event: object, text: str) -> None:
    """Each event a person should see gets a short line."""
    described = describe(event)  # type: ignore[arg-type]
    assert described is not None
    assert described.startswith(text)


def test_human_output_on_a_terminal_is_coloured(run: CLI, monkeypatch: pytest.MonkeyPatch) -> None:
    """On a terminal `list` draws a coloured table; in a pipe it never does."""
    deployment_id = deploy(run)
    assert "\x1b[" not in run("list").out
    monkeypatch.setattr(_output, "stdout_is_terminal", lambda: True)
    text = run("list").out
    assert "\x1b[" in text
    assert deployment_id in text
    assert "\x1b[" not in run("list", "--json").out  # JSON stays JSON on a terminal
