"""``wamanager sandbox`` (serve the simulator) and ``wamanager demo`` (a narrated onboarding).

Every ``sandbox`` option below the marked line is a :class:`~wamanager.sandbox.SandboxConfig`
field of the same name, passed on as it is: a new sandbox setting is one more decorator.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import shlex
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .._version import __version__
from ._options import POSITIVE_FACTOR, debug_option, run_async

if TYPE_CHECKING:
    from ..sandbox import SandboxConfig, SandboxHandle

__all__ = ["COMMANDS", "sandbox_environ"]


def sandbox_environ(handle: SandboxHandle, private_key: str) -> dict[str, str]:
    """The variables :meth:`~wamanager.WhatsAppManager.from_env` reads, for a running sandbox:
    its base URL and default application (``private_key``: a path or the PEM text), and the
    account's basic credentials when the sandbox accepts Basic; with TLS, ``SSL_CERT_FILE``
    names its self-signed certificate."""
    environ = {**handle.environ, "VONAGE_PRIVATE_KEY": private_key}
    if handle.certificate_path is not None:
        # What Python's ssl module (and many tools) trust instead of the system's bundle.
        environ["SSL_CERT_FILE"] = str(handle.certificate_path)
    return environ


@contextlib.contextmanager
def _key_file(pem: str) -> Iterator[Path]:
    fd, name = tempfile.mkstemp(prefix="wamanager-sandbox-", suffix=".key")
    with os.fdopen(fd, "w") as handle:  # mkstemp makes it readable by its owner only
        handle.write(pem)
    try:
        yield Path(name)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(name)


def _announce(handle: SandboxHandle, environ: dict[str, str], mode: str, speed: float) -> None:
    if mode == "json":
        click.echo(json.dumps(environ))
    elif mode == "env":
        for name, value in environ.items():
            click.echo(f"export {name}={shlex.quote(value)}")
    else:
        exports = "\n".join(
            f"    export {name}={shlex.quote(value)}"
            for name, value in environ.items()
            if name in ("WAMANAGER_BASE_URL", "VONAGE_APPLICATION_ID", "VONAGE_PRIVATE_KEY")
        )
        basic = (
            f"  api key:         {handle.api_key} (Basic auth allowed)\n"
            if "VONAGE_API_KEY" in environ
            else ""
        )
        certificate = (
            f"  TLS certificate: {handle.certificate_path} (trust it in your client)\n"
            if handle.certificate_path
            else ""
        )
        click.echo(
            f"wamanager sandbox {__version__} serving (speed x{speed:g})\n"
            f"  base URL:        {handle.base_url}\n"
            f"  application id:  {handle.application_id}\n"
            f"  private key:     {environ['VONAGE_PRIVATE_KEY']}\n"
            f"{basic}{certificate}"
            f"  OTP inbox:       {handle.root_url}/_sandbox/deployments/<id>/otp\n"
            f"  control API:     {handle.root_url}/_sandbox/ (reset, clock, scenarios, stats)\n"
            "Use it from another shell (or: wamanager sandbox --env):\n"
            f"{exports}\n"
            "    wamanager deploy 44 7700900123 --waba-id 123456789123 "
            "--vname-certificate demo --otp-from-sandbox"
        )
    click.echo("Press Ctrl-C to stop.", err=mode != "human")


async def _serve(config: SandboxConfig, host: str, port: int, mode: str, tls: bool) -> None:
    from ..sandbox import run_sandbox

    async with contextlib.AsyncExitStack() as stack:
        try:
            handle = await stack.enter_async_context(
                run_sandbox(config, host=host, port=port, tls=tls)
            )
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise click.UsageError(
                    f"port {port} on {host} is in use; pick another --port (0: a free one)"
                ) from None
            raise click.UsageError(
                f"cannot listen on {host}:{port}: {exc.strerror or exc}; check --host"
            ) from None
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):  # Windows has no signal handlers
                loop.add_signal_handler(signum, stop.set)
        key_path = stack.enter_context(_key_file(handle.private_key_pem or ""))
        _announce(handle, sandbox_environ(handle, str(key_path)), mode, config.speed)
        await stop.wait()
    click.echo("sandbox stopped", err=mode != "human")


@click.command(short_help="Serve a local simulation of the WhatsApp Provisioning API.")
@click.option("--host", default="127.0.0.1", help="Address to bind.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8080, help="Port to bind; 0 picks a free one."
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print the base URL and credentials as one JSON object."
)
@click.option(
    "--env", "as_env", is_flag=True, help="Print them as 'export VONAGE_...=...' shell lines."
)
@click.option("--tls", is_flag=True, help="Serve HTTPS with a generated self-signed certificate.")
# --- SandboxConfig fields, passed on by name -----------------------------------------------
@click.option(
    "--speed",
    type=POSITIVE_FACTOR,
    default=60.0,
    help="Sandbox seconds per real second (60: a deployment is READY in about 3 s).",
)
@click.option("--seed", type=int, help="Seed for ids, OTP codes and faults (reproducible runs).")
@click.option(
    "--basic-auth",
    is_flag=True,
    help="Also accept HTTP Basic credentials (the spec applies Bearer JWTs only).",
)
@click.option(
    "--rate-limit",
    type=click.FloatRange(min=0),
    default=30.0,
    show_default=True,
    help="Requests per second per account, answered 429 beyond; 0 turns it off.",
)
@click.option(
    "--rate-burst",
    type=click.IntRange(min=1),
    default=30,
    show_default=True,
    help="Requests an account may make at once before the rate limit applies.",
)
def sandbox(
    host: str, port: int, as_json: bool, as_env: bool, tls: bool, **config_fields: Any
) -> None:
    """Serve a local simulation of the WhatsApp Provisioning API until Ctrl-C.

    It prints its base URL and credentials: a default application for JWT (its private key
    in a file removed on exit), and with --basic-auth the account's api key for Basic.
    --json and --env print the variables that 'wamanager' and Vonage's SDKs read
    (WAMANAGER_BASE_URL, VONAGE_APPLICATION_ID, VONAGE_PRIVATE_KEY, and VONAGE_API_KEY /
    VONAGE_API_SECRET with --basic-auth), for scripts and other languages' test suites; then
    only errors go to stderr.
    """
    from ..sandbox import SandboxConfig

    if as_json and as_env:
        raise click.UsageError("choose one of --json and --env")
    mode = "json" if as_json else "env" if as_env else "human"
    run_async(_serve(SandboxConfig(**config_fields), host, port, mode, tls))


sandbox.params.append(debug_option())


@click.command(short_help="Onboard a number end to end against an embedded sandbox.")
@click.option(
    "--speed",
    type=POSITIVE_FACTOR,
    default=60.0,
    help="Sandbox seconds per real second (60: about five seconds in all).",
)
def demo(speed: float) -> None:
    """Start a sandbox, deploy a number (JWT credentials, the OTP read from the sandbox
    inbox), set its profile, photo and a sticker pack, narrating every step."""
    from ._demo import run_demo
    from ._output import Output

    run_async(run_demo(speed=speed, out=Output()))


demo.params.append(debug_option())

COMMANDS = (sandbox, demo)
