"""Helpers for tests that run the DAGs in tests/dags under ``dag.test()``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def load_dag(dag_id: str) -> Any:
    from airflow_versions import dag_bag_class

    DagBag = dag_bag_class()

    bag = DagBag(dag_folder=str(REPO / "tests" / "dags"))
    assert not bag.import_errors, bag.import_errors
    return bag.get_dag(dag_id)


def xcom_value(dag_run: Any, task_id: str) -> Any:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = (
            session.query(XComModel)
            .filter_by(dag_id=dag_run.dag_id, run_id=dag_run.run_id, task_id=task_id, key="return_value")
            .one()
        )
        return XComModel.deserialize_value(row)
