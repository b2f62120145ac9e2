"""
The contact operators against the emulator: arguments, templating, XCom values, deleted contacts,
custom fields and owners given by name, and retried tasks that change nothing twice.

Bad, hostile and huge input: test_contacts_inputs.py; faults and task retries: test_contacts_under_faults.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pendulum
import pytest
from airflow.providers.common.compat.sdk import DAG

from airflow_provider_apollo.core import BULK_CREATE_MAX, PATH_BULK_CREATE, PATH_UPDATE_STAGES
from airflow_provider_apollo.exceptions import ApolloArgumentError, ApolloAuthError, ApolloValidationError
from airflow_provider_apollo.operators.contacts import (
    ApolloCreateContactOperator,
    ApolloUpdateContactOperator,
    ApolloUpdateOwnersOperator,
    ApolloUpdateStagesOperator,
    check_native_argument,
)
from airflow_provider_apollo.testing import ApolloEmulator

from .outreach_support import (
    GRACE,
    TWO_BATCHES,
    VOLATILE,
    assert_a_retried_task_changes_nothing_twice,
    create_contacts,
    people,
    run,
    statuses,
    task_context,
    team_state,
)

CONTEXT: Any = {}


def stage_name_of(emulator: ApolloEmulator, contact_id: str) -> str:
    stage_id = emulator.contacts[contact_id]["contact_stage_id"]
    return next(s["display_name"] for s in emulator.stages if s["id"] == stage_id)


def render(operator: Any, **params: Any) -> None:
    operator.render_template_fields({"params": params})


# ---------------------------------------------------------------- create


def test_create_one_contact_returns_its_id(apollo_connection: ApolloEmulator) -> None:
    operator = ApolloCreateContactOperator(
        task_id="create", contact={"first_name": "Ada", "email": "ada@example.com"}
    )
    contact_id = operator.execute(CONTEXT)
    assert isinstance(contact_id, str)
    assert apollo_connection.contacts[contact_id]["email"] == "ada@example.com"


def test_create_dedupes_by_default_so_a_retried_task_creates_no_duplicate(
    apollo_connection: ApolloEmulator,
) -> None:
    # The first attempt is applied but its answer is lost; the retry must find, not duplicate, it.
    apollo_connection.add_fault("drop_after_apply", path="/contacts", method="POST")
    operator = ApolloCreateContactOperator(
        task_id="create", contact={"first_name": "Ada", "email": "ada@example.com"}
    )
    contact_id = operator.execute(CONTEXT)
    again = ApolloCreateContactOperator(
        task_id="create_again", contact={"first_name": "Ada", "email": "ada@example.com"}
    ).execute(CONTEXT)
    assert again == contact_id
    assert list(apollo_connection.contacts) == [contact_id]


def test_create_many_uses_bulk_create_in_batches_of_100_and_returns_ids_in_order(
    apollo_connection: ApolloEmulator,
) -> None:
    contacts = [{"first_name": f"P{i}", "email": f"p{i}@example.com"} for i in range(BULK_CREATE_MAX + 50)]
    # [START howto_operator_apollo_create_many]
    create = ApolloCreateContactOperator(task_id="create", contacts=contacts)  # run_dedupe=True by default
    # [END howto_operator_apollo_create_many]
    ids = create.execute(CONTEXT)
    assert apollo_connection.request_count(path_contains=PATH_BULK_CREATE) == 2
    assert [apollo_connection.contacts[i]["email"] for i in ids] == [c["email"] for c in contacts]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "exactly one of contact= .* or contacts= .*got neither"),
        ({"contact": {"first_name": "A"}, "contacts": [{"first_name": "B"}]}, "got both"),
        ({"contacts": []}, "contacts is empty"),
        ({"contacts": [{"first_name": "A"}, "bob"]}, r"contacts\[1\] must be a dict"),
        ({"contact": {"first_name": "A", "api_key": "x"}}, "must not contain 'api_key'"),
        ({"contact": {"first_name": "A"}, "run_dedupe": "yes"}, "run_dedupe must be True or False"),
    ],
)
def test_create_rejects_bad_arguments_at_construction(
    apollo_connection: ApolloEmulator, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ApolloValidationError, match=message):
        ApolloCreateContactOperator(task_id="create", **kwargs)
    assert apollo_connection.request_count() == 0


def test_create_renders_a_jinja_contact_from_params(apollo_connection: ApolloEmulator) -> None:
    operator = ApolloCreateContactOperator(
        task_id="create", contact={"first_name": "{{ params.name }}", "email": "{{ params.email }}"}
    )
    render(operator, name="Grace", email="grace@example.com")
    contact_id = operator.execute(CONTEXT)
    assert apollo_connection.contacts[contact_id]["first_name"] == "Grace"


# ---------------------------------------------------------------- update one contact


def test_update_contact_sets_fields_and_returns_the_id(apollo_connection: ApolloEmulator) -> None:
    [contact_id] = apollo_connection.seed_contacts(1)
    result = ApolloUpdateContactOperator(
        task_id="update", contact_id=contact_id, fields={"title": "Chief Analyst"}
    ).execute(CONTEXT)
    assert result == contact_id
    assert apollo_connection.contacts[contact_id]["title"] == "Chief Analyst"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"contact_id": "", "fields": {"title": "x"}}, "contact_id must be a non-empty string"),
        ({"contact_id": 42, "fields": {"title": "x"}}, "contact_id must be a non-empty string"),
        ({"contact_id": "abc", "fields": {}}, "fields is empty"),
        ({"contact_id": "abc", "fields": ["title"]}, "fields must be a dict"),
    ],
)
def test_update_contact_rejects_bad_arguments_at_construction(
    apollo_connection: ApolloEmulator, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ApolloValidationError, match=message):
        ApolloUpdateContactOperator(task_id="update", **kwargs)
    assert apollo_connection.request_count() == 0


# ---------------------------------------------------------------- custom fields by label


def test_custom_fields_by_label_on_create_and_update(team: ApolloEmulator) -> None:
    contact_id = ApolloCreateContactOperator(
        task_id="c",
        contact={"first_name": "Ada", "email": "ada@example.com", "custom_fields": {"Segment": "SMB"}},
    ).execute(task_context())
    ApolloUpdateContactOperator(
        task_id="u", contact_id=contact_id, fields={"custom_fields": {"Lead score": 90}}
    ).execute(task_context())
    by_label = {f["label"]: f for f in team.fields}
    segment, score = by_label["Segment"], by_label["Lead score"]
    smb = next(o["id"] for o in segment["meta"]["picklist_values"] if o["name"] == "SMB")
    typed = team.contacts[contact_id]["typed_custom_fields"]
    assert typed[segment["id"].split(".", 1)[1]] == smb
    assert typed[score["id"].split(".", 1)[1]] == 90


# ---------------------------------------------------------------- update many contacts (bulk update)


def test_update_many_contacts_through_bulk_update_twice_changes_nothing_more(team: ApolloEmulator) -> None:
    ids = create_contacts(*people(3))
    # [START howto_outreach_bulk_update]
    operator = ApolloUpdateContactOperator(
        task_id="update_many",
        contacts=[
            {"id": i, "title": f"T{n}", "custom_fields": {"Segment": "Enterprise"}} for n, i in enumerate(ids)
        ],
    )
    # [END howto_outreach_bulk_update]
    assert operator.execute(task_context()) == ids
    first = team.contacts
    assert operator.execute(task_context()) == ids
    assert [team.contacts[i]["title"] for i in ids] == ["T0", "T1", "T2"]
    assert [team.contacts[i]["typed_custom_fields"] for i in ids] == [
        first[i]["typed_custom_fields"] for i in ids
    ]
    assert team.request_count("/contacts/bulk_update") == 2


def test_update_operator_takes_one_form_only() -> None:
    with pytest.raises(ApolloArgumentError, match="either contact_id= and fields="):
        ApolloUpdateContactOperator(task_id="u", contact_id="c1", contacts=[{"id": "c1", "title": "x"}])
    with pytest.raises(ApolloArgumentError, match="does not take 'contact_stage_id'"):
        ApolloUpdateContactOperator(task_id="u", contacts=[{"id": "c1", "contact_stage_id": "s"}])


# ---------------------------------------------------------------- update stages


def test_update_stages_by_name_moves_contacts_and_logs_in_user_terms(
    apollo_connection: ApolloEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = apollo_connection.seed_contacts(3, stage="Cold")
    operator = ApolloUpdateStagesOperator(task_id="stages", contact_ids=ids, contact_stage="interested")
    result = operator.execute(CONTEXT)
    logged = capsys.readouterr().out  # task logs go through structlog to stdout
    assert result == ids
    assert {stage_name_of(apollo_connection, i) for i in ids} == {"Interested"}
    assert "Moved 3 contacts to stage Interested" in logged
    assert apollo_connection.api_key not in logged


def test_update_stages_accepts_a_stage_id(apollo_connection: ApolloEmulator) -> None:
    ids = apollo_connection.seed_contacts(2, stage="Cold")
    stage_id = apollo_connection.stage_id("Replied")
    ApolloUpdateStagesOperator(task_id="stages", contact_ids=ids, contact_stage=stage_id).execute(CONTEXT)
    assert {stage_name_of(apollo_connection, i) for i in ids} == {"Replied"}


@pytest.mark.parametrize(
    ("contact_ids", "message"),
    [
        ([], "contact_ids is empty"),
        (["abc", 7], "contact_ids must contain non-empty strings only; got 7"),
        (["abc", ""], "contact_ids must contain non-empty strings only"),
        ("abc", "contact_ids must be a list"),
        ({"id": "abc"}, "contact_ids must be a list, got dict"),
    ],
)
def test_update_stages_rejects_bad_ids_at_construction(
    apollo_connection: ApolloEmulator, contact_ids: Any, message: str
) -> None:
    with pytest.raises(ApolloValidationError, match=message):
        ApolloUpdateStagesOperator(task_id="stages", contact_ids=contact_ids, contact_stage="Replied")
    assert apollo_connection.request_count() == 0


def test_update_stages_unknown_stage_name_fails_before_any_update(apollo_connection: ApolloEmulator) -> None:
    ids = apollo_connection.seed_contacts(2, stage="Cold")
    operator = ApolloUpdateStagesOperator(task_id="stages", contact_ids=ids, contact_stage="Intrested")
    with pytest.raises(ApolloValidationError, match="Unknown contact stage 'Intrested'.*'Interested'"):
        operator.execute(CONTEXT)
    assert apollo_connection.request_count(path_contains=PATH_UPDATE_STAGES) == 0
    assert {stage_name_of(apollo_connection, i) for i in ids} == {"Cold"}


def test_update_stages_rendered_empty_list_fails_before_any_request(
    apollo_connection: ApolloEmulator,
) -> None:
    operator = ApolloUpdateStagesOperator(
        task_id="stages", contact_ids="{{ params.ids }}", contact_stage="Replied"
    )
    render(operator, ids=[])
    with pytest.raises(ApolloValidationError, match="contact_ids is empty"):
        operator.execute(CONTEXT)
    assert apollo_connection.request_count() == 0


def test_update_stages_fails_listing_deleted_contacts_by_default(apollo_connection: ApolloEmulator) -> None:
    ids = apollo_connection.seed_contacts(4, stage="Cold")
    apollo_connection.delete_contacts(ids[1:3])
    operator = ApolloUpdateStagesOperator(task_id="stages", contact_ids=ids, contact_stage="Replied")
    with pytest.raises(ApolloValidationError, match="2 of the contacts are deleted") as raised:
        operator.execute(CONTEXT)
    assert raised.value.deleted_contact_ids == ids[1:3]
    assert ids[1] in str(raised.value) and ids[2] in str(raised.value)
    assert "skip_deleted=True" in str(raised.value)
    assert {stage_name_of(apollo_connection, i) for i in (ids[0], ids[3])} == {"Cold"}


def test_update_stages_skip_deleted_updates_the_rest_and_logs_skipped_ids(
    apollo_connection: ApolloEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = apollo_connection.seed_contacts(4, stage="Cold")
    apollo_connection.delete_contacts([ids[2]])
    # [START howto_operator_apollo_skip_deleted]
    operator = ApolloUpdateStagesOperator(
        task_id="stages", contact_ids=ids, contact_stage="Replied", skip_deleted=True
    )
    # [END howto_operator_apollo_skip_deleted]
    result = operator.execute(CONTEXT)
    logged = capsys.readouterr().out  # task logs go through structlog to stdout
    assert result == [ids[0], ids[1], ids[3]]
    assert {stage_name_of(apollo_connection, i) for i in result} == {"Replied"}
    assert "Skipped 1 deleted contacts" in logged and ids[2] in logged


# ---------------------------------------------------------------- update owners


def test_update_owners_assigns_the_owner_and_returns_ids(apollo_connection: ApolloEmulator) -> None:
    ids = apollo_connection.seed_contacts(3)
    owner_id = apollo_connection.users[2]["id"]
    result = ApolloUpdateOwnersOperator(task_id="owners", contact_ids=ids, owner_id=owner_id).execute(CONTEXT)
    assert result == ids
    assert {apollo_connection.contacts[i]["owner_id"] for i in ids} == {owner_id}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"contact_ids": ["a"], "owner_id": ""}, "owner_id must be a non-empty string"),
        ({"contact_ids": ["a"], "owner_id": None}, "pass new_owner= .* or owner_id= .*; got neither"),
        ({"contact_ids": ["a"], "new_owner": " "}, "new_owner must be a non-empty string"),
        ({"contact_ids": ["a"], "new_owner": "u1", "owner_id": "u1"}, "not both"),
        ({"contact_ids": [], "owner_id": "u1"}, "contact_ids is empty"),
        (
            {"contact_ids": ["a"], "owner_id": "u1", "skip_deleted": "no"},
            "skip_deleted must be True or False",
        ),
    ],
)
def test_update_owners_rejects_bad_arguments_at_construction(
    apollo_connection: ApolloEmulator, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ApolloValidationError, match=message):
        ApolloUpdateOwnersOperator(task_id="owners", **kwargs)
    assert apollo_connection.request_count() == 0


def test_update_owners_takes_the_new_owner_by_id_or_email(apollo_connection: ApolloEmulator) -> None:
    ids = apollo_connection.seed_contacts(4)
    first, second = apollo_connection.users[1], apollo_connection.users[2]
    by_id = ApolloUpdateOwnersOperator(task_id="by_id", contact_ids=ids[:2], new_owner=first["id"])
    by_email = ApolloUpdateOwnersOperator(task_id="by_email", contact_ids=ids[2:], new_owner=second["email"])
    assert by_id.execute(CONTEXT) == ids[:2] and by_email.execute(CONTEXT) == ids[2:]
    contacts = apollo_connection.contacts
    assert [contacts[i]["owner_id"] for i in ids] == [first["id"]] * 2 + [second["id"]] * 2


def test_owner_is_the_airflow_task_owner_not_the_apollo_owner(apollo_connection: ApolloEmulator) -> None:
    ids = apollo_connection.seed_contacts(1)
    apollo_user = apollo_connection.users[1]["id"]
    operator = ApolloUpdateOwnersOperator(
        task_id="owners", contact_ids=ids, new_owner=apollo_user, owner="data-team"
    )
    assert operator.owner == "data-team"
    operator.execute(CONTEXT)
    assert apollo_connection.contacts[ids[0]]["owner_id"] == apollo_user


def test_update_owners_given_only_owner_says_the_apollo_owner_is_new_owner(
    apollo_connection: ApolloEmulator,
) -> None:
    # A DAG written before 1.0: owner= now sets the Airflow task owner, so no Apollo owner is given.
    with pytest.raises(ApolloValidationError) as raised:
        ApolloUpdateOwnersOperator(task_id="owners", contact_ids=["a"], owner="grace@example.com")
    assert str(raised.value) == (
        "ApolloUpdateOwnersOperator 'owners': pass new_owner= (an Apollo user id or the user's email) or "
        "owner_id= (an Apollo user id); got neither. The Apollo owner is new_owner= (owner= is the Airflow "
        "task owner; renamed in 1.0)."
    )
    assert apollo_connection.request_count() == 0


def test_new_owner_is_templated(apollo_connection: ApolloEmulator) -> None:
    ids = apollo_connection.seed_contacts(2)
    user = apollo_connection.users[2]
    operator = ApolloUpdateOwnersOperator(task_id="owners", contact_ids=ids, new_owner="{{ params.owner }}")
    assert set(operator.template_fields) == {"contact_ids", "new_owner", "owner_id"}
    render(operator, owner=user["email"])
    assert operator.new_owner == user["email"]
    assert operator.execute(CONTEXT) == ids
    assert {apollo_connection.contacts[i]["owner_id"] for i in ids} == {user["id"]}


def test_update_owners_deleted_contacts_are_reported_by_id(apollo_connection: ApolloEmulator) -> None:
    ids = apollo_connection.seed_contacts(2)
    apollo_connection.delete_contacts([ids[0]])
    operator = ApolloUpdateOwnersOperator(
        task_id="owners", contact_ids=ids, owner_id=apollo_connection.users[0]["id"]
    )
    with pytest.raises(ApolloValidationError, match=f"deleted in Apollo: {ids[0]}"):
        operator.execute(CONTEXT)


def test_owner_by_email(team: ApolloEmulator) -> None:
    ids = create_contacts(*people(2))
    assert ApolloUpdateOwnersOperator(task_id="o", contact_ids=ids, new_owner=GRACE).execute({}) == ids
    grace = next(u["id"] for u in team.users if u["email"] == GRACE)
    assert {team.contacts[i]["owner_id"] for i in ids} == {grace}


def test_owner_is_not_taken_from_default_args(team: ApolloEmulator) -> None:
    with DAG("d", schedule=None, default_args={"owner": "data-team"}):
        operator = ApolloUpdateOwnersOperator(task_id="o", contact_ids=["c1"], owner_id="u1")
    assert operator.new_owner is None and operator.owner == "data-team"


def test_owner_email_with_a_non_master_key_says_a_master_key_or_an_id_is_needed(
    scoped_key_team: ApolloEmulator,
) -> None:
    ids = create_contacts(*people(1))
    with pytest.raises(ApolloAuthError, match="or a master API key.*pass the owner's Apollo user id"):
        ApolloUpdateOwnersOperator(task_id="o", contact_ids=ids, new_owner=GRACE).execute({})
    # An id needs no users lookup, so a non-master key works.
    grace = next(u["id"] for u in scoped_key_team.users if u["email"] == GRACE)
    assert ApolloUpdateOwnersOperator(task_id="o2", contact_ids=ids, new_owner=grace).execute({}) == ids


# ---------------------------------------------------------------- templating


@pytest.mark.parametrize(
    "template",
    [
        "{{ params.ids }}",  # Python's repr: "['a', 'b']"
        "{{ params.ids | tojson }}",  # JSON: '["a", "b"]'
    ],
)
def test_contact_ids_from_a_jinja_string_rendered_as_text(
    apollo_connection: ApolloEmulator, template: str
) -> None:
    ids = apollo_connection.seed_contacts(2, stage="Cold")
    operator = ApolloUpdateStagesOperator(
        task_id="stages", contact_ids=template, contact_stage="{{ params.stage }}"
    )
    render(operator, ids=ids, stage="Approaching")
    assert isinstance(operator.contact_ids, str)
    assert operator.execute(CONTEXT) == ids
    assert {stage_name_of(apollo_connection, i) for i in ids} == {"Approaching"}


def test_contact_ids_from_a_native_jinja_render(apollo_connection: ApolloEmulator) -> None:
    ids = apollo_connection.seed_contacts(2)
    owner_id = apollo_connection.users[0]["id"]
    with DAG(
        "native_render",
        schedule=None,
        start_date=pendulum.datetime(2025, 1, 1),
        render_template_as_native_obj=True,
    ):
        operator = ApolloUpdateOwnersOperator(
            task_id="owners", contact_ids="{{ params.ids }}", owner_id="{{ params.owner }}"
        )
    render(operator, ids=ids, owner=owner_id)
    assert operator.contact_ids == ids  # a real list, not its repr
    assert operator.execute(CONTEXT) == ids


def test_an_xcomarg_is_accepted_at_construction_and_left_for_run_time(
    apollo_connection: ApolloEmulator,
) -> None:
    with DAG("xcomarg", schedule=None, start_date=pendulum.datetime(2025, 1, 1)):
        create = ApolloCreateContactOperator(task_id="create", contacts=[{"first_name": "A"}])
        stages = ApolloUpdateStagesOperator(
            task_id="stages", contact_ids=create.output, contact_stage="Replied"
        )
        owners = ApolloUpdateOwnersOperator(task_id="owners", contact_ids=stages.output, owner_id="u1")
    assert stages.upstream_task_ids == {"create"}
    assert owners.upstream_task_ids == {"stages"}
    assert apollo_connection.request_count() == 0


def test_operators_build_their_hook_lazily(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_APOLLO_DEFAULT", raising=False)
    # No connection exists: constructing must still work (DAG parsing), only execute() needs one.
    operator = ApolloUpdateStagesOperator(task_id="stages", contact_ids=["a"], contact_stage="Replied")
    assert "hook" not in vars(operator)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("['a', 'b']", ["a", "b"]),
        ('["a", "b"]', ["a", "b"]),
        ("('a', 'b')", ["a", "b"]),
        (("a", "b"), ["a", "b"]),
    ],
)
def test_native_value_parses_json_and_python_literals(value: Any, expected: list[str]) -> None:
    assert check_native_argument(value, "contact_ids", list) == expected


@pytest.mark.parametrize(
    "value", ["__import__('os').system('true')", "[a, b]", "{{ unrendered }}", "abc, def"]
)
def test_native_value_never_evaluates_code(value: str) -> None:
    with pytest.raises(ApolloValidationError, match="contact_ids must be a list"):
        check_native_argument(value, "contact_ids", list)


# ---------------------------------------------------------------- retried tasks change nothing twice


def test_bulk_update_applied_but_answered_500_is_retried_and_changes_nothing_twice(
    team: ApolloEmulator,
) -> None:
    ids = team.seed_contacts(TWO_BATCHES)
    segment = team.field_id("Segment")
    enterprise = team.picklist_option_id("Segment", "Enterprise")
    team.add_fault("status_after_apply", path="/contacts/bulk_update", status=500, start=2)
    operator = ApolloUpdateContactOperator(
        task_id="update",
        contacts=[
            {"id": i, "title": f"T{n}", "custom_fields": {"Segment": "Enterprise"}} for n, i in enumerate(ids)
        ],
    )

    updated, _ = run(operator)

    # The second batch was applied, answered 500 and sent again; the first batch went once.
    assert statuses(team, "/contacts/bulk_update") == [200, 500, 200]
    assert updated == ids
    contacts = team.contacts
    assert [contacts[i]["title"] for i in ids] == [f"T{n}" for n in range(len(ids))]
    assert {contacts[i]["typed_custom_fields"][segment] for i in ids} == {enterprise}
    after_first = team_state(team, ignore=VOLATILE)
    assert run(operator)[0] == ids
    assert team_state(team, ignore=VOLATILE) == after_first


# Each contact write of the outreach workflow, given contacts that exist; the team's names as a DAG gives them.
RETRIED_WRITES: dict[str, Callable[[list[str]], Any]] = {
    "bulk create with dedupe": lambda ids: ApolloCreateContactOperator(
        task_id="create",
        contacts=[
            {"first_name": "Maya", "email": "maya@northwind.example", "custom_fields": {"Segment": "SMB"}},
            {"first_name": "Lukas", "last_name": "Weber", "organization_name": "Alpenwerk"},
        ],
    ),
    "stage by name": lambda ids: ApolloUpdateStagesOperator(
        task_id="stage", contact_ids=ids, contact_stage="Replied"
    ),
    "owner by email": lambda ids: ApolloUpdateOwnersOperator(
        task_id="owner", contact_ids=ids, new_owner=GRACE
    ),
    "bulk update": lambda ids: ApolloUpdateContactOperator(
        task_id="update",
        contacts=[{"id": i, "custom_fields": {"Lead score": 90}, "title": "CTO"} for i in ids],
    ),
}


@pytest.mark.parametrize("write", list(RETRIED_WRITES))
def test_a_retried_task_changes_nothing_twice(team: ApolloEmulator, write: str) -> None:
    assert_a_retried_task_changes_nothing_twice(team, RETRIED_WRITES[write])
