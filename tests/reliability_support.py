"""
The fault suite's support: the marker key, fast retries, the named faults, leak checks, the contact
stage wait under faults, the fixtures and the results table of docs/reliability.md.

Used by the fault tests beside the code they check (tests/hooks, tests/operators, tests/sensors,
tests/triggers, tests/transfers) and by those left in tests/reliability. tests/conftest.py imports
the fixtures (``emulator``, ``reconnect``, ``context``, ``outcome``, ``no_key_in_logs``,
``tight_quota``) for the whole tree and calls :func:`register_results_table` from its
``pytest_configure``; a closer conftest may import them again.
"""

from __future__ import annotations

import json
import os
import re
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from key_guard import KeyLeakGuard

from airflow_provider_apollo.exceptions import ApolloArgumentError, ApolloValidationError
from airflow_provider_apollo.testing import ApolloEmulator, TaskInstanceStub
from airflow_provider_apollo.testing.emulator import Fault

if TYPE_CHECKING:
    from airflow_provider_apollo.sensors.contact_stage import ApolloContactStageSensor

# A key nobody would type by accident: every log, exception, XCom and rendered field is searched for it.
MARKER_KEY = "sk-live-UNIQUE-MARKER-3f9c1e7a5b"

# A retry budget that survives the injected faults in well under a second each: max_retry_wait also
# caps the hook's exponential backoff (it starts at 0.5 s), and 429 faults use retry_after=0.1.
MAX_RETRIES = 3
MAX_RETRY_WAIT = 0.3
TIMEOUT = 5.0
SHORT_TIMEOUT = 0.3
SLOW_RESPONSE = 0.6
RETRY_AFTER = 0.1
# Task retries a DAG author would configure (retries=2): three tries in all.
TASK_TRIES = 3


def connection(emulator: ApolloEmulator, **extra: Any) -> str:
    settings = {"max_retries": MAX_RETRIES, "max_retry_wait": MAX_RETRY_WAIT, "timeout": TIMEOUT, **extra}
    return json.dumps(
        {"conn_type": "apollo", "password": emulator.api_key, "host": emulator.url, "extra": settings}
    )


def text_of(value: Any) -> str:
    """Everything a value could show a user: an exception's full chain, or a JSON/repr rendering."""
    if isinstance(value, BaseException):
        return "".join(traceback.format_exception(value)) + repr(value) + repr(getattr(value, "body", None))
    try:
        return json.dumps(value, default=repr) + repr(value)
    except (TypeError, ValueError):
        return repr(value)


def assert_no_key(*values: Any) -> None:
    for value in values:
        assert MARKER_KEY not in text_of(value), f"the API key leaked into a {type(value).__name__}"


def expect_failure(run: Callable[[], Any], *errors: type[BaseException]) -> BaseException:
    """Run ``run``; it must raise one of ``errors``, with the key nowhere in the exception's chain."""
    with pytest.raises(errors or (Exception,)) as raised:
        run()
    assert_no_key(raised.value)
    return raised.value


def assert_refused_naming_it(emulator: ApolloEmulator, run: Callable[[], Any], named: str) -> None:
    """``run`` fails with an argument error naming ``named`` (the key nowhere in it) before any request."""
    error = expect_failure(run, ApolloValidationError, ValueError)
    assert named in str(error)
    assert isinstance(error, ApolloArgumentError), type(error)
    assert emulator.requests == []


def count_by_email(emulator: ApolloEmulator) -> dict[str, int]:
    counts: dict[str, int] = {}
    for contact in emulator.contacts.values():
        email = str(contact.get("email") or "").casefold()
        counts[email] = counts.get(email, 0) + 1
    return counts


def settle(emulator: ApolloEmulator, fault: FaultCase | None = None) -> None:
    """After a delay fault: wait until requests the client gave up on have been applied server-side."""
    if fault is not None and not fault.slow:
        return
    deadline = time.monotonic() + SLOW_RESPONSE * 3
    while time.monotonic() < deadline:
        now = time.monotonic()
        # A dropped request keeps status 0 for good; a delayed one is answered SLOW_RESPONSE after arrival.
        if not any(r.status == 0 and now - r.time < SLOW_RESPONSE + 0.2 for r in list(emulator.requests)):
            return
        time.sleep(0.02)


