"""What a bulk run reports: events while it runs, and a report of every number at the end.

:class:`NumberChanged` and :class:`BulkProgress` go to ``on_event`` as the run goes;
:class:`BulkReport` (one :class:`NumberOutcome` per number, counts, time per stage, requests
made) is what :func:`~wamanager.provision_many` returns, and writes itself as JSON or CSV.
"""

from __future__ import annotations

import csv
import json
import os
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import attrs

from ._clock import utc_now

__all__ = [
    "BulkEvent",
    "BulkProgress",
    "BulkReport",
    "NumberChanged",
    "NumberOutcome",
    "progress_of",
    "stage_seconds",
]


@attrs.frozen(kw_only=True)
class NumberChanged:
    """A number of the run moved: a new ``step``, a new deployment ``state``, or its end.

    ``step`` is ``"create"``, ``"watch"``, ``"profile"``, ``"photo"``, ``"done"`` (READY and
    set up), ``"failed"`` (``error`` says why) or ``"skipped"`` (READY in the journal).
    """

    msisdn: str
    position: int
    step: str
    at: datetime
    deployment_id: str | None = None
    state: str | None = None
    error: str | None = None


@attrs.frozen(kw_only=True)
class BulkProgress:
    """The run's totals, reported every ``progress_every`` seconds and at the end."""

    at: datetime
    total: int
    done: int
    failed: int
    in_flight: int
    #: Numbers in flight per deployment state (``"pending"`` before the first poll).
    by_state: Mapping[str, int]
    #: Numbers finished (READY or failed) per minute so far in this run; numbers found READY
    #: in the journal and invalid rows do not count.
    rate_per_minute: float
    #: Seconds until the last number is expected to finish, at that rate (``None``: unknown).
    eta_seconds: float | None


#: What ``on_event`` receives.
BulkEvent = NumberChanged | BulkProgress


@attrs.frozen
class NumberOutcome:
    """How one number ended.

    ``status`` is ``"ready"`` (READY, profile and photo applied), ``"failed"`` (``step`` is
    where, ``error_type`` and ``error`` what) or ``"invalid"`` (rejected before any request).
    ``resumed`` is true for a number found READY in the journal and not touched again.
    """

    position: int
    msisdn: str
    status: str
    deployment_id: str | None = None
    step: str | None = None
    error_type: str | None = None
    error: str | None = None
    resumed: bool = False
    #: Seconds spent in each step during this run.
    stage_seconds: Mapping[str, float] = attrs.field(factory=dict)


_CSV_FIELDS = ("position", "msisdn", "status", "deployment_id", "step", "error_type", "error")


@attrs.frozen
class BulkReport:
    """What a bulk run did: every number's outcome, counts, time per stage, requests made."""

    outcomes: tuple[NumberOutcome, ...]
    #: Seconds the run took (on its clock).
    duration: float
    #: HTTP attempts the client made during the run, and how many were answered 429.
    requests: int
    throttled: int
    #: The most numbers ever in flight at once (never above ``concurrency``).
    max_in_flight: int

    @property
    def counts(self) -> Mapping[str, int]:
        """Numbers per status (``ready``, ``failed``, ``invalid``)."""
        return dict(Counter(outcome.status for outcome in self.outcomes))

    @property
    def ready(self) -> tuple[NumberOutcome, ...]:
        """The numbers that ended READY."""
        return tuple(o for o in self.outcomes if o.status == "ready")

    @property
    def failed(self) -> tuple[NumberOutcome, ...]:
        """The numbers that did not (failed or invalid)."""
        return tuple(o for o in self.outcomes if o.status != "ready")

    @property
    def stage_seconds(self) -> Mapping[str, float]:
        """Mean seconds per step, over the numbers that went through it in this run."""
        spent: dict[str, list[float]] = {}
        for outcome in self.outcomes:
            for stage, seconds in outcome.stage_seconds.items():
                spent.setdefault(stage, []).append(seconds)
        return {stage: sum(values) / len(values) for stage, values in spent.items()}

    def to_json(self) -> dict[str, Any]:
        """The report as a JSON-ready dict."""
        return {
            "counts": self.counts,
            "duration": self.duration,
            "requests": self.requests,
            "throttled": self.throttled,
            "max_in_flight": self.max_in_flight,
            "stage_seconds": self.stage_seconds,
            "outcomes": [attrs.asdict(outcome) for outcome in self.outcomes],
        }

    def write_json(self, path: str | os.PathLike[str]) -> None:
        """Write :meth:`to_json` to ``path``."""
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(self.to_json(), handle, indent=2, ensure_ascii=False)
            handle.write("\n")

    def write_csv(self, path: str | os.PathLike[str]) -> None:
        """Write one row per number to ``path`` (position, number, status, id, step, error)."""
        with open(path, "w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=_CSV_FIELDS)
            writer.writeheader()
            for outcome in self.outcomes:
                writer.writerow({field: getattr(outcome, field) for field in _CSV_FIELDS})


def progress_of(
    outcomes: Iterable[NumberOutcome], in_flight: Mapping[str, str], total: int, elapsed: float
) -> BulkProgress:
    """A run's totals after ``elapsed`` seconds: ``outcomes`` so far, the numbers
    ``in_flight`` (with their last state) and the ``total`` of the run. Pure but for ``at``."""
    outcomes = list(outcomes)
    done = sum(1 for o in outcomes if o.status == "ready")
    failed = len(outcomes) - done
    elapsed = max(elapsed, 1e-9)
    # Only numbers worked on in this run set the pace: those found READY in the journal and
    # invalid rows finish at once, and would make a resumed run's ETA far too short.
    worked = sum(1 for o in outcomes if not o.resumed and o.status != "invalid")
    remaining = total - done - failed
    eta = remaining / (worked / elapsed) if worked else None
    return BulkProgress(
        at=utc_now(),
        total=total,
        done=done,
        failed=failed,
        in_flight=len(in_flight),
        by_state=dict(Counter(in_flight.values())),
        rate_per_minute=worked / elapsed * 60,
        eta_seconds=0.0 if remaining == 0 else eta,
    )


def stage_seconds(entered: Mapping[str, float], now: float) -> dict[str, float]:
    """Seconds per step from the times each was entered (the last one lasting until now)."""
    steps = sorted(entered.items(), key=lambda item: item[1])
    stages: dict[str, float] = {}
    for (step, at), (_, until) in zip(steps, [*steps[1:], ("end", now)], strict=True):
        if step != "done":
            stages[step] = until - at
    return stages
