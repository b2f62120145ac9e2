"""The daily incremental export DAG (tests/dags/apollo_export_test_dag.py) run end to end with ``dag.test()``."""

from __future__ import annotations

import datetime
import gzip
import json
from pathlib import Path
from typing import Any

from airflow_provider_apollo.testing import ApolloEmulator

DAG_FILE = Path(__file__).resolve().parent.parent / "dags" / "apollo_export_test_dag.py"


def test_daily_incremental_export_dag(apollo_connection: ApolloEmulator, s3_bucket: str, s3: Any) -> None:
    from airflow.dag_processing.dagbag import DagBag
    from airflow.utils.state import DagRunState, TaskInstanceState

    apollo_connection.seed_contacts(800)
    contacts = apollo_connection.contacts
    newest = max(
        datetime.datetime.fromisoformat(contact["updated_at"].replace("Z", "+00:00"))
        for contact in contacts.values()
    )
    # A run whose data interval starts 20 days before the newest update: a slice of the year's contacts.
    logical_date = (newest - datetime.timedelta(days=20)).replace(hour=0, minute=0, second=0, microsecond=0)
    dag = DagBag(dag_folder=DAG_FILE).get_dag("apollo_export_test_dag")
    assert dag is not None
    dag_run = dag.test(logical_date=logical_date, run_conf={"s3_bucket": s3_bucket})

    assert dag_run.state == DagRunState.SUCCESS
    ti = next(ti for ti in dag_run.get_task_instances() if ti.task_id == "export_contacts")
    assert ti.state == TaskInstanceState.SUCCESS
    start = dag_run.data_interval_start
    assert dag_run.data_interval_end - start == datetime.timedelta(days=1)
    key = f"apollo/contacts/dt={start.date().isoformat()}/contacts.jsonl.gz"
    body = s3.get_object(Bucket=s3_bucket, Key=key)["Body"].read()
    exported = {json.loads(line)["id"] for line in gzip.decompress(body).decode().splitlines()}
    expected = {
        contact_id
        for contact_id, contact in contacts.items()
        if datetime.datetime.fromisoformat(contact["updated_at"].replace("Z", "+00:00")) >= start
    }
    assert 0 < len(expected) < len(contacts)
    assert exported == expected
