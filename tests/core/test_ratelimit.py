"""Rate limits: Apollo's usage headers read, and requests paced so that long runs meet few 429s.

The limiter learns a minute window's length only from a window it saw open, counts requests in
flight as spent, sends one probe when a window is used up and its reset unknown, and waits out a
429's ``retry-after`` only when it is the minute window's.
"""

from __future__ import annotations

import pytest
from core_support import MINUTE, minute_answer, ticket

from airflow_provider_apollo.core.ratelimit import (
    PROBE_POLL,
    RateLimiter,
    WindowUsage,
    read_rate_limit_headers,
)
from airflow_provider_apollo.core.responses import ApiResponse


def _after_429(response: ApiResponse, at: float = 100.0) -> tuple[RateLimiter, str]:
    """A limiter whose first request on an endpoint was answered with ``response``."""
    limiter, key = RateLimiter(), "GET /contacts/{contact_id}"
    limiter.observe(key, response, at, at, ticket(limiter, at, key))
    return limiter, key


# --------------------------------------------------------------------------- the headers


def test_a_window_is_read_from_its_limit_header_or_its_left_header_alone() -> None:
    assert read_rate_limit_headers({"x-rate-limit-minute": "50", "x-minute-usage": "3"}) == {
        "minute": WindowUsage(50, 3, None)
    }
    assert read_rate_limit_headers({"x-hourly-requests-left": "7"}) == {"hour": WindowUsage(None, None, 7)}
    assert read_rate_limit_headers({"x-hourly-usage": "7"}) == {}


def test_a_header_that_is_not_a_finite_number_is_read_as_absent() -> None:
    for value in ("", " ", "lots", "inf", "-inf", "nan"):
        assert read_rate_limit_headers({"x-rate-limit-minute": value}) == {
            "minute": WindowUsage(None, None, None)
        }
    assert read_rate_limit_headers({"x-rate-limit-minute": "50.9"}) == {"minute": WindowUsage(50, None, None)}


def test_rate_limit_headers_read_both_day_spellings() -> None:
    new = read_rate_limit_headers(
        {"x-rate-limit-24-hour": "6000", "x-24-hour-usage": "10", "x-24-hour-requests-left": "5990"}
    )
    old = read_rate_limit_headers(
        {"x-rate-limit-daily": "6000", "x-daily-usage": "10", "x-daily-requests-left": "5990"}
    )
    assert new["day"] == old["day"]
    assert new["day"].left == 5990


def test_empty_limit_header_means_unlimited() -> None:
    assert (
        read_rate_limit_headers({"x-rate-limit-hourly": "", "x-hourly-requests-left": ""})["hour"].limit
        is None
    )


def test_an_answer_for_a_key_never_paced_is_still_read() -> None:
    limiter = RateLimiter()
    limiter.observe(MINUTE, minute_answer(200, 50, 3), sent_at=0.0, now=0.1, ticket=1)
    assert limiter.usage(MINUTE) == {"minute": WindowUsage(50, 3, 47)}


def test_usage_of_an_endpoint_never_answered_is_empty() -> None:
    assert RateLimiter().usage("GET /contacts/{id}") == {}


# --------------------------------------------------------------------------- learning the minute window


def test_limiter_learns_the_window_from_the_first_429_then_waits_instead_of_failing() -> None:
    limiter, key = RateLimiter(), "POST /contacts/search"
    now = 100.0
    for used in range(1, 21):  # a 20-per-window quota used up in a burst
        limiter.observe(key, minute_answer(200, 20, used), now, now, ticket(limiter, now, key))
        now += 0.01
    # Used up, reset unknown: one request goes to find out.
    probe = ticket(limiter, now, key)
    limiter.observe(key, minute_answer(429, 20, 20, retry_after=2.8), now, now, probe)
    wait, granted = limiter.acquire(key, now)
    assert granted is None and wait == pytest.approx(2.8, abs=0.1)  # plus a small margin past the reset
    # The window opened at 100.0 and resets at now + 2.8: its length is learned.
    now += wait
    for used in range(1, 21):
        limiter.observe(key, minute_answer(200, 20, used), now, now, ticket(limiter, now, key))
        now += 0.01
    wait, granted = limiter.acquire(key, now)
    assert granted is None and wait > 2.0, "quota used up: wait for the reset rather than meet a second 429"


