"""S3ToApolloOperator against the emulator and moto's S3 server: rejects, formats, updates, retries, quotas."""

from __future__ import annotations

import json
import math

import pytest
from airflow.providers.common.compat.sdk import AirflowException
from warehouse_support import (
    COLUMN_MAP,
    TaskInstance,
    apollo_fixture,  # noqa: F401 - the fixture apollo
    connect_apollo,
    encode,
    extract,
    keys,
    lead,
    put,
    read_lines,
    run_with_deferrals,
    status_count,
)

from airflow_provider_apollo.exceptions import ApolloArgumentError
from airflow_provider_apollo.testing import ApolloEmulator
from airflow_provider_apollo.transfers.s3_to_apollo import S3ToApolloOperator


def upsert(bucket: str, key: str, **kwargs: object) -> S3ToApolloOperator:
    return S3ToApolloOperator(task_id="upsert", s3_bucket=bucket, s3_key=key, column_map=COLUMN_MAP, **kwargs)


def test_bad_rows_mixed_into_good_ones_all_land_in_the_rejects_file(
    apollo: ApolloEmulator, s3_bucket: str, aws_connection: str
) -> None:
    data = extract(1_200, bad_every=4)  # 300 bad records of four kinds among 900 good ones
    put(aws_connection, s3_bucket, "leads/2026-05-01.jsonl", encode(data.records, "jsonl"))
    ti = TaskInstance()
    result = upsert(s3_bucket, "leads/2026-05-01.jsonl").execute({"ti": ti})

    rejects_uri = f"s3://{s3_bucket}/leads/2026-05-01.jsonl.rejects.jsonl"
    assert result == {
        "created": 900,
        "updated": 0,
        "unchanged": 0,
        "rejected": 300,
        "rejects_uri": rejects_uri,
    }
    rejects = read_lines(aws_connection, s3_bucket, "leads/2026-05-01.jsonl.rejects.jsonl")
    assert sorted(r["row"] for r in rejects) == sorted(data.bad_rows)
    for reject in rejects:
        assert data.bad_rows[reject["row"]] in reject["reason"], reject
        assert reject["record"]["email" if "email" in reject["record"] else "company"] == (
            data.records[reject["row"] - 1].get("email") or data.records[reject["row"] - 1]["company"]
        )
    # Only the good records exist in Apollo, with their fields and custom fields resolved.
    assert apollo.contact_count == 900
    emails = {c["email"] for c in apollo.contacts.values()}
    assert emails == {r["email"] for n, r in enumerate(data.records, 1) if n not in data.bad_rows}
    # The created ids: an S3 object, not an XCom list.
    ids_uri = ti.xcoms["created_ids_uri"]
    assert ids_uri == f"s3://{s3_bucket}/leads/2026-05-01.jsonl.created_ids.jsonl"
    assert set(read_lines(aws_connection, s3_bucket, "leads/2026-05-01.jsonl.created_ids.jsonl")) == set(
        apollo.contacts
    )
    # Calls: 9 clean batches of 100 creates, plus the bisection of the batches holding a record Apollo
    # refuses (75 such records, about one per batch of 100 sent).
    clean = math.ceil(1_200 * 0.75 / 100)
    creates = status_count(apollo, "/contacts/bulk_create", 200)
    refused = status_count(apollo, "/contacts/bulk_create", 422)
    assert refused >= 75
    assert creates + refused <= clean + 75 * 2 * math.ceil(math.log2(100)) + 75


@pytest.mark.parametrize(
    ("key", "file_format", "gzip_it"),
    [
        ("x/leads.jsonl", "jsonl", False),
        ("x/leads.csv", "csv", False),
        ("x/leads.parquet", "parquet", False),
        ("x/leads.jsonl.gz", "jsonl", True),
        ("x/leads.csv.gz", "csv", True),
        ("x/leads.parquet.gz", "parquet", True),
    ],
)
def test_each_format_gives_the_same_upsert(
    apollo: ApolloEmulator, s3_bucket: str, aws_connection: str, key: str, file_format: str, gzip_it: bool
) -> None:
    data = extract(250, bad_every=10)
    put(aws_connection, s3_bucket, key, encode(data.records, file_format, gzip_it=gzip_it))
    result = upsert(s3_bucket, key).execute({"ti": TaskInstance()})
    assert result["created"] == 225 and result["rejected"] == 25
    rejects = read_lines(aws_connection, s3_bucket, key + ".rejects.jsonl")
    assert {r["row"]: data.bad_rows[r["row"]] in r["reason"] for r in rejects} == dict.fromkeys(
        data.bad_rows, True
    )
    lead_score = {c["email"]: c for c in apollo.contacts.values()}["lead1@scored.example"]
    assert 1 in lead_score["typed_custom_fields"].values()