def run_task(
    make_operator: Callable[[], Any], context: dict[str, Any], tries: int = TASK_TRIES
) -> tuple[Any, list[BaseException]]:
    """
    Run a task the way Airflow does with ``retries=tries - 1``: a fresh operator (a new process) each
    try, until one succeeds. Returns the XCom value (through JSON) and the errors of the failed tries.
    """
    errors: list[BaseException] = []
    for _ in range(tries):
        operator = make_operator()
        try:
            value = operator.execute(context)
        except Exception as error:  # Airflow marks the try failed and schedules the retry
            assert_no_key(error)
            errors.append(error)
            continue
        value = json.loads(json.dumps(value))
        assert_no_key(value, context["ti"].xcoms)
        return value, errors
    raise errors[-1]


@dataclass(frozen=True)
class FaultCase:
    """One fault: the emulator's fault kind and options, and the connection extras it needs."""

    name: str
    kind: str
    options: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def slow(self) -> bool:
        return self.kind == "delay"

    def inject(self, emulator: ApolloEmulator, **overrides: Any) -> Fault:
        """Add the fault to ``emulator``; the returned fault's ``hits`` tells whether it struck."""
        return emulator.add_fault(self.kind, **{**self.options, **overrides})

    def param(self) -> Any:
        return pytest.param(self, id=self.name)


# Faults the hook's retry budget covers: a run under them must end exactly as a run without them.
TRANSIENT_FAULTS = (
    # From the first request on, so a call of one request (a single create) meets it too.
    FaultCase(
        "429-storm-every-other-request",
        "status",
        {"status": 429, "retry_after": RETRY_AFTER, "every": 2, "start": 1, "count": None},
    ),
    FaultCase("5xx-burst", "status", {"status": 500, "count": 2}),
    FaultCase("503-gateway-html-burst", "status", {"status": 503, "count": 2}),
    FaultCase("dropped-before-apply", "drop", {"count": 2}),
    FaultCase("dropped-after-apply", "drop_after_apply", {"count": 2}),
    FaultCase(
        "slow-response-past-timeout",
        "delay",
        {"delay": SLOW_RESPONSE, "count": 1},
        {"timeout": SHORT_TIMEOUT},
    ),
    FaultCase("truncated-body", "truncate", {"count": 2}),
    FaultCase("non-json-body", "non_json", {"count": 2}),
)

# The same faults on every request (or more often than the hook retries): the run must fail clearly,
# and whatever it writes must be absent or whole.
PERSISTENT_FAULTS = (
    FaultCase("429-on-every-request", "status", {"status": 429, "retry_after": RETRY_AFTER, "count": None}),
    FaultCase("5xx-on-every-request", "status", {"status": 500, "count": None}),
    FaultCase("dropped-before-apply-always", "drop", {"count": None}),
    FaultCase("dropped-after-apply-always", "drop_after_apply", {"count": None}),
    FaultCase(
        "slow-response-always",
        "delay",
        {"delay": SLOW_RESPONSE, "count": MAX_RETRIES + 1},
        {"timeout": SHORT_TIMEOUT},
    ),
    FaultCase("truncated-body-always", "truncate", {"count": None}),
    FaultCase("non-json-body-always", "non_json", {"count": None}),
)


# Faults after which the request WAS applied though the client saw a failure: a create retried
# without dedupe would duplicate the contact.
APPLIED_THEN_FAILED = (
    FaultCase("dropped-after-apply", "drop_after_apply", {"count": 2}),
    FaultCase("5xx-after-apply", "status_after_apply", {"status": 500, "count": 2}),
    FaultCase("503-after-apply", "status_after_apply", {"status": 503, "count": 2}),
)


def create_params() -> list[Any]:
    """The transient faults, and the ones that apply a request and then fail it (for creates)."""
    names = {case.name for case in TRANSIENT_FAULTS}
    return transient_params() + [case.param() for case in APPLIED_THEN_FAILED if case.name not in names]


