"""wamanager: an asyncio client for the Vonage WhatsApp Provisioning (WhatsApp Manager) API.

Vonage labels this API deprecated (Meta is retiring the WhatsApp On-Premises API behind it);
wamanager serves the teams who still run it.
"""

from ._auth import Auth, BasicAuth, BearerToken, JWTAuth
from ._bulk import Onboarding, provision_many
from ._bulk_report import (
    BulkEvent,
    BulkProgress,
    BulkReport,
    NumberChanged,
    NumberOutcome,
)
from ._client import WhatsAppManager
from ._clock import SYSTEM_CLOCK, Clock, SystemClock
from ._constants import DEFAULT_BASE_URL
from ._delivery import EventStream
from ._errors import (
    APIError,
    ClientClosed,
    Conflict,
    ConnectionFailed,
    DeploymentDeleted,
    DeploymentFailed,
    Forbidden,
    InvalidJSON,
    InvalidParameters,
    NotFound,
    NumberInUse,
    ProvisioningError,
    RequestTimeout,
    ResendConflict,
    ServerError,
    StateConflict,
    Throttled,
    TransportError,
    Unauthorized,
    UnexpectedResponse,
    Unprocessable,
    ValidationError,
    VerificationFailed,
    WatchEnded,
    WatchTimeout,
    WhatsAppManagerError,
)
from ._events import (
    CodeRejected,
    CodeRequested,
    CodeResent,
    CodeVerified,
    Event,
    Failed,
    PollFailed,
    StateChanged,
    Succeeded,
)
from ._journal import JournalError
from ._models import (
    CurrentState,
    Deployment,
    DeploymentRequest,
    InvalidParameter,
    OTPMethod,
    ProblemDetails,
    Profile,
    ProfilePhoto,
    ResendResult,
    Sticker,
    Stickerpack,
    StickerpackRef,
    StickerRef,
    VerifyResult,
    Vertical,
)
from ._options import NOT_GIVEN, Timeout
from ._otp_driver import OTPProvider
from ._policy import (
    GiveUp,
    OTPPolicy,
    OTPProgress,
    PollPolicy,
    Resend,
    Verify,
    Wait,
    next_otp_action,
)
from ._provisioning import provision
from ._rate_control import RateControl
from ._ratelimit import RateLimiter
from ._retry import RetryPolicy
from ._scheduler import PollScheduler, PollStats
from ._states import DeploymentState
from ._version import __version__
from ._watch_options import WatchOptions
from ._watcher import DeploymentWatcher

__all__ = [
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
