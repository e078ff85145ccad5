"""Credentials: the Authorization header of each kind, JWT claims and caching, key loading."""

from __future__ import annotations

import base64
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from wamanager import Auth, BasicAuth, BearerToken, JWTAuth, ValidationError

APP_ID = "aaaaaaaa-0000-1111-2222-333333333333"


def _pem(key: Any) -> bytes:
    pem: bytes = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return pem


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    """One RSA key for the module (generating keys is slow)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def pem(rsa_key: rsa.RSAPrivateKey) -> bytes:
    """That key as PEM bytes."""
    return _pem(rsa_key)


class FakeClock:
    """A settable wall clock."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _decode(token: str, key: rsa.RSAPrivateKey) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(
        token,
        key.public_key(),
        algorithms=["RS256"],
        options={"verify_exp": False, "verify_iat": False},
    )
    return claims


# --- basic and bearer --------------------------------------------------------------------


def test_basic_auth_header_is_base64_of_key_and_secret() -> None:
    """BasicAuth yields "Basic base64(key:secret)"."""
    header = BasicAuth("abcd1234", "s3cr3t:with-colon").authorization()
    scheme, _, encoded = header.partition(" ")
    assert scheme == "Basic"
    assert base64.b64decode(encoded).decode() == "abcd1234:s3cr3t:with-colon"


def test_bearer_token_is_sent_unchanged() -> None:
    """BearerToken yields "Bearer <token>" for the token it was given."""
    assert BearerToken("tok-123").authorization() == "Bearer tok-123"


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: BasicAuth("", "secret"), "api_key"),
        (lambda: BasicAuth("key", "  "), "api_secret"),
        (lambda: BasicAuth("key", None), "api_secret"),
        (lambda: BearerToken(""), "token"),
    ],
    ids=["empty-key", "blank-secret", "none-secret", "empty-token"],
)
def test_empty_credentials_are_rejected(make: Any, field: str) -> None:
    """An empty or missing credential raises ValidationError naming the field."""
    with pytest.raises(ValidationError) as caught:
        make()
    assert caught.value.fields == (field,)


def test_every_auth_kind_satisfies_the_protocol(pem: bytes) -> None:
    """BasicAuth, BearerToken and JWTAuth are all Auth."""
    for auth in (BasicAuth("k", "s"), BearerToken("t"), JWTAuth(APP_ID, pem)):
        assert isinstance(auth, Auth)


# --- JWT ---------------------------------------------------------------------------------


def test_jwt_is_rs256_with_the_documented_claims(pem: bytes, rsa_key: rsa.RSAPrivateKey) -> None:
    """JWTAuth signs RS256 with application_id, iat, exp = iat + ttl and a uuid4 jti."""
    clock = FakeClock(1_700_000_123.7)
    auth = JWTAuth(APP_ID, pem, ttl=600, clock=clock)
    scheme, _, token = auth.authorization().partition(" ")
    assert scheme == "Bearer"
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    claims = _decode(token, rsa_key)
    assert set(claims) == {"application_id", "iat", "exp", "jti"}
    assert claims["application_id"] == APP_ID
    assert claims["iat"] == 1_700_000_123
    assert claims["exp"] == claims["iat"] + 600
    assert uuid.UUID(claims["jti"]).version == 4


def test_jwt_signature_fails_with_another_key(pem: bytes) -> None:
    """The token does not verify against an unrelated public key."""
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = JWTAuth(APP_ID, pem).token()
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, other.public_key(), algorithms=["RS256"])


def test_jwt_is_cached_then_resigned_before_expiry(pem: bytes, rsa_key: rsa.RSAPrivateKey) -> None:
    """The same token is reused until refresh_margin before exp, then a new one is signed."""
    clock = FakeClock(1_000_000.0)
    auth = JWTAuth(APP_ID, pem, ttl=300, refresh_margin=30, clock=clock)
    first = auth.token()
    clock.now += 269
    assert auth.token() == first
    assert auth.authorization() == f"Bearer {first}"
    clock.now += 1  # 270 s: 30 s of life left, the margin
    second = auth.token()
    assert second != first
    old, new = _decode(first, rsa_key), _decode(second, rsa_key)
    assert new["iat"] == old["iat"] + 270
    assert new["jti"] != old["jti"]
    assert auth.token() == second


def test_jwt_default_margin_is_a_fifth_of_ttl_at_most_a_minute(pem: bytes) -> None:
    """Without refresh_margin the margin is min(60, ttl / 5)."""
    assert JWTAuth(APP_ID, pem, ttl=100).refresh_margin == 20
    assert JWTAuth(APP_ID, pem, ttl=3600).refresh_margin == 60


@pytest.mark.parametrize("ttl", [0, 29, -5, 30.5, "900"])
def test_jwt_rejects_a_bad_ttl(ttl: Any, pem: bytes) -> None:
    """ttl must be an int of at least 30 seconds."""
    with pytest.raises(ValidationError) as caught:
        JWTAuth(APP_ID, pem, ttl=ttl)
    assert caught.value.fields == ("ttl",)


