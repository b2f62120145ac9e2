"""Custom fields and bulk updates, without I/O.

The catalog read from ``GET /fields`` (only the custom contact fields), labels and picklist texts
resolved to ids, unknown fields and values listing the known ones, values checked by field type, and
the bulk update's request and answer (refusing what bulk_update ignores): whole results and whole
messages.
"""

from __future__ import annotations

import datetime
import decimal
import math
from typing import Any

import pytest
from core_support import argument_error

from airflow_provider_apollo.core.endpoints import ApiRequest
from airflow_provider_apollo.core.fields import (
    CustomField,
    apply_custom_fields,
    bulk_update_request,
    check_bulk_fields,
    check_contact_updates,
    custom_fields_of,
    fields_request,
    needs_custom_fields,
    read_bulk_update,
    resolve_custom_fields,
)
from airflow_provider_apollo.exceptions import ApolloApiError, ApolloArgumentError

SEGMENT = CustomField("f2", "Segment", "picklist", (("Enterprise", "o1"), ("SMB", "o2")))


CATALOG = [
    CustomField("f1", "Lead score", "number"),
    SEGMENT,
    CustomField("f3", "Tags", "multipicklist", (("Hot", "t1"), ("Cold", "t2"))),
    CustomField("f4", "Regions", "multi_select", (("EU", "r1"),)),
    CustomField("f5", "Budget", "currency"),
    CustomField("f6", "Opt in", "boolean"),
    CustomField("f7", "Signed", "date"),
    CustomField("f8", "Seen", "datetime"),
    CustomField("f9", "Note", "string"),
]


# A catalog as read from a GET /fields answer: a system field and an account field are left out.
ANSWERED_CATALOG = custom_fields_of(
    {
        "fields": [
            {
                "id": "contact.f1",
                "label": "Lead score",
                "modality": "contact",
                "type": "number",
                "source": "custom",
            },
            {
                "id": "contact.f2",
                "label": "Segment",
                "modality": "contact",
                "type": "picklist",
                "source": "custom",
                "meta": {
                    "picklist_values": [{"id": "o1", "name": "Enterprise"}, {"id": "o2", "name": "SMB"}]
                },
            },
            {
                "id": "contact.email",
                "label": "Email",
                "modality": "contact",
                "type": "string",
                "source": "system",
            },
            {
                "id": "account.f3",
                "label": "Tier",
                "modality": "account",
                "type": "string",
                "source": "custom",
            },
        ]
    }
)


UPDATE_FIELDS_TEXT = (
    "first_name, last_name, email, title, organization_name, owner_id, account_id, "
    "present_raw_address, linkedin_url, typed_custom_fields"
)


def api_error(call: Any, *args: Any) -> ApolloApiError:
    with pytest.raises(ApolloApiError) as caught:
        call(*args)
    return caught.value


# --------------------------------------------------------------------------- the catalog


def test_the_catalog_is_read_with_a_get_of_the_custom_fields() -> None:
    assert fields_request() == ApiRequest(
        "GET", "/fields", params=(("source", "custom"),), rate_group="/fields"
    )


def test_the_catalog_keeps_custom_contact_fields_in_order() -> None:
    body = {
        "fields": [
            "junk",
            {"id": "contact.email", "label": "Email", "type": "string", "source": "system"},
            {
                "id": "account.f0",
                "label": "Tier",
                "type": "string",
                "modality": "account",
                "source": "custom",
            },
            {"id": "contact.f1", "label": "Lead score", "type": "number", "modality": "contact"},
            {"id": "f9", "label": "Bare id", "type": "string", "source": "custom"},
            {"id": "contact.a.b", "type": "picklist", "picklist_values": [{"id": "p1", "name": "One"}]},
            {"label": "No id", "type": "string"},
            {"id": "contact.f5", "label": "Untyped", "modality": None, "source": "custom"},
        ]
    }
    assert custom_fields_of(body) == [
        CustomField("f1", "Lead score", "number"),
        CustomField("f9", "Bare id", "string"),
        CustomField("a.b", "a.b", "picklist", (("One", "p1"),)),
        CustomField("f5", "Untyped", ""),
    ]
    assert custom_fields_of({"fields": []}) == []


def test_picklist_options_come_from_meta_or_the_field() -> None:
    def options(field: dict[str, Any]) -> tuple[tuple[str, str], ...]:
        return custom_fields_of({"fields": [{"id": "contact.p", "type": "picklist", **field}]})[0].options

    assert options({"meta": {"picklist_values": [{"id": "m1", "name": "Meta"}]}}) == (("Meta", "m1"),)
    assert options({"meta": "junk", "picklist_values": [{"_id": "x1", "name": "Top"}]}) == (("Top", "x1"),)
    assert options({"meta": {}, "picklist_values": [{"id": "x2", "name": "Top"}]}) == (("Top", "x2"),)
    assert options({"picklist_values": ["junk", {"id": "n0"}, {"id": "n1", "_id": "u1", "name": 7}]}) == (
        ("7", "n1"),
    )
    assert options({}) == ()


