"""The poll plan's pure decisions as tables: ticks on a grid, when a list pays, list shapes."""

from __future__ import annotations

from typing import Any

import pytest

from wamanager._poll_plan import REQUEST_OVERHEAD_BYTES, align, list_items, list_pays


def _body(deployment_id: str, state: str = "CODE_SENT") -> dict[str, Any]:
    return {"deployment_id": deployment_id, "current_state": {"title": state}}


@pytest.mark.parametrize(
    ("now", "delay", "grid", "expected"),
    [
        (10.0, 1.0, 1.0, 11.0),
        # jittered due times round to the same tick
        (10.0, 0.9, 1.0, 11.0),
        (10.0, 1.1, 1.0, 11.0),
        (10.3, 0.9, 1.0, 11.0),
        # a poll due now waits for the next tick, never a past one
        (10.2, 0.0, 1.0, 11.0),
        (10.0, 0.0, 1.0, 11.0),
        (10.0, 0.4, 1.0, 11.0),
        # fast watchers use their own interval as the grid
        (10.0, 0.05, 0.05, 10.05),
        (10.01, 0.05, 0.05, 10.05),
        # slow states: ticks further out
        (10.0, 15.4, 1.0, 25.0),
    ],
)
def test_align(now: float, delay: float, grid: float, expected: float) -> None:
    """align() puts a due time on the nearest tick after now."""
    assert align(now, delay, grid) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("due", "account", "item", "threshold", "expected"),
    [
        (0, 10, 300, 4, False),
        # unknown account: probe once enough polls are due
        (3, None, 300, 4, False),
        (4, None, 300, 4, True),
        # N watched of an account of N: one list beats N singles
        (400, 400, 300, 16, True),
        (2, 2, 300, 16, True),
        # 20 watched of 2,000: singles cost 20 requests but far fewer bytes
        (20, 2000, 300, 16, False),
        # the break-even point, bytes and requests together
        (100, 100 + (99 * REQUEST_OVERHEAD_BYTES) // 300, 300, 16, True),
        (100, 100 + (99 * REQUEST_OVERHEAD_BYTES) // 300 + 1, 300, 16, False),
    ],
)
def test_list_pays(
    due: int, account: int | None, item: float, threshold: int, expected: bool
) -> None:
    """list_pays() picks the list only when it is no costlier than the singles it replaces."""
    assert list_pays(due, account, item, threshold) is expected


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ([_body("a")], [_body("a")]),
        ({"deployments": [_body("a")]}, [_body("a")]),
        ({"_embedded": {"deployments": [_body("a")]}, "page": 1}, [_body("a")]),
        (_body("a"), [_body("a")]),
        ([], []),
        ("garbage", None),
        (None, None),
        (42, None),
        ({"error": "nope"}, None),
    ],
)
def test_list_items_accepts_every_plausible_shape(data: Any, expected: list[Any] | None) -> None:
    """A list answer may be an array, a wrapped array or one object; anything else is None."""
    assert list_items(data) == expected
