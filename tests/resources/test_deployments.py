"""wam.deployments: the number-in-use conflict, unknown and missing states."""

from __future__ import annotations

import pytest

from wamanager import Conflict, DeploymentState, NumberInUse, WhatsAppManager
from wamanager.testing import FakeAPI

from .._support import DEP, EXISTING, OPS, load_spec, problem_from_schema

SPEC = load_spec()


async def test_number_in_use_carries_existing_deployment_id(
    api: FakeAPI, client: WhatsAppManager
) -> None:
    """409 #number-in-use on create parses the existing deployment's id from the detail."""
    body = problem_from_schema(SPEC, {"$ref": "#/components/schemas/ErrorConflictCreateDeployment"})
    assert body["detail"] == f"Active deployment already exists with id {EXISTING}"
    api.reply(409, body)
    with pytest.raises(NumberInUse) as caught:
        await OPS["createDeployment"].call(client)
    assert caught.value.existing_deployment_id == EXISTING
    assert isinstance(caught.value, Conflict)


async def test_number_in_use_without_an_id_gives_none(
    api: FakeAPI, client: WhatsAppManager
) -> None:
    """A #number-in-use detail that names no uuid leaves existing_deployment_id None."""
    api.reply(409, {"type": "https://x/y#number-in-use", "title": "Number already in use"})
    with pytest.raises(NumberInUse) as caught:
        await OPS["createDeployment"].call(client)
    assert caught.value.existing_deployment_id is None


@pytest.mark.parametrize("state", ["PAUSED", "MIGRATING_TO_CLOUD_API"], ids=["paused", "migrating"])
async def test_unknown_state_title_is_kept(
    state: str, api: FakeAPI, client: WhatsAppManager
) -> None:
    """An unknown current_state.title parses, keeps its raw string and is not terminal."""
    api.reply(200, {"deployment_id": DEP, "current_state": {"title": state}, "meta": {"x": 1}})
    deployment = await client.deployments.get(DEP)
    assert deployment.state == state
    assert str(deployment.state) == state
    assert deployment.state is DeploymentState(state)
    assert deployment.state.is_known is False
    assert deployment.state.is_terminal is False


async def test_deployment_without_current_state_parses(
    api: FakeAPI, client: WhatsAppManager
) -> None:
    """A deployment body with only its id parses, with state and detail None."""
    api.reply(200, {"deployment_id": DEP})
    deployment = await client.deployments.get(DEP)
    assert (deployment.state, deployment.detail, deployment.waba_id) == (None, None, None)
