"""Bulk onboarding: three dozen numbers at once, with a journal, stopped partway and resumed.

Runs against an embedded sandbox with no arguments:  python examples/bulk_onboard.py
One number's certificate is refused and a few lose their first code, as happens in real
runs. The first run stops after ten numbers (as a crash or Ctrl-C would); the second, given
the same journal, skips those and finishes the others, creating no deployment twice.
Against the real API, replace the sandbox with your credentials and an OTP provider that
asks your SMS gateway (or a person) for each code; the same run from a shell is
``wamanager bulk numbers.csv --journal onboarding.sqlite --report report.csv``.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import anyio

from wamanager import (
    BulkEvent,
    BulkProgress,
    BulkReport,
    DeploymentRequest,
    JWTAuth,
    NumberChanged,
    Onboarding,
    Profile,
    WhatsAppManager,
    provision_many,
)
from wamanager.sandbox import SandboxConfig, Scenario, run_sandbox

SPEED = float(os.environ.get("WAMANAGER_SANDBOX_SPEED", "60"))
NUMBERS = 36


def onboardings() -> Iterator[Onboarding]:
    """The numbers to onboard, each with its own profile (read them from a file in practice)."""
    for n in range(NUMBERS):
        request = DeploymentRequest(
            country_code="44",
            number=f"7700900{n:03d}",
            vname_certificate="certificate-from-the-dashboard",
            waba_id="123456789123",
        )
        yield Onboarding(request, profile=Profile(about=f"Bakery #{n + 1}"))


_shown: list[str] = []


def show(event: BulkEvent) -> None:
    """Print the totals when they change, and each number that fails."""
    if isinstance(event, BulkProgress):
        states = ", ".join(f"{state} {count}" for state, count in sorted(event.by_state.items()))
        line = (
            f"  {event.done + event.failed}/{event.total} finished "
            f"({event.done} ready, {event.failed} failed); in flight: {states or 'none'}"
        )
        if line not in _shown[-1:]:
            _shown.append(line)
            print(line)
    elif isinstance(event, NumberChanged) and event.step == "failed":
        print(f"  +{event.msisdn} failed: {event.error}")


async def main() -> None:
    config = SandboxConfig(
        speed=SPEED,
        # The sandbox's rate limit counts real seconds: at a fast clock's pace it would make
        # the demo wait on it (benchmarks/bulk.py runs a thousand numbers under one).
        rate_limit=None,
        scenarios=(
            Scenario("447700900013", fail_at="CREATING_CLUSTER"),
            Scenario("4477009002*", reject_first_code=True),
        ),
    )
    with tempfile.TemporaryDirectory() as folder:
        journal = Path(folder) / "onboarding.sqlite"
        async with (
            run_sandbox(config) as sandbox,
            WhatsAppManager(
                base_url=sandbox.base_url,
                auth=JWTAuth(sandbox.application_id, sandbox.private_key_pem),
            ) as wam,
            sandbox.inbox() as inbox,  # reads the sandbox-only OTP inbox over HTTP
        ):
            # The same call both times; clock=sandbox.clock makes every wait (polls, the
            # resend timer, progress_every) sandbox seconds, which pass SPEED times faster.
            async def run(on_event: Callable[[BulkEvent], None]) -> BulkReport:
                return await provision_many(
                    wam,
                    onboardings(),
                    otp=inbox,
                    concurrency=12,
                    journal=journal,
                    clock=sandbox.clock,
                    progress_every=30,
                    on_event=on_event,
                )

            print(f"onboarding {NUMBERS} numbers, 12 at a time (sandbox at x{SPEED:g})")
            finished = 0

            def stop_after_ten(event: BulkEvent) -> None:
                nonlocal finished
                if isinstance(event, NumberChanged) and event.step in ("done", "failed"):
                    finished += 1
                    if finished == 10:
                        scope.cancel()

            with anyio.CancelScope() as scope:
                await run(stop_after_ten)
            print(f"stopped after {finished} numbers; running again with the same journal")
            report = await run(show)
            most_creates = max(sandbox.stats().creates.values())

    counts = report.counts
    resumed = sum(outcome.resumed for outcome in report.outcomes)
    print(f"report: {counts.get('ready', 0)} ready, {counts.get('failed', 0)} failed")
    print(f"  {resumed} of them READY from the first run, {report.requests} requests now")
    print(f"  deployments created per number: at most {most_creates}")
    first, *others = report.ready
    print(f"+{first.msisdn} is READY as {first.deployment_id}, and {len(others)} more")


if __name__ == "__main__":
    asyncio.run(main())
