"""Rate control under random 429s: the noise decisions as tables, the limiter on a virtual
clock against noise, a real limit, and both.

The simulations run a client's workers (each sends, waits for its answer, and after a 429
waits its ``Retry-After`` before the retry, as the session does) against a fake server that
answers 429 at random (``noise``, ``Retry-After: 1``) and/or from a token bucket (a real
limit, whole-second ``Retry-After``), on a virtual clock: a minute of traffic runs in well
under a second, and every run is deterministic (seeded). Last, a default client onboards
100 numbers through ``provision_many`` against a sandbox injecting random 429s.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
import time
from collections.abc import Callable
from typing import Any

import anyio
import attrs
import pytest

from wamanager import (
    DeploymentRequest,
    Onboarding,
    PollPolicy,
    Profile,
    RateLimiter,
    ValidationError,
    provision_many,
)
from wamanager import _constants as const
from wamanager._rate_control import (
    Phase,
    RateControl,
    Verdict,
    allowed_throttles,
    cut_verdict,
    is_noise,
    noise_level,
)
from wamanager.sandbox import FaultConfig, SandboxConfig, run_sandbox
from wamanager.testing import sandbox_client

CONTROL = RateControl()

# --- the decisions -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("share", "answers", "deviations", "expected"),
    [
        (0.0, 100, 2.0, 1.0),  # no noise: one 429 is still chance
        (0.05, 100, 2.0, 5 + 2 * math.sqrt(5) + 1),
        (0.15, 100, 4.0, 15 + 4 * math.sqrt(15) + 1),
        (0.05, 20, 3.0, 1 + 3 + 1),
        (0.5, 0, 4.0, 1.0),
    ],
)
def test_allowed_throttles_table(
    share: float, answers: int, deviations: float, expected: float
) -> None:
    """The 429s a share of noise explains: expected count + deviations × √count + 1."""
    assert allowed_throttles(share, answers, deviations) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("throttled", "answers", "rate", "estimate", "noise", "expected"),
    [
        # no noise known: a 429 is the limit ...
        (1, 99, 50.0, None, 0.0, False),  # ... among too few answers to tell
        (6, 100, 50.0, None, 0.0, False),  # ... at more than 5% of them
        (2, 100, 50.0, 55.0, 0.0, False),  # ... on the plateau (above 0.9 x the estimate)
        (2, 100, 500.0, 55.0, 0.0, False),  # ... probing past the estimate
        # ... unless at most 5% of a whole window, well below any limit found
        (5, 100, 50.0, None, 0.0, True),
        (5, 100, 40.0, 50.0, 0.0, True),
        # noise known (15%): what 15% explains with 4 deviations (31.5 of 100), at any rate
        (31, 100, 5000.0, 50.0, 0.15, True),
        (32, 100, 5000.0, 50.0, 0.15, False),  # well above it: a limit after all
        (4, 10, 50.0, None, 0.05, True),  # few answers: 0.5 + 4 x 0.71 + 1 = 4.3
        (5, 10, 50.0, None, 0.05, False),
        (8, 100, 50.0, None, 0.02, True),  # small noise: 2 + 4 x 1.41 + 1 = 8.7 ...
        (6, 20, 50.0, None, 0.001, False),  # ... or 5% of the answers + 1, if more
        (2, 20, 50.0, None, 0.001, True),
    ],
)
def test_is_noise_table(
    throttled: int,
    answers: int,
    rate: float,
    estimate: float | None,
    noise: float,
    expected: bool,
) -> None:
    """A fresh 429 is noise by the share of 429s among the last answers, the noise level
    known and, before any, where the rate is against the estimate."""
    got = is_noise(
        throttled=throttled,
        answers=answers,
        rate=rate,
        estimate=estimate,
        noise=noise,
        control=CONTROL,
    )
    assert got is expected


@pytest.mark.parametrize(
    ("before", "throttled", "answers", "noise", "persisted", "expected"),
    [
        # the 429s stopped: keep the cut once a whole sample came, wait before
        (0.05, 0, 100, 0.0, None, Verdict.KEEP),
        (0.05, 1, 100, 0.0, None, Verdict.KEEP),  # one is chance
        (0.05, 0, 99, 0.0, None, Verdict.WAIT),
        (0.05, 1, 49, 0.0, None, Verdict.WAIT),  # not yet half a sample
        # with noise known, down to the noise level is stopped: 5 + 2 x 2.2 + 1
        (0.2, 10, 100, 0.05, None, Verdict.KEEP),
        (0.3, 12, 100, 0.15, None, Verdict.KEEP),
        # they persisted (half a sample, already more than a kept cut may have): cut again
        (0.05, 2, 50, 0.0, None, Verdict.CONFIRM),
        (0.3, 11, 50, 0.05, None, Verdict.CONFIRM),
        # ... and after that second cut their share did not halve: noise, undo
        (0.1, 5, 50, 0.0, 0.2, Verdict.UNDO),
        (0.1, 3, 60, 0.0, 0.1, Verdict.UNDO),
        # ... or it did: cut again (a limit, each cut lowering the 429s)
        (0.1, 4, 50, 0.0, 0.2, Verdict.CONFIRM),
        # they rose: more than the share before explains with 3 deviations
        (0.05, 5, 10, 0.0, None, Verdict.DEEPER),  # 0.5 + 3 x 0.71 + 1 = 3.6
        (0.05, 3, 10, 0.0, None, Verdict.WAIT),
    ],
)
def test_cut_verdict_table(
    before: float,
    throttled: int,
    answers: int,
    noise: float,
    persisted: float | None,
    expected: Verdict,
) -> None:
    """What the answers after a cut say: the 429s stopped, persisted (twice: noise) or
    rose."""
    got = cut_verdict(
        before=before,
        throttled=throttled,
        answers=answers,
        noise=noise,
        sample=100,
        persisted=persisted,
    )
    assert got is expected


@pytest.mark.parametrize(
    ("shares", "expected"),
    [
        ((), 0.0),  # no cut undone: no noise
        ((0.05,), 0.05),
        ((0.05, 0.06, 0.4), 0.06),  # a block above a limit does not raise it
        ((0.04, 0.4, 0.06, 0.05), 0.055),  # an even count: the mean of the middle two
        ((0.15, 0.0, 0.0), 0.0),  # the 429s stopped: forgotten
        ((0.005,), 0.0),  # under one 429 a window
    ],
)
def test_noise_level_table(shares: tuple[float, ...], expected: float) -> None:
    """The noise level: the median share of the last blocks, 0 under one 429 a window."""
    assert noise_level(shares, 100) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"noise_tolerance": 0}, "noise_tolerance"),
        ({"noise_tolerance": 1.0}, "noise_tolerance"),
        ({"noise_tolerance": "0.05"}, "noise_tolerance"),
        ({"noise_tolerance": math.nan}, "noise_tolerance"),
        ({"noise_window": 0}, "noise_window"),
        ({"noise_window": 50.0}, "noise_window"),
        ({"noise_window": True}, "noise_window"),
    ],
)
def test_noise_fields_reject_bad_values(changes: dict[str, Any], field: str) -> None:
    """RateControl raises ValidationError naming noise_tolerance or noise_window."""
    with pytest.raises(ValidationError) as caught:
        RateControl(**changes)
    assert caught.value.fields == (field,)


def test_noise_fields_default_to_the_constants() -> None:
    """The defaults: 5% tolerated before any noise is known, judged over 100 answers."""
    assert (CONTROL.noise_tolerance, CONTROL.noise_window) == (
        const.NOISE_TOLERANCE,
        const.NOISE_WINDOW,
    )


# --- the limiter, step by step -------------------------------------------------------------


class Clock:
    """A monotonic clock that the limiter's sleeps move forward."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


