"""Operators that create and update Apollo accounts (the companies a team saved): checks, hook calls, ids to XCom.

The bulk forms (many accounts created, moved to a stage, given an owner) are long jobs like the
contact operators: at an exhausted hourly or daily quota they defer until the reset and resume from
the next batch, and a new try after a killed worker resumes from the checkpoint the job saved as it
went (Airflow 3.3 and later). The work itself is the core's, shared with contacts
(:mod:`~airflow_provider_apollo.core.records`): these classes only check, call and report.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from airflow.providers.common.compat.sdk import Context

from airflow_provider_apollo.arguments import check_native_argument, is_resolved_later, non_empty_string
from airflow_provider_apollo.core import (
    ACCOUNTS,
    BULK_CREATE_MAX,
    BULK_UPDATE_MAX,
    ID_BATCH_SIZE,
    PART_MAX_IDS,
    PATH_ACCOUNT_BULK_CREATE,
    PATH_ACCOUNT_BULK_UPDATE,
    PATH_ACCOUNT_UPDATE_OWNERS,
    BatchCursor,
    BulkUpdateResult,
    RecordType,
    check_record_fields,
    check_record_ids,
    check_records,
)
from airflow_provider_apollo.exceptions import ApolloArgumentError, ApolloRateLimitError
from airflow_provider_apollo.operators.base import ApolloBaseOperator, ApolloLongJobOperator

# Where the ids of the batches applied so far wait, in parts (see ApolloLongJobOperator.save_part).
CREATED_ACCOUNT_IDS_KEY = "apollo_created_account_ids_"
UI_COLOR = "#e6f4ea"


def literal_fields(
    record: RecordType, fields: Any, argument: str, allowed: Sequence[str] | None, *, creating: bool
) -> None:
    """
    Check a record's fields given literally, at construction: the keys, the required fields and the
    amounts and dates, unless they are templated (a value holding Jinja is checked after rendering,
    at run time, before any request).
    """
    if is_resolved_later(fields):
        return
    value = check_native_argument(fields, argument, dict)
    templated = [
        key for key in (*record.amount_fields, *record.date_fields) if is_resolved_later(value.get(key))
    ]
    literal = {key: item for key, item in value.items() if key not in templated}
    check_record_fields(record, literal or value, argument, allowed, creating=creating)


def check_account_ids_argument(value: Any, argument: str = "account_ids") -> list[str]:
    """A non-empty list of account id strings, each once (a rendered template parsed first)."""
    return check_record_ids(ACCOUNTS, check_native_argument(value, argument, list), argument)


class ApolloCreateAccountOperator(ApolloLongJobOperator):
    """
    Create one account, or many through Apollo's bulk create (100 per request).

    Each account holds Apollo's account fields (``name`` or ``domain`` required; ``phone``,
    ``raw_address``, ``owner_id`` (a user id or the user's email), ``typed_custom_fields``), and its
    stage as ``stage`` (a name such as ``"Active Opportunity"``, or an id) or ``account_stage_id``.
    A field Apollo does not document for the call fails before any request.

    ``run_dedupe`` defaults to True: Apollo matches an account that exists already (by domain,
    organization id or name) and returns it unchanged, so a retried task creates no duplicate. Apollo
    deduplicates accounts only in bulk create, so with ``run_dedupe`` one ``account`` is created
    through bulk create too. With ``run_dedupe=False`` Apollo always creates (one ``account``:
    ``POST /accounts``; ``accounts``: bulk create, matching only by CRM id).

    :param account: one account's fields (Create an Account's); XCom: its id. Templated.
    :param accounts: a list of accounts' fields (Bulk Create Accounts' fields, which add
        ``linkedin_url``, ``salesforce_id``, ``organization_id`` ...); XCom: their ids, in input
        order, existing accounts included. Templated.
    :param run_dedupe: return an existing matching account (unchanged) instead of creating one.
    :param apollo_conn_id: the Airflow connection id.
    """

    template_fields: Sequence[str] = ("account", "accounts")
    ui_color = UI_COLOR
    crash_safe = True
    resume_arguments = ("run_dedupe",)
    checkpoint_part_key = CREATED_ACCOUNT_IDS_KEY

    def __init__(
        self,
        *,
        account: dict[str, Any] | str | None = None,
        accounts: list[dict[str, Any]] | str | None = None,
        run_dedupe: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if (account is None) == (accounts is None):
            raise ApolloArgumentError(
                f"{type(self).__name__} {self.task_id!r}: pass exactly one of account= (one account's "
                f"fields) or accounts= (a list of them), got {'both' if account is not None else 'neither'}."
            )
        if not isinstance(run_dedupe, bool):
            raise ApolloArgumentError(f"run_dedupe must be True or False, got {run_dedupe!r}.")
        self.account = account
        self.accounts = accounts
        self.run_dedupe = run_dedupe
        if account is not None:
            literal_fields(ACCOUNTS, account, "account", ACCOUNTS.create_fields, creating=True)
        if accounts is not None and not is_resolved_later(accounts):
            items = check_native_argument(accounts, "accounts", list)
            check_records(ACCOUNTS, items, "accounts", ACCOUNTS.bulk_create_fields)

    def uses_checkpoints(self) -> bool:
        return self.accounts is not None

    def run_job(self, context: Context, checkpoint: Any) -> str | list[str]:
        if self.account is not None:
            # The stage by name and an owner's email are resolved by the hook before the write.
            created = self.hook.create_account(
                check_native_argument(self.account, "account", dict), run_dedupe=self.run_dedupe
            )
            self.log.info(
                "Created account %s%s",
                created["id"],
                " (or found the existing match, unchanged: run_dedupe is on)" if self.run_dedupe else "",
            )
            return str(created["id"])
        accounts = check_native_argument(self.accounts, "accounts", list)
        ids = self._create_in_batches(
            context,
            checkpoint,
            accounts,
            functools.partial(self.hook.bulk_create_accounts, run_dedupe=self.run_dedupe),
            what="accounts",
            endpoint=PATH_ACCOUNT_BULK_CREATE,
            batch_size=BULK_CREATE_MAX,
            resend_duplicates=not self.run_dedupe,
        )
        self.log.info(
            "Created %d accounts in %d bulk request(s)%s",
            len(ids),
            self.hook.batch_count(len(ids), BULK_CREATE_MAX),
            " (existing matches returned unchanged: run_dedupe is on)" if self.run_dedupe else "",
        )
        return ids

    def _create_in_batches(
        self,
        context: Context,
        checkpoint: Any,
        items: list[Any],
        create: Callable[..., list[dict[str, Any]]],
        *,
        what: str,
        endpoint: str,
        batch_size: int,
        resend_duplicates: bool,
    ) -> list[str]:
        """
        Run a batched create from ``checkpoint``: the ids of every batch, in input order.

        The ids of applied batches are saved in parts (:meth:`save_part`) before the checkpoint
        that names them; a batch that would create its records again if sent twice
        (``resend_duplicates``) is checkpointed at once, the others on the interval. At an exhausted
        quota the job stops with the checkpoint and resumes after the reset.
        """
        cursor = BatchCursor.from_json(checkpoint)
        total = self.hook.batch_count(len(items), batch_size)
        saved_ids = self._saved_ids(context, cursor, min(cursor.next_batch * batch_size, len(items)), what)
        pending: list[str] = []
        first = cursor.next_batch

        def durable() -> dict[str, Any]:
            if pending:
                self.save_part(context, cursor.saved_chunks, list(pending))
                cursor.saved_chunks += 1
                saved_ids.extend(pending)
                pending.clear()
            return cursor.to_json()

        def record(index: int, batch: list[dict[str, Any]]) -> None:
            pending.extend(str(item["id"]) for item in batch)
            cursor.next_batch = index + 1
            self.log_batch_progress(
                f"{len(items):,} {what}", index + 1, total, endpoint, first=index == first
            )
            self.save_progress(durable, force=resend_duplicates or len(pending) >= PART_MAX_IDS)

        try:
            create(items, start_batch=cursor.next_batch, on_batch=record)
        except ApolloRateLimitError as error:
            left = len(items) - cursor.next_batch * batch_size
            raise self.quota_stop(error, durable, f"{left:,} of {len(items):,} {what}") from None
        return saved_ids + pending

    def _saved_ids(self, context: Context, cursor: BatchCursor, expected: int, what: str) -> list[str]:
        """The ids the checkpoint's parts hold; all of them, or the cursor starts over."""
        parts = self.load_parts(context, cursor.saved_chunks)
        ids = [str(item) for part in parts for item in (part or [])]
        if len(ids) != expected or any(part is None for part in parts):
            if cursor.next_batch:
                self.log.warning(
                    "The checkpoint names %d created %s but %d ids were found with it: starting from the "
                    "first batch.",
                    expected,
                    what,
                    len(ids),
                )
            cursor.next_batch = cursor.saved_chunks = 0
            return []
        return ids


