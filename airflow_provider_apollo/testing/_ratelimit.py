"""Apollo's fixed-window rate limits: per endpoint, a minute, an hour and a day window, each opened by its first request."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

UPGRADE_URL = "https://app.apollo.io/#/settings/plans/upgrade"


@dataclass(frozen=True)
class WindowSpec:
    """One rate-limit window: its option name, emulated length, wording in the 429 message and headers."""

    name: str
    seconds: int
    unit: str
    limit_header: str
    usage_header: str
    left_header: str


MINUTE = WindowSpec("minute", 60, "minute", "x-rate-limit-minute", "x-minute-usage", "x-minute-requests-left")
HOUR = WindowSpec("hour", 3600, "hour", "x-rate-limit-hourly", "x-hourly-usage", "x-hourly-requests-left")
DAY = WindowSpec("day", 86400, "day", "x-rate-limit-24-hour", "x-24-hour-usage", "x-24-hour-requests-left")
# Older Apollo responses spelled the day window this way; clients must read both.
LEGACY_DAY = WindowSpec("day", 86400, "day", "x-rate-limit-daily", "x-daily-usage", "x-daily-requests-left")


@dataclass
class RateDecision:
    """The outcome of counting one request: its headers, and for a rejection the 429 details."""

    allowed: bool
    headers: dict[str, str]
    retry_after: str | None = None
    message: str | None = None


class _Window:
    __slots__ = ("start", "count")

    def __init__(self) -> None:
        self.start: float | None = None
        self.count = 0


class RateLimiter:
    """Counts requests per endpoint key in fixed windows scaled by ``time_scale`` (real seconds per emulated second)."""

    def __init__(
        self,
        limits: dict[str, int | None] | None,
        *,
        time_scale: float = 1.0,
        legacy_day_headers: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        unknown = set(limits or {}) - {"minute", "hour", "day"}
        if unknown:
            raise ValueError(f"unknown rate-limit windows {sorted(unknown)}; use minute, hour, day")
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self.limits: dict[str, int | None] = {"minute": None, "hour": None, "day": None, **(limits or {})}
        self.time_scale = time_scale
        self.specs = (MINUTE, HOUR, LEGACY_DAY if legacy_day_headers else DAY)
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[str, dict[str, _Window]] = {}

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()

    def _format_retry_after(self, seconds: float) -> str:
        # At real speed Apollo sends whole seconds; a scaled emulator needs sub-second precision.
        if self.time_scale == 1.0:
            return str(max(1, math.ceil(seconds)))
        return f"{max(seconds, 0.001):.3f}"

    def _headers(self, windows: dict[str, _Window]) -> dict[str, str]:
        headers: dict[str, str] = {}
        for spec in self.specs:
            limit = self.limits[spec.name]
            count = windows[spec.name].count
            headers[spec.limit_header] = "" if limit is None else str(limit)
            headers[spec.usage_header] = str(count)
            headers[spec.left_header] = "" if limit is None else str(max(limit - count, 0))
        return headers

    def hit(self, endpoint_key: str, endpoint_path: str) -> RateDecision:
        """Count one request to ``endpoint_key`` unless a window is exhausted (a rejection is not counted)."""
        with self._lock:
            now = self._clock()
            windows = self._windows.setdefault(endpoint_key, {spec.name: _Window() for spec in self.specs})
            for spec in self.specs:
                window = windows[spec.name]
                if window.start is not None and now >= window.start + spec.seconds * self.time_scale:
                    window.start, window.count = None, 0
            exhausted: list[tuple[float, WindowSpec, int]] = []
            for spec in self.specs:
                limit = self.limits[spec.name]
                window = windows[spec.name]
                if limit is not None and window.count >= limit:
                    length = spec.seconds * self.time_scale
                    reset_at = length if window.start is None else window.start + length - now
                    exhausted.append((reset_at, spec, limit))
            if exhausted:
                # Waiting for a shorter window to reset would not help while a longer one is still full.
                wait, spec, limit = max(exhausted, key=lambda item: item[0])
                message = (
                    f"The maximum number of api calls allowed for {endpoint_path} is {limit} times per "
                    f"{spec.unit}. Please upgrade your plan from {UPGRADE_URL}."
                )
                return RateDecision(False, self._headers(windows), self._format_retry_after(wait), message)
            for spec in self.specs:
                window = windows[spec.name]
                if window.start is None:
                    window.start = now
                window.count += 1
            return RateDecision(True, self._headers(windows))
