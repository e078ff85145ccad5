"""The control API under /_sandbox (reset, clock, scenarios, stats, inbox), the stats it
reports, and the handle's plain values."""

from __future__ import annotations

import pytest

from wamanager import DeploymentState, Throttled
from wamanager.sandbox import (
    ON_PREMISES_BLOCKED_DETAIL,
    FaultConfig,
    ManualClock,
    SandboxConfig,
    SandboxHandle,
    SandboxInbox,
    Scenario,
    generate_application,
    run_sandbox,
)
from wamanager.testing import sandbox_client

from .helpers import call, deployment_body, fragment


@pytest.fixture
def wamanager_sandbox_config() -> SandboxConfig:
    """A manual clock, seeded."""
    return SandboxConfig(clock=ManualClock(), seed=5)


async def control(
    sandbox: SandboxHandle, method: str, path: str, body: object = None
) -> tuple[int, object]:
    """A control API call, with no credentials."""
    status, answer, _ = await call(
        sandbox, method, "/_sandbox" + path, body, authorization=None, root=True
    )
    return status, answer


async def create(sandbox: SandboxHandle, number: str = "7700900000") -> str:
    """Create a deployment over HTTP; its id."""
    status, body, _ = await call(sandbox, "POST", "/deployments", deployment_body(number))
    assert status == 202, body
    return str(body["deployment_id"])


async def test_reset_forgets_everything(sandbox: SandboxHandle) -> None:
    """POST /_sandbox/reset: deployments, counters and rate buckets are gone."""
    await create(sandbox)
    assert sandbox.stats().total_requests == 1
    assert await control(sandbox, "POST", "/reset") == (204, None)
    assert len(sandbox.engine) == 0
    assert sandbox.stats().total_requests == 0
    status, body, _ = await call(sandbox, "GET", "/deployments")
    assert (status, body) == (200, [])


async def test_reset_refills_the_rate_limit() -> None:
    """After a reset an account that was throttled may call again at once."""
    async with run_sandbox(SandboxConfig(clock=ManualClock(), rate_burst=1)) as sandbox:
        assert (await call(sandbox, "GET", "/deployments"))[0] == 200
        assert (await call(sandbox, "GET", "/deployments"))[0] == 429
        sandbox.reset()
        assert (await call(sandbox, "GET", "/deployments"))[0] == 200


async def test_the_clock_can_be_read_and_moved(sandbox: SandboxHandle) -> None:
    """GET /_sandbox/clock; POST /_sandbox/clock/advance moves a manual clock (and stages)."""
    dep_id = await create(sandbox)
    assert await control(sandbox, "GET", "/clock") == (
        200,
        {"now": 0.0, "speed": 1.0, "manual": True},
    )
    status, clock = await control(sandbox, "POST", "/clock/advance", {"seconds": 130})
    assert (status, clock) == (200, {"now": 130.0, "speed": 1.0, "manual": True})
    _, body, _ = await call(sandbox, "GET", f"/deployments/{dep_id}")
    assert body["current_state"]["title"] == "CODE_SENT"


@pytest.mark.parametrize("seconds", [-1, "10", None, True])
async def test_advance_needs_a_non_negative_number(sandbox: SandboxHandle, seconds: object) -> None:
    """seconds must be a number >= 0: 400 naming it."""
    status, body = await control(sandbox, "POST", "/clock/advance", {"seconds": seconds})
    assert status == 400
    assert body["invalid_parameters"][0]["name"] == "seconds"  # type: ignore[index]


async def test_advance_of_a_running_clock_is_a_conflict() -> None:
    """A sandbox on a scaled clock answers 409: its time cannot be moved by hand."""
    async with run_sandbox(SandboxConfig(speed=10)) as sandbox:
        status, body = await control(sandbox, "POST", "/clock/advance", {"seconds": 1})
        assert status == 409
        assert "ManualClock" in body["detail"]  # type: ignore[index]


