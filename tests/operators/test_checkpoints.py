"""
Crash safety: a long job saves its checkpoint to the task state store as it goes, a new try resumes
from it (or discards it, saying why, when the task's arguments changed), success removes it, and an
Airflow without a store keeps today's behaviour.

The store here is a dict behind the accessor's API (``get``/``set``/``delete``, values through
JSON). A killed worker is a ``BaseException`` raised right after Apollo answered a bulk call: the
batch is applied, the job never hears of it: the worst moment for duplicates.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest

from airflow_provider_apollo.core.quota import (
    CHECKPOINT_KEY,
    SavedCheckpoint,
    SaveSchedule,
    argument_digests,
    check_checkpoint_interval,
    why_not_resume,
)
from airflow_provider_apollo.exceptions import ApolloArgumentError
from airflow_provider_apollo.operators.contacts import (
    CREATED_IDS_KEY,
    ApolloCreateContactOperator,
    ApolloUpdateContactOperator,
    ApolloUpdateStagesOperator,
)
from airflow_provider_apollo.operators.lists import ApolloAddToListsOperator
from airflow_provider_apollo.operators.sequences import SKIPPED_CONTACTS_KEY, ApolloAddToSequenceOperator
from airflow_provider_apollo.testing import ApolloEmulator, TaskInstanceStub, run_deferring

from .outreach_support import MAILBOX, SEQUENCE, connect, create_contacts, outreach_team

BULK_CREATE = "/contacts/bulk_create"
UPDATE_STAGES = "/contacts/update_stages"
ADD_TO_LISTS = "/labels/add_entity_ids_to_label_names"


class FakeStore:
    """``context["task_state_store"]``: its API over a dict, values through JSON, every call recorded."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.calls: list[tuple[str, str]] = []
        self.failing = False

    def get(self, key: str, default: Any = None) -> Any:
        self.calls.append(("get", key))
        return json.loads(json.dumps(self.values[key])) if key in self.values else default

    def set(self, key: str, value: Any, *, retention: timedelta | None = None) -> None:
        self.calls.append(("set", key))
        if self.failing:
            raise RuntimeError("the API server is unreachable")
        if value is None:
            raise ValueError("Cannot set value as None")
        self.values[key] = json.loads(json.dumps(value))

    def delete(self, key: str) -> None:
        self.calls.append(("delete", key))
        self.values.pop(key, None)

    def sets(self, key: str = CHECKPOINT_KEY) -> int:
        return sum(1 for call, name in self.calls if call == "set" and name == key)

    @property
    def checkpoint(self) -> Any:
        return (self.values.get(CHECKPOINT_KEY) or {}).get("checkpoint")


class WorkerKilled(BaseException):
    """What a SIGKILL is to the job: nothing after it runs (not even ``except Exception``)."""


def a_try(store: FakeStore | None, task_id: str = "job") -> dict[str, Any]:
    """One try's context: a fresh task instance (a new try's XComs start empty) and the shared store."""
    context: dict[str, Any] = {"ti": TaskInstanceStub(task_id)}
    if store is not None:
        context["task_state_store"] = store
    return context


def kill_after(operator: Any, path: str, calls: int) -> None:
    """Kill the try right after Apollo answered its ``calls``-th request to ``path`` (applied, unheard)."""
    real = operator.hook.call
    sent = 0

    def call(request: Any, **kwargs: Any) -> Any:
        nonlocal sent
        answer = real(request, **kwargs)
        if request.path.endswith(path):
            sent += 1
            if sent == calls:
                raise WorkerKilled(f"killed after call {calls} to {path}")
        return answer

    operator.hook.call = call


def run_killed(make: Callable[[], Any], store: FakeStore, path: str, calls: int) -> None:
    operator = make()
    kill_after(operator, path, calls)
    with pytest.raises(WorkerKilled):
        operator.execute(a_try(store))


def people(count: int, tag: str = "crash") -> list[dict[str, Any]]:
    return [
        {"first_name": f"P{i}", "last_name": "Crash", "email": f"p{i}@{tag}.example"} for i in range(count)
    ]


