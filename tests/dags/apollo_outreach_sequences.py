"""The outreach workflow as a DAG, run under dag.test() by tests/operators/test_dags.py and quoted by the docs.

Create contacts with custom fields, put them on a list, enroll them in a sequence by name from a
mailbox given by its address, wait (deferred) until someone replies, move the repliers to a stage
by name and hand them to an owner given by email.
"""

from __future__ import annotations

import datetime

from airflow.sdk import DAG

from airflow_provider_apollo.operators.contacts import (
    ApolloCreateContactOperator,
    ApolloUpdateOwnersOperator,
    ApolloUpdateStagesOperator,
)
from airflow_provider_apollo.operators.lists import ApolloAddToListsOperator
from airflow_provider_apollo.operators.sequences import ApolloAddToSequenceOperator
from airflow_provider_apollo.sensors.sequence_status import ApolloSequenceStatusSensor

CONTACTS = [
    {
        "first_name": "Maya",
        "last_name": "Lindqvist",
        "email": "maya@northwind.example",
        "organization_name": "Northwind",
        "custom_fields": {"Lead score": 87, "Segment": "Enterprise"},
    },
    {
        "first_name": "Tomás",
        "last_name": "Ortega",
        "email": "tomas@contoso.example",
        "organization_name": "Contoso",
        "custom_fields": {"Lead score": 64, "Segment": "Mid-Market"},
    },
    {
        "first_name": "Ngozi",
        "last_name": "Adeyemi",
        "email": "ngozi@fabrikam.example",
        "organization_name": "Fabrikam",
        "custom_fields": {"Lead score": 71, "Segment": "SMB"},
    },
]

with DAG(
    dag_id="apollo_outreach_sequences",
    schedule=None,
    start_date=datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc),
    catchup=False,
    params={"contacts": CONTACTS},
    render_template_as_native_obj=True,
) as dag:
    # [START howto_outreach_custom_fields]
    create_contacts = ApolloCreateContactOperator(
        task_id="create_contacts",
        # Each contact may carry custom_fields by label; picklists ("Segment") by their text.
        contacts="{{ params.contacts }}",
    )
    # [END howto_outreach_custom_fields]
    # [START howto_outreach_lists]
    add_to_list = ApolloAddToListsOperator(
        task_id="add_to_list",
        contact_ids=create_contacts.output,
        list_names=["Data Council 2026 leads"],  # created by Apollo on first use
    )
    # [END howto_outreach_lists]
    # [START howto_outreach_enroll]
    enroll = ApolloAddToSequenceOperator(
        task_id="enroll",
        sequence="Outbound - Data leaders",  # a sequence id or its name
        contact_ids=add_to_list.output,
        mailbox="ada@outreach.emulated-team.example",  # an email account id or its address
        on_skipped="warn",  # or "fail": any contact Apollo declines fails the task
    )
    # [END howto_outreach_enroll]
    # [START howto_outreach_wait]
    wait_for_replies = ApolloSequenceStatusSensor(
        task_id="wait_for_replies",
        sequence="Outbound - Data leaders",
        contact_ids=enroll.output,
        target_statuses=["replied"],
        require="any",  # go on as soon as one person replies
        deferrable=True,  # the wait holds no worker slot
        poke_interval=1,
        timeout=120,
    )
    # [END howto_outreach_wait]
    # [START howto_outreach_owner]
    move_repliers = ApolloUpdateStagesOperator(
        task_id="move_repliers",
        # The sensor's XCom is {status: [ids]}.
        contact_ids="{{ ti.xcom_pull(task_ids='wait_for_replies')['replied'] }}",
        contact_stage="Replied",
    )
    assign_owner = ApolloUpdateOwnersOperator(
        task_id="assign_owner",
        contact_ids=move_repliers.output,
        new_owner="grace.hopper@emulated-team.example",  # a user id or the user's email
    )
    # [END howto_outreach_owner]
    wait_for_replies >> move_repliers
