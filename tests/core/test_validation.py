"""Argument checks before any request: each refusal names the argument, what was expected and what came."""

from __future__ import annotations

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException
from core_support import argument_error

from airflow_provider_apollo.core.validation import (
    check_contact,
    check_contact_ids,
    check_contacts,
    check_fields,
    check_int_range,
    check_non_empty_string,
)
from airflow_provider_apollo.exceptions import ApolloArgumentError, ApolloValidationError

# --------------------------------------------------------------------------- contact ids


@pytest.mark.parametrize("bad", ["abc", None, ["ok", 3], ["ok", ""], {"a": 1}])
def test_contact_ids_must_be_a_list_of_non_empty_strings(bad: object) -> None:
    with pytest.raises(ApolloValidationError, match="contact_ids"):
        check_contact_ids(bad)


def test_contact_id_messages_name_the_argument_the_type_and_at_most_five_bad_ids() -> None:
    with pytest.raises(ApolloArgumentError) as raised:
        check_contact_ids("c1")
    assert str(raised.value) == "contact_ids must be a list of contact id strings, got str."
    with pytest.raises(ApolloArgumentError) as raised:
        check_contact_ids(["", 1, None, " ", 2, 3, 4], "ids")
    assert str(raised.value) == "ids must contain non-empty strings only; got '', 1, None, ' ', 2 and 2 more."
    with pytest.raises(ApolloArgumentError) as raised:
        check_contact_ids(["ok", "", 5])
    assert str(raised.value) == "contact_ids must contain non-empty strings only; got '', 5."


def test_bad_contact_ids_show_five_and_count_the_rest() -> None:
    with pytest.raises(ApolloArgumentError) as five:
        check_contact_ids(["", 1, None, " ", 2.0])
    assert str(five.value) == "contact_ids must contain non-empty strings only; got '', 1, None, ' ', 2.0."
    with pytest.raises(ApolloArgumentError) as six:
        check_contact_ids(["ok", "", 1, None, " ", 2.0, 3], "ids")
    assert str(six.value) == "ids must contain non-empty strings only; got '', 1, None, ' ', 2.0 and 1 more."


# ------------------------------------------------------------------------- contacts, fields, strings, numbers


def test_contact_and_field_checks_name_the_argument_and_the_field() -> None:
    assert check_contact({"first_name": "Ada"}, "contact") == {"first_name": "Ada"}
    with pytest.raises(ApolloArgumentError, match=r"^contact must be a non-empty dict"):
        check_contact({}, "contact")
    with pytest.raises(ApolloArgumentError, match=r"^contact must not contain 'api_key'"):
        check_contact({"api_key": "x", "first_name": "A"}, "contact")
    with pytest.raises(ApolloArgumentError, match=r"^contacts\[1\]\['when'\] must be a JSON value"):
        check_contacts([{"a": 1}, {"when": object()}])
    with pytest.raises(ApolloArgumentError, match=r"^contacts must be a list of dicts, got dict"):
        check_contacts({"a": 1})
    with pytest.raises(ApolloArgumentError, match=r"^rows must be a list of dicts, got str"):
        check_contacts("abc", "rows")
    assert check_contacts(({"a": 1},)) == [{"a": 1}]
    with pytest.raises(ApolloArgumentError, match=r"^fields must be a non-empty dict"):
        check_fields({})
    with pytest.raises(ApolloArgumentError, match=r"^update\['x'\] must be a JSON value"):
        check_fields({"x": {1, 2}}, "update")


def test_checked_fields_and_strings_come_back_as_a_plain_dict_and_a_stripped_string() -> None:
    assert check_fields({"title": "CTO"}) == {"title": "CTO"}
    assert check_non_empty_string(" ann@x.io ", "owner", "a user's email") == "ann@x.io"
    for bad in ("   ", 5, None):
        assert argument_error(check_non_empty_string, bad, "owner", "a user's email") == (
            f"owner must be a non-empty string (a user's email), got {bad!r}."
        )


def test_checks_refuse_booleans_as_integers_and_name_the_bad_value_type() -> None:
    with pytest.raises(ApolloArgumentError, match="got True"):
        check_int_range(True, "concurrency", 0, 8)
    with pytest.raises(ApolloArgumentError, match="got set: "):
        check_fields({"x": {1}})


# -------------------------------------------------------------------- what an argument error does to the task


def test_argument_errors_fail_the_task_without_retries() -> None:
    error = ApolloArgumentError("contact_ids must be a list")
    assert isinstance(error, AirflowFailException)
    assert isinstance(error, ValueError)
    assert isinstance(error, ApolloValidationError)


def test_a_run_time_argument_error_from_an_operator_is_an_argument_error() -> None:
    from airflow_provider_apollo.operators.contacts import ApolloUpdateStagesOperator

    operator = ApolloUpdateStagesOperator(
        task_id="move", contact_ids="{{ ti.xcom_pull('x') }}", contact_stage="Replied"
    )
    operator.contact_ids = "not a list at all"  # what the template rendered to
    with pytest.raises(ApolloArgumentError, match="contact_ids must be a list"):
        operator.execute({})
