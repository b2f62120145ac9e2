"""Every endpoint's answer conforms to the response schema of Apollo's published OpenAPI files."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests

from airflow_provider_apollo.testing import ApolloEmulator
from tests.emulator.conftest import session_for
from tests.emulator.openapi_schemas import OPENAPI_DIR, schema_errors, spec_available

pytestmark = pytest.mark.skipif(
    not spec_available(), reason=f"Apollo's OpenAPI files are not at {OPENAPI_DIR}"
)

Call = Callable[[ApolloEmulator, requests.Session, list[str]], requests.Response]


def _sequence(emulator: ApolloEmulator) -> str:
    return emulator.sequence_id("Outbound - Data leaders")


def _enroll(emulator: ApolloEmulator, api: requests.Session, ids: list[str]) -> requests.Response:
    sequence_id = _sequence(emulator)
    return api.post(
        f"{emulator.url}/emailer_campaigns/{sequence_id}/add_contact_ids",
        json={
            "emailer_campaign_id": sequence_id,
            "contact_ids": [*ids, "0" * 24],
            "send_email_from_email_account_id": emulator.email_accounts[0]["id"],
        },
    )


def _bulk_update(async_: bool) -> Call:
    def call(emulator: ApolloEmulator, api: requests.Session, ids: list[str]) -> requests.Response:
        segment = emulator.field_id("Segment")
        option = emulator.picklist_option_id("Segment", "SMB")
        return api.post(
            f"{emulator.url}/contacts/bulk_update",
            json={
                "contact_attributes": [
                    {"id": ids[0], "title": "CTO", "typed_custom_fields": {segment: option}}
                ],
                "async": async_,
            },
        )

    return call


def _labels(action: str, async_: bool = False) -> Call:
    def call(emulator: ApolloEmulator, api: requests.Session, ids: list[str]) -> requests.Response:
        return api.post(
            f"{emulator.url}/labels/{action}",
            json={
                "entity_ids": ids,
                "label_names": ["Webinar 2026"],
                "modality": "contacts",
                "async": async_,
            },
        )

    return call


def _after_enrolling(call: Call) -> Call:
    def wrapped(emulator: ApolloEmulator, api: requests.Session, ids: list[str]) -> requests.Response:
        assert _enroll(emulator, api, ids).status_code == 200
        return call(emulator, api, ids)

    return wrapped


def _after_replies(call: Call) -> Call:
    """Enrolled, then two contacts reply (one willing to meet, one not interested)."""

    def wrapped(emulator: ApolloEmulator, api: requests.Session, ids: list[str]) -> requests.Response:
        assert _enroll(emulator, api, ids).status_code == 200
        emulator.reply_in_sequence({ids[0]: "willing_to_meet", ids[1]: "not_interested"}, _sequence(emulator))
        return call(emulator, api, ids)

    return wrapped


CASES: list[tuple[str, str, str, str, Call]] = [
    (
        "create contact",
        "contacts.yml",
        "/contacts",
        "post",
        lambda e, api, ids: api.post(
            f"{e.url}/contacts",
            json={
                "first_name": "Tim",
                "last_name": "Zheng",
                "email": "tim@apollo.example",
                "label_names": ["Webinar 2026"],
                "typed_custom_fields": {e.field_id("Lead score"): 87},
            },
        ),
    ),
    (
        "update contact",
        "contacts.yml",
        "/contacts/{contact_id}",
        "patch",
        lambda e, api, ids: api.patch(f"{e.url}/contacts/{ids[0]}", json={"title": "CEO"}),
    ),
    (
        "view contact in a sequence",
        "contacts.yml",
        "/contacts/{contact_id}",
        "get",
        _after_enrolling(lambda e, api, ids: api.get(f"{e.url}/contacts/{ids[0]}")),
    ),
    (
        "search contacts",
        "contacts.yml",
        "/contacts/search",
        "post",
        _after_enrolling(lambda e, api, ids: api.post(f"{e.url}/contacts/search", json={"q_keywords": "a"})),
    ),
    (
        "update stages",
        "contacts.yml",
        "/contacts/update_stages",
        "post",
        lambda e, api, ids: api.post(
            f"{e.url}/contacts/update_stages",
            params={"contact_ids[]": ids, "contact_stage_id": e.stage_id("Replied")},
        ),
    ),
    (
        "update owners",
        "contacts.yml",
        "/contacts/update_owners",
        "post",
        lambda e, api, ids: api.post(
            f"{e.url}/contacts/update_owners", params={"contact_ids[]": ids, "owner_id": e.users[1]["id"]}
        ),
    ),
    (
        "bulk create",
        "contacts.yml",
        "/contacts/bulk_create",
        "post",
        lambda e, api, ids: api.post(
            f"{e.url}/contacts/bulk_create",
            json={"contacts": [{"first_name": "A", "email": "a@b.example"}], "run_dedupe": True},
        ),
    ),
    ("bulk update", "contacts.yml", "/contacts/bulk_update", "post", _bulk_update(False)),
    ("bulk update async", "contacts.yml", "/contacts/bulk_update", "post", _bulk_update(True)),
    (
        "search sequences",
        "sequences.yml",
        "/emailer_campaigns/search",
        "post",
        _after_enrolling(
            lambda e, api, ids: api.post(f"{e.url}/emailer_campaigns/search", params={"q_name": "outbound"})
        ),
    ),
    (
        "add contacts to a sequence",
        "sequences.yml",
        "/emailer_campaigns/{sequence_id}/add_contact_ids",
        "post",
        lambda e, api, ids: _enroll(e, api, ids),
    ),
    (
        "remove or stop",
        "sequences.yml",
        "/emailer_campaigns/remove_or_stop_contact_ids",
        "post",
        _after_enrolling(
            lambda e, api, ids: api.post(
                f"{e.url}/emailer_campaigns/remove_or_stop_contact_ids",
                params={
                    "emailer_campaign_ids[]": [_sequence(e)],
                    "contact_ids[]": ids,
                    "mode": "mark_as_finished",
                },
            )
        ),
    ),
    (
        "outreach emails, replies of some classes",
        "sequences.yml",
        "/emailer_messages/search",
        "get",
        _after_replies(
            lambda e, api, ids: api.get(
                f"{e.url}/emailer_messages/search",
                params={
                    "emailer_campaign_ids[]": [_sequence(e)],
                    "emailer_message_reply_classes[]": ["willing_to_meet", "not_interested"],
                    "page": 1,
                    "per_page": 100,
                },
            )
        ),
    ),
    (
        "outreach emails, every email",
        "sequences.yml",
        "/emailer_messages/search",
        "get",
        _after_replies(lambda e, api, ids: api.get(f"{e.url}/emailer_messages/search")),
    ),
    (
        "a contact's sequence activity",
        "sequences.yml",
        "/emailer_campaigns/activity_feed",
        "post",
        _after_replies(
            lambda e, api, ids: api.post(
                f"{e.url}/emailer_campaigns/activity_feed",
                json={"contact_id": ids[0], "sequence_id": _sequence(e), "per_page": 25},
            )
        ),
    ),
    (
        "approve",
        "sequences.yml",
        "/emailer_campaigns/{sequence_id}/approve",
        "post",
        lambda e, api, ids: api.post(
            f"{e.url}/emailer_campaigns/{e.sequence_id('Re-engage cold accounts')}/approve"
        ),
    ),
    (
        "abort",
        "sequences.yml",
        "/emailer_campaigns/{sequence_id}/abort",
        "post",
        _after_enrolling(lambda e, api, ids: api.post(f"{e.url}/emailer_campaigns/{_sequence(e)}/abort")),
    ),
    (
        "archive",
        "sequences.yml",
        "/emailer_campaigns/{sequence_id}/archive",
        "post",
        _after_enrolling(lambda e, api, ids: api.post(f"{e.url}/emailer_campaigns/{_sequence(e)}/archive")),
    ),
    (
        "users search",
        "miscellaneous.yml",
        "/users/search",
        "get",
        lambda e, api, ids: api.get(f"{e.url}/users/search", params={"page": 1, "per_page": 2}),
    ),
    (
        "users search as the CLI sends it",
        "miscellaneous.yml",
        "/users/search",
        "get",
        lambda e, api, ids: api.post(f"{e.url}/users/search", json={"q_keywords": "grace", "page": "1"}),
    ),
    (
        "current user",
        "miscellaneous.yml",
        "/users/api_profile",
        "get",
        lambda e, api, ids: api.get(f"{e.url}/users/api_profile"),
    ),
    (
        "mailboxes",
        "miscellaneous.yml",
        "/email_accounts",
        "get",
        _after_enrolling(lambda e, api, ids: api.get(f"{e.url}/email_accounts")),
    ),
    ("lists", "miscellaneous.yml", "/labels", "get", lambda e, api, ids: api.get(f"{e.url}/labels")),
    (
        "create list",
        "miscellaneous.yml",
        "/labels",
        "post",
        lambda e, api, ids: api.post(f"{e.url}/labels", json={"name": "Q3 webinar", "modality": "contacts"}),
    ),
    (
        "add to lists",
        "miscellaneous.yml",
        "/labels/add_entity_ids_to_label_names",
        "post",
        _labels("add_entity_ids_to_label_names"),
    ),
    (
        "add to lists async",
        "miscellaneous.yml",
        "/labels/add_entity_ids_to_label_names",
        "post",
        _labels("add_entity_ids_to_label_names", async_=True),
    ),
    (
        "remove from lists",
        "miscellaneous.yml",
        "/labels/remove_entity_ids_from_label_names",
        "post",
        _labels("remove_entity_ids_from_label_names"),
    ),
    ("fields", "fields.yml", "/fields", "get", lambda e, api, ids: api.get(f"{e.url}/fields")),
    (
        "custom fields",
        "fields.yml",
        "/fields",
        "get",
        lambda e, api, ids: api.get(f"{e.url}/fields", params={"source": "custom"}),
    ),
    (
        "typed custom fields (deprecated)",
        "fields.yml",
        "/typed_custom_fields",
        "get",
        lambda e, api, ids: api.get(f"{e.url}/typed_custom_fields"),
    ),
]


@pytest.mark.parametrize(
    ("spec_file", "path", "method", "call"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_response_matches_the_openapi_schema(spec_file: str, path: str, method: str, call: Call) -> None:
    with ApolloEmulator(sequence_step_seconds=0.001, seed=3) as emulator, session_for(emulator) as api:
        ids = emulator.seed_contacts(5)
        response = call(emulator, api, ids)
        assert response.status_code == 200, response.text
        payload: Any = response.json()
        assert payload, "an empty answer proves nothing"
        assert schema_errors(spec_file, path, method, payload) == []


def test_the_check_rejects_what_apollo_would_not_send() -> None:
    # The users search sends page numbers as strings; labels come as a bare array; statuses have an enum.
    assert schema_errors("miscellaneous.yml", "/users/search", "get", {"pagination": {"page": 1}})
    assert schema_errors("miscellaneous.yml", "/labels", "get", {"labels": []})
    status = {"contacts": [{"contact_campaign_statuses": [{"status": "replied"}]}]}
    assert schema_errors("contacts.yml", "/contacts/search", "post", status)
    assert schema_errors("sequences.yml", "/emailer_campaigns/{sequence_id}/add_contact_ids", "post", {})
