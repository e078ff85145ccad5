"""The public API: ``wamanager.__all__`` is pinned, sorted, importable and documented."""

from __future__ import annotations

import inspect

import wamanager

#: The public names, exactly. Adding or removing one is a deliberate act: change this list
#: and note it in CHANGELOG.md.
EXPECTED = [
    "DEFAULT_BASE_URL",
    "NOT_GIVEN",
    "SYSTEM_CLOCK",
    "APIError",
    "Auth",
    "BasicAuth",
    "BearerToken",
    "BulkEvent",
    "BulkProgress",
    "BulkReport",
    "ClientClosed",
    "Clock",
    "CodeRejected",
    "CodeRequested",
    "CodeResent",
    "CodeVerified",
    "Conflict",
    "ConnectionFailed",
    "CurrentState",
    "Deployment",
    "DeploymentDeleted",
    "DeploymentFailed",
    "DeploymentRequest",
    "DeploymentState",
    "DeploymentWatcher",
    "Event",
    "EventStream",
    "Failed",
    "Forbidden",
    "GiveUp",
    "InvalidJSON",
    "InvalidParameter",
    "InvalidParameters",
    "JWTAuth",
    "JournalError",
    "NotFound",
    "NumberChanged",
    "NumberInUse",
    "NumberOutcome",
    "OTPMethod",
    "OTPPolicy",
    "OTPProgress",
    "OTPProvider",
    "Onboarding",
    "PollFailed",
    "PollPolicy",
    "PollScheduler",
    "PollStats",
    "ProblemDetails",
    "Profile",
    "ProfilePhoto",
    "ProvisioningError",
    "RateControl",
    "RateLimiter",
    "RequestTimeout",
    "Resend",
    "ResendConflict",
    "ResendResult",
    "RetryPolicy",
    "ServerError",
    "StateChanged",
    "StateConflict",
    "Sticker",
    "StickerRef",
    "Stickerpack",
    "StickerpackRef",
    "Succeeded",
    "SystemClock",
    "Throttled",
    "Timeout",
    "TransportError",
    "Unauthorized",
    "UnexpectedResponse",
    "Unprocessable",
    "ValidationError",
    "VerificationFailed",
    "Verify",
    "VerifyResult",
    "Vertical",
    "Wait",
    "WatchEnded",
    "WatchOptions",
    "WatchTimeout",
    "WhatsAppManager",
    "WhatsAppManagerError",
    "__version__",
    "next_otp_action",
    "provision",
    "provision_many",
]


def _isort_key(name: str) -> tuple[int, str]:
    # ruff's RUF022 order: SCREAMING_CASE constants, then CamelCase, then the rest.
    if name.isupper():
        return (0, name)
    if name[:1].isupper():
        return (1, name)
    return (2, name)


def test_all_is_pinned() -> None:
    """__all__ holds exactly the pinned names: none removed, none added unnoticed."""
    assert set(EXPECTED) <= set(wamanager.__all__), "public names were removed"
    extra = set(wamanager.__all__) - set(EXPECTED)
    assert extra == set(), f"new public names not pinned here: {sorted(extra)}"


def test_all_is_sorted_and_unique() -> None:
    """__all__ is sorted (constants, classes, then the rest) and has no duplicates."""
    assert wamanager.__all__ == sorted(wamanager.__all__, key=_isort_key)
    assert len(set(wamanager.__all__)) == len(wamanager.__all__)


def test_every_exported_name_is_importable() -> None:
    """Every name in __all__ is an attribute of the package (from wamanager import * works)."""
    namespace: dict[str, object] = {}
    exec("from wamanager import *", namespace)  # noqa: S102 - the statement under test
    for name in wamanager.__all__:
        assert hasattr(wamanager, name), name
        assert name in namespace, name


def test_every_public_class_and_function_has_a_docstring() -> None:
    """Every exported class and function has its own docstring, and so do its public methods."""
    for name in wamanager.__all__:
        member = getattr(wamanager, name)
        if not (inspect.isclass(member) or inspect.isfunction(member)):
            continue
        assert (inspect.getdoc(member) or "").strip(), f"{name} has no docstring"
        if not inspect.isclass(member) or issubclass(member, BaseException):
            continue
        for attr, value in vars(member).items():
            if attr.startswith("_") or not (
                inspect.isfunction(value) or isinstance(value, property | classmethod)
            ):
                continue
            target = value.__func__ if isinstance(value, classmethod) else value
            assert (target.__doc__ or "").strip(), f"{name}.{attr} has no docstring"


def test_version_is_a_string() -> None:
    """__version__ is a non-empty version string."""
    assert isinstance(wamanager.__version__, str)
    assert wamanager.__version__[0].isdigit()
