"""
Long jobs (ApolloLongJobOperator) outlast Apollo's hourly quota: they defer until the reset and
resume from the next batch, never start over; without wait_for_quota, or past max_quota_wait, the
task fails saying what is left.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowException
from dag_support import load_dag, xcom_value

from airflow_provider_apollo.operators.contacts import (
    ApolloCreateContactOperator,
    ApolloUpdateOwnersOperator,
    ApolloUpdateStagesOperator,
)
from airflow_provider_apollo.testing import ApolloEmulator, TaskInstanceStub, run_deferring


def people(count: int) -> list[dict[str, Any]]:
    return [
        {"first_name": f"P{i}", "last_name": "Quota", "email": f"p{i}@quota.example"} for i in range(count)
    ]


def TaskInstance() -> TaskInstanceStub:  # noqa: N802 - reads as the class it stands for
    return TaskInstanceStub("job")


def run_with_deferrals(operator: Any, context: dict[str, Any]) -> tuple[Any, list[dict[str, Any]]]:
    """Run ``operator`` as Airflow does; its value and each deferral's trigger kwargs."""
    run = run_deferring(operator, context)
    assert all(time.time() >= kwargs["reset_at"] for kwargs in run.deferrals)
    return run.value, run.deferrals


def status_count(emulator: ApolloEmulator, path: str, status: int) -> int:
    return sum(1 for r in emulator.requests if r.path.endswith(path) and r.status == status)


@pytest.mark.slow
def test_a_bulk_create_needing_three_hours_of_quota_finishes_in_one_try(hourly: ApolloEmulator) -> None:
    contacts = people(1_250)  # 13 batches against 5 an hour
    context = {"ti": TaskInstance()}
    operator = ApolloCreateContactOperator(task_id="create", contacts=contacts)
    ids, deferrals = run_with_deferrals(operator, context)
    assert len(deferrals) == 2
    assert all(len(json.dumps(kwargs)) < 300 for kwargs in deferrals), (
        "deferral kwargs hold a cursor, not data"
    )
    # Exactly one contact per person, handed back in input order.
    assert hourly.contact_count == 1_250
    assert [hourly.contacts[i]["email"] for i in ids] == [c["email"] for c in contacts]
    assert status_count(hourly, "/contacts/bulk_create", 200) == 13
    assert status_count(hourly, "/contacts/bulk_create", 429) == 2  # one per exhausted hour


@pytest.mark.slow
@pytest.mark.parametrize("operator_class", [ApolloUpdateStagesOperator, ApolloUpdateOwnersOperator])
def test_a_bulk_update_resumes_from_the_next_batch(hourly: ApolloEmulator, operator_class: type) -> None:
    ids = hourly.seed_contacts(1_150)  # 12 batches
    owner = hourly.users[1]["id"]
    value = (
        {"contact_stage": "Interested"}
        if operator_class is ApolloUpdateStagesOperator
        else {"owner_id": owner}
    )
    operator = operator_class(task_id="update", contact_ids=ids, **value)
    updated, deferrals = run_with_deferrals(operator, {"ti": TaskInstance()})
    assert updated == ids
    assert [d["checkpoint"]["next_batch"] for d in deferrals] == [5, 10]
    path = (
        "/contacts/update_stages"
        if operator_class is ApolloUpdateStagesOperator
        else "/contacts/update_owners"
    )
    assert status_count(hourly, path, 200) == 12
    field, expected = (
        ("contact_stage_id", hourly.stage_id("Interested"))
        if operator_class is ApolloUpdateStagesOperator
        else ("owner_id", owner)
    )
    assert {hourly.contacts[i][field] for i in ids} == {expected}


def test_without_wait_for_quota_the_task_fails_saying_what_is_left(hourly: ApolloEmulator) -> None:
    ids = hourly.seed_contacts(700)
    operator = ApolloUpdateStagesOperator(
        task_id="update", contact_ids=ids, contact_stage="Interested", wait_for_quota=False
    )
    with pytest.raises(AirflowException, match="200 of 700 contacts left.*wait_for_quota=False"):
        operator.execute({"ti": TaskInstance()})


def test_past_max_quota_wait_the_task_fails_saying_what_is_left(hourly: ApolloEmulator) -> None:
    ids = hourly.seed_contacts(1_150)
    operator = ApolloUpdateStagesOperator(
        task_id="update", contact_ids=ids, contact_stage="Interested", max_quota_wait=4.0
    )
    with pytest.raises(AirflowException, match="would pass max_quota_wait.*150 of 1,150 contacts left"):
        run_with_deferrals(operator, {"ti": TaskInstance()})


def test_max_quota_wait_is_checked_when_the_dag_is_parsed() -> None:
    from airflow_provider_apollo.exceptions import ApolloArgumentError

    with pytest.raises(ApolloArgumentError, match="max_quota_wait must be"):
        ApolloUpdateStagesOperator(task_id="u", contact_ids=["a"], contact_stage="X", max_quota_wait=0)


@pytest.mark.slow
def test_the_three_jobs_outlast_the_quota_under_dag_test(hourly: ApolloEmulator) -> None:
    contacts = people(620)  # 7 batches each: two quota waits per task
    owner = hourly.users[1]["id"]
    dag_run = load_dag("apollo_quota_jobs").test(run_conf={"contacts": contacts, "owner_id": owner})
    tis = {ti.task_id: ti for ti in dag_run.get_task_instances()}
    assert dag_run.state == "success", {t: ti.state for t, ti in tis.items()}
    assert {t: ti.try_number for t, ti in tis.items()} == {
        "create": 1,
        "update_stages": 1,
        "update_owners": 1,
    }
    created = xcom_value(dag_run, "create")
    assert [hourly.contacts[i]["email"] for i in created] == [c["email"] for c in contacts]
    assert xcom_value(dag_run, "update_stages") == created == xcom_value(dag_run, "update_owners")
    assert hourly.contact_count == 620
    for path in ("/contacts/bulk_create", "/contacts/update_stages", "/contacts/update_owners"):
        assert status_count(hourly, path, 200) == 7, path
        assert status_count(hourly, path, 429) >= 1, path
