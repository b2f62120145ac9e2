"""Operators that create and update Apollo deals (``opportunities`` in Apollo's API): checks, one hook call, the id to XCom."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.providers.common.compat.sdk import Context

from airflow_provider_apollo.arguments import check_native_argument, is_resolved_later, non_empty_string
from airflow_provider_apollo.core import DEALS
from airflow_provider_apollo.operators.accounts import literal_fields
from airflow_provider_apollo.operators.base import ApolloBaseOperator

UI_COLOR = "#fce8e6"


class ApolloCreateDealOperator(ApolloBaseOperator):
    """
    Create one deal.

    The deal holds Create Deal's fields: ``name`` (required), ``account_id``, ``owner_id`` (a user
    id or the user's email), ``amount`` (a number, or a string of digits: Apollo leaves an amount
    with commas or a currency symbol blank, so one is refused before the request), ``closed_date``
    (``YYYY-MM-DD`` or a ``date``), ``typed_custom_fields``, and its stage as ``stage`` (a name such
    as ``"Negotiate"``, or an id) or ``opportunity_stage_id`` (id or name). Stage names are checked
    against the team's deal stages before the deal is sent.

    Apollo does not deduplicate deals: a create whose answer was lost is not sent again by the hook
    (it may have been applied), and a retried task creates a second deal. Give this task
    ``retries=0``, or check for the deal upstream, where a duplicate matters.

    :param deal: the deal's fields. Templated.
    :param apollo_conn_id: the Airflow connection id.
    """

    template_fields: Sequence[str] = ("deal",)
    ui_color = UI_COLOR

    def __init__(self, *, deal: dict[str, Any] | str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.deal = deal
        literal_fields(DEALS, deal, "deal", DEALS.create_fields, creating=True)

    def execute(self, context: Context) -> str:
        created = self.hook.create_deal(check_native_argument(self.deal, "deal", dict))
        self.log.info("Created deal %s (%s)", created["id"], created.get("name"))
        return str(created["id"])


class ApolloUpdateDealOperator(ApolloBaseOperator):
    """
    Update one deal's fields (Update Deal's: ``name``, ``owner_id`` (a user id or email),
    ``amount``, ``closed_date``, ``typed_custom_fields``, and the stage as ``stage`` or
    ``opportunity_stage_id``, each by name or id). Sending the same fields again changes nothing.

    :param deal_id: the deal's id. Templated.
    :param fields: the fields to set. Templated.
    :param apollo_conn_id: the Airflow connection id.
    """

    template_fields: Sequence[str] = ("deal_id", "fields")
    ui_color = UI_COLOR

    def __init__(self, *, deal_id: str, fields: dict[str, Any] | str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.deal_id = deal_id
        self.fields = fields
        if not is_resolved_later(deal_id):
            non_empty_string(deal_id, "deal_id", "a deal id")
        literal_fields(DEALS, fields, "fields", DEALS.update_fields, creating=False)

    def execute(self, context: Context) -> str:
        deal_id = non_empty_string(self.deal_id, "deal_id", "a deal id")
        fields = check_native_argument(self.fields, "fields", dict)
        self.hook.update_deal(deal_id, fields)
        self.log.info("Updated deal %s: set %s", deal_id, ", ".join(sorted(fields)))
        return deal_id


__all__ = ["ApolloCreateDealOperator", "ApolloUpdateDealOperator"]
