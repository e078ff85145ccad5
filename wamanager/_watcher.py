"""``DeploymentWatcher``: turns the minutes-long remote state machine into awaits and events.

Three parts, kept apart (azure-core's poller / polling method / algorithm split):

* **decisions** — :class:`~wamanager.PollPolicy` says *when* to poll,
  :func:`~wamanager._states.interpret` what a snapshot means, and
  :func:`~wamanager.next_otp_action` which OTP step to take; all pure;
* **the loop** — :class:`DeploymentWatcher` polls through a poll function (the client's
  :class:`~wamanager.PollScheduler`), makes the OTP calls it is given, and waits on
  a :class:`~wamanager.Clock`. It never imports the client;
* **delivery** — events go to callbacks, async iterators and awaitables from a task of their
  own, so a slow callback or a full iterator buffer never delays a poll or an OTP step. A
  watch nobody subscribes to has no such task (10,000 silent watchers cost one task each).

Usage::

    async with wam.watch(deployment_id, otp=read_code) as watcher:
        watcher.on(DeploymentState.CODE_SENT, lambda event: print("code sent"))
        deployment = await watcher.result()      # READY, or raises
"""

from __future__ import annotations

import inspect
import logging
import random
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timezone
from types import TracebackType
from typing import Any, Protocol, TypedDict

import anyio
import attrs
from anyio.abc import TaskGroup

from ._clock import SYSTEM_CLOCK, Clock, SystemClock
from ._errors import (
    Conflict,
    DeploymentDeleted,
    DeploymentFailed,
    NotFound,
    ServerError,
    Throttled,
    TransportError,
    UnexpectedResponse,
    ValidationError,
    VerificationFailed,
    WatchEnded,
    WatchTimeout,
)
from ._events import (
    CodeRejected,
    CodeRequested,
    CodeResent,
    CodeVerified,
    Event,
    Failed,
    PollFailed,
    StateChanged,
    Succeeded,
)
from ._models import Deployment, OTPMethod, ProblemDetails
from ._policy import (
    GiveUp,
    OTPPolicy,
    OTPProgress,
    PollPolicy,
    Resend,
    Verify,
    Wait,
    next_otp_action,
)
from ._retry import capped_retry_after
from ._states import ACTIONABLE, DeploymentState, Signal, interpret

__all__ = [
    "Callback",
    "DeploymentWatcher",
    "EventStream",
    "OTPProvider",
    "Poll",
    "ProgressHook",
    "Target",
    "WatchOptions",
    "watch_arguments",
]

logger = logging.getLogger("wamanager.watcher")


class OTPProvider(Protocol):
    """Where a watcher gets the OTP: any async function ``(deployment) -> code or None``.

    It is asked on every poll while the deployment waits for a code; it returns the code the
    number received, or ``None`` while none has come (a person reading an SMS, a gateway, the
    sandbox inbox). An exception it raises is logged and counts as ``None``.
    """

    def __call__(self, deployment: Deployment, /) -> Awaitable[str | None]:
        """The code ``deployment``'s number received, or ``None`` while none has come."""
        ...


#: What :meth:`DeploymentWatcher.wait_for` accepts: a state, several, or a predicate.
Target = DeploymentState | str | Iterable[DeploymentState | str] | Callable[[Deployment], bool]
#: A subscriber: called with an event; may return an awaitable, which is awaited.
Callback = Callable[[Any], Awaitable[None] | None]
#: Awaited with the new :class:`~wamanager.OTPProgress` whenever the OTP step changes, and
#: before each verify or resend call (a journal writes it down there).
ProgressHook = Callable[[OTPProgress], Awaitable[None]]
#: ``verify(deployment_id, code)``.
VerifyCall = Callable[[str, str], Awaitable[object]]
#: ``resend(deployment_id, method)``; ``None`` asks for the deployment's own method.
ResendCall = Callable[[str, OTPMethod | None], Awaitable[object]]


