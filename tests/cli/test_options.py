"""The common options: credentials from the environment (both kinds, JWT preferred) and from
flags, the usage errors when they are missing or half-set, number types, logging."""

from __future__ import annotations

import asyncio
import logging
import signal

import click
import pytest

from wamanager.cli._options import POSITIVE_SECONDS, Settings, client_environ, run_async

from .conftest import CLI, ThreadedSandbox

JWT = {"VONAGE_APPLICATION_ID": "app", "VONAGE_PRIVATE_KEY": "/keys/app.key"}
BASIC = {"VONAGE_API_KEY": "key", "VONAGE_API_SECRET": "secret"}


@pytest.mark.parametrize(
    ("environ", "flags", "expected"),
    [
        ({**JWT, **BASIC, "HOME": "/root"}, {}, {**JWT, **BASIC}),
        (JWT, {"base_url": "http://sandbox"}, {**JWT, "WAMANAGER_BASE_URL": "http://sandbox"}),
        (
            {**JWT, "WAMANAGER_BASE_URL": "http://env"},
            {"base_url": "http://flag"},
            {**JWT, "WAMANAGER_BASE_URL": "http://flag"},
        ),
        (JWT, {"private_key": "/other.key"}, {**JWT, "VONAGE_PRIVATE_KEY": "/other.key"}),
        # basic flags alone choose basic auth: the exported JWT pair is dropped
        (
            {**JWT, **BASIC},
            {"api_key": "k2", "api_secret": "s2"},
            {"VONAGE_API_KEY": "k2", "VONAGE_API_SECRET": "s2"},
        ),
        (JWT, {"api_secret": "s2"}, {"VONAGE_API_SECRET": "s2"}),
        # with a JWT flag among them, JWT still wins as from_env says
        (
            JWT,
            {"api_key": "k2", "api_secret": "s2", "application_id": "app2"},
            {
                "VONAGE_APPLICATION_ID": "app2",
                "VONAGE_PRIVATE_KEY": "/keys/app.key",
                "VONAGE_API_KEY": "k2",
                "VONAGE_API_SECRET": "s2",
            },
        ),
        ({}, {}, {}),
    ],
    ids=[
        "env-only",
        "base-url-flag",
        "flag-beats-env",
        "key-flag",
        "basic-flags-drop-jwt-env",
        "one-basic-flag",
        "jwt-flag-keeps-jwt",
        "nothing",
    ],
)
def test_client_environ_applies_flags_over_the_environment(
    environ: dict[str, str], flags: dict[str, str], expected: dict[str, str]
) -> None:
    """Flags override their variables, other variables are ignored, basic flags choose basic."""
    assert client_environ(environ, flags) == expected


@pytest.mark.parametrize("text", ["0", "-1", "nan", "inf", "abc", ""])
def test_positive_seconds_refuses_what_is_not_a_positive_finite_number(text: str) -> None:
    """Zero, negatives, NaN, infinity and words are usage errors."""
    with pytest.raises(click.BadParameter):
        POSITIVE_SECONDS.convert(text, None, None)


def test_positive_seconds_takes_positive_numbers() -> None:
    """A positive number is read as a float."""
    assert POSITIVE_SECONDS.convert("0.25", None, None) == 0.25


def test_settings_log_warnings_in_one_line_and_everything_with_debug(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Warnings are one line without traceback; --debug adds DEBUG lines; close detaches."""
    logger = logging.getLogger("wamanager.test")
    settings = Settings()
    settings.open()
    try:
        logger.debug("hidden")
        try:
            raise RuntimeError("inside")
        except RuntimeError:
            logger.exception("provider failed")
        settings.enable_debug()
        logger.debug("shown")
    finally:
        settings.close()
    logger.warning("after close")
    err = capsys.readouterr().err
    assert "error: provider failed\n" in err
    assert "Traceback" not in err.split("shown")[0]
    assert "hidden" not in err
    assert "DEBUG wamanager.test: shown" in err
    assert "after close" not in err
    assert settings.debug


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


def test_ctrl_c_cancels_the_main_task_and_then_raises_keyboard_interrupt() -> None:
    """SIGINT inside a command cancels its task, so its cleanup runs (the bulk command's
    "run the same command again"), then raises KeyboardInterrupt: on 3.10 as on 3.11+."""
    steps: list[str] = []

    async def command() -> None:
        signal.raise_signal(signal.SIGINT)
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            steps.append("cleaned up")
            raise

    with pytest.raises(KeyboardInterrupt):
        run_async(command())
    assert steps == ["cleaned up"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_command_that_ends_returns_its_value_and_leaves_sigint_as_it_was() -> None:
    """Without Ctrl-C, run_async is asyncio.run: the value comes back, SIGINT's handler is
    Python's default again."""

    async def command() -> int:
        await asyncio.sleep(0)
        return 7

    assert run_async(command()) == 7
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
