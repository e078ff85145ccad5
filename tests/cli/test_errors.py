"""The pure error rules of the command: exit codes and what is said, as tables."""

from __future__ import annotations

import pytest

from wamanager._errors import (
    APIError,
    ConnectionFailed,
    DeploymentDeleted,
    DeploymentFailed,
    Forbidden,
    NotFound,
    NumberInUse,
    RequestTimeout,
    ResendConflict,
    ServerError,
    StateConflict,
    Throttled,
    Unauthorized,
    UnexpectedResponse,
    ValidationError,
    VerificationFailed,
    WatchTimeout,
)
from wamanager._models import CurrentState, Deployment, InvalidParameter, ProblemDetails
from wamanager._states import DeploymentState
from wamanager.cli._errors import (
    EXIT_API,
    EXIT_DEPLOYMENT,
    EXIT_INTERRUPTED,
    EXIT_TIMEOUT,
    EXIT_UNEXPECTED,
    EXIT_USAGE,
    exit_code,
    explain,
    unwrap,
)


class Group(Exception):
    """Shaped like ``ExceptionGroup`` (a builtin only from Python 3.11)."""

    def __init__(self, message: str, exceptions: list[BaseException]) -> None:
        super().__init__(message)
        self.exceptions = tuple(exceptions)


DEP_ID = "0c8a7a2e-5b1e-4c2a-9d43-2f1f8e6f5a01"
FAILED = Deployment(
    DEP_ID, current_state=CurrentState(DeploymentState.ERROR, "Invalid vname certificate")
)


def problem(title: str, detail: str | None = None, **extra: object) -> ProblemDetails:
    """A problem-details body."""
    return ProblemDetails(title=title, detail=detail, **extra)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (ValidationError([("email", "too long")], model="Profile"), EXIT_USAGE),
        (ValidationError([("credentials", "none set")], model="environment"), EXIT_USAGE),
        (NotFound(404, problem("Not Found")), EXIT_API),
        (Unauthorized(401, problem("Unauthorized")), EXIT_API),
        (NumberInUse(409, problem("Conflict")), EXIT_API),
        (ServerError(503, problem("Unavailable")), EXIT_API),
        (ConnectionFailed("refused"), EXIT_API),
        (UnexpectedResponse("not JSON", status=200), EXIT_API),
        (DeploymentFailed(FAILED), EXIT_DEPLOYMENT),
        (DeploymentDeleted(DEP_ID), EXIT_DEPLOYMENT),
        (WatchTimeout("late", deployment_id=DEP_ID), EXIT_TIMEOUT),
        (RequestTimeout("slow"), EXIT_TIMEOUT),
        (KeyboardInterrupt(), EXIT_INTERRUPTED),
        (EOFError("stdin closed"), EXIT_INTERRUPTED),
        (RuntimeError("a bug"), EXIT_UNEXPECTED),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else str(value),
)
def test_exit_code_table(error: BaseException, code: int) -> None:
    """Each kind of error ends the command with the exit code the README lists."""
    assert exit_code(error) == code


@pytest.mark.parametrize(
    ("error", "headline", "advice"),
    [
        (
            NotFound(404, problem("Not Found", "Deployment does not exist.")),
            "Error: 404 Not Found: Deployment does not exist.",
            "wamanager list",
        ),
        (
            Unauthorized(401, problem("You did not provide correct credentials.", "Check them")),
            "Error: 401 You did not provide correct credentials: Check them",
            "VONAGE_APPLICATION_ID",
        ),
        (
            Forbidden(403, problem("Forbidden")),
            "Error: 403 Forbidden",
            "ask Vonage to enable it",
        ),
        (
            NumberInUse(409, problem("Conflict", f"Active deployment exists with id {DEP_ID}")),
            f"Error: 409 Conflict: Active deployment exists with id {DEP_ID}",
            f"wamanager status {DEP_ID}",
        ),
        (
            StateConflict(409, problem("Conflict", "DELETING")),
            "Error: 409 Conflict: DELETING",
            "does not allow this now",
        ),
        (
            ResendConflict(409, problem("Resend Failed")),
            "Error: 409 Resend Failed",
            "CODE_SENT or WRONG_CODE",
        ),
        (
            VerificationFailed(422, problem("Verification Failed", "Wrong code")),
            "Error: 422 Verification Failed: Wrong code",
            "wamanager resend ID",
        ),
        (
            Throttled(429, problem("Too Many Requests"), retry_after=2.0),
            "Error: 429 Too Many Requests",
            "try again in 2s",
        ),
        (
            ServerError(500, problem("Internal Error", instance="trace-1")),
            "Error: 500 Internal Error",
            "quote instance trace-1",
        ),
        (
            ValidationError([("VONAGE_PRIVATE_KEY", "is not set")], model="environment"),
            "Error: invalid environment: VONAGE_PRIVATE_KEY: is not set",
            "--api-key/--api-secret",
        ),
        (
            DeploymentFailed(FAILED),
            f"Error: deployment {DEP_ID} failed: Invalid vname certificate",
            f"wamanager delete {DEP_ID}",
        ),
        (
            WatchTimeout("not READY within 5s", deployment_id=DEP_ID),
            "Error: not READY within 5s",
            f"wamanager watch {DEP_ID}",
        ),
        (ConnectionFailed("refused"), "Error: refused", "--base-url"),
        (RequestTimeout("slow"), "Error: slow", "try again"),
        (UnexpectedResponse("not JSON", status=200), "Error: not JSON", "--debug"),
        (RuntimeError("boom\nmore"), "Error: unexpected RuntimeError: boom", "--debug"),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else "",
)
def test_explain_gives_a_headline_and_what_to_do(
    error: BaseException, headline: str, advice: str
) -> None:
    """Each error is told in two lines: the API's title and detail, then what to do."""
    lines = explain(error)
    assert len(lines) == 2
    assert lines[0] == headline
    assert advice in lines[1]


@pytest.mark.parametrize(
    "error",
    [
        ValidationError([("email", "too long")], model="Profile"),
        DeploymentDeleted(DEP_ID),
        APIError(418, problem("Teapot")),
        KeyboardInterrupt(),
        EOFError(),
    ],
    ids=["validation", "deleted", "plain-api-error", "interrupt", "eof"],
)
def test_explain_says_one_line_when_there_is_nothing_to_advise(error: BaseException) -> None:
    """Errors whose message says it all are one line, starting with what happened."""
    lines = explain(error)
    assert len(lines) == 1
    assert lines[0].startswith(("Error: ", "Interrupted"))


def test_explain_lists_the_rejected_parameters() -> None:
    """A 422 names every parameter the API rejected, and why."""
    error = VerificationFailed(
        422,
        problem("Invalid", invalid_parameters=(InvalidParameter("about", "too long"),)),
    )
    assert explain(error)[0] == "Error: 422 Invalid: about: too long"


def test_unwrap_takes_the_one_error_out_of_nested_groups() -> None:
    """An error wrapped by task groups is reported as itself; a real group stays a group."""
    inner = NotFound(404, problem("Not Found"))
    assert unwrap(Group("outer", [Group("inner", [inner])])) is inner
    group = Group("two", [inner, RuntimeError("x")])
    assert unwrap(group) is group
    assert unwrap(inner) is inner
