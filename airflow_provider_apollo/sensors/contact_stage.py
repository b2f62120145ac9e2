"""ApolloContactStageSensor: wait until contacts reach a contact stage, by poking or deferred."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any

from airflow.providers.common.compat.sdk import AirflowException

from airflow_provider_apollo.arguments import check_native_argument, is_resolved_later, non_empty_string
from airflow_provider_apollo.core import StageCheck, StageCheckResult, stage_check
from airflow_provider_apollo.exceptions import ApolloArgumentError
from airflow_provider_apollo.sensors.polling import ApolloPollingSensor

__all__ = ["ApolloContactStageSensor"]


class ApolloContactStageSensor(ApolloPollingSensor[StageCheckResult]):
    """
    Wait until all (or any) of the given contacts are in one of the target contact stages.

    Each check costs as few API calls as the number of contacts allows: a GET per contact for up to
    5 contacts, otherwise a search by stage (100 contacts per call, however many ids are watched);
    see :func:`~airflow_provider_apollo.core.stage_check.stage_check`. Contacts that no longer
    exist fail the sensor with their ids instead of waiting forever. XCom: the ids in a target stage.

    :param contact_ids: the contacts to watch: a list, an ``XComArg`` or a template rendering to a list.
    :param target_stages: stage ids or display names (``["Replied", "Interested"]``). Templated.
    :param require: ``"all"`` (every contact) or ``"any"`` (at least one).
    :param apollo_conn_id: the Airflow connection id.
    :param deferrable: wait in the triggerer instead of a worker slot; defaults to
        ``[operators] default_deferrable``.
    """

    template_fields: Sequence[str] = ("contact_ids", "target_stages")
    trigger_classpath = "airflow_provider_apollo.triggers.contact_stage.ApolloContactStageTrigger"
    waits_for = "the contact stage"

    def __init__(self, *, target_stages: list[str] | str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.target_stages = target_stages
        if not is_resolved_later(target_stages):
            _check_target_stages(target_stages)

    @cached_property
    def target_stage_ids(self) -> list[str]:
        """The target stages as ids (one stage-list call), resolved once per run."""
        stages = _check_target_stages(self.target_stages)
        return list(dict.fromkeys(self.hook.resolve_contact_stage_id(stage) for stage in stages))

    def check(self, poll_round: int) -> StageCheck:
        return stage_check(
            self.rendered_contact_ids, self.target_stage_ids, require=self.require, probe_round=poll_round
        )

    def trigger_arguments(self) -> dict[str, Any]:
        # Names are resolved before deferring: the trigger deals only in ids.
        return {"stage_ids": self.target_stage_ids}

    def xcom_value(self, result: StageCheckResult) -> list[str]:
        return result.done

    def xcom_value_from_event(self, event: dict[str, Any]) -> list[str]:
        contact_ids = event.get("contact_ids")
        if not isinstance(contact_ids, list) or not all(isinstance(i, str) for i in contact_ids):
            raise AirflowException(f"ApolloContactStageTrigger's success event has no id list: {event!r}")
        self.log.info("%d contacts reached a target stage", len(contact_ids))
        return contact_ids

    def awaited(self) -> str:
        return "stage " + " or ".join(
            self.hook.contact_stage_name(stage_id) for stage_id in self.target_stage_ids
        )

    def lost_message(self, result: StageCheckResult) -> str:
        return result.missing_message()


def _check_target_stages(value: Any) -> list[str]:
    stages = check_native_argument(value, "target_stages", list)
    if not stages:
        raise ApolloArgumentError("target_stages is empty: give at least one stage id or name.")
    return [non_empty_string(stage, "target_stages", "a stage id or name") for stage in stages]
