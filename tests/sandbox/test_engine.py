"""The sandbox engine: the state machine as tables, on a manual clock (no test sleeps), and
production's limits on it (Meta's registration limits, bounded state, tenant isolation of the
number-in-use answer)."""

from __future__ import annotations

import pytest

from wamanager import BearerToken, DeploymentRequest, NumberInUse, ProvisioningError, provision
from wamanager._states import DeploymentState as S
from wamanager._states import is_legal_transition
from wamanager.sandbox import (
    ON_PREMISES_BLOCKED_DETAIL,
    ManualClock,
    SandboxConfig,
    SandboxEngine,
    Scenario,
    run_sandbox,
)
from wamanager.sandbox._config import AUTO_STAGES
from wamanager.sandbox._problems import SandboxProblem
from wamanager.testing import sandbox_client

from .helpers import call, deployment_body, fragment, two_accounts

KEY = "sandbox-key"


def _engine(**kwargs: object) -> tuple[SandboxEngine, ManualClock]:
    clock = ManualClock()
    return SandboxEngine(SandboxConfig(clock=clock, seed=7, **kwargs), clock), clock  # type: ignore[arg-type]


def _create(engine: SandboxEngine, number: str = "7700900000") -> str:
    return engine.create(
        KEY, country_code="44", number=number, waba_id="1", method="sms"
    ).deployment_id


@pytest.mark.parametrize(
    ("elapsed", "state"),
    [
        (0, S.INITIALIZING),
        (4.9, S.INITIALIZING),
        (5, S.CREATING_CLUSTER),
        (124.9, S.CREATING_CLUSTER),
        (125, S.CLUSTER_CREATED),
        (130, S.CODE_SENT),
        (10_000, S.CODE_SENT),
    ],
)
def test_clock_drives_the_automatic_stages(elapsed: float, state: S) -> None:
    """Default durations move a deployment INITIALIZING → ... → CODE_SENT, then it waits."""
    engine, clock = _engine()
    dep_id = _create(engine)
    clock.advance(elapsed)
    assert engine.find(KEY, dep_id).state is state


@pytest.mark.parametrize(
    ("durations", "elapsed", "state"),
    [
        ({S.CREATING_CLUSTER: 0}, 5, S.CLUSTER_CREATED),
        ({S.INITIALIZING: 1, S.CREATING_CLUSTER: 1, S.CLUSTER_CREATED: 1}, 3, S.CODE_SENT),
        ({"INITIALIZING": 50}, 49, S.INITIALIZING),
    ],
)
def test_stage_durations_are_configurable(
    durations: dict[S, float], elapsed: float, state: S
) -> None:
    """Configured durations replace the defaults per stage."""
    engine, clock = _engine(durations=durations)
    dep_id = _create(engine)
    clock.advance(elapsed)
    assert engine.find(KEY, dep_id).state is state


def _at_code_sent(**kwargs: object) -> tuple[SandboxEngine, ManualClock, str]:
    engine, clock = _engine(**kwargs)
    dep_id = _create(engine)
    clock.advance(130)
    return engine, clock, dep_id


@pytest.mark.parametrize(
    ("codes", "final", "statuses"),
    [
        (["right"], S.CODE_VERIFIED, [201]),
        (["wrong", "right"], S.CODE_VERIFIED, [422, 201]),
        (["wrong"], S.WRONG_CODE, [422]),
        (["wrong", "wrong"], S.WRONG_CODE, [422, 422]),
        (["wrong", "wrong", "wrong"], S.ERROR, [422, 422, 422]),
    ],
)
def test_verify_outcomes(codes: list[str], final: S, statuses: list[int]) -> None:
    """Right code → CODE_VERIFIED; wrong → WRONG_CODE; the third wrong code → ERROR."""
    engine, _, dep_id = _at_code_sent()
    seen = []
    for code in codes:
        dep = engine.find(KEY, dep_id)
        value = dep.code if code == "right" else "000000x"
        try:
            engine.verify(KEY, dep_id, value or "")
            seen.append(201)
        except SandboxProblem as problem:
            seen.append(problem.status if problem.type_url.endswith("#verification-failed") else 0)
    assert seen == statuses
    assert engine.find(KEY, dep_id).state is final


