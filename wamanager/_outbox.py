"""An outbox: events queued without waiting, handed on in order by one delivery task.

A watcher and a bulk run both report what happens through one: the code that observes an
event puts it in and goes on at once, and a task of its own awaits the subscribers, so a slow
callback never delays a poll, an OTP step or a number. A failing callback is logged, never
raised: it must not end the watch or the run.
"""

from __future__ import annotations

import inspect
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

import anyio

__all__ = ["Outbox", "call_logged"]

E = TypeVar("E")


class Outbox(Generic[E]):
    """Items put in without waiting, handed to ``deliver`` in order by :meth:`run`."""

    __slots__ = ("_closed", "_deliver", "_items", "_ready")

    def __init__(self, deliver: Callable[[E], Awaitable[None]]) -> None:
        self._deliver = deliver
        self._items: deque[E] = deque()
        self._closed = False
        self._ready = anyio.Event()

    def put(self, item: E) -> None:
        """Queue ``item``; never waits."""
        self._items.append(item)
        self._ready.set()

    def close(self) -> None:
        """No more items: :meth:`run` delivers what is queued, then returns."""
        self._closed = True
        self._ready.set()

    async def run(self) -> None:
        """Deliver every item, in order, until the outbox is closed and empty."""
        while True:
            while self._items:
                await self._deliver(self._items.popleft())
            if self._closed:
                return
            self._ready = anyio.Event()
            await self._ready.wait()


async def call_logged(
    callback: Callable[[E], Any], event: E, logger: logging.Logger, message: str, *args: object
) -> None:
    """Call ``callback(event)`` and await what it returns if that is awaitable; an exception
    it raises is logged (``message % args``, with the traceback) and goes no further."""
    try:
        outcome = callback(event)
        if inspect.isawaitable(outcome):
            await outcome
    except Exception:
        logger.exception(message, *args)
