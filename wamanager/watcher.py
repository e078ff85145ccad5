"""``DeploymentWatcher``: turns the minutes-long remote state machine into awaits and events.

Three parts, kept apart (azure-core's poller split):

* **policy** — :class:`~wamanager.policy.PollPolicy` decides *when* to poll (pure);
* **interpretation** — :func:`~wamanager.states.interpret` says what a snapshot means (pure);
* **delivery** — this module: the poll loop, the OTP steps, and the three ways to consume
  what happens (callbacks, an async iterator, awaitables). It is the only part doing I/O.

Usage::

    async with wam.watch(deployment_id, otp=read_code) as watcher:
        watcher.on(DeploymentState.CODE_SENT, lambda event: print("code sent"))
        deployment = await watcher.result()      # READY, or raises
"""

from __future__ import annotations

import inspect
import logging
import random
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timezone
from types import TracebackType
from typing import TYPE_CHECKING, Any

import anyio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from .errors import (
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
from .events import (
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
from .models import Deployment, OTPMethod
from .policy import PollPolicy
from .scheduler import PollScheduler
from .states import ACTIONABLE, DeploymentState, Signal, interpret

if TYPE_CHECKING:
    from .client import WhatsAppManager

__all__ = ["Callback", "DeploymentWatcher", "EventStream", "OTPProvider", "Target"]

logger = logging.getLogger("wamanager.watcher")

#: Asked for the OTP the number received; returns the code, or ``None`` while none has come.
OTPProvider = Callable[[Deployment], Awaitable[str | None]]
#: What :meth:`DeploymentWatcher.wait_for` accepts: a state, several, or a predicate.
Target = DeploymentState | str | Iterable[DeploymentState | str] | Callable[[Deployment], bool]
#: A subscriber: called with an event; may return an awaitable, which is awaited.
Callback = Callable[[Any], Awaitable[None] | None]

# Failures a poll or an OTP call survives: the watch backs off and tries again.
_TRANSIENT = (TransportError, ServerError, Throttled, UnexpectedResponse)


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

    The watcher waits (it does not drop events) when the buffer is full, so keep reading, or
    close the stream (``break`` out of ``async for`` does it) when you are done.
    """

    def __init__(self, receive: MemoryObjectReceiveStream[Event]) -> None:
        self._receive = receive

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> Event:
        try:
            return await self._receive.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            raise StopAsyncIteration from None

    def close(self) -> None:
        """Stop receiving; the watcher stops sending to this stream."""
        self._receive.close()

    def __del__(self) -> None:
        # An abandoned iterator must never stall the watcher on a full buffer.
        self._receive.close()


class DeploymentWatcher:
    """Watches one deployment until READY, driving the OTP steps if given a provider.

    Make one with :meth:`WhatsAppManager.watch`. Run it with ``async with watcher:`` (it polls
    in a background task and stops on exit) and/or ``await watcher.result()`` (which, outside
    ``async with``, runs the watch in the awaiting task). Consume what happens three ways:

    * callbacks: :meth:`on` and :meth:`on_change` (sync or async; a failing one is logged);
    * an async iterator: ``async for event in watcher.events()``;
    * awaitables: :meth:`result` / ``await watcher`` and :meth:`wait_for`.

    OTP driving (when ``otp`` is given): in CODE_SENT or WRONG_CODE the watcher asks ``otp``
    for a code on every poll; a code is verified, and a rejected one (422) makes it ask again,
    up to ``max_verify_attempts`` rejections. When no code comes within ``resend_after``
    seconds it calls resend-otp (by voice if ``fallback_to_voice``), up to ``max_resends``
    times, and then gives up with :class:`~wamanager.errors.WatchTimeout`. A 409 or 429 from
    verify or resend is waited out, never fatal.
    """

    def __init__(
        self,
        client: WhatsAppManager,
        deployment_id: str,
        *,
        scheduler: PollScheduler,
        otp: OTPProvider | None = None,
        policy: PollPolicy | None = None,
        resend_after: float = 300.0,
        max_resends: int = 3,
        max_verify_attempts: int = 3,
        fallback_to_voice: bool = False,
        buffer_size: int = 256,
        rng: Callable[[], float] = random.random,
    ) -> None:
        if not isinstance(deployment_id, str) or not deployment_id:
            raise ValidationError([("deployment_id", "must be a non-empty string")])
        self.deployment_id = deployment_id
        self.policy = policy or PollPolicy()
        self.resend_after = resend_after
        self.max_resends = max_resends
        self.max_verify_attempts = max_verify_attempts
        self.fallback_to_voice = fallback_to_voice
        self._client = client
        self._scheduler = scheduler
        self._otp = otp
        self._rng = rng
        self._buffer_size = buffer_size
        # delivery
        self._subscribers: list[tuple[object, Callback]] = []
        self._streams: list[MemoryObjectSendStream[Event]] = []
        self._waiters: list[_Waiter] = []
        self._history: list[Deployment] = []
        # lifecycle
        self._task_group: TaskGroup | None = None
        self._started = False
        self._finished = anyio.Event()
        self._result: Deployment | None = None
        self._error: BaseException | None = None
        # what the poll loop has seen and done
        self._latest: Deployment | None = None
        self._state_since = 0.0
        self._code_since = 0.0  # when the code now awaited was sent (set on entering CODE_SENT)
        self._asking = False
        self._code_requests = 0
        self._rejections = 0
        self._resends = 0
        self._verified = False

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

    def on_change(self, callback: Callback) -> None:
        """Call ``callback(event)`` with every :class:`StateChanged`."""
        self.on(StateChanged, callback)

    def events(self) -> EventStream:
        """Every event from now on, in order, until the watch ends."""
        send, receive = anyio.create_memory_object_stream[Event](self._buffer_size)
        if self.done:
            send.close()
        else:
            self._streams.append(send)
        return EventStream(receive)

    # --- awaiting ---------------------------------------------------------------------

    async def result(self) -> Deployment:
        """Wait for the end of the watch: the READY deployment, or the reason it failed.

        Raises :class:`~wamanager.errors.DeploymentFailed` (ERROR, with its detail),
        :class:`~wamanager.errors.DeploymentDeleted`, :class:`~wamanager.errors.WatchTimeout`,
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
        if it fails first, :class:`~wamanager.errors.WatchEnded` if it ends (READY, or the
        watcher closed) without a match, and :class:`~wamanager.errors.WatchTimeout` after
        ``timeout`` seconds. It never hangs on a finished watch.
        """
        predicate, description = _as_predicate(target)
        for snapshot in self._history:
            if predicate(snapshot):
                return snapshot
        if not self._started:
            raise RuntimeError("the watcher is not running: use `async with watcher:` first")
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
        # The poll task never raises, so the body's own error is the only one: let it
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
            if not self.done:
                self._end(
                    None,
                    WatchEnded(
                        f"the watcher of {self.deployment_id} was closed",
                        deployment_id=self.deployment_id,
                        state=self.state,
                    ),
                )

    # --- the poll loop ----------------------------------------------------------------

    async def _run(self) -> None:
        self._scheduler.attach()
        try:
            deployment = await self._watch()
        except Exception as exc:
            await self._emit(
                Failed(
                    deployment_id=self.deployment_id, at=_now(), error=exc, deployment=self._latest
                )
            )
            self._end(None, exc)
        except BaseException:
            # Cancelled: whoever awaits the result later learns the watch stopped.
            if not self.done:
                self._end(
                    None,
                    WatchEnded(
                        f"the watch of {self.deployment_id} was cancelled",
                        deployment_id=self.deployment_id,
                        state=self.state,
                    ),
                )
            raise
        else:
            await self._emit(
                Succeeded(deployment_id=self.deployment_id, at=_now(), deployment=deployment)
            )
            self._end(deployment, None)
        finally:
            self._scheduler.detach()

    async def _watch(self) -> Deployment:
        # The deadline bounds everything, a slow request or OTP provider included.
        with anyio.move_on_after(self.policy.deadline):
            return await self._poll_until_done()
        raise WatchTimeout(
            f"deployment {self.deployment_id} not READY within {self.policy.deadline:g}s "
            f"(last state {self.state})",
            deployment_id=self.deployment_id,
            state=self.state,
        )

    async def _poll_until_done(self) -> Deployment:
        self._state_since = anyio.current_time()
        errors = 0
        while True:
            retry_after: float | None = None
            try:
                snapshot = await self._scheduler.fetch(self.deployment_id)
            except NotFound as exc:
                if self._latest is None:
                    raise  # a wrong id, or another account's deployment
                raise DeploymentDeleted(self.deployment_id, self._latest) from exc
            except _TRANSIENT as exc:
                errors += 1
                retry_after = await self._failed_transiently(exc, errors)
            else:
                errors = 0
                finished = await self._observe(snapshot)
                if finished is not None:
                    return finished
                if self._otp is not None and snapshot.state in ACTIONABLE:
                    try:
                        retry_after = await self._drive_otp(snapshot)
                    except NotFound as exc:
                        raise DeploymentDeleted(self.deployment_id, self._latest) from exc
            self._check_stuck()
            await anyio.sleep(
                self.policy.next_delay(
                    self.state, errors=errors, retry_after=retry_after, random=self._rng()
                )
            )

    def _check_stuck(self) -> None:
        limit = self.policy.stuck_after
        stuck_for = anyio.current_time() - self._state_since
        if limit is not None and stuck_for >= limit:
            raise WatchTimeout(
                f"deployment {self.deployment_id} stuck in {self.state} for "
                f"{stuck_for:.0f}s (limit {limit:g}s)",
                deployment_id=self.deployment_id,
                state=self.state,
            )

    async def _observe(self, snapshot: Deployment) -> Deployment | None:
        """Deliver what a snapshot means; return it when READY, raise when it failed."""
        previous = self.state
        current = snapshot.state or DeploymentState("UNKNOWN")
        self._latest = snapshot
        signals = interpret(previous, current)
        if Signal.CHANGED in signals:
            self._state_since = anyio.current_time()
            self._history.append(snapshot)
            if Signal.UNEXPECTED in signals:
                logger.warning(
                    "deployment %s went from %s to %s, which the state table does not allow",
                    self.deployment_id,
                    previous,
                    current,
                )
            await self._emit(
                StateChanged(
                    deployment_id=self.deployment_id,
                    at=_now(),
                    previous=previous,
                    current=current,
                    deployment=snapshot,
                )
            )
        if Signal.CODE_NEEDED in signals and previous not in ACTIONABLE:
            self._code_since = anyio.current_time()
        if Signal.CODE_VERIFIED in signals and not self._verified:
            self._verified = True
            await self._emit(CodeVerified(deployment_id=self.deployment_id, at=_now()))
        self._resolve_waiters(snapshot)
        if Signal.SUCCEEDED in signals:
            return snapshot
        if Signal.FAILED in signals:
            raise DeploymentFailed(snapshot)
        if Signal.DELETED in signals:
            raise DeploymentDeleted(self.deployment_id, snapshot)
        return None

    async def _drive_otp(self, snapshot: Deployment) -> float | None:
        """One OTP step in CODE_SENT / WRONG_CODE; returns a server-requested wait, if any."""
        assert self._otp is not None
        if self._verified:
            return None
        if not self._asking:
            self._asking = True
            self._code_requests += 1
            await self._emit(
                CodeRequested(
                    deployment_id=self.deployment_id, at=_now(), attempt=self._code_requests
                )
            )
        try:
            code = await self._otp(snapshot)
        except Exception:
            logger.exception("the OTP provider of deployment %s failed", self.deployment_id)
            code = None
        if code:
            return await self._verify(code)
        if anyio.current_time() - self._code_since >= self.resend_after:
            return await self._resend(snapshot)
        return None

    async def _verify(self, code: str) -> float | None:
        try:
            await self._client.otp.verify(self.deployment_id, code)
        except VerificationFailed as exc:
            self._rejections += 1
            self._asking = False
            self._code_since = anyio.current_time()
            await self._emit(
                CodeRejected(
                    deployment_id=self.deployment_id,
                    at=_now(),
                    attempt=self._rejections,
                    reason=exc.detail,
                )
            )
            if self._rejections >= self.max_verify_attempts:
                raise
            return None
        except (Conflict, *_TRANSIENT) as exc:
            return await self._failed_transiently(exc, 1)
        self._verified = True
        self._asking = False
        await self._emit(CodeVerified(deployment_id=self.deployment_id, at=_now()))
        return None

    async def _resend(self, snapshot: Deployment) -> float | None:
        if self._resends >= self.max_resends:
            raise WatchTimeout(
                f"deployment {self.deployment_id}: no OTP code came within "
                f"{self.resend_after:g}s of the last of {self._resends} resends",
                deployment_id=self.deployment_id,
                state=snapshot.state,
            )
        method = OTPMethod.VOICE if self.fallback_to_voice else OTPMethod.SMS
        try:
            await self._client.otp.resend(self.deployment_id, method=method)
        except (Conflict, *_TRANSIENT) as exc:
            # 409: the state moved on (the next poll shows where); 429: asked too often.
            return await self._failed_transiently(exc, 1)
        self._resends += 1
        self._asking = False
        self._code_since = anyio.current_time()
        await self._emit(
            CodeResent(
                deployment_id=self.deployment_id,
                at=_now(),
                method=method.value,
                resends=self._resends,
            )
        )
        return None

    async def _failed_transiently(self, error: Exception, attempt: int) -> float | None:
        """Report a survivable failure; returns the wait a 429 asked for."""
        await self._emit(
            PollFailed(deployment_id=self.deployment_id, at=_now(), error=error, attempt=attempt)
        )
        return error.retry_after if isinstance(error, Throttled) else None

    # --- delivery ---------------------------------------------------------------------

    async def _emit(self, event: Event) -> None:
        for send in list(self._streams):
            try:
                await send.send(event)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                self._streams.remove(send)
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

    def _end(self, result: Deployment | None, error: BaseException | None) -> None:
        self._result, self._error = result, error
        self._finished.set()
        for send in self._streams:
            send.close()
        self._streams.clear()
        for waiter in self._waiters:
            self._settle(waiter)
        self._waiters.clear()
