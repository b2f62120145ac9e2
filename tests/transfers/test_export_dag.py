"""The daily incremental export DAG (tests/dags/apollo_export_test_dag.py) run end to end with ``dag.test()``."""

from __future__ import annotations

import datetime
import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_apollo.testing import ApolloEmulator

DAG_FILE = Path(__file__).resolve().parent.parent / "dags" / "apollo_export_test_dag.py"


@pytest.mark.slow
def test_daily_incremental_export_dag(apollo_connection: ApolloEmulator, s3_bucket: str, s3: Any) -> None:
    from airflow.utils.state import DagRunState, TaskInstanceState
    from airflow_versions import dag_bag_class

    DagBag = dag_bag_class()

    apollo_connection.seed_contacts(3000)  # about eight updated a day
    contacts = apollo_connection.contacts
    newest = max(
        datetime.datetime.fromisoformat(contact["updated_at"].replace("Z", "+00:00"))
        for contact in contacts.values()
    )
    # A run whose data interval starts 20 days before the newest update: one day of the year's contacts.
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
    end = dag_run.data_interval_end

    def updated_at(contact: dict[str, Any]) -> datetime.datetime:
        return datetime.datetime.fromisoformat(contact["updated_at"].replace("Z", "+00:00"))

    expected = {contact_id for contact_id, contact in contacts.items() if start <= updated_at(contact) < end}
    # Contacts updated before, during and after the interval all exist: the partition holds only the day's.
    assert any(updated_at(contact) < start for contact in contacts.values())
    assert any(updated_at(contact) >= end for contact in contacts.values())
    assert expected
    assert exported == expected
