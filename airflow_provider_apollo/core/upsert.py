"""Warehouse rows to Apollo contacts, without I/O: mapping, validation, batches, bisection, rejects, the cursor.

A warehouse extract (an S3 file or a SQL query) is a stream of records numbered from 1. Each record
becomes one of three things: a create (no ``id``: bulk create, 100 a call, with Apollo's dedupe on),
an update (an ``id``: bulk update, 100 a call), or a reject (a record that cannot be sent, or that
Apollo refused) with its position, the record as read and the reason. :meth:`Upsert.steps` is the
whole decision as one step generator (see :mod:`~airflow_provider_apollo.core.lifecycle`): the
transfers hand it the records they read and drive it with the hook's ``call``; it yields the bulk
requests (splitting a batch Apollo refuses down to the bad records) and emits what to write.

Resume: creates and updates are sent in batches, each batch in row order, so "every create up to
row N is applied" is one number (the same for updates), and every validation reject up to the last
row read was saved when the job stopped. A resumed job reads the source again from the earliest row
still pending and skips what those three numbers say is settled: no applied batch is sent twice.
"""

from __future__ import annotations

import datetime
import decimal
import json
import math
import re
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_apollo.core.contacts import order_bulk_result
from airflow_provider_apollo.core.endpoints import (
    BULK_CREATE_MAX,
    BULK_UPDATE_SYNC_MAX,
    PATH_BULK_CREATE,
    ApiRequest,
)
from airflow_provider_apollo.core.fields import (
    BULK_UPDATE_FIELDS,
    CUSTOM_FIELDS_KEY,
    apply_custom_fields,
    bulk_update_request,
    read_bulk_update,
)
from airflow_provider_apollo.core.lifecycle import Emit, Step
from airflow_provider_apollo.core.lookups import TeamLookups
from airflow_provider_apollo.core.users import looks_like_email
from airflow_provider_apollo.exceptions import ApolloApiError, ApolloArgumentError, ApolloValidationError

ID_FIELD = "id"
# A column mapped to ``custom_fields.<label>`` fills that custom field (labels as Apollo shows them).
CUSTOM_FIELD_PREFIX = f"{CUSTOM_FIELDS_KEY}."
CREATE_BATCH_SIZE = BULK_CREATE_MAX
# Bulk update answers with the updated contacts up to 100 a call (more: a background job whose
# outcome per contact is unknown), so 100 keeps every row's fate known.
UPDATE_BATCH_SIZE = BULK_UPDATE_SYNC_MAX
KIND_CREATE = "create"
KIND_UPDATE = "update"
COUNT_NAMES = ("created", "updated", "unchanged", "rejected")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
NAME_FIELDS = ("first_name", "last_name")


# ------------------------------------------------------------------ arguments


def check_column_map(column_map: Any) -> dict[str, str] | None:
    """
    ``{file column: Apollo field}``: ``id`` (updates that contact), any contact field
    (``email``, ``first_name``, ``owner_id`` ...), or ``custom_fields.<label>``. None: identity.
    """
    if column_map is None:
        return None
    if not isinstance(column_map, Mapping) or not column_map:
        raise ApolloArgumentError(
            f"column_map must be a non-empty dict of file column to Apollo field, got {column_map!r}."
        )
    checked: dict[str, str] = {}
    seen: dict[str, str] = {}
    for column, target in column_map.items():
        if not isinstance(column, str) or not column:
            raise ApolloArgumentError(
                f"column_map: a column name must be a non-empty string, got {column!r}."
            )
        if not isinstance(target, str) or not target.strip():
            raise ApolloArgumentError(
                f"column_map[{column!r}] must be an Apollo field name (e.g. 'email', 'custom_fields.Lead score'), "
                f"got {target!r}."
            )
        target = target.strip()
        if target == "api_key":
            raise ApolloArgumentError(
                f"column_map[{column!r}]: 'api_key' comes from the connection, not the data."
            )
        if target.startswith(CUSTOM_FIELD_PREFIX) and not target[len(CUSTOM_FIELD_PREFIX) :].strip():
            raise ApolloArgumentError(
                f"column_map[{column!r}]: give the custom field's label after 'custom_fields.', got {target!r}."
            )
        if target in seen:
            raise ApolloArgumentError(
                f"column_map: columns {seen[target]!r} and {column!r} both map to {target!r}; map each field once."
            )
        seen[target] = column
        checked[column] = target
    return checked


