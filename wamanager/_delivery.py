"""A watcher's delivery: events to callbacks and async iterators, snapshots to awaiters.

The only I/O of a watch besides its requests: the poll loop hands every event to
:meth:`Delivery.emit` and every snapshot to :meth:`Delivery.seen`, and goes on at once.
Events reach streams and callbacks, in order, from a task of their own (an
:class:`~wamanager._outbox.Outbox`), so a slow callback or a full iterator buffer never
delays a poll or an OTP step; a watch nobody subscribes to starts no such task (10,000 silent
watchers cost nothing more). Awaiters (``wait_for``) are woken by the first matching
snapshot, or settled when the watch ends.
"""

from __future__ import annotations

import logging
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import anyio
from anyio.abc import TaskGroup

from ._errors import WatchEnded, WatchTimeout
from ._events import Event, StateChanged
from ._models import Deployment
from ._outbox import Outbox, call_logged
from ._states import DeploymentState

__all__ = ["Callback", "Delivery", "EventStream", "Target", "as_predicate"]

logger = logging.getLogger("wamanager.watcher")

#: What :meth:`DeploymentWatcher.wait_for <wamanager.DeploymentWatcher.wait_for>` accepts: a
#: state, several, or a predicate.
Target = DeploymentState | str | Iterable[DeploymentState | str] | Callable[[Deployment], bool]
#: A subscriber: called with an event; may return an awaitable, which is awaited.
Callback = Callable[[Any], Awaitable[None] | None]


def as_predicate(target: Target) -> tuple[Callable[[Deployment], bool], str]:
    """A predicate of a snapshot for ``target``, and how to name it in an error."""
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


class Delivery:
    """Where one watch's events and snapshots go: callbacks, streams and awaiters.

    ``state`` tells the watch's last state, for the errors of awaiters that were not
    satisfied. The watcher runs the delivery task inside its own task group (:meth:`start`,
    :meth:`stop`) and calls :meth:`end` once, when the watch ends.
    """

    __slots__ = (
        "_buffer_size",
        "_delivering",
        "_error",
        "_group",
        "_history",
        "_outbox",
        "_state",
        "_streams",
        "_subscribers",
        "_waiters",
        "deployment_id",
        "ended",
    )

    def __init__(
        self,
        deployment_id: str,
        buffer_size: int,
        state: Callable[[], DeploymentState | None],
    ) -> None:
        self.deployment_id = deployment_id
        #: Whether :meth:`end` was called.
        self.ended = False
        self._buffer_size = buffer_size
        self._state = state
        self._error: BaseException | None = None
        self._subscribers: list[tuple[object, Callback]] = []
        self._streams: weakref.WeakSet[EventStream] = weakref.WeakSet()
        self._waiters: list[_Waiter] = []
        self._history: list[Deployment] = []
        self._outbox: Outbox[Event] = Outbox(self._dispatch)
        self._group: TaskGroup | None = None
        self._delivering = False

    # --- subscribing ------------------------------------------------------------------

    def on(self, key: DeploymentState | type[Event], callback: Callback) -> None:
        """Call ``callback`` with the events of type ``key``, or on entering state ``key``."""
        self._subscribers.append((key, callback))
        self._start_task()

    def stream(self) -> EventStream:
        """A new stream of every event from now on (ended at once if the watch has)."""
        stream = EventStream(self._buffer_size)
        if self.ended:
            stream._end()
        else:
            self._streams.add(stream)
            self._start_task()
        return stream

    # --- what the watch reports -------------------------------------------------------

    def emit(self, event: Event) -> None:
        """Queue an event for delivery; never waits. With nobody subscribed it is dropped."""
        if self._subscribers or self._streams:
            self._outbox.put(event)

    def seen(self, snapshot: Deployment, *, changed: bool) -> None:
        """A snapshot was polled (``changed``: into a new state): wake its awaiters."""
        if changed:
            self._history.append(snapshot)
        for waiter in list(self._waiters):
            if waiter.predicate(snapshot):
                waiter.value = snapshot
                waiter.done.set()
                self._waiters.remove(waiter)

    def end(self, error: BaseException | None) -> None:
        """The watch ended (with ``error``, or READY): end the streams, settle awaiters."""
        self.ended = True
        self._error = error
        for stream in self._streams:
            stream._end()
        self._streams.clear()
        for waiter in self._waiters:
            self._settle(waiter)
        self._waiters.clear()

    # --- awaiting ---------------------------------------------------------------------

    def already_seen(self, predicate: Callable[[Deployment], bool]) -> Deployment | None:
        """The first snapshot that entered a state and matched ``predicate``, if any."""
        for snapshot in self._history:
            if predicate(snapshot):
                return snapshot
        return None

    async def wait(
        self, predicate: Callable[[Deployment], bool], description: str, timeout: float | None
    ) -> Deployment:
        """The first snapshot from now on matching ``predicate``. Raises the watch's error,
        :class:`~wamanager.WatchEnded` or :class:`~wamanager.WatchTimeout` (after
        ``timeout`` real seconds)."""
        waiter = _Waiter(predicate, description)
        if self.ended:
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
                state=self._state(),
            ) from None
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
        if waiter.error is not None:
            raise waiter.error
        assert waiter.value is not None
        return waiter.value

    def _settle(self, waiter: _Waiter) -> None:
        """Fail a waiter the finished watch can no longer satisfy."""
        if self._error is not None and not isinstance(self._error, WatchEnded):
            waiter.error = self._error
        else:
            waiter.error = WatchEnded(
                f"deployment {self.deployment_id}: the watch ended in {self._state()} before "
                f"{waiter.description} was seen",
                deployment_id=self.deployment_id,
                state=self._state(),
            )
        waiter.done.set()

    # --- the delivery task ------------------------------------------------------------

    def start(self, group: TaskGroup) -> None:
        """The watch runs in ``group``: deliver from a task there once anyone subscribes."""
        self._group = group
        if self._subscribers or self._streams:
            self._start_task()

    def stop(self) -> None:
        """The watch is over: deliver what is queued, then let the task end."""
        self._outbox.close()
        self._group = None

    def _start_task(self) -> None:
        if self._group is not None and not self._delivering:
            self._delivering = True
            self._group.start_soon(self._outbox.run, name=f"events of {self.deployment_id}")

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
            if wanted:
                await call_logged(
                    callback,
                    event,
                    logger,
                    "a %s callback of deployment %s failed",
                    type(event).__name__,
                    self.deployment_id,
                )
