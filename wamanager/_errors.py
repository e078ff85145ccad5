"""Every exception wamanager raises.

```
WhatsAppManagerError
├── APIError                    the API answered with an error status (problem details)
│   ├── InvalidJSON             400  #invalid-json
│   ├── Unauthorized            401
│   ├── Forbidden               403
│   ├── NotFound                404
│   ├── Conflict                409
│   │   ├── NumberInUse         #number-in-use (.existing_deployment_id)
│   │   ├── StateConflict       #conflict-deployment-state
│   │   └── ResendConflict      #conflict-resend-otp
│   ├── Unprocessable           422  #unprocessable
│   │   ├── VerificationFailed  #verification-failed
│   │   └── InvalidParameters   #unprocessable-profile-update
│   ├── Throttled               429  #throttled (.retry_after)
│   └── ServerError             5xx
├── UnexpectedResponse          an answer the client cannot use (redirect, oversized, bad shape)
├── TransportError              no usable HTTP answer
│   ├── ConnectionFailed        could not connect, or the connection dropped
│   └── RequestTimeout          also a builtin TimeoutError
├── ValidationError             bad input, raised before any request (also a ValueError)
├── ClientClosed                the client was used after close (also a RuntimeError)
├── DeploymentFailed            the deployment reached ERROR
├── DeploymentDeleted           the deployment was deleted while being watched
├── WatchTimeout                a watch deadline or stuck-state limit (also TimeoutError)
├── WatchEnded                  wait_for() cannot be satisfied any more
└── ProvisioningError           provision() failed at a step (.step, .deployment_id, .cause)
```

:func:`error_from_response` is the one place that maps a status and a problem ``type`` to a
class: the ``type`` URL's fragment first, then the status. A body that is not JSON, or not a
problem object, still yields the class its status names.

No message here ever quotes a secret: problem details come from the server, which does not
echo credentials, and request bodies are never included.

The module is longer than most because it holds one concern whole: the hierarchy drawn above,
one class per node with its docstring, and the one function that maps an answer to a node.
Split, a reader would lose the tree that the mapping and the docstrings refer to.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ._converter import structure
from ._models import InvalidParameter, ProblemDetails

if TYPE_CHECKING:
    from ._models import Deployment
    from ._states import DeploymentState

__all__ = [
    "TRANSIENT",
    "APIError",
    "ClientClosed",
    "Conflict",
    "ConnectionFailed",
    "DeploymentDeleted",
    "DeploymentFailed",
    "FieldProblem",
    "Forbidden",
    "InvalidJSON",
    "InvalidParameters",
    "NotFound",
    "NumberInUse",
    "ProvisioningError",
    "RequestTimeout",
    "ResendConflict",
    "ServerError",
    "StateConflict",
    "Throttled",
    "TransportError",
    "Unauthorized",
    "UnexpectedResponse",
    "Unprocessable",
    "ValidationError",
    "VerificationFailed",
    "WatchEnded",
    "WatchTimeout",
    "WhatsAppManagerError",
    "error_from_response",
]

#: ``(field, reason)``: one thing wrong with one field of an input. The request rules return
#: them, :class:`ValidationError` carries them (``errors``).
FieldProblem = tuple[str, str]


class WhatsAppManagerError(Exception):
    """Base class of every exception raised by wamanager."""


class APIError(WhatsAppManagerError):
    """The API answered with an error status.

    Carries the problem details the API sent (``type``, ``title``, ``detail``, ``instance``,
    ``invalid_parameters``), the HTTP ``status`` and the raw ``body`` text.
    """

    def __init__(
        self,
        status: int,
        problem: ProblemDetails | None = None,
        *,
        body: str = "",
        method: str = "",
        path: str = "",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status = status
        self.problem = problem or ProblemDetails()
        self.body = body
        self.method = method
        self.path = path
        self.headers: Mapping[str, str] = dict(headers or {})
        super().__init__(self._message())

    @property
    def type(self) -> str | None:
        """The problem ``type`` URL (``https://developer.vonage.com/api-errors/...#fragment``)."""
        return self.problem.type

    @property
    def title(self) -> str | None:
        """The problem's short, generic title."""
        return self.problem.title

    @property
    def detail(self) -> str | None:
        """The problem's specific explanation."""
        return self.problem.detail

    @property
    def instance(self) -> str | None:
        """The API's trace id for this failure: quote it to Vonage support."""
        return self.problem.instance

    @property
    def invalid_parameters(self) -> tuple[InvalidParameter, ...]:
        """Which parameters the API rejected, and why."""
        return self.problem.invalid_parameters

    def _message(self) -> str:
        head = f"{self.status} {self.title or type(self).__name__}"
        if self.method:
            head = f"{self.method} {self.path} -> {head}"
        parts = [head]
        if self.detail:
            parts.append(self.detail)
        for param in self.invalid_parameters:
            parts.append(f"{param.name}: {param.reason}")
        if self.instance:
            parts.append(f"instance={self.instance}")
        return "; ".join(parts)


class InvalidJSON(APIError):
    """400: the request body was not valid JSON (or not what the operation accepts)."""


class Unauthorized(APIError):
    """401: the credentials were missing, wrong, or expired."""


class Forbidden(APIError):
    """403: the account may not use this API (WhatsApp not enabled for it)."""


class NotFound(APIError):
    """404: no such deployment, or it belongs to another account."""


class Conflict(APIError):
    """409: the request conflicts with the deployment's current state."""


class NumberInUse(Conflict):
    """409 ``#number-in-use``: the number already has an active deployment.

    ``existing_deployment_id`` is that deployment's id, parsed from the detail; adopt it
    instead of creating another (this is also what a retried create answers).
    """

    @property
    def existing_deployment_id(self) -> str | None:
        """The id of the deployment that already holds the number, if the detail names it."""
        match = _UUID.search(self.detail or "")
        return match.group(0) if match else None


class StateConflict(Conflict):
    """409 ``#conflict-deployment-state``: the deployment is in a transitional state."""


class ResendConflict(Conflict):
    """409 ``#conflict-resend-otp``: the deployment's state does not allow a resend."""


class Unprocessable(APIError):
    """422: valid JSON, but something was missing or wrongly formatted."""


class VerificationFailed(Unprocessable):
    """422 ``#verification-failed``: the code was wrong, or too many attempts were made."""


class InvalidParameters(Unprocessable):
    """422 ``#unprocessable-profile-update``: the profile update was rejected."""


class Throttled(APIError):
    """429: too many requests. ``retry_after``: seconds to wait before trying again.

    That is the API's ``Retry-After`` (one second when it sent none), capped at the retry
    policy's ``max_retry_after`` (60 s) and lengthened by up to 10% at random, so that
    callers throttled together do not come back together.
    """

    def __init__(
        self,
        status: int,
        problem: ProblemDetails | None = None,
        *,
        retry_after: float | None = None,
        **kwargs: Any,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(status, problem, **kwargs)


class ServerError(APIError):
    """5xx: the API failed. Retried within ``max_retries`` before this is raised."""


class UnexpectedResponse(WhatsAppManagerError):
    """An answer the client cannot use: a redirect (never followed; the message names its
    ``Location``), a body over the size cap, or a success whose body is not JSON or not the
    shape the spec gives. ``status`` is the HTTP status as received (201, 307…)."""

    def __init__(self, message: str, *, status: int, body: str = "") -> None:
        self.status = status
        self.body = body
        super().__init__(message)


class TransportError(WhatsAppManagerError):
    """No usable HTTP answer: the connection failed, dropped, or timed out."""


class ConnectionFailed(TransportError, ConnectionError):
    """Could not connect, or the connection dropped before an answer came."""


class RequestTimeout(TransportError, TimeoutError):
    """The request took longer than its timeout (also a builtin :class:`TimeoutError`)."""


class ValidationError(WhatsAppManagerError, ValueError):
    """Bad input, found before any request was sent.

    ``errors`` lists every ``(field, reason)`` pair; the message names them all.
    """

    def __init__(self, errors: Iterable[FieldProblem], *, model: str = "") -> None:
        self.errors: tuple[FieldProblem, ...] = tuple(errors)
        self.model = model
        what = f"invalid {model}" if model else "invalid input"
        listed = "; ".join(f"{field}: {reason}" for field, reason in self.errors)
        super().__init__(f"{what}: {listed}")

    @property
    def fields(self) -> tuple[str, ...]:
        """The names of the bad fields, in the order found."""
        return tuple(field for field, _ in self.errors)


class ClientClosed(WhatsAppManagerError, RuntimeError):
    """The client (or its session) was used after it was closed."""


class DeploymentFailed(WhatsAppManagerError):
    """The deployment reached ERROR. ``detail`` is the API's reason; ``deployment`` the snapshot."""

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment
        self.deployment_id = deployment.deployment_id
        self.detail = deployment.detail
        super().__init__(
            f"deployment {deployment.deployment_id} failed: {self.detail or 'no detail given'}"
        )


class DeploymentDeleted(WhatsAppManagerError):
    """The deployment was deleted (DELETING, DELETED or 404) while it was being watched."""

    def __init__(self, deployment_id: str, deployment: Deployment | None = None) -> None:
        self.deployment_id = deployment_id
        self.deployment = deployment
        super().__init__(f"deployment {deployment_id} was deleted")


class WatchTimeout(WhatsAppManagerError, TimeoutError):
    """A watch gave up: its deadline passed, or the deployment stayed in one state too long.

    ``state`` is the state the deployment was last seen in (``None`` before the first poll).
    """

    def __init__(
        self, message: str, *, deployment_id: str, state: DeploymentState | None = None
    ) -> None:
        self.deployment_id = deployment_id
        self.state = state
        super().__init__(message)


class WatchEnded(WhatsAppManagerError):
    """``wait_for`` can no longer be satisfied: the watch ended (READY reached, or the
    watcher was closed) before the awaited state was seen."""

    def __init__(self, message: str, *, deployment_id: str, state: DeploymentState | None) -> None:
        self.deployment_id = deployment_id
        self.state = state
        super().__init__(message)


class ProvisioningError(WhatsAppManagerError):
    """:func:`~wamanager.provision` failed; what a caller needs to resume or clean up.

    ``step`` is where it failed: ``"create"``, ``"watch"``, ``"verify"``, ``"profile"`` or
    ``"photo"``. ``deployment_id`` is the deployment it was working on (``None`` when the
    create step failed before the API answered with one: calling ``provision()`` again with
    the same request then adopts the deployment if it was created). ``cause`` is the error
    that stopped it (also ``__cause__``): a :class:`DeploymentFailed` means the number needs
    deleting before another try; most others are worth another ``provision()`` call.
    """

    def __init__(
        self, step: str, cause: BaseException, *, deployment_id: str | None, msisdn: str = ""
    ) -> None:
        self.step = step
        self.cause = cause
        self.deployment_id = deployment_id
        self.msisdn = msisdn
        number = f" +{msisdn}" if msisdn else ""
        where = f" (deployment {deployment_id})" if deployment_id else ""
        super().__init__(
            f"provisioning{number} failed at the {step} step{where}: "
            f"{type(cause).__name__}: {cause}"
        )


# --- the one mapping -----------------------------------------------------------------------

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")

_BY_FRAGMENT: Mapping[str, type[APIError]] = {
    "invalid-json": InvalidJSON,
    "unauthorized": Unauthorized,
    "forbidden": Forbidden,
    "not-found": NotFound,
    "number-in-use": NumberInUse,
    "conflict-deployment-state": StateConflict,
    "conflict-resend-otp": ResendConflict,
    "unprocessable": Unprocessable,
    "verification-failed": VerificationFailed,
    "unprocessable-profile-update": InvalidParameters,
    "throttled": Throttled,
}

_BY_STATUS: Mapping[int, type[APIError]] = {
    400: InvalidJSON,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    422: Unprocessable,
    429: Throttled,
}


def _class_for(status: int, problem_type: str | None) -> type[APIError]:
    by_status = _BY_STATUS.get(status, ServerError if status >= 500 else APIError)
    fragment = (problem_type or "").rpartition("#")[2]
    by_fragment = _BY_FRAGMENT.get(fragment)
    # A fragment wins only when it agrees with the status family (a 500 whose body says
    # "#throttled" is still a server error).
    if by_fragment is not None and issubclass(by_fragment, by_status):
        return by_fragment
    return by_status


def _parse_problem(data: Any) -> ProblemDetails | None:
    if not isinstance(data, dict):
        return None
    try:
        return structure(data, ProblemDetails)
    except Exception:
        # Wrongly shaped problem bodies still yield the right class by status; keep the
        # string fields that parsed and drop the rest.
        def text(key: str) -> str | None:
            value = data.get(key)
            return value if isinstance(value, str) else None

        return ProblemDetails(
            type=text("type"), title=text("title"), detail=text("detail"), instance=text("instance")
        )


def error_from_response(
    status: int,
    data: Any,
    *,
    body: str = "",
    method: str = "",
    path: str = "",
    headers: Mapping[str, str] | None = None,
    retry_after: float | None = None,
) -> APIError:
    """Build the exception for an error response.

    ``data`` is the decoded JSON body (or ``None`` when it was not JSON); ``body`` the raw text.
    """
    problem = _parse_problem(data)
    cls = _class_for(status, problem.type if problem else None)
    common: dict[str, Any] = {"body": body, "method": method, "path": path, "headers": headers}
    if issubclass(cls, Throttled):
        return cls(status, problem, retry_after=retry_after, **common)
    return cls(status, problem, **common)


#: Failures a watch survives (a poll, an OTP call): it backs off and tries again.
TRANSIENT = (
    TransportError,
    ServerError,
    Throttled,
    UnexpectedResponse,
)
