"""ApolloSequenceStatusTrigger: polls the shared sequence-status check asynchronously in the triggerer."""

from __future__ import annotations

from typing import Any

from airflow_provider_apollo.core import (
    SequenceCheckResult,
    Steps,
    check_reply_classes,
    check_target_statuses,
    sequence_check,
)
from airflow_provider_apollo.triggers.polling import ApolloPollingTrigger

__all__ = ["ApolloSequenceStatusTrigger"]


class ApolloSequenceStatusTrigger(ApolloPollingTrigger[SequenceCheckResult]):
    """
    Poll Apollo until the contacts reach a target status in a sequence, without a worker slot.

    Each check is the sensor's own (:func:`~airflow_provider_apollo.core.sequence_check.sequence_check`),
    with the same requests and call counts.

    Fires one event: ``{"status": "success", "reached": {status: [ids]}, "reply_classes": {class: [ids]}}``,
    ``{"status": "timeout", "message": ..., "reached": {...}, "reply_classes": {...}}`` once
    ``end_time`` passes, or ``{"status": "error", "message": ..., "lost_contact_ids": [...]}`` when
    contacts no longer exist or are not in the sequence, or ``{"status": "error", "message": ...}``
    when a call fails after the retry policy gave up.

    :param contact_ids: the contacts watched.
    :param sequence_id: the sequence's id (the sensor resolves a name before deferring).
    :param target_statuses: the statuses waited for.
    :param reply_classes: the reply classes that count as ``replied``; ``None``: every class.
    :param polling: ``require``, ``apollo_conn_id``, ``poke_interval``, ``end_time`` and
        ``first_check_at``, as :class:`~airflow_provider_apollo.triggers.polling.ApolloPollingTrigger`
        takes them.
    """

    lost_ids_key = "lost_contact_ids"

    def __init__(
        self,
        contact_ids: list[str],
        sequence_id: str,
        target_statuses: list[str],
        reply_classes: list[str] | None = None,
        **polling: Any,
    ) -> None:
        super().__init__(contact_ids, **polling)
        self.sequence_id = str(sequence_id)
        self.target_statuses = check_target_statuses(list(target_statuses))
        self.reply_classes = check_reply_classes(reply_classes)

    def check(self, poll_round: int) -> Steps[SequenceCheckResult]:
        return sequence_check(self.contact_ids, self.sequence_id, self.target_statuses, self.reply_classes)

    def check_arguments(self) -> dict[str, Any]:
        return {
            "sequence_id": self.sequence_id,
            "target_statuses": list(self.target_statuses),
            "reply_classes": list(self.reply_classes),
        }

    def result_payload(self, result: SequenceCheckResult) -> dict[str, Any]:
        return {"reached": result.reached, "reply_classes": result.reply_classes}

    def lost_message(self, result: SequenceCheckResult) -> str:
        return result.lost_message(self.sequence_id)

    def awaited(self) -> str:
        return " or ".join(self.target_statuses)