def test_records_with_an_id_update_those_contacts_through_bulk_update(
    apollo: ApolloEmulator, s3_bucket: str, aws_connection: str
) -> None:
    ids = apollo.seed_contacts(150)
    apollo.delete_contacts(ids[7])
    updates = [
        {"apollo_id": contact_id, "title": f"Chief {n}", "segment": "SMB"} for n, contact_id in enumerate(ids)
    ]
    creates = [lead(i) for i in range(30)]
    records = updates[:75] + creates + updates[75:]
    put(aws_connection, s3_bucket, "mixed.jsonl", encode(records, "jsonl"))
    result = upsert(s3_bucket, "mixed.jsonl").execute({"ti": TaskInstance()})
    assert result["created"] == 30
    assert result["updated"] == 149
    assert result["rejected"] == 1
    assert apollo.contacts[ids[0]]["title"] == "Chief 0"
    assert apollo.contacts[ids[149]]["title"] == "Chief 149"
    [reject] = read_lines(aws_connection, s3_bucket, "mixed.jsonl.rejects.jsonl")
    assert reject["row"] == 8 and reject["record"]["apollo_id"] == ids[7]
    assert "deleted" in reject["reason"]
    # Updates go 100 a call: two clean calls, plus one refused call naming the deleted contact.
    assert status_count(apollo, "/contacts/bulk_update", 200) == 2
    assert status_count(apollo, "/contacts/bulk_update", 422) == 1


def test_a_retry_after_a_failure_half_way_creates_no_duplicates(
    apollo: ApolloEmulator, s3_bucket: str, aws_connection: str
) -> None:
    data = extract(1_000, bad_every=20, refused=False)
    put(aws_connection, s3_bucket, "retry.csv", encode(data.records, "csv"))
    # The sixth bulk create is applied, then answered 500: the first try fails after six batches.
    apollo.add_fault("status_after_apply", path="bulk_create", start=6, count=None, status=500)
    with pytest.raises(AirflowException):
        upsert(s3_bucket, "retry.csv").execute({"ti": TaskInstance()})
    applied = apollo.contact_count
    assert 500 <= applied < data.good
    apollo.clear_faults()
    result = upsert(s3_bucket, "retry.csv").execute({"ti": TaskInstance()})
    assert apollo.contact_count == data.good == len({c["email"] for c in apollo.contacts.values()})
    assert result["created"] + result["unchanged"] == data.good
    assert result["unchanged"] == applied
    assert result["rejected"] == len(data.bad_rows)
    assert [k for k in keys(aws_connection, s3_bucket) if ".parts/" in k] == []


def test_an_hourly_quota_hit_mid_run_defers_and_resumes_without_resending(
    monkeypatch: pytest.MonkeyPatch, s3_bucket: str, aws_connection: str
) -> None:
    with ApolloEmulator(rate_limits={"hour": 4}, time_scale=0.0005) as emulator:
        connect_apollo(monkeypatch, emulator, max_retry_wait=0.5, max_retries=2)
        ids = emulator.seed_contacts(120)
        data = extract(900, bad_every=30, refused=False)
        records = data.records + [{"apollo_id": i, "title": "Updated"} for i in ids]
        put(aws_connection, s3_bucket, "quota.jsonl", encode(records, "jsonl"))
        ti = TaskInstance()
        result, deferrals = run_with_deferrals(upsert(s3_bucket, "quota.jsonl"), {"ti": ti})
        good_creates = data.good
        assert len(deferrals) >= 2
        assert all(len(json.dumps(d["checkpoint"])) < 600 for d in deferrals), "a cursor, not data"
        assert [d["checkpoint"]["offset"] for d in deferrals] == sorted(
            d["checkpoint"]["offset"] for d in deferrals
        )
        # No applied batch was sent twice: one 200 per batch, and every person once.
        assert status_count(emulator, "/contacts/bulk_create", 200) == math.ceil(good_creates / 100)
        assert result["created"] == good_creates == emulator.contact_count - 120
        assert result["unchanged"] == 0
        assert result["updated"] == 120
        assert status_count(emulator, "/contacts/bulk_update", 200) == 2
        assert {emulator.contacts[i]["title"] for i in ids} == {"Updated"}
        assert len({c["email"] for c in emulator.contacts.values()}) == emulator.contact_count
        rejects = read_lines(aws_connection, s3_bucket, "quota.jsonl.rejects.jsonl")
        assert sorted(r["row"] for r in rejects) == sorted(data.bad_rows)
        created_ids = read_lines(aws_connection, s3_bucket, "quota.jsonl.created_ids.jsonl")
        assert len(created_ids) == len(set(created_ids)) == good_creates
        assert [k for k in keys(aws_connection, s3_bucket) if ".parts/" in k] == []


