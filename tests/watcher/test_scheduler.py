"""PollScheduler: single GETs for few watchers, one shared list call for many."""

from __future__ import annotations

import anyio
import anyio.lowlevel
import pytest

from wamanager import APIError, Deployment, NotFound, PollScheduler, ServerError
from wamanager.models import CurrentState
from wamanager.states import DeploymentState


class FakeDeployments:
    """Counts calls; answers every id it knows with a CODE_SENT deployment."""

    def __init__(self, ids: list[str], *, list_error: Exception | None = None) -> None:
        self.known = {
            i: Deployment(i, current_state=CurrentState(DeploymentState.CODE_SENT)) for i in ids
        }
        self.gets = 0
        self.lists = 0
        self.list_error = list_error

    async def get(self, deployment_id: str) -> Deployment:
        self.gets += 1
        await anyio.lowlevel.checkpoint()
        if deployment_id not in self.known:
            raise NotFound(404)
        return self.known[deployment_id]

    async def list(self) -> list[Deployment]:
        self.lists += 1
        await anyio.sleep(0.01)
        if self.list_error is not None:
            raise self.list_error
        return list(self.known.values())


async def _fetch_all(scheduler: PollScheduler, ids: list[str]) -> dict[str, Deployment]:
    found: dict[str, Deployment] = {}

    async def one(i: str) -> None:
        found[i] = await scheduler.fetch(i)

    async with anyio.create_task_group() as tg:
        for i in ids:
            tg.start_soon(one, i)
    return found


def _scheduler(fake: FakeDeployments, attached: int, threshold: int = 4) -> PollScheduler:
    scheduler = PollScheduler(fake, batch_threshold=threshold, batch_window=0.001)  # type: ignore[arg-type]
    for _ in range(attached):
        scheduler.attach()
    return scheduler


async def test_few_watchers_poll_one_by_one() -> None:
    """Below the threshold every poll is its own GET /deployments/{id}."""
    ids = ["a", "b", "c"]
    fake = FakeDeployments(ids)
    scheduler = _scheduler(fake, attached=3)
    found = await _fetch_all(scheduler, ids)
    assert set(found) == set(ids)
    assert (fake.gets, fake.lists, scheduler.requests) == (3, 0, 3)


async def test_many_due_polls_share_one_list_call() -> None:
    """At or above the threshold, polls due together are served by one GET /deployments."""
    ids = [f"d{i}" for i in range(200)]
    fake = FakeDeployments(ids)
    scheduler = _scheduler(fake, attached=200)
    found = await _fetch_all(scheduler, ids)
    assert {k: v.deployment_id for k, v in found.items()} == {i: i for i in ids}
    assert (fake.gets, fake.lists, scheduler.requests) == (0, 1, 1)


async def test_a_deployment_missing_from_the_list_is_fetched_alone() -> None:
    """An id the list does not hold gets its own GET, so its 404 reaches its watcher."""
    fake = FakeDeployments(["a", "b", "c", "d"])
    scheduler = _scheduler(fake, attached=5)

    async def missing() -> None:
        with pytest.raises(NotFound):
            await scheduler.fetch("gone")

    async with anyio.create_task_group() as tg:
        tg.start_soon(missing)
        for i in "abcd":
            tg.start_soon(scheduler.fetch, i)
    assert (fake.lists, fake.gets) == (1, 1)


async def test_a_failed_list_fails_every_waiter_with_its_error() -> None:
    """A transient list failure reaches every poll of the batch, without N more requests."""
    fake = FakeDeployments(["a", "b", "c", "d"], list_error=ServerError(503))
    scheduler = _scheduler(fake, attached=4)
    errors: list[BaseException] = []

    async def one(i: str) -> None:
        try:
            await scheduler.fetch(i)
        except ServerError as exc:
            errors.append(exc)

    async with anyio.create_task_group() as tg:
        for i in "abcd":
            tg.start_soon(one, i)
    assert len(errors) == 4
    assert fake.gets == 0
    assert fake.lists == 1


@pytest.mark.parametrize("status", [404, 405, 501])
async def test_an_api_without_the_list_falls_back_to_single_gets(status: int) -> None:
    """If GET /deployments is not offered, polls fall back to single GETs for good."""
    fake = FakeDeployments(["a", "b", "c", "d"], list_error=APIError(status))
    scheduler = _scheduler(fake, attached=4)
    await _fetch_all(scheduler, list("abcd"))
    await _fetch_all(scheduler, list("abcd"))
    assert fake.lists == 1
    assert fake.gets == 8


async def test_attach_and_detach_count_watchers() -> None:
    """attached counts the watchers polling through the scheduler."""
    scheduler = _scheduler(FakeDeployments([]), attached=2)
    scheduler.detach()
    assert scheduler.attached == 1