def test_only_custom_contact_fields_are_in_the_catalog() -> None:
    assert [field.label for field in ANSWERED_CATALOG] == ["Lead score", "Segment"]
    assert ANSWERED_CATALOG[1] == SEGMENT  # f2, its options read from meta.picklist_values


@pytest.mark.parametrize("body", [{}, {"fields": {"a": 1}}, "text", None])
def test_a_fields_answer_without_a_list_is_an_api_error(body: Any) -> None:
    error = api_error(custom_fields_of, body)
    assert str(error) == "Apollo GET /fields answered without a 'fields' list"
    assert error.body == body


# --------------------------------------------------------------------------- labels and values resolved


def test_fields_are_found_by_key_prefixed_key_or_label() -> None:
    assert resolve_custom_fields({"f2": "SMB", "contact.f1": 3, " NOTE ": "n"}, CATALOG) == {
        "f2": "o2",
        "f1": 3,
        "f9": "n",
    }
    assert resolve_custom_fields({}, CATALOG) == {}


def test_custom_fields_by_label_with_picklist_text() -> None:
    assert resolve_custom_fields({"lead score": "87", "Segment": "enterprise"}, ANSWERED_CATALOG) == {
        "f1": 87,
        "f2": "o1",
    }


def test_picklist_values_are_given_by_their_text_or_their_id() -> None:
    assert resolve_custom_fields({"Segment": " smb "}, CATALOG) == {"f2": "o2"}
    assert resolve_custom_fields({"Segment": "SMB"}, CATALOG) == {"f2": "o2"}
    assert resolve_custom_fields({"Segment": "o2"}, CATALOG) == {"f2": "o2"}
    assert resolve_custom_fields({"Tags": ["cold", "Hot"], "Regions": "eu"}, CATALOG) == {
        "f3": ["t2", "t1"],
        "f4": ["r1"],
    }
    assert resolve_custom_fields({"Tags": ("Hot",)}, CATALOG) == {"f3": ["t1"]}
    assert resolve_custom_fields({"Segment": None, "Tags": None}, CATALOG) == {"f2": None, "f3": None}


def test_a_value_outside_the_picklist_lists_its_options() -> None:
    assert argument_error(resolve_custom_fields, {"Segment": "Huge"}, CATALOG) == (
        "custom_fields['Segment']: 'Huge' is not an option of the picklist field 'Segment'. "
        "Its options: 'Enterprise', 'SMB'."
    )
    assert argument_error(resolve_custom_fields, {"Tags": ["Hot", 3]}, CATALOG, "contact") == (
        "contact['Tags']: 3 is not an option of the picklist field 'Tags'. Its options: 'Hot', 'Cold'."
    )
    empty = CustomField("e", "Empty", "picklist")
    assert argument_error(empty.option_id, "x", "arg") == (
        "arg: 'x' is not an option of the picklist field 'Empty'. Its options: none."
    )


def test_numbers_are_converted_and_checked() -> None:
    typed = resolve_custom_fields(
        {"Lead score": "87", "Budget": "8.5", "Note": "8.5", "f1": 4.25}, CATALOG[:1] + CATALOG[4:]
    )
    assert typed == {"f1": 4.25, "f5": 8.5, "f9": "8.5"}
    whole = resolve_custom_fields({"Lead score": "87"}, CATALOG)["f1"]
    assert whole == 87 and type(whole) is int
    assert resolve_custom_fields({"Budget": 12}, CATALOG) == {"f5": 12}
    assert argument_error(resolve_custom_fields, {"Lead score": "high"}, CATALOG) == (
        "custom_fields['Lead score']: field 'Lead score' holds a number, got 'high'."
    )
    assert argument_error(resolve_custom_fields, {"Budget": True}, CATALOG) == (
        "custom_fields['Budget']: field 'Budget' holds a number, got True."
    )


@pytest.mark.parametrize(
    ("given", "taken"),
    [("1e5", 100000.0), (" 12 ", 12), ("12.50", 12.5), (decimal.Decimal("7.25"), 7.25), (3, 3), (2.5, 2.5)],
)
def test_a_number_written_out_in_any_form_is_taken(given: Any, taken: Any) -> None:
    value = resolve_custom_fields({"Lead score": given}, CATALOG)["f1"]
    assert value == taken and type(value) is type(taken)


