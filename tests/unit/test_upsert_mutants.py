"""The upsert core's decisions, pinned where mutation testing found them unguarded (docs/mutation-testing.md).

Arguments, value mapping, row preparation, Apollo's answers, bisection, the cursor and the batches:
each test checks whole results and whole messages, without I/O.
"""

from __future__ import annotations

import datetime
import decimal
import json
import uuid
from typing import Any

import pytest
from mutant_support import argument_error

from airflow_provider_apollo.core.endpoints import ApiRequest
from airflow_provider_apollo.core.fields import CustomField
from airflow_provider_apollo.core.upsert import (
    Batch,
    Batcher,
    Prepared,
    Reject,
    RowPreparer,
    UpsertCursor,
    apollo_reason,
    bulk_create_request,
    check_column_map,
    check_mapped_columns,
    check_max_rejects,
    count_rows,
    expected_calls,
    is_email,
    json_value,
    map_record,
    read_create_answer,
    record_as_read,
    rejects_exceed,
    resume_offset,
    rows_named_in_error,
    send_bisecting,
)
from airflow_provider_apollo.exceptions import ApolloApiError, ApolloArgumentError, ApolloValidationError

CATALOG = [
    CustomField("f1", "Lead score", "number"),
    CustomField("f2", "Segment", "picklist", (("Enterprise", "o1"), ("SMB", "o2"))),
]
UPDATE_FIELDS_TEXT = (
    "first_name, last_name, email, title, organization_name, owner_id, account_id, "
    "present_raw_address, linkedin_url, typed_custom_fields"
)
DAY = datetime.date(2027, 1, 2)


# ------------------------------------------------------------------ arguments


def test_column_map_is_checked_stripped_and_returned() -> None:
    assert check_column_map(None) is None
    assert check_column_map({"mail": " email ", "score": "custom_fields.Lead score"}) == {
        "mail": "email",
        "score": "custom_fields.Lead score",
    }


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (["a"], "column_map must be a non-empty dict of file column to Apollo field, got ['a']."),
        ({}, "column_map must be a non-empty dict of file column to Apollo field, got {}."),
        ({1: "email"}, "column_map: a column name must be a non-empty string, got 1."),
        ({"": "email"}, "column_map: a column name must be a non-empty string, got ''."),
        (
            {"a": 5},
            "column_map['a'] must be an Apollo field name (e.g. 'email', 'custom_fields.Lead score'), got 5.",
        ),
        (
            {"a": "  "},
            "column_map['a'] must be an Apollo field name (e.g. 'email', 'custom_fields.Lead score'), "
            "got '  '.",
        ),
        ({"a": "api_key"}, "column_map['a']: 'api_key' comes from the connection, not the data."),
        (
            {"a": "custom_fields. "},
            "column_map['a']: give the custom field's label after 'custom_fields.', got 'custom_fields.'.",
        ),
        (
            {"a": "email", "b": "email"},
            "column_map: columns 'a' and 'b' both map to 'email'; map each field once.",
        ),
    ],
)
def test_column_map_errors_say_what_is_wrong(value: Any, message: str) -> None:
    assert argument_error(check_column_map, value) == message


def test_mapped_columns_must_exist_in_the_source() -> None:
    assert check_mapped_columns(None, ["a"]) is None
    assert check_mapped_columns({"a": "email"}, None) is None
    assert check_mapped_columns({"a": "email", "b": "title"}, ["b", "a", "c"]) is None
    message = argument_error(check_mapped_columns, {"x": "email", "a": "title", "y": "id"}, ["a", "b"])
    assert message == (
        "column_map names column(s) the source does not have: 'x', 'y'. Its columns: 'a', 'b'."
    )