def check_mapped_columns(column_map: Mapping[str, str] | None, columns: Sequence[str] | None) -> None:
    """Every mapped column exists in the source (known for CSV, Parquet and SQL; not for JSON lines)."""
    if column_map is None or columns is None:
        return
    missing = [column for column in column_map if column not in set(columns)]
    if missing:
        raise ApolloArgumentError(
            f"column_map names column(s) the source does not have: {', '.join(map(repr, missing))}. "
            f"Its columns: {', '.join(map(repr, columns))}."
        )


def check_max_rejects(value: Any) -> int | float | None:
    """A count (an integer of 0 or more) or a share (a number above 0 and below 1); None: no limit."""
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or (isinstance(value, float) and not math.isfinite(value))
    ):
        raise ApolloArgumentError(
            f"max_rejects must be a count (0, 10 ...), a share below 1 (0.01 for 1%) or None, got {value!r}."
        )
    if isinstance(value, int):
        if value < 0:
            raise ApolloArgumentError(f"max_rejects must not be negative, got {value!r}.")
        return value
    if not 0 < value < 1:
        raise ApolloArgumentError(
            f"max_rejects as a share must be above 0 and below 1 (0.01 for 1%), got {value!r}; "
            "give a count as an integer."
        )
    return value


def rejects_exceed(max_rejects: int | float | None, rejected: int, total: int) -> bool:
    """Whether the rejects fail the task: more than the count, or more than the share of the records."""
    if max_rejects is None:
        return False
    if isinstance(max_rejects, int):
        return rejected > max_rejects
    return total > 0 and rejected / total > max_rejects


def describe_threshold(max_rejects: int | float) -> str:
    if isinstance(max_rejects, int):
        return f"max_rejects={max_rejects}"
    return f"max_rejects={max_rejects} ({max_rejects:.2%} of the records)"


# ------------------------------------------------------------------ rows


@dataclass(frozen=True)
class Reject:
    """One line of the rejects file: the record's 1-based position, the record as read, why."""

    row: int
    record: Any
    reason: str

    def to_json_line(self) -> str:
        return json.dumps({"row": self.row, "record": self.record, "reason": self.reason}, default=str) + "\n"


@dataclass(frozen=True)
class Prepared:
    """A record ready to send: ``kind`` create or update, Apollo ``fields`` (names resolved)."""

    row: int
    kind: str
    fields: dict[str, Any]
    record: Any


def json_value(value: Any) -> Any:
    """A warehouse value as JSON: decimals as numbers, dates as ISO text, NaN and empty text as None."""
    if isinstance(value, str):
        value = value.strip()
        return value or None
    if isinstance(value, bool) or value is None or isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            return None
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (datetime.date, datetime.datetime, datetime.time)):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(key): json_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_value(item) for item in value]
    if isinstance(value, (bytes, bytearray)):
        raise ValueError(f"binary value ({len(value)} bytes)")
    return str(value)


def record_as_read(record: Any) -> Any:
    """The record for the rejects file: JSON values, anything else as text."""
    try:
        return json.loads(json.dumps(record, default=str))
    except (TypeError, ValueError):
        return str(record)


def map_record(record: Mapping[str, Any], column_map: Mapping[str, str] | None) -> dict[str, Any]:
    """Apollo fields from one record: mapped columns (or every column), empty values left out."""
    pairs = (
        ((target, record.get(column)) for column, target in column_map.items())
        if column_map is not None
        else ((str(column), value) for column, value in record.items())
    )
    fields: dict[str, Any] = {}
    custom: dict[str, Any] = {}
    for target, raw in pairs:
        try:
            value = json_value(raw)
        except ValueError as error:
            raise ApolloArgumentError(
                f"column for {target!r} holds a {error}, not a value Apollo takes."
            ) from None
        if value is None or value == {} or value == []:
            continue
        if target.startswith(CUSTOM_FIELD_PREFIX):
            custom[target[len(CUSTOM_FIELD_PREFIX) :].strip()] = value
        elif target == CUSTOM_FIELDS_KEY and isinstance(value, Mapping):
            custom.update({key: item for key, item in value.items() if item is not None})
        else:
            fields[target] = value
    if custom:
        fields[CUSTOM_FIELDS_KEY] = custom
    return fields


def is_email(value: Any) -> bool:
    return isinstance(value, str) and _EMAIL.match(value) is not None


