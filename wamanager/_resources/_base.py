"""What every resource group shares: one request helper over the session, and its checks.

Every resource method is a line or two over :meth:`Resource._call` (anthropic's
``self._post(path, body=..., cast_to=...)`` is the model): it validates and encodes the
request model, sends it through the session (retries, rate control, errors), and parses the
answer into ``cast_to``; :meth:`Resource._call_first` also unwraps the one-item lists the API
wraps single results in.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any, TypeVar

from .._checks import UNSENDABLE
from .._converter import converter, describe_structure_error, unstructure
from .._errors import UnexpectedResponse, ValidationError
from .._rules import validate
from .._session import Response, Session

T = TypeVar("T")
U = TypeVar("U")

#: The converter's structure hook of each response model, looked up once.
_HOOKS: dict[type[Any], Callable[[Any, Any], Any]] = {}


class Resource:
    """Base of the resource groups: holds the session that sends their requests."""

    __slots__ = ("_session",)

    def __init__(self, session: Session) -> None:
        self._session = session

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self._session.base_url}>"

    def _send(
        self,
        method: str,
        path: str,
        ids: Mapping[str, str],
        *,
        body: object = None,
        query: Mapping[str, str] | None = None,
        replay_safe: bool | None = None,
        local_throttle: bool = False,
    ) -> Coroutine[Any, Any, Response]:
        """Send one request (await the result): ``body`` is a request model (validated now,
        then encoded) or a ready JSON value; ``ids`` fill the path template. Not a
        coroutine itself: it hands back the session's, one frame less on every call."""
        if body is not None and not isinstance(body, dict):
            validate(body)
            body = unstructure(body)
        return self._session.request(
            method,
            path,
            path_params=ids,
            params=query,
            json_body=body,
            replay_safe=replay_safe,
            local_throttle=local_throttle,
        )

    async def _call(self, method: str, path: str, cast_to: type[T], what: str, **options: Any) -> T:
        """:meth:`_send`, then the answer parsed into ``cast_to`` (``what`` names the call in
        an :class:`~wamanager.UnexpectedResponse`)."""
        response = await self._send(method, path, **options)
        return parse_data(response.data, cast_to, what=what, status=response.status)

    async def _call_first(
        self,
        method: str,
        path: str,
        cast_to: type[T],
        what: str,
        items: Callable[[T], Sequence[U]],
        **options: Any,
    ) -> U:
        """:meth:`_call`, then the first of the ``items`` the answer wraps its one result in."""
        response = await self._send(method, path, **options)
        return first(items(parse(response, cast_to, what=what)), what=what, status=response.status)


def parse(response: Response, cls: type[T], *, what: str) -> T:
    """Structure a response body into ``cls``, or raise :class:`UnexpectedResponse`."""
    return parse_data(response.data, cls, what=what, status=response.status)


def parse_data(data: Any, cls: type[T], *, what: str, status: int) -> T:
    """Structure one decoded value into ``cls``; ``status`` is the answer's, for the error."""
    hook = _HOOKS.get(cls) or _hook(cls)
    try:
        result: T = hook(data, cls)
    except Exception as exc:
        reason = describe_structure_error(exc, cls)
        raise UnexpectedResponse(
            f"{what}: unexpected response body: {reason}", status=status
        ) from None
    return result


def _hook(cls: type[Any]) -> Callable[[Any, Any], Any]:
    hook = _HOOKS[cls] = converter.get_structure_hook(cls)
    return hook


def first(items: Sequence[T], *, what: str, status: int) -> T:
    """The first item of a one-item list the API wraps single results in."""
    if not items:
        raise UnexpectedResponse(f"{what}: the response held no item", status=status)
    return items[0]


def require(value: object, cls: type[T], field: str) -> T:
    """``value`` if it is a ``cls``, else :class:`ValidationError` naming ``field``."""
    if not isinstance(value, cls):
        raise ValidationError(
            [(field, f"must be a {cls.__name__}, not {type(value).__name__}")],
            model=cls.__name__,
        )
    return value


def namespace_query(namespace: str | None) -> dict[str, str] | None:
    """The ``?namespace=`` query (``"whatsapp"`` selects first-party packs)."""
    if namespace is None:
        return None
    if not isinstance(namespace, str) or not namespace or UNSENDABLE(namespace):
        raise ValidationError(
            [("namespace", "must be a non-empty string (no control characters) or None")]
        )
    return {"namespace": namespace}
