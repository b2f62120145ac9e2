"""A killed worker resumes, it does not start over: SIGKILL to the task process under a real scheduler.

One DAG (``crash_dags/apollo_crash_e2e.py``) runs three long jobs at once, each against its own
emulator (answers paced at ``LATENCY`` seconds, so the jobs take seconds and a kill lands mid-job):
a bulk create of 3,000 contacts (30 calls), a stage update of 3,000 contacts (30 calls) and an upsert
from an S3 file (moto's server) of creates, updates and rejects (24 calls). Every task has
``retries=1``. The run ``uninterrupted`` is the reference; in the runs ``early``, ``mid`` and
``late`` the test sends SIGKILL to each task's process (the task runner the supervisor forked,
``airflow worker -- <ti id>``, not the supervisor) once that job has sent 10 %, 50 % and 90 % of its
calls; the supervisor reports the try failed and the scheduler starts the retry.

After each run: the XCom value is the uninterrupted run's; the emulator holds no duplicate contact;
the bucket holds no staging object; the task state store holds no checkpoint; and each job sent at
most its minimum of calls plus what one checkpoint interval holds (and the call in flight). The
save cost the jobs logged is printed.
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

from airflow_provider_apollo.testing import ApolloEmulator
from tests.e2e.airflow_cluster import AirflowCluster

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(1500)]

DAGS = Path(__file__).resolve().parent / "crash_dags"
DAG_ID = "apollo_crash_e2e"
CONTACTS = 3_000
UPSERT_ROWS = 2_400
# Seconds each emulator answer takes: about three calls a second, so a job lasts ~10 s.
LATENCY = 0.25
# As in the DAG: a job saves at most once a second.
CHECKPOINT_INTERVAL = 1.0
# Kill each job once it has sent this share of its calls.
KILL_POINTS = {"early": 0.1, "mid": 0.5, "late": 0.9}
RUN_TIMEOUT_SECONDS = 300
BULK_CREATE = "/contacts/bulk_create"
UPDATE_STAGES = "/contacts/update_stages"
BULK_UPDATE = "/contacts/bulk_update"
SAVES_LINE = re.compile(
    r"Crash safety: (\d+) checkpoint saves?, ([\d.]+) ms each on average \(longest ([\d.]+) ms\)"
)


@dataclass
class Job:
    """One of the DAG's tasks, the emulator behind its connection, and the calls that do its work."""

    task_id: str
    emulator: ApolloEmulator
    paths: tuple[str, ...]

    def calls(self) -> list[Any]:
        return [r for r in list(self.emulator.requests) if r.path.endswith(self.paths)]


