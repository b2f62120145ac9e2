"""`make demo`: run the example outreach DAG end to end on loopback (Apollo emulator + local S3) and summarise.

Starts the Apollo emulator (500 seeded contacts and its default team: users, mailboxes, sequences,
lists, custom fields) on a fast clock, so a sequence step lasts 1.5 s and prospects reply within
seconds; starts moto's S3 server; points ``apollo_default`` and ``aws_default`` at them through
``AIRFLOW_CONN_*`` variables; runs ``example_dags/apollo_outreach_pipeline.py`` with ``dag.test()``
on the local SQLite metadata DB (the deferred sensor's trigger runs inline); and prints what each
step did. Nothing leaves the machine. Exit code 0 only when the DAG run succeeded.

Before the run, one of the DAG's prospects (Rahul) is already in another sequence, as happens in a
real team: Apollo declines to enroll him, and the summary shows that reason next to the other one
(a contact without an email address).

It lives in the repository, not in the installed package: it runs the repository's example DAGs.
Run it with ``make demo`` (or ``.venv/bin/python demo/run_demo.py``) from a checkout.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import sys
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_DAGS = REPO / "example_dags"
DAG_ID = "apollo_outreach_pipeline"
DAG_FILE = "apollo_outreach_pipeline"
BUCKET = "apollo-demo-exports"
SEED_CONTACTS = 500
# A fast clock: one emulated second lasts 0.1 s, so a "minute" of rate limit lasts 6 s and a
# sequence step of 30 emulated seconds lasts 3 s (prospects reply after one to four steps).
TIME_SCALE = 0.1
SEQUENCE_STEP_SECONDS = 30.0
SEQUENCE_REPLY_FRACTION = 0.5
# Every replier answers the first email, so their replies arrive together; Apollo's classes are
# handed out in turn, so each branch of the DAG's routing has someone to route.
SEQUENCE_REPLY_STEP = 1
SEQUENCE_REPLY_CLASSES = (
    "willing_to_meet",
    "not_interested",
    "out_of_office",
    "follow_up_question",
    "unsubscribe",
)
SEQUENCE_BOUNCE_FRACTION = 0.1
# A small per-minute quota: the run meets real 429s with retry-after and shows the hooks waiting
# them out when a step needs more calls than that, without making the demo slow.
RATE_LIMIT_PER_MINUTE = 12
# The deferred sensor checks the sequence every second (the DAG's default is 10 minutes).
REPLY_CHECK_SECONDS = "1"
# The prospect who is already in another sequence when the run starts.
BUSY_PROSPECT_EMAIL = "rahul.menon@tessellate.io"
OTHER_SEQUENCE = "Inbound demo follow-up"
OTHER_MAILBOX = "grace.hopper@emulated-team.example"
PREVIEW_LINES = 2
PREVIEW_WIDTH = 160
MOTO_START_TIMEOUT = 30.0


@dataclass
class DemoResult:
    """What the run did, read back from XCom, S3 and the emulator."""

    state: str
    params: dict[str, Any] = field(default_factory=dict)
    xcom: dict[str, Any] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    already_there: int = 0
    fields_set: int = 0
    on_list: int = 0
    final_statuses: Counter[str] = field(default_factory=Counter)
    s3_uri: str | None = None
    s3_lines: list[str] = field(default_factory=list)
    s3_bytes: int = 0
    api_calls: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    calls_by_endpoint: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def prepare_environment() -> None:
    """Settings that must be in place before Airflow is imported: home, DAGs folder, no real AWS."""
    if not EXAMPLE_DAGS.is_dir():
        raise SystemExit(
            f"{EXAMPLE_DAGS} not found: `make demo` runs from a checkout of the repository, "
            "where example_dags/ sits next to demo/."
        )
    os.environ.setdefault("AIRFLOW_HOME", str(REPO / "airflow-home"))
    # dag.test() runs only a DAG the bundle of the configured DAGs folder can find.
    os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(EXAMPLE_DAGS)
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "False")
    os.environ["APOLLO_OUTREACH_CHECK_SECONDS"] = REPLY_CHECK_SECONDS
    # moto accepts any credentials; these keep boto3 from looking for a real AWS profile.
    os.environ["AWS_ACCESS_KEY_ID"] = "demo"
    os.environ["AWS_SECRET_ACCESS_KEY"] = "demo"
    os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)


def start_s3(stack: ExitStack) -> str:
    """moto's S3 server on a free loopback port, stopped when ``stack`` closes."""
    from moto.server import ThreadedMotoServer

    # The server's access log would interleave with the DAG's output.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    stack.callback(server.stop)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + MOTO_START_TIMEOUT
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return endpoint
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"moto's S3 server did not start on {endpoint}") from None
            time.sleep(0.1)