def emails(emulator: ApolloEmulator, ids: list[str]) -> list[str]:
    contacts = emulator.contacts  # one snapshot: each read renders every contact
    return [contacts[i]["email"] for i in ids]


def requests_to(emulator: ApolloEmulator, path: str) -> int:
    return sum(1 for r in emulator.requests if r.path.endswith(path) and r.status == 200)


@pytest.fixture
def apollo(monkeypatch: pytest.MonkeyPatch) -> Iterator[ApolloEmulator]:
    with ApolloEmulator() as started:
        connect(started, monkeypatch, max_retry_wait=0.2)
        yield started


@pytest.fixture
def log_text(caplog: pytest.LogCaptureFixture) -> Iterator[Callable[[], str]]:
    """The operators' log lines so far: through structlog (Airflow 3.1+) or the stdlib logger (3.0)."""
    from structlog.testing import capture_logs

    caplog.set_level(logging.INFO)
    with capture_logs() as logs:
        yield lambda: "\n".join([str(entry.get("event")) for entry in logs] + [caplog.text])


# ------------------------------------------------------------------ the decisions, without I/O


def test_argument_digests_name_each_argument_and_ignore_dict_order() -> None:
    first = argument_digests({"contacts": [{"a": 1, "b": 2}], "run_dedupe": True})
    second = argument_digests({"run_dedupe": True, "contacts": [{"b": 2, "a": 1}]})
    assert first == second
    assert set(first) == {"contacts", "run_dedupe"}
    assert all(len(digest) == 16 for digest in first.values())
    assert (
        argument_digests({"contacts": [{"a": 1, "b": 3}], "run_dedupe": True})["contacts"]
        != first["contacts"]
    )


def test_a_checkpoint_applies_only_to_the_operator_and_arguments_it_was_saved_with() -> None:
    digests = argument_digests({"contact_ids": ["a", "b"], "contact_stage": "Interested"})
    saved = SavedCheckpoint("ApolloUpdateStagesOperator", digests, {"next_batch": 3})
    assert why_not_resume(saved, "ApolloUpdateStagesOperator", digests) is None
    other = argument_digests({"contact_ids": ["a", "b"], "contact_stage": "Cold"})
    assert "arguments changed since it was saved (contact_stage)" in str(
        why_not_resume(saved, "ApolloUpdateStagesOperator", other)
    )
    assert "saved by ApolloUpdateStagesOperator" in str(
        why_not_resume(saved, "ApolloUpdateOwnersOperator", digests)
    )


@pytest.mark.parametrize(
    ("stored", "words"),
    [
        ("a string", "not a checkpoint"),
        ({"format": 99, "operator": "X", "arguments": {}}, "checkpoint format 99"),
        ({"format": 1, "arguments": {}}, "which operator and arguments"),
        ({"format": 1, "operator": "X", "arguments": {}, "parts": "many"}, "not a number"),
    ],
)
def test_a_stored_value_this_release_did_not_write_is_not_read_as_a_checkpoint(
    stored: Any, words: str
) -> None:
    with pytest.raises(ValueError, match=words):
        SavedCheckpoint.from_json(stored)


def test_a_saved_checkpoint_round_trips_through_json() -> None:
    saved = SavedCheckpoint(
        "Op", {"a": "0123456789abcdef"}, {"next_batch": 2}, parts=3, saved_at=1.5, try_number=1
    )
    assert SavedCheckpoint.from_json(json.loads(json.dumps(saved.to_json()))) == saved
    assert saved.describe() == "saved by try 1 at 1970-01-01 00:00:01 UTC"


def test_saves_are_due_once_per_interval_and_at_once_when_forced() -> None:
    schedule = SaveSchedule(interval=5.0, last=100.0)
    assert not schedule.due(104.9)
    assert schedule.due(104.9, force=True)
    assert schedule.due(105.0)
    schedule.saved(105.0, 0.010)
    schedule.saved(111.0, 0.030)
    assert not schedule.due(115.0)
    assert schedule.summary() == "2 checkpoint saves, 20.0 ms each on average (longest 30.0 ms)"
    assert SaveSchedule(interval=0.0, last=100.0).due(100.0)