class Poll(Protocol):
    """How a watcher gets snapshots: :meth:`PollScheduler.poll <wamanager.PollScheduler.poll>`."""

    async def __call__(
        self, deployment_id: str, *, delay: float, interval: float, clock: Clock
    ) -> Deployment:
        """A snapshot of ``deployment_id`` taken about ``delay`` seconds of ``clock`` from now."""
        ...


class WatchOptions(TypedDict, total=False):
    """The watcher options ``wam.watch()``, ``provision()`` and ``provision_many()`` accept.

    ``resend_after``, ``max_resends``, ``max_verify_attempts`` and ``fallback_to_voice``
    override the fields of ``otp_policy`` (an :class:`~wamanager.OTPPolicy`; default limits
    when not given). See :class:`DeploymentWatcher` for the others.
    """

    policy: PollPolicy | None
    otp_policy: OTPPolicy | None
    resend_after: float
    max_resends: int
    max_verify_attempts: int
    fallback_to_voice: bool
    clock: Clock
    progress: OTPProgress | None
    method: OTPMethod | str | None
    on_progress: ProgressHook | None


_OTP_POLICY_FIELDS = frozenset(f.name for f in attrs.fields(OTPPolicy))
# The delivery methods, as given: a plain list, so that any value can be looked up in it.
_METHODS = [m.value for m in OTPMethod]


def watch_arguments(options: WatchOptions) -> dict[str, Any]:
    """The :class:`DeploymentWatcher` keyword arguments for ``options``.

    The OTP limits given one by one are folded into one :class:`~wamanager.OTPPolicy`. An
    unknown option raises :class:`~wamanager.ValidationError` (a misspelt limit must
    not be silently ignored).
    """
    unknown = sorted(set(options) - set(WatchOptions.__annotations__))
    if unknown:
        raise ValidationError(
            [(name, "is not a watcher option") for name in unknown], model="watch options"
        )
    arguments: dict[str, Any] = dict(options)
    problems = _option_problems(arguments)
    if problems:
        raise ValidationError(problems, model="watch options")
    limits = {name: arguments.pop(name) for name in _OTP_POLICY_FIELDS if name in arguments}
    if limits:
        arguments["otp_policy"] = attrs.evolve(arguments.get("otp_policy") or OTPPolicy(), **limits)
    return arguments


def _option_problems(options: dict[str, Any]) -> list[tuple[str, str]]:
    """What is wrong with the types of the watcher ``options`` given (the OTP limits are
    checked by :class:`~wamanager.OTPPolicy`)."""
    problems: list[tuple[str, str]] = []
    for name, kind in (
        ("policy", PollPolicy),
        ("otp_policy", OTPPolicy),
        ("progress", OTPProgress),
    ):
        value = options.get(name)
        if value is not None and not isinstance(value, kind):
            problems.append((name, f"must be a {kind.__name__} or None"))
    method = options.get("method")
    if method is not None and method not in _METHODS:
        problems.append(("method", "must be 'sms' or 'voice'"))
    on_progress = options.get("on_progress")
    if on_progress is not None and not callable(on_progress):
        problems.append(("on_progress", "must be an async function (progress) or None"))
    if "clock" in options and not isinstance(options["clock"], Clock):
        problems.append(("clock", "must have now() and an async sleep(seconds)"))
    return problems


# Failures a poll or an OTP call survives: the watch backs off and tries again.
_TRANSIENT = (TransportError, ServerError, Throttled, UnexpectedResponse)
# When a 429 on an OTP call gives no Retry-After, the OTP step waits this long.
_OTP_COOLDOWN = 30.0


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _as_predicate(target: Target) -> tuple[Callable[[Deployment], bool], str]:
    if isinstance(target, (DeploymentState, str)):
        wanted = DeploymentState(str(target))
        return (lambda d: d.state == wanted), str(wanted)
    if callable(target):
        return target, getattr(target, "__name__", "predicate")
    states = frozenset(DeploymentState(str(s)) for s in target)
    return (lambda d: d.state in states), " or ".join(sorted(states))


def _accepted(exc: Exception) -> bool:
    """Whether a failed OTP call was in fact accepted: a 2xx whose body did not parse."""
    return isinstance(exc, UnexpectedResponse) and 200 <= exc.status < 300


