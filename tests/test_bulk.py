"""provision_many(): many numbers at once, every outcome reported, resumable, never twice."""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from wamanager import (
    BulkProgress,
    DeploymentRequest,
    DeploymentState,
    JournalError,
    NumberChanged,
    Onboarding,
    PollPolicy,
    Profile,
    ValidationError,
    WhatsAppManager,
    provision_many,
)
from wamanager._bulk_report import BulkEvent
from wamanager._clock import SYSTEM_CLOCK
from wamanager.sandbox import SandboxConfig, SandboxHandle, Scenario, run_sandbox
from wamanager.testing import sandbox_client

from ._served import Gate, SandboxTime, client, gated_sandbox

S = DeploymentState
# Polls every 2 sandbox seconds: a deployment reaches READY in ~170 sandbox seconds.
POLICY = PollPolicy(interval=2.0, jitter=0.1)
SCENARIOS = (
    Scenario("4477009001*", fail_at="CREATING_CLUSTER", fail_detail="Invalid vname certificate"),
    Scenario("4477009002*", withhold_code_until_resend=True),
    Scenario("4477009003*", reject_first_code=True),
)


def request(n: int) -> DeploymentRequest:
    """The ``n``-th test number: 44 7700900<n:03d>."""
    return DeploymentRequest(
        country_code="44", number=f"7700900{n:03d}", vname_certificate="CERT", waba_id="1"
    )


@pytest.fixture
async def served() -> AsyncIterator[tuple[SandboxHandle, Gate]]:
    """A sandbox at 600x with the scenarios above, behind a counting gate."""
    async with gated_sandbox(
        SandboxConfig(speed=600, scenarios=SCENARIOS, rate_limit=None)
    ) as pair:
        yield pair


def creates(sandbox: SandboxHandle) -> Counter[str]:
    """Deployments the sandbox holds per number: one create each, or a duplicate."""
    return Counter(dep.msisdn for dep in sandbox.engine)


async def run(
    wam: WhatsAppManager, sandbox: SandboxHandle, numbers: range, **kwargs: object
) -> object:
    kwargs.setdefault("policy", POLICY)
    return await provision_many(
        wam,
        [request(n) for n in numbers],
        otp=sandbox.otp_provider,
        clock=SandboxTime(sandbox.clock),
        resend_after=60,
        **kwargs,  # type: ignore[arg-type]
    )


async def test_five_hundred_numbers_with_failures_resends_and_rejections(
    served: tuple[SandboxHandle, Gate],
) -> None:
    """500 numbers: the scenario ones fail, need a resend or lose their first code; every
    outcome is right, none is created twice, and no more than `concurrency` are in flight."""
    sandbox, gate = served
    in_flight: set[str] = set()
    most = 0

    def watch_flight(event: BulkEvent) -> None:
        nonlocal most
        if isinstance(event, NumberChanged):
            if event.step in ("done", "failed"):
                in_flight.discard(event.msisdn)
            elif event.step == "create":
                in_flight.add(event.msisdn)
                most = max(most, len(in_flight))

    async with client(sandbox) as wam:
        with anyio.fail_after(120):
            report = await run(
                wam,
                sandbox,
                range(500),
                concurrency=40,
                profile=Profile(about="Bulk bakery"),
                on_event=watch_flight,
            )
    failed = {o.msisdn for o in report.failed}  # type: ignore[attr-defined]
    assert failed == {request(n).msisdn for n in range(100, 200)}
    for outcome in report.failed:  # type: ignore[attr-defined]
        assert (outcome.status, outcome.step, outcome.error_type) == (
            "failed",
            "watch",
            "DeploymentFailed",
        )
        assert "Invalid vname certificate" in outcome.error
        assert outcome.deployment_id is not None
    assert report.counts == {"ready": 400, "failed": 100}  # type: ignore[attr-defined]
    assert set(creates(sandbox).values()) == {1}
    assert len(creates(sandbox)) == 500
    assert report.max_in_flight <= 40  # type: ignore[attr-defined]
    assert 0 < most <= 40
    resent = [d for d in sandbox.engine if d.msisdn.startswith("4477009002")]
    assert all(d.state is S.READY for d in resent)
    assert gate.counts["POST", "resend-otp"] >= 100
    assert gate.counts["PATCH", "profile"] == 400
    assert report.requests >= gate.counts.total() - 1  # type: ignore[attr-defined]
    assert set(report.stage_seconds) >= {"create", "watch", "profile"}  # type: ignore[attr-defined]


