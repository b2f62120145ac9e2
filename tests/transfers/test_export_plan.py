"""The export plan (core/export.py) driven through ApolloHook against the emulator: cursor, resume, bounds."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest

from airflow_provider_apollo.core import SEARCH_RESULT_CAP
from airflow_provider_apollo.core.export import ExportCursor, ExportPlan
from airflow_provider_apollo.exceptions import ApolloArgumentError
from airflow_provider_apollo.hooks.apollo import ApolloHook
from airflow_provider_apollo.testing import ApolloEmulator


def updated_at(contact: dict[str, Any]) -> datetime.datetime:
    return datetime.datetime.fromisoformat(contact["updated_at"].replace("Z", "+00:00"))


def ids_of(batches: list[list[dict[str, Any]]]) -> list[str]:
    return [contact["id"] for batch in batches for contact in batch]


def test_the_hook_hands_out_the_plan(apollo_connection: ApolloEmulator) -> None:
    apollo_connection.seed_contacts(250)
    plan = ApolloHook().export_contacts({"q_keywords": ""}, max_records=120)
    assert isinstance(plan, ExportPlan)
    batches = list(plan)
    assert [len(batch) for batch in batches] == [100, 20]
    assert ids_of(batches) == list(apollo_connection.contacts)[:120]
    assert plan.done and plan.written == 120 and plan.pages_read == 2


def test_state_is_small_json_without_id_lists(apollo_connection: ApolloEmulator) -> None:
    apollo_connection.seed_contacts(2500)
    plan = ApolloHook().export_contacts()
    for _ in plan:
        state = plan.state()
        # A position and counts, and at most the last page's ids: never the ids exported so far.
        assert len(state["last_page_ids"]) <= 100
        assert len(json.dumps(state)) < 4000
    state = plan.state()
    assert json.loads(json.dumps(state)) == state
    assert state["done"] and state["written"] == 2500 and state["pages_read"] == 25
    assert state["page"] == 26 and state["slices"] is None
    # A finished plan resumed does nothing.
    before = apollo_connection.request_count()
    assert list(ApolloHook().export_contacts(cursor=state)) == []
    assert apollo_connection.request_count() == before


@pytest.mark.parametrize("concurrency", [1, 4])
def test_a_plan_resumed_from_its_state_hands_out_the_rest_once(
    apollo_connection: ApolloEmulator, concurrency: int
) -> None:
    apollo_connection.seed_contacts(1000)
    first = ApolloHook().export_contacts(concurrency=concurrency)
    batches = []
    for batch in first:
        batches.append(batch)
        if len(batches) == 4:
            break
    state = first.state()
    assert state["page"] == 5 and state["written"] == 400
    searches = apollo_connection.request_count("/contacts/search")
    # A new hook and plan, as after a deferral: only the state crosses over.
    second = ApolloHook().export_contacts(concurrency=concurrency, cursor=json.loads(json.dumps(state)))
    batches.extend(second)
    exported = ids_of(batches)
    assert exported == list(apollo_connection.contacts)
    assert second.written == 1000 and second.done
    # The rest of the pages, plus the last page read before the stop, read again on purpose.
    assert apollo_connection.request_count("/contacts/search") - searches == 6 + 1


def test_a_resumed_interval_export_keeps_its_bounds(apollo_connection: ApolloEmulator) -> None:
    apollo_connection.seed_contacts(2000)
    contacts = apollo_connection.contacts
    times = sorted(updated_at(contact) for contact in contacts.values())
    start, end = times[500], times[1500]
    bounds = {"updated_since": start, "updated_before": end.isoformat()}
    first = ApolloHook().export_contacts(**bounds)
    batches = [next(iter(first))]
    batches.extend(ApolloHook().export_contacts(**bounds, cursor=first.state()))
    exported = ids_of(batches)
    assert len(exported) == len(set(exported)) == 1000
    assert set(exported) == {i for i, c in contacts.items() if start <= updated_at(c) < end}


def test_a_cursor_from_another_export_is_refused_before_any_request(
    apollo_connection: ApolloEmulator,
) -> None:
    apollo_connection.seed_contacts(300)
    plan = ApolloHook().export_contacts({"q_keywords": "engineer"})
    next(iter(plan))
    before = apollo_connection.request_count()
    with pytest.raises(ApolloArgumentError, match="belongs to another export"):
        ApolloHook().export_contacts({"q_keywords": "manager"}, cursor=plan.state())
    with pytest.raises(ApolloArgumentError, match="belongs to another export"):
        ApolloHook().export_contacts(
            {"q_keywords": "engineer"}, updated_since="2024-01-01", cursor=plan.state()
        )
    assert apollo_connection.request_count() == before


@pytest.mark.parametrize(
    "cursor",
    [[], {"fingerprint": "x"}, {"version": 1}, {"version": 1, "fingerprint": "x", "page": 0}],
)
def test_a_malformed_cursor_is_an_argument_error(cursor: Any) -> None:
    with pytest.raises(ApolloArgumentError, match="export cursor"):
        ExportCursor.from_json(cursor)


def test_bounds_are_checked_before_any_request(apollo_connection: ApolloEmulator) -> None:
    with pytest.raises(ApolloArgumentError, match="updated_before must be later than updated_since"):
        ApolloHook().export_contacts(
            updated_since="2024-05-01T10:00:00Z", updated_before="2024-05-01T10:00:00Z"
        )
    with pytest.raises(ApolloArgumentError, match="updated_before must be an ISO 8601"):
        ApolloHook().export_contacts(updated_before=12)
    assert apollo_connection.request_count() == 0


def test_progress_goes_to_the_given_log(apollo_connection: ApolloEmulator) -> None:
    apollo_connection.seed_contacts(300)
    messages: list[str] = []

    class Log:
        def info(self, message: str, *args: Any) -> None:
            messages.append(message % args)

    list(ApolloHook().export_contacts(log_every_pages=1, log=Log()))
    progress = [message for message in messages if message.startswith("Export progress")]
    assert [message.split(",")[0] for message in progress] == [
        "Export progress: 100 contacts so far",
        "Export progress: 200 contacts so far",
        "Export progress: 300 contacts so far",
    ]


@pytest.mark.slow
def test_an_interval_beyond_the_cap_is_sliced_after_one_probe(apollo_connection: ApolloEmulator) -> None:
    """
    Re-running an old interval: more than 50,000 contacts were updated after it, so the newest-first
    search cannot reach it. One request for the last page Apollo serves shows that, and the plan
    slices by stage at once instead of reading 500 pages first.
    """
    apollo_connection.seed_contacts(SEARCH_RESULT_CAP - 2000, stage="Cold")
    apollo_connection.seed_contacts(4000, stage="Replied")
    contacts = apollo_connection.contacts
    times = sorted((updated_at(contact) for contact in contacts.values()), reverse=True)
    # The interval lies past the 50,000 most recently updated contacts.
    end, start = times[SEARCH_RESULT_CAP + 500], times[SEARCH_RESULT_CAP + 1000]
    plan = ApolloHook().export_contacts(updated_since=start, updated_before=end, concurrency=4)
    exported = ids_of(list(plan))
    expected = {i for i, c in contacts.items() if start <= updated_at(c) < end}
    assert len(exported) == len(set(exported)) == len(expected) == 500
    assert set(exported) == expected
    assert plan.state()["slices"] == [
        apollo_connection.stage_id("Cold"),
        apollo_connection.stage_id("Replied"),
    ]
    whole_search = [
        request
        for request in apollo_connection.requests
        if request.path.endswith("/contacts/search") and not request.body.get("contact_stage_ids")
    ]
    # The first page and the probe of the last reachable page; no pages read in between.
    assert sorted(request.body["page"] for request in whole_search) == [1, 500]


def test_start_page_is_checked_before_any_request(apollo_connection: ApolloEmulator) -> None:
    hook = ApolloHook()
    for start_page in (0, 501, "2"):
        with pytest.raises(ApolloArgumentError, match="start_page"):
            hook.search_contact_pages({}, start_page=start_page)  # type: ignore[arg-type]
    assert apollo_connection.request_count() == 0


@pytest.mark.slow
def test_stage_names_over_the_cap_are_resolved_once_and_sliced(apollo_connection: ApolloEmulator) -> None:
    cold = set(apollo_connection.seed_contacts(SEARCH_RESULT_CAP, stage="Cold"))
    replied = set(apollo_connection.seed_contacts(700, stage="Replied"))
    apollo_connection.seed_contacts(400, stage="Interested")
    plan = ApolloHook().export_contacts({"contact_stages": ["cold", "Replied"]}, concurrency=4)
    exported = ids_of(list(plan))
    assert len(exported) == len(set(exported)) == 50_700
    assert set(exported) == cold | replied
    assert apollo_connection.request_count("/contact_stages") == 1


def test_a_resumed_export_with_max_records_hands_out_max_records(apollo_connection: ApolloEmulator) -> None:
    """The page read again on resume was handed out before: it must not use up max_records."""
    apollo_connection.seed_contacts(300)
    first = ApolloHook().export_contacts(max_records=150)
    exported = [contact["id"] for contact in next(iter(first))]
    second = ApolloHook().export_contacts(max_records=150, cursor=first.state())
    exported += ids_of(list(second))
    assert len(exported) == len(set(exported)) == 150
    assert (second.written, second.done) == (150, True)


def test_contacts_past_updated_before_do_not_use_up_max_records(apollo_connection: ApolloEmulator) -> None:
    """Newest first: the 51 contacts at or after updated_before are read and skipped, not counted."""
    apollo_connection.seed_contacts(300)
    times = sorted(updated_at(contact) for contact in apollo_connection.contacts.values())
    before = times[-51]
    plan = ApolloHook().export_contacts(updated_before=before, max_records=120)
    exported = [contact for batch in plan for contact in batch]
    assert len(exported) == len({contact["id"] for contact in exported}) == 120
    assert all(updated_at(contact) < before for contact in exported)
    assert plan.done
