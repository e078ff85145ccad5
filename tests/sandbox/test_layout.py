"""The sandbox's modules: one concern each, and imports that point one way.

State and rules (engine, records, sticker packs, config, clock, stats) never reach for the
web application; handlers never for the middleware, routes or control API; only the routes
module assembles everything. Read with :mod:`ast`, so nothing is imported to check it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SANDBOX = Path(__file__).resolve().parents[2] / "wamanager" / "sandbox"

#: What each sandbox module may import from its siblings (``__init__`` may import any).
ALLOWED: dict[str, set[str]] = {
    "_clock": set(),
    "_config": {"_clock"},
    "_problems": set(),
    "_stats": set(),
    "_stickers": {"_problems"},
    "_records": {"_config", "_stickers"},
    "_engine": {"_clock", "_config", "_problems", "_records", "_stats"},
    "_rate_limit": {"_clock"},
    "_faults": {"_config"},
    "_auth": {"_config", "_problems"},
    "_request_body": {"_problems"},
    "_app_keys": {"_auth", "_config", "_engine", "_faults", "_rate_limit"},
    "_handlers": {"_app_keys", "_engine", "_problems", "_records", "_request_body"},
    "_control": {"_app_keys", "_clock", "_config", "_problems", "_request_body"},
    "_middleware": {"_app_keys", "_config", "_faults", "_problems"},
    "_routes": {
        "_app_keys",
        "_auth",
        "_clock",
        "_config",
        "_control",
        "_engine",
        "_faults",
        "_handlers",
        "_middleware",
        "_rate_limit",
    },
    "_inbox": {"_config"},
    "_runner": {
        "_app_keys",
        "_auth",
        "_clock",
        "_config",
        "_control",
        "_engine",
        "_inbox",
        "_records",
        "_routes",
        "_stats",
    },
}


def _siblings(path: Path) -> set[str]:
    """The sandbox modules ``path`` imports (``from .x import`` and ``from . import x``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module is None:
                found.update(alias.name for alias in node.names)
            else:
                found.add(node.module.split(".")[0])
    return found


def test_every_module_has_a_place() -> None:
    """A new sandbox module must be placed in the table before it can be imported."""
    modules = {path.stem for path in SANDBOX.glob("*.py")} - {"__init__"}
    assert modules == set(ALLOWED)


@pytest.mark.parametrize("module", sorted(ALLOWED))
def test_each_module_imports_only_what_it_may(module: str) -> None:
    """A module imports only the siblings its row allows (the engine never the web app)."""
    assert _siblings(SANDBOX / f"{module}.py") <= ALLOWED[module]
