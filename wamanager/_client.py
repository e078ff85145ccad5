"""``WhatsAppManager``: the client users hold."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import aiohttp

from ._auth import Auth, BasicAuth, JWTAuth
from ._clock import SYSTEM_CLOCK, Clock
from ._errors import ValidationError
from ._models import OTPMethod
from ._options import NOT_GIVEN, NotGiven, Sleep, Timeout
from ._otp_driver import OTPProvider
from ._rate_control import RateControl
from ._resources import OTP, Deployments, Profiles, Stickerpacks, Stickers
from ._retry import RetryPolicy
from ._scheduler import PollScheduler
from ._session import Session
from ._watch_options import WatchOptions, option_problems, watch_arguments
from ._watcher import DeploymentWatcher

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["WhatsAppManager"]


class _Shared:
    """What a client and its ``with_options`` copies share besides the session's
    :class:`~wamanager._connection.APIConnection` (credentials, connection pool, rate limiter,
    lifecycle): the poll scheduler and the watchers' clock."""

    __slots__ = ("clock", "scheduler")

    def __init__(self, clock: Clock) -> None:
        self.scheduler: PollScheduler | None = None
        self.clock = clock


#: The variable ``from_env`` reads each of these arguments from.
_VARIABLES = {
    "application_id": "VONAGE_APPLICATION_ID",
    "private_key": "VONAGE_PRIVATE_KEY",
    "api_key": "VONAGE_API_KEY",
    "api_secret": "VONAGE_API_SECRET",
    "base_url": "WAMANAGER_BASE_URL",
}


def _named_by_variables(error: ValidationError) -> ValidationError:
    """``error`` with each argument read from a variable named by that variable."""
    return ValidationError(
        [(_VARIABLES.get(field, field), reason) for field, reason in error.errors],
        model="environment",
    )


class WhatsAppManager:
    """Async client for the WhatsApp Provisioning API.

    Use it as an async context manager (or call :meth:`close`)::

        async with WhatsAppManager(auth=JWTAuth(application_id, private_key)) as wam:
            deployment = await wam.deployments.get(deployment_id)

    Resource groups: :attr:`deployments`, :attr:`otp`, :attr:`profiles`, :attr:`stickerpacks`
    and :attr:`stickers`. Every argument is checked here: bad values raise
    :class:`~wamanager.ValidationError` naming each one, before any request. An
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
        rate_control: the constants of the adaptive rate control
            (:class:`~wamanager.RateControl`): its starting rate, its floor (``min_rate``,
            the rate it never goes below however many 429s come), how fast it grows and
            recovers. Default: ``RateControl()``.
        throttle_budget: seconds one call may spend waiting out 429s (from its first 429)
            before it raises :class:`~wamanager.Throttled`. Default 120.
        max_response_size: bytes of a response body above which it is refused
            (:class:`~wamanager.UnexpectedResponse`). Default 10 MiB.
        session: an :class:`aiohttp.ClientSession` of yours; used as is, never closed here.
            Default: the client's own, with a pool of 100 connections.
        sleep: how to wait between retries (inject a fake in tests).
        rng: the random source of jitter, returning floats in [0, 1) (inject in tests).
        clock: the :class:`~wamanager.Clock` its watchers (and so ``provision()`` and
            ``provision_many()``) measure every wait on, unless a call passes its own.
            Default: real time; a sandbox's ``sandbox.clock`` makes them sandbox seconds.
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
        rate_control: RateControl | NotGiven | None = NOT_GIVEN,
        throttle_budget: float | NotGiven = NOT_GIVEN,
        max_response_size: int | NotGiven = NOT_GIVEN,
        session: aiohttp.ClientSession | NotGiven | None = NOT_GIVEN,
        sleep: Sleep | NotGiven = NOT_GIVEN,
        rng: Callable[[], float] | NotGiven = NOT_GIVEN,
        clock: Clock | NotGiven = NOT_GIVEN,
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
                "rate_control": rate_control,
                "session": session,
                "sleep": sleep,
                "rng": rng,
            }
            given.update((k, v) for k, v in shared.items() if v is not NOT_GIVEN)
            problems = [] if isinstance(clock, NotGiven) else option_problems({"clock": clock})
            if problems:
                raise ValidationError(problems, model="WhatsAppManager")
            session_ = Session(auth, **given)
            self._shared = _Shared(SYSTEM_CLOCK if isinstance(clock, NotGiven) else clock)
        self.session = session_
        #: Create, get, list and delete deployments.
        self.deployments = Deployments(session_)
        #: Verify the OTP, or have it sent again.
        self.otp = OTP(session_)
        #: The business profile and its photo.
        self.profiles = Profiles(session_)
        #: Sticker packs.
        self.stickerpacks = Stickerpacks(session_)
        #: Stickers inside a pack.
        self.stickers = Stickers(session_)

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

        Raises :class:`~wamanager.ValidationError` naming every missing variable, or
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
        try:
            if pair is basic_pair:
                auth = BasicAuth(given["VONAGE_API_KEY"], given["VONAGE_API_SECRET"])
            else:
                private_key = given["VONAGE_PRIVATE_KEY"]
                if "-----BEGIN" in private_key and "\n" not in private_key:
                    # PEM text kept on one line, as .env files and CI secrets often hold it
                    private_key = private_key.replace("\\n", "\n")
                auth = JWTAuth(given["VONAGE_APPLICATION_ID"], private_key)
        except ValidationError as exc:
            raise _named_by_variables(exc) from None
        base_url = env.get("WAMANAGER_BASE_URL", "").strip()
        if not base_url or "base_url" in client_kwargs:
            return cls(auth, **client_kwargs)
        try:
            return cls(auth, base_url=base_url, **client_kwargs)
        except ValidationError as exc:
            raise _named_by_variables(exc) from None

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
            # A failed list falls back to single GETs at once, so the list is never retried.
            lists = self.session.with_options(max_retries=0)

            async def get_list() -> Any:
                return (await lists.request("GET", "/deployments")).data

            shared.scheduler = PollScheduler(self.deployments.get, get_list)
        return shared.scheduler

    def watch(
        self,
        deployment_id: str,
        *,
        otp: OTPProvider | None = None,
        **options: Unpack[WatchOptions],
    ) -> DeploymentWatcher:
        """A :class:`~wamanager.DeploymentWatcher` for one deployment.

        Without ``otp`` it only observes; with one it verifies codes and resends them (see
        the watcher's docs for the rules). ``options`` are the watcher's
        (:class:`~wamanager.WatchOptions`): ``policy``, ``resend_after`` (the spec
        suggests waiting five minutes for a code before asking for another),
        ``max_resends``, ``max_verify_attempts``, ``fallback_to_voice``, ``clock``, ``method``,
        ``progress``, ``on_progress``. Its polls go through this client's shared
        :attr:`scheduler`; its waits run on ``clock``, this client's :attr:`clock` unless given.
        """
        options.setdefault("clock", self.clock)
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
    def clock(self) -> Clock:
        """The clock this client's watchers measure their waits on (shared by its copies)."""
        return self._shared.clock

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

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"WhatsAppManager(base_url={self.base_url!r}, auth={self.session.auth!r})"
