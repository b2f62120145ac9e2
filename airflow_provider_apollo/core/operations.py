"""The operations that take more than one request, each one step generator, for both hooks.

Each function checks its arguments (before any request), resolves names through a
:class:`~airflow_provider_apollo.core.lookups.TeamLookups`, then yields its requests batch by batch
and handles what Apollo answers: a 403 said in the user's terms, a batch sent again without the
contacts Apollo reports deleted, contacts an enrollment answer does not mention looked up one by
one. Drive one with :func:`~airflow_provider_apollo.core.lifecycle.run_steps` (``ApolloHook``) or
:func:`~airflow_provider_apollo.core.lifecycle.arun_steps` (``ApolloAsyncHook``).

Batched operations take ``start_batch`` (a resumed job skips the batches it applied) and
``on_batch(index, result)``, called after each applied batch so a long job can record progress.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Sequence
from dataclasses import replace
from typing import Any, TypeVar

from airflow_provider_apollo.core.contacts import (
    MISSING,
    BulkUpdateResult,
    read_contact,
    update_contact_request,
)
from airflow_provider_apollo.core.endpoints import (
    BULK_UPDATE_MAX,
    BULK_UPDATE_SYNC_MAX,
    ID_BATCH_SIZE,
    LIST_BATCH_SIZE,
    PATH_ACCOUNT_BULK_UPDATE,
    PATH_ACCOUNT_UPDATE_OWNERS,
    PATH_CONTACTS,
    PATH_UPDATE_OWNERS,
    PATH_UPDATE_STAGES,
    ApiRequest,
    batched,
    get_contact_request,
    ids_params,
)
from airflow_provider_apollo.core.fields import (
    bulk_update_request,
    check_bulk_fields,
    check_contact_updates,
    read_bulk_update,
)
from airflow_provider_apollo.core.lists import check_list_names, list_membership_request, read_list_answer
from airflow_provider_apollo.core.lookups import TeamLookups
from airflow_provider_apollo.core.records import (
    ACCOUNTS,
    CONTACTS,
    DEALS,
    RecordType,
    bulk_create_request,
    check_record_fields,
    check_record_id,
    check_record_ids,
    check_records,
    create_request,
    match_bulk_answer,
    read_record,
    read_updated_records,
    update_request,
    view_request,
)
from airflow_provider_apollo.core.sequences import (
    ENROLLMENT_STATUSES,
    NOT_REPORTED,
    EnrollmentResult,
    check_enrollment_flags,
    check_remove_mode,
    enroll_request,
    membership,
    read_enrollment,
    remove_request,
)
from airflow_provider_apollo.core.validation import (
    check_contact,
    check_contact_ids,
    check_contacts,
    check_fields,
    check_int_range,
)
from airflow_provider_apollo.exceptions import ApolloArgumentError, ApolloAuthError, ApolloValidationError

log = logging.getLogger(__name__)

R = TypeVar("R")
OnBatch = Callable[[int, R], None] | None
Operation = Generator[ApiRequest, Any, R]


def unique_ids(contact_ids: Any, argument: str = "contact_ids") -> list[str]:
    """Checked contact ids, each once, in first-seen order."""
    return list(dict.fromkeys(check_contact_ids(contact_ids, argument)))


# ------------------------------------------------------------------ creating contacts


def get_contact(contact_id: Any) -> Operation[dict[str, Any]]:
    """One contact by id (``GET /contacts/{id}``); a deleted or unknown one is Apollo's error."""
    contact_id = check_contact_ids([contact_id], "contact_id")[0]
    return dict((yield get_contact_request(contact_id))["contact"])


def create_contact(
    lookups: TeamLookups, contact: Any, *, run_dedupe: bool = False
) -> Operation[dict[str, Any]]:
    """
    Create one contact (names in ``custom_fields`` and an owner's email resolved first); with
    ``run_dedupe`` a matching contact is updated instead.

    Without dedupe Apollo always creates, so the request is retried only when it cannot have
    been applied (429, connection refused); with dedupe every retry is safe.
    """
    fields = yield from lookups.contact_fields(check_contact(contact, "contact"), "contact")
    request = ApiRequest(
        "POST",
        PATH_CONTACTS,
        json_body={**fields, "run_dedupe": bool(run_dedupe)},
        idempotent=bool(run_dedupe),
    )
    return dict((yield request)["contact"])


