"""The export plan (core/export.py): what an export reads, in which order, and where it stands.

Driven by the step driver against a scripted Apollo (``Apollo.call``, no HTTP), recording every
request, and through ``ApolloHook.export_contacts`` against the emulator: slices above the cap, time
bounds, the probe, de-duplication, the cursor and resuming from it, the total told up front; and
the export's file format from its key.
"""

from __future__ import annotations

import datetime
import json
import logging
import math
from typing import Any

import pytest

from airflow_provider_apollo.core import SEARCH_RESULT_CAP, export
from airflow_provider_apollo.core.endpoints import PATH_SEARCH, ApiRequest
from airflow_provider_apollo.core.export import (
    DEFAULT_FILE_FORMAT,
    FORMAT_SUFFIXES,
    ExportCursor,
    ExportPlan,
    export_file_format,
    export_fingerprint,
    format_named_by_key,
    parse_time_bound,
    parse_timestamp,
)
from airflow_provider_apollo.core.lifecycle import Concurrently, Emit, iter_steps
from airflow_provider_apollo.core.lookups import TeamLookups
from airflow_provider_apollo.exceptions import (
    ApolloArgumentError,
    ApolloRateLimitError,
    ApolloSearchCapError,
)
from airflow_provider_apollo.hooks.apollo import ApolloHook
from airflow_provider_apollo.testing import ApolloEmulator
from airflow_provider_apollo.transfers._writers import FILE_FORMATS

UTC = datetime.timezone.utc
CAP = 50_000
T0 = datetime.datetime(2024, 5, 1, tzinfo=UTC)
STAGES = [
    {"id": "s-cold", "display_name": "Cold"},
    {"id": "s-replied", "display_name": "Replied"},
    {"id": "s-won", "name": "won"},
]
CREATED = {"sort_by_field": "contact_created_at", "sort_ascending": True}
UPDATED = {"sort_by_field": "contact_updated_at", "sort_ascending": False}


def at(minutes: int) -> datetime.datetime:
    return T0 + datetime.timedelta(minutes=minutes)


def stamp(minutes: int) -> str:
    """An Apollo timestamp ``minutes`` after T0, as Apollo writes it."""
    return at(minutes).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def make_contacts(
    count: int, *, stage: str = "s-cold", start: int = 0, prefix: str = "c"
) -> list[dict[str, Any]]:
    """Contacts created and last updated ``i`` minutes after T0."""
    return [
        {"id": f"{prefix}{i}", "stage": stage, "created_at": stamp(i), "updated_at": stamp(i)}
        for i in range(start, start + count)
    ]


def ids(contacts: list[dict[str, Any]]) -> list[str]:
    return [contact["id"] for contact in contacts]


def flat(batches: list[list[dict[str, Any]]]) -> list[str]:
    return [contact.get("id") for batch in batches for contact in batch]


def cids(first: int, last: int, prefix: str = "c") -> list[str]:
    """Ids from ``first`` to ``last`` inclusive, in either direction."""
    step = 1 if last >= first else -1
    return [f"{prefix}{i}" for i in range(first, last + step, step)]


