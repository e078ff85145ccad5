"""The client covers every operation of the spec, by an explicit operationId → method table."""

from __future__ import annotations

import inspect

from wamanager import BasicAuth, WhatsAppManager

from .._support import OPS, load_spec, spec_operations

#: Every spec operationId → (resource group attribute, method) on WhatsAppManager.
#: A new operation in the spec fails the test below until it is mapped (and implemented).
OPERATIONS: dict[str, tuple[str, str]] = {
    "createDeployment": ("deployments", "create"),
    "get_deployment": ("deployments", "get"),
    "deleteDeployment": ("deployments", "delete"),
    "resend-otp": ("otp", "resend"),
    "verify": ("otp", "verify"),
    "getProfileInfo": ("profiles", "get"),
    "updateProfile": ("profiles", "update"),
    "getProfilePhoto": ("profiles", "get_photo"),
    "updateProfilePhoto": ("profiles", "update_photo"),
    "getStickerpacks": ("stickerpacks", "list"),
    "createStickerpacks": ("stickerpacks", "create"),
    "getWhatsappStickerpacks": ("stickerpacks", "list"),  # namespace="whatsapp"
    "getStickerpacksById": ("stickerpacks", "get"),
    "getStickers": ("stickers", "list"),
    "createStickers": ("stickers", "create"),
    "getStickerByIndex": ("stickers", "get"),
    "deleteStickerByIndex": ("stickers", "delete"),
}
#: Operations the client has beyond the spec (documented elsewhere by Vonage).
EXTRA_OPERATIONS: dict[str, tuple[str, str]] = {"listDeployments": ("deployments", "list")}


def test_spec_has_seventeen_operations() -> None:
    """The spec file read is the one this table was written for: 17 operations."""
    assert len(spec_operations(load_spec())) == 17


def test_mapping_covers_exactly_the_spec_operation_ids() -> None:
    """Every spec operationId is mapped, and nothing is mapped that the spec lacks."""
    spec_ids = set(spec_operations(load_spec()))
    assert spec_ids - set(OPERATIONS) == set(), "spec operations with no client method"
    assert set(OPERATIONS) - spec_ids == set(), "mapped operations the spec does not have"


async def test_every_mapped_method_exists_on_the_client() -> None:
    """Every mapped (resource, method) is an async method of a WhatsAppManager."""
    async with WhatsAppManager(BasicAuth("key", "secret")) as client:
        for op_id, (resource, method) in {**OPERATIONS, **EXTRA_OPERATIONS}.items():
            group = getattr(client, resource, None)
            assert group is not None, f"{op_id}: WhatsAppManager has no .{resource}"
            func = getattr(group, method, None)
            assert func is not None, f"{op_id}: .{resource} has no .{method}()"
            assert inspect.iscoroutinefunction(func), f"{op_id}: .{resource}.{method} not async"
            assert (func.__doc__ or "").strip(), f"{op_id}: .{resource}.{method} has no docstring"


def test_every_operation_has_a_request_and_response_test_case() -> None:
    """The shared operation table (used by the resource and OpenAPI tests) covers every one."""
    assert set(OPS) == set(OPERATIONS) | set(EXTRA_OPERATIONS)


def test_table_methods_and_paths_agree_with_the_spec() -> None:
    """Each tested operation uses the spec's HTTP method and a path that fits its template."""
    from .test_openapi_requests import match_operation

    spec = load_spec()
    for op_id, op in OPS.items():
        if op_id in EXTRA_OPERATIONS:
            continue
        assert match_operation(spec, op.http_method, op.path, op.query) == op_id