def update_contact(lookups: TeamLookups, contact_id: Any, fields: Any) -> Operation[dict[str, Any]]:
    """Update one contact's fields, names resolved first (``label_names`` replaces its lists)."""
    request = update_contact_request(contact_id, fields)
    resolved = yield from lookups.contact_fields(request.json_body or {}, "fields")
    return dict((yield replace(request, json_body=resolved))["contact"])


def bulk_create_contacts(
    lookups: TeamLookups,
    contacts: Any,
    *,
    run_dedupe: bool = False,
    start_batch: int = 0,
    on_batch: OnBatch[list[dict[str, Any]]] = None,
) -> Operation[list[dict[str, Any]]]:
    """
    Create contacts in batches of 100: one contact object per input, created or existing, in input
    order (of the batches this call sent). Every contact's names are resolved before the first write.
    """
    checked = check_contacts(contacts)
    resolved = []
    for index, contact in enumerate(checked):
        resolved.append((yield from lookups.contact_fields(contact, f"contacts[{index}]")))
    return (
        yield from bulk_create_records(
            CONTACTS, resolved, run_dedupe=run_dedupe, start_batch=start_batch, on_batch=on_batch
        )
    )


def bulk_create_records(
    record: RecordType,
    items: list[dict[str, Any]],
    *,
    run_dedupe: bool = False,
    start_batch: int = 0,
    on_batch: OnBatch[list[dict[str, Any]]] = None,
) -> Operation[list[dict[str, Any]]]:
    """
    Records (fields checked and resolved) created through the record type's bulk create,
    ``bulk_create_max`` a request: one record per input, created or existing, in input order
    (:func:`~airflow_provider_apollo.core.records.match_bulk_answer`).
    """
    if record.bulk_create_max is None:
        raise ApolloArgumentError(f"Apollo has no bulk create for {record.plural}.")
    results: list[dict[str, Any]] = []
    batches = list(batched(items, record.bulk_create_max))
    for index in range(start_batch, len(batches)):
        batch = batches[index]
        body = yield bulk_create_request(record, batch, run_dedupe)
        created = body.get(record.created_key or "") or []
        existing = body.get(record.existing_key or "") or []
        ordered = match_bulk_answer(record, batch, created, existing)
        results.extend(ordered)
        if on_batch is not None:
            on_batch(index, ordered)
    return results


# ------------------------------------------------------------------ stages and owners


def update_contact_stages(
    lookups: TeamLookups,
    contact_ids: Any,
    stage: Any,
    *,
    skip_deleted: bool = False,
    start_batch: int = 0,
    on_batch: OnBatch[BulkUpdateResult] = None,
) -> Operation[BulkUpdateResult]:
    """Move contacts to a stage (id or name), 100 a request; see :func:`update_in_batches`."""
    ids = unique_ids(contact_ids)
    stage_id = yield from lookups.stage_id(stage)
    return (
        yield from update_in_batches(
            PATH_UPDATE_STAGES, ids, {"contact_stage_id": stage_id}, skip_deleted, start_batch, on_batch
        )
    )


def update_contact_owners(
    lookups: TeamLookups,
    contact_ids: Any,
    owner: Any,
    *,
    skip_deleted: bool = False,
    start_batch: int = 0,
    on_batch: OnBatch[BulkUpdateResult] = None,
) -> Operation[BulkUpdateResult]:
    """Assign contacts to an owner (a user id, or an email looked up), 100 a request."""
    ids = unique_ids(contact_ids)
    owner_id = yield from lookups.owner_id(owner, "owner_id")
    return (
        yield from update_in_batches(
            PATH_UPDATE_OWNERS, ids, {"owner_id": owner_id}, skip_deleted, start_batch, on_batch
        )
    )


