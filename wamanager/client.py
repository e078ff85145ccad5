"""``WhatsAppManager``: the client users hold."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any

import aiohttp

from .auth import Auth
from .errors import NumberInUse
from .events import Event
from .models import Deployment, DeploymentRequest, PhotoUpdate, Profile, validate
from .policy import PollPolicy
from .resources import OTP, Deployments, Profiles, Stickerpacks, Stickers
from .retry import RetryPolicy
from .scheduler import PollScheduler
from .session import NOT_GIVEN, NotGiven, Session, Sleep, Timeout
from .watcher import Callback, DeploymentWatcher, OTPProvider

__all__ = ["WhatsAppManager"]


class _Shared:
    """What a client and its ``with_options`` copies share besides the session's transport
    (credentials, connection pool, rate limiter, lifecycle): the poll scheduler."""

    __slots__ = ("scheduler",)

    def __init__(self) -> None:
        self.scheduler: PollScheduler | None = None


class WhatsAppManager:
    """Async client for the WhatsApp Provisioning API.

    Use it as an async context manager (or call :meth:`close`)::

        async with WhatsAppManager(auth=JWTAuth(application_id, private_key)) as wam:
            deployment = await wam.deployments.get(deployment_id)

    Resource groups: :attr:`deployments`, :attr:`otp`, :attr:`profile`, :attr:`stickerpacks`
    and :attr:`stickers`. Every argument is checked here: bad values raise
    :class:`~wamanager.errors.ValidationError` naming each one, before any request. An
    argument left out takes the default below (from :mod:`wamanager._constants`).

    Args:
        auth: :class:`~wamanager.JWTAuth`, :class:`~wamanager.BasicAuth` or
            :class:`~wamanager.BearerToken`.
        base_url: the API root, ``http(s)://host/...``; point it at a sandbox for tests and
            demos. Default: the production API.
        timeout: seconds (or a :class:`~wamanager.Timeout`) for one attempt of one request,
            counted from when it is sent; > 0, or ``None`` for none. Default 30 (connect 10).
        max_retries: retries of transient failures (5xx, dropped connections, timeouts,
            cut-short bodies; 0 disables them); 429s do not count. Default 2.
        retry: the full :class:`~wamanager.RetryPolicy`, if ``max_retries`` is not enough.
        rate_limit: a ceiling in requests per second for the whole client. The client
            learns the account's limit from its 429s without it; when given, requests are
            spaced at this rate from the start. Default: none, learned.
        rate_burst: requests allowed at once before the rate spaces them. Default 1.
        throttle_budget: seconds one call may spend waiting out 429s (from its first 429)
            before it raises :class:`~wamanager.errors.Throttled`. Default 120.
        max_response_size: bytes of a response body above which it is refused
            (:class:`~wamanager.errors.UnexpectedResponse`). Default 10 MiB.
        session: an :class:`aiohttp.ClientSession` of yours; used as is, never closed here.
            Default: the client's own, with a pool of 100 connections.
        sleep: how to wait between retries (inject a fake in tests).
        rng: the random source of jitter, returning floats in [0, 1) (inject in tests).
    """

    session: Session
    _shared: _Shared

    def __init__(
        self,
        auth: Auth,
        *,
        base_url: str | NotGiven = NOT_GIVEN,
        timeout: float | Timeout | NotGiven | None = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
        rate_limit: float | NotGiven | None = NOT_GIVEN,
        rate_burst: int | NotGiven = NOT_GIVEN,
        throttle_budget: float | NotGiven = NOT_GIVEN,
        max_response_size: int | NotGiven = NOT_GIVEN,
        session: aiohttp.ClientSession | NotGiven | None = NOT_GIVEN,
        sleep: Sleep | NotGiven = NOT_GIVEN,
        rng: Callable[[], float] | NotGiven = NOT_GIVEN,
        _parent: WhatsAppManager | None = None,
    ) -> None:
        per_call = {
            "timeout": timeout,
            "max_retries": max_retries,
            "retry": retry,
            "throttle_budget": throttle_budget,
            "max_response_size": max_response_size,
        }
        given: dict[str, Any] = {k: v for k, v in per_call.items() if v is not NOT_GIVEN}
        if _parent is not None:
            # A with_options copy: per-call options over the parent's; everything else (the
            # connection pool, rate limiter, lifecycle, scheduler) is the parent's own.
            session_ = _parent.session.with_options(**given)
            self._shared = _parent._shared
        else:
            shared: dict[str, Any] = {
                "base_url": base_url,
                "rate_limit": rate_limit,
                "rate_burst": rate_burst,
                "session": session,
                "sleep": sleep,
                "rng": rng,
            }
            given.update((k, v) for k, v in shared.items() if v is not NOT_GIVEN)
            session_ = Session(auth, **given)
            self._shared = _Shared()
        self.session = session_
        #: Create, get, list and delete deployments.
        self.deployments = Deployments(session_)
        #: Verify the OTP, or have it sent again.
        self.otp = OTP(session_)
        #: The business profile and its photo.
        self.profile = Profiles(session_)
        #: Sticker packs.
        self.stickerpacks = Stickerpacks(session_)
        #: Stickers inside a pack.
        self.stickers = Stickers(session_)

    def with_options(
        self,
        *,
        timeout: float | Timeout | NotGiven | None = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
        throttle_budget: float | NotGiven = NOT_GIVEN,
        max_response_size: int | NotGiven = NOT_GIVEN,
    ) -> WhatsAppManager:
        """A client with other per-call options for some calls::

            await wam.with_options(timeout=5, max_retries=0).deployments.get(dep_id)

        Built through the constructor (so the same checks apply); options not given are this
        client's. The copy shares this client's connections, rate limiter, lifecycle (closing
        either closes both) and poll scheduler (its watchers batch with this client's).
        """
        return WhatsAppManager(
            self.session.auth,
            timeout=timeout,
            max_retries=max_retries,
            retry=retry,
            throttle_budget=throttle_budget,
            max_response_size=max_response_size,
            _parent=self,
        )

    @property
    def scheduler(self) -> PollScheduler:
        """The poll scheduler every watcher of this client and its copies shares (created on
        first use)."""
        shared = self._shared
        if shared.scheduler is None:
            shared.scheduler = PollScheduler(self.deployments)
        return shared.scheduler

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
