"""Test DAGs: create -> update stages -> update owners -> wait for a reply, ids passed through XCom.

Two DAG ids run the same chain with the sensor poking (``apollo_chain_poke``) or deferred to the
trigger (``apollo_chain_deferrable``). The connection is read only when tasks run; the owner id
comes from the run's conf (``params.owner_id``).
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

CHAIN_CONTACTS = [
    {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@analytical.example", "title": "CTO"},
    {"first_name": "Alan", "last_name": "Turing", "email": "alan@bletchley.example", "title": "Researcher"},
    {"first_name": "Grace", "last_name": "Hopper", "email": "grace@cobol.example", "title": "Admiral"},
    {
        "first_name": "Edsger",
        "last_name": "Dijkstra",
        "email": "edsger@eindhoven.example",
        "title": "Professor",
    },
]


def chain_dag(dag_id: str, *, deferrable: bool) -> DAG:
    with DAG(
        dag_id=dag_id,
        schedule=None,
        start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
        catchup=False,
        params={"owner_id": Param("", type="string", description="Apollo user id of the new owner")},
        tags=["apollo", "test"],
    ) as dag:
        # [START howto_operator_apollo_chain]
        create = ApolloCreateContactOperator(task_id="create", contacts=CHAIN_CONTACTS)
        stages = ApolloUpdateStagesOperator(
            task_id="update_stages",
            contact_ids=create.output,  # an XComArg: the created ids
            contact_stage="Approaching",
        )
        owners = ApolloUpdateOwnersOperator(
            task_id="update_owners",
            # A Jinja string: renders to "['id', ...]", parsed as a literal list at execute().
            contact_ids="{{ ti.xcom_pull(task_ids='update_stages') }}",
            owner_id="{{ params.owner_id }}",
        )
        wait = ApolloContactStageSensor(
            task_id="wait_for_reply",
            contact_ids=owners.output,
            target_stages=["Replied", "Interested"],
            require="any",
            poke_interval=0.5,
            timeout=60,
            deferrable=deferrable,
        )
        # The Jinja pull does not add a dependency by itself; the XComArgs do.
        create >> stages >> owners >> wait
        # [END howto_operator_apollo_chain]
    return dag


apollo_chain_poke = chain_dag("apollo_chain_poke", deferrable=False)
apollo_chain_deferrable = chain_dag("apollo_chain_deferrable", deferrable=True)
