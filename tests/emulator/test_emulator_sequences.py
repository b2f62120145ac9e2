"""Sequences: search, enrollment rules, statuses that advance over time, remove/stop/finish, lifecycle."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from airflow_provider_apollo.testing import ApolloEmulator
from airflow_provider_apollo.testing._data import REPLY_CLASSES
from tests.emulator.conftest import session_for

OUTBOUND = "Outbound - Data leaders"
INBOUND = "Inbound demo follow-up"


def enroll(
    emulator: ApolloEmulator,
    api: requests.Session,
    sequence: str,
    contact_ids: list[str],
    *,
    as_query: bool = False,
    **flags: Any,
) -> requests.Response:
    sequence_id = emulator.sequence_id(sequence)
    params: dict[str, Any] = {
        "emailer_campaign_id": sequence_id,
        "contact_ids[]" if as_query else "contact_ids": contact_ids,
        "send_email_from_email_account_id": emulator.email_account_id("ada.lovelace@emulated-team.example"),
        **flags,
    }
    url = f"{emulator.url}/emailer_campaigns/{sequence_id}/add_contact_ids"
    if as_query:
        return api.post(
            url, params={k: str(v).lower() if isinstance(v, bool) else v for k, v in params.items()}
        )
    return api.post(url, json=params)


def statuses(emulator: ApolloEmulator, api: requests.Session, contact_id: str) -> dict[str, dict[str, Any]]:
    contact = api.get(f"{emulator.url}/contacts/{contact_id}").json()["contact"]
    return {status["emailer_campaign_id"]: status for status in contact["contact_campaign_statuses"]}


def test_the_default_team_has_sequences_and_search_filters_by_name_with_paging(
    api: requests.Session, apollo_emulator: ApolloEmulator
) -> None:
    names = [sequence["name"] for sequence in apollo_emulator.sequences]
    assert len(names) == 5 and OUTBOUND in names
    assert {s["archived"] for s in apollo_emulator.sequences} == {True, False}
    url = f"{apollo_emulator.url}/emailer_campaigns/search"
    found = api.post(url, params={"q_name": "OUTBOUND"}).json()
    assert [c["name"] for c in found["emailer_campaigns"]] == [OUTBOUND, "Outbound - Q1 2025 (old)"]
    assert found["pagination"]["total_entries"] == 2
    page2 = api.post(url, json={"page": "2", "per_page": "2"}).json()
    assert [c["name"] for c in page2["emailer_campaigns"]] == names[2:4]
    assert page2["pagination"] == {"page": 2, "per_page": 2, "total_entries": 5, "total_pages": 3}
    added = apollo_emulator.add_sequence("Partner intro", num_steps=2)
    assert api.post(url, json={"q_name": "partner"}).json()["emailer_campaigns"][0]["id"] == added["id"]


@pytest.mark.parametrize("as_query", [False, True], ids=["json body", "query parameters"])
def test_enrollment_adds_contacts_and_reports_skipped_ones_with_reasons(
    api: requests.Session, apollo_emulator: ApolloEmulator, as_query: bool
) -> None:
    ok, no_email, unsubscribed, busy = apollo_emulator.seed_contacts(4)
    api.patch(f"{apollo_emulator.url}/contacts/{no_email}", json={"email": ""})
    apollo_emulator.unsubscribe_contacts(unsubscribed)
    assert enroll(apollo_emulator, api, INBOUND, [busy]).status_code == 200
    missing = "0" * 24
    response = enroll(
        apollo_emulator, api, OUTBOUND, [ok, no_email, unsubscribed, busy, missing], as_query=as_query
    )
    assert response.status_code == 200
    body = response.json()
    assert [contact["id"] for contact in body["contacts"]] == [ok]
    assert body["skipped_contact_ids"] == {
        no_email: "contacts_without_email",
        unsubscribed: "contacts_unsubscribed",
        busy: "contacts_active_in_other_campaigns",
        missing: "contact_not_found",
    }
    [status] = body["contacts"][0]["contact_campaign_statuses"]
    assert status["status"] == "active" and status["emailer_campaign_id"] == apollo_emulator.sequence_id(
        OUTBOUND
    )
    assert status["send_email_from_email_account_id"] == apollo_emulator.email_accounts[0]["id"]
    assert body["emailer_campaign"]["contact_statuses"]["active"] == 1


def test_flags_override_the_no_email_and_other_sequence_rules(
    api: requests.Session, apollo_emulator: ApolloEmulator
) -> None:
    no_email, busy = apollo_emulator.seed_contacts(2)
    api.patch(f"{apollo_emulator.url}/contacts/{no_email}", json={"email": None})
    enroll(apollo_emulator, api, INBOUND, [busy])
    body = enroll(
        apollo_emulator,
        api,
        OUTBOUND,
        [no_email, busy],
        sequence_no_email=True,
        sequence_active_in_other_campaigns=True,
    ).json()
    assert sorted(contact["id"] for contact in body["contacts"]) == sorted([no_email, busy])
    assert body["skipped_contact_ids"] == {}
    assert set(statuses(apollo_emulator, api, busy)) == {
        apollo_emulator.sequence_id(INBOUND),
        apollo_emulator.sequence_id(OUTBOUND),
    }


def test_enrolling_twice_enrolls_once(api: requests.Session, apollo_emulator: ApolloEmulator) -> None:
    ids = apollo_emulator.seed_contacts(3)
    first = enroll(apollo_emulator, api, OUTBOUND, ids).json()
    again = enroll(apollo_emulator, api, OUTBOUND, ids).json()
    assert len(first["contacts"]) == 3
    assert again["contacts"] == []
    assert again["skipped_contact_ids"] == dict.fromkeys(ids, "contacts_already_exists_in_current_campaign")
    assert all(len(statuses(apollo_emulator, api, cid)) == 1 for cid in ids)
    assert again["emailer_campaign"]["num_contacts"] == 3


def test_a_mailbox_is_required_and_must_be_known(
    api: requests.Session, apollo_emulator: ApolloEmulator
) -> None:
    [contact] = apollo_emulator.seed_contacts(1)
    sequence_id = apollo_emulator.sequence_id(OUTBOUND)
    url = f"{apollo_emulator.url}/emailer_campaigns/{sequence_id}/add_contact_ids"
    missing = api.post(url, json={"emailer_campaign_id": sequence_id, "contact_ids": [contact]})
    assert missing.status_code == 422 and "send_email_from_email_account_id" in missing.json()["error"]
    unknown = api.post(url, json={"contact_ids": [contact], "send_email_from_email_account_id": "f" * 24})
    assert unknown.status_code == 422
    assert unknown.json() == {"error": f"Parameters misconfigured. {'f' * 24} is not a valid ID"}
    wrong_sequence = api.post(
        f"{apollo_emulator.url}/emailer_campaigns/{'e' * 24}/add_contact_ids",
        json={
            "contact_ids": [contact],
            "send_email_from_email_account_id": apollo_emulator.email_accounts[0]["id"],
        },
    )
    assert wrong_sequence.status_code == 422
    archived = enroll(apollo_emulator, api, "Outbound - Q1 2025 (old)", [contact])
    assert archived.status_code == 422
    assert apollo_emulator.sequence_statuses(contact) == {}


def test_a_bounced_contact_is_not_enrolled_again() -> None:
    with (
        ApolloEmulator(
            sequence_step_seconds=0.05, sequence_reply_fraction=0.0, sequence_bounce_fraction=1.0
        ) as emulator,
        session_for(emulator) as api,
    ):
        [contact] = emulator.seed_contacts(1)
        enroll(emulator, api, INBOUND, [contact])
        time.sleep(0.15)
        [status] = statuses(emulator, api, contact).values()
        assert (status["status"], status["failure_reason"]) == ("failed", "bounced")
        body = enroll(emulator, api, OUTBOUND, [contact], sequence_finished_in_other_campaigns=True).json()
        assert body["skipped_contact_ids"] == {contact: "contacts_email_bounced"}


def test_statuses_advance_deterministically_some_reply_some_bounce_the_rest_finish() -> None:
    def run() -> dict[str, tuple[str, str | None]]:
        with (
            ApolloEmulator(
                seed=11,
                time_scale=0.01,
                sequence_step_seconds=10.0,  # 0.1 real seconds a step
                sequence_reply_fraction=0.4,
                sequence_bounce_fraction=0.2,
            ) as emulator,
            session_for(emulator) as api,
        ):
            ids = emulator.seed_contacts(30)
            enroll(emulator, api, OUTBOUND, ids)
            sequence_id = emulator.sequence_id(OUTBOUND)
            early = [statuses(emulator, api, cid)[sequence_id]["status"] for cid in ids]
            assert early.count("active") >= 20
            time.sleep(0.6)  # the sequence has 4 steps: everyone is done after 0.4 s
            search = api.post(f"{emulator.url}/contacts/search", json={"per_page": 100}).json()["contacts"]
            replies = api.get(
                f"{emulator.url}/emailer_messages/search",
                params={
                    "emailer_campaign_ids[]": [sequence_id],
                    "emailer_message_reply_classes[]": REPLY_CLASSES,
                },
            ).json()["emailer_messages"]
            replied = {message["contact_id"]: message["reply_class"] for message in replies}
            result = {}
            for contact in search:
                [status] = contact["contact_campaign_statuses"]
                # A reply is on the email, never a reason text on the membership.
                assert status["inactive_reason"] != "replied"
                reason = status["failure_reason"] or status["inactive_reason"]
                result[contact["id"]] = (status["status"], replied.get(contact["id"]) or reason)
                if contact["id"] in replied and status["status"] == "finished":
                    assert status["finished_at"] >= status["added_at"]
            counts = emulator.sequences[0]
            assert counts["unique_replied"] == len(replied)
            return result

    first = run()
    outcomes = list(first.values())
    replies = [o for o in outcomes if o[1] in REPLY_CLASSES]
    # mark_finished_if_reply finishes a replier; mark_paused_if_ooo pauses an out-of-office one.
    assert all(o == ("paused" if o[1] == "out_of_office" else "finished", o[1]) for o in replies)
    assert 6 <= len(replies) <= 18
    assert 1 <= outcomes.count(("failed", "bounced")) <= 12
    assert outcomes.count(("finished", "completed all steps")) >= 5
    assert run() == first


def test_nothing_advances_without_a_step_time(api: requests.Session) -> None:
    with ApolloEmulator(sequence_step_seconds=None) as emulator, session_for(emulator) as session:
        ids = emulator.seed_contacts(3)
        enroll(emulator, session, OUTBOUND, ids)
        time.sleep(0.05)
        assert {next(iter(statuses(emulator, session, cid).values()))["status"] for cid in ids} == {"active"}


@pytest.mark.parametrize(
    ("mode", "expected"),
    [("mark_as_finished", ("finished", "manually finished")), ("stop", ("paused", "manually stopped"))],
)
def test_remove_or_stop_modes(
    api: requests.Session, apollo_emulator: ApolloEmulator, mode: str, expected: tuple[str, str]
) -> None:
    ids = apollo_emulator.seed_contacts(2)
    enroll(apollo_emulator, api, OUTBOUND, ids)
    sequence_id = apollo_emulator.sequence_id(OUTBOUND)
    response = api.post(
        f"{apollo_emulator.url}/emailer_campaigns/remove_or_stop_contact_ids",
        params={"emailer_campaign_ids[]": [sequence_id], "contact_ids[]": [ids[0]], "mode": mode},
    )
    assert response.status_code == 200
    [contact] = response.json()["contacts"]
    [status] = contact["contact_campaign_statuses"]
    assert (status["status"], status["inactive_reason"]) == expected
    assert statuses(apollo_emulator, api, ids[1])[sequence_id]["status"] == "active"


def test_remove_takes_the_contact_out_so_it_can_be_enrolled_again(
    api: requests.Session, apollo_emulator: ApolloEmulator
) -> None:
    [contact] = apollo_emulator.seed_contacts(1)
    enroll(apollo_emulator, api, OUTBOUND, [contact])
    url = f"{apollo_emulator.url}/emailer_campaigns/remove_or_stop_contact_ids"
    sequence_id = apollo_emulator.sequence_id(OUTBOUND)
    body = api.post(
        url, json={"emailer_campaign_ids": [sequence_id], "contact_ids": [contact], "mode": "remove"}
    )
    assert body.json()["contacts"][0]["contact_campaign_statuses"] == []
    assert statuses(apollo_emulator, api, contact) == {}
    assert enroll(apollo_emulator, api, OUTBOUND, [contact]).json()["skipped_contact_ids"] == {}
    bad = api.post(
        url, json={"emailer_campaign_ids": [sequence_id], "contact_ids": [contact], "mode": "pause"}
    )
    assert bad.status_code == 422


def test_an_inactive_sequence_holds_contacts_paused_until_approved(
    api: requests.Session, apollo_emulator: ApolloEmulator
) -> None:
    [contact] = apollo_emulator.seed_contacts(1)
    inactive = "Re-engage cold accounts"
    [status] = enroll(apollo_emulator, api, inactive, [contact]).json()["contacts"][0][
        "contact_campaign_statuses"
    ]
    assert (status["status"], status["inactive_reason"]) == ("paused", "Sequence inactive")
    sequence_id = apollo_emulator.sequence_id(inactive)
    approved = api.post(f"{apollo_emulator.url}/emailer_campaigns/{sequence_id}/approve").json()
    assert approved["emailer_campaign"]["active"] is True
    assert statuses(apollo_emulator, api, contact)[sequence_id]["status"] == "active"
    aborted = api.post(f"{apollo_emulator.url}/emailer_campaigns/{sequence_id}/abort").json()
    assert aborted["emailer_campaign"]["active"] is False
    assert statuses(apollo_emulator, api, contact)[sequence_id]["status"] == "paused"
    archived = api.post(f"{apollo_emulator.url}/emailer_campaigns/{sequence_id}/archive").json()
    assert archived["emailer_campaign"]["archived"] is True
    assert statuses(apollo_emulator, api, contact)[sequence_id]["status"] == "finished"


def test_enrollment_needs_a_master_key() -> None:
    with ApolloEmulator(master_key=False) as emulator, session_for(emulator) as api:
        [contact] = emulator.seed_contacts(1)
        response = enroll(emulator, api, OUTBOUND, [contact])
        assert response.status_code == 403
        assert response.json() == {
            "error": "This API key is not authorized to access api/v1/emailer_campaigns/add_contact_ids. "
            "Request an API key from your administrator that includes this endpoint in its configured scope.",
            "error_code": "API_INACCESSIBLE",
        }
        assert emulator.sequence_statuses(contact) == {}


def test_mailboxes_are_listed_with_their_users(
    api: requests.Session, apollo_emulator: ApolloEmulator
) -> None:
    accounts = api.get(f"{apollo_emulator.url}/email_accounts").json()["email_accounts"]
    user_ids = {user["id"] for user in apollo_emulator.users}
    assert len(accounts) == 4 and {account["user_id"] for account in accounts} == user_ids
    assert sum(account["default"] for account in accounts) == 3
    assert all(account["active"] for account in accounts)
    added = apollo_emulator.add_email_account(apollo_emulator.users[1]["id"], "sales@outreach.example")
    listed = api.get(f"{apollo_emulator.url}/email_accounts").json()["email_accounts"]
    assert listed[-1] == added and added["default"] is False


def test_sequence_endpoints_are_rate_limited_per_endpoint() -> None:
    with ApolloEmulator(rate_limits={"minute": 2}) as emulator, session_for(emulator) as api:
        url = f"{emulator.url}/emailer_campaigns/search"
        assert [api.post(url).status_code for _ in range(3)] == [200, 200, 429]
        assert api.get(f"{emulator.url}/email_accounts").status_code == 200
