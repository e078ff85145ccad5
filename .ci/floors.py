"""Fail unless every direct dependency of wamanager is installed at exactly its declared floor.

Run by ``.ci/lowest`` with the lowest-versions environment's interpreter, after
``uv pip install --resolution lowest-direct``. uv then installs the lowest version that
*resolves*: when another requirement needs more (schemathesis needs pytest>=8.4, say), it
quietly installs more than ``pyproject.toml`` declares, and the declared floor goes
untested. This names each such floor, and each requirement declared without one.
"""

from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError, metadata, version

from packaging.requirements import Requirement
from packaging.version import Version

PROJECT = "wamanager"


def check() -> list[str]:
    """One line per problem: a floor not installed as declared, or a requirement without one."""
    meta = metadata(PROJECT)
    extras = ["", *(meta.get_all("Provides-Extra") or [])]
    problems = []
    for line in meta.get_all("Requires-Dist") or []:
        req = Requirement(line)
        if req.name == PROJECT:  # an extra that includes another extra
            continue
        if req.marker is not None and not any(req.marker.evaluate({"extra": e}) for e in extras):
            continue  # for another platform or Python
        floors = [Version(spec.version) for spec in req.specifier if spec.operator == ">="]
        if not floors:
            problems.append(f"{line}: declares no '>=' floor")
            continue
        try:
            installed = Version(version(req.name))
        except PackageNotFoundError:
            problems.append(f"{line}: not installed")
            continue
        if installed != max(floors):
            problems.append(f"{line}: {installed} installed; raise the floor to what resolves")
    return problems


if __name__ == "__main__":
    found = check()
    for problem in found:
        print(f"floors: {problem}", file=sys.stderr)
    if found:
        sys.exit(1)
    print(f"floors: every direct dependency of {PROJECT} is installed at its declared floor")