async def test_scenarios_can_be_replaced(sandbox: SandboxHandle) -> None:
    """PUT /_sandbox/scenarios sets the rules new deployments follow (presets included)."""
    rules = {
        "scenarios": [
            {"match": "447700900001", "fail_at": "CREATING_CLUSTER", "fail_detail": "No WABA"},
            {"preset": "on_premises_blocked", "match": "4477009000*"},
        ]
    }
    status, listed = await control(sandbox, "PUT", "/scenarios", rules)
    assert status == 200
    assert [rule["match"] for rule in listed] == ["447700900001", "4477009000*"]  # type: ignore[attr-defined]
    assert (await control(sandbox, "GET", "/scenarios"))[1] == listed
    failing, blocked, normal = [
        await create(sandbox, n) for n in ("7700900001", "7700900002", "7700900100")
    ]
    sandbox.advance(200)
    details = {}
    for dep_id in (failing, blocked, normal):
        found = sandbox.engine.get(dep_id)
        assert found is not None
        details[dep_id] = (found.state, found.detail)
    assert details[failing] == (DeploymentState.ERROR, "No WABA")
    assert details[blocked] == (DeploymentState.ERROR, ON_PREMISES_BLOCKED_DETAIL)
    assert details[normal][0] is DeploymentState.CODE_SENT


@pytest.mark.parametrize(
    "bad",
    [
        {"scenarios": "x"},
        {"scenarios": [5]},
        {"scenarios": [{"fail_at": "READY"}]},
        {"scenarios": [{"match": "*", "fail_at": "CODE_SENT"}]},
        {"scenarios": [{"match": "*", "stuck_in": "NOWHERE"}]},
        {"scenarios": [{"match": "*", "reject_first_code": "yes"}]},
        {"scenarios": [{"match": "*", "colour": "red"}]},
        {"scenarios": [{"preset": "other"}]},
    ],
)
async def test_bad_scenarios_are_refused_and_change_nothing(
    sandbox: SandboxHandle, bad: object
) -> None:
    """Rules that do not parse answer 400 and leave the rules in force as they were."""
    status, body = await control(sandbox, "PUT", "/scenarios", bad)
    assert (status, fragment(body)) == (400, "invalid-json")  # type: ignore[arg-type]
    assert (await control(sandbox, "GET", "/scenarios"))[1] == []


def test_scenarios_round_trip_through_json() -> None:
    """Scenario.to_json() is read back by from_json() as the same rule."""
    rule = Scenario("44*", stuck_in=DeploymentState.CREATING_CLUSTER, reject_first_code=True)
    assert Scenario.from_json(rule.to_json()) == rule


async def test_stats_count_requests_bytes_creates_and_429s() -> None:
    """Stats per operationId, response bytes, creates per number and 429s by cause."""
    config = SandboxConfig(clock=ManualClock(), rate_burst=4, resend_cooldown=30)
    async with run_sandbox(config) as sandbox:
        dep_id = await create(sandbox)
        sandbox.advance(130)  # (which refills the bucket: 4 more requests at once)
        await call(sandbox, "GET", f"/deployments/{dep_id}")
        await call(sandbox, "POST", f"/deployments/{dep_id}/resend-otp", {})  # cooldown: 429
        await call(sandbox, "GET", "/deployments")
        await call(sandbox, "GET", "/deployments")
        assert (await call(sandbox, "GET", "/deployments"))[0] == 429  # the 5th: rate limit
        status, stats = await control(sandbox, "GET", "/stats")
    assert status == 200
    assert stats["requests"] == {  # type: ignore[index]
        "createDeployment": 1,
        "get_deployment": 1,
        "resend-otp": 1,
        "listDeployments": 3,
    }
    assert stats["response_bytes"]["get_deployment"] > 100  # type: ignore[index]
    assert stats["creates"] == {"447700900000": 1}  # type: ignore[index]
    assert stats["throttled"] == {"rate_limit": 1, "injected": 0, "resend_cooldown": 1}  # type: ignore[index]
    assert stats["total_requests"] == 6  # type: ignore[index]


