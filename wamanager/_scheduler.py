"""One poll scheduler per client: it owns the poll cycles of every watcher.

A watcher asks :meth:`PollScheduler.poll` for a snapshot "in about ``delay`` seconds". The
scheduler decides when and how:

* **When.** While batching can pay off, due times are aligned to shared ticks: a poll due at
  ``t`` is served at the tick nearest ``t`` on a grid of ``min(tick, interval)`` seconds. N
  watchers polling every second therefore fall due together, once per second, instead of
  drifting apart with their jitter. When batching cannot pay off, each poll keeps its own
  (jittered) time and costs one ``GET /deployments/{id}``.
* **How.** The polls of one tick form a *cycle*, served by the first of them to wake (the
  leader) in the cheaper of two ways, counting requests and bytes
  (:func:`~wamanager._poll_plan.list_pays`; the decisions are pure functions there): one
  ``GET /deployments``, which answers every deployment of the account, or one
  ``GET /deployments/{id}`` per due poll. A list also answers the polls of the next tick,
  which then need no request of their own. The scheduler learns the account's size and the size
  of an item from each list answer; before the first one, a cycle of at least
  ``batch_threshold`` polls probes with a list.

Only the watched items of a list are parsed into models. The list may answer an array, an
object wrapping an array, or a single deployment; anything else (an error status, another
shape, an item that does not parse, a deployment missing from it) falls back to single GETs
for the polls concerned, in the same cycle, so a bad list never stalls a watcher. A list
answered 429 (after the session has waited out what it could) is the account's limit, not
the list's fault: every poll of the cycle then raises :class:`~wamanager.Throttled`
and its watcher backs off, rather than multiplying the requests with single GETs. After
``list_failures_allowed`` failures in a row, lists are turned off for ``list_backoff``
seconds, doubling (up to ``max_list_backoff``) while they keep failing; 404/405/501 turn
them off for good.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import anyio
import anyio.lowlevel
import attrs

from ._clock import Clock
from ._converter import structure
from ._errors import APIError, Throttled
from ._models import Deployment
from ._poll_plan import DEFAULT_ITEM_BYTES, align, item_bytes, list_items, list_pays

__all__ = ["WAVE", "PollScheduler", "PollStats"]

#: Statuses that say the API has no ``GET /deployments``: lists are then off for good.
_LIST_UNSUPPORTED = frozenset({404, 405, 501})

GetOne = Callable[[str], Awaitable[Deployment]]
GetList = Callable[[], Awaitable[Any]]


@attrs.define
class PollStats:
    """What the scheduler has spent so far (for benchmarks and monitoring)."""

    #: Single ``GET /deployments/{id}`` requests made for polls.
    single_gets: int = 0
    #: ``GET /deployments`` requests made (failed ones included).
    list_calls: int = 0
    #: List answers that could not be used (error, shape), so their polls fell back.
    list_failures: int = 0
    #: Polls answered from a list.
    served_by_list: int = 0

    @property
    def requests(self) -> int:
        """Every HTTP request made for polls."""
        return self.single_gets + self.list_calls


class _Cycle:
    """The polls of one tick, and what was fetched for them.

    The first poll to register leads: only it sleeps until the tick (one timer per cycle, not
    one per poll), fetches, and then wakes the others in waves of :data:`WAVE`, yielding to
    the event loop between waves, so that 10,000 snapshots arriving at once never hold the
    loop for long. ``state`` goes ``open`` (the leader sleeps) → ``serving`` (a list is in
    flight, this cycle's or an earlier tick's that took it along) → ``served``; or to
    ``orphaned`` when its leader was cancelled, and its polls then register again.
    """

    __slots__ = ("count", "error", "members", "snapshots", "state", "wake", "waves")

    def __init__(self) -> None:
        self.members: dict[str, int] = {}  # deployment id -> polls waiting for it
        self.count = 0  # polls joined so far
        self.state = "open"
        self.waves: list[anyio.Event] = []
        self.wake = anyio.CancelScope()  # cancelled to wake the sleeping leader early
        self.snapshots: Mapping[str, Deployment] = {}
        self.error: Throttled | None = None  # the account is throttled: every poll backs off

    def join(self, deployment_id: str) -> int:
        """Count a poll in; the wave it will be woken with."""
        self.members[deployment_id] = self.members.get(deployment_id, 0) + 1
        wave, _ = divmod(self.count, WAVE)
        self.count += 1
        if wave == len(self.waves):
            self.waves.append(anyio.Event())
        return wave

    def leave(self, deployment_id: str) -> None:
        """Count a poll out."""
        left = self.members.get(deployment_id, 0) - 1
        if left > 0:
            self.members[deployment_id] = left
        else:
            self.members.pop(deployment_id, None)

    async def release(self) -> None:
        """Wake the waiting polls, one wave at a time."""
        for wave in self.waves:
            wave.set()
            await anyio.lowlevel.checkpoint()

    def abandon(self) -> None:
        """Wake everyone at once, with nothing served: they register again."""
        self.state = "orphaned"
        self.wake.cancel()
        for wave in self.waves:
            wave.set()


# Notes of when a deployment was served are kept this long (clock seconds), and pruned once
# they outnumber the polls in progress by this much.
_SERVED_FOR = 300.0
_SERVED_SLACK = 1024

#: Polls woken together when a cycle is served (then the event loop gets a turn).
WAVE = 256


class PollScheduler:
    """Serves the polls of every watcher made from one client.

    Args:
        get: fetches one deployment (``GET /deployments/{id}``, with the client's retries).
        get_list: fetches the raw ``GET /deployments`` answer (decoded JSON, unparsed); it
            should not retry, since a failed list falls back to single GETs at once.
        tick: the spacing, in clock seconds, of the shared ticks polls are aligned to (a
            watcher polling faster than this uses its own interval as the grid).
        batching: whether polls may be aligned and served by lists at all (``False``: every
            poll is its own GET, at its own jittered time).
        batch_threshold: due polls from which a list is tried while the account's size is
            unknown.
        list_failures_allowed: list failures in a row before lists are turned off a while.
        list_backoff: how long (real seconds) lists stay off after that; doubles while they
            keep failing, up to ``max_list_backoff``.
    """

    def __init__(
        self,
        get: GetOne,
        get_list: GetList,
        *,
        tick: float = 1.0,
        batching: bool = True,
        batch_threshold: int = 16,
        list_failures_allowed: int = 2,
        list_backoff: float = 30.0,
        max_list_backoff: float = 600.0,
    ) -> None:
        self._get = get
        self._get_list = get_list
        self.tick = tick
        self.batching = batching
        self.batch_threshold = batch_threshold
        self.list_failures_allowed = list_failures_allowed
        self.list_backoff = list_backoff
        self.max_list_backoff = max_list_backoff
        #: What the polls have cost so far.
        self.stats = PollStats()
        self._polling = 0
        self._cycles: dict[tuple[Clock, float], _Cycle] = {}
        self._served_at: dict[tuple[Clock, str], float] = {}
        self._account_size: int | None = None
        self._item_bytes: float = DEFAULT_ITEM_BYTES
        self._failures = 0
        self._lists_off_until = 0.0
        self._lists_supported = True

    # --- what watchers call ------------------------------------------------------------

    @property
    def polling(self) -> int:
        """How many polls are waiting for their snapshot now (about one per active watcher:
        a watcher spends nearly all its time waiting for its next poll)."""
        return self._polling

    @property
    def account_size(self) -> int | None:
        """Deployments in the account's last list answer (``None`` before the first)."""
        return self._account_size

    async def poll(
        self, deployment_id: str, *, delay: float, interval: float, clock: Clock
    ) -> Deployment:
        """A snapshot of ``deployment_id``, taken about ``delay`` clock seconds from now.

        ``interval`` is the watcher's base interval in its current state (the grid its polls
        are aligned to when they are faster than :attr:`tick`).
        """
        self._polling += 1
        try:
            return await self._poll(deployment_id, delay, interval, clock)
        finally:
            self._polling -= 1

    async def _poll(
        self, deployment_id: str, delay: float, interval: float, clock: Clock
    ) -> Deployment:
        if not self._batching():
            await clock.sleep(delay)
            return await self._single(deployment_id)
        now = clock.now()
        grid = min(self.tick, interval)
        # The next poll counts from the tick the last snapshot was taken at, not from when
        # this watcher got round to asking: so a loaded loop, which serves a big cycle's
        # watchers over a while, does not spread them over later ticks.
        served_at = self._served_at.pop((clock, deployment_id), None)
        slot = align(now if served_at is None else max(served_at, now - delay), delay, grid)
        if slot <= now:
            slot = align(now, 0.0, grid)
        key = (clock, slot)
        cycle = self._cycles.get(key)
        if cycle is None or cycle.state != "open":
            cycle = self._cycles[key] = _Cycle()
        leads = not cycle.members
        wave = cycle.join(deployment_id)
        try:
            if leads:
                with cycle.wake:
                    await clock.sleep(slot - now)
                if cycle.state == "open":
                    await self._lead(key, grid, cycle)
            if cycle.state != "orphaned":
                await cycle.waves[wave].wait()
        finally:
            if leads and cycle.state == "open":
                cycle.abandon()  # cancelled before the tick: the others lead themselves
            cycle.leave(deployment_id)
            if (not cycle.members or cycle.state == "orphaned") and self._cycles.get(key) is cycle:
                del self._cycles[key]
        if cycle.state == "orphaned":
            # The leader was cancelled before serving: register again for what is left.
            return await self._poll(deployment_id, slot - clock.now(), interval, clock)
        if cycle.error is not None:
            # Every waiter raises the one error; reset the traceback each time so it does
            # not grow with every task that re-raises it.
            raise cycle.error.with_traceback(None)
        snapshot = cycle.snapshots.get(deployment_id)
        if snapshot is not None:
            return snapshot
        return await self._single(deployment_id)

    # --- serving a cycle ---------------------------------------------------------------

    def _batching(self) -> bool:
        """Whether to align polls to ticks: while a list could serve them more cheaply."""
        if not (self.batching and self._lists_supported):
            return False
        if time.monotonic() < self._lists_off_until:
            return False
        if self._account_size is None:
            return True  # unknown yet: align, and let a large enough cycle probe
        return list_pays(self._polling, self._account_size, self._item_bytes, 1)

    async def _lead(self, key: tuple[Clock, float], grid: float, cycle: _Cycle) -> None:
        """Serve ``cycle``, and the cycles of the next tick along with it if a list is used.

        Taking the next tick's polls along costs nothing (the list holds them anyway), and
        their watchers then poll with this tick's from now on: groups that a loaded event loop
        spread over neighbouring ticks merge again instead of costing a list each.
        """
        clock, slot = key
        cycle.state = "serving"
        joined = [cycle]
        try:
            nearby = [
                other
                for (other_clock, other_slot), other in self._cycles.items()
                if other_clock is clock
                and slot < other_slot <= slot + grid
                and other.state == "open"
            ]
            wanted = frozenset(cycle.members).union(*(other.members for other in nearby))
            if list_pays(len(wanted), self._account_size, self._item_bytes, self.batch_threshold):
                for other in nearby:
                    other.state = "serving"
                joined.extend(nearby)
                try:
                    snapshots = await self._from_list(wanted)
                except Throttled as exc:
                    # The account's limit, not the list's fault: single GETs would only add
                    # requests, so every poll of the cycle backs off instead.
                    for served in joined:
                        served.error = exc
                else:
                    self._remember(clock, slot, snapshots)
                    for served in joined:
                        served.snapshots = snapshots
            for served in joined:
                served.state = "served"
                served.wake.cancel()
                await served.release()
        finally:
            for served in joined:
                if served.state != "served":  # the leader was cancelled before serving them
                    served.abandon()

    def _remember(self, clock: Clock, slot: float, served: Mapping[str, Deployment]) -> None:
        """Note the tick at which each deployment was served (see :meth:`poll`)."""
        if len(self._served_at) > 2 * self._polling + _SERVED_SLACK:
            # Drop the notes of watches that ended (no poll took them back for long).
            self._served_at = {
                key: at for key, at in self._served_at.items() if at > slot - _SERVED_FOR
            }
        for deployment_id in served:
            self._served_at[clock, deployment_id] = slot

    async def _from_list(self, wanted: frozenset[str]) -> dict[str, Deployment]:
        self.stats.list_calls += 1
        try:
            data = await self._get_list()
        except Throttled:
            raise
        except APIError as exc:
            if exc.status in _LIST_UNSUPPORTED:
                self._lists_supported = False
            self._list_failed()
            return {}
        except Exception:
            # Any other failure (transport, a bad body) only costs this cycle its list.
            self._list_failed()
            return {}
        items = list_items(data)
        if items is None:
            self._list_failed()
            return {}
        self._failures = 0
        self._account_size = len(items)
        self._item_bytes = item_bytes(items) or self._item_bytes
        found = await _parse_wanted(items, wanted)
        self.stats.served_by_list += len(found)
        return found

    def _list_failed(self) -> None:
        self.stats.list_failures += 1
        self._failures += 1
        over = self._failures - self.list_failures_allowed
        if over >= 0:
            backoff = min(self.list_backoff * 2**over, self.max_list_backoff)
            self._lists_off_until = time.monotonic() + backoff

    async def _single(self, deployment_id: str) -> Deployment:
        self.stats.single_gets += 1
        return await self._get(deployment_id)

    def __repr__(self) -> str:
        return (
            f"<PollScheduler polling={self._polling} account_size={self._account_size} "
            f"requests={self.stats.requests}>"
        )


async def _parse_wanted(items: Iterable[Any], wanted: frozenset[str]) -> dict[str, Deployment]:
    """Parse only the watched items; an item that does not parse is left to a single GET.

    The event loop gets a turn every :data:`WAVE` items: parsing 10,000 of them at once would
    hold it for a tenth of a second.
    """
    found: dict[str, Deployment] = {}
    for position, item in enumerate(items, 1):
        if position % WAVE == 0:
            await anyio.lowlevel.checkpoint()
        if not isinstance(item, dict):
            continue
        deployment_id = item.get("deployment_id")
        if deployment_id not in wanted:
            continue
        try:
            found[deployment_id] = structure(item, Deployment)
        except Exception:  # noqa: S112 - the poll falls back to its own GET
            continue
    return found
