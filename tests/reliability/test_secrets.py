"""No secret reaches anything wamanager shows, in any flow or command, even at DEBUG.

One test runs every flow of the library — ``provision()``, ``provision_many()`` with a journal
and a report, the watcher, every resource call, and the errors each can end in — and every
command of the CLI with ``--debug``, all with sentinel secrets: the account's API secret,
the application's private key, every JWT that reached a server, every OTP code the sandbox
delivered and the wrong ones tried, the PIN and the vname certificate. It then searches every
log record, repr, exception (message, ``args``, attributes, traceback and ``__cause__`` /
``__context__`` chain), event, the command's stdout and stderr, the bulk report files and
the journal's files for them: zero hits.

The sandboxes' OTP codes are replaced by distinctive sentinels (a six-digit code could turn
up by chance in the microseconds of a timestamp); nothing else about the flows is faked.
"""

from __future__ import annotations

import asyncio
import base64
import csv
import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import anyio
import attrs
import pytest
from aiohttp import web

from wamanager import (
    BasicAuth,
    BearerToken,
    ClientClosed,
    ConnectionFailed,
    DeploymentFailed,
    DeploymentRequest,
    Event,
    JournalError,
    JWTAuth,
    NotFound,
    NumberInUse,
    Onboarding,
    PollPolicy,
    Profile,
    ProvisioningError,
    RequestTimeout,
    ResendConflict,
    ServerError,
    Throttled,
    Unauthorized,
    UnexpectedResponse,
    ValidationError,
    VerificationFailed,
    Vertical,
    WatchTimeout,
    WhatsAppManager,
    WhatsAppManagerError,
    provision,
    provision_many,
)
from wamanager._journal import Journal
from wamanager._models import VerifyRequest
from wamanager.sandbox import Account, ManualClock, SandboxConfig, SandboxHandle, Scenario
from wamanager.sandbox._engine import SandboxEngine
from wamanager.sandbox._records import OTPMessage, StoredDeployment
from wamanager.sandbox._runner import _default_key_pair

from .._served import SandboxTime
from ..cli.conftest import CLI, VARIABLES, ThreadedSandbox
from ._support import Exposure, Handler, HeaderRecorder, serve

API_KEY = "acct-key"
API_SECRET = "apisecret-SENTINEL-5b7d2c"
WRONG_SECRET = "apisecret-SENTINEL-wrong-0e3f"
VNAME = "vname-SENTINEL-certificate-9e41a0"
PIN = "80417263"  # a PIN is digits only
BAD_PIN = "pin-SENTINEL-71c3"  # refused by the rules, which must not quote it
WRONG_CODES = tuple(f"wrong-SENTINEL-code-{n}" for n in range(6))
#: The prefix of every RS256 JWT PyJWT signs: finds tokens no recorder saw.
JWT_PREFIX = "eyJhbGciOiJSUzI1Ni"

POLICY = PollPolicy(interval=2.0, jitter=0.1)
FAILING = "447700900104"  # ERROR at CREATING_CLUSTER ("Invalid vname certificate"), as is 004
SCENARIOS = (
    Scenario("447700900102", reject_first_code=True),
    Scenario("447700900103", withhold_code_until_resend=True),
    Scenario("447700900[01]04", fail_at="CREATING_CLUSTER"),
    Scenario("447700900107", stuck_in="CREATING_CLUSTER"),
)


def request(n: int, **fields: Any) -> DeploymentRequest:
    """The number 44 7700900<n:03d>, with the sentinel certificate and PIN."""
    fields = {"vname_certificate": VNAME, "waba_id": "1", "pin": PIN, **fields}
    return DeploymentRequest(country_code="44", number=f"7700900{n:03d}", **fields)