def connect(emulator_url: str, api_key: str, s3_endpoint: str) -> None:
    """Point Airflow's connections and the bucket Variable at the local services, through the environment."""
    os.environ["AIRFLOW_CONN_APOLLO_DEFAULT"] = json.dumps(
        {"conn_type": "apollo", "password": api_key, "host": emulator_url}
    )
    os.environ["AIRFLOW_CONN_AWS_DEFAULT"] = json.dumps(
        {
            "conn_type": "aws",
            "login": "demo-access-key",
            "password": "demo-secret-key",
            "extra": {"endpoint_url": s3_endpoint, "region_name": "us-east-1"},
        }
    )
    os.environ["AIRFLOW_VAR_APOLLO_S3_BUCKET"] = BUCKET


def load_dag() -> Any:
    """The example DAG, from the DAGs folder."""
    from airflow.dag_processing.dagbag import DagBag

    # Only the outreach file: another example DAG that fails to import does not stop the demo.
    dagbag = DagBag(dag_folder=str(EXAMPLE_DAGS / f"{DAG_FILE}.py"))
    if dagbag.import_errors:
        raise SystemExit(f"The example DAG failed to import: {dagbag.import_errors}")
    dag = dagbag.get_dag(DAG_ID)
    if dag is None:
        raise SystemExit(f"{DAG_ID} not found in {EXAMPLE_DAGS}")
    return dag


def put_prospect_in_another_sequence() -> str:
    """Rahul is already in another sequence (paused there) when the campaign starts; returns his id."""
    from airflow_provider_apollo.hooks.apollo import ApolloHook

    hook = ApolloHook()
    rahul = hook.create_contact(
        {"first_name": "Rahul", "last_name": "Menon", "email": BUSY_PROSPECT_EMAIL}, run_dedupe=True
    )
    sequence = hook.find_sequence(OTHER_SEQUENCE)
    mailbox = hook.resolve_mailbox(OTHER_MAILBOX)
    hook.add_to_sequence(sequence.id, [rahul["id"]], mailbox=mailbox.id, status="paused")
    return str(rahul["id"])


def read_xcoms(dag_run: Any) -> dict[str, Any]:
    """Every XCom the run pushed, as ``{"task_id": value, "task_id.key": value}``."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    values: dict[str, Any] = {}
    with create_session() as session:
        rows: list[Any] = list(session.scalars(XComModel.get_many(run_id=dag_run.run_id, dag_ids=DAG_ID)))
        for row in rows:
            name = row.task_id if row.key == "return_value" else f"{row.task_id}.{row.key}"
            values[name] = XComModel.deserialize_value(row)
    return values


def read_s3(endpoint: str, uri: str) -> tuple[list[str], int]:
    """The first lines of the exported object and its size."""
    import boto3

    bucket, _, key = uri.removeprefix("s3://").partition("/")
    body = boto3.client("s3", endpoint_url=endpoint).get_object(Bucket=bucket, Key=key)["Body"].read()
    lines = body.decode("utf-8").splitlines()[:PREVIEW_LINES]
    return lines, len(body)


def endpoint_of(path: str) -> str:
    """Group recorded request paths by endpoint: ids (24 hex characters) become ``{id}``."""
    parts = path.split("?")[0].split("/")
    return "/".join("{id}" if len(part) == 24 and part.isalnum() else part for part in parts)


def sequence_status(membership: dict[str, Any] | None) -> str:
    """One membership's documented status (replies are on the emails, not the membership)."""
    if membership is None:
        return "not in the sequence"
    return str(membership.get("status"))