def test_max_rejects_bounds_and_messages() -> None:
    assert check_max_rejects(None) is None
    assert check_max_rejects(0) == 0 and check_max_rejects(7) == 7
    assert check_max_rejects(0.5) == 0.5 and check_max_rejects(0.999) == 0.999
    general = "max_rejects must be a count (0, 10 ...), a share below 1 (0.01 for 1%) or None, got {}."
    for bad in (float("inf"), float("nan"), "5", True):
        assert argument_error(check_max_rejects, bad) == general.format(repr(bad))
    assert argument_error(check_max_rejects, -2) == "max_rejects must not be negative, got -2."
    share = "max_rejects as a share must be above 0 and below 1 (0.01 for 1%), got {}; give a count as an integer."
    for bad in (0.0, 1.0, 1.5, -0.5):
        assert argument_error(check_max_rejects, bad) == share.format(repr(bad))


def test_rejects_exceed_a_count_or_a_share() -> None:
    assert rejects_exceed(None, 5, 5) is False
    assert rejects_exceed(3, 3, 10) is False and rejects_exceed(3, 4, 10) is True
    assert rejects_exceed(0.25, 1, 4) is False and rejects_exceed(0.25, 2, 4) is True
    assert rejects_exceed(0.5, 1, 1) is True
    assert rejects_exceed(0.5, 0, 0) is False


# ------------------------------------------------------------------ rows


def test_a_reject_is_one_json_line() -> None:
    line = Reject(3, {"d": DAY}, "why").to_json_line()
    assert line == '{"row": 3, "record": {"d": "2027-01-02"}, "reason": "why"}\n'


def test_json_values_keep_their_types() -> None:
    assert json_value(" x ") == "x"
    assert json_value("") is None
    assert json_value(None) is None
    assert json_value(True) is True
    five = json_value(5)
    assert five == 5 and type(five) is int
    assert json_value(1.5) == 1.5
    assert json_value(float("nan")) is None and json_value(float("inf")) is None
    whole = json_value(decimal.Decimal("87"))
    assert whole == 87 and type(whole) is int
    half = json_value(decimal.Decimal("8.5"))
    assert half == 8.5 and type(half) is float
    assert json_value(decimal.Decimal("Infinity")) is None
    assert json_value(DAY) == "2027-01-02"
    assert json_value(datetime.datetime(2027, 1, 2, 3, 4, 5)) == "2027-01-02T03:04:05"
    assert json_value({1: " a ", "b": None}) == {"1": "a", "b": None}
    assert json_value([" a ", 2]) == ["a", 2] and json_value((" a ",)) == ["a"]
    token = uuid.UUID(int=1)
    assert json_value(token) == str(token)
    with pytest.raises(ValueError) as caught:
        json_value(b"abc")
    assert str(caught.value) == "binary value (3 bytes)"


def test_a_record_as_read_is_json_or_text() -> None:
    assert record_as_read({"a": 1, "d": DAY}) == {"a": 1, "d": "2027-01-02"}
    assert record_as_read({(1, 2): "x"}) == "{(1, 2): 'x'}"


def test_map_record_by_column_map_and_by_identity() -> None:
    column_map = {"mail": "email", "score": "custom_fields. Lead score ", "seg": "custom_fields.Segment"}
    record = {"mail": " a@x.example ", "score": 87, "seg": None, "other": "x"}
    assert map_record(record, column_map) == {"email": "a@x.example", "custom_fields": {"Lead score": 87}}
    assert map_record({1: "x", "blank": "", "empty": {}, "none": [], "gone": None, "title": "CTO"}, None) == {
        "1": "x",
        "title": "CTO",
    }


def test_map_record_merges_a_custom_fields_column_and_keeps_other_dicts() -> None:
    record = {"custom_fields": {"Segment": "SMB", "Gone": None}, "meta": {"k": 1}}
    assert map_record(record, None) == {"meta": {"k": 1}, "custom_fields": {"Segment": "SMB"}}


def test_map_record_refuses_binary_values_by_field() -> None:
    assert argument_error(map_record, {"blob": b"\x00\x01"}, {"blob": "title"}) == (
        "column for 'title' holds a binary value (2 bytes), not a value Apollo takes."
    )


def test_is_email() -> None:
    assert is_email("a@x.example") is True
    assert is_email("a-at-x") is False
    assert is_email(5) is False


class Owners:
    def __init__(self) -> None:
        self.asked: list[str] = []

    def __call__(self, email: str) -> str:
        self.asked.append(email)
        if email == "grace@team.example":
            return "user-2"
        raise ApolloArgumentError(f"owner_id: no user with the email {email!r}")


