"""Example DAG: every day, export the Apollo contacts changed that day to S3, partitioned by date.

Each run writes ``s3://<bucket>/apollo/contacts/dt=<day>/contacts.jsonl`` with exactly the contacts
whose last update falls in its data interval ``[data_interval_start, data_interval_end)`` (the day,
midnight to midnight UTC): the layout a warehouse loader (Snowflake, Redshift, BigQuery external
tables, Athena) picks up as one partition per day. A re-run of a day rewrites that day's file and
takes in no later change, however long after the day it runs. (Apollo keeps only a contact's latest
state: a contact updated again later belongs to the partition of the day of its last update.)
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.providers.common.compat.sdk import DAG
from airflow.sdk import CronDataIntervalTimetable

from airflow_provider_apollo.transfers.apollo_to_s3 import ApolloSearchToS3Operator

APOLLO_CONN_ID = "apollo_default"
AWS_CONN_ID = "aws_default"

# [START howto_contacts_daily_sync]
with DAG(
    dag_id="apollo_contacts_daily_sync",
    description="Incremental daily export of changed Apollo contacts to S3, one partition per day.",
    # A daily data interval [midnight, next midnight): ds names the day, data_interval_start is its
    # start. (A plain "@daily" in Airflow 3 is a trigger timetable whose interval is the instant the
    # run fires, which would make the watermark skip the day's changes.)
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
    tags=["apollo", "example"],
) as dag:
    export_changed_contacts = ApolloSearchToS3Operator(
        task_id="export_changed_contacts",
        # The interval's changes: updated at or after its start and before its end.
        updated_since="{{ data_interval_start }}",
        updated_before="{{ data_interval_end }}",
        s3_bucket="{{ var.value.get('apollo_s3_bucket', 'apollo-exports') }}",
        # The partition names the day whose changes it holds: the interval's start. (For scheduled
        # runs that is also {{ ds }}; a manual run's logical date falls at the interval's end.)
        s3_key="apollo/contacts/dt={{ data_interval_start | ds }}/contacts.jsonl",
        file_format="jsonl",
        replace=True,
        # A busy day can hold more ids than XCom should: s3_uri and record_count are pushed, and
        # the day's ids go to an object beside the partition for tasks that need them (XCom ids_uri).
        push_contact_ids=False,
        ids_key="apollo/contact_ids/dt={{ data_interval_start | ds }}/contact_ids.txt",
        apollo_conn_id=APOLLO_CONN_ID,
        aws_conn_id=AWS_CONN_ID,
    )
# [END howto_contacts_daily_sync]
