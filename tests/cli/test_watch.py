"""`deploy --watch` and `watch` against a fast sandbox (3000x): live events, the OTP from the
sandbox or a prompt, and the exit codes of READY, ERROR, deletion, timeouts and closed input.
"""

from __future__ import annotations

import io
import re

import pytest

from wamanager import DeploymentRequest, WhatsAppManager
from wamanager._auth import BasicAuth
from wamanager._errors import Unauthorized
from wamanager._policy import PollPolicy
from wamanager.cli._deployments import follow
from wamanager.cli._otp_sources import SandboxOTP
from wamanager.cli._output import Output
from wamanager.sandbox import ManualClock, SandboxConfig, SandboxHandle

from .conftest import CLI, FAILING, STUCK, ThreadedSandbox

FAST = ("--interval", "0.005")
REQUEST = DeploymentRequest(
    country_code="44", number="7700900131", vname_certificate="c", waba_id="1"
)


@pytest.fixture
def wamanager_sandbox_config() -> SandboxConfig:
    """The in-loop sandbox of the async tests here runs on a manual clock."""
    return SandboxConfig(clock=ManualClock())


@pytest.fixture
def watch(cli: CLI, fast: ThreadedSandbox) -> CLI:
    """The command with JWT credentials of the fast sandbox."""
    cli.env = fast.jwt_env
    return cli


def deploy_args(number: str = "7700900123", *extra: str) -> tuple[str, ...]:
    """`deploy 44 <number> ...` with the required options."""
    return ("deploy", "44", number, "--waba-id", "1", "--vname-certificate", "cert", *extra)


class InboxReader(io.TextIOBase):
    """A stdin whose lines are typed by someone reading the sandbox inbox: first the given
    ``answers`` (wrong codes, empty lines), then the code delivered to the number."""

    def __init__(self, sandbox: ThreadedSandbox, msisdn: str, answers: tuple[str, ...] = ()):
        self._sandbox = sandbox
        self._msisdn = msisdn
        self._answers = list(answers)
        self.asked = 0

    def readline(self, size: int | None = -1) -> str:  # type: ignore[override]
        """The next answer, then the delivered code."""
        self.asked += 1
        if self._answers:
            return self._answers.pop(0) + "\n"
        (stored,) = (d for d in self._sandbox.handle.engine if d.msisdn == self._msisdn)
        assert stored.inbox is not None
        return stored.inbox.code + "\n"


def test_deploy_follows_to_ready_with_the_sandbox_code(watch: CLI) -> None:
    """`deploy --otp-from-sandbox` prints each event with its time and exits 0 at READY."""
    result = watch(*deploy_args("7700900123", "--otp-from-sandbox", *FAST))
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert all(re.match(r"\[\s*\d+\.\ds\] ", line) for line in lines)
    text = result.out
    for expected in ("state CODE_SENT", "waiting for the OTP code", "OTP code verified"):
        assert expected in text
    assert re.search(r"state READY: .*\(\d+\.\ds in [A-Z_]+\)", text)
    assert lines[-1].endswith("deployment READY")


def test_deploy_watch_json_is_one_event_per_line(watch: CLI) -> None:
    """With --json every line is an event object, in order, ending with Succeeded."""
    result = watch(*deploy_args("7700900124", "--otp-from-sandbox", "--json", *FAST))
    assert result.code == 0, result.err
    events = result.json_lines()
    assert events[0]["event"] == "StateChanged"
    assert events[0]["previous"] is None
    assert events[-1]["event"] == "Succeeded"
    assert events[-1]["deployment"]["current_state"]["title"] == "READY"
    states = [e["current"] for e in events if e["event"] == "StateChanged"]
    assert states[-1] == "READY"
    assert "CodeVerified" in [e["event"] for e in events]
    assert len({e["deployment_id"] for e in events}) == 1


def test_deploy_watch_asks_for_the_code_at_a_prompt(watch: CLI, fast: ThreadedSandbox) -> None:
    """Without --otp-from-sandbox the code is asked for on stderr and read from stdin; an
    empty answer means 'not yet', a wrong one is reported and asked for again."""
    stdin = InboxReader(fast, "447700900125", answers=("", "000000"))
    result = watch(*deploy_args("7700900125", "--watch", *FAST), stdin=stdin)
    assert result.code == 0, result.err
    assert stdin.asked == 3
    assert result.err.count("OTP code sent to +44 7700900125 (Enter: not yet): ") == 3
    assert "OTP code rejected" in result.out
    assert "state READY" in result.out


