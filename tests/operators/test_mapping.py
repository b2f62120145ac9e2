"""
Every operator mapped with .partial().expand() and expand_kwargs, under dag.test() against the
emulator: each map index returns its own batch's ids, links and exports, through quota waits too.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from dag_support import load_dag

from airflow_provider_apollo.testing import ApolloEmulator


def people(count: int, tag: str) -> list[dict[str, Any]]:
    return [
        {
            "first_name": f"M{i}",
            "last_name": tag,
            "email": f"m{i}@{tag.lower()}.example",
            "organization_name": tag,
        }
        for i in range(count)
    ]


def mapped_values(
    dag_run: Any, task_id: str, key: str = "return_value", with_index: bool = False
) -> list[Any]:
    """The XCom of every map index of a mapped task, in map-index order."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = (
            session.query(XComModel)
            .filter_by(dag_id=dag_run.dag_id, run_id=dag_run.run_id, task_id=task_id, key=key)
            .order_by(XComModel.map_index)
            .all()
        )
        if with_index:
            return [(row.map_index, XComModel.deserialize_value(row)) for row in rows]
        return [XComModel.deserialize_value(row) for row in rows]


@pytest.mark.slow
def test_every_operator_runs_mapped_over_batches(
    apollo_connection: ApolloEmulator, s3_bucket: str, aws_connection: str
) -> None:
    emulator = apollo_connection
    contacts = people(5, "Mapped")
    dag_run = load_dag("apollo_mapped_operators").test(run_conf={"contacts": contacts, "bucket": s3_bucket})

    tis = dag_run.get_task_instances()
    failed = {(ti.task_id, ti.map_index): ti.state for ti in tis if ti.state != "success"}
    assert dag_run.state == "success" and not failed, failed
    counts: dict[str, int] = {}
    for ti in tis:
        counts[ti.task_id] = counts.get(ti.task_id, 0) + 1
    # Five contacts in batches of two: three mapped instances of each per-batch task.
    for task_id in ("create", "stages", "owners", "update", "lists", "enroll", "remove", "unlist", "wait"):
        assert counts[task_id] == 3, (task_id, counts)
    assert counts["export"] == 2
    created = mapped_values(dag_run, "create")
    assert [len(ids) for ids in created] == [2, 2, 1]
    ids = [i for batch in created for i in batch]
    assert [emulator.contacts[i]["email"] for i in ids] == [c["email"] for c in contacts]
    for task_id in ("stages", "owners", "lists", "enroll", "remove", "unlist"):
        assert mapped_values(dag_run, task_id) == created, task_id
    assert mapped_values(dag_run, "update") == [batch[0] for batch in created]
    approaching = emulator.stage_id("Approaching")
    grace = next(u["id"] for u in emulator.users if u["email"] == "grace.hopper@emulated-team.example")
    assert all(emulator.contacts[i]["contact_stage_id"] == approaching for i in ids)
    assert all(emulator.contacts[i]["owner_id"] == grace for i in ids)
    assert [emulator.contacts[batch[0]]["title"] for batch in created] == [
        f"Lead of batch {n}" for n in range(3)
    ]
    # Links are computed per map index from each instance's own return value.
    links = mapped_values(dag_run, "stages", key="_link_ApolloContactsLink")
    assert links == ["https://app.apollo.io/#/contacts"] * 2 + [
        f"https://app.apollo.io/#/contacts/{created[2][0]}"
    ]
    exported = mapped_values(dag_run, "export", key="s3_uri")
    assert exported == [f"s3://{s3_bucket}/mapped/approaching.jsonl", f"s3://{s3_bucket}/mapped/cold.jsonl"]
    client = boto3.client("s3", endpoint_url=aws_connection, region_name="us-east-1")
    body = client.get_object(Bucket=s3_bucket, Key="mapped/approaching.jsonl")["Body"].read().decode()
    assert set(ids) <= {json.loads(line)["id"] for line in body.splitlines()}


@pytest.mark.slow
def test_a_mapped_bulk_create_defers_on_the_quota_and_keeps_each_map_index_ids(
    hourly: ApolloEmulator,
) -> None:
    # Five bulk creates an emulated hour (1.8 s real): two instances of three batches each must wait.
    emulator = hourly
    contacts = people(500, "Quota")
    dag_run = load_dag("apollo_mapped_quota").test(run_conf={"contacts": contacts, "batch": 250})

    tis = dag_run.get_task_instances()
    assert dag_run.state == "success", {(ti.task_id, ti.map_index): ti.state for ti in tis}
    assert sorted(ti.map_index for ti in tis if ti.task_id == "create") == [0, 1]
    created = mapped_values(dag_run, "create")
    # Each instance returns exactly its own batch's ids, in input order, though both waited.
    assert [[emulator.contacts[i]["email"] for i in ids] for ids in created] == [
        [c["email"] for c in contacts[:250]],
        [c["email"] for c in contacts[250:]],
    ]
    assert emulator.contact_count == 500
    assert emulator.status_counts().get(429, 0) >= 1
    # Ids saved before a wait sit under the saving instance's own map index: in XCom chunks before
    # Airflow 3.3, in the task state store from 3.3 on (removed on success, so not seen here).
    chunks = mapped_values(dag_run, "create", key="apollo_created_ids_0", with_index=True)
    for map_index, chunk in chunks:
        assert chunk and set(chunk) <= set(created[map_index]), map_index
