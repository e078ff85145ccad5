"""The sandbox's state and rules: deployments per account, the state machine that moves them,
the OTP codes, and the bounds on what is stored.

Everything here is synchronous and in memory. Handlers call it only after reading the
request body, so each read-modify-write runs without an ``await`` in the middle: concurrent
requests on the one event loop can never interleave inside it.

Stage changes are computed lazily: a deployment remembers when it entered its state, and
every access first walks it forward through the automatic stages whose durations have passed
(:meth:`SandboxEngine.advance`). No background task runs.

State is bounded: deployments per account (``max_deployments``, deleted ones purged after
``retention``), sticker packs per deployment (``max_stickerpacks``), stickers per pack (30),
registration history per number (``max_registrations``), and every stored string by the
request rules. The records it keeps are in :mod:`._records`, sticker packs in
:mod:`._stickers`.
"""

from __future__ import annotations

import collections
import random
import uuid
from collections.abc import Iterator
from typing import Any

from .._states import ACTIONABLE, GONE, DeploymentState
from ._clock import SandboxClock
from ._config import AUTO_STAGES, REGISTRATION_LIMIT_DETAIL, SandboxConfig, Scenario
from ._problems import PROVISIONING, SandboxProblem, forbidden, not_found, throttled
from ._records import OTPMessage, StoredDeployment
from ._stats import SandboxStats

__all__ = ["SandboxEngine"]

_S = DeploymentState
# How often (sandbox seconds) the purge of deleted deployments sweeps the whole store.
_SWEEP_EVERY = 60.0


