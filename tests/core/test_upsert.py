"""The upsert core (core/upsert.py) without I/O: arguments, rows, Apollo's answers, bisection, the cursor,
the batches, and the whole upsert as one step generator driven by a scripted Apollo.

Each test checks whole results and whole messages (several were written against mutants, see
docs/mutation-testing.md).
"""

from __future__ import annotations

import asyncio
import datetime
import decimal
import json
import uuid
from collections.abc import Generator, Iterable
from typing import Any

import pytest

from airflow_provider_apollo.core.endpoints import ApiRequest
from airflow_provider_apollo.core.fields import CustomField, bulk_update_request
from airflow_provider_apollo.core.lifecycle import arun_steps, iter_steps, run_steps
from airflow_provider_apollo.core.lookups import TeamLookups
from airflow_provider_apollo.core.upsert import (
    Batch,
    BatchDone,
    Batcher,
    Prepared,
    Reject,
    RowPreparer,
    Upsert,
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
    update_contact_attributes,
)
from airflow_provider_apollo.exceptions import (
    ApolloApiError,
    ApolloArgumentError,
    ApolloAuthError,
    ApolloRateLimitError,
    ApolloValidationError,
)

CATALOG = [
    CustomField("f1", "Lead score", "number"),
    CustomField("f2", "Segment", "picklist", (("Enterprise", "o1"), ("SMB", "o2"))),
]
# Apollo's GET /fields answer that reads as CATALOG, and the team's users for owners by email.
FIELDS_BODY = {
    "fields": [
        {"id": "f1", "label": "Lead score", "type": "number", "source": "custom"},
        {
            "id": "f2",
            "label": "Segment",
            "type": "picklist",
            "source": "custom",
            "picklist_values": [{"name": "Enterprise", "id": "o1"}, {"name": "SMB", "id": "o2"}],
        },
    ]
}
USERS_BODY = {
    "users": [{"id": "user-1", "email": "ada@team.example"}, {"id": "user-2", "email": "grace@team.example"}]
}
UNKNOWN_OWNER = (
    "Unknown owner 'nobody@team.example' (given as owner_id): no Apollo user has that email. "
    "The team's users: ada@team.example, grace@team.example."
)
UPDATE_FIELDS_TEXT = (
    "first_name, last_name, email, title, organization_name, owner_id, account_id, "
    "present_raw_address, linkedin_url, typed_custom_fields"
)
DAY = datetime.date(2027, 1, 2)
INVALID = "Apollo refused the record (422): Invalid owner"


def argument_error(call: Any, *args: Any, **kwargs: Any) -> str:
    """The message of the ``ApolloArgumentError`` that ``call(*args, **kwargs)`` must raise."""
    with pytest.raises(ApolloArgumentError) as caught:
        call(*args, **kwargs)
    return str(caught.value)