class Apollo:
    """
    A scripted Apollo behind ``call``, recording every request: ``("stages",)``, ``("count",
    filters)`` (a search of one record) or ``("search", filters, page)``.

    :param totals: the total a search reports, by ``contact_stage_ids`` (joined) or None for no stage filter.
    :param counts: the total a count reports, by stage id.
    :param served: the contacts served for a page number instead of the matching ones (the probe).
    :param fail: an error to raise instead of answering a search page, by page number.
    """

    def __init__(
        self,
        contacts: list[dict[str, Any]] = (),  # type: ignore[assignment]
        *,
        stages: list[dict[str, Any]] = STAGES,
        totals: dict[str | None, int] | None = None,
        counts: dict[str, int] | None = None,
        served: dict[int, list[dict[str, Any]]] | None = None,
        fail: dict[int, Exception] | None = None,
    ) -> None:
        self.contacts = list(contacts)
        self.stages = stages
        self.totals = totals or {}
        self.counts = counts or {}
        self.served = served or {}
        self.fail = fail or {}
        self.calls: list[tuple[Any, ...]] = []

    @staticmethod
    def _key(filters: dict[str, Any]) -> str | None:
        wanted = filters.get("contact_stage_ids")
        if isinstance(wanted, str):
            return wanted
        return ",".join(wanted) if wanted else None

    def _matching(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        wanted = filters.get("contact_stage_ids")
        found = [contact for contact in self.contacts if not wanted or contact.get("stage") in wanted]
        field = {"contact_updated_at": "updated_at", "contact_created_at": "created_at"}.get(
            filters.get("sort_by_field"), "id"
        )
        return sorted(found, key=lambda c: c.get(field) or "", reverse=not filters.get("sort_ascending"))

    def call(self, request: ApiRequest) -> Any:
        if request.path == "/contact_stages":
            self.calls.append(("stages",))
            return {"contact_stages": [dict(stage) for stage in self.stages]}
        assert request.path == PATH_SEARCH, request
        filters = dict(request.json_body or {})
        number, per_page = filters.pop("page"), filters.pop("per_page")
        found = self._matching(filters)
        key = self._key(filters)
        if per_page == 1:
            self.calls.append(("count", filters))
            total = self.counts[key] if key in self.counts else len(found)
        else:
            self.calls.append(("search", filters, number))
            assert len(self.searches()) <= 60, "the plan keeps searching"
            total = self.totals.get(key, len(found))
            if number in self.fail:
                raise self.fail[number]
        chunk = self.served.get(number, found[(number - 1) * per_page : number * per_page])
        return {
            "contacts": [dict(contact) for contact in chunk],
            "pagination": {
                "page": number,
                "per_page": per_page,
                "total_entries": total,
                "total_pages": max(1, math.ceil(total / per_page)),
            },
        }

    def searches(self) -> list[tuple[Any, ...]]:
        return [call for call in self.calls if call[0] == "search"]

    def pages(self) -> list[int]:
        return [call[2] for call in self.searches()]


def drive(plan: ExportPlan, apollo: Apollo, lookups: TeamLookups | None = None) -> list[list[dict[str, Any]]]:
    """Every list of contacts the plan emits, driven by the blocking step driver."""
    return list(iter_steps(plan.steps(lookups), apollo.call))


class Log:
    def __init__(self) -> None:
        self.messages: list[str] = []

    def info(self, message: str, *args: Any) -> None:
        self.messages.append(message % args)


def searched(filters: dict[str, Any], *pages: int) -> list[tuple[Any, ...]]:
    return [("search", filters, number) for number in pages]


def count_call(filters: dict[str, Any]) -> tuple[Any, ...]:
    return ("count", filters)


def stage(filters: dict[str, Any], stage_id: str) -> dict[str, Any]:
    return {**filters, "contact_stage_ids": [stage_id]}


def sliced_apollo(**kwargs: Any) -> Apollo:
    """60,000 contacts in the search (150 Cold and 120 Replied served), counted per stage."""
    contacts = make_contacts(150) + make_contacts(120, stage="s-replied", start=1000, prefix="r")
    options: dict[str, Any] = {
        "totals": {None: 60_000},
        "counts": {"s-cold": 30_000, "s-replied": 30_000, "s-won": 0},
    }
    options.update(kwargs)
    return Apollo(contacts, **options)


# --------------------------------------------------------------------------- time bounds


def test_parse_time_bound_reads_strings_and_datetimes_as_utc() -> None:
    assert parse_time_bound(None, "updated_since") is None
    assert parse_time_bound("", "updated_since") is None
    assert parse_time_bound("   ", "updated_before") is None
    naive = parse_time_bound(datetime.datetime(2024, 5, 1, 10), "updated_since")
    assert naive == datetime.datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert naive.utcoffset() == datetime.timedelta(0)
    plus_two = datetime.timezone(datetime.timedelta(hours=2))
    aware = parse_time_bound(datetime.datetime(2024, 5, 1, 10, tzinfo=plus_two), "updated_since")
    assert aware == datetime.datetime(2024, 5, 1, 8, tzinfo=UTC)
    text = parse_time_bound(" 2024-05-01T10:00:00 ", "updated_before")
    assert text == datetime.datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert text.utcoffset() == datetime.timedelta(0)
    assert parse_time_bound("2024-05-01T10:00:00+02:00", "updated_before") == datetime.datetime(
        2024, 5, 1, 8, tzinfo=UTC
    )
    assert parse_time_bound("2024-05-01", "updated_since") == T0


@pytest.mark.parametrize(
    ("value", "argument", "example"),
    [
        ("yesterday", "updated_since", "{{ data_interval_start }}"),
        ("P1D", "updated_since", "{{ data_interval_start }}"),  # pendulum parses a duration
        (12, "updated_before", "{{ data_interval_end }}"),
        ("not a date", "updated_before", "{{ data_interval_end }}"),
    ],
)
def test_parse_time_bound_refuses_anything_else_naming_the_argument(
    value: Any, argument: str, example: str
) -> None:
    with pytest.raises(ApolloArgumentError) as raised:
        parse_time_bound(value, argument)
    assert str(raised.value) == (
        f"{argument} must be an ISO 8601 date-time string (e.g. '{example}' or "
        f"'2024-05-01T00:00:00+00:00') or a datetime, got {value!r}."
    )


def test_parse_timestamp_reads_apollo_timestamps() -> None:
    assert parse_timestamp(None) is None
    assert parse_timestamp("") is None
    assert parse_timestamp(1714557600) is None
    assert parse_timestamp("not a time") is None
    assert parse_timestamp("2020-08-13T06:56:09.789Z") == datetime.datetime(
        2020, 8, 13, 6, 56, 9, 789000, tzinfo=UTC
    )
    # Read by the standard library only (pendulum refuses the space before the zone).
    assert parse_timestamp("2024-05-01 10:00:00 Z") == datetime.datetime(2024, 5, 1, 10, tzinfo=UTC)
    naive = parse_timestamp("2024-05-01T10:00:00")
    assert naive == datetime.datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert naive.utcoffset() == datetime.timedelta(0)
    plus_two = parse_timestamp("2024-05-01T10:00:00+02:00")
    assert plus_two.utcoffset() == datetime.timedelta(hours=2)
    # Read by the standard library only, a zone after a space; and a date in UTC as midnight.
    spaced = parse_timestamp("2024-05-01T10:00:00 +02:00")
    assert spaced == datetime.datetime(2024, 5, 1, 8, tzinfo=UTC)
    assert spaced.utcoffset() == datetime.timedelta(hours=2)
    assert parse_timestamp("2024-05-01Z") == T0
    # Read by pendulum only (an ordinal date): taken as UTC.
    ordinal = parse_timestamp("2024-123")
    assert ordinal == datetime.datetime(2024, 5, 2, tzinfo=UTC)
    assert ordinal.utcoffset() == datetime.timedelta(0)


# --------------------------------------------------------------------------- the cursor


def test_cursor_to_json_holds_every_field() -> None:
    cursor = ExportCursor("f", ["a", "b"], 1, 3, 250, 4, ["x"], 60_000, True)
    value = cursor.to_json()
    assert value == {
        "version": 1,
        "fingerprint": "f",
        "slices": ["a", "b"],
        "slice_index": 1,
        "page": 3,
        "written": 250,
        "pages_read": 4,
        "last_page_ids": ["x"],
        "total_entries": 60_000,
        "done": True,
    }
    assert value["slices"] is not cursor.slices and value["last_page_ids"] is not cursor.last_page_ids
    assert ExportCursor("g").to_json() == {
        "version": 1,
        "fingerprint": "g",
        "slices": None,
        "slice_index": 0,
        "page": 1,
        "written": 0,
        "pages_read": 0,
        "last_page_ids": [],
        "total_entries": None,
        "done": False,
    }
    assert ExportCursor.from_json(value) == cursor


def test_cursor_from_json_fills_defaults_and_converts_types() -> None:
    assert ExportCursor.from_json({"version": 1, "fingerprint": 7}) == ExportCursor("7")
    assert ExportCursor.from_json(
        {"version": 1, "fingerprint": "f", "last_page_ids": None, "total_entries": None, "slices": None}
    ) == ExportCursor("f")
    value = {
        "version": 1,
        "fingerprint": "f",
        "slices": [1, "b"],
        "slice_index": "1",
        "page": "3",
        "written": "5",
        "pages_read": "2",
        "last_page_ids": [7, "x"],
        "total_entries": "9",
        "done": 1,
    }
    assert ExportCursor.from_json(value) == ExportCursor("f", ["1", "b"], 1, 3, 5, 2, ["7", "x"], 9, True)
    assert ExportCursor.from_json({"version": 1, "fingerprint": "f", "total_entries": 0}).total_entries == 0
    # The lowest possible position is accepted.
    assert ExportCursor.from_json(
        {"version": 1, "fingerprint": "f", "page": 1, "slice_index": 0, "written": 0}
    )


@pytest.mark.parametrize("value", [[], None, {"fingerprint": "f"}, {"version": 2, "fingerprint": "f"}])
def test_cursor_from_json_refuses_other_values(value: Any) -> None:
    with pytest.raises(ApolloArgumentError) as raised:
        ExportCursor.from_json(value)
    assert str(raised.value) == (
        f"an export cursor must be a dict from ExportPlan.state() (version 1), got {value!r}."
    )


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ({"version": 1}, "'fingerprint'"),
        ({"version": 1, "fingerprint": "f", "page": "x"}, "invalid literal for int() with base 10: 'x'"),
        ({"version": 1, "fingerprint": "f", "slices": 5}, "'int' object is not iterable"),
        ({"version": 1, "fingerprint": "f", "slice_index": None}, None),
        ({"version": 1, "fingerprint": "f", "written": "w"}, "invalid literal for int() with base 10: 'w'"),
        (
            {"version": 1, "fingerprint": "f", "pages_read": "p"},
            "invalid literal for int() with base 10: 'p'",
        ),
        ({"version": 1, "fingerprint": "f", "last_page_ids": 3}, "'int' object is not iterable"),
        (
            {"version": 1, "fingerprint": "f", "total_entries": "t"},
            "invalid literal for int() with base 10: 't'",
        ),
    ],
)
def test_cursor_from_json_names_what_is_malformed(value: dict[str, Any], error: str | None) -> None:
    with pytest.raises(ApolloArgumentError) as raised:
        ExportCursor.from_json(value)
    if error is None:
        assert str(raised.value).startswith("an export cursor is malformed (int() argument must be")
        assert str(raised.value).endswith(f"): {value!r}.")
    else:
        assert str(raised.value) == f"an export cursor is malformed ({error}): {value!r}."


@pytest.mark.parametrize("position", [{"page": 0}, {"slice_index": -1}, {"written": -1}])
def test_cursor_from_json_refuses_an_impossible_position(position: dict[str, int]) -> None:
    value = {"version": 1, "fingerprint": "f", **position}
    with pytest.raises(ApolloArgumentError) as raised:
        ExportCursor.from_json(value)
    assert str(raised.value) == f"an export cursor holds an impossible position: {value!r}."


def test_fingerprint_is_stable_short_and_tells_exports_apart() -> None:
    # Cursors saved by earlier releases must still match: the digest is part of the saved state.
    assert export_fingerprint({}, None, None) == "615342f3578d959d"
    since, before = at(0), datetime.datetime(2024, 6, 1, tzinfo=UTC)
    filters = {"q_keywords": "x", "when": datetime.date(2024, 5, 1)}
    assert export_fingerprint(filters, since, before) == "203b382546cb3a1b"
    assert export_fingerprint(dict(reversed(filters.items())), since, before) == "203b382546cb3a1b"
    assert export_fingerprint(filters, before, since) != "203b382546cb3a1b"
    assert len({export_fingerprint({}, since, None), export_fingerprint({}, None, since)}) == 2


