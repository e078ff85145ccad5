"""`wamanager bulk FILE.csv` against a fast sandbox (3000x) served from a thread: every
option, the JSON lines and the reports parsed back, the exit codes, the OTP sources, the
live display on a terminal, and a run interrupted with SIGINT in a subprocess and resumed."""

from __future__ import annotations

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from wamanager import DeploymentState
from wamanager._models import Vertical
from wamanager.sandbox import SandboxConfig, Scenario

from .conftest import CLI, FAILING, STUCK, VARIABLES, ThreadedSandbox

S = DeploymentState
HEADER = ("country_code", "number", "waba_id", "vname_certificate", "method")
WITHHELD = "7700900555"  # its first code never arrives: only a resend brings one
REJECTED = "7700900444"  # its first code is rejected, even the right one
FAST = ("--otp-from-sandbox", "--interval", "0.01")


@pytest.fixture
def threaded(tmp_path: Path) -> Iterator[ThreadedSandbox]:
    """A sandbox at 3000x without a rate limit, with failing, stuck, withheld-code and
    rejected-code numbers, served from a thread."""
    config = SandboxConfig(
        speed=3000,
        seed=11,
        rate_limit=None,
        scenarios=(
            Scenario("44" + FAILING, fail_at=S.CREATING_CLUSTER),
            Scenario("44" + STUCK, stuck_in=S.CREATING_CLUSTER),
            Scenario("44" + WITHHELD, withhold_code_until_resend=True),
            Scenario("44" + REJECTED, reject_first_code=True),
        ),
    )
    with ThreadedSandbox(config, tmp_path) as sandbox:
        yield sandbox


@pytest.fixture
def bulk(cli: CLI, threaded: ThreadedSandbox) -> CLI:
    """The command with JWT credentials of that sandbox."""
    cli.env = threaded.jwt_env
    return cli


def numbers(count: int, start: int = 100) -> list[str]:
    """``count`` plain test numbers (national part), none of them a scenario's."""
    return [f"7700900{n:03d}" for n in range(start, start + count)]


def write_csv(path: Path, rows: Sequence[Sequence[str]], header: Sequence[str] = HEADER) -> Path:
    """A bulk file of ``rows`` under ``header``."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def number_rows(national: Sequence[str], *extra: str) -> list[list[str]]:
    """A row per number: country code 44, a WABA id, a certificate, sms, then ``extra``."""
    return [["44", n, "123456789123", "CERT-SECRET-77", "sms", *extra] for n in national]


def creates(sandbox: ThreadedSandbox) -> dict[str, int]:
    """Deployments the sandbox created, per full number."""
    return dict(sandbox.handle.stats().creates)


def by_number(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A JSON report's outcomes by full number."""
    return {outcome["msisdn"]: outcome for outcome in report["outcomes"]}


# --- runs ----------------------------------------------------------------------------------


def test_every_number_ready_exits_0_with_a_line_each_and_a_summary(
    bulk: CLI, threaded: ThreadedSandbox, tmp_path: Path
) -> None:
    """All READY: exit 0, a line per number with its deployment, the summary, one create
    each; neither the certificate nor the PIN is ever shown."""
    national = numbers(5)
    rows = number_rows(national, "123456")
    path = write_csv(tmp_path / "n.csv", rows, (*HEADER, "pin"))
    result = bulk("bulk", str(path), *FAST, "--debug")
    assert result.code == 0, result.err
    for line_number, number in enumerate(national, start=2):
        assert f"line {line_number} (44{number}) READY as " in result.out
    assert "5 numbers in " in result.out
    assert "5 ready, 0 failed, 0 invalid" in result.out
    assert creates(threaded) == {f"44{n}": 1 for n in national}
    assert "CERT-SECRET-77" not in result.out + result.err
    assert "123456" not in result.out + result.err