class ScriptedApollo:
    """
    A scripted ``call`` for the step generators, with Apollo's dedupe: a bulk create matches a
    contact created before by its email. It answers the name look-ups; refuses (422, without naming
    anyone) a bulk call holding an email or id in ``refused``; names the ids in ``deleted`` in its
    422; leaves the ids in ``unconfirmed`` out of a bulk update's answer; raises ``fail_at[n]`` at
    the n-th request. Every request is recorded.
    """

    def __init__(
        self,
        *,
        refused: Iterable[str] = (),
        deleted: Iterable[str] = (),
        unconfirmed: Iterable[str] = (),
        fail_at: dict[int, Exception] | None = None,
        users_error: Exception | None = None,
    ) -> None:
        self.refused = set(refused)
        self.deleted = set(deleted)
        self.unconfirmed = set(unconfirmed)
        self.fail_at = dict(fail_at or {})
        self.users_error = users_error
        self.requests: list[ApiRequest] = []
        self.contacts: dict[str, str] = {}  # email -> id

    def __call__(self, request: ApiRequest) -> Any:
        self.requests.append(request)
        if len(self.requests) in self.fail_at:
            raise self.fail_at.pop(len(self.requests))
        if request.path == "/fields":
            return FIELDS_BODY
        if request.path == "/users/search":
            if self.users_error is not None:
                raise self.users_error
            return USERS_BODY
        if request.path == "/contacts/bulk_create":
            return self._create(request.json_body["contacts"])
        if request.path == "/contacts/bulk_update":
            return self._update(request.json_body["contact_attributes"])
        raise AssertionError(f"unexpected request {request}")

    def _refuse(self, keys: list[Any]) -> None:
        if self.refused & set(keys):
            raise ApolloValidationError(
                "Apollo answered 422", status_code=422, body={"error": "Invalid owner"}
            )

    def _create(self, contacts: list[dict[str, Any]]) -> dict[str, Any]:
        self._refuse([contact.get("email") for contact in contacts])
        created, existing = [], []
        for contact in contacts:
            email = contact["email"]
            if email in self.contacts:
                existing.append({**contact, "id": self.contacts[email]})
            else:
                self.contacts[email] = f"id-{email.split('@')[0]}"
                created.append({**contact, "id": self.contacts[email]})
        return {"created_contacts": created, "existing_contacts": existing}

    def _update(self, attributes: list[dict[str, Any]]) -> dict[str, Any]:
        gone = [update["id"] for update in attributes if update["id"] in self.deleted]
        if gone:
            raise ApolloValidationError(
                "Apollo answered 422", status_code=422, body={"error": "deleted"}, deleted_contact_ids=gone
            )
        self._refuse([update["id"] for update in attributes])
        return {"contacts": [dict(update) for update in attributes if update["id"] not in self.unconfirmed]}

    def paths(self) -> list[str]:
        return [request.path for request in self.requests]

    def sent_rows(self, records: list[dict[str, Any]]) -> list[list[int]]:
        """Each bulk call's records, as their 1-based rows in ``records`` (found by email or id)."""
        rows = {record.get("email") or record.get("id"): row for row, record in enumerate(records, 1)}
        sent = []
        for request in self.requests:
            body = request.json_body or {}
            items = body.get("contacts") or body.get("contact_attributes") or []
            if items:
                sent.append([rows[item.get("email") if "contacts" in body else item["id"]] for item in items])
        return sent


def create_record(n: int) -> dict[str, Any]:
    return {"email": f"p{n}@x.example", "first_name": f"P{n}"}


def update_record(contact_id: str) -> dict[str, Any]:
    return {"id": contact_id, "title": "CTO"}


def drive(
    records: list[Any],
    apollo: ScriptedApollo,
    *,
    upsert: Upsert | None = None,
    offset: int = 0,
    create_size: int = 100,
    update_size: int = 100,
) -> tuple[Upsert, list[Any]]:
    """Drive an upsert over ``records`` (rows from 1, read on after ``offset``); the upsert and what it emitted."""
    if upsert is None:
        upsert = Upsert(None, TeamLookups(), create_size=create_size, update_size=update_size)
    emitted: list[Any] = []
    numbered = list(enumerate(records, 1))[offset:]
    for value in iter_steps(upsert.steps(numbered), apollo):
        emitted.append(value)
    return upsert, emitted


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


def test_mapped_columns_must_exist_in_the_source() -> None:
    assert check_mapped_columns(None, ["a"]) is None
    assert check_mapped_columns({"a": "email"}, None) is None
    assert check_mapped_columns({"a": "email", "b": "title"}, ["b", "a", "c"]) is None
    message = argument_error(check_mapped_columns, {"x": "email", "a": "title", "y": "id"}, ["a", "b"])
    assert message == (
        "column_map names column(s) the source does not have: 'x', 'y'. Its columns: 'a', 'b'."
    )


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


def test_a_huge_whole_number_is_a_count_not_an_overflow() -> None:
    assert check_max_rejects(10**400) == 10**400


def test_rejects_exceed_a_count_or_a_share() -> None:
    assert rejects_exceed(None, 5, 5) is False
    assert rejects_exceed(3, 3, 10) is False and rejects_exceed(3, 4, 10) is True
    assert rejects_exceed(0.25, 1, 4) is False and rejects_exceed(0.25, 2, 4) is True
    assert rejects_exceed(0.5, 1, 1) is True
    assert rejects_exceed(0.5, 0, 0) is False


