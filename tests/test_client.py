"""WhatsAppManager: built from the environment (``from_env()``), and every method against the
sandbox over real loopback HTTP.

The sandbox tests use the short fixtures (``wam``, ``sandbox``) on a manual clock, so they move
time with ``sandbox.advance(...)`` instead of sleeping.
"""

from __future__ import annotations

import base64
from pathlib import Path

import aiohttp
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from wamanager import (
    DEFAULT_BASE_URL,
    BasicAuth,
    BearerToken,
    Conflict,
    DeploymentRequest,
    DeploymentState,
    Forbidden,
    InvalidJSON,
    JWTAuth,
    NotFound,
    NumberInUse,
    Profile,
    ResendConflict,
    StateConflict,
    Throttled,
    Unauthorized,
    ValidationError,
    VerificationFailed,
    WhatsAppManager,
)
from wamanager.sandbox import (
    Account,
    ManualClock,
    SandboxConfig,
    SandboxHandle,
    Scenario,
    generate_application,
    run_sandbox,
)
from wamanager.testing import SleepRecorder, sandbox_client


@pytest.fixture(scope="module")
def pem() -> str:
    """An RSA private key, PEM text."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def claims(wam: WhatsAppManager) -> dict[str, object]:
    """The claims of the JWT the client would send."""
    header = wam.session.auth.authorization()
    assert header.startswith("Bearer ")
    decoded: dict[str, object] = jwt.decode(
        header.removeprefix("Bearer "), options={"verify_signature": False}
    )
    return decoded


def test_jwt_from_a_key_file(pem: str, tmp_path: Path) -> None:
    """VONAGE_APPLICATION_ID and VONAGE_PRIVATE_KEY as a path give JWT auth."""
    path = tmp_path / "app.key"
    path.write_text(pem)
    wam = WhatsAppManager.from_env(
        {"VONAGE_APPLICATION_ID": "app-1", "VONAGE_PRIVATE_KEY": str(path)}
    )
    assert isinstance(wam.session.auth, JWTAuth)
    assert claims(wam)["application_id"] == "app-1"
    assert wam.base_url == DEFAULT_BASE_URL


@pytest.mark.parametrize("escaped", [False, True], ids=["pem", "pem-with-escaped-newlines"])
def test_jwt_from_the_pem_text(pem: str, escaped: bool) -> None:
    """VONAGE_PRIVATE_KEY may be the PEM itself, also on one line with '\\n' escapes."""
    value = pem.replace("\n", "\\n") if escaped else pem
    wam = WhatsAppManager.from_env({"VONAGE_APPLICATION_ID": "app-1", "VONAGE_PRIVATE_KEY": value})
    assert claims(wam)["application_id"] == "app-1"


def test_basic_from_key_and_secret() -> None:
    """VONAGE_API_KEY and VONAGE_API_SECRET give basic auth."""
    wam = WhatsAppManager.from_env({"VONAGE_API_KEY": "key", "VONAGE_API_SECRET": "secret"})
    assert isinstance(wam.session.auth, BasicAuth)
    expected = base64.b64encode(b"key:secret").decode()
    assert wam.session.auth.authorization() == f"Basic {expected}"


def test_jwt_wins_when_both_pairs_are_set(pem: str) -> None:
    """With both pairs set the client signs JWTs (the spec applies bearerAuth only)."""
    wam = WhatsAppManager.from_env(
        {
            "VONAGE_APPLICATION_ID": "app-1",
            "VONAGE_PRIVATE_KEY": pem,
            "VONAGE_API_KEY": "key",
            "VONAGE_API_SECRET": "secret",
        }
    )
    assert isinstance(wam.session.auth, JWTAuth)


@pytest.mark.parametrize(
    ("environ", "fields"),
    [
        ({}, ("credentials",)),
        ({"VONAGE_APPLICATION_ID": "", "VONAGE_API_KEY": "  "}, ("credentials",)),
        ({"VONAGE_APPLICATION_ID": "app-1"}, ("VONAGE_PRIVATE_KEY",)),
        (
            {"VONAGE_PRIVATE_KEY": "/k", "VONAGE_API_KEY": "k", "VONAGE_API_SECRET": "s"},
            ("VONAGE_APPLICATION_ID",),
        ),
        ({"VONAGE_API_KEY": "key"}, ("VONAGE_API_SECRET",)),
        ({"VONAGE_API_SECRET": "secret"}, ("VONAGE_API_KEY",)),
    ],
    ids=["none", "empty-values", "app-id-only", "key-only-beside-basic", "api-key", "secret"],
)
def test_missing_or_half_set_credentials_are_named(
    environ: dict[str, str], fields: tuple[str, ...]
) -> None:
    """A ValidationError names what is missing; a half-set JWT pair is an error, not basic."""
    with pytest.raises(ValidationError) as raised:
        WhatsAppManager.from_env(environ)
    assert raised.value.fields == fields
    assert raised.value.model == "environment"


def test_none_set_lists_both_ways() -> None:
    """With nothing set the message names all four variables."""
    with pytest.raises(ValidationError) as raised:
        WhatsAppManager.from_env({})
    for name in (
        "VONAGE_APPLICATION_ID",
        "VONAGE_PRIVATE_KEY",
        "VONAGE_API_KEY",
        "VONAGE_API_SECRET",
    ):
        assert name in str(raised.value)


def test_an_unreadable_key_names_the_variable_and_never_its_value() -> None:
    """A key that is no PEM and no file is reported under VONAGE_PRIVATE_KEY, unquoted."""
    with pytest.raises(ValidationError) as raised:
        WhatsAppManager.from_env(
            {"VONAGE_APPLICATION_ID": "app-1", "VONAGE_PRIVATE_KEY": "MIIEsecret-material"}
        )
    assert raised.value.fields == ("VONAGE_PRIVATE_KEY",)
    assert "secret-material" not in str(raised.value)
    assert raised.value.__cause__ is None


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        (
            {"VONAGE_APPLICATION_ID": "app-1\n", "VONAGE_PRIVATE_KEY": "pem"},
            "VONAGE_APPLICATION_ID",
        ),
        ({"VONAGE_API_KEY": "key:1", "VONAGE_API_SECRET": "secret"}, "VONAGE_API_KEY"),
        ({"VONAGE_API_KEY": "key", "VONAGE_API_SECRET": "secret\x01"}, "VONAGE_API_SECRET"),
        (
            {"VONAGE_API_KEY": "key", "VONAGE_API_SECRET": "secret", "WAMANAGER_BASE_URL": "x"},
            "WAMANAGER_BASE_URL",
        ),
    ],
    ids=["application-id", "api-key", "api-secret", "base-url"],
)
def test_a_bad_variable_is_named_by_its_name(
    variables: dict[str, str], named: str, pem: str
) -> None:
    """A value the client refuses is reported under the variable it came from (the
    application id was reported as VONAGE_PRIVATE_KEY, the others by argument name)."""
    environ = {name: pem if value == "pem" else value for name, value in variables.items()}
    with pytest.raises(ValidationError) as raised:
        WhatsAppManager.from_env(environ)
    assert raised.value.fields == (named,)


def test_base_url_from_the_environment_and_from_kwargs() -> None:
    """WAMANAGER_BASE_URL sets the base URL; an explicit base_url= beats it."""
    environ = {
        "VONAGE_API_KEY": "key",
        "VONAGE_API_SECRET": "secret",
        "WAMANAGER_BASE_URL": "http://127.0.0.1:8080/v0.1/whatsapp-manager",
    }
    assert WhatsAppManager.from_env(environ).base_url == environ["WAMANAGER_BASE_URL"]
    explicit = WhatsAppManager.from_env(environ, base_url="http://127.0.0.1:9/api")
    assert explicit.base_url == "http://127.0.0.1:9/api"


def test_client_kwargs_reach_the_client() -> None:
    """Other keyword arguments go to the constructor."""
    environ = {"VONAGE_API_KEY": "key", "VONAGE_API_SECRET": "secret"}
    wam = WhatsAppManager.from_env(environ, max_retries=0)
    assert wam.session.retry.max_retries == 0


def test_os_environ_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without an argument, the process environment is read."""
    for name in ("VONAGE_APPLICATION_ID", "VONAGE_PRIVATE_KEY", "WAMANAGER_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("VONAGE_API_KEY", "env-key")
    monkeypatch.setenv("VONAGE_API_SECRET", "env-secret")
    wam = WhatsAppManager.from_env()
    assert isinstance(wam.session.auth, BasicAuth)
    assert wam.session.auth.api_key == "env-key"


# --- every method against the sandbox ----------------------------------------------------


@pytest.fixture
def wamanager_sandbox_config() -> SandboxConfig:
    """A sandbox on a manual clock, seeded."""
    return SandboxConfig(clock=ManualClock(), seed=3)


def request(number: str = "7700900000", method: str = "sms") -> DeploymentRequest:
    """A valid deployment request for ``44<number>``."""
    return DeploymentRequest(
        country_code="44", number=number, vname_certificate="cert", waba_id="123", method=method
    )


async def code_sent(
    wam: WhatsAppManager, sandbox: SandboxHandle, number: str = "7700900000"
) -> str:
    """Create a deployment and move it to CODE_SENT; returns its id."""
    dep = await wam.deployments.create(request(number))
    sandbox.advance(130)
    return dep.deployment_id


async def ready(wam: WhatsAppManager, sandbox: SandboxHandle, number: str = "7700900000") -> str:
    """Create a deployment and take it to READY; returns its id."""
    dep_id = await code_sent(wam, sandbox, number)
    message = sandbox.otp(dep_id)
    assert message is not None
    await wam.otp.verify(dep_id, message.code)
    sandbox.advance(35)
    return dep_id


async def test_deployment_lifecycle_to_ready(wam: WhatsAppManager, sandbox: SandboxHandle) -> None:
    """create → CODE_SENT → verify with the inbox code → READY, as get and list report."""
    dep = await wam.deployments.create(request())
    assert dep.state is DeploymentState.INITIALIZING
    sandbox.advance(130)
    assert (await wam.deployments.get(dep.deployment_id)).state is DeploymentState.CODE_SENT
    message = sandbox.otp(dep.deployment_id)
    assert message is not None
    result = await wam.otp.verify(dep.deployment_id, message.code)
    assert result.deployment_id == dep.deployment_id
    sandbox.advance(35)
    listed = await wam.deployments.list()
    assert [(d.deployment_id, d.state) for d in listed] == [
        (dep.deployment_id, DeploymentState.READY)
    ]


async def test_inbox_endpoint_serves_the_code(wam: WhatsAppManager, sandbox: SandboxHandle) -> None:
    """GET /_sandbox/deployments/{id}/otp answers the code with the same credentials."""
    dep_id = await code_sent(wam, sandbox)
    headers = {"Authorization": sandbox.authorization()}
    async with aiohttp.ClientSession() as http:
        async with http.get(sandbox.otp_url(dep_id), headers=headers) as response:
            assert response.status == 200
            body = await response.json()
        async with http.get(sandbox.otp_url(dep_id)) as response:
            assert response.status == 401
    assert body["code"] == sandbox.otp(dep_id).code  # type: ignore[union-attr]
    assert body["method"] == "sms"


async def test_resend_sends_a_new_code_by_the_new_method(
    wam: WhatsAppManager, sandbox: SandboxHandle
) -> None:
    """resend answers 202 with the method; the inbox then holds the new code."""
    dep_id = await code_sent(wam, sandbox)
    sandbox.advance(30)
    result = await wam.otp.resend(dep_id, "voice")
    assert result.method == "voice"
    assert sandbox.otp(dep_id).method == "voice"  # type: ignore[union-attr]


async def test_resend_too_soon_is_throttled(sandbox: SandboxHandle) -> None:
    """A resend within the cooldown raises Throttled with retry_after (no retries)."""
    async with sandbox_client(sandbox, max_retries=0) as wam:
        dep_id = await code_sent(wam, sandbox)
        with pytest.raises(Throttled) as caught:
            await wam.otp.resend(dep_id)
    assert 30 <= caught.value.retry_after <= 33  # the cool-down, jittered by up to 10%


async def test_resend_in_wrong_state_is_a_conflict(
    wam: WhatsAppManager, sandbox: SandboxHandle
) -> None:
    """resend before CODE_SENT raises ResendConflict."""
    dep = await wam.deployments.create(request())
    with pytest.raises(ResendConflict):
        await wam.otp.resend(dep.deployment_id)


async def test_wrong_codes_then_error(wam: WhatsAppManager, sandbox: SandboxHandle) -> None:
    """Wrong codes raise VerificationFailed naming `code`; the third moves to ERROR."""
    dep_id = await code_sent(wam, sandbox)
    for _ in range(3):
        with pytest.raises(VerificationFailed) as caught:
            await wam.otp.verify(dep_id, "not-it")
        assert [p.name for p in caught.value.invalid_parameters] == ["code"]
    dep = await wam.deployments.get(dep_id)
    assert dep.state is DeploymentState.ERROR


async def test_verify_in_wrong_state_fails(wam: WhatsAppManager, sandbox: SandboxHandle) -> None:
    """verify before CODE_SENT raises VerificationFailed."""
    dep = await wam.deployments.create(request())
    with pytest.raises(VerificationFailed, match="INITIALIZING"):
        await wam.otp.verify(dep.deployment_id, "123456")


async def test_number_in_use(wam: WhatsAppManager) -> None:
    """A second create for an active number raises NumberInUse with the existing id."""
    dep = await wam.deployments.create(request())
    with pytest.raises(NumberInUse) as caught:
        await wam.deployments.create(request())
    assert caught.value.existing_deployment_id == dep.deployment_id


async def test_delete_then_conflict(wam: WhatsAppManager, sandbox: SandboxHandle) -> None:
    """delete answers 204 → DELETING → DELETED; deleting again raises StateConflict."""
    dep = await wam.deployments.create(request())
    await wam.deployments.delete(dep.deployment_id)
    assert (await wam.deployments.get(dep.deployment_id)).state is DeploymentState.DELETING
    with pytest.raises(StateConflict):
        await wam.deployments.delete(dep.deployment_id)
    sandbox.advance(5)
    assert (await wam.deployments.get(dep.deployment_id)).state is DeploymentState.DELETED


async def test_unknown_deployment_is_not_found(wam: WhatsAppManager) -> None:
    """get, delete, verify, resend and profile on an unknown id raise NotFound."""
    for call in (
        wam.deployments.get("nope"),
        wam.deployments.delete("nope"),
        wam.otp.verify("nope", "1"),
        wam.otp.resend("nope"),
        wam.profiles.get("nope"),
    ):
        with pytest.raises(NotFound):
            await call


async def test_profile_photo_and_stickers(wam: WhatsAppManager, sandbox: SandboxHandle) -> None:
    """Profile, photo, sticker pack and sticker calls all work on a READY deployment."""
    dep_id = await ready(wam, sandbox)
    updated = await wam.profiles.update(dep_id, Profile(about="Hi", websites=["https://x.io"]))
    assert updated.about == "Hi"
    assert (await wam.profiles.get(dep_id)).websites == ("https://x.io",)
    assert (await wam.profiles.get_photo(dep_id)).image_url is None
    await wam.profiles.update_photo(dep_id, "https://example.com/a.png")
    assert (await wam.profiles.get_photo(dep_id)).image_url == "https://example.com/a.png"
    assert await wam.stickerpacks.list(dep_id) == []
    pack = await wam.stickerpacks.create(
        dep_id, "pub", "Pack", ios_app_store_link="https://itunes.apple.com/app/id1"
    )
    assert [p.id for p in await wam.stickerpacks.list(dep_id)] == [pack.id]
    details = await wam.stickerpacks.get(dep_id, pack.id)
    assert (details.name, details.publisher) == ("Pack", "pub")
    ref = await wam.stickers.create(dep_id, pack.id, "media-1", ["🐥", "😃"])
    assert [s.index for s in await wam.stickers.list(dep_id, pack.id)] == [ref.index]
    sticker = await wam.stickers.get(dep_id, pack.id, ref.index)
    assert sticker.emojis == ("🐥", "😃")
    deleted = await wam.stickers.delete(dep_id, pack.id, ref.index)
    assert deleted is not None
    assert deleted.image_data_id == "media-1"
    assert await wam.stickers.list(dep_id, pack.id) == []
    with pytest.raises(NotFound):
        await wam.stickers.get(dep_id, pack.id, ref.index)
    with pytest.raises(NotFound):
        await wam.stickerpacks.get(dep_id, "no-such-pack")


async def test_first_party_stickerpacks(wam: WhatsAppManager, sandbox: SandboxHandle) -> None:
    """namespace="whatsapp" lists WhatsApp's packs and reads their stickers."""
    dep_id = await ready(wam, sandbox)
    packs = await wam.stickerpacks.list(dep_id, namespace="whatsapp")
    assert packs
    stickers = await wam.stickers.list(dep_id, packs[0].id, namespace="whatsapp")
    sticker = await wam.stickers.get(dep_id, packs[0].id, stickers[0].index, namespace="whatsapp")
    assert sticker.emojis


async def test_profile_calls_need_ready(wam: WhatsAppManager, sandbox: SandboxHandle) -> None:
    """Profile, photo and sticker calls before READY raise NotFound naming the state."""
    dep_id = await code_sent(wam, sandbox)
    with pytest.raises(NotFound, match="CODE_SENT"):
        await wam.profiles.get(dep_id)
    with pytest.raises(NotFound, match="READY"):
        await wam.stickerpacks.list(dep_id)


async def test_photo_that_is_not_an_image_is_unprocessable(
    wam: WhatsAppManager, sandbox: SandboxHandle
) -> None:
    """A photo URL that is not an http(s) .png/.jpg → 422 #unprocessable (client bypassed)."""
    dep_id = await ready(wam, sandbox)
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{sandbox.base_url}/deployments/{dep_id}/profile/photo",
            json={"image_url": "ftp://example.com/a.png"},
            headers={"Authorization": sandbox.authorization()},
        ) as response,
    ):
        assert response.status == 422
        assert (await response.json())["type"].endswith("#unprocessable")


