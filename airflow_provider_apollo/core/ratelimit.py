"""Rate limits: Apollo's usage headers read, and requests paced so long runs meet few 429s."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

from airflow_provider_apollo.core.responses import ApiResponse, parse_retry_after

# Apollo's rate-limit headers per window; the day window has two spellings.
_WINDOW_HEADERS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "minute": (("x-rate-limit-minute", "x-minute-usage", "x-minute-requests-left"),),
    "hour": (("x-rate-limit-hourly", "x-hourly-usage", "x-hourly-requests-left"),),
    "day": (
        ("x-rate-limit-24-hour", "x-24-hour-usage", "x-24-hour-requests-left"),
        ("x-rate-limit-daily", "x-daily-usage", "x-daily-requests-left"),
    ),
}
MINUTE_WINDOW_SECONDS = 60.0
# The client sees a window open a little after Apollo does; waiting this much past the predicted
# reset absorbs that skew (0.65 s of a 60 s minute).
RESET_MARGIN = 0.05
RESET_MARGIN_SHARE = 0.01
# While one request learns when a used-up window resets, the others check back this often.
PROBE_POLL = 0.05


@dataclass(frozen=True)
class WindowUsage:
    limit: int | None
    used: int | None
    left: int | None


def read_rate_limit_headers(headers: Mapping[str, str]) -> dict[str, WindowUsage]:
    """Usage per window from Apollo's headers (both day-window spellings); empty values mean unlimited."""
    windows: dict[str, WindowUsage] = {}
    for window, spellings in _WINDOW_HEADERS.items():
        for limit_name, used_name, left_name in spellings:
            if limit_name in headers or left_name in headers:
                windows[window] = WindowUsage(
                    _int_or_none(headers.get(limit_name)),
                    _int_or_none(headers.get(used_name)),
                    _int_or_none(headers.get(left_name)),
                )
                break
    return windows


def _int_or_none(value: str | None) -> int | None:
    """A header's whole number; a blank value (unlimited), or one that is not a finite number, is None."""
    if value is None:
        return None
    try:
        return int(float(value))
    except (ValueError, OverflowError):  # float("") and float(" ") raise ValueError; int(inf) overflows
        return None


@dataclass
class _MinuteWindow:
    # Evidence that this process opened the current window: the send time of a request whose
    # answer said usage 1. Without it (another process opened the window, or none was seen open)
    # the limiter does not predict the reset; it learns it from one probe's 429 instead.
    opened_after: float | None = None
    # When the current window opened (the opening response's arrival, or the predicted reset).
    started_at: float | None = None
    # The window's length, learned only from evidence: a 429's reset minus a seen opening.
    length: float | None = None
    # When the latest 429 said the window resets: the best evidence there is, so never waited past.
    reset_at: float | None = None
    limit: int | None = None
    # The highest usage Apollo reported in this window: answers arrive out of order.
    used: int = 0
    # Requests sent and not yet answered (by ticket): Apollo may not have counted them yet.
    in_flight: set[int] = field(default_factory=set)
    tickets: int = 0
    # The one request sent to learn when a used-up window resets, while it is unanswered.
    probe: int | None = None

    def ends_at(self) -> float | None:
        if self.reset_at is not None:
            return self.reset_at
        if self.opened_after is None or self.started_at is None or self.length is None:
            return None
        return self.started_at + self.length

    def margin(self) -> float:
        return (self.length or 0.0) * RESET_MARGIN_SHARE + RESET_MARGIN

    def left(self) -> int | None:
        """Requests this window still takes, counting unanswered ones as spent (the safe side)."""
        return None if self.limit is None else self.limit - self.used - len(self.in_flight)