def update_in_batches(
    path: str,
    contact_ids: list[str],
    value: dict[str, str],
    skip_deleted: bool,
    start_batch: int,
    on_batch: OnBatch[BulkUpdateResult],
    *,
    record: RecordType = CONTACTS,
) -> Operation[BulkUpdateResult]:
    """
    One value for many records (contacts unless ``record`` says otherwise), ``ID_BATCH_SIZE`` ids a
    request (as query parameters named after the record type: ``contact_ids[]``, ``account_ids[]``).

    A batch naming deleted contacts is refused by Apollo as a whole (422 with
    ``deleted_contact_ids``): by default that raises ``ApolloValidationError`` carrying the ids;
    with ``skip_deleted`` the batch is sent again without them, and the result's
    ``skipped_deleted_ids`` lists them.
    """
    ids_param = record.ids_param or "contact_ids"
    updated: list[dict[str, Any]] = []
    skipped: list[str] = []
    batches = list(batched(contact_ids, ID_BATCH_SIZE))
    for index in range(start_batch, len(batches)):
        batch = batches[index]
        done = BulkUpdateResult()
        while batch:
            try:
                body = yield ApiRequest("POST", path, params=ids_params(ids_param, batch, value))
            except ApolloValidationError as error:
                if not (skip_deleted and error.deleted_contact_ids):
                    raise
                deleted = set(error.deleted_contact_ids)
                done.skipped_deleted_ids.extend(i for i in batch if i in deleted)
                log.warning("Skipping %d deleted contacts: %s", len(deleted), sorted(deleted))
                batch = [i for i in batch if i not in deleted]
                continue
            done.extend(body.get(record.many_key) or [])
            break
        updated.extend(done)
        skipped.extend(done.skipped_deleted_ids)
        if on_batch is not None:
            on_batch(index, done)
    return BulkUpdateResult(updated, skipped_deleted_ids=skipped)


# ------------------------------------------------------------------ bulk update


def bulk_update_contacts(
    lookups: TeamLookups,
    updates: Sequence[dict[str, Any]] | None = None,
    *,
    contact_ids: Sequence[str] | None = None,
    values: dict[str, Any] | None = None,
    batch_size: int = BULK_UPDATE_SYNC_MAX,
    start_batch: int = 0,
    on_batch: OnBatch[BulkUpdateResult] = None,
) -> Operation[BulkUpdateResult]:
    """
    Update many contacts' fields through ``POST /contacts/bulk_update``: per-contact ``updates``
    (``[{"id": ..., field: value}]``) or the same ``values`` for all ``contact_ids``.

    ``custom_fields`` (by label) and ``owner_id`` (id or email) are resolved first, for every
    contact, so a bad name fails before the first write. Batches of ``batch_size``: up to 100
    Apollo answers with the updated contacts; up to 1,000 it answers with a background job
    (``{"id": ...}`` per contact it took on).
    """
    batch_size = check_int_range(batch_size, "batch_size", 1, BULK_UPDATE_MAX)
    run_async = batch_size > BULK_UPDATE_SYNC_MAX
    if (updates is None) == (contact_ids is None):
        raise ApolloArgumentError(
            "bulk_update_contacts takes either updates=[...] or contact_ids= with values=."
        )
    requests: list[ApiRequest] = []
    sent: list[list[str]] = []
    if updates is not None:
        resolved = []
        for index, update in enumerate(check_contact_updates(updates)):
            resolved.append((yield from lookups.contact_fields(update, f"contacts[{index}]")))
        for batch in batched(resolved, batch_size):
            requests.append(bulk_update_request(contact_attributes=batch, run_async=run_async))
            sent.append([str(update["id"]) for update in batch])
    else:
        ids = unique_ids(contact_ids)
        if not ids:
            raise ApolloArgumentError("contact_ids is empty: give at least one contact id.")
        shared = check_bulk_fields(check_fields(values, "values"), "values")
        shared = yield from lookups.contact_fields(shared, "values")
        for batch in batched(ids, batch_size):
            requests.append(bulk_update_request(contact_ids=batch, values=shared, run_async=run_async))
            sent.append(batch)
    updated = BulkUpdateResult()
    for index in range(start_batch, len(requests)):
        done = BulkUpdateResult(read_bulk_update((yield requests[index]), sent[index]))
        updated.extend(done)
        if on_batch is not None:
            on_batch(index, done)
    return updated


