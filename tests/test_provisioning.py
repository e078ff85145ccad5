"""provision(): one call onboards a number, and a second call resumes a failed one.

A sandbox with a test middleware in front counts the requests per operation and breaks the
ones a test asks it to, so every step's failure can be produced on demand.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator

import pytest

from wamanager import (
    DeploymentFailed,
    DeploymentRequest,
    DeploymentState,
    Event,
    Forbidden,
    PollPolicy,
    Profile,
    ProvisioningError,
    ServerError,
    Succeeded,
    ValidationError,
    VerificationFailed,
    Vertical,
    WhatsAppManagerError,
    provision,
)
from wamanager._provisioning import PROVISION_RETRIES
from wamanager.sandbox import Account, SandboxConfig, SandboxHandle, Scenario

from ._served import Gate, client, gated_sandbox

S = DeploymentState
FAST = PollPolicy(interval=0.01, jitter=0)
PROFILE = Profile(about="Fresh bread", vertical=Vertical.RESTAURANT)
PHOTO = "https://cdn.example/logo.png"


def request(number: str = "7700900000", method: str = "sms") -> DeploymentRequest:
    """A valid create request for ``+44 <number>``."""
    return DeploymentRequest(
        country_code="44", number=number, vname_certificate="CERT", waba_id="1", method=method
    )


@pytest.fixture
async def served() -> AsyncIterator[tuple[SandboxHandle, Gate]]:
    """A fast sandbox (600x) behind a gate."""
    config = SandboxConfig(
        speed=600,
        rate_limit=None,
        scenarios=(
            Scenario("447700900003", fail_at="FINALIZING", fail_detail="Invalid vname certificate"),
            Scenario("4477009001*", reject_first_code=True),
        ),
        max_wrong_codes=10,
    )
    async with gated_sandbox(config) as pair:
        yield pair


async def test_provision_in_one_call(served: tuple[SandboxHandle, Gate]) -> None:
    """provision() creates, verifies, waits for READY and applies the profile and photo."""
    sandbox, gate = served
    events: list[Event] = []
    async with client(sandbox) as wam:
        ready = await provision(
            wam,
            request(),
            otp=sandbox.otp_provider,
            profile=PROFILE,
            photo_url=PHOTO,
            policy=FAST,
            on_event=events.append,
        )
        assert ready.state is S.READY
        assert (await wam.profiles.get(ready.deployment_id)).about == "Fresh bread"
        assert (await wam.profiles.get_photo(ready.deployment_id)).image_url == PHOTO
    assert isinstance(events[-1], Succeeded)
    assert gate.counts["POST", "deployments"] == 1


@pytest.mark.parametrize(
    ("broken", "step"), [(("PATCH", "profile"), "profile"), (("POST", "photo"), "photo")]
)
async def test_a_step_after_ready_fails_with_the_id_and_resumes(
    served: tuple[SandboxHandle, Gate], broken: tuple[str, str], step: str
) -> None:
    """A failure after READY names the step and deployment; a second call finishes the job
    with no second create, no new OTP step, and every replay-safe step retried meanwhile."""
    sandbox, gate = served
    gate.failing.add(broken)
    async with client(sandbox) as wam:
        with pytest.raises(ProvisioningError) as caught:
            await provision(
                wam,
                request(),
                otp=sandbox.otp_provider,
                profile=PROFILE,
                photo_url=PHOTO,
                policy=FAST,
            )
        error = caught.value
        assert (error.step, error.msisdn) == (step, "447700900000")
        assert error.deployment_id is not None
        assert isinstance(error.cause, ServerError)
        assert error.__cause__ is error.cause
        assert isinstance(error, WhatsAppManagerError)
        assert gate.counts[broken] == PROVISION_RETRIES + 1  # retries of a replay-safe step
        gate.failing.clear()
        before = gate.counts.copy()
        ready = await provision(
            wam, request(), otp=sandbox.otp_provider, profile=PROFILE, photo_url=PHOTO, policy=FAST
        )
        assert ready.deployment_id == error.deployment_id
        assert (await wam.profiles.get_photo(ready.deployment_id)).image_url == PHOTO
    again = gate.counts - before
    assert again["POST", "deployments"] == 1  # answered NumberInUse: adopted, not created
    assert again["POST", "verify"] == again["POST", "resend-otp"] == 0
    assert len(sandbox.engine) == 1


async def test_a_forbidden_create_fails_at_the_create_step_without_an_id() -> None:
    """An account that may not create deployments fails at "create", with no deployment id."""
    config = SandboxConfig(
        accounts=(Account("nope", "s", forbidden=True),), speed=600, rate_limit=None
    )
    async with gated_sandbox(config) as (sandbox, _), client(sandbox) as wam:
        with pytest.raises(ProvisioningError) as caught:
            await provision(wam, request(), otp=sandbox.otp_provider, policy=FAST)
    assert (caught.value.step, caught.value.deployment_id) == ("create", None)
    assert isinstance(caught.value.cause, Forbidden)


async def test_a_deployment_that_errors_fails_at_the_watch_step(
    served: tuple[SandboxHandle, Gate],
) -> None:
    """ERROR while watching is a ProvisioningError at "watch" carrying DeploymentFailed."""
    sandbox, _ = served
    async with client(sandbox) as wam:
        with pytest.raises(ProvisioningError) as caught:
            await provision(wam, request("7700900003"), otp=sandbox.otp_provider, policy=FAST)
    assert caught.value.step == "watch"
    assert isinstance(caught.value.cause, DeploymentFailed)
    assert caught.value.cause.detail == "Invalid vname certificate"


async def test_rejected_codes_fail_at_the_verify_step(served: tuple[SandboxHandle, Gate]) -> None:
    """Codes rejected max_verify_attempts times end at "verify" with the API's rejection."""

    async def wrong(_: object) -> str:
        return "000000"

    sandbox, gate = served
    async with client(sandbox) as wam:
        with pytest.raises(ProvisioningError) as caught:
            await provision(wam, request(), otp=wrong, policy=FAST, max_verify_attempts=2)
    assert caught.value.step == "verify"
    assert isinstance(caught.value.cause, VerificationFailed)
    assert gate.counts["POST", "verify"] == 2


