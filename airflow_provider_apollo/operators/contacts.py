"""Operators that create and update Apollo contacts: argument checks, one hook call, ids to XCom."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any

from airflow.providers.common.compat.sdk import BaseOperator, Context

from airflow_provider_apollo.arguments import (
    contact_ids_value,
    is_resolved_later,
    native_value,
    non_empty_string,
)
from airflow_provider_apollo.core import BULK_CREATE_MAX, BulkUpdateResult
from airflow_provider_apollo.exceptions import ApolloArgumentError, ApolloValidationError
from airflow_provider_apollo.hooks.apollo import ApolloHook


class _ApolloOperator(BaseOperator):
    """Shared plumbing: the connection id and a hook built on first use, never at DAG parse time."""

    def __init__(self, *, apollo_conn_id: str = ApolloHook.default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.apollo_conn_id = apollo_conn_id

    @cached_property
    def hook(self) -> ApolloHook:
        return ApolloHook(apollo_conn_id=self.apollo_conn_id)


class ApolloCreateContactOperator(_ApolloOperator):
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
            _contact_value(contact, "contact")
        if contacts is not None and not is_resolved_later(contacts):
            _contacts_value(contacts)

    def execute(self, context: Context) -> str | list[str]:
        if self.contact is not None:
            contact = _contact_value(self.contact, "contact")
            created = self.hook.create_contact(contact, run_dedupe=self.run_dedupe)
            self.log.info(
                "Created contact %s%s",
                created["id"],
                " (or updated the existing match: run_dedupe is on)" if self.run_dedupe else "",
            )
            return str(created["id"])
        contacts = _contacts_value(self.contacts)
        results = self.hook.bulk_create_contacts(contacts, run_dedupe=self.run_dedupe)
        self.log.info(
            "Created %d contacts in %d bulk request(s)%s",
            len(results),
            -(-len(contacts) // BULK_CREATE_MAX),
            " (existing matches updated: run_dedupe is on)" if self.run_dedupe else "",
        )
        return [str(contact["id"]) for contact in results]


def _contact_value(value: Any, argument: str) -> dict[str, Any]:
    contact = native_value(value, argument, dict)
    if not contact:
        raise ApolloArgumentError(f"{argument} is empty: give the contact's fields (first_name, email ...).")
    if "api_key" in contact:
        raise ApolloArgumentError(
            f"{argument} must not contain 'api_key': the key comes from the connection."
        )
    return dict(contact)


def _contacts_value(value: Any) -> list[dict[str, Any]]:
    contacts = native_value(value, "contacts", list)
    if not contacts:
        raise ApolloArgumentError("contacts is empty: give at least one contact's fields.")
    return [_contact_value(item, f"contacts[{index}]") for index, item in enumerate(contacts)]


class ApolloUpdateContactOperator(_ApolloOperator):
    """
    Update one contact's fields (``label_names`` replaces the contact's labels).

    :param contact_id: the contact's id. Templated.
    :param fields: the fields to set. Templated.
    :param apollo_conn_id: the Airflow connection id.
    """

    template_fields: Sequence[str] = ("contact_id", "fields")
    ui_color = "#e8f0fe"

    def __init__(self, *, contact_id: str, fields: dict[str, Any] | str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.contact_id = contact_id
        self.fields = fields
        if not is_resolved_later(contact_id):
            non_empty_string(contact_id, "contact_id", "a contact id")
        if not is_resolved_later(fields):
            _contact_value(fields, "fields")

    def execute(self, context: Context) -> str:
        contact_id = non_empty_string(self.contact_id, "contact_id", "a contact id")
        fields = _contact_value(self.fields, "fields")
        self.hook.update_contact(contact_id, fields)
        self.log.info("Updated contact %s: set %s", contact_id, ", ".join(sorted(fields)))
        return contact_id


class _ApolloBulkUpdateOperator(_ApolloOperator):
    """Shared by the stage and owner updates: id checks, deleted contacts, the XCom value."""

    template_fields: Sequence[str] = ("contact_ids",)
    ui_color = "#e8f0fe"

    def __init__(self, *, contact_ids: list[str] | str, skip_deleted: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.contact_ids = contact_ids
        if not isinstance(skip_deleted, bool):
            raise ApolloArgumentError(f"skip_deleted must be True or False, got {skip_deleted!r}.")
        self.skip_deleted = skip_deleted
        if not is_resolved_later(contact_ids):
            contact_ids_value(contact_ids)

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

    def _log_skipped(self, result: BulkUpdateResult) -> None:
        skipped = result.skipped_deleted_ids
        if skipped:
            self.log.warning("Skipped %d deleted contacts (skip_deleted=True): %s", len(skipped), skipped)


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

    def execute(self, context: Context) -> list[str]:
        contact_ids = contact_ids_value(self.contact_ids)
        stage = non_empty_string(self.contact_stage, "contact_stage", "a stage id or name")
        stage_id = self.hook.resolve_contact_stage_id(stage)
        stage_label = self.hook.contact_stage_name(stage_id)
        try:
            updated = self.hook.update_contact_stages(contact_ids, stage_id, skip_deleted=self.skip_deleted)
        except ApolloValidationError as error:
            if error.deleted_contact_ids:
                raise self._report_deleted(error, f"move contacts to stage {stage_label}") from None
            raise
        self._log_skipped(updated)
        self.log.info("Moved %d contacts to stage %s", len(updated), stage_label)
        return [str(contact["id"]) for contact in updated]


class ApolloUpdateOwnersOperator(_ApolloBulkUpdateOperator):
    """
    Assign contacts to an owner (an Apollo user), in batches of 100.

    :param contact_ids: the contacts' ids: a list, an ``XComArg`` or a template rendering to a list.
    :param owner_id: the Apollo user id of the new owner. Templated.
    :param skip_deleted: update the other contacts when some are deleted (and log their ids) instead
        of failing.
    :param apollo_conn_id: the Airflow connection id.
    """

    template_fields: Sequence[str] = ("contact_ids", "owner_id")

    def __init__(self, *, contact_ids: list[str] | str, owner_id: str, **kwargs: Any) -> None:
        super().__init__(contact_ids=contact_ids, **kwargs)
        self.owner_id = owner_id
        if not is_resolved_later(owner_id):
            non_empty_string(owner_id, "owner_id", "an Apollo user id")

    def execute(self, context: Context) -> list[str]:
        contact_ids = contact_ids_value(self.contact_ids)
        owner_id = non_empty_string(self.owner_id, "owner_id", "an Apollo user id")
        try:
            updated = self.hook.update_contact_owners(contact_ids, owner_id, skip_deleted=self.skip_deleted)
        except ApolloValidationError as error:
            if error.deleted_contact_ids:
                raise self._report_deleted(error, f"assign contacts to owner {owner_id}") from None
            raise
        self._log_skipped(updated)
        self.log.info("Assigned %d contacts to owner %s", len(updated), owner_id)
        return [str(contact["id"]) for contact in updated]


__all__ = [
    "ApolloCreateContactOperator",
    "ApolloUpdateContactOperator",
    "ApolloUpdateOwnersOperator",
    "ApolloUpdateStagesOperator",
]
