"""``/deployments/{id}/resend-otp`` and ``/verify``: the one-time password steps."""

from __future__ import annotations

from .._models import OTPMethod, ResendRequest, ResendResult, VerifyRequest, VerifyResult
from ._base import Resource

_RESEND = "/deployments/{deployment_id}/resend-otp"
_VERIFY = "/deployments/{deployment_id}/verify"


class OTP(Resource):
    """The OTP the API sends to the number in CODE_SENT: verify it, or ask for another."""

    __slots__ = ()

    async def resend(
        self, deployment_id: str, method: OTPMethod | str | None = None
    ) -> ResendResult:
        """Send a new code by ``method`` (``"sms"`` or ``"voice"``); the old code stops working.

        ``method=None`` (the default) sends no method, so the API uses the deployment's own
        (the spec's ``Resend-OTP`` body makes ``method`` optional).

        The spec suggests waiting five minutes for a code before asking again. Raises
        :class:`~wamanager.ResendConflict` when the state allows no resend and
        :class:`~wamanager.Throttled` at once when asked too often: a 429 here is this
        deployment's OTP cool-down, not the account's limit, so it is neither retried nor
        allowed to slow the client's other calls (wait ``retry_after`` seconds, then try
        again). Retried only when the request surely never reached the server (connection
        refused).
        """
        body: object = {} if method is None else ResendRequest(method=method)
        return await self._call(
            "POST",
            _RESEND,
            ResendResult,
            "resend OTP",
            ids={"deployment_id": deployment_id},
            body=body,
            local_throttle=True,
        )

    async def verify(self, deployment_id: str, code: str) -> VerifyResult:
        """Submit the code the number received (answers 201; the state moves to CODE_VERIFIED).

        Raises :class:`~wamanager.VerificationFailed` for a wrong code or too many
        attempts, and :class:`~wamanager.Throttled` at once on a 429 (the OTP
        cool-down of this deployment, as for :meth:`resend`). Retried only when the request
        surely never reached the server.
        The code is a secret: it is never logged nor shown in an error.
        """
        return await self._call(
            "POST",
            _VERIFY,
            VerifyResult,
            "verify OTP",
            ids={"deployment_id": deployment_id},
            body=VerifyRequest(code=code),
            local_throttle=True,
        )
