"""``provision_many()``: onboard many numbers at once, resumable after a crash.

Every number takes the path of :func:`~wamanager.provision` (create, adopt on
``NumberInUse``, watch, OTP, profile, photo) on one client, so one poll scheduler and one
adaptive rate limit serve the whole run. At most ``concurrency`` numbers are in flight.

With ``journal=path`` the run writes each number's progress to a SQLite file (see
:mod:`wamanager._journal`) before and after every side-effecting request; running again with
the same journal and request list resumes: READY numbers are skipped, a number whose create
may have been sent is adopted by its recorded deployment id or through ``NumberInUse``
(never created twice), and its OTP step continues from its recorded progress.
"""

from __future__ import annotations

import csv
import inspect
import json
import logging
import math
import os
from collections import Counter
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import anyio
import attrs

from ._clock import Clock
from ._errors import ProvisioningError, ValidationError
from ._events import Event, StateChanged
from ._journal import Journal, JournalRow
from ._models import DeploymentRequest, PhotoUpdate, Profile
from ._otp_driver import OTPProvider
from ._policy import OTPProgress
from ._provisioning import provision
from ._rules import problems
from ._watch_options import WatchOptions, watch_arguments

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ._client import WhatsAppManager

__all__ = [
    "BulkEvent",
    "BulkProgress",
    "BulkReport",
    "NumberChanged",
    "NumberOutcome",
    "Onboarding",
    "provision_many",
]

logger = logging.getLogger("wamanager.bulk")


@attrs.frozen
class Onboarding:
    """One number of a bulk run, with its own profile and photo (else the run's defaults)."""

    request: DeploymentRequest
    profile: Profile | None = None
    photo_url: str | None = None


@attrs.frozen(kw_only=True)
class NumberChanged:
    """A number of the run moved: a new ``step``, a new deployment ``state``, or its end.

    ``step`` is ``"create"``, ``"watch"``, ``"profile"``, ``"photo"``, ``"done"`` (READY and
    set up), ``"failed"`` (``error`` says why) or ``"skipped"`` (READY in the journal).
    """

    msisdn: str
    position: int
    step: str
    at: datetime
    deployment_id: str | None = None
    state: str | None = None
    error: str | None = None


@attrs.frozen(kw_only=True)
class BulkProgress:
    """The run's totals, reported every ``progress_every`` seconds and at the end."""

    at: datetime
    total: int
    done: int
    failed: int
    in_flight: int
    #: Numbers in flight per deployment state (``"pending"`` before the first poll).
    by_state: Mapping[str, int]
    #: Numbers finished (READY or failed) per minute so far in this run; numbers found READY
    #: in the journal and invalid rows do not count.
    rate_per_minute: float
    #: Seconds until the last number is expected to finish, at that rate (``None``: unknown).
    eta_seconds: float | None


#: What ``on_event`` receives.
BulkEvent = NumberChanged | BulkProgress


@attrs.frozen
class NumberOutcome:
    """How one number ended.

    ``status`` is ``"ready"`` (READY, profile and photo applied), ``"failed"`` (``step`` is
    where, ``error_type`` and ``error`` what) or ``"invalid"`` (rejected before any request).
    ``resumed`` is true for a number found READY in the journal and not touched again.
    """

    position: int
    msisdn: str
    status: str
    deployment_id: str | None = None
    step: str | None = None
    error_type: str | None = None
    error: str | None = None
    resumed: bool = False
    #: Seconds spent in each step during this run.
    stage_seconds: Mapping[str, float] = attrs.field(factory=dict)


_CSV_FIELDS = ("position", "msisdn", "status", "deployment_id", "step", "error_type", "error")


