"""`make dist`: the wheel, installed alone (no extra) in a fresh venv, runs a DAG and nothing more comes with it.

Run with that venv's Python, AIRFLOW_HOME migrated and AIRFLOW__CORE__DAGS_FOLDER holding
tests/dags/apollo_chain.py. Checks, in order: the package comes from the wheel; neither boto3 nor
the Amazon provider is installed; the deferrable chain (create, stages, owners, a sensor deferred
to its trigger) succeeds under ``dag.test()`` against the emulator; the S3 export, whose extra is
missing, fails with the extra's install command before any request reaches Apollo.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from importlib.metadata import distributions
from pathlib import Path

DAG_ID = "apollo_chain_deferrable"
AMAZON_COMMAND = "pip install 'airflow-provider-apollo[amazon]'"


def fail(message: str) -> None:
    print(f"smoke_dist: FAILED: {message}")
    sys.exit(1)


def main() -> None:
    import airflow_provider_apollo

    package = Path(airflow_provider_apollo.__file__).resolve()
    if Path(sys.prefix).resolve() not in package.parents:
        fail(f"airflow_provider_apollo comes from {package}, not from the wheel installed in {sys.prefix}")
    for absent in ("boto3", "airflow.providers.amazon"):
        try:
            found = importlib.util.find_spec(absent) is not None
        except ModuleNotFoundError:
            found = False
        if found:
            fail(f"the plain install brought {absent}")
    installed = sorted({d.metadata["Name"].lower() for d in distributions()})
    print(f"smoke_dist: {len(installed)} distributions installed, no boto3, no Amazon provider")

    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 3.0
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef]
    from airflow_provider_apollo.extras import ApolloMissingExtraError
    from airflow_provider_apollo.testing import ApolloEmulator
    from airflow_provider_apollo.transfers.apollo_to_s3 import ApolloSearchToS3Operator

    with ApolloEmulator(reply_after=1.0) as emulator:
        connection = {"conn_type": "apollo", "password": emulator.api_key, "host": emulator.url}
        os.environ["AIRFLOW_CONN_APOLLO_DEFAULT"] = json.dumps(connection)
        bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
        if bag.import_errors:
            fail(f"DAG import errors: {bag.import_errors}")
        dag_run = bag.get_dag(DAG_ID).test(run_conf={"owner_id": emulator.users[1]["id"]})
        states = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
        if str(dag_run.state) != "success":
            fail(f"{DAG_ID} ended {dag_run.state}: {states}")
        print(f"smoke_dist: {DAG_ID} succeeded under dag.test(): {states}; {len(emulator.contacts)} contacts")

        requests_before = len(emulator.requests)
        export = ApolloSearchToS3Operator(task_id="export", s3_bucket="bucket", s3_key="contacts.jsonl")
        try:
            export.execute({"ti": None})  # type: ignore[arg-type]
        except ApolloMissingExtraError as error:
            if not str(error).endswith(AMAZON_COMMAND):
                fail(f"the export's error does not end with {AMAZON_COMMAND!r}: {error}")
            if len(emulator.requests) != requests_before:
                fail("the export reached Apollo before failing for its missing extra")
            print(f"smoke_dist: the export without its extra fails as it should: {error}")
        else:
            fail("the export ran without the Amazon provider")


if __name__ == "__main__":
    main()
