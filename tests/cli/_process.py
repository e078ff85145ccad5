"""The command as a real process: ``python -m wamanager ARGS`` with pipes, and reading them."""

from __future__ import annotations

import os
import subprocess
import sys

from .conftest import VARIABLES

CLEAN_ENV = {name: value for name, value in os.environ.items() if name not in VARIABLES}


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


def read_until(process: subprocess.Popen[str], marker: str) -> str:
    """The process's stdout up to and including the first line holding ``marker``."""
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if marker in line:
            break
    return "".join(lines)
