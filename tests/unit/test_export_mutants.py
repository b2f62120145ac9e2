"""The export plan (core/export.py) against a scripted source: behaviours mutation testing found unguarded."""

from __future__ import annotations

import datetime
import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from airflow_provider_apollo.core import export
from airflow_provider_apollo.core.export import (
    ExportCursor,
    ExportPlan,
    export_fingerprint,
    parse_time_bound,
    parse_timestamp,
)
from airflow_provider_apollo.exceptions import ApolloArgumentError, ApolloSearchCapError

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
WHOLE = {"per_page": 100, "max_records": None, "concurrency": 1}
BOUNDED = {"per_page": 100, "max_records": CAP, "concurrency": 1}
PROBE = {"per_page": 100, "max_records": 100, "start_page": 500}


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


@dataclass
class Page:
    page: int
    total_pages: int
    total_entries: int
    contacts: list[dict[str, Any]]


class Pages:
    """What the hook's ``search_contact_pages`` returns: an iterator of pages that can be closed."""

    def __init__(self, source: Source, pages: Iterator[Page]) -> None:
        self.source = source
        self.pages = pages

    def __iter__(self) -> Pages:
        return self

    def __next__(self) -> Page:
        return next(self.pages)

    def close(self) -> None:
        self.source.closed += 1


class NoClose:
    """Pages from a source that cannot cancel anything: no ``close``."""

    def __init__(self, pages: Iterator[Page]) -> None:
        self.pages = pages

    def __iter__(self) -> NoClose:
        return self

    def __next__(self) -> Page:
        return next(self.pages)


class Source:
    """
    A scripted Apollo behind the hook's paging methods, recording every call.

    :param totals: the total a search reports, by ``contact_stage_ids`` (joined) or None for no stage filter.
    :param counts: what ``count_contacts`` answers, by stage id.
    :param served: the contacts served for a page number instead of the matching ones (the probe).
    :param honour_max_records: stop at ``max_records`` like the hook does.
    """

    def __init__(
        self,
        contacts: list[dict[str, Any]] = (),  # type: ignore[assignment]
        *,
        stages: list[dict[str, Any]] = STAGES,
        totals: dict[str | None, int] | None = None,
        counts: dict[str, int] | None = None,
        served: dict[int, list[dict[str, Any]]] | None = None,
        honour_max_records: bool = True,
        closable: bool = True,
    ) -> None:
        self.contacts = list(contacts)
        self.stages = stages
        self.totals = totals or {}
        self.counts = counts or {}
        self.served = served or {}
        self.honour_max_records = honour_max_records
        self.closable = closable
        self.calls: list[tuple[Any, ...]] = []
        self.closed = 0

    def list_contact_stages(self) -> list[dict[str, Any]]:
        self.calls.append(("stages",))
        return [dict(stage) for stage in self.stages]

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

    def count_contacts(self, filters: dict[str, Any] | None = None) -> int:
        filters = dict(filters or {})
        self.calls.append(("count", filters))
        key = self._key(filters)
        return self.counts[key] if key in self.counts else len(self._matching(filters))

    def search_contact_pages(self, filters: dict[str, Any] | None = None, **paging: Any) -> Any:
        filters = dict(filters or {})
        self.calls.append(("search", filters, dict(paging)))
        assert len(self.searches()) <= 20, "the plan keeps searching"
        per_page = paging.get("per_page", 100)
        limit = paging.get("max_records")
        max_records = limit if self.honour_max_records else None
        found = self._matching(filters)
        total = self.totals.get(self._key(filters), len(found))

        def pages() -> Iterator[Page]:
            if total > CAP and (limit is None or limit > CAP):
                raise ApolloSearchCapError(
                    f"This search matches {total:,} contacts.", total_entries=total, cap=CAP
                )
            emitted = 0
            total_pages = max(1, math.ceil(total / per_page))
            number = paging.get("start_page", 1)
            while number <= total_pages and (max_records is None or emitted < max_records):
                chunk = self.served.get(number, found[(number - 1) * per_page : number * per_page])
                if not chunk:
                    break
                if max_records is not None:
                    chunk = chunk[: max_records - emitted]
                emitted += len(chunk)
                yield Page(number, total_pages, total, [dict(contact) for contact in chunk])
                number += 1

        return Pages(self, pages()) if self.closable else NoClose(pages())

    def searches(self) -> list[tuple[Any, ...]]:
        return [call for call in self.calls if call[0] == "search"]


