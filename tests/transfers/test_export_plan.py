"""The export plan (core/export.py), driven through ApolloHook against the emulator or a fake source: cursor,
resume, bounds, the total told up front; and the export's file format from its key."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from airflow_provider_apollo.core import SEARCH_RESULT_CAP
from airflow_provider_apollo.core.export import (
    DEFAULT_FILE_FORMAT,
    FORMAT_SUFFIXES,
    ExportCursor,
    ExportPlan,
    export_file_format,
    format_named_by_key,
)
from airflow_provider_apollo.exceptions import ApolloArgumentError
from airflow_provider_apollo.hooks.apollo import ApolloHook
from airflow_provider_apollo.testing import ApolloEmulator
from airflow_provider_apollo.transfers._writers import FILE_FORMATS


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


# --------------------------------------------------------------------------- the total, told once up front


@dataclass
class Page:
    page: int
    total_pages: int
    total_entries: int
    contacts: list[dict[str, Any]]


class FakeSource:
    """A ContactSource without HTTP: ``total`` contacts in pages of 100, recording each page asked for."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.requested: list[int] = []

    def search_contact_pages(self, filters: Any = None, **paging: Any) -> Iterator[Page]:
        pages = max(1, -(-self.total // 100))
        for number in range(paging.get("start_page", 1), pages + 1):
            self.requested.append(number)
            first = (number - 1) * 100
            contacts = [{"id": f"c{index}"} for index in range(first, min(first + 100, self.total))]
            yield Page(number, pages, self.total, contacts)

    def count_contacts(self, filters: Any = None) -> int:
        raise AssertionError("not expected")

    def list_contact_stages(self) -> list[dict[str, Any]]:
        raise AssertionError("not expected")


def test_on_total_is_told_the_total_before_the_first_page_is_handed_out() -> None:
    source = FakeSource(250)
    told: list[tuple[int, list[int]]] = []
    plan = ExportPlan(source, on_total=lambda total: told.append((total, list(source.requested))))
    batches = iter(plan)
    next(batches)
    # Told once the first page arrived, before that page was handed out or another was asked for.
    assert told == [(250, [1])]
    assert ids_of([next(batches), next(batches)])[-1] == "c249"
    assert told == [(250, [1])]


def test_on_total_raising_stops_the_export_on_its_first_page() -> None:
    source = FakeSource(1000)

    def refuse(total: int) -> None:
        raise ApolloArgumentError(f"{total} is too many")

    with pytest.raises(ApolloArgumentError, match="1000 is too many"):
        list(ExportPlan(source, on_total=refuse))
    assert source.requested == [1]


def test_on_total_is_told_at_most_max_records() -> None:
    told: list[int] = []
    plan = ExportPlan(FakeSource(1000), max_records=150, on_total=told.append)
    assert len(ids_of(list(plan))) == 150
    assert told == [150]


def test_on_total_is_not_told_for_a_bounded_or_resumed_export() -> None:
    told: list[int] = []
    # Bounded: the total counts contacts outside the bounds (the fake contacts have no update time).
    list(ExportPlan(FakeSource(250), updated_since="2024-01-01", on_total=told.append))
    first = ExportPlan(FakeSource(250))
    next(iter(first))
    list(ExportPlan(FakeSource(250), cursor=first.state(), on_total=told.append))
    assert told == []


def test_on_total_hears_a_total_above_the_cap_before_slicing(apollo_connection: ApolloEmulator) -> None:
    apollo_connection.seed_contacts(SEARCH_RESULT_CAP + 10)
    told: list[tuple[int, int]] = []

    def on_total(total: int) -> None:
        told.append((total, apollo_connection.request_count()))
        raise ApolloArgumentError("stop")

    with pytest.raises(ApolloArgumentError, match="stop"):
        list(ApolloHook().export_contacts(on_total=on_total, concurrency=4))
    # One search page: no stage list, no per-stage counts before the caller could refuse.
    assert told == [(SEARCH_RESULT_CAP + 10, 1)]
    assert apollo_connection.request_count() == 1


# --------------------------------------------------------------------------- the file format (no I/O)


@pytest.mark.parametrize(
    ("key", "named"),
    [
        ("contacts.jsonl", "jsonl"),
        ("contacts.ndjson", "jsonl"),
        ("contacts.json", "jsonl"),
        ("contacts.csv", "csv"),
        ("contacts.parquet", "parquet"),
        ("contacts.pq", "parquet"),
        ("contacts.csv.gz", "csv"),
        ("Contacts.JSONL.GZIP", "jsonl"),
        ("contacts.parquet.gz", "parquet"),
        ("dt=2024-05-01/contacts.csv", "csv"),
        ("contacts", None),
        ("contacts.txt", None),
        ("contacts.gz", None),
        ("contacts.csv/part-0", None),
        ("contacts.csv.gz.gz", None),
    ],
)
def test_a_key_suffix_names_a_format_or_none(key: str, named: str | None) -> None:
    assert format_named_by_key(key) == named


def test_every_suffix_names_a_format_the_export_writes() -> None:
    assert set(FORMAT_SUFFIXES.values()) == set(FILE_FORMATS)
    assert DEFAULT_FILE_FORMAT in FILE_FORMATS


@pytest.mark.parametrize(
    ("file_format", "key", "expected"),
    [
        (None, "contacts.csv.gz", "csv"),
        (None, "contacts.parquet", "parquet"),
        (None, "contacts", "jsonl"),
        (None, "contacts.txt", "jsonl"),
        ("csv", "contacts.txt", "csv"),
        ("parquet", "contacts", "parquet"),
        ("jsonl", "contacts.json", "jsonl"),
        ("csv", "contacts.CSV", "csv"),
    ],
)
def test_the_export_format_is_given_or_inferred(file_format: str | None, key: str, expected: str) -> None:
    assert export_file_format(file_format, key) == expected


def test_a_format_the_key_contradicts_names_both_arguments() -> None:
    with pytest.raises(ApolloArgumentError) as raised:
        export_file_format("jsonl", "exports/contacts.parquet")
    assert str(raised.value) == (
        "file_format='jsonl' contradicts s3_key='exports/contacts.parquet', whose suffix names 'parquet': "
        "pass file_format='parquet', leave file_format out to infer it from s3_key, or change s3_key's suffix."
    )