def test_json_prints_one_event_per_line_and_nothing_else(bulk: CLI, tmp_path: Path) -> None:
    """--json: every stdout line is an event object (each number's steps and states, the
    totals last); the summary goes to stderr."""
    national = numbers(3)
    path = write_csv(tmp_path / "n.csv", number_rows(national))
    result = bulk("bulk", str(path), *FAST, "--json")
    assert result.code == 0, result.err
    events = result.json_lines()
    assert {event["event"] for event in events} == {"NumberChanged", "BulkProgress"}
    for number in national:
        mine = [e for e in events if e.get("msisdn") == f"44{number}"]
        steps = [e["step"] for e in mine]
        assert steps[0] == "create"
        assert steps[-1] == "done"
        assert "READY" in [e["state"] for e in mine]
        datetime.fromisoformat(mine[0]["at"])
    last = events[-1]
    assert last["event"] == "BulkProgress"
    assert (last["total"], last["done"], last["failed"], last["in_flight"]) == (3, 3, 0, 0)
    assert "3 ready, 0 failed" in result.err


def test_a_failed_number_exits_4_and_the_json_report_says_why(
    bulk: CLI, threaded: ThreadedSandbox, tmp_path: Path
) -> None:
    """A number that goes to ERROR fails alone: exit 4, the JSON report names its step and
    error, the others are READY."""
    national = [*numbers(2), FAILING]
    path = write_csv(tmp_path / "n.csv", number_rows(national))
    report_path = tmp_path / "out.json"
    result = bulk("bulk", str(path), *FAST, "--report", str(report_path))
    assert result.code == 4, result.err
    report = json.loads(report_path.read_text())
    assert report["counts"] == {"ready": 2, "failed": 1}
    failed = by_number(report)[f"44{FAILING}"]
    assert (failed["status"], failed["step"], failed["error_type"]) == (
        "failed",
        "watch",
        "DeploymentFailed",
    )
    assert "Invalid vname certificate" in failed["error"]
    assert f"line 4 44{FAILING} failed at watch: DeploymentFailed" in result.out
    assert f"report written to {report_path}" in result.out
    assert "CERT-SECRET-77" not in report_path.read_text()


def test_the_csv_report_has_a_row_per_number(bulk: CLI, tmp_path: Path) -> None:
    """--report FILE.csv writes one row per number: status, deployment, step, error."""
    national = [FAILING, *numbers(2)]
    path = write_csv(tmp_path / "n.csv", number_rows(national))
    report_path = tmp_path / "out.CSV"
    assert bulk("bulk", str(path), *FAST, "--report", str(report_path)).code == 4
    rows = list(csv.DictReader(report_path.read_text().splitlines()))
    assert [(r["position"], r["msisdn"], r["status"], r["step"]) for r in rows] == [
        ("0", f"44{FAILING}", "failed", "watch"),
        ("1", f"44{national[1]}", "ready", "done"),
        ("2", f"44{national[2]}", "ready", "done"),
    ]
    assert all(r["deployment_id"] for r in rows)
    assert rows[0]["error_type"] == "DeploymentFailed"


def test_profile_and_photo_columns_are_applied(
    bulk: CLI, threaded: ThreadedSandbox, tmp_path: Path
) -> None:
    """Each row's about, email, vertical (any case), websites (two, space-separated) and
    photo_url are applied to its number; empty cells change nothing."""
    header = (*HEADER, "About", "email", "vertical", "website", "photo url")
    rows = [
        [
            *number_rows(["7700900201"])[0],
            "Fresh bread",
            "shop@example.com",
            "restaurant",
            "https://a.example https://b.example",
            "https://cdn.example/logo.png",
        ],
        [*number_rows(["7700900202"])[0], "", "", "", "", ""],
    ]
    path = write_csv(tmp_path / "n.csv", rows, header)
    assert bulk("bulk", str(path), *FAST).code == 0
    stored = {dep.msisdn: dep for dep in threaded.handle.engine}
    first, second = stored["447700900201"], stored["447700900202"]
    assert first.profile == {
        "about": "Fresh bread",
        "email": "shop@example.com",
        "vertical": Vertical.RESTAURANT.value,
        "websites": ["https://a.example", "https://b.example"],
    }
    assert first.photo_url == "https://cdn.example/logo.png"
    assert (second.profile, second.photo_url) == ({}, None)