def test_the_limiter_learns_the_length_of_a_window_it_saw_open() -> None:
    limiter = RateLimiter()
    key = "POST /contacts/search"
    _, ticket = limiter.acquire(key, 10.0)
    assert ticket is not None
    limiter.observe(key, minute_answer(200, 2, 1), 10.0, 10.1, ticket)
    _, ticket = limiter.acquire(key, 10.2)
    assert ticket is not None
    limiter.observe(key, minute_answer(429, 2, 2, retry_after=2.8), 10.2, 10.3, ticket)
    # Reset at 13.1: window length 3.1 learned from the opening at 10.0.
    _, ticket = limiter.acquire(key, 13.2)
    assert ticket is not None
    limiter.observe(key, minute_answer(200, 2, 1), 13.2, 13.3, ticket)
    _, ticket = limiter.acquire(key, 13.4)
    assert ticket is not None
    limiter.observe(key, minute_answer(200, 2, 2), 13.4, 13.5, ticket)
    wait, ticket = limiter.acquire(key, 13.6)
    assert ticket is None
    assert 13.6 + wait == pytest.approx(13.3 + 3.1, abs=0.2)


def test_limiter_waits_only_when_the_learned_window_is_used_up() -> None:
    limiter, key = RateLimiter(), "k"
    limiter.observe(key, minute_answer(200, 100, 1), 0.0, 0.0, ticket(limiter, 0.0, key))
    probe = ticket(limiter, 0.0, key)
    limiter.observe(key, minute_answer(429, 100, 100, retry_after=60), 0.0, 0.0, probe)
    wait, _ = limiter.acquire(key, 0.0)
    assert wait == pytest.approx(60.0, abs=0.7)
    limiter.observe(key, minute_answer(200, 100, 1), 61.0, 61.0, ticket(limiter, 61.0, key))
    for _ in range(98):
        ticket(limiter, 61.5, key)
    assert limiter.acquire(key, 61.5)[1] is not None, "the hundredth request of the window goes"
    wait, granted = limiter.acquire(key, 61.5)
    assert granted is None and wait == pytest.approx(60.0, abs=0.7)
    assert limiter.acquire(key, 122.0)[1] is not None, "past the reset, requests go again"


def test_limiter_does_not_pace_on_a_guessed_window_length() -> None:
    limiter = RateLimiter()
    limiter.observe("k", minute_answer(200, 20, 19), 0.0, 0.0, ticket(limiter, 0.0, "k"))
    assert limiter.acquire("k", 0.1)[1] is not None


def test_the_limiter_never_waits_past_a_retry_after_when_it_did_not_see_the_window_open() -> None:
    limiter = RateLimiter()
    key = "POST /contacts/update_stages"
    # Another process opened the window: this one's first answer already says 19 of 20 used.
    _, ticket = limiter.acquire(key, 0.0)
    assert ticket is not None
    limiter.observe(key, minute_answer(200, 20, 19), 0.0, 0.1, ticket)
    _, ticket = limiter.acquire(key, 0.2)
    assert ticket is not None
    limiter.observe(key, minute_answer(429, 20, 20, retry_after=3), 0.2, 0.3, ticket)
    wait, ticket = limiter.acquire(key, 0.4)
    assert ticket is None and wait <= 3.0
    # The next window is used up at once by the other processes: still no 60 s guess.
    now = 3.5
    _, ticket = limiter.acquire(key, now)
    assert ticket is not None
    limiter.observe(key, minute_answer(200, 20, 20), now, now + 0.1, ticket)
    resumes = []
    for step in range(5):
        asked_at = now + 0.2 + step * 0.01
        wait, ticket = limiter.acquire(key, asked_at)
        resumes.append(asked_at + wait)
        if ticket is not None:
            # The probe learns the reset: 2.5 s after its answer arrived at now + 0.3.
            limiter.observe(key, minute_answer(429, 20, 20, retry_after=2.5), asked_at, now + 0.3, ticket)
    assert max(resumes) <= now + 0.3 + 2.5 + 0.1, resumes


