"""DeploymentWatcher: against the sandbox over real loopback HTTP with time scaled, then its
loop without a server (a scripted poll, fake OTP calls and a
:class:`~wamanager.testing.VirtualClock`, so no test there waits for real time)."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from typing import Any

import anyio
import anyio.lowlevel
import attrs
import pytest

from wamanager import (
    CodeRejected,
    CodeRequested,
    CodeResent,
    CodeVerified,
    Deployment,
    DeploymentDeleted,
    DeploymentFailed,
    DeploymentRequest,
    DeploymentState,
    DeploymentWatcher,
    Event,
    Failed,
    NotFound,
    PollFailed,
    PollPolicy,
    StateChanged,
    Succeeded,
    ValidationError,
    VerificationFailed,
    WatchEnded,
    WatchTimeout,
    WhatsAppManager,
)
from wamanager._clock import SYSTEM_CLOCK
from wamanager.sandbox import FaultConfig, SandboxConfig, SandboxHandle, Scenario, run_sandbox
from wamanager.testing import VirtualClock, sandbox_client

from ._scripted_watch import Remote, watcher

S = DeploymentState
# Sandbox seconds: the fixtures' clients run their watchers on the sandbox's clock (600x).
FAST = PollPolicy(interval=1.0, jitter=0)
# 600 sandbox seconds per real second: CODE_SENT after ~0.22 s, READY ~0.06 s after verify.
SPEED = 600.0


def request(number: str = "7700900000") -> DeploymentRequest:
    """A valid create request for ``+44 <number>``."""
    return DeploymentRequest(
        country_code="44", number=number, vname_certificate="CERT", waba_id="1", method="sms"
    )


@pytest.fixture
def wamanager_sandbox_config() -> SandboxConfig:
    """Fast sandbox with the scenarios these tests use."""
    return SandboxConfig(
        speed=SPEED,
        scenarios=(
            Scenario("447700900001", reject_first_code=True),
            Scenario("447700900002", withhold_code_until_resend=True),
            Scenario("447700900003", fail_at="FINALIZING", fail_detail="Invalid vname certificate"),
            Scenario("447700900004", stuck_in="CREATING_CLUSTER"),
        ),
        resend_cooldown=1.0,
        # The watchers run on sandbox time (600x): their real request rate is far above the
        # account limit, which these tests are not about (tests/test_rate_control.py).
        rate_limit=None,
    )


async def created(wam: WhatsAppManager, number: str = "7700900000") -> str:
    """Create a deployment and return its id."""
    return (await wam.deployments.create(request(number))).deployment_id


async def test_happy_path_reaches_ready_with_every_event(
    wam: WhatsAppManager, sandbox: SandboxHandle
) -> None:
    """A watched deployment walks every stage to READY; the OTP is verified once."""
    dep_id = await created(wam)
    events: list[Event] = []
    async with wam.watch(dep_id, otp=sandbox.otp_provider, policy=FAST) as watcher:
        watcher.on(Event, events.append)
        ready = await watcher.result()
    assert ready.state is S.READY
    assert ready.deployment_id == dep_id
    seen = [e.current for e in events if isinstance(e, StateChanged)]
    assert seen[0] in (S.INITIALIZING, S.CREATING_CLUSTER)
    assert seen[-1] is S.READY
    assert S.CODE_SENT in seen
    assert [type(e) for e in events if not isinstance(e, StateChanged)] == [
        CodeRequested,
        CodeVerified,
        Succeeded,
    ]
    assert isinstance(events[-1], Succeeded)
    assert watcher.done
    assert watcher.state is S.READY


async def test_awaiting_the_watcher_runs_it_without_a_context(
    wam: WhatsAppManager, sandbox: SandboxHandle
) -> None:
    """`await watcher` runs the watch in the awaiting task and returns READY."""
    dep_id = await created(wam)
    ready = await wam.watch(dep_id, otp=sandbox.otp_provider, policy=FAST)
    assert ready.state is S.READY


async def test_first_code_wrong_then_right(wam: WhatsAppManager, sandbox: SandboxHandle) -> None:
    """A rejected code makes the watcher ask again; the next code is verified."""
    dep_id = await created(wam)
    codes = iter(["000000"])

    async def provider(deployment: Deployment) -> str | None:
        wrong = next(codes, None)
        return wrong or await sandbox.otp_provider(deployment)

    rejected: list[CodeRejected] = []
    requested: list[CodeRequested] = []
    async with wam.watch(dep_id, otp=provider, policy=FAST) as watcher:
        watcher.on(CodeRejected, rejected.append)
        watcher.on(CodeRequested, requested.append)
        seen_wrong = await watcher.wait_for(S.WRONG_CODE, timeout=5)
        ready = await watcher.result()
    assert seen_wrong.state is S.WRONG_CODE
    assert ready.state is S.READY
    assert [r.attempt for r in rejected] == [1]
    assert [r.attempt for r in requested] == [1, 2]


async def test_sandbox_rejecting_the_first_code_is_retried(
    wam: WhatsAppManager, sandbox: SandboxHandle
) -> None:
    """The reject-first-code scenario costs one CodeRejected, then READY."""
    dep_id = await created(wam, "7700900001")
    async with wam.watch(dep_id, otp=sandbox.otp_provider, policy=FAST) as watcher:
        rejections = [e async for e in watcher.events() if isinstance(e, CodeRejected)]
        assert (await watcher.result()).state is S.READY
    assert len(rejections) == 1


async def test_too_many_rejections_end_the_watch(
    wam: WhatsAppManager, sandbox: SandboxHandle
) -> None:
    """After max_verify_attempts rejected codes the watch fails with VerificationFailed."""
    dep_id = await created(wam)

    async def always_wrong(deployment: Deployment) -> str:
        return "000000"

    watcher = wam.watch(dep_id, otp=always_wrong, policy=FAST, max_verify_attempts=2)
    with pytest.raises(VerificationFailed):
        await watcher.result()


async def test_no_code_until_a_resend(wam: WhatsAppManager, sandbox: SandboxHandle) -> None:
    """When no code arrives within resend_after, the watcher resends and then verifies."""
    dep_id = await created(wam, "7700900002")
    resent: list[CodeResent] = []
    watcher = wam.watch(dep_id, otp=sandbox.otp_provider, policy=FAST, resend_after=40)
    watcher.on(CodeResent, resent.append)
    ready = await watcher.result()
    assert ready.state is S.READY
    assert [(r.method, r.resends) for r in resent] == [("sms", 1)]


async def test_sms_to_voice_fallback(wam: WhatsAppManager, sandbox: SandboxHandle) -> None:
    """With fallback_to_voice the resend asks for a voice call, and the inbox says so."""
    dep_id = await created(wam, "7700900002")
    methods: list[str] = []
    delivered: list[str] = []

    async def provider(deployment: Deployment) -> str | None:
        message = sandbox.otp(deployment.deployment_id)
        if message is None:
            return None
        delivered.append(message.method)
        return message.code

    watcher = wam.watch(dep_id, otp=provider, policy=FAST, resend_after=40, fallback_to_voice=True)
    watcher.on(CodeResent, lambda e: methods.append(e.method))
    await watcher.result()
    assert methods == ["voice"]
    assert delivered == ["voice"]


async def test_no_code_after_every_resend_times_out(
    wam: WhatsAppManager, sandbox: SandboxHandle
) -> None:
    """When resends are exhausted without a code, the watch ends with WatchTimeout in CODE_SENT."""
    dep_id = await created(wam)

    async def silent(deployment: Deployment) -> None:
        return None

    watcher = wam.watch(dep_id, otp=silent, policy=FAST, resend_after=40, max_resends=1)
    with pytest.raises(WatchTimeout) as caught:
        await watcher.result()
    assert caught.value.state is S.CODE_SENT


async def test_error_state_fails_with_its_detail(
    wam: WhatsAppManager, sandbox: SandboxHandle
) -> None:
    """ERROR ends the watch with DeploymentFailed carrying the state's detail."""
    dep_id = await created(wam, "7700900003")
    failed: list[Failed] = []
    watcher = wam.watch(dep_id, otp=sandbox.otp_provider, policy=FAST)
    watcher.on(Failed, failed.append)
    with pytest.raises(DeploymentFailed) as caught:
        await watcher.result()
    assert caught.value.detail == "Invalid vname certificate"
    assert caught.value.deployment.state is S.ERROR
    assert len(failed) == 1
    assert failed[0].error is caught.value


