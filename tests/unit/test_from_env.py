"""WhatsAppManager.from_env(): credentials and base URL from environment variables."""

from __future__ import annotations

import base64
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from wamanager import DEFAULT_BASE_URL, BasicAuth, JWTAuth, ValidationError, WhatsAppManager


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