@pytest.mark.parametrize("bad", [-1, float("nan"), "5", True, None])
def test_checkpoint_interval_is_checked_when_the_dag_is_parsed(bad: Any) -> None:
    with pytest.raises(ApolloArgumentError, match="checkpoint_interval must be"):
        ApolloUpdateStagesOperator(task_id="u", contact_ids=["a"], contact_stage="X", checkpoint_interval=bad)
    assert check_checkpoint_interval(timedelta(seconds=30)) == 30.0


# ------------------------------------------------------------------ bulk create


def test_a_killed_bulk_create_resumes_from_its_checkpoint_with_the_uninterrupted_ids(
    apollo: ApolloEmulator, log_text: Callable[[], str]
) -> None:
    contacts = people(1_000)  # 10 batches

    def make() -> ApolloCreateContactOperator:
        return ApolloCreateContactOperator(task_id="job", contacts=contacts, checkpoint_interval=0)

    store = FakeStore()
    run_killed(make, store, BULK_CREATE, calls=6)
    # Saved through batch 5: the 6th was applied, but the job never heard of it.
    assert store.checkpoint["next_batch"] == 5
    ids = make().execute(a_try(store))

    assert "Resuming from the checkpoint" in log_text()
    assert emails(apollo, ids) == [c["email"] for c in contacts]
    assert apollo.contact_count == 1_000  # the resent batch matched what it had created: dedupe
    assert requests_to(apollo, BULK_CREATE) == 10 + 1  # the minimum, and the one batch in flight
    assert store.values == {}, "success removes the checkpoint and its parts"


def test_created_ids_are_stored_in_a_part_before_the_checkpoint_that_names_it(apollo: ApolloEmulator) -> None:
    store = FakeStore()
    ApolloCreateContactOperator(task_id="job", contacts=people(300), checkpoint_interval=0).execute(
        a_try(store)
    )
    writes = [key for call, key in store.calls if call == "set"]
    assert writes == [
        f"{CREATED_IDS_KEY}0",
        CHECKPOINT_KEY,
        f"{CREATED_IDS_KEY}1",
        CHECKPOINT_KEY,
        f"{CREATED_IDS_KEY}2",
        CHECKPOINT_KEY,
    ]


def test_checkpoints_are_saved_at_most_once_per_interval(apollo: ApolloEmulator) -> None:
    store = FakeStore()
    # 900 ids: under a part's 1,000, which would save early whatever the interval.
    ApolloCreateContactOperator(task_id="job", contacts=people(900), checkpoint_interval=3600).execute(
        a_try(store)
    )
    assert store.sets() == 0
    assert [call for call, _ in store.calls] == ["get"], "one read at the start, nothing else"


def test_without_dedupe_every_applied_batch_is_saved_whatever_the_interval(apollo: ApolloEmulator) -> None:
    contacts = people(500)

    def make() -> ApolloCreateContactOperator:
        return ApolloCreateContactOperator(
            task_id="job", contacts=contacts, run_dedupe=False, checkpoint_interval=3600
        )

    store = FakeStore()
    run_killed(make, store, BULK_CREATE, calls=3)
    assert store.sets() == 2
    ids = make().execute(a_try(store))
    # Only the batch in flight at the kill is sent twice: without dedupe, its 100 contacts twice.
    assert requests_to(apollo, BULK_CREATE) == 5 + 1
    assert apollo.contact_count == 600
    assert len(ids) == len(set(ids)) == 500


def test_a_kill_before_the_first_save_starts_over_and_dedupe_keeps_one_contact_each(
    apollo: ApolloEmulator,
) -> None:
    contacts = people(400)

    def make() -> ApolloCreateContactOperator:
        return ApolloCreateContactOperator(task_id="job", contacts=contacts, checkpoint_interval=3600)

    store = FakeStore()
    run_killed(make, store, BULK_CREATE, calls=3)
    ids = make().execute(a_try(store))
    assert requests_to(apollo, BULK_CREATE) == 3 + 4
    assert apollo.contact_count == 400
    assert emails(apollo, ids) == [c["email"] for c in contacts]


