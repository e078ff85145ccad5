"""Credentials as the command gets them: from the environment (both kinds, JWT preferred),
from flags, and the usage errors when they are missing or half-set."""

from __future__ import annotations

from .conftest import CLI, ThreadedSandbox


def test_jwt_from_the_environment(cli: CLI, served: ThreadedSandbox) -> None:
    """VONAGE_APPLICATION_ID and VONAGE_PRIVATE_KEY (a path) sign in with a JWT."""
    result = cli("list", "--json", env=served.jwt_env)
    assert result.code == 0, result.err
    assert result.json() == []


def test_jwt_with_the_pem_text_on_one_line(cli: CLI, served: ThreadedSandbox) -> None:
    """VONAGE_PRIVATE_KEY may hold the PEM itself, newlines escaped as in a .env file."""
    pem = (served.handle.private_key_pem or "").replace("\n", "\\n")
    env = {**served.jwt_env, "VONAGE_PRIVATE_KEY": pem}
    assert cli("list", env=env).code == 0


def test_basic_from_the_environment(cli: CLI, served: ThreadedSandbox) -> None:
    """VONAGE_API_KEY and VONAGE_API_SECRET sign in with basic auth."""
    result = cli("list", "--json", env=served.basic_env)
    assert result.code == 0, result.err


def test_jwt_is_preferred_when_both_pairs_are_set(cli: CLI, served: ThreadedSandbox) -> None:
    """With both pairs set JWT is used: a wrong basic secret beside it does not matter."""
    env = {**served.jwt_env, "VONAGE_API_KEY": served.handle.api_key, "VONAGE_API_SECRET": "no"}
    result = cli("list", "--json", env=env)
    assert result.code == 0, result.err


def test_basic_flags_choose_basic_auth_over_exported_jwt(cli: CLI, served: ThreadedSandbox) -> None:
    """--api-key/--api-secret set basic auth even where JWT variables are exported."""
    key, secret = served.handle.api_key, served.handle.api_secret
    right = cli("list", "--api-key", key, "--api-secret", secret, env=served.jwt_env)
    assert right.code == 0, right.err
    wrong = cli("list", "--api-key", key, "--api-secret", "wrong", env=served.jwt_env)
    assert wrong.code == 3  # so basic auth was really used
    assert wrong.err.startswith("Error: 401")


def test_flags_alone_are_enough(cli: CLI, served: ThreadedSandbox) -> None:
    """--base-url, --application-id and --private-key work with nothing in the environment."""
    result = cli(
        "list",
        "--base-url",
        served.handle.base_url,
        "--application-id",
        served.handle.application_id,
        "--private-key",
        str(served.key_path),
        env={},
    )
    assert result.code == 0, result.err


def test_no_credentials_is_a_usage_error(cli: CLI) -> None:
    """With nothing set the command exits 2, naming both pairs and the flags."""
    result = cli("list", env={})
    assert result.code == 2
    assert result.out == ""
    headline, advice = result.err.splitlines()
    assert "VONAGE_APPLICATION_ID and VONAGE_PRIVATE_KEY (JWT)" in headline
    assert "--api-key/--api-secret" in advice


def test_a_half_set_pair_names_what_is_missing(cli: CLI, served: ThreadedSandbox) -> None:
    """VONAGE_APPLICATION_ID without VONAGE_PRIVATE_KEY exits 2 naming the missing one."""
    env = {**served.basic_env, "VONAGE_APPLICATION_ID": served.handle.application_id}
    result = cli("list", env=env)
    assert result.code == 2
    assert "VONAGE_PRIVATE_KEY: is not set" in result.err


def test_an_unreadable_key_names_the_variable_not_its_value(cli: CLI) -> None:
    """A key that is neither PEM nor a readable file exits 2 without quoting the value."""
    env = {"VONAGE_APPLICATION_ID": "app", "VONAGE_PRIVATE_KEY": "not-a-key-SECRET-ish"}
    result = cli("list", env=env)
    assert result.code == 2
    assert "VONAGE_PRIVATE_KEY" in result.err
    assert "SECRET-ish" not in result.err