def test_updated_since_is_read_as_an_aware_utc_time() -> None:
    """What the export operator's ``updated_since`` becomes (formerly ``parse_updated_since``)."""
    assert parse_time_bound(None, "updated_since") is None
    assert parse_time_bound("", "updated_since") is None
    assert parse_time_bound("2024-05-01T10:00:00+02:00", "updated_since") == datetime.datetime(
        2024, 5, 1, 8, tzinfo=UTC
    )
    assert parse_time_bound("2024-05-01", "updated_since") == T0
    naive = datetime.datetime(2024, 5, 1, 8, 30)
    assert parse_time_bound(naive, "updated_since") == datetime.datetime(2024, 5, 1, 8, 30, tzinfo=UTC)
    with pytest.raises(ApolloArgumentError, match="updated_since"):
        parse_time_bound("yesterday-ish", "updated_since")
    with pytest.raises(ApolloArgumentError, match="updated_since"):
        parse_time_bound(12345, "updated_since")


# --------------------------------------------------------------------------- arguments


def test_plan_arguments_are_checked_with_messages() -> None:
    with pytest.raises(ApolloArgumentError) as raised:
        ExportPlan(["q"])  # type: ignore[arg-type]
    assert str(raised.value) == "search must be a dict of Apollo search filters or None, got ['q']."
    for bad in (True, -1, "5", 1.5):
        with pytest.raises(ApolloArgumentError) as raised:
            ExportPlan(max_records=bad)  # type: ignore[arg-type]
        assert str(raised.value) == f"max_records must be a non-negative integer or None, got {bad!r}."
    for bad in (0, 1_000_001, True):
        with pytest.raises(ApolloArgumentError) as raised:
            ExportPlan(log_every_pages=bad)
        assert str(raised.value) == f"log_every_pages must be an integer from 1 to 1000000, got {bad!r}."
    ExportPlan(log_every_pages=1_000_000)
    ExportPlan(log_every_pages=1)
    for bad in (0, 9, True):
        with pytest.raises(ApolloArgumentError) as raised:
            ExportPlan(concurrency=bad)
        assert str(raised.value) == f"concurrency must be an integer from 1 to 8, got {bad!r}."
    for since, before in (
        ("2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z"),
        ("2024-05-01T11:00:00Z", "2024-05-01T10:00:00Z"),
    ):
        with pytest.raises(ApolloArgumentError) as raised:
            ExportPlan(updated_since=since, updated_before=before)
        assert str(raised.value) == (
            f"updated_before must be later than updated_since: got updated_since={since[:-1]}+00:00, "
            f"updated_before={before[:-1]}+00:00."
        )
    with pytest.raises(
        ApolloArgumentError, match=r"^updated_since must be .*'\{\{ data_interval_start \}\}'"
    ):
        ExportPlan(updated_since="soon")
    with pytest.raises(ApolloArgumentError, match=r"^updated_before must be .*'\{\{ data_interval_end \}\}'"):
        ExportPlan(updated_before="soon")
    ExportPlan(updated_since=at(0), updated_before=at(0) + datetime.timedelta(microseconds=1))


def test_the_search_is_checked_when_the_plan_is_built() -> None:
    with pytest.raises(ApolloArgumentError, match=r"^search filters must not contain 'page'"):
        ExportPlan({"page": 3})
    with pytest.raises(ApolloArgumentError, match=r"^search sort_by_field must be one of"):
        ExportPlan({"sort_by_field": "last_name"})


@pytest.mark.parametrize("search", [None, ""])
def test_no_search_reads_every_contact_oldest_first(search: Any) -> None:
    apollo = Apollo(make_contacts(3))
    plan = ExportPlan(search, log=Log())
    assert flat(drive(plan, apollo)) == cids(0, 2)
    assert apollo.calls == searched(CREATED, 1)
    assert plan.state()["fingerprint"] == "615342f3578d959d"


def test_the_callers_search_is_left_alone_and_a_given_sort_kept() -> None:
    search = {"q_keywords": "x", "sort_by_field": "contact_last_activity_date"}
    apollo = Apollo(make_contacts(3))
    drive(ExportPlan(search, concurrency=3, log=Log()), apollo)
    assert search == {"q_keywords": "x", "sort_by_field": "contact_last_activity_date"}
    assert apollo.calls == searched(search, 1)
    # sort_ascending alone does not keep the user's order: it comes with the creation-time sort.
    apollo = Apollo(make_contacts(3))
    drive(ExportPlan({"sort_ascending": False}, log=Log()), apollo)
    assert apollo.calls == searched(CREATED, 1)


def test_bounds_sort_newest_updated_first_and_refuse_another_sort() -> None:
    for search in ({}, {"sort_by_field": "contact_updated_at"}, {"sort_ascending": False}):
        apollo = Apollo(make_contacts(3))
        drive(ExportPlan(search, updated_before=at(100), log=Log()), apollo)
        assert apollo.calls == searched(UPDATED, 1)
    for search, sort, ascending in (
        ({"sort_by_field": "contact_created_at"}, "'contact_created_at'", "None"),
        ({"sort_ascending": True}, "None", "True"),
        ({"sort_by_field": "contact_updated_at", "sort_ascending": True}, "'contact_updated_at'", "True"),
    ):
        with pytest.raises(ApolloArgumentError) as raised:
            ExportPlan(search, updated_since=at(0))
        assert str(raised.value) == (
            "updated_since and updated_before read contacts newest-updated first, so search must not "
            "set sort_by_field (other than 'contact_updated_at') or sort_ascending=True; "
            f"got sort_by_field={sort}, sort_ascending={ascending}."
        )


def test_a_cursor_of_another_export_is_refused() -> None:
    cursor = ExportPlan({"q_keywords": "a"}).state()
    with pytest.raises(ApolloArgumentError) as raised:
        ExportPlan({"q_keywords": "b"}, cursor=cursor)
    assert str(raised.value) == (
        "the export cursor belongs to another export (different search or bounds); "
        "start without a cursor, or resume with the arguments it was saved under."
    )
    with pytest.raises(ApolloArgumentError, match="^the export cursor belongs to another export"):
        ExportPlan({"q_keywords": "a"}, updated_since=at(0), cursor=cursor)
    bounded = ExportPlan(updated_before=at(10)).state()
    assert bounded["fingerprint"] == export_fingerprint({}, None, at(10))
    with pytest.raises(ApolloArgumentError, match="^the export cursor belongs to another export"):
        ExportPlan(updated_before=at(20), cursor=bounded)
    with pytest.raises(ApolloArgumentError, match="^an export cursor must be a dict"):
        ExportPlan({"q_keywords": "a"}, cursor={"fingerprint": cursor["fingerprint"]})


def test_a_plan_is_driven_once() -> None:
    plan = ExportPlan(log=Log())
    assert flat(drive(plan, Apollo(make_contacts(3)))) == cids(0, 2)
    with pytest.raises(RuntimeError) as raised:
        plan.steps()
    assert str(raised.value) == "an ExportPlan is driven once; build a new one from its state() to resume."


# --------------------------------------------------------------------------- reading one search


def test_a_whole_search_is_read_page_by_page_and_logged() -> None:
    apollo = Apollo(make_contacts(250))
    log = Log()
    plan = ExportPlan({"q_keywords": "x"}, log=log)
    assert (plan.written, plan.pages_read, plan.done) == (0, 0, False)
    batches = drive(plan, apollo)
    assert [len(batch) for batch in batches] == [100, 100, 50]
    assert flat(batches) == cids(0, 249)
    assert apollo.calls == searched({"q_keywords": "x", **CREATED}, 1, 2, 3)
    assert (plan.written, plan.pages_read, plan.done) == (250, 3, True)
    state = plan.state()
    assert state == {
        "version": 1,
        "fingerprint": export_fingerprint({"q_keywords": "x"}, None, None),
        "slices": None,
        "slice_index": 0,
        "page": 4,
        "written": 250,
        "pages_read": 3,
        "last_page_ids": cids(200, 249),
        "total_entries": None,
        "done": True,
    }
    assert log.messages == ["Finished the search: 3 pages; 250 contacts exported so far"]
    # A finished export resumed asks nothing.
    again = Apollo(make_contacts(250))
    assert drive(ExportPlan({"q_keywords": "x"}, cursor=state), again) == []
    assert again.calls == []


