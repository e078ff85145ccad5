"""Short names for the ``wamanager.testing`` plugin's fixtures, for this project's own tests.

The plugin's fixtures carry a ``wamanager_`` prefix (so they never collide with another
plugin's); the tests here use them under shorter names. Override ``wamanager_sandbox_config``
to change the sandbox a test module runs.
"""

from __future__ import annotations

import pytest

from wamanager import WhatsAppManager
from wamanager.sandbox import SandboxHandle


@pytest.fixture
def sandbox(wamanager_sandbox: SandboxHandle) -> SandboxHandle:
    """The running sandbox of the test (``wamanager_sandbox``)."""
    return wamanager_sandbox


@pytest.fixture
def wam(wamanager_client: WhatsAppManager) -> WhatsAppManager:
    """A client bound to the test's sandbox with JWT auth (``wamanager_client``)."""
    return wamanager_client
