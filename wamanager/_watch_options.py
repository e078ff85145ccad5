"""The watcher options ``wam.watch()``, ``provision()`` and ``provision_many()`` accept.

:class:`WatchOptions` names them; :func:`watch_arguments` checks a set of them and folds the
OTP limits given one by one into one :class:`~wamanager.OTPPolicy`, before anything is sent.
"""

from __future__ import annotations

from typing import Any, TypedDict

import attrs

from ._clock import Clock
from ._errors import FieldProblem, ValidationError
from ._models import OTPMethod
from ._otp_driver import ProgressHook
from ._policy import OTPPolicy, OTPProgress, PollPolicy

__all__ = ["WatchOptions", "option_problems", "watch_arguments"]


class WatchOptions(TypedDict, total=False):
    """The watcher options ``wam.watch()``, ``provision()`` and ``provision_many()`` accept.

    ``resend_after``, ``max_resends``, ``max_verify_attempts`` and ``fallback_to_voice``
    override the fields of ``otp_policy`` (an :class:`~wamanager.OTPPolicy`; default limits
    when not given). See :class:`~wamanager.DeploymentWatcher` for the others.
    """

    policy: PollPolicy | None
    otp_policy: OTPPolicy | None
    resend_after: float
    max_resends: int
    max_verify_attempts: int
    fallback_to_voice: bool
    clock: Clock
    progress: OTPProgress | None
    method: OTPMethod | str | None
    on_progress: ProgressHook | None


_OTP_POLICY_FIELDS = frozenset(f.name for f in attrs.fields(OTPPolicy))
# The delivery methods, as given: a plain list, so that any value can be looked up in it.
_METHODS = [m.value for m in OTPMethod]


def watch_arguments(options: WatchOptions) -> dict[str, Any]:
    """The :class:`~wamanager.DeploymentWatcher` keyword arguments for ``options``.

    The OTP limits given one by one are folded into one :class:`~wamanager.OTPPolicy`. An
    unknown option raises :class:`~wamanager.ValidationError` (a misspelt limit must
    not be silently ignored).
    """
    unknown = sorted(set(options) - set(WatchOptions.__annotations__))
    if unknown:
        raise ValidationError(
            [(name, "is not a watcher option") for name in unknown], model="watch options"
        )
    arguments: dict[str, Any] = dict(options)
    problems = option_problems(arguments)
    if problems:
        raise ValidationError(problems, model="watch options")
    limits = {name: arguments.pop(name) for name in _OTP_POLICY_FIELDS if name in arguments}
    if limits:
        arguments["otp_policy"] = attrs.evolve(arguments.get("otp_policy") or OTPPolicy(), **limits)
    return arguments


def option_problems(options: dict[str, Any]) -> list[FieldProblem]:
    """What is wrong with the types of the watcher ``options`` given (the OTP limits are
    checked by :class:`~wamanager.OTPPolicy`)."""
    problems: list[FieldProblem] = []
    for name, kind in (
        ("policy", PollPolicy),
        ("otp_policy", OTPPolicy),
        ("progress", OTPProgress),
    ):
        value = options.get(name)
        if value is not None and not isinstance(value, kind):
            problems.append((name, f"must be a {kind.__name__} or None"))
    method = options.get("method")
    if method is not None and method not in _METHODS:
        problems.append(("method", "must be 'sms' or 'voice'"))
    on_progress = options.get("on_progress")
    if on_progress is not None and not callable(on_progress):
        problems.append(("on_progress", "must be an async function (progress) or None"))
    if "clock" in options and not isinstance(options["clock"], Clock):
        problems.append(("clock", "must have now() and an async sleep(seconds)"))
    return problems
