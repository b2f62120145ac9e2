"""
The deal operators against the emulator over loopback: a deal created with its stage by name, its
owner by email, an amount and a close date as Apollo takes them; updated, moved between stages; bad
input refused before any request; a lost answer never sent again.
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from airflow_provider_apollo.core.endpoints import PATH_DEALS
from airflow_provider_apollo.exceptions import ApolloArgumentError, ApolloConnectionError
from airflow_provider_apollo.operators.deals import ApolloCreateDealOperator, ApolloUpdateDealOperator
from airflow_provider_apollo.testing import ApolloEmulator

from .outreach_support import GRACE, task_context


def deal_writes(emulator: ApolloEmulator) -> list[str]:
    return [
        f"{r.method} {r.path}" for r in emulator.requests if r.method != "GET" and "/opportunities" in r.path
    ]


def test_create_a_deal_with_its_stage_by_name_owner_by_email_amount_and_close_date(
    team: ApolloEmulator,
) -> None:
    account = team.add_account("Acme", domain="acme.example")
    # [START howto_operator_apollo_create_deal]
    create = ApolloCreateDealOperator(
        task_id="create_deal",
        deal={
            "name": "Acme - Platform pilot",
            "account_id": account["id"],
            "amount": 55000,  # a number, or a string of digits (no commas, no currency symbol)
            "stage": "Meet & Present",  # a deal stage's name, or its id
            "owner_id": "grace.hopper@emulated-team.example",  # a user id, or the user's email
            "closed_date": "2026-10-30",  # YYYY-MM-DD, or a date
        },
    )
    # [END howto_operator_apollo_create_deal]
    deal_id = create.execute(task_context())
    deal = team.get_deal(deal_id)
    assert deal is not None
    assert deal["opportunity_stage_id"] == team.deal_stage_id("Meet & Present")
    assert deal["owner_id"] == next(u["id"] for u in team.users if u["email"] == GRACE)
    assert (deal["amount"], deal["account"]["id"]) == (55000, account["id"])
    assert deal["closed_date"].startswith("2026-10-30")
    [request] = [r for r in team.requests if r.method == "POST" and r.path.endswith(PATH_DEALS)]
    assert request.body["amount"] == "55000"


def test_a_deal_stage_may_also_be_given_by_name_as_opportunity_stage_id(
    apollo_connection: ApolloEmulator,
) -> None:
    deal_id = ApolloCreateDealOperator(
        task_id="d",
        deal={"name": "D", "opportunity_stage_id": "negotiate", "closed_date": datetime.date(2026, 3, 1)},
    ).execute(task_context())
    deal = apollo_connection.get_deal(deal_id)
    assert deal is not None
    assert deal["opportunity_stage_id"] == apollo_connection.deal_stage_id("Negotiate")
    assert deal["closed_date"].startswith("2026-03-01")


def test_update_a_deal_moves_it_between_stages_and_returns_its_id(apollo_connection: ApolloEmulator) -> None:
    deal = apollo_connection.add_deal("Renewal", amount="1000", stage="Qualify")
    # [START howto_operator_apollo_update_deal]
    update = ApolloUpdateDealOperator(
        task_id="win_deal", deal_id=deal["id"], fields={"stage": "Closed Won", "amount": "1250.50"}
    )
    # [END howto_operator_apollo_update_deal]
    assert update.execute(task_context()) == deal["id"]
    after = apollo_connection.get_deal(deal["id"])
    assert after is not None
    assert (after["is_won"], after["amount"]) == (True, 1250.5)
    assert update.execute(task_context()) == deal["id"]
    assert apollo_connection.get_deal(deal["id"])["opportunity_stage_id"] == after["opportunity_stage_id"]  # type: ignore[index]


def test_templated_amount_and_date_are_checked_after_rendering(apollo_connection: ApolloEmulator) -> None:
    operator = ApolloCreateDealOperator(
        task_id="d",
        deal={"name": "{{ params.name }}", "amount": "{{ params.amount }}", "closed_date": "{{ ds }}"},
    )
    operator.render_template_fields({"params": {"name": "Templated", "amount": "7,500"}, "ds": "2026-02-01"})
    with pytest.raises(ApolloArgumentError, match=r"deal\['amount'\] must be a non-negative number"):
        operator.execute(task_context())
    assert deal_writes(apollo_connection) == []
    operator = ApolloCreateDealOperator(
        task_id="d", deal={"name": "Templated", "amount": "{{ params.amount }}"}
    )
    operator.render_template_fields({"params": {"amount": "7500"}})
    assert apollo_connection.get_deal(operator.execute(task_context()))["amount"] == 7500  # type: ignore[index]


def test_an_unknown_deal_stage_fails_listing_the_deal_stages_before_any_write(
    apollo_connection: ApolloEmulator,
) -> None:
    deal = apollo_connection.add_deal("D")
    with pytest.raises(ApolloArgumentError) as caught:
        ApolloUpdateDealOperator(task_id="u", deal_id=deal["id"], fields={"stage": "Won"}).execute(
            task_context()
        )
    assert str(caught.value) == (
        "Unknown deal stage 'Won' (given as fields['stage']). The team's deal stages: 'Qualify', "
        "'Meet & Present', 'Propose', 'Negotiate', 'Closed Won', 'Closed Lost'."
    )
    assert deal_writes(apollo_connection) == []


def test_a_deal_create_whose_answer_was_lost_is_not_sent_again(apollo_connection: ApolloEmulator) -> None:
    # Apollo has no dedupe for deals: sending it again would create a second deal.
    apollo_connection.add_fault("drop_after_apply", path=PATH_DEALS, method="POST")
    with pytest.raises(ApolloConnectionError) as caught:
        ApolloCreateDealOperator(task_id="d", deal={"name": "Once"}).execute(task_context())
    assert caught.value.maybe_applied
    assert apollo_connection.request_count(PATH_DEALS, method="POST") == 1
    assert apollo_connection.deal_count == 1


@pytest.mark.parametrize(
    ("operator_class", "kwargs", "message"),
    [
        (ApolloCreateDealOperator, {"deal": {"amount": 5}}, "deal needs 'name'"),
        (ApolloCreateDealOperator, {"deal": {}}, "deal must be a non-empty dict of Apollo deal fields"),
        (ApolloCreateDealOperator, {"deal": {"name": "D", "amount": "$5"}}, r"deal\['amount'\] must be"),
        (
            ApolloCreateDealOperator,
            {"deal": {"name": "D", "closed_date": "30/10/2026"}},
            "must be a date as 'YYYY-MM-DD'",
        ),
        (
            ApolloCreateDealOperator,
            {"deal": {"name": "D", "description": "x"}},
            "does not document 'description'",
        ),
        (
            ApolloCreateDealOperator,
            {"deal": {"name": "D", "stage": "Qualify", "opportunity_stage_id": "x"}},
            "twice",
        ),
        (ApolloCreateDealOperator, {"deal": "not a dict"}, "deal must be a dict"),
        (
            ApolloUpdateDealOperator,
            {"deal_id": "", "fields": {"name": "x"}},
            r"deal_id must be a non-empty string \(a deal id\)",
        ),
        (
            ApolloUpdateDealOperator,
            {"deal_id": "d1", "fields": {"account_id": "a1"}},
            "does not document 'account_id'",
        ),
        (ApolloUpdateDealOperator, {"deal_id": "d1", "fields": {}}, "fields must be a non-empty dict"),
    ],
)
def test_deal_operators_reject_bad_arguments_at_construction(
    apollo_connection: ApolloEmulator, operator_class: type, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ApolloArgumentError, match=message):
        operator_class(task_id="t", **kwargs)
    assert apollo_connection.request_count() == 0


def test_an_unknown_deal_is_apollos_error_and_changes_nothing(apollo_connection: ApolloEmulator) -> None:
    from airflow_provider_apollo.exceptions import ApolloValidationError

    with pytest.raises(ApolloValidationError, match="Opportunity does not exist"):
        ApolloUpdateDealOperator(task_id="u", deal_id="0" * 24, fields={"name": "x"}).execute(task_context())
    assert apollo_connection.deal_count == 0