class ApolloUpdateAccountOperator(ApolloBaseOperator):
    """
    Update one account's fields (Update an Account's: ``name``, ``domain``, ``owner_id`` (a user id
    or email), ``phone``, ``raw_address``, ``typed_custom_fields``, and the stage as ``stage`` by
    name or id, or ``account_stage_id``). Sending the same fields again changes nothing.

    :param account_id: the account's id. Templated.
    :param fields: the fields to set. Templated.
    :param apollo_conn_id: the Airflow connection id.
    """

    template_fields: Sequence[str] = ("account_id", "fields")
    ui_color = UI_COLOR

    def __init__(self, *, account_id: str, fields: dict[str, Any] | str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.account_id = account_id
        self.fields = fields
        if not is_resolved_later(account_id):
            non_empty_string(account_id, "account_id", "an account id")
        literal_fields(ACCOUNTS, fields, "fields", ACCOUNTS.update_fields, creating=False)

    def execute(self, context: Context) -> str:
        account_id = non_empty_string(self.account_id, "account_id", "an account id")
        fields = check_native_argument(self.fields, "fields", dict)
        self.hook.update_account(account_id, fields)
        self.log.info("Updated account %s: set %s", account_id, ", ".join(sorted(fields)))
        return account_id


class _ApolloAccountsBatchOperator(ApolloLongJobOperator):
    """Shared by the stage and owner updates: the id checks, the batches from the checkpoint, the XCom value."""

    template_fields: Sequence[str] = ("account_ids",)
    ui_color = UI_COLOR
    # Moving an account to a stage (or an owner) twice changes nothing: saving on the interval is enough.
    crash_safe = True

    def __init__(self, *, account_ids: list[str] | str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.account_ids = account_ids
        if not is_resolved_later(account_ids):
            check_account_ids_argument(account_ids)

    def _update(
        self,
        update: Callable[..., BulkUpdateResult],
        account_ids: list[str],
        checkpoint: Any,
        *,
        endpoint: str,
        batch_size: int,
    ) -> list[str]:
        """Send the batches from the checkpoint; the XCom value: the ids, each once, in input order."""
        cursor = BatchCursor.from_json(checkpoint)
        total = self.hook.batch_count(len(account_ids), batch_size)
        first = cursor.next_batch

        def record(index: int, done: BulkUpdateResult) -> None:
            cursor.next_batch = index + 1
            self.log_batch_progress(
                f"{len(account_ids):,} accounts", index + 1, total, endpoint, first=index == first
            )
            self.save_progress(cursor.to_json)

        try:
            update(account_ids, start_batch=cursor.next_batch, on_batch=record)
        except ApolloRateLimitError as error:
            left = len(account_ids) - cursor.next_batch * batch_size
            raise self.quota_stop(
                error, cursor.to_json, f"{left:,} of {len(account_ids):,} accounts"
            ) from None
        return account_ids


class ApolloUpdateAccountStagesOperator(_ApolloAccountsBatchOperator):
    """
    Move accounts to an account stage through Apollo's Bulk Update Accounts (the reference's way to
    change many accounts' stage), 1,000 accounts a request.

    The stage is checked against the team's account stages before any update is sent; an unknown
    name fails listing the known ones.

    :param account_ids: the accounts' ids: a list, an ``XComArg`` or a template rendering to a list.
    :param account_stage: the stage's id or name (``"Active Opportunity"``, case-insensitive). Templated.
    :param apollo_conn_id: the Airflow connection id.
    """

    template_fields: Sequence[str] = ("account_ids", "account_stage")

    def __init__(self, *, account_ids: list[str] | str, account_stage: str, **kwargs: Any) -> None:
        super().__init__(account_ids=account_ids, **kwargs)
        self.account_stage = account_stage
        if not is_resolved_later(account_stage):
            non_empty_string(account_stage, "account_stage", "an account stage id or name")

    def run_job(self, context: Context, checkpoint: Any) -> list[str]:
        account_ids = check_account_ids_argument(self.account_ids)
        stage = non_empty_string(self.account_stage, "account_stage", "an account stage id or name")
        stage_id = self.hook.resolve_account_stage_id(stage)
        label = self.hook.account_stage_name(stage_id)
        updated = self._update(
            functools.partial(self.hook.update_account_stages, account_stage_id=stage_id),
            account_ids,
            checkpoint,
            endpoint=PATH_ACCOUNT_BULK_UPDATE,
            batch_size=BULK_UPDATE_MAX,
        )
        self.log.info("Moved %d accounts to stage %s", len(updated), label)
        return updated


class ApolloUpdateAccountOwnersOperator(_ApolloAccountsBatchOperator):
    """
    Assign accounts to a new owner (an Apollo user, by id or email) through Apollo's Update Account
    Owner for Multiple Accounts, 100 accounts a request.

    :param account_ids: the accounts' ids: a list, an ``XComArg`` or a template rendering to a list.
    :param new_owner: the new owner: a user id, or the user's email (looked up through Apollo's users
        endpoint, which needs a master key; a 403 fails saying so). Templated. (``owner=`` is the
        Airflow task owner, as on every operator.)
    :param apollo_conn_id: the Airflow connection id.
    """

    template_fields: Sequence[str] = ("account_ids", "new_owner")

    def __init__(self, *, account_ids: list[str] | str, new_owner: str, **kwargs: Any) -> None:
        super().__init__(account_ids=account_ids, **kwargs)
        self.new_owner = new_owner
        if not is_resolved_later(new_owner):
            non_empty_string(new_owner, "new_owner", "an Apollo user id or the user's email")

    def run_job(self, context: Context, checkpoint: Any) -> list[str]:
        account_ids = check_account_ids_argument(self.account_ids)
        new_owner = non_empty_string(self.new_owner, "new_owner", "an Apollo user id or the user's email")
        # An email is looked up once per hook (users endpoint, master key); an id is used as given.
        owner_id = self.hook.resolve_owner_id(new_owner, "new_owner")
        updated = self._update(
            functools.partial(self.hook.update_account_owners, owner_id=owner_id),
            account_ids,
            checkpoint,
            endpoint=PATH_ACCOUNT_UPDATE_OWNERS,
            batch_size=ID_BATCH_SIZE,
        )
        self.log.info("Assigned %d accounts to owner %s", len(updated), owner_id)
        return updated


__all__ = [
    "ApolloCreateAccountOperator",
    "ApolloUpdateAccountOperator",
    "ApolloUpdateAccountOwnersOperator",
    "ApolloUpdateAccountStagesOperator",
]