# ------------------------------------------------------------------ values and records


def test_a_reject_is_one_json_line() -> None:
    line = Reject(3, {"d": DAY}, "why").to_json_line()
    assert line == '{"row": 3, "record": {"d": "2027-01-02"}, "reason": "why"}\n'


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


# ------------------------------------------------------------------ preparing rows


class Preparing:
    """A row preparer whose name look-ups go to a scripted Apollo (the requests are recorded)."""

    def __init__(
        self, column_map: dict[str, str] | None = None, apollo: ScriptedApollo | None = None
    ) -> None:
        self.apollo = apollo or ScriptedApollo()
        self.preparer = RowPreparer(column_map, TeamLookups())

    def prepare(self, row: int, record: Any) -> Prepared | Reject:
        return run_steps(self.preparer.prepare(row, record), self.apollo)


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"organization_name": "Acme"}, "no email and no name"),
        ({"first_name": "Ada", "email": "ada-at-x"}, "malformed email 'ada-at-x'"),
        ({"first_name": "Ada"}, "a name without organization_name"),
        ({"email": "a@x.example", "custom_fields": {"Segment": "Galactic"}}, "not an option of the picklist"),
        ({"email": "a@x.example", "custom_fields": {"Mood": 1}}, "unknown custom field(s) 'Mood'"),
        ({"email": "a@x.example", "owner_id": "nobody@team.example"}, "no Apollo user has that email"),
        ({"id": "c1"}, "nothing to update on contact 'c1'"),
        ({"id": "c1", "contact_stage_id": "s"}, "bulk update does not take 'contact_stage_id'"),
        ({"email": "a@x.example", "api_key": "k"}, "must not carry 'api_key'"),
        (["a", "b"], "not a record of named columns"),
    ],
)
def test_each_bad_record_is_a_reject_with_its_reason(record: Any, reason: str) -> None:
    outcome = Preparing(check_column_map(None)).prepare(7, record)
    assert isinstance(outcome, Reject)
    assert outcome.row == 7 and reason in outcome.reason
    assert json.loads(outcome.to_json_line())["record"] == record


