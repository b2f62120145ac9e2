"""Record types as descriptions: contacts, accounts and deals as Apollo's reference documents them, the
checks done before any request, bulk create's answer put back in input order, and the shared steps
(stages, bulk create, batched updates) driven over each record type without HTTP."""

from __future__ import annotations

import datetime
import decimal
import random
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_apollo.core import endpoints, operations  # the modules themselves
from airflow_provider_apollo.core.contacts import order_bulk_result
from airflow_provider_apollo.core.endpoints import ApiRequest
from airflow_provider_apollo.core.lifecycle import run_steps
from airflow_provider_apollo.core.lookups import TeamLookups
from airflow_provider_apollo.core.records import (
    ACCOUNTS,
    CONTACTS,
    DEALS,
    RECORD_TYPES,
    check_record_fields,
    check_record_id,
    check_record_ids,
    check_records,
    match_bulk_answer,
    match_record_stage,
    normalize_domain,
    read_updated_records,
    record_path,
    record_type,
    view_request,
)
from airflow_provider_apollo.exceptions import ApolloApiError, ApolloArgumentError
from tests.emulator.openapi_schemas import _documents, spec_available

# --------------------------------------------------------------------------- the descriptions


def test_every_path_of_a_record_type_is_a_named_path_of_core_endpoints() -> None:
    named = {value for name, value in vars(endpoints).items() if name.startswith("PATH_")}
    for record in RECORD_TYPES.values():
        paths = [
            record.create_path,
            record.record_path,
            record.search_path,
            record.stages_path,
            record.bulk_create_path,
            record.bulk_update_path,
            record.update_stages_path,
            record.update_owners_path,
        ]
        assert {path for path in paths if path is not None} <= named, record.noun


def test_accounts_and_deals_answer_under_apollos_keys() -> None:
    assert (ACCOUNTS.one_key, ACCOUNTS.many_key, ACCOUNTS.stages_key) == (
        "account",
        "accounts",
        "account_stages",
    )
    assert (ACCOUNTS.created_key, ACCOUNTS.existing_key) == ("created_accounts", "existing_accounts")
    assert (DEALS.one_key, DEALS.many_key, DEALS.stages_key) == (
        "opportunity",
        "opportunities",
        "opportunity_stages",
    )
    assert (CONTACTS.stage_field, ACCOUNTS.stage_field, DEALS.stage_field) == (
        "contact_stage_id",
        "account_stage_id",
        "opportunity_stage_id",
    )


def test_contacts_and_accounts_searches_are_capped_and_filterable_the_deal_list_only_sorts_and_pages() -> (
    None
):
    assert CONTACTS.capped and ACCOUNTS.capped and not DEALS.capped
    assert (CONTACTS.slice_filter, ACCOUNTS.slice_filter, DEALS.slice_filter) == (
        "contact_stage_ids",
        "account_stage_ids",
        None,
    )
    assert CONTACTS.filterable and ACCOUNTS.filterable and not DEALS.filterable
    assert (DEALS.search_method, DEALS.search_path) == ("GET", "/opportunities/search")
    assert DEALS.bulk_create_path is None and DEALS.dedupe_keys == ()


def test_accounts_are_deduplicated_by_crm_id_domain_organization_and_name() -> None:
    assert [key.fields for key in ACCOUNTS.dedupe_keys] == [
        ("salesforce_id",),
        ("hubspot_id",),
        ("domain",),
        ("organization_id",),
        ("name",),
    ]
    assert [key.fields for key in CONTACTS.dedupe_keys] == [
        ("email",),
        ("first_name", "last_name", "organization_name"),
    ]
    assert not ACCOUNTS.create_dedupes and CONTACTS.create_dedupes


@pytest.mark.parametrize(
    ("given", "expected"), [("accounts", ACCOUNTS), (" Deals ", DEALS), (CONTACTS, CONTACTS)]
)
def test_a_record_type_is_found_by_its_plural(given: Any, expected: Any) -> None:
    assert record_type(given) is expected