class RowPreparer:
    """
    Turns records into creates, updates or rejects; :meth:`prepare` is a step generator.

    :param column_map: from :func:`check_column_map` (None: every column is a field).
    :param lookups: the team's names: custom fields by label and owners by email are looked up
        through its step generators, once, on the first record that needs them (the transfers pass
        their hook's ``lookups``, so a name the hook already knows costs no request).
    """

    def __init__(self, column_map: Mapping[str, str] | None, lookups: TeamLookups) -> None:
        self.column_map = column_map
        self.lookups = lookups

    def prepare(self, row: int, record: Any) -> Generator[ApiRequest, Any, Prepared | Reject]:
        """The record as a create or an update with its names resolved, or a reject saying why."""
        if not isinstance(record, Mapping):
            return Reject(row, record_as_read(record), f"not a record of named columns: {record!r}")
        try:
            fields = map_record(record, self.column_map)
            return (yield from self._check(row, fields, record))
        except ApolloArgumentError as error:
            return Reject(row, record_as_read(record), str(error))

    def _check(
        self, row: int, fields: dict[str, Any], record: Any
    ) -> Generator[ApiRequest, Any, Prepared | Reject]:
        def reject(reason: str) -> Reject:
            return Reject(row, record_as_read(record), reason)

        if "api_key" in fields:
            return reject("a record must not carry 'api_key': the key comes from the connection")
        contact_id = fields.pop(ID_FIELD, None)
        if contact_id is not None and not isinstance(contact_id, str):
            contact_id = str(contact_id)
        email = fields.get("email")
        if email is not None and not is_email(email):
            return reject(f"malformed email {email!r}")
        if contact_id is None:
            named = any(fields.get(name) for name in NAME_FIELDS)
            if email is None and not named:
                return reject(
                    "no email and no name (first_name or last_name): nothing to create a contact from"
                )
            if email is None and not fields.get("organization_name"):
                return reject(
                    "no email, and a name without organization_name: Apollo's dedupe matches on email, "
                    "then on name and company, so a re-run would create this person again"
                )
        else:
            if not fields:
                return reject(
                    f"nothing to update on contact {contact_id!r}: the record has no field besides id"
                )
            unknown = sorted(set(fields) - set(BULK_UPDATE_FIELDS) - {CUSTOM_FIELDS_KEY})
            if unknown:
                return reject(
                    f"bulk update does not take {', '.join(map(repr, unknown))} (it takes "
                    f"{', '.join(BULK_UPDATE_FIELDS)} and custom fields)"
                )
        if CUSTOM_FIELDS_KEY in fields:
            fields = apply_custom_fields(fields, (yield from self.lookups.custom_fields()), "record")
        owner = fields.get("owner_id")
        if isinstance(owner, str) and looks_like_email(owner):
            fields["owner_id"] = yield from self.lookups.owner_id(owner, "owner_id")
        if contact_id is None:
            return Prepared(row, KIND_CREATE, fields, record)
        return Prepared(row, KIND_UPDATE, {ID_FIELD: contact_id, **fields}, record)


# ------------------------------------------------------------------ Apollo's answers


def bulk_create_request(contacts: list[dict[str, Any]]) -> ApiRequest:
    """``POST /contacts/bulk_create`` with dedupe on: a resent batch matches what it created before."""
    return ApiRequest(
        "POST",
        PATH_BULK_CREATE,
        json_body={"contacts": contacts, "run_dedupe": True},
        idempotent=True,
        rate_group=PATH_BULK_CREATE,
    )


def read_create_answer(contacts: list[dict[str, Any]], body: Any) -> list[tuple[str, bool]]:
    """For each input, in order: the contact's id and whether Apollo created it (False: a dedupe match)."""
    if not isinstance(body, Mapping):
        raise ApolloApiError("Apollo answered a bulk create with an unexpected body", body=body)
    created = [c for c in body.get("created_contacts") or [] if isinstance(c, Mapping)]
    existing = [c for c in body.get("existing_contacts") or [] if isinstance(c, Mapping)]
    created_ids = {str(contact.get("id")) for contact in created}
    ordered = order_bulk_result(contacts, [dict(c) for c in created], [dict(c) for c in existing])
    return [(str(contact["id"]), str(contact["id"]) in created_ids) for contact in ordered]


