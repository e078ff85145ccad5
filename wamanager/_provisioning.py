"""``provision()``: onboard one number in one call, and resume it after a failure.

The steps, in order: **create** the deployment (adopting the existing one when the API
answers ``NumberInUse``, which is also what a retried create answers), **watch** it to READY
while the OTP provider supplies the code (**verify**), then apply the **profile** and the
**photo**. Every input is validated before the first request.

Resuming: each step is safe to repeat, so calling :func:`provision` again with the same
request continues from where the deployment is. The create step adopts the deployment, the
watch returns at once for a READY one, and the profile PATCH and photo POST are replay-safe.
A failure after the deployment exists raises :class:`~wamanager.ProvisioningError`
carrying the deployment id, the step and the cause.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from ._delivery import Callback
from ._errors import (
    NumberInUse,
    ProvisioningError,
    VerificationFailed,
    WatchTimeout,
    WhatsAppManagerError,
)
from ._events import Event
from ._models import Deployment, DeploymentRequest, PhotoUpdate, Profile
from ._otp_driver import OTPProvider
from ._rules import validate
from ._states import ACTIONABLE
from ._watch_options import WatchOptions, watch_arguments
from ._watcher import DeploymentWatcher

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ._client import WhatsAppManager

__all__ = ["PROVISION_RETRIES", "STEPS", "StepHook", "create_or_adopt", "provision"]

#: The steps of an onboarding, in order; ``"done"`` follows the last.
STEPS = ("create", "watch", "verify", "profile", "photo")
#: Awaited by :func:`provision` as it enters each step, with the deployment id once known:
#: before the create request (``"create"``, ``None``), after it (``"watch"``, the id), before
#: the profile and photo requests, and at the end (``"done"``). A journal writes it down.
StepHook = Callable[[str, str | None], Awaitable[None]]

#: Retries of the replay-safe steps (create, profile, photo) within one ``provision()`` call:
#: more than a plain call's, since a step that fails after READY costs a whole onboarding.
#: Twenty (about two minutes of backoff before giving up on an API that stays down): with
#: every fault kind at 15% about half of all attempts fail, and five retries then lost one
#: step in a hundred (the reliability suite's chaos run, tests/reliability/test_chaos.py).
PROVISION_RETRIES = 20


async def provision(
    wam: WhatsAppManager,
    request: DeploymentRequest,
    *,
    otp: OTPProvider,
    profile: Profile | None = None,
    photo_url: str | None = None,
    deployment_id: str | None = None,
    on_event: Callback | None = None,
    on_step: StepHook | None = None,
    **options: Unpack[WatchOptions],
) -> Deployment:
    """Onboard a number in one call: create, verify the OTP, wait for READY, set the profile.

    Args:
        wam: the client.
        request: the number to provision.
        otp: the OTP provider (see :class:`~wamanager.DeploymentWatcher`).
        profile: the business profile to apply once READY (a partial update).
        photo_url: the profile photo to apply once READY.
        deployment_id: the deployment already made for ``request`` (from a journal): skips
            the create step.
        on_event: receives every watcher event.
        on_step: awaited as each step starts (see :data:`StepHook`).
        **options: the watcher's options (:class:`~wamanager.WatchOptions`):
            ``policy``, ``resend_after``, ``max_resends``, ``max_verify_attempts``,
            ``fallback_to_voice``, ``clock``…

    Returns the READY deployment (the snapshot the watch ended on).

    Raises :class:`~wamanager.ValidationError` for bad input, before any request, and
    :class:`~wamanager.ProvisioningError` (``step``, ``deployment_id``, ``cause``) for
    anything that stopped it afterwards; call it again to resume. A number held by a
    deployment in ERROR fails at the watch step with :class:`~wamanager.DeploymentFailed` as
    the cause: delete that deployment before trying again.
    """
    validate(request)
    if profile is not None:
        validate(profile)
    if photo_url is not None:
        validate(PhotoUpdate(image_url=photo_url))
    arguments = watch_arguments(options)
    arguments.setdefault("method", request.method)
    # The replay-safe steps get a larger retry budget; the watcher polls through ``wam``.
    sturdy = wam.with_options(max_retries=PROVISION_RETRIES)
    step = "create"
    watcher: DeploymentWatcher | None = None

    async def enter(next_step: str) -> None:
        nonlocal step
        step = next_step
        if on_step is not None:
            await on_step(next_step, deployment_id)

    try:
        if deployment_id is None:
            await enter("create")
            deployment_id, _ = await create_or_adopt(sturdy, request)
        await enter("watch")
        watcher = wam.watch(deployment_id, otp=otp, **arguments)
        if on_event is not None:
            watcher.on(Event, on_event)
        deployment = await watcher.result()
        if profile is not None:
            await enter("profile")
            await sturdy.profiles.update(deployment_id, profile)
        if photo_url is not None:
            await enter("photo")
            await sturdy.profiles.update_photo(deployment_id, photo_url)
    except WhatsAppManagerError as exc:
        if step == "watch" and _failed_at_otp(exc, watcher):
            step = "verify"
        raise ProvisioningError(
            step, exc, deployment_id=deployment_id, msisdn=request.msisdn
        ) from exc
    await enter("done")
    return deployment


async def create_or_adopt(wam: WhatsAppManager, request: DeploymentRequest) -> tuple[str, bool]:
    """Create the deployment of ``request``, or adopt the one that already holds its number
    (what a retried create answers too): its id, and whether it was adopted.

    Raises :class:`~wamanager.NumberInUse` when the number is held by a deployment this
    account cannot see (nothing to adopt).
    """
    try:
        return (await wam.deployments.create(request)).deployment_id, False
    except NumberInUse as exc:
        if exc.existing_deployment_id is None:
            raise
        return exc.existing_deployment_id, True


def _failed_at_otp(error: WhatsAppManagerError, watcher: DeploymentWatcher | None) -> bool:
    """Whether a watch ended because of the OTP: codes rejected, or none came."""
    if isinstance(error, VerificationFailed):
        return True
    return isinstance(error, WatchTimeout) and watcher is not None and watcher.state in ACTIONABLE
