"""``WhatsAppManager``: the client users hold."""

from __future__ import annotations

import random
from collections.abc import Callable
from types import TracebackType

import aiohttp
import anyio

from .auth import Auth
from .errors import NumberInUse
from .events import Event
from .models import Deployment, DeploymentRequest, PhotoUpdate, Profile
from .policy import PollPolicy
from .resources import OTP, Deployments, Profiles, Stickerpacks, Stickers
from .retry import RetryPolicy
from .rules import validate
from .scheduler import PollScheduler
from .session import (
    DEFAULT_BASE_URL,
    DEFAULT_TIMEOUT,
    NOT_GIVEN,
    NotGiven,
    Session,
    Sleep,
    Timeout,
)
from .watcher import Callback, DeploymentWatcher, OTPProvider

__all__ = ["WhatsAppManager"]


class WhatsAppManager:
    """Async client for the WhatsApp Provisioning API.

    Use it as an async context manager (or call :meth:`close`)::

        async with WhatsAppManager(auth=BasicAuth(key, secret)) as wam:
            deployment = await wam.deployments.get(deployment_id)

    Resource groups: :attr:`deployments`, :attr:`otp`, :attr:`profile`, :attr:`stickerpacks`
    and :attr:`stickers`.

    Args:
        auth: :class:`~wamanager.BasicAuth`, :class:`~wamanager.JWTAuth` or
            :class:`~wamanager.BearerToken`.
        base_url: the API root; point it at a sandbox for tests and demos.
        timeout: seconds (or a :class:`~wamanager.Timeout`) for one attempt of one request.
        max_retries: retries of transient failures (0 disables them); default 2.
        retry: the full :class:`~wamanager.RetryPolicy`, if ``max_retries`` is not enough.
        rate_limit: requests per second across the whole client (``None``: no limit).
        rate_burst: requests allowed at once before ``rate_limit`` spaces them.
        session: an :class:`aiohttp.ClientSession` of yours; used as is, never closed here.
        sleep: how to wait between retries (inject a fake in tests).
    """

    def __init__(
        self,
        auth: Auth,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float | Timeout | None = DEFAULT_TIMEOUT,
        max_retries: int | None = None,
        retry: RetryPolicy | None = None,
        rate_limit: float | None = None,
        rate_burst: int = 1,
        session: aiohttp.ClientSession | None = None,
        sleep: Sleep = anyio.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self._bind(
            Session(
                auth,
                base_url=base_url,
                timeout=timeout,
                retry=retry,
                max_retries=max_retries,
                rate_limit=rate_limit,
                rate_burst=rate_burst,
                session=session,
                sleep=sleep,
                rng=rng,
            )
        )

    def _bind(self, session: Session) -> None:
        self.session = session
        self._scheduler: PollScheduler | None = None
        #: Create, get, list and delete deployments.
        self.deployments = Deployments(session)
        #: Verify the OTP, or have it sent again.
        self.otp = OTP(session)
        #: The business profile and its photo.
        self.profile = Profiles(session)
        #: Sticker packs.
        self.stickerpacks = Stickerpacks(session)
        #: Stickers inside a pack.
        self.stickers = Stickers(session)

    def with_options(
        self,
        *,
        timeout: float | Timeout | NotGiven | None = NOT_GIVEN,
        max_retries: int | None = None,
        retry: RetryPolicy | None = None,
    ) -> WhatsAppManager:
        """A client with other timeouts or retries for some calls, sharing this one's
        connections, rate limit and lifecycle::

            await wam.with_options(timeout=5, max_retries=0).deployments.get(dep_id)
        """
        copy = object.__new__(WhatsAppManager)
        copy._bind(self.session.with_options(timeout=timeout, max_retries=max_retries, retry=retry))
        return copy

    @property
    def scheduler(self) -> PollScheduler:
        """The poll scheduler every watcher of this client shares (created on first use)."""
        if self._scheduler is None:
            self._scheduler = PollScheduler(self.deployments)
        return self._scheduler

    def watch(
        self,
        deployment_id: str,
        *,
        otp: OTPProvider | None = None,
        policy: PollPolicy | None = None,
        resend_after: float = 300.0,
        max_resends: int = 3,
        max_verify_attempts: int = 3,
        fallback_to_voice: bool = False,
    ) -> DeploymentWatcher:
        """A :class:`~wamanager.watcher.DeploymentWatcher` for one deployment.

        Without ``otp`` it only observes; with one it verifies codes and resends them (see
        the watcher's docs for the rules). ``resend_after`` is in seconds; the spec suggests
        waiting five minutes for a code before asking for another.
        """
        return DeploymentWatcher(
            self,
            deployment_id,
            scheduler=self.scheduler,
            otp=otp,
            policy=policy,
            resend_after=resend_after,
            max_resends=max_resends,
            max_verify_attempts=max_verify_attempts,
            fallback_to_voice=fallback_to_voice,
        )

    async def provision(
        self,
        request: DeploymentRequest,
        *,
        otp: OTPProvider,
        profile: Profile | None = None,
        photo_url: str | None = None,
        policy: PollPolicy | None = None,
        on_event: Callback | None = None,
    ) -> Deployment:
        """Onboard a number in one call: create, verify the OTP, wait for READY, set the profile.

        Creates the deployment (adopting the existing one when the number is already in use,
        which is also what a retried create answers), watches it to READY while ``otp``
        supplies the code, then applies ``profile`` and ``photo_url``. ``on_event`` receives
        every watcher event. Everything is validated before the first request, so bad input
        never leaves a half-made deployment behind.

        Raises what :meth:`DeploymentWatcher.result` raises; an adopted deployment that is in
        ERROR raises :class:`~wamanager.errors.DeploymentFailed` (delete it and try again).
        """
        validate(request)
        if profile is not None:
            validate(profile)
        if photo_url is not None:
            validate(PhotoUpdate(image_url=photo_url))
        try:
            deployment_id = (await self.deployments.create(request)).deployment_id
        except NumberInUse as exc:
            if exc.existing_deployment_id is None:
                raise
            deployment_id = exc.existing_deployment_id
        watcher = self.watch(deployment_id, otp=otp, policy=policy)
        if on_event is not None:
            watcher.on(Event, on_event)
        deployment = await watcher.result()
        if profile is not None:
            await self.profile.update(deployment_id, profile)
        if photo_url is not None:
            await self.profile.update_photo(deployment_id, photo_url)
        return deployment

    @property
    def base_url(self) -> str:
        """The API root this client talks to."""
        return self.session.base_url

    async def close(self) -> None:
        """Close the connections this client opened. Safe to call twice."""
        await self.session.close()

    async def __aenter__(self) -> WhatsAppManager:
        await self.session.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"WhatsAppManager(base_url={self.base_url!r}, auth={self.session.auth!r})"
