"""Run an operator outside a DAG run the way Airflow runs it: XCom through JSON, deferrals to the end.

For tests of long jobs that wait out Apollo's quotas (and for the benchmarks): :func:`run_deferring`
calls ``execute``; on each deferral it runs the trigger as the triggerer would (its kwargs and event
through JSON, as Airflow stores them) and resumes the operator with the event, until it returns.
Imports Airflow only when called.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import time
from dataclasses import dataclass, field
from typing import Any


class TaskInstanceStub:
    """What operators use of a task instance: ``xcom_push`` and ``xcom_pull`` of their own keys, through JSON."""

    map_index = -1

    def __init__(self, task_id: str = "task") -> None:
        self.task_id = task_id
        self.xcoms: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcoms[key] = json.loads(json.dumps(value))

    def xcom_pull(self, task_ids: str | None = None, key: str = "return_value", **kwargs: Any) -> Any:
        return self.xcoms.get(key)


@dataclass
class DeferredRun:
    """
    What :func:`run_deferring` saw.

    :param value: the operator's return value (its XCom), through JSON.
    :param deferrals: each deferral's trigger kwargs, as stored.
    :param worker_seconds: time spent in the operator (what holds a worker slot).
    :param wall_seconds: time from start to finish, trigger waits included.
    """

    value: Any = None
    deferrals: list[dict[str, Any]] = field(default_factory=list)
    worker_seconds: float = 0.0
    wall_seconds: float = 0.0


def run_deferring(operator: Any, context: dict[str, Any] | None = None) -> DeferredRun:
    """Run ``operator`` to the end through its deferrals; ``context`` defaults to a stub task instance."""
    from airflow.providers.common.compat.sdk import TaskDeferred

    context = context if context is not None else {"ti": TaskInstanceStub(operator.task_id)}
    run = DeferredRun()
    started = time.monotonic()
    step: Any = operator.execute
    kwargs: dict[str, Any] = {}
    while True:
        entered = time.monotonic()
        try:
            value = step(context, **kwargs)
        except TaskDeferred as deferred:
            run.worker_seconds += time.monotonic() - entered
            classpath, trigger_kwargs = deferred.trigger.serialize()
            trigger_kwargs = json.loads(json.dumps(trigger_kwargs))
            run.deferrals.append(trigger_kwargs)
            module, _, name = classpath.rpartition(".")
            trigger = getattr(importlib.import_module(module), name)(**trigger_kwargs)
            event = asyncio.run(_first_event(trigger))
            step = getattr(operator, deferred.method_name)
            kwargs = {**(deferred.kwargs or {}), "event": json.loads(json.dumps(event))}
            continue
        run.worker_seconds += time.monotonic() - entered
        run.value = json.loads(json.dumps(value))
        run.wall_seconds = time.monotonic() - started
        return run


async def _first_event(trigger: Any) -> Any:
    async for event in trigger.run():
        return event.payload
    raise RuntimeError(f"{type(trigger).__name__} ended without an event")
