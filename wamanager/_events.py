"""What a :class:`~wamanager.DeploymentWatcher` reports: frozen, slotted records.

Every event carries the ``deployment_id`` and ``at``, the wall-clock time (UTC) the watcher
observed it. Subscribe by type with ``watcher.on(StateChanged, callback)``, or to every event
with ``watcher.on(Event, callback)``.
"""

from __future__ import annotations

from datetime import datetime

import attrs

from ._models import Deployment
from ._states import DeploymentState

__all__ = [
    "CodeRejected",
    "CodeRequested",
    "CodeResent",
    "CodeVerified",
    "Event",
    "Failed",
    "PollFailed",
    "StateChanged",
    "Succeeded",
]


@attrs.frozen(kw_only=True)
class Event:
    """Base of every watcher event."""

    deployment_id: str
    at: datetime


@attrs.frozen(kw_only=True)
class StateChanged(Event):
    """A poll saw a new state. ``previous`` is ``None`` on the first poll of a watch.

    States may be skipped between two polls; ``previous`` is what the watcher last saw.
    """

    previous: DeploymentState | None
    current: DeploymentState
    deployment: Deployment


@attrs.frozen(kw_only=True)
class CodeRequested(Event):
    """The watcher asked the OTP provider for a code (``attempt`` counts from 1)."""

    attempt: int


@attrs.frozen(kw_only=True)
class CodeVerified(Event):
    """The OTP was accepted (by the watcher's verify, or seen as a verified state)."""


@attrs.frozen(kw_only=True)
class CodeRejected(Event):
    """The API rejected a code. ``attempt`` counts rejected codes from 1; the code is not kept."""

    attempt: int
    reason: str | None = None


@attrs.frozen(kw_only=True)
class CodeResent(Event):
    """The watcher had the OTP sent again, by ``method`` (``"sms"`` or ``"voice"``)."""

    method: str
    resends: int


@attrs.frozen(kw_only=True)
class Succeeded(Event):
    """The deployment reached READY."""

    deployment: Deployment


@attrs.frozen(kw_only=True)
class Failed(Event):
    """The watch ended without READY; ``error`` is what :meth:`result` raises."""

    error: BaseException
    deployment: Deployment | None = None


@attrs.frozen(kw_only=True)
class PollFailed(Event):
    """A poll (or an OTP call) failed transiently; the watch goes on after a backoff.

    ``attempt`` counts consecutive failures from 1.
    """

    error: BaseException
    attempt: int
