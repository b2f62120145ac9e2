"""Benchmark the S3 export: time and peak memory of ApolloSearchToS3Operator against a bare page loop and a naive export.

The Apollo emulator and moto's S3 server run as their own processes, and every measured variant
runs in a fresh subprocess, so neither the servers' memory nor another variant's is counted.
Memory is the growth of the peak RSS (``ru_maxrss``) over the variant's baseline, taken after
imports and a 100-record warm-up run (which loads boto3's service model, opens sessions, etc.), so
what remains is what grows with the number of contacts.

Usage: ``.venv/bin/python bench/export_bench.py [--sizes 5000 50000] [--repeat 3]``; results also go to
``bench/results/export.json``. ``run(sizes)`` returns the same rows for ``bench/run.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results" / "export.json"
VENV_BIN = Path(sys.executable).parent
PER_PAGE = 100
WARM_UP_RECORDS = 100
# The targets: at most 1.5x the bare loop's time, under 48 MiB of memory growth.
TIME_RATIO_TARGET = 1.5
MEMORY_GROWTH_TARGET_MIB = 48

VARIANTS = (
    "bare_requests_loop",
    "operator_jsonl",
    "operator_jsonl_gzip",
    "operator_csv",
    "operator_parquet",
    "naive_list_load_string",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


# --------------------------------------------------------------------------- measured variants (child process)


def _bare_loop(url: str, api_key: str, path: str, limit: int | None) -> int:
    """The floor: a requests page loop writing each contact as a JSON line to a local file."""
    import requests

    session = requests.Session()
    session.headers.update({"x-api-key": api_key, "Content-Type": "application/json"})
    written = 0
    page = 1
    with open(path, "w", encoding="utf-8") as out:
        while True:
            response = session.post(
                f"{url}/contacts/search", json={"page": page, "per_page": PER_PAGE}, timeout=60
            )
            response.raise_for_status()
            body = response.json()
            contacts = body["contacts"]
            if limit is not None:
                contacts = contacts[: limit - written]
            out.write("".join(json.dumps(contact, ensure_ascii=False) + "\n" for contact in contacts))
            written += len(contacts)
            if not contacts or page >= int(body["pagination"]["total_pages"]) or (limit and written >= limit):
                return written
            page += 1


def _naive(bucket: str, key: str, limit: int | None) -> int:
    """HttpOperator-style: every page accumulated in a list, then one ``load_string`` of it all."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    from airflow_provider_apollo.hooks.apollo import ApolloHook

    contacts = list(ApolloHook().search_contacts(max_records=limit))
    S3Hook().load_string(
        "".join(json.dumps(contact, ensure_ascii=False) + "\n" for contact in contacts),
        key=key,
        bucket_name=bucket,
        replace=True,
    )
    return len(contacts)


# The operator's own split of its time (reading Apollo into the local file, then the upload).
PHASES: dict[str, float] = {}


class _TaskInstance:
    def __init__(self) -> None:
        self.xcoms: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcoms[key] = value


def _operator(bucket: str, key: str, variant: str, limit: int | None) -> int:
    from airflow_provider_apollo.transfers.apollo_to_s3 import ApolloSearchToS3Operator

    file_format = {"operator_csv": "csv", "operator_parquet": "parquet"}.get(variant, "jsonl")
    compression = "gzip" if variant.endswith("_gzip") else None
    op = ApolloSearchToS3Operator(
        task_id="export",
        s3_bucket=bucket,
        s3_key=key,
        file_format=file_format,
        compression=compression,
        max_records=limit,
        push_contact_ids=True,
        max_returned_ids=None,  # the benchmark measures the old default: every id returned
    )
    from structlog.testing import capture_logs

    ti = _TaskInstance()
    # The operator reports its phase timings in its last log event ("Exported ..."): read them there.
    with capture_logs() as events:
        op.execute({"ti": ti})  # type: ignore[arg-type]
    done = next(event for event in reversed(events) if "upload_seconds" in event)
    PHASES.update(read_seconds=done["read_seconds"], upload_seconds=done["upload_seconds"])
    return int(ti.xcoms["record_count"])


def _run_variant(variant: str, url: str, api_key: str, bucket: str, limit: int | None) -> int:
    if variant == "bare_requests_loop":
        with tempfile.TemporaryDirectory() as workdir:
            return _bare_loop(url, api_key, os.path.join(workdir, "contacts.jsonl"), limit)
    key = f"bench/{variant}/{uuid.uuid4().hex}"
    if variant == "naive_list_load_string":
        return _naive(bucket, key, limit)
    return _operator(bucket, key, variant, limit)


def child(variant: str, url: str, api_key: str, bucket: str) -> dict[str, Any]:
    """Run one variant: warm up on a few records, then measure the full export."""
    import logging

    logging.disable(logging.INFO)  # progress lines would cost the operator time the bare loop does not pay
    _run_variant(variant, url, api_key, bucket, WARM_UP_RECORDS)
    baseline = peak_rss_mib()
    started = time.perf_counter()
    PHASES.clear()
    records = _run_variant(variant, url, api_key, bucket, None)
    seconds = time.perf_counter() - started
    peak = peak_rss_mib()
    return {
        "variant": variant,
        "records": records,
        "seconds": round(seconds, 3),
        "records_per_second": round(records / seconds),
        "baseline_rss_mib": round(baseline, 1),
        "peak_rss_mib": round(peak, 1),
        "growth_mib": round(peak - baseline, 1),
        **PHASES,
    }


