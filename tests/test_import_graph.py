"""The import graph: one direction, as DESIGN.md draws it.

Every module of the package is read with :mod:`ast`; each import of another wamanager module
(at module level or inside a function, but not under ``if TYPE_CHECKING:``) is an edge. The
graph must have no cycle, and each module may import only what its layer allows: data flows
down, from the CLI through provisioning, the watcher and the client to the session.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "wamanager"

#: What each module (or subpackage) may import from wamanager, besides itself.
LAYERS: dict[str, set[str]] = {
    "_version": set(),
    "_constants": set(),
    "_states": set(),
    "_clock": set(),
    "_models": {"_states"},
    "_converter": {"_models", "_states"},
    "_errors": {"_converter", "_models", "_states"},
    "_checks": {"_errors"},
    "_rules": {"_checks", "_errors", "_models", "_states"},
    "_retry": {"_checks", "_constants"},
    "_policy": {"_checks", "_errors", "_models", "_retry", "_states"},
    "_events": {"_models", "_states"},
    "_rate_control": {"_checks", "_constants"},
    "_ratelimit": {"_checks", "_constants", "_errors", "_rate_control"},
    "_auth": {"_checks", "_constants", "_errors"},
    "_options": {"_checks", "_constants", "_errors", "_retry"},
    "_encoding": {"_checks", "_errors"},
    "_failures": {"_errors", "_retry"},
    "_connection": {
        "_auth",
        "_constants",
        "_encoding",
        "_errors",
        "_options",
        "_ratelimit",
        "_version",
    },
    "_session": {
        "_auth",
        "_checks",
        "_connection",
        "_constants",
        "_encoding",
        "_errors",
        "_failures",
        "_options",
        "_rate_control",
        "_ratelimit",
        "_retry",
    },
    "_resources": {"_checks", "_converter", "_errors", "_models", "_rules", "_session"},
    "_poll_plan": set(),
    "_scheduler": {"_clock", "_converter", "_errors", "_models", "_poll_plan"},
    "_outbox": set(),
    "_delivery": {"_errors", "_events", "_models", "_outbox", "_states"},
    "_otp_driver": {"_clock", "_errors", "_events", "_models", "_policy", "_retry", "_states"},
    "_watch_options": {"_clock", "_errors", "_models", "_otp_driver", "_policy"},
    "_watcher": {
        "_clock",
        "_delivery",
        "_errors",
        "_events",
        "_models",
        "_otp_driver",
        "_policy",
        "_states",
        "_watch_options",
    },
    "_client": {
        "_auth",
        "_clock",
        "_constants",
        "_errors",
        "_models",
        "_options",
        "_rate_control",
        "_resources",
        "_retry",
        "_otp_driver",
        "_scheduler",
        "_session",
        "_watch_options",
        "_watcher",
    },
    "_provisioning": {
        "_client",
        "_delivery",
        "_errors",
        "_events",
        "_models",
        "_otp_driver",
        "_rules",
        "_states",
        "_watch_options",
        "_watcher",
    },
    "_journal": {"_errors", "_models", "_policy"},
    "_bulk_report": {"_clock"},
    "_bulk": {
        "_bulk_report",
        "_checks",
        "_client",
        "_clock",
        "_errors",
        "_events",
        "_journal",
        "_models",
        "_otp_driver",
        "_outbox",
        "_policy",
        "_provisioning",
        "_rules",
        "_watch_options",
    },
    "sandbox": {"_version", "_errors", "_models", "_rules", "_states"},
    "testing": {"_client", "sandbox", "_auth"},
}
#: Modules that may import anything (the top of the drawing).
TOP = {"__init__", "__main__", "cli", "_demo"}


def _unit(path: Path) -> str:
    """The module or subpackage a file belongs to (``resources/otp.py`` → ``resources``)."""
    relative = path.relative_to(PACKAGE)
    return relative.parts[0].removesuffix(".py")


def _imports(path: Path) -> Iterator[str]:
    """The wamanager units a file imports at run time."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    type_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            type_only.update(id(child) for child in ast.walk(node))
    package = ".".join(("wamanager", *path.relative_to(PACKAGE).parent.parts))
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.ImportFrom):
            base = _resolve(package, node.module, node.level)
            if base is None:
                continue
            if base == "wamanager":
                yield from (alias.name for alias in node.names)
            else:
                yield base.split(".")[1]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("wamanager."):
                    yield alias.name.split(".")[1]


def _resolve(package: str, module: str | None, level: int) -> str | None:
    if level == 0:
        return module if module and module.split(".")[0] == "wamanager" else None
    parts = package.split(".")
    base = parts[: len(parts) - (level - 1)]
    return ".".join([*base, module] if module else base)


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        unit = _unit(path)
        graph.setdefault(unit, set()).update(i for i in _imports(path) if i != unit)
    return graph


def test_every_module_has_a_layer() -> None:
    """A new module must be placed in the drawing before it can be imported."""
    assert set(_graph()) - TOP <= set(LAYERS)


@pytest.mark.parametrize("unit", sorted(set(LAYERS)))
def test_each_module_imports_only_its_layer(unit: str) -> None:
    """A module imports only what its layer allows (e.g. the watcher never the client)."""
    graph = _graph()
    assert graph.get(unit, set()) <= LAYERS[unit], unit


def test_the_graph_has_no_cycle() -> None:
    """No chain of imports leads back to where it started."""
    graph = {unit: deps - TOP for unit, deps in _graph().items()}
    visiting: set[str] = set()
    done: set[str] = set()

    def visit(unit: str, trail: tuple[str, ...]) -> None:
        if unit in done:
            return
        assert unit not in visiting, " -> ".join((*trail, unit))
        visiting.add(unit)
        for dep in sorted(graph.get(unit, ())):
            visit(dep, (*trail, unit))
        visiting.discard(unit)
        done.add(unit)

    for unit in sorted(graph):
        visit(unit, ())