def test_max_wrong_codes_is_configurable() -> None:
    """With max_wrong_codes=1 the first wrong code moves the deployment to ERROR."""
    engine, _, dep_id = _at_code_sent(max_wrong_codes=1)
    with pytest.raises(SandboxProblem):
        engine.verify(KEY, dep_id, "nope")
    dep = engine.find(KEY, dep_id)
    assert (dep.state, dep.detail) == (S.ERROR, "Too many failed verification attempts")


def test_verified_deployment_finalizes_to_ready() -> None:
    """After verify: CODE_VERIFIED (5 s) → FINALIZING (30 s) → READY."""
    engine, clock, dep_id = _at_code_sent()
    engine.verify(KEY, dep_id, engine.find(KEY, dep_id).code or "")
    for step, state in [(4, S.CODE_VERIFIED), (1, S.FINALIZING), (30, S.READY)]:
        clock.advance(step)
        assert engine.find(KEY, dep_id).state is state


def test_resend_replaces_the_code_and_the_old_one_fails() -> None:
    """A resend issues a new code; the old code is then wrong."""
    engine, clock, dep_id = _at_code_sent()
    old = engine.find(KEY, dep_id).code
    clock.advance(30)
    engine.resend(KEY, dep_id, "voice")
    dep = engine.find(KEY, dep_id)
    assert dep.inbox is not None
    assert dep.inbox.method == "voice"
    assert dep.code == dep.inbox.code
    if dep.code != old:
        with pytest.raises(SandboxProblem):
            engine.verify(KEY, dep_id, old or "")


def test_resend_within_cooldown_is_throttled_in_real_seconds() -> None:
    """A resend sooner than resend_cooldown answers 429 with Retry-After in real seconds."""
    clock = ManualClock(speed=10)
    engine = SandboxEngine(SandboxConfig(clock=clock, resend_cooldown=30), clock)
    dep_id = _create(engine)
    clock.advance(130)
    with pytest.raises(SandboxProblem) as caught:
        engine.resend(KEY, dep_id, "sms")
    assert caught.value.status == 429
    assert caught.value.headers["Retry-After"] == "3"


@pytest.mark.parametrize("state_after", [0, 200])
def test_resend_outside_code_states_is_a_conflict(state_after: float) -> None:
    """Resend in INITIALIZING or READY answers 409 conflict-resend-otp."""
    engine, clock = _engine()
    dep_id = _create(engine)
    if state_after:
        clock.advance(130)
        engine.verify(KEY, dep_id, engine.find(KEY, dep_id).code or "")
        clock.advance(state_after)
    with pytest.raises(SandboxProblem) as caught:
        engine.resend(KEY, dep_id, "sms")
    assert (caught.value.status, caught.value.type_url.rpartition("#")[2]) == (
        409,
        "conflict-resend-otp",
    )


def test_verify_outside_code_states_is_verification_failed() -> None:
    """Verify before CODE_SENT answers 422 verification-failed and changes nothing."""
    engine, _ = _engine()
    dep_id = _create(engine)
    with pytest.raises(SandboxProblem) as caught:
        engine.verify(KEY, dep_id, "123456")
    assert caught.value.status == 422
    assert engine.find(KEY, dep_id).state is S.INITIALIZING


@pytest.mark.parametrize("elapsed", [0, 130, 10_000])
def test_delete_moves_through_deleting_to_deleted(elapsed: float) -> None:
    """Delete from any live state → DELETING, then DELETED after 5 s."""
    engine, clock = _engine()
    dep_id = _create(engine)
    clock.advance(elapsed)
    engine.delete(KEY, dep_id)
    assert engine.find(KEY, dep_id).state is S.DELETING
    clock.advance(5)
    assert engine.find(KEY, dep_id).state is S.DELETED