# ------------------------------------------------------------------ sequences


def add_to_sequence(
    lookups: TeamLookups,
    sequence: Any,
    contact_ids: Any,
    *,
    mailbox: Any,
    status: str | None = None,
    auto_unpause_at: str | None = None,
    user_id: str | None = None,
    flags: dict[str, Any] | None = None,
    start_batch: int = 0,
    on_batch: OnBatch[EnrollmentResult] = None,
) -> Operation[EnrollmentResult]:
    """
    Enroll contacts in a sequence from a mailbox, 100 contacts a request (needs a master key).

    ``flags`` are Apollo's enrollment flags, all False unless given. Contacts Apollo declines come
    back in ``skipped`` with its reason; a contact already in the sequence counts as enrolled, so a
    retry enrolls nobody twice. Contacts Apollo's answer does not mention are looked up (one GET
    each) and counted by what their membership shows. A 403 says which access the key lacks and
    how many batches were enrolled before it.
    """
    ids = unique_ids(contact_ids)
    checked_flags = check_enrollment_flags(flags or {})
    if status is not None and status not in ENROLLMENT_STATUSES:
        raise ApolloArgumentError(f"status must be 'active' or 'paused', got {status!r}.")
    target = yield from lookups.sequence(sequence)
    sender = yield from lookups.mailbox(mailbox)
    result = EnrollmentResult()
    batches = list(batched(ids, ID_BATCH_SIZE))
    for index in range(start_batch, len(batches)):
        batch = batches[index]
        request = enroll_request(
            target.id,
            batch,
            sender,
            checked_flags,
            status=status,
            auto_unpause_at=auto_unpause_at,
            user_id=user_id,
        )
        try:
            answer = yield request
        except ApolloAuthError as error:
            if error.status_code != 403:
                raise
            raise ApolloAuthError(
                f"Enrolling contacts in sequence {target.name!r} needs an API key with access to "
                "api/v1/emailer_campaigns/add_contact_ids or a master API key, and this connection's "
                f"key was refused (403): nothing in this batch was enrolled ({index} batch(es) of "
                f"{ID_BATCH_SIZE} before it were). Give the key access to that endpoint (Apollo: "
                "Settings > Integrations > API keys) or put a master key in the connection. "
                f"Apollo said: {error.message}",
                status_code=403,
                body=error.body,
            ) from None
        done, unreported = read_enrollment(batch, answer)
        for contact_id in unreported:
            contact = yield from read_contact(contact_id)
            if contact is MISSING:
                done.skipped[contact_id] = "contact_not_found"
            elif membership(contact.get("contact") or {}, target.id) is not None:
                done.enrolled.append(contact_id)
                done.already_enrolled.append(contact_id)
            else:
                done.skipped[contact_id] = NOT_REPORTED
        result.merge(done)
        if on_batch is not None:
            on_batch(index, done)
    return result


def remove_from_sequence(
    lookups: TeamLookups, sequence: Any, contact_ids: Any, *, mode: str = "finish"
) -> Operation[list[str]]:
    """
    Mark contacts finished in a sequence (``mode="finish"``), remove them, or stop them; 100 a
    request. Returns the ids Apollo answered for (contacts that exist).
    """
    ids = unique_ids(contact_ids)
    mode = check_remove_mode(mode)
    target = yield from lookups.sequence(sequence)
    answered: list[str] = []
    for batch in batched(ids, ID_BATCH_SIZE):
        body = yield remove_request(target.id, batch, mode)
        contacts = body.get("contacts") if isinstance(body, dict) else None
        if isinstance(contacts, list):
            returned = {str(c.get("id")) for c in contacts if isinstance(c, dict)}
            answered.extend(i for i in batch if i in returned)
        else:  # a background job: Apollo took the whole batch
            answered.extend(batch)
    return answered