async def _raw(
    sandbox: SandboxHandle, method: str, path: str, data: str | None = None
) -> tuple[int, dict[str, object]]:
    async with (
        aiohttp.ClientSession() as http,
        http.request(
            method,
            sandbox.base_url + path,
            data=data,
            headers={"Authorization": sandbox.authorization(), "Content-Type": "application/json"},
        ) as response,
    ):
        return response.status, await response.json()


@pytest.mark.parametrize(
    ("path", "body", "status", "fragment", "fields"),
    [
        ("/deployments", "{not json", 400, "invalid-json", []),
        ("/deployments", "[]", 400, "invalid-json", []),
        (
            "/deployments",
            '{"country_code": "44", "number": "1", "vname_certificate": "c", "waba_id": "1"}',
            422,
            "unprocessable",
            ["method"],
        ),
        (
            "/deployments",
            '{"country_code": 44, "number": "1", "vname_certificate": "c", "waba_id": "1", '
            '"method": "fax"}',
            422,
            "unprocessable",
            ["country_code", "method"],
        ),
    ],
)
async def test_create_validation_follows_the_spec(
    sandbox: SandboxHandle,
    path: str,
    body: str,
    status: int,
    fragment: str,
    fields: list[str],
) -> None:
    """Malformed JSON → 400 invalid-json; missing/invalid fields → 422 with invalid_parameters."""
    got, problem = await _raw(sandbox, "POST", path, body)
    assert got == status
    assert str(problem["type"]).endswith("#" + fragment)
    assert {"type", "title", "detail", "instance"} <= problem.keys()
    params = problem.get("invalid_parameters", [])
    assert [p["name"] for p in params] == fields  # type: ignore[index,union-attr]