def test_invalid_rows_are_reported_by_line_and_never_sent(
    bulk: CLI, threaded: ThreadedSandbox, tmp_path: Path
) -> None:
    """Rows with a bad value (number, method, email, vertical) or a number given twice are
    reported as invalid with their line, never sent; the good row is onboarded; exit 4."""
    header = (*HEADER, "email", "vertical")
    rows = [
        ["44", "7700900301", "1", "C", "sms", "", ""],
        ["44", "77-00", "1", "C", "sms", "", ""],
        [],  # a blank line is skipped, and counted in the line numbers
        ["44", "7700900303", "1", "C", "fax", "", ""],
        ["44", "7700900304", "1", "C", "sms", "not-an-email", ""],
        ["44", "7700900305", "1", "C", "sms", "", "Bakery"],
        ["44", "7700900301", "1", "C", "sms", "", ""],
    ]
    path = write_csv(tmp_path / "n.csv", rows, header)
    report_path = tmp_path / "r.json"
    result = bulk("bulk", str(path), *FAST, "--report", str(report_path))
    assert result.code == 4, result.err
    assert creates(threaded) == {"447700900301": 1}
    for line, field in [(3, "number"), (5, "method"), (6, "profile.email"), (7, "vertical")]:
        assert any(f"line {line} " in out and field in out for out in result.out.splitlines())
    assert "appears twice" in result.out
    assert "invalid rows were not sent" in result.out
    statuses = [o["status"] for o in json.loads(report_path.read_text())["outcomes"]]
    assert statuses == ["ready", "invalid", "invalid", "invalid", "invalid", "invalid"]


def test_a_second_run_with_the_journal_skips_the_ready_numbers(
    bulk: CLI, threaded: ThreadedSandbox, tmp_path: Path
) -> None:
    """Run again with the same --journal: READY numbers are skipped (no request for them)
    and reported as resumed; the failed one is tried again, never created twice."""
    national = [*numbers(3), FAILING]
    path = write_csv(tmp_path / "n.csv", number_rows(national))
    journal = tmp_path / "j.sqlite"
    first = bulk("bulk", str(path), *FAST, "--journal", str(journal))
    assert first.code == 4
    assert "run the same command (--journal" in first.out
    again = bulk("bulk", str(path), *FAST, "--journal", str(journal))
    assert again.code == 4
    assert again.out.count("READY already (journal)") == 3
    assert creates(threaded) == {f"44{n}": 1 for n in national}


def test_a_journal_of_another_file_is_a_usage_error(
    bulk: CLI, threaded: ThreadedSandbox, tmp_path: Path
) -> None:
    """A journal written for other rows is refused (exit 2), before any request."""
    journal = tmp_path / "j.sqlite"
    first = write_csv(tmp_path / "a.csv", number_rows(numbers(1)))
    assert bulk("bulk", str(first), *FAST, "--journal", str(journal)).code == 0
    before = threaded.handle.stats().total_requests
    other = write_csv(tmp_path / "b.csv", number_rows(numbers(2, start=400)))
    result = bulk("bulk", str(other), *FAST, "--journal", str(journal))
    assert result.code == 2
    assert "another request list" in result.err
    assert threaded.handle.stats().total_requests == before


def test_concurrency_bounds_the_numbers_in_flight(bulk: CLI, tmp_path: Path) -> None:
    """--concurrency 2: never more than two numbers between their create and their end."""
    path = write_csv(tmp_path / "n.csv", number_rows(numbers(6)))
    result = bulk("bulk", str(path), *FAST, "--concurrency", "2", "--json")
    assert result.code == 0, result.err
    in_flight: set[str] = set()
    most = 0
    for event in result.json_lines():
        if event["event"] != "NumberChanged":
            continue
        if event["step"] == "create":
            in_flight.add(event["msisdn"])
            most = max(most, len(in_flight))
        elif event["step"] in ("done", "failed"):
            in_flight.discard(event["msisdn"])
    assert most == 2
    assert "at most 2 numbers in flight" in result.err


def test_timeout_fails_a_stuck_number_and_the_others_go_on(bulk: CLI, tmp_path: Path) -> None:
    """--timeout: a number stuck in CREATING_CLUSTER fails with WatchTimeout; exit 4."""
    path = write_csv(tmp_path / "n.csv", number_rows([STUCK, *numbers(1)]))
    report_path = tmp_path / "r.json"
    result = bulk("bulk", str(path), *FAST, "--timeout", "0.3", "--report", str(report_path))
    assert result.code == 4
    stuck = by_number(json.loads(report_path.read_text()))[f"44{STUCK}"]
    assert (stuck["status"], stuck["step"], stuck["error_type"]) == (
        "failed",
        "watch",
        "WatchTimeout",
    )


