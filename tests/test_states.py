"""The state machine as data, and interpret() as a table."""

from __future__ import annotations

import itertools

import pytest

from wamanager._states import (
    ACTIONABLE,
    DELETABLE,
    TERMINAL,
    TRANSITIONS,
    DeploymentState,
    Signal,
    interpret,
    is_legal_transition,
)

S = DeploymentState
C, N, V, OK, F, D, U = (
    Signal.CHANGED,
    Signal.CODE_NEEDED,
    Signal.CODE_VERIFIED,
    Signal.SUCCEEDED,
    Signal.FAILED,
    Signal.DELETED,
    Signal.UNEXPECTED,
)


def test_happy_path_is_a_chain_of_legal_steps() -> None:
    """Every step of the documented happy path is in the transition table."""
    path = [
        S.INITIALIZING,
        S.CREATING_CLUSTER,
        S.CLUSTER_CREATED,
        S.CODE_SENT,
        S.WRONG_CODE,
        S.CODE_SENT,
        S.CODE_VERIFIED,
        S.FINALIZING,
        S.READY,
    ]
    assert all(is_legal_transition(a, b) for a, b in itertools.pairwise(path))


@pytest.mark.parametrize(
    ("state", "terminal"),
    [
        (S.READY, True),
        (S.ERROR, True),
        (S.DELETED, True),
        (S.DELETING, False),
        (S.CODE_SENT, False),
        (S("PAUSED"), False),
    ],
)
def test_terminal_states(state: DeploymentState, terminal: bool) -> None:
    """READY, ERROR and DELETED are terminal; everything else, unknown titles included, is not."""
    assert state.is_terminal is terminal
    assert (state in TERMINAL) is terminal


def test_terminal_states_only_leave_by_deletion() -> None:
    """No terminal state has a way out except DELETING."""
    for state in TERMINAL:
        assert TRANSITIONS[state] <= {S.DELETING}


def test_every_non_terminal_state_can_fail_and_deletion_rules_hold() -> None:
    """Non-terminal states but DELETING can fail; all but DELETING/DELETED can be deleted."""
    for state in S:
        if state not in TERMINAL and state is not S.DELETING:
            assert S.ERROR in TRANSITIONS[state]
        assert (S.DELETING in TRANSITIONS[state]) is (state in DELETABLE)
    assert S.DELETING not in DELETABLE
    assert S.DELETED not in DELETABLE


def test_actionable_states_are_the_otp_states() -> None:
    """Verify and resend are legal in CODE_SENT and WRONG_CODE only."""
    assert frozenset({S.CODE_SENT, S.WRONG_CODE}) == ACTIONABLE


def test_unknown_titles_are_kept_and_cached() -> None:
    """An unknown title keeps its raw string, compares equal to it, and is not known."""
    paused = S("PAUSED")
    assert paused == "PAUSED"
    assert str(paused) == "PAUSED"
    assert paused.is_known is False
    assert S.READY.is_known is True
    assert S("PAUSED") is paused
    assert "unknown" in repr(paused)


def test_unknown_titles_are_always_legal() -> None:
    """A transition involving an unknown state is never flagged as illegal."""
    assert is_legal_transition(S.READY, S("PAUSED"))
    assert is_legal_transition(S("PAUSED"), S.INITIALIZING)


@pytest.mark.parametrize(
    ("previous", "current", "signals"),
    [
        (None, S.INITIALIZING, (C,)),
        (None, S.CODE_SENT, (C, N)),
        (None, S.READY, (C, OK)),
        (None, S.ERROR, (C, F)),
        (S.INITIALIZING, S.INITIALIZING, ()),
        (S.INITIALIZING, S.CREATING_CLUSTER, (C,)),
        (S.CLUSTER_CREATED, S.CODE_SENT, (C, N)),
        (S.CODE_SENT, S.WRONG_CODE, (C, N)),
        (S.WRONG_CODE, S.CODE_SENT, (C, N)),
        (S.CODE_SENT, S.CODE_VERIFIED, (C, V)),
        (S.CODE_SENT, S.READY, (C, V, OK)),
        (S.CREATING_CLUSTER, S.FINALIZING, (C, V)),
        (S.FINALIZING, S.READY, (C, OK)),
        (S.CODE_VERIFIED, S.FINALIZING, (C,)),
        (S.FINALIZING, S.ERROR, (C, F)),
        (S.CODE_SENT, S.DELETING, (C, D)),
        (S.READY, S.DELETED, (C, D)),
        (S.READY, S.CODE_SENT, (C, U, N)),
        (S.DELETED, S.INITIALIZING, (C, U)),
        (S.CODE_SENT, S("PAUSED"), (C,)),
        (S("PAUSED"), S.READY, (C, OK)),
    ],
)
def test_interpret(
    previous: DeploymentState | None, current: DeploymentState, signals: tuple[Signal, ...]
) -> None:
    """interpret() maps (previous, current) to the signals the watcher delivers, in order."""
    assert interpret(previous, current) == signals


def test_states_module_is_pure() -> None:
    """wamanager._states imports only the standard library: interpret() can do no I/O."""
    import ast
    import sys
    from pathlib import Path

    import wamanager._states

    tree = ast.parse(Path(wamanager._states.__file__).read_text())
    imported = {
        (node.module or "").split(".")[0] if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    }
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}, imported


def test_unknown_state_lookup_is_unknown() -> None:
    """DeploymentState("PAUSED") never raises and reports is_known False."""
    assert DeploymentState("PAUSED").is_known is False
    assert DeploymentState("READY").is_known is True
