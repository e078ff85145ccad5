"""The command as a real process: the sandbox server's three outputs, Ctrl-C, closed pipes,
``python -m wamanager``, and the library without the ``cli`` extra."""

from __future__ import annotations

import json
import os
import shlex
import signal
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from wamanager.sandbox import mint_jwt

from .conftest import CLI, STUCK, VARIABLES, ThreadedSandbox

DEPLOY = ("deploy", "44", "7700900123", "--waba-id", "1", "--vname-certificate", "c")
DEPLOY_STUCK = ("deploy", "44", STUCK, "--waba-id", "1", "--vname-certificate", "c")
CLEAN_ENV = {name: value for name, value in os.environ.items() if name not in VARIABLES}
JWT_VARIABLES = ("WAMANAGER_BASE_URL", "VONAGE_APPLICATION_ID", "VONAGE_PRIVATE_KEY")


def wamanager(
    *args: str, env: dict[str, str] | None = None, **popen: object
) -> subprocess.Popen[str]:
    """``python -m wamanager ARGS`` started with pipes for stdout and stderr."""
    return subprocess.Popen(  # noqa: S603 - our own interpreter and package
        [sys.executable, "-m", "wamanager", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**CLEAN_ENV, "PYTHONUNBUFFERED": "1", **(env or {})},
        **popen,  # type: ignore[call-overload]
    )


