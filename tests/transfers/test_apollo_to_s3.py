"""ApolloSearchToS3Operator against the Apollo emulator and moto's S3 server, both on loopback."""

from __future__ import annotations

import csv
import datetime
import gzip
import io
import json
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from airflow.providers.common.compat.sdk import AirflowFailException
from airflow_versions import requires_structlog_task_logs

from airflow_provider_apollo.core import SEARCH_RESULT_CAP
from airflow_provider_apollo.exceptions import (
    ApolloApiError,
    ApolloArgumentError,
    ApolloAuthError,
    ApolloSearchCapError,
)
from airflow_provider_apollo.testing import ApolloEmulator, TaskInstanceStub, run_deferring
from airflow_provider_apollo.transfers import _writers, apollo_to_s3
from airflow_provider_apollo.transfers._writers import CONTACT_COLUMNS, PartSpool, flat_value
from airflow_provider_apollo.transfers.apollo_to_s3 import (
    CONTACT_COLUMN_NAMES,
    DEFAULT_MAX_RETURNED_IDS,
    ApolloSearchToS3Operator,
)

KEY = "apollo/contacts.jsonl"


def read_object(s3: Any, bucket: str, key: str) -> bytes:
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def jsonl_records(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in data.decode("utf-8").splitlines()]


def keys_in(s3: Any, bucket: str) -> list[str]:
    return [item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def operator(bucket: str, key: str = KEY, **kwargs: Any) -> ApolloSearchToS3Operator:
    return ApolloSearchToS3Operator(task_id="export", s3_bucket=bucket, s3_key=key, **kwargs)


def updated_at(contact: dict[str, Any]) -> datetime.datetime:
    return datetime.datetime.fromisoformat(contact["updated_at"].replace("Z", "+00:00"))


# --------------------------------------------------------------------------- formats


def test_jsonl_holds_every_contact_exactly_as_apollo_returns_it(
    apollo_connection: ApolloEmulator, s3_bucket: str, s3: Any, context: dict[str, Any], export_tmp: Path
) -> None:
    apollo_connection.seed_contacts(250)
    summary = operator(s3_bucket).execute(context)
    records = jsonl_records(read_object(s3, s3_bucket, KEY))
    assert len(records) == 250
    assert {record["id"] for record in records} == set(apollo_connection.contacts)
    contacts = apollo_connection.contacts  # a snapshot: the property renders every contact
    for record in records:
        assert record == contacts[record["id"]]
    assert summary == {"s3_uri": f"s3://{s3_bucket}/{KEY}", "record_count": 250, "ids_uri": None}
    assert list(export_tmp.iterdir()) == []


def test_csv_has_the_documented_columns_with_nested_fields_as_json(
    apollo_connection: ApolloEmulator, s3_bucket: str, s3: Any, context: dict[str, Any]
) -> None:
    apollo_connection.seed_contacts(150)
    operator(s3_bucket, "contacts.csv", file_format="csv").execute(context)
    rows = list(csv.reader(io.StringIO(read_object(s3, s3_bucket, "contacts.csv").decode("utf-8"))))
    assert tuple(rows[0]) == CONTACT_COLUMN_NAMES
    assert len(rows) == 151
    kinds = dict(CONTACT_COLUMNS)
    contacts = apollo_connection.contacts
    for row in rows[1:]:
        cells = dict(zip(rows[0], row, strict=True))
        contact = contacts[cells["id"]]
        for name, kind in kinds.items():
            expected = flat_value(contact.get(name), kind)
            expected_text = "" if expected is None else str(expected)
            assert cells[name] == expected_text, name
        assert json.loads(cells["phone_numbers"]) == contact["phone_numbers"]
        assert json.loads(cells["typed_custom_fields"]) == contact["typed_custom_fields"]


def test_keyword_search_to_csv(
    apollo_connection: ApolloEmulator, s3_bucket: str, s3: Any, context: dict[str, Any]
) -> None:
    apollo_connection.seed_contacts(600)
    # [START howto_transfer_apollo_to_s3]
    export_contacts = ApolloSearchToS3Operator(
        task_id="export_contacts",
        s3_bucket=s3_bucket,
        s3_key="apollo/engineers.csv",  # CSV, as its suffix says (or pass file_format="csv")
        search={"q_keywords": "engineer"},
    )
    # [END howto_transfer_apollo_to_s3]
    summary = export_contacts.execute(context)
    expected = [
        contact_id
        for contact_id, contact in apollo_connection.contacts.items()
        if "engineer" in (contact["title"] or "").lower()
    ]
    assert 0 < len(expected) < 600
    assert summary == {
        "s3_uri": f"s3://{s3_bucket}/apollo/engineers.csv",
        "record_count": len(expected),
        "ids_uri": None,
    }
    rows = list(csv.DictReader(io.StringIO(read_object(s3, s3_bucket, "apollo/engineers.csv").decode())))
    assert [row["id"] for row in rows] == expected


def test_parquet_has_a_fixed_schema_and_one_row_group_per_batch(
    apollo_connection: ApolloEmulator,
    s3_bucket: str,
    s3: Any,
    context: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import pyarrow.parquet as pq

    monkeypatch.setattr(_writers, "PARQUET_ROW_GROUP_SIZE", 100)
    apollo_connection.seed_contacts(250)
    operator(s3_bucket, "contacts.parquet", file_format="parquet").execute(context)
    parquet = pq.ParquetFile(io.BytesIO(read_object(s3, s3_bucket, "contacts.parquet")))
    assert parquet.metadata.num_row_groups == 3
    assert tuple(parquet.schema_arrow.names) == CONTACT_COLUMN_NAMES
    assert str(parquet.schema_arrow.field("email_unsubscribed").type) == "bool"
    rows = parquet.read().to_pylist()
    contacts = apollo_connection.contacts
    assert {row["id"] for row in rows} == set(contacts)
    for row in rows:
        contact = contacts[row["id"]]
        assert row == {name: flat_value(contact.get(name), kind) for name, kind in CONTACT_COLUMNS}


@pytest.mark.parametrize("file_format", ["jsonl", "csv"])
def test_gzip_compresses_the_object(
    apollo_connection: ApolloEmulator, s3_bucket: str, s3: Any, context: dict[str, Any], file_format: str
) -> None:
    apollo_connection.seed_contacts(120)
    key = f"contacts.{file_format}.gz"
    operator(s3_bucket, key, file_format=file_format, compression="gzip").execute(context)
    raw = read_object(s3, s3_bucket, key)
    assert raw[:2] == b"\x1f\x8b"
    text = gzip.decompress(raw).decode("utf-8")
    if file_format == "jsonl":
        assert {json.loads(line)["id"] for line in text.splitlines()} == set(apollo_connection.contacts)
    else:
        rows = list(csv.DictReader(io.StringIO(text)))
        assert {row["id"] for row in rows} == set(apollo_connection.contacts)


def test_parquet_gzip_uses_the_parquet_codec(
    apollo_connection: ApolloEmulator, s3_bucket: str, s3: Any, context: dict[str, Any]
) -> None:
    import pyarrow.parquet as pq

    apollo_connection.seed_contacts(50)
    operator(s3_bucket, "c.parquet", file_format="parquet", compression="gzip").execute(context)
    parquet = pq.ParquetFile(io.BytesIO(read_object(s3, s3_bucket, "c.parquet")))
    assert parquet.metadata.row_group(0).column(0).compression == "GZIP"
    assert parquet.metadata.num_rows == 50


def test_parquet_without_pyarrow_names_the_extra_before_any_request(
    apollo_connection: ApolloEmulator,
    s3_bucket: str,
    s3: Any,
    context: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    apollo_connection.seed_contacts(10)
    # None in sys.modules makes `import pyarrow` raise ImportError, as on a machine without it.
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(ImportError, match=r"pip install 'airflow-provider-apollo\[parquet\]'"):
        operator(s3_bucket, "c.parquet", file_format="parquet").execute(context)
    assert apollo_connection.request_count() == 0
    assert keys_in(s3, s3_bucket) == []


# --------------------------------------------------------------------------- complete or nothing


def _fail_after_pages(emulator: ApolloEmulator, pages: int, failure: str) -> threading.Thread:
    """Break the API once ``pages`` search pages were received: a 5xx outage or a revoked key."""
    # Slow pages down so the export is still running when the failure lands.
    emulator.add_fault("delay", delay=0.05, path="/contacts/search", count=None)

    def break_api() -> None:
        deadline = time.monotonic() + 30
        while emulator.request_count("/contacts/search") < pages and time.monotonic() < deadline:
            time.sleep(0.005)
        if failure == "5xx":
            emulator.clear_faults()
            emulator.add_fault("status", status=500, path="/contacts/search", count=None)
        else:
            emulator.api_key = "revoked-key"

    thread = threading.Thread(target=break_api, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("failure", ["5xx", "revoked"])
def test_failure_midway_leaves_no_object_and_no_temp_file(
    fast_retries: ApolloEmulator,
    s3_bucket: str,
    s3: Any,
    context: dict[str, Any],
    export_tmp: Path,
    failure: str,
) -> None:
    fast_retries.seed_contacts(2000)
    thread = _fail_after_pages(fast_retries, 3, failure)
    with pytest.raises(ApolloApiError) as raised:
        operator(s3_bucket).execute(context)
    thread.join()
    assert raised.value.status_code == (500 if failure == "5xx" else 401)
    # Pages were read (and written to the temp file) before the failure.
    assert fast_retries.request_count("/contacts/search") >= 3
    assert keys_in(s3, s3_bucket) == []
    assert list(export_tmp.iterdir()) == []
    assert context["ti"].xcoms == {}


def test_failure_keeps_the_previous_object_intact(
    fast_retries: ApolloEmulator, s3_bucket: str, s3: Any, context: dict[str, Any]
) -> None:
    s3.put_object(Bucket=s3_bucket, Key=KEY, Body=b'{"id": "yesterday"}\n')
    fast_retries.seed_contacts(2000)
    thread = _fail_after_pages(fast_retries, 2, "5xx")
    with pytest.raises(ApolloApiError):
        operator(s3_bucket).execute(context)
    thread.join()
    assert read_object(s3, s3_bucket, KEY) == b'{"id": "yesterday"}\n'


def test_replace_false_with_an_existing_object_fails_before_any_api_call(
    apollo_connection: ApolloEmulator, s3_bucket: str, s3: Any, context: dict[str, Any]
) -> None:
    apollo_connection.seed_contacts(10)
    s3.put_object(Bucket=s3_bucket, Key=KEY, Body=b"old")
    with pytest.raises(Exception, match="already exists and replace=False"):
        operator(s3_bucket, replace=False).execute(context)
    assert apollo_connection.request_count() == 0
    assert read_object(s3, s3_bucket, KEY) == b"old"


def test_replace_false_writes_a_new_key(
    apollo_connection: ApolloEmulator, s3_bucket: str, s3: Any, context: dict[str, Any]
) -> None:
    apollo_connection.seed_contacts(10)
    operator(s3_bucket, replace=False).execute(context)
    assert len(jsonl_records(read_object(s3, s3_bucket, KEY))) == 10


def test_replace_true_overwrites(
    apollo_connection: ApolloEmulator, s3_bucket: str, s3: Any, context: dict[str, Any]
) -> None:
    apollo_connection.seed_contacts(10)
    s3.put_object(Bucket=s3_bucket, Key=KEY, Body=b"old")
    operator(s3_bucket).execute(context)
    assert len(jsonl_records(read_object(s3, s3_bucket, KEY))) == 10


def test_contacts_shifting_between_pages_are_exported_once(
    apollo_connection: ApolloEmulator, s3_bucket: str, s3: Any, context: dict[str, Any]
) -> None:
    original = set(apollo_connection.seed_contacts(300))
    # Newest-created first: contacts created while paging land at the front and push every later
    # record down, so page 2 starts with the last records of page 1.
    apollo_connection.add_fault("delay", delay=0.3, path="/contacts/search", count=None)
    session = requests.Session()
    session.headers.update({"x-api-key": apollo_connection.api_key, "Content-Type": "application/json"})

    def create_during_page_two() -> None:
        while apollo_connection.request_count("/contacts/search") < 2:
            time.sleep(0.002)
        for index in range(15):
            response = session.post(
                apollo_connection.url + "/contacts",
                data=json.dumps({"first_name": "New", "last_name": f"Lead{index}"}),
                timeout=10,
            )
            response.raise_for_status()

    thread = threading.Thread(target=create_during_page_two, daemon=True)
    thread.start()
    ids = operator(s3_bucket, search={"sort_by_field": "contact_created_at"}, push_contact_ids=True).execute(
        context
    )
    thread.join()
    records = jsonl_records(read_object(s3, s3_bucket, KEY))
    exported = [record["id"] for record in records]
    assert len(apollo_connection.contacts) == 315
    assert len(exported) == len(set(exported))
    assert set(exported) == original
    assert ids == exported
    assert context["ti"].xcoms["record_count"] == 300


# --------------------------------------------------------------------------- the 50,000 cap


@pytest.mark.slow
def test_search_over_the_cap_is_exported_stage_by_stage(
    apollo_connection: ApolloEmulator, s3_bucket: str, s3: Any, context: dict[str, Any]
) -> None:
    apollo_connection.seed_contacts(SEARCH_RESULT_CAP, stage="Cold")
    apollo_connection.seed_contacts(1000, stage="Replied")
    apollo_connection.seed_contacts(300, stage="Interested")
    summary = operator(s3_bucket, concurrency=4).execute(context)
    assert summary == {"s3_uri": f"s3://{s3_bucket}/{KEY}", "record_count": 51_300, "ids_uri": None}
    records = jsonl_records(read_object(s3, s3_bucket, KEY))
    exported = [record["id"] for record in records]
    assert len(exported) == 51_300 == len(set(exported))
    assert set(exported) == set(apollo_connection.contacts)
    assert context["ti"].xcoms["record_count"] == 51_300


@pytest.mark.slow
def test_stage_slicing_keeps_the_users_stage_filter(
    apollo_connection: ApolloEmulator, s3_bucket: str, s3: Any, context: dict[str, Any]
) -> None:
    cold = set(apollo_connection.seed_contacts(SEARCH_RESULT_CAP, stage="Cold"))
    replied = set(apollo_connection.seed_contacts(700, stage="Replied"))
    apollo_connection.seed_contacts(400, stage="Interested")
    stage_ids = [apollo_connection.stage_id("Cold"), apollo_connection.stage_id("Replied")]
    ids = operator(
        s3_bucket,
        search={"contact_stage_ids": stage_ids},
        concurrency=4,
        push_contact_ids=True,
        max_returned_ids=60_000,
    ).execute(context)
    assert ids is not None
    assert len(ids) == len(set(ids)) == 50_700
    assert set(ids) == cold | replied
    searched_stages = {
        tuple(request.body.get("contact_stage_ids") or ())
        for request in apollo_connection.requests
        if request.path.endswith("/contacts/search")
    }
    assert (apollo_connection.stage_id("Interested"),) not in searched_stages


def test_a_stage_over_the_cap_fails_before_reading_or_uploading(
    apollo_connection: ApolloEmulator, s3_bucket: str, s3: Any, context: dict[str, Any], export_tmp: Path
) -> None:
    apollo_connection.seed_contacts(SEARCH_RESULT_CAP + 1, stage="Cold")
    apollo_connection.seed_contacts(10, stage="Replied")
    with pytest.raises(ApolloSearchCapError) as raised:
        operator(s3_bucket).execute(context)
    message = str(raised.value)
    assert "'Cold' (50,001)" in message
    assert "contact_label_ids" in message and "q_keywords" in message and "several tasks" in message
    assert raised.value.total_entries == SEARCH_RESULT_CAP + 11
    # Only counts (one record each) and the first page of the whole search were fetched.
    full_pages = [
        request
        for request in apollo_connection.requests
        if request.path.endswith("/contacts/search") and request.body.get("per_page") != 1
    ]
    assert len(full_pages) == 1
    assert keys_in(s3, s3_bucket) == []
    assert list(export_tmp.iterdir()) == []


def test_slice_by_stage_false_refuses_a_search_over_the_cap(
    apollo_connection: ApolloEmulator, s3_bucket: str, s3: Any, context: dict[str, Any]
) -> None:
    apollo_connection.seed_contacts(SEARCH_RESULT_CAP + 5)
    with pytest.raises(ApolloSearchCapError, match="slice_by_stage=False"):
        operator(s3_bucket, slice_by_stage=False).execute(context)
    assert apollo_connection.request_count("/contact_stages") == 0
    assert keys_in(s3, s3_bucket) == []


def test_contacts_without_a_stage_fail_instead_of_being_lost(
    apollo_connection: ApolloEmulator, s3_bucket: str, s3: Any, context: dict[str, Any]
) -> None:
    apollo_connection.seed_contacts(SEARCH_RESULT_CAP, stage="Cold")
    stageless = apollo_connection.seed_contacts(20, stage="Replied")
    # Apollo's API cannot clear a stage; a contact imported without one is set up in the store directly.
    for contact_id in stageless:
        apollo_connection._live[contact_id].contact_stage_id = None  # type: ignore[assignment]
    apollo_connection._version += 1
    with pytest.raises(Exception, match="cover only 50,000") as raised:
        operator(s3_bucket).execute(context)
    assert "20 contacts have no stage" in str(raised.value)
    assert keys_in(s3, s3_bucket) == []


def test_max_records_reads_only_the_first_contacts(
    apollo_connection: ApolloEmulator, s3_bucket: str, s3: Any, context: dict[str, Any]
) -> None:
    apollo_connection.seed_contacts(SEARCH_RESULT_CAP + 100)
    ids = operator(s3_bucket, max_records=250, push_contact_ids=True).execute(context)
    assert ids is not None and len(ids) == 250
    assert ids == list(apollo_connection.contacts)[:250]
    assert apollo_connection.request_count("/contacts/search") == 3


# --------------------------------------------------------------------------- incremental sync


def test_updated_since_exports_only_contacts_updated_after_the_watermark(
    apollo_connection: ApolloEmulator, s3_bucket: str, s3: Any, context: dict[str, Any]
) -> None:
    apollo_connection.seed_contacts(1000)
    contacts = apollo_connection.contacts
    times = sorted(updated_at(contact) for contact in contacts.values())
    watermark = times[-180]
    ids = operator(s3_bucket, updated_since=watermark.isoformat(), push_contact_ids=True).execute(context)
    expected = {contact_id for contact_id, contact in contacts.items() if updated_at(contact) >= watermark}
    assert len(expected) == 180
    assert ids is not None and set(ids) == expected and len(ids) == 180
    exported_times = [updated_at(record) for record in jsonl_records(read_object(s3, s3_bucket, KEY))]
    assert exported_times == sorted(exported_times, reverse=True)
    # Reading stopped at the watermark: 2 of the search's 10 pages.
    assert apollo_connection.request_count("/contacts/search") == 2


def test_updated_since_accepts_a_datetime_and_reads_past_the_cap_without_slicing(
    apollo_connection: ApolloEmulator, s3_bucket: str, s3: Any, context: dict[str, Any]
) -> None:
    apollo_connection.seed_contacts(SEARCH_RESULT_CAP + 500)
    contacts = apollo_connection.contacts
    watermark = max(updated_at(contact) for contact in contacts.values()) - datetime.timedelta(days=2)
    ids = operator(s3_bucket, updated_since=watermark, push_contact_ids=True).execute(context)
    assert ids
    assert set(ids) == {i for i, contact in contacts.items() if updated_at(contact) >= watermark}
    assert apollo_connection.request_count("/contact_stages") == 0


def test_updated_since_not_reached_within_the_cap_fails_without_slicing(
    apollo_connection: ApolloEmulator, s3_bucket: str, s3: Any, context: dict[str, Any], export_tmp: Path
) -> None:
    apollo_connection.seed_contacts(SEARCH_RESULT_CAP + 50)
    with pytest.raises(ApolloSearchCapError, match="updated_since") as raised:
        operator(
            s3_bucket, updated_since="2000-01-01T00:00:00+00:00", slice_by_stage=False, concurrency=4
        ).execute(context)
    assert "slice_by_stage=True" in str(raised.value)
    assert keys_in(s3, s3_bucket) == []
    assert list(export_tmp.iterdir()) == []


@pytest.mark.slow
def test_updated_since_not_reached_within_the_cap_slices_by_stage(
    apollo_connection: ApolloEmulator, s3_bucket: str, s3: Any, context: dict[str, Any]
) -> None:
    apollo_connection.seed_contacts(SEARCH_RESULT_CAP - 100, stage="Cold")
    apollo_connection.seed_contacts(600, stage="Replied")
    ids = operator(
        s3_bucket, updated_since="2000-01-01", concurrency=4, push_contact_ids=True, max_returned_ids=60_000
    ).execute(context)
    assert ids is not None and len(ids) == len(set(ids)) == SEARCH_RESULT_CAP + 500
    assert set(ids) == set(apollo_connection.contacts)


def test_updated_since_rejects_a_conflicting_sort(
    apollo_connection: ApolloEmulator, s3_bucket: str, context: dict[str, Any]
) -> None:
    op = operator(s3_bucket, search={"sort_by_field": "contact_created_at"}, updated_since="2024-01-01")
    with pytest.raises(ValueError, match="sort_by_field"):
        op.execute(context)
    assert apollo_connection.request_count() == 0


# --------------------------------------------------------------------------- XCom, progress, arguments


def test_xcom_values(
    apollo_connection: ApolloEmulator,
    s3_bucket: str,
    context: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    apollo_connection.seed_contacts(130)
    summary = operator(s3_bucket, "dt=2024-05-01/contacts.jsonl").execute(context)
    uri = f"s3://{s3_bucket}/dt=2024-05-01/contacts.jsonl"
    assert summary == {"s3_uri": uri, "record_count": 130, "ids_uri": None}
    assert context["ti"].xcoms == {"s3_uri": uri, "record_count": 130}
    assert apollo_connection.api_key not in json.dumps([summary, context["ti"].xcoms])


def test_push_contact_ids_returns_the_ids_in_file_order_and_still_pushes_the_count(
    apollo_connection: ApolloEmulator, s3_bucket: str, s3: Any, context: dict[str, Any]
) -> None:
    apollo_connection.seed_contacts(130)
    ids = operator(s3_bucket, push_contact_ids=True).execute(context)
    assert ids == list(apollo_connection.contacts)
    assert ids == [record["id"] for record in jsonl_records(read_object(s3, s3_bucket, KEY))]
    assert context["ti"].xcoms == {"s3_uri": f"s3://{s3_bucket}/{KEY}", "record_count": 130}


def test_an_empty_search_uploads_an_empty_file(
    apollo_connection: ApolloEmulator, s3_bucket: str, s3: Any, context: dict[str, Any]
) -> None:
    summary = operator(s3_bucket, "empty.csv").execute(context)
    assert summary == {"s3_uri": f"s3://{s3_bucket}/empty.csv", "record_count": 0, "ids_uri": None}
    assert operator(s3_bucket, "empty.csv", push_contact_ids=True).execute(context) == []
    assert read_object(s3, s3_bucket, "empty.csv").decode().strip() == ",".join(CONTACT_COLUMN_NAMES)
    assert context["ti"].xcoms["record_count"] == 0


@requires_structlog_task_logs
def test_progress_is_logged_every_n_pages(
    apollo_connection: ApolloEmulator, s3_bucket: str, context: dict[str, Any]
) -> None:
    from structlog.testing import capture_logs

    apollo_connection.seed_contacts(450)
    # Airflow 3 task loggers are structlog loggers: capture their events, not stdlib records.
    with capture_logs() as events:
        operator(s3_bucket, log_every_pages=2).execute(context)
    messages = [str(event["event"]) for event in events]
    progress = [message for message in messages if message.startswith("Export progress")]
    assert len(progress) == 2  # pages 2 and 4 of 5
    assert progress[0].startswith(
        "Export progress: 200 contacts so far, page 2 of 5 of the search (450 contacts)"
    )
    assert progress[1].startswith("Export progress: 400 contacts so far, page 4 of 5")
    assert all(message.endswith("records/s") for message in progress)
    assert any(message.startswith("Exported 450 contacts to s3://") for message in messages)
    assert all(apollo_connection.api_key not in message for message in messages)


def test_concurrent_pages_export_the_same_file(
    apollo_connection: ApolloEmulator, s3_bucket: str, s3: Any, context: dict[str, Any]
) -> None:
    apollo_connection.seed_contacts(1234)
    ids = operator(s3_bucket, concurrency=4, push_contact_ids=True).execute(context)
    assert ids == list(apollo_connection.contacts)
    assert [r["id"] for r in jsonl_records(read_object(s3, s3_bucket, KEY))] == ids


def test_construction_touches_no_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_APOLLO_DEFAULT", raising=False)
    op = ApolloSearchToS3Operator(task_id="export", s3_bucket="b", s3_key="k", apollo_conn_id="missing")
    assert "hook" not in op.__dict__ and "s3_hook" not in op.__dict__
    assert op.template_fields == (
        "s3_bucket",
        "s3_key",
        "search",
        "updated_since",
        "updated_before",
        "ids_key",
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"file_format": "xlsx"}, "file_format must be one of jsonl, csv, parquet"),
        ({"compression": "zstd"}, "compression must be None or 'gzip'"),
        ({"max_records": -1}, "max_records must be"),
        ({"concurrency": 0}, "concurrency must be an integer from 1 to 8"),
        ({"log_every_pages": 0}, "log_every_pages must be a positive integer"),
    ],
)
def test_bad_arguments_fail_at_construction(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ApolloSearchToS3Operator(task_id="export", s3_bucket="b", s3_key="k", **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"search": ["q_keywords"]}, "search must be a dict"),
        ({"s3_key": ""}, "s3_key must be a non-empty string"),
        ({"s3_key": "s3://b/k"}, "s3_key must be a key inside s3_bucket"),
        ({"updated_since": "soon"}, "updated_since must be an ISO 8601"),
    ],
)
def test_bad_rendered_arguments_fail_before_any_request(
    apollo_connection: ApolloEmulator,
    s3_bucket: str,
    context: dict[str, Any],
    kwargs: dict[str, Any],
    message: str,
) -> None:
    arguments = {"s3_key": KEY, **kwargs}
    with pytest.raises(ValueError, match=message):
        ApolloSearchToS3Operator(task_id="export", s3_bucket=s3_bucket, **arguments).execute(context)
    assert apollo_connection.request_count() == 0


