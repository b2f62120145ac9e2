"""`make bench`: the provider's speed, memory, rate-limit behaviour, call count and parse cost, each against a reference."""

from __future__ import annotations

import argparse
import json
import math
import re
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

# bench/ is a folder of scripts, not a package: its helpers are imported from next to this file.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    REPO,
    create_bucket,
    emulator_process,
    format_table,
    machine_info,
    prepare_environment,
    result,
    s3_server,
    task_context,
    use_apollo_connection,
)

prepare_environment()

RESULTS_PATH = REPO / "bench" / "results" / "latest.json"
DOCS_PATH = REPO / "docs" / "performance.md"
DOCS_START = "<!-- bench-results:start -->"
DOCS_END = "<!-- bench-results:end -->"
SECTIONS = ("export", "latency", "rate", "economy", "parse")
EMULATED_MINUTE = 60.0
SEARCH_PAGE_SIZE = 100
PARSE_TARGET_MS = 50.0
# Modules a DAG file must not pull in just by importing the provider (seconds of import, or MiBs).
HEAVY_MODULES = (
    "boto3",
    "botocore",
    "pyarrow",
    "aiohttp",
    "airflow.providers.amazon.aws.hooks.s3",
    "moto",
    "tenacity",
    "requests",
)


EXPORT_REFERENCE = "bare_requests_loop"
EXPORT_VARIANTS = (
    "bare_requests_loop",
    "operator_jsonl",
    "operator_csv",
    "operator_parquet",
    "naive_list_load_string",
)


@dataclass(frozen=True)
class Plan:
    """The sizes of one run: ``FULL`` for ``make bench``, ``QUICK`` for the smoke test."""

    export_sizes: tuple[int, ...]
    export_variants: tuple[str, ...]
    latency: float
    latency_pages: int
    latency_limit: int
    latency_window: float
    concurrencies: tuple[int, ...]
    rate_calls: int
    rate_limit: int
    rate_window: float
    economy_contacts: int
    parse_runs: int


FULL = Plan(
    export_sizes=(5_000, 50_000),
    export_variants=EXPORT_VARIANTS,
    latency=0.1,
    latency_pages=60,
    latency_limit=20,
    latency_window=2.0,
    concurrencies=(1, 2, 4, 8),
    rate_calls=1_000,
    rate_limit=50,
    rate_window=1.0,
    economy_contacts=10_000,
    parse_runs=7,
)
QUICK = Plan(
    export_sizes=(200, 1_000),
    export_variants=(EXPORT_REFERENCE, "operator_jsonl", "naive_list_load_string"),
    latency=0.05,
    latency_pages=6,
    latency_limit=4,
    latency_window=0.5,
    concurrencies=(1, 4),
    rate_calls=30,
    rate_limit=10,
    rate_window=0.3,
    economy_contacts=300,
    parse_runs=1,
)


# --------------------------------------------------------------------------- 1. export


def bench_export(plan: Plan) -> list[dict[str, Any]]:
    """Wall time and peak memory of the export operator vs a bare page loop and the usual hand-written DAG."""
    import export_bench  # bench/export_bench.py, written alongside the transfer operator

    # A fresh emulator answers its first export seconds slower (its search index is cold), which
    # would charge the first variant measured: a first, discarded pass of the bare loop warms it.
    measured = export_bench.run(sizes=plan.export_sizes, variants=(EXPORT_REFERENCE, *plan.export_variants))
    warm: list[dict[str, Any]] = []
    seen_sizes: set[int] = set()
    for row in measured:
        if row["size"] in seen_sizes:
            warm.append(row)
        seen_sizes.add(row["size"])
    return export_rows(warm, plan.export_sizes)


def export_rows(measured: Sequence[dict[str, Any]], sizes: Sequence[int]) -> list[dict[str, Any]]:
    """
    The table's rows from ``export_bench.run``: time against the bare loop at the same size, and
    peak memory at the largest size against the same variant's at the smallest (flat is 1.0).
    """
    by_key = {(row["variant"], row["size"]): row for row in measured}
    variants = list(dict.fromkeys(row["variant"] for row in measured))
    rows: list[dict[str, Any]] = []
    for size in sizes:
        bare = by_key[(EXPORT_REFERENCE, size)]
        for variant in variants:
            row = by_key[(variant, size)]
            _expect(row["records"] == size, f"{variant} exported {row['records']} of {size} contacts")
            if variant == EXPORT_REFERENCE:
                continue
            rows.append(
                result(
                    "1 export",
                    f"{variant} {size:,}: time",
                    row["seconds"],
                    "s",
                    reference=bare["seconds"],
                    reference_label="bare loop",
                    note=f"{row['records_per_second']:,} contacts/s",
                    variant=variant,
                    size=size,
                )
            )
    smallest, largest = min(sizes), max(sizes)
    for variant in variants:
        small, large = by_key[(variant, smallest)], by_key[(variant, largest)]
        rows.append(
            result(
                "1 export",
                f"{variant} {largest:,}: peak RSS",
                large["peak_rss_mib"],
                "MiB",
                reference=small["peak_rss_mib"],
                reference_label=f"at {smallest:,}",
                note=f"growth over warm baseline +{small['growth_mib']:.1f} / +{large['growth_mib']:.1f} MiB",
                variant=variant,
                size=largest,
                growth_mib=large["growth_mib"],
            )
        )
    return rows


