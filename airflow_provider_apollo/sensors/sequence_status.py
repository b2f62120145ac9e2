"""ApolloSequenceStatusSensor: wait until contacts reach a status in a sequence, by poking or deferred."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import (
    AirflowException,
    AirflowFailException,
    AirflowSensorTimeout,
    Context,
    PokeReturnValue,
    conf,
)

from airflow_provider_apollo.arguments import (
    contact_ids_value,
    is_resolved_later,
    native_value,
    non_empty_string,
)
from airflow_provider_apollo.core.sequence_check import (
    REQUIRE_ALL,
    SequenceCheckResult,
    check_reply_classes,
    check_target_statuses,
    sequence_check,
)
from airflow_provider_apollo.core.stage_check import validate_require
from airflow_provider_apollo.core.steps import run_steps
from airflow_provider_apollo.hooks.apollo import ApolloHook
from airflow_provider_apollo.sensors.base import ApolloCheckSensor

if TYPE_CHECKING:
    from airflow_provider_apollo.triggers.sequence_status import ApolloSequenceStatusTrigger

# As for the stage sensor: the trigger reports its own timeout; the deferral timeout is a backstop.
DEFERRAL_TIMEOUT_MARGIN = 60.0


def _target_statuses_value(value: Any) -> list[str]:
    if isinstance(value, str) and not value.lstrip().startswith(("[", "(")):
        return check_target_statuses([value])
    return check_target_statuses(native_value(value, "target_statuses", list))


def _reply_classes_value(value: Any) -> list[str]:
    if value is None:
        return check_reply_classes(None)
    if isinstance(value, str) and not value.lstrip().startswith(("[", "(")):
        return check_reply_classes([value])
    return check_reply_classes(native_value(value, "reply_classes", list))


class ApolloSequenceStatusSensor(ApolloCheckSensor):
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
    ui_color = "#fdf2e9"

    def __init__(
        self,
        *,
        sequence: str,
        contact_ids: list[str] | str,
        target_statuses: list[str] | str,
        reply_classes: list[str] | str | None = None,
        require: str = REQUIRE_ALL,
        apollo_conn_id: str = ApolloHook.default_conn_name,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.sequence = sequence
        self.contact_ids = contact_ids
        self.target_statuses = target_statuses
        self.reply_classes = reply_classes
        self.require = validate_require(require)
        self.apollo_conn_id = apollo_conn_id
        self.deferrable = deferrable
        if not is_resolved_later(sequence):
            non_empty_string(sequence, "sequence", "a sequence id or name")
        if not is_resolved_later(contact_ids):
            contact_ids_value(contact_ids)
        if not is_resolved_later(target_statuses):
            _target_statuses_value(target_statuses)
        if not is_resolved_later(reply_classes):
            _reply_classes_value(reply_classes)
        self._resolved: tuple[list[str], str, str, list[str], list[str]] | None = None

    @cached_property
    def hook(self) -> ApolloHook:
        return ApolloHook(apollo_conn_id=self.apollo_conn_id)

    def _resolve(self) -> tuple[list[str], str, str, list[str], list[str]]:
        """The rendered ids, the sequence's id and name (looked up once), statuses and classes: once per run."""
        if self._resolved is None:
            contact_ids = contact_ids_value(self.contact_ids)
            statuses = _target_statuses_value(self.target_statuses)
            classes = _reply_classes_value(self.reply_classes)
            target = self.hook.find_sequence(
                non_empty_string(self.sequence, "sequence", "a sequence id or name")
            )
            self._resolved = (contact_ids, target.id, target.name, statuses, classes)
        return self._resolved

    def _check(self) -> SequenceCheckResult:
        contact_ids, sequence_id, sequence_name, statuses, classes = self._resolve()
        result = run_steps(sequence_check(contact_ids, sequence_id, statuses, classes), self.hook.call)
        self.log.info(
            "Sequence %r: %s; %d waiting, %d not in the sequence, %d missing (%d API calls)",
            sequence_name,
            result.summary(),
            len(result.waiting),
            len(result.not_enrolled),
            len(result.missing),
            result.calls,
        )
        if result.failed(self.require):
            raise AirflowFailException(result.lost_message(repr(sequence_name)))
        if result.missing or result.not_enrolled:
            self.log.warning(result.lost_message(repr(sequence_name)))
        return result

    def poke(self, context: Context) -> PokeReturnValue:
        result = self._check_or_quota_wait()
        if isinstance(result, float):
            return PokeReturnValue(is_done=False)
        return PokeReturnValue(is_done=result.is_done(self.require), xcom_value=result.xcom_value())

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        result = self._check_or_quota_wait()
        # After an exhausted quota the trigger's first check waits for the reset instead.
        first_wait = result if isinstance(result, float) else float(self.poke_interval)
        if not isinstance(result, float) and result.is_done(self.require):
            return result.xcom_value()
        contact_ids, sequence_id, sequence_name, statuses, classes = self._resolve()
        self.log.info(
            "Deferring: %s contacts not yet %s in sequence %r; checking every %s s",
            "the" if isinstance(result, float) else len(result.waiting),
            " or ".join(statuses),
            sequence_name,
            self.poke_interval,
        )
        self.defer(
            trigger=_trigger_class()(
                contact_ids=contact_ids,
                sequence_id=sequence_id,
                target_statuses=statuses,
                reply_classes=classes,
                require=self.require,
                apollo_conn_id=self.apollo_conn_id,
                poke_interval=float(self.poke_interval),
                end_time=time.time() + float(self.timeout),
                first_check_at=time.time() + first_wait,
            ),
            method_name="execute_complete",
            timeout=timedelta(
                seconds=float(self.timeout) + float(self.poke_interval) + DEFERRAL_TIMEOUT_MARGIN
            ),
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Called when the trigger fires: the XCom value on success, an exception for anything else."""
        if not isinstance(event, dict) or "status" not in event:
            raise AirflowException(f"ApolloSequenceStatusTrigger sent an unexpected event: {event!r}")
        status = event["status"]
        message = str(event.get("message") or "")
        if status == "success":
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
        if status == "timeout":
            raise AirflowSensorTimeout(f"Sensor has timed out: {message}")
        if status == "error" and event.get("lost_contact_ids"):
            raise AirflowFailException(message)
        if status == "error":
            raise AirflowException(f"Waiting for the sequence status failed: {message}")
        raise AirflowException(f"ApolloSequenceStatusTrigger sent an unknown status {status!r}: {event!r}")


def _trigger_class() -> type[ApolloSequenceStatusTrigger]:
    # Imported when deferring, not at DAG parse.
    from airflow_provider_apollo.triggers.sequence_status import ApolloSequenceStatusTrigger

    return ApolloSequenceStatusTrigger


__all__ = ["ApolloSequenceStatusSensor"]
