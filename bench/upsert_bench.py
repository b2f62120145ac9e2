"""Benchmark "warehouse to Apollo": a 50,000-record upsert from S3 to the emulator.

Measures, for a JSON-lines extract of creates (no id), updates (an Apollo id) and bad records
(no email and no name; malformed emails) read from moto's S3 by ``S3ToApolloOperator``:

- API calls, counted by the operator's hook, against ``ceil(creates/100) + ceil(updates/100)``
  plus the name look-ups (the custom-field catalog, the team's users for owners by email);
- wall time against a bare loop of the same bulk calls (``requests``, pre-built bodies, no file,
  no validation, no rejects);
- peak memory growth (RSS sampled every 10 ms, over the process's RSS just before the run) at
  5,000 and at 50,000 records: flat in the number of records is the target.

A 200-record run goes first and is not reported (one-off imports and client set-up).

The emulator and moto's S3 server run in their own processes, so their memory is not the client's. Run:
``.venv/bin/python bench/upsert_bench.py`` (``--rows 50000`` by default).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    create_bucket,
    emulator_process,
    free_port,
    prepare_environment,
    task_context,
    use_apollo_connection,
)

prepare_environment()

OWNER_EMAIL = "grace.hopper@emulated-team.example"
BAD_SHARE = 0.02
UPDATE_SHARE = 0.18


def build_extract(rows: int, update_ids: list[str]) -> tuple[bytes, dict[str, int]]:
    lines: list[str] = []
    counts = {"creates": 0, "updates": 0, "bad": 0}
    updates = iter(update_ids)
    bad_every = round(1 / BAD_SHARE)
    for n in range(1, rows + 1):
        if n % bad_every == 0:
            record: dict[str, Any] = (
                {"organization_name": "Acme", "title": "CTO"}
                if n % (2 * bad_every)
                else {"first_name": "Bad", "email": f"bad{n}-at-example"}
            )
            counts["bad"] += 1
        elif counts["updates"] < len(update_ids) and n % 5 == 1:
            record = {"id": next(updates), "title": "Head of Data", "custom_fields": {"Lead score": n % 100}}
            counts["updates"] += 1
        else:
            record = {
                "first_name": f"Lead{n}",
                "last_name": "Bench",
                "email": f"lead{n}@bench.example",
                "organization_name": f"Company {n % 97}",
                "title": "VP Data",
                "owner_id": OWNER_EMAIL,
                "custom_fields": {"Lead score": n % 100, "Segment": ("Enterprise", "SMB")[n % 2]},
            }
            counts["creates"] += 1
        lines.append(json.dumps(record))
    return ("\n".join(lines) + "\n").encode(), counts


class PeakRss:
    """The process's resident memory, sampled every 10 ms while the block runs."""

    def __init__(self) -> None:
        import psutil

        self._process = psutil.Process(os.getpid())
        self.start = self.peak = 0
        self._done = threading.Event()

    def __enter__(self) -> PeakRss:
        self.start = self.peak = self._process.memory_info().rss
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._done.wait(0.01):
            self.peak = max(self.peak, self._process.memory_info().rss)

    def __exit__(self, *exc: Any) -> None:
        self._done.set()
        self._thread.join()
        self.peak = max(self.peak, self._process.memory_info().rss)

    @property
    def growth_mib(self) -> float:
        return (self.peak - self.start) / 2**20


def bare_loop(url: str, creates: list[list[dict[str, Any]]], updates: list[list[dict[str, Any]]]) -> float:
    """The same bulk calls with ``requests`` and nothing else: the floor."""
    import requests

    session = requests.Session()
    session.headers["x-api-key"] = "test-key"
    started = time.perf_counter()
    for batch in creates:
        session.post(
            f"{url}/contacts/bulk_create", json={"contacts": batch, "run_dedupe": True}
        ).raise_for_status()
    for batch in updates:
        session.post(f"{url}/contacts/bulk_update", json={"contact_attributes": batch}).raise_for_status()
    return time.perf_counter() - started