async def test_deletion_during_a_watch(wam: WhatsAppManager) -> None:
    """Deleting the deployment mid-watch ends the watch with DeploymentDeleted."""
    dep_id = await created(wam)
    async with wam.watch(dep_id, policy=FAST) as watcher:
        await watcher.wait_for(S.CODE_SENT, timeout=5)
        await wam.deployments.delete(dep_id)
        with pytest.raises(DeploymentDeleted) as caught:
            await watcher.result()
    assert caught.value.deployment_id == dep_id


async def test_unknown_id_raises_not_found(wam: WhatsAppManager) -> None:
    """A watch of an id that never existed ends with NotFound, not DeploymentDeleted."""
    with pytest.raises(NotFound):
        await wam.watch("00000000-0000-4000-8000-000000000000", policy=FAST)


async def test_unknown_state_in_the_middle(wam: WhatsAppManager, sandbox: SandboxHandle) -> None:
    """An unknown title is reported as a change, kept raw, and the watch goes on to READY."""
    dep_id = await created(wam)
    stored = sandbox.engine.get(dep_id)
    assert stored is not None
    async with wam.watch(dep_id, otp=sandbox.otp_provider, policy=FAST) as watcher:
        await watcher.wait_for(S.CODE_SENT, timeout=5)
        stored.state = S("PAUSED")
        paused = await watcher.wait_for("PAUSED", timeout=5)
        stored.state = S.CODE_SENT
        ready = await watcher.result()
    assert paused.state == "PAUSED"
    assert paused.state is not None
    assert not paused.state.is_known
    assert ready.state is S.READY