async def test_stats_name_first_party_pack_listing_apart(sandbox: SandboxHandle) -> None:
    """GET .../stickerpacks?namespace=whatsapp counts as getWhatsappStickerpacks."""
    dep_id = await create(sandbox)
    await call(sandbox, "GET", f"/deployments/{dep_id}/stickerpacks?namespace=whatsapp")
    await call(sandbox, "GET", f"/deployments/{dep_id}/stickerpacks")
    requests = sandbox.stats().requests
    assert (requests["getWhatsappStickerpacks"], requests["getStickerpacks"]) == (1, 1)


async def test_stats_snapshots_and_reset(sandbox: SandboxHandle) -> None:
    """handle.stats() is a snapshot; DELETE /_sandbox/stats zeroes the counters."""
    await create(sandbox)
    snapshot = sandbox.stats()
    await call(sandbox, "GET", "/deployments")
    assert snapshot.total_requests == 1
    assert sandbox.stats().total_requests == 2
    assert await control(sandbox, "DELETE", "/stats") == (204, None)
    assert sandbox.stats().total_requests == 0
    await call(sandbox, "GET", "/deployments")
    sandbox.reset_stats()
    assert sandbox.stats().requests == {}


async def test_injected_faults_are_counted_apart() -> None:
    """Injected 429s and 5xx have counters of their own; control calls are never faulted."""
    faults = FaultConfig(error_rate=0.3, throttle_rate=0.3)
    config = SandboxConfig(clock=ManualClock(), seed=3, faults=faults, rate_limit=None)
    async with run_sandbox(config) as sandbox:
        statuses = [(await call(sandbox, "GET", "/deployments"))[0] for _ in range(60)]
        stats = sandbox.stats()
        assert statuses.count(429) == stats.injected_429 > 0
        assert statuses.count(500) + statuses.count(503) == stats.injected_5xx > 0
        assert stats.rate_limited == 0
        assert all([(await control(sandbox, "GET", "/stats"))[0] == 200 for _ in range(20)])


async def test_an_injected_429_carries_retry_after() -> None:
    """throttle_rate=1: every API call is 429 #throttled with Retry-After; the client raises
    Throttled carrying it."""
    faults = FaultConfig(throttle_rate=1.0, throttle_retry_after=7)
    async with run_sandbox(SandboxConfig(clock=ManualClock(), faults=faults)) as sandbox:
        status, body, headers = await call(sandbox, "GET", "/deployments")
        assert (status, fragment(body), headers["Retry-After"]) == (429, "throttled", "7")
        async with sandbox_client(sandbox, throttle_budget=0) as wam:
            with pytest.raises(Throttled) as caught:
                await wam.deployments.list()
        assert 7 <= caught.value.retry_after <= 7.7  # Retry-After, jittered up to 10%


async def test_faults_can_be_read_and_replaced_over_http_and_in_process() -> None:
    """PUT /_sandbox/faults changes the injection from now on ({} ends it); so does
    handle.set_faults(); bad settings are a 400 that changes nothing."""
    faults = FaultConfig(error_rate=1.0)
    config = SandboxConfig(clock=ManualClock(), seed=3, faults=faults, rate_limit=None)
    async with run_sandbox(config) as sandbox:
        assert (await call(sandbox, "GET", "/deployments"))[0] in (500, 503)
        status, shown = await control(sandbox, "GET", "/faults")
        assert (status, shown["error_rate"]) == (200, 1.0)  # type: ignore[index]
        assert (await control(sandbox, "PUT", "/faults", {"drop_rate": 2}))[0] == 400
        assert (await control(sandbox, "PUT", "/faults", {"nonsense": 1}))[0] == 400
        assert (await call(sandbox, "GET", "/deployments"))[0] in (500, 503)
        status, shown = await control(sandbox, "PUT", "/faults", {})
        assert (status, shown["error_rate"]) == (200, 0.0)  # type: ignore[index]
        assert (await call(sandbox, "GET", "/deployments"))[0] == 200
        sandbox.set_faults(FaultConfig(throttle_rate=1.0))
        assert (await call(sandbox, "GET", "/deployments"))[0] == 429
        sandbox.set_faults(FaultConfig())
        assert (await call(sandbox, "GET", "/deployments"))[0] == 200


