"""Every request the client builds is valid against the (patched) spec, checked by openapi-core.

The real requests are captured by the loopback fake and replayed into openapi-core's request
validator (method, path and path parameters, query, body, security).

Two adaptations of the spec are made before validating, both here in :func:`adapted_spec`:

* The spec's path key ``/deployments/{deployment_id}/stickerpacks?namespace=whatsapp`` puts a
  query in a path, which OpenAPI 3.0 cannot express and openapi-core would treat as a literal
  path that no request matches. The key is removed and the query it stands for is declared
  where it belongs: an optional ``namespace`` query parameter (``enum: [whatsapp]``) of
  ``GET /deployments/{deployment_id}/stickerpacks``. The sticker paths get the same optional
  parameter (Vonage's sticker guide sends it there for first-party packs; DESIGN.md). That the
  first-party request is exactly the odd key's URL is pinned separately, by
  :func:`match_operation`, which reads the spec as written and prefers the key whose query the
  request carries.
* The spec declares ``basicAuth`` but only requires ``bearerAuth``; the API accepts either, so
  the global requirement becomes "bearer or basic". openapi-core then checks the
  ``Authorization`` header's presence and scheme.

openapi-core ignores undeclared query parameters, so :func:`check_query` also fails on any
query parameter the operation does not declare.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest

from wamanager import (
    Auth,
    BasicAuth,
    BearerToken,
    JWTAuth,
    OTPMethod,
    Profile,
    Vertical,
    WhatsAppManager,
)
from wamanager.testing import BASE_PATH, FakeAPI, RecordedRequest

from .._support import (
    API_KEY,
    API_SECRET,
    DEP,
    OPS,
    PACK,
    PATCHED_SPEC_PATH,
    SPEC_PATH,
    deployment_request,
    load_spec,
    resolve,
)

ODD_KEY = "/deployments/{deployment_id}/stickerpacks?namespace=whatsapp"
PACKS_KEY = "/deployments/{deployment_id}/stickerpacks"
STICKER_KEYS = (
    "/deployments/{deployment_id}/stickerpacks/{stickerpack_id}/stickers",
    "/deployments/{deployment_id}/stickerpacks/{stickerpack_id}/stickers/{sticker_index}",
)
SPEC_HOST = "https://api.nexmo.com"
NAMESPACE_PARAM = {
    "in": "query",
    "name": "namespace",
    "required": False,
    "schema": {"type": "string", "enum": ["whatsapp"]},
}


def adapted_spec() -> dict[str, Any]:
    """The patched spec, with the odd query-in-path key and the security rule mended."""
    spec = load_spec(PATCHED_SPEC_PATH)
    odd = spec["paths"].pop(ODD_KEY)
    assert set(odd) == {"get"}, "the odd key gained operations: revisit this adaptation"
    for key in (PACKS_KEY, *STICKER_KEYS):
        spec["paths"][key]["get"].setdefault("parameters", []).append(dict(NAMESPACE_PARAM))
    spec["security"] = [{"bearerAuth": []}, {"basicAuth": []}]
    return spec


def match_operation(spec: dict[str, Any], method: str, path: str, query: dict[str, str]) -> str:
    """The operationId of the spec as written that a request (path after the base) hits.

    A path key may carry a query (``...?namespace=whatsapp``); it matches only requests that
    carry that query, and wins over the same path without one.
    """
    best: tuple[int, str] | None = None
    for key, item in spec["paths"].items():
        template, _, fixed = key.partition("?")
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
        if not re.fullmatch(pattern, path) or method.lower() not in item:
            continue
        wanted = dict(pair.split("=", 1) for pair in fixed.split("&") if pair)
        if any(query.get(k) != v for k, v in wanted.items()):
            continue
        if best is None or len(wanted) > best[0]:
            best = (len(wanted), item[method.lower()]["operationId"])
    assert best is not None, f"no spec operation for {method} {path}"
    return best[1]


def _operation(spec: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    for key, item in spec["paths"].items():
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(key))
        if re.fullmatch(pattern, path) and method.lower() in item:
            operation: dict[str, Any] = item[method.lower()]
            return operation
    raise AssertionError(f"no adapted spec operation for {method} {path}")


def check_query(spec: dict[str, Any], sent: RecordedRequest) -> None:
    """Fail on a query parameter the matched operation does not declare."""
    operation = _operation(spec, sent.method, sent.raw_path.removeprefix(BASE_PATH))
    declared = {
        resolve(spec, p)["name"]
        for p in operation.get("parameters", [])
        if resolve(spec, p)["in"] == "query"
    }
    assert set(sent.query) <= declared, f"undeclared query {set(sent.query) - declared}"


def to_openapi_request(sent: RecordedRequest) -> MockRequest:
    """The captured request as openapi-core sees one, addressed to the spec's server."""
    return MockRequest(
        SPEC_HOST,
        sent.method,
        sent.raw_path,
        args=sent.query,
        headers=sent.headers,
        data=sent.body or None,
        content_type=sent.headers.get("Content-Type", "application/json"),
    )


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    """The adapted patched spec, as a dict."""
    return adapted_spec()