def test_a_checkpoint_saved_for_other_arguments_is_discarded_saying_which(
    apollo: ApolloEmulator, log_text: Callable[[], str]
) -> None:
    store = FakeStore()
    run_killed(
        lambda: ApolloCreateContactOperator(task_id="job", contacts=people(500), checkpoint_interval=0),
        store,
        BULK_CREATE,
        calls=3,
    )
    other = people(500, tag="other")
    ids = ApolloCreateContactOperator(task_id="job", contacts=other, checkpoint_interval=0).execute(
        a_try(store)
    )
    assert "Discarding the checkpoint saved by" in log_text()
    assert "the task's arguments changed since it was saved (contacts)" in log_text()
    assert "Starting from the beginning" in log_text()
    assert emails(apollo, ids) == [c["email"] for c in other]
    assert requests_to(apollo, BULK_CREATE) == 3 + 5
    assert store.values == {}


def test_a_checkpoint_another_operator_saved_is_discarded(
    apollo: ApolloEmulator, log_text: Callable[[], str]
) -> None:
    store = FakeStore()
    store.values[CHECKPOINT_KEY] = SavedCheckpoint(
        "ApolloUpdateOwnersOperator", {}, {"next_batch": 4}
    ).to_json()
    ids = ApolloCreateContactOperator(task_id="job", contacts=people(200)).execute(a_try(store))
    assert len(ids) == 200
    assert (
        "it was saved by ApolloUpdateOwnersOperator, and this task is now ApolloCreateContactOperator"
        in log_text()
    )


def test_a_checkpoint_whose_ids_are_missing_starts_over(
    apollo: ApolloEmulator, log_text: Callable[[], str]
) -> None:
    contacts = people(500)

    def make() -> ApolloCreateContactOperator:
        return ApolloCreateContactOperator(task_id="job", contacts=contacts, checkpoint_interval=0)

    store = FakeStore()
    run_killed(make, store, BULK_CREATE, calls=4)
    del store.values[f"{CREATED_IDS_KEY}1"]  # e.g. expired with the store's retention
    ids = make().execute(a_try(store))
    assert "starting from the first batch" in log_text()
    assert emails(apollo, ids) == [c["email"] for c in contacts]


def test_a_single_contact_create_never_touches_the_store(apollo: ApolloEmulator) -> None:
    store = FakeStore()
    ApolloCreateContactOperator(task_id="job", contact=people(1)[0]).execute(a_try(store))
    assert store.calls == []


def test_a_failing_store_never_fails_the_job(apollo: ApolloEmulator, log_text: Callable[[], str]) -> None:
    store = FakeStore()
    store.failing = True
    ids = ApolloCreateContactOperator(task_id="job", contacts=people(300), checkpoint_interval=0).execute(
        a_try(store)
    )
    assert len(ids) == 300
    assert "Could not save the checkpoint (the API server is unreachable); the job goes on" in log_text()


def test_without_a_task_state_store_a_new_try_starts_over_as_before(
    apollo: ApolloEmulator, log_text: Callable[[], str]
) -> None:
    contacts = people(500)

    def make() -> ApolloCreateContactOperator:
        return ApolloCreateContactOperator(task_id="job", contacts=contacts, checkpoint_interval=0)

    operator = make()
    kill_after(operator, BULK_CREATE, 3)
    with pytest.raises(WorkerKilled):
        operator.execute(a_try(None))
    ids = make().execute(a_try(None))
    assert "No task state store (Airflow before 3.3 has none)" in log_text()
    assert requests_to(apollo, BULK_CREATE) == 3 + 5
    assert emails(apollo, ids) == [c["email"] for c in contacts]


# ------------------------------------------------------------------ the quota stop, on the same checkpoint


@pytest.fixture
def hourly(monkeypatch: pytest.MonkeyPatch) -> Iterator[ApolloEmulator]:
    """Four bulk calls an emulated hour (1.8 s real); the connection sleeps through at most 0.5 s."""
    with ApolloEmulator(rate_limits={"hour": 4}, time_scale=0.0005) as started:
        connect(started, monkeypatch, max_retry_wait=0.5, max_retries=2)
        yield started


