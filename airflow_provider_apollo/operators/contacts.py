"""Operators that create and update Apollo contacts: argument checks, one hook call, ids to XCom.

The bulk forms (many contacts created, stages and owners updated) are long jobs: at an exhausted
hourly or daily quota they defer until the reset and resume from the next batch, and a new try after
a killed worker resumes from the checkpoint the job saved as it went (Airflow 3.3 and later).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from airflow.providers.common.compat.sdk import Context

from airflow_provider_apollo.arguments import (
    check_contact_ids_argument,
    check_native_argument,
    is_resolved_later,
    non_empty_string,
)
from airflow_provider_apollo.core import (
    BULK_CREATE_MAX,
    BULK_UPDATE_SYNC_MAX,
    ID_BATCH_SIZE,
    PART_MAX_IDS,
    PATH_BULK_CREATE,
    PATH_BULK_UPDATE,
    PATH_UPDATE_OWNERS,
    PATH_UPDATE_STAGES,
    BatchCursor,
    BulkUpdateResult,
    check_contact_updates,
)
from airflow_provider_apollo.exceptions import (
    ApolloArgumentError,
    ApolloRateLimitError,
    ApolloValidationError,
)
from airflow_provider_apollo.links import ApolloContactsLink
from airflow_provider_apollo.operators.base import ApolloLongJobOperator

# Where the ids of the batches applied so far wait, in parts: the task state store (every try of
# the task reads them), or XCom without one (a task's XComs outlive its deferral, not a new try).
CREATED_IDS_KEY = "apollo_created_ids_"


class ApolloCreateContactOperator(ApolloLongJobOperator):
    """
    Create one contact, or many through Apollo's bulk create (100 per request).

    ``run_dedupe`` defaults to True so a retried task updates the contact it created on the first
    try instead of creating a duplicate (Apollo has no idempotency key).

    :param contact: one contact's fields (``first_name``, ``email``, ...); XCom: its id. Templated.
    :param contacts: a list of contacts' fields; XCom: their ids, in input order. Templated.
    :param run_dedupe: let Apollo match an existing contact (email, name and company...) and update
        it instead of creating a new one.
    :param apollo_conn_id: the Airflow connection id.
    """

    template_fields: Sequence[str] = ("contact", "contacts")
    operator_extra_links = (ApolloContactsLink(),)
    ui_color = "#e8f0fe"

    def __init__(
        self,
        *,
        contact: dict[str, Any] | str | None = None,
        contacts: list[dict[str, Any]] | str | None = None,
        run_dedupe: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if (contact is None) == (contacts is None):
            raise ApolloArgumentError(
                f"{type(self).__name__} {self.task_id!r}: pass exactly one of contact= (one contact's "
                f"fields) or contacts= (a list of them), got {'both' if contact is not None else 'neither'}."
            )
        if not isinstance(run_dedupe, bool):
            raise ApolloArgumentError(f"run_dedupe must be True or False, got {run_dedupe!r}.")
        self.contact = contact
        self.contacts = contacts
        self.run_dedupe = run_dedupe
        if contact is not None and not is_resolved_later(contact):
            _check_contact_argument(contact, "contact")
        if contacts is not None and not is_resolved_later(contacts):
            _check_contacts_argument(contacts)

    crash_safe = True
    resume_arguments = ("run_dedupe",)
    checkpoint_part_key = CREATED_IDS_KEY

    def uses_checkpoints(self) -> bool:
        return self.contacts is not None

    def run_job(self, context: Context, checkpoint: Any) -> str | list[str]:
        if self.contact is not None:
            # custom_fields by label and an owner's email are resolved by the hook before any write.
            created = self.hook.create_contact(
                _check_contact_argument(self.contact, "contact"), run_dedupe=self.run_dedupe
            )
            self.log.info(
                "Created contact %s%s",
                created["id"],
                " (or updated the existing match: run_dedupe is on)" if self.run_dedupe else "",
            )
            return str(created["id"])
        contacts = _check_contacts_argument(self.contacts)
        cursor = BatchCursor.from_json(checkpoint)
        total = self.hook.batch_count(len(contacts), BULK_CREATE_MAX)
        # The ids of the batches before the cursor, saved in parts; then this stretch's, not yet saved.
        saved_ids = self._saved_ids(context, cursor, len(contacts))
        pending: list[str] = []
        first = cursor.next_batch

        def durable() -> dict[str, Any]:
            """Save the pending ids as a part (before the checkpoint that names it); the checkpoint."""
            if pending:
                self.save_part(context, cursor.saved_chunks, pending)
                cursor.saved_chunks += 1
                saved_ids.extend(pending)
                pending.clear()
            return cursor.to_json()

        def record(index: int, batch: list[dict[str, Any]]) -> None:
            pending.extend(str(contact["id"]) for contact in batch)
            cursor.next_batch = index + 1
            self.log_batch_progress(
                f"{len(contacts):,} contacts", index + 1, total, PATH_BULK_CREATE, first=index == first
            )
            # Without dedupe a batch sent again creates its contacts again: save after every one.
            self.save_progress(durable, force=not self.run_dedupe or len(pending) >= PART_MAX_IDS)

        try:
            self.hook.bulk_create_contacts(
                contacts, run_dedupe=self.run_dedupe, start_batch=cursor.next_batch, on_batch=record
            )
        except ApolloRateLimitError as error:
            left = len(contacts) - cursor.next_batch * BULK_CREATE_MAX
            raise self.quota_stop(error, durable, f"{left:,} of {len(contacts):,} contacts") from None
        ids = saved_ids + pending
        self.log.info(
            "Created %d contacts in %d bulk request(s)%s",
            len(ids),
            total,
            " (existing matches updated: run_dedupe is on)" if self.run_dedupe else "",
        )
        return ids

    def _saved_ids(self, context: Context, cursor: BatchCursor, count: int) -> list[str]:
        """The ids the checkpoint's parts hold; all of them, or the cursor starts over."""
        parts = self.load_parts(context, cursor.saved_chunks)
        ids = [str(contact_id) for part in parts for contact_id in (part or [])]
        expected = min(cursor.next_batch * BULK_CREATE_MAX, count)
        if len(ids) != expected or any(part is None for part in parts):
            if cursor.next_batch:
                self.log.warning(
                    "The checkpoint names %d created contacts but %d ids were found with it: starting "
                    "from the first batch (run_dedupe=%s).",
                    expected,
                    len(ids),
                    self.run_dedupe,
                )
            cursor.next_batch = cursor.saved_chunks = 0
            return []
        return ids