@pytest.mark.parametrize("bad", ["nan", "inf", math.inf, math.nan, "twelve", [1]])
def test_a_number_field_refuses_what_is_not_a_finite_number(bad: Any) -> None:
    assert argument_error(resolve_custom_fields, {"Lead score": bad}, CATALOG) == (
        f"custom_fields['Lead score']: field 'Lead score' holds a number, got {bad!r}."
    )


def test_booleans_dates_and_single_values_are_checked_by_field_type() -> None:
    assert resolve_custom_fields(
        {
            "Opt in": False,
            "Signed": datetime.date(2027, 1, 2),
            "Seen": datetime.datetime(2027, 1, 2, 3, 4),
            "Note": "plain",
        },
        CATALOG,
    ) == {"f6": False, "f7": "2027-01-02", "f8": "2027-01-02T03:04:00", "f9": "plain"}
    assert resolve_custom_fields({"Signed": "2027-01-02", "Note": datetime.date(2027, 1, 2)}, CATALOG) == {
        "f7": "2027-01-02",
        "f9": datetime.date(2027, 1, 2),
    }
    assert argument_error(resolve_custom_fields, {"Opt in": "yes"}, CATALOG) == (
        "custom_fields['Opt in']: field 'Opt in' holds True or False, got 'yes'."
    )
    assert argument_error(resolve_custom_fields, {"Note": ["a"]}, CATALOG) == (
        "custom_fields['Note']: field 'Note' (string) takes one value, got ['a']."
    )


def test_unknown_fields_are_all_named_with_the_known_ones() -> None:
    assert argument_error(resolve_custom_fields, {"Mood": 1, "Segment": "SMB", "Tier": 2}, CATALOG[:2]) == (
        "custom_fields: unknown custom field(s) 'Mood', 'Tier'. "
        "The team's custom contact fields: 'Lead score' (number), 'Segment' (picklist)."
    )
    assert argument_error(resolve_custom_fields, {"Mood": 1}, []) == (
        "custom_fields: unknown custom field(s) 'Mood'. "
        "The team's custom contact fields: none (the team has no custom contact fields)."
    )
    assert argument_error(resolve_custom_fields, ["x"], CATALOG, "fields") == (
        "fields must be a dict of field label to value, got ['x']."
    )


def test_unknown_field_and_picklist_value_list_the_known_ones() -> None:
    with pytest.raises(
        ApolloArgumentError, match=r"unknown custom field\(s\) 'Score'.*'Lead score' \(number\)"
    ):
        resolve_custom_fields({"Score": 1}, ANSWERED_CATALOG)
    with pytest.raises(ApolloArgumentError, match=r"'Huge' is not an option.*'Enterprise', 'SMB'"):
        resolve_custom_fields({"Segment": "Huge"}, ANSWERED_CATALOG)
    with pytest.raises(ApolloArgumentError, match="holds a number"):
        resolve_custom_fields({"Lead score": "high"}, ANSWERED_CATALOG)


def test_only_a_dict_with_custom_fields_needs_the_catalog() -> None:
    assert needs_custom_fields({"custom_fields": {}}) is True
    assert needs_custom_fields({"title": "x"}) is False
    assert needs_custom_fields(["custom_fields"]) is False
    assert needs_custom_fields(None) is False


def test_apply_custom_fields_merges_into_typed_custom_fields() -> None:
    fields = {
        "title": "CTO",
        "typed_custom_fields": {"f9": "old", "f1": 1},
        "custom_fields": {"Lead score": 2},
    }
    assert apply_custom_fields(fields, CATALOG, "contact") == {
        "title": "CTO",
        "typed_custom_fields": {"f9": "old", "f1": 2},
    }
    assert apply_custom_fields({"title": "CTO", "custom_fields": {"Segment": "SMB"}}, CATALOG, "contact") == {
        "title": "CTO",
        "typed_custom_fields": {"f2": "o2"},
    }
    plain = {"title": "CTO"}
    assert apply_custom_fields(plain, CATALOG, "contact") == plain
    assert argument_error(apply_custom_fields, {"custom_fields": {"Mood": 1}}, CATALOG[:1], "contact") == (
        "contact['custom_fields']: unknown custom field(s) 'Mood'. "
        "The team's custom contact fields: 'Lead score' (number)."
    )
    bad = {"typed_custom_fields": "f1=2", "custom_fields": {"Lead score": 2}}
    assert argument_error(apply_custom_fields, bad, CATALOG, "contact") == (
        "contact['typed_custom_fields'] must be a dict, got 'f1=2'."
    )


# --------------------------------------------------------------------------- bulk update