def test_an_unknown_record_type_lists_the_known_ones() -> None:
    with pytest.raises(
        ApolloArgumentError, match="record_type must be one of 'contacts', 'accounts', 'deals'"
    ):
        record_type("companies")


# --------------------------------------------------------------------------- the descriptions against the reference

needs_spec = pytest.mark.skipif(
    not spec_available(), reason="Apollo's OpenAPI files are not beside the repository"
)


def _operation(spec: str, path: str, method: str) -> dict[str, Any]:
    return _documents()[spec]["paths"][path][method]


def _body_fields(operation: dict[str, Any]) -> set[str]:
    return set(operation["requestBody"]["content"]["application/json"]["schema"]["properties"])


@needs_spec
def test_account_fields_are_the_ones_each_account_call_documents() -> None:
    assert set(ACCOUNTS.create_fields or ()) == _body_fields(_operation("accounts.yml", "/accounts", "post"))
    update = _operation("accounts.yml", "/accounts/{account_id}", "patch")
    assert set(ACCOUNTS.update_fields or ()) == _body_fields(update)
    bulk = _operation("accounts.yml", "/accounts/bulk_create", "post")
    items = bulk["requestBody"]["content"]["application/json"]["schema"]["properties"]["accounts"]
    assert set(ACCOUNTS.bulk_create_fields or ()) == set(items["items"]["properties"])
    assert items["maxItems"] == ACCOUNTS.bulk_create_max


@needs_spec
def test_deal_fields_are_the_ones_create_and_update_deal_document() -> None:
    create = _operation("deals.yml", "/opportunities", "post")
    assert set(DEALS.create_fields or ()) == _body_fields(create)
    assert create["requestBody"]["content"]["application/json"]["schema"]["required"] == ["name"]
    assert set(DEALS.update_fields or ()) == _body_fields(
        _operation("deals.yml", "/opportunities/{opportunity_id}", "patch")
    )


@needs_spec
def test_searches_filters_and_sort_fields_are_the_documented_ones() -> None:
    search = _operation("accounts.yml", "/accounts/search", "post")
    paging = {"page", "per_page", "sort_by_field", "sort_ascending"}
    assert set(ACCOUNTS.search_filters) == _body_fields(search) - paging
    schema = search["requestBody"]["content"]["application/json"]["schema"]["properties"]
    assert tuple(schema["sort_by_field"]["enum"]) == ACCOUNTS.sort_fields
    listing = _operation("deals.yml", "/opportunities/search", "get")
    assert {parameter["name"] for parameter in listing["parameters"]} == {"sort_by_field", "page", "per_page"}


@needs_spec
@pytest.mark.parametrize("record", [CONTACTS, ACCOUNTS, DEALS], ids=lambda r: r.plural)
def test_every_path_and_answer_key_is_in_the_reference(record: Any) -> None:
    spec = {"contact": "contacts.yml", "account": "accounts.yml", "deal": "deals.yml"}[record.noun]
    paths = _documents()[spec]["paths"]
    assert "post" in paths[record.create_path]
    # Accounts' View documents the same path as /accounts/{id}.
    viewed = paths.get(record.record_path) or paths[record.record_path.replace(record.path_param, "id")]
    assert "get" in viewed or "patch" in viewed
    assert record.search_method.lower() in paths[record.search_path]
    stages = paths[record.stages_path]["get"]["responses"]["200"]["content"]["application/json"]
    assert record.stages_key in str(stages["examples"])
    created = paths[record.create_path]["post"]["responses"]["200"]["content"]["application/json"]
    assert record.one_key in str(created["examples"])
    for path in (
        record.bulk_create_path,
        record.bulk_update_path,
        record.update_stages_path,
        record.update_owners_path,
    ):
        assert path is None or "post" in paths[path], path


# --------------------------------------------------------------------------- checks before any request