class RateLimiter:
    """
    Paces requests per Apollo endpoint from the rate-limit headers, so long runs meet few 429s.

    Apollo's windows open on the first request, and no header says when they reset. The limiter
    notes when it saw a window open (a response whose usage is 1) and learns the window's length
    from a 429's ``retry-after`` only when it saw that window open. When the quota is used up
    (counting requests still in flight as spent, and the team's usage from the headers, which
    counts other processes' requests too) it holds requests until the reset: the latest 429's
    reset when there is one (never waited past), else the reset predicted from a window it saw
    open. When neither is known (another process opened the window), a used-up window lets one
    request through to learn the reset while the others wait: at most one 429 per exhausted
    window, however many pages are fetched at once. No clock and no sleeping here: methods take ``now``
    (monotonic seconds) and callers sleep for the wait returned.
    """

    def __init__(self) -> None:
        self._windows: dict[str, _MinuteWindow] = {}
        self._usage: dict[str, dict[str, WindowUsage]] = {}
        self._lock = threading.Lock()

    def usage(self, key: str) -> dict[str, WindowUsage]:
        """The latest usage Apollo reported for ``key``'s windows (the team's, not this process's)."""
        with self._lock:
            return dict(self._usage.get(key, {}))

    def acquire(self, key: str, now: float) -> tuple[float, int | None]:
        """
        Ask to send a request counting against ``key``'s window.

        Returns ``(0.0, ticket)``: send now and hand ``ticket`` to :meth:`observe` (or
        :meth:`release` when no response came); or ``(wait, None)``: sleep ``wait`` seconds and ask
        again.
        """
        with self._lock:
            window = self._windows.setdefault(key, _MinuteWindow())
            ends_at = window.ends_at()
            if ends_at is not None and now >= ends_at:
                # The reset has passed: a new window. Who opens it is known only from the answers.
                window.started_at, window.opened_after, window.reset_at = now, None, None
                window.used = 0
                ends_at = None
            left = window.left()
            if left is not None and left <= 0:
                if ends_at is not None:
                    return ends_at + window.margin() - now, None
                if window.probe is not None:
                    return PROBE_POLL, None
            window.tickets += 1
            ticket = window.tickets
            window.in_flight.add(ticket)
            if left is not None and left <= 0:
                window.probe = ticket
            return 0.0, ticket

    def release(self, key: str, ticket: int) -> None:
        """A request got no response (connection error): stop counting it as in flight."""
        with self._lock:
            window = self._windows.get(key)
            if window is not None:
                window.in_flight.discard(ticket)
                if window.probe == ticket:
                    window.probe = None

    def observe(self, key: str, response: ApiResponse, sent_at: float, now: float, ticket: int) -> None:
        """Update ``key``'s window from the response to the request ``ticket`` sent at ``sent_at``."""
        with self._lock:
            window = self._windows.setdefault(key, _MinuteWindow())
            window.in_flight.discard(ticket)
            if window.probe == ticket:
                window.probe = None
            windows = read_rate_limit_headers(response.headers)
            if windows:
                self._usage[key] = windows
            usage = windows.get("minute")
            if response.status == 429:
                self._observe_429(window, response, usage, now)
                return
            if usage is None or usage.limit is None or usage.used is None:
                return
            window.limit = usage.limit
            if usage.used <= 1 and (window.started_at is None or sent_at >= window.started_at):
                # This request opened a new window (sent after the current one's start, so not a
                # late answer from an earlier window).
                window.opened_after, window.started_at, window.used = sent_at, now, usage.used
            else:
                # Answers arrive out of order: keep the highest usage reported in this window.
                window.used = max(window.used, usage.used)

    @staticmethod
    def _observe_429(
        window: _MinuteWindow, response: ApiResponse, usage: WindowUsage | None, now: float
    ) -> None:
        retry_after = parse_retry_after(response.header("retry-after"))
        minute_has_room = usage is not None and usage.left is not None and usage.left > 0
        if retry_after is None or minute_has_room or retry_after > MINUTE_WINDOW_SECONDS * 1.5:
            return  # an hourly or daily quota: the retry policy raises, nothing to pace
        window.reset_at = now + retry_after
        if window.opened_after is not None and window.reset_at > window.opened_after:
            window.length = window.reset_at - window.opened_after
        if usage is not None and usage.limit is not None:
            window.limit = usage.limit
        window.used = window.limit or window.used