def test_resend_after_and_fallback_to_voice_bring_a_withheld_code(
    bulk: CLI, threaded: ThreadedSandbox, tmp_path: Path
) -> None:
    """--resend-after and --fallback-to-voice: a number whose code never came gets a new
    one by voice, and is READY."""
    path = write_csv(tmp_path / "n.csv", number_rows([WITHHELD]))
    result = bulk("bulk", str(path), *FAST, "--resend-after", "0.05", "--fallback-to-voice")
    assert result.code == 0, result.err
    assert threaded.handle.stats().requests["resend-otp"] >= 1
    (stored,) = threaded.handle.engine
    assert stored.method == "voice"


def test_max_resends_0_fails_a_number_without_a_code(bulk: CLI, tmp_path: Path) -> None:
    """--max-resends 0: a number whose code never comes fails at the verify step."""
    path = write_csv(tmp_path / "n.csv", number_rows([WITHHELD]))
    report_path = tmp_path / "r.json"
    result = bulk(
        "bulk", str(path), *FAST, "--resend-after", "0.05", "--max-resends", "0",
        "--report", str(report_path),
    )  # fmt: skip
    assert result.code == 4
    (outcome,) = json.loads(report_path.read_text())["outcomes"]
    assert (outcome["step"], outcome["error_type"]) == ("verify", "WatchTimeout")


@pytest.mark.parametrize(("attempts", "code"), [("1", 4), ("2", 0)])
def test_max_verify_attempts_limits_rejected_codes(
    bulk: CLI, tmp_path: Path, attempts: str, code: int
) -> None:
    """--max-verify-attempts 1 fails a number whose first code is rejected; 2 lets it
    through."""
    path = write_csv(tmp_path / "n.csv", number_rows([REJECTED]))
    result = bulk("bulk", str(path), *FAST, "--max-verify-attempts", attempts)
    assert result.code == code, result.err
    if code:
        assert "failed at verify: VerificationFailed" in result.out


# --- the OTP sources -----------------------------------------------------------------------

# Prints the code the sandbox delivered to the deployment (nothing while there is none), as
# a script reading an SMS gateway would; logs its arguments; fails its first call for each
# deployment, as a gateway that is not ready would.
INBOX_SCRIPT = """
import json, os, sys, time, urllib.error, urllib.request, uuid
from pathlib import Path
import jwt

number, labelled = sys.argv[1], sys.argv[2]
deployment_id = labelled.removeprefix("id=").removesuffix(" x")
log = Path(os.environ["BULK_OTP_LOG"])
with log.open("a") as handle:
    handle.write(json.dumps(sys.argv[1:]) + "\\n")
first = log.with_name(deployment_id + ".asked")
if not first.exists():
    first.touch()
    print("the gateway is not ready", file=sys.stderr)
    sys.exit(3)
root = os.environ["WAMANAGER_BASE_URL"].removesuffix("/v0.1/whatsapp-manager")
now = int(time.time())
claims = {
    "application_id": os.environ["VONAGE_APPLICATION_ID"],
    "iat": now, "exp": now + 60, "jti": str(uuid.uuid4()),
}
key = Path(os.environ["VONAGE_PRIVATE_KEY"]).read_text()
token = jwt.encode(claims, key, algorithm="RS256")
url = f"{root}/_sandbox/deployments/{deployment_id}/otp"
request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
try:
    with urllib.request.urlopen(request) as response:
        print(json.load(response)["code"] + "  ")
except urllib.error.HTTPError:
    pass
"""


