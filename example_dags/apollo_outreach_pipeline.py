"""Example DAGs: an outreach campaign as Apollo teams run it, and its wrap-up.

``apollo_outreach_pipeline``, from new contacts to an S3 file of the interested repliers:

create the contacts with custom fields (by label; picklists by their text) -> put them on a list ->
enroll them in a sequence by name, sending from a mailbox given by its address -> wait, deferred in
the triggerer, until someone replies -> route the replies by what they say (Apollo classifies each
reply): the interested (``willing_to_meet``, ``follow_up_question``) move to stage "Interested" and
go to an owner given by email, then are exported to S3; the uninterested (``not_interested``,
``unsubscribe``) move to stage "Not Interested" and are removed from the sequence; out-of-office
replies are left alone (the sequence goes on for them).

``apollo_outreach_wrap_up``, when the campaign is over, for the contacts who did not reply: take
them out of the sequence (marked finished), off the campaign's list, and note the outcome in a
custom field of each contact through one bulk update.

Contact ids travel through XCom from step to step. The team's names (sequence, mailbox, owner,
list) are the run's params: the defaults are the Apollo emulator's team, so ``make demo`` and the
tests run this file unchanged; against a real account, trigger it with your own in the run's conf.
Nothing here reads a connection, a Variable or the network while the file is parsed: connections
are read by the tasks, Variables through templates at run time.
"""

from __future__ import annotations

import os

import pendulum
from airflow.providers.common.compat.sdk import DAG, Param, task

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
from airflow_provider_apollo.sensors.sequence_status import ApolloSequenceStatusSensor
from airflow_provider_apollo.transfers.apollo_to_s3 import ApolloSearchToS3Operator

APOLLO_CONN_ID = "apollo_default"
AWS_CONN_ID = "aws_default"
# The stages replies are routed to; the export selects the interested one.
INTERESTED_STAGE = "Interested"
NOT_INTERESTED_STAGE = "Not Interested"
# Apollo's reply classes, routed: interested replies go to an owner, uninterested ones leave the
# sequence. Other classes (out_of_office, person_referral ...) are left alone.
INTERESTED = ("willing_to_meet", "follow_up_question")
NOT_INTERESTED = ("not_interested", "unsubscribe")
# How often the deferred sensor checks the sequence (one outreach-email search per 100 replies).
# Replies take days, so every 10 minutes is plenty; the demo and the tests set a second or two.
REPLY_CHECK_SECONDS = float(os.environ.get("APOLLO_OUTREACH_CHECK_SECONDS", "600"))

# The batch a run creates unless the run's conf gives its own ``contacts`` list. Custom fields are
# given by their labels, picklist values by their text. Lukas has no email address yet (met at a
# conference): Apollo declines to enroll him, and the run says why.
DEFAULT_CONTACTS = [
    {
        "first_name": "Maya",
        "last_name": "Okafor",
        "email": "maya.okafor@northwind-logistics.com",
        "title": "Head of Data",
        "organization_name": "Northwind Logistics",
        "custom_fields": {"Lead score": 92, "Segment": "Enterprise"},
    },
    {
        "first_name": "Jonas",
        "last_name": "Lindqvist",
        "email": "jonas.lindqvist@fjordbank.no",
        "title": "VP of Engineering",
        "organization_name": "Fjord Bank",
        "custom_fields": {"Lead score": 88, "Segment": "Enterprise"},
    },
    {
        "first_name": "Camille",
        "last_name": "Bertrand",
        "email": "camille.bertrand@lumiere-retail.fr",
        "title": "Chief Data Officer",
        "organization_name": "Lumiere Retail",
        "custom_fields": {"Lead score": 81, "Segment": "Mid-Market"},
    },
    {
        "first_name": "Rahul",
        "last_name": "Menon",
        "email": "rahul.menon@tessellate.io",
        "title": "Staff Data Engineer",
        "organization_name": "Tessellate",
        "custom_fields": {"Lead score": 64, "Segment": "SMB"},
    },
    {
        "first_name": "Sofia",
        "last_name": "Alvarez",
        "email": "sofia.alvarez@brightpath-health.com",
        "title": "Director of Analytics",
        "organization_name": "BrightPath Health",
        "custom_fields": {"Lead score": 77, "Segment": "Mid-Market"},
    },
    {
        "first_name": "Ethan",
        "last_name": "Brooks",
        "email": "ethan.brooks@keystone-energy.com",
        "title": "Platform Engineering Manager",
        "organization_name": "Keystone Energy",
        "custom_fields": {"Lead score": 71, "Segment": "Enterprise"},
    },
    {
        "first_name": "Hana",
        "last_name": "Sato",
        "email": "hana.sato@kumo-games.jp",
        "title": "Data Platform Lead",
        "organization_name": "Kumo Games",
        "custom_fields": {"Lead score": 69, "Segment": "Mid-Market"},
    },
    {
        "first_name": "Lukas",
        "last_name": "Weber",
        "title": "CTO",
        "organization_name": "Alpenwerk",
        "custom_fields": {"Lead score": 58, "Segment": "SMB", "Lead source detail": "Data Council booth"},
    },
    {
        "first_name": "Amara",
        "last_name": "Nwosu",
        "email": "amara.nwosu@savannah-pay.com",
        "title": "Head of Revenue Operations",
        "organization_name": "Savannah Pay",
        "custom_fields": {"Lead score": 84, "Segment": "Mid-Market"},
    },
    {
        "first_name": "Daniel",
        "last_name": "Cohen",
        "email": "daniel.cohen@harborline.com",
        "title": "Analytics Engineering Manager",
        "organization_name": "Harborline",
        "custom_fields": {"Lead score": 73, "Segment": "SMB"},
    },
]