def test_a_quota_stop_saves_the_checkpoint_so_a_retry_after_a_failed_wait_resumes(
    hourly: ApolloEmulator, log_text: Callable[[], str]
) -> None:
    from airflow.providers.common.compat.sdk import AirflowException

    contacts = people(700)
    store = FakeStore()
    with pytest.raises(AirflowException, match="wait_for_quota=False"):
        ApolloCreateContactOperator(task_id="job", contacts=contacts, wait_for_quota=False).execute(
            a_try(store)
        )
    assert store.checkpoint["next_batch"] == 4
    ids = run_deferring(ApolloCreateContactOperator(task_id="job", contacts=contacts), a_try(store)).value
    assert "Resuming from the checkpoint" in log_text()
    assert emails(hourly, ids) == [c["email"] for c in contacts]
    assert requests_to(hourly, BULK_CREATE) == 7
    assert store.values == {}


def test_ids_saved_at_a_quota_stop_go_to_the_store_and_the_deferral_finds_them(
    hourly: ApolloEmulator,
) -> None:
    contacts = people(700)
    store = FakeStore()
    context = a_try(store)
    run = run_deferring(ApolloCreateContactOperator(task_id="job", contacts=contacts), context)
    assert emails(hourly, run.value) == [c["email"] for c in contacts]
    assert len(run.deferrals) == 1
    assert not any(key.startswith(CREATED_IDS_KEY) for key in context["ti"].xcoms)
    assert store.values == {}


def test_without_a_store_the_quota_stop_keeps_its_ids_in_xcom_as_before(hourly: ApolloEmulator) -> None:
    contacts = people(700)
    context = a_try(None)
    run = run_deferring(ApolloCreateContactOperator(task_id="job", contacts=contacts), context)
    assert emails(hourly, run.value) == [c["email"] for c in contacts]
    assert len(context["ti"].xcoms[f"{CREATED_IDS_KEY}0"]) == 400


# ------------------------------------------------------------------ updates, lists, enrollments


def test_a_killed_stage_update_resumes_and_keeps_the_deleted_contacts_it_skipped(
    apollo: ApolloEmulator,
) -> None:
    ids = apollo.seed_contacts(1_000)
    apollo.delete_contacts([ids[10], ids[950]])

    def make() -> ApolloUpdateStagesOperator:
        return ApolloUpdateStagesOperator(
            task_id="job",
            contact_ids=ids,
            contact_stage="Interested",
            skip_deleted=True,
            checkpoint_interval=0,
        )

    store = FakeStore()
    run_killed(make, store, UPDATE_STAGES, calls=7)  # batch 1 sent twice (a deleted contact): 6 batches
    assert store.checkpoint["skipped_deleted_ids"] == [ids[10]]
    updated = make().execute(a_try(store))
    assert updated == [i for i in ids if i not in (ids[10], ids[950])]
    interested = apollo.stage_id("Interested")
    contacts = apollo.contacts  # one snapshot: each read renders every contact
    assert all(contacts[i]["contact_stage_id"] == interested for i in updated)
    # 10 batches, 2 of them sent twice for their deleted contact, plus the batch in flight at the kill.
    assert requests_to(apollo, UPDATE_STAGES) == 10 + 1
    assert store.values == {}


def test_a_killed_bulk_update_resumes_from_its_checkpoint(apollo: ApolloEmulator) -> None:
    ids = apollo.seed_contacts(500)
    updates = [{"id": i, "title": f"Title {n}"} for n, i in enumerate(ids)]

    def make() -> ApolloUpdateContactOperator:
        return ApolloUpdateContactOperator(task_id="job", contacts=updates, checkpoint_interval=0)

    store = FakeStore()
    run_killed(make, store, "/contacts/bulk_update", calls=2)
    assert make().execute(a_try(store)) == ids
    assert sum(1 for r in apollo.requests if r.path.endswith("/contacts/bulk_update")) == 5 + 1
    contacts = apollo.contacts
    assert all(contacts[i]["title"] == f"Title {n}" for n, i in enumerate(ids))


