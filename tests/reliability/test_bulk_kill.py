"""A journaled bulk run killed with SIGKILL at seeded moments resumes to the right end.

The sandbox runs in this process; the bulk run in a child process that prints a line per
event, and one as each journal write starts. The test kills the child after a seeded number of
lines (a third of the time right after a create was announced, so that the create is in
flight; a third right after a journal write began, so that its transaction is being written)
plus a seeded few milliseconds, checks the journal's integrity, and starts the child again with
the same journal, until a run completes. Then every number must be in its right state,
created exactly once.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import sys
from collections import Counter
from pathlib import Path

import anyio
import pytest
from anyio.abc import Process
from anyio.streams.text import TextReceiveStream

from wamanager import DeploymentState
from wamanager.sandbox import SandboxConfig, Scenario, run_sandbox

S = DeploymentState
NUMBERS = [f"77009{n:05d}" for n in range(24)]
FAILING = "4477009" + "00003"  # fails at CREATING_CLUSTER
CHILD = """
import json, os, sys
import aiohttp, anyio
from wamanager import (
    DeploymentRequest, JWTAuth, NumberChanged, PollPolicy, WhatsAppManager, provision_many,
)
from wamanager._journal import Journal

# Each journal write announces itself as it starts, so that a kill can land during one.
write = Journal._run

async def announced(self, work, *args):
    print("journal", flush=True)
    return await write(self, work, *args)

Journal._run = announced

async def main():
    cfg = json.loads(os.environ["BULK_CHILD"])
    auth = JWTAuth(cfg["application_id"], cfg["private_key"])
    requests = [
        DeploymentRequest(country_code="44", number=n, vname_certificate="C", waba_id="1")
        for n in cfg["numbers"]
    ]
    async with aiohttp.ClientSession() as http, WhatsAppManager(
        base_url=cfg["base_url"], auth=auth
    ) as wam:

        async def inbox(deployment):
            url = f"{cfg['root_url']}/_sandbox/deployments/{deployment.deployment_id}/otp"
            async with http.get(url, headers={"Authorization": auth.authorization()}) as r:
                return (await r.json())["code"] if r.status == 200 else None

        def announce(event):
            if isinstance(event, NumberChanged):
                print(event.step, event.msisdn, flush=True)

        report = await provision_many(
            wam, requests, otp=inbox, concurrency=6, journal=cfg["journal"],
            policy=PollPolicy(interval=0.02, jitter=0.2), on_event=announce,
        )
        print("REPORT", json.dumps(report.counts), flush=True)

anyio.run(main)
"""


async def run_child(
    env: dict[str, str], kill_after: int | None, pause: float, *, counting: str = ""
) -> tuple[bool, str]:
    """Run the child; SIGKILL it after ``kill_after`` event lines starting with ``counting``
    (and ``pause`` seconds). Returns whether it was killed, and its output."""
    lines: list[str] = []
    process: Process = await anyio.open_process([sys.executable, "-c", CHILD], env=env, stderr=None)
    async with process:
        assert process.stdout is not None
        pending = ""
        async for chunk in TextReceiveStream(process.stdout):
            *complete, pending = (pending + chunk).split("\n")
            lines.extend(complete)
            events = [line for line in lines if line.startswith(counting) and "REPORT" not in line]
            if kill_after is not None and len(events) >= kill_after:
                await anyio.sleep(pause)
                process.send_signal(signal.SIGKILL)
                await process.wait()
                return True, "\n".join(lines)
        await process.wait()
    assert process.returncode == 0, "\n".join(lines)
    return False, "\n".join(lines)


def check_integrity(path: Path) -> None:
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


@pytest.mark.timeout(240)
async def test_killed_runs_resume_to_the_right_end_with_one_create_each(tmp_path: Path) -> None:
    """Ten SIGKILLs at seeded moments, each resumed: every number ends right, created once."""
    rng = random.Random(20261126)
    config = SandboxConfig(
        speed=600,
        rate_limit=None,
        seed=7,
        scenarios=(
            Scenario(FAILING, fail_at="CREATING_CLUSTER"),
            Scenario("44770090001*", reject_first_code=True),
        ),
    )
    journal = tmp_path / "bulk.sqlite"
    async with run_sandbox(config) as sandbox:
        assert sandbox.private_key_pem is not None
        env = {
            **os.environ,
            "BULK_CHILD": json.dumps(
                {
                    "base_url": sandbox.base_url,
                    "root_url": sandbox.root_url,
                    "application_id": sandbox.application_id,
                    "private_key": sandbox.private_key_pem,
                    "numbers": NUMBERS,
                    "journal": str(journal),
                }
            ),
        }
        kills = during_writes = 0
        for attempt in range(10):
            if attempt % 3 == 1:
                # right after a create is announced (its intent written): while it is in flight
                killed, output = await run_child(env, rng.randint(1, 8), 0.0, counting="create")
            elif attempt % 3 == 2:
                # right after a journal write began: while its transaction is being written
                killed, output = await run_child(env, rng.randint(1, 60), 0.0, counting="journal")
                during_writes += killed
            else:
                # after any event, a few milliseconds on: in the middle of whatever comes next
                killed, output = await run_child(env, rng.randint(1, 40), rng.uniform(0, 0.004))
            kills += killed
            if journal.exists():
                check_integrity(journal)
            if not killed:
                break
        finished, output = await run_child(env, None, 0.0)
        assert not finished
        check_integrity(journal)
        creates = Counter(dep.msisdn for dep in sandbox.engine)
        states = {dep.msisdn: dep.state for dep in sandbox.engine}
    assert kills >= 5
    assert during_writes >= 2
    assert set(creates.values()) == {1}
    assert len(creates) == len(NUMBERS)
    expected = {f"44{n}": S.READY for n in NUMBERS} | {FAILING: S.ERROR}
    assert states == expected
    report = json.loads(output.rsplit("REPORT ", 1)[1])
    assert report == {"ready": len(NUMBERS) - 1, "failed": 1}
