"""The benchmark harness still runs end to end: `bench/run.py --quick` with tiny sizes (no timing is asserted)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from airflow_versions import requires_airflow

REPO = Path(__file__).resolve().parents[2]
RUN = REPO / "bench" / "run.py"
EXPECTED_SECTIONS = {"1 export", "2 latency", "3 rate limits", "4 call economy", "5 parse cost"}

pytestmark = [
    pytest.mark.slow,
    requires_airflow("3.1", "The benchmark (it reads the export's timings from its structlog event)"),
]


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    output = tmp_path_factory.mktemp("bench") / "quick.json"
    docs_before = (REPO / "docs" / "performance.md").read_text()
    completed = subprocess.run(
        [sys.executable, str(RUN), "--quick", "--output", str(output)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=480,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    report = json.loads(output.read_text())
    report["stdout"] = completed.stdout
    report["docs_unchanged"] = (REPO / "docs" / "performance.md").read_text() == docs_before
    return report


def test_quick_run_covers_every_section(quick_report: dict) -> None:
    assert {row["section"] for row in quick_report["rows"]} >= EXPECTED_SECTIONS


def test_every_row_has_a_finite_measurement(quick_report: dict) -> None:
    for row in quick_report["rows"]:
        assert isinstance(row["value"], (int, float)) and math.isfinite(row["value"]), row
        assert row["value"] >= 0, row
        if row.get("reference"):
            assert row["ratio"] == pytest.approx(row["value"] / row["reference"]), row


def test_call_economy_is_counted_by_the_emulator(quick_report: dict) -> None:
    economy = {row["case"]: row for row in quick_report["rows"] if row["section"] == "4 call economy"}
    # 300 contacts: three bulk-create requests of 100; updates add one stage-list call.
    assert economy["create (bulk_create)"]["calls"] == 3
    assert economy["update stages"]["calls"] == 4
    for row in economy.values():
        assert row["calls"] < row["reference"]


def test_the_table_is_printed_and_saved(quick_report: dict) -> None:
    assert quick_report["table"] in quick_report["stdout"]
    header = quick_report["table"].splitlines()[0].split()
    assert header == ["section", "case", "measured", "reference", "ratio", "note"]
    assert quick_report["machine"]["nproc"] >= 1
    assert quick_report["machine"]["airflow"].startswith("3.")


def test_quick_run_leaves_the_published_figures_alone(quick_report: dict) -> None:
    assert quick_report["docs_unchanged"]