def run(rows: int, endpoint: str) -> dict[str, Any]:
    from airflow_provider_apollo.hooks.apollo import ApolloHook
    from airflow_provider_apollo.transfers.s3_to_apollo import S3ToApolloOperator

    seeded = int(rows * UPDATE_SHARE)
    with emulator_process(seed=seeded) as url:
        use_apollo_connection(url)
        update_ids = [str(c["id"]) for c in ApolloHook().search_contacts(max_records=seeded)]
        data, counts = build_extract(rows, update_ids)
        bucket = create_bucket(endpoint, f"bench-upsert-{rows}")
        import boto3

        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").put_object(
            Bucket=bucket, Key="leads.jsonl", Body=data
        )
        del data
        operator = S3ToApolloOperator(task_id="upsert", s3_bucket=bucket, s3_key="leads.jsonl")
        context = task_context()
        with PeakRss() as memory:
            started = time.perf_counter()
            outcome = operator.execute(context)
            elapsed = time.perf_counter() - started
        calls = operator.hook.request_count
    # The bare loop: the same bodies (names already resolved), against a fresh emulator.
    with emulator_process(seed=seeded) as url:
        use_apollo_connection(url)
        hook = ApolloHook()
        fields = {f.label: f for f in hook.list_custom_fields()}
        owner = hook.resolve_owner_id(OWNER_EMAIL)
        ids = [str(c["id"]) for c in hook.search_contacts(max_records=seeded)]
        creates = [
            {
                "first_name": f"Lead{n}",
                "last_name": "Bench",
                "email": f"lead{n}@bench.example",
                "organization_name": f"Company {n % 97}",
                "title": "VP Data",
                "owner_id": owner,
                "typed_custom_fields": {fields["Lead score"].key: n % 100},
            }
            for n in range(counts["creates"])
        ]
        updates = [{"id": i, "title": "Head of Data"} for i in ids[: counts["updates"]]]
        bare = bare_loop(
            url,
            [creates[i : i + 100] for i in range(0, len(creates), 100)],
            [updates[i : i + 100] for i in range(0, len(updates), 100)],
        )
    expected = math.ceil(counts["creates"] / 100) + math.ceil(counts["updates"] / 100)
    return {
        "rows": rows,
        **counts,
        "outcome": outcome,
        "calls": calls,
        "calls_target": expected,
        "lookups": calls - expected,
        "seconds": round(elapsed, 2),
        "bare_seconds": round(bare, 2),
        "ratio": round(elapsed / bare, 2),
        "peak_growth_mib": round(memory.growth_mib, 1),
    }


@contextlib.contextmanager
def s3_process() -> Iterator[str]:
    """moto's S3 server in its own process (serving a 12 MB object costs the server memory, not the client)."""
    import subprocess

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        os.environ["AIRFLOW_CONN_AWS_DEFAULT"] = json.dumps(
            {
                "conn_type": "aws",
                "login": "testing",
                "password": "testing",
                "extra": {"endpoint_url": endpoint, "region_name": "us-east-1"},
            }
        )
        yield endpoint
    finally:
        server.terminate()
        server.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[5_000, 50_000])
    args = parser.parse_args()
    results = []
    with s3_process() as endpoint:
        # One small run first, not reported: imports, the first boto client and connection look-ups
        # are paid once per worker process, not per record.
        run(200, endpoint)
        for rows in args.rows:
            results.append(run(rows, endpoint))
            print(json.dumps(results[-1]), flush=True)
    print()
    print(
        "| records | creates | updates | bad | calls | target + look-ups | time | bare loop | ratio | peak memory growth |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['rows']:,} | {r['creates']:,} | {r['updates']:,} | {r['bad']:,} | {r['calls']:,} | "
            f"{r['calls_target']:,} + {r['lookups']} | {r['seconds']} s | {r['bare_seconds']} s | "
            f"{r['ratio']}x | {r['peak_growth_mib']} MiB |"
        )


if __name__ == "__main__":
    main()