async def test_wait_for_never_hangs(wam: WhatsAppManager, sandbox: SandboxHandle) -> None:
    """wait_for returns seen states at once, raises the failure, or WatchEnded, or times out."""
    dep_id = await created(wam, "7700900003")
    async with wam.watch(dep_id, otp=sandbox.otp_provider, policy=FAST) as watcher:
        with pytest.raises(DeploymentFailed):
            await watcher.wait_for(S.READY, timeout=5)
        seen = await watcher.wait_for(S.CODE_SENT)  # seen earlier: answered from history
        assert seen.state is S.CODE_SENT
    ok_id = await created(wam)
    async with wam.watch(ok_id, otp=sandbox.otp_provider, policy=FAST) as watcher:
        await watcher.result()
        with pytest.raises(WatchEnded):
            await watcher.wait_for(S.DELETED)
    stuck_id = await created(wam, "7700900004")
    async with wam.watch(stuck_id, policy=FAST) as watcher:
        with pytest.raises(WatchTimeout):
            await watcher.wait_for(lambda d: d.state is S.DELETED, timeout=0.05)


async def test_wait_for_before_starting_is_an_error(wam: WhatsAppManager) -> None:
    """wait_for on a watcher that is not running raises instead of hanging."""
    watcher = wam.watch("some-id", policy=FAST)
    with pytest.raises(RuntimeError, match="not running"):
        await watcher.wait_for(S.READY)


