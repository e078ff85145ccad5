"""Checks of input values that several modules share, so each fault is worded one way.

A check returns the reason a value is wrong (``None`` when it is fine); :func:`validator`
turns one into an attrs validator that raises :class:`~wamanager.ValidationError` naming the
field and the class. No reason ever quotes the value of a secret.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any, TypeGuard, TypeVar

import attrs

from ._errors import FieldProblem, ValidationError

__all__ = [
    "UNSENDABLE",
    "collect",
    "count_problem",
    "find_lone_surrogate",
    "is_count",
    "is_number",
    "positive_problem",
    "validator",
]

T = TypeVar("T")
Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]

#: Finds what no header value, id or query may hold: control characters (a pasted trailing
#: newline, say) and lone surrogates (not encodable as UTF-8).
UNSENDABLE = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]").search
_SURROGATE = re.compile("[\ud800-\udfff]")


def find_lone_surrogate(value: str) -> bool:
    """Whether ``value`` holds a lone surrogate (``"\\ud800"``), which UTF-8 cannot encode."""
    return _SURROGATE.search(value) is not None


def is_number(value: object) -> TypeGuard[int | float]:
    """Whether ``value`` is an int or a float (``True`` and ``False`` are not numbers here)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_count(value: object) -> TypeGuard[int]:
    """Whether ``value`` is an int (not a bool)."""
    return isinstance(value, int) and not isinstance(value, bool)


def count_problem(value: object, minimum: int) -> str | None:
    """Why ``value`` is not an int of at least ``minimum``."""
    if is_count(value) and value >= minimum:
        return None
    return f"must be an int of at least {minimum}"


def positive_problem(value: object) -> str | None:
    """Why ``value`` is not a finite number above zero."""
    if not is_number(value):
        return f"must be a number, not {type(value).__name__}"
    if not (math.isfinite(value) and value > 0):
        return f"must be a finite number > 0, not {value!r}"
    return None


def validator(problem: Callable[[Any], str | None], *, prefix: str = "") -> Validator:
    """An attrs validator raising :class:`~wamanager.ValidationError` with ``problem``'s
    reason, naming the field (after ``prefix``) and the class as the model."""

    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        reason = problem(value)
        if reason is not None:
            field = prefix + attribute.name
            raise ValidationError([(field, reason)], model=type(instance).__name__)

    return check


def collect(problems: list[FieldProblem], check: Callable[[], T]) -> T | None:
    """Run ``check``; its ValidationError's fields join ``problems`` (then None is returned),
    so that a constructor can name every bad argument at once."""
    try:
        return check()
    except ValidationError as exc:
        problems.extend(exc.errors)
        return None
