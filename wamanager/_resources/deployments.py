"""``/deployments``: create, read, list and delete deployments."""

from __future__ import annotations

import builtins

from .._errors import UnexpectedResponse
from .._models import Deployment, DeploymentRequest
from ._base import Resource, parse_data, require

_ALL = "/deployments"
_ONE = "/deployments/{deployment_id}"


class Deployments(Resource):
    """Deployments: one per WhatsApp number being provisioned."""

    __slots__ = ()

    async def create(self, request: DeploymentRequest) -> Deployment:
        """Start provisioning a number (``POST /deployments``, answers 202).

        The request is validated first (:class:`~wamanager.ValidationError`). Creation
        is retried on transient failures: a repeat that reaches the server after the first
        did answers :class:`~wamanager.NumberInUse`, whose
        ``existing_deployment_id`` is the deployment to adopt.
        Raises :class:`~wamanager.Forbidden` when the account may not use the API.
        """
        body = require(request, DeploymentRequest, "request")
        return await self._call(
            "POST", _ALL, Deployment, "create deployment", ids={}, body=body, replay_safe=True
        )

    async def get(self, deployment_id: str) -> Deployment:
        """One deployment and its ``current_state``. Raises :class:`~wamanager.NotFound`."""
        ids = {"deployment_id": deployment_id}
        return await self._call("GET", _ONE, Deployment, "get deployment", ids=ids)

    async def list(self) -> builtins.list[Deployment]:
        """Every deployment of the account (``GET /deployments``, a JSON array).

        Not in the v0.1.5 spec; documented in Vonage's sticker guide.
        """
        status, data = await self._send("GET", _ALL, {})
        if not isinstance(data, builtins.list):
            raise UnexpectedResponse("list deployments: expected a JSON array", status=status)
        return [
            parse_data(item, Deployment, what="list deployments", status=status) for item in data
        ]

    async def delete(self, deployment_id: str) -> None:
        """Delete a deployment (answers 204; it then moves through DELETING to DELETED).

        Raises :class:`~wamanager.StateConflict` when it is already being deleted or
        is in a state that cannot be deleted yet.
        """
        await self._send("DELETE", _ONE, {"deployment_id": deployment_id})