# --------------------------------------------------------------------------- 2. latency


def latency_bound(pages: int, latency: float, concurrency: int, limit: int, window: float) -> float:
    """
    The fastest any client could read ``pages`` pages: latency-bound or rate-bound, whichever is slower.

    With ``concurrency`` requests in flight, ``pages`` answers take ``ceil(pages / concurrency)``
    latencies. Apollo's windows are fixed and open on the first request, so the last of
    ``ceil(pages / limit)`` windows cannot open before ``(windows - 1) x window``, and the pages
    left for it take their own latencies. (``pages / rate`` is no bound for fixed windows: a
    burst at the start of each window beats it.)
    """
    by_latency = math.ceil(pages / concurrency) * latency
    windows = math.ceil(pages / limit)
    last_window_pages = pages - (windows - 1) * limit
    by_rate = (windows - 1) * window + math.ceil(last_window_pages / concurrency) * latency
    return max(by_latency, by_rate)


def bench_latency(plan: Plan) -> list[dict[str, Any]]:
    """Search export time under 100 ms latency and a binding per-minute limit, vs the physical bound."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    from airflow_provider_apollo.hooks.apollo import ApolloHook
    from airflow_provider_apollo.transfers.apollo_to_s3 import ApolloSearchToS3Operator

    pages, limit, window = plan.latency_pages, plan.latency_limit, plan.latency_window
    contacts = pages * SEARCH_PAGE_SIZE
    windows = math.ceil(pages / limit)
    setting = (
        f"{contacts:,} contacts = {pages} pages, {plan.latency * 1000:.0f} ms latency, "
        f"{limit} req per {window:g} s window"
    )
    rows: list[dict[str, Any]] = []

    def record(case: str, concurrency: int, elapsed: float, rate_limited: int, requests: int) -> None:
        bound = latency_bound(pages, plan.latency, concurrency, limit, window)
        rows.append(
            result(
                "2 latency",
                f"{case} c={concurrency}",
                elapsed,
                "s",
                reference=bound,
                reference_label="bound",
                note=f"{rate_limited} x 429 in {windows} windows{per_window_verdict(rate_limited, windows)}; "
                f"{requests} requests",
                concurrency=concurrency,
                rate_limited=rate_limited,
                windows=windows,
                setting=setting,
            )
        )

    with (
        emulator_process(
            seed=contacts,
            latency=plan.latency,
            rate_limit_minute=limit,
            time_scale=window / EMULATED_MINUTE,
        ) as url,
        s3_server() as endpoint,
    ):
        use_apollo_connection(url)
        bucket = create_bucket(endpoint, "bench-latency")
        # boto3 and the Amazon provider load on first use: once, before any timing.
        S3Hook().get_conn()
        for concurrency in plan.concurrencies:
            # The server's window from the previous run must close, or this run starts with less quota.
            time.sleep(window)
            hook = ApolloHook()
            started = time.perf_counter()
            read = sum(1 for _ in hook.search_contacts(concurrency=concurrency))
            elapsed = time.perf_counter() - started
            _expect(read == contacts, f"the hook read {read} contacts, expected {contacts}")
            record("hook search_contacts", concurrency, elapsed, hook.stats.rate_limited, hook.request_count)
        for concurrency in plan.concurrencies:
            time.sleep(window)
            operator = ApolloSearchToS3Operator(
                task_id=f"export_c{concurrency}",
                s3_bucket=bucket,
                s3_key=f"latency/c{concurrency}.jsonl",
                concurrency=concurrency,
                push_contact_ids=False,
            )
            context = task_context()
            started = time.perf_counter()
            operator.execute(context)
            elapsed = time.perf_counter() - started
            exported = context["ti"].pushed["record_count"]
            _expect(exported == contacts, f"the operator exported {exported} contacts, expected {contacts}")
            record(
                "ApolloSearchToS3Operator",
                concurrency,
                elapsed,
                operator.hook.stats.rate_limited,
                operator.hook.request_count,
            )
    return rows


# --------------------------------------------------------------------------- 3. rate limits


def bench_rate_limits(plan: Plan) -> list[dict[str, Any]]:
    """Many single-contact stage updates under a tight window: total time vs the fixed-window minimum."""
    from airflow_provider_apollo.hooks.apollo import ApolloHook

    calls, limit, window = plan.rate_calls, plan.rate_limit, plan.rate_window
    windows = math.ceil(calls / limit)
    minimum = (windows - 1) * window
    with emulator_process(seed=calls, rate_limit_minute=limit, time_scale=window / EMULATED_MINUTE) as url:
        use_apollo_connection(url)
        setup = ApolloHook()
        # Search and stage list count against their own endpoints' windows, not update_stages'.
        contact_ids = [contact["id"] for contact in setup.search_contacts()]
        stage_id = setup.resolve_contact_stage_id("Approaching")
        _expect(len(contact_ids) == calls, f"seeded {calls} contacts, found {len(contact_ids)}")
        hook = ApolloHook()
        hook.list_contact_stages()  # fetched once per hook; not part of the timed updates
        started = time.perf_counter()
        for contact_id in contact_ids:
            hook.update_contact_stages([contact_id], stage_id)
        elapsed = time.perf_counter() - started
        moved = setup.count_contacts({"contact_stage_ids": [stage_id]})
        _expect(moved == calls, f"{moved} of {calls} contacts reached the stage")
    rate_limited = hook.stats.rate_limited
    return [
        result(
            "3 rate limits",
            f"{calls:,} update_stages calls, 1 id each",
            elapsed,
            "s",
            reference=minimum,
            reference_label="(windows-1) x window",
            note=f"{rate_limited} x 429 in {windows} windows of {limit} per {window:g} s"
            f"{per_window_verdict(rate_limited, windows)}",
            rate_limited=rate_limited,
            windows=windows,
            requests=hook.request_count,
        )
    ]


# --------------------------------------------------------------------------- 4. call economy


def bench_call_economy(plan: Plan) -> list[dict[str, Any]]:
    """API calls the operators and the sensor spend on n contacts, counted by the emulator, vs one per contact."""
    from airflow_provider_apollo.operators.contacts import (
        ApolloCreateContactOperator,
        ApolloUpdateStagesOperator,
    )
    from airflow_provider_apollo.sensors.contact_stage import ApolloContactStageSensor
    from airflow_provider_apollo.testing import ApolloEmulator

    n = plan.economy_contacts
    rows: list[dict[str, Any]] = []

    def counted(emulator: ApolloEmulator, case: str, action: Callable[[], Any]) -> Any:
        before = emulator.request_count()
        value = action()
        calls = emulator.request_count() - before
        rows.append(
            result(
                "4 call economy",
                case,
                calls,
                "calls",
                reference=n,
                reference_label="1 per contact",
                note=f"{n:,} contacts",
                calls=calls,
            )
        )
        return value

    contacts = [
        {
            "first_name": f"Bench{index}",
            "last_name": "Contact",
            "email": f"bench{index}@example.com",
            "organization_name": "Bench Inc",
        }
        for index in range(n)
    ]
    with ApolloEmulator() as emulator:
        use_apollo_connection(emulator.url, emulator.api_key)
        create = ApolloCreateContactOperator(task_id="create", contacts=contacts)
        contact_ids = counted(emulator, "create (bulk_create)", lambda: create.execute(task_context()))
        _expect(len(contact_ids) == n and emulator.contact_count == n, "bulk create lost contacts")
        update = ApolloUpdateStagesOperator(
            task_id="stage", contact_ids=contact_ids, contact_stage="Approaching"
        )
        updated = counted(emulator, "update stages", lambda: update.execute(task_context()))
        _expect(len(updated) == n, f"{len(updated)} of {n} stages updated")
        emulator.set_contact_stage(contact_ids[: n // 2], "Replied")
        sensor = ApolloContactStageSensor(task_id="wait", contact_ids=contact_ids, target_stages=["Replied"])
        poke = counted(emulator, "sensor poke, half replied", lambda: sensor.poke(task_context()))
        _expect(not poke.is_done and len(poke.xcom_value) == n // 2, "the sensor miscounted replies")
        emulator.set_contact_stage(contact_ids, "Replied")
        sensor = ApolloContactStageSensor(
            task_id="wait_all", contact_ids=contact_ids, target_stages=["Replied"]
        )
        poke = counted(emulator, "sensor poke, all replied", lambda: sensor.poke(task_context()))
        _expect(poke.is_done and len(poke.xcom_value) == n, "the sensor missed replies")
    return rows


# --------------------------------------------------------------------------- 5. parse cost

PARSE_SCRIPT = """
import json, sys, time
started = time.perf_counter()