class _Waiter:
    __slots__ = ("description", "done", "error", "predicate", "value")

    def __init__(self, predicate: Callable[[Deployment], bool], description: str) -> None:
        self.predicate = predicate
        self.description = description
        self.done = anyio.Event()
        self.value: Deployment | None = None
        self.error: BaseException | None = None


class EventStream:
    """An async iterator over a watcher's events, fed through a bounded buffer.

    When the buffer is full, delivery to *this stream* waits for you (the watch itself goes
    on), so keep reading, or :meth:`close` it (``break`` out of ``async for`` and drop it:
    the watcher holds streams weakly, so an abandoned one never stalls delivery). Iteration
    ends when the watch ends and the buffered events have been read.
    """

    def __init__(self, size: int) -> None:
        self._items: deque[Event] = deque()
        self._size = size
        self._ended = False
        self._closed = False
        self._readable = anyio.Event()
        self._writable = anyio.Event()

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> Event:
        while not self._items:
            if self._ended or self._closed:
                raise StopAsyncIteration
            self._readable = anyio.Event()
            await self._readable.wait()
        self._writable.set()
        return self._items.popleft()

    def close(self) -> None:
        """Stop receiving: buffered events are dropped and the watcher sends no more."""
        self._closed = True
        self._items.clear()
        self._readable.set()
        self._writable.set()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    async def _put(self, event: Event) -> None:
        while len(self._items) >= self._size and not self._closed:
            self._writable = anyio.Event()
            await self._writable.wait()
        if not self._closed:
            self._items.append(event)
            self._readable.set()

    def _end(self) -> None:
        self._ended = True
        self._readable.set()