class SandboxEngine:
    """Deployments per account, the state machine that moves them, and the OTP inbox."""

    def __init__(self, config: SandboxConfig, clock: SandboxClock) -> None:
        self.config = config
        self.clock = clock
        #: What the sandbox has served (see :class:`SandboxStats`).
        self.stats = SandboxStats()
        self.reset()

    def reset(self) -> None:
        """Forget every deployment, registration and counter; scenarios back to the config's.

        The clock is left alone; the random source starts again from the seed.
        """
        self._rng = random.Random(self.config.seed)
        #: The scenario rules in force (the control API may replace them).
        self.scenarios: list[Scenario] = list(self.config.scenarios)
        self._deployments: dict[str, StoredDeployment] = {}
        self._active_by_number: dict[str, str] = {}
        # Deployments per account that are not DELETING or DELETED.
        self._count_by_account: collections.Counter[str] = collections.Counter()
        # Registration times (sandbox seconds) per full number, oldest first.
        self._registrations: dict[str, collections.deque[float]] = {}
        self._last_sweep = self.clock.now()
        self.stats.reset()

    def scenario_for(self, msisdn: str) -> Scenario | None:
        """The first scenario rule in force that matches ``msisdn``."""
        return next((rule for rule in self.scenarios if rule.matches(msisdn)), None)

    # --- state machine -------------------------------------------------------------------

    def advance(self, dep: StoredDeployment, now: float | None = None) -> None:
        """Walk ``dep`` through every automatic stage whose duration has passed by ``now``."""
        now = self.clock.now() if now is None else now
        scenario = dep.scenario
        while dep.state in AUTO_STAGES:
            if scenario is not None and scenario.stuck_in == dep.state:
                return
            leaves_at = dep.entered_at + self.config.durations[dep.state]
            if now < leaves_at:
                return
            if scenario is not None and scenario.fail_at == dep.state:
                self._enter(dep, _S.ERROR, leaves_at, detail=scenario.fail_detail)
                return
            nxt = AUTO_STAGES[dep.state]
            if nxt is _S.CODE_SENT and dep.refused is not None:
                self._enter(dep, _S.ERROR, leaves_at, detail=dep.refused)
                return
            self._enter(dep, nxt, leaves_at)
            if nxt is _S.CODE_SENT:
                withhold = scenario is not None and scenario.withhold_code_until_resend
                self._send_code(dep, leaves_at, deliver=not withhold)

    def _enter(
        self, dep: StoredDeployment, state: DeploymentState, at: float, detail: str | None = None
    ) -> None:
        if state in GONE and dep.state not in GONE:
            self._count_by_account[dep.api_key] -= 1
            if self._active_by_number.get(dep.msisdn) == dep.deployment_id:
                del self._active_by_number[dep.msisdn]
        dep.state = state
        dep.entered_at = at
        dep.detail = detail

    def _send_code(self, dep: StoredDeployment, at: float, *, deliver: bool) -> None:
        dep.code = f"{self._rng.randrange(1_000_000):06d}"
        dep.last_code_at = at
        dep.inbox = OTPMessage(dep.deployment_id, dep.code, dep.method, at) if deliver else None

    # --- lookup and bounds ---------------------------------------------------------------

    def _sweep(self, now: float) -> None:
        if now - self._last_sweep < _SWEEP_EVERY:
            return
        self._last_sweep = now
        for dep in list(self._deployments.values()):
            self.advance(dep, now)
            self._purge_if_expired(dep, now)
        for msisdn in list(self._registrations):
            self._recent_registrations(msisdn, now)

    def _purge_if_expired(self, dep: StoredDeployment, now: float) -> bool:
        if dep.state is _S.DELETED and now - dep.entered_at >= self.config.retention:
            del self._deployments[dep.deployment_id]
            return True
        return False

    def _recent_registrations(self, msisdn: str, now: float) -> collections.deque[float]:
        """The number's registrations within the window; older ones are forgotten."""
        times = self._registrations.pop(msisdn, collections.deque())
        while times and now - times[0] >= self.config.registration_window:
            times.popleft()
        if times:
            self._registrations[msisdn] = times
        return times

    def find(self, api_key: str, deployment_id: str) -> StoredDeployment:
        """The account's deployment, moved forward to now; 404 for unknown or foreign ids."""
        now = self.clock.now()
        self._sweep(now)
        dep = self._deployments.get(deployment_id)
        if dep is None or dep.api_key != api_key:
            raise not_found()
        self.advance(dep, now)
        if self._purge_if_expired(dep, now):
            raise not_found()
        return dep

    def find_ready(self, api_key: str, deployment_id: str) -> StoredDeployment:
        """Like :meth:`find`, but a deployment that is not READY answers 404 too.

        The profile, photo and sticker operations document no status for "wrong state", and
        the number has no WhatsApp account until READY, so the sandbox answers 404 with a
        detail naming the state.
        """
        dep = self.find(api_key, deployment_id)
        if dep.state is not _S.READY:
            raise not_found(
                f"Deployment {deployment_id} is in the {dep.state.value} state; profile, photo "
                "and sticker calls need a READY deployment."
            )
        return dep

    def list(self, api_key: str) -> list[StoredDeployment]:
        """The account's deployments, oldest first, each moved forward to now."""
        now = self.clock.now()
        found = []
        for dep in list(self._deployments.values()):
            if dep.api_key != api_key:
                continue
            self.advance(dep, now)
            if not self._purge_if_expired(dep, now):
                found.append(dep)
        return found

    def get(self, deployment_id: str) -> StoredDeployment | None:
        """Any account's deployment by id, moved forward to now (for tests and the handle)."""
        dep = self._deployments.get(deployment_id)
        if dep is not None:
            self.advance(dep)
        return dep

    def __iter__(self) -> Iterator[StoredDeployment]:
        return iter(list(self._deployments.values()))

    def __len__(self) -> int:
        return len(self._deployments)

    # --- operations ----------------------------------------------------------------------

    def create(
        self,
        api_key: str,
        *,
        country_code: str,
        number: str,
        waba_id: str,
        method: str,
    ) -> StoredDeployment:
        """Start a deployment; 409 when the number has an active one, 403 over the cap.

        The 409 names the active deployment only to the account that owns it. A number
        registered ``max_registrations`` times within ``registration_window`` gets a
        deployment that goes to ERROR where its code would be requested.
        """
        now = self.clock.now()
        self._sweep(now)
        msisdn = f"{country_code}{number}"
        existing_id = self._active_by_number.get(msisdn)
        if existing_id is not None:
            existing = self._deployments[existing_id]
            self.advance(existing, now)
            existing_id = self._active_by_number.get(msisdn)
        if existing_id is not None:
            owner = self._deployments[existing_id].api_key
            raise SandboxProblem(
                409,
                f"{PROVISIONING}#number-in-use",
                "Number already in use",
                f"Active deployment already exists with id {existing_id}"
                if owner == api_key
                else "The number is in use by a deployment of another account; it cannot be "
                "provisioned until that deployment is deleted.",
            )
        if self._count_by_account[api_key] >= self.config.max_deployments:
            raise forbidden(
                f"This account has reached its limit of {self.config.max_deployments} "
                "deployments; delete some first."
            )
        registrations = self._recent_registrations(msisdn, now)
        refused = None
        if len(registrations) >= self.config.max_registrations:
            refused = REGISTRATION_LIMIT_DETAIL.format(
                limit=self.config.max_registrations,
                days=self.config.registration_window / 86_400,
            )
        else:
            registrations.append(now)
            self._registrations[msisdn] = registrations
        dep = StoredDeployment(
            deployment_id=str(uuid.UUID(int=self._rng.getrandbits(128), version=4)),
            api_key=api_key,
            country_code=country_code,
            number=number,
            waba_id=waba_id,
            method=method,
            scenario=self.scenario_for(msisdn),
            state=_S.INITIALIZING,
            entered_at=now,
            refused=refused,
        )
        self._deployments[dep.deployment_id] = dep
        self._active_by_number[msisdn] = dep.deployment_id
        self._count_by_account[api_key] += 1
        self.stats.creates[msisdn] += 1
        return dep

    def delete(self, api_key: str, deployment_id: str) -> None:
        """Move a deployment to DELETING; 409 when it is already DELETING or DELETED."""
        dep = self.find(api_key, deployment_id)
        if dep.state in GONE:
            raise SandboxProblem(
                409,
                f"{PROVISIONING}#conflict-deployment-state",
                "Conflict",
                f"Deployment cannot be deleted because it is in the {dep.state.value} state.",
            )
        self._enter(dep, _S.DELETING, self.clock.now())

    def resend(
        self, api_key: str, deployment_id: str, method: str | None = None
    ) -> StoredDeployment:
        """Send a new code (the old one stops working) by ``method`` (``None``: as the last
        one); 409 outside CODE_SENT/WRONG_CODE, 429 within ``resend_cooldown`` of the last
        code."""
        dep = self.find(api_key, deployment_id)
        now = self.clock.now()
        if dep.state not in ACTIONABLE:
            raise SandboxProblem(
                409,
                f"{PROVISIONING}#conflict-resend-otp",
                "Resend Failed",
                f"OTP not required: the deployment is in the {dep.state.value} state.",
            )
        if dep.last_code_at is not None:
            wait = dep.last_code_at + self.config.resend_cooldown - now
            if wait > 0:
                self.stats.resend_throttled += 1
                raise throttled(
                    max(1, int(-(-wait // self.clock.speed))),
                    f"A code was sent less than {self.config.resend_cooldown:g} seconds ago; "
                    "wait and try again.",
                )
        dep.method = method or dep.method
        self._enter(dep, _S.CODE_SENT, now)
        self._send_code(dep, now, deliver=True)
        return dep

    def verify(self, api_key: str, deployment_id: str, code: str) -> StoredDeployment:
        """Check a code: right → CODE_VERIFIED; wrong → 422 and WRONG_CODE, or ERROR once
        ``max_wrong_codes`` wrong codes were given."""
        dep = self.find(api_key, deployment_id)
        now = self.clock.now()
        if dep.state not in ACTIONABLE:
            raise _verification_failed(
                f"No code can be verified: the deployment is in the {dep.state.value} state "
                "(verify needs CODE_SENT or WRONG_CODE)."
            )
        rejected = dep.scenario is not None and dep.scenario.reject_first_code
        if rejected and not dep.first_code_rejected:
            dep.first_code_rejected = True
            right = False
        else:
            right = dep.code is not None and code == dep.code
        if right:
            dep.code = None
            dep.inbox = None
            self._enter(dep, _S.CODE_VERIFIED, now)
            return dep
        dep.wrong_codes += 1
        if dep.wrong_codes >= self.config.max_wrong_codes:
            self._enter(dep, _S.ERROR, now, detail="Too many failed verification attempts")
            raise _verification_failed(
                f"Too many wrong codes ({dep.wrong_codes}); the deployment moved to ERROR.",
                wrong_code=True,
            )
        self._enter(dep, _S.WRONG_CODE, now)
        raise _verification_failed(
            "Deployment could not be created because the verification failed.", wrong_code=True
        )

    def inbox(self, api_key: str, deployment_id: str) -> OTPMessage | None:
        """The last code delivered to the deployment's number (``None``: none delivered)."""
        return self.find(api_key, deployment_id).inbox

    # --- profile, photo, stickers --------------------------------------------------------

    def update_profile(
        self, api_key: str, deployment_id: str, changes: dict[str, Any]
    ) -> dict[str, Any]:
        """Merge ``changes`` into the profile and return it."""
        dep = self.find_ready(api_key, deployment_id)
        dep.profile.update(changes)
        return dict(dep.profile)

    def update_photo(self, api_key: str, deployment_id: str, image_url: str) -> str:
        """Set the profile photo's URL and return it."""
        dep = self.find_ready(api_key, deployment_id)
        dep.photo_url = image_url
        return image_url

    def create_pack(self, api_key: str, deployment_id: str, details: dict[str, Any]) -> str:
        """Add a third-party pack; returns its id. 400 beyond ``max_stickerpacks``."""
        packs = self.find_ready(api_key, deployment_id).packs
        return packs.create(details, limit=self.config.max_stickerpacks, rng=self._rng)

    def pack(
        self, api_key: str, deployment_id: str, pack_id: str, namespace: str | None
    ) -> dict[str, Any]:
        """A pack (first-party with ``namespace="whatsapp"``); 404 when unknown."""
        return self.find_ready(api_key, deployment_id).packs.get(pack_id, namespace)

    def add_sticker(
        self, api_key: str, deployment_id: str, pack_id: str, sticker: dict[str, Any]
    ) -> str:
        """Add a sticker to a third-party pack; returns its index (see
        :meth:`StickerPacks.add_sticker <._stickers.StickerPacks.add_sticker>`)."""
        return self.find_ready(api_key, deployment_id).packs.add_sticker(pack_id, sticker)

    def sticker(
        self,
        api_key: str,
        deployment_id: str,
        pack_id: str,
        index: str,
        namespace: str | None,
        *,
        remove: bool = False,
    ) -> dict[str, Any]:
        """One sticker (removed from its pack with ``remove``); 404 when unknown."""
        packs = self.find_ready(api_key, deployment_id).packs
        return packs.sticker(pack_id, index, namespace, remove=remove)


def _verification_failed(detail: str, *, wrong_code: bool = False) -> SandboxProblem:
    return SandboxProblem(
        422,
        f"{PROVISIONING}#verification-failed",
        "Verification Failed",
        detail,
        invalid_parameters=[("code", "Invalid code provided.")] if wrong_code else (),
    )