def test_a_killed_list_change_resumes_from_its_checkpoint(apollo: ApolloEmulator) -> None:
    ids = apollo.seed_contacts(3_500)  # 4 requests of 1,000

    def make() -> ApolloAddToListsOperator:
        return ApolloAddToListsOperator(
            task_id="job", contact_ids=ids, list_names=["Crash"], checkpoint_interval=0
        )

    store = FakeStore()
    run_killed(make, store, ADD_TO_LISTS, calls=2)
    assert make().execute(a_try(store)) == ids
    assert requests_to(apollo, ADD_TO_LISTS) == 4 + 1
    crash = next(label["id"] for label in apollo.labels if label["name"] == "Crash")
    contacts = apollo.contacts
    assert all(crash in contacts[i]["label_ids"] for i in ids)


def enroll(monkeypatch: pytest.MonkeyPatch, kill_at: int | None) -> tuple[list[str], dict[str, str], int]:
    """Enroll 430 contacts (every 50th without an email) in a fresh team, killed after ``kill_at``
    enrollment calls and resumed; the XCom value, the skipped contacts and the calls sent."""
    with outreach_team(monkeypatch) as team:
        contacts = [
            {
                "first_name": f"P{i}",
                "last_name": "Enroll",
                **({} if i % 50 == 7 else {"email": f"p{i}@enroll.example"}),
            }
            for i in range(430)
        ]
        ids = create_contacts(*contacts)

        def make() -> ApolloAddToSequenceOperator:
            return ApolloAddToSequenceOperator(
                task_id="job", sequence=SEQUENCE, contact_ids=ids, mailbox=MAILBOX, checkpoint_interval=0
            )

        store = FakeStore()
        if kill_at is not None:
            run_killed(make, store, "/add_contact_ids", calls=kill_at)
        context = a_try(store)
        enrolled = make().execute(context)
        assert store.values == {}
        calls = sum(1 for r in team.requests if r.path.endswith("/add_contact_ids"))
        return enrolled, context["ti"].xcoms[SKIPPED_CONTACTS_KEY], calls


def test_a_killed_enrollment_resumes_with_the_enrolled_and_skipped_contacts_of_an_uninterrupted_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    enrolled, skipped, calls = enroll(monkeypatch, kill_at=None)
    assert len(skipped) == 9 and set(skipped.values()) == {"contacts_without_email"}
    assert calls == 5
    assert enroll(monkeypatch, kill_at=3) == (enrolled, skipped, 5 + 1)


# ------------------------------------------------------------------ upserts: the row-offset cursor and staged parts