def peak_rss_mib():
    # VmHWM starts afresh at exec; ru_maxrss would carry over the parent's peak.
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0

import pendulum
import airflow.sdk
from airflow.providers.common.compat.sdk import BaseOperator
from airflow.sdk import DAG

class Step(BaseOperator):
    def execute(self, context):
        return None

with DAG("parse_cost", schedule=None, start_date=pendulum.datetime(2024, 1, 1), catchup=False) as dag:
    first = Step(task_id="first")
    second = Step(task_id="second")
    first >> second
airflow_done = time.perf_counter()
airflow_rss = peak_rss_mib()
{provider_block}
finished = time.perf_counter()
print(json.dumps({{
    "ms": (finished - started) * 1000,
    "provider_ms": (finished - airflow_done) * 1000,
    "rss_mib": peak_rss_mib(),
    "provider_rss_mib": peak_rss_mib() - airflow_rss,
    "heavy": [name for name in {heavy!r} if name in sys.modules],
}}))
"""
# Imported after Airflow's own imports, as in a DAG file: the time between is what the provider adds.
PROVIDER_BLOCK = """
from airflow_provider_apollo.operators.contacts import ApolloCreateContactOperator
from airflow_provider_apollo.sensors.contact_stage import ApolloContactStageSensor
from airflow_provider_apollo.transfers.apollo_to_s3 import ApolloSearchToS3Operator