class Catalog:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> list[CustomField]:
        self.calls += 1
        return CATALOG


def preparer(column_map: dict[str, str] | None = None) -> tuple[RowPreparer, Catalog, Owners]:
    catalog, owners = Catalog(), Owners()
    return RowPreparer(column_map, catalog, owners), catalog, owners


def test_a_create_and_an_update_are_prepared_whole() -> None:
    prepare, catalog, owners = preparer({"mail": "email", "key": "id", "note": "title", "boss": "owner_id"})
    record = {"mail": "a@x.example", "key": None, "note": "CTO", "boss": "grace@team.example", "d": DAY}
    assert prepare.prepare(1, record) == Prepared(
        1, "create", {"email": "a@x.example", "title": "CTO", "owner_id": "user-2"}, record
    )
    update = {"key": 12345, "note": "CEO", "boss": 42}
    assert prepare.prepare(2, update) == Prepared(
        2, "update", {"id": "12345", "title": "CEO", "owner_id": 42}, update
    )
    text_id = {"key": "c9", "note": "CFO"}
    assert prepare.prepare(3, text_id) == Prepared(3, "update", {"id": "c9", "title": "CFO"}, text_id)
    assert catalog.calls == 0 and owners.asked == ["grace@team.example"]


def test_a_contact_can_be_created_from_an_email_alone_or_a_name_and_company() -> None:
    prepare, _, _ = preparer()
    assert prepare.prepare(1, {"email": "a@x.example"}) == Prepared(
        1, "create", {"email": "a@x.example"}, {"email": "a@x.example"}
    )
    named = {"first_name": "Ada", "organization_name": "Acme"}
    assert prepare.prepare(2, named) == Prepared(2, "create", dict(named), named)
    last = {"last_name": "Lovelace", "organization_name": "Acme"}
    assert prepare.prepare(3, last) == Prepared(3, "create", dict(last), last)


def test_custom_fields_are_resolved_with_one_catalog_call() -> None:
    prepare, catalog, _ = preparer()
    first = {"email": "a@x.example", "custom_fields": {"Lead score": "87", "segment": "smb"}}
    assert prepare.prepare(1, first) == Prepared(
        1, "create", {"email": "a@x.example", "typed_custom_fields": {"f1": 87, "f2": "o2"}}, first
    )
    second = {"id": "c1", "custom_fields": {"Segment": "Enterprise"}}
    assert prepare.prepare(2, second) == Prepared(
        2, "update", {"id": "c1", "typed_custom_fields": {"f2": "o1"}}, second
    )
    assert catalog.calls == 1


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (["a", "b"], "not a record of named columns: ['a', 'b']"),
        (
            {"email": "a@x.example", "api_key": "k", "d": DAY},
            "a record must not carry 'api_key': the key comes from the connection",
        ),
        ({"email": "ada-at-x", "d": DAY}, "malformed email 'ada-at-x'"),
        (
            {"organization_name": "Acme", "d": DAY},
            "no email and no name (first_name or last_name): nothing to create a contact from",
        ),
        (
            {"first_name": "Ada", "d": DAY},
            "no email, and a name without organization_name: Apollo's dedupe matches on email, "
            "then on name and company, so a re-run would create this person again",
        ),
        ({"id": "c1", "d": None}, "nothing to update on contact 'c1': the record has no field besides id"),
        (
            {"id": "c1", "stage": "s", "city": "x", "d": DAY},
            "bulk update does not take 'city', 'd', 'stage' (it takes "
            f"{UPDATE_FIELDS_TEXT} and custom fields)",
        ),
        (
            {"email": "a@x.example", "custom_fields": {"Mood": 1}, "d": DAY},
            "record['custom_fields']: unknown custom field(s) 'Mood'. "
            "The team's custom contact fields: 'Lead score' (number), 'Segment' (picklist).",
        ),
        (
            {"email": "a@x.example", "owner_id": "nobody@team.example", "d": DAY},
            "owner_id: no user with the email 'nobody@team.example'",
        ),
        (
            {"email": "a@x.example", "photo": b"\x00"},
            "column for 'photo' holds a binary value (1 bytes), not a value Apollo takes.",
        ),
    ],
)
def test_each_reject_carries_its_row_the_record_as_read_and_the_whole_reason(
    record: Any, reason: str
) -> None:
    prepare, _, _ = preparer()
    assert prepare.prepare(7, record) == Reject(7, record_as_read(record), reason)