def test_max_rejects_fails_the_task_after_sending_every_good_record(
    apollo: ApolloEmulator, s3_bucket: str, aws_connection: str
) -> None:
    data = extract(200, bad_every=10)
    put(aws_connection, s3_bucket, "t.jsonl", encode(data.records, "jsonl"))
    with pytest.raises(AirflowException, match=r"20 of 200 records were rejected, more than max_rejects=19"):
        upsert(s3_bucket, "t.jsonl", max_rejects=19).execute({"ti": TaskInstance()})
    assert apollo.contact_count == 180
    assert len(read_lines(aws_connection, s3_bucket, "t.jsonl.rejects.jsonl")) == 20
    assert upsert(s3_bucket, "t.jsonl", max_rejects=20).execute({"ti": TaskInstance()})["rejected"] == 20
    assert upsert(s3_bucket, "t.jsonl", max_rejects=0.1).execute({"ti": TaskInstance()})["unchanged"] == 180
    with pytest.raises(AirflowException, match=r"more than max_rejects=0\.09 \(9\.00% of the records\)"):
        upsert(s3_bucket, "t.jsonl", max_rejects=0.09).execute({"ti": TaskInstance()})


def test_a_clean_run_reports_no_rejects_file_and_removes_a_stale_one(
    apollo: ApolloEmulator, s3_bucket: str, aws_connection: str
) -> None:
    put(aws_connection, s3_bucket, "clean.jsonl.rejects.jsonl", b'{"row": 1}\n')
    put(aws_connection, s3_bucket, "clean.jsonl", encode([lead(i) for i in range(5)], "jsonl"))
    result = upsert(s3_bucket, "clean.jsonl", rejects_key="elsewhere.jsonl").execute({"ti": TaskInstance()})
    assert result == {"created": 5, "updated": 0, "unchanged": 0, "rejected": 0, "rejects_uri": None}
    assert "clean.jsonl.rejects.jsonl" in keys(aws_connection, s3_bucket)  # not this run's key
    result = upsert(s3_bucket, "clean.jsonl").execute({"ti": TaskInstance()})
    assert result["unchanged"] == 5 and result["rejects_uri"] is None
    assert "clean.jsonl.rejects.jsonl" not in keys(aws_connection, s3_bucket)


def test_unreadable_records_are_rejects_and_positions_skip_the_csv_header(
    apollo: ApolloEmulator, s3_bucket: str, aws_connection: str
) -> None:
    put(
        aws_connection,
        s3_bucket,
        "broken.jsonl",
        b'{"email": "a@x.example"}\n{not json\n\n[1, 2]\n{"email": "b@x.example"}\n',
    )
    result = S3ToApolloOperator(task_id="u", s3_bucket=s3_bucket, s3_key="broken.jsonl").execute(
        {"ti": TaskInstance()}
    )
    assert (result["created"], result["rejected"]) == (2, 2)
    rejects = read_lines(aws_connection, s3_bucket, "broken.jsonl.rejects.jsonl")
    assert [(r["row"], r["record"]) for r in rejects] == [(2, "{not json"), (3, [1, 2])]
    put(aws_connection, s3_bucket, "short.csv", b"email,first_name\nc@x.example,C\nd@x.example\n")
    result = S3ToApolloOperator(task_id="u", s3_bucket=s3_bucket, s3_key="short.csv").execute(
        {"ti": TaskInstance()}
    )
    [reject] = read_lines(aws_connection, s3_bucket, "short.csv.rejects.jsonl")
    assert reject["row"] == 2 and "1 values for the 2 columns" in reject["reason"]


def test_a_column_map_naming_a_missing_column_fails_before_any_request(
    apollo: ApolloEmulator, s3_bucket: str, aws_connection: str
) -> None:
    put(aws_connection, s3_bucket, "l.csv", encode([lead(1)], "csv"))
    operator = S3ToApolloOperator(
        task_id="u", s3_bucket=s3_bucket, s3_key="l.csv", column_map={"mail": "email", "first": "first_name"}
    )
    with pytest.raises(
        ApolloArgumentError, match=r"column_map names column\(s\) the source does not have: 'mail'"
    ):
        operator.execute({"ti": TaskInstance()})
    assert apollo.requests == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"s3_key": "a.txt"}, "cannot tell the format of 'a.txt'"),
        ({"s3_key": "a.csv", "file_format": "xml"}, "file_format must be one of"),
        ({"s3_key": "a.csv", "compression": "zip"}, "compression must be"),
        ({"s3_key": "a.csv", "max_rejects": 1.5}, "max_rejects as a share must be above 0 and below 1"),
        ({"s3_key": "a.csv", "max_rejects": -1}, "max_rejects must not be negative"),
        ({"s3_key": "a.csv", "column_map": {"a": "email", "b": "email"}}, "both map to 'email'"),
        ({"s3_key": "a.csv", "column_map": {"a": "api_key"}}, "'api_key' comes from the connection"),
        ({"s3_key": ""}, "s3_key must be a non-empty string"),
    ],
)
def test_bad_arguments_fail_when_the_dag_is_parsed(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ApolloArgumentError, match=message):
        S3ToApolloOperator(task_id="u", s3_bucket="b", **kwargs)  # type: ignore[arg-type]