with dag:
    create = ApolloCreateContactOperator(task_id="create", contacts=[{"first_name": "Ada", "email": "a@x.io"}])
    wait = ApolloContactStageSensor(task_id="wait", contact_ids=create.output, target_stages=["Replied"])
    export = ApolloSearchToS3Operator(task_id="export", s3_bucket="bucket", s3_key="contacts.jsonl")
    second >> create >> wait >> export
"""


def parse_script(with_provider: bool) -> str:
    return PARSE_SCRIPT.format(provider_block=PROVIDER_BLOCK if with_provider else "", heavy=HEAVY_MODULES)


def run_parse_script(with_provider: bool, *flags: str) -> subprocess.CompletedProcess[str]:
    completed = subprocess.run(
        [sys.executable, *flags, "-c", parse_script(with_provider)],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"the parse-cost script failed:\n{completed.stderr[-3000:]}")
    return completed


def import_times(with_provider: bool) -> dict[str, float]:
    """Self import time (ms) per module from ``python -X importtime``."""
    stderr = run_parse_script(with_provider, "-X", "importtime").stderr
    times: dict[str, float] = {}
    for line in stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)", line)
        if match:
            times[match.group(4)] = int(match.group(1)) / 1000
    return times


def module_group(name: str) -> str:
    parts = name.split(".")
    if parts[0] == "airflow" and len(parts) > 2 and parts[1] == "providers":
        return ".".join(parts[:4])
    if parts[0] == "airflow_provider_apollo":
        return ".".join(parts[:2])
    return parts[0]


def bench_parse_cost(plan: Plan) -> list[dict[str, Any]]:
    """What importing and constructing the provider's tasks adds to parsing a DAG file."""
    samples: dict[bool, list[dict[str, Any]]] = {False: [], True: []}
    for with_provider in (False, True):
        run_parse_script(with_provider)  # fills the bytecode cache (see prepare_environment); not measured
    # Alternate the two so drift on a shared machine hits both alike.
    for _ in range(plan.parse_runs):
        for with_provider in (False, True):
            output = run_parse_script(with_provider).stdout.strip().splitlines()[-1]
            samples[with_provider].append(json.loads(output))

    def median(with_provider: bool, key: str) -> float:
        return float(statistics.median(sample[key] for sample in samples[with_provider]))

    base_ms, full_ms = median(False, "ms"), median(True, "ms")
    base_rss, full_rss = median(False, "rss_mib"), median(True, "rss_mib")
    provider_ms, provider_rss = median(True, "provider_ms"), median(True, "provider_rss_mib")
    heavy = sorted(set(samples[True][-1]["heavy"]) - set(samples[False][-1]["heavy"]))

    # Which modules the provider's imports add, grouped by package, heaviest first.
    before, after = import_times(False), import_times(True)
    added: dict[str, float] = defaultdict(float)
    for name, self_ms in after.items():
        if name not in before:
            added[module_group(name)] += self_ms
    top = sorted(added.items(), key=lambda item: -item[1])[:6]
    verdict = "within" if provider_ms <= PARSE_TARGET_MS else "OVER"
    runs = f"median of {plan.parse_runs}"
    return [
        result(
            "5 parse cost",
            "DAG file: Airflow + provider tasks",
            full_ms,
            "ms",
            reference=base_ms,
            reference_label="Airflow tasks only",
            note=f"difference {full_ms - base_ms:+.0f} ms, separate processes; {runs}",
            difference_ms=full_ms - base_ms,
        ),
        result(
            "5 parse cost",
            "provider imports + 3 tasks, same process",
            provider_ms,
            "ms",
            reference=base_ms,
            reference_label="Airflow's own parse",
            note=f"{verdict} the {PARSE_TARGET_MS:.0f} ms target; {runs}",
            target_ms=PARSE_TARGET_MS,
        ),
        result(
            "5 parse cost",
            "DAG file RSS: Airflow + provider tasks",
            full_rss,
            "MiB",
            reference=base_rss,
            reference_label="Airflow tasks only",
            note=f"+{provider_rss:.1f} MiB in process; adds modules: {', '.join(heavy) or 'none heavy'}",
            provider_rss_mib=provider_rss,
            heavy_modules_added=heavy,
        ),
        result(
            "5 parse cost",
            "modules the provider adds (-X importtime)",
            sum(added.values()),
            "ms",
            note=", ".join(f"{name} {ms:.0f}" for name, ms in top),
            added_import_ms=dict(top),
        ),
    ]


