"""The one cattrs converter: wire dicts ⇄ models, and how a body that does not fit is worded.

Every hook lives here, so the models (:mod:`wamanager._models`) stay plain attrs classes:

* shapes are checked, not coerced: a string where an array belongs, or a non-object where an
  object belongs, fails instead of becoming characters or an all-default model;
* ``str`` fields accept strings (and integers, an id sent as a number) and nothing else;
* ``str | Enum`` fields accept any string on the way in and send the enum's value out;
* requests omit optional fields left at ``None``, so partial updates stay partial;
* ``Deployment``, parsed on every poll, has a hand-written fast path for the plain shape.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, get_args, get_origin

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from ._models import (
    CurrentState,
    Deployment,
    DeploymentRequest,
    OTPMethod,
    Profile,
    StickerCreate,
    StickerpackCreate,
    Vertical,
)
from ._states import DeploymentState

__all__ = ["converter", "describe_structure_error", "structure", "unstructure"]

T = TypeVar("T")


def _structure_text(value: Any, _: Any) -> str:
    # cattrs would ``str()`` anything (a list becomes "['a']"); numbers are the only other
    # JSON value that plausibly stands for a string (an id sent as a number).
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise TypeError(f"expected a string, not {type(value).__name__}")


def _is_homogeneous_tuple(cls: Any) -> bool:
    args = get_args(cls)
    return get_origin(cls) is tuple and len(args) == 2 and args[1] is Ellipsis


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=False)
    conv.register_structure_hook(str, _structure_text)
    conv.register_structure_hook(
        DeploymentState, lambda value, _: DeploymentState(_structure_text(value, None))
    )

    # Shapes are checked, not coerced: cattrs alone would split a string where an array
    # belongs into characters, and build an all-default object from any non-object.
    def tuple_hook(cls: Any) -> Callable[[Any, Any], tuple[Any, ...]]:
        item_type = get_args(cls)[0]
        item_hook = conv.get_structure_hook(item_type)

        def structure_tuple(value: Any, _: Any) -> tuple[Any, ...]:
            if not isinstance(value, list):
                raise TypeError(f"expected a JSON array, not {type(value).__name__}")
            return tuple(item_hook(item, item_type) for item in value)

        return structure_tuple

    def object_hook(cls: Any) -> Callable[[Any, Any], Any]:
        inner = make_dict_structure_fn(cls, conv)

        def structure_object(value: Any, _: Any) -> Any:
            if not isinstance(value, dict):
                raise TypeError(f"expected a JSON object, not {type(value).__name__}")
            return inner(value, cls)

        return structure_object

    conv.register_structure_hook_factory(_is_homogeneous_tuple, tuple_hook)
    conv.register_structure_hook_factory(attrs.has, object_hook)
    _register_deployment_fast_path(conv, object_hook(Deployment), object_hook(CurrentState))
    # ``str | Enum`` unions: accept any string on the way in, send the enum's value out.
    for enum_union in (OTPMethod | str, Vertical | str, Vertical | str | None):
        conv.register_structure_hook(enum_union, lambda value, _: value)
    for enum_cls in (OTPMethod, Vertical):
        conv.register_unstructure_hook(enum_cls, lambda member: member.value)
    # Requests omit optional fields left at their default (None), so partial updates stay
    # partial and the spec's "optional" fields are never sent as null.
    for cls in (Profile, StickerpackCreate):
        conv.register_unstructure_hook(
            cls, make_dict_unstructure_fn(cls, conv, _cattrs_omit_if_default=True)
        )
    # ``method`` is required by the spec even though the model defaults it to sms.
    conv.register_unstructure_hook(
        DeploymentRequest,
        make_dict_unstructure_fn(
            DeploymentRequest,
            conv,
            _cattrs_omit_if_default=True,
            method=override(omit_if_default=False),
        ),
    )
    conv.register_unstructure_hook(
        StickerCreate,
        make_dict_unstructure_fn(StickerCreate, conv, emojis=override(omit_if_default=True)),
    )
    return conv


_TEXT_OR_NONE = (str, type(None))
_KNOWN_STATES = {state.value: state for state in DeploymentState}


def _register_deployment_fast_path(
    conv: cattrs.Converter,
    slow_deployment: Callable[[Any, Any], Deployment],
    slow_state: Callable[[Any, Any], CurrentState],
) -> None:
    """Hand-written hooks for the most parsed bodies (every poll is a ``Deployment``).

    They build the model directly when every field is a plain string (or absent / null) and
    hand anything else to the generated hooks, so results and errors are exactly theirs:
    the fast path is only a shortcut for the shape the API always sends.
    """

    def current_state(value: Any, cls: Any) -> CurrentState:
        if type(value) is dict:
            title = value.get("title")
            detail = value.get("detail")
            if type(title) is str and (detail is None or type(detail) is str):
                return CurrentState(_KNOWN_STATES.get(title) or DeploymentState(title), detail)
        return slow_state(value, cls)

    def deployment(value: Any, cls: Any) -> Deployment:
        if type(value) is dict:
            get = value.get
            deployment_id = get("deployment_id")
            waba_id = get("waba_id")
            country_code = get("country_code")
            number = get("number")
            api_key = get("api_key")
            state = get("current_state")
            if (
                type(deployment_id) is str
                and type(waba_id) in _TEXT_OR_NONE
                and type(country_code) in _TEXT_OR_NONE
                and type(number) in _TEXT_OR_NONE
                and type(api_key) in _TEXT_OR_NONE
            ):
                if state is None:
                    return Deployment(deployment_id, waba_id, country_code, number, api_key)
                if type(state) is dict:
                    title = state.get("title")
                    detail = state.get("detail")
                    if type(title) is str and (detail is None or type(detail) is str):
                        known = _KNOWN_STATES.get(title) or DeploymentState(title)
                        return Deployment(
                            deployment_id,
                            waba_id,
                            country_code,
                            number,
                            api_key,
                            CurrentState(known, detail),
                        )
        # Not the plain shape: the generated hook decides, and words any error.
        return slow_deployment(value, cls)

    conv.register_structure_hook(CurrentState, current_state)
    conv.register_structure_hook(Deployment, deployment)


#: The one converter: wire dicts ⇄ models.
converter: cattrs.Converter = _make_converter()


def structure(data: Any, cls: type[T]) -> T:
    """Parse a decoded JSON body into ``cls``.

    Raises for a body of the wrong shape (the converter's hooks check every object and
    array); the resources turn that into :class:`~wamanager.UnexpectedResponse`.
    """
    return converter.structure(data, cls)


def unstructure(obj: Any) -> Any:
    """Turn a request model into its JSON-ready dict (after :func:`wamanager._rules.validate`)."""
    return converter.unstructure(obj)


def describe_structure_error(exc: Exception, cls: type[Any]) -> str:
    """A one-line, readable account of why a body did not fit ``cls``."""
    if isinstance(exc, cattrs.BaseValidationError):
        lines = cattrs.transform_error(exc, path=f"$({cls.__name__})")
        return "; ".join(lines)
    return f"{type(exc).__name__}: {exc}"
