"""Request statistics: what a run cost in requests, 429s, retries and waits; safe across threads."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

# The status recorded for a request that got no answer (connection error, timeout).
NO_ANSWER = 0


@dataclass(frozen=True)
class StatsSnapshot:
    """A consistent copy of :class:`RequestStats` at one instant (JSON-friendly via :meth:`as_dict`)."""

    by_status: dict[int, int] = field(default_factory=dict)
    retries: int = 0
    retry_wait_seconds: float = 0.0
    pacing_wait_seconds: float = 0.0

    @property
    def requests(self) -> int:
        return sum(self.by_status.values())

    @property
    def rate_limited(self) -> int:
        return self.by_status.get(429, 0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "by_status": {str(status): count for status, count in sorted(self.by_status.items())},
            "rate_limited": self.rate_limited,
            "retries": self.retries,
            "retry_wait_seconds": round(self.retry_wait_seconds, 3),
            "pacing_wait_seconds": round(self.pacing_wait_seconds, 3),
        }


class RequestStats:
    """
    Counts of one hook's requests: responses by status (0 = no answer), retries and time waited.

    A hook creates one, or takes one from its caller (``ApolloHook(stats=...)``) so several hooks,
    or a caller's own code, can add up into one object. Updated from the paging threads at once:
    every change holds a lock, and :meth:`snapshot` reads a consistent copy.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_status: Counter[int] = Counter()
        self._retries = 0
        self._waits = {"retry": 0.0, "pacing": 0.0}

    def record_response(self, status: int) -> None:
        with self._lock:
            self._by_status[status] += 1

    def record_no_answer(self) -> None:
        self.record_response(NO_ANSWER)

    def record_wait(self, reason: str, seconds: float) -> None:
        with self._lock:
            self._waits[reason] = self._waits.get(reason, 0.0) + seconds
            if reason == "retry":
                self._retries += 1

    def snapshot(self) -> StatsSnapshot:
        with self._lock:
            return StatsSnapshot(
                by_status=dict(self._by_status),
                retries=self._retries,
                retry_wait_seconds=self._waits["retry"],
                pacing_wait_seconds=self._waits["pacing"],
            )

    @property
    def requests(self) -> int:
        return self.snapshot().requests

    @property
    def rate_limited(self) -> int:
        return self.snapshot().rate_limited

    def __repr__(self) -> str:
        return f"RequestStats({self.snapshot().as_dict()})"