class Log:
    def __init__(self) -> None:
        self.messages: list[str] = []

    def info(self, message: str, *args: Any) -> None:
        self.messages.append(message % args)


def search_call(filters: dict[str, Any], paging: dict[str, Any]) -> tuple[Any, ...]:
    return ("search", filters, paging)


def count_call(filters: dict[str, Any]) -> tuple[Any, ...]:
    return ("count", filters)


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


# --------------------------------------------------------------------------- arguments


def test_plan_arguments_are_checked_with_messages() -> None:
    source = Source()
    with pytest.raises(ApolloArgumentError) as raised:
        ExportPlan(source, ["q"])  # type: ignore[arg-type]
    assert str(raised.value) == "search must be a dict of Apollo search filters or None, got ['q']."
    for bad in (True, -1, "5", 1.5):
        with pytest.raises(ApolloArgumentError) as raised:
            ExportPlan(source, max_records=bad)
        assert str(raised.value) == f"max_records must be a non-negative integer or None, got {bad!r}."
    for bad in (0, 1_000_001, True):
        with pytest.raises(ApolloArgumentError) as raised:
            ExportPlan(source, log_every_pages=bad)
        assert str(raised.value) == f"log_every_pages must be an integer from 1 to 1000000, got {bad!r}."
    ExportPlan(source, log_every_pages=1_000_000)
    ExportPlan(source, log_every_pages=1)
    for since, before in (
        ("2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z"),
        ("2024-05-01T11:00:00Z", "2024-05-01T10:00:00Z"),
    ):
        with pytest.raises(ApolloArgumentError) as raised:
            ExportPlan(source, updated_since=since, updated_before=before)
        assert str(raised.value) == (
            f"updated_before must be later than updated_since: got updated_since={since[:-1]}+00:00, "
            f"updated_before={before[:-1]}+00:00."
        )
    with pytest.raises(
        ApolloArgumentError, match=r"^updated_since must be .*'\{\{ data_interval_start \}\}'"
    ):
        ExportPlan(source, updated_since="soon")
    with pytest.raises(ApolloArgumentError, match=r"^updated_before must be .*'\{\{ data_interval_end \}\}'"):
        ExportPlan(source, updated_before="soon")
    ExportPlan(source, updated_since=at(0), updated_before=at(0) + datetime.timedelta(microseconds=1))
    assert source.calls == []


@pytest.mark.parametrize("search", [None, ""])
def test_no_search_reads_every_contact_oldest_first(search: Any) -> None:
    source = Source(make_contacts(3))
    plan = ExportPlan(source, search, log=Log())
    assert flat(list(plan)) == cids(0, 2)
    assert source.calls == [search_call(CREATED, WHOLE)]
    assert plan.state()["fingerprint"] == "615342f3578d959d"


def test_the_callers_search_is_left_alone_and_a_given_sort_kept() -> None:
    search = {"q_keywords": "x", "sort_by_field": "last_name"}
    source = Source(make_contacts(3))
    plan = ExportPlan(source, search, concurrency=3, log=Log())
    list(plan)
    assert search == {"q_keywords": "x", "sort_by_field": "last_name"}
    assert source.calls == [search_call(search, {**WHOLE, "concurrency": 3})]
    # sort_ascending alone does not keep the user's order: it comes with the creation-time sort.
    source = Source(make_contacts(3))
    list(ExportPlan(source, {"sort_ascending": False}, log=Log()))
    assert source.calls == [search_call(CREATED, WHOLE)]


def test_bounds_sort_newest_updated_first_and_refuse_another_sort() -> None:
    for search in ({}, {"sort_by_field": "contact_updated_at"}, {"sort_ascending": False}):
        source = Source(make_contacts(3))
        list(ExportPlan(source, search, updated_before=at(100), log=Log()))
        assert source.calls == [search_call(UPDATED, BOUNDED)]
    for search, sort, ascending in (
        ({"sort_by_field": "contact_created_at"}, "'contact_created_at'", "None"),
        ({"sort_ascending": True}, "None", "True"),
        ({"sort_by_field": "contact_updated_at", "sort_ascending": True}, "'contact_updated_at'", "True"),
    ):
        with pytest.raises(ApolloArgumentError) as raised:
            ExportPlan(Source(), search, updated_since=at(0))
        assert str(raised.value) == (
            "updated_since and updated_before read contacts newest-updated first, so search must not "
            "set sort_by_field (other than 'contact_updated_at') or sort_ascending=True; "
            f"got sort_by_field={sort}, sort_ascending={ascending}."
        )


