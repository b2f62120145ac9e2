"""Every operator mapped over batches (``.partial().expand()`` and ``expand_kwargs``), run under dag.test()
by tests/operators/test_mapping.py and quoted by docs/airflow-native.md."""

from __future__ import annotations

import datetime
from typing import Any

from airflow.sdk import DAG, task

from airflow_provider_apollo.operators.contacts import (
    ApolloCreateContactOperator,
    ApolloUpdateContactOperator,
    ApolloUpdateOwnersOperator,
    ApolloUpdateStagesOperator,
)
from airflow_provider_apollo.operators.lists import ApolloAddToListsOperator, ApolloRemoveFromListsOperator
from airflow_provider_apollo.operators.sequences import (
    ApolloAddToSequenceOperator,
    ApolloRemoveFromSequenceOperator,
)
from airflow_provider_apollo.sensors.contact_stage import ApolloContactStageSensor
from airflow_provider_apollo.transfers.apollo_to_s3 import ApolloSearchToS3Operator

START = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
SEQUENCE = "Outbound - Data leaders"
MAILBOX = "ada@outreach.emulated-team.example"
OWNER = "grace.hopper@emulated-team.example"


@task
def batches(contacts: list[dict[str, Any]], size: int) -> list[list[dict[str, Any]]]:
    return [contacts[start : start + size] for start in range(0, len(contacts), size)]


with DAG(
    dag_id="apollo_mapped_operators",
    schedule=None,
    start_date=START,
    catchup=False,
    params={"contacts": [], "bucket": ""},
    render_template_as_native_obj=True,
) as dag:
    # [START howto_mapping_expand]
    # One mapped create per batch; each mapped instance returns its batch's ids.
    create = ApolloCreateContactOperator.partial(task_id="create").expand(
        contacts=batches("{{ params.contacts }}", 2)
    )
    # Each mapped stage update takes one created batch (create.output is a list of lists).
    stages = ApolloUpdateStagesOperator.partial(task_id="stages", contact_stage="Approaching").expand(
        contact_ids=create.output
    )
    # [END howto_mapping_expand]

    # [START howto_mapping_expand_kwargs]
    @task
    def owner_kwargs(batches_of_ids: list[list[str]]) -> list[dict[str, Any]]:
        # One dict of arguments per mapped task.
        return [{"contact_ids": ids} for ids in batches_of_ids]

    # The same new owner for every batch: given once in partial() (it can be mapped too).
    owners = ApolloUpdateOwnersOperator.partial(task_id="owners", new_owner=OWNER).expand_kwargs(
        owner_kwargs(stages.output)
    )
    # [END howto_mapping_expand_kwargs]

    @task
    def title_kwargs(batches_of_ids: list[list[str]]) -> list[dict[str, Any]]:
        return [
            {"contact_id": ids[0], "fields": {"title": f"Lead of batch {n}"}}
            for n, ids in enumerate(batches_of_ids)
        ]

    update = ApolloUpdateContactOperator.partial(task_id="update").expand_kwargs(title_kwargs(create.output))
    lists = ApolloAddToListsOperator.partial(task_id="lists", list_names=["Mapped leads"]).expand(
        contact_ids=owners.output
    )
    enroll = ApolloAddToSequenceOperator.partial(task_id="enroll", sequence=SEQUENCE, mailbox=MAILBOX).expand(
        contact_ids=lists.output
    )
    remove = ApolloRemoveFromSequenceOperator.partial(task_id="remove", sequence=SEQUENCE).expand(
        contact_ids=enroll.output
    )
    unlist = ApolloRemoveFromListsOperator.partial(task_id="unlist", list_names=["Mapped leads"]).expand(
        contact_ids=remove.output
    )
    wait = ApolloContactStageSensor.partial(
        task_id="wait", target_stages=["Approaching"], poke_interval=1, timeout=60
    ).expand(contact_ids=stages.output)
    export = ApolloSearchToS3Operator.partial(
        task_id="export", s3_bucket="{{ params.bucket }}"
    ).expand_kwargs(
        [
            {"s3_key": "mapped/approaching.jsonl", "search": {"contact_stages": ["Approaching"]}},
            {"s3_key": "mapped/cold.jsonl", "search": {"contact_stages": ["Cold"]}},
        ]
    )
    [update, unlist, wait] >> export


with DAG(
    dag_id="apollo_mapped_quota",
    schedule=None,
    start_date=START,
    catchup=False,
    params={"contacts": [], "batch": 250},
    render_template_as_native_obj=True,
):
    # Each mapped bulk create defers at the exhausted hourly quota and resumes; the ids created
    # before each wait are kept in XCom chunks of its own map index.
    ApolloCreateContactOperator.partial(task_id="create").expand(
        contacts=batches("{{ params.contacts }}", "{{ params.batch }}")
    )