async def test_a_ready_deployment_only_gets_its_profile_and_photo(
    served: tuple[SandboxHandle, Gate],
) -> None:
    """Resuming a READY number costs its adoption, one poll, the profile and the photo."""
    sandbox, gate = served
    async with client(sandbox) as wam:
        first = await provision(wam, request("7700900100"), otp=sandbox.otp_provider, policy=FAST)
        before = gate.counts.copy()
        again = await provision(
            wam,
            request("7700900100"),
            otp=sandbox.otp_provider,
            profile=PROFILE,
            photo_url=PHOTO,
            policy=FAST,
        )
    assert again.deployment_id == first.deployment_id
    spent = gate.counts - before
    assert spent == Counter(
        {
            ("POST", "deployments"): 1,
            ("GET", "{id}"): 1,
            ("PATCH", "profile"): 1,
            ("POST", "photo"): 1,
        }
    )


async def test_a_known_deployment_id_skips_the_create(served: tuple[SandboxHandle, Gate]) -> None:
    """provision(deployment_id=...) (a journal's record) watches that deployment directly."""
    sandbox, gate = served
    async with client(sandbox) as wam:
        made = await wam.deployments.create(request())
        ready = await provision(
            wam, request(), otp=sandbox.otp_provider, deployment_id=made.deployment_id, policy=FAST
        )
    assert ready.deployment_id == made.deployment_id
    assert gate.counts["POST", "deployments"] == 1


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"profile": Profile(about="")}, "about"),
        ({"photo_url": "ftp://x/y.gif"}, "image_url"),
        ({"resend_afterr": 5}, "resend_afterr"),
        ({"max_resends": -1}, "max_resends"),
        # Watcher options of the wrong type were found by the reliability suite: they raised
        # AttributeError or TypeError, some only after the create had been sent.
        ({"policy": 5}, "policy"),
        ({"progress": 1}, "progress"),
        ({"method": ["sms"]}, "method"),
        ({"on_progress": 3}, "on_progress"),
        ({"otp_policy": True, "max_resends": 2}, "otp_policy"),
    ],
)
async def test_bad_input_fails_before_any_request(
    served: tuple[SandboxHandle, Gate], kwargs: dict[str, object], field: str
) -> None:
    """Bad profiles, photos and watcher options are ValidationErrors, before any request."""
    sandbox, gate = served
    async with client(sandbox) as wam:
        with pytest.raises(ValidationError) as caught:
            await provision(wam, request(), otp=sandbox.otp_provider, **kwargs)  # type: ignore[arg-type]
    assert field in caught.value.fields
    assert sum(gate.counts.values()) == 0


async def test_on_step_announces_each_step_before_its_request(
    served: tuple[SandboxHandle, Gate],
) -> None:
    """on_step sees create (no id yet), then watch, profile, photo and done with the id, each
    before the request it announces (what a journal needs to write its intent first)."""
    sandbox, gate = served
    seen: list[tuple[str, str | None, int]] = []

    async def record(step: str, deployment_id: str | None) -> None:
        sent = {"create": ("POST", "deployments"), "profile": ("PATCH", "profile")}
        key = sent.get(step)
        seen.append((step, deployment_id, gate.counts[key] if key else -1))

    async with client(sandbox) as wam:
        ready = await provision(
            wam,
            request(),
            otp=sandbox.otp_provider,
            profile=PROFILE,
            photo_url=PHOTO,
            policy=FAST,
            on_step=record,
        )
    dep = ready.deployment_id
    assert seen == [
        ("create", None, 0),
        ("watch", dep, -1),
        ("profile", dep, 0),
        ("photo", dep, -1),
        ("done", dep, -1),
    ]