def test_each_list_is_emitted_after_the_cursor_moved_past_it() -> None:
    plan = ExportPlan(log=Log())
    steps = plan.steps()
    apollo = Apollo(make_contacts(150))
    emitted = steps.send(apollo.call(next(steps)))
    assert isinstance(emitted, Emit) and ids(emitted.value) == cids(0, 99)
    # The consumer writes the list, then saves the state: it already counts the list as written.
    assert (plan.written, plan.state()["page"], plan.state()["last_page_ids"]) == (100, 2, cids(0, 99))
    assert isinstance(steps.send(None), ApiRequest)


def test_the_default_log_is_this_modules_logger(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="airflow_provider_apollo.core.export")
    drive(ExportPlan(), Apollo(make_contacts(3)))
    assert [(record.name, record.getMessage()) for record in caplog.records] == [
        ("airflow_provider_apollo.core.export", "Finished the search: 1 pages; 3 contacts exported so far")
    ]


def test_an_empty_search_is_done_after_its_one_page() -> None:
    log = Log()
    plan = ExportPlan(log=log)
    assert drive(plan, Apollo()) == []
    assert plan.done and plan.state()["page"] == 2 and plan.written == 0
    assert log.messages == ["Finished the search: 1 pages; 0 contacts exported so far"]


def test_pages_asked_for_at_once_past_where_the_read_stops_are_not_handed_out() -> None:
    apollo = Apollo(make_contacts(900))
    plan = ExportPlan(max_records=250, concurrency=4, log=Log())
    batches = drive(plan, apollo)
    assert flat(batches) == cids(0, 249)
    # The first page alone, then pages 2 and 3: the last worth reading for 250 contacts.
    assert sorted(apollo.pages()) == [1, 2, 3]
    assert plan.state()["page"] == 4
    apollo = Apollo(make_contacts(900))
    plan = ExportPlan(updated_since=at(750), concurrency=4, log=Log())
    assert flat(drive(plan, apollo)) == cids(899, 750)
    # Pages 2 to 5 went out together; updated_since was met on page 2, so 3 to 5 are dropped.
    assert sorted(apollo.pages()) == [1, 2, 3, 4, 5]
    assert (plan.pages_read, plan.state()["page"], plan.done) == (2, 3, True)


def test_progress_is_logged_every_n_pages_with_the_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    class Clock:
        def __init__(self) -> None:
            self.now = 100.0

        def monotonic(self) -> float:
            self.now += 1.0
            return self.now

    monkeypatch.setattr(export, "time", Clock())
    log = Log()
    drive(ExportPlan(log_every_pages=5, log=log), Apollo(make_contacts(1200)))
    # The clock ticks once at construction and once per progress line: 1 s, then 2 s.
    assert log.messages == [
        "Export progress: 500 contacts so far, page 5 of 12 of the search (1,200 contacts), 500 records/s",
        "Export progress: 1000 contacts so far, page 10 of 12 of the search (1,200 contacts), 500 records/s",
        "Finished the search: 12 pages; 1200 contacts exported so far",
    ]


def test_progress_at_no_elapsed_time_divides_by_a_nanosecond(monkeypatch: pytest.MonkeyPatch) -> None:
    class Clock:
        @staticmethod
        def monotonic() -> float:
            return 5.0

    monkeypatch.setattr(export, "time", Clock())
    log = Log()
    drive(ExportPlan(log_every_pages=1, log=log), Apollo(make_contacts(100)))
    assert log.messages[0] == (
        "Export progress: 100 contacts so far, page 1 of 1 of the search (100 contacts), 100000000000 records/s"
    )


def test_progress_is_logged_every_50_pages_by_default() -> None:
    log = Log()
    drive(ExportPlan(log=log), Apollo(make_contacts(5000)))
    assert [message.split(",")[:2] for message in log.messages] == [
        ["Export progress: 5000 contacts so far", " page 50 of 50 of the search (5"],
        ["Finished the search: 50 pages; 5000 contacts exported so far"],
    ]


def test_max_records_hands_out_at_most_that_many() -> None:
    apollo = Apollo(make_contacts(250))
    plan = ExportPlan(max_records=120, log=Log())
    assert [len(batch) for batch in drive(plan, apollo)] == [100, 20]
    assert apollo.calls == searched(CREATED, 1, 2)
    assert (plan.written, plan.pages_read, plan.done, plan.state()["page"]) == (120, 2, True, 3)


def test_max_records_holds_even_if_apollo_serves_more_than_a_page() -> None:
    apollo = Apollo(make_contacts(250), served={1: make_contacts(150)})
    plan = ExportPlan(max_records=120, log=Log())
    assert [len(batch) for batch in drive(plan, apollo)] == [120]
    assert plan.written == 120 and plan.pages_read == 1


def test_max_records_zero_reads_nothing() -> None:
    apollo = Apollo(make_contacts(5))
    plan = ExportPlan(max_records=0, log=Log())
    assert drive(plan, apollo) == []
    assert apollo.calls == []
    assert plan.done and plan.written == 0


def test_contacts_are_handed_out_once_and_ids_kept_as_strings() -> None:
    contacts = make_contacts(3)
    no_id = {"stage": "s-cold", "created_at": stamp(1), "updated_at": stamp(1), "name": "anonymous"}
    apollo = Apollo(
        contacts,
        served={1: [contacts[0], no_id, contacts[1]], 2: [contacts[1], contacts[2], no_id]},
        totals={None: 200},
    )
    plan = ExportPlan(log=Log(), seen_ids=["c2"])
    batches = drive(plan, apollo)
    assert flat(batches) == ["c0", None, "c1", None]
    assert plan.written == 4
    # The page as the search hands it out: c1, repeated from page 1, was dropped there.
    assert plan.state()["last_page_ids"] == ["c2"]


def test_a_resumed_read_rereads_one_page_and_hands_out_the_rest_once() -> None:
    first = ExportPlan(log=Log())
    batches = iter_steps(first.steps(), Apollo(make_contacts(450)).call)
    assert ids(next(batches)) == cids(0, 99)
    assert ids(next(batches)) == cids(100, 199)
    state = first.state()
    assert (state["page"], state["written"], state["pages_read"]) == (3, 200, 2)
    assert state["last_page_ids"] == cids(100, 199)
    apollo = Apollo(make_contacts(450))
    second = ExportPlan(cursor=state, log=Log())
    assert flat(drive(second, apollo)) == cids(200, 449)
    assert apollo.calls == searched(CREATED, 2, 3, 4, 5)
    assert (second.written, second.pages_read, second.done) == (450, 6, True)
    # From the second page, the page read again is the first.
    cursor = ExportCursor(state["fingerprint"], page=2, written=100, pages_read=1, last_page_ids=cids(0, 99))
    apollo = Apollo(make_contacts(150))
    plan = ExportPlan(cursor=cursor, max_records=130, log=Log())
    assert plan.state() == cursor.to_json()
    assert flat(drive(plan, apollo)) == cids(100, 129)
    # 30 more to hand out, read past the 100 of the page read again (handed out before).
    assert apollo.calls == searched(CREATED, 1, 2)