def test_a_good_record_is_mapped_resolved_and_split_by_id() -> None:
    preparing = Preparing(
        check_column_map(
            {
                "mail": "email",
                "score": "custom_fields.Lead score",
                "seg": "custom_fields.Segment",
                "boss": "owner_id",
                "key": "id",
                "note": "title",
            }
        )
    )
    create = preparing.prepare(
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
    update = preparing.prepare(2, {"key": 12345, "note": "CTO"})
    assert isinstance(update, Prepared) and update.kind == "update"
    assert update.fields == {"id": "12345", "title": "CTO"}


def test_a_create_and_an_update_are_prepared_whole() -> None:
    preparing = Preparing({"mail": "email", "key": "id", "note": "title", "boss": "owner_id"})
    record = {"mail": "a@x.example", "key": None, "note": "CTO", "boss": "grace@team.example", "d": DAY}
    assert preparing.prepare(1, record) == Prepared(
        1, "create", {"email": "a@x.example", "title": "CTO", "owner_id": "user-2"}, record
    )
    update = {"key": 12345, "note": "CEO", "boss": 42}
    assert preparing.prepare(2, update) == Prepared(
        2, "update", {"id": "12345", "title": "CEO", "owner_id": 42}, update
    )
    text_id = {"key": "c9", "note": "CFO"}
    assert preparing.prepare(3, text_id) == Prepared(3, "update", {"id": "c9", "title": "CFO"}, text_id)
    # No custom field was set, so the catalog was never asked for; the users were listed once.
    assert preparing.apollo.paths() == ["/users/search"]


def test_a_contact_can_be_created_from_an_email_alone_or_a_name_and_company() -> None:
    preparing = Preparing()
    assert preparing.prepare(1, {"email": "a@x.example"}) == Prepared(
        1, "create", {"email": "a@x.example"}, {"email": "a@x.example"}
    )
    named = {"first_name": "Ada", "organization_name": "Acme"}
    assert preparing.prepare(2, named) == Prepared(2, "create", dict(named), named)
    last = {"last_name": "Lovelace", "organization_name": "Acme"}
    assert preparing.prepare(3, last) == Prepared(3, "create", dict(last), last)
    assert preparing.apollo.requests == []


def test_custom_fields_are_resolved_with_one_catalog_call() -> None:
    assert run_steps(TeamLookups().custom_fields(), ScriptedApollo()) == CATALOG
    preparing = Preparing()
    first = {"email": "a@x.example", "custom_fields": {"Lead score": "87", "segment": "smb"}}
    assert preparing.prepare(1, first) == Prepared(
        1, "create", {"email": "a@x.example", "typed_custom_fields": {"f1": 87, "f2": "o2"}}, first
    )
    second = {"id": "c1", "custom_fields": {"Segment": "Enterprise"}}
    assert preparing.prepare(2, second) == Prepared(
        2, "update", {"id": "c1", "typed_custom_fields": {"f2": "o1"}}, second
    )
    assert preparing.apollo.requests == [
        ApiRequest("GET", "/fields", params=(("source", "custom"),), rate_group="/fields")
    ]


def test_owners_by_email_are_looked_up_in_one_listing_of_the_team() -> None:
    preparing = Preparing()
    for row, owner in enumerate(["grace@team.example", "ADA@team.example", "grace@team.example"], 1):
        outcome = preparing.prepare(row, {"email": f"p{row}@x.example", "owner_id": owner})
        assert isinstance(outcome, Prepared)
        assert outcome.fields["owner_id"] == ("user-1" if owner.startswith("ADA") else "user-2")
    assert preparing.apollo.paths() == ["/users/search"]


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
        ({"email": "a@x.example", "owner_id": "nobody@team.example", "d": DAY}, UNKNOWN_OWNER),
        (
            {"email": "a@x.example", "photo": b"\x00"},
            "column for 'photo' holds a binary value (1 bytes), not a value Apollo takes.",
        ),
    ],
)
def test_each_reject_carries_its_row_the_record_as_read_and_the_whole_reason(
    record: Any, reason: str
) -> None:
    assert Preparing().prepare(7, record) == Reject(7, record_as_read(record), reason)


def test_rejects_keep_the_record_as_json() -> None:
    preparing = Preparing()
    outcome = preparing.prepare(4, {"email": "bad", "d": DAY})
    assert outcome == Reject(4, {"email": "bad", "d": "2027-01-02"}, "malformed email 'bad'")
    binary = preparing.prepare(5, {"email": "a@x.example", "photo": b"\x00"})
    assert isinstance(binary, Reject) and binary.record == {"email": "a@x.example", "photo": "b'\\x00'"}


def test_a_users_listing_refused_for_the_key_fails_saying_a_master_key_is_needed() -> None:
    refused = ApolloAuthError("Apollo answered 403", status_code=403, body={"error": "forbidden"})
    preparing = Preparing(apollo=ScriptedApollo(users_error=refused))
    with pytest.raises(ApolloAuthError) as caught:
        preparing.prepare(1, {"email": "a@x.example", "owner_id": "grace@team.example"})
    assert "Could not look up owner 'grace@team.example' by email" in str(caught.value)
    assert caught.value.status_code == 403


# ------------------------------------------------------------------ Apollo's answers


def test_bulk_create_request_is_the_whole_request() -> None:
    contacts = [{"email": "a@x.example"}]
    assert bulk_create_request(contacts) == ApiRequest(
        "POST",
        "/contacts/bulk_create",
        json_body={"contacts": contacts, "run_dedupe": True},
        idempotent=True,
        rate_group="/contacts/bulk_create",
    )


def test_a_bulk_create_answer_tells_created_from_matched() -> None:
    contacts = [{"email": "a@x.example"}, {"email": "b@x.example"}]
    body = {
        "created_contacts": [{"id": "2", "email": "b@x.example"}],
        "existing_contacts": [{"id": "1", "email": "a@x.example"}],
    }
    assert read_create_answer(contacts, body) == [("1", False), ("2", True)]


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


