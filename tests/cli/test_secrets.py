"""No secret in anything the command prints, even with --debug (logs and tracebacks)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from wamanager.sandbox import Account, ManualClock, SandboxConfig

from .conftest import CLI, ThreadedSandbox, with_basic_auth

API_SECRET = "acct-SECRET-5f2c9e"
VNAME = "vname-SECRET-certificate-81d4"
PIN = "97531086420864"
WRONG_CODE = "code-SECRET-3e7a"


@pytest.fixture
def sandbox(tmp_path: Path) -> ThreadedSandbox:
    """A manual-clock sandbox whose account has a distinctive secret."""
    config = with_basic_auth(
        SandboxConfig(clock=ManualClock(), accounts=(Account("acct-key", API_SECRET),))
    )
    return ThreadedSandbox(config, tmp_path)


def secrets_in(text: str, sandbox: ThreadedSandbox, code: str) -> list[str]:
    """Which secrets ``text`` shows."""
    pem = sandbox.handle.private_key_pem or ""
    key_body = [line for line in pem.splitlines() if line and "PRIVATE KEY" not in line]
    basic = base64.b64encode(f"acct-key:{API_SECRET}".encode()).decode()
    candidates = {
        "api secret": API_SECRET,
        "basic header": basic,
        "private key header": "PRIVATE KEY",
        "private key body": key_body[1],
        "a JWT": "eyJ",
        "vname certificate": VNAME,
        "pin": PIN,
        "wrong OTP code": WRONG_CODE,
        "OTP code": code,
    }
    return [name for name, secret in candidates.items() if secret in text]


def test_debug_runs_show_no_secret(cli: CLI, sandbox: ThreadedSandbox) -> None:
    """A whole session with --debug, JWT and basic, successes and failures, leaks nothing."""
    with sandbox:
        jwt = {**sandbox.jwt_env}
        basic = {**sandbox.basic_env}
        printed: list[str] = []

        def run(*args: str, env: dict[str, str]) -> int:
            result = cli(*args, "--debug", env=env)
            printed.append(result.out + result.err)
            return result.code

        deploy = ("deploy", "44", "7700900123", "--waba-id", "1", "--vname-certificate", VNAME)
        assert run(*deploy, "--pin", PIN, "--json", env=jwt) == 0
        deployment_id = cli("list", "--json", env=jwt).json()[0]["deployment_id"]
        sandbox.advance(130)
        code = sandbox.code(deployment_id)
        assert run("verify", deployment_id, WRONG_CODE, env=basic) == 3  # a traceback
        assert run("verify", deployment_id, code, env=jwt) == 0
        assert run(*deploy, env=basic) == 3  # number in use
        assert run("status", deployment_id, env={**basic, "VONAGE_API_SECRET": "nope"}) == 3
        assert run("list", env={**jwt, "VONAGE_PRIVATE_KEY": "not a key"}) == 2
        text = "\n".join(printed)
        assert "Traceback" in text  # --debug really showed tracebacks
        assert "DEBUG wamanager" in text  # and the request log
        assert secrets_in(text, sandbox, code) == []
