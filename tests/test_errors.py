"""The exception tree and the one status/type → class mapping."""

from __future__ import annotations

from typing import Any

import pytest

from wamanager import (
    APIError,
    ClientClosed,
    Conflict,
    ConnectionFailed,
    CurrentState,
    Deployment,
    DeploymentDeleted,
    DeploymentFailed,
    DeploymentState,
    Forbidden,
    InvalidJSON,
    InvalidParameters,
    NotFound,
    NumberInUse,
    RequestTimeout,
    ResendConflict,
    ServerError,
    StateConflict,
    Throttled,
    TransportError,
    Unauthorized,
    UnexpectedResponse,
    Unprocessable,
    ValidationError,
    VerificationFailed,
    WatchTimeout,
    WhatsAppManagerError,
)
from wamanager._errors import error_from_response

WP = "https://developer.vonage.com/api-errors/whatsapp-provisioning#"
GEN = "https://developer.vonage.com/api-errors#"


@pytest.mark.parametrize(
    ("cls", "parent"),
    [
        (APIError, WhatsAppManagerError),
        (InvalidJSON, APIError),
        (Unauthorized, APIError),
        (Forbidden, APIError),
        (NotFound, APIError),
        (Conflict, APIError),
        (NumberInUse, Conflict),
        (StateConflict, Conflict),
        (ResendConflict, Conflict),
        (Unprocessable, APIError),
        (VerificationFailed, Unprocessable),
        (InvalidParameters, Unprocessable),
        (Throttled, APIError),
        (ServerError, APIError),
        (UnexpectedResponse, WhatsAppManagerError),
        (TransportError, WhatsAppManagerError),
        (ConnectionFailed, TransportError),
        (ConnectionFailed, ConnectionError),
        (RequestTimeout, TransportError),
        (RequestTimeout, TimeoutError),
        (ValidationError, WhatsAppManagerError),
        (ValidationError, ValueError),
        (ClientClosed, WhatsAppManagerError),
        (ClientClosed, RuntimeError),
        (DeploymentFailed, WhatsAppManagerError),
        (DeploymentDeleted, WhatsAppManagerError),
        (WatchTimeout, WhatsAppManagerError),
        (WatchTimeout, TimeoutError),
    ],
)
def test_exception_tree(cls: type[Exception], parent: type[Exception]) -> None:
    """Each exception sits where DESIGN.md draws it (and builtin bases where promised)."""
    assert issubclass(cls, parent)


def test_api_errors_are_not_transport_errors() -> None:
    """The API-answered branch and the no-answer branch do not overlap."""
    assert not issubclass(ServerError, TransportError)
    assert not issubclass(RequestTimeout, APIError)


@pytest.mark.parametrize(
    ("status", "type_", "expected"),
    [
        (400, WP + "invalid-json", InvalidJSON),
        (401, GEN + "unauthorized", Unauthorized),
        (403, GEN + "forbidden", Forbidden),
        (404, GEN + "not-found", NotFound),
        (409, WP + "number-in-use", NumberInUse),
        (409, WP + "conflict-deployment-state", StateConflict),
        (409, WP + "conflict-resend-otp", ResendConflict),
        (409, WP + "something-new", Conflict),
        (409, None, Conflict),
        (422, WP + "unprocessable", Unprocessable),
        (422, WP + "verification-failed", VerificationFailed),
        (422, WP + "unprocessable-profile-update", InvalidParameters),
        (429, WP + "throttled", Throttled),
        (429, None, Throttled),
        (500, None, ServerError),
        (503, WP + "throttled", ServerError),  # a fragment of another family does not win
        (409, WP + "verification-failed", Conflict),
        (422, WP + "number-in-use", Unprocessable),
        (404, WP + "invalid-json", NotFound),
        (418, None, APIError),
        (410, GEN + "not-found", NotFound),  # a status with no class of its own: fragment
        (599, None, ServerError),
    ],
)
def test_class_by_status_then_fragment(status: int, type_: str | None, expected: type) -> None:
    """The type fragment picks the subclass only within the class its status names."""
    data: dict[str, Any] = {"title": "t"}
    if type_ is not None:
        data["type"] = type_
    assert type(error_from_response(status, data)) is expected


@pytest.mark.parametrize("data", [None, [], "text", 5, {"type": ["x"]}])
def test_unreadable_bodies_map_by_status(data: Any) -> None:
    """A body that is not a problem object still yields the status's class."""
    error = error_from_response(422, data, body="raw")
    assert type(error) is Unprocessable
    assert error.body == "raw"


