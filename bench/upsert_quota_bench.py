"""A 50,000-row upsert from S3 and from a SQL query under an hourly quota, in one task try.

Checks what issue 12 asks of such a run and prints the figures: the task finishes through its quota
waits (deferred, then resumed by row offset), exactly one contact per distinct person, every bad
row in the rejects file, XCom counts matching the data, calls against the minimum. Run:
``.venv/bin/python bench/upsert_quota_bench.py`` (``--rows 5000`` for a quick run).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import create_bucket, markdown_table, prepare_environment, s3_server  # noqa: E402

prepare_environment()

from airflow_provider_apollo.testing import ApolloEmulator, run_deferring  # noqa: E402

HOURLY_QUOTA = 250
# One emulated hour lasts 36 s: far longer than 250 calls take here, so the quota is used up.
TIME_SCALE = 0.01
BAD_EVERY = 50
UPDATE_EVERY = 5
COLUMNS = ("id", "first_name", "last_name", "email", "organization_name", "title")


def rows_for(count: int, update_ids: list[str], tag: str) -> tuple[list[dict[str, Any]], dict[str, int]]:
    rows: list[dict[str, Any]] = []
    counts = {"creates": 0, "updates": 0, "bad": 0}
    updates = iter(update_ids)
    for n in range(1, count + 1):
        if n % BAD_EVERY == 0:
            row = {
                "first_name": None,
                "last_name": None,
                "email": None,
                "organization_name": "Acme",
                "title": "CTO",
            }
            counts["bad"] += 1
        elif n % UPDATE_EVERY == 1 and counts["updates"] < len(update_ids):
            row = {"id": next(updates), "title": "Head of Data"}
            counts["updates"] += 1
        else:
            row = {
                "first_name": f"Lead{n}",
                "last_name": "Quota",
                "email": f"lead{n}@{tag}.quota.example",
                "organization_name": f"Company {n % 97}",
                "title": "VP Data",
            }
            counts["creates"] += 1
        rows.append({column: row.get(column) for column in COLUMNS})
    return rows, counts


def check(
    name: str, emulator: ApolloEmulator, run: Any, counts: dict[str, int], rejects: bytes, tag: str
) -> dict:
    people = [
        c for c in emulator.contacts.values() if str(c.get("email") or "").endswith(f"@{tag}.quota.example")
    ]
    outcome = run.value
    created = sum(
        1 for r in emulator.requests if r.path.endswith("/contacts/bulk_create") and r.status == 200
    )
    updated = sum(
        1 for r in emulator.requests if r.path.endswith("/contacts/bulk_update") and r.status == 200
    )
    limited = sum(1 for r in emulator.requests if r.status == 429)
    minimum = math.ceil(counts["creates"] / 100) + math.ceil(counts["updates"] / 100)
    figures = {
        "source": name,
        "rows": sum(counts.values()),
        "creates": counts["creates"],
        "updates": counts["updates"],
        "bad": counts["bad"],
        "quota_waits": len(run.deferrals),
        "write_calls": created + updated,
        "minimum_write_calls": minimum,
        "429s": limited,
        "worker_s": round(run.worker_seconds, 1),
        "wall_s": round(run.wall_seconds, 1),
    }
    problems = []
    if len(people) != counts["creates"] or len({p["email"] for p in people}) != counts["creates"]:
        problems.append(f"{len(people)} contacts for {counts['creates']} distinct people")
    if (
        outcome["created"] + outcome["unchanged"] != counts["creates"]
        or outcome["updated"] != counts["updates"]
    ):
        problems.append(f"XCom {outcome} does not match {counts}")
    if outcome["rejected"] != counts["bad"] or len(rejects.splitlines()) != counts["bad"]:
        problems.append(f"{len(rejects.splitlines())} rejects for {counts['bad']} bad rows")
    if not run.deferrals:
        problems.append("never met the quota")
    figures["verdict"] = "ok" if not problems else "; ".join(problems)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    args = parser.parse_args()
    import boto3

    from airflow_provider_apollo.transfers.s3_to_apollo import S3ToApolloOperator
    from airflow_provider_apollo.transfers.sql_to_apollo import SqlToApolloOperator

    results = []
    with s3_server() as endpoint, tempfile.TemporaryDirectory() as workdir:
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        bucket = create_bucket(endpoint, "upsert-quota-bench")
        for source in ("s3", "sql"):
            with ApolloEmulator(rate_limits={"hour": HOURLY_QUOTA}, time_scale=TIME_SCALE) as emulator:
                os.environ["AIRFLOW_CONN_APOLLO_DEFAULT"] = json.dumps(
                    {
                        "conn_type": "apollo",
                        "password": emulator.api_key,
                        "host": emulator.url,
                        "extra": {"max_retry_wait": 1},
                    }
                )
                update_ids = emulator.seed_contacts(args.rows // UPDATE_EVERY)
                rows, counts = rows_for(args.rows, update_ids, source)
                if source == "s3":
                    body = "".join(
                        json.dumps({k: v for k, v in r.items() if v is not None}) + "\n" for r in rows
                    )
                    s3.put_object(Bucket=bucket, Key="leads.jsonl", Body=body.encode())
                    operator: Any = S3ToApolloOperator(
                        task_id="upsert", s3_bucket=bucket, s3_key="leads.jsonl"
                    )
                    rejects_key = "leads.jsonl.rejects.jsonl"
                else:
                    path = Path(workdir) / "warehouse.db"
                    with sqlite3.connect(path) as db:
                        db.execute(
                            f"CREATE TABLE leads (n INTEGER PRIMARY KEY, {', '.join(c + ' TEXT' for c in COLUMNS)})"
                        )
                        db.executemany(
                            f"INSERT INTO leads VALUES (?, {', '.join('?' for _ in COLUMNS)})",
                            [(n, *(r[c] for c in COLUMNS)) for n, r in enumerate(rows, start=1)],
                        )
                    os.environ["AIRFLOW_CONN_WAREHOUSE"] = json.dumps(
                        {"conn_type": "sqlite", "host": str(path)}
                    )
                    rejects_key = "sql/leads.rejects.jsonl"
                    operator = SqlToApolloOperator(
                        task_id="upsert",
                        sql=f"SELECT {', '.join(COLUMNS)} FROM leads ORDER BY n",
                        conn_id="warehouse",
                        rejects_bucket=bucket,
                        rejects_key=rejects_key,
                    )
                started = time.monotonic()
                run = run_deferring(operator)
                rejects = s3.get_object(Bucket=bucket, Key=rejects_key)["Body"].read()
                results.append(check(source, emulator, run, counts, rejects, source))
                print(json.dumps(results[-1]), f"({time.monotonic() - started:.0f} s)", flush=True)
    print()
    print(markdown_table(results))


if __name__ == "__main__":
    main()
