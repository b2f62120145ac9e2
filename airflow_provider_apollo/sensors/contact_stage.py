"""ApolloContactStageSensor: wait until contacts reach a contact stage, by poking or deferred."""

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
from airflow_provider_apollo.core.stage_check import (
    REQUIRE_ALL,
    StageCheckResult,
    stage_check,
    validate_require,
)
from airflow_provider_apollo.core.steps import run_steps
from airflow_provider_apollo.exceptions import ApolloArgumentError
from airflow_provider_apollo.hooks.apollo import ApolloHook
from airflow_provider_apollo.sensors.base import ApolloCheckSensor

if TYPE_CHECKING:
    from airflow_provider_apollo.triggers.contact_stage import ApolloContactStageTrigger

# The trigger reports its own timeout at the deadline; the deferral timeout is only a backstop
# for a trigger that never fires (a triggerer lost), so it comes a little later.
DEFERRAL_TIMEOUT_MARGIN = 60.0


class ApolloContactStageSensor(ApolloCheckSensor):
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
    ui_color = "#fdf2e9"

    def __init__(
        self,
        *,
        contact_ids: list[str] | str,
        target_stages: list[str] | str,
        require: str = REQUIRE_ALL,
        apollo_conn_id: str = ApolloHook.default_conn_name,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.contact_ids = contact_ids
        self.target_stages = target_stages
        self.require = validate_require(require)
        self.apollo_conn_id = apollo_conn_id
        self.deferrable = deferrable
        if not is_resolved_later(contact_ids):
            contact_ids_value(contact_ids)
        if not is_resolved_later(target_stages):
            _target_stages_value(target_stages)
        self._poke_round = 0
        self._resolved: tuple[list[str], list[str]] | None = None

    @cached_property
    def hook(self) -> ApolloHook:
        return ApolloHook(apollo_conn_id=self.apollo_conn_id)

    def _resolve(self) -> tuple[list[str], list[str]]:
        """The rendered ids, and the target stages as ids (one stage-list call), checked once per run."""
        if self._resolved is None:
            contact_ids = contact_ids_value(self.contact_ids)
            stages = _target_stages_value(self.target_stages)
            stage_ids = list(dict.fromkeys(self.hook.resolve_contact_stage_id(stage) for stage in stages))
            self._resolved = (contact_ids, stage_ids)
        return self._resolved

    def _stage_names(self, stage_ids: list[str]) -> str:
        return " or ".join(self.hook.contact_stage_name(stage_id) for stage_id in stage_ids)

    def _check(self) -> StageCheckResult:
        contact_ids, stage_ids = self._resolve()
        # Reschedule mode starts a new process each poke: the clock, not a counter, rotates probes.
        probe_round = (
            int(time.time() // max(self.poke_interval, 1.0)) if self.reschedule else self._poke_round
        )
        self._poke_round += 1
        check = stage_check(contact_ids, stage_ids, require=self.require, probe_round=probe_round)
        result = run_steps(check, self.hook.call)
        self.log.info(
            "%d of %d contacts are in stage %s (%d waiting, %d missing; %d API calls, %s)",
            len(result.done),
            len(contact_ids),
            self._stage_names(stage_ids),
            "the" if isinstance(result, float) else len(result.waiting),
            len(result.missing),
            result.calls,
            result.strategy,
        )
        for note in result.notes:
            self.log.info("Check strategy: %s", note)
        if result.failed(self.require):
            raise AirflowFailException(result.missing_message())
        if result.missing:
            self.log.warning(result.missing_message())
        return result

    def poke(self, context: Context) -> PokeReturnValue:
        result = self._check_or_quota_wait()
        if isinstance(result, float):
            return PokeReturnValue(is_done=False)
        return PokeReturnValue(is_done=result.is_done(self.require), xcom_value=result.done)

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        result = self._check_or_quota_wait()
        # After an exhausted quota the trigger's first check waits for the reset instead.
        first_wait = result if isinstance(result, float) else float(self.poke_interval)
        if not isinstance(result, float) and result.is_done(self.require):
            return result.done
        contact_ids, stage_ids = self._resolve()
        self.log.info(
            "Deferring: %s contacts not yet in stage %s; checking every %s s",
            "the" if isinstance(result, float) else len(result.waiting),
            self._stage_names(stage_ids),
            self.poke_interval,
        )
        self.defer(
            trigger=_trigger_class()(
                contact_ids=contact_ids,
                stage_ids=stage_ids,
                require=self.require,
                apollo_conn_id=self.apollo_conn_id,
                poke_interval=float(self.poke_interval),
                end_time=time.time() + float(self.timeout),
                # The sensor has just checked: the trigger's first check waits one interval.
                first_check_at=time.time() + first_wait,
            ),
            method_name="execute_complete",
            timeout=timedelta(
                seconds=float(self.timeout) + float(self.poke_interval) + DEFERRAL_TIMEOUT_MARGIN
            ),
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> list[str]:
        """Called when the trigger fires: the ids on success, an exception for anything else."""
        if not isinstance(event, dict) or "status" not in event:
            raise AirflowException(f"ApolloContactStageTrigger sent an unexpected event: {event!r}")
        status = event["status"]
        message = str(event.get("message") or "")
        if status == "success":
            contact_ids = event.get("contact_ids")
            if not isinstance(contact_ids, list) or not all(isinstance(i, str) for i in contact_ids):
                raise AirflowException(f"ApolloContactStageTrigger's success event has no id list: {event!r}")
            self.log.info("%d contacts reached a target stage", len(contact_ids))
            return contact_ids
        if status == "timeout":
            raise AirflowSensorTimeout(f"Sensor has timed out: {message}")
        if status == "error" and event.get("missing_contact_ids"):
            raise AirflowFailException(message)
        if status == "error":
            raise AirflowException(f"Waiting for the contact stage failed: {message}")
        raise AirflowException(f"ApolloContactStageTrigger sent an unknown status {status!r}: {event!r}")


def _target_stages_value(value: Any) -> list[str]:
    stages = native_value(value, "target_stages", list)
    if not stages:
        raise ApolloArgumentError("target_stages is empty: give at least one stage id or name.")
    return [non_empty_string(stage, "target_stages", "a stage id or name") for stage in stages]


def _trigger_class() -> type[ApolloContactStageTrigger]:
    # Imported when deferring, not at DAG parse: airflow.triggers.base alone costs ~150 ms.
    from airflow_provider_apollo.triggers.contact_stage import ApolloContactStageTrigger

    return ApolloContactStageTrigger
