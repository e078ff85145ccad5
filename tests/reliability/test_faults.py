"""Each injected fault kind, seen through the client (rates of 1.0, or seeded)."""

from __future__ import annotations

import time

import aiohttp
import pytest

from wamanager import ConnectionFailed, ServerError, UnexpectedResponse
from wamanager.sandbox import FaultConfig, ManualClock, SandboxConfig, run_sandbox
from wamanager.testing import SleepRecorder, sandbox_client


def _config(**faults: object) -> SandboxConfig:
    return SandboxConfig(clock=ManualClock(), seed=11, faults=FaultConfig(**faults))  # type: ignore[arg-type]


async def test_server_errors_are_500_or_503_problems() -> None:
    """error_rate=1: every API answer is a 500/503 problem; the client raises ServerError."""
    statuses = set()
    async with (
        run_sandbox(_config(error_rate=1.0)) as sandbox,
        sandbox_client(sandbox, max_retries=0) as wam,
    ):
        for _ in range(8):
            with pytest.raises(ServerError) as caught:
                await wam.deployments.list()
            statuses.add(caught.value.status)
            assert caught.value.instance
    assert statuses == {500, 503}


async def test_server_errors_are_retried() -> None:
    """With retries, a seeded 80% error rate is ridden out; the waits go to the fake sleep."""
    async with run_sandbox(_config(error_rate=0.8)) as sandbox:
        sleep = SleepRecorder()
        async with sandbox_client(sandbox, max_retries=30, sleep=sleep) as wam:
            for _ in range(8):
                assert await wam.deployments.list() == []
    assert sleep.delays


async def test_dropped_connection() -> None:
    """drop_rate=1: the connection closes with no answer; the client raises ConnectionFailed."""
    async with (
        run_sandbox(_config(drop_rate=1.0)) as sandbox,
        sandbox_client(sandbox, max_retries=0) as wam,
    ):
        with pytest.raises(ConnectionFailed):
            await wam.deployments.list()


async def test_malformed_body() -> None:
    """malformed_rate=1: a success with a truncated body; the client raises UnexpectedResponse."""
    async with (
        run_sandbox(_config(malformed_rate=1.0)) as sandbox,
        sandbox_client(sandbox, max_retries=0) as wam,
    ):
        with pytest.raises(UnexpectedResponse):
            await wam.deployments.list()


async def test_latency_is_added() -> None:
    """latency=(0.05, 0.05) delays each API answer by that many real seconds."""
    async with run_sandbox(_config(latency=0.05)) as sandbox, sandbox_client(sandbox) as wam:
        started = time.monotonic()
        await wam.deployments.list()
        assert time.monotonic() - started >= 0.05


async def test_faults_spare_the_inbox() -> None:
    """The /_sandbox inbox is never faulted (it answers 404 problem JSON, not a 500)."""
    async with run_sandbox(_config(error_rate=1.0)) as sandbox:
        headers = {"Authorization": sandbox.authorization()}
        async with (
            aiohttp.ClientSession() as http,
            http.get(sandbox.otp_url("nope"), headers=headers) as response,
        ):
            assert response.status == 404


async def test_faults_are_reproducible_from_the_seed() -> None:
    """Two sandboxes with the same seed inject the same faults in the same order."""
    runs = []
    for _ in range(2):
        outcome = []
        async with (
            run_sandbox(_config(error_rate=0.5)) as sandbox,
            sandbox_client(sandbox, max_retries=0) as wam,
        ):
            for _ in range(12):
                try:
                    await wam.deployments.list()
                    outcome.append(200)
                except ServerError as exc:
                    outcome.append(exc.status)
        runs.append(outcome)
    assert runs[0] == runs[1]
    assert set(runs[0]) > {200}