def test_a_window_another_process_opened_is_not_predicted_from_the_length_learned_before() -> None:
    limiter = RateLimiter()
    opener = ticket(limiter, 0.0)
    limiter.observe(MINUTE, minute_answer(200, 2, 1), sent_at=0.0, now=0.1, ticket=opener)
    second = ticket(limiter, 1.0)
    limiter.observe(MINUTE, minute_answer(200, 2, 2), sent_at=1.0, now=1.1, ticket=second)
    probe = ticket(limiter, 2.0)
    limiter.observe(MINUTE, minute_answer(429, 2, 2, retry_after=58), sent_at=2.0, now=2.0, ticket=probe)
    assert limiter.acquire(MINUTE, 59.0)[1] is None  # the learned 60 s window is waited out
    late = ticket(limiter, 60.0)
    # Usage 2 at once: another process opened this window, so its reset is unknown: probe.
    limiter.observe(MINUTE, minute_answer(200, 2, 2), sent_at=60.0, now=60.1, ticket=late)
    ticket(limiter, 61.0)
    assert limiter.acquire(MINUTE, 61.0) == (PROBE_POLL, None)


def test_an_answer_with_a_limit_but_no_usage_teaches_nothing() -> None:
    limiter = RateLimiter()
    first = ticket(limiter, 0.0)
    no_usage = ApiResponse(200, {"x-rate-limit-minute": "1", "x-minute-requests-left": "0"}, b"{}")
    limiter.observe(MINUTE, no_usage, sent_at=0.0, now=0.1, ticket=first)
    ticket(limiter, 0.2)
    ticket(limiter, 0.2)


# --------------------------------------------------------------------------- a 429 and the reset


def test_a_429_on_a_used_up_minute_holds_requests_until_its_retry_after_plus_the_margin() -> None:
    limiter, key = _after_429(minute_answer(429, 5, 5, retry_after=2.0))
    # The window was never seen open (no learned length): the margin is the fixed 0.05 s.
    assert limiter.acquire(key, 100.0) == (pytest.approx(2.05), None)
    assert limiter.acquire(key, 101.0) == (pytest.approx(1.05), None)
    wait, ticket = limiter.acquire(key, 102.1)
    assert wait == 0.0 and ticket is not None


def test_a_429_while_the_minute_has_room_or_for_a_longer_quota_does_not_pace() -> None:
    # One request left in the minute: the 429 is another quota's, the limiter has nothing to wait for.
    limiter, key = _after_429(minute_answer(429, 5, 4, retry_after=5.0))
    assert limiter.acquire(key, 100.0)[1] is not None
    # Longer than 1.5 minutes: an hourly or daily quota; the retry policy raises instead.
    limiter, key = _after_429(minute_answer(429, 5, 5, retry_after=100.0))
    assert limiter.acquire(key, 100.0)[1] is not None
    # Exactly 1.5 minutes is still the minute window.
    limiter, key = _after_429(minute_answer(429, 5, 5, retry_after=90.0))
    assert limiter.acquire(key, 100.0) == (pytest.approx(90.05), None)


def test_hourly_429_teaches_the_limiter_nothing() -> None:
    limiter = RateLimiter()
    limiter.observe("k", minute_answer(200, 200, 1), 0.0, 0.0, ticket(limiter, 0.0, "k"))
    limiter.observe("k", minute_answer(429, 200, 5, retry_after=3000), 1.0, 1.0, ticket(limiter, 1.0, "k"))
    assert limiter.acquire("k", 1.0)[1] is not None


def test_a_window_resets_at_exactly_the_time_a_429_gave() -> None:
    limiter = RateLimiter()
    first = ticket(limiter, 0.0)
    limiter.observe(MINUTE, minute_answer(429, 2, 2, retry_after=3), sent_at=0.0, now=1.0, ticket=first)
    assert limiter.acquire(MINUTE, 3.99)[1] is None
    ticket(limiter, 4.0)


