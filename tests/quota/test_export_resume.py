"""The export outlasts the hourly quota: it stages what it holds in S3, waits, resumes, and the result
equals an uninterrupted run's; failures leave nothing behind."""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from test_quota_jobs import TaskInstance, run_with_deferrals

from airflow_provider_apollo.exceptions import ApolloAuthError
from airflow_provider_apollo.testing import ApolloEmulator
from airflow_provider_apollo.transfers.apollo_to_s3 import ApolloSearchToS3Operator

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


def s3(endpoint: str) -> Any:
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")


def read(endpoint: str, bucket: str, key: str) -> bytes:
    return bytes(s3(endpoint).get_object(Bucket=bucket, Key=key)["Body"].read())


def leftovers(endpoint: str, bucket: str) -> tuple[list[str], list[str]]:
    client = s3(endpoint)
    staged = [
        o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents") or [] if "staging" in o["Key"]
    ]
    uploads = [u["Key"] for u in client.list_multipart_uploads(Bucket=bucket).get("Uploads") or []]
    return staged, uploads


def records(data: bytes, file_format: str, compression: str | None) -> Any:
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
    assert len(deferrals) >= 2
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
    assert records(read(aws_connection, s3_bucket, "resumed"), file_format, compression) == records(
        read(aws_connection, s3_bucket, "whole"), file_format, compression
    )
    assert read(aws_connection, s3_bucket, "resumed.ids.txt") == read(
        aws_connection, s3_bucket, "whole.ids.txt"
    )


@pytest.mark.slow
@pytest.mark.parametrize("concurrency", [1, 4])
def test_an_export_of_many_parts_sends_whole_parts_at_each_stop_and_equals_an_uninterrupted_run(
    quota_emulator: ApolloEmulator,
    s3_bucket: str,
    aws_connection: str,
    monkeypatch: pytest.MonkeyPatch,
    concurrency: int,
) -> None:
    """Parts of 64 KiB: each quota stop sends the whole parts so far and stages only the bytes short of one."""
    import moto.s3.models

    from airflow_provider_apollo.transfers import apollo_to_s3

    part_size = 64 * 1024
    monkeypatch.setattr(apollo_to_s3, "PART_SIZE", part_size)
    monkeypatch.setattr(moto.s3.models, "S3_UPLOAD_PART_MIN_SIZE", part_size)

    def export(key: str) -> tuple[Any, list[dict[str, Any]]]:
        operator = ApolloSearchToS3Operator(
            task_id="export", s3_bucket=s3_bucket, s3_key=key, concurrency=concurrency
        )
        return run_with_deferrals(operator, {"ti": TaskInstance()})

    resumed, deferrals = export("resumed.jsonl")
    assert len(deferrals) >= 2
    parts = [len(d["checkpoint"]["parts"]) for d in deferrals]
    assert parts == sorted(parts) and parts[0] >= 1, parts
    assert leftovers(aws_connection, s3_bucket) == ([], [])
    quota_emulator.rate_limiter.limits["hour"] = None
    whole, no_deferrals = export("whole.jsonl")
    assert no_deferrals == []
    assert resumed["record_count"] == whole["record_count"] == CONTACTS
    assert read(aws_connection, s3_bucket, "resumed.jsonl") == read(aws_connection, s3_bucket, "whole.jsonl")


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
    keys = [o["Key"] for o in s3(aws_connection).list_objects_v2(Bucket=s3_bucket).get("Contents") or []]
    assert keys == []


def test_a_bucket_gone_at_resume_fails_clearly(
    quota_emulator: ApolloEmulator, s3_bucket: str, aws_connection: str
) -> None:
    from airflow.providers.common.compat.sdk import TaskDeferred

    operator = ApolloSearchToS3Operator(task_id="export", s3_bucket=s3_bucket, s3_key="gone.jsonl")
    context = {"ti": TaskInstance()}
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context)
    client = s3(aws_connection)
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