# --------------------------------------------------------------------------- lineage


def test_lineage_without_the_openlineage_provider_is_none(
    apollo_connection: ApolloEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "airflow.providers.openlineage.extractors", None)
    op = operator("bucket")
    assert op.get_openlineage_facets_on_complete(task_instance=None) is None


def test_lineage_names_apollo_contacts_and_the_s3_object(apollo_connection: ApolloEmulator) -> None:
    # The test extra installs the OpenLineage provider, so this runs rather than skips.
    import airflow.providers.openlineage.extractors  # noqa: F401

    lineage = operator("bucket", "dt=2024-05-01/contacts.jsonl").get_openlineage_facets_on_complete(None)
    host = apollo_connection.url.split("/")[2]
    assert [(d.namespace, d.name) for d in lineage.inputs] == [(f"apollo://{host}", "contacts")]
    assert [(d.namespace, d.name) for d in lineage.outputs] == [
        ("s3://bucket", "dt=2024-05-01/contacts.jsonl")
    ]


# --------------------------------------------------------------------------- the interval [updated_since, updated_before)


def _interval(contacts: dict[str, dict[str, Any]]) -> tuple[datetime.datetime, datetime.datetime]:
    """An interval whose bounds are two contacts' update times: 40% of contacts before, 20% inside."""
    times = sorted(updated_at(contact) for contact in contacts.values())
    return times[len(times) * 2 // 5], times[len(times) * 3 // 5]


def test_updated_before_keeps_exactly_the_contacts_updated_in_the_interval(
    apollo_connection: ApolloEmulator, s3_bucket: str, s3: Any, context: dict[str, Any]
) -> None:
    from airflow_provider_apollo.hooks.apollo import ApolloHook

    apollo_connection.seed_contacts(1000)
    start, end = _interval(apollo_connection.contacts)
    # Contacts changed today: updated after the interval, whatever they were before.
    hook = ApolloHook()
    changed_today = set(list(apollo_connection.contacts)[:5])
    for contact_id in changed_today:
        hook.update_contact(contact_id, {"title": "Changed today"})
    contacts = apollo_connection.contacts
    ids = operator(
        s3_bucket, updated_since=start.isoformat(), updated_before=end.isoformat(), push_contact_ids=True
    ).execute(context)
    inside = {i for i, contact in contacts.items() if start <= updated_at(contact) < end}
    before = {i for i, contact in contacts.items() if updated_at(contact) < start}
    after = {i for i, contact in contacts.items() if updated_at(contact) >= end}
    assert len(inside) == 200 and len(before) >= 390 and len(after) >= 400
    assert changed_today <= after
    records = jsonl_records(read_object(s3, s3_bucket, KEY))
    assert {record["id"] for record in records} == inside and len(records) == 200
    assert ids == [record["id"] for record in records]
    # The bounds: the contact updated exactly at start is in, the one updated exactly at end is out.
    times = {updated_at(record) for record in records}
    assert start in times and end not in times
    assert context["ti"].xcoms["record_count"] == 200


def test_rerunning_an_old_interval_writes_the_same_file(
    apollo_connection: ApolloEmulator, s3_bucket: str, s3: Any, context: dict[str, Any]
) -> None:
    from airflow_provider_apollo.hooks.apollo import ApolloHook

    apollo_connection.seed_contacts(600)
    start, end = _interval(apollo_connection.contacts)
    arguments = {"updated_since": start.isoformat(), "updated_before": end.isoformat(), "file_format": "csv"}
    operator(s3_bucket, "dt=old/contacts.csv", **arguments).execute(context)
    first = read_object(s3, s3_bucket, "dt=old/contacts.csv")
    # Later changes: contacts updated before the interval change again today, new contacts arrive.
    hook = ApolloHook()
    older = [i for i, contact in apollo_connection.contacts.items() if updated_at(contact) < start]
    for contact_id in older[:10]:
        hook.update_contact(contact_id, {"title": "Changed later"})
    hook.bulk_create_contacts([{"first_name": "New", "last_name": f"Lead{n}"} for n in range(10)])
    operator(s3_bucket, "dt=old/contacts.csv", **arguments).execute(context)
    assert read_object(s3, s3_bucket, "dt=old/contacts.csv") == first
    assert first.count(b"\n") == 1 + 120


def test_updated_before_alone_skips_later_contacts(
    apollo_connection: ApolloEmulator, s3_bucket: str, context: dict[str, Any]
) -> None:
    apollo_connection.seed_contacts(300)
    contacts = apollo_connection.contacts
    _, end = _interval(contacts)
    ids = operator(s3_bucket, updated_before=end, push_contact_ids=True).execute(context)
    assert ids is not None
    assert set(ids) == {i for i, contact in contacts.items() if updated_at(contact) < end}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"updated_before": "whenever"}, "updated_before must be an ISO 8601"),
        (
            {"updated_since": "2024-05-02", "updated_before": "2024-05-01"},
            "updated_before must be later than updated_since",
        ),
        (
            {"updated_before": "2024-05-01", "search": {"sort_by_field": "contact_created_at"}},
            "sort_by_field",
        ),
        ({"ids_key": "s3://b/ids.txt"}, "ids_key must be a key inside s3_bucket"),
        ({"ids_key": KEY}, "ids_key must differ from s3_key"),
    ],
)
def test_bad_bounds_and_ids_key_fail_before_any_request(
    apollo_connection: ApolloEmulator,
    s3_bucket: str,
    context: dict[str, Any],
    kwargs: dict[str, Any],
    message: str,
) -> None:
    with pytest.raises(ApolloArgumentError, match=message):
        operator(s3_bucket, **kwargs).execute(context)
    assert apollo_connection.request_count() == 0