def _check_contact_argument(value: Any, argument: str) -> dict[str, Any]:
    contact = check_native_argument(value, argument, dict)
    if not contact:
        raise ApolloArgumentError(f"{argument} is empty: give the contact's fields (first_name, email ...).")
    if "api_key" in contact:
        raise ApolloArgumentError(
            f"{argument} must not contain 'api_key': the key comes from the connection."
        )
    return dict(contact)


def _check_contacts_argument(value: Any) -> list[dict[str, Any]]:
    contacts = check_native_argument(value, "contacts", list)
    if not contacts:
        raise ApolloArgumentError("contacts is empty: give at least one contact's fields.")
    return [_check_contact_argument(item, f"contacts[{index}]") for index, item in enumerate(contacts)]


class ApolloUpdateContactOperator(ApolloLongJobOperator):
    """
    Update one contact's fields, or many contacts' through Apollo's bulk update.

    Fields may hold ``custom_fields: {label: value}`` (picklist values by their text) and an
    ``owner_id`` given as the user's email; both are resolved before any write, and an unknown
    field, value or owner fails listing the known ones. For one contact ``label_names`` replaces
    its lists. The many-contacts form sends 100 contacts a request (each answer confirms the
    update), checkpoints its batches and waits out exhausted quotas like the other bulk operators;
    sending the same values again changes nothing.

    :param contact_id: the contact's id (with ``fields``). Templated.
    :param fields: the fields to set on that contact. Templated.
    :param contacts: instead of the two above, ``[{"id": ..., field: value, ...}, ...]``: each
        contact's own values, through ``POST /contacts/bulk_update``. Templated.
    :param apollo_conn_id: the Airflow connection id.
    """

    template_fields: Sequence[str] = ("contact_id", "fields", "contacts")
    operator_extra_links = (ApolloContactsLink(),)
    ui_color = "#e8f0fe"

    def __init__(
        self,
        *,
        contact_id: str | None = None,
        fields: dict[str, Any] | str | None = None,
        contacts: list[dict[str, Any]] | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        single = contact_id is not None or fields is not None
        if single == (contacts is not None) or (single and (contact_id is None or fields is None)):
            raise ApolloArgumentError(
                f"{type(self).__name__} {self.task_id!r}: pass either contact_id= and fields= (one "
                "contact) or contacts= (a list of {'id': ..., field: value} dicts), not both or neither."
            )
        self.contact_id = contact_id
        self.fields = fields
        self.contacts = contacts
        if contact_id is not None and not is_resolved_later(contact_id):
            non_empty_string(contact_id, "contact_id", "a contact id")
        if fields is not None and not is_resolved_later(fields):
            _check_contact_argument(fields, "fields")
        if contacts is not None and not is_resolved_later(contacts):
            check_contact_updates(check_native_argument(contacts, "contacts", list))

    crash_safe = True

    def uses_checkpoints(self) -> bool:
        return self.contacts is not None

    def run_job(self, context: Context, checkpoint: Any) -> str | list[str]:
        if self.contacts is None:
            contact_id = non_empty_string(self.contact_id, "contact_id", "a contact id")
            fields = _check_contact_argument(self.fields, "fields")
            self.hook.update_contact(contact_id, fields)
            self.log.info("Updated contact %s: set %s", contact_id, ", ".join(sorted(fields)))
            return contact_id
        updates = check_contact_updates(check_native_argument(self.contacts, "contacts", list))
        ids = [str(update["id"]) for update in updates]
        cursor = BatchCursor.from_json(checkpoint)
        total = self.hook.batch_count(len(updates), BULK_UPDATE_SYNC_MAX)
        first = cursor.next_batch

        def record(index: int, done: BulkUpdateResult) -> None:
            cursor.next_batch = index + 1
            self.log_batch_progress(
                f"{len(updates):,} contacts", index + 1, total, PATH_BULK_UPDATE, first=index == first
            )
            self.save_progress(cursor.to_json)

        try:
            self.hook.bulk_update_contacts(updates, start_batch=cursor.next_batch, on_batch=record)
        except ApolloRateLimitError as error:
            left = len(updates) - cursor.next_batch * BULK_UPDATE_SYNC_MAX
            raise self.quota_stop(error, cursor.to_json, f"{left:,} of {len(updates):,} contacts") from None
        self.log.info("Updated %d contacts in %d bulk request(s)", len(ids), total)
        return ids


class _ApolloBulkUpdateOperator(ApolloLongJobOperator):
    """Shared by the stage and owner updates: id checks, deleted contacts, the XCom value."""

    template_fields: Sequence[str] = ("contact_ids",)
    operator_extra_links = (ApolloContactsLink(),)
    ui_color = "#e8f0fe"
    crash_safe = True
    resume_arguments = ("skip_deleted",)

    def __init__(self, *, contact_ids: list[str] | str, skip_deleted: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.contact_ids = contact_ids
        if not isinstance(skip_deleted, bool):
            raise ApolloArgumentError(f"skip_deleted must be True or False, got {skip_deleted!r}.")
        self.skip_deleted = skip_deleted
        if not is_resolved_later(contact_ids):
            check_contact_ids_argument(contact_ids)

    def _report_deleted(self, error: ApolloValidationError, action: str) -> ApolloValidationError:
        deleted = list(error.deleted_contact_ids)
        shown = ", ".join(deleted[:20]) + (f" and {len(deleted) - 20} more" if len(deleted) > 20 else "")
        return ApolloValidationError(
            f"Could not {action}: {len(deleted)} of the contacts are deleted in Apollo: {shown}. "
            "Remove them upstream, or pass skip_deleted=True to update the others and log these. "
            "Batches of 100 sent before this one were applied.",
            status_code=error.status_code,
            body=error.body,
            deleted_contact_ids=deleted,
        )

    def _update(
        self,
        update: Callable[..., BulkUpdateResult],
        endpoint: str,
        action: str,
        contact_ids: list[str],
        checkpoint: Any,
    ) -> list[str]:
        """Send the batches from the checkpoint; the XCom value: the updated ids in input order."""
        unique_ids = list(dict.fromkeys(contact_ids))
        cursor = BatchCursor.from_json(checkpoint)
        skipped = cursor.skipped_deleted_ids = cursor.skipped_deleted_ids or []
        total = self.hook.batch_count(len(unique_ids))
        first = cursor.next_batch

        def record(index: int, done: BulkUpdateResult) -> None:
            cursor.next_batch = index + 1
            skipped.extend(done.skipped_deleted_ids)
            self.log_batch_progress(
                f"{len(unique_ids):,} contacts", index + 1, total, endpoint, first=index == first
            )
            # Moving a contact to a stage (or owner) twice changes nothing: saving on the interval is enough.
            self.save_progress(cursor.to_json)

        try:
            update(unique_ids, skip_deleted=self.skip_deleted, start_batch=cursor.next_batch, on_batch=record)
        except ApolloRateLimitError as error:
            left = len(unique_ids) - cursor.next_batch * ID_BATCH_SIZE
            raise self.quota_stop(
                error, cursor.to_json, f"{left:,} of {len(unique_ids):,} contacts"
            ) from None
        except ApolloValidationError as error:
            if error.deleted_contact_ids:
                raise self._report_deleted(error, action) from None
            raise
        if skipped:
            self.log.warning("Skipped %d deleted contacts (skip_deleted=True): %s", len(skipped), skipped)
        left_out = set(skipped)
        return [contact_id for contact_id in unique_ids if contact_id not in left_out]


class ApolloUpdateStagesOperator(_ApolloBulkUpdateOperator):
    """
    Move contacts to a contact stage, in batches of 100.

    The stage name is checked against the team's stages before any update is sent; an unknown name
    fails listing the known ones.

    :param contact_ids: the contacts' ids: a list, an ``XComArg`` or a template rendering to a list.
    :param contact_stage: the stage's id or display name (``"Interested"``, case-insensitive). Templated.
    :param skip_deleted: update the other contacts when some are deleted (and log their ids) instead
        of failing.
    :param apollo_conn_id: the Airflow connection id.
    """

    template_fields: Sequence[str] = ("contact_ids", "contact_stage")

    def __init__(self, *, contact_ids: list[str] | str, contact_stage: str, **kwargs: Any) -> None:
        super().__init__(contact_ids=contact_ids, **kwargs)
        self.contact_stage = contact_stage
        if not is_resolved_later(contact_stage):
            non_empty_string(contact_stage, "contact_stage", "a stage id or name")

    def run_job(self, context: Context, checkpoint: Any) -> list[str]:
        contact_ids = check_contact_ids_argument(self.contact_ids)
        stage = non_empty_string(self.contact_stage, "contact_stage", "a stage id or name")
        stage_id = self.hook.resolve_contact_stage_id(stage)
        stage_label = self.hook.contact_stage_name(stage_id)
        updated = self._update(
            functools.partial(self.hook.update_contact_stages, contact_stage_id=stage_id),
            PATH_UPDATE_STAGES,
            f"move contacts to stage {stage_label}",
            contact_ids,
            checkpoint,
        )
        self.log.info("Moved %d contacts to stage %s", len(updated), stage_label)
        return updated


class ApolloUpdateOwnersOperator(_ApolloBulkUpdateOperator):
    """
    Assign contacts to a new owner (an Apollo user, by id or email), in batches of 100.

    :param contact_ids: the contacts' ids: a list, an ``XComArg`` or a template rendering to a list.
    :param new_owner: the new Apollo owner: a user id, or the user's email (looked up through
        Apollo's users endpoint, which needs a master key; a 403 fails saying so). Templated.
    :param owner_id: the Apollo user id of the new owner (instead of ``new_owner``). Templated.
    :param skip_deleted: update the other contacts when some are deleted (and log their ids) instead
        of failing.
    :param apollo_conn_id: the Airflow connection id.

    Exactly one of ``new_owner`` and ``owner_id``. ``owner=`` is what it is on every Airflow
    operator, the task owner; it never becomes the Apollo owner (before 1.0 it did).
    """

    template_fields: Sequence[str] = ("contact_ids", "new_owner", "owner_id")

    def __init__(
        self,
        *,
        contact_ids: list[str] | str,
        new_owner: str | None = None,
        owner_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(contact_ids=contact_ids, **kwargs)
        if new_owner is None and owner_id is None:
            raise ApolloArgumentError(
                f"{type(self).__name__} {self.task_id!r}: pass new_owner= (an Apollo user id or the user's "
                "email) or owner_id= (an Apollo user id); got neither. The Apollo owner is new_owner= "
                "(owner= is the Airflow task owner; renamed in 1.0)."
            )
        if new_owner is not None and owner_id is not None:
            raise ApolloArgumentError(
                f"{type(self).__name__} {self.task_id!r}: pass one of new_owner= (an Apollo user id or the "
                "user's email) or owner_id= (an Apollo user id), not both."
            )
        self.new_owner = new_owner
        self.owner_id = owner_id
        if new_owner is not None and not is_resolved_later(new_owner):
            non_empty_string(new_owner, "new_owner", "an Apollo user id or the user's email")
        if owner_id is not None and not is_resolved_later(owner_id):
            non_empty_string(owner_id, "owner_id", "an Apollo user id")

    def run_job(self, context: Context, checkpoint: Any) -> list[str]:
        contact_ids = check_contact_ids_argument(self.contact_ids)
        if self.new_owner is not None:
            # An email is looked up once per hook (users endpoint, master key); an id is used as given.
            new_owner = non_empty_string(self.new_owner, "new_owner", "an Apollo user id or the user's email")
            owner_id = self.hook.resolve_owner_id(new_owner, "new_owner")
        else:
            owner_id = non_empty_string(self.owner_id, "owner_id", "an Apollo user id")
        updated = self._update(
            functools.partial(self.hook.update_contact_owners, owner_id=owner_id),
            PATH_UPDATE_OWNERS,
            f"assign contacts to owner {owner_id}",
            contact_ids,
            checkpoint,
        )
        self.log.info("Assigned %d contacts to owner %s", len(updated), owner_id)
        return updated


__all__ = [
    "ApolloCreateContactOperator",
    "ApolloUpdateContactOperator",
    "ApolloUpdateOwnersOperator",
    "ApolloUpdateStagesOperator",
]