def test_problem_fields_are_exposed() -> None:
    """type, title, detail, instance and invalid_parameters come from the problem body."""
    error = error_from_response(
        422,
        {
            "type": WP + "verification-failed",
            "title": "Verification Failed",
            "detail": "Invalid code provided.",
            "instance": "bf0ca0bf927b3b52e3cb03217e1a1ddf",
            "invalid_parameters": [{"name": "code", "reason": "Invalid code provided."}],
            "extra": {"ignored": True},
        },
        method="POST",
        path="/deployments/x/verify",
        headers={"X-Request-Id": "r1"},
    )
    assert isinstance(error, VerificationFailed)
    assert error.status == 422
    assert error.type == WP + "verification-failed"
    assert error.title == "Verification Failed"
    assert error.detail == "Invalid code provided."
    assert error.instance == "bf0ca0bf927b3b52e3cb03217e1a1ddf"
    assert [(p.name, p.reason) for p in error.invalid_parameters] == [
        ("code", "Invalid code provided.")
    ]
    assert error.headers == {"X-Request-Id": "r1"}
    assert str(error) == (
        "POST /deployments/x/verify -> 422 Verification Failed; Invalid code provided.; "
        "code: Invalid code provided.; instance=bf0ca0bf927b3b52e3cb03217e1a1ddf"
    )


def test_wrongly_typed_fields_keep_the_readable_ones() -> None:
    """A problem with one badly typed field keeps its string fields."""
    error = error_from_response(
        404, {"type": GEN + "not-found", "title": "Not Found", "invalid_parameters": "oops"}
    )
    assert type(error) is NotFound
    assert (error.type, error.title) == (GEN + "not-found", "Not Found")
    assert error.invalid_parameters == ()


def test_message_without_title_names_the_class() -> None:
    """An error without a title says its status and class name."""
    assert str(error_from_response(503, None)) == "503 ServerError"


def test_throttled_carries_retry_after_only_when_given() -> None:
    """Throttled.retry_after is the Retry-After seconds, or None."""
    with_wait = error_from_response(429, None, retry_after=12.0)
    without = error_from_response(429, None)
    assert isinstance(with_wait, Throttled)
    assert isinstance(without, Throttled)
    assert with_wait.retry_after == 12.0
    assert without.retry_after is None


@pytest.mark.parametrize(
    ("detail", "expected"),
    [
        (
            "Active deployment already exists with id 21801df5-a3f6-4bd6-8b66-5bde51a909c7",
            "21801df5-a3f6-4bd6-8b66-5bde51a909c7",
        ),
        (
            "Active deployment already exists with id AAAAAAAA-BBBB-CCCC-DDDD-0123456789AB.",
            "AAAAAAAA-BBBB-CCCC-DDDD-0123456789AB",
        ),
        ("Active deployment already exists", None),
        ("id 1234", None),
        (None, None),
    ],
)
def test_number_in_use_parses_the_existing_id(detail: str | None, expected: str | None) -> None:
    """existing_deployment_id is the uuid in the detail, or None."""
    error = error_from_response(409, {"type": WP + "number-in-use", "detail": detail})
    assert isinstance(error, NumberInUse)
    assert error.existing_deployment_id == expected


def test_validation_error_lists_every_field() -> None:
    """ValidationError keeps every (field, reason) and names them all in its message."""
    error = ValidationError([("a", "is required"), ("b", "too long")], model="Thing")
    assert error.errors == (("a", "is required"), ("b", "too long"))
    assert error.fields == ("a", "b")
    assert str(error) == "invalid Thing: a: is required; b: too long"
    assert str(ValidationError([("x", "bad")])) == "invalid input: x: bad"


def test_unexpected_response_keeps_status_and_body() -> None:
    """UnexpectedResponse carries the status and body it was raised for."""
    error = UnexpectedResponse("bad", status=202, body="<html>")
    assert (error.status, error.body, str(error)) == (202, "<html>", "bad")


def test_deployment_failed_names_the_reason() -> None:
    """DeploymentFailed carries the snapshot and its current_state.detail."""
    deployment = Deployment(
        "dep-1", current_state=CurrentState(DeploymentState.ERROR, "Invalid vname certificate")
    )
    error = DeploymentFailed(deployment)
    assert (error.deployment_id, error.detail, error.deployment) == (
        "dep-1",
        "Invalid vname certificate",
        deployment,
    )
    assert str(error) == "deployment dep-1 failed: Invalid vname certificate"
    assert "no detail given" in str(DeploymentFailed(Deployment("dep-2")))


def test_deployment_deleted_and_watch_timeout() -> None:
    """DeploymentDeleted and WatchTimeout carry the deployment id (and last state)."""
    deleted = DeploymentDeleted("dep-1")
    assert (deleted.deployment_id, deleted.deployment, str(deleted)) == (
        "dep-1",
        None,
        "deployment dep-1 was deleted",
    )
    timeout = WatchTimeout("gave up", deployment_id="dep-1", state=DeploymentState.CODE_SENT)
    assert (timeout.deployment_id, timeout.state, str(timeout)) == (
        "dep-1",
        DeploymentState.CODE_SENT,
        "gave up",
    )


def test_module_docstring_draws_the_tree() -> None:
    """The errors module opens with a drawing naming every exception class it defines."""
    import wamanager._errors as errors_module

    doc = errors_module.__doc__ or ""
    classes = [
        name
        for name, value in vars(errors_module).items()
        if isinstance(value, type) and issubclass(value, Exception) and not name.startswith("_")
    ]
    assert classes
    for name in classes:
        assert name in doc, f"{name} missing from the exception tree drawing"
