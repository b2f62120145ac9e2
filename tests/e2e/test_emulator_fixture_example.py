"""Testing a DAG the way a user would: the plugin's ``apollo_connection`` fixture, local S3 and ``dag.test()``.

docs/testing.md quotes these tests. They run the example DAGs, which live in ``example_dags/``;
a project's own tests would point at its own DAGs folder the same way.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import boto3
import pytest
from airflow_versions import requires_example_dags

from airflow_provider_apollo.testing import ApolloEmulator

REPO = Path(__file__).resolve().parents[2]


# [START howto_testing_dags_folder]
@pytest.fixture
def example_dags(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """dag.test() runs DAGs from the configured DAGs folder: point it at the folder under test."""
    from airflow import settings

    dags_folder = REPO / "example_dags"
    monkeypatch.setenv("AIRFLOW__CORE__DAGS_FOLDER", str(dags_folder))
    monkeypatch.setattr(settings, "DAGS_FOLDER", str(dags_folder))
    yield dags_folder


def load_dag(dags_folder: Path, dag_id: str):  # type: ignore[no-untyped-def]
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(dags_folder))
    assert not bag.import_errors, bag.import_errors
    return bag.get_dag(dag_id)


# [END howto_testing_dags_folder]


def read_jsonl(endpoint: str, bucket: str, key: str) -> list[dict]:  # type: ignore[type-arg]
    body = boto3.client("s3", endpoint_url=endpoint).get_object(Bucket=bucket, Key=key)["Body"].read()
    return [json.loads(line) for line in body.decode().splitlines()]


@pytest.mark.slow
@requires_example_dags
# [START howto_testing_outreach_dag]
def test_outreach_pipeline_exports_the_contacts_who_replied(
    apollo_connection: ApolloEmulator,  # the emulator, already set as apollo_default
    aws_connection: str,
    s3_bucket: str,
    example_dags: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    emulator = apollo_connection
    emulator.sequence_step_seconds = 0.5  # a sequence step lasts half a second: replies come quickly
    emulator.sequence_reply_classes = ["willing_to_meet"]  # every reply is an interested one
    monkeypatch.setenv("APOLLO_OUTREACH_CHECK_SECONDS", "0.5")  # the sensor checks twice a second
    monkeypatch.setenv("AIRFLOW_VAR_APOLLO_S3_BUCKET", s3_bucket)
    owner = emulator.users[0]

    dag_run = load_dag(example_dags, "apollo_outreach_pipeline").test(run_conf={"owner": owner["email"]})

    assert dag_run.state == "success"
    contacts = emulator.contacts.values()
    assert len(contacts) == 10
    replied = {c["id"] for c in contacts if c["contact_stage_id"] == emulator.stage_id("Interested")}
    assert replied, "some contacts replied in the sequence while the sensor waited"
    assert {c["owner_id"] for c in contacts if c["id"] in replied} == {owner["id"]}
    key = f"outreach/{dag_run.run_after.strftime('%Y%m%dT%H%M%S')}/responders.jsonl"
    exported = read_jsonl(aws_connection, s3_bucket, key)
    assert {contact["id"] for contact in exported} == replied
    # [END howto_testing_outreach_dag]


@pytest.mark.slow
@requires_example_dags
def test_daily_sync_exports_the_day_changes_to_its_partition(
    apollo_connection: ApolloEmulator,
    aws_connection: str,
    s3_bucket: str,
    example_dags: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    emulator = apollo_connection
    emulator.seed_contacts(3000)  # spread over the past year: about eight changed on any given day
    monkeypatch.setenv("AIRFLOW_VAR_APOLLO_S3_BUCKET", s3_bucket)
    now = datetime.now(timezone.utc)
    week_ago = datetime.fromtimestamp(now.timestamp() - 7 * 86400, timezone.utc).replace(
        hour=0, minute=0, second=0, microsecond=0
    )

    dag_run = load_dag(example_dags, "apollo_contacts_daily_sync").test(logical_date=week_ago)

    assert dag_run.state == "success"
    since = dag_run.data_interval_start  # a manual run covers the day before its logical date
    until = dag_run.data_interval_end
    assert since <= week_ago
    changed = {
        contact_id
        for contact_id, contact in emulator.contacts.items()
        if since <= datetime.fromisoformat(contact["updated_at"].replace("Z", "+00:00")) < until
    }
    assert 0 < len(changed) < 3000
    exported = read_jsonl(aws_connection, s3_bucket, f"apollo/contacts/dt={since:%Y-%m-%d}/contacts.jsonl")
    assert [contact["id"] for contact in exported] == sorted(
        changed, key=lambda i: emulator.contacts[i]["updated_at"], reverse=True
    )