def test_closed_input_at_the_prompt_is_an_interruption(watch: CLI) -> None:
    """When stdin ends before a code is typed the command exits 130, quietly."""
    result = watch(*deploy_args("7700900126", "--watch", *FAST), stdin="")
    assert result.code == 130
    assert "Traceback" not in result.err
    assert result.err.splitlines()[-1] == "Interrupted: stdin closed before a code was given"


def test_a_failed_deployment_exits_4(watch: CLI) -> None:
    """A deployment that reaches ERROR exits 4 with the API's reason and what to do."""
    result = watch(*deploy_args(FAILING, "--otp-from-sandbox", *FAST))
    assert result.code == 4
    assert "state ERROR: Invalid vname certificate" in result.out
    headline, advice = result.err.splitlines()
    assert headline.endswith("failed: Invalid vname certificate")
    assert "wamanager delete" in advice


def test_a_timeout_exits_5(watch: CLI) -> None:
    """--timeout gives up with exit code 5 and says the deployment goes on."""
    result = watch(*deploy_args(STUCK, "--otp-from-sandbox", "--timeout", "0.05", *FAST))
    assert result.code == 5
    assert "not READY within 0.05s (last state CREATING_CLUSTER)" in result.err
    assert "wamanager watch" in result.err


def test_deploy_watch_follows_a_number_deployed_already(watch: CLI) -> None:
    """With --watch a number in use is followed (its id is told) instead of failing."""
    first = watch(*deploy_args("7700900127", "--json"))
    deployment_id = first.json()["deployment_id"]
    result = watch(*deploy_args("7700900127", "--otp-from-sandbox", *FAST))
    assert result.code == 0, result.err
    assert f"is deployed already as {deployment_id}" in result.err
    again = watch(*deploy_args("7700900127"))  # without --watch it is an API error
    assert again.code == 3
    assert f"wamanager status {deployment_id}" in again.err


def test_watch_a_ready_deployment_ends_at_once(watch: CLI) -> None:
    """`watch` on a READY deployment prints its state and exits 0."""
    deployment_id = watch(*deploy_args("7700900128", "--otp-from-sandbox", "--json", *FAST))
    deployment_id = deployment_id.json_lines()[-1]["deployment_id"]
    result = watch("watch", deployment_id, *FAST)
    assert result.code == 0, result.err
    assert result.out.splitlines()[0].endswith("state READY: Deployment ready")
    events = watch("watch", deployment_id, "--json").json_lines()
    assert [e["event"] for e in events] == ["StateChanged", "Succeeded"]


def test_watch_a_deleted_deployment_exits_4(watch: CLI) -> None:
    """`watch` on a deployment being deleted exits 4."""
    deployment_id = watch(*deploy_args("7700900129", "--json")).json()["deployment_id"]
    assert watch("delete", deployment_id).code == 0
    result = watch("watch", deployment_id, *FAST)
    assert result.code == 4
    assert result.err.strip() == f"Error: deployment {deployment_id} was deleted"


def test_watch_only_observes(watch: CLI) -> None:
    """`watch` never verifies: a deployment waiting for its code stays there (exit 5)."""
    deployment_id = watch(*deploy_args("7700900130", "--json")).json()["deployment_id"]
    result = watch("watch", deployment_id, "--timeout", "0.1", *FAST)
    assert result.code == 5
    assert "state CODE_SENT" in result.out
    assert "OTP code verified" not in result.out


async def test_a_failing_otp_source_ends_the_watch_with_its_error(
    wamanager_sandbox: SandboxHandle, wam: WhatsAppManager
) -> None:
    """follow() raises what the OTP source raised (the watcher alone would only log it)."""

    async def broken(deployment: object) -> str | None:
        raise RuntimeError("the SMS gateway is down")

    created = await wam.deployments.create(REQUEST)
    wamanager_sandbox.advance(130)  # CODE_SENT: the watcher asks for the code at once
    out = Output(terminal=False)
    with pytest.raises(RuntimeError, match="SMS gateway"):
        await follow(wam, out, created.deployment_id, otp=broken, policy=PollPolicy(interval=1))


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