@pytest.mark.parametrize("form", ["str", "bytes", "path-str", "pathlib"])
def test_jwt_accepts_pem_text_bytes_and_paths(
    form: str, pem: bytes, rsa_key: rsa.RSAPrivateKey, tmp_path: Path
) -> None:
    """The private key may be PEM text, PEM bytes, or a path (str or pathlib.Path) to a file."""
    key_file = tmp_path / "private.key"
    key_file.write_bytes(pem)
    given: Any = {
        "str": pem.decode(),
        "bytes": pem,
        "path-str": str(key_file),
        "pathlib": key_file,
    }[form]
    token = JWTAuth(APP_ID, given).token()
    assert _decode(token, rsa_key)["application_id"] == APP_ID


def test_jwt_accepts_traditional_openssl_rsa_pem(rsa_key: rsa.RSAPrivateKey) -> None:
    """A "BEGIN RSA PRIVATE KEY" (PKCS#1) file works as well as PKCS#8."""
    pkcs1 = rsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    assert _decode(JWTAuth(APP_ID, pkcs1).token(), rsa_key)["application_id"] == APP_ID


def _secret_lines(pem: bytes) -> list[str]:
    return [line for line in pem.decode().splitlines() if "-----" not in line]


def _assert_rejects_key(given: Any, material: list[str]) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        JWTAuth(APP_ID, given)
    error = caught.value
    assert error.fields == ("private_key",)
    assert "private_key" in str(error)
    texts = [str(error), repr(error), repr(error.errors)]
    for line in material:
        for text in texts:
            assert line not in text
    # No chained exception carries the key's bytes into a traceback.
    assert error.__cause__ is None
    assert error.__context__ is None or error.__suppress_context__
    return error


def test_malformed_pem_is_rejected_without_key_material(pem: bytes) -> None:
    """A corrupted PEM raises ValidationError on private_key quoting none of the key."""
    lines = pem.decode().splitlines()
    lines[3] = lines[3][::-1]
    broken = "\n".join(lines[:2] + lines[3:])
    _assert_rejects_key(broken, _secret_lines(pem))


def test_pem_body_without_header_is_rejected_without_echoing_it(pem: bytes) -> None:
    """Key text without its BEGIN line is taken as a path, and the message does not quote it."""
    body = "".join(_secret_lines(pem))
    _assert_rejects_key(body, [body[:40], *_secret_lines(pem)])


def test_key_material_taken_for_a_path_is_not_kept_as_the_error_s_context(pem: bytes) -> None:
    """The OSError that names key material as a file is not kept as the error's __context__."""
    body = "\n".join(_secret_lines(pem))
    with pytest.raises(ValidationError) as caught:
        JWTAuth(APP_ID, body)
    assert caught.value.__context__ is None


def test_single_pem_line_is_rejected_without_echoing_it(pem: bytes) -> None:
    """One line of a key passed as the key is not quoted back in the error."""
    line = _secret_lines(pem)[5]
    _assert_rejects_key(line, [line])


def test_missing_file_is_rejected_naming_the_path(tmp_path: Path) -> None:
    """A path to no file raises ValidationError on private_key that names the path."""
    missing = tmp_path / "nope.key"
    error = _assert_rejects_key(missing, [])
    assert str(missing) in str(error)


def test_missing_file_as_str_is_rejected(tmp_path: Path) -> None:
    """A str path to no file raises ValidationError on private_key."""
    _assert_rejects_key(str(tmp_path / "nope.key"), [])


def test_file_with_garbage_is_rejected(tmp_path: Path) -> None:
    """A file that is not a PEM key raises ValidationError on private_key."""
    bad = tmp_path / "bad.key"
    bad.write_bytes(b"not a key at all")
    _assert_rejects_key(bad, [])


def test_ec_key_is_rejected_as_not_rsa() -> None:
    """An EC private key raises ValidationError on private_key saying RS256 needs RSA."""
    ec_pem = _pem(ec.generate_private_key(ec.SECP256R1()))
    error = _assert_rejects_key(ec_pem, _secret_lines(ec_pem))
    assert "RSA" in str(error)


def test_public_key_is_rejected(rsa_key: rsa.RSAPrivateKey) -> None:
    """A public key PEM raises ValidationError on private_key."""
    public = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    _assert_rejects_key(public, _secret_lines(public))


def test_encrypted_key_is_rejected(rsa_key: rsa.RSAPrivateKey) -> None:
    """A password-protected key raises ValidationError on private_key (no password option)."""
    encrypted = rsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw"),
    )
    _assert_rejects_key(encrypted, _secret_lines(encrypted))


@pytest.mark.parametrize("given", [None, 12345, ["pem"]], ids=["none", "int", "list"])
def test_wrong_type_of_key_is_rejected(given: Any) -> None:
    """A key that is not text, bytes or a path raises ValidationError on private_key."""
    _assert_rejects_key(given, [])