async def test_errors_in_the_body_propagate_unwrapped(wam: WhatsAppManager) -> None:
    """An exception raised inside `async with watcher:` comes out as itself, not a group."""
    dep_id = await created(wam)
    with pytest.raises(KeyError):
        async with wam.watch(dep_id, policy=FAST):
            raise KeyError("mine")


async def test_closing_the_watcher_ends_its_waiters_and_iterators(wam: WhatsAppManager) -> None:
    """Leaving `async with` stops polling; result() then raises WatchEnded."""
    dep_id = await created(wam)
    async with wam.watch(dep_id, policy=FAST) as watcher:
        await watcher.wait_for(S.CREATING_CLUSTER, timeout=5)
    with pytest.raises(WatchEnded):
        await watcher.result()
    assert [e async for e in watcher.events()] == []


async def test_callbacks_sync_async_and_failing(
    wam: WhatsAppManager, sandbox: SandboxHandle
) -> None:
    """Sync and async callbacks both run; one that raises is logged and the watch goes on."""
    dep_id = await created(wam)
    calls: list[str] = []

    def boom(event: StateChanged) -> None:
        raise RuntimeError("subscriber bug")

    async def on_code_sent(event: StateChanged) -> None:
        await anyio.lowlevel.checkpoint()
        calls.append(f"async:{event.current}")

    async with wam.watch(dep_id, otp=sandbox.otp_provider, policy=FAST) as watcher:
        watcher.on_change(boom)
        watcher.on(S.CODE_SENT, on_code_sent)
        watcher.on(S.READY, lambda e: calls.append(f"sync:{e.current}"))
        assert (await watcher.result()).state is S.READY
    assert calls == ["async:CODE_SENT", "sync:READY"]


async def test_events_iterator_yields_everything_in_order(
    wam: WhatsAppManager, sandbox: SandboxHandle
) -> None:
    """The async iterator yields the same events, in the same order, as a catch-all callback."""
    dep_id = await created(wam)
    from_callback: list[Event] = []
    async with wam.watch(dep_id, otp=sandbox.otp_provider, policy=FAST) as watcher:
        watcher.on(Event, from_callback.append)
        from_iterator = [event async for event in watcher.events()]
    assert from_iterator == from_callback
    assert isinstance(from_iterator[-1], Succeeded)


async def test_an_abandoned_iterator_does_not_stall_the_watch(
    wam: WhatsAppManager, sandbox: SandboxHandle
) -> None:
    """Breaking out of events() with a tiny buffer never blocks the watcher."""
    dep_id = await created(wam)
    async with wam.watch(dep_id, otp=sandbox.otp_provider, policy=FAST) as watcher:
        watcher._buffer_size = 1
        async for _ in watcher.events():
            break
        gc.collect()
        with anyio.fail_after(10):
            assert (await watcher.result()).state is S.READY


@pytest.fixture
async def throttled_sandbox() -> AsyncIterator[SandboxHandle]:
    """A sandbox allowing 20 requests per real second per account."""
    async with run_sandbox(SandboxConfig(speed=SPEED, rate_limit=20, rate_burst=2)) as handle:
        yield handle


async def test_429_with_retry_after_is_waited_out(throttled_sandbox: SandboxHandle) -> None:
    """Polls that hit the rate limit become PollFailed events honouring Retry-After, then READY."""
    # rate_limit far above the sandbox's makes the client start there, so polls trip the limit;
    # throttle_budget=0 makes the session raise each 429 at once instead of waiting it out.
    async with sandbox_client(
        throttled_sandbox, max_retries=0, throttle_budget=0, rate_limit=1000
    ) as wam:
        dep_id = await created(wam)
        failures: list[PollFailed] = []
        watcher = wam.watch(dep_id, otp=throttled_sandbox.otp_provider, policy=FAST)
        watcher.on(PollFailed, failures.append)
        assert (await watcher.result()).state is S.READY
    assert failures, "a 10 ms poll interval must trip a 20 req/s limit"
    assert all(getattr(f.error, "status", None) == 429 for f in failures)
    assert all(getattr(f.error, "retry_after", None) is not None for f in failures)