def test_a_cursor_of_another_export_is_refused() -> None:
    cursor = ExportPlan(Source(), {"q_keywords": "a"}).state()
    with pytest.raises(ApolloArgumentError) as raised:
        ExportPlan(Source(), {"q_keywords": "b"}, cursor=cursor)
    assert str(raised.value) == (
        "the export cursor belongs to another export (different search or bounds); "
        "start without a cursor, or resume with the arguments it was saved under."
    )
    with pytest.raises(ApolloArgumentError, match="^the export cursor belongs to another export"):
        ExportPlan(Source(), {"q_keywords": "a"}, updated_since=at(0), cursor=cursor)
    bounded = ExportPlan(Source(), updated_before=at(10)).state()
    assert bounded["fingerprint"] == export_fingerprint({}, None, at(10))
    with pytest.raises(ApolloArgumentError, match="^the export cursor belongs to another export"):
        ExportPlan(Source(), updated_before=at(20), cursor=bounded)
    with pytest.raises(ApolloArgumentError, match="^an export cursor must be a dict"):
        ExportPlan(Source(), {"q_keywords": "a"}, cursor={"fingerprint": cursor["fingerprint"]})


def test_a_plan_is_iterated_once() -> None:
    plan = ExportPlan(Source(make_contacts(3)), log=Log())
    assert flat(list(plan)) == cids(0, 2)
    with pytest.raises(RuntimeError) as raised:
        iter(plan)
    assert str(raised.value) == "an ExportPlan is iterated once; build a new one from its state() to resume."


# --------------------------------------------------------------------------- reading one search


def test_a_whole_search_is_read_page_by_page_and_logged() -> None:
    source = Source(make_contacts(250))
    log = Log()
    plan = ExportPlan(source, {"q_keywords": "x"}, log=log)
    assert (plan.written, plan.pages_read, plan.done) == (0, 0, False)
    batches = list(plan)
    assert [len(batch) for batch in batches] == [100, 100, 50]
    assert flat(batches) == cids(0, 249)
    assert source.calls == [search_call({"q_keywords": "x", **CREATED}, WHOLE)]
    assert source.closed == 1
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
    again = Source(make_contacts(250))
    assert list(ExportPlan(again, {"q_keywords": "x"}, cursor=state)) == []
    assert again.calls == []


def test_the_default_log_is_this_modules_logger(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="airflow_provider_apollo.core.export")
    list(ExportPlan(Source(make_contacts(3))))
    assert [(record.name, record.getMessage()) for record in caplog.records] == [
        ("airflow_provider_apollo.core.export", "Finished the search: 1 pages; 3 contacts exported so far")
    ]


def test_an_empty_search_is_done_without_logging() -> None:
    log = Log()
    plan = ExportPlan(Source(), log=log)
    assert list(plan) == []
    assert plan.done and plan.state()["page"] == 1
    assert log.messages == []


def test_a_source_without_close_is_read() -> None:
    source = Source(make_contacts(150), closable=False)
    assert flat(list(ExportPlan(source, log=Log()))) == cids(0, 149)


def test_progress_is_logged_every_n_pages_with_the_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    class Clock:
        def __init__(self) -> None:
            self.now = 100.0

        def monotonic(self) -> float:
            self.now += 1.0
            return self.now

    monkeypatch.setattr(export, "time", Clock())
    log = Log()
    list(ExportPlan(Source(make_contacts(1200)), log_every_pages=5, log=log))
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
    list(ExportPlan(Source(make_contacts(100)), log_every_pages=1, log=log))
    assert log.messages[0] == (
        "Export progress: 100 contacts so far, page 1 of 1 of the search (100 contacts), 100000000000 records/s"
    )


def test_max_records_hands_out_at_most_that_many() -> None:
    source = Source(make_contacts(250))
    plan = ExportPlan(source, max_records=120, log=Log())
    assert [len(batch) for batch in plan] == [100, 20]
    assert source.calls == [search_call(CREATED, {**WHOLE, "max_records": 120})]
    assert (plan.written, plan.pages_read, plan.done, plan.state()["page"]) == (120, 2, True, 3)


