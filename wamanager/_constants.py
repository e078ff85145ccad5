"""Every default of the client, the session, retries and rate control, in one place.

Changing a number here changes the library's behaviour for everyone: the README's
"Timeouts, retries and rate control" section quotes these values.
"""

from __future__ import annotations

#: The production API.
DEFAULT_BASE_URL = "https://api.nexmo.com/v0.1/whatsapp-manager"

# --- one attempt -------------------------------------------------------------------------

#: Seconds one attempt may take, from the moment it is sent (queueing excluded).
DEFAULT_TOTAL_TIMEOUT = 30.0
#: Seconds to open a connection (a TCP and TLS handshake).
DEFAULT_CONNECT_TIMEOUT = 10.0
#: Bytes of a response body, decoded, above which the answer is refused (10 MiB).
DEFAULT_MAX_RESPONSE_SIZE = 10 * 1024 * 1024
#: Connections the client's own pool keeps to the API, and requests in flight at once.
DEFAULT_POOL_SIZE = 100

# --- retries of transient failures ----------------------------------------------------------

#: Retries after a 5xx, a dropped connection, a timeout or a cut-short body (not 429s).
DEFAULT_MAX_RETRIES = 2
#: The first backoff, in seconds; each retry doubles it (``BACKOFF_MULTIPLIER``).
DEFAULT_INITIAL_BACKOFF = 0.5
#: No backoff is longer than this, in seconds.
DEFAULT_MAX_BACKOFF = 8.0
#: Growth of the backoff from one retry to the next.
DEFAULT_BACKOFF_MULTIPLIER = 2.0
#: Each backoff is shortened by up to this fraction, at random.
DEFAULT_BACKOFF_JITTER = 0.5

# --- throttling (429) ----------------------------------------------------------------------

#: A ``Retry-After`` longer than this many seconds is cut down to it.
DEFAULT_MAX_RETRY_AFTER = 60.0
#: Each ``Retry-After`` wait is lengthened by up to this fraction, at random, so that
#: clients throttled together do not come back together.
DEFAULT_RETRY_AFTER_JITTER = 0.1
#: The wait after a 429 that carries no (readable) ``Retry-After``, in seconds.
DEFAULT_THROTTLE_WAIT = 1.0
#: Seconds a call may spend waiting out 429s, from its first 429, before it raises
#: ``Throttled``. Waiting out 429s never uses up ``max_retries``.
DEFAULT_THROTTLE_BUDGET = 120.0

# --- adaptive rate control -----------------------------------------------------------------

#: Requests per second before anything is known about the account's limit.
INITIAL_RATE = 10.0
#: The learned rate never drops below this many requests per second.
MIN_RATE = 0.5
#: ... and never grows above this many (a bound for the arithmetic, far above any API limit).
MAX_RATE = 10_000.0
#: Slow start: while requests queue and no 429 has come, the rate doubles every this many
#: seconds.
DOUBLING_TIME = 0.5
#: After a 429 the rate drops to this fraction of the rate the server was accepting.
DECREASE_FACTOR = 0.9
#: Seconds of accepted (non-429) responses that measure the rate the server accepts...
ACCEPTED_WINDOW = 1.0
#: ... or, if longer, the time the last this many accepted responses took (at low rates one
#: second holds too few answers to measure a rate).
ACCEPTED_COUNT = 20
#: A measurement over less than this many seconds is not trusted (the current rate is used).
MIN_ACCEPTED_WINDOW = 0.25
#: Seconds the rate takes to climb back to the accepted rate after a 429, while that
#: estimate is new (the first 429, or one that disagrees with the one before).
SHORT_RECOVERY = 5.0
#: ... and once two 429s in a row agree on the accepted rate: the client then stays just
#: below the limit for longer and probes past it less often.
LONG_RECOVERY = 60.0
#: Two estimates "agree" when they differ by at most this fraction.
AGREEMENT = 0.25
#: Before any noise is known, a 429 is taken for noise (no cut, no pause of the other
#: requests) only while at most this share of the last ``NOISE_WINDOW`` answers were 429s
#: and the rate is well below the limit learned (never on its plateau or probing past it).
NOISE_TOLERANCE = 0.05
#: Answers (accepted or 429) over which the share of 429s is judged: the last ones when a
#: 429 comes, and those after a cut (half as many to say the 429s persisted, all of them to
#: keep the cut).
NOISE_WINDOW = 100
#: Once a noise level is known, a 429 is noise while the 429s among the last
#: ``NOISE_WINDOW`` answers are no more than that level explains: their expected count plus
#: this many standard deviations, plus one. A second client on the account, or a limit
#: lowered by the server, goes well above it.
NOISE_DEVIATIONS = 4.0
#: A cut is kept when the 429s after it are no more than the noise level explains with this
#: many standard deviations, plus one (below a real limit they stop).
TRIAL_DEVIATIONS = 2.0
#: The 429s after a cut "rose" (the cut was not deep enough: cut again) when they are more
#: than the share before it explains with this many standard deviations, plus one.
DEEPER_DEVIATIONS = 3.0
#: When the 429s persist after a cut, the rate is cut again, to this fraction of the usual
#: cut (a limit's accepted rate measured just after a pause is too high: its burst) ...
CONFIRM_FACTOR = 0.9
#: ... and if their share after that second cut is still at least this fraction of what it
#: was after the first, they are noise: both cuts are undone.
UNDO_SHARE = 0.5
#: The noise level is the median share of 429s over the last this many blocks of
#: ``NOISE_WINDOW`` answers (and the answers that showed it), so it falls as 429s stop.
NOISE_MEMORY = 10
#: The most seconds of queueing counted towards growth in one step (a stall is not growth).
MAX_GROWTH_STEP = 1.0
#: A wait for a slot shorter than this many seconds is not slept (the event loop's timers
#: are no finer: a shorter sleep lasts a millisecond anyway); the slot is still booked at its
#: time, so the rate holds over any longer span.
MIN_SLEEP = 0.001
#: A slot taken up to this many seconds after its time (a sleeper woken late: the event
#: loop's timers are coarse) keeps its place in the schedule, so late wake-ups do not lower
#: the rate actually sent.
CATCH_UP = 0.005
