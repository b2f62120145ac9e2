"""The export plan: which searches an export runs, where it stands, and which contacts it hands out.

An export of every contact a search matches is more than one search: above Apollo's 50,000-record
cap it is split into one search per contact stage; an incremental export reads newest-updated first
and keeps only the contacts updated in ``[updated_since, updated_before)``; contacts that shift
between pages or change stage between slices are handed out once. :class:`ExportPlan` decides all
of that without moving a byte: :meth:`ExportPlan.steps` is a step generator (see
:mod:`~airflow_provider_apollo.core.lifecycle`) that yields the search, count and stage-list requests
and emits lists of contacts to write; a hook's transport drives it. Its position is one small JSON
value (:class:`ExportCursor`, from :meth:`ExportPlan.state`) that a new plan can start from.

Which file format an export writes, given or named by its key's suffix, is decided here too
(:func:`export_file_format`), without I/O.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_apollo.core.endpoints import SEARCH_PER_PAGE_MAX, SEARCH_RESULT_CAP
from airflow_provider_apollo.core.lifecycle import Emit, Steps
from airflow_provider_apollo.core.lookups import TeamLookups
from airflow_provider_apollo.core.paging import (
    MAX_SEARCH_CONCURRENCY,
    SearchPage,
    SearchPager,
    check_search,
    count_contacts,
    search_filters,
)
from airflow_provider_apollo.core.stages import stage_name
from airflow_provider_apollo.core.validation import check_int_range
from airflow_provider_apollo.exceptions import ApolloArgumentError, ApolloSearchCapError

UPDATED_SORT_FIELD = "contact_updated_at"
CREATED_SORT_FIELD = "contact_created_at"
# The last page a search serves: Apollo's cap in pages of the largest size.
LAST_REACHABLE_PAGE = SEARCH_RESULT_CAP // SEARCH_PER_PAGE_MAX
# A cursor is a position, not data: at most one page of ids travels in it.
CURSOR_VERSION = 1
# The key suffixes that name an export's file format, checked after a compression suffix is taken off.
FORMAT_SUFFIXES: dict[str, str] = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}
COMPRESSION_SUFFIXES = (".gz", ".gzip")
# The format of a key whose suffix names none (``contacts``, ``contacts.txt``).
DEFAULT_FILE_FORMAT = "jsonl"


# --------------------------------------------------------------------------- time bounds


def parse_time_bound(value: Any, argument: str) -> datetime.datetime | None:
    """
    An export bound (``updated_since``/``updated_before``) as an aware UTC datetime.

    ``None`` or ``""`` means no bound; a naive datetime or string is taken as UTC.

    :param value: an ISO 8601 string or a datetime.
    :param argument: the argument's name, for the error message.
    """
    import pendulum

    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime.datetime):
        return pendulum.instance(value, tz="UTC")
    if isinstance(value, str):
        try:
            parsed = pendulum.parse(value.strip(), tz="UTC")
        except Exception:  # pendulum raises its own ParserError, or ValueError
            parsed = None
        if isinstance(parsed, pendulum.DateTime):
            return parsed
    example = "{{ data_interval_start }}" if argument == "updated_since" else "{{ data_interval_end }}"
    raise ApolloArgumentError(
        f"{argument} must be an ISO 8601 date-time string (e.g. '{example}' or "
        f"'2024-05-01T00:00:00+00:00') or a datetime, got {value!r}."
    )


def parse_timestamp(value: Any) -> datetime.datetime | None:
    """An Apollo record timestamp (``2020-08-13T06:56:09.789Z``) as an aware datetime; ``None`` if absent."""
    if not isinstance(value, str) or not value:
        return None
    text = value[:-1] + "+00:00" if value.endswith("Z") else value
    try:
        parsed = datetime.datetime.fromisoformat(text)
    except ValueError:
        import pendulum

        try:
            parsed = pendulum.parse(value, tz="UTC")  # type: ignore[assignment]
        except Exception:
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    return parsed


# --------------------------------------------------------------------------- file format


def format_named_by_key(key: str) -> str | None:
    """
    The file format a key's suffix names, or ``None`` when it names none.

    A compression suffix comes off first, so ``contacts.csv.gz`` names ``csv``; case is ignored.
    """
    name = key.strip().lower()
    for compression in COMPRESSION_SUFFIXES:
        if name.endswith(compression):
            name = name[: -len(compression)]
            break
    for suffix, file_format in FORMAT_SUFFIXES.items():
        if name.endswith(suffix):
            return file_format
    return None


def export_file_format(file_format: str | None, s3_key: str) -> str:
    """
    The format an export writes: ``file_format`` when given, else the one ``s3_key``'s suffix names,
    else :data:`DEFAULT_FILE_FORMAT`.

    A given format that the key's suffix contradicts (``file_format="jsonl"`` for
    ``contacts.parquet``) is an ``ApolloArgumentError`` naming both arguments: one of them is a
    mistake, and a file whose name lies about its content breaks every reader. A key whose suffix
    names no format (``contacts``, ``contacts.txt``) takes any format.

    :param file_format: the ``file_format`` argument, ``None`` to infer it; its value is checked by
        the caller.
    :param s3_key: the rendered key.
    """
    named = format_named_by_key(s3_key)
    if file_format is None:
        return named or DEFAULT_FILE_FORMAT
    if named is not None and named != file_format:
        raise ApolloArgumentError(
            f"file_format={file_format!r} contradicts s3_key={s3_key!r}, whose suffix names {named!r}: "
            f"pass file_format={named!r}, leave file_format out to infer it from s3_key, or change "
            "s3_key's suffix."
        )
    return file_format


# --------------------------------------------------------------------------- the cursor


@dataclass
class ExportCursor:
    """
    Where an export stands; JSON-only and small (a position and counts, at most one page of ids).

    :param fingerprint: identifies the search and bounds the cursor belongs to.
    :param slices: the contact stage ids the search was split into, one search each; ``None``
        while the export reads the search whole.
    :param slice_index: the slice being read.
    :param page: the next page of that search (or slice) to read.
    :param written: contacts handed out so far.
    :param pages_read: pages read so far (every slice).
    :param last_page_ids: the ids on the last page read, so a resumed read that re-reads it (records
        shift between pages) hands none of them out again.
    :param total_entries: what the whole search matched when it was split.
    :param done: every contact was handed out.
    """

    fingerprint: str
    slices: list[str] | None = None
    slice_index: int = 0
    page: int = 1
    written: int = 0
    pages_read: int = 0
    last_page_ids: list[str] = field(default_factory=list)
    total_entries: int | None = None
    done: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "version": CURSOR_VERSION,
            "fingerprint": self.fingerprint,
            "slices": None if self.slices is None else list(self.slices),
            "slice_index": self.slice_index,
            "page": self.page,
            "written": self.written,
            "pages_read": self.pages_read,
            "last_page_ids": list(self.last_page_ids),
            "total_entries": self.total_entries,
            "done": self.done,
        }

    @classmethod
    def from_json(cls, value: Any) -> ExportCursor:
        """A cursor from :meth:`to_json`'s value; anything else is an ``ApolloArgumentError``."""
        if not isinstance(value, Mapping) or value.get("version") != CURSOR_VERSION:
            raise ApolloArgumentError(
                f"an export cursor must be a dict from ExportPlan.state() (version {CURSOR_VERSION}), got {value!r}."
            )
        try:
            slices = value.get("slices")
            cursor = cls(
                fingerprint=str(value["fingerprint"]),
                slices=None if slices is None else [str(stage_id) for stage_id in slices],
                slice_index=int(value.get("slice_index", 0)),
                page=int(value.get("page", 1)),
                written=int(value.get("written", 0)),
                pages_read=int(value.get("pages_read", 0)),
                last_page_ids=[str(contact_id) for contact_id in value.get("last_page_ids") or []],
                total_entries=None if value.get("total_entries") is None else int(value["total_entries"]),
                done=bool(value.get("done", False)),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ApolloArgumentError(f"an export cursor is malformed ({error}): {value!r}.") from None
        if cursor.page < 1 or cursor.slice_index < 0 or cursor.written < 0:
            raise ApolloArgumentError(f"an export cursor holds an impossible position: {value!r}.")
        return cursor


def export_fingerprint(
    filters: Mapping[str, Any], since: datetime.datetime | None, before: datetime.datetime | None
) -> str:
    """A short digest of what an export reads, so a cursor is never applied to another export."""
    text = json.dumps(
        {
            "search": filters,
            "since": None if since is None else since.isoformat(),
            "before": None if before is None else before.isoformat(),
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


# --------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class _Slice:
    """One search the export runs: its filters, and a name for logs and errors."""

    label: str
    filters: dict[str, Any]


class _BoundNotReached(Exception):
    """A bounded read would use up the 50,000-record cap before reaching ``updated_since``."""

    def __init__(self, total_entries: int) -> None:
        super().__init__(total_entries)
        self.total_entries = total_entries


class ExportPlan:
    """
    Every contact a search matches, as lists to write: the decisions of an export, without I/O.

    Drive :meth:`steps` with a hook's transport (``ApolloHook.export_contacts(plan)``, or
    ``iter_steps(plan.steps(), hook.call)``) for lists of contacts, in export order, each contact
    once. After writing a list, :meth:`state` is where the export stands;
    ``ExportPlan(..., cursor=state)`` goes on from there. The plan:

    - reads the search whole when it matches at most 50,000 contacts, else one search per contact
      stage (``slice_by_stage``), checking that every slice is within the cap and that the slices
      cover the search;
    - with ``updated_since`` and/or ``updated_before`` reads newest-updated first, skips contacts
      updated at or after ``updated_before`` and stops at the first one updated before
      ``updated_since``;
    - resolves stage names (``search={"contact_stages": [...]}``) once, before any search;
    - asks for up to ``concurrency`` pages at once after a search's first;
    - logs progress every ``log_every_pages`` pages.

    The search and bounds are checked when the plan is built, before any request.

    :param search: Apollo search filters; ``contact_stages`` may name stages.
    :param updated_since: only contacts updated at or after this time (ISO 8601 string or datetime).
    :param updated_before: only contacts updated before this time (exclusive).
    :param max_records: hand out at most this many contacts.
    :param concurrency: search pages asked for at once (1 to 8).
    :param slice_by_stage: split a search above the cap by contact stage; ``False`` fails instead.
    :param log_every_pages: log progress every this many pages.
    :param log: where progress goes (an operator's ``self.log``); this module's logger by default.
    :param cursor: a :meth:`state` value to resume from.
    :param seen_ids: ids a resumed export already handed out, when the caller kept them (the cursor
        does not): contacts that moved between slices meanwhile are then not handed out twice.
    :param on_total: called once with the most contacts the export will hand out (the search's
        total, or ``max_records`` when smaller) as soon as the first page (or its cap error) tells
        it, before any other search request; raise from it to stop the export there. Not called
        with ``updated_since``/``updated_before`` (the total counts contacts outside the bounds),
        nor when a plan resumed from a cursor goes on past the search's first page.
    """

    def __init__(
        self,
        search: Mapping[str, Any] | None = None,
        *,
        updated_since: Any = None,
        updated_before: Any = None,
        max_records: int | None = None,
        concurrency: int = 1,
        slice_by_stage: bool = True,
        log_every_pages: int = 50,
        log: Any = None,
        cursor: ExportCursor | Mapping[str, Any] | None = None,
        seen_ids: Iterable[str] = (),
        on_total: Callable[[int], None] | None = None,
    ) -> None:
        if search is None or search == "":
            search = {}
        if not isinstance(search, Mapping):
            raise ApolloArgumentError(
                f"search must be a dict of Apollo search filters or None, got {search!r}."
            )
        if max_records is not None and (
            isinstance(max_records, bool) or not isinstance(max_records, int) or max_records < 0
        ):
            raise ApolloArgumentError(
                f"max_records must be a non-negative integer or None, got {max_records!r}."
            )
        check_int_range(log_every_pages, "log_every_pages", 1, 1_000_000)
        self.concurrency = check_int_range(concurrency, "concurrency", 1, MAX_SEARCH_CONCURRENCY)
        self.since = parse_time_bound(updated_since, "updated_since")
        self.before = parse_time_bound(updated_before, "updated_before")
        if self.since is not None and self.before is not None and self.before <= self.since:
            raise ApolloArgumentError(
                f"updated_before must be later than updated_since: got updated_since={self.since.isoformat()}, "
                f"updated_before={self.before.isoformat()}."
            )
        self.filters = check_search(self._sorted_filters(dict(search)), SEARCH_PER_PAGE_MAX, None)
        self.max_records = max_records
        self.slice_by_stage = slice_by_stage
        self.log_every_pages = log_every_pages
        self.log = log if log is not None else logging.getLogger(__name__)
        fingerprint = export_fingerprint(search, self.since, self.before)
        if cursor is None:
            self.cursor = ExportCursor(fingerprint=fingerprint)
        else:
            self.cursor = cursor if isinstance(cursor, ExportCursor) else ExportCursor.from_json(cursor)
            if self.cursor.fingerprint != fingerprint:
                raise ApolloArgumentError(
                    "the export cursor belongs to another export (different search or bounds); "
                    "start without a cursor, or resume with the arguments it was saved under."
                )
        self._seen: set[str] = set(seen_ids)
        self.on_total = on_total
        self._started = time.monotonic()
        self._driven = False

    # ------------------------------------------------------------------ public

    @property
    def bounded(self) -> bool:
        """True when the export keeps only contacts updated within a time range."""
        return self.since is not None or self.before is not None

    @property
    def written(self) -> int:
        return self.cursor.written

    @property
    def pages_read(self) -> int:
        return self.cursor.pages_read

    @property
    def done(self) -> bool:
        return self.cursor.done

    def state(self) -> dict[str, Any]:
        """Where the export stands, as a small JSON value: pass it as ``cursor=`` to go on from here."""
        return self.cursor.to_json()

    def steps(self, lookups: TeamLookups | None = None) -> Steps[None]:
        """
        The export as a step generator: it yields requests and emits lists of contacts to write.

        Driven once; build a new plan from :meth:`state` to resume.

        :param lookups: the hook's team facts, so the stage list is asked for once per hook (and
            not at all when the hook knows it); without them, once per run.
        """
        if self._driven:
            raise RuntimeError("an ExportPlan is driven once; build a new one from its state() to resume.")
        self._driven = True
        return self._batches(lookups if lookups is not None else TeamLookups())

    # ------------------------------------------------------------------ arguments

    def _sorted_filters(self, filters: dict[str, Any]) -> dict[str, Any]:
        if self.bounded:
            sort = filters.get("sort_by_field")
            if sort not in (None, UPDATED_SORT_FIELD) or filters.get("sort_ascending") not in (None, False):
                raise ApolloArgumentError(
                    "updated_since and updated_before read contacts newest-updated first, so search must not "
                    f"set sort_by_field (other than {UPDATED_SORT_FIELD!r}) or sort_ascending=True; "
                    f"got sort_by_field={sort!r}, sort_ascending={filters.get('sort_ascending')!r}."
                )
            filters["sort_by_field"] = UPDATED_SORT_FIELD
            filters["sort_ascending"] = False
        elif "sort_by_field" not in filters:
            # Oldest first by creation time, which never changes: contacts created during the
            # export land after the pages read, and no contact jumps backwards past the reader.
            filters["sort_by_field"] = CREATED_SORT_FIELD
            filters["sort_ascending"] = True
        return filters

    # ------------------------------------------------------------------ reading

    def _batches(self, lookups: TeamLookups) -> Steps[None]:
        cursor = self.cursor
        if cursor.done:
            return
        # Once per run, before any search: an unknown stage name fails here, listing the known ones.
        filters = yield from search_filters(self.filters, lookups=lookups)
        if cursor.slices is None:
            whole = _Slice("the search", filters)
            try:
                yield from self._read(whole)
                cursor.done = True
                return
            except ApolloSearchCapError as error:
                # Raised on the search's first page, before any contact: nothing of it was handed out.
                if not self.slice_by_stage:
                    raise ApolloSearchCapError(
                        f"{error} (slice_by_stage=False, so the export does not split it.)",
                        total_entries=error.total_entries,
                        cap=error.cap,
                    ) from None
                total = error.total_entries
                self._report_total(total)
            except _BoundNotReached as reached:
                if not self.slice_by_stage:
                    raise self._bound_error(whole, reached.total_entries) from None
                total = reached.total_entries
            cursor.slices = yield from self._stage_slices(filters, total, lookups)
            cursor.total_entries = total
            cursor.slice_index, cursor.page, cursor.last_page_ids = 0, 1, []
        stages = yield from lookups.stages()
        while cursor.slice_index < len(cursor.slices):
            if self._limit_reached():
                break
            stage_id = cursor.slices[cursor.slice_index]
            stage_slice = _Slice(
                f"stage {stage_name(stages, stage_id)!r}", {**filters, "contact_stage_ids": [stage_id]}
            )
            try:
                yield from self._read(stage_slice)
            except _BoundNotReached as reached:
                raise self._bound_error(stage_slice, reached.total_entries) from None
            cursor.slice_index += 1
            cursor.page, cursor.last_page_ids = 1, []
        cursor.done = True

    def _stage_slices(self, filters: dict[str, Any], total: int, lookups: TeamLookups) -> Steps[list[str]]:
        """
        The stage ids to read one search each; checks that each is within the cap and that they add up.

        Every contact has exactly one stage, so the slices' counts add up to the search's total; a
        shortfall (contacts without a stage, or a stage id the user gave that does not exist) would
        lose records, and fails instead.
        """
        stages = yield from lookups.stages()
        stage_ids = [str(stage["id"]) for stage in stages]
        wanted = filters.get("contact_stage_ids")
        if wanted:
            wanted_ids = set(wanted) if isinstance(wanted, (list, tuple)) else {wanted}
            stage_ids = [stage_id for stage_id in stage_ids if stage_id in wanted_ids]
        self.log.info(
            "The search matches %s contacts, more than Apollo's %s per query: exporting it in %d "
            "slices, one per contact stage",
            f"{total:,}",
            f"{SEARCH_RESULT_CAP:,}",
            len(stage_ids),
        )
        counts: list[tuple[str, str, int]] = []
        for stage_id in stage_ids:
            count = yield from count_contacts({**filters, "contact_stage_ids": [stage_id]})
            counts.append((stage_id, stage_name(stages, stage_id), count))
        too_big = [(name, count) for _, name, count in counts if count > SEARCH_RESULT_CAP]
        # An incremental read stops early, so a stage above the cap may still be read: checked as it goes.
        if self.since is None and too_big:
            listed = ", ".join(f"{name!r} ({count:,})" for name, count in too_big)
            raise ApolloSearchCapError(
                f"The search matches {total:,} contacts, and even one contact stage at a time some slices "
                f"exceed Apollo's {SEARCH_RESULT_CAP:,}-record cap: {listed}. Nothing was uploaded. "
                "Narrow the search so each stage has at most 50,000 contacts: add contact_label_ids or "
                "q_keywords to `search`, or split the export into several tasks (one per label or "
                "keyword) writing to different keys.",
                total_entries=total,
                cap=SEARCH_RESULT_CAP,
            )
        covered = sum(count for _, _, count in counts)
        if covered < total:
            raise ApolloSearchCapError(
                f"The search matches {total:,} contacts but its contact-stage slices cover only "
                f"{covered:,}: {total - covered:,} contacts have no stage or a stage not in "
                "GET /contact_stages, and slicing would miss them. Nothing was uploaded. Narrow the "
                "search below 50,000 contacts (contact_label_ids, q_keywords) or split it into several tasks.",
                total_entries=total,
                cap=SEARCH_RESULT_CAP,
            )
        if covered > total:
            self.log.info(
                "Stage slices count %s contacts against %s for the whole search: contacts were "
                "added while counting; they are exported too",
                f"{covered:,}",
                f"{total:,}",
            )
        return [stage_id for stage_id, _, count in counts if count]

    def _bound_error(self, search_slice: _Slice, total: int) -> ApolloSearchCapError:
        bounds = f"updated_since={self.since.isoformat() if self.since else None}"
        if self.before is not None:
            bounds += f" (updated_before={self.before.isoformat()})"
        return ApolloSearchCapError(
            f"Incremental export: {search_slice.label} matches {total:,} contacts and the "
            f"{SEARCH_RESULT_CAP:,} most recently updated do not reach {bounds}, so Apollo's "
            "per-query cap hides the rest. Nothing was uploaded. Run the export more often, or narrow "
            "the search (contact_stage_ids, contact_label_ids, q_keywords) or split it into several tasks."
            + ("" if self.slice_by_stage else " slice_by_stage=True would split it by contact stage."),
            total_entries=total,
            cap=SEARCH_RESULT_CAP,
        )

    def _report_total(self, total_entries: int) -> None:
        """Tell ``on_total`` the most contacts this export will hand out (a fresh, unbounded export only)."""
        if self.on_total is None or self.bounded:
            return
        self.on_total(total_entries if self.max_records is None else min(total_entries, self.max_records))

    def _limit_reached(self) -> bool:
        return self.max_records is not None and self.cursor.written >= self.max_records

    def _read(self, search_slice: _Slice) -> Steps[None]:
        """One search from the cursor's page on; the cursor moves as each page is handed out."""
        cursor = self.cursor
        # A resumed read starts one page early: records that shifted back while the job waited are
        # not skipped, and the ids of that page (kept in the cursor) are not handed out again.
        resumed = cursor.page > 1
        start_page = max(1, cursor.page - 1) if resumed else 1
        self._seen.update(cursor.last_page_ids)
        limit = None if self.max_records is None else self.max_records - cursor.written
        if limit is not None and resumed:
            # The page read again was handed out before: its contacts are skipped, not counted.
            limit += SEARCH_PER_PAGE_MAX
        if self.bounded:
            # A bounded read may stop early, so the cap matters only if the bound lies beyond it:
            # read at most what Apollo serves and check afterwards instead of refusing up front.
            # Contacts updated at or after updated_before are read and skipped, so only this plan
            # knows when max_records is reached: it stops the search itself (_limit_reached).
            limit = max(0, SEARCH_RESULT_CAP - (start_page - 1) * SEARCH_PER_PAGE_MAX)
        pager = SearchPager(
            search_slice.filters, per_page=SEARCH_PER_PAGE_MAX, max_records=limit, start_page=start_page
        )
        last_page: SearchPage | None = None
        reached_since = stop = False
        while not stop and (step := pager.next_step(self.concurrency)) is not None:
            for page in pager.read(step, (yield step)):
                if last_page is None and not resumed:
                    if self.bounded:
                        yield from self._check_bound_within_cap(search_slice, page)
                    elif cursor.slices is None:
                        # Before this page is handed out and before the next is asked for.
                        self._report_total(page.total_entries)
                last_page = page
                fresh, reached_since = self._fresh_contacts(page.contacts)
                if self.max_records is not None:
                    fresh = fresh[: max(0, self.max_records - cursor.written)]
                self._seen.update(contact["id"] for contact in fresh if contact.get("id") is not None)
                cursor.written += len(fresh)
                cursor.pages_read += 1
                cursor.page = page.page + 1
                cursor.last_page_ids = [str(c["id"]) for c in page.contacts if c.get("id") is not None]
                if cursor.pages_read % self.log_every_pages == 0:
                    self._log_progress(search_slice, page)
                if fresh:
                    yield Emit(fresh)
                if reached_since or self._limit_reached():
                    # Pages asked for with this one are dropped: the read ends here.
                    stop = True
                    break
        # Every page Apollo serves was read without meeting updated_since: if the search matches
        # more than the cap, the older contacts (possibly still within the bounds) are hidden.
        if (
            self.bounded
            and not reached_since
            and last_page is not None
            and last_page.total_entries > SEARCH_RESULT_CAP
            and not self._limit_reached()
        ):
            raise _BoundNotReached(last_page.total_entries)
        if last_page is not None:
            self.log.info(
                "Finished %s: %d pages; %d contacts exported so far",
                search_slice.label,
                last_page.page,
                cursor.written,
            )

    def _check_bound_within_cap(self, search_slice: _Slice, first: SearchPage) -> Steps[None]:
        """
        On a bounded search's first page, whether ``updated_since`` lies within the cap.

        Without it the read would run to the cap (500 requests) before finding out. Without
        ``updated_since`` nothing stops the read early, so a search above the cap is split at once;
        with it, one request for the last page Apollo serves tells whether the bound comes first.
        """
        if first.total_entries <= SEARCH_RESULT_CAP or self._limit_reached():
            return
        if self.max_records is not None and self.max_records - self.cursor.written <= SEARCH_RESULT_CAP:
            return  # a deliberate partial read: only the first records are wanted
        if self.since is None:
            raise _BoundNotReached(first.total_entries)
        probe = SearchPager(
            search_slice.filters,
            per_page=SEARCH_PER_PAGE_MAX,
            max_records=SEARCH_PER_PAGE_MAX,
            start_page=LAST_REACHABLE_PAGE,
        )
        last = probe.accept((yield probe.request_for(LAST_REACHABLE_PAGE)))
        times = [parse_timestamp(contact.get("updated_at")) for contact in last]
        oldest = min((t for t in times if t is not None), default=None)
        if oldest is not None and oldest >= self.since:
            raise _BoundNotReached(first.total_entries)

    def _fresh_contacts(self, contacts: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], bool]:
        """The page's contacts within the bounds and not handed out yet; and whether ``updated_since`` was reached."""
        seen = self._seen
        since, before = self.since, self.before
        fresh: list[dict[str, Any]] = []
        for contact in contacts:
            if since is not None or before is not None:
                updated_at = parse_timestamp(contact.get("updated_at"))
                if updated_at is not None:
                    if since is not None and updated_at < since:
                        return fresh, True
                    if before is not None and updated_at >= before:
                        continue
            contact_id = contact.get("id")
            if contact_id is not None and contact_id in seen:
                continue
            fresh.append(contact)
        return fresh, False

    def _log_progress(self, search_slice: _Slice, page: SearchPage) -> None:
        elapsed = max(time.monotonic() - self._started, 1e-9)
        self.log.info(
            "Export progress: %d contacts so far, page %d of %d of %s (%s contacts), %.0f records/s",
            self.cursor.written,
            page.page,
            page.total_pages,
            search_slice.label,
            f"{page.total_entries:,}",
            self.cursor.written / elapsed,
        )