def test_max_records_holds_even_if_the_source_serves_more() -> None:
    source = Source(make_contacts(250), honour_max_records=False)
    plan = ExportPlan(source, max_records=120, log=Log())
    assert [len(batch) for batch in plan] == [100, 20]
    assert plan.written == 120 and plan.pages_read == 2
    source = Source(make_contacts(250), honour_max_records=False)
    plan = ExportPlan(source, max_records=0, log=Log())
    assert list(plan) == [] and plan.written == 0 and plan.done


def test_max_records_zero_reads_nothing() -> None:
    source = Source(make_contacts(5))
    plan = ExportPlan(source, max_records=0, log=Log())
    assert list(plan) == []
    assert source.calls == [search_call(CREATED, {**WHOLE, "max_records": 0})]
    assert plan.done


def test_contacts_are_handed_out_once_and_ids_kept_as_strings() -> None:
    contacts = make_contacts(3)
    no_id = {"stage": "s-cold", "created_at": stamp(1), "updated_at": stamp(1), "name": "anonymous"}
    source = Source(
        contacts,
        served={1: [contacts[0], no_id, contacts[1]], 2: [contacts[1], contacts[2], no_id]},
        totals={None: 200},
    )
    plan = ExportPlan(source, log=Log(), seen_ids=["c2"])
    batches = list(plan)
    assert flat(batches) == ["c0", None, "c1", None]
    assert plan.written == 4
    assert plan.state()["last_page_ids"] == ["c1", "c2"]


def test_a_resumed_read_rereads_one_page_and_hands_out_the_rest_once() -> None:
    first_source = Source(make_contacts(450))
    first = ExportPlan(first_source, log=Log())
    iterator = iter(first)
    assert ids(next(iterator)) == cids(0, 99)
    assert ids(next(iterator)) == cids(100, 199)
    state = first.state()
    assert (state["page"], state["written"], state["pages_read"]) == (3, 200, 2)
    assert state["last_page_ids"] == cids(100, 199)
    source = Source(make_contacts(450))
    second = ExportPlan(source, cursor=state, log=Log())
    batches = list(second)
    assert flat(batches) == cids(200, 449)
    assert source.calls == [search_call(CREATED, {**WHOLE, "start_page": 2})]
    assert (second.written, second.pages_read, second.done) == (450, 6, True)
    # From the second page, the re-read first page needs no start_page.
    cursor = ExportCursor(state["fingerprint"], page=2, written=100, pages_read=1, last_page_ids=cids(0, 99))
    source = Source(make_contacts(150))
    plan = ExportPlan(source, cursor=cursor, max_records=130, log=Log())
    assert plan.state() == cursor.to_json()
    list(plan)
    # 30 more to hand out, read past the 100 of the page read again (handed out before).
    assert source.calls == [search_call(CREATED, {**WHOLE, "max_records": 130})]


# --------------------------------------------------------------------------- bounds


def test_bounds_keep_since_and_skip_before_and_stop_at_since() -> None:
    source = Source(make_contacts(300))
    log = Log()
    plan = ExportPlan(source, updated_since=at(100), updated_before=stamp(250), log=log)
    batches = list(plan)
    # Newest first: page 1 holds 299..200 (250 and later skipped); page 3 starts below since.
    assert [len(batch) for batch in batches] == [50, 100]
    assert flat(batches) == cids(249, 100)
    assert source.calls == [search_call(UPDATED, BOUNDED)]
    assert (plan.written, plan.pages_read, plan.done, plan.state()["page"]) == (150, 3, True, 4)
    assert log.messages == ["Finished the search: 3 pages; 150 contacts exported so far"]


def test_one_bound_alone() -> None:
    plan = ExportPlan(Source(make_contacts(300)), updated_before=at(250), log=Log())
    assert flat(list(plan)) == cids(249, 0)
    plan = ExportPlan(Source(make_contacts(300)), updated_since=at(100), log=Log())
    assert flat(list(plan)) == cids(299, 100)


def test_contacts_without_a_readable_update_time_are_kept() -> None:
    contacts = make_contacts(5)
    contacts[1]["updated_at"] = None
    contacts[3]["updated_at"] = "garbage"
    # Sorted as the source pleases: the undated ones come first here and do not stop the read.
    source = Source(contacts, served={1: [contacts[3], contacts[4], contacts[1], contacts[2], contacts[0]]})
    plan = ExportPlan(source, updated_since=at(1), updated_before=at(4), log=Log())
    assert flat(list(plan)) == ["c3", "c1", "c2"]