@dataclass
class Kill:
    """A watcher that SIGKILLs a job's task process once the job has sent ``at`` calls in this run."""

    cluster: AirflowCluster
    run_id: str
    job: Job
    at: int
    before: int
    killed_after: int | None = None
    pid: int | None = None
    # The checkpoint the killed try left in the task state store (read right after the kill).
    saved: Any = None
    error: BaseException | None = None
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        threading.Thread(target=self._watch, name=f"kill-{self.job.task_id}", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def _watch(self) -> None:
        try:
            ti_id = None
            while not self._stop.is_set():
                if ti_id is None:
                    ti_id = self._running_ti_id()
                if ti_id is not None and len(self.job.calls()) - self.before >= self.at:
                    pid = task_process(ti_id)
                    if pid is not None:
                        os.kill(pid, signal.SIGKILL)
                        self.pid = pid
                        self.killed_after = len(self.job.calls()) - self.before
                        self.saved = saved_checkpoint(self.cluster, self.run_id, self.job.task_id)
                        return
                time.sleep(0.005 if ti_id else 0.2)
        except BaseException as error:  # reported by the test
            self.error = error

    def _running_ti_id(self) -> str | None:
        import urllib.error

        try:
            ti = task_instance(self.cluster, self.run_id, self.job.task_id)
        except urllib.error.HTTPError as error:
            if error.code == 404:  # the scheduler has not created the run's task instances yet
                return None
            raise
        return str(ti["id"]) if ti.get("state") == "running" else None


def task_process(ti_id: str) -> int | None:
    """The process running the task instance: the task runner titles itself ``airflow worker -- <ti id>``
    (its supervisor is ``airflow worker -- LocalExecutor: ...``)."""
    title = f"airflow worker -- {ti_id}"
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                text = cmdline.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        if text == title or text.startswith(title + " "):
            return int(entry)
    return None


@pytest.fixture(scope="module")
def emulators() -> Iterator[dict[str, ApolloEmulator]]:
    started = {
        name: ApolloEmulator(api_key=f"{name}-{uuid.uuid4().hex}", latency=LATENCY, seed=index).start()
        for index, name in enumerate(("create", "stage", "upsert"))
    }
    try:
        yield started
    finally:
        for emulator in started.values():
            emulator.stop()


@pytest.fixture(scope="module")
def bucket(s3_endpoint: str) -> str:
    name = f"crash-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(Bucket=name)
    return name


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, emulators: dict[str, ApolloEmulator], s3_endpoint: str
) -> Iterator[AirflowCluster]:
    def connection(emulator: ApolloEmulator) -> str:
        return json.dumps({"conn_type": "apollo", "password": emulator.api_key, "host": emulator.url})

    env = {
        "AIRFLOW_CONN_APOLLO_CREATE": connection(emulators["create"]),
        "AIRFLOW_CONN_APOLLO_STAGE": connection(emulators["stage"]),
        "AIRFLOW_CONN_APOLLO_UPSERT": connection(emulators["upsert"]),
        "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(
            {
                "conn_type": "aws",
                "login": "testing",
                "password": "testing",
                "extra": {"endpoint_url": s3_endpoint, "region_name": "us-east-1"},
            }
        ),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AIRFLOW__CORE__PARALLELISM": "6",
    }
    deployment = AirflowCluster(home=tmp_path_factory.mktemp("crash") / "airflow", dags_folder=DAGS, env=env)
    try:
        deployment.start()
        deployment.wait_for_api()
        deployment.wait_for_dags([DAG_ID])
        deployment.cli("dags", "unpause", DAG_ID)
        yield deployment
    finally:
        deployment.stop()


def send(cluster: AirflowCluster, method: str, path: str, body: Any) -> Any:
    request = urllib.request.Request(
        f"http://127.0.0.1:{cluster.api_port}{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method=method,
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read() or b"null")


def xcom(cluster: AirflowCluster, run_id: str, task_id: str, key: str = "return_value") -> Any:
    body = cluster.api(f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}")
    value = body["value"]
    return json.loads(value) if isinstance(value, str) else value