def update_contact_attributes(
    contact_attributes: list[dict[str, Any]],
) -> Generator[ApiRequest, Any, list[dict[str, Any]]]:
    """
    One ``POST /contacts/bulk_update`` of per-contact values (``[{"id": ..., field: value}]``,
    names already resolved); the contacts Apollo answers with. Up to 100 contacts Apollo answers
    with each updated contact, so the caller can tell which ones it took.
    """
    sent_ids = [str(attributes[ID_FIELD]) for attributes in contact_attributes]
    body = yield bulk_update_request(contact_attributes=contact_attributes)
    return read_bulk_update(body, sent_ids)


def rows_named_in_error(error: ApolloValidationError, items: Sequence[Prepared]) -> list[Prepared]:
    """The update rows a 422 names by contact id (deleted or missing contacts), if it names any."""
    named = {str(i) for i in error.deleted_contact_ids}
    body = error.body if isinstance(error.body, Mapping) else {}
    ids = body.get("contact_ids")
    if isinstance(ids, list):
        named.update(str(i) for i in ids)
    if not named:
        return []
    return [item for item in items if item.kind == KIND_UPDATE and item.fields.get(ID_FIELD) in named]


def apollo_reason(error: ApolloApiError) -> str:
    body = error.body if isinstance(error.body, Mapping) else {}
    said = body.get("error") or body.get("message") or str(error)
    return f"Apollo refused the record ({error.status_code or 422}): {said}"


def send_bisecting(
    items: list[Prepared],
    send: Callable[[list[Prepared]], Generator[ApiRequest, Any, None]],
    on_reject: Callable[[Prepared, str], None],
) -> Generator[ApiRequest, Any, int]:
    """
    Send ``items`` as one call (``send(part)`` is the step generator of one call); when Apollo
    refuses the whole batch (422), send the halves, down to the single record it refuses, so the
    good records still go through. A 422 that names its contacts (deleted or missing ids) drops
    those at once. Returns the number of calls.

    Cost: one call per batch without a bad record; with ``k`` bad records in a batch of ``n``, at
    most about ``2·k·log2(n)`` more (a single bad record in 100: 14 calls, not 100).
    """
    calls = 0
    pending: list[list[Prepared]] = [items]
    while pending:
        part = pending.pop(0)
        if not part:
            continue
        calls += 1
        try:
            yield from send(part)
        except ApolloArgumentError:
            raise
        except ApolloValidationError as error:
            named = rows_named_in_error(error, part)
            if named:
                for item in named:
                    on_reject(item, apollo_reason(error))
                named_rows = {item.row for item in named}
                pending.insert(0, [item for item in part if item.row not in named_rows])
            elif len(part) == 1:
                on_reject(part[0], apollo_reason(error))
            else:
                middle = len(part) // 2
                pending[0:0] = [part[:middle], part[middle:]]
    return calls


# ------------------------------------------------------------------ the cursor and the batches


@dataclass
class UpsertCursor:
    """
    Where an upsert stands; small and JSON-only (it travels in the deferral's kwargs).

    ``offset``: records before it are settled (a resume reads on from ``offset + 1``).
    ``read_through``: the last record read; its validation rejects and every earlier one are saved.
    ``creates_through`` / ``updates_through``: the last record whose create / update batch was applied.
    ``rejects_parts`` / ``ids_parts``: the staged pieces of the rejects file and of the created ids.
    """

    offset: int = 0
    read_through: int = 0
    creates_through: int = 0
    updates_through: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNT_NAMES, 0))
    rejects_parts: list[str] = field(default_factory=list)
    ids_parts: list[str] = field(default_factory=list)
    calls: int = 0

    @classmethod
    def from_json(cls, value: Any) -> UpsertCursor:
        if value is None:
            return cls()
        if not isinstance(value, Mapping):
            raise ApolloArgumentError(f"an upsert checkpoint must be a dict, got {value!r}.")
        counts = dict.fromkeys(COUNT_NAMES, 0)
        counts.update({k: int(v) for k, v in (value.get("counts") or {}).items() if k in counts})
        return cls(
            offset=int(value.get("offset", 0)),
            read_through=int(value.get("read_through", 0)),
            creates_through=int(value.get("creates_through", 0)),
            updates_through=int(value.get("updates_through", 0)),
            counts=counts,
            rejects_parts=[str(p) for p in value.get("rejects_parts") or []],
            ids_parts=[str(p) for p in value.get("ids_parts") or []],
            calls=int(value.get("calls", 0)),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "offset": self.offset,
            "read_through": self.read_through,
            "creates_through": self.creates_through,
            "updates_through": self.updates_through,
            "counts": dict(self.counts),
            "rejects_parts": list(self.rejects_parts),
            "ids_parts": list(self.ids_parts),
            "calls": self.calls,
        }

    def settled(self, outcome: Prepared | Reject) -> bool:
        """Whether a record read again on resume was already dealt with before the stop."""
        if isinstance(outcome, Reject):
            return outcome.row <= self.read_through
        through = self.creates_through if outcome.kind == KIND_CREATE else self.updates_through
        return outcome.row <= through