@pytest.fixture
def codes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every OTP code any sandbox of this process sends, each a distinctive sentinel."""
    sent: list[str] = []
    original = SandboxEngine._send_code

    def send_code(self: SandboxEngine, dep: StoredDeployment, at: float, *, deliver: bool) -> None:
        original(self, dep, at, deliver=deliver)
        dep.code = f"otp-SENTINEL-{len(sent):04d}"
        sent.append(dep.code)
        if dep.inbox is not None:
            dep.inbox = OTPMessage(dep.deployment_id, dep.code, dep.method, at)

    monkeypatch.setattr(SandboxEngine, "_send_code", send_code)
    return sent


class FaultSwitch:
    """A middleware that answers the API requests with a chosen fault while ``mode`` is set."""

    MODES = ("500", "429", "drop", "hang", "cut")

    def __init__(self) -> None:
        self.mode: str | None = None

    async def __call__(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if self.mode is None or not request.path.startswith("/v0.1/"):
            return await handler(request)
        if self.mode == "500":
            return web.json_response({"type": "about:blank", "title": "Boom"}, status=500)
        if self.mode == "429":
            return web.json_response(
                {"title": "Slow down"}, status=429, headers={"Retry-After": "0"}
            )
        if self.mode == "drop" and request.transport is not None:
            request.transport.abort()
            return web.Response(status=500)
        if self.mode == "hang":
            await anyio.sleep(0.2)
        response = await handler(request)
        if self.mode == "cut" and isinstance(response, web.Response):
            return web.Response(status=response.status, body=b'{"deployment_id": "')
        return response


# --- the library --------------------------------------------------------------------------


async def library_flows(exposure: Exposure, tmp_path: Path) -> set[str]:
    """Every flow and error of the library against a sandbox; the credentials it received."""
    recorder = HeaderRecorder()
    switch = FaultSwitch()
    config = SandboxConfig(
        speed=600,
        seed=11,
        rate_limit=None,
        basic_auth=True,
        accounts=(Account(API_KEY, API_SECRET),),
        scenarios=SCENARIOS,
    )
    async with serve(config, recorder, switch) as sandbox:
        assert sandbox.private_key_pem is not None
        auth = JWTAuth(sandbox.application_id, sandbox.private_key_pem)
        async with WhatsAppManager(base_url=sandbox.base_url, auth=auth) as wam:
            exposure.reprs("reprs", [wam, wam.session, wam.deployments, wam.otp, auth, sandbox])
            await provisioning(wam, sandbox, exposure)
            await bulk(wam, sandbox, exposure, tmp_path)
            await watching(wam, sandbox, exposure)
            await resources(wam, sandbox, exposure)
            await errors(wam, sandbox, switch, exposure, tmp_path)
    return recorder.tokens()


def watch_options(sandbox: SandboxHandle) -> dict[str, Any]:
    """The watcher options every flow here uses: sandbox seconds, quick polls."""
    return {"clock": SandboxTime(sandbox.clock), "policy": POLICY, "resend_after": 60}


async def provisioning(wam: WhatsAppManager, sandbox: SandboxHandle, exposure: Exposure) -> None:
    """``provision()`` to READY with a profile and photo, and one that ends in ERROR."""
    events: list[Any] = []
    steps: list[tuple[str, str | None]] = []

    async def on_step(step: str, deployment_id: str | None) -> None:
        steps.append((step, deployment_id))

    deployment = await provision(
        wam,
        request(1),
        otp=sandbox.otp_provider,
        profile=Profile(about="Fresh bread daily", email="bakery@example.com"),
        photo_url="https://cdn.example.com/logo.png",
        on_event=events.append,
        on_step=on_step,
        **watch_options(sandbox),
    )
    with pytest.raises(ProvisioningError) as failed:
        await provision(wam, request(4), otp=sandbox.otp_provider, **watch_options(sandbox))
    exposure.error("provision error", failed.value)
    exposure.reprs("provision", [deployment, steps, *events, request(1)])
    assert [step for step, _ in steps] == ["create", "watch", "profile", "photo", "done"]


async def bulk(
    wam: WhatsAppManager, sandbox: SandboxHandle, exposure: Exposure, tmp_path: Path
) -> None:
    """``provision_many()`` with a journal, a report, a resume and every kind of outcome."""
    journal = tmp_path / "bulk.sqlite"
    items = [
        Onboarding(request(101), profile=Profile(about="Own profile")),
        request(102),  # its first code is rejected
        request(103),  # its first code never comes: a resend
        request(104),  # ERROR
        request(105, pin=BAD_PIN),  # invalid: never sent
        request(106, method="voice"),
    ]
    events: list[Any] = []
    for _ in range(2):  # the second run resumes from the journal
        report = await provision_many(
            wam,
            items,
            otp=sandbox.otp_provider,
            journal=journal,
            profile=Profile(about="Bulk bakery"),
            photo_url="https://cdn.example.com/bulk.jpg",
            on_event=events.append,
            **watch_options(sandbox),
        )
        assert report.counts == {"ready": 4, "failed": 1, "invalid": 1}
        report.write_json(tmp_path / "report.json")
        report.write_csv(tmp_path / "report.csv")
        exposure.add("bulk report", json.dumps(report.to_json()))
        exposure.reprs("bulk", [report, *report.outcomes])
    exposure.reprs("bulk events", events)
    exposure.reprs("bulk items", items)
    # The journal's main file, and its write-ahead log and index if any were left.
    exposure.files("journal", [journal, *journal.parent.glob(journal.name + "-*")])
    exposure.files("report", [tmp_path / "report.json", tmp_path / "report.csv"])
    valid = [items[0].request, *items[1:4], items[5]]  # what the journal was written for
    async with await Journal.open(journal, valid) as j:
        exposure.reprs("journal rows", [j, *(await j.rows()).values()])


async def watching(wam: WhatsAppManager, sandbox: SandboxHandle, exposure: Exposure) -> None:
    """A watcher fed wrong codes then the right one, through callbacks, the iterator and
    awaitables; another that runs out of attempts."""
    wrong = iter(WRONG_CODES[:2])

    async def wrong_then_right(deployment: Any) -> str | None:
        code = next(wrong, None)
        return code if code is not None else await sandbox.otp_provider(deployment)

    dep = await wam.deployments.create(request(108))
    seen: list[Any] = []
    async with wam.watch(dep.deployment_id, otp=wrong_then_right, **watch_options(sandbox)) as w:
        w.on(Event, seen.append)
        stream = w.events()
        await w.wait_for("CODE_SENT")
        final = await w.result()
        exposure.reprs("watcher", [w, w.otp_progress, w.otp_progress.to_json()])
    exposure.reprs("watcher events", [*seen, *[event async for event in stream], final])
    assert any(type(event).__name__ == "CodeRejected" for event in seen)

    async def always_wrong(deployment: Any) -> str:
        return WRONG_CODES[2]

    dep = await wam.deployments.create(request(109))
    with pytest.raises(DeploymentFailed) as rejected:  # too many wrong codes: ERROR
        await wam.watch(dep.deployment_id, otp=always_wrong, **watch_options(sandbox)).result()
    exposure.error("watcher error", rejected.value)


async def resources(wam: WhatsAppManager, sandbox: SandboxHandle, exposure: Exposure) -> None:
    """Every resource call on a READY deployment, then its deletion."""
    dep = await provision(wam, request(110), otp=sandbox.otp_provider, **watch_options(sandbox))
    dep_id = dep.deployment_id
    shown: list[object] = [
        await wam.deployments.get(dep_id),
        await wam.deployments.list(),
        await wam.profiles.update(dep_id, Profile(about="About us", vertical=Vertical.RESTAURANT)),
        await wam.profiles.get(dep_id),
        await wam.profiles.update_photo(dep_id, "https://cdn.example.com/p.png"),
        await wam.profiles.get_photo(dep_id),
    ]
    pack = await wam.stickerpacks.create(dep_id, "Bakery", "Loaves")
    sticker = await wam.stickers.create(dep_id, pack.id, "media-1", ["🍞"])
    shown += [
        pack,
        sticker,
        await wam.stickerpacks.list(dep_id),
        await wam.stickerpacks.list(dep_id, namespace="whatsapp"),
        await wam.stickerpacks.get(dep_id, pack.id),
        await wam.stickers.list(dep_id, pack.id),
        await wam.stickers.list(dep_id, "whatsapp-cuppy", namespace="whatsapp"),
        await wam.stickers.get(dep_id, pack.id, sticker.index),
        await wam.stickers.delete(dep_id, pack.id, sticker.index),
    ]
    await wam.deployments.delete(dep_id)
    exposure.reprs("resources", shown)


async def errors(
    wam: WhatsAppManager,
    sandbox: SandboxHandle,
    switch: FaultSwitch,
    exposure: Exposure,
    tmp_path: Path,
) -> None:
    """Every kind of error, each made with a secret at hand: in the request, the credentials
    or the code."""
    assert sandbox.private_key_pem is not None
    pem = sandbox.private_key_pem
    ready = await provision(wam, request(111), otp=sandbox.otp_provider, **watch_options(sandbox))
    ready_id = ready.deployment_id
    waiting = (await wam.deployments.create(request(112))).deployment_id
    once = wam.with_options(max_retries=0)
    quick = wam.with_options(timeout=0.05)
    basic = WhatsAppManager(base_url=sandbox.base_url, auth=BasicAuth(API_KEY, API_SECRET))
    wrong = WhatsAppManager(base_url=sandbox.base_url, auth=BasicAuth(API_KEY, WRONG_SECRET))
    refused = WhatsAppManager(
        base_url="http://127.0.0.1:9/v0.1", auth=BasicAuth(API_KEY, API_SECRET)
    )
    async with basic, wrong, refused:
        calls: list[tuple[str, type[Exception], Any]] = [
            ("bad pin", ValidationError, lambda: wam.deployments.create(request(113, pin=BAD_PIN))),
            (
                "bad certificate",
                ValidationError,
                lambda: wam.deployments.create(request(113, vname_certificate=VNAME + "\ud800")),
            ),
            ("number in use", NumberInUse, lambda: basic.deployments.create(request(111))),
            ("wrong code", VerificationFailed, lambda: wam.otp.verify(ready_id, WRONG_CODES[3])),
            ("resend when ready", ResendConflict, lambda: wam.otp.resend(ready_id, "voice")),
            ("not found", NotFound, lambda: wam.deployments.get(str(uuid.UUID(int=0)))),
            ("unauthorized", Unauthorized, lambda: wrong.deployments.get(ready_id)),
            ("refused", ConnectionFailed, lambda: refused.otp.verify(waiting, WRONG_CODES[4])),
            (
                "journal of another list",
                JournalError,
                lambda: Journal.open(tmp_path / "bulk.sqlite", [request(1)]),
            ),
            (
                "watch timeout",
                WatchTimeout,
                lambda: wam.watch(
                    waiting,
                    policy=PollPolicy(interval=2.0, deadline=10),
                    clock=SandboxTime(sandbox.clock),
                ).result(),
            ),
            # Faults the switch injects, while it is on.
            ("500", ServerError, lambda: once.otp.verify(waiting, WRONG_CODES[5])),
            ("429", Throttled, lambda: once.otp.resend(waiting)),
            ("drop", ConnectionFailed, lambda: once.otp.verify(waiting, WRONG_CODES[5])),
            ("cut", UnexpectedResponse, lambda: once.deployments.create(request(114))),
            ("hang", RequestTimeout, lambda: quick.otp.verify(waiting, WRONG_CODES[5])),
        ]
        for name, expected, call in calls:
            switch.mode = name if name in FaultSwitch.MODES else None
            try:
                with pytest.raises(expected) as raised:
                    await call()
            finally:
                switch.mode = None
            exposure.error(f"error: {name}", raised.value)
        exposure.reprs("reprs", [basic, wrong, wrong.session.auth])
    with pytest.raises(ClientClosed) as closed:
        await basic.deployments.get(waiting)
    exposure.error("error: closed", closed.value)

    key_body = "\n".join(line for line in pem.splitlines() if "-----" not in line)
    constructors: dict[str, Any] = {
        "key material as a path": lambda: JWTAuth(sandbox.application_id, key_body),
        "key cut short": lambda: JWTAuth(sandbox.application_id, pem[: len(pem) // 2]),
        "environment key": lambda: WhatsAppManager.from_env(
            {"VONAGE_APPLICATION_ID": sandbox.application_id, "VONAGE_PRIVATE_KEY": key_body}
        ),
    }
    for name, make in constructors.items():
        with pytest.raises(WhatsAppManagerError) as raised:
            make()
        exposure.error(f"error: {name}", raised.value)
    # Credentials a caller might get wrong: a secret with a trailing newline, say.
    for make in (lambda: BasicAuth(API_KEY, API_SECRET + "\n"), lambda: BearerToken(API_SECRET)):
        try:
            exposure.add("reprs", repr(make()))
        except WhatsAppManagerError as exc:
            exposure.error("error: credentials", exc)
    exposure.reprs("reprs", [VerifyRequest(WRONG_CODES[0]), request(1), request(1, pin=BAD_PIN)])


# --- the command line ---------------------------------------------------------------------


class RecordedSandbox(ThreadedSandbox):
    """A sandbox served from a thread of its own, with a :class:`HeaderRecorder` in front."""

    def __init__(self, config: SandboxConfig, key_dir: Path, recorder: HeaderRecorder) -> None:
        key_dir.mkdir(exist_ok=True)
        super().__init__(config, key_dir)
        self.recorder = recorder

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            async with serve(self.config, self.recorder) as handle:
                self._handle = handle
                self._ready.set()
                await self._stop.wait()
        finally:
            self._ready.set()


def cli_commands(command: CLI, exposure: Exposure, tmp_path: Path) -> set[str]:
    """Every command with ``--debug``, successes and failures; the credentials received."""
    recorder = HeaderRecorder()
    manual = SandboxConfig(
        clock=ManualClock(),
        seed=5,
        basic_auth=True,
        rate_limit=None,
        accounts=(Account(API_KEY, API_SECRET),),
        scenarios=SCENARIOS,
    )
    fast = attrs.evolve(manual, clock=None, speed=3000)

    def run(*args: str, env: dict[str, str], expect: int, stdin: str = "") -> Any:
        result = command(*args, "--debug", env=env, stdin=stdin)
        exposure.add(f"cli {' '.join(args[:2])}: stdout", result.out)
        exposure.add(f"cli {' '.join(args[:2])}: stderr", result.err)
        assert result.code == expect, (args, result.err[-3000:])
        return result

    with (
        RecordedSandbox(manual, tmp_path / "manual", recorder) as served,
        RecordedSandbox(fast, tmp_path / "fast", recorder) as quick,
    ):
        pem = served.handle.private_key_pem or ""
        jwt = served.jwt_env
        basic = served.basic_env
        deploy = deploying("7700900120")
        dep = run(*deploy, "--pin", PIN, "--json", env=jwt, expect=0).json()["deployment_id"]
        run(*deploy, "--pin", PIN, env=basic, expect=3)  # the number is in use
        bad = run(*deploying("7700900121"), "--pin", BAD_PIN, env=jwt, expect=2)
        assert "pin" in bad.err
        run("list", env={**jwt, "VONAGE_PRIVATE_KEY": pem}, expect=0)
        run("list", "--json", env=basic, expect=0)
        key_body = "\n".join(line for line in pem.splitlines() if "-----" not in line)
        run("list", env={**jwt, "VONAGE_PRIVATE_KEY": key_body}, expect=2)
        run("status", dep, env=jwt, expect=0)
        run("status", dep, env={**basic, "VONAGE_API_SECRET": WRONG_SECRET}, expect=3)
        served.advance(130)  # CODE_SENT
        run("verify", dep, WRONG_CODES[0], env=jwt, expect=3)
        served.advance(31)  # past the resend cooldown
        run("resend", dep, "--method", "voice", env=basic, expect=0)
        run("verify", dep, env=jwt, stdin=served.code(dep) + "\n", expect=0)  # at the prompt
        served.advance(40)  # READY
        run(
            "profile",
            "set",
            dep,
            "--about",
            "We bake",
            "--email",
            "b@example.com",
            env=jwt,
            expect=0,
        )
        run("profile", "get", dep, "--json", env=jwt, expect=0)
        run("photo", "set", dep, "https://cdn.example.com/a.png", env=jwt, expect=0)
        run("photo", "get", dep, env=jwt, expect=0)
        pack_args = ("--publisher", "Bakery", "--name", "Loaves", "--json")
        pack = run("stickerpacks", "create", dep, *pack_args, env=jwt, expect=0).json()["id"]
        run("stickerpacks", "list", dep, env=jwt, expect=0)
        run("stickerpacks", "list", dep, "--namespace", "whatsapp", env=jwt, expect=0)
        run("stickerpacks", "get", dep, pack, env=jwt, expect=0)
        sticker_args = ("--image-data-id", "media-1", "--emoji", "🍞", "--json")
        index = run("stickers", "create", dep, pack, *sticker_args, env=jwt, expect=0).json()
        run("stickers", "list", dep, pack, env=jwt, expect=0)
        run("stickers", "get", dep, pack, index["index"], env=jwt, expect=0)
        run("stickers", "delete", dep, pack, index["index"], env=jwt, expect=0)
        run("delete", dep, env=jwt, expect=0)

        fast_jwt = quick.jwt_env
        otp_from_sandbox = ("--otp-from-sandbox", "--interval", "0.02")
        run(*deploying("7700900122"), *otp_from_sandbox, env=fast_jwt, expect=0)
        failing = (*deploying(FAILING[2:]), "--json")
        failing_id = run(*failing, env=fast_jwt, expect=0).json()["deployment_id"]
        run("watch", failing_id, "--interval", "0.02", env=fast_jwt, expect=4)
        bulk_files(run, fast_jwt, exposure, tmp_path / "bulk")
    run("demo", "--speed", "3000", env={}, expect=0)
    return recorder.tokens() | sandbox_command(exposure)


def bulk_files(run: Any, env: dict[str, str], exposure: Exposure, folder: Path) -> None:
    """``wamanager bulk`` twice on one journal (JSON lines, then text), with a JSON and a
    CSV report: a number ready, one whose first code is rejected, one invalid, one failing."""
    folder.mkdir()
    rows = [
        ("44", number, "1", VNAME, "sms", pin)
        for number, pin in (("7700900140", PIN), ("7700900102", PIN), ("7700900141", BAD_PIN))
    ]
    rows.append(("44", "7700900004", "1", VNAME, "voice", PIN))
    with open(folder / "numbers.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(("country_code", "number", "waba_id", "vname_certificate", "method", "pin"))
        writer.writerows(rows)
    common = ("bulk", str(folder / "numbers.csv"), "--otp-from-sandbox", "--interval", "0.01")
    journal = ("--journal", str(folder / "journal.sqlite"))
    run(*common, *journal, "--report", str(folder / "report.json"), "--json", env=env, expect=4)
    run(*common, *journal, "--report", str(folder / "report.csv"), env=env, expect=4)
    report = json.loads((folder / "report.json").read_text())
    assert report["counts"] == {"ready": 2, "failed": 1, "invalid": 1}
    written = [path for path in sorted(folder.iterdir()) if path.name != "numbers.csv"]
    assert len(written) >= 3  # the journal and both reports
    exposure.files("cli bulk", written)


def deploying(number: str) -> tuple[str, ...]:
    """``deploy 44 NUMBER`` with a WABA id and the sentinel certificate."""
    return ("deploy", "44", number, "--waba-id", "1", "--vname-certificate", VNAME)


def sandbox_command(exposure: Exposure) -> set[str]:
    """``wamanager sandbox --debug`` in a process of its own, used by a client, stopped with
    Ctrl-C; the credentials it received."""
    environment = {name: value for name, value in os.environ.items() if name not in VARIABLES}
    process = subprocess.Popen(
        [sys.executable, "-m", "wamanager", "sandbox", "--port", "0", "--json", "--debug"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**environment, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        variables = json.loads(process.stdout.readline())
        pem = Path(variables["VONAGE_PRIVATE_KEY"]).read_text()
        auth = JWTAuth(variables["VONAGE_APPLICATION_ID"], pem)
        base_url = variables["WAMANAGER_BASE_URL"]

        async def use() -> None:
            async with WhatsAppManager(base_url=base_url, auth=auth) as wam:
                dep = await wam.deployments.create(request(130))
                await wam.deployments.get(dep.deployment_id)

        anyio.run(use)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    exposure.add("cli sandbox: stdout", out)
    exposure.add("cli sandbox: stderr", err)
    assert process.returncode == 0, err
    # Its own key is a secret too: the output names the file, never quotes it.
    return {auth.authorization().partition(" ")[2], *pem_lines(pem)}


def pem_lines(pem: str) -> list[str]:
    """The lines of a PEM key's body (each a piece of key material)."""
    return [line for line in pem.splitlines() if line and "-----" not in line]


