"""No secret reaches a log line, a repr, or an exception message, over a whole flow."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from wamanager import (
    BasicAuth,
    ConnectionFailed,
    JWTAuth,
    Profile,
    RequestTimeout,
    Throttled,
    Unauthorized,
    ValidationError,
    VerificationFailed,
    WhatsAppManager,
)
from wamanager._models import VerifyRequest
from wamanager.testing import FakeAPI, SleepRecorder

from .._support import (
    API_KEY,
    API_SECRET,
    DEP,
    client_for,
    deployment_request,
    load_spec,
    problem_from_schema,
    refused_url,
)

OTP_CODE = "582917"
WRONG_CODE = "111999"
PIN = "735146"
BAD_PIN = "73x146"
UNENCODABLE_CODE = "4041\ud83d7"  # a lone surrogate: JSON cannot be UTF-8 encoded
VNAME = "CkR4bmFtZS1jZXJ0aWZpY2F0ZS1zZWNyZXQtdmFsdWU="
APP_ID = "aaaaaaaa-0000-1111-2222-333333333333"


@pytest.fixture(scope="module")
def pem() -> str:
    """A fresh RSA private key as PEM text."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _error_texts(error: BaseException) -> list[str]:
    """Every way an error can be shown: str, repr, args, and the full chained traceback."""
    texts = [str(error), repr(error), repr(error.args)]
    texts.append("".join(traceback.format_exception(error)))
    cause = error.__cause__ or error.__context__
    while cause is not None:
        texts += [str(cause), repr(cause)]
        cause = cause.__cause__ or cause.__context__
    return texts


async def _flow(
    client: WhatsAppManager, api: FakeAPI, errors: list[BaseException], spec: dict[str, Any]
) -> None:
    """Create, verify (wrong then right), resend, profile: successes and failures."""

    def problem(name: str) -> dict[str, Any]:
        return problem_from_schema(spec, {"$ref": f"#/components/schemas/{name}"})

    api.reply(503)  # retried: an INFO line
    api.reply(202, {"deployment_id": DEP, "current_state": {"title": "INITIALIZING"}})
    await client.deployments.create(deployment_request(vname_certificate=VNAME, pin=PIN))
    api.reply(200, {"deployment_id": DEP, "current_state": {"title": "CODE_SENT"}, "meta": {}})
    await client.deployments.get(DEP)

    api.reply(422, problem("ErrorVerificationFailed"))
    with pytest.raises(VerificationFailed) as wrong:
        await client.otp.verify(DEP, WRONG_CODE)
    errors.append(wrong.value)

    api.reply(429, problem("ErrorThrottled"), headers={"Retry-After": "1"})  # waited out
    api.reply(200, {"deployment_id": DEP, "current_state": {"title": "CODE_SENT"}})
    await client.deployments.get(DEP)

    api.reply(429, problem("ErrorThrottled"), headers={"Retry-After": "1"})  # OTP cool-down
    with pytest.raises(Throttled) as cooling_down:
        await client.otp.verify(DEP, OTP_CODE)
    errors.append(cooling_down.value)
    api.reply(201, {"deployment_id": DEP, "status": "Deployment was Created"})
    await client.otp.verify(DEP, OTP_CODE)

    api.reply(429, problem("ErrorThrottled"), headers={"Retry-After": "2"})
    with pytest.raises(Throttled) as throttled:
        await client.otp.resend(DEP, "voice")
    errors.append(throttled.value)

    api.reply(401, problem("ErrorUnauthorized"))
    with pytest.raises(Unauthorized) as unauthorized:
        await client.profiles.update(DEP, Profile(about="We bake"))
    errors.append(unauthorized.value)

    with pytest.raises(ValidationError) as invalid:
        await client.deployments.create(deployment_request(vname_certificate=VNAME, pin=BAD_PIN))
    errors.append(invalid.value)

    with pytest.raises(ValidationError) as unencodable:
        await client.otp.verify(DEP, UNENCODABLE_CODE)
    errors.append(unencodable.value)

    api.hang()
    with pytest.raises(RequestTimeout) as timed_out:
        await client.with_options(timeout=0.05).otp.verify(DEP, OTP_CODE)
    errors.append(timed_out.value)


