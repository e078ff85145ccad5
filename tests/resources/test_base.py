"""The request helper every resource method is over: for every operation, the request it
sends, how it parses success, how it maps every error, and what it refuses before sending."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import wamanager
from wamanager import (
    APIError,
    Conflict,
    Forbidden,
    InvalidJSON,
    InvalidParameter,
    InvalidParameters,
    NotFound,
    NumberInUse,
    ResendConflict,
    ServerError,
    StateConflict,
    Throttled,
    Unauthorized,
    UnexpectedResponse,
    Unprocessable,
    VerificationFailed,
    WhatsAppManager,
)
from wamanager.testing import BASE_PATH, FakeAPI

from .._support import DEP, OPS, load_spec, problem_from_schema, spec_operations

SPEC = load_spec()
SPEC_OPS = spec_operations(SPEC)

#: The class each of the spec's error schemas must become.
CLASS_BY_SCHEMA: dict[str, type[APIError]] = {
    "ErrorInvalidJson": InvalidJSON,
    "ErrorUnauthorized": Unauthorized,
    "ErrorForbidden": Forbidden,
    "ErrorNotFound": NotFound,
    "ErrorConflictCreateDeployment": NumberInUse,
    "ErrorStateConflict": StateConflict,
    "ErrorConflictResendOtp": ResendConflict,
    "ErrorVerificationFailed": VerificationFailed,
    "InvalidParametersUpdateProfile": InvalidParameters,
    "ErrorUnprocessable": Unprocessable,
    "ErrorThrottled": Throttled,
}
#: The class a status yields when the body says nothing useful.
CLASS_BY_STATUS: dict[int, type[APIError]] = {
    400: InvalidJSON,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    422: Unprocessable,
    429: Throttled,
    500: ServerError,
    502: ServerError,
    503: ServerError,
    504: ServerError,
}


def _spec_errors() -> list[Any]:
    cases = []
    for op_id, (_, _, operation) in SPEC_OPS.items():
        for status, response in operation["responses"].items():
            if int(status) < 400:
                continue
            schema_ref = response["content"]["application/json"]["schema"]
            schema_name = schema_ref["$ref"].rpartition("/")[2]
            cases.append(pytest.param(op_id, int(status), schema_name, id=f"{op_id}-{status}"))
    return cases


SPEC_ERRORS = _spec_errors()


def test_every_spec_error_schema_has_an_expected_class() -> None:
    """Every error schema the spec references is in the table the mapping tests use."""
    used = {case.values[2] for case in SPEC_ERRORS}
    assert used == set(CLASS_BY_SCHEMA)


@pytest.mark.parametrize("op_id", sorted(OPS))
async def test_operation_sends_request_and_parses_success(
    op_id: str, api: FakeAPI, client: WhatsAppManager
) -> None:
    """Each operation sends its method and path and parses its success body (extra keys too)."""
    op = OPS[op_id]
    api.reply(op.status, op.body)
    result = await op.call(client)
    op.check(result)
    assert len(api.requests) == 1
    sent = api.requests[0]
    assert (sent.method, sent.raw_path) == (op.http_method, BASE_PATH + op.path)
    assert sent.query == op.query
    assert bool(sent.body) is op.sends_body
    if op.sends_body:
        assert sent.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize(("op_id", "status", "schema_name"), SPEC_ERRORS)
async def test_spec_error_maps_to_class(
    op_id: str,
    status: int,
    schema_name: str,
    api: FakeAPI,
    make_client: Callable[..., WhatsAppManager],
) -> None:
    """Each error status the spec names for an operation, with its spec body, maps to its class."""
    body = problem_from_schema(SPEC, {"$ref": f"#/components/schemas/{schema_name}"})
    api.reply(status, body, headers={"Retry-After": "3"} if status == 429 else None)
    client = make_client(max_retries=0)
    with pytest.raises(APIError) as caught:
        await OPS[op_id].call(client)
    error = caught.value
    assert type(error) is CLASS_BY_SCHEMA[schema_name]
    assert error.status == status
    assert (error.type, error.title, error.detail, error.instance) == (
        body["type"],
        body["title"],
        body["detail"],
        body["instance"],
    )
    assert error.invalid_parameters == tuple(
        InvalidParameter(**item) for item in body.get("invalid_parameters", [])
    )
    assert body["detail"] in str(error)
    assert len(api.requests) == 1


@pytest.mark.parametrize("op_id", sorted(OPS))
@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_server_errors_map_to_server_error(
    op_id: str, status: int, api: FakeAPI, make_client: Callable[..., WhatsAppManager]
) -> None:
    """Every operation maps a 5xx to ServerError (retries off)."""
    api.reply(status, {"type": "about:blank", "title": "Internal Server Error"})
    with pytest.raises(ServerError) as caught:
        await OPS[op_id].call(make_client(max_retries=0))
    assert caught.value.status == status


@pytest.mark.parametrize("op_id", sorted(OPS))
async def test_throttled_carries_retry_after(
    op_id: str, api: FakeAPI, make_client: Callable[..., WhatsAppManager]
) -> None:
    """Every operation maps 429 to Throttled with the Retry-After seconds (no throttle budget)."""
    body = problem_from_schema(SPEC, {"$ref": "#/components/schemas/ErrorThrottled"})
    api.reply(429, body, headers={"Retry-After": "7"})
    with pytest.raises(Throttled) as caught:
        await OPS[op_id].call(make_client(throttle_budget=0))
    assert caught.value.retry_after == 7.0
    assert len(api.requests) == 1


BAD_BODIES = [
    pytest.param("<html><body>Bad Gateway</body></html>", "text/html", id="html"),
    pytest.param("", "application/json", id="empty"),
    pytest.param('{"type": "https://x#number-in-use"', "application/json", id="truncated"),
    pytest.param('["not", "an", "object"]', "application/json", id="array"),
    pytest.param(
        '{"type": 5, "title": ["x"], "invalid_parameters": "oops", "detail": "kept"}',
        "application/json",
        id="wrong-types",
    ),
]


@pytest.mark.parametrize(("body", "content_type"), BAD_BODIES)
@pytest.mark.parametrize("status", sorted(CLASS_BY_STATUS))
async def test_unreadable_error_body_still_maps_by_status(
    status: int,
    body: str,
    content_type: str,
    api: FakeAPI,
    make_client: Callable[..., WhatsAppManager],
) -> None:
    """A non-JSON or wrongly shaped error body still yields the class its status names."""
    api.reply(status, text=body, content_type=content_type)
    with pytest.raises(APIError) as caught:
        await OPS["get_deployment"].call(make_client(max_retries=0, throttle_budget=0))
    assert type(caught.value) is CLASS_BY_STATUS[status]
    assert caught.value.body == body
    if "kept" in body:
        assert caught.value.detail == "kept"


async def test_fragment_of_another_status_family_does_not_win(
    api: FakeAPI, make_client: Callable[..., WhatsAppManager]
) -> None:
    """A 500 whose body claims #throttled is still a ServerError, not Throttled."""
    api.reply(500, {"type": "https://x#throttled", "title": "Throttled"})
    with pytest.raises(ServerError) as caught:
        await OPS["get_deployment"].call(make_client(max_retries=0))
    assert not isinstance(caught.value, Throttled)