def test_rejects_keep_the_record_as_json() -> None:
    prepare, _, _ = preparer()
    outcome = prepare.prepare(4, {"email": "bad", "d": DAY})
    assert outcome == Reject(4, {"email": "bad", "d": "2027-01-02"}, "malformed email 'bad'")
    binary = prepare.prepare(5, {"email": "a@x.example", "photo": b"\x00"})
    assert isinstance(binary, Reject) and binary.record == {"email": "a@x.example", "photo": "b'\\x00'"}


# ------------------------------------------------------------------ Apollo's answers


def test_bulk_create_request_is_the_whole_request() -> None:
    contacts = [{"email": "a@x.example"}]
    assert bulk_create_request(contacts) == ApiRequest(
        "POST",
        "/contacts/bulk_create",
        json_body={"contacts": contacts, "run_dedupe": True},
        idempotent=True,
        endpoint="/contacts/bulk_create",
    )


def test_a_bulk_create_answer_in_input_order() -> None:
    contacts = [{"email": "a@x.example"}, {"email": "b@x.example"}, {"email": "c@x.example"}]
    body = {
        "created_contacts": [{"id": 3, "email": "c@x.example"}, "junk", {"id": "2", "email": "b@x.example"}],
        "existing_contacts": [{"id": "1", "email": "a@x.example"}, 7],
    }
    assert read_create_answer(contacts, body) == [("1", False), ("2", True), ("3", True)]
    assert read_create_answer(contacts[:1], {"existing_contacts": [{"id": "1", "email": "a@x.example"}]}) == [
        ("1", False)
    ]
    assert read_create_answer(contacts[1:2], {"created_contacts": [{"id": "2", "email": "b@x.example"}]}) == [
        ("2", True)
    ]


def test_an_unexpected_bulk_create_answer_is_an_api_error() -> None:
    with pytest.raises(ApolloApiError) as caught:
        read_create_answer([], ["x"])
    assert str(caught.value) == "Apollo answered a bulk create with an unexpected body"
    assert caught.value.body == ["x"]


def update(row: int, contact_id: str) -> Prepared:
    return Prepared(row, "update", {"id": contact_id, "title": "T"}, {})


def create(row: int) -> Prepared:
    return Prepared(row, "create", {"email": f"p{row}@x.example"}, {})


def test_a_422_names_rows_by_deleted_ids_or_by_contact_ids_in_its_body() -> None:
    items = [create(1), update(2, "c2"), update(3, "5"), update(4, "c4")]
    deleted = ApolloValidationError("422", status_code=422, body="text", deleted_contact_ids=["c2"])
    assert rows_named_in_error(deleted, items) == [items[1]]
    numeric = ApolloValidationError("422", status_code=422, deleted_contact_ids=[5])  # type: ignore[list-item]
    assert rows_named_in_error(numeric, items) == [items[2]]
    listed = ApolloValidationError("422", status_code=422, body={"contact_ids": [5, "c4"]})
    assert rows_named_in_error(listed, items) == [items[2], items[3]]
    assert rows_named_in_error(ApolloValidationError("422", body={"contact_ids": "c2"}), items) == []
    assert rows_named_in_error(ApolloValidationError("422", body=None), items) == []


def test_apollo_reason_quotes_apollo() -> None:
    error = ApolloValidationError("422 said", status_code=400, body={"error": "e", "message": "m"})
    assert apollo_reason(error) == "Apollo refused the record (400): e"
    assert (
        apollo_reason(ApolloValidationError("x", body={"message": "m"}))
        == "Apollo refused the record (422): m"
    )
    assert (
        apollo_reason(ApolloValidationError("plain", body="text")) == "Apollo refused the record (422): plain"
    )
    assert apollo_reason(ApolloValidationError("plain", body={})) == "Apollo refused the record (422): plain"