def test_a_bulk_update_of_contact_attributes_is_one_request_answered_with_the_contacts() -> None:
    attributes = [{"id": "c1", "title": "CTO"}, {"id": "c2", "title": "CEO"}]
    steps = update_contact_attributes(attributes)
    assert next(steps) == bulk_update_request(contact_attributes=attributes)
    with pytest.raises(StopIteration) as done:
        steps.send({"contacts": [{"id": "c1", "title": "CTO"}, "junk"]})
    assert done.value.value == [{"id": "c1", "title": "CTO"}]
    # A background job's answer names each contact it took on.
    job = run_steps(update_contact_attributes(attributes), lambda request: {"entity_progress_job": {}})
    assert job == [{"id": "c1"}, {"id": "c2"}]


def update(row: int, contact_id: str) -> Prepared:
    return Prepared(row, "update", {"id": contact_id, "title": "T"}, {})


def create(row: int) -> Prepared:
    return Prepared(row, "create", {"email": f"p{row}@x.example"}, {})


def item(row: int, contact_id: str | None = None) -> Prepared:
    return create(row) if contact_id is None else update(row, contact_id)


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


# ------------------------------------------------------------------ bisection


def send_part(part: list[Prepared]) -> Generator[ApiRequest, Any, None]:
    """The step generator of one bulk call: the scripted call sees the part's rows and ids."""
    yield ApiRequest("POST", "/part", json_body=[{"row": i.row, "id": i.fields.get("id")} for i in part])


class Sender:
    """A scripted bulk call: 'gone' ids are refused by name, rows in ``bad`` without naming them."""

    def __init__(self, bad: set[int]) -> None:
        self.bad = bad
        self.calls: list[list[int]] = []

    def __call__(self, request: ApiRequest) -> Any:
        assert len(self.calls) < 100, "send_bisecting does not stop"
        part = request.json_body
        self.calls.append([entry["row"] for entry in part])
        if self.bad & {entry["row"] for entry in part}:
            raise ApolloValidationError("Apollo answered 422", status_code=422, body={"error": "Invalid"})
        gone = [entry["id"] for entry in part if entry["id"] == "gone"]
        if gone:
            raise ApolloValidationError(
                "Apollo answered 422", status_code=422, body={"error": "deleted"}, deleted_contact_ids=gone
            )
        return {}


def bisect(items: list[Prepared], call: Any, on_reject: Any) -> int:
    return run_steps(send_bisecting(items, send_part, on_reject), call)


def test_a_refused_batch_is_bisected_down_to_its_bad_records() -> None:
    send = Sender({17, 64})
    rejected: list[tuple[int, str]] = []
    count = bisect([item(r) for r in range(1, 101)], send, lambda i, why: rejected.append((i.row, why)))
    assert sorted(r for r, _ in rejected) == [17, 64]
    assert all(why == "Apollo refused the record (422): Invalid" for _, why in rejected)
    sent_ok = [row for part in send.calls if not {17, 64} & set(part) for row in part]
    assert sorted(sent_ok) == sorted(set(range(1, 101)) - {17, 64})
    assert count == len(send.calls) <= 1 + 2 * 2 * 7


def test_a_refusal_naming_its_contacts_drops_them_in_one_step() -> None:
    send = Sender(set())
    rejected: list[int] = []
    items = [item(r, "gone" if r == 5 else f"c{r}") for r in range(1, 11)]
    assert bisect(items, send, lambda i, why: rejected.append(i.row)) == 2
    assert [len(part) for part in send.calls] == [10, 9] and rejected == [5]


def test_bisection_sends_halves_in_row_order_and_rejects_the_bad_record() -> None:
    send = Sender({2})
    rejected: list[tuple[int, str]] = []
    count = bisect([create(row) for row in range(1, 6)], send, lambda i, why: rejected.append((i.row, why)))
    assert send.calls == [[1, 2, 3, 4, 5], [1, 2], [1], [2], [3, 4, 5]]
    assert rejected == [(2, "Apollo refused the record (422): Invalid")]
    assert count == 5


