"""
Bad, hostile and huge input to the contact operators: a clear error before any write, or an exact round trip.

A bad argument or a rendered template of the wrong type is named before the first request. A name
the team does not have (an owner's email, a custom field, a picklist value, a stage), or an owner
email with a key that is not a master key, fails before any write, listing what is known: the
contacts exist beforehand (seeded straight into the emulator), so the emulator must have received
no write request at all and every contact must be as it was. Hostile strings round-trip exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from reliability_support import Outcome, assert_no_key, assert_refused_naming_it, expect_failure

from airflow_provider_apollo.core import ID_BATCH_SIZE
from airflow_provider_apollo.exceptions import ApolloArgumentError, ApolloAuthError, ApolloValidationError
from airflow_provider_apollo.hooks.apollo import ApolloHook
from airflow_provider_apollo.operators.contacts import (
    ApolloCreateContactOperator,
    ApolloUpdateContactOperator,
    ApolloUpdateOwnersOperator,
    ApolloUpdateStagesOperator,
)
from airflow_provider_apollo.sensors.contact_stage import ApolloContactStageSensor
from airflow_provider_apollo.testing import ApolloEmulator

from .outreach_support import GRACE, assert_fails_before_any_write, create_contacts, people, run, writes

ONE = {"first_name": "Ada", "email": "ada@example.com"}
STAGES = {"contact_stage": "Interested"}
SEGMENTS = r"'Enterprise', 'Mid-Market', 'SMB'"

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
    assert_refused_naming_it(
        emulator, lambda: operator_class(task_id="t", **arguments).execute(context), named
    )
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
    assert_refused_naming_it(emulator, lambda: operator.execute(context), named)
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


# --------------------------------------------------------------------------- names the team does not have

Case = Callable[[list[str]], Any]

BAD_INPUT: dict[str, tuple[Case, str]] = {
    "unknown owner email": (
        lambda ids: ApolloUpdateOwnersOperator(task_id="owner", contact_ids=ids, new_owner="x@example.com"),
        rf"Unknown owner 'x@example.com'.*{GRACE}",
    ),
    "unknown owner email in a created contact": (
        lambda ids: ApolloCreateContactOperator(
            task_id="create",
            contacts=[{"first_name": "A"}, {"first_name": "B", "owner_id": "x@example.com"}],
        ),
        rf"Unknown owner 'x@example.com'.*{GRACE}",
    ),
    "unknown owner email in a bulk update": (
        lambda ids: ApolloUpdateContactOperator(
            task_id="update",
            contacts=[{"id": i, "title": "VP"} for i in ids[:-1]]
            + [{"id": ids[-1], "owner_id": "x@example.com"}],
        ),
        rf"Unknown owner 'x@example.com'.*{GRACE}",
    ),
    "unknown custom field": (
        lambda ids: ApolloCreateContactOperator(
            task_id="create",
            contacts=[{"first_name": "A"}, {"first_name": "B", "custom_fields": {"Score": 1}}],
        ),
        r"unknown custom field\(s\) 'Score'.*'Lead score'",
    ),
    "unknown custom field in one contact's update": (
        lambda ids: ApolloUpdateContactOperator(
            task_id="update", contact_id=ids[0], fields={"custom_fields": {"Tier": "Gold"}}
        ),
        r"unknown custom field\(s\) 'Tier'.*'Segment'",
    ),
    "unknown picklist value": (
        lambda ids: ApolloCreateContactOperator(
            task_id="create", contact={"first_name": "A", "custom_fields": {"Segment": "Huge"}}
        ),
        rf"'Huge' is not an option.*{SEGMENTS}",
    ),
    "unknown picklist value in the second batch of a bulk update": (
        lambda ids: ApolloUpdateContactOperator(
            task_id="update",
            contacts=[{"id": i, "custom_fields": {"Segment": "SMB"}} for i in ids[:-1]]
            + [{"id": ids[-1], "custom_fields": {"Segment": "Huge"}}],
        ),
        rf"'Huge' is not an option.*{SEGMENTS}",
    ),
    "a number field given text": (
        lambda ids: ApolloUpdateContactOperator(
            task_id="update", contacts=[{"id": i, "custom_fields": {"Lead score": "high"}} for i in ids]
        ),
        r"field 'Lead score' holds a number, got 'high'",
    ),
    "unknown stage": (
        lambda ids: ApolloUpdateStagesOperator(task_id="stage", contact_ids=ids, contact_stage="Hot"),
        r"Unknown contact stage 'Hot'.*'Replied'",
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_fails_before_any_write_naming_what_is_known(team: ApolloEmulator, case: str) -> None:
    make, message = BAD_INPUT[case]
    assert_fails_before_any_write(team, lambda ids: run(make(ids)), ApolloArgumentError, message)


NEEDS_MASTER_KEY: dict[str, Case] = {
    "owner by email": lambda ids: ApolloUpdateOwnersOperator(
        task_id="owner", contact_ids=ids, new_owner=GRACE
    ),
    "owner by email in created contacts": lambda ids: ApolloCreateContactOperator(
        task_id="create", contacts=[{"first_name": "A", "owner_id": GRACE}]
    ),
    "owner by email in a bulk update": lambda ids: ApolloUpdateContactOperator(
        task_id="update", contacts=[{"id": i, "owner_id": GRACE} for i in ids]
    ),
}


@pytest.mark.parametrize("case", list(NEEDS_MASTER_KEY))
def test_owner_email_with_a_key_that_is_not_a_master_key_fails_before_any_write(
    scoped_key_team: ApolloEmulator, case: str
) -> None:
    assert_fails_before_any_write(
        scoped_key_team,
        lambda ids: run(NEEDS_MASTER_KEY[case](ids)),
        ApolloAuthError,
        rf"'{GRACE}'.*or a master API key.*user id",
        contacts=3,
    )


def test_unknown_owner_email_fails_listing_users_before_any_write(team: ApolloEmulator) -> None:
    ids = create_contacts(*people(1))
    before = len(writes(team))
    with pytest.raises(ApolloArgumentError, match=rf"Unknown owner 'x@example.com'.*{GRACE}"):
        ApolloUpdateOwnersOperator(task_id="o", contact_ids=ids, new_owner="x@example.com").execute({})
    assert len(writes(team)) == before


def test_unknown_custom_field_or_value_fails_before_any_write(team: ApolloEmulator) -> None:
    for custom_fields, message in [
        ({"Score": 1}, r"unknown custom field\(s\) 'Score'.*'Lead score'"),
        ({"Segment": "Huge"}, r"'Huge' is not an option.*'Enterprise', 'Mid-Market', 'SMB'"),
    ]:
        operator = ApolloCreateContactOperator(
            task_id="c", contacts=[{"first_name": "A"}, {"first_name": "B", "custom_fields": custom_fields}]
        )
        with pytest.raises(ApolloArgumentError, match=message):
            run(operator)
    assert writes(team) == [] and team.contacts == {}
