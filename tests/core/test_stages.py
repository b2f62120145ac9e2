"""Contact stages: a stage given by id or name, stage names in search filters, and names for messages."""

from __future__ import annotations

import re

import pytest

from airflow_provider_apollo.core.endpoints import ApiRequest, list_stages_request
from airflow_provider_apollo.core.stages import match_stage, resolve_stage_filters, stage_name, stages_of
from airflow_provider_apollo.exceptions import ApolloApiError, ApolloArgumentError, ApolloValidationError

NAMED_STAGES = [
    {"id": "s-cold", "display_name": "Cold", "name": "Cold"},
    {"id": "s-int", "display_name": "Interested", "name": "Interested"},
]


_SPLIT_STAGES = [
    {"id": "s-a", "display_name": "Approaching", "name": "approaching_internal"},
    {"id": "s-b", "name": "Bounced"},  # no display name: its name still matches
    {"id": "s-c", "display_name": "Closed"},  # no name: its display name still matches
]


# --------------------------------------------------------------------------- a stage by id or name


def test_stage_resolves_by_id_or_case_insensitive_name() -> None:
    assert match_stage(NAMED_STAGES, "s-int") == "s-int"
    assert match_stage(NAMED_STAGES, "interested") == "s-int"
    assert match_stage(NAMED_STAGES, " COLD ") == "s-cold"


def test_a_stage_matches_by_its_name_when_the_display_name_differs_or_is_missing() -> None:
    assert match_stage(_SPLIT_STAGES, "APPROACHING_internal") == "s-a"
    assert match_stage(_SPLIT_STAGES, "approaching") == "s-a"
    assert match_stage(_SPLIT_STAGES, "bounced") == "s-b"
    assert match_stage(_SPLIT_STAGES, "closed") == "s-c"


@pytest.mark.parametrize("name", ["xxxx", "none"])
def test_a_missing_stage_field_matches_no_name(name: str) -> None:
    with pytest.raises(ApolloArgumentError, match=f"Unknown contact stage '{name}'"):
        match_stage(_SPLIT_STAGES, name)


@pytest.mark.parametrize("bad", [None, 7, "", "   "])
def test_a_stage_that_is_not_a_non_empty_string_is_refused_naming_it(bad: object) -> None:
    with pytest.raises(
        ApolloArgumentError,
        match=r"contact stage must be a non-empty string \(id or name\), got " + re.escape(repr(bad)),
    ):
        match_stage(_SPLIT_STAGES, bad)


def test_unknown_stage_lists_the_known_names() -> None:
    with pytest.raises(ApolloValidationError, match=r"Unknown contact stage 'Hot'.*'Cold', 'Interested'"):
        match_stage(NAMED_STAGES, "Hot")


def test_the_unknown_stage_message_lists_a_stage_without_a_display_name_by_its_name() -> None:
    with pytest.raises(ApolloArgumentError) as info:
        match_stage(_SPLIT_STAGES, "Hot")
    assert "Known stages: 'Approaching', 'Bounced', 'Closed'." in str(info.value)


def test_a_stage_is_named_by_its_display_name_then_its_name_then_its_id() -> None:
    stages = [{"id": "a", "name": "internal-a"}, {"id": "b", "display_name": "Bee", "name": "internal-b"}]
    assert [stage_name(stages, i) for i in ("a", "b", "zz")] == ["internal-a", "Bee", "zz"]
    assert stage_name([{"id": "c"}], "c") == "c"


# --------------------------------------------------------------------------- stage names in search filters


STAGES = [
    {"id": "s-cold", "display_name": "Cold"},
    {"id": "s-replied", "display_name": "Replied"},
]


def test_stage_filters_without_names_are_copied_unchanged() -> None:
    filters = {"q_keywords": "cto"}
    resolved = resolve_stage_filters(filters, STAGES)
    assert resolved == filters and resolved is not filters


def test_stage_names_become_ids_after_the_ids_already_given_without_repeats() -> None:
    filters = {"contact_stages": ["replied", "s-cold", "Cold"], "contact_stage_ids": ["s-x"], "q": 1}
    assert resolve_stage_filters(filters, STAGES) == {
        "contact_stage_ids": ["s-x", "s-replied", "s-cold"],
        "q": 1,
    }
    assert resolve_stage_filters({"contact_stages": "Cold"}, STAGES) == {"contact_stage_ids": ["s-cold"]}


@pytest.mark.parametrize("names", [[], (), None, 7, {"Cold": 1}])
def test_stage_names_that_are_not_a_non_empty_list_are_refused_naming_the_filter(names: object) -> None:
    with pytest.raises(ApolloArgumentError, match="'contact_stages' must be a non-empty list"):
        resolve_stage_filters({"contact_stages": names}, STAGES)


# --------------------------------------------------------------------------- the team's stages


def test_stages_are_read_with_a_get_and_an_unexpected_answer_is_an_api_error() -> None:
    assert list_stages_request() == ApiRequest("GET", "/contact_stages", rate_group="/contact_stages")
    assert list_stages_request().rate_key == "GET /contact_stages"
    with pytest.raises(ApolloApiError) as raised:
        stages_of(["not", "a", "dict"])
    assert str(raised.value) == "Apollo GET /contact_stages answered an unexpected body"
    assert raised.value.body == ["not", "a", "dict"]
