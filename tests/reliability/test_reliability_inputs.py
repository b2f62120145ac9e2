"""Bad and hostile inputs to every operator: a clear error before any request, or an exact round trip."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from reliability_support import assert_no_key, expect_failure

from airflow_provider_apollo.core import ID_BATCH_SIZE
from airflow_provider_apollo.exceptions import ApolloArgumentError, ApolloValidationError
from airflow_provider_apollo.hooks.apollo import ApolloHook
from airflow_provider_apollo.operators.contacts import (
    ApolloCreateContactOperator,
    ApolloUpdateContactOperator,
    ApolloUpdateOwnersOperator,
    ApolloUpdateStagesOperator,
)
from airflow_provider_apollo.sensors.contact_stage import ApolloContactStageSensor
from airflow_provider_apollo.testing import ApolloEmulator
from airflow_provider_apollo.transfers.apollo_to_s3 import ApolloSearchToS3Operator

Outcome = Callable[[str, str, str], None]
ONE = {"first_name": "Ada", "email": "ada@example.com"}
EXPORT = {"s3_bucket": "bucket", "s3_key": "contacts.jsonl"}
STAGES = {"contact_stage": "Interested"}

# (case, operator class, arguments, text the error must contain: the argument it names)
BAD_ARGUMENTS = [
    ("contact is a plain string", ApolloCreateContactOperator, {"contact": "Ada Lovelace"}, "contact"),
    ("contact is a list", ApolloCreateContactOperator, {"contact": [ONE]}, "contact"),
    ("contact is empty", ApolloCreateContactOperator, {"contact": {}}, "contact"),
    ("contacts is empty", ApolloCreateContactOperator, {"contacts": []}, "contacts"),
    ("contacts holds an empty dict", ApolloCreateContactOperator, {"contacts": [ONE, {}]}, "contacts[1]"),
    ("contacts holds a number", ApolloCreateContactOperator, {"contacts": [ONE, 7]}, "contacts[1]"),
    (
        "both contact and contacts",
        ApolloCreateContactOperator,
        {"contact": ONE, "contacts": [ONE]},
        "exactly one",
    ),
    ("neither contact nor contacts", ApolloCreateContactOperator, {}, "exactly one"),
    ("api_key among the fields", ApolloCreateContactOperator, {"contact": {"api_key": "x"}}, "api_key"),
    (
        "run_dedupe is a string",
        ApolloCreateContactOperator,
        {"contact": ONE, "run_dedupe": "yes"},
        "run_dedupe",
    ),
    ("contact_id is empty", ApolloUpdateContactOperator, {"contact_id": "", "fields": ONE}, "contact_id"),
    ("contact_id is a number", ApolloUpdateContactOperator, {"contact_id": 123, "fields": ONE}, "contact_id"),
    ("fields is empty", ApolloUpdateContactOperator, {"contact_id": "abc", "fields": {}}, "fields"),
    ("fields is a list", ApolloUpdateContactOperator, {"contact_id": "abc", "fields": [1]}, "fields"),
    (
        "contact_ids is a bare id string",
        ApolloUpdateStagesOperator,
        {"contact_ids": "abc", **STAGES},
        "contact_ids",
    ),
    ("contact_ids is empty", ApolloUpdateStagesOperator, {"contact_ids": [], **STAGES}, "contact_ids"),
    (
        "contact_ids holds numbers",
        ApolloUpdateStagesOperator,
        {"contact_ids": [1, 2], **STAGES},
        "contact_ids",
    ),
    (
        "contact_ids holds blanks",
        ApolloUpdateStagesOperator,
        {"contact_ids": ["a", " "], **STAGES},
        "contact_ids",
    ),
    ("contact_ids is a dict", ApolloUpdateStagesOperator, {"contact_ids": {"a": 1}, **STAGES}, "contact_ids"),
    (
        "contact_stage is empty",
        ApolloUpdateStagesOperator,
        {"contact_ids": ["a"], "contact_stage": ""},
        "contact_stage",
    ),
    ("owner_id is None", ApolloUpdateOwnersOperator, {"contact_ids": ["a"], "owner_id": None}, "owner_id"),
    (
        "owner contact_ids is None",
        ApolloUpdateOwnersOperator,
        {"contact_ids": None, "owner_id": "u"},
        "contact_ids",
    ),
    (
        "skip_deleted is a string",
        ApolloUpdateOwnersOperator,
        {"contact_ids": ["a"], "owner_id": "u", "skip_deleted": "no"},
        "skip_deleted",
    ),
    (
        "sensor contact_ids is empty",
        ApolloContactStageSensor,
        {"contact_ids": [], "target_stages": ["Replied"]},
        "contact_ids",
    ),
    (
        "sensor target_stages is empty",
        ApolloContactStageSensor,
        {"contact_ids": ["a"], "target_stages": []},
        "target_stages",
    ),
    (
        "sensor require is 'most'",
        ApolloContactStageSensor,
        {"contact_ids": ["a"], "target_stages": ["Replied"], "require": "most"},
        "require",
    ),
    ("export file_format is xml", ApolloSearchToS3Operator, {**EXPORT, "file_format": "xml"}, "file_format"),
    ("export compression is zip", ApolloSearchToS3Operator, {**EXPORT, "compression": "zip"}, "compression"),
    ("export max_records is -1", ApolloSearchToS3Operator, {**EXPORT, "max_records": -1}, "max_records"),
    ("export concurrency is 0", ApolloSearchToS3Operator, {**EXPORT, "concurrency": 0}, "concurrency"),
]


@pytest.mark.parametrize(
    "operator_class, arguments, named",
    [pytest.param(cls, args, named, id=case) for case, cls, args, named in BAD_ARGUMENTS],
)
def test_bad_argument_fails_naming_it_before_any_request(
    emulator: ApolloEmulator,
    operator_class: type,
    arguments: dict[str, Any],
    named: str,
    context: dict[str, Any],
    request: pytest.FixtureRequest,
    outcome: Outcome,
) -> None:
    # Built and run as a task would be: wherever the check happens (construction or execute),
    # it must come before the first request.
    error = expect_failure(
        lambda: operator_class(task_id="t", **arguments).execute(context), ApolloValidationError, ValueError
    )
    assert named in str(error)
    assert isinstance(error, ApolloArgumentError), type(error)
    assert emulator.requests == []
    outcome(request.node.callspec.id, operator_class.__name__, "clear error naming the argument, 0 requests")


@pytest.mark.parametrize(
    "operator_class, arguments, named",
    [
        pytest.param(
            ApolloUpdateStagesOperator,
            {"contact_ids": "{{ 'not a list' }}", **STAGES},
            "contact_ids",
            id="template renders to a non-list",
        ),
        pytest.param(
            ApolloCreateContactOperator,
            {"contact": "{{ 'Ada' }}"},
            "contact",
            id="template renders to a non-dict",
        ),
        pytest.param(
            ApolloSearchToS3Operator,
            {**EXPORT, "search": "{{ 'q' }}"},
            "search",
            id="export search renders to a string",
        ),
        pytest.param(
            ApolloSearchToS3Operator,
            {**EXPORT, "s3_key": "{{ 's3://bucket/key' }}"},
            "s3_key",
            id="export s3_key renders to a URL",
        ),
        pytest.param(
            ApolloSearchToS3Operator,
            {**EXPORT, "updated_since": "{{ 'yesterday-ish' }}"},
            "updated_since",
            id="export updated_since is not a date",
        ),
    ],
)
def test_bad_rendered_argument_fails_naming_it_before_any_request(
    emulator: ApolloEmulator,
    operator_class: type,
    arguments: dict[str, Any],
    named: str,
    context: dict[str, Any],
    request: pytest.FixtureRequest,
    outcome: Outcome,
) -> None:
    operator = operator_class(task_id="t", **arguments)
    operator.render_template_fields(context)
    error = expect_failure(lambda: operator.execute(context), ApolloValidationError, ValueError)
    assert named in str(error)
    assert isinstance(error, ApolloArgumentError), type(error)
    assert emulator.requests == []
    outcome(
        request.node.callspec.id,
        operator_class.__name__,
        "clear error at run time naming the argument, 0 requests",
    )


def test_unknown_stage_fails_listing_the_known_ones_before_any_update(
    emulator: ApolloEmulator, context: dict[str, Any], outcome: Outcome
) -> None:
    ids = emulator.seed_contacts(3)
    before = emulator.contacts
    error = expect_failure(
        lambda: ApolloUpdateStagesOperator(task_id="s", contact_ids=ids, contact_stage="Nope").execute(
            context
        ),
        ApolloValidationError,
    )
    assert "'Nope'" in str(error) and "Interested" in str(error)
    assert emulator.request_count("/contacts") == 0
    assert emulator.contacts == before
    error = expect_failure(
        lambda: ApolloContactStageSensor(task_id="w", contact_ids=ids, target_stages=["Nope"]).poke(context),
        ApolloValidationError,
    )
    assert emulator.request_count("/contacts") == 0
    outcome(
        "unknown stage 'Nope'",
        "ApolloUpdateStagesOperator, ApolloContactStageSensor",
        "clear error listing stages; no contact request",
    )


def test_unknown_owner_is_refused_by_apollo_and_changes_nothing(
    emulator: ApolloEmulator, context: dict[str, Any], outcome: Outcome
) -> None:
    ids = emulator.seed_contacts(3)
    before = emulator.contacts
    error = expect_failure(
        lambda: ApolloUpdateOwnersOperator(task_id="o", contact_ids=ids, owner_id="no-such-user").execute(
            context
        ),
        ApolloValidationError,
    )
    assert "422" in str(error) and "no-such-user" in str(error)
    assert emulator.contacts == before
    outcome("unknown owner_id", "ApolloUpdateOwnersOperator", "clear 422 error, nothing changed")


def test_twenty_thousand_ids_are_batched_and_all_updated(
    emulator: ApolloEmulator, context: dict[str, Any], outcome: Outcome
) -> None:
    ids = emulator.seed_contacts(20_000, stage="Cold")
    updated = ApolloUpdateStagesOperator(task_id="s", contact_ids=ids, contact_stage="Interested").execute(
        context
    )
    assert len(updated) == len(set(updated)) == 20_000 and set(updated) == set(ids)
    assert emulator.request_count("/contacts/update_stages") == 20_000 // ID_BATCH_SIZE
    interested = emulator.stage_id("Interested")
    assert all(contact["contact_stage_id"] == interested for contact in emulator.contacts.values())
    outcome(
        "20,000 contact ids",
        "ApolloUpdateStagesOperator",
        f"{20_000 // ID_BATCH_SIZE} batches of 100, all updated",
    )


HOSTILE_FIELDS = {
    "sql-injection": "'; DROP TABLE contacts; --",
    "crlf-header-injection": "Ada\r\nX-Injected: 1\r\n\r\nbody",
    "lone-surrogate": "Ada \ud800 \udcff",
    "non-latin-and-emoji": "Ада 李 🚀 \u202e",
    "path-traversal": "../../etc/passwd",
    "html": "<script>alert(1)</script>",
    "nul-byte": "Ada\x00Lovelace",
}


@pytest.mark.parametrize("value", list(HOSTILE_FIELDS.values()), ids=list(HOSTILE_FIELDS))
def test_hostile_strings_in_contact_fields_round_trip_exactly(
    emulator: ApolloEmulator,
    value: str,
    context: dict[str, Any],
    request: pytest.FixtureRequest,
    outcome: Outcome,
) -> None:
    fields = {"first_name": value, "title": value, "email": "h@example.com"}
    contact_id = ApolloCreateContactOperator(task_id="c", contact=fields).execute(context)
    stored = ApolloHook().get_contact(contact_id)
    assert (stored["first_name"], stored["title"]) == (value, value)
    ApolloUpdateContactOperator(task_id="u", contact_id=contact_id, fields={"last_name": value}).execute(
        context
    )
    assert emulator.contacts[contact_id]["last_name"] == value
    assert len(emulator.contacts) == 1
    outcome(
        request.node.callspec.id,
        "ApolloCreateContactOperator, ApolloUpdateContactOperator",
        "round-trips exactly",
    )


def test_non_utf8_bytes_in_a_contact_field_fail_naming_the_field_before_any_request(
    emulator: ApolloEmulator, context: dict[str, Any], outcome: Outcome
) -> None:
    error = expect_failure(
        lambda: ApolloCreateContactOperator(task_id="c", contact={"first_name": b"\xff\xfe"}).execute(
            context
        ),
        ApolloValidationError,
    )
    assert "contact" in str(error) and "first_name" in str(error)
    assert emulator.request_count() == 0
    outcome(
        "non-UTF-8 bytes b'\\xff\\xfe'",
        "ApolloCreateContactOperator",
        "clear error naming the field, 0 requests",
    )


def test_path_traversal_contact_id_is_url_quoted_into_one_path_segment(
    emulator: ApolloEmulator, context: dict[str, Any], outcome: Outcome
) -> None:
    error = expect_failure(
        lambda: ApolloUpdateContactOperator(
            task_id="u", contact_id="../../etc/passwd", fields={"title": "x"}
        ).execute(context),
        ApolloValidationError,
    )
    assert "does not exist" in str(error)
    assert [r.path for r in emulator.requests] == ["/api/v1/contacts/..%2F..%2Fetc%2Fpasswd"]
    outcome(
        "'../../etc/passwd' as contact_id",
        "ApolloUpdateContactOperator",
        "URL-quoted into one segment; clear 422",
    )


def test_jinja_in_a_literal_contact_field_is_rendered_because_contact_is_templated(
    emulator: ApolloEmulator, context: dict[str, Any], outcome: Outcome
) -> None:
    """Documented: ``contact`` is a template field, so "{{ 7*7 }}" is stored as "49"; wrap literals in raw."""
    operator = ApolloCreateContactOperator(
        task_id="c",
        contact={
            "first_name": "{{ 7*7 }}",
            "title": "{% raw %}{{ 7*7 }}{% endraw %}",
            "email": "j@example.com",
        },
    )
    operator.render_template_fields(context)
    assert_no_key(*(getattr(operator, name) for name in operator.template_fields))
    contact_id = operator.execute(context)
    stored = emulator.contacts[contact_id]
    assert stored["first_name"] == "49"
    assert stored["title"] == "{{ 7*7 }}"
    outcome(
        "'{{ 7*7 }}' in a literal contact field",
        "ApolloCreateContactOperator",
        "RENDERED to '49' (template field); {% raw %} keeps it",
    )
