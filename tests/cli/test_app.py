"""The command's entry point: help and version, one-line usage errors (exit 2), Ctrl-C,
closed pipes, ``python -m wamanager``, and the library without the ``cli`` extra."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from ._process import wamanager
from .conftest import CLI, STUCK, ThreadedSandbox


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


DEPLOY_STUCK = ("deploy", "44", STUCK, "--waba-id", "1", "--vname-certificate", "c")


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


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=False
    )