def message(call: Callable[..., Any], *args: Any, **kwargs: Any) -> str:
    with pytest.raises(ApolloArgumentError) as caught:
        call(*args, **kwargs)
    return str(caught.value)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, "account must be a non-empty dict of Apollo account fields, got {}."),
        (["x"], "account must be a non-empty dict of Apollo account fields, got ['x']."),
        (
            {"name": "A", "api_key": "k"},
            "account must not contain 'api_key': the key comes from the connection.",
        ),
        (
            {"name": "A", "linkedin_url": "x"},
            "account: Apollo does not document 'linkedin_url' for this account call and would ignore it. It "
            "takes name, domain, owner_id, account_stage_id, phone, raw_address, typed_custom_fields, stage.",
        ),
        (
            {"name": "A", "stage": "Lead", "account_stage_id": "s1"},
            "account gives the stage twice: pass 'stage' (a stage name or id) or 'account_stage_id', not both.",
        ),
        ({"phone": "555"}, "account needs 'name' or 'domain': Apollo refuses an account without one."),
        (
            {"name": "  ", "domain": None},
            "account needs 'name' or 'domain': Apollo refuses an account without one.",
        ),
        (
            {"name": "A", "custom_fields": {"Tier": "1"}},
            "account: custom_fields by label are supported for contacts only. Give account custom values as "
            "typed_custom_fields: {field id: value} (the ids from GET /fields).",
        ),
    ],
)
def test_bad_account_fields_are_refused_naming_the_argument(fields: Any, expected: str) -> None:
    assert (
        message(check_record_fields, ACCOUNTS, fields, "account", ACCOUNTS.create_fields, creating=True)
        == expected
    )


def test_an_update_needs_no_name_but_a_deal_create_does() -> None:
    assert check_record_fields(ACCOUNTS, {"phone": "1"}, "fields", ACCOUNTS.update_fields) == {"phone": "1"}
    assert message(check_record_fields, DEALS, {"amount": 5}, "deal", DEALS.create_fields, creating=True) == (
        "deal needs 'name': Apollo refuses a deal without one."
    )


@pytest.mark.parametrize(
    ("amount", "sent"),
    [(55000, "55000"), (1250.5, "1250.5"), (decimal.Decimal("10.00"), "10.00"), (" 42 ", "42"), ("0", "0")],
)
def test_deal_amounts_are_sent_as_strings_of_digits(amount: Any, sent: str) -> None:
    checked = check_record_fields(
        DEALS, {"name": "D", "amount": amount}, "deal", DEALS.create_fields, creating=True
    )
    assert checked["amount"] == sent


@pytest.mark.parametrize("amount", ["1,200", "$100", "-5", "12e3", float("nan"), True, [1]])
def test_deal_amounts_apollo_would_leave_blank_are_refused(amount: Any) -> None:
    text = message(
        check_record_fields,
        DEALS,
        {"name": "D", "amount": amount},
        "deal",
        DEALS.create_fields,
        creating=True,
    )
    assert text.startswith("deal['amount'] must be a")


@pytest.mark.parametrize(
    ("closed", "sent"),
    [
        ("2026-10-30", "2026-10-30"),
        (datetime.date(2026, 1, 2), "2026-01-02"),
        (datetime.datetime(2026, 1, 2, 15, 30), "2026-01-02"),
    ],
)
def test_deal_dates_are_sent_as_yyyy_mm_dd(closed: Any, sent: str) -> None:
    checked = check_record_fields(DEALS, {"closed_date": closed}, "fields", DEALS.update_fields)
    assert checked["closed_date"] == sent


@pytest.mark.parametrize("closed", ["30/10/2026", "2026-02-30", "2026-10-30T00:00:00", 20261030])
def test_deal_dates_not_yyyy_mm_dd_are_refused(closed: Any) -> None:
    assert message(check_record_fields, DEALS, {"closed_date": closed}, "fields", DEALS.update_fields) == (
        f"fields['closed_date'] must be a date as 'YYYY-MM-DD' (or a date object), got {closed!r}."
    )


def test_a_deal_update_refuses_an_account_id_apollo_does_not_document_there() -> None:
    assert "does not document 'account_id' for this deal call" in message(
        check_record_fields, DEALS, {"account_id": "a1"}, "fields", DEALS.update_fields
    )


def test_contacts_fields_are_not_checked_against_a_list() -> None:
    fields = {"first_name": "A", "anything": 1, "custom_fields": {"Tier": "1"}}
    assert check_record_fields(CONTACTS, fields, "contact", CONTACTS.create_fields, creating=True) == fields


