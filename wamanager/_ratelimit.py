"""``RateLimiter``: spaces every request of a client at a learned rate, and waits out 429s.

What the rate should be is decided in :mod:`wamanager._rate_control` (a gentle start, a
decrease to what the server accepted, a plateau and then gentle probing; pure functions);
this module keeps the limiter's state and does the waiting.

The rate only grows while requests are actually queued at it: an idle client does not build
up a rate it has never tried. A 429 taken for the account's limit also pauses every request
for the server's (jittered, capped) ``Retry-After``; a 429 taken for noise pauses nothing but
the request it answered (:meth:`RateLimiter.throttled` returns how long that one waits).
When a pause ends, the waiting requests are released one slot at a time at the learned rate
(the retried ones first), never all at once. ``limit`` (the client's ``rate_limit=``) is a
ceiling the learned rate never exceeds; when given, the rate starts there instead of at
10/s. Asyncio's timers are coarse (a millisecond), so a wait shorter than ``MIN_SLEEP`` is
not slept and a slot taken up to ``CATCH_UP`` (5 ms) late keeps its place in the schedule:
without that, late wake-ups cost a few percent of the rate.

Measured against the sandbox limited to 50 requests/s (burst 10, whole-second
``Retry-After``): 100 tasks of back-to-back calls from a default client get 0.92 of the limit
over 30 s, with 0.14% of the requests answered 429 (``benchmarks/ratelimit.py``); a
deterministic version of that run on a virtual clock is a unit test.

This module is a little over 400 lines because the limiter's state is one concern: the
schedule, the pause, the learned rate and the trial of each cut read and write the same
fields, under one invariant (no lock, no background task); the decisions it takes are
already apart, in :mod:`wamanager._rate_control`.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Awaitable, Callable

import anyio
import attrs

from . import _constants as const
from ._checks import count_problem, positive_problem
from ._errors import ValidationError
from ._rate_control import (
    Phase,
    RateControl,
    Verdict,
    accepted_rate,
    cubic_rate,
    cut_verdict,
    is_fresh_throttle,
    is_noise,
    noise_level,
    rate_after_throttle,
    slow_start_rate,
)

__all__ = ["RateLimiter"]


@attrs.define
class _Trial:
    """A cut on trial: the state before it (restored if it is undone), the share of 429s it
    was decided on, and the answers to requests sent after the last cut (from ``starts``)."""

    rate: float
    estimate: float | None
    phase: Phase
    recovery: float
    busy: float
    before: float
    starts: float
    answers: int = 0
    throttled: int = 0
    persisted: float | None = None  # the share of 429s after the last cut, if they persisted
    earlier_answers: int = 0  # ... over these answers, with these 429s
    earlier_throttled: int = 0


class RateLimiter:
    """Spaces every request of a client at a learned rate, and waits out 429s.

    Waiters are served in arrival order (retries after a 429 first): the first in line sleeps
    until its slot, then hands over to the next, so changes (a pause, a lower rate) also
    apply to requests already waiting. No lock is held while sleeping and no background task
    is started.

    Args:
        limit: a ceiling in requests per second (``None``: none). The rate starts there when
            given, else at ``control.initial_rate``.
        burst: requests that may go at once before the rate spaces them.
        control: the rate-control constants (:class:`RateControl`).
        clock: a monotonic clock in seconds; ``sleep``: how to wait (inject fakes in tests).

    Raises :class:`~wamanager.ValidationError` for a ``limit`` that is not a positive
    number or a ``burst`` that is not an int of at least 1.
    """

    def __init__(
        self,
        limit: float | None = None,
        *,
        burst: int = 1,
        control: RateControl | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        problems = []
        if limit is not None and positive_problem(limit) is not None:
            problems.append(("rate_limit", "must be a finite number > 0, or None to learn it"))
        burst_problem = count_problem(burst, 1)
        if burst_problem is not None:
            problems.append(("rate_burst", burst_problem))
        if control is not None and not isinstance(control, RateControl):
            problems.append(("rate_control", "must be a RateControl"))
        if problems:
            raise ValidationError(problems, model="RateLimiter")
        self.limit = None if limit is None else float(limit)
        self.burst = burst
        self.control = control or RateControl()
        self._clock = clock
        self._sleep = sleep
        self._ceiling = self.control.max_rate if self.limit is None else self.limit
        self._set_rate(self.control.initial_rate if limit is None else self._ceiling)
        self._phase = Phase.SLOW_START
        self._estimate: float | None = None
        self._recovery = self.control.short_recovery
        self._busy = 0.0  # seconds of queueing since the last decrease
        self._last_growth = clock()
        # GCRA: the theoretical arrival time of the next request.
        self._tat = -math.inf
        self._paused_until = -math.inf
        self._active_since = -math.inf
        self._accepted: deque[float] = deque()
        self._issued = 0  # tickets handed out
        self._in_flight = 0  # released, not yet done
        self._throttled = False  # any account 429 yet?
        self._decreased_at_ticket = 0
        self._answers: deque[bool] = deque()  # the last noise_window answers: 429 or not
        self._answers_throttled = 0  # 429s among them
        # The share of 429s in each of the last NOISE_MEMORY blocks of noise_window answers
        # (and in the answers after a cut that was undone), and the block under way.
        self._blocks: deque[float] = deque(maxlen=const.NOISE_MEMORY)
        self._block_answers = 0
        self._block_throttled = 0
        self._noisy = False  # a cut was undone: the 429s are (partly) noise
        self._trial: _Trial | None = None
        self._generation = 0  # bumped by every pause, so a sleeping head re-checks
        self._head: anyio.Event | None = None
        self._queue: deque[anyio.Event] = deque()

    def _set_rate(self, rate: float) -> None:
        """Set the rate (within [min_rate, ceiling]) and what is derived from it."""
        self._rate = min(max(rate, self.control.min_rate), self._ceiling)
        self._interval = 1.0 / self._rate
        self._tolerance = (self.burst - 1) * self._interval

    # --- what it knows ------------------------------------------------------------------

    @property
    def rate(self) -> float:
        """The current rate, in requests per second."""
        return self._rate

    @property
    def phase(self) -> Phase:
        """Slow start until the first account 429, avoidance after."""
        return self._phase

    @property
    def estimate(self) -> float | None:
        """The limit learned from the last 429 (``None`` before any)."""
        return self._estimate

    @property
    def noise(self) -> float:
        """The share of 429s taken for noise (0: none known): once cuts were undone because
        the 429s did not fall, the median share over the last blocks of answers."""
        return noise_level(self._blocks if self._noisy else (), self.control.noise_window)

    @property
    def paused_until(self) -> float:
        """The clock time until which no request is released (past: not paused)."""
        return self._paused_until

    @property
    def waiting(self) -> int:
        """Requests waiting for a slot now."""
        return len(self._queue) + (self._head is not None)

    def __repr__(self) -> str:
        return (
            f"RateLimiter(rate={self._rate:.4g}, limit={self.limit}, burst={self.burst}, "
            f"phase={self._phase.value!r})"
        )

    # --- taking slots -------------------------------------------------------------------

    def _due(self) -> float:
        return max(self._paused_until, self._tat - self._tolerance)

    def _take(self, due: float, now: float) -> int:
        """Take the slot due at ``due`` after queueing for it (``now`` may be earlier with a
        fake sleep: the slot is still ``due``)."""
        self._grow(now)
        slot = max(now, due)
        if not self._issued:
            self._active_since = slot  # the first request: nothing was accepted before it
        tat = self._tat
        # Late by a little (a coarse timer): keep the cadence; idle or paused: start afresh.
        self._tat = (tat if tat >= slot - const.CATCH_UP else slot) + self._interval
        self._issued += 1
        self._in_flight += 1
        return self._issued

    def _alone(self) -> bool:
        """Whether a request may skip the spacing: no other request is in flight, no 429 has
        come yet and no ceiling is set. One request at a time is never a herd, and a caller
        that waits for each answer is held back by the answers, not by an initial rate it
        has not outgrown yet."""
        return self._in_flight == 0 and not self._throttled and self.limit is None

    def _grow(self, now: float) -> None:
        busy = min(max(now - self._last_growth, 0.0), self.control.max_growth_step)
        self._last_growth = max(now, self._last_growth)
        if busy <= 0.0:
            return
        control = self.control
        if self._phase is Phase.SLOW_START:
            rate = slow_start_rate(self._rate, busy, control.doubling_time)
        else:
            assert self._estimate is not None
            self._busy += busy
            rate = cubic_rate(self._estimate, self._busy, self._recovery, control.decrease_factor)
        self._set_rate(rate)

    def try_acquire(self) -> int | None:
        """Take a slot if one is free now and nobody waits (a ticket), else ``None``.

        The fast path of :meth:`acquire`, without a coroutine.
        """
        if self._head is None and not self._queue:
            now = self._clock()
            due = self._tat - self._tolerance
            if (due <= now or self._alone()) and self._paused_until <= now:
                if now > self._last_growth:
                    self._last_growth = now  # time without a queue is not growth
                if not self._issued:
                    self._active_since = now
                tat = self._tat
                # Sent alone ahead of the schedule, or after idle time: the schedule starts
                # afresh. A little late (a coarse timer): it keeps its cadence.
                if due > now or tat < now - const.CATCH_UP:
                    tat = now
                self._tat = tat + self._interval
                self._issued += 1
                self._in_flight += 1
                return self._issued
            if due - now <= const.MIN_SLEEP and self._paused_until <= now:
                # Due within a millisecond: not worth a sleep, but the request did queue
                # (so it counts towards growth).
                return self._take(due, now)
        return None

    async def acquire(self, *, priority: bool = False) -> int:
        """Wait for a slot; returns the request's ticket (pass it to :meth:`throttled`).

        ``priority`` puts the caller ahead of the other waiters (a retry after a 429).
        """
        ticket = self.try_acquire()
        if ticket is not None:
            return ticket
        turn = anyio.Event()
        if self._head is None and not self._queue:
            self._head = turn
        else:
            if priority:
                self._queue.appendleft(turn)
            else:
                self._queue.append(turn)
            try:
                await turn.wait()
            except BaseException:
                if turn in self._queue:
                    self._queue.remove(turn)
                elif self._head is turn:  # made head, then cancelled before running
                    self._hand_over()
                raise
        try:
            while True:
                generation = self._generation
                due = self._due()
                now = self._clock()
                if due - now > const.MIN_SLEEP:
                    await self._sleep(due - now)
                    if generation != self._generation:
                        continue  # paused while asleep: look again
                    now = self._clock()
                return self._take(due, now)
        finally:
            self._hand_over()

    def _hand_over(self) -> None:
        self._head = self._queue.popleft() if self._queue else None
        if self._head is not None:
            self._head.set()

    # --- what the answers say -----------------------------------------------------------

    def done(self, *, accepted: bool, ticket: int | None = None) -> None:
        """A released request is over: answered (``accepted``: with anything but a 429), or
        throttled, failed or cancelled. ``ticket``: see :meth:`accepted`."""
        self._in_flight -= 1
        if accepted:
            self.accepted(ticket)

    def accepted(self, ticket: int | None = None) -> None:
        """Count an answer the server accepted (any status but 429) to the request released
        as ``ticket``: one released before the last cut does not count towards that cut's
        trial (its 429s do not either). ``None``: a request released after it."""
        now = self._clock()
        times = self._accepted
        times.append(now)
        horizon = now - self.control.accepted_window
        while times[0] < horizon and len(times) > self.control.accepted_count:
            times.popleft()
        self._answered(False)
        trial = self._trial
        if trial is None:  # the common case, before any 429: nothing on trial
            return
        fresh = ticket is None or is_fresh_throttle(ticket, self._decreased_at_ticket)
        if fresh and now >= trial.starts:
            trial.answers += 1
            if self._judge(trial) is Verdict.CONFIRM:
                self._cut(confirming=trial)

    def _answered(self, throttled: bool) -> None:
        """Keep the last answers: ``noise_window`` of them to judge a 429 by, and
        ``NOISE_MEMORY`` times as many to measure the noise level over."""
        window = self.control.noise_window
        answers = self._answers
        if len(answers) >= window:
            self._answers_throttled -= answers.popleft()
        answers.append(throttled)
        self._answers_throttled += throttled
        self._block_answers += 1
        self._block_throttled += throttled
        if self._block_answers >= window:
            self._blocks.append(self._block_throttled / self._block_answers)
            self._block_answers = self._block_throttled = 0
            if self._noisy and not self.noise:
                self._noisy = False  # the 429s stopped: the noise is forgotten

    def _judge(self, trial: _Trial) -> Verdict:
        """Keep or undo the cut on trial once the answers after it say which; the caller
        cuts again on ``DEEPER`` and ``CONFIRM``."""
        verdict = cut_verdict(
            before=trial.before,
            throttled=trial.throttled,
            answers=trial.answers,
            noise=self.noise,
            sample=self.control.noise_window,
            persisted=trial.persisted,
        )
        if verdict is Verdict.KEEP:
            self._trial = None
        elif verdict is Verdict.UNDO:
            self._trial = None
            self._noisy = True
            self._blocks.append(
                (trial.throttled + trial.earlier_throttled)
                / (trial.answers + trial.earlier_answers)
            )
            self._set_rate(max(self._rate, trial.rate))
            self._estimate = trial.estimate
            self._phase = trial.phase
            self._recovery = trial.recovery
            self._busy = trial.busy
        return verdict

    def pause(self, seconds: float) -> None:
        """Hold every request for ``seconds`` from now (never shortens an existing pause)."""
        until = self._clock() + seconds
        if until > self._paused_until:
            self._paused_until = until
            self._generation += 1
        # Time spent paused is not time spent queueing at the rate: it does not grow it.
        self._last_growth = max(self._last_growth, self._paused_until)

    def throttled(self, ticket: int, wait: float) -> float:
        """An account 429 answered the request released as ``ticket``, asking to wait
        ``wait`` seconds; returns how long that request must still wait on its own before
        its retry (0 when a pause of every request covers the wait).

        A fresh 429 (to a request sent after the last cut) is either noise (see
        :func:`~wamanager._rate_control.is_noise`), counted but pausing nothing — the caller
        waits alone, for what of ``wait`` no pause under way covers — or the limit: every
        request pauses for ``wait`` and the rate is cut, on trial until the answers after it
        say whether the 429s fell (see :func:`~wamanager._rate_control.cut_verdict`). While
        a cut is on trial, fresh 429s count towards its verdict and pause nothing, unless
        they rose: the rate is then cut again, on a trial of its own. A stale 429 (sent
        before the last cut) pauses every request, as the cut's own 429 did.
        """
        self._throttled = True
        self._answered(True)
        fresh = is_fresh_throttle(ticket, self._decreased_at_ticket)
        trial = self._trial
        if fresh and trial is not None:
            trial.answers += 1
            trial.throttled += 1
            verdict = self._judge(trial)
            if verdict is Verdict.CONFIRM:
                self._cut(confirming=trial)
            if verdict is not Verdict.DEEPER:
                return self._uncovered(wait)
        elif fresh and is_noise(
            throttled=self._answers_throttled,
            answers=len(self._answers),
            rate=self._rate,
            estimate=self._estimate,
            noise=self.noise,
            control=self.control,
        ):
            return self._uncovered(wait)
        self.pause(wait)
        if fresh:
            self._cut()  # after DEEPER too: that cut was real, this one is a trial of its own
        self._active_since = self._paused_until
        return 0.0

    def _uncovered(self, wait: float) -> float:
        """What of ``wait`` the pause under way (if any) does not cover."""
        return max(wait - max(self._paused_until - self._clock(), 0.0), 0.0)

    def _cut(self, *, confirming: _Trial | None = None) -> None:
        """Lower the rate to what the server accepted (see
        :func:`~wamanager._rate_control.rate_after_throttle`) and put the cut on a trial of
        its own or, when ``confirming`` a trial after which the 429s persisted, a little
        lower (``CONFIRM_FACTOR``) on that trial: its undo goes back to before its first cut."""
        control = self.control
        now = self._clock()
        starts = max(now, self._paused_until)
        trial = confirming
        if trial is None:
            self._trial = _Trial(
                rate=self._rate,
                estimate=self._estimate,
                phase=self._phase,
                recovery=self._recovery,
                busy=self._busy,
                before=self._answers_throttled / len(self._answers),
                starts=starts,
            )
        else:
            self._trial = attrs.evolve(
                trial,
                before=max(trial.before, trial.throttled / trial.answers),
                starts=starts,
                answers=0,
                throttled=0,
                persisted=trial.throttled / trial.answers,
                earlier_answers=trial.answers,
                earlier_throttled=trial.throttled,
            )
        times = self._accepted
        measured = accepted_rate(
            times,
            now=now,
            since=self._active_since,
            window=control.accepted_window,
            count=control.accepted_count,
            min_window=control.min_accepted_window,
        )
        horizon = now - control.accepted_window
        decrease = rate_after_throttle(
            rate=self._rate,
            accepted=measured,
            recent=sum(1 for t in times if t >= horizon),
            previous=self._estimate,
            control=control,
        )
        factor = 1.0 if confirming is None else const.CONFIRM_FACTOR
        self._set_rate(factor * decrease.rate)
        if decrease.estimate is not None:
            self._estimate = min(factor * decrease.estimate, self._ceiling)
            self._recovery = decrease.recovery
            self._phase = Phase.AVOIDANCE
            self._busy = 0.0
        self._decreased_at_ticket = self._issued
