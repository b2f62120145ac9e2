"""Test DAG: bulk create -> stage update -> owner update, each needing more than one hour of quota.

Run by tests/operators/test_base.py (test_the_three_jobs_outlast_the_quota_under_dag_test) under
``dag.test()`` against an emulator whose hourly quota is time-scaled to seconds: every task meets its
endpoint's exhausted quota, defers until the reset and resumes.
The contacts and the owner come from the run's conf.
"""

from __future__ import annotations

import pendulum
from airflow.providers.common.compat.sdk import DAG, Param

from airflow_provider_apollo.operators.contacts import (
    ApolloCreateContactOperator,
    ApolloUpdateOwnersOperator,
    ApolloUpdateStagesOperator,
)

with DAG(
    dag_id="apollo_quota_jobs",
    schedule=None,
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    render_template_as_native_obj=True,
    params={
        "contacts": Param([], type="array", description="contacts to create"),
        "owner_id": Param("", type="string", description="Apollo user id of the new owner"),
    },
    default_args={"retries": 0},
    tags=["apollo", "test"],
) as dag:
    create = ApolloCreateContactOperator(task_id="create", contacts="{{ params.contacts }}")
    stages = ApolloUpdateStagesOperator(
        task_id="update_stages", contact_ids=create.output, contact_stage="Approaching"
    )
    owners = ApolloUpdateOwnersOperator(
        task_id="update_owners", contact_ids=stages.output, owner_id="{{ params.owner_id }}"
    )
