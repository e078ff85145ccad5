"""Usage: help with defaults, one-line usage errors (exit 2), and the demo."""

from __future__ import annotations

import socket

import pytest

from .conftest import CLI


def test_no_command_prints_help_on_stderr_and_exits_2(cli: CLI) -> None:
    """`wamanager` alone lists the commands, the variables and the exit codes on stderr."""
    result = cli()
    assert result.code == 2
    assert result.out == ""
    for text in ("deploy", "stickerpacks", "VONAGE_PRIVATE_KEY", "130 interrupted"):
        assert text in result.err


def test_help_and_version_exit_0(cli: CLI) -> None:
    """--help and --version print on stdout and exit 0."""
    assert cli("--help").code == 0
    version = cli("--version")
    assert version.code == 0
    assert version.out.startswith("wamanager ")


def test_sandbox_help_shows_each_default(cli: CLI) -> None:
    """`sandbox --help` shows the default of every option that has one."""
    text = " ".join(cli("sandbox", "--help").out.split())
    for default in ("[default: 127.0.0.1]", "[default: 8080;", "[default: 60.0]"):
        assert default in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["sandbox", "--port", "70000"], "Invalid value for '--port'"),
        (["sandbox", "--port", "http"], "Invalid value for '--port'"),
        (["sandbox", "--speed", "0"], "'0' is not a positive number"),
        (["sandbox", "--speed", "nan"], "'nan' is not a positive number"),
        (["sandbox", "--speed", "fast"], "'fast' is not a number"),
        (["sandbox", "--json", "--env"], "choose one of --json and --env"),
        (["status"], "Missing argument 'DEPLOYMENT_ID'"),
        (["deploy", "44", "7700900123"], "Missing option '--waba-id'"),
        (["watch", "x", "--timeout", "-1"], "'-1' is not a positive number"),
        (["profile", "set", "x", "--vertical", "Bakery"], "Invalid value for '--vertical'"),
        (["fly"], "No such command 'fly'"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(cli: CLI, args: list[str], message: str) -> None:
    """A bad flag, argument or command is one line on stderr, naming it, and exit code 2."""
    result = cli(*args)
    assert result.code == 2
    assert result.out == ""
    (line,) = result.err.splitlines()
    assert line.startswith("Error: ")
    assert message in line
    assert "--help" in line


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


def test_demo_narrates_a_whole_onboarding_with_jwt(cli: CLI) -> None:
    """`demo` deploys, verifies, sets the profile, photo and a sticker pack; no key shown."""
    result = cli("demo", "--speed", "3000")
    assert result.code == 0, result.err
    for text in (
        "signed in with a JWT of application",
        "state CODE_SENT",
        "OTP code verified",
        "deployment READY",
        "profile set: 'Fresh bread daily'",
        "photo set from https://cdn.example.com/logo.png",
        "sticker pack",
        "done",
    ):
        assert text in result.out
    assert "PRIVATE KEY" not in result.out + result.err
