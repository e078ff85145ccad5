"""Production's limits: the account rate limit, Meta's registration limits, bounded state,
and tenant isolation of the number-in-use answer."""

from __future__ import annotations

import anyio
import pytest

from wamanager import (
    BearerToken,
    DeploymentRequest,
    NumberInUse,
    ProvisioningError,
    provision,
)
from wamanager._states import DeploymentState as S
from wamanager.sandbox import (
    ON_PREMISES_BLOCKED_DETAIL,
    STICKERS_PER_PACK,
    Account,
    ManualClock,
    SandboxConfig,
    SandboxEngine,
    SandboxHandle,
    Scenario,
    generate_application,
    mint_jwt,
    run_sandbox,
)
from wamanager.sandbox._problems import SandboxProblem
from wamanager.testing import sandbox_client

from .helpers import call, deployment_body, fragment

KEY = "sandbox-key"
DAY = 86_400.0


def _engine(**kwargs: object) -> tuple[SandboxEngine, ManualClock]:
    clock = ManualClock()
    return SandboxEngine(SandboxConfig(clock=clock, seed=1, **kwargs), clock), clock  # type: ignore[arg-type]


# --- the per-account rate limit ---------------------------------------------------------


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


def two_accounts(**kwargs: object) -> tuple[SandboxConfig, str, str]:
    """Accounts a and b with an application each; their Bearer header values."""
    app_a, key_a = generate_application("app-a", api_key="a")
    app_b, key_b = generate_application("app-b", api_key="b")
    config = SandboxConfig(
        accounts=(Account("a", "sa"), Account("b", "sb")),
        applications=(app_a, app_b),
        clock=ManualClock(),
        **kwargs,  # type: ignore[arg-type]
    )
    bearer_a = f"Bearer {mint_jwt('app-a', key_a)}"
    bearer_b = f"Bearer {mint_jwt('app-b', key_b)}"
    return config, bearer_a, bearer_b


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


# --- Meta's registration limit ----------------------------------------------------------


def _cycle(engine: SandboxEngine, clock: ManualClock) -> tuple[S, str | None]:
    """Create a deployment of one number, run it to CODE_SENT (or its end), delete it."""
    dep = engine.create(KEY, country_code="44", number="7700900000", waba_id="1", method="sms")
    clock.advance(130)
    found = engine.find(KEY, dep.deployment_id)
    state, detail = found.state, found.detail
    engine.delete(KEY, dep.deployment_id)
    clock.advance(5)
    return state, detail


def test_the_eleventh_registration_in_a_week_goes_to_error() -> None:
    """10 create/delete cycles of one number register; the 11th ends in ERROR naming Meta's
    limit, without a code; once the oldest is 7 days old the number registers again."""
    engine, clock = _engine()
    outcomes = [_cycle(engine, clock) for _ in range(11)]
    assert [state for state, _ in outcomes] == [S.CODE_SENT] * 10 + [S.ERROR]
    detail = outcomes[-1][1] or ""
    assert "at most 10 registrations" in detail
    assert "7 days" in detail
    assert "133016" in detail
    clock.advance(7 * DAY)
    assert _cycle(engine, clock)[0] is S.CODE_SENT


def test_the_registration_limit_is_per_number_and_configurable() -> None:
    """Other numbers are unaffected; max_registrations and registration_window change it."""
    engine, clock = _engine(max_registrations=2, registration_window=DAY)
    assert [_cycle(engine, clock)[0] for _ in range(3)] == [S.CODE_SENT, S.CODE_SENT, S.ERROR]
    other = engine.create(KEY, country_code="44", number="7700900001", waba_id="1", method="sms")
    clock.advance(130)
    assert engine.find(KEY, other.deployment_id).state is S.CODE_SENT
    clock.advance(DAY)
    assert _cycle(engine, clock)[0] is S.CODE_SENT


def test_registration_history_is_forgotten_after_the_window() -> None:
    """The per-number history is swept once its window has passed (state stays bounded)."""
    engine, clock = _engine()
    for i in range(50):
        engine.create(KEY, country_code="44", number=f"77009{i:05d}", waba_id="1", method="sms")
    assert len(engine._registrations) == 50
    clock.advance(8 * DAY)
    engine.list(KEY)  # any access sweeps
    engine.create(KEY, country_code="44", number="7800000000", waba_id="1", method="sms")
    assert len(engine._registrations) == 1


