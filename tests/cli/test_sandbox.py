"""`wamanager sandbox`: its help with defaults, its three outputs as a real process, Basic
credentials, the rate-limit and TLS flags, and one-line errors for a port or host it cannot
bind."""

from __future__ import annotations

import json
import shlex
import signal
import socket
import ssl
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from wamanager.sandbox import mint_jwt

from ._process import read_until, wamanager
from .conftest import CLI

DEPLOY = ("deploy", "44", "7700900123", "--waba-id", "1", "--vname-certificate", "c")
JWT_VARIABLES = ("WAMANAGER_BASE_URL", "VONAGE_APPLICATION_ID", "VONAGE_PRIVATE_KEY")


def test_sandbox_prints_its_credentials_and_serves_until_ctrl_c(
    cli: CLI, stop_at_end: list[subprocess.Popen[str]]
) -> None:
    """`sandbox --port 0` prints URL, credentials and a key file; Ctrl-C stops it (exit 0)."""
    process = wamanager("sandbox", "--port", "0", "--seed", "1")
    stop_at_end.append(process)
    text = read_until(process, "wamanager deploy ")
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


def test_sandbox_help_shows_each_default(cli: CLI) -> None:
    """`sandbox --help` shows the default of every option that has one."""
    text = " ".join(cli("sandbox", "--help").out.split())
    for default in ("[default: 127.0.0.1]", "[default: 8080;", "[default: 60.0]"):
        assert default in text


def test_a_port_in_use_is_a_one_line_error(cli: CLI) -> None:
    """`sandbox --port N` with N taken exits 2 with one line saying so."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli("sandbox", "--port", str(port))
    assert result.code == 2
    (line,) = result.err.splitlines()
    assert f"port {port} on 127.0.0.1 is in use" in line


def test_a_host_that_cannot_be_bound_is_a_one_line_error(cli: CLI) -> None:
    """`sandbox --host` with an address not on this machine exits 2 with one line."""
    result = cli("sandbox", "--host", "192.0.2.1", "--port", "0")
    assert result.code == 2
    (line,) = result.err.splitlines()
    assert "cannot listen on 192.0.2.1:0" in line
