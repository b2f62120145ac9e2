"""
The account operators against the emulator over loopback: create one or many (dedupe, input order,
existing accounts unchanged), update, move to a stage by name, give an owner by email; bad input
refused before any request; quota waits; and a mapped DAG of accounts and deals under dag.test().
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from dag_support import load_dag

from airflow_provider_apollo.core.endpoints import (
    PATH_ACCOUNT_BULK_CREATE,
    PATH_ACCOUNT_BULK_UPDATE,
    PATH_ACCOUNT_UPDATE_OWNERS,
)
from airflow_provider_apollo.exceptions import ApolloArgumentError, ApolloAuthError
from airflow_provider_apollo.operators.accounts import (
    ApolloCreateAccountOperator,
    ApolloUpdateAccountOperator,
    ApolloUpdateAccountOwnersOperator,
    ApolloUpdateAccountStagesOperator,
)
from airflow_provider_apollo.testing import ApolloEmulator, TaskInstanceStub, run_deferring

from .outreach_support import GRACE, run, task_context

CONTEXT: Any = {}


def companies(count: int, tag: str = "co") -> list[dict[str, Any]]:
    return [{"name": f"{tag.title()} {i}", "domain": f"{tag}{i}.example"} for i in range(count)]


def account_writes(emulator: ApolloEmulator) -> list[str]:
    """Every account request that could change something (searches and GETs only read)."""
    return [
        f"{r.method} {r.path}"
        for r in emulator.requests
        if r.method != "GET" and "/accounts" in r.path and not r.path.endswith("/search")
    ]


def grace_id(emulator: ApolloEmulator) -> str:
    return next(str(u["id"]) for u in emulator.users if u["email"] == GRACE)


# ---------------------------------------------------------------- create


def test_create_one_account_with_its_stage_by_name_and_owner_by_email(team: ApolloEmulator) -> None:
    # [START howto_operator_apollo_create_account]
    create = ApolloCreateAccountOperator(
        task_id="create_account",
        account={
            "name": "The Irish Copywriters",
            "domain": "irishcopywriters.ie",
            "stage": "Active Opportunity",  # an account stage's name, or its id
            "owner_id": "grace.hopper@emulated-team.example",  # a user id, or the user's email
            "phone": "555-555-0108",
        },
    )
    # [END howto_operator_apollo_create_account]
    account_id = create.execute(task_context())
    account = team.get_account(account_id)
    assert account is not None
    assert account["account_stage_id"] == team.account_stage_id("Active Opportunity")
    assert account["owner_id"] == grace_id(team)
    assert account["sanitized_phone"] == "+15555550108"


def test_create_dedupes_by_default_so_a_second_run_returns_the_same_account_unchanged(
    apollo_connection: ApolloEmulator,
) -> None:
    first = ApolloCreateAccountOperator(
        task_id="create", account={"name": "Acme", "domain": "acme.example", "phone": "555-0100"}
    ).execute(CONTEXT)
    again = ApolloCreateAccountOperator(
        task_id="create", account={"name": "Acme Inc", "domain": "https://www.ACME.example", "phone": "1"}
    ).execute(CONTEXT)
    assert again == first
    assert apollo_connection.account_count == 1
    # Apollo returns an existing account without modification.
    assert apollo_connection.get_account(first)["name"] == "Acme"
    assert apollo_connection.request_count(PATH_ACCOUNT_BULK_CREATE) == 2


def test_without_dedupe_one_account_is_created_by_create_an_account_every_time(
    apollo_connection: ApolloEmulator,
) -> None:
    make = ApolloCreateAccountOperator(task_id="create", account={"name": "Acme"}, run_dedupe=False)
    ids = {make.execute(CONTEXT), make.execute(CONTEXT)}
    assert len(ids) == 2 == apollo_connection.account_count
    assert apollo_connection.request_count("/accounts", method="POST") == 2
    assert apollo_connection.request_count(PATH_ACCOUNT_BULK_CREATE) == 0


def test_a_create_whose_answer_was_lost_is_retried_and_finds_the_account(
    apollo_connection: ApolloEmulator,
) -> None:
    # Applied, then the connection drops: with dedupe the hook may send it again, and Apollo matches it.
    apollo_connection.add_fault("drop_after_apply", path=PATH_ACCOUNT_BULK_CREATE, method="POST")
    account_id = ApolloCreateAccountOperator(task_id="create", account={"name": "Acme"}).execute(CONTEXT)
    assert list(apollo_connection.accounts) == [account_id]
    assert apollo_connection.request_count(PATH_ACCOUNT_BULK_CREATE) == 2


def test_create_many_uses_bulk_create_100_a_request_and_returns_ids_in_input_order(
    apollo_connection: ApolloEmulator,
) -> None:
    existing = apollo_connection.add_account("Co 7", domain="co7.example", stage="Current Client")
    accounts = companies(150)
    # [START howto_operator_apollo_create_accounts]
    create = ApolloCreateAccountOperator(task_id="create_accounts", accounts=accounts)  # run_dedupe=True
    # [END howto_operator_apollo_create_accounts]
    ids = create.execute(task_context())
    assert apollo_connection.request_count(PATH_ACCOUNT_BULK_CREATE) == 2
    assert [apollo_connection.get_account(i)["domain"] for i in ids] == [a["domain"] for a in accounts]
    # The existing account is in the XCom at its input's place, and is unchanged.
    assert ids[7] == existing["id"]
    assert apollo_connection.get_account(existing["id"])[
        "account_stage_id"
    ] == apollo_connection.account_stage_id("Current Client")
    assert apollo_connection.account_count == 150


def test_create_renders_jinja_in_an_account(apollo_connection: ApolloEmulator) -> None:
    operator = ApolloCreateAccountOperator(
        task_id="create", account={"name": "{{ params.name }}", "stage": "{{ params.stage }}"}
    )
    operator.render_template_fields({"params": {"name": "Templated Ltd", "stage": "Lead"}})
    account_id = operator.execute(CONTEXT)
    account = apollo_connection.get_account(account_id)
    assert (account["name"], account["account_stage_id"]) == (
        "Templated Ltd",
        apollo_connection.account_stage_id("Lead"),
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, r"exactly one of account= .* or accounts= .*got neither"),
        ({"account": {"name": "A"}, "accounts": [{"name": "B"}]}, "got both"),
        ({"account": {"phone": "555"}}, "account needs 'name' or 'domain'"),
        ({"account": {"name": "A", "api_key": "x"}}, "must not contain 'api_key'"),
        ({"account": {"name": "A", "linkedin_url": "x"}}, "Apollo does not document 'linkedin_url'"),
        ({"account": {"name": "A", "stage": "Lead", "account_stage_id": "x"}}, "gives the stage twice"),
        (
            {"account": {"name": "A", "custom_fields": {"Tier": 1}}},
            "custom_fields by label are supported for contacts only",
        ),
        ({"accounts": []}, "accounts is empty"),
        ({"accounts": [{"name": "A"}, "bob"]}, r"accounts\[1\] must be a non-empty dict"),
        ({"accounts": [{"name": "A"}, {"domain": ""}]}, r"accounts\[1\] needs 'name' or 'domain'"),
        ({"account": {"name": "A"}, "run_dedupe": "yes"}, "run_dedupe must be True or False"),
    ],
)
def test_create_rejects_bad_arguments_at_construction(
    apollo_connection: ApolloEmulator, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ApolloArgumentError, match=message):
        ApolloCreateAccountOperator(task_id="create", **kwargs)
    assert apollo_connection.request_count() == 0


def test_an_unknown_stage_fails_listing_the_account_stages_before_any_write(team: ApolloEmulator) -> None:
    operator = ApolloCreateAccountOperator(
        task_id="create", accounts=[{"name": "A"}, {"name": "B", "stage": "Hot"}]
    )
    with pytest.raises(ApolloArgumentError) as caught:
        operator.execute(task_context())
    assert str(caught.value).startswith(
        "Unknown account stage 'Hot' (given as accounts[1]['stage']). The team's account stages: 'Review', "
    )
    assert account_writes(team) == []


# ---------------------------------------------------------------- update one account


def test_update_account_sets_fields_and_the_stage_and_returns_the_id(team: ApolloEmulator) -> None:
    account = team.add_account("Acme", domain="acme.example")
    # [START howto_operator_apollo_update_account]
    update = ApolloUpdateAccountOperator(
        task_id="update_account",
        account_id=account["id"],
        fields={"raw_address": "Dallas, United States", "stage": "Current Client"},
    )
    # [END howto_operator_apollo_update_account]
    assert update.execute(CONTEXT) == account["id"]
    after = team.get_account(account["id"])
    assert after["account_stage_id"] == team.account_stage_id("Current Client")
    assert after["raw_address"] == "Dallas, United States"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"account_id": "", "fields": {"name": "x"}},
            r"account_id must be a non-empty string \(an account id\)",
        ),
        ({"account_id": "a1", "fields": {}}, "fields must be a non-empty dict of Apollo account fields"),
        ({"account_id": "a1", "fields": ["name"]}, "fields must be a dict"),
        ({"account_id": "a1", "fields": {"salesforce_id": "x"}}, "does not document 'salesforce_id'"),
    ],
)
def test_update_account_rejects_bad_arguments_at_construction(
    apollo_connection: ApolloEmulator, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ApolloArgumentError, match=message):
        ApolloUpdateAccountOperator(task_id="update", **kwargs)
    assert apollo_connection.request_count() == 0


# ---------------------------------------------------------------- stages and owners


def test_update_stages_moves_accounts_through_bulk_update_1000_a_request(
    apollo_connection: ApolloEmulator,
) -> None:
    ids = apollo_connection.seed_accounts(1_200, stage="Lead")
    # [START howto_operator_apollo_account_stages]
    move = ApolloUpdateAccountStagesOperator(
        task_id="account_stages", account_ids=ids, account_stage="Active Opportunity"
    )
    # [END howto_operator_apollo_account_stages]
    assert move.execute(task_context()) == ids
    assert apollo_connection.request_count(PATH_ACCOUNT_BULK_UPDATE) == 2
    wanted = apollo_connection.account_stage_id("Active Opportunity")
    assert {apollo_connection.get_account(i)["account_stage_id"] for i in ids} == {wanted}


def test_update_stages_takes_ids_from_a_rendered_template_each_once(
    apollo_connection: ApolloEmulator,
) -> None:
    ids = apollo_connection.seed_accounts(3)
    operator = ApolloUpdateAccountStagesOperator(
        task_id="stages", account_ids="{{ params.ids }}", account_stage="{{ params.stage }}"
    )
    operator.render_template_fields({"params": {"ids": [*ids, ids[0]], "stage": "evangelist"}})
    assert operator.execute(task_context()) == ids
    assert {apollo_connection.get_account(i)["account_stage_id"] for i in ids} == {
        apollo_connection.account_stage_id("Evangelist")
    }


def test_an_unknown_account_stage_fails_listing_the_known_ones_before_any_write(team: ApolloEmulator) -> None:
    ids = team.seed_accounts(2)
    with pytest.raises(ApolloArgumentError, match=r"Unknown account stage 'Won' \(given as account_stage\)"):
        ApolloUpdateAccountStagesOperator(task_id="s", account_ids=ids, account_stage="Won").execute(
            task_context()
        )
    assert account_writes(team) == []


def test_update_owners_takes_the_owner_by_email_100_accounts_a_request(team: ApolloEmulator) -> None:
    ids = team.seed_accounts(150)
    # [START howto_operator_apollo_account_owners]
    assign = ApolloUpdateAccountOwnersOperator(
        task_id="account_owners", account_ids=ids, new_owner="grace.hopper@emulated-team.example"
    )
    # [END howto_operator_apollo_account_owners]
    assert assign.execute(task_context()) == ids
    assert team.request_count(PATH_ACCOUNT_UPDATE_OWNERS) == 2
    accounts = team.accounts
    assert {accounts[i]["owner_id"] for i in ids} == {grace_id(team)}


def test_an_owner_email_without_a_master_key_fails_saying_so_before_any_write(
    scoped_key_team: ApolloEmulator,
) -> None:
    ids = scoped_key_team.seed_accounts(2)
    operator = ApolloUpdateAccountOwnersOperator(task_id="o", account_ids=ids, new_owner=GRACE)
    with pytest.raises(ApolloAuthError, match="needs an API key with access to api/v1/users/search"):
        operator.execute(task_context())
    assert account_writes(scoped_key_team) == []


@pytest.mark.parametrize(
    ("operator_class", "kwargs", "message"),
    [
        (
            ApolloUpdateAccountStagesOperator,
            {"account_ids": [], "account_stage": "Lead"},
            "account_ids is empty",
        ),
        (
            ApolloUpdateAccountStagesOperator,
            {"account_ids": "a1", "account_stage": "Lead"},
            "account_ids must be a list",
        ),
        (
            ApolloUpdateAccountStagesOperator,
            {"account_ids": ["a1", 2], "account_stage": "Lead"},
            "non-empty strings only",
        ),
        (
            ApolloUpdateAccountStagesOperator,
            {"account_ids": ["a1"], "account_stage": ""},
            "account_stage must be a non-empty string",
        ),
        (
            ApolloUpdateAccountOwnersOperator,
            {"account_ids": ["a1"], "new_owner": None},
            "new_owner must be a non-empty string",
        ),
    ],
)
def test_bulk_account_operators_reject_bad_arguments_at_construction(
    apollo_connection: ApolloEmulator, operator_class: type, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ApolloArgumentError, match=message):
        operator_class(task_id="t", **kwargs)
    assert apollo_connection.request_count() == 0


def test_a_retried_stage_and_owner_update_changes_nothing_twice(team: ApolloEmulator) -> None:
    ids = team.seed_accounts(3, stage="Lead")
    stages = ApolloUpdateAccountStagesOperator(task_id="s", account_ids=ids, account_stage="Subscriber")
    owners = ApolloUpdateAccountOwnersOperator(task_id="o", account_ids=ids, new_owner=GRACE)
    first = (run(stages), run(owners))
    after = {i: {k: v for k, v in team.get_account(i).items() if k != "updated_at"} for i in ids}
    assert (run(stages), run(owners)) == first
    assert {i: {k: v for k, v in team.get_account(i).items() if k != "updated_at"} for i in ids} == after


# ---------------------------------------------------------------- quota waits


def test_a_bulk_account_create_outlasts_the_hourly_quota_and_keeps_the_input_order(
    hourly: ApolloEmulator,
) -> None:
    accounts = companies(700, "quota")  # 7 batches against 5 an hour: one wait
    operator = ApolloCreateAccountOperator(task_id="create", accounts=accounts)
    run_ = run_deferring(operator, {"ti": TaskInstanceStub("create")})
    assert len(run_.deferrals) == 1
    assert all(len(json.dumps(kwargs)) < 300 for kwargs in run_.deferrals), "deferral kwargs hold a cursor"
    assert [hourly.get_account(i)["domain"] for i in run_.value] == [a["domain"] for a in accounts]
    assert hourly.account_count == 700


def test_an_account_stage_update_resumes_from_the_next_batch(hourly: ApolloEmulator) -> None:
    ids = hourly.seed_accounts(6_500, stage="Lead")  # 7 bulk updates of 1,000
    operator = ApolloUpdateAccountStagesOperator(task_id="stages", account_ids=ids, account_stage="Review")
    run_ = run_deferring(operator, {"ti": TaskInstanceStub("stages")})
    assert run_.value == ids
    assert [d["checkpoint"]["next_batch"] for d in run_.deferrals] == [5]
    assert (
        sum(1 for r in hourly.requests if r.path.endswith(PATH_ACCOUNT_BULK_UPDATE) and r.status == 200) == 7
    )


# ---------------------------------------------------------------- mapped, under dag.test()


@pytest.mark.slow
def test_account_and_deal_operators_run_mapped_over_batches(apollo_connection: ApolloEmulator) -> None:
    emulator = apollo_connection
    accounts = companies(5, "mapped")
    dag_run = load_dag("apollo_accounts_deals").test(run_conf={"accounts": accounts})

    tis = dag_run.get_task_instances()
    failed = {(ti.task_id, ti.map_index): ti.state for ti in tis if ti.state != "success"}
    assert dag_run.state == "success" and not failed, failed
    values = _mapped_values(dag_run)
    created = values["create_accounts"]
    assert [len(batch) for batch in created] == [2, 2, 1]
    ids = [i for batch in created for i in batch]
    assert [emulator.get_account(i)["domain"] for i in ids] == [a["domain"] for a in accounts]
    assert values["account_stages"] == created == values["account_owners"]
    grace = grace_id(emulator)
    assert {
        (emulator.get_account(i)["account_stage_id"], emulator.get_account(i)["owner_id"]) for i in ids
    } == {(emulator.account_stage_id("Active Opportunity"), grace)}
    deals = values["create_deals"]
    assert len(deals) == 5 and values["win_deals"] == deals
    won = emulator.deal_stage_id("Closed Won")
    assert [(emulator.deals[d]["account_id"], emulator.deals[d]["opportunity_stage_id"]) for d in deals] == [
        (i, won) for i in ids
    ]


def _mapped_values(dag_run: Any) -> dict[str, list[Any]]:
    """Every task's XCom return values, in map-index order."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = (
            session.query(XComModel)
            .filter_by(dag_id=dag_run.dag_id, run_id=dag_run.run_id, key="return_value")
            .order_by(XComModel.task_id, XComModel.map_index)
            .all()
        )
        values: dict[str, list[Any]] = {}
        for row in rows:
            values.setdefault(row.task_id, []).append(XComModel.deserialize_value(row))
        return values
