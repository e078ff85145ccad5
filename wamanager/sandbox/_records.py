"""What the sandbox stores: a deployment as it keeps it, and a code in the OTP inbox.

Plain records with the JSON forms the API answers; the engine (:mod:`._engine`) is what
changes them.
"""

from __future__ import annotations

from typing import Any

import attrs

from .._states import DeploymentState
from ._config import Scenario
from ._stickers import StickerPacks

__all__ = ["OTPMessage", "StoredDeployment"]

_S = DeploymentState

#: ``current_state.detail`` of each state, unless the deployment has a detail of its own.
_STATE_DETAILS: dict[DeploymentState, str] = {
    _S.INITIALIZING: "Initializing deployment",
    _S.CREATING_CLUSTER: "Creating cluster",
    _S.CLUSTER_CREATED: "Cluster created",
    _S.CODE_SENT: "Verification code sent",
    _S.WRONG_CODE: "Wrong verification code",
    _S.CODE_VERIFIED: "Verification code accepted",
    _S.FINALIZING: "Assigning the number to your API key",
    _S.READY: "Deployment ready",
    _S.DELETING: "Deleting deployment",
    _S.DELETED: "Deployment deleted",
}


@attrs.frozen
class OTPMessage:
    """A code that reached the sandbox inbox (``sent_at`` is in sandbox seconds)."""

    deployment_id: str
    code: str = attrs.field(repr=False)
    method: str
    sent_at: float

    def to_json(self) -> dict[str, Any]:
        """The inbox endpoint's body: every field."""
        return attrs.asdict(self)


@attrs.define
class StoredDeployment:
    """One deployment as the sandbox keeps it."""

    deployment_id: str
    api_key: str
    country_code: str
    number: str
    waba_id: str
    method: str
    scenario: Scenario | None
    state: DeploymentState
    entered_at: float
    detail: str | None = None
    #: Why registration (the code request) will be refused, decided at creation.
    refused: str | None = None
    code: str | None = attrs.field(default=None, repr=False)
    inbox: OTPMessage | None = None
    wrong_codes: int = 0
    first_code_rejected: bool = False
    last_code_at: float | None = None
    profile: dict[str, Any] = attrs.field(factory=dict)
    photo_url: str | None = None
    packs: StickerPacks = attrs.field(factory=StickerPacks)

    @property
    def msisdn(self) -> str:
        """Country code and number."""
        return f"{self.country_code}{self.number}"

    def to_json(self) -> dict[str, Any]:
        """The ``DeploymentResponse`` body."""
        return {
            "deployment_id": self.deployment_id,
            "waba_id": self.waba_id,
            "country_code": self.country_code,
            "number": self.number,
            "api_key": self.api_key,
            "current_state": {
                "title": self.state.value,
                "detail": self.detail or _STATE_DETAILS.get(self.state, self.state.value),
            },
        }