@pytest.fixture(scope="module")
def openapi(spec: dict[str, Any]) -> OpenAPI:
    """openapi-core's view of the adapted spec."""
    return OpenAPI.from_dict(copy.deepcopy(spec))


@pytest.fixture(scope="module")
def pem() -> bytes:
    """A fresh RSA private key, PEM-encoded."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _auth(kind: str, pem: bytes) -> Auth:
    if kind == "basic":
        return BasicAuth(API_KEY, API_SECRET)
    if kind == "jwt":
        return JWTAuth("aaaaaaaa-0000-1111-2222-333333333333", pem)
    return BearerToken("minted-elsewhere")


def validate(openapi: OpenAPI, spec: dict[str, Any], sent: RecordedRequest) -> None:
    """Validate one captured request: openapi-core, then the declared-query check."""
    openapi.validate_request(to_openapi_request(sent))
    check_query(spec, sent)


def test_spec_files_are_inside_the_repository() -> None:
    """The specs are read from the repository's own spec/ folder, never from outside it."""
    root = Path(__file__).resolve().parents[2]
    for path in (SPEC_PATH, PATCHED_SPEC_PATH):
        assert path.resolve().is_relative_to(root)
        assert path.is_file()


def test_adaptation_changes_only_what_it_documents() -> None:
    """The adapted spec differs from the patched one only by the odd key and security."""
    original = load_spec(PATCHED_SPEC_PATH)
    adapted = adapted_spec()
    assert set(original["paths"]) - set(adapted["paths"]) == {ODD_KEY}
    assert set(adapted["paths"]) - set(original["paths"]) == set()
    assert original["security"] == [{"bearerAuth": []}]
    for key in (PACKS_KEY, *STICKER_KEYS):
        assert adapted["paths"][key]["get"]["parameters"][-1] == NAMESPACE_PARAM
        assert (
            adapted["paths"][key]["get"]["parameters"][:-1]
            == (original["paths"][key]["get"]["parameters"])
        )


SPEC_OP_IDS = sorted(op_id for op_id in OPS if op_id != "listDeployments")


@pytest.mark.parametrize("auth_kind", ["basic", "jwt", "bearer"])
@pytest.mark.parametrize("op_id", SPEC_OP_IDS)
async def test_request_is_valid_against_spec(
    op_id: str,
    auth_kind: str,
    api: FakeAPI,
    make_client: Callable[..., WhatsAppManager],
    openapi: OpenAPI,
    spec: dict[str, Any],
    pem: bytes,
) -> None:
    """The request each operation sends validates (method, path, query, body, security)."""
    op = OPS[op_id]
    api.reply(op.status, op.body)
    await op.call(make_client(auth=_auth(auth_kind, pem)))
    (sent,) = api.requests
    validate(openapi, spec, sent)
    path = sent.raw_path.removeprefix(BASE_PATH)
    assert match_operation(load_spec(), sent.method, path, sent.query) == op_id
    scheme = "Basic" if auth_kind == "basic" else "Bearer"
    assert sent.headers["Authorization"].startswith(f"{scheme} ")


VARIANTS = [
    pytest.param(
        lambda c: c.deployments.create(deployment_request(method=OTPMethod.VOICE, pin="123456")),
        202,
        {"deployment_id": DEP},
        id="create-voice-pin",
    ),
    pytest.param(
        lambda c: c.deployments.create(deployment_request()),
        202,
        {"deployment_id": DEP},
        id="create-sms-no-pin",
    ),
    pytest.param(lambda c: c.otp.resend(DEP), 202, {}, id="resend-default-sms"),
    pytest.param(
        lambda c: c.profiles.update(
            DEP,
            Profile(
                about="a" * 139,
                address="b" * 256,
                description="c" * 256,
                email="e" * 64 + "@" + "d" * 59 + ".io",  # 128 characters, well-formed
                vertical=Vertical.NON_PROFIT,
                websites=["https://a.example", "https://b.example/" + "x" * 200],
            ),
        ),
        200,
        {},
        id="profile-every-field-at-limit",
    ),
    pytest.param(
        lambda c: c.profiles.update(DEP, Profile(vertical="Restaurant")),
        200,
        {},
        id="profile-one-field",
    ),
    pytest.param(
        lambda c: c.stickerpacks.create(
            DEP,
            "pub",
            "name",
            ios_app_store_link="https://itunes.apple.com/app/id1",
            android_app_store_link="https://play.google.com/store/apps/details?id=x",
        ),
        200,
        {"stickerpacks": [{"id": PACK}]},
        id="pack-both-links",
    ),
    pytest.param(
        lambda c: c.stickers.create(DEP, PACK, "media-1"),
        200,
        {"stickers": [{"index": "1"}]},
        id="sticker-no-emojis",
    ),
    pytest.param(
        lambda c: c.stickers.list(DEP, "wa-pack", namespace="whatsapp"),
        200,
        {"stickers": []},
        id="stickers-first-party",
    ),
    pytest.param(
        lambda c: c.stickers.get(DEP, "wa-pack", "1", namespace="whatsapp"),
        200,
        {"stickers": [{"id": "1"}]},
        id="sticker-first-party",
    ),
    pytest.param(
        lambda c: c.deployments.get("id with space%"),
        200,
        {"deployment_id": "id with space%"},
        id="encoded-id",
    ),
]