def test_bounded_limits_within_the_cap_from_the_resumed_page() -> None:
    fingerprint = export_fingerprint({}, at(0), None)

    def paging_from(page: int) -> dict[str, Any]:
        source = Source(make_contacts(3))
        list(ExportPlan(source, updated_since=at(0), cursor=ExportCursor(fingerprint, page=page), log=Log()))
        return source.searches()[0][2]

    assert paging_from(5) == {**BOUNDED, "max_records": 49_700, "start_page": 4}
    assert paging_from(502) == {**BOUNDED, "max_records": 0, "start_page": 501}
    assert paging_from(503) == {**BOUNDED, "max_records": 0, "start_page": 502}
    source = Source(make_contacts(3))
    cursor = ExportCursor(fingerprint, page=5, written=400)
    list(ExportPlan(source, updated_since=at(0), max_records=1000, cursor=cursor, log=Log()))
    # Contacts past updated_before are skipped, not counted: the plan stops at max_records itself.
    assert source.searches()[0][2] == {**BOUNDED, "max_records": 49_700, "start_page": 4}
    source = Source(make_contacts(3))
    cursor = ExportCursor(fingerprint, page=1, written=400)
    list(ExportPlan(source, updated_since=at(0), max_records=100_000, cursor=cursor, log=Log()))
    assert source.searches()[0][2] == BOUNDED


# --------------------------------------------------------------------------- over the cap


def sliced_source(**kwargs: Any) -> Source:
    """60,000 contacts in the search (150 Cold and 120 Replied served), counted per stage."""
    contacts = make_contacts(150) + make_contacts(120, stage="s-replied", start=1000, prefix="r")
    options: dict[str, Any] = {
        "totals": {None: 60_000},
        "counts": {"s-cold": 30_000, "s-replied": 30_000, "s-won": 0},
    }
    options.update(kwargs)
    return Source(contacts, **options)


def stage(filters: dict[str, Any], stage_id: str) -> dict[str, Any]:
    return {**filters, "contact_stage_ids": [stage_id]}


def test_a_search_over_the_cap_is_read_one_stage_at_a_time() -> None:
    source = sliced_source()
    log = Log()
    plan = ExportPlan(source, {"q_keywords": "x"}, log=log)
    batches = list(plan)
    filters = {"q_keywords": "x", **CREATED}
    assert [len(batch) for batch in batches] == [100, 50, 100, 20]
    assert flat(batches) == cids(0, 149) + cids(1000, 1119, "r")
    assert source.calls == [
        search_call(filters, WHOLE),
        ("stages",),
        count_call(stage(filters, "s-cold")),
        count_call(stage(filters, "s-replied")),
        count_call(stage(filters, "s-won")),
        ("stages",),
        search_call(stage(filters, "s-cold"), WHOLE),
        search_call(stage(filters, "s-replied"), WHOLE),
    ]
    assert source.closed == 3
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


def test_states_while_reading_slices_and_resuming_from_one() -> None:
    plan = ExportPlan(sliced_source(), log=Log())
    iterator = iter(plan)
    next(iterator)
    state = plan.state()
    assert (state["slices"], state["slice_index"], state["page"], state["done"]) == (
        ["s-cold", "s-replied"],
        0,
        2,
        False,
    )
    next(iterator)
    next(iterator)
    state = plan.state()
    assert (state["slice_index"], state["page"], state["written"]) == (1, 2, 250)
    assert state["last_page_ids"] == cids(1000, 1099, "r")
    source = sliced_source()
    rest = ExportPlan(source, cursor=state, log=Log())
    assert flat(list(rest)) == cids(1100, 1119, "r")
    assert source.calls == [("stages",), search_call(stage(CREATED, "s-replied"), WHOLE)]
    assert rest.done and rest.written == 270


def test_max_records_stops_between_slices() -> None:
    fingerprint = export_fingerprint({}, None, None)
    cursor = ExportCursor(fingerprint, slices=["s-cold", "s-replied"], total_entries=60_000)
    source = sliced_source()
    plan = ExportPlan(source, max_records=150, cursor=cursor.to_json(), log=Log())
    assert flat(list(plan)) == cids(0, 149)
    assert source.calls == [("stages",), search_call(stage(CREATED, "s-cold"), {**WHOLE, "max_records": 150})]
    state = plan.state()
    assert (state["slice_index"], state["page"], state["last_page_ids"], state["done"]) == (1, 1, [], True)
    source = sliced_source()
    plan = ExportPlan(source, max_records=200, cursor=cursor.to_json(), log=Log())
    assert flat(list(plan)) == cids(0, 149) + cids(1000, 1049, "r")
    assert source.searches()[1][2] == {**WHOLE, "max_records": 50}