def test_a_quota_stop_among_concurrent_pages_leaves_the_cursor_after_the_pages_handed_out() -> None:
    apollo = Apollo(make_contacts(900), fail={4: ApolloRateLimitError("hourly quota", retry_after=600.0)})
    first = ExportPlan(concurrency=4, log=Log())
    handed: list[str] = []
    with pytest.raises(ApolloRateLimitError):
        for batch in drive_lazily(first, apollo):
            handed += ids(batch)
    # Pages 2 to 5 were asked for together: 2 and 3 were handed out, then page 4's error stopped it.
    assert handed == cids(0, 299)
    state = first.state()
    assert (state["page"], state["written"]) == (4, 300)
    rest = ExportPlan(concurrency=4, cursor=state, log=Log())
    handed += flat(drive(rest, Apollo(make_contacts(900))))
    assert handed == cids(0, 899)


def drive_lazily(plan: ExportPlan, apollo: Apollo) -> Any:
    return iter_steps(plan.steps(), apollo.call)


def test_pages_after_the_first_are_asked_for_concurrency_at_a_time() -> None:
    plan = ExportPlan(concurrency=3, log=Log())
    apollo = Apollo(make_contacts(650))
    steps = plan.steps()
    shapes: list[int] = []
    reply: Any = None
    while True:
        try:
            step = steps.send(reply)
        except StopIteration:
            break
        if isinstance(step, Emit):
            reply = None
        elif isinstance(step, Concurrently):
            shapes.append(len(step.requests))
            reply = [apollo.call(request) for request in step.requests]
        else:
            shapes.append(1)
            reply = apollo.call(step)
    assert shapes == [1, 3, 3]
    assert plan.written == 650 and plan.done


# --------------------------------------------------------------------------- bounds


def test_bounds_keep_since_and_skip_before_and_stop_at_since() -> None:
    apollo = Apollo(make_contacts(300))
    log = Log()
    plan = ExportPlan(updated_since=at(100), updated_before=stamp(250), log=log)
    batches = drive(plan, apollo)
    # Newest first: page 1 holds 299..200 (250 and later skipped); page 3 starts below since.
    assert [len(batch) for batch in batches] == [50, 100]
    assert flat(batches) == cids(249, 100)
    assert apollo.calls == searched(UPDATED, 1, 2, 3)
    assert (plan.written, plan.pages_read, plan.done, plan.state()["page"]) == (150, 3, True, 4)
    assert log.messages == ["Finished the search: 3 pages; 150 contacts exported so far"]


def test_one_bound_alone() -> None:
    plan = ExportPlan(updated_before=at(250), log=Log())
    assert flat(drive(plan, Apollo(make_contacts(300)))) == cids(249, 0)
    plan = ExportPlan(updated_since=at(100), log=Log())
    assert flat(drive(plan, Apollo(make_contacts(300)))) == cids(299, 100)


def test_contacts_without_a_readable_update_time_are_kept() -> None:
    contacts = make_contacts(5)
    contacts[1]["updated_at"] = None
    contacts[3]["updated_at"] = "garbage"
    # Sorted as Apollo pleases: the undated ones come first here and do not stop the read.
    apollo = Apollo(contacts, served={1: [contacts[3], contacts[4], contacts[1], contacts[2], contacts[0]]})
    plan = ExportPlan(updated_since=at(1), updated_before=at(4), log=Log())
    assert flat(drive(plan, apollo)) == ["c3", "c1", "c2"]


def test_bounded_limits_within_the_cap_from_the_resumed_page(monkeypatch: pytest.MonkeyPatch) -> None:
    fingerprint = export_fingerprint({}, at(0), None)
    pagers: list[tuple[int | None, int]] = []

    class RecordingPager(export.SearchPager):
        def __init__(
            self, filters: Any, *, per_page: int, max_records: int | None, start_page: int = 1
        ) -> None:
            pagers.append((max_records, start_page))
            super().__init__(filters, per_page=per_page, max_records=max_records, start_page=start_page)

    monkeypatch.setattr(export, "SearchPager", RecordingPager)

    def paging_from(page: int, **options: Any) -> tuple[tuple[int | None, int], list[int]]:
        pagers.clear()
        apollo = Apollo(make_contacts(3))
        cursor = ExportCursor(fingerprint, page=page, written=options.pop("written", 0))
        drive(ExportPlan(updated_since=at(0), cursor=cursor, log=Log(), **options), apollo)
        return pagers[0], apollo.pages()

    assert paging_from(5) == ((49_700, 4), [4])
    # Past Apollo's 500th page nothing is served: nothing is asked for.
    assert paging_from(502) == ((0, 501), [])
    assert paging_from(503) == ((0, 502), [])
    # Contacts past updated_before are skipped, not counted: the plan stops at max_records itself.
    assert paging_from(5, written=400, max_records=1000)[0] == (49_700, 4)
    assert paging_from(1, written=400, max_records=100_000)[0] == (CAP, 1)


# --------------------------------------------------------------------------- over the cap


def test_a_search_over_the_cap_is_read_one_stage_at_a_time() -> None:
    apollo = sliced_apollo()
    log = Log()
    plan = ExportPlan({"q_keywords": "x"}, log=log)
    batches = drive(plan, apollo)
    filters = {"q_keywords": "x", **CREATED}
    assert [len(batch) for batch in batches] == [100, 50, 100, 20]
    assert flat(batches) == cids(0, 149) + cids(1000, 1119, "r")
    assert apollo.calls == [
        *searched(filters, 1),
        ("stages",),
        count_call(stage(filters, "s-cold")),
        count_call(stage(filters, "s-replied")),
        count_call(stage(filters, "s-won")),
        *searched(stage(filters, "s-cold"), 1, 2),
        *searched(stage(filters, "s-replied"), 1, 2),
    ]
    assert log.messages == [
        "The search matches 60,000 contacts, more than Apollo's 50,000 per query: exporting it in 3 slices, "
        "one per contact stage",
        "Finished stage 'Cold': 2 pages; 150 contacts exported so far",
        "Finished stage 'Replied': 2 pages; 270 contacts exported so far",
    ]
    assert plan.state() == {
        "version": 1,
        "fingerprint": export_fingerprint({"q_keywords": "x"}, None, None),
        "slices": ["s-cold", "s-replied"],
        "slice_index": 2,
        "page": 1,
        "written": 270,
        "pages_read": 4,
        "last_page_ids": [],
        "total_entries": 60_000,
        "done": True,
    }


def test_the_stage_list_is_not_asked_for_when_the_hooks_lookups_know_it() -> None:
    lookups = TeamLookups()
    warm = Apollo()
    list(iter_steps(lookups.stages(), warm.call))
    apollo = sliced_apollo()
    assert len(flat(drive(ExportPlan(log=Log()), apollo, lookups))) == 270
    assert ("stages",) not in apollo.calls


def test_states_while_reading_slices_and_resuming_from_one() -> None:
    plan = ExportPlan(log=Log())
    batches = iter_steps(plan.steps(), sliced_apollo().call)
    next(batches)
    state = plan.state()
    assert (state["slices"], state["slice_index"], state["page"], state["done"]) == (
        ["s-cold", "s-replied"],
        0,
        2,
        False,
    )
    next(batches)
    next(batches)
    state = plan.state()
    assert (state["slice_index"], state["page"], state["written"]) == (1, 2, 250)
    assert state["last_page_ids"] == cids(1000, 1099, "r")
    apollo = sliced_apollo()
    rest = ExportPlan(cursor=state, log=Log())
    assert flat(drive(rest, apollo)) == cids(1100, 1119, "r")
    assert apollo.calls == [("stages",), *searched(stage(CREATED, "s-replied"), 1, 2)]
    assert rest.done and rest.written == 270


def test_max_records_stops_between_slices() -> None:
    fingerprint = export_fingerprint({}, None, None)
    cursor = ExportCursor(fingerprint, slices=["s-cold", "s-replied"], total_entries=60_000)
    apollo = sliced_apollo()
    plan = ExportPlan(max_records=150, cursor=cursor.to_json(), log=Log())
    assert flat(drive(plan, apollo)) == cids(0, 149)
    assert apollo.calls == [("stages",), *searched(stage(CREATED, "s-cold"), 1, 2)]
    state = plan.state()
    assert (state["slice_index"], state["page"], state["last_page_ids"], state["done"]) == (1, 1, [], True)
    apollo = sliced_apollo()
    plan = ExportPlan(max_records=200, cursor=cursor.to_json(), log=Log())
    assert flat(drive(plan, apollo)) == cids(0, 149) + cids(1000, 1049, "r")
    assert apollo.searches()[2:] == searched(stage(CREATED, "s-replied"), 1)