# --------------------------------------------------------------------------- driver

BENCHES: dict[str, Callable[[Plan], list[dict[str, Any]]]] = {
    "export": bench_export,
    "latency": bench_latency,
    "rate": bench_rate_limits,
    "economy": bench_call_economy,
    "parse": bench_parse_cost,
}


def per_window_verdict(rate_limited: int, windows: int) -> str:
    """The target is at most one 429 a window: flag a run that met more."""
    return "" if rate_limited <= windows else " (OVER 1 a window)"


def _expect(condition: bool, message: str) -> None:
    """A benchmark that did not do the work it timed must fail, not report a fast time."""
    if not condition:
        raise RuntimeError(message)


def write_docs(table: str, report: dict[str, Any]) -> None:
    """Put the table and the machine it ran on between the markers in docs/performance.md."""
    machine = report["machine"]
    block = "\n".join(
        [
            DOCS_START,
            f"Measured {report['finished_at'][:10]} with `{report['command']}` "
            f"(total {report['total_seconds']:.0f} s) on {machine['nproc']} cores of "
            f"{machine['cpu_model']}, {machine['ram_gib']} GiB RAM, Python {machine['python']}, "
            f"Apache Airflow {machine['airflow']}, Amazon provider {machine['amazon_provider']}.",
            "",
            "```text",
            table,
            "```",
            DOCS_END,
        ]
    )
    text = DOCS_PATH.read_text()
    start, end = text.find(DOCS_START), text.find(DOCS_END)
    if start < 0 or end < 0:
        raise RuntimeError(f"{DOCS_PATH} lacks the {DOCS_START} / {DOCS_END} markers")
    DOCS_PATH.write_text(text[:start] + block + text[end + len(DOCS_END) :])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes: checks the harness, not performance"
    )
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated subset of {SECTIONS}")
    parser.add_argument("--output", type=Path, default=RESULTS_PATH, help="where to write the JSON")
    parser.add_argument("--no-docs", action="store_true", help="do not update docs/performance.md")
    args = parser.parse_args(argv)
    sections = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        parser.error(f"--only: unknown sections {unknown}; choose from {', '.join(SECTIONS)}")
    plan = QUICK if args.quick else FULL

    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    timings: dict[str, float] = {}
    for name in sections:
        section_started = time.perf_counter()
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        rows.extend(BENCHES[name](plan))
        timings[name] = time.perf_counter() - section_started
    total = time.perf_counter() - started
    table = format_table(rows)
    print(table)
    print(f"\nTotal {total:.0f} s ({', '.join(f'{name} {s:.0f} s' for name, s in timings.items())})")

    report = {
        "command": "make bench" if not args.quick else "python bench/run.py --quick",
        "quick": args.quick,
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "total_seconds": total,
        "section_seconds": timings,
        "machine": machine_info(),
        "rows": rows,
        "table": table,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2, default=str) + "\n")
    # Tiny sizes say nothing about performance; and a partial run must not replace the full table.
    if not args.quick and not args.no_docs and sections == list(SECTIONS):
        write_docs(table, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