@pytest.mark.parametrize(("call", "status", "body"), VARIANTS)
async def test_request_variants_are_valid_against_spec(
    call: Any,
    status: int,
    body: Any,
    api: FakeAPI,
    client: WhatsAppManager,
    openapi: OpenAPI,
    spec: dict[str, Any],
) -> None:
    """Optional fields, enum values, limits and first-party queries all stay within the spec."""
    api.reply(status, body)
    await call(client)
    (sent,) = api.requests
    validate(openapi, spec, sent)


async def test_first_party_packs_request_is_the_odd_spec_key(
    api: FakeAPI, client: WhatsAppManager
) -> None:
    """The first-party list request's path and query are the spec's odd key, id filled in."""
    api.reply(200, {"stickerpacks": []})
    await client.stickerpacks.list(DEP, namespace="whatsapp")
    (sent,) = api.requests
    url = f"{sent.raw_path.removeprefix(BASE_PATH)}?namespace={sent.query['namespace']}"
    assert url == ODD_KEY.replace("{deployment_id}", DEP)
    assert sent.query == {"namespace": "whatsapp"}


# --- the validator is live: it rejects what it should ----------------------------------


@pytest.fixture
async def valid_create(api: FakeAPI, client: WhatsAppManager) -> RecordedRequest:
    """A captured, valid create-deployment request."""
    api.reply(202, {"deployment_id": DEP})
    await client.deployments.create(deployment_request())
    return api.requests[0]


def _with(sent: RecordedRequest, **changes: Any) -> RecordedRequest:
    fields = {f: getattr(sent, f) for f in ("method", "raw_path", "path", "query", "headers")}
    fields["body"] = sent.body
    fields.update(changes)
    return RecordedRequest(**fields)


def test_validator_rejects_missing_authorization(
    valid_create: RecordedRequest, openapi: OpenAPI, spec: dict[str, Any]
) -> None:
    """A request without an Authorization header fails security validation."""
    headers = {k: v for k, v in valid_create.headers.items() if k != "Authorization"}
    with pytest.raises(Exception, match=r"(?i)secur"):
        validate(openapi, spec, _with(valid_create, headers=headers))


def test_validator_rejects_unknown_auth_scheme(
    valid_create: RecordedRequest, openapi: OpenAPI, spec: dict[str, Any]
) -> None:
    """A request with an Authorization scheme the spec does not declare fails."""
    headers = {**valid_create.headers, "Authorization": "Token abc"}
    with pytest.raises(Exception, match=r"(?i)secur"):
        validate(openapi, spec, _with(valid_create, headers=headers))


@pytest.mark.parametrize(
    "body",
    [
        b'{"country_code": "44", "number": "1", "vname_certificate": "c", "waba_id": "w",'
        b' "method": "fax"}',
        b'{"country_code": "44", "number": "1", "method": "sms"}',
    ],
    ids=["bad-enum", "missing-required"],
)
def test_validator_rejects_bad_bodies(
    body: bytes, valid_create: RecordedRequest, openapi: OpenAPI, spec: dict[str, Any]
) -> None:
    """A body outside the schema (bad enum, missing required field) fails validation."""
    with pytest.raises(Exception, match=r"(?i)body"):
        validate(openapi, spec, _with(valid_create, body=body))


def test_validator_rejects_unknown_path(
    valid_create: RecordedRequest, openapi: OpenAPI, spec: dict[str, Any]
) -> None:
    """A path the spec does not have fails."""
    with pytest.raises(Exception, match=r"(?i)path"):
        openapi.validate_request(
            to_openapi_request(_with(valid_create, raw_path=BASE_PATH + "/deploymentz"))
        )


def test_query_check_rejects_undeclared_query(
    valid_create: RecordedRequest, spec: dict[str, Any]
) -> None:
    """A query parameter the operation does not declare fails the query check."""
    with pytest.raises(AssertionError, match="undeclared query"):
        check_query(spec, _with(valid_create, query={"namespace": "whatsapp"}))
