"""`wamanager demo`: a whole onboarding against an embedded sandbox, narrated."""

from __future__ import annotations

from .conftest import CLI


def test_demo_narrates_a_whole_onboarding_with_jwt(cli: CLI) -> None:
    """`demo` deploys, verifies, sets the profile, photo and a sticker pack; no key shown."""
    result = cli("demo", "--speed", "3000")
    assert result.code == 0, result.err
    for text in (
        "signed in with a JWT of application",
        "state CODE_SENT",
        "OTP code verified",
        "deployment READY",
        "profile set: 'Fresh bread daily'",
        "photo set from https://cdn.example.com/logo.png",
        "sticker pack",
        "done",
    ):
        assert text in result.out
    assert "PRIVATE KEY" not in result.out + result.err