def test_ids_are_checked_and_kept_once_in_first_seen_order() -> None:
    assert check_record_ids(ACCOUNTS, ["b", "a", "b"], "account_ids") == ["b", "a"]
    assert message(check_record_ids, ACCOUNTS, "a", "account_ids") == (
        "account_ids must be a list of account id strings, got str."
    )
    assert message(check_record_ids, ACCOUNTS, [], "account_ids") == (
        "account_ids is empty: give at least one account id."
    )
    assert message(check_record_ids, ACCOUNTS, ["a", " "], "account_ids") == (
        "account_ids must contain non-empty strings only; got ' '."
    )
    assert (
        message(check_record_id, DEALS, 7, "deal_id")
        == "deal_id must be a non-empty string (a deal id), got 7."
    )


def test_a_list_of_records_names_the_bad_entry() -> None:
    assert message(
        check_records, ACCOUNTS, [{"name": "A"}, {"phone": "1"}], "accounts", ACCOUNTS.bulk_create_fields
    ) == ("accounts[1] needs 'name' or 'domain': Apollo refuses an account without one.")
    assert message(check_records, ACCOUNTS, [], "accounts", None) == (
        "accounts is empty: give at least one account's fields."
    )
    assert message(check_records, ACCOUNTS, {"name": "A"}, "accounts", None) == (
        "accounts must be a list of dicts, got dict."
    )


# --------------------------------------------------------------------------- requests


def test_a_record_path_quotes_its_id_and_is_paced_by_its_template() -> None:
    assert record_path(DEALS, "a/b c") == "/opportunities/a%2Fb%20c"
    request = view_request(ACCOUNTS, "x/y")
    assert (request.method, request.path, request.rate_key) == (
        "GET",
        "/accounts/x%2Fy",
        "GET /accounts/{account_id}",
    )


def test_a_bulk_update_answer_is_read_as_records_or_as_a_background_job() -> None:
    assert read_updated_records(ACCOUNTS, {"accounts": [{"id": "a"}, "x"]}, ["a"]) == [{"id": "a"}]
    job = {"entity_progress_job": {"entity_ids": ["a", "b"]}}
    assert read_updated_records(ACCOUNTS, job, ["a", "b"]) == [{"id": "a"}, {"id": "b"}]
    with pytest.raises(ApolloApiError, match="without 'accounts' or 'entity_progress_job'"):
        read_updated_records(ACCOUNTS, {"contacts": []}, ["a"])


# --------------------------------------------------------------------------- bulk create's answer in input order


@pytest.mark.parametrize(
    ("given", "normal"),
    [
        ("Acme.COM", "acme.com"),
        ("https://www.acme.com/about", "acme.com"),
        ("acme.com.", "acme.com"),
        ("  ", None),
    ],
)
def test_domains_are_compared_without_scheme_www_path_or_case(given: str, normal: str | None) -> None:
    assert normalize_domain(given) == normal


def test_accounts_are_matched_back_by_domain_then_name_one_to_one() -> None:
    inputs = [
        {"name": "New Co", "domain": "new.example"},
        {"name": "Acme", "domain": "https://www.ACME.com"},
        {"name": "beta corp"},
        {"name": "Twin", "domain": "twin.example"},
        {"name": "Twin", "domain": "twin.example"},
    ]
    created = [
        {"id": "twin-1", "name": "Twin", "domain": "twin.example"},
        {"id": "new", "name": "New Co", "domain": "new.example"},
    ]
    # Matched accounts come back as they are: another name, or another domain, than the input's.
    existing = [
        {"id": "beta", "name": "Beta Corp", "domain": "beta.example"},
        {"id": "acme", "name": "ACME Inc", "domain": "acme.com"},
        {"id": "twin-1", "name": "Twin", "domain": "twin.example"},
    ]
    ordered = match_bulk_answer(ACCOUNTS, inputs, created, existing)
    assert [account["id"] for account in ordered] == ["new", "acme", "beta", "twin-1", "twin-1"]
    assert ordered[3] is created[0] and ordered[4] is existing[2]


