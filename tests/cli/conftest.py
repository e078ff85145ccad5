"""Fixtures for the command's tests: a sandbox served from a thread of its own, and ``main``
run in-process with its stdout, stderr, stdin and environment under the test's control.

The command runs its own event loop (``asyncio.run``) in the test's thread, so the sandbox
cannot share it: :class:`ThreadedSandbox` serves it from another thread. Most tests use a
sandbox on a manual clock and move time with ``served.advance(...)``; the watch tests use a
fast one (3000 sandbox seconds per real second: a deployment is READY in about 60 ms).
"""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from wamanager._states import DeploymentState
from wamanager.cli import main
from wamanager.sandbox import ManualClock, SandboxConfig, SandboxHandle, Scenario, run_sandbox

#: Every variable the command reads; each test starts with none of them set.
VARIABLES = (
    "VONAGE_APPLICATION_ID",
    "VONAGE_PRIVATE_KEY",
    "VONAGE_API_KEY",
    "VONAGE_API_SECRET",
    "WAMANAGER_BASE_URL",
)

#: Numbers (country code 44) the sandboxes here treat specially.
FAILING = "7700900666"  # goes to ERROR with "Invalid vname certificate"
STUCK = "7700900777"  # never leaves CREATING_CLUSTER


def with_basic_auth(config: SandboxConfig) -> SandboxConfig:
    """``config`` accepting basic auth too, on sandboxes that answer it only when told to."""
    if "basic_auth" in attrs.fields_dict(SandboxConfig):
        return attrs.evolve(config, basic_auth=True)
    return config


class ThreadedSandbox:
    """A sandbox served by a thread (and event loop) of its own, for ``with`` blocks."""

    def __init__(self, config: SandboxConfig, key_dir: Path) -> None:
        self.config = config
        self._key_dir = key_dir
        self._ready = threading.Event()
        self._thread = threading.Thread(target=asyncio.run, args=(self._serve(),), daemon=True)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._handle: SandboxHandle | None = None

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            async with run_sandbox(self.config) as handle:
                self._handle = handle
                self._ready.set()
                await self._stop.wait()
        finally:
            self._ready.set()

    def __enter__(self) -> ThreadedSandbox:
        self._thread.start()
        assert self._ready.wait(10), "the sandbox did not start in time"
        assert self._handle is not None, "the sandbox failed to start"
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self._loop is not None
        assert self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    @property
    def handle(self) -> SandboxHandle:
        """The running sandbox."""
        assert self._handle is not None
        return self._handle

    @property
    def key_path(self) -> Path:
        """The default application's private key, written to a file."""
        path = self._key_dir / "sandbox.key"
        if not path.exists():
            path.write_text(self.handle.private_key_pem or "")
        return path

    @property
    def jwt_env(self) -> dict[str, str]:
        """The variables for JWT auth with the default application (the key as a path)."""
        return {
            "WAMANAGER_BASE_URL": self.handle.base_url,
            "VONAGE_APPLICATION_ID": self.handle.application_id,
            "VONAGE_PRIVATE_KEY": str(self.key_path),
        }

    @property
    def basic_env(self) -> dict[str, str]:
        """The variables for basic auth with the first account."""
        return {
            "WAMANAGER_BASE_URL": self.handle.base_url,
            "VONAGE_API_KEY": self.handle.api_key,
            "VONAGE_API_SECRET": self.handle.api_secret,
        }

    def advance(self, seconds: float) -> None:
        """Move the manual clock (the engine reads it lazily, so no lock is needed)."""
        self.handle.advance(seconds)

    def code(self, deployment_id: str) -> str:
        """The last OTP code the sandbox delivered for ``deployment_id``."""
        message = self.handle.otp(deployment_id)
        assert message is not None, "no code delivered yet"
        return message.code

    def state(self, deployment_id: str) -> DeploymentState:
        """The deployment's state as the sandbox holds it (after lazily advancing it)."""
        stored = self.handle.engine.get(deployment_id)
        assert stored is not None
        self.handle.engine.advance(stored)
        return stored.state


@attrs.frozen
class Result:
    """What one run of the command did."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        """stdout as one JSON document."""
        return json.loads(self.out)

    def json_lines(self) -> list[Any]:
        """stdout as JSON lines."""
        return [json.loads(line) for line in self.out.splitlines()]


class CLI:
    """Runs ``wamanager`` in-process: ``cli("status", dep_id, "--json")``."""

    def __init__(self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
        self._capsys = capsys
        self._monkeypatch = monkeypatch
        #: Variables every run gets unless ``env`` replaces them.
        self.env: dict[str, str] = {}

    def __call__(
        self, *args: str, env: dict[str, str] | None = None, stdin: str | io.TextIOBase = ""
    ) -> Result:
        with self._monkeypatch.context() as patch:
            for name, value in (self.env if env is None else env).items():
                patch.setenv(name, value)
            patch.setattr(sys, "stdin", io.StringIO(stdin) if isinstance(stdin, str) else stdin)
            self._capsys.readouterr()
            code = main(list(args))
            captured = self._capsys.readouterr()
        return Result(code, captured.out, captured.err)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> CLI:
    """The command, run in-process with none of its variables set (``cli.env`` adds some)."""
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return CLI(capsys, monkeypatch)


def _scenarios() -> tuple[Scenario, ...]:
    return (
        Scenario("44" + FAILING, fail_at=DeploymentState.CREATING_CLUSTER),
        Scenario("44" + STUCK, stuck_in=DeploymentState.CREATING_CLUSTER),
    )


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ThreadedSandbox]:
    """A sandbox on a manual clock (basic auth accepted too), served from a thread."""
    config = with_basic_auth(SandboxConfig(clock=ManualClock(), seed=8, scenarios=_scenarios()))
    with ThreadedSandbox(config, tmp_path) as sandbox:
        yield sandbox


@pytest.fixture
def fast(tmp_path: Path) -> Iterator[ThreadedSandbox]:
    """A sandbox whose clock runs 3000 times faster than real time, served from a thread."""
    config = SandboxConfig(speed=3000, seed=8, scenarios=_scenarios())
    with ThreadedSandbox(config, tmp_path) as sandbox:
        yield sandbox


@pytest.fixture
def run(cli: CLI, served: ThreadedSandbox) -> CLI:
    """The command with JWT credentials of the manual-clock sandbox in its environment."""
    cli.env = served.jwt_env
    return cli


def deploy(run: CLI, number: str = "7700900123") -> str:
    """Create a deployment of ``44 <number>`` with the command; its id."""
    result = run(
        "deploy", "44", number, "--waba-id", "123456789123", "--vname-certificate", "c", "--json"
    )
    assert result.code == 0, result.err
    deployment_id: str = result.json()["deployment_id"]
    return deployment_id


def ready(run: CLI, served: ThreadedSandbox, number: str = "7700900123") -> str:
    """A READY deployment of ``44 <number>``, walked there with the command; its id."""
    deployment_id = deploy(run, number)
    served.advance(130)  # INITIALIZING -> ... -> CODE_SENT
    assert served.state(deployment_id) == DeploymentState.CODE_SENT
    assert run("verify", deployment_id, served.code(deployment_id)).code == 0
    served.advance(40)  # CODE_VERIFIED -> FINALIZING -> READY
    assert served.state(deployment_id) == DeploymentState.READY
    return deployment_id


@pytest.fixture
def stop_at_end() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes to kill if a test leaves them running."""
    processes: list[subprocess.Popen[str]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.communicate()  # waits, and closes the pipes
