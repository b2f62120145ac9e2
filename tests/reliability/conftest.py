"""Reliability suite set-up: an emulator with a marker key, fast retries, a key-leak guard, a results table."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from key_guard import KeyLeakGuard
from reliability_support import MARKER_KEY, RecordingTaskInstance, connection

from airflow_provider_apollo.testing import ApolloEmulator

# Setting this variable to a Markdown file rewrites its results block from this run.
REPORT_ENV = "RELIABILITY_DOC"
RESULTS_START = "<!-- results:start -->"
RESULTS_END = "<!-- results:end -->"
RESULTS_KEY = pytest.StashKey[list[dict[str, Any]]]()


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[ApolloEmulator]:
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
    return {"ti": RecordingTaskInstance()}


@pytest.fixture(autouse=True)
def no_key_in_logs(capfd: pytest.CaptureFixture[str]) -> Iterator[KeyLeakGuard]:
    """
    Every test: the key appears in no log record (every level, every logger), in nothing printed,
    and in no request any emulator received except in its ``x-api-key`` header.
    """
    with KeyLeakGuard({MARKER_KEY}) as guard:
        yield guard
    out, err = capfd.readouterr()
    guard.check(out, err)


# --------------------------------------------------------------------------- results table


@pytest.fixture
def outcome(request: pytest.FixtureRequest) -> Callable[[str, str, str], None]:
    """Record what a case showed (fault, component, result) for the table in docs/reliability.md."""

    def record(fault: str, component: str, result: str) -> None:
        request.node.user_properties.append(("reliability", (fault, component, result)))

    return record


def pytest_configure(config: pytest.Config) -> None:
    config.stash[RESULTS_KEY] = []


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
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
            item.config.stash[RESULTS_KEY].append(
                {
                    "fault": fault,
                    "component": component,
                    "result": result,
                    "status": status,
                    "test": item.name,
                }
            )
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    target = os.environ.get(REPORT_ENV)
    rows = session.config.stash.get(RESULTS_KEY, [])
    if not target or not rows:
        return
    path = Path(target)
    text = path.read_text(encoding="utf-8")
    if RESULTS_START not in text or RESULTS_END not in text:
        return
    table = render_results(rows)
    pattern = re.compile(re.escape(RESULTS_START) + ".*?" + re.escape(RESULTS_END), re.S)
    path.write_text(pattern.sub(lambda _: f"{RESULTS_START}\n{table}\n{RESULTS_END}", text), encoding="utf-8")


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
