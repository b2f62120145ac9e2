"""E2E DAG: a stage update needing three hours of quota, and four owner updates sharing one window.

``long_update`` (connection ``apollo_default``: an hourly quota) defers to the triggerer at each
exhausted hour and resumes; the four ``share_*`` tasks (connection ``apollo_shared``: a short
minute window) run at once and cooperate through Apollo's usage headers. Ids come from a Variable.
"""

from __future__ import annotations

import pendulum
from airflow.providers.common.compat.sdk import DAG

from airflow_provider_apollo.operators.contacts import ApolloUpdateOwnersOperator, ApolloUpdateStagesOperator

PARALLEL_TASKS = 4

with DAG(
    dag_id="apollo_quota_e2e",
    schedule=None,
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    render_template_as_native_obj=True,
    default_args={"retries": 0},
    max_active_tasks=PARALLEL_TASKS + 1,
    tags=["apollo", "test"],
) as dag:
    ApolloUpdateStagesOperator(
        task_id="long_update",
        contact_ids="{{ var.json.apollo_quota_e2e.long_ids }}",
        contact_stage="Interested",
    )
    for index in range(PARALLEL_TASKS):
        ApolloUpdateOwnersOperator(
            task_id=f"share_{index}",
            contact_ids=f"{{{{ var.json.apollo_quota_e2e.shared_ids[{index}] }}}}",
            owner_id="{{ var.json.apollo_quota_e2e.owner_id }}",
            apollo_conn_id="apollo_shared",
        )