def test_accounts_matched_by_crm_id_win_over_a_name_and_the_rest_go_by_position() -> None:
    inputs = [{"name": "X", "salesforce_id": "sf-2"}, {"name": "unknowable"}]
    created = [{"id": "other", "name": "Renamed"}]
    existing = [{"id": "sf", "name": "Y", "salesforce_id": "sf-2"}]
    assert [a["id"] for a in match_bulk_answer(ACCOUNTS, inputs, created, existing)] == ["sf", "other"]


def test_an_answer_short_of_accounts_says_how_many_came_for_how_many_inputs() -> None:
    with pytest.raises(ApolloApiError) as caught:
        match_bulk_answer(ACCOUNTS, [{"name": "A"}, {"name": "B"}], [{"id": "1", "name": "A"}], [])
    assert str(caught.value) == (
        "Apollo's bulk create answered 1 accounts for 2 inputs; some inputs could not be matched to an account."
    )


def _random_contact(rng: random.Random) -> dict[str, Any]:
    def pick(*choices: Any) -> Any:
        return rng.choice(choices)

    contact = {
        "email": pick(None, "", "a@x.io", "A@X.io", "b@x.io", " a@x.io"),
        "first_name": pick(None, "", "Ann", "ann ", "Bo", "  "),
        "last_name": pick(None, "Lee", "LEE", ""),
        "organization_name": pick(None, "Acme", "acme ", "Beta"),
        "title": pick(None, "CTO"),
    }
    return {key: value for key, value in contact.items() if value is not None or rng.random() < 0.3}


def test_contacts_described_as_a_record_type_match_exactly_as_order_bulk_result_does() -> None:
    rng = random.Random(27)
    compared = 0
    for _ in range(3000):
        inputs = [_random_contact(rng) for _ in range(rng.randrange(1, 6))]
        answered = [{"id": f"c{n}", **_random_contact(rng)} for n in range(rng.randrange(0, 7))]
        cut = rng.randrange(0, len(answered) + 1)
        created, existing = answered[:cut], answered[cut:]
        try:
            expected: Any = [c["id"] for c in order_bulk_result(inputs, created, existing)]
        except ApolloApiError as error:
            expected = str(error)
        try:
            got: Any = [c["id"] for c in match_bulk_answer(CONTACTS, inputs, created, existing)]
        except ApolloApiError as error:
            got = str(error)
        assert got == expected, (inputs, created, existing)
        compared += isinstance(expected, list)
    assert compared > 1000


# --------------------------------------------------------------------------- stages of each record type

DEAL_STAGES = [{"id": "d1", "name": "Qualify"}, {"id": "d2", "name": "Meet & Present"}]
ACCOUNT_STAGES = [
    {"id": "a1", "display_name": "Lead", "name": "Lead"},
    {"id": "a2", "display_name": "Current Client"},
]


def test_a_deal_stage_is_found_by_name_or_id_and_an_unknown_one_lists_the_deal_stages() -> None:
    assert match_record_stage(DEALS, DEAL_STAGES, "meet & present ", "deal['stage']") == "d2"
    assert match_record_stage(DEALS, DEAL_STAGES, "d1", "deal['stage']") == "d1"
    assert message(match_record_stage, DEALS, DEAL_STAGES, "Won", "deal['stage']") == (
        "Unknown deal stage 'Won' (given as deal['stage']). The team's deal stages: 'Qualify', 'Meet & Present'."
    )
    assert message(match_record_stage, ACCOUNTS, ACCOUNT_STAGES, None, "account_stage") == (
        "account_stage must be a non-empty string (an account stage id or name), got None."
    )