def task_instance(cluster: AirflowCluster, run_id: str, task_id: str) -> dict[str, Any]:
    return dict(cluster.api(f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{task_id}"))


def state_store(cluster: AirflowCluster, run_id: str, task_id: str) -> dict[str, Any]:
    body = cluster.api(f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{task_id}/state-store")
    return {entry["key"]: entry["value"] for entry in body["task_state_store"]}


def saved_checkpoint(cluster: AirflowCluster, run_id: str, task_id: str) -> Any:
    """The job's own cursor in the saved checkpoint, if any."""
    saved = state_store(cluster, run_id, task_id).get("apollo_checkpoint")
    return saved.get("checkpoint") if isinstance(saved, dict) else None


def task_log(cluster: AirflowCluster, run_id: str, task_id: str, attempt: int) -> str:
    found = list((cluster.home / "logs").rglob(f"*run_id={run_id}/task_id={task_id}/attempt={attempt}.log"))
    return "\n".join(path.read_text(errors="replace") for path in found)


@dataclass
class Inputs:
    contacts: list[dict[str, Any]]
    stage_ids: list[str]
    key: str
    upsert_records: list[dict[str, Any]]

    @property
    def upsert_created_emails(self) -> list[str]:
        return [
            r["email"]
            for r in self.upsert_records
            if "id" not in r and "@" in r["email"] and "-at-" not in r["email"]
        ]

    @property
    def upsert_counts(self) -> dict[str, int]:
        rejected = sum(1 for r in self.upsert_records if "-at-" in r.get("email", ""))
        updated = sum(1 for r in self.upsert_records if "id" in r)
        return {
            "created": len(self.upsert_created_emails),
            "updated": updated,
            "unchanged": 0,
            "rejected": rejected,
        }


def upsert_records(tag: str, seeded: list[str]) -> list[dict[str, Any]]:
    """Creates, updates of ``seeded`` contacts, and a malformed email every 40th row."""
    records: list[dict[str, Any]] = []
    for i in range(UPSERT_ROWS):
        if i % 40 == 39:
            records.append({"first_name": f"Bad{i}", "email": f"bad{i}-at-{tag}"})
        elif i % 3 == 2:
            records.append({"id": seeded[i // 3], "title": f"Title {tag} {i}"})
        else:
            records.append(
                {
                    "first_name": f"U{i}",
                    "last_name": tag,
                    "email": f"u{i}@{tag}.crash.example",
                    "organization_name": "Co",
                }
            )
    return records


def prepare(
    cluster: AirflowCluster, emulators: dict[str, ApolloEmulator], s3_endpoint: str, bucket: str, run_id: str
) -> Inputs:
    contacts = [
        {"first_name": f"C{i}", "last_name": run_id, "email": f"c{i}@{run_id}.crash.example"}
        for i in range(CONTACTS)
    ]
    stage_ids = emulators["stage"].seed_contacts(CONTACTS)
    key = f"leads/{run_id}.jsonl"
    records = upsert_records(run_id, emulators["upsert"].seed_contacts(UPSERT_ROWS // 3))
    body = "".join(json.dumps(record) + "\n" for record in records).encode()
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").put_object(
        Bucket=bucket, Key=key, Body=body
    )
    value = {"contacts": contacts, "stage_ids": stage_ids, "bucket": bucket, "key": key}
    send(cluster, "POST", "/api/v2/variables", {"key": f"apollo_crash_{run_id}", "value": json.dumps(value)})
    return Inputs(contacts, stage_ids, key, records)


def wait_for_run(cluster: AirflowCluster, run_id: str) -> str:
    deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        cluster.check_running()
        state = cluster.run_states(DAG_ID).get(run_id)
        if state in {"success", "failed"}:
            return str(state)
        time.sleep(0.5)
    raise TimeoutError(f"run {run_id} did not end within {RUN_TIMEOUT_SECONDS} s\n{cluster.diagnostics()}")


def most_calls_in_one_interval(calls: list[Any]) -> int:
    """The most calls a job sent within any one checkpoint interval: what one save may leave unsaved."""
    times = sorted(call.time for call in calls)
    most, start = 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] > CHECKPOINT_INTERVAL:
            start += 1
        most = max(most, end - start + 1)
    return most


def describe(checkpoint: Any) -> str:
    if not isinstance(checkpoint, dict):
        return "nothing"
    if "next_batch" in checkpoint:
        return f"next batch {checkpoint['next_batch']}"
    return f"rows settled through {checkpoint.get('offset')}"


def test_a_killed_task_resumes_from_its_checkpoint_and_ends_as_an_uninterrupted_run(
    cluster: AirflowCluster, emulators: dict[str, ApolloEmulator], s3_endpoint: str, bucket: str
) -> None:
    # One cluster, the runs in turn (one test: xdist never spreads them over several clusters).
    # The uninterrupted run fills ``reference``; what each run measured goes to ``figures``
    # (printed: docs/reliability.md, "Crash safety", reports them).
    reference: dict[str, Any] = {}
    figures: list[str] = []
    for run_id in ("uninterrupted", *KILL_POINTS):
        check_run(cluster, emulators, s3_endpoint, bucket, run_id, reference, figures)
    print("\n" + "\n".join(figures))


def check_run(
    cluster: AirflowCluster,
    emulators: dict[str, ApolloEmulator],
    s3_endpoint: str,
    bucket: str,
    run_id: str,
    reference: dict[str, Any],
    figures: list[str],
) -> None:
    """One DAG run, killed at ``run_id``'s point (none for ``uninterrupted``), and its checks."""
    inputs = prepare(cluster, emulators, s3_endpoint, bucket, run_id)
    jobs = {
        "create": Job("create", emulators["create"], (BULK_CREATE,)),
        "stages": Job("stages", emulators["stage"], (UPDATE_STAGES,)),
        "upsert": Job("upsert", emulators["upsert"], (BULK_CREATE, BULK_UPDATE)),
    }
    counts = inputs.upsert_counts
    minimum = {
        "create": math.ceil(CONTACTS / 100),
        "stages": math.ceil(CONTACTS / 100),
        "upsert": math.ceil(counts["created"] / 100) + math.ceil(counts["updated"] / 100),
    }
    before = {name: len(job.calls()) for name, job in jobs.items()}
    kills: dict[str, Kill] = {}
    if run_id in KILL_POINTS:
        for name, job in jobs.items():
            at = max(1, round(minimum[name] * KILL_POINTS[run_id]))
            kills[name] = Kill(cluster, run_id, job, at, before[name])
    for kill in kills.values():
        kill.start()
    send(cluster, "POST", f"/api/v2/dags/{DAG_ID}/dagRuns", {"dag_run_id": run_id, "logical_date": None})
    try:
        state = wait_for_run(cluster, run_id)
    finally:
        for kill in kills.values():
            kill.stop()
    assert state == "success", f"run {run_id}\n{cluster.diagnostics()}"

    # Each killed job was killed mid-job, once; the retry finished it.
    for name, kill in kills.items():
        assert kill.error is None, kill.error
        assert kill.killed_after is not None, f"{name} was never killed"
        assert kill.killed_after < minimum[name], (name, kill.killed_after)
        assert task_instance(cluster, run_id, name)["try_number"] == 2, name
    if not kills:
        assert all(task_instance(cluster, run_id, name)["try_number"] == 1 for name in jobs)

    # The XCom values: an uninterrupted run's.
    created_ids = xcom(cluster, run_id, "create")
    contacts = emulators["create"].contacts  # one snapshot: each read renders every contact
    assert [contacts[i]["email"] for i in created_ids] == [c["email"] for c in inputs.contacts]
    assert xcom(cluster, run_id, "stages") == inputs.stage_ids
    upserted = xcom(cluster, run_id, "upsert")
    assert upserted == {**counts, "rejects_uri": f"s3://{bucket}/{inputs.key}.rejects.jsonl"}
    if run_id == "uninterrupted":
        reference.update(create=len(created_ids), upsert={k: upserted[k] for k in counts})
    else:
        assert len(created_ids) == reference["create"]
        assert {k: upserted[k] for k in counts} == reference["upsert"]

    # No duplicate contact: one per input, in both emulators that create.
    assert sum(1 for c in contacts.values() if c.get("last_name") == run_id) == CONTACTS
    upsert_contacts = emulators["upsert"].contacts
    assert sum(1 for c in upsert_contacts.values() if c.get("last_name") == run_id) == counts["created"]
    interested = emulators["stage"].stage_id("Interested")
    stage_contacts = emulators["stage"].contacts
    assert {stage_contacts[i]["contact_stage_id"] for i in inputs.stage_ids} == {interested}

    # The files: the created ids in row order; no staging object left; no checkpoint left in the store.
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    ids_object = (
        client.get_object(Bucket=bucket, Key=f"{inputs.key}.created_ids.jsonl")["Body"].read().decode()
    )
    assert [upsert_contacts[i]["email"] for i in ids_object.split()] == inputs.upsert_created_emails
    listed = client.list_objects_v2(Bucket=bucket, Prefix=inputs.key).get("Contents", [])
    assert sorted(item["Key"] for item in listed) == [
        inputs.key,
        f"{inputs.key}.created_ids.jsonl",
        f"{inputs.key}.rejects.jsonl",
    ]
    for name in jobs:
        assert state_store(cluster, run_id, name) == {}, name

    # The calls: at most the minimum, plus what one checkpoint interval holds and the call in flight.
    for name, job in jobs.items():
        calls = job.calls()[before[name] :]
        sent, interval = len(calls), most_calls_in_one_interval(calls)
        attempt = 2 if kills else 1
        log = task_log(cluster, run_id, name, attempt)
        saves = SAVES_LINE.search(log)
        kill = kills.get(name)
        figures.append(
            f"{run_id:>13} {name:>6}: killed after {kill.killed_after if kill else '-'} of {minimum[name]} "
            f"calls (saved: {describe(kill.saved) if kill else '-'}); sent {sent} = minimum "
            f"+{sent - minimum[name]} (one interval holds up to {interval}); "
            f"{saves.group(0) if saves else 'no saves logged'} in try {attempt}"
        )
        assert sent <= minimum[name] + interval + 1, figures[-1]
        if kill is None:
            assert sent == minimum[name], figures[-1]
        elif kill.saved is not None:
            assert "Resuming from the checkpoint saved by try 1" in log, log[-3000:]
        else:  # killed before its first save: the retry starts over, within the same bound
            assert "Resuming from the checkpoint" not in log, log[-3000:]
