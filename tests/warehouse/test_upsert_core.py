"""The I/O-free upsert core and the streaming readers: decisions checked without HTTP or S3."""

from __future__ import annotations

import datetime
import decimal
import gzip
import io
import json
from typing import Any

import pytest

from airflow_provider_apollo.core.fields import CustomField
from airflow_provider_apollo.core.upsert import (
    Batcher,
    Prepared,
    Reject,
    RowPreparer,
    UpsertCursor,
    check_column_map,
    check_max_rejects,
    expected_calls,
    json_value,
    map_record,
    read_create_answer,
    rejects_exceed,
    resume_offset,
    send_bisecting,
)
from airflow_provider_apollo.exceptions import ApolloArgumentError, ApolloValidationError
from airflow_provider_apollo.transfers._readers import BadRecord, open_records, ranged_reader

CATALOG = [
    CustomField("f1", "Lead score", "number"),
    CustomField("f2", "Segment", "picklist", (("Enterprise", "o1"), ("SMB", "o2"))),
]


def preparer(column_map: dict[str, str] | None = None) -> RowPreparer:
    def owner(email: str) -> str:
        if email == "grace@team.example":
            return "user-2"
        raise ApolloArgumentError(f"owner_id: no user with the email {email!r}")

    return RowPreparer(check_column_map(column_map), lambda: CATALOG, owner)


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"organization_name": "Acme"}, "no email and no name"),
        ({"first_name": "Ada", "email": "ada-at-x"}, "malformed email 'ada-at-x'"),
        ({"first_name": "Ada"}, "a name without organization_name"),
        ({"email": "a@x.example", "custom_fields": {"Segment": "Galactic"}}, "not an option of the picklist"),
        ({"email": "a@x.example", "custom_fields": {"Mood": 1}}, "unknown custom field(s) 'Mood'"),
        ({"email": "a@x.example", "owner_id": "nobody@team.example"}, "no user with the email"),
        ({"id": "c1"}, "nothing to update on contact 'c1'"),
        ({"id": "c1", "contact_stage_id": "s"}, "bulk update does not take 'contact_stage_id'"),
        ({"email": "a@x.example", "api_key": "k"}, "must not carry 'api_key'"),
        (["a", "b"], "not a record of named columns"),
    ],
)
def test_each_bad_record_is_a_reject_with_its_reason(record: Any, reason: str) -> None:
    outcome = preparer().prepare(7, record)
    assert isinstance(outcome, Reject)
    assert outcome.row == 7 and reason in outcome.reason
    assert json.loads(outcome.to_json_line())["record"] == record


def test_a_good_record_is_mapped_resolved_and_split_by_id() -> None:
    prepare = preparer(
        {
            "mail": "email",
            "score": "custom_fields.Lead score",
            "seg": "custom_fields.Segment",
            "boss": "owner_id",
            "key": "id",
            "note": "title",
        }
    )
    create = prepare.prepare(
        1,
        {
            "mail": " a@x.example ",
            "score": "87",
            "seg": "smb",
            "boss": "grace@team.example",
            "key": "",
            "note": None,
            "ignored": "x",
        },
    )
    assert create == Prepared(
        1,
        "create",
        {"email": "a@x.example", "owner_id": "user-2", "typed_custom_fields": {"f1": 87, "f2": "o2"}},
        create.record,
    )
    update = prepare.prepare(2, {"key": 12345, "note": "CTO"})
    assert isinstance(update, Prepared) and update.kind == "update"
    assert update.fields == {"id": "12345", "title": "CTO"}


def test_warehouse_values_become_json_values() -> None:
    assert json_value(decimal.Decimal("87")) == 87
    assert json_value(decimal.Decimal("8.5")) == 8.5
    assert json_value(decimal.Decimal("NaN")) is None
    assert json_value(float("nan")) is None
    assert json_value(datetime.date(2027, 1, 2)) == "2027-01-02"
    assert json_value("  ") is None
    with pytest.raises(ValueError, match="binary value"):
        json_value(b"\x00")
    assert map_record({"a": "", "b": None, "c": "x"}, None) == {"c": "x"}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({}, "non-empty dict"),
        ({"a": ""}, "must be an Apollo field name"),
        ({"a": "custom_fields."}, "give the custom field's label"),
        ({"a": "email", "b": " email "}, "both map to 'email'"),
    ],
)
def test_column_map_errors_name_the_column(value: Any, message: str) -> None:
    with pytest.raises(ApolloArgumentError, match=message):
        check_column_map(value)


def test_max_rejects_is_a_count_or_a_share_below_one() -> None:
    assert check_max_rejects(0) == 0 and check_max_rejects(0.05) == 0.05 and check_max_rejects(None) is None
    for bad in (1.0, 0.0, -2, True, "5", float("inf")):
        with pytest.raises(ApolloArgumentError, match="max_rejects"):
            check_max_rejects(bad)
    assert not rejects_exceed(3, 3, 10) and rejects_exceed(3, 4, 10)
    assert rejects_exceed(0, 1, 10) and not rejects_exceed(0, 0, 10)
    assert not rejects_exceed(0.1, 10, 100) and rejects_exceed(0.1, 11, 100)
    assert not rejects_exceed(None, 10**6, 10**6)
    assert not rejects_exceed(0.5, 0, 0)


