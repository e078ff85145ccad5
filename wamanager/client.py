"""``WhatsAppManager``: the client users hold."""

from __future__ import annotations

import functools
import os
import random
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

import aiohttp
import anyio

from .auth import Auth, BasicAuth, JWTAuth
from .errors import ValidationError
from .models import OTPMethod
from .resources import OTP, Deployments, Profiles, Stickerpacks, Stickers
from .retry import RetryPolicy
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
from .watcher import DeploymentWatcher, OTPProvider, WatchOptions, watch_arguments

if TYPE_CHECKING:
    from typing_extensions import Unpack

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

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, **client_kwargs: Any
    ) -> WhatsAppManager:
        """A client whose credentials and base URL come from environment variables.

        The names are those of Vonage's own SDKs and CLI:

        * ``VONAGE_APPLICATION_ID`` and ``VONAGE_PRIVATE_KEY`` (a path to the PEM file, or
          the PEM text itself, ``\\n`` escapes allowed) give :class:`~wamanager.JWTAuth`;
        * ``VONAGE_API_KEY`` and ``VONAGE_API_SECRET`` give :class:`~wamanager.BasicAuth`;
        * ``WAMANAGER_BASE_URL``, if set, is the ``base_url`` (a sandbox, say).

        JWT wins: as soon as either JWT variable is set, both are needed and the basic pair
        is ignored (the spec applies ``bearerAuth`` only). An empty variable counts as unset.
        ``environ`` defaults to :data:`os.environ`; ``client_kwargs`` go to the constructor
        (an explicit ``base_url`` there beats ``WAMANAGER_BASE_URL``).

        Raises :class:`~wamanager.errors.ValidationError` naming every missing variable, or
        ``VONAGE_PRIVATE_KEY`` when the key cannot be read; no message quotes a secret.
        """
        env = os.environ if environ is None else environ
        jwt_pair = ("VONAGE_APPLICATION_ID", "VONAGE_PRIVATE_KEY")
        basic_pair = ("VONAGE_API_KEY", "VONAGE_API_SECRET")
        given = {name: env[name] for name in jwt_pair + basic_pair if env.get(name, "").strip()}
        if not given:
            reason = "none set: set {} and {} (JWT), or {} and {} (basic)".format(
                *jwt_pair, *basic_pair
            )
            raise ValidationError([("credentials", reason)], model="environment")
        pair = jwt_pair if given.keys() & set(jwt_pair) else basic_pair
        missing = [name for name in pair if name not in given]
        if missing:
            reason = f"is not set ({' and '.join(pair)} go together)"
            raise ValidationError([(name, reason) for name in missing], model="environment")
        auth: Auth
        if pair is basic_pair:
            auth = BasicAuth(given["VONAGE_API_KEY"], given["VONAGE_API_SECRET"])
        else:
            private_key = given["VONAGE_PRIVATE_KEY"]
            if "-----BEGIN" in private_key and "\n" not in private_key:
                # PEM text kept on one line, as .env files and CI secrets often hold it
                private_key = private_key.replace("\\n", "\n")
            try:
                auth = JWTAuth(given["VONAGE_APPLICATION_ID"], private_key)
            except ValidationError as exc:
                errors = [("VONAGE_PRIVATE_KEY", reason) for _, reason in exc.errors]
                raise ValidationError(errors, model="environment") from None
        base_url = env.get("WAMANAGER_BASE_URL", "").strip()
        if base_url:
            client_kwargs.setdefault("base_url", base_url)
        return cls(auth, **client_kwargs)

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
            # A failed list falls back to single GETs at once, so the list is never retried.
            lists = self.session.with_options(max_retries=0)
            self._scheduler = PollScheduler(
                self.deployments.get, functools.partial(lists.request, "GET", "/deployments")
            )
        return self._scheduler

    def watch(
        self,
        deployment_id: str,
        *,
        otp: OTPProvider | None = None,
        **options: Unpack[WatchOptions],
    ) -> DeploymentWatcher:
        """A :class:`~wamanager.watcher.DeploymentWatcher` for one deployment.

        Without ``otp`` it only observes; with one it verifies codes and resends them (see
        the watcher's docs for the rules). ``options`` are the watcher's
        (:class:`~wamanager.watcher.WatchOptions`): ``policy``, ``resend_after`` (the spec
        suggests waiting five minutes for a code before asking for another),
        ``max_resends``, ``max_verify_attempts``, ``fallback_to_voice``, ``clock``, ``method``,
        ``progress``, ``on_progress``. Its polls go through this client's shared
        :attr:`scheduler`.
        """
        return DeploymentWatcher(
            deployment_id,
            poll=self.scheduler.poll,
            otp=otp,
            verify=self.otp.verify,
            resend=self._resend_for_watch,
            **watch_arguments(options),
        )

    async def _resend_for_watch(self, deployment_id: str, method: OTPMethod | None) -> object:
        return await self.otp.resend(deployment_id, method=method)

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