def leads(seeded: list[str]) -> list[dict[str, Any]]:
    """720 records: creates, updates of ``seeded`` contacts, and a malformed email every 40th."""
    records: list[dict[str, Any]] = []
    for i in range(720):
        if i % 40 == 39:
            records.append({"first_name": f"Bad{i}", "email": f"bad{i}-at-nowhere"})
        elif i % 3 == 2:
            records.append({"id": seeded[i // 3], "title": f"Title {i}"})
        else:
            records.append(
                {
                    "first_name": f"L{i}",
                    "last_name": "Lead",
                    "email": f"l{i}@upsert.example",
                    "organization_name": "Co",
                }
            )
    return records


def put_jsonl(endpoint: str, bucket: str, key: str, records: list[dict[str, Any]]) -> None:
    import boto3

    body = "".join(json.dumps(record) + "\n" for record in records).encode()
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").put_object(
        Bucket=bucket, Key=key, Body=body
    )


def bucket_keys(endpoint: str, bucket: str) -> list[str]:
    import boto3

    answer = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").list_objects_v2(Bucket=bucket)
    return sorted(item["Key"] for item in answer.get("Contents") or [])


def read_object(endpoint: str, bucket: str, key: str) -> str:
    import boto3

    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    return str(client.get_object(Bucket=bucket, Key=key)["Body"].read().decode())


def upsert_operator(bucket: str, key: str, **kwargs: Any) -> Any:
    from airflow_provider_apollo.transfers.s3_to_apollo import S3ToApolloOperator

    return S3ToApolloOperator(
        task_id="job", s3_bucket=bucket, s3_key=key, **{"checkpoint_interval": 0, **kwargs}
    )


def upsert_run(
    monkeypatch: pytest.MonkeyPatch, endpoint: str, bucket: str, key: str, *, kill_at: int | None
) -> tuple[dict[str, Any], list[str], int, FakeStore]:
    """The upsert of :func:`leads` in a fresh emulator, killed after ``kill_at`` bulk creates and
    resumed: its XCom value, the emails of the contacts its created-ids object names, the bulk calls."""
    with ApolloEmulator() as emulator:
        connect(emulator, monkeypatch, max_retry_wait=0.2)
        put_jsonl(endpoint, bucket, key, leads(emulator.seed_contacts(300)))
        store = FakeStore()
        if kill_at is not None:
            run_killed(lambda: upsert_operator(bucket, key), store, BULK_CREATE, calls=kill_at)
        result = upsert_operator(bucket, key).execute(a_try(store))
        ids = read_object(endpoint, bucket, f"{key}.created_ids.jsonl").split()
        contacts = emulator.contacts
        calls = sum(1 for r in emulator.requests if r.path.endswith(("/bulk_create", "/bulk_update")))
        return result, [contacts[i]["email"] for i in ids], calls, store


def test_a_killed_upsert_resumes_and_reports_what_an_uninterrupted_run_reports(
    monkeypatch: pytest.MonkeyPatch, aws_connection: str, s3_bucket: str, log_text: Callable[[], str]
) -> None:
    clean, clean_emails, clean_calls, _ = upsert_run(
        monkeypatch, aws_connection, s3_bucket, "a.jsonl", kill_at=None
    )
    assert {k: clean[k] for k in ("created", "updated", "unchanged", "rejected")} == {
        "created": 468,
        "updated": 234,
        "unchanged": 0,
        "rejected": 18,
    }
    result, emails, calls, store = upsert_run(monkeypatch, aws_connection, s3_bucket, "b.jsonl", kill_at=3)

    assert result == {**clean, "rejects_uri": f"s3://{s3_bucket}/b.jsonl.rejects.jsonl"}
    assert emails == clean_emails, "the created ids, in row order, as an uninterrupted run writes them"
    assert read_object(aws_connection, s3_bucket, "b.jsonl.rejects.jsonl") == read_object(
        aws_connection, s3_bucket, "a.jsonl.rejects.jsonl"
    )
    assert calls == clean_calls + 1, "the batch in flight at the kill, sent again, and nothing else"
    assert "Resuming the upsert of s3://" in log_text()
    assert "100 contacts the interrupted try created before it stopped count as created" in log_text()
    # No staged part is left behind, nor the checkpoint.
    assert [k for k in bucket_keys(aws_connection, s3_bucket) if k.startswith("b.")] == [
        "b.jsonl",
        "b.jsonl.created_ids.jsonl",
        "b.jsonl.rejects.jsonl",
    ]
    assert store.values == {}


def test_parts_staged_by_a_try_killed_before_its_checkpoint_named_them_are_removed(
    monkeypatch: pytest.MonkeyPatch, aws_connection: str, s3_bucket: str
) -> None:
    import boto3

    with ApolloEmulator() as emulator:
        connect(emulator, monkeypatch, max_retry_wait=0.2)
        put_jsonl(aws_connection, s3_bucket, "c.jsonl", leads(emulator.seed_contacts(300)))
        store = FakeStore()
        run_killed(lambda: upsert_operator(s3_bucket, "c.jsonl"), store, BULK_CREATE, calls=2)
        client = boto3.client("s3", endpoint_url=aws_connection, region_name="us-east-1")
        orphan = "c.jsonl.created_ids.jsonl.parts/00009-feedfacecafe.txt"
        client.put_object(Bucket=s3_bucket, Key=orphan, Body=b"not-an-id\n")
        upsert_operator(s3_bucket, "c.jsonl").execute(a_try(store))
        assert orphan not in bucket_keys(aws_connection, s3_bucket)
        assert "not-an-id" not in read_object(aws_connection, s3_bucket, "c.jsonl.created_ids.jsonl")


def test_a_try_killed_after_the_final_objects_were_written_sends_nothing_again(
    monkeypatch: pytest.MonkeyPatch, aws_connection: str, s3_bucket: str, log_text: Callable[[], str]
) -> None:
    with ApolloEmulator() as emulator:
        connect(emulator, monkeypatch, max_retry_wait=0.2)
        put_jsonl(aws_connection, s3_bucket, "d.jsonl", leads(emulator.seed_contacts(300)))
        store = FakeStore()
        first = upsert_operator(s3_bucket, "d.jsonl")

        def killed(*args: Any) -> Any:
            raise WorkerKilled("killed while removing the staged parts")

        first._wrap_up = killed
        with pytest.raises(WorkerKilled):
            first.execute(a_try(store))
        calls = len(emulator.requests)
        result = upsert_operator(s3_bucket, "d.jsonl").execute(a_try(store))
        assert len(emulator.requests) == calls, "nothing sent to Apollo"
        assert result["created"] == 468 and result["rejected"] == 18
        assert "nothing sent to Apollo" in log_text()
        assert [k for k in bucket_keys(aws_connection, s3_bucket) if ".parts/" in k] == []


def test_a_discarded_upsert_checkpoint_takes_its_staged_parts_with_it(
    monkeypatch: pytest.MonkeyPatch, aws_connection: str, s3_bucket: str, log_text: Callable[[], str]
) -> None:
    with ApolloEmulator() as emulator:
        connect(emulator, monkeypatch, max_retry_wait=0.2)
        put_jsonl(aws_connection, s3_bucket, "e.jsonl", leads(emulator.seed_contacts(300)))
        store = FakeStore()
        run_killed(
            lambda: upsert_operator(s3_bucket, "e.jsonl", rejects_key="old/e.rejects.jsonl"),
            store,
            BULK_CREATE,
            3,
        )
        assert any(
            key.startswith("old/") and ".parts/" in key for key in bucket_keys(aws_connection, s3_bucket)
        )
        upsert_operator(s3_bucket, "e.jsonl", rejects_key="new/e.rejects.jsonl").execute(a_try(store))
        assert "arguments changed since it was saved (rejects_key)" in log_text()
        assert [k for k in bucket_keys(aws_connection, s3_bucket) if ".parts/" in k] == []


def test_an_upsert_whose_source_file_changed_starts_over(
    monkeypatch: pytest.MonkeyPatch, aws_connection: str, s3_bucket: str, log_text: Callable[[], str]
) -> None:
    with ApolloEmulator() as emulator:
        connect(emulator, monkeypatch, max_retry_wait=0.2)
        records = leads(emulator.seed_contacts(300))
        put_jsonl(aws_connection, s3_bucket, "f.jsonl", records)
        store = FakeStore()
        run_killed(lambda: upsert_operator(s3_bucket, "f.jsonl"), store, BULK_CREATE, 3)
        put_jsonl(aws_connection, s3_bucket, "f.jsonl", records[:100])  # rewritten upstream between tries
        result = upsert_operator(s3_bucket, "f.jsonl").execute(a_try(store))
        assert "arguments changed since it was saved (source_etag)" in log_text()
        assert result["created"] + result["unchanged"] + result["updated"] + result["rejected"] == 100


def test_contacts_an_upsert_created_before_its_first_save_still_count_as_created(
    monkeypatch: pytest.MonkeyPatch, aws_connection: str, s3_bucket: str
) -> None:
    clean, clean_emails, _, _ = upsert_run(monkeypatch, aws_connection, s3_bucket, "g.jsonl", kill_at=None)
    with ApolloEmulator() as emulator:
        connect(emulator, monkeypatch, max_retry_wait=0.2)
        put_jsonl(aws_connection, s3_bucket, "h.jsonl", leads(emulator.seed_contacts(300)))
        store = FakeStore()
        # No save on the interval: only the one before the first batch says when the job started.
        run_killed(
            lambda: upsert_operator(s3_bucket, "h.jsonl", checkpoint_interval=3600),
            store,
            BULK_CREATE,
            calls=2,
        )
        assert store.checkpoint["offset"] == 0
        result = upsert_operator(s3_bucket, "h.jsonl", checkpoint_interval=3600).execute(a_try(store))
        contacts = emulator.contacts
        ids = read_object(aws_connection, s3_bucket, "h.jsonl.created_ids.jsonl").split()
    assert result == {**clean, "rejects_uri": f"s3://{s3_bucket}/h.jsonl.rejects.jsonl"}
    assert [contacts[i]["email"] for i in ids] == clean_emails
