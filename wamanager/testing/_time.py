"""Time for tests: a ``sleep`` that records and returns at once, and a virtual clock."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable

import anyio
import anyio.lowlevel

__all__ = ["SleepRecorder", "VirtualClock"]


class SleepRecorder:
    """An injectable ``sleep`` that records each delay and returns at once.

    Pass it as a client's ``sleep=`` (retry and rate-limit waits) and read :attr:`delays`.
    ``on_sleep``, when given, is called with each delay, e.g. to move a sandbox's
    :class:`~wamanager.sandbox.ManualClock` (speed 1) as the client "waits":
    ``SleepRecorder(on_sleep=sandbox.advance)``.
    """

    def __init__(self, on_sleep: Callable[[float], object] | None = None) -> None:
        #: Every delay asked for, in seconds, oldest first.
        self.delays: list[float] = []
        self._on_sleep = on_sleep

    async def __call__(self, seconds: float) -> None:
        """Record ``seconds`` and return (a checkpoint, so other tasks may run)."""
        self.delays.append(seconds)
        if self._on_sleep is not None:
            self._on_sleep(seconds)
        await anyio.lowlevel.checkpoint()


class VirtualClock:
    """A :class:`~wamanager.Clock` whose time jumps ahead to the next sleeper's deadline.

    Give it to a watcher or ``provision()`` (``clock=``): no real time passes. A sleep records
    its deadline; once every other task has had a few turns to run, the earliest sleeper moves
    :attr:`time` to its deadline and wakes (trio's autojump clock, simplified). So concurrent
    sleepers (a poll loop, a deadline timer, a delivery task) all see one consistent time.
    Cancelled sleepers leave no trace. :attr:`sleeps` records every delay asked for.
    """

    #: How many scheduling turns the other tasks get before time moves.
    _TURNS = 5

    def __init__(self, start: float = 0.0) -> None:
        #: The current virtual time, in seconds.
        self.time = start
        #: Every delay asked of :meth:`sleep`, oldest first.
        self.sleeps: list[float] = []
        self._sleepers: list[tuple[float, int]] = []
        self._seq = itertools.count()
        self._moved = anyio.Event()

    def now(self) -> float:
        """The current virtual time."""
        return self.time

    async def sleep(self, seconds: float) -> None:
        """Return once virtual time reaches ``now() + seconds`` (at once for zero or less)."""
        self.sleeps.append(seconds)
        entry = (self.time + max(seconds, 0.0), next(self._seq))
        heapq.heappush(self._sleepers, entry)
        try:
            while True:
                for _ in range(self._TURNS):
                    await anyio.lowlevel.checkpoint()
                if self._sleepers[0] == entry:
                    heapq.heappop(self._sleepers)
                    self.time = max(self.time, entry[0])
                    return
                await self._moved.wait()
        finally:
            if entry in self._sleepers:  # cancelled
                self._sleepers.remove(entry)
                heapq.heapify(self._sleepers)
            self._moved.set()
            self._moved = anyio.Event()

    def __repr__(self) -> str:
        return f"VirtualClock(time={self.time!r})"
