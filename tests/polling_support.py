"""The smallest polling sensor and trigger: each supplies its check and the shape of its XCom value or
events, nothing of the polling. Shared by tests/sensors/test_polling_sensor.py and
tests/triggers/test_polling_trigger.py, with fake transports scripted per check (no HTTP)."""

from __future__ import annotations

import time
from collections.abc import Generator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from airflow_provider_apollo.core.endpoints import ApiRequest
from airflow_provider_apollo.sensors.polling import ApolloPollingSensor
from airflow_provider_apollo.triggers.polling import ApolloPollingTrigger

# What a sensor or trigger defines itself; everything else comes from the bases.
SENSOR_PARTS = {
    "check",
    "trigger_arguments",
    "xcom_value",
    "xcom_value_from_event",
    "awaited",
    "lost_message",
}
TRIGGER_PARTS = {"check", "check_arguments", "result_payload", "lost_message", "awaited"}


@dataclass(frozen=True)
class Tally:
    """A check result with only what a polling sensor or trigger reads of one."""

    done: list[str]
    waiting: list[str]
    lost: list[str] = field(default_factory=list)
    calls: int = 1

    def is_done(self, require: str) -> bool:
        return bool(self.done) if require == "any" else not self.waiting and not self.lost

    def failed(self, require: str) -> bool:
        return bool(self.lost) and (require == "all" or not (self.done or self.waiting))

    def summary(self) -> str:
        return f"{len(self.done)} counted"


def tally_check(contact_ids: list[str], poll_round: int) -> Generator[ApiRequest, Any, Tally]:
    """One request (its path names the round); the answer lists the contacts counted and lost."""
    body = yield ApiRequest("GET", f"/tally/{poll_round}")
    counted, lost = set(body.get("counted", [])), set(body.get("lost", []))
    return Tally(
        done=[i for i in contact_ids if i in counted],
        waiting=[i for i in contact_ids if i not in counted and i not in lost],
        lost=[i for i in contact_ids if i in lost],
    )


class TallySensor(ApolloPollingSensor[Tally]):
    """Waits until the contacts are counted."""

    template_fields = ("contact_ids", "counter")
    trigger_classpath = f"{__name__}.TallyTrigger"
    waits_for = "the tally"

    def __init__(self, *, counter: str = "tally", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.counter = counter

    def check(self, poll_round: int) -> Generator[ApiRequest, Any, Tally]:
        return tally_check(self.rendered_contact_ids, poll_round)

    def trigger_arguments(self) -> dict[str, Any]:
        return {"counter": self.counter}

    def xcom_value(self, result: Tally) -> list[str]:
        return result.done

    def xcom_value_from_event(self, event: dict[str, Any]) -> list[str]:
        return list(event["counted"])

    def awaited(self) -> str:
        return f"the {self.counter}"

    def lost_message(self, result: Tally) -> str:
        return f"never counted: {', '.join(result.lost)}"


class TallyTrigger(ApolloPollingTrigger[Tally]):
    """The tally sensor's trigger."""

    lost_ids_key = "uncountable_ids"

    def __init__(self, contact_ids: list[str], counter: str = "tally", **polling: Any) -> None:
        super().__init__(contact_ids, **polling)
        self.counter = counter

    def check(self, poll_round: int) -> Generator[ApiRequest, Any, Tally]:
        return tally_check(self.contact_ids, poll_round)

    def check_arguments(self) -> dict[str, Any]:
        return {"counter": self.counter}

    def result_payload(self, result: Tally) -> dict[str, Any]:
        return {"counted": result.done}

    def lost_message(self, result: Tally) -> str:
        return f"never counted: {', '.join(result.lost)}"

    def awaited(self) -> str:
        return f"the {self.counter}"


class FakeApollo:
    """A blocking transport: answers each request with the next scripted body, or raises it.

    The last answer repeats. Records the paths asked and when.
    """

    def __init__(self, *answers: Any, max_retry_wait: float = 60.0) -> None:
        self.answers = list(answers)
        self.config = SimpleNamespace(max_retry_wait=max_retry_wait)
        self.paths: list[str] = []
        self.times: list[float] = []
        self.closed = False

    def call(self, request: ApiRequest) -> Any:
        self.paths.append(request.path)
        self.times.append(time.time())
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, BaseException):
            raise answer
        return answer


class FakeAsyncApollo(FakeApollo):
    """The same script as an async hook: a context manager with ``get_config`` and ``call``."""

    async def __aenter__(self) -> FakeAsyncApollo:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        self.closed = True

    async def get_config(self) -> Any:
        return self.config

    async def call(self, request: ApiRequest) -> Any:  # type: ignore[override]
        return FakeApollo.call(self, request)
