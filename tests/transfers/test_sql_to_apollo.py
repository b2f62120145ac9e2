"""SqlToApolloOperator against SQLite and a real PostgreSQL server, the emulator and moto's S3 server."""

from __future__ import annotations

import datetime
import decimal
import json
import math
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from warehouse_support import (
    COLUMN_MAP as SUPPORT_COLUMN_MAP,
)
from warehouse_support import (
    COLUMNS,
    TaskInstance,
    apollo_fixture,  # noqa: F401 - the fixture apollo
    connect_apollo,
    extract,
    postgres_url_fixture,  # noqa: F401 - the fixture postgres_url
    read_lines,
    run_with_deferrals,
    status_count,
)

from airflow_provider_apollo.exceptions import ApolloArgumentError
from airflow_provider_apollo.testing import ApolloEmulator
from airflow_provider_apollo.transfers.sql_to_apollo import SqlToApolloOperator

QUERY = f"SELECT {', '.join(COLUMNS)}, renewal FROM leads ORDER BY n"
COLUMN_MAP = {**SUPPORT_COLUMN_MAP, "renewal": "custom_fields.Renewal date"}


def rows(records: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    # The warehouse's own types: numeric scores, dates.
    return [
        (
            n,
            *(decimal.Decimal(r["score"]) if c == "score" and r[c] is not None else r[c] for c in COLUMNS),
            datetime.date(2027, 1, 1 + n % 28),
        )
        for n, r in enumerate(records, 1)
    ]


@pytest.fixture
def sqlite_leads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    path = tmp_path / "warehouse.db"
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", json.dumps({"conn_type": "sqlite", "host": str(path)}))

    def load(records: list[dict[str, Any]]) -> None:
        with sqlite3.connect(path) as db:
            db.execute(
                "CREATE TABLE leads (n INTEGER PRIMARY KEY, apollo_id TEXT, first TEXT, last TEXT, email TEXT, "
                "company TEXT, title TEXT, score NUMERIC, segment TEXT, owner TEXT, renewal TEXT)"
            )
            db.executemany(
                "INSERT INTO leads VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (*row[:7], int(row[7]) if row[7] is not None else None, *row[8:10], row[10].isoformat())
                    for row in rows(records)
                ],
            )

    return load


