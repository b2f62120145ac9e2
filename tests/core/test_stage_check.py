"""The contact-stage check (``core/stage_check.py``) driven by a fake transport: which requests it
sends, how it reads their answers (what a search answer counts, which ids it probes), and the result
and messages a polling sensor or trigger reads; last, the check against the emulator."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from airflow_provider_apollo.core.endpoints import PATH_CONTACT, PATH_SEARCH, ApiRequest
from airflow_provider_apollo.core.lifecycle import run_steps
from airflow_provider_apollo.core.sequence_check import SequenceCheckResult
from airflow_provider_apollo.core.stage_check import (
    CheckResult,
    StageCheckResult,
    _in_target,
    _rotating_slice,
    stage_check,
)
from airflow_provider_apollo.exceptions import ApolloNotFoundError, ApolloValidationError
from airflow_provider_apollo.hooks.apollo import ApolloHook
from airflow_provider_apollo.testing import ApolloEmulator


class Apollo:
    """Answers a check's requests from a dict of contacts (id -> stage id); records them."""

    def __init__(
        self, stages: dict[str, str], *, gone_status: int = 422, bodies: dict[str, Any] | None = None
    ):
        self.stages = stages
        self.gone_status = gone_status
        self.bodies = bodies or {}
        self.requests: list[ApiRequest] = []

    def __call__(self, request: ApiRequest) -> Any:
        self.requests.append(request)
        if request.method != "GET" or request.path.startswith(PATH_SEARCH):
            stage_ids = (request.json_body or {}).get("contact_stage_ids") or []
            page = int((request.json_body or {}).get("page") or 1)
            hits = [{"id": i, "contact_stage_id": s} for i, s in self.stages.items() if s in stage_ids]
            pages = max(1, -(-len(hits) // 100))
            return {
                "contacts": hits[(page - 1) * 100 : page * 100],
                "pagination": {
                    "page": page,
                    "per_page": 100,
                    "total_entries": len(hits),
                    "total_pages": pages,
                },
            }
        contact_id = request.path.rsplit("/", 1)[-1]
        if contact_id in self.bodies:
            return self.bodies[contact_id]
        if contact_id not in self.stages:
            error = ApolloNotFoundError if self.gone_status == 404 else ApolloValidationError
            raise error("Contact not found", status_code=self.gone_status)
        return {"contact": {"id": contact_id, "contact_stage_id": self.stages[contact_id]}}


def test_a_few_contacts_are_each_read_with_a_get_on_the_contact_endpoint() -> None:
    apollo = Apollo({"a": "s1", "b": "s2"})
    result = run_steps(stage_check(["a", "b"], ["s1"]), apollo)
    assert [(r.method, r.path, r.rate_group) for r in apollo.requests] == [
        ("GET", "/contacts/a", PATH_CONTACT),
        ("GET", "/contacts/b", PATH_CONTACT),
    ]
    # Both GETs share one rate-limit window, whatever the id.
    assert {r.rate_key for r in apollo.requests} == {f"GET {PATH_CONTACT}"}
    assert (result.done, result.waiting, result.missing) == (["a"], ["b"], [])
    assert (result.strategy, result.calls, result.notes) == ("get", 2, [])


def test_exactly_per_contact_max_contacts_are_still_read_one_by_one() -> None:
    ids = [f"c{n}" for n in range(5)]
    apollo = Apollo({i: "s1" for i in ids})
    result = run_steps(stage_check(ids, ["s1"], per_contact_max=5), apollo)
    assert result.strategy == "get"
    assert result.calls == len(apollo.requests) == 5
    assert all(r.method == "GET" for r in apollo.requests)


@pytest.mark.parametrize("status", [404, 422])
def test_a_contact_apollo_does_not_know_is_missing_on_404_or_422(status: int) -> None:
    apollo = Apollo({"a": "s1"}, gone_status=status)
    result = run_steps(stage_check(["a", "gone"], ["s1"]), apollo)
    assert (result.done, result.missing, result.waiting) == (["a"], ["gone"], [])


@pytest.mark.parametrize("body", [None, [], "text", {"contact": None}, {"contact": "x"}])
def test_a_get_answer_without_a_contact_object_leaves_the_contact_waiting(body: Any) -> None:
    apollo = Apollo({"a": "s1"}, bodies={"odd": body})
    result = run_steps(stage_check(["a", "odd"], ["s1"]), apollo)
    assert (result.done, result.waiting, result.missing) == (["a"], ["odd"], [])


def test_a_search_check_counts_its_calls_from_zero_and_probes_the_first_slice_by_default() -> None:
    ids = [f"c{n:02d}" for n in range(12)]
    # c00..c01 are in the target stage; the other 10 are not found by the search. The first
    # (default) probe round GETs c02..c06: c02 is deleted, the rest wait in another stage.
    stages = {i: "s2" for i in ids[3:]} | {"c00": "s1", "c01": "s1"}
    apollo = Apollo(stages)
    result = run_steps(stage_check(ids, ["s1"]), apollo)
    assert result.strategy == "search"
    assert [r.path.rsplit("/", 1)[-1] for r in apollo.requests[1:]] == ["c02", "c03", "c04", "c05", "c06"]
    assert result.calls == len(apollo.requests) == 6
    assert result.done == ["c00", "c01"]
    assert result.missing == ["c02"]
    assert result.waiting == ids[3:]


def test_a_search_past_apollos_cap_says_so_in_the_notes() -> None:
    ids = [f"c{n:02d}" for n in range(8)]

    def apollo(request: ApiRequest) -> Any:
        if request.path.startswith(PATH_SEARCH):
            return {
                "contacts": [{"id": "c00", "contact_stage_id": "s1"}],
                "pagination": {"page": 1, "per_page": 100, "total_entries": 60_000, "total_pages": 600},
            }
        return {"contact": {"id": request.path.rsplit("/", 1)[-1], "contact_stage_id": "s1"}}

    result = run_steps(stage_check(ids, ["s1"]), apollo)
    assert result.strategy == "search+get"
    assert result.done == ids
    assert result.calls == 8
    assert (
        len(result.notes) == 1 and "60,000 contacts, more than one search serves (50,000)" in result.notes[0]
    )


def _paged_search(pages: list[list[str]], total_entries: int | None = None):
    """A transport whose stage search answers ``pages`` (watched ids in the target stage per
    page, padded with other contacts to 100) and whose GETs find every contact in stage s1."""
    total_pages = len(pages)
    entries = total_entries if total_entries is not None else total_pages * 100
    requests: list[ApiRequest] = []

    def call(request: ApiRequest) -> Any:
        requests.append(request)
        if request.path == PATH_SEARCH:
            page = int(request.json_body["page"])
            ids = pages[page - 1] if page <= total_pages else []
            contacts = [{"id": i, "contact_stage_id": "s1"} for i in ids]
            contacts += [{"id": f"other-{page}-{n}", "contact_stage_id": "s1"} for n in range(100 - len(ids))]
            return {
                "contacts": contacts,
                "pagination": {
                    "page": page,
                    "per_page": 100,
                    "total_entries": entries,
                    "total_pages": total_pages,
                },
            }
        return {"contact": {"id": request.path.rsplit("/", 1)[-1], "contact_stage_id": "s1"}}

    return call, requests


WATCHED = [f"w{n}" for n in range(6)]


def test_paging_goes_on_while_the_pages_left_cost_no_more_than_a_get_per_remaining_contact() -> None:
    # After page 1, 3 pages are left for 4 contacts; after page 2, 2 pages for 2: keep paging.
    call, requests = _paged_search([WATCHED[:2], WATCHED[2:4], WATCHED[4:], []])
    result = run_steps(stage_check(WATCHED, ["s1"]), call)
    assert [r.json_body["page"] for r in requests] == [1, 2, 3]
    assert (result.strategy, result.calls, result.done, result.notes) == ("search", 3, WATCHED, [])


def test_paging_stops_for_gets_when_more_pages_are_left_than_contacts_to_find() -> None:
    # After page 1, 5 pages are left for 3 contacts: GET the 3 instead.
    call, requests = _paged_search([WATCHED[:3], [], [], [], [], WATCHED[3:]])
    result = run_steps(stage_check(WATCHED, ["s1"]), call)
    assert [r.path for r in requests] == [PATH_SEARCH] + [f"/contacts/{i}" for i in WATCHED[3:]]
    assert (result.strategy, result.calls, result.done) == ("search+get", 4, WATCHED)
    assert result.notes == ["5 more search pages cost more than one GET per remaining contact"]


def test_a_search_of_exactly_apollos_cap_is_read_as_a_search() -> None:
    call, requests = _paged_search([WATCHED] + [[] for _ in range(499)], total_entries=50_000)
    result = run_steps(stage_check(WATCHED, ["s1"]), call)
    assert len(requests) == 1
    assert (result.strategy, result.calls, result.done, result.notes) == ("search", 1, WATCHED, [])


def test_under_any_a_whole_search_with_one_contact_done_sends_no_probes() -> None:
    call, requests = _paged_search([WATCHED[:1]])
    result = run_steps(stage_check(WATCHED, ["s1"], require="any"), call)
    assert [r.path for r in requests] == [PATH_SEARCH]
    assert (result.strategy, result.calls, result.done, result.missing) == ("search", 1, ["w0"], [])
    assert result.waiting == WATCHED[1:]


@pytest.mark.parametrize("require", ["all", "any"])
def test_a_search_past_the_cap_that_finds_enough_keeps_its_note(require: str) -> None:
    found = WATCHED if require == "all" else WATCHED[:2]
    call, requests = _paged_search([found] + [[] for _ in range(599)], total_entries=60_000)
    result = run_steps(stage_check(WATCHED, ["s1"], require=require), call)
    assert len(requests) == 1
    assert (result.strategy, result.done) == ("search", found)
    assert len(result.notes) == 1 and "60,000 contacts" in result.notes[0]


def test_a_search_answer_counts_only_watched_contacts_in_a_target_stage() -> None:
    page = [
        {"id": "w1", "contact_stage_id": "s-replied"},
        {"id": "w2", "contact_stage_id": "s-cold"},
        {"id": "other", "contact_stage_id": "s-replied"},
    ]
    assert _in_target(page, {"w1", "w2"}, {"s-replied"}) == {"w1"}


def test_the_probe_slice_rotates_through_every_not_found_id() -> None:
    items = [f"id{i}" for i in range(7)]
    assert [_rotating_slice(items, round_number, 5) for round_number in range(3)] == [
        items[:5],
        items[5:],
        items[:5],
    ]
    assert _rotating_slice(items[:5], 3, 5) == items[:5]


# --------------------------------------------------------------------------- the result


def test_a_stage_result_counts_missing_contacts_as_lost() -> None:
    result = StageCheckResult(done=["a"], missing=["b", "c"], waiting=["d"], calls=4)
    assert result.lost == ["b", "c"]
    result.lost.append("x")  # a copy: the result stays as the check found it
    assert result.missing == ["b", "c"]


def test_the_stage_summary_says_how_many_arrived_and_how_they_were_read() -> None:
    assert StageCheckResult(["a", "b"], [], ["c"], 3, "get").summary() == "2 in a target stage (read by get)"
    noted = StageCheckResult(["a"], [], [], 2, "search+get", ["5 more pages", "x"])
    assert noted.summary() == "1 in a target stage (read by search+get; 5 more pages; x)"


def test_both_checks_results_give_what_a_polling_sensor_or_trigger_reads() -> None:
    stage: CheckResult = StageCheckResult(done=["a"], missing=["b"], waiting=["c"], calls=3)
    sequence: CheckResult = SequenceCheckResult(
        reached={"replied": ["a"]}, missing=["b"], not_enrolled=["d"], waiting=["c"], calls=2
    )
    assert (stage.done, stage.waiting, stage.lost, stage.calls) == (["a"], ["c"], ["b"], 3)
    assert (sequence.done, sequence.waiting, sequence.lost, sequence.calls) == (["a"], ["c"], ["b", "d"], 2)
    for result in (stage, sequence):
        assert not result.is_done("all") and result.is_done("any")
        assert result.failed("all") and not result.failed("any")
        assert isinstance(result.summary(), str)


def test_the_missing_message_lists_twenty_ids_and_counts_the_rest() -> None:
    missing = [f"id{i}" for i in range(23)]
    result = StageCheckResult(done=[], missing=missing, waiting=[], calls=1)
    message = result.missing_message()
    assert message.startswith("23 watched contact(s) no longer exist in Apollo")
    assert message.endswith(", ".join(missing[:20]) + " and 3 more.")
    assert StageCheckResult(done=[], missing=["a"], waiting=[], calls=1).missing_message().endswith(": a.")


def test_the_missing_message_counts_more_only_past_twenty() -> None:
    twenty = StageCheckResult(done=[], missing=[f"i{n}" for n in range(20)], waiting=[], calls=1)
    assert "more" not in twenty.missing_message()
    twenty_one = StageCheckResult(done=[], missing=[f"i{n}" for n in range(21)], waiting=[], calls=1)
    assert twenty_one.missing_message().endswith(" and 1 more.")


# --------------------------------------------------------------------------- against the emulator


def test_require_any_stops_after_the_stage_search_finds_one(apollo_connection: ApolloEmulator) -> None:
    # The watched contact that replied is on the search's first page; 1,000 others fill ten more.
    watched = apollo_connection.seed_contacts(8, stage="Cold")
    apollo_connection.set_contact_stage(watched[0], "Replied")
    crowd = apollo_connection.seed_contacts(1000, stage="Replied")
    before = apollo_connection.request_count()
    hook = ApolloHook()
    result = run_steps(
        stage_check(watched, [apollo_connection.stage_id("Replied")], require="any"), hook.call
    )
    assert crowd and result.done == [watched[0]]
    gets = [r for r in apollo_connection.requests[before:] if r.method == "GET"]
    assert gets == [], f"{len(gets)} per-contact GETs after the search already decided"


def test_the_deferred_sensor_does_not_check_again_at_once(apollo_connection: ApolloEmulator) -> None:
    from airflow.providers.common.compat.sdk import TaskDeferred

    from airflow_provider_apollo.sensors.contact_stage import ApolloContactStageSensor

    ids = apollo_connection.seed_contacts(2, stage="Cold")
    sensor = ApolloContactStageSensor(
        task_id="wait",
        contact_ids=ids,
        target_stages=["Replied"],
        deferrable=True,
        # Far more than the 0.3 s watched below, so a slow start of the trigger under load (the first
        # connection lookup of an xdist worker) does not reach the first check.
        poke_interval=3.0,
        timeout=30,
    )
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({})
    after_sensor = apollo_connection.request_count("/contacts/")
    trigger = deferred.value.trigger
    kwargs = trigger.serialize()[1]
    assert json.loads(json.dumps(kwargs)) == kwargs

    async def first_checks() -> int:
        task = asyncio.ensure_future(anext(trigger.run()))
        await asyncio.sleep(0.3)
        seen = apollo_connection.request_count("/contacts/")
        task.cancel()
        return seen

    assert asyncio.run(first_checks()) == after_sensor, "the trigger checked again before one interval passed"