async def test_unlisted_client_error_is_a_plain_api_error(
    api: FakeAPI, client: WhatsAppManager
) -> None:
    """A 4xx the spec does not name (410) raises APIError itself, with its status."""
    api.reply(410, {"title": "Gone"})
    with pytest.raises(APIError) as caught:
        await client.deployments.get(DEP)
    assert type(caught.value) is APIError
    assert caught.value.status == 410


@pytest.mark.parametrize(
    ("op_id", "body"),
    [
        pytest.param("get_deployment", {"waba_id": "1"}, id="get-missing-id"),
        pytest.param("get_deployment", ["x"], id="get-array"),
        pytest.param("listDeployments", {"deployments": []}, id="list-object"),
        pytest.param("listDeployments", [{"waba_id": "1"}], id="list-item-missing-id"),
        pytest.param("createStickerpacks", {"stickerpacks": []}, id="create-pack-empty"),
        pytest.param("getStickerpacksById", {"stickerpacks": []}, id="get-pack-empty"),
        pytest.param("createStickers", {"stickers": []}, id="create-sticker-empty"),
        pytest.param("getStickerByIndex", {"stickers": "x"}, id="get-sticker-wrong-type"),
    ],
)
async def test_success_with_wrong_shape_raises_unexpected_response(
    op_id: str, body: Any, api: FakeAPI, client: WhatsAppManager
) -> None:
    """A success whose body is not the spec's shape raises UnexpectedResponse, not a crash."""
    op = OPS[op_id]
    api.reply(op.status, body)
    with pytest.raises(UnexpectedResponse):
        await op.call(client)


async def test_success_with_non_json_body_raises_unexpected_response(
    api: FakeAPI, make_client: Callable[..., WhatsAppManager]
) -> None:
    """A 200 whose body is not JSON raises UnexpectedResponse carrying the status and body."""
    api.reply(200, text="<html>proxy</html>", content_type="text/html")
    with pytest.raises(UnexpectedResponse) as caught:
        await make_client(max_retries=0).deployments.get(DEP)
    assert caught.value.status == 200
    assert caught.value.body == "<html>proxy</html>"


async def test_resource_groups_repr_names_base_url(client: WhatsAppManager) -> None:
    """A resource group's repr names its class and the API root (and nothing secret)."""
    assert repr(client.otp) == f"<OTP of {client.base_url}>"


@pytest.mark.parametrize(
    ("op_id", "status"),
    [("createDeployment", 202), ("verify", 201), ("resend-otp", 202), ("getProfileInfo", 200)],
)
async def test_unexpected_response_carries_the_status_received(
    op_id: str, status: int, api: FakeAPI, make_client: Callable[..., WhatsAppManager]
) -> None:
    """A wrongly shaped 201 or 202 raises UnexpectedResponse with that status, not 200."""
    api.reply(status, ["not", "an", "object"])
    with pytest.raises(UnexpectedResponse) as caught:
        await OPS[op_id].call(make_client(max_retries=0))
    assert caught.value.status == status


@pytest.mark.parametrize(
    ("call", "field"),
    [
        pytest.param(lambda c: c.deployments.create({"number": "1"}), "request", id="create"),
        pytest.param(lambda c: c.profiles.update(DEP, {"about": "x"}), "profile", id="profile"),
    ],
)
async def test_wrong_argument_types_raise_validation_error(
    call: Any, field: str, api: FakeAPI, client: WhatsAppManager
) -> None:
    """Passing a dict where a model belongs raises ValidationError naming the argument."""
    with pytest.raises(wamanager.ValidationError) as caught:
        await call(client)
    assert caught.value.fields == (field,)
    assert api.requests == []