with DAG(
    dag_id="apollo_outreach_pipeline",
    description="Create contacts, list them, enroll them in a sequence, wait for replies, route them by "
    "what they say: the interested to an owner and S3, the uninterested out of the sequence.",
    schedule=None,
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    # Lists and dicts from params and XCom reach the operators as Python objects, not strings.
    render_template_as_native_obj=True,
    params={
        "contacts": Param(DEFAULT_CONTACTS, type="array", description="Contacts to create (Apollo fields)."),
        "list_name": Param("Data leaders outreach", type="string", description="Apollo list to add them to."),
        "sequence": Param("Outbound - Data leaders", type="string", description="Sequence name or id."),
        "mailbox": Param(
            "ada@outreach.emulated-team.example",
            type="string",
            description="Mailbox to send from: its address or email account id.",
        ),
        "owner": Param(
            "grace.hopper@emulated-team.example",
            type="string",
            description="Apollo user who takes the repliers: email or user id.",
        ),
    },
    tags=["apollo", "example"],
) as dag:
    # [START howto_outreach_pipeline]
    create_contacts = ApolloCreateContactOperator(
        task_id="create_contacts",
        contacts="{{ params.contacts }}",  # custom_fields by label, picklists by their text
        run_dedupe=True,  # a re-run finds the same people instead of creating duplicates
        apollo_conn_id=APOLLO_CONN_ID,
    )
    add_to_list = ApolloAddToListsOperator(
        task_id="add_to_list",
        contact_ids=create_contacts.output,
        list_names="{{ params.list_name }}",  # created by Apollo on first use
        apollo_conn_id=APOLLO_CONN_ID,
    )
    enroll = ApolloAddToSequenceOperator(
        task_id="enroll",
        sequence="{{ params.sequence }}",  # a sequence name or id
        contact_ids=add_to_list.output,
        mailbox="{{ params.mailbox }}",  # an email address or email account id
        on_skipped="warn",  # contacts Apollo declines go to XCom "skipped_contacts" with the reason
        apollo_conn_id=APOLLO_CONN_ID,
    )
    wait_for_replies = ApolloSequenceStatusSensor(
        task_id="wait_for_replies",
        sequence="{{ params.sequence }}",
        contact_ids=enroll.output,
        target_statuses=["replied"],  # read from the sequence's emails, with Apollo's reply class
        require="any",  # go on as soon as one person replies
        deferrable=True,  # the wait holds no worker slot: the triggerer polls Apollo
        poke_interval=REPLY_CHECK_SECONDS,
        timeout=14 * 24 * 60 * 60,
        apollo_conn_id=APOLLO_CONN_ID,
    )

    @task
    def sort_replies(found: dict) -> dict[str, list[str]]:
        """The sensor's XCom holds {"replied": [ids], "reply_classes": {class: [ids]}}."""
        by_class = found["reply_classes"]
        return {
            "interested": [i for name in INTERESTED for i in by_class.get(name, [])],
            "not_interested": [i for name in NOT_INTERESTED for i in by_class.get(name, [])],
        }

    @task.branch
    def route(groups: dict[str, list[str]]) -> list[str]:
        """Only the branches somebody replied for run; the others are skipped."""
        branches = {"interested": "move_interested", "not_interested": "move_not_interested"}
        return [task_id for group, task_id in branches.items() if groups[group]]

    groups = sort_replies(wait_for_replies.output)
    move_interested = ApolloUpdateStagesOperator(
        task_id="move_interested",
        contact_ids=groups["interested"],
        contact_stage=INTERESTED_STAGE,  # a stage name or id
        apollo_conn_id=APOLLO_CONN_ID,
    )
    assign_owner = ApolloUpdateOwnersOperator(
        task_id="assign_owner",
        contact_ids=move_interested.output,
        new_owner="{{ params.owner }}",  # a user's email (needs a master key) or user id
        apollo_conn_id=APOLLO_CONN_ID,
    )
    move_not_interested = ApolloUpdateStagesOperator(
        task_id="move_not_interested",
        contact_ids=groups["not_interested"],
        contact_stage=NOT_INTERESTED_STAGE,
        apollo_conn_id=APOLLO_CONN_ID,
    )
    stop_outreach = ApolloRemoveFromSequenceOperator(
        task_id="stop_outreach",
        sequence="{{ params.sequence }}",
        contact_ids=move_not_interested.output,
        mode="remove",
        apollo_conn_id=APOLLO_CONN_ID,
    )
    route(groups) >> [move_interested, move_not_interested]
    # [END howto_outreach_pipeline]

    # [START howto_export_responders]
    export_responders = ApolloSearchToS3Operator(
        task_id="export_responders",
        # Stage names, resolved to Apollo's stage ids once per run (an unknown name fails the task).
        search={"contact_stages": [INTERESTED_STAGE]},
        # Only contacts that changed since this run started: this campaign's interested repliers.
        updated_since="{{ dag_run.start_date }}",
        s3_bucket="{{ var.value.get('apollo_s3_bucket', 'apollo-exports') }}",
        s3_key="outreach/{{ dag_run.run_after | ts_nodash }}/responders.jsonl",
        file_format="jsonl",
        apollo_conn_id=APOLLO_CONN_ID,
        aws_conn_id=AWS_CONN_ID,
    )
    assign_owner >> export_responders
    # [END howto_export_responders]