@pytest.mark.parametrize(
    "faults",
    [
        FaultConfig(error_rate=0.3),
        FaultConfig(drop_rate=0.3),
        FaultConfig(malformed_rate=0.3),
    ],
    ids=["5xx", "dropped", "malformed"],
)
async def test_transient_faults_during_polling_are_survived(faults: FaultConfig) -> None:
    """5xx answers, dropped connections and malformed bodies become PollFailed, not failures."""
    config = SandboxConfig(speed=SPEED, faults=faults, seed=7)
    async with run_sandbox(config) as sandbox, sandbox_client(sandbox, max_retries=0) as wam:
        dep_id = await _create_through_faults(wam)
        failures: list[PollFailed] = []
        watcher = wam.watch(dep_id, otp=sandbox.otp_provider, policy=FAST)
        watcher.on(PollFailed, failures.append)
        assert (await watcher.result()).state is S.READY
    assert failures
    assert all(f.attempt >= 1 for f in failures)


async def _create_through_faults(wam: WhatsAppManager) -> str:
    # Creation is replay-safe: retry it by hand here (the client has retries off) and adopt
    # the deployment a lost answer created.
    from wamanager import NumberInUse, WhatsAppManagerError

    for _ in range(20):
        try:
            return await created(wam)
        except NumberInUse as exc:
            if exc.existing_deployment_id is not None:
                return exc.existing_deployment_id
        except WhatsAppManagerError:
            continue
    raise AssertionError("could not create a deployment through the faults")


async def test_deadline(wam: WhatsAppManager) -> None:
    """The overall deadline ends the watch with WatchTimeout naming the last state."""
    dep_id = await created(wam, "7700900004")
    policy = attrs.evolve(FAST, deadline=120)
    with pytest.raises(WatchTimeout, match="not READY within") as caught:
        await wam.watch(dep_id, policy=policy)
    assert caught.value.state is S.CREATING_CLUSTER


async def test_deadline_bounds_a_hanging_otp_provider(wam: WhatsAppManager) -> None:
    """The deadline also interrupts an OTP provider that never answers."""
    dep_id = await created(wam)

    async def hangs(deployment: Deployment) -> str:
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    policy = attrs.evolve(FAST, deadline=300)
    with anyio.fail_after(5), pytest.raises(WatchTimeout) as caught:
        await wam.watch(dep_id, otp=hangs, policy=policy)
    assert caught.value.state is S.CODE_SENT


async def test_stuck_state_limit(wam: WhatsAppManager) -> None:
    """No change for stuck_after seconds ends the watch with WatchTimeout naming the state."""
    dep_id = await created(wam, "7700900004")
    policy = attrs.evolve(FAST, stuck_after=90)
    with pytest.raises(WatchTimeout, match="stuck in CREATING_CLUSTER") as caught:
        await wam.watch(dep_id, policy=policy)
    assert caught.value.state is S.CREATING_CLUSTER


async def test_cancellation_leaves_no_task_or_connection(
    wam: WhatsAppManager, sandbox: SandboxHandle
) -> None:
    """Cancelling the enclosing scope mid-watch stops the poll task and frees every connection."""
    dep_id = await created(wam, "7700900004")
    with anyio.move_on_after(0.2) as scope:
        async with wam.watch(dep_id, policy=FAST) as watcher:
            await watcher.result()
    assert scope.cancelled_caught
    assert watcher.done
    with pytest.raises(WatchEnded):
        await watcher.result()
    assert wam.scheduler.polling == 0
    connector = wam.session._connection.http.connector  # type: ignore[union-attr]
    assert connector is not None
    assert sum(len(v) for v in connector._acquired_per_host.values()) == 0  # type: ignore[attr-defined]
    await anyio.lowlevel.checkpoint()
    import asyncio

    names = [t.get_name() for t in asyncio.all_tasks()]
    assert not any(name.startswith("watch ") for name in names)