# --------------------------------------------------------------------------- stage names


def test_search_by_stage_names_exports_those_stages(
    apollo_connection: ApolloEmulator, s3_bucket: str, context: dict[str, Any]
) -> None:
    apollo_connection.seed_contacts(400)
    wanted = {apollo_connection.stage_id("Replied"), apollo_connection.stage_id("Interested")}
    ids = operator(
        s3_bucket, search={"contact_stages": ["Replied", "interested"]}, push_contact_ids=True
    ).execute(context)
    expected = [i for i, c in apollo_connection.contacts.items() if c["contact_stage_id"] in wanted]
    assert expected and ids == expected
    # Names resolved once per run, before the search; Apollo received ids, never names.
    assert apollo_connection.request_count("/contact_stages") == 1
    searches = [r for r in apollo_connection.requests if r.path.endswith("/contacts/search")]
    assert all(
        set(r.body["contact_stage_ids"]) == wanted and "contact_stages" not in r.body for r in searches
    )


def test_an_unknown_stage_name_fails_before_any_search_listing_the_stages(
    apollo_connection: ApolloEmulator, s3_bucket: str, s3: Any, context: dict[str, Any]
) -> None:
    apollo_connection.seed_contacts(20)
    with pytest.raises(ApolloArgumentError, match="Repiled") as raised:
        operator(s3_bucket, search={"contact_stages": ["Replied", "Repiled"]}).execute(context)
    assert "Replied" in str(raised.value) and "Interested" in str(raised.value)
    assert apollo_connection.request_count("/contacts/search") == 0
    assert keys_in(s3, s3_bucket) == []


