"""The ``wamanager.testing`` pytest plugin as users meet it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _readme_block(marker: str) -> str:
    """The Python code block that follows ``<!-- test: marker -->`` in the README."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(rf"<!-- test: {marker} -->\n```python\n(.*?)```", text, re.DOTALL)
    assert found is not None, f"README has no block marked {marker}"
    return found.group(1)


def test_loading_the_plugin_imports_neither_the_sandbox_nor_pytest_asyncio_fixtures() -> None:
    """Importing the plugin module leaves the sandbox unimported until a fixture is used."""
    code = "import sys, wamanager.testing; print('wamanager.sandbox' in sys.modules)"
    done = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "False"


def test_readme_fixture_example_passes_in_strict_mode(tmp_path: Path) -> None:
    """The README's fixture example passes as written under pytest-asyncio's strict mode."""
    (tmp_path / "test_readme_example.py").write_text(_readme_block("readme-fixtures"))
    (tmp_path / "pytest.ini").write_text("[pytest]\nasyncio_mode = strict\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    done = subprocess.run(  # noqa: S603 - our own interpreter on a file we wrote
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