async def test_the_inbox_still_needs_the_account(sandbox: SandboxHandle) -> None:
    """GET /_sandbox/deployments/{id}/otp answers the owner, 401 without credentials."""
    dep_id = await create(sandbox)
    sandbox.advance(130)
    path = f"/_sandbox/deployments/{dep_id}/otp"
    status, body, _ = await call(sandbox, "GET", path, root=True)
    assert status == 200
    assert body["code"] == sandbox.otp(dep_id).code  # type: ignore[union-attr]
    assert (await call(sandbox, "GET", path, root=True, authorization=None))[0] == 401


async def test_sticker_answers_carry_meta(sandbox: SandboxHandle) -> None:
    """Sticker pack and sticker answers carry the meta object of Vonage's sticker guide."""
    engine = sandbox.engine
    dep_id = await create(sandbox)
    sandbox.advance(130)
    engine.verify("sandbox-key", dep_id, engine.find("sandbox-key", dep_id).code or "")
    sandbox.advance(35)
    base = f"/deployments/{dep_id}/stickerpacks"
    answers = [
        await call(sandbox, "GET", f"{base}?namespace=whatsapp"),
        await call(sandbox, "POST", base, {"publisher": "p", "name": "n"}),
        await call(sandbox, "GET", f"{base}/whatsapp-cuppy/stickers?namespace=whatsapp"),
        await call(sandbox, "GET", f"{base}/whatsapp-cuppy/stickers/0?namespace=whatsapp"),
    ]
    for status, body, _ in answers:
        assert status == 200
        assert body["meta"] == {"version": "v2.37.1", "api_status": "stable"}


# --- the handle -------------------------------------------------------------------------


async def test_environ_names_what_a_client_needs() -> None:
    """environ: base URL, application id and PEM; the api key and secret only with Basic."""
    async with run_sandbox(SandboxConfig()) as sandbox:
        assert sandbox.environ == {
            "WAMANAGER_BASE_URL": sandbox.base_url,
            "VONAGE_APPLICATION_ID": sandbox.application_id,
            "VONAGE_PRIVATE_KEY": sandbox.private_key_pem,
        }
    async with run_sandbox(SandboxConfig(basic_auth=True)) as sandbox:
        assert sandbox.environ["VONAGE_API_KEY"] == "sandbox-key"
        assert sandbox.environ["VONAGE_API_SECRET"] == "sandbox-secret"


async def test_authorization_is_a_reused_bearer_token(sandbox: SandboxHandle) -> None:
    """handle.authorization() is a Bearer JWT, the same one until it nears expiry."""
    first = sandbox.authorization()
    assert first.startswith("Bearer ey")
    assert sandbox.authorization() == first


async def test_inbox_reads_codes_with_a_fresh_header_each_time(sandbox: SandboxHandle) -> None:
    """SandboxInbox takes a callable for the Authorization header and calls it per read."""
    dep_id = await create(sandbox)
    calls: list[str] = []

    def authorization() -> str:
        calls.append("called")
        return sandbox.authorization()

    async with SandboxInbox(sandbox.root_url, authorization) as inbox:
        sandbox.advance(130)
        found = sandbox.engine.get(dep_id)
        assert await inbox(found) == sandbox.otp(dep_id).code  # type: ignore[union-attr]
        await inbox(found)
    assert calls == ["called", "called"]


async def test_handles_of_configured_applications_know_no_key() -> None:
    """With its own applications a sandbox has no key to sign with: clear errors."""
    app, _ = generate_application("mine")
    async with run_sandbox(SandboxConfig(applications=(app,))) as sandbox:
        assert "VONAGE_PRIVATE_KEY" not in sandbox.environ
        with pytest.raises(RuntimeError, match="no generated application key"):
            sandbox.authorization()
        with pytest.raises(RuntimeError, match="auth=JWTAuth"):
            sandbox_client(sandbox)