async def answered(limiter: RateLimiter, clock: Clock, pattern: str) -> bool:
    """Answer ``pattern`` ("." accepted, "x" 429) to requests sent one after the other, at
    least 10 ms apart; whether any 429 paused every request."""
    paused = False
    for mark in pattern:
        clock.now += 0.01
        ticket = await limiter.acquire()
        limiter.done(accepted=mark == ".")
        if mark == "x":
            before = limiter.paused_until
            alone = limiter.throttled(ticket, 1.0)
            pause = limiter.paused_until > before
            assert alone == (0.0 if pause else pytest.approx(1.0))  # paused, or waits alone
            paused |= pause
    return paused


def limiter_on(clock: Clock) -> RateLimiter:
    """A limiter with a ceiling of 1,000/s that judges 429s over 20 answers."""
    return RateLimiter(1000.0, clock=clock, sleep=clock.sleep, control=RateControl(noise_window=20))


async def noisy_limiter() -> tuple[RateLimiter, Clock]:
    """A limiter that has seen 10% of 429s persist over two cuts, and undone them."""
    clock = Clock()
    limiter = limiter_on(clock)
    assert not await answered(limiter, clock, "." * 30 + "x")  # 1 of 20: within 5%
    assert await answered(limiter, clock, "x")  # 2 of 20: cut, on trial
    await answered(limiter, clock, ".........x")  # 2 of 10 after it: persisted ...
    await answered(limiter, clock, ".........x")  # ... so cut again
    await answered(limiter, clock, ".........x.........x")  # ... and still 10%: noise
    return limiter, clock