@dataclass
class Batch:
    kind: str
    items: list[Prepared]

    @property
    def last_row(self) -> int:
        return self.items[-1].row


class Batcher:
    """
    Collects creates and updates into full batches (100 each), in row order. An update batch is
    sent early only when a contact id comes twice (bulk update takes each id once a call), so the
    later row still wins.
    """

    def __init__(self, create_size: int = CREATE_BATCH_SIZE, update_size: int = UPDATE_BATCH_SIZE) -> None:
        self.create_size = create_size
        self.update_size = update_size
        self.creates: list[Prepared] = []
        self.updates: list[Prepared] = []
        self._update_ids: set[str] = set()

    def add(self, item: Prepared) -> Iterator[Batch]:
        if item.kind == KIND_CREATE:
            self.creates.append(item)
            if len(self.creates) >= self.create_size:
                yield self._take(KIND_CREATE)
            return
        contact_id = str(item.fields[ID_FIELD])
        if contact_id in self._update_ids:
            yield self._take(KIND_UPDATE)
        self.updates.append(item)
        self._update_ids.add(contact_id)
        if len(self.updates) >= self.update_size:
            yield self._take(KIND_UPDATE)

    def drain(self) -> Iterator[Batch]:
        """The last, partial batches at the end of the source (creates first, then updates)."""
        if self.creates:
            yield self._take(KIND_CREATE)
        if self.updates:
            yield self._take(KIND_UPDATE)

    def first_pending_row(self) -> int | None:
        rows = [items[0].row for items in (self.creates, self.updates) if items]
        return min(rows) if rows else None

    def _take(self, kind: str) -> Batch:
        if kind == KIND_CREATE:
            items, self.creates = self.creates, []
        else:
            items, self.updates = self.updates, []
            self._update_ids = set()
        return Batch(kind, items)


def resume_offset(cursor: UpsertCursor, batcher: Batcher) -> int:
    """The records settled for sure: everything before the earliest row still waiting in a batch."""
    pending = batcher.first_pending_row()
    return cursor.read_through if pending is None else min(cursor.read_through, pending - 1)


def expected_calls(creates: int, updates: int) -> int:
    """The calls a clean upsert needs: ``ceil(creates/100) + ceil(updates/100)``."""
    return math.ceil(creates / CREATE_BATCH_SIZE) + math.ceil(updates / UPDATE_BATCH_SIZE)


def count_rows(outcomes: Iterable[Prepared | Reject]) -> dict[str, int]:
    """Creates, updates and rejects among prepared records (for plans and tests)."""
    totals = {KIND_CREATE: 0, KIND_UPDATE: 0, "reject": 0}
    for outcome in outcomes:
        totals["reject" if isinstance(outcome, Reject) else outcome.kind] += 1
    return totals


# ------------------------------------------------------------------ the upsert


@dataclass(frozen=True)
class BatchDone:
    """
    What :meth:`Upsert.steps` emits when a batch is settled (after the batch's rejects): the ids of
    the contacts it created, and the calls it took. The cursor already counts the batch.
    """

    kind: str
    created_ids: list[str]
    calls: int


@dataclass
class _BatchResult:
    """What the calls of one batch found, kept until the whole batch is settled."""

    rejects: list[Reject] = field(default_factory=list)
    created_ids: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(("created", "unchanged", "updated"), 0)
    )

    def reject(self, item: Prepared, reason: str) -> None:
        self.rejects.append(Reject(item.row, record_as_read(item.record), reason))


def _create_part(part: list[Prepared], result: _BatchResult) -> Generator[ApiRequest, Any, None]:
    """One bulk create; a dedupe match leaves the contact as it is (``unchanged``)."""
    contacts = [item.fields for item in part]
    for contact_id, is_new in read_create_answer(contacts, (yield bulk_create_request(contacts))):
        if is_new:
            result.created_ids.append(contact_id)
            result.counts["created"] += 1
        else:
            result.counts["unchanged"] += 1