def counts_text(counter: Counter[str] | dict[str, int]) -> str:
    return ", ".join(f"{name} {count}" for name, count in sorted(counter.items())) or "none"


def summarise(result: DemoResult) -> str:
    created = result.xcom.get("create_contacts") or []
    listed = result.xcom.get("add_to_list") or []
    enrolled = result.xcom.get("enroll") or []
    skipped: dict[str, str] = result.xcom.get("enroll.skipped_contacts") or {}
    reached: dict[str, Any] = result.xcom.get("wait_for_replies") or {}
    by_class: dict[str, list[str]] = reached.get("reply_classes") or {}
    interested = result.xcom.get("move_interested") or []
    owned = result.xcom.get("assign_owner") or []
    uninterested = result.xcom.get("move_not_interested") or []
    stopped = result.xcom.get("stop_outreach") or []
    # The export returns a summary; its count is also pushed as the XCom key record_count.
    exported = result.xcom.get("export_responders.record_count") or 0
    params = result.params

    def row(label: str, value: object, note: str = "") -> str:
        return f"  {label:<44}{value!s:>4}" + (f"  {note}" if note else "")

    lines = [
        "",
        "=" * 86,
        f"Apollo outreach demo: DAG run {result.state.upper()} in {result.seconds:.1f} s",
        "=" * 86,
        row(
            "1 contacts created (bulk, deduped)",
            len(created),
            f"{result.fields_set} new, custom fields by label and picklists by text; "
            f"{result.already_there} already in Apollo",
        ),
        row(f"2 added to list {params.get('list_name')!r}", len(listed), f"{result.on_list} on it in Apollo"),
        row(
            f"3 enrolled in {params.get('sequence')!r}",
            len(enrolled),
            f"sending from {params.get('mailbox')}",
        ),
        row("  skipped by Apollo", len(skipped)),
    ]
    for contact_id, reason in sorted(skipped.items(), key=lambda item: result.names.get(item[0], "")):
        lines.append(f"      {result.names.get(contact_id, contact_id):<20} {reason}")
    lines += [
        row(
            "4 replied when the sensor fired",
            len(reached.get("replied", [])),
            "deferred, require='any'; read from the sequence's emails",
        ),
    ]
    for name, ids in by_class.items():
        if ids:
            people = ", ".join(sorted(result.names.get(i, i) for i in ids))
            lines.append(f"      {name:<40}{len(ids):>4}  {people}")
    lines += [
        f"  {'  sequence statuses at the end of the run':<48}  {counts_text(result.final_statuses)}",
        row(
            "5 interested: moved to stage 'Interested'",
            len(interested),
            "willing_to_meet, follow_up_question",
        ),
        row("  assigned to the owner", len(owned), f"{params.get('owner')}, given by email"),
        row("6 not interested: stage 'Not Interested'", len(uninterested), "not_interested, unsubscribe"),
        row("  removed from the sequence", len(stopped)),
        row("7 out of office: left alone", len(by_class.get("out_of_office", []))),
        row("8 interested exported to S3", exported),
    ]
    if result.s3_uri:
        lines.append(f"      {result.s3_uri} ({result.s3_bytes:,} bytes)")
        for line in result.s3_lines:
            preview = line if len(line) <= PREVIEW_WIDTH else line[: PREVIEW_WIDTH - 3] + "..."
            lines.append(f"      {preview}")
    status_text = ", ".join(f"{status}: {count}" for status, count in sorted(result.statuses.items()))
    lines.append(row("Apollo API calls by the run", result.api_calls, f"HTTP status {status_text}"))
    for endpoint, count in result.calls_by_endpoint.most_common():
        lines.append(f"      {count:4d}  {endpoint}")
    lines.append(
        row(
            "429 rate-limit answers met",
            result.statuses.get(429, 0),
            f"quota: {RATE_LIMIT_PER_MINUTE} calls per endpoint per emulated minute"
            + ("; each waited out and retried" if result.state == "success" else ""),
        )
    )
    lines.append("=" * 86)
    return "\n".join(lines)


