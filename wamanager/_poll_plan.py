"""The poll scheduler's decisions, as pure functions: when a poll is served, and how.

* :func:`align` — the shared tick a poll due at some time is served at;
* :func:`list_pays` — whether one ``GET /deployments`` costs less than the due single GETs,
  in requests and bytes (:data:`REQUEST_OVERHEAD_BYTES` per request);
* :func:`list_items` and :func:`item_bytes` — what a list answer holds, and what one of its
  items weighs.

No I/O and no clock: :class:`~wamanager.PollScheduler` passes the time in, so each decision
is tested as a table.
"""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = [
    "DEFAULT_ITEM_BYTES",
    "REQUEST_OVERHEAD_BYTES",
    "align",
    "item_bytes",
    "list_items",
    "list_pays",
]

#: What one request costs beyond its body, counted in bytes of body: its headers both ways
#: (a JWT alone is about 600 bytes), and a token of the account's rate limit, which is what
#: runs out first in a bulk run. This is what makes one list cheaper than many single GETs
#: of the same total body size.
REQUEST_OVERHEAD_BYTES = 2000
#: The size of one deployment in a response, until a list has been seen.
DEFAULT_ITEM_BYTES = 300


def align(now: float, delay: float, grid: float) -> float:
    """The tick at which a poll due ``delay`` seconds after ``now`` is served. Pure.

    Ticks are the multiples of ``grid``; the due time goes to the nearest one, never to one at
    or before ``now`` (a poll due now waits for the next tick).
    """
    slot = round((now + max(delay, 0.0)) / grid) * grid
    if slot <= now:
        slot = (math.floor(now / grid) + 1) * grid
    return slot


def list_pays(due: int, account_size: int | None, item_bytes: float, threshold: int) -> bool:
    """Whether one ``GET /deployments`` is cheaper than ``due`` single GETs. Pure.

    Cost is counted in bytes, with :data:`REQUEST_OVERHEAD_BYTES` per request: a list costs one
    request and the whole account, singles cost one request and one item each. While the
    account's size is unknown, a list is worth a probe once ``due >= threshold``.
    """
    if due <= 0:
        return False
    if account_size is None:
        return due >= threshold
    list_cost = REQUEST_OVERHEAD_BYTES + account_size * item_bytes
    singles_cost = due * (REQUEST_OVERHEAD_BYTES + item_bytes)
    return list_cost <= singles_cost


def list_items(data: Any) -> list[Any] | None:
    """The deployments of a list answer, whatever its shape; ``None`` when it has none. Pure.

    Accepts an array, an object wrapping one array (``{"deployments": [...]}``, or one level
    deeper such as ``{"_embedded": {"deployments": [...]}}``), or a single deployment object.
    """
    if isinstance(data, list):
        return data
    if not isinstance(data, dict):
        return None
    if "deployment_id" in data:
        return [data]
    for value in data.values():
        if isinstance(value, list):
            return value
    for value in data.values():
        if isinstance(value, dict):
            for inner in value.values():
                if isinstance(inner, list):
                    return inner
    return None


_SAMPLE = 16


def item_bytes(items: list[Any]) -> float:
    """The mean encoded size of a few items (0 for an empty list)."""
    sample = items[:_SAMPLE]
    if not sample:
        return 0.0
    size = sum(len(json.dumps(item, separators=(",", ":"), ensure_ascii=False)) for item in sample)
    return size / len(sample)
