"""``.ci/floors.py``: which declared floors the lowest-versions run did not install as declared."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

FLOORS = Path(__file__).resolve().parents[1] / ".ci" / "floors.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ci_floors", FLOORS)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


floors = _load()

INSTALLED = {"aiohttp": "3.10.0", "pytest": "8.4.0", "ruff": "0.16.0", "pyyaml": "6.0"}


@pytest.mark.parametrize(
    ("requirement", "problem"),
    [
        ("aiohttp>=3.10", None),
        ("aiohttp<4,>=3.10", None),
        ("pytest>=8; extra == 'testing'", "8.4.0 installed; raise the floor"),
        ("pytest>=8.4; extra == 'dev'", None),
        ("PyYAML>=6.0; extra == 'dev'", None),
        ("ruff; extra == 'dev'", "declares no '>=' floor"),
        ("ruff==0.16.0; extra == 'dev'", "declares no '>=' floor"),
        ("click>=8.1; extra == 'cli'", "not installed"),
        ("tomli>=2; python_version < '3'", None),
        ("shiny>=1; extra == 'unknown'", None),
        ("wamanager[testing]; extra == 'dev'", None),
    ],
)
def test_each_requirement_is_judged(requirement: str, problem: str | None) -> None:
    """A floor passes only when installed exactly; a missing floor or package is named."""
    found = floors.problems([requirement], ["cli", "dev", "testing"], INSTALLED.get)
    if problem is None:
        assert found == []
    else:
        assert len(found) == 1
        assert found[0].startswith(f"{requirement}: ")
        assert problem in found[0]
