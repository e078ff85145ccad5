"""What every resource group shares: a session and body parsing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from ..errors import UnexpectedResponse, ValidationError
from ..models import describe_structure_error, structure
from ..session import Session

T = TypeVar("T")


class Resource:
    """Base of the resource groups: holds the session that sends their requests."""

    __slots__ = ("_session",)

    def __init__(self, session: Session) -> None:
        self._session = session

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self._session.base_url}>"


def parse(data: Any, cls: type[T], *, what: str) -> T:
    """Structure a response body into ``cls``, or raise :class:`UnexpectedResponse`."""
    try:
        return structure(data, cls)
    except Exception as exc:
        reason = describe_structure_error(exc, cls)
        raise UnexpectedResponse(
            f"{what}: unexpected response body: {reason}", status=200
        ) from None


def first(items: Sequence[T], *, what: str) -> T:
    """The first item of a one-item list the API wraps single results in."""
    if not items:
        raise UnexpectedResponse(f"{what}: the response held no item", status=200)
    return items[0]


def namespace_query(namespace: str | None) -> dict[str, str] | None:
    """The ``?namespace=`` query (``"whatsapp"`` selects first-party packs)."""
    if namespace is None:
        return None
    if not isinstance(namespace, str) or not namespace:
        raise ValidationError([("namespace", "must be a non-empty string or None")])
    return {"namespace": namespace}