@pytest.mark.parametrize("wait", [0, 5])
def test_delete_while_deleting_or_deleted_is_a_conflict(wait: float) -> None:
    """A second delete answers 409 conflict-deployment-state."""
    engine, clock = _engine()
    dep_id = _create(engine)
    engine.delete(KEY, dep_id)
    clock.advance(wait)
    with pytest.raises(SandboxProblem) as caught:
        engine.delete(KEY, dep_id)
    assert caught.value.type_url.endswith("#conflict-deployment-state")


def test_deleted_deployments_are_purged_after_retention() -> None:
    """A DELETED deployment answers 404 once `retention` has passed; memory is freed."""
    engine, clock = _engine(retention=100)
    dep_id = _create(engine)
    engine.delete(KEY, dep_id)
    clock.advance(104)
    assert engine.find(KEY, dep_id).state is S.DELETED
    clock.advance(2)
    with pytest.raises(SandboxProblem) as caught:
        engine.find(KEY, dep_id)
    assert caught.value.status == 404
    assert len(engine) == 0


def test_active_number_is_in_use_until_deleted() -> None:
    """Creating a number with an active deployment → 409 naming it; after delete it is free."""
    engine, _ = _engine()
    dep_id = _create(engine)
    with pytest.raises(SandboxProblem) as caught:
        _create(engine)
    assert caught.value.detail == f"Active deployment already exists with id {dep_id}"
    engine.delete(KEY, dep_id)
    assert _create(engine) != dep_id


def test_deployment_cap_per_account_answers_forbidden() -> None:
    """Beyond max_deployments an account's creates answer 403."""
    engine, _ = _engine(max_deployments=1)
    _create(engine, "1")
    with pytest.raises(SandboxProblem) as caught:
        _create(engine, "2")
    assert caught.value.status == 403


@pytest.mark.parametrize(
    ("scenario", "elapsed", "state", "detail"),
    [
        (Scenario("44*", fail_at=S.CREATING_CLUSTER), 125, S.ERROR, "Invalid vname certificate"),
        (Scenario("44*", fail_at=S.CREATING_CLUSTER), 124, S.CREATING_CLUSTER, None),
        (Scenario("44*", fail_at=S.INITIALIZING, fail_detail="No WABA"), 5, S.ERROR, "No WABA"),
        (Scenario("44*", stuck_in=S.CREATING_CLUSTER), 1e6, S.CREATING_CLUSTER, None),
        (Scenario("33*", fail_at=S.INITIALIZING), 130, S.CODE_SENT, None),
    ],
)
def test_scenarios_fail_or_stick(
    scenario: Scenario, elapsed: float, state: S, detail: str | None
) -> None:
    """fail_at sends a matching number to ERROR after that stage; stuck_in holds it there."""
    engine, clock = _engine(scenarios=(scenario,))
    dep_id = _create(engine)
    clock.advance(elapsed)
    dep = engine.find(KEY, dep_id)
    assert dep.state is state
    if detail is not None:
        assert dep.detail == detail


def test_scenario_fail_after_verify_stage() -> None:
    """fail_at=FINALIZING sends a verified deployment to ERROR instead of READY."""
    engine, clock, dep_id = _at_code_sent(scenarios=(Scenario("*", fail_at=S.FINALIZING),))
    engine.verify(KEY, dep_id, engine.find(KEY, dep_id).code or "")
    clock.advance(100)
    assert engine.find(KEY, dep_id).state is S.ERROR


def test_scenario_rejects_first_code() -> None:
    """reject_first_code: the right code is refused once, then accepted."""
    engine, _, dep_id = _at_code_sent(scenarios=(Scenario("*", reject_first_code=True),))
    code = engine.find(KEY, dep_id).code or ""
    with pytest.raises(SandboxProblem):
        engine.verify(KEY, dep_id, code)
    assert engine.verify(KEY, dep_id, code).state is S.CODE_VERIFIED


