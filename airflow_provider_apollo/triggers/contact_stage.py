"""ApolloContactStageTrigger: polls the shared contact-stage check asynchronously in the triggerer."""

from __future__ import annotations

from typing import Any

from airflow_provider_apollo.core import StageCheck, StageCheckResult, stage_check
from airflow_provider_apollo.triggers.polling import ApolloPollingTrigger

__all__ = ["ApolloContactStageTrigger"]


class ApolloContactStageTrigger(ApolloPollingTrigger[StageCheckResult]):
    """
    Poll Apollo until the contacts reach a target stage, without holding a worker slot.

    Fires one event: ``{"status": "success", "contact_ids": [...]}`` (the ids in a target stage),
    ``{"status": "timeout", "message": ..., "contact_ids": [...]}`` once ``end_time`` passes, or
    ``{"status": "error", "message": ..., "missing_contact_ids": [...]}`` when contacts no longer
    exist, or ``{"status": "error", "message": ...}`` when a call fails after the retry policy gave up.

    :param contact_ids: the contacts watched.
    :param stage_ids: target stage ids (the sensor resolves names before deferring).
    :param polling: ``require``, ``apollo_conn_id``, ``poke_interval``, ``end_time`` and
        ``first_check_at``, as :class:`~airflow_provider_apollo.triggers.polling.ApolloPollingTrigger`
        takes them.
    """

    lost_ids_key = "missing_contact_ids"

    def __init__(self, contact_ids: list[str], stage_ids: list[str], **polling: Any) -> None:
        super().__init__(contact_ids, **polling)
        self.stage_ids = list(stage_ids)

    def check(self, poll_round: int) -> StageCheck:
        return stage_check(self.contact_ids, self.stage_ids, require=self.require, probe_round=poll_round)

    def check_arguments(self) -> dict[str, Any]:
        return {"stage_ids": list(self.stage_ids)}

    def result_payload(self, result: StageCheckResult) -> dict[str, Any]:
        return {"contact_ids": result.done}

    def lost_message(self, result: StageCheckResult) -> str:
        return result.missing_message()

    def awaited(self) -> str:
        return "a target stage"