def test_otp_command_gives_the_codes_and_its_failures_are_only_logged(
    bulk: CLI, threaded: ThreadedSandbox, tmp_path: Path
) -> None:
    """--otp-command: {number} and {deployment_id} are replaced inside single arguments (no
    shell); the first line printed is the code; a failing call is a warning, not fatal."""
    script = tmp_path / "inbox.py"
    script.write_text(INBOX_SCRIPT)
    log = tmp_path / "calls.log"
    national = numbers(2)
    path = write_csv(tmp_path / "n.csv", number_rows(national))
    command = f"{sys.executable} {script} {{number}} 'id={{deployment_id}} x'"
    env = {**threaded.jwt_env, "BULK_OTP_LOG": str(log)}
    result = bulk("bulk", str(path), "--otp-command", command, "--interval", "0.01", env=env)
    assert result.code == 0, result.err
    ids = {dep.msisdn: dep.deployment_id for dep in threaded.handle.engine}
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert {tuple(call) for call in calls} == {
        (f"44{n}", f"id={ids[f'44{n}']} x") for n in national
    }
    for number in national:
        assert f"the OTP command for 44{number} exited with 3: the gateway is not ready" in (
            result.err
        )


def test_an_otp_command_that_cannot_start_fails_the_numbers_not_the_run(
    bulk: CLI, tmp_path: Path
) -> None:
    """An OTP command that does not exist is logged; its numbers fail at verify (no code
    came), and the run ends with exit 4."""
    path = write_csv(tmp_path / "n.csv", number_rows(numbers(1)))
    result = bulk(
        "bulk", str(path), "--otp-command", str(tmp_path / "no-such-command"),
        "--interval", "0.01", "--resend-after", "0.05", "--max-resends", "0",
    )  # fmt: skip
    assert result.code == 4
    assert "could not start" in result.err
    assert "failed at verify: WatchTimeout" in result.out


class CodeTyper(threading.Thread):
    """Appends each delivered code to an OTP file, as a person would (``+44 7700 …,code``);
    for ``typo`` it first appends a wrong code, and the right one only after the run has
    polled the deployment in WRONG_CODE several times (the file still holding the typo)."""

    def __init__(self, sandbox: ThreadedSandbox, path: Path, typo: str) -> None:
        super().__init__(daemon=True)
        self.sandbox = sandbox
        self.path = path
        self.typo = typo
        self.stop = threading.Event()
        self.written: set[str] = set()
        self.typo_at: int | None = None

    def append(self, msisdn: str, code: str) -> None:
        line = f"+{msisdn[:2]} {msisdn[2:6]} {msisdn[6:]},{code}\n"
        descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        try:
            os.write(descriptor, line.encode())  # one write: a reader never sees half
        finally:
            os.close(descriptor)

    def run(self) -> None:
        while not self.stop.wait(0.002):
            stats = self.sandbox.handle.stats()
            for dep in self.sandbox.handle.engine:
                if dep.inbox is None or dep.msisdn in self.written:
                    continue
                if dep.msisdn != self.typo:
                    self.append(dep.msisdn, dep.inbox.code)
                    self.written.add(dep.msisdn)
                elif self.typo_at is None:
                    self.append(dep.msisdn, f"{(int(dep.inbox.code) + 1) % 10**6:06d}")
                    self.typo_at = -1
                elif self.typo_at == -1 and dep.state is S.WRONG_CODE:
                    self.typo_at = stats.total_requests
                elif self.typo_at > 0 and stats.total_requests >= self.typo_at + 6:
                    self.append(dep.msisdn, dep.inbox.code)
                    self.written.add(dep.msisdn)


def test_otp_file_is_read_again_and_a_rejected_code_is_not_sent_twice(
    bulk: CLI, threaded: ThreadedSandbox, tmp_path: Path
) -> None:
    """--otp-file: codes added while the run waits are used; a code the API rejected is
    not submitted again while it stays in the file, the corrected one is."""
    codes = tmp_path / "codes.csv"
    codes.write_text("number,code\n")
    national = numbers(3)
    typo = f"44{national[1]}"
    path = write_csv(tmp_path / "n.csv", number_rows(national))
    typer = CodeTyper(threaded, codes, typo)
    typer.start()
    try:
        result = bulk("bulk", str(path), "--otp-file", str(codes), "--interval", "0.01")
    finally:
        typer.stop.set()
        typer.join(5)
    assert result.code == 0, result.err
    wrong = {dep.msisdn: dep.wrong_codes for dep in threaded.handle.engine}
    assert wrong == {f"44{n}": int(f"44{n}" == typo) for n in national}


# --- usage errors --------------------------------------------------------------------------