# --------------------------------------------------------------------------- the return value: a summary, or the ids when asked


def uploads_in(s3: Any, bucket: str) -> list[str]:
    return [upload["Key"] for upload in s3.list_multipart_uploads(Bucket=bucket).get("Uploads") or []]


def test_a_default_export_above_max_returned_ids_succeeds_and_returns_the_summary(
    apollo_connection: ApolloEmulator, s3_bucket: str, s3: Any, context: dict[str, Any]
) -> None:
    apollo_connection.seed_contacts(1000)
    # max_returned_ids bounds only the ids asked for with push_contact_ids=True.
    summary = operator(s3_bucket, max_returned_ids=150).execute(context)
    assert summary == {"s3_uri": f"s3://{s3_bucket}/{KEY}", "record_count": 1000, "ids_uri": None}
    assert len(jsonl_records(read_object(s3, s3_bucket, KEY))) == 1000
    assert apollo_connection.request_count("/contacts/search") == 10


def test_a_default_export_of_more_than_10000_contacts_succeeds(
    apollo_connection: ApolloEmulator, s3_bucket: str, s3: Any, context: dict[str, Any]
) -> None:
    apollo_connection.seed_contacts(DEFAULT_MAX_RETURNED_IDS + 1)
    summary = ApolloSearchToS3Operator(task_id="export", s3_bucket=s3_bucket, s3_key=KEY).execute(context)
    assert summary == {
        "s3_uri": f"s3://{s3_bucket}/{KEY}",
        "record_count": DEFAULT_MAX_RETURNED_IDS + 1,
        "ids_uri": None,
    }
    exported = [record["id"] for record in jsonl_records(read_object(s3, s3_bucket, KEY))]
    assert exported == list(apollo_connection.contacts)