@pytest.fixture
async def big_sandbox() -> AsyncIterator[SandboxHandle]:
    """A sandbox fast enough for a thousand deployments in a few real seconds."""
    # rate_limit=None: a thousand creates at once measure batching, not the account limit.
    async with run_sandbox(SandboxConfig(speed=SPEED, rate_limit=None)) as handle:
        yield handle


async def test_a_thousand_concurrent_watchers_on_one_client(big_sandbox: SandboxHandle) -> None:
    """1,000 watchers of one client all reach READY, their polls batched by one scheduler."""
    count = 1000
    # rate_limit (a ceiling far above any need): the client's gentle start would spread the
    # creates and first polls over seconds; this test measures batching, not rate control.
    # Real time and 50 ms polls: this measures batching across a thousand watchers.
    async with sandbox_client(big_sandbox, rate_limit=1e6, clock=SYSTEM_CLOCK) as wam:
        ids: list[str] = []

        async def create(i: int) -> None:
            ids.append(await created(wam, f"77{i:08d}"))

        async with anyio.create_task_group() as tg:
            for i in range(count):
                tg.start_soon(create, i)
        ready: list[Deployment] = []
        policy = PollPolicy(interval=0.05, jitter=0.2)

        async def watch(dep_id: str) -> None:
            ready.append(await wam.watch(dep_id, otp=big_sandbox.otp_provider, policy=policy))

        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                for dep_id in ids:
                    tg.start_soon(watch, dep_id)
        assert len(ready) == count
        assert {d.state for d in ready} == {S.READY}
        assert wam.scheduler.polling == 0
        # Unbatched, every watcher polls at least once: batching makes it fewer than that.
        assert wam.scheduler.stats.requests < count


# --- the loop without a server, on a virtual clock ------------------------------------------


async def test_waits_are_measured_on_the_injected_clock() -> None:
    """Every wait of a watch goes through the clock: no real time passes."""
    clock = VirtualClock()
    remote = Remote([S.INITIALIZING, S.CREATING_CLUSTER, S.CLUSTER_CREATED, S.READY])
    with anyio.fail_after(5):
        result = await watcher(remote, clock).result()
    assert result.state is S.READY
    assert [delay for _, delay in remote.polls] == [0.0, 1.0, 1.0, 1.0]
    assert clock.time == 3.0


async def test_the_deadline_runs_on_the_injected_clock() -> None:
    """PollPolicy.deadline is measured on the watcher's clock (sandbox or fake time)."""
    clock = VirtualClock()
    remote = Remote([S.CREATING_CLUSTER] * 1000)
    w = watcher(remote, clock, policy=PollPolicy(interval=10.0, jitter=0, deadline=95.0))
    with anyio.fail_after(5), pytest.raises(WatchTimeout, match="not READY within 95s"):
        await w.result()
    assert len(remote.polls) == 10


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"deployment_id": ""}, "deployment_id"),
        ({"otp": object(), "verify": None}, "otp"),
        ({"method": "fax"}, "method"),
        ({"clock": object()}, "clock"),
    ],
)
def test_bad_arguments_are_validation_errors(kwargs: dict[str, Any], field: str) -> None:
    """Bad constructor arguments raise a ValidationError naming the field."""
    remote = Remote([S.READY])
    arguments: dict[str, Any] = {
        "poll": remote.poll,
        "verify": remote.verify,
        "resend": remote.resend,
    }
    arguments.update(kwargs)
    deployment_id = arguments.pop("deployment_id", "d1")
    with pytest.raises(ValidationError) as caught:
        DeploymentWatcher(deployment_id, **arguments)
    assert field in caught.value.fields