def applied_then_failed_params() -> list[Any]:
    return [case.param() for case in APPLIED_THEN_FAILED]


def transient_params() -> list[Any]:
    return [case.param() for case in TRANSIENT_FAULTS]


def persistent_params() -> list[Any]:
    return [case.param() for case in PERSISTENT_FAULTS]


def after_applied(emulator: ApolloEmulator, handler: str, n: int, action: Callable[[], None]) -> None:
    """Run ``action`` right after the emulator applied its ``n``-th request to ``handler`` (a mid-run event)."""
    original = getattr(emulator, handler)
    calls = 0

    def wrapped(request: Any) -> Any:
        nonlocal calls
        result = original(request)
        calls += 1
        if calls == n:
            action()
        return result

    # The server looks the handler up on the instance for every request.
    setattr(emulator, handler, wrapped)


# --------------------------------------------------------------------------- the contact stage wait

# Up to 5 watched contacts the check GETs each one; more use a stage search: both paths are faulted.
WATCHED = pytest.mark.parametrize("watched", [3, 8], ids=["3-contacts-get-each", "8-contacts-stage-search"])


def stage_sensor(contact_ids: list[str]) -> ApolloContactStageSensor:
    """A poking ApolloContactStageSensor waiting for ``contact_ids`` to reach "Replied"."""
    # Imported here: tests/conftest.py imports this module, and Airflow need not load for every run.
    from airflow_provider_apollo.sensors.contact_stage import ApolloContactStageSensor

    return ApolloContactStageSensor(
        task_id="wait",
        contact_ids=contact_ids,
        target_stages=["Replied"],
        poke_interval=0.1,
        timeout=5,
        deferrable=False,
    )


def half_replied(emulator: ApolloEmulator, watched: int) -> list[str]:
    """``watched`` contacts seeded "Cold", the first two of them moved to "Replied"."""
    ids = emulator.seed_contacts(watched, stage="Cold")
    emulator.set_contact_stage(ids[:2], "Replied")
    return ids


def inject_on_the_check_path(emulator: ApolloEmulator, fault: FaultCase, watched: int) -> None:
    """The fault on the requests the check sends: the per-contact GETs (<= 5 ids) or the stage search."""
    if watched <= 5:
        fault.inject(emulator, path="/contacts/", method="GET")
    else:
        fault.inject(emulator, path="/contacts/search", method="POST")


# --------------------------------------------------------------------------- fixtures

# What the ``outcome`` fixture is: record(fault, component, result) for the results table.
Outcome = Callable[[str, str, str], None]


@pytest.fixture
def no_key_in_logs(capfd: pytest.CaptureFixture[str]) -> Iterator[KeyLeakGuard]:
    """
    The marker key appears in no log record (every level, every logger), in nothing printed, and in
    no request any emulator received except in its ``x-api-key`` header.
    """
    with KeyLeakGuard({MARKER_KEY}) as guard:
        yield guard
    out, err = capfd.readouterr()
    guard.check(out, err)


@pytest.fixture
def emulator(no_key_in_logs: KeyLeakGuard, monkeypatch: pytest.MonkeyPatch) -> Iterator[ApolloEmulator]:
    """A started emulator whose key is the marker, with ``apollo_default`` pointing at it (fast retries)."""
    with ApolloEmulator(api_key=MARKER_KEY) as started:
        monkeypatch.setenv("AIRFLOW_CONN_APOLLO_DEFAULT", connection(started))
        yield started