def main() -> int:
    prepare_environment()
    from airflow_provider_apollo.testing import ApolloEmulator

    started = time.monotonic()
    with ExitStack() as stack:
        emulator = ApolloEmulator(
            api_key=f"demo-{secrets.token_hex(8)}",
            rate_limits={"minute": RATE_LIMIT_PER_MINUTE},
            time_scale=TIME_SCALE,
            sequence_step_seconds=SEQUENCE_STEP_SECONDS,
            sequence_reply_fraction=SEQUENCE_REPLY_FRACTION,
            sequence_bounce_fraction=SEQUENCE_BOUNCE_FRACTION,
            sequence_reply_step=SEQUENCE_REPLY_STEP,
            sequence_reply_classes=SEQUENCE_REPLY_CLASSES,
            seed=2022,
        )
        emulator.seed_contacts(SEED_CONTACTS)
        emulator.start()
        stack.callback(emulator.stop)
        s3_endpoint = start_s3(stack)

        import boto3

        boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=BUCKET)
        connect(emulator.url, emulator.api_key, s3_endpoint)
        dag = load_dag()
        put_prospect_in_another_sequence()
        existing = set(emulator.contacts)
        # The run starts with fresh quotas, and the summary counts only the run's own calls.
        emulator.reset_rate_limits()
        first_request = len(emulator.requests)
        print(
            f"Apollo emulator on {emulator.url} ({SEED_CONTACTS} contacts; team: "
            f"{len(emulator.users)} users, {len(emulator.sequences)} sequences), S3 on {s3_endpoint}, "
            f"bucket {BUCKET}; running {DAG_ID} with dag.test()",
            flush=True,
        )
        dag_run = dag.test()
        result = DemoResult(state=str(getattr(dag_run.state, "value", dag_run.state)))
        result.seconds = time.monotonic() - started
        result.params = {name: dag.params[name] for name in ("list_name", "sequence", "mailbox", "owner")}
        result.xcom = read_xcoms(dag_run)
        created = result.xcom.get("create_contacts") or []
        contacts = emulator.contacts
        result.names = {
            i: f"{contacts[i].get('first_name')} {contacts[i].get('last_name')}"
            for i in created
            if i in contacts
        }
        result.already_there = sum(1 for i in created if i in existing)
        result.fields_set = sum(
            1 for i in created if i not in existing and (contacts.get(i) or {}).get("typed_custom_fields")
        )
        label_ids = [label["id"] for label in emulator.labels if label["name"] == result.params["list_name"]]
        result.on_list = sum(
            1 for i in created if label_ids and label_ids[0] in (contacts.get(i) or {}).get("label_ids", [])
        )
        sequence_id = emulator.sequence_id(result.params["sequence"])
        result.final_statuses = Counter(
            sequence_status(emulator.sequence_statuses(i).get(sequence_id))
            for i in result.xcom.get("enroll") or []
        )
        result.s3_uri = result.xcom.get("export_responders.s3_uri")
        if result.s3_uri:
            result.s3_lines, result.s3_bytes = read_s3(s3_endpoint, result.s3_uri)
        requests = emulator.requests[first_request:]
        result.api_calls = len(requests)
        result.statuses = dict(Counter(request.status for request in requests))
        result.calls_by_endpoint = Counter(
            f"{request.method} {endpoint_of(request.path)}" for request in requests
        )
    print(summarise(result), flush=True)
    return 0 if result.state == "success" else 1


if __name__ == "__main__":
    sys.exit(main())