# About 10 s (6.5 s of it the export): slow, as the other 50,000-contact tests, so mutation runs skip it.
@pytest.mark.slow
def test_a_default_export_of_50000_contacts_succeeds(
    apollo_connection: ApolloEmulator, s3_bucket: str, s3: Any, context: dict[str, Any]
) -> None:
    apollo_connection.seed_contacts(SEARCH_RESULT_CAP)
    summary = ApolloSearchToS3Operator(task_id="export", s3_bucket=s3_bucket, s3_key=KEY).execute(context)
    assert summary == {
        "s3_uri": f"s3://{s3_bucket}/{KEY}",
        "record_count": SEARCH_RESULT_CAP,
        "ids_uri": None,
    }
    # One request a page of 100, nothing else: no count, no stage list.
    assert apollo_connection.request_count() == apollo_connection.request_count("/contacts/search") == 500
    exported = [record["id"] for record in jsonl_records(read_object(s3, s3_bucket, KEY))]
    assert len(exported) == SEARCH_RESULT_CAP and set(exported) == set(apollo_connection.contacts)


@pytest.mark.parametrize("concurrency", [1, 4])
def test_push_contact_ids_above_the_bound_fails_on_the_first_page_and_uploads_nothing(
    apollo_connection: ApolloEmulator,
    s3_bucket: str,
    s3: Any,
    context: dict[str, Any],
    export_tmp: Path,
    concurrency: int,
) -> None:
    apollo_connection.seed_contacts(1000)
    with pytest.raises(ApolloArgumentError, match="max_returned_ids=150") as raised:
        operator(s3_bucket, push_contact_ids=True, max_returned_ids=150, concurrency=concurrency).execute(
            context
        )
    message = str(raised.value)
    assert "matches 1,000 contacts" in message and "nothing was uploaded" in message
    assert "push_contact_ids" in message and "ids_key=" in message
    # Not retried by Airflow: a retry cannot make the ids fit.
    assert isinstance(raised.value, AirflowFailException)
    # The first page told the total; no other page was asked for, even with pages fetched ahead.
    assert apollo_connection.request_count("/contacts/search") == 1
    assert keys_in(s3, s3_bucket) == [] and uploads_in(s3, s3_bucket) == []
    assert list(export_tmp.iterdir()) == []
    assert context["ti"].xcoms == {}