def test_max_records_within_the_cap_reads_the_first_contacts_without_slicing() -> None:
    source = sliced_source()
    plan = ExportPlan(source, max_records=150, log=Log())
    assert flat(list(plan)) == cids(0, 149)
    assert source.calls == [search_call(CREATED, {**WHOLE, "max_records": 150})]


def test_slices_keep_the_users_stage_filter() -> None:
    source = sliced_source(counts={"s-replied": 30_000, "s-won": 30_000}, totals={"s-won,s-replied": 60_000})
    list(ExportPlan(source, {"contact_stage_ids": ["s-won", "s-replied"]}, log=Log()))
    filters = {"contact_stage_ids": ["s-won", "s-replied"], **CREATED}
    assert [call for call in source.calls if call[0] == "count"] == [
        count_call(stage(filters, "s-replied")),
        count_call(stage(filters, "s-won")),
    ]
    source = sliced_source(counts={"s-replied": 60_000}, totals={"s-replied": 60_000})
    with pytest.raises(ApolloSearchCapError):
        list(ExportPlan(source, {"contact_stage_ids": "s-replied"}, log=Log()))
    assert [call[1]["contact_stage_ids"] for call in source.calls if call[0] == "count"] == [["s-replied"]]


def test_stage_names_are_resolved_once_before_any_search() -> None:
    source = sliced_source(counts={"s-cold": 60_000}, totals={"s-cold": 60_000, None: 60_000})
    with pytest.raises(ApolloSearchCapError):
        list(ExportPlan(source, {"contact_stages": ["cold"]}, log=Log()))
    filters = {"contact_stage_ids": ["s-cold"], **CREATED}
    assert source.calls[:4] == [("stages",), search_call(filters, WHOLE), ("stages",), count_call(filters)]


def test_a_stage_over_the_cap_fails_naming_the_stages() -> None:
    source = sliced_source(
        counts={"s-cold": 55_000, "s-replied": 51_000, "s-won": 50_000}, totals={None: 156_000}
    )
    with pytest.raises(ApolloSearchCapError) as raised:
        list(ExportPlan(source, log=Log()))
    assert str(raised.value) == (
        "The search matches 156,000 contacts, and even one contact stage at a time some slices "
        "exceed Apollo's 50,000-record cap: 'Cold' (55,000), 'Replied' (51,000). Nothing was uploaded. "
        "Narrow the search so each stage has at most 50,000 contacts: add contact_label_ids or "
        "q_keywords to `search`, or split the export into several tasks (one per label or "
        "keyword) writing to different keys."
    )
    assert (raised.value.total_entries, raised.value.cap) == (156_000, CAP)
    assert source.searches() == [search_call(CREATED, WHOLE)]


def test_slices_that_do_not_cover_the_search_fail() -> None:
    source = sliced_source(counts={"s-cold": 30_000, "s-replied": 29_000, "s-won": 0})
    with pytest.raises(ApolloSearchCapError) as raised:
        list(ExportPlan(source, log=Log()))
    assert str(raised.value) == (
        "The search matches 60,000 contacts but its contact-stage slices cover only 59,000: 1,000 "
        "contacts have no stage or a stage not in GET /contact_stages, and slicing would miss them. "
        "Nothing was uploaded. Narrow the search below 50,000 contacts (contact_label_ids, q_keywords) "
        "or split it into several tasks."
    )
    assert (raised.value.total_entries, raised.value.cap) == (60_000, CAP)


def test_slices_counting_more_than_the_search_are_logged_and_read() -> None:
    log = Log()
    source = sliced_source(counts={"s-cold": 30_000, "s-replied": 30_001, "s-won": 0})
    assert len(flat(list(ExportPlan(source, log=log)))) == 270
    assert log.messages[1] == (
        "Stage slices count 60,001 contacts against 60,000 for the whole search: contacts were "
        "added while counting; they are exported too"
    )
    assert len(log.messages) == 4


def test_slice_by_stage_false_refuses_a_search_over_the_cap() -> None:
    source = sliced_source()
    with pytest.raises(ApolloSearchCapError) as raised:
        list(ExportPlan(source, slice_by_stage=False, log=Log()))
    assert str(raised.value) == (
        "This search matches 60,000 contacts. (slice_by_stage=False, so the export does not split it.)"
    )
    assert (raised.value.total_entries, raised.value.cap) == (60_000, CAP)
    assert source.calls == [search_call(CREATED, WHOLE)]


