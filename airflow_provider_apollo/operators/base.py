"""Base operators: the lazily built hook, and long jobs that wait out Apollo's quotas and survive a killed worker."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from functools import cached_property
from typing import Any, ClassVar

from airflow.providers.common.compat.sdk import AirflowException, BaseOperator, Context

from airflow_provider_apollo.core import (
    CHECKPOINT_KEY,
    CHECKPOINT_PART_KEY,
    DEFAULT_CHECKPOINT_INTERVAL,
    DEFAULT_MAX_QUOTA_WAIT,
    LONG_JOB_DEFERRAL_BACKSTOP,
    QuotaExhausted,
    SavedCheckpoint,
    SaveSchedule,
    argument_digests,
    check_checkpoint_interval,
    check_max_quota_wait,
    decide_quota_wait,
    describe_plan,
    estimate_seconds,
    is_quota_exhausted,
    why_not_resume,
)
from airflow_provider_apollo.exceptions import ApolloArgumentError, ApolloRateLimitError
from airflow_provider_apollo.hooks.apollo import ApolloHook


class ApolloBaseOperator(BaseOperator):
    """Shared plumbing: the connection id and a hook built on first use, never at DAG parse time."""

    def __init__(self, *, apollo_conn_id: str = ApolloHook.default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.apollo_conn_id = apollo_conn_id

    @cached_property
    def hook(self) -> ApolloHook:
        return ApolloHook(apollo_conn_id=self.apollo_conn_id)


class ApolloLongJobOperator(ApolloBaseOperator):
    """
    An operator whose work may outlast Apollo's hourly or daily quota, or its worker (bulk creates
    and updates, enrollments, list changes, exports, upserts).

    When a call meets a 429 whose reset lies beyond the connection's ``max_retry_wait``, the job
    stops where it stands, defers to the triggerer until the reset (plus a small margin), holding
    no worker slot, and resumes from its checkpoint: work already applied is not sent again, and
    the result equals an uninterrupted run's. Subclasses implement :meth:`run_job`.

    Crash safety (Airflow 3.3 and later, for subclasses with ``crash_safe = True``): the same
    checkpoint is saved to the task instance's state store while the job works, at most once per
    ``checkpoint_interval`` (:meth:`save_progress`), and at every quota stop. A new try (after a
    killed worker, an OOM, an eviction, or any failure) resumes from it when the task's rendered
    arguments are the ones it was saved with, and starts clean, saying why, when they are not.
    Success removes it. Without a task state store (Airflow before 3.3) the checkpoint lives only
    across quota waits, as before.

    :param wait_for_quota: wait for an exhausted quota to reset (True) or fail at once (False).
    :param max_quota_wait: the most the task waits for quotas in total (seconds or a
        ``timedelta``; default 24 hours); past it, the task fails saying how much work is left.
    :param checkpoint_interval: the least time between two checkpoint saves while the job works
        (seconds or a ``timedelta``; default 5 s; 0 saves after every batch). A killed worker's
        next try sends again at most the batches of one interval.
    """

    #: Whether the job's checkpoint names only durable work (applied batches, stored ids, staged
    #: objects), so that a new try may resume from it. Subclasses opt in.
    crash_safe: ClassVar[bool] = False
    #: Attributes besides ``template_fields`` (and ``apollo_conn_id``) whose values a saved
    #: checkpoint must match to be resumed from.
    resume_arguments: ClassVar[Sequence[str]] = ()
    #: The key prefix of the parts a job saves beside its checkpoint (:meth:`save_part`).
    checkpoint_part_key: ClassVar[str] = CHECKPOINT_PART_KEY

    def __init__(
        self,
        *,
        wait_for_quota: bool = True,
        max_quota_wait: float | timedelta = DEFAULT_MAX_QUOTA_WAIT,
        checkpoint_interval: float | timedelta = DEFAULT_CHECKPOINT_INTERVAL,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not isinstance(wait_for_quota, bool):
            raise ApolloArgumentError(f"wait_for_quota must be True or False, got {wait_for_quota!r}.")
        self.wait_for_quota = wait_for_quota
        self.max_quota_wait = check_max_quota_wait(max_quota_wait)
        self.checkpoint_interval = check_checkpoint_interval(checkpoint_interval)
        self._progress: _Progress | None = None

    # -------------------------------------------------------------- what subclasses implement

    def run_job(self, context: Context, checkpoint: Any) -> Any:
        """
        Do the work from ``checkpoint`` (None at the start) and return the XCom value.

        Raise :class:`~airflow_provider_apollo.core.QuotaExhausted` (see :meth:`quota_stop`) with a
        JSON checkpoint when a quota is used up; call :meth:`save_progress` after each applied batch.
        """
        raise NotImplementedError

    def uses_checkpoints(self) -> bool:
        """Whether this task's job is long enough to checkpoint (e.g. not a single-contact create)."""
        return True

    def checkpoint_arguments(self, context: Context) -> dict[str, Any]:
        """The rendered arguments a saved checkpoint belongs to: a change in any one discards it."""
        names = dict.fromkeys([*self.template_fields, *self.resume_arguments, "apollo_conn_id"])
        return {name: getattr(self, name, None) for name in names}

    def discard_checkpoint(self, context: Context, checkpoint: Any) -> None:
        """Remove what a checkpoint that no longer applies names outside the store (staged objects)."""

    def describe_checkpoint(self, checkpoint: Any) -> str:
        """The checkpoint in a log line."""
        text = json.dumps(checkpoint, default=str)
        return text if len(text) <= 200 else text[:197] + "..."

    # -------------------------------------------------------------- what run_job calls

    @property
    def saves_checkpoints(self) -> bool:
        """Whether this try saves its checkpoint to a task state store (crash-safe, Airflow 3.3+)."""
        return self._progress is not None and self._progress.active

    def save_progress(self, make_checkpoint: Callable[[], Any], *, force: bool = False) -> bool:
        """
        Save the job's checkpoint when one is due: ``checkpoint_interval`` since the last save, or
        at once with ``force`` (a batch that would duplicate contacts if sent again).

        ``make_checkpoint`` is called only then: it makes durable what the checkpoint names (saves
        parts, stages objects) and returns the JSON checkpoint. Returns whether it was saved. A
        failed save is logged and the job goes on: crash safety must never fail the work itself.
        """
        return self._progress.save(make_checkpoint, force=force) if self._progress is not None else False

    def quota_stop(
        self, error: ApolloRateLimitError, make_checkpoint: Callable[[], Any], work_left: str
    ) -> BaseException:
        """What to raise from :meth:`run_job` for ``error``: a quota stop with the checkpoint
        ``make_checkpoint()`` returns (called only then), or the error itself."""
        if is_quota_exhausted(error, self.hook.config.max_retry_wait):
            return QuotaExhausted(error, make_checkpoint(), work_left)
        return error

    def save_part(self, context: Context, index: int, value: Any) -> None:
        """
        Keep one part of what the job's result needs (e.g. the ids a stretch of batches created)
        where its checkpoint can find it on resume: the task state store, or without one XCom
        (kept across a quota wait, not across tries). Save a part before the checkpoint naming it.
        """
        self._progress_for(context).put_part(index, value)

    def load_parts(self, context: Context, count: int) -> list[Any]:
        """Parts ``0 .. count - 1`` saved by :meth:`save_part` (None for one that is missing)."""
        return self._progress_for(context).get_parts(count) if count else []

    def forget_progress(self) -> None:
        """Remove the saved checkpoint and its parts: the job is done (called on success too)."""
        if self._progress is not None:
            self._progress.forget()

    # -------------------------------------------------------------- progress in the log

    def log_batch_progress(
        self, what: str, done_batches: int, total_batches: int, endpoint: str, *, first: bool
    ) -> None:
        """The plan after the first batch (when Apollo's quota headers are known), then progress with an ETA."""
        usage = self.hook.quota_usage(endpoint)
        left = total_batches - done_batches
        if first:
            self.log.info("Plan: %s", describe_plan(what, total_batches, endpoint, usage))
        step = max(1, total_batches // 10)
        if done_batches == total_batches or done_batches % step == 0:
            eta = estimate_seconds(left, usage)
            self.log.info(
                "Progress: %d of %d batches sent to %s%s",
                done_batches,
                total_batches,
                endpoint,
                f"; about {eta / 3600:.1f} h of quota waits left" if eta else "",
            )

    # -------------------------------------------------------------- how Airflow runs it

    def execute(self, context: Context) -> Any:
        progress = self._start_progress(context)
        return self._run(context, progress.resume_point(), 0.0)

    def execute_after_quota(self, context: Context, event: Any = None, **kwargs: Any) -> Any:
        """Resume after the quota reset, from the checkpoint the trigger hands back."""
        if not isinstance(event, dict) or event.get("status") != "reset":
            raise AirflowException(
                f"{type(self).__name__}: unexpected event from the quota trigger: {event!r}"
            )
        checkpoint = event.get("checkpoint")
        self.log.info("Apollo's quota has reset; resuming from %s", checkpoint)
        self._start_progress(context).adopt_saved()
        return self._run(context, checkpoint, float(event.get("quota_waited") or 0.0))

    def _start_progress(self, context: Context) -> _Progress:
        self._progress = _Progress(self, context)
        return self._progress

    def _progress_for(self, context: Context) -> _Progress:
        if self._progress is None or self._progress.context is not context:
            self._progress = _Progress(self, context)
        return self._progress

    def _run(self, context: Context, checkpoint: Any, quota_waited: float) -> Any:
        progress = self._progress_for(context)
        try:
            result = self.run_job(context, checkpoint)
        except QuotaExhausted as stop:
            # A retry after a failed or timed-out wait resumes here too.
            stopped_at = stop.checkpoint
            progress.save(lambda: stopped_at, force=True)
            decision = decide_quota_wait(
                stop,
                waited=quota_waited,
                wait_for_quota=self.wait_for_quota,
                max_quota_wait=self.max_quota_wait,
            )
            if not decision.defer:
                raise AirflowException(decision.message) from stop.error
            self.log.warning(decision.message)
            # Imported when deferring, not at DAG parse time.
            from airflow_provider_apollo.triggers.quota import ApolloQuotaResetTrigger

            self.defer(
                trigger=ApolloQuotaResetTrigger(
                    reset_at=time.time() + decision.seconds,
                    checkpoint=stop.checkpoint,
                    quota_waited=quota_waited + decision.seconds,
                ),
                method_name="execute_after_quota",
                timeout=timedelta(seconds=decision.seconds + LONG_JOB_DEFERRAL_BACKSTOP),
            )
        progress.finish()
        return result


class _Progress:
    """
    One try's link to the task state store: the checkpoint read at the start, saved while the job
    works, removed at the end. Inactive (every call a no-op, parts in XCom) for an operator that is
    not crash-safe, a job too short to checkpoint, or an Airflow without a task state store.
    """

    def __init__(self, operator: ApolloLongJobOperator, context: Context) -> None:
        self.operator = operator
        self.context = context
        self.log = operator.log
        wanted = operator.crash_safe and operator.uses_checkpoints()
        store = context.get("task_state_store") if wanted else None  # type: ignore[call-overload]
        if wanted and store is None:
            self.log.info(
                "No task state store (Airflow before 3.3 has none): the checkpoint is kept across quota "
                "waits only, and a new try of this task starts from the beginning."
            )
        self.store: Any = store
        self.schedule = SaveSchedule(operator.checkpoint_interval, time.monotonic())
        self.digests: dict[str, str] = {}
        # Whether a checkpoint may be in the store, and how many part keys may be beside it.
        self.saved = False
        self.parts = 0
        if self.store is not None:
            self.digests = argument_digests(operator.checkpoint_arguments(context))

    @property
    def active(self) -> bool:
        return self.store is not None

    @property
    def operator_name(self) -> str:
        return type(self.operator).__name__

    def _read(self) -> SavedCheckpoint | str | None:
        """The saved checkpoint, the reason it cannot be read, or None when there is none."""
        try:
            stored = self.store.get(CHECKPOINT_KEY)
        except Exception as error:  # crash safety must never fail the work itself
            self.log.warning("Could not read the saved checkpoint (%s): starting from the beginning.", error)
            return None
        if stored is None:
            return None
        self.saved = True
        try:
            saved = SavedCheckpoint.from_json(stored)
        except ValueError as error:
            return str(error)
        self.parts = max(self.parts, saved.parts)
        return saved

    def resume_point(self) -> Any:
        """The checkpoint a new try resumes from, or None (nothing saved, or saved for other arguments)."""
        if not self.active:
            return None
        saved = self._read()
        if saved is None:
            return None
        reason = saved if isinstance(saved, str) else why_not_resume(saved, self.operator_name, self.digests)
        if reason is None:
            assert isinstance(saved, SavedCheckpoint)
            self.log.info(
                "Resuming from the checkpoint %s (not from the beginning): %s",
                saved.describe(),
                self.operator.describe_checkpoint(saved.checkpoint),
            )
            return saved.checkpoint
        when = saved.describe() if isinstance(saved, SavedCheckpoint) else "in the task state store"
        self.log.warning("Discarding the checkpoint %s: %s. Starting from the beginning.", when, reason)
        if isinstance(saved, SavedCheckpoint):
            try:
                self.operator.discard_checkpoint(self.context, saved.checkpoint)
            except Exception as error:
                self.log.warning("Could not remove what the discarded checkpoint named: %s", error)
        self.forget()
        return None

    def adopt_saved(self) -> None:
        """After a quota wait: note what the store holds, so that success removes it."""
        if self.active:
            self._read()

    def save(self, make_checkpoint: Callable[[], Any], *, force: bool = False) -> bool:
        if not self.active or not self.schedule.due(time.monotonic(), force=force):
            return False
        started = time.perf_counter()
        try:
            record = SavedCheckpoint(
                operator=self.operator_name,
                arguments=self.digests,
                checkpoint=make_checkpoint(),
                parts=self.parts,
                saved_at=time.time(),
                try_number=_try_number(self.context),
            )
            self.store.set(CHECKPOINT_KEY, record.to_json())
        except Exception as error:  # crash safety must never fail the work itself
            self.log.warning(
                "Could not save the checkpoint (%s); the job goes on, and a new try would send again "
                "what was done since the last save.",
                error,
            )
            return False
        self.saved = True
        self.schedule.saved(time.monotonic(), time.perf_counter() - started)
        return True

    def put_part(self, index: int, value: Any) -> None:
        key = f"{self.operator.checkpoint_part_key}{index}"
        if self.active:
            self.store.set(key, value)
            self.parts = max(self.parts, index + 1)
        else:
            self.context["ti"].xcom_push(key=key, value=value)

    def get_parts(self, count: int) -> list[Any]:
        keys = [f"{self.operator.checkpoint_part_key}{index}" for index in range(count)]
        if self.active:
            return [self.store.get(key) for key in keys]
        ti = self.context["ti"]
        return [ti.xcom_pull(task_ids=self.operator.task_id, key=key, **_own_map_index(ti)) for key in keys]

    def forget(self) -> None:
        if not self.active or not (self.saved or self.parts):
            return
        try:
            # The checkpoint first: parts without it are never read, a checkpoint without its parts would be.
            self.store.delete(CHECKPOINT_KEY)
            # One past the count: a part saved just before a kill, never named by a checkpoint.
            for index in range(self.parts + 1):
                self.store.delete(f"{self.operator.checkpoint_part_key}{index}")
        except Exception as error:
            self.log.warning(
                "Could not remove the saved checkpoint (%s); it expires with the store's retention.", error
            )
            return
        self.saved = False
        self.parts = 0

    def finish(self) -> None:
        """The job succeeded: remove its checkpoint; report what saving cost."""
        if self.schedule.saves:
            self.log.info("Crash safety: %s to the task state store", self.schedule.summary())
        self.forget()


def _try_number(context: Context) -> int | None:
    number = getattr(context.get("ti"), "try_number", None)  # type: ignore[call-overload]
    return number if isinstance(number, int) else None


def _own_map_index(ti: Any) -> dict[str, Any]:
    # A mapped task reads back its own parts, not its siblings'.
    map_index = getattr(ti, "map_index", -1)
    return {"map_indexes": map_index} if isinstance(map_index, int) and map_index >= 0 else {}
