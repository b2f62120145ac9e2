"""Benchmark the S3 export: time and peak memory of ApolloSearchToS3Operator against a bare page loop and naive peers.

Apollo is played by ``bench/standin.py`` (default), an independent stand-in written from Apollo's
API reference alone, or by the package's emulator (``--source emulator``); S3 is moto's server.
Both run as their own processes, and every measured variant runs in a fresh subprocess, so
neither the servers' memory nor another variant's is counted. The variants, each exporting every
contact of the search to one S3 object as JSON lines, as a new user would write them:

- ``bare_requests_loop``: the floor: a ``requests`` page loop writing JSON lines to a local file,
  then one boto3 ``upload_file`` of it (no retries, no pacing);
- ``operator_*``: ``ApolloSearchToS3Operator`` with its defaults (the XCom value is the summary;
  ``push_contact_ids`` stays off);
- ``http_operator_load_string``: what users write without this package: an ``HttpOperator`` with a
  ``pagination_function`` returning every contact, then ``S3Hook.load_string`` of them all (the
  XCom round trip between the two tasks is left out, which flatters it);
- ``naive_list_load_string``: this package's hook, every contact in a list, then ``load_string``.

Memory is the growth of the peak RSS (``ru_maxrss``) over the variant's baseline, taken after
imports and a 100-record warm-up run (which loads boto3's service model, opens sessions, etc.), so
what remains is what grows with the number of contacts; with ``--tracemalloc`` a second, untimed
run also reports the peak of Python's own allocations (``tracemalloc``), which threads' arenas and
the allocator's fragmentation do not blur.

Usage: ``.venv/bin/python bench/export_bench.py [--sizes 5000 50000] [--repeat 3] [--tracemalloc]``;
results also go to ``bench/results/export.json``. ``run(sizes)`` returns the same rows for
``bench/run.py``.
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
import tracemalloc
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results" / "export.json"
VENV_BIN = Path(sys.executable).parent
PER_PAGE = 100
WARM_UP_RECORDS = 100
# Who plays Apollo: the independent stand-in (bench/standin.py) or the package's emulator.
SOURCES = ("standin", "emulator")
API_KEYS = {"standin": "standin-key", "emulator": "test-key"}
# The targets: at most 1.5x the bare loop's time, under 48 MiB of memory growth.
TIME_RATIO_TARGET = 1.5
MEMORY_GROWTH_TARGET_MIB = 48

VARIANTS = (
    "bare_requests_loop",
    "operator_jsonl",
    "operator_jsonl_gzip",
    "operator_csv",
    "operator_parquet",
    "http_operator_load_string",
    "naive_list_load_string",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


# --------------------------------------------------------------------------- measured variants (child process)


def _bare_loop(url: str, api_key: str, bucket: str, key: str, limit: int | None) -> int:
    """The floor: a requests page loop writing each contact as a JSON line to a local file, then one upload."""
    with tempfile.TemporaryDirectory() as workdir:
        path = os.path.join(workdir, "contacts.jsonl")
        written = _page_loop(url, api_key, path, limit)
        _s3_client().upload_file(path, bucket, key)
    return written


def _s3_client() -> Any:
    import boto3

    connection = json.loads(os.environ["AIRFLOW_CONN_AWS_DEFAULT"])
    return boto3.client("s3", endpoint_url=connection["extra"]["endpoint_url"], region_name="us-east-1")


def _page_loop(url: str, api_key: str, path: str, limit: int | None) -> int:
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


def _http_operator(bucket: str, key: str, limit: int | None) -> int:
    """
    What users write without this package: ``HttpOperator`` paging with a ``pagination_function``
    (every response kept), a ``response_filter`` returning every contact, then ``S3Hook.load_string``.
    """
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from airflow.providers.http.operators.http import HttpOperator

    def body(page: int) -> str:
        return json.dumps({"page": page, "per_page": PER_PAGE})

    def next_page(response: Any) -> dict[str, Any] | None:
        pagination = response.json()["pagination"]
        page = int(pagination["page"])
        if page >= int(pagination["total_pages"]) or (limit is not None and page * PER_PAGE >= limit):
            return None
        return {"data": body(page + 1)}

    def every_contact(responses: list[Any]) -> list[dict[str, Any]]:
        return [contact for response in responses for contact in response.json()["contacts"]]

    search = HttpOperator(
        task_id="search_contacts",
        http_conn_id="apollo_http",
        endpoint="api/v1/contacts/search",
        method="POST",
        data=body(1),
        headers={"Content-Type": "application/json", "x-api-key": os.environ["BENCH_APOLLO_KEY"]},
        pagination_function=next_page,
        response_filter=every_contact,
    )
    contacts = search.execute({})  # type: ignore[arg-type]
    if limit is not None:
        contacts = contacts[:limit]
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
    # The defaults a new user gets: the XCom value is the summary, push_contact_ids stays off.
    op = ApolloSearchToS3Operator(
        task_id="export",
        s3_bucket=bucket,
        s3_key=key,
        file_format=file_format,
        compression=compression,
        max_records=limit,
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
    suffix = {"operator_csv": ".csv", "operator_parquet": ".parquet", "operator_jsonl_gzip": ".jsonl.gz"}
    key = f"bench/{variant}/{uuid.uuid4().hex}{suffix.get(variant, '.jsonl')}"
    if variant == "bare_requests_loop":
        return _bare_loop(url, api_key, bucket, key, limit)
    if variant == "naive_list_load_string":
        return _naive(bucket, key, limit)
    if variant == "http_operator_load_string":
        return _http_operator(bucket, key, limit)
    return _operator(bucket, key, variant, limit)


def child(variant: str, url: str, api_key: str, bucket: str, heap: bool = False) -> dict[str, Any]:
    """Run one variant: warm up on a few records, then measure the full export (and its heap, untimed)."""
    import logging

    logging.disable(logging.INFO)  # progress lines would cost the operator time the bare loop does not pay
    _run_variant(variant, url, api_key, bucket, WARM_UP_RECORDS)
    baseline = peak_rss_mib()
    started, cpu_started = time.perf_counter(), time.process_time()
    PHASES.clear()
    records = _run_variant(variant, url, api_key, bucket, None)
    seconds = time.perf_counter() - started
    # Every thread's CPU time: less disturbed than wall time by other work on a shared machine.
    cpu_seconds = time.process_time() - cpu_started
    peak = peak_rss_mib()
    phases = dict(PHASES)
    measured: dict[str, Any] = {}
    if heap:
        # A second run, not timed (tracemalloc slows every allocation): Python's own peak.
        tracemalloc.start()
        _run_variant(variant, url, api_key, bucket, None)
        _, heap_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        measured["heap_peak_mib"] = round(heap_peak / 2**20, 1)
    return {
        "variant": variant,
        "records": records,
        "seconds": round(seconds, 3),
        "cpu_seconds": round(cpu_seconds, 3),
        "records_per_second": round(records / seconds),
        "baseline_rss_mib": round(baseline, 1),
        "peak_rss_mib": round(peak, 1),
        "growth_mib": round(peak - baseline, 1),
        **measured,
        **phases,
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


def _measure(variant: str, url: str, bucket: str, env: dict[str, str], heap: bool = False) -> dict[str, Any]:
    """Run ``variant`` in a fresh process; ``variant@baseline`` runs it on the ``BENCH_BASELINE`` checkout."""
    name, _, baseline = variant.partition("@")
    command = [sys.executable, __file__, "--child", name, "--url", url, "--bucket", bucket]
    if baseline:
        # The package from the baseline checkout (ahead of the editable install on sys.path).
        env = {**env, "PYTHONPATH": env["BENCH_BASELINE"]}
    output = subprocess.run(
        [*command, "--tracemalloc"] if heap else command,
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
    row["min_seconds"] = ordered[0]["seconds"]
    row["cpu_seconds"] = sorted(run["cpu_seconds"] for run in runs)[len(runs) // 2]
    row["growth_mib"] = max(run["growth_mib"] for run in runs)
    row["peak_rss_mib"] = max(run["peak_rss_mib"] for run in runs)
    if any("heap_peak_mib" in run for run in runs):
        row["heap_peak_mib"] = max(run.get("heap_peak_mib", 0.0) for run in runs)
    return row


def _apollo(source: str, size: int, env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    """Start who plays Apollo, seeded with ``size`` contacts; the process and its base URL."""
    port = free_port()
    if source == "standin":
        command = [sys.executable, str(REPO / "bench" / "standin.py"), "--port", str(port)]
        command += ["--contacts", str(size), "--api-key", API_KEYS[source]]
    else:
        command = [sys.executable, "-m", "airflow_provider_apollo.testing", "--port", str(port)]
        command += ["--seed", str(size)]
    return _start(command, "listening on", env), f"http://127.0.0.1:{port}/api/v1"


def run(
    sizes: tuple[int, ...] = (5000, 50000),
    variants: tuple[str, ...] = VARIANTS,
    repeat: int = 3,
    source: str = "standin",
    heap: bool = False,
    baseline: str | None = None,
) -> list[dict[str, Any]]:
    """
    Measure every variant for every size; one row per (size, variant), also written to the JSON file.

    Each variant runs ``repeat`` times; a row holds the median time and the largest memory growth.
    ``source`` is who plays Apollo (see :data:`SOURCES`); ``heap`` adds the tracemalloc peak.
    ``baseline``, a checkout of another version of the package (``git worktree add``, or ``git
    archive`` unpacked), adds each ``operator_*`` variant run on it as ``<variant>@baseline``, in
    the same rounds, so a change is measured against the code it replaces under the same load.
    """
    if baseline is not None:
        variants = (*variants, *(f"{v}@baseline" for v in variants if v.startswith("operator_")))
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
        api_key = API_KEYS[source]
        for size in sizes:
            apollo, url = _apollo(source, size, env)
            try:
                variant_env = {
                    **env,
                    "BENCH_BASELINE": str(Path(baseline).resolve()) if baseline else "",
                    "BENCH_APOLLO_KEY": api_key,
                    "AIRFLOW_CONN_APOLLO_DEFAULT": json.dumps(
                        {"conn_type": "apollo", "password": api_key, "host": url}
                    ),
                    # The HttpOperator peer's connection: the same server, as a plain HTTP connection.
                    "AIRFLOW_CONN_APOLLO_HTTP": json.dumps(
                        {
                            "conn_type": "http",
                            "host": "127.0.0.1",
                            "port": int(url.split(":")[2].split("/")[0]),
                        }
                    ),
                }
                runs: dict[str, list[dict[str, Any]]] = {variant: [] for variant in variants}
                # Rounds interleave the variants, so a burst of load on the machine hits all of them.
                for round_number in range(repeat):
                    for variant in variants:
                        # The heap peak does not vary between runs: measured once (tracemalloc is slow).
                        heap_now = heap and round_number == 0
                        runs[variant].append(_measure(variant, url, bucket, variant_env, heap_now))
                for variant in variants:
                    row = _summarise(runs[variant])
                    row["variant"], row["size"] = variant, size
                    rows.append(row)
                    print(
                        f"  {size:>6} {variant:<33} {row['seconds']:>7.2f} s  "
                        f"{row['records_per_second']:>6}/s  +{row['growth_mib']:.1f} MiB",
                        file=sys.stderr,
                        flush=True,
                    )
            finally:
                _stop(apollo)
    finally:
        moto.terminate()
        moto.wait(timeout=10)
    for row in rows:
        bare = next(r for r in rows if r["size"] == row["size"] and r["variant"] == "bare_requests_loop")
        row["time_vs_bare"] = round(row["seconds"] / bare["seconds"], 2)
        row["min_time_vs_bare"] = round(row["min_seconds"] / bare["min_seconds"], 2)
        row["cpu_vs_bare"] = round(row["cpu_seconds"] / bare["cpu_seconds"], 2)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "benchmark": "export",
                "source": source,
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
    """Median and best wall time, median CPU time, each against the bare loop's; memory growth."""
    header = (
        f"{'contacts':>8}  {'variant':<33} {'median s':>8} {'x bare':>6} {'best s':>7} {'x bare':>6} "
        f"{'cpu s':>6} {'x bare':>6} {'RSS growth':>11} {'heap peak':>10}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        heap = f"{row['heap_peak_mib']:>6.1f} MiB" if "heap_peak_mib" in row else f"{'-':>10}"
        print(
            f"{row['size']:>8}  {row['variant']:<33} {row['seconds']:>8.2f} {row['time_vs_bare']:>6.2f} "
            f"{row['min_seconds']:>7.2f} {row['min_time_vs_bare']:>6.2f} {row['cpu_seconds']:>6.2f} "
            f"{row['cpu_vs_bare']:>6.2f} {row['growth_mib']:>7.1f} MiB {heap}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[5000, 50000])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument(
        "--baseline",
        help="a checkout of another version: its operator variants run too, as <variant>@baseline",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per variant; the median time is reported")
    parser.add_argument("--source", choices=SOURCES, default="standin", help="who plays Apollo")
    parser.add_argument(
        "--tracemalloc",
        action="store_true",
        help="also report each variant's Python heap peak (an untimed run)",
    )
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--bucket", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        # The operator reports its phase timings in an INFO event, which the benchmark reads.
        os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "INFO"
        api_key = os.environ.get("BENCH_APOLLO_KEY", API_KEYS["emulator"])
        print(json.dumps(child(args.child, args.url, api_key, args.bucket, args.tracemalloc)))
        return
    rows = run(
        tuple(args.sizes), tuple(args.variants), args.repeat, args.source, args.tracemalloc, args.baseline
    )
    print_table(rows)
    print(f"\nwritten to {RESULTS.relative_to(REPO)}")


if __name__ == "__main__":
    main()
