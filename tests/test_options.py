"""The client's options checked before any request: the base URL, every argument (all bad
ones at once), with_options, and timeouts."""

from __future__ import annotations

import math
from typing import Any

import pytest

from wamanager import (
    BasicAuth,
    Timeout,
    ValidationError,
    WhatsAppManager,
)


@pytest.mark.parametrize(
    "base_url",
    [
        "api.nexmo.com/v0.1/whatsapp-manager",
        "ftp://api.nexmo.com/x",
        "https://",
        "http:///path-only",
        "https://api.nexmo.com/v0.1?x=1",
        "https://api.nexmo.com/v0.1#frag",
        5,
    ],
)
def test_base_url_is_checked_at_construction(base_url: Any) -> None:
    """A base URL without an http(s) scheme and a host raises ValidationError at once."""
    with pytest.raises(ValidationError) as caught:
        WhatsAppManager(BasicAuth("k", "s"), base_url=base_url)
    assert caught.value.fields == ("base_url",)


def test_base_url_with_credentials_is_refused_without_quoting_them() -> None:
    """user:password@ in the base URL is refused, and the password is not echoed."""
    with pytest.raises(ValidationError) as caught:
        WhatsAppManager(BasicAuth("k", "s"), base_url="https://me:hunter22@api.example.com/x")
    assert caught.value.fields == ("base_url",)
    assert "hunter22" not in str(caught.value)
    assert "hunter22" not in repr(caught.value.args)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"timeout": 0}, "timeout"),
        ({"timeout": -1}, "timeout"),
        ({"timeout": math.nan}, "timeout"),
        ({"timeout": math.inf}, "timeout"),
        ({"timeout": "5"}, "timeout"),
        ({"timeout": True}, "timeout"),
        ({"max_retries": -1}, "max_retries"),
        ({"max_retries": 2.5}, "max_retries"),
        ({"max_retries": None}, "max_retries"),
        ({"retry": {"max_retries": 1}}, "retry"),
        ({"rate_limit": -5}, "rate_limit"),
        ({"rate_limit": 0}, "rate_limit"),
        ({"rate_burst": 0}, "rate_burst"),
        ({"rate_burst": True}, "rate_burst"),
        ({"throttle_budget": -1}, "throttle_budget"),
        ({"throttle_budget": math.inf}, "throttle_budget"),
        ({"max_response_size": 0}, "max_response_size"),
        ({"max_response_size": 1.5}, "max_response_size"),
        ({"session": "aiohttp"}, "session"),
        ({"sleep": 5}, "sleep"),
        ({"rng": None}, "rng"),
    ],
)
def test_bad_client_arguments_raise_validation_error(kwargs: dict[str, Any], field: str) -> None:
    """Every bad constructor argument raises ValidationError naming it, before any request."""
    with pytest.raises(ValidationError) as caught:
        WhatsAppManager(BasicAuth("k", "s"), **kwargs)
    assert caught.value.fields == (field,)


def test_every_bad_argument_is_listed_at_once() -> None:
    """Several bad arguments are reported together, in one ValidationError."""
    with pytest.raises(ValidationError) as caught:
        WhatsAppManager(
            BasicAuth("k", "s"), base_url="nope", timeout=0, rate_burst=0, max_response_size=-1
        )
    assert set(caught.value.fields) == {"base_url", "timeout", "rate_burst", "max_response_size"}


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"timeout": 0}, "timeout"),
        ({"max_retries": -1}, "max_retries"),
        ({"retry": "fast"}, "retry"),
        ({"throttle_budget": -0.5}, "throttle_budget"),
        ({"max_response_size": 0}, "max_response_size"),
    ],
)
def test_bad_with_options_raise_validation_error(kwargs: dict[str, Any], field: str) -> None:
    """with_options checks its options as the constructor does."""
    with pytest.raises(ValidationError) as caught:
        WhatsAppManager(BasicAuth("k", "s")).with_options(**kwargs)
    assert caught.value.fields == (field,)


@pytest.mark.parametrize(
    ("timeout", "field"),
    [({"total": 0}, "timeout.total"), ({"connect": -1.0}, "timeout.connect")],
)
def test_timeout_values_must_be_positive(timeout: dict[str, Any], field: str) -> None:
    """Timeout(total=0) or a negative connect raises ValidationError: 0 is not "no timeout"."""
    with pytest.raises(ValidationError) as caught:
        Timeout(**timeout)
    assert caught.value.fields == (field,)