def test_a_named_refusal_drops_its_rows_and_sends_the_rest_before_later_halves() -> None:
    send = Sender({1})
    rejected: list[tuple[Prepared, str]] = []
    items = [update(1, "c1"), update(2, "gone"), update(3, "c3"), update(4, "c4"), update(5, "c5")]
    items.append(update(6, "c6"))
    count = bisect(items, send, lambda i, why: rejected.append((i, why)))
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
    assert bisect(items, send, lambda i, why: rejected.append(i.row)) == 5
    assert send.calls == [[1, 2, 3, 4], [1, 2], [1], [2], [3, 4]]
    assert rejected == [1, 2]


def test_a_clean_batch_is_one_call_and_an_argument_error_is_not_bisected() -> None:
    send = Sender(set())
    assert bisect([create(1), create(2)], send, lambda i, why: None) == 1
    assert bisect([], send, lambda i, why: None) == 0

    def refuse(request: ApiRequest) -> Any:
        raise ApolloArgumentError("bad argument")

    with pytest.raises(ApolloArgumentError, match="bad argument"):
        bisect([create(1), create(2)], refuse, lambda i, why: None)


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


def test_batches_are_full_and_in_row_order_and_a_repeated_id_sends_its_batch_early() -> None:
    batcher = Batcher(create_size=3, update_size=3)
    sent = [b for row in range(1, 8) for b in batcher.add(item(row))]
    assert [[i.row for i in b.items] for b in sent] == [[1, 2, 3], [4, 5, 6]]
    assert batcher.first_pending_row() == 7
    sent = [b for b in batcher.add(item(8, "a"))] + [b for b in batcher.add(item(9, "a"))]
    assert [[i.row for i in b.items] for b in sent] == [[8]]  # bulk update takes an id once a call
    assert [(b.kind, [i.row for i in b.items]) for b in batcher.drain()] == [("create", [7]), ("update", [9])]
    assert expected_calls(250, 101) == 3 + 2


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


# ------------------------------------------------------------------ the upsert, one step generator


def test_creates_and_updates_go_in_full_batches_in_row_order_and_the_rest_at_the_end() -> None:
    records = [
        create_record(1),
        update_record("c2"),
        create_record(3),
        update_record("c4"),
        create_record(5),
        update_record("c6"),
        create_record(7),
    ]
    apollo = ScriptedApollo()
    upsert, emitted = drive(records, apollo, create_size=3, update_size=2)

    assert apollo.requests == [
        bulk_update_request(contact_attributes=[records[1], records[3]]),
        bulk_create_request([records[0], records[2], records[4]]),
        bulk_create_request([records[6]]),
        bulk_update_request(contact_attributes=[records[5]]),
    ]
    assert emitted == [
        BatchDone("update", [], 1),
        BatchDone("create", ["id-p1", "id-p3", "id-p5"], 1),
        BatchDone("create", ["id-p7"], 1),
        BatchDone("update", [], 1),
    ]
    assert upsert.cursor == UpsertCursor(
        read_through=7,
        creates_through=7,
        updates_through=6,
        counts={"created": 4, "updated": 3, "unchanged": 0, "rejected": 0},
        calls=4,
    )


def test_the_upsert_returns_its_cursor_and_a_clean_run_costs_one_call_a_hundred_records() -> None:
    records = [create_record(n) for n in range(1, 251)] + [update_record(f"c{n}") for n in range(1, 102)]
    apollo = ScriptedApollo()
    upsert = Upsert(None, TeamLookups())
    cursor = run_steps(upsert.steps(enumerate(records, 1)), apollo)
    assert cursor is upsert.cursor
    assert cursor.counts == {"created": 250, "updated": 101, "unchanged": 0, "rejected": 0}
    assert cursor.calls == len(apollo.requests) == expected_calls(250, 101)
    assert [len(rows) for rows in apollo.sent_rows(records)] == [100, 100, 100, 50, 1]