# --- the test -----------------------------------------------------------------------------


@pytest.fixture
def command(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> CLI:
    """The command, run in-process, with none of its variables set."""
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return CLI(capsys, monkeypatch)


@pytest.mark.timeout(120)
def test_no_secret_anywhere_in_any_flow_or_command(
    codes: list[str], command: CLI, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Every flow and command at DEBUG, with sentinel secrets: none shows up anywhere."""
    caplog.set_level(logging.DEBUG)
    exposure = Exposure()
    received = anyio.run(library_flows, exposure, tmp_path)
    received |= cli_commands(command, exposure, tmp_path)
    exposure.add("logs", caplog.text)
    for record in caplog.records:
        exposure.add("log records", f"{record.getMessage()}\n{record.args!r}\n{record.exc_text}")
    assert any(token.startswith(JWT_PREFIX) for token in received)  # JWTs were sent
    assert secrets(received, codes)["api secret"][2] in received  # and the Basic secret
    assert len(codes) >= 12, "the flows delivered fewer codes than they should"
    assert len(exposure.shown) >= 60, "the flows showed fewer things than they should"
    hits = exposure.hits(secrets(received, codes))
    assert not hits, "\n".join(f"{secret} shown in {where}" for where, secret in hits)


def secrets(credentials: set[str], codes: list[str]) -> dict[str, list[str]]:
    """Every secret of the run, by kind: ``credentials`` are those the servers received
    (Basic tokens and JWTs) and the lines of keys made on the way."""
    pem = _default_key_pair()[0]
    basic = [
        base64.b64encode(f"{API_KEY}:{secret}".encode()).decode()
        for secret in (API_SECRET, WRONG_SECRET)
    ]
    return {
        "api secret": [API_SECRET, WRONG_SECRET, *basic],
        "private key": [pem, *pem_lines(pem)],
        "credentials a server received": sorted(credentials),
        "a JWT": [JWT_PREFIX],
        "OTP code": [*codes, *WRONG_CODES],
        "PIN": [PIN, BAD_PIN],
        "vname certificate": [VNAME],
    }


def test_the_search_finds_a_secret_wherever_it_could_be_shown(tmp_path: Path) -> None:
    """A secret in a log line, an exception's args, attributes or hidden context, or a
    SQLite file is found: the search above can fail."""
    exposure = Exposure()
    exposure.add("log", f"GET /x -> 200 {JWT_PREFIX}...")
    try:
        try:
            raise FileNotFoundError(2, "No such file", API_SECRET)
        except OSError:
            raise ValueError("no key") from None
    except ValueError as hidden:
        exposure.error("suppressed context", hidden)
    exposure.error("args", RuntimeError("failed", VNAME))
    attribute = RuntimeError("failed")
    attribute.body = WRONG_CODES[0]  # type: ignore[attr-defined]
    exposure.error("attribute", attribute)
    with sqlite3.connect(tmp_path / "j.sqlite") as db:
        db.execute("CREATE TABLE t (v TEXT)")
        db.execute("INSERT INTO t VALUES (?)", (PIN,))
    db.close()
    exposure.files("journal", [tmp_path / "j.sqlite"])
    assert sorted(exposure.hits(secrets(set(), []))) == [
        ("args", "vname certificate"),
        ("attribute", "OTP code"),
        ("journal (j.sqlite)", "PIN"),
        ("log", "a JWT"),
        ("suppressed context", "api secret"),
    ]