def _bad_files(tmp_path: Path) -> dict[str, Path]:
    files = {
        "empty": "",
        "header-only": ",".join(HEADER) + "\n",
        "missing": "country_code,number,waba_id,method\n44,7700900123,1,sms\n",
        "unknown": ",".join((*HEADER, "abuot")) + "\n44,7700900123,1,C,sms,x\n",
        "repeated": ",".join((*HEADER, "number")) + "\n44,7700900123,1,C,sms,1\n",
        "ragged": ",".join(HEADER) + "\n44,7700900123,1,C,sms,extra\n",
        "bad-quote": ",".join(HEADER) + '\n44,"77"00,1,C,sms\n',
    }
    paths = {}
    for name, text in files.items():
        paths[name] = tmp_path / f"{name}.csv"
        paths[name].write_text(text)
    paths["latin-1"] = tmp_path / "latin.csv"
    paths["latin-1"].write_bytes(
        (",".join(HEADER) + "\n44,7700900123,1,C\xe9,sms\n").encode("latin-1")
    )
    paths["folder"] = tmp_path
    paths["absent"] = tmp_path / "absent.csv"
    return paths


@pytest.mark.parametrize(
    ("file", "extra", "message"),
    [
        ("empty", FAST, "is empty"),
        ("header-only", FAST, "has a header but no numbers"),
        ("missing", FAST, "missing column(s) vname_certificate"),
        ("unknown", FAST, "unknown column(s) abuot"),
        ("repeated", FAST, "column number appears more than once"),
        ("ragged", FAST, "line 2: 6 cells, the header has 5"),
        ("bad-quote", FAST, "line 2: not valid CSV"),
        ("latin-1", FAST, "is not UTF-8 text"),
        ("folder", FAST, "cannot read"),
        ("absent", FAST, "cannot read"),
        ("good", (), "give one OTP source"),
        ("good", ("--otp-from-sandbox", "--otp-command", "x"), "give one OTP source"),
        ("good", (*FAST, "--report", "r.txt"), "must end in .json or .csv"),
        ("good", (*FAST, "--report", "no/such/dir/r.json"), "no folder no/such/dir"),
        ("good", ("--otp-command", "'unclosed"), "cannot split it"),
        ("good", ("--otp-command", " "), "the command is empty"),
        ("good", ("--otp-file", "absent.csv"), "Invalid value for '--otp-file'"),
        ("good", (*FAST, "--journal", "header-only.csv"), "is not a usable journal"),
        ("good", (*FAST, "--concurrency", "0"), "Invalid value for '--concurrency'"),
        ("good", (*FAST, "--max-resends", "-1"), "Invalid value for '--max-resends'"),
        ("good", (*FAST, "--resend-after", "0"), "'0' is not a positive number"),
    ],
)
def test_usage_errors_exit_2_before_any_request(
    bulk: CLI,
    threaded: ThreadedSandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    file: str,
    extra: tuple[str, ...],
    message: str,
) -> None:
    """A file that cannot be used, or bad options, are one line on stderr and exit 2,
    before any request."""
    monkeypatch.chdir(tmp_path)
    files = _bad_files(tmp_path)
    files["good"] = write_csv(tmp_path / "good.csv", number_rows(numbers(1)))
    result = bulk("bulk", str(files[file]), *extra)
    assert result.code == 2, result.err
    assert result.out == ""
    (line,) = result.err.splitlines()
    assert line.startswith("Error: ")
    assert message in line
    assert threaded.handle.stats().total_requests == 0


# --- the live display ----------------------------------------------------------------------