def test_scenario_withholds_code_until_resend() -> None:
    """withhold_code_until_resend: the inbox is empty at CODE_SENT; a resend fills it."""
    engine, clock, dep_id = _at_code_sent(
        scenarios=(Scenario("*", withhold_code_until_resend=True),)
    )
    assert engine.inbox(KEY, dep_id) is None
    clock.advance(30)
    engine.resend(KEY, dep_id, "sms")
    assert engine.inbox(KEY, dep_id) is not None


def test_automatic_stages_follow_the_shared_state_machine() -> None:
    """Each stage the sandbox leaves on its own leads where the transition table allows."""
    assert AUTO_STAGES
    assert all(is_legal_transition(stage, after) for stage, after in AUTO_STAGES.items())


def test_scenario_rejects_non_automatic_stages() -> None:
    """fail_at and stuck_in accept only stages the sandbox leaves on its own."""
    with pytest.raises(ValueError, match="fail_at"):
        Scenario("*", fail_at=S.CODE_SENT)


def test_other_accounts_get_not_found() -> None:
    """A deployment is invisible (404) to every account but its creator."""
    engine, _ = _engine()
    dep_id = _create(engine)
    with pytest.raises(SandboxProblem) as caught:
        engine.find("someone-else", dep_id)
    assert caught.value.status == 404
    assert engine.list("someone-else") == []


def test_seed_makes_ids_and_codes_reproducible() -> None:
    """Two engines with the same seed hand out the same ids and codes."""
    runs = []
    for _ in range(2):
        engine, _clock, dep_id = _at_code_sent()
        runs.append((dep_id, engine.find(KEY, dep_id).code))
    assert runs[0] == runs[1]


# --- production's limits -------------------------------------------------------------------


DAY = 86_400.0


def _limited_engine(**kwargs: object) -> tuple[SandboxEngine, ManualClock]:
    clock = ManualClock()
    return SandboxEngine(SandboxConfig(clock=clock, seed=1, **kwargs), clock), clock  # type: ignore[arg-type]


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
    engine, clock = _limited_engine()
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
    engine, clock = _limited_engine(max_registrations=2, registration_window=DAY)
    assert [_cycle(engine, clock)[0] for _ in range(3)] == [S.CODE_SENT, S.CODE_SENT, S.ERROR]
    other = engine.create(KEY, country_code="44", number="7700900001", waba_id="1", method="sms")
    clock.advance(130)
    assert engine.find(KEY, other.deployment_id).state is S.CODE_SENT
    clock.advance(DAY)
    assert _cycle(engine, clock)[0] is S.CODE_SENT


def test_registration_history_is_forgotten_after_the_window() -> None:
    """The per-number history is swept once its window has passed (state stays bounded)."""
    engine, clock = _limited_engine()
    for i in range(50):
        engine.create(KEY, country_code="44", number=f"77009{i:05d}", waba_id="1", method="sms")
    assert len(engine._registrations) == 50
    clock.advance(8 * DAY)
    engine.list(KEY)  # any access sweeps
    engine.create(KEY, country_code="44", number="7800000000", waba_id="1", method="sms")
    assert len(engine._registrations) == 1


def test_the_on_premises_block_preset() -> None:
    """Scenario.on_premises_blocked(): the cluster is built, then ERROR with Meta's reason."""
    engine, clock = _limited_engine(scenarios=(Scenario.on_premises_blocked("44*"),))
    dep = engine.create(KEY, country_code="44", number="7700900000", waba_id="1", method="sms")
    clock.advance(129)
    assert engine.find(KEY, dep.deployment_id).state is S.CLUSTER_CREATED
    clock.advance(1)
    found = engine.find(KEY, dep.deployment_id)
    assert (found.state, found.detail) == (S.ERROR, ON_PREMISES_BLOCKED_DETAIL)
    assert found.inbox is None
    assert "On-Premises" in ON_PREMISES_BLOCKED_DETAIL
    assert "Cloud API" in ON_PREMISES_BLOCKED_DETAIL


def test_deleted_deployments_do_not_count_toward_max_deployments() -> None:
    """With max_deployments=1, a deleted (not yet purged) deployment leaves room for another."""
    engine, clock = _limited_engine(max_deployments=1)
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
