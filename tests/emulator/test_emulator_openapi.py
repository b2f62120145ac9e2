"""Every endpoint's answer conforms to the response schema of Apollo's published OpenAPI files."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests

from airflow_provider_apollo.testing import ApolloEmulator
from tests.emulator.conftest import session_for
from tests.emulator.openapi_schemas import OPENAPI_DIR, _documents, schema_errors, spec_available

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


# ----------------------------------------------------------------- accounts and deals

# A team with accounts (one with contacts in a sequence and on an account list) and deals.
CrmCall = Callable[[ApolloEmulator, requests.Session, dict[str, Any]], requests.Response]


def _crm_team(emulator: ApolloEmulator, api: requests.Session) -> dict[str, Any]:
    accounts = emulator.seed_accounts(4)
    contact_ids = emulator.seed_contacts(5)
    assert _enroll(emulator, api, contact_ids).status_code == 200
    emulator.reply_in_sequence(contact_ids[0], _sequence(emulator))
    busy_account = emulator.get_contact(contact_ids[0])["account_id"]  # type: ignore[index]
    listed = api.post(
        f"{emulator.url}/labels/add_entity_ids_to_label_names",
        json={"entity_ids": [busy_account, accounts[0]], "label_names": ["Tier 1"], "modality": "accounts"},
    )
    assert listed.status_code == 200, listed.text
    deals = [
        emulator.add_deal("Platform renewal", account_id=busy_account, amount="120000")["id"],
        emulator.add_deal("Pilot", account_id=accounts[1], amount=5000, stage="Closed Won")["id"],
        emulator.add_deal("No account yet")["id"],
    ]
    label_id = next(label["id"] for label in emulator.labels if label["name"] == "Tier 1")
    return {"accounts": accounts, "busy_account": busy_account, "deals": deals, "label_id": label_id}


CRM_CASES: list[tuple[str, str, str, str, CrmCall]] = [
    (
        "create account",
        "accounts.yml",
        "/accounts",
        "post",
        lambda e, api, t: api.post(
            f"{e.url}/accounts",
            json={
                "name": "The Irish Copywriters",
                "domain": "irishcopywriters.ie",
                "owner_id": e.users[1]["id"],
                "account_stage_id": e.account_stage_id("Active Opportunity"),
                "phone": "555-555-0108",
                "raw_address": "Belfield, Dublin 4, Ireland",
                "typed_custom_fields": {"60c39ed82bd02f01154c470a": "2025-08-07"},
            },
        ),
    ),
    (
        "update account",
        "accounts.yml",
        "/accounts/{account_id}",
        "patch",
        lambda e, api, t: api.patch(
            f"{e.url}/accounts/{t['busy_account']}",
            json={"name": "The Fast Irish Copywriters", "account_stage_id": e.account_stage_id("Lead")},
        ),
    ),
    (
        "view account with contacts in a sequence",
        "accounts.yml",
        "/accounts/{id}",
        "get",
        lambda e, api, t: api.get(f"{e.url}/accounts/{t['busy_account']}"),
    ),
    (
        "search accounts by name, stage and list",
        "accounts.yml",
        "/accounts/search",
        "post",
        lambda e, api, t: api.post(
            f"{e.url}/accounts/search",
            json={
                "q_organization_name": e.get_account(t["busy_account"])["name"][:4],  # type: ignore[index]
                "account_stage_ids": [e.account_stage_id("Lead")],
                "account_label_ids": [t["label_id"]],
                "page": 1,
                "per_page": 5,
            },
        ),
    ),
    (
        "search accounts sorted",
        "accounts.yml",
        "/accounts/search",
        "post",
        lambda e, api, t: api.post(
            f"{e.url}/accounts/search",
            json={"sort_by_field": "account_last_activity_date", "sort_ascending": True},
        ),
    ),
    (
        "bulk create accounts with dedupe",
        "accounts.yml",
        "/accounts/bulk_create",
        "post",
        lambda e, api, t: api.post(
            f"{e.url}/accounts/bulk_create",
            json={
                "accounts": [
                    {
                        "name": "Acme Corporation",
                        "domain": "acme-corporation.example",
                        "phone": "+1-555-0135",
                    },
                    {"domain": e.get_account(t["accounts"][0])["domain"], "name": "New Company Name"},  # type: ignore[index]
                ],
                "run_dedupe": True,
                "append_label_names": ["Enterprise"],
            },
        ),
    ),
    (
        "bulk update accounts by ids",
        "accounts.yml",
        "/accounts/bulk_update",
        "post",
        lambda e, api, t: api.post(
            f"{e.url}/accounts/bulk_update",
            json={"account_ids": t["accounts"][:3], "account_stage_id": e.account_stage_id("Review")},
        ),
    ),
    (
        "bulk update accounts by attributes",
        "accounts.yml",
        "/accounts/bulk_update",
        "post",
        lambda e, api, t: api.post(
            f"{e.url}/accounts/bulk_update",
            json={
                "account_attributes": [
                    {"id": t["accounts"][0], "name": "Acme Corporation"},
                    {"id": t["accounts"][1], "owner_id": e.users[2]["id"]},
                ]
            },
        ),
    ),
    (
        "bulk update accounts async",
        "accounts.yml",
        "/accounts/bulk_update",
        "post",
        lambda e, api, t: api.post(
            f"{e.url}/accounts/bulk_update",
            json={"account_ids": t["accounts"], "owner_id": e.users[1]["id"], "async": True},
        ),
    ),
    (
        "update account owners",
        "accounts.yml",
        "/accounts/update_owners",
        "post",
        lambda e, api, t: api.post(
            f"{e.url}/accounts/update_owners",
            params={"account_ids[]": t["accounts"][:3], "owner_id": e.users[1]["id"]},
        ),
    ),
    (
        "account stages",
        "accounts.yml",
        "/account_stages",
        "get",
        lambda e, api, t: api.get(f"{e.url}/account_stages"),
    ),
    (
        "create deal",
        "deals.yml",
        "/opportunities",
        "post",
        lambda e, api, t: api.post(
            f"{e.url}/opportunities",
            json={
                "name": "Massive Space Deal",
                "owner_id": e.users[0]["id"],
                "account_id": t["busy_account"],
                "amount": "99999999",
                "opportunity_stage_id": e.deal_stage_id("Qualify"),
                "closed_date": "2026-10-15",
                "typed_custom_fields": {"5b75f1c11dc2727d43ae3bb9": "test"},
            },
        ),
    ),
    (
        "update deal",
        "deals.yml",
        "/opportunities/{opportunity_id}",
        "patch",
        lambda e, api, t: api.patch(
            f"{e.url}/opportunities/{t['deals'][0]}",
            json={"amount": "999999999999", "opportunity_stage_id": e.deal_stage_id("Meet & Present")},
        ),
    ),
    (
        "view deal",
        "deals.yml",
        "/opportunities/{opportunity_id}",
        "get",
        lambda e, api, t: api.get(f"{e.url}/opportunities/{t['deals'][0]}"),
    ),
    (
        "view deal without an account",
        "deals.yml",
        "/opportunities/{opportunity_id}",
        "get",
        lambda e, api, t: api.get(f"{e.url}/opportunities/{t['deals'][2]}"),
    ),
    (
        "list deals",
        "deals.yml",
        "/opportunities/search",
        "get",
        lambda e, api, t: api.get(f"{e.url}/opportunities/search", params={"page": 1, "per_page": 3}),
    ),
    (
        "list deals as the CLI sends it",
        "deals.yml",
        "/opportunities/search",
        "get",
        lambda e, api, t: api.post(
            f"{e.url}/opportunities/search", json={"sort_by_field": "amount", "page": 1, "per_page": 10}
        ),
    ),
    (
        "deal stages",
        "deals.yml",
        "/opportunity_stages",
        "get",
        lambda e, api, t: api.get(f"{e.url}/opportunity_stages"),
    ),
]


@pytest.mark.parametrize(
    ("spec_file", "path", "method", "call"),
    [pytest.param(*case[1:], id=case[0]) for case in CRM_CASES],
)
def test_account_and_deal_answers_match_the_openapi_schema(
    spec_file: str, path: str, method: str, call: CrmCall
) -> None:
    with ApolloEmulator(sequence_step_seconds=0.001, seed=3) as emulator, session_for(emulator) as api:
        team = _crm_team(emulator, api)
        response = call(emulator, api, team)
        assert response.status_code == 200, response.text
        payload: Any = response.json()
        assert payload, "an empty answer proves nothing"
        assert schema_errors(spec_file, path, method, payload) == []


def _missing() -> str:
    return "0" * 24


# Documented error answers the emulator gives on its own: (name, spec file, path, method, status, call).
CRM_ERROR_CASES: list[tuple[str, str, str, str, int, CrmCall]] = [
    (
        "create account without name or domain",
        "accounts.yml",
        "/accounts",
        "post",
        422,
        lambda e, api, t: api.post(f"{e.url}/accounts", json={"phone": "555-555-0108"}),
    ),
    (
        "update an unknown account",
        "accounts.yml",
        "/accounts/{account_id}",
        "patch",
        422,
        lambda e, api, t: api.patch(f"{e.url}/accounts/{_missing()}", json={"name": "X"}),
    ),
    (
        "update an account with an unknown owner",
        "accounts.yml",
        "/accounts/{account_id}",
        "patch",
        422,
        lambda e, api, t: api.patch(f"{e.url}/accounts/{t['accounts'][0]}", json={"owner_id": "23423423"}),
    ),
    (
        "update an account with an unknown stage",
        "accounts.yml",
        "/accounts/{account_id}",
        "patch",
        422,
        lambda e, api, t: api.patch(
            f"{e.url}/accounts/{t['accounts'][0]}", json={"account_stage_id": "78977"}
        ),
    ),
    (
        "view an unknown account",
        "accounts.yml",
        "/accounts/{id}",
        "get",
        422,
        lambda e, api, t: api.get(f"{e.url}/accounts/id"),
    ),
    (
        "search accounts with an invalid sort",
        "accounts.yml",
        "/accounts/search",
        "post",
        422,
        lambda e, api, t: api.post(f"{e.url}/accounts/search", json={"sort_by_field": "name"}),
    ),
    (
        "search accounts with an unknown stage",
        "accounts.yml",
        "/accounts/search",
        "post",
        422,
        lambda e, api, t: api.post(f"{e.url}/accounts/search", json={"account_stage_ids": ["nope"]}),
    ),
    (
        "bulk create without accounts",
        "accounts.yml",
        "/accounts/bulk_create",
        "post",
        422,
        lambda e, api, t: api.post(f"{e.url}/accounts/bulk_create", json={"run_dedupe": True}),
    ),
    (
        "bulk create 101 accounts",
        "accounts.yml",
        "/accounts/bulk_create",
        "post",
        422,
        lambda e, api, t: api.post(
            f"{e.url}/accounts/bulk_create", json={"accounts": [{"name": f"A{i}"} for i in range(101)]}
        ),
    ),
    (
        "bulk update async with attributes",
        "accounts.yml",
        "/accounts/bulk_update",
        "post",
        422,
        lambda e, api, t: api.post(
            f"{e.url}/accounts/bulk_update",
            json={"account_attributes": [{"id": t["accounts"][0], "name": "X"}], "async": True},
        ),
    ),
    (
        "bulk update 1,001 accounts",
        "accounts.yml",
        "/accounts/bulk_update",
        "post",
        422,
        lambda e, api, t: api.post(
            f"{e.url}/accounts/bulk_update",
            json={"account_ids": [f"{i:024x}" for i in range(1001)], "name": "X"},
        ),
    ),
    (
        "update owners without account ids",
        "accounts.yml",
        "/accounts/update_owners",
        "post",
        422,
        lambda e, api, t: api.post(f"{e.url}/accounts/update_owners", params={"owner_id": e.users[1]["id"]}),
    ),
    (
        "update owners without an owner",
        "accounts.yml",
        "/accounts/update_owners",
        "post",
        422,
        lambda e, api, t: api.post(
            f"{e.url}/accounts/update_owners", params={"account_ids[]": t["accounts"]}
        ),
    ),
    (
        "create a deal without a name",
        "deals.yml",
        "/opportunities",
        "post",
        422,
        lambda e, api, t: api.post(f"{e.url}/opportunities", json={"amount": "100"}),
    ),
    (
        "create a deal on an unknown account",
        "deals.yml",
        "/opportunities",
        "post",
        422,
        lambda e, api, t: api.post(f"{e.url}/opportunities", json={"name": "X", "account_id": "12345"}),
    ),
    (
        "view an unknown deal",
        "deals.yml",
        "/opportunities/{opportunity_id}",
        "get",
        404,
        lambda e, api, t: api.get(f"{e.url}/opportunities/{_missing()}"),
    ),
    (
        "view a deal by a malformed id",
        "deals.yml",
        "/opportunities/{opportunity_id}",
        "get",
        422,
        lambda e, api, t: api.get(f"{e.url}/opportunities/opportunity_id"),
    ),
    (
        "update an unknown deal",
        "deals.yml",
        "/opportunities/{opportunity_id}",
        "patch",
        422,
        lambda e, api, t: api.patch(f"{e.url}/opportunities/{_missing()}", json={"name": "X"}),
    ),
]


@pytest.mark.parametrize(
    ("spec_file", "path", "method", "status", "call"),
    [pytest.param(*case[1:], id=case[0]) for case in CRM_ERROR_CASES],
)
def test_account_and_deal_errors_match_the_openapi_schema(
    spec_file: str, path: str, method: str, status: int, call: CrmCall
) -> None:
    with ApolloEmulator(seed=3) as emulator, session_for(emulator) as api:
        team = _crm_team(emulator, api)
        response = call(emulator, api, team)
        assert response.status_code == status, response.text
        payload: Any = response.json()
        assert payload.get("error"), payload
        assert schema_errors(spec_file, path, method, payload, str(status)) == []


# One plain request per account and deal endpoint: (spec file, method, documented path, request path).
CRM_ENDPOINTS: list[tuple[str, str, str, str]] = [
    ("accounts.yml", "post", "/accounts", "/accounts"),
    ("accounts.yml", "patch", "/accounts/{account_id}", "/accounts/{account}"),
    ("accounts.yml", "get", "/accounts/{id}", "/accounts/{account}"),
    ("accounts.yml", "post", "/accounts/search", "/accounts/search"),
    ("accounts.yml", "post", "/accounts/bulk_create", "/accounts/bulk_create"),
    ("accounts.yml", "post", "/accounts/bulk_update", "/accounts/bulk_update"),
    ("accounts.yml", "post", "/accounts/update_owners", "/accounts/update_owners"),
    ("accounts.yml", "get", "/account_stages", "/account_stages"),
    ("deals.yml", "post", "/opportunities", "/opportunities"),
    ("deals.yml", "get", "/opportunities/search", "/opportunities/search"),
    ("deals.yml", "get", "/opportunities/{opportunity_id}", "/opportunities/{deal}"),
    ("deals.yml", "patch", "/opportunities/{opportunity_id}", "/opportunities/{deal}"),
    ("deals.yml", "get", "/opportunity_stages", "/opportunity_stages"),
]
_ENDPOINT_IDS = [f"{method.upper()} {path}" for _, method, path, _ in CRM_ENDPOINTS]


def _documented_statuses(spec_file: str, path: str, method: str) -> set[str]:
    return set(_documents()[spec_file]["paths"][path][method]["responses"])


def _plain_request(
    emulator: ApolloEmulator, session: requests.Session, method: str, request_path: str
) -> requests.Response:
    account = next(iter(emulator.accounts), "0" * 24)
    deal = next(iter(emulator.deals), "0" * 24)
    url = emulator.url + request_path.format(account=account, deal=deal)
    return session.request(method.upper(), url, json={"name": "Acme"})


@pytest.mark.parametrize(("spec_file", "method", "path", "request_path"), CRM_ENDPOINTS, ids=_ENDPOINT_IDS)
def test_account_and_deal_endpoints_answer_401_as_plain_text(
    spec_file: str, method: str, path: str, request_path: str
) -> None:
    assert "401" in _documented_statuses(spec_file, path, method)
    with ApolloEmulator() as emulator, session_for(emulator, api_key="wrong") as api:
        emulator.seed_accounts(1)
        response = _plain_request(emulator, api, method, request_path)
        assert response.status_code == 401
        assert response.headers["content-type"].startswith("text/plain")
        assert "x-rate-limit-minute" not in response.headers


@pytest.mark.parametrize(("spec_file", "method", "path", "request_path"), CRM_ENDPOINTS, ids=_ENDPOINT_IDS)
def test_account_and_deal_endpoints_answer_429_and_403_as_documented(
    spec_file: str, method: str, path: str, request_path: str
) -> None:
    documented = _documented_statuses(spec_file, path, method)
    with ApolloEmulator(rate_limits={"minute": 1}) as emulator, session_for(emulator) as api:
        emulator.seed_accounts(1)
        emulator.add_deal("Pilot")
        assert _plain_request(emulator, api, method, request_path).status_code in (200, 422)
        limited = _plain_request(emulator, api, method, request_path)
        assert limited.status_code == 429
        assert limited.headers["retry-after"]
        template = "api/v1" + path
        assert limited.json()["message"].startswith(
            f"The maximum number of api calls allowed for {template} "
        )
        if "429" in documented:
            assert schema_errors(spec_file, path, method, limited.json(), "429") == []
        emulator.reset_rate_limits()
        if "403" in documented:
            emulator.add_fault("status", status=403, path=request_path.split("{")[0].rstrip("/") or "/")
            forbidden = _plain_request(emulator, api, method, request_path)
            assert forbidden.status_code == 403
            assert schema_errors(spec_file, path, method, forbidden.json(), "403") == []


def test_bulk_create_accounts_500_matches_the_openapi_schema() -> None:
    with ApolloEmulator() as emulator, session_for(emulator) as api:
        emulator.add_fault("status", status=500, path="/accounts/bulk_create")
        response = api.post(f"{emulator.url}/accounts/bulk_create", json={"accounts": [{"name": "Acme"}]})
        assert response.status_code == 500
        assert schema_errors("accounts.yml", "/accounts/bulk_create", "post", response.json(), "500") == []
        assert emulator.account_count == 0