# ------------------------------------------------------------------ lists


def change_lists(
    add: bool,
    contact_ids: Any,
    list_names: Any,
    *,
    start_batch: int = 0,
    on_batch: OnBatch[list[str]] = None,
) -> Operation[list[str]]:
    """Add contacts to lists by name (Apollo creates a missing list), or remove them; 1,000 ids a request."""
    ids = unique_ids(contact_ids)
    names = check_list_names(list_names)
    sent: list[str] = []
    batches = list(batched(ids, LIST_BATCH_SIZE))
    for index in range(start_batch, len(batches)):
        read_list_answer((yield list_membership_request(add, batches[index], names)))
        sent.extend(batches[index])
        if on_batch is not None:
            on_batch(index, batches[index])
    return sent


# ------------------------------------------------------------------ accounts and deals
# The same steps as the contacts' above, over a RecordType (core.records): what differs between
# record types is a description, not code.


def get_record(record: RecordType, record_id: Any, argument: str) -> Operation[dict[str, Any]]:
    """One record by id (``GET``); an unknown one is Apollo's error (422, or 404 for a deal)."""
    record_id = check_record_id(record, record_id, argument)
    return read_record(record, (yield view_request(record, record_id)))


def create_record(
    lookups: TeamLookups, record: RecordType, fields: Any, argument: str
) -> Operation[dict[str, Any]]:
    """
    Create one record (``POST``) with its documented fields, stage and owner names resolved first.

    Apollo deduplicates no account or deal on this call, so the request is retried only when it
    cannot have been applied (429, connection refused).
    """
    checked = check_record_fields(record, fields, argument, record.create_fields, creating=True)
    resolved = yield from lookups.record_fields(record, checked, argument)
    return read_record(record, (yield create_request(record, resolved)))


def update_record(
    lookups: TeamLookups, record: RecordType, record_id: Any, fields: Any, id_argument: str
) -> Operation[dict[str, Any]]:
    """Update one record's documented fields (``PATCH``), stage and owner names resolved first."""
    record_id = check_record_id(record, record_id, id_argument)
    checked = check_record_fields(record, fields, "fields", record.update_fields)
    resolved = yield from lookups.record_fields(record, checked, "fields")
    return read_record(record, (yield update_request(record, record_id, resolved)))


def get_account(account_id: Any) -> Operation[dict[str, Any]]:
    """One account by id (``GET /accounts/{id}``, with its company fields and contact counts)."""
    return (yield from get_record(ACCOUNTS, account_id, "account_id"))


def get_deal(deal_id: Any) -> Operation[dict[str, Any]]:
    """One deal by id (``GET /opportunities/{id}``, with its ``account``)."""
    return (yield from get_record(DEALS, deal_id, "deal_id"))


def create_account(
    lookups: TeamLookups, account: Any, *, run_dedupe: bool = False
) -> Operation[dict[str, Any]]:
    """
    Create one account from Create an Account's fields (``stage`` by name or id, an owner by
    email). Apollo does not deduplicate this call: without ``run_dedupe`` it always creates
    (``POST /accounts``). With ``run_dedupe`` the account goes through bulk create, Apollo's only
    deduplicating create: an existing account with its domain, organization id or name is
    returned unchanged (bulk create's shorter answer), and every retry is safe.
    """
    if not run_dedupe:
        return (yield from create_record(lookups, ACCOUNTS, account, "account"))
    checked = check_record_fields(ACCOUNTS, account, "account", ACCOUNTS.create_fields, creating=True)
    resolved = yield from lookups.record_fields(ACCOUNTS, checked, "account")
    [found] = yield from bulk_create_records(ACCOUNTS, [resolved], run_dedupe=True)
    return found


