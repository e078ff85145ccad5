"""``deploy``, ``status``, ``list``, ``watch``, ``verify``, ``resend`` and ``delete``, and
:func:`follow`, which prints a watch live (``deploy --watch``, ``watch``, the demo)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import anyio
import click

from .._client import WhatsAppManager
from .._events import (
    CodeRejected,
    CodeRequested,
    CodeResent,
    CodeVerified,
    Event,
    PollFailed,
    StateChanged,
    Succeeded,
)
from .._models import Deployment, DeploymentRequest
from .._otp_driver import OTPProvider
from .._policy import PollPolicy
from .._provisioning import create_or_adopt
from ._options import POSITIVE_SECONDS, api_command
from ._otp_sources import PromptOTP, SandboxOTP, in_daemon_thread, read_line
from ._output import Output

__all__ = ["COMMANDS", "SANDBOX_INTERVAL", "describe", "follow"]

#: The poll interval of ``--otp-from-sandbox`` when ``--interval`` is not given: sandboxes
#: run their clock fast, and the watcher's defaults (seconds per state) would lag behind.
SANDBOX_INTERVAL = 0.25


def describe(event: Event) -> str | None:
    """What a person reads about ``event`` (``None``: nothing worth a line)."""
    if isinstance(event, StateChanged):
        detail = event.deployment.detail
        return f"state {event.current}" + (f": {detail}" if detail else "")
    if isinstance(event, CodeRequested):
        return "waiting for the OTP code"
    if isinstance(event, CodeVerified):
        return "OTP code verified"
    if isinstance(event, CodeRejected):
        return "OTP code rejected" + (f": {event.reason}" if event.reason else "")
    if isinstance(event, CodeResent):
        return f"OTP code resent by {event.method}"
    if isinstance(event, PollFailed):
        return f"poll failed ({type(event.error).__name__}), retrying"
    if isinstance(event, Succeeded):
        return "deployment READY"
    return None  # Failed: main reports the error itself


async def follow(
    wam: WhatsAppManager,
    out: Output,
    deployment_id: str,
    *,
    otp: OTPProvider | None = None,
    policy: PollPolicy | None = None,
    started: datetime | None = None,
) -> Deployment:
    """Watch a deployment to its end, printing each event with the time since ``started``.

    Returns the READY deployment; raises what the watcher's ``result()`` raises, or what the
    OTP source raised (``EOFError`` when the person closed the input).
    """
    started = started or datetime.now(timezone.utc)
    failure: list[BaseException] = []
    with anyio.CancelScope() as scope:

        async def guarded(deployment: Deployment) -> str | None:
            assert otp is not None
            try:
                return await otp(deployment)
            except Exception as exc:
                failure.append(exc)
                scope.cancel()
                return None

        watcher = wam.watch(deployment_id, otp=guarded if otp else None, policy=policy)
        events = watcher.events()
        async with watcher:
            last_change = started
            async for event in events:
                text = describe(event)
                if isinstance(event, StateChanged):
                    if event.previous is not None and text is not None:
                        spent = (event.at - last_change).total_seconds()
                        text += f" ({spent:.1f}s in {event.previous})"
                    last_change = event.at
                out.event(event, text, (event.at - started).total_seconds())
            return await watcher.result()
    raise failure[0]


def _watch_options(func: Any) -> Any:
    func = click.option(
        "--timeout",
        type=POSITIVE_SECONDS,
        help="Give up after SECONDS (exit code 5); the deployment goes on remotely.",
    )(func)
    return click.option(
        "--interval",
        type=POSITIVE_SECONDS,
        help="Poll every SECONDS [default: per state, 2-15 s; 0.25 with --otp-from-sandbox].",
    )(func)


@api_command(short_help="Start provisioning a number; --watch follows it to READY.")
@click.argument("country_code")
@click.argument("number")
@click.option("--waba-id", required=True, help="The WhatsApp Business Account id.")
@click.option(
    "--vname-certificate",
    required=True,
    help="The number's certificate from the WhatsApp Business dashboard (never shown).",
)
@click.option(
    "--method", type=click.Choice(["sms", "voice"]), default="sms", help="How the OTP is sent."
)
@click.option("--pin", help="The number's two-step verification PIN, if it has one.")
@click.option("--watch", is_flag=True, help="Follow it to READY, asking for the OTP code.")
@click.option(
    "--otp-from-sandbox",
    is_flag=True,
    help="Read the OTP code from the sandbox's inbox instead of asking (implies --watch).",
)
@_watch_options
async def deploy(
    wam: WhatsAppManager,
    out: Output,
    country_code: str,
    number: str,
    waba_id: str,
    vname_certificate: str,
    method: str,
    pin: str | None,
    watch: bool,
    otp_from_sandbox: bool,
    interval: float | None,
    timeout: float | None,
) -> None:
    """Start provisioning COUNTRY_CODE NUMBER (e.g. 44 7700900123) for WhatsApp.

    With --watch it follows the deployment live to READY, asking for the OTP code at a
    prompt when it is sent (or reading it from a sandbox with --otp-from-sandbox); with
    --watch, a number that is deployed already is followed instead of failing.
    Exit codes: 0 READY (or created), 4 ERROR or deleted, 5 --timeout passed.
    """
    started = datetime.now(timezone.utc)
    request = DeploymentRequest(
        country_code=country_code,
        number=number,
        vname_certificate=vname_certificate,
        waba_id=waba_id,
        method=method,
        pin=pin,
    )
    if not (watch or otp_from_sandbox):
        deployment = await wam.deployments.create(request)
        out.deployment(deployment)
        if not out.json_mode:
            click.echo(f"follow it with: wamanager watch {deployment.deployment_id}", err=True)
        return
    deployment_id, adopted = await create_or_adopt(wam, request)
    if adopted:
        click.echo(f"+{country_code} {number} is deployed already as {deployment_id}", err=True)
    if otp_from_sandbox:
        policy = PollPolicy(interval=interval or SANDBOX_INTERVAL, deadline=timeout)
        async with SandboxOTP(wam) as inbox:
            await follow(wam, out, deployment_id, otp=inbox, policy=policy, started=started)
    else:
        policy = PollPolicy(interval=interval, deadline=timeout)
        await follow(wam, out, deployment_id, otp=PromptOTP(), policy=policy, started=started)


@api_command(short_help="Show a deployment and its state.")
@click.argument("deployment_id")
async def status(wam: WhatsAppManager, out: Output, deployment_id: str) -> None:
    """Show deployment DEPLOYMENT_ID: its state (and why, for ERROR) and number."""
    out.deployment(await wam.deployments.get(deployment_id))


@api_command("list", short_help="List the account's deployments.")
async def list_deployments(wam: WhatsAppManager, out: Output) -> None:
    """List every deployment of the account, with its state (JSON: an array)."""
    deployments = await wam.deployments.list()
    rows = [
        [
            d.deployment_id,
            str(d.state or ""),
            f"+{d.country_code or ''} {d.number or ''}",
            d.waba_id or "",
        ]
        for d in deployments
    ]
    out.result_table(
        deployments, ["DEPLOYMENT", "STATE", "NUMBER", "WABA ID"], rows, style_column=1
    )


@api_command(short_help="Follow a deployment's state changes live.")
@click.argument("deployment_id")
@_watch_options
async def watch(
    wam: WhatsAppManager,
    out: Output,
    deployment_id: str,
    interval: float | None,
    timeout: float | None,
) -> None:
    """Follow DEPLOYMENT_ID live, one line per state change with its timing, until it is
    READY (exit 0), ERROR or deleted (exit 4), or --timeout passes (exit 5).

    It only watches: verify the OTP with 'wamanager verify' (or use 'deploy --watch').
    With --json, one JSON object per event (JSON lines).
    """
    await follow(wam, out, deployment_id, policy=PollPolicy(interval=interval, deadline=timeout))


@api_command(short_help="Submit the OTP code a number received.")
@click.argument("deployment_id")
@click.argument("code", required=False)
async def verify(wam: WhatsAppManager, out: Output, deployment_id: str, code: str | None) -> None:
    """Submit the OTP CODE that the number of DEPLOYMENT_ID received (asked for when not
    given, so that it stays out of the shell history)."""
    if code is None:
        code = await in_daemon_thread(lambda: read_line("OTP code"))
    result = await wam.otp.verify(deployment_id, code)
    accepted = result.deployment_id or deployment_id
    out.result_line(result, f"code accepted: {accepted} is {result.status}")


@api_command(short_help="Have a new OTP code sent.")
@click.argument("deployment_id")
@click.option(
    "--method", type=click.Choice(["sms", "voice"]), default="sms", help="How to send it."
)
async def resend(wam: WhatsAppManager, out: Output, deployment_id: str, method: str) -> None:
    """Have a new OTP code sent to the number of DEPLOYMENT_ID; the old code stops working."""
    result = await wam.otp.resend(deployment_id, method=method)
    out.result_line(result, f"a new code is on its way by {result.method or method}")


@api_command(json_output=False, short_help="Delete a deployment.")
@click.argument("deployment_id")
async def delete(wam: WhatsAppManager, out: Output, deployment_id: str) -> None:
    """Delete DEPLOYMENT_ID: it moves to DELETING, then DELETED."""
    await wam.deployments.delete(deployment_id)
    out.line(f"deleting {deployment_id} (DELETING, then DELETED)")


COMMANDS = (deploy, status, list_deployments, watch, verify, resend, delete)
