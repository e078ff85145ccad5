"""``wamanager.testing`` as users meet it: the pytest plugin, and the fakes it ships."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import anyio
import anyio.lowlevel

from wamanager import BasicAuth, Clock, DeploymentState, WhatsAppManager
from wamanager.testing import (
    BASE_PATH,
    FakeAPI,
    RecordedRequest,
    Reply,
    SleepRecorder,
    VirtualClock,
)

ROOT = Path(__file__).resolve().parents[1]


def _readme_block(marker: str) -> str:
    """The Python code block that follows ``<!-- test: marker -->`` in the README."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(rf"<!-- test: {marker} -->\n```python\n(.*?)```", text, re.DOTALL)
    assert found is not None, f"README has no block marked {marker}"
    return found.group(1)


def _run_readme_block(marker: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run the README block ``marker`` as a test file under pytest-asyncio's strict mode."""
    (tmp_path / f"test_{marker.replace('-', '_')}.py").write_text(_readme_block(marker))
    (tmp_path / "pytest.ini").write_text("[pytest]\nasyncio_mode = strict\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    return subprocess.run(  # noqa: S603 - our own interpreter on a file we wrote
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
        check=False,
    )


def test_loading_the_plugin_imports_neither_the_sandbox_nor_pytest_asyncio_fixtures() -> None:
    """Importing the plugin module leaves the sandbox unimported until a fixture is used."""
    code = "import sys, wamanager.testing; print('wamanager.sandbox' in sys.modules)"
    done = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "False"


def test_readme_fixture_example_passes_in_strict_mode(tmp_path: Path) -> None:
    """The README's fixture example passes as written under pytest-asyncio's strict mode."""
    done = _run_readme_block("readme-fixtures", tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout


def test_readme_fakes_example_passes_in_strict_mode(tmp_path: Path) -> None:
    """The README's FakeAPI example passes as written under pytest-asyncio's strict mode."""
    done = _run_readme_block("readme-fakes", tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout


def test_importing_the_fakes_leaves_aiohttp_server_and_the_sandbox_unimported() -> None:
    """The fakes import aiohttp's server only when a FakeAPI starts, never on import."""
    code = (
        "import sys; from wamanager.testing import FakeAPI, SleepRecorder, VirtualClock; "
        "print(sorted(m for m in ('aiohttp.web', 'aiohttp.test_utils', 'wamanager.sandbox') "
        "if m in sys.modules))"
    )
    done = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"


# --- FakeAPI -------------------------------------------------------------------------------


async def test_fake_api_answers_a_client_with_its_handler_and_records_the_request() -> None:
    """FakeAPI(handler) answers each request with the handler's Reply and records it."""
    seen: list[RecordedRequest] = []

    def handler(request: RecordedRequest) -> Reply:
        seen.append(request)
        return Reply.with_json([{"deployment_id": "d1", "current_state": {"title": "READY"}}])

    async with FakeAPI(handler) as api:
        assert api.base_url.endswith(BASE_PATH)
        async with WhatsAppManager(base_url=api.base_url, auth=BasicAuth("k", "s")) as wam:
            found = await wam.deployments.list()
    assert [(d.deployment_id, d.state) for d in found] == [("d1", DeploymentState.READY)]
    assert api.requests == seen
    assert (seen[0].method, seen[0].path) == ("GET", BASE_PATH + "/deployments")
    assert seen[0].headers["Authorization"].startswith("Basic ")


async def test_fake_api_takes_an_async_handler_that_sees_the_body() -> None:
    """An async handler is awaited; the recorded request carries the JSON body sent."""

    async def handler(request: RecordedRequest) -> Reply:
        return Reply.with_json({"echo": request.json}, status=201, headers={"X-Seen": "1"})

    async with (
        FakeAPI(handler) as api,
        aiohttp.ClientSession() as session,
        session.post(api.base_url + "/echo", json={"a": 1}) as response,
    ):
        assert response.status == 201
        assert response.headers["X-Seen"] == "1"
        assert await response.json() == {"echo": {"a": 1}}


async def test_fake_api_answers_queued_replies_before_the_handler_then_418() -> None:
    """Queued replies go first, then the handler; with neither, a 418 says no reply was set."""
    api = FakeAPI()
    await api.start()
    try:
        api.reply(204)
        async with aiohttp.ClientSession() as session:
            async with session.get(api.base_url) as response:
                assert response.status == 204
            async with session.get(api.base_url) as response:
                assert response.status == 418
                assert "no reply" in await response.text()
            api.handler = lambda request: Reply(202, "from the handler", content_type="text/plain")
            api.reply(200, text="queued", content_type="text/plain")
            async with session.get(api.base_url) as response:
                assert await response.text() == "queued"
            async with session.get(api.base_url + "/x?a=b") as response:
                assert (response.status, await response.text()) == (202, "from the handler")
        assert [r.query for r in api.requests] == [{}, {}, {}, {"a": "b"}]
        assert api.requests[-1].raw_path == BASE_PATH + "/x"
    finally:
        await api.close()


def test_reply_with_json_serialises_the_data_and_leaves_none_empty() -> None:
    """Reply.with_json sends the data as JSON, and no body at all for None."""
    assert Reply.with_json({"a": [1]}, 202) == Reply(202, '{"a": [1]}')
    assert Reply.with_json().body == ""


# --- SleepRecorder and VirtualClock --------------------------------------------------------


async def test_sleep_recorder_records_delays_and_calls_on_sleep_without_waiting() -> None:
    """SleepRecorder keeps each delay in order and hands it to on_sleep; no time passes."""
    moved: list[float] = []
    sleep = SleepRecorder(on_sleep=moved.append)
    started = time.monotonic()
    await sleep(30.0)
    await sleep(0.5)
    assert time.monotonic() - started < 1.0
    assert sleep.delays == moved == [30.0, 0.5]


async def test_virtual_clock_wakes_concurrent_sleepers_in_deadline_order() -> None:
    """Sleepers wake at their deadlines in order, on one shared virtual time."""
    clock = VirtualClock(start=100.0)
    assert isinstance(clock, Clock)
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append((name, clock.now()))

    started = time.monotonic()
    async with anyio.create_task_group() as group:
        group.start_soon(sleeper, "late", 3600.0)
        group.start_soon(sleeper, "early", 60.0)
        group.start_soon(sleeper, "now", -1.0)
    assert time.monotonic() - started < 1.0
    assert woke == [("now", 100.0), ("early", 160.0), ("late", 3700.0)]
    assert sorted(clock.sleeps) == [-1.0, 60.0, 3600.0]


async def test_virtual_clock_forgets_a_cancelled_sleeper() -> None:
    """A cancelled sleep never moves the time, and later sleepers still wake."""
    clock = VirtualClock()
    with anyio.move_on_after(0.05):
        async with anyio.create_task_group() as group:
            group.start_soon(clock.sleep, 50.0)
            await anyio.lowlevel.checkpoint()
            group.cancel_scope.cancel()
    assert clock.now() == 0.0
    await clock.sleep(5.0)
    assert clock.now() == 5.0
    assert repr(clock) == "VirtualClock(time=5.0)"


def test_the_testing_surface_is_sorted_and_every_name_documented() -> None:
    """wamanager.testing's __all__ is sorted, and each class and function in it has a docstring."""
    import inspect
    import types

    import wamanager.testing as testing

    def documentable(obj: object) -> bool:
        # A type alias (``Handler = Callable[...]``) is no class, though Python 3.10's
        # inspect.isclass says so; its documentation is the module's.
        if isinstance(obj, types.GenericAlias):
            return False
        return inspect.isclass(obj) or inspect.isfunction(obj)

    assert list(testing.__all__) == sorted(testing.__all__)
    undocumented = [
        name
        for name in testing.__all__
        if documentable(obj := getattr(testing, name)) and not obj.__doc__
    ]
    assert undocumented == []