async def test_a_cut_the_429s_outlast_is_undone() -> None:
    """429s at the same share after two cuts are noise: the rate goes back to before the
    first cut, and the share becomes the noise level."""
    limiter, _ = await noisy_limiter()
    assert limiter.rate == 1000.0
    assert limiter.phase is Phase.SLOW_START
    assert limiter.estimate is None
    assert limiter.noise == pytest.approx(0.1)


async def test_noise_pauses_nothing_and_keeps_the_rate() -> None:
    """Once noise is known, a 429 within it returns False (the request waits alone), leaves
    the rate and pauses nobody, whatever the rate."""
    limiter, clock = await noisy_limiter()
    paused_until = limiter.paused_until
    for _ in range(5):
        assert not await answered(limiter, clock, ".........x")
    assert limiter.rate == 1000.0
    assert limiter.paused_until == paused_until


async def test_429s_well_above_the_noise_level_still_cut() -> None:
    """A second client on the account (half of the answers 429) cuts despite known noise."""
    limiter, clock = await noisy_limiter()
    assert await answered(limiter, clock, ".x" * 10)
    assert limiter.rate < 1000.0


async def test_a_cut_below_a_limit_is_kept() -> None:
    """When the 429s stop after a cut, it stays, and no noise is learned."""
    clock = Clock()
    limiter = limiter_on(clock)
    assert await answered(limiter, clock, "." * 30 + "xx")
    rate = limiter.rate
    await answered(limiter, clock, "." * 20)
    assert limiter.rate == pytest.approx(rate, rel=0.1)  # grown a little since, no more
    assert limiter.rate < 1000.0
    assert limiter.noise == 0.0
    assert limiter._trial is None  # judged: kept


async def test_the_noise_level_is_forgotten_when_the_429s_stop() -> None:
    """After enough windows without a 429, the noise is forgotten and a 429 cuts again."""
    limiter, clock = await noisy_limiter()
    await answered(limiter, clock, "." * 20 * const.NOISE_MEMORY)
    assert limiter.noise == 0.0
    assert await answered(limiter, clock, "xx")


# --- the limiter against a simulated server ------------------------------------------------


