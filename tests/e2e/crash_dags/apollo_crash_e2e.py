"""E2E DAG: three long jobs the crash test kills mid-run (SIGKILL to the task process); each retries once.

``create`` (3,000 contacts, ``apollo_create``), ``stages`` (3,000 contacts moved, ``apollo_stage``)
and ``upsert`` (an S3 file of creates, updates and rejects, ``apollo_upsert``) run at once, each
against its own emulator. Their arguments come from the Variable ``apollo_crash_<run_id>``, so every
run has its own contacts and file.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.providers.common.compat.sdk import DAG

from airflow_provider_apollo.operators.contacts import ApolloCreateContactOperator, ApolloUpdateStagesOperator
from airflow_provider_apollo.transfers.s3_to_apollo import S3ToApolloOperator

# The run's inputs, from the Variable the test writes before it triggers the run.
INPUTS = "var.json.get('apollo_crash_' ~ run_id)"
# Saves at most once a second: a kill sends again at most about a second of batches (and the one in flight).
CHECKPOINT_INTERVAL = 1.0

with DAG(
    dag_id="apollo_crash_e2e",
    schedule=None,
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    render_template_as_native_obj=True,
    default_args={"retries": 1, "retry_delay": timedelta(seconds=1)},
    max_active_tasks=3,
    tags=["apollo", "test"],
) as dag:
    ApolloCreateContactOperator(
        task_id="create",
        contacts=f"{{{{ {INPUTS}.contacts }}}}",
        apollo_conn_id="apollo_create",
        checkpoint_interval=CHECKPOINT_INTERVAL,
    )
    ApolloUpdateStagesOperator(
        task_id="stages",
        contact_ids=f"{{{{ {INPUTS}.stage_ids }}}}",
        contact_stage="Interested",
        apollo_conn_id="apollo_stage",
        checkpoint_interval=CHECKPOINT_INTERVAL,
    )
    S3ToApolloOperator(
        task_id="upsert",
        s3_bucket=f"{{{{ {INPUTS}.bucket }}}}",
        s3_key=f"{{{{ {INPUTS}.key }}}}",
        file_format="jsonl",
        apollo_conn_id="apollo_upsert",
        checkpoint_interval=CHECKPOINT_INTERVAL,
    )