# --------------------------------------------------------------------------- orchestration (parent process)


def _start(command: list[str], ready: str, env: dict[str, str]) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=REPO
    )
    deadline = time.monotonic() + 120
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if ready in line:
            return process
        if not line and process.poll() is not None:
            break
    process.kill()
    raise RuntimeError(f"{command[0]} did not start (waiting for {ready!r})")


def _wait_for_port(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


def _stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _measure(variant: str, url: str, bucket: str, env: dict[str, str]) -> dict[str, Any]:
    output = subprocess.run(
        [sys.executable, __file__, "--child", variant, "--url", url, "--bucket", bucket],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    if output.returncode != 0:
        raise RuntimeError(f"variant {variant} failed:\n{output.stderr[-3000:]}")
    return dict(json.loads(output.stdout.strip().splitlines()[-1]))


def _summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median run by time, with the largest memory growth of all runs (the conservative figure)."""
    ordered = sorted(runs, key=lambda run: run["seconds"])
    row = dict(ordered[len(ordered) // 2])
    row["runs"] = len(runs)
    row["all_seconds"] = [run["seconds"] for run in runs]
    row["growth_mib"] = max(run["growth_mib"] for run in runs)
    row["peak_rss_mib"] = max(run["peak_rss_mib"] for run in runs)
    return row


def run(
    sizes: tuple[int, ...] = (5000, 50000), variants: tuple[str, ...] = VARIANTS, repeat: int = 3
) -> list[dict[str, Any]]:
    """
    Measure every variant for every size; one row per (size, variant), also written to the JSON file.

    Each variant runs ``repeat`` times; a row holds the median time and the largest memory growth.
    """
    import boto3

    env = {
        **os.environ,
        "AIRFLOW_HOME": str(REPO / "airflow-home"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "PYTHONPATH": str(REPO),
    }
    s3_port = free_port()
    moto = subprocess.Popen(
        [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(s3_port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    rows: list[dict[str, Any]] = []
    try:
        _wait_for_port(s3_port)
        s3_url = f"http://127.0.0.1:{s3_port}"
        bucket = "apollo-bench"
        boto3.client(
            "s3",
            endpoint_url=s3_url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        ).create_bucket(Bucket=bucket)
        env["AIRFLOW_CONN_AWS_DEFAULT"] = json.dumps(
            {"conn_type": "aws", "extra": {"endpoint_url": s3_url, "region_name": "us-east-1"}}
        )
        for size in sizes:
            port = free_port()
            emulator = _start(
                [
                    sys.executable,
                    "-m",
                    "airflow_provider_apollo.testing",
                    "--port",
                    str(port),
                    "--seed",
                    str(size),
                ],
                "listening on",
                env,
            )
            try:
                url = f"http://127.0.0.1:{port}/api/v1"
                variant_env = {
                    **env,
                    "AIRFLOW_CONN_APOLLO_DEFAULT": json.dumps(
                        {"conn_type": "apollo", "password": "test-key", "host": url}
                    ),
                }
                runs: dict[str, list[dict[str, Any]]] = {variant: [] for variant in variants}
                # Rounds interleave the variants, so a burst of load on the machine hits all of them.
                for _ in range(repeat):
                    for variant in variants:
                        runs[variant].append(_measure(variant, url, bucket, variant_env))
                for variant in variants:
                    row = _summarise(runs[variant])
                    row["size"] = size
                    rows.append(row)
                    print(
                        f"  {size:>6} {variant:<24} {row['seconds']:>7.2f} s  "
                        f"{row['records_per_second']:>6}/s  +{row['growth_mib']:.1f} MiB",
                        file=sys.stderr,
                        flush=True,
                    )
            finally:
                _stop(emulator)
    finally:
        moto.terminate()
        moto.wait(timeout=10)
    for row in rows:
        bare = next(r for r in rows if r["size"] == row["size"] and r["variant"] == "bare_requests_loop")
        row["time_vs_bare"] = round(row["seconds"] / bare["seconds"], 2)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "benchmark": "export",
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "platform": platform.platform(),
                },
                "repeat": repeat,
                "targets": {
                    "time_vs_bare_max": TIME_RATIO_TARGET,
                    "memory_growth_mib_max": MEMORY_GROWTH_TARGET_MIB,
                },
                "rows": rows,
            },
            indent=2,
        )
        + "\n"
    )
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    header = f"{'contacts':>8}  {'variant':<24} {'seconds':>8} {'x bare':>7} {'rec/s':>7} {'peak growth':>12}"
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row['size']:>8}  {row['variant']:<24} {row['seconds']:>8.2f} {row['time_vs_bare']:>7.2f} "
            f"{row['records_per_second']:>7} {row['growth_mib']:>8.1f} MiB"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[5000, 50000])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--repeat", type=int, default=3, help="runs per variant; the median time is reported")
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--bucket", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        # The operator reports its phase timings in an INFO event, which the benchmark reads.
        os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "INFO"
        print(json.dumps(child(args.child, args.url, "test-key", args.bucket)))
        return
    rows = run(tuple(args.sizes), tuple(args.variants), args.repeat)
    print_table(rows)
    print(f"\nwritten to {RESULTS.relative_to(REPO)}")


if __name__ == "__main__":
    main()
