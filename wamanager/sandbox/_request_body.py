"""From a request body to the rules' input, and from the rules' verdict to the spec's answer.

The rules themselves are the client's (:mod:`wamanager._rules`). What is the sandbox's own:
reading the body as production does, and answering each operation's bad fields with the
error the spec gives that operation.

A body must be sent as ``application/json``, be a JSON object of at most ``max_body_size``
bytes (413 beyond, answered by the problems middleware) nested at most :data:`MAX_DEPTH`
deep, and hold only valid Unicode text (a lone surrogate is a 400 and nothing is stored).
Anything else is 400 ``#invalid-json``. Then each operation's rule answers:

======================  =====================================================================
operation               missing / invalid field
======================  =====================================================================
create deployment       422 ``#unprocessable`` (the spec's own ErrorUnprocessable example,
                        "Request was missing a waba_id", is this operation's; its responses
                        list omits 422)
resend-otp              400 ``#invalid-json`` (the operation lists 400, not 422)
verify                  422 ``#verification-failed``
update profile          422 ``#unprocessable-profile-update``
update photo            422 ``#unprocessable``
create stickerpack      400 ``#invalid-json`` (lists 400, not 422)
create sticker          400 ``#invalid-json`` (lists neither; 400 as for sticker packs)
======================  =====================================================================

``invalid_parameters`` names each bad field.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import attrs
from aiohttp import web

from .. import _rules as rules
from ._problems import PROVISIONING, SandboxProblem, invalid_json

__all__ = [
    "CREATE_DEPLOYMENT",
    "CREATE_STICKER",
    "CREATE_STICKERPACK",
    "MAX_DEPTH",
    "RESEND_OTP",
    "UPDATE_PHOTO",
    "UPDATE_PROFILE",
    "VERIFY",
    "BodyRule",
    "read_body",
]

#: JSON nested deeper than this is refused (this API's bodies are two levels deep).
MAX_DEPTH = 16

Params = list[tuple[str, str]]

_JSON_REQUIRED = "Send a JSON request body, including a Content-Type header of application/json"


async def read_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object, or a 4xx problem: never a 500, whatever was sent."""
    if request.content_type != "application/json":
        sent = request.headers.get("Content-Type", "none")
        raise invalid_json(f"{_JSON_REQUIRED} (got {sent!r}).")
    raw = await request.read()  # over client_max_size: HTTPRequestEntityTooLarge, a 413
    if not raw.strip():
        raise invalid_json(f"The request body is empty. {_JSON_REQUIRED}.")
    if _too_deep(raw):
        raise invalid_json(f"The request body is nested deeper than {MAX_DEPTH} levels.")
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise invalid_json(f"The request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise invalid_json(f"The request body must be a JSON object, not {type(data).__name__}.")
    bad = _surrogates(data, "")
    if bad:
        raise invalid_json("The request body holds text that is not valid Unicode.", bad)
    return data


def _too_deep(raw: bytes) -> bool:
    """Whether the JSON text nests arrays/objects deeper than :data:`MAX_DEPTH`."""
    if raw.count(b"[") + raw.count(b"{") <= MAX_DEPTH:
        return False  # the common case, answered at C speed
    depth, in_string, escaped = 0, False, False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in b"[{":
            depth += 1
            if depth > MAX_DEPTH:
                return True
        elif byte in b"]}":
            depth -= 1
    return False


def _surrogates(value: Any, path: str) -> Params:
    """Every place in a decoded body (keys and strings) that holds a lone surrogate."""
    found: Params = []
    if isinstance(value, str):
        if rules.find_lone_surrogate(value):
            found.append((path or "body", rules.LONE_SURROGATE_REASON))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += _surrogates(item, f"{path}[{i}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            name = f"{path}.{key}" if path else key
            if rules.find_lone_surrogate(key):
                found.append((path or "body", "has a key with a lone surrogate (invalid Unicode)"))
            else:
                found += _surrogates(item, name)
    return found


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


@attrs.frozen
class BodyRule:
    """One operation's check of its body: the shared rule, and the answer the spec gives."""

    problems: Callable[[Mapping[str, Any]], Params]
    status: int
    fragment: str
    title: str

    def check(self, body: Mapping[str, Any]) -> None:
        """Raise the operation's :class:`SandboxProblem` naming every bad field, if any."""
        found = self.problems(body)
        if found:
            detail = "; ".join(
                f"Request was missing a {field}" if reason == "is required" else f"{field} {reason}"
                for field, reason in found
            )
            raise SandboxProblem(
                self.status,
                f"{PROVISIONING}#{self.fragment}",
                self.title,
                detail,
                invalid_parameters=found,
            )


# Each operation's rule: the table in this module's docstring, as data.
_UNPROCESSABLE = "Unprocessable Entity"
CREATE_DEPLOYMENT = BodyRule(rules.deployment_problems, 422, "unprocessable", _UNPROCESSABLE)
RESEND_OTP = BodyRule(rules.resend_problems, 400, "invalid-json", "Bad Request")
VERIFY = BodyRule(rules.verify_problems, 422, "verification-failed", "Verification Failed")
UPDATE_PROFILE = BodyRule(
    rules.profile_problems, 422, "unprocessable-profile-update", _UNPROCESSABLE
)
UPDATE_PHOTO = BodyRule(rules.photo_problems, 422, "unprocessable", _UNPROCESSABLE)
CREATE_STICKERPACK = BodyRule(rules.stickerpack_problems, 400, "invalid-json", "Bad Request")
CREATE_STICKER = BodyRule(rules.sticker_problems, 400, "invalid-json", "Bad Request")
