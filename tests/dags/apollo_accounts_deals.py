"""Accounts and deals mapped over batches (``.partial().expand()`` and ``expand_kwargs``), run under dag.test()
by tests/operators/test_accounts.py and quoted by docs/accounts-and-deals.md."""

from __future__ import annotations

import datetime
from typing import Any

from airflow.sdk import DAG, task

from airflow_provider_apollo.operators.accounts import (
    ApolloCreateAccountOperator,
    ApolloUpdateAccountOwnersOperator,
    ApolloUpdateAccountStagesOperator,
)
from airflow_provider_apollo.operators.deals import ApolloCreateDealOperator, ApolloUpdateDealOperator

START = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
OWNER = "grace.hopper@emulated-team.example"


@task
def batches(accounts: list[dict[str, Any]], size: int) -> list[list[dict[str, Any]]]:
    return [accounts[start : start + size] for start in range(0, len(accounts), size)]


with DAG(
    dag_id="apollo_accounts_deals",
    schedule=None,
    start_date=START,
    catchup=False,
    params={"accounts": []},
    render_template_as_native_obj=True,
):
    # [START howto_accounts_deals_mapped]
    # One mapped bulk create per batch of accounts; each returns its batch's account ids.
    create_accounts = ApolloCreateAccountOperator.partial(task_id="create_accounts").expand(
        accounts=batches("{{ params.accounts }}", 2)
    )
    account_stages = ApolloUpdateAccountStagesOperator.partial(
        task_id="account_stages", account_stage="Active Opportunity"
    ).expand(account_ids=create_accounts.output)
    account_owners = ApolloUpdateAccountOwnersOperator.partial(
        task_id="account_owners", new_owner=OWNER
    ).expand(account_ids=account_stages.output)

    @task
    def one_deal_per_account(batches_of_ids: list[list[str]]) -> list[dict[str, Any]]:
        ids = [account_id for batch in batches_of_ids for account_id in batch]
        return [
            {
                "deal": {
                    "name": f"Pilot {n}",
                    "account_id": account_id,
                    "amount": 12_000,
                    "stage": "Qualify",
                    "closed_date": "2026-06-30",
                }
            }
            for n, account_id in enumerate(ids)
        ]

    # One deal per account (each mapped task gets its own deal=...), then every deal won.
    create_deals = ApolloCreateDealOperator.partial(task_id="create_deals").expand_kwargs(
        one_deal_per_account(account_owners.output)
    )
    win_deals = ApolloUpdateDealOperator.partial(task_id="win_deals", fields={"stage": "Closed Won"}).expand(
        deal_id=create_deals.output
    )
    # [END howto_accounts_deals_mapped]