class Sender:
    """A fake bulk call: 'gone' ids are refused by name, rows in ``bad`` without naming them."""

    def __init__(self, bad: set[int]) -> None:
        self.bad = bad
        self.calls: list[list[int]] = []

    def __call__(self, part: list[Prepared]) -> None:
        assert len(self.calls) < 100, "send_bisecting does not stop"
        self.calls.append([item.row for item in part])
        if self.bad & {item.row for item in part}:
            raise ApolloValidationError("Apollo answered 422", status_code=422, body={"error": "Invalid"})
        gone = [item.fields.get("id") for item in part if item.fields.get("id") == "gone"]
        if gone:
            raise ApolloValidationError(
                "Apollo answered 422", status_code=422, body={"error": "deleted"}, deleted_contact_ids=gone
            )


def test_bisection_sends_halves_in_row_order_and_rejects_the_bad_record() -> None:
    send = Sender({2})
    rejected: list[tuple[int, str]] = []
    items = [create(row) for row in range(1, 6)]
    count = send_bisecting(items, send, lambda item, why: rejected.append((item.row, why)))
    assert send.calls == [[1, 2, 3, 4, 5], [1, 2], [1], [2], [3, 4, 5]]
    assert rejected == [(2, "Apollo refused the record (422): Invalid")]
    assert count == 5


def test_a_named_refusal_drops_its_rows_and_sends_the_rest_before_later_halves() -> None:
    send = Sender({1})
    rejected: list[tuple[Prepared, str]] = []
    items = [update(1, "c1"), update(2, "gone"), update(3, "c3"), update(4, "c4"), update(5, "c5")]
    items.append(update(6, "c6"))
    count = send_bisecting(items, send, lambda item, why: rejected.append((item, why)))
    assert send.calls == [[1, 2, 3, 4, 5, 6], [1, 2, 3], [1], [2, 3], [3], [4, 5, 6]]
    assert rejected == [
        (items[0], "Apollo refused the record (422): Invalid"),
        (items[1], "Apollo refused the record (422): deleted"),
    ]
    assert count == 6


def test_a_part_emptied_by_a_named_refusal_does_not_stop_the_rest() -> None:
    send = Sender({1})
    rejected: list[int] = []
    items = [update(1, "c1"), update(2, "gone"), update(3, "c3"), update(4, "c4")]
    assert send_bisecting(items, send, lambda item, why: rejected.append(item.row)) == 5
    assert send.calls == [[1, 2, 3, 4], [1, 2], [1], [2], [3, 4]]
    assert rejected == [1, 2]


def test_a_clean_batch_is_one_call_and_an_argument_error_is_not_bisected() -> None:
    send = Sender(set())
    assert send_bisecting([create(1), create(2)], send, lambda item, why: None) == 1
    assert send_bisecting([], send, lambda item, why: None) == 0

    def refuse(part: list[Prepared]) -> None:
        raise ApolloArgumentError("bad argument")

    with pytest.raises(ApolloArgumentError, match="bad argument"):
        send_bisecting([create(1), create(2)], refuse, lambda item, why: None)


# ------------------------------------------------------------------ the cursor and the batches


def test_the_cursor_reads_every_field_from_json() -> None:
    cursor = UpsertCursor.from_json(
        {
            "offset": "5",
            "read_through": 6,
            "creates_through": 7,
            "updates_through": 8,
            "counts": {"created": "2", "rejected": 1, "bogus": 9},
            "rejects_parts": ["a", 1],
            "ids_parts": ["b"],
            "calls": 3,
        }
    )
    assert cursor == UpsertCursor(
        offset=5,
        read_through=6,
        creates_through=7,
        updates_through=8,
        counts={"created": 2, "updated": 0, "unchanged": 0, "rejected": 1},
        rejects_parts=["a", "1"],
        ids_parts=["b"],
        calls=3,
    )
    empty = {"offset": 0, "read_through": 0, "creates_through": 0, "updates_through": 0, "calls": 0}
    assert UpsertCursor.from_json({}) == UpsertCursor() == UpsertCursor.from_json(None)
    assert UpsertCursor.from_json({}).to_json() == {
        **empty,
        "counts": {"created": 0, "updated": 0, "unchanged": 0, "rejected": 0},
        "rejects_parts": [],
        "ids_parts": [],
    }
    assert argument_error(UpsertCursor.from_json, [1]) == "an upsert checkpoint must be a dict, got [1]."


