"""The remote deployment state machine, as data.

This module is pure: no I/O, no clock. It declares the states a deployment walks through, the
transitions the API documents, which states are terminal, and which calls each state allows.
The watcher and the sandbox both read it; neither adds states of its own.

```
INITIALIZING → CREATING_CLUSTER → CLUSTER_CREATED → CODE_SENT ⇄ WRONG_CODE
                                                       │            │
                                                       └─► CODE_VERIFIED → FINALIZING → READY
any non-terminal ─► ERROR          anything but DELETING/DELETED ─► DELETING → DELETED
```

A title the library does not know (the API may add states) is kept as a pseudo-member of
:class:`DeploymentState` with ``is_known`` false, and is treated as non-terminal.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

__all__ = [
    "ACTIONABLE",
    "DELETABLE",
    "FAILURE",
    "GONE",
    "SUCCESS",
    "TERMINAL",
    "TRANSITIONS",
    "VERIFIED",
    "DeploymentState",
    "Signal",
    "interpret",
    "is_legal_transition",
]


class DeploymentState(str, enum.Enum):
    """The ``current_state.title`` of a deployment.

    The class is a ``str`` enum, so members compare equal to their wire strings. Looking up
    an unknown title (``DeploymentState("PAUSED")``) never raises: it returns a pseudo-member
    that keeps the raw string and reports ``is_known == False``.
    """

    INITIALIZING = "INITIALIZING"
    CREATING_CLUSTER = "CREATING_CLUSTER"
    CLUSTER_CREATED = "CLUSTER_CREATED"
    CODE_SENT = "CODE_SENT"
    WRONG_CODE = "WRONG_CODE"
    CODE_VERIFIED = "CODE_VERIFIED"
    FINALIZING = "FINALIZING"
    READY = "READY"
    ERROR = "ERROR"
    DELETING = "DELETING"
    DELETED = "DELETED"

    @classmethod
    def _missing_(cls, value: object) -> DeploymentState | None:
        if not isinstance(value, str):
            return None
        # Unknown titles become pseudo-members, cached so that identity holds for repeats.
        cached = _UNKNOWN.get(value)
        if cached is None:
            cached = str.__new__(cls, value)
            cached._name_ = value
            cached._value_ = value
            if len(_UNKNOWN) < _UNKNOWN_CACHE_SIZE:  # bounded: titles come from the network
                _UNKNOWN[value] = cached
        return cached

    @property
    def is_known(self) -> bool:
        """Whether this title is one the spec (v0.1.5) declares."""
        return self._name_ in type(self).__members__

    @property
    def is_terminal(self) -> bool:
        """Whether the deployment can leave this state on its own (READY, ERROR, DELETED)."""
        return self in TERMINAL

    def __str__(self) -> str:
        return self.value

    def __repr__(self) -> str:
        marker = "" if self.is_known else " (unknown)"
        return f"<DeploymentState.{self._name_}{marker}>"


_UNKNOWN: dict[str, DeploymentState] = {}
_UNKNOWN_CACHE_SIZE = 64

_S = DeploymentState

#: The deployment reached the state its owner wanted.
SUCCESS: frozenset[DeploymentState] = frozenset({_S.READY})
#: The deployment failed; ``current_state.detail`` says why.
FAILURE: frozenset[DeploymentState] = frozenset({_S.ERROR})
#: States a deployment does not leave by itself.
TERMINAL: frozenset[DeploymentState] = SUCCESS | FAILURE | {_S.DELETED}
#: States in which the API accepts ``verify`` and ``resend-otp``.
ACTIONABLE: frozenset[DeploymentState] = frozenset({_S.CODE_SENT, _S.WRONG_CODE})
#: States that mean the OTP was accepted.
VERIFIED: frozenset[DeploymentState] = frozenset({_S.CODE_VERIFIED, _S.FINALIZING, _S.READY})
# A jump from any of these to a verified state means a code was accepted in between.
_BEFORE_VERIFY: frozenset[DeploymentState | None] = frozenset(
    {_S.INITIALIZING, _S.CREATING_CLUSTER, _S.CLUSTER_CREATED, _S.CODE_SENT, _S.WRONG_CODE}
)
#: States that mean the deployment is going away.
GONE: frozenset[DeploymentState] = frozenset({_S.DELETING, _S.DELETED})
#: States from which ``DELETE`` is accepted (everything but DELETING/DELETED).
DELETABLE: frozenset[DeploymentState] = frozenset(_S) - GONE

_PROGRESS: Mapping[DeploymentState, frozenset[DeploymentState]] = {
    _S.INITIALIZING: frozenset({_S.CREATING_CLUSTER}),
    _S.CREATING_CLUSTER: frozenset({_S.CLUSTER_CREATED}),
    _S.CLUSTER_CREATED: frozenset({_S.CODE_SENT}),
    _S.CODE_SENT: frozenset({_S.CODE_SENT, _S.WRONG_CODE, _S.CODE_VERIFIED}),
    _S.WRONG_CODE: frozenset({_S.CODE_SENT, _S.WRONG_CODE, _S.CODE_VERIFIED}),
    _S.CODE_VERIFIED: frozenset({_S.FINALIZING}),
    _S.FINALIZING: frozenset({_S.READY}),
    _S.READY: frozenset(),
    _S.ERROR: frozenset(),
    _S.DELETING: frozenset({_S.DELETED}),
    _S.DELETED: frozenset(),
}


def _build_transitions() -> Mapping[DeploymentState, frozenset[DeploymentState]]:
    table: dict[DeploymentState, frozenset[DeploymentState]] = {}
    for state, nexts in _PROGRESS.items():
        extra: set[DeploymentState] = set()
        if state not in TERMINAL and state is not _S.DELETING:
            extra.add(_S.ERROR)
        if state in DELETABLE:
            extra.add(_S.DELETING)
        table[state] = nexts | extra
    return table


#: One step transitions the API documents: ``TRANSITIONS[a]`` holds every state directly
#: reachable from ``a``. Polling can skip states, so observers must not expect adjacency.
TRANSITIONS: Mapping[DeploymentState, frozenset[DeploymentState]] = _build_transitions()


def is_legal_transition(previous: DeploymentState, current: DeploymentState) -> bool:
    """Whether ``previous → current`` is one documented step (unknown states: always legal)."""
    if not (previous.is_known and current.is_known):
        return True
    return current in TRANSITIONS[previous]


class Signal(enum.Enum):
    """What a new snapshot implies, as :func:`interpret` reports it."""

    #: The title differs from the previous snapshot's (or this is the first snapshot).
    CHANGED = "changed"
    #: The deployment waits for an OTP (it just entered CODE_SENT or WRONG_CODE).
    CODE_NEEDED = "code_needed"
    #: The deployment left CODE_SENT / WRONG_CODE for a verified state.
    CODE_VERIFIED = "code_verified"
    #: The deployment reached READY.
    SUCCEEDED = "succeeded"
    #: The deployment reached ERROR.
    FAILED = "failed"
    #: The deployment is being (or has been) deleted: it will never be READY.
    DELETED = "deleted"
    #: The step is not one the table allows, even allowing for skipped states.
    UNEXPECTED = "unexpected"


def _reachable(start: DeploymentState) -> frozenset[DeploymentState]:
    seen: set[DeploymentState] = set()
    frontier = list(TRANSITIONS[start])
    while frontier:
        here = frontier.pop()
        if here not in seen:
            seen.add(here)
            frontier.extend(TRANSITIONS[here])
    return frozenset(seen)


#: Every state reachable from each state in one step or more (polls may skip states).
_REACHABLE: Mapping[DeploymentState, frozenset[DeploymentState]] = {
    state: _reachable(state) for state in _S
}


def interpret(previous: DeploymentState | None, current: DeploymentState) -> tuple[Signal, ...]:
    """The signals that going from ``previous`` to ``current`` implies, in delivery order.

    ``previous`` is ``None`` for the first snapshot of a watch. Pure: no I/O, no clock.
    States may be skipped between two polls, so a step is UNEXPECTED only when ``current``
    cannot be reached from ``previous`` at all (READY back to CODE_SENT, say). An unknown
    title is never unexpected and never terminal.
    """
    if previous == current:
        return ()
    signals = [Signal.CHANGED]
    known = previous is not None and previous.is_known and current.is_known
    if known and current not in _REACHABLE[previous]:  # type: ignore[index]
        signals.append(Signal.UNEXPECTED)
    if current in ACTIONABLE:
        signals.append(Signal.CODE_NEEDED)
    elif current in VERIFIED and previous in _BEFORE_VERIFY:
        signals.append(Signal.CODE_VERIFIED)
    if current in SUCCESS:
        signals.append(Signal.SUCCEEDED)
    elif current in FAILURE:
        signals.append(Signal.FAILED)
    elif current in GONE:
        signals.append(Signal.DELETED)
    return tuple(signals)


def _check_table() -> None:
    # Declared as data and checked when defined (python-statemachine's habit): every state
    # reaches a terminal state, and terminal states have no way out but deletion.
    for state in _S:
        if not ({state} | _REACHABLE[state]) & TERMINAL:  # pragma: no cover - fails at import
            raise AssertionError(f"{state} cannot reach a terminal state")
    for state in TERMINAL:
        if TRANSITIONS[state] - {_S.DELETING}:  # pragma: no cover
            raise AssertionError(f"terminal state {state} has a way out")


_check_table()