# --------------------------------------------------------------------------- bounds over the cap


def test_a_bound_beyond_the_cap_is_found_by_one_probe_and_sliced() -> None:
    probe_page = [{"id": "p", "updated_at": None}, {"id": "q", "updated_at": stamp(50)}]
    source = sliced_source(served={500: probe_page})
    plan = ExportPlan(source, updated_since=at(50), log=Log())
    batches = list(plan)
    assert flat(batches) == cids(149, 50) + cids(1119, 1000, "r")
    assert source.calls == [
        search_call(UPDATED, BOUNDED),
        search_call(UPDATED, PROBE),
        ("stages",),
        count_call(stage(UPDATED, "s-cold")),
        count_call(stage(UPDATED, "s-replied")),
        count_call(stage(UPDATED, "s-won")),
        ("stages",),
        search_call(stage(UPDATED, "s-cold"), BOUNDED),
        search_call(stage(UPDATED, "s-replied"), BOUNDED),
    ]
    assert source.closed == 4
    assert plan.state()["total_entries"] == 60_000


def test_a_bound_within_the_cap_is_read_without_slicing() -> None:
    for probe_page in ([{"id": "q", "updated_at": stamp(49)}], [{"id": "q"}]):
        source = sliced_source(served={500: probe_page})
        plan = ExportPlan(source, updated_since=at(50), log=Log())
        assert len(flat(list(plan))) == 100 + 120
        assert source.calls == [search_call(UPDATED, BOUNDED), search_call(UPDATED, PROBE)]
        assert source.closed == 2
    # No page at all where the probe looks: the bound is taken as within reach.
    source = sliced_source(served={500: []})
    assert len(flat(list(ExportPlan(source, updated_since=at(50), log=Log())))) == 220


def test_a_probe_without_close_is_read() -> None:
    source = sliced_source(served={500: [{"id": "q", "updated_at": stamp(49)}]}, closable=False)
    assert len(flat(list(ExportPlan(source, updated_since=at(50), log=Log())))) == 220


def test_no_probe_for_a_search_within_the_cap_or_a_deliberate_partial_read() -> None:
    source = sliced_source(totals={None: CAP})
    list(ExportPlan(source, updated_since=at(50), log=Log()))
    assert source.searches() == [search_call(UPDATED, BOUNDED)]
    for max_records, exported in ((200, 200), (CAP, 220)):
        source = sliced_source(served={500: [{"id": "q", "updated_at": stamp(60)}]})
        plan = ExportPlan(source, updated_since=at(50), max_records=max_records, log=Log())
        assert len(flat(list(plan))) == exported
        assert source.searches() == [search_call(UPDATED, BOUNDED)]
    source = sliced_source(served={500: [{"id": "q", "updated_at": stamp(60)}]})
    plan = ExportPlan(source, updated_since=at(50), max_records=CAP + 1, log=Log())
    list(plan)
    assert source.searches()[1] == search_call(UPDATED, PROBE)


def test_a_bound_that_turns_out_unreached_is_sliced_without_repeats() -> None:
    # The probe says the bound is within reach, but every page served is newer than it.
    source = sliced_source(served={500: [{"id": "q", "updated_at": stamp(-10)}]})
    log = Log()
    plan = ExportPlan(source, updated_since=at(-5), log=log)
    batches = list(plan)
    exported = flat(batches)
    assert len(exported) == len(set(exported)) == 270
    assert [len(batch) for batch in batches] == [100, 100, 70]
    searches = source.searches()
    assert searches[2:] == [
        search_call(stage(UPDATED, "s-cold"), BOUNDED),
        search_call(stage(UPDATED, "s-replied"), BOUNDED),
    ]
    state = plan.state()
    assert (state["slice_index"], state["page"], state["pages_read"], state["written"]) == (2, 1, 7, 270)
    assert log.messages == [
        "The search matches 60,000 contacts, more than Apollo's 50,000 per query: exporting it in 3 slices, "
        "one per contact stage",
        "Finished stage 'Cold': 2 pages; 270 contacts exported so far",
        "Finished stage 'Replied': 2 pages; 270 contacts exported so far",
    ]