def item(row: int, contact_id: str | None = None) -> Prepared:
    if contact_id is None:
        return Prepared(row, "create", {"email": f"p{row}@x.example"}, {})
    return Prepared(row, "update", {"id": contact_id, "title": "T"}, {})


def test_batches_are_full_and_in_row_order_and_a_repeated_id_sends_its_batch_early() -> None:
    batcher = Batcher(create_size=3, update_size=3)
    sent = [b for row in range(1, 8) for b in batcher.add(item(row))]
    assert [[i.row for i in b.items] for b in sent] == [[1, 2, 3], [4, 5, 6]]
    assert batcher.first_pending_row() == 7
    sent = [b for b in batcher.add(item(8, "a"))] + [b for b in batcher.add(item(9, "a"))]
    assert [[i.row for i in b.items] for b in sent] == [[8]]  # bulk update takes an id once a call
    assert [(b.kind, [i.row for i in b.items]) for b in batcher.drain()] == [("create", [7]), ("update", [9])]
    assert expected_calls(250, 101) == 3 + 2


def test_the_cursor_settles_what_was_applied_and_resumes_before_the_first_pending_row() -> None:
    cursor = UpsertCursor(read_through=40, creates_through=30, updates_through=12)
    assert cursor.settled(Reject(40, {}, "x")) and not cursor.settled(Reject(41, {}, "x"))
    assert cursor.settled(item(30)) and not cursor.settled(item(31))
    assert cursor.settled(item(12, "a")) and not cursor.settled(item(13, "a"))
    batcher = Batcher()
    list(batcher.add(item(31)))
    list(batcher.add(item(13, "b")))
    assert resume_offset(cursor, batcher) == 12
    assert resume_offset(cursor, Batcher()) == 40
    again = UpsertCursor.from_json(json.loads(json.dumps(cursor.to_json())))
    assert again == cursor


def test_a_refused_batch_is_bisected_down_to_its_bad_records() -> None:
    bad_rows = {17, 64}
    calls: list[list[int]] = []

    def send(part: list[Prepared]) -> None:
        calls.append([i.row for i in part])
        if bad_rows & {i.row for i in part}:
            raise ApolloValidationError(
                "Apollo answered 422", status_code=422, body={"error": "Invalid owner"}
            )

    rejected: list[tuple[int, str]] = []
    count = send_bisecting(
        [item(r) for r in range(1, 101)], send, lambda i, why: rejected.append((i.row, why))
    )
    assert sorted(r for r, _ in rejected) == [17, 64]
    assert all("Apollo refused the record (422): Invalid owner" in why for _, why in rejected)
    sent_ok = [row for part in calls if not bad_rows & set(part) for row in part]
    assert sorted(sent_ok) == sorted(set(range(1, 101)) - bad_rows)
    assert count == len(calls) <= 1 + 2 * 2 * 7


def test_a_refusal_naming_its_contacts_drops_them_in_one_step() -> None:
    calls = []

    def send(part: list[Prepared]) -> None:
        calls.append(len(part))
        if any(i.fields["id"] == "gone" for i in part):
            raise ApolloValidationError(
                "422", status_code=422, body={"error": "deleted"}, deleted_contact_ids=["gone"]
            )

    rejected: list[int] = []
    items = [item(r, "gone" if r == 5 else f"c{r}") for r in range(1, 11)]
    assert send_bisecting(items, send, lambda i, why: rejected.append(i.row)) == 2
    assert calls == [10, 9] and rejected == [5]


def test_a_bulk_create_answer_tells_created_from_matched() -> None:
    contacts = [{"email": "a@x.example"}, {"email": "b@x.example"}]
    body = {
        "created_contacts": [{"id": "2", "email": "b@x.example"}],
        "existing_contacts": [{"id": "1", "email": "a@x.example"}],
    }
    assert read_create_answer(contacts, body) == [("1", False), ("2", True)]


def test_readers_number_records_from_one_skip_headers_and_blank_lines_and_resume() -> None:
    data = b'email,first_name\n\na@x.example,A\nb@x.example\n"c@x.example","C, the third"\n'
    records = open_records(io.BytesIO(gzip.compress(data)), "csv", "gzip")
    assert records.columns == ["email", "first_name"]
    rows = list(records.iterate(1))
    assert rows[0][0] == 2 and isinstance(rows[0][1], BadRecord)
    assert rows[1] == (3, {"email": "c@x.example", "first_name": "C, the third"})
    lines = open_records(io.BytesIO(b'{"a": 1}\n\n{"a": 2}\n'), "jsonl", None)
    assert list(lines.iterate(0)) == [(1, {"a": 1}), (2, {"a": 2})]


def test_parquet_is_read_by_ranges_and_whole_row_groups_are_skipped_on_resume() -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = io.BytesIO()
    pq.write_table(pa.table({"n": list(range(1, 251))}), sink, row_group_size=100)
    blob = sink.getvalue()
    fetched: list[tuple[int, int]] = []

    def fetch(start: int, end: int) -> bytes:
        fetched.append((start, end))
        return blob[start : end + 1]

    records = open_records(io.BytesIO(b""), "parquet", None, seekable=ranged_reader(len(blob), fetch))
    rows = list(records.iterate(205))
    assert rows[0] == (206, {"n": 206}) and rows[-1] == (250, {"n": 250}) and len(rows) == 45
    assert fetched and all(end < len(blob) for _, end in fetched)