async def test_invalid_rows_are_reported_and_never_sent(served: tuple[SandboxHandle, Gate]) -> None:
    """Bad rows (a bad number, a bad profile, a duplicate) are reported; the rest proceed."""
    sandbox, gate = served
    items = [
        request(1),
        DeploymentRequest(country_code="44", number="77-00", vname_certificate="c", waba_id="1"),
        Onboarding(request(2), profile=Profile(about="")),
        request(1),
        Onboarding(request(3), photo_url="ftp://nope/x.gif"),
    ]
    async with client(sandbox) as wam:
        report = await provision_many(
            wam, items, otp=sandbox.otp_provider, clock=SandboxTime(sandbox.clock), policy=POLICY
        )
    statuses = [(o.position, o.status) for o in report.outcomes]
    assert statuses == [
        (0, "ready"),
        (1, "invalid"),
        (2, "invalid"),
        (3, "invalid"),
        (4, "invalid"),
    ]
    errors = [o.error or "" for o in report.outcomes]
    assert "number" in errors[1]
    assert "profile.about" in errors[2]
    assert "appears twice" in errors[3]
    assert "photo_url" in errors[4]
    assert gate.counts["POST", "deployments"] == 1


async def test_an_async_iterable_of_onboardings_with_their_own_profiles(
    served: tuple[SandboxHandle, Gate],
) -> None:
    """Requests may come from an async iterator; each Onboarding's profile wins over the run's."""
    sandbox, _ = served

    async def rows() -> AsyncIterator[Onboarding]:
        for n in range(3):
            yield Onboarding(request(n), profile=Profile(about=f"shop {n}") if n else None)

    async with client(sandbox) as wam:
        report = await provision_many(
            wam,
            rows(),
            otp=sandbox.otp_provider,
            clock=SandboxTime(sandbox.clock),
            policy=POLICY,
            profile=Profile(about="default"),
        )
        abouts = [(await wam.profiles.get(o.deployment_id or "")).about for o in report.outcomes]
    assert abouts == ["default", "shop 1", "shop 2"]


async def test_progress_totals_come_periodically_and_at_the_end(
    served: tuple[SandboxHandle, Gate],
) -> None:
    """on_event gets per-number events and BulkProgress totals, the last one complete."""
    sandbox, _ = served
    events: list[BulkEvent] = []
    async with client(sandbox) as wam:
        await run(wam, sandbox, range(20), on_event=events.append, progress_every=20.0)
    totals = [e for e in events if isinstance(e, BulkProgress)]
    assert len(totals) >= 3
    last = totals[-1]
    assert (last.total, last.done, last.failed, last.in_flight) == (20, 20, 0, 0)
    assert last.eta_seconds == 0.0
    assert last.rate_per_minute > 0
    assert any(t.by_state for t in totals[:-1])
    steps = Counter(e.step for e in events if isinstance(e, NumberChanged))
    assert steps["create"] == steps["done"] == 20


async def test_a_cancelled_run_resumes_from_its_journal(
    served: tuple[SandboxHandle, Gate], tmp_path: Path
) -> None:
    """Cancelled halfway, a journaled run resumes: READY numbers are skipped, the rest finish,
    and no number is created twice."""
    sandbox, gate = served
    journal = tmp_path / "run.sqlite"
    ready = 0

    def count(event: BulkEvent) -> None:
        nonlocal ready
        if isinstance(event, NumberChanged) and event.step == "done":
            ready += 1
            if ready == 15:
                scope.cancel()

    async with client(sandbox) as wam:
        with anyio.CancelScope() as scope:
            await run(
                wam, sandbox, range(300, 360), journal=journal, concurrency=10, on_event=count
            )
        assert scope.cancelled_caught
        first_creates = gate.counts["POST", "deployments"]
        report = await run(wam, sandbox, range(300, 360), journal=journal, concurrency=10)
    assert report.counts == {"ready": 60}  # type: ignore[attr-defined]
    resumed = [o for o in report.outcomes if o.resumed]  # type: ignore[attr-defined]
    assert len(resumed) >= 15
    assert set(creates(sandbox).values()) == {1}
    # every number was created once; repeats were adopted through NumberInUse or the journal
    assert gate.counts["POST", "deployments"] - first_creates <= 60 - len(resumed)