class Team:
    """A fake transport: the stage lists of each record type and a users list; it records what was sent."""

    def __init__(self) -> None:
        self.sent: list[ApiRequest] = []

    def call(self, request: ApiRequest) -> Any:
        self.sent.append(request)
        if request.path == "/contact_stages":
            return {"contact_stages": [{"id": "c1", "display_name": "Cold"}]}
        if request.path == "/account_stages":
            return {"account_stages": ACCOUNT_STAGES}
        if request.path == "/opportunity_stages":
            return {"opportunity_stages": DEAL_STAGES}
        if request.path == "/users/search":
            users = [{"id": "u1", "email": "ada@example.com"}]
            return {
                "users": users,
                "pagination": {"page": 1, "per_page": 100, "total_entries": 1, "total_pages": 1},
            }
        if request.path == "/accounts/bulk_update":
            return {
                "accounts": [{"id": i, "account_stage_id": "a2"} for i in request.json_body["account_ids"]]
            }
        if request.path == "/accounts/update_owners":
            ids = [value for name, value in request.params if name == "account_ids[]"]
            return {"accounts": [{"id": i, "owner_id": "u1", "crm_owner_id": None} for i in ids]}
        if request.path == "/accounts/bulk_create":
            accounts = request.json_body["accounts"]
            return {
                "created_accounts": [{"id": f"new-{a['name']}", **a} for a in reversed(accounts)],
                "existing_accounts": [],
            }
        if request.path == "/opportunities":
            return {"opportunity": {"id": "deal-1", **request.json_body}}
        raise AssertionError(f"unexpected request {request}")

    def paths(self) -> list[str]:
        return [f"{r.method} {r.path}" for r in self.sent]


def test_each_record_types_stages_are_listed_once_per_lookups() -> None:
    lookups, team = TeamLookups(), Team()
    for record in (CONTACTS, ACCOUNTS, DEALS, ACCOUNTS, CONTACTS, DEALS):
        run_steps(lookups.stages(record), team.call)
    assert run_steps(lookups.stage_id("cold"), team.call) == "c1"
    assert run_steps(lookups.stage_id("current client", ACCOUNTS), team.call) == "a2"
    assert run_steps(lookups.stage_name("d2", DEALS), team.call) == "Meet & Present"
    assert team.paths() == ["GET /contact_stages", "GET /account_stages", "GET /opportunity_stages"]


def test_contact_stage_messages_are_the_ones_contacts_always_had() -> None:
    lookups, team = TeamLookups(), Team()
    assert (
        message(run_steps, lookups.stage_id("Hot"), team.call)
        == "Unknown contact stage 'Hot'. Known stages: 'Cold'."
    )


def test_record_fields_resolve_the_stage_by_name_and_the_owner_by_email() -> None:
    lookups, team = TeamLookups(), Team()
    fields = {"name": "D", "stage": "qualify", "owner_id": "ADA@example.com"}
    resolved = run_steps(lookups.record_fields(DEALS, fields, "deal"), team.call)
    assert resolved == {"name": "D", "opportunity_stage_id": "d1", "owner_id": "u1"}
    again = run_steps(
        lookups.record_fields(DEALS, {"opportunity_stage_id": "Meet & present"}, "fields"), team.call
    )
    assert again == {"opportunity_stage_id": "d2"}
    assert team.paths() == ["GET /opportunity_stages", "GET /users/search"]


def test_a_stage_key_holding_none_never_reaches_apollo() -> None:
    lookups, team = TeamLookups(), Team()
    assert run_steps(lookups.record_fields(ACCOUNTS, {"name": "A", "stage": None}, "account"), team.call) == {
        "name": "A"
    }
    assert team.sent == []


# --------------------------------------------------------------------------- the operations over a record type


def test_account_stages_move_through_bulk_update_a_thousand_a_request() -> None:
    lookups, team = TeamLookups(), Team()
    ids = [f"a{n}" for n in range(2500)]
    batches: list[int] = []
    result = run_steps(
        operations.update_account_stages(
            lookups, ids, "Current Client", on_batch=lambda i, _: batches.append(i)
        ),
        team.call,
    )
    assert result.updated_ids == ids and batches == [0, 1, 2]
    updates = [r for r in team.sent if r.path == "/accounts/bulk_update"]
    assert [len(r.json_body["account_ids"]) for r in updates] == [1000, 1000, 500]
    assert {r.json_body["account_stage_id"] for r in updates} == {"a2"}