@pytest.fixture
def postgres_leads(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    import uuid

    import psycopg2

    database = f"leads_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(postgres_url)
    admin.autocommit = True
    admin.cursor().execute(f"CREATE DATABASE {database}")
    host_port = postgres_url.split("@", 1)[1].split("/", 1)[0]
    host, port = host_port.split(":")
    monkeypatch.setenv(
        "AIRFLOW_CONN_WAREHOUSE",
        json.dumps(
            {
                "conn_type": "postgres",
                "host": host,
                "port": int(port),
                "login": "postgres",
                "schema": database,
            }
        ),
    )

    def load(records: list[dict[str, Any]]) -> None:
        with psycopg2.connect(postgres_url.rsplit("/", 1)[0] + "/" + database) as db, db.cursor() as cursor:
            cursor.execute(
                "CREATE TABLE leads (n integer PRIMARY KEY, apollo_id text, first text, last text, email text, "
                "company text, title text, score numeric(6, 0), segment text, owner text, renewal date)"
            )
            cursor.executemany(
                "INSERT INTO leads VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", rows(records)
            )

    yield load
    admin.cursor().execute(f"DROP DATABASE {database} WITH (FORCE)")
    admin.close()


def upsert(bucket: str, **kwargs: Any) -> SqlToApolloOperator:
    return SqlToApolloOperator(
        task_id="upsert",
        sql=QUERY,
        conn_id="warehouse",
        rejects_bucket=bucket,
        rejects_key="apollo/leads/2026-05-01.rejects.jsonl",
        column_map=COLUMN_MAP,
        **kwargs,
    )


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_bad_rows_mixed_into_good_ones_from_a_query(
    request: pytest.FixtureRequest,
    database: str,
    apollo: ApolloEmulator,
    s3_bucket: str,
    aws_connection: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    load = request.getfixturevalue(f"{database}_leads")
    cursors: list[Any] = []
    make_cursor = SqlToApolloOperator._cursor

    def spy(self: SqlToApolloOperator, connection: Any) -> Any:
        cursors.append(make_cursor(self, connection))
        return cursors[-1]

    monkeypatch.setattr(SqlToApolloOperator, "_cursor", spy)
    data = extract(800, bad_every=4)  # 200 bad rows of four kinds
    load(data.records)
    ti = TaskInstance()
    result = upsert(s3_bucket, fetch_size=64).execute({"ti": ti})
    assert result == {
        "created": 600,
        "updated": 0,
        "unchanged": 0,
        "rejected": 200,
        "rejects_uri": f"s3://{s3_bucket}/apollo/leads/2026-05-01.rejects.jsonl",
    }
    rejects = read_lines(aws_connection, s3_bucket, "apollo/leads/2026-05-01.rejects.jsonl")
    assert {r["row"] for r in rejects} == set(data.bad_rows)
    assert all(data.bad_rows[r["row"]] in r["reason"] for r in rejects)
    assert apollo.contact_count == 600
    # Warehouse types arrive as Apollo values: a numeric score as a number, a date as ISO text.
    contact = {c["email"]: c for c in apollo.contacts.values()}["lead1@scored.example"]
    assert sorted(map(str, contact["typed_custom_fields"].values()))[:2] == [
        "1",
        "2027-01-03",
    ]  # lead1 is row 2
    ids = read_lines(aws_connection, s3_bucket, "apollo/leads/2026-05-01.created_ids.jsonl")
    assert set(ids) == set(apollo.contacts)
    assert ti.xcoms["created_ids_uri"] == f"s3://{s3_bucket}/apollo/leads/2026-05-01.created_ids.jsonl"
    # PostgreSQL streams the result through a named (server-side) cursor, 64 rows a fetch.
    [cursor] = cursors
    assert bool(getattr(cursor, "name", None)) == (database == "postgres")


def test_a_query_resumes_after_an_hourly_quota_without_resending(
    postgres_leads: Any, monkeypatch: pytest.MonkeyPatch, s3_bucket: str, aws_connection: str
) -> None:
    with ApolloEmulator(rate_limits={"hour": 4}, time_scale=0.0005) as emulator:
        connect_apollo(monkeypatch, emulator, max_retry_wait=0.5, max_retries=2)
        data = extract(1_050, bad_every=50, refused=False)
        postgres_leads(data.records)
        result, deferrals = run_with_deferrals(upsert(s3_bucket, fetch_size=100), {"ti": TaskInstance()})
        assert len(deferrals) == math.ceil(math.ceil(data.good / 100) / 4) - 1
        assert result["created"] == data.good == emulator.contact_count
        assert result["rejected"] == len(data.bad_rows)
        assert status_count(emulator, "/contacts/bulk_create", 200) == math.ceil(data.good / 100)
        rejects = read_lines(aws_connection, s3_bucket, "apollo/leads/2026-05-01.rejects.jsonl")
        assert sorted(r["row"] for r in rejects) == sorted(data.bad_rows)


def test_a_connection_without_a_sql_hook_is_refused(
    apollo: ApolloEmulator, s3_bucket: str, aws_connection: str
) -> None:
    operator = SqlToApolloOperator(
        task_id="u", sql="SELECT 1", conn_id="aws_default", rejects_bucket=s3_bucket, rejects_key="r.jsonl"
    )
    with pytest.raises(ApolloArgumentError, match="not a SQL hook"):
        operator.execute({"ti": TaskInstance()})
    assert apollo.requests == []


def test_sql_arguments_are_checked_when_the_dag_is_parsed() -> None:
    with pytest.raises(ApolloArgumentError, match="rejects_bucket must be a non-empty string"):
        SqlToApolloOperator(task_id="u", sql="SELECT 1", conn_id="c", rejects_bucket="", rejects_key="k")
    with pytest.raises(ApolloArgumentError, match="fetch_size must be an integer"):
        SqlToApolloOperator(
            task_id="u", sql="SELECT 1", conn_id="c", rejects_bucket="b", rejects_key="k", fetch_size=0
        )


def test_the_documented_query_upserts_one_day_of_scored_leads(
    postgres_url: str, postgres_leads: Any, apollo: ApolloEmulator, s3_bucket: str, aws_connection: str
) -> None:
    import psycopg2

    postgres_leads([])  # the database and its connection "warehouse"
    database = json.loads(__import__("os").environ["AIRFLOW_CONN_WAREHOUSE"])["schema"]
    with psycopg2.connect(postgres_url.rsplit("/", 1)[0] + "/" + database) as db, db.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE scored_leads (lead_key integer, scored_on date, apollo_id text, first text, "
            "last text, email text, company text, score numeric)"
        )
        cursor.executemany(
            "INSERT INTO scored_leads VALUES (%s, %s, NULL, %s, 'Lead', %s, 'Acme', %s)",
            [(n, f"2026-05-0{1 + n % 2}", f"Ada{n}", f"ada{n}@sql.example", n) for n in range(40)],
        )
    # [START howto_sql_to_apollo]
    from airflow_provider_apollo.transfers.sql_to_apollo import SqlToApolloOperator

    upsert_from_warehouse = SqlToApolloOperator(
        task_id="upsert_from_warehouse",
        conn_id="warehouse",  # any connection whose hook is a common-SQL DbApiHook
        sql="SELECT apollo_id, first, last, email, company, score FROM scored_leads "
        "WHERE scored_on = %(day)s ORDER BY lead_key",
        parameters={"day": "{{ ds }}"},
        column_map={
            "apollo_id": "id",
            "first": "first_name",
            "last": "last_name",
            "email": "email",
            "company": "organization_name",
            "score": "custom_fields.Lead score",
        },
        rejects_bucket="{{ var.value.apollo_s3_bucket }}",
        rejects_key="apollo/scored_leads/{{ ds }}.rejects.jsonl",
        fetch_size=1_000,
    )
    # [END howto_sql_to_apollo]
    context: dict[str, Any] = {
        "ds": "2026-05-01",
        "var": {"value": {"apollo_s3_bucket": s3_bucket}},
        "ti": TaskInstance(),
    }
    upsert_from_warehouse.render_template_fields(context)
    result = upsert_from_warehouse.execute(context)
    assert result == {"created": 20, "updated": 0, "unchanged": 0, "rejected": 0, "rejects_uri": None}
    assert sorted(c["email"] for c in apollo.contacts.values()) == sorted(
        f"ada{n}@sql.example" for n in range(0, 40, 2)
    )