def bulk_create_accounts(
    lookups: TeamLookups,
    accounts: Any,
    *,
    run_dedupe: bool = False,
    start_batch: int = 0,
    on_batch: OnBatch[list[dict[str, Any]]] = None,
) -> Operation[list[dict[str, Any]]]:
    """
    Create accounts 100 a request (Bulk Create Accounts' fields): one account per input, created
    or existing, in input order. Existing accounts come back unchanged; without ``run_dedupe``
    Apollo matches only by CRM id, with it also by domain, organization id and name. Every entry
    is checked, and its stage and owner resolved, before the first write.
    """
    checked = check_records(ACCOUNTS, accounts, "accounts", ACCOUNTS.bulk_create_fields)
    resolved = []
    for index, fields in enumerate(checked):
        resolved.append((yield from lookups.record_fields(ACCOUNTS, fields, f"accounts[{index}]")))
    return (
        yield from bulk_create_records(
            ACCOUNTS, resolved, run_dedupe=run_dedupe, start_batch=start_batch, on_batch=on_batch
        )
    )


def update_account(lookups: TeamLookups, account_id: Any, fields: Any) -> Operation[dict[str, Any]]:
    """Update one account's documented fields (``PATCH /accounts/{id}``; ``stage`` by name or id)."""
    return (yield from update_record(lookups, ACCOUNTS, account_id, fields, "account_id"))


def update_account_stages(
    lookups: TeamLookups,
    account_ids: Any,
    stage: Any,
    *,
    batch_size: int = BULK_UPDATE_MAX,
    start_batch: int = 0,
    on_batch: OnBatch[BulkUpdateResult] = None,
) -> Operation[BulkUpdateResult]:
    """
    Move accounts to a stage (id or name) through Bulk Update Accounts, the reference's way to
    change many accounts' stage: ``account_ids`` with one ``account_stage_id``, up to 1,000 a
    request (``batch_size``). Returns the accounts Apollo answered (``{id, account_stage_id}``).
    """
    ids = check_record_ids(ACCOUNTS, account_ids, "account_ids")
    batch_size = check_int_range(batch_size, "batch_size", 1, BULK_UPDATE_MAX)
    stage_id = yield from lookups.stage_id(stage, ACCOUNTS, "account_stage")
    updated = BulkUpdateResult()
    batches = list(batched(ids, batch_size))
    for index in range(start_batch, len(batches)):
        batch = batches[index]
        body = yield ApiRequest(
            "POST", PATH_ACCOUNT_BULK_UPDATE, json_body={"account_ids": batch, "account_stage_id": stage_id}
        )
        done = BulkUpdateResult(read_updated_records(ACCOUNTS, body, batch))
        updated.extend(done)
        if on_batch is not None:
            on_batch(index, done)
    return updated


def update_account_owners(
    lookups: TeamLookups,
    account_ids: Any,
    owner: Any,
    *,
    start_batch: int = 0,
    on_batch: OnBatch[BulkUpdateResult] = None,
) -> Operation[BulkUpdateResult]:
    """Assign accounts to an owner (a user id, or an email looked up), 100 a request (``update_owners``)."""
    ids = check_record_ids(ACCOUNTS, account_ids, "account_ids")
    owner_id = yield from lookups.owner_id(owner, "owner_id")
    return (
        yield from update_in_batches(
            PATH_ACCOUNT_UPDATE_OWNERS,
            ids,
            {"owner_id": owner_id},
            False,
            start_batch,
            on_batch,
            record=ACCOUNTS,
        )
    )


def create_deal(lookups: TeamLookups, deal: Any) -> Operation[dict[str, Any]]:
    """
    Create one deal (``POST /opportunities``): ``name`` required; ``stage`` or
    ``opportunity_stage_id`` by name or id, an owner by email, ``amount`` as a number or digits,
    ``closed_date`` as ``YYYY-MM-DD`` or a date. Apollo has no dedupe for deals: the request is
    not retried once it may have been applied.
    """
    return (yield from create_record(lookups, DEALS, deal, "deal"))


def update_deal(lookups: TeamLookups, deal_id: Any, fields: Any) -> Operation[dict[str, Any]]:
    """Update one deal's documented fields (``PATCH /opportunities/{id}``; its stage by name or id)."""
    return (yield from update_record(lookups, DEALS, deal_id, fields, "deal_id"))