class VirtualTime:
    """A clock and sleep for many tasks: the clock moves to the next wake-up only once every
    task waits (asleep here, or queued in the limiter), so time is exact and free."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleepers = 0
        self._timers: list[tuple[float, int, anyio.Event]] = []
        self._order = itertools.count()

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        event = anyio.Event()
        heapq.heappush(self._timers, (self.now + max(seconds, 0.0), next(self._order), event))
        self.sleepers += 1
        await event.wait()

    async def run(self, blocked: Callable[[], int], alive: Callable[[], int]) -> None:
        """Wake the next sleeper whenever every live task is blocked; return when none is."""
        while True:
            await anyio.lowlevel.checkpoint()
            if not alive():
                return
            if self.sleepers + blocked() < alive():
                continue
            when, _, event = heapq.heappop(self._timers)
            self.now = max(self.now, when)
            self.sleepers -= 1
            event.set()


@attrs.define
class Server:
    """Answers 429 at random (``noise``, ``Retry-After: 1``), then from a token bucket of
    ``limit`` per second (``None``: no limit), whole-second ``Retry-After``."""

    clock: VirtualTime
    noise: float
    limit: float | None = None
    burst: float = 10.0
    rng: random.Random = attrs.field(factory=lambda: random.Random(1))
    ok: list[float] = attrs.Factory(list)
    noisy: int = 0
    limited: int = 0
    tokens: float = 10.0
    last: float = 0.0

    def answer(self) -> int | None:
        """``None`` (accepted), or the ``Retry-After`` of a 429."""
        if self.rng.random() < self.noise:
            self.noisy += 1
            return 1
        if self.limit is not None:
            now = self.clock.now
            self.tokens = min(self.burst, self.tokens + (now - self.last) * self.limit)
            self.last = now
            if self.tokens < 1:
                self.limited += 1
                return max(1, math.ceil((1 - self.tokens) / self.limit))
            self.tokens -= 1
        self.ok.append(self.clock.now)
        return None

    def goodput(self, start: float, end: float) -> float:
        """Accepted answers per second from ``start`` to ``end``."""
        return sum(start <= t < end for t in self.ok) / (end - start)


@attrs.define
class Run:
    """What a simulated run left: the server's counts and the limiter (if any)."""

    server: Server
    limiter: RateLimiter | None


SECONDS = 60.0


async def simulate(
    noise: float,
    *,
    limit: float | None = None,
    workers: int = 20,
    latency: float = 0.05,
    rate_control: bool = True,
    seed: int = 1,
) -> Run:
    """``workers`` tasks sending back to back for SECONDS virtual seconds, each answer
    ``latency`` seconds after its request; through a default RateLimiter, or none."""
    time = VirtualTime()
    server = Server(time, noise, limit, rng=random.Random(seed))
    limiter = RateLimiter(clock=time, sleep=time.sleep) if rate_control else None
    jitter = random.Random(seed + 1)
    alive = workers

    async def work() -> None:
        retry = False
        while time.now < SECONDS:
            ticket = 0 if limiter is None else await limiter.acquire(priority=retry)
            retry_after = server.answer()
            await time.sleep(latency)
            accepted = retry_after is None
            if limiter is not None:
                limiter.done(accepted=accepted, ticket=ticket)
            if retry_after is not None:
                wait = retry_after * (1 + 0.1 * jitter.random())
                alone = wait if limiter is None else limiter.throttled(ticket, wait)
                if alone:
                    await time.sleep(alone)
            retry = not accepted

    async def worker() -> None:
        nonlocal alive
        try:
            await work()
        finally:
            alive -= 1

    def queued() -> int:
        return 0 if limiter is None else len(limiter._queue)

    async with anyio.create_task_group() as tg:
        for _ in range(workers):
            tg.start_soon(worker)
        tg.start_soon(time.run, queued, lambda: alive)
    return Run(server, limiter)


@pytest.mark.parametrize("noise", [0.05, 0.15])
@pytest.mark.parametrize(
    ("workers", "latency"),
    [(5, 0.1), (20, 0.05), (100, 0.05)],
    ids=["50 per s", "400 per s", "2000 per s"],
)
async def test_random_429s_at_any_rate_leave_the_throughput(
    noise: float, workers: int, latency: float
) -> None:
    """Random 429s (5%, 15%) at offered rates of 50 to 2,000 per second: a default limiter
    gets at least 0.6 of what the same workers get with no rate control at all over the
    minute (the learning included), 0.85 over its second half, and ends above the rate the
    workers send at; without the noise it is no bottleneck either."""
    free = (await simulate(noise, workers=workers, latency=latency, rate_control=False)).server
    run = await simulate(noise, workers=workers, latency=latency)
    server, limiter = run.server, run.limiter
    assert limiter is not None
    half = SECONDS / 2
    assert server.goodput(0, SECONDS) >= 0.6 * free.goodput(0, SECONDS)
    assert server.goodput(half, SECONDS) >= 0.85 * free.goodput(half, SECONDS)
    assert limiter.rate >= server.goodput(half, SECONDS)
    assert limiter.noise == pytest.approx(noise, abs=0.05)
    clean = (await simulate(0.0, workers=workers, latency=latency)).server
    assert clean.goodput(half, SECONDS) >= 0.9 * workers / latency