def test_push_contact_ids_above_the_cap_fails_before_slicing(
    apollo_connection: ApolloEmulator, s3_bucket: str, s3: Any, context: dict[str, Any]
) -> None:
    apollo_connection.seed_contacts(SEARCH_RESULT_CAP + 10)
    with pytest.raises(ApolloArgumentError, match="max_returned_ids=10,000") as raised:
        operator(s3_bucket, push_contact_ids=True).execute(context)
    assert "matches 50,010 contacts" in str(raised.value)
    # The first page only: no stage list, no per-stage counts.
    assert apollo_connection.request_count() == apollo_connection.request_count("/contacts/search") == 1
    assert keys_in(s3, s3_bucket) == [] and uploads_in(s3, s3_bucket) == []


def test_push_contact_ids_within_the_bound_or_max_records_returns_the_ids(
    apollo_connection: ApolloEmulator, s3_bucket: str, context: dict[str, Any]
) -> None:
    apollo_connection.seed_contacts(1000)
    assert operator(s3_bucket, push_contact_ids=True, max_returned_ids=1000).execute(context) == list(
        apollo_connection.contacts
    )
    # max_records caps what the export can hand out, so the search's larger total does not fail it.
    ids = operator(s3_bucket, push_contact_ids=True, max_returned_ids=150, max_records=150).execute(context)
    assert ids == list(apollo_connection.contacts)[:150]
    unbounded = operator(s3_bucket, push_contact_ids=True, max_returned_ids=None).execute(context)
    assert unbounded is not None and len(unbounded) == 1000


def test_push_contact_ids_with_updated_since_fails_once_the_ids_pass_the_bound(
    apollo_connection: ApolloEmulator, s3_bucket: str, s3: Any, context: dict[str, Any]
) -> None:
    # The search's total counts contacts outside the interval, so the bound is checked as pages come.
    apollo_connection.seed_contacts(1000)
    with pytest.raises(ApolloArgumentError, match="holds more than max_returned_ids=150"):
        operator(s3_bucket, updated_since="2000-01-01", push_contact_ids=True, max_returned_ids=150).execute(
            context
        )
    assert apollo_connection.request_count("/contacts/search") == 2
    assert keys_in(s3, s3_bucket) == [] and uploads_in(s3, s3_bucket) == []


def test_ids_key_writes_every_exported_id_beside_the_export(
    apollo_connection: ApolloEmulator, s3_bucket: str, s3: Any, context: dict[str, Any]
) -> None:
    apollo_connection.seed_contacts(250)
    ids_key = KEY + ".ids.txt"
    summary = operator(s3_bucket, ids_key=ids_key).execute(context)
    exported = [record["id"] for record in jsonl_records(read_object(s3, s3_bucket, KEY))]
    assert read_object(s3, s3_bucket, ids_key).decode().splitlines() == exported
    assert len(exported) == 250
    expected = {
        "s3_uri": f"s3://{s3_bucket}/{KEY}",
        "record_count": 250,
        "ids_uri": f"s3://{s3_bucket}/{ids_key}",
    }
    assert summary == expected
    assert context["ti"].xcoms == expected


def test_an_empty_export_writes_an_empty_ids_object(
    apollo_connection: ApolloEmulator, s3_bucket: str, s3: Any, context: dict[str, Any]
) -> None:
    operator(s3_bucket, ids_key="ids.txt").execute(context)
    assert read_object(s3, s3_bucket, "ids.txt") == b""


# --------------------------------------------------------------------------- the format from the key's suffix


def file_format_of(data: bytes) -> str:
    """What an exported object holds, told from its bytes."""
    if data.startswith(b"PAR1"):
        return "parquet"
    first = data.decode("utf-8").splitlines()[0]
    if first == ",".join(CONTACT_COLUMN_NAMES):
        return "csv"
    assert "id" in json.loads(first)
    return "jsonl"


@pytest.mark.parametrize(
    ("key", "compression", "expected"),
    [
        ("contacts.csv", None, "csv"),
        ("contacts.CSV.gz", "gzip", "csv"),
        ("contacts.ndjson", None, "jsonl"),
        ("contacts.jsonl.gz", "gzip", "jsonl"),
        ("contacts.parquet", None, "parquet"),
        ("contacts", None, "jsonl"),
        ("contacts.txt", None, "jsonl"),
    ],
)
def test_without_file_format_the_key_suffix_names_the_format(
    apollo_connection: ApolloEmulator,
    s3_bucket: str,
    s3: Any,
    context: dict[str, Any],
    key: str,
    compression: str | None,
    expected: str,
) -> None:
    apollo_connection.seed_contacts(20)
    operator(s3_bucket, key, compression=compression).execute(context)
    data = read_object(s3, s3_bucket, key)
    assert file_format_of(gzip.decompress(data) if compression else data) == expected


@pytest.mark.parametrize(
    ("key", "file_format", "named"),
    [
        ("contacts.parquet", "jsonl", "parquet"),
        ("contacts.csv.gz", "parquet", "csv"),
        ("contacts.json", "csv", "jsonl"),
    ],
)
def test_a_format_the_key_contradicts_fails_at_construction(
    apollo_connection: ApolloEmulator, key: str, file_format: str, named: str
) -> None:
    with pytest.raises(ApolloArgumentError) as raised:
        ApolloSearchToS3Operator(task_id="export", s3_bucket="b", s3_key=key, file_format=file_format)
    message = str(raised.value)
    assert f"file_format={file_format!r}" in message and f"s3_key={key!r}" in message
    assert f"names {named!r}" in message
    assert isinstance(raised.value, AirflowFailException)
    assert apollo_connection.request_count() == 0


def test_a_given_format_the_key_agrees_with_or_does_not_name_is_kept(
    apollo_connection: ApolloEmulator, s3_bucket: str, s3: Any, context: dict[str, Any]
) -> None:
    apollo_connection.seed_contacts(20)
    operator(s3_bucket, "contacts.json", file_format="jsonl").execute(context)
    operator(s3_bucket, "contacts.dat", file_format="csv").execute(context)
    assert file_format_of(read_object(s3, s3_bucket, "contacts.json")) == "jsonl"
    assert file_format_of(read_object(s3, s3_bucket, "contacts.dat")) == "csv"


def test_a_templated_key_names_the_format_when_rendered(
    apollo_connection: ApolloEmulator, s3_bucket: str, s3: Any, context: dict[str, Any]
) -> None:
    apollo_connection.seed_contacts(20)
    export = operator(s3_bucket, "{{ params.prefix }}/contacts.{{ params.suffix }}")
    export.render_template_fields({"params": {"prefix": "dt=2024-05-01", "suffix": "csv"}})
    summary = export.execute(context)
    assert summary["s3_uri"] == f"s3://{s3_bucket}/dt=2024-05-01/contacts.csv"
    assert file_format_of(read_object(s3, s3_bucket, "dt=2024-05-01/contacts.csv")) == "csv"