def test_max_records_within_the_cap_reads_the_first_contacts_without_slicing() -> None:
    apollo = sliced_apollo()
    plan = ExportPlan(max_records=150, log=Log())
    assert flat(drive(plan, apollo)) == cids(0, 149)
    assert apollo.calls == searched(CREATED, 1, 2)


def test_slices_keep_the_users_stage_filter() -> None:
    apollo = sliced_apollo(counts={"s-replied": 30_000, "s-won": 30_000}, totals={"s-won,s-replied": 60_000})
    drive(ExportPlan({"contact_stage_ids": ["s-won", "s-replied"]}, log=Log()), apollo)
    filters = {"contact_stage_ids": ["s-won", "s-replied"], **CREATED}
    assert [call for call in apollo.calls if call[0] == "count"] == [
        count_call(stage(filters, "s-replied")),
        count_call(stage(filters, "s-won")),
    ]
    apollo = sliced_apollo(counts={"s-replied": 60_000}, totals={"s-replied": 60_000})
    with pytest.raises(ApolloSearchCapError):
        drive(ExportPlan({"contact_stage_ids": "s-replied"}, log=Log()), apollo)
    assert [call[1]["contact_stage_ids"] for call in apollo.calls if call[0] == "count"] == [["s-replied"]]


def test_stage_names_are_resolved_once_before_any_search() -> None:
    apollo = sliced_apollo(counts={"s-cold": 60_000}, totals={"s-cold": 60_000, None: 60_000})
    with pytest.raises(ApolloSearchCapError):
        drive(ExportPlan({"contact_stages": ["cold"]}, log=Log()), apollo)
    filters = {"contact_stage_ids": ["s-cold"], **CREATED}
    assert apollo.calls == [("stages",), *searched(filters, 1), count_call(filters)]


def test_a_stage_over_the_cap_fails_naming_the_stages() -> None:
    apollo = sliced_apollo(
        counts={"s-cold": 55_000, "s-replied": 51_000, "s-won": 50_000}, totals={None: 156_000}
    )
    with pytest.raises(ApolloSearchCapError) as raised:
        drive(ExportPlan(log=Log()), apollo)
    assert str(raised.value) == (
        "The search matches 156,000 contacts, and even one contact stage at a time some slices "
        "exceed Apollo's 50,000-record cap: 'Cold' (55,000), 'Replied' (51,000). Nothing was uploaded. "
        "Narrow the search so each stage has at most 50,000 contacts: add contact_label_ids or "
        "q_keywords to `search`, or split the export into several tasks (one per label or "
        "keyword) writing to different keys."
    )
    assert (raised.value.total_entries, raised.value.cap) == (156_000, CAP)
    assert apollo.searches() == searched(CREATED, 1)


def test_slices_that_do_not_cover_the_search_fail() -> None:
    apollo = sliced_apollo(counts={"s-cold": 30_000, "s-replied": 29_000, "s-won": 0})
    with pytest.raises(ApolloSearchCapError) as raised:
        drive(ExportPlan(log=Log()), apollo)
    assert str(raised.value) == (
        "The search matches 60,000 contacts but its contact-stage slices cover only 59,000: 1,000 "
        "contacts have no stage or a stage not in GET /contact_stages, and slicing would miss them. "
        "Nothing was uploaded. Narrow the search below 50,000 contacts (contact_label_ids, q_keywords) "
        "or split it into several tasks."
    )
    assert (raised.value.total_entries, raised.value.cap) == (60_000, CAP)


def test_slices_counting_more_than_the_search_are_logged_and_read() -> None:
    log = Log()
    apollo = sliced_apollo(counts={"s-cold": 30_000, "s-replied": 30_001, "s-won": 0})
    assert len(flat(drive(ExportPlan(log=log), apollo))) == 270
    assert log.messages[1] == (
        "Stage slices count 60,001 contacts against 60,000 for the whole search: contacts were "
        "added while counting; they are exported too"
    )
    assert len(log.messages) == 4


def test_slice_by_stage_false_refuses_a_search_over_the_cap() -> None:
    apollo = sliced_apollo()
    with pytest.raises(ApolloSearchCapError) as raised:
        drive(ExportPlan(slice_by_stage=False, log=Log()), apollo)
    assert str(raised.value).startswith(
        "This search matches 60,000 contacts, more than the 50,000 Apollo returns"
    )
    assert str(raised.value).endswith(
        "ApolloSearchToS3Operator splits by contact stage for you. "
        "(slice_by_stage=False, so the export does not split it.)"
    )
    assert (raised.value.total_entries, raised.value.cap) == (60_000, CAP)
    assert apollo.calls == searched(CREATED, 1)


# --------------------------------------------------------------------------- bounds over the cap


def test_a_bound_beyond_the_cap_is_found_by_one_probe_and_sliced() -> None:
    probe_page = [{"id": "p", "updated_at": None}, {"id": "q", "updated_at": stamp(50)}]
    apollo = sliced_apollo(served={500: probe_page})
    plan = ExportPlan(updated_since=at(50), log=Log())
    batches = drive(plan, apollo)
    assert flat(batches) == cids(149, 50) + cids(1119, 1000, "r")
    assert apollo.calls == [
        *searched(UPDATED, 1, 500),
        ("stages",),
        count_call(stage(UPDATED, "s-cold")),
        count_call(stage(UPDATED, "s-replied")),
        count_call(stage(UPDATED, "s-won")),
        *searched(stage(UPDATED, "s-cold"), 1, 2),
        *searched(stage(UPDATED, "s-replied"), 1, 2),
    ]
    assert plan.state()["total_entries"] == 60_000


def test_a_bound_within_the_cap_is_read_without_slicing() -> None:
    for probe_page in ([{"id": "q", "updated_at": stamp(49)}], [{"id": "q"}]):
        apollo = sliced_apollo(served={500: probe_page})
        plan = ExportPlan(updated_since=at(50), log=Log())
        assert len(flat(drive(plan, apollo))) == 100 + 120
        assert apollo.calls == searched(UPDATED, 1, 500, 2, 3)
    # No page at all where the probe looks: the bound is taken as within reach.
    apollo = sliced_apollo(served={500: []})
    assert len(flat(drive(ExportPlan(updated_since=at(50), log=Log()), apollo))) == 220


def test_the_probe_asks_for_the_last_page_apollo_serves() -> None:
    apollo = sliced_apollo(served={500: [{"id": "q", "updated_at": stamp(49)}]})
    requests: list[ApiRequest] = []

    def call(request: ApiRequest) -> Any:
        requests.append(request)
        return apollo.call(request)

    list(iter_steps(ExportPlan(updated_since=at(50), log=Log()).steps(), call))
    assert requests[1].json_body == {**UPDATED, "page": 500, "per_page": 100}
    assert requests[1].path == PATH_SEARCH and requests[1].method == "POST"


def test_no_probe_for_a_search_within_the_cap_or_a_deliberate_partial_read() -> None:
    apollo = sliced_apollo(totals={None: CAP})
    drive(ExportPlan(updated_since=at(50), log=Log()), apollo)
    assert 500 not in apollo.pages()
    for max_records, exported in ((200, 200), (CAP, 220)):
        apollo = sliced_apollo(served={500: [{"id": "q", "updated_at": stamp(60)}]})
        plan = ExportPlan(updated_since=at(50), max_records=max_records, log=Log())
        assert len(flat(drive(plan, apollo))) == exported
        assert 500 not in apollo.pages()
    apollo = sliced_apollo(served={500: [{"id": "q", "updated_at": stamp(60)}]})
    drive(ExportPlan(updated_since=at(50), max_records=CAP + 1, log=Log()), apollo)
    assert apollo.pages()[:2] == [1, 500]