async def test_a_real_limit_is_still_found_and_held() -> None:
    """A token bucket of 50/s (burst 10) and 100 workers: at least 0.9 of the limit gets
    through, under 5% of requests are answered 429, and no noise is learned."""
    run = await simulate(0.0, limit=50.0, workers=100)
    server, limiter = run.server, run.limiter
    assert limiter is not None
    assert server.goodput(0, SECONDS) >= 0.9 * 50.0
    assert server.limited / (len(server.ok) + server.limited) < 0.05
    assert limiter.noise == 0.0
    assert limiter.estimate is not None
    assert limiter.estimate <= 1.1 * 50.0


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_a_limit_under_noise_is_still_found(seed: int) -> None:
    """A token bucket of 50/s with 5% random 429s on top: the limiter learns the noise,
    converges below the limit (its estimate within 5% of it, its rate under it), gets at
    least 0.7 of the limit through and leaves under 5% of requests to the limit's 429s."""
    run = await simulate(0.05, limit=50.0, workers=100, seed=seed)
    server, limiter = run.server, run.limiter
    assert limiter is not None
    assert limiter.noise > 0
    assert limiter.estimate is not None
    assert limiter.estimate <= 1.05 * 50.0
    assert limiter.rate <= 1.05 * 50.0
    assert server.goodput(0, SECONDS) >= 0.7 * 50.0
    requests = len(server.ok) + server.noisy + server.limited
    assert server.limited / requests < 0.05


# --- a default client against the sandbox ---------------------------------------------------

#: The sandbox's clock runs this much faster than real time, as in
#: tests/reliability/test_chaos.py; the client keeps real time (its limiter measures rates on
#: it, and a Retry-After of 1 is a real second, as the sandbox means it).
SPEED = 120.0
NUMBERS = 100
#: Real seconds within which the 100 numbers must all be READY. Measured on a 2-core
#: machine: 3.5 s without 429s, 8 s at 5%, 23 s at 15% (most of it learning that the 429s
#: are noise while the rate is still low, near its start).
BOUND = 60.0


@pytest.mark.timeout(150)
@pytest.mark.parametrize("throttle_rate", [0.05, 0.15], ids=["5%", "15%"])
async def test_a_default_client_onboards_through_random_429s(throttle_rate: float) -> None:
    """A default client (no rate_control) runs provision_many of 100 numbers against a
    sandbox answering 5% / 15% of requests 429 (Retry-After: 1) at random, and no limit: all
    READY within BOUND seconds, the noise learned, the rate far above the floor."""
    config = SandboxConfig(
        speed=SPEED,
        seed=int(throttle_rate * 1000),
        rate_limit=None,
        faults=FaultConfig(throttle_rate=throttle_rate),
    )
    numbers = [
        Onboarding(
            DeploymentRequest(
                country_code="44", number=f"7700{n:06d}", vname_certificate="cert", waba_id="1"
            ),
            profile=Profile(about="Noisy bakery"),
        )
        for n in range(NUMBERS)
    ]
    async with run_sandbox(config) as sandbox, sandbox_client(sandbox) as wam:
        started = time.monotonic()
        report = await provision_many(
            wam,
            numbers,
            otp=sandbox.otp_provider,
            concurrency=NUMBERS,
            policy=PollPolicy(interval=2.0, jitter=0.1),
        )
        elapsed = time.monotonic() - started
        limiter = wam.session.limiter
        injected = sandbox.stats().injected_429
    assert report.counts == {"ready": NUMBERS}
    assert elapsed < BOUND
    assert injected > 0
    assert limiter.noise > 0
    assert limiter.rate > 100 * const.MIN_RATE