def test_a_new_window_starts_with_nothing_used() -> None:
    """After the reset a limit of 2 takes two requests and one probe; only the fourth waits."""
    limiter = RateLimiter()
    first = ticket(limiter, 0.0)
    limiter.observe(MINUTE, minute_answer(429, 2, 2, retry_after=3), sent_at=0.0, now=1.0, ticket=first)
    for _ in range(3):
        ticket(limiter, 4.0)
    assert limiter.acquire(MINUTE, 4.0) == (PROBE_POLL, None)


def test_requests_still_in_flight_at_a_reset_leave_a_probe_to_learn_the_new_window() -> None:
    limiter = RateLimiter()
    unanswered = [ticket(limiter, 0.0), ticket(limiter, 0.0)]
    third = ticket(limiter, 0.0)
    limiter.observe(MINUTE, minute_answer(429, 2, 2, retry_after=3), sent_at=0.0, now=1.0, ticket=third)
    assert len(unanswered) == 2
    ticket(limiter, 4.5)  # both unanswered requests fill the new window: this one is its probe
    assert limiter.acquire(MINUTE, 4.5) == (PROBE_POLL, None)


# --------------------------------------------------------------------------- requests in flight and the probe


def test_limiter_counts_requests_in_flight_as_spent() -> None:
    limiter, key = RateLimiter(), "k"
    limiter.observe(key, minute_answer(200, 10, 1), 0.0, 0.0, ticket(limiter, 0.0, key))
    tickets = [ticket(limiter, 0.1, key) for _ in range(9)]  # 1 answered + 9 in flight = 10
    wait, probe = limiter.acquire(key, 0.1)
    assert probe is not None, "used up but reset unknown: this one is the probe"
    assert limiter.acquire(key, 0.1)[1] is None, "while the probe is unanswered the others wait"
    # An answer processed early by Apollo arrives late: it cannot lower the usage already seen.
    limiter.observe(key, minute_answer(200, 10, 2), 0.1, 0.2, tickets[0])
    limiter.release(key, probe)  # the probe's connection dropped
    assert limiter.acquire(key, 0.2)[1] is not None, "a new probe may go"


def test_only_the_probes_own_answer_lets_another_probe_through() -> None:
    limiter = RateLimiter()
    early, other = ticket(limiter, 0.0), ticket(limiter, 0.0)
    limiter.observe(MINUTE, minute_answer(200, 2, 2), sent_at=0.0, now=0.5, ticket=other)
    probe = ticket(limiter, 1.0)  # the window is used up and its reset unknown: one probe
    limiter.observe(MINUTE, minute_answer(200, 2, 2), sent_at=0.0, now=1.5, ticket=early)
    assert limiter.acquire(MINUTE, 2.0) == (PROBE_POLL, None)
    limiter.release(MINUTE, probe)
    ticket(limiter, 2.5)


def test_a_released_ticket_no_longer_counts_against_the_window() -> None:
    """A request that got no answer gives its place back: the next two go out without a probe wait."""
    limiter = RateLimiter()
    wait, first = limiter.acquire("POST /contacts", 0.0)
    assert (wait, first) == (0.0, 1)
    limiter.observe("POST /contacts", minute_answer(200, 3, 1), 0.0, 0.1, 1)  # opened the window: 2 left
    wait, dropped = limiter.acquire("POST /contacts", 0.2)
    assert wait == 0.0 and dropped is not None
    limiter.release("POST /contacts", dropped)  # connection refused: Apollo never counted it
    assert limiter.acquire("POST /contacts", 0.3)[0] == 0.0  # the 2nd of 3
    assert limiter.acquire("POST /contacts", 0.4)[0] == 0.0  # the 3rd of 3
    # The window is full; its end is not known yet (no 429 seen): one probe goes to learn it.
    assert limiter.acquire("POST /contacts", 0.5)[0] == 0.0
    assert limiter.acquire("POST /contacts", 0.6) == (0.05, None)
