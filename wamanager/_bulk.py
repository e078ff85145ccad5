"""``provision_many()``: onboard many numbers at once, resumable after a crash.

Every number takes the path of :func:`~wamanager.provision` (create, adopt on
``NumberInUse``, watch, OTP, profile, photo) on one client, so one poll scheduler and one
adaptive rate limit serve the whole run. At most ``concurrency`` numbers are in flight. What
the run reports (events, the report) is in :mod:`wamanager._bulk_report`.

With ``journal=path`` the run writes each number's progress to a SQLite file (see
:mod:`wamanager._journal`) before and after every side-effecting request; running again with
the same journal and request list resumes: READY numbers are skipped, a number whose create
may have been sent is adopted by its recorded deployment id or through ``NumberInUse``
(never created twice), and its OTP step continues from its recorded progress.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import anyio
import attrs

from ._bulk_report import (
    BulkEvent,
    BulkProgress,
    BulkReport,
    NumberChanged,
    NumberOutcome,
    progress_of,
    stage_seconds,
)
from ._checks import is_count, is_number
from ._clock import Clock, utc_now
from ._errors import FieldProblem, ProvisioningError, ValidationError
from ._events import Event, StateChanged
from ._journal import Journal, JournalRow
from ._models import DeploymentRequest, PhotoUpdate, Profile
from ._otp_driver import OTPProvider
from ._outbox import Outbox, call_logged
from ._policy import OTPProgress
from ._provisioning import provision
from ._rules import problems
from ._watch_options import WatchOptions, watch_arguments

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ._client import WhatsAppManager

__all__ = ["Onboarding", "provision_many"]

logger = logging.getLogger("wamanager.bulk")


@attrs.frozen
class Onboarding:
    """One number of a bulk run, with its own profile and photo (else the run's defaults)."""

    request: DeploymentRequest
    profile: Profile | None = None
    photo_url: str | None = None


EventCallback = Callable[[BulkEvent], Awaitable[None] | None]


async def provision_many(
    wam: WhatsAppManager,
    requests: Iterable[DeploymentRequest | Onboarding]
    | AsyncIterable[DeploymentRequest | Onboarding],
    *,
    otp: OTPProvider,
    concurrency: int = 50,
    journal: str | os.PathLike[str] | None = None,
    profile: Profile | None = None,
    photo_url: str | None = None,
    on_event: EventCallback | None = None,
    progress_every: float = 5.0,
    **watch_options: Unpack[WatchOptions],
) -> BulkReport:
    """Onboard every number of ``requests``, ``concurrency`` at a time; a report of each.

    Args:
        wam: the client (its one scheduler and rate limit serve every number).
        requests: :class:`~wamanager.DeploymentRequest` or :class:`Onboarding` items (the
            latter with their own profile and photo), an iterable or an async iterable.
            Every item is validated first; invalid ones are reported, never sent.
        otp: the OTP provider, asked for every number's code.
        concurrency: numbers in flight at most.
        journal: a SQLite file recording progress; run again with the same file and list to
            resume (a file written for another list raises
            :class:`~wamanager.JournalError`).
        profile: the profile applied to every number without its own.
        photo_url: the photo applied to every number without its own.
        on_event: receives :class:`NumberChanged` events and :class:`BulkProgress` totals
            (sync or async; a failing callback is logged).
        progress_every: seconds (of the run's clock) between :class:`BulkProgress` totals.
        **watch_options: the watcher options (``policy``, a
            :class:`~wamanager.PollPolicy`; ``resend_after``, ``max_resends``,
            ``max_verify_attempts``, ``fallback_to_voice``, ``clock``…).

    Cancelling the run stops it cleanly: every journal write is whole, and the next run
    with the same journal resumes. Numbers that fail do not stop the others; the report says
    why each failed (a :class:`~wamanager.ProvisioningError`'s step and cause).
    """
    if not is_count(concurrency) or concurrency < 1:
        raise ValidationError([("concurrency", "must be a whole number >= 1")], model="bulk")
    if not is_number(progress_every):
        raise ValidationError(
            [("progress_every", "must be a number of seconds (0: no periodic totals)")],
            model="bulk",
        )
    options: dict[str, Any] = dict(watch_options)
    watch_arguments(watch_options)  # validates the option names and values, before anything
    clock: Clock = options.get("clock", wam.clock)
    items = await _collect(requests)
    run = _Run(wam, otp, clock, options, on_event, len(items))
    valid = run.validate(items, profile, photo_url)
    started = clock.now()
    counted = (wam.session.stats.requests, wam.session.stats.throttled)
    opened = await Journal.open(journal, [i.request for _, i in valid]) if journal else None
    try:
        run.journal = opened
        rows = await opened.rows() if opened else {}
        async with anyio.create_task_group() as tg:
            tg.start_soon(run.outbox.run)
            ticking = anyio.CancelScope()
            tg.start_soon(run.report_progress, progress_every, ticking)
            await run.onboard_all(valid, rows, concurrency)
            ticking.cancel()
            run.finished()  # delivery drains the queue, then ends
    finally:
        if opened is not None:
            await opened.close()
    stats = wam.session.stats
    return BulkReport(
        outcomes=tuple(sorted(run.outcomes.values(), key=lambda o: o.position)),
        duration=clock.now() - started,
        requests=stats.requests - counted[0],
        throttled=stats.throttled - counted[1],
        max_in_flight=run.max_in_flight,
    )


async def _collect(
    requests: Iterable[DeploymentRequest | Onboarding]
    | AsyncIterable[DeploymentRequest | Onboarding],
) -> list[Any]:
    if isinstance(requests, AsyncIterable):
        return [item async for item in requests]
    return list(requests)


class _Run:
    """The state of one bulk run: outcomes, counters, events, the journal."""

    def __init__(
        self,
        wam: WhatsAppManager,
        otp: OTPProvider,
        clock: Clock,
        options: dict[str, Any],
        on_event: EventCallback | None,
        total: int,
    ) -> None:
        self.wam = wam
        self.otp = otp
        self.clock = clock
        self.options = options
        self.on_event = on_event
        self.total = total
        self.journal: Journal | None = None
        self.outcomes: dict[int, NumberOutcome] = {}
        self.in_flight: dict[str, str] = {}  # msisdn -> last state
        self.max_in_flight = 0
        self.started = clock.now()
        self.outbox: Outbox[BulkEvent] = Outbox(self._deliver)

    # --- validation ------------------------------------------------------------------

    def validate(
        self, items: list[Any], profile: Profile | None, photo_url: str | None
    ) -> list[tuple[int, Onboarding]]:
        """Every item as an :class:`Onboarding`; invalid ones become outcomes, not work."""
        valid: list[tuple[int, Onboarding]] = []
        seen: set[str] = set()
        for position, item in enumerate(items):
            onboarding = item if isinstance(item, Onboarding) else Onboarding(item)
            if not isinstance(onboarding.request, DeploymentRequest):
                self._invalid(position, "", [("request", "must be a DeploymentRequest")])
                continue
            onboarding = attrs.evolve(
                onboarding,
                profile=onboarding.profile or profile,
                photo_url=onboarding.photo_url or photo_url,
            )
            found = _problems(onboarding)
            msisdn = _msisdn(onboarding.request)
            if not found and msisdn in seen:
                found = [("number", "appears twice in this run")]
            if found:
                self._invalid(position, msisdn, found)
                continue
            seen.add(msisdn)
            valid.append((position, onboarding))
        return valid

    def _invalid(self, position: int, msisdn: str, found: list[FieldProblem]) -> None:
        error = ValidationError(found, model="DeploymentRequest")
        self.outcomes[position] = NumberOutcome(
            position, msisdn, "invalid", error_type="ValidationError", error=str(error)
        )
        self.changed(position, msisdn, "failed", error=str(error))

    # --- the numbers -----------------------------------------------------------------

    async def onboard_all(
        self, valid: list[tuple[int, Onboarding]], rows: Mapping[str, JournalRow], concurrency: int
    ) -> None:
        """Onboard every valid number, ``concurrency`` at a time."""
        limiter = anyio.CapacityLimiter(concurrency)
        async with anyio.create_task_group() as numbers:
            for position, item in valid:
                token = object()  # a slot taken here, given back by the number's task
                await limiter.acquire_on_behalf_of(token)
                row = rows.get(item.request.msisdn)
                numbers.start_soon(self.onboard, position, item, row, limiter, token)

    async def onboard(
        self,
        position: int,
        item: Onboarding,
        row: JournalRow | None,
        limiter: anyio.CapacityLimiter,
        token: object,
    ) -> None:
        """Provision one number (its slot of ``limiter`` already taken), record its outcome."""
        request = item.request
        msisdn = request.msisdn
        try:
            if row is not None and (row.outcome == "ready" or row.step == "done"):
                self.ready(position, msisdn, row.deployment_id, resumed=True)
                self.changed(position, msisdn, "skipped", deployment_id=row.deployment_id)
                return
            self.in_flight[msisdn] = row.state if row and row.state else "pending"
            self.max_in_flight = max(self.max_in_flight, len(self.in_flight))
            await self._provision(position, item, row)
        finally:
            self.in_flight.pop(msisdn, None)
            limiter.release_on_behalf_of(token)

    async def _provision(self, position: int, item: Onboarding, row: JournalRow | None) -> None:
        request = item.request
        msisdn = request.msisdn
        journal = self.journal
        entered: dict[str, float] = {}

        async def on_step(step: str, deployment_id: str | None) -> None:
            entered[step] = self.clock.now()
            if journal is not None:
                await journal.enter(msisdn, step, deployment_id)
            self.changed(position, msisdn, step, deployment_id=deployment_id)

        async def on_progress(progress: OTPProgress) -> None:
            if journal is not None:
                await journal.progress(msisdn, progress)

        async def on_watch_event(event: Event) -> None:
            if not isinstance(event, StateChanged):
                return
            state = str(event.current)
            self.in_flight[msisdn] = state
            if journal is not None:
                await journal.state(msisdn, state)
            self.changed(position, msisdn, "watch", deployment_id=event.deployment_id, state=state)

        options = dict(self.options)
        if row is not None and row.otp_progress is not None:
            options["progress"] = row.otp_progress
        try:
            deployment = await provision(
                self.wam,
                request,
                otp=self.otp,
                profile=item.profile,
                photo_url=item.photo_url,
                deployment_id=row.deployment_id if row else None,
                on_event=on_watch_event,
                on_step=on_step,
                on_progress=on_progress,
                **options,
            )
        except ProvisioningError as exc:
            cause = exc.cause
            message = f"{type(cause).__name__}: {cause}"
            if journal is not None:
                await journal.finish(
                    msisdn, "failed", error_type=type(cause).__name__, error_message=message
                )
            self.outcomes[position] = NumberOutcome(
                position,
                msisdn,
                "failed",
                deployment_id=exc.deployment_id,
                step=exc.step,
                error_type=type(cause).__name__,
                error=message,
                stage_seconds=stage_seconds(entered, self.clock.now()),
            )
            self.changed(position, msisdn, "failed", deployment_id=exc.deployment_id, error=message)
            return
        if journal is not None:
            await journal.finish(msisdn, "ready")
        stages = stage_seconds(entered, self.clock.now())
        self.ready(position, msisdn, deployment.deployment_id, stage_seconds=stages)

    def ready(self, position: int, msisdn: str, deployment_id: str | None, **details: Any) -> None:
        """Record that the number at ``position`` ended READY and set up."""
        self.outcomes[position] = NumberOutcome(
            position, msisdn, "ready", deployment_id=deployment_id, step="done", **details
        )

    # --- events ----------------------------------------------------------------------

    def emit(self, event: BulkEvent) -> None:
        """Queue an event for ``on_event`` (never waits)."""
        if self.on_event is not None:
            self.outbox.put(event)

    def changed(self, position: int, msisdn: str, step: str, **fields: Any) -> None:
        """Report that the number at ``position`` moved (see :class:`NumberChanged`)."""
        self.emit(
            NumberChanged(msisdn=msisdn, position=position, step=step, at=utc_now(), **fields)
        )

    def totals(self) -> BulkProgress:
        """The run's totals now."""
        elapsed = self.clock.now() - self.started
        return progress_of(self.outcomes.values(), self.in_flight, self.total, elapsed)

    async def report_progress(self, every: float, scope: anyio.CancelScope) -> None:
        """Emit :class:`BulkProgress` every ``every`` seconds until ``scope`` is cancelled."""
        if not (every > 0 and math.isfinite(every)):
            return
        with scope:
            while True:
                await self.clock.sleep(every)
                self.emit(self.totals())

    def finished(self) -> None:
        """The last numbers are done: emit the final totals and let delivery drain."""
        self.emit(self.totals())
        self.outbox.close()

    async def _deliver(self, event: BulkEvent) -> None:
        assert self.on_event is not None
        await call_logged(
            self.on_event,
            event,
            logger,
            "a bulk on_event callback failed on %s",
            type(event).__name__,
        )


def _problems(item: Onboarding) -> list[FieldProblem]:
    found = list(problems(item.request))
    if item.profile is not None:
        found += [(f"profile.{field}", why) for field, why in problems(item.profile)]
    if item.photo_url is not None:
        found += [
            (f"photo_url{field[9:]}", why) for field, why in problems(PhotoUpdate(item.photo_url))
        ]
    return found


def _msisdn(request: DeploymentRequest) -> str:
    return (
        f"{request.country_code}{request.number}"
        if isinstance(request.country_code, str) and isinstance(request.number, str)
        else ""
    )
