"""The per-account rate limit: on by default, off with None or 0, per account, and 300
concurrent requests against the default."""

from __future__ import annotations

import anyio
import pytest

from wamanager.sandbox import ManualClock, SandboxConfig, SandboxHandle, run_sandbox

from .helpers import call, fragment, two_accounts


def test_the_rate_limit_is_on_by_default() -> None:
    """SandboxConfig() limits each account to 30 requests per second, 30 at once."""
    config = SandboxConfig()
    assert (config.rate_limit, config.rate_burst) == (30.0, 30)


@pytest.mark.parametrize("off", [None, 0])
def test_none_or_zero_turns_the_rate_limit_off(off: float | None) -> None:
    """rate_limit=None and rate_limit=0 (as --rate-limit 0) both mean unlimited."""
    assert SandboxConfig(rate_limit=off).rate_limit is None


def test_a_negative_rate_limit_is_refused() -> None:
    """A negative rate limit is a configuration error."""
    with pytest.raises(ValueError, match="rate_limit"):
        SandboxConfig(rate_limit=-1)


async def test_300_concurrent_requests_meet_the_default_limit() -> None:
    """300 requests at one instant: the burst of 30 is served, the rest answer 429."""
    async with run_sandbox(SandboxConfig(clock=ManualClock())) as sandbox:
        statuses: list[int] = []

        async def one() -> None:
            status, body, headers = await call(sandbox, "GET", "/deployments")
            statuses.append(status)
            if status == 429:
                assert headers["Retry-After"] == "1"
                assert fragment(body) == "throttled"

        async with anyio.create_task_group() as tg:
            for _ in range(300):
                tg.start_soon(one)
        assert (statuses.count(200), statuses.count(429)) == (30, 270)
        assert sandbox.stats().rate_limited == 270
        sandbox.advance(1)  # one real second of a speed-1 clock refills 30 tokens
        assert (await call(sandbox, "GET", "/deployments"))[0] == 200


async def test_without_a_rate_limit_nothing_is_throttled() -> None:
    """rate_limit=None: 100 requests at one instant all succeed."""
    async with run_sandbox(SandboxConfig(clock=ManualClock(), rate_limit=None)) as sandbox:
        results = []
        async with anyio.create_task_group() as tg:
            for _ in range(100):
                tg.start_soon(lambda: _append_status(sandbox, results))
        assert results == [200] * 100


async def _append_status(sandbox: SandboxHandle, results: list[int]) -> None:
    results.append((await call(sandbox, "GET", "/deployments"))[0])


async def test_the_limit_is_per_account() -> None:
    """One account's burst does not throttle another's."""
    config, bearer_a, bearer_b = two_accounts(rate_burst=2)
    async with run_sandbox(config) as sandbox:
        statuses = [
            (await call(sandbox, "GET", "/deployments", authorization=bearer_a))[0]
            for _ in range(3)
        ]
        assert statuses == [200, 200, 429]
        assert (await call(sandbox, "GET", "/deployments", authorization=bearer_b))[0] == 200