@pytest.mark.parametrize("auth_kind", ["basic", "jwt-text", "jwt-path"])
async def test_no_secret_in_logs_reprs_or_errors(
    auth_kind: str,
    api: FakeAPI,
    sleeps: SleepRecorder,
    pem: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A DEBUG-logged flow with failures shows no secret, header, token, key, code, PIN or cert."""
    caplog.set_level(logging.DEBUG)  # every logger, wamanager's included
    caplog.set_level(logging.DEBUG, logger="wamanager")
    spec = load_spec()
    if auth_kind == "basic":
        auth: Any = BasicAuth(API_KEY, API_SECRET)
    elif auth_kind == "jwt-text":
        auth = JWTAuth(APP_ID, pem)
    else:
        key_file = tmp_path / "private.key"
        key_file.write_text(pem)
        auth = JWTAuth(APP_ID, key_file)
    errors: list[BaseException] = []
    client = client_for(api, sleeps, auth=auth)
    try:
        await _flow(client, api, errors, spec)
        refused = client_for(api, sleeps, auth=auth, base_url=refused_url(), max_retries=1)
        with pytest.raises(ConnectionFailed) as failed:
            await refused.otp.verify(DEP, OTP_CODE)
        errors.append(failed.value)
        await refused.close()
    finally:
        await client.close()

    headers = {r.headers["Authorization"] for r in api.requests}
    assert headers, "the flow sent no request"
    secrets = {API_SECRET, OTP_CODE, WRONG_CODE, PIN, BAD_PIN, VNAME, UNENCODABLE_CODE, *headers}
    secrets.add(UNENCODABLE_CODE.encode("utf-8", "backslashreplace").decode())
    if auth_kind != "basic":
        secrets |= {h.removeprefix("Bearer ") for h in headers}  # the JWTs themselves
        secrets.add(pem)
        secrets |= {line for line in pem.splitlines() if "-----" not in line}
    else:
        secrets.add(headers.pop().removeprefix("Basic "))

    shown: dict[str, str] = {"logs": caplog.text}
    # Raw string arguments too (a handler could format them differently); numbers are left
    # out, as a duration's digits can contain a six-digit code by chance.
    shown["log args"] = repr(
        [a for r in caplog.records for a in (r.args or ()) if isinstance(a, str)]
    )
    shown["client repr"] = repr(client) + repr(client.session) + repr(client.deployments)
    shown["auth repr"] = repr(auth)
    shown["request reprs"] = repr(deployment_request(vname_certificate=VNAME, pin=PIN)) + repr(
        VerifyRequest(OTP_CODE)
    )
    for i, error in enumerate(errors):
        shown[f"error {i} ({type(error).__name__})"] = "\n".join(_error_texts(error))

    assert any(r.name == "wamanager" and r.levelno == logging.DEBUG for r in caplog.records)
    assert any(r.name == "wamanager" and r.levelno == logging.INFO for r in caplog.records)
    assert len(errors) == 8
    for where, text in shown.items():
        for secret in secrets:
            assert secret not in text, f"a secret ({len(secret)} chars) leaked into {where}"


def test_secret_check_would_catch_a_leak() -> None:
    """The error rendering used above does show what an exception carries (the check is live)."""
    inner = ValueError(OTP_CODE)
    outer = RuntimeError("outer")
    outer.__cause__ = inner
    assert OTP_CODE not in str(outer)
    assert any(OTP_CODE in text for text in _error_texts(outer))


async def test_logs_would_show_a_leak(
    api: FakeAPI,
    make_client: Callable[..., WhatsAppManager],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """caplog at DEBUG does capture wamanager's per-request lines (the log check is live)."""
    caplog.set_level(logging.DEBUG, logger="wamanager")
    api.reply(200, {"deployment_id": DEP})
    await make_client().deployments.get(DEP)
    assert f"/deployments/{DEP}" in caplog.text