def test_a_bound_that_turns_out_unreached_is_sliced_without_repeats() -> None:
    # The probe says the bound is within reach, but every page served is newer than it.
    apollo = sliced_apollo(served={500: [{"id": "q", "updated_at": stamp(-10)}]})
    log = Log()
    plan = ExportPlan(updated_since=at(-5), log=log)
    batches = drive(plan, apollo)
    exported = flat(batches)
    assert len(exported) == len(set(exported)) == 270
    assert [len(batch) for batch in batches] == [100, 100, 70]
    searches = apollo.searches()
    # The whole search to its empty fourth page, then each stage.
    assert searches[:5] == searched(UPDATED, 1, 500, 2, 3, 4)
    assert searches[5:] == searched(stage(UPDATED, "s-cold"), 1, 2) + searched(
        stage(UPDATED, "s-replied"), 1, 2
    )
    state = plan.state()
    assert (state["slice_index"], state["page"], state["pages_read"], state["written"]) == (2, 1, 8, 270)
    assert log.messages == [
        "The search matches 60,000 contacts, more than Apollo's 50,000 per query: exporting it in 3 slices, "
        "one per contact stage",
        "Finished stage 'Cold': 2 pages; 270 contacts exported so far",
        "Finished stage 'Replied': 2 pages; 270 contacts exported so far",
    ]


def test_a_bound_beyond_the_cap_without_slicing_fails() -> None:
    apollo = sliced_apollo(served={500: [{"id": "q", "updated_at": stamp(60)}]})
    with pytest.raises(ApolloSearchCapError) as raised:
        drive(ExportPlan(updated_since=at(50), slice_by_stage=False, log=Log()), apollo)
    assert str(raised.value) == (
        "Incremental export: the search matches 60,000 contacts and the 50,000 most recently updated do "
        "not reach updated_since=2024-05-01T00:50:00+00:00, so Apollo's per-query cap hides the rest. "
        "Nothing was uploaded. Run the export more often, or narrow the search (contact_stage_ids, "
        "contact_label_ids, q_keywords) or split it into several tasks. slice_by_stage=True would split "
        "it by contact stage."
    )
    assert (raised.value.total_entries, raised.value.cap) == (60_000, CAP)
    # Only updated_before: nothing stops the read early, so it splits at once, without a probe.
    apollo = sliced_apollo()
    with pytest.raises(ApolloSearchCapError) as raised:
        drive(ExportPlan(updated_before=at(60), slice_by_stage=False, log=Log()), apollo)
    assert str(raised.value).startswith(
        "Incremental export: the search matches 60,000 contacts and the 50,000 most recently updated do "
        "not reach updated_since=None (updated_before=2024-05-01T01:00:00+00:00), so Apollo's"
    )
    assert apollo.searches() == searched(UPDATED, 1)


def test_only_updated_before_over_the_cap_slices_at_once() -> None:
    apollo = sliced_apollo()
    plan = ExportPlan(updated_before=at(100), log=Log())
    assert flat(drive(plan, apollo)) == cids(99, 0)
    read = [call[1].get("contact_stage_ids") for call in apollo.searches()]
    assert [
        stage_ids for index, stage_ids in enumerate(read) if index == 0 or read[index - 1] != stage_ids
    ] == [
        None,
        ["s-cold"],
        ["s-replied"],
    ]


def test_a_stage_beyond_the_cap_names_the_stage() -> None:
    apollo = sliced_apollo(
        served={500: [{"id": "q", "updated_at": stamp(60)}]}, totals={None: 60_000, "s-cold": 55_000}
    )
    with pytest.raises(ApolloSearchCapError) as raised:
        drive(ExportPlan(updated_since=at(50), updated_before=at(70), log=Log()), apollo)
    assert str(raised.value) == (
        "Incremental export: stage 'Cold' matches 55,000 contacts and the 50,000 most recently updated do "
        "not reach updated_since=2024-05-01T00:50:00+00:00 (updated_before=2024-05-01T01:10:00+00:00), so "
        "Apollo's per-query cap hides the rest. Nothing was uploaded. Run the export more often, or narrow "
        "the search (contact_stage_ids, contact_label_ids, q_keywords) or split it into several tasks."
    )
    assert (raised.value.total_entries, raised.value.cap) == (55_000, CAP)


def test_a_resumed_bounded_read_over_the_cap_is_not_probed_again() -> None:
    fingerprint = export_fingerprint({}, at(-5), None)
    cursor = ExportCursor(fingerprint, page=2, written=100, pages_read=1)
    apollo = sliced_apollo(served={500: [{"id": "q", "updated_at": stamp(60)}]})
    with pytest.raises(ApolloSearchCapError, match="^Incremental export: the search matches 60,000"):
        drive(ExportPlan(updated_since=at(-5), slice_by_stage=False, cursor=cursor, log=Log()), apollo)
    assert 500 not in apollo.pages()


def test_a_bounded_read_that_reaches_max_records_over_the_cap_is_not_an_error() -> None:
    apollo = Apollo(make_contacts(300), totals={None: 60_000})
    plan = ExportPlan(updated_before=at(400), max_records=150, slice_by_stage=False, log=Log())
    assert flat(drive(plan, apollo)) == cids(299, 150)


def test_a_later_slice_over_the_cap_within_max_records_is_not_probed() -> None:
    # 200 contacts already written: the rest of max_records (49,900) is within the cap, a partial read.
    fingerprint = export_fingerprint({}, at(50), None)
    cursor = ExportCursor(fingerprint, slices=["s-cold"], written=200, total_entries=60_000)
    apollo = sliced_apollo(served={500: [{"id": "q", "updated_at": stamp(60)}]}, totals={"s-cold": 55_000})
    plan = ExportPlan(updated_since=at(50), max_records=CAP + 100, cursor=cursor, log=Log())
    assert flat(drive(plan, apollo)) == cids(149, 50)
    assert apollo.searches() == searched(stage(UPDATED, "s-cold"), 1, 2)


def test_a_bounded_search_of_exactly_the_cap_read_to_the_end_is_complete() -> None:
    apollo = Apollo(make_contacts(250), totals={None: CAP})
    plan = ExportPlan(updated_since=at(-5), slice_by_stage=False, log=Log())
    assert flat(drive(plan, apollo)) == cids(249, 0)
    assert 500 not in apollo.pages() and plan.done


# --------------------------------------------------------------------------- the total, told once up front


def test_on_total_is_told_the_total_before_the_first_page_is_handed_out() -> None:
    apollo = Apollo(make_contacts(250))
    told: list[tuple[int, list[int]]] = []
    plan = ExportPlan(on_total=lambda total: told.append((total, apollo.pages())))
    batches = drive_lazily(plan, apollo)
    next(batches)
    # Told once the first page arrived, before that page was handed out or another was asked for.
    assert told == [(250, [1])]
    assert ids(next(batches) + next(batches))[-1] == "c249"
    assert told == [(250, [1])]


def test_on_total_raising_stops_the_export_on_its_first_page() -> None:
    apollo = Apollo(make_contacts(1000))

    def refuse(total: int) -> None:
        raise ApolloArgumentError(f"{total} is too many")

    with pytest.raises(ApolloArgumentError, match="1000 is too many"):
        drive(ExportPlan(on_total=refuse, concurrency=4), apollo)
    assert apollo.pages() == [1]


def test_on_total_is_told_at_most_max_records() -> None:
    told: list[int] = []
    plan = ExportPlan(max_records=150, on_total=told.append)
    assert len(flat(drive(plan, Apollo(make_contacts(1000))))) == 150
    assert told == [150]