with DAG(
    dag_id="apollo_outreach_wrap_up",
    description="Close an outreach campaign for the contacts who did not reply.",
    schedule=None,
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    render_template_as_native_obj=True,
    params={
        "contact_ids": Param([], type="array", description="The contacts who did not reply."),
        "list_name": Param("Data leaders outreach", type="string", description="The campaign's list."),
        "sequence": Param("Outbound - Data leaders", type="string", description="Sequence name or id."),
        "outcome": Param(
            "No reply to Outbound - Data leaders",
            type="string",
            description="Noted in each contact's custom field 'Lead source detail'.",
        ),
    },
    tags=["apollo", "example"],
) as wrap_up_dag:
    # [START howto_outreach_wrap_up]
    finish_sequence = ApolloRemoveFromSequenceOperator(
        task_id="finish_sequence",
        sequence="{{ params.sequence }}",
        contact_ids="{{ params.contact_ids }}",
        mode="finish",  # or "remove" (the membership is deleted) or "stop"
        apollo_conn_id=APOLLO_CONN_ID,
    )
    remove_from_list = ApolloRemoveFromListsOperator(
        task_id="remove_from_list",
        contact_ids=finish_sequence.output,
        list_names="{{ params.list_name }}",
        apollo_conn_id=APOLLO_CONN_ID,
    )

    @task
    def outcome_updates(contact_ids: list[str], outcome: str) -> list[dict[str, object]]:
        """Each contact's own values for the bulk update: a custom field, by its label."""
        return [
            {"id": contact_id, "custom_fields": {"Lead source detail": outcome}} for contact_id in contact_ids
        ]

    note_outcome = ApolloUpdateContactOperator(
        task_id="note_outcome",
        # 100 contacts a request through POST /contacts/bulk_update.
        contacts=outcome_updates(remove_from_list.output, "{{ params.outcome }}"),
        apollo_conn_id=APOLLO_CONN_ID,
    )
    # [END howto_outreach_wrap_up]
