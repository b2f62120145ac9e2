"""Example DAG: every day, push the warehouse's scored leads into Apollo and report the rejects.

The warehouse writes one extract a day, ``s3://<bucket>/warehouse/scored_leads/dt=<day>/leads.csv.gz``
(a gzip CSV with a header). Each record becomes an Apollo contact: a record that carries an
Apollo id (a lead exported from Apollo earlier) updates that contact, any other is created with
Apollo's dedupe on, so re-running a day never creates anyone twice. The lead score and segment go
to custom fields by their labels, and the owner is given by email. Records Apollo cannot take land
in ``leads.csv.gz.rejects.jsonl`` beside the extract, with their row and reason; the second task
reports them, and the run fails only when more than 2% of a day's records are rejected.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pendulum
from airflow.providers.common.compat.sdk import DAG
from airflow.sdk import CronDataIntervalTimetable, task

from airflow_provider_apollo.transfers.s3_to_apollo import S3ToApolloOperator

APOLLO_CONN_ID = "apollo_default"
AWS_CONN_ID = "aws_default"
# Rejects shown in the task log; the file holds all of them.
REJECTS_SHOWN = 20

with DAG(
    dag_id="apollo_warehouse_to_apollo",
    description="Daily upsert of the warehouse's scored leads into Apollo, with a rejects report.",
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
    tags=["apollo", "example", "warehouse"],
) as dag:
    # [START howto_warehouse_to_apollo]
    upsert_scored_leads = S3ToApolloOperator(
        task_id="upsert_scored_leads",
        s3_bucket="{{ var.value.get('apollo_s3_bucket', 'apollo-exports') }}",
        s3_key="warehouse/scored_leads/dt={{ ds }}/leads.csv.gz",  # CSV, gzip: read from the name
        column_map={
            "apollo_contact_id": "id",  # present: update that contact; empty: create (dedupe on)
            "first_name": "first_name",
            "last_name": "last_name",
            "work_email": "email",
            "company": "organization_name",
            "job_title": "title",
            "lead_score": "custom_fields.Lead score",  # custom fields by their labels
            "segment": "custom_fields.Segment",  # a picklist, by its option's text
            "account_owner_email": "owner_id",  # an owner by email
        },
        max_rejects=0.02,  # fail the run when more than 2% of the day's records are rejected
        apollo_conn_id=APOLLO_CONN_ID,
        aws_conn_id=AWS_CONN_ID,
    )

    @task
    def report_rejects(upsert: dict[str, Any]) -> dict[str, Any]:
        """Log the day's counts and the first rejects with their reasons (the file holds them all)."""
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        print(
            f"created {upsert['created']}, updated {upsert['updated']}, "
            f"unchanged {upsert['unchanged']}, rejected {upsert['rejected']}"
        )
        if upsert["rejects_uri"]:
            bucket, key = S3Hook.parse_s3_url(upsert["rejects_uri"])
            body = S3Hook(aws_conn_id=AWS_CONN_ID).get_key(key, bucket).get()["Body"]
            for number, line in enumerate(body.iter_lines()):
                if number == REJECTS_SHOWN:
                    print(f"... and {upsert['rejected'] - REJECTS_SHOWN} more in {upsert['rejects_uri']}")
                    break
                reject = json.loads(line)
                print(f"row {reject['row']}: {reject['reason']}")
        return upsert

    report_rejects(upsert_scored_leads.output)
    # [END howto_warehouse_to_apollo]