def test_on_a_terminal_the_progress_is_drawn_live(
    bulk: CLI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a terminal the run draws a live view (bar, counts, rate), then the summary."""
    monkeypatch.setattr("wamanager.cli._output.stdout_is_terminal", lambda: True)
    path = write_csv(tmp_path / "n.csv", number_rows([*numbers(2), FAILING]))
    result = bulk("bulk", str(path), *FAST)
    assert result.code == 4
    assert "\x1b[" in result.out  # drawn with terminal control codes
    for text in ("wamanager bulk n.csv", "3/3", "ready ", "last failures:", "2 ready, 1 failed"):
        assert text in result.out


def test_on_a_terminal_log_lines_print_above_the_live_view(
    bulk: CLI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A warning logged during the live view goes through it (printed above the view), not
    straight to stderr, where the view's redrawing would overwrite it."""
    monkeypatch.setattr("wamanager.cli._output.stdout_is_terminal", lambda: True)
    path = write_csv(tmp_path / "n.csv", number_rows(numbers(1)))
    result = bulk(
        "bulk", str(path), "--otp-command", str(tmp_path / "no-such-command"),
        "--interval", "0.01", "--resend-after", "0.05", "--max-resends", "0",
    )  # fmt: skip
    assert result.code == 4
    assert "could not start" in result.out
    assert result.err == ""


# --- as a process --------------------------------------------------------------------------

CLEAN_ENV = {name: value for name, value in os.environ.items() if name not in VARIABLES}


def start(args: Sequence[str], env: dict[str, str]) -> subprocess.Popen[str]:
    """``python -m wamanager ARGS`` with pipes for stdout and stderr."""
    return subprocess.Popen(  # noqa: S603 - our own interpreter and package
        [sys.executable, "-m", "wamanager", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**CLEAN_ENV, "PYTHONUNBUFFERED": "1", **env},
    )


@pytest.fixture
def slower(tmp_path: Path) -> Iterator[ThreadedSandbox]:
    """A sandbox at 200x (READY in about 1 s) with a failing number, from a thread: slow
    enough that a run is still going when a busy machine's test gets to interrupt it."""
    config = SandboxConfig(
        speed=200,
        seed=12,
        rate_limit=None,
        scenarios=(Scenario("44" + FAILING, fail_at=S.CREATING_CLUSTER),),
    )
    with ThreadedSandbox(config, tmp_path) as sandbox:
        yield sandbox


@pytest.mark.timeout(60)
def test_ctrl_c_stops_the_run_cleanly_and_the_same_command_resumes_it(
    slower: ThreadedSandbox, cli: CLI, tmp_path: Path
) -> None:
    """SIGINT partway: exit 130 with how to resume, the journal intact; the same command
    then finishes the run: every number READY (the scripted one failed), each created once."""
    national = [*numbers(9), FAILING, *numbers(2, start=600)]
    path = write_csv(tmp_path / "n.csv", number_rows(national))
    journal = tmp_path / "j.sqlite"
    args = ["bulk", str(path), *FAST, "--concurrency", "3", "--journal", str(journal), "--json"]
    process = start(args, slower.jwt_env)
    try:
        assert process.stdout is not None
        done = 0
        for line in process.stdout:
            event = json.loads(line)
            done += event["event"] == "NumberChanged" and event["step"] == "done"
            if done == 3:
                break
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 130
    finally:
        if process.poll() is None:
            process.kill()
        _, err = process.communicate()  # waits, reads what is left, closes the pipes
    assert f"run the same command again to resume (--journal {journal})" in err
    assert err.endswith("Interrupted.\n")
    with sqlite3.connect(journal) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    before = creates(slower)
    assert 3 <= len(before) < len(national)

    cli.env = slower.jwt_env
    report_path = tmp_path / "r.json"
    resumed = cli(*args[:-1], "--report", str(report_path))
    assert resumed.code == 4, resumed.err
    report = by_number(json.loads(report_path.read_text()))
    assert {msisdn: outcome["status"] for msisdn, outcome in report.items()} == {
        f"44{n}": "failed" if n == FAILING else "ready" for n in national
    }
    assert sum(outcome["resumed"] for outcome in report.values()) >= 3
    assert creates(slower) == {f"44{n}": 1 for n in national}
    states = {dep.msisdn: dep.state for dep in slower.handle.engine}
    assert states == {f"44{n}": S.ERROR if n == FAILING else S.READY for n in national}


def test_a_closed_pipe_stops_the_run_quietly(slower: ThreadedSandbox, tmp_path: Path) -> None:
    """Output into a closed pipe (`wamanager bulk … --json | head -0`) ends with exit 0 and
    nothing on stderr, as the other commands do."""
    path = write_csv(tmp_path / "n.csv", number_rows(numbers(3)))
    process = start(["bulk", str(path), *FAST, "--json"], slower.jwt_env)
    assert process.stdout is not None
    assert process.stderr is not None
    process.stdout.close()
    assert process.wait(timeout=20) == 0
    _, err = process.communicate()
    assert err == ""