@pytest.fixture
def stop_at_end() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes to kill if a test leaves them running."""
    processes: list[subprocess.Popen[str]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.communicate()  # waits, and closes the pipes


def _read_until(process: subprocess.Popen[str], marker: str) -> str:
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if marker in line:
            break
    return "".join(lines)


def test_sandbox_prints_its_credentials_and_serves_until_ctrl_c(
    cli: CLI, stop_at_end: list[subprocess.Popen[str]]
) -> None:
    """`sandbox --port 0` prints URL, credentials and a key file; Ctrl-C stops it (exit 0)."""
    process = wamanager("sandbox", "--port", "0", "--seed", "1")
    stop_at_end.append(process)
    text = _read_until(process, "wamanager deploy ")
    values = dict(line.strip().split(":", 1) for line in text.splitlines()[1:7] if ":" in line)
    values = {key: value.strip() for key, value in values.items()}
    key_path = Path(values["private key"])
    assert "BEGIN PRIVATE KEY" in key_path.read_text()
    assert "api key" not in values  # Basic is off unless --basic-auth
    env = {
        "WAMANAGER_BASE_URL": values["base URL"],
        "VONAGE_APPLICATION_ID": values["application id"],
        "VONAGE_PRIVATE_KEY": str(key_path),
    }
    assert f"export VONAGE_PRIVATE_KEY={key_path}" in text
    assert cli("list", "--json", env=env).json() == []
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=10) == 0
    assert not key_path.exists()


def test_sandbox_json_is_one_object_of_variables(
    cli: CLI, stop_at_end: list[subprocess.Popen[str]]
) -> None:
    """`sandbox --json` prints one JSON object of the variables; they sign in with a JWT."""
    process = wamanager("sandbox", "--port", "0", "--json")
    stop_at_end.append(process)
    assert process.stdout is not None
    variables = json.loads(process.stdout.readline())
    assert set(variables) == set(JWT_VARIABLES)
    result = cli(*DEPLOY, env=variables)
    assert result.code == 0, result.err
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=10) == 0
    assert process.stdout.read() == ""  # nothing but the object on stdout
    assert "Press Ctrl-C" in (process.stderr.read() if process.stderr else "")


def test_sandbox_env_prints_export_lines(
    cli: CLI, stop_at_end: list[subprocess.Popen[str]]
) -> None:
    """`sandbox --env` prints `export NAME=value` lines a shell can source."""
    process = wamanager("sandbox", "--port", "0", "--env")
    stop_at_end.append(process)
    assert process.stdout is not None
    lines = [process.stdout.readline() for _ in JWT_VARIABLES]
    exported = {}
    for line in lines:
        keyword, assignment = shlex.split(line)
        assert keyword == "export"
        name, _, value = assignment.partition("=")
        exported[name] = value
    assert set(exported) == set(JWT_VARIABLES)
    assert cli("list", env=exported).code == 0
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=10) == 0


@pytest.mark.parametrize(
    ("flags", "works"),
    [((), False), (("--basic-auth",), True)],
    ids=["jwt-only", "basic-allowed"],
)
def test_basic_credentials_are_printed_and_accepted_only_with_basic_auth(
    cli: CLI, stop_at_end: list[subprocess.Popen[str]], flags: tuple[str, ...], works: bool
) -> None:
    """`--basic-auth` adds the api key and secret to the variables, and Basic then works."""
    process = wamanager("sandbox", "--port", "0", "--json", *flags)
    stop_at_end.append(process)
    assert process.stdout is not None
    variables = json.loads(process.stdout.readline())
    assert ("VONAGE_API_KEY" in variables) is works
    basic = {
        "WAMANAGER_BASE_URL": variables["WAMANAGER_BASE_URL"],
        "VONAGE_API_KEY": variables.get("VONAGE_API_KEY", "sandbox-key"),
        "VONAGE_API_SECRET": variables.get("VONAGE_API_SECRET", "sandbox-secret"),
    }
    result = cli("list", env=basic)
    assert (result.code == 0) is works, result.err
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=10) == 0


def test_rate_limit_and_tls_flags_reach_the_server(
    stop_at_end: list[subprocess.Popen[str]],
) -> None:
    """`--tls` serves HTTPS (the certificate in SSL_CERT_FILE makes a new process trust it),
    and `--rate-limit 0.01 --rate-burst 3` answers 429 once three requests are spent."""
    process = wamanager(
        "sandbox", "--port", "0", "--json", "--tls", "--rate-limit", "0.01", "--rate-burst", "3"
    )
    stop_at_end.append(process)
    assert process.stdout is not None
    variables = json.loads(process.stdout.readline())
    base_url = variables["WAMANAGER_BASE_URL"]
    assert base_url.startswith("https://")
    certificate = Path(variables["SSL_CERT_FILE"])
    assert "BEGIN CERTIFICATE" in certificate.read_text()
    listed = wamanager("list", "--json", env=variables)
    out, err = listed.communicate(timeout=60)
    assert (listed.returncode, json.loads(out)) == (0, []), err
    token = mint_jwt(
        variables["VONAGE_APPLICATION_ID"], Path(variables["VONAGE_PRIVATE_KEY"]).read_text()
    )
    context = ssl.create_default_context(cafile=str(certificate))
    statuses = []
    for _ in range(3):
        request = urllib.request.Request(  # noqa: S310 - the loopback URL it printed
            base_url + "/deployments", headers={"Authorization": f"Bearer {token}"}
        )
        try:
            with urllib.request.urlopen(request, context=context, timeout=10) as response:  # noqa: S310
                statuses.append(response.status)
        except urllib.error.HTTPError as exc:
            statuses.append(exc.code)
    assert statuses == [200, 200, 429]  # the `list` above spent the first of the three
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=10) == 0


def test_ctrl_c_during_a_watch_exits_130(
    fast: ThreadedSandbox, cli: CLI, stop_at_end: list[subprocess.Popen[str]]
) -> None:
    """Ctrl-C while watching ends with exit code 130 and one line, no traceback."""
    cli.env = fast.jwt_env
    deployment_id = cli(*DEPLOY_STUCK, "--json").json()["deployment_id"]
    process = wamanager("watch", deployment_id, "--interval", "0.01", env=fast.jwt_env)
    stop_at_end.append(process)
    assert process.stdout is not None
    assert "state CREATING_CLUSTER" in process.stdout.readline()
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=10) == 130
    assert process.stderr is not None
    assert process.stderr.read() == "Interrupted.\n"


def test_a_closed_pipe_ends_quietly(
    fast: ThreadedSandbox, cli: CLI, stop_at_end: list[subprocess.Popen[str]]
) -> None:
    """Output into a closed pipe (`wamanager list | head -0`) ends with exit 0, silently."""
    cli.env = fast.jwt_env
    deployment_id = cli(*DEPLOY_STUCK, "--json").json()["deployment_id"]
    for args in (["list"], ["watch", deployment_id, "--interval", "0.01"]):
        process = wamanager(*args, env=fast.jwt_env)
        stop_at_end.append(process)
        assert process.stdout is not None
        assert process.stderr is not None
        process.stdout.close()  # the reader is gone before the first line is written
        assert process.wait(timeout=10) == 0
        assert process.stderr.read() == ""


def test_python_dash_m_wamanager_runs_the_command() -> None:
    """`python -m wamanager --version` prints the version."""
    process = wamanager("--version")
    out, _ = process.communicate(timeout=30)
    assert process.returncode == 0
    assert out.startswith("wamanager ")


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=False
    )


def test_the_library_does_not_import_click_or_rich() -> None:
    """`import wamanager` (and the cli package itself) loads neither click nor rich."""
    done = _python(
        "import sys, wamanager, wamanager._client, wamanager.cli; "
        "print(sorted(m for m in ('click', 'rich') if m in sys.modules))"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_without_the_cli_extra_the_command_says_what_to_install() -> None:
    """With click missing, `wamanager` exits 1 and names the extra to install."""
    done = _python(
        "import sys; sys.modules['click'] = None; "
        "from wamanager.cli import main; sys.exit(main(['list']))"
    )
    assert done.returncode == 1
    assert "pip install 'wamanager[cli]'" in done.stderr
