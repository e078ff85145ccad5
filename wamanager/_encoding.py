"""What goes on the wire: request paths and bodies encoded, response bodies read and decoded.

Paths are filled from templates with each parameter percent-encoded; a value that could
change the route is refused before sending. Bodies are UTF-8 JSON; one that cannot be
encoded (a lone surrogate, a value that is not JSON) is a :class:`~wamanager.ValidationError`
naming the field, never quoting it. A response body is read whole when its length is known and
within the cap, else counted chunk by chunk as it is decompressed, and dropped past the cap.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import aiohttp

from ._checks import find_lone_surrogate
from ._errors import FieldProblem, ValidationError

__all__ = ["decode_json", "encode_json", "format_path", "read_capped"]

# --- request paths -----------------------------------------------------------------------

#: Ids made of unreserved characters only (not starting with a dot) need no further work.
_PLAIN_SEGMENT = re.compile(r"[A-Za-z0-9_~-][A-Za-z0-9._~-]*").fullmatch
_ROUTE_CHANGING = re.compile(r"[/?#\x00-\x1f\x7f-\x9f\ud800-\udfff]").search


def _segment_problem(value: object) -> str | None:
    if not isinstance(value, str) or not value:
        return "must be a non-empty string"
    if value in (".", ".."):
        # quote() leaves dots alone, and servers resolve dot segments: ".." would address
        # another resource.
        return "must not be '.' or '..'"
    if _ROUTE_CHANGING(value):
        return "must not contain '/', '?', '#', control characters or lone surrogates"
    return None


def format_path(template: str, params: Mapping[str, str]) -> str:
    """``template`` filled with ``params``, each percent-encoded; ValidationError naming every
    value that could change the route (empty, ``.``/``..``, ``/ ? #``, controls, surrogates)."""
    for value in params.values():
        if type(value) is not str or not _PLAIN_SEGMENT(value):
            return _checked_path(template, params)
    return template.format_map(params)  # plainly safe ids: no quoting, no copy


def _checked_path(template: str, params: Mapping[str, str]) -> str:
    values: dict[str, str] = {}
    problems: list[FieldProblem] = []
    for name, value in params.items():
        if type(value) is str and _PLAIN_SEGMENT(value):
            values[name] = value
            continue
        reason = _segment_problem(value)
        if reason is None:
            values[name] = quote(value, safe="")
        else:
            problems.append((name, reason))
    if problems:
        raise ValidationError(problems, model="path")
    return template.format_map(values)


# --- request bodies ----------------------------------------------------------------------


def _surrogate_field(value: Any, path: str = "body") -> str | None:
    """The path of the first string in a JSON value holding a lone surrogate."""
    if isinstance(value, str):
        return path if find_lone_surrogate(value) else None
    items: Any = ()
    if isinstance(value, Mapping):
        items = (
            (f"{path}.{key}" if path != "body" else str(key), item) for key, item in value.items()
        )
    elif isinstance(value, (list, tuple)):
        items = ((f"{path}[{i}]", item) for i, item in enumerate(value))
    for where, item in items:
        found = _surrogate_field(item, where)
        if found is not None:
            return found
    return None


def encode_json(body: Any) -> bytes:
    """The UTF-8 JSON of a request body; ValidationError (never quoting it) if impossible."""
    reason = None
    try:
        return json.dumps(body, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except UnicodeEncodeError:
        reason = "contains a lone surrogate, which is not valid UTF-8"
    except (TypeError, ValueError) as exc:
        reason = f"is not JSON ({type(exc).__name__})"
    # Raised outside the except clause: the codec error holds the whole body (its secrets
    # included), and must not travel along as this exception's context.
    field = _surrogate_field(body) or "body"
    raise ValidationError([(field, reason)], model="request body")


# --- response bodies ---------------------------------------------------------------------


async def read_capped(
    response: aiohttp.ClientResponse, length: int | None, cap: int
) -> bytes | None:
    """A body too long by its Content-Length, compressed, or of unknown length: counted as
    decompression yields it, chunk by chunk. ``None`` (and the connection closed, the rest
    unread) as soon as it passes ``cap`` bytes. (The body the request loop reads at once is
    the usual one: a Content-Length within the cap, no encoding.)"""
    if length is None or length <= cap:
        chunks = []
        size = 0
        async for chunk in response.content.iter_any():
            size += len(chunk)
            if size > cap:
                break
            chunks.append(chunk)
        else:
            return b"".join(chunks)
    response.close()
    return None


#: Decodes a ``str`` of JSON (one decoder, made once).
decode_json = json.JSONDecoder().decode
