"""Stoplight Prism, as a validating proxy in front of the sandbox, flags nothing the client
sends or the sandbox answers in a whole onboarding with JWT auth (the issue's "done when").

Prism validates every request (security scheme, parameters, body) and every response
(status, body) against the patched spec; with ``--errors`` a request violation is refused,
and response violations are logged as ``Violation:`` warnings. The test reads both.

Prism is installed with npm into ``.cache/`` in the repository (once; later runs reuse it).
If Node, npm or Prism cannot run, the test fails, saying why: it is never skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from wamanager import DeploymentRequest, JWTAuth, PollPolicy, Profile, WhatsAppManager, provision
from wamanager.sandbox import SandboxConfig, SandboxHandle, run_sandbox

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "spec" / "whatsapp-provisioning.patched.yml"
CACHE = ROOT / ".cache"
# The newest Prism whose package accepts Node 18 and 20 (5.15+ asks for Node 24).
PRISM_VERSION = "5.14.2"
INSTALL_TIMEOUT = 240
START_TIMEOUT = 60


def _install_prism() -> Path:
    """The prism executable, installed with npm under .cache/ if it is not there yet."""
    target = CACHE / f"prism-cli-{PRISM_VERSION}"
    executable = target / "node_modules" / ".bin" / "prism"
    if executable.exists():
        return executable
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        pytest.fail("the Prism test needs Node (18+) and npm on PATH; neither may be missing")
    CACHE.mkdir(exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="prism-install-", dir=CACHE))
    command = [
        npm,
        "install",
        "--no-audit",
        "--no-fund",
        "--ignore-scripts",  # Prism needs none; one of its packages only phones home
        "--prefix",
        str(staging),
        "--cache",
        str(CACHE / "npm"),
        f"@stoplight/prism-cli@{PRISM_VERSION}",
    ]
    try:
        done = subprocess.run(  # noqa: S603 - a fixed command line
            command, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        shutil.rmtree(staging, ignore_errors=True)
        pytest.fail(f"npm did not install Prism within {INSTALL_TIMEOUT} s")
    if done.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        pytest.fail(f"npm could not install Prism:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    with contextlib.suppress(OSError):  # another run may have finished first: use either
        staging.rename(target)
    shutil.rmtree(staging, ignore_errors=True)
    return executable


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def prism_proxy(sandbox: SandboxHandle) -> AsyncIterator[tuple[str, list[str]]]:
    """Prism proxying to ``sandbox``: its URL and the (growing) list of its log lines."""
    executable = _install_prism()
    port = _free_port()
    process = await asyncio.create_subprocess_exec(
        str(executable),
        "proxy",
        str(SPEC),
        sandbox.base_url,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--errors",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    lines: list[str] = []
    listening = asyncio.Event()

    async def read() -> None:
        assert process.stdout is not None
        async for raw in process.stdout:
            line = raw.decode(errors="replace").rstrip()
            lines.append(line)
            if "Prism is listening" in line:
                listening.set()

    reader = asyncio.create_task(read())
    try:
        try:
            await asyncio.wait_for(listening.wait(), START_TIMEOUT)
        except asyncio.TimeoutError:  # not yet the builtin TimeoutError on Python 3.10
            pytest.fail(f"Prism did not start within {START_TIMEOUT} s:\n" + "\n".join(lines))
        yield f"http://127.0.0.1:{port}", lines
    finally:
        if process.returncode is None:
            process.terminate()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(process.wait(), 10)
            if process.returncode is None:
                process.kill()
                await process.wait()
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader


async def _logged(lines: list[str], text: str) -> None:
    """Wait (a few seconds at most) until Prism has logged a line containing ``text``."""
    for _ in range(200):
        if any(text in line for line in lines):
            return
        await asyncio.sleep(0.02)
    pytest.fail(f"Prism never logged {text!r}:\n" + "\n".join(lines))


def _flagged(lines: list[str]) -> list[str]:
    return [line for line in lines if "Violation" in line or "✖" in line]


@pytest.mark.timeout(INSTALL_TIMEOUT + 120)
async def test_prism_flags_nothing_in_a_whole_onboarding_with_jwt() -> None:
    """Create, poll, verify, READY, profile, photo, sticker pack and stickers, list, delete:
    Prism (validating against the spec) flags no request and no response."""
    async with run_sandbox(SandboxConfig(speed=600)) as sandbox, prism_proxy(sandbox) as (url, log):
        # Control: Prism does validate. Basic auth, which the spec does not apply, is refused.
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{url}/deployments", headers={"Authorization": "Basic eDp5"}) as refused,
        ):
            assert refused.status == 401
            assert "security scheme" in await refused.text()
        await _logged(log, "UNAUTHORIZED")  # Prism logs it, flagged, before we go on
        before = len(log)
        auth = JWTAuth(sandbox.application_id, sandbox.private_key_pem or "")
        async with WhatsAppManager(base_url=url, auth=auth, max_retries=0) as wam:
            deployment = await provision(
                wam,
                DeploymentRequest("44", "7700900000", "certificate", "123456789123"),
                otp=sandbox.otp_provider,
                profile=Profile(
                    about="Fresh bread", email="shop@example.com", websites=["https://x.io"]
                ),
                photo_url="https://cdn.example.com/logo.png",
                policy=PollPolicy(interval=0.05),
            )
            dep_id = deployment.deployment_id
            pack = await wam.stickerpacks.create(
                dep_id, "Bakery", "Loaves", ios_app_store_link="https://apps.apple.com/app/id1"
            )
            assert [p.id for p in await wam.stickerpacks.list(dep_id)] == [pack.id]
            assert (await wam.stickerpacks.get(dep_id, pack.id)).name == "Loaves"
            sticker = await wam.stickers.create(dep_id, pack.id, "media-1", ["🍞"])
            assert [s.index for s in await wam.stickers.list(dep_id, pack.id)] == [sticker.index]
            assert (await wam.stickers.get(dep_id, pack.id, sticker.index)).emojis == ("🍞",)
            await wam.stickers.delete(dep_id, pack.id, sticker.index)
            assert (await wam.profiles.get(dep_id)).about == "Fresh bread"
            assert (await wam.profiles.get_photo(dep_id)).image_url is not None
            assert [d.deployment_id for d in await wam.deployments.list()] == [dep_id]
            await wam.deployments.delete(dep_id)
        for _ in range(200):  # Prism logs asynchronously: wait for the last answer's lines
            onboarding = log[before:]
            received = sum("Request received" in line for line in onboarding)
            if received and received == sum(
                "Received forward response" in line for line in onboarding
            ):
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.1)  # a response violation is logged just after its answer
        onboarding = log[before:]
        forwarded = [line for line in onboarding if "Forwarding" in line]
        assert len(forwarded) >= 15, "\n".join(onboarding)  # every call went through Prism
        assert _flagged(onboarding) == [], "\n".join(onboarding)
