"""Every example DAG succeeds under a real scheduler, dag-processor, triggerer and api-server.

The Apollo emulator and moto's S3 run in this test process on loopback; Airflow runs as separate
processes on LocalExecutor with its own home and SQLite DB in a temporary directory, reading DAGs
from ``example_dags/`` and connections from ``AIRFLOW_CONN_*`` variables, as a deployment would.

The outreach run exercises every outreach capability under the scheduler: custom fields by label
and picklist text, a list by name, enrollment in a sequence by name from a mailbox by address
(with a contact Apollo skips), the sequence sensor deferred in the triggerer, a stage by name, an
owner by email (from the run's conf) and the export; each checked against the emulator's state.
"""

from __future__ import annotations

import datetime
import importlib.util
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from airflow_provider_apollo.testing import ApolloEmulator
from tests.e2e.airflow_cluster import AirflowCluster

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_DAGS = REPO / "example_dags"
OUTREACH = "apollo_outreach_pipeline"
WRAP_UP = "apollo_outreach_wrap_up"
DAILY_SYNC = "apollo_contacts_daily_sync"
EXAMPLE_DAG_IDS = (OUTREACH, DAILY_SYNC)
RUN_ID = "e2e"
RUN_TIMEOUT_SECONDS = 360
POLL_SECONDS = 2
TERMINAL_STATES = {"success", "failed"}
SEQUENCE = "Outbound - Data leaders"
MAILBOX = "ada@outreach.emulated-team.example"
LIST_NAME = "Data leaders outreach"
# Not the DAG's default owner: the run's conf picks the owner, by email.
OWNER_EMAIL = "alan.turing@emulated-team.example"


def example_dag_module(name: str) -> Any:
    """Load an example DAG file as a module (example_dags/ is a DAGs folder, not a package)."""
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLE_DAGS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def emulator() -> Iterator[ApolloEmulator]:
    # Sequences never advance on their own: this test is the prospect and replies once the sensor
    # is deferred, so the wait provably happens in the triggerer however fast or slow the machine is.
    emulator = ApolloEmulator(api_key=f"e2e-{uuid.uuid4().hex}", seed=11, sequence_step_seconds=None)
    emulator.seed_contacts(500)
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def cluster(tmp_path: Path, emulator: ApolloEmulator, s3_endpoint: str) -> Iterator[AirflowCluster]:
    bucket = f"e2e-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
    env = {
        "AIRFLOW_CONN_APOLLO_DEFAULT": json.dumps(
            {"conn_type": "apollo", "password": emulator.api_key, "host": emulator.url}
        ),
        "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(
            {
                "conn_type": "aws",
                "login": "testing",
                "password": "testing",
                "extra": {"endpoint_url": s3_endpoint, "region_name": "us-east-1"},
            }
        ),
        "AIRFLOW_VAR_APOLLO_S3_BUCKET": bucket,
        # The outreach DAG's sensor checks every second instead of every 10 minutes.
        "APOLLO_OUTREACH_CHECK_SECONDS": "1",
        # Every log at DEBUG (urllib3 then logs each request's target, query string included): the
        # key-leak check at the end reads every task, trigger and component log.
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "DEBUG",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    deployment = AirflowCluster(home=tmp_path / "airflow", dags_folder=EXAMPLE_DAGS, env=env)
    deployment.bucket = bucket  # type: ignore[attr-defined]
    try:
        deployment.start()
        deployment.wait_for_api()
        deployment.wait_for_dags((*EXAMPLE_DAG_IDS, WRAP_UP))
        yield deployment
    finally:
        deployment.stop()


def wait_until(condition: Any, what: str, deadline: float, cluster: AirflowCluster) -> Any:
    while time.monotonic() < deadline:
        cluster.check_running()
        value = condition()
        if value:
            return value
        time.sleep(POLL_SECONDS)
    raise TimeoutError(f"timed out waiting for {what}\n" + cluster.diagnostics())


def s3_objects(endpoint: str, bucket: str) -> dict[str, bytes]:
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    listed = client.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {item["Key"]: client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read() for item in listed}


def xcom(cluster: AirflowCluster, dag_id: str, task_id: str, key: str = "return_value") -> Any:
    """One XCom value of the run ``RUN_ID``, through the REST API."""
    body = cluster.api(f"/api/v2/dags/{dag_id}/dagRuns/{RUN_ID}/taskInstances/{task_id}/xcomEntries/{key}")
    value = body["value"]
    return json.loads(value) if isinstance(value, str) else value


def membership(emulator: ApolloEmulator, contact_id: str) -> dict[str, Any] | None:
    return emulator.sequence_statuses(contact_id).get(emulator.sequence_id(SEQUENCE))


