"""``/deployments/{id}/resend-otp`` and ``/verify``: the one-time password steps."""

from __future__ import annotations

from ..models import (
    OTPMethod,
    ResendRequest,
    ResendResult,
    VerifyRequest,
    VerifyResult,
    unstructure,
)
from ..rules import validate
from ._base import Resource, parse


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
        :class:`~wamanager.errors.ResendConflict` when the state allows no resend and
        :class:`~wamanager.errors.Throttled` at once when asked too often: a 429 here is this
        deployment's OTP cool-down, not the account's limit, so it is neither retried nor
        allowed to slow the client's other calls (wait ``retry_after`` seconds, then try
        again). Retried only when the request surely never reached the server (connection
        refused).
        """
        body: dict[str, str] = {}
        if method is not None:
            request = ResendRequest(method=method)
            validate(request)
            body = unstructure(request)
        response = await self._session.request(
            "POST",
            "/deployments/{deployment_id}/resend-otp",
            path_params={"deployment_id": deployment_id},
            json_body=body,
            local_throttle=True,
        )
        return parse(response, ResendResult, what="resend OTP")

    async def verify(self, deployment_id: str, code: str) -> VerifyResult:
        """Submit the code the number received (answers 201; the state moves to CODE_VERIFIED).

        Raises :class:`~wamanager.errors.VerificationFailed` for a wrong code or too many
        attempts, and :class:`~wamanager.errors.Throttled` at once on a 429 (the OTP
        cool-down of this deployment, as for :meth:`resend`). Retried only when the request
        surely never reached the server.
        The code is a secret: it is never logged nor shown in an error.
        """
        request = VerifyRequest(code=code)
        validate(request)
        response = await self._session.request(
            "POST",
            "/deployments/{deployment_id}/verify",
            path_params={"deployment_id": deployment_id},
            json_body=unstructure(request),
            local_throttle=True,
        )
        return parse(response, VerifyResult, what="verify OTP")
