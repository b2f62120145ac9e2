"""Example DAG: an outreach campaign from new Apollo contacts to an S3 file of the people who replied.

create the contacts (bulk, deduplicated) -> move them to "Approaching" -> assign an owner ->
wait, deferred in the triggerer, until someone replies -> export the responders to S3.
Contact ids travel through XCom from step to step. Nothing here reads a connection, a Variable
or the network while the file is parsed: connections are read by the tasks, Variables through
templates at run time.
"""

from __future__ import annotations

import pendulum
from airflow.providers.common.compat.sdk import DAG, Param

from airflow_provider_apollo.operators.contacts import (
    ApolloCreateContactOperator,
    ApolloUpdateOwnersOperator,
    ApolloUpdateStagesOperator,
)
from airflow_provider_apollo.sensors.contact_stage import ApolloContactStageSensor
from airflow_provider_apollo.transfers.apollo_to_s3 import ApolloSearchToS3Operator

APOLLO_CONN_ID = "apollo_default"
AWS_CONN_ID = "aws_default"
# Stages that mean "this person answered": the sensor waits for them, the export selects them.
RESPONDED_STAGES = ["Replied", "Interested"]

# The batch a run creates unless the run's conf gives its own ``contacts`` list.
DEFAULT_CONTACTS = [
    {
        "first_name": "Maya",
        "last_name": "Okafor",
        "email": "maya.okafor@northwind-logistics.com",
        "title": "Head of Data",
        "organization_name": "Northwind Logistics",
    },
    {
        "first_name": "Jonas",
        "last_name": "Lindqvist",
        "email": "jonas.lindqvist@fjordbank.no",
        "title": "VP of Engineering",
        "organization_name": "Fjord Bank",
    },
    {
        "first_name": "Camille",
        "last_name": "Bertrand",
        "email": "camille.bertrand@lumiere-retail.fr",
        "title": "Chief Data Officer",
        "organization_name": "Lumiere Retail",
    },
    {
        "first_name": "Rahul",
        "last_name": "Menon",
        "email": "rahul.menon@tessellate.io",
        "title": "Staff Data Engineer",
        "organization_name": "Tessellate",
    },
    {
        "first_name": "Sofia",
        "last_name": "Alvarez",
        "email": "sofia.alvarez@brightpath-health.com",
        "title": "Director of Analytics",
        "organization_name": "BrightPath Health",
    },
    {
        "first_name": "Ethan",
        "last_name": "Brooks",
        "email": "ethan.brooks@keystone-energy.com",
        "title": "Platform Engineering Manager",
        "organization_name": "Keystone Energy",
    },
    {
        "first_name": "Hana",
        "last_name": "Sato",
        "email": "hana.sato@kumo-games.jp",
        "title": "Data Platform Lead",
        "organization_name": "Kumo Games",
    },
    {
        "first_name": "Lukas",
        "last_name": "Weber",
        "email": "lukas.weber@alpenwerk.de",
        "title": "CTO",
        "organization_name": "Alpenwerk",
    },
    {
        "first_name": "Amara",
        "last_name": "Nwosu",
        "email": "amara.nwosu@savannah-pay.com",
        "title": "Head of Revenue Operations",
        "organization_name": "Savannah Pay",
    },
    {
        "first_name": "Daniel",
        "last_name": "Cohen",
        "email": "daniel.cohen@harborline.com",
        "title": "Analytics Engineering Manager",
        "organization_name": "Harborline",
    },
]


with DAG(
    dag_id="apollo_outreach_pipeline",
    description="Create contacts, start outreach, wait for replies, export the responders to S3.",
    schedule=None,
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    # Lists and dicts from params and XCom reach the operators as Python objects, not strings.
    render_template_as_native_obj=True,
    params={
        "contacts": Param(DEFAULT_CONTACTS, type="array", description="Contacts to create (Apollo fields)."),
        "owner_id": Param(
            "",
            type="string",
            description="Apollo user id to own the contacts; empty reads the Variable apollo_owner_id.",
        ),
    },
    tags=["apollo", "example"],
) as dag:
    # [START howto_outreach_pipeline]
    create_contacts = ApolloCreateContactOperator(
        task_id="create_contacts",
        contacts="{{ params.contacts }}",
        run_dedupe=True,  # a re-run updates the same people instead of creating duplicates
        apollo_conn_id=APOLLO_CONN_ID,
    )
    start_outreach = ApolloUpdateStagesOperator(
        task_id="start_outreach",
        contact_ids=create_contacts.output,
        contact_stage="Approaching",
        apollo_conn_id=APOLLO_CONN_ID,
    )
    assign_owner = ApolloUpdateOwnersOperator(
        task_id="assign_owner",
        contact_ids=start_outreach.output,
        owner_id="{{ params.owner_id or var.value.apollo_owner_id }}",
        apollo_conn_id=APOLLO_CONN_ID,
    )
    wait_for_replies = ApolloContactStageSensor(
        task_id="wait_for_replies",
        contact_ids=assign_owner.output,
        target_stages=RESPONDED_STAGES,
        require="any",  # go on as soon as one person answers
        deferrable=True,  # the wait holds no worker slot: the triggerer polls Apollo
        poke_interval=5,
        timeout=60 * 60,
        apollo_conn_id=APOLLO_CONN_ID,
    )
    # [END howto_outreach_pipeline]

    # [START howto_export_responders]
    export_responders = ApolloSearchToS3Operator(
        task_id="export_responders",
        # Stage names, resolved to Apollo's stage ids once per run (an unknown name fails the task).
        search={"contact_stages": RESPONDED_STAGES},
        # Only contacts that changed since this run started: this campaign's responders.
        updated_since="{{ dag_run.start_date }}",
        s3_bucket="{{ var.value.get('apollo_s3_bucket', 'apollo-exports') }}",
        s3_key="outreach/{{ dag_run.run_after | ts_nodash }}/responders.jsonl",
        file_format="jsonl",
        apollo_conn_id=APOLLO_CONN_ID,
        aws_conn_id=AWS_CONN_ID,
    )
    wait_for_replies >> export_responders
    # [END howto_export_responders]
