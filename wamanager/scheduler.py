"""One poll scheduler per client: every watcher's polls go through it.

Each watcher sleeps until its next due time (the event loop keeps those due times in its timer
heap, so a sleeping watch costs no CPU and no request) and then asks the scheduler for a fresh
snapshot. The scheduler decides how to get it:

* with few watchers attached (fewer than ``batch_threshold``), one ``GET /deployments/{id}``;
* with many, polls that fall due within ``batch_window`` of each other share a single
  ``GET /deployments``, which answers every deployment of the account at once. A poll cycle of
  a thousand watchers then costs one request, not a thousand.

A deployment missing from the list (just created, or already purged) is fetched on its own,
so a 404 still reaches its watcher. If the API does not offer the list (404, 405 or 501), the
scheduler falls back to single GETs for good. Every request goes through the client's session,
so its retries, timeouts and rate limit apply to all watchers together.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio

from .errors import APIError
from .models import Deployment

if TYPE_CHECKING:
    from .resources import Deployments

__all__ = ["PollScheduler"]

_LIST_UNSUPPORTED = frozenset({404, 405, 501})


class _Batch:
    """One shared ``GET /deployments`` and the watchers waiting on it."""

    __slots__ = ("done", "error", "snapshots")

    def __init__(self) -> None:
        self.done = anyio.Event()
        self.snapshots: dict[str, Deployment] | None = None
        self.error: Exception | None = None


class PollScheduler:
    """Serves the polls of every watcher made from one client.

    Args:
        deployments: the client's deployments resource.
        batch_threshold: attached watchers from which polls are batched into one list call.
        batch_window: seconds a batch waits for more due polls before it is sent.
    """

    def __init__(
        self, deployments: Deployments, *, batch_threshold: int = 16, batch_window: float = 0.05
    ) -> None:
        self._deployments = deployments
        self.batch_threshold = batch_threshold
        self.batch_window = batch_window
        self._attached = 0
        self._open: _Batch | None = None
        self._list_supported = True
        #: HTTP requests made for polls so far: single GETs and list calls.
        self.requests = 0

    @property
    def attached(self) -> int:
        """How many watchers are polling through this scheduler now."""
        return self._attached

    def attach(self) -> None:
        """Count a watcher in (called when its watch starts)."""
        self._attached += 1

    def detach(self) -> None:
        """Count a watcher out (called when its watch ends)."""
        self._attached -= 1

    async def fetch(self, deployment_id: str) -> Deployment:
        """A snapshot of ``deployment_id`` no older than this call."""
        if self._list_supported and self._attached >= self.batch_threshold:
            batch = self._open
            if batch is None:
                batch = self._open = _Batch()
                await self._send(batch)
            else:
                await batch.done.wait()
            if batch.error is not None:
                # Every waiter raises the one error; reset the traceback each time so it
                # does not grow with every task that re-raises it.
                raise batch.error.with_traceback(None)
            if batch.snapshots is not None and deployment_id in batch.snapshots:
                return batch.snapshots[deployment_id]
        self.requests += 1
        return await self._deployments.get(deployment_id)

    async def _send(self, batch: _Batch) -> None:
        # The first due poll leads: it waits briefly for others to join, then sends the list.
        try:
            await anyio.sleep(self.batch_window)
            self._open = None  # polls that fall due from now on need a newer answer
            self.requests += 1
            items = await self._deployments.list()
            batch.snapshots = {item.deployment_id: item for item in items}
        except APIError as exc:
            if exc.status in _LIST_UNSUPPORTED:
                self._list_supported = False  # waiters fall back to single GETs
            else:
                batch.error = exc
        except Exception as exc:
            batch.error = exc
        finally:
            # Also on cancellation of the leader: waiters then fall back to single GETs.
            if self._open is batch:
                self._open = None
            batch.done.set()
