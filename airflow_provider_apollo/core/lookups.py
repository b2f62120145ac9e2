"""Team facts looked up once and kept: stages of each record type, sequences by name, mailboxes, users, custom fields.

:class:`TeamLookups` holds what a hook has already learned about the team and hands out step
generators (see :mod:`~airflow_provider_apollo.core.lifecycle`) that send a request only when the
answer is not known yet. A hook keeps one instance for its lifetime, so a DAG task that resolves a
sequence name for each of three operations sends one search, with either transport.
"""

from __future__ import annotations

import functools
from collections.abc import Generator, Mapping
from typing import Any

from airflow_provider_apollo.core.endpoints import ApiRequest
from airflow_provider_apollo.core.fields import (
    CustomField,
    apply_custom_fields,
    custom_fields_of,
    fields_request,
    needs_custom_fields,
)
from airflow_provider_apollo.core.records import (
    CONTACTS,
    RecordType,
    match_record_stage,
    read_stages,
    stages_request,
)
from airflow_provider_apollo.core.sequences import (
    Mailbox,
    SequenceRef,
    email_accounts_of,
    email_accounts_request,
    match_mailbox,
    resolve_sequence,
)
from airflow_provider_apollo.core.stages import match_stage, stage_name
from airflow_provider_apollo.core.users import (
    check_owner,
    list_users,
    looks_like_email,
    master_key_error,
    match_owner,
)
from airflow_provider_apollo.exceptions import ApolloAuthError


class TeamLookups:
    """What a hook has learned about the team; every method is a step generator."""

    def __init__(self) -> None:
        self._known: dict[str, Any] = {}
        self._sequences: dict[str, SequenceRef] = {}

    def _once(self, key: str, steps: Generator[ApiRequest, Any, Any]) -> Generator[ApiRequest, Any, Any]:
        if key not in self._known:
            self._known[key] = yield from steps
        else:
            steps.close()
        return self._known[key]

    # ------------------------------------------------------------------ stages (contacts, accounts, deals)

    def stages(self, record: RecordType = CONTACTS) -> Generator[ApiRequest, Any, list[dict[str, Any]]]:
        """The team's stages of a record type (``GET /contact_stages``, ``/account_stages``, ``/opportunity_stages``)."""
        steps = _read(stages_request(record), functools.partial(read_stages, record))
        return list((yield from self._once(record.stages_path, steps)))

    def stage_id(
        self, stage: Any, record: RecordType = CONTACTS, argument: str = "stage"
    ) -> Generator[ApiRequest, Any, str]:
        """
        The id of a stage given by id or display name (case-insensitive); unknown: an
        ``ApolloArgumentError`` listing the record type's stages (naming ``argument``, except for
        contacts, whose messages are the ones they always had).
        """
        stages = yield from self.stages(record)
        if record is CONTACTS:
            return match_stage(stages, stage)
        return match_record_stage(record, stages, stage, argument)

    def stage_name(self, stage_id: str, record: RecordType = CONTACTS) -> Generator[ApiRequest, Any, str]:
        """A stage's display name, for messages in the user's terms."""
        return stage_name((yield from self.stages(record)), stage_id)

    # ------------------------------------------------------------------ sequences and mailboxes

    def sequence(self, sequence: Any) -> Generator[ApiRequest, Any, SequenceRef]:
        """A sequence by id or name (see :func:`~airflow_provider_apollo.core.sequences.resolve_sequence`)."""
        key = sequence.strip() if isinstance(sequence, str) else sequence
        if not isinstance(key, str) or key not in self._sequences:
            found = yield from resolve_sequence(sequence)
            self._sequences[key] = found
        return self._sequences[key]

    def email_accounts(self) -> Generator[ApiRequest, Any, list[dict[str, Any]]]:
        """The team's mailboxes (``GET /email_accounts``)."""
        return list(
            (yield from self._once("email_accounts", _read(email_accounts_request(), email_accounts_of)))
        )

    def mailbox(self, mailbox: Any) -> Generator[ApiRequest, Any, Mailbox]:
        """A mailbox by email account id or address; unknown: an error listing the active ones."""
        return match_mailbox((yield from self.email_accounts()), mailbox)

    # ------------------------------------------------------------------ owners

    def users(self) -> Generator[ApiRequest, Any, list[dict[str, Any]]]:
        """The team's users (``GET /users/search``; needs a master key)."""
        return list((yield from self._once("users", list_users())))

    def owner_id(self, owner: Any, argument: str = "owner") -> Generator[ApiRequest, Any, str]:
        """
        The user id for an owner given by id or email. An id is used as given (no request); an
        email is looked up in the team's users, which needs a master key: a 403 becomes an
        ``ApolloAuthError`` saying so and how to pass the id instead.
        """
        owner = check_owner(owner, argument)
        if not looks_like_email(owner):
            return owner
        try:
            users = yield from self.users()
        except ApolloAuthError as error:
            if error.status_code == 403:
                raise master_key_error(error, owner) from None
            raise
        return match_owner(users, owner, argument)

    # ------------------------------------------------------------------ custom fields

    def custom_fields(self) -> Generator[ApiRequest, Any, list[CustomField]]:
        """The team's custom contact fields (``GET /fields?source=custom``)."""
        return list((yield from self._once("fields", _read(fields_request(), custom_fields_of))))

    def contact_fields(
        self, fields: Mapping[str, Any], argument: str = "fields"
    ) -> Generator[ApiRequest, Any, dict[str, Any]]:
        """
        Contact fields with names resolved: ``custom_fields`` (labels, picklist texts) into
        ``typed_custom_fields``, and an ``owner_id`` given as an email into the user's id.

        Sends no request when there is nothing to resolve; an unknown field, picklist value or
        owner raises ``ApolloArgumentError`` listing the known ones.
        """
        resolved = dict(fields)
        if needs_custom_fields(resolved):
            resolved = apply_custom_fields(resolved, (yield from self.custom_fields()), argument)
        owner = resolved.get("owner_id")
        if isinstance(owner, str) and looks_like_email(owner):
            resolved["owner_id"] = yield from self.owner_id(owner, f"{argument}['owner_id']")
        return resolved

    # ------------------------------------------------------------------ accounts' and deals' fields

    def record_fields(
        self, record: RecordType, fields: Mapping[str, Any], argument: str = "fields"
    ) -> Generator[ApiRequest, Any, dict[str, Any]]:
        """
        A record's checked fields (:func:`~airflow_provider_apollo.core.records.check_record_fields`)
        with names resolved: the stage, under the record's ``stage_key`` (``"stage"``) or its stage
        field, by id or name (one stages request per hook), and ``owner_id`` by user id or email
        (an email needs the users list, which needs a master key).
        """
        resolved = dict(fields)
        stage_key = record.stage_key if record.stage_key in resolved else record.stage_field
        # The provider's own key ("stage") never reaches Apollo, even when it holds None.
        given = resolved.pop(stage_key) if stage_key != record.stage_field else resolved.get(stage_key)
        if given is not None:
            resolved[record.stage_field] = yield from self.stage_id(
                given, record, f"{argument}[{stage_key!r}]"
            )
        if resolved.get("owner_id") is not None:
            resolved["owner_id"] = yield from self.owner_id(resolved["owner_id"], f"{argument}['owner_id']")
        return resolved


def _read(request: ApiRequest, read: Any) -> Generator[ApiRequest, Any, Any]:
    return read((yield request))
