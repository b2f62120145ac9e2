"""A daily incremental Apollo-to-S3 export, run end to end by tests/transfers/test_export_dag.py."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

try:
    from airflow.sdk import CronDataIntervalTimetable
except ImportError:  # Airflow 3.0 (`make test-floor`): the SDK exports it from 3.1
    from airflow.timetables.interval import CronDataIntervalTimetable

from airflow_provider_apollo.transfers.apollo_to_s3 import ApolloSearchToS3Operator

with DAG(
    dag_id="apollo_export_test_dag",
    # A real daily interval: a plain "@daily" in Airflow 3 fires with an empty interval.
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    params={"s3_bucket": "apollo-exports"},
) as dag:
    # [START howto_transfer_apollo_to_s3_incremental]
    export_contacts = ApolloSearchToS3Operator(
        task_id="export_contacts",
        s3_bucket="{{ params.s3_bucket }}",
        # One object per day: a re-run of a day replaces that day's object and no other.
        s3_key="apollo/contacts/dt={{ data_interval_start | ds }}/contacts.jsonl.gz",
        compression="gzip",
        # Exactly the contacts updated during the run's data interval: [start, end).
        updated_since="{{ data_interval_start }}",
        updated_before="{{ data_interval_end }}",
        push_contact_ids=False,
    )
    # [END howto_transfer_apollo_to_s3_incremental]
