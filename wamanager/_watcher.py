"""``DeploymentWatcher``: turns the minutes-long remote state machine into awaits and events.

Three parts, kept apart (azure-core's poller / polling method / algorithm split):

* **decisions** — :class:`~wamanager.PollPolicy` says *when* to poll,
  :func:`~wamanager._states.interpret` what a snapshot means, and
  :func:`~wamanager.next_otp_action` which OTP step to take; all pure;
* **the loop** — :class:`DeploymentWatcher` (this module) polls through a poll function (the
  client's :class:`~wamanager.PollScheduler`), waits on a :class:`~wamanager.Clock`, and
  hands the OTP step to an :class:`~wamanager._otp_driver.OTPDriver`, which makes the OTP
  calls it is given. It never imports the client;
* **delivery** — :class:`~wamanager._delivery.Delivery`: events go to callbacks, async
  iterators and awaitables from a task of their own, so a slow callback or a full iterator
  buffer never delays a poll or an OTP step. A watch nobody subscribes to has no such task
  (10,000 silent watchers cost one task each).

The options a watch accepts are checked in :mod:`wamanager._watch_options`. This module is a
little over 400 lines because :class:`DeploymentWatcher` is the class users hold: its
docstrings document the whole watching API, and its loop, deadline and lifecycle are one
concern that reads best whole.

Usage::

    async with wam.watch(deployment_id, otp=read_code) as watcher:
        watcher.on(DeploymentState.CODE_SENT, lambda event: print("code sent"))
        deployment = await watcher.result()      # READY, or raises
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from types import TracebackType
from typing import Any, Protocol

import anyio
from anyio.abc import TaskGroup

from ._clock import SYSTEM_CLOCK, Clock, utc_now, within
from ._delivery import Callback, Delivery, EventStream, Target, as_predicate
from ._errors import (
    TRANSIENT,
    DeploymentDeleted,
    DeploymentFailed,
    FieldProblem,
    NotFound,
    Throttled,
    ValidationError,
    WatchEnded,
    WatchTimeout,
)
from ._events import Event, Failed, PollFailed, StateChanged, Succeeded
from ._models import Deployment, OTPMethod
from ._otp_driver import OTPDriver, OTPProvider, ProgressHook, ResendCall, VerifyCall
from ._policy import OTPPolicy, OTPProgress, PollPolicy
from ._states import ACTIONABLE, DeploymentState, Signal, interpret
from ._watch_options import option_problems

__all__ = ["DeploymentWatcher", "Poll"]

logger = logging.getLogger("wamanager.watcher")


class Poll(Protocol):
    """How a watcher gets snapshots: :meth:`PollScheduler.poll <wamanager.PollScheduler.poll>`."""

    async def __call__(
        self, deployment_id: str, *, delay: float, interval: float, clock: Clock
    ) -> Deployment:
        """A snapshot of ``deployment_id`` taken about ``delay`` seconds of ``clock`` from now."""
        ...


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
        problems: list[FieldProblem] = []
        if not isinstance(deployment_id, str) or not deployment_id:
            problems.append(("deployment_id", "must be a non-empty string"))
        if otp is not None and (verify is None or resend is None):
            problems.append(("otp", "an OTP provider needs the verify and resend calls"))
        if otp is not None and not callable(otp):
            problems.append(("otp", "must be an async function (deployment) -> code or None"))
        problems += option_problems(
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
        self._poll = poll
        self._clock = clock
        self._rng = rng
        self._delivery = Delivery(deployment_id, buffer_size, lambda: self.state)
        self._otp = OTPDriver(
            deployment_id,
            otp,
            verify=verify,
            resend=resend,
            policy=otp_policy or OTPPolicy(),
            progress=progress or OTPProgress(),
            method=None if method is None else OTPMethod(method),
            on_progress=on_progress,
            clock=clock,
            rng=rng,
            max_retry_after=self.policy.max_retry_after,
            emit=self._delivery.emit,
        )
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
    def otp_policy(self) -> OTPPolicy:
        """The OTP limits."""
        return self._otp.policy

    @property
    def method(self) -> OTPMethod | None:
        """The deployment's own OTP method, if known (what a resend uses)."""
        return self._otp.method

    @property
    def otp_progress(self) -> OTPProgress:
        """Where the OTP step is (serialisable: store it to resume the step later)."""
        return self._otp.progress

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
            self._delivery.on(key, callback)
        else:
            self._delivery.on(DeploymentState(str(key)), callback)

    def on_change(self, callback: Callback) -> None:
        """Call ``callback(event)`` with every :class:`StateChanged`."""
        self.on(StateChanged, callback)

    def events(self) -> EventStream:
        """Every event from now on, in order, until the watch ends."""
        return self._delivery.stream()

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
        predicate, description = as_predicate(target)
        seen = self._delivery.already_seen(predicate)
        if seen is not None:
            return seen
        if not self._started:
            raise RuntimeError(
                "the watcher is not running: use `async with watcher:` or await its result()"
            )
        return await self._delivery.wait(predicate, description, timeout)

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
                self._delivery.start(delivery)
                try:
                    outcome = await self._watch()
                    self._delivery.emit(
                        Succeeded(
                            deployment_id=self.deployment_id, at=utc_now(), deployment=outcome
                        )
                    )
                except Exception as exc:
                    outcome = exc
                    self._delivery.emit(
                        Failed(
                            deployment_id=self.deployment_id,
                            at=utc_now(),
                            error=exc,
                            deployment=self._latest,
                        )
                    )
                finally:
                    self._delivery.stop()  # delivery drains what is left, then ends
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
        # The deadline bounds everything, a slow request or OTP provider included.
        result = await within(self._clock, deadline, self._poll_until_done)
        if result is None:
            raise WatchTimeout(
                f"deployment {self.deployment_id} not READY within {deadline:g}s "
                f"(last state {self.state})",
                deployment_id=self.deployment_id,
                state=self.state,
            )
        return result

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
            except TRANSIENT as exc:
                errors += 1
                self._delivery.emit(
                    PollFailed(
                        deployment_id=self.deployment_id, at=utc_now(), error=exc, attempt=errors
                    )
                )
                retry_after = exc.retry_after if isinstance(exc, Throttled) else None
            else:
                errors = 0
                finished = self._observe(snapshot)
                if finished is not None:
                    return finished
                if self._otp.active and snapshot.state in ACTIONABLE:
                    try:
                        await self._otp.step(snapshot)
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
            if Signal.UNEXPECTED in signals:
                logger.warning(
                    "deployment %s went from %s to %s, which the state table does not allow",
                    self.deployment_id,
                    previous,
                    current,
                )
            self._delivery.emit(
                StateChanged(
                    deployment_id=self.deployment_id,
                    at=utc_now(),
                    previous=previous,
                    current=current,
                    deployment=snapshot,
                )
            )
        self._otp.observed(signals, previous)
        self._delivery.seen(snapshot, changed=Signal.CHANGED in signals)
        if Signal.SUCCEEDED in signals:
            return snapshot
        if Signal.FAILED in signals:
            raise DeploymentFailed(snapshot)
        if Signal.DELETED in signals:
            raise DeploymentDeleted(self.deployment_id, snapshot)
        return None

    # --- the end ---------------------------------------------------------------------

    def _end_if_running(self, why: str) -> None:
        if not self.done:
            self._end(None, WatchEnded(why, deployment_id=self.deployment_id, state=self.state))

    def _end(self, result: Deployment | None, error: BaseException | None) -> None:
        self._result, self._error = result, error
        self._finished.set()
        self._delivery.end(error)
