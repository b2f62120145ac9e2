"""ApolloSequenceStatusSensor: wait until contacts reach a status in a sequence, by poking or deferred."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any

from airflow.providers.common.compat.sdk import AirflowException

from airflow_provider_apollo.arguments import check_native_argument, is_resolved_later, non_empty_string
from airflow_provider_apollo.core import (
    SequenceCheckResult,
    SequenceRef,
    Steps,
    check_reply_classes,
    check_target_statuses,
    sequence_check,
)
from airflow_provider_apollo.sensors.polling import ApolloPollingSensor

__all__ = ["ApolloSequenceStatusSensor"]


def _check_target_statuses(value: Any) -> list[str]:
    if isinstance(value, str) and not value.lstrip().startswith(("[", "(")):
        return check_target_statuses([value])
    return check_target_statuses(check_native_argument(value, "target_statuses", list))


def _check_reply_classes_argument(value: Any) -> list[str]:
    if value is None:
        return check_reply_classes(None)
    if isinstance(value, str) and not value.lstrip().startswith(("[", "(")):
        return check_reply_classes([value])
    return check_reply_classes(check_native_argument(value, "reply_classes", list))


class ApolloSequenceStatusSensor(ApolloPollingSensor[SequenceCheckResult]):
    """
    Wait until all (or any) of the given contacts reach one of the target statuses in a sequence.

    Statuses, as Apollo documents them:

    - ``replied``, ``bounced``, ``spam_blocked``: read from the sequence's outreach emails
      (``GET /emailer_messages/search`` filtered to the sequence, 100 a page). ``replied`` means a
      reply of one of ``reply_classes``. A check costs the pages of matching emails, whatever the
      number of contacts.
    - ``active``, ``paused``, ``finished``, ``failed``: the contact's membership in the sequence
      (``contact_campaign_statuses``), one ``GET /contacts/{id}`` per contact not already reported
      under an email outcome (no documented endpoint lists a sequence's members).

    A contact is reported under the first target it matches in that order: a replier whose
    membership Apollo finished is ``replied``. When memberships are read, contacts that no longer
    exist or are not in the sequence fail the sensor (they can never get there) instead of waiting.

    XCom: ``{status: [ids], ..., "reply_classes": {class: [ids]}}``: one key per target status (an
    empty list when nobody has it), and for each wanted reply class the repliers whose latest
    reply Apollo classed so.

    :param sequence: the sequence's id or name (case-insensitive). Templated.
    :param contact_ids: the contacts to watch: a list, an ``XComArg`` or a template rendering to a list.
    :param target_statuses: the statuses to wait for, e.g. ``["replied"]``. Templated.
    :param reply_classes: the reply classes that count as ``replied`` (Apollo's
        ``willing_to_meet``, ``follow_up_question``, ``person_referral``, ``out_of_office``,
        ``already_left_company_or_not_right_person``, ``not_interested``, ``unsubscribe``,
        ``none_of_the_above``); default every class. Templated.
    :param require: ``"all"`` (every contact) or ``"any"`` (at least one).
    :param apollo_conn_id: the Airflow connection id.
    :param deferrable: wait in the triggerer instead of a worker slot; defaults to
        ``[operators] default_deferrable``.
    """

    template_fields: Sequence[str] = ("sequence", "contact_ids", "target_statuses", "reply_classes")
    trigger_classpath = "airflow_provider_apollo.triggers.sequence_status.ApolloSequenceStatusTrigger"
    waits_for = "the sequence status"

    def __init__(
        self,
        *,
        sequence: str,
        target_statuses: list[str] | str,
        reply_classes: list[str] | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.sequence = sequence
        self.target_statuses = target_statuses
        self.reply_classes = reply_classes
        if not is_resolved_later(sequence):
            non_empty_string(sequence, "sequence", "a sequence id or name")
        if not is_resolved_later(target_statuses):
            _check_target_statuses(target_statuses)
        if not is_resolved_later(reply_classes):
            _check_reply_classes_argument(reply_classes)

    @cached_property
    def rendered_statuses(self) -> list[str]:
        """The target statuses once templates are rendered, checked once per run."""
        return _check_target_statuses(self.target_statuses)

    @cached_property
    def rendered_reply_classes(self) -> list[str]:
        """The wanted reply classes once templates are rendered (every class when none was given)."""
        return _check_reply_classes_argument(self.reply_classes)

    @cached_property
    def target_sequence(self) -> SequenceRef:
        """The sequence's id and name, looked up once per run."""
        return self.hook.find_sequence(non_empty_string(self.sequence, "sequence", "a sequence id or name"))

    def check(self, poll_round: int) -> Steps[SequenceCheckResult]:
        # The arguments first, then the sequence look-up: a bad argument fails before any request.
        contact_ids, statuses = self.rendered_contact_ids, self.rendered_statuses
        classes = self.rendered_reply_classes
        return sequence_check(contact_ids, self.target_sequence.id, statuses, classes)

    def trigger_arguments(self) -> dict[str, Any]:
        return {
            "sequence_id": self.target_sequence.id,
            "target_statuses": self.rendered_statuses,
            "reply_classes": self.rendered_reply_classes,
        }

    def xcom_value(self, result: SequenceCheckResult) -> dict[str, Any]:
        return result.xcom_value()

    def xcom_value_from_event(self, event: dict[str, Any]) -> dict[str, Any]:
        reached = event.get("reached")
        if not isinstance(reached, dict) or not all(
            isinstance(ids, list) and all(isinstance(i, str) for i in ids) for ids in reached.values()
        ):
            raise AirflowException(
                f"ApolloSequenceStatusTrigger's success event has no status map: {event!r}"
            )
        classes = event.get("reply_classes") or {}
        if not isinstance(classes, dict) or not all(isinstance(ids, list) for ids in classes.values()):
            raise AirflowException(
                f"ApolloSequenceStatusTrigger's success event has a bad reply-class map: {event!r}"
            )
        self.log.info(
            "Contacts reached: %s; replies by class: %s",
            {key: len(ids) for key, ids in reached.items()},
            {key: len(ids) for key, ids in classes.items() if ids},
        )
        return {
            **{str(key): list(ids) for key, ids in reached.items()},
            "reply_classes": {str(key): list(ids) for key, ids in classes.items()},
        }

    def awaited(self) -> str:
        return f"{' or '.join(self.rendered_statuses)} in sequence {self.target_sequence.name!r}"

    def lost_message(self, result: SequenceCheckResult) -> str:
        return result.lost_message(repr(self.target_sequence.name))
