"""Base operators: the lazily built hook, and long jobs that wait out Apollo's hourly and daily quotas."""

from __future__ import annotations

import time
from datetime import timedelta
from functools import cached_property
from typing import Any

from airflow.providers.common.compat.sdk import AirflowException, BaseOperator, Context

from airflow_provider_apollo.core import (
    DEFAULT_MAX_QUOTA_WAIT,
    QuotaExhausted,
    check_max_quota_wait,
    decide_quota_wait,
    describe_plan,
    estimate_seconds,
    is_quota_exhausted,
)
from airflow_provider_apollo.core.quota import LONG_JOB_DEFERRAL_BACKSTOP
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
    An operator whose work may outlast Apollo's hourly or daily quota (bulk creates and updates,
    exports, upserts).

    When a call meets a 429 whose reset lies beyond the connection's ``max_retry_wait``, the job
    stops where it stands, defers to the triggerer until the reset (plus a small margin), holding
    no worker slot, and resumes from its checkpoint: work already applied is not sent again, and
    the result equals an uninterrupted run's. Subclasses implement :meth:`run_job`.

    :param wait_for_quota: wait for an exhausted quota to reset (True) or fail at once (False).
    :param max_quota_wait: the most the task waits for quotas in total (seconds or a
        ``timedelta``; default 24 hours); past it, the task fails saying how much work is left.
    """

    def __init__(
        self,
        *,
        wait_for_quota: bool = True,
        max_quota_wait: float | timedelta = DEFAULT_MAX_QUOTA_WAIT,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not isinstance(wait_for_quota, bool):
            raise ApolloArgumentError(f"wait_for_quota must be True or False, got {wait_for_quota!r}.")
        self.wait_for_quota = wait_for_quota
        self.max_quota_wait = check_max_quota_wait(max_quota_wait)

    def run_job(self, context: Context, checkpoint: Any) -> Any:
        """
        Do the work from ``checkpoint`` (None at the start) and return the XCom value.

        Raise :class:`~airflow_provider_apollo.core.QuotaExhausted` (see :meth:`stopped_at`) with a
        JSON checkpoint when a quota is used up.
        """
        raise NotImplementedError

    def stopped_at(self, error: ApolloRateLimitError, checkpoint: Any, work_left: str) -> BaseException:
        """What to raise from :meth:`run_job` for ``error``: a quota stop, or the error itself."""
        if is_quota_exhausted(error, self.hook.config.max_retry_wait):
            return QuotaExhausted(error, checkpoint, work_left)
        return error

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

    def execute(self, context: Context) -> Any:
        return self._run(context, None, 0.0)

    def execute_after_quota(self, context: Context, event: Any = None, **kwargs: Any) -> Any:
        """Resume after the quota reset, from the checkpoint the trigger hands back."""
        if not isinstance(event, dict) or event.get("status") != "reset":
            raise AirflowException(
                f"{type(self).__name__}: unexpected event from the quota trigger: {event!r}"
            )
        checkpoint = event.get("checkpoint")
        self.log.info("Apollo's quota has reset; resuming from %s", checkpoint)
        return self._run(context, checkpoint, float(event.get("quota_waited") or 0.0))

    def _run(self, context: Context, checkpoint: Any, quota_waited: float) -> Any:
        try:
            return self.run_job(context, checkpoint)
        except QuotaExhausted as stop:
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
