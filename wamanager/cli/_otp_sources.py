"""Where the command's OTP codes come from.

* :class:`PromptOTP` asks the person at the terminal (``deploy --watch``);
* :class:`SandboxOTP` reads a sandbox's inbox (``--otp-from-sandbox``, the demo);
* :class:`CommandOTP` runs a command per code and :class:`FileOTP` reads a CSV of codes
  (``bulk --otp-command`` / ``--otp-file``), each wrapped in :class:`FreshCodes` so that a
  rejected code is never submitted again.

Each is an :class:`~wamanager.OTPProvider`: ``await source(deployment)`` is the code, or
``None`` while none has come.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import functools
import json
import logging
import os
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import aiohttp
import anyio
import anyio.lowlevel
import click

from .._client import WhatsAppManager
from .._errors import error_from_response
from .._models import Deployment
from .._otp_driver import OTPProvider
from .._states import DeploymentState

__all__ = [
    "OTP_COMMAND_TIMEOUT",
    "CommandOTP",
    "FileOTP",
    "FreshCodes",
    "PromptOTP",
    "SandboxOTP",
    "command_arguments",
    "in_daemon_thread",
    "parse_codes",
    "read_line",
]

logger = logging.getLogger("wamanager.cli.bulk")

T = TypeVar("T")

#: An OTP command still running after this many seconds is killed (it gave no code).
OTP_COMMAND_TIMEOUT = 30.0


async def in_daemon_thread(func: Callable[[], T]) -> T:
    """Run a blocking ``func`` (a prompt) in a daemon thread, so that Ctrl-C or a deadline
    never waits for it: the thread is left behind and dies with the process."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(outcome: Callable[[], None]) -> None:
        if not future.done():  # else cancelled while the person was typing
            outcome()

    def run() -> None:
        outcome: Callable[[], None]
        try:
            outcome = functools.partial(future.set_result, func())
        except BaseException as exc:
            outcome = functools.partial(future.set_exception, exc)
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody waits
            loop.call_soon_threadsafe(settle, outcome)

    threading.Thread(target=run, name="wamanager prompt", daemon=True).start()
    return await future


def read_line(prompt: str) -> str:
    """Show ``prompt`` on stderr and read a line from stdin; ``EOFError`` when it is closed."""
    click.echo(f"{prompt}: ", nl=False, err=True)
    line = sys.stdin.readline()
    if not line:
        click.echo(err=True)
        raise EOFError("stdin closed before a code was given")
    return line.strip()


class PromptOTP:
    """An OTP source that asks the person at the terminal (stdin; prompts go to stderr).

    An empty answer means "not yet": the watcher asks again, and after five minutes without
    a code has another one sent.
    """

    async def __call__(self, deployment: Deployment) -> str | None:
        number = f"+{deployment.country_code or ''} {deployment.number or ''}".strip()
        prompt = f"OTP code sent to {number} (Enter: not yet)"
        await anyio.lowlevel.checkpoint()  # the event lines already due print first
        return await in_daemon_thread(lambda: read_line(prompt)) or None


class SandboxOTP:
    """An OTP source reading a sandbox's inbox, ``GET {root}/_sandbox/deployments/{id}/otp``,
    with the client's own ``Authorization`` header. Close it (or ``async with``)."""

    def __init__(self, wam: WhatsAppManager) -> None:
        from ..sandbox import API_PREFIX, INBOX_PREFIX

        base = wam.base_url.rstrip("/")
        root = base.removesuffix(API_PREFIX) if base.endswith(API_PREFIX) else base
        self._inbox = root + INBOX_PREFIX
        self._auth = wam.session.auth
        self._http: aiohttp.ClientSession | None = None

    async def __call__(self, deployment: Deployment) -> str | None:
        if self._http is None:
            self._http = aiohttp.ClientSession()
        path = f"/deployments/{deployment.deployment_id}/otp"
        headers = {"Authorization": self._auth.authorization()}
        async with self._http.get(self._inbox + path, headers=headers) as response:
            if response.status == 404:
                return None  # no code delivered yet
            text = await response.text()
        try:
            body = json.loads(text)
        except ValueError:
            body = None
        if response.status != 200:
            raise error_from_response(response.status, body, body=text, method="GET", path=path)
        code = body.get("code") if isinstance(body, dict) else None
        return code if isinstance(code, str) else None

    async def __aenter__(self) -> SandboxOTP:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._http is not None:
            await self._http.close()


