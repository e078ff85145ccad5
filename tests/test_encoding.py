"""What goes on the wire: path parameters percent-encoded or refused, bodies encoded or
refused before sending, response bodies read within the cap."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import pytest

from wamanager import UnexpectedResponse, ValidationError, WhatsAppManager
from wamanager.testing import BASE_PATH, FakeAPI

from ._support import DEP


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        ("has space", "has%20space"),
        ("x=1&y", "x%3D1%26y"),
        ("100%", "100%25"),
        (".hidden", ".hidden"),
        ("émoji-🐥", "%C3%A9moji-%F0%9F%90%A5"),
        ("...", "..."),
        ("a.b~c_d-e", "a.b~c_d-e"),
    ],
)
async def test_path_params_are_percent_encoded(
    value: str, encoded: str, api: FakeAPI, client: WhatsAppManager
) -> None:
    """Every path parameter reaches the server as quote(value, safe=""), decoding back to it."""
    api.reply(200, {"stickers": [{"id": "x"}]})
    await client.stickers.get(value, value, value)
    sent = api.requests[0]
    assert sent.raw_path == (
        f"{BASE_PATH}/deployments/{encoded}/stickerpacks/{encoded}/stickers/{encoded}"
    )
    assert sent.path == f"{BASE_PATH}/deployments/{value}/stickerpacks/{value}/stickers/{value}"


@pytest.mark.parametrize(
    "bad",
    [
        "",
        None,
        5,
        ["x"],
        ".",
        "..",
        "a/b",
        "/",
        "?x",
        "q?x=1",
        "#frag",
        "a\x00b",
        "a\nb",
        "\x7f",
        "\x85",
    ],
)
@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda c, v: c.deployments.get(v), id="get"),
        pytest.param(lambda c, v: c.deployments.delete(v), id="delete"),
        pytest.param(lambda c, v: c.otp.verify(v, "123456"), id="verify"),
        pytest.param(lambda c, v: c.stickerpacks.get(DEP, v), id="pack"),
        pytest.param(lambda c, v: c.stickers.delete(DEP, "p", v), id="sticker"),
    ],
)
async def test_bad_path_param_raises_before_any_request(
    call: Any, bad: Any, api: FakeAPI, client: WhatsAppManager
) -> None:
    """An id that is empty, not a string, a dot segment, or holds / ? # or a control character
    raises ValidationError naming the parameter, and sends nothing.

    ``.`` and ``..`` are not encoded by quote() and would be resolved by servers and proxies
    into another resource's path; the others would change the route once decoded.
    """
    with pytest.raises(ValidationError) as caught:
        await call(client, bad)
    assert len(caught.value.fields) == 1
    assert caught.value.fields[0] in ("deployment_id", "stickerpack_id", "sticker_index")
    if isinstance(bad, str) and len(bad) > 2:
        assert bad not in str(caught.value)  # the value is never quoted back
    assert api.requests == []


async def test_lone_surrogate_id_raises_validation_error(
    api: FakeAPI, client: WhatsAppManager
) -> None:
    """An id holding a lone surrogate (not encodable) is refused, not a UnicodeEncodeError."""
    with pytest.raises(ValidationError) as caught:
        await client.deployments.get("dep-\ud800")
    assert caught.value.fields == ("deployment_id",)
    assert api.requests == []


async def test_body_over_the_cap_is_refused(
    api: FakeAPI, make_client: Callable[..., WhatsAppManager]
) -> None:
    """A body longer than max_response_size raises UnexpectedResponse, not retried."""
    client = make_client(max_response_size=1000)
    api.reply(200, {"deployment_id": DEP, "padding": "x" * 2000})
    with pytest.raises(UnexpectedResponse) as caught:
        await client.deployments.get(DEP)
    assert caught.value.status == 200
    assert "1000-byte cap" in str(caught.value)
    assert len(api.requests) == 1


@pytest.mark.parametrize("gzip_encoded", [False, True], ids=["chunked", "gzip"])
async def test_streamed_body_over_the_cap_is_refused(
    gzip_encoded: bool, api: FakeAPI, make_client: Callable[..., WhatsAppManager]
) -> None:
    """Without a Content-Length, or compressed, the decoded size is counted as it arrives."""
    client = make_client(max_response_size=100_000)
    body = json.dumps({"deployment_id": DEP, "padding": "x" * 300_000}).encode()
    api.stream(body, gzip_encoded=gzip_encoded)
    with pytest.raises(UnexpectedResponse, match="cap"):
        await client.deployments.get(DEP)


@pytest.mark.parametrize("gzip_encoded", [False, True], ids=["chunked", "gzip"])
async def test_streamed_body_within_the_cap_is_read(
    gzip_encoded: bool, api: FakeAPI, client: WhatsAppManager
) -> None:
    """A chunked or gzip body under the cap (10 MiB by default) parses as usual."""
    body = json.dumps({"deployment_id": DEP, "padding": "x" * 300_000}).encode()
    api.stream(body, gzip_encoded=gzip_encoded)
    assert (await client.deployments.get(DEP)).deployment_id == DEP


async def test_unencodable_body_is_a_validation_error_without_the_body(
    api: FakeAPI, client: WhatsAppManager
) -> None:
    """A lone surrogate in a body field raises ValidationError naming the field, never the value."""
    with pytest.raises(ValidationError) as caught:
        await client.otp.verify(DEP, "8531\udc0006")
    error = caught.value
    assert error.fields == ("code",)
    assert "8531" not in str(error)
    assert "8531" not in repr(error.args)
    assert error.__cause__ is None
    assert error.__context__ is None
    assert api.requests == []


@pytest.mark.parametrize(
    ("body", "field"),
    [({"tags": {1, 2}}, "body"), ({"score": math.nan}, "body"), ({"a": ["x", "\udfff"]}, "a[1]")],
)
async def test_a_body_that_is_not_json_is_refused_before_sending(
    body: Any, field: str, api: FakeAPI, client: WhatsAppManager
) -> None:
    """A set, a NaN or a lone surrogate in a request body raises ValidationError, unsent."""
    with pytest.raises(ValidationError) as caught:
        await client.session.request("POST", "/deployments", json_body=body)
    assert caught.value.fields == (field,)
    assert api.requests == []
