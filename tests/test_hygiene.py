"""The suite's hygiene check catches what a test leaves behind (it would pass vacuously
otherwise): run against a few deliberately leaky tests, it fails exactly those."""

from __future__ import annotations

from pathlib import Path

import pytest

CONFTEST = Path(__file__).with_name("conftest.py")
LEAKY = """
import asyncio, socket
import aiohttp
from aiohttp import web

async def test_clean():
    async with aiohttp.ClientSession():
        pass

async def test_leaves_a_session_open():
    aiohttp.ClientSession()

async def test_leaves_a_task_running():
    asyncio.get_running_loop().create_task(asyncio.sleep(3600))

async def test_leaves_a_server_running():
    runner = web.AppRunner(web.Application())
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()

def test_leaks_a_socket():
    socket.socket()
"""


def test_the_hygiene_check_fails_each_leak(pytester: pytest.Pytester) -> None:
    """A session, a task, a server or a socket left open fails its test; a clean test passes."""
    pytester.makeconftest(CONFTEST.read_text(encoding="utf-8"))
    pytester.makepyfile(test_leaky=LEAKY)
    pytester.makeini(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
        "filterwarnings =\n    error::ResourceWarning\n"
        "    error::pytest.PytestUnraisableExceptionWarning\n"
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q", "-rfE")
    summary = [line for line in result.outlines if line.startswith(("FAILED", "ERROR"))]
    flagged = {line.split("::")[1].split()[0] for line in summary}
    assert flagged == {
        "test_leaves_a_session_open",
        "test_leaves_a_task_running",
        "test_leaves_a_server_running",
        "test_leaks_a_socket",
    }, result.stdout.str()
    text = result.stdout.str()
    for marker in ("left open", "tasks left running", "socket"):
        assert marker in text