@pytest.fixture
def reconnect(emulator: ApolloEmulator, monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Change the connection's extras (e.g. ``timeout=0.5``); hooks built afterwards read them."""

    def apply(**extra: Any) -> None:
        monkeypatch.setenv("AIRFLOW_CONN_APOLLO_DEFAULT", connection(emulator, **extra))

    return apply


@pytest.fixture
def context() -> dict[str, Any]:
    """The part of a task's context the operators read: a task instance that records XComs."""
    return {"ti": TaskInstanceStub()}


@pytest.fixture
def outcome(request: pytest.FixtureRequest) -> Outcome:
    """Record what a case showed (fault, component, result) for the table in docs/reliability.md."""

    def record(fault: str, component: str, result: str) -> None:
        request.node.user_properties.append(("reliability", (fault, component, result)))

    return record


# Three contact reads an emulated hour for ``tight_quota``; an hour lasts 1.8 s.
GETS_PER_HOUR = 3


@pytest.fixture
def tight_quota(monkeypatch: pytest.MonkeyPatch) -> Iterator[ApolloEmulator]:
    """
    An emulator with an hourly quota of GETS_PER_HOUR (an emulated hour lasts 1.8 s) as
    ``apollo_default``; the connection sleeps through at most 0.5 s, so an exhausted quota reaches
    the sensor or trigger.
    """
    with ApolloEmulator(rate_limits={"hour": GETS_PER_HOUR}, time_scale=0.0005) as started:
        settings = {
            "conn_type": "apollo",
            "password": started.api_key,
            "host": started.url,
            "extra": {"max_retry_wait": 0.5, "max_retries": 1},
        }
        monkeypatch.setenv("AIRFLOW_CONN_APOLLO_DEFAULT", json.dumps(settings))
        yield started


# --------------------------------------------------------------------------- results table

# Setting this variable to a Markdown file rewrites its results block from this run.
REPORT_ENV = "RELIABILITY_DOC"
RESULTS_START = "<!-- results:start -->"
RESULTS_END = "<!-- results:end -->"
RESULTS_PLUGIN = "apollo-reliability-results"


class ResultsTable:
    """A plugin collecting every ``outcome`` of the run, wherever its test lives, into one table."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
        report = yield
        if report.when == "call" or (report.when == "teardown" and report.failed):
            for name, value in item.user_properties:
                if name != "reliability":
                    continue
                fault, component, result = value
                if report.passed:
                    status = "passed"
                elif hasattr(report, "wasxfail"):
                    status = "xfailed"
                else:
                    status = "FAILED"
                self.rows.append(
                    {
                        "fault": fault,
                        "component": component,
                        "result": result,
                        "status": status,
                        "test": item.name,
                    }
                )
        return report

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        target = os.environ.get(REPORT_ENV)
        if not target or not self.rows:
            return
        path = Path(target)
        text = path.read_text(encoding="utf-8")
        if RESULTS_START not in text or RESULTS_END not in text:
            return
        table = render_results(self.rows)
        pattern = re.compile(re.escape(RESULTS_START) + ".*?" + re.escape(RESULTS_END), re.S)
        path.write_text(
            pattern.sub(lambda _: f"{RESULTS_START}\n{table}\n{RESULTS_END}", text), encoding="utf-8"
        )


def register_results_table(config: pytest.Config) -> None:
    """Register the one results table of the run (each conftest of a fault test calls this)."""
    if not config.pluginmanager.has_plugin(RESULTS_PLUGIN):
        config.pluginmanager.register(ResultsTable(), RESULTS_PLUGIN)


def render_results(rows: list[dict[str, Any]]) -> str:
    """The fault × component table; a case that did not pass shows its status next to the expected result."""
    # A case recorded twice (a teardown failure after a pass) keeps its worst status.
    merged: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for row in rows:
        key = (row["fault"], row["component"], row["result"], row["test"])
        if key not in merged or row["status"] != "passed":
            merged[key] = row
    lines = ["| fault or input | component | what happened | test |", "|---|---|---|---|"]
    for row in sorted(merged.values(), key=lambda r: (r["component"], r["fault"], r["test"])):
        result = (
            row["result"] if row["status"] == "passed" else f"**{row['status']}** (expected: {row['result']})"
        )
        fault = row["fault"].replace("|", "\\|")
        lines.append(f"| {fault} | {row['component']} | {result} | `{row['test']}` |")
    passed = sum(1 for row in merged.values() if row["status"] == "passed")
    lines += ["", f"{passed} of {len(merged)} recorded cases passed in the run that generated this table."]
    return "\n".join(lines)
