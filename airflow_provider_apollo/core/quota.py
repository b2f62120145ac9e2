"""Hourly and daily quotas: when a long job waits for a reset instead of failing, and what it costs.

Apollo's per-minute window is paced by the rate limiter; its hourly and daily quotas (400-600
calls an hour per endpoint on paid plans) bound every long job. A job that meets a 429 whose reset
lies beyond ``max_retry_wait`` saves where it stands (a small JSON cursor), gives its worker slot
back until the reset, and resumes from the cursor. This module decides whether to wait, for how
long (for a long job, and for a sensor's check that meets the quota), how long a deferral may
outlast its trigger, and how to describe the plan and what is left; the operators move the bytes
and defer.

The same cursor makes a long job crash-safe: saved to Airflow's task state store as the job goes
(:class:`SavedCheckpoint`, at most once per :class:`SaveSchedule` interval), it lets a new try
after a killed worker resume instead of starting over, when the task's rendered arguments still
match the ones it was saved with (:func:`argument_digests`, :func:`why_not_resume`).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow_provider_apollo.core.ratelimit import WindowUsage
from airflow_provider_apollo.exceptions import ApolloArgumentError, ApolloRateLimitError

DEFAULT_MAX_QUOTA_WAIT = 24 * 3600.0
# Resume a little after the reset Apollo announced, not a moment before it.
QUOTA_RESET_MARGIN = 1.0
QUOTA_RESET_MARGIN_SHARE = 0.01
# A deferral's own timeout is a backstop for a lost triggerer: Airflow fails the task this long
# after its trigger should have fired. The two triggers fire at different moments, and a backstop
# that fires too soon costs different things:
# - a long job's trigger fires at the quota reset; the job still has work to do, and a backstop
#   that fires too soon fails hours of waiting: ten minutes.
LONG_JOB_DEFERRAL_BACKSTOP = 600.0
# - a sensor's trigger reports the sensor's timeout itself, at the deadline; a backstop there only
#   turns a timeout that is already due into Airflow's own: a minute.
SENSOR_DEFERRAL_BACKSTOP = 60.0
WINDOW_SECONDS = {"minute": 60.0, "hour": 3600.0, "day": 86400.0}
WINDOW_RATES = {"minute": "a minute", "hour": "an hour", "day": "a day"}


def check_max_quota_wait(value: Any, argument: str = "max_quota_wait") -> float:
    """Seconds (a number or a ``timedelta``) greater than 0."""
    if isinstance(value, timedelta):
        value = value.total_seconds()
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ApolloArgumentError(
            f"{argument} must be a number of seconds or a timedelta greater than 0, got {value!r}."
        )
    return float(value)


def is_quota_exhausted(error: BaseException, max_retry_wait: float) -> bool:
    """A 429 whose reset lies beyond what a worker should sleep: an hourly or daily quota."""
    return (
        isinstance(error, ApolloRateLimitError)
        and error.retry_after is not None
        and error.retry_after > max_retry_wait
    )


def quota_reset_wait(retry_after: float) -> float:
    """Seconds to wait for a quota that resets in ``retry_after`` seconds: the reset plus a margin (1 s + 1 %)."""
    return retry_after * (1 + QUOTA_RESET_MARGIN_SHARE) + QUOTA_RESET_MARGIN


def quota_pause(error: BaseException, max_retry_wait: float) -> float | None:
    """Seconds a sensor or trigger waits when ``error`` is an exhausted quota (:func:`quota_reset_wait`); else None."""
    if not is_quota_exhausted(error, max_retry_wait):
        return None
    return quota_reset_wait(float(error.retry_after or 0.0))  # type: ignore[attr-defined]


class QuotaExhausted(Exception):
    """
    A long job stopped at an exhausted quota; it carries where to resume.

    :param error: Apollo's 429 (its ``retry_after`` says when the quota resets).
    :param checkpoint: a small JSON value the job resumes from (a cursor, not the data).
    :param work_left: what is left, in the user's words ("3,200 of 5,000 contacts").
    """

    def __init__(self, error: ApolloRateLimitError, checkpoint: Any, work_left: str) -> None:
        super().__init__(str(error))
        self.error = error
        self.checkpoint = checkpoint
        self.work_left = work_left

    @property
    def retry_after(self) -> float:
        return float(self.error.retry_after or 0.0)


@dataclass(frozen=True)
class QuotaDecision:
    """Wait ``seconds`` in the triggerer (``defer``), or fail with ``message``."""

    defer: bool
    seconds: float
    message: str


def decide_quota_wait(
    stop: QuotaExhausted, *, waited: float, wait_for_quota: bool, max_quota_wait: float
) -> QuotaDecision:
    """
    Whether a job that met an exhausted quota waits for the reset, and for how long.

    It waits (deferred, holding no worker) when ``wait_for_quota`` is on and the total wait stays
    within ``max_quota_wait``; otherwise the task fails with a message saying what is left.
    """
    seconds = quota_reset_wait(stop.retry_after)
    reset = _duration(stop.retry_after)
    if not wait_for_quota:
        return QuotaDecision(
            False,
            seconds,
            f"{stop.error} Apollo's quota resets in {reset}; {stop.work_left} left. "
            "wait_for_quota=False, so the task fails instead of waiting (a retry resumes from the saved "
            "checkpoint where Airflow has a task state store, 3.3 and later; before 3.3 it starts from the top).",
        )
    if waited + seconds > max_quota_wait:
        return QuotaDecision(
            False,
            seconds,
            f"{stop.error} Waiting {reset} more for Apollo's quota would pass max_quota_wait "
            f"({_duration(max_quota_wait)}; {_duration(waited)} waited so far); {stop.work_left} left.",
        )
    return QuotaDecision(
        True,
        seconds,
        f"Apollo's quota is used up; {stop.work_left} left. Waiting {reset} for the reset in the "
        "triggerer (no worker slot held), then resuming where the job stopped.",
    )


def describe_plan(what: str, calls: int, endpoint: str, usage: Mapping[str, WindowUsage] | None) -> str:
    """
    A job's cost before it starts: ``"3,000 contacts: 30 calls to /contacts/search; 12 left in
    this hour's quota (400 an hour): about 2 hours"``.
    """
    text = f"{what}: {calls:,} call{'s' if calls != 1 else ''} to {endpoint}"
    binding = binding_window(usage)
    if binding is None:
        return text + "; no hourly or daily quota reported"
    window, left, limit = binding
    hours = estimate_seconds(calls, usage) / 3600
    text += f"; {left:,} left in this {window}'s quota ({limit:,} {WINDOW_RATES[window]})"
    if calls <= left:
        return text + ": fits in the quota left"
    return text + f": about {hours:.1f} hours, waiting for quota resets in the triggerer"


def binding_window(usage: Mapping[str, WindowUsage] | None) -> tuple[str, int, int] | None:
    """The hourly or daily window with the fewest calls left, as (window, left, limit)."""
    best: tuple[str, int, int] | None = None
    for window in ("hour", "day"):
        reading = (usage or {}).get(window)
        if reading is None or reading.limit is None or reading.left is None:
            continue
        if best is None or reading.left < best[1]:
            best = (window, reading.left, reading.limit)
    return best


def estimate_seconds(calls: int, usage: Mapping[str, WindowUsage] | None) -> float:
    """Roughly how long ``calls`` take under the quotas: whole windows to wait, past what is left."""
    binding = binding_window(usage)
    if binding is None or calls <= binding[1]:
        return 0.0
    window, left, limit = binding
    return math.ceil((calls - left) / max(1, limit)) * WINDOW_SECONDS[window]


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.1f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


@dataclass
class BatchCursor:
    """
    Where a batched job (bulk create, stage or owner update) stands: the next batch to send, and
    what was learned on the way that the result needs (ids skipped as deleted; how many chunks of
    created ids were saved). Small and JSON-only: it travels in the task's deferral kwargs.
    """

    next_batch: int = 0
    skipped_deleted_ids: list[str] | None = None
    saved_chunks: int = 0

    @classmethod
    def from_json(cls, value: Any) -> BatchCursor:
        if value is None:
            return cls()
        if not isinstance(value, Mapping):
            raise ApolloArgumentError(f"a batch checkpoint must be a dict, got {value!r}.")
        return cls(
            next_batch=int(value.get("next_batch", 0)),
            skipped_deleted_ids=list(value.get("skipped_deleted_ids") or []),
            saved_chunks=int(value.get("saved_chunks", 0)),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "next_batch": self.next_batch,
            "skipped_deleted_ids": list(self.skipped_deleted_ids or []),
            "saved_chunks": self.saved_chunks,
        }


# ------------------------------------------------------------------ checkpoints across tries

# The task state store's key for a long job's checkpoint, and the keys of its parts (lists a job
# saves beside the cursor, e.g. the ids its applied batches created). One task instance, one job:
# the store is scoped to (DAG run, task, map index), shared by every try of it.
CHECKPOINT_KEY = "apollo_checkpoint"
CHECKPOINT_PART_KEY = "apollo_checkpoint_part_"
# Bumped when a saved checkpoint can no longer be read the same way (a new try then starts clean).
CHECKPOINT_FORMAT = 1
# Seconds between two saves while a job works: a store write costs ~10-25 ms (docs/reliability.md,
# "Crash safety"), a bulk call ~0.3-2 s, so a kill resends at most this much work.
DEFAULT_CHECKPOINT_INTERVAL = 5.0
# A part holds at most about this many ids (~27 KB of JSON, under the store's 64 KB advice): a job
# saves early rather than let one grow past it.
PART_MAX_IDS = 1_000


def check_checkpoint_interval(value: Any, argument: str = "checkpoint_interval") -> float:
    """Seconds (a number or a ``timedelta``) of 0 or more; 0 saves after every batch."""
    if isinstance(value, timedelta):
        value = value.total_seconds()
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < 0
    ):
        raise ApolloArgumentError(
            f"{argument} must be a number of seconds or a timedelta of 0 or more (0: after every batch), "
            f"got {value!r}."
        )
    return float(value)


def argument_digests(arguments: Mapping[str, Any]) -> dict[str, str]:
    """
    One short digest per rendered argument (SHA-256 of its canonical JSON, 16 hex digits): what a
    saved checkpoint is checked against, naming the arguments that changed, without storing them.
    """
    return {name: _digest(value) for name, value in sorted(arguments.items())}


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=_canonical, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _canonical(value: Any) -> Any:
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, datetime):
        return value.isoformat()
    return repr(value)


@dataclass
class SavedCheckpoint:
    """
    What a long job keeps in the task state store: its checkpoint, and what tells whether a later
    try may resume from it.

    :param operator: the operator class that saved it.
    :param arguments: :func:`argument_digests` of the rendered arguments it was saved with.
    :param checkpoint: the job's own JSON cursor (the value a quota stop carries).
    :param parts: how many part keys may exist beside it (to remove them all, later).
    :param saved_at: when it was saved (epoch seconds, the worker's clock).
    :param try_number: the try that saved it.
    """

    operator: str
    arguments: dict[str, str]
    checkpoint: Any
    parts: int = 0
    saved_at: float = 0.0
    try_number: int | None = None
    format: int = CHECKPOINT_FORMAT

    def to_json(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "operator": self.operator,
            "arguments": dict(self.arguments),
            "checkpoint": self.checkpoint,
            "parts": self.parts,
            "saved_at": self.saved_at,
            "try_number": self.try_number,
        }

    @classmethod
    def from_json(cls, value: Any) -> SavedCheckpoint:
        """A saved checkpoint; ``ValueError`` saying why when ``value`` is not one this release wrote."""
        if not isinstance(value, Mapping):
            raise ValueError(f"the stored value is not a checkpoint: {str(value)[:80]!r}")
        if value.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(
                f"it was saved in checkpoint format {value.get('format')!r} (this release reads {CHECKPOINT_FORMAT})"
            )
        arguments = value.get("arguments")
        if not isinstance(arguments, Mapping) or not isinstance(value.get("operator"), str):
            raise ValueError("it does not say which operator and arguments saved it")
        try:
            parts = int(value.get("parts") or 0)
            saved_at = float(value.get("saved_at") or 0.0)
        except (TypeError, ValueError):
            raise ValueError("its parts count or time is not a number") from None
        try_number = value.get("try_number")
        return cls(
            operator=str(value["operator"]),
            arguments={str(k): str(v) for k, v in arguments.items()},
            checkpoint=value.get("checkpoint"),
            parts=max(0, parts),
            saved_at=saved_at,
            try_number=try_number if isinstance(try_number, int) else None,
        )

    def describe(self) -> str:
        """``"saved by try 1 at 2026-12-08 10:00:00 UTC"``."""
        moment = datetime.fromtimestamp(self.saved_at, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        by = f"try {self.try_number}" if self.try_number is not None else "an earlier try"
        return f"saved by {by} at {moment}"


def why_not_resume(saved: SavedCheckpoint, operator: str, arguments: Mapping[str, str]) -> str | None:
    """None when ``saved`` applies to this task as rendered now; else why not, in the user's words."""
    if saved.operator != operator:
        return f"it was saved by {saved.operator}, and this task is now {operator}"
    changed = sorted(
        name
        for name in set(saved.arguments) | set(arguments)
        if saved.arguments.get(name) != arguments.get(name)
    )
    if changed:
        return (
            f"the task's arguments changed since it was saved ({', '.join(changed)}), so the work it "
            "records is not this task's work"
        )
    if saved.checkpoint is None:
        return "it holds no checkpoint"
    return None


@dataclass
class SaveSchedule:
    """
    When a long job saves its checkpoint: at most once per ``interval`` seconds (0: whenever asked),
    counted from the job's start or its last save; a forced save (a quota stop, a write that would
    duplicate if sent again) goes at once. Also tallies the saves and their cost.
    """

    interval: float
    last: float
    saves: int = 0
    seconds: float = 0.0
    longest: float = 0.0

    def due(self, now: float, *, force: bool = False) -> bool:
        return force or now - self.last >= self.interval

    def saved(self, now: float, took: float) -> None:
        self.last = now
        self.saves += 1
        self.seconds += took
        self.longest = max(self.longest, took)

    def summary(self) -> str:
        """``"12 checkpoint saves, 9.8 ms each on average (longest 31.0 ms)"``."""
        if not self.saves:
            return "no checkpoint saved"
        average = self.seconds / self.saves * 1000
        return (
            f"{self.saves} checkpoint save{'s' if self.saves != 1 else ''}, {average:.1f} ms each on "
            f"average (longest {self.longest * 1000:.1f} ms)"
        )
