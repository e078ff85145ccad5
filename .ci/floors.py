"""Fail unless every direct dependency of wamanager is installed at exactly its declared floor.

Run by ``.ci/lowest`` with the lowest-versions environment's interpreter, after
``uv pip install --resolution lowest-direct``. uv then installs the lowest version that
*resolves*: when another requirement needs more (schemathesis needs pytest>=8.4, say), it
quietly installs more than ``pyproject.toml`` declares, and the declared floor goes
untested. This names each such floor, and each requirement declared without one.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from importlib.metadata import PackageNotFoundError, metadata, version

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

PROJECT = "wamanager"


def problems(
    requires: Iterable[str], extras: Iterable[str], installed: Callable[[str], str | None]
) -> list[str]:
    """One line per requirement not installed at its ``>=`` floor, or declared without one.

    ``requires`` are Requires-Dist lines, ``extras`` the project's extras (all installed),
    ``installed(name)`` the installed version of a canonical name (``pyyaml``) or None.
    Requirements for another platform or Python, and the project's own extras, are skipped.
    """
    environments = [{"extra": extra} for extra in ["", *extras]]
    found = []
    for line in requires:
        req = Requirement(line)
        name = canonicalize_name(req.name)
        if name == PROJECT:
            continue
        if req.marker is not None and not any(map(req.marker.evaluate, environments)):
            continue
        floors = [Version(spec.version) for spec in req.specifier if spec.operator == ">="]
        have = installed(name)
        if not floors:
            found.append(f"{line}: declares no '>=' floor")
        elif have is None:
            found.append(f"{line}: not installed")
        elif Version(have) != max(floors):
            found.append(f"{line}: {have} installed; raise the floor to what resolves")
    return found


def _installed(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def main() -> int:
    """Check this environment's install of the project; print what is wrong, exit 1 if any."""
    meta = metadata(PROJECT)
    found = problems(
        meta.get_all("Requires-Dist") or [], meta.get_all("Provides-Extra") or [], _installed
    )
    for problem in found:
        print(f"floors: {problem}", file=sys.stderr)
    if not found:
        print(f"floors: every direct dependency of {PROJECT} is installed at its declared floor")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
