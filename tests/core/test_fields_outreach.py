"""
Custom fields by label: only the custom contact fields are in the catalog, picklists by their text,
unknown fields and values listing the known ones; bulk updates refuse what bulk_update ignores.
"""

from __future__ import annotations

import pytest

from airflow_provider_apollo.core.fields import (
    CustomField,
    check_contact_updates,
    custom_fields_of,
    resolve_custom_fields,
)
from airflow_provider_apollo.exceptions import ApolloArgumentError

FIELDS = custom_fields_of(
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


def test_only_custom_contact_fields_are_in_the_catalog() -> None:
    assert [field.label for field in FIELDS] == ["Lead score", "Segment"]
    assert FIELDS[1] == CustomField("f2", "Segment", "picklist", (("Enterprise", "o1"), ("SMB", "o2")))


def test_custom_fields_by_label_with_picklist_text() -> None:
    assert resolve_custom_fields({"lead score": "87", "Segment": "enterprise"}, FIELDS) == {
        "f1": 87,
        "f2": "o1",
    }


def test_unknown_field_and_picklist_value_list_the_known_ones() -> None:
    with pytest.raises(
        ApolloArgumentError, match=r"unknown custom field\(s\) 'Score'.*'Lead score' \(number\)"
    ):
        resolve_custom_fields({"Score": 1}, FIELDS)
    with pytest.raises(ApolloArgumentError, match=r"'Huge' is not an option.*'Enterprise', 'SMB'"):
        resolve_custom_fields({"Segment": "Huge"}, FIELDS)
    with pytest.raises(ApolloArgumentError, match="holds a number"):
        resolve_custom_fields({"Lead score": "high"}, FIELDS)


def test_bulk_updates_refuse_fields_bulk_update_ignores() -> None:
    with pytest.raises(ApolloArgumentError, match="does not take 'contact_stage_id'"):
        check_contact_updates([{"id": "c1", "contact_stage_id": "s"}])
    with pytest.raises(ApolloArgumentError, match="appears twice"):
        check_contact_updates([{"id": "c1", "title": "a"}, {"id": "c1", "title": "b"}])