async def test_body_validation_on_ready_deployment(
    wam: WhatsAppManager, sandbox: SandboxHandle
) -> None:
    """Bad profile → 422 profile-update; bad resend/pack/sticker bodies → 400; bad JSON → 400."""
    dep_id = await ready(wam, sandbox)
    base = f"/deployments/{dep_id}"
    cases = [
        ("PATCH", "/profile", '{"about": ""}', 422, "unprocessable-profile-update"),
        ("PATCH", "/profile", '{"vertical": "Space"}', 422, "unprocessable-profile-update"),
        ("PATCH", "/profile", '{"websites": ["a", "b", "c"]}', 422, "unprocessable-profile-update"),
        ("PATCH", "/profile", "{", 400, "invalid-json"),
        ("POST", "/profile/photo", "{}", 422, "unprocessable"),
        ("POST", "/resend-otp", '{"method": "fax"}', 400, "invalid-json"),
        ("POST", "/verify", "{}", 422, "verification-failed"),
        ("POST", "/stickerpacks", '{"name": "n"}', 400, "invalid-json"),
    ]
    for method, path, body, status, fragment in cases:
        got, problem = await _raw(sandbox, method, base + path, body)
        assert (got, str(problem["type"]).rpartition("#")[2]) == (status, fragment), path
    pack = await wam.stickerpacks.create(dep_id, "p", "n")
    got, problem = await _raw(sandbox, "POST", f"{base}/stickerpacks/{pack.id}/stickers", "{}")
    assert got == 400


