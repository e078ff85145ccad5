"""The sandbox shares states, models and the rules with the client, never the client itself;
models no longer import errors (the errors ↔ models cycle is gone)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import wamanager

PACKAGE = Path(wamanager.__file__).resolve().parent


def _wamanager_imports(path: Path) -> set[str]:
    """The wamanager modules ``path`` imports (``"states"``, ``"sandbox._app"``, ...)."""
    package = path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                names = [node.module] if node.module else [a.name for a in node.names]
                found.update(".".join((*base, name))[len("wamanager.") :] for name in names)
            elif node.module and node.module.startswith("wamanager."):
                found.add(node.module[len("wamanager.") :])
        elif isinstance(node, ast.Import):
            found.update(
                a.name[len("wamanager.") :] for a in node.names if a.name.startswith("wamanager.")
            )
    return found


@pytest.mark.parametrize("path", sorted((PACKAGE / "sandbox").glob("*.py")), ids=lambda p: p.name)
def test_the_sandbox_imports_only_what_it_may(path: Path) -> None:
    """Each sandbox module imports the sandbox, states, models, rules and errors only."""
    allowed = ("sandbox", "states", "models", "rules", "errors")
    outside = {m for m in _wamanager_imports(path) if m.split(".")[0] not in allowed}
    assert outside == set()


@pytest.mark.parametrize(
    ("module", "forbidden"),
    [("models.py", {"errors", "rules"}), ("rules.py", {"client", "session", "sandbox"})],
)
def test_models_and_rules_point_one_way(module: str, forbidden: set[str]) -> None:
    """models imports neither errors nor rules; rules imports no client, session or sandbox."""
    imported = {m.split(".")[0] for m in _wamanager_imports(PACKAGE / module)}
    assert imported & forbidden == set()
