"""The suite's own shape: test files mirror the package, and every test says what it pins.

``tests/test_<name>.py`` tests ``wamanager/_<name>.py`` (or the ``<name>`` package);
``tests/<package>/test_<name>.py`` tests ``wamanager/<package>/_<name>.py``. Suites that
cut across modules live in folders named for what they prove (``contract/``,
``reliability/``), or are listed in :data:`CROSS_CUTTING` with the reason.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
PACKAGE = TESTS.parent / "wamanager"

#: Folders of suites that prove one thing across the package.
SUITES = {"contract", "reliability"}
#: The package each test folder mirrors.
MIRRORS = {"cli": "cli", "sandbox": "sandbox", "resources": "_resources"}
#: Test files that mirror no one module, and why.
CROSS_CUTTING = {
    "test_ci_floors.py": "the CI's floors script",
    "test_examples.py": "the examples and the demo, run as users run them",
    "test_exported_members.py": "the public surface, wamanager.__all__",
    "test_hygiene.py": "the suite's check that nothing is left open",
    "test_import_graph.py": "the import graph of the whole package",
    "test_suite_layout.py": "this file",
    "cli/test_secrets.py": "no secret in anything any command prints (uses the CLI fixtures)",
    "sandbox/test_layout.py": "the import graph inside the sandbox",
}


def _test_files() -> list[Path]:
    return sorted(TESTS.rglob("test_*.py"))


def _mirrors_a_module(relative: Path) -> bool:
    """Whether ``relative`` (a test file under tests/) names a module of the package."""
    name = relative.stem.removeprefix("test_")
    if len(relative.parts) == 1:
        return (PACKAGE / f"_{name}.py").exists() or (PACKAGE / name).is_dir()
    if len(relative.parts) > 2 or relative.parts[0] not in MIRRORS:
        return False
    folder = PACKAGE / MIRRORS[relative.parts[0]]
    return (folder / f"_{name}.py").exists() or (folder / f"{name}.py").exists()


def test_every_test_file_mirrors_a_module_or_is_a_named_suite() -> None:
    """Each test file names the module it tests, or sits in a suite folder, or is listed."""
    strays = []
    for path in _test_files():
        relative = path.relative_to(TESTS)
        if relative.parts[0] in SUITES or relative.as_posix() in CROSS_CUTTING:
            continue
        if not _mirrors_a_module(relative):
            strays.append(relative.as_posix())
    assert strays == []


def test_the_cross_cutting_list_names_only_files_that_exist() -> None:
    """A cross-cutting entry goes when its file goes, so the list never hides a stray."""
    assert sorted(p for p in CROSS_CUTTING if not (TESTS / p).exists()) == []


@pytest.mark.parametrize("path", _test_files(), ids=lambda p: p.relative_to(TESTS).as_posix())
def test_every_test_has_a_docstring(path: Path) -> None:
    """Every test function has a docstring saying the behaviour it pins."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    bare = [
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.name.startswith("test_")
        and not ast.get_docstring(node)
    ]
    assert bare == []