def _msisdn(deployment: Deployment) -> str:
    return f"{deployment.country_code or ''}{deployment.number or ''}"


def command_arguments(template: Sequence[str], number: str, deployment_id: str) -> list[str]:
    """``template`` (split like a shell would) with ``{number}`` and ``{deployment_id}``
    replaced in each argument. Pure; no shell ever sees the result, so a value cannot
    inject anything."""
    return [
        argument.replace("{number}", number).replace("{deployment_id}", deployment_id)
        for argument in template
    ]


class CommandOTP:
    """An OTP source that runs a command per ask: the first line of its stdout is the code.

    ``template`` is the command split into arguments (``shlex.split``); ``{number}`` (the full
    number, country code first) and ``{deployment_id}`` are replaced in each. Empty output
    means "no code yet". A command that fails, cannot start or runs longer than ``timeout``
    seconds gives no code and is logged (a warning), never fatal; what it printed on stdout
    is never logged.
    """

    def __init__(self, template: Sequence[str], *, timeout: float = OTP_COMMAND_TIMEOUT) -> None:
        self.template = tuple(template)
        self.timeout = timeout

    async def __call__(self, deployment: Deployment) -> str | None:
        number = _msisdn(deployment)
        arguments = command_arguments(self.template, number, deployment.deployment_id)
        with anyio.move_on_after(self.timeout):
            try:
                done = await anyio.run_process(arguments, check=False)
            except OSError as exc:
                logger.warning("the OTP command for %s could not start: %s", number, exc)
                return None
            if done.returncode != 0:
                said = done.stderr.decode("utf-8", "replace").strip().splitlines()
                logger.warning(
                    "the OTP command for %s exited with %s%s",
                    number,
                    done.returncode,
                    f": {said[-1][:200]}" if said else "",
                )
                return None
            lines = done.stdout.decode("utf-8", "replace").splitlines()
            return (lines[0].strip() if lines else "") or None
        logger.warning("the OTP command for %s ran over %gs and was stopped", number, self.timeout)
        return None


def parse_codes(text: str) -> dict[str, str]:
    """The codes of an OTP file's text: ``number,code`` rows (a header row is optional), the
    number's non-digits ignored; a later row of a number wins. Pure."""
    codes: dict[str, str] = {}
    for row in csv.reader(text.splitlines()):
        if len(row) < 2:
            continue
        number = "".join(ch for ch in row[0] if ch.isdigit())
        code = row[1].strip()
        if number and code:
            codes[number] = code
    return codes


class FileOTP:
    """An OTP source reading a CSV of ``number,code`` rows, read again whenever it changes,
    so that codes can be added while the run waits. The number is the full one (country
    code first; ``+``, spaces and dashes are ignored). A file that cannot be read is logged
    and gives no code."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._seen: tuple[int, int] | None = None
        self._codes: dict[str, str] = {}

    def _refresh(self) -> None:
        info = self.path.stat()
        if (info.st_mtime_ns, info.st_size) != self._seen:
            self._codes = parse_codes(self.path.read_text(encoding="utf-8-sig"))
            self._seen = (info.st_mtime_ns, info.st_size)

    async def __call__(self, deployment: Deployment) -> str | None:
        try:
            await anyio.to_thread.run_sync(self._refresh)
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            logger.warning("cannot read the OTP file %s: %s", self.path, exc)
            return None
        return self._codes.get(_msisdn(deployment))


class FreshCodes:
    """Wraps an OTP source that may give the same code again (a file, a command), so that a
    code the API rejected is never submitted again for that deployment: until the source
    gives another, there is no code. A code whose verify failed for another reason (the
    network) may be submitted again.

    A code counts as rejected when the deployment shows WRONG_CODE after it was submitted.
    """

    def __init__(self, source: OTPProvider) -> None:
        self._source = source
        self._submitted: dict[str, str] = {}
        self._rejected: dict[str, set[str]] = {}

    async def __call__(self, deployment: Deployment) -> str | None:
        key = deployment.deployment_id
        if deployment.state == DeploymentState.WRONG_CODE and key in self._submitted:
            self._rejected.setdefault(key, set()).add(self._submitted.pop(key))
        code = await self._source(deployment)
        if not code or code in self._rejected.get(key, ()):
            return None
        self._submitted[key] = code
        return code