def test_bulk_fields_take_the_listed_fields_id_and_custom_fields() -> None:
    fields = {"id": "c1", "title": "CTO", "custom_fields": {"Lead score": 1}, "typed_custom_fields": {}}
    assert check_bulk_fields(fields, "x") == fields
    assert argument_error(check_bulk_fields, {"id": "c1", "stage": "s", "city": "x"}, "contacts[0]") == (
        "contacts[0]: bulk update does not take 'city', 'stage'. It takes "
        f"{UPDATE_FIELDS_TEXT} and custom_fields (stages and owners also have their own operators)."
    )


def test_contact_updates_are_checked_one_by_one() -> None:
    updates = [{"id": "c1", "title": "CTO"}, {"id": "c2", "first_name": "Ada", "last_name": "L"}]
    assert check_contact_updates(updates) == updates
    assert check_contact_updates(tuple(updates), "rows") == updates


def test_bulk_updates_refuse_fields_bulk_update_ignores() -> None:
    with pytest.raises(ApolloArgumentError, match="does not take 'contact_stage_id'"):
        check_contact_updates([{"id": "c1", "contact_stage_id": "s"}])
    with pytest.raises(ApolloArgumentError, match="appears twice"):
        check_contact_updates([{"id": "c1", "title": "a"}, {"id": "c1", "title": "b"}])


@pytest.mark.parametrize(
    ("updates", "message"),
    [
        ([], "contacts must be a non-empty list of dicts with an 'id', got []."),
        ("c1", "contacts must be a non-empty list of dicts with an 'id', got 'c1'."),
        ([{"id": "c1", "title": "a"}, "x"], "contacts[1] must be a dict with 'id' and fields, got 'x'."),
        ([{"id": 5, "title": "a"}], "contacts[0] needs an 'id' (the contact's id), got 5."),
        ([{"id": "  ", "title": "a"}], "contacts[0] needs an 'id' (the contact's id), got '  '."),
        ([{"title": "a"}], "contacts[0] needs an 'id' (the contact's id), got None."),
        (
            [{"id": "c1", "title": "a"}, {"id": "c1", "title": "b"}],
            "contacts[1]: contact 'c1' appears twice; give each contact once.",
        ),
        ([{"id": "c1"}], "contacts[0] has no field to set besides 'id'."),
        (
            [{"id": "c1", "title": "a"}, {"id": "c2", "stage": "s"}],
            f"contacts[1]: bulk update does not take 'stage'. It takes {UPDATE_FIELDS_TEXT} and custom_fields "
            "(stages and owners also have their own operators).",
        ),
    ],
)
def test_contact_update_errors_name_the_entry(updates: Any, message: str) -> None:
    assert argument_error(check_contact_updates, updates) == message


def test_a_bulk_update_sends_each_contacts_attributes_or_one_set_of_values_for_many_ids() -> None:
    rows = [{"id": "c1", "title": "CTO"}]
    assert bulk_update_request(contact_attributes=rows) == ApiRequest(
        "POST",
        "/contacts/bulk_update",
        json_body={"contact_attributes": rows},
        rate_group="/contacts/bulk_update",
    )
    shared = bulk_update_request(contact_ids=["c1", "c2"], values={"title": "CTO"}, run_async=True)
    assert shared == ApiRequest(
        "POST",
        "/contacts/bulk_update",
        json_body={"contact_ids": ["c1", "c2"], "title": "CTO", "async": True},
        rate_group="/contacts/bulk_update",
    )
    assert bulk_update_request().json_body == {"contact_ids": []}
    assert bulk_update_request(contact_ids=["c1"]).json_body == {"contact_ids": ["c1"]}


def test_a_bulk_update_answer_gives_contacts_or_the_jobs_ids() -> None:
    assert read_bulk_update({"contacts": [{"id": "c1"}, "junk"]}, ["c1"]) == [{"id": "c1"}]
    job = {"entity_progress_job": {"entity_ids": [1, "c2"]}}
    assert read_bulk_update(job, ["c9"]) == [{"id": "1"}, {"id": "c2"}]
    assert read_bulk_update({"entity_progress_job": {}}, ("c1", "c2")) == [{"id": "c1"}, {"id": "c2"}]


def test_an_unexpected_bulk_update_answer_is_an_api_error() -> None:
    error = api_error(read_bulk_update, ["x"], [])
    assert str(error) == "Apollo answered a bulk update with an unexpected body" and error.body == ["x"]
    body = {"entity_progress_job": "queued"}
    error = api_error(read_bulk_update, body, [])
    assert str(error) == "Apollo answered a bulk update without 'contacts' or 'entity_progress_job'"
    assert error.body == body