def test_the_cursor_writes_every_field_to_json() -> None:
    cursor = UpsertCursor(1, 2, 3, 4, {"created": 5}, ["r"], ["i"], 6)
    assert cursor.to_json() == {
        "offset": 1,
        "read_through": 2,
        "creates_through": 3,
        "updates_through": 4,
        "counts": {"created": 5},
        "rejects_parts": ["r"],
        "ids_parts": ["i"],
        "calls": 6,
    }
    assert json.loads(json.dumps(cursor.to_json())) == cursor.to_json()


def test_settled_uses_the_number_for_each_kind() -> None:
    cursor = UpsertCursor(read_through=40, creates_through=30, updates_through=12)
    assert cursor.settled(Reject(40, {}, "x")) and not cursor.settled(Reject(41, {}, "x"))
    assert cursor.settled(create(30)) and not cursor.settled(create(31))
    assert cursor.settled(update(12, "a")) and not cursor.settled(update(13, "a"))


def test_batches_fill_to_their_size_and_keep_their_kind() -> None:
    batcher = Batcher(create_size=2, update_size=2)
    assert list(batcher.add(create(1))) == []
    assert list(batcher.add(update(2, "a"))) == []
    assert batcher.first_pending_row() == 1
    assert list(batcher.add(create(3))) == [Batch("create", [create(1), create(3)])]
    assert batcher.first_pending_row() == 2
    assert list(batcher.add(update(4, "b"))) == [Batch("update", [update(2, "a"), update(4, "b")])]
    assert batcher.first_pending_row() is None
    # A new update batch starts with no ids: "a" again is not a repeat.
    assert list(batcher.add(update(5, "a"))) == []
    assert list(batcher.add(update(6, "a"))) == [Batch("update", [update(5, "a")])]
    assert list(batcher.add(create(7))) == []
    assert batcher.first_pending_row() == 6
    assert list(batcher.drain()) == [Batch("create", [create(7)]), Batch("update", [update(6, "a")])]
    assert list(batcher.drain()) == [] and batcher.first_pending_row() is None


def test_the_default_batches_are_a_hundred() -> None:
    batcher = Batcher()
    assert [b for row in range(1, 101) for b in batcher.add(create(row))] == [
        Batch("create", [create(row) for row in range(1, 101)])
    ]
    sent = [b for row in range(101, 201) for b in batcher.add(update(row, f"c{row}"))]
    assert [(b.kind, b.last_row, len(b.items)) for b in sent] == [("update", 200, 100)]


def test_resume_offset_stops_before_the_first_pending_row() -> None:
    cursor = UpsertCursor(read_through=40)
    assert resume_offset(cursor, Batcher()) == 40
    batcher = Batcher()
    list(batcher.add(create(31)))
    list(batcher.add(update(13, "b")))
    assert resume_offset(cursor, batcher) == 12
    late = Batcher()
    list(late.add(create(45)))
    assert resume_offset(cursor, late) == 40


def test_expected_calls_and_count_rows() -> None:
    assert expected_calls(250, 101) == 5
    assert expected_calls(100, 0) == 1 and expected_calls(0, 1) == 1 and expected_calls(0, 0) == 0
    outcomes = [
        create(1),
        create(2),
        update(3, "a"),
        Reject(4, {}, "x"),
        Reject(5, {}, "y"),
        Reject(6, {}, "z"),
    ]
    assert count_rows(outcomes) == {"create": 2, "update": 1, "reject": 3}
    assert count_rows([]) == {"create": 0, "update": 0, "reject": 0}


def test_a_huge_whole_number_is_a_count_not_an_overflow() -> None:
    assert check_max_rejects(10**400) == 10**400