def test_a_bound_beyond_the_cap_without_slicing_fails() -> None:
    source = sliced_source(served={500: [{"id": "q", "updated_at": stamp(60)}]})
    with pytest.raises(ApolloSearchCapError) as raised:
        list(ExportPlan(source, updated_since=at(50), slice_by_stage=False, log=Log()))
    assert str(raised.value) == (
        "Incremental export: the search matches 60,000 contacts and the 50,000 most recently updated do "
        "not reach updated_since=2024-05-01T00:50:00+00:00, so Apollo's per-query cap hides the rest. "
        "Nothing was uploaded. Run the export more often, or narrow the search (contact_stage_ids, "
        "contact_label_ids, q_keywords) or split it into several tasks. slice_by_stage=True would split "
        "it by contact stage."
    )
    assert (raised.value.total_entries, raised.value.cap) == (60_000, CAP)
    # Only updated_before: nothing stops the read early, so it splits at once, without a probe.
    source = sliced_source()
    with pytest.raises(ApolloSearchCapError) as raised:
        list(ExportPlan(source, updated_before=at(60), slice_by_stage=False, log=Log()))
    assert str(raised.value).startswith(
        "Incremental export: the search matches 60,000 contacts and the 50,000 most recently updated do "
        "not reach updated_since=None (updated_before=2024-05-01T01:00:00+00:00), so Apollo's"
    )
    assert source.searches() == [search_call(UPDATED, BOUNDED)]


def test_only_updated_before_over_the_cap_slices_at_once() -> None:
    source = sliced_source()
    plan = ExportPlan(source, updated_before=at(100), log=Log())
    assert flat(list(plan)) == cids(99, 0)
    assert [call[1].get("contact_stage_ids") for call in source.searches()] == [
        None,
        ["s-cold"],
        ["s-replied"],
    ]


def test_a_stage_beyond_the_cap_names_the_stage() -> None:
    source = sliced_source(
        served={500: [{"id": "q", "updated_at": stamp(60)}]}, totals={None: 60_000, "s-cold": 55_000}
    )
    with pytest.raises(ApolloSearchCapError) as raised:
        list(ExportPlan(source, updated_since=at(50), updated_before=at(70), log=Log()))
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
    source = sliced_source(served={500: [{"id": "q", "updated_at": stamp(60)}]})
    with pytest.raises(ApolloSearchCapError, match="^Incremental export: the search matches 60,000"):
        list(ExportPlan(source, updated_since=at(-5), slice_by_stage=False, cursor=cursor, log=Log()))
    assert source.searches() == [search_call(UPDATED, BOUNDED)]


def test_a_bounded_read_that_reaches_max_records_over_the_cap_is_not_an_error() -> None:
    source = Source(make_contacts(300), totals={None: 60_000}, honour_max_records=False)
    plan = ExportPlan(source, updated_before=at(400), max_records=150, slice_by_stage=False, log=Log())
    assert flat(list(plan)) == cids(299, 150)


def test_a_later_slice_over_the_cap_within_max_records_is_not_probed() -> None:
    # 200 contacts already written: the rest of max_records (49,900) is within the cap, a partial read.
    fingerprint = export_fingerprint({}, at(50), None)
    cursor = ExportCursor(fingerprint, slices=["s-cold"], written=200, total_entries=60_000)
    source = sliced_source(served={500: [{"id": "q", "updated_at": stamp(60)}]}, totals={"s-cold": 55_000})
    plan = ExportPlan(source, updated_since=at(50), max_records=CAP + 100, cursor=cursor, log=Log())
    assert flat(list(plan)) == cids(149, 50)
    assert source.searches() == [search_call(stage(UPDATED, "s-cold"), BOUNDED)]


def test_progress_is_logged_every_50_pages_by_default() -> None:
    log = Log()
    list(ExportPlan(Source(make_contacts(5000)), log=log))
    assert [message.split(",")[:2] for message in log.messages] == [
        ["Export progress: 5000 contacts so far", " page 50 of 50 of the search (5"],
        ["Finished the search: 50 pages; 5000 contacts exported so far"],
    ]


def test_a_bounded_search_of_exactly_the_cap_read_to_the_end_is_complete() -> None:
    source = Source(make_contacts(250), totals={None: CAP})
    plan = ExportPlan(source, updated_since=at(-5), slice_by_stage=False, log=Log())
    assert flat(list(plan)) == cids(249, 0)
    assert source.searches() == [search_call(UPDATED, BOUNDED)]
