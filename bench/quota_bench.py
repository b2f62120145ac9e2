"""Benchmark "under the hourly quota": long jobs against a time-scaled hourly quota of 400 calls.

For a 50,000-contact export, a 50,000-contact stage update and a 20,000-contact bulk create it
measures API calls used against the minimum (pages or batches), quota windows waited against the
minimum, and worker-seconds held against wall time (a deferred task holds no worker). Quota waits
run as Airflow runs them: the operator defers, the quota trigger fires at the reset, the operator
resumes from its checkpoint. Run: ``.venv/bin/python bench/quota_bench.py`` (``make bench`` runs it).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import create_bucket, markdown_table, prepare_environment, s3_server  # noqa: E402

from airflow_provider_apollo.testing import run_deferring  # noqa: E402

prepare_environment()

HOURLY_QUOTA = 400
# One emulated hour lasts 3600 * TIME_SCALE real seconds (72 s): far longer than 400 calls take
# here (~4 s), so the hourly window is used up before it resets, as it is against Apollo.
TIME_SCALE = 0.02


def run_deferring_timed(operator: Any) -> dict[str, float]:
    """Run like Airflow: worker time in execute/resume, trigger time outside it."""
    run = run_deferring(operator)
    return {
        "worker_seconds": run.worker_seconds,
        "wall_seconds": run.wall_seconds,
        "windows_waited": len(run.deferrals),
    }


def measure(
    job: str, size: int, endpoint: str, minimum_calls: int, make: Any, emulator: Any
) -> dict[str, Any]:
    before = len(emulator.requests)
    figures = run_deferring_timed(make())
    sent = [r for r in emulator.requests[before:] if r.path.endswith(endpoint)]
    ok = sum(1 for r in sent if r.status == 200)
    limited = sum(1 for r in sent if r.status == 429)
    return {
        "job": job,
        "contacts": size,
        "calls": ok + limited,
        "minimum_calls": minimum_calls,
        "calls_over_minimum_pct": round(100 * (ok + limited - minimum_calls) / minimum_calls, 2),
        "windows_waited": figures["windows_waited"],
        "minimum_windows": math.ceil(minimum_calls / HOURLY_QUOTA) - 1,
        "worker_seconds": round(figures["worker_seconds"], 2),
        "wall_seconds": round(figures["wall_seconds"], 2),
        "worker_share_pct": round(100 * figures["worker_seconds"] / figures["wall_seconds"], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--scale", type=float, default=1.0, help="fraction of the sizes (0.1 for a quick run)"
    )
    args = parser.parse_args()
    from airflow_provider_apollo.operators.contacts import (
        ApolloCreateContactOperator,
        ApolloUpdateStagesOperator,
    )
    from airflow_provider_apollo.testing import ApolloEmulator
    from airflow_provider_apollo.transfers.apollo_to_s3 import ApolloSearchToS3Operator

    export_size, update_size, create_size = (int(n * args.scale) for n in (50_000, 50_000, 20_000))
    rows = []
    with (
        s3_server() as endpoint,
        ApolloEmulator(rate_limits={"hour": HOURLY_QUOTA}, time_scale=TIME_SCALE) as emulator,
    ):
        import os

        os.environ["AIRFLOW_CONN_APOLLO_DEFAULT"] = json.dumps(
            {
                "conn_type": "apollo",
                "password": emulator.api_key,
                "host": emulator.url,
                "extra": {"max_retry_wait": 1},
            }
        )
        bucket = create_bucket(endpoint, "apollo-quota-bench")
        ids = emulator.seed_contacts(max(export_size, update_size))
        rows.append(
            measure(
                "export (jsonl)",
                export_size,
                "/contacts/search",
                math.ceil(export_size / 100),
                lambda: ApolloSearchToS3Operator(
                    task_id="export",
                    s3_bucket=bucket,
                    s3_key="bench/quota.jsonl",
                    max_records=export_size,
                    push_contact_ids=False,
                ),
                emulator,
            )
        )
        rows.append(
            measure(
                "stage update",
                update_size,
                "/contacts/update_stages",
                math.ceil(update_size / 100),
                lambda: ApolloUpdateStagesOperator(
                    task_id="update", contact_ids=ids[:update_size], contact_stage="Interested"
                ),
                emulator,
            )
        )
        people = [
            {"first_name": f"Q{i}", "last_name": "Bench", "email": f"q{i}@bench.example"}
            for i in range(create_size)
        ]
        rows.append(
            measure(
                "bulk create",
                create_size,
                "/contacts/bulk_create",
                math.ceil(create_size / 100),
                lambda: ApolloCreateContactOperator(task_id="create", contacts=people),
                emulator,
            )
        )
    print(markdown_table(rows))


if __name__ == "__main__":
    main()
