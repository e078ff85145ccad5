"""The examples and the demo run as users run them, against the embedded sandbox."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
# The sandbox runs 600x real time here, so each example takes well under a second.
ENV = {**os.environ, "WAMANAGER_SANDBOX_SPEED": "600", "PYTHONWARNINGS": "error::ResourceWarning"}


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own interpreter on our own files
        [sys.executable, *args], capture_output=True, text=True, env=ENV, timeout=60, check=False
    )


def test_there_are_three_examples() -> None:
    """The one-call, event-driven and service-style examples all exist."""
    assert {p.stem for p in EXAMPLES} >= {"provision", "event_driven", "service_wait_for"}


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs_to_ready(path: Path) -> None:
    """Each example exits 0, reports a READY deployment and leaks no connection."""
    done = _run(str(path))
    assert done.returncode == 0, done.stderr
    assert "is READY" in done.stdout
    assert "Unclosed" not in done.stderr


def test_event_driven_example_shows_the_resend() -> None:
    """The event-driven example's withheld code is recovered by a voice resend."""
    done = _run(str(ROOT / "examples" / "event_driven.py"))
    assert "resent by voice" in done.stdout
    assert "code verified" in done.stdout


def test_demo_command_narrates_a_whole_onboarding() -> None:
    """`wamanager demo` provisions a number, applies the profile and a sticker pack, exits 0."""
    done = _run("-m", "wamanager", "demo", "--speed", "600")
    assert done.returncode == 0, done.stderr
    for line in ("state CODE_SENT", "OTP code verified", "deployment READY", "sticker pack"):
        assert line in done.stdout
    assert "Unclosed" not in done.stderr