def test_a_dedupe_match_counts_unchanged_and_is_not_a_created_id() -> None:
    apollo = ScriptedApollo()
    apollo.contacts["p2@x.example"] = "id-old"
    upsert, emitted = drive([create_record(1), create_record(2)], apollo)
    assert emitted == [BatchDone("create", ["id-p1"], 1)]
    assert upsert.cursor.counts == {"created": 1, "updated": 0, "unchanged": 1, "rejected": 0}


def test_a_refused_batch_is_split_down_to_the_bad_row_which_goes_to_the_rejects() -> None:
    records = [create_record(n) for n in range(1, 11)]
    apollo = ScriptedApollo(refused={"p7@x.example"})
    upsert, emitted = drive(records, apollo)

    # 10 refused; 1-5 sent; 6-10 refused; 6-7 refused; 6 sent; 7 refused alone; 8-10 sent.
    assert apollo.sent_rows(records) == [
        list(range(1, 11)),
        [1, 2, 3, 4, 5],
        [6, 7, 8, 9, 10],
        [6, 7],
        [6],
        [7],
        [8, 9, 10],
    ]
    good = [f"id-p{n}" for n in (1, 2, 3, 4, 5, 6, 8, 9, 10)]
    assert emitted == [Reject(7, records[6], INVALID), BatchDone("create", good, 7)]
    assert upsert.cursor.counts == {"created": 9, "updated": 0, "unchanged": 0, "rejected": 1}
    assert upsert.cursor.calls == 7


def test_existing_contacts_are_updated_and_a_deleted_or_unconfirmed_one_is_a_reject() -> None:
    records = [update_record(contact_id) for contact_id in ("c1", "gone", "c3", "quiet", "c5")]
    apollo = ScriptedApollo(deleted={"gone"}, unconfirmed={"quiet"})
    upsert, emitted = drive(records, apollo)

    assert apollo.requests == [
        bulk_update_request(contact_attributes=records),
        bulk_update_request(contact_attributes=[records[0], *records[2:]]),
    ]
    assert emitted == [
        Reject(2, records[1], "Apollo refused the record (422): deleted"),
        Reject(4, records[3], "Apollo's bulk update answer did not include this contact"),
        BatchDone("update", [], 2),
    ]
    assert upsert.cursor.counts == {"created": 0, "updated": 3, "unchanged": 0, "rejected": 2}


def test_records_the_reader_rejected_and_bad_records_are_emitted_in_row_order_before_their_batch() -> None:
    unreadable = Reject(2, "{not json", "not valid JSON")
    apollo = ScriptedApollo()
    upsert = Upsert(None, TeamLookups())
    numbered = [(1, create_record(1)), (2, unreadable), (3, {"email": "bad"}), (4, create_record(4))]
    emitted = list(iter_steps(upsert.steps(numbered), apollo))
    assert emitted == [
        unreadable,
        Reject(3, {"email": "bad"}, "malformed email 'bad'"),
        BatchDone("create", ["id-p1", "id-p4"], 1),
    ]
    assert upsert.cursor.counts["rejected"] == 2 and upsert.cursor.read_through == 4


def test_names_are_looked_up_once_on_the_first_record_that_needs_them() -> None:
    records = [
        create_record(1),
        {**create_record(2), "custom_fields": {"Segment": "SMB"}, "owner_id": "grace@team.example"},
        {**create_record(3), "custom_fields": {"Lead score": 5}, "owner_id": "ada@team.example"},
    ]
    apollo = ScriptedApollo()
    drive(records, apollo)
    assert apollo.paths() == ["/fields", "/users/search", "/contacts/bulk_create"]
    sent = apollo.requests[-1].json_body["contacts"]
    assert sent[1:] == [
        {
            "email": "p2@x.example",
            "first_name": "P2",
            "typed_custom_fields": {"f2": "o2"},
            "owner_id": "user-2",
        },
        {"email": "p3@x.example", "first_name": "P3", "typed_custom_fields": {"f1": 5}, "owner_id": "user-1"},
    ]
    plain = ScriptedApollo()
    drive([create_record(1)], plain)
    assert plain.paths() == ["/contacts/bulk_create"]


