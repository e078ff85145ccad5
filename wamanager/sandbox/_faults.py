"""Seeded fault injection: what goes wrong with each API request, drawn reproducibly."""

from __future__ import annotations

import enum
import random

import attrs

from ._config import FaultConfig

__all__ = ["Decision", "Fault", "FaultInjector"]


class Fault(enum.Enum):
    """What the fault injector decided for one request."""

    NONE = "none"
    DROP = "drop"
    ERROR_500 = "500"
    ERROR_503 = "503"
    THROTTLE = "429"
    MALFORMED = "malformed"


@attrs.frozen
class Decision:
    """The faults drawn for one request: a delay (real seconds) and at most one fault."""

    latency: float
    fault: Fault


class FaultInjector:
    """Draws the faults of each request from one seeded :class:`random.Random`.

    The draws happen in request order, always the same number per request (five), so a
    run with the same seed and the same sequence of requests injects the same faults.
    """

    def __init__(self, config: FaultConfig, seed: int | None) -> None:
        self.config = config
        self._rng = random.Random(seed)

    def decide(self) -> Decision:
        """The latency and fault for the next request."""
        low, high = self.config.latency
        latency = self._rng.uniform(low, high) if high > 0 else 0.0
        drop, error, kind, throttle, malformed = (self._rng.random() for _ in range(5))
        if drop < self.config.drop_rate:
            fault = Fault.DROP
        elif error < self.config.error_rate:
            fault = Fault.ERROR_500 if kind < 0.5 else Fault.ERROR_503
        elif throttle < self.config.throttle_rate:
            fault = Fault.THROTTLE
        elif malformed < self.config.malformed_rate:
            fault = Fault.MALFORMED
        else:
            fault = Fault.NONE
        return Decision(latency, fault)
