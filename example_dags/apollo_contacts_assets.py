"""An asset pair: a daily Apollo export to S3, and a load DAG scheduled on the export's Asset.

The export declares ``CONTACTS_EXPORT`` as its outlet; each successful run records an asset event
whose ``extra`` holds the run's ``s3_uri`` and ``record_count``. The load DAG runs after each one
and reads the object the triggering event names. An Asset's URI is fixed when the DAG is parsed,
so the bucket comes from the environment here, not from a template.
"""

from __future__ import annotations

import datetime
import json
import os
from typing import Any

from airflow.sdk import DAG, Asset, CronDataIntervalTimetable, task

from airflow_provider_apollo.transfers.apollo_to_s3 import ApolloSearchToS3Operator

APOLLO_CONN_ID = "apollo_default"
BUCKET = os.environ.get("APOLLO_EXPORT_BUCKET", "my-apollo-exports")

# [START howto_asset_export]
CONTACTS_EXPORT = Asset(name="apollo_contacts_export", uri=f"s3://{BUCKET}/apollo/daily")

with DAG(
    dag_id="apollo_contacts_export",
    # Each run covers one whole day, [data_interval_start, data_interval_end) (a plain "@daily"
    # in Airflow 3 is an instant, not a day).
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc),
    catchup=False,
    tags=["apollo", "assets"],
):
    ApolloSearchToS3Operator(
        task_id="export",
        s3_bucket=BUCKET,
        s3_key="apollo/daily/dt={{ ds }}/contacts.jsonl",
        updated_since="{{ data_interval_start }}",
        updated_before="{{ data_interval_end }}",
        asset=CONTACTS_EXPORT,  # the outlet; its event extra: {"s3_uri": ..., "record_count": ...}
        apollo_conn_id=APOLLO_CONN_ID,
    )
# [END howto_asset_export]

# [START howto_asset_load]
with DAG(
    dag_id="apollo_contacts_load",
    schedule=[CONTACTS_EXPORT],  # runs after each successful export
    start_date=datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc),
    catchup=False,
    tags=["apollo", "assets"],
):

    @task
    def load(*, triggering_asset_events: Any = None) -> dict[str, Any]:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        event = triggering_asset_events[CONTACTS_EXPORT][-1]  # the newest export
        s3_uri, record_count = event.extra["s3_uri"], event.extra["record_count"]
        bucket, _, key = s3_uri.removeprefix("s3://").partition("/")
        lines = S3Hook().read_key(key, bucket_name=bucket).splitlines()
        contacts = [json.loads(line) for line in lines if line]
        # A real load would COPY the object into the warehouse here.
        return {"s3_uri": s3_uri, "record_count": record_count, "rows_read": len(contacts)}

    load()
# [END howto_asset_load]
