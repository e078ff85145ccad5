"""The ``wamanager`` command.

Each subcommand is a function that registers its parser (``_add_<name>``) and a function that
runs it; add one by writing both and listing the first in ``_SUBCOMMANDS``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from ._version import __version__

__all__ = ["main"]


def _add_sandbox(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "sandbox",
        help="serve a local simulation of the WhatsApp Provisioning API",
        description="Serve the sandbox until Ctrl-C; prints its base URL and credentials.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=8080, help="port to bind, 0 for a free one (default 8080)"
    )
    parser.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="sandbox seconds per real second (60: a deployment reaches CODE_SENT in ~2 s)",
    )
    parser.add_argument(
        "--seed", type=int, default=None, help="seed for OTP codes, ids and injected faults"
    )
    parser.set_defaults(run=_run_sandbox)


async def _serve_sandbox(args: argparse.Namespace) -> None:
    from .sandbox import SandboxConfig, run_sandbox

    config = SandboxConfig(speed=args.speed, seed=args.seed)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # Windows has no signal handlers
            loop.add_signal_handler(sig, stop.set)
    async with run_sandbox(config, host=args.host, port=args.port) as sandbox:
        key_path = _write_private_key(sandbox.private_key_pem or "")
        try:
            print(
                f"wamanager sandbox {__version__} serving (speed x{args.speed:g})\n"
                f"  base URL:        {sandbox.base_url}\n"
                f"  api key:         {sandbox.api_key}\n"
                f"  api secret:      {sandbox.api_secret}\n"
                f"  application id:  {sandbox.application_id}\n"
                f"  private key:     {key_path}\n"
                f"  OTP inbox:       {sandbox.root_url}/_sandbox/deployments/<id>/otp\n"
                f"  try:             curl -u {sandbox.api_key}:{sandbox.api_secret} "
                f"{sandbox.base_url}/deployments\n"
                "Press Ctrl-C to stop.",
                flush=True,
            )
            await stop.wait()
        finally:
            with contextlib.suppress(OSError):
                os.unlink(key_path)
    print("sandbox stopped", flush=True)


def _write_private_key(pem: str) -> Path:
    fd, name = tempfile.mkstemp(prefix="wamanager-sandbox-", suffix=".key")
    with os.fdopen(fd, "w") as handle:  # mkstemp creates it readable by its owner only
        handle.write(pem)
    return Path(name)


def _run_sandbox(args: argparse.Namespace) -> int:
    asyncio.run(_serve_sandbox(args))
    return 0


def _add_demo(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="onboard a number end to end against an embedded sandbox",
        description="Start a sandbox, provision a number (OTP from the sandbox inbox), set its "
        "profile, photo and a sticker pack, narrating every event.",
    )
    parser.add_argument(
        "--speed",
        type=float,
        default=60.0,
        help="sandbox seconds per real second (default 60: about five seconds in all)",
    )
    parser.set_defaults(run=_run_demo)


def _run_demo(args: argparse.Namespace) -> int:
    from ._demo import run_demo

    return asyncio.run(run_demo(speed=args.speed))


_SUBCOMMANDS: Sequence[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]] = (
    _add_sandbox,
    _add_demo,
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``wamanager`` command, with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="wamanager", description="Tools for the Vonage WhatsApp Provisioning API."
    )
    parser.add_argument("--version", action="version", version=f"wamanager {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in _SUBCOMMANDS:
        add(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``wamanager`` command with ``argv`` (default: ``sys.argv[1:]``); the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    run: Callable[[argparse.Namespace], int] | None = getattr(args, "run", None)
    if run is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return run(args)
    except KeyboardInterrupt:
        return 130