async def test_a_resumed_run_paces_only_the_numbers_it_works_on(
    served: tuple[SandboxHandle, Gate], tmp_path: Path
) -> None:
    """Numbers skipped as READY in the journal and invalid rows finish at once: they do not
    count in the rate, so a resumed run's ETA is not made absurdly short."""
    sandbox, _ = served
    journal = tmp_path / "run.sqlite"
    items = [*(request(n) for n in range(4)), DeploymentRequest("44", "77-00", "c", "1")]
    events: list[BulkEvent] = []
    async with client(sandbox) as wam:
        await run(wam, sandbox, range(4), journal=journal)
        report = await provision_many(
            wam,
            items,
            otp=sandbox.otp_provider,
            clock=SandboxTime(sandbox.clock),
            policy=POLICY,
            journal=journal,
            on_event=events.append,
        )
    assert report.counts == {"ready": 4, "invalid": 1}
    last = events[-1]
    assert isinstance(last, BulkProgress)
    assert (last.done, last.failed, last.rate_per_minute, last.eta_seconds) == (4, 1, 0.0, 0.0)


async def test_a_journal_of_another_request_list_is_refused(
    served: tuple[SandboxHandle, Gate], tmp_path: Path
) -> None:
    """Resuming with another list is a JournalError before any request."""
    sandbox, gate = served
    journal = tmp_path / "run.sqlite"
    async with client(sandbox) as wam:
        await run(wam, sandbox, range(2), journal=journal)
        before = gate.counts.total()
        with pytest.raises(JournalError, match="another request list"):
            await run(wam, sandbox, range(3), journal=journal)
    assert gate.counts.total() == before


async def test_the_report_writes_itself_as_json_and_csv(
    served: tuple[SandboxHandle, Gate], tmp_path: Path
) -> None:
    """The report round-trips through JSON and CSV with every number's outcome."""
    sandbox, _ = served
    async with client(sandbox) as wam:
        report = await run(wam, sandbox, [100, 1])  # type: ignore[arg-type]
    report.write_json(tmp_path / "r.json")  # type: ignore[attr-defined]
    report.write_csv(tmp_path / "r.csv")  # type: ignore[attr-defined]
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["counts"] == {"failed": 1, "ready": 1}
    assert [o["status"] for o in data["outcomes"]] == ["failed", "ready"]
    rows = list(csv.DictReader((tmp_path / "r.csv").read_text().splitlines()))
    assert [(r["msisdn"], r["status"], r["step"]) for r in rows] == [
        ("447700900100", "failed", "watch"),
        ("447700900001", "ready", "done"),
    ]
    text = (tmp_path / "r.json").read_text() + (tmp_path / "r.csv").read_text()
    assert "CERT" not in text


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"concurrency": 0}, "concurrency"),
        ({"resend_afterr": 1}, "resend_afterr"),
        # Found by the reliability suite: a TypeError from the progress task, after the run began.
        ({"progress_every": None}, "progress_every"),
    ],
)
async def test_bad_run_options_fail_before_anything(
    served: tuple[SandboxHandle, Gate], kwargs: dict[str, object], field: str
) -> None:
    """A bad concurrency or watcher option is a ValidationError, before any request."""
    sandbox, gate = served
    async with client(sandbox) as wam:
        with pytest.raises(ValidationError) as caught:
            await provision_many(wam, [request(1)], otp=sandbox.otp_provider, **kwargs)  # type: ignore[arg-type]
    assert field in caught.value.fields
    assert gate.counts.total() == 0


@pytest.mark.timeout(120)
async def test_a_run_at_the_account_limit_completes_with_few_429s() -> None:
    """With the sandbox's rate limit on (200/s, burst 20) and a default client, 200 numbers all
    end READY and fewer than 5% of the requests are answered 429 (counted at the sandbox)."""
    config = SandboxConfig(speed=600, rate_limit=200, rate_burst=20)
    # Real-time watchers: the account limit counts real seconds.
    async with (
        run_sandbox(config) as sandbox,
        sandbox_client(sandbox, clock=SYSTEM_CLOCK) as wam,
    ):
        report = await provision_many(
            wam,
            [request(n) for n in range(200)],
            otp=sandbox.otp_provider,
            profile=Profile(about="At the limit"),
            policy=PollPolicy(interval=0.25, jitter=0.1),
        )
        stats = sandbox.stats()
    assert report.counts == {"ready": 200}
    answered = sum(stats.requests.values())
    assert stats.rate_limited < 0.05 * answered, (stats.rate_limited, answered)
    assert report.throttled == stats.rate_limited