async def test_jwt_auth(wam: WhatsAppManager) -> None:
    """JWTs signed with the default application's key are accepted."""
    dep = await wam.deployments.create(request())
    assert dep.api_key == "sandbox-key"


@pytest.mark.parametrize(
    "auth",
    [
        BasicAuth("sandbox-key", "wrong"),
        BasicAuth("nobody", "sandbox-secret"),
        BearerToken("not-a-jwt"),
    ],
)
async def test_bad_credentials_are_unauthorized(sandbox: SandboxHandle, auth: object) -> None:
    """Wrong secrets, unknown keys and garbage tokens raise Unauthorized."""
    async with sandbox_client(sandbox, auth=auth) as wam:
        with pytest.raises(Unauthorized):
            await wam.deployments.list()


async def test_jwt_checks_signature_expiry_and_application(sandbox: SandboxHandle) -> None:
    """A JWT from another key, an expired JWT or an unknown application_id → Unauthorized."""
    _, other_key = generate_application()
    expired = JWTAuth(sandbox.application_id, sandbox.private_key_pem or "", clock=lambda: 1e9)
    for auth in (
        JWTAuth(sandbox.application_id, other_key),
        expired,
        JWTAuth("unknown-app", sandbox.private_key_pem or ""),
    ):
        async with sandbox_client(sandbox, auth=auth) as wam:
            with pytest.raises(Unauthorized):
                await wam.deployments.list()