def test_on_total_is_not_told_for_a_bounded_or_resumed_export() -> None:
    told: list[int] = []
    contacts = [{"id": f"c{i}"} for i in range(250)]
    # Bounded: the total counts contacts outside the bounds (these contacts have no update time).
    drive(ExportPlan(updated_since="2024-01-01", on_total=told.append), Apollo(contacts))
    first = ExportPlan()
    next(drive_lazily(first, Apollo(contacts)))
    drive(ExportPlan(cursor=first.state(), on_total=told.append), Apollo(contacts))
    assert told == []


def test_on_total_hears_a_total_above_the_cap_before_slicing() -> None:
    apollo = sliced_apollo()
    told: list[tuple[int, int]] = []

    def on_total(total: int) -> None:
        told.append((total, len(apollo.calls)))
        raise ApolloArgumentError("stop")

    with pytest.raises(ApolloArgumentError, match="stop"):
        drive(ExportPlan(on_total=on_total, concurrency=4), apollo)
    # One search page: no stage list, no per-stage counts before the caller could refuse.
    assert told == [(60_000, 1)]
    assert apollo.calls == searched(CREATED, 1)


# --------------------------------------------------------------------------- through the hook, against the emulator


def updated_at(contact: dict[str, Any]) -> datetime.datetime:
    return datetime.datetime.fromisoformat(contact["updated_at"].replace("Z", "+00:00"))


def exported(plan: ExportPlan, hook: ApolloHook | None = None) -> list[list[dict[str, Any]]]:
    return list((hook or ApolloHook()).export_contacts(plan))


def test_the_hook_drives_the_plan(apollo_connection: ApolloEmulator) -> None:
    apollo_connection.seed_contacts(250)
    plan = ExportPlan({"q_keywords": ""}, max_records=120)
    batches = exported(plan)
    assert [len(batch) for batch in batches] == [100, 20]
    assert flat(batches) == list(apollo_connection.contacts)[:120]
    assert plan.done and plan.written == 120 and plan.pages_read == 2


def test_state_is_small_json_without_id_lists(apollo_connection: ApolloEmulator) -> None:
    apollo_connection.seed_contacts(2500)
    plan = ExportPlan()
    for _ in ApolloHook().export_contacts(plan):
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
    assert exported(ExportPlan(cursor=state)) == []
    assert apollo_connection.request_count() == before


@pytest.mark.parametrize("concurrency", [1, 4])
def test_a_plan_resumed_from_its_state_hands_out_the_rest_once(
    apollo_connection: ApolloEmulator, concurrency: int
) -> None:
    apollo_connection.seed_contacts(1000)
    first = ExportPlan(concurrency=concurrency)
    batches = []
    for batch in ApolloHook().export_contacts(first):
        batches.append(batch)
        if len(batches) == 4:
            break
    state = first.state()
    assert state["page"] == 5 and state["written"] == 400
    searches = apollo_connection.request_count("/contacts/search")
    # A new hook and plan, as after a deferral: only the state crosses over.
    second = ExportPlan(concurrency=concurrency, cursor=json.loads(json.dumps(state)))
    batches.extend(exported(second))
    assert flat(batches) == list(apollo_connection.contacts)
    assert second.written == 1000 and second.done
    # The rest of the pages, plus the last page read before the stop, read again on purpose.
    assert apollo_connection.request_count("/contacts/search") - searches == 6 + 1


def test_a_resumed_interval_export_keeps_its_bounds(apollo_connection: ApolloEmulator) -> None:
    apollo_connection.seed_contacts(2000)
    contacts = apollo_connection.contacts
    times = sorted(updated_at(contact) for contact in contacts.values())
    start, end = times[500], times[1500]
    bounds = {"updated_since": start, "updated_before": end.isoformat()}
    first = ExportPlan(**bounds)
    batches = [next(ApolloHook().export_contacts(first))]
    batches.extend(exported(ExportPlan(**bounds, cursor=first.state())))
    ids_exported = flat(batches)
    assert len(ids_exported) == len(set(ids_exported)) == 1000
    assert set(ids_exported) == {i for i, c in contacts.items() if start <= updated_at(c) < end}


def test_a_cursor_from_another_export_is_refused_before_any_request(
    apollo_connection: ApolloEmulator,
) -> None:
    apollo_connection.seed_contacts(300)
    plan = ExportPlan({"q_keywords": "engineer"})
    next(ApolloHook().export_contacts(plan))
    before = apollo_connection.request_count()
    with pytest.raises(ApolloArgumentError, match="belongs to another export"):
        ExportPlan({"q_keywords": "manager"}, cursor=plan.state())
    with pytest.raises(ApolloArgumentError, match="belongs to another export"):
        ExportPlan({"q_keywords": "engineer"}, updated_since="2024-01-01", cursor=plan.state())
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
        ExportPlan(updated_since="2024-05-01T10:00:00Z", updated_before="2024-05-01T10:00:00Z")
    with pytest.raises(ApolloArgumentError, match="updated_before must be an ISO 8601"):
        ExportPlan(updated_before=12)
    assert apollo_connection.request_count() == 0


def test_progress_goes_to_the_given_log(apollo_connection: ApolloEmulator) -> None:
    apollo_connection.seed_contacts(300)
    log = Log()
    exported(ExportPlan(log_every_pages=1, log=log))
    progress = [message for message in log.messages if message.startswith("Export progress")]
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
    plan = ExportPlan(updated_since=start, updated_before=end, concurrency=4)
    ids_exported = flat(exported(plan))
    expected = {i for i, c in contacts.items() if start <= updated_at(c) < end}
    assert len(ids_exported) == len(set(ids_exported)) == len(expected) == 500
    assert set(ids_exported) == expected
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


@pytest.mark.slow
def test_stage_names_over_the_cap_are_resolved_once_and_sliced(apollo_connection: ApolloEmulator) -> None:
    cold = set(apollo_connection.seed_contacts(SEARCH_RESULT_CAP, stage="Cold"))
    replied = set(apollo_connection.seed_contacts(700, stage="Replied"))
    apollo_connection.seed_contacts(400, stage="Interested")
    plan = ExportPlan({"contact_stages": ["cold", "Replied"]}, concurrency=4)
    ids_exported = flat(exported(plan))
    assert len(ids_exported) == len(set(ids_exported)) == 50_700
    assert set(ids_exported) == cold | replied
    assert apollo_connection.request_count("/contact_stages") == 1


def test_a_resumed_export_with_max_records_hands_out_max_records(apollo_connection: ApolloEmulator) -> None:
    """The page read again on resume was handed out before: it must not use up max_records."""
    apollo_connection.seed_contacts(300)
    first = ExportPlan(max_records=150)
    ids_exported = [contact["id"] for contact in next(ApolloHook().export_contacts(first))]
    second = ExportPlan(max_records=150, cursor=first.state())
    ids_exported += flat(exported(second))
    assert len(ids_exported) == len(set(ids_exported)) == 150
    assert (second.written, second.done) == (150, True)


def test_contacts_past_updated_before_do_not_use_up_max_records(apollo_connection: ApolloEmulator) -> None:
    """Newest first: the 51 contacts at or after updated_before are read and skipped, not counted."""
    apollo_connection.seed_contacts(300)
    times = sorted(updated_at(contact) for contact in apollo_connection.contacts.values())
    before = times[-51]
    plan = ExportPlan(updated_before=before, max_records=120)
    contacts = [contact for batch in exported(plan) for contact in batch]
    assert len(contacts) == len({contact["id"] for contact in contacts}) == 120
    assert all(updated_at(contact) < before for contact in contacts)
    assert plan.done


def test_on_total_through_the_hook_comes_before_the_stage_list(apollo_connection: ApolloEmulator) -> None:
    apollo_connection.seed_contacts(SEARCH_RESULT_CAP + 10)
    told: list[tuple[int, int]] = []

    def on_total(total: int) -> None:
        told.append((total, apollo_connection.request_count()))
        raise ApolloArgumentError("stop")

    with pytest.raises(ApolloArgumentError, match="stop"):
        exported(ExportPlan(on_total=on_total, concurrency=4))
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
