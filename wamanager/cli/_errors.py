"""What the command says about an error, and the exit code it ends with. Pure: no I/O.

=====  ==============================================================================
code   meaning
=====  ==============================================================================
0      success
1      an unexpected error (a bug: ``--debug`` shows the traceback)
2      usage: a bad flag or argument, invalid input, missing credentials
3      the API answered with an error, or could not be reached
4      the deployment failed (ERROR) or was deleted
5      timed out: a request, or ``--timeout`` of a watch
130    interrupted (Ctrl-C, or input closed at a prompt)
=====  ==============================================================================
"""

from __future__ import annotations

from .._errors import (
    APIError,
    ConnectionFailed,
    DeploymentDeleted,
    DeploymentFailed,
    Forbidden,
    NotFound,
    NumberInUse,
    RequestTimeout,
    ResendConflict,
    ServerError,
    StateConflict,
    Throttled,
    TransportError,
    Unauthorized,
    UnexpectedResponse,
    ValidationError,
    VerificationFailed,
    WatchTimeout,
)

__all__ = [
    "EXIT_API",
    "EXIT_DEPLOYMENT",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_TIMEOUT",
    "EXIT_UNEXPECTED",
    "EXIT_USAGE",
    "exit_code",
    "explain",
    "unwrap",
]

EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_USAGE = 2
EXIT_API = 3
EXIT_DEPLOYMENT = 4
EXIT_TIMEOUT = 5
EXIT_INTERRUPTED = 130

_CREDENTIALS = (
    "set VONAGE_APPLICATION_ID and VONAGE_PRIVATE_KEY (JWT) or VONAGE_API_KEY and "
    "VONAGE_API_SECRET, or pass --application-id/--private-key or --api-key/--api-secret"
)


def unwrap(exc: BaseException) -> BaseException:
    """The one error inside (nested) exception groups of one, or ``exc`` itself."""
    inner = getattr(exc, "exceptions", None)
    while isinstance(inner, tuple) and len(inner) == 1 and isinstance(inner[0], BaseException):
        exc = inner[0]
        inner = getattr(exc, "exceptions", None)
    return exc


def exit_code(exc: BaseException) -> int:
    """The exit code the command ends with after ``exc``."""
    if isinstance(exc, (KeyboardInterrupt, EOFError)):
        return EXIT_INTERRUPTED
    if isinstance(exc, ValidationError):
        return EXIT_USAGE
    if isinstance(exc, (DeploymentFailed, DeploymentDeleted)):
        return EXIT_DEPLOYMENT
    if isinstance(exc, (WatchTimeout, RequestTimeout)):
        return EXIT_TIMEOUT
    if isinstance(exc, (APIError, TransportError, UnexpectedResponse)):
        return EXIT_API
    return EXIT_UNEXPECTED


def explain(exc: BaseException) -> list[str]:
    """One or two lines for a person: what went wrong (the API's title and detail), then
    what to do about it. Never a traceback, never a secret (no message here quotes one)."""
    if isinstance(exc, KeyboardInterrupt):
        return ["Interrupted."]
    if isinstance(exc, EOFError):
        return [f"Interrupted: {exc}" if str(exc) else "Interrupted: the input was closed."]
    if isinstance(exc, APIError):
        return [_api_headline(exc), *_api_advice(exc)]
    if isinstance(exc, ValidationError):
        advice = [_CREDENTIALS] if exc.model == "environment" else []
        return [f"Error: {exc}", *advice]
    if isinstance(exc, DeploymentFailed):
        return [
            f"Error: {exc}",
            f"delete it (wamanager delete {exc.deployment_id}) and deploy the number again",
        ]
    if isinstance(exc, DeploymentDeleted):
        return [f"Error: {exc}"]
    if isinstance(exc, WatchTimeout):
        return [
            f"Error: {exc}",
            f"the deployment goes on: follow it with wamanager watch {exc.deployment_id}",
        ]
    if isinstance(exc, RequestTimeout):
        return [f"Error: {exc}", "the API did not answer in time; try again"]
    if isinstance(exc, ConnectionFailed):
        return [f"Error: {exc}", "check --base-url (or WAMANAGER_BASE_URL) and the network"]
    if isinstance(exc, (TransportError, UnexpectedResponse)):
        return [f"Error: {exc}", "try again; --debug shows the requests"]
    first_line = str(exc).splitlines()[0] if str(exc) else ""
    return [
        f"Error: unexpected {type(exc).__name__}" + (f": {first_line}" if first_line else ""),
        "rerun with --debug for the traceback, and report it",
    ]


def _api_headline(exc: APIError) -> str:
    parts = [(exc.title or type(exc).__name__).rstrip(".")]
    if exc.detail:
        parts.append(exc.detail)
    parts.extend(f"{param.name}: {param.reason}" for param in exc.invalid_parameters)
    return f"Error: {exc.status} " + ": ".join(parts)


#: What to do about an API error of each class, by the first class it is an instance of.
_ADVICE: tuple[tuple[type[APIError], str], ...] = (
    (Unauthorized, f"check the credentials and the base URL: {_CREDENTIALS}"),
    (Forbidden, "this account may not use the WhatsApp Provisioning API; ask Vonage to enable it"),
    (NotFound, "check the ids (wamanager list shows your deployments and their states)"),
    (
        ResendConflict,
        "a new code can be sent only in CODE_SENT or WRONG_CODE (wamanager status ID)",
    ),
    (StateConflict, "the deployment's state does not allow this now (wamanager status ID)"),
    (VerificationFailed, "check the code, or have a new one sent: wamanager resend ID"),
)


def _api_advice(exc: APIError) -> list[str]:
    if isinstance(exc, NumberInUse):
        existing = exc.existing_deployment_id or "ID"
        return [f"the number is deployed already: wamanager status {existing}"]
    if isinstance(exc, Throttled):
        wait = f" in {exc.retry_after:g}s" if exc.retry_after is not None else " later"
        return [f"too many requests: try again{wait}"]
    if isinstance(exc, ServerError):
        instance = f" (quote instance {exc.instance} to Vonage support)" if exc.instance else ""
        return [f"the API failed; try again later{instance}"]
    return [advice for cls, advice in _ADVICE if isinstance(exc, cls)][:1]
