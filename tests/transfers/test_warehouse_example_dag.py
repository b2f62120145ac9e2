"""The example DAG apollo_warehouse_to_apollo under dag.test() against the emulator and moto's S3."""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pendulum
import pytest
from airflow_versions import requires_example_dags
from warehouse_support import put, read_lines

from airflow_provider_apollo.testing import ApolloEmulator

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_DAGS = REPO / "example_dags"
DAG_ID = "apollo_warehouse_to_apollo"
DAY = "2026-05-01"
KEY = f"warehouse/scored_leads/dt={DAY}/leads.csv.gz"
HEADER = [
    "apollo_contact_id",
    "first_name",
    "last_name",
    "work_email",
    "company",
    "job_title",
    "lead_score",
    "segment",
    "account_owner_email",
]


@pytest.fixture
def warehouse(
    monkeypatch: pytest.MonkeyPatch, aws_connection: str, s3_bucket: str
) -> Iterator[ApolloEmulator]:
    from airflow import settings

    with ApolloEmulator() as emulator:
        connection = {"conn_type": "apollo", "password": emulator.api_key, "host": emulator.url}
        monkeypatch.setenv("AIRFLOW_CONN_APOLLO_DEFAULT", json.dumps(connection))
        monkeypatch.setenv("AIRFLOW_VAR_APOLLO_S3_BUCKET", s3_bucket)
        monkeypatch.setenv("AIRFLOW__CORE__DAGS_FOLDER", str(EXAMPLE_DAGS))
        monkeypatch.setattr(settings, "DAGS_FOLDER", str(EXAMPLE_DAGS))
        yield emulator


def extract(emulator: ApolloEmulator, existing: list[str]) -> bytes:
    owner = emulator.users[1]["email"]
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(HEADER)
    for i in range(96):
        writer.writerow(["", f"Ada{i}", "Lead", f"ada{i}@warehouse.example", "Acme", "CTO", i, "SMB", owner])
    writer.writerow(["", "", "", "", "Acme", "CTO", 1, "SMB", ""])  # no email and no name
    writer.writerow(["", "Bo", "Lead", "bo-at-example", "Acme", "CTO", 1, "SMB", ""])  # malformed email
    for contact_id in existing:
        writer.writerow([contact_id, "", "", "", "", "Head of Data", 99, "Enterprise", ""])
    return gzip.compress(text.getvalue().encode())


def xcoms(dag_run: Any) -> dict[str, Any]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = list(session.scalars(XComModel.get_many(run_id=dag_run.run_id, dag_ids=DAG_ID)))
        return {f"{row.task_id}.{row.key}": XComModel.deserialize_value(row) for row in rows}


@pytest.mark.slow
@requires_example_dags
def test_the_daily_upsert_runs_and_reports_its_rejects(
    warehouse: ApolloEmulator, aws_connection: str, s3_bucket: str
) -> None:
    from airflow_versions import dag_bag_class

    DagBag = dag_bag_class()

    existing = warehouse.seed_contacts(2)
    put(aws_connection, s3_bucket, KEY, extract(warehouse, existing))
    bag = DagBag(dag_folder=str(EXAMPLE_DAGS))
    assert not bag.import_errors, bag.import_errors
    dag = bag.get_dag(DAG_ID)
    dag_run = dag.test(logical_date=pendulum.datetime(2026, 5, 1, tz="UTC"))
    states = {ti.task_id: ti.state for ti in dag_run.get_task_instances()}
    assert dag_run.state == "success", states
    values = xcoms(dag_run)
    rejects_uri = f"s3://{s3_bucket}/{KEY}.rejects.jsonl"
    assert values["upsert_scored_leads.return_value"] == {
        "created": 96,
        "updated": 2,
        "unchanged": 0,
        "rejected": 2,
        "rejects_uri": rejects_uri,
    }
    assert values["report_rejects.return_value"]["rejects_uri"] == rejects_uri
    assert [r["row"] for r in read_lines(aws_connection, s3_bucket, f"{KEY}.rejects.jsonl")] == [97, 98]
    owner_id = warehouse.users[1]["id"]
    created = [
        c for c in warehouse.contacts.values() if c["email"] and c["email"].endswith("@warehouse.example")
    ]
    assert len(created) == 96 and {c["owner_id"] for c in created} == {owner_id}
    assert {warehouse.contacts[i]["title"] for i in existing} == {"Head of Data"}