def _update_part(part: list[Prepared], result: _BatchResult) -> Generator[ApiRequest, Any, None]:
    """One bulk update of existing contacts; a contact missing from Apollo's answer is a reject."""
    answered = yield from update_contact_attributes([item.fields for item in part])
    confirmed = {str(contact.get(ID_FIELD)) for contact in answered}
    for item in part:
        if str(item.fields[ID_FIELD]) in confirmed:
            result.counts["updated"] += 1
        else:
            result.reject(item, "Apollo's bulk update answer did not include this contact")


class Upsert:
    """
    One stretch of an upsert (to the end of the source, or to a quota stop), from its cursor.

    :meth:`steps` is the step generator the transfers drive with
    :func:`~airflow_provider_apollo.core.lifecycle.iter_steps` and the hook's ``call``. It takes the
    records as read, ``(row, record)`` pairs numbered from 1 (a record the reader could not parse
    comes as a :class:`Reject`), skips what the cursor says is settled, prepares the rest, and
    sends creates and updates in batches of 100, bisecting a batch Apollo refuses. It emits every
    :class:`Reject` to write to the rejects file and, per batch, a :class:`BatchDone`; it keeps
    :attr:`cursor` current and returns it at the end.

    A batch's outcome (counts, rejects, created ids) is emitted only once the whole batch is done:
    a batch cut short by a quota stop is sent again on resume, where dedupe matches what it created.
    After such a stop, :meth:`resume_offset` says where the resumed run reads on from.

    :param column_map: from :func:`check_column_map` (None: every column is a field).
    :param lookups: the team's names, for custom fields by label and owners by email.
    :param cursor: where the run stands (from the checkpoint); None at the start.
    """

    def __init__(
        self,
        column_map: Mapping[str, str] | None,
        lookups: TeamLookups,
        cursor: UpsertCursor | None = None,
        *,
        create_size: int = CREATE_BATCH_SIZE,
        update_size: int = UPDATE_BATCH_SIZE,
    ) -> None:
        self.cursor = cursor if cursor is not None else UpsertCursor()
        self.preparer = RowPreparer(column_map, lookups)
        self.batcher = Batcher(create_size, update_size)
        self._sending: Batch | None = None

    def steps(self, records: Iterable[tuple[int, Any]]) -> Generator[Step, Any, UpsertCursor]:
        """The upsert of ``records`` (read on from the cursor's offset) as requests; returns the cursor."""
        cursor = self.cursor
        for row, record in records:
            outcome = (
                record if isinstance(record, Reject) else (yield from self.preparer.prepare(row, record))
            )
            if not cursor.settled(outcome):
                if isinstance(outcome, Reject):
                    yield Emit(outcome)
                    cursor.counts["rejected"] += 1
                else:
                    for batch in self.batcher.add(outcome):
                        yield from self._send(batch)
            cursor.read_through = max(cursor.read_through, row)
        for batch in self.batcher.drain():
            yield from self._send(batch)
        return cursor

    def resume_offset(self) -> int:
        """
        After a stop, the records settled for sure (a resumed run reads on after them): everything
        before the earliest row still waiting in a batch, or in the batch that was being sent.
        """
        offset = resume_offset(self.cursor, self.batcher)
        if self._sending is not None:
            offset = min(offset, self._sending.items[0].row - 1)
        return offset

    def _send(self, batch: Batch) -> Generator[Step, Any, None]:
        """One batch, bisected on a 422; recorded in the cursor once the whole batch is done."""
        self._sending = batch
        result = _BatchResult()
        send_part = _create_part if batch.kind == KIND_CREATE else _update_part
        calls = yield from send_bisecting(batch.items, lambda part: send_part(part, result), result.reject)
        for reject in result.rejects:
            yield Emit(reject)
        cursor = self.cursor
        cursor.counts["rejected"] += len(result.rejects)
        for name, count in result.counts.items():
            cursor.counts[name] += count
        cursor.calls += calls
        if batch.kind == KIND_CREATE:
            cursor.creates_through = batch.last_row
        else:
            cursor.updates_through = batch.last_row
        self._sending = None
        yield Emit(BatchDone(batch.kind, result.created_ids, calls))