def test_a_quota_stop_mid_batch_resumes_before_the_cut_batch_and_sends_no_settled_row_again() -> None:
    # Row 1 updates a contact (its batch waits), row 2 is malformed, rows 3-9 are creates and
    # Apollo refuses row 7. The quota runs out during the bisection of the batch of rows 6-8.
    records: list[dict[str, Any]] = [update_record("c1"), {"email": "bad"}]
    records += [create_record(n) for n in range(3, 10)]
    quota = ApolloRateLimitError("hourly quota used up", retry_after=3600)
    apollo = ScriptedApollo(refused={"p7@x.example"}, fail_at={4: quota})
    upsert = Upsert(None, TeamLookups(), create_size=3, update_size=3)
    emitted: list[Any] = []
    with pytest.raises(ApolloRateLimitError) as caught:
        for value in iter_steps(upsert.steps(enumerate(records, 1)), apollo):
            emitted.append(value)
    assert caught.value is quota
    # Sent: 3-5; 6-8 refused; 6 (applied, but its batch is not settled); 7-8 cut by the quota.
    assert apollo.sent_rows(records) == [[3, 4, 5], [6, 7, 8], [6], [7, 8]]
    assert emitted == [
        Reject(2, {"email": "bad"}, "malformed email 'bad'"),
        BatchDone("create", ["id-p3", "id-p4", "id-p5"], 1),
    ]
    cursor = upsert.cursor
    assert (cursor.read_through, cursor.creates_through, cursor.updates_through) == (7, 5, 0)
    assert cursor.counts == {"created": 3, "updated": 0, "unchanged": 0, "rejected": 1} and cursor.calls == 1
    # The update of row 1 still waits in its batch: a resumed run reads the source from the start.
    assert upsert.resume_offset() == 0
    cursor.offset = upsert.resume_offset()

    # Resumed from the checkpoint: the settled reject and batch are skipped, the cut batch is sent again.
    resumed_from = len(apollo.requests)
    checkpoint = UpsertCursor.from_json(json.loads(json.dumps(cursor.to_json())))
    resumed = Upsert(None, TeamLookups(), checkpoint, create_size=3, update_size=3)
    upsert, more = drive(records, apollo, upsert=resumed, offset=checkpoint.offset)
    assert apollo.sent_rows(records)[resumed_from:] == [[6, 7, 8], [6], [7, 8], [7], [8], [9], [1]]
    assert more == [
        Reject(7, records[6], INVALID),
        BatchDone("create", ["id-p8"], 5),
        BatchDone("create", ["id-p9"], 1),
        BatchDone("update", [], 1),
    ]
    # Row 6 was applied before the stop: Apollo's dedupe matches it (unchanged), no duplicate.
    assert upsert.cursor.counts == {"created": 5, "updated": 1, "unchanged": 1, "rejected": 2}
    assert len(apollo.contacts) == 6


def test_a_quota_stop_in_the_last_partial_batch_resumes_after_the_last_settled_batch() -> None:
    records = [create_record(n) for n in range(1, 8)]
    apollo = ScriptedApollo(fail_at={3: ApolloRateLimitError("quota", retry_after=3600)})
    upsert = Upsert(None, TeamLookups(), create_size=3)
    with pytest.raises(ApolloRateLimitError):
        list(iter_steps(upsert.steps(enumerate(records, 1)), apollo))
    # Batches 1-3 and 4-6 settled; row 7 waited in the batch the drain was sending.
    assert upsert.cursor.creates_through == 6 and upsert.cursor.read_through == 7
    assert upsert.resume_offset() == 6


def test_the_async_driver_runs_the_same_upsert() -> None:
    records = [create_record(1), update_record("c2"), {"email": "bad"}, create_record(4)]
    apollo = ScriptedApollo()

    async def call(request: ApiRequest) -> Any:
        return apollo(request)

    upsert = Upsert(None, TeamLookups())
    cursor = asyncio.run(arun_steps(upsert.steps(enumerate(records, 1)), call))
    assert cursor.counts == {"created": 2, "updated": 1, "unchanged": 0, "rejected": 1}
    assert apollo.paths() == ["/contacts/bulk_create", "/contacts/bulk_update"]