def test_every_example_dag_succeeds_under_the_scheduler_and_triggerer(
    cluster: AirflowCluster, emulator: ApolloEmulator, s3_endpoint: str
) -> None:
    started = time.monotonic()
    deadline = started + RUN_TIMEOUT_SECONDS
    module = example_dag_module(OUTREACH)
    people = {contact.get("email") or contact["last_name"]: contact for contact in module.DEFAULT_CONTACTS}
    owner_id = next(str(user["id"]) for user in emulator.users if user["email"] == OWNER_EMAIL)

    # The outreach batch is the DAG's default; the owner comes from the run's conf, by email. The
    # daily sync is triggered as the UI does, with a logical date. Each CLI call pays Airflow's
    # start-up, so the three run side by side; a run triggered while its DAG is still paused
    # waits queued until the unpause lands.
    now = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
    cluster.cli_many(
        ("dags", "unpause", "--treat-dag-id-as-regex", "--yes", "^(" + "|".join(EXAMPLE_DAG_IDS) + ")$"),
        ("dags", "trigger", OUTREACH, "--run-id", RUN_ID, "--conf", json.dumps({"owner": OWNER_EMAIL})),
        ("dags", "trigger", DAILY_SYNC, "--run-id", RUN_ID, "--logical-date", now),
    )
    triggered = time.monotonic()

    wait_until(
        lambda: cluster.task_state(OUTREACH, RUN_ID, "wait_for_replies") == "deferred",
        "the sequence sensor to defer",
        deadline,
        cluster,
    )
    # Created with custom fields by label (a picklist by its text), all on the list.
    campaign = xcom(cluster, OUTREACH, "create_contacts")
    assert len(campaign) == len(people) == len(set(campaign))
    contacts = emulator.contacts
    label_id = next(label["id"] for label in emulator.labels if label["name"] == LIST_NAME)
    score, segment = emulator.field_id("Lead score"), emulator.field_id("Segment")
    for contact_id in campaign:
        contact = contacts[contact_id]
        person = people[contact.get("email") or contact["last_name"]]
        wanted = person["custom_fields"]
        assert contact["typed_custom_fields"][score] == wanted["Lead score"]
        assert contact["typed_custom_fields"][segment] == emulator.picklist_option_id(
            "Segment", wanted["Segment"]
        )
        assert label_id in contact["label_ids"]
    # Enrolled from the mailbox given by address; the contact without an email was skipped, with the reason.
    no_email = [i for i in campaign if not contacts[i].get("email")]
    assert len(no_email) == 1
    enrolled = xcom(cluster, OUTREACH, "enroll")
    assert sorted(enrolled) == sorted(set(campaign) - set(no_email))
    assert xcom(cluster, OUTREACH, "enroll", "skipped_contacts") == {no_email[0]: "contacts_without_email"}
    mailbox_id = emulator.email_account_id(MAILBOX)
    for contact_id in enrolled:
        status = membership(emulator, contact_id)
        assert status is not None and status["status"] == "active", status
        assert status["send_email_from_email_account_id"] == mailbox_id
    assert membership(emulator, no_email[0]) is None

    # Three prospects reply while the sensor waits in the triggerer; Apollo classes each reply.
    interested, uninterested, away = sorted(enrolled)[:3]
    replied = sorted([interested, uninterested, away])
    emulator.reply_in_sequence(
        {interested: "willing_to_meet", uninterested: "unsubscribe", away: "out_of_office"}, SEQUENCE
    )

    def finished() -> bool:
        states = [cluster.run_states(dag_id) for dag_id in EXAMPLE_DAG_IDS]
        return all(runs and set(runs.values()) <= TERMINAL_STATES for runs in states)

    wait_until(finished, "every example DAG run to finish", deadline, cluster)
    states = {dag_id: cluster.run_states(dag_id) for dag_id in EXAMPLE_DAG_IDS}
    print(
        f"example DAG runs finished {time.monotonic() - triggered:.0f} s after the triggers "
        f"({triggered - started:.0f} s to trigger): {states}"
    )
    assert RUN_ID in states[OUTREACH] and RUN_ID in states[DAILY_SYNC]
    failed = {dag_id: s for dag_id, s in states.items() if set(s.values()) != {"success"}}
    assert not failed, f"runs failed: {failed}\n" + cluster.diagnostics()

    # The sensor's wait went through the real triggerer process: it wrote the trigger's log.
    sensor_logs = (
        cluster.home / "logs" / f"dag_id={OUTREACH}" / f"run_id={RUN_ID}" / "task_id=wait_for_replies"
    )
    trigger_logs = list(sensor_logs.glob("*.trigger.*.log"))
    assert trigger_logs, cluster.diagnostics()
    trigger_log = "".join(path.read_text(errors="replace") for path in trigger_logs)
    assert "ApolloSequenceStatusTrigger" in trigger_log and "Trigger fired event" in trigger_log, trigger_log

    # The replies were routed by class: the interested to stage "Interested" and the owner given by
    # email, the unsubscribed to "Not Interested" and out of the sequence, out-of-office left alone.
    found = xcom(cluster, OUTREACH, "wait_for_replies")
    assert sorted(found["replied"]) == replied
    assert {name: ids for name, ids in found["reply_classes"].items() if ids} == {
        "willing_to_meet": [interested],
        "unsubscribe": [uninterested],
        "out_of_office": [away],
    }
    assert (
        xcom(cluster, OUTREACH, "move_interested") == xcom(cluster, OUTREACH, "assign_owner") == [interested]
    )
    assert xcom(cluster, OUTREACH, "move_not_interested") == [uninterested]
    assert xcom(cluster, OUTREACH, "stop_outreach") == [uninterested]
    stages = {"Interested": [interested], "Not Interested": [uninterested]}
    contacts = emulator.contacts
    for stage, members in stages.items():
        assert [i for i in campaign if contacts[i]["contact_stage_id"] == emulator.stage_id(stage)] == members
    assert [i for i in campaign if contacts[i]["owner_id"] == owner_id] == [interested]
    assert membership(emulator, uninterested) is None
    assert membership(emulator, away)["status"] == "paused"  # type: ignore[index]
    for contact_id in set(enrolled) - set(replied):
        assert membership(emulator, contact_id)["status"] == "active"  # type: ignore[index]

    objects = s3_objects(s3_endpoint, cluster.bucket)  # type: ignore[attr-defined]
    responder_keys = [key for key in objects if key.startswith("outreach/")]
    assert len(responder_keys) == 1, sorted(objects)
    exported = [json.loads(line) for line in objects[responder_keys[0]].decode().splitlines()]
    assert [contact["id"] for contact in exported] == [interested]

    # The wrap-up closes the campaign for the others: out of the sequence and the list, a custom
    # field noted on each through a bulk update.
    silent = sorted(set(enrolled) - set(replied))
    cluster.cli("dags", "unpause", WRAP_UP, "--yes")
    cluster.cli("dags", "trigger", WRAP_UP, "--run-id", RUN_ID, "--conf", json.dumps({"contact_ids": silent}))
    wait_until(
        lambda: set(cluster.run_states(WRAP_UP).values()) & TERMINAL_STATES,
        "the wrap-up run",
        deadline,
        cluster,
    )
    assert cluster.run_states(WRAP_UP) == {RUN_ID: "success"}, cluster.diagnostics()
    assert xcom(cluster, WRAP_UP, "note_outcome") == silent
    detail = emulator.field_id("Lead source detail")
    contacts = emulator.contacts
    for contact_id in enrolled:
        is_silent = contact_id in silent
        status = membership(emulator, contact_id)
        if contact_id == uninterested:
            assert status is None
        elif is_silent:
            assert status is not None and status["status"] == "finished", status
            assert status["inactive_reason"] == "manually finished"
        assert (label_id in contacts[contact_id]["label_ids"]) == (not is_silent)
        assert (contacts[contact_id]["typed_custom_fields"].get(detail) is not None) == is_silent

    # Each daily run wrote its day's partition: every contact changed during its interval.
    for run_id in states[DAILY_SYNC]:
        run = cluster.dag_run(DAILY_SYNC, run_id)
        since, until = parse_time(run["data_interval_start"]), parse_time(run["data_interval_end"])
        key = f"apollo/contacts/dt={run['data_interval_start'][:10]}/contacts.jsonl"
        assert key in objects, sorted(objects)
        records = [json.loads(line) for line in objects[key].decode().splitlines()]
        ids = [contact["id"] for contact in records]
        assert len(ids) == len(set(ids))
        assert all(since <= parse_time(contact["updated_at"]) < until for contact in records)
        # Contacts the outreach run touched may land on either side of the export; the rest may not.
        # The interval is [since, until): a scheduled run covers yesterday, not today's changes.
        changed = {
            contact_id
            for contact_id, contact in emulator.contacts.items()
            if contact_id not in campaign and since <= parse_time(contact["updated_at"]) < until
        }
        assert changed <= set(ids), (run_id, sorted(changed - set(ids)))

    assert_no_key_in_logs(cluster, emulator.api_key)


def assert_no_key_in_logs(cluster: AirflowCluster, api_key: str) -> None:
    """The API key in no log the deployment wrote: task and trigger logs, and each component's output."""
    task_logs = sorted((cluster.home / "logs").rglob("*.log"))
    outputs = sorted(cluster.home.glob("*.out"))
    assert task_logs and outputs, cluster.diagnostics()
    # The task logs really are at DEBUG: urllib3's line for each request, with its target, is there.
    assert any(
        '"level":"debug"' in text and '"POST /api/v1/contacts/search' in text
        for text in (path.read_text(errors="replace") for path in task_logs)
    ), "no urllib3 DEBUG line in any task log: the leak check would not see a key in a URL"
    leaked = [str(path) for path in task_logs + outputs if api_key in path.read_text(errors="replace")]
    assert not leaked, f"the API key appears in {leaked}"


def parse_time(value: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
