"""What the sync and async Apollo hooks share: the connection, pacing, statistics, and every operation.

Each operation is a core step generator (``airflow_provider_apollo.core.operations`` and the
team look-ups of ``core.lookups``); a hook method picks one and hands it to :meth:`ApolloBaseHook._drive`,
which the sync hook implements with ``run_steps`` (the method returns the result) and the async hook
with ``arun_steps`` (the method returns an awaitable of it: ``await hook.add_to_sequence(...)``). So
both transports have every operation, written once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from airflow.providers.common.compat.sdk import BaseHook

from airflow_provider_apollo import UI_FIELD_BEHAVIOUR
from airflow_provider_apollo._compat import mask_secret
from airflow_provider_apollo.core import (
    ACCOUNTS,
    DEALS,
    ID_BATCH_SIZE,
    ApiRequest,
    ApolloConfig,
    Lifecycle,
    RateLimiter,
    RequestStats,
    RetryPolicy,
    Steps,
    TeamLookups,
    WindowUsage,
    check_overrides,
    operations,
    paging,
    request_lifecycle,
)


class ApolloBaseHook(BaseHook):
    """
    The connection (``apollo`` type) and per-hook state both transports need.

    :param apollo_conn_id: the Airflow connection id.
    :param timeout: seconds per request; overrides the connection's extra.
    :param max_retries: retry budget; overrides the connection's extra.
    :param max_retry_wait: longest single wait; overrides the connection's extra.
    :param stats: a :class:`~airflow_provider_apollo.core.RequestStats` to count this hook's
        requests into (several hooks may share one); a new one when omitted. Read it as ``hook.stats``.
    """

    conn_name_attr = "apollo_conn_id"
    default_conn_name = "apollo_default"
    conn_type = "apollo"
    hook_name = "Apollo.io"

    def __init__(
        self,
        apollo_conn_id: str = default_conn_name,
        *,
        timeout: float | None = None,
        max_retries: int | None = None,
        max_retry_wait: float | None = None,
        stats: RequestStats | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.apollo_conn_id = apollo_conn_id
        # Checked now, by the rules the connection's extras follow: a bad value fails at construction.
        self._overrides = check_overrides(
            {"timeout": timeout, "max_retries": max_retries, "max_retry_wait": max_retry_wait}
        )
        self.rate_limiter = RateLimiter()
        self.stats = stats if stats is not None else RequestStats()
        # Team facts (stages, sequences, mailboxes, users, custom fields) learned once per hook.
        self.lookups = TeamLookups()

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Connection form: hide unused fields, call the password "API key" and the host "Base URL"."""
        return UI_FIELD_BEHAVIOUR

    def quota_usage(self, endpoint: str, method: str = "POST") -> dict[str, WindowUsage]:
        """The latest minute, hour and day usage Apollo reported for an endpoint (the team's)."""
        return self.rate_limiter.usage(f"{method} {endpoint}")

    def _config_from(self, conn: Any) -> ApolloConfig:
        """The connection's config with this hook's overrides; the key is masked in task logs."""
        config = ApolloConfig.from_connection(
            conn_id=self.apollo_conn_id, password=conn.password, host=conn.host, extra=conn.extra_dejson
        )
        mask_secret(config.api_key)
        return config.with_overrides(**self._overrides)

    def _lifecycle(
        self, request: ApiRequest, config: ApolloConfig, policy: RetryPolicy | None = None
    ) -> Lifecycle:
        return request_lifecycle(
            request,
            config=config,
            policy=policy or RetryPolicy.from_config(config),
            limiter=self.rate_limiter,
            stats=self.stats,
        )

    def _drive(self, steps: Steps[Any]) -> Any:
        """Run a core step generator with this hook's transport: its result (sync) or an awaitable of it (async)."""
        raise NotImplementedError

    @staticmethod
    def batch_count(items: int, batch_size: int = ID_BATCH_SIZE) -> int:
        """How many requests a batched call over ``items`` ids or contacts sends."""
        return math.ceil(items / batch_size)

    # ------------------------------------------------------------------ team look-ups, once per hook

    def list_contact_stages(self) -> Any:
        """The team's contact stages (``list[dict]``)."""
        return self._drive(self.lookups.stages())

    def resolve_contact_stage_id(self, stage: str) -> Any:
        """The id of a stage given by id or display name (case-insensitive); unknown: an error listing the known ones."""
        return self._drive(self.lookups.stage_id(stage))

    def contact_stage_name(self, stage_id: str) -> Any:
        """A stage's display name, for messages in the user's terms."""
        return self._drive(self.lookups.stage_name(stage_id))

    def find_sequence(self, sequence: str) -> Any:
        """A sequence given by id or name (case-insensitive): a ``SequenceRef``."""
        return self._drive(self.lookups.sequence(sequence))

    def list_email_accounts(self) -> Any:
        """The team's mailboxes (``GET /email_accounts``)."""
        return self._drive(self.lookups.email_accounts())

    def resolve_mailbox(self, mailbox: str) -> Any:
        """A mailbox given by its email account id or address: a ``Mailbox``; unknown: an error listing the active ones."""
        return self._drive(self.lookups.mailbox(mailbox))

    def list_users(self) -> Any:
        """The team's users (``GET /users/search``; needs a master key)."""
        return self._drive(self.lookups.users())

    def resolve_owner_id(self, owner: str, argument: str = "owner") -> Any:
        """The user id for an owner given by id (no request) or by email (the team's users)."""
        return self._drive(self.lookups.owner_id(owner, argument))

    def list_custom_fields(self) -> Any:
        """The team's custom contact fields (``GET /fields?source=custom``): ``list[CustomField]``."""
        return self._drive(self.lookups.custom_fields())

    def resolve_contact_fields(self, fields: dict[str, Any], argument: str = "fields") -> Any:
        """Contact fields with ``custom_fields`` labels and an ``owner_id`` email resolved (no request when none)."""
        return self._drive(self.lookups.contact_fields(fields, argument))

    # ------------------------------------------------------------------ contacts (see core.operations for options)

    def get_contact(self, contact_id: str) -> Any:
        """One contact by id."""
        return self._drive(operations.get_contact(contact_id))

    def create_contact(self, contact: dict[str, Any], *, run_dedupe: bool = False) -> Any:
        """Create one contact; with ``run_dedupe`` a matching contact is updated instead."""
        return self._drive(operations.create_contact(self.lookups, contact, run_dedupe=run_dedupe))

    def bulk_create_contacts(
        self, contacts: Sequence[dict[str, Any]], *, run_dedupe: bool = False, **options: Any
    ) -> Any:
        """Create contacts 100 a request: one contact per input, in input order (``start_batch``, ``on_batch``)."""
        return self._drive(
            operations.bulk_create_contacts(self.lookups, contacts, run_dedupe=run_dedupe, **options)
        )

    def update_contact(self, contact_id: str, fields: dict[str, Any]) -> Any:
        """Update one contact's fields (``label_names`` replaces its lists)."""
        return self._drive(operations.update_contact(self.lookups, contact_id, fields))

    def update_contact_stages(self, contact_ids: Sequence[str], contact_stage_id: str, **options: Any) -> Any:
        """Move contacts to a stage (id or name), 100 a request: a ``BulkUpdateResult`` (``skip_deleted``, ...)."""
        return self._drive(
            operations.update_contact_stages(self.lookups, contact_ids, contact_stage_id, **options)
        )

    def update_contact_owners(self, contact_ids: Sequence[str], owner_id: str, **options: Any) -> Any:
        """Assign contacts to an owner (a user id or email), 100 a request: a ``BulkUpdateResult``."""
        return self._drive(operations.update_contact_owners(self.lookups, contact_ids, owner_id, **options))

    def bulk_update_contacts(self, updates: Sequence[dict[str, Any]] | None = None, **options: Any) -> Any:
        """Per-contact ``updates``, or the same ``values=`` for ``contact_ids=``: a ``BulkUpdateResult``."""
        return self._drive(operations.bulk_update_contacts(self.lookups, updates, **options))

    def count_contacts(self, filters: dict[str, Any] | None = None) -> Any:
        """How many contacts a search matches (one request of one record; not limited by the cap)."""
        return self._drive(paging.count_contacts(filters, lookups=self.lookups))

    def search_filters(self, filters: dict[str, Any]) -> Any:
        """Filters as Apollo takes them: stage names in ``contact_stages`` resolved to ``contact_stage_ids``."""
        return self._drive(paging.search_filters(filters, lookups=self.lookups))

    # ------------------------------------------------------------------ sequences and lists

    def add_to_sequence(
        self,
        sequence: str,
        contact_ids: Sequence[str],
        *,
        mailbox: str,
        enrollment_flags: dict[str, bool] | None = None,
        status: str | None = None,
        auto_unpause_at: str | None = None,
        user_id: str | None = None,
        start_batch: int = 0,
        on_batch: Any = None,
        **flags: bool,
    ) -> Any:
        """Enroll contacts in a sequence from a mailbox, 100 a request (``flags``: Apollo's enrollment flags)."""
        return self._drive(
            operations.add_to_sequence(
                self.lookups,
                sequence,
                contact_ids,
                mailbox=mailbox,
                status=status,
                auto_unpause_at=auto_unpause_at,
                user_id=user_id,
                flags={**(enrollment_flags or {}), **flags},
                start_batch=start_batch,
                on_batch=on_batch,
            )
        )

    def remove_from_sequence(self, sequence: str, contact_ids: Sequence[str], *, mode: str = "finish") -> Any:
        """Finish, remove or stop contacts in a sequence, 100 a request: the ids Apollo answered for."""
        return self._drive(operations.remove_from_sequence(self.lookups, sequence, contact_ids, mode=mode))

    def add_to_lists(self, contact_ids: Sequence[str], list_names: Sequence[str], **options: Any) -> Any:
        """Add contacts to lists by name (Apollo creates a missing list), 1,000 ids a request."""
        return self._drive(operations.change_lists(True, contact_ids, list_names, **options))

    def remove_from_lists(self, contact_ids: Sequence[str], list_names: Sequence[str], **options: Any) -> Any:
        """Remove contacts from lists by name, 1,000 ids a request."""
        return self._drive(operations.change_lists(False, contact_ids, list_names, **options))

    # ------------------------------------------------------------------ accounts and deals (see core.operations)

    def list_account_stages(self) -> Any:
        """The team's account stages (``list[dict]``, ``GET /account_stages``), once per hook."""
        return self._drive(self.lookups.stages(ACCOUNTS))

    def resolve_account_stage_id(self, stage: str) -> Any:
        """The id of an account stage given by id or name (case-insensitive); unknown: an error listing them."""
        return self._drive(self.lookups.stage_id(stage, ACCOUNTS, "account_stage"))

    def account_stage_name(self, stage_id: str) -> Any:
        """An account stage's name, for messages in the user's terms."""
        return self._drive(self.lookups.stage_name(stage_id, ACCOUNTS))

    def list_deal_stages(self) -> Any:
        """The team's deal stages (``list[dict]``, ``GET /opportunity_stages``), once per hook."""
        return self._drive(self.lookups.stages(DEALS))

    def resolve_deal_stage_id(self, stage: str) -> Any:
        """The id of a deal stage given by id or name (case-insensitive); unknown: an error listing them."""
        return self._drive(self.lookups.stage_id(stage, DEALS, "deal_stage"))

    def deal_stage_name(self, stage_id: str) -> Any:
        """A deal stage's name, for messages in the user's terms."""
        return self._drive(self.lookups.stage_name(stage_id, DEALS))

    def get_account(self, account_id: str) -> Any:
        """One account by id (the View an Account object)."""
        return self._drive(operations.get_account(account_id))

    def create_account(self, account: dict[str, Any], *, run_dedupe: bool = False) -> Any:
        """Create one account; with ``run_dedupe`` (through bulk create) an existing match is returned unchanged."""
        return self._drive(operations.create_account(self.lookups, account, run_dedupe=run_dedupe))

    def bulk_create_accounts(
        self, accounts: Sequence[dict[str, Any]], *, run_dedupe: bool = False, **options: Any
    ) -> Any:
        """Create accounts 100 a request: one account per input, created or existing, in input order."""
        return self._drive(
            operations.bulk_create_accounts(self.lookups, accounts, run_dedupe=run_dedupe, **options)
        )

    def update_account(self, account_id: str, fields: dict[str, Any]) -> Any:
        """Update one account's documented fields (``stage`` by name or id, an owner by email)."""
        return self._drive(operations.update_account(self.lookups, account_id, fields))

    def update_account_stages(self, account_ids: Sequence[str], account_stage_id: str, **options: Any) -> Any:
        """Move accounts to a stage (id or name) through bulk update, 1,000 a request: a ``BulkUpdateResult``."""
        return self._drive(
            operations.update_account_stages(self.lookups, account_ids, account_stage_id, **options)
        )

    def update_account_owners(self, account_ids: Sequence[str], owner_id: str, **options: Any) -> Any:
        """Assign accounts to an owner (a user id or email), 100 a request: a ``BulkUpdateResult``."""
        return self._drive(operations.update_account_owners(self.lookups, account_ids, owner_id, **options))

    def get_deal(self, deal_id: str) -> Any:
        """One deal by id (the View Deal object, with its ``account``)."""
        return self._drive(operations.get_deal(deal_id))

    def create_deal(self, deal: dict[str, Any]) -> Any:
        """Create one deal (``stage`` by name or id, an owner by email); Apollo does not deduplicate deals."""
        return self._drive(operations.create_deal(self.lookups, deal))

    def update_deal(self, deal_id: str, fields: dict[str, Any]) -> Any:
        """Update one deal's documented fields (its stage by name or id, an owner by email)."""
        return self._drive(operations.update_deal(self.lookups, deal_id, fields))
