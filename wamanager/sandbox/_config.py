"""The sandbox's configuration: accounts, applications, scenarios, faults and timing, and where
it serves the API and its own control endpoints."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import attrs

from .._states import DeploymentState
from ._clock import SandboxClock

__all__ = [
    "API_PREFIX",
    "AUTO_STAGES",
    "CONTROL_PREFIX",
    "DEFAULT_ACCOUNT",
    "DEFAULT_API_KEY",
    "DEFAULT_API_SECRET",
    "DEFAULT_APPLICATION_ID",
    "DEFAULT_DURATIONS",
    "INBOX_PREFIX",
    "ON_PREMISES_BLOCKED_DETAIL",
    "REGISTRATION_LIMIT_DETAIL",
    "Account",
    "Application",
    "FaultConfig",
    "SandboxConfig",
    "Scenario",
]

_S = DeploymentState

#: Where the API lives, as on ``api.nexmo.com``.
API_PREFIX = "/v0.1/whatsapp-manager"
#: The sandbox's own endpoints: control API and OTP inbox; never rate limited nor faulted.
CONTROL_PREFIX = "/_sandbox"
#: The former name of :data:`CONTROL_PREFIX`.
INBOX_PREFIX = CONTROL_PREFIX

#: The api key of the account every sandbox has unless told otherwise.
DEFAULT_API_KEY = "sandbox-key"
#: Its secret (a sandbox-only value, printed by ``wamanager sandbox``).
DEFAULT_API_SECRET = "sandbox-secret"  # noqa: S105 - a documented, sandbox-only credential
#: The id of the application generated at startup for JWT auth.
DEFAULT_APPLICATION_ID = "aaaaaaaa-0000-4000-8000-000000000001"

#: States the sandbox leaves on its own, after a duration, and the state each leads to.
AUTO_STAGES: Mapping[DeploymentState, DeploymentState] = MappingProxyType(
    {
        _S.INITIALIZING: _S.CREATING_CLUSTER,
        _S.CREATING_CLUSTER: _S.CLUSTER_CREATED,
        _S.CLUSTER_CREATED: _S.CODE_SENT,
        _S.CODE_VERIFIED: _S.FINALIZING,
        _S.FINALIZING: _S.READY,
        _S.DELETING: _S.DELETED,
    }
)

#: Sandbox seconds spent in each automatic stage (close to what the real API takes).
DEFAULT_DURATIONS: Mapping[DeploymentState, float] = MappingProxyType(
    {
        _S.INITIALIZING: 5.0,
        _S.CREATING_CLUSTER: 120.0,
        _S.CLUSTER_CREATED: 5.0,
        _S.CODE_VERIFIED: 5.0,
        _S.FINALIZING: 30.0,
        _S.DELETING: 5.0,
    }
)


#: ``current_state.detail`` of a deployment refused by Meta's block of new On-Premises API
#: registrations (:meth:`Scenario.on_premises_blocked`). The sandbox's wording: Vonage
#: publishes no text for it, only that the API is deprecated as Meta retires On-Premises.
ON_PREMISES_BLOCKED_DETAIL = (
    "Registration failed: Meta no longer accepts new phone number registrations on the "
    "WhatsApp On-Premises API (it is being retired); register the number on the Cloud API"
)

#: ``current_state.detail`` of a deployment refused by Meta's limit of registrations of one
#: number (``max_registrations`` per ``registration_window``; Meta's error 133016).
REGISTRATION_LIMIT_DETAIL = (
    "Registration failed: Meta allows at most {limit} registrations of a phone number in "
    "{days:g} days (error 133016, account register/deregister rate limit exceeded); "
    "try again after the oldest one is {days:g} days old"
)


@attrs.frozen
class Account:
    """A Vonage account: basic credentials, and whether it may create deployments.

    ``forbidden`` accounts authenticate but get 403 on ``POST /deployments``. The api key
    also names the account when it authenticates with a JWT of one of its applications.
    """

    api_key: str
    api_secret: str = attrs.field(repr=False)
    forbidden: bool = False


@attrs.frozen
class Application:
    """A Vonage application: its id, RSA public key (PEM) and owning account's api key.

    Bearer JWTs signed RS256 by the matching private key, with this ``application_id`` claim
    and a future ``exp``, act as ``api_key``'s account.
    """

    application_id: str
    public_key: str = attrs.field(repr=False)
    api_key: str = DEFAULT_API_KEY


def _check_stage(
    instance: Scenario, attribute: attrs.Attribute[DeploymentState | None], value: object
) -> None:
    if value is not None and DeploymentState(str(value)) not in AUTO_STAGES:
        allowed = ", ".join(AUTO_STAGES)
        raise ValueError(f"{attribute.name} must be one of {allowed} (or None), not {value!r}")


def _optional_state(value: DeploymentState | str | None) -> DeploymentState | None:
    return None if value is None else DeploymentState(str(value))


@attrs.frozen
class Scenario:
    """A rule that makes deployments of matching numbers misbehave.

    ``match`` is a glob (:mod:`fnmatch`) on the full number, country code first
    (``"447700900001"``, ``"4477009000*"``). The first matching rule applies.

    * ``fail_at``: the deployment enters this automatic stage, then moves to ERROR with
      ``fail_detail`` instead of to the next stage.
    * ``reject_first_code``: the first verify is rejected even with the right code.
    * ``withhold_code_until_resend``: the first code never reaches the inbox; a resend does.
    * ``stuck_in``: the deployment never leaves this automatic stage.
    """

    match: str
    fail_at: DeploymentState | None = attrs.field(
        default=None, converter=_optional_state, validator=_check_stage
    )
    fail_detail: str = "Invalid vname certificate"
    reject_first_code: bool = False
    withhold_code_until_resend: bool = False
    stuck_in: DeploymentState | None = attrs.field(
        default=None, converter=_optional_state, validator=_check_stage
    )

    def matches(self, msisdn: str) -> bool:
        """Whether this rule applies to the full number ``msisdn``."""
        return fnmatch.fnmatchcase(msisdn, self.match)

    @classmethod
    def on_premises_blocked(cls, match: str = "*") -> Scenario:
        """Meta's block of new On-Premises API registrations, for numbers matching ``match``.

        The cluster is built, then registration is refused: the deployment moves from
        CLUSTER_CREATED to ERROR with :data:`ON_PREMISES_BLOCKED_DETAIL`, and no code is sent.
        """
        return cls(match, fail_at=_S.CLUSTER_CREATED, fail_detail=ON_PREMISES_BLOCKED_DETAIL)

    @classmethod
    def from_json(cls, data: object) -> Scenario:
        """A rule from its JSON form (the control API's); raises :class:`ValueError`.

        ``{"match": "4477*", "fail_at": "CREATING_CLUSTER"}``, or a preset:
        ``{"preset": "on_premises_blocked", "match": "*"}``.
        """
        if not isinstance(data, Mapping):
            raise ValueError("a scenario must be a JSON object")
        known = {a.name for a in attrs.fields(cls)} | {"preset"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown scenario field(s): {', '.join(map(str, unknown))}")
        match = data.get("match", "*" if "preset" in data else None)
        if not isinstance(match, str) or not match:
            raise ValueError("match must be a non-empty string (a glob on the full number)")
        if "preset" in data:
            if data["preset"] != "on_premises_blocked" or len(data) > 2:
                raise ValueError('the only preset is "on_premises_blocked" (with "match")')
            return cls.on_premises_blocked(match)
        kwargs: dict[str, Any] = {"match": match}
        for name, kind in (
            ("fail_at", (str, type(None))),
            ("stuck_in", (str, type(None))),
            ("fail_detail", (str,)),
            ("reject_first_code", (bool,)),
            ("withhold_code_until_resend", (bool,)),
        ):
            if name in data:
                if not isinstance(data[name], kind):
                    raise ValueError(f"{name} has the wrong type")
                kwargs[name] = data[name]
        return cls(**kwargs)

    def to_json(self) -> dict[str, Any]:
        """The rule's JSON form (what :meth:`from_json` reads)."""
        return {
            "match": self.match,
            "fail_at": None if self.fail_at is None else self.fail_at.value,
            "fail_detail": self.fail_detail,
            "reject_first_code": self.reject_first_code,
            "withhold_code_until_resend": self.withhold_code_until_resend,
            "stuck_in": None if self.stuck_in is None else self.stuck_in.value,
        }


def _rate(instance: FaultConfig, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{attribute.name} must be within [0, 1], not {value!r}")


def _latency(value: float | tuple[float, float]) -> tuple[float, float]:
    if isinstance(value, (int, float)):
        return (float(value), float(value))
    low, high = value
    return (float(low), float(high))


@attrs.frozen
class FaultConfig:
    """Seeded fault injection on the API paths (never on ``/_sandbox/*``).

    Each request draws, in order, from one ``random.Random(seed)``: a latency in
    ``latency`` (real seconds, a ``(low, high)`` range or one number), then whether to drop
    the connection (``drop_rate``), answer 500/503 (``error_rate``), answer 429 ``#throttled``
    with ``Retry-After: throttle_retry_after`` (``throttle_rate``) or, after the handler ran,
    cut the body short so it is not JSON (``malformed_rate``). Rates are fractions in [0, 1].
    """

    error_rate: float = attrs.field(default=0.0, validator=_rate)
    latency: tuple[float, float] = attrs.field(default=(0.0, 0.0), converter=_latency)
    drop_rate: float = attrs.field(default=0.0, validator=_rate)
    malformed_rate: float = attrs.field(default=0.0, validator=_rate)
    throttle_rate: float = attrs.field(default=0.0, validator=_rate)
    throttle_retry_after: int = attrs.field(default=1, validator=attrs.validators.ge(0))

    @property
    def active(self) -> bool:
        """Whether any fault can happen."""
        return bool(
            self.error_rate
            or self.drop_rate
            or self.malformed_rate
            or self.throttle_rate
            or self.latency[1] > 0
        )


def _durations(value: Mapping[DeploymentState | str, float]) -> Mapping[DeploymentState, float]:
    merged = dict(DEFAULT_DURATIONS)
    for state, seconds in value.items():
        key = DeploymentState(str(state))
        if key not in AUTO_STAGES:
            raise ValueError(f"{key} has no duration: it is not an automatic stage")
        if seconds < 0:
            raise ValueError(f"the duration of {key} must be >= 0")
        merged[key] = float(seconds)
    return MappingProxyType(merged)


#: The account every sandbox has unless ``accounts`` is given.
DEFAULT_ACCOUNT = Account(DEFAULT_API_KEY, DEFAULT_API_SECRET)


def _rate_limit(value: float | None) -> float | None:
    # 0 means "no limit", as ``--rate-limit 0`` does.
    if value is None or value == 0:
        return None
    if not value > 0:
        raise ValueError(f"rate_limit must be > 0, 0 or None, not {value!r}")
    return float(value)


@attrs.frozen
class SandboxConfig:
    """Everything a sandbox needs to know. Frozen; derive variants with ``attrs.evolve``.

    Times: ``durations``, ``resend_cooldown``, ``retention`` and ``registration_window`` are
    *sandbox* seconds (the clock runs ``speed`` times faster than real time, or only when
    told: ``clock``). ``rate_limit`` (requests per second per account, with ``rate_burst``)
    counts *real* seconds (the clock's seconds divided by its speed), as the ``Retry-After``
    values it sends do: under a :class:`~wamanager.sandbox.ManualClock` the bucket refills
    only when the clock is advanced.

    Args:
        accounts: the accounts that may authenticate (default: ``sandbox-key`` /
            ``sandbox-secret``).
        applications: applications whose JWTs are accepted. ``run_sandbox`` and the CLI
            add a generated default application when this is empty.
        basic_auth: also accept HTTP Basic credentials. Off by default: the spec applies
            ``bearerAuth`` only, so Basic answers 401 saying so.
        scenarios: :class:`Scenario` rules, first match wins.
        faults: :class:`FaultConfig`; ``seed`` makes its draws (and OTP codes) reproducible.
        speed: sandbox seconds per real second, used when ``clock`` is not given.
        clock: a :class:`~wamanager.sandbox.SandboxClock` (e.g. ``ManualClock()`` for tests).
        durations: per automatic stage, merged over :data:`DEFAULT_DURATIONS`.
        max_wrong_codes: the wrong code that reaches this count moves the deployment to ERROR.
        resend_cooldown: a resend sooner than this after the last code answers 429.
        retention: DELETED deployments are forgotten (404) this long after deletion.
        max_deployments: per account, not counting deleted ones; more creates answer 403.
        max_registrations: registrations of one number per ``registration_window`` (Meta's
            limit: 10 a week); the next deployment of it goes to ERROR.
        registration_window: the rolling window of ``max_registrations`` (7 days).
        max_stickerpacks: third-party sticker packs per deployment (each holds at most 30
            stickers, WhatsApp's limit); more answer 400.
        max_body_size: request bodies larger than this many bytes answer 413.
        rate_limit: requests per real second per account (default 30; ``None`` or ``0``:
            unlimited).
        rate_burst: requests an account may make at once before ``rate_limit`` applies.
    """

    accounts: tuple[Account, ...] = (DEFAULT_ACCOUNT,)
    applications: tuple[Application, ...] = ()
    basic_auth: bool = False
    scenarios: tuple[Scenario, ...] = attrs.field(default=(), converter=tuple)
    faults: FaultConfig = FaultConfig()
    seed: int | None = None
    speed: float = attrs.field(default=1.0, validator=attrs.validators.gt(0))
    clock: SandboxClock | None = attrs.field(default=None, eq=False)
    durations: Mapping[DeploymentState, float] = attrs.field(factory=dict, converter=_durations)
    max_wrong_codes: int = attrs.field(default=3, validator=attrs.validators.ge(1))
    resend_cooldown: float = attrs.field(default=30.0, validator=attrs.validators.ge(0))
    retention: float = attrs.field(default=3600.0, validator=attrs.validators.ge(0))
    max_deployments: int = attrs.field(default=10_000, validator=attrs.validators.ge(1))
    max_registrations: int = attrs.field(default=10, validator=attrs.validators.ge(1))
    registration_window: float = attrs.field(default=7 * 86_400.0, validator=attrs.validators.ge(0))
    max_stickerpacks: int = attrs.field(default=100, validator=attrs.validators.ge(1))
    max_body_size: int = attrs.field(default=64 * 1024, validator=attrs.validators.ge(1024))
    rate_limit: float | None = attrs.field(default=30.0, converter=_rate_limit)
    rate_burst: int = attrs.field(default=30, validator=attrs.validators.ge(1))