@attrs.frozen
class BulkReport:
    """What a bulk run did: every number's outcome, counts, time per stage, requests made."""

    outcomes: tuple[NumberOutcome, ...]
    #: Seconds the run took (on its clock).
    duration: float
    #: HTTP attempts the client made during the run, and how many were answered 429.
    requests: int
    throttled: int
    #: The most numbers ever in flight at once (never above ``concurrency``).
    max_in_flight: int

    @property
    def counts(self) -> Mapping[str, int]:
        """Numbers per status (``ready``, ``failed``, ``invalid``)."""
        return dict(Counter(outcome.status for outcome in self.outcomes))

    @property
    def ready(self) -> tuple[NumberOutcome, ...]:
        """The numbers that ended READY."""
        return tuple(o for o in self.outcomes if o.status == "ready")

    @property
    def failed(self) -> tuple[NumberOutcome, ...]:
        """The numbers that did not (failed or invalid)."""
        return tuple(o for o in self.outcomes if o.status != "ready")

    @property
    def stage_seconds(self) -> Mapping[str, float]:
        """Mean seconds per step, over the numbers that went through it in this run."""
        spent: dict[str, list[float]] = {}
        for outcome in self.outcomes:
            for stage, seconds in outcome.stage_seconds.items():
                spent.setdefault(stage, []).append(seconds)
        return {stage: sum(values) / len(values) for stage, values in spent.items()}

    def to_json(self) -> dict[str, Any]:
        """The report as a JSON-ready dict."""
        return {
            "counts": self.counts,
            "duration": self.duration,
            "requests": self.requests,
            "throttled": self.throttled,
            "max_in_flight": self.max_in_flight,
            "stage_seconds": self.stage_seconds,
            "outcomes": [attrs.asdict(outcome) for outcome in self.outcomes],
        }

    def write_json(self, path: str | os.PathLike[str]) -> None:
        """Write :meth:`to_json` to ``path``."""
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(self.to_json(), handle, indent=2, ensure_ascii=False)
            handle.write("\n")

    def write_csv(self, path: str | os.PathLike[str]) -> None:
        """Write one row per number to ``path`` (position, number, status, id, step, error)."""
        with open(path, "w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=_CSV_FIELDS)
            writer.writeheader()
            for outcome in self.outcomes:
                writer.writerow({field: getattr(outcome, field) for field in _CSV_FIELDS})


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
    if not isinstance(concurrency, int) or isinstance(concurrency, bool) or concurrency < 1:
        raise ValidationError([("concurrency", "must be a whole number >= 1")], model="bulk")
    if isinstance(progress_every, bool) or not isinstance(progress_every, (int, float)):
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
            tg.start_soon(run.deliver)
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


def _now() -> datetime:
    return datetime.now(timezone.utc)


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
        self._events: list[BulkEvent] = []
        self._ready = anyio.Event()
        self._closed = False

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

    def _invalid(self, position: int, msisdn: str, found: list[tuple[str, str]]) -> None:
        error = ValidationError(found, model="DeploymentRequest")
        self.outcomes[position] = NumberOutcome(
            position, msisdn, "invalid", error_type="ValidationError", error=str(error)
        )
        self.emit(
            NumberChanged(
                msisdn=msisdn, position=position, step="failed", at=_now(), error=str(error)
            )
        )

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
                self.outcomes[position] = NumberOutcome(
                    position,
                    msisdn,
                    "ready",
                    deployment_id=row.deployment_id,
                    step="done",
                    resumed=True,
                )
                self.emit(
                    NumberChanged(
                        msisdn=msisdn,
                        position=position,
                        step="skipped",
                        at=_now(),
                        deployment_id=row.deployment_id,
                    )
                )
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
        current: list[str | None] = [None]

        async def on_step(step: str, deployment_id: str | None) -> None:
            now = self.clock.now()
            entered[step] = now
            current[0] = step
            if journal is not None:
                await journal.enter(msisdn, step, deployment_id)
            self.emit(
                NumberChanged(
                    msisdn=msisdn,
                    position=position,
                    step=step,
                    at=_now(),
                    deployment_id=deployment_id,
                )
            )

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
            self.emit(
                NumberChanged(
                    msisdn=msisdn,
                    position=position,
                    step="watch",
                    at=_now(),
                    deployment_id=event.deployment_id,
                    state=state,
                )
            )

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
                stage_seconds=_stages(entered, self.clock.now()),
            )
            self.emit(
                NumberChanged(
                    msisdn=msisdn,
                    position=position,
                    step="failed",
                    at=_now(),
                    deployment_id=exc.deployment_id,
                    error=message,
                )
            )
            return
        if journal is not None:
            await journal.finish(msisdn, "ready")
        self.outcomes[position] = NumberOutcome(
            position,
            msisdn,
            "ready",
            deployment_id=deployment.deployment_id,
            step="done",
            stage_seconds=_stages(entered, self.clock.now()),
        )

    # --- events ----------------------------------------------------------------------

    def emit(self, event: BulkEvent) -> None:
        """Queue an event for ``on_event`` (never waits)."""
        if self.on_event is not None:
            self._events.append(event)
            self._ready.set()

    def totals(self) -> BulkProgress:
        """The run's totals now."""
        done = sum(1 for o in self.outcomes.values() if o.status == "ready")
        failed = len(self.outcomes) - done
        elapsed = max(self.clock.now() - self.started, 1e-9)
        finished = done + failed
        # Only numbers worked on in this run set the pace: those found READY in the journal
        # and invalid rows finish at once, and would make a resumed run's ETA far too short.
        worked = sum(1 for o in self.outcomes.values() if not o.resumed and o.status != "invalid")
        rate = worked / elapsed * 60
        remaining = self.total - finished
        eta = remaining / (worked / elapsed) if worked else None
        return BulkProgress(
            at=_now(),
            total=self.total,
            done=done,
            failed=failed,
            in_flight=len(self.in_flight),
            by_state=dict(Counter(self.in_flight.values())),
            rate_per_minute=rate,
            eta_seconds=0.0 if remaining == 0 else eta,
        )

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
        self._closed = True
        self._ready.set()

    async def deliver(self) -> None:
        """Hand queued events to ``on_event`` in order."""
        while True:
            await self.flush()
            if self._closed:
                return
            self._ready = anyio.Event()
            await self._ready.wait()

    async def flush(self) -> None:
        """Deliver every queued event now."""
        while self._events:
            event = self._events.pop(0)
            assert self.on_event is not None
            try:
                outcome = self.on_event(event)
                if inspect.isawaitable(outcome):
                    await outcome
            except Exception:
                logger.exception("a bulk on_event callback failed on %s", type(event).__name__)


def _problems(item: Onboarding) -> list[tuple[str, str]]:
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


def _stages(entered: Mapping[str, float], now: float) -> dict[str, float]:
    """Seconds per step from the times each was entered (the last one lasting until now)."""
    steps = sorted(entered.items(), key=lambda item: item[1])
    stages: dict[str, float] = {}
    for (step, at), (_, until) in zip(steps, [*steps[1:], ("end", now)], strict=True):
        if step != "done":
            stages[step] = until - at
    return stages
