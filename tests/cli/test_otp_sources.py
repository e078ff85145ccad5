"""The OTP sources of the command: the sandbox inbox, a command (placeholders, first line,
failures, timeout), a file read again when it changes, and codes never submitted twice."""

from __future__ import annotations

import sys
from pathlib import Path

import anyio
import pytest

from wamanager import (
    DeploymentRequest,
    WhatsAppManager,
)
from wamanager._auth import BasicAuth
from wamanager._converter import structure
from wamanager._errors import Unauthorized
from wamanager._models import Deployment
from wamanager.cli._otp_sources import (
    CommandOTP,
    FileOTP,
    FreshCodes,
    SandboxOTP,
    command_arguments,
    parse_codes,
)
from wamanager.sandbox import ManualClock, SandboxConfig, SandboxHandle

REQUEST = DeploymentRequest(
    country_code="44", number="7700900131", vname_certificate="c", waba_id="1"
)


@pytest.fixture
def wamanager_sandbox_config() -> SandboxConfig:
    """The in-loop sandbox of the async tests here runs on a manual clock."""
    return SandboxConfig(clock=ManualClock())


async def test_sandbox_otp_reads_the_inbox_as_the_client(
    wamanager_sandbox: SandboxHandle, wam: WhatsAppManager
) -> None:
    """SandboxOTP answers None before a code, then the code; other credentials get 401."""
    created = await wam.deployments.create(REQUEST)
    async with SandboxOTP(wam) as inbox:
        assert await inbox(created) is None
        wamanager_sandbox.advance(130)
        code = await inbox(await wam.deployments.get(created.deployment_id))
    message = wamanager_sandbox.otp(created.deployment_id)
    assert message is not None
    assert code == message.code
    stranger = WhatsAppManager(BasicAuth("nobody", "nothing"), base_url=wam.base_url)
    async with stranger, SandboxOTP(stranger) as inbox:
        with pytest.raises(Unauthorized):
            await inbox(created)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        (["otp", "{number}"], ["otp", "447700900123"]),
        (["otp", "--for={number}/{deployment_id}"], ["otp", "--for=447700900123/d-1"]),
        (["sh", "-c", "echo {number}; rm x"], ["sh", "-c", "echo 447700900123; rm x"]),
        (["otp", "{other}", "{{number}}"], ["otp", "{other}", "{447700900123}"]),
    ],
)
def test_command_arguments_replace_the_placeholders_per_argument(
    template: list[str], expected: list[str]
) -> None:
    """Placeholders are replaced within each argument; nothing else changes."""
    assert command_arguments(template, "447700900123", "d-1") == expected


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("print('123456 ')", "123456"),
        ("print('123456'); print('second line')", "123456"),
        ("pass", None),
        ("print('')", None),
        ("import sys; print('654321'); sys.exit(2)", None),
    ],
)
async def test_command_otp_reads_the_first_line_and_survives_failures(
    code: str, expected: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    """The first line of stdout is the code; no output or a failure give none, a failure
    logged (without what it printed)."""
    source = CommandOTP([sys.executable, "-c", code])
    with anyio.fail_after(20):
        assert await source(_deployment()) == expected
    if "exit" in code:
        assert "the OTP command for 447700900123 exited with 2" in caplog.text
        assert "654321" not in caplog.text


async def test_command_otp_stops_a_command_that_runs_over_its_timeout(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A command still running after the timeout is stopped, logged, and gives no code."""
    source = CommandOTP([sys.executable, "-c", "import time; time.sleep(30)"], timeout=0.05)
    with anyio.fail_after(10):
        assert await source(_deployment()) is None
    assert "ran over 0.05s and was stopped" in caplog.text


def test_parse_codes_normalises_numbers_and_the_last_row_wins() -> None:
    """Codes by full number (non-digits dropped); headers, short rows and empty codes are
    ignored; a later row of a number replaces an earlier one."""
    text = (
        "number,code\n+44 7700 900123,111111\n447700900124\n447700900125,\n447700900123, 222222\n"
    )
    assert parse_codes(text) == {"447700900123": "222222"}


async def test_file_otp_reads_the_file_again_when_it_changes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The file is read again after it changes; a file gone is logged and gives no code."""
    path = tmp_path / "codes.csv"
    path.write_text("")
    source = FileOTP(path)
    assert await source(_deployment()) is None
    path.write_text("447700900123,654321\n")
    assert await source(_deployment()) == "654321"
    path.unlink()
    assert await source(_deployment()) is None
    assert "cannot read the OTP file" in caplog.text


@pytest.mark.parametrize(
    ("steps", "given"),
    [
        # (state the deployment is in, what the source says) -> what reaches the watcher
        ([("CODE_SENT", "111"), ("CODE_SENT", "111")], ["111", "111"]),
        (
            [("CODE_SENT", "111"), ("WRONG_CODE", "111"), ("WRONG_CODE", "222")],
            ["111", None, "222"],
        ),
        ([("CODE_SENT", "111"), ("WRONG_CODE", "111"), ("CODE_SENT", "111")], ["111", None, None]),
        ([("WRONG_CODE", "111"), ("WRONG_CODE", "111")], ["111", None]),
        ([("CODE_SENT", None), ("CODE_SENT", ""), ("CODE_SENT", "3")], [None, None, "3"]),
    ],
)
async def test_fresh_codes_never_submit_a_rejected_code_again(
    steps: list[tuple[str, str | None]], given: list[str | None]
) -> None:
    """A code is withheld once the deployment showed WRONG_CODE after it was submitted;
    a code whose verify did not happen may be submitted again."""
    answers = iter(code for _, code in steps)

    async def source(_: Deployment) -> str | None:
        return next(answers)

    fresh = FreshCodes(source)
    assert [await fresh(_deployment(state)) for state, _ in steps] == given


async def test_fresh_codes_keep_each_deployment_apart() -> None:
    """A code rejected for one deployment may still be given for another."""

    async def source(_: Deployment) -> str | None:
        return "111"

    fresh = FreshCodes(source)
    assert await fresh(_deployment("CODE_SENT", "a")) == "111"
    assert await fresh(_deployment("WRONG_CODE", "a")) is None
    assert await fresh(_deployment("CODE_SENT", "b")) == "111"


def _deployment(state: str = "CODE_SENT", deployment_id: str = "d-1") -> Deployment:
    return structure(
        {
            "deployment_id": deployment_id,
            "country_code": "44",
            "number": "7700900123",
            "current_state": {"title": state},
        },
        Deployment,
    )