class DeploymentWatcher:
    """Watches one deployment until READY, driving the OTP steps if given a provider.

    Make one with :meth:`WhatsAppManager.watch <wamanager.WhatsAppManager.watch>`. Run it
    with ``async with watcher:`` (it polls in a background task and stops on exit) or
    ``await watcher.result()`` (which, outside ``async with``, runs the watch in the awaiting
    task); :meth:`wait_for` works with both. Consume what happens three ways:

    * callbacks: :meth:`on` and :meth:`on_change` (sync or async; a failing one is logged);
    * an async iterator: ``async for event in watcher.events()``;
    * awaitables: :meth:`result` / ``await watcher`` and :meth:`wait_for`.

    OTP driving (when ``otp`` is given) follows :func:`~wamanager.next_otp_action`: in
    CODE_SENT or WRONG_CODE the watcher asks ``otp`` for a code on every poll and verifies
    what comes; a rejected code (422) makes it ask again, up to
    ``otp_policy.max_verify_attempts`` rejections. When no code comes within
    ``otp_policy.resend_after`` it calls resend-otp (by voice with ``fallback_to_voice``,
    else by the deployment's ``method``), up to ``max_resends`` times, then gives up with
    :class:`~wamanager.WatchTimeout`. A 429 on verify or resend delays this
    deployment's OTP step by the (capped, jittered) ``Retry-After``; a 409 or a transient
    failure is retried on the next poll. Where the step is lives in :attr:`otp_progress`.

    Args:
        deployment_id: the deployment to watch.
        poll: where snapshots come from (see :class:`Poll`).
        otp: the OTP provider; ``None`` only observes.
        verify: ``verify(deployment_id, code)``, needed with ``otp``.
        resend: ``resend(deployment_id, method)``, needed with ``otp``.
        policy: when to poll, the deadline, the stuck limit.
        otp_policy: the OTP limits.
        progress: where a previous run left the OTP step (from a journal).
        method: the deployment's own OTP method, if known (what a resend uses).
        on_progress: awaited with every new :class:`~wamanager.OTPProgress`.
        clock: the time every wait is measured in (default: real time).
        buffer_size: the buffer of each :meth:`events` iterator.
    """

    def __init__(
        self,
        deployment_id: str,
        *,
        poll: Poll,
        otp: OTPProvider | None = None,
        verify: VerifyCall | None = None,
        resend: ResendCall | None = None,
        policy: PollPolicy | None = None,
        otp_policy: OTPPolicy | None = None,
        progress: OTPProgress | None = None,
        method: OTPMethod | str | None = None,
        on_progress: ProgressHook | None = None,
        clock: Clock = SYSTEM_CLOCK,
        buffer_size: int = 256,
        rng: Callable[[], float] = random.random,
    ) -> None:
        problems: list[tuple[str, str]] = []
        if not isinstance(deployment_id, str) or not deployment_id:
            problems.append(("deployment_id", "must be a non-empty string"))
        if otp is not None and (verify is None or resend is None):
            problems.append(("otp", "an OTP provider needs the verify and resend calls"))
        if otp is not None and not callable(otp):
            problems.append(("otp", "must be an async function (deployment) -> code or None"))
        problems += _option_problems(
            {
                "policy": policy,
                "otp_policy": otp_policy,
                "progress": progress,
                "method": method,
                "on_progress": on_progress,
                "clock": clock,
            }
        )
        if problems:
            raise ValidationError(problems, model="DeploymentWatcher")
        self.deployment_id = deployment_id
        self.policy = policy or PollPolicy()
        self.otp_policy = otp_policy or OTPPolicy()
        self.method = None if method is None else OTPMethod(method)
        self._poll = poll
        self._otp = otp
        self._verify_call = verify
        self._resend_call = resend
        self._on_progress = on_progress
        self._clock = clock
        self._rng = rng
        self._buffer_size = buffer_size
        self._progress = (progress or OTPProgress()).resumed()
        self._otp_failures = 0
        self._last_rejection: VerificationFailed | None = None
        # delivery
        self._subscribers: list[tuple[object, Callback]] = []
        self._streams: weakref.WeakSet[EventStream] = weakref.WeakSet()
        self._waiters: list[_Waiter] = []
        self._history: list[Deployment] = []
        self._outbox: deque[Event] = deque()
        self._outbox_closed = False
        self._outbox_ready = anyio.Event()
        self._delivery: TaskGroup | None = None
        self._delivering = False
        # lifecycle
        self._task_group: TaskGroup | None = None
        self._started = False
        self._finished = anyio.Event()
        self._result: Deployment | None = None
        self._error: BaseException | None = None
        # what the poll loop has seen
        self._latest: Deployment | None = None
        self._state_since = 0.0

    # --- what the watcher knows -------------------------------------------------------

    @property
    def latest(self) -> Deployment | None:
        """The last snapshot polled (``None`` before the first poll)."""
        return self._latest

    @property
    def state(self) -> DeploymentState | None:
        """The last state seen."""
        return self._latest.state if self._latest else None

    @property
    def otp_progress(self) -> OTPProgress:
        """Where the OTP step is (serialisable: store it to resume the step later)."""
        return self._progress

    @property
    def done(self) -> bool:
        """Whether the watch has ended (with a result or an error)."""
        return self._finished.is_set()

    def __repr__(self) -> str:
        return f"<DeploymentWatcher {self.deployment_id} state={self.state} done={self.done}>"

    # --- subscribing ------------------------------------------------------------------

    def on(self, key: DeploymentState | str | type[Event], callback: Callback) -> None:
        """Call ``callback(event)`` for events of a type, or on entering a state.

        ``key`` is an event class (``CodeResent``; ``Event`` for every event) or a state
        (``DeploymentState.CODE_SENT``: called with the :class:`StateChanged` into it).
        """
        if isinstance(key, type) and issubclass(key, Event):
            self._subscribers.append((key, callback))
        else:
            self._subscribers.append((DeploymentState(str(key)), callback))
        self._start_delivery()

    def on_change(self, callback: Callback) -> None:
        """Call ``callback(event)`` with every :class:`StateChanged`."""
        self.on(StateChanged, callback)

    def events(self) -> EventStream:
        """Every event from now on, in order, until the watch ends."""
        stream = EventStream(self._buffer_size)
        if self.done:
            stream._end()
        else:
            self._streams.add(stream)
            self._start_delivery()
        return stream

    # --- awaiting ---------------------------------------------------------------------

    async def result(self) -> Deployment:
        """Wait for the end of the watch: the READY deployment, or the reason it failed.

        Raises :class:`~wamanager.DeploymentFailed` (ERROR, with its detail),
        :class:`~wamanager.DeploymentDeleted`, :class:`~wamanager.WatchTimeout`,
        or the API error that stopped it (a rejected OTP past ``max_verify_attempts``, 401…).
        """
        if not self._started:
            self._started = True
            await self._run()
        await self._finished.wait()
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result

    def __await__(self) -> Any:
        return self.result().__await__()

    async def wait_for(self, target: Target, timeout: float | None = None) -> Deployment:
        """Wait until a snapshot matches ``target`` (a state, states, or a predicate).

        Returns at once if a matching snapshot was already seen. Raises the watch's own error
        if it fails first, :class:`~wamanager.WatchEnded` if it ends (READY, or the
        watcher closed) without a match, and :class:`~wamanager.WatchTimeout` after
        ``timeout`` (real) seconds. It never hangs on a finished watch.
        """
        predicate, description = _as_predicate(target)
        for snapshot in self._history:
            if predicate(snapshot):
                return snapshot
        if not self._started:
            raise RuntimeError(
                "the watcher is not running: use `async with watcher:` or await its result()"
            )
        waiter = _Waiter(predicate, description)
        if self.done:
            self._settle(waiter)
        else:
            self._waiters.append(waiter)
        try:
            with anyio.fail_after(timeout):
                await waiter.done.wait()
        except TimeoutError:
            raise WatchTimeout(
                f"deployment {self.deployment_id}: {description} not seen within {timeout}s",
                deployment_id=self.deployment_id,
                state=self.state,
            ) from None
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
        if waiter.error is not None:
            raise waiter.error
        assert waiter.value is not None
        return waiter.value

    # --- lifecycle --------------------------------------------------------------------

    async def __aenter__(self) -> DeploymentWatcher:
        if self._started:
            raise RuntimeError("a watcher runs once; make another with wam.watch()")
        self._started = True
        self._task_group = anyio.create_task_group()
        await self._task_group.__aenter__()
        self._task_group.start_soon(self._run, name=f"watch {self.deployment_id}")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        assert self._task_group is not None
        self._task_group.cancel_scope.cancel()
        # The watch task never raises, so the body's own error is the only one: let it
        # propagate as it is instead of wrapped in an ExceptionGroup by the task group.
        # Cancellation still goes through, so that enclosing cancel scopes see it.
        own_error = exc is not None and not isinstance(exc, anyio.get_cancelled_exc_class())
        try:
            if own_error:
                await self._task_group.__aexit__(None, None, None)
                return None
            return await self._task_group.__aexit__(exc_type, exc, tb)
        finally:
            self._task_group = None
            self._end_if_running(f"the watcher of {self.deployment_id} was closed")

    async def _run(self) -> None:
        """The whole watch: the poll loop and event delivery, side by side."""
        outcome: Deployment | BaseException | None = None
        try:
            async with anyio.create_task_group() as delivery:
                self._delivery = delivery
                if self._subscribers or self._streams:
                    self._start_delivery()
                try:
                    outcome = await self._watch()
                    self._emit(
                        Succeeded(deployment_id=self.deployment_id, at=_now(), deployment=outcome)
                    )
                except Exception as exc:
                    outcome = exc
                    self._emit(
                        Failed(
                            deployment_id=self.deployment_id,
                            at=_now(),
                            error=exc,
                            deployment=self._latest,
                        )
                    )
                finally:
                    self._close_outbox()  # delivery drains what is left, then ends
                    self._delivery = None
        finally:
            # Cancelled (the watcher closed, an enclosing scope): whoever awaits learns it.
            if isinstance(outcome, Deployment):
                self._end(outcome, None)
            elif outcome is not None:
                self._end(None, outcome)
            else:
                self._end_if_running(f"the watch of {self.deployment_id} was cancelled")

    async def _watch(self) -> Deployment:
        """The poll loop, bounded by the policy's deadline (on the watcher's clock)."""
        deadline = self.policy.deadline
        if deadline is None:
            return await self._poll_until_done()
        if isinstance(self._clock, SystemClock):
            # Real time: the event loop's own timer does it, with no task of its own.
            with anyio.move_on_after(deadline):
                return await self._poll_until_done()
            raise self._timed_out(deadline)
        outcome: list[Deployment | Exception] = []
        async with anyio.create_task_group() as group:

            async def body() -> None:
                try:
                    outcome.append(await self._poll_until_done())
                except Exception as exc:
                    outcome.append(exc)
                finally:
                    group.cancel_scope.cancel()

            async def timer() -> None:
                await self._clock.sleep(deadline)
                group.cancel_scope.cancel()

            group.start_soon(body)
            group.start_soon(timer)
        if not outcome:
            raise self._timed_out(deadline)
        if isinstance(outcome[0], Exception):
            raise outcome[0]
        return outcome[0]

    def _timed_out(self, deadline: float) -> WatchTimeout:
        # The deadline bounds everything, a slow request or OTP provider included.
        return WatchTimeout(
            f"deployment {self.deployment_id} not READY within {deadline:g}s "
            f"(last state {self.state})",
            deployment_id=self.deployment_id,
            state=self.state,
        )

    # --- the poll loop ----------------------------------------------------------------

    async def _poll_until_done(self) -> Deployment:
        self._state_since = self._clock.now()
        errors = 0
        delay = 0.0
        while True:
            retry_after: float | None = None
            try:
                snapshot = await self._poll(
                    self.deployment_id,
                    delay=delay,
                    interval=self.policy.interval_for(self.state),
                    clock=self._clock,
                )
            except NotFound as exc:
                if self._latest is None:
                    raise  # a wrong id, or another account's deployment
                raise DeploymentDeleted(self.deployment_id, self._latest) from exc
            except _TRANSIENT as exc:
                errors += 1
                self._emit(
                    PollFailed(
                        deployment_id=self.deployment_id, at=_now(), error=exc, attempt=errors
                    )
                )
                retry_after = exc.retry_after if isinstance(exc, Throttled) else None
            else:
                errors = 0
                finished = self._observe(snapshot)
                if finished is not None:
                    return finished
                if self._otp is not None and snapshot.state in ACTIONABLE:
                    try:
                        await self._otp_step(snapshot)
                    except NotFound as exc:
                        raise DeploymentDeleted(self.deployment_id, self._latest) from exc
            self._check_stuck()
            delay = self.policy.next_delay(
                self.state, errors=errors, retry_after=retry_after, random=self._rng()
            )

    def _check_stuck(self) -> None:
        limit = self.policy.stuck_after
        stuck_for = self._clock.now() - self._state_since
        if limit is not None and stuck_for >= limit:
            raise WatchTimeout(
                f"deployment {self.deployment_id} stuck in {self.state} for "
                f"{stuck_for:.0f}s (limit {limit:g}s)",
                deployment_id=self.deployment_id,
                state=self.state,
            )

    def _observe(self, snapshot: Deployment) -> Deployment | None:
        """Record what a snapshot means; return it when READY, raise when it failed."""
        previous = self.state
        current = snapshot.state or DeploymentState("UNKNOWN")
        self._latest = snapshot
        signals = interpret(previous, current)
        if Signal.CHANGED in signals:
            self._state_since = self._clock.now()
            self._history.append(snapshot)
            if Signal.UNEXPECTED in signals:
                logger.warning(
                    "deployment %s went from %s to %s, which the state table does not allow",
                    self.deployment_id,
                    previous,
                    current,
                )
            self._emit(
                StateChanged(
                    deployment_id=self.deployment_id,
                    at=_now(),
                    previous=previous,
                    current=current,
                    deployment=snapshot,
                )
            )
        # A code was (re)sent on entering CODE_SENT: the resend timer starts now, unless a
        # resumed progress already knows when the code of the first snapshot was sent.
        if (
            Signal.CODE_NEEDED in signals
            and previous not in ACTIONABLE
            and (self._progress.code_since is None or previous is not None)
        ):
            self._progress = attrs.evolve(self._progress, code_since=self._clock.now())
        if Signal.CODE_VERIFIED in signals and not self._progress.verified:
            self._progress = attrs.evolve(self._progress, verified=True, awaiting=False)
            self._emit(CodeVerified(deployment_id=self.deployment_id, at=_now()))
        self._resolve_waiters(snapshot)
        if Signal.SUCCEEDED in signals:
            return snapshot
        if Signal.FAILED in signals:
            raise DeploymentFailed(snapshot)
        if Signal.DELETED in signals:
            raise DeploymentDeleted(self.deployment_id, snapshot)
        return None

    # --- the OTP step -----------------------------------------------------------------

    async def _otp_step(self, snapshot: Deployment) -> None:
        """Take the OTP action :func:`next_otp_action` decides for this snapshot."""
        action = next_otp_action(
            self.otp_policy, self._progress, snapshot.state, self._clock.now(), method=self.method
        )
        if isinstance(action, Wait):
            return
        if isinstance(action, GiveUp):
            raise self._give_up(action, snapshot)
        if isinstance(action, Resend):
            await self._resend(action.method)
            return
        assert isinstance(action, Verify)
        assert self._otp is not None
        if not self._progress.awaiting:
            progress = self._progress
            await self._set_progress(codes_requested=progress.codes_requested + 1, awaiting=True)
            self._emit(
                CodeRequested(
                    deployment_id=self.deployment_id,
                    at=_now(),
                    attempt=self._progress.codes_requested,
                )
            )
        try:
            code = await self._otp(snapshot)
        except Exception:
            logger.exception("the OTP provider of deployment %s failed", self.deployment_id)
            code = None
        if code:
            await self._verify(code)

    def _give_up(self, action: GiveUp, snapshot: Deployment) -> Exception:
        if action.reason == "rejected":
            if self._last_rejection is not None:
                return self._last_rejection
            return VerificationFailed(
                422,
                ProblemDetails(
                    title="Verification Failed",
                    detail=f"{self._progress.rejected} codes were rejected",
                ),
            )
        return WatchTimeout(
            f"deployment {self.deployment_id}: no OTP code came within "
            f"{self.otp_policy.resend_after:g}s of the last of {self._progress.resends} resends",
            deployment_id=self.deployment_id,
            state=snapshot.state,
        )

    async def _verify(self, code: str) -> None:
        assert self._verify_call is not None
        await self._set_progress(pending="verify", pending_since=self._clock.now())
        try:
            await self._verify_call(self.deployment_id, code)
        except VerificationFailed as exc:
            self._last_rejection = exc
            self._otp_failures = 0
            await self._set_progress(
                rejected=self._progress.rejected + 1,
                awaiting=False,
                code_since=self._clock.now(),
                pending=None,
                pending_since=None,
            )
            self._emit(
                CodeRejected(
                    deployment_id=self.deployment_id,
                    at=_now(),
                    attempt=self._progress.rejected,
                    reason=exc.detail,
                )
            )
            return
        except (Conflict, *_TRANSIENT) as exc:
            if not _accepted(exc):
                await self._otp_call_failed(exc)
                return
        self._otp_failures = 0
        await self._set_progress(verified=True, awaiting=False, pending=None, pending_since=None)
        self._emit(CodeVerified(deployment_id=self.deployment_id, at=_now()))

    async def _resend(self, method: OTPMethod | None) -> None:
        assert self._resend_call is not None
        await self._set_progress(pending="resend", pending_since=self._clock.now())
        try:
            await self._resend_call(self.deployment_id, method)
        except (Conflict, *_TRANSIENT) as exc:
            # 409: the state moved on (the next poll shows where); 429: asked too often.
            if not _accepted(exc):
                await self._otp_call_failed(exc)
                return
        self._otp_failures = 0
        await self._set_progress(
            resends=self._progress.resends + 1,
            awaiting=False,
            code_since=self._clock.now(),
            pending=None,
            pending_since=None,
        )
        self._emit(
            CodeResent(
                deployment_id=self.deployment_id,
                at=_now(),
                method=(method or self.method or OTPMethod.SMS).value,
                resends=self._progress.resends,
            )
        )

    async def _otp_call_failed(self, error: Exception) -> None:
        """A verify or resend that did not happen: report it; a 429 cools this OTP step."""
        self._otp_failures += 1
        cooldown_until = self._progress.cooldown_until
        if isinstance(error, Throttled):
            wait = capped_retry_after(
                _OTP_COOLDOWN if error.retry_after is None else error.retry_after,
                self.policy.max_retry_after,
                self._rng(),
            )
            cooldown_until = self._clock.now() + wait
        await self._set_progress(pending=None, pending_since=None, cooldown_until=cooldown_until)
        self._emit(
            PollFailed(
                deployment_id=self.deployment_id,
                at=_now(),
                error=error,
                attempt=self._otp_failures,
            )
        )

    async def _set_progress(self, **changes: Any) -> None:
        self._progress = attrs.evolve(self._progress, **changes)
        if self._on_progress is not None:
            await self._on_progress(self._progress)

    # --- delivery ---------------------------------------------------------------------

    def _emit(self, event: Event) -> None:
        """Queue an event for delivery; never waits. With nobody subscribed it is dropped."""
        if self._subscribers or self._streams:
            self._outbox.append(event)
            self._outbox_ready.set()

    def _start_delivery(self) -> None:
        """Start the delivery task, once, when the watch has a first subscriber."""
        if self._delivery is not None and not self._delivering:
            self._delivering = True
            self._delivery.start_soon(self._deliver, name=f"events of {self.deployment_id}")

    def _close_outbox(self) -> None:
        self._outbox_closed = True
        self._outbox_ready.set()

    async def _deliver(self) -> None:
        """Hand queued events to streams and callbacks, in order, until the watch ends."""
        while True:
            while self._outbox:
                await self._dispatch(self._outbox.popleft())
            if self._outbox_closed:
                return
            self._outbox_ready = anyio.Event()
            await self._outbox_ready.wait()

    async def _dispatch(self, event: Event) -> None:
        for stream in list(self._streams):
            if stream.closed:
                self._streams.discard(stream)
            else:
                await stream._put(event)
        for key, callback in list(self._subscribers):
            if isinstance(key, type):
                wanted = isinstance(event, key)
            else:
                wanted = isinstance(event, StateChanged) and event.current == key
            if not wanted:
                continue
            try:
                outcome = callback(event)
                if inspect.isawaitable(outcome):
                    await outcome
            except Exception:
                logger.exception(
                    "a %s callback of deployment %s failed",
                    type(event).__name__,
                    self.deployment_id,
                )

    def _resolve_waiters(self, snapshot: Deployment) -> None:
        for waiter in list(self._waiters):
            if waiter.predicate(snapshot):
                waiter.value = snapshot
                waiter.done.set()
                self._waiters.remove(waiter)

    def _settle(self, waiter: _Waiter) -> None:
        """Fail a waiter the finished watch can no longer satisfy."""
        if self._error is not None and not isinstance(self._error, WatchEnded):
            waiter.error = self._error
        else:
            waiter.error = WatchEnded(
                f"deployment {self.deployment_id}: the watch ended in {self.state} before "
                f"{waiter.description} was seen",
                deployment_id=self.deployment_id,
                state=self.state,
            )
        waiter.done.set()

    def _end_if_running(self, why: str) -> None:
        if not self.done:
            self._end(None, WatchEnded(why, deployment_id=self.deployment_id, state=self.state))

    def _end(self, result: Deployment | None, error: BaseException | None) -> None:
        self._result, self._error = result, error
        self._finished.set()
        for stream in self._streams:
            stream._end()
        self._streams.clear()
        for waiter in self._waiters:
            self._settle(waiter)
        self._waiters.clear()