def test_reprs_hide_secrets(pem: bytes) -> None:
    """repr() of every auth kind shows no secret, token or key."""
    basic = BasicAuth("abcd1234", "the-secret")
    bearer = BearerToken("the-token")
    jwt_auth = JWTAuth(APP_ID, pem)
    token = jwt_auth.token()
    assert "the-secret" not in repr(basic)
    assert "abcd1234" in repr(basic)
    assert "the-token" not in repr(bearer)
    assert token not in repr(jwt_auth)
    assert APP_ID in repr(jwt_auth)
    for line in _secret_lines(pem):
        assert line not in repr(jwt_auth)


# --- what could not be sent in a header ----------------------------------------------------


@pytest.mark.parametrize(
    "token",
    ["abc\r\nX-Injected: 1", "abc def", "tök€n", "abc\ud800", "\x00abc", "abc\n"],
    ids=["crlf", "space", "non-ascii", "surrogate", "nul", "newline"],
)
def test_bearer_token_that_is_not_a_header_value_is_rejected(token: str) -> None:
    """A token with CR/LF, spaces, non-ASCII or a surrogate raises ValidationError, unquoted."""
    with pytest.raises(ValidationError) as caught:
        BearerToken(token)
    assert caught.value.fields == ("token",)
    assert token not in str(caught.value)
    assert token not in repr(caught.value.args)
    assert caught.value.__context__ is None


@pytest.mark.parametrize(
    ("key", "secret", "field"),
    [
        ("key:part", "s3cr3t-Qx7", "api_key"),
        ("key\n", "s3cr3t-Qx7", "api_key"),
        ("key", "s3cr3t-Qx7\n", "api_secret"),
        ("key", "s3cr3t\ud800-Qx7", "api_secret"),
        ("k\ud800", "s3cr3t-Qx7", "api_key"),
    ],
)
def test_basic_credentials_that_cannot_be_sent_are_rejected(
    key: str, secret: str, field: str
) -> None:
    """A key with ':' or a control character, or a secret with a newline or a surrogate,
    raises ValidationError naming the field and never quoting the secret."""
    with pytest.raises(ValidationError) as caught:
        BasicAuth(key, secret)
    assert caught.value.fields == (field,)
    assert secret not in str(caught.value)


@pytest.mark.parametrize("margin", [-1, 900, 1e9, float("nan"), "10", True])
def test_jwt_rejects_a_bad_refresh_margin(margin: Any, pem: bytes) -> None:
    """refresh_margin must be a number of seconds >= 0 and below ttl."""
    with pytest.raises(ValidationError) as caught:
        JWTAuth(APP_ID, pem, ttl=900, refresh_margin=margin)
    assert caught.value.fields == ("refresh_margin",)


def test_jwt_rejects_a_clock_that_is_not_callable(pem: bytes) -> None:
    """clock must be callable."""
    with pytest.raises(ValidationError) as caught:
        JWTAuth(APP_ID, pem, clock=1234)  # type: ignore[arg-type]
    assert caught.value.fields == ("clock",)


def test_jwt_rejects_an_application_id_with_a_line_break(pem: bytes) -> None:
    """An application id with a control character raises ValidationError."""
    with pytest.raises(ValidationError) as caught:
        JWTAuth(APP_ID + "\n", pem)
    assert caught.value.fields == ("application_id",)


def test_pem_text_with_a_lone_surrogate_is_rejected(pem: bytes) -> None:
    """PEM text holding a lone surrogate raises ValidationError, not UnicodeEncodeError."""
    text = pem.decode().replace("-----END", "\ud800-----END")
    with pytest.raises(ValidationError) as caught:
        JWTAuth(APP_ID, text)
    assert caught.value.fields == ("private_key",)


# --- imports -------------------------------------------------------------------------------

_IMPORTS = """
import sys
import wamanager
heavy = sorted(m for m in sys.modules if m == "jwt" or m.split(".")[0] == "cryptography")
print("after import:", heavy)
wamanager.BasicAuth("k", "s")
wamanager.BearerToken("t")
print("after basic:", sorted(m for m in sys.modules if m == "jwt"))
"""


def test_import_wamanager_loads_neither_pyjwt_nor_cryptography() -> None:
    """`import wamanager` (and Basic or bearer auth) never imports jwt or cryptography."""
    result = subprocess.run(  # noqa: S603 - our own interpreter, fixed code
        [sys.executable, "-c", _IMPORTS], capture_output=True, text=True, check=True, timeout=60
    )
    assert "after import: []" in result.stdout
    assert "after basic: []" in result.stdout


def test_jwt_auth_imports_them_when_made(pem: bytes) -> None:
    """JWTAuth imports PyJWT (and with it cryptography) on construction."""
    code = f"import sys, wamanager; wamanager.JWTAuth('app', {pem!r}); print('jwt' in sys.modules)"
    result = subprocess.run(  # noqa: S603 - our own interpreter, fixed code
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "True"