def test_a_templated_key_contradicting_the_format_fails_before_any_request(
    apollo_connection: ApolloEmulator, s3_bucket: str, s3: Any, context: dict[str, Any]
) -> None:
    apollo_connection.seed_contacts(20)
    # Built fine while the DAG is parsed: the key's suffix is known only once rendered.
    export = operator(s3_bucket, "{{ params.prefix }}/contacts.{{ params.suffix }}", file_format="jsonl")
    export.render_template_fields({"params": {"prefix": "dt=2024-05-01", "suffix": "parquet"}})
    with pytest.raises(ApolloArgumentError, match=r"file_format='jsonl' contradicts s3_key="):
        export.execute(context)
    assert apollo_connection.request_count() == 0
    assert keys_in(s3, s3_bucket) == [] and uploads_in(s3, s3_bucket) == []


# --------------------------------------------------------------------------- errors and package edges


@pytest.mark.parametrize(
    "kwargs",
    [{"file_format": "xlsx"}, {"compression": "zstd"}, {"max_records": -1}, {"max_returned_ids": -1}],
)
def test_bad_arguments_raise_the_argument_error_type(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ApolloArgumentError) as raised:
        ApolloSearchToS3Operator(task_id="export", s3_bucket="b", s3_key="k", **kwargs)
    assert isinstance(raised.value, ValueError) and isinstance(raised.value, AirflowFailException)


@pytest.mark.parametrize(
    "kwargs",
    [{"search": ["q_keywords"]}, {"s3_key": ""}, {"s3_key": "s3://b/k"}, {"updated_since": "soon"}],
)
def test_bad_rendered_arguments_fail_without_retries(
    apollo_connection: ApolloEmulator, s3_bucket: str, context: dict[str, Any], kwargs: dict[str, Any]
) -> None:
    arguments = {"s3_key": KEY, **kwargs}
    with pytest.raises(ApolloArgumentError) as raised:
        ApolloSearchToS3Operator(task_id="export", s3_bucket=s3_bucket, **arguments).execute(context)
    assert isinstance(raised.value, AirflowFailException)


@requires_structlog_task_logs
def test_the_operator_keeps_no_benchmark_attributes(
    apollo_connection: ApolloEmulator, s3_bucket: str, context: dict[str, Any]
) -> None:
    from structlog.testing import capture_logs

    apollo_connection.seed_contacts(20)
    op = operator(s3_bucket)
    with capture_logs() as events:
        op.execute(context)
    assert not {"read_seconds", "upload_seconds", "_seen", "_written"} & set(vars(op))
    # The phase timings are in the final log event instead.
    done = next(event for event in events if str(event["event"]).startswith("Exported 20 contacts"))
    assert done["read_seconds"] >= 0 and done["upload_seconds"] >= 0


# --------------------------------------------------------------------------- the spool and its parts


@pytest.fixture
def small_parts(monkeypatch: pytest.MonkeyPatch) -> int:
    """Parts of 64 KiB (and an S3 server that takes them), so a small export is uploaded in many parts."""
    import moto.s3.models

    part_size = 64 * 1024
    monkeypatch.setattr(apollo_to_s3, "PART_SIZE", part_size)
    monkeypatch.setattr(moto.s3.models, "S3_UPLOAD_PART_MIN_SIZE", part_size)
    return part_size


def test_a_spool_hands_back_its_bytes_part_by_part_as_streams(tmp_path: Path) -> None:
    spool = PartSpool(str(tmp_path / "spool"), initial=b"ab")
    # A wrapper closed on the spool ends its own stream, not the spool.
    with gzip.GzipFile(fileobj=spool, mode="wb") as compressed:
        compressed.write(b"x" * 10)
    spool.write(b"cd")
    whole = spool.whole_parts(7)
    parts = []
    for index in range(whole + 1):
        with spool.part(index, 7) as part:
            assert len(part) == (7 if index < whole else spool.tell() % 7)
            # boto3 reads a body to checksum it, then seeks back to send (or retry) it.
            first = part.read()
            assert part.seek(0) == 0 and part.read(3) + part.read() == first
            assert part.seek(0, io.SEEK_END) == len(part) and part.read() == b""
            parts.append(first)
    data = tmp_path.joinpath("spool").read_bytes()
    assert spool.tell() == len(data) == 2 + len(gzip.compress(b"x" * 10)) + 2 and whole == len(data) // 7
    assert data.startswith(b"ab") and data.endswith(b"cd") and gzip.decompress(data[2:-2]) == b"x" * 10
    assert b"".join(parts) == data and parts[-1] == spool.remainder(7)
    assert spool.remainder(len(data)) == b""
    spool.discard()