async def test_tenant_isolation_and_forbidden_accounts() -> None:
    """Another account gets 404 for my deployment; a forbidden account gets 403 on create."""
    app, private = generate_application("app-b", api_key="b")
    config = SandboxConfig(
        accounts=(Account("a", "sa"), Account("b", "sb"), Account("c", "sc", forbidden=True)),
        applications=(app,),
        basic_auth=True,  # accounts a and c use Basic, b a JWT
        clock=ManualClock(),
    )
    async with (
        run_sandbox(config) as sandbox,
        sandbox_client(sandbox, auth=BasicAuth("a", "sa")) as a,
        sandbox_client(sandbox, auth=JWTAuth("app-b", private)) as b,
        sandbox_client(sandbox, auth=BasicAuth("c", "sc")) as c,
    ):
        dep = await a.deployments.create(request())
        with pytest.raises(NotFound):
            await b.deployments.get(dep.deployment_id)
        with pytest.raises(NotFound):
            await b.deployments.delete(dep.deployment_id)
        assert await b.deployments.list() == []
        with pytest.raises(Forbidden):
            await c.deployments.create(request("7700900001"))


async def test_rate_limit_answers_429_then_retries_succeed() -> None:
    """Over the per-account rate limit: 429 + Retry-After; a retrying client gets through."""
    config = SandboxConfig(clock=ManualClock(), rate_limit=1.0, rate_burst=2)
    async with run_sandbox(config) as sandbox:
        async with sandbox_client(sandbox, throttle_budget=0) as wam:
            await wam.deployments.list()
            await wam.deployments.list()
            with pytest.raises(Throttled) as caught:
                await wam.deployments.list()
            assert 1 <= caught.value.retry_after <= 1.1  # Retry-After, jittered up to 10%
            assert caught.value.headers["Retry-After"] == "1"
        sleep = SleepRecorder(on_sleep=lambda s: sandbox.advance(s * sandbox.clock.speed))
        async with sandbox_client(sandbox, max_retries=0, sleep=sleep) as wam:
            assert await wam.deployments.list() == []
        # the client waited about Retry-After (real seconds) before its successful retry
        assert sleep.delays
        assert all(0.9 <= delay <= 1.1 for delay in sleep.delays)


async def test_scenario_over_http() -> None:
    """A scenario number fails to ERROR with its detail; others are unaffected."""
    config = SandboxConfig(
        clock=ManualClock(),
        scenarios=(Scenario("447700900666", fail_at=DeploymentState.CREATING_CLUSTER),),
    )
    async with run_sandbox(config) as sandbox, sandbox_client(sandbox) as wam:
        bad = await wam.deployments.create(request("7700900666"))
        good = await wam.deployments.create(request("7700900667"))
        sandbox.advance(200)
        failed = await wam.deployments.get(bad.deployment_id)
        assert (failed.state, failed.detail) == (DeploymentState.ERROR, "Invalid vname certificate")
        assert (await wam.deployments.get(good.deployment_id)).state is DeploymentState.CODE_SENT


async def test_conflict_is_a_base_class(wam: WhatsAppManager) -> None:
    """NumberInUse is also a Conflict and InvalidJSON is distinct from it."""
    await wam.deployments.create(request())
    with pytest.raises(Conflict):
        await wam.deployments.create(request())
    assert not issubclass(InvalidJSON, Conflict)
