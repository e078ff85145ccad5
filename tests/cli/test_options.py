"""The common options: credential flags over the environment, number types, logging."""

from __future__ import annotations

import logging

import click
import pytest

from wamanager.cli._options import POSITIVE_SECONDS, Settings, client_environ

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
