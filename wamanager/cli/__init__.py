"""The ``wamanager`` command, for operators (the ``cli`` extra: click and rich).

``import wamanager`` never imports this package, and this module imports click and rich
only when :func:`main` runs, so the library works without the extra.

Modules: ``_app`` (the root group; errors, exit codes and closed pipes, in one place),
``_errors`` (pure: an error's exit code and the lines that explain it), ``_options`` (the
common options, credentials from the environment and flags), ``_output`` (JSON, or tables
and colour on a terminal, plain text elsewhere), and the commands: ``_deployments``,
``_bulk``, ``_profile``, ``_stickers``, ``_sandbox`` (``sandbox`` and ``demo``, run by
``_demo``).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``wamanager`` command with ``argv`` (default: ``sys.argv[1:]``); the exit code.

    Without the ``cli`` extra installed it says how to install it and returns 1.
    """
    try:
        from ._app import run
    except ModuleNotFoundError as exc:
        if exc.name not in ("click", "rich"):
            raise
        print(
            f"the wamanager command needs the 'cli' extra ({exc.name} is not installed): "
            "pip install 'wamanager[cli]'",
            file=sys.stderr,
        )
        return 1
    return run(argv)
