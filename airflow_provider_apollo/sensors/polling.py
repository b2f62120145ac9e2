"""ApolloPollingSensor: what the Apollo sensors share, poking or deferred; each supplies its check and XCom value."""

from __future__ import annotations

import importlib
import time
from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, cast

from airflow.providers.common.compat.sdk import (
    AirflowException,
    AirflowFailException,
    AirflowSensorTimeout,
    BaseSensorOperator,
    Context,
    PokeReturnValue,
    conf,
)

from airflow_provider_apollo.arguments import check_contact_ids_argument, is_resolved_later
from airflow_provider_apollo.core import (
    REQUIRE_ALL,
    SENSOR_DEFERRAL_BACKSTOP,
    CheckResult,
    Steps,
    check_require,
    quota_pause,
    run_steps,
)
from airflow_provider_apollo.exceptions import ApolloRateLimitError
from airflow_provider_apollo.hooks.apollo import ApolloHook

if TYPE_CHECKING:
    from airflow_provider_apollo.triggers.polling import ApolloPollingTrigger

ResultT = TypeVar("ResultT", bound=CheckResult)

__all__ = ["ApolloPollingSensor"]


class ApolloPollingSensor(BaseSensorOperator, Generic[ResultT]):
    """
    Wait until all (or any) of the given contacts reach a target, checking Apollo every ``poke_interval``.

    The polling is written once, here: poke and reschedule modes, the deferral to the sensor's
    trigger (a :class:`~airflow_provider_apollo.triggers.polling.ApolloPollingTrigger`) and the
    event it sends back, and a check that meets an exhausted hourly or daily quota (a 429 whose
    reset lies beyond the connection's ``max_retry_wait``): it waits for the reset instead of
    failing. A sensor supplies its check and the shape of its XCom value:

    - :meth:`check`: the core generator of one check, from the sensor's arguments;
    - :meth:`trigger_arguments`: what the trigger needs to run the same check (JSON values);
    - :meth:`xcom_value` and :meth:`xcom_value_from_event`: the XCom value from a check, or from
      the trigger's success event;
    - :meth:`awaited`, :attr:`waits_for` and :meth:`lost_message`: what the contacts wait for,
      and why some never get there, in the user's words.

    :param contact_ids: the contacts to watch: a list, an ``XComArg`` or a template rendering to a list.
    :param require: ``"all"`` (every contact) or ``"any"`` (at least one).
    :param apollo_conn_id: the Airflow connection id.
    :param deferrable: wait in the triggerer instead of a worker slot; defaults to
        ``[operators] default_deferrable`` (read when the sensor is built).
    """

    template_fields: Sequence[str] = ("contact_ids",)
    ui_color = "#fdf2e9"
    # The sensor's trigger, imported when deferring, not at DAG parse: airflow.triggers.base alone
    # costs ~150 ms.
    trigger_classpath: ClassVar[str]
    # What the sensor waits for, in a message when its trigger fails: "the contact stage".
    waits_for: ClassVar[str]

    def __init__(
        self,
        *,
        contact_ids: list[str] | str,
        require: str = REQUIRE_ALL,
        apollo_conn_id: str = ApolloHook.default_conn_name,
        deferrable: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.contact_ids = contact_ids
        self.require = check_require(require)
        self.apollo_conn_id = apollo_conn_id
        if deferrable is None:
            deferrable = conf.getboolean("operators", "default_deferrable", fallback=False)
        self.deferrable = deferrable
        if not is_resolved_later(contact_ids):
            check_contact_ids_argument(contact_ids)
        self._poll_round = 0

    @cached_property
    def hook(self) -> ApolloHook:
        return ApolloHook(apollo_conn_id=self.apollo_conn_id)

    @cached_property
    def rendered_contact_ids(self) -> list[str]:
        """The contact ids once templates and XComs are rendered, checked once per run."""
        return check_contact_ids_argument(self.contact_ids)

    # ------------------------------------------------------------------ what a sensor supplies

    def check(self, poll_round: int) -> Steps[ResultT]:
        """
        One check, as a core generator (see :mod:`airflow_provider_apollo.core.lifecycle`).

        :param poll_round: counts the checks of this run (the clock's in reschedule mode), for a
            check that rotates what it probes.
        """
        raise NotImplementedError

    def trigger_arguments(self) -> dict[str, Any]:
        """The trigger's own arguments besides the contacts and the polling ones: JSON values."""
        raise NotImplementedError

    def xcom_value(self, result: ResultT) -> Any:
        """The XCom value for a check's result."""
        raise NotImplementedError

    def xcom_value_from_event(self, event: dict[str, Any]) -> Any:
        """The XCom value for the trigger's success event; an ``AirflowException`` for a malformed one."""
        raise NotImplementedError

    def awaited(self) -> str:
        """What the contacts wait for, completing "contacts that reached ...": ``"stage Replied"``."""
        raise NotImplementedError

    def lost_message(self, result: ResultT) -> str:
        """Why the contacts in ``result.lost`` can never get there."""
        raise NotImplementedError

    # ------------------------------------------------------------------ the polling

    def poke(self, context: Context) -> PokeReturnValue:
        result, _ = self._poll()
        if result is None:
            return PokeReturnValue(is_done=False)
        return PokeReturnValue(is_done=result.is_done(self.require), xcom_value=self.xcom_value(result))

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        result, next_check = self._poll()
        if result is not None and result.is_done(self.require):
            return self.xcom_value(result)
        if result is None:
            self.log.info(
                "Deferring until Apollo's quota resets; then checking every %s s", self.poke_interval
            )
        else:
            self.log.info(
                "Deferring: %d of %d contacts have not reached %s; checking every %s s",
                len(result.waiting),
                len(self.rendered_contact_ids),
                self.awaited(),
                self.poke_interval,
            )
        now = time.time()
        self.defer(
            trigger=self._trigger_class()(
                contact_ids=self.rendered_contact_ids,
                **self.trigger_arguments(),
                require=self.require,
                apollo_conn_id=self.apollo_conn_id,
                poke_interval=float(self.poke_interval),
                end_time=now + float(self.timeout),
                # The sensor has just checked: the trigger's first check comes one interval later,
                # or after the reset of a quota this check found used up.
                first_check_at=now + next_check,
            ),
            method_name="execute_complete",
            timeout=timedelta(
                seconds=float(self.timeout) + float(self.poke_interval) + SENSOR_DEFERRAL_BACKSTOP
            ),
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        """Called when the trigger fires: the XCom value on success, an exception for anything else."""
        trigger_name = self.trigger_classpath.rpartition(".")[2]
        if not isinstance(event, dict) or "status" not in event:
            raise AirflowException(f"{trigger_name} sent an unexpected event: {event!r}")
        status = event["status"]
        message = str(event.get("message") or "")
        if status == "success":
            return self.xcom_value_from_event(event)
        if status == "timeout":
            raise AirflowSensorTimeout(f"Sensor has timed out: {message}")
        if status == "error" and event.get(self._trigger_class().lost_ids_key):
            raise AirflowFailException(message)
        if status == "error":
            raise AirflowException(f"Waiting for {self.waits_for} failed: {message}")
        raise AirflowException(f"{trigger_name} sent an unknown status {status!r}: {event!r}")

    def _poll(self) -> tuple[ResultT | None, float]:
        """
        One check: its result and the seconds until the next check; or, when Apollo's hourly or
        daily quota is used up, ``None`` and the seconds until it resets.
        """
        try:
            result = self._check()
        except ApolloRateLimitError as error:
            pause = quota_pause(error, self.hook.config.max_retry_wait)
            if pause is None:
                raise
            self.log.warning("Apollo's quota is used up; it resets in %.0f s, so this check waits", pause)
            return None, pause
        return result, float(self.poke_interval)

    def _check(self) -> ResultT:
        result = run_steps(self.check(self._next_poll_round()), self.hook.call)
        self.log.info(
            "Checked %d contacts for %s: %s; %d waiting, %d never can (%d API calls)",
            len(self.rendered_contact_ids),
            self.awaited(),
            result.summary(),
            len(result.waiting),
            len(result.lost),
            result.calls,
        )
        if result.failed(self.require):
            raise AirflowFailException(self.lost_message(result))
        if result.lost:
            self.log.warning(self.lost_message(result))
        return result

    def _next_poll_round(self) -> int:
        # Reschedule mode starts a new process each poke: the clock, not a counter, counts rounds.
        poll_round = int(time.time() // max(self.poke_interval, 1.0)) if self.reschedule else self._poll_round
        self._poll_round += 1
        return poll_round

    def _trigger_class(self) -> type[ApolloPollingTrigger[Any]]:
        module, _, name = self.trigger_classpath.rpartition(".")
        return cast("type[ApolloPollingTrigger[Any]]", getattr(importlib.import_module(module), name))
