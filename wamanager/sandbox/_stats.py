"""What the sandbox has served: counters for tests that measure a client's cost."""

from __future__ import annotations

from collections import Counter
from typing import Any

import attrs

__all__ = ["SandboxStats"]


@attrs.define
class SandboxStats:
    """Counters since the sandbox started (or was last reset).

    Read a snapshot with ``handle.stats()`` (in-process) or ``GET /_sandbox/stats`` (JSON of
    the same fields). Operations are named by the spec's ``operationId``
    (``createDeployment``, ``get_deployment``, ``listDeployments``, ...).

    Attributes:
        requests: API requests per operation, whatever their answer (401 and 429 included).
        response_bytes: response body bytes per operation.
        creates: deployments created per full number (country code + number).
        rate_limited: 429s answered by the per-account rate limit.
        injected_429: 429s injected by ``FaultConfig.throttle_rate``.
        injected_5xx: 500/503s injected by ``FaultConfig.error_rate``.
        resend_throttled: 429s of resend-otp within the resend cooldown.
    """

    requests: Counter[str] = attrs.field(factory=Counter)
    response_bytes: Counter[str] = attrs.field(factory=Counter)
    creates: Counter[str] = attrs.field(factory=Counter)
    rate_limited: int = 0
    injected_429: int = 0
    injected_5xx: int = 0
    resend_throttled: int = 0

    @property
    def total_requests(self) -> int:
        """API requests of every operation."""
        return sum(self.requests.values())

    def record(self, operation: str, body_bytes: int) -> None:
        """Count one answered request of ``operation``."""
        self.requests[operation] += 1
        self.response_bytes[operation] += body_bytes

    def copy(self) -> SandboxStats:
        """A snapshot that later requests do not change."""
        return SandboxStats(
            requests=Counter(self.requests),
            response_bytes=Counter(self.response_bytes),
            creates=Counter(self.creates),
            rate_limited=self.rate_limited,
            injected_429=self.injected_429,
            injected_5xx=self.injected_5xx,
            resend_throttled=self.resend_throttled,
        )

    def reset(self) -> None:
        """Zero every counter."""
        self.requests.clear()
        self.response_bytes.clear()
        self.creates.clear()
        self.rate_limited = self.injected_429 = self.injected_5xx = self.resend_throttled = 0

    def to_json(self) -> dict[str, Any]:
        """The ``GET /_sandbox/stats`` body."""
        return {
            "requests": dict(self.requests),
            "response_bytes": dict(self.response_bytes),
            "creates": dict(self.creates),
            "throttled": {
                "rate_limit": self.rate_limited,
                "injected": self.injected_429,
                "resend_cooldown": self.resend_throttled,
            },
            "injected_5xx": self.injected_5xx,
            "total_requests": self.total_requests,
        }