def test_the_on_premises_block_preset() -> None:
    """Scenario.on_premises_blocked(): the cluster is built, then ERROR with Meta's reason."""
    engine, clock = _engine(scenarios=(Scenario.on_premises_blocked("44*"),))
    dep = engine.create(KEY, country_code="44", number="7700900000", waba_id="1", method="sms")
    clock.advance(129)
    assert engine.find(KEY, dep.deployment_id).state is S.CLUSTER_CREATED
    clock.advance(1)
    found = engine.find(KEY, dep.deployment_id)
    assert (found.state, found.detail) == (S.ERROR, ON_PREMISES_BLOCKED_DETAIL)
    assert found.inbox is None
    assert "On-Premises" in ON_PREMISES_BLOCKED_DETAIL
    assert "Cloud API" in ON_PREMISES_BLOCKED_DETAIL


# --- bounded state ----------------------------------------------------------------------


def test_deleted_deployments_do_not_count_toward_max_deployments() -> None:
    """With max_deployments=1, a deleted (not yet purged) deployment leaves room for another."""
    engine, clock = _engine(max_deployments=1)
    first = engine.create(KEY, country_code="44", number="1", waba_id="1", method="sms")
    with pytest.raises(SandboxProblem) as caught:
        engine.create(KEY, country_code="44", number="2", waba_id="1", method="sms")
    assert caught.value.status == 403
    engine.delete(KEY, first.deployment_id)
    engine.create(KEY, country_code="44", number="2", waba_id="1", method="sms")
    clock.advance(5)  # the first is DELETED and kept until retention: still not counted
    assert engine.find(KEY, first.deployment_id).state is S.DELETED
    with pytest.raises(SandboxProblem):
        engine.create(KEY, country_code="44", number="3", waba_id="1", method="sms")


async def test_a_pack_holds_at_most_30_stickers_and_a_deployment_bounded_packs(
    sandbox: SandboxHandle,
) -> None:
    """The 31st sticker and the pack beyond max_stickerpacks answer 400 naming the limit."""
    engine = sandbox.engine
    dep = engine.create(KEY, country_code="44", number="7700900000", waba_id="1", method="sms")
    sandbox.advance(130)
    engine.verify(KEY, dep.deployment_id, engine.find(KEY, dep.deployment_id).code or "")
    sandbox.advance(35)
    base = f"/deployments/{dep.deployment_id}/stickerpacks"
    status, body, _ = await call(sandbox, "POST", base, {"publisher": "p", "name": "n"})
    pack = body["stickerpacks"][0]["id"]
    for i in range(STICKERS_PER_PACK):
        status, _, _ = await call(
            sandbox, "POST", f"{base}/{pack}/stickers", {"image_data_id": f"m{i}"}
        )
        assert status == 200
    status, body, _ = await call(sandbox, "POST", f"{base}/{pack}/stickers", {"image_data_id": "x"})
    assert (status, fragment(body), body["invalid_parameters"][0]["name"]) == (
        400,
        "invalid-json",
        "stickers",
    )
    for _ in range(sandbox.config.max_stickerpacks - 1):
        engine.create_pack(KEY, dep.deployment_id, {"name": "n", "publisher": "p"})
    status, body, _ = await call(sandbox, "POST", base, {"publisher": "p", "name": "n"})
    assert (status, body["invalid_parameters"][0]["name"]) == (400, "stickerpacks")


@pytest.fixture
def wamanager_sandbox_config() -> SandboxConfig:
    """A sandbox on a manual clock, without a rate limit unless a test makes its own."""
    return SandboxConfig(clock=ManualClock(), rate_limit=None)


# --- tenant isolation -------------------------------------------------------------------


async def test_number_in_use_hides_another_accounts_deployment_id() -> None:
    """Account B creating A's number gets 409 without A's id (A itself gets it), and
    provision() raises that NumberInUse: there is nothing it may adopt."""
    config, bearer_a, bearer_b = two_accounts()
    async with run_sandbox(config) as sandbox:
        status, created, _ = await call(
            sandbox, "POST", "/deployments", deployment_body(), authorization=bearer_a
        )
        assert status == 202
        dep_id = created["deployment_id"]
        status, mine, _ = await call(
            sandbox, "POST", "/deployments", deployment_body(), authorization=bearer_a
        )
        assert (status, fragment(mine)) == (409, "number-in-use")
        assert dep_id in mine["detail"]
        status, theirs, _ = await call(
            sandbox, "POST", "/deployments", deployment_body(), authorization=bearer_b
        )
        assert (status, fragment(theirs)) == (409, "number-in-use")
        assert dep_id not in str(theirs)
        assert "another account" in theirs["detail"]
        auth = BearerToken(bearer_b.removeprefix("Bearer "))
        async with sandbox_client(sandbox, auth=auth, max_retries=0) as wam:
            request = DeploymentRequest("44", "7700900000", "cert", "123")
            with pytest.raises(ProvisioningError) as caught:
                await provision(wam, request, otp=sandbox.otp_provider)
            assert (caught.value.step, caught.value.deployment_id) == ("create", None)
            cause = caught.value.cause
            assert isinstance(cause, NumberInUse)
            assert cause.existing_deployment_id is None