def test_a_large_export_is_uploaded_part_by_part_after_reading(
    apollo_connection: ApolloEmulator,
    s3_bucket: str,
    s3: Any,
    context: dict[str, Any],
    export_tmp: Path,
    small_parts: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    apollo_connection.seed_contacts(600)
    parts: list[tuple[int, int, int]] = []
    send_part = apollo_to_s3.send_part

    def recording(staging: Any, number: int, body: Any) -> list[Any]:
        # The part's number, its size, and how many searches had been answered when it went up.
        parts.append((number, len(body), apollo_connection.request_count("/contacts/search")))
        return send_part(staging, number, body)

    monkeypatch.setattr(apollo_to_s3, "send_part", recording)
    operator(s3_bucket).execute(context)
    data = read_object(s3, s3_bucket, KEY)
    assert [record["id"] for record in jsonl_records(data)] == list(apollo_connection.contacts)
    assert len(parts) == -(-len(data) // small_parts) > 3
    assert [number for number, _, _ in parts] == list(range(1, len(parts) + 1))
    assert {size for _, size, _ in parts[:-1]} == {small_parts}
    # One after another, once every page was read: none while the export was reading Apollo.
    assert {searches for _, _, searches in parts} == {6}
    assert list(export_tmp.iterdir()) == []


# --------------------------------------------------------------------------- quota waits: stage, defer, resume
# The export outlasts the hourly quota: it stages what it holds in S3, waits, resumes, and the result
# equals an uninterrupted run's; failures leave nothing behind.


def TaskInstance() -> TaskInstanceStub:  # noqa: N802 - reads as the class it stands for
    return TaskInstanceStub("export")


def run_with_deferrals(operator: Any, context: dict[str, Any]) -> tuple[Any, list[dict[str, Any]]]:
    """Run ``operator`` as Airflow does; its value and each deferral's trigger kwargs."""
    run = run_deferring(operator, context)
    assert all(time.time() >= kwargs["reset_at"] for kwargs in run.deferrals)
    return run.value, run.deferrals


SEARCH_PER_HOUR = 5
CONTACTS = 1_150  # 12 pages of 100, and one count: about three hours of a 5-an-hour quota


@pytest.fixture
def quota_emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[ApolloEmulator]:
    with ApolloEmulator(rate_limits={"hour": SEARCH_PER_HOUR}, time_scale=0.0005) as emulator:
        connection = {
            "conn_type": "apollo",
            "password": emulator.api_key,
            "host": emulator.url,
            "extra": {"max_retry_wait": 0.5, "max_retries": 2},
        }
        monkeypatch.setenv("AIRFLOW_CONN_APOLLO_DEFAULT", json.dumps(connection))
        emulator.seed_contacts(CONTACTS)
        yield emulator


def s3_client(endpoint: str) -> Any:
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")


def read_from(endpoint: str, bucket: str, key: str) -> bytes:
    return bytes(s3_client(endpoint).get_object(Bucket=bucket, Key=key)["Body"].read())


def leftovers(endpoint: str, bucket: str) -> tuple[list[str], list[str]]:
    client = s3_client(endpoint)
    staged = [
        o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents") or [] if "staging" in o["Key"]
    ]
    uploads = [u["Key"] for u in client.list_multipart_uploads(Bucket=bucket).get("Uploads") or []]
    return staged, uploads


def exported_records(data: bytes, file_format: str, compression: str | None) -> Any:
    if file_format == "parquet":
        import pyarrow.parquet as pq

        return pq.read_table(io.BytesIO(data)).to_pylist()
    text = (gzip.decompress(data) if compression else data).decode()
    return text


@pytest.mark.slow
@pytest.mark.parametrize(
    ("file_format", "compression"), [("jsonl", None), ("csv", None), ("jsonl", "gzip"), ("parquet", None)]
)
def test_an_export_needing_three_hours_of_quota_resumes_and_equals_an_uninterrupted_run(
    quota_emulator: ApolloEmulator,
    s3_bucket: str,
    aws_connection: str,
    file_format: str,
    compression: str | None,
) -> None:
    def export(key: str) -> tuple[Any, list[dict[str, Any]], dict[str, Any]]:
        ti = TaskInstance()
        operator = ApolloSearchToS3Operator(
            task_id="export",
            s3_bucket=s3_bucket,
            s3_key=key,
            file_format=file_format,
            compression=compression,
            ids_key=key + ".ids.txt",
            push_contact_ids=True,  # the ids, to compare a resumed run's with an uninterrupted one's
        )
        value, deferrals = run_with_deferrals(operator, {"ti": ti})
        return value, deferrals, ti.xcoms

    resumed, deferrals, xcoms = export("resumed")
    # Three hours of quota: two stops, or one when a loaded machine reads through an emulated hour
    # (1.8 s) before using it up.
    assert len(deferrals) >= 1
    # A cursor (holding at most one page of ids) and staged part names: no exported data.
    sizes = [len(json.dumps(d)) for d in deferrals]
    assert max(sizes) < 6_000, sizes
    search_429s = sum(
        1 for r in quota_emulator.requests if r.path.endswith("/contacts/search") and r.status == 429
    )
    search_200s = sum(
        1 for r in quota_emulator.requests if r.path.endswith("/contacts/search") and r.status == 200
    )
    # One 429 per exhausted hour, and calls within a few of an uninterrupted run's 13.
    assert search_429s == len(deferrals)
    assert search_200s <= 13 + len(deferrals)
    assert leftovers(aws_connection, s3_bucket) == ([], [])

    quota_emulator.rate_limiter.limits["hour"] = None
    whole, no_deferrals, whole_xcoms = export("whole")
    assert no_deferrals == []
    assert resumed == whole and len(resumed) == CONTACTS == xcoms["record_count"]
    assert exported_records(
        read_from(aws_connection, s3_bucket, "resumed"), file_format, compression
    ) == exported_records(read_from(aws_connection, s3_bucket, "whole"), file_format, compression)
    assert read_from(aws_connection, s3_bucket, "resumed.ids.txt") == read_from(
        aws_connection, s3_bucket, "whole.ids.txt"
    )


@pytest.mark.slow
@pytest.mark.parametrize("concurrency", [1, 4])
def test_an_export_of_many_parts_sends_whole_parts_at_each_stop_and_equals_an_uninterrupted_run(
    quota_emulator: ApolloEmulator,
    s3_bucket: str,
    aws_connection: str,
    small_parts: int,
    concurrency: int,
) -> None:
    """Parts of 64 KiB: each quota stop sends the whole parts so far and stages only the bytes short of one."""

    def export(key: str) -> tuple[Any, list[dict[str, Any]]]:
        operator = ApolloSearchToS3Operator(
            task_id="export", s3_bucket=s3_bucket, s3_key=key, concurrency=concurrency
        )
        return run_with_deferrals(operator, {"ti": TaskInstance()})

    resumed, deferrals = export("resumed.jsonl")
    # At least one stop (an emulated hour is 1.8 s: a slow machine may read more pages in one).
    assert deferrals
    parts = [len(d["checkpoint"]["parts"]) for d in deferrals]
    # Every stop sent the whole parts written so far: never fewer than the stop before.
    assert parts == sorted(parts) and parts[0] >= 1, parts
    tails = [d["checkpoint"]["segments"] for d in deferrals]
    assert tails == list(range(1, len(deferrals) + 1))
    assert leftovers(aws_connection, s3_bucket) == ([], [])
    quota_emulator.rate_limiter.limits["hour"] = None
    whole, no_deferrals = export("whole.jsonl")
    assert no_deferrals == []
    assert resumed["record_count"] == whole["record_count"] == CONTACTS
    assert read_from(aws_connection, s3_bucket, "resumed.jsonl") == read_from(
        aws_connection, s3_bucket, "whole.jsonl"
    )


def test_revoked_credentials_at_resume_fail_clearly_and_leave_nothing(
    quota_emulator: ApolloEmulator, s3_bucket: str, aws_connection: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.providers.common.compat.sdk import TaskDeferred

    operator = ApolloSearchToS3Operator(task_id="export", s3_bucket=s3_bucket, s3_key="revoked.jsonl")
    context = {"ti": TaskInstance()}
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context)
    assert leftovers(aws_connection, s3_bucket)[1] == ["revoked.jsonl"]  # the upload waits, unfinished
    connection = json.loads(
        json.dumps({"conn_type": "apollo", "password": "revoked", "host": quota_emulator.url})
    )
    monkeypatch.setenv("AIRFLOW_CONN_APOLLO_DEFAULT", json.dumps(connection))
    resumed = ApolloSearchToS3Operator(task_id="export", s3_bucket=s3_bucket, s3_key="revoked.jsonl")
    event = {"status": "reset", "checkpoint": deferred.value.trigger.checkpoint, "quota_waited": 1.0}
    with pytest.raises(ApolloAuthError, match="401"):
        resumed.execute_after_quota(context, event=event)
    assert leftovers(aws_connection, s3_bucket) == ([], [])
    keys = [
        o["Key"] for o in s3_client(aws_connection).list_objects_v2(Bucket=s3_bucket).get("Contents") or []
    ]
    assert keys == []


def test_a_bucket_gone_at_resume_fails_clearly(
    quota_emulator: ApolloEmulator, s3_bucket: str, aws_connection: str
) -> None:
    from airflow.providers.common.compat.sdk import TaskDeferred

    operator = ApolloSearchToS3Operator(task_id="export", s3_bucket=s3_bucket, s3_key="gone.jsonl")
    context = {"ti": TaskInstance()}
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context)
    client = s3_client(aws_connection)
    for upload in client.list_multipart_uploads(Bucket=s3_bucket).get("Uploads") or []:
        client.abort_multipart_upload(Bucket=s3_bucket, Key=upload["Key"], UploadId=upload["UploadId"])
    for item in client.list_objects_v2(Bucket=s3_bucket).get("Contents") or []:
        client.delete_object(Bucket=s3_bucket, Key=item["Key"])
    client.delete_bucket(Bucket=s3_bucket)
    event = {"status": "reset", "checkpoint": deferred.value.trigger.checkpoint, "quota_waited": 1.0}
    with pytest.raises(Exception, match="NoSuchBucket|does not exist"):
        ApolloSearchToS3Operator(
            task_id="export", s3_bucket=s3_bucket, s3_key="gone.jsonl"
        ).execute_after_quota(context, event=event)