def test_account_owners_are_sent_as_account_ids_query_arrays_100_a_request() -> None:
    lookups, team = TeamLookups(), Team()
    ids = [f"a{n}" for n in range(150)]
    result = run_steps(
        operations.update_account_owners(lookups, ids, "ada@example.com", start_batch=1), team.call
    )
    assert result.updated_ids == ids[100:]
    [request] = [r for r in team.sent if r.path == "/accounts/update_owners"]
    assert request.params[0] == ("account_ids[]", "a100") and request.params[-1] == ("owner_id", "u1")


def test_accounts_bulk_create_answers_in_input_order_with_dedupe_safe_to_retry() -> None:
    lookups, team = TeamLookups(), Team()
    accounts = [{"name": f"N{n}", "stage": "Lead"} for n in range(3)]
    created = run_steps(operations.bulk_create_accounts(lookups, accounts, run_dedupe=True), team.call)
    assert [a["id"] for a in created] == ["new-N0", "new-N1", "new-N2"]
    request = team.sent[-1]
    assert request.json_body["run_dedupe"] is True and request.idempotent
    assert request.json_body["accounts"][0] == {"name": "N0", "account_stage_id": "a1"}


def test_a_deal_create_is_never_retried_once_it_may_have_been_applied() -> None:
    lookups, team = TeamLookups(), Team()
    deal = run_steps(operations.create_deal(lookups, {"name": "D", "amount": 10}), team.call)
    assert deal == {"id": "deal-1", "name": "D", "amount": "10"}
    assert team.sent[-1].idempotent is False


def test_the_contacts_bulk_create_sends_what_it_always_sent() -> None:
    sent: list[ApiRequest] = []

    def call(request: ApiRequest) -> Any:
        sent.append(request)
        return {"created_contacts": [{"id": "1", "email": "a@x.io"}], "existing_contacts": []}

    run_steps(operations.bulk_create_contacts(TeamLookups(), [{"email": "a@x.io"}], run_dedupe=False), call)
    assert sent == [
        ApiRequest(
            "POST",
            "/contacts/bulk_create",
            json_body={"contacts": [{"email": "a@x.io"}], "run_dedupe": False},
            idempotent=False,
        )
    ]


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        (
            lambda lookups: operations.get_account(""),
            r"account_id must be a non-empty string \(an account id\), got ''\.",
        ),
        (
            lambda lookups: operations.get_deal(None),
            r"deal_id must be a non-empty string \(a deal id\), got None\.",
        ),
        (
            lambda lookups: operations.create_account(lookups, {"phone": "1"}),
            "account needs 'name' or 'domain'",
        ),
        (
            lambda lookups: operations.create_account(lookups, {"phone": "1"}, run_dedupe=True),
            "account needs 'name' or 'domain'",
        ),
        (
            lambda lookups: operations.bulk_create_accounts(lookups, [{"name": "A", "bogus": 1}]),
            r"accounts\[0\]: Apollo does not document 'bogus'",
        ),
        (lambda lookups: operations.update_account(lookups, "a1", {}), "fields must be a non-empty dict"),
        (
            lambda lookups: operations.update_account_stages(lookups, "a1", "Lead"),
            "account_ids must be a list",
        ),
        (
            lambda lookups: operations.update_account_stages(lookups, ["a1"], "Lead", batch_size=1001),
            "batch_size must be an integer from 1 to 1000",
        ),
        (
            lambda lookups: operations.update_account_owners(lookups, ["a1"], ""),
            "owner_id must be a non-empty string",
        ),
        (
            lambda lookups: operations.create_deal(lookups, {"name": "D", "amount": "1,000"}),
            r"deal\['amount'\] must be",
        ),
        (
            lambda lookups: operations.update_deal(lookups, "d1", {"closed_date": "soon"}),
            r"fields\['closed_date'\] must be a date",
        ),
    ],
)
def test_bad_arguments_fail_before_any_request(steps: Callable[[TeamLookups], Any], expected: str) -> None:
    def no_request(request: ApiRequest) -> Any:
        raise AssertionError(f"sent {request}")

    with pytest.raises(ApolloArgumentError, match=expected):
        run_steps(steps(TeamLookups()), no_request)
