"""The ``wamanager sandbox`` command, run as a real process."""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import sys
import urllib.request

from wamanager.cli import main


def test_sandbox_command_serves_until_sigint() -> None:
    """`python -m wamanager sandbox --port 0` prints its URL and credentials, serves, exits 0."""
    process = subprocess.Popen(
        [sys.executable, "-m", "wamanager", "sandbox", "--port", "0", "--seed", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("Press Ctrl-C"):
                break
        text = "".join(lines)
        base_url = re.search(r"base URL:\s+(\S+)", text).group(1)  # type: ignore[union-attr]
        key_path = re.search(r"private key:\s+(\S+)", text).group(1)  # type: ignore[union-attr]
        assert "sandbox-key" in text
        assert "sandbox-secret" in text
        assert "BEGIN PRIVATE KEY" in open(key_path).read()  # noqa: SIM115
        token = base64.b64encode(b"sandbox-key:sandbox-secret").decode()
        req = urllib.request.Request(  # noqa: S310 - loopback URL we just read
            base_url + "/deployments", headers={"Authorization": f"Basic {token}"}
        )
        with urllib.request.urlopen(req, timeout=5) as response:  # noqa: S310
            assert json.load(response) == []
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
        assert not os.path.exists(key_path)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_no_subcommand_prints_help_and_fails(capsys: object) -> None:
    """`wamanager` with no subcommand prints help and returns 2."""
    assert main([]) == 2
