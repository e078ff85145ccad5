"""The deployment commands (list, deploy, status, verify, resend, delete, watch): against a
sandbox on a manual clock, JSON parsed back, human output, exits; then `deploy --watch` and
`watch` against a fast sandbox (3000x): live events, the OTP from the sandbox or a prompt, and
the exit codes of READY, ERROR, deletion, timeouts and closed input.
"""

from __future__ import annotations

import io
import re

import pytest

from wamanager import DeploymentRequest, WhatsAppManager
from wamanager._policy import PollPolicy
from wamanager.cli._deployments import follow
from wamanager.cli._output import Output
from wamanager.sandbox import ManualClock, SandboxConfig, SandboxHandle

from .conftest import CLI, FAILING, STUCK, ThreadedSandbox, deploy

pytestmark = pytest.mark.usefixtures("served")


def test_list_shows_the_account_s_deployments(run: CLI) -> None:
    """`list --json` is an array of deployments; `list` a header and one row each."""
    assert run("list", "--json").json() == []
    deployment_id = deploy(run)
    listed = run("list", "--json").json()
    assert [item["deployment_id"] for item in listed] == [deployment_id]
    assert listed[0]["current_state"]["title"] == "INITIALIZING"
    result = run("list")
    assert result.code == 0
    header, row = result.out.splitlines()
    assert header.split() == ["DEPLOYMENT", "STATE", "NUMBER", "WABA", "ID"]
    assert row.split() == [deployment_id, "INITIALIZING", "+44", "7700900123", "123456789123"]


def test_deploy_prints_the_new_deployment_and_how_to_follow_it(run: CLI) -> None:
    """`deploy` without --watch prints the deployment; stderr says how to watch it."""
    result = run(
        "deploy", "44", "7700900123", "--waba-id", "123456789123", "--vname-certificate", "c"
    )
    assert result.code == 0, result.err
    assert "state:      INITIALIZING" in result.out
    assert "number:     +44 7700900123" in result.out
    assert "follow it with: wamanager watch " in result.err


def test_status_prints_the_state(run: CLI, served: ThreadedSandbox) -> None:
    """`status --json` parses back to the deployment; `status` shows its fields."""
    deployment_id = deploy(run)
    served.advance(130)
    data = run("status", deployment_id, "--json").json()
    assert data["deployment_id"] == deployment_id
    assert data["current_state"]["title"] == "CODE_SENT"
    assert data["number"] == "7700900123"
    human = run("status", deployment_id)
    assert f"deployment: {deployment_id}" in human.out
    assert "state:      CODE_SENT" in human.out


def test_status_of_an_unknown_deployment_is_an_api_error(run: CLI) -> None:
    """A 404 exits 3 with the API's title and detail, then advice, on stderr."""
    result = run("status", "no-such-deployment")
    assert result.code == 3
    assert result.out == ""
    first, advice = result.err.splitlines()
    assert first.startswith("Error: 404 Not Found")
    assert "wamanager list" in advice


def test_verify_submits_the_code(run: CLI, served: ThreadedSandbox) -> None:
    """`verify ID CODE --json` returns the API's answer and the deployment moves on."""
    deployment_id = deploy(run)
    served.advance(130)
    result = run("verify", deployment_id, served.code(deployment_id), "--json")
    assert result.code == 0, result.err
    assert result.json()["deployment_id"] == deployment_id
    status = run("status", deployment_id, "--json").json()
    assert status["current_state"]["title"] == "CODE_VERIFIED"  # the manual clock stands still


def test_verify_asks_for_the_code_when_it_is_not_given(run: CLI, served: ThreadedSandbox) -> None:
    """Without CODE, `verify` prompts on stderr and reads the code from stdin."""
    deployment_id = deploy(run)
    served.advance(130)
    code = served.code(deployment_id)
    result = run("verify", deployment_id, stdin=code + "\n")
    assert result.code == 0, result.err
    assert result.err.startswith("OTP code: ")
    assert "code accepted" in result.out
    assert code not in result.out + result.err


def test_verify_with_a_wrong_code_exits_3(run: CLI, served: ThreadedSandbox) -> None:
    """A rejected code exits 3 and suggests asking for a new one."""
    deployment_id = deploy(run)
    served.advance(130)
    result = run("verify", deployment_id, "not-the-code")
    assert result.code == 3
    assert result.err.splitlines()[0].startswith("Error: 422 ")
    assert "wamanager resend ID" in result.err


def test_verify_with_closed_input_is_interrupted(run: CLI, served: ThreadedSandbox) -> None:
    """No CODE and nothing on stdin ends with exit code 130."""
    deployment_id = deploy(run)
    result = run("verify", deployment_id, stdin="")
    assert result.code == 130
    assert "Interrupted" in result.err


def test_resend_sends_a_new_code_by_voice(run: CLI, served: ThreadedSandbox) -> None:
    """`resend --method voice --json` reports the method; the sandbox inbox gets a new code."""
    deployment_id = deploy(run)
    served.advance(130 + 31)  # past the resend cool-down
    before = served.handle.otp(deployment_id)
    result = run("resend", deployment_id, "--method", "voice", "--json")
    assert result.code == 0, result.err
    assert result.json()["method"] == "voice"
    after = served.handle.otp(deployment_id)
    assert after is not None
    assert after != before
    assert after.method == "voice"


def test_resend_human_form(run: CLI, served: ThreadedSandbox) -> None:
    """`resend` says the code is on its way, and how."""
    deployment_id = deploy(run)
    served.advance(130 + 31)
    result = run("resend", deployment_id)
    assert result.code == 0, result.err
    assert result.out.strip() == "a new code is on its way by sms"


def test_resend_before_the_code_was_sent_is_a_conflict(run: CLI) -> None:
    """Resending in INITIALIZING exits 3 and explains which states allow it."""
    result = run("resend", deploy(run))
    assert result.code == 3
    assert "CODE_SENT or WRONG_CODE" in result.err


def test_delete_moves_the_deployment_to_deleting(run: CLI) -> None:
    """`delete` exits 0; the deployment is then DELETING, and a second delete exits 3."""
    deployment_id = deploy(run)
    result = run("delete", deployment_id)
    assert result.code == 0, result.err
    assert result.out.strip() == f"deleting {deployment_id} (DELETING, then DELETED)"
    assert run("status", deployment_id, "--json").json()["current_state"]["title"] == "DELETING"
    assert run("delete", deployment_id).code == 3


def test_delete_has_no_json_option(run: CLI) -> None:
    """`delete` prints no model, so --json is a usage error (exit 2)."""
    assert run("delete", "x", "--json").code == 2


# --- deploy --watch and watch ---------------------------------------------------------------


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
